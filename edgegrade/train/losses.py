"""Hybrid loss of paper III-B: L_total = a*L_seg + b*L_reg + c*L_cons.

Each term is a per-sample vector averaged over the samples it applies to (masked), so one
batch can mix paired samples (image + mask) and grade-only samples (image + grade interval).
"""

import torch
import torch.nn.functional as F

from edgegrade.recipes import LossWeights
from edgegrade.train.blocks import EMBRYO_CH, FRAGMENT_CH

EPS = 1e-6


def masked_mean(per_sample: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(per_sample.dtype)
    return (per_sample * mask).sum() / mask.sum().clamp_min(1.0)


def dice_loss(logits, target):
    """1 - soft Dice per sample, over one channel (B x H x W)."""
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    return 1 - (2 * (p * t).sum(1) + EPS) / (p.sum(1) + t.sum(1) + EPS)


def focal_loss(logits, target, gamma=2.0):
    """Mean of -(1 - p_t)^gamma log(p_t) per sample."""
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = torch.exp(-bce)
    return ((1 - p_t) ** gamma * bce).flatten(1).mean(1)


def seg_loss(logits, targets):
    """BCE + Dice + Focal, summed over the fragment and embryo channels, per sample."""
    total = 0
    for ch in (FRAGMENT_CH, EMBRYO_CH):
        lg, t = logits[:, ch].float(), targets[:, ch].float()
        bce = F.binary_cross_entropy_with_logits(lg, t, reduction="none").flatten(1).mean(1)
        total = total + bce + dice_loss(lg, t) + focal_loss(lg, t)
    return total


def precise_loss(pred, ratio):
    """L_precise: L1 to the exact ratio (paired samples)."""
    return (pred - ratio).abs()


def range_loss(pred, low, high):
    """L_range: zero inside the grade's [low, high] interval, linear outside (grade-only)."""
    return F.relu(low - pred) + F.relu(pred - high)


def soft_mask_ratio(logits):
    """Fragmentation ratio read off the soft mask: sum p_fragment / sum p_embryo."""
    p = torch.sigmoid(logits.float())
    return p[:, FRAGMENT_CH].flatten(1).sum(1) / p[:, EMBRYO_CH].flatten(1).sum(1).clamp_min(1.0)


def total_loss(out: dict, batch: dict, w: LossWeights) -> tuple[torch.Tensor, dict]:
    """batch: masks (B,2,H,W), has_mask, ratio, has_ratio, low, high (all per sample).
    The parts come back as detached tensors: no host sync per step."""
    parts = {}
    total = next(iter(out.values())).new_zeros((), dtype=torch.float32)
    if "mask_logits" in out and (w.seg or w.cons):
        if w.seg:
            parts["seg"] = masked_mean(seg_loss(out["mask_logits"], batch["masks"]), batch["has_mask"])
            total = total + w.seg * parts["seg"]
        if w.cons:
            cons = (soft_mask_ratio(out["mask_logits"]) - batch["ratio"]).abs()
            parts["cons"] = masked_mean(cons, batch["has_ratio"])
            total = total + w.cons * parts["cons"]
    if w.reg:
        pred = out["ratio"].float()
        precise = masked_mean(precise_loss(pred, batch["ratio"]), batch["has_ratio"])
        graded = batch["has_ratio"] == 0
        rng = masked_mean(range_loss(pred, batch["low"], batch["high"]), graded)
        parts["reg"] = precise + rng
        total = total + w.reg * parts["reg"]
    return total, {k: v.detach() for k, v in parts.items()}
