"""`edgegrade ablate`: the paper's Exp A-E (Table I) on the given data; Table II as Markdown
and CSV (Dice, MAE of the direct ratio, MAE of the ratio read off the mask, on the test split)."""

import csv
import json
from dataclasses import replace
from pathlib import Path

from edgegrade import datasets
from edgegrade.configs import TrainConfig
from edgegrade.train.run import resolve_device, train

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


def ablate(base: TrainConfig, out, **_) -> list[dict]:
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
    na = lambda v: "N/A" if v is None else f"{v:.3f}"  # noqa: E731
    _write_table(out, rows, ["| Exp | Strategy | Loss | Dice | MAE (direct) | MAE (from mask) | paper Dice | paper MAE |",
                             "|---|---|---|---|---|---|---|---|"],
                 lambda r: f"| {r['exp']} | {r['strategy']} | {r['loss']} | {na(r['dice'])} | {na(r['mae_direct'])} | "
                           f"{na(r['mae_mask'])} | {na(r['paper_dice'])} | {na(r['paper_mae'])} |")
    return rows


# The oocyte paper's Table 2 (Andreini et al.): SMANet trained on real images, on synthetic
# images from the learned generator, and pre-trained on synthetic then fine-tuned on real.
SCHEDULES = [("real", "Real"), ("synthetic", "Synthetic"), ("finetune", "Real + Synthetic")]
PAPER_OOCYTE = {"real": (0.9985, 0.6415), "synthetic": (0.9974, 0.6937), "finetune": (0.9988, 0.7220)}


def ablate_oocytes(base: TrainConfig, out, *, real_n: int = 18, test_n: int = 8, synthetic_n: int = 1000,
                   gan_epochs: int = 100, gan_width: int = 32, generator: str | None = None) -> list[dict]:
    """base.data: the real training pairs (default: `real_n` procedural oocytes); base.test_data:
    the real test images (default: `test_n` more). The generator is trained on the real training
    pairs unless one is given. Real training passes over its images until an epoch holds as many
    as the synthetic set (the paper's 18 images augmented to 1000), so the schedules see equal
    numbers of images."""
    from edgegrade.oocytes import write_oocyte_dataset
    from edgegrade.train.learned_synth import generate, train_generator

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = replace(base, task="oocyte-inclusions", arch="smanet", recipe="seg")
    real, test = base.data or str(out / "real"), base.test_data or str(out / "test")
    for folder, n, seed in ((real, real_n, 1), (test, test_n, 2)):
        if folder.startswith(str(out)) and not (Path(folder) / "labels.csv").exists():
            write_oocyte_dataset(folder, n, size=base.size, seed=base.seed * 100 + seed)
    gan = {}
    if generator is None:
        generator = str(out / "generator.pt")
        if not Path(generator).exists():
            gan = train_generator(real, generator, task="oocyte-inclusions", size=base.size, epochs=gan_epochs,
                                  width=gan_width, seed=base.seed, device=str(resolve_device(base.device)))
    synthetic = out / "synthetic"
    if not (synthetic / "labels.csv").exists():
        gan.update(generation=generate(generator, synthetic, synthetic_n, seed=base.seed))
    n_real = len(datasets.load(real).samples)
    repeat = max(1, round(synthetic_n / max(1, n_real)))
    runs = {
        "real": replace(base, data=real, test_data=test, repeat=repeat),
        "synthetic": replace(base, data=str(synthetic), test_data=test, repeat=1),
        "finetune": replace(base, data=real, test_data=test, repeat=repeat, init=str(out / "synthetic_run" / "model.pt")),
    }
    rows = []
    for key, name in SCHEDULES:
        run = out / f"{key}_run"
        test_metrics = train(replace(runs[key], out=str(run)))["model"]["test"]
        rows.append({"schedule": key, "trained_on": name, "pixel_acc": _get(test_metrics, "pixel_acc"),
                     "miou": _get(test_metrics, "miou"), "dice": _get(test_metrics, "dice"),
                     "paper_acc": PAPER_OOCYTE[key][0], "paper_miou": PAPER_OOCYTE[key][1]})
    _write_table(out, rows, ["| Trained on | Accuracy | Mean IoU | Dice (inclusions) | paper Accuracy | paper Mean IoU |",
                             "|---|---|---|---|---|---|"],
                 lambda r: f"| {r['trained_on']} | {r['pixel_acc']:.4f} | {r['miou']:.4f} | {r['dice']:.3f} | "
                           f"{r['paper_acc']:.4f} | {r['paper_miou']:.4f} |")
    (out / "gan.json").write_text(json.dumps(gan, indent=2))
    return rows


def _write_table(out: Path, rows: list[dict], header: list[str], line) -> None:
    with open(out / "table2.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "table2.md").write_text("\n".join(header + [line(r) for r in rows]) + "\n")
    (out / "table2.json").write_text(json.dumps(rows, indent=2))
