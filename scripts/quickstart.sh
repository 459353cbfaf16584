#!/usr/bin/env bash
# Set up, then the main job on the embedded default: a short training on fresh synthetic
# embryos (both modules), an accuracy-gated INT8 export, and `watch` on the synthetic
# microscope feed, headless. Results: runs/quickstart/ (plots, metrics), bundles/quickstart/
# (models, report.md), runs/quickstart/watch/ (grades.jsonl, snapshots, summary.json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
edgegrade train --out runs/quickstart --size 128 --epochs 3 --synth-n 96 --synth-grade-only 32 --lr 5e-4
edgegrade export --run runs/quickstart --out bundles/quickstart --precision int8 --calib-n 64 --eval-n 32
edgegrade watch --bundle bundles/quickstart --source synthetic#60 --headless --out runs/quickstart/watch
echo "done: see runs/quickstart/plots, bundles/quickstart/report.md and runs/quickstart/watch"
