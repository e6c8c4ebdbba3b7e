"""Validation and shaping of user values: params, initial and set states, inputs, record.

Everything here is checked before the Simulator changes any state, and every
problem raises a :class:`~eqsnn.errors.ParameterError` or
:class:`~eqsnn.errors.ShapeError` that says what was expected.

A population has ``shape`` (neuron id = C-order flat index, ``n`` ids) and
``batch`` lanes.  Values broadcast with NumPy's rules against the full shape
of their kind; the neuron part may also be given flat, as ``(n,)``.
"""

from __future__ import annotations

import decimal
import difflib
import math
import numbers
from collections.abc import Mapping

import numpy as np

from .. import ir
from ..errors import ParameterError, ShapeError
from ..units import internal_symbol
from .quantities import declared_units, refuse_masked

__all__ = [
    "fit", "check_numeric", "check_range", "check_device_inputs", "is_device_array", "is_int",
    "unknown_name",
    "prepare_inputs", "prepare_record",
]


def is_int(value) -> bool:
    """An integer that is not a bool (``True`` is not a count, a lane or a seed)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


#: where a Simulator takes each kind of name, for a name given in the wrong place
_TAKEN_IN = {"param": "params=", "state": "init= (or set_state)", "input": "run(inputs=...)"}


def unknown_name(kind: str, name, known, model=None, *, recording=False) -> ParameterError:
    """``unknown param 'tau_men'; did you mean 'tau_mem'?`` with the known names as hint.

    Names starting with '_' (reserved for generated code: the adaptive method's hidden
    states and tolerances, the numerical check's records) are offered only to a name that
    starts with '_' itself.  With ``model``, a name it declares as another kind (a state
    in ``params=``, a param in ``record=``) is said to be that kind, with where it goes."""
    other = None if model is None or str(name).startswith("_") else next(
        (other for other, items in (("param", model.params), ("state", model.states),
                                    ("input", model.inputs))
         if other != kind and any(item.name == name for item in items)), None)
    known = sorted(k for k in known if not k.startswith("_") or str(name).startswith("_"))
    same_letters = [k for k in known if k.lower() == str(name).lower()]
    close = same_letters or (difflib.get_close_matches(str(name), known, n=1)
                             if len(str(name)) <= 100 else [])
    suggestion = f"; did you mean {close[0]!r}?" if close else ""
    if other is not None:
        hint = (f"only states and 'spikes' are recorded; {name} is the value given in "
                f"{_TAKEN_IN[other]}" if recording else f"give it in {_TAKEN_IN[other]}")
        return ParameterError(f"{name!r} is {_a(other)} of {model.name}, not {_a(kind)}"
                              f"{suggestion if same_letters else ''}", hint=hint)
    hint = f"known {kind}s: {', '.join(known)}" if known else f"this model has no {kind}s"
    return ParameterError(f"unknown {kind} {name!r}{suggestion}", hint=hint)


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def is_device_array(value) -> bool:
    """A CUDA device array (CuPy's, or any with ``__cuda_array_interface__``)."""
    return hasattr(value, "__cuda_array_interface__")


def check_device_inputs(runner, backend: str, inputs) -> None:
    """Device (CuPy) arrays only where the runner takes them (the cupy backend)."""
    if getattr(runner, "device_inputs", False):
        return
    for name, value in inputs.items():
        if is_device_array(value):
            raise ParameterError(
                f"input {name!r} is a CUDA device array ({type(value).__module__}."
                f"{type(value).__name__}); the {backend} backend reads host arrays",
                hint="copy it to the host with .get(), or simulate with backend='cupy'")


def check_numeric(what: str, value, dtype: str) -> np.ndarray:
    """``value`` as an array of real numbers valid for IR type ``dtype``; else ParameterError.

    A device array stays on its device: the checks below are NumPy calls that
    CuPy's arrays take over (``__array_function__``/``__array_ufunc__``).
    """
    refuse_masked(what, value)
    try:
        array = value if is_device_array(value) else np.asarray(value)
    except (ValueError, TypeError) as error:
        raise ParameterError(f"{what} is not an array of numbers ({error})") from None
    if array.dtype.kind == "O" and array.size and all(
            isinstance(x, numbers.Real) for x in array.flat):
        array = _plain_numbers(what, array)  # Python ints beyond int64, such as 10**40
    if array.dtype.kind not in "biuf":
        raise ParameterError(
            f"{what} must be numeric ({dtype}); got values of dtype {array.dtype}",
            hint="values with units go as one quantity: '20 ms', 20 * eqsnn.units.ms, or "
            "np.array([10, 20]) * eqsnn.units.ms for one per neuron (not a list of them)"
            if array.dtype.kind in "OUS" and array.ndim else None)
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            where = np.unravel_index(int(np.argmin(finite)), array.shape)
            bad = array[where]
            at = f" at index {tuple(int(i) for i in where)}" if array.ndim else ""
            raise ParameterError(f"{what} must be finite; got {bad}{at}")
        if array.dtype.itemsize > 8:  # a long double: finite, and maybe beyond float64
            with np.errstate(over="ignore"):
                wide = np.isinf(array.astype(np.float64))
            if wide.any():
                _overflows_float64(what, array, np.unravel_index(int(np.argmax(wide)),
                                                                 array.shape))
            array = array.astype(np.float64)
    if dtype == "int" and array.dtype.kind == "f" and not np.all(array == np.round(array)):
        raise ParameterError(f"{what} must be integers; got non-integral values")
    if dtype == "int" and array.size and (array.min() < -(2**31) or array.max() > 2**31 - 1):
        raise ParameterError(f"{what} must fit in int32 (-2147483648..2147483647)")
    if dtype == "bool" and array.dtype.kind != "b" and not ((array == 0) | (array == 1)).all():
        raise ParameterError(f"{what} must be booleans (True/False or 0/1)")
    return array


def _plain_numbers(what: str, array: np.ndarray) -> np.ndarray:
    """An object array of Python numbers as float64 (a Python int too large for int64 made
    NumPy give up on a number type)."""
    try:
        return array.astype(np.float64)
    except OverflowError:  # find the one too large, element by element
        pass
    out = np.empty(array.shape, np.float64)
    for where, x in np.ndenumerate(array):
        try:
            out[where] = float(x)
        except OverflowError:
            _overflows_float64(what, array, where)
    return out


def _overflows_float64(what: str, array: np.ndarray, where) -> None:
    at = f" at index {tuple(int(i) for i in where)}" if array.ndim else ""
    value = array[where]
    shown = f"{decimal.Decimal(value).normalize():.7g}" if isinstance(value, int) else str(value)
    raise ParameterError(f"{what} overflows float64: {shown}{at} is beyond "
                         f"{float(np.finfo(np.float64).max):.7g}",
                         hint="rescale the value (other units)")


def check_range(what: str, array, precision: str, unit=None) -> None:
    """A ParameterError where a float value overflows ``precision`` (1e39 in float32 would
    become inf, silently).  ``array`` is in the internal unit; ``unit``, the declared one,
    shows the value as the user gave it (1e42 pA, not only 1e39 nA)."""
    if precision != "float32" or array.dtype.kind != "f" or not array.size:
        return
    limit = float(np.finfo(np.float32).max)
    with np.errstate(over="ignore"):
        big = np.isinf(array.astype(np.float32))  # what rounds to a finite float32 is fine
    if big.any():
        where = np.unravel_index(int(np.argmax(big)), array.shape)
        at = f" at index {tuple(int(i) for i in where)}" if array.ndim else ""
        value = float(array[where])
        shown, bound = repr(value), f"{limit:.7g}"
        if unit is not None and unit.factor != 1:
            internal = internal_symbol(unit.dimension)
            given = float(unit.from_internal(np.float64(value)))
            shown, bound = f"{given!r} {unit.symbol} ({value!r} {internal})", f"{bound} {internal}"
        raise ParameterError(f"{what} overflows float32: {shown}{at} is beyond {bound}",
                             hint="rescale the value (other units), or simulate with "
                             "precision='float64'")


def fit(array: np.ndarray, lead: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray | None:
    """``array`` as ``lead' + (n',)`` with each dim 1 or the target, or None if it does not fit.

    The target is ``lead + shape`` (NumPy broadcasting, missing leading dims
    are 1) or ``lead + (n,)``; the neuron part collapses to one axis of
    length 1 (same for all neurons) or ``n``.
    """
    n = math.prod(shape)
    for neuron_dims in dict.fromkeys([tuple(shape), (n,)]):
        target = lead + neuron_dims
        if array.ndim > len(target):
            continue
        padded = array.reshape((1,) * (len(target) - array.ndim) + array.shape)
        if any(have not in (1, want) for have, want in zip(padded.shape, target)):
            continue
        head = padded.shape[: len(lead)]
        tail = padded.shape[len(lead):]
        if all(d == 1 for d in tail):
            return padded.reshape(head + (1,))
        full = np.broadcast_to(padded, head + neuron_dims)
        return full.reshape(head + (n,))
    return None


def expected_shapes(lead_names: str, lead: tuple[int, ...], shape) -> str:
    """What :func:`fit` takes, for a message: ``lead + shape`` and ``lead + (n,)`` under
    NumPy's broadcasting (a missing leading dim or a dim of 1 repeats)."""
    shape = tuple(shape)
    n = math.prod(shape)
    if lead_names:
        text = f"a shape broadcastable to ({lead_names}*shape) = {lead + shape}"
        text += f" or to ({lead_names}n) = {lead + (n,)}" if len(shape) > 1 else ""
    elif len(shape) == 1:
        return f"one value per neuron, shape {shape}"
    else:
        text = (f"one value per neuron, shape {shape} or ({n},) (the neurons flat in C "
                f"order), or a shape broadcastable to {shape}")
    return text + " (NumPy broadcasting: a missing leading dim or a dim of 1 repeats)"


def prepare_inputs(model: ir.Model, inputs, steps: int, batch: int, shape,
                   precision: str = "float64") -> dict:
    """Every input as ``(1 or steps, 1 or batch, 1 or n)``; held values stay unexpanded."""
    inputs = {} if inputs is None else inputs
    if not isinstance(inputs, Mapping):
        raise ParameterError(
            f"inputs must be a mapping of input names to arrays, got {type(inputs).__name__}"
        )
    declared = {item.name: item for item in model.inputs}
    for name in inputs:
        if name not in declared:
            raise unknown_name("input", name, declared, model)
    prepared = {}
    for name, item in declared.items():
        if name not in inputs:
            if item.default is None:
                raise ParameterError(
                    f"input {name!r} has no default value and was not given",
                    hint=f"pass inputs={{{name!r}: value}}: a scalar or {tuple(shape)} array "
                    f"held for the run, or ({steps}, {batch}, ...) per step",
                )
            prepared[name] = np.full((1, 1, 1), item.default)
            continue
        array = check_numeric(f"input {name!r}", inputs[name], item.dtype)
        if not is_device_array(array):
            check_range(f"input {name!r}", array, precision, declared_units(model).get(name))
        fitted = fit(array, (steps, batch), tuple(shape))
        if fitted is None:
            raise ShapeError(
                f"input {name!r} has shape {array.shape}; expected "
                f"{expected_shapes('steps, batch, ', (steps, batch), shape)}",
                hint=f"{tuple(shape)} or a scalar is held for every step and lane, "
                f"({batch}, *shape) is held per lane, ({steps}, {batch}, *shape) varies per step",
            )
        prepared[name] = fitted
    return prepared


def prepare_record(model: ir.Model, record, n: int, shape: tuple = ()
                   ) -> tuple[dict, object]:
    """``(states, spikes)``: state name -> flat neuron indices or None (all), and the spikes
    wanted: False, True (all neurons) or the flat ids of the neurons whose spikes to keep."""
    if record is None:
        record = ()
    if isinstance(record, str):
        record = (record,)
    if not isinstance(record, Mapping) and not isinstance(record, (list, tuple, set,
                                                                   frozenset)):
        raise ParameterError(
            f"record must name states and/or 'spikes' (a name, a list of names, or a dict "
            f"of name -> neuron ids), not {type(record).__name__}",
            hint="for example record=['V', 'spikes'] or record={'V': [0, 1, 2]}")
    items = record.items() if isinstance(record, Mapping) else ((name, None) for name in record)
    states = {s.name for s in model.states}
    chosen, spikes = {}, False
    for name, index in items:
        if not isinstance(name, str):
            raise ParameterError(f"record names states by their name (a str), not {name!r}",
                                 hint="for example record=['V', 'spikes']")
        if name == "spikes":
            if not model.spiking:
                raise ParameterError(
                    f"model {model.name!r} has no threshold, so it records no spikes"
                )
            spikes = True if index is None else _neuron_indices(name, index, n, shape)
            continue
        if name not in states:
            raise unknown_name("state", name, states | ({"spikes"} if model.spiking else set()),
                               model, recording=True)
        chosen[name] = None if index is None else _neuron_indices(name, index, n, shape)
    return chosen, spikes


def _neuron_indices(name: str, index, n: int, shape: tuple = ()) -> np.ndarray:
    array = np.atleast_1d(np.asarray(index))
    flat = (f"neuron ids are the flat (C-order) ids of the {tuple(shape)} population: "
            f"np.ravel_multi_index((rows, columns), {tuple(shape)}) gives them"
            if len(shape) > 1 else f"neuron ids are 0..{n - 1}")
    if array.size == 0:
        raise ParameterError(f"record[{name!r}] names no neuron, so it would record nothing",
                             hint=f"leave {name!r} out of record, or list neuron ids "
                                  f"(e.g. {{{name!r}: [0, 1]}})")
    if array.dtype.kind == "b":
        raise ParameterError(f"record[{name!r}] is a boolean mask; it takes neuron ids",
                             hint=f"pass np.flatnonzero(mask); {flat}")
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise ParameterError(
            f"record[{name!r}] must be a list of integer neuron ids; got {np.asarray(index)!r}",
            hint=flat)
    bad = (array < 0) | (array >= n)
    if bad.any():
        raise ParameterError(
            f"record[{name!r}] has neuron id {int(array[np.argmax(bad)])}, outside 0..{n - 1}",
            hint=flat)
    return array.astype(np.intp)
