"""A small CUBA network for ``eqsnn compare`` and ``eqsnn bench``:

    eqsnn compare examples/networks/cuba_small.py --backends numpy,c --precision float32
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import vogels_abbott  # noqa: E402

STEPS = 1000


def build(backend, precision, seed):
    return vogels_abbott.cuba(400, seed=seed, backend=backend, precision=precision)
