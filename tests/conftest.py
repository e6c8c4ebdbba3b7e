import contextlib
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


def _pin_local_constants() -> None:
    """Draw no constants from the project's own modules.

    Hypothesis (6.131 and later) now and then draws a number it found in the source of the
    local modules in ``sys.modules`` (eqsnn's, here; not the tests').  Which of eqsnn's
    modules are imported depends on which test files were collected and which tests ran
    before, so the derandomized examples of a test differed between a run of its file
    alone and the full suite (and changed with any literal added to eqsnn).  The profile
    ``eqsnn`` draws from Hypothesis's own constants only; ``explore`` keeps both.
    ``tests/test_hypothesis_determinism.py`` fails if this stops working."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover -- an older Hypothesis has no local constants
        return
    if not hasattr(providers, "_get_local_constants"):  # pragma: no cover -- as above
        return
    none = providers.Constants()
    providers._get_local_constants = lambda: none  # nothing has drawn yet: no cache to clear


if settings.default.derandomize:
    _pin_local_constants()

sys.path.insert(0, os.path.dirname(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def emulated_cupy():
    """``import cupy`` gives the CPU emulation of ``tests/fake_cupy.py`` unless a GPU is
    there; the cupy test files ask for it with ``pytest.mark.usefixtures``."""
    import fake_cupy
    from test_backend_equivalence import gpu_available

    with fake_cupy.installed() if not gpu_available() else contextlib.nullcontext():
        yield


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch):
    # examples are referred to by their path in the repository
    monkeypatch.chdir(ROOT)


def pytest_collection_modifyitems(config, items):
    no_cc = shutil.which("cc") is None and shutil.which("gcc") is None
    for item in items:
        if no_cc and "c" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="no C compiler on this machine"))
