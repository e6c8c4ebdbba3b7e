"""What recording spikes costs: runs with and without ``record=["spikes"]``, same script.

ml_genn's LIF with ``scale_i`` (the standard library's ``LeakyIntegrateFire``),
float32, dt = 1, inputs uniform in 0.9-1.5 (about 2.5 % of the neurons spike
per step), N = 1e4, 1e5, 1e6, on the ``c`` backend (T = 1000 steps) and the
``numpy`` backend (T = 200).  For each N, interleaved, ``--repeats`` times:

* ``off``: ``sim.run(T, inputs)``, nothing recorded (the baseline);
* ``bits``: ``sim.run(T, inputs, record=["spikes"])``: the bit planes only;
* ``listed``: the same plus the first access to ``result.spikes.neuron``
  (the C decoder lists every spike).

Each result is dropped before the next run, so recording memory is reused
(the pool of :mod:`eqsnn.runtime.spike_bits`); ``fresh`` is one ``listed``
run after :func:`~eqsnn.runtime.spike_bits.release_buffers`, in memory new to
the process.  Printed: medians in µs per step, ``bits / off``, and the
nanoseconds per spike that recording and listing add,
``(listed - off) / spikes``.

    python bench/spike_recording.py             # about a minute on 2 cores
    python bench/spike_recording.py --quick     # N = 1e4, 1e5 only, 3 repeats

Goals (issue: performance at scale), on ``c`` at N = 1e6: ``bits / off``
<= 1.2 and ``(listed - off) / spikes`` <= 3 ns.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from eqsnn.neurons import LeakyIntegrateFire  # noqa: E402
from eqsnn.runtime import Simulator, spike_bits  # noqa: E402

MODES = ("off", "bits", "listed")


def one_run(sim, steps, current, mode) -> tuple[float, int]:
    record = () if mode == "off" else ("spikes",)
    began = time.perf_counter()
    result = sim.run(steps, inputs={"Isyn": current}, record=record, progress=False)
    count = 0
    if mode == "listed":
        count = len(result.spikes.neuron)
    elapsed = time.perf_counter() - began
    del result
    gc.collect()
    return elapsed, count


def measure(backend: str, n: int, steps: int, repeats: int) -> dict:
    current = np.random.default_rng(0).uniform(0.9, 1.5, n).astype(np.float32)
    sim = Simulator(LeakyIntegrateFire(scale_i=True), n, backend=backend)
    one_run(sim, 10, current, "listed")  # compile, load, warm the caches
    spike_bits.release_buffers()
    sim.reset()
    fresh, spikes = one_run(sim, steps, current, "listed")
    times = {mode: [] for mode in MODES}
    for _ in range(repeats):
        for mode in MODES:
            sim.reset()
            elapsed, count = one_run(sim, steps, current, mode)
            times[mode].append(elapsed)
            spikes = count or spikes
    median = {mode: float(np.median(values)) for mode, values in times.items()}
    return dict(backend=backend, n=n, steps=steps, spikes=spikes, fresh=fresh, **median)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sizes = (10_000, 100_000) if args.quick else (10_000, 100_000, 1_000_000)
    repeats = 3 if args.quick else args.repeats
    print(f"decoder: {spike_bits.decoder()}; medians of {repeats} interleaved runs\n")
    print("| backend | N | T | spikes/step | off µs/step | bits µs/step | listed µs/step "
          "| fresh µs/step | bits / off | added ns/spike | fresh ns/spike |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for backend, steps in (("c", 1000), ("numpy", 200)):
        for n in sizes:
            r = measure(backend, n, steps, repeats)
            per = 1e6 / steps
            added = 1e9 * (r["listed"] - r["off"]) / max(r["spikes"], 1)
            fresh = 1e9 * (r["fresh"] - r["off"]) / max(r["spikes"], 1)
            print(f"| {backend} | {n:.0e} | {steps} | {r['spikes'] / steps:.0f} "
                  f"| {r['off'] * per:.1f} | {r['bits'] * per:.1f} | {r['listed'] * per:.1f} "
                  f"| {r['fresh'] * per:.1f} | {r['bits'] / r['off']:.2f} | {added:.2f} "
                  f"| {fresh:.2f} |", flush=True)


if __name__ == "__main__":
    main()
