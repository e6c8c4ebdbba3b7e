"""Synapse (postsynaptic) models: what the checker does differently for them.

A synapse model holds state per target neuron.  Its parts beyond a neuron's
``param``/``state``/``let``/``switch``/ODEs/``after:``/``method:``:

* ``on_spike:`` -- what the step's summed weight ``w`` (a built-in input of
  every synapse model) does: statements ``state += f(w)`` only, where ``f``
  reads ``w``, params and constants and ``f(0) = 0`` (so running it every
  step with the sum equals running it once per arriving spike sum);
* ``output: expr`` -- what the target neuron receives into one of its inputs;
  it may read the synapse's states and params and the target's states named
  by ``post NAME`` declarations (their start-of-step values);
* ``post NAME`` -- a state of the target neuron that ``output:`` reads;
  ``post NAME [UNIT]`` in a model with units, where every ``post`` needs its
  unit (the unit of the state as the synapse reads it: the network checks the
  target's dimension when connecting, :mod:`eqsnn.network.compose`).

The checker lowers these onto a neuron's parts, so that the rest of the
pipeline (analysis, exact solvers, IR) is shared: ``w`` and every ``post``
name become inputs, ``on_spike:`` the start of the ``before:`` block, and
``output:`` a local named ``output`` right after it (whose dimension, in a model
with units, the network checks against the target input's); the model's step is then
``on_spike`` statements, ``output``, the integration, ``after:``.  The network
(:mod:`eqsnn.network`) splices that step into the target neuron's step.
"""

from __future__ import annotations

import sympy

from . import syntax as s
from .dimensions import check_synapse_dimensions
from .syntax import error_at as _error
from .unit_syntax import uses_units

#: the built-in input of a synapse model: the summed weight arriving this step
WEIGHT = "w"
#: the name of the local that holds the output in the compiled step
OUTPUT = "output"

_NEURON_ONLY = {
    "input": "a synapse model's only input is the summed weight 'w'",
    "array": "a synapse model has no arrays",
    "threshold": "a synapse model does not spike",
    "negative_threshold": "a synapse model does not spike",
    "refractory": "a synapse model has no refractory period",
    "reset": "a synapse model does not spike, so it has no reset",
    "negative_reset": "a synapse model does not spike, so it has no reset",
    "before": "write what arriving spikes do in 'on_spike:'",
}


def _kind(decl) -> str | None:
    if isinstance(decl, s.InputDecl):
        return "input"
    if isinstance(decl, s.ArrayDecl):
        return "array"
    if isinstance(decl, (s.BlockDecl, s.ConditionDecl)):
        return decl.kind
    return None


def neuron_declarations(decls: list) -> list:
    """A neuron's declarations, rejecting the parts only a synapse model has."""
    for decl in decls:
        if isinstance(decl, (s.OutputDecl, s.PostDecl)) or _kind(decl) == "on_spike":
            what = {s.OutputDecl: "output:", s.PostDecl: "post"}.get(type(decl), "on_spike:")
            raise _error(f"'{what}' belongs to a synapse model", decl.pos,
                         "start the file with 'synapse NAME' to write a postsynaptic model")
    return decls


def synapse_declarations(decls: list, model: str) -> tuple[
        list, tuple[s.Assign, ...], tuple[str, ...]]:
    """A synapse's declarations lowered onto a neuron's (see the module doc).

    Returns the declarations, the ``on_spike`` statements (for
    :func:`check_on_spike`) and the ``post`` names.
    """
    outputs = [d for d in decls if isinstance(d, s.OutputDecl)]
    if not outputs:
        pos = decls[0].pos if decls else s.Pos(1, 1)
        raise _error("a synapse model needs 'output: EXPR', what the target receives", pos,
                     "add e.g. 'output: g' (a current) or 'output: g * (E - V)' with 'post V'")
    if len(outputs) > 1:
        raise _error("a synapse model has one 'output:'", outputs[1].pos,
                     "add the terms into one expression")
    lowered, on_spike, posts = [], [], []
    for decl in decls:
        kind = _kind(decl)
        if kind in _NEURON_ONLY:
            raise _error(f"'{kind.replace('_', ' ')}' is not allowed in a synapse model",
                         decl.pos, _NEURON_ONLY[kind])
        if getattr(decl, "name", None) == WEIGHT:
            raise _error(f"{WEIGHT!r} is the summed weight of a synapse model and cannot be "
                         "declared", decl.pos, "choose another name")
        if isinstance(decl, s.PostDecl):
            posts.append(decl.name)
            lowered.append(s.InputDecl(decl.name, "float", None, decl.pos, decl.unit))
        elif kind == "on_spike":
            for stmt in decl.body:
                if not isinstance(stmt, s.Assign) or stmt.op != "+=":
                    raise _error("'on_spike:' may only add to states ('g += w')", stmt.pos,
                                 "write 'STATE += f(w)'; put other statements in 'after:'")
            on_spike.extend(decl.body)
        elif not isinstance(decl, s.OutputDecl):
            lowered.append(decl)
    output = outputs[0]
    _check_post_units(decls, model)
    # the summed weight has the unit of the state that on_spike adds it to (g += w)
    units = {d.name: _unit_written(d) for d in decls if isinstance(d, s.StateDecl)}
    units = {name: unit for name, unit in units.items() if unit is not None}
    unit = next((units[stmt.target] for stmt in on_spike if stmt.target in units), None)
    weight = s.InputDecl(WEIGHT, "float", None, output.pos, unit)
    before = s.BlockDecl("before", (*on_spike, s.LocalDef(OUTPUT, output.expr, output.pos)),
                         output.pos)
    return [weight, *lowered, before], tuple(on_spike), tuple(posts)


def _check_post_units(decls, model: str) -> None:
    """In a synapse model with units, every ``post`` name has a unit: Brian2 reads a target's
    variable with its unit, and eqsnn cannot see the target when it compiles the synapse."""
    posts = [d for d in decls if isinstance(d, s.PostDecl)]
    bare = [post for post in posts if post.unit is None]
    if not bare or not (uses_units(decls) or len(bare) < len(posts)):
        return
    name = bare[0].name
    raise _error(f"'post {name}' has no unit, but synapse model {model} uses units, so "
                 f"{name} would be read as a dimensionless number", bare[0].pos,
                 f"write the unit of the target's state: 'post {name} [mV]' for a membrane "
                 f"potential, 'post {name} [1]' for a dimensionless state")


def _unit_written(decl: s.StateDecl):
    """The unit of a state as written: its annotation ``[nS]`` or that of ``0.0 nS``."""
    if decl.unit is not None:
        return decl.unit
    value = decl.init
    while isinstance(value, s.Unary) and value.op in "+-":
        value = value.operand
    return value.unit if isinstance(value, s.Quantity) else None


def output_local(decls) -> s.LocalDef:
    """The local that :func:`synapse_declarations` made of ``output:``."""
    return next(d.body[-1] for d in decls if isinstance(d, s.BlockDecl) and d.kind == "before"
                and d.body and isinstance(d.body[-1], s.LocalDef) and d.body[-1].name == OUTPUT)


def synapse_dimensions(decls, switches: dict):
    """The units of a synapse model's declarations (see
    :func:`~eqsnn.frontend.dimensions.check_synapse_dimensions`) and of its output."""
    return check_synapse_dimensions(decls, switches, output_local(decls).expr)


def check_output(local_types: dict, decls) -> None:
    """The output is a float: what a neuron's float input receives."""
    kind = local_types.get(OUTPUT)
    if kind != "float":
        pos = output_local(decls).pos
        what = "a condition" if kind == "bool" else "an int"
        raise _error(f"'output:' must be a float value, not {what}", pos,
                     "write a current or a conductance form such as 'g' or 'g * (E - V)' "
                     "(1.0, not 1)")


def check_on_spike(before, on_spike: tuple[s.Assign, ...], params, states) -> None:
    """Each ``on_spike`` statement adds ``f(w)`` with ``f`` over w and params, ``f(0) = 0``."""
    w = sympy.Symbol(WEIGHT)
    allowed = {w, sympy.Symbol("dt")} | {sympy.Symbol(p) for p in params}
    for stmt, raw in zip(before, on_spike):
        if stmt.target not in states:
            raise _error(f"'on_spike:' adds to {stmt.target!r}, which is not a state", raw.pos,
                         "declare it with 'state NAME = 0.0'")
        added = sympy.expand(stmt.expr - sympy.Symbol(stmt.target))
        extra = added.free_symbols - allowed
        if extra:
            names = ", ".join(sorted(map(str, extra)))
            raise _error(f"'on_spike:' may add a function of the summed weight 'w' and params "
                         f"only; this reads {names}", raw.expr.pos,
                         "move terms that read states into the ODEs or 'after:'")
        if w not in added.free_symbols or sympy.simplify(added.subs(w, 0)) != 0:
            raise _error("'on_spike:' must add something that is 0 when no spike arrives "
                         "(a function f(w) with f(0) = 0)", raw.expr.pos,
                         "write e.g. 'g += w' or 'g += scale * w'")
