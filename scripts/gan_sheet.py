"""A picture of generated training images beside references: one row per dataset folder
(images/ + masks/), label maps drawn on (cyan cell / ooplasm, red fragment / inclusion).

    python scripts/gan_sheet.py --row "reference:runs/ablate_oocytes/real" \
        --row "pix2pix:runs/ablate_oocytes/synthetic" --out docs/oocyte_gan.jpg
"""

import argparse
from pathlib import Path

import cv2
import numpy as np
from contact_sheet import tile

from edgegrade import datasets
from edgegrade.imageio import read_image, read_label_map


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--row", action="append", required=True, help="CAPTION:DATASET_DIR")
    p.add_argument("--n", type=int, default=5, help="Images per row.")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    rows = []
    for spec in a.row:
        caption, folder = spec.split(":", 1)
        tiles = []
        for s in datasets.load(folder, require_paired=True).paired[: a.n]:
            image = read_image(s.image)
            tiles.append(tile(image, read_label_map(s.mask, image.shape), f"{caption} {s.name[-5:]}"))
        tiles += [np.zeros_like(tiles[0])] * (a.n - len(tiles))
        rows.append(np.hstack(tiles))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(a.out, np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
