"""A population's or a connection's values, checked when it is added.

The Simulator that runs a population is made when the network is built (its
first run), and it checks every param and initial value then.  A mistake
found there would name the composed model's hidden names (``c0__tau``) and
leave a network whose structure can no longer be changed, so
:func:`check_values` runs the same checks when the population or connection
is added, naming it, before anything is stored, and keeps what it checked: the
Simulator (or GeNN's model) takes those arrays as they are, so each value is
checked and converted once, and an array the user changes afterwards changes
nothing.  :func:`spike_times` reads a
spike source's times (ms, or with a unit).
"""

from __future__ import annotations

import numpy as np

from ..errors import EqsnnError, ParameterError
from ..runtime.inputs import unknown_name
from ..runtime.quantities import to_internal
from ..runtime.values import Checked, prepare_params, public_states, state_value

__all__ = ["check_values", "named", "spike_times"]


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
        prepared = prepare_params(model, {**precision_params(model, network.precision),
                                          **params}, (n,), network.precision)
        public, states = public_states(model), {}
        for name, value in init.items():
            if name not in public:
                raise unknown_name("state", name, public, model)
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
    from ..units import TIME, Quantity
    if not isinstance(value, (Quantity, str)):
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
