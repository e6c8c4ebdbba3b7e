"""The ``cupy`` backend against hand-written CuPy kernels of the same LIF, on one GPU.

Same script, same run, same card: for N = 1e5, 1e6, 1e7 neurons and
T = 1000 steps (float32, constant per-neuron input already on the device,
nothing recorded), the time per step of

* ``hand step``: a hand-written kernel launched once per step from Python,
* ``hand fused``: a hand-written kernel looping over all steps in one launch,
* eqsnn's ``step`` (one launch per step), ``graph`` (those launches replayed
  from a CUDA graph) and ``fused`` (one launch for all steps) modes,

with eqsnn's ratios (``hand step / best per-step mode`` should be >= 1,
``fused / hand fused`` <= 1.3), then the cold compile to the first step
(a fresh NVRTC cache) and the warm one (cache hit), each in a fresh process.
The hand kernels are compiled with ``--fmad=false`` as eqsnn's are, and a
check at the smallest size runs both from V = 0 for T steps: eqsnn's three
modes must end on the hand kernels' V bit for bit (the script fails if not).

    python bench/gpu_bench.py [--out DIR] [--sizes 1e5 1e6 1e7] [--steps 1000] [--quick]

Goals (issue 5, GeNN 5.4 on an H200: 6.2 / 11.6 / 97.9 us per step; a
hand-written all-steps kernel 0.04 / 0.21 / 1.9 us): per-step mode <= 7.7 us
at 1e6 and <= 65 us at 1e7; fused <= 0.29 us at 1e6; cold compile < 1 s,
warm < 0.1 s.  Writes ``gpu_bench.md`` and ``gpu_bench.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from lif_models import LIF  # noqa: E402  (bench/ is on sys.path)

HAND_KERNELS = r"""
extern "C" __global__ void lif_step(float *V, const float *I, const float alpha,
                                    const float v_thresh, const float delta, const long long n)
{
    const long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < n) {
        float v = alpha * V[j] + I[j];
        if (v >= v_thresh) v -= delta;
        V[j] = v;
    }
}

extern "C" __global__ void lif_all_steps(float *V, const float *I, const float alpha,
                                         const float v_thresh, const float delta,
                                         const long long n, const int steps)
{
    const long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    float v = V[j];
    const float i = I[j];
    for (int k = 0; k < steps; ++k) {
        v = alpha * v + i;
        if (v >= v_thresh) v -= delta;
    }
    V[j] = v;
}
"""

DT = 1.0


def best_of(repeats: int, run) -> float:
    """Smallest wall-clock seconds of ``run()`` (which must synchronise)."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


def hand_kernels(cupy, n: int):
    """``(V, advance)``: the hand kernels' state and a function running ``steps`` of one."""
    module = cupy.RawModule(code=HAND_KERNELS, options=("--fmad=false",))
    step_kernel = module.get_function("lif_step")
    fused_kernel = module.get_function("lif_all_steps")
    V = cupy.zeros(n, cupy.float32)
    current = cupy.asarray(input_current(n))
    alpha, thresh, delta = (np.float32(x) for x in (np.exp(-DT / 20.0), 1.0, 1.0))
    grid, block = ((n + 255) // 256,), (256,)

    def advance(kind: str, steps: int):
        if kind == "step":
            for _ in range(steps):
                step_kernel(grid, block, (V, current, alpha, thresh, delta, np.int64(n)))
        else:
            fused_kernel(grid, block, (V, current, alpha, thresh, delta, np.int64(n),
                                       np.int32(steps)))
        cupy.cuda.get_current_stream().synchronize()

    return V, advance


def input_current(n: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 0.1, n).astype(np.float32)


def hand_timings(cupy, n: int, steps: int, repeats: int) -> dict:
    _, advance = hand_kernels(cupy, n)
    per_step = functools.partial(advance, "step", steps)
    fused = functools.partial(advance, "fused", steps)
    per_step(), fused()  # compile and warm up
    return {"hand step": best_of(repeats, per_step) / steps,
            "hand fused": best_of(repeats, fused) / steps}


def agreement(cupy, n: int, steps: int) -> dict:
    """Max |V_eqsnn - V_hand| after ``steps`` steps from V = 0, for each eqsnn mode and each
    hand kernel (0.0: bit for bit)."""
    hand = {}
    for kind in ("step", "fused"):
        V, advance = hand_kernels(cupy, n)
        advance(kind, steps)
        hand[kind] = cupy.asnumpy(V)
    if not np.array_equal(hand["step"], hand["fused"]):
        raise RuntimeError("the two hand kernels disagree")
    out = {}
    for mode in ("step", "graph", "fused"):
        runner, inputs = eqsnn_runner(cupy, n, mode)
        runner.run(steps, 0, inputs, {}, False)
        V = runner.get_state("V").reshape(-1)
        out[mode] = float(np.max(np.abs(V.astype(np.float64) - hand["fused"])))
    return out


def eqsnn_runner(cupy, n: int, mode: str):
    import eqsnn
    from eqsnn.backends import EmitOptions, Instance
    from eqsnn.backends import cupy as cupy_backend
    from eqsnn.runtime import host

    model = eqsnn.compile(LIF).ir
    values = {p.name: np.float64(p.default) for p in model.params}
    values.update(host.evaluate_precompute(model, values, DT))
    instance = Instance(n, 1, DT, "float32", values, {"V": np.zeros((1, n))}, {}, 0)
    runner = cupy_backend.load(cupy_backend.emit(model, EmitOptions("float32")), mode).start(
        instance)
    return runner, {"Isyn": cupy.asarray(input_current(n).reshape(1, 1, n))}


def eqsnn_timings(cupy, n: int, steps: int, repeats: int) -> dict:
    out = {}
    for mode in ("step", "graph", "fused"):
        runner, inputs = eqsnn_runner(cupy, n, mode)
        run = functools.partial(runner.run, steps, 0, inputs, {}, False)
        run()  # warm up (and capture the graph)
        out[mode] = best_of(repeats, run) / steps
    return out


COMPILE_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import numpy as np, cupy
    cupy.zeros(1).sum(); cupy.cuda.get_current_stream().synchronize()  # the CUDA context
    began_text = time.perf_counter()
    import eqsnn
    from eqsnn.runtime import host
    from eqsnn.backends import EmitOptions, Instance
    from eqsnn.backends import cupy as cupy_backend
    model = eqsnn.compile(sys.argv[2]).ir
    values = {p.name: np.float64(p.default) for p in model.params}
    values.update(host.evaluate_precompute(model, values, 1.0))
    instance = Instance(1000, 1, 1.0, "float32", values, {"V": np.zeros((1, 1000))}, {}, 0)
    began = time.perf_counter()
    runner = cupy_backend.load(cupy_backend.emit(model, EmitOptions("float32"))).start(instance)
    runner.run(1, 0, {"Isyn": np.full((1, 1, 1), 0.5)}, {"V": None}, True)
    done = time.perf_counter()
    print(done - began_text, done - began)
""")


def compile_timings() -> dict:
    """Cold (fresh NVRTC cache) and warm (cache hit) emit, compile and first step, each in a
    fresh process; ``... from text`` also counts importing eqsnn, parsing and deriving the
    update (SymPy, on the CPU)."""
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, CUPY_CACHE_DIR=cache)
        for label in ("cold compile", "warm compile"):
            done = subprocess.run([sys.executable, "-c", COMPILE_SCRIPT, ROOT, LIF], env=env,
                                  capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"{label} failed:\n{done.stderr[-2000:]}")
            from_text, from_ir = (float(x) for x in done.stdout.split()[-2:])
            out[label], out[f"{label} from text"] = from_ir, from_text
    return out


def table(results: dict, device: str, steps: int) -> str:
    lines = [f"GPU: {device}; LIF float32, constant per-neuron input on the device, T = {steps}; "
             "microseconds per step (best of the repeats)", "",
             "| N | hand step | hand fused | eqsnn step | eqsnn graph | eqsnn fused | "
             "hand step / best eqsnn per-step | eqsnn fused / hand fused |",
             "|---|---|---|---|---|---|---|---|"]
    for n, row in results["sizes"].items():
        if "error" in row:
            lines.append(f"| {float(n):.0e} | error: {row['error'].splitlines()[-1]} |||||||")
            continue
        per_step = min(row["step"], row["graph"])
        cells = [row[k] * 1e6 for k in ("hand step", "hand fused", "step", "graph", "fused")]
        ratios = f"{row['hand step'] / per_step:.2f}x | {row['fused'] / row['hand fused']:.2f}x"
        lines.append(f"| {float(n):.0e} | " + " | ".join(f"{c:.3f}" for c in cells)
                     + f" | {ratios} |")
    compile_row = results.get("compile", {})
    if "error" in compile_row:
        lines += ["", f"compile timing failed: {compile_row['error'].splitlines()[-1]}"]
    elif compile_row:
        ms = {k: v * 1e3 for k, v in compile_row.items()}
        lines += ["", f"cold compile to first step: {ms['cold compile']:.0f} ms; "
                  f"warm (NVRTC cache hit): {ms['warm compile']:.0f} ms "
                  "(fresh processes, CUDA context created before timing; emit, NVRTC, load, "
                  f"first step); from the model's text: {ms['cold compile from text']:.0f} / "
                  f"{ms['warm compile from text']:.0f} ms (import, parse, SymPy as well)"]
    check = results.get("agreement", {})
    if "error" in check:
        lines += ["", f"agreement check failed: {check['error'].splitlines()[-1]}"]
    elif check:
        verdict = ("bit for bit" if all(v == 0.0 for v in check["max_abs"].values()) else
                   "DIFFERENT: " + ", ".join(f"{m} {v:.3g}" for m, v in check["max_abs"].items()))
        lines += ["", f"final V of eqsnn's step, graph and fused modes against the hand "
                  f"kernels (N = {check['n']}, T = {steps}, from V = 0): {verdict}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT", "."))
    parser.add_argument("--sizes", type=float, nargs="*", default=[1e5, 1e6, 1e7])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="T = 100, 2 repeats")
    args = parser.parse_args()
    steps, repeats = (100, 2) if args.quick else (args.steps, args.repeats)
    try:
        import cupy

        device = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    except Exception as exc:  # no CuPy, no driver, no GPU
        print(f"gpu_bench: no usable GPU ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 2
    results: dict = {"device": device, "steps": steps, "sizes": {}}
    for n in (int(size) for size in args.sizes):
        try:
            row = hand_timings(cupy, n, steps, repeats)
            row.update(eqsnn_timings(cupy, n, steps, repeats))
        except Exception:
            row = {"error": traceback.format_exc()}
            print(row["error"], file=sys.stderr)
        results["sizes"][str(n)] = row
        print(f"N = {n}: " + ", ".join(f"{k} {v * 1e6:.3f} us" for k, v in row.items()
                                     if k != "error"), flush=True)
    check_n = int(min(args.sizes))
    try:
        results["agreement"] = {"n": check_n, "max_abs": agreement(cupy, check_n, steps)}
    except Exception:
        results["agreement"] = {"error": traceback.format_exc()}
        print(results["agreement"]["error"], file=sys.stderr)
    try:
        results["compile"] = compile_timings()
    except Exception:
        results["compile"] = {"error": traceback.format_exc()}
        print(results["compile"]["error"], file=sys.stderr)
    text = table(results, device, steps)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "gpu_bench.md"), "w") as out:
        out.write(text)
    with open(os.path.join(args.out, "gpu_bench.json"), "w") as out:
        json.dump(results, out, indent=2)
    check = results["agreement"]
    failed = (any("error" in row for row in results["sizes"].values())
              or "error" in results.get("compile", {}) or "error" in check
              or any(v != 0.0 for v in check.get("max_abs", {}).values()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
