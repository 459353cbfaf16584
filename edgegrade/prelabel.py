"""Pre-annotation: a prediction written as a LabelMe file for an annotator to correct
(`edgegrade grade --labelme`), which `edgegrade data import labelme` reads back.

The predicted masks are brought onto the frame first (the probabilities resized from the
model's crop and thresholded, so outlines are smooth in frame pixels, not the model's
staircase); each connected region's outline becomes one polygon, `cell` for the embryo (cell
or fragment) and `fragment` for fragments, painted in that order on import (fragments win),
as the data agreement says. Outlines are simplified (Douglas-Peucker, the tolerance grown
from half a pixel until at most MAX_POINTS remain), so an annotator drags a few dozen
points, not hundreds. A hole in a region (a gap between cells) is left out of its polygon by
a one-pixel slit from the outline (LabelMe polygons have no holes); a region or hole under
MIN_AREA frame pixels is left out (a speck no one would draw)."""

import base64
import json
import os
from pathlib import Path

import cv2
import numpy as np

from edgegrade.files import atomic_write_text
from edgegrade.importers import LABEL_VALUES
from edgegrade.postprocess import THRESHOLD

MAX_POINTS = 96  # per polygon: the ragged outline of a fragmented embryo needs that many for Dice >= 0.98
MIN_AREA = 6  # frame pixels
LABELME_VERSION = "5.2.1"  # the LabelMe 5 format (the lab's annotations in ../shared are 5.2.1)
CELL, FRAGMENT = "cell", "fragment"  # class names, as the importer reads them (LABEL_VALUES)


def frame_masks(probs: np.ndarray, box, threshold: float = THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """(2, H, W) model-space probabilities (fragment, embryo) and the crop's Letterbox ->
    (fragment, embryo) boolean masks in frame pixels; fragments count as embryo."""
    planes = box.to_frame(np.ascontiguousarray(probs.transpose(1, 2, 0), np.float32), cv2.INTER_LINEAR)
    fragment = planes[..., 0] > threshold
    return fragment, fragment | (planes[..., 1] > threshold)


def label_map(fragment: np.ndarray, embryo: np.ndarray) -> np.ndarray:
    """The label map (0 background, 1 cell, 2 fragment) of two frame masks."""
    return np.where(fragment, LABEL_VALUES[FRAGMENT], np.where(embryo, LABEL_VALUES[CELL], 0)).astype(np.uint8)


def simplify(contour: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """An outline with at most max_points vertices, as close as that allows."""
    eps = 0.5
    while True:
        approx = cv2.approxPolyDP(contour, eps, True)
        if len(approx) <= max_points:
            return approx.reshape(-1, 2)
        eps *= 1.25


def open_holes(mask: np.ndarray, min_area: int = MIN_AREA) -> np.ndarray:
    """The mask with a one-pixel slit from each hole (background enclosed by the region: a gap
    between cells) straight out to the nearest background, up, down, left or right, so that
    the region's outline runs in along the slit, around the hole and out again: one polygon
    without the hole (a LabelMe polygon has none). Filling that outline fills the slit back in."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).view(np.uint8), connectivity=4)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    holes = [k for k in range(1, n) if k not in edge and stats[k, cv2.CC_STAT_AREA] >= min_area]
    if not holes:
        return mask
    mask = mask.copy()
    for k in holes:
        x0, y0, w, h = stats[k, :4]
        first = lambda line: int(np.flatnonzero(line == k)[0])  # noqa: E731
        ends = {(-1, 0): (y0, x0 + first(labels[y0, x0:x0 + w])), (1, 0): (y0 + h - 1, x0 + first(labels[y0 + h - 1, x0:x0 + w])),
                (0, -1): (y0 + first(labels[y0:y0 + h, x0]), x0), (0, 1): (y0 + first(labels[y0:y0 + h, x0 + w - 1]), x0 + w - 1)}
        length, (y, x), (dy, dx) = min((_run(mask, start, step), start, step) for step, start in ends.items())
        for i in range(1, length + 1):
            mask[y + i * dy, x + i * dx] = False
    return mask


def _run(mask: np.ndarray, start: tuple, step: tuple) -> int:
    """Foreground pixels from `start` (excluded) in direction `step` before the background or the edge."""
    (y, x), (dy, dx), n = start, step, 0
    while 0 <= y + dy < mask.shape[0] and 0 <= x + dx < mask.shape[1] and mask[y + dy, x + dx]:
        y, x, n = y + dy, x + dx, n + 1
    return n


def outlines(mask: np.ndarray, max_points: int = MAX_POINTS, min_area: int = MIN_AREA) -> list[np.ndarray]:
    """One simplified polygon (Nx2 int frame points, N >= 3) per region of the mask, holes
    reached by a slit (`open_holes`)."""
    found, _ = cv2.findContours(open_holes(mask.astype(bool), min_area).view(np.uint8), cv2.RETR_EXTERNAL,
                                cv2.CHAIN_APPROX_NONE)
    polygons = []
    for c in found:
        if cv2.contourArea(c) + len(c) / 2 < min_area:  # area inside the centres + the border pixels' half
            continue
        poly = simplify(c, max_points)
        if len(poly) >= 3:
            polygons.append(poly)
    return polygons


def polygons(fragment: np.ndarray, embryo: np.ndarray, max_points: int = MAX_POINTS) -> list[tuple[str, np.ndarray]]:
    """(class, points) for every embryo region (`cell`) and fragment (`fragment`)."""
    return [(CELL, p) for p in outlines(embryo, max_points)] + [(FRAGMENT, p) for p in outlines(fragment, max_points)]


def labelme_doc(json_path: Path, image_path: Path, shape_hw, shapes: list[tuple[str, np.ndarray]],
                embed: bool = False) -> dict:
    """A LabelMe 5 document: the polygons in frame coordinates, `imagePath` relative to the
    JSON's folder, the image itself embedded only when asked."""
    rel = os.path.relpath(Path(image_path).resolve(), Path(json_path).resolve().parent)
    return {
        "version": LABELME_VERSION, "flags": {},
        "shapes": [{"label": name, "points": [[int(x), int(y)] for x, y in pts], "group_id": None,
                    "description": "edgegrade prediction", "shape_type": "polygon", "flags": {}}
                   for name, pts in shapes],
        "imagePath": Path(rel).as_posix(),
        "imageData": base64.b64encode(Path(image_path).read_bytes()).decode() if embed else None,
        "imageHeight": int(shape_hw[0]), "imageWidth": int(shape_hw[1]),
    }


def write_labelme(json_path, image_path, shape_hw, shapes, embed: bool = False) -> None:
    json_path = Path(json_path)
    atomic_write_text(json_path, json.dumps(labelme_doc(json_path, image_path, shape_hw, shapes, embed), indent=1))
