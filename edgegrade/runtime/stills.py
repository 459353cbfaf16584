"""`edgegrade grade PATH...`: still images or folders -> grades.csv, grades.json, overlay PNGs,
and with --labelme the predictions as LabelMe files to correct (edgegrade.prelabel). Each row
names the embryo and time its file name gives (edgegrade.timelapse; else the image is an
embryo of its own) and the bundle that graded it (OUT/models/ID.json describes it), which is
what `edgegrade report` reads. An image that cannot be read is a row saying so; none readable
is an error, some an `Incomplete` run (exit 1)."""

import csv
import json
from dataclasses import replace
from pathlib import Path

from edgegrade.configs import GradeConfig
from edgegrade import prelabel
from edgegrade.errors import DataError, EdgegradeError, Incomplete
from edgegrade.files import atomic_file, atomic_write_text
from edgegrade.imageio import is_image, read_image, write_image
from edgegrade.runtime.overlay import draw
from edgegrade.runtime.pipeline import Pipeline
from edgegrade.runtime.sinks import ensure_writable, record_bundle
from edgegrade.runtime.sources import Frame
from edgegrade.timelapse import parse_name

FIELDS = ["image", "embryo", "timepoint", "time_unit", "state", "grade", "ratio", "mask_ratio", "review", "inclusions",
          "inclusion_area_px", "roi", "bundle", "labelme", "error", "summary"]


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


def grade_stills(cfg: GradeConfig, paths, warn=lambda message: None) -> list[dict]:
    """cfg.out gets the CSV, JSON and overlays (and LabelMe files); every still stands alone
    (no smoothing)."""
    out = ensure_writable(Path(cfg.out))
    rows = []
    with Pipeline(replace(cfg, smooth=1), warn=warn) as pipe:
        record_bundle(out, pipe.provenance())
        for i, path in enumerate(expand(paths)):
            named = parse_name(path.name)
            where = {"image": str(path), "embryo": named.embryo if named else path.stem,
                     "timepoint": named.time if named else None, "time_unit": named.unit if named else None}
            try:
                image = read_image(path)
            except DataError as exc:
                rows.append({**where, "state": "unreadable", "error": str(exc)})
                continue
            pipe.reset()  # no history (grade, box) across unrelated stills
            result = pipe.process(Frame(i, 0.0, image, path.name))
            write_image(out / f"{path.stem}_overlay.png", draw(image, result))
            rows.append({**where, "state": result.state, "summary": result.summary, "grade": result.grade,
                         "ratio": result.ratio, "mask_ratio": result.mask_ratio, "review": result.review,
                         "roi": "" if result.roi is None else "{x},{y},{w},{h}".format(**result.roi),
                         "bundle": result.bundle,
                         **({"labelme": str(pre_annotate(out, path, image, result, cfg.labelme_embed))}
                            if cfg.labelme else {}),
                         **({"inclusions": result.inclusions["count"], "inclusion_area_px": result.inclusions["area_px"]}
                            if result.inclusions else {})})
    with atomic_file(out / "grades.csv", "w") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_text(out / "grades.json", json.dumps(rows, indent=2))
    return rows


def pre_annotate(out: Path, path: Path, image, result, embed: bool) -> Path:
    """OUT/labelme/NAME.json: the result's masks in frame pixels as LabelMe polygons (none
    where nothing was found: a file to draw on from scratch)."""
    shapes = []
    if result.masks is not None and result.region is not None:  # None: nothing in view
        shapes = prelabel.polygons(*prelabel.frame_masks(result.masks, result.box))
    target = out / "labelme" / f"{path.stem}.json"
    prelabel.write_labelme(target, path, image.shape, shapes, embed)
    return target


def verdict(rows: list[dict], out) -> EdgegradeError | None:
    """None read: an error; some unread: Incomplete (their rows say why)."""
    unread = sum(r["state"] == "unreadable" for r in rows)
    if unread == len(rows):
        return EdgegradeError(f"none of the {unread} image(s) could be read (see {out}/grades.csv)")
    if unread:
        return Incomplete(f"{unread} of {len(rows)} image(s) could not be read (see {out}/grades.csv)")
    return None
