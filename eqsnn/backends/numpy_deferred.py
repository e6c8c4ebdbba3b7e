"""The adaptive method on the ``numpy`` backend: the whole-step try on cache-sized tiles,
the substep loop once per step on the neurons it deferred.

The step of an adaptive model (:mod:`eqsnn.solve.adaptive`) is: statements before the
substep loop (``before:``, the first stage, the whole-step try), the loop (an
``ir.While``), and the rest (the substep size kept, ``after:``, the numerical check, the
threshold and reset).  Most neurons finish the step in the try; the loop runs for the
few it deferred (about 2 % of AdEx's neurons at dt = 0.1 ms), as many iterations as the
slowest of them needs.  A whole-population pass pays for the try on arrays too large for
the cache, and a tiled one would pay for the loop's iterations once per tile.  So each
step runs in phases, each a module printed from a part of the step
(:func:`phase_models`):

1. ``try``: the statements before the loop, tile by tile
   (:class:`~eqsnn.backends.numpy_tiles.Tiling`); the try's locals are computed on every
   element, unmasked (they are read inside the try only), and only its stores are
   masked;
2. ``loop``: the loop, once, on the neurons where its condition holds, gathered from the
   whole population into a population of their own (``(1, m)`` arrays: the states and
   carried locals the loop reads, values, inputs, ids and lanes) and scattered back
   after it (the states read later only).  On the same gathered neurons, ``reject``
   first runs the try's block for a rejected try (the next substep size: a ``log`` and
   an ``exp`` that the whole population need not pay for), and ``cross`` locates the
   crossings that the loop left to it, in batches (:mod:`.numpy_crossings`), after
   which the loop goes on;
3. ``finish``: the rest, the threshold and the reset, the recorded states and the spikes,
   tile by tile.

Locals that one phase sets and a later one reads (the substep size, the first stage,
the crossing flags) live in whole-population arrays between the phases: in the phase
modules they are states.  Every element goes through the same operations in the same
order as in the one-pass step (the module's ``run``, which :data:`ENVIRONMENT` ``=0``
selects), so the numbers are the same; the loop on a gathered population is the
compacted loop of :mod:`eqsnn.printing.numpy_compact` on a smaller one.
"""

from __future__ import annotations

import os

import numpy as np
import sympy

from .. import ir
from ..runtime.checks import CHECK_META, split_checks
from .numpy_crossings import PENDING, split_loop
from .numpy_tiles import CACHE_BYTES, MIN_ELEMENTS, Tiling, _recorders

__all__ = ["ENVIRONMENT", "Phases", "deferring", "phase_models", "run_deferred"]

#: ``0`` runs an adaptive model's step in one pass over the whole population (the
#: reference the phases are tested against); unset or ``1``, in phases
ENVIRONMENT = "EQSNN_NUMPY_DEFER"


def phase_models(model: ir.Model) -> dict[str, ir.Model] | None:
    """The models of the phases (``try``, ``reject`` and ``cross`` where there are such
    parts, ``loop``, ``finish``), or None where the step has not exactly one loop at its
    top level (no adaptive method)."""
    if "adaptive" not in model.meta:
        return None
    body, check = split_checks(model)
    loops = [k for k, stmt in enumerate(body) if isinstance(stmt, ir.While)]
    if len(loops) != 1:
        return None
    first, loop, rest = body[:loops[0]], body[loops[0]], body[loops[0] + 1:]
    info = model.meta["adaptive"]
    first, reject = _rejected_try(first, info.get("try"), info.get("try_ok"))
    split = split_loop(loop)  # crossings located in batches (numpy_crossings)
    loop, cross = split if split is not None else (loop, ())
    inside = {"reject": reject, "loop": (loop,), "cross": cross}
    carried = _carried({"first": first, **inside}, rest + check, model)
    if cross:
        carried[PENDING] = "bool"
    # the reject phase reads the try's locals under the try's flag only: unmasked, they
    # are the same there
    read_unmasked = _carried({"first": first, "loop": (loop,), "cross": cross}, rest + check,
                             model)
    first = _unmasked_try(_as_states(first, carried), info.get("try"), read_unmasked,
                          set(carried) - set(read_unmasked))
    inside = {name: _as_states(part, carried) for name, part in inside.items()}
    extra = tuple(ir.State(name, dtype) for name, dtype in carried.items())
    meta = {key: value for key, value in model.meta.items() if key != CHECK_META}
    quiet = {"threshold": None, "reset": (), "negative_threshold": None,
             "negative_reset": ()}
    # the phases run on the deferred neurons' gathered population: only the states they name
    named = set().union(*map(_names, inside.values()))
    inner = tuple(s for s in model.states + extra if s.name in named)
    phases = {"try": model.replace(step=first, states=model.states + extra, meta=meta, **quiet)}
    phases.update((name, model.replace(step=part, states=inner, meta=meta, **quiet))
                  for name, part in inside.items() if part)
    phases["finish"] = model.replace(step=rest + check, states=model.states + extra)
    return phases


def _rejected_try(statements, flag: str | None, ok: str | None) -> tuple[tuple, tuple]:
    """``(statements, reject)``: where the whole-step try's last statement is the block
    for a rejected try (``if not ok``: the next substep size from the try's error), that
    block under both flags, taken out of the try (the ``reject`` phase runs it on the
    deferred neurons only: every neuron whose try was rejected is deferred); otherwise
    the statements unchanged and no block."""
    flag_symbol, ok_symbol = sympy.Symbol(flag or "_"), sympy.Symbol(ok or "_")
    at = [k for k, stmt in enumerate(statements)
          if isinstance(stmt, ir.If) and stmt.cond == flag_symbol and not stmt.orelse]
    if not flag or not ok or len(at) != 1:
        return statements, ()
    block = statements[at[0]]
    last = block.body[-1] if block.body else None
    if not (isinstance(last, ir.If) and last.cond == sympy.Not(ok_symbol) and not last.orelse):
        return statements, ()
    assigned = {s.target for s in ir.walk_statements(last.body) if isinstance(s, ir.Assign)}
    if assigned & _names(statements[at[0] + 1:]):  # read before the loop
        return statements, ()
    kept = ir.If(flag_symbol, block.body[:-1])
    return (statements[:at[0]] + (kept,) + statements[at[0] + 1:],
            (ir.If(sympy.And(flag_symbol, last.cond), last.body),))


def _names(statements) -> set[str]:
    """Every name the statements read or assign."""
    names: set[str] = set()
    for stmt in ir.walk_statements(statements):
        expr = stmt.cond if isinstance(stmt, (ir.If, ir.While)) else stmt.expr
        names |= {str(symbol) for symbol in expr.free_symbols}
        if isinstance(stmt, ir.Local):
            names.add(stmt.name)
        elif isinstance(stmt, ir.Assign):
            names.add(stmt.target)
    return names


def _read_with_resets(model: ir.Model, statements) -> set[str]:
    """The names ``statements`` and ``model``'s thresholds and resets (run after them) use."""
    names = _names(statements) | _names(model.reset) | _names(model.negative_reset)
    for cond in (model.threshold, model.negative_threshold):
        if cond is not None:
            names |= {str(symbol) for symbol in cond.free_symbols}
    return names


def _carried(phases: dict, rest, model) -> dict[str, str]:
    """Locals of one of ``phases`` (name -> statements) that another phase, or the rest of
    the step, reads or assigns: name -> type."""
    later = _read_with_resets(model, rest)
    carried = {}
    names = {phase: _names(statements) for phase, statements in phases.items()}
    for phase, statements in phases.items():
        others = later.union(*(value for key, value in names.items() if key != phase))
        for stmt in ir.walk_statements(statements):
            if isinstance(stmt, ir.Local) and stmt.name in others:
                carried.setdefault(stmt.name, stmt.dtype)
    return carried


def _as_states(statements, carried) -> tuple:
    """The statements with each local in ``carried`` assigned instead of declared."""
    out = []
    for stmt in statements:
        if isinstance(stmt, ir.Local) and stmt.name in carried:
            out.append(ir.Assign(stmt.name, stmt.expr))
        elif isinstance(stmt, ir.If):
            out.append(ir.If(stmt.cond, _as_states(stmt.body, carried),
                             _as_states(stmt.orelse, carried)))
        elif isinstance(stmt, ir.While):
            out.append(ir.While(stmt.cond, _as_states(stmt.body, carried), stmt.limit))
        else:
            out.append(stmt)
    return tuple(out)


def _unmasked_try(statements, flag: str | None, carried, flagged=frozenset()) -> tuple:
    """``if <flag>: body`` (the whole-step try) with the body's locals computed everywhere
    and only its other statements under the flag, where no local of the body is read
    outside it; otherwise the statements unchanged.  Assignments to the carried locals
    ``flagged`` (read in another phase under the flag only) are made everywhere too."""
    symbol = sympy.Symbol(flag) if flag else None
    at = [k for k, stmt in enumerate(statements)
          if isinstance(stmt, ir.If) and stmt.cond == symbol and not stmt.orelse]
    if len(at) != 1:
        return statements
    block = statements[at[0]]
    declared = {s.name for s in ir.walk_statements(block.body) if isinstance(s, ir.Local)}
    outside = _names(statements[:at[0]] + statements[at[0] + 1:])
    if declared & (outside | set(carried)):
        return statements
    body = []
    for stmt in block.body:
        if isinstance(stmt, ir.Local) or (isinstance(stmt, ir.Assign)
                                          and stmt.target in flagged):
            body.append(stmt)
        elif isinstance(stmt, ir.If) and not stmt.orelse:
            body.append(ir.If(sympy.And(symbol, stmt.cond), stmt.body))
        else:  # an assignment, or an if with an else (its body may change its condition)
            body.append(ir.If(symbol, (stmt,)))
    return statements[:at[0]] + tuple(body) + statements[at[0] + 1:]


def deferring() -> bool:
    """Whether an adaptive model runs in phases (:data:`ENVIRONMENT` is not ``0``)."""
    return os.environ.get(ENVIRONMENT, "").strip() != "0"


class Phases:
    """The loaded phases: ``models`` and ``programs`` by phase name, and ``condition``
    (the loop's condition on the whole population's states and values)."""

    def __init__(self, parts: dict):
        self.models = {name: model for name, (model, _) in parts.items()}
        self.programs = {name: program for name, (_, program) in parts.items()}
        cond = self.models["loop"].step[0].cond
        names = sorted(str(symbol) for symbol in cond.free_symbols)
        function = sympy.lambdify([sympy.Symbol(name) for name in names], cond, "numpy")

        def condition(states, values):
            return function(*[states[name] if name in states else values[name]
                              for name in names])
        self.condition = condition


class _View:
    """A part of a population as an emitted ``run`` reads it: ``states`` (with the
    carried locals), ``values``, ``arrays``, ``buffers``, ``neuron_id``, ``lane``,
    ``seed``, ``dt``."""

    def __init__(self, runner, states, values, buffers, neuron_id, lane):
        self.states, self.values, self.buffers = states, values, buffers
        self.arrays = runner.arrays
        self.neuron_id, self.lane = neuron_id, lane
        self.seed, self.dt = runner.seed, runner.dt


class _StepWriter:
    """Spike flags of one step of a tile, written into row ``row`` of its region."""

    def __init__(self, region, row: int):
        self.region, self.row = region, row

    def write(self, i, positive, negative=None) -> None:
        self.region.write(self.row, positive, negative)


class _Phases:
    """What a runner keeps for phased runs: the carried arrays, the tiles and their views."""

    def __init__(self, runner, phases):
        self.phases = phases
        shape = (runner.batch, runner.n)
        models = phases.models
        extra = [s for s in models["try"].states if s.name not in runner.states]
        self.carried = {s.name: np.zeros(shape, _dtype(s.dtype, runner.precision))
                        for s in extra}
        self.states = {**runner.states, **self.carried}
        inner = {s.name: s.dtype for s in models["loop"].states}
        before = set(runner.states) | _names(models["try"].step)
        #: the states of the loop and cross phases set before them: gathered; the others
        #: (locals of those phases only) start as new arrays of the gathered size
        self.gathered = [name for name in inner if name in before]
        self.fresh = {name: self.carried[name].dtype for name in inner if name not in before}
        finish = models["finish"]
        after = set(runner.states) | _read_with_resets(finish, finish.step)
        #: the states the loop and cross phases assign that are read after them: scattered
        #: back
        assigned = {phase: {stmt.target for stmt in ir.walk_statements(models[phase].step)
                            if isinstance(stmt, ir.Assign)}
                    for phase in ("reject", "loop", "cross") if phase in models}
        self.written = [name for name in inner
                        if name in after and any(name in names for names in assigned.values())]
        #: the states the cross phase assigns: put back into the loop's gathered population
        self.crossed = [name for name in inner if name in assigned.get("cross", ())]
        setting = os.environ.get("EQSNN_NUMPY_TILE", "").strip()
        if setting:
            elements = int(setting)
        else:
            per_element = sum(a.itemsize for a in self.states.values())
            per_element += sum(b.itemsize for b in phases.programs["try"].allocate(1, 1).values())
            elements = max(MIN_ELEMENTS, CACHE_BYTES // max(per_element, 1))
        self.tiling = Tiling(runner.batch, runner.n, elements)
        self.views = {name: [self._tile(runner, name, rows, cols)
                             for rows, cols in self.tiling.tiles]
                      for name in ("try", "finish")}

    def _tile(self, runner, phase, rows, cols):
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        cache = runner.tile_buffers.setdefault(("phase", phase), {})
        if shape not in cache:
            cache[shape] = self.phases.programs[phase].allocate(*shape)
        view = _View(runner, {name: value[rows, cols] for name, value in self.states.items()},
                     {name: value[cols] if name in runner.per_neuron else value
                      for name, value in runner.values.items()},
                     cache[shape], runner.neuron_id[:, cols], runner.lane[rows])
        view.rows, view.cols = rows, cols
        return view


def _dtype(kind: str, precision: str):
    from . import numpy_dtype
    return numpy_dtype(kind, precision)


def _inputs_at(inputs: dict, i: int, rows=slice(None), cols=slice(None)) -> dict:
    """Each input's value in step ``i`` (a leading dimension of 1), for a tile."""
    out = {}
    for name, value in inputs.items():
        step = value[i:i + 1] if len(value) > 1 else value
        out[name] = step[:, rows if step.shape[1] > 1 else slice(None),
                         cols if step.shape[2] > 1 else slice(None)]
    return out


def _gathered_inputs(inputs: dict, i: int, shape, at) -> dict:
    out = {}
    for name, value in inputs.items():
        step = value[i] if len(value) > 1 else value[0]
        if step.size == 1:
            out[name] = step.reshape(1, 1, 1)
        else:
            out[name] = np.broadcast_to(step, shape).reshape(-1).take(at).reshape(1, 1, -1)
    return out


def run_deferred(runner, steps: int, step0: int, inputs: dict, record: dict,
                 outputs: dict, spikes) -> None:
    """Advance ``runner``'s population by ``steps`` steps in the three phases (module
    docstring); ``record`` and ``outputs`` as in :func:`~eqsnn.backends.numpy_tiles.run_tiled`."""
    # views of the population, kept while its values are the same objects (set_value
    # replaces one; states change in place): a network runs a population a few steps a call
    key = tuple(map(id, runner.values.values())) + (id(runner.arrays),)
    cached = getattr(runner, "phased", None)
    if cached is None or cached[0] != key:
        runner.phased = cached = (key, _Phases(runner, runner.program.phases))
    state = cached[1]
    programs, loop_cond = state.phases.programs, state.phases.condition
    shape = (runner.batch, runner.n)
    block = len(spikes.block) if spikes is not None else max(steps, 1)
    regions = {}
    for i in range(steps):
        row = i % block
        step = step0 + i
        for view in state.views["try"]:
            programs["try"].run(view, 1, step, _inputs_at(inputs, i, view.rows, view.cols),
                                [], None)
        at = np.flatnonzero(loop_cond(state.states, runner.values))
        if at.size:
            _run_loop(runner, state, programs, step, _gathered_inputs(inputs, i, shape, at),
                      at)
        if spikes is not None and row == 0:
            regions = {id(view): spikes.region(view.rows, view.cols)
                       for view in state.views["finish"]}
        for view in state.views["finish"]:
            recorders, scatter = _recorders(view, record, outputs, i, i + 1)
            writer = _StepWriter(regions[id(view)], row) if spikes is not None else None
            programs["finish"].run(view, 1, step, _inputs_at(inputs, i, view.rows, view.cols),
                                   recorders, writer)
            for out, (rows, positions), values in scatter:
                out[i:i + 1, rows, positions] = values
        if spikes is not None and (row == block - 1 or i == steps - 1):
            spikes.commit(i - row, row + 1)


def _run_loop(runner, state, programs, step: int, inputs: dict, at) -> None:
    """The loop phase on the population's elements at flat positions ``at``; where it
    leaves neurons with a crossing to locate, the cross phase on those, and the loop
    again (:mod:`eqsnn.backends.numpy_crossings`)."""
    n = runner.n
    cols = at % n
    gathered = {name: state.states[name].reshape(-1).take(at).reshape(1, -1)
                for name in state.gathered}
    gathered.update((name, np.zeros((1, at.size), dtype)) for name, dtype in state.fresh.items())
    values = {name: value.take(cols) if name in runner.per_neuron else value
              for name, value in runner.values.items()}
    view = _View(runner, gathered, values, None, cols.astype(np.int32).reshape(1, -1),
                 (at // n).astype(np.int32).reshape(1, -1))
    if "reject" in programs:
        view.buffers = programs["reject"].allocate(1, at.size)
        programs["reject"].run(view, 1, step, inputs, [], None)
    view.buffers = programs["loop"].allocate(1, at.size)
    programs["loop"].run(view, 1, step, inputs, [], None)
    while "cross" in programs:
        pending = np.flatnonzero(gathered[PENDING])
        if not pending.size:
            break
        _run_cross(runner, state, programs["cross"], step, view, inputs, pending)
        programs["loop"].run(view, 1, step, inputs, [], None)
    for name in state.written:
        value = state.states[name]
        if value.flags.c_contiguous:  # an indexed store: a third of np.put's time
            value.reshape(-1)[at] = gathered[name]
        else:
            np.put(value, at, gathered[name])


def _run_cross(runner, state, program, step: int, view, inputs: dict, pending) -> None:
    """The cross phase on the elements at ``pending`` of the loop's gathered ``view``."""
    def pick(value):
        return value.take(pending).reshape(1, -1)
    states = {name: pick(value) for name, value in view.states.items()}
    values = {name: pick(value) if name in runner.per_neuron else value
              for name, value in view.values.items()}
    sub = _View(runner, states, values, program.allocate(1, pending.size),
                pick(view.neuron_id), pick(view.lane))
    program.run(sub, 1, step, {name: value if value.size == 1 else
                               value.reshape(-1).take(pending).reshape(1, 1, -1)
                               for name, value in inputs.items()}, [], None)
    for name in state.crossed:
        view.states[name].reshape(-1)[pending] = states[name]
