#!/usr/bin/env bash
# Screenshot of `edgegrade watch` in a real window on a virtual display (for the README).
#   bash scripts/window_screenshot.sh BUNDLE OUT.png [SOURCE]
# Needs Debian's xvfb and a GUI OpenCV: bash scripts/gui_venv.sh builds .venv-gui.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=$1; out=$2; source=${3:-synthetic:800x800#100000}
py=${EDGEGRADE_GUI_PYTHON:-.venv-gui/bin/python}
Xvfb :98 -screen 0 1024x900x24 -nolisten tcp >/dev/null 2>&1 & xvfb=$!
trap 'kill $watch $xvfb 2>/dev/null || true' EXIT
sleep 1
logdir=$(mktemp -d)
DISPLAY=:98 QT_QPA_PLATFORM=xcb "$py" -m edgegrade watch --bundle "$bundle" --source "$source" --out "$logdir" >/dev/null & watch=$!
until [ -s "$logdir/grades.jsonl" ] && [ "$(wc -l < "$logdir/grades.jsonl")" -ge 20 ]; do sleep 0.5; done
"$py" -c "import sys; from PIL import ImageGrab; ImageGrab.grab(xdisplay=':98').crop((0, 0, 800, 800)).save(sys.argv[1])" "$out"
echo "wrote $out"
