"""The models that ship in the package: listed, fine-tuned from, exported without training."""

import json

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from conftest import tiny_train_config  # noqa: E402
from edgegrade import pretrained  # noqa: E402
from edgegrade.cli import main  # noqa: E402
from edgegrade.errors import EdgegradeError  # noqa: E402
from edgegrade.train import checkpoint  # noqa: E402


def test_the_shipped_models_are_small_half_precision_and_described():
    index = pretrained.index()
    assert set(index["models"]) == {"assistant", "grader"}
    total = 0
    for role, entry in index["models"].items():
        state = checkpoint.load(pretrained.path_for(role))  # hash checked, weights only
        assert state["role"] == role and state["optimizer"] is None
        assert all(v.dtype == torch.float16 for v in state["model"].values() if v.is_floating_point())
        total += entry["bytes"]
        assert "dice" in entry["synthetic_test"]
    assert total <= 15e6
    assert index["models"]["grader"]["synthetic_test"]["mae_direct"] < 0.05  # it grades
    r = CliRunner().invoke(main, ["models"])
    assert r.exit_code == 0 and "assistant" in r.output and "grader" in r.output and "clinical" in r.output


def test_a_tampered_shipped_file_is_refused(monkeypatch, tmp_path):
    fake = tmp_path / "pretrained"
    fake.mkdir()
    index = pretrained.index()
    for role, entry in index["models"].items():
        data = bytearray(pretrained.path_for(role).read_bytes())
        data[-10] ^= 0xFF
        (fake / entry["file"]).write_bytes(bytes(data))
    (fake / "pretrained.json").write_text(json.dumps(index))
    monkeypatch.setattr(pretrained, "FOLDER", fake)
    monkeypatch.setattr(pretrained, "INDEX", fake / "pretrained.json")
    with pytest.raises(EdgegradeError, match="does not match its sha256"):
        pretrained.path_for("grader")


def test_init_pretrained_starts_from_the_shipped_weights(tmp_path):
    from edgegrade.train.run import train

    cfg = tiny_train_config(tmp_path, init="pretrained", size=128, lr=1e-12, max_steps=1, synth_n=12,
                            synth_grade_only=0, plots=False)
    train(cfg)
    for role in ("assistant", "grader"):
        shipped = checkpoint.load(pretrained.path_for(role))["model"]
        trained = checkpoint.load(tmp_path / f"{role}.pt")["model"]
        key = "backbone.layer2.0.conv1.weight"
        assert torch.allclose(trained[key], shipped[key].float(), atol=1e-3), role
    with pytest.raises(EdgegradeError, match="--init"):
        train(tiny_train_config(tmp_path / "w32", init="pretrained", width=32, synth_n=12, synth_grade_only=0))


def test_export_run_pretrained_needs_no_training(tmp_path):
    out = tmp_path / "bundle"
    r = CliRunner().invoke(main, ["export", "--run", "pretrained", "--out", str(out), "--precision", "fp32",
                                  "--eval-n", "8"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["deployable"] and set(manifest["modules"]) == {"assistant", "grader"}
    assert all("assets/pretrained" in m["source_checkpoint"] for m in manifest["modules"].values())
