#!/usr/bin/env bash
# Create .venv (Python 3.11) and install edgegrade with the CPU wheel of torch.
# A loose torch pin would pull the multi-GB CUDA build; CPU machines pin 2.13.0.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q -e ".[train,export,runtime,dev]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import torch, onnxruntime, cv2, edgegrade; print('edgegrade', edgegrade.__version__, '| torch', torch.__version__, '| onnxruntime', onnxruntime.__version__)"
