"""The numerical check sees a state a reset leaves bad at the step of that reset, in the
middle of a run as in its last step, on every backend: the reset runs after the step's
check, so the step's check would find it only one step later and blame the update."""

from __future__ import annotations

import numpy as np
import pytest
from test_check_network import BACKENDS, PYGENN
from test_check_paths import PATHS, drawn, simulator

import eqsnn
from eqsnn.errors import NumericalError
from eqsnn.network import Delta, Network

# V is reset to log(V - 1.5): NaN where V is below 1.5 when it spikes; the counter c
# leaves its bounds at the third spike of a neuron; a plain NumPy loop is the oracle
RESET_LOG = """
neuron ResetLog
    state n: int = 0
    state V = 0.0
    state c = 0.0 (< 3)
    input I = 0.0
    after:
        n += 1
        V += I
    threshold: V > 1
    reset:
        V = log(V - 1.5)
        c += 1
"""

REASON = "; the reset made it so, after the step's check, in that step\nhint: look at the reset"


def oracle(current: np.ndarray, shift: float = 1.5):
    """V and c after each step, by a plain loop over the model's statements."""
    steps, n = current.shape
    v, c = np.zeros(n), np.zeros(n)
    vs, cs = [], []
    for k in range(steps):
        v = v + current[k]
        spike = v > 1
        with np.errstate(invalid="ignore"):
            v = np.where(spike, np.log(v - shift), v)
        c = c + spike
        vs.append(v.copy())
        cs.append(c.copy())
    return np.array(vs), np.array(cs)


@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("every_step", [False, True], ids=["kept", "drawn"])
def test_a_reset_that_leaves_a_state_nan_mid_run_is_named_at_its_step(path, precision,
                                                                       every_step):
    current = np.zeros((8, 3))
    current[1, 2] = 3.0  # neuron 2: V = 3, reset to log(1.5): fine
    current[3, 1] = 1.2  # neuron 1: V = 1.2 spikes at step 3, reset to log(-0.3): NaN
    text = drawn(RESET_LOG) if every_step else RESET_LOG
    with simulator(path, text, 3, precision=precision) as sim:
        with pytest.raises(NumericalError) as caught:
            sim.run(8, inputs={"I": current[:, None]}, record=["c"])
        error = caught.value
        assert (error.state, error.step, error.lane, error.neuron, error.count) == (
            "V", 3, 0, 1, 1)
        assert error.cause == "reset"
        assert str(error).startswith(
            "V became NaN or infinite at step 3 (t = 3), lane 0, neuron 1" + REASON)
        assert "smaller dt" not in str(error)
        assert sim.step == 8  # the run went on; its Result comes with the error
        assert error.result.vars["c"][:, 0].tolist() == oracle(current)[1].tolist()
        assert np.isnan(sim.state["V"][0, 1]) and np.isfinite(sim.state["V"][0, [0, 2]]).all()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("every_step", [False, True], ids=["kept", "drawn"])
def test_a_reset_that_sets_a_counter_out_of_its_bounds_mid_run_is_named_at_its_step(
        path, every_step):
    current = np.zeros((9, 2, 4))
    current[:, 1, 3] = 3.0  # lane 1, neuron 3 spikes at every step: c = 3 at step 2
    current[4:, 0, 2] = 3.0  # lane 0, neuron 2 from step 4: c = 3 at step 6
    text = drawn(RESET_LOG) if every_step else RESET_LOG
    with simulator(path, text, 4, batch_size=2, precision="float64") as sim:
        with pytest.raises(NumericalError) as caught:
            sim.run(9, inputs={"I": current})
        error = caught.value
        assert (error.state, error.step, error.lane, error.neuron, error.count) == (
            "c", 2, 1, 3, 2)
        assert str(error).startswith(
            "c left its bounds (< 3) at step 2 (t = 2), lane 1, neuron 3 (and 1 other "
            "neuron-lane)" + REASON)
        assert sim.step == 9 and sim.state["c"][:, 2:].tolist() == [[5, 0], [0, 9]]
        # the record was cleared: the next run reports its own failure, found by the
        # step's check (c was out of its bounds before the step), not blamed on a reset
        with pytest.raises(NumericalError) as again:
            sim.run(1)
        assert (again.value.state, again.value.step, again.value.lane,
                again.value.neuron) == ("c", 9, 0, 2)
        assert "already out of its bounds" in str(again.value)
        assert "the reset made it so" not in str(again.value)
        assert (error.cause, again.value.cause) == ("reset", "update")


@pytest.mark.parametrize("path", PATHS)
def test_a_good_run_with_resets_is_the_same_with_and_without_the_check(path):
    rng = np.random.default_rng(5)
    current = rng.choice([0.0, 0.6, 2.0], size=(40, 50), p=[0.5, 0.3, 0.2])
    runs = []
    for check in (True, False):
        text = RESET_LOG.replace("(< 3)", "(< 100)").replace("V - 1.5", "V - 0.5")
        with simulator(path, text, 50, precision="float64", check=check) as sim:
            result = sim.run(40, inputs={"I": current[:, None]}, record=["V", "c"])
            runs.append((result.vars["V"][:, 0], result.vars["c"][:, 0]))
    v, c = oracle(current, 0.5)
    assert np.isfinite(v).all() and c.max() >= 3  # resets happen, none goes bad
    for got_v, got_c in runs:
        np.testing.assert_allclose(got_v, v, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(got_c, c)


@pytest.mark.parametrize("backend", [*BACKENDS, PYGENN])
def test_a_reset_that_leaves_a_state_bad_mid_network_run_is_named_at_its_step(backend):
    model = eqsnn.compile("""
neuron Bounded
    state V = 0.0 (> -10, < 10)
    input Isyn = 0.0
    after: V += Isyn
    threshold: V >= 1
    reset: V = -20.0 * (V - 1)
""")
    for fuse in ([True, False] if backend != "pygenn" else [None]):
        net = Network(dt=1.0, precision="float64", backend=backend)
        if fuse is not None:
            net._fuse = fuse
        src = net.add_spike_source("s", 1, steps=[1, 3], neurons=[0, 0])
        net.add_population("a", model, 3)
        # neuron 1: V = 1.2 at step 2, reset to -4; neuron 2: V = 1.9 at step 4, reset to -18
        net.connect(src, "a", Delta(), weight=[[0, 1.2, 0.95]], delay=1)
        with pytest.raises(NumericalError) as caught:
            net.run(8, record={"a": ["V"]})
        error = caught.value
        assert (error.population, error.state, error.step, error.neuron) == ("a", "V", 4, 2)
        assert str(error).startswith(
            "population 'a': V left its bounds (> -10, < 10) at step 4 (t = 4), lane 0, "
            "neuron 2" + REASON)
        np.testing.assert_allclose(error.result["a"].vars["V"][:, 0, 2],
                                   [0, 0, 0.95, 0.95, -18, -18, -18, -18])
        assert net.step == 8


NEGATIVE = """
neuron Negative
    state V = 0.0
    state w = 0.0 (> -5)
    input I = 0.0
    after: V += I
    threshold: V > 1
    reset: V = 0.0
    negative threshold: V < -1
    negative reset:
        V = 0.0
        w -= 3
"""


@pytest.mark.parametrize("path", PATHS)
def test_a_negative_reset_that_sets_a_state_out_of_its_bounds_is_named_at_its_step(path):
    current = np.zeros((8, 1, 3))
    current[[1, 3], 0, 1] = -2.0  # neuron 1: w = -3 at step 1, -6 at step 3
    with simulator(path, NEGATIVE, 3, precision="float32") as sim:
        with pytest.raises(NumericalError) as caught:
            sim.run(8, inputs={"I": current})
    assert (caught.value.state, caught.value.step, caught.value.neuron) == ("w", 3, 1)
    assert str(caught.value).startswith(
        "w left its bounds (> -5) at step 3 (t = 3), lane 0, neuron 1" + REASON)


def _many(count: int) -> str:
    """``count`` float states: more than 31 do not fit the c backend's failure code in the
    spike flags, where the check's own statements record it (in the reset too)."""
    lines = ["neuron Many", "    state n: int = 0"]
    lines += [f"    state s{k} = 0.0" for k in range(count)]
    lines += ["    input I = 0.0", "    after:", "        n += 1", "        s0 += I",
              "    threshold: s0 > 1", "    reset:", f"        s{count - 1} = log(s0 - 1.5)",
              "        s0 = 0.0"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("count", [3, 33])
@pytest.mark.parametrize("path", PATHS)
def test_a_reset_in_a_model_of_many_states_is_named_at_its_step(path, count):
    current = np.zeros((8, 1, 2))
    current[4, 0, 1] = 1.2  # neuron 1 spikes at step 4: log(-0.3)
    with simulator(path, _many(count), 2, precision="float64") as sim:
        with pytest.raises(NumericalError) as caught:
            sim.run(8, inputs={"I": current})
        if path in ("c", "c-fast"):  # the step function records it itself, or returns it
            function = sim.source.text.split("eqsnn_neuron_step(")[1].split("\n}\n")[0]
            assert ("check_step" in function) == (count > 31)
    assert (caught.value.state, caught.value.step, caught.value.neuron) == (
        f"s{count - 1}", 4, 1)
    assert REASON in str(caught.value)
