"""``eqsnn compare`` and ``eqsnn bench`` on a network named by a Python file."""

from __future__ import annotations

import os
import re

import pytest

from eqsnn.tools.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETWORK = """
import eqsnn
from eqsnn.network import Network, Exponential, FixedProbability

LIF = '''neuron Lif
    state V = 0.0
    input Isyn = 0.0
    dV/dt = -V / 10.0
    after: V += Isyn
    threshold: V >= 1.0
    reset: V = 0.0
'''
STEPS = 120
INPUTS = {"a": {"Isyn": 0.15}}


def build(backend, precision, seed):
    net = Network(dt=1.0, backend=backend, precision=precision, seed=seed)
    net.add_population("a", eqsnn.compile(LIF), 20)
    net.add_population("b", eqsnn.compile(LIF), 10)
    weight = WEIGHT + (0.3 if backend == "c" else 0.0)  # a planted divergence
    net.connect("a", "b", Exponential(3.0), connectivity=FixedProbability(0.5), weight=weight,
                delay=2)
    return net
"""


def _file(tmp_path, extra):
    path = tmp_path / "net.py"
    path.write_text(NETWORK.replace("WEIGHT + (0.3 if", f"0.2 + ({extra} if"))
    return str(path)


@pytest.mark.c
def test_compare_reports_identical_networks(tmp_path, capsys):
    assert main(["compare", _file(tmp_path, 0.0), "--backends", "numpy,c",
                 "--precision", "float32", "--steps", "120"]) == 0
    assert "c: identical spikes" in capsys.readouterr().out


@pytest.mark.c
def test_compare_reports_the_first_divergence(tmp_path, capsys):
    assert main(["compare", _file(tmp_path, 0.3), "--backends", "numpy,c",
                 "--steps", "120"]) == 1
    out = capsys.readouterr().out
    found = re.search(r"c: first divergence at step (\d+) \(t = (\S+) ms\)", out)
    assert found and float(found[2]) == int(found[1]) * 1.0  # the file's dt is 1 ms
    assert "b: lane 0 neuron" in out or "b.V: lane 0 neuron" in out


def test_bench_times_each_backend(tmp_path, capsys):
    assert main(["bench", _file(tmp_path, 0.0), "--backends", "numpy", "--steps", "50",
                 "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "| numpy |" in out and "µs per step" in out


def test_a_file_without_build_is_an_error(tmp_path, capsys):
    path = tmp_path / "empty.py"
    path.write_text("x = 1\n")
    assert main(["compare", str(path)]) == 1
    assert "defines no build" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "missing.py")]) == 1
    assert "no network file" in capsys.readouterr().err


@pytest.mark.c
@pytest.mark.pygenn
def test_compare_shows_numpy_c_and_pygenn_side_by_side(tmp_path, capsys):
    pytest.importorskip("pygenn")
    path = tmp_path / "net.py"
    path.write_text(NETWORK.replace("WEIGHT + (0.3 if backend == \"c\" else 0.0)", "0.2"))
    assert main(["compare", str(path), "--precision", "float32", "--steps", "120"]) == 0
    out = capsys.readouterr().out
    assert "c: identical spikes" in out and "pygenn: identical spikes" in out
    counts = dict(part.split() for part in out.split("spikes: ")[1].splitlines()[0].split(", "))
    assert set(counts) == {"numpy", "c", "pygenn"} and len(set(counts.values())) == 1
    assert int(counts["numpy"]) > 0


def test_a_backend_that_cannot_run_the_network_is_reported(tmp_path, capsys, monkeypatch):
    import eqsnn.backends.pygenn_network as genn_network
    from eqsnn.errors import BackendError

    def refuse(net):
        raise BackendError("the pygenn backend needs PyGeNN (planted)")

    monkeypatch.setattr(genn_network, "build_network", refuse)
    assert main(["compare", _file(tmp_path, 0.0), "--backends", "numpy,pygenn",
                 "--steps", "30"]) == 1
    assert "pygenn: did not run: the pygenn backend needs PyGeNN (planted)" in \
        capsys.readouterr().out


def test_a_network_comparison_of_no_steps_is_refused(tmp_path, capsys):
    """0 steps would compare nothing and always agree."""
    code = main(["compare", _file(tmp_path, 0.0), "--backends", "numpy", "--steps", "0"])
    assert code != 0
    assert "--steps must be at least 1, not 0" in capsys.readouterr().err


def test_without_steps_a_network_file_runs_its_own_steps(tmp_path, capsys):
    """STEPS in the file counts when --steps is not given (the flag's default overrode it)."""
    path = _file(tmp_path, 0.0)
    assert main(["compare", path, "--backends", "numpy"]) == 0
    assert "120 steps" in capsys.readouterr().out
    assert main(["bench", path, "--backends", "numpy", "--repeats", "1"]) == 0
    assert "120 steps" in capsys.readouterr().out
    assert main(["compare", path, "--backends", "numpy", "--steps", "30"]) == 0
    assert "30 steps" in capsys.readouterr().out


@pytest.mark.parametrize("command, flag", [
    ("compare", ["--n", "5"]), ("compare", ["--dt", "0.5"]), ("compare", ["--input", "I=1"]),
    ("compare", ["--fast-math"]), ("bench", ["--batch", "2"]), ("bench", ["--n", "1e4"]),
    ("bench", ["--json"])])
def test_a_flag_the_network_file_decides_is_refused(tmp_path, capsys, command, flag):
    """--n, --dt, --input, ... were silently ignored for a network file."""
    assert main([command, _file(tmp_path, 0.0), "--backends", "numpy", *flag]) == 1
    err = capsys.readouterr().err
    assert f"{flag[0]} does not apply to a network file" in err and "remove" in err


@pytest.mark.parametrize("repeats", ["0", "-2"])
def test_bench_of_a_network_refuses_no_repeats(tmp_path, capsys, repeats):
    """--repeats 0 timed nothing and printed a run time of inf."""
    assert main(["bench", _file(tmp_path, 0.0), "--backends", "numpy", "--repeats",
                 repeats]) == 1
    assert f"--repeats must be a positive integer, not {repeats}" in capsys.readouterr().err


@pytest.mark.parametrize("rtol", [float("nan"), -1.0, "1e-9"])
def test_compare_networks_refuses_a_tolerance_that_cannot_judge(tmp_path, rtol):
    """compare_networks(rtol=nan) reported 'states within nan' (NaN passes every test), and
    rtol=-1 'within -1', where eqsnn.compare refuses both."""
    from eqsnn.errors import EqsnnError
    from eqsnn.network.tools import compare_networks
    with pytest.raises(EqsnnError, match="rtol must be a finite number >= 0"):
        compare_networks(_file(tmp_path, 0.0), ["numpy"], rtol=rtol)
    with pytest.raises(EqsnnError, match="atol must be a finite number >= 0"):
        compare_networks(_file(tmp_path, 0.0), ["numpy"], atol=rtol)


@pytest.mark.parametrize("repeats", [0, -1, 1.5])
def test_time_networks_refuses_no_repeats(tmp_path, repeats):
    """time_networks(repeats=0) timed nothing and printed inf (only the command line
    refused it)."""
    from eqsnn.errors import EqsnnError
    from eqsnn.network.tools import time_networks
    with pytest.raises(EqsnnError, match=f"repeats must be a positive integer, not {repeats}"):
        time_networks(_file(tmp_path, 0.0), ["numpy"], repeats=repeats)


@pytest.mark.skipif(__import__("importlib").util.find_spec("pygenn") is not None,
                    reason="PyGeNN is installed here")
def test_a_network_backend_not_installed_says_what_to_do(tmp_path, capsys):
    """'did not run: the pygenn backend needs PyGeNN (...)' left out the hint."""
    assert main(["compare", _file(tmp_path, 0.0), "--backends", "numpy,pygenn",
                 "--steps", "3"]) == 1
    out = capsys.readouterr().out
    assert "pygenn: did not run: the pygenn backend needs PyGeNN" in out
    assert "build PyGeNN from https://github.com/genn-team/genn" in out
