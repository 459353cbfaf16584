"""`edgegrade bench BUNDLE`: every artifact side by side in one process (Ultralytics-style
table), including the torch fp32 reference when torch and the source checkpoint are here, so
speed-ups are ratios measured in the same run."""

import importlib.util
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from edgegrade.bundle import read_manifest
from edgegrade.configs import DEFAULT_TOLERANCE
from edgegrade.export.bundle_ops import synthetic_evalset
from edgegrade.export.verify import gate, run_outputs
from edgegrade.preprocess import PreprocessSpec
from edgegrade.runtime.backends import open_backend
from edgegrade.tasks import get_task


def _time(fn, x, runs: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def bench_bundle(bundle, runs: int = 20, n_eval: int = 16, threads: int = 0, torch_ref: bool = True) -> list[dict]:
    """Each module's artifacts side by side: accuracy through the gate (against the torch fp32
    reference when torch and the source checkpoint are here, else the fp32 ONNX) and median
    latency at batch 1."""
    bundle = Path(bundle)
    manifest = read_manifest(bundle)
    spec = PreprocessSpec.from_dict(manifest["preprocess"])
    evalset = synthetic_evalset(spec, get_task(manifest.get("task")), n_eval)
    x = evalset.inputs[:1]
    rows = []
    for role, mod in manifest["modules"].items():
        src = Path(mod["source_checkpoint"])
        files = [(p, a["file"]) for p, a in mod["artifacts"].items()]
        files += [(p, e["file"]) for p, e in mod.get("engines", {}).items()]
        ref = None
        if torch_ref and importlib.util.find_spec("torch") and src.is_file():
            import torch

            from edgegrade.export.onnx_export import Deployable, reference_outputs
            from edgegrade.train import checkpoint

            if threads:
                torch.set_num_threads(threads)
            model = checkpoint.model_from(checkpoint.load(src))
            ref = reference_outputs(model, evalset.inputs, batch=1)
            deployed, names = Deployable(model).eval(), mod["outputs"]

            def infer(a, model=deployed, names=names):
                with torch.inference_mode():
                    return {n: t.numpy() for n, t in zip(names, model(torch.from_numpy(a)))}

            rows.append(_row(role, "torch (reference)", "fp32", "torch eager CPU", src.stat().st_size,
                             _accuracy(role, ref, infer, evalset), _time(infer, x, runs)))
        for prec, rel in files:
            kw = {"provider": "cpu", "threads": threads} if rel.endswith(".onnx") else {}
            with open_backend(bundle / rel, **kw) as backend:
                if ref is None:  # no torch here: the fp32 ONNX is the reference
                    ref, _ = run_outputs(backend, evalset.inputs, batch=1)
                accuracy = _accuracy(role, ref, backend, evalset)
                ms = _time(backend.infer, x, runs)
                name = getattr(backend, "active_provider", "") or backend.name
            rows.append(_row(role, rel, prec, name, (bundle / rel).stat().st_size, accuracy, ms))
    for r in rows:  # speed-up against the torch reference of the same module, same run
        ref_row = next((q for q in rows if q["module"] == r["module"] and q["artifact"].startswith("torch")), None)
        r["speedup_vs_torch"] = round(ref_row["ms_per_image"] / r["ms_per_image"], 2) if ref_row else None
    return rows


def _accuracy(role, ref, backend, evalset) -> dict:
    """The gate's figures for one artifact (any object with .infer, or a function)."""
    runner = backend if hasattr(backend, "infer") else SimpleNamespace(infer=backend)
    return gate(role, ref, runner, evalset, DEFAULT_TOLERANCE["fp32"], batch=1)


def _row(module, artifact, precision, backend, size, accuracy, ms) -> dict:
    r4 = lambda v: None if v is None else round(v, 4)  # noqa: E731
    return {"module": module, "artifact": artifact, "precision": precision, "backend": backend,
            "size_mb": round(size / 1e6, 1), "dice": r4(accuracy.get("dice")), "mae": r4(accuracy.get("mae")),
            "max_abs_ratio": accuracy.get("max_abs_ratio"), "ms_per_image": round(ms, 2),
            "images_per_s": round(1000 / ms, 1)}


def format_table(rows: list[dict]) -> str:
    cols = ["module", "artifact", "precision", "backend", "size_mb", "dice", "mae", "ms_per_image", "images_per_s",
            "speedup_vs_torch"]
    widths = {c: max(len(c), *(len(str(r.get(c))) for r in rows)) for c in cols}
    line = lambda vals: "  ".join(str(v).ljust(widths[c]) for c, v in zip(cols, vals))  # noqa: E731
    return "\n".join([line(cols)] + [line([r.get(c) for c in cols]) for r in rows])
