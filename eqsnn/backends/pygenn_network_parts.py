"""The host side of a network on pygenn: what each population and connection becomes
(:func:`population_part`, :func:`connection_part`) and the view of a population that the
network reads (:class:`PopulationView`).  See :mod:`eqsnn.backends.pygenn_network`."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..errors import BackendError, NumericalError, ParameterError
from ..printing.genn import genn_spec
from ..printing.genn_network import network_neuron, postsynaptic_spec, weight_update_spec
from ..runtime import host
from ..runtime.checks import CHECK_STEP, checked_states, with_checks
from ..runtime.failures import other_neurons, raise_earliest, raise_first_failure
from ..runtime.reports import (
    adaptive_records,
    point_to_the_bound,
    warn_then_raise,
)
from ..runtime.values import initial_states, prepare_arrays, prepare_params

__all__ = ["PopulationView", "adaptive_messages", "collect_spikes", "connection_part",
           "connection_report", "genn_model_classes", "network_report", "population_part",
           "population_report", "printed_models", "refuse_connection", "refuse_population",
           "refuse_unprintable"]


class _Part:
    """What the host computed for one population or connection."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


def population_part(genn, pop, index):
    """What the host computes for population ``pop`` of ``genn.net`` (a GeNNNetwork)."""
    if pop.is_source:
        at, ids = pop._spike_source
        order = np.lexsort((at, ids))
        steps = at[order].astype(np.int32)
        bounds = np.searchsorted(ids[order], np.arange(pop.n + 1))
        return _Part(source=True, steps=steps, start=bounds[:-1].astype(np.int32),
                     end=bounds[1:].astype(np.int32))
    net = genn.net
    build = pop._build
    refuse_population(pop)
    params, init = dict(pop._values[0]), dict(pop._values[1])  # checked when it was added
    if build is not None:
        seed = int(np.random.SeedSequence([net.seed & 0xFFFFFFFF, net.seed >> 32, 0, index])
                   .generate_state(1, np.uint64)[0])
        build = pop._model.build(shape=(pop.n,), batch_size=net.batch_size, dt=net.dt,
                                 seed=seed)
        params = {**build.arrays, **build.params, **params}
        init = {**build.init, **init}
    model = network_neuron(pop.ir, tuple((c.name, c.target_input) for c in pop.incoming))
    # the numerical check, every state in every step (a network runs no second pass)
    if net.check:
        model = with_checks(model, genn.precision, defer=False)
    values = prepare_params(model, params, (pop.n,), genn.precision)
    arrays = prepare_arrays(model, params, genn.precision)
    precompute = host.evaluate_precompute(model, values, genn.dt)
    initial = initial_states(model, values, precompute, init, genn.batch, (pop.n,),
                             genn.dt, genn.precision)
    values.update(precompute)
    per_neuron = frozenset(k for k, v in values.items() if np.ndim(v) == 1)
    spec = genn_spec(model, genn.precision, per_neuron,
                     batch="eqsnn_lane" if genn.lanes > 1 else None,
                     wide_math=not net.fast_math)
    return _Part(source=False, model=model, values=values, arrays=arrays, init=initial,
                 spec=spec, names=spec.code.names, user_inputs=[i for i in pop.ir.inputs])

def refuse_population(pop) -> None:
    """Raise where a network on pygenn cannot run population ``pop``; called when it is
    added to a network on pygenn (the backend is known then), so nothing is half-built,
    and again when the network is built.  Needs no PyGeNN."""
    build = pop._build
    if build is not None and build.input_name is not None:
        raise BackendError(f"population {pop.name!r}: {pop.ir.name} takes a data input, "
                           "which networks on pygenn do not feed",
                           hint="give spike trains with Network.add_spike_source, or run the "
                           "network on numpy or c")
    if pop.ir.runtime_params:
        raise BackendError(f"population {pop.name!r}: {pop.ir.name} reads run-time params "
                           f"{sorted(pop.ir.runtime_params)}, which networks on pygenn "
                           "do not set", hint="use a model without them (a readout other "
                           "than avg_var, avg_var_exp_weight), or run the network on numpy "
                           "or c")


def refuse_connection(conn) -> None:
    """Raise where a network on pygenn cannot run connection ``conn`` (made, not yet part
    of the network); called when connecting on pygenn and again at build."""
    if conn.n_synapses == 0:
        raise BackendError(f"connection {conn.name!r} has no synapses, and GeNN builds no "
                           "synapse group without any",
                           hint="leave the connection out, or run the network on numpy "
                           "or c")
    if any(np.ndim(getattr(value, "value", value)) for value in conn._values[0].values()):
        raise BackendError(f"connection {conn.name!r}: synapse params per target neuron "
                           "do not run on pygenn", hint="give one value per param, or run "
                           "the network on numpy or c")
    if conn._plastic is not None:
        from .pygenn_plastic import check_delays
        check_delays(conn)


def refuse_unprintable(conn) -> None:
    """Raise where the GeNN models of connection ``conn`` cannot be printed (its synapse
    model integrated with substeps or drawing random numbers, names that clash with the
    weight-update model's, ...): printing needs no PyGeNN, so a network on pygenn does it
    when connecting (:func:`printed_models`, kept for the build)."""
    printed_models(conn)


def printed_models(conn) -> tuple:
    """``(synapse model, its postsynaptic spec, the weight-update model's parts or None)``
    of connection ``conn`` as GeNN code, its names checked against each other; printed
    once (when connecting) and kept on the connection: the network, its precision and
    options are fixed by then."""
    printed = getattr(conn, "_genn_printed", None)
    if printed is not None:
        return printed
    net = conn.network
    model = conn.synapse_model
    if net.check:
        model = with_checks(model, net.precision, defer=False)
    ps = postsynaptic_spec(model, net.precision, wide_math=not net.fast_math)
    parts = None
    if conn._plastic is not None:
        from ..printing.genn_plasticity import plastic_parts
        from .pygenn_plastic import check_names
        parts = plastic_parts(conn._plastic.model, net.precision, wide_math=not net.fast_math)
        check_names(conn, ps.names, parts)
    conn._genn_printed = (model, ps, parts)
    return conn._genn_printed


def connection_part(genn, conn):
    """What the host computes for connection ``conn`` (its models, values, delays)."""
    refuse_connection(conn)
    plastic = getattr(conn, "_plastic", None)
    hetero = conn._delays.ndim == 1 and conn._delay_range[0] != conn._delay_range[1]
    if plastic is not None:  # its GeNN model is printed when the network is built
        from . import pygenn_plastic
        pygenn_plastic.check(genn, conn)
        wu = None
    else:
        wu = weight_update_spec("static", heterogeneous_delay=hetero)
    # the numerical check of the synapse states, in the postsynaptic model's code: every
    # state in every step, as for the populations (see connection_report)
    model, ps, wu_parts = printed_models(conn)
    n_target = conn.target.n
    values = prepare_params(model, conn._values[0], (n_target,), genn.precision)
    precompute = host.evaluate_precompute(model, values, genn.dt)
    initial = initial_states(model, values, precompute, conn._values[1], genn.batch,
                             (n_target,), genn.dt, genn.precision)
    values.update(precompute)
    return _Part(wu=wu, ps=ps, model=model, values=values, init=initial, hetero=hetero,
                 plastic=plastic, wu_parts=wu_parts)


def connection_report(genn, cname, result):
    """Raise the :class:`~eqsnn.errors.NumericalError` of the earliest failure of the
    synapse states of connection ``cname`` in the run that gave ``result`` (clearing its
    record), naming the state ``<cname>__<state>`` as the composed model of a network on
    numpy or c does (:func:`eqsnn.runtime.failures.raise_earliest` words it)."""
    part, conn = genn.conns[cname], genn.net.connections[cname]
    if CHECK_STEP not in part.ps.names:  # no float state: nothing checked
        return
    checked = {s.name for s in checked_states(part.model)}
    named = part.model.replace(states=tuple(
        dataclasses.replace(s, name=f"{cname}__{s.name}") if s.name in checked else s
        for s in part.model.states))
    raise_first_failure(
        lambda name: genn.read_state(conn.target.name, f"{cname}__{name}"),
        lambda name, value: genn.write_synapse_state(cname, name, value),
        named, genn.dt, (conn.target.n,), result)


def population_report(genn, pname, result):
    """Raise the earliest failure of population ``pname`` in the run that gave ``result``:
    of its neurons' states and of the synapse states of every connection into it, each
    checked in its own GeNN group, counting every neuron where any of them failed (as the
    one composed model of a population on numpy or c does); every record is cleared."""
    part, pop = genn.pops[pname], genn.net.populations[pname]
    checks = []  # (the record of failed steps, the report that raises its failure)
    if CHECK_STEP in part.names:
        read, write = (functools.partial(f, pname) for f in (genn.read_state, genn.write_state))
        checks.append((read(CHECK_STEP), lambda: raise_first_failure(
            read, write, part.model, genn.dt, (pop.n,), result)))
    for conn in pop.incoming:
        if CHECK_STEP in genn.conns[conn.name].ps.names:
            checks.append((genn.read_state(pname, f"{conn.name}__{CHECK_STEP}"),
                           lambda c=conn.name: connection_report(genn, c, result)))
    errors = []
    for order, (_, report) in enumerate(checks):
        try:
            report()
        except NumericalError as error:
            errors.append(((error.step, error.lane, error.neuron, order), error))
    if errors:
        failed = np.logical_or.reduce([steps >= 0 for steps, _ in checks])
        error = min(errors, key=lambda item: item[0])[1]
        error = recount(error, int(np.count_nonzero(failed)), failed.shape[0])
        raise error


def recount(error: NumericalError, count: int, lanes: int) -> NumericalError:
    """``error`` counting ``count`` failed neurons (its message's end too): a population
    checked in parts (its neurons and each incoming connection's synapse states apart)
    counts every neuron where any part failed, as its one composed model does on numpy
    and c."""
    old = other_neurons(error.count, lanes)
    message = error.message[:len(error.message) - len(old)] if old else error.message
    error.message = message + other_neurons(count, lanes)
    error.args, error.count = (error.message,), count
    return error


def network_report(genn, result, others=()):
    """What :meth:`~eqsnn.backends.pygenn_network.GeNNNetwork.report` does: the numerical
    check of every population with its incoming connections (:func:`population_report`)
    and the ``others`` reports (the plastic connections'), the earliest failure raised,
    after the adaptive integrator's warnings (:func:`adaptive_messages`)."""
    (messages, bound) = adaptive_messages(genn)
    reports = [(pname, lambda p=pname: population_report(genn, p, result))
               for pname, part in genn.pops.items() if not part.source]
    reports += list(others)
    try:
        raise_earliest(reports)
    except NumericalError as failure:
        error = failure
        model = genn.pops[failure.population].model if failure.population in bound else None
        if model is not None and failure.state in {s.name for s in model.states} and \
                failure.cause != "reset":
            point_to_the_bound(failure, model)  # a state of the population, not a synapse's
    else:
        error = None
    warn_then_raise(messages, error)


def adaptive_messages(genn) -> tuple[list[str], set[str]]:
    """The adaptive integrator's warnings about the run just done (the substep bound
    reached, second crossings in a step), each naming its population, every record
    cleared, as ``Simulator.run`` reports them for one population; and the populations
    that reached their bound."""
    from ..solve.adaptive import LIMIT_STEP
    messages, bound = [], set()
    for pname, part in genn.pops.items():
        if part.source or LIMIT_STEP not in part.names:
            continue
        said, reached = adaptive_records(
            lambda name, p=pname: genn.read_state(p, name),
            lambda name, value, p=pname: genn.write_state(p, name, value),
            part.model, (genn.net.populations[pname].n,), pname)
        messages += said
        if reached:
            bound.add(pname)
    return messages, bound


class PopulationView:
    """What the network reads of a population on pygenn (its ``_sim``): the model its
    inputs are prepared for, its state, and writing it."""

    def __init__(self, genn, pname: str):
        self._genn, self._pname = genn, pname
        self.model = genn.pops[pname].model
        self._build = None

    @property
    def state(self):
        names = [s.name for s in self.model.states]
        pop = self._genn.net.populations[self._pname]
        names += [f"{c.name}__{s.name}" for c in pop.incoming for s in c.synapse_model.states]
        return _LazyState(self._genn, self._pname, names)

    def set_state(self, name, value):
        from ..runtime.values import state_value
        pop = self._genn.net.populations[self._pname]
        full = state_value(self.model, name, value, self._genn.batch, (pop.n,),
                           self._genn.precision)
        self._genn.write_state(self._pname, name, full)

    def reset(self):
        """Nothing per population: ``Network.reset`` reloads the whole GeNN model once
        (:meth:`~eqsnn.backends.pygenn_network.GeNNNetwork.reset`)."""


class _LazyState:
    """A population's states, each read from GeNN when asked for."""

    def __init__(self, genn, pname, names):
        self._genn, self._pname, self._names = genn, pname, names

    def __getitem__(self, name):
        if name not in self._names:
            raise ParameterError(f"no state {name!r}")
        net = self._genn.net
        out = np.asarray(net._declared(net.populations[self._pname], name,
                                       self._genn.read_state(self._pname, name)))
        out.flags.writeable = False
        return out


def genn_model_classes(genn):
    """The GeNN model classes of a network (a GeNNNetwork): ``(neuron models by population,
    the spike-source model, the key of the build)``; sets each connection's postsynaptic
    and weight-update models (``part.psm``, ``part.wum``) and each part's ``derived``."""
    from pygenn import (
        VarAccess,
        VarAccessMode,
        create_neuron_model,
        create_postsynaptic_model,
        create_weight_update_model,
    )

    from . import pygenn_plastic
    net = genn.net
    genn_models = {}
    key = [genn.precision, genn.batch, genn.backend, genn.dt]
    for name, part in genn.pops.items():
        if part.source:
            key.append((name, "source"))
            continue
        spec = part.spec
        derived = {g: float(np.asarray(part.values[spec.origin[g][1]]).reshape(-1)[0])
                   for g in spec.derived_params}
        part.derived = derived
        params = list(spec.params) + ([("eqsnn_lane", "int")] if genn.lanes > 1 else [])
        kwargs = {
            "params": params,
            "vars": [(n, t, getattr(VarAccess, a)) for n, t, a in spec.vars],
            "derived_params": [(n, lambda pars, dt, v=derived[n]: v)
                               for n in spec.derived_params],
            "sim_code": spec.sim_code,
            "threshold_condition_code": spec.threshold_condition_code,
            "reset_code": spec.reset_code,
            "extra_global_params": list(spec.extra_global_params),
            "additional_input_vars": list(spec.additional_input_vars),
        }
        kwargs = {k: v for k, v in kwargs.items() if v not in (None, [])}
        genn_models[name] = create_neuron_model(f"eqsnn_{name}", **kwargs)
        key.append((name, repr(kwargs), derived, {a: len(v) for a, v in part.arrays.items()}))
    for cname, part in genn.conns.items():
        ps = part.ps
        derived = {g: float(np.asarray(part.values[ps.origin[g][1]]).reshape(-1)[0])
                   for g in ps.derived_params}
        part.derived = derived
        kwargs = {
            "params": list(ps.params),
            "vars": [(n, t, getattr(VarAccess, a)) for n, t, a in ps.vars],
            "neuron_var_refs": [(n, t, VarAccessMode.READ_ONLY)
                                for n, t, _ in ps.neuron_var_refs],
            "derived_params": [(n, lambda pars, dt, v=derived[n]: v)
                               for n in ps.derived_params],
            "sim_code": ps.sim_code,
        }
        kwargs = {k: v for k, v in kwargs.items() if v not in (None, [])}
        part.psm = create_postsynaptic_model(f"eqsnn_psm_{cname}", **kwargs)
        conn = net.connections[cname]
        if part.plastic is not None:  # per-lane weights and traces (pygenn_plastic.py)
            key.append(pygenn_plastic.create(genn, cname, part, kwargs, derived))
            continue
        # static weights and delays: one copy for every batch lane
        part.wum = create_weight_update_model(part.wu.class_name, vars=[
            (n, t, VarAccess.READ_ONLY) for n, t in part.wu.vars],
                                              pre_spike_syn_code=part.wu.pre_spike_syn_code)
        key.append((cname, repr(kwargs), derived, part.wu, conn.pre.tobytes(),
                    conn.post.tobytes(), np.asarray(conn._delays).tobytes()))
    source_model = create_neuron_model(
        "eqsnn_spike_source", vars=[("start", "int"), ("end", "int")],
        extra_global_params=[("spikeSteps", "int*")],
        threshold_condition_code="start < end && (int)round(t / dt) >= spikeSteps[start]",
        reset_code="start++;")
    return genn_models, source_model, key


def collect_spikes(genn_net, flags, start, stop, step0) -> None:
    """Fill ``flags[p][start:stop]`` (steps, batch, n) of each spiking population ``p`` from
    GeNN's spike recording buffers of ``genn_net`` (a GeNNNetwork), slot
    ``(step0 + i) % recording`` for step ``i``."""
    from pygenn import types as genn_types

    genn_net.genn.pull_recording_buffers_from_device()
    per_pop = genn_net.batch // genn_net.lanes
    for pname, flag in flags.items():
        n = genn_net.net.populations[pname].n
        words = -(-n // 32)
        for lane in range(genn_net.lanes):
            group = genn_net.groups[lane][pname]
            buffer = group._get_array("recordSpk", genn_types.Uint32).view
            buffer = buffer.reshape(genn_net.recording, per_pop, words)
            rows = slice(lane, lane + 1) if genn_net.lanes > 1 else slice(None)
            for i in range(start, stop):
                slot = (step0 + i) % genn_net.recording
                bits = np.unpackbits(buffer[slot].view(np.uint8), axis=-1,
                                     bitorder="little")
                flag[i, rows] = bits[:, :n].astype(bool)
