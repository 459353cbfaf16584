"""The folder dataset as torch tensors: shared letterbox + normalisation, flips/rotations."""

import cv2
import numpy as np
import torch

from edgegrade.datasets import Sample
from edgegrade.grading import FRAGMENT, fragment_ratio
from edgegrade.imageio import read_image, read_label_map
from edgegrade.preprocess import Normaliser, PreprocessSpec, letterbox, to_uint8_rgb


class EmbryoDataset(torch.utils.data.Dataset):
    def __init__(self, samples: list[Sample], spec: PreprocessSpec, augment: bool = False):
        self.samples, self.spec, self.augment = samples, spec, augment
        self.normalise = Normaliser(spec)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        s = self.samples[i]
        image = read_image(s.image)
        boxed, _ = letterbox(image, self.spec.size, self.spec.pad_value)
        rgb = to_uint8_rgb(boxed, self.spec.channel_order)
        label = np.zeros(rgb.shape[:2], np.uint8)
        ratio = s.ratio
        if s.paired:
            full = read_label_map(s.mask, image.shape)
            ratio = fragment_ratio(full)  # from the full-resolution map, not the resized one
            label, _ = letterbox(full, self.spec.size, 0, cv2.INTER_NEAREST)
        if self.augment:
            rng = np.random.default_rng()
            k, flip = int(rng.integers(4)), bool(rng.integers(2))
            rgb, label = np.rot90(rgb, k), np.rot90(label, k)
            if flip:
                rgb, label = rgb[:, ::-1], label[:, ::-1]
            rgb = np.ascontiguousarray(rgb)
            label = np.ascontiguousarray(label)
        low, high = s.target_interval() if ratio is None else (ratio, ratio)
        masks = np.stack([label == FRAGMENT, label > 0]).astype(np.float32)
        return {
            "image": torch.from_numpy(self.normalise(rgb)),
            "masks": torch.from_numpy(masks),
            "has_mask": torch.tensor(float(s.paired)),
            "ratio": torch.tensor(float(ratio if ratio is not None else 0.0)),
            "has_ratio": torch.tensor(float(ratio is not None)),
            "low": torch.tensor(float(low)), "high": torch.tensor(float(high)),
        }
