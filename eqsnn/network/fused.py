"""A network's run on the ``c`` backend in one call: the fused run.

Where every population can be stepped by the network driver of
:mod:`eqsnn.backends.c_network`, a run is one call into C for all its steps:
each step runs every population's compiled step (the same code as a
Simulator's) and moves the step's spikes through a ring buffer per
connection, in the network's summation order, so the spikes and states are
those of the windowed run (:mod:`eqsnn.network.running`) bit for bit.

:func:`unfused_reason` says why a network cannot run fused; it then runs in
windows.  :class:`FusedRun` holds the rings (the spikes in flight, which
live between runs) and does the run; weights set between runs reach the
spikes in flight, as on numpy (:meth:`FusedRun.resum`).
"""

from __future__ import annotations

import ctypes
import time

import numpy as np

from ..backends import _compiled as shared
from ..backends import c_network
from ..backends.c import _LONG, _Input, _pointers, _Recorder, _RunArgs
from ..backends.c_run_loop import run_tile
from ..runtime.spike_bits import SpikeBits
from . import compose
from .parts import _recorded

__all__ = ["FusedRun", "unfused_reason"]

#: bytes the fused run's rings (``d_max + 1`` slots per connection) may take; beyond, the
#: network runs in windows, whose queues hold spikes, not slots
RING_MEMORY = 2**30


def unfused_reason(network) -> str | None:
    """Why ``network`` runs in windows rather than fused in C, or None when it runs fused."""
    from ..backends.c import CRunner
    if network.backend != "c":
        return f"the {network.backend} backend runs networks in windows"
    if not getattr(network, "_fuse", True):
        return "fusing is switched off for this network"
    if network._d_min is None:
        return "without synapses, each population runs its whole run in one call"
    for conn in network.connections.values():
        if conn._plastic is not None:
            return f"connection {conn.name!r} is plastic"
    ring = sum((network._d_max + 1) * (network.batch_size * conn.target.n
                                       * np.dtype(network.precision).itemsize
                                       + 8 * min(network.batch_size * conn.target.n,
                                                 c_network.TOUCHED_CAPACITY) + 8
                                       + network.batch_size * _words(conn.source.n) * 4)
               for conn in network.connections.values())  # the rings and the spikes kept
    if ring > RING_MEMORY:
        return (f"the rings of spikes in flight for delays up to {network._d_max} steps "
                f"would take {ring / 2**30:.1f} GiB")
    for pop in network.populations.values():
        if pop.is_source:
            continue
        sim = pop._sim
        build = sim._build
        if sim.model.readout is not None or sim.model.runtime_params or (
                build is not None and build.input_name is not None):
            return (f"population {pop.name!r} has a readout, run-time params or a "
                    "standard-library data input")
        if sim.model.signed:
            return f"population {pop.name!r} spikes with a negative threshold too"
        if not isinstance(sim._runner, CRunner):
            return f"population {pop.name!r} does not run on the c library"
    return None


def _words(n: int) -> int:
    """32-bit words of a row of spike bits of ``n`` neurons (as the driver lays them out)."""
    return SpikeBits.empty(1, 1, n, False).planes.shape[-1]


class FusedRun:
    """The fused run's state: a ring buffer of summed arrivals per connection, and the
    spikes of the last ``d_max`` steps of every population that is a connection's source
    (``history``: a slot of bits per step), from which :meth:`resum` sums the spikes in
    flight again with weights set between runs."""

    def __init__(self, network):
        self.network = network
        batch, precision = network.batch_size, network.precision
        slots = network._d_max + 1
        self.run_fn = c_network.load(precision)
        self.rings = {name: np.zeros((slots, batch, conn.target.n), precision)
                      for name, conn in network.connections.items()}
        self.touched = {name: np.zeros((slots, min(batch * conn.target.n,
                                                   c_network.TOUCHED_CAPACITY)), np.int64)
                        for name, conn in network.connections.items()}
        self.n_touched = {name: np.zeros(slots, np.int64) for name in network.connections}
        self.post = {name: np.ascontiguousarray(conn.post, np.int64)
                     for name, conn in network.connections.items()}
        # the weights the rings' spikes in flight were summed with (added when sent)
        self.weights = {name: conn._weights for name, conn in network.connections.items()}
        sources = {conn.source.name for conn in network.connections.values()}
        self.history = {name: np.zeros((max(network._d_max, 1), batch, _words(pop.n)),
                                       np.uint32)
                        for name, pop in network.populations.items() if name in sources}

    def resum(self, step: int) -> None:
        """Before a run from ``step``: where a connection's weights were set while spikes
        sent with the old ones are in flight (in its ring), sum those spikes again with the
        weights they find now, as a spike delivers the weight it finds when it arrives on
        numpy (and in Brian2).  The spikes come from the history in (emission step, lane,
        pre, row) order and are summed from 0 in the precision, the order in which the
        driver adds them, so the slots are those the driver would have made with these
        weights, bit for bit."""
        for name, conn in self.network.connections.items():
            if conn._weights is self.weights[name] or not self.n_touched[name].any() \
                    or np.array_equal(conn._weights, self.weights[name]):
                continue
            ring, history = self.rings[name], self.history[conn.source.name]
            d_max = conn._delay_range[1]
            slot, lane, post, syn = [], [], [], []
            for sent in range(max(0, step - d_max), step):
                bits = np.unpackbits(history[sent % history.shape[0]].view(np.uint8),
                                     axis=-1, bitorder="little")
                lanes, pre = np.nonzero(bits)  # lanes apart, pre ascending
                starts = conn._indptr[pre]
                counts = conn._indptr[pre + 1] - starts
                rows = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(
                    int(counts.sum()))
                arrive = sent + (np.full(rows.shape, int(conn._delays))
                                 if conn._delays.ndim == 0 else conn._delays[rows])
                keep = arrive >= step  # not read yet: in flight
                slot.append(arrive[keep] % ring.shape[0])
                lane.append(np.repeat(lanes, counts)[keep])
                post.append(conn.post[rows[keep]])
                syn.append(rows[keep])
            flight = (step + np.arange(d_max)) % ring.shape[0]
            ring[flight] = 0
            if slot:
                np.add.at(ring, (np.concatenate(slot), np.concatenate(lane),
                                 np.concatenate(post)),
                          np.asarray(conn._weights, ring.dtype)[np.concatenate(syn)])
            self.n_touched[name][flight] = self.touched[name].shape[1] + 1  # zero them whole
            self.weights[name] = conn._weights

    def clear(self) -> None:
        for name, ring in self.rings.items():
            ring.fill(0)
            self.n_touched[name].fill(0)
        for bits in self.history.values():
            bits.fill(0)

    def run(self, steps, first, plans, records):
        """Run ``steps`` steps from network step ``first``; returns ``(collected, spikes,
        seconds in C)`` for :meth:`WindowedRun._results`."""
        net = self.network
        batch = net.batch_size
        names = list(net.populations)
        conn_index = {name: k for k, name in enumerate(net.connections)}
        keep, pops = [], (c_network.NetPop * len(names))()
        collected, spikes, outputs = {key: [] for key in records}, {}, {}
        for p, pname in enumerate(names):
            pop = net.populations[pname]
            want = any(plan[0] in ("population", "source") and plan[1] == pname and (
                plan[3] is not False) for plan in records.values())
            bits = SpikeBits.empty(steps, batch, pop.n, False) if want else None
            words = SpikeBits.empty(1, 1, pop.n, False).planes.shape[-1]
            scratch = np.zeros(batch * words + 8, np.uint32)  # 8: room to misalign
            keep.append(scratch)
            spikes[pname] = bits
            desc = pops[p]
            misaligned = (-scratch.ctypes.data // 4) % 4 + 1  # words to 4 bytes past 16
            desc.words, desc.scratch = words, scratch.ctypes.data + 4 * misaligned
            desc.spikes_out = bits.planes.ctypes.data if bits is not None else None
            if pname in self.history:
                desc.history = self.history[pname].ctypes.data
                desc.history_slots = self.history[pname].shape[0]
            if pop.is_source:
                at, ids = pop._spike_source
                desc.src_steps, desc.src_ids = at.ctypes.data, ids.ctypes.data
                desc.src_count = at.size
                desc.src_pos = int(np.searchsorted(at, first))
                continue
            outputs[pname] = self._population(desc, pop, plans.get(pname, {}), steps,
                                              conn_index, records, keep)
        conns = (c_network.NetConn * max(1, len(net.connections)))()
        for c, (name, conn) in enumerate(net.connections.items()):
            weights = np.ascontiguousarray(conn._weights, net.precision)
            keep.append(weights)
            per_synapse = conn._delays.ndim > 0
            delays = np.ascontiguousarray(conn._delays, np.int64) if per_synapse else None
            keep.append(delays)
            ring = self.rings[name]
            conns[c] = c_network.NetConn(
                names.index(conn.source.name), conn.target.n, conn._indptr.ctypes.data,
                self.post[name].ctypes.data, weights.ctypes.data,
                delays.ctypes.data if per_synapse else None,
                0 if per_synapse else int(conn._delays), ring.ctypes.data, ring.shape[0],
                self.touched[name].ctypes.data, self.n_touched[name].ctypes.data,
                self.touched[name].shape[1])
        self.resum(first)
        t0 = time.perf_counter()
        if steps and self.run_fn(pops, len(names), conns, len(net.connections), steps, first,
                                 batch) != 0:
            from ..errors import BackendError
            raise BackendError("eqsnn_run rejected its arguments (a bug in eqsnn)")
        simulate = time.perf_counter() - t0
        self.weights = {name: conn._weights for name, conn in net.connections.items()}
        for pname, (plans_of, outs) in outputs.items() if steps else ():
            for key, state, _ in _recorded(records, pname):
                value = plans_of[state].result(outs[state])
                collected[key].append((state, value.reshape(steps, batch, -1)))
        for pname in names:
            pop = net.populations[pname]
            if not pop.is_source:
                pop._sim._step = first + steps
        return collected, spikes, simulate

    def _population(self, desc, pop, plan, steps, conn_index, records, keep):
        """Fill ``desc`` for a neuron population: its run arguments for one step, its
        inputs (the user's, and the rings of the connections into it) and recorders."""
        net, runner = self.network, pop._sim._runner
        batch, layout = net.batch_size, runner.layout
        from ..backends import numpy_dtype
        wanted = {state: index for _, state, index in _recorded(records, pop.name)}
        n_in = len(layout.inputs)
        inputs0, inputs = (_Input * max(1, n_in))(), (_Input * max(1, n_in))()
        step_bytes, feeds = (_LONG * max(1, n_in))(), (_LONG * max(1, n_in))()
        ring_inputs = {compose.prefix(c.name) + "w": c.name for c in pop.incoming}
        for k, (name, dtype) in enumerate(layout.inputs):
            if name in ring_inputs:
                conn = ring_inputs[name]
                ring = self.rings[conn]
                inputs0[k] = _Input(ring.ctypes.data, 0, pop.n, 1)
                step_bytes[k], feeds[k] = 0, conn_index[conn]
                continue
            value = np.asarray(plan[name], numpy_dtype(dtype, runner.precision))
            shared.check_input_shape(value.shape, name, steps, batch, pop.n)
            value, strides = shared.input_strides(value, name)
            if strides[0] == 0 and strides[2] != 1 and pop.n > 1:
                # one row for every step, not contiguous along neurons: contiguous here, so
                # that no step (each a call) copies it into the tile again
                value, strides = shared.input_strides(np.ascontiguousarray(
                    np.broadcast_to(value, (1, batch, pop.n))), name)
            keep.append(value)
            inputs0[k] = _Input(value.ctypes.data, *strides)
            step_bytes[k], feeds[k] = strides[0] * value.itemsize, -1
        n_st = len(layout.states)
        recorders0, recorders = (_Recorder * max(1, n_st))(), (_Recorder * max(1, n_st))()
        record_bytes = (_LONG * max(1, n_st))()
        plans_of, outs = {}, {}
        for k, (name, _) in enumerate(layout.states):
            if name not in wanted:
                continue
            plans_of[name] = rec = shared.record_plan(wanted[name], pop.n)
            out = np.empty((steps, batch, rec.width), runner.states[name].dtype)
            outs[name] = out
            keep.append(rec.index)
            recorders0[k] = _Recorder(out.ctypes.data, None if rec.index is None else
                                      rec.index.ctypes.data, rec.width)
            record_bytes[k] = batch * rec.width * out.itemsize
        values = _pointers([runner.values[name] for name, _, _ in layout.values])
        arrays = [runner.arrays[name] for name, _ in layout.arrays]
        lengths = (_LONG * max(1, len(arrays)))(*(len(a) for a in arrays))
        array_pointers = _pointers(arrays)
        threads = int(runner.threads) if batch * pop.n >= c_network.PARALLEL_NEURONS else 1
        args = _RunArgs(
            batch, pop.n, 1, 0, run_tile(runner.program.tile, pop.n, batch, threads), runner.dt,
            runner.seed & 0xFFFFFFFF, (runner.seed >> 32) & 0xFFFFFFFF, threads,
            ctypes.cast(runner._state_pointers, ctypes.c_void_p),
            ctypes.cast(values, ctypes.c_void_p), ctypes.cast(array_pointers, ctypes.c_void_p),
            ctypes.cast(lengths, ctypes.c_void_p), ctypes.cast(inputs, ctypes.c_void_p),
            ctypes.cast(recorders, ctypes.c_void_p), None, None)
        keep += [inputs0, inputs, step_bytes, feeds, recorders0, recorders, record_bytes,
                 values, arrays, lengths, array_pointers, args]
        desc.run = ctypes.cast(runner.program.library.eqsnn_run, ctypes.c_void_p).value
        desc.args = ctypes.addressof(args)
        desc.n_inputs, desc.n_states = n_in, n_st
        desc.inputs0, desc.inputs = ctypes.addressof(inputs0), ctypes.addressof(inputs)
        desc.input_step_bytes, desc.input_conn = (ctypes.addressof(step_bytes),
                                                  ctypes.addressof(feeds))
        desc.recorders0, desc.recorders = (ctypes.addressof(recorders0),
                                           ctypes.addressof(recorders))
        desc.record_step_bytes = ctypes.addressof(record_bytes)
        return plans_of, outs
