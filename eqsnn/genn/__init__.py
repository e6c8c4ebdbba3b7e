"""eqsnn models in your own PyGeNN or ml_genn network.

* :func:`add_population` adds an eqsnn model (an :class:`eqsnn.Model`, a
  ``.eqs`` path or a standard-library neuron) as a neuron population to a
  ``pygenn.GeNNModel``, converting params and initial values (numbers,
  per-neuron arrays, eqsnn / ml_genn initialisers, pygenn ``init_var``).
* :func:`get_model` returns what ml_genn's neurons return from
  ``get_model(population, dt, batch_size)``: an
  ``ml_genn.utils.model.NeuronModel``; :func:`ml_genn_neuron` wraps an
  eqsnn neuron as an ``ml_genn.neurons.Neuron`` for ml_genn networks (its
  values by ml_genn's names, :func:`ml_genn_names`, for ml_genn's callbacks);
  :func:`ml_genn_synapse` wraps an eqsnn synapse model as an
  ``ml_genn.synapses.Synapse`` (a GeNN postsynaptic model).
* :class:`Precompute` is eqsnn's float64 host precompute as GeNN derived
  params; the code ``eqsnn emit MODEL --backend pygenn`` prints uses it.
  It and :func:`propagator` and :func:`precompute_source` are defined in
  :mod:`eqsnn.genn.precompute` (with the text helpers ``expression_text``
  and ``parse_expression``).

The population glue is :mod:`eqsnn.genn.population`, the ml_genn glue
:mod:`eqsnn.genn.mlgenn` (neurons) and :mod:`eqsnn.genn.mlgenn_synapse`.

Nothing here imports pygenn or ml_genn until a function needs them.
See ``docs/use-with-genn.md``.
"""

from __future__ import annotations

from .mlgenn import get_model, ml_genn_names, ml_genn_neuron
from .mlgenn_synapse import ml_genn_synapse
from .population import add_population
from .precompute import Precompute, precompute_source, propagator

__all__ = ["Precompute", "add_population", "get_model", "ml_genn_names", "ml_genn_neuron",
           "ml_genn_synapse", "propagator", "precompute_source"]
