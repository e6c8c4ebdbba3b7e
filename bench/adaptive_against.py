"""The adaptive step on ``c`` (or ``numpy``) of this tree against a committed revision,
interleaved.

``bench/adaptive.py`` (AdEx, N = 1e5, float64, default tolerances, one thread, CPU time)
of revision REV (``git archive`` of its ``eqsnn``, ``bench`` and ``tests``) and of this
tree run in turn, each in a subprocess of its own, ROUNDS times, so that both see the
same load on a shared machine; each run prints its RK4 and adaptive ms per step and their
ratio.  The medians of each side's ratio and adaptive time, and of the adaptive time of
this tree over REV's (pairs taken in the same round), close the table.

    python bench/adaptive_against.py --against main
    python bench/adaptive_against.py --against ae19a16 --rounds 6 --steps 40 --repeats 5
    python bench/adaptive_against.py --against ae19a16 --new HEAD   # two revisions
    python bench/adaptive_against.py --against main --backend numpy
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


def run(tree: str, cache: str, args) -> dict:
    """``{dt: (rk4, adaptive, ratio)}`` of one run of ``bench/adaptive.py`` of ``tree``."""
    env = dict(os.environ, EQSNN_CACHE_DIR=cache, PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run(
        [sys.executable, os.path.join(tree, "bench", "adaptive.py"), "--backends", args.backend,
         "--clock", "cpu", "--n", str(args.n), "--steps", str(args.steps),
         "--repeats", str(args.repeats)], env=env, cwd=tree, check=True,
        capture_output=True, text=True).stdout
    row = re.compile(rf"\| {args.backend} \| (\S+) \| (\S+) \| (\S+) \| (\S+)x \|")
    return {float(m[0]): tuple(map(float, m[1:])) for m in row.findall(out)}


def extract(revision: str, into: str) -> str:
    """The ``eqsnn``, ``bench`` and ``tests`` of ``revision`` under ``into``."""
    os.makedirs(into)
    archive = into + ".tar"
    subprocess.run(["git", "archive", "-o", archive, revision, "eqsnn", "bench", "tests"],
                   cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", default="main", help="a git revision")
    parser.add_argument("--new", help="a git revision in place of this tree's files")
    parser.add_argument("--backend", choices=("c", "numpy"), default="c")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--n", type=float, default=1e5)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = extract(args.against, os.path.join(tmp, "old"))
        new = extract(args.new, os.path.join(tmp, "new")) if args.new else ROOT
        label = args.new or "this tree"
        trees = {args.against: (old, os.path.join(tmp, "cache-old")),
                 label: (new, os.path.join(tmp, "cache-new"))}
        results = {name: [] for name in trees}
        print("| round | code | dt (ms) | RK4 | adaptive | adaptive / RK4 | load |")
        print("|---|---|---|---|---|---|---|")
        for k in range(args.rounds):
            order = list(trees) if k % 2 == 0 else list(reversed(trees))  # each first in turn
            for name in order:
                rows = run(*trees[name], args)
                results[name].append(rows)
                load = os.getloadavg()[0]
                for dt, (rk4, adaptive, ratio) in rows.items():
                    print(f"| {k + 1} | {name} | {dt:g} | {rk4:.3f} | {adaptive:.3f} | "
                          f"{ratio:.2f}x | {load:.1f} |", flush=True)
    for dt in sorted(results[args.against][0]):
        print(f"\ndt = {dt:g} ms, medians over {args.rounds} rounds:")
        for name, runs in results.items():
            print(f"  {name}: adaptive {statistics.median(r[dt][1] for r in runs):.3f} ms, "
                  f"{statistics.median(r[dt][2] for r in runs):.2f}x RK4")
        gain = statistics.median(b[dt][1] / a[dt][1] for a, b in
                                 zip(results[args.against], results[label]))
        print(f"  adaptive time, {label} / {args.against} (same round): {gain:.3f}")


if __name__ == "__main__":
    main()
