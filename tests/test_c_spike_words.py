"""The c backend's packing of spike flags into words (``eqsnn.backends._compiled``,
``eqsnn_store_spike_words``) on each path it has: AVX-512 (a mask per 64 flags), AVX2 (a
byte mask per 32) and plain C, to aligned and unaligned rows (a network's step row is
deliberately not 64-byte aligned).  The oracle is the definition, bit k of word w = bit
``bit`` of flag 32 w + k, written out in the harness."""

from __future__ import annotations

import platform
import shutil
import subprocess

import pytest

from eqsnn.backends._compiled import C_RUN_HELPERS

pytestmark = pytest.mark.c

HARNESS = C_RUN_HELPERS + r"""
#include <stdio.h>
#include <stdlib.h>
static unsigned int expected(const unsigned char *f, int bit)
{
    unsigned int w = 0;
    int k;
    for (k = 0; k < 32; ++k) w |= (unsigned int)((f[k] >> bit) & 1u) << k;
    return w;
}
int main(void)
{
    static unsigned char flags[2048];
    static unsigned int out[96] __attribute__((aligned(64)));
    int trial, bit, off, w, j, bad = 0;
    srand(7);
    for (trial = 0; trial < 100; ++trial) {
        for (j = 0; j < 2048; ++j) flags[j] = (unsigned char)(rand() & 0xff);
        for (bit = 0; bit < 2; ++bit)
            for (off = 0; off < 17; off += 4) {  /* 64-byte, 16-byte and 4-byte aligned */
                eqsnn_store_spike_words(out + off, flags, bit, 64);
                eqsnn_store_fence();
                for (w = 0; w < 64; ++w) bad += out[off + w] != expected(flags + 32 * w, bit);
            }
    }
    printf("%d\n", bad);
    return 0;
}
"""

FLAGS = {"plain": ["-mno-avx2", "-mno-avx512f"], "avx2": ["-mavx2", "-mno-avx512f"],
         "avx512": ["-mavx512f", "-mavx512bw"]}


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64") or not shutil.which("cc"),
                    reason="x86-64 with a C compiler")
@pytest.mark.parametrize("path", list(FLAGS))
def test_spike_words_are_the_flags_bits_on_every_path(tmp_path, path):
    source = tmp_path / "words.c"
    source.write_text(HARNESS)
    program = tmp_path / "words"
    subprocess.run(["cc", "-O2", "-std=gnu99", *FLAGS[path], str(source), "-o", str(program)],
                   check=True)
    if path == "avx512" and "avx512bw" not in open("/proc/cpuinfo").read():
        pytest.skip("this CPU has no AVX-512BW to run it")
    if path == "avx2" and " avx2" not in open("/proc/cpuinfo").read():
        pytest.skip("this CPU has no AVX2 to run it")
    result = subprocess.run([str(program)], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0"
