"""What the numerical check costs a network's run: the Vogels-Abbott networks with and
without it, in the same run.

CUBA and COBA (``examples/networks/vogels_abbott.py``), N neurons, float64, dt = 0.1 ms,
one thread (``EQSNN_THREADS=1``), nothing recorded; each network is built twice, with
``check=True`` and ``check=False``, runs 100 steps to warm up, then ``--steps`` steps are
timed (CPU time), the two alternating, best of ``--repeats``.  The check's tests of
states that stay NaN or infinite once they are wait for the end of the run
(``eqsnn/network/second_pass.py``); the others are tested in every step.

    python bench/network_check_cost.py
    python bench/network_check_cost.py --backends numpy,c --n 4000 --steps 10000
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("EQSNN_THREADS", "1")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "networks"))

import vogels_abbott  # noqa: E402

from eqsnn.network import Network  # noqa: E402


def network(which: str, n: int, backend: str, check: bool) -> Network:
    """The example's network with ``check`` set before it is built."""
    original = Network.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **{**kwargs, "check": check})
    Network.__init__ = init
    try:
        return getattr(vogels_abbott, which)(n, backend=backend)
    finally:
        Network.__init__ = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="c")
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"N = {args.n}, float64, dt = 0.1 ms, {args.steps} steps, one thread; CPU ms per "
          f"simulated second, best of {args.repeats}\n")
    print("| network | backend | check=False | check=True | cost |")
    print("|---|---|---|---|---|")
    for which in ("cuba", "coba"):
        for backend in args.backends.split(","):
            nets = {check: network(which, args.n, backend, check) for check in (False, True)}
            best = {False: float("inf"), True: float("inf")}
            for net in nets.values():
                net.run(100)
            for _ in range(args.repeats):
                for check, net in nets.items():
                    began = time.process_time()
                    net.run(args.steps)
                    best[check] = min(best[check], time.process_time() - began)
            per_second = {k: 1e3 * v * 10000 / args.steps for k, v in best.items()}
            print(f"| {which.upper()} | {backend} | {per_second[False]:.1f} | "
                  f"{per_second[True]:.1f} | {100 * (best[True] / best[False] - 1):+.1f} % |",
                  flush=True)


if __name__ == "__main__":
    main()
