"""A test-only backend: the NumPy backend with one precomputed value perturbed.

It stands in for a buggy backend so that ``compare`` can be shown to catch
a disagreement at the right step.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from eqsnn.backends import numpy as numpy_backend

PERTURB = {"name": "_phi_V", "factor": 1 + 1e-6}


def emit(model, options=None):
    return dataclasses.replace(numpy_backend.emit(model, options), backend="perturbed")


def load(source):
    program = numpy_backend.load(source)

    class Perturbed:
        def start(self, instance):
            values = dict(instance.values)
            name = PERTURB["name"]
            values[name] = np.asarray(values[name]) * PERTURB["factor"]
            return program.start(dataclasses.replace(instance, values=values))

    return Perturbed()
