"""Networks on pygenn against numpy and c: run time (spikes recorded) and spike agreement.

Runs the Vogels–Abbott CUBA and COBA networks (``examples/networks/vogels_abbott.py``)
on each backend in one process, build time excluded, and prints the run time of each
backend relative to numpy and whether its spikes equal numpy's::

    PYTHONPATH=$PWD /opt/genn-venv/bin/python bench/network_pygenn.py --n 4000 --steps 2000

Needs PyGeNN (GeNN 5) for the pygenn column; a backend that cannot run is reported.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "networks"))

import vogels_abbott  # noqa: E402

from eqsnn.errors import EqsnnError  # noqa: E402


def run(which, n, steps, backend, precision, delay, seed=1):
    started = time.perf_counter()
    net = getattr(vogels_abbott, which)(n, seed=seed, backend=backend, precision=precision,
                                        delay=delay)
    net.build()
    built = time.perf_counter() - started
    started = time.perf_counter()
    res = net.run(steps, record={"exc": ["spikes"], "inh": ["spikes"]})
    return res, built, time.perf_counter() - started


def same_spikes(a, b) -> bool:
    return all(np.array_equal(getattr(a[p].spikes, f), getattr(b[p].spikes, f))
               for p in ("exc", "inh") for f in ("step", "batch", "neuron"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--delays", default="1,10")
    parser.add_argument("--precision", default="float32", choices=("float32", "float64"))
    parser.add_argument("--backends", default="numpy,c,pygenn")
    args = parser.parse_args(argv)
    backends = args.backends.split(",")
    print(f"N = {args.n}, {args.steps} steps of 0.1 ms, {args.precision}, spikes recorded, "
          "build excluded")
    print("| network | delay | backend | spikes | same as numpy | build (s) | run (s) | "
          "run / numpy |")
    print("|---|---|---|---|---|---|---|---|")
    for which in ("cuba", "coba"):
        for delay in (int(d) for d in args.delays.split(",")):
            ref = None
            for backend in backends:
                try:
                    res, built, ran = run(which, args.n, args.steps, backend, args.precision,
                                          delay)
                except EqsnnError as exc:
                    print(f"| {which} | {delay} | {backend} | did not run: {exc.message} |")
                    continue
                if ref is None:
                    ref = (res, ran)
                count = sum(len(res[p].spikes) for p in ("exc", "inh"))
                print(f"| {which} | {delay} | {backend} | {count} | "
                      f"{same_spikes(res, ref[0])} | {built:.1f} | {ran:.2f} | "
                      f"{ran / ref[1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
