"""Cleavage-stage embryos as an EmbryoScope shows them through relief (Hoffman modulation)
optics, with exact label maps: the look of ../shared/data/cleavage-real, which the classic
renderer (edgegrade.synth: dark discs, many small bright fragments) does not have.

What the optics image is the gradient of the optical path along one direction, so a cell is a
disc of nearly the medium's grey, strongly granular, with one bright and one dark rim, and
outlines that show through where cells are stacked. The geometry follows what was measured on
26 annotated real frames from two clinics (README, "From synthetic to real"): the embryo spans
about 0.43 of an 800 px frame; 2-10 cells whose diameter is about 0.9 n^-0.3 of the embryo's,
heavily overlapping (projections of stacked cells); fragments are few and large (median
diameter 0.15 of the embryo's, 0.08-0.36), always touching cells and mostly lying over them,
at about 0.8 of the embryo's radius from its centre, elongated along its surface; in grade A-B
embryos one or two caps on one side (an arc of about 90-110 degrees), in C-D spread around it.
Fragments are smoother and more refractile than cytoplasm, so their relief is stronger.
"""

import cv2
import numpy as np

from edgegrade.grading import CELL, FRAGMENT, fragment_ratio
from edgegrade.scenes import _blobs
from edgegrade.synth import Rendered, _ellipse, _grid, _stamp, _target_ratio, _well, optics


def render_relief(rng: np.random.Generator, size: int = 640, grade: str | None = None) -> Rendered:
    s = float(size)
    yy, xx = _grid(size)
    img, (wc, wr) = _well(rng, s, xx, yy)
    # the embryo inside the well (not centred: real wells put it anywhere), the zona around it
    er = s * rng.uniform(0.19, 0.23)  # embryo radius: 0.38-0.46 of the frame across (real: 0.41-0.45)
    zr = er * rng.uniform(1.1, 1.3)  # a thick zona around the cells
    # anywhere in the well; in a third of the frames against its wall, part of the zona in its shadow
    off = wr - zr * rng.uniform(0.6, 1.0) if rng.random() < 0.33 else rng.uniform(0, max(0.0, wr - zr - 0.04 * s) * 0.7)
    ang = rng.uniform(0, 2 * np.pi)
    ec = (wc[0] + off * np.cos(ang), wc[1] + off * np.sin(ang))
    target = _target_ratio(rng, grade)
    label = np.zeros((size, size), np.uint8)
    path = np.zeros((size, size), np.float32)  # optical path: what the relief optics differentiate
    outlines = np.zeros((size, size), np.float32)
    _cells(rng, label, path, outlines, ec, er, target)
    frag = np.zeros((size, size), np.float32)
    fpath = np.zeros((size, size), np.float32)  # the fragments' bubbles: small spheres, crisp relief
    bubbles = _fragments(rng, label, fpath, frag, ec, er, target)
    outlines *= 1 - np.clip(frag, 0, 1)  # fragments lie on top: the cells' outlines vanish under them
    for c, axes, ang in bubbles:  # each bubble's own thin rim
        _ellipse(outlines, c, axes, ang, rng.uniform(0.3, 0.7), thickness=1)
    dist = np.hypot(xx - ec[0], yy - ec[1])
    label[dist > er * 1.08] = 0

    # texture measured on the real frames (800 px): cells 10-30 grey levels under the medium,
    # high-pass std 15-16; fragments as bright as cells +-10 and more granular (19-21); the zona
    # a band right outside the cells 40-60 under the medium, high-pass std ~10; outlines dark
    # (10th percentile at the embryo's edge 40-50)
    grain = cv2.GaussianBlur(rng.standard_normal((size, size), dtype=np.float32), (0, 0), rng.uniform(0.7, 1.2) * s / 800)
    grain /= grain.std() + 1e-6
    level = float(np.median(img[(dist > zr * 1.3) & (dist < zr * 1.8)])) if np.any((dist > zr * 1.3) & (dist < zr * 1.8)) \
        else float(np.median(img))
    cyto, fr = label == CELL, label == FRAGMENT
    cell_level = level - rng.uniform(10, 30)
    img[cyto] = cell_level + grain[cyto] * rng.uniform(12, 20)
    img[fr] = cell_level + rng.uniform(10, 35) + grain[fr] * rng.uniform(4, 12)  # refractile, smoother
    band = (dist > er * rng.uniform(0.5, 0.95)) & (dist < zr) & (label == 0)  # hugging the cells, or a gap
    shade = np.clip(img[band] / level, 0.1, 1.2)  # in the wall's shadow the zona is dark too
    seen = rng.uniform(0.1, 1.0)  # from a clear band to one hardly told from the medium
    img[band] = shade * (level - seen * rng.uniform(0, 30)) + grain[band] * seen * rng.uniform(5, 12)
    img -= np.exp(-((dist - zr) / (1.5 * s / 800)) ** 2) * seen * rng.uniform(10, 30)
    img -= cv2.GaussianBlur(outlines, (0, 0), 0.8 * s / 800) * rng.uniform(50, 90)  # membranes, stacked ones too
    _specks(rng, img, frag, s)
    _cumulus(rng, img, fpath, grain, ec, zr, s)

    # relief optics: the directional derivative of the smoothed optical path
    t = rng.uniform(0, 2 * np.pi)
    along = lambda a: np.cos(t) * cv2.Sobel(a, cv2.CV_32F, 1, 0) + np.sin(t) * cv2.Sobel(a, cv2.CV_32F, 0, 1)  # noqa: E731
    relief = along(cv2.GaussianBlur(path, (0, 0), max(1.0, s * rng.uniform(0.008, 0.016))))  # broad rims, as real cells have
    # scaled on the cells (a tenth of a cell's pixels, its rims, 30-90 grey levels off)
    cells = relief[label == CELL]
    img += relief * (rng.uniform(30, 90) / (np.percentile(np.abs(cells if cells.size else relief), 90) + 1e-3))
    # the bubbles of fragments and cumulus: small spheres with crisp bright and dark rims
    bubbly = along(cv2.GaussianBlur(fpath, (0, 0), max(0.8, s * rng.uniform(0.0015, 0.003))))
    if fpath.any():
        img += bubbly * (rng.uniform(30, 70) / (np.percentile(np.abs(bubbly[fpath > 0]), 90) + 1e-3))
    out = np.clip(optics(img, rng, tilt=0.15, blur=1.2, noise=(1.5, 4.0)), 0, 255).astype(np.uint8)
    _stamp(out, rng, s)
    box = (int(ec[0] - zr), int(ec[1] - zr), int(2 * zr), int(2 * zr))
    return Rendered(out, label, fragment_ratio(label), target, box)


def _filled(shape, centre, axes, angle) -> np.ndarray:
    layer = np.zeros(shape, np.float32)
    _ellipse(layer, centre, axes, angle, 1.0)
    return layer


def size_of(label) -> int:
    return label.shape[0]


def _dome(path, centre, axes, angle, height, power=0.5):
    """Add a dome to the optical path map: an ellipsoid's thickness (power 0.5, steep at the
    edge) or a lens (power 1: a paraboloid, whose slope grows steadily to the edge: the broad
    bright and dark rims of a cell seen through relief optics)."""
    r = int(max(axes)) + 2
    x0, y0 = int(centre[0]) - r, int(centre[1]) - r
    h, w = path.shape
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x0 + 2 * r + 1), min(h, y0 + 2 * r + 1)
    if sx1 <= sx0 or sy1 <= sy0:
        return
    yy, xx = np.mgrid[sy0:sy1, sx0:sx1].astype(np.float32)
    c, s_ = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    u = ((xx - centre[0]) * c + (yy - centre[1]) * s_) / max(axes[0], 1e-3)
    v = (-(xx - centre[0]) * s_ + (yy - centre[1]) * c) / max(axes[1], 1e-3)
    path[sy0:sy1, sx0:sx1] += np.clip(1 - u * u - v * v, 0, None) ** power * height


def _cells(rng, label, path, outlines, ec, er, target) -> None:
    """2-10 blastomeres, fewer and smaller as fragmentation rises; stacked (overlapping)."""
    n = int(rng.integers(2, 11))
    cell_r = er * 0.9 * n ** -0.3 * (1.0 - 0.3 * target) * rng.uniform(0.92, 1.08)
    for _ in range(n):
        reach = max(0.0, er - cell_r * 1.02)
        rr, a = reach * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
        c = (ec[0] + rr * np.cos(a), ec[1] + rr * np.sin(a))
        axes = (cell_r * rng.uniform(0.9, 1.1), cell_r * rng.uniform(0.85, 1.05))
        ang = rng.uniform(0, 180)
        _ellipse(label, c, axes, ang, CELL)
        outlines *= 1 - 0.65 * _filled(outlines.shape, c, axes, ang)  # a cell on top dims the outlines below
        _ellipse(outlines, c, axes, ang, 1.0, thickness=max(1, round(size_of(label) / 400)))
        _dome(path, c, axes, ang, cell_r * 0.5)


def _fragments(rng, label, path, frag, ec, er, target) -> list:
    """Fragments until the target ratio is reached: each a cap of a few refractile bubbles
    on the surface of the cells (centred on the cells' outline, mostly lying over a cell),
    elongated along it, in an arc that widens with fragmentation (one side at grade A, all
    round at D)."""
    edge, _ = cv2.findContours((label == CELL).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    edge = max(edge, key=cv2.contourArea).reshape(-1, 2).astype(np.float32)
    angle = np.arctan2(edge[:, 1] - ec[1], edge[:, 0] - ec[0])
    phi0 = rng.uniform(-np.pi, np.pi)
    spread = np.radians(45 + 300 * min(1.0, target * 1.6))
    near = np.abs((angle - phi0 + np.pi) % (2 * np.pi) - np.pi) <= spread / 2
    candidates = edge[near] if near.any() else edge
    y0, y1 = max(0, int(ec[1] - er * 1.1)), int(ec[1] + er * 1.1) + 1
    x0, x1 = max(0, int(ec[0] - er * 1.1)), int(ec[0] + er * 1.1) + 1
    inside = (slice(y0, y1), slice(x0, x1))
    bubbles = []
    for _ in range(60):
        px, py = candidates[rng.integers(len(candidates))]
        normal = np.array([px - ec[0], py - ec[1]]) / (np.hypot(px - ec[0], py - ec[1]) + 1e-6)
        d = 2 * er * float(np.exp(rng.uniform(np.log(0.08), np.log(0.3))))  # median ~0.15 of the embryo
        c = np.array([px, py]) - normal * d * rng.uniform(0.0, 0.35)  # mostly over the cell
        tangent = np.array([-normal[1], normal[0]])
        length = d * rng.uniform(0.5, 0.8)
        for _ in range(int(rng.integers(2, 8))):  # refractile bubbles packed into the cap
            bc = c + tangent * rng.uniform(-length, length) / 2 + normal * rng.uniform(-0.2, 0.2) * d
            r = d / 2 * rng.uniform(0.25, 0.55)
            axes, ang = (r, r * rng.uniform(0.75, 1.0)), rng.uniform(0, 180)
            _ellipse(label, bc, axes, ang, FRAGMENT)
            _ellipse(frag, bc, axes, ang, 1.0)
            _dome(path, bc, axes, ang, r * rng.uniform(0.6, 1.2))  # a sphere of its own: strong relief
            bubbles.append((bc, axes, ang))
        region = label[inside]
        if np.count_nonzero(region == FRAGMENT) >= target * np.count_nonzero(region):
            break
    return bubbles


def _specks(rng, img, frag, s) -> None:
    """Small refractile granules in the fragments: bright points with a dark halo."""
    ys, xs = np.nonzero(frag > 0)
    if not len(xs):
        return
    layer = np.zeros(img.shape, np.float32)
    for k in rng.integers(0, len(xs), size=int(rng.integers(3, 12))):
        cv2.circle(layer, (int(xs[k]), int(ys[k])), max(1, int(s * 0.003)), 1.0, -1, cv2.LINE_AA)
    img += cv2.GaussianBlur(layer, (0, 0), 0.7) * rng.uniform(15, 40)


def _cumulus(rng, img, fpath, grain, ec, zr, s) -> None:
    """Cumulus clumps and debris clinging outside the zona (label 0): clusters of bubbles and
    grain like fragments, so that where a cluster lies, not how it looks, makes it a fragment."""
    layer = np.zeros(img.shape, np.float32)
    for _ in range(int(rng.integers(0, 14))):
        t, rad = rng.uniform(0, 2 * np.pi), zr * rng.uniform(0.98, 1.5)  # some touch the zona's edge
        c = np.array([ec[0] + rad * np.cos(t), ec[1] + rad * np.sin(t)])
        if rng.random() < 0.25:
            _blobs(layer, rng, c, zr * 0.12 + 1, int(rng.integers(4, 14)), zr * 0.08 + 1.5)
            continue
        for _ in range(int(rng.integers(2, 12))):
            bc = c + rng.normal(0, zr * 0.08, 2)
            r = zr * rng.uniform(0.015, 0.06)
            _ellipse(layer, bc, (r, r * rng.uniform(0.75, 1.0)), 0, 1.0)
            _dome(fpath, bc, (r, r), 0, r * rng.uniform(0.6, 1.2))
    img += np.clip(layer, 0, 1) * (grain * 30 + rng.uniform(-25, 25))
