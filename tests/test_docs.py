"""Every eqs snippet in docs/ and the README compiles, so the docs follow the grammar, and
their Python blocks run."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import warnings

import fake_cupy
import pytest
from test_backend_equivalence import gpu_available

import eqsnn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SNIPPETS = []
DOC_FILES = sorted(glob.glob(os.path.join(ROOT, "docs/**/*.md"), recursive=True)) + [
    os.path.join(ROOT, "README.md")]
for path in DOC_FILES:
    for k, block in enumerate(re.findall(r"```eqs\n(.*?)```", open(path).read(), re.S)):
        SNIPPETS.append(pytest.param(block, id=f"{os.path.relpath(path, ROOT)}#{k}"))


def test_docs_have_snippets():
    assert len(SNIPPETS) >= 7


@pytest.mark.parametrize("snippet", SNIPPETS)
def test_snippet_compiles(snippet):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = eqsnn.compile(snippet)
    assert model.name


PAGES = {}
for path in DOC_FILES:
    blocks = re.findall(r"```python\n(.*?)```", open(path).read(), re.S)
    if blocks:
        PAGES[os.path.relpath(path, ROOT)] = blocks


@pytest.mark.parametrize("page", sorted(PAGES))
def test_python_snippets_run(page, tmp_path, monkeypatch):
    """The Python blocks of a page run in order, in one namespace, like a reader would."""
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    namespace: dict = {}
    # without a GPU, cupy snippets run on the CPU emulation of tests/fake_cupy.py
    emulated = fake_cupy.installed() if not gpu_available() else contextlib.nullcontext()
    with warnings.catch_warnings(), emulated:
        warnings.simplefilter("ignore")
        for block in PAGES[page]:
            exec(compile(block, page, "exec"), namespace)
