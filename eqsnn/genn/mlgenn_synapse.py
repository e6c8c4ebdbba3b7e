"""eqsnn synapse (postsynaptic) models in ml_genn networks: :func:`ml_genn_synapse`.

A synapse model (``eqsnn/network/synapses/*.eqs``, or any model written
``synapse NAME``) becomes a GeNN postsynaptic model, its code printed by the
same GeNN printer as a neuron's (:func:`eqsnn.printing.genn.genn_spec`).
GeNN's ``inSyn`` is the step's summed weight ``w``; the model's ``output``
goes to the target with ``injectCurrent``; a ``post NAME`` becomes a
read-only reference to the target's var ``NAME``.  Two layouts:

* **accumulator**: where ``on_spike:`` is the one statement ``g += w`` and
  ``g`` starts at 0 (``Delta``, ``Exponential``, ``ExpCurr``, ``ExpCond``),
  ``g`` *is* ``inSyn``: GeNN adds each spike's weight to it, in GeNN's
  order, exactly as ml_genn's own ``Delta`` and ``Exponential`` do, so the
  two give the same bits;
* **summed input**: otherwise (``AlphaCurr``, ``AlphaCond``, ...) the states
  are postsynaptic vars, ``w`` reads ``inSyn`` and the code ends with
  ``inSyn = 0``.

GeNN sums each step's weights in its own order (one spike at a time), where
eqsnn's own network sums them first; with several spikes arriving at one
target in one step the float results may differ in the last bits.
"""

from __future__ import annotations

import math

import sympy

from .. import ir
from ..errors import BackendError, ParameterError
from ..frontend.synapse import OUTPUT, WEIGHT
from ..frontend.unit_system import internal_symbol
from .population import GeNNPopulation, population_shape

__all__ = ["ml_genn_synapse", "synapse_model"]

#: GeNN's name of a postsynaptic model's summed input
IN_SYN = "inSyn"
#: the vars of ml_genn's weight update models (a postsynaptic var of that name is renamed)
_WU_NAMES = frozenset({"g", "d"})


def _synapse_ir(synapse, params):
    """``(ir.Model, params)`` of a standard-library synapse or a compiled synapse model."""
    from ..model import Model
    from ..network.synapses import Synapse

    if isinstance(synapse, Synapse):
        if params:
            raise ParameterError(f"give {type(synapse).__name__}'s values to its constructor, "
                                 "not params=", hint=f"e.g. {type(synapse).__name__}(tau=5.0)")
        model, params = synapse.build()
    else:
        model = synapse
    model_ir = model.ir if isinstance(model, Model) else model
    if not isinstance(model_ir, ir.Model) or model_ir.meta.get("kind") != "synapse":
        if isinstance(model_ir, ir.Model):
            what = f"the neuron model {model_ir.name}"
        elif callable(getattr(synapse, "model", None)):
            what = f"the neuron {type(synapse).__name__}"
        else:
            what = type(synapse).__name__
        raise ParameterError(f"ml_genn_synapse expected a synapse model, got {what}",
                             hint="use eqsnn.network.Exponential(...) and the other standard-"
                             "library synapses, or compile a model written 'synapse NAME'")
    weight = dict(model_ir.units).get(WEIGHT)
    if weight is not None and weight.factor != 1:
        internal = internal_symbol(weight.dimension)
        raise ParameterError(
            f"synapse model {model_ir.name} takes its weight in {weight.symbol}, but ml_genn's "
            f"weights (Dense(weight=...)) are plain numbers, which GeNN would add in {internal}, "
            f"the unit eqsnn keeps a {weight.dimension.words()} in",
            hint="declare the state that 'on_spike' adds w to in "
            f"{internal} (state g = 0 {internal}), so that the weights are in {internal}")
    names = {p.name for p in model_ir.params} | {s.name for s in model_ir.states}
    names |= {i.name for i in model_ir.inputs} | set(model_ir.precompute_names)
    for clash in sorted(names & ({IN_SYN} | {f"psm_{name}" for name in _WU_NAMES})):
        raise ParameterError(f"synapse model {model_ir.name} declares {clash!r}, a name the "
                             "GeNN postsynaptic model uses itself", hint="rename it")
    return model_ir, dict(params or {})


def _accumulator(model: ir.Model) -> str | None:
    """The state that can live in ``inSyn`` (see the module doc), or ``None``."""
    w = sympy.Symbol(WEIGHT)
    on_spike = [s for s in model.step if isinstance(s, ir.Assign) and w in s.expr.free_symbols]
    reads_w = [s for s in ir.walk_statements(model.step)
               if w in (s.cond if isinstance(s, (ir.If, ir.While)) else s.expr).free_symbols]
    if len(on_spike) != 1 or len(reads_w) != 1 or model.step[0] is not on_spike[0]:
        return None
    target = on_spike[0].target
    state = next((s for s in model.states if s.name == target), None)
    if (state is None or state.dtype != "float" or not state.init.is_number
            or float(state.init) != 0.0 or on_spike[0].expr != sympy.Symbol(target) + w):
        return None
    return target


def _rename(stmt, subs):
    if isinstance(stmt, ir.Assign):
        return ir.Assign(str(subs.get(sympy.Symbol(stmt.target), stmt.target)),
                         stmt.expr.xreplace(subs))
    if isinstance(stmt, ir.Local):
        return ir.Local(stmt.name, stmt.dtype, stmt.expr.xreplace(subs))
    if isinstance(stmt, ir.While):
        return ir.While(stmt.cond.xreplace(subs), tuple(_rename(s, subs) for s in stmt.body),
                        stmt.limit)
    return ir.If(stmt.cond.xreplace(subs), tuple(_rename(s, subs) for s in stmt.body),
                 tuple(_rename(s, subs) for s in stmt.orelse))


def genn_layout(model: ir.Model) -> tuple[ir.Model, str | None]:
    """``model`` over GeNN's ``inSyn`` and the eqsnn state stored in it (or ``None``)."""
    accumulator = _accumulator(model)
    if accumulator is not None:
        subs = {sympy.Symbol(accumulator): sympy.Symbol(IN_SYN)}
        states = tuple(ir.State(IN_SYN, s.dtype, s.init) if s.name == accumulator else s
                       for s in model.states)
        inputs = tuple(i for i in model.inputs if i.name != WEIGHT)
        step = tuple(_rename(s, subs) for s in model.step[1:])
    else:
        subs = {sympy.Symbol(WEIGHT): sympy.Symbol(IN_SYN)}
        # ml_genn's weight update model has the vars g and d, which share GeNN's names
        # with the postsynaptic model's
        subs.update({sympy.Symbol(s.name): sympy.Symbol(f"psm_{s.name}") for s in model.states
                     if s.name in _WU_NAMES})
        states = tuple(ir.State(str(subs.get(sympy.Symbol(s.name), s.name)), s.dtype, s.init)
                       for s in model.states)
        inputs = tuple(ir.Input(IN_SYN, "float", 0.0) if i.name == WEIGHT else i
                       for i in model.inputs)
        step = tuple(_rename(s, subs) for s in model.step)
    return model.replace(states=states, inputs=inputs, step=step).validate(), accumulator


def synapse_model(synapse, n: int, dt: float, *, params=None, precision: str = "float64"):
    """The postsynaptic model of ``synapse`` for ``n`` targets: ``(kwargs, param_vals,
    var_vals, neuron_var_refs, accumulator)``.

    ``kwargs`` are ``pygenn.create_postsynaptic_model``'s keyword arguments;
    ``neuron_var_refs`` maps each reference to the target var it reads;
    ``accumulator`` is the eqsnn state kept in ``inSyn`` (or ``None``).
    Needs PyGeNN (for ``VarAccess``); bad values are refused before it is imported.
    """
    from ..runtime.values import prepare_params

    model, params = _synapse_ir(synapse, params)
    # declared units converted, bounds (tau > 0) checked, unknown names refused
    params = {name: float(value) if value.ndim == 0 else value
              for name, value in prepare_params(model, params, (n,), precision).items()}
    genn_model, accumulator = genn_layout(model)
    from pygenn import VarAccessMode

    pop = GeNNPopulation(genn_model, n, params, {}, precision, dt, 0,
                         free_inputs=frozenset(i.name for i in genn_model.inputs))
    kwargs = pop.neuron_model_kwargs()
    for key in ("threshold_condition_code", "reset_code", "additional_input_vars",
                "extra_global_params"):
        kwargs.pop(key, None)
    names = pop.spec.code.names
    kwargs["vars"] = [v for v in kwargs.get("vars", []) if v[0] != IN_SYN]
    var_vals = {k: v for k, v in pop.var_vals.items() if k != IN_SYN}
    post = model.meta.get("post", ())
    refs = {names[p]: p for p in post}
    if refs:
        kwargs["neuron_var_refs"] = [(names[p], "scalar", VarAccessMode.READ_ONLY)
                                     for p in post]
    lines = [kwargs.get("sim_code", ""), f"injectCurrent({names[OUTPUT]});"]
    if accumulator is None:
        lines.append(f"{IN_SYN} = 0.0;")
    kwargs["sim_code"] = "\n".join(line for line in lines if line)
    if not kwargs["vars"]:
        del kwargs["vars"]
    return kwargs, dict(pop.param_vals), var_vals, refs, accumulator


def _check_targets(connection, refs: dict, dt: float, batch_size: int) -> None:
    """Each ``post NAME`` is a float var of the target's neuron model."""
    if not refs:
        return
    target = connection.target()
    model = target.neuron.get_model(target, dt, batch_size).model
    have = {v[0]: v[1] for v in model.get("vars", [])}
    for var in refs.values():
        if have.get(var) not in ("scalar", "float", "double"):
            raise ParameterError(
                f"connection {connection.name!r}: its synapse model reads the target's var "
                f"{var!r} ('post {var}'), which the target's neuron "
                f"{type(target.neuron).__name__} does not have as a float var (its vars: "
                f"{', '.join(sorted(have)) or 'none'})",
                hint=f"target a neuron with a state {var!r}, or use a current-based synapse")


_ML_GENN_SYNAPSE: dict = {}


def ml_genn_synapse(synapse, params=None):
    """``synapse`` as an ``ml_genn.synapses.Synapse`` for ml_genn's ``Connection``.

    ``synapse`` is a standard-library synapse (``eqsnn.network.Exponential``,
    ``Delta``, ``ExpCurr``, ``ExpCond``, ``AlphaCurr``, ``AlphaCond``) or a
    compiled synapse model, then with ``params`` (its declared defaults
    otherwise).  ``get_model(connection, dt, batch_size)`` returns ml_genn's
    ``SynapseModel`` (see the module doc for the code).
    """
    try:
        from ml_genn.synapses import Synapse as MLGeNNSynapse
        from ml_genn.utils.model import SynapseModel
    except ImportError as error:
        raise BackendError(f"ml_genn_synapse needs ml_genn ({error})",
                           hint="install ml_genn 2.x (https://github.com/genn-team/ml_genn) "
                                "and PyGeNN") from None
    _synapse_ir(synapse, params)  # check now, not when ml_genn compiles
    if "class" not in _ML_GENN_SYNAPSE:
        def init(self, eqsnn_synapse, params=None):
            MLGeNNSynapse.__init__(self)
            self.eqsnn_synapse, self.params = eqsnn_synapse, dict(params or {})

        def get_model(self, connection, dt, batch_size):
            n = math.prod(population_shape(connection.target().shape))
            kwargs, param_vals, var_vals, refs, _ = synapse_model(
                self.eqsnn_synapse, n, dt, params=self.params)
            _check_targets(connection, refs, dt, batch_size)
            return SynapseModel(kwargs, param_vals, var_vals, {}, refs)

        def show(self):
            return f"ml_genn_synapse({self.eqsnn_synapse!r})"

        _ML_GENN_SYNAPSE["class"] = type("EqsnnSynapse", (MLGeNNSynapse,), {
            "__init__": init, "get_model": get_model, "__repr__": show,
            "__doc__": "An eqsnn synapse model in an ml_genn network "
                       "(see eqsnn.genn.ml_genn_synapse)."})
    return _ML_GENN_SYNAPSE["class"](synapse, params)
