"""Setting up heterogeneous populations: distinct per-neuron time constants against one shared.

For ``lif_expsyn`` (an upper-triangular 2×2 propagator), ``two_compartment``
(a full 2×2) and ``lif_noise`` (1×1 with a noise covariance), N = 1e5 and
1e6, the seconds of ``Simulator(model, N, params=...)`` (numpy backend: no
compiler in the figure) with

* ``shared``: every param at its default (one value for all neurons);
* ``distinct``: the first time constant drawn uniformly from 10-30 per neuron
  (N distinct values);

and the microseconds per distinct neuron that the difference costs.  Medians
of ``--repeats`` interleaved runs.

    python bench/setup_heterogeneous.py           # about a minute on 2 cores
    python bench/setup_heterogeneous.py --quick   # N = 1e5 only

Goals (issue: performance at scale): <= 1 µs per distinct neuron for 1×1 and
2×2 propagators; 1e6 distinct lif_expsyn neurons set up in < 2 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import eqsnn  # noqa: E402

CASES = (("lif_expsyn", "tau_mem"), ("two_compartment", "tau_soma"), ("lif_noise", "tau_mem"))


def seconds(model, n, params) -> float:
    began = time.perf_counter()
    eqsnn.Simulator(model, n, params=params)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = (100_000,) if args.quick else (100_000, 1_000_000)
    print("| model | N | shared s | distinct s | µs per distinct neuron |")
    print("|---|---|---|---|---|")
    for name, param in CASES:
        model = eqsnn.load(os.path.join(ROOT, "examples", f"{name}.eqs"))
        seconds(model, 10, None)  # derivation and imports out of the figure
        for n in sizes:
            values = np.random.default_rng(0).uniform(10.0, 30.0, n)
            shared, distinct = [], []
            for _ in range(args.repeats):
                shared.append(seconds(model, n, None))
                distinct.append(seconds(model, n, {param: values}))
            s, d = float(np.median(shared)), float(np.median(distinct))
            print(f"| {name} | {n:.0e} | {s:.3f} | {d:.3f} | {1e6 * (d - s) / n:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
