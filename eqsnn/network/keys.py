"""What a run's ``inputs`` and ``record`` are keyed by: names, or the Population and
Connection objects that stand for them, and errors that name whose input or record is
wrong."""

from __future__ import annotations

from ..errors import EqsnnError, ParameterError
from .parts import Connection, Population
from .values import named

__all__ = ["by_name", "spikes_kept", "whose"]


def by_name(network, what, given: dict) -> dict:
    """``given`` keyed by names: a Population or Connection of this network stands for its
    name (as ``connect`` and ``set_state`` take them), and one given twice is refused."""
    out = {}
    for key, value in given.items():
        name = key
        if isinstance(key, Population):
            name = network._population(key).name  # of another network: refused there
        elif isinstance(key, Connection):
            if key.network is not network:
                raise ParameterError(f"{what}: connection {key.name!r} belongs to another "
                                     "Network", hint="record the connections of the network "
                                     "that runs, by object or by name")
            name = key.name
        if name in out:
            raise ParameterError(f"{what} names {name!r} twice (by name and by object)",
                                 hint=f"give {name!r} once")
        out[name] = value
    return out


def whose(network, name, error: EqsnnError) -> EqsnnError:
    """``error`` about the record or state of ``name``, its message starting with the
    population, spike source or connection it is about (unchanged for an unknown name)."""
    if name in network.connections:
        return named(error, f"connection {name!r}")
    pop = network.populations.get(name) if isinstance(name, str) else None
    if pop is None:
        return error
    return named(error, f"{'spike source' if pop.is_source else 'population'} {name!r}")


def spikes_kept(records, name) -> bool:
    """Whether a run records the spikes of population or spike source ``name`` (a long
    run keeps only those)."""
    plan = records.get(name)
    return plan is not None and plan[0] in ("population", "source") and plan[3] is not False
