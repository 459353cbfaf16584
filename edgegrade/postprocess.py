"""Model outputs -> masks and the mask-derived ratio; one definition for evaluation, export
gates and the runtime. Channel 0 is fragment, channel 1 is embryo (cell or fragment)."""

import numpy as np

THRESHOLD = 0.5


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
