"""The cost of rolling back a network's run that does not finish (``eqsnn/network/rollback.py``).

Before its first step every run copies the populations' states, the spikes in flight and
the plastic states, to put back if the run raises.  A long run pays that once; a loop of
``run(1)`` (a training loop, a closed loop with the host) pays it every step.  Same
script, same run: the Vogels-Abbott CUBA network (``examples/networks/vogels_abbott.py``,
float64, nothing recorded), runs of 1 and of 100 steps, with the snapshot as built and
with it replaced by one that copies nothing (the baseline), alternating, CPU time, best
of R; numpy and c (one thread).

    python bench/network_rollback.py
    python bench/network_rollback.py --n 4000 --calls 100 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "networks"))
os.environ.setdefault("EQSNN_THREADS", "1")

import vogels_abbott  # noqa: E402

from eqsnn.network import running  # noqa: E402


class _NoSnapshot:
    """The baseline: takes nothing, puts nothing back."""

    def __init__(self, net):
        pass

    def restore(self) -> None:
        pass


def per_call(net, steps: int, calls: int) -> float:
    """CPU ms per ``net.run(steps)``, over ``calls`` calls."""
    began = time.process_time()
    for _ in range(calls):
        net.run(steps)
    return 1e3 * (time.process_time() - began) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    built = running.NetworkSnapshot
    print(f"CUBA, N = {args.n}, float64; CPU ms per call, best of {args.repeats}")
    print("| backend | steps a call | no rollback | with rollback | cost |")
    print("|---|---|---|---|---|")
    for backend in ("numpy", "c"):
        net = vogels_abbott.cuba(args.n, backend=backend)
        net.run(10)  # compiled and warm
        for steps in (1, 100):
            calls = max(1, args.calls // steps)
            best = {}
            for _ in range(args.repeats):
                for name, snapshot in (("off", _NoSnapshot), ("on", built)):
                    running.NetworkSnapshot = snapshot
                    try:
                        best[name] = min(best.get(name, float("inf")),
                                         per_call(net, steps, calls))
                    finally:
                        running.NetworkSnapshot = built
            print(f"| {backend} | {steps} | {best['off']:.3f} | {best['on']:.3f} | "
                  f"{100 * (best['on'] / best['off'] - 1):+.1f} % |", flush=True)


if __name__ == "__main__":
    main()
