"""The numerical check: no silently wrong state.

:func:`with_checks` adds to a model's step, after the ``after:`` statements
and before the threshold, a test of every float state: is it finite (NaN
and inf are not) and within the bounds the model declares
(``state V = -70 (> -1000, < 1000)``)?  The first step at which a neuron
fails it is recorded in two hidden int states, per neuron and lane, so a
reset that makes a bad value finite again hides nothing.  Each reset ends with
its own test of the states it assigns (:mod:`eqsnn.runtime.reset_checks`), so
a state a reset leaves bad is named at that step, as the reset's doing. Being part of the
IR, the check runs inside every backend's kernel, with no extra pass over
memory and no reduction per step.

:mod:`eqsnn.runtime.failures` reduces that record once per run, on the host, and
turns it into a :class:`~eqsnn.errors.NumericalError` naming the state, the step, the
lane and the neuron.

>>> import sympy
>>> from eqsnn import ir
>>> model = ir.Model("M", states=(ir.State("V"),), step=())
>>> [s.name for s in with_checks(model, "float32").states]
['V', '_check_step', '_check_code']
"""

from __future__ import annotations

import numpy as np
import sympy

from .. import ir
from .float32_bounds import kernel_bounds
from .reset_checks import (
    RESET_CHECK_META,
    assigned_states,
    reset_codes,
    reset_tested,
)

__all__ = ["CHECK_STEP", "CHECK_CODE", "CHECK_META", "CHECK_ALL", "FLOAT_MAX", "with_checks",
           "check_every_step", "checked_states",
           "split_checks", "check_tests", "reset_check_tests", "deferred_states", "sticky_states",
           "keep_nonfinite_states", "untouched_states"]

#: hidden int state: the first step at which the neuron failed the check, -1 if none
CHECK_STEP = "_check_step"
#: hidden int state: what failed, ``2 k`` for float state ``k`` not finite, ``2 k + 1`` for
#: float state ``k`` out of its bounds
CHECK_CODE = "_check_code"
#: the largest finite value of each precision: ``|x| <= FLOAT_MAX`` is false for NaN and inf
FLOAT_MAX = {precision: float(np.finfo(precision).max) for precision in ("float32", "float64")}
#: key of ``model.meta`` holding how many statements at the end of the step are the check
#: (:func:`split_checks`): a backend may run them only where a cheap test of its own fails
CHECK_META = "check"
#: key of ``model.meta``: the states whose finiteness test is deferred (:func:`sticky_states`)
DEFERRED_META = "check_deferred"
BOUNDS_META = "check_bounds"  #: key of ``model.meta``: the bounds as the check compares them
#: int runtime param: 1 runs the deferred tests too (the Simulator's second pass), else 0
CHECK_ALL = "_check_all"

_RELATIONS = {">": sympy.StrictGreaterThan, ">=": sympy.GreaterThan,
              "<": sympy.StrictLessThan, "<=": sympy.LessThan}


def checked_states(model: ir.Model) -> list[ir.State]:
    """The float states the check tests, in model order (their index is ``code // 2``)."""
    return [s for s in model.states if s.dtype == "float" and not s.name.startswith("_")]


def with_checks(model: ir.Model, precision: str, defer: bool = True, keep: bool = True) -> ir.Model:
    """``model`` whose step ends by recording the first failed check of each neuron;
    ``defer=False`` tests every state in every step (no second pass, see ``sticky_states``);
    with ``keep`` an assignment that would overwrite a non-finite state keeps it non-finite
    (:func:`keep_nonfinite_states`), so that every state without bounds waits for the second
    pass (a backend whose compiler may fold ``0 * x`` to 0 passes ``keep=False``)."""
    states = checked_states(model)
    if not states:
        return model
    # a second pass must give the same states: not where draws may differ (GeNN's generator)
    deferred = set()
    if defer and not model.random_draws():
        model = keep_nonfinite_states(model) if keep else model
        deferred = sticky_states(model)
    statements = _test_statements(states, range(len(states)), deferred, precision, "")
    # the reset runs after the step's check: its own test of the states it assigns, at the
    # step where it makes one bad, for the neurons it reset (codes past the step's own)
    resets = {}
    tested = reset_tested(model, states)
    for block, prefix in (("reset", "_reset"), ("negative_reset", "_negative_reset")):
        assigned = assigned_states(getattr(model, block))
        resets[block] = getattr(model, block) + _test_statements(
            states, [k for k in tested if states[k].name in assigned], deferred,
            precision, prefix, {2 * k + bound: code for code, (k, bound) in
                                enumerate(reset_codes(model, states), 2 * len(states))})
    hidden = (ir.State(CHECK_STEP, "int", sympy.Integer(-1)),
              ir.State(CHECK_CODE, "int", sympy.Integer(0)))
    runtime = model.runtime_params + ((CHECK_ALL,) if deferred else ())
    counts = tuple(len(resets[b]) - len(getattr(model, b)) for b in ("reset", "negative_reset"))
    return model.replace(states=model.states + hidden, step=model.step + tuple(statements),
                         runtime_params=runtime, **resets,
                         meta={**model.meta, CHECK_META: len(statements),
                               RESET_CHECK_META: counts,
                               BOUNDS_META: kernel_bounds(states, precision),
                               DEFERRED_META: tuple(sorted(deferred))})


def _test_statements(states, indices, deferred, precision: str,
                     prefix: str, codes=None) -> tuple:
    """The check's statements for ``states[k]``, ``k`` in ``indices``: record the step and
    code (``2 k`` not finite, ``2 k + 1`` out of its bounds, or ``codes`` of that) where a
    test fails and nothing is recorded yet; deferred states' finiteness only where
    ``_check_all`` > 0; ``prefix`` keeps the locals apart from another block's."""
    codes = codes or {}
    unset = sympy.StrictLessThan(sympy.Symbol(CHECK_STEP), 0)
    limit = sympy.Float(FLOAT_MAX[precision])
    statements: list = []
    for k in indices:
        state = states[k]
        x = sympy.Symbol(state.name)
        # NaN compares false with everything, so the test is "is fine", negated through a
        # bool local (SymPy would turn not(|x| <= max) into |x| > max, false for NaN)
        fine = sympy.Symbol(f"{prefix}_fine_{state.name}")
        test = (ir.Local(fine.name, "bool", sympy.Abs(x) <= limit),
                ir.If(sympy.And(sympy.Not(fine), unset), (
                    ir.Assign(CHECK_STEP, sympy.Symbol("step")),
                    ir.Assign(CHECK_CODE, sympy.Integer(codes.get(2 * k, 2 * k))))))
        if state.name in deferred:  # only in the second pass (see sticky_states)
            test = (ir.If(sympy.StrictGreaterThan(sympy.Symbol(CHECK_ALL), 0), test),)
        statements.extend(test)
        if state.bounds:  # in float32 rounded so that they test exactly (float32_bounds)
            inside = sympy.Symbol(f"{prefix}_inside_{state.name}")
            within = sympy.And(*(_RELATIONS[op](x, sympy.Float(bound)) for op, bound
                                 in dict(kernel_bounds(states, precision))[state.name]))
            statements.append(ir.Local(inside.name, "bool", within))
            statements.append(ir.If(sympy.And(sympy.Not(inside), unset), (
                ir.Assign(CHECK_STEP, sympy.Symbol("step")),
                ir.Assign(CHECK_CODE, sympy.Integer(codes.get(2 * k + 1, 2 * k + 1))))))
    return tuple(statements)


def reset_check_tests(model: ir.Model, block: str = "reset") -> list[tuple[int, str, tuple]]:
    """``(code, state, bounds)`` of each test the check of reset ``block`` (``reset`` or
    ``negative_reset``) of a model from :func:`with_checks` runs, as :func:`check_tests`
    but with the codes of a reset (``runtime.reset_checks``); none where it has no check."""
    count = dict(zip(("reset", "negative_reset"), model.meta.get(RESET_CHECK_META, (0, 0))))
    if not count[block]:
        return []
    assigned = assigned_states(getattr(model, block))
    tests = {code: (state, bounds) for code, state, bounds in check_tests(model)}
    states = checked_states(model)
    return [(code, *tests[2 * k + bound]) for code, (k, bound)
            in enumerate(reset_codes(model, states), 2 * len(states))
            if states[k].name in assigned]


def deferred_states(model: ir.Model) -> tuple[str, ...]:
    """The states of a model from :func:`with_checks` whose test runs in the second pass."""
    return model.meta.get(DEFERRED_META, ())


def untouched_states(model: ir.Model) -> tuple[str, ...]:
    """The check's hidden states that the first pass of a run leaves as they are: both,
    where every test waits for the second pass (so the Simulator need not copy them to
    restore them if the run fails); else none."""
    deferred = deferred_states(model)
    if deferred and all(state in deferred for _, state, _ in check_tests(model)):
        return (CHECK_STEP, CHECK_CODE)
    return ()


def sticky_states(model: ir.Model) -> set[str]:
    """The float states without bounds that stay NaN or infinite once they are: every
    assignment to one (in the step, a reset, any branch) is a sum or product with the state
    itself as a term or factor (directly or through locals defined once), and a sum or
    product with a NaN or infinite term or factor is NaN or infinite.

    Nothing in a step can make such a state finite again, so whether it failed in a run
    shows in its value at the end of the run.  Its test is left out of the kernel's first
    pass (``_check_all`` = 0); only where the value at the end of the run is not finite
    does the Simulator run the steps again from the state before them with every test
    (``_check_all`` = 1) to find the first step.  Steps are deterministic, so the second
    pass gives the same states; :func:`with_checks` defers no test of a model that draws
    random numbers (GeNN draws from its own generator, which does not repeat a run)."""
    blocks = (model.step, model.reset, model.negative_reset)
    statements = [stmt for block in blocks for stmt in ir.walk_statements(block)]
    once = _defined_once(model, statements)
    sticky = set()
    for state in checked_states(model):
        if state.bounds:
            continue
        assigned = [stmt.expr for stmt in statements
                    if isinstance(stmt, ir.Assign) and stmt.target == state.name]
        if all(_carries(expr, state.name, once, 0) for expr in assigned):
            sticky.add(state.name)
    return sticky


def keep_nonfinite_states(model: ir.Model) -> ir.Model:
    """``model`` where every assignment that would overwrite a checked state without bounds
    by a value that does not carry it (a reset's ``V = v_reset``) assigns
    ``keep_nonfinite(value, V)`` instead: the same number wherever ``V`` is finite, NaN where
    it is not.  Such a state then stays NaN or infinite once it is (:func:`sticky_states`),
    so its test waits for the end of the run instead of running in every step; the first
    step found by the second pass is the one the per-step test would have found (the
    step's test runs before the reset, the reset's own test after it).  Only a run that
    fails differs from one without the check: the failed neuron's state stays NaN instead
    of being reset to a finite value."""
    candidates = {s.name for s in checked_states(model) if not s.bounds}
    candidates -= sticky_states(model)
    if not candidates:
        return model
    once = _defined_once(model, [stmt for block in (model.step, model.reset,
                                                    model.negative_reset)
                                 for stmt in ir.walk_statements(block)])
    candidates -= _overwritten_again(model, candidates, once)
    if not candidates:
        return model

    def rewrite(statements):
        out = []
        for stmt in statements:
            if isinstance(stmt, ir.If):
                stmt = ir.If(stmt.cond, rewrite(stmt.body), rewrite(stmt.orelse))
            elif isinstance(stmt, ir.While):
                stmt = ir.While(stmt.cond, rewrite(stmt.body), stmt.limit)
            elif (isinstance(stmt, ir.Assign) and stmt.target in candidates
                  and not _carries(stmt.expr, stmt.target, once, 0)):
                stmt = ir.Assign(stmt.target,
                                 ir.keep_nonfinite(stmt.expr, sympy.Symbol(stmt.target)))
            out.append(stmt)
        return tuple(out)
    return model.replace(step=rewrite(model.step), reset=rewrite(model.reset),
                         negative_reset=rewrite(model.negative_reset))


def _overwritten_again(model: ir.Model, names: set, once: dict) -> set:
    """The states of ``names`` that a block (the step, a reset) overwrites with a value that
    does not carry them after it already overwrote them so (``V = sqrt(I)`` then
    ``if I < 0: V = 0.0``: a value computed and then set aside).  Kept, the second
    overwrite would keep a NaN the first made, one the test at the end of the step never
    sees: a healthy run would fail and its state become NaN.  Their test runs in every
    step instead.  An earlier assignment that carries the state (an ODE update,
    ``V += I``) does not count: a NaN it makes is the dynamics failing, and a later
    overwrite (a clamp ``if v >= 30: v = 30`` after an Euler step) keeps it, as before.
    The adaptive integrator's own loop (a ``While``, which models cannot write) is not
    looked into: a crossing's reset there follows an accepted substep, finite wherever
    the state at the start of the step was."""
    found: set = set()

    def walk(statements, before: set, look: bool) -> set:
        before = set(before)
        for stmt in statements:
            if isinstance(stmt, ir.If):
                before |= walk(stmt.body, before, look) | walk(stmt.orelse, before, look)
            elif isinstance(stmt, ir.While):
                before |= walk(stmt.body, before, False)
            elif (isinstance(stmt, ir.Assign) and stmt.target in names
                    and not _carries(stmt.expr, stmt.target, once, 0)):
                if look and stmt.target in before:
                    found.add(stmt.target)
                before.add(stmt.target)
        return before

    for block in (model.step, model.reset, model.negative_reset):
        walk(block, set(), True)
    return found


def _defined_once(model: ir.Model, statements) -> dict:
    """The locals of ``statements`` (all of a model's step and resets) set exactly once, by
    their ``Local``, with their expressions."""
    states = {s.name for s in model.states}
    definitions: dict = {}
    for stmt in statements:
        if isinstance(stmt, ir.Local):
            definitions.setdefault(stmt.name, []).append(stmt.expr)
        elif isinstance(stmt, ir.Assign) and stmt.target not in states:
            definitions.setdefault(stmt.target, []).append(None)  # a local set again
    return {name: exprs[0] for name, exprs in definitions.items()
            if len(exprs) == 1 and exprs[0] is not None}


def _carries(expr, name: str, once: dict, depth: int) -> bool:
    """Whether ``expr`` is NaN or infinite wherever ``name`` is: ``name`` itself, a local
    defined once that carries it, or a sum or product with such a term or factor."""
    if depth > 50:
        return False
    if isinstance(expr, sympy.Symbol):
        text = str(expr)
        return text == name or (text in once and _carries(once[text], name, once, depth + 1))
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        return any(_carries(arg, name, once, depth + 1) for arg in expr.args)
    if isinstance(expr, ir.keep_nonfinite):
        return _carries(expr.args[1], name, once, depth + 1)
    return False


def split_checks(model: ir.Model) -> tuple[tuple, tuple]:
    """``(step, check)``: the step's statements without the check of :func:`with_checks`, and
    the check's statements (empty where the model has none).

    A backend may replace the check by a cheaper test of its own that fails wherever the
    check would record something (a reduction over the population, a failure bit returned
    with the spike flags) and then run the check's statements, or record the same step and
    code itself; what it records must be what the statements would."""
    count = model.meta.get(CHECK_META, 0)
    if not count:
        return model.step, ()
    return model.step[:-count], model.step[-count:]


def check_tests(model: ir.Model) -> list[tuple[int, str, tuple]]:
    """``(code, state, bounds)`` of every test of the check, in code order: ``bounds`` is
    ``()`` for the finiteness test (code ``2 k``), the state's bounds for code ``2 k + 1``.
    The recorded code is the smallest that fails."""
    tests = []
    for k, state in enumerate(checked_states(model)):
        tests.append((2 * k, state.name, ()))
        if state.bounds:
            tests.append((2 * k + 1, state.name, dict(model.meta.get(BOUNDS_META, ())).get(
                state.name, tuple((c.op, float(c.bound)) for c in state.bounds))))
    return tests


def check_every_step(sim) -> None:
    """Test every state in every step of ``sim`` (a :class:`~eqsnn.Simulator`), deferring
    none to a second pass: a network steps its populations itself, interleaved, so it
    cannot run one population's steps again from their start (see
    ``Simulator._second_pass``)."""
    if CHECK_ALL in sim._values:
        sim._values[CHECK_ALL] = np.int32(1)
        sim._runner.set_value(CHECK_ALL, np.int32(1))
