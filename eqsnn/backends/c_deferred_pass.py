"""The C text of the ``c`` backend's deferred pass: the adaptive step's substep loop run
across the neurons the loop-free try deferred, in vectorised loops.

After the tile's neuron loop has run :data:`~eqsnn.printing.c.FAST_STEP_FUNCTION`
for every neuron, the few it deferred (flag :data:`~eqsnn.printing.c.DEFERRED`,
found eight flags at a time: :func:`_scan`) are gathered into compact buffers
(``_d...[m]``, ``m`` over the deferred neurons; ``_di[m]`` the neuron): their
states, and the locals passed between the parts of
:mod:`eqsnn.printing.c_deferred`.  ``BEGIN`` runs for all of
them, then ``ITERATION`` once per iteration of the substep loop for those still
in it, then ``END`` for all of them, each in blocks of :data:`LANES` that the
compiler vectorises; the states and flags are scattered back.

Where the model locates crossings the iterations are ``LIGHT_ITERATION``: a
neuron whose substep crosses the threshold returns ``REDO``, unchanged, and is
set aside (``_p...`` buffers); once no neuron is left running, those set aside
run ``ITERATION`` (the crossing located, the reset, on to the end of the step)
together, in full blocks, and go on with the others.  A neuron's iterations do
not depend on the others', so the order changes nothing.

Between iterations the finished neurons are moved onto a stack at the top of
the buffers and the last running ones into their places (one pass), so an
iteration runs only over running neurons; the spare lanes of the
last block are copies of a running one (a finished one in a masked lane would
run on a zero error, whose ``log`` takes the vector math's slow path).  Each
neuron goes through the same operations as in
:data:`~eqsnn.printing.c.STEP_FUNCTION`.
"""

from __future__ import annotations

from ..printing.c import DEFERRED
from ..printing.c_deferred import (
    BEGIN,
    END,
    ITERATION,
    LIGHT_ITERATION,
    REDO,
    DeferredStep,
)
from ..printing.c_printer import STORAGE_TYPES, wrap_items
from ._compiled import Layout

__all__ = ["LANES", "capacity", "deferred_buffers", "deferred_pass"]

#: the deferred neurons are run in blocks of this many (a multiple of the vector widths;
#: with tiles of 8192, 16 was faster than 8 and 32 on AdEx: two vectors of 8 doubles in
#: flight hide the latency of each stage's chain), the block's spare lanes copies of a
#: running neuron
LANES = 16
#: the most deferred neurons run together: a tile with more (a coarse dt, a large tile) runs
#: them in turns, so the buffers (on the stack) stay the size they have for 512 neurons
CAPACITY = 512
#: the most bytes of those buffers (on the thread's stack, beside the tile's rows,
#: c_run_loop.TILE_STACK_BYTES): a model with many states runs fewer neurons together
BUFFER_BYTES = 1 << 19

assert DEFERRED & 3 == 3, "the scan (_scan) skips words with no byte that has bits 0 and 1"

_VECTORISE = ["#if defined(__clang__)", "#pragma clang loop vectorize(assume_safety)",
              "#elif defined(__GNUC__)", "#pragma GCC ivdep", "#endif"]


def capacity(plan: Layout, step: DeferredStep, stepped, tile: int) -> int:
    """The most deferred neurons run together: :data:`CAPACITY`, fewer (a multiple of
    :data:`LANES`) where the buffers would take more than :data:`BUFFER_BYTES` (a model of
    some sixty states: half a megabyte at 512)."""
    widths = [8, 1] + [_BYTES[STORAGE_TYPES[plan.states[k][1]]] for k in stepped] + [
        _BYTES[ctype] for ctype, _ in step.carried]
    if step.light:  # the set-aside copies
        widths += [4] + widths[2:]
    per_neuron = sum(widths)
    most = (BUFFER_BYTES // per_neuron - 2 * LANES) // LANES * LANES
    return max(LANES, min(tile, CAPACITY, most))


#: bytes of a buffer's element by its C type (FLOAT counted as a double)
_BYTES = {"FLOAT": 8, "int": 4, "unsigned char": 1}


def deferred_buffers(plan: Layout, step: DeferredStep, stepped, tile: int) -> list[str]:
    """The tile's compact buffers (declared once per tile)."""
    size = capacity(plan, step, stepped, tile) + 2 * LANES
    lines = [f"    int _di[{size}], _da[{size}];  /* deferred neurons; running */",
             f"    unsigned char _df[{size}];"]
    lines += [f"    {STORAGE_TYPES[plan.states[k][1]]} _ds{k}[{size}];" for k in stepped]
    lines += [f"    {ctype} _dc{c}[{size}];  /* {name} */"
              for c, (ctype, name) in enumerate(step.carried)]
    if step.light:  # the neurons set aside to run the full iteration together
        lines.append(f"    int _pi[{size}];")
        lines += [f"    {STORAGE_TYPES[plan.states[k][1]]} _ps{k}[{size}];" for k in stepped]
        lines += [f"    {ctype} _pc{c}[{size}];" for c, (ctype, _) in enumerate(step.carried)]
    if step.try_error:  # the whole-step try's error of each neuron, for BEGIN
        lines.append(f"    FLOAT _terr[{tile}];")
    return lines


def deferred_pass(plan: Layout, step: DeferredStep, stepped, args, tile: int,
                  pad: str) -> list[str]:
    """The deferred pass of one step of the tile; ``stepped``: the indices of the states the
    step function takes, ``args``: its other arguments, in order, written for neuron ``j``
    (``_row<k>[j]``, ``_v<k>[j]``, ``(int)j``) and rewritten here for ``_di[m]``."""
    rows = [arg.replace("[j]", "[_di[m]]").replace("(int)j", "_di[m]") for arg in args]
    states = [f"&_ds{k}[m]" for k in stepped]
    carried = [f"&_dc{c}[m]" for c in range(len(step.carried))]

    def call(target, name, lo, hi, extra=()):
        """``target[m] = name(...)`` for ``m`` from ``lo`` (a multiple of :data:`LANES`) to
        ``hi``, in blocks of :data:`LANES` (a constant count: whole vectors, no remainder)."""
        items = wrap_items([*states, *rows, *extra, *carried], 16)
        return [f"for (mb = {lo}; mb < {hi}; mb += {LANES}) {{", *_VECTORISE,
                f"    for (ml = 0; ml < {LANES}; ++ml) {{  /* a constant count (-fwrapv) */",
                "        m = mb + ml;",
                f"        {target}[m] = {name}(", *("    " + item for item in items[:-1]),
                "    " + items[-1] + ");", "    }", "}"]
    buffers = ["_di"] + [f"_ds{k}" for k in stepped] + [
        f"_dc{c}" for c in range(len(step.carried))]
    aside = ["_pi"] + [f"_ps{k}" for k in stepped] + [f"_pc{c}" for c in range(len(step.carried))]

    def move(to, source):
        return [f"{name}[{to}] = {name}[{source}];" for name in buffers]

    def set_aside(to, source):
        return [f"{a}[{to}] = {d}[{source}];" for a, d in zip(aside, buffers)]

    def take_back(to, source):
        return [f"{d}[{to}] = {a}[{source}];" for a, d in zip(aside, buffers)]

    def spare(begin, source, end=None):
        """The spare lanes of a block (from ``begin`` to the block's end, or down to
        ``end``): copies of lane ``source``, so they run on a real state (special values
        such as log(0) take slow paths in the vector math) and are never read."""
        loop = (f"for (m = {begin}; m % {LANES}; ++m) {{" if end is None else
                f"for (m = {end}; m < {begin}; ++m) {{")
        return [f"if ({begin} > 0) " + loop if end is None else loop,
                *("    " + line for line in move("m", source)), "}"]
    finished = [
        "    --_top;  /* the stack never reaches q: the buffers hold 2 LANES more than all */",
        *("    " + line for line in move("_top", "p"))]
    if step.light:  # those that cross: set aside for the full iteration, together
        finished = [f"if (_da[p] == {REDO}) {{", *("    " + line for line in set_aside(
            "_pn", "p")), "    ++_pn;", "} else {", *finished, "}"]
    compact = [  # running ones to the front, finished ones onto the stack at the top
        "p = 0, q = _dn;",
        "while (p < q) {  /* [0, p) running, [p, q) not seen yet */",
        f"    if (_da[p] && _da[p] != {REDO}) {{ ++p; continue; }}",
        *("    " + line for line in finished),
        "    if (p < --q) {  /* the last one not seen yet takes its place */",
        "        _da[p] = _da[q];",
        *("        " + line for line in move("p", "q")),
        "    }",
        "}",
        "_dn = p;",
        *spare("_dn", "0"),
    ]
    most = capacity(plan, step, stepped, tile)
    size = most + 2 * LANES
    body = [
        "{  /* the deferred neurons: the full step, vectorised across them */",
        "    long long m, mb;  /* 64-bit: mb + ml cannot wrap, so a block's lanes are adjacent */",
        "    int ml, p, q, _it, _dn, _top, _pn = 0;",
        "    long long _from = first;",
        f"    while (_from < last) {{  /* at most {most} at a time */",
        f"    _dn = 0, _top = {size};",
        *("    " + line for line in _scan(most)),
        "    _from = j;",
        "    if (_dn) {",
        "        const int _nd = _dn;",
        f"        for (m = _nd; m % {LANES}; ++m) _di[m] = _di[0];  /* the spare lanes */",
        f"        for (m = 0; m < _nd + (-_nd & {LANES - 1}); ++m) {{",
        *(f"            _ds{k}[m] = _s{k}[_di[m]];" for k in stepped),
        "        }",
        *("        " + line for line in call(
            "_da", BEGIN, "0", "_dn", ["_terr[_di[m] - first]"] if step.try_error else [])),
        *("        " + line for line in compact),
        *(_set_aside_loop(step.limit, call, compact, take_back, spare) if step.light else [
            f"        for (_it = 0; _it < {step.limit} && _dn > 0; ++_it) {{",
            *("            " + line for line in call("_da", ITERATION, "0", "_dn", ["1"])),
            *("            " + line for line in compact),
            "        }"]),
        "        q = _top - _dn;  /* still running at the bound: onto the stack */",
        "        for (m = _dn - 1; m >= 0; --m) {",
        *("            " + line for line in move("q + m", "m")),
        "        }",
        "        _top = q;",
        f"        p = {size} - ((_nd + {LANES - 1}) & ~{LANES - 1});  /* whole blocks */",
        *("        " + line for line in spare("_top", f"{size} - 1", "p")),
        *("        " + line for line in call("_df", END, "p", size)),
        f"        for (m = _top; m < {size}; ++m) {{",
        "            j = _di[m];",
        *(f"            _s{k}[j] = _ds{k}[m];" for k in stepped),
        "            flags[j - first] = _df[m];",
        "        }",
        "    }",
        "    }",
        "}",
    ]
    return [pad + line if not line.startswith("#") else line for line in body]


def _set_aside_loop(limit: int, call, compact, take_back, spare) -> list[str]:
    """The substep loop where crossings are located: light iterations over the running
    neurons, those that cross set aside (``compact``); once none runs, the ones set aside
    come back and run the full iteration together, and go on.  Each round
    moves every neuron in it by one iteration of its own, or sets it aside for the next
    full one, so the rounds are bounded by the loop's bound per crossing; the guard below
    is a multiple of it."""
    guard = min((2 * limit + 2) * (limit + 1), 2**31 - 1)
    return [
        f"        for (_it = 0; _it < {guard} && (_dn > 0 || _pn > 0); ++_it) {{",
        "            if (_dn == 0) {  /* only those set aside are left: back, the full one */",
        "                for (m = 0; m < _pn; ++m) {",
        *("                    " + line for line in take_back("m", "m")),
        "                }",
        "                _dn = _pn, _pn = 0;",
        *("                " + line for line in spare("_dn", "0")),
        *("                " + line for line in call("_da", ITERATION, "0", "_dn", ["1"])),
        "            } else {",
        *("                " + line for line in call("_da", LIGHT_ITERATION, "0", "_dn", ["1"])),
        "            }",
        *("            " + line for line in compact),
        "        }",
        "        for (m = 0; m < _pn; ++m) {  /* set aside at the guard (never): as they are */",
        *("            " + line for line in take_back("_dn + m", "m")),
        "        }",
        "        _dn += _pn;",
    ]


def _scan(capacity: int) -> list[str]:
    """``_di[_dn++] = j`` for each deferred neuron ``j`` from ``_from`` on (at most
    ``capacity`` in all), ``j`` left after the last one seen.  Eight flags at a time: bit
    ``8k`` of ``_w`` says whether byte ``k`` has bits 0 and 1 set, as :data:`DEFERRED`
    has; only those bytes are read again (a spike and a negative spike never come
    together, so they are the deferred neurons), found by counting trailing zeros."""
    return [
        f"for (j = _from; j < last && _dn < {capacity}; ) {{",
        "    if (j + 8 <= last) {",
        "        const unsigned char *const _f = flags + (j - first);",
        "        unsigned long long _w = 0;",
        "        for (m = 0; m < 8; ++m) _w |= (unsigned long long)_f[m] << (8 * m);",
        "        for (_w &= (_w >> 1) & 0x0101010101010101ULL; _w; _w &= _w - 1) {",
        "            m = EQSNN_CTZ64(_w) >> 3;",
        f"            if (_f[m] == {DEFERRED} && (_di[_dn++] = (int)(j + m), _dn == {capacity}))",
        "                break;  /* full: on from the next one */",
        "        }",
        "        j = _w ? j + m + 1 : j + 8;",
        "    } else {",
        f"        if (flags[j - first] == {DEFERRED}) _di[_dn++] = (int)j;",
        "        ++j;",
        "    }",
        "}",
    ]
