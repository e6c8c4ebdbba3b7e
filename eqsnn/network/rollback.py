"""A network's run that does not finish is rolled back, as a Simulator's is.

A run that raises before it returns (Ctrl-C, a ``MemoryError``, any error of a
backend) would leave some populations advanced by a few windows, spikes of
those windows queued and the step counter where it was.  On ``numpy``, ``c`` and
``cupy`` :class:`NetworkSnapshot` takes, before the first step, a copy of every
population's states (the synapse states and the numerical check's record
among them), the spikes in flight (the windowed run's queues, the fused run's
rings and the spikes it keeps, cupy's rings on the device) and every plastic
connection's states, and
puts them back, so the next run continues as if the failed one had never
started.  On ``pygenn`` GeNN's
spike queues cannot be put back: the network is marked, and every later run
asks for ``reset()``.
"""

from __future__ import annotations

from ..errors import ParameterError
from ..runtime.guard import Snapshot

__all__ = ["NetworkSnapshot", "check_not_interrupted", "weights_in_flight"]


class NetworkSnapshot:
    """What a run of ``net`` may change, to put back with :meth:`restore`."""

    def __init__(self, net):
        self.net = net
        self.history = dict(net._history)  # tuples of arrays that runs replace, not change
        self.pops = []
        for pop in net.populations.values():
            sim = pop._sim
            if sim is not None and net._genn is None:  # GeNN's states: see check_not_...
                self.pops.append((sim, sim._step, Snapshot(
                    sim._runner, [s.name for s in sim._emitted.states])))
        self.plastic = [(conn._plastic, {k: v.copy() for k, v in conn._plastic.state.items()},
                         conn._plastic.step, conn._plastic.failure)
                        for conn in net.connections.values() if conn._plastic is not None]
        device = net._device  # cupy's rings of spikes in flight
        self.device = None if device is None else (device, device.snapshot())
        fused = net._fused
        self.rings = None if fused is None else (
            {k: v.copy() for k, v in fused.rings.items()},
            {k: v.copy() for k, v in fused.touched.items()},
            {k: v.copy() for k, v in fused.n_touched.items()},
            {k: v.copy() for k, v in fused.history.items()}, dict(fused.weights))

    def restore(self) -> None:
        net = self.net
        for sim, step, snapshot in self.pops:
            snapshot.restore()
            sim._step = step
        for plastic, state, step, failure in self.plastic:  # copies: it may be put back again
            plastic.state = {k: v.copy() for k, v in state.items()}
            plastic.step, plastic.failure = step, failure
        if self.rings is not None:
            for saved, live in zip(self.rings, (net._fused.rings, net._fused.touched,
                                                net._fused.n_touched, net._fused.history)):
                for name, value in saved.items():
                    live[name][...] = value
            net._fused.weights = dict(self.rings[4])
        if self.device is not None:
            self.device[0].restore(self.device[1])
        net._history = dict(self.history)  # a run replaces its entries: this one stays


def check_not_interrupted(net) -> None:
    """Refuse to go on with a pygenn network whose last run did not finish."""
    if getattr(net, "_interrupted", False):
        raise ParameterError(
            "the network's last run (or reset) on pygenn did not finish, and GeNN's spikes "
            "in flight cannot be put back as they were before it",
            hint="call net.reset() (states, spikes in flight and the step back to their "
            "initial values; weights kept) before running or reading it again")


def weights_in_flight(net) -> None:
    """Refuse a run where a connection's weights were set while spikes sent with the old
    weights are in flight, on a backend that adds a spike's weight when it is sent (GeNN's
    dendritic delays, for per-synapse delays on ``pygenn``): on ``numpy`` and ``c`` (whose
    fused run sums the spikes in flight again, ``FusedRun.resum``), and for one delay on
    ``pygenn``, a spike delivers the weight it finds when it arrives."""
    changed = net._genn.changed_in_flight() if net._genn is not None else []
    if changed:
        conn = changed[0]
        raise ParameterError(
            f"connection {conn.name!r}: its weights were set while spikes sent with the old "
            f"weights are still in flight (delays up to {conn._delay_range[1]} steps); on "
            f"{net.backend} those spikes carry the weight they were sent with, on numpy the "
            "weight they find when they arrive, so nothing was run",
            hint="set the weights after net.reset(), or let the spikes in flight arrive "
            "before setting them")
