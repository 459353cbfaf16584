import json

import cv2
import numpy as np
import pytest

from edgegrade.datasets import load
from edgegrade.errors import DataError
from edgegrade.grading import fragment_ratio
from edgegrade.importers import import_coco, import_labelme, read_labelme
from edgegrade.imageio import read_label_map


def test_real_labelme_frames_give_the_published_ratios(real_dir, tmp_path):
    assert import_labelme(real_dir, tmp_path) == 6
    ds = load(tmp_path)
    assert len(ds.paired) == 6 and len({s.embryo_id for s in ds.samples}) == 1
    for s in ds.paired:
        ratio = fragment_ratio(read_label_map(s.mask))
        assert 0.06 <= ratio <= 0.10, (s.name, ratio)


def test_labelme_with_image_beside_the_json(tmp_path):
    cv2.imwrite(str(tmp_path / "f.png"), np.full((50, 50), 120, np.uint8))
    doc = {"imagePath": "f.png", "imageData": None, "shapes": [
        {"label": "fragment", "points": [[10, 10], [20, 10], [20, 20], [10, 20]], "shape_type": "polygon"},
        {"label": "cell", "points": [[5, 5], [40, 5], [40, 40], [5, 40]], "shape_type": "polygon"},
    ]}
    (tmp_path / "f.json").write_text(json.dumps(doc))
    image, label = read_labelme(tmp_path / "f.json")
    assert image.shape[:2] == (50, 50)
    assert label[15, 15] == 2 and label[30, 30] == 1 and label[2, 2] == 0  # fragment painted over the cell


def test_coco_polygons(tmp_path):
    cv2.imwrite(str(tmp_path / "e.png"), np.full((40, 40, 3), 120, np.uint8))
    doc = {"images": [{"id": 1, "file_name": "e.png", "width": 40, "height": 40}],
           "categories": [{"id": 1, "name": "cell"}, {"id": 2, "name": "fragment"}],
           "annotations": [
               {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[2, 2, 30, 2, 30, 30, 2, 30]]},
               {"id": 2, "image_id": 1, "category_id": 2, "segmentation": [[4, 4, 10, 4, 10, 10, 4, 10]]}]}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    assert import_coco(tmp_path / "c.json", tmp_path, tmp_path / "out") == 1
    label = read_label_map(tmp_path / "out" / "masks" / "e.png")
    assert label[7, 7] == 2 and label[20, 20] == 1
    doc["annotations"][0]["segmentation"] = {"counts": "xyz", "size": [40, 40]}
    (tmp_path / "rle.json").write_text(json.dumps(doc))
    with pytest.raises(DataError, match="RLE"):
        import_coco(tmp_path / "rle.json", tmp_path, tmp_path / "out2")
