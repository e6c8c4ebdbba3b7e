"""An eqsnn model with its values, laid out as GeNN wants them, and :func:`add_population`."""

from __future__ import annotations

import numpy as np

from .. import ir
from ..errors import EqsnnError
from ..runtime import host
from ..stdlib.protocol import Buildable
from .precompute import Precompute

__all__ = ["GeNNPopulation", "add_population", "population_shape", "resolve_model"]


# --- values: numbers, per-neuron arrays, initialisers ------------------------------------
def _is_initializer(value) -> bool:
    from ..initializers import Initializer

    return (isinstance(value, (Initializer, str)) or hasattr(value, "get_snippet")
            or type(value).__name__ == "VarInit")


def _genn_initializer(value):
    """A ``pygenn.init_var`` for an eqsnn, ml_genn or pygenn initialiser."""
    from pygenn import init_var

    from ..initializers import INITIALIZERS, Normal, Uniform

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
    from ..initializers import Initializer, resolve

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


def _exact_int(value, var_type: str, n: int):
    """An int var's one value, per neuron where GeNN's constant initialiser would round it:
    it goes through the model precision (in a float model 16777217 became 16777216)."""
    if (var_type == "int" and not _is_initializer(value) and np.ndim(value) == 0
            and abs(value) > 2**24):
        return np.full(n, int(value), np.int32)
    return value


class GeNNPopulation:
    """An eqsnn model with values, laid out as GeNN wants them (no PyGeNN needed)."""

    def __init__(self, model, n: int, params, init, precision: str, dt: float, seed: int,
                 free_inputs=frozenset(), fast_math: bool = False):
        from ..printing.genn import genn_spec

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
        _check_bounds(model, self.host)
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
        for name, var_type, _ in self.spec.vars:
            kind, source = self.spec.origin[name]
            if kind == "param":
                value = self.host.get(source, self.device.get(source))
            elif kind == "precompute":
                value = computed[name]
            elif kind in ("sign", "local"):
                value = 0
            else:
                value = self._initial(model.state(source), init, computed, dt, seed)
            self.var_vals[name] = _exact_int(value, var_type, n)

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
        from ..backends.pygenn_runtime import spec_kwargs

        return spec_kwargs(self.spec, self.precompute.derived)

    def genn_vars(self) -> dict:
        """Var values with initialisers as ``pygenn.init_var``."""
        return {name: _genn_initializer(v) if _is_initializer(v) else v
                for name, v in self.var_vals.items()}


def _check_bounds(model, host: dict) -> None:
    """The declared bounds (``tau_mem > 0``) of the params known on the host."""
    from ..runtime.values import _check_constraints

    units = dict(model.units)
    for param in model.params:
        if param.name in host and param.constraints:
            _check_constraints(param, np.asarray(host[param.name], np.float64),
                               units.get(param.name))


def resolve_model(model, shape, batch_size: int, dt: float, seed: int, params: dict, init: dict):
    """``(ir.Model, params, init, neuron object or None)`` of whatever the user gave."""
    from ..model import Model, load

    if isinstance(model, ir.Model):
        return model, params, init, None
    if isinstance(model, Model):
        return model.ir, params, init, None
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        return load(model).ir, params, init, None
    if isinstance(model, Buildable):  # a standard-library neuron
        build = model.build(shape=shape, batch_size=batch_size, dt=dt, seed=seed)
        return (build.model.ir, {**build.arrays, **model.raw_params(), **params},
                {**build.init, **init}, model)
    raise EqsnnError(f"cannot add {type(model).__name__} to a GeNN model",
                     hint="give an eqsnn.Model, a .eqs path or an eqsnn.neurons neuron")


def population_shape(n) -> tuple[int, ...]:
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
    from ..runtime.values import as_flag

    as_flag("fast_math", fast_math)
    from pygenn import create_neuron_model, types

    shape = population_shape(n)
    precision = "float64" if genn_model.precision == types.Double else "float32"
    model, params, init, _ = resolve_model(model, shape, genn_model.batch_size, genn_model.dt,
                                      seed, dict(params or {}), dict(init or {}))
    params, init = _in_internal_units(model, params, init)
    population = GeNNPopulation(model, int(np.prod(shape)), params, init, precision,
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
    from ..runtime.quantities import convert_values

    def is_value(value):
        return not _is_initializer(value)

    arrays = {a.name for a in model.arrays}
    converted = convert_values(model, "param", {k: v for k, v in params.items()
                                                if k not in arrays}, is_value=is_value)
    return ({**params, **converted},
            convert_values(model, "state", init, is_value=is_value))
