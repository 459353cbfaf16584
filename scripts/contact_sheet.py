"""docs/contact_sheet.jpg: synthetic embryos of both renderers (classic; EmbryoScope relief
optics) beside the real EmbryoScope frames, each with its label map drawn on (cyan embryo, red
fragments).

    python scripts/contact_sheet.py [--real ../shared/data/cleavage-real] [--out docs/contact_sheet.jpg]
"""

import argparse
from pathlib import Path

import cv2
import numpy as np

from edgegrade.grading import fragment_ratio, grade_of
from edgegrade.importers import read_labelme
from edgegrade.synth import render_embryo
from edgegrade.synth_relief import render_relief

TILE = 300


def tile(image, label, caption):
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    out = cv2.cvtColor(cv2.resize(grey, (TILE, TILE), interpolation=cv2.INTER_AREA), cv2.COLOR_GRAY2BGR)
    lab = cv2.resize(label, (TILE, TILE), interpolation=cv2.INTER_NEAREST)
    for value, colour in ((1, (255, 200, 0)), (2, (40, 40, 255))):
        contours, _ = cv2.findContours((lab >= value).astype(np.uint8) if value == 1 else (lab == 2).astype(np.uint8),
                                       cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, colour, 1, cv2.LINE_AA)
    cv2.rectangle(out, (0, 0), (TILE, 22), (0, 0, 0), -1)
    cv2.putText(out, caption, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--real", default="../shared/data/cleavage-real")
    p.add_argument("--out", default="docs/contact_sheet.jpg")
    a = p.parse_args()
    rows = []
    for name, render in (("classic", render_embryo), ("relief", render_relief)):
        tiles = []
        for i, grade in enumerate("ABCD"):
            r = render(np.random.default_rng([7, i]), 640, grade=grade)
            tiles.append(tile(r.image, r.label, f"{name}, grade {grade_of(r.ratio)} ({100 * r.ratio:.0f}%)"))
        rows.append(np.hstack(tiles))
    real = sorted(Path(a.real).glob("*.json"))[::2][:4]
    if real:
        tiles = []
        for path in real:
            image, label = read_labelme(path)
            ratio = fragment_ratio(label)
            tiles.append(tile(image, label, f"real {path.stem[-6:]}, grade {grade_of(ratio)} ({100 * ratio:.0f}%)"))
        tiles += [np.zeros_like(tiles[0])] * (4 - len(tiles))
        rows.append(np.hstack(tiles))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(a.out, np.vstack(rows))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
