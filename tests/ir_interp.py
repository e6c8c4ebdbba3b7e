"""A deliberately naive float64 interpreter of the IR, for compiler tests.

It evaluates one statement at a time with ``np.where`` masks, independent of
any backend's code generator, so the compiler's derivations can be checked
against closed forms and ``solve_ivp`` before (and besides) the backends.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy

from eqsnn import ir
from eqsnn.runtime import host


def _array_get(array, index):
    index = np.clip(np.asarray(index, dtype=np.int64), 0, len(array) - 1)
    return np.asarray(array, dtype=float)[index]


_ARRAYS = {"ArrayGet": _array_get}  # keep_nonfinite: host.NUMPY_FUNCTIONS


@functools.lru_cache(maxsize=4096)
def _compiled(expr):
    """``(symbols, function)`` of an expression, lambdified once (loops evaluate it often)."""
    symbols = sorted(expr.free_symbols, key=str)
    return symbols, sympy.lambdify(symbols, expr, modules=[host.NUMPY_FUNCTIONS, _ARRAYS, "numpy"])


def _eval(expr, env):
    expr = sympy.sympify(expr)
    if expr == sympy.true:
        return np.True_
    if expr == sympy.false:
        return np.False_
    symbols, fn = _compiled(expr)
    with np.errstate(all="ignore"):
        return fn(*(env[str(s)] for s in symbols))


def run_block(statements, env, mask):
    for stmt in statements:
        if isinstance(stmt, ir.Local):  # a full value (lambdify's logic ops want one shape)
            env[stmt.name] = np.broadcast_to(_eval(stmt.expr, env), np.shape(mask)).copy()
        elif isinstance(stmt, ir.Assign):
            env[stmt.target] = np.where(mask, _eval(stmt.expr, env), env[stmt.target])
        elif isinstance(stmt, ir.While):
            active = mask
            for _ in range(stmt.limit):
                active = active & np.asarray(_eval(stmt.cond, env), dtype=bool)
                if not active.any():
                    break
                run_block(stmt.body, env, active)
        else:
            cond = np.asarray(_eval(stmt.cond, env), dtype=bool)
            run_block(stmt.body, env, mask & cond)
            run_block(stmt.orelse, env, mask & ~cond)


class Interpreter:
    """Simulates ``n`` neurons of an IR model in float64 (no random draws)."""

    def __init__(self, model: ir.Model, n=1, dt=1.0, params=None, init=None, arrays=None):
        self.arrays = dict(arrays or {})
        self.model = model
        values = {p.name: np.float64(p.default) for p in model.params if p.default is not None}
        values.update({k: np.asarray(v, dtype=float) for k, v in (params or {}).items()})
        self.values = {**values, **host.evaluate_precompute(model, values, dt)}
        initial = host.evaluate_initial(model, values, self.values, dt)
        self.state = {k: np.broadcast_to(v, (n,)).astype(float).copy() for k, v in initial.items()}
        for k, v in (init or {}).items():
            self.state[k] = np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()
        self.n, self.dt, self.step_index = n, dt, 0

    def step(self, inputs=None):
        model = self.model
        env = {**self.values, **self.state, "dt": self.dt, "step": self.step_index,
               "t": self.step_index * self.dt, "id": np.arange(self.n), "batch": 0,
               **self.arrays}
        for i in model.inputs:
            env[i.name] = np.asarray((inputs or {}).get(i.name, i.default), dtype=float)
        everyone = np.ones(self.n, dtype=bool)
        run_block(model.step, env, everyone)
        spikes = np.zeros(self.n, dtype=bool)
        if model.threshold is not None:
            spikes = np.broadcast_to(np.asarray(_eval(model.threshold, env), dtype=bool),
                                     (self.n,)).copy()
            run_block(model.reset, env, spikes)
        self.state = {s.name: np.broadcast_to(env[s.name], (self.n,)).astype(float).copy()
                      for s in model.states}
        self.step_index += 1
        return spikes
