"""Networks: connectivity build time, the Vogels-Abbott CUBA/COBA networks against Brian2.

    python bench/bench_network.py build            # 1e7 synapses, each connectivity
    python bench/bench_network.py speed [--n 4000] [--ms 1000] [--delays 1,10]
    python bench/bench_network.py stats [--ms 1000] [--eqsnn-seeds 5] [--brian-seeds 10]

``speed``: CPU seconds (Brian2's cpp_standalone reports only std::clock(); on a
shared machine wall time would also count other jobs) of eqsnn numpy and c
(float64, spikes recorded, one thread: EQSNN_THREADS=1; c the best of
``--repeats`` runs, numpy and Brian2 one run)
against Brian2's numpy, cython and cpp_standalone targets on the same network,
in one run, compile and code generation excluded (each runtime target runs one
untimed step first; cpp_standalone's own run time is read from the device).
``stats``: mean firing rate and mean CV(ISI) of the excitatory population,
eqsnn (c backend) over 5 seeds against Brian2 (cython) over 10; the pass rule
is eqsnn's mean within Brian2's mean +- 3 SD. Both use the same parameters
(examples/networks/vogels_abbott.py), the same kick-start spike trains for COBA
and the same initial potentials. Brian2 2.9 needs NumPy < 2.4, so it runs in a
subprocess with its own Python (``--brian2-python``, ``$EQSNN_BRIAN2_PYTHON``,
default ``/tmp/brian2-venv/bin/python``: ``python -m venv /tmp/brian2-venv &&
/tmp/brian2-venv/bin/pip install brian2 "numpy<2.4"``), through
``bench/brian2_network_worker.py``. Every simulator runs on one thread.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "networks"))
os.environ.setdefault("EQSNN_THREADS", "1")

import vogels_abbott  # noqa: E402

from eqsnn.network import Dense, FixedInDegree, FixedProbability  # noqa: E402


def bench_build(repeats=3):
    rng = np.random.default_rng(0)
    cases = [
        ("FixedProbability(0.02), 22361 x 22361", FixedProbability(0.02, autapses=False),
         22361, 22361, True),
        ("FixedInDegree(250), 40000 targets", FixedInDegree(250), 40000, 40000, False),
        ("Dense, 3163 x 3163", Dense(), 3163, 3163, False),
    ]
    print("| connectivity | synapses | best of 3 (s) |\n|---|---|---|")
    for label, conn, n_pre, n_post, same in cases:
        best = np.inf
        for _ in range(repeats):
            t = time.perf_counter()
            pre, _, _ = conn.build(n_pre, n_post, same, rng)
            best = min(best, time.perf_counter() - t)
        print(f"| {label} | {pre.size:.3g} | {best:.2f} |")


# --- Brian2 -----------------------------------------------------------------------------


def _kick(n, dt, seed):
    """The COBA kick-start spike trains, exactly as vogels_abbott.coba draws them."""
    net = vogels_abbott.coba(n, seed=seed, dt=dt)
    at, ids = net.populations["kick"]._spike_source
    return net, at, ids


#: the Python that runs Brian2 (2.9 needs NumPy < 2.4: its own environment);
#: --brian2-python or $EQSNN_BRIAN2_PYTHON
BRIAN2_PYTHON = os.environ.get("EQSNN_BRIAN2_PYTHON", "/tmp/brian2-venv/bin/python")


def brian2_network(which, n, seed, delay, target, dt=0.1, ms=1000.0):
    """Build and run the network in Brian2 (bench/brian2_network_worker.py, in a subprocess
    with BRIAN2_PYTHON); returns (seconds, exc spike steps, exc ids)."""
    ours = getattr(vogels_abbott, which)(n, seed=seed, dt=dt, delay=delay)
    exc, inh = ours.populations["exc"], ours.populations["inh"]
    kick = ours.populations.get("kick")
    at, ids = kick._spike_source if kick is not None else (np.zeros(0, np.int64),) * 2
    with tempfile.TemporaryDirectory(prefix="eqsnn-brian2-") as folder:
        spec, out = os.path.join(folder, "spec.npz"), os.path.join(folder, "out.npz")
        np.savez(spec, which=which, target=target, n=n, n_exc=exc.n, seed=seed, delay=delay,
                 dt=dt, ms=ms, v0=np.concatenate([exc.init["V"], inh.init["V"]]),
                 kick_at=at, kick_ids=ids, kick_n=kick.n if kick is not None else 0)
        done = subprocess.run([BRIAN2_PYTHON, os.path.join(HERE, "brian2_network_worker.py"),
                               spec, out], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else
                               f"exit status {done.returncode}")
        got = np.load(out)
        return float(got["seconds"]), got["steps"], got["ids"]


def eqsnn_network(which, n, seed, delay, backend, ms=1000.0, dt=0.1, repeats=1):
    """CPU seconds of the run (the best of ``repeats``, reset between), exc spike steps
    and ids."""
    net = getattr(vogels_abbott, which)(n, seed=seed, backend=backend, precision="float64",
                                        delay=delay, dt=dt)
    net.build()
    steps = int(round(ms / dt))
    best = np.inf
    for _ in range(repeats):
        net.reset()
        t = time.process_time()  # CPU time, as Brian2's cpp_standalone measures its run
        res = net.run(steps, record={"exc": ["spikes"], "inh": ["spikes"]})
        best = min(best, time.process_time() - t)
    return best, res["exc"].spikes.step, res["exc"].spikes.neuron


def rate_cv(steps, ids, n, ms):
    rate = len(steps) / n / (ms / 1000.0)
    cvs = []
    for i in np.unique(ids):
        s = np.sort(steps[ids == i])
        isi = np.diff(s)
        if isi.size >= 2 and isi.mean() > 0:
            cvs.append(isi.std() / isi.mean())
    return rate, float(np.mean(cvs)) if cvs else float("nan")


def bench_speed(ns, ms, delays, targets, repeats=3):
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"EQSNN_THREADS={os.environ['EQSNN_THREADS']}, {ms:g} ms simulated, float64, "
          f"CPU seconds, load average {os.getloadavg()[0]:.1f}")
    print("| network | N | d | eqsnn numpy | eqsnn c | " + " | ".join(
        f"Brian2 {t}" for t in targets) + " | c vs fastest Brian2 |")
    print("|---" * (6 + len(targets)) + "|")
    for which in ("cuba", "coba"):
        for n in ns:
            for d in delays:
                times = {}
                for backend in ("numpy", "c"):
                    times["eqsnn " + backend] = eqsnn_network(
                        which, n, 0, d, backend, ms, repeats=repeats if backend == "c" else 1)[0]
                for target in targets:
                    try:
                        seconds = brian2_network(which, n, 0, d, target, ms=ms)[0]
                    except Exception as exc:  # a Brian2 target that cannot build here
                        print(f"  Brian2 {target}: {type(exc).__name__}: {exc}")
                        seconds = float("nan")
                    times["brian2 " + target] = seconds
                best = np.nanmin([times["brian2 " + t] for t in targets]) if targets else np.nan
                cells = " | ".join(f"{seconds:.2f}" for seconds in times.values())
                print(f"| {which} | {n} | {d} | {cells} | {best / times['eqsnn c']:.1f}x |",
                      flush=True)


def bench_stats(ms, eqsnn_seeds, brian_seeds, n=4000):
    print("| network | eqsnn rate (Hz) | Brian2 rate (Hz) | eqsnn CV | Brian2 CV | pass |")
    print("|---|---|---|---|---|---|")
    n_exc = n * 4 // 5
    for which in ("cuba", "coba"):
        ours = np.array([rate_cv(*eqsnn_network(which, n, s, 1, "c", ms)[1:], n_exc, ms)
                         for s in range(eqsnn_seeds)])
        theirs = np.array([rate_cv(*brian2_network(which, n, 100 + s, 1, "cython", ms=ms)[1:],
                                   n_exc, ms) for s in range(brian_seeds)])
        ok = [abs(ours[:, k].mean() - theirs[:, k].mean()) <= 3 * theirs[:, k].std(ddof=1)
              for k in (0, 1)]
        print(f"| {which} | {ours[:, 0].mean():.2f} ± {ours[:, 0].std(ddof=1):.2f} | "
              f"{theirs[:, 0].mean():.2f} ± {theirs[:, 0].std(ddof=1):.2f} | "
              f"{ours[:, 1].mean():.3f} ± {ours[:, 1].std(ddof=1):.3f} | "
              f"{theirs[:, 1].mean():.3f} ± {theirs[:, 1].std(ddof=1):.3f} | "
              f"{'yes' if all(ok) else 'no'} (rate {ok[0]}, CV {ok[1]}) |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("build", "speed", "stats"))
    parser.add_argument("--n", default="4000")
    parser.add_argument("--ms", type=float, default=1000.0)
    parser.add_argument("--delays", default="1,10")
    parser.add_argument("--targets", default="numpy,cython,cpp_standalone")
    parser.add_argument("--eqsnn-seeds", type=int, default=5)
    parser.add_argument("--brian-seeds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3,
                        help="eqsnn c: the best of this many runs (the machine is shared)")
    parser.add_argument("--brian2-python", default=None,
                        help="the Python with Brian2 (default $EQSNN_BRIAN2_PYTHON or "
                        "/tmp/brian2-venv/bin/python)")
    args = parser.parse_args(argv)
    global BRIAN2_PYTHON
    BRIAN2_PYTHON = args.brian2_python or BRIAN2_PYTHON
    if args.what == "build":
        bench_build()
    elif args.what == "speed":
        targets = [t for t in args.targets.split(",") if t]
        bench_speed([int(x) for x in args.n.split(",")], args.ms,
                    [int(x) for x in args.delays.split(",")], targets, args.repeats)
    else:
        bench_stats(args.ms, args.eqsnn_seeds, args.brian_seeds)


if __name__ == "__main__":
    main()
