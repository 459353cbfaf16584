import csv

import cv2
import numpy as np
import pytest

from edgegrade.datasets import check, default_embryo_id, load, split_by_embryo
from edgegrade.errors import DataError


def _make(root, names=("a", "b"), grade_rows=()):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for n in names:
        cv2.imwrite(str(root / "images" / f"{n}.png"), np.full((20, 30), 100, np.uint8))
        label = np.zeros((20, 30), np.uint8)
        label[5:15, 5:25] = 1
        label[5:7, 5:10] = 2
        cv2.imwrite(str(root / "masks" / f"{n}.png"), label)
    if grade_rows:
        with open(root / "labels.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["image", "grade", "ratio", "embryo_id"])
            for row in grade_rows:
                name = row[0]
                if not (root / "images" / f"{name}.png").exists():
                    cv2.imwrite(str(root / "images" / f"{name}.png"), np.full((20, 30), 90, np.uint8))
                w.writerow(row)
    return root


def test_clean_dataset_loads_paired_and_grade_only(tmp_path):
    ds = load(_make(tmp_path, grade_rows=[("g1", "c", "", "e1")]))
    assert [s.name for s in ds.paired] == ["a", "b"]
    assert ds.grade_only[0].grade == "C" and ds.grade_only[0].target_interval() == (0.25, 0.5)
    report = check(tmp_path)
    assert report["problems"] == [] and report["grades"]["A"] == 2 and report["grades"]["C"] == 1


@pytest.mark.parametrize("damage,needle", [
    (lambda r: (r / "images" / "a.png").write_bytes((r / "images" / "a.png").read_bytes()[:60]), "a.png: truncated"),
    (lambda r: cv2.imwrite(str(r / "masks" / "a.png"), np.zeros((10, 10), np.uint8)), "does not match"),
    (lambda r: cv2.imwrite(str(r / "masks" / "a.png"), np.full((20, 30), 7, np.uint8)), "label values [7]"),
    (lambda r: (r / "images" / "b.jpg").write_bytes(b"x"), "duplicate name"),
    (lambda r: (r / "images" / "notes.txt").write_text("hi"), "notes.txt: not an image"),
])
def test_every_problem_names_the_file(tmp_path, damage, needle):
    root = _make(tmp_path)
    damage(root)
    problems = check(root)["problems"]
    assert any(needle in p for p in problems), problems


def test_unknown_grade_and_empty_dataset(tmp_path):
    root = _make(tmp_path / "x", names=(), grade_rows=[("g", "Z", "", "")])
    with pytest.raises(DataError, match="unknown grade 'Z'"):
        load(root)
    (tmp_path / "y" / "images").mkdir(parents=True)
    with pytest.raises(DataError, match="empty dataset"):
        load(tmp_path / "y")
    with pytest.raises(DataError, match="no images/ folder"):
        load(tmp_path / "nothing")


def test_split_by_embryo_is_deterministic_and_never_straddles(synth_dir):
    ds = load(synth_dir)
    for s in ds.samples[:12]:
        s.embryo_id = "shared-embryo"  # twelve frames of one embryo
    a, b = split_by_embryo(ds.samples, seed=1), split_by_embryo(ds.samples, seed=1)
    assert {k: [s.name for s in v] for k, v in a.items()} == {k: [s.name for s in v] for k, v in b.items()}
    homes = {k for k, v in a.items() for s in v if s.embryo_id == "shared-embryo"}
    assert len(homes) == 1
    assert all(a[k] for k in ("train", "val", "test"))


def test_embryo_id_strips_the_frame_counter():
    assert default_embryo_id("D2024_WELL06_RUN141") == "D2024_WELL06"
    assert default_embryo_id("embryo7") == "embryo7"
