"""``eqsnn.benchmark`` and ``eqsnn bench``: rows, skipped backends, ratios, and bad input.

No test asserts a speed (timings vary); they check that what is reported is
consistent: every backend and size has a row, the speed-up is the ratio of
the reported times, skipped backends say why, and mistakes raise before
anything is timed.
"""

from __future__ import annotations

import json
import math

import helpers
import pytest

import eqsnn
from eqsnn.errors import EqsnnError, ParameterError
from eqsnn.tools import benchmarking
from eqsnn.tools.cli import main


@pytest.mark.c
def test_rows_for_every_backend_and_size_with_consistent_ratios():
    report = eqsnn.benchmark(helpers.lif_refractory(), ["numpy", "c", "cupy"],
                             sizes=(64, 200), steps=30, repeats=2, inputs={"Isyn": 0.4},
                             record_spikes=True)
    assert [(r.backend, r.n) for r in report.rows] == [
        ("numpy", 64), ("c", 64), ("cupy", 64), ("numpy", 200), ("c", 200), ("cupy", 200)]
    assert report.reference == "numpy"
    for n in (64, 200):
        numpy_row, c_row = report.row("numpy", n), report.row("c", n)
        assert numpy_row.status == c_row.status == "ok"
        assert c_row.step_us > 0 and c_row.setup_s >= 0
        assert report.speedup("c", n) == pytest.approx(numpy_row.step_us / c_row.step_us)
        assert report.speedup("numpy", n) == 1.0
        assert c_row.neuron_steps_per_s == pytest.approx(n / (c_row.step_us * 1e-6))
        assert c_row.spikes == numpy_row.spikes > 0  # the same model, the same spikes
    cupy_row = report.row("cupy", 64)
    if cupy_row.status == "skipped":  # no GPU here
        assert "cupy" in cupy_row.reason.lower()
        assert math.isnan(report.speedup("cupy", 64))
    text = str(report)
    assert "speed-up against numpy" in text and "1.00x" in text
    data = json.loads(report.to_json())
    assert data["rows"][1]["speedup"] == pytest.approx(report.speedup("c", 64))


def test_mistakes_raise_before_timing(monkeypatch):
    timed = []
    monkeypatch.setattr(benchmarking.time, "perf_counter", lambda: timed.append(1) or 0.0)
    for kwargs, message in [
        ({"backends": ["numpy", "gpu"]}, "unknown backend 'gpu'"),
        ({"backends": []}, "no backends given"),
        ({"sizes": (100, 0)}, "sizes must be positive whole numbers"),
        ({"sizes": (2.5,)}, "sizes must be positive whole numbers"),
        ({"steps": 0}, "steps must be a positive whole number"),
        ({"steps": [5, 6]}, r"steps must be a positive whole number, got \[5, 6\]"),
        ({"repeats": "x"}, "repeats must be a positive whole number"),
        ({"repeats": 1.5}, "repeats must be a positive whole number, got 1.5"),
    ]:
        with pytest.raises(EqsnnError, match=message):
            eqsnn.benchmark(helpers.lif(), **kwargs)
    assert not timed
    with pytest.raises(ParameterError, match="unknown input 'Isin'; did you mean 'Isyn'"):
        eqsnn.benchmark(helpers.lif(), ["numpy"], sizes=(10,), inputs={"Isin": 1.0})


@pytest.mark.c
def test_cli_bench_prints_the_table_and_json(capsys):
    assert main(["bench", "examples/lif_pulse.eqs", "--backends", "numpy,c", "--n", "1e2,300",
                 "--steps", "20", "--repeats", "1", "--spikes"]) == 0
    out = capsys.readouterr().out
    assert "LifPulse: float32, batch 1, 20 steps, best of 1" in out
    rows = [line.split()[:2] for line in out.splitlines()[2:]]
    assert rows == [["numpy", "100"], ["c", "100"], ["numpy", "300"], ["c", "300"]]
    assert main(["bench", "lif_pulse", "--backends", "numpy", "--n", "50", "--steps", "5",
                 "--repeats", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rows"][0]["n"] == 50 and data["rows"][0]["status"] == "ok"


def test_cli_bench_reports_bad_sizes(capsys):
    assert main(["bench", "lif_pulse", "--n", "1e4,many"]) == 1
    err = capsys.readouterr().err
    assert "--n '1e4,many' is not a list of sizes" in err and "1e4,1e5" in err


@pytest.mark.c
def test_fast_math_reaches_every_simulator_and_the_header(monkeypatch, capsys):
    seen = helpers.simulators_made(monkeypatch)
    assert main(["bench", "lif_pulse", "--backends", "numpy,c", "--n", "40", "--steps", "5",
                 "--repeats", "1", "--fast-math"]) == 0
    assert seen == [("numpy", True), ("c", True)]
    assert "LifPulse: float32, fast_math, batch 1, 5 steps" in capsys.readouterr().out
    with pytest.raises(ParameterError, match="fast_math must be True or False"):
        eqsnn.benchmark(helpers.lif(), ["numpy"], sizes=(10,), fast_math=1)


def test_to_json_of_a_skipped_backend_is_strict_json():
    """A skipped backend's NaN times were written as NaN, which strict parsers refuse."""
    import importlib.util

    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("cupy is installed here: nothing is skipped")
    report = eqsnn.benchmark(eqsnn.load("examples/lif_pulse.eqs"), ["numpy", "cupy"],
                             sizes=(8,), steps=3, repeats=1)

    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    data = json.loads(report.to_json(), parse_constant=refuse)
    cupy = [row for row in data["rows"] if row["backend"] == "cupy"][0]
    assert cupy["status"] == "skipped" and cupy["step_us"] == "nan"
    assert cupy["speedup"] == "nan" and data["rows"][0]["speedup"] == 1.0


def test_bad_counts_are_parameter_errors_as_the_docs_say():
    """docs/simulator.md: eqsnn.compare and eqsnn.benchmark refuse 0 steps with a
    ParameterError (also a ValueError), as a Simulator refuses a bad argument."""
    for kwargs in ({"steps": 0}, {"steps": 2.5}, {"sizes": (0,)}, {"repeats": -1},
                   {"repeats": "x"}, {"steps": math.inf}, {"sizes": (math.inf,)},
                   {"repeats": math.inf}):
        with pytest.raises(ParameterError) as caught:
            eqsnn.benchmark(helpers.lif(), ["numpy"], **kwargs)
        assert isinstance(caught.value, ValueError)
    with pytest.raises(ParameterError, match="steps must be a positive integer"):
        eqsnn.compare(helpers.lif(), ["numpy"], steps=0)
