"""The text of the ``cupy`` backend's CUDA kernel, ``eqsnn_advance``, around the step function.

One thread per (neuron, lane): the thread loads its neuron's state into
registers, runs steps ``first .. first + count - 1`` of a window (each step
reads its inputs, calls ``eqsnn_neuron_step`` of :mod:`eqsnn.printing.c`,
writes the records and a ``__ballot_sync`` of the spike flags: one
``uint32`` per 32 neurons) and stores the state at the end.  Pure text:
imports no CuPy.  :mod:`eqsnn.backends.cupy` emits it and launches it, passing
the arguments in the order of :func:`kernel_parameters`.
"""

from __future__ import annotations

from .. import ir
from ..printing.c import UNIFORM_FUNCTION
from ..printing.c_printer import STORAGE_TYPES, wrap_items
from ._compiled import Layout

__all__ = ["KERNEL", "BLOCK", "kernel_parameters", "kernel_text"]

KERNEL = "eqsnn_advance"
#: threads per block: a multiple of 32, so every warp covers 32 neurons of one lane
BLOCK = 256


def kernel_parameters(plan: Layout) -> list[str]:
    """The kernel's parameters, in the order of the arguments that
    :meth:`eqsnn.backends.cupy.CupyRunner._arguments` gives."""
    params = ["const long long batch", "const long long n", "const long long first",
              "const long long count", "const long long *step_base", "const double dt64",
              "const unsigned int seed_lo", "const unsigned int seed_hi"]
    params += [f"{STORAGE_TYPES[dtype]} *s{k}" for k, (_, dtype) in enumerate(plan.states)]
    params += [f"const {STORAGE_TYPES[dtype]} {'*' if per_neuron else ''}v{k}"
               for k, (_, dtype, per_neuron) in enumerate(plan.values)]
    for k, (_, dtype) in enumerate(plan.arrays):
        params += [f"const {STORAGE_TYPES[dtype]} *a{k}", f"const long long alen{k}"]
    for k, (_, dtype) in enumerate(plan.inputs):  # data, strides along step, lane, neuron
        params += [f"const {STORAGE_TYPES[dtype]} *i{k}", f"const long long is{k}",
                   f"const long long il{k}", f"const long long in{k}"]
    for k, (_, dtype) in enumerate(plan.states):  # record: out, neuron -> column, width
        params += [f"{STORAGE_TYPES[dtype]} *r{k}", f"const int *slot{k}", f"const long long rw{k}"]
    return params + ["unsigned int *spikes", "unsigned int *negative_spikes"]


def kernel_text(model: ir.Model, plan: Layout, uniforms=()) -> str:
    """The ``eqsnn_advance`` kernel around the step function (and, with ``uniforms``, the
    uniform function of :class:`~eqsnn.printing.c.StepFunction`, called once per step)."""
    params = wrap_items(kernel_parameters(plan), 4)
    return "\n".join([
        "/* Steps first .. first + count - 1 of a window for one (neuron, lane) per thread;",
        f" * launch with blockDim.x = {BLOCK} (a multiple of 32) and gridDim.y = batch. */",
        f'extern "C" __global__ void {KERNEL}(',
        *params[:-1], params[-1] + ")",
        "{",
        *_thread_setup_lines(plan),
        *_step_loop_lines(plan, uniforms),
        "}",
    ]) + "\n"


def _thread_setup_lines(plan: Layout) -> list[str]:
    """The thread's neuron ``j`` and ``lane``, its state in registers ``x<k>``, its
    per-neuron values ``w<k>``, and for each input its pointer ``p<k>`` and held value
    ``h<k>``."""
    lines = [
        "    const long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;",
        "    const long long lane = blockIdx.y;",
        "    const int active = j < n;",
        *(["    const long long cell = lane * n + (active ? j : 0);"] if plan.states else []),
        "    const long long words = (n + 31) / 32;",
        "    const long long step0 = *step_base;",
        "    const int steps = (int)count;  /* a window is shorter than 2**31 steps */",
        "    const int recording = spikes || "
        + "".join(f"r{k} || " for k in range(len(plan.states))) + "0;",
        "    int k;",
    ]
    lines += [f"    {STORAGE_TYPES[dtype]} x{k} = active ? s{k}[cell] : 0;  /* {name} */"
              for k, (name, dtype) in enumerate(plan.states)]
    lines += [f"    const {STORAGE_TYPES[dtype]} w{k} = active ? v{k}[j] : 0;  /* {name} */"
              for k, (name, dtype, per_neuron) in enumerate(plan.values) if per_neuron]
    for k, (name, dtype) in enumerate(plan.inputs):
        storage = STORAGE_TYPES[dtype]
        lines += [f"    const {storage} *const p{k} = i{k} + lane * il{k} + (active ? j * in{k}"
                  f" : 0);  /* {name} */",
                  f"    const {storage} h{k} = (active && is{k} == 0) ? p{k}[0] : 0;  /* held */"]
    return lines


def _step_call_lines(plan: Layout, uniforms, indent: int, result: str) -> list[str]:
    """One step ``k`` of the window: its row ``i``, ``step`` and ``t``, the uniform values,
    and the call of the step function (its flags assigned to ``result`` if not empty)."""
    args = [f"&x{k}" for k in range(len(plan.states))]
    args += [f"is{k} == 0 ? h{k} : p{k}[i * is{k}]" for k in range(len(plan.inputs))]
    args += [f"w{k}" if per else f"v{k}" for k, (_, _, per) in enumerate(plan.values)]
    for k in range(len(plan.arrays)):
        args += [f"a{k}", f"alen{k}"]
    args += ["t", "(int)step", "(int)j", "(int)lane", "seed_lo", "seed_hi"]
    args += [name for _, name in uniforms]
    call = wrap_items(args, indent + 4)
    pad = " " * indent
    uniform = [pad + f"{ctype} {name};" for ctype, name in uniforms]
    if uniforms:
        out = ", ".join(f"&{name}" for _, name in uniforms)
        uniform += [pad + f"{UNIFORM_FUNCTION}(t, (int)step"
                    f"{plan.uniform_call(lambda k: f'v{k}')}, {out});"]
    return [
        pad + "const long long i = first + k;  /* the step's row in the window */",
        pad + "const long long step = step0 + i;",
        pad + "const FLOAT t = (FLOAT)((double)step * dt64);",
        *uniform,
        pad + f"{result}eqsnn_neuron_step(", *call[:-1], call[-1] + ");",
    ]


def _step_loop_lines(plan: Layout, uniforms) -> list[str]:
    """The loop over the window's steps, lean where nothing is recorded; else each step
    writes the thread's records and, warp by warp, the spike bits; then the state store."""
    lines = [
        "    if (!recording) {  /* the lean loop: nothing but the step */",
        "        if (active) for (k = 0; k < steps; ++k) {",
        *_step_call_lines(plan, uniforms, 12, ""),
        "        }",
        "    } else for (k = 0; k < steps; ++k) {",
        "        int flags = 0;",
        "        if (active) {",
        *_step_call_lines(plan, uniforms, 12, "flags = "),
    ]
    for k, (name, _) in enumerate(plan.states):
        lines += [
            f"            if (r{k}) {{  /* record {name} */",
            f"                const long long column = slot{k} ? slot{k}[j] : j;",
            f"                if (column >= 0) r{k}[(i * batch + lane) * rw{k} + column] = x{k};",
            "            }",
        ]
    return lines + [
        "        }",
        "        if (spikes) {  /* the same for every thread of the grid */",
        "            const long long i = first + k;",
        "            const unsigned int positive = __ballot_sync(0xffffffffu, flags & 1);",
        "            const unsigned int negative = __ballot_sync(0xffffffffu, flags >> 1);",
        "            if ((threadIdx.x & 31) == 0 && (j >> 5) < words) {",
        "                spikes[(i * batch + lane) * words + (j >> 5)] = positive;",
        "                if (negative_spikes)",
        "                    negative_spikes[(i * batch + lane) * words + (j >> 5)] = negative;",
        "            }",
        "        }",
        "    }",
        *(f"    if (active) s{k}[cell] = x{k};" for k in range(len(plan.states))),
    ]
