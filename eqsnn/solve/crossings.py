"""Threshold crossings inside an adaptive step (:mod:`eqsnn.solve.adaptive`).

Which thresholds and resets allow a crossing to be located inside the step
(one comparison of ODE states, a reset that assigns ODE states, no random
draws), and the location of a crossing on the cubic Hermite interpolant of
the substep (a Newton step from its end, else a secant step, then :data:`NEWTON`
guarded Newton steps), refined on the solution itself (:func:`_refine`), followed by
the reset's assignments to ODE states there.
"""

from __future__ import annotations

import sympy

from .. import ir
from .analysis import diff

T = sympy.Symbol("t")

#: Newton steps on the Hermite interpolant that locate a crossing, after a first Newton
#: step from the substep's end (or a secant step between its ends where that leaves the
#: substep); each kept inside the bracket of the points seen so far
NEWTON = 4
#: the step-local flag: the neuron crossed its threshold inside this step
CROSSED = "_crossed"
#: the step-local time (from the step's start) of the first crossing inside the step
CROSSED_AT = "_crossed_at"
#: the substep-local flag: this substep ended at a crossing, reset there
JUMP = "_ad_jump"


def in_step_crossing(threshold, reset, variables, after_locals, state_types=None):
    """``(relation, reason, in_step_reset, rest)``: the comparison whose crossing is located
    inside the step (None, and ``reason`` says why not), the reset's assignments to ODE
    states made at the crossing, and the rest of the reset.  ``state_types`` maps state
    names to their dtype (for :func:`split_reset`'s copies; float where not given)."""
    relation, why_not = crossing_condition(threshold, variables, after_locals)
    in_step_reset, rest = (split_reset(reset, variables, state_types) if relation is not None
                           else ((), reset))
    if relation is not None and not in_step_reset:
        relation, why_not = None, ("the reset assigns no ODE state" if reset
                                   else "the model has no reset")
    if relation is not None and any(e.atoms(ir.RandUniform, ir.RandNormal) for e in
                                    _expressions(in_step_reset)):
        relation, why_not = None, "the reset's assignments to ODE states draw random numbers"
    return relation, why_not, in_step_reset, rest


def crossing_condition(threshold, variables, after_locals) -> tuple[sympy.Basic | None, str]:
    """``(relation, reason)``: the comparison of ODE states whose crossing is located inside
    the step, or None and why not."""
    if threshold is None:
        return None, "the model has no threshold"
    odes = {_sym(v) for v in variables}
    parts = sympy.And.make_args(threshold) if isinstance(threshold, sympy.And) else (threshold,)
    moving = [p for p in parts if p.free_symbols & odes]
    if len(moving) != 1 or not isinstance(moving[0], (sympy.GreaterThan, sympy.StrictGreaterThan,
                                                      sympy.LessThan, sympy.StrictLessThan)):
        return None, ("the threshold is not one comparison (<, <=, >, >=) of ODE states, "
                      "and-ed with conditions that do not involve them")
    if threshold.atoms(ir.RandUniform, ir.RandNormal):
        return None, "the threshold draws random numbers"
    late = {str(s) for s in threshold.free_symbols} & after_locals
    if late:
        return None, f"the threshold reads {', '.join(sorted(late))}, computed in after:"
    return moving[0], ""


def split_reset(reset, variables, state_types=None) -> tuple[tuple, tuple]:
    """``(in_step, rest)``: the reset's assignments to ODE states (with the locals and ifs
    around them), and the reset without them.

    Where the assignments to ODE states read a state that the reset also assigns
    (``n += 1`` then ``V = v_reset - n``), ``in_step`` is the whole reset run on copies
    of the states other than ODE states (step-local, discarded): so V gets the value the
    reset's order gives it, and ``n`` itself changes once, in ``rest``, at the step's end."""
    odes = set(variables)

    def keep(statements, in_step):
        out = []
        for stmt in statements:
            if isinstance(stmt, ir.If):
                body, orelse = keep(stmt.body, in_step), keep(stmt.orelse, in_step)
                if body or orelse:
                    out.append(ir.If(stmt.cond, body, orelse) if body else
                               ir.If(sympy.Not(stmt.cond), orelse))
            elif isinstance(stmt, ir.Assign):
                if (stmt.target in odes) == in_step:
                    out.append(stmt)
            else:
                out.append(stmt)  # locals: cheap, and either part may read them
        only_locals = all(isinstance(s, ir.Local) for s in ir.walk_statements(out))
        return tuple(out) if not only_locals else ()

    in_step = keep(reset, True)
    return _with_copies(reset, in_step, odes, state_types or {}), keep(reset, False)


def _with_copies(reset, in_step, odes, state_types) -> tuple:
    """``in_step``, or, where it reads a state other than an ODE state that the reset
    assigns, the reset with its assignments to ODE states and to the states they read
    (through others, and the ``if`` conditions), each such state replaced by a step-local
    copy; its other assignments are left out (a random draw among them stays at the end of
    the step)."""
    local_names = {stmt.name for stmt in ir.walk_statements(reset) if isinstance(stmt, ir.Local)}
    assigned = {stmt.target for stmt in ir.walk_statements(reset)
                if isinstance(stmt, ir.Assign) and stmt.target not in odes | local_names}

    def reads(statements):
        return {str(symbol) for expr in _expressions(statements) for symbol in expr.free_symbols}
    needed = reads(in_step) & assigned
    if not needed:
        return in_step
    conditions = {str(symbol) for stmt in ir.walk_statements(reset) if isinstance(stmt, ir.If)
                  for symbol in stmt.cond.free_symbols}
    while True:  # the states the copies' assignments read, and so on
        wanted = [stmt for stmt in ir.walk_statements(reset)
                  if isinstance(stmt, ir.Assign) and stmt.target in needed]
        more = (reads(wanted) | conditions) & assigned
        if more <= needed:
            break
        needed |= more
    copies = {name: f"_reset_{name}" for name in sorted(needed)}
    symbols = {_sym(name): _sym(copy) for name, copy in copies.items()}

    def kept(statements):
        out = []
        for stmt in statements:
            if isinstance(stmt, ir.If):
                out.append(ir.If(stmt.cond, kept(stmt.body), kept(stmt.orelse)))
            elif not isinstance(stmt, ir.Assign) or stmt.target in odes | needed | local_names:
                out.append(stmt)
        return tuple(out)
    body = ir.map_statements(kept(reset), lambda expr: expr.xreplace(symbols),
                             lambda name: copies.get(name, name))
    return (*(ir.Local(copy, state_types.get(name, "float"), _sym(name))
              for name, copy in copies.items()), *body)


def hermite(x0, x1, f0, f1, h, theta):
    """The cubic through ``x0``, ``x1`` with slopes ``f0``, ``f1`` over a substep ``h``, at
    ``theta`` in [0, 1].

    >>> th = sympy.Symbol("th")
    >>> sympy.expand(hermite(0, 1, 1, 1, 1, th))  # the line x = th
    th
    """
    t2, t3 = theta * theta, theta * theta * theta
    return ((2 * t3 - 3 * t2 + 1) * x0 + (t3 - 2 * t2 + theta) * h * f0
            + (3 * t2 - 2 * t3) * x1 + (t3 - t2) * h * f1)


def hermite_coefficients(x0, x1, f0, f1, h):
    """``(q1, q2, q3)`` with :func:`hermite` ``= x0 + θ·(q1 + θ·(q2 + θ·q3))``.

    >>> th = sympy.Symbol("th")
    >>> q1, q2, q3 = hermite_coefficients(1, 2, 3, 4, 5)
    >>> sympy.expand(1 + th * (q1 + th * (q2 + th * q3)) - hermite(1, 2, 3, 4, 5, th))
    0
    """
    return (h * f0, 3 * (x1 - x0) - h * (2 * f0 + f1), 2 * (x0 - x1) + h * (f0 + f1))


def locate_and_reset(relation, xs, x5, k, hh, tau, crossed, extra, in_step_reset, rhs,
                     names, stages):
    """The crossing on the Hermite interpolant (:func:`_newton`), refined on the solution
    (:func:`_refine`), the state there, the reset's assignments to ODE states, and the
    first stage of the next substep.  ``stages(k, out, size)`` gives the statements of a
    substep of ``size`` from ``xs`` (its first stage ``k[0]``) into ``out``, with its last
    stage ``k[6]`` the right-hand side at ``out``."""
    moving = [i for i, x in enumerate(xs) if x in relation.free_symbols]
    statements: list = []
    # the interpolant of each state the threshold reads, as a polynomial in theta (Horner):
    # its coefficients once, then a few operations an iteration
    cubic = {}
    for i in moving:
        q = [_sym(f"_ad_q{j}_{names[i]}") for j in (1, 2, 3)]
        for name, value in zip(q, hermite_coefficients(xs[i], x5[i], k[0][i], k[6][i], hh)):
            statements.append(ir.Local(name.name, "float", value))
        cubic[i] = q
    theta, more = _newton(relation, xs, x5, cubic, names)
    statements += more
    at_crossing, elapsed, refined = _refine(relation, xs, k, hh, theta, names, stages)
    statements += refined
    statements += [ir.Assign(x.name, c) for x, c in zip(xs, at_crossing)]
    statements += list(in_step_reset)
    statements += [
        ir.Assign(tau.name, tau + elapsed),
        ir.If(crossed, (ir.Assign(extra.name, extra + 1),), (ir.Assign(CROSSED_AT, tau),)),
        ir.Assign(crossed.name, sympy.true),
        ir.Assign(JUMP, sympy.true),  # the next substep tries the rest of the step
        *(ir.Assign(k[0][i].name, rhs(i, xs, T + tau)) for i in range(len(xs))),
    ]
    return statements


def _refine(relation, xs, k, hh, theta, names, stages):
    """``(state, elapsed, statements)``: the crossing found on the interpolant, refined on
    the solution itself.

    The cubic Hermite interpolant's error grows as ``h⁴``, far above the substep's
    tolerance (1e-5 of a state over a substep of 0.3 ms), and so does the error of the
    crossing's time found on it; two substep sequences that differ by a last-bit choice
    then reset at times that differ by as much, and stay apart.  So a substep of its own
    integrates from the substep's start to the interpolant's crossing (``elapsed`` there),
    and one Newton step on the threshold's gap along the solution (its slope from the
    right-hand side there, the substep's last stage) corrects the time: the state at the
    crossing is then as accurate as a substep, and the gap left there is of the order of
    the squared correction.  Where the correction would leave the substep, or has no
    finite slope, or the threshold already held at the substep's start, the state is the
    substep's end with no correction."""
    hc, delta, slope = _sym("_ad_hc"), _sym("_ad_dc"), _sym("_ad_slope_c")
    kc = [k[0]] + [[_sym(f"_kc{s + 1}_{v}") for v in names] for s in range(1, 7)]
    xz = [_sym(f"_xz_{v}") for v in names]
    statements = [ir.Local(hc.name, "float", theta * hh), *stages(kc, xz, hc)]
    difference = relation.lhs - relation.rhs
    at_z = dict(zip(xs, xz))
    outers = {i: _derivative(difference, x) for i, x in enumerate(xs)
              if x in difference.free_symbols}
    if any(outer is None for outer in outers.values()):
        correction = sympy.Float(0.0)
    else:
        total = sum((outer.xreplace(at_z) * kc[6][i] for i, outer in outers.items()),
                    sympy.Integer(0))
        statements.append(ir.Local(slope.name, "float", total))
        step = -difference.xreplace(at_z) / slope
        kept = sympy.And(sympy.Not(_sym("_ad_at_start")), sympy.GreaterThan(hc + step, 0),
                         sympy.LessThan(hc + step, hh))
        correction = _select(kept, step, sympy.Float(0.0))
    statements.append(ir.Local(delta.name, "float", correction))
    at_crossing = [_sym(f"_xc_{v}") for v in names]
    statements += [ir.Local(c.name, "float", z + delta * kc[6][i])
                   for i, (z, c) in enumerate(zip(xz, at_crossing))]
    return at_crossing, hc + delta, statements


def _newton(relation, xs, x5, cubic, names):
    """``(theta, statements)``: where in the substep (a fraction in [0, 1]) the gap
    ``lhs - rhs`` of the relation, on the Hermite interpolant, crosses zero.

    It holds at the substep's end and not at its start (where it already holds at the
    start, the crossing is the start).  A Newton step from the end (or a secant step
    between the ends where that leaves the substep), then :data:`NEWTON` Newton steps on
    the interpolant, each kept inside the bracket
    ``[lo, hi]`` of the points seen so far (outside, or where the slope is 0 or not
    finite, the step halves the bracket instead).  On the smooth cubic Newton converges
    quadratically: the crossing to ~1e-12 of the substep in a few steps, where
    bisection needs one step per bit."""
    lo, hi, theta = _sym("_ad_lo"), _sym("_ad_hi"), _sym("_ad_theta")
    gap, slope, inside, step = (_sym("_ad_gap"), _sym("_ad_slope"), _sym("_ad_inside"),
                                _sym("_ad_newton"))
    g0, g1, at_start = _sym("_ad_g0"), _sym("_ad_g1"), _sym("_ad_at_start")
    difference = relation.lhs - relation.rhs
    derivative_q = {}
    statements: list = []
    for i, (q1, q2, q3) in cubic.items():
        r2, r3 = _sym(f"_ad_r2_{names[i]}"), _sym(f"_ad_r3_{names[i]}")
        statements += [ir.Local(r2.name, "float", 2 * q2), ir.Local(r3.name, "float", 3 * q3)]
        derivative_q[i] = (q1, r2, r3)

    def interpolant(t):
        return {xs[i]: xs[i] + t * (q1 + t * (q2 + t * q3))
                for i, (q1, q2, q3) in cubic.items()}

    def gap_at(t):
        return difference.xreplace(interpolant(t))

    outers = {i: _derivative(difference, xs[i]) for i in derivative_q}

    def slope_at(t):
        if any(outer is None for outer in outers.values()):
            return g1 - g0  # the secant's slope: the steps stay bracketed, and converge
        total = sympy.Integer(0)
        for i, (q1, r2, r3) in derivative_q.items():
            total += outers[i].xreplace(interpolant(t)) * (q1 + t * (r2 + t * r3))
        return total

    holds = relation.func
    width = g0 - g1
    secant = g0 / _select(sympy.Eq(width, 0), sympy.Integer(1), width)

    def within(value):
        return sympy.And(sympy.StrictGreaterThan(value, 0), sympy.StrictLessThan(value, 1))
    end_slope, named = slope_at(sympy.Integer(1)), []
    if end_slope.has(sympy.Piecewise):  # (abs, max, min): 1/Piecewise would distribute
        named = [ir.Local("_ad_end_slope", "float", end_slope)]
        end_slope = _sym("_ad_end_slope")
    statements += [
        ir.Local(g0.name, "float", difference),
        ir.Local(g1.name, "float", difference.xreplace(dict(zip(xs, x5)))),
        ir.Local(at_start.name, "bool", holds(g0, 0)),
        ir.Local(lo.name, "float", sympy.Float(0.0)),
        ir.Local(hi.name, "float", sympy.Float(1.0)),
        *named,
        # Newton from the end (where a blow-up is steepest: its tangent meets zero just
        # before it), else the secant, else the middle
        ir.Local(step.name, "float", 1 - g1 / end_slope),
        ir.Local(theta.name, "float", _select(within(step), step,
                                              _select(within(secant), secant,
                                                      sympy.Float(0.5)))),
    ]
    for _ in range(NEWTON):
        statements += [
            ir.Local(gap.name, "float", gap_at(theta)),
            ir.Local(inside.name, "bool", holds(gap, 0)),
            ir.Assign(hi.name, _select(inside, theta, hi)),
            ir.Assign(lo.name, _select(inside, lo, theta)),
            ir.Local(slope.name, "float", slope_at(theta)),
            ir.Local(step.name, "float", theta - gap / slope),
            ir.Assign(theta.name, _select(
                sympy.And(sympy.GreaterThan(step, lo), sympy.LessThan(step, hi)),
                step, sympy.Float(0.5) * (lo + hi))),
        ]
    statements.append(ir.Assign(theta.name, _select(at_start, sympy.Float(0.0), theta)))
    return theta, statements


def _derivative(expr, x):
    """``d expr / d x`` as an expression the printers lower (every symbol taken as real, so
    that ``abs`` gives a sign and ``max``/``min`` a step, each as a piecewise), or None
    where it is not one (a function without a derivative in closed form)."""
    real = {symbol: sympy.Dummy(symbol.name, real=True) for symbol in expr.free_symbols}
    back = {dummy: symbol for symbol, dummy in real.items()}
    derivative = diff(expr.xreplace(real), real[x]).xreplace(back)
    derivative = derivative.replace(
        sympy.sign, lambda arg: sympy.Piecewise((1, arg >= 0), (-1, True)))
    derivative = derivative.replace(
        sympy.Heaviside, lambda arg, *rest: sympy.Piecewise((1, arg > 0), (0, True)))
    if derivative.has(sympy.Derivative, sympy.Subs, sympy.DiracDelta, sympy.re, sympy.im):
        return None
    return derivative


def _expressions(statements):
    for stmt in ir.walk_statements(statements):
        yield stmt.cond if isinstance(stmt, (ir.If, ir.While)) else stmt.expr




def _sym(name: str) -> sympy.Symbol:
    return sympy.Symbol(name)


def _select(cond, then, otherwise):
    return sympy.Piecewise((then, cond), (otherwise, True))
