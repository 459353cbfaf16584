"""One epoch of training, one pass of evaluation, and what a phase needs around them: the
learning-rate schedule, precise BatchNorm, the validation score, the metrics log, the NaN
check. The phase itself (epochs, best checkpoint) is run.run_phase."""

import csv
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from edgegrade.errors import EdgegradeError, os_error
from edgegrade.files import cut_partial_line
from edgegrade.metrics import SegRegMeter
from edgegrade.postprocess import binarise, mask_ratio
from edgegrade.train.losses import total_loss


def autocast(device: torch.device, amp: str):
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def to_device(batch: dict, device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def set_train_mode(model, freeze: bool):
    model.train()
    if freeze:  # frozen BatchNorm statistics stay as phase 1 left them
        module = getattr(model, "module", model)
        for part in (module.backbone, getattr(module, "aspp", None), getattr(module, "decoder", None)):
            if part is not None:
                part.eval()


def poly_lr(base: float, done: int, total: int, power: float = 0.9) -> float:
    """DeepLab's poly schedule; a pure function of the step, so --resume needs no state."""
    return base * (1 - min(done, total - 1) / total) ** power


def train_one_epoch(model, loader, optimizer, weights, device, amp, scaler, *, freeze=False,
                    max_steps=0, desc="train", show=True, schedule=None) -> dict:
    """schedule: step index within the epoch -> learning rate (None keeps it constant)."""
    set_train_mode(model, freeze)
    sums, n_batches, n_images, start = {}, 0, 0, time.perf_counter()
    bar = tqdm(loader, desc=desc, unit="batch", leave=False, disable=not show,
               total=min(len(loader), max_steps) if max_steps else len(loader))
    for step, batch in enumerate(bar):
        if max_steps and step >= max_steps:
            break
        if schedule is not None:
            for group in optimizer.param_groups:
                group["lr"] = schedule(step)
        batch = to_device(batch, device)
        image = batch["image"]
        if device.type == "cuda":
            image = image.contiguous(memory_format=torch.channels_last)
        with autocast(device, amp):
            out = model(image)
        loss, parts = total_loss(out, batch, weights)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        for k, v in {"loss": loss.detach(), **parts}.items():
            sums[k] = sums.get(k, 0) + v
        n_batches += 1
        n_images += image.shape[0]
        if show and step % 10 == 0:
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
    result = {k: float(v) / max(1, n_batches) for k, v in sums.items()}
    result["images_per_s"] = n_images / max(1e-9, time.perf_counter() - start)
    return result


@torch.no_grad()
def recalibrate_batchnorm(model, loader, device, amp="off", batches: int = 16) -> None:
    """Recompute BatchNorm running statistics as plain averages over a few training batches
    with the current weights ("precise BN"). With few steps and a high learning rate the
    momentum averages lag the weights, and eval-mode outputs drift from train-mode ones."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    saved = [(m.momentum, m.training) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
        m.train()
    for i, batch in enumerate(loader):
        if i >= batches:
            break
        image = batch["image"].to(device, non_blocking=True)
        if device.type == "cuda":
            image = image.contiguous(memory_format=torch.channels_last)
        with autocast(device, amp):
            model(image)
    for m, (momentum, training) in zip(bns, saved):
        m.momentum = momentum
        m.train(training)


@torch.no_grad()
def evaluate(model, loader, device, amp="off", keep=0) -> tuple[dict, dict]:
    """Validation metrics (Dice on the fragment channel) plus per-sample records for plots;
    `keep` samples are kept whole (image, truth, prediction) for overlays."""
    model.eval()
    meter = SegRegMeter()
    records = {"true": [], "direct": [], "mask": [], "examples": []}
    for batch in loader:
        batch = to_device(batch, device)
        with autocast(device, amp):
            out = model(batch["image"])
        probs = torch.sigmoid(out["mask_logits"].float()).cpu().numpy() if "mask_logits" in out else None
        ratios = out["ratio"].float().cpu().numpy() if "ratio" in out else None
        for i in range(len(batch["image"])):
            has_ratio = bool(batch["has_ratio"][i])
            m_ratio = None
            if probs is not None:
                frag, emb = binarise(probs[i])
                m_ratio = mask_ratio(frag, emb)
                if bool(batch["has_mask"][i]):
                    truth = batch["masks"][i].cpu().numpy() > 0.5
                    meter.add_masks(frag, truth[0], emb, truth[1])
                if len(records["examples"]) < keep and bool(batch["has_mask"][i]):
                    records["examples"].append((batch["image"][i].cpu().numpy(),
                                                batch["masks"][i].cpu().numpy(), probs[i]))
            if has_ratio:
                true = float(batch["ratio"][i])
                direct = None if ratios is None else float(ratios[i])
                meter.add_ratios(true, direct, m_ratio)
                records["true"].append(true)
                records["direct"].append(np.nan if direct is None else direct)
                records["mask"].append(np.nan if m_ratio is None else m_ratio)
    return meter.summary(), records


def score(summary: dict, key: str) -> float:
    """Higher is better; MAE keys are negated."""
    value = summary.get(key, float("nan"))
    return -value if key.startswith("mae") else value


class MetricsLog:
    """Appends one CSV row per epoch, flushed at once, so a killed run keeps its history (a
    half row left by a crash or a full disk is cut off before the next is appended)."""

    FIELDS = ["phase", "epoch", "loss", "seg", "reg", "cons", "dice", "iou", "miou", "pixel_acc", "mae_direct",
              "mae_mask", "grade_acc_direct", "kappa_direct", "images_per_s", "seconds"]

    def __init__(self, path: Path):
        self.path = path
        self.new = not path.exists()
        cut_partial_line(path)

    def write(self, row: dict):
        try:
            with open(self.path, "a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=self.FIELDS, extrasaction="ignore")
                if self.new:
                    writer.writeheader()
                    self.new = False
                writer.writerow({k: (f"{v:.5g}" if isinstance(v, float) else v) for k, v in row.items()})
                f.flush()
        except OSError as exc:
            raise os_error(self.path, exc) from None


def check_finite(epoch_losses: dict, phase: str, epoch: int, last_good: Path):
    if not all(math.isfinite(v) for k, v in epoch_losses.items() if k != "images_per_s"):
        raise EdgegradeError(f"loss became NaN/inf in phase {phase} epoch {epoch}; training stopped, "
                             f"last good checkpoint kept at {last_good} (try a lower --lr or --amp off)")
