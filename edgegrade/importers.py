"""LabelMe and COCO polygon annotations -> the folder format (images/, masks/, labels.csv).

Cells are painted first (1), fragments over them (2): fragment pixels win, as docs/design.md says.
"""

import base64
import json
from pathlib import Path

import cv2
import numpy as np

from edgegrade.errors import DataError
from edgegrade.grading import CELL, FRAGMENT
from edgegrade.imageio import decode, read_image, write_image

LABEL_VALUES = {"cell": CELL, "fragment": FRAGMENT}


def paint(shape_hw, polygons: list[tuple[str, np.ndarray]], source: str) -> np.ndarray:
    """Rasterise (label, Nx2 points) polygons into a label map, cells before fragments."""
    label = np.zeros(shape_hw[:2], np.uint8)
    for wanted in ("cell", "fragment"):
        for name, pts in polygons:
            if name == wanted:
                if len(pts) < 3:
                    raise DataError(f"{source}: polygon '{name}' has fewer than 3 points")
                cv2.fillPoly(label, [np.round(pts).astype(np.int32)], LABEL_VALUES[name])
    return label


def read_labelme(json_path) -> tuple[np.ndarray, np.ndarray]:
    """A LabelMe JSON -> (image, label map). The image is embedded (imageData) or beside it."""
    json_path = Path(json_path)
    try:
        doc = json.loads(json_path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{json_path}: not a readable LabelMe JSON ({exc})") from None
    if doc.get("imageData"):
        image = decode(base64.b64decode(doc["imageData"]), f"{json_path} (embedded imageData)")
    elif doc.get("imagePath"):
        image = read_image(json_path.parent / doc["imagePath"])
    else:
        raise DataError(f"{json_path}: no imageData and no imagePath")
    polygons = []
    for shape in doc.get("shapes", []):
        name = str(shape.get("label", "")).strip().lower()
        if name not in LABEL_VALUES:
            continue  # other annotation classes are not ours
        if shape.get("shape_type", "polygon") != "polygon":
            raise DataError(f"{json_path}: shape '{name}' is a {shape.get('shape_type')}, only polygons are supported")
        polygons.append((name, np.asarray(shape["points"], np.float32)))
    return image, paint(image.shape, polygons, str(json_path))


def _write_folder(out: Path, items) -> int:
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    n = 0
    for name, image, label in items:
        write_image(out / "images" / f"{name}.png", image)
        write_image(out / "masks" / f"{name}.png", label)
        n += 1
    return n


def import_labelme(src, out) -> int:
    """Every *.json in src (LabelMe) -> out/images, out/masks. Returns the count."""
    files = sorted(Path(src).glob("*.json"))
    if not files:
        raise DataError(f"{src}: no LabelMe *.json files")
    return _write_folder(Path(out), ((p.stem, *read_labelme(p)) for p in files))


def import_coco(coco_json, images_dir, out) -> int:
    """COCO instances JSON with polygon segmentations (categories 'cell', 'fragment')."""
    coco_json = Path(coco_json)
    try:
        doc = json.loads(coco_json.read_text())
        categories = {c["id"]: c["name"].strip().lower() for c in doc["categories"]}
        images = {im["id"]: im for im in doc["images"]}
        annotations = doc.get("annotations", [])
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{coco_json}: not a COCO instances file ({exc})") from None
    per_image: dict[int, list] = {i: [] for i in images}
    for ann in annotations:
        name = categories.get(ann["category_id"])
        if name not in LABEL_VALUES:
            continue
        seg = ann.get("segmentation")
        if not isinstance(seg, list):
            raise DataError(f"{coco_json}: annotation {ann.get('id')} is RLE; only polygon segmentations are supported")
        per_image[ann["image_id"]] += [(name, np.asarray(p, np.float32).reshape(-1, 2)) for p in seg]

    def items():
        for image_id, info in images.items():
            image = read_image(Path(images_dir) / info["file_name"])
            yield Path(info["file_name"]).stem, image, paint(image.shape, per_image[image_id], str(coco_json))

    return _write_folder(Path(out), items())
