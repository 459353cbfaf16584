"""Embryo crop, aspect-ratio preserving resize + centre padding (paper IV-A), normalisation,
HWC->CHW.

One implementation for training, calibration, evaluation and the runtime. With
`crop="embryo"` (what `edgegrade train` writes into every checkpoint and bundle) the frame is
first cut to a square centred on the embryo's box (edgegrade.localise), `margin` times its
longer side, so a model trained on crops is always fed crops. `letterbox` also returns a
`Letterbox` that maps model-space masks and points back onto the original frame.
"""

from dataclasses import asdict, dataclass, replace

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
    crop: str = "full"  # "embryo": a square around the localised embryo; "full": the whole frame
    margin: float = 1.5  # crop side / the embryo box's longer side

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PreprocessSpec":
        return cls(
            size=int(d["size"]), channel_order=d.get("channel_order", "RGB"),
            mean=tuple(d["mean"]), std=tuple(d["std"]), pad_value=int(d.get("pad_value", 0)),
            crop=d.get("crop", "full"), margin=float(d.get("margin", 1.5)),  # files older than the crop
        )


@dataclass(frozen=True)
class Letterbox:
    """Where a (src_h x src_w) view sits inside the size x size model input; the view is the
    whole frame, or a crop of it whose top-left corner is (x0, y0) in a frame_h x frame_w frame."""

    src_h: int
    src_w: int
    size: int
    scale: float
    pad_x: int
    pad_y: int
    new_w: int
    new_h: int
    x0: int = 0
    y0: int = 0
    frame_h: int = 0  # 0: the view is the frame
    frame_w: int = 0

    def to_frame(self, plane: np.ndarray, interpolation=cv2.INTER_LINEAR) -> np.ndarray:
        """Crop the padding off a model-space map and resize it onto the original frame
        (zero outside a crop)."""
        inner = plane[self.pad_y:self.pad_y + self.new_h, self.pad_x:self.pad_x + self.new_w]
        view = cv2.resize(inner, (self.src_w, self.src_h), interpolation=interpolation)
        if not self.frame_h:
            return view
        out = np.zeros((self.frame_h, self.frame_w) + view.shape[2:], view.dtype)
        fx0, fy0 = max(0, self.x0), max(0, self.y0)  # a crop may reach past the frame's edges
        fx1, fy1 = min(self.frame_w, self.x0 + self.src_w), min(self.frame_h, self.y0 + self.src_h)
        if fx1 > fx0 and fy1 > fy0:
            out[fy0:fy1, fx0:fx1] = view[fy0 - self.y0:fy1 - self.y0, fx0 - self.x0:fx1 - self.x0]
        return out

    def points_to_frame(self, pts: np.ndarray) -> np.ndarray:
        """Model-space (x, y) points -> frame coordinates."""
        pts = np.asarray(pts, dtype=np.float32)
        return (pts - (self.pad_x, self.pad_y)) / self.scale + (self.x0, self.y0)


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


def find_roi(frame: np.ndarray, spec: PreprocessSpec):
    """The embryo's box when the spec crops (None: the whole frame is the view)."""
    if spec.crop == "full":
        return None
    if spec.crop != "embryo":
        raise EdgegradeError(f"unknown crop mode {spec.crop!r} (expected 'embryo' or 'full')")
    from edgegrade.localise import default_localiser

    return default_localiser()(frame)


def crop_view(image: np.ndarray, roi, spec: PreprocessSpec, pad_value: int | None = None):
    """-> (the square crop around roi, (x0, y0)), or (image, None) when roi is None."""
    if roi is None:
        return image, None
    from edgegrade.localise import square_crop

    x0, y0, side = roi.square(spec.margin)
    return square_crop(image, x0, y0, side, spec.pad_value if pad_value is None else pad_value), (x0, y0)


def preprocess(frame: np.ndarray, spec: PreprocessSpec, normaliser: Normaliser | None = None,
               roi=None) -> tuple[np.ndarray, Letterbox]:
    """A camera frame or image file -> (3 x size x size float32 model input, Letterbox).
    `roi` (a localise.Roi) overrides the spec's own search; with crop="embryo" and no embryo
    found, the whole frame is the view."""
    # Letterbox first: shrinking before colour conversion keeps a 1080p frame cheap.
    if frame is None or frame.size == 0:
        raise EdgegradeError("empty frame")
    view, origin = crop_view(frame, roi if roi is not None else find_roi(frame, spec), spec)
    boxed, box = letterbox(view, spec.size, spec.pad_value)
    if origin is not None:
        box = replace(box, x0=origin[0], y0=origin[1], frame_h=frame.shape[0], frame_w=frame.shape[1])
    rgb = to_uint8_rgb(boxed, spec.channel_order)
    return (normaliser or Normaliser(spec))(rgb), box
