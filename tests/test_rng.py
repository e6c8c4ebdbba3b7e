"""Tests of eqsnn.rng: Philox4x32-10, the bit -> float mapping, and the C source."""

from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import pytest

from eqsnn import rng

# Random123 tests/kat_vectors, the philox4x32 lines: rounds, counter (4 words), key (2), expected.
KAT = [
    (7, "00000000 00000000 00000000 00000000", "00000000 00000000",
     "5f6fb709 0d893f64 4f121f81 4f730a48"),
    (7, "ffffffff ffffffff ffffffff ffffffff", "ffffffff ffffffff",
     "5207ddc2 45165e59 4d8ee751 8c52f662"),
    (7, "243f6a88 85a308d3 13198a2e 03707344", "a4093822 299f31d0",
     "4dfccaba 190a87f0 c47362ba b6b5242a"),
    (10, "00000000 00000000 00000000 00000000", "00000000 00000000",
     "6627e8d5 e169c58d bc57ac4c 9b00dbd8"),
    (10, "ffffffff ffffffff ffffffff ffffffff", "ffffffff ffffffff",
     "408f276d 41c83b0e a20bc7c6 6d5451fd"),
    (10, "243f6a88 85a308d3 13198a2e 03707344", "a4093822 299f31d0",
     "d16cfe09 94fdcceb 5001e420 24126ea1"),
]
SEED = 0x0123456789ABCDEF


def _hex_words(text):
    return np.array([int(w, 16) for w in text.split()], dtype=np.uint32)


def _philox_scalar(ctr, key, rounds=10):
    """Reference Philox4x32 on Python ints, written from the paper's round function."""
    c, (k0, k1) = [int(x) for x in ctr], (int(key[0]), int(key[1]))
    for r in range(rounds):
        if r:
            k0, k1 = (k0 + 0x9E3779B9) % 2**32, (k1 + 0xBB67AE85) % 2**32
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 % 2**32, (p0 >> 32) ^ c[3] ^ k1, p0 % 2**32]
    return c


def _ulp_distance(a, b):
    """Distance in units in the last place between same-dtype float arrays."""
    ints = {np.float32: np.int32, np.float64: np.int64}[a.dtype.type]
    ia, ib = (x.view(ints).astype(object) for x in (a, b))
    lowest = -(2 ** (8 * a.itemsize - 1))
    ia, ib = (np.where(x < 0, lowest - x, x) for x in (ia, ib))
    return np.abs(ia - ib).astype(np.int64)


@pytest.mark.parametrize("rounds, ctr, key, expected", KAT)
def test_known_answers(rounds, ctr, key, expected):
    out = rng.philox4x32_10(_hex_words(ctr), _hex_words(key), rounds=rounds)
    np.testing.assert_array_equal(out, _hex_words(expected))
    assert _philox_scalar(_hex_words(ctr), _hex_words(key), rounds) == list(_hex_words(expected))


def test_vectorised_equals_scalar_loop():
    gen = np.random.default_rng(0)
    ctr = gen.integers(0, 2**32, size=(50, 4), dtype=np.uint32)
    key = gen.integers(0, 2**32, size=(50, 2), dtype=np.uint32)
    out = rng.philox4x32_10(ctr, key)
    assert out.dtype == np.uint32 and out.shape == (50, 4)
    for i in range(50):
        assert list(out[i]) == _philox_scalar(ctr[i], key[i])
    # one key broadcast against many counters
    np.testing.assert_array_equal(rng.philox4x32_10(ctr, key[0]), rng.philox4x32_10(ctr, key[:1]))


def test_broadcast_over_batch_and_neurons():
    batch, n = 3, 5
    bits = rng.random_bits(SEED, 7, np.arange(n)[None, :], np.arange(batch)[:, None], 2)
    assert bits.shape == (batch, n, 4) and bits.dtype == np.uint32
    key = (SEED & 0xFFFFFFFF, SEED >> 32)
    for b in range(batch):
        for i in range(n):
            assert list(bits[b, i]) == _philox_scalar((7, i, b, 2), key)
    for sample in (rng.uniform, rng.normal):
        for dtype in (np.float32, np.float64):
            grid = sample(SEED, 7, np.arange(n)[None, :], np.arange(batch)[:, None], 2, dtype)
            assert grid.shape == (batch, n) and grid.dtype == dtype
            assert grid[2, 4] == sample(SEED, 7, 4, 2, 2, dtype)


def test_scalar_floats_follow_the_documented_mapping():
    w = rng.random_bits(SEED, 1, 2, 3, 4)
    w0, w1, w2, w3 = (int(x) for x in w)
    u1 = (((w0 << 21) | (w1 >> 11)) | 1) * 2.0**-53
    u2 = (((w2 << 21) | (w3 >> 11)) | 1) * 2.0**-53
    assert rng.uniform(SEED, 1, 2, 3, 4) == u1
    assert rng.uniform(SEED, 1, 2, 3, 4, np.float32) == np.float32(((w0 >> 8) | 1) * 2.0**-24)
    z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
    assert abs(rng.normal(SEED, 1, 2, 3, 4) - z) <= 4 * math.ulp(z)


def test_streams_differ_and_repeat():
    base = dict(seed=SEED, step=10, neuron=20, lane=1, draw=0)
    ref = rng.random_bits(**base)
    np.testing.assert_array_equal(rng.random_bits(**base), ref)
    for name, value in [("seed", SEED + 1), ("seed", SEED ^ (1 << 40)), ("step", 11),
                        ("neuron", 21), ("lane", 0), ("draw", 1)]:
        assert not np.array_equal(rng.random_bits(**{**base, name: value}), ref), name
    # every block of a (step, neuron, lane, draw) grid is distinct
    step, neuron, lane, draw = np.ix_(np.arange(4), np.arange(50), np.arange(3), np.arange(2))
    grid = rng.random_bits(SEED, step, neuron, lane, draw)
    flat = grid.reshape(-1, 4)
    assert len(np.unique(flat, axis=0)) == len(flat) == 4 * 50 * 3 * 2


def test_extreme_words_map_inside_open_interval():
    lo, hi = np.zeros(4, np.uint32), np.full(4, 0xFFFFFFFF, np.uint32)
    for dtype, eps in ((np.float32, 2.0**-24), (np.float64, 2.0**-53)):
        u_lo, u_hi = rng.uniform_from_bits(lo, dtype), rng.uniform_from_bits(hi, dtype)
        assert u_lo.dtype == dtype and u_lo == eps and u_hi == 1.0 - eps
        assert 0.0 < u_lo < u_hi < 1.0
        z = rng.normal_from_bits(np.stack([lo, hi]), dtype)
        assert np.all(np.isfinite(z)) and z.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_moments(dtype):
    n = 10**6
    neuron = np.arange(n)
    u = rng.uniform(42, 3, neuron, 0, 0, dtype).astype(np.float64)
    assert 0.0 < u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 6 * math.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 6 * math.sqrt(1 / 180 / n)
    z = rng.normal(42, 3, neuron, 0, 1, dtype).astype(np.float64)
    assert abs(z.mean()) < 6 / math.sqrt(n)
    assert abs(z.var() - 1.0) < 6 * math.sqrt(2 / n)
    assert abs(np.mean(z > 1.0) - 0.158655) < 6 * math.sqrt(0.16 * 0.84 / n)


def test_bad_arguments():
    with pytest.raises(ValueError):
        rng.uniform(-1, 0, 0, 0, 0)
    with pytest.raises(ValueError):
        rng.uniform(2**64, 0, 0, 0, 0)
    with pytest.raises(TypeError):
        rng.uniform(1, 0.5, 0, 0, 0)
    with pytest.raises(ValueError):
        rng.normal(1, 0, 0, 0, 0, np.float16)
    with pytest.raises(ValueError):
        rng.philox4x32_10(np.zeros(3, np.uint32), np.zeros(2, np.uint32))


def test_c_source_is_portable_text():
    src = rng.c_source()
    for name in ("eqsnn_philox4x32_10", "eqsnn_uniform_f32", "eqsnn_uniform_f64",
                 "eqsnn_normal_f32", "eqsnn_normal_f64"):
        assert name in src
    assert "stdint" not in src and "#ifndef EQSNN_FN" in src
    assert "#ifndef __CUDACC_RTC__\n#include <math.h>" in src


C_MAIN = r"""
#include <stdio.h>
#include <string.h>
%(source)s
static unsigned int f32_bits(float x) { unsigned int b; memcpy(&b, &x, 4); return b; }
static unsigned long long f64_bits(double x) { unsigned long long b; memcpy(&b, &x, 8); return b; }
int main(void)
{
    unsigned int lo = %(lo)uu, hi = %(hi)uu, step, neuron, lane, w[4];
    printf("%%08x %%016llx\n", f32_bits(eqsnn_u01_f32(0u)), f64_bits(eqsnn_u01_f64(0u, 0u)));
    printf("%%08x %%016llx\n", f32_bits(eqsnn_u01_f32(0xffffffffu)),
           f64_bits(eqsnn_u01_f64(0xffffffffu, 0xffffffffu)));
    for (step = 0; step < %(steps)u; ++step)
        for (neuron = 0; neuron < %(neurons)u; ++neuron)
            for (lane = 0; lane < %(lanes)u; ++lane) {
                unsigned int s = step * 0x10001u, draw = neuron %% 3u;
                eqsnn_random_bits(lo, hi, s, neuron, lane, draw, w);
                printf("%%08x %%08x %%08x %%08x %%08x %%016llx %%08x %%016llx\n",
                       w[0], w[1], w[2], w[3],
                       f32_bits(eqsnn_uniform_f32(lo, hi, s, neuron, lane, draw)),
                       f64_bits(eqsnn_uniform_f64(lo, hi, s, neuron, lane, draw)),
                       f32_bits(eqsnn_normal_f32(lo, hi, s, neuron, lane, draw)),
                       f64_bits(eqsnn_normal_f64(lo, hi, s, neuron, lane, draw)));
            }
    return 0;
}
"""


@pytest.mark.c
@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc)")
def test_c_matches_numpy(tmp_path):
    steps, neurons, lanes = 3, 60, 2
    main = tmp_path / "main.c"
    main.write_text(C_MAIN % dict(source=rng.c_source(), lo=SEED & 0xFFFFFFFF, hi=SEED >> 32,
                                  steps=steps, neurons=neurons, lanes=lanes))
    exe = tmp_path / "rng"
    subprocess.run(["cc", "-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Wextra",
                    "-pedantic", "-Werror", str(main), "-o", str(exe), "-lm"], check=True)
    run = subprocess.run([str(exe)], check=True, capture_output=True, text=True)
    lines = run.stdout.split("\n")
    cols = np.array([[int(x, 16) for x in line.split()] for line in lines[2:] if line],
                    dtype=np.uint64)
    extremes = [[int(x, 16) for x in line.split()] for line in lines[:2]]
    bits_lo_hi = np.array([np.zeros(4), np.full(4, 0xFFFFFFFF)], dtype=np.uint32)
    assert [e[0] for e in extremes] == list(
        rng.uniform_from_bits(bits_lo_hi, np.float32).view(np.uint32))
    assert [e[1] for e in extremes] == list(
        rng.uniform_from_bits(bits_lo_hi, np.float64).view(np.uint64))

    step = (np.arange(steps) * 0x10001)[:, None, None]
    neuron = np.arange(neurons)[None, :, None]
    lane = np.arange(lanes)[None, None, :]
    counter = (SEED, step, neuron, lane, neuron % 3)
    assert len(cols) == steps * neurons * lanes
    np.testing.assert_array_equal(cols[:, :4], rng.random_bits(*counter).reshape(-1, 4))
    np.testing.assert_array_equal(
        cols[:, 4], rng.uniform(*counter, dtype=np.float32).ravel().view(np.uint32))
    np.testing.assert_array_equal(
        cols[:, 5], rng.uniform(*counter, dtype=np.float64).ravel().view(np.uint64))
    # float64 normals are NOT bit-identical: log and cos come from libm in C and from NumPy's
    # own AVX-512 loops, each within an ulp (on 2**21 draws the worst was 2 ulp): allow 3.
    # float32 normals take log and cos in float64 rounded to float32 on both sides, so they
    # agree unless two float64 results round differently (none in 2**21 draws with glibc 2.36
    # and NumPy 2.4 on x86-64).
    z32 = cols[:, 6].astype(np.uint32).view(np.float32)
    z64 = cols[:, 7].view(np.float64)
    np.testing.assert_array_equal(z32.view(np.uint32),
                                  rng.normal(*counter, dtype=np.float32).ravel().view(np.uint32))
    assert _ulp_distance(z64, rng.normal(*counter, dtype=np.float64).ravel()).max() <= 3


@pytest.mark.c
@pytest.mark.skipif(shutil.which("c++") is None, reason="no C++ compiler (c++)")
def test_c_source_compiles_as_cpp_with_device_style_qualifier(tmp_path):
    """NVRTC compiles C++: check the text is valid C++ with a non-default EQSNN_FN."""
    src = tmp_path / "rng.cpp"
    main = "int main() { return eqsnn_uniform_f32(1u, 2u, 3u, 4u, 5u, 6u) > 0.0f ? 0 : 1; }\n"
    qualifier = "#define EQSNN_FN static inline __attribute__((always_inline))\n"
    src.write_text(qualifier + rng.c_source() + "\n" + main)
    subprocess.run(["c++", "-std=c++11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", str(src)],
                   check=True)
