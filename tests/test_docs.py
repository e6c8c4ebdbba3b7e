"""Every eqs snippet in docs/ compiles, so the docs follow the grammar."""

from __future__ import annotations

import glob
import os
import re
import warnings

import pytest

import eqsnn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SNIPPETS = []
for path in sorted(glob.glob(os.path.join(ROOT, "docs/**/*.md"), recursive=True)):
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
