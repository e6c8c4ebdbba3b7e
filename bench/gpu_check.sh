#!/usr/bin/env bash
# GPU check for an NVIDIA machine (H100/H200) with CuPy and nvcc but no network:
# installs eqsnn's missing dependencies from a folder of wheels, runs the GPU test
# tier (pytest -m gpu) and the GPU benchmarks, and writes a short table and the
# logs to an output folder.
#
#   bash bench/gpu_check.sh [WHEELS_DIR] [OUT_DIR]
#
# WHEELS_DIR defaults to .whl; OUT_DIR to $OUT, else gpu-check.  Wheels are
# installed with `pip install --no-index --no-deps --target`, and only those
# whose distribution is not importable already (so the machine's NumPy, which
# its CuPy was built against, stays).  Prepare them where there is a network with
# `bash bench/gpu_wheels.sh` (the device image lacks only lark), then run this there:
#   run(command="bash bench/gpu_check.sh .whl $OUT", carry=[".whl"], timeout_s=480)
# Every step runs even if an earlier one fails; the exit status is non-zero if
# any did.  Where nvidia-smi lists a GPU the tests run with EQSNN_REQUIRE_GPU=1,
# so a CuPy that cannot reach it fails instead of skipping every test.  Results,
# eight files (the device tool brings back eight at most, two folders deep):
# summary.md (the tables), gpu_check.log (environment, installs, steps),
# pytest_gpu.log, gpu_bench.log, gpu_bench.md, gpu_bench.json, and the
# networks on cupy against c (bench/gpu_network.py) in gpu_network.log and
# gpu_network.md.  The installed
# wheels and the caches stay in a scratch folder outside OUT_DIR.
set -u
cd "$(dirname "$0")/.."
ROOT="$PWD"
WHEELS="${1:-.whl}"
OUT="${OUT:-${2:-gpu-check}}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
PY="${PYTHON:-python3}"
SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/eqsnn-gpu-check.XXXXXX")"
SITE="$SCRATCH/site-packages"
status=0
export PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

note() { echo "[gpu_check $(date +%H:%M:%S)] $*" | tee -a "$OUT/gpu_check.log"; }

# --- environment ---------------------------------------------------------------
{
    echo "## nvidia-smi"; nvidia-smi 2>&1 || true
    echo "## nvcc"; nvcc --version 2>&1 || true
    echo "## python"; "$PY" --version 2>&1
    "$PY" -c "import numpy, cupy; print('numpy', numpy.__version__, 'cupy', cupy.__version__);
print('device', cupy.cuda.runtime.getDeviceProperties(0)['name'].decode())" 2>&1 || true
} >> "$OUT/gpu_check.log" 2>&1
note "environment above"

# --- dependencies from the wheels ------------------------------------------------
mkdir -p "$SITE"
if compgen -G "$WHEELS/*.whl" > /dev/null; then
    for wheel in "$WHEELS"/*.whl; do
        dist="$(basename "$wheel" | cut -d- -f1)"
        if "$PY" -c "import importlib.metadata as m, sys; m.version(sys.argv[1])" "$dist" \
                > /dev/null 2>&1; then
            note "have $dist, skipping $(basename "$wheel")"
            continue
        fi
        note "installing $(basename "$wheel")"
        "$PY" -m pip install --no-index --no-deps --quiet --target "$SITE" "$wheel" \
            >> "$OUT/gpu_check.log" 2>&1 || { note "FAILED to install $wheel"; status=1; }
    done
else
    note "no wheels in $WHEELS; using what is installed"
fi
export PYTHONPATH="$ROOT:$SITE${PYTHONPATH:+:$PYTHONPATH}"
export EQSNN_CACHE_DIR="$SCRATCH/eqsnn-cache"
"$PY" -c "import eqsnn, lark, sympy, scipy, pytest; print('eqsnn imports')" \
    >> "$OUT/gpu_check.log" 2>&1 || { note "eqsnn or its dependencies do not import"; status=1; }

# --- the GPU test tier ----------------------------------------------------------
if nvidia-smi -L 2>/dev/null | grep -q "^GPU"; then export EQSNN_REQUIRE_GPU=1; fi
note "pytest -m gpu (EQSNN_REQUIRE_GPU=${EQSNN_REQUIRE_GPU:-0})"
"$PY" -m pytest -m gpu -q -rs -p no:cacheprovider --continue-on-collection-errors \
    tests > "$OUT/pytest_gpu.log" 2>&1
tests_rc=$?
if [ "$tests_rc" -ne 0 ]; then status=1; fi
if [ "${EQSNN_REQUIRE_GPU:-0}" = 1 ] && ! tail -n 1 "$OUT/pytest_gpu.log" | grep -q " passed"; then
    note "no GPU test passed"; status=1; tests_rc="$tests_rc, and no test passed"
fi
note "pytest exit $tests_rc: $(tail -n 1 "$OUT/pytest_gpu.log")"

# --- the GPU benchmarks -----------------------------------------------------------
note "bench/gpu_bench.py"
"$PY" bench/gpu_bench.py --out "$OUT" ${GPU_BENCH_ARGS:-} > "$OUT/gpu_bench.log" 2>&1
bench_rc=$?
if [ "$bench_rc" -ne 0 ]; then status=1; fi
note "gpu_bench exit $bench_rc"

note "bench/gpu_network.py"
"$PY" bench/gpu_network.py --out "$SCRATCH/network" ${GPU_NETWORK_ARGS:---repeats 2} \
    > "$OUT/gpu_network.log" 2>&1
network_rc=$?
if [ "$network_rc" -ne 0 ]; then status=1; fi
cp "$SCRATCH/network/gpu_network.md" "$OUT/" 2>/dev/null || true
note "gpu_network exit $network_rc"

# --- summary ----------------------------------------------------------------------
{
    echo "# eqsnn GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    grep -m1 "^device" "$OUT/gpu_check.log" || true
    echo
    echo "pytest -m gpu (exit $tests_rc): $(tail -n 1 "$OUT/pytest_gpu.log")"
    echo
    if [ -f "$OUT/gpu_bench.md" ]; then cat "$OUT/gpu_bench.md"; else
        echo "gpu_bench failed (exit $bench_rc); see gpu_bench.log:"; tail -n 20 "$OUT/gpu_bench.log"; fi
    echo
    if [ -f "$OUT/gpu_network.md" ]; then cat "$OUT/gpu_network.md"; else
        echo "gpu_network failed (exit $network_rc); see gpu_network.log:"
        tail -n 20 "$OUT/gpu_network.log"; fi
} > "$OUT/summary.md"
cat "$OUT/summary.md"
rm -rf "$SCRATCH"
exit "$status"
