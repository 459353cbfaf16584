"""`edgegrade synth --learned`: fit pix2pix on a user's paired images (image + label map),
then turn random label maps into new training images, for either task:

- oocytes: the paper's recipe (1-5 circular spots of 2-7 px placed at random inside the
  ooplasm); the ooplasm shapes are the training masks' own (rotated and flipped), kept in the
  generator file, so generation needs no data;
- embryos: random fragment layouts, the label maps of the procedural embryo generator (cells
  and fragments at any grade).

The generator file is a weights-only checkpoint (`torch.load(weights_only=True)`), written
atomically after every epoch, so a killed run keeps its last epoch."""

import csv
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from edgegrade import datasets
from edgegrade.errors import EdgegradeError
from edgegrade.grading import CELL, FRAGMENT
from edgegrade.imageio import read_image, read_label_map, write_image
from edgegrade.preprocess import letterbox, to_grey
from edgegrade.tasks import get_task
from edgegrade.train import checkpoint
from edgegrade.train.pix2pix import PatchDiscriminator, UNetGenerator, init_weights, one_hot
from edgegrade.train.pix2pix import to_uint8 as gen_to_uint8

KIND = "edgegrade-generator"
TEMPLATES = 64  # ooplasm shapes kept in the generator file


def load_pairs(root, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every paired sample as grey uint8 (N, S, S) and label maps (N, S, S), letterboxed."""
    import cv2

    ds = datasets.load(root, require_paired=True)
    images, labels = [], []
    for s in ds.paired:
        image = read_image(s.image)
        label = read_label_map(s.mask, image.shape)
        grey = to_grey(image)
        images.append(letterbox(grey, size, int(np.median(grey)))[0])
        labels.append(letterbox(label, size, 0, cv2.INTER_NEAREST)[0])
    return np.stack(images), np.stack(labels)


def _augment(images: torch.Tensor, labels: torch.Tensor, gen: torch.Generator):
    k = int(torch.randint(4, (), generator=gen))
    images, labels = torch.rot90(images, k, (1, 2)), torch.rot90(labels, k, (1, 2))
    if bool(torch.randint(2, (), generator=gen)):
        images, labels = images.flip(2), labels.flip(2)
    return images, labels


def train_generator(data, out, *, task: str, size: int = 256, epochs: int = 100, batch: int = 1,
                    width: int = 32, lr: float = 2e-4, l1: float = 100.0, seed: int = 0,
                    device: str = "cpu", progress: bool = True) -> dict:
    """Fit pix2pix on DATA's pairs; writes OUT (generator file), OUT.csv (losses per epoch) and
    OUT.png (label / real / generated for a few training pairs)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    dev = torch.device(device)
    images, labels = load_pairs(data, size)
    real = torch.from_numpy(images).float().div(127.5).sub(1)  # [-1, 1]
    maps = torch.from_numpy(labels)
    gen, disc = UNetGenerator(size, width).to(dev), PatchDiscriminator(width).to(dev)
    init_weights(gen)
    init_weights(disc)
    opt_g = torch.optim.Adam(gen.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr, betas=(0.5, 0.999))
    bce = torch.nn.BCEWithLogitsLoss()
    shuffle = torch.Generator().manual_seed(seed)
    log_path = out.with_suffix(".csv")
    with open(log_path, "w", newline="") as f:
        csv.writer(f).writerow(["epoch", "loss_d", "loss_g_adv", "loss_g_l1", "images_per_s"])
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        gen.train()
        disc.train()
        order = torch.randperm(len(real), generator=shuffle)
        sums, t0 = np.zeros(3), time.perf_counter()
        steps = range(0, len(order), batch)
        for i in tqdm(steps, desc=f"pix2pix {epoch}/{epochs}", unit="step", leave=False, disable=not progress):
            idx = order[i:i + batch]
            x_img, x_map = _augment(real[idx], maps[idx], shuffle)
            target, cond = x_img[:, None].to(dev), one_hot(x_map).to(dev)
            fake = gen(cond)
            # discriminator: real pairs -> 1, generated pairs -> 0 (halved, as pix2pix does)
            d_real, d_fake = disc(cond, target), disc(cond, fake.detach())
            loss_d = 0.5 * (bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake)))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            # generator: fool the discriminator and stay close to the real image (L1)
            d_fake = disc(cond, fake)
            adv, rec = bce(d_fake, torch.ones_like(d_fake)), (fake - target).abs().mean()
            loss_g = adv + l1 * rec
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            sums += [float(loss_d.detach()), float(adv.detach()), float(rec.detach())]
        n = max(1, len(steps))
        speed = len(real) / (time.perf_counter() - t0)
        with open(log_path, "a", newline="") as f:
            csv.writer(f).writerow([epoch, *[f"{v / n:.4f}" for v in sums], f"{speed:.2f}"])
        save_generator(out, gen, task=task, size=size, width=width, epoch=epoch, labels=labels)
        if progress and (epoch == epochs or epoch % max(1, epochs // 10) == 0):
            print(f"[pix2pix] epoch {epoch}: D {sums[0] / n:.3f}  G adv {sums[1] / n:.3f}  L1 {sums[2] / n:.4f}  "
                  f"({speed:.1f} img/s)")
    seconds = time.perf_counter() - start
    _sheet(out.with_suffix(".png"), gen, images[:4], labels[:4], dev)
    return {"generator": str(out), "pairs": len(real), "epochs": epochs, "seconds": round(seconds, 1),
            "train_images_per_s": round(epochs * len(real) / seconds, 2), "log": str(log_path)}


def save_generator(path, gen, *, task, size, width, epoch, labels: np.ndarray):
    regions = np.where(labels[:TEMPLATES] == FRAGMENT, CELL, labels[:TEMPLATES]).astype(np.uint8)
    checkpoint.write(Path(path), {
        "kind": KIND, "task": task, "size": size, "width": width, "epoch": epoch,
        "templates": torch.from_numpy(regions), "generator": gen.state_dict()})


def load_generator(path, device="cpu") -> tuple[UNetGenerator, dict]:
    path = Path(path)
    if not path.is_file():
        raise EdgegradeError(f"--generator {path}: file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same one-line answer
        raise EdgegradeError(f"--generator {path}: not a readable generator file ({exc.__class__.__name__})") from None
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise EdgegradeError(f"--generator {path}: not an edgegrade generator (no '{KIND}' marker)")
    gen = UNetGenerator(state["size"], state["width"])
    gen.load_state_dict(state["generator"])
    return gen.to(device), state


@torch.no_grad()
def generate(generator, out, n: int, *, seed: int = 0, batch: int = 8, device: str = "cpu",
             progress: bool = True) -> dict:
    """n (image, label map) pairs from random label maps, in the folder format."""
    gen, state = load_generator(generator, device)
    gen.eval()
    for m in gen.modules():  # pix2pix keeps its dropout as the noise source
        if isinstance(m, torch.nn.Dropout):
            m.train()
    out, task, size = Path(out), get_task(state["task"]), state["size"]
    templates = state["templates"].numpy()
    rng = np.random.default_rng(seed)
    rows, start = [], time.perf_counter()
    for i in tqdm(range(0, n, batch), desc="generate", unit="batch", disable=not progress):
        maps = np.stack([task.random_label_map(rng, size, templates) for _ in range(min(batch, n - i))])
        images = gen_to_uint8(gen(one_hot(torch.from_numpy(maps)).to(device)))
        for j, (image, label) in enumerate(zip(images, maps)):
            name = f"gan{seed}_{i + j:05d}"
            write_image(out / "images" / f"{name}.png", image)
            write_image(out / "masks" / f"{name}.png", label)
            rows.append({"image": f"{name}.png", "grade": "", "ratio": "", "embryo_id": name})
    datasets.write_labels_csv(out, rows)
    seconds = time.perf_counter() - start
    return {"out": str(out), "images": n, "task": task.name, "seconds": round(seconds, 1),
            "images_per_s": round(n / max(seconds, 1e-9), 1)}


def _sheet(path: Path, gen, images: np.ndarray, labels: np.ndarray, dev):
    """One row per training pair: label map, real image, generated image."""
    import cv2

    gen.eval()
    with torch.no_grad():
        fake = gen_to_uint8(gen(one_hot(torch.from_numpy(labels)).to(dev)))
    rows = [np.hstack([(lab * 120).astype(np.uint8), img, f]) for lab, img, f in zip(labels, images, fake)]
    write_image(path, cv2.resize(np.vstack(rows), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
