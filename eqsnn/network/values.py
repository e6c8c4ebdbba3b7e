"""A population's or a connection's params and initial states, checked when it is added.

The Simulator that runs a population is made when the network is built (its
first run), and it checks every param and initial value then.  A mistake
found there would name the composed model's hidden names (``c0__tau``) and
leave a network whose structure can no longer be changed, so
:func:`check_values` runs the same checks when the population or connection
is added, naming it, before anything is stored.
"""

from __future__ import annotations

from ..errors import EqsnnError
from ..runtime.inputs import unknown_name
from ..runtime.quantities import to_internal
from ..runtime.values import prepare_params, state_value

__all__ = ["check_values", "named"]


def check_values(what: str, model, params: dict, init: dict, n: int, network,
                 build=None) -> None:
    """Raise the Simulator's error for ``params``/``init`` of ``model`` over ``n`` neurons
    (per target neuron for a synapse model), its message starting with ``what``; ``build``
    is a standard-library neuron's build, whose own values come first."""
    from ..solve.adaptive import precision_params
    if build is not None:
        params = {**build.arrays, **build.params, **params}
        init = {**build.init, **init}
    try:
        prepare_params(model, {**precision_params(model, network.precision), **params}, (n,),
                       network.precision)
        public = {s.name for s in model.states if not s.name.startswith("_")}
        for name, value in init.items():
            if name not in public:
                raise unknown_name("state", name, public)
            state_value(model, name, to_internal(model, "state", name, value),
                        network.batch_size, (n,), network.precision)
    except EqsnnError as error:
        raise named(error, what) from None


def named(error: EqsnnError, what: str) -> EqsnnError:
    """``error`` with its message starting with ``what`` (the population or connection)."""
    if not error.message.startswith(what):
        error.message = f"{what}: {error.message}"
        error.args = (error.message,)
    return error
