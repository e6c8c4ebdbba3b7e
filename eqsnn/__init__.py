"""eqsnn: spiking-neuron dynamics written as equations, run fast on any backend.

>>> import eqsnn
>>> model = eqsnn.compile('''
... neuron Leak
...     param tau = 10.0 (> 0)
...     state V = 1.0
...     dV/dt = -V / tau
... ''')
>>> model.method
'exact'
"""

from .errors import EqsnnError
from .model import Model, compile, load
from .pipeline import EqsnnWarning

__all__ = ["EqsnnError", "EqsnnWarning", "Model", "Simulator", "compile", "load", "compare",
           "benchmark"]
__version__ = "0.1.0"


def __getattr__(name):
    # the runtime pulls in more modules; load it when first used
    if name == "Simulator":
        from .runtime import Simulator

        return Simulator
    if name == "compare":
        from .tools.comparison import compare

        return compare
    if name == "benchmark":
        from .tools.benchmarking import benchmark

        return benchmark
    raise AttributeError(f"module 'eqsnn' has no attribute {name!r}")
