"""The pre-annotation loop measured and pictured for the README: `grade --labelme` on FRAMES,
`data import labelme` of what it wrote, and per frame the imported label map against the
predicted masks in frame pixels (Dice per channel) and the most points in one polygon; a sheet
of the first frames with the LabelMe polygons drawn as LabelMe shows them (outline and
vertices; cyan `cell`, red `fragment`).

    python scripts/prelabel_sheet.py bundles/pretrained FRAMES... --out docs/prelabel.jpg
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from edgegrade.configs import WatchConfig
from edgegrade.imageio import read_image, read_label_map
from edgegrade.metrics import dice
from edgegrade.prelabel import frame_masks
from edgegrade.runtime.pipeline import Pipeline
from edgegrade.runtime.sources import Frame

p = argparse.ArgumentParser()
p.add_argument("bundle")
p.add_argument("frames", nargs="+", type=Path)
p.add_argument("--out", type=Path, default=Path("docs/prelabel.jpg"))
p.add_argument("--show", type=int, default=3, help="Frames in the sheet.")
a = p.parse_args()
COLOURS = {"cell": (255, 200, 0), "fragment": (40, 40, 255)}

with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    frames = tmp / "frames"
    frames.mkdir()
    for src in a.frames:
        (frames / src.name).symlink_to(src.resolve())
    run = lambda *args: subprocess.run([sys.executable, "-m", "edgegrade", *map(str, args)], check=True,  # noqa: E731
                                       stdout=subprocess.DEVNULL)
    run("grade", "--bundle", a.bundle, frames, "--out", tmp / "graded", "--labelme")
    run("data", "import", "labelme", tmp / "graded" / "labelme", "--out", tmp / "data")
    tiles, rows = [], []
    with Pipeline(WatchConfig(bundle=a.bundle, smooth=1)) as pipe:
        for i, path in enumerate(sorted(frames.iterdir())):
            pipe.reset()
            image = read_image(path)
            r = pipe.process(Frame(i, 0.0, image, path.name))
            doc = json.loads((tmp / "graded" / "labelme" / f"{path.stem}.json").read_text())
            points = max((len(s["points"]) for s in doc["shapes"]), default=0)
            row = {"frame": path.name, "shapes": len(doc["shapes"]), "max_points": points}
            if r.region is not None:
                fragment, embryo = frame_masks(r.masks, r.box)
                label = read_label_map(tmp / "data" / "masks" / f"{path.stem}.png")
                row["dice_fragment"] = round(dice(label == 2, fragment), 4) if fragment.any() else None
                row["dice_embryo"] = round(dice(label > 0, embryo), 4)
            rows.append(row)
            print(json.dumps(row))
            if len(tiles) < a.show:
                canvas = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
                for s in doc["shapes"]:
                    pts = np.round(np.array(s["points"])).astype(np.int32)
                    colour = COLOURS.get(s["label"], (0, 255, 0))
                    cv2.polylines(canvas, [pts], True, colour, 2, cv2.LINE_AA)
                    for x, y in pts:
                        cv2.circle(canvas, (int(x), int(y)), 3, colour, -1, cv2.LINE_AA)
                side = 420
                scale = side / max(canvas.shape[:2])
                tiles.append(cv2.resize(canvas, (round(canvas.shape[1] * scale), round(canvas.shape[0] * scale)),
                                        interpolation=cv2.INTER_AREA))
    height = max(t.shape[0] for t in tiles)
    sheet = np.hstack([cv2.copyMakeBorder(t, 0, height - t.shape[0], 0, 4, cv2.BORDER_CONSTANT, value=(255, 255, 255))
                       for t in tiles])
    cv2.imwrite(str(a.out), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    found = [r for r in rows if r.get("dice_fragment") is not None]
    print(f"wrote {a.out}; {len(rows)} frames, {len(found)} with embryo and fragments: fragment Dice min "
          f"{min(r['dice_fragment'] for r in found):.3f}, embryo Dice min {min(r['dice_embryo'] for r in found):.3f}, "
          f"most points in a polygon {max(r['max_points'] for r in rows)}" if found else f"wrote {a.out}; no fragments found")
