"""INT8 by explicit quantization: Q/DQ nodes from calibration on real preprocessed images,
per-channel symmetric weights (what TensorRT's strongly typed builder expects); TensorRT's
implicit calibrators (removed in 11) are never used.

A quantizer is one record in QUANTIZERS, chosen once per export (`choose_quantizer`) and used
for every module and every fallback attempt, so a bundle never mixes quantizers; the manifest
names it. What a quantizer does not offer (a calibration method, activation flavour or float
precision) is refused in one line, never swapped for something else."""

import importlib.util
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from edgegrade.errors import EdgegradeError
from edgegrade.export.qdq import CalibrationReader

METHODS = ("minmax", "entropy", "percentile")


def prepare(src, dst) -> Path:
    """onnxruntime's pre-processing (shape inference + basic graph optimisation). Its fused
    graph quantizes into the fast QLinear kernels; quantize and rank layers on this graph,
    since the optimisation renames nodes."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    quant_pre_process(str(src), str(dst), skip_symbolic_shape=True)
    return Path(dst)


def _onnxruntime(prepared, dst, images, method, exclude, activations, float_dtype, workdir):
    """s8: our writer, Q/DQ where TensorRT fuses them (export/qdq.py); u8: onnxruntime's
    quantize_static on Conv/Gemm/MatMul, asymmetric u8 activations, the pattern its x86 CPU
    kernels run fastest without VNNI."""
    if activations == "s8":
        from edgegrade.export.qdq import write

        write(prepared, dst, images, method, exclude, workdir)
        return
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(
        str(prepared), str(dst), CalibrationReader(images, "image"), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        calibrate_method={"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                          "percentile": CalibrationMethod.Percentile}[method],
        op_types_to_quantize=["Conv", "Gemm", "MatMul"], nodes_to_exclude=list(exclude),
        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True, "CalibMovingAverage": method == "minmax"},
    )


def _modelopt(prepared, dst, images, method, exclude, activations, float_dtype, workdir):
    """NVIDIA ModelOpt's ONNX INT8 mode: its own TensorRT-guided placement; excluded layers by
    exact name (it takes regular expressions); the layers it leaves out in float_dtype."""
    from modelopt.onnx.quantization import quantize

    from edgegrade.runtime.backends import ort_providers

    eps = ["cuda:0", "cpu"] if "CUDAExecutionProvider" in ort_providers("auto") else ["cpu"]
    quantize(onnx_path=str(prepared), quantize_mode="int8", calibration_data={"image": images},
             calibration_method=QUANTIZERS["modelopt"].methods[method], calibration_eps=eps,
             nodes_to_exclude=[re.escape(n) + "$" for n in exclude], high_precision_dtype=float_dtype,
             output_path=str(dst), log_level="WARNING")


@dataclass(frozen=True)
class Quantizer:
    name: str
    methods: dict  # --calib-method -> the quantizer's own name for it
    activations: tuple  # --int8-activations it writes
    float_dtypes: tuple  # --int8-float: precision of the layers it leaves out of INT8
    module: str  # what must import
    extra: str  # the pip extra that installs it
    run: Callable


QUANTIZERS = {
    "onnxruntime": Quantizer("onnxruntime", {m: m for m in METHODS}, ("s8", "u8"), ("fp32",),
                             "onnxruntime.quantization", "export", _onnxruntime),
    "modelopt": Quantizer("modelopt", {"minmax": "max", "entropy": "entropy"}, ("s8",), ("fp32", "fp16"),
                          "modelopt.onnx.quantization", "modelopt", _modelopt),
}


def _installed(q: Quantizer) -> bool:
    try:
        return importlib.util.find_spec(q.module) is not None
    except ModuleNotFoundError:  # its parent package is absent
        return False


def _refusal(q: Quantizer, method: str, activations: str, float_dtype: str) -> str | None:
    if method not in q.methods:
        return f"--calib-method {method}: {q.name} offers {', '.join(q.methods)}"
    if activations not in q.activations:
        return f"--int8-activations {activations}: {q.name} writes {', '.join(q.activations)}"
    if float_dtype not in q.float_dtypes:
        return f"--int8-float {float_dtype}: {q.name} keeps the other layers in {', '.join(q.float_dtypes)}"
    return None


def choose_quantizer(name: str, method: str, activations: str, float_dtype: str) -> Quantizer:
    """The one quantizer of an export. auto: ModelOpt where it is installed and does what was
    asked, else onnxruntime; a named one that is absent or cannot do it is refused."""
    if name == "auto":
        mo = QUANTIZERS["modelopt"]
        name = "modelopt" if _installed(mo) and _refusal(mo, method, activations, float_dtype) is None else "onnxruntime"
    if name not in QUANTIZERS:
        raise EdgegradeError(f"--quantizer {name}: choose auto or {', '.join(QUANTIZERS)}")
    q = QUANTIZERS[name]
    if not _installed(q):
        raise EdgegradeError(f"--quantizer {name}: {q.module} is not installed; pip install 'edgegrade[{q.extra}]'")
    why = _refusal(q, method, activations, float_dtype)
    if why:
        raise EdgegradeError(f"--quantizer {name}: {why}")
    return q


def quantize_int8(prepared, dst, images: np.ndarray, quantizer: Quantizer, *, method: str = "minmax",
                  activations: str = "s8", float_dtype: str = "fp32", exclude=()) -> dict:
    """Write dst with Q/DQ from a `prepare`d graph; -> what was done: quantizer, method (ours
    and its own name for it), activations, float precision, excluded layers and, for s8, the
    breaches of TensorRT's placement rules (export/qdq_rules.py; empty when it follows them)."""
    import onnx

    from edgegrade.export.qdq_rules import check_placement

    with tempfile.TemporaryDirectory() as tmp:
        quantizer.run(prepared, dst, images, method, list(exclude), activations, float_dtype, Path(tmp))
    info = {"quantizer": quantizer.name, "method": method, "quantizer_method": quantizer.methods[method],
            "activations": activations, "float_dtype": float_dtype, "excluded": list(exclude)}
    if activations == "s8":
        info["placement_breaches"] = check_placement(onnx.load(str(dst)))
    return info


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
