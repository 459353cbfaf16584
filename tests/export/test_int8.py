"""INT8 graphs: Q/DQ where TensorRT fuses them (export/qdq_rules.py states the rules and is run
over every node), layers kept in float really float, one quantizer per export, refusals."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import helper, numpy_helper  # noqa: E402

from edgegrade.errors import EdgegradeError  # noqa: E402
from edgegrade.export.int8 import QUANTIZERS, choose_quantizer, prepare, quantize_int8  # noqa: E402
from edgegrade.export.qdq import graph_index  # noqa: E402
from edgegrade.export.qdq_rules import check_placement  # noqa: E402


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A width-16 AttnRegDeepLab at 64 px with realistic BatchNorm statistics, exported and
    pre-processed as export does, and its calibration images."""
    from edgegrade.export.onnx_export import export_onnx
    from edgegrade.train.archs import build_model

    torch.manual_seed(0)
    model = build_model(width=16)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.uniform_(0.5, 1.5)
    tmp = tmp_path_factory.mktemp("int8")
    export_onnx(model.eval(), tmp / "m.onnx", size=64, metadata={})
    images = np.random.default_rng(1).standard_normal((6, 3, 64, 64)).astype(np.float32)
    return prepare(tmp / "m.onnx", tmp / "prepared.onnx"), images


def _ort(prepared, tmp_path, images, exclude=()):
    dst = tmp_path / "s8.onnx"
    info = quantize_int8(prepared, dst, images, QUANTIZERS["onnxruntime"], exclude=exclude)
    return onnx.load(str(dst)), info


def test_s8_graph_has_qdq_where_tensorrt_fuses_them(prepared, tmp_path):
    src, images = prepared
    model, info = _ort(src, tmp_path, images)
    assert check_placement(model) == [] and info["placement_breaches"] == []
    producer, consumers, inits = graph_index(model.graph)
    dq = lambda t: t in producer and producer[t].op_type == "DequantizeLinear"  # noqa: E731
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert convs and all(dq(n.input[0]) and dq(n.input[1]) for n in convs)  # every conv, both inputs
    adds = [n for n in model.graph.node if n.op_type == "Add" and "layer" in n.name]
    assert len(adds) == 16 and all(sum(dq(t) for t in n.input) == 1 for n in adds)  # residual: the skip only
    assert all(producer[n.input[[dq(t) for t in n.input].index(False)]].op_type == "Conv" for n in adds)
    assert all(dq(n.input[0]) for n in model.graph.node if n.op_type in ("MaxPool", "GlobalAveragePool"))
    float_ops = ("Sigmoid", "Resize", "LayerNormalization", "Gemm", "Mul")
    assert not any(dq(t) for n in model.graph.node if n.op_type in float_ops for t in n.input)
    assert not [i for i in model.graph.initializer if i.name.endswith(".weight") and "conv" in i.name.lower()
                and i.data_type == onnx.TensorProto.FLOAT]  # fp32 conv weights replaced by their int8 form


def test_the_rules_catch_breaches(prepared, tmp_path):
    """The placement before this check (onnxruntime's quantize_static on Conv/Gemm/MatMul)
    leaves residual Adds and pools float; a stray pair before a sigmoid, a half-quantized conv
    and an asymmetric pair are each named."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    from edgegrade.export.qdq import CalibrationReader

    src, images = prepared
    old = tmp_path / "old.onnx"
    quantize_static(str(src), str(old), CalibrationReader(images, "image"), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=["Conv", "Gemm", "MatMul"],
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
    rules = {b.split()[0] for b in check_placement(onnx.load(str(old)))}
    assert {"R2", "R3"} <= rules

    model, _ = _ort(src, tmp_path, images)
    g = model.graph
    sigmoid = next(n for n in g.node if n.op_type == "Sigmoid")
    g.initializer.extend([numpy_helper.from_array(np.array(0.01, np.float32), "s"),
                          numpy_helper.from_array(np.array(3, np.uint8), "z")])
    g.node.extend([helper.make_node("QuantizeLinear", [sigmoid.input[0], "s", "z"], ["xq"], name="stray_Q"),
                   helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xdq"], name="stray_DQ")])
    sigmoid.input[0] = "xdq"
    producer, _, _ = graph_index(g)
    conv = next(n for n in g.node if n.op_type == "Conv")
    conv.input[0] = producer[conv.input[0]].input[0]
    conv.input[0] = producer[conv.input[0]].input[0]  # its activation back to float, the weight still int8
    breaches = check_placement(model)
    assert any(b.startswith("R5 stray_DQ") for b in breaches) and any(b.startswith("R0 stray_Q") for b in breaches)
    assert any(b.startswith(f"R1 {conv.name}") for b in breaches)


def test_layers_kept_in_float_read_float_inputs(prepared, tmp_path):
    src, images = prepared
    convs = [n.name for n in onnx.load(str(src)).graph.node if n.op_type == "Conv"]
    shared = next(c for c in convs if "layer1.0/conv1" in c)  # its input also feeds the downsample conv
    model, info = _ort(src, tmp_path, images, exclude=[shared])
    producer, _, _ = graph_index(model.graph)
    node = next(n for n in model.graph.node if n.name == shared)
    assert all(producer.get(t) is None or producer[t].op_type != "DequantizeLinear" for t in node.input)
    down = next(n for n in model.graph.node if "layer1.0/downsample" in n.name and n.op_type == "Conv")
    assert producer[down.input[0]].op_type == "DequantizeLinear"  # its neighbour still INT8, own pair
    assert info["excluded"] == [shared] and check_placement(model) == []


def test_one_quantizer_chosen_and_what_it_lacks_refused(monkeypatch):
    with pytest.raises(EdgegradeError, match="--int8-float fp16: onnxruntime keeps the other layers in fp32"):
        choose_quantizer("onnxruntime", "minmax", "s8", "fp16")
    with pytest.raises(EdgegradeError, match="--quantizer nvidia: choose auto or onnxruntime, modelopt"):
        choose_quantizer("nvidia", "minmax", "s8", "fp32")
    import edgegrade.export.int8 as int8

    monkeypatch.setattr(int8, "_installed", lambda q: True)  # as where nvidia-modelopt is installed
    with pytest.raises(EdgegradeError, match="--calib-method percentile: modelopt offers minmax, entropy"):
        choose_quantizer("modelopt", "percentile", "s8", "fp32")
    with pytest.raises(EdgegradeError, match="--int8-activations u8: modelopt writes s8"):
        choose_quantizer("modelopt", "minmax", "u8", "fp32")
    assert choose_quantizer("auto", "entropy", "s8", "fp32").name == "modelopt"
    assert choose_quantizer("auto", "percentile", "s8", "fp32").name == "onnxruntime"  # what ModelOpt lacks
    monkeypatch.setattr(int8, "_installed", lambda q: q.name != "modelopt")
    assert choose_quantizer("auto", "entropy", "s8", "fp32").name == "onnxruntime"
    with pytest.raises(EdgegradeError, match=r"pip install 'edgegrade\[modelopt\]'"):
        choose_quantizer("modelopt", "minmax", "s8", "fp32")
