"""Training throughput (images/s) and peak memory at 256x256 (--size), CPU or CUDA, through the real
loss, optimiser and (optionally) the real data loader. On CUDA it also reports GPU busy
time against step time, to show whether the input pipeline keeps up.

    python benchmarks/train_throughput.py --device cpu --batch 4 --steps 5
    python benchmarks/train_throughput.py --device cuda --batch 64 --steps 50 --amp bf16 --loader
"""

import argparse
import resource
import tempfile
import time

import torch

from edgegrade.recipes import MTL
from edgegrade.train.archs import build_model
from edgegrade.train.loop import autocast
from edgegrade.train.losses import total_loss

p = argparse.ArgumentParser()
p.add_argument("--device", default="cpu")
p.add_argument("--size", type=int, default=256)
p.add_argument("--batch", type=int, default=4)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--amp", default="off", choices=["off", "bf16", "fp16"])
p.add_argument("--output-stride", type=int, default=16)
p.add_argument("--width", type=int, default=64, help="64: ResNet-50; 16: what the CPU experiments train")
p.add_argument("--loader", action="store_true", help="Feed from synthetic PNGs through the real DataLoader.")
p.add_argument("--workers", type=int, default=8)
p.add_argument("--compile", action="store_true")
a = p.parse_args()
dev = torch.device(a.device)
model = build_model(output_stride=a.output_stride, width=a.width).to(dev)
if dev.type == "cuda":
    model = model.to(memory_format=torch.channels_last)
step_model = torch.compile(model) if a.compile else model
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=dev.type == "cuda")


def batches():
    if not a.loader:
        b = {"image": torch.randn(a.batch, 3, a.size, a.size), "masks": (torch.rand(a.batch, 2, a.size, a.size) > 0.7).float(),
             "has_mask": torch.ones(a.batch), "ratio": torch.rand(a.batch), "has_ratio": torch.ones(a.batch),
             "low": torch.zeros(a.batch), "high": torch.ones(a.batch)}
        b = {k: v.to(dev) for k, v in b.items()}
        while True:
            yield b
    from edgegrade import datasets
    from edgegrade.augment import AUGMENTS
    from edgegrade.boxes import locate_samples
    from edgegrade.preprocess import PreprocessSpec
    from edgegrade.synth_dataset import write_dataset
    from edgegrade.train.data import EmbryoDataset, EpochSampler

    tmp = tempfile.mkdtemp()
    write_dataset(tmp, max(4 * a.batch, 64), size=640, progress=False)  # camera-sized frames, as `train` renders
    samples, spec = datasets.load(tmp).samples, PreprocessSpec(size=a.size, crop="embryo")
    ds = EmbryoDataset(samples, locate_samples(samples, spec, progress=False), spec, augment=AUGMENTS["full"])
    loader = torch.utils.data.DataLoader(ds, batch_size=a.batch, sampler=EpochSampler(len(ds), shuffle=True),
                                         drop_last=True, num_workers=a.workers, pin_memory=dev.type == "cuda",
                                         persistent_workers=a.workers > 0)
    while True:
        for b in loader:
            yield {k: v.to(dev, non_blocking=True) for k, v in b.items()}


it = batches()
busy = []
for step in range(a.steps + 3):
    if step == 3:  # after warm-up
        if dev.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
    b = next(it)
    img = b["image"].contiguous(memory_format=torch.channels_last) if dev.type == "cuda" else b["image"]
    if dev.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
    with autocast(dev, a.amp):
        out = step_model(img)
    loss, _ = total_loss(out, b, MTL.weights)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if dev.type == "cuda":
        end.record()
        if step >= 3:
            busy.append((start, end))
if dev.type == "cuda":
    torch.cuda.synchronize()
dt = time.perf_counter() - t0
ips = a.steps * a.batch / dt
print(f"{a.device} {a.size}x{a.size} batch {a.batch} OS{a.output_stride} amp={a.amp} loader={a.loader}: "
      f"{ips:.1f} images/s ({1000 * dt / a.steps:.0f} ms/step)")
if dev.type == "cuda":
    gpu_ms = sum(s.elapsed_time(e) for s, e in busy)
    print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB; GPU busy {gpu_ms / (1000 * dt):.0%} of wall time")
else:
    print(f"peak host memory (max RSS) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
