"""Where each spike lies inside its step (``Result.spikes.offset``).

A model run with the adaptive method locates a threshold crossing inside the
step and keeps its time from the step's start in a hidden state
(:data:`~eqsnn.solve.adaptive.SPIKE_OFFSET`, ``dt`` where the spike came
from the threshold test at the end of the step).  ``Simulator.run(record=
['spikes', 'spike_offset'])`` records that state (one value per neuron and
step, as a recorded state takes) and hands it to the run's
:class:`~eqsnn.runtime.result.Spikes`, which reads it at each spike.  Every
other model spikes at the end of its step: its offsets are ``dt`` and need
no recording.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import ir
from ..errors import ParameterError
from ..solve.adaptive import SPIKE_OFFSET

__all__ = ["OFFSET_NAME", "SPIKE_OFFSET", "split_offset_request", "spike_offset_source"]

#: the name ``record`` takes for the spikes' offsets
OFFSET_NAME = "spike_offset"


def split_offset_request(model: ir.Model, record):
    """``(record, wanted)``: ``record`` without :data:`OFFSET_NAME`, and whether it was
    there.  Asking for offsets without spikes, or from a model without a threshold, is an
    error."""
    if isinstance(record, str):
        record = (record,)
    if isinstance(record, Mapping):
        names = list(record)
        if OFFSET_NAME in record and record[OFFSET_NAME] is not None:
            raise ParameterError(
                f"record[{OFFSET_NAME!r}] takes no neuron ids: the offsets are read at the "
                "recorded spikes", hint="record={'spikes': ids, 'spike_offset': None}")
        rest = {name: index for name, index in record.items() if name != OFFSET_NAME}
    elif isinstance(record, (list, tuple, set, frozenset)):
        names = list(record)
        rest = type(record)(name for name in record if name != OFFSET_NAME) \
            if not isinstance(record, (set, frozenset)) else \
            {name for name in record if name != OFFSET_NAME}
    else:
        return record, False  # prepare_record words the error
    if OFFSET_NAME not in names:
        return record, False
    if "spikes" not in names:
        raise ParameterError(
            f"record names {OFFSET_NAME!r} but not 'spikes': the offsets belong to the "
            "recorded spikes", hint="record=['spikes', 'spike_offset']")
    return rest, True


def spike_offset_source(model: ir.Model, chosen: dict, record_spikes, wanted: bool,
                        dt: float):
    """What the run's spikes read their offsets from: ``dt`` where the model spikes at the
    end of the step only; else :data:`SPIKE_OFFSET`, added to ``chosen`` (recorded),
    where it was ``wanted``, or a sentence saying how to get them."""
    if record_spikes is False:
        return None
    if SPIKE_OFFSET not in {s.name for s in model.states}:
        return float(dt)
    if not wanted:
        return (f"model {model.name!r} locates threshold crossings inside the step, and the "
                "run did not record where")
    chosen[SPIKE_OFFSET] = None
    return SPIKE_OFFSET
