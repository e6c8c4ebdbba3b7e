"""Plastic connections of a network on pygenn: the GeNN weight-update model of a
connection's :class:`~eqsnn.ir.WeightUpdate` (printed by
:mod:`eqsnn.printing.genn_plasticity`), and the host side of its state.

The host's :class:`~eqsnn.network.plasticity.Plastic` state (``conn.plastic_state``)
is what the user reads and sets between runs.  Before a run it is written into GeNN
(every lane's synapse group, :func:`push`); after the run it is read back
(:func:`pull`), and the ``on_post`` of the run's last step, which GeNN would only run
in the next step, is run on the host with the same statements and ``eqsnn_fired`` is
cleared in GeNN, so that GeNN does not run it again (:func:`finish`).  A recorded
per-synapse state is the end-of-step value: GeNN's value with that step's pending
``on_post`` applied on a copy (:func:`recorded`).
"""

from __future__ import annotations

import numpy as np

from ..errors import BackendError
from ..network.host_statements import run_statements
from ..printing.genn_plasticity import FIRED, genn_name, mid_name, old_name

__all__ = ["check", "check_delays", "check_names", "create", "finish", "initial",
           "model_kwargs", "params", "pull", "push", "recorded", "start"]


def check(genn, conn) -> None:
    """Refuse what the printed model cannot run exactly as eqsnn (docs/backends-pygenn.md)."""
    what = f"plastic connection {conn.name!r} ({conn._plastic.model.name})"
    if genn.backend != "single_threaded_cpu":
        raise BackendError(f"{what} runs on GeNN's single-threaded CPU backend only; this "
                           f"GeNN uses {genn.backend!r}",
                           hint="run plastic networks on the numpy or c backend")
    check_delays(conn)


def check_delays(conn) -> None:
    """Refuse a plastic connection with a delay other than 1 step (needs no PyGeNN: a
    network on pygenn refuses it when connecting)."""
    what = f"plastic connection {conn.name!r} ({conn._plastic.model.name})"
    lo, hi = conn._delay_range
    if (lo, hi) != (1, 1):
        raise BackendError(
            f"{what} has delays of {lo} to {hi} steps; on pygenn a plastic connection needs a "
            "delay of 1 step (GeNN's axonal_delay_steps = 0): GeNN keeps presynaptic "
            "variables as they were at emission and runs the synapse code at emission for "
            "dendritic delays, where eqsnn updates pre traces and runs on_pre at arrival",
            hint="use delay=1 for plastic connections on pygenn, or run the network on "
            "numpy or c")


def check_names(conn, ps_names: dict, parts: dict) -> None:
    """Refuse a synapse model whose GeNN names (``ps_names``) take a name of the printed
    weight-update model (``parts``, from ``plastic_parts``)."""
    clash = sorted(set(ps_names.values()) & {
        n for group in ("params", "vars", "pre_vars", "post_vars") for n, _ in parts[group]})
    if clash:
        raise BackendError(f"connection {conn.name!r}: synapse model "
                           f"{conn.synapse_model.name} uses the name {clash[0]!r}, which the "
                           "pygenn backend keeps for the weight-update model",
                           hint="rename it")


def params(plastic) -> dict:
    """GeNN param values: the weight-update params and host precompute, in the precision."""
    out = {}
    for name, value in plastic.consts.items():
        if name == "dt":
            continue
        value = value.item() if hasattr(value, "item") else value
        out[genn_name(name)] = int(value) if isinstance(value, bool) else value
    return out


def model_kwargs(part, VarAccess) -> dict:
    """The keyword arguments of ``create_weight_update_model`` for a plastic part."""
    parts = part.wu_parts  # printed and checked when connecting (printed_models)
    kwargs = dict(parts)
    kwargs["params"] = list(parts["params"])
    kwargs["vars"] = [(n, t, VarAccess.READ_WRITE) for n, t in parts["vars"]]
    kwargs["pre_vars"] = [(n, t, VarAccess.READ_WRITE) for n, t in parts["pre_vars"]]
    kwargs["post_vars"] = [(n, t, VarAccess.READ_WRITE) for n, t in parts["post_vars"]]
    return {k: v for k, v in kwargs.items() if v not in (None, [], "")}


def _groups(genn, cname):
    return [genn.synapses[lane][cname] for lane in range(genn.lanes)]


def push(genn, cname, plastic, *, fresh=False) -> None:
    """Write the host state of every lane into GeNN; ``fresh`` also starts the hidden vars
    (after a load: no arrival or target spike pending)."""
    model = plastic.model
    for lane, sg in enumerate(_groups(genn, cname)):
        for s in model.synapse_states:
            var = sg.vars[genn_name(s.name)]
            var.values = plastic.state[s.name][lane]
            var.push_to_device()
        for side, traces, hidden, flag in (
                ("pre", model.pre_traces, mid_name, "eqsnn_arrived"),
                ("post", model.post_traces, old_name, FIRED)):
            group = sg.pre_vars if side == "pre" else sg.post_vars
            for t in traces:
                names = [genn_name(t.name)] + ([hidden(t.name)] if fresh else [])
                for name in names:
                    group[name].view[:] = plastic.state[t.name][lane]
                    group[name].push_to_device()
            if fresh:
                group[flag].view[:] = 0
                group[flag].push_to_device()


def _read(genn, cname, plastic):
    """Per lane: every GeNN var of the connection, pulled, by GeNN name."""
    out = []
    for sg in _groups(genn, cname):
        values = {}
        for group in (sg.vars, sg.pre_vars, sg.post_vars):
            for name, var in group.items():
                var.pull_from_device()
                values[name] = np.array(var.values if group is sg.vars else var.view)
        out.append(values)
    return out


def _pending_on_post(plastic, values) -> dict:
    """One lane's per-synapse states with the on_post of the target spikes of the last
    step (``eqsnn_fired``) applied, by eqsnn name."""
    model, conn = plastic.model, plastic.conn
    states = {s.name: values[genn_name(s.name)].astype(plastic.dtypes[s.name])
              for s in model.synapse_states}
    fired = values[FIRED].reshape(-1) != 0
    syn = np.flatnonzero(fired[conn.post])
    if syn.size and plastic.ops["on_post"]:
        env = dict(plastic.consts)
        env.update({n: v[syn] for n, v in states.items()})
        pre, post = conn.pre[syn], conn.post[syn]
        for t in model.pre_traces:
            env[t.name] = values[mid_name(t.name)].reshape(-1)[pre].astype(plastic.dtypes[t.name])
        for t in model.post_traces:
            env[t.name] = values[old_name(t.name)].reshape(-1)[post].astype(
                plastic.dtypes[t.name])
        with np.errstate(all="ignore"):
            run_statements(plastic.ops["on_post"], env, plastic.dtypes)
        for n in states:
            states[n][syn] = env[n]
    for t in (*model.pre_traces, *model.post_traces):
        states[t.name] = values[genn_name(t.name)].reshape(-1).astype(plastic.dtypes[t.name])
    return states


def recorded(genn, cname, plastic, names) -> dict:
    """The end-of-step values ``(batch, n)`` of the plastic states ``names``."""
    lanes = [_pending_on_post(plastic, v) for v in _read(genn, cname, plastic)]
    return {n: np.stack([lane[n] for lane in lanes]) for n in names}


def pull(genn, cname, plastic) -> None:
    """finish's first half: the host state from GeNN, with the last step's on_post."""
    lanes = [_pending_on_post(plastic, v) for v in _read(genn, cname, plastic)]
    for name in plastic.state:
        plastic.state[name] = np.stack([lane[name] for lane in lanes]).astype(
            plastic.dtypes[name])


def finish(genn, cname, plastic) -> None:
    """After a run: read the state back (see the module doc) and clear ``eqsnn_fired``,
    since the host has run the pending on_post."""
    pull(genn, cname, plastic)
    for sg in _groups(genn, cname):
        sg.post_vars[FIRED].view[:] = 0
        sg.post_vars[FIRED].push_to_device()


def initial(part, lane):
    """``init_weight_update`` of lane ``lane``: the params and the host state now (the
    load writes the state again, :func:`push`)."""
    from pygenn import init_weight_update
    plastic = part.plastic
    model = plastic.model
    syn = {genn_name(s.name): plastic.state[s.name][lane] for s in model.synapse_states}
    pre, post = {"eqsnn_arrived": 0}, {FIRED: 0}
    for traces, hidden, out in ((model.pre_traces, mid_name, pre),
                                (model.post_traces, old_name, post)):
        for t in traces:
            out[genn_name(t.name)] = plastic.state[t.name][lane]
            out[hidden(t.name)] = plastic.state[t.name][lane]
    return init_weight_update(part.wum, part.wu_values, syn, pre, post)


def create(genn, cname, part, ps_kwargs, derived):
    """Create the GeNN weight-update model of plastic connection ``cname`` (``part.wum``,
    ``part.wu_values``); returns its entry of the build's cache key."""
    from pygenn import VarAccess, create_weight_update_model
    net = genn.net
    conn = net.connections[cname]
    wu_kwargs = model_kwargs(part, VarAccess)
    part.wum = create_weight_update_model(f"eqsnn_wu_{cname}", **wu_kwargs)
    part.wu_values = params(part.plastic)
    return (cname, repr(ps_kwargs), derived, repr(wu_kwargs), repr(part.wu_values),
            conn.pre.tobytes(), conn.post.tobytes())


def start(genn, records):
    """Before a run: push every plastic connection's host state; ``(plastic, own)``: the
    plastic parts by connection and the plastic states recorded per record key."""
    plastic = {c: part.plastic for c, part in genn.conns.items() if part.plastic is not None}
    for cname, rule in plastic.items():
        push(genn, cname, rule)
    own = {key: plan[3] for key, plan in records.items()
           if plan[0] == "target" and key in plastic and plan[3]}
    return plastic, own
