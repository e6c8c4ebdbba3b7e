"""Standard-library weight-update models: pair-based STDP over ``.eqs`` files.

``StdpAdditive`` (additive updates, hard bounds) and ``StdpMultiplicative``
(updates scaled by the distance to the bound: soft bounds) share the traces:
a pre trace that jumps by 1 when a presynaptic spike arrives and a post trace
that jumps by 1 when the target spikes, both decaying exactly.  Each object
gives the network its compiled model and its params (:meth:`Plasticity.build`);
pass it to ``Network.connect(..., weight_update=...)``.
"""

from __future__ import annotations

from .synapses import Synapse, _model

__all__ = ["Plasticity", "StdpAdditive", "StdpMultiplicative"]


class Plasticity(Synapse):
    """A standard-library weight-update model: ``file`` names it, ``params`` its values."""

    def build(self):
        """``(eqsnn.Model, params)`` for the network."""
        return _model(self.file, ()), dict(self.params)


class StdpAdditive(Plasticity):
    """Pair-based STDP, additive with hard bounds: for a pair with lag D = t_post - t_pre
    (in steps times dt), dw = a_plus exp(-D / tau_plus) for D >= 0 and
    -a_minus exp(D / tau_minus) for D < 0, w clipped to [w_min, w_max]."""

    file = "stdp_additive"

    def __init__(self, tau_plus=20.0, tau_minus=20.0, a_plus=0.01, a_minus=0.0105,
                 w_min=0.0, w_max=1.0):
        super().__init__(tau_plus=tau_plus, tau_minus=tau_minus, a_plus=a_plus,
                         a_minus=a_minus, w_min=w_min, w_max=w_max)


class StdpMultiplicative(Plasticity):
    """Pair-based STDP with soft bounds: dw = a_plus (w_max - w) exp(-D / tau_plus) for
    D >= 0 and -a_minus (w - w_min) exp(D / tau_minus) for D < 0."""

    file = "stdp_multiplicative"

    def __init__(self, tau_plus=20.0, tau_minus=20.0, a_plus=0.01, a_minus=0.0105,
                 w_min=0.0, w_max=1.0):
        super().__init__(tau_plus=tau_plus, tau_minus=tau_minus, a_plus=a_plus,
                         a_minus=a_minus, w_min=w_min, w_max=w_max)
