"""Synthetic microscope feeds for demos, tests and benchmarks (`--source synthetic...`).

`SyntheticFeed`: one embryo filling the frame (an EmbryoScope-like crop). `WellsFeed`: embryos
of known grades one after another (two of each grade by default). `SceneFeed`: full
dish frames as a user moving the stage sees them: a well with an embryo at one magnification,
an empty well ('no embryo in view'), another embryo at another magnification, in turn, each
`block` frames long. `OocyteFeed`: MII oocytes one after another, as an embryologist checks
them before ICSI (the oocyte-inclusions task). Each view is rendered once; every frame is a
cheap warp (stage drift), blur (focus breathing) and noise of it.
"""

import cv2
import numpy as np

from edgegrade.grading import grade_of, interval
from edgegrade.scenes import render_scene
from edgegrade.synth import render_embryo


class _Feed:
    frames: int
    index: int = 0
    size = (640, 640)  # default frame width, height
    default_frames = 300
    border = dict(borderMode=cv2.BORDER_CONSTANT, borderValue=20)  # the dark beyond the well

    def __iter__(self):
        return self

    def view(self, t: int) -> tuple[np.ndarray, tuple[int, int]]:
        raise NotImplementedError

    def truth(self, t: int) -> dict | None:
        """What frame t shows, for feeds that know it (see WellsFeed)."""
        return None

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


class WellsFeed(_Feed):
    """Embryos one after another, each for a block of frames, as a user moving between wells
    sees them: by default two of each grade (A B C D A B C D). Each embryo is drawn for its
    grade and redrawn until its true ratio lies at least `margin` inside the grade's interval:
    the feed shows grades, not boundary cases (where both neighbours are defensible). It knows
    the truth of every frame (`truth`), which `watch` compares with what it graded."""

    border = dict(borderMode=cv2.BORDER_REFLECT)
    default_frames = 0  # every embryo's block once

    def __init__(self, width: int = 640, height: int = 640, seed: int = 0, frames: int = 0, block: int = 40,
                 grades: str = "ABCDABCD", margin: float = 0.03):
        side = min(width, height)
        self.width, self.height, self.block = width, height, block
        self.frames = frames or block * len(grades)
        self.rng = np.random.default_rng(seed + 1)
        self.embryos = [self._draw(np.random.default_rng([seed, i]), side, g, margin) for i, g in enumerate(grades)]
        self.offset = ((width - side) // 2, (height - side) // 2)

    @staticmethod
    def _draw(rng, side, grade, margin):
        low, high = interval(grade)
        for _ in range(100):
            r = render_embryo(rng, side, grade)
            if low + margin <= r.ratio < high - margin and grade_of(r.ratio) == grade:
                return r
        raise ValueError(f"no grade {grade} embryo {margin} inside its interval in 100 draws")

    def truth(self, t: int) -> dict:
        i = (t // self.block) % len(self.embryos)
        r = self.embryos[i]
        return {"embryo": i, "grade": grade_of(r.ratio), "ratio": round(r.ratio, 4)}

    def view(self, t):
        return self.embryos[(t // self.block) % len(self.embryos)].image, self.offset


class SceneFeed(_Feed):
    border = dict(borderMode=cv2.BORDER_REFLECT)  # the frame is the whole view: drift shows more dish
    size = (1280, 960)
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


FEEDS = {"": SyntheticFeed, "wells": WellsFeed, "dish": SceneFeed, "oocyte": OocyteFeed}  # --source synthetic[-KIND]
