"""Pre-annotation: masks written as LabelMe polygons come back through the importer as the
same label map (the runtime's end-to-end loop is in tests/runtime/test_labelme_loop.py)."""

import base64
import json

import cv2
import numpy as np
import pytest

from edgegrade import prelabel
from edgegrade.importers import import_labelme, read_labelme
from edgegrade.metrics import dice
from edgegrade.synth import render_embryo


def _round_trip(tmp_path, image_path, fragment, embryo, embed=False):
    shapes = prelabel.polygons(fragment, embryo)
    target = tmp_path / "labelme" / f"{image_path.stem}.json"
    prelabel.write_labelme(target, image_path, fragment.shape, shapes, embed)
    return shapes, target, read_labelme(target)[1]


def test_real_embryos_come_back_within_dice_098_with_few_points(real_dir, tmp_path):
    """The six annotated EmbryoScope frames stand in for predictions: their label maps, written
    as pre-annotations and imported again."""
    for path in sorted(real_dir.glob("*.json")):
        image, truth = read_labelme(path)
        shapes, _, back = _round_trip(tmp_path, real_dir / json.loads(path.read_text())["imagePath"],
                                      truth == 2, truth > 0)
        assert {name for name, _ in shapes} == {"cell", "fragment"}
        assert max(len(p) for _, p in shapes) <= prelabel.MAX_POINTS
        assert dice(back == 2, truth == 2) >= 0.98 and dice(back > 0, truth > 0) >= 0.98, path.name


def test_synthetic_embryos_with_many_fragments_come_back(tmp_path):
    image = tmp_path / "e.png"
    for seed in range(4):
        embryo = render_embryo(np.random.default_rng(seed), 640, "D")
        cv2.imwrite(str(image), embryo.image)
        label = embryo.label
        shapes, _, back = _round_trip(tmp_path, image, label == 2, label > 0)
        assert len(shapes) > 5 and max(len(p) for _, p in shapes) <= prelabel.MAX_POINTS
        assert dice(back == 2, label == 2) >= 0.98 and dice(back > 0, label > 0) >= 0.98


def test_the_file_is_labelme_5_with_the_image_beside_it_or_embedded(real_dir, tmp_path):
    src = sorted(real_dir.glob("*.JPG"))[0]
    label = np.zeros((800, 800), np.uint8)
    label[300:500, 300:500], label[320:340, 320:340] = 1, 2
    _, target, back = _round_trip(tmp_path, src, label == 2, label > 0)
    doc = json.loads(target.read_text())
    assert doc["version"].startswith("5.") and doc["imageData"] is None
    assert (target.parent / doc["imagePath"]).resolve() == src.resolve()  # relative to the JSON
    assert (doc["imageHeight"], doc["imageWidth"]) == (800, 800)
    assert all(s["shape_type"] == "polygon" and s["group_id"] is None for s in doc["shapes"])
    assert (back == label).all()  # squares survive exactly
    _, target, _ = _round_trip(tmp_path, src, label == 2, label > 0, embed=True)
    assert base64.b64decode(json.loads(target.read_text())["imageData"]) == src.read_bytes()


def test_nothing_found_is_an_empty_file_and_specks_are_left_out():
    empty = np.zeros((100, 100), bool)
    speck = empty.copy()
    speck[50, 50] = True
    assert prelabel.polygons(empty, empty) == [] and prelabel.polygons(speck, speck) == []


def test_imported_pre_annotations_make_a_dataset(real_dir, tmp_path):
    src = sorted(real_dir.glob("*.JPG"))[0]
    label = np.zeros((800, 800), np.uint8)
    label[200:600, 250:650], label[210:260, 260:300] = 1, 2
    _round_trip(tmp_path, src, label == 2, label > 0)
    assert import_labelme(tmp_path / "labelme", tmp_path / "data") == 1
    assert (tmp_path / "data" / "masks" / f"{src.stem}.png").is_file()


@pytest.mark.parametrize("max_points", [8, 16])
def test_the_point_budget_is_kept(max_points):
    yy, xx = np.mgrid[:400, :400]
    disc = (yy - 200) ** 2 + (xx - 200) ** 2 < 150 ** 2
    (poly,) = prelabel.outlines(disc, max_points)
    assert 3 <= len(poly) <= max_points
