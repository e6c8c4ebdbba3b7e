"""Networks on the ``cupy`` backend, against the numpy backend bit for bit.

Without a GPU the cupy backend runs on the CPU emulation of ``fake_cupy.py``
(its kernels compiled as C++ and run thread by thread); with one (``-m gpu``,
``EQSNN_REQUIRE_GPU=1``) the same tests run on the device.  The networks are
those of ``test_network.py``, ``test_network_fused.py`` and a small Vogels-Abbott
CUBA and COBA; many tests of the other network files run here again with
``backend="cupy"``.  The pull kernel's summation order, and where the host sums
instead: ``test_network_cupy_arrivals.py``.
"""

from __future__ import annotations

import helpers
import numpy as np
import pytest
import test_check_network as check_tests
import test_network as network_tests
import test_network_attacks as attack_tests
import test_network_fused as fused_tests
import test_plasticity as plasticity_tests
from test_backend_equivalence import gpu_available

import eqsnn
from eqsnn.errors import BackendError
from eqsnn.network import Delta, Exponential, FromList, Network

# on a GPU the gpu tier (bench/gpu_check.sh); else the CPU emulation of CUDA (the
# emulated_cupy fixture of conftest.py), which compiles with g++
pytestmark = [pytest.mark.gpu if gpu_available() else pytest.mark.c,
              pytest.mark.usefixtures("emulated_cupy")]


@pytest.fixture(scope="module")
def lif():
    return eqsnn.compile(network_tests.LIF)


def _same_spikes(x, y, pops):
    for pop in pops:
        for field in ("step", "batch", "neuron"):
            np.testing.assert_array_equal(getattr(x[pop].spikes, field),
                                          getattr(y[pop].spikes, field))


@pytest.mark.parametrize("on_device", [True, False], ids=["device", "host"])
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_the_fused_tests_network_gives_numpys_bits(precision, on_device):
    """Two populations, a spike source, recurrent and per-synapse delays, five synapse
    models, per-step inputs, two lanes; two runs of 50 give one run of 100; the arrivals
    summed by the pull kernel or on the host."""
    numpy_net, drive, per_step = fused_tests._network("numpy", precision)
    cupy_net, _, _ = fused_tests._network("cupy", precision)
    cupy_net._device_arrivals = on_device
    expected = fused_tests._run(numpy_net, drive, per_step, 0, 100)
    whole = fused_tests._run(cupy_net, drive, per_step, 0, 100)
    assert (cupy_net.host_arrivals_reason is None) == on_device
    assert (cupy_net._device is None) != on_device
    assert len(expected["a"].spikes) > 30 and len(expected["b"].spikes) > 5
    fused_tests._same(whole, expected)
    halves, _, _ = fused_tests._network("cupy", precision)
    halves._device_arrivals = on_device
    first = fused_tests._run(halves, drive, per_step, 0, 50)
    second = fused_tests._run(halves, drive, per_step, 50, 50)
    np.testing.assert_array_equal(np.concatenate([first["a"].vars["V"],
                                                  second["a"].vars["V"]]),
                                  whole["a"].vars["V"])
    np.testing.assert_array_equal(np.concatenate([first["ab"].vars["g"],
                                                  second["ab"].vars["g"]]),
                                  whole["ab"].vars["g"])
    steps = np.concatenate([first["a"].spikes.step, second["a"].spikes.step + 50])
    np.testing.assert_array_equal(steps, whole["a"].spikes.step)
    for pop in ("a", "b"):
        for name, value in numpy_net.state[pop].items():
            np.testing.assert_array_equal(halves.state[pop][name], value)


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_a_cuba_like_network_gives_numpys_bits_across_runs_and_resets(precision):
    nets = {b: network_tests._cuba_like(b, precision, n=80) for b in ("numpy", "cupy")}
    record = {"exc": ["spikes", "V"], "inh": ["spikes"], "c0": ["g"]}
    runs = {}
    for backend, (net, inputs) in nets.items():
        first = net.run(120, inputs=inputs, record=record)
        net.connections["c2"].weights = net.connections["c2"].weights * 1.5
        second = net.run(80, inputs=inputs, record=record)
        net.reset()
        third = net.run(60, inputs=inputs, record=record)
        runs[backend] = (first, second, third)
    assert len(runs["numpy"][0]["exc"].spikes) > 20
    for got, expected in zip(runs["cupy"], runs["numpy"]):
        _same_spikes(got, expected, ("exc", "inh"))
        np.testing.assert_array_equal(got["exc"].vars["V"], expected["exc"].vars["V"])
        np.testing.assert_array_equal(got["c0"].vars["g"], expected["c0"].vars["g"])
    for pop in ("exc", "inh"):
        for name, value in nets["numpy"][0].state[pop].items():
            np.testing.assert_array_equal(nets["cupy"][0].state[pop][name], value)


@pytest.mark.parametrize("which, steps", [("cuba", 300), ("coba", 400)])
def test_vogels_abbott_small_gives_numpys_spikes_in_float32(which, steps):
    module = helpers.vogels_abbott()
    out = {}
    for backend in ("numpy", "cupy"):
        net = getattr(module, which)(n=200, seed=1, backend=backend, precision="float32")
        out[backend] = net.run(steps, record={"exc": ["spikes", "V"], "inh": ["spikes"]})
    assert len(out["numpy"]["exc"].spikes) > 20
    _same_spikes(out["cupy"], out["numpy"], ("exc", "inh"))
    np.testing.assert_array_equal(out["cupy"]["exc"].vars["V"], out["numpy"]["exc"].vars["V"])


# --- the tests of the other network files, on cupy -------------------------------------------
def test_ten_neurons_with_heterogeneous_delays_against_a_plain_loop(lif):
    network_tests.test_ten_neurons_heterogeneous_delays_bit_for_bit(lif, "cupy")


def test_recording_a_subset_of_neurons(lif):
    network_tests.test_recording_a_subset_of_neurons(lif, "cupy")


def test_a_small_plastic_network_against_a_plain_loop():
    plasticity_tests.test_small_plastic_network_matches_a_numpy_loop_bit_for_bit("cupy")


@pytest.mark.parametrize("plastic", [False, True])
def test_an_interrupted_run_is_rolled_back(lif, plastic, monkeypatch):
    attack_tests.test_an_interrupted_run_is_rolled_back(lif, "cupy", plastic, monkeypatch)


def test_a_spike_in_flight_delivers_the_weight_it_finds_at_arrival(lif):
    """Weights set between runs while a spike is in flight: it delivers the new weight,
    V = w_new e^{-(k - k_a)/10}, as on numpy."""
    for delay in (5, np.array([5, 6])):
        net, conn = attack_tests._in_flight(lif, "cupy", delay)
        net.run(10)  # the spike of step 8 arrives at 13 (and 14)
        conn.weights = [2.0, 3.0]
        V = net.run(10, record={"b": ["V"]})["b"].vars["V"][:, 0, :]
        arrive = 8 + np.broadcast_to(delay, (2,))
        for i, w in enumerate((2.0, 3.0)):
            k = np.arange(10, 20)
            expected = np.where(k >= arrive[i], w * np.exp(-(k - arrive[i]) / 10.0), 0.0)
            np.testing.assert_allclose(V[:, i], expected, rtol=1e-13)


def test_a_connections_state_and_spikes_recorded_for_some_neurons(lif):
    attack_tests.test_a_connections_state_recorded_for_some_target_neurons(lif, "cupy")
    attack_tests.test_spikes_recorded_for_some_neurons(lif, "cupy")


@pytest.mark.parametrize("readout", ["sum_var", "avg_var", "max_var"])
def test_a_readout_spans_the_networks_run(readout):
    attack_tests.test_a_readout_spans_the_networks_run("cupy", readout)


def test_the_numerical_check_names_the_earliest_failure_and_clears_every_record():
    check_tests.test_the_earliest_failure_of_any_population_is_named_and_every_record_cleared(
        "cupy", True)
    check_tests.test_a_population_run_through_its_simulator_fails_without_stopping_the_run(
        "cupy")
    check_tests.test_the_bounds_of_a_synapse_state_are_checked_and_named_by_their_connection(
        "cupy")
    check_tests.test_a_synapse_state_that_becomes_infinite_is_named_by_its_connection("cupy")
    check_tests.test_a_network_without_the_check_gives_the_same_bits_and_reports_nothing(
        "cupy", True)
    fused_tests.test_a_state_that_stays_infinite_is_reported_in_a_network("cupy")


def test_standard_library_neurons_draw_as_on_numpy():
    from eqsnn.neurons import LeakyIntegrateFire, PoissonInput
    out = {}
    for backend in ("numpy", "cupy"):
        net = Network(dt=1.0, batch_size=2, seed=4, backend=backend)
        net.add_population("src", PoissonInput(), 20)
        net.add_population("lif", LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0), 5)
        net.connect("src", "lif", Exponential(5.0), weight=0.2, delay=2)
        out[backend] = net.run(60, inputs={"src": {"Input": np.full((2, 20), 0.2)}},
                               record={"src": ["spikes"], "lif": ["V", "spikes"]})
    assert len(out["numpy"]["src"].spikes) > 100
    _same_spikes(out["cupy"], out["numpy"], ("src", "lif"))
    np.testing.assert_array_equal(out["cupy"]["lif"].vars["V"], out["numpy"]["lif"].vars["V"])


def test_too_many_lanes_are_refused_before_anything_runs(lif):
    net = Network(backend="cupy", batch_size=65536)
    net.add_population("a", lif, 2)
    net.connect("a", "a", Delta(), connectivity=FromList([0], [1]), weight=0.5)
    with pytest.raises(BackendError, match="1 to 65535 lanes"):
        net.run(3)
    assert net.step == 0


def test_adaptive_neurons_in_a_network_agree_with_c():
    """AdEx on the adaptive method (its substep loop in the composed kernel): cupy gives
    c's spikes, and states within 1e-9 of their range (c's own allowance against numpy;
    on the emulation the kernel is c's step function)."""
    import test_network_adaptive as adaptive_tests
    runs = [adaptive_tests._network(backend).run(3000, inputs={"a": {"Isyn": 800.0}},
                                                 record={"b": ["V", "spikes"]})
            for backend in ("c", "cupy")]
    c_run, cupy_run = runs
    assert len(c_run["b"].spikes) > 0
    np.testing.assert_array_equal(cupy_run["b"].spikes.step, c_run["b"].spikes.step)
    scale = np.ptp(c_run["b"].vars["V"])
    np.testing.assert_allclose(cupy_run["b"].vars["V"], c_run["b"].vars["V"], rtol=0,
                               atol=1e-9 * scale)


def test_fast_math_networks_run_and_stay_close():
    nets = {fast: Network(backend="cupy", fast_math=fast, precision="float32", seed=2)
            for fast in (False, True)}
    out = {}
    for fast, net in nets.items():
        net.add_population("a", eqsnn.compile(network_tests.LIF), 8)
        net.connect("a", "a", Exponential(3.0), weight=0.05, delay=2)
        out[fast] = net.run(50, inputs={"a": {"Isyn": np.linspace(0.1, 0.3, 8)}},
                            record={"a": ["V", "spikes"]})
    assert len(out[False]["a"].spikes) > 10
    np.testing.assert_allclose(out[True]["a"].vars["V"], out[False]["a"].vars["V"],
                               rtol=1e-4, atol=1e-5)


def test_without_cupy_a_network_says_what_it_needs_and_changes_nothing(lif, monkeypatch):
    import sys
    net = Network(backend="cupy")
    net.add_population("a", lif, 2)
    net.connect("a", "a", Delta(), connectivity=FromList([0], [1]), weight=0.5)
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
        with pytest.raises(BackendError, match="needs CuPy") as caught:
            net.run(3)
    assert "backend='c' or 'numpy'" in caught.value.hint
    assert net.step == 0 and not net._built
    assert net.run(3, record={"a": ["V"]})["a"].vars["V"].shape == (3, 1, 2)  # CuPy back


def test_eqsnn_compare_and_bench_run_a_network_on_cupy(tmp_path, capsys):
    from test_network_cli import _file

    from eqsnn.tools.cli import main
    path = _file(tmp_path, 0.0)
    assert main(["compare", path, "--backends", "numpy,cupy", "--precision", "float32",
                 "--steps", "120"]) == 0
    assert "cupy: identical spikes" in capsys.readouterr().out
    assert main(["bench", path, "--backends", "cupy", "--steps", "30", "--repeats", "1"]) == 0
    assert "cupy" in capsys.readouterr().out
