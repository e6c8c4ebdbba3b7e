"""Params, array data and initial values of a population, validated and evaluated.

``prepare_params`` gives every param a float64 value of shape ``()`` or
``(n,)`` (from ``params`` or its default) and checks its constraints per
neuron; array data (``ir.Array``) are given through ``params`` too, as 1-D
arrays of any length.  ``initial_states`` evaluates each state's declared
initial value on the host and applies ``init`` overrides, giving
``(batch, n)`` arrays.  Nothing here touches a running population.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy

from .. import ir
from ..backends import numpy_dtype
from ..errors import ParameterError, ShapeError
from ..frontend.unit_algebra import is_bool
from ..solve.adaptive import ATOL
from . import host
from .float32_bounds import float32_bounds
from .inputs import check_numeric, check_range, expected_shapes, fit, unknown_name
from .quantities import declared_units, to_internal

__all__ = ["prepare_params", "prepare_arrays", "initial_states", "state_value", "check_bounds",
           "check_literals", "check_init_names", "hidden_state", "public_states", "Checked"]


class Checked:
    """A param or initial value already checked and converted by :func:`prepare_params` or
    :func:`state_value` (float64 ``()``/``(n,)`` for a param, ``(batch, n)`` of the state's
    type for a state, in the internal unit): taken as it is, neither converted, checked nor
    copied again.  A network checks a population's values when it is added and gives its
    Simulator these (``eqsnn.network.values``)."""

    __slots__ = ("value",)

    def __init__(self, value: np.ndarray):
        value.flags.writeable = False  # shared by the network and its Simulator
        self.value = value


def as_mapping(what: str, value) -> Mapping:
    """``value`` as a mapping of names (``None``: empty); a clear error otherwise."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParameterError(f"{what} must be a mapping of names to values, "
                             f"got {type(value).__name__}")
    return value


def as_flag(what: str, value) -> bool:
    """``value`` if it is ``True`` or ``False``; a clear error otherwise (``1`` and ``"yes"``
    included, which would silently mean True)."""
    if not isinstance(value, bool):
        raise ParameterError(f"{what} must be True or False, not {value!r}",
                             hint=f"pass {what}=True or {what}=False")
    return value


def prepare_params(model: ir.Model, params, shape: tuple[int, ...],
                   precision: str = "float64") -> dict[str, np.ndarray]:
    """Float64 value (``()`` or ``(n,)``) of every param, constraints checked per neuron, and
    in range of ``precision``."""
    params = as_mapping("params", params)
    declared = {p.name: p for p in model.params if p.name not in model.runtime_params}
    arrays = {a.name for a in model.arrays}
    for name in params:
        if name in model.runtime_params:
            raise ParameterError(f"{name!r} is set by the Simulator for every run; do not pass it")
        if name not in declared and name not in arrays:
            error = unknown_name("param", name, set(declared) | arrays, model)
            if name in ("rtol", "atol", "max_substeps") and "adaptive" in model.meta:
                error.hint = (f"{name} is an option of the adaptive method, set in the model "
                              f"text: method: adaptive({name}=...)")
            raise error
    values = {}
    for name, param in declared.items():
        if isinstance(params.get(name), Checked):
            values[name] = params[name].value
            continue
        if name in params:
            given = to_internal(model, "param", name, params[name])
            _refuse_bool(name, given, param.dtype)
            value = per_neuron(f"param {name!r}", given, param.dtype, shape)
        elif param.default is not None:
            value = np.float64(param.default)
        else:
            raise ParameterError(
                f"param {name!r} has no default value and was not given",
                hint=f"pass params={{{name!r}: value}} (a scalar or one value per neuron)",
            )
        _check_constraints(param, value, dict(model.units).get(name))
        if param.dtype == "float":
            check_range(f"param {name!r}", np.asarray(value, np.float64), precision,
                        declared_units(model).get(name))
        values[name] = np.asarray(value, np.float64)
    _check_float32_atol(values, precision)
    return values


def _refuse_bool(name: str, given, dtype: str) -> None:
    """A ParameterError where a number param is given True or False (or an array or list
    holding them): taken as 1 and 0 it ran without a word (``params={"tau": True}`` was a
    time constant of 1)."""
    if dtype != "bool" and is_bool(given):
        raise ParameterError(f"param {name!r} is a number ({dtype}); got True or False",
                             hint="pass a number: a bool is not taken as 1 or 0 here")


def check_hidden_params(model: ir.Model, params) -> dict:
    """``params`` as a dict; a ParameterError for a param of generated code given by name
    (the adaptive method's ``_rtol`` and ``_atol``): set so, it bypassed the checks of the
    method's options (an atol of -1 ran without a word)."""
    for name in params:
        if str(name).startswith("_") and any(p.name == name for p in model.params):
            option = str(name)[1:]
            raise ParameterError(f"unknown param {name!r}", hint=(
                f"{option} is an option of the adaptive method, set in the model text: "
                f"method: adaptive({option}=...)"))
    return dict(params)


def _check_float32_atol(values: dict, precision: str) -> None:
    """A ParameterError where the adaptive method's atol is 0 in float32 (or flushed to 0):
    a substep's error is measured against atol + rtol |x|, which is then 0 (0/0, NaN) where
    a state stays 0, and every step ran to the substep bound, with only that warning."""
    tiny = float(np.finfo(np.float32).tiny)
    if precision == "float32" and ATOL in values and np.min(values[ATOL]) < tiny:
        raise ParameterError(
            f"adaptive(atol={float(np.min(values[ATOL])):g}) is below the smallest normal "
            f"float32, {tiny:.7g}: the error test of a substep would divide by 0 where a state "
            "stays 0", hint="give a larger atol, in the units of the states (the float32 "
            "default is 1e-06), or simulate with precision='float64'")


def per_neuron(what: str, value, dtype: str, shape) -> np.ndarray:
    """A scalar or one value per neuron, as float64 ``()`` or ``(n,)``."""
    array = check_numeric(what, value, dtype)
    fitted = fit(array, (), tuple(shape))
    if fitted is None:
        raise ShapeError(f"{what} has shape {array.shape}; expected a scalar or "
                         f"{expected_shapes('', (), shape)}",
                         hint="a param is one value for the population or one per neuron, "
                         "the same in every batch lane")
    fitted = fitted.astype(np.float64)
    return fitted.reshape(()) if fitted.size == 1 else fitted


def _check_constraints(param: ir.Param, value: np.ndarray, unit=None) -> None:
    """Each constraint per neuron; the message in the param's declared unit, if it has one."""
    for constraint in param.constraints:
        holds = np.asarray(constraint.holds(value))
        if not holds.all():
            if value.ndim == 0:
                got = f"got {_shown(value, unit)}"
            else:
                neuron = int(np.argmin(holds))
                got = f"neuron {neuron} has {_shown(value[neuron], unit)}"
            bound = (str(constraint) if unit is None
                     else f"{constraint.op} {_shown(constraint.bound, unit)}")
            raise ParameterError(f"{param.name} must be {bound}; {got}")


def prepare_arrays(model: ir.Model, params, precision: str = "float64") -> dict[str, np.ndarray]:
    """The data of every ``ir.Array``, given as a 1-D array in ``params``, in range of
    ``precision``."""
    params = as_mapping("params", params)
    arrays = {}
    for item in model.arrays:
        if item.name not in params:
            raise ParameterError(
                f"array {item.name!r} was not given",
                hint=f"pass params={{{item.name!r}: a 1-D array}}",
            )
        data = check_numeric(f"array {item.name!r}", params[item.name], item.dtype)
        if data.ndim != 1 or data.size == 0:
            raise ShapeError(f"array {item.name!r} must be 1-D and not empty; "
                             f"got shape {data.shape}")
        if item.dtype == "float":
            check_range(f"array {item.name!r}", data, precision)
        arrays[item.name] = data.copy()
    return arrays


def state_value(model: ir.Model, name: str, value, batch: int, shape, precision: str):
    """``value`` for state ``name`` as a ``(batch, n)`` array of the state's type."""
    states = {s.name: s for s in model.states}
    if name not in states:
        raise unknown_name("state", name, states, model)
    state = states[name]
    array = check_numeric(f"state {name!r}", value, state.dtype)
    if state.dtype == "float":
        check_range(f"the value of state {name!r}", array, precision,
                    declared_units(model).get(name))
        check_bounds(model, state, array)
        if precision == "float32" and state.bounds:
            _check_float32_bounds(model, state, array)
    fitted = fit(array, (batch,), tuple(shape))
    if fitted is None:
        raise ShapeError(
            f"state {name!r} got shape {array.shape}; expected "
            f"{expected_shapes('batch, ', (batch,), shape)}",
            hint=f"a scalar or one value per neuron {tuple(shape)} is the same in every lane; "
                 f"one value per lane is {(batch,) + (1,) * len(tuple(shape))}",
        )
    n = int(np.prod(shape))
    full = np.broadcast_to(fitted, (batch, n))
    return np.array(full, numpy_dtype(state.dtype, precision))


def check_bounds(model: ir.Model, state: ir.State, value: np.ndarray) -> None:
    """A ParameterError where a value given to a state lies outside its declared bounds
    (``state V = -70 (> -1000, < 1000)``): the run's check would fail at its first step,
    as if the model had driven the state there."""
    unit = dict(model.units).get(state.name)

    for bound in state.bounds:
        holds = np.asarray(bound.holds(value))
        if not holds.all():
            where = np.unravel_index(int(np.argmin(holds)), holds.shape)
            at = f" at index {tuple(int(i) for i in where)}" if holds.ndim else ""
            text = str(bound) if unit is None else f"{bound.op} {_shown(bound.bound, unit)}"
            raise ParameterError(
                f"the value of state {state.name!r} violates its bound '{text}': "
                f"{_shown(value[where], unit)}{at}",
                hint=f"give {state.name} values that are {text}, or widen the bounds in "
                     "the model")


def _check_float32_bounds(model: ir.Model, state: ir.State, value) -> None:
    """A ParameterError where a value within the bounds leaves them once stored in float32
    (1e-50 is 0, outside '> 0'), as the run's check, in float32, would find at step 0."""
    stored = np.asarray(value, np.float64).astype(np.float32)
    for bound, kept in zip(state.bounds, float32_bounds(state)):
        holds = np.asarray(kept.holds(stored))
        if not holds.all():
            where = np.unravel_index(int(np.argmin(holds)), holds.shape)
            at = f" at index {tuple(int(i) for i in where)}" if holds.ndim else ""
            unit = dict(model.units).get(state.name)
            text = str(bound) if unit is None else f"{bound.op} {_shown(bound.bound, unit)}"
            raise ParameterError(
                f"the value of state {state.name!r} violates its bound '{text}' in float32: "
                f"{_shown(np.asarray(value)[where], unit)}{at} is "
                f"{_shown(stored[where], unit)} in float32",
                hint=f"give {state.name} values that are {text} in float32, or simulate with "
                     "precision='float64'")


def public_states(model: ir.Model) -> set[str]:
    """The names of the states a user may set with ``init``: every state but the hidden ones
    of generated code (the numerical check's record, the adaptive integrator's substep),
    whose names start with ``_``; a record set by hand failed a run."""
    return {s.name for s in model.states if not s.name.startswith("_")}


def check_init_names(model: ir.Model, names) -> None:
    """A ParameterError for the first of ``names`` (the keys of ``init=``) that is not a
    state a user may set (:func:`public_states`)."""
    public = public_states(model)
    for name in names:
        if name not in public:
            if any(s.name == name for s in model.states):
                raise hidden_state(name, public)
            raise unknown_name("state", name, public, model)


def hidden_state(name: str, public) -> ParameterError:
    """The error for a hidden state given to ``init=`` or ``set_state``."""
    return ParameterError(
        f"state {name!r} is kept by eqsnn itself (a hidden state of the generated code), "
        "not set by hand", hint=f"known states: {', '.join(sorted(public))}")


def initial_states(model, values, precompute, init, batch, shape, dt, precision) -> dict:
    """``(batch, n)`` initial value of every state: ``init[name]`` or its declared value."""
    init = as_mapping("init", init)
    check_init_names(model, init)
    declared = host.evaluate_initial(model, values, precompute, dt)
    states = {}
    for state in model.states:
        if isinstance(init.get(state.name), Checked):
            states[state.name] = init[state.name].value
            continue
        if state.name in init:
            given = to_internal(model, "state", state.name, init[state.name])
            states[state.name] = state_value(model, state.name, given, batch, shape, precision)
            continue
        value = np.asarray(declared[state.name])
        if not np.all(np.isfinite(value)):
            raise ParameterError(f"the initial value of {state.name!r}, {state.init}, "
                                 "is not finite for these params")
        states[state.name] = state_value(model, state.name, value, batch, shape, precision)
    return states


def check_literals(model: ir.Model, precision: str) -> None:
    """A ParameterError where a number written in the per-step code overflows ``precision``
    (``1e50`` in float32 would become inf: a threshold ``V > 1e50`` that never fires).
    Initial and precomputed values are evaluated on the host and checked as values."""
    if precision != "float32":
        return
    limit = float(np.finfo(np.float32).max)
    for expr in model.expressions():
        for number in expr.atoms(sympy.Float):
            with np.errstate(over="ignore"):
                overflows = bool(np.isinf(np.float32(float(number))))
            if overflows:
                raise ParameterError(
                    f"{model.name}: the number {float(number)!r} in the model overflows "
                    f"float32 (beyond {limit:.7g})",
                    hint="rescale it (other units), or simulate with precision='float64'")


def _shown(number, unit) -> str:
    """``number`` (internal units) for a message: in ``unit`` where there is one."""
    number = float(number)
    return f"{number!r}" if unit is None else f"{float(unit.from_internal(number)):g} {unit}"
