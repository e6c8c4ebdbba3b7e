"""The C text of the ``c`` backend's run loop: ``eqsnn_run`` and the tiles it runs.

``eqsnn_run(const eqsnn_run_args *)`` splits the ``(lane, neuron)`` grid
into tiles of :data:`TILE` neurons, shared among OpenMP threads; each tile
(``eqsnn_run_tile``) goes through all the steps while its state stays in the
L1 cache: every step reads the tile's input rows, calls the step function of
:mod:`eqsnn.printing.c` for every neuron, writes the spike words of the step
before and the records.  Pure text; :mod:`eqsnn.backends.c` emits it after
the step function and passes the arguments through ctypes.
"""

from __future__ import annotations

from .. import ir
from ..printing.c import FAST_STEP_FUNCTION, UNIFORM_FUNCTION
from ..printing.c_printer import STORAGE_TYPES, wrap_items
from ..runtime.checks import CHECK_ALL, CHECK_CODE, CHECK_STEP, check_tests, deferred_states
from . import _compiled as shared
from ._compiled import Layout
from .c_deferred_pass import deferred_buffers, deferred_pass
from .c_run_check import INCLUDES, cheap_arguments, cheap_head, cheap_tail

__all__ = ["DEFERRING_TILE", "DEFERRING_TILE_LEAST", "TILE", "run_loop_text", "run_tile",
           "tile_size"]

#: neurons per tile: a multiple of 512, so a tile's spike words of one step fill whole 64-byte
#: lines of the (64-byte aligned, padded) spike rows: no line is shared between tiles
TILE = 512
#: the most neurons per tile of a step that defers some neurons to a substep loop (the
#: adaptive method): the loop runs on the deferred neurons of the tile in blocks, and the more
#: of them a tile holds, the fuller its blocks and the fewer the pass's fixed costs per
#: neuron.  AdEx at dt = 0.1 ms defers about 2 % a step: 44 neurons of 2048, 170 of 8192,
#: and its adaptive step takes 10 % less time at 8192 (docs/performance.md).  A run on
#: several threads takes smaller tiles where there would be too few to share
#: (:func:`run_tile`)
DEFERRING_TILE = 8192
#: the fewest neurons per tile of such a step that :func:`run_tile` gives
DEFERRING_TILE_LEAST = 2048
#: the most bytes of a deferring tile's rows on the thread's stack (an input row each, the
#: try's errors, the flags): half of the 2 MiB a thread has under OMP_STACKSIZE=2M or
#: glibc's default where ``ulimit -s`` is unlimited.  Forty inputs at 8192 neurons took
#: 2.5 MiB, and the run died of a stack overflow; such a model takes smaller tiles
TILE_STACK_BYTES = 1 << 20


def tile_size(fast, plan: Layout | None = None) -> int:
    """Neurons per tile of a step function with (``fast``) or without a loop-free variant:
    the most (the buffers of the tile function are sized for them); with ``fast``, fewer
    where the rows of ``plan``'s inputs would take more than :data:`TILE_STACK_BYTES`, a
    multiple of 512 and at least :data:`TILE`.

    >>> tile_size(False), tile_size(True)
    (512, 8192)
    """
    if not fast:
        return TILE
    rows = 0 if plan is None else len(plan.inputs)
    per_neuron = 8 * (rows + 1) + 2  # the input rows and the try's errors; two flag rows
    return max(TILE, min(DEFERRING_TILE, TILE_STACK_BYTES // per_neuron // TILE * TILE))


def run_tile(most: int, n: int, batch: int, threads: int) -> int:
    """Neurons per tile of one run: ``most`` (:func:`tile_size`), smaller where fewer than
    four tiles a thread would share the ``(batch, n)`` grid, down to
    :data:`DEFERRING_TILE_LEAST`; a multiple of 512 (the spike words of a tile fill whole
    lines) and at most ``most``."""
    if threads <= 1 or most <= DEFERRING_TILE_LEAST:
        return most
    per_lane = -(-4 * threads // max(1, batch))  # tiles each lane needs
    tile = (n // per_lane) // 512 * 512
    return max(DEFERRING_TILE_LEAST, min(most, tile))


_RUN_TYPES = """\
/* ---- the run loop: many steps per call from Python (ctypes) ---- */
typedef struct { const void *data; long long stride_step, stride_lane, stride_neuron; } eqsnn_input;
typedef struct { void *out; const long long *index; long long width; } eqsnn_recorder;
typedef struct {
    long long batch, n, steps, step0, tile;
    double dt64;                         /* t = (FLOAT)(step * dt64) */
    unsigned int seed_lo, seed_hi;
    int threads;
    void *const *states;                 /* (batch, n) each, model order */
    const void *const *values;           /* 0-d, or (n,) when per neuron */
    const void *const *arrays;
    const long long *array_lengths;
    const eqsnn_input *inputs;
    const eqsnn_recorder *recorders;     /* one per state; out NULL: not recorded */
    unsigned int *spikes, *negative_spikes;  /* (steps, batch, words) bit planes or NULL */
} eqsnn_run_args;

"""


def run_loop_text(model: ir.Model, plan: Layout, uniforms=(), check_flags=False,
                  fast=False, cheap=()) -> str:
    """The C text after the step function: the argument types of ``eqsnn_run``, the helpers
    it shares with other compiled backends, the tile function and ``eqsnn_run`` itself;
    ``check_flags``: the step returns the numerical check's code in its flags
    (:attr:`eqsnn.printing.c.StepFunction.check_flags`); ``fast``: the step has a loop-free
    variant (``FAST_STEP_FUNCTION``) tried first, and the parts of its full step for the
    neurons that one defers (:class:`eqsnn.printing.c_deferred.DeferredStep`); ``cheap``:
    the check's cheap test of the step (:attr:`eqsnn.printing.c.StepFunction.cheap`)."""
    tile = tile_size(fast, plan)
    return "\n".join([_RUN_TYPES, INCLUDES if cheap else "", shared.C_RUN_HELPERS,
                      _spike_row_function(tile),
                      _tile_function(model, plan, tile, uniforms, check_flags, fast, cheap),
                      _run_function(tile)])


def _tile_function(model: ir.Model, plan: Layout, tile: int, uniforms=(), check_flags=False,
                   fast=False, cheap=()) -> str:
    """``eqsnn_run_tile``: neurons ``[first, last)`` of one lane through all the steps;
    with ``cheap`` (:mod:`eqsnn.printing.c_check`), first with the check's cheap test, and
    where that fails, once more from the tile's states before them with the exact check."""
    head = [
        "static void eqsnn_run_tile(const eqsnn_run_args *a, long long lane, long long first)",
        "{",
        "    const long long last = first + a->tile < a->n ? first + a->tile : a->n;",
        "    const long long words = EQSNN_SPIKE_ROW(a->n);  /* padded: whole 64-byte lines */",
        f"    unsigned char flag_rows[2 * {tile}] = {{0}};  /* stay 0 past `last`: no spike */",
        "    unsigned char *flags = flag_rows;  /* this step's; the other is the last step's */",
        "    long long i, j" + (", r;" if plan.states else ";"),
    ]
    head += _tile_pointer_lines(plan) + _input_setup_lines(plan, tile)
    if fast:
        head += deferred_buffers(plan, fast, _stepped(plan, check_flags), tile)
    check = [*_check_all_versions(plan, tile, uniforms, check_flags, fast),
             *(_check_lines(model, plan) if check_flags else [])]
    again = []
    if cheap:
        head += cheap_head(plan, cheap, _stepped(plan, check_flags), tile)
        exact = _neuron_loop(plan, tile, uniforms, check_flags, fast,
                             extra=cheap_arguments(cheap, "1"))
        check = ["        if (_exact) {  /* the exact check, per neuron */",
                 *[line if line.startswith("#") else "    " + line
                   for line in exact + _check_lines(model, plan)],
                 "        } else {  /* the cheap test (eqsnn.printing.c_check) */",
                 *[line if line.startswith("#") else "    " + line for line in
                   _check_all_versions(plan, tile, uniforms, check_flags, fast,
                                       cheap_arguments(cheap, "0"))],
                 "        }"]
        again = cheap_tail(plan, cheap, _stepped(plan, check_flags), tile)
    loop = [
        *(["eqsnn_again:"] if cheap else []),
        "    for (i = 0; i < a->steps; ++i) {",
        "        const long long step = a->step0 + i;",
        "        const FLOAT t = (FLOAT)((double)step * a->dt64);",
        *_input_row_lines(plan),
        *_uniform_step(plan, uniforms),
        f"        flags = flag_rows + (i & 1) * {tile};",
        *check,
        "        /* spike words of the step before: its flags were written a whole step ago,",
        "         * so reading them waits for no store in flight */",
        "        if (a->spikes && i > 0) eqsnn_spike_row(a, lane, first, i - 1, words,",
        f"                                                flag_rows + ((i - 1) & 1) * {tile});",
        "        if (a->spikes && i + 1 == a->steps)",
        f"            eqsnn_spike_row(a, lane, first, i, words, flag_rows + (i & 1) * {tile});",
        *_record_lines(plan, check_flags),
    ]
    return "\n".join(head + loop + ["    }", *again, "    eqsnn_store_fence();", "}"]) + "\n"


def _tile_pointer_lines(plan: Layout) -> list[str]:
    """The lane's state rows ``_s<k>`` with the tile's range of each recorder's index
    (``_rb<k>`` to ``_re<k>``), the values ``_v<k>`` and the arrays ``_a<k>``."""
    lines = []
    for k, (name, dtype) in enumerate(plan.states):
        lines += [
            f"    {STORAGE_TYPES[dtype]} *restrict const _s{k} = ({STORAGE_TYPES[dtype]} *)"
            f"a->states[{k}] + lane * a->n;  /* {name} */",
            f"    const long long _rw{k} = a->recorders[{k}].width, "
            f"*const _ri{k} = a->recorders[{k}].index;",
            f"    void *const _ro{k} = a->recorders[{k}].out;",
            f"    const long long _rb{k} = _ri{k} ? eqsnn_lower_bound(_ri{k}, _rw{k}, first) : 0,"
            f" _re{k} = _ri{k} ? eqsnn_lower_bound(_ri{k}, _rw{k}, last) : 0;",
        ]
    for k, (name, dtype, per_neuron) in enumerate(plan.values):
        storage = STORAGE_TYPES[dtype]
        lines.append(f"    const {storage} *const _v{k} = (const {storage} *)a->values[{k}];"
                     f"  /* {name}, per neuron */" if per_neuron else f"    const {storage} _v{k}"
                     f" = *(const {storage} *)a->values[{k}];  /* {name} */")
    for k, (name, dtype) in enumerate(plan.arrays):
        storage = STORAGE_TYPES[dtype]
        lines.append(f"    const {storage} *const _a{k} = (const {storage} *)a->arrays[{k}];"
                     f"  /* {name} */")
    return lines


def _input_setup_lines(plan: Layout, tile: int) -> list[str]:
    """Each input's lane ``_i<k>``, strides, and the tile's copy ``_copy<k>`` of its row,
    filled once here where one row serves every step (held and strided)."""
    lines = []
    for k, (name, dtype) in enumerate(plan.inputs):
        storage = STORAGE_TYPES[dtype]
        lines += [f"    const {storage} *const _i{k} = (const {storage} *)a->inputs[{k}].data"
                  f" + lane * a->inputs[{k}].stride_lane;  /* {name} */",
                  f"    const long long _is{k} = a->inputs[{k}].stride_step, "
                  f"_in{k} = a->inputs[{k}].stride_neuron;",
                  f"    {storage} _copy{k}[{tile}];  /* the row where it is not contiguous */",
                  f"    const int _held{k} = _is{k} == 0 && _in{k} != 1;  /* one row for all "
                  "steps */",
                  f"    if (_held{k}) for (j = first; j < last; ++j) _copy{k}[j - first] = "
                  f"_i{k}[j * _in{k}];"]
    return lines


def _input_row_lines(plan: Layout) -> list[str]:
    """This step's input row ``_row<k>`` of the tile, contiguous along neurons: the input's
    own row, or its copy (held, broadcast or gathered)."""
    rows = []
    for k, (_, dtype) in enumerate(plan.inputs):
        storage = STORAGE_TYPES[dtype]
        rows += [f"        const {storage} *restrict _row{k} = _i{k} + i * _is{k};",
                 f"        if (_held{k}) _row{k} = _copy{k} - first;",
                 f"        else if (_in{k} == 0) {{  /* one value for the tile: a broadcast */",
                 f"            const {storage} _value = _row{k}[0];",
                 f"            for (j = first; j < last; ++j) _copy{k}[j - first] = _value;",
                 f"            _row{k} = _copy{k} - first;",
                 f"        }} else if (_in{k} != 1) {{  /* strided: a gather */",
                 f"            for (j = first; j < last; ++j) _copy{k}[j - first] = "
                 f"_row{k}[j * _in{k}];",
                 f"            _row{k} = _copy{k} - first;",
                 "        }"]
    return rows


def _record_lines(plan: Layout, check_flags=False) -> list[str]:
    """The end-of-step state of the tile's recorded neurons into each recorder's rows (not
    the check's hidden states where the tile loop keeps them: no run records them).  Each
    recorder's output pointer is read once per tile (``_ro<k>``): a step of a small model
    costs a few dozen nanoseconds a tile, so a load and test per state and step shows."""
    lines = []
    for k, (name, dtype) in enumerate(plan.states):
        if check_flags and name in (CHECK_STEP, CHECK_CODE):
            continue
        storage = STORAGE_TYPES[dtype]
        lines += [
            f"        if (_ro{k}) {{  /* record {name} */",
            f"            {storage} *const out = ({storage} *)_ro{k}"
            f" + (i * a->batch + lane) * _rw{k};",
            f"            if (!_ri{k}) for (j = first; j < last; ++j) out[j] = _s{k}[j];",
            f"            else for (r = _rb{k}; r < _re{k}; ++r) out[r] = _s{k}[_ri{k}[r]];",
            "        }",
        ]
    return lines


def _spike_row_function(tile: int) -> str:
    """The spike words of one tile and step into the (padded) bit planes: the run's tile
    (``a->tile``, at most ``tile``) over 32 words, fewer in the last tile of a row (the row
    is padded to 512 neurons, not to a tile; both counts are multiples of 16)."""
    return f"""\
static void eqsnn_spike_row(const eqsnn_run_args *a, long long lane, long long first,
                            long long i, long long words, const unsigned char *flags)
{{
    const long long row = (i * a->batch + lane) * words + first / 32;
    const long long most = a->tile / 32;  /* at most {tile // 32} */
    const int count = (int)(words - first / 32 < most ? words - first / 32 : most);
    eqsnn_store_spike_words(a->spikes + row, flags, 0, count);
    if (a->negative_spikes)
        eqsnn_store_spike_words(a->negative_spikes + row, flags, 1, count);
}}
"""


def _uniform_step(plan: Layout, uniforms) -> list[str]:
    """The step's values that are one for all neurons, computed once per step."""
    if not uniforms:
        return []
    declared = ", ".join(f"{ctype} {name}" for ctype, name in uniforms).split(", ")
    out = ", ".join(f"&{name}" for _, name in uniforms)
    return [f"        {line};" for line in declared] + [
        f"        {UNIFORM_FUNCTION}(t, (int)step{plan.uniform_call(lambda k: f'_v{k}')}, "
        f"{out});"]


def _check_lines(model: ir.Model, plan: Layout) -> list[str]:
    """The numerical check of the step: the flags' bits 2 to 7 (the smallest failing code
    + 1) of the tile or'ed together, one vectorised pass over bytes the step just wrote; only
    where some neuron failed, its first failing step and code into the hidden states.  Where
    every test waits for the second pass (``eqsnn.runtime.checks.sticky_states``), the first
    pass has nothing to look for."""
    names = [name for name, _ in plan.states]
    at_step, at_code = names.index(CHECK_STEP), names.index(CHECK_CODE)
    deferred = deferred_states(model)
    guard = ""
    if all(state in deferred for _, state, _ in check_tests(model)):
        k = [name for name, _, _ in plan.values].index(CHECK_ALL)
        guard = f"if (_v{k} > 0) "
    return [
        f"        {guard}{{  /* the numerical check (eqsnn.runtime.checks) */",
        "            unsigned char _any = 0;",
        "            for (j = 0; j < last - first; ++j) _any |= flags[j];",
        "            if (_any >> 2) for (j = first; j < last; ++j) {",
        "                const int _code = flags[j - first] >> 2;",
        f"                if (_code && _s{at_step}[j] < 0) {{",
        f"                    _s{at_step}[j] = (int)step;",
        f"                    _s{at_code}[j] = _code - 1;",
        "                }",
        "            }",
        "        }",
    ]


def _check_all_versions(plan: Layout, tile: int, uniforms=(), check_flags=False,
                        fast=False, extra=()) -> list[str]:
    """The neuron loop, twice where the step reads the numerical check's run-time switch
    ``_check_all`` (:mod:`eqsnn.runtime.checks`): once with it 1, once with it 0, chosen
    per step.  The step's branch on a run-time value keeps GCC from vectorising the loop;
    on a constant it folds away.  Only ``> 0`` of the value is read, so 1 and 0 stand for
    it exactly."""
    k = next((k for k, (name, _, per) in enumerate(plan.values)
              if name == CHECK_ALL and not per), None)
    if k is None:
        return _neuron_loop(plan, tile, uniforms, check_flags, fast, extra=extra)

    def indented(lines):
        return [line if line.startswith("#") else "    " + line for line in lines]
    return [f"        if (_v{k} > 0) {{  /* every test of the numerical check */",
            *indented(_neuron_loop(plan, tile, uniforms, check_flags, fast, {k: "1"}, extra)),
            "        } else {",
            *indented(_neuron_loop(plan, tile, uniforms, check_flags, fast, {k: "0"}, extra)),
            "        }"]


def _neuron_loop(plan: Layout, tile: int, uniforms=(), check_flags=False, fast=False,
                 constants=None, extra=()) -> list[str]:
    """The innermost loop: one step of every neuron of the tile (vectorisable); with
    ``check_flags`` the hidden check states are not the step's (:func:`_check_lines`); with
    ``fast``, the loop-free step first, then the full step for the neurons it deferred;
    ``constants``: the C text passed for some values (by index) in place of the value;
    ``extra``: arguments after the uniforms (the check's cheap test, c_check)."""
    constants = constants or {}
    stepped = _stepped(plan, check_flags)
    args = [f"_row{k}[j]" for k in range(len(plan.inputs))]
    args += [constants.get(k, f"_v{k}[j]" if per else f"_v{k}")
             for k, (_, _, per) in enumerate(plan.values)]
    for k in range(len(plan.arrays)):
        args += [f"_a{k}", f"a->array_lengths[{k}]"]
    args += ["t", "(int)step", "(int)j", "(int)lane", "a->seed_lo", "a->seed_hi"]
    args += [name for _, name in uniforms]
    args += list(extra)
    error = ["&_terr[j - first]"] if fast and fast.try_error else []  # for the deferred pass
    call = wrap_items([f"&_x{k}" for k in stepped] + args + error, 16)
    load = [f"            {STORAGE_TYPES[plan.states[k][1]]} _x{k} = _s{k}[j];"
            for k in stepped]
    store = [f"            _s{k}[j] = _x{k};" for k in stepped]
    first = FAST_STEP_FUNCTION if fast else "eqsnn_neuron_step"
    lines = [  # no loop-carried dependence: each j reads and writes only neuron j's data
        "#if defined(__clang__)",
        "#pragma clang loop vectorize(assume_safety)",
        "#elif defined(__GNUC__)",
        "#pragma GCC ivdep",
        "#endif",
        "        for (j = first; j < last; ++j) {",
        *load,
        f"            flags[j - first] = (unsigned char){first}(",
        *call[:-1], call[-1] + ");",
        *store,
        "        }",
    ]
    if fast:  # the neurons that need the substep loop
        lines += deferred_pass(plan, fast, stepped, args, tile, "        ")
    return lines


def _stepped(plan: Layout, check_flags: bool) -> list[int]:
    """The indices of the states the step function takes (not the check's, where
    ``check_flags``)."""
    return [k for k, (name, _) in enumerate(plan.states)
            if not (check_flags and name in (CHECK_STEP, CHECK_CODE))]


def _run_function(tile: int) -> str:
    """``eqsnn_run``: the tiles of every lane, on the threads; 1 where the caller's tile
    size is more than the text was printed for (:func:`tile_size`) or not a multiple of
    512 (:func:`run_tile`)."""
    return _RUN_FUNCTION.replace("TILE_SIZE", str(tile))


_RUN_FUNCTION = """\
EQSNN_EXPORT int eqsnn_run(const eqsnn_run_args *a)
{
    const long long tiles_per_lane = (a->n + a->tile - 1) / a->tile;
    const long long tiles = tiles_per_lane * a->batch;
    long long tile;
    if (a->tile <= 0 || a->tile > TILE_SIZE || a->tile % 512) return 1;
    if (a->threads <= 1) {  /* no thread team to start (a network runs one step a call) */
        for (tile = 0; tile < tiles; ++tile)
            eqsnn_run_tile(a, tile / tiles_per_lane, (tile % tiles_per_lane) * a->tile);
        return 0;
    }
#pragma omp parallel for schedule(guided) num_threads(a->threads)
    for (tile = 0; tile < tiles; ++tile)
        eqsnn_run_tile(a, tile / tiles_per_lane, (tile % tiles_per_lane) * a->tile);
    return 0;
}
"""


