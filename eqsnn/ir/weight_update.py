"""A weight-update (plasticity) model as a frozen IR value: :class:`WeightUpdate`.

The compiler lowers a ``weight_update`` model onto an ordinary :class:`~eqsnn.ir.Model`
(``eqsnn.frontend.weight_update``): every per-synapse state and trace is a state,
each event block is ``if <block word>: ...`` guarded by a bool input of that
name, and the trace ODEs are integrated by the chosen method after them.
:func:`from_model` takes that model apart again:

* ``params``, ``precompute`` (shared by every part, evaluated on the host);
* ``synapse_states`` (per synapse, ``w`` among them: the weight a spike
  delivers), ``pre_traces`` (per presynaptic neuron), ``post_traces`` (per
  postsynaptic neuron), with their initial values;
* ``pre_dynamics`` / ``post_dynamics``: the statements that advance the pre /
  post traces by one step (reading only that side's traces, params and the
  precompute);
* ``on_pre``, ``on_post``, ``pre_spike``, ``post_spike``: the statements of each
  event block.

Every expression is SymPy over the names above, as in :class:`~eqsnn.ir.Model`;
``docs/network.md`` ("Plasticity") gives the order in which a network runs the
parts.  A backend (or a printer for GeNN's weight-update models) needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CheckError
from .model import Model
from .nodes import Assign, If, Local, Method, Param, PrecomputeItem, State, Statement, While

__all__ = ["BLOCKS", "WeightUpdate", "from_model"]

#: the event blocks (bool inputs of the lowered model)
BLOCKS = ("on_pre", "on_post", "pre_spike", "post_spike")


@dataclass(frozen=True)
class WeightUpdate:
    name: str
    doc: str
    params: tuple[Param, ...]
    precompute: tuple[PrecomputeItem, ...]
    synapse_states: tuple[State, ...]
    pre_traces: tuple[State, ...]
    post_traces: tuple[State, ...]
    pre_dynamics: tuple[Statement, ...]
    post_dynamics: tuple[Statement, ...]
    on_pre: tuple[Statement, ...]
    on_post: tuple[Statement, ...]
    pre_spike: tuple[Statement, ...]
    post_spike: tuple[Statement, ...]
    method: Method
    odes: tuple[tuple[str, sympy.Basic], ...] = ()
    units: tuple = ()

    @property
    def weight(self) -> str:
        return "w"

    def role(self, name: str) -> str | None:
        """``synapse``, ``pre`` or ``post`` for a state or trace, else None."""
        for role, group in (("synapse", self.synapse_states), ("pre", self.pre_traces),
                            ("post", self.post_traces)):
            if any(s.name == name for s in group):
                return role
        return None


def _symbols(stmt) -> set[str]:
    if isinstance(stmt, Assign):
        return {stmt.target} | {str(x) for x in stmt.expr.free_symbols}
    if isinstance(stmt, Local):
        return {stmt.name} | {str(x) for x in stmt.expr.free_symbols}
    out = {str(x) for x in stmt.cond.free_symbols}
    for inner in (*stmt.body, *stmt.orelse):
        out |= _symbols(inner)
    return out


def from_model(model: Model) -> WeightUpdate:
    """The parts of a compiled ``weight_update`` model (see the module doc)."""
    if model.meta.get("kind") != "weight_update":
        raise CheckError(f"{model.name} is not a weight-update model",
                         hint="write one starting with 'weight_update NAME'")
    roles = dict(model.meta.get("roles", ()))
    states = {s.name: s for s in model.states}
    blocks = {word: () for word in BLOCKS}
    side_of: dict[str, str] = {name: role for name, role in roles.items() if role != "synapse"}
    dynamics: dict[str, list] = {"pre": [], "post": []}
    # the adaptive method's loop (checked first: the locals before it belong to no side)
    substeps = any(isinstance(stmt, While) for stmt in model.step)
    for stmt in model.step:
        if isinstance(stmt, If) and isinstance(stmt.cond, sympy.Symbol) \
                and str(stmt.cond) in BLOCKS and not stmt.orelse:
            blocks[str(stmt.cond)] = stmt.body
            continue
        if substeps or any(str(f.func) in ("RandUniform", "RandNormal")
                           for f in _functions(stmt)):
            raise CheckError(f"{model.name}: the trace dynamics need substeps or random "
                             f"numbers ({model.method.name}), which weight-update models do "
                             "not support", hint="write trace ODEs that are solved exactly, "
                             "such as 'dx/dt = -x / tau', or name a fixed-step method "
                             "('method: rk4')")
        sides = {side_of[n] for n in _symbols(stmt) if n in side_of}
        if len(sides) != 1:
            raise CheckError(f"{model.name}: a step of the trace dynamics mixes pre and post "
                             "traces", hint="a trace's ODE reads only traces of its own side")
        side = sides.pop()
        dynamics[side].append(stmt)
        if isinstance(stmt, Local):
            side_of[stmt.name] = side
    group = {role: tuple(states[n] for n, r in roles.items() if r == role)
             for role in ("synapse", "pre", "post")}
    return WeightUpdate(
        name=model.name, doc=model.doc, params=model.params, precompute=model.precompute,
        synapse_states=group["synapse"], pre_traces=group["pre"], post_traces=group["post"],
        pre_dynamics=tuple(dynamics["pre"]), post_dynamics=tuple(dynamics["post"]),
        on_pre=blocks["on_pre"], on_post=blocks["on_post"], pre_spike=blocks["pre_spike"],
        post_spike=blocks["post_spike"], method=model.method, odes=model.odes,
        units=model.units)


def _functions(stmt):
    exprs = []
    if isinstance(stmt, (Assign, Local)):
        exprs.append(stmt.expr)
    elif isinstance(stmt, If):
        exprs.append(stmt.cond)
    for expr in exprs:
        yield from expr.atoms(sympy.Function)
