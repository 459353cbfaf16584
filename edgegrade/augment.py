"""Training augmentation: what real frames vary in and clean synthetic ones do not.

Geometry: the embryo crop's side and centre jitter (as the localiser's box does from frame to
frame), quarter turns and a mirror (an embryo has no up). Pixels: brightness, contrast and
gamma (exposure and lamp), defocus blur and sensor noise. Labels move with the pixels; the
ratio, read off the full-resolution label map, does not change. Every draw comes from the
generator handed in, which training seeds with (seed, epoch, index): the same run sees the same
samples whatever the number of loader workers.
"""

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Augment:
    """Strengths of each random change (0 turns one off)."""

    scale: float = 0.1  # crop side x U(1 - scale, 1 + scale)
    shift: float = 0.05  # crop centre moved by U(-shift, shift) x side on each axis
    brightness: float = 0.08  # + U(-b, b) x 255
    contrast: float = 0.2  # about the mean grey, x U(1 - c, 1 + c)
    gamma: float = 0.25  # exponent exp(U(-g, g))
    blur: float = 1.0  # Gaussian sigma U(0, blur) model pixels, on half the samples
    noise: float = 4.0  # Gaussian sigma U(0, noise) grey levels
    turns: bool = True  # quarter turns and a mirror

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def photometric(self) -> bool:
        return any((self.brightness, self.contrast, self.gamma, self.blur, self.noise))

    def square(self, roi, margin: float, rng: np.random.Generator):
        """The jittered crop (x0, y0, side) around roi."""
        scale = 1 + rng.uniform(-self.scale, self.scale)
        shift = rng.uniform(-self.shift, self.shift, 2)
        return roi.square(margin * scale, (float(shift[0]), float(shift[1])))

    def pixels(self, rgb: np.ndarray, valid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """uint8 HxWx3 -> the same with exposure, blur and noise changed where `valid` (the
        padding, which the runtime also fills with one grey, stays as it is)."""
        if not self.photometric:
            return rgb
        import cv2  # here: the CLI reads AUGMENTS for --augment's choices and must start fast
        mean = float(rgb[valid].mean()) / 255 if valid.any() else 0.5
        x = (np.arange(256, dtype=np.float32) / 255) ** np.exp(rng.uniform(-self.gamma, self.gamma))
        x = (x - mean) * (1 + rng.uniform(-self.contrast, self.contrast)) + mean + rng.uniform(-self.brightness, self.brightness)
        out = cv2.LUT(rgb, np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8))
        sigma = rng.uniform(0, self.blur)
        if rng.random() < 0.5 and sigma > 0.3:
            out = cv2.GaussianBlur(out, (0, 0), sigma)
        noise = rng.standard_normal(out.shape[:2], dtype=np.float32) * rng.uniform(0, self.noise)
        out = np.clip(out + noise[:, :, None], 0, 255).astype(np.uint8)
        out[~valid] = rgb[~valid]
        return out

    def turn(self, rng: np.random.Generator, *planes):
        """The same quarter turn and mirror applied to every plane (image, label)."""
        if not self.turns:
            return planes
        k, mirror = int(rng.integers(4)), bool(rng.integers(2))
        out = []
        for p in planes:
            if p is None:
                out.append(None)
                continue
            p = np.rot90(p, k)
            out.append(np.ascontiguousarray(p[:, ::-1] if mirror else p))
        return out


NONE = Augment(0, 0, 0, 0, 0, 0, 0, turns=False)
GEOMETRIC = Augment(brightness=0, contrast=0, gamma=0, blur=0, noise=0)
AUGMENTS = {"full": Augment(), "geometric": GEOMETRIC, "off": NONE}
