"""ml_genn 2.x's neurons, each a thin class over one ``.eqs`` file in ``eqsnn/neurons/``.

Same class names, constructor arguments, defaults and behaviour as
``ml_genn.neurons``, with ml_genn's quirks (bugs) fixed where the class
docstring says so.  Boolean options (``relative_reset``, ``scale_i``,
``signed_spikes``, ...) take True or False (or 0/1): where ml_genn reads
the truth of ``relative_reset="False"`` (True), eqsnn raises a
``LibraryError`` naming the option.  Value arguments (``v_thresh``,
``tau_mem``, ...) take a number, one value per neuron (flat or shaped like
the population), an initialiser or its name; a bool is refused, where
ml_genn reads True as 1.  Every argument is checked again when assigned
after construction.  Read the equations with
``eqsnn show leaky_integrate_fire`` or ``print(LeakyIntegrateFire().model())``.

>>> from eqsnn.neurons import LeakyIntegrateFire
>>> LeakyIntegrateFire(tau_refrac=2.0).model().ir.state("RefracTime").dtype
'float'
"""

from .base import Input, InputBase, Neuron, Value
from .data import PreprocessedSpikes, preprocess_spikes
from .dynamical import AdaptiveLeakyIntegrateFire, IntegrateFire, LeakyIntegrate, LeakyIntegrateFire
from .few_spike import FewSpikeRelu, FewSpikeReluInput
from .inputs import (
    BinarySpikeInput,
    IntegrateFireInput,
    LeakyIntegrateFireInput,
    PoissonInput,
    SpikeInput,
)
from .registry import NAMES, NEURONS, derive_all, get_neuron

__all__ = [
    "AdaptiveLeakyIntegrateFire", "BinarySpikeInput", "FewSpikeRelu", "FewSpikeReluInput",
    "Input", "InputBase", "IntegrateFire", "IntegrateFireInput", "LeakyIntegrate",
    "LeakyIntegrateFire", "LeakyIntegrateFireInput", "Neuron", "NEURONS", "PoissonInput",
    "NAMES", "PreprocessedSpikes", "SpikeInput", "Value", "derive_all", "get_neuron",
    "preprocess_spikes",
]
