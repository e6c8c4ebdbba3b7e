"""Where the adaptive step's time goes on ``c``: the try, and the parts of the deferred pass.

Same model, stimulus and sizes as ``bench/adaptive.py`` (AdEx, N = 1e5, I uniform in
0.3-1.5 nA, float64, default tolerances, dt = 0.1 ms, one thread).  The emitted C text is
edited before it is compiled, for timing only (none of these edits is ever part of what
eqsnn runs):

* ``sections``: time-stamp counters (``__rdtsc``) around the parts of the tile loop: the
  try (the loop-free step of every neuron), and the deferred pass: the scan for deferred
  neurons, ``BEGIN``, the vectorised light iterations, the full iterations of the
  neurons that cross (set aside, then run together), ``END``, and the rest (gathers,
  partitions, copies, scatters);
* ``cheap-exp``: every ``exp`` of the step functions replaced by a quadratic (wrong
  numbers, and different deferred neurons): what the arithmetic costs without ``exp``,
  for RK4 and for the try alone (deferred pass skipped).

    python bench/adaptive_breakdown.py            # x86-64 with GCC or Clang (uses __rdtsc)
    python bench/adaptive_breakdown.py --steps 100 --repeats 3
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from adaptive import arguments, simulator, time_runs  # noqa: E402  (bench/ is on sys.path)

from eqsnn.backends import _toolchain  # noqa: E402
from eqsnn.pipeline import EqsnnWarning  # noqa: E402

SECTIONS = ("try", "deferred pass", "scan", "begin", "iterations", "crossings", "end")
_COUNTERS = """
#include <x86intrin.h>
static unsigned long long eqsnn_bench_tsc_sum[8];
unsigned long long eqsnn_bench_tsc(void) { return __rdtsc(); }
void eqsnn_bench_read(unsigned long long *out)
{ for (int k = 0; k < 8; ++k) { out[k] = eqsnn_bench_tsc_sum[k]; eqsnn_bench_tsc_sum[k] = 0; } }
#define EQSNN_BENCH_BEGIN(k) const unsigned long long eqsnn_bench_t##k = __rdtsc();
#define EQSNN_BENCH_END(k) eqsnn_bench_tsc_sum[k] += __rdtsc() - eqsnn_bench_t##k;
"""


def _find(pattern: str, text: str, start: int) -> int:
    found = re.compile(pattern).search(text, start)
    if found is None:
        raise SystemExit(f"the emitted C text has changed: no {pattern!r}; update this script")
    return found.start()


def _insert(text: str, at: int, what: str) -> str:
    return text[:at] + what + "\n" + text[at:]


def with_sections(text: str) -> str:
    """The adaptive model's C text with counters around the parts of its tile loop."""
    text = text.replace("#include <math.h>", "#include <math.h>\n" + _COUNTERS, 1)
    flags = _find(r"flags = flag_rows \+ \(i & 1\) \* \d+;", text, 0)
    marks = [  # (pattern, marker), each searched after the one before
        (r"#if defined\(__clang__\)", "EQSNN_BENCH_BEGIN(0)"),
        (r"\{  /\* the deferred neurons", "EQSNN_BENCH_END(0) EQSNN_BENCH_BEGIN(1)"),
        (r"for \(j = _from; j < last", "EQSNN_BENCH_BEGIN(2)"),
        (r"_from = j;", "EQSNN_BENCH_END(2)"),
        (r"for \(mb = 0; mb < _dn; mb \+= \d+\) \{", "EQSNN_BENCH_BEGIN(3)"),
        (r"p = 0, q = _dn(?: - 1)?;", "EQSNN_BENCH_END(3)"),
        # the rounds of full iterations (the crossings, together), then the light ones
        (r"for \(mb = 0; mb < _dn; mb \+= \d+\) \{", "EQSNN_BENCH_BEGIN(5)"),
        (r"\} else \{", "EQSNN_BENCH_END(5)"),
        (r"for \(mb = 0; mb < _dn; mb \+= \d+\) \{", "EQSNN_BENCH_BEGIN(4)"),
        (r"\}\n\s*p = 0, q = _dn;", "EQSNN_BENCH_END(4)"),
        (r"for \(mb = p; mb < \d+; mb \+= \d+\) \{", "EQSNN_BENCH_BEGIN(6)"),
        (r"for \(m = _top; m < \d+; \+\+m\) \{", "EQSNN_BENCH_END(6)"),
        (r"/\* spike words of the step before", "EQSNN_BENCH_END(1)"),
    ]
    at = flags
    for pattern, marker in marks:
        at = _find(pattern, text, at)
        text = _insert(text, at, marker)
        at += len(marker) + 1 + 1
    return text


def cheap_exp(text: str) -> str:
    """Every ``exp`` of the step functions a quadratic (timing only: the numbers are wrong)."""
    return text.replace("= exp(", "= eqsnn_bench_exp(").replace(
        "#include <math.h>", "#include <math.h>\nstatic inline double eqsnn_bench_exp(double x)"
        " { return 1.0 + x * (1.0 + 0.5 * x); }", 1)


def no_deferred_pass(text: str) -> str:
    """The deferred neurons left as the try left them (timing only)."""
    return text.replace("if (_dn) {", "if (0) {", 1)


def build(method: str, n: int, current, edits):
    """The benchmark's simulator for ``method`` with ``edits`` applied to its C text."""
    original = _toolchain.compile_shared_library

    def edited(text, stem, fast_math):
        for edit in edits:
            text = edit(text)
        return original(text, stem, fast_math)
    _toolchain.compile_shared_library = edited
    try:
        return simulator(method, "c", n, 0.1, current)
    finally:
        _toolchain.compile_shared_library = original


def sections(sim, current, steps: int) -> dict:
    """ms per step of each section of one run of ``steps`` steps (TSC, calibrated on it)."""
    library = sim._runner.program.library
    library.eqsnn_bench_tsc.restype = ctypes.c_ulonglong
    counters = (ctypes.c_ulonglong * 8)()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EqsnnWarning)
        sim.run(10, inputs={"I": current}, progress=False)
        library.eqsnn_bench_read(counters)
        wall, tsc = time.perf_counter(), library.eqsnn_bench_tsc()
        sim.run(steps, inputs={"I": current}, progress=False)
        wall, tsc = time.perf_counter() - wall, library.eqsnn_bench_tsc() - tsc
    library.eqsnn_bench_read(counters)
    per_ms = tsc / wall / 1e3  # counter ticks per millisecond
    return {name: counters[k] / per_ms / steps for k, name in enumerate(SECTIONS)}


def main() -> None:
    args, n, current = arguments(__doc__.split("\n")[0], 200, 5)
    rk4 = time_runs(build("rk4", n, current, ()), current, args.steps, args.repeats)
    adaptive = build("adaptive", n, current, (with_sections,))
    total = time_runs(adaptive, current, args.steps, args.repeats)
    runs = [sections(adaptive, current, args.steps) for _ in range(args.repeats)]
    parts = {name: min(run[name] for run in runs) for name in SECTIONS}  # each its best
    rest = parts["deferred pass"] - sum(parts[k] for k in SECTIONS[2:])
    print(f"AdEx, N = {n:.0e}, float64, dt = 0.1 ms, c on one thread; ms per step")
    print(f"RK4 {rk4:.3f}, adaptive {total:.3f} (CPU time, best of {args.repeats} runs of "
          f"{args.steps} steps): {total / rk4:.2f}x\n")
    print("| part of the adaptive step | ms per step | / RK4 |")
    print("|---|---|---|")
    for name in SECTIONS:
        label = name if name in ("try", "deferred pass") else f"  {name}"
        print(f"| {label} | {parts[name]:.3f} | {parts[name] / rk4:.2f} |")
    print(f"|   rest (gathers, partitions, copies) | {rest:.3f} | {rest / rk4:.2f} |\n")
    cheap_rk4 = time_runs(build("rk4", n, current, (cheap_exp,)), current, args.steps,
                          args.repeats)
    try_alone = time_runs(build("adaptive", n, current, (no_deferred_pass,)), current,
                          args.steps, args.repeats)
    cheap_try = time_runs(build("adaptive", n, current, (no_deferred_pass, cheap_exp)),
                          current, args.steps, args.repeats)
    print("| | RK4 | try alone | try / RK4 |")
    print("|---|---|---|---|")
    print(f"| as built | {rk4:.3f} | {try_alone:.3f} | {try_alone / rk4:.2f} |")
    print(f"| exp a quadratic | {cheap_rk4:.3f} | {cheap_try:.3f} | {cheap_try / cheap_rk4:.2f} |")
    print(f"| so exp costs | {rk4 - cheap_rk4:.3f} | {try_alone - cheap_try:.3f} | "
          f"{(try_alone - cheap_try) / (rk4 - cheap_rk4):.2f} |")


if __name__ == "__main__":
    main()
