"""The embryo box of every image in a dataset, found once per run and stored beside it.

Localising costs milliseconds per image (edgegrade.localise); done inside every training
sample it was most of the data loader's time. `locate_samples` runs before the first epoch,
keys each box by the image file's content (so renamed or copied files reuse it, and an edited
file is searched again) and by the localiser's own weights, and writes them to one JSON file
(atomically) that a resumed run, export and evaluation read again. The loaders are handed the
boxes; no worker searches for one.
"""

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from edgegrade.files import atomic_write_text
from edgegrade.imageio import read_image
from edgegrade.localise import DEFAULT_WEIGHTS, Roi, default_localiser
from edgegrade.preprocess import PreprocessSpec, check_crop

CACHE_NAME = "boxes.json"  # beside a run: OUT/boxes.json


def digest(path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def localiser_id() -> str:
    return hashlib.sha256(DEFAULT_WEIGHTS.read_bytes()).hexdigest()[:16]


def _read(cache: Path | None) -> dict:
    if cache is None or not cache.is_file():
        return {}
    try:
        stored = json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}  # a damaged cache is only lost work: search again
    return stored.get("boxes", {}) if stored.get("localiser") == localiser_id() else {}


def _write(cache: Path, boxes: dict) -> None:
    atomic_write_text(cache, json.dumps({"localiser": localiser_id(), "boxes": boxes}))


def locate_samples(samples, spec: PreprocessSpec, cache: Path | None = None, progress: bool = True) -> list:
    """-> one Roi (or None: no embryo found, the whole frame is the view) per sample; all None
    when the spec does not crop. Boxes already in `cache` are not searched again."""
    check_crop(spec)
    if spec.crop != "embryo":
        return [None] * len(samples)
    from tqdm import tqdm

    boxes = _read(cache)
    found, rois = 0, []
    for s in tqdm(samples, desc="finding embryos", unit="img", disable=not progress, leave=False):
        key = digest(s.image)
        if key not in boxes:
            roi = default_localiser()(read_image(s.image))
            boxes[key] = None if roi is None else [roi.x, roi.y, roi.w, roi.h, round(roi.confidence, 4)]
            found += 1
        b = boxes[key]
        rois.append(None if b is None else Roi(*b))
    if cache is not None and found:
        _write(Path(cache), boxes)
    return rois
