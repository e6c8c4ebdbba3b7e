"""Plastic connections: per-lane synapse states and traces, run on the host step by step.

A connection with a weight-update model (:class:`eqsnn.ir.WeightUpdate`) keeps,
per batch lane, its per-synapse states (``w`` among them) ``(batch, n_synapses)``,
its pre traces ``(batch, n_source)`` and post traces ``(batch, n_target)``, in
the network's precision.  At step k (``docs/network.md``, "Plasticity"):

1. :meth:`Plastic.arrive` (before the populations step) finds the spikes that
   arrive in step k, in (emission step, pre, row) order per lane; sums each
   synapse's ``w`` as it is before ``on_pre`` into the target's summed input
   (part 1's step 1); runs ``on_pre`` on those synapses, then ``pre_spike`` on
   the presynaptic neurons whose spikes arrived;
2. the populations step (part 1's steps 2 to 4);
3. :meth:`Plastic.after` runs ``on_post`` on the synapses of every target that
   spiked in step k, then ``post_spike`` on those targets, then advances every
   pre and post trace by one step (their ``pre_dynamics`` / ``post_dynamics``).

Each synapse gets at most one ``on_pre`` and one ``on_post`` per step and lane,
so the order among synapses changes nothing; every statement is evaluated
with NumPy on the host, by the same code for the ``numpy`` and ``c``
backends, so plastic networks agree bit for bit on both.  Because a weight can
change in any step in which its target spikes, a network with a plastic
connection runs in windows of one step.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import ir
from ..errors import NumericalError, ParameterError, ShapeError
from ..ir.weight_update import WeightUpdate, from_model
from ..runtime import host, quantities
from ..runtime.inputs import check_range
from .host_statements import compile_statements as _compile
from .host_statements import run_statements as _run
from .values import within_bounds

__all__ = ["Plastic", "weight_update_of"]


def weight_update_of(name, model) -> WeightUpdate:
    """The :class:`WeightUpdate` of a compiled ``weight_update`` model, or an error."""
    inner = getattr(model, "ir", model)
    if isinstance(inner, WeightUpdate):
        return inner
    if not isinstance(inner, ir.Model) or inner.meta.get("kind") != "weight_update":
        raise ParameterError(
            f"connection {name!r}: weight_update must be a weight-update model, got "
            f"{type(model).__name__}",
            hint="write one starting with 'weight_update NAME' and compile it, or use "
            "eqsnn.network.StdpAdditive(...) / StdpMultiplicative(...)")
    return from_model(inner)


class Plastic:
    """The plastic state of one connection and its host step (see the module doc)."""

    def __init__(self, conn, model: WeightUpdate, params, init, batch: int, precision: str,
                 dt: float):
        self.model, self.conn = model, conn
        self.batch, self.dtype, self.dt = batch, np.dtype(precision), dt
        what = f"connection {conn.name!r}"
        self.params = self._params(what, params)
        pre = host.evaluate_precompute(model, self.params, dt)
        kinds = {p.name: p.dtype for p in model.params}
        types_ = {"float": self.dtype.type, "int": np.int32, "bool": np.bool_}
        self.consts = {n: types_[kinds.get(n, "float")](v)
                       for n, v in {**self.params, **pre}.items()}
        self.consts["dt"] = self.dtype.type(dt)
        self.dtypes = {s.name: self._state_dtype(s)
                       for s in (*model.synapse_states, *model.pre_traces, *model.post_traces)}
        sizes = {"synapse": conn.pre.size, "pre": conn.source.n, "post": conn.target.n}
        init = dict(init)
        if model.weight in init:
            raise ParameterError(f"{what}: give the initial weight with weight=..., not "
                                 "weight_update_init", hint="connect(..., weight=0.5)")
        unknown = sorted(set(init) - set(self.dtypes))
        if unknown:
            raise ParameterError(f"{what}: {unknown[0]!r} is not a state or trace of "
                                 f"{model.name}", hint="its states and traces are: "
                                 + ", ".join(self.dtypes))
        self.initial: dict[str, np.ndarray] = {}
        for state in (*model.synapse_states, *model.pre_traces, *model.post_traces):
            if state.name == model.weight:
                continue
            size = sizes[model.role(state.name)]
            value = init.get(state.name)
            if value is None:
                value = host.evaluate(state.init, {**self.params, "dt": dt})
            self.initial[state.name] = self._lanes(f"{what} {state.name}", value, size,
                                                   self.dtypes[state.name])
        self.failure = None  # (state, step, lane, index) of the first NaN or infinity
        self.step = 0
        self.ops = {word: _compile(getattr(model, word)) for word in
                    ("on_pre", "on_post", "pre_spike", "post_spike", "pre_dynamics",
                     "post_dynamics")}
        self._check_reads(what)
        self._pre_delay = self._per_pre_delays(what) if model.pre_traces else None
        order = np.argsort(conn.post, kind="stable")
        counts = np.bincount(conn.post, minlength=conn.target.n)
        self._by_post = order
        self._post_indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def _check_reads(self, what) -> None:
        """Statements read params, the precompute, ``dt`` and the states and traces: not
        ``t``, ``id``, random numbers or arrays, which the host step does not provide."""
        known = set(self.consts) | set(self.dtypes)

        def walk(ops, local):
            for op in ops:
                missing = sorted(set(op[2]) - known - local)
                if missing:
                    raise ParameterError(
                        f"{what}: {self.model.name} reads {missing[0]!r}, which a "
                        "weight-update model cannot read (it reads params, dt, its states "
                        "and traces)", hint="remove the read, or pass the value as a param")
                if op[0] == "if":
                    walk(op[4], set(local))
                    walk(op[5], set(local))
                elif op[1] not in self.dtypes:
                    local.add(op[1])
        for ops in self.ops.values():
            walk(ops, set())

    # --- values -------------------------------------------------------------
    def _state_dtype(self, state):
        return self.dtype if state.dtype == "float" else np.dtype(
            np.int32 if state.dtype == "int" else bool)

    def _params(self, what, params) -> dict:
        known = {p.name: p for p in self.model.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ParameterError(f"{what}: {unknown[0]!r} is not a param of {self.model.name}",
                                 hint="its params are: " + (", ".join(known) or "none"))
        out = {}
        for name, param in known.items():
            value = params.get(name)
            value = param.default if value is None else quantities.to_internal(
                self.model, "param", name, value)  # a value in the declared unit
            if isinstance(value, np.ndarray) and value.ndim == 0:
                value = float(value)
            if value is None:
                raise ParameterError(f"{what}: {self.model.name} param {name!r} has no "
                                     "default", hint="give it in weight_update_params")
            if param.dtype == "bool":
                if not isinstance(value, (bool, np.bool_)):
                    raise ParameterError(f"{what}: weight-update param {name!r} is true or "
                                         f"false, not {value!r}")
                out[name] = bool(value)
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not np.isfinite(value):
                raise ParameterError(f"{what}: weight-update param {name!r} must be a "
                                     f"finite number, not {value!r}",
                                     hint="weight-update params are one value per connection")
            for c in param.constraints:
                if not c.holds(float(value)):
                    raise ParameterError(f"{what}: {name} = {value} violates '{c}'")
            if param.dtype == "int" and float(value) != int(value):
                raise ParameterError(f"{what}: weight-update param {name!r} is an int, not "
                                     f"{value!r}")
            out[name] = int(value) if param.dtype == "int" else float(value)
        return out

    def _lanes(self, what, value, size, dtype) -> np.ndarray:
        """A scalar, one value per element, or ``(batch, size)``, as ``(batch, size)``."""
        try:
            data = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError(f"{what} must be numbers, not {value!r}") from None
        if data.shape not in ((), (size,), (self.batch, size)):
            raise ShapeError(f"{what} has shape {data.shape}; expected a scalar, ({size},) or "
                             f"({self.batch}, {size})",
                             hint="per synapse in the order of Connection.pre/.post; per "
                             "lane as (batch, n)")
        if not np.all(np.isfinite(data)):
            raise ParameterError(f"{what} must be finite")
        if np.dtype(dtype).kind == "f":  # 1e39 would become inf in float32
            check_range(what, data, str(np.dtype(dtype)))
        return np.broadcast_to(data, (self.batch, size)).astype(dtype)

    def _per_pre_delays(self, what) -> np.ndarray:
        """One delay per presynaptic neuron: a pre trace is updated when its spike arrives,
        so every synapse of a presynaptic neuron must share one delay."""
        conn = self.conn
        delays = conn._delays
        if delays.ndim == 0:
            return np.full(conn.source.n, int(delays), np.int64)
        out = np.ones(conn.source.n, np.int64)
        starts, ends = conn._indptr[:-1], conn._indptr[1:]
        has = ends > starts
        first = delays[starts[has]]
        out[has] = first
        row = np.repeat(np.arange(conn.source.n), ends - starts)
        bad = np.flatnonzero(delays != out[row])
        if bad.size:
            i = int(row[bad[0]])
            raise ParameterError(
                f"{what}: {self.model.name} has pre traces, which are updated when a spike "
                f"arrives, so all synapses of a presynaptic neuron need one delay; neuron {i} "
                f"has delays {sorted(set(delays[starts[i]:ends[i]].tolist()))[:4]}",
                hint="give a delay per presynaptic neuron (or one delay), or move the pre "
                "trace's delay into separate connections")
        return out

    def start(self, weights: np.ndarray) -> None:
        """Fresh traces and states; ``w`` from the connection's weights (n_synapses,)."""
        w = within_bounds(self, self._lanes("weights", weights, self.conn.pre.size, self.dtype))
        self.state = {name: value.copy() for name, value in self.initial.items()}
        self.state[self.model.weight] = w

    def reset_traces(self) -> None:
        for trace in (*self.model.pre_traces, *self.model.post_traces):
            self.state[trace.name] = self.initial[trace.name].copy()

    def set(self, name, value) -> None:
        role = self.model.role(name)
        size = {"synapse": self.conn.pre.size, "pre": self.conn.source.n,
                "post": self.conn.target.n}[role]
        data = self._lanes(f"connection {self.conn.name!r} {name}", value, size,
                           self.dtypes[name])
        self.state[name] = within_bounds(self, data) if name == self.model.weight else data

    # --- the step -----------------------------------------------------------
    def _env(self, lane, syn=None, pre=None, post=None) -> dict:
        env = dict(self.consts)
        for s in self.model.synapse_states:
            if syn is not None:
                env[s.name] = self.state[s.name][lane, syn]
        for s in self.model.pre_traces:
            if pre is not None:
                env[s.name] = self.state[s.name][lane, pre]
        for s in self.model.post_traces:
            if post is not None:
                env[s.name] = self.state[s.name][lane, post]
        return env

    def _event(self, word, lane, syn=None, pre=None, post=None) -> None:
        if not self.ops[word] or lane.size == 0:
            return
        env = self._env(lane, syn, pre, post)
        with np.errstate(all="ignore"):  # a NaN or infinity is reported by check()
            _run(self.ops[word], env, self.dtypes)
        index = {"synapse": syn, "pre": pre, "post": post}
        for name in self.dtypes:
            where = index[self.model.role(name)]
            if where is not None and name in env:
                self.state[name][lane, where] = env[name]
                self._watch(name, lane, where, env[name])

    def _watch(self, name, lane, where, values) -> None:
        """Remember the first state that became NaN or infinite (raised after the run)."""
        if (self.failure is not None or self.dtypes[name] != self.dtype
                or not self.conn.network.check):  # Network(check=False)
            return
        shape = np.shape(lane)
        bad = ~np.isfinite(np.broadcast_to(values, shape))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            self.failure = (name, self.step, int(np.asarray(lane)[k]),
                            int(np.broadcast_to(where, shape)[k]))

    def check(self, result) -> None:
        """Raise the first NaN or infinity of the run as a NumericalError."""
        if self.failure is None:
            return
        name, step, lane, index = self.failure
        self.failure = None
        role = self.model.role(name)
        what = "synapse" if role == "synapse" else f"{role}synaptic neuron"
        raise NumericalError(
            f"connection {self.conn.name!r}: {self.model.name} state {name!r} became NaN or "
            f"infinite at step {step} (lane {lane}, {what} {index})", state=name, step=step,
            lane=lane, neuron=index, result=result,
            hint="check the weight-update params: a rule that multiplies w can overflow; "
            "bounds (clip) keep w finite")

    def arrive(self, history, step: int) -> np.ndarray:
        """Step k's arrivals: the summed weights ``(1, batch, n_target)``, then ``on_pre``
        and ``pre_spike`` (see the module doc)."""
        conn, batch = self.conn, self.batch
        self.step = step
        n_post = conn.target.n
        buf = np.zeros(batch * n_post, self.dtype)
        e, b, pre = history
        if e.size and conn.n_synapses:
            dmin, dmax = conn._delay_range
            lo, hi = np.searchsorted(e, [step - dmax, step - dmin + 1])
            e, b, pre = e[lo:hi], b[lo:hi], pre[lo:hi]
            order = np.lexsort((pre, e))
            e, b, pre = e[order], b[order], pre[order]
            starts = conn._indptr[pre]
            counts = conn._indptr[pre + 1] - starts
            first = np.cumsum(counts) - counts
            total = int(counts.sum())
            syn = np.repeat(starts - first, counts) + np.arange(total)
            e_syn, lane = np.repeat(e, counts), np.repeat(b, counts)
            delays = conn._delays if conn._delays.ndim == 0 else conn._delays[syn]
            keep = e_syn + delays == step
            syn, lane = syn[keep], lane[keep]
            weights = self.state[self.model.weight][lane, syn]
            np.add.at(buf, lane * n_post + conn.post[syn], weights)
            self._event("on_pre", lane, syn=syn, pre=conn.pre[syn], post=conn.post[syn])
            if self._pre_delay is not None:
                here = e + self._pre_delay[pre] == step
                self._event("pre_spike", b[here], pre=pre[here])
        return buf.reshape(1, batch, n_post)

    def after(self, target_spikes) -> None:
        """``on_post`` and ``post_spike`` for step k's target spikes ``(lane, neuron)``,
        then one step of every trace's dynamics."""
        lane, neuron = target_spikes
        if lane.size:
            starts = self._post_indptr[neuron]
            counts = self._post_indptr[neuron + 1] - starts
            first = np.cumsum(counts) - counts
            idx = np.repeat(starts - first, counts) + np.arange(int(counts.sum()))
            syn = self._by_post[idx]
            s_lane = np.repeat(lane, counts)
            self._event("on_post", s_lane, syn=syn, pre=self.conn.pre[syn],
                        post=self.conn.post[syn])
            self._event("post_spike", lane, post=neuron)
        everyone = slice(None)
        for side, traces in (("pre", self.model.pre_traces), ("post", self.model.post_traces)):
            if not traces:
                continue
            env = dict(self.consts)
            env.update({t.name: self.state[t.name][everyone] for t in traces})
            with np.errstate(all="ignore"):
                _run(self.ops[f"{side}_dynamics"], env, self.dtypes)
            for t in traces:
                self.state[t.name] = np.asarray(env[t.name], self.dtypes[t.name])
                lanes, ids = np.nonzero(~np.isfinite(self.state[t.name]))
                if lanes.size:
                    self._watch(t.name, lanes[:1], ids[:1], self.state[t.name][lanes[:1],
                                                                              ids[:1]])


def attach(conn, weight_update, params, init) -> None:
    """Give ``conn`` the weight-update model (a standard-library rule or a compiled model)
    with its values; every check runs before the connection changes."""
    from .parts import _mapping
    if callable(getattr(weight_update, "build", None)):
        if params or init:
            raise ParameterError(f"connection {conn.name!r}: give a standard-library weight "
                                 "update's values to its constructor, not weight_update_params")
        weight_update, params = weight_update.build()
    model = weight_update_of(conn.name, weight_update)
    params = _mapping("weight_update_params", params)
    init = _mapping("weight_update_init", init)
    net = conn.network
    plastic = Plastic(conn, model, params, init, net.batch_size, net.precision, net.dt)
    plastic.start(conn._weights)
    conn._plastic = plastic


def check_recording(network, records, steps: int) -> None:
    """Refuse, before anything runs, to record what needs more memory than is available:
    per-synapse recording grows with steps x batch x synapses, a population's states and
    spikes (as a Simulator's, runtime.guard) with steps x batch x neurons."""
    from ..runtime.guard import _size, available_memory, record_bytes
    from ..runtime.spike_bits import row_words
    needed, biggest = 0, None
    for name, plan in records.items():
        if plan[0] != "target" or plan[2]:  # a population's or a synapse model's states
            pop, batch = network.populations[plan[1]], network.batch_size
            if plan[0] == "population":
                size = record_bytes(pop.ir, plan[2], plan[3], steps, batch, pop.n,
                                    network.precision)
            elif plan[0] == "source":  # one plane of spike bits
                size = steps * batch * row_words(pop.n) * 4
            else:  # a synapse model's float states, per target neuron
                size = sum(steps * batch * (pop.n if index is None else len(index))
                           * np.dtype(network.precision).itemsize
                           for index in plan[2].values())
            needed += size
            biggest = max(biggest or (0, ""), (size, name))
        conn = network.connections.get(name)
        if conn is None or conn._plastic is None or plan[0] != "target":
            continue
        for state in plan[3]:
            array = conn._plastic.state[state]
            size = steps * array.size * array.itemsize
            needed += size
            biggest = max(biggest or (0, ""), (size, f"{name}.{state}"))
    limit = available_memory()
    if biggest is not None and limit is not None and needed > limit:
        raise ParameterError(
            f"recording this run needs {_size(needed)} ({biggest[1]} the most), more "
            f"than the {_size(limit)} available; nothing was run",
            hint=f"record fewer neurons or states, or run the {steps} steps in shorter runs "
            "(and read Connection.plastic_state between them)")
