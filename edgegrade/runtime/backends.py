"""The inference backends (runtime/backend.py's protocol): ONNX Runtime here, TensorRT in
trt_backend.py, chosen from a dict by file type."""

from pathlib import Path

import numpy as np

from edgegrade.errors import EdgegradeError, require
from edgegrade.runtime.backend import Backend


def ort_providers(choice: str = "auto") -> list[str]:
    """auto: TensorRT EP, then CUDA EP, then CPU, whichever this onnxruntime has."""
    ort = require("onnxruntime", "runtime")
    available = ort.get_available_providers()
    wanted = {"auto": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
              "cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
              "tensorrt": ["TensorrtExecutionProvider", "CPUExecutionProvider"]}[choice]
    chosen = [p for p in wanted if p in available]
    if choice != "auto" and choice != "cpu" and chosen[0] == "CPUExecutionProvider":
        raise EdgegradeError(f"--provider {choice}: not in this onnxruntime (has {', '.join(available)})")
    return chosen


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def __init__(self, path, provider: str = "auto", threads: int = 0):
        super().__init__(path)
        self.provider, self.threads, self.session = provider, threads, None

    def activate(self):
        ort = require("onnxruntime", "runtime")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.threads:
            opts.intra_op_num_threads = self.threads
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=ort_providers(self.provider))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises several types for a bad file
            raise EdgegradeError(f"{self.path}: onnxruntime cannot load it ({str(exc).splitlines()[0][:160]})") from None
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        return self

    @property
    def active_provider(self) -> str:
        return self.session.get_providers()[0] if self.session else ""

    def infer(self, image):
        outs = self.session.run(self.output_names, {self.input_name: np.ascontiguousarray(image, np.float32)})
        return dict(zip(self.output_names, outs))

    def deactivate(self):
        self.session = None


def tensorrt_backend(path, **kw):
    from edgegrade.runtime.trt_backend import TensorRTBackend

    return TensorRTBackend(path, **kw)


BACKENDS = {".onnx": OnnxRuntimeBackend, ".engine": tensorrt_backend}


def open_backend(path, **kw) -> Backend:
    suffix = Path(path).suffix
    if suffix not in BACKENDS:
        raise EdgegradeError(f"{path}: no backend for '{suffix}' files (known: {', '.join(BACKENDS)})")
    return BACKENDS[suffix](path, **kw)
