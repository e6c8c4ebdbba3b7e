"""The Vogels-Abbott CUBA and COBA networks (Brette et al. 2007) as eqsnn networks.

N neurons, 80 % excitatory and 20 % inhibitory, connected with probability
0.02 * 4000 / N (about 64 excitatory and 16 inhibitory inputs per neuron at any
N), dt = 0.1 ms, exponential synapses (tau_e = 5 ms, tau_i = 10 ms).

* CUBA: current synapses, weights 1.62 mV and -9 mV, E_L = -49 mV (Brian2's
  example); the initial V is uniform in [v_reset, v_thresh].
* COBA: conductance synapses (E_e = 0 mV, E_i = -80 mV), weights 6 nS and
  67 nS, E_L = -60 mV, and a kick-start: 300 Hz Poisson trains into 50 * N /
  4000 excitatory neurons for the first 50 ms (weight 6 nS each), without
  which the activity dies out.

Run ``python examples/networks/vogels_abbott.py cuba`` for the rates and CVs.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

import eqsnn
from eqsnn.network import ExpCond, ExpCurr, FixedProbability, Network, OneToOne

HERE = pathlib.Path(__file__).resolve().parent


def _populations(net, model, n, rng, v_low=-60.0, v_high=-50.0):
    n_exc = n * 4 // 5
    init = {"V": rng.uniform(v_low, v_high, n_exc)}
    exc = net.add_population("exc", model, n_exc, init=init)
    inh = net.add_population("inh", model, n - n_exc,
                             init={"V": rng.uniform(v_low, v_high, n - n_exc)})
    return exc, inh


def cuba(n=4000, *, seed=0, backend="numpy", precision="float64", delay=1, dt=0.1):
    """The CUBA network; returns the Network (populations ``exc``, ``inh``)."""
    net = Network(dt=dt, backend=backend, precision=precision, seed=seed)
    model = eqsnn.load(HERE / "cuba_lif.eqs")
    rng = np.random.default_rng(seed)
    exc, inh = _populations(net, model, n, rng)
    p = 0.02 * 4000 / n
    for source, syn, w in ((exc, ExpCurr(5.0), 1.62), (inh, ExpCurr(10.0), -9.0)):
        for target in (exc, inh):
            net.connect(source, target, syn, name=f"{source.name}_{target.name}",
                        connectivity=FixedProbability(p, autapses=False), weight=w,
                        delay=delay)
    return net


def coba(n=4000, *, seed=0, backend="numpy", precision="float64", delay=1, dt=0.1):
    """The COBA network with its kick-start; returns the Network."""
    net = Network(dt=dt, backend=backend, precision=precision, seed=seed)
    model = eqsnn.load(HERE / "coba_lif_net.eqs")
    rng = np.random.default_rng(seed)
    exc, inh = _populations(net, model, n, rng)
    p = 0.02 * 4000 / n
    for source, syn, w in ((exc, ExpCond(5.0, 0.0), 6.0), (inh, ExpCond(10.0, -80.0), 67.0)):
        for target in (exc, inh):
            net.connect(source, target, syn, name=f"{source.name}_{target.name}",
                        connectivity=FixedProbability(p, autapses=False), weight=w,
                        delay=delay)
    # kick-start: 300 Hz Poisson trains into the first 50 * n / 4000 neurons for 50 ms
    n_kick = max(1, 50 * n // 4000)
    steps = int(round(50.0 / dt))
    fires = rng.random((steps, n_kick)) < 300.0 * dt / 1000.0
    at, ids = np.nonzero(fires)
    kick = net.add_spike_source("kick", n_kick, steps=at, neurons=ids)
    net.connect(kick, exc, ExpCond(5.0, 0.0), name="kick_exc",
                connectivity=_first(n_kick, exc.n), weight=6.0, delay=1)
    return net


def _first(n_kick, n_exc):
    from eqsnn.network import FromList
    ids = np.arange(n_kick)
    return OneToOne() if n_kick == n_exc else FromList(ids, ids)


def rates_and_cv(result, n, seconds):
    """Mean firing rate (Hz) and mean CV of the inter-spike intervals (neurons with >= 3
    spikes) of one population's result."""
    spikes = result.spikes
    rate = len(spikes) / n / seconds
    order = np.lexsort((spikes.step, spikes.neuron))
    ids, steps = spikes.neuron[order], spikes.step[order]
    cvs = []
    for i in np.unique(ids):
        isi = np.diff(steps[ids == i])
        if isi.size >= 2 and isi.mean() > 0:
            cvs.append(isi.std() / isi.mean())
    return rate, float(np.mean(cvs)) if cvs else float("nan")


def main(which="cuba", n=4000, ms=1000.0):
    net = {"cuba": cuba, "coba": coba}[which](n)
    steps = int(round(ms / net.dt))
    res = net.run(steps, record={"exc": ["spikes"], "inh": ["spikes"]})
    for pop in ("exc", "inh"):
        rate, cv = rates_and_cv(res[pop], net.populations[pop].n, ms / 1000.0)
        print(f"{which} {pop}: {rate:.2f} Hz, CV {cv:.3f}")
    return net, res



def raster(which, path, n=4000, ms=1000.0, seed=0):
    """Save a raster plot of one run of ``which`` (cuba or coba) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    net = {"cuba": cuba, "coba": coba}[which](n, seed=seed)
    res = net.run(int(round(ms / net.dt)), record={"exc": ["spikes"], "inh": ["spikes"]})
    n_exc = net.populations["exc"].n
    fig, ax = plt.subplots(figsize=(8, 3.5), dpi=100)
    for pop, offset, colour in (("exc", 0, "tab:blue"), ("inh", n_exc, "tab:red")):
        s = res[pop].spikes
        ax.plot(s.times, s.neuron + offset, ",", color=colour)
    rate_e, cv_e = rates_and_cv(res["exc"], n_exc, ms / 1000.0)
    ax.set(xlabel="time (ms)", ylabel="neuron", xlim=(0, ms),
           title=f"{which.upper()}, N = {n}: {rate_e:.1f} Hz, CV {cv_e:.2f} (excitatory)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main(*(sys.argv[1:2] or ["cuba"]))
