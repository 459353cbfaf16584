"""The folder dataset as torch tensors: the boxes found once (edgegrade.boxes), the shared
crop + letterbox + normalisation (edgegrade.evalset.load_pair), augmentation drawn per
(seed, epoch, index) so that runs repeat whatever the number of workers."""

import numpy as np
import torch

from edgegrade.datasets import Sample
from edgegrade.evalset import load_pair
from edgegrade.grading import FRAGMENT
from edgegrade.preprocess import Normaliser, PreprocessSpec


class EmbryoDataset(torch.utils.data.Dataset):
    """Indexed by an int, or by (index, epoch) as EpochSampler yields (augmentation differs
    per epoch). `rois`: one embryo box (or None) per sample."""

    def __init__(self, samples: list[Sample], rois: list, spec: PreprocessSpec, augment=None, seed: int = 0):
        if len(rois) != len(samples):
            raise ValueError("one box per sample")
        self.samples, self.rois, self.spec, self.augment, self.seed = samples, rois, spec, augment, seed
        self.normalise = Normaliser(spec)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, key):
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        s = self.samples[index]
        rng = np.random.default_rng([self.seed, epoch, index]) if self.augment is not None else None
        rgb, label, ratio = load_pair(s, self.spec, self.rois[index], self.augment, rng)
        if label is None:
            label = np.zeros(rgb.shape[:2], np.uint8)
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


class EpochSampler(torch.utils.data.Sampler):
    """Yields (index, epoch): a permutation seeded by (seed, epoch) when shuffling, this
    rank's share of it under DistributedDataParallel. It lives in the main process, so
    `set_epoch` reaches persistent workers through the keys it yields."""

    def __init__(self, n: int, *, shuffle: bool, seed: int = 0, rank: int = 0, world: int = 1):
        self.n, self.shuffle, self.seed, self.rank, self.world = n, shuffle, seed, rank, world
        self.epoch = 1

    def set_epoch(self, epoch: int):
        self.epoch = epoch

    def __len__(self):
        return -(-self.n // self.world)

    def __iter__(self):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n) if self.shuffle else np.arange(self.n)
        if self.world > 1:  # pad to a multiple of the world size, as DistributedSampler does
            order = np.resize(order, len(self) * self.world)[self.rank::self.world]
        return iter([(int(i), self.epoch) for i in order])
