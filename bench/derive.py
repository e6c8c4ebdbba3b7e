"""Derivation time per example model (parse → check → analyse → solve → IR).

Run: python bench/derive.py            goal: each example < 0.5 s,
                                       the unit check < 50 ms per model
Each model is compiled cold: eqsnn's compile cache and SymPy's own cache are
cleared before each run; the best of three such cold runs is printed.
"""

from __future__ import annotations

import glob
import os
import platform
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from sympy.core.cache import clear_cache  # noqa: E402

import eqsnn  # noqa: E402
from eqsnn import pipeline  # noqa: E402


def derive_time(text: str, switches=None, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        pipeline._compile_cached.cache_clear()
        clear_cache()
        start = time.perf_counter()
        eqsnn.compile(text, switches=switches)
        best = min(best, time.perf_counter() - start)
    return best


def library_time():
    """Time to derive every standard-library class (all switch combinations used)."""
    try:
        from eqsnn.neurons import derive_all  # provided by the standard library
    except ImportError:
        return None
    pipeline._compile_cached.cache_clear()
    clear_cache()
    start = time.perf_counter()
    count = derive_all()
    return time.perf_counter() - start, count


def unit_check_times(repeats: int = 20):
    """Per example with units: the dimension check alone, the whole check stage, and the
    check stage of its unitless twin (tests/twins), best of ``repeats``, in seconds."""
    from eqsnn.frontend.check import check
    from eqsnn.frontend.dimensions import check_dimensions
    from eqsnn.frontend.parse import parse

    here = os.path.dirname(__file__)
    def best(call, *args):
        times = []
        for _ in range(repeats):
            clear_cache()
            start = time.perf_counter()
            call(*args)
            times.append(time.perf_counter() - start)
        return min(times)

    rows = []
    for twin in sorted(glob.glob(os.path.join(here, "..", "tests", "twins", "*.eqs"))):
        name = os.path.basename(twin)
        with_units = parse(open(os.path.join(here, "..", "examples", name)).read())
        unitless = parse(open(twin).read())
        rows.append((name, best(check_dimensions, with_units.declarations, {}),
                     best(check, with_units), best(check, unitless)))
    return rows


def main():
    warnings.simplefilter("ignore")
    root = os.path.join(os.path.dirname(__file__), "..", "examples")
    print(f"# derivation time, {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}")
    print(f"{'example':24s} {'method':18s} {'seconds':>8s}")
    worst = 0.0
    for path in sorted(glob.glob(os.path.join(root, "*.eqs"))):
        text = open(path).read()
        seconds = derive_time(text)
        worst = max(worst, seconds)
        method = eqsnn.compile(text).method
        print(f"{os.path.basename(path):24s} {method:18s} {seconds:8.3f}")
    print(f"slowest example: {worst:.3f} s (goal < 0.5 s) -> {'ok' if worst < 0.5 else 'SLOW'}")
    print(f"\n{'unit check':24s} {'dimensions':>10s} {'check':>8s} {'unitless':>8s} "
          f"{'ratio':>6s}  (ms; check stage with units vs its unitless twin)")
    slowest = 0.0
    for name, dims, check_units, check_plain in unit_check_times():
        slowest = max(slowest, dims)
        print(f"{name:24s} {1e3 * dims:10.2f} {1e3 * check_units:8.2f} "
              f"{1e3 * check_plain:8.2f} {check_units / check_plain:6.2f}")
    print(f"slowest dimension check: {1e3 * slowest:.2f} ms (goal < 50 ms) -> "
          f"{'ok' if slowest < 0.05 else 'SLOW'}")
    library = library_time()
    if library is not None:
        seconds, count = library
        print(f"standard library: {count} models in {seconds:.3f} s (goal < 3 s)")


if __name__ == "__main__":
    main()
