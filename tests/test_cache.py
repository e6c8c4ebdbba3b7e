"""The c backend's build cache: damaged entries are rebuilt, never loaded; a folder that
cannot be used falls back to a private one with one warning; compiler failures are
BackendErrors that carry the compiler's output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import helpers
import numpy as np
import pytest

from eqsnn.backends import EmitOptions, _cache
from eqsnn.backends import _toolchain as toolchain
from eqsnn.backends import c as c_backend
from eqsnn.errors import BackendError

pytestmark = pytest.mark.c

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("EQSNN_CACHE_DIR", str(path))
    return path


def _source(name="CacheEntry"):
    return c_backend.emit(helpers.lif().replace(name=name), EmitOptions("float32"))


def _spikes(program) -> np.ndarray:
    """A short run of the loaded library: it must work, whatever the cache held before."""
    from eqsnn.backends import Instance

    model = program.source.model
    assert {p.name for p in model.params} == {"v_thresh", "v_reset", "tau_mem"}
    values = {"v_thresh": 1.0, "v_reset": 0.0, "tau_mem": 20.0, "Alpha": np.exp(-1 / 20)}
    instance = Instance(4, 1, 1.0, "float32", values, {}, {}, 0)
    runner = program.start(instance)
    return runner.run(30, 0, {"Isyn": np.full((1, 1, 1), 0.2)}, {"V": None}, False).vars["V"]


DAMAGES = {
    "truncated": lambda path: os.truncate(path, 8192),
    "empty": lambda path: os.truncate(path, 0),
    "random bytes": lambda path: path.write_bytes(np.random.default_rng(1).bytes(20000)),
    "one flipped byte": lambda path: path.write_bytes(
        path.read_bytes()[:4000] + bytes([path.read_bytes()[4000] ^ 1]) + path.read_bytes()[4001:]),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_library_is_rebuilt_not_loaded(fresh_cache, damage):
    """Damaged in place, even while this process has it loaded: the loaded library is a
    private copy, and the damaged entry is rebuilt, not loaded."""
    first = c_backend.load(_source())
    expected = _spikes(first)
    DAMAGES[damage](first.path)
    np.testing.assert_array_equal(_spikes(first), expected)  # the loaded copy is intact
    again = c_backend.load(_source())
    assert not again.cached and again.path == first.path
    np.testing.assert_array_equal(_spikes(again), expected)
    assert c_backend.load(_source()).cached  # and the rebuilt entry is valid again
    assert not [p.name for p in fresh_cache.iterdir() if p.name.startswith(".")]


def test_a_truncated_library_does_not_kill_a_new_interpreter(fresh_cache):
    """The case that used to SIGBUS: a later process finds the truncated file."""
    first = c_backend.load(_source("Truncated"))
    os.truncate(first.path, 8192)
    script = textwrap.dedent("""
        import sys
        sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
        import helpers
        from eqsnn.backends import EmitOptions, c
        program = c.load(c.emit(helpers.lif().replace(name="Truncated"), EmitOptions("float32")))
        print("cached" if program.cached else "rebuilt")
    """)
    done = subprocess.run([sys.executable, "-c", script, str(ROOT)], capture_output=True,
                          text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "rebuilt"


def test_a_folder_or_a_missing_checksum_in_place_of_the_library(fresh_cache):
    first = c_backend.load(_source())
    first.path.unlink()
    first.path.mkdir()
    (first.path / "inside").write_text("x")
    assert not c_backend.load(_source()).cached
    assert first.path.is_file()
    Path(str(first.path) + ".sum").unlink()  # a library from before checksums, or a crash
    assert not c_backend.load(_source()).cached
    assert c_backend.load(_source()).cached


def test_a_damaged_checksum_means_a_rebuild(fresh_cache):
    first = c_backend.load(_source())
    Path(str(first.path) + ".sum").write_bytes(b"\xff\xfe garbage")
    assert not c_backend.load(_source()).cached


def _warned(capfd) -> list[str]:
    return [line for line in capfd.readouterr().err.splitlines() if "cannot be used" in line]


def test_a_cache_path_that_is_a_file_falls_back_with_one_warning(tmp_path, monkeypatch,
                                                                 capfd):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("EQSNN_CACHE_DIR", str(blocker))
    first = c_backend.load(_source())
    second = c_backend.load(_source("Other"))
    assert blocker.read_text() == "not a folder"
    assert first.path.parent == second.path.parent != blocker
    warnings = _warned(capfd)
    assert len(warnings) == 1 and str(blocker) in warnings[0] and "EQSNN_CACHE_DIR" in warnings[0]
    np.testing.assert_array_equal(_spikes(first), _spikes(first))


def test_a_cache_path_inside_a_file_falls_back(tmp_path, monkeypatch, capfd):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("EQSNN_CACHE_DIR", str(tmp_path / "file" / "cache"))
    assert not c_backend.load(_source()).cached
    assert len(_warned(capfd)) == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_a_read_only_cache_falls_back(tmp_path, monkeypatch, capfd):
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        monkeypatch.setenv("EQSNN_CACHE_DIR", str(folder))
        program = c_backend.load(_source())
        assert program.path.parent != folder and not list(folder.iterdir())
        assert len(_warned(capfd)) == 1
    finally:
        folder.chmod(0o700)


def test_an_unwritable_folder_is_detected(tmp_path, monkeypatch):
    """Whatever the user (root too): a folder where creating a file fails is not used."""
    monkeypatch.setenv("EQSNN_CACHE_DIR", str(tmp_path / "c"))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(_cache.tempfile, "mkstemp", refuse)
        assert "not writable" in _cache._unusable(tmp_path / "c")


@pytest.mark.slow
def test_stdout_is_the_same_with_a_bad_cache(tmp_path):
    (tmp_path / "model.eqs").write_text((ROOT / "examples" / "lif_held.eqs").read_text())
    (tmp_path / "file").write_text("")
    outs = []
    for cache in (tmp_path / "good", tmp_path / "file"):
        env = {**os.environ, "EQSNN_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-m", "eqsnn", "run", str(tmp_path / "model.eqs"),
                               "--backend", "c", "--steps", "20"],
                              capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stderr
        outs.append(done)
    assert outs[0].stdout == outs[1].stdout
    assert "cannot be used" in outs[1].stderr and "cannot be used" not in outs[0].stderr


def test_a_compiler_that_always_fails_is_a_backend_error_with_its_output(fresh_cache,
                                                                          tmp_path, monkeypatch):
    fake = tmp_path / "fakecc"
    fake.write_text("#!/bin/sh\necho 'fakecc: licence expired' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CC", str(fake))
    with pytest.raises(toolchain.CompilerError) as caught:
        c_backend.load(_source())
    assert isinstance(caught.value, BackendError)
    assert "licence expired" in caught.value.output and "licence expired" in str(caught.value)
    assert "cannot build a shared library" in str(caught.value)
    assert "bug in eqsnn" not in str(caught.value)
    assert not list(fresh_cache.glob("*.so"))


def test_a_compiler_that_writes_nothing_is_an_error(fresh_cache, monkeypatch):
    true = shutil.which("true")
    if true is None:
        pytest.skip("no `true` command")
    monkeypatch.setenv("CC", true)
    with pytest.raises(BackendError, match="wrote no library"):
        c_backend.load(_source())
    assert not list(fresh_cache.glob("*.so"))


def test_damaged_probe_answers_are_probed_again(fresh_cache):
    toolchain._supports.cache_clear()
    toolchain._vector_math.cache_clear()
    command = toolchain.find_compiler()
    expected = toolchain.compiler_flags(command, False)
    memos = sorted(fresh_cache.glob("probe-*.txt"))
    assert memos
    for memo in memos:
        memo.write_bytes(b"\x00garbage")
    toolchain._supports.cache_clear()
    toolchain._vector_math.cache_clear()
    assert toolchain.compiler_flags(command, False) == expected
    assert all(memo.read_bytes() in (b"0", b"1") for memo in memos)
    assert all(_cache.valid(memo) for memo in memos)


def test_concurrent_compiles_of_one_model_agree(fresh_cache):
    source = _source("Concurrent")
    programs, errors = [], []

    def load():
        try:
            programs.append(c_backend.load(source))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(programs) == 4
    assert len({p.path for p in programs}) == 1 and _cache.valid(programs[0].path)
    runs = [_spikes(p) for p in programs]
    for run in runs[1:]:
        np.testing.assert_array_equal(run, runs[0])
    leftovers = [p.name for p in fresh_cache.iterdir() if p.name.startswith(".")]
    assert not leftovers


@pytest.mark.slow
def test_processes_compiling_one_model_at_once_agree(fresh_cache):
    """Three interpreters compile and load the same new model at the same time."""
    script = textwrap.dedent("""
        import sys
        sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
        import numpy as np
        import helpers
        from eqsnn import Simulator
        sim = Simulator(helpers.lif().replace(name="Race"), 5, backend="c", precision="float64")
        v = sim.run(40, inputs={"Isyn": 0.2}, record=["V"]).vars["V"]
        print(repr(float(v.sum())))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(ROOT)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=os.environ.copy())
             for _ in range(3)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1
    libraries = list(fresh_cache.glob("Race*.so"))
    assert len(libraries) == 1 and _cache.valid(libraries[0])
    assert not [p.name for p in fresh_cache.iterdir() if p.name.startswith(".")]
