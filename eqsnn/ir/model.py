"""The IR's :class:`Model`: one step of one neuron, frozen."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import sympy

from ..errors import EqsnnError
from .nodes import (
    BUILTIN_TYPES,
    Array,
    Derived,
    If,
    Input,
    Local,
    Method,
    Param,
    PrecomputeItem,
    RandNormal,
    RandUniform,
    Readout,
    State,
    Statement,
    While,
    map_statements,
    walk_statements,
)
from .validate import validate_model


@dataclass(frozen=True)
class Model:
    name: str
    doc: str = ""
    params: tuple[Param, ...] = ()
    states: tuple[State, ...] = ()
    inputs: tuple[Input, ...] = ()
    arrays: tuple[Array, ...] = ()
    precompute: tuple[PrecomputeItem, ...] = ()
    step: tuple[Statement, ...] = ()
    threshold: sympy.Basic | None = None
    reset: tuple[Statement, ...] = ()
    negative_threshold: sympy.Basic | None = None
    negative_reset: tuple[Statement, ...] = ()
    method: Method = Method("none")
    readout: Readout | None = None
    #: the ODEs as written after switches and lets (for display): (var, rhs)
    odes: tuple[tuple[str, sympy.Basic], ...] = ()
    #: run-time params that the Simulator sets itself (e.g. the run length of avg_var)
    runtime_params: tuple[str, ...] = ()
    #: (name, eqsnn.units.Unit): the declared unit of each param, state and input that has
    #: one; every value in the IR is in the internal unit (ms, mV, nA, nF, uS, MOhm, um, mM)
    units: tuple[tuple[str, object], ...] = ()
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    # --- lookups -------------------------------------------------------
    def param(self, name: str) -> Param:
        return _by_name(self.params, name)

    def state(self, name: str) -> State:
        return _by_name(self.states, name)

    def input(self, name: str) -> Input:
        return _by_name(self.inputs, name)

    @property
    def precompute_names(self) -> tuple[str, ...]:
        names: list[str] = []
        for item in self.precompute:
            names.extend([item.name] if isinstance(item, Derived) else item.names())
        return tuple(names)

    @property
    def spiking(self) -> bool:
        return self.threshold is not None or self.negative_threshold is not None

    @property
    def signed(self) -> bool:
        return self.negative_threshold is not None

    def random_draws(self) -> int:
        """Number of random draws one step makes (draw indices are 0..n-1)."""
        draws = [0]
        for expr in self.expressions():
            for fn in expr.atoms(RandUniform, RandNormal):
                draws.append(int(fn.args[0]) + 1)
        return max(draws)

    def locals(self) -> list[Local]:
        """Every local the per-step code defines (step, reset and negative reset)."""
        blocks = (self.step, self.reset, self.negative_reset)
        return [s for block in blocks for s in walk_statements(block) if isinstance(s, Local)]

    def name_types(self) -> dict[str, str]:
        """Type (float/int/bool) of every name the per-step code can read."""
        types = dict(BUILTIN_TYPES)
        types.update({name: "int" for name in self.runtime_params})
        types.update({p.name: p.dtype for p in self.params})
        types.update({name: "float" for name in self.precompute_names})
        for group in (self.states, self.inputs, self.arrays):
            types.update({item.name: item.dtype for item in group})
        types.update({local.name: local.dtype for local in self.locals()})
        return types

    def expressions(self):
        """Every expression of the per-step code (not the precompute)."""
        for block in (self.step, self.reset, self.negative_reset):
            for stmt in walk_statements(block):
                yield stmt.cond if isinstance(stmt, (If, While)) else stmt.expr
        for cond in (self.threshold, self.negative_threshold):
            if cond is not None:
                yield cond

    # --- transformations (used by readouts and the stdlib) --------------
    def with_state(self, state: State) -> Model:
        return dataclasses.replace(self, states=self.states + (state,))

    def with_param(self, param: Param) -> Model:
        return dataclasses.replace(self, params=self.params + (param,))

    def with_step(self, *statements: Statement) -> Model:
        return dataclasses.replace(self, step=self.step + tuple(statements))

    def with_reset(self, *statements: Statement) -> Model:
        return dataclasses.replace(self, reset=self.reset + tuple(statements))

    def replace(self, **changes) -> Model:
        return dataclasses.replace(self, **changes)

    def with_input_sums(self, sums: dict, inputs=(), step=()) -> Model:
        """This model where each input ``target`` of ``sums`` (target -> input names) reads
        its own value plus the named inputs', added in that order through locals
        ``_<target>__sum<i>``; those targets default to 0, ``inputs`` are appended and
        ``step`` runs first (a neuron in a network: its incoming connections)."""
        summing, subs = [], {}
        for target, names in sums.items():
            total = sympy.Symbol(target)
            for i, name in enumerate(names):
                local = f"_{target}__sum{i}"
                summing.append(Local(local, "float", total + sympy.Symbol(name)))
                total = sympy.Symbol(local)
            subs[sympy.Symbol(target)] = total

        def renamed(block):
            return map_statements(block, lambda expr: expr.xreplace(subs))

        def cond(expr):
            return None if expr is None else expr.xreplace(subs)

        kept = tuple(Input(i.name, i.dtype, 0.0) if i.name in sums else i for i in self.inputs)
        return dataclasses.replace(
            self, inputs=kept + tuple(inputs), step=tuple(step) + tuple(summing) +
            renamed(self.step), threshold=cond(self.threshold), reset=renamed(self.reset),
            negative_threshold=cond(self.negative_threshold),
            negative_reset=renamed(self.negative_reset))

    def validate(self) -> Model:
        """Check internal consistency; raise :class:`EqsnnError` naming the problem."""
        validate_model(self)
        return self


def _by_name(items, name):
    for item in items:
        if item.name == name:
            return item
    raise EqsnnError(f"no declaration named {name!r}")
