import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from click.testing import CliRunner  # noqa: E402

from edgegrade.bundle import read_manifest  # noqa: E402
from edgegrade.cli import main  # noqa: E402
from edgegrade.errors import EdgegradeError  # noqa: E402
from edgegrade.export.onnx_export import export_onnx, fold_batchnorm  # noqa: E402
from edgegrade.configs import ExportConfig
from edgegrade.export.pipeline import export_bundle  # noqa: E402
from edgegrade.train.archs import build_model  # noqa: E402

quiet = dict(progress=lambda m: None)


def _trained_like(**kw):
    """A model with non-trivial BatchNorm statistics, as after training."""
    torch.manual_seed(0)
    m = build_model(**kw)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.5)
    return m.eval()


def test_fold_batchnorm_keeps_outputs():
    m = _trained_like()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = m(x)
        after = fold_batchnorm(m)(x)
    assert not any(isinstance(mod, torch.nn.BatchNorm2d) for mod in m.modules())
    assert torch.allclose(before["ratio"], after["ratio"], atol=1e-5)
    assert torch.allclose(before["mask_logits"], after["mask_logits"], atol=1e-3)


def test_export_onnx_is_folded_named_dynamic_and_tagged(tmp_path):
    path = tmp_path / "m.onnx"
    parity = export_onnx(_trained_like(), path, size=64, metadata={"role": "grader", "preprocess": {"size": 64}})
    assert max(parity.values()) < 1e-3
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version >= 17
    assert not [n for n in proto.graph.node if n.op_type == "BatchNormalization"]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["role"] == "grader" and json.loads(meta["preprocess"])["size"] == 64
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    masks, ratio = sess.run(["masks", "ratio"], {"image": np.zeros((3, 3, 64, 64), np.float32)})
    assert masks.shape == (3, 2, 64, 64) and ratio.shape == (3,)


def test_fp16_bundle(fp16_bundle):
    m = read_manifest(fp16_bundle)
    assert m["deployable"] and m["kind"] == "dual" and m["precision"] == "fp16"
    assert set(m["modules"]) == {"assistant", "grader"}
    assert m["preprocess"]["size"] == 64 and m["grade_table"][1] == {"grade": "B", "low": 0.1, "high": 0.25}
    fp16 = onnx.load(str(fp16_bundle / m["modules"]["grader"]["artifacts"]["fp16"]["file"]))
    assert fp16.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # fp32 I/O
    assert sum(i.data_type == onnx.TensorProto.FLOAT16 for i in fp16.graph.initializer) > 50
    report = json.loads((fp16_bundle / "report.json").read_text())
    for gate in report["modules"]["grader"]["artifacts"].values():
        assert gate["passed"] and gate["dmae"] <= 0.001
    assert "Deployable: **yes**" in (fp16_bundle / "report.md").read_text()
    assert "engine-only" in m["tensorrt"]["note"]


def test_int8_bundle_has_symmetric_qdq(dual_run, tmp_path):
    out = tmp_path / "int8"
    export_bundle(ExportConfig(run=str(dual_run), out=str(out), precision="int8", calib_n=8, eval_n=8,
                               tol_mae=0.05, tol_dice=0.05), **quiet)
    m = read_manifest(out)
    assert m["quantization"]["quantizer"] in ("onnxruntime", "modelopt") and m["quantization"]["activations"] == "s8"
    report = json.loads((out / "report.json").read_text())
    assert {r["quantization"]["quantizer"] for r in report["modules"].values()} == {m["quantization"]["quantizer"]}
    assert all(r["quantization"]["placement_breaches"] == [] for r in report["modules"].values())
    proto = onnx.load(str(out / m["modules"]["assistant"]["artifacts"]["int8"]["file"]))
    q = [n for n in proto.graph.node if n.op_type == "QuantizeLinear"]
    assert len(q) > 50
    inits = {i.name: i for i in proto.graph.initializer}
    zero_points = [onnx.numpy_helper.to_array(inits[n.input[2]]) for n in q if len(n.input) > 2 and n.input[2] in inits]
    assert zero_points and all((z == 0).all() and z.dtype == np.int8 for z in zero_points)


def test_failed_gate_exits_nonzero_and_marks_nothing_deployable(dual_run, tmp_path):
    out = tmp_path / "strict"
    r = CliRunner().invoke(main, ["export", "--run", str(dual_run), "--out", str(out), "--precision", "fp16",
                                  "--eval-n", "4", "--tol-dice", "1e-9", "--tol-mae", "1e-9"])
    assert r.exit_code == 3 and "accuracy gate failed" in r.output
    assert read_manifest(out)["deployable"] is False
    from edgegrade.configs import WatchConfig
    from edgegrade.runtime.pipeline import Pipeline

    with pytest.raises(EdgegradeError, match="not deployable"):
        Pipeline(WatchConfig(bundle=str(out)))


def test_failed_export_leaves_no_half_bundle(dual_run, tmp_path, monkeypatch):
    import edgegrade.export.fp16 as fp16

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fp16, "to_fp16", disk_full)
    with pytest.raises(EdgegradeError, match=r"/b: cannot write \(No space left on device\)"):
        export_bundle(ExportConfig(run=str(dual_run), out=str(tmp_path / "b"), precision="fp16", eval_n=4), **quiet)
    assert list(tmp_path.iterdir()) == []


def test_tampered_bundle_is_refused(fp16_bundle, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(fp16_bundle, copy)
    target = copy / "grader.fp16.onnx"
    target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(EdgegradeError, match="grader.fp16.onnx: does not match the manifest"):
        read_manifest(copy)


def test_bad_run_and_calibration_folders(tmp_path, dual_run):
    with pytest.raises(EdgegradeError, match="no model.pt and no assistant.pt"):
        export_bundle(ExportConfig(run=str(tmp_path), out=str(tmp_path / "o")), **quiet)
    (tmp_path / "empty").mkdir()
    with pytest.raises(EdgegradeError, match="no images to calibrate"):
        export_bundle(ExportConfig(run=str(dual_run), out=str(tmp_path / "o"), precision="int8",
                                   calib=str(tmp_path / "empty")), **quiet)


def test_verify_cli_passes_on_a_good_bundle(fp16_bundle, tmp_path):
    r = CliRunner().invoke(main, ["verify", str(fp16_bundle), "--n", "6", "--json", str(tmp_path / "v.json")])
    assert r.exit_code == 0, r.output
    results = json.loads((tmp_path / "v.json").read_text())["results"]
    assert set(results) == {"assistant/fp16", "grader/fp16"} and all(v["passed"] for v in results.values())
