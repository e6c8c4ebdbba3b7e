"""Compile time of a chain of lets, each using the previous one twice.

Run: python bench/let_chain.py              goal: 40 lets < 1 s, growing linearly

    let a0 = V
    let a{i} = a{i-1} * a{i-1} + a{i-1}
    after: V = a{k}            (or: dV/dt = -V + a{k})

Written out, a{k} has about 2**k terms.  The baseline, in the same script, is
the same compiler with every let substituted (``eqsnn.frontend.lets.INLINE_LIMIT``
raised past any size), which is what eqsnn did before lets were shared; it
is timed only up to 16 lets in a statement and 5 inside an ODE (where the
linearity analysis expands a polynomial of degree 2**k), beyond which it
takes minutes and gigabytes.
Each compile is cold (eqsnn's and SymPy's caches cleared); best of three.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from sympy.core.cache import clear_cache  # noqa: E402

import eqsnn  # noqa: E402
from eqsnn import pipeline  # noqa: E402
from eqsnn.frontend import lets  # noqa: E402


def chain_text(k: int, ode: bool) -> str:
    lines = ["neuron Chain", "    state V = 0.01", "    let a0 = V"]
    lines += [f"    let a{i} = a{i - 1} * a{i - 1} + a{i - 1}" for i in range(1, k + 1)]
    lines += [f"    dV/dt = -V + a{k}"] if ode else ["    after:", f"        V = a{k}"]
    return "\n".join(lines) + "\n"


def compile_time(text: str, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        pipeline._compile_cached.cache_clear()
        clear_cache()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            eqsnn.compile(text)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"{'lets':>5} {'where':>6} {'shared s':>9} {'substituted s':>14} {'ratio':>7}")
    shared_limit = lets.INLINE_LIMIT
    for k in (4, 5, 8, 12, 16, 20, 30, 40):
        for ode in (False, True):
            text = chain_text(k, ode)
            shared = compile_time(text)
            substituted = None
            if k <= (5 if ode else 16):
                lets.INLINE_LIMIT = float("inf")
                try:
                    substituted = compile_time(text, repeats=1)
                finally:
                    lets.INLINE_LIMIT = shared_limit
            ratio = f"{substituted / shared:7.1f}" if substituted else "      -"
            base = f"{substituted:14.3f}" if substituted else f"{'-':>14}"
            print(f"{k:>5} {'ode' if ode else 'after':>6} {shared:9.3f} {base} {ratio}")


if __name__ == "__main__":
    main()
