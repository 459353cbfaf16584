"""LabelMe and COCO polygon annotations -> the folder format (images/, masks/, labels.csv).

Cells are painted first (1), fragments over them (2): fragment pixels win, as docs/design.md says.
An annotation class we do not know is an error naming the file (a misspelled `fragmnet` would
otherwise drop that frame's fragments); `--map-label FROM=TO` and `--ignore-label NAME` say
what to do with it on purpose. Every structural fault is one line naming the JSON file (and
the shape or annotation). The folder is written whole or not at all (datasets.new_dataset).
"""

import base64
import binascii
from pathlib import Path

import cv2
import numpy as np

from edgegrade.datasets import new_dataset
from edgegrade.errors import DataError, EdgegradeError
from edgegrade.files import read_json
from edgegrade.grading import CELL, FRAGMENT
from edgegrade.imageio import decode, read_image, write_image

LABEL_VALUES = {"cell": CELL, "fragment": FRAGMENT}


def label_names(maps=(), ignore=()) -> dict[str, str | None]:
    """Annotation class name -> our class ("cell", "fragment") or None (skipped on purpose),
    from --map-label FROM=TO and --ignore-label NAME; our own names map to themselves."""
    names: dict[str, str | None] = {n: n for n in LABEL_VALUES}
    for text in maps:
        src, sep, dst = text.partition("=")
        src, dst = src.strip().lower(), dst.strip().lower()
        if not sep or not src or dst not in LABEL_VALUES:
            raise EdgegradeError(f"--map-label {text}: expected FROM=TO with TO one of {', '.join(LABEL_VALUES)}")
        names[src] = dst
    for name in ignore:
        names[name.strip().lower()] = None
    return names


def _class(name, names: dict, where: str) -> str | None:
    key = str(name).strip().lower()
    if key not in names:
        raise DataError(f"{where} has label {name!r}, not one of {', '.join(LABEL_VALUES)}; map it "
                        f"(--map-label '{key}=fragment') or skip it on purpose (--ignore-label '{key}')")
    return names[key]


def _points(value, where: str, flat: bool = False) -> np.ndarray:
    try:
        pts = np.asarray(value, np.float32)
        pts = pts.reshape(-1, 2) if flat else pts
    except (TypeError, ValueError):
        raise DataError(f"{where}: points are not a list of numbers") from None
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3 or not np.isfinite(pts).all():
        raise DataError(f"{where}: a polygon needs at least 3 (x, y) points, got {np.shape(value)}")
    return pts


def paint(shape_hw, polygons: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Rasterise (class, Nx2 points) polygons into a label map, cells before fragments."""
    label = np.zeros(shape_hw[:2], np.uint8)
    for wanted in ("cell", "fragment"):
        for name, pts in polygons:  # one call each: a call with several fills their overlaps even-odd
            if name == wanted:
                cv2.fillPoly(label, [np.round(pts).astype(np.int32)], LABEL_VALUES[wanted])
    return label


def read_labelme(json_path, names: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A LabelMe JSON -> (image, label map). The image is embedded (imageData) or beside it."""
    json_path = Path(json_path)
    names = names or label_names()
    doc = read_json(json_path, "LabelMe JSON")
    if not isinstance(doc, dict):
        raise DataError(f"{json_path}: a JSON {type(doc).__name__}, not a LabelMe object")
    if doc.get("imageData"):
        try:
            data = base64.b64decode(doc["imageData"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise DataError(f"{json_path}: imageData is not valid base64") from None
        image = decode(data, f"{json_path} (embedded imageData)")
    elif isinstance(doc.get("imagePath"), str) and doc["imagePath"]:
        image = read_image(json_path.parent / doc["imagePath"])
    else:
        raise DataError(f"{json_path}: no imageData and no imagePath")
    shapes = doc.get("shapes", [])
    if not isinstance(shapes, list):
        raise DataError(f"{json_path}: 'shapes' is not a list")
    polygons = []
    for i, shape in enumerate(shapes):
        where = f"{json_path}: shape {i}"
        if not isinstance(shape, dict) or "label" not in shape:
            raise DataError(f"{where} is not an object with a label")
        name = _class(shape["label"], names, where)
        if name is None:
            continue
        if (shape.get("shape_type") or "polygon") != "polygon":
            raise DataError(f"{where} ({name}) is a {shape.get('shape_type')}, only polygons are supported")
        if "points" not in shape:
            raise DataError(f"{where} ({name}) has no points")
        polygons.append((name, _points(shape["points"], f"{where} ({name})")))
    return image, paint(image.shape, polygons)


def import_labelme(src, out, names: dict | None = None, overwrite: bool = False) -> int:
    """Every *.json in src (LabelMe) -> out/images, out/masks. Returns the count."""
    files = sorted(Path(src).glob("*.json"))
    if not files:
        raise DataError(f"{src}: no LabelMe *.json files")
    return _write(out, ((p.stem, *read_labelme(p, names)) for p in files), overwrite)


def read_coco(coco_json, names: dict | None = None) -> tuple[dict, dict]:
    """A COCO instances JSON -> ({image id: image record}, {image id: [(class, points)]}),
    checked: every annotation names a known image and category and holds polygons."""
    coco_json = Path(coco_json)
    names = names or label_names()
    doc = read_json(coco_json, "COCO JSON")
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), list) for k in ("images", "categories")):
        raise DataError(f"{coco_json}: not a COCO instances file (an object with 'images' and 'categories' lists)")
    try:
        categories = {c["id"]: str(c["name"]) for c in doc["categories"]}
        images = {im["id"]: im for im in doc["images"]}
        files = {i: str(im["file_name"]) for i, im in images.items()}
    except (TypeError, KeyError) as exc:
        raise DataError(f"{coco_json}: an image or category lacks {exc} (each needs id and file_name / name)") from None
    per_image: dict = {i: [] for i in images}
    annotations = doc.get("annotations", [])
    for n, ann in enumerate(annotations if isinstance(annotations, list) else [None]):
        if not isinstance(ann, dict):
            raise DataError(f"{coco_json}: annotation #{n} is not an object")
        where = f"{coco_json}: annotation {ann.get('id', '#' + str(n))}"
        for key, known, what in (("category_id", categories, "categories"), ("image_id", images, "images")):
            if key not in ann:
                raise DataError(f"{where} has no {key}")
            if ann[key] not in known:
                raise DataError(f"{where} names {key} {ann[key]!r}, which is not in {what}")
        name = _class(categories[ann["category_id"]], names, f"{where} (category {ann['category_id']})")
        if name is None:
            continue
        seg = ann.get("segmentation")
        if isinstance(seg, dict):
            raise DataError(f"{where} is RLE; only polygon segmentations are supported")
        if not isinstance(seg, list) or not seg:
            raise DataError(f"{where} has no polygon segmentation")
        per_image[ann["image_id"]] += [(name, _points(p, where, flat=True)) for p in seg]
    return {i: files[i] for i in images}, per_image


def import_coco(coco_json, images_dir, out, names: dict | None = None, overwrite: bool = False) -> int:
    """COCO instances JSON with polygon segmentations (categories 'cell', 'fragment')."""
    files, per_image = read_coco(coco_json, names)

    def items():
        for image_id, file_name in files.items():
            image = read_image(Path(images_dir) / file_name)
            yield Path(file_name).stem, image, paint(image.shape, per_image[image_id])

    return _write(out, items(), overwrite)


def _write(out, items, overwrite: bool) -> int:
    """The pairs into a new dataset folder, renamed into place only when all were read."""
    n = 0
    with new_dataset(out, overwrite) as folder:
        for name, image, label in items:
            write_image(folder / "images" / f"{name}.png", image)
            write_image(folder / "masks" / f"{name}.png", label)
            n += 1
    return n
