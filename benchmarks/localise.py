"""Embryo localiser: box IoU against the truth and cost per frame.

    python benchmarks/localise.py [--per-bin 40] [--out runs/localise]

Synthetic full frames (1280x960 and 1920x1080, seeds the localiser never trained on) in four
magnification bins, a fifth group seen through strong relief optics (scenes._relief), a sixth
seen so with a thick granular zona (render_scene's `zona`; these two are not in "synthetic
(all)", which stays comparable with earlier runs), and the annotated real frames
in ../shared/data/cleavage-real (truth: the bounding box of the cell-or-fragment mask).
Cost: one 1920x1080 frame on one core, the full two-pass search and the tracked (fine pass
only) step. Writes OUT/localise.json and OUT/worst.jpg (the 8 worst cases; truth green,
found red, IoU printed), OUT/real.jpg (the real frames, drawn the same way) and prints a
table.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from edgegrade.localise import Localiser, iou
from edgegrade.scenes import magnification, render_scene, true_box

BINS = ((0.08, 0.15), (0.15, 0.3), (0.3, 0.6), (0.6, 0.9))
SHARED = Path(os.environ.get("EDGEGRADE_SHARED", Path(__file__).resolve().parents[2] / "shared"))

a = argparse.ArgumentParser()
a.add_argument("--per-bin", type=int, default=40)
a.add_argument("--out", default="runs/localise")
a.add_argument("--weights", default=None)
args = a.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
cv2.setNumThreads(1)
loc = Localiser(args.weights) if args.weights else Localiser()

cases = []  # (group, name, image, truth)
rng = np.random.default_rng(777)


def add_synthetic(group, name, i, seed, fraction, **optics):
    """Case i of a synthetic group (1280x960 and 1920x1080 alternate), unless it is empty."""
    w, h = (1920, 1080) if i % 2 else (1280, 960)
    s = render_scene(np.random.default_rng(seed), w, h, fraction=fraction, **optics)
    if s.box is not None:
        cases.append((group, name, s.image, s.box))


bin_groups = [f"synthetic {low:.2f}-{high:.2f}" for low, high in BINS]  # these make "synthetic (all)"
for group, (low, high) in zip(bin_groups, BINS):
    for i in range(args.per_bin):
        add_synthetic(group, f"scene{int(low * 100)}_{i}", i,
                      [777, int(low * 100), i], rng.uniform(low, high))
# all magnifications, the embryo through strong relief optics, then also with a thick zona
for group, prefix, tag, optics in (("synthetic relief 0.08-0.90", "relief", 778, {"relief": 1.0}),
                                   ("synthetic relief, thick zona 0.08-0.90", "zona", 779,
                                    {"relief": 1.0, "zona": 1.0})):
    for i in range(args.per_bin):
        add_synthetic(group, f"{prefix}{i}", i, [tag, i], magnification(rng), **optics)
real = SHARED / "data" / "cleavage-real"
if real.is_dir():
    from edgegrade.imageio import read_image, read_label_map
    from edgegrade.importers import import_labelme

    tmp = Path(tempfile.mkdtemp())
    import_labelme(real, tmp)
    for p in sorted((tmp / "images").iterdir()):
        image = read_image(p)
        label = read_label_map(tmp / "masks" / f"{p.stem}.png", image.shape)
        cases.append(("real EmbryoScope", p.name, image, true_box(label)))
else:
    print(f"real frames not found at {real}; synthetic only", file=sys.stderr)

rows = []
for group, name, image, truth in cases:
    found = loc(image)
    score = 0.0 if found is None else iou(found, truth)
    rows.append({"group": group, "name": name, "iou": round(score, 4), "truth": truth,
                 "found": None if found is None else found.to_dict()})

groups = {}
for r in rows:
    groups.setdefault(r["group"], []).append(r["iou"])
summary = {g: {"n": len(v), "mean_iou": round(float(np.mean(v)), 4), "min_iou": round(float(np.min(v)), 4),
               "share_below_0.7": round(float(np.mean(np.array(v) < 0.7)), 3)} for g, v in groups.items()}
synthetic = [r["iou"] for r in rows if r["group"] in bin_groups]
summary["synthetic (all)"] = {"n": len(synthetic), "mean_iou": round(float(np.mean(synthetic)), 4)}

frame = render_scene(np.random.default_rng(5), 1920, 1080, fraction=0.25).image
hint = loc(frame)


def ms(fn, n=200):
    for _ in range(10):
        fn()
    t = []
    for _ in range(n):
        s = time.perf_counter()
        fn()
        t.append(1000 * (time.perf_counter() - s))
    return round(float(np.median(t)), 3), round(float(np.percentile(t, 95)), 3)


cost = {"search_1920x1080_ms_p50_p95": ms(lambda: loc(frame)),
        "tracked_1920x1080_ms_p50_p95": ms(lambda: loc(frame, hint))}

def tile(i):
    """Case i drawn at 400 px wide: truth green, found red, IoU and name printed."""
    _, name, image, truth = cases[i]
    v = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
    x, y, w, h = truth
    th = max(2, v.shape[1] // 300)
    cv2.rectangle(v, (x, y), (x + w, y + h), (0, 200, 0), th)
    f = rows[i]["found"]
    if f:
        cv2.rectangle(v, (f["x"], f["y"]), (f["x"] + f["w"], f["y"] + f["h"]), (0, 0, 255), th)
    v = cv2.resize(v, (400, round(400 * v.shape[0] / v.shape[1])))
    v = cv2.copyMakeBorder(v, 0, 300 - v.shape[0], 0, 0, cv2.BORDER_CONSTANT) if v.shape[0] < 300 else v[:300]
    cv2.putText(v, f"IoU {rows[i]['iou']:.2f} {name[:28]}", (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 255), 1)
    return v


def sheet(indices, path):
    tiles = [tile(i) for i in indices]
    while len(tiles) % 4:
        tiles.append(np.zeros_like(tiles[0]))
    cv2.imwrite(str(path), np.vstack([np.hstack(tiles[i:i + 4]) for i in range(0, len(tiles), 4)]))


sheet(sorted(range(len(rows)), key=lambda i: rows[i]["iou"])[:8], out / "worst.jpg")
real_rows = [i for i, r in enumerate(rows) if r["group"].startswith("real")]
if real_rows:
    sheet(real_rows, out / "real.jpg")

(out / "localise.json").write_text(json.dumps({"summary": summary, "cost": cost, "rows": rows}, indent=2))
print(f"{'group':28s} {'n':>4s} {'mean IoU':>9s} {'min IoU':>8s} {'<0.7':>6s}")
for g, s in summary.items():
    print(f"{g:28s} {s['n']:4d} {s['mean_iou']:9.3f} {s.get('min_iou', float('nan')):8.3f} "
          f"{s.get('share_below_0.7', float('nan')):6.2f}")
print(f"cost on one core, 1920x1080: search p50 {cost['search_1920x1080_ms_p50_p95'][0]} ms, "
      f"tracked p50 {cost['tracked_1920x1080_ms_p50_p95'][0]} ms")
print(f"wrote {out / 'localise.json'}, {out / 'worst.jpg'} and (with the real frames) {out / 'real.jpg'}")
