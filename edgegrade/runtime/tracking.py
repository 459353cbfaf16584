"""The embryo's box over a live feed: found once with the localiser's two passes, then followed
with the fine pass alone (the tracked box is its hint), smoothed so the crop does not jitter,
re-found from scratch when the fine pass loses it or when it jumps; every `recheck` frames the
coarse pass looks at the whole frame again and a full search follows only if it finds the
embryo elsewhere."""

import numpy as np

from edgegrade.localise import Localiser, Roi, default_localiser, iou


class RoiTracker:
    def __init__(self, localiser: Localiser | None = None, alpha: float = 0.35, patience: int = 3,
                 recheck: int = 30):
        self.localiser = localiser or default_localiser()
        self.alpha, self.patience, self.recheck = alpha, patience, recheck
        self.reset()

    def reset(self):
        self.roi: Roi | None = None
        self.misses = 0
        self.since_full = 0
        self.last_confidence = 0.0

    def update(self, frame: np.ndarray) -> Roi | None:
        """The smoothed box for this frame, or None: no embryo in view (after `patience`
        frames without one; a brief dropout, a pipette passing, keeps the last box)."""
        recheck = self.roi is not None and self.since_full >= self.recheck
        hint = self.roi  # a recheck looks at the whole frame too (Localiser's `recheck`)
        found = self.localiser(frame, hint, recheck=recheck)
        self.since_full = 0 if hint is None or recheck else self.since_full + 1
        if found is None and hint is not None:  # lost with the hint: search the whole frame
            found = self.localiser(frame)
            self.since_full = 0
        if found is None:
            self.misses += 1
            self.last_confidence = 0.0
            if self.misses >= self.patience:
                self.roi = None
            return self.roi
        self.misses = 0
        self.last_confidence = found.confidence
        if self.roi is None or iou(found, self.roi) < 0.3:
            self.roi = found  # first sight, or the embryo (or the stage) moved: jump
        else:
            a = self.alpha
            old = np.array([self.roi.x, self.roi.y, self.roi.x + self.roi.w, self.roi.y + self.roi.h], float)
            new = np.array([found.x, found.y, found.x + found.w, found.y + found.h], float)
            x0, y0, x1, y1 = np.round(old + a * (new - old)).astype(int)
            self.roi = Roi(int(x0), int(y0), int(max(1, x1 - x0)), int(max(1, y1 - y0)), found.confidence)
        return self.roi
