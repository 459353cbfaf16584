"""Model outputs -> masks and the mask-derived ratio; one definition for evaluation, export
gates and the runtime. Channel 0 is fragment, channel 1 is embryo (cell or fragment)."""

import numpy as np

THRESHOLD = 0.5
MIN_REGION_SHARE = 0.005  # of the model input; below it no embryo (oocyte) is in view

# A dual bundle ships the mask from the assistant and the ratio from the grader; a single model
# ships both. Each module is judged on the ratio it ships: the assistant on its mask's.
MASK_ROLE, RATIO_ROLE = "assistant", "grader"


def combine(outputs: dict) -> dict:
    """{role: {output name: array}} -> {"masks": ..., "ratio": ...} as the product reports them."""
    only = next(iter(outputs.values()))
    masks, ratio = outputs.get(MASK_ROLE, only), outputs.get(RATIO_ROLE, only)
    return {k: v for k, v in (("masks", masks.get("masks")), ("ratio", ratio.get("ratio"))) if v is not None}


def judged_ratio(role: str, outputs) -> str:
    """"mask" or "direct": the ratio a module is gated and benchmarked on."""
    return "mask" if role == MASK_ROLE or "ratio" not in outputs else "direct"


def binarise(probs: np.ndarray, threshold: float = THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """(2, H, W) probabilities -> (fragment, embryo) boolean masks; fragments count as embryo."""
    fragment = probs[0] > threshold
    return fragment, np.logical_or(probs[1] > threshold, fragment)


def mask_ratio(fragment: np.ndarray, embryo: np.ndarray) -> float:
    """Fragment pixels / embryo pixels (0 when no embryo is found)."""
    n = np.count_nonzero(embryo)
    return np.count_nonzero(fragment) / n if n else 0.0


def count_instances(mask: np.ndarray, min_area: int = 2) -> tuple[int, int]:
    """(connected components of at least min_area pixels, their total area): inclusions or
    fragments counted on a binary mask (8-connectivity)."""
    import cv2

    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:n, cv2.CC_STAT_AREA]
    keep = areas >= min_area
    return int(keep.sum()), int(areas[keep].sum())
