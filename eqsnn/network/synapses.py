"""Standard-library synapse (postsynaptic) models over ``.eqs`` files.

``Delta`` and ``Exponential(tau, scale_i)`` have ml_genn 2.x's semantics;
``ExpCurr``/``ExpCond`` and ``AlphaCurr``/``AlphaCond`` are the usual current-
and conductance-based exponential and alpha synapses.  Each object gives the
network its compiled model and its params (:meth:`Synapse.build`).
"""

from __future__ import annotations

import functools
import numbers
from importlib import resources

from ..errors import LibraryError
from ..model import compile

__all__ = ["AlphaCond", "AlphaCurr", "Delta", "ExpCond", "ExpCurr", "Exponential", "Synapse"]


@functools.cache
def _model(file: str, switches: tuple):
    text = resources.files("eqsnn").joinpath(f"network/synapses/{file}.eqs").read_text()
    return compile(text, filename=f"{file}.eqs", switches=dict(switches))


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise LibraryError(f"{name} must be a number, not {value!r}")
    return float(value)


class Synapse:
    """A standard-library synapse: ``file`` names its model, ``params`` its values."""

    file = ""

    def __init__(self, **params):
        self.params = {name: _number(name, value) for name, value in params.items()}
        self.switches: dict = {}

    def build(self):
        """``(eqsnn.Model, params)`` for the network."""
        return _model(self.file, tuple(sorted(self.switches.items()))), dict(self.params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in {**self.params, **self.switches}.items())
        return f"{type(self).__name__}({args})"


class Delta(Synapse):
    """ml_genn ``Delta``: the summed weight is the target's input in its arrival step."""

    file = "delta"

    def __init__(self):
        super().__init__()


class Exponential(Synapse):
    """ml_genn ``Exponential(tau=5.0, scale_i=False)``: an exponentially decaying current."""

    file = "exponential"

    def __init__(self, tau=5.0, scale_i: bool = False):
        super().__init__(tau=tau)
        if not isinstance(scale_i, bool):
            raise LibraryError(f"scale_i must be True or False, not {scale_i!r}")
        self.switches = {"scale_i": scale_i}


class ExpCurr(Synapse):
    """Exponentially decaying current with time constant ``tau`` (ms)."""

    file = "exponential"

    def __init__(self, tau=5.0):
        super().__init__(tau=tau)
        self.switches = {"scale_i": False}


class ExpCond(Synapse):
    """Exponentially decaying conductance: the target receives ``g (E - V)``."""

    file = "exp_cond"

    def __init__(self, tau=5.0, E=0.0):
        super().__init__(tau=tau, E=E)


class AlphaCurr(Synapse):
    """Alpha-shaped current peaking at the weight a time ``tau`` after the spike."""

    file = "alpha_curr"

    def __init__(self, tau=5.0):
        super().__init__(tau=tau)


class AlphaCond(Synapse):
    """Alpha-shaped conductance: the target receives ``g (E - V)``."""

    file = "alpha_cond"

    def __init__(self, tau=5.0, E=0.0):
        super().__init__(tau=tau, E=E)
