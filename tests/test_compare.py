"""eqsnn.compare: agreement, a planted disagreement, unavailable backends, the CLI."""

from __future__ import annotations

import json
import math
import shutil

import helpers
import numpy as np
import pytest

import eqsnn
from eqsnn.backends import REGISTRY
from eqsnn.errors import EqsnnError
from eqsnn.tools.cli import main


@pytest.fixture
def perturbed(monkeypatch):
    monkeypatch.setitem(REGISTRY, "perturbed", "perturbed_backend")
    return "perturbed"


def lif():
    return eqsnn.load("examples/lif_pulse.eqs")


def test_identical_backends_agree():
    comparison = eqsnn.compare(lif(), ["numpy"], n=5, steps=80)
    assert comparison.ok
    report = comparison.report("numpy")
    assert report.status == "ok" and report.spikes_same_share == 1.0


@pytest.mark.c
def test_c_backend_agrees_in_float64():
    comparison = eqsnn.compare(lif(), ["numpy", "c"], n=5, steps=100)
    report = comparison.report("c")
    assert report.status == "ok", str(comparison)
    assert report.variables[0].max_abs <= 1e-12
    assert report.spikes_same_share == 1.0 and report.first_spike_difference is None


def test_planted_disagreement_is_flagged_at_the_right_step(perturbed):
    comparison = eqsnn.compare(lif(), ["numpy", perturbed], n=3, steps=60, inputs={"Isyn": 0.1})
    report = comparison.report(perturbed)
    assert not comparison.ok and report.status == "differs"
    (v,) = report.variables
    # the same recursion by hand: V <- alpha V + I, relative reset at 1
    alpha = math.exp(-1 / 20)
    ref, bad, first, largest = 0.0, 0.0, None, 0.0
    for step in range(60):
        ref, bad = alpha * ref + 0.1, alpha * (1 + 1e-6) * bad + 0.1
        largest = max(largest, abs(bad - ref))
        if first is None and abs(bad - ref) > 1e-9 + 1e-9 * abs(ref):
            first = step
        ref, bad = (ref - 1 if ref >= 1 else ref), (bad - 1 if bad >= 1 else bad)
    assert v.first_divergence == first == 1
    assert v.max_abs == pytest.approx(largest, rel=1e-6)
    assert "from step 1" in str(comparison) and "DIFFER" in str(comparison)


def test_unavailable_backends_are_skipped_with_the_reason():
    comparison = eqsnn.compare(lif(), ["numpy", "cupy"], n=3, steps=10)
    report = comparison.report("cupy")
    try:
        import cupy  # noqa: F401

        pytest.skip("cupy is installed here")
    except ImportError:
        pass
    assert report.status == "skipped" and report.reason
    assert comparison.ok
    assert "skipped" in str(comparison)


def test_float32_traces_are_compared_until_the_first_spike_difference(perturbed,
                                                                      monkeypatch):
    # a perturbation big enough to move a spike: traces after it are not compared
    import perturbed_backend

    monkeypatch.setitem(perturbed_backend.PERTURB, "factor", 1.02)
    comparison = eqsnn.compare(lif(), ["numpy", perturbed], n=2, steps=60,
                               precision="float32", rtol=1.0, atol=1.0)
    report = comparison.report(perturbed)
    assert report.first_spike_difference is not None
    assert report.variables[0].compared_steps == report.first_spike_difference
    assert report.spikes_same_share < 1.0


def test_comparison_converts_to_json_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    comparison = eqsnn.compare(lif(), ["numpy"], n=3, steps=30)
    data = json.loads(comparison.to_json())
    assert data["ok"] is True and data["reports"][0]["backend"] == "numpy"
    comparison.plot(tmp_path / "cmp.png")
    assert (tmp_path / "cmp.png").stat().st_size > 1000


def test_unknown_backend_is_an_error():
    with pytest.raises(EqsnnError, match="unknown backend 'fortran'"):
        eqsnn.compare(lif(), ["fortran"])


def test_no_backends_is_an_error():
    """An empty list ran the reference alone, which always agreed."""
    with pytest.raises(EqsnnError, match="no backends given"):
        eqsnn.compare(lif(), [])


def test_cli_exit_code_follows_the_verdict(perturbed, capsys):
    assert main(["compare", "examples/lif_pulse.eqs", "--backends", "numpy",
                 "--steps", "40"]) == 0
    assert main(["compare", "examples/lif_pulse.eqs", "--backends", f"numpy,{perturbed}",
                 "--steps", "40", "--tolerance", "1e-9"]) == 1
    out = capsys.readouterr().out
    assert "DIFFER" in out and "perturbed" in out


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_inputs_and_params_reach_every_backend():
    model = eqsnn.load("examples/lif_held.eqs")
    drive = np.linspace(10, 30, 50)[:, None, None] * np.ones((1, 1, 4))
    comparison = eqsnn.compare(model, ["numpy", "c"], n=4, steps=50, dt=0.5,
                               inputs={"I": drive}, params={"tau_mem": [10, 20, 30, 40]})
    assert comparison.ok, str(comparison)
    assert comparison.results["c"].vars["V"].shape == (50, 1, 4)


def test_an_ir_model_has_its_float_states_compared(perturbed):
    """compare() takes an ir.Model as it takes an eqsnn.Model: the planted disagreement shows
    in V (an ir.Model used to be compared on spikes alone)."""
    comparison = eqsnn.compare(lif().ir, ["numpy", perturbed], n=3, steps=60,
                               inputs={"Isyn": 0.1})
    report = comparison.report(perturbed)
    assert [v.name for v in report.variables] == ["V"]
    assert report.status == "differs" and report.variables[0].first_divergence == 1


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_fast_math_runs_the_compared_backends_with_it_and_not_the_reference(monkeypatch):
    seen = helpers.simulators_made(monkeypatch)
    comparison = eqsnn.compare(eqsnn.load("examples/hh.eqs"), ["numpy", "c"], n=5, steps=200,
                               dt=0.025, precision="float32", fast_math=True)
    assert seen == [("numpy", False), ("c", True)]
    assert "reference numpy (the others with fast_math)" in str(comparison)
    assert comparison.to_dict()["fast_math"] is True
    # float32 functions and contracted multiply-adds: close to the reference, not equal in
    # general; within float32 rounding amplified over 200 steps of a spike upstroke
    assert all(v.max_rel < 1e-2 for v in comparison.report("c").variables), str(comparison)
    with pytest.raises(EqsnnError, match="fast_math must be True or False, not 'yes'") as info:
        eqsnn.compare(lif(), ["numpy"], fast_math="yes")
    assert info.value.hint == "pass fast_math=True or fast_math=False"


def test_identical_nan_and_inf_traces_count_as_equal(perturbed):
    from eqsnn.tools.comparison import _variable_diff

    reference = np.array([[1.0, np.nan, np.inf], [2.0, -np.inf, np.nan]])
    same = _variable_diff("V", reference.copy(), reference, 1e-9, 1e-9, None)
    assert (same.max_abs, same.max_rel, same.first_divergence) == (0.0, 0.0, None)
    other = reference.copy()
    other[1, 1] = 0.0
    differs = _variable_diff("V", other, reference, 1e-9, 1e-9, None)
    assert differs.max_abs == math.inf and differs.first_divergence == 1


@pytest.mark.parametrize("steps", [0, -3, 2.5, True, "100"])
def test_a_comparison_of_no_steps_is_refused(steps):
    """0 steps would compare nothing and always agree."""
    with pytest.raises(EqsnnError, match="steps must be a positive integer, not"):
        eqsnn.compare(eqsnn.load("examples/lif_pulse.eqs"), ["numpy"], steps=steps)


def test_the_cli_refuses_to_compare_no_steps(capsys):
    code = main(["compare", "examples/lif_pulse.eqs", "--backends", "numpy", "--steps", "0"])
    assert code != 0
    assert "--steps must be at least 1, not 0" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "compare", "bench"])
@pytest.mark.parametrize("steps", ["0", "-2"])
def test_run_compare_and_bench_refuse_no_steps_alike(capsys, command, steps):
    """The three commands once said it three ways (one of them without the flag's name)."""
    code = main([command, "examples/lif_pulse.eqs", "--backends", "numpy", "--steps", steps]
                if command != "run" else [command, "examples/lif_pulse.eqs", "--steps", steps])
    err = capsys.readouterr().err
    assert code == 1
    assert f"--steps must be at least 1, not {steps}" in err
    assert f"hint: eqsnn {command} ... --steps 100" in err


def test_a_reference_run_that_fails_is_named_with_the_steps_that_can_be_compared():
    """dV/dt = V²/tau blows up near t = tau: the reference's NumericalError said nothing of
    being the reference's, nor how to compare the steps before it."""
    import warnings

    from eqsnn.errors import NumericalError

    model = eqsnn.compile("neuron Blow\n    param tau = 10.0 (> 0)\n    state V = 1.0\n"
                          "    dV/dt = V * V / tau\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", eqsnn.EqsnnWarning)  # the substep bound
        with pytest.raises(NumericalError) as caught:
            eqsnn.compare(model, ["numpy"], n=2, steps=50)
    error = caught.value
    assert str(error).startswith("the reference backend numpy: V became NaN or infinite at "
                                 f"step {error.step}")
    assert error.step == 10  # V = 1 / (1 - t / tau): infinite at t = 10
    assert f"steps={error.step} (--steps {error.step} on the command line)" in error.hint
    comparison = eqsnn.compare(model, ["numpy"], n=2, steps=error.step)
    assert comparison.ok
