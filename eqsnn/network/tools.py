"""``eqsnn compare`` and ``eqsnn bench`` on networks named by a Python file.

The file defines ``build(backend, precision, seed)`` returning a
:class:`~eqsnn.network.Network`, and may define ``STEPS`` (default 1000) and
``INPUTS`` (the ``inputs`` of every run, default none)::

    eqsnn compare examples/networks/cuba_small.py --backends numpy,c --precision float32
    eqsnn bench examples/networks/cuba_small.py --backends numpy,c

Without ``--backends`` both run numpy, c and, where PyGeNN is installed, pygenn.
"""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass

import numpy as np

from ..errors import BackendError, EqsnnError
from ..runtime.arguments import positive_int, tolerance
from .network import Network

__all__ = ["NetworkComparison", "compare_networks", "default_backends", "load_network_file",
           "time_networks"]


def load_network_file(path: str):
    """The module of a network file, checked to define ``build``."""
    if not os.path.isfile(path):
        raise EqsnnError(f"no network file {path!r}",
                         hint="name a .py file that defines build(backend, precision, seed)")
    spec = importlib.util.spec_from_file_location(
        "eqsnn_network_" + os.path.basename(path)[:-3].replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except EqsnnError:
        raise
    except Exception as exc:
        raise EqsnnError(f"{path}: {type(exc).__name__}: {exc}",
                         hint="the network file must run on its own") from exc
    if not callable(getattr(module, "build", None)):
        raise EqsnnError(f"{path} defines no build(backend, precision, seed)",
                         hint="define build(backend, precision, seed) returning a Network")
    return module


def default_backends() -> tuple:
    """numpy and c, and pygenn where PyGeNN is installed."""
    import importlib.util as util
    return ("numpy", "c") + (("pygenn",) if util.find_spec("pygenn") is not None else ())


def _network(module, backend, precision, seed) -> Network:
    try:
        net = module.build(backend=backend, precision=precision, seed=seed)
    except EqsnnError:
        raise
    except Exception as exc:  # the file's own mistake, not eqsnn's: named as such
        raise EqsnnError(f"{module.__file__}: build(backend={backend!r}) raised "
                         f"{type(exc).__name__}: {exc}",
                         hint="the network file's build(backend, precision, seed) must run "
                         "for every backend compared") from exc
    if not isinstance(net, Network):
        raise EqsnnError(f"build() returned {type(net).__name__}, not an eqsnn Network")
    return net


def _steps(module, path, steps) -> int:
    """``--steps``, else the file's ``STEPS`` (named where it is wrong), else 1000."""
    if steps is not None:
        return positive_int("steps", steps)
    return positive_int(f"{path}: STEPS", getattr(module, "STEPS", 1000))


def _same_network(path, first, other) -> None:
    """Refuse a file whose build() gives another network on another backend (the
    comparison would mix up neurons or steps), naming what differs."""
    (name0, net0), (name1, net1) = first, other
    pops0 = {p: pop.n for p, pop in net0.populations.items()}
    pops1 = {p: pop.n for p, pop in net1.populations.items()}
    plastic0, plastic1 = ([c for c, conn in net.connections.items() if conn._plastic is not None]
                          for net in (net0, net1))
    if list(pops1) != list(pops0):
        what = f"has populations {list(pops1)} on {name1} and {list(pops0)} on {name0}"
    elif pops1 != pops0:
        p = next(p for p in pops0 if pops0[p] != pops1[p])
        what = f"population {p!r} has {pops1[p]} neurons on {name1} and {pops0[p]} on {name0}"
    elif plastic1 != plastic0:
        what = f"has plastic connections {plastic1} on {name1} and {plastic0} on {name0}"
    elif net1.dt != net0.dt:
        what = f"dt = {net1.dt} ms on {name1} and {net0.dt} ms on {name0}"
    elif net1.batch_size != net0.batch_size:
        what = f"batch_size = {net1.batch_size} on {name1} and {net0.batch_size} on {name0}"
    else:
        return
    raise EqsnnError(f"{path}: build() gives another network on another backend: {what}",
                     hint="build the same network on every backend (only backend= may "
                     "differ); compare different networks with two runs of your own")


def _record_all(net: Network) -> dict:
    record = {}
    for name, pop in net.populations.items():
        states = [] if pop.is_source else [s.name for s in pop.ir.states]
        record[name] = states + (["spikes"] if pop.spiking else [])
    for name, conn in net.connections.items():  # plastic weights and traces
        if conn._plastic is not None:
            record[name] = list(conn._plastic.state)
    return record


@dataclass
class NetworkComparison:
    backends: tuple
    steps: int
    lines: list
    ok: bool

    def __str__(self) -> str:
        return "\n".join(self.lines)


def _spike_sets(spikes, steps):
    """Per step: the set of (lane, neuron) that fired."""
    out = [set() for _ in range(steps)]
    for k, b, i in zip(spikes.step.tolist(), spikes.batch.tolist(), spikes.neuron.tolist()):
        out[k].add((b, i))
    return out


def compare_networks(path, backends=None, *, precision="float64", seed=0, steps=None,
                     rtol=1e-9, atol=1e-9) -> NetworkComparison:
    """Run the network of ``path`` on each backend; report the first divergence from the
    first backend (spikes exactly, states within the tolerance)."""
    rtol, atol = tolerance("rtol", rtol), tolerance("atol", atol)
    module = load_network_file(path)
    backends = tuple(backends or default_backends())
    # no step compared would make every comparison agree
    steps = _steps(module, path, steps)
    inputs = getattr(module, "INPUTS", None)
    results, missing, dt, first = {}, {}, None, None
    for backend in backends:
        try:
            net = _network(module, backend, precision, seed)
            dt = net.dt if dt is None else dt
            first = first or (backend, net)
            _same_network(path, first, (backend, net))
            results[backend] = net.run(steps, inputs=inputs, record=_record_all(net))
        except BackendError as exc:
            if backend == backends[0]:
                raise
            missing[backend] = f"{exc.message}; {exc.hint}" if exc.hint else exc.message
    ref_name = backends[0]
    ref = results[ref_name]
    lines = [f"network {path}: {steps} steps, {precision}, reference {ref_name}",
             "  spikes: " + ", ".join(
                 f"{b} {sum(len(r.spikes) for r in res.values() if r.spikes is not None)}"
                 for b, res in results.items())]
    ok = True
    for backend in backends[1:]:
        if backend in missing:
            lines.append(f"  {backend}: did not run: {missing[backend]}")
            ok = False
            continue
        first = None  # (step, description)
        for pop, result in results[backend].items():
            base = ref[pop]
            if base.spikes is not None:
                mine, theirs = _spike_sets(result.spikes, steps), _spike_sets(base.spikes, steps)
                for k in range(steps):
                    if mine[k] != theirs[k]:
                        extra = sorted(mine[k] ^ theirs[k])[0]
                        who = backend if extra in mine[k] else ref_name
                        desc = (f"{pop}: lane {extra[0]} neuron {extra[1]} fires at step {k} "
                                f"on {who} only")
                        if first is None or k < first[0]:
                            first = (k, desc)
                        break
            for state, values in result.vars.items():
                close = np.isclose(values, base.vars[state], rtol=rtol, atol=atol,
                                   equal_nan=True)
                if not close.all():
                    k, b, i = np.argwhere(~close)[0]
                    desc = (f"{pop}.{state}: lane {b} neuron {i} at step {k}: "
                            f"{values[k, b, i]!r} on {backend}, {base.vars[state][k, b, i]!r} "
                            f"on {ref_name}")
                    if first is None or k < first[0]:
                        first = (int(k), desc)
        if first is None:
            lines.append(f"  {backend}: identical spikes, states within {rtol:g}")
        else:
            ok = False
            lines.append(f"  {backend}: first divergence at step {first[0]} "
                         f"(t = {first[0] * dt:g} ms): {first[1]}")
    return NetworkComparison(backends, steps, lines, ok)


def time_networks(path, backends=None, *, precision="float64", seed=0, steps=None,
                  repeats=3) -> str:
    """Build time and best-of-``repeats`` run time (spikes recorded) per backend."""
    repeats = positive_int("repeats", repeats)  # none would time nothing (inf)
    module = load_network_file(path)
    backends = tuple(backends or default_backends())
    # no step compared would make every comparison agree
    steps = _steps(module, path, steps)
    inputs = getattr(module, "INPUTS", None)
    lines = [f"network {path}: {steps} steps, {precision}, spikes recorded, best of {repeats}",
             "| backend | build (s) | run (s) | µs per step |", "|---|---|---|---|"]
    for backend in backends:
        started = time.perf_counter()
        net = _network(module, backend, precision, seed)
        net.build()
        built = time.perf_counter() - started
        record = {name: ["spikes"] for name, pop in net.populations.items() if pop.spiking}
        best = np.inf
        for _ in range(repeats):
            net.reset()
            started = time.perf_counter()
            net.run(steps, inputs=inputs, record=record)
            best = min(best, time.perf_counter() - started)
        lines.append(f"| {backend} | {built:.2f} | {best:.3f} | {best / max(steps, 1) * 1e6:.1f} |")
    return "\n".join(lines)
