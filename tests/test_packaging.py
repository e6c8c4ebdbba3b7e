"""The package installs without an editable checkout, carries its data, and stays lint-clean."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_plain_install_carries_grammar_and_library(tmp_path):
    target = tmp_path / "site"
    build = tmp_path / "src"
    shutil.copytree(ROOT, build, ignore=shutil.ignore_patterns(
        ".git", "*.egg-info", "build", "__pycache__", ".hypothesis", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(build)], check=True,
                   cwd=tmp_path)
    assert (target / "eqsnn" / "frontend" / "grammar" / "eqsnn.lark").exists()
    library = list((target / "eqsnn" / "neurons").glob("*.eqs"))
    code = ("import eqsnn, eqsnn.neurons as n; "
            "m = eqsnn.compile('neuron M\\n    state V = 1.0\\n    dV/dt = -V\\n'); "
            "print(m.method, len(n.NAMES) if hasattr(n, 'NAMES') else 0)")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH":
                         str(target)}, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "exact"
    assert out.stderr == ""
    assert len(library) >= 10


def test_ruff_is_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install eqsnn[test])")
    result = subprocess.run([ruff, "check", "eqsnn", "tests", "bench"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
