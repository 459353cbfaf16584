"""Embryo fragmentation (AttnRegDeepLab): fragments and the embryo, a ratio and its grade."""

import numpy as np

from edgegrade.grading import grade_of
from edgegrade.postprocess import MIN_REGION_SHARE, binarise, mask_ratio
from edgegrade.synth import render_embryo
from edgegrade.synth_dataset import write_dataset
from edgegrade.tasks import Reading, Task

GRADE_COLOURS = {"A": (80, 200, 80), "B": (60, 200, 220), "C": (40, 140, 255), "D": (60, 60, 230)}  # BGR


def read(probs, raw_ratio, scale, smooth, review_threshold) -> Reading:
    """Grade from the grader's ratio (the mask's when a bundle has no ratio output), the mask's
    ratio beside it, REVIEW when the two disagree; no embryo (the raw figures kept for the log,
    nothing graded) when the assistant finds none in the crop."""
    frag, emb = binarise(probs) if probs is not None else (None, None)
    raw_mask_ratio = mask_ratio(frag, emb) if frag is not None else None
    if emb is not None and emb.mean() < MIN_REGION_SHARE:
        return Reading(state="no-embryo", raw_ratio=raw_ratio, raw_mask_ratio=raw_mask_ratio)
    raw_ratio = raw_mask_ratio if raw_ratio is None else raw_ratio
    ratio, m_ratio = smooth(raw_ratio, raw_mask_ratio)
    return Reading(state="graded", target=frag, region=emb, grade=grade_of(ratio), ratio=ratio, mask_ratio=m_ratio,
                   raw_ratio=raw_ratio, raw_mask_ratio=raw_mask_ratio,
                   review=m_ratio is not None and abs(ratio - m_ratio) > review_threshold)


def headline(result) -> tuple[str, list[str], tuple]:
    if result.grade is None:
        return "No embryo in view", [], (200, 200, 200)
    lines = [f"fragmentation {100 * result.ratio:.1f}%"]
    if result.mask_ratio is not None:
        lines.append(f"from mask {100 * result.mask_ratio:.1f}%")
    return f"Grade {result.grade}", lines, GRADE_COLOURS[result.grade]


def random_label_map(rng, size, templates) -> np.ndarray:
    return render_embryo(rng, size).label


EMBRYO = Task(
    name="embryo-fragmentation", region="embryo", target="fragment", classes=("cell", "fragment"), graded=True,
    recipes={"attnregdeeplab": "dual", "smanet": "s1"}, crop="embryo", synth_size=640,
    # from scratch at width 16 on a CPU, 1e-3 learns in a few epochs where the paper's 1e-4 (with
    # ImageNet weights) does not (README, Train); fine-tuning keeps the paper's
    lr=1e-3, lr_from_weights=1e-4,
    metrics=(("dice", "Dice"), ("mae_direct", "MAE"), ("mae_mask", "MAE(mask)")),
    render=render_embryo, write_synthetic=write_dataset,
    synth_line="wrote {paired} paired + {grade_only} grade-only images to {out}; grades {grades}",
    random_label_map=random_label_map, read=read, headline=headline, ablate="edgegrade.train.ablate:ablate",
)
