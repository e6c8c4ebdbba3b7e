"""The build cache of the ``c`` backend: a folder whose entries cannot hurt.

* The folder is ``$EQSNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/eqsnn``, else
  ``~/.cache/eqsnn``.  When it cannot be used (it is a file, it cannot be
  created, it is read-only), a private temporary folder is used instead, for
  the rest of the process, and one warning on stderr says so.
* An entry is a file (a shared library, a probe's answer) and a sidecar
  ``<name>.sum`` holding the file's size and SHA-256.  The file is written to
  a temporary name, fsync'd, renamed into place, and only then is the sidecar
  written the same way: an entry whose file is missing, not a regular file,
  of another size or another hash (a truncated library, a crash half-way, a
  concurrent writer, a disk error) is invalid, and :func:`valid` says so
  *before* anything loads it.  Invalid entries are rebuilt, never loaded.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

__all__ = ["directory", "give_up", "valid", "read", "publish", "store", "discard",
           "verified_copy"]

#: first line of a sidecar; bump when its layout changes
SUM_HEADER = "eqsnn-cache-entry 1"

_fallbacks: dict[str, Path] = {}  # configured folder -> the private folder used instead
_lock = threading.Lock()


def configured() -> Path:
    """The folder the environment asks for (not yet checked)."""
    if os.environ.get("EQSNN_CACHE_DIR"):
        return Path(os.environ["EQSNN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "eqsnn"


def directory() -> Path:
    """The cache folder: the configured one if it is usable, else a private temporary one."""
    path = configured()
    key = str(path)
    if key in _fallbacks:
        return _fallbacks[key]
    problem = _unusable(path)
    if problem is None:
        return path
    return give_up(path, problem)


def give_up(path: Path, problem: str) -> Path:
    """Stop using the configured folder ``path`` for this process: warn once on stderr and
    return the private temporary folder used from now on."""
    key = str(path)
    with _lock:  # threads giving up at once share one folder and one warning
        if key in _fallbacks:
            return _fallbacks[key]
        private = Path(tempfile.mkdtemp(prefix="eqsnn-cache-"))
        atexit.register(shutil.rmtree, private, ignore_errors=True)  # loaded copies live on
        _fallbacks[key] = private
        print(f"eqsnn: warning: the cache folder {_shown(key)} cannot be used ({problem}); "
              f"compiled code goes to {private} for this run, and is compiled again next "
              "time. Set EQSNN_CACHE_DIR to a writable folder to keep it.", file=sys.stderr)
    return _fallbacks[key]


def _shown(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _unusable(path: Path) -> str | None:
    """Why ``path`` cannot be the cache folder, or ``None`` when it can."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return "it exists and is not a folder"
    except OSError as exc:
        return f"it cannot be created: {exc.strerror or exc}"
    if not path.is_dir():
        return "it is not a folder"
    try:
        handle, probe = tempfile.mkstemp(dir=path, prefix=".eqsnn-write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        return f"it is not writable: {exc.strerror or exc}"
    return None


def _sum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sum")


def _digest(path: Path) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            sha.update(block)
            size += len(block)
    return size, sha.hexdigest()


def _sum_text(size: int, digest: str) -> bytes:
    return f"{SUM_HEADER}\nsize {size}\nsha256 {digest}\n".encode()


def valid(path: Path) -> bool:
    """Whether ``path`` is a complete entry: a regular file whose size and SHA-256 are
    those its sidecar recorded when it was written."""
    try:
        if not path.is_file() or not _sum_path(path).is_file():
            return False
        recorded = _sum_path(path).read_bytes()
        if path.stat().st_size != _recorded_size(recorded):
            return False  # cheap check first: a truncated file is never hashed
        return recorded == _sum_text(*_digest(path))
    except (OSError, ValueError):
        return False


def _recorded_size(recorded: bytes) -> int:
    lines = recorded.decode("ascii").split("\n")
    if len(lines) < 2 or lines[0] != SUM_HEADER or not lines[1].startswith("size "):
        raise ValueError("not a sidecar")
    return int(lines[1][5:])


def read(path: Path) -> bytes | None:
    """The contents of a valid entry, else ``None``."""
    if not valid(path):
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def verified_copy(path: Path) -> str | None:
    """A private copy of the valid entry ``path`` (bytes read once, checked against the
    sidecar, written to a new file next to it), or ``None`` when the entry is not valid.

    Loading the copy, not the entry, means that what is loaded is exactly what was
    checked, even if another process replaces or damages the entry meanwhile; the caller
    removes the copy once it is loaded.
    """
    try:
        recorded = _sum_path(path).read_bytes()
        data = path.read_bytes()
        if len(data) != _recorded_size(recorded):
            return None
        if recorded != _sum_text(len(data), hashlib.sha256(data).hexdigest()):
            return None
        handle, copy = tempfile.mkstemp(dir=path.parent, prefix=".load-", suffix=path.suffix)
    except (OSError, ValueError):
        return None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
    except OSError:
        _unlink(copy)
        return None
    return copy


def _fsync_folder(folder: Path) -> None:
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not every system opens folders
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _write_file(path: Path, data: bytes) -> None:
    """``data`` to a temporary file next to ``path``, fsync'd, then renamed onto ``path``."""
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:60]}-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        _replace(partial, path)
    except BaseException:
        _unlink(partial)
        raise


def _replace(partial: str, path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    os.replace(partial, path)


def publish(partial: str, path: Path) -> None:
    """Make the finished file ``partial`` (in the same folder) the entry ``path``."""
    try:
        with open(partial, "rb+") as out:
            os.fsync(out.fileno())
        size, digest = _digest(Path(partial))
        # a reader that meets the new file with the old sidecar finds another hash (or, from
        # an identical build, the same one): it never trusts a file that does not match
        _replace(partial, path)
        _fsync_folder(path.parent)
    except BaseException:
        _unlink(partial)
        raise
    _write_file(_sum_path(path), _sum_text(size, digest))
    _fsync_folder(path.parent)


def store(path: Path, data: bytes) -> None:
    """Write the entry ``path`` with contents ``data``."""
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:60]}-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    publish(partial, path)


def discard(path: Path) -> None:
    """Remove an entry (whatever is in its place: a file, a folder) and its sidecar;
    what cannot be removed is left to be replaced."""
    for each in (path, _sum_path(path)):
        if each.is_dir() and not each.is_symlink():
            shutil.rmtree(each, ignore_errors=True)
        else:
            _unlink(each)


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
