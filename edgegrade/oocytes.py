"""Procedural MII oocytes with exact inclusion masks: the embedded default data of the
"oocyte-inclusions" task (Andreini et al.) and the paper's random label maps for the learned
generator.

An oocyte as a 40x inverted microscope shows it: a round ooplasm, granular, filling most of a
256 px frame; a thick zona pellucida around it with a perivitelline space in between, wider
where the first polar body sits; inclusions as small dark refractile spots with a light rim.
Label maps follow the data agreement (docs/design.md): 0 background (medium, zona, perivitelline
space, polar body), 1 ooplasm ("cell"), 2 inclusion ("fragment"), so every reader, importer
and loss of the embryo task serves this one unchanged.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgegrade.datasets import write_labels_csv
from edgegrade.grading import CELL, FRAGMENT
from edgegrade.imageio import write_image
from edgegrade.synth import _ellipse, _grid, _in_disc, optics

SPOTS = (1, 5)  # inclusions per synthetic label map (paper 3.1)
SPOT_DIAMETER = (2.0, 7.0)  # pixels at 256 x 256 (paper 3.1); scaled with the image side


@dataclass
class Oocyte:
    image: np.ndarray  # uint8 grey, size x size
    label: np.ndarray  # uint8 label map: 0 / 1 ooplasm / 2 inclusion
    inclusions: int


def add_spots(label: np.ndarray, rng: np.random.Generator, n: int | None = None) -> int:
    """The paper's recipe: 1-5 circular spots of 2-7 px diameter (at 256 px) placed at random
    inside the ooplasm (class 1), drawn as class 2 in place. Returns the number drawn."""
    size = label.shape[0]
    reach = round(SPOT_DIAMETER[1] / 2 * size / 256) + 1  # a spot lies wholly inside the ooplasm
    inside = cv2.erode((label == CELL).astype(np.uint8), np.ones((2 * reach + 1,) * 2, np.uint8))
    ys, xs = np.nonzero(inside)
    if not len(ys):  # a map without ooplasm (masks that mark inclusions only): spots near the centre
        yy, xx = _grid(size)
        ys, xs = np.nonzero(np.hypot(xx - size / 2, yy - size / 2) < 0.3 * size)
    n = int(rng.integers(SPOTS[0], SPOTS[1] + 1)) if n is None else n
    for _ in range(n):
        i = rng.integers(len(ys))
        r = rng.uniform(*SPOT_DIAMETER) / 2 * size / 256
        cv2.circle(label, (int(xs[i]), int(ys[i])), max(1, round(r)), FRAGMENT, -1)
    return n


def render_oocyte(rng: np.random.Generator, size: int = 256, inclusions: int | None = None) -> Oocyte:
    """One oocyte image and its label map; `inclusions` forces the spot count (0 allowed)."""
    s = float(size)
    yy, xx = _grid(size)
    img = np.full((size, size), rng.uniform(135, 165), np.float32)

    # Ooplasm: slightly elliptical, off-centre a little; zona pellucida around it.
    c = (s * rng.uniform(0.45, 0.55), s * rng.uniform(0.45, 0.55))
    r = s * rng.uniform(0.27, 0.33)
    axes = (r * rng.uniform(0.95, 1.05), r * rng.uniform(0.93, 1.0))
    angle = rng.uniform(0, 180)
    pvs = r * rng.uniform(0.04, 0.10)  # perivitelline space
    zona_in, zona_t = r + pvs, r * rng.uniform(0.13, 0.2)
    d = np.hypot(xx - c[0], yy - c[1])
    # zona: a bright band between two dark edges (Hoffman look), smooth, slightly striated
    band = np.clip(1 - np.abs(d - zona_in - zona_t / 2) / (zona_t / 2), 0, 1) ** 0.6
    img += band * rng.uniform(20, 40)
    img -= np.exp(-((d - zona_in) / 1.5) ** 2) * 35 + np.exp(-((d - zona_in - zona_t) / 1.5) ** 2) * 25
    label = np.zeros((size, size), np.uint8)
    _ellipse(label, c, axes, angle, CELL)

    # Polar body: a small round body in the perivitelline space, widening it locally.
    a = rng.uniform(0, 2 * np.pi)
    pb_r = r * rng.uniform(0.12, 0.18)
    pb = (c[0] + (r + pb_r * 0.6) * np.cos(a), c[1] + (r + pb_r * 0.6) * np.sin(a))
    _ellipse(label, pb, (pb_r * 1.4,) * 2, 0, 0)  # the ooplasm gives way to it
    polar = np.zeros((size, size), np.float32)
    _ellipse(polar, pb, (pb_r, pb_r * rng.uniform(0.8, 1.0)), rng.uniform(0, 180), 1.0)

    # Granular ooplasm: fine grain plus a coarser, slightly darker centre.
    grain = cv2.GaussianBlur(rng.standard_normal((size, size), dtype=np.float32), (0, 0), 0.9)
    coarse = cv2.GaussianBlur(rng.standard_normal((size, size), dtype=np.float32), (0, 0), 4.0)
    cyto = label == CELL
    centre_dark = np.clip(1 - d / r, 0, 1) * rng.uniform(0, 18)
    img[cyto] = (img[cyto] * 0.85 - centre_dark[cyto] + grain[cyto] * rng.uniform(8, 14)
                 + coarse[cyto] * 25)
    img += polar * (grain * 6 - rng.uniform(0, 10))
    membrane = cv2.morphologyEx(cyto.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    img -= cv2.GaussianBlur(membrane.astype(np.float32), (0, 0), 0.8) * 30
    img -= cv2.GaussianBlur(cv2.morphologyEx(polar.astype(np.uint8), cv2.MORPH_GRADIENT,
                                             np.ones((3, 3), np.uint8)).astype(np.float32), (0, 0), 0.8) * 25

    # Inclusions: dark refractile spots with a faint light rim; most oocytes have a few.
    if inclusions is None:
        inclusions = int(rng.choice([0, 1, 1, 2, 2, 3, 4, 5]))
    spots = label.copy()
    n = add_spots(spots, rng, inclusions) if inclusions else 0
    spot = (spots == FRAGMENT).astype(np.float32)
    label[spots == FRAGMENT] = FRAGMENT
    rim = cv2.GaussianBlur(cv2.dilate(spot, np.ones((3, 3), np.uint8)) - spot, (0, 0), 0.7)
    img += rim * rng.uniform(10, 25) - cv2.GaussianBlur(spot, (0, 0), 0.6) * rng.uniform(45, 75)

    # Debris and a stray cumulus cell or two in the medium (label 0).
    for _ in range(int(rng.integers(0, 4))):
        p = _in_disc(rng, c, s * 0.7)
        if np.hypot(p[0] - c[0], p[1] - c[1]) > zona_in + zona_t + 6:
            _ellipse_img(img, p, rng.uniform(2, 6) * s / 256, -rng.uniform(15, 40))

    # Relief shading, then uneven light, defocus, noise.
    img += cv2.Sobel(cv2.GaussianBlur(img, (0, 0), 1.2), cv2.CV_32F, 1, 1, ksize=3) * rng.uniform(0.04, 0.1)
    img = optics(img, rng, tilt=0.1, blur=0.8, noise=(1.5, 3.5))
    return Oocyte(np.clip(img, 0, 255).astype(np.uint8), label, n)


def _ellipse_img(img, centre, radius, value):
    layer = np.zeros(img.shape, np.float32)
    _ellipse(layer, centre, (radius, radius * 0.8), 0, 1.0)
    img += cv2.GaussianBlur(layer, (0, 0), 0.8) * value


def write_oocyte_dataset(out, n: int, size: int = 256, seed: int = 0, progress: bool = True) -> dict:
    """n oocytes in the folder format (images/, masks/, labels.csv with one id per oocyte)."""
    from tqdm import tqdm

    out = Path(out)
    rows, spots = [], 0
    for i in tqdm(range(n), desc="oocytes", unit="img", disable=not progress):
        o = render_oocyte(np.random.default_rng([seed, i]), size)
        name = f"oocyte{seed}_{i:05d}"
        write_image(out / "images" / f"{name}.png", o.image)
        write_image(out / "masks" / f"{name}.png", o.label)
        rows.append({"image": f"{name}.png", "grade": "", "ratio": "", "embryo_id": name})
        spots += o.inclusions
    write_labels_csv(out, rows)
    return {"paired": n, "inclusions": spots, "out": str(out)}
