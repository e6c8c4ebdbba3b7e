"""The eqsnn command line."""

from __future__ import annotations

import math
import os
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest

from eqsnn.tools.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_prints_a_spike_summary_and_writes_a_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "lif.png"
    code, out, _ = run(capsys, "run", "examples/lif_pulse.eqs", "--steps", "60",
                       "--plot", str(plot))
    assert code == 0
    assert "LifPulse: 10 neurons x 1 lanes, 60 steps of 1.0 ms on numpy (float32)" in out
    assert "spikes: 40" in out  # steps 13, 27, 40, 54 for each of 10 neurons
    assert "first spike: step 13" in out
    assert plot.stat().st_size > 1000


def test_run_with_inputs_params_and_record(capsys):
    code, out, _ = run(capsys, "run", "lif_held", "--steps", "100", "--n", "3", "--dt", "0.5",
                       "--input", "I=0", "--param", "v_rest=-60", "--record", "V",
                       "--precision", "float64")
    assert code == 0
    assert "spikes: 0" in out
    assert "V: final mean -60, min -60, max -60" in out  # the initial value is v_rest


def test_per_neuron_values_from_the_command_line(capsys):
    code, out, _ = run(capsys, "run", "lif_pulse", "--n", "2", "--steps", "60",
                       "--input", "Isyn=0.1,0")
    assert code == 0 and "spikes: 4 " in out


def test_show_prints_method_and_reasons(capsys):
    code, out, _ = run(capsys, "show", "examples/izhikevich.eqs")
    assert code == 0
    assert "method: adaptive" in out
    assert "exponential_euler: dv/dt is not linear in v: term 0.04*v**2" in out
    assert "crossings located and reset inside the step" in out


def test_show_prints_initial_values_as_written_not_as_fifteen_digits(capsys):
    code, out, _ = run(capsys, "show", "examples/adex.eqs")
    assert code == 0
    assert "    V: float = -70.6\n" in out  # was -70.6000000000000 (a SymPy Float)


def test_emit_numpy(capsys):
    code, out, _ = run(capsys, "emit", "lif_pulse", "--backend", "numpy")
    assert code == 0 and "np.multiply(V, m_phi_V, out=V)" in out


def test_check_reports_errors_with_a_caret(capsys, tmp_path):
    path = tmp_path / "bad.eqs"
    path.write_text("neuron Bad\n    param tau_mem = 10.0\n    state V = 0.0\n"
                    "    dV/dt = -V / tau_me\n")
    code, out, err = run(capsys, "check", str(path))
    assert code == 1
    assert f"{path}:4:18: unknown name 'tau_me'" in err
    assert "                 ^" in err
    assert "did you mean 'tau_mem'?" in err
    code, out, _ = run(capsys, "check", "examples/hh.eqs")
    assert code == 0 and "method exponential_euler" in out


def test_unknown_model_suggests_a_name(capsys):
    code, _, err = run(capsys, "run", "lif_pulze")
    assert code == 1 and "did you mean 'lif_pulse'?" in err


def test_bad_values_are_reported(capsys):
    code, _, err = run(capsys, "run", "lif_pulse", "--input", "Isyn")
    assert code == 1 and "is not NAME=VALUE" in err
    code, _, err = run(capsys, "run", "lif_pulse", "--input", "Isyn=abc")
    assert code == 1 and "not a number" in err


def test_list_shows_examples(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0 and "lif_pulse" in out and "hh" in out


def test_help_describes_the_commands():
    out = subprocess.run([sys.executable, "-m", "eqsnn", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("run", "show", "emit", "check", "list", "compare"):
        assert command in out
    assert "eqsnn run examples/lif_pulse.eqs" in out


def test_standard_library_neurons_by_name(capsys):
    code, out, _ = run(capsys, "run", "poisson_input", "--input", "Input=0.05", "--n", "20",
                       "--steps", "1000")
    assert code == 0
    count = int(out.split("spikes: ")[1].split()[0])
    # P(spike per step) = 1 - exp(-0.05): about 975 spikes; 6 sigma is about 180
    assert abs(count - 20 * 1000 * (1 - 2.718281828459045 ** -0.05)) < 200
    code, out, _ = run(capsys, "show", "leaky_integrate_fire")
    assert code == 0 and "method: exact" in out


def test_show_closed_form(capsys):
    code, out, _ = run(capsys, "show", "examples/lif_expsyn.eqs", "--closed-form")
    assert code == 0 and "closed form of exp(A dt):" in out and "tau_mem - tau_syn" in out


def test_fast_math_flag_reaches_emit_and_run(capsys):
    code, exact, _ = run(capsys, "emit", "hh", "--backend", "c")
    assert code == 0 and "(float)exp((double)" in exact
    code, fast, _ = run(capsys, "emit", "hh", "--backend", "c", "--fast-math")
    assert code == 0 and "(float)exp((double)" not in fast and "expf(" in fast
    code, out, _ = run(capsys, "run", "lif_pulse", "--steps", "60", "--fast-math")
    assert code == 0 and "spikes: 40" in out  # numpy ignores fast_math


def test_output_into_a_closed_pipe_is_not_a_traceback():
    """``eqsnn ... | head``: the reader is gone before eqsnn writes (closed at once here)."""
    child = subprocess.Popen([sys.executable, "-m", "eqsnn", "emit", "hh", "--backend", "c"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child.stdout.close()
    err = child.stderr.read()
    assert child.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipeError" not in err


def _lif_pulse_counts(isyn, steps, tau_mem=20.0, dt=1.0):
    """Spike counts of lif_pulse by a plain loop: V <- exp(-dt/tau) V + Isyn, V -= 1 at V >= 1."""
    v = np.zeros(len(isyn))
    counts = np.zeros(len(isyn), int)
    for _ in range(steps):
        v = math.exp(-dt / tau_mem) * v + isyn
        fired = v >= 1.0
        counts += fired
        v[fired] -= 1.0
    return counts


def test_readme_quick_start_runs_ten_differently_driven_neurons(capsys, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    readme = open(os.path.join(ROOT, "README.md")).read()
    (command,) = re.findall(r'pip install "\.\[plot\]" && eqsnn (run .*)', readme)
    argv = shlex.split(command)
    assert argv[argv.index("--plot") + 1] == "lif_pulse.png"
    monkeypatch.chdir(tmp_path)
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    code, out, _ = run(capsys, *argv)
    assert code == 0 and (tmp_path / "lif_pulse.png").stat().st_size > 20_000
    spec = argv[argv.index("--input") + 1].split("=")[1]
    low, high = (float(x) for x in spec.split(":"))
    expected = _lif_pulse_counts(np.linspace(low, high, 10), int(argv[argv.index("--steps") + 1]))
    assert len(set(expected.tolist())) >= 8  # a raster: the neurons fire at different rates
    total = int(re.search(r"spikes: (\d+)", out).group(1))
    assert abs(total - expected.sum()) <= 2  # float32 may move a spike across the window end


def test_a_range_spreads_an_input_over_the_neurons(capsys):
    from eqsnn.tools.cli import _pairs

    values = _pairs(["Isyn=0.5:1.5"], "input", 5)["Isyn"]
    np.testing.assert_allclose(values, [0.5, 0.75, 1.0, 1.25, 1.5])
    code, out, _ = run(capsys, "run", "lif_pulse", "--n", "4", "--steps", "100",
                       "--input", "Isyn=0:0.2", "--precision", "float64")
    assert code == 0
    total = int(re.search(r"spikes: (\d+)", out).group(1))
    assert total == _lif_pulse_counts(np.linspace(0, 0.2, 4), 100).sum()


@pytest.mark.parametrize("argv,message", [
    (["run", "lif_pulse", "--input", "Isyn=a:1"], "not a range: 'a:1'"),
    (["run", "lif_pulse", "--input", "Isyn=1:2:3"], "not a range: '1:2:3'"),
    # linspace made NaN of them (with NumPy's warning): 'must be finite; got nan'
    (["run", "lif_pulse", "--input", "Isyn=1:1e400"],
     "not a range of finite numbers: '1:1e400'"),
    (["bench", "lif_pulse", "--input", "Isyn=0:1", "--n", "10,20"],
     "a range (0:1) needs one population size"),
])
def test_bad_ranges_are_explained(capsys, argv, message):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        code, _, err = run(capsys, *argv)
    assert code == 1 and message in err and "hint:" in err


def test_run_plots_a_model_without_threshold(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    code, out, _ = run(capsys, "run", "leaky_integrate", "--steps", "20", "--input",
                       "Isyn=0:0.1", "--plot", str(tmp_path / "li.png"))
    assert code == 0 and "spikes: none (the model has no threshold)" in out
    assert (tmp_path / "li.png").stat().st_size > 10_000
    code, _, err = run(capsys, "run", "lif_pulse", "--steps", "0")
    assert code == 1 and "--steps must be at least 1, not 0" in err


def test_compare_without_tolerance_takes_the_default_of_the_precision(capsys):
    """As eqsnn.compare does: 1e-5 in float32 (the flag's 1e-9 used to apply to both)."""
    assert main(["compare", "examples/lif_pulse.eqs", "--backends", "numpy", "--steps", "5",
                 "--precision", "float32"]) == 0
    assert "rtol=1e-05 atol=1e-05" in capsys.readouterr().out
    assert main(["compare", "examples/lif_pulse.eqs", "--backends", "numpy", "--steps", "5"]) == 0
    assert "rtol=1e-09 atol=1e-09" in capsys.readouterr().out
    assert main(["compare", "examples/lif_pulse.eqs", "--backends", "numpy", "--steps", "5",
                 "--precision", "float32", "--tolerance", "0"]) == 0
    assert "rtol=0 atol=0" in capsys.readouterr().out


def test_progress_flag_always_shows_the_bar(capsys, monkeypatch):
    """--progress used to ask for the automatic bar (only runs expected to take over 2 s)."""
    from eqsnn.runtime import progress

    asked = []
    real = progress.run_with_progress

    def spy(runner, steps, step0, inputs, record, spikes, wanted):
        asked.append(wanted)
        return real(runner, steps, step0, inputs, record, spikes, wanted)

    monkeypatch.setattr("eqsnn.runtime.simulator.run_with_progress", spy)
    assert main(["run", "lif_pulse", "--steps", "20", "--progress"]) == 0
    assert main(["run", "lif_pulse", "--steps", "20"]) == 0
    assert asked == [True, False]
    assert "step" in capsys.readouterr().err  # the bar, on stderr


def test_warnings_are_printed_like_errors_with_the_model_line(capsys, tmp_path):
    """docs/language.md: the command line prints a model's warnings on stderr, naming the
    line and column; as 'warning: ...', not with the Python line of eqsnn's entry point."""
    path = tmp_path / "always.eqs"
    path.write_text("neuron Always\n    state V = 0.0\n    after: V += 1.0\n"
                    "    threshold: true\n    reset: V = 0.0\n")
    code, out, err = run(capsys, "check", str(path))
    assert code == 0 and "ok (Always" in out
    assert err.startswith("warning: Always: line 4, column 16: 'threshold:' is always true")
    assert "EqsnnWarning" not in err and "main()" not in err and "runpy" not in err


@pytest.mark.parametrize("command", ["run", "show", "emit", "check"])
def test_a_network_file_given_to_a_model_command_is_named_so(capsys, command):
    """The help says only compare and bench take a network file; the others say so, rather
    than parse the Python as model text."""
    code, _, err = run(capsys, command, "examples/networks/cuba_small.py")
    assert code == 1
    assert err.startswith("error: examples/networks/cuba_small.py is a network file")
    assert "eqsnn compare examples/networks/cuba_small.py" in err
