"""`edgegrade evaluate`: a checkpoint on a dataset (or one of its embryo-level splits)."""

import json
from pathlib import Path

import torch

from edgegrade import datasets
from edgegrade.boxes import locate_samples
from edgegrade.errors import EdgegradeError
from edgegrade.preprocess import PreprocessSpec
from edgegrade.train import checkpoint
from edgegrade.train.data import EmbryoDataset
from edgegrade.train.loop import evaluate
from edgegrade.train.run import resolve_device


def evaluate_checkpoint(path, data, *, split="all", device="auto", batch=8) -> dict:
    state = checkpoint.load(path)
    dev = resolve_device(device)
    model = checkpoint.model_from(state).to(dev)
    ds = datasets.load(data)
    samples = ds.samples
    if split != "all":
        run = recorded_run(path, data)
        tc = state["train_config"]
        samples = datasets.splits_of(run)[split] if run else datasets.run_splits(
            samples, tc["val_fraction"], tc["test_fraction"], tc["seed"], tc.get("test_data"))[split]
    if not samples:
        raise EdgegradeError(f"--split {split}: no images of {data} fall in it (nothing to evaluate)")
    spec = PreprocessSpec.from_dict(state["preprocess"])
    rois = locate_samples(samples, spec, progress=False)
    loader = torch.utils.data.DataLoader(EmbryoDataset(samples, rois, spec), batch_size=batch)
    metrics, _ = evaluate(model, loader, dev)
    if not metrics.get("n_masks") and not metrics.get("n_ratios"):
        raise EdgegradeError(f"--split {split} of {data}: {len(samples)} image(s) but no mask or ratio to score")
    return {"checkpoint": str(path), "role": state["role"], "data": str(data), "split": split, **metrics}


def recorded_run(checkpoint_path, data) -> Path | None:
    """The run a checkpoint belongs to (OUT/<role>.pt or OUT/<phase>/*.pt) when it trained on
    `data`: its recorded splits apply; on other data the splits are drawn again."""
    for run in (Path(checkpoint_path).parent, Path(checkpoint_path).parent.parent):
        try:
            cfg = json.loads((run / "config.json").read_text())
        except (OSError, ValueError):
            continue
        trained_on = Path(cfg.get("data") or run / "data")
        return run if trained_on.resolve() == Path(data).resolve() else None
    return None


def format_metrics(m: dict) -> str:
    keys = ["dice", "iou", "dice_pooled", "embryo_dice", "pixel_acc", "miou", "mae_direct", "mae_mask", "grade_acc_direct",
            "kappa_direct", "grade_acc_mask", "kappa_mask"]
    lines = [f"{m.get('checkpoint', '')} ({m.get('role', '')}) on {m.get('data', '')} [{m.get('split', '')}]: "
             f"{m['n_masks']} masks, {m['n_ratios']} ratios"]
    lines += [f"  {k:18s} {m[k]:.4f}" for k in keys if k in m]
    return "\n".join(lines)
