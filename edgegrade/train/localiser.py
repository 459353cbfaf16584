"""`edgegrade localiser train`: fit the embryo localiser's small CNN on synthetic full frames
(edgegrade.scenes) and write it as ONNX for OpenCV's DNN module.

Each scene gives two samples, as the localiser runs two passes: the whole frame (coarse) and
a square crop around the true box, jittered in position and size around FINE_SIDE (fine).
One in ten scenes has no embryo, so an empty well maps to an empty probability map. Half
the embryos are seen through strong relief optics (scenes._relief), cells nearly the
medium's grey, as in EmbryoScope frames: trained on the dark cells of the rendered embryo
alone, the net boxed such cells short. In half the coronas the zona is thick, darker than
the medium and nearly as granular as the cells (render_scene's `zona`), as in the real
frames: without it nets put 0.3-0.5 on such a band and scored 0.75-0.83 on the real frames,
with it 0.87-0.88 (two seeds each).
"""

import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from edgegrade.files import atomic_write_bytes
from edgegrade.localise import FINE_SIDE, NET_SIZE, net_input
from edgegrade.preprocess import letterbox, shrink, square_crop
from edgegrade.scenes import render_scene

OUT_SIZE = NET_SIZE // 4
FRAME_SHAPES = ((640, 480), (640, 360), (480, 480), (512, 384))


def conv_bn_relu(cin, cout, stride=1, dilation=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, dilation, dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def build_localiser_net() -> nn.Module:
    """128x128 grey -> 32x32 logits; dilations 2/4/8 give each output a receptive field of
    about 100 input pixels, enough to tell a cell from a cumulus clump by its surroundings."""
    return nn.Sequential(conv_bn_relu(1, 12, 2), conv_bn_relu(12, 24, 2), conv_bn_relu(24, 24, 1, 2),
                         conv_bn_relu(24, 24, 1, 4), conv_bn_relu(24, 24, 1, 8), nn.Conv2d(24, 1, 1))


def hull(mask: np.ndarray) -> np.ndarray:
    """The filled convex hull of a mask's pixels (float32 0/1). The localiser learns the hull
    of the cells and fragments, not their pixels: its box is the truth's box, a fragment
    apart from the cells included, and the map it learns has no holes between cells."""
    out = np.zeros(mask.shape, np.float32)
    points = cv2.findNonZero(mask.astype(np.uint8))
    if points is not None:
        cv2.fillConvexPoly(out, cv2.convexHull(points), 1.0)
    return out


def _target(mask: np.ndarray) -> np.ndarray:
    """A view's embryo mask -> the 32x32 soft target of its hull, shrunk and letterboxed as
    net_input does."""
    boxed, _ = letterbox(shrink(hull(mask), NET_SIZE)[0], NET_SIZE)
    return cv2.resize(boxed, (OUT_SIZE, OUT_SIZE), interpolation=cv2.INTER_AREA)


def scene_samples(seed: int, index: int):
    """-> [(input 1x128x128, target 32x32)] for one scene: the coarse view and a fine crop."""
    rng = np.random.default_rng([seed, index])
    width, height = FRAME_SHAPES[index % len(FRAME_SHAPES)]
    scene = render_scene(rng, width, height, embryo=index % 10 != 9, relief=0.5, zona=0.5)
    views = [(scene.image, scene.label > 0)]
    if scene.box is not None:
        x, y, w, h = scene.box
        side = max(8, round(max(w, h) * FINE_SIDE * rng.uniform(0.75, 1.35)))
        cx, cy = x + w / 2 + rng.normal(0, 0.08) * side, y + h / 2 + rng.normal(0, 0.08) * side
        x0, y0 = round(cx - side / 2), round(cy - side / 2)
        fill = int(np.median(scene.image[::8, ::8]))
        views.append((square_crop(scene.image, x0, y0, side, fill), square_crop(scene.label > 0, x0, y0, side, 0)))
    return [(net_input(img)[0][0], _target(mask)) for img, mask in views]


def make_samples(n_scenes: int, seed: int, progress: bool = True):
    xs, ys = [], []
    for i in tqdm(range(n_scenes), desc="scenes", unit="scene", disable=not progress):
        for x, y in scene_samples(seed, i):
            xs.append(x)
            ys.append(y)
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys)[:, None])


def _augment(x, y):
    k = int(torch.randint(4, ()))
    x, y = torch.rot90(x, k, (2, 3)), torch.rot90(y, k, (2, 3))
    if torch.rand(()) < 0.5:
        x, y = x.flip(3), y.flip(3)
    contrast = torch.empty(x.shape[0], 1, 1, 1).uniform_(0.7, 1.3)
    return x * contrast + torch.randn(x.shape[0], 1, 1, 1) * 0.1, y


def soft_dice_loss(logits, target):
    p = torch.sigmoid(logits)
    inter = (p * target).sum((1, 2, 3))
    return (1 - (2 * inter + 1) / (p.sum((1, 2, 3)) + target.sum((1, 2, 3)) + 1)).mean()


def train_localiser(out: Path, scenes: int = 4000, epochs: int = 40, batch: int = 32, lr: float = 3e-3,
                    seed: int = 0, progress: bool = True) -> dict:
    torch.manual_seed(seed)
    x, y = make_samples(scenes, seed, progress)
    val = len(x) // 10
    xv, yv, xt, yt = x[:val], y[:val], x[val:], y[val:]
    net = build_localiser_net()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(xt) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    bce = nn.BCEWithLogitsLoss()
    t0 = time.perf_counter()
    for epoch in tqdm(range(epochs), desc="localiser", unit="epoch", disable=not progress):
        net.train()
        order = torch.randperm(len(xt))
        for i in range(0, len(xt), batch):
            xb, yb = _augment(xt[order[i:i + batch]], yt[order[i:i + batch]])
            logits = net(xb)
            loss = bce(logits, yb) + soft_dice_loss(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        logits = net(xv)
        val_loss = float(bce(logits, yv) + soft_dice_loss(logits, yv))
    write_onnx(net, out)
    return {"samples": len(x), "val_loss": round(val_loss, 4), "seconds": round(time.perf_counter() - t0, 1),
            "out": str(out)}


def write_onnx(net: nn.Module, out: Path) -> None:
    import io

    buf = io.BytesIO()
    torch.onnx.export(net.eval(), torch.zeros(1, 1, NET_SIZE, NET_SIZE), buf, opset_version=13,
                      input_names=["grey"], output_names=["logits"], dynamo=False)
    atomic_write_bytes(Path(out), buf.getvalue())
