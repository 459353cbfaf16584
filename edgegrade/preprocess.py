"""Aspect-ratio preserving resize + centre padding (paper IV-A), normalisation, HWC->CHW.

One implementation for training, calibration, evaluation and the runtime. `letterbox` also
returns a `Letterbox` that maps model-space masks back onto the original frame.
"""

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from edgegrade.errors import EdgegradeError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class PreprocessSpec:
    """What the model expects; stored in every checkpoint and bundle manifest."""

    size: int = 256
    channel_order: str = "RGB"
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    pad_value: int = 0  # grey level of the padding, before normalisation

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PreprocessSpec":
        return cls(
            size=int(d["size"]), channel_order=d.get("channel_order", "RGB"),
            mean=tuple(d["mean"]), std=tuple(d["std"]), pad_value=int(d.get("pad_value", 0)),
        )


@dataclass(frozen=True)
class Letterbox:
    """Where a (src_h x src_w) frame sits inside the size x size model input."""

    src_h: int
    src_w: int
    size: int
    scale: float
    pad_x: int
    pad_y: int
    new_w: int
    new_h: int

    def to_frame(self, plane: np.ndarray, interpolation=cv2.INTER_LINEAR) -> np.ndarray:
        """Crop the padding off a model-space map and resize it to the original frame."""
        inner = plane[self.pad_y:self.pad_y + self.new_h, self.pad_x:self.pad_x + self.new_w]
        return cv2.resize(inner, (self.src_w, self.src_h), interpolation=interpolation)

    def points_to_frame(self, pts: np.ndarray) -> np.ndarray:
        """Model-space (x, y) points -> frame coordinates."""
        pts = np.asarray(pts, dtype=np.float32)
        return (pts - (self.pad_x, self.pad_y)) / self.scale


def fit(src_h: int, src_w: int, size: int) -> Letterbox:
    scale = size / max(src_h, src_w)
    new_w, new_h = max(1, round(src_w * scale)), max(1, round(src_h * scale))
    return Letterbox(src_h, src_w, size, scale, (size - new_w) // 2, (size - new_h) // 2, new_w, new_h)


def to_uint8_rgb(frame: np.ndarray, channel_order: str = "RGB") -> np.ndarray:
    """Grey, BGR, BGRA, 8- or 16-bit frames -> HxWx3 uint8 in the model's channel order."""
    if frame is None or frame.size == 0:
        raise EdgegradeError("empty frame")
    if frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
    elif frame.dtype in (np.float32, np.float64):
        frame = np.clip(frame * 255.0, 0, 255).astype(np.uint8)
    elif frame.dtype != np.uint8:
        raise EdgegradeError(f"unsupported frame dtype {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)  # same for BGR order
    if frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.shape[2] != 3:
        raise EdgegradeError(f"unsupported frame shape {frame.shape}")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if channel_order == "RGB" else frame


def letterbox(image: np.ndarray, size: int, pad_value: int = 0,
              interpolation=cv2.INTER_AREA) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and pad to size x size, centred. Works for label maps
    too (pass cv2.INTER_NEAREST and pad_value=0)."""
    box = fit(image.shape[0], image.shape[1], size)
    resized = image
    if (box.new_h, box.new_w) != image.shape[:2]:
        if interpolation == cv2.INTER_AREA and box.scale > 1:
            interpolation = cv2.INTER_LINEAR  # INTER_AREA is for shrinking
        resized = cv2.resize(image, (box.new_w, box.new_h), interpolation=interpolation)
    right = size - box.new_w - box.pad_x
    bottom = size - box.new_h - box.pad_y
    fill = pad_value * (257 if image.dtype == np.uint16 else 1)
    out = cv2.copyMakeBorder(resized, box.pad_y, bottom, box.pad_x, right,
                             cv2.BORDER_CONSTANT, value=(fill,) * 4)
    return out, box


class Normaliser:
    """uint8 HxWx3 -> float32 3xHxW, (x/255 - mean)/std, with a precomputed lookup table."""

    def __init__(self, spec: PreprocessSpec):
        levels = np.arange(256, dtype=np.float32) / 255.0
        mean = np.asarray(spec.mean, np.float32)
        std = np.asarray(spec.std, np.float32)
        self.lut = ((levels[:, None] - mean) / std).astype(np.float32)  # 256 x 3

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        return np.stack([self.lut[rgb[:, :, c], c] for c in range(3)])


def preprocess(frame: np.ndarray, spec: PreprocessSpec,
               normaliser: Normaliser | None = None) -> tuple[np.ndarray, Letterbox]:
    """A camera frame or image file -> (3 x size x size float32 model input, Letterbox)."""
    # Letterbox first: shrinking before colour conversion keeps a 1080p frame cheap.
    if frame is None or frame.size == 0:
        raise EdgegradeError("empty frame")
    boxed, box = letterbox(frame, spec.size, spec.pad_value)
    rgb = to_uint8_rgb(boxed, spec.channel_order)
    return (normaliser or Normaliser(spec))(rgb), box
