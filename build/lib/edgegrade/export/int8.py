"""INT8 by explicit quantization: Q/DQ nodes from calibration on real preprocessed images,
per-channel symmetric weights and symmetric activations (what TensorRT's strongly typed
builder expects). NVIDIA ModelOpt's ONNX quantizer is used when installed, else
onnxruntime.quantization. TensorRT's implicit calibrators (removed in 11) are never used."""

import importlib.util
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


def prepare(src, dst) -> Path:
    """onnxruntime's pre-processing (shape inference + basic graph optimisation). Its fused
    graph quantizes into the fast QLinear kernels; quantize and rank layers on this graph,
    since the optimisation renames nodes."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    quant_pre_process(str(src), str(dst), skip_symbolic_shape=True)
    return Path(dst)


def quantize_int8(prepared, dst, images: np.ndarray, *, method: str = "minmax", exclude=(),
                  quantizer: str = "auto", activations: str = "s8") -> dict:
    """Write dst with Q/DQ from a `prepare`d graph; returns what was done (quantizer, method,
    excluded nodes).

    activations "s8": symmetric signed (zero point 0), what TensorRT needs; "u8": asymmetric
    unsigned, for ONNX Runtime on x86 CPUs without VNNI, where u8 x s8 kernels are the fast ones."""
    if quantizer == "auto":
        quantizer = "modelopt" if importlib.util.find_spec("modelopt") and not exclude else "onnxruntime"
    if quantizer == "modelopt" and activations == "s8":
        return _modelopt(prepared, dst, images, method)
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(
        str(prepared), str(dst), _Reader(images, "image"), quant_format=QuantFormat.QDQ,
        per_channel=True, activation_type=QuantType.QInt8 if activations == "s8" else QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method={"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                          "percentile": CalibrationMethod.Percentile}[method],
        op_types_to_quantize=["Conv", "Gemm", "MatMul"], nodes_to_exclude=list(exclude),
        extra_options={"ActivationSymmetric": activations == "s8", "WeightSymmetric": True,
                       "CalibMovingAverage": method == "minmax"},
    )
    return {"quantizer": "onnxruntime", "method": method, "activations": activations, "excluded": list(exclude)}


def _modelopt(src, dst, images, method):  # pragma: no cover - needs nvidia-modelopt
    from modelopt.onnx.quantization import quantize

    quantize(onnx_path=str(src), quantize_mode="int8", calibration_data=images,
             calibration_method={"minmax": "max", "entropy": "entropy", "percentile": "max"}[method],
             output_path=str(dst))
    return {"quantizer": "modelopt", "method": method, "activations": "s8", "excluded": []}


def layer_sensitivity(prepared, int8_path, images: np.ndarray) -> list[tuple[str, float]]:
    """How much error each quantized Conv/Gemm/MatMul adds by itself, worst first: the relative
    L2 error (int8 vs fp32 graph) of its output minus that of its input. Errors accumulate
    down the network, so the raw output error would blame the last layers for everything."""
    import onnx
    import onnxruntime as ort

    fp32 = onnx.load(str(prepared))
    layers = {n.name: (n.input[0], n.output[0]) for n in fp32.graph.node
              if n.op_type in ("Conv", "Gemm", "MatMul") and n.name}
    wanted = sorted({t for pair in layers.values() for t in pair})

    def activations(model):
        known = {o.name for o in model.graph.output}
        available = {o for n in model.graph.node for o in n.output} | {i.name for i in model.graph.input}
        names = [t for t in wanted if t in available]
        for t in names:
            if t not in known:
                model.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        runs = [sess.run(names, {"image": images[i:i + 1]}) for i in range(len(images))]
        return {t: np.concatenate([r[k] for r in runs]) for k, t in enumerate(names)}

    ref, got = activations(fp32), activations(onnx.load(str(int8_path)))

    def err(t):
        if t not in ref or t not in got:
            return 0.0
        return float(np.linalg.norm(ref[t] - got[t]) / (np.linalg.norm(ref[t]) + 1e-12))

    added = [(name, err(out) - err(inp)) for name, (inp, out) in layers.items() if out in got]
    return sorted(added, key=lambda e: -e[1])
