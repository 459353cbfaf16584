#!/usr/bin/env bash
# The first day a GPU is at hand: one run, under 10 minutes, one report (gpu_check/report.md),
# stopping at the first missing piece with a line that names it.
#   bash scripts/gpu_check.sh [BUNDLE]     (BUNDLE: an fp16 or int8 bundle; default: one built here)
# Steps: the GPU and TensorRT are there -> the `gpu` and `trt` tests -> the GPU training-
# throughput benchmark -> engines built from the bundle (fp16, int8 s8, batch profile 1/1/4)
# -> gated (`edgegrade verify`) and timed against ONNX Runtime (`edgegrade bench`).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=gpu_check
mkdir -p "$OUT"
REPORT="$OUT/report.md"
START=$(date +%s)
fail() { echo "gpu_check: FAILED at $1" | tee -a "$REPORT"; exit 1; }
step() { echo "== $1 ($(( $(date +%s) - START )) s)"; echo -e "\n## $1\n" >> "$REPORT"; }
run() { local name=$1; shift; timeout "$TIMEOUT" "$@" > "$OUT/$name.log" 2>&1 || fail "$name (exit $?; see $OUT/$name.log)"; \
        { echo '```'; tail -n "${TAIL:-25}" "$OUT/$name.log"; echo '```'; } >> "$REPORT"; }
echo "# gpu_check $(date -u +%FT%TZ) on $(hostname)" > "$REPORT"

step "device"
command -v nvidia-smi >/dev/null || fail "nvidia-smi: no NVIDIA driver here"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >> "$REPORT" || fail "nvidia-smi"
TIMEOUT=60 run versions "$PY" -c "import torch, tensorrt, onnxruntime as ort; from cuda.bindings import runtime; \
assert torch.cuda.is_available(), 'torch sees no CUDA'; print('torch', torch.__version__, torch.cuda.get_device_name(0)); \
print('tensorrt', tensorrt.__version__); print('onnxruntime', ort.__version__, ort.get_available_providers())"

step "gpu and trt tests"
TIMEOUT=240 run tests "$PY" -m pytest -q -m "gpu or trt" -p no:cacheprovider tests/
grep -q " passed" "$OUT/tests.log" || fail "tests: no gpu/trt test ran (all skipped?)"
grep -q "skipped" "$OUT/tests.log" && echo "(some gpu/trt tests skipped: see $OUT/tests.log)" >> "$REPORT"

step "training throughput (ResNet-50 width, 256 px, bf16)"
TIMEOUT=120 run train_throughput "$PY" benchmarks/train_throughput.py --device cuda --batch 64 --steps 30 --amp bf16

BUNDLE=${1:-}
if [ -z "$BUNDLE" ]; then
    step "a bundle to build engines from (quick dual run, int8 s8)"
    TIMEOUT=150 TAIL=5 run train "$PY" -m edgegrade train --out "$OUT/run" --overwrite --width 16 --size 128 \
        --epochs 1 --synth-n 48 --synth-grade-only 0 --workers 2 --device cuda
    TIMEOUT=120 TAIL=15 run export "$PY" -m edgegrade export --run "$OUT/run" --out "$OUT/bundle" --precision int8 \
        --calib-n 32 --eval-n 16 --tol-agreement 0.9
    BUNDLE="$OUT/bundle"
fi

step "engines from $BUNDLE (profile 1/1/4, timing cache)"
TIMEOUT=180 TAIL=5 run engines "$PY" -m edgegrade export --engine-only "$BUNDLE" --min-batch 1 --opt-batch 1 --max-batch 4 \
    --timing-cache "$OUT/timing.cache"

step "engines gated against the fp32 ONNX"
TIMEOUT=60 TAIL=10 run verify "$PY" -m edgegrade verify "$BUNDLE" --n 16

step "engines timed against ONNX Runtime (same run)"
TIMEOUT=90 TAIL=12 run bench "$PY" -m edgegrade bench "$BUNDLE" --runs 50 --json "$OUT/bench.json"

echo -e "\nAll steps passed in $(( $(date +%s) - START )) s." | tee -a "$REPORT"
