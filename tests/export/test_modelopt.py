"""NVIDIA ModelOpt's ONNX INT8 quantizer through export, end to end on the CPU. Runs where
nvidia-modelopt is installed (`bash scripts/extras_venv.sh`, then `.venv-extras/bin/python -m
pytest tests/export/test_modelopt.py`); skipped in the default environment."""

import json

import numpy as np
import pytest

pytest.importorskip("modelopt.onnx.quantization", reason="nvidia-modelopt is not installed "
                    "(pip install 'edgegrade[modelopt]', or bash scripts/extras_venv.sh)")
onnx = pytest.importorskip("onnx")

from edgegrade.bundle import read_manifest  # noqa: E402
from edgegrade.configs import ExportConfig  # noqa: E402
from edgegrade.errors import EdgegradeError  # noqa: E402
from edgegrade.export.pipeline import export_bundle  # noqa: E402
from edgegrade.export.qdq import graph_index  # noqa: E402
from edgegrade.export.qdq_rules import check_placement  # noqa: E402

quiet = dict(progress=lambda m: None)


def _export(dual_run, out, **kw):
    cfg = dict(run=str(dual_run), out=str(out), precision="int8", calib_n=8, eval_n=8, quantizer="modelopt")
    return export_bundle(ExportConfig(**{**cfg, **kw}), **quiet)


def test_modelopt_calibrates_and_places_qdq_for_tensorrt(dual_run, tmp_path):
    out = tmp_path / "mo"
    _export(dual_run, out, tolerance={"dmae": 0.05, "ddice": 0.05, "agreement": 0.5})
    m = read_manifest(out)
    assert m["quantization"] == {"quantizer": "modelopt", "method": "minmax", "quantizer_method": "max",
                                 "activations": "s8", "float_dtype": "fp32"}
    for role, mod in m["modules"].items():
        proto = onnx.load(str(out / mod["artifacts"]["int8"]["file"]))
        assert sum(n.op_type == "QuantizeLinear" for n in proto.graph.node) > 20
        assert check_placement(proto) == []
        # the layers it leaves out stay fp32, as chosen: no fp16 tensor anywhere
        assert not [i for i in proto.graph.initializer if i.data_type == onnx.TensorProto.FLOAT16]
    assert "modelopt (minmax, its 'max')" in (out / "report.md").read_text()
    assert "layers out of INT8 in fp32" in (out / "report.md").read_text()


def test_fallback_stays_with_modelopt_and_its_exclusions_are_float(dual_run, tmp_path, monkeypatch):
    import edgegrade.export.pipeline as pipeline

    real, seen = pipeline._gate, set()

    def first_int8_gate_fails(role, path, *a, **k):  # every module's first INT8 attempt fails
        result = real(role, path, *a, **k)
        if str(path).endswith("int8.onnx") and role not in seen:
            seen.add(role)
            result.update(passed=False, failures=["forced by the test"])
        return result

    monkeypatch.setattr(pipeline, "_gate", first_int8_gate_fails)
    out = tmp_path / "fallback"
    _export(dual_run, out, tolerance={"dmae": 0.05, "ddice": 0.05, "agreement": 0.5})
    report = json.loads((out / "report.json").read_text())
    for role, mod in report["modules"].items():
        q = mod["quantization"]
        assert q["quantizer"] == "modelopt" and len(q["excluded"]) == 1, role
        # Found here: with a block's first conv excluded, ModelOpt drops the Q/DQ on that block's
        # skip input too, so its residual Add no longer fuses in INT8 (R2). Named in the report.
        assert all(b.startswith("R2 ") for b in q["placement_breaches"]), q["placement_breaches"]
        proto = onnx.load(str(out / f"{role}.int8.onnx"))
        producer, _, _ = graph_index(proto.graph)
        kept = [n for n in proto.graph.node if n.name == q["excluded"][0]]
        assert kept and all(producer.get(t) is None or producer[t].op_type != "DequantizeLinear"
                            for t in kept[0].input)
    assert read_manifest(out)["quantization"]["quantizer"] == "modelopt"


def test_fp16_float_layers_on_purpose(dual_run, tmp_path):
    out = tmp_path / "fp16"
    _export(dual_run, out, int8_float="fp16", calib_method="entropy",
            tolerance={"dmae": 0.05, "ddice": 0.05, "agreement": 0.5})
    m = read_manifest(out)
    assert m["quantization"]["float_dtype"] == "fp16" and m["quantization"]["quantizer_method"] == "entropy"
    proto = onnx.load(str(out / m["modules"]["grader"]["artifacts"]["int8"]["file"]))
    assert [i for i in proto.graph.initializer if i.data_type == onnx.TensorProto.FLOAT16]
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # fp32 I/O kept


def test_methods_it_lacks_are_refused(dual_run, tmp_path):
    with pytest.raises(EdgegradeError, match="--calib-method percentile: modelopt offers minmax, entropy"):
        _export(dual_run, tmp_path / "p", calib_method="percentile")
    assert not (tmp_path / "p").exists()
