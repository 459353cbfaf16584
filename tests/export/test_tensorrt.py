"""TensorRT engine build and parity; runs wherever tensorrt is importable and a GPU exists."""

import numpy as np
import pytest

pytestmark = pytest.mark.trt
trt = pytest.importorskip("tensorrt", reason="TensorRT is not installed here")


def test_engine_build_and_parity_with_onnxruntime(fp16_bundle):
    from edgegrade.bundle import read_manifest
    from edgegrade.configs import ExportConfig
    from edgegrade.export.bundle_ops import build_engines, verify_bundle
    from edgegrade.runtime.backends import open_backend

    header = build_engines(fp16_bundle, ExportConfig(max_batch=2))
    assert header["tensorrt"] == trt.__version__ and header["compute_capability"]
    m = read_manifest(fp16_bundle)
    engine = fp16_bundle / m["modules"]["grader"]["engines"]["fp16"]["file"]
    onnx_file = fp16_bundle / m["modules"]["grader"]["artifacts"]["fp16"]["file"]
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with open_backend(engine) as e, open_backend(onnx_file, provider="cpu") as o:
        a, b = e.infer(x), o.infer(x)
    assert np.abs(a["ratio"] - b["ratio"]).max() < 1e-2
    assert np.abs(a["masks"] - b["masks"]).max() < 5e-2
    verify_bundle(fp16_bundle, n=4)
