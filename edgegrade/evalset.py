"""Held-out images as model inputs with their truth, without torch (export gates, verify,
benchmarks). Training reads its samples through the same `load_pair`, augmented."""

from dataclasses import dataclass

import numpy as np

from edgegrade.datasets import Sample
from edgegrade.grading import FRAGMENT, fragment_ratio
from edgegrade.imageio import is_image, read_image, read_label_map
from edgegrade.preprocess import Normaliser, PreprocessSpec, model_view, preprocess, to_uint8_rgb


def model_pair(image: np.ndarray, label: np.ndarray | None, spec: PreprocessSpec, roi, augment=None, rng=None):
    """An image (and its label map) cut to roi as the spec says and letterboxed to the model
    size, then augmented when `augment` is given: (RGB uint8, label or None). The box is the
    one the localiser found on the image (as at run time), never read off the label."""
    square = augment.square(roi, spec.margin, rng) if augment is not None and roi is not None \
        and spec.crop == "embryo" else None
    boxed, small, _ = model_view(image, spec, roi, label, square)
    rgb = to_uint8_rgb(boxed, spec.channel_order)
    if augment is None:
        return rgb, small
    if augment.photometric:  # where the frame is (not padding), in model space
        valid = model_view(np.full(image.shape[:2], 255, np.uint8), spec, roi, square=square)[0] > 127
        rgb = augment.pixels(rgb, valid, rng)
    rgb, small = augment.turn(rng, rgb, small)
    return rgb, small


def to_model_space(image: np.ndarray, label: np.ndarray | None, spec: PreprocessSpec):
    """model_pair with the box searched for on the image (one image, no cache)."""
    from edgegrade.localise import locate

    return model_pair(image, label, spec, locate(image, spec))


def load_pair(sample: Sample, spec: PreprocessSpec, roi, augment=None, rng=None):
    """-> (letterboxed RGB uint8, letterboxed label map or None, ratio or None). The ratio of a
    paired sample is read off the full-resolution label map."""
    image = read_image(sample.image)
    full = read_label_map(sample.mask, image.shape) if sample.paired else None
    rgb, label = model_pair(image, full, spec, roi, augment, rng)
    return rgb, label, sample.ratio if full is None else fragment_ratio(full)


@dataclass
class EvalSet:
    inputs: np.ndarray  # N x 3 x S x S float32
    fragment: list  # per image: bool mask in model space, or None
    ratio: list  # per image: true ratio or None
    names: list

    def __len__(self):
        return len(self.names)


def load_evalset(samples: list[Sample], spec: PreprocessSpec, limit: int = 0, boxes=None) -> EvalSet:
    """`boxes`: the samples' embryo boxes (boxes.locate_samples) or a cache file to keep them
    in; searched here when not given."""
    from edgegrade.boxes import locate_samples

    norm = Normaliser(spec)
    samples = samples[:limit] if limit else samples
    rois = boxes if isinstance(boxes, list) else locate_samples(samples, spec, boxes, progress=False)
    inputs, frags, ratios = [], [], []
    for s, roi in zip(samples, rois):
        rgb, label, ratio = load_pair(s, spec, roi)
        inputs.append(norm(rgb))
        frags.append(None if label is None else label == FRAGMENT)
        ratios.append(ratio)
    return EvalSet(np.stack(inputs) if inputs else np.zeros((0, 3, spec.size, spec.size), np.float32),
                   frags, ratios, [s.name for s in samples])


def load_images(folder, spec: PreprocessSpec, limit: int) -> np.ndarray:
    """Calibration inputs: a dataset folder (its images/) or a plain folder of images."""
    from pathlib import Path

    from edgegrade.errors import DataError

    folder = Path(folder)
    root = folder / "images" if (folder / "images").is_dir() else folder
    if not root.is_dir():
        raise DataError(f"{folder}: calibration folder not found")
    paths = sorted(p for p in root.iterdir() if is_image(p))[:limit]
    if not paths:
        raise DataError(f"{folder}: no images to calibrate on")
    from edgegrade.localise import locate

    norm = Normaliser(spec)
    images = (read_image(p) for p in paths)
    return np.stack([preprocess(image, spec, norm, roi=locate(image, spec))[0] for image in images])
