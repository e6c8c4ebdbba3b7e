"""Run one Vogels-Abbott network in Brian2, for ``bench/bench_network.py``.

    <brian2 python> bench/brian2_network_worker.py SPEC.npz OUT.npz

Runs in Brian2's own environment (Brian2 2.9 needs NumPy < 2.4), so it
imports neither eqsnn nor the example: the parent passes the network in
``SPEC.npz`` (which, n, n_exc, seed, delay in steps, target, dt, ms, the
initial potentials ``v0`` and the COBA kick-start trains ``kick_at``
(steps), ``kick_ids``, ``kick_n``).  Writes ``seconds`` (the run's CPU time,
code generation and compilation excluded: a runtime target runs one untimed
step first, cpp_standalone's time is the device's own, from std::clock()) and the excitatory spikes
``steps``, ``ids`` to ``OUT.npz``.  Single-threaded (Brian2's default).
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np


def main(spec_path, out_path):
    import brian2 as b2
    from brian2 import ms as bms
    from brian2 import mV, nS, pF

    spec = np.load(spec_path)
    which, target = str(spec["which"]), str(spec["target"])
    n, n_exc, seed = int(spec["n"]), int(spec["n_exc"]), int(spec["seed"])
    delay, dt, ms = int(spec["delay"]), float(spec["dt"]), float(spec["ms"])
    b2.seed(seed)
    directory = tempfile.mkdtemp(prefix="eqsnn-brian2-")  # never the working directory
    if target == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
    else:
        b2.prefs.codegen.target = target
    b2.defaultclock.dt = dt * bms
    if which == "cuba":
        eqs = """dv/dt = (ge + gi - (v - El)) / taum : volt (unless refractory)
                 dge/dt = -ge / taue : volt
                 dgi/dt = -gi / taui : volt"""
        ns = {"taum": 20 * bms, "El": -49 * mV, "taue": 5 * bms, "taui": 10 * bms}
        on_e, on_i, method = "ge += 1.62*mV", "gi += -9*mV", "exact"
    else:
        eqs = """dv/dt = (gl * (El - v) + ge * (Ee - v) + gi * (Ei - v)) / C
                     : volt (unless refractory)
                 dge/dt = -ge / taue : siemens
                 dgi/dt = -gi / taui : siemens"""
        ns = {"gl": 10 * nS, "El": -60 * mV, "Ee": 0 * mV, "Ei": -80 * mV, "C": 200 * pF,
              "taue": 5 * bms, "taui": 10 * bms}
        on_e, on_i, method = "ge += 6*nS", "gi += 67*nS", "exponential_euler"
    P = b2.NeuronGroup(n, eqs, threshold="v > -50*mV", reset="v = -60*mV",
                       refractory=5 * bms, method=method, namespace=ns)
    P.v = spec["v0"] * mV
    p = 0.02 * 4000 / n
    Ce = b2.Synapses(P, P, on_pre=on_e, delay=(delay - 1) * dt * bms)
    Ce.connect(condition=f"i < {n_exc} and i != j", p=p)
    Ci = b2.Synapses(P, P, on_pre=on_i, delay=(delay - 1) * dt * bms)
    Ci.connect(condition=f"i >= {n_exc} and i != j", p=p)
    objects = [P, Ce, Ci]
    if which == "coba":
        G = b2.SpikeGeneratorGroup(int(spec["kick_n"]), spec["kick_ids"],
                                   spec["kick_at"] * dt * bms)
        # the generator emits at step k; eqsnn's source too, delivered with d = 1
        K = b2.Synapses(G, P, on_pre="ge += 6*nS")
        K.connect(j="i")
        objects += [G, K]
    mon = b2.SpikeMonitor(P)
    objects.append(mon)
    net = b2.Network(*objects)
    if target == "cpp_standalone":
        net.run(ms * bms)
        b2.device.build(directory=directory, run=True)
        seconds = b2.device._last_run_time
    else:
        net.run(dt * bms)  # code generation and compilation, untimed
        t = time.process_time()  # CPU time, as cpp_standalone's std::clock()
        net.run((ms - dt) * bms)
        seconds = time.process_time() - t
    steps = np.round(np.asarray(mon.t / bms) / dt).astype(np.int64)
    ids = np.asarray(mon.i)
    np.savez(out_path, seconds=seconds, steps=steps[ids < n_exc], ids=ids[ids < n_exc])


if __name__ == "__main__":
    main(*sys.argv[1:3])
