"""Does the data loader keep up with training? Side by side in one run: the model's own
training rate (forward + backward + AdamW on ready-made batches, no loader) and the real
loader's rate (640 px synthetic frames as `edgegrade train` renders them, the embryo boxes
found once beforehand, crop + letterbox + full augmentation + normalisation, `--workers`
processes), at the same batch, size and width.

    python benchmarks/loader_speed.py --size 128 --width 16 --batch 16 --workers 2

The target (the training issue): loader >= 3x the model's rate at width 16, 128 px, 2 cores.
"""

import argparse
import tempfile
import time

import torch

from edgegrade import datasets
from edgegrade.augment import AUGMENTS
from edgegrade.boxes import locate_samples
from edgegrade.preprocess import PreprocessSpec
from edgegrade.recipes import MTL
from edgegrade.synth_dataset import write_dataset
from edgegrade.train.archs import build_model
from edgegrade.train.data import EmbryoDataset, EpochSampler
from edgegrade.train.losses import total_loss

p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=128)
p.add_argument("--width", type=int, default=16)
p.add_argument("--batch", type=int, default=16)
p.add_argument("--workers", type=int, default=2)
p.add_argument("--images", type=int, default=128, help="Synthetic frames to render (each is read every epoch)")
p.add_argument("--steps", type=int, default=20, help="Timed training steps")
p.add_argument("--epochs", type=int, default=3, help="Timed passes of the loader over the images")
a = p.parse_args()

tmp = tempfile.mkdtemp()
write_dataset(tmp, a.images, size=640, seed=0, progress=False)
samples = datasets.load(tmp).samples
spec = PreprocessSpec(size=a.size, crop="embryo")
t = time.perf_counter()
rois = locate_samples(samples, spec, progress=False)
locate_ms = 1000 * (time.perf_counter() - t) / len(samples)
ds = EmbryoDataset(samples, rois, spec, augment=AUGMENTS["full"])
sampler = EpochSampler(len(ds), shuffle=True)
loader = torch.utils.data.DataLoader(ds, batch_size=a.batch, sampler=sampler, num_workers=a.workers,
                                     persistent_workers=a.workers > 0)

# the model alone, on one real batch repeated
model = build_model(width=a.width)
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
batch = next(iter(loader))
for step in range(a.steps + 3):
    if step == 3:
        t = time.perf_counter()
    loss, _ = total_loss(model(batch["image"]), batch, MTL.weights)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
model_rate = a.steps * a.batch / (time.perf_counter() - t)

# the loader alone (the main process only receives)
n, t = 0, None
for epoch in range(a.epochs + 1):
    sampler.set_epoch(epoch + 1)
    for b in loader:
        if t is None:
            t = time.perf_counter()  # the workers are up: time from the first batch on
            continue
        n += len(b["image"])
loader_rate = n / (time.perf_counter() - t)
print(f"{a.size} px, width {a.width}, batch {a.batch}, {a.workers} workers, {torch.get_num_threads()} torch threads")
print(f"  finding the embryo once per image (before training): {locate_ms:.1f} ms/image")
print(f"  model training rate (no loader): {model_rate:.1f} images/s")
print(f"  loader rate (640 px frames, crop, full augmentation): {loader_rate:.1f} images/s = {loader_rate / model_rate:.1f}x the model")
