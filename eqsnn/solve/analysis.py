"""Analysis: the ODE system as ``x' = A x + f + g ξ`` and which methods apply.

For every ODE ``dx_i/dt = rhs_i`` the analysis computes

* ``A[i][j] = ∂rhs_i/∂x_j`` and ``f_i = rhs_i`` at ``x = 0`` (the forcing),
* ``g_i``, the coefficient of the white noise ``ξ`` (additive noise only),

and decides, with a reason for each, whether the system is

* **exact**: linear in the states with coefficients over params and ``dt``
  only, forcing held constant over the step (inputs, params; not ``t``);
* **exponential Euler**: each ``rhs_i`` is linear in its own ``x_i`` with
  coefficients that may depend on other states, inputs and ``t``;
* **adaptive**: any deterministic system (no ``xi``, no random draws):
  Dormand–Prince 5(4) substeps with error control (:mod:`eqsnn.solve.adaptive`);
* explicit fixed-step methods (RK4, midpoint, Euler) always apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from .. import ir
from ..errors import SolverError
from ..frontend.check import Checked, Ode

XI = sympy.Symbol("xi")


@dataclass(frozen=True)
class System:
    variables: tuple[str, ...]
    rhs: tuple[sympy.Basic, ...]  # deterministic part
    noise: tuple[sympy.Basic, ...]  # coefficient of xi (0 where none)
    unless: tuple[sympy.Basic | None, ...]
    A: sympy.ImmutableMatrix | None  # None when not linear
    forcing: tuple[sympy.Basic, ...] | None
    reasons: tuple[tuple[str, str | None], ...]  # (method, why not) — None: applicable
    constants: frozenset  # symbols that are host constants (params, dt)
    positions: tuple = ()  # (line, column) of each ODE in the text

    def applicable(self, method: str) -> bool:
        return dict(self.reasons).get(method, "") is None

    def reason(self, method: str) -> str | None:
        return dict(self.reasons).get(method)


def _is_zero(expr) -> bool:
    if expr == 0:
        return True
    try:
        return sympy.expand(expr) == 0
    except Exception:  # pragma: no cover - SymPy edge cases
        return False


def diff(expr, *args) -> sympy.Basic:
    """``sympy.diff``, or the unevaluated derivative where SymPy recurses without end (the
    second derivative of ``x % 0.3``, a float modulus, does); a derivative left as such is
    never taken for 0, so the equation counts as not linear in that state, and has no
    closed form for a crossing's slope (``crossings._derivative``)."""
    try:
        return sympy.diff(expr, *args)
    except RecursionError:
        return sympy.Derivative(expr, *args)


def _nonlinear_term(rhs, x, y=None) -> sympy.Basic:
    """The first additive term of ``rhs`` whose second derivative in ``x`` (and ``y``) is not 0."""
    for term in sympy.Add.make_args(sympy.expand(rhs)):
        if not _is_zero(diff(term, x, y if y is not None else x)):
            return term
    return rhs


def _why_nonlinear(var, rhs, x, y) -> str:
    term = _nonlinear_term(rhs, x, y)
    if x == y:
        return f"d{var}/dt is not linear in {x}: term {term}"
    return f"d{var}/dt is not linear in the states: term {term} multiplies {y} and {x}"


def analyse(checked: Checked) -> System:
    """Classify the ODEs of ``checked``; see the module docstring."""
    odes: tuple[Ode, ...] = checked.odes
    names = tuple(ode.var for ode in odes)
    symbols = [sympy.Symbol(n) for n in names]
    constants = frozenset({sympy.Symbol(p.name) for p in checked.params} | {sympy.Symbol("dt")})
    rhs, noise = _split_noise(odes, {st.name for st in checked.states})
    unless = tuple(ode.unless for ode in odes)
    if not odes:
        return System((), (), (), (), sympy.ImmutableMatrix([]), (), (("none", None),),
                      constants)

    # exact: linear with constant coefficients
    A = [[diff(r, x) for x in symbols] for r in rhs]
    why_not_exact = _why_not_linear(odes, rhs, symbols, A)
    linear = why_not_exact is None
    if linear:
        why_not_exact = _why_coefficients_vary(odes, names, symbols, A, constants)
    forcing = tuple(r.subs({x: 0 for x in symbols}) for r in rhs) if linear else None
    if why_not_exact is None:
        why_not_exact = _why_forcing_varies(odes, forcing, noise, constants)
    reasons = [
        ("exact", why_not_exact),
        ("exponential_euler", _why_not_exponential_euler(odes, rhs, symbols)),
        ("adaptive", _why_not_adaptive(odes, rhs, noise)),
    ]
    for method in ("rk4", "midpoint", "euler"):
        reasons.append((method, None))
    matrix = sympy.ImmutableMatrix(A) if linear else None
    return System(names, tuple(rhs), tuple(noise), unless, matrix, forcing, tuple(reasons),
                  constants, tuple((ode.line, ode.column) for ode in odes))


def _split_noise(odes, state_names: set) -> tuple[list, list]:
    """``(f, g)`` of each ``dx/dt = f + g xi``; raises where the noise is not additive."""
    rhs, noise = [], []
    for ode in odes:
        g = diff(ode.rhs, XI)
        if XI in g.free_symbols:
            raise SolverError(f"noise in d{ode.var}/dt must be additive: a term times xi",
                              line=ode.line, column=ode.column,
                              hint="write e.g. 'sigma * xi', with xi appearing once, linearly")
        state_bound = sorted(str(x) for x in g.free_symbols if str(x) in state_names)
        if state_bound:
            raise SolverError(
                f"noise in d{ode.var}/dt is multiplicative: the factor of xi depends on "
                f"the state{'s' if len(state_bound) > 1 else ''} {', '.join(state_bound)}",
                line=ode.line, column=ode.column,
                hint="eqsnn integrates additive noise only (the factor of xi made of "
                     "params, inputs and constants, e.g. 'sigma * xi'): multiplicative noise "
                     "needs a choice of Ito or Stratonovich and a method for it")
        noise.append(g)  # g may depend on inputs: then Euler–Maruyama integrates it
        rhs.append(ode.rhs.subs(XI, 0))
    return rhs, noise


def _why_not_linear(odes, rhs, symbols, A) -> str | None:
    """Why the system is not linear in its states (a Jacobian entry depends on a state)."""
    for i, ode in enumerate(odes):
        for x in symbols:
            for y, a in zip(symbols, A[i]):
                if not _is_zero(diff(a, x)):
                    return _why_nonlinear(ode.var, rhs[i], x, y)
    return None


def _why_coefficients_vary(odes, names, symbols, A, constants) -> str | None:
    """Why a linear system's matrix ``A`` is not made of params and ``dt`` alone."""
    for i, ode in enumerate(odes):
        for j, a in enumerate(A[i]):
            extra = a.free_symbols - constants
            if extra:
                return (f"the coefficient of {names[j]} in d{ode.var}/dt depends on "
                        f"{', '.join(sorted(map(str, extra)))}, which changes "
                        "during a step" if extra & set(symbols) else
                        f"the coefficient of {names[j]} in d{ode.var}/dt depends "
                        f"on {', '.join(sorted(map(str, extra)))}, not only on "
                        "params")
    return None


def _why_forcing_varies(odes, forcing, noise, constants) -> str | None:
    """Why the forcing ``f`` or the noise ``g`` of a linear system changes over a step."""
    for i, ode in enumerate(odes):
        if sympy.Symbol("t") in forcing[i].free_symbols:
            return f"d{ode.var}/dt depends on t, which is not constant over a step"
        if forcing[i].atoms(ir.RandUniform, ir.RandNormal):
            return f"d{ode.var}/dt draws random numbers; use xi for white noise"
        if noise[i].free_symbols - constants:
            return f"the noise of d{ode.var}/dt is not a constant times xi"
    return None


def _why_not_exponential_euler(odes, rhs, symbols) -> str | None:
    """Why some equation is not linear in its own variable."""
    for ode, r, x in zip(odes, rhs, symbols):
        if not _is_zero(diff(r, x, 2)):
            return _why_nonlinear(ode.var, r, x, x)
    return None


def _why_not_adaptive(odes, rhs, noise) -> str | None:
    """Why the adaptive method cannot take varying substeps (noise or random draws)."""
    for ode, r, g in zip(odes, rhs, noise):
        if g != 0:
            return (f"d{ode.var}/dt has white noise (xi), which needs a fixed "
                    "step (Euler–Maruyama)")
        if r.atoms(ir.RandUniform, ir.RandNormal):
            return f"d{ode.var}/dt draws random numbers, which needs a fixed step"
    return None


def frozen_split(system: System) -> tuple[tuple | None, str | None]:
    """Brian2's split of each ``rhs = A x + B`` for its exponential Euler: ``collect`` of the
    expanded right-hand side in its own ``x``; ``B`` may hold ``x`` inside a function such as
    ``exp`` (frozen over the step), not as a power, and ``A`` must not hold ``x``.
    ``((A, B) per equation, None)``, or ``(None, why not)``.

    >>> import sympy
    >>> V, w = sympy.symbols('V w')
    >>> s = System(('V',), (-V + sympy.exp(V) - w,), (0,), (None,), None, None, (), frozenset())
    >>> frozen_split(s)
    (((-1, -w + exp(V)),), None)
    """
    split = []
    for var, rhs in zip(system.variables, system.rhs):
        x = sympy.Symbol(var)
        terms = sympy.collect(sympy.expand(rhs), x, evaluate=False)
        extra = [key for key in terms if key not in (x, sympy.Integer(1))]
        if extra:
            return None, (f"d{var}/dt holds {extra[0]}, a power of {var}, which exponential "
                          "Euler cannot freeze")
        a, b = terms.get(x, sympy.Integer(0)), terms.get(sympy.Integer(1), sympy.Integer(0))
        if x in a.free_symbols:
            return None, f"the coefficient of {var} in d{var}/dt holds {var}"
        split.append((a, b))
    return tuple(split), None


def choose_method(system: System, requested: str | None) -> tuple[str, tuple, tuple]:
    """``(method, reasons, warnings)``: the requested method, or the best applicable."""
    method, reasons, warnings = _choose_method(system, requested)
    return method, reasons, warnings + _held_draws(system)


def _held_draws(system: System) -> tuple[str, ...]:
    """A warning for each ODE that draws random numbers: a draw is one number per step,
    held over the step, not white noise (a Brian2 or NEST habit that would silently give
    noise whose spread shrinks as dt instead of sqrt(dt))."""
    return tuple(
        f"d{var}/dt draws random numbers: each draw is held over the step, so {var} moves "
        f"by dt * draw (a spread that shrinks as dt, not as sqrt(dt)); for white noise "
        f"write sigma * xi" for var, rhs in zip(system.variables, system.rhs)
        if rhs.atoms(ir.RandUniform, ir.RandNormal))


def _choose_method(system: System, requested: str | None) -> tuple[str, tuple, tuple]:
    if not system.variables:
        ignored = () if requested is None else (
            f"'method: {requested}' has no effect: the model has no ODEs (its states change "
            "in before:, after: and reset: only)",)
        return "none", (("none", "the model has no ODEs"),), ignored
    if requested == "exponential_euler" and system.reason(requested) is not None:
        split, why_not = frozen_split(system)
        if split is None:
            raise SolverError(f"method 'exponential_euler' cannot integrate this model: "
                              f"{system.reason(requested)}; {why_not}",
                              hint="remove the 'method:' line to let eqsnn choose")
        note = ("requested by 'method:'; not conditionally linear, so the nonlinear part B "
                "of each dx/dt = A x + B is frozen over the step (Brian2's exponential Euler)")
        reasons = tuple((m, note if m == requested else r if r is not None else "applicable")
                        for m, r in system.reasons)
        return requested, reasons, ()
    if requested is not None:
        why = system.reason(requested)
        if why is not None:
            raise SolverError(f"method '{requested}' cannot integrate this model: {why}",
                              hint="remove the 'method:' line to let eqsnn choose")
        reasons = tuple((m, r if m != requested else "requested by 'method:'")
                        for m, r in system.reasons)
        return requested, reasons, ()
    for method in ("exact", "exponential_euler", "adaptive", "rk4"):
        if system.applicable(method):
            break
    reasons = []
    for m, r in system.reasons:
        if m == method:
            reasons.append((m, "chosen: " + _why_chosen(m)))
        elif r is None and (method, m) == ("exponential_euler", "adaptive"):
            reasons.append((m, "applicable, not chosen: it costs more per step; write 'method: "
                               "adaptive' where spike times or accuracy matter "
                               "(docs/numerics.md: exponential Euler's drift)"))
        elif r is None:
            reasons.append((m, "applicable, but " + method.replace("_", " ") + " is preferred"))
        else:
            reasons.append((m, r))
    warnings = ()
    if method == "rk4":
        # the user wonders why not the adaptive default: say that too, and what to check
        why_not = system.reason("adaptive")
        why_not = f"; the adaptive method does not apply: {why_not}" if why_not else ""
        warnings = (f"integrating with RK4 (not exact): {system.reason('exponential_euler')}"
                    f"{why_not}; check the result at a smaller dt",)
    return method, tuple(reasons), warnings


def _why_chosen(method: str) -> str:
    return {
        "exact": "linear with constant coefficients, so the matrix-exponential update is exact",
        "exponential_euler": "each equation is linear in its own variable (first order: the "
                             "other states and t are frozen over the step)",
        "adaptive": "the system is nonlinear and deterministic: each step is tried whole as "
                    "one Cash–Karp 5(4) substep, and where its error or a crossing needs "
                    "more, taken in Dormand–Prince 5(4) substeps with error control",
        "rk4": "the system is nonlinear and stochastic",
    }[method]
