"""A synthetic microscope feed: one embryo, slight stage drift, focus breathing and noise.

The runtime uses it as a camera (`--source synthetic`) for demos, tests and benchmarks. The
scene is rendered once; each frame is a cheap warp + blur + noise of it.
"""

import cv2
import numpy as np

from edgegrade.synth import render_embryo


class SyntheticFeed:
    def __init__(self, width: int = 640, height: int = 640, seed: int = 0, frames: int = 300,
                 grade: str | None = None):
        side = min(width, height)
        self.width, self.height, self.frames = width, height, frames
        self.scene = render_embryo(np.random.default_rng(seed), side, grade)
        self.rng = np.random.default_rng(seed + 1)
        self.offset = ((width - side) // 2, (height - side) // 2)
        self.index = 0

    @property
    def true_ratio(self) -> float:
        return self.scene.ratio

    def __iter__(self):
        return self

    def __next__(self) -> np.ndarray:
        if self.index >= self.frames:
            raise StopIteration
        t = self.index
        self.index += 1
        side = self.scene.image.shape[0]
        dx = 0.01 * side * np.sin(t / 37.0) + self.rng.normal(0, 0.3)
        dy = 0.01 * side * np.cos(t / 53.0) + self.rng.normal(0, 0.3)
        m = np.float32([[1, 0, dx + self.offset[0]], [0, 1, dy + self.offset[1]]])
        frame = cv2.warpAffine(self.scene.image, m, (self.width, self.height),
                               borderMode=cv2.BORDER_CONSTANT, borderValue=20)
        sigma = 0.6 + 0.5 * np.sin(t / 23.0)  # focus breathing
        if sigma > 0.4:
            frame = cv2.GaussianBlur(frame, (0, 0), sigma)
        noise = self.rng.normal(0, 2.0, frame.shape).astype(np.int16)
        return np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)
