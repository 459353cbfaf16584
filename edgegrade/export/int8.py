"""INT8 by explicit quantization: Q/DQ nodes from calibration on real preprocessed images,
per-channel symmetric weights and symmetric activations (what TensorRT's strongly typed
builder expects). NVIDIA ModelOpt's ONNX quantizer is used when installed, else
onnxruntime.quantization. TensorRT's implicit calibrators (removed in 11) are never used."""

import importlib.util
import tempfile
from pathlib import Path

import numpy as np

METHODS = ("minmax", "entropy", "percentile")


class _Reader:
    """onnxruntime.quantization CalibrationDataReader over an N x 3 x S x S array."""

    def __init__(self, images: np.ndarray, input_name: str):
        self.items = iter([{input_name: images[i:i + 1]} for i in range(len(images))])

    def get_next(self):
        return next(self.items, None)

    def rewind(self):  # pragma: no cover - newer onnxruntime may call it
        pass


def quantize_int8(src, dst, images: np.ndarray, *, method: str = "minmax", exclude=(),
                  quantizer: str = "auto") -> dict:
    """Write dst with Q/DQ; returns what was done (quantizer, method, excluded nodes)."""
    if quantizer == "auto":
        quantizer = "modelopt" if importlib.util.find_spec("modelopt") and not exclude else "onnxruntime"
    if quantizer == "modelopt":
        return _modelopt(src, dst, images, method)
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        prepped = Path(tmp) / "prepped.onnx"
        quant_pre_process(str(src), str(prepped), skip_symbolic_shape=True)
        quantize_static(
            str(prepped), str(dst), _Reader(images, "image"), quant_format=QuantFormat.QDQ,
            per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
            calibrate_method={"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                              "percentile": CalibrationMethod.Percentile}[method],
            op_types_to_quantize=["Conv", "Gemm", "MatMul"], nodes_to_exclude=list(exclude),
            extra_options={"ActivationSymmetric": True, "WeightSymmetric": True,
                           "CalibMovingAverage": method == "minmax"},
        )
    return {"quantizer": "onnxruntime", "method": method, "excluded": list(exclude)}


def _modelopt(src, dst, images, method):  # pragma: no cover - needs nvidia-modelopt
    from modelopt.onnx.quantization import quantize

    quantize(onnx_path=str(src), quantize_mode="int8", calibration_data=images,
             calibration_method={"minmax": "max", "entropy": "entropy", "percentile": "max"}[method],
             output_path=str(dst))
    return {"quantizer": "modelopt", "method": method, "excluded": []}


def layer_sensitivity(fp32_path, int8_path, images: np.ndarray) -> list[tuple[str, float]]:
    """Relative L2 error of every quantized Conv/Gemm output (int8 vs fp32) on a few images,
    worst first. Used to pick the layers that stay in floating point when a gate fails."""
    import onnx
    import onnxruntime as ort

    def outputs_of(path):
        model = onnx.load(str(path))
        nodes = {n.name: n.output[0] for n in model.graph.node if n.op_type in ("Conv", "Gemm", "MatMul") and n.name}
        known = {o.name for o in model.graph.output}
        for tensor in nodes.values():
            if tensor not in known:
                model.graph.output.append(onnx.helper.make_empty_tensor_value_info(tensor))
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        names = list(nodes.values())
        res = [sess.run(names, {"image": images[i:i + 1]}) for i in range(len(images))]
        return nodes, {n: np.concatenate([r[k] for r in res]) for k, n in enumerate(names)}

    ref_nodes, ref = outputs_of(fp32_path)
    q_nodes, got = outputs_of(int8_path)
    errors = []
    for name, tensor in ref_nodes.items():
        if name in q_nodes and q_nodes[name] in got:
            a, b = ref[tensor], got[q_nodes[name]]
            errors.append((name, float(np.linalg.norm(a - b) / (np.linalg.norm(a) + 1e-12))))
    return sorted(errors, key=lambda e: -e[1])
