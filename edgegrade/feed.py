"""Synthetic microscope feeds for demos, tests and benchmarks (`--source synthetic...`).

`SyntheticFeed`: one embryo filling the frame (an EmbryoScope-like crop). `SceneFeed`: full
dish frames as a user moving the stage sees them: a well with an embryo at one magnification,
an empty well ('no embryo in view'), another embryo at another magnification, in turn, each
`block` frames long. `OocyteFeed`: MII oocytes one after another, as an embryologist checks
them before ICSI (the oocyte-inclusions task). Each view is rendered once; every frame is a
cheap warp (stage drift), blur (focus breathing) and noise of it.
"""

import cv2
import numpy as np

from edgegrade.scenes import render_scene
from edgegrade.synth import render_embryo


class _Feed:
    frames: int
    index: int = 0
    border = dict(borderMode=cv2.BORDER_CONSTANT, borderValue=20)  # the dark beyond the well

    def __iter__(self):
        return self

    def view(self, t: int) -> tuple[np.ndarray, tuple[int, int]]:
        raise NotImplementedError

    def __next__(self) -> np.ndarray:
        if self.index >= self.frames:
            raise StopIteration
        t = self.index
        self.index += 1
        image, offset = self.view(t)
        side = min(image.shape[:2])
        dx = 0.01 * side * np.sin(t / 37.0) + self.rng.normal(0, 0.3)
        dy = 0.01 * side * np.cos(t / 53.0) + self.rng.normal(0, 0.3)
        m = np.float32([[1, 0, dx + offset[0]], [0, 1, dy + offset[1]]])
        frame = cv2.warpAffine(image, m, (self.width, self.height), **self.border)
        sigma = 0.6 + 0.5 * np.sin(t / 23.0)  # focus breathing
        if sigma > 0.4:
            frame = cv2.GaussianBlur(frame, (0, 0), sigma)
        noise = self.rng.normal(0, 2.0, frame.shape).astype(np.int16)
        return np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)


class SyntheticFeed(_Feed):
    def __init__(self, width: int = 640, height: int = 640, seed: int = 0, frames: int = 300,
                 grade: str | None = None):
        side = min(width, height)
        self.width, self.height, self.frames = width, height, frames
        self.scene = render_embryo(np.random.default_rng(seed), side, grade)
        self.rng = np.random.default_rng(seed + 1)
        self.offset = ((width - side) // 2, (height - side) // 2)

    @property
    def true_ratio(self) -> float:
        return self.scene.ratio

    def view(self, t):
        return self.scene.image, self.offset


class SceneFeed(_Feed):
    border = dict(borderMode=cv2.BORDER_REFLECT)  # the frame is the whole view: drift shows more dish
    FRACTIONS = (0.3, None, 0.12, 0.6)  # zona width / frame width per block; None: an empty well

    def __init__(self, width: int = 1280, height: int = 960, seed: int = 0, frames: int = 300,
                 block: int = 75):
        self.width, self.height, self.frames, self.block = width, height, frames, block
        self.scenes = [render_scene(np.random.default_rng([seed, i]), width, height, fraction=f or 0.3,
                                    embryo=f is not None) for i, f in enumerate(self.FRACTIONS)]
        self.rng = np.random.default_rng(seed + 1)

    def scene_at(self, t: int):
        return self.scenes[(t // self.block) % len(self.scenes)]

    def view(self, t):
        return self.scene_at(t).image, (0, 0)


class OocyteFeed(_Feed):
    border = dict(borderMode=cv2.BORDER_REFLECT)  # stage drift shows more medium, not a black edge

    def __init__(self, width: int = 640, height: int = 640, seed: int = 0, frames: int = 300, block: int = 75):
        from edgegrade.oocytes import render_oocyte

        side = min(width, height)
        self.width, self.height, self.frames, self.block = width, height, frames, block
        self.oocytes = [render_oocyte(np.random.default_rng([seed, i]), side) for i in range(4)]
        self.rng = np.random.default_rng(seed + 1)
        self.offset = ((width - side) // 2, (height - side) // 2)

    def view(self, t):
        return self.oocytes[(t // self.block) % len(self.oocytes)].image, self.offset
