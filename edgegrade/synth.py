"""Procedural cleavage-stage embryos with exact label maps (the embedded default data).

Modelled on EmbryoScope frames (../shared/data/cleavage-real): a grey medium inside a well
with a bright rim and dark surround, an off-centre zona pellucida, 2-8 overlapping
blastomeres with granular cytoplasm and faint nuclei, fragments whose total share of the
embryo is drawn to hit a chosen grade, and distractors that are *not* fragments (vacuoles,
cumulus debris outside the zona, a burnt-in time stamp), then uneven illumination, a
Hoffman-like relief, defocus and noise. Everything is drawn from one seeded generator, so a
(seed, index) pair always gives the same image.
"""

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from edgegrade.grading import CELL, FRAGMENT, GRADES, fragment_ratio


@dataclass
class Rendered:
    image: np.ndarray  # uint8 grey, size x size
    label: np.ndarray  # uint8 label map
    ratio: float
    target_ratio: float
    box: tuple  # embryo (zona) box x, y, w, h in pixels


def _ellipse(layer, centre, axes, angle, value, thickness=-1):
    cv2.ellipse(layer, (int(centre[0] * 16), int(centre[1] * 16)),
                (max(1, int(axes[0] * 16)), max(1, int(axes[1] * 16))),
                float(angle), 0, 360, value, thickness, cv2.LINE_AA if thickness > 0 else cv2.LINE_8, 4)


@lru_cache(maxsize=8)
def _grid(size: int):
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    yy.flags.writeable = xx.flags.writeable = False
    return yy, xx


def _in_disc(rng, centre, radius):
    r, t = radius * np.sqrt(rng.random()), rng.random() * 2 * np.pi
    return centre[0] + r * np.cos(t), centre[1] + r * np.sin(t)


def _target_ratio(rng, grade: str | None) -> float:
    g = GRADES[rng.integers(len(GRADES))] if grade is None else next(x for x in GRADES if x.name == grade)
    high = min(g.high, 0.8)  # beyond ~80% fragments there is no embryo left to draw
    return float(rng.uniform(g.low + 0.01, high - 0.01))


def render_embryo(rng: np.random.Generator, size: int = 256, grade: str | None = None) -> Rendered:
    """One embryo in its well: the steps below draw from `rng` in this order, so a (seed, size)
    pair always gives the same image and label map."""
    s = float(size)
    yy, xx = _grid(size)
    img, well = _well(rng, s, xx, yy)
    zona = _zona(rng, img, well, s, xx, yy)
    target = _target_ratio(rng, grade)
    label = np.zeros((size, size), np.uint8)
    edges = np.zeros((size, size), np.float32)
    light = np.zeros((size, size), np.float32)  # nuclei and vacuoles: lighter, smooth
    _blastomeres(rng, label, edges, light, zona, target)
    _fragments(rng, label, edges, zona, target)
    label[zona.dist > zona.inner] = 0  # nothing leaks into the zona
    debris = _debris(rng, s, zona)
    _texture(rng, img, label, edges, light, debris, s, zona)
    # Hoffman-like relief: a directional derivative shades every edge light on one side.
    relief = cv2.Sobel(cv2.GaussianBlur(img, (0, 0), 1.2), cv2.CV_32F, 1, 0, ksize=3)
    img += relief * rng.uniform(0.06, 0.16)
    out = np.clip(optics(img, rng, tilt=0.12, blur=1.0, noise=(1.5, 4.0)), 0, 255).astype(np.uint8)
    _stamp(out, rng, s)
    ec, zr = zona.centre, zona.radius
    box = (int(ec[0] - zr), int(ec[1] - zr), int(2 * zr), int(2 * zr))
    return Rendered(out, label, fragment_ratio(label), target, box)


@dataclass
class _Zona:
    centre: tuple
    radius: float
    inner: float  # radius inside the zona: where cells and fragments may lie
    dist: np.ndarray  # distance of every pixel from the centre
    box: tuple  # slices of the zona's bounding box (with a small margin)


def _well(rng, s, xx, yy) -> tuple[np.ndarray, tuple]:
    """Medium inside a well: bright rim just inside its edge, dark beyond (the EmbryoScope
    look). -> (image, (well centre, well radius))."""
    wc = (s * rng.uniform(0.3, 0.7), s * rng.uniform(0.35, 0.65))
    wr = s * rng.uniform(0.48, 0.62)
    dw = np.hypot(xx - wc[0], yy - wc[1]) - wr
    medium = rng.uniform(150, 180)
    rim = np.exp(-((dw + 0.05 * s) / (0.045 * s)) ** 2) * rng.uniform(70, 100)
    outside = np.clip(dw / (0.04 * s), 0, 1)
    img = medium + rim - outside * (medium - rng.uniform(15, 50))
    return img, (wc, wr)


def _zona(rng, img, well, s, xx, yy) -> _Zona:
    """The zona pellucida's ring, off-centre inside the well, drawn into img."""
    wc, wr = well
    zr = s * rng.uniform(0.24, 0.33)
    off = rng.uniform(0, max(0.0, wr - zr - 0.06 * s) * 0.8)
    ang = rng.uniform(0, 2 * np.pi)
    ec = (wc[0] + off * np.cos(ang), wc[1] + off * np.sin(ang))
    zt = zr * rng.uniform(0.07, 0.11)  # zona thickness
    dz = np.hypot(xx - ec[0], yy - ec[1])
    zbox = (slice(max(0, int(ec[1] - zr) - 3), int(ec[1] + zr) + 4), slice(max(0, int(ec[0] - zr) - 3), int(ec[0] + zr) + 4))
    d = dz[zbox]  # the ring's terms vanish outside the zona's box
    img[zbox] += np.exp(-((d - zr + zt / 2) / (zt / 2)) ** 4) * rng.uniform(-12, 12) \
        - np.exp(-((d - zr) / 1.2) ** 2) * 25 - np.exp(-((d - zr + zt) / 1.2) ** 2) * 15
    return _Zona(ec, zr, zr - zt, dz, zbox)


def _blastomeres(rng, label, edges, light, zona: _Zona, target: float) -> None:
    """2-8 overlapping cells, fewer and smaller when the embryo is heavily fragmented, with
    faint nuclei and the odd vacuole (bright and sharp, and not a fragment)."""
    ec, inner = zona.centre, zona.inner
    n_cells = int(rng.integers(2, 9))
    cell_r = inner * np.sqrt(0.9 / n_cells) * (1.0 - 0.55 * target) * rng.uniform(0.9, 1.1)
    for _ in range(n_cells):
        c = _in_disc(rng, ec, max(1.0, inner - cell_r * 1.05))
        axes = (cell_r * rng.uniform(0.85, 1.15), cell_r * rng.uniform(0.8, 1.05))
        a = rng.uniform(0, 180)
        _ellipse(label, c, axes, a, CELL)
        _ellipse(edges, c, axes, a, 0.0)  # a later cell hides the outline of one below it
        _ellipse(edges, c, axes, a, 1.0, thickness=2)
        if rng.random() < 0.7:  # faint nucleus
            _ellipse(light, _in_disc(rng, c, cell_r * 0.3), (cell_r * 0.22,) * 2, 0, 0.5)
        if rng.random() < 0.25:  # vacuole
            _ellipse(light, _in_disc(rng, c, cell_r * 0.5), (cell_r * rng.uniform(0.08, 0.16),) * 2, 0, 1.0)


def _fragments(rng, label, edges, zona: _Zona, target: float) -> None:
    """Fragments until the target ratio is reached, in a few clusters as in real embryos, some
    scattered; they may sit over cells (fragments win)."""
    ec, inner = zona.centre, zona.inner
    frag_scale = inner * (0.06 + 0.12 * target)
    clusters = [_in_disc(rng, ec, inner * 0.8) for _ in range(int(rng.integers(1, 5)))]
    for i in range(600):
        if rng.random() < 0.7:
            c = _in_disc(rng, clusters[i % len(clusters)], inner * rng.uniform(0.12, 0.35))
        else:
            c = _in_disc(rng, ec, inner * 0.95)
        r = frag_scale * rng.uniform(0.35, 1.0)
        axes, a = (r, r * rng.uniform(0.6, 1.0)), rng.uniform(0, 180)
        _ellipse(label, c, axes, a, FRAGMENT)
        _ellipse(edges, c, axes, a, 0.0)
        _ellipse(edges, c, axes, a, 0.9, thickness=1)
        if i % 4 == 3:
            inside = label[zona.box]  # everything drawn so far lies within the zona's box
            if np.count_nonzero(inside == FRAGMENT) >= target * np.count_nonzero(inside):
                break


def _debris(rng, s, zona: _Zona) -> np.ndarray:
    """Cumulus debris outside the zona (label 0): clumps of small granular blobs."""
    ec, zr = zona.centre, zona.radius
    debris = np.zeros(zona.dist.shape, np.float32)
    for _ in range(int(rng.integers(0, 4))):
        dc = _in_disc(rng, ec, zr * 1.9)
        if np.hypot(dc[0] - ec[0], dc[1] - ec[1]) < zr * 1.15:
            continue
        for _ in range(int(rng.integers(4, 12))):
            _ellipse(debris, _in_disc(rng, dc, 0.05 * s), (rng.uniform(0.006, 0.02) * s,) * 2, 0, 1.0)
    return debris


def _texture(rng, img, label, edges, light, debris, s, zona: _Zona) -> None:
    """Granular cytoplasm from one noise field (fragments finer and brighter), a patchy
    cumulus halo outside the zona, the drawn outlines, nuclei and vacuoles."""
    size = label.shape[0]
    yy, xx = _grid(size)
    ec, zr, dz = zona.centre, zona.radius, zona.dist
    grain = cv2.GaussianBlur(rng.standard_normal((size, size), dtype=np.float32), (0, 0), 0.8)
    reach = zr * rng.uniform(1.1, 1.3)
    lobes, phase = rng.integers(1, 4), rng.uniform(0, 6.3)
    y0, y1 = max(0, int(ec[1] - reach)), min(size, int(ec[1] + reach) + 1)  # only near the zona
    x0, x1 = max(0, int(ec[0] - reach)), min(size, int(ec[0] + reach) + 1)
    box = (slice(y0, y1), slice(x0, x1))
    patch = np.cos(np.arctan2(yy[box] - ec[1], xx[box] - ec[0]) * lobes + phase)
    halo = np.clip((reach - dz[box]) / (0.03 * s), 0, 1) * (dz[box] > zr) * np.clip(patch + 0.3, 0, 1)
    img[box] += halo * (grain[box] * 16 - 6)
    cyto = label == CELL
    img[cyto] = img[cyto] * 0.8 + grain[cyto] * 16 + 6
    fr = label == FRAGMENT
    img[fr] = img[fr] * 0.9 + grain[fr] * 12 + rng.uniform(28, 45)  # refractile: brighter than cytoplasm
    img += debris * (grain * 22 - 25)
    img += light * 22
    img -= cv2.GaussianBlur(edges, (0, 0), 0.7) * rng.uniform(45, 70)
    img += np.where(dz < zr, grain * 7, grain * 2)  # grainy perivitelline space, faint medium


def optics(img: np.ndarray, rng: np.random.Generator, tilt: float, blur: float, noise: tuple) -> np.ndarray:
    """What the microscope adds: uneven illumination (a linear tilt up to `tilt`), defocus
    (Gaussian, sigma up to `blur`) and sensor noise (sigma drawn from `noise`)."""
    size = img.shape[0]
    yy, xx = _grid(size)
    g = rng.uniform(-tilt, tilt, 2)
    img = (img * (1 + g[0] * (xx / size - 0.5) + g[1] * (yy / size - 0.5))).astype(np.float32)
    sigma = rng.uniform(0.0, blur)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    return img + rng.standard_normal((size, size), dtype=np.float32) * rng.uniform(*noise)


def _stamp(img, rng, s):
    """Burnt-in well number and time stamp, black on white, as EmbryoScope prints them."""
    scale = s / 800 * 0.9
    if scale < 0.25:
        return
    for text, x in ((f"Well {rng.integers(1, 17)}", 0.012), (f"{rng.uniform(20, 70):.1f} h", 0.91)):
        (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        org = (int(min(x * s, s - w - 4)), int(s * 0.985))
        cv2.rectangle(img, (org[0] - 2, org[1] - h - 3), (org[0] + w + 2, org[1] + 3), 255, -1)
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, 0, 1, cv2.LINE_AA)
