#!/usr/bin/env bash
# .venv-extras: the default environment plus NVIDIA ModelOpt's ONNX quantizer (the pieces it
# imports, CPU only: no onnxruntime-gpu, no cupy) and OpenVINO, for tests/export/test_modelopt.py
# and the ModelOpt / OpenVINO rows of benchmarks/inference_cpu.py. Also fetches the TensorRT
# bindings wheels (names only, no libraries) that scripts/tensorrt_names.py reads.
#   bash scripts/extras_venv.sh && .venv-extras/bin/python -m pytest -q tests/export/test_modelopt.py
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv-extras/bin/python ] || "$PY" -m venv .venv-extras
pip() { .venv-extras/bin/python -m pip install -q "$@" 2>&1 | grep -v "^WARNING: Location" || true; }
pip --upgrade pip
pip "torch==2.13.0"            # first: a loose torch pin would pull the multi-GB CUDA build
pip -e ".[train,export,runtime,dev,modelopt,openvino]"
.venv-extras/bin/python -c "import modelopt.onnx.quantization, openvino; print('modelopt and openvino import')"
mkdir -p .venv-extras/wheels
.venv-extras/bin/python -m pip download -q --no-deps -d .venv-extras/wheels \
    "tensorrt-cu12-bindings==10.3.*" "tensorrt-cu12-bindings==11.*" 2>&1 | grep -v "^WARNING: Location" || true
echo "refresh the name lists: .venv-extras/bin/python scripts/tensorrt_names.py .venv-extras/wheels/*.whl --out tests/export/tensorrt_names"
