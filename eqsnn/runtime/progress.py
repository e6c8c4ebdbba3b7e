"""Running a backend in pieces, to show a progress bar on long runs.

With ``progress=None`` the run starts with pieces of 1, 2, 4, ... steps
until ``PROBE_SECONDS`` have passed, estimates the whole run from them, and
shows a tqdm bar for the rest when the estimate exceeds ``BAR_SECONDS``
(``progress=True`` always shows it, ``False`` never, and runs in one piece).
Pieces do not change the results: each continues from the step counter
where the previous one ended.
"""

from __future__ import annotations

import time

from .recording import concatenate_runs
from .spike_bits import SpikeBits

__all__ = ["run_with_progress"]

PROBE_SECONDS = 0.05
BAR_SECONDS = 2.0
#: a piece of the bar's part of the run lasts about this long
PIECE_SECONDS = 0.2


def _piece_inputs(inputs: dict, start: int, stop: int) -> dict:
    """Per-step inputs cut to steps ``start:stop``; held ones (leading 1) unchanged."""
    return {name: value if value.shape[0] == 1 else value[start:stop]
            for name, value in inputs.items()}


def run_with_progress(runner, steps, step0, inputs, record, spikes, progress) -> tuple:
    """``(RawRun, seconds in the backend)`` of ``steps`` steps from step ``step0``.

    ``spikes`` is false, or the :class:`~eqsnn.runtime.spike_bits.SpikeBits` of the whole
    run, which each piece writes its steps of.
    """
    runs, lengths, elapsed, done = [], [], 0.0, 0
    bits = spikes if isinstance(spikes, SpikeBits) else None

    def piece(length: int) -> None:
        nonlocal elapsed, done
        started = time.perf_counter()
        part = bits.part(done, done + length) if bits is not None else spikes
        raw = runner.run(length, step0 + done, _piece_inputs(inputs, done, done + length),
                         record, part)
        if bits is not None and raw.spike_bits is None:  # a runner that lists its spikes
            part.write_lists(raw.spike_step, raw.spike_batch, raw.spike_neuron, raw.spike_sign)
        runs.append(raw)
        elapsed += time.perf_counter() - started
        lengths.append(length)
        done += length

    if progress is False or steps == 0:
        piece(steps)
        return concatenate_runs(runs, lengths, bits), elapsed
    length = 1
    while done < steps and (done == 0 or elapsed < PROBE_SECONDS):
        piece(min(length, steps - done))
        length *= 2
    per_step = elapsed / done
    if progress is True or (done < steps and per_step * steps > BAR_SECONDS):
        from tqdm.auto import tqdm

        size = max(1, int(PIECE_SECONDS / max(per_step, 1e-9)))
        with tqdm(total=steps, initial=done, unit="step", leave=False) as bar:
            while done < steps:
                before = done
                piece(min(size, steps - done))
                bar.update(done - before)
    elif done < steps:
        piece(steps - done)
    return concatenate_runs(runs, lengths, bits), elapsed

