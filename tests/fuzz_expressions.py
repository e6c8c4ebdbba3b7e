"""The operators of the language's expression reference (docs/language.md, "Expressions")
for the random models of ``fuzz_models.py``, with values that reach their edges.

:func:`edge_parts` draws, for one model, what it adds around the ODE states ``x0``...:

* params ``dm`` (a float divisor: one value per neuron, of either sign, ``±0.0`` now and
  then, tiny or huge) and ``kd`` (an int divisor or exponent: 0, -1, -2**31, 2**31 - 1, ...),
  an input ``J`` (each step a value from a list of edges: ``±0.0``, subnormal, huge, exact
  multiples of ``dm``), a float state ``y`` and an int state ``q``;
* ``after:`` statements with ``%`` and ``//`` of floats and ints (negative operands, a
  negative divisor, a zero one where the language defines the result: an int's is 0, a
  float's is NaN, which the numerical check reports), ``floor``/``ceil``, ``abs``,
  ``min``/``max``/``clip``, ``**`` (an int power of an int, which wraps; float powers),
  ``sqrt`` of something that can be negative, ``log`` near 0, ``exprel``, ``-0.0``,
  chained comparisons and ``if``/``elif`` on int conditions (``q % 3 == 0``);
* a term of those in an ODE, a let, a threshold conjunct and a reset statement.

Float64 promises 1e-9, not bits, where a transcendental function is in the step, and a
jump (``%``, ``//``, ``floor``, a comparison) turns a last-bit difference into a whole
one.  So in float64 the jumping operators read only values that every backend has to the
bit: params, ``J``, ints, ``t``, ``step``, ``id`` and ``y`` (computed from those alone);
in float32, where every backend gives the same bits, they also read the ODE states.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

#: per-neuron values of the float divisor ``dm`` (a 0 is drawn apart, rarely)
DIVISORS = (-2.5, -1.0, -0.3, 0.1, 0.7, 1.0, 3.0, 49.0, -49.0, 1e-3)
#: per-step values of ``J``: signed zeros, exact multiples, tiny and huge numbers
J_EDGES = {
    "float64": (-0.0, 0.0, 0.3, -0.3, 1.0, -1.0, 2.5, -2.5, 49.0, -98.0, 0.1, 7.0, 1e-310,
                -5e-324, 1e300, -1e300, 1e-17, 2.0**53),
    "float32": (-0.0, 0.0, 0.3, -0.3, 1.0, -1.0, 2.5, -2.5, 49.0, -98.0, 0.1, 7.0, 1e-40,
                -1.4e-45, 1e38, -1e38, 1e-17, 2.0**24),
}
#: per-neuron values of the int param ``kd``
INT_EDGES = (-3, -1, 0, 1, 2, 3, 7, 2147483647, -2147483648)


@dataclass
class EdgeParts:
    """Lines a model gains: declarations, statements, an ODE term, a threshold conjunct."""

    declarations: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)
    ode_term: str | None = None
    condition: str | None = None
    params: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    states: tuple = ()


def _float_statement(draw, single: bool, states: list[str]) -> str:
    """``y = ...`` of a float operator at its edges; now and then one that can give NaN
    or inf (``sqrt`` of a negative number, ``log`` of 0, ``2.0 ** kd`` of a large ``kd``),
    which the numerical check reports the same way on every backend."""
    reads = ["J", "dm", "y", "t"] + (states if single else [])
    a, b = draw(st.sampled_from(reads)), draw(st.sampled_from(reads))
    # a clip's low bound that reads params only is checked against its high bound (a
    # ParameterError), so it reads a state or an input
    low = draw(st.sampled_from(["J", "y", "t"] + (states if single else [])))
    c = draw(st.sampled_from(["0.3", "-0.3", "2.5", "-2.5", "49.0", "0.1", "1e-3"]))
    if draw(st.integers(0, 5)) == 0:
        return "y = " + draw(st.sampled_from([
            f"sqrt({a})", f"log(abs({a}))", f"{a} ** q", "2.0 ** kd", "dm ** (kd % 7 - 3)",
            "q / kd", f"{a} / dm", f"exprel({a})", f"{a} ** 2 - {b} ** 3",
            f"log1p({a})", f"abs({a}) ** -0.5"]))
    return "y = " + draw(st.sampled_from([
        f"{a} % dm", f"{a} % {c}", f"({a} - 1.3) % {c}", f"({a} + 1.7) % dm",
        f"{a} // dm", f"{a} // {c}", f"({a} * 3.0) // 3.0", f"-{a} // {c} + {a} % {c}",
        f"{c} % ({a} * {a} + 0.5)", f"floor({a}) - ceil({b} * 0.5)", f"floor({a} / {c})",
        f"ceil(-{a})", f"abs({a}) - abs(-0.0 * {b})", f"min({a}, -0.0) + max({b}, 0.0)",
        f"clip({a}, -abs(dm), abs(dm))", f"clip({a}, {low}, 1.0)", f"abs({a}) ** 0.5",
        f"expm1(clip({a}, -50.0, 50.0))", f"-0.0 * {a}", "q % 2.5", "kd // 2.0",
        "q * 1.0 // dm", f"(step % 7) * {a}", f"{a} ** 2", "2.0 ** (q % 9)",
    ]))


def _int_statement(draw) -> str:
    """``q = ...`` of an int operator at its edges (every one wraps modulo 2**32)."""
    return "q = " + draw(st.sampled_from([
        "(q * 7 + kd) % kd", "(q - 13) // kd", "q % -3 + q // -3", "q ** 2 + kd",
        "abs(q - kd)", "-q // 3", "step % kd", "(id * 7 + batch) // kd",
        "(q - 647483647) % 2000000000", "q * 1103515245 + 12345", "q // -1",
        "(2147483647 - q) % 7", "kd ** 3 - q ** 2", "min(q, kd) + max(-q, kd)",
        "clip(q, -abs(kd), abs(kd))", "abs(kd) % 4 - q",
    ]))


def _condition(draw, single: bool) -> str:
    """An int, chained or equality condition for an ``if``."""
    x = "x0" if single else "J"
    return draw(st.sampled_from([
        "q % 3 == 0", "kd < q <= 100", "-2 < q % kd < 2", f"{x} == -0.0", "J != J",
        f"0.0 <= {x} % dm < 1.0", "q // 2 != kd", "step % 4 == 1 or not (q > 0)",
        f"-1.0 < {x} < 1.0 != y", "y == y",
    ]))


def _ode_term(draw, single: bool, k: int) -> str:
    reads = ["t", "dm", "clip(J, -3.0, 3.0)"] + ([f"x{i}" for i in range(k)] if single else [])
    a = draw(st.sampled_from(reads))
    return draw(st.sampled_from([
        f"0.1 * ({a} % 0.7)", f"0.05 * ({a} // 0.3)", f"0.1 * floor({a})",
        f"0.1 * ceil({a} * 2.0)", f"0.2 * (0.5 % ({a} * {a} + 2.0))", "0.01 * (q % 5)",
        "0.01 * (step % 3)", f"0.1 * sqrt(abs({a}))", f"0.01 * abs({a} % dm)",
        "0.02 * ((id % 3) - 1)", "0.01 * (2.0 ** (q % 4))",
        f"0.1 * clip({a} * 1e9, -1.0, 1.0)"]))


def edge_parts(draw, single: bool, k: int, n: int, steps: int, batch: int,
               rng: np.random.Generator) -> EdgeParts:
    """What one model draws of the expression reference (see the module docstring)."""
    parts = EdgeParts()
    zero = draw(st.integers(0, 7)) == 0  # a neuron divides by 0.0 (a NaN or inf)
    wild = draw(st.integers(0, 3)) == 0  # huge and tiny values (now and then inf)
    tiny, huge = (1e-38, 1e38) if single else (1e-300, 1e300)
    divisors = rng.choice(DIVISORS, n)
    if wild:
        divisors *= rng.choice([1.0, tiny, huge], n, p=[0.8, 0.1, 0.1])
    if zero:
        divisors[rng.integers(n)] = draw(st.sampled_from([0.0, -0.0]))
    if single:  # a param past float32's range is refused (fuzz_models draws that apart)
        divisors = np.clip(divisors, -3e38, 3e38)
    parts.declarations += ["param dm = 0.7", "param kd: int = 3", "state y = 0.0",
                           f"state q: int = {draw(st.sampled_from([0, -5, 2147483640]))}",
                           "input J = 0.0"]
    parts.params = {"dm": divisors, "kd": rng.choice(INT_EDGES, n).astype(np.int64)}
    edges = np.array(J_EDGES["float32" if single else "float64"])
    edges = edges if wild else edges[np.abs(edges) < 1e3]
    parts.inputs = {"J": rng.choice(edges, (steps, batch, n))}
    states = [f"x{i}" for i in range(k)]
    parts.after += [_float_statement(draw, single, states)
                    for _ in range(draw(st.integers(1, 3)))]
    parts.after.append(_int_statement(draw))
    if draw(st.booleans()):  # a let of them, read in after: (substituted there)
        parts.declarations.append("let le = " + _float_statement(draw, single, states)[4:])
        parts.after.append("y = le - y // 3.0")
    if draw(st.booleans()):
        parts.after += [f"if {_condition(draw, single)}:", f"    {_int_statement(draw)}",
                        f"elif {_condition(draw, single)}:",
                        f"    {_float_statement(draw, single, states)}",
                        "else:", "    pass"]
    if draw(st.booleans()):
        parts.ode_term = _ode_term(draw, single, k)
    if draw(st.booleans()):
        parts.condition = draw(st.sampled_from([
            "step % 3 != 1", "(q % 2 == 0 or J > 0.0)", "not (J // 1.0 == 7.0)",
            "th <= x0 < 1000.0", "-1000.0 < th <= x0", "kd != 0"]))
    if draw(st.booleans()):
        parts.reset.append(draw(st.sampled_from([
            "q = (q + 1) % 5", "y = x0 % th" if single else "y = y % 0.3",
            "q -= q // 2", "y = floor(J) + ceil(-J)"])))
    parts.states = ("y", "q")
    return parts
