"""The Vogels-Abbott CUBA and COBA networks on ``cupy`` against the fused run on ``c``.

Same script, same run, same machine: for each network (``examples/networks/
vogels_abbott.py``, float32, dt = 0.1 ms), N neurons and a delay of 1 or 10
steps, the best wall-clock time of a run of T steps (reset before each, nothing
recorded) on ``c`` (the whole run in one call into C) and on ``cupy`` (windows of
the smallest delay, arrivals summed on the GPU by the pull kernel), as
microseconds per step and the ratio c / cupy; and whether a shorter run with
spikes recorded gives the same spikes on both (it must: the script fails if
not).

    python bench/gpu_network.py [--out DIR] [--sizes 4000 40000] [--steps 1000] [--quick]

``--emulate`` runs it on the CPU emulation of CUDA in ``tests/`` (a check that
the script runs, nothing about speed).  Writes ``gpu_network.md`` and
``gpu_network.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
import traceback

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _vogels_abbott():
    spec = importlib.util.spec_from_file_location(
        "vogels_abbott", os.path.join(ROOT, "examples", "networks", "vogels_abbott.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best_run(net, steps: int, repeats: int) -> float:
    """Smallest seconds of ``net.run(steps)`` from a reset (the first run builds)."""
    net.run(min(steps, 20))
    times = []
    for _ in range(repeats):
        net.reset()
        began = time.perf_counter()
        net.run(steps)
        times.append(time.perf_counter() - began)
    return min(times)


def same_spikes(module, which: str, n: int, delay: int, steps: int) -> bool:
    spikes = []
    for backend in ("c", "cupy"):
        net = getattr(module, which)(n=n, seed=1, backend=backend, precision="float32",
                                     delay=delay)
        res = net.run(steps, record={"exc": ["spikes"], "inh": ["spikes"]})
        spikes.append([(res[p].spikes.step, res[p].spikes.batch, res[p].spikes.neuron)
                       for p in ("exc", "inh")])
    return all(np.array_equal(x, y) for a, b in zip(*spikes) for x, y in zip(a, b))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT", "."))
    parser.add_argument("--sizes", type=int, nargs="*", default=[4000, 40000])
    parser.add_argument("--delays", type=int, nargs="*", default=[1, 10])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="T = 200, 1 repeat")
    parser.add_argument("--emulate", action="store_true",
                        help="the CPU emulation of CUDA in tests/ (runs; times nothing)")
    args = parser.parse_args()
    steps, repeats = (200, 1) if args.quick else (args.steps, args.repeats)
    if args.emulate:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        import fake_cupy
        sys.modules["cupy"] = fake_cupy
    try:
        import cupy
        device = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    except Exception as exc:  # no CuPy, no driver, no GPU
        print(f"gpu_network: no usable GPU ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 2
    module = _vogels_abbott()
    rows, failed = [], False
    for which in ("cuba", "coba"):
        for n in args.sizes:
            for delay in args.delays:
                row = {"network": which, "n": n, "delay": delay}
                try:
                    for backend in ("c", "cupy"):
                        net = getattr(module, which)(n=n, seed=1, backend=backend,
                                                     precision="float32", delay=delay)
                        row[backend] = best_run(net, steps, repeats)
                    row["same spikes"] = same_spikes(module, which, n, delay, min(steps, 300))
                    failed |= not row["same spikes"]
                except Exception:
                    row["error"] = traceback.format_exc()
                    print(row["error"], file=sys.stderr)
                    failed = True
                rows.append(row)
                print(row if "error" not in row else {**row, "error": "see above"}, flush=True)
    lines = [f"Device: {device}; Vogels-Abbott networks, float32, dt = 0.1 ms, T = {steps}, "
             "nothing recorded; microseconds per step (best of the repeats)", "",
             "| network | N | delay (steps) | c fused | cupy | c / cupy | same spikes |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        head = f"| {row['network']} | {row['n']} | {row['delay']} |"
        if "error" in row:
            lines.append(f"{head} error: {row['error'].splitlines()[-1]} ||||")
            continue
        lines.append(f"{head} {row['c'] / steps * 1e6:.1f} | {row['cupy'] / steps * 1e6:.1f} | "
                     f"{row['c'] / row['cupy']:.2f}x | {row['same spikes']} |")
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "gpu_network.md"), "w") as handle:
        handle.write(text)
    with open(os.path.join(args.out, "gpu_network.json"), "w") as handle:
        json.dump({"device": device, "steps": steps, "rows": rows}, handle, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
