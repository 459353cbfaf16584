"""Temporal smoothing of the live grade over recent frames of the same, static embryo.

A scene change (the mean absolute difference of a 32x32 thumbnail against the scene's
reference jumps past a threshold: a new dish, the stage moved) clears the history, so the
grade of one embryo never leaks into the next."""

from collections import deque

import cv2
import numpy as np


class SceneSmoother:
    def __init__(self, window: int = 15, scene_threshold: float = 12.0):
        self.window, self.threshold = window, scene_threshold
        self.ratios: deque = deque(maxlen=window)
        self.mask_ratios: deque = deque(maxlen=window)
        self.reference: np.ndarray | None = None

    @staticmethod
    def thumbnail(frame: np.ndarray) -> np.ndarray:
        step = max(1, min(frame.shape[:2]) // 128)  # subsample first: a 1080p INTER_AREA costs ms
        small = cv2.resize(frame[::step, ::step], (32, 32), interpolation=cv2.INTER_AREA)
        if small.ndim == 3:
            small = small.mean(axis=2)
        return small.astype(np.float32) / (257.0 if frame.dtype == np.uint16 else 1.0)

    def scene_changed(self, frame: np.ndarray) -> bool:
        thumb = self.thumbnail(frame)
        changed = self.reference is not None and float(np.abs(thumb - self.reference).mean()) > self.threshold
        if changed or self.reference is None:
            self.reference = thumb
            self.ratios.clear()
            self.mask_ratios.clear()
        else:  # follow slow drift and focus breathing
            self.reference = 0.9 * self.reference + 0.1 * thumb
        return changed

    def update(self, ratio: float | None, mask_ratio: float | None) -> tuple[float | None, float | None]:
        if ratio is not None:
            self.ratios.append(ratio)
        if mask_ratio is not None:
            self.mask_ratios.append(mask_ratio)
        med = lambda d: float(np.median(d)) if d else None  # noqa: E731
        return med(self.ratios), med(self.mask_ratios)
