"""Model inference on the CPU, side by side in one process: torch eager fp32 vs ONNX Runtime
fp32, fp16 and int8 (Q/DQ), batch 1. Weights are random with realistic BatchNorm statistics:
speed does not depend on what the weights learned (accuracy is gated by `edgegrade export`).

    python benchmarks/inference_cpu.py [--size 256] [--threads 2] [--runs 20] [--json out.json]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from edgegrade.export.fp16 import to_fp16
from edgegrade.export.int8 import prepare, quantize_int8
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
    quantize_int8(prepared, Path(tmp) / "m8.onnx", calib, activations="s8")
    quantize_int8(prepared, Path(tmp) / "m8u.onnx", calib, activations="u8")
    for name, f in (("onnxruntime fp32", fp32), ("onnxruntime fp16", Path(tmp) / "m16.onnx"),
                    ("onnxruntime int8 s8 (TensorRT)", Path(tmp) / "m8.onnx"),
                    ("onnxruntime int8 u8 (CPU)", Path(tmp) / "m8u.onnx")):
        with OnnxRuntimeBackend(f, provider="cpu", threads=a.threads) as b:
            rows[name] = timed(lambda b=b: b.infer(x))
base = rows["torch eager fp32"]
print(f"AttnRegDeepLab, {a.size}x{a.size}, batch 1, {a.threads} CPU threads, median of {a.runs} runs")
for k, v in rows.items():
    print(f"  {k:32s} {v:8.1f} ms  {1000 / v:6.1f} img/s  x{base / v:.2f} vs torch")
if a.json:
    Path(a.json).write_text(json.dumps({"size": a.size, "threads": a.threads, "ms": rows}, indent=2))
