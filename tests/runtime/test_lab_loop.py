"""The lab's loop with models that find embryos and fragments (the shipped pretrained ones):
`grade --labelme` -> LabelMe -> `data import labelme` gives back the predicted masks; `watch`
-> `report` -> `confirm` follows each embryo of a run."""

import csv
import json

import cv2
import numpy as np
from badinput import run_cli

from edgegrade.configs import WatchConfig
from edgegrade.imageio import read_image, read_label_map
from edgegrade.metrics import dice
from edgegrade.prelabel import MAX_POINTS, frame_masks
from edgegrade.runtime.pipeline import Pipeline
from edgegrade.runtime.sources import Frame
from edgegrade.synth import render_embryo


def predicted_masks(bundle, paths) -> dict:
    """What `grade` predicts for each still, in frame pixels: {stem: (fragment, embryo)}."""
    out = {}
    with Pipeline(WatchConfig(bundle=str(bundle), smooth=1)) as pipe:
        for i, path in enumerate(paths):
            pipe.reset()
            r = pipe.process(Frame(i, 0.0, read_image(path), path.name))
            out[path.stem] = frame_masks(r.masks, r.box) if r.region is not None else None
    return out


def test_pre_annotations_import_back_as_the_predicted_masks(pretrained_bundle, real_dir, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for src in sorted(real_dir.glob("*.JPG")):
        (frames / src.name).write_bytes(src.read_bytes())
    for grade in "BCD":  # fragment-rich embryos too
        cv2.imwrite(str(frames / f"synthetic_{grade}.png"), render_embryo(np.random.default_rng(7), 640, grade).image)
    r = run_cli(["grade", "--bundle", pretrained_bundle, frames, "--out", tmp_path / "graded", "--labelme"])
    assert r.exit_code == 0, r.output
    assert run_cli(["data", "import", "labelme", tmp_path / "graded" / "labelme", "--out", tmp_path / "data"]).exit_code == 0
    predicted = predicted_masks(pretrained_bundle, sorted(frames.iterdir()))
    found = {k: v for k, v in predicted.items() if v is not None and v[0].any() and v[1].any()}
    assert len(found) >= 6, f"the models found embryo and fragments in only {sorted(found)}"
    for stem, (fragment, embryo) in found.items():
        label = read_label_map(tmp_path / "data" / "masks" / f"{stem}.png")
        assert dice(label == 2, fragment) >= 0.98 and dice(label > 0, embryo) >= 0.98, stem
        doc = json.loads((tmp_path / "graded" / "labelme" / f"{stem}.json").read_text())
        assert doc["imageData"] is None and (tmp_path / "graded" / "labelme" / doc["imagePath"]).resolve() == \
            (frames / next(p.name for p in frames.iterdir() if p.stem == stem)).resolve()
        assert max(len(s["points"]) for s in doc["shapes"]) <= MAX_POINTS
    rows = json.loads((tmp_path / "graded" / "grades.json").read_text())
    real = [row for row in rows if "WELL06" in row["image"]]
    assert {row["embryo"] for row in real} == {"D2024.10.20_S01055_I4778_P_WELL06"}
    assert sorted(row["timepoint"] for row in real) == [141, 142, 156, 157, 221, 222]


def test_watch_report_confirm_follow_each_embryo(pretrained_bundle, tmp_path):
    run = tmp_path / "watch"
    r = run_cli(["watch", "--bundle", pretrained_bundle, "--source", "synthetic-wells:320x320#80", "--headless",
                 "--out", run])
    assert r.exit_code == 0, r.output
    records = [json.loads(line) for line in (run / "grades.jsonl").read_text().splitlines()]
    embryos = [r["embryo"] for r in records]
    first, second = embryos[5], embryos[45]
    assert first != second and first.endswith("-E1") and second.endswith("-E2")  # a scene change between them
    r = run_cli(["report", run, "--out", tmp_path / "report"])
    assert r.exit_code == 0, r.output
    with open(tmp_path / "report" / "embryos.csv", newline="") as f:
        rows = {row["embryo"]: row for row in csv.DictReader(f)}
    for embryo, row in rows.items():
        last = [x for x in records if x["embryo"] == embryo and x["grade"]][-1]
        assert row["ai_grade"] == last["grade"] and row["bundle"] == last["bundle"]
        assert (tmp_path / "report" / row["overlay"]).is_file()  # its last picture, as it left the view
    snapshots = [p.name for p in (run / "snapshots").glob("*_last_overlay.png")]
    assert len(snapshots) == len(rows)
    model = json.loads((run / "models" / f"{records[0]['bundle']}.json").read_text())
    manifest = json.loads((pretrained_bundle / "manifest.json").read_text())
    assert model["precision"] == manifest["precision"] and set(model["modules"]) == {"assistant", "grader"}
    assert model["modules"]["grader"]["sha256"] == manifest["modules"]["grader"]["artifacts"][manifest["precision"]]["sha256"]
    for embryo, grade in zip(rows, "AB"):
        assert run_cli(["confirm", tmp_path / "report", "--embryo", embryo, "--grade", grade, "--by", "Dr. T"]).exit_code == 0
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Audit log verified: 2 decision(s)" in page and "<th>quadratic-weighted kappa</th>" in page


def test_watch_on_time_lapse_frames_logs_the_embryo_their_names_give(pretrained_bundle, real_dir, tmp_path):
    r = run_cli(["watch", "--bundle", pretrained_bundle, "--source", real_dir, "--headless", "--out", tmp_path])
    assert r.exit_code == 0, r.output
    records = [json.loads(line) for line in (tmp_path / "grades.jsonl").read_text().splitlines()]
    graded = [x for x in records if x["grade"]]
    assert graded and {x["embryo"] for x in graded} == {"D2024.10.20_S01055_I4778_P_WELL06"}
    assert [x["timepoint"] for x in records] == [141, 142, 156, 157, 221, 222] and records[0]["time_unit"] == "run"
