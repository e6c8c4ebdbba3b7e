"""compare, bench and the command line against careless and confused use: backends named
twice, left empty or not installed, populations too big to allocate, names shadowed by
folders, figure paths that cannot be written."""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest

import eqsnn
from eqsnn.errors import BackendError, EqsnnError, ParameterError
from eqsnn.tools import cli
from eqsnn.tools.cli import main

NO_CUPY = importlib.util.find_spec("cupy") is None


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def lif():
    return eqsnn.load("examples/lif_pulse.eqs")


# --- backends not installed: the reason says what to install ------------------------------
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


# --- backends named twice, misspelt or empty ----------------------------------------------
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


@pytest.mark.parametrize("backends", [3, 1.5, [1, 2]])
def test_backends_that_are_not_names_are_refused(backends):
    with pytest.raises(EqsnnError, match="backends"):
        eqsnn.compare(lif(), backends, n=2, steps=3)


@pytest.mark.parametrize("command", ["compare", "bench"])
def test_the_command_line_refuses_an_empty_backends_flag(capsys, command):
    """``--backends ""`` (an unset shell variable) ran every backend."""
    code, out, err = run(capsys, command, "lif_pulse", "--backends", "", "--steps", "2")
    assert code == 1 and out == ""
    assert err.startswith("error: no backends given")


@pytest.mark.parametrize("command", ["compare", "bench"])
def test_the_command_line_takes_spaces_after_the_commas(capsys, command):
    code, out, err = run(capsys, command, "lif_pulse", "--backends", "numpy, numpy ",
                         "--steps", "2")
    assert code == 1 and "named twice" in err  # the space was read, then the name
    code, out, err = run(capsys, command, "lif_pulse", "--backends", " numpy", "--steps", "2",
                         "--n", "4")
    assert code == 0, err


def test_a_network_file_refuses_a_misspelt_backend_before_running(capsys):
    code, out, err = run(capsys, "compare", "examples/networks/cuba_small.py",
                         "--backends", "numpy,nump", "--steps", "2")
    assert code == 1 and out == ""
    assert "unknown backend 'nump'" in err and "numpy" in err


# --- populations that cannot be allocated --------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["run", "lif_pulse", "--n", "1000000000000", "--steps", "1"],
    ["compare", "lif_pulse", "--n", "1000000000000", "--steps", "1"],
    ["bench", "lif_pulse", "--n", "1e12", "--steps", "1"],
    ["run", "lif_pulse", "--n", "1000", "--batch", "1000000000", "--steps", "1"],
])
def test_a_population_too_big_for_memory_is_refused_before_allocating(capsys, monkeypatch,
                                                                      argv):
    from eqsnn.runtime import Simulator

    def never(*args, **kwargs):
        raise AssertionError("the Simulator was built")

    monkeypatch.setattr(Simulator, "__init__", never)
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "memory" in err and "nothing was run" in err
    assert "Traceback" not in err and "hint: " in err


def test_the_memory_estimate_is_above_what_a_run_takes():
    """The check refuses only what would not fit: its estimate of a small population is
    of the order of the arrays a run holds, not far above them."""
    from eqsnn.tools.cli_values import population_bytes

    for name, states in (("lif_pulse", 1), ("hh", 5)):
        model = cli.find_model(name)
        estimate = population_bytes(model, 1000, 1, "float64")
        assert 8 * 1000 * (states + 1) <= estimate <= 8 * 1000 * 40


def test_a_memory_error_is_a_user_error_with_a_hint(capsys, monkeypatch):
    def greedy(args):
        raise MemoryError("Unable to allocate 3.64 TiB")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["list"].set_defaults(func=greedy)
    code, out, err = run(capsys, "list")
    assert code == 1
    assert err.startswith("error: not enough memory") and "3.64 TiB" in err
    assert "hint: " in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["run", "compare"])
def test_a_population_size_may_be_written_as_1e4(capsys, command):
    """bench took --n 1e4 and run answered it with argparse's 'invalid int value'."""
    code, out, err = run(capsys, command, "lif_pulse", "--n", "1e1", "--steps", "2",
                         "--backend" if command == "run" else "--backends", "numpy")
    assert code == 0, err
    if command == "run":
        assert "10 neurons" in out


@pytest.mark.parametrize("size", ["1.5", "nan", "inf", "ten", "1e400"])
@pytest.mark.parametrize("command", ["run", "compare"])
def test_a_population_size_that_is_not_a_count_is_refused(capsys, command, size):
    with pytest.raises(SystemExit) as exit_:
        main([command, "lif_pulse", "--n", size, "--steps", "2"])
    assert exit_.value.code == 2
    assert "--n" in capsys.readouterr().err


@pytest.mark.parametrize("size", ["0", "-3", "0e0"])
@pytest.mark.parametrize("command", ["run", "compare"])
def test_a_population_size_below_one_is_refused_by_the_command(capsys, command, size):
    code, out, err = run(capsys, command, "lif_pulse", "--n", size, "--steps", "2")
    assert code == 1 and out == "" and "n must be a positive integer" in err


# --- names shadowed by folders ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["lif_pulse", "leaky_integrate_fire"])
def test_a_folder_named_like_an_example_does_not_hide_it(capsys, tmp_path, monkeypatch, name):
    """A folder of results called ``lif_pulse`` in the working directory was read as the
    model file ("Is a directory") instead of the example of that name."""
    (tmp_path / "examples").mkdir()
    shutil.copy("examples/lif_pulse.eqs", tmp_path / "examples" / "lif_pulse.eqs")
    (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "check", name)
    assert code == 0, err
    assert "ok" in out


def test_a_folder_that_names_no_model_is_still_reported_as_a_folder(capsys, tmp_path,
                                                                    monkeypatch):
    (tmp_path / "results").mkdir()
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "check", "results")
    assert code == 1 and "directory" in err.lower()


# --- figures -----------------------------------------------------------------------------------
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


# --- small things the command line did twice or not at all ----------------------------------
def test_bench_spreads_a_range_over_its_one_size(capsys):
    code, out, err = run(capsys, "bench", "lif_pulse", "--backends", "numpy", "--n", "8",
                         "--steps", "2", "--repeats", "1", "--input", "Isyn=0:1")
    assert code == 0, err


def test_bench_refuses_a_range_over_several_sizes_with_a_reason(capsys):
    code, out, err = run(capsys, "bench", "lif_pulse", "--backends", "numpy", "--n", "8,16",
                         "--steps", "2", "--input", "Isyn=0:1")
    assert code == 1 and "one population size" in err and "--n" in err


def test_run_summarises_a_state_recorded_twice_once(capsys):
    code, out, _ = run(capsys, "run", "lif_pulse", "--steps", "5", "--record", "V",
                       "--record", "V")
    assert code == 0 and out.count("V: final mean") == 1


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


# --- recordings of every backend together ------------------------------------------------------
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


def test_a_ctrl_c_during_a_comparison_exits_130_without_a_traceback(capsys, monkeypatch):
    from eqsnn.tools import comparison as comparison_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(comparison_module, "_simulate", interrupted)
    code, out, err = run(capsys, "compare", "lif_pulse", "--backends", "numpy,c")
    assert code == 130 and err == "error: interrupted\n"


def test_a_gallery_figure_checks_its_path_before_simulating(monkeypatch):
    from eqsnn.tools import gallery

    def never(demo):
        raise AssertionError("the demo was simulated")

    monkeypatch.setattr(gallery, "run_demo", never)
    with pytest.raises(ParameterError, match="does not exist"):
        gallery.demo_figure("lif_pulse", "missing-folder/lif_pulse.png")


@pytest.mark.parametrize("name, words", [("lif_pulse", "each step above"),
                                         ("hh", "method")])
def test_show_closed_form_says_why_there_is_none(capsys, name, words):
    """--closed-form printed nothing at all for a model without a coupled linear system."""
    code, out, _ = run(capsys, "show", name, "--closed-form")
    assert code == 0
    last = out.strip().splitlines()[-1]
    assert last.startswith("closed form: none") and words in last


def test_compare_and_bench_take_params_as_run_does(capsys, monkeypatch):
    """``eqsnn compare MODEL --param tau_mem=10`` was 'unrecognized arguments'."""
    from eqsnn.tools import benchmarking, comparison

    seen = {}
    real_compare, real_bench = comparison.compare, benchmarking.benchmark
    monkeypatch.setattr(comparison, "compare", lambda *a, **k: seen.setdefault(
        "compare", k) and real_compare(*a, **k))
    monkeypatch.setattr(benchmarking, "benchmark", lambda *a, **k: seen.setdefault(
        "bench", k) and real_bench(*a, **k))
    code, out, err = run(capsys, "compare", "lif_pulse", "--backends", "numpy", "--steps", "3",
                         "--n", "4", "--param", "tau_mem=10", "--param", "v_thresh=0.5:1",
                         "--batch", "2")
    assert code == 0, err
    assert seen["compare"]["params"]["tau_mem"] == 10.0
    np.testing.assert_allclose(seen["compare"]["params"]["v_thresh"], np.linspace(0.5, 1, 4))
    assert seen["compare"]["batch_size"] == 2
    code, out, err = run(capsys, "bench", "lif_pulse", "--backends", "numpy", "--steps", "3",
                         "--n", "4", "--repeats", "1", "--param", "tau_mem=10")
    assert code == 0, err
    assert seen["bench"]["params"] == {"tau_mem": 10.0}
    code, out, err = run(capsys, "compare", "lif_pulse", "--backends", "numpy", "--steps", "3",
                         "--param", "tau_mem=-1")
    assert code == 1 and "tau_mem must be > 0" in err


@pytest.mark.parametrize("flag", [["--param", "tau_mem=10"], ["--batch", "2"]])
def test_a_network_file_refuses_params_and_batch_of_the_command_line(capsys, flag):
    code, out, err = run(capsys, "compare", "examples/networks/cuba_small.py", *flag)
    assert code == 1 and f"{flag[0]} does not apply to a network file" in err


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


# --- benchmark's own arguments -------------------------------------------------------------------
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


@pytest.mark.parametrize("flag", ["--input", "--param"])
def test_a_name_given_twice_is_refused_not_the_last_kept(capsys, flag):
    value = "Isyn" if flag == "--input" else "tau_mem"
    code, out, err = run(capsys, "run", "lif_pulse", "--steps", "2", flag, f"{value}=0.1",
                         flag, f" {value} =0.2")
    assert code == 1 and out == ""
    assert f"{flag[2:]} {value!r} given twice" in err


@pytest.mark.parametrize("t, text", [(123456.8, "123456.8 ms"), (3 * 0.1, "0.3 ms"),
                                     (1e-05, "1e-05 ms"), (20.0, "20 ms")])
def test_the_time_of_a_first_difference_keeps_its_digits(t, text):
    """A late first difference at dt = 0.1 ms was printed rounded to 6 digits:
    t = 123456.8 ms read '123457 ms', a step away."""
    from eqsnn.tools.comparison_where import time_label

    assert time_label(t) == text


def test_run_prints_the_first_spike_time_with_its_digits(capsys):
    code, out, _ = run(capsys, "run", "integrate_fire", "--steps", "5", "--dt", "1234.5678",
                       "--input", "Isyn=0.6", "--n", "1")
    assert code == 0 and "first spike: step 1 (t = 1234.5678 ms), neuron 0" in out


def test_a_missing_eqs_file_named_like_an_example_points_at_it(capsys):
    code, out, err = run(capsys, "check", "lif_pulse.eqs")
    assert code == 1 and "lif_pulse.eqs" in err
    assert "hint: " in err and "examples/lif_pulse.eqs" in err and "alone: lif_pulse" in err


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


def test_bench_repeats_may_be_written_as_1e0(capsys):
    code, out, err = run(capsys, "bench", "lif_pulse", "--backends", "numpy", "--n", "4",
                         "--steps", "1e1", "--repeats", "1e0")
    assert code == 0, err
    assert "10 steps, best of 1" in out


def test_compare_prints_json_for_scripts(capsys):
    import json

    code, out, err = run(capsys, "compare", "lif_pulse", "--backends", "numpy,cupy",
                         "--steps", "3", "--n", "2", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["ok"] is True and data["steps"] == 3
    assert [r["backend"] for r in data["reports"]] == ["numpy", "cupy"]
    code, out, err = run(capsys, "compare", "examples/networks/cuba_small.py", "--json")
    assert code == 1 and "--json does not apply to a network file" in err


def test_a_missing_file_in_another_folder_is_not_taken_for_the_example(capsys):
    code, out, err = run(capsys, "check", "models/lif_pulse.eqs")
    assert code == 1 and "cannot read model file" in err and "examples/" not in err
