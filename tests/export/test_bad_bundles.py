"""The bad-input matrix, export side (issue 17): exports that fail or cannot be written, and
bundles that are not what they claim. Each case: the exit code, one line naming the file or
flag, no traceback, and a good bundle already on disk never damaged."""

import importlib.util
import json
import os
import shutil

import pytest
from badinput import assert_one_line, disk, leftovers, run_cli, tree

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")


@pytest.fixture
def bundle(fp16_bundle, tmp_path):
    """A copy of the session's good fp16 bundle to break."""
    copy = tmp_path / "bundle"
    shutil.copytree(fp16_bundle, copy)
    return copy


def _edit(bundle, change):
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps(change(manifest)))


def test_cause2_a_failed_export_keeps_the_good_bundle_and_says_where_it_went(dual_run, bundle):
    before = tree(bundle)
    r = run_cli(["export", "--run", dual_run, "--out", bundle, "--precision", "fp16", "--eval-n", 4,
                 "--tol-dice", "1e-9", "--tol-mae", "1e-9"])
    assert_one_line(r, 3, "accuracy gate failed", f"{bundle}.failed", f"deployable bundle at {bundle} is kept")
    assert tree(bundle) == before and leftovers(bundle.parent) == []
    assert json.loads((bundle.parent / "bundle.failed" / "manifest.json").read_text())["deployable"] is False


def test_cause2_tolerances_out_of_range_are_refused_in_code_too(dual_run, tmp_path):
    from edgegrade.configs import ExportConfig
    from edgegrade.errors import EdgegradeError
    from edgegrade.export.pipeline import export_bundle

    with pytest.raises(EdgegradeError, match=r"--tol-agreement 1.01: 1.01 is not in the range 0.0<=x<=1.0"):
        export_bundle(ExportConfig(run=str(dual_run), out=str(tmp_path / "b"), tol_agreement=1.01))
    assert list(tmp_path.iterdir()) == []


def test_cause9_export_into_a_read_only_folder(dual_run, tmp_path):
    with disk(tmp_path / "ro", 64, read_only=True):
        r = run_cli(["export", "--run", dual_run, "--out", tmp_path / "ro" / "b", "--eval-n", 4])
        assert_one_line(r, 2, str(tmp_path / "ro" / "b"), "cannot write")
        assert tree(tmp_path / "ro") == {}


def test_cause9_export_on_a_full_disk_keeps_the_bundle_there(dual_run, fp16_bundle, tmp_path):
    """Held before issue 17 (no half bundle); now one line, and the good bundle stays."""
    with disk(tmp_path / "full", 256, fill=lambda d: shutil.copytree(fp16_bundle, d / "b")) as how:
        before = tree(tmp_path / "full" / "b")
        r = run_cli(["export", "--run", dual_run, "--out", tmp_path / "full" / "b", "--eval-n", 4])
        assert_one_line(r, 2, str(tmp_path / "full" / "b"), "No space left on device" if how == "tmpfs" else "too large",
                        "unchanged")
        assert tree(tmp_path / "full" / "b") == before and leftovers(tmp_path / "full") == []


@pytest.mark.parametrize("change,needles", [
    (lambda m: [m], ["a JSON list"]),
    (lambda m: {**m, "modules": {**m["modules"], "grader": {**m["modules"]["grader"], "artifacts": {
        p: {k: v for k, v in a.items() if k != "sha256"} for p, a in m["modules"]["grader"]["artifacts"].items()}}}},
     ["modules.grader.artifacts.fp32 has no sha256"]),
    (lambda m: {**m, "preprocess": {**m["preprocess"], "size": "64"}}, ["preprocess.size '64' is not a positive integer"]),
    (lambda m: {**m, "modules": {"grader": {"artifacts": {"fp16": {"file": "../../etc/passwd", "sha256": "0" * 64}}}}},
     ["modules.grader.artifacts.fp16.file is not a file name inside the bundle"]),
    (lambda m: {**m, "precision": "int8"}, ["has no int8 artifact"]),
], ids=["top-level-array", "no-sha256", "size-not-an-integer", "file-outside", "precision-missing"])
def test_cause12_a_malformed_manifest_is_one_line(bundle, tmp_path, change, needles):
    _edit(bundle, change)
    for args in (["verify", bundle], ["watch", "--bundle", bundle, "--out", tmp_path / "w", "--headless"]):
        assert_one_line(run_cli(args), 2, f"{bundle}/manifest.json", *needles)


@pytest.mark.parametrize("damage,needle", [
    (lambda b: (b / "grader.fp16.onnx").write_bytes((b / "grader.fp16.onnx").read_bytes()[:-8] + b"01234567"),
     "grader.fp16.onnx: does not match the manifest's sha256"),
    (lambda b: (b / "manifest.json").write_text(json.dumps({"name": "yolov8n", "version": 3})), "schema version None"),
    (lambda b: _edit(b, lambda m: {**m, "schema_version": 2}), "schema version 2, this edgegrade reads 1"),
    (lambda b: (b / "manifest.json").write_text("{not json"), "corrupt manifest"),
], ids=["tampered", "foreign", "future-schema", "not-json"])
def test_tampered_foreign_and_future_bundles_are_refused(bundle, tmp_path, damage, needle):
    """Held before issue 17."""
    damage(bundle)
    r = run_cli(["watch", "--bundle", bundle, "--out", tmp_path / "w", "--headless"])
    assert_one_line(r, 2, needle)
    assert not (tmp_path / "w" / "grades.jsonl").exists()


def test_cause18_verify_fails_an_undeployable_bundle(bundle):
    _edit(bundle, lambda m: {**m, "deployable": False})
    assert_one_line(run_cli(["verify", bundle, "--n", 4]), 3, str(bundle), "marked not deployable")


def test_cause18_verify_gates_with_the_tolerances_recorded_at_export(bundle):
    recorded = json.loads((bundle / "manifest.json").read_text())["accuracy"]["grader"]["fp16"]["tolerance"]
    assert recorded == {"ddice": 0.002, "dmae": 0.001, "agreement": 0.98}  # the fp16 defaults, as exported
    strict = {"ddice": 1e-12, "dmae": 1e-12, "agreement": 1.0}
    _edit(bundle, lambda m: {**m, "accuracy": {r: {p: {**a, "tolerance": strict} for p, a in v.items()}
                                               for r, v in m["accuracy"].items()}})
    assert_one_line(run_cli(["verify", bundle, "--n", 6]), 3, "gate failed", "grader/fp16", "> 1e-12")


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_cause19_engine_only_without_tensorrt_leaves_the_bundle_as_it_was(bundle):
    before = tree(bundle)
    assert_one_line(run_cli(["export", "--engine-only", bundle]), 2, "tensorrt is not importable", "unchanged")
    assert tree(bundle) == before and not (bundle / "engines").exists() and leftovers(bundle) == []


def test_bundles_are_readable_by_another_user(fp16_bundle):
    """Also noticed in issue 17: staged in a 0700 temp folder, a bundle still ends with the
    umask's modes (0755 / 0644 under 022)."""
    mask = os.umask(0)
    os.umask(mask)
    assert fp16_bundle.stat().st_mode & 0o777 == 0o777 & ~mask
    assert {p.stat().st_mode & 0o777 for p in fp16_bundle.iterdir()} == {0o666 & ~mask}
