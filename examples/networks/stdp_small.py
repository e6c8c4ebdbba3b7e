"""A small network with pair-based STDP, for ``eqsnn compare`` and ``eqsnn bench``.

Fifty Poisson-like spike sources drive twenty leaky integrate-and-fire neurons
through plastic excitatory synapses (StdpAdditive, delay 1 step), in two
lanes that start from different weights (a spike source gives every lane the
same trains), so the lanes fire and learn differently.

    eqsnn compare examples/networks/stdp_small.py --backends numpy,c,pygenn
"""

import numpy as np

import eqsnn
from eqsnn.network import Delta, FixedProbability, Network, StdpAdditive

STEPS = 500

LIF = '''
neuron Lif
    param tau = 10.0 (> 0)
    state V = 0.0
    input Isyn = 0.0
    dV/dt = -V / tau
    after: V += Isyn
    threshold: V >= 1.0
    reset: V = 0.0
'''


def build(backend="numpy", precision="float64", seed=0):
    rng = np.random.default_rng(seed)
    steps, neurons = np.nonzero(rng.random((STEPS, 50)) < 0.04)
    net = Network(dt=0.5, precision=precision, backend=backend, seed=seed, batch_size=2)
    src = net.add_spike_source("src", 50, steps=steps, neurons=neurons)
    pop = net.add_population("pop", eqsnn.compile(LIF), 20)
    conn = net.connect(src, pop, Delta(), connectivity=FixedProbability(0.5),
                       weight=eqsnn.initializers.Uniform(0.05, 0.15), delay=1,
                       weight_update=StdpAdditive(tau_plus=10.0, tau_minus=10.0,
                                                  a_plus=0.01, a_minus=0.012, w_max=0.3))
    # lane 1 starts from its own random weights
    conn.set_plastic_state("w", np.stack([conn.weights[0],
                                          rng.uniform(0.05, 0.15, conn.n_synapses)]))
    return net
