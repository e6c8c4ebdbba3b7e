"""Networks: populations connected by synapse models, with delays (``docs/network.md``).

>>> from eqsnn.network import Network, Exponential, FixedProbability  # doctest: +SKIP
"""

from .connectivity import (
    Connectivity,
    Dense,
    FixedInDegree,
    FixedProbability,
    FromList,
    OneToOne,
)
from .network import Network
from .parts import Connection, NetworkResult, Population
from .stdp import Plasticity, StdpAdditive, StdpMultiplicative
from .synapses import AlphaCond, AlphaCurr, Delta, ExpCond, ExpCurr, Exponential, Synapse

__all__ = [
    "AlphaCond", "AlphaCurr", "Connection", "Connectivity", "Delta", "Dense", "ExpCond",
    "ExpCurr", "Exponential", "FixedInDegree", "FixedProbability", "FromList", "Network",
    "NetworkResult", "OneToOne", "Plasticity", "Population", "StdpAdditive",
    "StdpMultiplicative", "Synapse",
]
