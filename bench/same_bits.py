"""The numpy backend of this tree against a committed revision: the same bits?

A change meant to make the numpy backend faster without changing what it computes is
checked here.  The package of revision REV (``git archive``) and of this tree each run,
in a subprocess of their own, the nonlinear models of ``tests/test_adaptive.py`` (AdEx,
Izhikevich, the quadratic model of our own) with their default method (adaptive) and
with RK4, in float64 and float32, at dt = 0.1 and 1 ms, N neurons with step currents
that differ per neuron and random initial states, nothing else; every state after the
run, the spikes (neuron, step) and the recorded V must be equal bit for bit (NaN equal
to NaN).  The adaptive runs take the phased step (``EQSNN_NUMPY_DEFER`` unset) and the
one-pass step (``=0``).  ``--backend c`` runs the same cases on the ``c`` backend
instead (a change to its printed C checked the same way).

    python bench/same_bits.py --against main
    python bench/same_bits.py --against main --backend c --n 20000
    python bench/same_bits.py --against ce517b7 --n 3000 --steps 300
    python bench/same_bits.py --against main --backend c --detail   # what differs, how much
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODELS = {  # name -> (model text in tests/test_adaptive.py, input range, initial states)
    "adex": ("ADEX", (300.0, 1500.0), {"V": (-70.6, -45.0), "w": (0.0, 100.0)}),
    "izhikevich": ("IZHIKEVICH", (5.0, 15.0), {"v": (-70.0, -50.0), "u": (-14.0, -10.0)}),
    "quadratic": ("QUADRATIC", (0.5, 3.0), {"v": (-3.0, 3.0), "w": (0.0, 2.0)}),
}


def worker(out: str, n: int, steps: int, backend: str = "numpy") -> None:
    """Run every case with the eqsnn on sys.path; save the results in ``out`` (npz)."""
    import warnings

    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import test_adaptive

    import eqsnn

    saved = {}
    for model, (text_name, (low, high), init) in MODELS.items():
        for method in ("adaptive", "rk4"):
            text = getattr(test_adaptive, text_name)
            if method == "rk4":
                text += "    method: rk4\n"
            for precision in ("float64", "float32"):
                for dt in (0.1, 1.0):
                    generator = np.random.default_rng(7)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        compiled = eqsnn.compile(text)
                        sim = eqsnn.Simulator(compiled, n, dt=dt, backend=backend,
                                              precision=precision, check=False)
                        for name, (a, b) in init.items():
                            sim.set_state(name, generator.uniform(a, b, n))
                        current = generator.uniform(low, high, n)
                        first = list(init)[0]
                        result = sim.run(steps, inputs={"I": current}, progress=False,
                                         record={first: None, "spikes": None})
                    key = f"{model}-{method}-{precision}-{dt:g}"
                    for name, value in sim._runner.states.items():
                        saved[f"{key}-state-{name}"] = np.array(value)
                    saved[f"{key}-record"] = np.asarray(result.vars[first])
                    saved[f"{key}-spike-neuron"] = np.asarray(result.spikes.neuron)
                    saved[f"{key}-spike-step"] = np.asarray(result.spikes.step)
    np.savez(out, **saved)


def run(source: str, out: str, n: int, steps: int, defer: str | None,
        backend: str = "numpy") -> None:
    env = dict(os.environ, PYTHONPATH=source,
               EQSNN_CACHE_DIR=os.path.join(os.path.dirname(out), "cache"))
    env.pop("EQSNN_NUMPY_DEFER", None)  # unset: the phased adaptive step; "0": one pass
    if defer is not None:
        env["EQSNN_NUMPY_DEFER"] = defer
    subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", out,
                    "--n", str(n), "--steps", str(steps), "--backend", backend],
                   env=env, check=True, cwd=source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", default="main", help="a git revision")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--detail", action="store_true",
                        help="list every array that differs, and by how much")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--backend", choices=("numpy", "c"), default="numpy",
                        help="c: the c backend on one thread (EQSNN_NUMPY_DEFER has no effect)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.n, args.steps, args.backend)
        return
    with tempfile.TemporaryDirectory() as tmp:
        old = os.path.join(tmp, "old")
        os.makedirs(old)
        archive = os.path.join(tmp, "old.tar")
        subprocess.run(["git", "archive", "-o", archive, args.against, "eqsnn"], cwd=ROOT,
                       check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(old, filter="data")
        failures = 0
        for defer in (None, "0") if args.backend == "numpy" else (None,):
            files = {}
            for label, source in (("old", old), ("new", ROOT)):
                files[label] = os.path.join(tmp, f"{label}-{defer}.npz")
                run(source, files[label], args.n, args.steps, defer, args.backend)
            before, after = np.load(files["old"]), np.load(files["new"])
            assert sorted(before.files) == sorted(after.files)
            differ = [k for k in before.files
                      if before[k].dtype != after[k].dtype
                      or not np.array_equal(before[k], after[k], equal_nan=True)]
            failures += len(differ)
            spikes = sum(before[k].size for k in before.files if k.endswith("spike-step"))
            print(f"EQSNN_NUMPY_DEFER={defer or 'unset'}: {len(before.files)} arrays "
                  f"({spikes} spikes) compared, {len(differ)} differ"
                  + (f": {differ[:8]}" if differ and not args.detail else ""))
            for k in differ if args.detail else ():  # each, and by how much
                a, b = before[k], after[k]
                if a.shape != b.shape:
                    print(f"  {k}: shapes {a.shape} and {b.shape}")
                    continue
                unequal = ~((a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f"
                            else a == b)
                largest = np.max(np.abs(a.astype(float) - b.astype(float))[unequal])
                print(f"  {k}: {np.count_nonzero(unequal)} of {a.size} differ, "
                      f"by at most {largest:.3g}")
    if failures:
        sys.exit(1)
    print(f"same bits as {args.against}")


if __name__ == "__main__":
    main()
