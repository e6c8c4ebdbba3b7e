#!/usr/bin/env bash
# Prepare the wheel folder bench/gpu_check.sh installs on the GPU machine, which has
# no network.  Run here (with a network), in the repository root:
#
#   bash bench/gpu_wheels.sh [WHEELS_DIR]      # default .whl (git-ignored via .git/info/exclude)
#
# The device image (Python 3.12, CuPy 14 for CUDA 13, NumPy, SymPy, SciPy, tqdm, pytest,
# Hypothesis, matplotlib) lacks only lark among eqsnn's test dependencies; gpu_check.sh
# skips any wheel whose distribution is importable there already.  Then, with the device:
#   run(command="bash bench/gpu_check.sh .whl $OUT", carry=[".whl"], timeout_s=480)
set -eu
cd "$(dirname "$0")/.."
WHEELS="${1:-.whl}"
mkdir -p "$WHEELS"
grep -qx "/$WHEELS/" .git/info/exclude 2>/dev/null || echo "/$WHEELS/" >> .git/info/exclude
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux2014_x86_64 -d "$WHEELS" lark
ls -l "$WHEELS"
