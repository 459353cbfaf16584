#!/usr/bin/env bash
# .venv-gui: the runtime with a GUI build of OpenCV (opencv-python instead of the headless
# wheel), for the window test under Xvfb and the README screenshot. No torch.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv-gui/bin/python ] || "$PY" -m venv .venv-gui
.venv-gui/bin/python -m pip install -q opencv-python onnxruntime click tqdm numpy pillow 2>&1 | grep -v "^WARNING: Location" || true
.venv-gui/bin/python -m pip install -q --no-deps -e . 2>&1 | grep -v "^WARNING: Location" || true
