/* CUDA on the CPU, for testing the cupy backend's kernels without a GPU.
 *
 * Included (as C++) before a kernel emitted by eqsnn.backends.cupy; the test
 * module fake_cupy.py appends eqsnn_emulated_launch(), which runs every thread
 * of a launch.  The 32 threads of a warp run as coroutines (ucontext) on one
 * OS thread: each runs until it reaches __ballot_sync, and when every thread
 * of the warp is there, the ballot's word is formed and they go on.  This is
 * the part of the SIMT model the kernels rely on; the emulation reports, as a
 * launch error, what a GPU would leave undefined or hang on:
 *   - a __ballot_sync whose mask is not the full warp,
 *   - threads of a warp that reach different numbers of ballots (one exited
 *     or branched past a ballot the others wait at).
 * Floating point follows the host (IEEE, no contraction with
 * -ffp-contract=off); CUDA's libdevice math is not emulated.
 */
#ifndef EQSNN_CUDA_EMULATION_H
#define EQSNN_CUDA_EMULATION_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#define __CUDACC__ 1
#define __CUDACC_RTC__ 1
#define __global__
#define __device__
#define __forceinline__ inline

struct eqsnn_uint3 { unsigned int x, y, z; };
static eqsnn_uint3 threadIdx, blockIdx, blockDim, gridDim;

static inline float __int_as_float(int i) { float f; memcpy(&f, &i, sizeof f); return f; }

enum { EQSNN_WARP = 32, EQSNN_STACK = 1 << 17 };
enum { EQSNN_READY, EQSNN_AT_BALLOT, EQSNN_DONE };

struct eqsnn_thread {
    ucontext_t context;
    int state, predicate;
    unsigned int result, mask;
    long ballots;
    eqsnn_uint3 index;
};

static ucontext_t eqsnn_scheduler;
static eqsnn_thread eqsnn_threads[EQSNN_WARP];
static int eqsnn_current;
static void **eqsnn_arguments;
static char eqsnn_error[512];

unsigned int __ballot_sync(unsigned int mask, int predicate)
{
    eqsnn_thread *self = &eqsnn_threads[eqsnn_current];
    self->state = EQSNN_AT_BALLOT;
    self->predicate = predicate != 0;
    self->mask = mask;
    self->ballots += 1;
    swapcontext(&self->context, &eqsnn_scheduler);
    return self->result;
}

/* defined by the code appended after the kernel: calls it with the launch's arguments */
static void eqsnn_call_kernel(void **arguments);

static void eqsnn_thread_main(void)
{
    eqsnn_call_kernel(eqsnn_arguments);
    eqsnn_threads[eqsnn_current].state = EQSNN_DONE;
}  /* returns to uc_link: the scheduler */

/* One warp (threads first .. first + 31 of a block) to the end; 0, or -1 with eqsnn_error. */
static int eqsnn_run_warp(unsigned int first, char *stacks)
{
    int lane, waiting;
    for (lane = 0; lane < EQSNN_WARP; ++lane) {
        eqsnn_thread *t = &eqsnn_threads[lane];
        t->state = EQSNN_READY;
        t->ballots = 0;
        t->index.x = first + lane; t->index.y = 0; t->index.z = 0;
        getcontext(&t->context);
        t->context.uc_stack.ss_sp = stacks + (size_t)lane * EQSNN_STACK;
        t->context.uc_stack.ss_size = EQSNN_STACK;
        t->context.uc_link = &eqsnn_scheduler;
        makecontext(&t->context, eqsnn_thread_main, 0);
    }
    for (;;) {
        unsigned int word = 0;
        for (lane = 0; lane < EQSNN_WARP; ++lane) {  /* each thread to its next ballot or end */
            if (eqsnn_threads[lane].state != EQSNN_READY) continue;
            eqsnn_current = lane;
            threadIdx = eqsnn_threads[lane].index;
            swapcontext(&eqsnn_scheduler, &eqsnn_threads[lane].context);
        }
        waiting = 0;
        for (lane = 0; lane < EQSNN_WARP; ++lane) {
            const eqsnn_thread *t = &eqsnn_threads[lane];
            if (t->state != EQSNN_AT_BALLOT) continue;
            waiting += 1;
            if (t->mask != 0xffffffffu) {
                snprintf(eqsnn_error, sizeof eqsnn_error, "thread %u of block (%u, %u): "
                         "__ballot_sync with mask 0x%08x, not the full warp", t->index.x,
                         blockIdx.x, blockIdx.y, t->mask);
                return -1;
            }
            word |= (unsigned int)t->predicate << lane;
        }
        for (lane = 1; lane < EQSNN_WARP; ++lane)
            if (eqsnn_threads[lane].ballots != eqsnn_threads[0].ballots) {
                snprintf(eqsnn_error, sizeof eqsnn_error, "threads %u and %u of block (%u, %u) "
                         "reached %ld and %ld __ballot_sync calls: the warp diverged at a "
                         "warp-wide vote", eqsnn_threads[0].index.x, eqsnn_threads[lane].index.x,
                         blockIdx.x, blockIdx.y, eqsnn_threads[0].ballots,
                         eqsnn_threads[lane].ballots);
                return -1;
            }
        if (!waiting) return 0;
        for (lane = 0; lane < EQSNN_WARP; ++lane) {
            eqsnn_threads[lane].result = word;
            eqsnn_threads[lane].state = EQSNN_READY;
        }
    }
}

/* Every block and warp of a launch, in order; 0, or -1 with the message in error. */
extern "C" int eqsnn_emulated_launch(unsigned int grid_x, unsigned int grid_y,
                                     unsigned int block_x, void **arguments, char *error,
                                     int error_size)
{
    unsigned int x, y, first;
    char *stacks;
    int status = 0;
    if (block_x == 0 || block_x % EQSNN_WARP) {
        snprintf(error, error_size, "blockDim.x = %u: the emulation runs whole warps", block_x);
        return -1;
    }
    stacks = (char *)malloc((size_t)EQSNN_WARP * EQSNN_STACK);
    if (!stacks) {
        snprintf(error, error_size, "out of memory for thread stacks");
        return -1;
    }
    eqsnn_arguments = arguments;
    gridDim.x = grid_x; gridDim.y = grid_y; gridDim.z = 1;
    blockDim.x = block_x; blockDim.y = 1; blockDim.z = 1;
    for (y = 0; y < grid_y && !status; ++y)
        for (x = 0; x < grid_x && !status; ++x) {
            blockIdx.x = x; blockIdx.y = y; blockIdx.z = 0;
            for (first = 0; first < block_x && !status; first += EQSNN_WARP)
                status = eqsnn_run_warp(first, stacks);
        }
    free(stacks);
    if (status) snprintf(error, error_size, "%s", eqsnn_error);
    return status;
}

#endif
