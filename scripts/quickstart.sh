#!/usr/bin/env bash
# Set up, then the main job on the embedded default: the pretrained assistant and grader that
# ship with edgegrade (trained on synthetic embryos), fine-tuned briefly on fresh synthetic
# embryos, an accuracy-gated FP16 export, and `watch` on a synthetic feed of eight embryos of
# known grades (two of each), headless, which reports how often its grade is the true one.
# Results: runs/quickstart/ (plots, metrics), bundles/quickstart/ (models, report.md),
# runs/quickstart/watch/ (grades.jsonl, snapshots, summary.json). Run again, it replaces the
# run (--overwrite) and the bundle, and appends to the watch log.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
edgegrade models
edgegrade train --init pretrained --width 16 --size 128 --batch 16 --epochs 2 --synth-n 160 --synth-grade-only 64 \
    --out runs/quickstart --overwrite
edgegrade export --run runs/quickstart --out bundles/quickstart --precision fp16 --eval-n 32
edgegrade watch --bundle bundles/quickstart --source synthetic-wells --headless --out runs/quickstart/watch
echo "done: see runs/quickstart/plots, bundles/quickstart/report.md and runs/quickstart/watch"
