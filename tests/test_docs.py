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


def _command_lines(text):
    """The ``eqsnn ...`` command lines of a page: in its code blocks (continuation lines
    joined, comments cut) and in its inline code."""
    for block in re.findall(r"```[^\n]*\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("eqsnn "):
                yield line.split("#")[0]
    yield from re.findall(r"`(eqsnn [^`\n]+)`", text)


def test_command_lines_in_docs_use_commands_and_options_the_cli_has():
    """A renamed or removed subcommand or option leaves no stale command line behind."""
    import argparse

    from eqsnn.tools.cli import build_parser

    subparsers = next(action for action in build_parser()._actions
                      if isinstance(action, argparse._SubParsersAction))
    options = {name: {option for action in parser._actions for option in action.option_strings}
               for name, parser in subparsers.choices.items()}
    seen, stale = 0, []
    for path in DOC_FILES:
        for command in _command_lines(open(path).read()):
            words = command.split()
            if len(words) < 2 or words[1].isupper():  # eqsnn COMMAND --help
                continue
            seen += 1
            if words[1] not in options:
                stale.append(f"{os.path.relpath(path, ROOT)}: {command!r}: no command {words[1]!r}")
                continue
            stale += [f"{os.path.relpath(path, ROOT)}: {command!r}: eqsnn {words[1]} has no {word}"
                      for word in words[2:]
                      if word.startswith("--") and word.split("=")[0] not in options[words[1]]]
    assert seen >= 30 and not stale, "\n".join(stale)


#: paths the pages name that are not files of this repository
FOREIGN_PATHS = {"tests/kat_vectors"}  # Random123's known-answer vectors (docs/random.md)


def test_repository_paths_in_docs_exist():
    """Every file or folder of the repository a page names (``eqsnn/...``, ``tests/...``,
    ``bench/...``, ``examples/...``; ``solve/adaptive.py``-style paths inside ``eqsnn/``)
    exists, so a moved or deleted module leaves no stale reference behind."""
    rooted = re.compile(r"(?<![\w/.-])((?:eqsnn|tests|bench|examples|docs|\.ci)/[\w/.-]*\w)")
    inside = re.compile(r"`((?:frontend|solve|ir|printing|backends|runtime|network|neurons|"
                        r"readouts|stdlib|genn|tools)/[\w/.-]*\.\w+)`")
    seen, missing = 0, []
    for path in DOC_FILES:
        text = open(path).read()
        named = [p for p in rooted.findall(text) if p not in FOREIGN_PATHS]
        named += ["eqsnn/" + p for p in inside.findall(text)]
        for name in named:
            seen += 1
            here = os.path.join(ROOT, name)
            # a model named by its path without .eqs (a table of examples)
            if not (os.path.exists(here) or os.path.exists(here + ".eqs")):
                missing.append(f"{os.path.relpath(path, ROOT)}: {name}")
    assert seen >= 100 and not missing, "\n".join(missing)


def _resolves(dotted: str) -> bool:
    """Whether ``eqsnn.a.b.c`` names a module, or an attribute of one."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            if not hasattr(found, part):
                return False
            found = getattr(found, part)
        return True
    return False


def test_eqsnn_names_in_docs_exist():
    """Every ``eqsnn.x.y`` the pages name in their inline code (a module, class, function
    or constant) can be imported, so a renamed or moved one leaves no stale name behind."""
    named = re.compile(r"(?<![\w/.])(eqsnn(?:\.[A-Za-z_]\w*)+)")
    seen, missing = 0, []
    for path in DOC_FILES:
        for span in re.findall(r"`([^`\n]+)`", open(path).read()):
            for dotted in named.findall(span):
                if dotted.endswith((".eqs", ".lark")):  # a file name
                    continue
                seen += 1
                if not _resolves(dotted):
                    missing.append(f"{os.path.relpath(path, ROOT)}: {dotted}")
    assert seen >= 80 and not missing, "\n".join(missing)
