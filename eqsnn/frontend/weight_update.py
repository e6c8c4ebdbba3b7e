"""Weight-update (plasticity) models: what the checker does differently for them.

A weight-update model (``weight_update NAME``) holds state per synapse and
per-neuron traces.  Its parts beyond ``param``/``let``/``switch``/ODEs/``method:``:

* ``state w = ...`` -- a per-synapse state; ``w`` is required and is the weight
  a spike delivers.  Per-synapse states change only in the event blocks (they
  have no ODEs);
* ``pre state x = ...`` / ``post state y = ...`` -- a trace per presynaptic /
  postsynaptic neuron, each with an ODE (solved like a neuron's) that reads
  only traces of its own side and params;
* ``on_pre:`` / ``on_post:`` -- statements per synapse when the pre spike
  arrives / when the target spikes; they write per-synapse states and read
  everything;
* ``pre_spike:`` / ``post_spike:`` -- statements per neuron that update that
  side's traces (``x += 1.0``), reading that side's traces and params.

The checker lowers them onto a neuron's parts so that the rest of the pipeline
(analysis, exact solvers, IR) is shared: every state and trace becomes a state,
each block becomes ``if <block word>: ...`` in ``before:`` with the block word
a bool input.  :func:`eqsnn.ir.weight_update.from_model` takes the compiled
model apart again into an :class:`eqsnn.ir.WeightUpdate`; ``docs/network.md``
("Plasticity") gives the order in which the network runs the parts.
"""

from __future__ import annotations

from . import syntax as s
from .synapse import _kind as _synapse_kind
from .syntax import error_at as _error

#: the per-synapse state that a spike delivers
WEIGHT = "w"
#: the event blocks, in the order the lowered model holds them
BLOCKS = ("on_pre", "on_post", "pre_spike", "post_spike")
#: what each block may assign: per-synapse states, pre or post traces
WRITES = {"on_pre": "synapse", "on_post": "synapse", "pre_spike": "pre", "post_spike": "post"}

_ROLE_WORDS = {"synapse": "a per-synapse state", "pre": "a pre trace", "post": "a post trace"}
_NOT_HERE = {
    "input": "a weight-update model reads its traces and states; it has no inputs",
    "array": "a weight-update model has no arrays",
    "threshold": "a weight-update model does not spike",
    "negative_threshold": "a weight-update model does not spike",
    "refractory": "a weight-update model has no refractory period",
    "reset": "write what a spike does in 'on_pre:', 'on_post:', 'pre_spike:' or 'post_spike:'",
    "negative_reset": "a weight-update model does not spike",
    "before": "write what a spike does in 'on_pre:', 'on_post:', 'pre_spike:' or 'post_spike:'",
    "after": "write what a spike does in 'on_pre:', 'on_post:', 'pre_spike:' or 'post_spike:'",
    "on_spike": "'on_spike:' belongs to a postsynaptic model ('synapse NAME'); a "
                "weight-update model has 'on_pre:' and 'on_post:'",
    "output": "'output:' belongs to a postsynaptic model; the weight 'w' is what a "
              "weight-update model delivers",
    "post": "a weight-update model reads post traces ('post state y = 0.0'), not the "
            "target's states",
}


def _kind(decl) -> str | None:
    """What a declaration is, for the message that refuses it (synapse models' kinds, and
    the two parts only they have)."""
    if isinstance(decl, s.OutputDecl):
        return "output"
    if isinstance(decl, s.PostDecl):
        return "post"
    return _synapse_kind(decl)


def names_in(expr) -> set[str]:
    """Every name an expression of the syntax tree reads (calls and arrays excluded)."""
    if isinstance(expr, s.Name):
        return {expr.id}
    if isinstance(expr, s.Call):
        return set().union(*(names_in(a) for a in expr.args))
    if isinstance(expr, s.Index):
        return names_in(expr.index)
    if isinstance(expr, s.Unary):
        return names_in(expr.operand)
    if isinstance(expr, s.Binary):
        return names_in(expr.left) | names_in(expr.right)
    return set()


def _statements(body):
    """Every statement of a block, nested ones included, with the condition reads."""
    for stmt in body:
        if isinstance(stmt, s.IfStatement):
            for cond, inner in stmt.branches:
                yield cond, None
                yield from _statements(inner)
            yield from _statements(stmt.orelse)
        elif stmt is not None:
            yield stmt.expr, stmt


def reject_in_other_models(decls, kind: str) -> None:
    """A neuron or postsynaptic model has no traces and no weight-update blocks."""
    for decl in decls:
        if isinstance(decl, s.StateDecl) and decl.scope:
            raise _error(f"'{decl.scope} state' belongs to a weight-update model", decl.pos,
                         "start the file with 'weight_update NAME' to write plasticity, or "
                         "declare a plain 'state'")
        if isinstance(decl, s.BlockDecl) and decl.kind in BLOCKS:
            raise _error(f"'{decl.kind}:' belongs to a weight-update model", decl.pos,
                         "start the file with 'weight_update NAME' to write plasticity"
                         + ("" if kind == "neuron" else "; a synapse model has 'on_spike:'"))


class _Roles:
    """The role of every name: param, let, synapse state, pre or post trace."""

    def __init__(self, decls):
        self.role: dict[str, str] = {}
        self.lets: dict[str, s.LetDecl] = {}
        for decl in decls:
            if isinstance(decl, s.StateDecl):
                self.role[decl.name] = decl.scope or "synapse"
            elif isinstance(decl, s.LetDecl):
                self.lets[decl.name] = decl

    def reads(self, expr, seen=()) -> set[str]:
        """The states and traces an expression reads, through lets."""
        out = set()
        for name in names_in(expr):
            if name in self.role:
                out.add(name)
            elif name in self.lets and name not in seen:
                out |= self.reads(self.lets[name].expr, (*seen, name))
        return out

    def describe(self, name) -> str:
        return f"{name!r} ({_ROLE_WORDS[self.role[name]]})"


def weight_update_declarations(decls: list) -> tuple[list, tuple[tuple[str, str], ...]]:
    """A weight-update model's declarations lowered onto a neuron's (see the module doc).

    Returns the declarations and ``(name, role)`` for every state, the role being
    ``synapse``, ``pre`` or ``post``.
    """
    roles = _Roles(decls)
    blocks: dict[str, list] = {word: [] for word in BLOCKS}
    block_pos: dict[str, s.Pos] = {}
    lowered, odes = [], {}
    for decl in decls:
        kind = _kind(decl)
        if kind in _NOT_HERE:
            word = kind if kind in ("input", "array", "post") else f"{kind}:".replace(
                "negative_", "negative ")
            raise _error(f"'{word}' is not allowed in a weight-update model",
                         decl.pos, _NOT_HERE[kind])
        if getattr(decl, "name", None) in BLOCKS:
            raise _error(f"{decl.name!r} names a block of a weight-update model and cannot be "
                         "declared", decl.pos, "choose another name")
        if kind in BLOCKS:
            blocks[kind].extend(decl.body)
            block_pos.setdefault(kind, decl.pos)
            continue
        if isinstance(decl, s.OdeDecl):
            odes[decl.var] = decl
        lowered.append(s.StateDecl(decl.name, decl.dtype, decl.init, decl.pos, decl.unit,
                                   decl.bounds) if isinstance(decl, s.StateDecl) else decl)
    first = decls[0].pos if decls else s.Pos(1, 1)
    if roles.role.get(WEIGHT) != "synapse":
        raise _error(f"a weight-update model needs the per-synapse state {WEIGHT!r}, the "
                     "weight a spike delivers",
                     first, "add e.g. 'state w = 0.5' (a plain state, not 'pre state')")
    for name, role in roles.role.items():
        state = next(d for d in decls if isinstance(d, s.StateDecl) and d.name == name)
        if role == "synapse" and name in odes:
            raise _error(f"{roles.describe(name)} has an ODE; per-synapse states change only "
                         "in 'on_pre:' and 'on_post:'", odes[name].pos,
                         "give the dynamics to a trace ('pre state x = 0.0' with 'dx/dt = "
                         "-x / tau') and read the trace in 'on_pre:' / 'on_post:'")
        if role != "synapse" and name not in odes:
            raise _error(f"{roles.describe(name)} has no dynamics", state.pos,
                         f"add its ODE, e.g. 'd{name}/dt = -{name} / tau'")
        if state.unit is not None:
            raise _error(f"{roles.describe(name)} has a unit; a weight-update model's states "
                         "and traces are plain numbers", state.pos,
                         "drop the unit (weights are the numbers the postsynaptic model "
                         "receives as 'w'); params may have units")
        if state.bounds:  # the plastic step tests finiteness only: bounds would be ignored
            raise _error(f"{roles.describe(name)} has bounds; a weight-update model's states "
                         "and traces are checked for NaN and infinity only",
                         state.bounds[0].pos, "drop the bounds, and keep the state in "
                         "range in the rule itself, e.g. 'w = clip(w + a_plus * x, 0.0, "
                         "w_max)'")
        if role != "synapse" and state.dtype != "float":
            raise _error(f"{roles.describe(name)} must be a float", state.pos,
                         "declare it as a float")
        if role == "synapse" and name == WEIGHT and state.dtype != "float":
            raise _error(f"the weight {WEIGHT!r} must be a float", state.pos,
                         "declare it as a float: 'state w = 0.5'")
    for var, ode in odes.items():
        side = roles.role.get(var)
        if side not in ("pre", "post"):
            continue
        other = sorted(n for n in roles.reads(ode.rhs) if roles.role[n] != side)
        if other:
            raise _error(f"the dynamics of {roles.describe(var)} read "
                         f"{roles.describe(other[0])}", ode.pos,
                         f"a {side} trace's ODE reads only {side} traces and params")
    for word, body in blocks.items():
        _check_block(word, body, roles)
    flags = [s.InputDecl(word, "bool", s.Bool(False, first), first) for word in BLOCKS]
    guarded = tuple(s.IfStatement(((s.Name(word, block_pos.get(word, first)),
                                    tuple(body)),), (), block_pos.get(word, first))
                    for word, body in blocks.items() if body)
    if guarded:
        lowered.append(s.BlockDecl("before", guarded, guarded[0].pos))
    return [*flags, *lowered], tuple(roles.role.items())


def _check_block(word: str, body, roles: _Roles) -> None:
    writes = WRITES[word]
    for expr, stmt in _statements(body):
        if stmt is not None and isinstance(stmt, s.Assign):
            role = roles.role.get(stmt.target)
            if role is not None and role != writes:
                what = {"synapse": "per-synapse states (such as 'w')",
                        "pre": "pre traces", "post": "post traces"}[writes]
                where = {"synapse": "on_pre:' or 'on_post:", "pre": "pre_spike:",
                         "post": "post_spike:"}[role]
                raise _error(f"'{word}:' writes {roles.describe(stmt.target)}; it may write "
                             f"{what} only", stmt.pos, f"update it in '{where}'")
        if writes in ("pre", "post"):
            other = sorted(n for n in roles.reads(expr) if roles.role[n] != writes)
            if other:
                pos = stmt.pos if stmt is not None else expr.pos
                raise _error(f"'{word}:' reads {roles.describe(other[0])}; it runs once per "
                             f"{writes}synaptic neuron and reads only {writes} traces and "
                             "params", pos,
                             "read per-synapse states and the other side's traces in "
                             "'on_pre:' / 'on_post:'")
