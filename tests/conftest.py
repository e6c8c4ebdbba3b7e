import os
import shutil
import sys

import pytest
from hypothesis import settings

# The suite's Hypothesis tests draw the same examples on every run (CI must not turn red by
# chance) and carry no deadline (no test asserts a time).  HYPOTHESIS_PROFILE=explore draws
# new examples on each run: for hunting bugs, not for CI.
settings.register_profile("eqsnn", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", derandomize=False, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "eqsnn"))

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
