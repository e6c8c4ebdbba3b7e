"""The eqsnn command line against careless and confused use: --backends empty or with
spaces, populations too big for memory, counts written 1e4, folders named like examples,
names given twice, Ctrl-C, and what each command prints."""

from __future__ import annotations

import shutil

import helpers
import numpy as np
import pytest

from eqsnn.tools import cli
from eqsnn.tools.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


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
    helpers.list_command_raising(monkeypatch, MemoryError("Unable to allocate 3.64 TiB"))
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


def test_a_ctrl_c_during_a_comparison_exits_130_without_a_traceback(capsys, monkeypatch):
    from eqsnn.tools import comparison as comparison_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(comparison_module, "_simulate", interrupted)
    code, out, err = run(capsys, "compare", "lif_pulse", "--backends", "numpy,c")
    assert code == 130 and err == "error: interrupted\n"


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


@pytest.mark.parametrize("flag", ["--input", "--param"])
def test_a_name_given_twice_is_refused_not_the_last_kept(capsys, flag):
    value = "Isyn" if flag == "--input" else "tau_mem"
    code, out, err = run(capsys, "run", "lif_pulse", "--steps", "2", flag, f"{value}=0.1",
                         flag, f" {value} =0.2")
    assert code == 1 and out == ""
    assert f"{flag[2:]} {value!r} given twice" in err


def test_run_prints_the_first_spike_time_with_its_digits(capsys):
    code, out, _ = run(capsys, "run", "integrate_fire", "--steps", "5", "--dt", "1234.5678",
                       "--input", "Isyn=0.6", "--n", "1")
    assert code == 0 and "first spike: step 1 (t = 1234.5678 ms), neuron 0" in out


def test_a_missing_eqs_file_named_like_an_example_points_at_it(capsys):
    code, out, err = run(capsys, "check", "lif_pulse.eqs")
    assert code == 1 and "lif_pulse.eqs" in err
    assert "hint: " in err and "examples/lif_pulse.eqs" in err and "alone: lif_pulse" in err


def test_bench_repeats_may_be_written_as_1e0(capsys):
    code, out, err = run(capsys, "bench", "lif_pulse", "--backends", "numpy", "--n", "4",
                         "--steps", "1e1", "--repeats", "1e0")
    assert code == 0, err
    assert "10 steps, best of 1" in out


def test_compare_prints_json_for_scripts(capsys):
    import json

    code, out, err = run(capsys, "compare", "lif_pulse", "--backends", "numpy,c",
                         "--steps", "3", "--n", "2", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["ok"] is True and data["steps"] == 3
    assert [r["backend"] for r in data["reports"]] == ["numpy", "c"]
    code, out, err = run(capsys, "compare", "examples/networks/cuba_small.py", "--json")
    assert code == 1 and "--json does not apply to a network file" in err


def test_a_missing_file_in_another_folder_is_not_taken_for_the_example(capsys):
    code, out, err = run(capsys, "check", "models/lif_pulse.eqs")
    assert code == 1 and "cannot read model file" in err and "examples/" not in err


def test_a_backend_named_in_backends_that_cannot_run_fails_the_comparison(capsys):
    """compare --backends numpy,cupy on a machine without CuPy exited 0 ("skipped" counted
    as agreement), so a CI job asking for cupy passed without running it. A backend named
    by the user that cannot run here now fails the command, saying what to install; the
    default, every backend, still lists the ones it skips without failing."""
    import importlib.util

    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("cupy is installed here")
    code, out, err = run(capsys, "compare", "lif_pulse", "--backends", "numpy,cupy",
                         "--steps", "3", "--n", "2")
    assert code == 1
    assert "skipped" in out
    assert "error: backend 'cupy' was named in --backends but could not run here" in err
    assert "pip install" in err
    code, out, err = run(capsys, "compare", "lif_pulse", "--steps", "3", "--n", "2")
    assert code == 0, err
    assert "cupy" in out and "skipped" in out and "was named" not in err
