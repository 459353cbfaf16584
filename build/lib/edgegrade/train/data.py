"""The folder dataset as torch tensors: shared letterbox + normalisation, flips/rotations."""

import numpy as np
import torch

from edgegrade.datasets import Sample
from edgegrade.evalset import load_pair
from edgegrade.grading import FRAGMENT
from edgegrade.preprocess import Normaliser, PreprocessSpec


class EmbryoDataset(torch.utils.data.Dataset):
    def __init__(self, samples: list[Sample], spec: PreprocessSpec, augment: bool = False):
        self.samples, self.spec, self.augment = samples, spec, augment
        self.normalise = Normaliser(spec)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        s = self.samples[i]
        rgb, label, ratio = load_pair(s, self.spec)
        if label is None:
            label = np.zeros(rgb.shape[:2], np.uint8)
        if self.augment:
            # torch's generator: seeded per worker by the DataLoader, so runs repeat
            k, flip = int(torch.randint(4, ())), bool(torch.randint(2, ()))
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
