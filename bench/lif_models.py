"""The LIF models the CPU and GPU benchmarks time (ml_genn semantics, delta input)."""

LIF = """
neuron BenchLif
    param v_thresh = 1.0
    param v_reset = 0.0
    param tau_mem = 20.0 (> 0)
    state V = 0.0
    input Isyn
    dV/dt = -V / tau_mem
    after: V += Isyn
    threshold: V >= v_thresh
    reset: V -= v_thresh - v_reset
"""

LIF_REFRACTORY = """
neuron BenchLifRefractory
    param v_thresh = 1.0
    param v_reset = 0.0
    param tau_mem = 20.0 (> 0)
    param tau_refrac = 5.0
    state V = 0.0
    state RefracTime = 0.0
    input Isyn
    dV/dt = -V / tau_mem
    after:
        V += Isyn
        if RefracTime > 0: RefracTime -= dt
    threshold: V >= v_thresh and RefracTime <= 0
    reset:
        V -= v_thresh - v_reset
        RefracTime = tau_refrac
"""
