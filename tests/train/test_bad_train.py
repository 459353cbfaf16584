"""The bad-input matrix, training side (issue 17): data and checkpoints a lab gets wrong,
runs killed or continued, full disks. Each case: the exit code, one line naming the file or
flag, no traceback, and no module, history or checkpoint lost or half-written."""

import json
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from badinput import assert_one_line, disk, leftovers, run_cli, tree

torch = pytest.importorskip("torch")

TINY = ["--size", 64, "--width", 16, "--batch", 4, "--epochs", 1, "--device", "cpu", "--no-plots"]


def _rows(run):
    return (Path(run) / "metrics.csv").read_text().splitlines()[1:]


def test_cause3_training_into_a_finished_run_is_refused(dual_run):
    before = tree(dual_run)
    r = run_cli(["train", "--out", dual_run, "--data", dual_run / "data", "--workers", 0] + TINY)
    assert_one_line(r, 2, f"--out {dual_run}", "holds a training run already", "--resume", "--overwrite")
    assert tree(dual_run) == before


def test_cause11_resume_with_another_width_names_what_differs(dual_run):
    before = tree(dual_run)
    args = ["train", "--out", dual_run, "--data", dual_run / "data", "--workers", 0, "--resume"] + TINY
    args[args.index("--width") + 1] = 32
    assert_one_line(run_cli(args), 2, "--resume", "last.pt", "width 16 (this run: 32)")
    assert tree(dual_run) == before


def _dataset_with(synth_dir, tmp_path, name, image, mask=None):
    data = tmp_path / "d"
    shutil.copytree(synth_dir, data)
    (data / "images" / name).write_bytes(image)
    if mask is not None:
        cv2.imwrite(str(data / "masks" / f"{Path(name).stem}.png"), mask)
    return data


def test_cause7_a_truncated_jpeg_is_one_line_before_training_starts(synth_dir, tmp_path):
    jpg = cv2.imencode(".jpg", np.full((64, 64), 120, np.uint8))[1].tobytes()
    data = _dataset_with(synth_dir, tmp_path, "cut.jpg", jpg[: len(jpg) // 2], np.zeros((64, 64), np.uint8))
    r = run_cli(["train", "--out", tmp_path / "run", "--data", data, "--workers", 2] + TINY)
    assert_one_line(r, 2, "cut.jpg: truncated image file")
    assert not list((tmp_path / "run").rglob("*.pt")) and not (tmp_path / "run" / "metrics.csv").exists()


def test_cause7_a_loader_worker_error_reaches_the_user_as_its_own_line(synth_dir, tmp_path):
    """What the check before training cannot see (a file damaged while training runs) still
    comes out of a DataLoader worker as the worker's one line, not its traceback."""
    from edgegrade import datasets
    from edgegrade.errors import DataError
    from edgegrade.preprocess import PreprocessSpec
    from edgegrade.train.data import EmbryoDataset

    data = tmp_path / "d"
    shutil.copytree(synth_dir, data)
    samples = datasets.load(data).paired[:4]
    samples[2].image.write_bytes(samples[2].image.read_bytes()[:100])
    loader = torch.utils.data.DataLoader(EmbryoDataset(samples, [None] * 4, PreprocessSpec(size=64)), num_workers=1)
    with pytest.raises(DataError) as caught:
        list(loader)
    assert caught.value.message == f"{samples[2].image}: truncated image file"


def test_cause8_labels_csv_not_utf8_stops_train_naming_the_line(synth_dir, tmp_path):
    data = tmp_path / "d"
    shutil.copytree(synth_dir, data)
    (data / "labels.csv").write_bytes((data / "labels.csv").read_bytes() + "x.png,B,,émbryo\n".encode("cp1252"))
    r = run_cli(["train", "--out", tmp_path / "run", "--data", data, "--workers", 0] + TINY)
    assert_one_line(r, 2, "labels.csv:34", "not UTF-8")


def test_cause17_a_1x1_image_is_not_trained_on(synth_dir, tmp_path):
    png = cv2.imencode(".png", np.zeros((1, 1), np.uint8))[1].tobytes()
    data = _dataset_with(synth_dir, tmp_path, "tiny.png", png, np.zeros((1, 1), np.uint8))
    r = run_cli(["train", "--out", tmp_path / "run", "--data", data, "--workers", 0] + TINY)
    assert_one_line(r, 2, "tiny.png: 1x1 px, below the 16 px minimum")


def test_cause9_training_on_a_full_disk_is_one_line_and_leaves_no_half_checkpoint(synth_dir, tmp_path):
    out = tmp_path / "full"
    with disk(out, 1024) as how:
        r = run_cli(["train", "--out", out / "run", "--data", synth_dir, "--workers", 0, "--recipe", "s1"] + TINY)
        line = assert_one_line(r, 2, "No space left on device" if how == "tmpfs" else "File too large")
        assert str(out / "run") in line and leftovers(out) == []
        assert all(torch.load(p, weights_only=True)["kind"] for p in (out / "run").rglob("*.pt"))  # whole or absent


def test_cause20_evaluate_on_an_empty_split_is_an_error(dual_run, synth_dir, tmp_path):
    data = tmp_path / "two"  # two embryos: too few for a test split
    (data / "images").mkdir(parents=True)
    (data / "masks").mkdir()
    for p in sorted((synth_dir / "images").iterdir())[:2]:
        shutil.copy(p, data / "images")
        shutil.copy(synth_dir / "masks" / p.name, data / "masks")
    r = run_cli(["evaluate", "--checkpoint", dual_run / "grader.pt", "--data", data, "--split", "test",
                 "--device", "cpu", "--json", tmp_path / "m.json"])
    assert_one_line(r, 2, "--split test", "no images", str(data))
    assert not (tmp_path / "m.json").exists()


class _Touch:
    """A pickle that would create `marker` when loaded (code in a model file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize("where", ["evaluate", "init", "export", "resume", "backbone-weights"])
def test_code_in_a_model_file_never_runs(dual_run, synth_dir, tmp_path, where):
    """Held before issue 17: every place that reads a model file refuses one carrying code."""
    marker, evil = tmp_path / "pwned", tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        pickle.dump({"kind": "edgegrade-checkpoint", "model": _Touch(marker)}, f)
    run = tmp_path / "run"
    args = {"evaluate": ["evaluate", "--checkpoint", evil, "--data", synth_dir, "--device", "cpu"],
            "init": ["train", "--out", run, "--data", synth_dir, "--init", evil, "--workers", 0] + TINY,
            "export": ["export", "--run", run, "--out", tmp_path / "b"],
            "resume": ["train", "--out", run, "--data", synth_dir, "--resume", "--recipe", "s1", "--workers", 0] + TINY,
            "backbone-weights": ["train", "--out", run, "--data", synth_dir, "--backbone-weights", evil,
                                 "--workers", 0] + TINY}[where]
    if where == "export":
        run.mkdir()
        shutil.copy(evil, run / "assistant.pt")
        shutil.copy(evil, run / "grader.pt")
    if where == "resume":
        (run / "s1").mkdir(parents=True)
        shutil.copy(evil, run / "s1" / "last.pt")
    r = run_cli(args)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert_one_line(r, 2, ".pt")
    assert not marker.exists()


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_cleanly(synth_dir, tmp_path):
    """Held before issue 17: SIGKILL during epoch 2, then --resume: epochs 1..3 once each."""
    run = tmp_path / "run"
    args = ["--out", run, "--data", synth_dir, "--recipe", "s1", "--workers", 0] + TINY
    args[args.index("--epochs") + 1] = 3
    proc = subprocess.Popen([sys.executable, "-m", "edgegrade", "train"] + [str(a) for a in args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (run / "metrics.csv").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = run_cli(["train", "--resume"] + args)
    assert r.exit_code == 0, r.output
    assert [row.split(",")[:2] for row in _rows(run)] == [["s1", "1"], ["s1", "2"], ["s1", "3"]]
    assert torch.load(run / "s1" / "last.pt", weights_only=True)["epoch"] == 3
    assert json.loads((run / "eval_model.json").read_text())["n_masks"] > 0


@pytest.mark.parametrize("args", [["ablate", "--seeds", "0,x"], ["crossval", "--seeds", "0,,1"],
                                  ["crossval", "--sizes", "1,two"]])
def test_seed_and_size_lists_that_are_not_integers_are_one_line(args, tmp_path):
    r = run_cli(args + ["--out", tmp_path / "out"])
    assert_one_line(r, 2, args[1], "expected comma-separated integers")
    assert not (tmp_path / "out").exists()  # nothing started


def test_crossval_group_by_that_is_not_a_regex_is_one_line(synth_dir, tmp_path):
    r = run_cli(["crossval", "--data", synth_dir, "--group-by", "RUN(\\d", "--out", tmp_path / "out"])
    assert_one_line(r, 2, "--group-by", "not a regular expression")
    assert not (tmp_path / "out").exists()
