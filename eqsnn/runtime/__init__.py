"""Running models: the Simulator, its Result, and the validation of user values."""

from .result import Result, RunInfo, Spikes, Timing
from .simulator import Simulator

__all__ = ["Result", "RunInfo", "Simulator", "Spikes", "Timing"]
