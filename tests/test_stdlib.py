"""The standard library against the test vectors of spec/ml_genn-neurons.md §8.

Every vector runs through ``Simulator(neuron, ...)`` on each backend in the
tree (those that cannot run here are skipped), in float32 and, where the
spec gives float64 figures or the result does not depend on the precision,
float64.
"""

from __future__ import annotations

import numpy as np
import pytest

import eqsnn
from eqsnn import neurons as N
from eqsnn.backends import REGISTRY
from eqsnn.errors import BackendError

PRECISIONS = ["float32", "float64"]


#: the tier markers of pyproject.toml, so that e.g. ``-m "not pygenn"`` gives a quick run
BACKEND_MARKS = {"c": pytest.mark.c, "cupy": pytest.mark.gpu, "pygenn": pytest.mark.pygenn}


@pytest.fixture(params=[pytest.param(name, marks=BACKEND_MARKS.get(name, ()))
                        for name in sorted(REGISTRY)])
def backend(request):
    return request.param


def simulator(neuron, n, *, backend="numpy", **kwargs):
    """A population on ``backend``; skips backends that cannot run on this machine."""
    try:
        return eqsnn.Simulator(neuron, n, backend=backend, **kwargs)
    except (BackendError, ImportError) as error:  # pragma: no cover - depends on the machine
        pytest.skip(f"backend {backend} unavailable: {error}")


def simulate(neuron, n, steps, inputs=None, record=("spikes",), *, backend="numpy", **kwargs):
    """One run of a fresh population."""
    return simulator(neuron, n, backend=backend, **kwargs).run(steps, inputs, record)


def spike_steps(result, lane=0, neuron=0, sign=None):
    spikes = result.spikes
    mine = (spikes.batch == lane) & (spikes.neuron == neuron)
    if sign is not None:
        mine &= spikes.sign == sign
    return spikes.step[mine].tolist()


# --- TV1: LIF, delta input --------------------------------------------------------------
TV1_V = [0.100000, 0.195123, 0.285607, 0.371677, 0.453551, 0.531431, 0.605512, 0.675981,
         0.743013, 0.806776, 0.867429, 0.925124, 0.980005, 1.032210]


@pytest.mark.parametrize("precision", PRECISIONS)
def test_tv1_lif_trace_and_spikes(backend, precision):
    result = simulate(N.LeakyIntegrateFire(), 1, 60, {"Isyn": 0.1}, ("V", "spikes"),
                      backend=backend, precision=precision)
    V = result.vars["V"][:, 0, 0]
    np.testing.assert_allclose(V[:13], TV1_V[:13], atol=1e-6)
    np.testing.assert_allclose(V[13], TV1_V[13] - 1.0, atol=1e-6)  # after the reset
    alpha = np.exp(-1 / 20)
    np.testing.assert_allclose(V[:13], 0.1 * (1 - alpha ** np.arange(1, 14)) / (1 - alpha),
                               rtol=1e-6)
    assert spike_steps(result) == [13, 27, 40, 54]


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("readout, steps, expected", [
    ("spike_count", 60, 4), ("first_spike_time", 60, -13.0), ("var", 14, 0.032210),
    ("avg_var", 14, 0.612389), ("sum_var", 14, 8.573440), ("max_var", 14, 1.032210),
    ("avg_var_exp_weight", 14, 0.347156),
])
def test_tv1_lif_readouts(backend, precision, readout, steps, expected):
    result = simulate(N.LeakyIntegrateFire(readout=readout), 1, steps, {"Isyn": 0.1}, (),
                      backend=backend, precision=precision)
    assert result.readout.shape == (1, 1)
    np.testing.assert_allclose(result.readout[0, 0], expected, atol=2e-6)


# --- TV2: LIF, scaled input ---------------------------------------------------------------
@pytest.mark.parametrize("precision", PRECISIONS)
def test_tv2_lif_scale_i(backend, precision):
    result = simulate(N.LeakyIntegrateFire(scale_i=True), 2, 70,
                      {"Isyn": np.array([1.5, 0.1])}, ("V", "spikes"),
                      backend=backend, precision=precision)
    assert spike_steps(result, neuron=0) == [21, 43, 65]
    np.testing.assert_allclose(result.vars["V"][21, 0, 0], 1.000693 - 1.0, atol=2e-6)
    assert spike_steps(result, neuron=1) == []
    long = simulate(N.LeakyIntegrateFire(scale_i=True), 1, 800, {"Isyn": 0.1}, ("V",),
                    backend=backend, precision=precision)
    np.testing.assert_allclose(long.vars["V"][-1, 0, 0], 0.1, rtol=1e-5)


# --- TV3: LIF refractory variants -----------------------------------------------------------
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("kwargs, expected", [
    ({}, [3, 7, 10, 14, 18, 21, 25, 29]),
    ({"relative_reset": False}, [3, 7, 11, 15, 19, 23, 27]),
    ({"tau_refrac": 5.0}, [3, 8, 13, 18, 23, 28]),
    ({"tau_refrac": 5.0, "relative_reset": False}, [3, 8, 13, 18, 23, 28]),
    ({"tau_refrac": 5.0, "integrate_during_refrac": False}, [3, 12, 20, 29]),
])
def test_tv3_lif_refractory(backend, precision, kwargs, expected):
    result = simulate(N.LeakyIntegrateFire(**kwargs), 1, 30, {"Isyn": 0.3},
                      backend=backend, precision=precision)
    assert spike_steps(result) == expected


# --- TV4: ALIF ------------------------------------------------------------------------------
@pytest.mark.parametrize("precision", PRECISIONS)
def test_tv4_alif(backend, precision):
    neuron = N.AdaptiveLeakyIntegrateFire(tau_adapt=200.0, beta=0.5)
    result = simulate(neuron, 1, 40, {"Isyn": 0.3}, ("V", "A", "spikes"),
                      backend=backend, precision=precision)
    steps = spike_steps(result)
    assert steps == [3, 9, 15, 22, 29, 37]
    A_before = result.vars["A"][steps, 0, 0] - 1.0  # A jumps by 1 in the reset
    np.testing.assert_allclose(A_before, [0, 0.970446, 1.912210, 2.812046, 3.680932, 4.497390],
                               atol=2e-6)
    np.testing.assert_allclose(1.0 + 0.5 * A_before,
                               [1.0, 1.485223, 1.956105, 2.406023, 2.840466, 3.248695], atol=2e-6)
    V_before = result.vars["V"][steps, 0, 0] + 1.0  # relative reset by v_thresh - v_reset
    np.testing.assert_allclose(V_before[:2], [1.115032, 1.679510], atol=2e-6)

    defaults = simulate(N.AdaptiveLeakyIntegrateFire(), 1, 15, {"Isyn": 0.3}, ("A", "spikes"),
                        backend=backend, precision=precision)
    steps = spike_steps(defaults)
    assert steps == [3, 7, 10, 14]
    thresholds = 1.0 + 0.0174 * (defaults.vars["A"][steps, 0, 0] - 1.0)
    np.testing.assert_allclose(thresholds, [1.0, 1.017365, 1.034713, 1.052009], atol=2e-6)


# --- TV5: IF input --------------------------------------------------------------------------
def test_tv5_if_input(backend):
    neuron = N.IntegrateFireInput()
    neuron.readout = "spike_count"  # input neurons take no readout argument, as in ml_genn
    result = simulate(neuron, 2, 20, {"Input": np.array([0.3, 0.25])}, ("V", "spikes"),
                      backend=backend)
    np.testing.assert_allclose(result.vars["V"][:4, 0, 0], [0.3, 0.6, 0.9, 0.0], atol=1e-6)
    assert spike_steps(result, neuron=0) == [3, 7, 11, 15, 19]
    assert result.readout[0, 0] == 5
    assert spike_steps(result, neuron=1)[0] == 3  # V reaches exactly 1.0: the test is >=


# --- TV6: leaky integrator and its readouts ---------------------------------------------------
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("readout, expected", [
    ("var", 0.393469), ("sum_var", 2.325708), ("avg_var", 0.232571), ("max_var", 0.393469),
    ("avg_var_exp_weight", 0.133727),
])
def test_tv6_leaky_integrate(backend, precision, readout, expected):
    neuron = N.LeakyIntegrate(scale_i=True, readout=readout)
    result = simulate(neuron, 1, 10, {"Isyn": 1.0}, ("V",), backend=backend,
                      precision=precision)
    alpha = np.exp(-1 / 20)
    np.testing.assert_allclose(result.vars["V"][:, 0, 0], 1 - alpha ** np.arange(1, 11),
                               rtol=1e-6)
    np.testing.assert_allclose(result.readout[0, 0], expected, atol=2e-6)


def test_tv6_max_var_floor_is_zero(backend):
    result = simulate(N.LeakyIntegrate(readout="max_var"), 1, 10, {"Isyn": -0.5}, (),
                      backend=backend)
    assert result.readout[0, 0] == 0.0


# --- TV7, TV8: few-spike input ------------------------------------------------------------------
def few_spike_bits(result, k, lane=0, neuron=0, sign=None):
    bits = np.zeros(k, int)
    for step in spike_steps(result, lane, neuron, sign):
        bits[step % k] = 1
    return bits.tolist()


@pytest.mark.parametrize("precision", PRECISIONS)
def test_tv7_few_spike_input_unsigned(backend, precision):
    result = simulate(N.FewSpikeReluInput(k=4, alpha=1.0), 1, 4, {"Input": [0.6]},
                      ("V", "spikes"), backend=backend, precision=precision)
    assert few_spike_bits(result, 4) == [1, 0, 0, 1]
    np.testing.assert_allclose(result.vars["V"][:, 0, 0], [0.1, 0.1, 0.1, 0.0375], atol=1e-6)
    result = simulate(N.FewSpikeReluInput(k=8, alpha=1.0), 1, 8, {"Input": [0.3]},
                      ("V", "spikes"), backend=backend, precision=precision)
    bits = few_spike_bits(result, 8)
    assert bits == [0, 1, 0, 0, 1, 1, 0, 0]
    np.testing.assert_allclose(sum(b * 2.0 ** -(p + 1) for p, b in enumerate(bits)), 0.296875)
    np.testing.assert_allclose(result.vars["V"][-1, 0, 0], 0.003125, atol=1e-6)
    result = simulate(N.FewSpikeReluInput(k=4, alpha=1.0), 2, 4, {"Input": [1.7, -0.2]},
                      backend=backend, precision=precision)
    assert few_spike_bits(result, 4, neuron=0) == [1, 1, 1, 1]  # saturates at 0.9375
    assert few_spike_bits(result, 4, neuron=1) == [0, 0, 0, 0]
    result = simulate(N.FewSpikeReluInput(k=4, alpha=5.0), 1, 4, {"Input": [3.0]},
                      backend=backend, precision=precision)
    assert few_spike_bits(result, 4) == [1, 0, 0, 1]  # 2.5 + 0.3125 = 2.8125


@pytest.mark.parametrize("precision", PRECISIONS)
def test_tv8_few_spike_input_signed(backend, precision):
    neuron = N.FewSpikeReluInput(k=8, alpha=1.0, signed_input=True)
    result = simulate(neuron, 2, 8, {"Input": [-0.3, 0.3]}, backend=backend,
                      precision=precision)
    assert spike_steps(result, neuron=0) == [3]
    assert result.spikes.sign[result.spikes.neuron == 0].tolist() == [-1]  # decoded -0.25
    assert spike_steps(result, neuron=1) == [2]
    assert result.spikes.sign[result.spikes.neuron == 1].tolist() == [1]  # decoded 0.25
    result = simulate(N.FewSpikeReluInput(k=4, alpha=1.0, signed_input=True), 1, 4,
                      {"Input": [-0.6]}, backend=backend, precision=precision)
    assert spike_steps(result, sign=-1) == [1] and spike_steps(result, sign=1) == []


# --- TV9: few-spike chain -------------------------------------------------------------------
@pytest.mark.parametrize("precision", PRECISIONS)
def test_tv9_few_spike_chain(backend, precision):
    k = 4
    source = simulator(N.FewSpikeReluInput(k=k, alpha=1.0), 1, backend=backend,
                       precision=precision)
    spikes = np.zeros(3 * k)
    for window, x in enumerate([0.6, 0.3, 0.0]):
        result = source.run(k, {"Input": [x]}, ("spikes",))
        spikes[window * k + result.spikes.step] = 1.0
    isyn = np.zeros(3 * k)
    isyn[1:] = spikes[:-1]  # delta synapse, w = 1: a spike arrives one step later
    hidden = simulator(N.FewSpikeRelu(k=k, alpha=1.0, readout="var"), 1, backend=backend,
                       precision=precision)
    fx, fired = [], []
    for window in range(3):
        result = hidden.run(k, {"Isyn": isyn[window * k:(window + 1) * k, None, None]},
                            ("V", "spikes"))
        fx.append(float(result.readout[0, 0]))
        fired.append(result.spikes.step.tolist())
        if window == 1:
            np.testing.assert_allclose(result.vars["V"][0, 0, 0], 0.5625 - 0.5, atol=1e-7)
    np.testing.assert_allclose(fx[:2], [0.5, 0.25], atol=1e-7)
    assert fired == [[], [0, 3], [1]]


def test_tv9_decoding_weights():
    # d(p) for K = 4: the weight of the bit the source sent at phase p - 1
    k, phases = 4, np.arange(4)
    assert (2.0 ** -k * 2.0 ** ((k - phases) % k)).tolist() == [0.0625, 0.5, 0.25, 0.125]


# --- TV10: Poisson input --------------------------------------------------------------------
@pytest.mark.parametrize("rate, dt, probability", [
    (0.02, 1.0, 0.0198013), (0.1, 1.0, 0.0951626), (0.1, 0.1, 0.00995017), (1.0, 1.0, 0.632121),
])
def test_tv10_poisson_rate(backend, rate, dt, probability):
    np.testing.assert_allclose(1 - np.exp(-rate * dt), probability, rtol=1e-5)
    n, steps = 1000, 400
    result = simulate(N.PoissonInput(), n, steps, {"Input": np.full(n, rate)}, backend=backend,
                      dt=dt, seed=7)
    p = len(result.spikes) / (n * steps)
    sd = np.sqrt(probability * (1 - probability) / (n * steps))
    assert abs(p - probability) < 5 * sd


@pytest.mark.parametrize("precision", PRECISIONS)
def test_tv10_poisson_is_a_function_of_the_counter(backend, precision):
    if backend == "pygenn":
        pytest.skip("GeNN draws from its own generator: checked statistically above")
    n, steps, seed, rate = 50, 300, 11, 0.02
    result = simulate(N.PoissonInput(), n, steps, {"Input": np.full(n, rate)}, backend=backend,
                      precision=precision, seed=seed)
    u = eqsnn.rng.uniform(seed, np.arange(steps)[:, None], np.arange(n)[None, :], 0, 0,
                          dtype=np.dtype(precision))
    cut = np.exp(np.asarray(-rate, precision))
    np.testing.assert_allclose(np.exp(-0.02), 0.980199, atol=1e-6)
    expected = np.argwhere(u >= cut)
    got = np.stack([result.spikes.step, result.spikes.neuron], axis=1)
    np.testing.assert_array_equal(got, expected)
    again = simulate(N.PoissonInput(), n, steps, {"Input": np.full(n, rate)}, backend=backend,
                     precision=precision, seed=seed)
    np.testing.assert_array_equal(again.spikes.step, result.spikes.step)


# --- TV11: spike source array ----------------------------------------------------------------
@pytest.mark.parametrize("precision", PRECISIONS)
def test_tv11_spike_input_timing(backend, precision):
    spikes = N.preprocess_spikes([0.0, 0.5, 0.6, 3.0], [0, 0, 0, 0], 1)
    result = simulate(N.SpikeInput(), 1, 10, {"Input": [spikes]}, backend=backend,
                      precision=precision)
    assert spike_steps(result) == [0, 1, 2, 3]
    spikes = N.preprocess_spikes([0.25, 0.25, 0.3], [0, 0, 0], 1)
    result = simulate(N.SpikeInput(), 1, 10, {"Input": [spikes]}, backend=backend,
                      precision=precision, dt=0.1)
    assert spike_steps(result) == [3, 4, 5]


def test_tv11_spike_input_batching(backend):
    a = N.preprocess_spikes([5.0, 1.0, 2.0], [2, 0, 2], 3)
    assert a.end_spikes.tolist() == [1, 1, 3] and a.spike_times.tolist() == [1.0, 2.0, 5.0]
    b = N.preprocess_spikes([4.0], [1], 3)
    assert b.end_spikes.tolist() == [0, 1, 1]
    start, end, times = N.data.batch_spikes([a, b], num_neurons=3, batch_size=3,
                                            max_spikes=100)
    assert end.tolist() == [[1, 1, 3], [3, 4, 4], [4, 4, 4]]
    assert start.tolist() == [[0, 1, 1], [3, 3, 4], [4, 4, 4]]
    assert times.tolist() == [1.0, 2.0, 5.0, 4.0]
    result = simulate(N.SpikeInput(), 3, 10, {"Input": [a, b]}, backend=backend, batch_size=3)
    got = list(zip(result.spikes.step.tolist(), result.spikes.batch.tolist(),
                   result.spikes.neuron.tolist()))
    assert got == [(1, 0, 0), (2, 0, 2), (4, 1, 1), (5, 0, 2)]


# --- TV12: frames and float countdowns --------------------------------------------------------
def test_tv12_frames(backend):
    assert N.data.frame_index(8, 3, 2).tolist() == [0, 0, 1, 1, 2, 2, 2, 2]
    frames = np.array([[1.0], [-1.0], [2.0]])  # (frames, n): spikes only in frames 0 and 2
    neuron = N.BinarySpikeInput(input_frames=3, input_frame_timesteps=2)
    result = simulate(neuron, 1, 8, {"Input": frames}, backend=backend)
    assert spike_steps(result) == [0, 1, 4, 5, 6, 7]
    # dt = 0.1, 3 steps per frame: ml_genn's float32 t / (F_ts dt) picks frame 10 at step 33;
    # eqsnn uses the intended integer mapping step // 3
    n = np.arange(60)
    t = (n * np.float32(0.1)).astype(np.float32)
    floating = np.floor(t / (np.float32(3) * np.float32(0.1))).astype(int)
    assert floating[33] == 10 and (floating != n // 3).any()
    np.testing.assert_array_equal(N.data.frame_index(60, 30, 3), n // 3)
    neuron = N.IntegrateFireInput(v_thresh=1e9, input_frames=30, input_frame_timesteps=3)
    result = simulate(neuron, 1, 60, {"Input": 2.0 ** np.arange(30)[:, None]}, ("V",),
                      backend=backend, dt=0.1)
    increments = np.diff(result.vars["V"][:, 0, 0], prepend=0.0)
    np.testing.assert_array_equal(increments, 2.0 ** (n // 3))


@pytest.mark.parametrize("precision, tau_refrac, dt, blocked", [
    ("float32", 0.3, 0.1, 4), ("float64", 1.0, 0.1, 11), ("float64", 5.0, 0.1, 51),
])
def test_tv12_float_refractory_countdown(backend, precision, tau_refrac, dt, blocked):
    nominal = round(tau_refrac / dt)
    assert blocked == nominal + 1  # the float countdown adds a step
    neuron = N.LeakyIntegrateFire(tau_refrac=tau_refrac, relative_reset=False)
    result = simulate(neuron, 1, 3 * (blocked + 1) + 1, {"Isyn": 10.0}, backend=backend,
                      precision=precision, dt=dt)
    # "blocked" as the spec counts it: the steps from a spike to the earliest next one
    assert np.diff(spike_steps(result)).tolist() == [blocked] * 3


# --- the Simulator hook and the library ----------------------------------------------------------
def test_simulator_takes_a_stdlib_neuron_with_shape_and_batch():
    neuron = N.LeakyIntegrateFire(v="uniform", readout="spike_count")
    sim = eqsnn.Simulator(neuron, (2, 3), batch_size=4, seed=5)
    result = sim.run(20, {"Isyn": 0.2})
    assert result.readout.shape == (4, 2, 3)
    assert result.readout.dtype.kind == "i" and result.readout.sum() > 0
    initial = eqsnn.Simulator(neuron, (2, 3), batch_size=4, seed=5).state["V"]
    assert np.all((initial >= 0) & (initial < 1)) and np.unique(initial[0]).size == 6
    np.testing.assert_array_equal(initial[0], initial[3])  # the same in every lane
    other = eqsnn.Simulator(neuron, (2, 3), batch_size=4, seed=6).state["V"]
    assert not np.array_equal(initial, other)


def test_library_lists_and_names():
    from eqsnn.neurons import registry as library

    assert library.neuron_names() == sorted([
        "adaptive_leaky_integrate_fire", "binary_spike_input", "few_spike_relu",
        "few_spike_relu_input", "integrate_fire", "integrate_fire_input", "leaky_integrate",
        "leaky_integrate_fire", "leaky_integrate_fire_input", "poisson_input", "spike_input"])
    for name in library.neuron_names():
        neuron = library.get_neuron(name)
        assert neuron.eqs_name == name
        text, filename = library.neuron_source(name)
        assert filename.endswith(f"{name}.eqs")
        assert eqsnn.compile(text).name == type(neuron).__name__
    lif = N.LeakyIntegrateFire(v_thresh=2.0)
    copy = library.get_neuron(lif)
    assert copy is not lif and copy.v_thresh == 2.0


def test_cli_lists_and_shows_the_library(capsys):
    from eqsnn.tools.cli import main

    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert all(f"  {name}\n" in listing for name in N.NAMES)
    assert main(["show", "leaky_integrate_fire"]) == 0
    shown = capsys.readouterr().out
    assert "dV/dt = -V/tau_mem" in shown and "threshold: V >= v_thresh" in shown


def test_derive_all_covers_every_switch_combination():
    assert N.derive_all() == 53


def test_docs_pages_are_generated_from_the_eqs_files():
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("gen_stdlib", root / "docs" / "gen_stdlib.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for name, cls in N.NEURONS.items():
        page = gen.neuron_page(name, cls)
        assert page == (root / "docs" / "stdlib" / f"{name}.md").read_text(), \
            f"docs/stdlib/{name}.md is stale: run python docs/gen_stdlib.py"
        assert f"# {cls.__name__}" in page and "## Derived update" in page
    assert gen.index_page() == (root / "docs" / "stdlib" / "index.md").read_text()
    assert gen.readouts_page() == (root / "docs" / "stdlib" / "readouts.md").read_text()
