"""How cheap can the adaptive step's whole-step try be on ``c``?  A floor, by hand.

``bench/adaptive_breakdown.py`` shows that the try (one Cash–Karp 5(4) substep of dt for
every neuron) costs about 2.8× RK4's step and the deferred pass about 1.1× more.  This
script asks what the try's arithmetic alone costs: it compiles, with the flags eqsnn
uses for its own C (``eqsnn.backends._toolchain.compiler_flags``: exact arithmetic,
``-march=native``, glibc's SIMD ``exp``), a hand-written AdEx step (Brette & Gerstner
2005, two states, I per neuron, no hidden states, no numerical check, no deferred pass)
in two versions:

* ``rk4``: one classical RK4 step per neuron, the reset on the grid;
* ``try``: one Cash–Karp 5(4) substep of dt per neuron, its error test (rtol 1e-8,
  atol 1e-9, the defaults) and the threshold test, the state kept where rejected;

each written two ways: plain C loops that the compiler vectorises (as eqsnn's are), and,
where the compiler targets AVX-512, explicit 8-wide vectors (GCC's vector extensions)
calling libmvec's 8-wide ``exp`` directly.  The 2048 neurons of one of eqsnn's tiles,
so the states stay in the cache as in eqsnn's tile loop.  It then times eqsnn's own RK4,
adaptive step and try alone (``bench/adaptive.py``'s model and stimulus, N = 1e5), in the
same run.  CPU time, best of the repeats; ns per neuron and step.

    python bench/adaptive_floor.py
    python bench/adaptive_floor.py --repeats 3 --eqsnn-steps 40
"""

from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from eqsnn.backends import _toolchain  # noqa: E402

TILE = 2048

SOURCE = r"""
#include <math.h>
#include <string.h>
#define N %(tile)d
#define H 0.1
/* AdEx, Brette & Gerstner (2005): mV, ms, pA, nS, pF */
#define C_M 281.0
#define G_L 30.0
#define E_L (-70.6)
#define V_T (-50.4)
#define D_T 2.0
#define TAU_W 144.0
#define A_W 4.0
#define B_W 80.5
#define V_PEAK (V_T + 5.0 * D_T)
#define RTOL 1e-8
#define ATOL 1e-9
/* Cash-Karp 5(4) */
#define A21 (1.0/5)
#define A31 (3.0/40)
#define A32 (9.0/40)
#define A41 (3.0/10)
#define A42 (-9.0/10)
#define A43 (6.0/5)
#define A51 (-11.0/54)
#define A52 (5.0/2)
#define A53 (-70.0/27)
#define A54 (35.0/27)
#define A61 (1631.0/55296)
#define A62 (175.0/512)
#define A63 (575.0/13824)
#define A64 (44275.0/110592)
#define A65 (253.0/4096)
#define B1 (37.0/378)
#define B3 (250.0/621)
#define B4 (125.0/594)
#define B6 (512.0/1771)
#define E1 (B1 - 2825.0/27648)
#define E3 (B3 - 18575.0/48384)
#define E4 (B4 - 13525.0/55296)
#define E5 (-277.0/14336)
#define E6 (B6 - 1.0/4)
#ifdef EQSNN_VECTOR_MATH
__attribute__((__simd__("notinbranch"))) double exp(double);
#endif
static double V[N], W[N], I_[N], V0[N], W0[N];
static unsigned char F[N];

/* the divisions by constants as products (eqsnn hoists them the same way) */
static const double INV_C = 1.0 / C_M, INV_DT = 1.0 / D_T, INV_TAU = 1.0 / TAU_W;
#define FV(v, w, I) (INV_C * ((I) - (w) + G_L * D_T * EXP(INV_DT * ((v) - V_T)) \
                              + G_L * (E_L - (v))))
#define FW(v, w) (INV_TAU * (A_W * ((v) - E_L) - (w)))
#define EXP exp
#define RK4_BODY \
    T k1v = FV(v, w, I), k1w = FW(v, w); \
    T k2v = FV(v + 0.5*H*k1v, w + 0.5*H*k1w, I), k2w = FW(v + 0.5*H*k1v, w + 0.5*H*k1w); \
    T k3v = FV(v + 0.5*H*k2v, w + 0.5*H*k2w, I), k3w = FW(v + 0.5*H*k2v, w + 0.5*H*k2w); \
    T k4v = FV(v + H*k3v, w + H*k3w, I), k4w = FW(v + H*k3v, w + H*k3w); \
    T xv = v + H/6*(k1v + 2*k2v + 2*k3v + k4v), xw = w + H/6*(k1w + 2*k2w + 2*k3w + k4w);
#define CK_BODY \
    T k1v = FV(v, w, I), k1w = FW(v, w); \
    T yv = v + H*A21*k1v, yw = w + H*A21*k1w; \
    T k2v = FV(yv, yw, I), k2w = FW(yv, yw); \
    yv = v + H*(A31*k1v + A32*k2v); yw = w + H*(A31*k1w + A32*k2w); \
    T k3v = FV(yv, yw, I), k3w = FW(yv, yw); \
    yv = v + H*(A41*k1v + A42*k2v + A43*k3v); yw = w + H*(A41*k1w + A42*k2w + A43*k3w); \
    T k4v = FV(yv, yw, I), k4w = FW(yv, yw); \
    yv = v + H*(A51*k1v + A52*k2v + A53*k3v + A54*k4v); \
    yw = w + H*(A51*k1w + A52*k2w + A53*k3w + A54*k4w); \
    T k5v = FV(yv, yw, I), k5w = FW(yv, yw); \
    yv = v + H*(A61*k1v + A62*k2v + A63*k3v + A64*k4v + A65*k5v); \
    yw = w + H*(A61*k1w + A62*k2w + A63*k3w + A64*k4w + A65*k5w); \
    T k6v = FV(yv, yw, I), k6w = FW(yv, yw); \
    T xv = v + H*(B1*k1v + B3*k3v + B4*k4v + B6*k6v); \
    T xw = w + H*(B1*k1w + B3*k3w + B4*k4w + B6*k6w); \
    T ev = H*(E1*k1v + E3*k3v + E4*k4v + E5*k5v + E6*k6v); \
    T ew = H*(E1*k1w + E3*k3w + E4*k4w + E5*k5w + E6*k6w); \
    T av = ABS(v), dv = ABS(xv - v), aw = ABS(w), dw = ABS(xw - w); \
    T sv = ATOL + RTOL*MAX(av, dv), sw = ATOL + RTOL*MAX(aw, dw); \
    T err = 0.5*ev*ev/(sv*sv) + 0.5*ew*ew/(sw*sw);

#define T double
#define ABS fabs
#define MAX(a, b) ((a) > (b) ? (a) : (b))
static void rk4_loop(void)
{
#pragma GCC ivdep
    for (int j = 0; j < N; ++j) {
        const T v = V[j], w = W[j], I = I_[j];
        RK4_BODY
        const int spike = xv >= V_PEAK;
        F[j] = (unsigned char)spike;
        V[j] = spike ? E_L : xv;
        W[j] = spike ? xw + B_W : xw;
    }
}
static void try_loop(void)
{
#pragma GCC ivdep
    for (int j = 0; j < N; ++j) {
        const T v = V[j], w = W[j], I = I_[j];
        CK_BODY
        const int ok = (err <= 1.0) & (xv < V_PEAK);
        F[j] = (unsigned char)(ok ? 0 : 3);
        V[j] = ok ? xv : v;
        W[j] = ok ? xw : w;
    }
}
#undef T
#undef ABS
#undef MAX
#undef EXP

#if defined(__AVX512F__) && defined(EQSNN_VECTOR_MATH)
typedef double T __attribute__((vector_size(64)));
typedef long long M __attribute__((vector_size(64)));
extern T _ZGVeN8v_exp(T);
#define EXP _ZGVeN8v_exp
#define SELECT(m, a, b) ((T)(((M)(a) & (m)) | ((M)(b) & ~(m))))
#define ABS(a) ((T)((M)(a) & 0x7fffffffffffffffLL))
static inline T vmax(T a, T b) { return SELECT(a > b, a, b); }
#define MAX vmax
static inline T load(const double *p) { T r; memcpy(&r, p, sizeof r); return r; }
static inline void store(double *p, T r) { memcpy(p, &r, sizeof r); }
static void rk4_vector(void)
{
    for (int j = 0; j < N; j += 8) {
        const T v = load(V + j), w = load(W + j), I = load(I_ + j);
        RK4_BODY
        const M spike = xv >= V_PEAK;
        for (int l = 0; l < 8; ++l) F[j + l] = (unsigned char)(spike[l] != 0);
        store(V + j, SELECT(spike, (T){0} + E_L, xv));
        store(W + j, SELECT(spike, xw + B_W, xw));
    }
}
static void try_vector(void)
{
    for (int j = 0; j < N; j += 8) {
        const T v = load(V + j), w = load(W + j), I = load(I_ + j);
        CK_BODY
        const M ok = (err <= 1.0) & (xv < V_PEAK);
        for (int l = 0; l < 8; ++l) F[j + l] = (unsigned char)(ok[l] ? 0 : 3);
        store(V + j, SELECT(ok, xv, v));
        store(W + j, SELECT(ok, xw, w));
    }
}
int bench_has_vectors(void) { return 1; }
#else
static void rk4_vector(void) {}
static void try_vector(void) {}
int bench_has_vectors(void) { return 0; }
#endif

void bench_setup(void)
{
    for (int j = 0; j < N; ++j) {  /* below the threshold, spread out; I 0.3-1.5 nA */
        V0[j] = -70.6 + 25.0 * (double)((j * 37) %% 1009) / 1009.0;
        W0[j] = 100.0 * (double)((j * 53) %% 1013) / 1013.0;
        I_[j] = 300.0 + 1200.0 * (double)((j * 71) %% 1019) / 1019.0;
    }
}

/* reps steps of `which` (0 rk4, 1 try, 2 rk4 vectors, 3 try vectors), each from the same
 * states (a step, not a run: every repetition does the same work); returns a checksum */
double bench_run(int which, int reps)
{
    double sum = 0.0;
    for (int r = 0; r < reps; ++r) {
        memcpy(V, V0, sizeof V);
        memcpy(W, W0, sizeof W);
        if (which == 0) rk4_loop();
        else if (which == 1) try_loop();
        else if (which == 2) rk4_vector();
        else try_vector();
        sum += V[r %% N] + F[(r * 7) %% N];
    }
    return sum;
}

/* the copies alone, to subtract */
double bench_copies(int reps)
{
    double sum = 0.0;
    for (int r = 0; r < reps; ++r) {
        memcpy(V, V0, sizeof V);
        memcpy(W, W0, sizeof W);
        sum += V[r %% N];
    }
    return sum;
}
"""


def build() -> ctypes.CDLL:
    """The hand-written steps, compiled as eqsnn compiles its own C."""
    command = _toolchain.find_compiler()
    flags = _toolchain.compiler_flags(command, fast_math=False)
    libraries = (_toolchain.VECTOR_MATH_LIBRARIES if _toolchain.VECTOR_MATH_FLAG in flags
                 else ())
    directory = Path(tempfile.mkdtemp(prefix="eqsnn-floor-"))  # left for a look at the C
    source = directory / "floor.c"
    source.write_text(SOURCE % {"tile": TILE})
    library = directory / "floor.so"
    subprocess.run([*command, *flags, str(source), "-o", str(library), *libraries, "-lm"],
                   check=True)
    lib = ctypes.CDLL(str(library))
    lib.bench_run.restype = ctypes.c_double
    lib.bench_copies.restype = ctypes.c_double
    lib.bench_setup()
    return lib


def ns_per_neuron(lib, which: int, reps: int, repeats: int) -> float:
    """CPU ns per neuron and step of ``which``, the state copies subtracted."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        lib.bench_run(which, reps)
        middle = time.process_time()
        lib.bench_copies(reps)
        end = time.process_time()
        best = min(best, (middle - start) - (end - middle))
    return best / reps / TILE * 1e9


def eqsnn_steps(steps: int, repeats: int) -> dict:
    """eqsnn's own RK4, adaptive step and try alone, ns per neuron and step (N = 1e5)."""
    import numpy as np
    from adaptive import time_runs  # bench/ is on sys.path
    from adaptive_breakdown import build as build_edited
    from adaptive_breakdown import no_deferred_pass

    n = 100_000
    current = np.random.default_rng(0).uniform(300.0, 1500.0, n)
    times = {
        "eqsnn RK4": time_runs(build_edited("rk4", n, current, ()), current, steps, repeats),
        "eqsnn adaptive": time_runs(build_edited("adaptive", n, current, ()), current, steps,
                                    repeats),
        "eqsnn try alone": time_runs(build_edited("adaptive", n, current, (no_deferred_pass,)),
                                     current, steps, repeats),
    }
    return {name: ms * 1e6 / n for name, ms in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=2000, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--eqsnn-steps", type=int, default=100,
                        help="steps per timing of eqsnn's own (0: skip them)")
    args = parser.parse_args()
    lib = build()
    rows = {"hand-written RK4 (vectorised by the compiler)": ns_per_neuron(lib, 0, args.reps,
                                                                           args.repeats),
            "hand-written try (vectorised by the compiler)": ns_per_neuron(lib, 1, args.reps,
                                                                           args.repeats)}
    if lib.bench_has_vectors():
        rows["hand-written RK4 (explicit 8-wide vectors)"] = ns_per_neuron(
            lib, 2, args.reps, args.repeats)
        rows["hand-written try (explicit 8-wide vectors)"] = ns_per_neuron(
            lib, 3, args.reps, args.repeats)
    if args.eqsnn_steps:
        rows.update(eqsnn_steps(args.eqsnn_steps, args.repeats))
    baseline = rows["hand-written RK4 (vectorised by the compiler)"]
    rk4 = rows.get("eqsnn RK4", baseline)
    print("AdEx, float64, dt = 0.1 ms, one thread; CPU ns per neuron and step "
          f"(best of {args.repeats})\n")
    print("| step | ns | / hand-written RK4 | / eqsnn's RK4 |")
    print("|---|---|---|---|")
    for name, ns in rows.items():
        print(f"| {name} | {ns:.2f} | {ns / baseline:.2f} | {ns / rk4:.2f} |")


if __name__ == "__main__":
    main()
