"""Model inference on the CPU, side by side in one process: torch eager fp32 vs ONNX Runtime
fp32, fp16 and int8 (u8, and s8 with Q/DQ where TensorRT fuses them, from our writer and from
NVIDIA ModelOpt where installed), and OpenVINO's CPU runtime on the same ONNX files where
installed; batch 1. Weights are random with realistic BatchNorm statistics: speed does not
depend on what the weights learned (accuracy is gated by `edgegrade export`).

    python benchmarks/inference_cpu.py [--size 256] [--threads 2] [--runs 20] [--json out.json]
    (.venv-extras/bin/python for the ModelOpt and OpenVINO rows: bash scripts/extras_venv.sh)
"""

import argparse
import importlib.util
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from edgegrade.export.fp16 import to_fp16
from edgegrade.export.int8 import QUANTIZERS, prepare, quantize_int8
from edgegrade.export.onnx_export import Deployable, export_onnx
from edgegrade.runtime.backends import OnnxRuntimeBackend
from edgegrade.train.archs import build_model

p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=256)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--runs", type=int, default=20)
p.add_argument("--calib", type=int, default=16)
p.add_argument("--json")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
model = build_model().eval()
for m in model.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.running_var.uniform_(0.5, 1.5)
x = np.random.default_rng(0).standard_normal((1, 3, a.size, a.size)).astype(np.float32)


def timed(fn):
    for _ in range(3):
        fn()
    ts = []
    for _ in range(a.runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return 1000 * float(np.median(ts))


rows = {}
ref = Deployable(model).eval()
with torch.inference_mode():
    rows["torch eager fp32"] = timed(lambda: ref(torch.from_numpy(x)))
with tempfile.TemporaryDirectory() as tmp:
    fp32 = Path(tmp) / "m.onnx"
    export_onnx(model, fp32, size=a.size, metadata={})  # folds BatchNorm in place; ref was timed before
    to_fp16(fp32, Path(tmp) / "m16.onnx")
    calib = np.random.default_rng(1).standard_normal((a.calib, 3, a.size, a.size)).astype(np.float32)
    prepared = prepare(fp32, Path(tmp) / "prepared.onnx")
    files = {"onnxruntime fp32": fp32, "onnxruntime fp16": Path(tmp) / "m16.onnx"}
    for name, quantizer, acts in (("int8 u8 (CPU)", "onnxruntime", "u8"), ("int8 s8 (TensorRT Q/DQ)", "onnxruntime", "s8"),
                                  ("int8 s8 ModelOpt", "modelopt", "s8")):
        if quantizer == "modelopt" and not importlib.util.find_spec("modelopt"):
            continue
        dst = Path(tmp) / f"{quantizer}-{acts}.onnx"
        quantize_int8(prepared, dst, calib, QUANTIZERS[quantizer], activations=acts)
        files[f"onnxruntime {name}"] = dst
    for name, f in files.items():
        with OnnxRuntimeBackend(f, provider="cpu", threads=a.threads) as b:
            rows[name] = timed(lambda b=b: b.infer(x))
    if importlib.util.find_spec("openvino"):  # the same ONNX files on OpenVINO's CPU plugin
        import openvino as ov

        core = ov.Core()
        for name, f in files.items():
            compiled = core.compile_model(str(f), "CPU", {"INFERENCE_NUM_THREADS": a.threads,
                                                          "PERFORMANCE_HINT": "LATENCY"})
            request = compiled.create_infer_request()
            rows[name.replace("onnxruntime", "openvino")] = timed(lambda r=request: r.infer({0: x}))
base = rows["torch eager fp32"]
print(f"AttnRegDeepLab, {a.size}x{a.size}, batch 1, {a.threads} CPU threads, median of {a.runs} runs")
for k, v in rows.items():
    print(f"  {k:40s} {v:8.1f} ms  {1000 / v:6.1f} img/s  x{base / v:.2f} vs torch")
if a.json:
    Path(a.json).write_text(json.dumps({"size": a.size, "threads": a.threads, "ms": rows}, indent=2))
