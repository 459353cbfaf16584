"""Full microscope frames with the true embryo box: a rendered embryo (edgegrade.synth) placed
at a chosen magnification, off-centre, in a dish scene with the distractors a localiser must
ignore: the bright well edge and the dark beyond it, a holding pipette, cumulus debris, dust,
burnt-in text and uneven illumination.

The truth box is the bounding box of the cell-or-fragment pixels inside the frame, the same
definition the benchmark uses for the annotated real frames.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from edgegrade.grading import CELL
from edgegrade.preprocess import square_crop
from edgegrade.synth import _stamp, render_embryo

MAX_RENDER = 512  # embryos drawn larger are upsampled (optics blur the fine grain anyway)


@dataclass
class Scene:
    image: np.ndarray  # uint8 grey, height x width
    label: np.ndarray  # uint8 label map, same size
    box: tuple  # true embryo box x, y, w, h (cells and fragments), in the frame
    fraction: float  # zona diameter / frame width


def _blobs(layer, rng, centre, spread, n, radius):
    for _ in range(n):
        c = centre + rng.normal(0, spread, 2)
        r = max(1, int(radius * rng.uniform(0.4, 1.0)))
        cv2.circle(layer, (int(c[0]), int(c[1])), r, float(rng.uniform(0.5, 1.0)), -1, cv2.LINE_AA)


def _relief(patch: np.ndarray, rng: np.random.Generator, zona_d: float) -> np.ndarray:
    """The embryo (medium subtracted) as strong modulation-contrast optics show it: what they
    image is the gradient of the optical path along one direction, so a cell is a disc of
    nearly the medium's grey with one bright and one dark rim, not the dark disc of the
    rendered embryo. Real EmbryoScope frames look like this; the localiser trained on dark
    discs only boxed such cells short where they met the dark beyond the well's wall."""
    t = rng.uniform(0, 2 * np.pi)
    smooth = cv2.GaussianBlur(patch, (0, 0), max(0.8, zona_d * rng.uniform(0.004, 0.01)))
    grad = np.cos(t) * cv2.Sobel(smooth, cv2.CV_32F, 1, 0) + np.sin(t) * cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
    grad *= rng.uniform(25, 60) / (np.percentile(np.abs(grad), 99.5) + 1e-3)
    return patch * rng.uniform(0.1, 0.6) + grad


def magnification(rng: np.random.Generator) -> float:
    """A zona diameter over frame width, log-uniform over 0.08-0.9: the magnifications from a
    whole dish field to an EmbryoScope-like crop."""
    return float(np.exp(rng.uniform(np.log(0.08), np.log(0.9))))


def render_scene(rng: np.random.Generator, width: int = 1280, height: int = 960,
                 fraction: float | None = None, grade: str | None = None, embryo: bool = True,
                 relief: float = 0.0, zona: float = 0.0) -> Scene:
    """One frame; `fraction` (zona diameter over frame width) defaults to a `magnification`
    draw. embryo=False leaves the well empty (the 'no embryo in view' case). `relief` is the
    chance that the embryo is seen through strong Hoffman/DIC optics (see `_relief`), `zona`
    the chance that its corona is a thick zona as granular as the cells (see `_corona`). Both
    default to 0, which draws the same scenes with an embryo as before they existed (an
    empty well has drawn a cell grain strength too since `zona` came, so it is another
    empty well than before). The steps draw from `rng` in this order."""
    f = magnification(rng) if fraction is None else float(fraction)
    zona_d = f * width
    patch, alpha, plabel, medium, k = _embryo_patch(rng, zona_d, grade, relief)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img, pos, level = _dish(rng, width, height, zona_d, xx, yy)
    label = np.zeros((height, width), np.uint8)
    if embryo:
        _paste(img, label, patch, alpha, plabel, medium, pos)
    _clutter(rng, img, label, pos, zona_d, k, level, embryo, zona, xx, yy)
    _pipette(rng, img, label, pos, zona_d)
    out = _camera(rng, img, xx, yy)
    label[out == 255] = 0  # the stamp's white box can cover a cell at the frame edge
    return Scene(out, label, true_box(label), f)


def _embryo_patch(rng, zona_d, grade, relief):
    """A rendered embryo as a patch to paste (medium subtracted): the zona and a little medium
    around it, cut out with a soft disc, centred on the zona and padded where it leaves the
    render, so that the zona lands where it is pasted. -> (patch, alpha, label, medium grey,
    frame pixels per render pixel), resized to the frame's scale."""
    side = min(MAX_RENDER, max(64, int(zona_d / 0.57)))
    for _ in range(50):  # one render in eight cuts the zona at its edge: a straight seam in the dish
        emb = render_embryo(rng, side, grade)
        ex, ey, ed, _ = emb.box
        if ex >= 0 and ey >= 0 and ex + ed <= side and ey + ed <= side:
            break
    k = zona_d / ed  # render pixels -> frame pixels
    cut = int(ed * 0.68)
    cx, cy = round(ex + ed / 2), round(ey + ed / 2)
    yy, xx = np.mgrid[0:emb.image.shape[0], 0:emb.image.shape[1]].astype(np.float32)
    ring = np.abs(np.hypot(xx - cx, yy - cy) / (ed / 2) - 1.2) < 0.1  # medium just outside the zona
    medium = float(np.median(emb.image[ring])) if ring.any() else float(np.median(emb.image))
    patch = square_crop(emb.image.astype(np.float32), cx - cut, cy - cut, 2 * cut, medium) - medium
    if rng.random() < relief:
        patch = _relief(patch, rng, ed)
    plabel = square_crop(emb.label, cx - cut, cy - cut, 2 * cut, 0)
    yy, xx = np.mgrid[0:2 * cut, 0:2 * cut].astype(np.float32)
    d = np.hypot(xx - cut, yy - cut) / (ed / 2)
    alpha = np.clip((1.3 - d) / 0.2, 0, 1)
    size = (max(1, round(patch.shape[1] * k)), max(1, round(patch.shape[0] * k)))
    patch = cv2.resize(patch, size, interpolation=cv2.INTER_LINEAR)
    alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)
    plabel = cv2.resize(plabel, size, interpolation=cv2.INTER_NEAREST)
    return patch, alpha, plabel, medium, k


def _dish(rng, width, height, zona_d, xx, yy):
    """Medium and a well around the embryo (bright rim inside its edge, dark beyond); the
    embryo anywhere in the well, in a third of the scenes against its wall (as in time-lapse
    wells), there up to an eighth of its width into the wall's shadow (the wall slopes): the
    dark then borders, or dims, the cells. -> (image, embryo centre, medium grey)."""
    level = rng.uniform(150, 190)
    img = np.full((height, width), level, np.float32)
    pos = np.array([rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height])
    well_r = zona_d / 2 * rng.uniform(1.5, 3.0)
    t, zr = rng.uniform(0, 2 * np.pi), zona_d / 2
    off = well_r - zr + rng.uniform(0, 0.12) * zona_d if rng.random() < 0.33 else rng.uniform(0, 0.8) * (well_r - zr)
    well_c = pos + off * np.array([np.cos(t), np.sin(t)])
    dw = np.hypot(xx - well_c[0], yy - well_c[1]) - well_r
    img += np.exp(-((dw + 0.06 * well_r) / (0.06 * well_r)) ** 2) * rng.uniform(50, 90)
    img -= np.clip(dw / (0.05 * well_r), 0, 1) * (level - rng.uniform(15, 60))
    return img, pos, level


def _paste(img, label, patch, alpha, plabel, medium, pos) -> None:
    """Transmitted light: the embryo scales the dish's light, so against the well's wall it
    stays in the wall's shadow (adding a flat patch lit a disc of medium over the dark)."""
    height, width = img.shape
    size = (patch.shape[1], patch.shape[0])
    px, py = int(pos[0] - size[0] / 2), int(pos[1] - size[1] / 2)
    fx0, fy0 = max(0, px), max(0, py)
    fx1, fy1 = min(width, px + size[0]), min(height, py + size[1])
    if fx1 > fx0 and fy1 > fy0:
        src = (slice(fy0 - py, fy1 - py), slice(fx0 - px, fx1 - px))
        img[fy0:fy1, fx0:fx1] = img[fy0:fy1, fx0:fx1] * (1 + alpha[src] * patch[src] / medium)
        label[fy0:fy1, fx0:fx1] = plabel[src]


def _clutter(rng, img, label, pos, zona_d, k, level, embryo, zona, xx, yy) -> None:
    """Distractors, none of them labelled, lit as the dish is (none shine out of the dark):
    granular cytoplasm, a corona and cumulus clumps at the zona, debris, dust."""
    height, width = img.shape
    light = np.clip(img / level, 0.1, 1.5)
    clutter = np.zeros((height, width), np.float32)
    grain = cv2.GaussianBlur(rng.standard_normal((height, width), dtype=np.float32), (0, 0), max(0.8, k * 0.6))
    cell_grain = rng.uniform(0, 40)
    if embryo:  # granular cytoplasm, from faint to the coarse grain of real blastomeres
        img += (label == CELL) * grain * cell_grain
    if embryo and rng.random() < 0.7:
        _corona(rng, img, clutter, label, light, grain, cell_grain, pos, zona_d, zona, xx, yy)
    for _ in range(int(rng.integers(0, 6))):  # cumulus clumps and debris
        c = np.array([rng.uniform(0, width), rng.uniform(0, height)])
        if np.hypot(*(c - pos)) < zona_d * 0.7:
            continue
        _blobs(clutter, rng, c, zona_d * 0.06 + 2, int(rng.integers(3, 12)), zona_d * 0.03 + 1.5)
    img += clutter * light * (grain * 40 + rng.uniform(-20, 30))
    for _ in range(int(rng.integers(0, 12))):  # dust on the optics: soft dark spots
        c = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        spot = np.zeros((height, width), np.float32)
        cv2.circle(spot, c, int(rng.uniform(2, 10)), 1.0, -1)
        img -= cv2.GaussianBlur(spot, (0, 0), 3) * rng.uniform(5, 20)


def _corona(rng, img, clutter, label, light, grain, cell_grain, pos, zona_d, zona, xx, yy) -> None:
    """A granular corona and cumulus clumps clinging to the zona. In half the scenes the grain
    reaches in to the cells (a thick, granular zona), as in EmbryoScope frames: grain next to a
    cell is not the embryo."""
    zr = zona_d / 2
    d = np.hypot(xx - pos[0], yy - pos[1])
    reach_in = zr * (0.98 if rng.random() < 0.5 else rng.uniform(0.6, 0.95))
    corona = np.clip((zr * rng.uniform(1.15, 1.5) - d) / (0.05 * zr + 1), 0, 1) * (d > reach_in) * (label == 0)
    amp, offset = rng.uniform(12, 30), rng.uniform(-8, 12)
    if zona and rng.random() < zona:
        # a thick zona as the real EmbryoScope frames show it: a band 20-25 grey levels
        # under the medium, its fine grain nearly as strong as the cells' (high-pass std
        # 13 against 17-20); where the cells differ only by their rims, grain and shade
        # must not pass for cells (the net gave such a band 0.3-0.5)
        amp, offset = max(12.0, cell_grain * rng.uniform(0.7, 1.2)), rng.uniform(-30, -5)
    img += corona * light * (grain * amp + offset)
    for _ in range(int(rng.integers(1, 7))):
        t, rad = rng.uniform(0, 2 * np.pi), zr * rng.uniform(1.0, 1.5)
        _blobs(clutter, rng, pos + rad * np.array([np.cos(t), np.sin(t)]), zr * 0.1 + 1,
               int(rng.integers(4, 14)), zr * 0.07 + 1.5)


def _pipette(rng, img, label, pos, zona_d) -> None:
    """In 40% of the scenes a holding pipette: a glass tube from the frame edge whose round
    end touches the zona (glass never lies over the embryo)."""
    if rng.random() >= 0.4:
        return
    height, width = img.shape
    side = -1 if rng.random() < 0.5 else 1
    tube_r = zona_d * rng.uniform(0.25, 0.4)
    tip = pos + np.array([side * (zona_d * 0.52 + tube_r), 0])
    end = (0 if side < 0 else width, tip[1] + rng.normal(0, 0.1) * zona_d)
    tube = np.zeros((height, width), np.float32)
    cv2.line(tube, (int(tip[0]), int(tip[1])), (int(end[0]), int(end[1])), 1.0, max(2, int(2 * tube_r)))
    edge = cv2.morphologyEx(tube, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    img += cv2.GaussianBlur(edge, (0, 0), 1.2) * rng.uniform(-60, -30) + tube * rng.uniform(-10, 15)
    label[tube > 0.5] = 0


def _camera(rng, img, xx, yy) -> np.ndarray:
    """Illumination tilt, vignetting, defocus, noise and burnt-in text -> uint8."""
    height, width = img.shape
    g = rng.uniform(-0.25, 0.25, 2)
    img *= 1 + g[0] * (xx / width - 0.5) + g[1] * (yy / height - 0.5)
    img -= (np.hypot(xx / width - 0.5, yy / height - 0.5) ** 2) * rng.uniform(0, 80)  # vignetting
    sigma = rng.uniform(0, 1.2)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img += rng.standard_normal((height, width), dtype=np.float32) * rng.uniform(1.5, 4.0)
    out = np.clip(img, 0, 255).astype(np.uint8)
    _stamp(out, rng, float(max(width, height)))
    return out


def true_box(label: np.ndarray) -> tuple | None:
    """Bounding box (x, y, w, h) of the cell-or-fragment pixels; None when there are none."""
    ys, xs = np.nonzero(label)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)
