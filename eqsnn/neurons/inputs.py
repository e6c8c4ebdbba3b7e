"""Input neurons: IF/LIF driven by data, binary, Poisson and spike-time inputs."""

from __future__ import annotations

import numpy as np

from ..errors import LibraryNotImplementedError
from ..stdlib.protocol import InputPlan
from .base import Flag, Input, InputBase, Neuron, Option, _positive_int
from .data import batch_spikes
from .dynamical import IntegrateFire, LeakyIntegrateFire

__all__ = ["BinarySpikeInput", "IntegrateFireInput", "LeakyIntegrateFireInput",
           "PoissonInput", "SpikeInput"]


class IntegrateFireInput(InputBase, IntegrateFire):
    """IntegrateFire driven by the data input ``Input`` (``integrate_fire_input.eqs``)."""

    eqs_name = "integrate_fire_input"

    def __init__(self, v_thresh=1.0, v_reset=0.0, v=0.0, input_frames=1,
                 input_frame_timesteps=1):
        super().__init__(input_frames=input_frames, input_frame_timesteps=input_frame_timesteps,
                         v_thresh=v_thresh, v_reset=v_reset, v=v)


class LeakyIntegrateFireInput(InputBase, LeakyIntegrateFire):
    """LeakyIntegrateFire driven by the data ``Input`` (``leaky_integrate_fire_input.eqs``)."""

    eqs_name = "leaky_integrate_fire_input"

    def __init__(self, v_thresh=1.0, v_reset=0.0, v=0.0, tau_mem=20.0, tau_refrac=None,
                 relative_reset=True, integrate_during_refrac=True, scale_i=False,
                 input_frames=1, input_frame_timesteps=1):
        super().__init__(input_frames=input_frames, input_frame_timesteps=input_frame_timesteps,
                         v_thresh=v_thresh, v_reset=v_reset, v=v, tau_mem=tau_mem,
                         tau_refrac=tau_refrac, relative_reset=relative_reset,
                         integrate_during_refrac=integrate_during_refrac, scale_i=scale_i)


class _SignedInput(InputBase, Neuron):
    signed_spikes = Flag()

    def __init__(self, signed_spikes=False, input_frames=1, input_frame_timesteps=1):
        super().__init__(input_frames=input_frames, input_frame_timesteps=input_frame_timesteps)
        self.signed_spikes = signed_spikes
        self.check_options()

    def check_options(self):
        if self.signed_spikes and self.input_frames > 1:
            raise LibraryNotImplementedError(
                f"{type(self).__name__} does not support signed spikes with "
                f"input_frames > 1 (as ml_genn)")

    def switches(self):
        return {"signed_spikes": self.signed_spikes}


class BinarySpikeInput(_SignedInput):
    """Spikes every step where ``Input > 0``; signed: negative spikes where ``Input < 0``."""

    eqs_name = "binary_spike_input"


class PoissonInput(_SignedInput):
    """Poisson spikes at rate ``|Input|`` per ms, from the counter-based generator.

    Signed spikes follow the intended semantics (negative spikes where
    ``Input < 0``), which ml_genn's signed path does not implement.
    """

    eqs_name = "poisson_input"


class SpikeInput(Input, Neuron):
    """Spike source array: the data input is a sequence of :class:`PreprocessedSpikes`.

    ``max_spikes`` is the capacity for all neurons' and lanes' spikes in one
    run; exceeding it raises a :class:`~eqsnn.errors.LibraryError`.  Spike
    times are ms from the start of the run.
    """

    eqs_name = "spike_input"
    max_spikes = Option(_positive_int)

    def __init__(self, max_spikes=1_000_000):
        super().__init__()
        self.max_spikes = max_spikes

    def initial_arrays(self):
        # one dummy element: an empty array cannot be indexed even where unused
        return {"SpikeTimes": np.zeros(1)}

    def adapter(self):
        max_spikes = self.max_spikes

        def adapt(value, *, shape, batch_size, dt, steps, step0):
            n = int(np.prod(shape, dtype=np.int64))
            start, end, times = batch_spikes(value, num_neurons=n, batch_size=batch_size,
                                             max_spikes=max_spikes)
            # the times count from this run's first step: the model subtracts it from the
            # step, so every run compares the same products n dt with the same times
            return InputPlan(states={"StartSpike": start, "EndSpike": end,
                                     "InputStart": np.full_like(start, step0)},
                             arrays={"SpikeTimes": times if times.size else np.zeros(1)})

        return adapt
