"""The oocyte-inclusions task: SMANet, training with fixed test sets and fine-tuning, pix2pix."""

import csv
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edgegrade import datasets  # noqa: E402
from edgegrade.errors import EdgegradeError  # noqa: E402
from edgegrade.grading import CELL, FRAGMENT  # noqa: E402
from edgegrade.imageio import read_label_map  # noqa: E402
from edgegrade.oocytes import write_oocyte_dataset  # noqa: E402
from edgegrade.postprocess import count_instances  # noqa: E402
from edgegrade.train.archs import build_model, output_names  # noqa: E402
from edgegrade.train.resnet import ResNet50  # noqa: E402
from tests.conftest import tiny_train_config  # noqa: E402


def test_smanet_outputs_full_resolution_masks_and_keeps_torchvision_names():
    model = build_model(arch="smanet", output_stride=8, width=16).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 128, 128))
    assert set(out) == {"mask_logits"} and out["mask_logits"].shape == (2, 2, 128, 128)
    assert output_names(model.cfg) == ["masks"]
    names = set(ResNet50(8, 16).state_dict())
    assert names == {k[len("backbone."):] for k in model.state_dict() if k.startswith("backbone.")}


@pytest.fixture(scope="module")
def oocyte_run(tmp_path_factory):
    from edgegrade.train.run import train

    root = tmp_path_factory.mktemp("oocyte_run")
    write_oocyte_dataset(root / "test", 3, size=64, seed=9, progress=False)
    results = train(tiny_train_config(root / "run", task="oocyte-inclusions", arch="smanet", synth_n=10,
                                      test_data=str(root / "test"), repeat=2))
    return root, results


def test_oocyte_training_reports_the_papers_metrics_on_the_fixed_test_set(oocyte_run):
    root, results = oocyte_run
    test = results["model"]["test"]
    assert test["n_masks"] == 3  # the 3 test oocytes, not a split of the training data
    assert 0 <= test["pixel_acc"] <= 1 and 0 <= test["miou"] <= 1
    cfg = json.loads((root / "run" / "config.json").read_text())
    assert (cfg["recipe"], cfg["crop"], cfg["output_stride"]) == ("seg", "full", 8)
    with open(root / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["phase"] == "seg" and rows[0]["miou"] != ""
    assert (root / "run" / "plots" / "seg_samples.png").is_file()


def test_evaluate_split_test_is_the_runs_fixed_test_set(oocyte_run):
    from edgegrade.train.evaluate import evaluate_checkpoint

    root, results = oocyte_run
    m = evaluate_checkpoint(root / "run" / "model.pt", root / "run" / "data", split="test", device="cpu")
    assert m["n_masks"] == 3 and m["miou"] == results["model"]["test"]["miou"]


def test_fine_tuning_starts_from_the_given_weights(oocyte_run, tmp_path):
    from edgegrade.train import checkpoint
    from edgegrade.recipes import RECIPES
    from edgegrade.train.run import build_phase_model

    root, _ = oocyte_run
    cfg = tiny_train_config(tmp_path, task="oocyte-inclusions", arch="smanet", init=str(root / "run" / "model.pt"))
    cfg = cfg.resolved()
    model = build_phase_model(RECIPES["seg"][0], cfg, tmp_path, torch.device("cpu"))
    saved = checkpoint.load(root / "run" / "model.pt")["model"]
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    wrong = tiny_train_config(tmp_path, task="oocyte-inclusions", arch="smanet", width=32,
                              init=str(root / "run" / "model.pt")).resolved()
    with pytest.raises(EdgegradeError, match="--init"):
        build_phase_model(RECIPES["seg"][0], wrong, tmp_path, torch.device("cpu"))


@pytest.mark.parametrize("kw, match", [
    (dict(arch="smanet", recipe="dual"), "SMANet has no regression head"),
    (dict(task="oocyte-inclusions", recipe="mtl"), "no fragmentation grade"),
    (dict(task="oocytes"), "--task oocytes"),
])
def test_impossible_combinations_fail_naming_the_flag(kw, match, tmp_path):
    with pytest.raises(EdgegradeError, match=match):
        tiny_train_config(tmp_path, **kw).resolved()


def test_smanet_bundle_counts_inclusions_in_watch_and_grade(oocyte_run, tmp_path):
    pytest.importorskip("onnxruntime")
    from edgegrade.configs import ExportConfig
    from edgegrade.export.pipeline import export_bundle
    from edgegrade.runtime.stills import grade_stills
    from edgegrade.configs import GradeConfig
    from edgegrade.runtime.watch import WatchConfig, watch

    root, _ = oocyte_run
    bundle = tmp_path / "bundle"
    export_bundle(ExportConfig(run=str(root / "run"), out=str(bundle), precision="fp16", eval_n=4),
                  progress=lambda m: None)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["task"] == "oocyte-inclusions" and manifest["modules"]["model"]["outputs"] == ["masks"]
    s = watch(WatchConfig(bundle=str(bundle), source="synthetic-oocyte:96x96#4", out=str(tmp_path / "w"),
                          headless=True), echo=lambda m: None)
    lines = [json.loads(x) for x in (tmp_path / "w" / "grades.jsonl").read_text().splitlines()]
    assert s["frames"] == 4 and all(r["grade"] is None for r in lines)
    assert all(r["state"] in ("analysed", "no-oocyte") for r in lines)
    assert all(set(r["inclusions"]) == {"count", "area_px", "share"} for r in lines if r["state"] == "analysed")
    rows = grade_stills(GradeConfig(bundle=str(bundle), out=str(tmp_path / "g")), [root / "test" / "images"])
    assert len(rows) == 3 and all("grade" in r for r in rows)


def test_inclusions_are_counted_and_measured_in_frame_pixels(oocyte_run, tmp_path):
    """The pipeline's measurement on known probabilities: 3 spots in an ooplasm disc, a frame
    twice the model size, so every model pixel covers 4 frame pixels."""
    import cv2

    from edgegrade.preprocess import letterbox
    from edgegrade.runtime.pipeline import contours_on_frame
    from edgegrade.tasks import get_task

    probs = np.zeros((2, 64, 64), np.float32)
    cv2.circle(probs[1], (32, 32), 20, 1.0, -1)
    for x, y in ((25, 25), (40, 30), (30, 42)):
        cv2.rectangle(probs[0], (x, y), (x + 1, y + 1), 1.0, -1)  # 2 x 2 px each
    _, box = letterbox(np.zeros((128, 128), np.uint8), 64)
    task = get_task("oocyte-inclusions")
    r = task.read(probs, None, box.scale, lambda *a: a, 0.1)
    assert r.state == "analysed" and r.inclusions["count"] == 3
    assert r.inclusions["area_px"] == 3 * 4 * 4
    disc = np.count_nonzero(probs[1] > 0.5)  # the share is of the ooplasm (its convex hull: a little more)
    assert 12 / (disc * 1.03) < r.inclusions["share"] < 12 / disc
    contours = contours_on_frame(r.target, box)
    assert len(contours) == 3 and contours[0].max() > 64  # drawn in frame pixels
    empty = task.read(np.zeros_like(probs), None, box.scale, lambda *a: a, 0.1)
    assert empty.state == "no-oocyte" == task.empty_state and empty.inclusions is None


def test_pix2pix_shapes():
    from edgegrade.train.pix2pix import PatchDiscriminator, UNetGenerator, one_hot

    labels = torch.zeros(2, 256, 256, dtype=torch.long)
    labels[:, 100:150, 100:150] = CELL
    g = UNetGenerator(256, 8)
    fake = g(one_hot(labels))
    assert fake.shape == (2, 1, 256, 256) and fake.abs().max() <= 1
    assert PatchDiscriminator(8)(one_hot(labels), fake).shape == (2, 1, 30, 30)  # 70x70 patches
    with pytest.raises(ValueError, match="power of two"):
        UNetGenerator(96, 8)


def test_learned_synthesis_trains_saves_and_generates_both_tasks(tmp_path):
    from edgegrade.train.learned_synth import generate, load_generator, train_generator

    write_oocyte_dataset(tmp_path / "real", 4, size=64, seed=2, progress=False)
    info = train_generator(tmp_path / "real", tmp_path / "g.pt", task="oocyte-inclusions", size=64, epochs=4,
                           width=8, progress=False)
    with open(tmp_path / "g.csv") as f:
        l1 = [float(r["loss_g_l1"]) for r in csv.DictReader(f)]
    assert len(l1) == 4 and l1[-1] < l1[0]  # the generator learns the images
    assert info["train_images_per_s"] > 0 and (tmp_path / "g.png").is_file()
    generate(tmp_path / "g.pt", tmp_path / "gen", 6, progress=False)
    ds = datasets.load(tmp_path / "gen", require_paired=True)
    assert len(ds.paired) == 6
    for s in ds.paired:
        label = read_label_map(s.mask)
        assert 1 <= count_instances(label == FRAGMENT, min_area=1)[0] <= 5
        assert (label == CELL).any()  # spots sit in an ooplasm shape taken from the training masks
    _, state = load_generator(tmp_path / "g.pt")
    assert state["task"] == "oocyte-inclusions" and state["epoch"] == 4

    from edgegrade.synth_dataset import write_dataset

    write_dataset(tmp_path / "embryos", 3, size=64, seed=1, progress=False)
    train_generator(tmp_path / "embryos", tmp_path / "e.pt", task="embryo-fragmentation", size=64, epochs=1,
                    width=8, progress=False)
    generate(tmp_path / "e.pt", tmp_path / "egen", 3, progress=False)
    labels = [read_label_map(s.mask) for s in datasets.load(tmp_path / "egen").paired]
    assert all((lab == CELL).any() and (lab == FRAGMENT).any() for lab in labels)  # random fragment layouts


def test_a_foreign_file_is_not_a_generator(tmp_path):
    from edgegrade.train.learned_synth import load_generator

    torch.save({"weights": torch.zeros(2)}, tmp_path / "x.pt")
    with pytest.raises(EdgegradeError, match="not an edgegrade generator"):
        load_generator(tmp_path / "x.pt")
    (tmp_path / "y.pt").write_text("not torch")
    with pytest.raises(EdgegradeError, match="not a readable generator file"):
        load_generator(tmp_path / "y.pt")


def test_specks_outside_the_oocyte_are_not_inclusions():
    import cv2

    from edgegrade.preprocess import letterbox
    from edgegrade.runtime.pipeline import contours_on_frame
    from edgegrade.tasks import get_task

    probs = np.zeros((2, 64, 64), np.float32)
    cv2.circle(probs[1], (32, 32), 20, 1.0, -1)
    cv2.rectangle(probs[0], (30, 30), (31, 31), 1.0, -1)  # in the ooplasm
    cv2.rectangle(probs[0], (2, 2), (4, 4), 1.0, -1)  # dust in the medium
    cv2.rectangle(probs[1], (0, 60), (3, 63), 1.0, -1)  # a stray bit of "ooplasm" elsewhere
    _, box = letterbox(np.zeros((64, 64), np.uint8), 64)
    r = get_task("oocyte-inclusions").read(probs, None, box.scale, lambda *a: a, 0.1)
    assert r.inclusions["count"] == 1 and r.inclusions["area_px"] == 4
    assert len(contours_on_frame(r.region, box, largest=True)) == 1  # the oocyte's outline only
