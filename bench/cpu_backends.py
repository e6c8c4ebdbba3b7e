"""The ``c`` backend against hand-written in-place NumPy on LIF with constant per-neuron input.

Same script, same run: for N = 1e4, 1e5, 1e6 neurons and T = 1000 steps
(float32, dt = 1 ms, tau_mem = 20 ms), with and without ml_genn's float
refractory countdown, the time per step of

* ``numpy``: the LIF update written by hand as in-place NumPy ufuncs
  (the baseline; single-threaded),
* ``c 1t`` / ``c 2t``: the ``c`` backend on one and two OpenMP threads,
* ``c 2t aw``: two threads in a run that follows another two-thread run at
  once, so the OpenMP worker is still awake (``c 2t`` follows other work,
  and the worker has gone to sleep: waking it costs about 0.15 ms on the
  development machine's KVM, which shows at N = 1e4),

and the ratios ``numpy / c``.  Nothing is recorded (as in the baseline); the
column ``c 1t+spk`` also records spikes.  Then the cold compile time of the
model (compiler probes already done) and the time to load it from the cache
in a fresh process.

    python bench/cpu_backends.py            # the full table (about a minute and a half)
    python bench/cpu_backends.py --quick    # T = 100, fewer repeats
    python bench/cpu_backends.py --calibrate  # 1 vs 2 threads over the work of a run

Goals on the 2-core development machine (issue 5): c 1t >= 3.6x numpy
without refractoriness and >= 12x with it; c 2t a further 1.8x; cold compile
< 1 s; cached load < 50 ms.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lif_models import LIF, LIF_REFRACTORY  # noqa: E402  (bench/ is on sys.path)

import eqsnn  # noqa: E402
from eqsnn.backends import EmitOptions, Instance  # noqa: E402
from eqsnn.backends import c as c_backend  # noqa: E402
from eqsnn.runtime import host  # noqa: E402

DT = 1.0
FLOAT = np.float32


def hand_numpy(n: int, steps: int, current: np.ndarray, refractory: bool) -> float:
    """Seconds for ``steps`` steps of the LIF written as in-place NumPy."""
    alpha, v_thresh, delta = FLOAT(np.exp(-DT / 20.0)), FLOAT(1.0), FLOAT(1.0)
    dt, tau_refrac, zero = FLOAT(DT), FLOAT(5.0), FLOAT(0.0)
    V = np.zeros(n, FLOAT)
    refrac = np.zeros(n, FLOAT)
    spike, counting, ready = (np.empty(n, bool) for _ in range(3))
    began = time.perf_counter()
    for _ in range(steps):
        np.multiply(V, alpha, out=V)
        np.add(V, current, out=V)
        np.greater_equal(V, v_thresh, out=spike)
        if refractory:
            np.greater(refrac, zero, out=counting)
            np.subtract(refrac, dt, out=refrac, where=counting)
            np.less_equal(refrac, zero, out=ready)
            np.logical_and(spike, ready, out=spike)
            np.copyto(refrac, tau_refrac, where=spike)
        np.subtract(V, delta, out=V, where=spike)
    return time.perf_counter() - began


def instance(model, n: int) -> Instance:
    values = {p.name: np.float64(p.default) for p in model.params}
    values.update(host.evaluate_precompute(model, values, DT))
    init = {s.name: np.zeros((1, n), FLOAT) for s in model.states}
    return Instance(n, 1, DT, "float32", values, init, {}, 0)


def time_c(program, model, n, steps, current, repeats) -> tuple[float, ...]:
    """Median seconds of the c backend on 1 thread, on 2 threads, on 2 threads right after
    another 2-thread run (the OpenMP worker still awake), and on 1 thread recording spikes
    (bit planes only); measured in turn, so a burst of load elsewhere hits all alike."""
    configs = ((1, False, False), (2, False, False), (2, False, True), (1, True, False))
    runners = []
    inputs = {"Isyn": current.reshape(1, 1, n)}
    for threads, spikes, _ in configs:
        runners.append(program.start(instance(model, n)))
        runners[-1].threads = threads
        runners[-1].run(min(steps, 10), 0, inputs, {}, spikes)  # warm up threads and caches
    times = [[] for _ in configs]
    for _ in range(repeats):
        for k, (runner, (_, spikes, awake)) in enumerate(zip(runners, configs)):
            if awake:
                runner.run(steps, 0, inputs, {}, spikes)
            began = time.perf_counter()
            result = runner.run(steps, 0, inputs, {}, spikes)
            times[k].append(time.perf_counter() - began)
            del result
    return tuple(float(np.median(t)) for t in times)


def calibrate(repeats: int) -> None:
    """1 against 2 threads (the threshold lifted) over the work of a run, N x T neuron-steps,
    LIF at T = 100: where two threads stop winning is where PARALLEL_WORK belongs."""
    model = eqsnn.compile(LIF).ir
    program = c_backend.load(c_backend.emit(model, EmitOptions("float32")))
    saved, c_backend.PARALLEL_WORK = c_backend.PARALLEL_WORK, 0
    try:
        print("| N x T neuron-steps | N | 1 thread µs | 2 threads µs | 1t / 2t |")
        print("|---|---|---|---|---|")
        for log_work in range(16, 25, 2):
            n, steps = 2 ** (log_work - 7), 128
            current = np.random.default_rng(0).uniform(0.0, 0.1, n).astype(FLOAT)
            one, two, _, _ = time_c(program, model, n, steps, current, repeats)
            print(f"| 2^{log_work} | {n} | {1e6 * one:.0f} | {1e6 * two:.0f} "
                  f"| {one / two:.2f} |", flush=True)
    finally:
        c_backend.PARALLEL_WORK = saved


def compile_times(text: str) -> tuple[float, float]:
    """(cold compile, cached load in a fresh process) in seconds, in a private cache."""
    with tempfile.TemporaryDirectory() as cache:
        os.environ["EQSNN_CACHE_DIR"] = cache
        try:
            warm = eqsnn.compile(LIF.replace("BenchLif", "ProbeWarmUp")).ir
            c_backend.load(c_backend.emit(warm, EmitOptions("float32")))  # compiler probes
            model = eqsnn.compile(text).ir
            source = c_backend.emit(model, EmitOptions("float32"))
            began = time.perf_counter()
            c_backend.load(source)
            cold = time.perf_counter() - began
            script = textwrap.dedent(f"""
                import sys, time
                sys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))!r})
                import eqsnn
                from eqsnn.backends import EmitOptions
                from eqsnn.backends import c
                source = c.emit(eqsnn.compile({text!r}).ir, EmitOptions("float32"))
                began = time.perf_counter()
                program = c.load(source)
                print(time.perf_counter() - began, program.cached)
            """)
            loads = []
            for _ in range(3):  # the best of three fresh processes
                out = subprocess.run([sys.executable, "-c", script], capture_output=True,
                                     text=True, env=dict(os.environ), check=True).stdout.split()
                assert out[1] == "True", "the second load did not hit the cache"
                loads.append(float(out[0]))
            return cold, min(loads)
        finally:
            del os.environ["EQSNN_CACHE_DIR"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T = 100 and fewer repeats")
    parser.add_argument("--sizes", type=float, nargs="*", default=[1e4, 1e5, 1e6])
    parser.add_argument("--repeats", type=int, default=5,
                        help="median of this many interleaved runs")
    parser.add_argument("--calibrate", action="store_true",
                        help="only the 1 against 2 threads table over the work of a run")
    args = parser.parse_args()
    if args.calibrate:
        calibrate(args.repeats)
        return
    steps = 100 if args.quick else 1000
    repeats = 2 if args.quick else args.repeats
    print(f"LIF, float32, constant per-neuron input, T = {steps}; microseconds per step "
          f"(median of {repeats} interleaved); ratios = numpy / c; runs under "
          f"{c_backend.PARALLEL_WORK} neuron-steps stay on one thread")
    header = (f"{'model':<11} {'N':>9} {'numpy':>9} {'c 1t':>8} {'c 2t':>8} {'c 2t aw':>8}"
              f" {'c 1t+spk':>9} {'1t ratio':>9} {'2t ratio':>9} {'2t/1t':>6} {'aw/1t':>6}")
    print(header)
    print("-" * len(header))
    for refractory, text in ((False, LIF), (True, LIF_REFRACTORY)):
        model = eqsnn.compile(text).ir
        program = c_backend.load(c_backend.emit(model, EmitOptions("float32")))
        for n in (int(size) for size in args.sizes):
            current = np.random.default_rng(0).uniform(0.0, 0.1, n).astype(FLOAT)
            base = float(np.median([hand_numpy(n, steps, current, refractory)
                                    for _ in range(repeats)]))
            one, two, awake, spk = time_c(program, model, n, steps, current, repeats)
            per = [1e6 * x / steps for x in (base, one, two, awake, spk)]
            print(f"{'refractory' if refractory else 'plain':<11} {n:>9.0e} {per[0]:>9.1f} "
                  f"{per[1]:>8.2f} {per[2]:>8.2f} {per[3]:>8.2f} {per[4]:>9.2f} "
                  f"{base / one:>8.1f}x {base / two:>8.1f}x {one / two:>5.2f}x "
                  f"{one / awake:>5.2f}x", flush=True)
    cold, cached = compile_times(LIF_REFRACTORY)
    print(f"\ncold compile (probes done): {1e3 * cold:.0f} ms; "
          f"cached load in a fresh process (best of 3): {1e3 * cached:.1f} ms")


if __name__ == "__main__":
    main()
