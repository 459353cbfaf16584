"""`edgegrade crossval`: how well fine-tuning on a lab's few annotated frames works, measured
the only honest way such a set allows: leave one group out (an embryo, or frames of one time),
train on the rest, test on it; from the pretrained models and from scratch with the same
number of steps, for several seeds, and with 1, 2, 4 ... training frames. Writes
OUT/crossval.md, .csv and .json; every run is kept (and resumed) under OUT/runs/.

With a handful of frames there is no validation split: each run keeps its last epoch."""

import csv
import json
import os
import re
from pathlib import Path

import numpy as np

from edgegrade import datasets
from edgegrade.configs import TrainConfig
from edgegrade.errors import EdgegradeError
from edgegrade.train.ablate import run_experiment

KEYS = (("dice", "assistant"), ("embryo_dice", "assistant"), ("mae_mask", "assistant"), ("mae_direct", "grader"))


def groups_of(samples, pattern: str | None) -> dict[str, list]:
    """Samples by group: the first capture of `pattern` in the image name, else the embryo id."""
    try:
        regex = re.compile(pattern) if pattern else None
    except re.error as exc:
        raise EdgegradeError(f"--group-by {pattern}: not a regular expression ({exc})") from None
    out = {}
    for s in samples:
        key = s.embryo_id
        if regex:
            m = regex.search(s.name)
            if not m:
                raise EdgegradeError(f"--group-by {pattern}: {s.name} does not match")
            key = m.group(1) if m.groups() else m.group(0)
        out.setdefault(key, []).append(s)
    if len(out) < 2:
        raise EdgegradeError(f"{len(out)} group(s): leave-one-out needs at least 2 (see --group-by)")
    return dict(sorted(out.items()))


def _folder(root: Path, samples) -> str:
    """A dataset folder of links to the samples' files, each frame its own embryo (no
    validation split is drawn from it)."""
    if not (root / "labels.csv").is_file():
        for sub in ("images", "masks"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for s in samples:
            for src, sub in ((s.image, "images"), (s.mask, "masks")):
                link = root / sub / Path(src).name
                if src and not link.exists():
                    os.symlink(Path(src).resolve(), link)
        datasets.write_labels_csv(root, [{"image": Path(s.image).name, "grade": s.grade or "", "ratio": "",
                                          "embryo_id": s.name} for s in samples])
    return str(root)


def crossval(base: TrainConfig, out, *, group_by: str | None = None, seeds=(0, 1), sizes=(), inits=("pretrained", None),
             **_) -> list[dict]:
    out = Path(out)
    if not base.data:
        raise EdgegradeError("crossval needs --data: the lab's annotated frames")
    groups = groups_of([s for s in datasets.load(base.data, require_paired=True).samples if s.paired], group_by)
    rows = []
    for held, test in groups.items():
        pool = [s for g, members in groups.items() if g != held for s in members]
        test_dir = _folder(out / "folds" / held / "test", test)
        for n in sorted(set(sizes) | {len(pool)}):
            for seed in seeds:
                chosen = [pool[i] for i in sorted(np.random.default_rng([seed, n]).permutation(len(pool))[:n])]
                train_dir = _folder(out / "folds" / held / f"train_n{n}_seed{seed}", chosen)
                for init in inits:
                    name = f"{held}_n{n}_seed{seed}_{init or 'scratch'}"
                    record = run_experiment(base, out / "runs" / name, data=train_dir, test_data=test_dir, init=init,
                                            seed=seed, val_fraction=0.0, test_fraction=0.0, recipe="dual",
                                            plots=False)
                    rows.append({"held_out": held, "train_frames": n, "seed": seed, "init": init or "scratch",
                                 **{k: record["tests"][role].get(k) for k, role in KEYS},
                                 "seconds": record["seconds"]})
    summary = _summary(rows)
    _write(out, rows, summary)
    return rows + summary


def _summary(rows) -> list[dict]:
    """Mean over folds and seeds per (init, training frames); and per fold for the full pool."""
    out = []
    for (init, n) in sorted({(r["init"], r["train_frames"]) for r in rows}):
        mine = [r for r in rows if r["init"] == init and r["train_frames"] == n]
        out.append({"held_out": "mean", "train_frames": n, "seed": "all", "init": init,
                    **{k: _mean(r[k] for r in mine) for k, _ in KEYS}, "seconds": sum(r["seconds"] for r in mine)})
    return out


def _mean(values):
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 4) if values else None


def _write(out: Path, rows, summary) -> None:
    fields = list(rows[0])
    with open(out / "crossval.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows + summary)
    (out / "crossval.json").write_text(json.dumps(rows + summary, indent=2))
    full = max(r["train_frames"] for r in rows)
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    lines = ["| held out | init | fragment Dice | embryo Dice | ratio error (mask) | ratio error (direct) |",
             "|---|---|---|---|---|---|"]
    for held in sorted({r["held_out"] for r in rows}):
        for init in sorted({r["init"] for r in rows}):
            mine = [r for r in rows if r["held_out"] == held and r["init"] == init and r["train_frames"] == full]
            lines.append(f"| {held} | {init} | " + " | ".join(fmt(_mean(r[k] for r in mine)) for k, _ in KEYS) + " |")
    for s in summary:
        if s["train_frames"] == full:
            lines.append(f"| **mean** | {s['init']} | " + " | ".join(fmt(s[k]) for k, _ in KEYS) + " |")
    lines += ["", "| training frames | " + " | ".join(f"fragment Dice ({i})" for i in sorted({s["init"] for s in summary}))
              + " |", "|---|" + "---|" * len({s["init"] for s in summary})]
    for n in sorted({s["train_frames"] for s in summary}):
        lines.append(f"| {n} | " + " | ".join(fmt(s["dice"]) for s in summary if s["train_frames"] == n) + " |")
    (out / "crossval.md").write_text("\n".join(lines) + "\n")
