"""Few-spike ReLU neurons (Stöckl & Maass 2021), ml_genn 2.x ``FewSpikeRelu*``."""

from __future__ import annotations

import math

from ..errors import LibraryNotImplementedError, LibraryValueError
from ..readouts import Var
from .base import Flag, InputBase, Neuron, Option, _number, _positive_int

__all__ = ["FewSpikeRelu", "FewSpikeReluInput"]


#: the largest k: ml_genn's thresholds are 32-bit integer shifts ``1 << (k - 1 - p)``
MAX_K = 31


def _k(name, k) -> int:
    _number(name, k)
    if not math.isfinite(k) or float(k) != int(k):
        raise LibraryValueError(f"{name} must be an integer number of steps, not {k!r}")
    k = _positive_int(name, int(k))
    if k > MAX_K:
        raise LibraryValueError(
            f"{name} must be at most {MAX_K}, not {k}",
            hint=f"ml_genn's thresholds are 32-bit integer shifts, so k <= {MAX_K}; the "
                 "thresholds alpha 2^-k of a larger k underflow the float precision")
    return k


def _alpha(name, alpha) -> float:
    """A positive finite alpha: NaN and infinity would only fail later, as params."""
    _number(name, alpha)
    if not alpha > 0:  # NaN too
        raise LibraryValueError(f"{name} must be > 0, not {alpha!r}")
    if not math.isfinite(alpha):
        raise LibraryValueError(f"{name} must be finite, not {alpha!r}",
                                hint=f"{name} is the largest value a window encodes")
    return float(alpha)


def _even(k, what):
    if k % 2:
        raise LibraryValueError(
            f"{what} needs an even k (got k={k}): each sign gets k/2 bits",
            hint="ml_genn's odd k halves the scale and shifts by a negative amount")


class FewSpikeReluInput(InputBase, Neuron):
    """Encodes a static input as ``k`` bits per window (``few_spike_relu_input.eqs``).

    With ``signed_input`` the negative bits are negative spikes (ml_genn sends
    them as ordinary spikes and lets the receiver apply the sign); ``k`` must
    then be even.  ``k`` is at most 31, as in ml_genn (32-bit integer shifts).
    """

    eqs_name = "few_spike_relu_input"
    signed_input = Flag()
    k = Option(_k)
    alpha = Option(_alpha)

    def __init__(self, k=10, alpha=25, signed_input=False):
        super().__init__(var_name="V")
        self.k = k
        self.alpha = alpha
        self.signed_input = signed_input
        self.check_options()

    def check_options(self):
        if self.signed_input:
            _even(self.k, "a signed FewSpikeReluInput")
        if self.input_frames != 1:
            raise LibraryNotImplementedError(
                "FewSpikeReluInput takes a static input only (as ml_genn), not "
                f"input_frames={self.input_frames}")

    def switches(self):
        return {"signed_input": self.signed_input}

    def extra_params(self):
        return {"k": self.k, "alpha": self.alpha}

    def __repr__(self):
        return (f"FewSpikeReluInput(k={self.k}, alpha={self.alpha}, "
                f"signed_input={self.signed_input})")


class FewSpikeRelu(Neuron):
    """Few-spike ReLU neuron (``few_spike_relu.eqs``); its output variable is ``Fx``.

    ml_genn derives the source populations' alpha and signedness from the
    incoming connections; eqsnn simulates one population, so they are the
    keyword-only ``source_alpha`` (default: this neuron's ``alpha``) and
    ``source_signed``.  Only the ``Var`` readout is supported, as in ml_genn's
    FewSpikeCompiler.  ``k`` is at most 31, as in ml_genn (32-bit integer shifts).
    """

    eqs_name = "few_spike_relu"
    source_signed = Flag()
    k = Option(_k)
    alpha = Option(_alpha)
    source_alpha = Option(_alpha)
    output_var = "Fx"

    def __init__(self, k=10, alpha=25, readout=None, *, source_alpha=None,
                 source_signed=False):
        self.k = k
        self.alpha = alpha
        self.source_alpha = self.alpha if source_alpha is None else source_alpha
        self.source_signed = source_signed
        self.check_options()
        super().__init__(readout=readout)

    def check_options(self):
        if self.source_signed:
            _even(self.k, "a signed source")

    @Neuron.readout.setter
    def readout(self, readout):
        before = self.__dict__.get("_readout")
        Neuron.readout.fset(self, readout)
        if self.readout is not None and not isinstance(self.readout, Var):
            bad = type(self.readout).__name__
            self.__dict__["_readout"] = before  # a refused assignment changes nothing
            raise LibraryNotImplementedError(
                f"FewSpikeRelu supports only the Var readout, not {bad} (as ml_genn's "
                "FewSpikeCompiler)")

    def switches(self):
        return {"source_signed": self.source_signed}

    def extra_params(self):
        return {"k": self.k, "alpha": self.alpha, "source_alpha": self.source_alpha}

    def __repr__(self):
        return (f"FewSpikeRelu(k={self.k}, alpha={self.alpha}, readout={self.readout!r}, "
                f"source_alpha={self.source_alpha}, source_signed={self.source_signed})")

