"""A plastic eqsnn weight-update model (:class:`~eqsnn.ir.WeightUpdate`) as a GeNN 5
weight-update model, in eqsnn's order within a step.

GeNN's single-threaded CPU backend runs one step ``j`` as: the presynaptic update
(spikes emitted in step ``j - 1`` arrive: ``pre_spike_syn_code``), the postsynaptic
update (the target spikes of step ``j - 1``: ``post_spike_syn_code``), then the
neurons (each neuron's ``pre_dynamics_code`` / ``post_dynamics_code`` after its sim
code, then, where it spikes, ``pre_spike_code`` / ``post_spike_code``).  eqsnn's step
``k`` (``docs/network.md``, "Plasticity") is: arrivals (deliver ``w``, ``on_pre``,
``pre_spike``), the neurons, ``on_post`` and ``post_spike``, then the trace dynamics.
With a delay of one step (GeNN's ``axonal_delay_steps = 0``) the printed code gives
eqsnn's values everywhere:

* **on_post of step k runs in GeNN's step k + 1**, after that step's arrivals: so a
  synapse whose target spiked in step ``k`` and whose presynaptic spike arrives in step
  ``k + 1`` runs ``on_post`` first, inside ``pre_spike_syn_code``, before it delivers
  ``w``; ``post_spike_syn_code`` skips exactly those synapses (the presynaptic neuron
  has ``eqsnn_arrived`` set), so each synapse gets ``on_post`` once, in eqsnn's order;
* **pre traces advance at arrival**: ``pre_spike_code`` only sets the hidden pre var
  ``eqsnn_arrived``; the next step's ``pre_dynamics_code`` runs ``pre_spike`` where it
  is set, keeps the trace after it in ``eqsnn_mid_<x>`` (what ``on_post`` reads) and then
  advances the trace, so ``on_pre`` reads the trace before the arrival;
* **post traces**: ``post_dynamics_code`` keeps the trace before the step in
  ``eqsnn_old_<y>`` (what ``on_post`` reads) and advances it; ``post_spike_code``
  starts again from ``eqsnn_old_<y>``, runs ``post_spike`` and then the dynamics, so the
  trace is eqsnn's (spike, then dynamics), and sets ``eqsnn_fired``, which the
  synapse code reads as "the target spiked in the previous step".

The ``on_post`` of a run's last step is therefore still pending when GeNN stops; the
network runs it on the host (the same statements, :mod:`eqsnn.network.host_statements`)
and clears ``eqsnn_fired`` (:mod:`eqsnn.backends.pygenn_plastic`).  Every eqsnn name
``n`` becomes ``wu_n`` (``wu__n`` for a leading underscore): GeNN keeps one namespace
for a synapse group's weight-update and postsynaptic names.  Printing needs no PyGeNN.
"""

from __future__ import annotations

import sympy

from .. import ir
from ..errors import BackendError
from .genn_code import print_genn

__all__ = ["ARRIVED", "FIRED", "genn_name", "mid_name", "old_name", "plastic_parts"]

#: hidden pre var: the neuron's spike of the previous step arrives in this one
ARRIVED = "eqsnn_arrived"
#: hidden post var: the target spiked in the previous step
FIRED = "eqsnn_fired"
_TYPES = {"float": "scalar", "int": "int", "bool": "bool"}


def genn_name(name: str) -> str:
    """The GeNN name of an eqsnn weight-update name (param, precompute, state, trace)."""
    return "wu" + name if name.startswith("_") else "wu_" + name


def mid_name(trace: str) -> str:
    """The hidden pre var: a pre trace after this step's arrival, before its dynamics."""
    return "eqsnn_mid_" + trace.lstrip("_")


def old_name(trace: str) -> str:
    """The hidden post var: a post trace as it was before the step."""
    return "eqsnn_old_" + trace.lstrip("_")


def _rename(stmt, subs: dict, targets: dict):
    if isinstance(stmt, ir.Assign):
        return ir.Assign(targets.get(stmt.target, stmt.target), stmt.expr.xreplace(subs))
    if isinstance(stmt, ir.Local):
        return ir.Local(stmt.name, stmt.dtype, stmt.expr.xreplace(subs))
    if isinstance(stmt, ir.If):
        return ir.If(stmt.cond.xreplace(subs), tuple(_rename(s, subs, targets)
                                                     for s in stmt.body),
                     tuple(_rename(s, subs, targets) for s in stmt.orelse))
    raise BackendError(f"a {type(stmt).__name__} statement cannot be printed in a GeNN "
                       "weight-update model")


class _Printer:
    def __init__(self, wu: ir.WeightUpdate, precision: str, wide_math: bool):
        self.wu, self.precision, self.wide_math = wu, precision, wide_math
        precompute = [n for item in wu.precompute
                      for n in ([item.name] if isinstance(item, ir.Derived) else item.names())]
        self.params = tuple(ir.Param(genn_name(p.name), p.dtype) for p in wu.params) + tuple(
            ir.Param(genn_name(n), "float") for n in precompute)
        states = (*wu.synapse_states, *wu.pre_traces, *wu.post_traces)
        self.states = tuple(ir.State(genn_name(s.name), s.dtype) for s in states) + tuple(
            ir.State(mid_name(s.name), s.dtype) for s in wu.pre_traces) + tuple(
            ir.State(old_name(s.name), s.dtype) for s in wu.post_traces)
        self.base = {n: genn_name(n) for n in [p.name for p in wu.params]
                     + precompute + [s.name for s in states]}

    def block(self, statements, reads: dict | None = None) -> str:
        """``statements`` as GeNN code; ``reads`` maps a trace to the var it reads."""
        if not statements:
            return ""
        names = {**self.base, **(reads or {})}
        subs = {sympy.Symbol(n): sympy.Symbol(g) for n, g in names.items()}
        targets = dict(self.base)
        body = tuple(_rename(s, subs, targets) for s in statements)
        model = ir.Model(f"{self.wu.name}_block", params=self.params, states=self.states,
                         step=body)
        code = print_genn(model, self.precision, wide_math=self.wide_math)
        if code.draws:
            raise BackendError(f"weight-update model {self.wu.name} draws random numbers, "
                               "which the pygenn backend does not support")
        declared = {p.name for p in self.params} | {s.name for s in self.states}
        bad = sorted(n for n in declared if code.names.get(n, n) != n)
        if bad:
            raise BackendError(f"weight-update model {self.wu.name}: the name "
                               f"{bad[0]!r} cannot be printed for GeNN", hint="rename it")
        return code.sim_code


def _indent(code: str) -> str:
    return "\n".join("    " + line for line in code.splitlines())


def plastic_parts(wu: ir.WeightUpdate, precision: str = "float32", *,
                  wide_math: bool = True) -> dict:
    """The arguments of ``pygenn.create_weight_update_model`` for ``wu`` (see the module
    doc): ``params`` ``(name, type)`` (its params and its host precompute, whose values
    the host gives), ``vars``, ``pre_vars``, ``post_vars`` ``(name, type)``, and the code
    strings."""
    printer = _Printer(wu, precision, wide_math)
    g = genn_name
    at_post = {**{t.name: mid_name(t.name) for t in wu.pre_traces},
               **{t.name: old_name(t.name) for t in wu.post_traces}}
    on_post = printer.block(wu.on_post, at_post)
    on_pre = printer.block(wu.on_pre)
    deliver = f"addToPost({g(wu.weight)});"
    pre_syn = []
    if on_post:
        pre_syn += [f"if ({FIRED} != 0) {{", _indent(on_post), "}"]
    pre_syn += [deliver] + ([on_pre] if on_pre else [])
    post_syn = ([f"if ({FIRED} != 0 && {ARRIVED} == 0) {{", _indent(on_post), "}"]
                if on_post else [])
    pre_dyn = []
    pre_spike = printer.block(wu.pre_spike)
    if pre_spike:
        pre_dyn += [f"if ({ARRIVED} != 0) {{", _indent(pre_spike), "}"]
    pre_dyn += [f"{mid_name(t.name)} = {g(t.name)};" for t in wu.pre_traces]
    pre_dyn += [printer.block(wu.pre_dynamics)] if wu.pre_dynamics else []
    pre_dyn.append(f"{ARRIVED} = 0;")
    post_dyn = [f"{FIRED} = 0;"] + [f"{old_name(t.name)} = {g(t.name)};"
                                    for t in wu.post_traces]
    post_dynamics = printer.block(wu.post_dynamics)
    post_dyn += [post_dynamics] if post_dynamics else []
    post_spk = [f"{FIRED} = 1;"] + [f"{g(t.name)} = {old_name(t.name)};"
                                    for t in wu.post_traces]
    post_spike = printer.block(wu.post_spike)
    post_spk += ([post_spike] if post_spike else []) + ([post_dynamics] if post_dynamics
                                                         else [])
    # GeNN passes no bool params (its FFI): a bool param is an int 0 or 1
    typed = {p.name: "int" if p.dtype == "bool" else _TYPES[p.dtype] for p in printer.params}
    return {
        "params": tuple(typed.items()),
        "vars": tuple((g(s.name), _TYPES[s.dtype]) for s in wu.synapse_states),
        "pre_vars": tuple((g(t.name), _TYPES[t.dtype]) for t in wu.pre_traces)
        + tuple((mid_name(t.name), _TYPES[t.dtype]) for t in wu.pre_traces)
        + ((ARRIVED, "int"),),
        "post_vars": tuple((g(t.name), _TYPES[t.dtype]) for t in wu.post_traces)
        + tuple((old_name(t.name), _TYPES[t.dtype]) for t in wu.post_traces)
        + ((FIRED, "int"),),
        "pre_spike_syn_code": "\n".join(pre_syn),
        "post_spike_syn_code": "\n".join(post_syn) or None,
        "pre_spike_code": f"{ARRIVED} = 1;",
        "post_spike_code": "\n".join(post_spk),
        "pre_dynamics_code": "\n".join(pre_dyn),
        "post_dynamics_code": "\n".join(post_dyn),
    }
