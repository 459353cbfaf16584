"""Held-out images as model inputs with their truth, without torch (export gates, verify,
benchmarks). Training uses the same `load_pair` before augmenting."""

from dataclasses import dataclass

import cv2
import numpy as np

from edgegrade.datasets import Sample
from edgegrade.grading import FRAGMENT, fragment_ratio
from edgegrade.imageio import is_image, read_image, read_label_map
from edgegrade.preprocess import Normaliser, PreprocessSpec, crop_view, find_roi, letterbox, preprocess, to_uint8_rgb


def to_model_space(image: np.ndarray, label: np.ndarray | None, spec: PreprocessSpec):
    """An image (and its label map) cut to the embryo as the spec says (the box is found on
    the image, as at run time, never read off the label) and letterboxed to the model size:
    (RGB uint8, label or None)."""
    roi = find_roi(image, spec)
    view, _ = crop_view(image, roi, spec)
    boxed, _ = letterbox(view, spec.size, spec.pad_value)
    rgb = to_uint8_rgb(boxed, spec.channel_order)
    if label is None:
        return rgb, None
    return rgb, letterbox(crop_view(label, roi, spec, pad_value=0)[0], spec.size, 0, cv2.INTER_NEAREST)[0]


def load_pair(sample: Sample, spec: PreprocessSpec):
    """-> (letterboxed RGB uint8, letterboxed label map or None, ratio or None). The ratio of a
    paired sample is read off the full-resolution label map."""
    image = read_image(sample.image)
    full = read_label_map(sample.mask, image.shape) if sample.paired else None
    rgb, label = to_model_space(image, full, spec)
    return rgb, label, sample.ratio if full is None else fragment_ratio(full)


@dataclass
class EvalSet:
    inputs: np.ndarray  # N x 3 x S x S float32
    fragment: list  # per image: bool mask in model space, or None
    ratio: list  # per image: true ratio or None
    names: list

    def __len__(self):
        return len(self.names)


def load_evalset(samples: list[Sample], spec: PreprocessSpec, limit: int = 0) -> EvalSet:
    norm = Normaliser(spec)
    samples = samples[:limit] if limit else samples
    inputs, frags, ratios = [], [], []
    for s in samples:
        rgb, label, ratio = load_pair(s, spec)
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
    norm = Normaliser(spec)
    return np.stack([preprocess(read_image(p), spec, norm)[0] for p in paths])
