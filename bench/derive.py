"""Derivation time per example model (parse → check → analyse → solve → IR).

Run: python bench/derive.py            goal: each example < 0.5 s
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
    library = library_time()
    if library is not None:
        seconds, count = library
        print(f"standard library: {count} models in {seconds:.3f} s (goal < 3 s)")


if __name__ == "__main__":
    main()
