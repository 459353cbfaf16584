"""The bad-input matrix, data side (issue 17): import, check and synth given what a lab gives
them, and flags out of range. Each case: the exit code, one line naming the file or flag, no
traceback, nothing lost or half-written. Full and read-only disks: tests/badinput.py."""

import base64
import json
import os
import shutil

import cv2
import numpy as np
import pytest
from badinput import assert_one_line, disk, leftovers, run_cli, tree

from edgegrade.grading import fragment_ratio
from edgegrade.imageio import read_label_map


def _labelme(folder, name, shapes=None, image_data=None, doc=None):
    """A small LabelMe file with its image embedded: a cell with a fragment in it."""
    png = cv2.imencode(".png", np.full((64, 64), 120, np.uint8))[1].tobytes()
    shapes = shapes if shapes is not None else [
        {"label": "cell", "points": [[8, 8], [56, 8], [56, 56], [8, 56]], "shape_type": "polygon"},
        {"label": "fragment", "points": [[20, 20], [30, 20], [30, 30], [20, 30]], "shape_type": "polygon"}]
    doc = doc if doc is not None else {"imagePath": f"{name}.png", "shapes": shapes,
                                       "imageData": image_data or base64.b64encode(png).decode()}
    (folder / f"{name}.json").write_text(json.dumps(doc))


def _coco(folder, annotation):
    cv2.imwrite(str(folder / "e.png"), np.full((40, 40, 3), 120, np.uint8))
    doc = {"images": [{"id": 1, "file_name": "e.png"}], "categories": [{"id": 1, "name": "cell"}],
           "annotations": [{"id": 6, "image_id": 1, "category_id": 1, "segmentation": [[2, 2, 30, 2, 30, 30]]},
                           {"id": 7, "image_id": 1, "category_id": 1, "segmentation": [[4, 4, 9, 4, 9, 9]],
                            **annotation}]}
    for key in [k for k, v in annotation.items() if v is None]:
        del doc["annotations"][1][key]
    (folder / "c.json").write_text(json.dumps(doc))
    return ["data", "import", "coco", folder / "c.json", "--images", folder]


def test_cause4_a_misspelled_label_fails_until_mapped_or_ignored(real_dir, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    frame = sorted(real_dir.glob("*.json"))[0]
    doc = json.loads(frame.read_text())
    for shape in doc["shapes"]:
        shape["label"] = "fragmnet" if shape["label"] == "fragment" else shape["label"]
    (src / frame.name).write_text(json.dumps(doc))
    line = assert_one_line(run_cli(["data", "import", "labelme", src, "--out", tmp_path / "out"]), 2,
                           frame.name, "'fragmnet'", "--map-label", "--ignore-label")
    assert "shape" in line and not (tmp_path / "out").exists()
    r = run_cli(["data", "import", "labelme", src, "--out", tmp_path / "mapped", "--map-label", "fragmnet=fragment"])
    assert r.exit_code == 0, r.output
    ratio = fragment_ratio(read_label_map(tmp_path / "mapped" / "masks" / f"{frame.stem}.png"))
    assert 0.06 <= ratio <= 0.10  # the frame's fragments are back (the 0.081, not 0.000)
    r = run_cli(["data", "import", "labelme", src, "--out", tmp_path / "ignored", "--ignore-label", "fragmnet"])
    assert r.exit_code == 0 and fragment_ratio(read_label_map(tmp_path / "ignored" / "masks" / f"{frame.stem}.png")) == 0


def test_cause5_import_is_whole_or_nothing(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _labelme(src, "a1")
    _labelme(src, "a2")
    _labelme(src, "z9", image_data="!!not base64!!")  # read last
    out = tmp_path / "out"
    assert_one_line(run_cli(["data", "import", "labelme", src, "--out", out]), 2, "z9.json", "base64")
    assert not out.exists() and leftovers(tmp_path) == []  # no partial folder for `data check` to pass
    assert_one_line(run_cli(["data", "check", out]), 2, "no images/ folder")
    good = tmp_path / "good"
    (good / "images").mkdir(parents=True)
    cv2.imwrite(str(good / "images" / "x.png"), np.zeros((32, 32), np.uint8))
    before = tree(good)
    assert_one_line(run_cli(["data", "import", "labelme", src, "--out", good]), 2, str(good), "--overwrite")
    assert_one_line(run_cli(["data", "import", "labelme", src, "--out", good, "--overwrite"]), 2, "z9.json")
    assert tree(good) == before and leftovers(tmp_path) == []
    (src / "z9.json").unlink()
    assert run_cli(["data", "import", "labelme", src, "--out", good, "--overwrite"]).exit_code == 0
    assert sorted(p.name for p in (good / "images").iterdir()) == ["a1.png", "a2.png"]


@pytest.mark.parametrize("make,needles", [
    (lambda d: _labelme(d, "b", image_data="%%%"), ["b.json", "imageData is not valid base64"]),
    (lambda d: (d / "b.json").write_text("[]"), ["b.json", "a JSON list"]),
    (lambda d: _labelme(d, "b", shapes=[{"label": "cell", "shape_type": "polygon"}]), ["b.json", "shape 0", "no points"]),
    (lambda d: _labelme(d, "b", shapes=[{"label": "cell", "points": [[1, 2]]}]), ["b.json", "at least 3"]),
    (lambda d: _labelme(d, "b", shapes="cell"), ["b.json", "'shapes' is not a list"]),
], ids=["bad-base64", "top-level-list", "shape-without-points", "two-points", "shapes-not-a-list"])
def test_cause6_malformed_labelme_is_one_line_naming_the_file(tmp_path, make, needles):
    make(tmp_path)
    assert_one_line(run_cli(["data", "import", "labelme", tmp_path, "--out", tmp_path / "out"]), 2, *needles)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("annotation,needles", [
    ({"image_id": 99}, ["c.json", "annotation 7", "image_id 99"]),
    ({"category_id": None}, ["c.json", "annotation 7", "no category_id"]),
    ({"category_id": 5}, ["c.json", "annotation 7", "category_id 5"]),
    ({"segmentation": {"counts": "x", "size": [40, 40]}}, ["c.json", "annotation 7", "RLE"]),
], ids=["unknown-image-id", "no-category-id", "unknown-category", "rle"])
def test_cause6_malformed_coco_names_the_annotation(tmp_path, annotation, needles):
    assert_one_line(run_cli(_coco(tmp_path, annotation) + ["--out", tmp_path / "out"]), 2, *needles)
    assert not (tmp_path / "out").exists()


def test_cause8_labels_csv_not_utf8_names_file_and_line(synth_dir, tmp_path):
    data = tmp_path / "d"
    shutil.copytree(synth_dir, data)
    lines = (data / "labels.csv").read_bytes().split(b"\n")
    lines[3] += "é".encode("latin-1")  # a spreadsheet's Latin-1 export, on line 4
    (data / "labels.csv").write_bytes(b"\n".join(lines))
    assert_one_line(run_cli(["data", "check", data]), 2, "labels.csv:4", "not UTF-8")


@pytest.mark.parametrize("command", [
    lambda d, src: ["synth", "--out", d / "syn", "--n", 2, "--size", 64],
    lambda d, src: ["data", "import", "labelme", src, "--out", d / "imp"],
    lambda d, src: ["data", "check", src.parent / "good", "--json", d / "report.json"],
], ids=["synth", "data-import", "data-check-json"])
def test_cause9_read_only_folder_is_one_line(tmp_path, command):
    src = tmp_path / "src"
    src.mkdir()
    _labelme(src, "a1")
    good = tmp_path / "good"
    (good / "images").mkdir(parents=True)
    cv2.imwrite(str(good / "images" / "x.png"), np.zeros((32, 32), np.uint8))
    (good / "labels.csv").write_text("image,grade\nx.png,A\n")
    with disk(tmp_path / "ro", 64, read_only=True) as how:
        r = run_cli(command(tmp_path / "ro", src))
        assert_one_line(r, 2, str(tmp_path / "ro"), "Read-only file system" if how == "tmpfs" else "File too large")
        assert tree(tmp_path / "ro") == {}


@pytest.mark.parametrize("args,flag", [
    (["train", "--batch", "0"], "'--batch'"), (["train", "--batch", "-3"], "'--batch'"),
    (["train", "--size", "0"], "'--size'"), (["train", "--epochs", "0"], "'--epochs'"),
    (["train", "--workers", "-1"], "'--workers'"), (["train", "--seed", "-1"], "'--seed'"),
    (["train", "--margin", "0.5"], "'--margin'"),
    (["synth", "--out", "x", "--size", "0"], "'--size'"), (["synth", "--out", "x", "--n", "-1"], "'--n'"),
    (["synth", "--out", "x", "--n", "0"], "--n"),
    (["export", "--tol-agreement", "1.01"], "'--tol-agreement'"), (["export", "--tol-dice", "-0.1"], "'--tol-dice'"),
    (["export", "--tol-mae", "2"], "'--tol-mae'"), (["export", "--eval-n", "0"], "'--eval-n'"),
    (["watch", "--bundle", "b", "--smooth", "0"], "'--smooth'"),
    (["watch", "--bundle", "b", "--max-frames", "-1"], "'--max-frames'"),
    (["watch", "--bundle", "b", "--review-threshold", "2"], "'--review-threshold'"),
    (["evaluate", "--checkpoint", "c", "--data", "d", "--batch", "0"], "'--batch'"),
    (["verify", "b", "--n", "0"], "'--n'"),
], ids=lambda v: v if isinstance(v, str) else "-".join(v[:3]))
def test_cause10_numbers_out_of_range_name_the_flag(args, flag):
    line = assert_one_line(run_cli(args), 2, flag)
    assert "range" in line or "nothing to write" in line


def test_cause10_help_says_what_zero_means():
    from edgegrade.cli import main

    text = {c: " ".join(main.commands[c].get_help(main.make_context("edgegrade", [c])).split())  # unwrapped
            for c in ("train", "watch")}
    assert "(0: off)" in text["train"] and "at least 2" in text["train"] and "1: no smoothing" in text["watch"]
    assert "0: until the source ends" in text["watch"]


def test_cause16_empty_images_folder_is_a_problem(tmp_path):
    (tmp_path / "images").mkdir()
    r = run_cli(["data", "check", tmp_path])
    assert r.exit_code == 1 and "problem: " in r.stderr and "empty dataset" in r.stderr
    assert "Traceback" not in r.output


def test_cause17_a_1x1_image_is_a_problem(synth_dir, tmp_path):
    data = tmp_path / "d"
    shutil.copytree(synth_dir, data)
    cv2.imwrite(str(data / "images" / "tiny.png"), np.zeros((1, 1), np.uint8))
    cv2.imwrite(str(data / "masks" / "tiny.png"), np.zeros((1, 1), np.uint8))
    r = run_cli(["data", "check", data])
    problems = [line for line in r.stderr.splitlines() if line.startswith("problem: ")]
    assert r.exit_code == 1 and len(problems) == 1 and "tiny.png: 1x1 px, below the 16 px minimum" in problems[0]


def test_imported_files_are_readable_by_another_user(tmp_path):
    """Written through temp files (0600) and a temp folder (0700), they still end with the
    umask's mode, so a service running as another user can read them."""
    _labelme(tmp_path, "a1")
    assert run_cli(["data", "import", "labelme", tmp_path, "--out", tmp_path / "out"]).exit_code == 0
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o777 & ~mask
    assert (tmp_path / "out" / "masks" / "a1.png").stat().st_mode & 0o777 == 0o666 & ~mask
