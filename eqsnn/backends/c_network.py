"""The ``c`` backend's network runtime: every step of every population of a network in C.

:func:`load` compiles (once per precision, cached as every c library is) a
model-independent C driver, ``eqsnn_network_run``, that runs a network for
a whole run in one call.  Each population keeps its own compiled library
(:mod:`eqsnn.backends.c`); the driver calls the population's ``eqsnn_run``
through a function pointer for one step at a time, so the neuron and
synapse code, the inputs, the records and the spike rows are exactly those
of a Simulator's run.  At network step k the driver:

1. runs every population for step k, in population order; a connection's
   summed arrivals are its ring-buffer slot for step k, read in place as the
   population's input ``<conn>__w`` and zeroed once read (only the entries
   that were added to, which the ring remembers); a spike source
   sets the bits of its spikes of step k;
2. for every connection, in connection order, adds the weight of each synapse
   of each source neuron that spiked in step k (lanes apart, neurons in
   ascending order, synapses in CSR row order) to the slot of step k + d
   (``d`` the connection's delay, or the synapse's).

Every slot is so summed from 0 in (emission step, pre, row) order, the
network's order, in the model precision: the spikes are those of the
windowed run bit for bit.  The ring of a connection has ``d_max + 1`` slots
and lives between runs (spikes in flight), zeroed by ``reset``.  A population
that is the source of a connection also keeps its spikes of the last ``d_max``
steps (one row of bits per step, ``history``), from which the host sums the
spikes in flight again where weights were set between runs
(:meth:`eqsnn.network.fused.FusedRun.resum`).

Threads: a population's step runs on the threads of its ``eqsnn_run`` (OpenMP
over its tiles) when the population is large enough
(:data:`PARALLEL_NEURONS`); the spike propagation runs on one thread.
"""

from __future__ import annotations

import ctypes

from ..errors import BackendError
from . import _toolchain
from .c_run_loop import _RUN_TYPES

__all__ = ["NetConn", "NetPop", "PARALLEL_NEURONS", "TOUCHED_CAPACITY", "load"]

#: entries of a ring slot listed as added to; a slot with more adds is zeroed whole
TOUCHED_CAPACITY = 4096

#: neurons x lanes from which a population's step uses several threads (one fork and
#: join of the OpenMP team per step and population costs about a microsecond)
PARALLEL_NEURONS = 1 << 14

_LONG, _POINTER = ctypes.c_longlong, ctypes.c_void_p


class NetPop(ctypes.Structure):
    """A population as the driver sees it (mirrors ``eqsnn_net_pop``)."""

    _fields_ = [("run", _POINTER), ("args", _POINTER), ("n_inputs", _LONG),
                ("inputs0", _POINTER), ("inputs", _POINTER), ("input_step_bytes", _POINTER),
                ("input_conn", _POINTER), ("n_states", _LONG), ("recorders0", _POINTER),
                ("recorders", _POINTER), ("record_step_bytes", _POINTER),
                ("spikes_out", _POINTER), ("scratch", _POINTER), ("words", _LONG),
                ("src_steps", _POINTER), ("src_ids", _POINTER), ("src_count", _LONG),
                ("src_pos", _LONG), ("history", _POINTER), ("history_slots", _LONG)]


class NetConn(ctypes.Structure):
    """A connection as the driver sees it (mirrors ``eqsnn_net_conn``)."""

    _fields_ = [("source", _LONG), ("n_post", _LONG), ("indptr", _POINTER),
                ("post", _POINTER), ("weights", _POINTER), ("delays", _POINTER),
                ("delay", _LONG), ("ring", _POINTER), ("slots", _LONG), ("touched", _POINTER),
                ("n_touched", _POINTER), ("capacity", _LONG)]


_DRIVER = r"""
#include <string.h>

typedef int (*eqsnn_run_fn)(const eqsnn_run_args *);

typedef struct {
    eqsnn_run_fn run;                 /* NULL: a spike source */
    eqsnn_run_args *args;             /* steps = 1; inputs/recorders point at the copies */
    long long n_inputs;
    const eqsnn_input *inputs0;       /* step 0 of the run */
    eqsnn_input *inputs;              /* this step's, passed to run */
    const long long *input_step_bytes;
    const long long *input_conn;      /* the connection whose ring feeds it, or -1 */
    long long n_states;
    const eqsnn_recorder *recorders0;
    eqsnn_recorder *recorders;
    const long long *record_step_bytes;
    unsigned int *spikes_out;         /* (steps, batch, words) or NULL: the record */
    unsigned int *scratch;            /* (batch, words): the step's spikes, 4 bytes past a
                                       * 16-byte boundary, so that eqsnn_run stores them
                                       * plainly (they are read back at once), not with
                                       * non-temporal stores */
    long long words;
    const long long *src_steps, *src_ids;  /* a spike source's spikes, sorted by step */
    long long src_count, src_pos;
    unsigned int *history;            /* (history_slots, batch, words): the spikes of the
                                       * last steps, slot step % history_slots, or NULL */
    long long history_slots;
} eqsnn_net_pop;

/* keep the step's spikes of a population that is the source of a connection: the host
 * sums its spikes in flight again where weights are set between runs */
static void eqsnn_net_keep(const eqsnn_net_pop *q, long long step, long long batch)
{
    if (q->history)
        memcpy(q->history + (step % q->history_slots) * batch * q->words, q->scratch,
               (size_t)(batch * q->words) * sizeof(unsigned int));
}

typedef struct {
    long long source, n_post;
    const long long *indptr, *post;
    const FLOAT *weights;
    const long long *delays;          /* per synapse, or NULL: `delay` for all */
    long long delay;
    FLOAT *ring;                      /* (slots, batch, n_post) */
    long long slots;
    long long *touched;               /* (slots, capacity): the entries added to */
    long long *n_touched;             /* (slots,): how many; > capacity: too many to list */
    long long capacity;
} eqsnn_net_conn;

/* one add into the ring, remembered so that only the entries added to are zeroed */
static void eqsnn_net_add(eqsnn_net_conn *r, long long slot, long long entry, FLOAT w,
                          long long size)
{
    long long *const count = r->n_touched + slot;
    r->ring[slot * size + entry] += w;
    if (*count < r->capacity) r->touched[slot * r->capacity + *count] = entry;
    if (*count <= r->capacity) ++*count;
}

/* zero the entries of a slot that was read */
static void eqsnn_net_clear(eqsnn_net_conn *r, long long slot, long long size)
{
    FLOAT *const base = r->ring + slot * size;
    const long long count = r->n_touched[slot];
    long long k;
    if (count > r->capacity) memset(base, 0, (size_t)size * sizeof(FLOAT));
    else for (k = 0; k < count; ++k) base[r->touched[slot * r->capacity + k]] = 0;
    r->n_touched[slot] = 0;
}


EQSNN_EXPORT int eqsnn_network_run(eqsnn_net_pop *pops, long long n_pops,
                                   eqsnn_net_conn *conns, long long n_conns,
                                   long long steps, long long step0, long long batch)
{
    long long i, p, c, k, b, w, s;
    for (i = 0; i < steps; ++i) {
        const long long step = step0 + i;
        for (p = 0; p < n_pops; ++p) {
            eqsnn_net_pop *const q = pops + p;
            unsigned int *const row = q->scratch;
            if (!q->run) {  /* a spike source: every lane spikes alike */
                memset(row, 0, (size_t)(batch * q->words) * sizeof(unsigned int));
                for (; q->src_pos < q->src_count && q->src_steps[q->src_pos] <= step;
                     ++q->src_pos) {
                    const long long id = q->src_ids[q->src_pos];
                    if (q->src_steps[q->src_pos] < step) continue;
                    for (b = 0; b < batch; ++b)
                        row[b * q->words + id / 32] |= 1u << (id % 32);
                }
                if (q->spikes_out)
                    memcpy(q->spikes_out + i * batch * q->words, row,
                           (size_t)(batch * q->words) * sizeof(unsigned int));
                eqsnn_net_keep(q, step, batch);
                continue;
            }
            for (k = 0; k < q->n_inputs; ++k) {
                q->inputs[k] = q->inputs0[k];
                if (q->input_conn[k] >= 0) {
                    const eqsnn_net_conn *const r = conns + q->input_conn[k];
                    q->inputs[k].data = r->ring + (step % r->slots) * batch * r->n_post;
                } else {
                    q->inputs[k].data = (const char *)q->inputs0[k].data
                                        + i * q->input_step_bytes[k];
                }
            }
            for (k = 0; k < q->n_states; ++k) {
                q->recorders[k] = q->recorders0[k];
                if (q->recorders0[k].out)
                    q->recorders[k].out = (char *)q->recorders0[k].out
                                          + i * q->record_step_bytes[k];
            }
            q->args->steps = 1;
            q->args->step0 = step;
            q->args->spikes = row;
            if (q->run(q->args) != 0) return 1;
            if (q->spikes_out)
                memcpy(q->spikes_out + i * batch * q->words, row,
                       (size_t)(batch * q->words) * sizeof(unsigned int));
            eqsnn_net_keep(q, step, batch);
            for (k = 0; k < q->n_inputs; ++k)
                if (q->input_conn[k] >= 0)  /* read: the slot is free for step + slots */
                    eqsnn_net_clear(conns + q->input_conn[k],
                                    step % conns[q->input_conn[k]].slots,
                                    batch * conns[q->input_conn[k]].n_post);
        }
        for (c = 0; c < n_conns; ++c) {
            eqsnn_net_conn *const r = conns + c;
            eqsnn_net_pop *const q = pops + r->source;
            const unsigned int *const row = q->scratch;
            const long long size = batch * r->n_post;
            for (b = 0; b < batch; ++b) {
                const unsigned int *const lane_row = row + b * q->words;
                for (w = 0; w < q->words; ++w) {
                    unsigned int bits = lane_row[w];
                    while (bits) {
                        const long long pre = w * 32 + __builtin_ctz(bits);
                        const long long end = r->indptr[pre + 1];
                        bits &= bits - 1;
                        if (!r->delays) {  /* eqsnn_net_add with the slot's count held */
                            const long long slot = (step + r->delay) % r->slots;
                            FLOAT *const ring = r->ring + slot * size + b * r->n_post;
                            long long *const touched = r->touched + slot * r->capacity;
                            long long count = r->n_touched[slot];
                            for (s = r->indptr[pre]; s < end; ++s) {
                                const long long post = r->post[s];
                                ring[post] += r->weights[s];
                                if (count < r->capacity)
                                    touched[count++] = b * r->n_post + post;
                                else
                                    count = r->capacity + 1;
                            }
                            r->n_touched[slot] = count;
                        } else {
                            for (s = r->indptr[pre]; s < end; ++s)
                                eqsnn_net_add(r, (step + r->delays[s]) % r->slots,
                                              b * r->n_post + r->post[s], r->weights[s], size);
                        }
                    }
                }
            }
        }
    }
    return 0;
}
"""


def driver_text(precision: str) -> str:
    """The C text of the driver for ``float32`` or ``float64`` networks."""
    ctype = {"float32": "float", "float64": "double"}[precision]
    return (f"/* eqsnn's network driver ({precision}), generated by eqsnn; do not edit. */\n"
            f"#define FLOAT {ctype}\n#if defined(_WIN32)\n#define EQSNN_EXPORT "
            "__declspec(dllexport)\n#else\n#define EQSNN_EXPORT\n#endif\n"
            + _RUN_TYPES + _DRIVER)


_LOADED: dict = {}


def load(precision: str):
    """The driver's ``eqsnn_network_run`` for ``precision``, compiled once (and cached)."""
    if precision not in _LOADED:
        path, _ = _toolchain.compile_shared_library(driver_text(precision),
                                                    f"eqsnn_network_{precision}", False)
        library = _toolchain.load_library(path)
        if library is None:
            raise BackendError(f"cannot load the network driver {path}",
                               hint="another process may be clearing the cache; try again")
        fn = library.eqsnn_network_run
        fn.argtypes = [ctypes.POINTER(NetPop), _LONG, ctypes.POINTER(NetConn), _LONG, _LONG,
                       _LONG, _LONG]
        fn.restype = ctypes.c_int
        _LOADED[precision] = (fn, library)
    return _LOADED[precision][0]
