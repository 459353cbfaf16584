"""`edgegrade grade PATH...`: still images or folders -> grades.csv, grades.json, overlay PNGs.
An image that cannot be read is a row saying so; none readable is an error, some an
`Incomplete` run (exit 1)."""

import csv
import json
from dataclasses import replace
from pathlib import Path

from edgegrade.configs import WatchConfig
from edgegrade.errors import DataError, EdgegradeError, Incomplete
from edgegrade.files import atomic_file, atomic_write_text
from edgegrade.imageio import is_image, read_image, write_image
from edgegrade.runtime.overlay import draw
from edgegrade.runtime.pipeline import Pipeline
from edgegrade.runtime.sinks import ensure_writable
from edgegrade.runtime.sources import Frame

FIELDS = ["image", "state", "grade", "ratio", "mask_ratio", "review", "inclusions", "inclusion_area_px", "roi", "error",
          "summary"]


def expand(paths) -> list[Path]:
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.is_file() and is_image(f))
        elif p.is_file():
            files.append(p)
        else:
            raise EdgegradeError(f"{p}: no such file or folder")
    if not files:
        raise EdgegradeError(f"no images in {', '.join(map(str, paths))}")
    return files


def grade_stills(cfg: WatchConfig, paths, warn=lambda message: None) -> list[dict]:
    """cfg.out gets the CSV, JSON and overlays; every still stands alone (no smoothing)."""
    out = ensure_writable(Path(cfg.out))
    rows = []
    with Pipeline(replace(cfg, smooth=1), warn=warn) as pipe:
        for i, path in enumerate(expand(paths)):
            try:
                image = read_image(path)
            except DataError as exc:
                rows.append({"image": str(path), "state": "unreadable", "error": str(exc)})
                continue
            pipe.reset()  # no history (grade, box) across unrelated stills
            result = pipe.process(Frame(i, 0.0, image, path.name))
            write_image(out / f"{path.stem}_overlay.png", draw(image, result))
            rows.append({"image": str(path), "state": result.state, "summary": result.summary, "grade": result.grade,
                         "ratio": result.ratio, "mask_ratio": result.mask_ratio, "review": result.review,
                         "roi": "" if result.roi is None else "{x},{y},{w},{h}".format(**result.roi),
                         **({"inclusions": result.inclusions["count"], "inclusion_area_px": result.inclusions["area_px"]}
                            if result.inclusions else {})})
    with atomic_file(out / "grades.csv", "w") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_text(out / "grades.json", json.dumps(rows, indent=2))
    return rows


def verdict(rows: list[dict], out) -> EdgegradeError | None:
    """None read: an error; some unread: Incomplete (their rows say why)."""
    unread = sum(r["state"] == "unreadable" for r in rows)
    if unread == len(rows):
        return EdgegradeError(f"none of the {unread} image(s) could be read (see {out}/grades.csv)")
    if unread:
        return Incomplete(f"{unread} of {len(rows)} image(s) could not be read (see {out}/grades.csv)")
    return None
