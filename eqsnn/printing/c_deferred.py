"""The adaptive step of the neurons the loop-free try deferred, in three loop-free parts.

:data:`eqsnn.printing.c.FAST_STEP_FUNCTION` tries the whole step in one
substep for every neuron and defers the few where the substep loop must run
(a rejected try, a crossing, a carried substep size below ``dt``).  Running
:data:`~eqsnn.printing.c.STEP_FUNCTION` on each of those one at a time keeps
that part scalar; instead the full step is printed here as three functions
with no loop of their own, so the ``c`` backend runs each across all deferred
neurons of a tile in a loop the compiler vectorises
(:mod:`eqsnn.backends.c_deferred_pass`):

* :data:`BEGIN`: the step up to the substep loop (the same statements as the
  full step, the whole-step try included); returns whether the loop runs.  Where
  :func:`try_error` allows it, the loop-free step leaves the try's error of every
  neuron (:data:`TRY_ERROR`) and ``BEGIN`` starts from it instead of trying the
  step again;
* :data:`ITERATION`: one iteration of the loop body, where ``_active``;
  returns whether the loop goes on (its condition after the iteration);
* :data:`END`: the rest of the step (threshold, reset, the numerical check);
  returns the step's flags;
* :data:`LIGHT_ITERATION`, where the model locates crossings inside the step:
  :data:`ITERATION` without the crossing's location (:func:`rare_branch`,
  long and taken about once per spike, which a vectorised loop would run in
  every lane); where that branch would run it returns :data:`REDO` and changes
  nothing.  The ``c`` backend sets such neurons aside and runs :data:`ITERATION` on them
  together once the others have finished (:mod:`eqsnn.backends.c_deferred_pass`).

States pass through pointers as in the step; the step's locals that one part
leaves for a later one (:func:`carried_locals`: read before they are written
in an iteration or after the loop) pass through pointers ``_c_<name>``; the
other locals are the part's own.  The parts are cut from the lines of the
full step, so they run the same operations in the same order; in a
vectorised loop the math functions are the SIMD ones (within a few ulp), and
the step-size factor, whose last bit decides whether the next step is tried
whole, is read from exact values (:mod:`eqsnn.printing.c_exact`).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from .. import ir
from ..solve.crossings import CROSSED
from .c_printer import VALUE_TYPES, wrap_items

__all__ = ["BEGIN", "ITERATION", "LIGHT_ITERATION", "END", "REDO", "TRY_ERROR",
           "DeferredStep", "carried_locals", "deferred_step", "rare_branch", "try_error"]

BEGIN, ITERATION, END = "eqsnn_deferred_begin", "eqsnn_deferred_iteration", "eqsnn_deferred_end"
#: :data:`ITERATION` without the rare branch (:func:`rare_branch`): where that branch would
#: run it returns :data:`REDO` and leaves everything as it was
LIGHT_ITERATION = "eqsnn_deferred_iteration_light"
REDO = 2
#: the loop-free step's pointer through which it leaves the whole-step try's error, so that
#: :data:`BEGIN` need not try the step again for the neurons it deferred (:func:`try_error`)
TRY_ERROR = "_p_try_err"


#: inlined into the loops around them whatever their size (else they stay calls: scalar)
_INLINE = """\
#if defined(__GNUC__)
#define EQSNN_DEFERRED_FN static inline __attribute__((always_inline))
#define EQSNN_NOINLINE __attribute__((noinline))
#define EQSNN_CTZ64(x) __builtin_ctzll(x)
#else
#define EQSNN_DEFERRED_FN static inline
#define EQSNN_NOINLINE
static int EQSNN_CTZ64(unsigned long long x) { int n = 0; while (!(x & 1)) x >>= 1, ++n; return n; }
#endif"""


@dataclass(frozen=True)
class DeferredStep:
    """The three parts' C text; ``carried``: ``(C type, C name)`` of each local passed
    between them (after the step's parameters, as pointers ``_c_<name>``); ``limit``: the
    most iterations of the loop."""

    text: str
    carried: tuple
    limit: int
    light: bool = False  # whether :data:`LIGHT_ITERATION` is there
    #: whether :data:`BEGIN` takes the try's error from the loop-free step (:func:`try_error`)
    try_error: bool = False


def _reads(expr) -> set[str]:
    return {s.name for s in sympy.sympify(expr).free_symbols}


def _exposed(statements, defined: set, out: set) -> None:
    """Add to ``out`` the names ``statements`` read before writing them on some path;
    ``defined`` (updated): the names written on every path so far."""
    for stmt in statements:
        if isinstance(stmt, ir.If):
            out |= _reads(stmt.cond) - defined
            then, orelse = set(defined), set(defined)
            _exposed(stmt.body, then, out)
            _exposed(stmt.orelse, orelse, out)
            defined |= then & orelse
        elif isinstance(stmt, ir.While):
            out |= _reads(stmt.cond) - defined
            _exposed(stmt.body, set(defined), out)  # may run no time: no definite write
        elif isinstance(stmt, _Read):
            out |= _reads(stmt.expr) - defined
        else:
            out |= _reads(stmt.expr) - defined
            defined.add(stmt.name if isinstance(stmt, ir.Local) else stmt.target)


@dataclass(frozen=True)
class _Read:
    """An expression read at a point (a loop condition, a threshold)."""

    expr: object


def rare_branch(stmt: ir.If) -> bool:
    """Whether ``stmt`` (an ``if`` in the substep loop) is the location of a crossing and the
    reset there (:mod:`eqsnn.solve.crossings`): long (bisections), taken once per spike.  In
    a vectorised loop every lane would run it; :data:`LIGHT_ITERATION` leaves it out."""
    return any(isinstance(inner, ir.Assign) and inner.target == CROSSED for inner in stmt.body)


def try_error(body) -> str | None:
    """The whole-step try's error (a local of the step) where :data:`BEGIN` can take it from
    the loop-free step (through :data:`TRY_ERROR`) instead of trying the step again; else None.

    The try (``eqsnn.solve.adaptive``) is locals (its stages, its error, whether it is
    accepted, whether the neuron is done), the ``if`` that takes the step where it is done,
    and the ``if`` that shrinks the substep where it is rejected.  A deferred neuron needs
    the error and the last ``if`` only: where the neuron is done the time reached is the end
    of the step and the loop does not run, so for a deferred neuron that ``if`` was not
    taken.  The loop-free step computes the error with the same operations on the same
    values, so ``BEGIN`` goes on from the same bits; except for the few neurons a
    vectorised loop leaves to its scalar remainder, whose ``exp`` is the C library's
    scalar one (last bits; ``BEGIN``, vectorised, used libmvec's)."""
    spans = body.loop_marks.get("try")
    if not spans:
        return None
    statements = [stmt for stmt, _ in spans]
    ok_name = body.model.meta["adaptive"].get("try_ok")
    ok = next((k for k, s in enumerate(statements)
               if isinstance(s, ir.Local) and s.name == ok_name), 0)
    if ok < 1 or len(statements) != ok + 4:
        return None
    error, done, take, rejected = statements[ok - 1], *statements[ok + 1:]
    loop = body.loop_marks["loop"]
    dropped = {s.name for s in [*statements[:ok - 1], done] if isinstance(s, ir.Local)}
    model = body.model
    everything = [*model.step, *model.reset, *model.negative_reset,
                  *(ir.If(c, ()) for c in (model.threshold, model.negative_threshold)
                     if c is not None)]
    kept = [stmt for stmt in ir.walk_statements(everything) if stmt is not take and
            not any(stmt is s for s in take.body) and not (
                isinstance(stmt, ir.Local) and stmt.name in dropped | {error.name})]
    read = set().union(*(_reads(s.cond if isinstance(s, (ir.If, ir.While)) else s.expr)
                         for s in kept))
    shaped = (
        all(isinstance(s, ir.Local) for s in [*statements[:ok], done])
        and _reads(statements[ok].expr) == {error.name}
        and isinstance(take, ir.If) and take.cond == sympy.Symbol(done.name) and not take.orelse
        and any(isinstance(s, ir.Assign) and loop.cond == sympy.StrictLessThan(
            sympy.Symbol(s.target), s.expr) for s in take.body)  # the loop does not run
        and isinstance(rejected, ir.If) and rejected.cond == sympy.Not(sympy.Symbol(ok_name)))
    return error.name if shaped and not read & dropped else None


def _begin_from_error(body, error: str) -> list[str]:
    """:data:`BEGIN`'s lines up to its loop with the try's error read from ``_try_err``
    (:func:`try_error`): the try's stages and its taking of the step left out."""
    lines, spans = body.lines, body.loop_marks["try"]
    starts = [at for _, at in spans] + [body.loop_marks["try_close"]]
    ok = len(spans) - 4  # the statements of the try: ..., error, ok, done, take, rejected
    indent = lines[starts[0]][:len(lines[starts[0]]) - len(lines[starts[0]].lstrip())]
    return [*lines[:starts[0]], f"{indent}{body.names[error]} = _try_err;",
            *lines[starts[ok]:starts[ok + 1]], *lines[starts[ok + 3]:starts[ok + 4]],
            *lines[starts[-1]:body.loop_marks["start"]]]


def carried_locals(model: ir.Model, loop: ir.While, locals_) -> list[str]:
    """The locals of ``model``'s step (of ``locals_``) that one iteration of ``loop`` or the
    rest of the step after it reads before writing them: they pass between the parts."""
    index = next(k for k, stmt in enumerate(model.step) if stmt is loop)
    out: set[str] = set()
    _exposed([*loop.body, _Read(loop.cond)], set(), out)
    after: list = [*model.step[index + 1:]]
    for condition, block in ((model.threshold, model.reset),
                             (model.negative_threshold, model.negative_reset)):
        if condition is not None:
            after.append(ir.If(condition, tuple(block)))
    _exposed(after, set(), out)
    return [name for name in locals_ if name in out]


def deferred_step(body, signature) -> DeferredStep:
    """The three parts from the printed full step ``body`` (a ``_StepBody`` of
    :mod:`eqsnn.printing.c` after ``print_all``) with the step's ``signature``."""
    marks, lines, names = body.loop_marks, body.lines, body.names
    carried = carried_locals(body.model, marks["loop"], body.declared)
    types = [(VALUE_TYPES[body.types[name]], names[name]) for name in carried]
    cond = [line[4:] for line in lines[marks["for"] + 2:marks["body"] - 1]]
    loop_body = lines[marks["body"]:marks["close"]]
    states = lines[:body.state_lines]
    own = [lines[k] for name, k in body.declared.items() if name not in carried]
    loads = [f"    {ctype} {name} = *_c_{name};" for ctype, name in types]
    stores = [f"    *_c_{name} = {name};" for _, name in types]
    state_stores = [f"    *_p_{line.split()[1]} = {line.split()[1]};" for line in states]
    pointers = [f"{ctype} *_c_{name}" for ctype, name in types]

    def function(name, parameters, text, comment):
        return [f"/* {comment} */", f"EQSNN_DEFERRED_FN int {name}(",
                *wrap_items(parameters, 4)[:-1], wrap_items(parameters, 4)[-1] + ")",
                "{", *text, "}"]
    error = body.try_error  # set by print_all (try_error)
    begin = function(BEGIN, [*signature, *(["const FLOAT _try_err"] if error else []), *pointers], [
        *(_begin_from_error(body, error) if error else lines[:marks["start"]]),
        *cond, *stores, *state_stores, f"    return {marks['cond']};"],
        "the step up to its substep loop; returns whether the loop runs" + (
            " (the try's error from the loop-free step)" if error else ""))
    iteration = function(ITERATION, [*signature, "const int _active", *pointers], [
        *states, *loads, *own, "    int _go = 0;", "    if (_active) {", *loop_body,
        *(lines[marks["for"] + 2:marks["body"] - 1]),
        f"        _go = {marks['cond']};", "    }", *stores, *state_stores, "    return _go;"],
        "one iteration of the substep loop where _active; returns whether the loop goes on")
    light = ""
    if "rare" in marks:
        first, last, depth = marks["rare"]
        light_body = [*lines[marks["body"]:first], "    " * depth + "_redo = 1;",
                      *lines[last:marks["close"]]]
        light = function(LIGHT_ITERATION, [*signature, "const int _active", *pointers], [
            *states, *loads, *own, "    int _go = 0, _redo = 0;", "    if (_active) {",
            *light_body, *(lines[marks["for"] + 2:marks["body"] - 1]),
            f"        _go = {marks['cond']};", "    }", f"    if (_redo) return {REDO};",
            *stores, *state_stores, "    return _go;"],
            f"{ITERATION} where the rare branch is not taken, else {REDO} (nothing changed)")
    end = function(END, [*signature, *pointers], [
        *states, *loads, *own, "    int _spike = 0, _negative = 0;", "    int _defer = 0;",
        *lines[marks["end"]:]],
        "the step after its substep loop: returns the step's flags")
    text = "\n".join([_INLINE, "#define EQSNN_FAST_STEP 0", *begin, *iteration, *light, *end,
                      "#undef EQSNN_FAST_STEP"]) + "\n"
    return DeferredStep(text, tuple(types), marks["limit"], bool(light), bool(error))
