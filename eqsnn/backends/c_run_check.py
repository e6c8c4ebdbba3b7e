"""The tile loop's part of the numerical check's cheap test (:mod:`eqsnn.printing.c_check`).

Where the step has a cheap test, ``eqsnn_run_tile`` keeps the tile's states
from before its steps, runs the steps with the cheap test (``_exact`` 0: no
code per neuron, each tested state folded into a few integers), and where
those fail, copies the states back and runs the same steps again with the
exact check (``_exact`` 1), which records each neuron's first failing step and
code as a check in every step would.  A step is deterministic (random draws
come from a counter-based generator keyed by seed, step, lane and neuron), so
the second run computes the same states, spikes and recordings and overwrites
the first's; the exact run is needed only for a tile where a test failed (or a
value came within the bound's own value: false alarms cost the time of the
exact run, never a result).
"""

from __future__ import annotations

from ..printing import c_check
from ..printing.c_printer import STORAGE_TYPES
from ._compiled import Layout

__all__ = ["cheap_arguments", "cheap_head", "cheap_tail"]

#: the C text before the tile function: malloc, free and memcpy
INCLUDES = "#include <stdlib.h>\n#include <string.h>\n"


def cheap_arguments(cheap, exact: str) -> list[str]:
    """The step's arguments of the cheap test: ``_exact`` (``"0"`` or ``"1"``) and the
    address of each folded integer."""
    return [exact] + [f"&{name}" for test in cheap for name in test.accumulators()]


def _saved(plan: Layout, stepped) -> list[tuple[int, str, int]]:
    """``(k, C storage type, offset in elements of the tile)`` of each stepped state."""
    out, offset = [], 0
    for k in stepped:
        ctype = STORAGE_TYPES[plan.states[k][1]]
        out.append((k, ctype, offset))
        offset += {"FLOAT": 8, "int": 4, "unsigned char": 1}[ctype]  # bytes, at most
    return out


def _width(plan: Layout, stepped) -> int:
    """The bytes per neuron of the saved states (each at the offsets of :func:`_saved`)."""
    return sum(8 if ctype == "FLOAT" else 4 if ctype == "int" else 1
               for _, ctype, _ in _saved(plan, stepped))


def _copies(plan: Layout, stepped, back: bool) -> list[str]:
    lines = []
    for k, ctype, offset in _saved(plan, stepped):
        saved = f"_save + _count * {offset}"
        size = f"_count * sizeof({ctype})"
        lines.append(f"memcpy(_s{k} + first, {saved}, {size});" if back else
                     f"memcpy({saved}, _s{k} + first, {size});")
    return lines


#: the bytes of a tile's saved states kept on the stack (more are allocated): a network
#: runs a population one step a call, and a call per step should not allocate
STACK_BYTES = 16384


def cheap_head(plan: Layout, cheap, stepped, tile: int) -> list[str]:
    """The tile function's lines before its steps: ``_exact``, the folded integers and the
    copy of the tile's states (where there is no memory for it, the exact check runs at
    once)."""
    width = _width(plan, stepped)
    precision = cheap[0].precision
    if tile * width <= STACK_BYTES:
        keep = [f"    char _stack[{tile * width}];",
                "    char *const _save = _stack;"]
    else:
        keep = [f"    char *const _save = (char *)malloc(_count * {width} + 1);"]
    return [
        "    /* the numerical check's cheap test (eqsnn.printing.c_check): the tile's states",
        "     * from before its steps, to run them again with the exact check where it fails */",
        "    int _exact = 0;",
        *("    " + line for line in c_check.declarations(cheap, precision)),
        "    const size_t _count = (size_t)(last - first);",
        *keep,
        "    if (!_save) _exact = 1;  /* no room to keep them: the exact check at once */",
        "    else {",
        *("        " + line for line in _copies(plan, stepped, False)),
        "    }",
    ]


def cheap_tail(plan: Layout, cheap, stepped, tile: int) -> list[str]:
    """The tile function's lines after its steps: where the cheap test failed, the states
    back and the steps again, exactly (``eqsnn_again`` labels the step loop)."""
    failed = c_check.failed_condition(cheap, cheap[0].precision)
    width = _width(plan, stepped)
    return [
        f"    if (!_exact && ({failed})) {{",
        "        /* a value failed a test, or came close: the same steps again, exactly */",
        *("        " + line for line in _copies(plan, stepped, True)),
        "        _exact = 1;",
        "        goto eqsnn_again;",
        "    }",
        *(["    free(_save);"] if tile * width > STACK_BYTES else []),
    ]
