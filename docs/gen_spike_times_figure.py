"""Draws docs/figures/spike-times.svg: AdEx spikes against a reference, across dt and methods.

AdEx (Brette & Gerstner 2005, the model of ``tests/test_adaptive.py``), five
neurons with step currents of 0.3-1.5 nA, 400 ms, float64, on the ``c``
backend; the reference is ``solve_ivp`` (DOP853, rtol = atol = 1e-11) with the
threshold crossing as an event and the reset applied there.  Left: the share
of the reference's spikes that fall in the same step; right: the spike count
error summed over the neurons.

    python docs/gen_spike_times_figure.py      # about a minute
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from test_adaptive import ADEX, ADEX_I, ADEX_P, adex_rhs, reference  # noqa: E402

import eqsnn  # noqa: E402

DTS = (0.05, 0.1, 0.25, 0.5, 1.0)
METHODS = ("adaptive", "rk4", "midpoint", "euler")


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    same = {m: [] for m in METHODS}
    count_error = {m: [] for m in METHODS}
    for dt in DTS:
        steps = int(round(400 / dt))
        refs = [reference(adex_rhs, [-70.6, 0.0], (current,), ADEX_P["v_peak"],
                          lambda y: np.array([ADEX_P["v_reset"], y[1] + ADEX_P["b"]]),
                          dt, steps)[1] for current in ADEX_I]
        ref_steps = [np.floor(r / dt + 1e-9).astype(int) for r in refs]
        total = sum(len(r) for r in refs)
        for method in METHODS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = eqsnn.compile(ADEX + f"    method: {method}\n")
                sim = eqsnn.Simulator(model, len(ADEX_I), dt=dt, backend="c",
                                      precision="float64", check=False)
                spikes = sim.run(steps, inputs={"I": ADEX_I}, record=["spikes"]).spikes
            mine = [spikes.step[spikes.neuron == j] for j in range(len(ADEX_I))]
            same[method].append(100 * sum(len(np.intersect1d(a, b))
                                          for a, b in zip(mine, ref_steps)) / total)
            count_error[method].append(sum(abs(len(a) - len(b)) for a, b in zip(mine, refs)))
            print(f"dt {dt:g} {method}: {same[method][-1]:.0f} % in the reference's step, "
                  f"count error {count_error[method][-1]}", flush=True)
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    for method, marker in zip(METHODS, "osd^"):
        left.plot(DTS, same[method], marker=marker, label=method)
        right.plot(DTS, count_error[method], marker=marker, label=method)
    left.set(xscale="log", xlabel="dt (ms)", ylabel="spikes in the reference's step (%)",
             ylim=(-5, 105), title="AdEx, 5 neurons, 400 ms")
    right.set(xscale="log", xlabel="dt (ms)", ylabel="|spike count error| (sum)",
              title=f"{sum(len(r) for r in refs)} reference spikes")
    left.legend(loc="lower left")
    figure.tight_layout()
    path = os.path.join(ROOT, "docs", "figures", "spike-times.svg")
    figure.savefig(path, metadata={"Date": None})
    print("wrote", path)


if __name__ == "__main__":
    main()
