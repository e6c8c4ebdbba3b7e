"""The numerical check's second pass for a network's run (``numpy``, ``c``, ``cupy``).

A Simulator tests a state that stays NaN or infinite once it is
(:func:`eqsnn.runtime.checks.sticky_states`) only at the end of a run, and runs
the run's steps again with every test where one is not finite, to find the
first failing step (``RunReports._second_pass``).  A network steps most of its
populations itself, interleaved with the spikes between them, so it cannot run
one population's steps again alone: :func:`second_pass` runs the whole run
again instead, from the snapshot taken before it (:mod:`eqsnn.network.rollback`).
The steps are deterministic (counter-based random draws, the same spikes in
flight, the same arrivals), so the second run gives the same states and spikes
and records each neuron's first failing step; the network then ends as after
the first run, holding the second run's records of the check.  A run in which
every such state stays finite costs nothing more, and each step of it tests
the other states as a Simulator's first pass does (on ``c``, the cheap test of
a tile); one in which one does not costs a second run.

The populations a network runs through their Simulator (those with a readout,
run-time params or a standard-library data input, in a windowed run) test
every state in every step (:func:`eqsnn.runtime.checks.check_every_step`).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..runtime.checks import CHECK_ALL, CHECK_CODE, CHECK_STEP, deferred_states
from ..runtime.reports import state_is_finite
from .parts import _direct
from .rollback import NetworkSnapshot

__all__ = ["second_pass", "stepped_by_network"]


def stepped_by_network(net, pop) -> bool:
    """Whether ``net`` steps ``pop`` itself (a fused run steps every population; a windowed
    run those it drives through their runner), so that no Simulator's second pass runs."""
    return net._fused is not None or _direct(pop._sim)


def _waiting(net) -> list:
    """The populations ``net`` steps itself whose tests of some states wait for a second
    pass (``_check_all`` 0)."""
    return [pop for pop in net.populations.values()
            if not pop.is_source and stepped_by_network(net, pop)
            and deferred_states(pop._sim._emitted)
            and pop._sim._values.get(CHECK_ALL) == 0]


def second_pass(net, before: NetworkSnapshot, run_again) -> None:
    """Where a state whose test waits for the second pass is not finite after the run, put
    ``net`` back to ``before``, call ``run_again()`` (the same run, recording nothing) with
    every test on, and end as after the first run with the records of the second."""
    pops = _waiting(net)
    if all(state_is_finite(pop._sim._runner, name)
           for pop in pops for name in deferred_states(pop._sim._emitted)):
        return
    after = NetworkSnapshot(net)
    before.restore()
    for pop in pops:
        pop._sim._runner.set_value(CHECK_ALL, np.int32(1))
    try:
        with warnings.catch_warnings():  # the first run said what there was to say
            warnings.simplefilter("ignore")
            run_again()
        records = [(pop._sim._runner, {name: pop._sim._runner.get_state(name)
                                       for name in (CHECK_STEP, CHECK_CODE)}) for pop in pops]
    finally:
        for pop in pops:
            pop._sim._runner.set_value(CHECK_ALL, pop._sim._values[CHECK_ALL])
        after.restore()
    for runner, states in records:
        for name, value in states.items():
            runner.set_state(name, value)
