"""A whole eqsnn :class:`~eqsnn.network.Network` as one GeNN model (``backend="pygenn"``).

Built by :func:`build_network` when the network is built; imported only then,
so the rest of eqsnn needs no PyGeNN.  What each part becomes
(:mod:`eqsnn.printing.genn_network` prints the models):

* a population: a GeNN neuron population of its model with one additional
  input var per incoming connection (the neuron sums them in connection
  order); the user's inputs come from current sources, as for one
  population (:mod:`eqsnn.backends.pygenn_runtime`);
* a spike source: a neuron population whose threshold reads its spike steps
  from an extra global param;
* a connection: a SPARSE synapse group whose connectivity is uploaded from
  the host in eqsnn's CSR order (rows in eqsnn's order, not re-sorted), with
  the eqsnn synapse model as its postsynaptic model and the static
  weight-update model; a homogeneous delay of d steps is
  ``axonal_delay_steps = d - 1``, per-synapse delays are GeNN's dendritic
  delays ``d - 1`` with ``max_dendritic_delay_timesteps = max(d)``; a plastic
  connection has the weight-update model printed from its eqsnn model instead
  (:mod:`eqsnn.backends.pygenn_plastic`, delay 1 only).

Where GeNN's backend cannot batch (CPU), batch lane ``b`` is a copy of
every population and connection, named ``lane{b}_<name>``.  ``reset`` loads
the built model again (GeNN's queues and delay buffers start empty) and
writes the initial states and the current weights.
"""

from __future__ import annotations

import hashlib
import time
import weakref

import numpy as np

from ..errors import BackendError
from ..printing.genn import genn_precision
from ..printing.genn_network import DELAY_VAR, WEIGHT_VAR, connection_input
from . import numpy_dtype, pygenn_plastic
from .pygenn_network_parts import (
    PopulationView,
    collect_spikes,
    connection_part,
    genn_model_classes,
    network_report,
    population_part,
)
from .pygenn_runtime import _claim, _release, cache_dir, genn_backend, quiet_build

__all__ = ["GeNNNetwork", "PopulationView", "build_network"]

RECORDING_STEPS = 1024
_GENN_TYPES = {"float": "scalar", "int": "int", "bool": "bool"}


def build_network(net) -> GeNNNetwork:
    """The GeNN model of ``net``, built and loaded; raises BackendError where it cannot."""
    try:
        import pygenn  # noqa: F401
    except ImportError as error:
        raise BackendError(
            f"the pygenn backend needs PyGeNN ({error})",
            hint="build PyGeNN from https://github.com/genn-team/genn (GeNN 5), or run the "
            "network on numpy or c") from None
    return GeNNNetwork(net)


class GeNNNetwork:
    """One GeNN model holding every population and connection of a network."""

    def __init__(self, net):
        self.net = net
        self.precision, self.batch, self.dt = net.precision, net.batch_size, float(net.dt)
        self.backend = genn_backend()
        self.lanes = self.batch if self.backend == "single_threaded_cpu" else 1
        self.pops, self.conns = {}, {}
        for index, pop in enumerate(net.populations.values()):
            self.pops[pop.name] = population_part(self, pop, index)
        for conn in net.connections.values():
            self.conns[conn.name] = connection_part(self, conn)
        self._pushed_weights: dict = {}
        self.last_spike: dict = {}  # population -> the step of its last spike
        self.genn = None
        self._build()

    # --- building -----------------------------------------------------------------------
    def _build(self):
        from pygenn import (
            GeNNModel,
            VarAccess,
            create_current_source_model,
            init_postsynaptic,
            init_weight_update,
        )

        net = self.net
        genn_models, source_model, key = genn_model_classes(self)
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
        name = _claim(digest)
        self._finalizer = weakref.finalize(self, _release, name)
        genn = GeNNModel(genn_precision(self.precision), name, backend=self.backend,
                         time_precision="double")
        genn.dt = self.dt
        genn.seed = (net.seed % (2**32 - 1)) or 2**31 + 12345
        if self.lanes == 1:
            genn.batch_size = self.batch
        self.groups = [{} for _ in range(self.lanes)]
        self.feeds = [{} for _ in range(self.lanes)]
        self.synapses = [{} for _ in range(self.lanes)]
        for lane in range(self.lanes):
            for pname, part in self.pops.items():
                pop = net.populations[pname]
                if part.source:
                    group = genn.add_neuron_population(f"lane{lane}_{pname}", pop.n,
                                                       source_model, {},
                                                       {"start": part.start, "end": part.end})
                    group.extra_global_params["spikeSteps"].set_init_values(
                        part.steps if part.steps.size else np.zeros(1, np.int32))
                    self.groups[lane][pname] = group
                    continue
                values = {g: self._param_value(part, g) for g, _ in part.spec.params}
                if self.lanes > 1:
                    values["eqsnn_lane"] = lane
                group = genn.add_neuron_population(
                    f"lane{lane}_{pname}", pop.n, genn_models[pname], values,
                    {g: 0 for g, _, _ in part.spec.vars})
                for array in part.model.arrays:
                    data = np.zeros(max(1, len(part.arrays[array.name])),
                                    numpy_dtype(array.dtype, self.precision))
                    group.extra_global_params[part.names[array.name]].set_init_values(data)
                group.spike_recording_enabled = part.model.spiking
                feeds = {}
                for item in part.user_inputs:
                    feed = create_current_source_model(
                        f"eqsnn_feed_{item.dtype}",
                        vars=[("value", _GENN_TYPES[item.dtype], VarAccess.READ_ONLY_DUPLICATE)],
                        injection_code="injectCurrent(value);")
                    cs = genn.add_current_source(f"lane{lane}_{pname}_{item.name}", feed,
                                                 group, {}, {"value": 0})
                    if part.names[item.name] != "Isyn":
                        cs.target_var = part.names[item.name]
                    feeds[item.name] = cs
                self.groups[lane][pname] = group
                self.feeds[lane][pname] = feeds
            for cname, part in self.conns.items():
                conn = net.connections[cname]
                target = self.pops[conn.target.name]
                if part.plastic is not None:
                    wu_init = pygenn_plastic.initial(part, lane)
                else:
                    wu_vars = {WEIGHT_VAR: conn._weights}
                    if part.hetero:
                        wu_vars[DELAY_VAR] = (conn._delays - 1).astype(np.uint32)
                    wu_init = init_weight_update(part.wum, {}, wu_vars)
                ps_params = {g: float(np.asarray(part.values[part.ps.origin[g][1]]))
                             for g, _ in part.ps.params}
                refs = {g: target.names[eqsnn_name]
                        for g, _, eqsnn_name in part.ps.neuron_var_refs}
                sg = genn.add_synapse_population(
                    f"lane{lane}_{cname}", "SPARSE", self.groups[lane][conn.source.name],
                    self.groups[lane][conn.target.name],
                    wu_init,
                    init_postsynaptic(part.psm, ps_params,
                                      {g: 0 for g, _, _ in part.ps.vars}, refs))
                sg.set_sparse_connections(conn.pre, conn.post)
                # eqsnn's row order, not GeNN's (pre, post) sort: the same summation order
                sg.synapse_order = np.arange(conn.n_synapses)
                sg.ind = np.asarray(conn.post)
                sg.post_target_var = target.names[connection_input(cname)]
                if part.hetero:
                    sg.max_dendritic_delay_timesteps = int(conn._delay_range[1])
                else:
                    sg.axonal_delay_steps = int(conn._delay_range[0]) - 1
                self.synapses[lane][cname] = sg
        with quiet_build(f"network of {len(self.pops)} populations"):
            genn.build(cache_dir())
        self.genn = genn
        self._load()

    def _param_value(self, part, genn_name):
        kind, name = part.spec.origin[genn_name]
        if kind == "length":
            return len(part.arrays[name])
        value = np.asarray(part.values[name]).reshape(-1)[0]
        declared = {p.name: p.dtype for p in part.model.params}
        return {"int": int, "bool": bool}.get(declared.get(name, "float"), float)(value)

    def _load(self):
        """Load the built model: states, per-neuron values, arrays and weights from the host."""
        n_max = max((self.net.populations[p].n for p in self.pops), default=1)
        words = -(-n_max // 32)
        self.recording = max(1, min(RECORDING_STEPS, 2**24 // (words * self.batch)))
        self.genn.load(num_recording_timesteps=self.recording)
        for pname, part in self.pops.items():
            if part.source:
                continue
            for state, value in part.init.items():
                self._write_var(pname, part.names[state], value)
            for genn_name, _, access in part.spec.vars:
                kind, name = part.spec.origin[genn_name]
                if access == "READ_ONLY":
                    self._write_var(pname, genn_name, np.broadcast_to(
                        part.values[name], (self.net.populations[pname].n,)))
            for name, data in part.arrays.items():
                for lane in range(self.lanes):
                    egp = self.groups[lane][pname].extra_global_params[part.names[name]]
                    egp.view[:len(data)] = data
                    egp.push_to_device()
        for cname, part in self.conns.items():
            for state, value in part.init.items():
                self._write_psm(cname, part.ps.names[state], value)
        # GeNN loads the weights given when the model was made: the current ones go next
        self._pushed_weights = {}
        self.last_spike = {}
        self._push_weights()
        for cname, part in self.conns.items():
            if part.plastic is not None:
                pygenn_plastic.push(self, cname, part.plastic, fresh=True)

    # --- variables ----------------------------------------------------------------------
    def _lane_rows(self, value, lane, shape):
        value = np.asarray(value)
        if value.ndim == 2:
            part = value[lane:lane + 1] if self.lanes > 1 else value
            return part.reshape(shape)
        return np.broadcast_to(value, shape)

    def _write_var(self, pname, genn_name, value):
        for lane in range(self.lanes):
            var = self.groups[lane][pname].vars[genn_name]
            var.view[...] = self._lane_rows(value, lane, var.view.shape)
            var.push_to_device()

    def _write_psm(self, cname, genn_name, value):
        for lane in range(self.lanes):
            var = self.synapses[lane][cname].psm_vars[genn_name]
            var.view[...] = self._lane_rows(value, lane, var.view.shape)
            var.push_to_device()

    def _read(self, variables, n):
        parts = []
        for var in variables:
            var.pull_from_device()
            parts.append(np.array(var.view).reshape(-1, n))
        return np.concatenate(parts)

    def read_state(self, pname, name):
        """A neuron state (``(batch, n)``) or, named ``<conn>__<state>``, a synapse state."""
        pop = self.net.populations[pname]
        for conn in pop.incoming:
            prefix = f"{conn.name}__"
            if name.startswith(prefix):
                state = name[len(prefix):]
                part = self.conns[conn.name]
                genn_name = part.ps.names[state]
                dtype = numpy_dtype(part.model.state(state).dtype, self.precision)
                return self._read([self.synapses[lane][conn.name].psm_vars[genn_name]
                                   for lane in range(self.lanes)], pop.n).astype(dtype)
        part = self.pops[pname]
        dtype = numpy_dtype(part.model.state(name).dtype, self.precision)
        return self._read([self.groups[lane][pname].vars[part.names[name]]
                           for lane in range(self.lanes)], pop.n).astype(dtype)

    def write_state(self, pname, name, value):
        part = self.pops[pname]
        self._write_var(pname, part.names[name], np.asarray(value))

    def write_synapse_state(self, cname, name, value):
        """Write state ``name`` of connection ``cname``'s synapse model (``(batch, n)``)."""
        self._write_psm(cname, self.conns[cname].ps.names[name], np.asarray(value))

    def reset(self):
        self.genn.unload()
        self._load()

    def report(self, result, others=()):
        """Raise the earliest failure of the numerical check of the populations (with the
        synapses into them) in the run that gave ``result``, or of the ``others`` reports
        (the plastic connections'), naming its population, every record cleared, after the
        adaptive integrator's warnings (see network_report); the network stays advanced."""
        network_report(self, result, others)

    def changed_in_flight(self) -> list:
        """The connections with per-synapse delays whose weights were set since the last run
        while spikes sent with the old ones may be in flight: GeNN's dendritic delays add a
        spike's weight when it is sent (see eqsnn.network.rollback.weights_in_flight)."""
        out = []
        for cname, conn in self.net.connections.items():
            last = self.last_spike.get(conn.source.name)
            if (conn._plastic is None and self.conns[cname].hetero and last is not None
                    and last + conn._delay_range[1] >= self.net.step
                    and not np.array_equal(conn._weights, self._pushed_weights[cname])):
                out.append(conn)
        return out

    def _push_weights(self):
        for cname, conn in self.net.connections.items():
            if conn._plastic is not None:  # pushed by pygenn_plastic.push
                continue
            if self._pushed_weights.get(cname) is not conn._weights:
                for lane in range(self.lanes):
                    var = self.synapses[lane][cname].vars[WEIGHT_VAR]
                    var.values = conn._weights
                    var.push_to_device()
                self._pushed_weights[cname] = conn._weights

    # --- running ------------------------------------------------------------------------
    def run(self, steps, step0, plans, records):
        """``(collected, spikes, seconds)`` of ``steps`` steps from ``step0``: per record key
        a list of ``(state, (steps, batch, width))``, per population its spikes as
        ``(step, lane, neuron)`` (absolute steps), and the time spent in GeNN."""
        net = self.net
        self._push_weights()
        for pname, part in self.pops.items():  # a readout spans one run, as a Simulator's
            readout = None if part.source else part.model.readout
            for state in readout.reset if readout is not None else ():
                self._write_var(pname, part.names[state], part.init[state])
        plastic, own = pygenn_plastic.start(self, records)
        wanted = {}  # pname -> [(key, state, index)]
        for key, plan in records.items():
            if plan[0] in ("population", "target"):
                for state, index in plan[2].items():
                    wanted.setdefault(plan[1], []).append((key, state, index))
        out = {key: {} for key in records}
        for pname, items in wanted.items():
            n = net.populations[pname].n
            for key, state, index in items:
                width = n if index is None else len(index)
                dtype = (numpy_dtype(self.pops[pname].model.state(state).dtype, self.precision)
                         if "__" not in state else self.precision)
                out[key][state] = np.empty((steps, self.batch, width), dtype)
        for key, names in own.items():
            out[key].update({state: np.empty((steps, self.batch,
                                              plastic[key].state[state].shape[1]),
                                             plastic[key].dtypes[state]) for state in names})
        feeds = {}
        for pname, plan in plans.items():
            part = self.pops[pname]
            for item in part.user_inputs:
                feeds[(pname, item.name)] = np.asarray(plan[item.name])
        spiking = [p for p, part in self.pops.items()
                   if not part.source and part.model.spiking]
        flags = {p: np.zeros((steps, self.batch, net.populations[p].n), bool) for p in spiking}
        self.genn.timestep = step0
        started = time.perf_counter()
        chunk = 0
        for i in range(steps):
            for (pname, iname), value in feeds.items():
                if i == 0 or value.shape[0] > 1:
                    self._feed(pname, iname, value[0 if value.shape[0] == 1 else i])
            self.genn.step_time()
            for pname, items in wanted.items():
                for key, state, index in items:
                    got = self.read_state(pname, state)
                    out[key][state][i] = got if index is None else got[:, np.asarray(index)]
            for key, names in own.items():
                for state, got in pygenn_plastic.recorded(self, key, plastic[key],
                                                          names).items():
                    out[key][state][i] = got
            if spiking and (i + 1 - chunk == self.recording or i + 1 == steps):
                collect_spikes(self, flags, chunk, i + 1, step0)
                chunk = i + 1
        seconds = time.perf_counter() - started
        for cname, rule in plastic.items():
            pygenn_plastic.finish(self, cname, rule)
        spikes = {}
        for pname, pop in net.populations.items():
            if pop.is_source:
                spikes[pname] = pop.source_spikes(step0, steps, self.batch)
            elif pname in flags:
                k, b, i = np.nonzero(flags[pname])
                spikes[pname] = (k.astype(np.int64) + step0, b.astype(np.int64),
                                 i.astype(np.int64))
        for pname, (k, _, _) in spikes.items():
            if k.size:
                self.last_spike[pname] = int(k.max())
        collected = {key: [(s, v) for s, v in states.items()] for key, states in out.items()}
        return collected, spikes, seconds

    def _feed(self, pname, iname, value):
        n = self.net.populations[pname].n
        value = np.broadcast_to(value, (self.batch, n))
        for lane in range(self.lanes):
            var = self.feeds[lane][pname][iname].vars["value"]
            part = value[lane:lane + 1] if self.lanes > 1 else value
            var.view[...] = part.reshape(var.view.shape)
            var.push_to_device()
