"""Speed of the numpy backend against a hand-written in-place NumPy loop.

The model is the standard library's ``LeakyIntegrateFire`` (ml_genn's LIF:
``V <- alpha V + I``, threshold ``V >= 1``, relative reset ``V -= 1``), with
and without a refractory countdown, and with ``scale_i`` (``V <- alpha V +
(1 - alpha) I``), in float32, one lane, constant per-neuron input, no
recording.  The hand-written loop does the same arithmetic with the same
in-place ufuncs (and computes ``(1 - alpha) I`` once, as one would by hand);
both run in this script, one after the other, and the best of ``--repeats``
runs counts.  The ratio is hand-written time / eqsnn time (1.0 = as fast;
the goal is >= 0.9).

    python bench/numpy_backend.py            # N = 1e4, 1e5, 1e6; T = 1000
    python bench/numpy_backend.py --quick    # N = 1e4, 1e5; T = 200
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from eqsnn import Simulator, neurons

TAU_MEM, TAU_REFRAC, DT = 20.0, 5.0, 1.0


MODELS = {"LIF": {}, "LIF scale_i": {"scale_i": True}, "LIF refractory": {"refractory": True}}


def hand_written(current: np.ndarray, steps: int, refractory: bool = False,
                 scale_i: bool = False) -> tuple[float, np.ndarray]:
    """ml_genn's LIF step as a plain in-place NumPy loop; returns (seconds, final V)."""
    n = current.size
    alpha, one, zero = np.float32(np.exp(-DT / TAU_MEM)), np.float32(1), np.float32(0)
    dt, tau_refrac = np.float32(DT), np.float32(TAU_REFRAC)
    v, refrac = np.zeros(n, np.float32), np.zeros(n, np.float32)
    spiked, mask = np.empty(n, bool), np.empty(n, bool)
    started = time.perf_counter()
    if scale_i:
        current = np.float32(-np.expm1(-DT / TAU_MEM)) * current  # 1 - alpha, in float64
    for _ in range(steps):
        np.multiply(v, alpha, out=v)
        np.add(v, current, out=v)
        if refractory:
            np.greater(refrac, zero, out=mask)
            np.subtract(refrac, dt, out=refrac, where=mask)
        np.greater_equal(v, one, out=spiked)
        if refractory:
            np.less_equal(refrac, zero, out=mask)
            np.logical_and(spiked, mask, out=spiked)
        np.subtract(v, one, out=v, where=spiked)
        if refractory:
            np.copyto(refrac, tau_refrac, where=spiked)
    return time.perf_counter() - started, v


def with_eqsnn(current: np.ndarray, steps: int, refractory: bool = False,
               scale_i: bool = False) -> tuple[float, np.ndarray]:
    """The same model through the Simulator; returns (seconds in the backend, final V)."""
    neuron = neurons.LeakyIntegrateFire(tau_mem=TAU_MEM, scale_i=scale_i,
                                        tau_refrac=TAU_REFRAC if refractory else None)
    sim = Simulator(neuron, current.size, dt=DT, precision="float32")
    result = sim.run(steps, inputs={"Isyn": current}, progress=False)
    return result.timing.simulate, sim.state["V"][0]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1e4, 1e5 and T = 200")
    parser.add_argument("--steps", type=int, help="steps per run (default 1000, quick 200)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per case; the best counts")
    args = parser.parse_args(argv)
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    steps = args.steps or (200 if args.quick else 1000)
    print(f"numpy {np.__version__}, Python {platform.python_version()}, "
          f"{platform.processor() or platform.machine()}; float32, T = {steps} steps")
    print(f"{'model':<16}{'N':>10}{'hand ms/step':>15}{'eqsnn ms/step':>15}{'ratio':>8}")
    for name, options in MODELS.items():
        high = 1.5 if options.get("scale_i") else 0.1  # same steady states: I / (1 - alpha)
        for n in sizes:
            current = np.random.default_rng(0).uniform(0.0, high, n).astype(np.float32)
            hand, ours = [], []
            for _ in range(args.repeats):  # interleaved, so drifts hit both alike
                seconds, v_hand = hand_written(current, steps, **options)
                hand.append(seconds)
                seconds, v_ours = with_eqsnn(current, steps, **options)
                ours.append(seconds)
            np.testing.assert_allclose(v_ours, v_hand, rtol=1e-4, atol=1e-5)
            best_hand, best_ours = 1e3 * min(hand) / steps, 1e3 * min(ours) / steps
            print(f"{name:<16}{n:>10,}{best_hand:>15.4f}{best_ours:>15.4f}"
                  f"{best_hand / best_ours:>8.2f}")


if __name__ == "__main__":
    main()
