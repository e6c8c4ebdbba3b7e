"""compare and benchmark against careless and confused use: backends named twice, left
empty, not installed or crashing, recordings too big together, figure paths that cannot be
written, arguments of the wrong kind; and the reported numbers checked against NumPy."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import eqsnn
from eqsnn.errors import BackendError, EqsnnError, ParameterError
from eqsnn.tools import cli

NO_CUPY = importlib.util.find_spec("cupy") is None


def lif():
    return eqsnn.load("examples/lif_pulse.eqs")


@pytest.mark.skipif(not NO_CUPY, reason="CuPy is installed here")
def test_a_skipped_backend_says_what_to_install():
    comparison = eqsnn.compare(lif(), ["numpy", "cupy"], n=2, steps=3)
    report = comparison.report("cupy")
    assert report.status == "skipped"
    assert "needs CuPy" in report.reason and "pip install cupy-cuda" in report.reason
    assert "pip install cupy-cuda" in str(comparison)


@pytest.mark.skipif(not NO_CUPY, reason="CuPy is installed here")
def test_a_skipped_bench_row_says_what_to_install():
    report = eqsnn.benchmark(lif(), ["numpy", "cupy"], sizes=(4,), steps=2, repeats=1)
    assert "pip install cupy-cuda" in report.row("cupy", 4).reason


def test_a_backend_that_fails_while_running_is_failed_not_skipped(monkeypatch):
    """Only a backend that cannot be set up here is skipped; one whose run raises failed,
    and the comparison does not agree."""
    import perturbed_backend

    from eqsnn.backends import REGISTRY
    from eqsnn.backends import numpy as numpy_backend

    monkeypatch.setitem(REGISTRY, "perturbed", "perturbed_backend")

    class BrokenRunner:  # the numpy runner, whose run() fails as the c one can
        def __init__(self, runner):
            self.runner = runner

        def __getattr__(self, name):
            return getattr(self.runner, name)

        def run(self, *args, **kwargs):
            raise BackendError("eqsnn_run rejected its arguments (a bug in eqsnn)")

    def broken_load(source):
        program = numpy_backend.load(source)

        class Broken:
            def start(self, instance):
                return BrokenRunner(program.start(instance))
        return Broken()

    monkeypatch.setattr(perturbed_backend, "load", broken_load)
    comparison = eqsnn.compare(lif(), ["numpy", "perturbed"], n=2, steps=3)
    report = comparison.report("perturbed")
    assert report.status == "failed" and "eqsnn_run rejected" in report.reason
    assert not comparison.ok


@pytest.mark.parametrize("backends", [["numpy", "c", "c"], "numpy,numpy", ["c", "numpy", "c"]])
def test_a_backend_named_twice_is_refused(backends):
    with pytest.raises(EqsnnError, match="named twice"):
        eqsnn.compare(lif(), backends, n=2, steps=3)
    with pytest.raises(EqsnnError, match="named twice"):
        eqsnn.benchmark(lif(), backends, sizes=(4,), steps=2, repeats=1)


@pytest.mark.parametrize("backends", ["", ",", "numpy,,c", " "])
def test_an_empty_backend_list_or_name_is_refused(backends):
    with pytest.raises(EqsnnError, match="no backend|empty"):
        eqsnn.compare(lif(), backends, n=2, steps=3)
    with pytest.raises(EqsnnError, match="no backend|empty"):
        eqsnn.benchmark(lif(), backends, sizes=(4,), steps=2, repeats=1)


@pytest.mark.parametrize("backends", [3, 1.5, [1, 2], b"numpy", {"numpy": 1}])
def test_backends_that_are_not_names_are_refused(backends):
    with pytest.raises(EqsnnError, match="backends"):
        eqsnn.compare(lif(), backends, n=2, steps=3)


@pytest.mark.parametrize("path, words", [("missing/x.png", "does not exist"),
                                         ("x.docx", "cannot write a figure as .docx"),
                                         (".", "names a folder")])
def test_comparison_plot_checks_its_path_first(tmp_path, monkeypatch, path, words):
    pytest.importorskip("matplotlib")
    comparison = eqsnn.compare(lif(), ["numpy"], n=2, steps=3)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParameterError, match=words):
        comparison.plot(path)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even ".png"


def test_the_summary_numbers_are_those_of_the_raw_results():
    """max abs and max rel of each state, the spike counts and the share of shared spikes,
    recomputed here with plain NumPy from the two runs."""
    import perturbed_backend

    from eqsnn.backends import REGISTRY

    saved = dict(perturbed_backend.PERTURB)
    REGISTRY["perturbed"] = "perturbed_backend"
    perturbed_backend.PERTURB.update(name="_phi_V", factor=1 + 1e-4)
    try:
        comparison = eqsnn.compare(lif(), ["numpy", "perturbed"], n=5, steps=300,
                                   inputs={"Isyn": np.linspace(0.05, 0.14, 5)})
    finally:
        perturbed_backend.PERTURB.clear()
        perturbed_backend.PERTURB.update(saved)
        del REGISTRY["perturbed"]
    mine, ref = comparison.results["perturbed"], comparison.results["numpy"]
    a, b = mine.vars["V"].astype(float), ref.vars["V"].astype(float)
    diff = np.abs(a - b)
    rel = np.where(diff == 0, 0.0, diff / np.abs(b))
    (v,) = comparison.report("perturbed").variables
    assert v.max_abs == diff.max() and v.max_rel == rel.max()
    spikes_a = set(zip(mine.spikes.step.tolist(), mine.spikes.neuron.tolist()))
    spikes_b = set(zip(ref.spikes.step.tolist(), ref.spikes.neuron.tolist()))
    report = comparison.report("perturbed")
    assert report.spike_counts == (len(spikes_a), len(spikes_b))
    assert report.spikes_same_share == len(spikes_a & spikes_b) / len(spikes_a | spikes_b)
    assert f"abs {diff.max():.2e} rel {rel.max():.2e}" in str(comparison)


def test_recordings_that_fit_one_by_one_but_not_together_are_refused_first(monkeypatch):
    """compare keeps every backend's recording: the reference's fitted, the second backend's
    was refused after the reference had run, and the comparison said DIFFER."""
    from eqsnn.runtime import guard
    from eqsnn.tools import comparison as comparison_module

    one_run = guard.record_bytes(lif().ir, {"V": None}, True, 1000, 1, 10, "float64")
    monkeypatch.setattr(guard, "available_memory", lambda: int(1.5 * one_run))
    ran = []
    real = comparison_module._simulate
    monkeypatch.setattr(comparison_module, "_simulate",
                        lambda *args, **kwargs: ran.append(args[1]) or real(*args, **kwargs))
    with pytest.raises(ParameterError, match="2 backends") as error:
        eqsnn.compare(lif(), ["numpy", "c"], n=10, steps=1000)
    assert "nothing was run" in str(error.value) and "--steps" in error.value.hint
    assert ran == []
    monkeypatch.setattr(guard, "available_memory", lambda: int(2.5 * one_run))
    assert eqsnn.compare(lif(), ["numpy", "c"], n=10, steps=1000).ok  # two fit


def test_a_gallery_figure_checks_its_path_before_simulating(monkeypatch):
    from eqsnn.tools import gallery

    def never(demo):
        raise AssertionError("the demo was simulated")

    monkeypatch.setattr(gallery, "run_demo", never)
    with pytest.raises(ParameterError, match="does not exist"):
        gallery.demo_figure("lif_pulse", "missing-folder/lif_pulse.png")


@pytest.mark.filterwarnings("error")
def test_comparison_plot_of_a_model_without_float_states_draws_the_raster_alone(tmp_path):
    """poisson_input has no float state: the plot warned 'No artists with labels found'
    and drew two empty panels above the raster."""
    pytest.importorskip("matplotlib")
    comparison = eqsnn.compare(cli.find_model("poisson_input"), ["numpy"], n=4, steps=20,
                               inputs={"Input": np.full(4, 0.5)})
    figure = comparison.plot(tmp_path / "raster.png")
    drawn = [axis for axis in figure.axes if axis.axison]
    assert len(drawn) == 1 and drawn[0].get_title() == "spikes"
    assert drawn[0].get_legend() is not None
    assert (tmp_path / "raster.png").stat().st_size > 0


@pytest.mark.parametrize("record", [3, 2.5, [3], ["V", None], b"V"])
def test_record_that_is_not_state_names_is_a_parameter_error(record):
    with pytest.raises(ParameterError, match="record"):
        eqsnn.compare(lif(), ["numpy"], n=2, steps=3, record=record)


def test_benchmark_reads_sizes_given_as_text_as_the_command_line_does():
    """sizes="16" was timed at sizes 1 and 6, one per character."""
    report = eqsnn.benchmark(lif(), ["numpy"], sizes="16, 1e1", steps=2, repeats=1)
    assert [row.n for row in report.rows] == [16, 10]
    with pytest.raises(ParameterError, match="sizes"):
        eqsnn.benchmark(lif(), ["numpy"], sizes="sixteen", steps=2, repeats=1)


def test_benchmark_refuses_a_size_given_twice():
    with pytest.raises(ParameterError, match="size 8 given twice"):
        eqsnn.benchmark(lif(), ["numpy"], sizes=(8, 16, 8.0), steps=2, repeats=1)


@pytest.mark.parametrize("flag", ["yes", 1.0, None])
def test_benchmark_record_spikes_is_true_or_false(flag):
    with pytest.raises(ParameterError, match="record_spikes"):
        eqsnn.benchmark(lif(), ["numpy"], sizes=(8,), steps=2, repeats=1, record_spikes=flag)


def test_a_backend_that_crashes_is_reported_failed_and_the_others_still_compared(monkeypatch):
    """An exception that is not an EqsnnError inside one backend (a CUDA error, a bug) lost
    the whole comparison, the backends that ran included."""
    import perturbed_backend

    from eqsnn.backends import REGISTRY

    monkeypatch.setitem(REGISTRY, "perturbed", "perturbed_backend")

    def crashing_load(source):
        class Crashing:
            def start(self, instance):
                raise ZeroDivisionError("float division by zero")
        return Crashing()

    monkeypatch.setattr(perturbed_backend, "load", crashing_load)
    comparison = eqsnn.compare(lif(), ["numpy", "perturbed", "c"], n=2, steps=3)
    report = comparison.report("perturbed")
    assert report.status == "failed" and not comparison.ok
    assert "ZeroDivisionError: float division by zero" in report.reason
    assert "report" in report.reason  # it is a bug to report, not a mistake of the user
    assert comparison.report("c").status == "ok"


@pytest.mark.parametrize("t, text", [(123456.8, "123456.8 ms"), (3 * 0.1, "0.3 ms"),
                                     (1e-05, "1e-05 ms"), (20.0, "20 ms")])
def test_the_time_of_a_first_difference_keeps_its_digits(t, text):
    """A late first difference at dt = 0.1 ms was printed rounded to 6 digits:
    t = 123456.8 ms read '123457 ms', a step away."""
    from eqsnn.tools.comparison_where import time_label

    assert time_label(t) == text


def test_asking_for_a_bench_row_not_timed_names_those_that_were():
    """row() raised a bare KeyError(('c', 5)); now an EqsnnError (still a KeyError) that
    lists the rows."""
    report = eqsnn.benchmark(lif(), ["numpy"], sizes=(8,), steps=2, repeats=1)
    with pytest.raises(EqsnnError, match="no row for c at n = 5") as error:
        report.row("c", 5)
    assert isinstance(error.value, KeyError) and "numpy at 8" in error.value.hint
    assert report.speedup("numpy", 8) == 1.0


def test_neuron_steps_per_second_count_every_lane():
    """With batch_size=4 each step updates 4 n neurons; the rate counted n."""
    report = eqsnn.benchmark(lif(), ["numpy"], sizes=(8,), steps=2, repeats=1, batch_size=4)
    row = report.row("numpy", 8)
    assert row.neuron_steps_per_s == pytest.approx(8 * 4 / (row.step_us * 1e-6))
    assert report.as_dict()["rows"][0]["batch_size"] == 4


def test_backends_may_be_any_sequence_of_names():
    comparison = eqsnn.compare(lif(), np.array(["numpy"]), n=2, steps=3)
    assert [r.backend for r in comparison.reports] == ["numpy"]
    assert type(comparison.reports[0].backend) is str  # not np.str_, in to_json too
    report = eqsnn.benchmark(lif(), (name for name in ["numpy"]), sizes=(4,), steps=2,
                             repeats=1)
    assert [row.backend for row in report.rows] == ["numpy"]


def test_record_may_be_any_sequence_of_state_names():
    comparison = eqsnn.compare(lif(), ["numpy"], n=2, steps=3, record=np.array(["V"]))
    assert list(comparison.results["numpy"].vars) == ["V"]
