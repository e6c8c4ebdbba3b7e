"""The neuron loop of a checked model vectorises (GCC's own report), in both its versions."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from eqsnn.backends import _toolchain as toolchain

ROOT = Path(__file__).resolve().parents[1]


def _gcc() -> tuple[str, ...] | None:
    command = toolchain.find_compiler()
    version = subprocess.run([*command, "--version"], capture_output=True, text=True).stdout
    return command if "gcc" in version.lower() or "free software" in version.lower() else None


def _vectorised_lines(command, text: str, tmp_path) -> tuple[set[int], str]:
    """The lines of C ``text`` whose loop GCC reports vectorised, and the report."""
    source = tmp_path / "model.c"
    source.write_text(text)
    flags = [f for f in toolchain.compiler_flags(command, False) if f != "-shared"]
    report = subprocess.run([*command, *flags, "-c", "-fopt-info-vec-optimized", str(source),
                             "-o", str(tmp_path / "model.o")], capture_output=True, text=True)
    assert report.returncode == 0, report.stderr
    return ({int(m) for m in re.findall(r"model\.c:(\d+):\d+: optimized: loop vectorized",
                                        report.stderr)}, report.stderr)


@pytest.mark.skipif(sys.platform.startswith("win"), reason="GCC's vectoriser report")
def test_both_versions_of_the_checked_neuron_loop_vectorise(tmp_path):
    """A network population's step reads the numerical check's run-time switch
    ``_check_all``; the loop over a tile's neurons is printed once with it 1 and once with
    it 0 (a branch on the run-time value inside the loop kept GCC from vectorising it),
    and GCC reports both loops vectorised."""
    command = _gcc()
    if command is None:
        pytest.skip("the vectoriser report is GCC's")
    sys.path.insert(0, str(ROOT / "examples" / "networks"))
    try:
        import vogels_abbott
    finally:
        sys.path.pop(0)
    net = vogels_abbott.cuba(600, seed=0, backend="c", precision="float64")
    net.build()
    text = net.populations["exc"]._sim._runner.program.source.text
    lines = text.splitlines()
    switch = [k for k, line in enumerate(lines) if "every test of the numerical check" in line]
    assert len(switch) == 1
    loops = [k + 1 for k, line in enumerate(lines)
             if line.strip() == "for (j = first; j < last; ++j) {" and k > switch[0]][:2]
    assert len(loops) == 2
    calls = [line for line in lines if "eqsnn_neuron_step(" in line and "=" in line]
    assert len(calls) == 2
    vectorised, report = _vectorised_lines(command, text, tmp_path)
    assert set(loops) <= vectorised, (loops, report)


@pytest.mark.skipif(sys.platform.startswith("win"), reason="GCC's vectoriser report")
def test_the_neuron_loop_of_the_cheap_test_of_a_state_with_bounds_vectorises(tmp_path):
    """A state with bounds is tested in every step; on c its first run folds its bits into
    a few integers per tile (eqsnn.printing.c_check), a reduction GCC vectorises: the loop
    it is in is reported vectorised (per neuron codes made that loop slow)."""
    import eqsnn

    command = _gcc()
    if command is None:
        pytest.skip("the vectoriser report is GCC's")
    text = """
neuron BoundedLif
    param tau = 20.0 (> 0)
    state V = 0.0 (> -1000, < 1000)
    input Isyn = 0.0
    dV/dt = -V / tau
    after: V += Isyn
    threshold: V >= 1.0
    reset: V -= 1.0
"""
    sim = eqsnn.Simulator(eqsnn.compile(text), 1000, backend="c")
    lines = sim.source.text.splitlines()
    cheap = [k for k, line in enumerate(lines) if "the cheap test (eqsnn.printing.c_check)" in line]
    assert len(cheap) == 1
    loop = next(k + 1 for k, line in enumerate(lines)
                if line.strip() == "for (j = first; j < last; ++j) {" and k > cheap[0])
    assert "eqsnn_magnitude" in sim.source.text
    vectorised, report = _vectorised_lines(command, sim.source.text, tmp_path)
    assert loop in vectorised, (loop, report)
