"""The dynamical neurons: IntegrateFire, LeakyIntegrate, LeakyIntegrateFire, ALIF.

Each class only maps its constructor (ml_genn 2.x's arguments and defaults)
to the params and switches of its ``.eqs`` file; the behaviour is in the file.
"""

from __future__ import annotations

from .base import Flag, Neuron, Value

__all__ = ["AdaptiveLeakyIntegrateFire", "IntegrateFire", "LeakyIntegrate",
           "LeakyIntegrateFire"]


class IntegrateFire(Neuron):
    """Perfect integrate-and-fire neuron: ``V += Isyn``, absolute reset (``integrate_fire.eqs``)."""

    eqs_name = "integrate_fire"
    output_var = "V"
    v_thresh = Value()
    v_reset = Value()
    v = Value()

    def __init__(self, v_thresh=1.0, v_reset=0.0, v=0.0, readout=None):
        super().__init__(readout=readout)
        self.v_thresh = v_thresh
        self.v_reset = v_reset
        self.v = v


class LeakyIntegrate(Neuron):
    """Non-spiking leaky integrator with bias (``leaky_integrate.eqs``)."""

    eqs_name = "leaky_integrate"
    scale_i = Flag()
    output_var = "V"
    v = Value()
    bias = Value()
    tau_mem = Value(dt_transformed=True)

    def __init__(self, v=0.0, bias=0.0, tau_mem=20.0, scale_i=False, readout=None):
        super().__init__(readout=readout)
        self.v = v
        self.bias = bias
        self.tau_mem = tau_mem
        self.scale_i = scale_i

    def switches(self):
        return {"scale_i": self.scale_i}


class LeakyIntegrateFire(Neuron):
    """Leaky integrate-and-fire neuron (``leaky_integrate_fire.eqs``).

    ``tau_refrac=None`` means no refractory period.  The relative reset
    subtracts ``v_thresh - v_reset`` (ml_genn's docstring says "subtract
    v_reset"; its code, and eqsnn, subtract the difference).
    """

    eqs_name = "leaky_integrate_fire"
    relative_reset = Flag()
    integrate_during_refrac = Flag()
    scale_i = Flag()
    output_var = "V"
    v_thresh = Value()
    v_reset = Value()
    v = Value()
    tau_mem = Value(dt_transformed=True)
    tau_refrac = Value(allow_none=True)

    def __init__(self, v_thresh=1.0, v_reset=0.0, v=0.0, tau_mem=20.0, tau_refrac=None,
                 relative_reset=True, integrate_during_refrac=True, scale_i=False,
                 readout=None):
        super().__init__(readout=readout)
        self.v_thresh = v_thresh
        self.v_reset = v_reset
        self.v = v
        self.tau_mem = tau_mem
        self.tau_refrac = tau_refrac
        self.relative_reset = relative_reset
        self.integrate_during_refrac = integrate_during_refrac
        self.scale_i = scale_i

    def switches(self):
        return {"relative_reset": self.relative_reset,
                "integrate_during_refrac": self.integrate_during_refrac,
                "scale_i": self.scale_i, "has_refrac": self.tau_refrac is not None}


class AdaptiveLeakyIntegrateFire(Neuron):
    """Adaptive LIF neuron, Bellec et al. 2018 (``adaptive_leaky_integrate_fire.eqs``)."""

    eqs_name = "adaptive_leaky_integrate_fire"
    relative_reset = Flag()
    integrate_during_refrac = Flag()
    output_var = "V"
    v_thresh = Value()
    v_reset = Value()
    v = Value()
    a = Value()
    beta = Value()
    tau_mem = Value(dt_transformed=True)
    tau_refrac = Value(allow_none=True)
    tau_adapt = Value(dt_transformed=True)

    def __init__(self, v_thresh=1.0, v_reset=0.0, v=0.0, a=0.0, beta=0.0174, tau_mem=20.0,
                 tau_refrac=None, tau_adapt=2000.0, relative_reset=True,
                 integrate_during_refrac=True, readout=None):
        super().__init__(readout=readout)
        self.v_thresh = v_thresh
        self.v_reset = v_reset
        self.v = v
        self.a = a
        self.beta = beta
        self.tau_mem = tau_mem
        self.tau_refrac = tau_refrac
        self.tau_adapt = tau_adapt
        self.relative_reset = relative_reset
        self.integrate_during_refrac = integrate_during_refrac

    def switches(self):
        return {"relative_reset": self.relative_reset,
                "integrate_during_refrac": self.integrate_during_refrac,
                "has_refrac": self.tau_refrac is not None}
