import csv
from pathlib import Path
import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from conftest import tiny_train_config  # noqa: E402
from edgegrade.cli import main  # noqa: E402
from edgegrade.errors import EdgegradeError  # noqa: E402
from edgegrade.train import checkpoint  # noqa: E402
from edgegrade.train.run import train  # noqa: E402


def _rows(run):
    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_dual_run_writes_both_modules_metrics_and_plots(dual_run):
    for name in ("assistant.pt", "grader.pt", "config.json", "eval_assistant.json", "eval_grader.json"):
        assert (dual_run / name).is_file(), name
    assert {r["phase"] for r in _rows(dual_run)} == {"s1", "mtl"}
    for png in ("s1_curves.png", "s1_ratio.png", "s1_samples.png", "mtl_ratio.png"):
        assert (dual_run / "plots" / png).stat().st_size > 5000
    a, g = checkpoint.load(dual_run / "assistant.pt"), checkpoint.load(dual_run / "grader.pt")
    assert a["role"] == "assistant" and g["role"] == "grader" and a["optimizer"] is None
    assert a["train_config"]["size"] == 64 and a["preprocess"]["size"] == 64
    model = checkpoint.model_from(g)  # rebuilt from the file alone
    assert model.cfg.injection and model.cfg.width == 16
    # a finished phase keeps no optimiser state, and the module file is its best.pt, not a copy
    assert checkpoint.load(dual_run / "s1" / "last.pt")["optimizer"] is None
    assert (dual_run / "assistant.pt").read_bytes() == (dual_run / "s1" / "best.pt").read_bytes()


def test_decoupled_phase2_keeps_the_backbone_frozen(tmp_path):
    train(tiny_train_config(tmp_path, recipe="decoupled", synth_n=12, synth_grade_only=0))
    s1, final = checkpoint.load(tmp_path / "s1" / "best.pt"), checkpoint.load(tmp_path / "model.pt")
    for key in ("backbone.layer3.0.conv2.weight", "backbone.layer1.0.bn1.running_mean", "decoder.fuse.0.0.weight"):
        assert torch.equal(s1["model"][key], final["model"][key]), key
    assert not torch.equal(s1["model"]["reg_head.out.weight"], final["model"]["reg_head.out.weight"])
    assert final["train_config"]["lr_finetune"] == 1e-3


def test_resume_continues_after_the_last_epoch(tmp_path):
    cfg = tiny_train_config(tmp_path, recipe="s1", synth_n=12, synth_grade_only=0, plots=False)
    train(cfg)
    cfg.epochs, cfg.resume = 2, True
    train(cfg)
    assert [(r["phase"], r["epoch"]) for r in _rows(tmp_path)] == [("s1", "1"), ("s1", "2")]
    assert checkpoint.load(tmp_path / "s1" / "last.pt")["epoch"] == 2


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    import edgegrade.train.loop as loop

    real = loop.total_loss
    monkeypatch.setattr(loop, "total_loss", lambda o, b, w: (real(o, b, w)[0] * float("nan"), {}))
    with pytest.raises(EdgegradeError, match="NaN"):
        train(tiny_train_config(tmp_path, recipe="s1", synth_n=12, synth_grade_only=0))
    assert not (tmp_path / "s1" / "last.pt").exists()


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(EdgegradeError, match="multiple of 32"):
        train(tiny_train_config(tmp_path, size=70))
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(EdgegradeError, match="bad.pt: not a readable"):
        checkpoint.load(tmp_path / "bad.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"kind": "edgegrade-checkpoint", "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(EdgegradeError, match="evil.pt: not a readable"):  # weights_only refuses code
        checkpoint.load(tmp_path / "evil.pt")
    grade_only = tmp_path / "go"
    (grade_only / "images").mkdir(parents=True)
    import cv2
    import numpy as np

    cv2.imwrite(str(grade_only / "images" / "a.png"), np.zeros((8, 8), np.uint8))
    (grade_only / "labels.csv").write_text("image,grade\na.png,B\n")
    with pytest.raises(EdgegradeError, match="no paired samples"):
        train(tiny_train_config(tmp_path / "r", data=str(grade_only)))


def test_evaluate_cli(dual_run, tmp_path):
    out = tmp_path / "m.json"
    r = CliRunner().invoke(main, ["evaluate", "--checkpoint", str(dual_run / "grader.pt"), "--data",
                                  str(dual_run / "data"), "--split", "test", "--json", str(out), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    m = json.loads(out.read_text())
    assert m["role"] == "grader" and 0 <= m["dice"] <= 1 and 0 <= m["mae_direct"] <= 1 and "kappa_direct" in m


@pytest.mark.slow
def test_ddp_two_processes_on_gloo(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "edgegrade", "train", "--recipe", "s1", "--out", str(tmp_path), "--size", "64", "--epochs", "1",
           "--batch", "2", "--workers", "0", "--synth-n", "12", "--synth-grade-only", "0", "--device", "cpu", "--width", "16",
           "--no-plots"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "model.pt").is_file() and len(_rows(tmp_path)) == 1


@pytest.mark.slow
def test_ablate_writes_table_two(tmp_path):
    from edgegrade.train.ablate import ablate

    rows = ablate(tiny_train_config(tmp_path, synth_n=12, synth_grade_only=4, plots=False, synth_size=96), tmp_path,
                  seeds=(0, 1))
    exps = ["A", "B", "C", "D", "E", "F"]
    assert [(r["exp"], r["seed"]) for r in rows] == [(e, s) for s in (0, 1) for e in exps] + [(e, "mean") for e in exps]
    by = {r["exp"]: r for r in rows if r["seed"] == "mean"}
    assert by["B"]["dice"] is None and by["B"]["mae_direct"] is not None  # regression-only: no mask
    assert by["A"]["mae_direct"] is None and by["A"]["dice"] is not None
    assert by["C"]["dice_spread"] is not None  # two seeds: a spread
    table = (tmp_path / "table2.md").read_text()
    assert "| D | Frozen (decoupled)" in table and "The paper's findings" in table
    assert (tmp_path / "table2.csv").read_text().startswith("exp,seed,strategy")
    # D is phase 2 on A's frozen S1 of the same seed: the backbone is A's
    a, d = (torch.load(tmp_path / "seed1" / f"exp_{e}" / "model.pt", weights_only=True)["model"]
            for e in ("A_s1", "D_phase2"))
    assert torch.equal(a["backbone.layer3.0.conv2.weight"], d["backbone.layer3.0.conv2.weight"])
    # resumable: a second call reads the finished experiments back
    again = ablate(tiny_train_config(tmp_path, synth_n=12, synth_grade_only=4, plots=False, synth_size=96), tmp_path,
                   seeds=(0, 1))
    assert again == rows


def test_poly_schedule_is_a_function_of_the_step():
    from edgegrade.train.loop import poly_lr

    assert poly_lr(1e-3, 0, 10) == pytest.approx(1e-3)
    assert poly_lr(1e-3, 5, 10) == pytest.approx(1e-3 * 0.5 ** 0.9)
    assert poly_lr(1e-3, 10, 10) == poly_lr(1e-3, 9, 10) > 0  # the last step never reaches zero


def test_poly_schedule_trains(tmp_path):
    train(tiny_train_config(tmp_path, recipe="s1", synth_n=12, synth_grade_only=0, schedule="poly", plots=False))
    assert checkpoint.load(tmp_path / "model.pt")["train_config"]["schedule"] == "poly"


def test_precise_batchnorm_uses_plain_averages_of_the_current_weights():
    from edgegrade.train.loop import recalibrate_batchnorm

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4)).eval()
    batches = [{"image": torch.randn(2, 3, 5, 5) + i} for i in range(3)]
    recalibrate_batchnorm(model, batches, torch.device("cpu"), batches=2)
    with torch.no_grad():
        feats = torch.cat([model[0](b["image"]) for b in batches[:2]])
    bn = model[1]
    assert torch.allclose(bn.running_mean, feats.mean((0, 2, 3)), atol=1e-5)  # the third batch is not used
    assert bn.momentum == 0.1 and not bn.training  # restored


def test_training_with_precise_batchnorm(tmp_path):
    train(tiny_train_config(tmp_path, recipe="decoupled", synth_n=12, synth_grade_only=0, precise_bn=2, plots=False))
    s1, final = checkpoint.load(tmp_path / "s1" / "best.pt"), checkpoint.load(tmp_path / "model.pt")
    # phase 2 is frozen: its BatchNorm statistics are not recomputed
    assert torch.equal(s1["model"]["backbone.bn1.running_mean"], final["model"]["backbone.bn1.running_mean"])


def test_a_finished_run_is_resumed_or_replaced_never_mixed(tmp_path):
    cfg = tiny_train_config(tmp_path, recipe="s1", synth_n=12, synth_grade_only=0, plots=False)
    train(cfg)
    before = (tmp_path / "model.pt").read_bytes()
    with pytest.raises(EdgegradeError, match="holds a training run already.*--resume.*--overwrite"):
        train(cfg)
    assert (tmp_path / "model.pt").read_bytes() == before and len(_rows(tmp_path)) == 1  # nothing touched
    cfg.overwrite = True
    train(cfg)
    assert len(_rows(tmp_path)) == 1  # a new history, not a second one appended
    r = CliRunner().invoke(main, ["train", "--out", str(tmp_path), "--recipe", "s1", "--resume", "--overwrite"])
    assert r.exit_code == 2 and "choose one" in r.output


def test_crossval_holds_out_one_group_at_a_time(synth_dir, tmp_path):
    from edgegrade.train.crossval import crossval

    cfg = tiny_train_config(tmp_path, data=str(synth_dir), plots=False, repeat=2)
    # one frame trains too: --repeat shows it twice per epoch, each view augmented on its own
    rows = crossval(cfg, tmp_path, group_by=r"syn3_000(\d)\d", seeds=(0,), sizes=(1, 2), inits=(None,))
    folds = [r for r in rows if r["held_out"] != "mean"]
    assert sorted({r["held_out"] for r in folds}) == ["0", "1", "2"]
    assert sorted({r["train_frames"] for r in folds if r["held_out"] == "2"}) == [1, 2, 20]  # all 20 others, 1 or 2
    for r in folds:  # the held-out group is the test set, and never trained on
        run = tmp_path / "runs" / f"{r['held_out']}_n{r['train_frames']}_seed0_scratch"
        trained = {p.name for p in (Path(json.loads((run / "config.json").read_text())["data"]) / "images").iterdir()}
        assert not any(name.startswith(f"syn3_000{r['held_out']}") for name in trained)
        assert 0 <= r["dice"] <= 1 and r["mae_direct"] is not None and r["embryo_dice"] is not None
    assert "| **mean** | scratch |" in (tmp_path / "crossval.md").read_text()
