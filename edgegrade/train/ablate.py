"""`edgegrade ablate`: the paper's Exp A-E (Table I) and a plain DeepLabV3+ baseline (F) on the
given data, for one or more seeds; Table II as Markdown and CSV (Dice, MAE of the direct ratio,
MAE of the ratio read off the mask, on the test split) with the paper's findings checked."""

import csv
import json
import time
from dataclasses import replace
from pathlib import Path

from edgegrade import datasets
from edgegrade.configs import TrainConfig
from edgegrade.files import atomic_write_bytes
from edgegrade.tasks import get_task
from edgegrade.train.run import resolve_device, train

EXPERIMENTS = [  # id, recipe, what the paper calls it, loss setting
    ("A", "s1", "Visual baseline (S1)", "L_seg + L_cons"),
    ("B", "regression", "Pure regression", "L_reg only"),
    ("C", "mtl", "Full MTL (trade-off)", "Full MTL"),
    ("D", "phase2", "Frozen (decoupled)", "phase 2 on A's frozen S1"),
    ("E", "noinject", "No-inject control", "Full MTL"),
    ("F", "deeplabv3plus", "DeepLabV3+ (no attention gate)", "L_seg + L_cons"),
]
PAPER = {"A": (0.729, None), "B": (None, 0.051), "C": (0.716, 0.046), "D": (0.729, 0.049), "E": (0.678, 0.053),
         "F": (None, None)}
# what each experiment is judged on (the others are N/A): S1 and DeepLabV3+ ship masks, B a ratio only
SHOWS = {"A": ("dice", "mae_mask"), "B": ("mae_direct",), "F": ("dice", "mae_mask")}
METRICS = ("dice", "mae_direct", "mae_mask")


def _get(metrics: dict, key: str):
    return None if key not in metrics else round(metrics[key], 4)


def run_experiment(base: TrainConfig, run: Path, **changes) -> dict:
    """One experiment, resumable: a finished one (OUT/result.json) is read back, a killed one
    continues from its last checkpoint."""
    done = run / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    start = time.perf_counter()
    results = train(replace(base, out=str(run), resume=run.is_dir(), **changes))
    record = {"test": next(iter(results.values()))["test"], "tests": {role: r["test"] for role, r in results.items()},
              "seconds": round(time.perf_counter() - start, 1)}
    atomic_write_bytes(done, json.dumps(record, indent=2).encode())
    return record


def ablate(base: TrainConfig, out, *, seeds=(0,), **_) -> list[dict]:
    """Exp A-F for each seed (its own synthetic data, split and initialisation, unless --data is
    given), then Table II with each seed and the mean and spread over seeds, and the paper's
    findings checked one by one (OUT/table2.md, .csv, .json)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, wall = [], 0.0
    for seed in seeds:
        sdir = out / f"seed{seed}"
        data = base.data
        if data is None:  # one synthetic dataset per seed, shared by its experiments
            data = str(sdir / "data")
            if not (Path(data) / "labels.csv").exists():
                task = get_task(base.task)
                with datasets.new_dataset(data, overwrite=True) as folder:  # whole or not at all
                    task.write_synthetic(folder, base.synth_n, size=base.synth_size or task.synth_size or base.size,
                                         seed=seed, grade_only=base.synth_grade_only, relief=base.synth_relief)
        for exp, recipe, name, losses in EXPERIMENTS:
            changes = dict(recipe=recipe, data=data, seed=seed)
            if exp == "D":  # the decoupled phase 2 starts from this seed's own Exp A
                changes["init"] = str(sdir / "exp_A_s1" / "model.pt")
            record = run_experiment(base, sdir / f"exp_{exp}_{recipe}", **changes)
            wall += record["seconds"]
            shown = SHOWS.get(exp, METRICS)
            rows.append({"exp": exp, "seed": seed, "strategy": name, "recipe": recipe, "loss": losses,
                         **{k: _get(record["test"], k) if k in shown else None for k in METRICS},
                         "seconds": record["seconds"], "paper_dice": PAPER[exp][0], "paper_mae": PAPER[exp][1]})
    summary = _summarise(rows)
    findings = _findings(summary)
    _write_table(out, rows + summary, ["| Exp | Strategy | Loss | Dice | MAE (direct) | MAE (from mask) | "
                                       "paper Dice | paper MAE |", "|---|---|---|---|---|---|---|---|"],
                 lambda r: f"| {r['exp']} | {r['strategy']} | {r['loss']} | {_cell(r, 'dice')} | {_cell(r, 'mae_direct')} | "
                           f"{_cell(r, 'mae_mask')} | {_na(r['paper_dice'])} | {_na(r['paper_mae'])} |",
                 select=lambda r: r["seed"] == "mean")
    with open(out / "table2.md", "a") as f:
        f.write(f"\nSeeds {', '.join(map(str, seeds))}: mean ± half the range over seeds; per seed in table2.csv. "
                f"Training time {wall / 3600:.1f} h in all.\n\nThe paper's findings:\n\n"
                + "\n".join(f"- {'yes' if ok else 'NO'}: {text}" for text, ok in findings) + "\n")
    (out / "findings.json").write_text(json.dumps([{"finding": t, "holds": ok} for t, ok in findings], indent=2))
    return rows + summary


def _na(v):
    return "N/A" if v is None else f"{v:.3f}"


def _cell(r, key):
    if r.get(key) is None:
        return "N/A"
    spread = r.get(f"{key}_spread")
    return f"{r[key]:.3f}" + (f" ± {spread:.3f}" if spread else "")


def _summarise(rows: list[dict]) -> list[dict]:
    """One row per experiment: the mean over seeds and half the range (the spread)."""
    out = []
    for exp, *_ in EXPERIMENTS:
        mine = [r for r in rows if r["exp"] == exp]
        row = {**mine[0], "seed": "mean", "seconds": round(sum(r["seconds"] for r in mine), 1)}
        for key in METRICS:
            values = [r[key] for r in mine if r[key] is not None]
            row[key] = round(sum(values) / len(values), 4) if values else None
            row[f"{key}_spread"] = round((max(values) - min(values)) / 2, 4) if len(values) > 1 else None
        out.append(row)
    return out


def _findings(summary: list[dict]) -> list[tuple[str, bool]]:
    """The paper's claims (Table II), checked on the means."""
    m = {r["exp"]: r for r in summary}
    ok = lambda a, b, op: a is not None and b is not None and op(a, b)  # noqa: E731
    return [
        (f"the S1 model segments best: Dice A {_na(m['A']['dice'])} >= C {_na(m['C']['dice'])}",
         ok(m["A"]["dice"], m["C"]["dice"], lambda a, b: a >= b)),
        (f"the full MTL model grades best: MAE C {_na(m['C']['mae_direct'])} < B {_na(m['B']['mae_direct'])} "
         f"and < E {_na(m['E']['mae_direct'])}", ok(m["C"]["mae_direct"], m["B"]["mae_direct"], lambda a, b: a < b)
         and ok(m["C"]["mae_direct"], m["E"]["mae_direct"], lambda a, b: a < b)),
        (f"the decoupled model keeps A's Dice: D {_na(m['D']['dice'])} within 0.01 of A {_na(m['A']['dice'])}",
         ok(m["D"]["dice"], m["A"]["dice"], lambda a, b: abs(a - b) <= 0.01)),
        (f"the attention gate helps: Dice A {_na(m['A']['dice'])} >= plain DeepLabV3+ F {_na(m['F']['dice'])}",
         ok(m["A"]["dice"], m["F"]["dice"], lambda a, b: a >= b)),
    ]


# The oocyte paper's Table 2 (Andreini et al.): SMANet trained on real images, on synthetic
# images from the learned generator, and pre-trained on synthetic then fine-tuned on real.
SCHEDULES = [("real", "Real"), ("synthetic", "Synthetic"), ("finetune", "Real + Synthetic")]
PAPER_OOCYTE = {"real": (0.9985, 0.6415), "synthetic": (0.9974, 0.6937), "finetune": (0.9988, 0.7220)}


def ablate_oocytes(base: TrainConfig, out, *, real_n: int = 18, test_n: int = 8, synthetic_n: int = 1000,
                   gan_epochs: int = 100, gan_width: int = 32, generator: str | None = None, **_) -> list[dict]:
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


def _write_table(out: Path, rows: list[dict], header: list[str], line, select=lambda r: True) -> None:
    """table2.csv and .json hold every row; table2.md the selected ones."""
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(out / "table2.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    (out / "table2.md").write_text("\n".join(header + [line(r) for r in rows if select(r)]) + "\n")
    (out / "table2.json").write_text(json.dumps(rows, indent=2))
