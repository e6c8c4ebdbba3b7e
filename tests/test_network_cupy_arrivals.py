"""Networks on the ``cupy`` backend: the arrivals summed on the GPU by the pull kernel.

Each target sums its arrivals in numpy's (emission step, pre, row) order, checked
with weights whose float32 sum depends on the order; where the arrivals are summed
on the host instead, the network says why.  Without a GPU on the CPU emulation of
``fake_cupy.py``, as ``test_network_cupy.py``.
"""

from __future__ import annotations

import numpy as np
import nvrtc
import pytest
import test_network as network_tests
from test_backend_equivalence import gpu_available
from test_network_cupy import _same_spikes

import eqsnn
from eqsnn.network import Delta, FromList, Network

# on a GPU the gpu tier (bench/gpu_check.sh); else the CPU emulation of CUDA (the
# emulated_cupy fixture of conftest.py), which compiles with g++
pytestmark = [pytest.mark.gpu if gpu_available() else pytest.mark.c,
              pytest.mark.usefixtures("emulated_cupy")]


@pytest.fixture(scope="module")
def lif():
    return eqsnn.compile(network_tests.LIF)


PROBE = """neuron Probe
    state V = 0.0
    input Isyn = 0.0
    after: V = Isyn
"""


def _probe_network(backend, record_lif, seed=11, spy=None):
    """A spike source and a LIF population into a probe whose V is each step's summed
    arrivals, through per-synapse delays, repeated pairs and weights of 1e8 beside 1."""
    rng = np.random.default_rng(seed)
    net = Network(dt=1.0, precision="float32", backend=backend, batch_size=2, seed=seed)
    flat = rng.choice(40 * 6, 90, replace=False)
    net.add_spike_source("s", 6, steps=flat // 6, neurons=flat % 6)
    net.add_population("l", eqsnn.compile(network_tests.LIF), 5)
    net.add_population("p", eqsnn.compile(PROBE), 3)
    scale = np.float32([1e8, -1e8, 1.0, 3.0, -7.0, 1e7])
    for source, n_pre, count in (("s", 6, 60), ("l", 5, 30)):
        pre, post = rng.integers(0, n_pre, count), rng.integers(0, 3, count)
        net.connect(source, "p", Delta(), connectivity=FromList(pre, post),
                    weight=rng.choice(scale, count), delay=rng.integers(1, 5, count),
                    name=f"{source}p")
    inputs = {"l": {"Isyn": np.float32([[0.3, 0.25, 0.5, 0.4, 0.35],
                                        [0.45, 0.2, 0.3, 0.6, 0.5]])}}
    record = {"p": ["V"], "s": ["spikes"], **({"l": ["spikes"]} if record_lif else {})}
    if spy is not None:
        net.build()
        spy(net)
    return net, net.run(40, inputs=inputs, record=record)


def _sums(net, spikes, order, steps=40):
    """The input of the probe, ``(steps, batch, 3)``: per connection, the weights of the
    synapses whose source spiked ``delay`` steps before summed from 0 in float32 in
    ``order`` (a key of emission step, pre and CSR row), added in connection order."""
    out = np.zeros((steps, 2, 3), np.float32)  # the input: 0, then each connection's sum
    for conn in net.connections.values():
        part = np.zeros_like(out)
        fired = spikes[conn.source.name]
        terms = []  # (arrival, lane, post, key, weight)
        for e, b, i in zip(fired.step, fired.batch, fired.neuron):
            for row in np.nonzero(conn.pre == i)[0]:
                a = e + conn.delays[row]
                if a < steps:
                    terms.append((a, b, conn.post[row], order(e, i, row), conn.weights[row]))
        for a, b, j, _, w in sorted(terms, key=lambda t: t[:4]):
            part[a, b, j] = np.float32(part[a, b, j] + w)
        out = out + part
    return out


def test_each_target_sums_its_arrivals_in_the_host_order():
    """Weights of 1e8 beside 1 make a float32 sum depend on its order: the probe's V, the
    summed arrivals of each step, is the plain loop's sum in (emission step, pre, row)
    order, on cupy with the spikes on the device only and on numpy; delay ascending or
    CSR order alone give other sums (so this test would see a wrong order)."""
    numpy_net, expected = _probe_network("numpy", True)
    spikes = {"s": expected["s"].spikes, "l": expected["l"].spikes}
    assert len(spikes["l"]) > 20 and len(spikes["s"]) > 100
    oracle = _sums(numpy_net, spikes, lambda e, i, row: (e, i, row))
    for wrong in (lambda e, i, row: (-e, i, row), lambda e, i, row: (i, row, e)):
        assert not np.array_equal(_sums(numpy_net, spikes, wrong), oracle)
    np.testing.assert_array_equal(expected["p"].vars["V"], oracle)
    asked = []  # whether the LIF population's runner was asked for its spikes on the host

    def spy(net):
        runner = net.populations["l"]._sim._runner
        real = runner.run
        runner.run = lambda *args: asked.append(args[4]) or real(*args)
    cupy_net, got = _probe_network("cupy", False, spy=spy)
    assert cupy_net.host_arrivals_reason is None
    assert asked and not any(asked)  # its spikes stayed on the device
    np.testing.assert_array_equal(got["p"].vars["V"], oracle)


def test_where_the_arrivals_are_summed_on_the_host_it_says_why(lif):
    from eqsnn.network.stdp import StdpAdditive

    def built(**connect):
        net = Network(backend="cupy", precision="float64")
        net.add_population("a", lif, 2)
        net.add_population("b", lif, 2)
        if connect:
            net.connect("a", "b", Delta(), **connect)
        net.build()
        return net
    assert built(weight=0.5).host_arrivals_reason is None
    assert "no synapses" in built().host_arrivals_reason
    assert "'c0' is plastic" in built(weight=0.5,
                                      weight_update=StdpAdditive()).host_arrivals_reason
    far = built(weight=5.0, delay=10**9)  # no ring of 10^9 rows: summed on the host
    assert "GiB of device memory" in far.host_arrivals_reason and far._device is None
    res = far.run(5, inputs={"a": {"Isyn": 2.0}}, record={"b": ["V"]})
    assert not res["b"].vars["V"].any()
    numpy_net = Network(precision="float64")
    numpy_net.build()
    assert "not numpy" in numpy_net.host_arrivals_reason


@pytest.mark.skipif(nvrtc.library() is None,
                    reason="needs NVRTC (pip install nvidia-cuda-nvrtc-cu12)")
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_nvrtc_compiles_the_pull_kernel_without_warnings_or_atomics(precision):
    from eqsnn.backends.cupy_network import kernel_source
    ptx, log = nvrtc.compile_ptx(kernel_source(precision), ("--fmad=false",
                                                            "-arch=compute_90"))
    assert "eqsnn_pull" in ptx and "atom." not in ptx and "red." not in ptx
    assert not log.strip(), log
    assert f"add.rn.f{precision[-2:]}" in ptx and "fma." not in ptx


def test_the_pull_order_and_its_doctest():
    import doctest

    from eqsnn.backends import cupy_network
    assert doctest.testmod(cupy_network).failed == 0
    # a homogeneous delay: per target, (pre, row); the duplicated pair keeps its rows' order
    indptr, syn = cupy_network.pull_order([0, 0, 1, 1, 0], [1, 1, 0, 1, 0], 3, 2)
    assert indptr.tolist() == [0, 2, 5] and syn.tolist() == [4, 2, 0, 1, 3]
    source = cupy_network.kernel_source("float32")
    assert "typedef float FLOAT;" in source and "atomic" not in source


def test_a_runner_that_cuts_a_window_into_pieces_hands_over_every_piece():
    """A runner splits a run into pieces when its records would exceed ``window_bytes``:
    each piece's spike bits reach the ring, at their own steps."""
    out = {}
    for backend in ("numpy", "cupy"):
        net, inputs = network_tests._cuba_like(backend, "float32", n=40, delays=(6, 5, 7))
        net.build()
        if backend == "cupy":
            for pop in net.populations.values():
                pop._sim._runner.window_bytes = 1  # one step per piece
        out[backend] = net.run(90, inputs=inputs, record={"exc": ["V", "spikes"],
                                                          "inh": ["V"]})
    assert len(out["numpy"]["exc"].spikes) > 10
    _same_spikes(out["cupy"], out["numpy"], ("exc",))
    np.testing.assert_array_equal(out["cupy"]["inh"].vars["V"], out["numpy"]["inh"].vars["V"])


def test_a_window_whose_arrivals_would_not_fit_is_summed_on_the_host(lif):
    """One delay of 10^7 steps into 30 neurons: a window's arrivals would take 1.1 GiB on
    the device (the host's window is as long: the run is cut short here, 5 steps)."""
    net = Network(backend="cupy", precision="float32")
    net.add_population("a", lif, 30)
    net.connect("a", "a", Delta(), weight=0.5, delay=10**7)
    net.build()
    assert "window of 10000000 steps" in net.host_arrivals_reason
    res = net.run(5, inputs={"a": {"Isyn": 2.0}}, record={"a": ["spikes"]})
    assert len(res["a"].spikes) == 5 * 30  # V = 2 >= 1 in every step
