"""The checks :func:`eqsnn.compare` makes before it runs anything: the backends asked for,
and whether the recordings of all of them fit in memory together."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..backends import REGISTRY
from ..errors import EqsnnError, ParameterError

__all__ = ["backend_names", "check_recording_memory"]


def backend_names(backends) -> list[str]:
    """The backends asked for: a list, a comma-separated string ``"numpy,c"`` (as on the
    command line, spaces allowed), or None for every registered one; an EqsnnError for
    none, an empty, unknown or repeated name (it would run twice under one name)."""
    if backends is None:
        return list(REGISTRY)
    registered = f"registered backends: {', '.join(REGISTRY)}"
    text = backends if isinstance(backends, str) else None
    if text is not None:
        backends = [name.strip() for name in text.split(",")] if text.strip() else []
    elif isinstance(backends, Iterable) and not isinstance(backends, (bytes, Mapping)):
        backends = [str(name) if isinstance(name, str) else name for name in backends]
    else:
        backends = [backends]  # refused below: not a name
    if not backends:  # the reference alone would always agree
        raise EqsnnError("no backends given",
                         hint=f"name one or more, e.g. numpy,c; {registered}")
    for name in backends:
        if not isinstance(name, str):
            raise EqsnnError(f"backends must be names such as 'c', not {name!r}",
                             hint=registered)
        if not name:
            raise EqsnnError(f"an empty backend name in {text!r}",
                             hint="separate the names by single commas, e.g. numpy,c")
        if name not in REGISTRY:
            from ..errors import suggest

            raise EqsnnError(f"unknown backend {name!r}",
                             hint=suggest(name, list(REGISTRY)) or registered)
        if backends.count(name) > 1:
            raise EqsnnError(f"backend {name!r} named twice",
                             hint="name each backend once, e.g. numpy,c")
    return backends


def check_recording_memory(ir_model, record, spiking, steps, batch_size, n, precision,
                           runs: int) -> None:
    """Refuse a comparison whose ``runs`` recordings, kept together for the comparison, need
    more than the memory available now (each run checks only its own, so the reference's
    fitted and a later backend's did not, after the reference had run)."""
    from ..runtime import guard
    from ..runtime.arguments import population_shape
    from ..runtime.inputs import is_int

    if ir_model is None or runs < 2 or not is_int(batch_size) or batch_size < 1:
        return  # one run: the Simulator's own check; a bad batch_size: its error
    declared = {state.name for state in ir_model.states}
    chosen = {name: None for name in record if name in declared}  # unknown: refused later
    size = 1
    for dim in population_shape(n):
        size *= dim
    one = guard.record_bytes(ir_model, chosen, spiking, steps, batch_size, size, precision)
    available = guard.available_memory()
    if available is None or runs * one <= available:
        return
    raise ParameterError(
        f"comparing {runs} backends keeps {runs} recordings of {guard._size(one)}, more than "
        f"the {guard._size(available)} available; nothing was run",
        hint="compare fewer steps (--steps), neurons (--n) or backends (--backends), or "
             "fewer states (record=)")
