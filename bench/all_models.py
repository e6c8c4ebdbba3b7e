"""Every example and standard-library model on the ``numpy`` and ``c`` backends.

Same script, same run: for each model, ``eqsnn.benchmark`` at N = 20 000
neurons, float32, 200 steps (best of 3), with the model's default inputs and
the time step its example is written for; the table gives microseconds per
step and the ``c`` backend's speed-up over ``numpy``.  It shows which models
a backend handles badly (a model that is slower on ``c`` than on ``numpy`` is
a bug worth an issue).  ``--fast-math`` adds a column: the last backend
again with ``fast_math=True``, and its speed-up over the same backend without.

    python bench/all_models.py [--n 20000] [--steps 200] [--backends numpy,c] [--fast-math]
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import eqsnn  # noqa: E402
from eqsnn import neurons  # noqa: E402

#: the time step each example is written for (ms); 0.1 otherwise
DT = {"hh": 0.025, "lif_held": 0.5, "coba_lif": 0.5, "integrator": 1.0,
      "two_compartment": 1.0, "lif_noise": 1.0}


def models():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in sorted(glob.glob(os.path.join(ROOT, "examples", "*.eqs"))):
            stem = os.path.splitext(os.path.basename(path))[0]
            yield f"examples/{stem}", eqsnn.load(path), DT.get(stem, 0.1)
    for name in sorted(neurons.NAMES):
        yield name, neurons.get_neuron(name), 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--backends", default="numpy,c")
    parser.add_argument("--fast-math", action="store_true",
                        help="also time the last backend with fast_math=True")
    args = parser.parse_args()
    backends = args.backends.split(",")
    last = backends[-1]
    print(f"N = {args.n}, float32, {args.steps} steps, best of 3; us per step")
    print(f"{'model':34s} {'dt':>6s} " + " ".join(f"{b:>9s}" for b in backends)
          + f" {last + ' / ' + backends[0]:>12s}"
          + (f" {last + ' fast':>11s} {'fast / exact':>12s}" if args.fast_math else ""))
    for label, model, dt in models():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = eqsnn.benchmark(model, backends, sizes=(args.n,), steps=args.steps,
                                     dt=dt)
            fast = (eqsnn.benchmark(model, [last], sizes=(args.n,), steps=args.steps, dt=dt,
                                    fast_math=True).row(last, args.n).step_us
                    if args.fast_math else None)
        cells = [report.row(b, args.n).step_us for b in backends]
        line = (f"{label:34s} {dt:>6g} " + " ".join(f"{c:>9.1f}" for c in cells)
                + f" {report.speedup(last, args.n):>11.1f}x")
        if fast is not None:
            line += f" {fast:>11.1f} {cells[-1] / fast:>11.2f}x"
        print(line, flush=True)


if __name__ == "__main__":
    main()
