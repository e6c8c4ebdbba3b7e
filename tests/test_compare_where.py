"""eqsnn.compare says where and by how much backends differ, checked against NumPy oracles
computed here from the raw results (a perturbed backend plants each disagreement)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import eqsnn
from eqsnn.backends import REGISTRY


@pytest.fixture
def perturbed(monkeypatch):
    import perturbed_backend

    monkeypatch.setitem(REGISTRY, "perturbed", "perturbed_backend")
    return perturbed_backend.PERTURB


def lif():
    return eqsnn.load("examples/lif_pulse.eqs")


def _first_bad(values, reference, rtol, atol):
    """The plain oracle: the first (step, lane, flat neuron) outside the tolerance."""
    values = values.reshape(len(values), values.shape[1], -1).astype(np.float64)
    reference = reference.reshape(values.shape).astype(np.float64)
    for step in range(len(values)):
        for lane in range(values.shape[1]):
            for neuron in range(values.shape[2]):
                a, b = values[step, lane, neuron], reference[step, lane, neuron]
                if np.isnan(a) and np.isnan(b) or a == b:
                    continue
                if not (abs(a - b) <= atol + rtol * abs(b)):
                    return step, lane, neuron, a, b
    return None


@pytest.mark.parametrize("shape", [6, (2, 3)])
def test_the_first_divergence_names_its_step_time_lane_neuron_and_values(monkeypatch, shape):
    """One neuron of one lane of a 2-D population differs, and only from a late step."""
    monkeypatch.setitem(REGISTRY, "perturbed", "perturbed_backend")
    import perturbed_backend

    dims = shape if isinstance(shape, tuple) else (shape,)
    factor = np.ones(6)
    factor[4] = 1 + 1e-9  # neuron 4's leak, a little off on the perturbed backend
    monkeypatch.setattr(perturbed_backend, "PERTURB",
                        {"name": "_phi_V", "factor": factor})
    drive = np.zeros((50, 2, 6))
    drive[36:, 1, 4] = 0.3  # V stays 0 (so equal) until neuron 4 of lane 1 is driven
    comparison = eqsnn.compare(lif(), ["numpy", "perturbed"], n=shape, steps=50, dt=0.5,
                               batch_size=2, inputs={"Isyn": drive.reshape((50, 2) + dims)},
                               params={"tau_mem": np.full(dims, 20.0)}, rtol=0.0, atol=0.0)
    report = comparison.report("perturbed")
    (v,) = report.variables
    mine = comparison.results["perturbed"].vars["V"]
    ref = comparison.results["numpy"].vars["V"]
    step, lane, neuron, value, expected = _first_bad(mine, ref, 0.0, 0.0)
    assert (step, lane) == (37, 1) and neuron == 4
    index = 4 if shape == 6 else (1, 1)
    assert (v.first_divergence, v.first_lane, v.first_neuron) == (step, lane, index)
    assert v.first_time == (step + 1) * 0.5  # the state at the end of the step, in ms
    assert (v.first_value, v.first_reference) == (value, expected)
    text = str(comparison)
    where = "neuron 4" if shape == 6 else "neuron (1, 1)"
    assert (f"V first differs at step 37 (t = 19 ms), lane 1, {where}: {float(value)!r} vs "
            f"{float(expected)!r} (numpy)") in text, text


def test_a_float32_backend_that_never_spikes_does_not_agree(perturbed, monkeypatch):
    """In float32 a spike may move by a step; a backend without any spike used to agree,
    its traces being compared only up to the first (missing) spike."""
    monkeypatch.setitem(perturbed, "name", "v_thresh")
    monkeypatch.setitem(perturbed, "factor", 1e9)
    comparison = eqsnn.compare(lif(), ["numpy", "perturbed"], n=3, steps=60,
                               precision="float32")
    report = comparison.report("perturbed")
    reference = comparison.results["numpy"].spikes
    assert len(comparison.results["perturbed"].spikes) == 0 and len(reference) > 0
    assert report.status == "differs" and not comparison.ok
    first = int(reference.step.min())
    assert report.first_spike_difference == first
    assert (report.first_spike_lane, report.first_spike_neuron) == (0, 0)
    text = str(comparison)
    assert (f"spikes first differ at step {first} (t = {first} ms), lane 0, neuron 0: numpy "
            "spikes, perturbed does not (not a one-step shift)") in text, text
    # the traces agree, but only up to the first spike: the row says so
    assert f"V: abs 0.00e+00 rel 0.00e+00 (over the first {first} steps)" in text


def test_a_one_step_spike_shift_in_float32_is_tolerated_per_neuron(perturbed, monkeypatch):
    """A rounding difference that moves one neuron's spike by one step leaves that neuron's
    later trace out of the comparison, not every other neuron's."""
    import perturbed_backend

    factor = np.ones(3)
    factor[1] = 1 + 1e-4  # neuron 1 leaks a little less: its first spike comes a step early
    monkeypatch.setattr(perturbed_backend, "PERTURB", {"name": "_phi_V", "factor": factor})
    comparison = eqsnn.compare(lif(), ["numpy", "perturbed"], n=3, steps=200,
                               precision="float32", rtol=1e-2, atol=1e-2,
                               params={"tau_mem": [20.0, 20.0, 20.0]},
                               inputs={"Isyn": 0.0505})
    report = comparison.report("perturbed")
    mine = comparison.results["perturbed"].spikes
    ref = comparison.results["numpy"].spikes
    mine_steps = mine.step[mine.neuron == 1]
    ref_steps = ref.step[ref.neuron == 1]
    differ = sorted(set(mine_steps.tolist()) ^ set(ref_steps.tolist()))
    assert differ and abs(differ[0] - differ[1]) == 1  # the planted one-step shift
    assert report.first_spike_difference == differ[0] and report.first_spike_neuron == 1
    assert report.status == "ok", str(comparison)
    assert "one-step shift" in str(comparison)
    # neurons 0 and 2 are compared over the whole run
    assert report.variables[0].compared_steps == 200


def test_nan_on_one_side_is_located(perturbed, monkeypatch):
    from eqsnn.tools.comparison import _variable_diff

    reference = np.zeros((5, 2, 3))
    values = reference.copy()
    values[3, 1, 2] = np.nan
    values[4, 0, 0] = 1.0
    d = _variable_diff("V", values, reference, 0.0, 0.0, None)
    assert (d.first_divergence, d.first_lane, d.first_neuron) == (3, 1, 2)
    assert np.isnan(d.first_value) and d.first_reference == 0.0
    both = _variable_diff("V", reference + np.nan, reference + np.nan, 0.0, 0.0, None)
    assert both.first_divergence is None and both.first_lane is None


@pytest.mark.parametrize("value, reference, rel", [
    (-1e308, 1e308, np.inf),  # an inf apart: no overflow warning, an infinite error
    (1e308, np.inf, np.inf),  # an inf reference: the relative error is inf, not nan
    (-np.inf, np.inf, np.inf),
    (0.0, 1e-320, 1.0),  # a subnormal reference: |0 - r| / |r| is 1
    (2.0, 1.0, 1.0),
])
def test_huge_infinite_and_subnormal_values_have_a_finite_or_infinite_error(
        value, reference, rel):
    import warnings

    from eqsnn.tools.comparison import _variable_diff

    ref = np.full((2, 1, 1), reference)
    values = ref.copy()
    values[1] = value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = _variable_diff("V", values, ref, 0.0, 0.0, None)
    oracle_abs = abs(np.float64(value) - np.float64(reference)) if np.isfinite(
        value - reference) else np.inf
    assert d.first_divergence == 1 and d.max_abs == oracle_abs
    assert d.max_rel == pytest.approx(rel)


@pytest.mark.parametrize("what", ["result", "comparison"])
def test_plotting_without_matplotlib_is_an_eqsnn_error_naming_the_extra(monkeypatch, what):
    """Result.plot raised a bare ImportError; both plots now raise an EqsnnError that is
    also an ImportError (as before, for code that catches that)."""
    import sys

    from eqsnn.errors import EqsnnError

    comparison = eqsnn.compare(lif(), ["numpy"], n=2, steps=5)
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)
    target = comparison.results["numpy"] if what == "result" else comparison
    with pytest.raises(EqsnnError, match="needs matplotlib") as info:
        target.plot()
    assert isinstance(info.value, ImportError)
    assert info.value.hint == "pip install eqsnn[plot]"


def test_comparison_plot_of_a_2d_population_draws_the_neuron_asked_for(tmp_path):
    pytest.importorskip("matplotlib")
    from eqsnn.errors import ParameterError

    drive = np.arange(6.0).reshape(2, 3) / 40
    comparison = eqsnn.compare(lif(), ["numpy"], n=(2, 3), steps=20, batch_size=2,
                               inputs={"Isyn": drive})
    figure = comparison.plot(tmp_path / "c.png", neuron=(1, 2), lane=1)
    trace = figure.axes[0].lines[0].get_ydata()
    # over time in ms, a state at the end of its step (dt = 1 here: step k ends at k + 1)
    np.testing.assert_array_equal(figure.axes[0].lines[0].get_xdata(), np.arange(1, 21))
    np.testing.assert_array_equal(trace, comparison.results["numpy"].vars["V"][:, 1, 1, 2])
    same = comparison.plot(neuron=5, lane=1)  # the flat id of (1, 2)
    np.testing.assert_array_equal(same.axes[0].lines[0].get_ydata(), trace)
    for bad, match in [({"neuron": 6}, r"neuron must be a flat id in 0..5 or an index "
                                        r"into \(2, 3\), not 6"),
                       ({"neuron": (2, 0)}, r"not \(2, 0\)"),
                       ({"lane": 2}, r"lane must be an int in 0..1, not 2")]:
        with pytest.raises(ParameterError, match=match):
            comparison.plot(**bad)


LEAK = '''
neuron Leak
    param tau = 10.0 (> 0)
    state V = 1.0
    dV/dt = -V / tau
'''


def test_a_model_without_threshold_is_compared_on_its_states(perturbed, monkeypatch):
    """compare() always recorded spikes, so a model without a threshold was refused."""
    monkeypatch.setitem(perturbed, "name", "_phi_V")
    comparison = eqsnn.compare(eqsnn.compile(LEAK), ["numpy", "perturbed"], n=2, steps=10,
                               rtol=0.0, atol=0.0)
    report = comparison.report("perturbed")
    assert report.status == "differs" and report.variables[0].first_divergence == 0
    assert report.first_spike_difference is None and comparison.results["numpy"].spikes is None
    assert "spikes first differ" not in str(comparison)
    assert eqsnn.compare(eqsnn.compile(LEAK), ["numpy"], n=2, steps=10).ok
    if importlib.util.find_spec("matplotlib"):
        figure = comparison.plot()
        np.testing.assert_array_equal(figure.axes[0].lines[0].get_ydata(),
                                      comparison.results["numpy"].vars["V"][:, 0, 0])


def test_spikes_in_record_are_compared_as_always(perturbed, monkeypatch):
    """record=['V', 'spikes'] failed with a KeyError: spikes are always compared."""
    monkeypatch.setitem(perturbed, "factor", 1.0)
    comparison = eqsnn.compare(lif(), ["numpy", "perturbed"], n=2, steps=30,
                               record=["V", "spikes"])
    report = comparison.report("perturbed")
    assert [v.name for v in report.variables] == ["V"] and report.status == "ok"
    assert report.spike_counts[0] == len(comparison.results["numpy"].spikes) > 0


def test_record_with_chosen_neurons_is_refused_not_ignored():
    from eqsnn.errors import ParameterError

    with pytest.raises(ParameterError, match=r"compare records whole states") as info:
        eqsnn.compare(lif(), ["numpy"], n=3, steps=5, record={"V": [0]})
    assert info.value.hint == "record=['V']; every neuron is compared"


def test_the_command_line_prints_where_the_backends_differ(perturbed, capsys):
    from eqsnn.tools.cli import main

    assert main(["compare", "examples/lif_pulse.eqs", "--backends", "numpy,perturbed",
                 "--steps", "40", "--tolerance", "1e-9"]) == 1
    out = capsys.readouterr().out
    comparison = eqsnn.compare(lif(), ["numpy", "perturbed"], n=10, steps=40,
                               rtol=1e-9, atol=1e-9)
    v = comparison.report("perturbed").variables[0]
    step, lane, neuron, value, expected = _first_bad(
        comparison.results["perturbed"].vars["V"], comparison.results["numpy"].vars["V"],
        1e-9, 1e-9)
    assert (v.first_divergence, v.first_lane, v.first_neuron) == (step, lane, neuron)
    assert (f"perturbed: V first differs at step {step} (t = {step + 1} ms), lane {lane}, "
            f"neuron {neuron}: {float(value)!r} vs {float(expected)!r} (numpy)") in out, out


def test_the_table_columns_line_up_for_long_backend_names(perturbed):
    comparison = eqsnn.compare(lif(), ["numpy", "perturbed"], n=2, steps=20)
    rows = str(comparison).splitlines()[1:4]
    assert len({row.index(" ", len("perturbed")) for row in rows}) == 1, rows
    assert {row.find("status") for row in rows[:1]} == {rows[2].find("differs")}


def test_to_json_is_strict_json_with_nan_and_inf_spelled_out():
    """json.dumps wrote NaN and Infinity (a skipped backend's times, an infinite error),
    which strict parsers (jq, JavaScript, json.loads with parse_constant) refuse."""
    import dataclasses
    import json

    from eqsnn.tools.comparison import BackendReport, _variable_diff

    comparison = eqsnn.compare(lif(), ["numpy"], n=2, steps=20)
    reference = np.zeros((2, 1, 1))
    values = reference.copy()
    values[1] = np.inf
    blown = BackendReport("blown", "differs", variables=[
        _variable_diff("V", values, reference, 0.0, 0.0, None)])
    skipped = BackendReport("gpu", "skipped", "no GPU")
    comparison = dataclasses.replace(comparison, reports=comparison.reports + [blown, skipped])

    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    data = json.loads(comparison.to_json(), parse_constant=refuse)
    blown_data, skipped_data = data["reports"][1:]
    assert skipped_data["compile_seconds"] == "nan"
    assert blown_data["variables"][0]["max_abs"] == "inf"
    assert blown_data["variables"][0]["first_value"] == "inf"
    assert data["reports"][0]["spikes_same_share"] == 1.0  # finite numbers stay numbers


def test_an_int_and_a_bool_state_report_their_values_as_ints():
    from eqsnn.tools.comparison import _variable_diff

    reference = np.zeros((3, 2, 2), np.int32)
    values = reference.copy()
    values[2, 1, 0] = 7
    d = _variable_diff("count", values, reference, 0.0, 0.0, None)
    assert (d.first_divergence, d.first_lane, d.first_neuron) == (2, 1, 0)
    assert (d.first_value, d.first_reference) == (7, 0) and type(d.first_value) is int
    flags = np.zeros((3, 1, 2), bool)
    other = flags.copy()
    other[1, 0, 1] = True
    d = _variable_diff("fired", other, flags, 0.0, 0.0, None)
    assert (d.first_divergence, d.first_neuron, d.first_value, d.first_reference) == (
        1, 1, 1, 0)


def test_the_first_spike_difference_of_one_lane_of_a_2d_population(monkeypatch):
    """Only lane 1 is driven, only neuron (1, 1) leaks differently: the report names that
    lane and neuron, the step and time of the oracle's first differing spike, and who fired."""
    import perturbed_backend

    monkeypatch.setitem(REGISTRY, "perturbed", "perturbed_backend")
    factor = np.ones(6)
    factor[4] = 1 + 1e-2
    monkeypatch.setattr(perturbed_backend, "PERTURB", {"name": "_phi_V", "factor": factor})
    drive = np.zeros((2, 2, 3))
    drive[1] = 0.06
    comparison = eqsnn.compare(lif(), ["numpy", "perturbed"], n=(2, 3), steps=120, dt=0.25,
                               batch_size=2, inputs={"Isyn": drive},
                               params={"tau_mem": np.full((2, 3), 20.0)})
    report = comparison.report("perturbed")
    mine, ref = comparison.results["perturbed"].spikes, comparison.results["numpy"].spikes

    def triples(spikes):
        return set(zip(spikes.step.tolist(), spikes.batch.tolist(), spikes.neuron.tolist()))

    step, lane, neuron = min(triples(mine) ^ triples(ref))
    assert (lane, neuron) == (1, 4)
    assert (report.first_spike_difference, report.first_spike_lane,
            report.first_spike_neuron) == (step, 1, (1, 1))
    assert report.first_spike_time == step * 0.25
    by = "perturbed" if (step, lane, neuron) in triples(mine) else "numpy"
    assert report.first_spike_by == by and report.status == "differs"
    other = "numpy" if by == "perturbed" else "perturbed"
    assert (f"perturbed: spikes first differ at step {step} (t = {step * 0.25:g} ms), lane 1, "
            f"neuron (1, 1): {by} spikes, {other} does not") in str(comparison)


def test_a_spike_of_the_other_sign_is_not_the_same_spike():
    from eqsnn.tools.comparison_where import same_spike_share

    def flags(sign):  # one spike: step 3, lane 0, neuron 2
        out = np.zeros((5, 1, 4), np.int8)
        out[3, 0, 2] = sign
        return out

    assert same_spike_share(flags(1), flags(-1)) == 0.0
    assert same_spike_share(flags(1), flags(1)) == 1.0
    assert same_spike_share(flags(-1), flags(-1)) == 1.0
    assert same_spike_share(flags(0), flags(0)) == 1.0  # neither spikes: the same


def test_asking_for_a_backend_not_compared_names_those_that_were():
    from eqsnn.errors import EqsnnError

    comparison = eqsnn.compare(lif(), ["numpy"], n=2, steps=5)
    with pytest.raises(EqsnnError, match="no backend 'c' in this comparison") as info:
        comparison.report("c")
    assert info.value.hint == "its backends: numpy"


def test_comparison_plot_leaves_the_matplotlib_backend_and_pyplot_alone(tmp_path):
    """It called matplotlib.use('Agg') and made the figure through pyplot: in Jupyter the
    inline backend was switched off, and every figure stayed open in pyplot."""
    matplotlib = pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    comparison = eqsnn.compare(lif(), ["numpy"], n=2, steps=10)
    backend, open_figures = matplotlib.get_backend(), plt.get_fignums()
    with matplotlib.rc_context({"backend": "svg"}):  # a backend other than Agg
        plt.switch_backend("svg")
        figure = comparison.plot()
        assert matplotlib.get_backend() == "svg"
    plt.switch_backend(backend)
    assert isinstance(figure, Figure) and plt.get_fignums() == open_figures
    comparison.plot(tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_float32_values_are_printed_with_float32_digits(perturbed, monkeypatch):
    monkeypatch.setitem(perturbed, "factor", 1.01)
    comparison = eqsnn.compare(lif(), ["numpy", "perturbed"], n=1, steps=10,
                               precision="float32", rtol=0.0, atol=0.0)
    v = comparison.report("perturbed").variables[0]
    mine = comparison.results["perturbed"].vars["V"][v.first_divergence, 0, 0]
    ref = comparison.results["numpy"].vars["V"][v.first_divergence, 0, 0]
    assert mine.dtype == np.float32 and mine != ref
    assert f"neuron 0: {str(mine)} vs {str(ref)} (numpy)" in str(comparison), str(comparison)
    assert len(str(mine)) < len(repr(float(mine)))  # float32 digits, not float64 ones
    assert (v.first_value, v.first_reference) == (float(mine), float(ref))  # exact values
