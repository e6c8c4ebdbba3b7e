"""Hostile inputs, replayed: the committed corpus ``tests/hostile/*.eqs`` (expected error
class, message fragment and line in ``tests/hostile/expected.json``), hostile API and CLI
calls, and Hypothesis over the classes that are large (int literals, chained comparisons,
bytes that are not UTF-8, indentation, long names).

Every rejection must be an EqsnnError with the place and a hint; every accepted model
must run on numpy and c and agree with an independent oracle."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import helpers
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eqsnn
from eqsnn import errors
from eqsnn.errors import EqsnnError, ParameterError, ParseError

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "hostile"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
HYPOTHESIS = settings(max_examples=25, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_the_corpus_and_its_expectations_match():
    assert sorted(p.name for p in CORPUS.glob("*.eqs")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e[0] != "ok"))
def test_each_hostile_file_is_rejected_with_place_and_hint(name):
    kind, fragment, line = EXPECTED[name]
    with pytest.raises(EqsnnError) as caught:
        eqsnn.load(CORPUS / name)
    error = caught.value
    assert type(error).__name__ == kind, str(error)
    text = str(error)
    assert fragment in text
    assert error.line == line and error.filename == str(CORPUS / name)
    assert text.startswith(f"{CORPUS / name}:{line}:")
    assert error.hint and "hint: " in text
    assert max(len(row) for row in text.split("\n")) < 700  # nothing echoed in full


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e[0] == "ok"))
@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_each_accepted_hostile_file_runs_and_agrees_with_an_oracle(name, backend):
    model = eqsnn.load(CORPUS / name)
    sim = eqsnn.Simulator(model, 2, backend=backend, precision="float64")
    state = model.ir.states[0].name
    record = [state] + (["spikes"] if model.ir.spiking else [])
    result = sim.run(40, record=record)
    ORACLES[name](result.vars[state][:, 0, 0], result)


def _bom(trace, result):  # dV/dt = (1 - V) / 20 from 0, exact: 1 - exp(-t / 20)
    np.testing.assert_allclose(trace, 1 - np.exp(-np.arange(1, 41) / 20.0), rtol=1e-12)


def _chained(trace, result):  # V += 1/20 a step; spike and reset where 0.5 < V <= 1 < 2
    v, expected, spikes = 0.0, [], []
    for step in range(40):
        v += 1 / 20
        if 0.5 < v <= 1 < 2:
            spikes.append(step)
            v = 0.0
        expected.append(v)
    np.testing.assert_allclose(trace, expected, atol=1e-12)
    assert list(result.spikes.step[result.spikes.neuron == 0]) == spikes


def _int_countdown(trace, result):  # int32 arithmetic, no wrap in 40 steps
    np.testing.assert_array_equal(trace, 2147483647 - np.arange(1, 41))
    assert trace.dtype == np.int32


ORACLES = {"bom_is_accepted.eqs": _bom, "chained_comparison.eqs": _chained,
           "int_wraps_nowhere.eqs": _int_countdown}


# --- the command line --------------------------------------------------------
def _cli(*argv, env=None):
    done = subprocess.run([sys.executable, "-m", "eqsnn", *map(str, argv)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    assert "Traceback" not in done.stderr, done.stderr
    return done


CLI_FAILURES = [
    (["run", CORPUS / "latin1_in_comment.eqs"], "not UTF-8"),
    (["check", CORPUS / "reset_without_threshold.eqs"], "without 'threshold:'"),
    (["run", "examples/lif_held.eqs", "--steps", "0"], "--steps must be at least 1"),
    (["run", "examples/lif_held.eqs", "--steps", "3", "--plot", "no/such/folder/x.png"],
     "does not exist"),
    (["run", "examples/lif_held.eqs", "--steps", "3", "--plot", "raster.docx"],
     "cannot write a figure as .docx"),
    (["compare", "examples/lif_held.eqs", "--tolerance", "nan"], "--tolerance must be"),
    (["compare", "examples/lif_held.eqs", "--tolerance", "-1"], "--tolerance must be"),
    (["compare", "examples/lif_held.eqs", "--tolerance", "inf"], "--tolerance must be"),
    (["run", "examples/lif_held.eqs", "--steps", "3", "--dt", "nan"], "dt must be"),
]


@pytest.mark.parametrize("argv, fragment", CLI_FAILURES,
                         ids=[" ".join(map(str, a[:1] + a[2:]))[:40] for a, _ in CLI_FAILURES])
def test_cli_failures_exit_non_zero_with_a_message(argv, fragment, tmp_path):
    done = _cli(*argv)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: ") and fragment in done.stderr
    assert not (ROOT / "raster.docx").exists()


def test_cli_reports_an_unexpected_exception_in_one_line(monkeypatch, capsys):
    from eqsnn.tools import cli

    helpers.list_command_raising(monkeypatch, ZeroDivisionError("float division by zero"))
    assert cli.main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ZeroDivisionError: float division by zero\nhint:")


# --- the API -----------------------------------------------------------------
TEXT = (ROOT / "examples" / "lif_held.eqs").read_text()


@pytest.mark.parametrize("switches", [[1], "relative_reset", {1: True}, {"x": [1]},
                                      {"x": math.nan}, {"x": {}}])
def test_bad_switches_are_parameter_errors(switches):
    with pytest.raises(ParameterError, match="switch"):
        eqsnn.compile(TEXT, switches=switches)


def test_text_that_is_not_a_str():
    with pytest.raises(ParseError, match="must be a str"):
        eqsnn.compile(TEXT.encode())


# --- Hypothesis over the large classes ---------------------------------------
@HYPOTHESIS
@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_int_literals_inside_int32_run_identically_outside_are_check_errors(value):
    text = f"neuron N\n    state c: int = 0\n    after:\n        c = {value}\n"
    if -(2**31) < value <= 2**31 - 1:
        sim = eqsnn.Simulator(eqsnn.compile(text), 2)
        assert sim.run(2, record=["c"]).vars["c"][-1, 0, 0] == value
    else:
        with pytest.raises(errors.CheckError, match="int32") as caught:
            eqsnn.compile(text)
        assert caught.value.line == 4


@HYPOTHESIS
@given(st.lists(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), min_size=1, max_size=4),
       st.lists(st.integers(-3, 3), min_size=5, max_size=5))
def test_chained_comparisons_mean_what_python_means(ops, numbers):
    terms = [str(n) for n in numbers[:len(ops) + 1]]
    chain = terms[0] + "".join(f" {op} {t}" for op, t in zip(ops, terms[1:]))
    text = f"neuron N\n    state b: bool = false\n    after:\n        b = {chain}\n"
    sim = eqsnn.Simulator(eqsnn.compile(text), 1)
    assert bool(sim.run(1, record=["b"]).vars["b"][0, 0, 0]) == eval(chain)  # Python's meaning


@HYPOTHESIS
@given(st.binary(min_size=1, max_size=8).filter(lambda b: not _is_utf8(b)),
       st.integers(0, 3))
def test_bytes_that_are_not_utf8_are_a_located_parse_error(junk, where):
    lines = [b"neuron N", b"    state V = 0.0", b"    # comment", b"    after:",
             b"        V += 1"]
    lines[1 + where] = lines[1 + where] + b" # " + junk if where != 1 else b"    # " + junk
    data = b"\n".join(lines) + b"\n"
    expected_line = data.count(b"\n", 0, _first_bad(data)) + 1
    with pytest.raises(ParseError, match="not UTF-8") as caught:
        eqsnn.model.decode(data, "x.eqs")
    assert caught.value.line == expected_line


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _first_bad(data: bytes) -> int:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    raise AssertionError("all UTF-8")


@HYPOTHESIS
@given(st.text(alphabet=" \t", min_size=1, max_size=6).filter(lambda s: "\t" in s))
def test_any_tab_in_indentation_is_an_error_never_a_silent_block_change(indent):
    text = (f"neuron N\n    state V = 0.0\n    after:\n        if V > 1:\n"
            f"            V = 0\n{indent}V = V + 1\n")
    with pytest.raises(ParseError, match="tab") as caught:
        eqsnn.compile(text)
    assert caught.value.line == 6


@HYPOTHESIS
@given(st.integers(1, 3_000_000), st.sampled_from(["state", "record", "param"]))
def test_long_names_are_clipped_in_messages(length, where):
    name = "Z" * length
    if where == "state":
        call = lambda: eqsnn.compile(f"neuron N\n    state V = {name}\n")  # noqa: E731
    else:
        sim = eqsnn.Simulator(eqsnn.compile("neuron N\n    param p = 1.0\n    state V = 0.0\n"),
                              1)
        call = (lambda: sim.run(1, record=[name])) if where == "record" else (  # noqa: E731
            lambda: eqsnn.Simulator(sim.model, 1, params={name: 1.0}))
    with pytest.raises(EqsnnError) as caught:
        call()
    assert len(str(caught.value)) < 2000


INT_OPS = "neuron IntOps\n    state a: int = 0\n    state d: int = 0\n" + "".join(
    f"    state r{k}: int = 0\n" for k in range(7)) + "    after:\n" + "".join(
    f"        r{k} = a {op} d\n" for k, op in enumerate(["+", "-", "*", "//", "%"])) + (
    "        r5 = a ** 3\n        r6 = a ** 41\n")


def _int32(value: int) -> int:
    return (value + 2**31) % 2**32 - 2**31


def _int_oracle(a: int, d: int) -> list[int]:
    """int32 arithmetic as documented: wrap around; floored // and %, 0 for a zero divisor."""
    return [_int32(a + d), _int32(a - d), _int32(a * d), 0 if d == 0 else _int32(a // d),
            0 if d == 0 else _int32(a % d), _int32(a**3), _int32(a**41)]


INT32 = st.one_of(st.integers(-(2**31), 2**31 - 1),
                  st.sampled_from([-(2**31), -(2**31) + 1, -1, 0, 1, 2**31 - 1, 2**24 + 1]))


@HYPOTHESIS
@given(st.lists(st.tuples(INT32, INT32), min_size=1, max_size=16))
@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_int_arithmetic_is_int32_on_every_backend(backend, pairs):
    """Float32 models too: ``//`` of ints is exact (it once went through a float32
    division), ``-2**31 % -1`` no longer traps in C, and ``**`` of ints wraps (large
    exponents once went through a float ``pow`` and an overflowing cast)."""
    a = np.array([p[0] for p in pairs])
    d = np.array([p[1] for p in pairs])
    sim = eqsnn.Simulator(eqsnn.compile(INT_OPS), len(pairs), backend=backend,
                          precision="float32", init={"a": a, "d": d})
    got = sim.run(1, record=[f"r{k}" for k in range(7)]).vars
    for i, (x, y) in enumerate(pairs):
        assert [int(got[f"r{k}"][0, 0, i]) for k in range(7)] == _int_oracle(x, y), (x, y)
