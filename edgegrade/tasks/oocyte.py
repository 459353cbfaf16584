"""Oocyte inclusions (Andreini et al., SMANet): inclusions counted and measured in the
ooplasm; no ratio, no grade."""

import cv2
import numpy as np

from edgegrade.oocytes import add_spots, render_oocyte, write_oocyte_dataset
from edgegrade.postprocess import MIN_REGION_SHARE, binarise, count_instances, mask_ratio
from edgegrade.tasks import Reading, Task


def oocyte_region(mask: np.ndarray) -> np.ndarray:
    """The convex hull of the largest region of an ooplasm mask: an oocyte is convex, and the
    hull keeps inclusions that a ragged predicted outline would cut off."""
    found, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = np.zeros(mask.shape, np.uint8)
    if found:
        cv2.drawContours(out, [cv2.convexHull(max(found, key=cv2.contourArea))], -1, 1, -1)
    return out.astype(bool)


def read(probs, raw_ratio, scale, smooth, review_threshold) -> Reading:
    """Inclusions inside the oocyte (dark specks in the medium are not counted), their area in
    frame pixels and their share of the ooplasm; no oocyte when the model finds none."""
    spots, ooplasm = binarise(probs)
    ooplasm = oocyte_region(ooplasm)
    if ooplasm.mean() < MIN_REGION_SHARE:
        return Reading(state="no-oocyte")
    spots &= ooplasm
    count, area = count_instances(spots)
    info = {"count": count, "area_px": round(area / scale ** 2, 1), "share": round(float(mask_ratio(spots, ooplasm)), 5)}
    return Reading(state="analysed", target=spots, region=ooplasm, inclusions=info)


def headline(result) -> tuple[str, list[str], tuple]:
    if result.inclusions is None:
        return "No oocyte in view", [], (200, 200, 200)
    inc = result.inclusions
    lines = [f"area {inc['area_px']:.0f} px ({100 * inc['share']:.2f}% of ooplasm)"]
    return f"Inclusions: {inc['count']}", lines, (80, 200, 80) if inc["count"] == 0 else (40, 140, 255)


def random_label_map(rng, size, templates) -> np.ndarray:
    """The paper's recipe: an ooplasm shape from the training masks, turned and mirrored, with
    1-5 spots added."""
    label = np.rot90(templates[rng.integers(len(templates))], int(rng.integers(4)))
    label = np.ascontiguousarray(label[:, ::-1] if rng.integers(2) else label)
    add_spots(label, rng)
    return label


def write_synthetic(out, n, *, size, seed, grade_only=0, relief=0.0, progress=True) -> dict:
    """Oocytes have no grade (grade_only is ignored) and one look (so has relief)."""
    return write_oocyte_dataset(out, n, size=size, seed=seed, progress=progress)


OOCYTE = Task(
    name="oocyte-inclusions", region="oocyte", target="inclusion", classes=("ooplasm", "inclusion"), graded=False,
    # measured: at 1e-4 SMANet found no inclusions in 5 epochs; at 1e-3 it did (README)
    recipes={"attnregdeeplab": "seg", "smanet": "seg"}, crop="full", lr=1e-3, lr_from_weights=1e-3, synth_size=0,
    metrics=(("pixel_acc", "pixel accuracy"), ("miou", "mean IoU"), ("dice", "Dice")),
    render=render_oocyte, write_synthetic=write_synthetic, synth_line="wrote {paired} oocytes ({inclusions} inclusions) to {out}",
    random_label_map=random_label_map, read=read, headline=headline, ablate="edgegrade.train.ablate:ablate_oocytes",
)
