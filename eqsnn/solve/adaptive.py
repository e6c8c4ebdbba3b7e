"""Threshold-aware adaptive integration: Dormand–Prince 5(4) substeps inside each step.

The default for deterministic ODE systems that are neither linear nor
conditionally linear (AdEx's exponential, Izhikevich's ``v²``).  Each step
from ``t`` to ``t + dt`` runs, for every neuron, a bounded loop of substeps:

* a substep of size ``h`` from the current state ``x`` gives the fifth-order
  solution ``x5`` and the embedded fourth-order error estimate ``e``; it is
  accepted where ``‖e / (atol + rtol·max(|x|, |x5 − x|))‖₂ / √n ≤ 1``, and the
  next ``h`` is ``h·0.9·err^(-1/5)`` (Hairer, Nørsett & Wanner, *Solving ODEs I*,
  II.4), the factor rounded down to one of ``2^(j/4)``, ``j`` from -9 to 9 (0.21
  to 4.76; see :func:`_factor`: so backends agree).  The last accepted
  size is kept per neuron (a hidden state, as NEST's aeif models keep
  theirs), so a step usually needs a single substep; after a crossing's
  reset the next substep tries the rest of the step at once.
* before the loop, every neuron tries the whole step in one substep
  (:func:`_fast_substep`, straight-line code that the ``numpy`` backend runs
  on tiles of every neuron and the ``c`` backend vectorises); the loop runs for the
  neurons where that was not allowed, not accepted or crossed the threshold.
  The try takes a Cash–Karp 5(4) substep: six evaluations of the right-hand
  side where Dormand–Prince needs seven (its last stage, at the end of the
  substep, only pays inside the loop, where it is the next substep's first).
* the first stage of a substep is the last stage of the one before (FSAL):
  six evaluations of the right-hand side per substep.
* after every accepted substep the threshold is tested on ``x5``.  Where it
  holds, the crossing is located on the cubic Hermite interpolant of the
  substep (``x``, ``x5`` and their derivatives) by
  a Newton step from the substep's end (else a secant step) and
  :data:`~eqsnn.solve.crossings.NEWTON` guarded Newton steps, refined
  on the solution (a substep from the substep's start to there, one Newton step along
  it), the state is set there, the reset's assignments to ODE states run, and
  integration goes on from the crossing to the end of the step.  A
  finite-time blow-up (an exponential, a ``v²``) is never integrated
  through, so no cap is needed.
* the loop runs at most ``max_substeps`` times; the last iteration takes the
  rest of the step in one substep, accepted whatever its error, and the
  first step where that happened is recorded (reported after the run).

The rest of the step keeps the documented order (``docs/language.md``): one
spike per neuron per step at most (the spike keeps its step's time stamp); a
second crossing in the same step is reset too and counted (reported after
the run); the reset's other statements, the spike and the readouts act in the
usual threshold/reset phase at the end of the step, where a neuron that
crossed inside the step spikes and runs the rest of its reset; ``after:``
runs once; the grid threshold test stays for a neuron that did not cross.

In-step crossings need a threshold that is one comparison involving ODE
states (possibly ``and`` conditions that do not involve them, such as a
refractory test), free of random draws, and a reset that assigns ODE
states.  Otherwise the substeps run to the end of the step and the threshold
acts on the grid, as with a fixed-step method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy

from .. import ir
from .analysis import System
from .crossings import CROSSED, CROSSED_AT, in_step_crossing, locate_and_reset
from .tableaux import CASH_KARP, CK_E, DP_A, DP_B, DP_C, DP_E

DT = sympy.Symbol("dt")
T = sympy.Symbol("t")
STEP = sympy.Symbol("step")

#: tolerances (rtol, atol) by precision; float32 cannot resolve 1e-6 relative changes
DEFAULT_TOLERANCES = {"float64": (1e-8, 1e-9), "float32": (1e-4, 1e-6)}
#: the most substeps of one step, unless ``adaptive(max_substeps=N)`` says otherwise
DEFAULT_MAX_SUBSTEPS = 1000

#: hidden params the Simulator sets from the precision (unless the model text did)
RTOL, ATOL = "_rtol", "_atol"
#: hidden states: the last accepted substep size (0: none yet), the first step at which the
#: substep bound was reached (-1: never), the number of extra crossings (a second crossing
#: of the threshold in one step) since the last report
SUBSTEP, LIMIT_STEP, EXTRA_CROSSINGS = "_substep", "_substep_limit_step", "_extra_crossings"
#: hidden state of a model whose crossings are located inside the step: where the neuron
#: spiked in its last spike's step, as a time from the step's start in [0, dt] (dt: on the
#: grid); ``Spikes.offset`` reads it
SPIKE_OFFSET = "_spike_offset"
#: the step-local flag guarding the whole-step substep tried before the loop
TRY = "_ad_try"
#: the step-local flag: the whole-step substep's error was accepted (where it was not, the
#: loop starts at its second iteration; a loop-free variant of the step defers such a neuron)
TRY_OK = "_adf_ok"



@dataclass(frozen=True)
class AdaptiveUpdate:
    """What the adaptive method adds to a model: hidden params and states, the update of
    the step, and the end-of-step threshold and reset (where crossings are located)."""

    params: tuple[ir.Param, ...]
    states: tuple[ir.State, ...]
    update: tuple[ir.Statement, ...]
    threshold: sympy.Basic | None
    reset: tuple[ir.Statement, ...]
    in_step: str  # how spikes are found: a sentence for `eqsnn show`
    max_substeps: int
    grid_reason: str = ""  # why spikes stay on the step grid ("": located inside the step)
    in_step_assigned: tuple[str, ...] = ()  # the states the reset assigns at a crossing
    try_threshold: sympy.Basic | None = None  # not holding at the try's end: _fast_substep


def _sym(name: str) -> sympy.Symbol:
    return sympy.Symbol(name)


def _select(cond, then, otherwise):
    return sympy.Piecewise((then, cond), (otherwise, True))


# the step-local scalars of the substep loop
_TAU, _H, _HH, _REM = _sym("_ad_tau"), _sym("_ad_h"), _sym("_ad_hh"), _sym("_ad_rem")
_IT, _LAST, _FINAL = _sym("_ad_it"), _sym("_ad_last"), _sym("_ad_final")
_ERR, _OK, _FAC = _sym("_ad_err"), _sym("_ad_ok"), _sym("_ad_fac")
_PROPOSAL, _REJECTED, _JUMP = _sym("_ad_next"), _sym("_ad_rejected"), _sym("_ad_jump")
_FAST = _sym("_ad_fast")
_DEAD = _sym("_ad_dead")


def adaptive_update(system: System, threshold, reset, after_locals, options,
                    state_types=None) -> AdaptiveUpdate:
    """The substep loop of one step (module docstring) for ``system``; ``options`` from
    ``method: adaptive(...)``; ``state_types`` maps state names to their dtypes."""
    names = system.variables
    xs = [_sym(n) for n in names]
    max_substeps = int(options.get("max_substeps", DEFAULT_MAX_SUBSTEPS))
    crossed = _sym(CROSSED)
    substep, limit_step, extra = _sym(SUBSTEP), _sym(LIMIT_STEP), _sym(EXTRA_CROSSINGS)

    relation, why_not, in_step_reset, rest = in_step_crossing(threshold, reset, names,
                                                              after_locals, state_types)
    frozen, rhs = _right_hand_side(system, xs)
    k = [[_sym(f"_k{s + 1}_{v}") for v in names] for s in range(7)]
    x5 = [_sym(f"_x5_{v}") for v in names]
    update: list = [
        *frozen,
        ir.Local(_TAU.name, "float", sympy.Float(0.0)),
        ir.Local(_H.name, "float", _select(substep > 0, sympy.Min(substep, DT), DT)),
        ir.Local(_IT.name, "int", sympy.Integer(0)),
        ir.Local(crossed.name, "bool", sympy.false),
        ir.Local(_REJECTED.name, "bool", sympy.false),
        ir.Local(_JUMP.name, "bool", sympy.false),
        *(ir.Local(k[0][i].name, "float", rhs(i, xs, T)) for i in range(len(xs))),
    ]
    if max_substeps > 1:
        update += _fast_substep(xs, names, k, threshold, rhs)
    body: list = [
        ir.Local(_REM.name, "float", DT - _TAU),
        ir.Local(_LAST.name, "bool", sympy.GreaterThan(_IT, max_substeps - 1)),
        # a NaN or infinite state (a crossing's reset made it, or a blow-up the error
        # control let through) cannot become finite in a later substep: the step ends here
        # (the check names it), where the loop would reject substep after substep up to
        # its bound
        ir.Local(_DEAD.name, "bool", sympy.Ne(
            sum((ir.keep_nonfinite(sympy.Integer(0), x) for x in xs), sympy.Integer(0)),
            0)),
        ir.Local(_FINAL.name, "bool", sympy.Or(sympy.GreaterThan(_H, _REM), _LAST, _DEAD)),
        ir.Local(_HH.name, "float", _select(_FINAL, _REM, _H)),
        *_stages(xs, names, k, x5, rhs),
        *_error_control(xs, x5, k, last=sympy.Or(_LAST, _DEAD)),
    ]
    if relation is None:
        in_step = f"spikes on the step grid: {why_not}"
    else:
        in_step = "crossings located and reset inside the step"
    accepted = _accepted_substep(xs, x5, k, threshold, relation, crossed, extra,
                                 in_step_reset, rhs, names, limit_step)
    body += [
        ir.If(_OK, tuple(accepted)),
        ir.Local(_PROPOSAL.name, "float", _HH * _FAC),
        # after a crossing's reset the state is a new one: try the rest of the step at once
        ir.Assign(_H.name, _select(_JUMP, DT, _select(sympy.And(_OK, _FINAL),
                                                       sympy.Max(_H, _PROPOSAL), _PROPOSAL))),
        ir.Assign(_REJECTED.name, sympy.Not(_OK)),
        ir.Assign(_JUMP.name, sympy.false),
        ir.Assign(_IT.name, _IT + 1),
    ]
    update.append(ir.While(sympy.StrictLessThan(_TAU, DT), tuple(body), max_substeps))
    update.append(ir.Assign(substep.name, _H))
    params, states = _hidden_params(options), _hidden_states()
    try_threshold = threshold if max_substeps > 1 else None
    if relation is None:
        return AdaptiveUpdate(params, states, tuple(update), threshold, tuple(reset), in_step,
                              max_substeps, why_not, try_threshold=try_threshold)
    end_threshold, end_reset = _end_of_step(threshold, reset, rest, crossed)
    states += (ir.State(SPIKE_OFFSET, "float", sympy.Integer(0)),)
    update.insert(0, ir.Local(CROSSED_AT, "float", sympy.Float(0.0)))
    assigned = sorted({stmt.target for stmt in ir.walk_statements(in_step_reset)
                       if isinstance(stmt, ir.Assign) and stmt.target in names})
    return AdaptiveUpdate(params, states, tuple(update), end_threshold, end_reset, in_step,
                          max_substeps, in_step_assigned=tuple(assigned),
                          try_threshold=try_threshold)


def _accepted_substep(xs, x5, k, threshold, relation, crossed, extra, in_step_reset, rhs,
                      names, limit_step) -> list:
    """What an accepted substep does: advance to ``x5`` (FSAL: the last stage becomes the
    first), or, where the threshold holds at ``x5``, locate the crossing and reset there;
    and note the first step at which the substep bound was reached."""
    advance = [
        # a dead state stays as it was (a reset's NaN is seen as the reset's)
        *(ir.Assign(x.name, _select(_DEAD, x, x5[i])) for i, x in enumerate(xs)),
        ir.Assign(_TAU.name, _select(_FINAL, DT, _TAU + _HH)),
        *(ir.Assign(k[0][i].name, k[6][i]) for i in range(len(xs))),
    ]
    if relation is None:
        accepted = advance
    else:
        accepted = [
            ir.If(sympy.And(threshold.xreplace(dict(zip(xs, x5))), sympy.Not(_LAST)),
                  tuple(locate_and_reset(
                      relation, xs, x5, k, _HH, _TAU, crossed, extra, in_step_reset, rhs,
                      names, lambda ks, out, size: _stages(xs, names, ks, out, rhs, hh=size,
                                                           prefix="_zc"))),
                  tuple(advance)),
        ]
    accepted.append(ir.If(sympy.And(_LAST, sympy.StrictLessThan(limit_step, 0)),
                          (ir.Assign(limit_step.name, STEP),)))
    return accepted


def _end_of_step(threshold, reset, rest, crossed):
    """The end-of-step threshold and reset where crossings are located in the step: a
    neuron that crossed spikes and runs the rest of its reset; the others test the grid."""
    end_threshold = sympy.Or(crossed, threshold)
    end_reset = (ir.If(crossed, (*rest, ir.Assign(SPIKE_OFFSET, _sym(CROSSED_AT))),
                       (*reset, ir.Assign(SPIKE_OFFSET, DT))),)
    return end_threshold, end_reset


def _right_hand_side(system: System, xs):
    """``rhs(i, values, time)``: ``rhs_i`` at the state ``values`` and time ``time``; 0 where
    frozen by unless.

    The state is not clamped at the threshold (as NEST's aeif models clamp V at V_peak):
    the kink a clamp puts into the right-hand side makes the error estimate of every
    substep that straddles the crossing large, so such substeps were rejected again and
    again (8 of 15 substeps of AdEx's spike step at dt = 0.1 ms).  A substep that runs
    into a blow-up beyond the threshold gives inf or NaN, and with it an error that
    rejects the substep.

    Returns ``(frozen, rhs)``: an ``unless`` condition that reads ODE states is evaluated
    once, at the start of the step, into a local of ``frozen`` (the states change from
    substep to substep, and at a crossing's reset), so that it freezes its equation for
    whole steps, as with the other methods."""
    odes = set(xs)
    frozen, conditions = [], {}
    for unless in system.unless:
        if unless is not None and unless.free_symbols & odes and unless not in conditions:
            conditions[unless] = _sym(f"_ad_frozen{len(conditions)}")
            frozen.append(ir.Local(conditions[unless].name, "bool", unless))

    def rhs(i, values, time):
        expr = system.rhs[i].xreplace({**dict(zip(xs, values)), T: time})
        unless = system.unless[i]
        unless = conditions.get(unless, unless)
        return expr if unless is None else _select(unless, sympy.Integer(0), expr)
    return frozen, rhs


def _combination(weights, k, i, hh):
    """``hh·Σ w_j k_j``; where ``hh`` is ``dt`` (the whole-step try) each weight takes it in
    (``Σ (w_j·dt) k_j``: hoisted, the products cost no operation per step)."""
    if hh == DT:
        return sum(((w * DT) * k[j][i] for j, w in enumerate(weights) if w != 0),
                   sympy.Integer(0))
    return hh * sum((w * k[j][i] for j, w in enumerate(weights) if w != 0), sympy.Integer(0))


def _stages(xs, names, k, x5, rhs, hh=_HH, tau=_TAU, prefix="_y", tableau=None) -> list:
    """The stages after the first of an explicit substep of size ``hh`` from ``t + tau``,
    and its fifth-order solution ``x5``: Dormand–Prince (the default ``tableau``) evaluates
    a last stage at ``x5`` (the next substep's first); Cash–Karp (the whole-step try,
    :data:`~eqsnn.solve.tableaux.CASH_KARP`) has none there."""
    a, b, c, at_end = tableau or (DP_A, DP_B, DP_C, True)
    body: list = []
    for s in range(1, len(a) + 1):
        weights = a[s] if s < len(a) else b
        ys = []
        for i, x in enumerate(xs):
            target = x5[i] if s == len(a) else _sym(f"{prefix}{s + 1}_{names[i]}")
            body.append(ir.Local(target.name, "float", x + _combination(weights, k, i, hh)))
            ys.append(target)
        if s < len(a) or at_end:
            time = T + tau + c[s] * hh
            body += [ir.Local(k[s][i].name, "float", rhs(i, ys, time)) for i in range(len(xs))]
    return body


def _error_control(xs, x5, k, hh=_HH, err=_ERR, ok=_OK, fac=_FAC, last=_LAST,
                   rejected=_REJECTED, weights=DP_E) -> list:
    """The mean square ``err`` of the scaled error of the substep, whether it is accepted
    (``ok``), and the factor ``fac`` for the next substep size (unless ``fac`` is None)."""
    rtol, atol = _sym(RTOL), _sym(ATOL)
    squares = sympy.Integer(0)
    # the substep's size (where it is not dt, folded into the weights) multiplies the sum
    # once, not each state's estimate
    size = sympy.Integer(1) if hh == DT else hh
    for i, x in enumerate(xs):
        estimate = _combination(weights, k, i, hh if hh == DT else sympy.Integer(1))
        # relative to the state or to its change over the substep, whichever is larger:
        # where a state races (a spike's upswing) its value matters less than the time at
        # which it gets somewhere, which an error relative to the change controls
        scale = atol + rtol * sympy.Max(sympy.Abs(x), sympy.Abs(x5[i] - x))
        squares += (estimate / scale) ** 2
    control = [
        # NaN anywhere makes err NaN: rejected, and the substep shrinks
        ir.Local(err.name, "float", size ** 2 * squares / len(xs)),
        ir.Local(ok.name, "bool", sympy.Or(sympy.LessThan(err, 1), last)),
    ]
    if fac is None:
        return control
    free = _sym(fac.name + "0")
    return control + [
        ir.Local(free.name, "float", _factor(err)),
        # no growth right after a rejection (Hairer & Wanner's facmax = 1): a substep that
        # grows again at once is rejected again in a blow-up, every other try wasted
        ir.Local(fac.name, "float", _select(rejected, sympy.Min(free, sympy.Integer(1)), free)),
    ]


def _factor(err):
    """``0.9·e^(-1/5)`` for the scaled error ``e = √err`` (Hairer, Nørsett & Wanner, II.4),
    rounded down to a factor ``2^(j/4)``, ``j`` an integer in [-9, 9] (0.21 to 4.76).

    The rounding keeps the choice discrete: ``err`` comes from a difference of two
    solutions, so backends whose ``exp`` differs in the last bit compute it differently in
    the 7th digit, and a continuous factor would send them along step sequences that differ
    at the tolerance; ``j`` differs only where ``err`` lies within rounding of a bound
    (rare), and ``2^(j/4)`` differing in its last bit moves nothing.  NaN (from inf or NaN
    in a stage) picks the smallest factor (``max`` ignores NaN)."""
    ln2 = math.log(2.0)
    j = sympy.floor(sympy.Float(4 * math.log2(0.9)) - sympy.Float(0.4 / ln2) * sympy.log(err))
    j = sympy.Min(sympy.Max(j, sympy.Integer(-9)), sympy.Integer(9))
    return sympy.exp(sympy.Float(ln2 / 4) * j)


def _fast_substep(xs, names, k, threshold, rhs) -> list:
    """The whole step in one substep, for every neuron, before the loop: where the carried
    size allows it, the substep is accepted and the threshold does not hold at its end
    (most neurons, most steps), the neuron is done; the loop runs for the others only, from
    the start of the step, as it would have (the same operations: the same numbers).  Straight-line
    code: the ``numpy`` backend runs it on tiles of every neuron (its locals unmasked,
    :mod:`eqsnn.backends.numpy_deferred`), the ``c`` backend vectorises it."""
    kf = [k[0]] + [[_sym(f"_kf{s + 1}_{v}") for v in names] for s in range(1, 6)]
    xf = [_sym(f"_xf_{v}") for v in names]
    errf, okf, facf = _sym("_adf_err"), _sym(TRY_OK), _sym("_adf_fac")
    statements = [*_stages(xs, names, kf, xf, rhs, DT, sympy.Integer(0), "_yf", CASH_KARP),
                  *_error_control(xs, xf, kf, DT, errf, okf, None, sympy.false, sympy.false,
                                  CK_E)]
    fast = sympy.And(sympy.GreaterThan(_H, DT), okf)  # _ad_try: see the end
    if threshold is not None:
        fast = sympy.And(fast, sympy.Not(threshold.xreplace(dict(zip(xs, xf)))))
    statements += [
        ir.Local(_FAST.name, "bool", fast),
        # the loop would carry max(h, proposal) >= dt: the next step starts with dt anyway
        ir.If(_FAST, (*(ir.Assign(x.name, xf[i]) for i, x in enumerate(xs)),
                      ir.Assign(_TAU.name, DT))),
        # rejected: the loop's first iteration would have been this substep; it starts at
        # its second, with the smaller size.  The factor (a log and an exp) is computed
        # here only: the loop-free step of the c backend, which defers such a neuron to the
        # full step, leaves this block out (see eqsnn.printing.c)
        ir.If(sympy.Not(okf),
              (ir.Local(facf.name, "float", _factor(errf)),
               ir.Assign(_H.name, DT * facf), ir.Assign(_REJECTED.name, sympy.true),
               ir.Assign(_IT.name, sympy.Integer(1)))),
    ]
    # only where the carried size allows the whole step (the c backend's loop-free step
    # function runs it for every neuron: see eqsnn.printing.c, FAST_STEP_FUNCTION)
    return [ir.Local(TRY, "bool", sympy.GreaterThan(_H, DT)),
            ir.If(_sym(TRY), tuple(statements))]


def _hidden_params(options) -> tuple[ir.Param, ...]:
    """The tolerances, from ``adaptive(rtol=..., atol=...)`` or the float64 defaults."""
    return (ir.Param(RTOL, "float", float(options.get("rtol", DEFAULT_TOLERANCES["float64"][0]))),
            ir.Param(ATOL, "float", float(options.get("atol", DEFAULT_TOLERANCES["float64"][1]))))


def _hidden_states() -> tuple[ir.State, ...]:
    return (ir.State(SUBSTEP, "float", sympy.Integer(0)),
            ir.State(LIMIT_STEP, "int", sympy.Integer(-1)),
            ir.State(EXTRA_CROSSINGS, "int", sympy.Integer(0)))


def precision_params(model: ir.Model, precision: str) -> dict:
    """The hidden tolerance params for ``precision`` where the model text gave none."""
    info = model.meta.get("adaptive")
    if info is None or precision == "float64":
        return {}
    rtol, atol = DEFAULT_TOLERANCES[precision]
    defaults = {"rtol": (RTOL, rtol), "atol": (ATOL, atol)}
    return {name: value for option, (name, value) in defaults.items()
            if option not in info["tolerances_given"]}
