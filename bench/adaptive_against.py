"""The adaptive step on ``c`` of this tree against a committed revision, interleaved.

``bench/adaptive.py`` (AdEx, N = 1e5, float64, default tolerances, one thread, CPU time)
of revision REV (``git archive`` of its ``eqsnn``, ``bench`` and ``tests``) and of this
tree run in turn, each in a subprocess of its own, ROUNDS times, so that both see the
same load on a shared machine; each run prints its RK4 and adaptive ms per step and their
ratio.  The medians of each side's ratio and adaptive time, and of the adaptive time of
this tree over REV's (pairs taken in the same round), close the table.

    python bench/adaptive_against.py --against main
    python bench/adaptive_against.py --against ae19a16 --rounds 6 --steps 40 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ROW = re.compile(r"\| c \| (\S+) \| (\S+) \| (\S+) \| (\S+)x \|")


def run(tree: str, cache: str, args) -> dict:
    """``{dt: (rk4, adaptive, ratio)}`` of one run of ``bench/adaptive.py`` of ``tree``."""
    env = dict(os.environ, EQSNN_CACHE_DIR=cache, PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run(
        [sys.executable, os.path.join(tree, "bench", "adaptive.py"), "--backends", "c",
         "--clock", "cpu", "--n", str(args.n), "--steps", str(args.steps),
         "--repeats", str(args.repeats)], env=env, cwd=tree, check=True,
        capture_output=True, text=True).stdout
    return {float(m[0]): tuple(map(float, m[1:])) for m in _ROW.findall(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", default="main", help="a git revision")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--n", type=float, default=1e5)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = os.path.join(tmp, "old")
        os.makedirs(old)
        archive = os.path.join(tmp, "old.tar")
        subprocess.run(["git", "archive", "-o", archive, args.against, "eqsnn", "bench",
                        "tests"], cwd=ROOT, check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(old, filter="data")
        trees = {args.against: (old, os.path.join(tmp, "cache-old")),
                 "this tree": (ROOT, os.path.join(tmp, "cache-new"))}
        results = {label: [] for label in trees}
        print("| round | code | dt (ms) | RK4 | adaptive | adaptive / RK4 | load |")
        print("|---|---|---|---|---|---|---|")
        for k in range(args.rounds):
            order = list(trees) if k % 2 == 0 else list(reversed(trees))  # each first in turn
            for label in order:
                rows = run(*trees[label], args)
                results[label].append(rows)
                load = os.getloadavg()[0]
                for dt, (rk4, adaptive, ratio) in rows.items():
                    print(f"| {k + 1} | {label} | {dt:g} | {rk4:.3f} | {adaptive:.3f} | "
                          f"{ratio:.2f}x | {load:.1f} |", flush=True)
    for dt in sorted(results[args.against][0]):
        print(f"\ndt = {dt:g} ms, medians over {args.rounds} rounds:")
        for label, runs in results.items():
            print(f"  {label}: adaptive {statistics.median(r[dt][1] for r in runs):.3f} ms, "
                  f"{statistics.median(r[dt][2] for r in runs):.2f}x RK4")
        gain = statistics.median(new[dt][1] / old[dt][1] for old, new in
                                 zip(results[args.against], results["this tree"]))
        print(f"  adaptive time, this tree / {args.against} (same round): {gain:.3f}")


if __name__ == "__main__":
    main()
