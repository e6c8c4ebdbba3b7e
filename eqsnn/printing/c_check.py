"""The numerical check's cheap test on ``c``: a reduction per tile, the exact test on demand.

The step's check (:mod:`eqsnn.runtime.checks`) names the first failing step and
code of every neuron.  Printed as selects per neuron (``eqsnn.printing.c``), a
state with bounds costs the vectorised neuron loop more than the step itself:
GCC packs each neuron's code into the flag bytes with mask moves and permutes.
Where the model has tests in every step, the tile loop of the ``c`` backend
therefore runs its steps first with this cheaper test, which records nothing
per neuron: each tested state folds its values into one or two integers per
tile and run, with no branch and no store, and only where those leave the
range that every passing value keeps does the tile run its steps again from
its start with the exact check (:func:`eqsnn.backends.c_run_loop.run_loop_text`).

The test of a state holds for every value that passes the state's tests and
fails for every value that fails one (false alarms cost the exact run, never a
result; a missed failure is impossible):

* **magnitude**: a state with no bounds, or with bounds symmetric about 0
  (``(> -1000, < 1000)``): the largest ``bits & 0x7f..f`` (the bits of ``|x|``,
  ordered as ``|x|`` is, NaN above infinity) against that of the bound;
* **sign split**: bounds on both sides of 0 (``(> -100, < 1000)``): the largest
  bits as a signed integer (the largest positive value, ordered as ``|x|``, NaN
  above infinity) and as an unsigned one (negative values above all positive
  ones, ordered as ``|x|``) against those of the bounds;
* **order key**: any other bounds: the smallest and largest of
  ``bits ^ ((bits >> 31) >> 1)`` (the bits as a signed integer ordered as the
  value is, ``-0`` just below ``+0``, NaNs past the infinities) against the
  keys of the largest failing value below and the smallest above.

Both are integer operations on the value's bits, which no floating-point flag
(``fast_math``) can change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CheapTest", "Fold", "cheap_tests", "order_key", "magnitude"]

_WIDTH = {"float32": 32, "float64": 64}
#: C types of the accumulated integers: (unsigned, signed) per precision
C_TYPES = {"float32": ("unsigned int", "int"), "float64": ("unsigned long long", "long long")}


@dataclass(frozen=True)
class Fold:
    """One accumulated integer of a cheap test: C name ``name`` (``signed`` or not), its
    value before any fold ``initial`` (the identity of its maximum or minimum, so that a
    tile with no value folded has not failed), the C expression of a value's bits
    ``value`` (a format of the value's C text), ``keep`` ``">"`` (the largest) or ``"<"``
    (the smallest), and the test ``fail`` ``threshold`` that a failing value passes."""

    name: str
    signed: bool
    initial: int
    value: str
    keep: str
    fail: str
    threshold: int


@dataclass(frozen=True)
class CheapTest:
    """The cheap test of state ``state`` (its index ``index`` among the tested states):
    ``kind`` ``"magnitude"`` fails where the largest magnitude bits reach ``high``;
    ``"split"`` where the largest signed bits reach ``high`` or the largest unsigned bits
    ``low``; ``"key"`` where the smallest order key is at most ``low`` or the largest at
    least ``high``; ``deferred``: a state whose test waits for the second pass."""

    state: str
    index: int
    kind: str
    low: int
    high: int
    deferred: bool
    precision: str = "float32"

    def folds(self) -> tuple[Fold, ...]:
        """The integers this test accumulates (see the class doc for each kind)."""
        width, i = _WIDTH[self.precision], self.index
        smallest, largest = -(1 << (width - 1)), (1 << (width - 1)) - 1
        if self.kind == "magnitude":
            return (Fold(f"_cm{i}", False, 0, "eqsnn_magnitude({})", ">", ">=", self.high),)
        if self.kind == "split":
            _, signed = C_TYPES[self.precision]
            return (Fold(f"_cu{i}", False, 0, "eqsnn_bits({})", ">", ">=", self.low),
                    Fold(f"_cs{i}", True, smallest, f"({signed})eqsnn_bits({{}})", ">", ">=",
                         self.high))
        return (Fold(f"_cl{i}", True, largest, "eqsnn_order_key({})", "<", "<=", self.low),
                Fold(f"_ch{i}", True, smallest, "eqsnn_order_key({})", ">", ">=", self.high))

    def accumulators(self) -> tuple[str, ...]:
        """The C names of this test's accumulated integers."""
        return tuple(fold.name for fold in self.folds())


def _bits(value: float, precision: str) -> int:
    """The bits of ``value`` in ``precision``, as an unsigned integer."""
    dtype, ints = (np.float32, np.uint32) if precision == "float32" else (np.float64, np.uint64)
    with np.errstate(over="ignore"):
        return int(np.array(value, dtype=dtype).view(ints))


def magnitude(value: float, precision: str) -> int:
    """The bits of ``|value|`` (``value`` in ``precision``), as the C helper computes them."""
    return _bits(value, precision) & ((1 << (_WIDTH[precision] - 1)) - 1)


def order_key(value: float, precision: str) -> int:
    """``value``'s bits as a signed integer ordered as the values are (the C helper
    ``eqsnn_order_key``): ``order_key(x) < order_key(y)`` where ``x < y``, and
    ``order_key(-0.0) == -1 < order_key(0.0) == 0``.

    >>> [order_key(x, "float32") for x in (-1.0, -0.0, 0.0, 1.0)] == sorted(
    ...     order_key(x, "float32") for x in (-1.0, -0.0, 0.0, 1.0))
    True
    """
    width = _WIDTH[precision]
    bits = _bits(value, precision)
    signed = bits - (1 << width) if bits >> (width - 1) else bits
    return signed ^ ((1 << (width - 1)) - 1) if signed < 0 else signed


def _low_key(op: str, bound: float, precision: str) -> int:
    """The key of the largest value failing lower bound ``op bound`` (``>`` or ``>=``)."""
    if bound == 0.0:  # -0.0 and 0.0 compare equal, but have keys -1 and 0
        return 0 if op == ">" else -2  # > 0 fails +-0; >= 0 fails below -0 only
    key = order_key(bound, precision)
    return key if op == ">" else key - 1


def _high_key(op: str, bound: float, precision: str) -> int:
    """The key of the smallest value failing upper bound ``op bound`` (``<`` or ``<=``)."""
    if bound == 0.0:
        return -1 if op == "<" else 1  # < 0 fails +-0; <= 0 fails above +0 only
    key = order_key(bound, precision)
    return key if op == "<" else key + 1


def cheap_tests(tests, deferred, precision: str) -> tuple[CheapTest, ...]:
    """The cheap test of each state ``tests`` (``(code, state, bounds)`` of
    :func:`eqsnn.runtime.checks.check_tests`) tests, in the tests' order; ``deferred``:
    the states whose tests run in the second pass only."""
    states: dict[str, list] = {}
    for _, state, bounds in tests:
        states.setdefault(state, []).extend(bounds)
    out = []
    infinity = float("inf")
    for index, (state, bounds) in enumerate(states.items()):
        lows = [(op, b) for op, b in bounds if op in (">", ">=")]
        highs = [(op, b) for op, b in bounds if op in ("<", "<=")]
        sizes = {-b for _, b in lows} | {b for _, b in highs}
        if not bounds:
            out.append(CheapTest(state, index, "magnitude", 0,
                                 magnitude(infinity, precision), state in deferred, precision))
            continue
        if lows and highs and len(sizes) == 1 and 0.0 < next(iter(sizes)) < infinity:
            size = next(iter(sizes))
            strict = any(op in (">", "<") for op, _ in bounds)
            out.append(CheapTest(state, index, "magnitude", 0,
                                 magnitude(size, precision) + (not strict),
                                 state in deferred, precision))
            continue
        if lows and highs and all(b < 0.0 for _, b in lows) and all(
                0.0 < b < infinity for _, b in highs):
            # -x's bits as unsigned are past 2^(w-1) + |x|'s: the smallest failing below
            low = min(_bits(b, precision) + (op == ">=") for op, b in lows)
            high = min(magnitude(b, precision) + (op == "<=") for op, b in highs)
            out.append(CheapTest(state, index, "split", low, high, state in deferred,
                                 precision))
            continue
        low = max([_low_key(op, b, precision) for op, b in lows]
                  + [order_key(-infinity, precision)])
        high = min([_high_key(op, b, precision) for op, b in highs]
                   + [order_key(infinity, precision)])
        out.append(CheapTest(state, index, "key", low, high, state in deferred, precision))
    return tuple(out)


def helper_text(precision: str) -> str:
    """The C helpers of the cheap test, after the prelude's ``FLOAT``."""
    unsigned, signed = C_TYPES[precision]
    top = _WIDTH[precision] - 1
    mask = hex((1 << top) - 1) + ("u" if precision == "float32" else "ull")
    return f"""\
/* the numerical check's cheap test (eqsnn.printing.c_check): |x|'s bits, ordered as |x|
 * (NaN above infinity), and x's bits as a signed integer ordered as x (-0 below +0) */
EQSNN_FN {unsigned} eqsnn_magnitude(FLOAT x)
{{
    union {{ FLOAT value; {unsigned} bits; }} u;
    u.value = x;
    return u.bits & {mask};
}}
EQSNN_FN {unsigned} eqsnn_bits(FLOAT x)
{{
    union {{ FLOAT value; {unsigned} bits; }} u;
    u.value = x;
    return u.bits;
}}
EQSNN_FN {signed} eqsnn_order_key(FLOAT x)
{{
    union {{ FLOAT value; {signed} bits; }} u;
    u.value = x;
    return u.bits ^ ({signed})(({unsigned})(u.bits >> {top}) >> 1);
}}
"""


def parameters(tests, precision: str) -> list[str]:
    """The step function's parameters of the cheap test: the switch and a pointer to each
    accumulated integer."""
    types = C_TYPES[precision]
    return ["const int _exact"] + [f"{types[fold.signed]} *_fold{fold.name}"
                                   for test in tests for fold in test.folds()]


def fold_lines(test: CheapTest, value: str) -> list[str]:
    """C lines folding ``value`` (a C expression of the state) into ``test``'s integers."""
    lines = []
    for fold in test.folds():
        bits, acc = fold.value.format(value), f"*_fold{fold.name}"
        lines.append(f"{acc} = {bits} {fold.keep} {acc} ? {bits} : {acc};")
    return lines


def fold_block(tests, before, after: dict, check_all) -> list[str]:
    """C lines folding each tested state into its test's integers: its value ``before(state)``
    (before the resets) and, for a state in ``after`` (state -> C value), its value after
    them; deferred states only where ``check_all`` (the C name of ``_check_all``) is
    positive."""
    lines = []
    for deferred in (False, True):
        chosen = [test for test in tests if test.deferred == deferred]
        if not chosen:
            continue
        indent = "    " if deferred else ""
        if deferred:
            lines.append(f"if ({check_all} > 0) {{")
        for test in chosen:
            values = [before(test.state)] + ([after[test.state]] if test.state in after else [])
            for value in values:
                lines += [indent + line for line in fold_lines(test, value)]
        if deferred:
            lines.append("}")
    return lines


def _literal(value: int, precision: str, signed: bool) -> str:
    suffix = ("" if precision == "float32" else "ll") if signed else (
        "u" if precision == "float32" else "ull")
    if signed and value < 0:  # the most negative value has no literal of its own
        return f"({value + 1}{suffix} - 1)"
    return f"{value}{suffix}"


def declarations(tests, precision: str) -> list[str]:
    """The tile loop's accumulated integers, each at its initial value."""
    types = C_TYPES[precision]
    return [f"{types[fold.signed]} {fold.name} = "
            f"{_literal(fold.initial, precision, fold.signed)};"
            for test in tests for fold in test.folds()]


def failed_condition(tests, precision: str) -> str:
    """C: whether a value folded into the integers failed a test (or may have)."""
    parts = [f"{fold.name} {fold.fail} {_literal(fold.threshold, precision, fold.signed)}"
             for test in tests for fold in test.folds()]
    return " || ".join(parts) if parts else "0"
