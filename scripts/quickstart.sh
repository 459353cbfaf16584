#!/usr/bin/env bash
# Set up, then the main job on the embedded default: a short training on fresh synthetic
# embryos (both modules), an accuracy-gated FP16 export, and `watch` on the synthetic
# microscope feed, headless. Results: runs/quickstart/ (plots, metrics), bundles/quickstart/
# (models, report.md), runs/quickstart/watch/ (grades.jsonl, snapshots, summary.json). Run again,
# it replaces the run (--overwrite), the bundle, and appends to the watch log.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
edgegrade train --out runs/quickstart --overwrite --size 96 --epochs 10 --synth-n 96 --synth-grade-only 32 --lr 1e-3
edgegrade export --run runs/quickstart --out bundles/quickstart --precision fp16 --eval-n 32
edgegrade watch --bundle bundles/quickstart --source synthetic#60 --headless --out runs/quickstart/watch
echo "done: see runs/quickstart/plots, bundles/quickstart/report.md and runs/quickstart/watch"
