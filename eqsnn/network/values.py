"""A population's or a connection's values, checked when it is added.

A mistake found only when the network is built (its first run) would name the
composed model's hidden names (``c0__tau``) and leave a network whose
structure can no longer be changed, so :func:`check_values` runs the
Simulator's checks when the population or connection is added, naming it,
before anything is stored, and keeps what it checked: the Simulator (or
GeNN's model) takes those arrays as they are (``runtime.values.Checked``), so
each value is checked and converted once, and an array the user changes
afterwards changes nothing.  :func:`spike_times` reads a spike source's times
(ms, or with a unit); :func:`within_bounds` refuses a plastic weight outside
its rule's ``w_min`` / ``w_max``.
"""

from __future__ import annotations

import numpy as np

from ..errors import EqsnnError, ParameterError
from ..runtime.quantities import to_internal
from ..runtime.values import (
    Checked,
    check_hidden_params,
    check_init_names,
    prepare_params,
    state_value,
)

__all__ = ["check_values", "named", "spike_times", "within_bounds"]


def check_values(what: str, model, params: dict, init: dict, n: int, network,
                 build=None) -> tuple[dict, dict]:
    """``(params, init)`` of ``model`` over ``n`` neurons (per target neuron for a synapse
    model), checked as a Simulator checks them and kept as :class:`Checked` arrays in the
    internal unit (array data as given), for the Simulator to take as they are; or the
    Simulator's error, its message starting with ``what``.  ``build`` is a standard-library
    neuron's build, whose own values come first (and are not kept: the network builds it
    again with the population's seed)."""
    from ..solve.adaptive import precision_params
    given_params, given_init = params, init
    if build is not None:
        params = {**build.arrays, **build.params, **params}
        init = {**build.init, **init}
    try:
        check_hidden_params(model, params)
        prepared = prepare_params(model, {**precision_params(model, network.precision),
                                          **params}, (n,), network.precision)
        check_init_names(model, init)
        states = {}
        for name, value in init.items():
            states[name] = state_value(model, name, to_internal(model, "state", name, value),
                                       network.batch_size, (n,), network.precision)
    except EqsnnError as error:
        raise named(error, what) from None
    return ({name: Checked(prepared[name]) if name in prepared else value
             for name, value in given_params.items()},
            {name: Checked(states[name]) for name in given_init})


def named(error: EqsnnError, what: str) -> EqsnnError:
    """``error`` with its message starting with ``what`` (the population or connection)."""
    if not error.message.startswith(what):
        error.message = f"{what}: {error.message}"
        error.args = (error.message,)
    return error


def time_quantity(what, value, expected: str, hint: str):
    """``(quantity, ms)`` of a Quantity or a string (``"1.5 ms"``) of time, else None;
    ``expected`` and ``hint`` word the error where it is not a time."""
    from ..runtime.quantities import _quantity
    from ..units import TIME, Quantity, Unit
    if not isinstance(value, (Quantity, Unit, str)):  # a unit alone: one of it
        return None
    quantity = _quantity(what, value)
    if quantity.unit.dimension != TIME:
        raise ParameterError(f"{what} {expected}; got {quantity} "
                             f"({quantity.unit.dimension.words()})", hint=hint)
    return quantity, np.asarray(quantity.unit.to_internal(
        np.asarray(quantity.value, np.float64)), np.float64)


def spike_times(what, value) -> np.ndarray:
    """Spike times in ms: plain numbers (ms), a Quantity or a string (``"1.5 ms"``) of time."""
    timed = time_quantity(what, value, "must be times",
                          "give ms as plain numbers, or a time (1.5 * units.ms)")
    if timed is not None:
        return np.atleast_1d(timed[1])
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{what} must be numbers (ms) or a time quantity, not "
                             f"{value!r}", hint="e.g. times=[1.0, 2.5] or "
                             "times=np.array([1.0, 2.5]) * eqsnn.units.ms") from None


def within_bounds(plastic, weights: np.ndarray) -> np.ndarray:
    """``weights`` ``(batch, n_synapses)`` of a plastic connection (a
    :class:`~eqsnn.network.plasticity.Plastic`), or an error where one lies outside the rule's
    bounds, its params ``w_min`` / ``w_max`` where it declares them (the standard
    library's do): a hard-bound rule clips w only when it updates that synapse, so until
    then the synapse would deliver it as given, and a soft-bound rule's updates change
    sign beyond a bound."""
    consts = plastic.consts
    if "w_min" in consts and "w_max" in consts and consts["w_min"] > consts["w_max"]:
        raise ParameterError(f"connection {plastic.conn.name!r}: {plastic.model.name}'s "
                             f"w_min = {consts['w_min']} is above its w_max = "
                             f"{consts['w_max']}", hint="give w_min <= w_max")
    for bound, beyond, word, sign in (("w_min", np.less, "below", -1.0),
                                      ("w_max", np.greater, "above", 1.0)):
        if bound not in plastic.consts:
            continue
        limit = plastic.consts[bound]
        outside = beyond(weights, limit)
        if not outside.any():
            continue
        count = int(np.count_nonzero(outside.any(axis=0)))
        worst = np.where(outside, sign * (weights.astype(np.float64) - float(limit)),
                         -np.inf)
        lane, syn = np.unravel_index(int(np.argmax(worst)), worst.shape)
        where = f"synapse {syn}" + ("" if (weights == weights[:1]).all()
                                    else f", lane {lane}")
        value = str(weights[lane, syn])
        shown = (f"the {'largest' if sign > 0 else 'smallest'} {value}" if count > 1
                 else value)
        lo, hi = (str(plastic.consts[b]) if b in plastic.consts else "none"
                  for b in ("w_min", "w_max"))
        raise ParameterError(
            f"connection {plastic.conn.name!r}: {count} weight{'s are' if count > 1 else ' is'}"
            f" {word} {bound} = {limit} of {plastic.model.name}, {shown} ({where})",
            hint=f"give weights within [w_min, w_max] = [{lo}, {hi}] ({plastic.model.name} "
            "acts on w only when it updates a synapse: until then the synapse delivers "
            "its weight as given, and a soft-bound rule's updates change sign beyond a "
            "bound), or widen the rule's bounds: "
            f"{plastic.model.name}(w_min=..., w_max=...) for a standard-library rule, "
            "weight_update_params for your own")
    return weights
