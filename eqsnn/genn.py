"""eqsnn models in your own PyGeNN or ml_genn network.

* :func:`add_population` adds an eqsnn model (an :class:`eqsnn.Model`, a
  ``.eqs`` path or a standard-library neuron) as a neuron population to a
  ``pygenn.GeNNModel``, converting params and initial values (numbers,
  per-neuron arrays, eqsnn / ml_genn initialisers, pygenn ``init_var``).
* :func:`get_model` returns what ml_genn's neurons return from
  ``get_model(population, dt, batch_size)``: an
  ``ml_genn.utils.model.NeuronModel``; :func:`ml_genn_neuron` wraps an
  eqsnn neuron as an ``ml_genn.neurons.Neuron`` for ml_genn networks.
* :class:`Precompute` is eqsnn's float64 host precompute as GeNN derived
  params; the code ``eqsnn emit MODEL --backend pygenn`` prints uses it.
  It and the precompute text helpers (:func:`propagator`,
  :func:`precompute_source`, :func:`expression_text`,
  :func:`parse_expression`) live in :mod:`eqsnn.genn_precompute` and are
  importable from here.

Nothing here imports pygenn or ml_genn until a function needs them.
See ``docs/use-with-genn.md``.
"""

from __future__ import annotations

import numpy as np

from . import host, ir
from .errors import BackendError, EqsnnError
from .genn_precompute import Precompute, precompute_source, propagator
from .genn_precompute import expression_text as expression_text
from .genn_precompute import parse_expression as parse_expression

__all__ = ["Precompute", "add_population", "get_model", "ml_genn_neuron", "propagator",
           "precompute_source"]


# --- values: numbers, per-neuron arrays, initialisers ------------------------------------
def _is_initializer(value) -> bool:
    from .initializers import Initializer

    return (isinstance(value, (Initializer, str)) or hasattr(value, "get_snippet")
            or type(value).__name__ == "VarInit")


def _genn_initializer(value):
    """A ``pygenn.init_var`` for an eqsnn, ml_genn or pygenn initialiser."""
    from pygenn import init_var

    from .initializers import INITIALIZERS, Normal, Uniform

    if isinstance(value, str):
        value = INITIALIZERS[value]() if value in INITIALIZERS else value
    if isinstance(value, Normal):
        return init_var("Normal", {"mean": value.mean, "sd": value.sd})
    if isinstance(value, Uniform):
        return init_var("Uniform", {"min": value.min, "max": value.max})
    if hasattr(value, "get_snippet"):  # an ml_genn initializer
        snippet = value.get_snippet()
        return init_var(snippet.snippet, snippet.param_vals)
    if type(value).__name__ == "VarInit":
        return value
    raise EqsnnError(f"cannot turn {value!r} into a GeNN initialiser")


def _host_value(name: str, value, n: int, seed: int):
    """A number or a float64 ``(n,)`` array, sampling eqsnn initialisers on the host."""
    from .initializers import Initializer, resolve

    if isinstance(value, (Initializer, str)):
        return resolve(name, value, n=n, seed=seed)
    if _is_initializer(value):
        raise EqsnnError(
            f"{name} is given as {value!r}, which GeNN samples on the device, but eqsnn needs "
            "its values on the host (a precomputed value or an initial value depends on it)",
            hint="give numbers, an array, or an eqsnn.initializers Normal/Uniform")
    array = np.asarray(value, np.float64)
    if array.ndim == 0:
        return float(array)
    if array.size != n:
        raise EqsnnError(f"{name} has {array.size} values for {n} neurons",
                         hint="give one value per neuron, or a number")
    return array.reshape(n)


class _Population:
    """An eqsnn model with values, laid out as GeNN wants them (no PyGeNN needed)."""

    def __init__(self, model, n: int, params, init, precision: str, dt: float, seed: int,
                 free_inputs=frozenset(), fast_math: bool = False):
        from .printing.genn import genn_spec

        self.model, self.n = model, n
        declared = {p.name: p for p in model.params}
        arrays = {a.name for a in model.arrays}
        unknown = set(params) - set(declared) - arrays - set(model.runtime_params)
        unknown |= set(init) - {s.name for s in model.states}
        if unknown:
            raise EqsnnError(f"{model.name} has no params, arrays or states "
                             f"{', '.join(sorted(unknown))}")
        values = {name: p.default for name, p in declared.items()}
        values.update({name: value for name, value in params.items() if name not in arrays})
        missing = [name for name, value in values.items() if value is None]
        if missing:
            raise EqsnnError(f"{model.name} needs values for {', '.join(missing)}")
        on_host = self._needed_on_host(values, init)
        self.host = {name: _host_value(name, value, n, seed) for name, value in values.items()
                     if name in on_host or not _is_initializer(value)}
        self.device = {name: value for name, value in values.items() if name not in self.host}
        per_neuron = {name for name, value in self.host.items() if np.ndim(value) == 1}
        per_neuron |= set(self.device)
        self.spec = genn_spec(model, precision, per_neuron, free_inputs=free_inputs,
                              wide_math=not fast_math)
        self.precompute = Precompute(self.spec.precompute)
        names = self.spec.code.names
        host_genn = {names[k]: v for k, v in self.host.items()}
        computed = self.precompute.values(host_genn, dt) if self.spec.precompute else {}
        self.arrays = {names[a]: np.asarray(params[a]).reshape(-1) for a in arrays
                       if a in params}
        self.param_vals, self.var_vals = {}, {}
        for name, _ in self.spec.params:
            kind, source = self.spec.origin[name]
            if kind == "length":
                if names[source] not in self.arrays:
                    raise EqsnnError(f"{model.name} needs the array {source!r} in params")
                self.param_vals[name] = len(self.arrays[names[source]])
            else:
                dtype = declared[source].dtype if source in declared else "int"
                self.param_vals[name] = {"int": int, "bool": bool}.get(dtype, float)(
                    self.host[source])
        for name, _, _ in self.spec.vars:
            kind, source = self.spec.origin[name]
            if kind == "param":
                value = self.host.get(source, self.device.get(source))
            elif kind == "precompute":
                value = computed[name]
            elif kind == "sign":
                value = 0
            else:
                value = self._initial(model.state(source), init, computed, dt, seed)
            self.var_vals[name] = value

    def _needed_on_host(self, values: dict, init: dict) -> set:
        """Params that precompute values or declared initial values are computed from."""
        needed = set()
        for item in self.model.precompute:
            exprs = ([item.expr] if isinstance(item, ir.Derived)
                     else [item.matrix] + ([item.noise] if item.noise is not None else []))
            needed |= {str(s) for e in exprs for s in e.free_symbols}
        for state in self.model.states:
            if state.name not in init:
                needed |= {str(s) for s in state.init.free_symbols}
        return needed & set(values)

    def _initial(self, state, init, computed, dt, seed):
        if state.name in init:
            value = init[state.name]
            if _is_initializer(value):
                return value
            return _host_value(state.name, value, self.n, seed)
        precompute = {source: computed[genn] for genn, (kind, source) in self.spec.origin.items()
                      if kind == "precompute"}
        value = host.evaluate(state.init, {**self.host, **precompute, "dt": dt})
        return float(value) if value.ndim == 0 else value

    def neuron_model_kwargs(self) -> dict:
        from .backends.pygenn_runtime import spec_kwargs

        return spec_kwargs(self.spec, self.precompute.derived)

    def genn_vars(self) -> dict:
        """Var values with initialisers as ``pygenn.init_var``."""
        return {name: _genn_initializer(v) if _is_initializer(v) else v
                for name, v in self.var_vals.items()}


def _resolve(model, shape, batch_size: int, dt: float, seed: int, params: dict, init: dict):
    """``(ir.Model, params, init, neuron object or None)`` of whatever the user gave."""
    from .model import Model, load

    if isinstance(model, ir.Model):
        return model, params, init, None
    if isinstance(model, Model):
        return model.ir, params, init, None
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        return load(model).ir, params, init, None
    if callable(getattr(model, "build", None)):  # a standard-library neuron
        from .neurons.base import _values

        build = model.build(shape=shape, batch_size=batch_size, dt=dt, seed=seed)
        ir_model = build.model.ir
        declared = {p.name for p in ir_model.params}
        raw = {name: getattr(model, name) for name in _values(type(model))
               if name in declared and getattr(model, name) is not None}
        raw.update(model.extra_params())
        return ir_model, {**build.arrays, **raw, **params}, {**build.init, **init}, model
    raise EqsnnError(f"cannot add {type(model).__name__} to a GeNN model",
                     hint="give an eqsnn.Model, a .eqs path or an eqsnn.neurons neuron")


def _shape(n) -> tuple[int, ...]:
    return (int(n),) if np.ndim(n) == 0 else tuple(int(d) for d in n)


def add_population(genn_model, name: str, model, n, params=None, init=None, *, seed: int = 0,
                   fast_math: bool = False):
    """Add ``model`` to ``genn_model`` (a ``pygenn.GeNNModel``) as population ``name``.

    ``model``: an :class:`eqsnn.Model`, an IR model, a ``.eqs`` path or an
    ``eqsnn.neurons`` neuron; ``n``: the number of neurons (or a shape).
    ``params`` maps params (and arrays) to numbers, one value per neuron, or
    initialisers (eqsnn's ``Normal``/``Uniform`` or their names, ml_genn's,
    or ``pygenn.init_var``); ``init`` does the same for states (by default
    their declared initial values).  A param that precomputed values depend
    on is sampled on the host (from ``seed``); other initialisers run in
    GeNN.  Set ``genn_model.dt`` first: per-neuron precomputed values use it.
    In a float model ``exp``, ``log``, ... are the double functions rounded
    to float, as on every eqsnn backend; ``fast_math=True`` uses GeNN's float
    functions instead (much faster on GPUs with little double throughput).
    Returns the ``NeuronGroup``.
    """
    from .runtime.values import as_flag

    as_flag("fast_math", fast_math)
    from pygenn import create_neuron_model, types

    shape = _shape(n)
    precision = "float64" if genn_model.precision == types.Double else "float32"
    model, params, init, _ = _resolve(model, shape, genn_model.batch_size, genn_model.dt,
                                      seed, dict(params or {}), dict(init or {}))
    params, init = _in_internal_units(model, params, init)
    population = _Population(model, int(np.prod(shape)), params, init, precision,
                             genn_model.dt, seed, fast_math=fast_math)
    neuron = create_neuron_model(model.name, **population.neuron_model_kwargs())
    pop = genn_model.add_neuron_population(name, int(np.prod(shape)), neuron,
                                           population.param_vals, population.genn_vars())
    for egp, data in population.arrays.items():
        pop.extra_global_params[egp].set_init_values(data)
    return pop


def _in_internal_units(model, params: dict, init: dict) -> tuple[dict, dict]:
    """Params and initial values given in each name's declared unit (or with a unit, or as
    "20 ms") → the internal unit GeNN's code works in (see :mod:`eqsnn.units`)."""
    if not model.units:
        return params, init
    from .runtime.quantities import convert_values

    def is_value(value):
        return not _is_initializer(value)

    arrays = {a.name for a in model.arrays}
    converted = convert_values(model, "param", {k: v for k, v in params.items()
                                                if k not in arrays}, is_value=is_value)
    return ({**params, **converted},
            convert_values(model, "state", init, is_value=is_value))


# --- ml_genn ------------------------------------------------------------------------------
def _ml_genn_value(value):
    """eqsnn initialisers as ml_genn's (GeNN samples them); anything else unchanged."""
    from .initializers import INITIALIZERS, Normal, Uniform

    if isinstance(value, str) and value in INITIALIZERS:
        value = INITIALIZERS[value]()
    if isinstance(value, (Normal, Uniform)):
        from ml_genn import initializers

        if isinstance(value, Normal):
            return initializers.Normal(mean=value.mean, sd=value.sd)
        return initializers.Uniform(min=value.min, max=value.max)
    return value


def get_model(neuron, population, dt: float, batch_size: int, *, seed: int = 0):
    """What ml_genn's ``Neuron.get_model(population, dt, batch_size)`` returns, for eqsnn.

    ``neuron`` is an ``eqsnn.neurons`` neuron or an :class:`eqsnn.Model`
    (then with its declared defaults).  The result is an
    ``ml_genn.utils.model.NeuronModel``: per-neuron params are READ_ONLY
    vars, the population-wide precompute derived params; ml_genn attaches
    its own readout to ``neuron.output_var`` (an eqsnn readout set on the
    neuron is not used).  A signed neuron sends every spike as ``+w`` through
    ml_genn's synapses, with the sign in its ``SpikeSign`` var.
    """
    try:
        from ml_genn.utils.model import NeuronModel
    except ImportError as error:
        raise BackendError(f"get_model needs ml_genn ({error})",
                           hint="install ml_genn 2.x (https://github.com/genn-team/ml_genn) "
                                "and PyGeNN") from None
    if callable(getattr(neuron, "build", None)) and getattr(neuron, "readout", None):
        import copy

        neuron = copy.copy(neuron)
        neuron.readout = None
    shape = _shape(population.shape)
    model, params, init, obj = _resolve(neuron, shape, batch_size, dt, seed, {}, {})
    free = frozenset({"Input"}) if _data_input(obj) else frozenset()
    # float64 literals: exact in a double model, correctly rounded in a float one
    pop = _Population(model, int(np.prod(shape)), params, init, "float64", dt, seed, free)
    model_dict = pop.neuron_model_kwargs()
    model_dict.pop("params", None)
    model_dict["params"] = list(pop.spec.params)
    var_vals = {name: _ml_genn_value(value) for name, value in pop.var_vals.items()}
    output = getattr(obj, "output_var", None)
    return NeuronModel(model_dict, pop.spec.code.names.get(output) if output else None,
                       dict(pop.param_vals), var_vals, dict(pop.arrays))


def _data_input(obj) -> bool:
    from .neurons.base import InputBase

    return isinstance(obj, InputBase)


_ML_GENN_CLASSES: dict = {}


def ml_genn_neuron(neuron, readout=None):
    """``neuron`` (an ``eqsnn.neurons`` neuron or an :class:`eqsnn.Model`) as an
    ``ml_genn.neurons.Neuron`` for ml_genn's ``Population``; ``readout`` is ml_genn's.

    eqsnn's data-input neurons (``IntegrateFireInput``, ``BinarySpikeInput``,
    ...) become ml_genn input neurons: ``Input`` is a var (or, with
    ``input_frames > 1``, an extra global param) set by ml_genn's
    ``set_input``.
    """
    from ml_genn.neurons import Neuron as MLGeNNNeuron
    from ml_genn.neurons.input import InputBase as MLGeNNInputBase

    if isinstance(neuron, MLGeNNNeuron):
        return neuron
    data = _data_input(neuron)
    if data not in _ML_GENN_CLASSES:
        bases = (MLGeNNNeuron, MLGeNNInputBase) if data else (MLGeNNNeuron,)

        def init(self, eqsnn_neuron, readout=None):
            kwargs = {}
            if data:
                kwargs = {"var_name": "Input", "egp_name": "Input",
                          "input_frames": eqsnn_neuron.input_frames,
                          "input_frame_timesteps": eqsnn_neuron.input_frame_timesteps}
            MLGeNNNeuron.__init__(self, readout=readout, **kwargs)
            self.eqsnn_neuron = eqsnn_neuron

        def neuron_model(self, population, dt, batch_size):
            model = get_model(self.eqsnn_neuron, population, dt, batch_size)
            if data:
                model = self.create_input_model(model, batch_size, population.shape,
                                                replace_input="Input")
            return model

        _ML_GENN_CLASSES[data] = type("EqsnnNeuron", bases, {
            "__init__": init, "get_model": neuron_model,
            "__doc__": "An eqsnn neuron in an ml_genn network (see eqsnn.genn.ml_genn_neuron)."})
    return _ML_GENN_CLASSES[data](neuron, readout)
