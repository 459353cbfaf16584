"""Segmentation and grading metrics, shared by training, export gates and benchmarks.

Empty-mask convention: when prediction and truth are both empty, per-image Dice and IoU are
1.0 (nothing to find, nothing found). Pooled Dice/IoU sum intersections and areas over all
images first, so they are defined unless every image is empty on both sides (then 1.0).
"""

import numpy as np

from edgegrade.grading import GRADES, grade_index


def dice(pred: np.ndarray, true: np.ndarray) -> float:
    pred, true = pred.astype(bool), true.astype(bool)
    denom = pred.sum() + true.sum()
    return 1.0 if denom == 0 else float(2 * np.logical_and(pred, true).sum() / denom)


def iou(pred: np.ndarray, true: np.ndarray) -> float:
    pred, true = pred.astype(bool), true.astype(bool)
    union = np.logical_or(pred, true).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, true).sum() / union)


def mae(pred, true) -> float:
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    return float(np.abs(pred - true).mean()) if pred.size else float("nan")


def confusion_matrix(true_idx, pred_idx, n: int = len(GRADES)) -> np.ndarray:
    """Rows: true grade, columns: predicted grade."""
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (np.asarray(true_idx, int), np.asarray(pred_idx, int)), 1)
    return cm


def quadratic_kappa(cm: np.ndarray) -> float:
    """Quadratic-weighted Cohen's kappa from a confusion matrix (1 = perfect, 0 = chance)."""
    cm = np.asarray(cm, float)
    n = cm.shape[0]
    total = cm.sum()
    if total == 0:
        return float("nan")
    i, j = np.indices((n, n))
    weights = (i - j) ** 2 / (n - 1) ** 2
    expected = np.outer(cm.sum(1), cm.sum(0)) / total
    denom = (weights * expected).sum()
    return 1.0 if denom == 0 else float(1 - (weights * cm).sum() / denom)


def pixel_scores(inter: int, union: int, pixels: int) -> dict:
    """The oocyte paper's Table 2 figures over all pixels of a test set: pixel accuracy and the
    mean over the two classes (target, rest) of the pooled IoU."""
    wrong = union - inter
    rest_union = pixels - inter  # rest predicted or rest true
    iou_target = 1.0 if union == 0 else inter / union
    iou_rest = 1.0 if rest_union == 0 else (pixels - union) / rest_union
    return {"pixel_acc": 1 - wrong / pixels if pixels else float("nan"), "miou": (iou_target + iou_rest) / 2}


class SegRegMeter:
    """Accumulates per-image results and summarises them (Dice on the fragment channel)."""

    def __init__(self):
        self.dice, self.iou, self.embryo_dice = [], [], []
        self.inter = self.pred_area = self.true_area = self.union = self.pixels = 0
        self.ratio_pred, self.ratio_mask, self.ratio_true = [], [], []

    def add_masks(self, pred: np.ndarray, true: np.ndarray, pred_region=None, true_region=None) -> None:
        """Target (fragment) masks, and optionally the region's (embryo) for its own Dice."""
        if pred_region is not None:
            self.embryo_dice.append(dice(pred_region, true_region))
        pred, true = pred.astype(bool), true.astype(bool)
        self.dice.append(dice(pred, true))
        self.iou.append(iou(pred, true))
        self.inter += int(np.logical_and(pred, true).sum())
        self.union += int(np.logical_or(pred, true).sum())
        self.pred_area += int(pred.sum())
        self.true_area += int(true.sum())
        self.pixels += true.size

    def add_ratios(self, true: float, direct: float | None = None, from_mask: float | None = None):
        self.ratio_true.append(true)
        self.ratio_pred.append(np.nan if direct is None else direct)
        self.ratio_mask.append(np.nan if from_mask is None else from_mask)

    def summary(self) -> dict:
        out = {"n_masks": len(self.dice), "n_ratios": len(self.ratio_true)}
        if self.dice:
            denom = self.pred_area + self.true_area
            out.update(
                dice=float(np.mean(self.dice)), iou=float(np.mean(self.iou)),
                dice_pooled=1.0 if denom == 0 else 2 * self.inter / denom,
                iou_pooled=1.0 if self.union == 0 else self.inter / self.union,
                **pixel_scores(self.inter, self.union, self.pixels),
            )
        if self.embryo_dice:
            out["embryo_dice"] = float(np.mean(self.embryo_dice))
        true = np.asarray(self.ratio_true, float)
        for key, values in (("direct", self.ratio_pred), ("mask", self.ratio_mask)):
            pred = np.asarray(values, float)
            ok = ~np.isnan(pred)
            if not ok.any():
                continue
            cm = confusion_matrix(grade_index(true[ok]), grade_index(pred[ok]))
            out[f"mae_{key}"] = mae(pred[ok], true[ok])
            out[f"grade_acc_{key}"] = float(np.trace(cm) / cm.sum())
            out[f"kappa_{key}"] = quadratic_kappa(cm)
            out[f"confusion_{key}"] = cm.tolist()
        return out
