"""`edgegrade ablate`: the paper's Exp A-E (Table I) on the given data; Table II as Markdown
and CSV (Dice, MAE of the direct ratio, MAE of the ratio read off the mask, on the test split)."""

import csv
import json
from dataclasses import replace
from pathlib import Path

from edgegrade.train.config import TrainConfig
from edgegrade.train.run import train

EXPERIMENTS = [  # id, recipe, what the paper calls it, loss setting
    ("A", "s1", "Visual baseline (S1)", "L_seg + L_cons"),
    ("B", "regression", "Pure regression", "L_reg only"),
    ("E", "noinject", "No-inject control", "Full MTL"),
    ("C", "mtl", "Full MTL (trade-off)", "Full MTL"),
    ("D", "decoupled", "Frozen (decoupled)", "phase 1 + frozen phase 2"),
]
PAPER = {"A": (0.729, None), "B": (None, 0.051), "E": (0.678, 0.053), "C": (0.716, 0.046), "D": (0.729, 0.049)}


def _get(metrics: dict, key: str):
    return None if key not in metrics else round(metrics[key], 4)


def ablate(base: TrainConfig, out) -> list[dict]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = base.data
    if data is None:  # one synthetic dataset shared by every experiment
        from edgegrade.synth import write_dataset

        data = str(out / "data")
        if not (Path(data) / "labels.csv").exists():
            write_dataset(data, base.synth_n, size=base.size, seed=base.seed, grade_only=base.synth_grade_only)
    rows = []
    for exp, recipe, name, losses in EXPERIMENTS:
        run = out / f"exp_{exp}_{recipe}"
        results = train(replace(base, recipe=recipe, out=str(run), data=data))
        test = results["model"]["test"]
        rows.append({"exp": exp, "strategy": name, "recipe": recipe, "loss": losses, "dice": _get(test, "dice"),
                     "mae_direct": None if recipe == "s1" else _get(test, "mae_direct"),
                     "mae_mask": _get(test, "mae_mask"), "paper_dice": PAPER[exp][0], "paper_mae": PAPER[exp][1]})
    with open(out / "table2.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    na = lambda v: "N/A" if v is None else f"{v:.3f}"  # noqa: E731
    lines = ["| Exp | Strategy | Loss | Dice | MAE (direct) | MAE (from mask) | paper Dice | paper MAE |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['exp']} | {r['strategy']} | {r['loss']} | {na(r['dice'])} | {na(r['mae_direct'])} | "
              f"{na(r['mae_mask'])} | {na(r['paper_dice'])} | {na(r['paper_mae'])} |" for r in rows]
    (out / "table2.md").write_text("\n".join(lines) + "\n")
    (out / "table2.json").write_text(json.dumps(rows, indent=2))
    return rows
