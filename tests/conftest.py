import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch):
    # examples are referred to by their path in the repository
    monkeypatch.chdir(ROOT)


def pytest_collection_modifyitems(config, items):
    no_cc = shutil.which("cc") is None and shutil.which("gcc") is None
    for item in items:
        if no_cc and "c" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="no C compiler on this machine"))
