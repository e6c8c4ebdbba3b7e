"""The standard library's neurons by name: ``get_neuron("leaky_integrate_fire")``."""

from __future__ import annotations

import itertools
from importlib import resources

from ..errors import LibraryError
from ..model import compile
from ..stdlib.protocol import get_object
from .base import Neuron
from .dynamical import AdaptiveLeakyIntegrateFire, IntegrateFire, LeakyIntegrate, LeakyIntegrateFire
from .few_spike import FewSpikeRelu, FewSpikeReluInput
from .inputs import (
    BinarySpikeInput,
    IntegrateFireInput,
    LeakyIntegrateFireInput,
    PoissonInput,
    SpikeInput,
)

__all__ = ["NAMES", "NEURONS", "derive_all", "get_neuron", "neuron_names", "neuron_source"]

#: ml_genn's names (snake_case class names) -> classes; also the ``.eqs`` file names
NEURONS = {cls.eqs_name: cls for cls in (
    AdaptiveLeakyIntegrateFire, BinarySpikeInput, FewSpikeRelu, FewSpikeReluInput,
    IntegrateFire, IntegrateFireInput, LeakyIntegrate, LeakyIntegrateFire,
    LeakyIntegrateFireInput, PoissonInput, SpikeInput)}

#: the names, sorted (what ``eqsnn list`` shows)
NAMES = tuple(sorted(NEURONS))


def neuron_names() -> list[str]:
    """Names of the standard-library neurons (ml_genn's snake_case class names)."""
    return list(NAMES)


def get_neuron(neuron):
    """A standard-library neuron from its name (``"leaky_integrate_fire"``) or a copy of it."""
    return get_object(neuron, NEURONS, Neuron, "Neuron")


def neuron_source(name: str) -> tuple[str, str]:
    """``(text, filename)`` of a standard-library neuron's ``.eqs`` file, by snake_case name."""
    if name not in NEURONS:
        raise LibraryError(f"Neuron object '{name}' unknown",
                           hint=f"known names: {', '.join(NAMES)}")
    path = resources.files("eqsnn").joinpath(f"neurons/{name}.eqs")
    return path.read_text(), f"eqsnn/neurons/{name}.eqs"


def derive_all() -> int:
    """Compile every library ``.eqs`` file with every combination of its bool switches.

    Returns the number of models derived (``bench/derive.py`` times this).
    """
    count = 0
    for name in neuron_names():
        text, filename = neuron_source(name)
        declared = compile(text, filename=filename).ir.meta["switches"]
        flags = [k for k, v in declared.items() if isinstance(v, bool)]
        for values in itertools.product((False, True), repeat=len(flags)):
            compile(text, filename=filename, switches=dict(zip(flags, values)))
            count += 1
    return count
