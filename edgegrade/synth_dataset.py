"""Synthetic embryo datasets in the folder format: the classic renderer (edgegrade.synth) and
a share drawn by the EmbryoScope-style one (edgegrade.synth_relief)."""

import json
from pathlib import Path

import numpy as np

from edgegrade.datasets import write_labels_csv
from edgegrade.grading import GRADES, grade_of
from edgegrade.imageio import write_image
from edgegrade.synth import render_embryo
from edgegrade.synth_relief import render_relief

# Bumped whenever a renderer's images change: figures made on synthetic data name it (README),
# and a changed renderer means running them again. Datasets record it in DIR/synth.json.
RENDERER = "embryo-v2"  # v2: the relief renderer (synth_relief) joined; classic images as in v1


def write_dataset(out, n: int, size: int = 256, seed: int = 0, grade_only: int = 0, relief: float = 0.0,
                  progress: bool = True) -> dict:
    """n paired images (images/, masks/) plus grade_only images that have only a grade row in
    labels.csv. Each image is its own embryo. A share `relief` of them is drawn as EmbryoScope
    frames through relief optics (synth_relief.render_relief), chosen per image from its own
    stream, so the classic images of a seed are the same whatever the share."""
    from tqdm import tqdm

    out = Path(out)
    rows = []
    counts = {g.name: 0 for g in GRADES}
    for i in tqdm(range(n + grade_only), desc="synth", unit="img", disable=not progress):
        rng = np.random.default_rng([seed, i])
        relief_style = relief and np.random.default_rng([seed, i, 1]).random() < relief
        r = render_relief(rng, size) if relief_style else render_embryo(rng, size)
        name = f"syn{seed}_{i:05d}"
        write_image(out / "images" / f"{name}.png", r.image)
        grade = grade_of(r.ratio)
        counts[grade] += 1
        if i < n:
            write_image(out / "masks" / f"{name}.png", r.label)
            rows.append({"image": f"{name}.png", "grade": "", "ratio": "", "embryo_id": name})
        else:
            rows.append({"image": f"{name}.png", "grade": grade, "ratio": "", "embryo_id": name})
    write_labels_csv(out, rows)
    info = {"paired": n, "grade_only": grade_only, "grades": counts, "out": str(out)}
    (out / "synth.json").write_text(json.dumps({**info, "renderer": RENDERER, "relief": relief, "seed": seed,
                                                "size": size}, indent=2))
    return info
