"""`edgegrade evaluate`: a checkpoint on a dataset (or one of its embryo-level splits)."""

import torch

from edgegrade import datasets
from edgegrade.boxes import locate_samples
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
        tc = state["train_config"]
        samples = datasets.run_splits(samples, tc["val_fraction"], tc["test_fraction"], tc["seed"],
                                      tc.get("test_data"))[split]
    spec = PreprocessSpec.from_dict(state["preprocess"])
    rois = locate_samples(samples, spec, progress=False)
    loader = torch.utils.data.DataLoader(EmbryoDataset(samples, rois, spec), batch_size=batch)
    metrics, _ = evaluate(model, loader, dev)
    return {"checkpoint": str(path), "role": state["role"], "data": str(data), "split": split, **metrics}


def format_metrics(m: dict) -> str:
    keys = ["dice", "iou", "dice_pooled", "pixel_acc", "miou", "mae_direct", "mae_mask", "grade_acc_direct",
            "kappa_direct", "grade_acc_mask", "kappa_mask"]
    lines = [f"{m.get('checkpoint', '')} ({m.get('role', '')}) on {m.get('data', '')} [{m.get('split', '')}]: "
             f"{m['n_masks']} masks, {m['n_ratios']} ratios"]
    lines += [f"  {k:18s} {m[k]:.4f}" for k in keys if k in m]
    return "\n".join(lines)
