"""Embryo crop, aspect-ratio preserving resize + centre padding (paper IV-A), normalisation,
HWC->CHW.

One implementation for training, calibration, evaluation and the runtime. With
`crop="embryo"` (what `edgegrade train` writes into every checkpoint and bundle) the frame is
first cut to a square centred on the embryo's box, `margin` times its longer side, so a model
trained on crops is always fed crops. Finding the box is the caller's explicit step
(edgegrade.localise: `locate` for one image, `boxes.locate_samples` once per dataset,
`runtime.tracking` over a feed); it is handed in here as `roi` and never searched for inside.
`letterbox` also returns a `Letterbox` that maps model-space masks and points back onto the
original frame.
"""

from dataclasses import asdict, dataclass, replace

import cv2
import numpy as np

from edgegrade.errors import EdgegradeError
from edgegrade.grading import CELL, FRAGMENT

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
        common = overlap(self.x0, self.y0, self.src_w, self.frame_h, self.frame_w, self.src_h)
        if common:
            out[common[0]] = view[common[1]]
        return out

    def points_to_frame(self, pts: np.ndarray) -> np.ndarray:
        """Model-space (x, y) points -> frame coordinates."""
        pts = np.asarray(pts, dtype=np.float32)
        return (pts - (self.pad_x, self.pad_y)) / self.scale + (self.x0, self.y0)


def overlap(x0: int, y0: int, side: int, h: int, w: int, side_h: int | None = None):
    """Where the side x side square (side x side_h rectangle) at (x0, y0) meets an h x w
    image: (slices in the image, slices in the square), or None when they do not meet."""
    side_h = side if side_h is None else side_h
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x0 + side), min(h, y0 + side_h)
    if sx1 <= sx0 or sy1 <= sy0:
        return None
    return (slice(sy0, sy1), slice(sx0, sx1)), (slice(sy0 - y0, sy1 - y0), slice(sx0 - x0, sx1 - x0))


def square_crop(image: np.ndarray, x0: int, y0: int, side: int, pad_value: int = 0) -> np.ndarray:
    """The side x side square at (x0, y0), padded with pad_value where it leaves the image."""
    h, w = image.shape[:2]
    if x0 >= 0 and y0 >= 0 and x0 + side <= w and y0 + side <= h:
        return image[y0:y0 + side, x0:x0 + side]
    out = np.full((side, side) + image.shape[2:], pad_value, image.dtype)
    common = overlap(x0, y0, side, h, w)
    if common:
        out[common[1]] = image[common[0]]
    return out


def fit(src_h: int, src_w: int, size: int) -> Letterbox:
    scale = size / max(src_h, src_w)
    new_w, new_h = max(1, round(src_w * scale)), max(1, round(src_h * scale))
    return Letterbox(src_h, src_w, size, scale, (size - new_w) // 2, (size - new_h) // 2, new_w, new_h)


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """8-bit, 16-bit or float (0-1) frames -> uint8, channels untouched."""
    if frame is None or frame.size == 0:
        raise EdgegradeError("empty frame")
    if frame.dtype == np.uint16:
        return (frame >> 8).astype(np.uint8)
    if frame.dtype in (np.float32, np.float64):
        return np.clip(frame * 255.0, 0, 255).astype(np.uint8)
    if frame.dtype != np.uint8:
        raise EdgegradeError(f"unsupported frame dtype {frame.dtype}")
    return frame


def to_grey(frame: np.ndarray) -> np.ndarray:
    """Grey, BGR, BGRA, 8- or 16-bit or float frames -> HxW uint8 grey."""
    frame = to_uint8(frame)
    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY) \
            if frame.shape[2] > 1 else frame[:, :, 0]
    return frame


def to_uint8_rgb(frame: np.ndarray, channel_order: str = "RGB") -> np.ndarray:
    """Grey, BGR, BGRA, 8- or 16-bit frames -> HxWx3 uint8 in the model's channel order."""
    frame = to_uint8(frame)
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)  # same for BGR order
    if frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.shape[2] != 3:
        raise EdgegradeError(f"unsupported frame shape {frame.shape}")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if channel_order == "RGB" else frame


def shrink(view: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """-> (view averaged over k x k blocks, k), k the largest whole factor that keeps the
    longer side >= size. Block averaging by a whole factor is OpenCV's fast INTER_AREA path
    (a 1/6 shrink of an 840 px crop: 0.15 ms against 0.65 ms for one INTER_AREA resize by a
    fractional factor). The rows and columns past the last whole block (< k) are dropped,
    so a shrunk pixel i is exactly view pixels [i*k, (i+1)*k)."""
    k = max(view.shape[:2]) // size
    if k < 2:
        return view, 1
    h, w = view.shape[0] // k, view.shape[1] // k
    return cv2.resize(view[:h * k, :w * k], (w, h), interpolation=cv2.INTER_AREA), k


def letterbox(image: np.ndarray, size: int, pad_value: int = 0,
              interpolation=cv2.INTER_AREA) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and pad to size x size, centred. Works for label maps
    too (pass cv2.INTER_NEAREST and pad_value=0). Shrinking by area goes in two steps: whole
    blocks first (`shrink`), then the small remainder; the view is then the image less its
    last rows and columns past the last whole block (< 1/size of it), which the Letterbox
    records (`frame_h`, `frame_w`), so masks and points still map back exactly."""
    h, w = image.shape[:2]
    k = max(h, w) // size if interpolation == cv2.INTER_AREA else 1
    if k >= 2:
        image, _ = shrink(image, size)
    box = fit(image.shape[0] * max(k, 1), image.shape[1] * max(k, 1), size)
    if k >= 2 and (box.src_h, box.src_w) != (h, w):
        box = replace(box, frame_h=h, frame_w=w)
    resized = image
    if (box.new_h, box.new_w) != image.shape[:2]:
        if interpolation == cv2.INTER_AREA and box.new_w > image.shape[1]:
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


def crop_view(image: np.ndarray, square, spec: PreprocessSpec, pad_value: int | None = None):
    """-> (the square crop (x0, y0, side) of the image, (x0, y0)), or (image, None) when
    square is None (the whole frame is the view)."""
    if square is None:
        return image, None
    x0, y0, side = square
    return square_crop(image, x0, y0, side, spec.pad_value if pad_value is None else pad_value), (x0, y0)


def letterbox_label(label: np.ndarray, size: int) -> np.ndarray:
    """A label map letterboxed like its image. Shrinking is by area: a model pixel is
    fragment (embryo) where at least half of the frame pixels under it are, which keeps
    2-3 px fragments where nearest-neighbour sampling would keep or drop them at random."""
    k = max(label.shape[:2]) // size
    if k >= 2:  # the view letterbox uses: whole blocks only
        label = label[:label.shape[0] // k * k, :label.shape[1] // k * k]
    box = fit(label.shape[0], label.shape[1], size)
    if box.scale >= 1 or (box.new_h, box.new_w) == label.shape[:2]:
        return letterbox(label, size, 0, cv2.INTER_NEAREST)[0]
    dsize = (box.new_w, box.new_h)
    # 0/255 planes shrunk by area: >= 128 is "at least half" (uint8 is the fast path)
    fragment = cv2.resize((label == FRAGMENT).view(np.uint8) * np.uint8(255), dsize, interpolation=cv2.INTER_AREA)
    embryo = cv2.resize((label > 0).view(np.uint8) * np.uint8(255), dsize, interpolation=cv2.INTER_AREA)
    small = np.where(fragment >= 128, FRAGMENT, np.where(embryo >= 128, CELL, 0)).astype(np.uint8)
    return cv2.copyMakeBorder(small, box.pad_y, size - box.new_h - box.pad_y, box.pad_x, size - box.new_w - box.pad_x,
                              cv2.BORDER_CONSTANT, value=0)


def model_view(image: np.ndarray, spec: PreprocessSpec, roi=None, label: np.ndarray | None = None,
               square=None) -> tuple[np.ndarray, np.ndarray | None, Letterbox]:
    """The model-size picture of a frame (channels and dtype as given) and of its label map:
    cut to the square around roi when the spec crops (`square` overrides it), letterboxed.
    -> (image, label or None, Letterbox back to the frame)."""
    if square is None and roi is not None and spec.crop == "embryo":
        square = roi.square(spec.margin)
    view, origin = crop_view(image, square, spec)
    boxed, box = letterbox(view, spec.size, spec.pad_value)
    if origin is not None:
        box = replace(box, x0=origin[0], y0=origin[1], frame_h=image.shape[0], frame_w=image.shape[1])
    if label is None:
        return boxed, None, box
    return boxed, letterbox_label(crop_view(label, square, spec, pad_value=0)[0], spec.size), box


def preprocess(frame: np.ndarray, spec: PreprocessSpec, normaliser: Normaliser | None = None,
               roi=None) -> tuple[np.ndarray, Letterbox]:
    """A camera frame or image file -> (3 x size x size float32 model input, Letterbox).
    `roi` (a localise.Roi, found by the caller) is the embryo's box when the spec crops; None
    (no embryo found, or a whole-frame spec) makes the whole frame the view."""
    if frame is None or frame.size == 0:
        raise EdgegradeError("empty frame")
    check_crop(spec)
    # Letterbox first: shrinking before colour conversion keeps a 1080p frame cheap.
    boxed, _, box = model_view(frame, spec, roi)
    rgb = to_uint8_rgb(boxed, spec.channel_order)
    return (normaliser or Normaliser(spec))(rgb), box


def check_crop(spec: PreprocessSpec) -> None:
    if spec.crop not in ("embryo", "full"):
        raise EdgegradeError(f"unknown crop mode {spec.crop!r} (expected 'embryo' or 'full')")
