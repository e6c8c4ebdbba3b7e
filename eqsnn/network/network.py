"""The :class:`Network`: populations, connections with delays, one step order.

Each population that receives connections runs its neuron model composed with
the synapse model of every incoming connection (:mod:`eqsnn.network.compose`)
in an ordinary :class:`~eqsnn.Simulator`; the network moves spikes between
them on the host.  At step k (``docs/network.md``, "The step"):

1. each connection sums, from 0 in the model precision, the weights of the
   spikes that arrive in this step (emitted at step k - d), in (emission step,
   pre, row) order, and its ``on_spike`` runs once with that sum;
2. postsynaptic outputs, computed from the target's start-of-step state, are
   added to the target's input after the user's own input, in connection order;
3. the postsynaptic dynamics advance;
4. the neurons step;
5. this step's spikes are queued for step k + d.

Since every delay is at least ``d_min`` steps, the arrivals of a window of
``d_min`` steps are all known at its start: the network sums them for the
whole window, runs every population for the window (one backend call each),
and collects their spikes.  A delay of d steps is GeNN's
``axonal_delay_steps = d - 1`` and Brian2's ``delay = (d - 1) dt``.
"""

from __future__ import annotations

import numbers
import time
import types
from collections.abc import Mapping

import numpy as np

from .. import ir
from ..errors import BackendError, EqsnnError, ParameterError, ShapeError
from ..initializers import Initializer
from ..runtime.inputs import prepare_inputs, prepare_record, unknown_name
from ..runtime.result import Result, Spikes, Timing
from ..runtime.simulator import Simulator
from ..runtime.spike_bits import SpikeBits
from . import compose
from .connectivity import Connectivity, Dense

__all__ = ["Connection", "Network", "NetworkResult", "Population"]

#: backends that run networks today; the others say "not yet"
NETWORK_BACKENDS = ("numpy", "c")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _key(seed: int, *words: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32, *words])


class Population:
    """A population of a neuron model (or a spike source) in a :class:`Network`."""

    def __init__(self, network, name, model, n, params, init, spikes=None):
        self.network, self.name, self.n = network, name, n
        self.params, self.init = dict(params or {}), dict(init or {})
        self._spike_source = spikes  # (step, neuron) arrays, sorted, for a spike source
        self._model = model
        self.incoming: list[Connection] = []
        self._sim: Simulator | None = None
        if spikes is None:
            self.ir, self._build = _resolve(model, n, network)
        else:
            self.ir, self._build = None, None

    @property
    def is_source(self) -> bool:
        return self._spike_source is not None

    @property
    def spiking(self) -> bool:
        return self.is_source or self.ir.spiking

    def __repr__(self) -> str:
        kind = "spike source" if self.is_source else self.ir.name
        return f"<Population {self.name!r}: {self.n} x {kind}>"


class Connection:
    """Synapses from ``source`` to ``target`` through a synapse model into ``target_input``.

    ``pre``, ``post`` and :attr:`weights` / :attr:`delays` are per synapse in CSR order
    (see :mod:`eqsnn.network.connectivity`).  Weights can be read and set between runs.
    """

    def __init__(self, network, name, source, target, synapse_model, synapse_params,
                 synapse_init, target_input, pre, post, weights, delays):
        self.network, self.name = network, name
        self.source, self.target = source, target
        self.synapse_model, self.synapse_params = synapse_model, synapse_params
        self.synapse_init = synapse_init
        self.target_input = target_input
        self.pre, self.post = pre, post
        self.pre.flags.writeable = False
        self.post.flags.writeable = False
        self._weights = weights
        self._delays = delays
        if self.pre.size:
            self._delay_range = (int(np.min(delays)), int(np.max(delays)))
        else:
            self._delay_range = (1, 1)
        counts = np.bincount(pre, minlength=source.n)
        self._indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    @property
    def n_synapses(self) -> int:
        return int(self.pre.size)

    @property
    def weights(self) -> np.ndarray:
        """A copy of the weights, one per synapse, in the model precision."""
        return self._weights.copy()

    @weights.setter
    def weights(self, value) -> None:
        if isinstance(value, Initializer):
            raise ParameterError(
                f"connection {self.name!r}: weights are set from arrays between runs",
                hint="sample the values yourself (one per synapse), or give the initializer "
                "to Network.connect")
        self._weights = _per_synapse(f"connection {self.name!r} weights", value, self,
                                     self.network.precision, None)

    @property
    def delays(self) -> np.ndarray:
        """The delays in steps, one per synapse (read only)."""
        out = np.broadcast_to(self._delays, self.pre.shape).copy()
        out.flags.writeable = False
        return out

    @property
    def state(self) -> Mapping[str, np.ndarray]:
        """The synapse model's state per target neuron: name -> ``(batch, n_target)``."""
        sim = self.network._built_sim(self.target)
        pre = compose.prefix(self.name)
        return types.MappingProxyType(
            {s.name: sim.state[pre + s.name] for s in self.synapse_model.states})

    def __repr__(self) -> str:
        return (f"<Connection {self.name!r}: {self.source.name} -> {self.target.name}."
                f"{self.target_input}, {self.synapse_model.name}, {self.n_synapses} synapses>")


class NetworkResult(Mapping):
    """Population or connection name -> :class:`~eqsnn.Result` of one run.

    A connection's result holds the synapse states it recorded (no spikes).
    """

    def __init__(self, results: dict, timing: Timing):
        self._results = results
        self.timing = timing

    def __getitem__(self, name):
        return self._results[name]

    def __iter__(self):
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)


class Network:
    """Populations connected by synapses with delays, run on ``numpy`` or ``c``.

    ``dt`` is the time step, ``batch_size`` the number of lanes (all lanes share
    connectivity and weights), ``seed`` the key from which every population's
    random draws and every connection's connectivity are derived.
    """

    def __init__(self, *, dt=1.0, batch_size=1, backend="numpy", precision="float32", seed=0,
                 fast_math=False):
        from ..runtime import simulator as sim_module  # the Simulator's argument checks
        self.dt = sim_module._time_step(dt)
        self.batch_size = sim_module._positive_int("batch_size", batch_size)
        self.precision = sim_module._precision(precision)
        self.seed = sim_module._seed(seed)
        if backend not in NETWORK_BACKENDS:
            from ..backends import get_backend
            get_backend(backend)  # an unknown name gets the usual error
            raise BackendError(
                f"networks do not run on the {backend} backend yet",
                hint=f"use one of: {', '.join(NETWORK_BACKENDS)} (networks on cupy and pygenn "
                "come with GPU support for networks)")
        self.backend = backend
        self.fast_math = bool(fast_math)
        self.populations: dict[str, Population] = {}
        self.connections: dict[str, Connection] = {}
        self._built = False
        self._step = 0
        self._history: dict[str, tuple] = {}

    # --- building ------------------------------------------------------------
    def _check_open(self):
        if self._built:
            raise ParameterError("the network has been built (it ran or its state was read)",
                                 hint="add every population and connection before the first "
                                 "run; build a new Network to change its structure")

    def _new_name(self, name, default):
        if name is None:
            name = default
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_") \
                or "__" in name:
            raise ParameterError(f"name must be an identifier without '__' and not starting "
                                 f"with '_', not {name!r}")
        if name in self.populations or name in self.connections:
            raise ParameterError(f"the network already has a population or connection named "
                                 f"{name!r}", hint="give each one its own name")
        return name

    def add_population(self, name, model, n, *, params=None, init=None) -> Population:
        """``n`` neurons of ``model`` (an eqsnn.Model or a standard-library neuron)."""
        self._check_open()
        name = self._new_name(name, None)
        if not _is_int(n) or n < 1:
            raise ParameterError(f"population {name!r}: n must be a positive integer, not {n!r}")
        pop = Population(self, name, model, int(n), params, init)
        if pop.ir.arrays and pop._build is not None and pop._build.input_name is not None:
            raise ParameterError(
                f"population {name!r}: {pop.ir.name} reads its spike times from a data input, "
                "which a network does not cut into windows",
                hint="give the spike trains with Network.add_spike_source(name, n, "
                "times=..., neurons=...)")
        self.populations[name] = pop
        return pop

    def add_spike_source(self, name, n, *, steps=None, neurons=None, times=None) -> Population:
        """``n`` neurons that spike when told: at ``steps`` (step indices counted from the
        last reset) or at ``times`` (ms; a spike at time s comes at the first step k with
        k dt >= s), for the neurons ``neurons``.  Every lane gets the same spikes; a neuron
        spikes at most once per step."""
        self._check_open()
        name = self._new_name(name, None)
        if not _is_int(n) or n < 1:
            raise ParameterError(f"population {name!r}: n must be a positive integer, not {n!r}")
        if (steps is None) == (times is None) or neurons is None:
            raise ParameterError(f"spike source {name!r}: give neurons and either steps or "
                                 "times", hint="e.g. steps=[0, 5], neurons=[3, 3]")
        ids = np.asarray(neurons)
        if times is not None:
            t = np.asarray(times, dtype=np.float64)
            if not np.all(np.isfinite(t)) or (t < 0).any():
                raise ParameterError(f"spike source {name!r}: times must be finite and >= 0")
            at = np.ceil(t / self.dt - 1e-9).astype(np.int64)
        else:
            at = np.asarray(steps)
            if at.size and at.dtype.kind not in "iu":
                raise ParameterError(f"spike source {name!r}: steps must be integers")
        if at.ndim != 1 or ids.ndim != 1 or at.shape != ids.shape or (
                ids.size and ids.dtype.kind not in "iu"):
            raise ShapeError(f"spike source {name!r}: steps/times and neurons must be 1-D "
                             f"of the same length, not {at.shape} and {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= n or at.min() < 0):
            raise ParameterError(f"spike source {name!r}: a neuron id outside 0..{n - 1} or a "
                                 "negative step")
        order = np.lexsort((ids, at))
        at, ids = at[order].astype(np.int64), ids[order].astype(np.int64)
        if at.size > 1 and ((np.diff(at) == 0) & (np.diff(ids) == 0)).any():
            raise ParameterError(f"spike source {name!r}: a neuron spikes twice in one step",
                                 hint="a neuron spikes at most once per step")
        pop = Population(self, name, None, int(n), None, None, spikes=(at, ids))
        self.populations[name] = pop
        return pop

    def connect(self, source, target, synapse, *, connectivity=None, weight=1.0, delay=1,
                target_input="Isyn", name=None, synapse_params=None,
                synapse_init=None) -> Connection:
        """Synapses from ``source`` to ``target`` (populations or their names).

        ``synapse`` is a standard-library synapse (``Exponential(5.0)``) or a compiled
        synapse model (then ``synapse_params``/``synapse_init`` give its values);
        ``connectivity`` one of :mod:`eqsnn.network.connectivity` (default Dense);
        ``weight`` a scalar, an array with one value per synapse (for Dense also
        ``(n_source, n_target)``; for FromList in the list's order) or an Initializer;
        ``delay`` whole steps >= 1 as a scalar, an array or an Initializer (its draws
        rounded to whole steps).
        """
        self._check_open()
        source, target = self._population(source), self._population(target)
        name = self._new_name(name, f"c{len(self.connections)}")
        if target.is_source:
            raise ParameterError(f"connection {name!r}: target {target.name!r} is a spike "
                                 "source and receives no input")
        if not source.spiking:
            raise ParameterError(f"connection {name!r}: source {source.name!r} ({source.ir.name})"
                                 " has no threshold and never spikes")
        model, params, init = _synapse(name, synapse, synapse_params, synapse_init)
        declared = {i.name: i for i in target.ir.inputs}
        if target_input not in declared:
            raise unknown_name("input", target_input, declared)
        if declared[target_input].dtype != "float":
            raise ParameterError(f"connection {name!r}: input {target_input!r} of "
                                 f"{target.ir.name} is not a float input")
        if target._build is not None and target._build.input_name is not None:
            raise ParameterError(f"connection {name!r}: {target.ir.name} takes a data input "
                                 "and cannot be a connection's target")
        # the composed model must be valid before anything is stored
        incoming = [compose.Incoming(c.name, c.synapse_model, c.target_input)
                    for c in target.incoming]
        compose.compose(target.ir, (*incoming, compose.Incoming(name, model,
                                                                 target_input)))
        connectivity = Dense() if connectivity is None else connectivity
        if not isinstance(connectivity, Connectivity):
            raise ParameterError(f"connection {name!r}: connectivity must be Dense(), "
                                 f"FixedProbability(p), ..., not {connectivity!r}")
        index = len(self.connections)
        rng = np.random.Generator(np.random.PCG64(_key(self.seed, 1, index)))
        pre, post, order = connectivity.build(source.n, target.n, source is target, rng)
        shell = types.SimpleNamespace(pre=pre, post=post, order=order, source=source,
                                      target=target, rng=rng)
        weights = _per_synapse(f"connection {name!r} weight", weight, shell, self.precision,
                               order)
        delays = _delays(f"connection {name!r} delay", delay, shell, order)
        conn = Connection(self, name, source, target, model, params, init, target_input,
                          pre, post, weights, delays)
        self.connections[name] = conn
        target.incoming.append(conn)
        return conn

    def _population(self, pop) -> Population:
        if isinstance(pop, Population) and pop.network is self:
            return pop
        if isinstance(pop, str) and pop in self.populations:
            return self.populations[pop]
        raise unknown_name("population", pop, self.populations)

    def _build_all(self):
        if self._built:
            return
        for index, pop in enumerate(self.populations.values()):
            if pop.is_source:
                continue
            seed = int(_key(self.seed, 0, index).generate_state(1, np.uint64)[0])
            incoming = tuple(compose.Incoming(c.name, c.synapse_model, c.target_input)
                             for c in pop.incoming)
            params, init = dict(pop.params), dict(pop.init)
            if pop._build is not None and incoming:
                # the standard-library neuron again, with the population's own seed
                build = pop._model.build(shape=(pop.n,), batch_size=self.batch_size,
                                         dt=self.dt, seed=seed)
                params = {**build.arrays, **build.params, **params}
                init = {**build.init, **init}
            for conn in pop.incoming:
                pre = compose.prefix(conn.name)
                params.update({pre + k: v for k, v in conn.synapse_params.items()})
                init.update({pre + k: v for k, v in conn.synapse_init.items()})
            model = compose.compose(pop.ir, incoming) if incoming else (
                pop._model if pop._build is not None else pop.ir)
            pop._sim = Simulator(model, pop.n, batch_size=self.batch_size, dt=self.dt,
                                 backend=self.backend, precision=self.precision, params=params,
                                 init=init, seed=seed, fast_math=self.fast_math)
        self._d_min = min((int(np.min(c._delays)) for c in self.connections.values()
                           if c.n_synapses), default=None)
        self._d_max = max((int(np.max(c._delays)) for c in self.connections.values()
                           if c.n_synapses), default=0)
        self._clear_history()
        self._built = True

    def build(self) -> None:
        """Compile and allocate every population now (the first run does it otherwise)."""
        self._build_all()

    def _built_sim(self, pop) -> Simulator:
        self._build_all()
        return pop._sim

    def _clear_history(self):
        empty = np.zeros(0, np.int64)
        self._history = {name: (empty, empty, empty) for name in self.populations}

    # --- running --------------------------------------------------------------
    def run(self, steps, inputs=None, record=None) -> NetworkResult:
        """Advance every population ``steps`` steps; see the module doc for the step.

        ``inputs`` maps a population name to its inputs as :meth:`Simulator.run` takes
        them; ``record`` maps a population name to the states (and ``"spikes"``) to
        record, as a list or as a mapping state -> neuron ids, and a connection name to
        the synapse states to record (every target neuron).
        """
        started = time.perf_counter()
        from ..runtime import simulator as sim_module
        steps = sim_module._count("steps", steps)
        self._build_all()
        inputs = _mapping("inputs", inputs)
        record = _mapping("record", record)
        plans, records = {}, {}
        for name, value in inputs.items():
            pop = self._population(name)
            if pop.is_source:
                raise ParameterError(f"spike source {name!r} takes no inputs")
            value = _mapping(f"inputs[{name!r}]", value)
            hidden = [k for k in value if "__" in str(k)]
            if hidden:
                raise unknown_name("input", hidden[0], {i.name for i in pop.ir.inputs})
            if pop._sim._build is not None and pop._sim._build.input_name is not None:
                plans[name] = self._data_input_plan(pop, value, steps)
                continue
            plans[name] = prepare_inputs(pop._sim.model, value, steps, self.batch_size,
                                         (pop.n,))
        for name, pop in self.populations.items():
            if not pop.is_source and name not in plans:
                build = pop._sim._build
                plans[name] = {} if build is not None and build.input_name is not None else (
                    prepare_inputs(pop._sim.model, {}, steps, self.batch_size, (pop.n,)))
        for name, value in record.items():
            records.update(self._record_plan(name, value))
        # --- valid: from here on the network changes ---------------------------
        window = steps if self._d_min is None else self._d_min
        k0, first = 0, self._step
        collected: dict[str, list] = {name: [] for name in records}
        spikes: dict[str, list] = {name: [] for name in self.populations}
        simulate = 0.0
        while k0 < steps:
            w = min(window, steps - k0)
            step0 = first + k0
            arrivals = self._arrivals(step0, w)
            new = {}
            for pname, pop in self.populations.items():
                if pop.is_source:
                    at, ids = pop._spike_source
                    lo, hi = np.searchsorted(at, [step0, step0 + w])
                    s_step = np.repeat(at[lo:hi], self.batch_size)
                    s_neuron = np.repeat(ids[lo:hi], self.batch_size)
                    s_batch = np.tile(np.arange(self.batch_size, dtype=np.int64), hi - lo)
                    order = np.lexsort((s_neuron, s_batch, s_step))
                    new[pname] = (s_step[order], s_batch[order], s_neuron[order])
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
                if _direct(sim):
                    # the Simulator's runner, with inputs checked once for the whole run
                    raw = sim._runner.run(w, step0, win_inputs, names,
                                          pop.spiking)
                    sim._step = step0 + w
                    got = {s: raw.vars[s] for s in names}
                    fired = (raw.spike_step, raw.spike_batch, raw.spike_neuron)
                else:
                    result = sim.run(w, inputs=win_inputs,
                                     record={**names, **({"spikes": None} if pop.spiking
                                                         else {})})
                    got = dict(result.vars)
                    sp = result.spikes
                    fired = (sp.step, sp.batch, sp.neuron) if pop.spiking else None
                simulate += time.perf_counter() - t0
                if pop.spiking:
                    new[pname] = (np.asarray(fired[0], np.int64) + step0,
                                  np.asarray(fired[1], np.int64),
                                  np.asarray(fired[2], np.int64))
                for key, state, _ in wanted:
                    collected[key].append((state, got[state].reshape(w, self.batch_size, -1)))
            for pname, chunk in new.items():
                spikes[pname].append(chunk)
            self._push_history(new, step0 + w)
            k0 += w
        self._step = first + steps
        return self._results(steps, first, records, collected, spikes, started, simulate)

    def _data_input_plan(self, pop, value, steps) -> dict:
        """A standard-library data input (ml_genn's shapes) is passed to every window as
        given, so it must be held over the run: checked here for each window length."""
        build = pop._sim._build
        window = steps if self._d_min is None else min(self._d_min, steps)
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
        prepare_inputs(pop._sim.model, others, steps, self.batch_size, (pop.n,))
        return {k: _Raw(v) for k, v in value.items()}

    def _record_plan(self, name, value):
        if isinstance(value, str):
            value = (value,)
        if name in self.connections:
            conn = self.connections[name]
            pre = compose.prefix(name)
            states = {s.name for s in conn.synapse_model.states}
            out = {}
            for state in value:
                if state not in states:
                    raise unknown_name("synapse state", state, states)
                out[pre + state] = None
            return {name: ("target", conn.target.name, out)}
        pop = self._population(name)
        if pop.is_source:
            if list(value) != ["spikes"]:
                raise ParameterError(f"spike source {name!r} records only 'spikes'")
            return {name: ("source", name, {})}
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
        """Keep the spikes that can still arrive: emitted at or after next_step - d_max."""
        for name, chunk in new.items():
            e, b, n = (np.concatenate(pair) for pair in zip(self._history[name], chunk))
            keep = e >= next_step - self._d_max
            self._history[name] = (e[keep], b[keep], n[keep])

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
                states, want = [], True
            for state in states:
                parts = [v for (s, v) in collected.get(name, []) if s == state]
                shown = state.split("__", 1)[-1]
                index = plan[2][state]
                width = pop.n if index is None else len(index)
                variables[shown] = (np.concatenate(parts) if parts else np.zeros(
                    (0, self.batch_size, width))).reshape(steps, self.batch_size, width)
            if want:
                chunks = spikes[pop.name]
                cat = [np.concatenate(part) if chunks else np.zeros(0, np.int64)
                       for part in zip(*chunks)] if chunks else [np.zeros(0, np.int64)] * 3
                e, b, n = cat
                bits = SpikeBits.empty(steps, self.batch_size, pop.n, False)
                bits.write_lists(e - first, b, n)
                spike_obj = Spikes(bits, self.dt, first, self.batch_size, (pop.n,))
            results[name] = Result(types.MappingProxyType(variables), spike_obj, None, timing,
                                   (pop.n,))
        return NetworkResult(results, timing)

    def reset(self) -> None:
        """Every population and synapse state back to its initial value, the step counter to
        0 and no spike in flight; weights and connectivity are kept."""
        if not self._built:
            return
        for pop in self.populations.values():
            if pop._sim is not None:
                pop._sim.reset()
        self._clear_history()
        self._step = 0

    # --- state ------------------------------------------------------------------
    @property
    def state(self) -> Mapping[str, Mapping[str, np.ndarray]]:
        """Population name -> its neuron states (read-only copies, ``(batch, n)``)."""
        self._build_all()
        out = {}
        for name, pop in self.populations.items():
            if pop.is_source:
                continue
            states = [s.name for s in pop.ir.states]
            out[name] = types.MappingProxyType({s: pop._sim.state[s] for s in states})
        return types.MappingProxyType(out)

    def set_state(self, population, name, value) -> None:
        """Write a neuron state of ``population`` (as :meth:`Simulator.set_state`)."""
        pop = self._population(population)
        if pop.is_source or name not in {s.name for s in pop.ir.states}:
            raise unknown_name("state", name, set() if pop.is_source else
                               {s.name for s in pop.ir.states})
        self._build_all()
        pop._sim.set_state(name, value)

    @property
    def step(self) -> int:
        return self._step

    @property
    def t(self) -> float:
        return self._step * self.dt

    def __repr__(self) -> str:
        return (f"<Network: {len(self.populations)} populations, {len(self.connections)} "
                f"connections, {self.backend} {self.precision}, step {self._step}>")


class _Raw:
    """A user's input passed through unchanged (a standard-library data input)."""

    def __init__(self, value):
        self.value = value


def _direct(sim) -> bool:
    """Whether the network may drive the Simulator's runner itself (a plain model: no
    readout, no run-time params, no standard-library data input), skipping the
    per-call checks that it made once for the whole run."""
    model = sim.model
    return model.readout is None and not model.runtime_params and sim._build is None


def _recorded(records, pname):
    """``(record key, state, neuron ids or None)`` for every state recorded from population
    ``pname``'s simulator (its own states and those of the connections into it)."""
    for key, plan in records.items():
        if plan[0] in ("population", "target") and plan[1] == pname:
            for state, index in plan[2].items():
                yield key, state, index


def _mapping(what, value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParameterError(f"{what} must be a mapping, not {type(value).__name__}")
    return dict(value)


def _resolve(model, n, network):
    from ..runtime.simulator import _resolve_model
    inner = getattr(model, "ir", model)
    if isinstance(inner, ir.Model) and inner.meta.get("kind") == "synapse":
        raise ParameterError(f"{inner.name} is a synapse model, not a neuron model",
                             hint="pass it to Network.connect as the synapse")
    return _resolve_model(model, (n,), network.batch_size, network.dt, network.seed)


def _synapse(name, synapse, params, init):
    if callable(getattr(synapse, "build", None)):
        if params or init:
            raise ParameterError(f"connection {name!r}: give a standard-library synapse's "
                                 "values to its constructor, not synapse_params")
        model, params = synapse.build()
        init = {}
    else:
        model = synapse
        params, init = dict(_mapping("synapse_params", params)), dict(
            _mapping("synapse_init", init))
    model_ir = getattr(model, "ir", model)
    if not isinstance(model_ir, ir.Model) or model_ir.meta.get("kind") != "synapse":
        raise ParameterError(
            f"connection {name!r}: expected a synapse model, got {type(model).__name__}",
            hint="write one starting with 'synapse NAME' and compile it, or use "
            "eqsnn.network.Exponential(...) and the other standard-library synapses")
    return model_ir, params, init


def _per_synapse(what, value, conn, precision, order):
    """Weights: a scalar, one per synapse, Dense's (n_pre, n_post), or an Initializer."""
    n = conn.pre.size
    if isinstance(value, Initializer):
        data = np.asarray(value.sample(conn.rng, n), np.float64)
    else:
        if isinstance(value, bool):
            raise ParameterError(f"{what} must be numbers, not {value!r}")
        try:
            data = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError(f"{what} must be numbers, not {value!r}") from None
        source, target = getattr(conn, "source", None), getattr(conn, "target", None)
        if data.ndim == 2 and source is not None and data.shape == (source.n, target.n):
            data = data[conn.pre, conn.post]
        elif data.ndim == 0:
            data = np.full(n, float(data))
        elif data.shape != (n,):
            raise ShapeError(f"{what} has shape {data.shape}; the connection has {n} synapses",
                             hint="give a scalar, one value per synapse (in the order of "
                             "Connection.pre/.post, or of the FromList), or for any "
                             "connectivity an (n_source, n_target) matrix")
        elif order is not None:
            data = data[order]
    if not np.all(np.isfinite(data)):
        raise ParameterError(f"{what} must be finite")
    return data.astype(precision)


def _delays(what, value, conn, order):
    if isinstance(value, Initializer):
        # drawn per synapse in CSR order and rounded to whole steps
        drawn = np.asarray(value.sample(conn.rng, conn.pre.size), np.float64)
        if not np.all(np.isfinite(drawn)):
            raise ParameterError(f"{what}: the initializer drew a value that is not finite")
        value, order = np.rint(drawn).astype(np.int64), None
    data = np.asarray(value)
    if data.dtype.kind not in "iu" or (data.ndim == 0 and isinstance(value, bool)):
        raise ParameterError(f"{what} must be whole steps (integers), not {value!r}",
                             hint="a delay of d steps delivers a spike of step k at step "
                             "k + d; convert times with round(delay / dt)")
    if data.ndim == 0:
        if data < 1:
            raise ParameterError(f"{what} must be at least 1 step, not {int(data)}",
                                 hint="a spike arrives in a later step than it is emitted")
        return np.asarray(int(data), np.int64)
    n = conn.pre.size
    if data.shape != (n,):
        raise ShapeError(f"{what} has shape {data.shape}; the connection has {n} synapses")
    if n and data.min() < 1:
        raise ParameterError(f"{what} must be at least 1 step; synapse "
                             f"{int(np.argmin(data))} has {int(data.min())}")
    data = data.astype(np.int64)
    return data[order] if order is not None else data
