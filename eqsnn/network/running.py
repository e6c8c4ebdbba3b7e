"""Running a :class:`~eqsnn.network.Network` in windows of the smallest delay.

Every delay is at least ``d_min`` steps, so the arrivals of a window of
``d_min`` steps are all known at its start: :class:`WindowedRun` sums them
for the whole window (:meth:`~WindowedRun._arrivals`), runs every population
for the window, one backend call each, queues the window's spikes
(:meth:`~WindowedRun._push_history`) and gathers what was recorded
(:meth:`~WindowedRun._results`).  The step order is the network module's.
"""

from __future__ import annotations

import time
import types
from collections.abc import Mapping

import numpy as np

from ..errors import EqsnnError, NumericalError, ParameterError
from ..runtime.failures import raise_earliest
from ..runtime.inputs import _neuron_indices, prepare_inputs, prepare_record, unknown_name
from ..runtime.quantities import from_internal, to_internal
from ..runtime.result import Result, Spikes, Timing
from ..runtime.spike_bits import SpikeBits
from . import compose
from .keys import by_name, spikes_kept, whose
from .parts import NetworkResult, _direct, _mapping, _owner, _Raw, _recorded, _unit_of
from .plasticity import check_recording
from .rollback import NetworkSnapshot, check_not_interrupted, weights_in_flight
from .second_pass import second_pass
from .values import named

__all__ = ["WindowedRun"]

#: the most steps in one window (whose buffers are allocated whole): a long run of a network
#: without connections, or whose smallest delay is longer, runs in windows of this length
LONGEST_WINDOW = 1 << 16


def _recorded_plastic(records, name):
    """``(record key, state)`` for every plastic state recorded from connection ``name``."""
    plan = records.get(name)
    if plan is not None and plan[0] == "target":
        for state in plan[3]:
            yield name, state


class WindowedRun:
    """What :class:`~eqsnn.network.Network` does in ``run``: its arrivals, windows and
    results (a base class of the network, holding no state of its own)."""

    def _clear_history(self):
        empty = np.zeros(0, np.int64)
        self._history = {name: (empty, empty, empty) for name in self.populations}

    # --- running --------------------------------------------------------------
    def run(self, steps, inputs=None, record=None) -> NetworkResult:
        """Advance every population ``steps`` steps; see the module doc for the step.

        ``inputs`` maps a population name to its inputs as :meth:`Simulator.run` takes
        them; ``record`` maps a population name to the states (and ``"spikes"``) to
        record, as a list or as a mapping state -> neuron ids, and a connection name to
        the synapse states to record, the same way (ids of target neurons).
        """
        started = time.perf_counter()
        from ..runtime.arguments import count
        steps = count("steps", steps)
        self._build_all()
        check_not_interrupted(self)
        inputs = by_name(self, "inputs", _mapping("inputs", inputs))
        record = by_name(self, "record", _mapping("record", record))
        plans, records = {}, {}
        for name, value in inputs.items():
            pop = self._population(name)
            if pop.is_source:
                raise ParameterError(f"spike source {name!r} takes no inputs")
            try:
                plans[name] = self._input_plan(pop, value, steps)
            except EqsnnError as error:  # which population's input: named
                raise named(error, f"population {name!r}") from None
        for name, pop in self.populations.items():
            if not pop.is_source and name not in plans:
                build = pop._sim._build
                plans[name] = {} if build is not None and build.input_name is not None else (
                    prepare_inputs(pop._sim.model, {}, steps, self.batch_size, (pop.n,),
                                   self.precision))
        for name, value in record.items():
            try:
                records.update(self._record_plan(name, value))
            except EqsnnError as error:  # whose record: named, as an input's error is
                raise whose(self, name, error) from None
        check_recording(self, records, steps)
        weights_in_flight(self)
        # --- valid: from here on the network changes ---------------------------
        if self._genn is not None:  # pygenn: one GeNN model runs the whole network
            try:
                collected, fired, simulate = self._genn.run(steps, self._step, plans, records)
            except BaseException:  # GeNN's queues cannot be put back (rollback.py)
                self._interrupted = True
                raise
            first, self._step = self._step, self._step + steps
            result = self._results(steps, first, records, collected,
                                   {p: [fired[p]] if p in fired else []
                                    for p in self.populations}, started, simulate)
            # the populations' checks, then plastic states read back after the run: the
            # earliest failure is raised, every record cleared
            self._genn.report(result, [
                (None, lambda conn=conn: conn._plastic.check(result))
                for conn in self.connections.values() if conn._plastic is not None])
            return result
        snapshot = NetworkSnapshot(self)  # a run that does not finish is rolled back
        try:
            collected, spikes, simulate, plastic, failed = self._advance(steps, plans, records)
            second_pass(self, snapshot, lambda: self._advance(steps, plans, {}))
        except BaseException:
            snapshot.restore()
            raise
        first, self._step = self._step, self._step + steps
        result = self._results(steps, first, records, collected, spikes, started, simulate)
        return self._reported(result, plastic, failed)

    def _advance(self, steps, plans, records):
        """Run ``steps`` steps from ``self._step`` (which the caller advances); returns
        ``(collected, spikes, seconds simulated, plastic connections, failures)``."""
        if self._fused is not None:  # the whole run in one call into C (fused.py)
            collected, spikes, simulate = self._fused.run(steps, self._step, plans, records)
            return collected, spikes, simulate, (), None
        window = min(steps if self._d_min is None else self._d_min, LONGEST_WINDOW)
        plastic = [c for c in self.connections.values() if c._plastic is not None]
        if plastic:  # a weight may change in any step: one step per window (plasticity.py)
            window = 1
        device = self._device  # on cupy: arrivals summed on the GPU (backends/cupy_network)
        k0, first = 0, self._step
        collected: dict[str, list] = {name: [] for name in records}
        spikes: dict[str, list] = {name: [] for name in self.populations}
        simulate = 0.0
        failed: dict[str, NumericalError] = {}  # the first of a Simulator that raised
        while k0 < steps:
            w = min(window, steps - k0)
            step0 = first + k0
            arrivals = device.sum(step0, w) if device is not None else self._arrivals(step0, w)
            for conn in plastic:
                arrivals[conn.name] = conn._plastic.arrive(self._history[conn.source.name],
                                                           step0)
            new = {}
            for pname, pop in self.populations.items():
                if pop.is_source:
                    s_step, s_batch, s_neuron = pop.source_spikes(step0, w, self.batch_size)
                    order = np.lexsort((s_neuron, s_batch, s_step))
                    new[pname] = (s_step[order], s_batch[order], s_neuron[order])
                    if device is not None:
                        device.push_host(pname, step0, w, new[pname])
                    continue
                win_inputs = {}
                for iname, array in plans.get(pname, {}).items():
                    if isinstance(array, _Raw):  # a standard-library data input, held
                        win_inputs[iname] = array.value
                    else:
                        win_inputs[iname] = array if array.shape[0] == 1 else array[k0:k0 + w]
                for conn in pop.incoming:
                    win_inputs[compose.prefix(conn.name) + "w"] = arrivals[conn.name]
                wanted = list(_recorded(records, pname))
                names = {s: index for _, s, index in wanted}
                t0 = time.perf_counter()
                sim = pop._sim
                if direct := _direct(sim):
                    # the Simulator's runner, with inputs checked once for the whole run
                    # with arrivals on the device, spikes come back only where recorded
                    listed = pop.spiking and (device is None or spikes_kept(records, pname))
                    raw = sim._runner.run(w, step0, win_inputs, names, listed)
                    sim._step = step0 + w
                    got = {s: raw.vars[s] for s in names}
                    fired = (raw.spike_step, raw.spike_batch, raw.spike_neuron) if listed else None
                else:
                    sim._window = (steps, k0 == 0)  # a readout spans the network's run
                    try:
                        result = sim.run(w, inputs=win_inputs,
                                         record={**names, **({"spikes": None} if pop.spiking
                                                             else {})})
                    except NumericalError as error:  # raised after the run, as the others
                        failed.setdefault(pname, error)
                        result = error.result
                    finally:
                        sim._window = None
                    got = dict(result.vars)  # in declared units already (see _declared)
                    sp = result.spikes
                    fired = (sp.step, sp.batch, sp.neuron) if pop.spiking else None
                simulate += time.perf_counter() - t0
                if fired is not None:
                    new[pname] = (np.asarray(fired[0], np.int64) + step0,
                                  np.asarray(fired[1], np.int64),
                                  np.asarray(fired[2], np.int64))
                    if device is not None and not direct:  # its runner pushes none
                        device.push_host(pname, step0, w, new[pname])
                for key, state, _ in wanted:
                    collected[key].append((state, got[state].reshape(w, self.batch_size, -1)))
            for conn in plastic:
                fired = new.get(conn.target.name, (np.zeros(0, np.int64),) * 3)
                conn._plastic.after((fired[1], fired[2]))
                for key, state in _recorded_plastic(records, conn.name):
                    collected[key].append((state, conn._plastic.state[state][None].copy()))
            for pname, chunk in new.items():
                if spikes_kept(records, pname):  # a long run keeps only those recorded
                    spikes[pname].append(chunk)
            self._push_history(new, step0 + w)
            k0 += w
        return collected, spikes, simulate, plastic, failed

    def _reported(self, result, plastic=(), failed=None):
        """Raise the earliest failure of the numerical check of a population the network
        stepped itself (``Simulator.run`` reports its own) or of a plastic connection (a NaN
        or infinity in a plastic state), naming the population; every record is cleared.
        The network stays advanced, as a Simulator does."""
        reports = [(pop.name, lambda pop=pop: pop._sim._report(result))
                   for pop in self.populations.values()
                   if not pop.is_source and (self._fused is not None or _direct(pop._sim))]
        reports += [(None, lambda conn=conn: conn._plastic.check(result)) for conn in plastic]
        reports += [(name, lambda error=error: _raise(error, result))
                    for name, error in (failed or {}).items()]
        raise_earliest(reports)
        return result

    def _input_plan(self, pop, value, steps) -> dict:
        """The user's inputs of ``pop`` for a run of ``steps`` steps, checked."""
        value = _mapping("inputs", value)
        hidden = [k for k in value if "__" in str(k)]
        if hidden:
            raise unknown_name("input", hidden[0], {i.name for i in pop.ir.inputs})
        if pop._sim._build is not None and pop._sim._build.input_name is not None:
            return self._data_input_plan(pop, value, steps)
        if self._fused is not None or _direct(pop._sim):  # else Simulator.run converts
            value = {k: to_internal(pop._sim.model, "input", k, v) for k, v in value.items()}
        return prepare_inputs(pop._sim.model, value, steps, self.batch_size, (pop.n,),
                              self.precision)

    def _data_input_plan(self, pop, value, steps) -> dict:
        """A standard-library data input (ml_genn's shapes) is passed to every window as
        given, so it must be held over the run: checked here for each window length."""
        build = pop._sim._build
        window = min(steps if self._d_min is None else self._d_min, steps, LONGEST_WINDOW)
        if any(c._plastic is not None for c in self.connections.values()):
            window = min(1, steps)  # plastic connections: one step per window
        for length in {window, steps % window or window} if steps else ():
            for iname, raw in value.items():
                if iname == build.input_name:
                    try:
                        build.adapt_input(raw, steps=length, step0=self._step)
                    except EqsnnError as exc:
                        raise ParameterError(
                            f"population {pop.name!r}: data input {iname!r} must be held "
                            f"over the run in a network (the network runs it in windows of "
                            f"{window} steps): {exc.message}",
                            hint=exc.hint or "give a value held over the run") from None
        others = {k: v for k, v in value.items() if k != build.input_name}
        prepare_inputs(pop._sim.model, others, steps, self.batch_size, (pop.n,), self.precision)
        return {k: _Raw(v) for k, v in value.items()}

    def _record_plan(self, name, value):
        if isinstance(value, str):
            value = (value,)
        if name in self.connections:
            conn = self.connections[name]
            pre = compose.prefix(name)
            states = {s.name for s in conn.synapse_model.states}
            plastic = set() if conn._plastic is None else set(conn._plastic.state)
            out, own = {}, []
            ids = dict(value) if isinstance(value, Mapping) else {}
            for state in value:
                if state in plastic:
                    if ids.get(state) is not None:
                        raise ParameterError(
                            f"connection {name!r}: {state!r} is recorded whole (every "
                            "synapse or neuron)", hint=f"record={{{name!r}: [{state!r}]}}")
                    own.append(state)
                elif state not in states:
                    raise unknown_name("synapse state", state, states | plastic)
                else:  # the target neurons' ids checked as a population's
                    index = prepare_record(conn.synapse_model, {state: ids.get(state)},
                                           conn.target.n)[0][state]
                    out[pre + state] = index
            return {name: ("target", conn.target.name, out, own)}
        pop = self._population(name)
        if pop.is_source:
            if list(value) != ["spikes"]:
                raise ParameterError(f"spike source {name!r} records only 'spikes'")
            ids = value["spikes"] if isinstance(value, Mapping) else None
            return {name: ("source", name, {}, True if ids is None else
                           _neuron_indices("spikes", ids, pop.n))}
        visible = pop.ir.replace()  # the user's model: connection states stay hidden
        chosen, want_spikes = prepare_record(visible, value, pop.n)
        return {name: ("population", name, chosen, want_spikes)}

    def _arrivals(self, step0: int, w: int) -> dict:
        """Per connection: the summed weights arriving at steps step0 .. step0+w-1,
        ``(w, batch, n_target)`` in the model precision, summed from 0 in (emission step,
        pre, row) order."""
        out = {}
        batch = self.batch_size
        for conn in self.connections.values():
            if conn._plastic is not None:  # summed by Plastic.arrive, step by step
                continue
            n_post = conn.target.n
            buf = np.zeros(w * batch * n_post, self.precision)
            e, b, pre = self._history[conn.source.name]
            if e.size and conn.n_synapses:
                dmin, dmax = conn._delay_range
                lo, hi = np.searchsorted(e, [step0 - dmax, step0 + w - dmin])  # e is sorted
                e, b, pre = e[lo:hi], b[lo:hi], pre[lo:hi]
                if batch > 1:  # (emission step, pre); lanes never mix
                    order = np.lexsort((pre, e))
                    e, b, pre = e[order], b[order], pre[order]
                starts = conn._indptr[pre]
                counts = conn._indptr[pre + 1] - starts
                total = int(counts.sum())
                if total:
                    first = np.cumsum(counts) - counts
                    syn = np.repeat(starts - first, counts) + np.arange(total)
                    e_syn, b_syn = np.repeat(e, counts), np.repeat(b, counts)
                    delays = conn._delays if conn._delays.ndim == 0 else conn._delays[syn]
                    arrive = e_syn + delays - step0
                    if dmin != dmax:  # a homogeneous delay selected only arriving spikes
                        keep = (arrive >= 0) & (arrive < w)
                        syn, arrive, b_syn = syn[keep], arrive[keep], b_syn[keep]
                    flat = (arrive * batch + b_syn) * n_post + conn.post[syn]
                    np.add.at(buf, flat, conn._weights[syn])
            out[conn.name] = buf.reshape(w, batch, n_post)
        return out

    def _push_history(self, new, next_step):
        """Keep the spikes that can still arrive (emitted at or after next_step - d_max)."""
        for name, chunk in new.items() if self._device is None else ():  # else the device rings do
            e, b, n = (np.concatenate(pair) for pair in zip(self._history[name], chunk))
            keep = e >= next_step - self._d_max
            self._history[name] = (e[keep], b[keep], n[keep])

    def _declared(self, pop, state, value):
        """A recorded state in its declared unit, as a Simulator gives it: a neuron state of
        ``pop`` or, named ``<conn>__<state>``, a synapse state.  As for inputs (``run``),
        only where the network stepped the population itself: ``Simulator.run`` converts
        its own."""
        if self._fused is None and not _direct(pop._sim):
            return value
        model, name = _owner(self.connections, pop, state)
        return value if model is None else from_internal(model, name, value)

    def _results(self, steps, first, records, collected, spikes, started, simulate):
        timing = Timing(steps, time.perf_counter() - started, simulate)
        results = {}
        for name, plan in records.items():
            kind = plan[0]
            pop = self.populations[plan[1]]
            variables, spike_obj = {}, None
            if kind == "population":
                chosen, want = plan[2], plan[3]
                states = list(chosen)
            elif kind == "target":
                states = list(plan[2])
                want = False
            else:
                states, want = [], plan[3]
            if kind == "target":  # a plastic connection's own states, per synapse or neuron
                for state in plan[3]:
                    parts = [v for (s, v) in collected.get(name, []) if s == state]
                    width = self.connections[name]._plastic.state[state].shape[1]
                    variables[state] = (np.concatenate(parts) if parts else np.zeros(
                        (0, self.batch_size, width))).reshape(steps, self.batch_size, width)
            for state in states:
                parts = [v for (s, v) in collected.get(name, []) if s == state]
                shown = state.split("__", 1)[-1]
                index = plan[2][state]
                width = pop.n if index is None else len(index)
                variables[shown] = self._declared(pop, state, (np.concatenate(parts) if parts
                                                               else np.zeros((0, self.batch_size,
                                                                              width))).reshape(
                    steps, self.batch_size, width))
            # want: False, True (every neuron) or the ids whose spikes are kept
            if want is not False and isinstance(spikes[pop.name], SpikeBits):  # fused run's
                bits = spikes[pop.name]
            elif want is not False:
                chunks = spikes[pop.name]
                cat = [np.concatenate(part) if chunks else np.zeros(0, np.int64)
                       for part in zip(*chunks)] if chunks else [np.zeros(0, np.int64)] * 3
                e, b, n = cat
                bits = SpikeBits.empty(steps, self.batch_size, pop.n, False)
                bits.write_lists(e - first, b, n)
            if want is not False:
                if want is not True:
                    bits.keep_only(want)
                spike_obj = Spikes(bits, self.dt, first, self.batch_size, (pop.n,))
            readout = None
            if kind == "population" and getattr(pop._sim.model, "readout", None) is not None:
                readout = pop._sim.state[pop._sim.model.readout.state]  # the run's, at its end
            units = {s.split("__", 1)[-1]: _unit_of(self.connections, pop, s) for s in states}
            results[name] = Result(types.MappingProxyType(variables), spike_obj, readout, timing,
                                   (pop.n,), types.MappingProxyType({k: units.get(k) for k in
                                                                     variables}))
        return NetworkResult(results, timing)


def _raise(error: NumericalError, result):
    """Raise the error a population's Simulator raised in a window, with the network's
    ``result`` of the whole run."""
    error.result = result
    raise error
