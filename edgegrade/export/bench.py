"""`edgegrade bench BUNDLE`: every artifact side by side in one process (Ultralytics-style
table), including the torch fp32 reference when torch and the source checkpoint are here, so
speed-ups are ratios measured in the same run."""

import importlib.util
import time
from pathlib import Path

import numpy as np

from edgegrade.bundle import read_manifest
from edgegrade.export.bundle_ops import synthetic_evalset
from edgegrade.export.verify import score
from edgegrade.postprocess import judged_ratio
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


def _accuracy(infer, evalset, role) -> tuple[float | None, float | None]:
    outs = [infer(evalset.inputs[i:i + 1]) for i in range(len(evalset))]
    merged = {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}
    s = score(merged, evalset)
    return s.get("dice"), s.get(f"mae_{judged_ratio(role, merged)}")


def bench_bundle(bundle, runs: int = 20, n_eval: int = 16, threads: int = 0, torch_ref: bool = True) -> list[dict]:
    bundle = Path(bundle)
    manifest = read_manifest(bundle)
    spec = PreprocessSpec.from_dict(manifest["preprocess"])
    evalset = synthetic_evalset(spec, get_task(manifest.get("task")), n_eval)
    x = evalset.inputs[:1]
    rows = []
    for role, mod in manifest["modules"].items():
        src = Path(mod["source_checkpoint"])
        if torch_ref and importlib.util.find_spec("torch") and src.is_file():
            import torch

            from edgegrade.export.onnx_export import Deployable
            from edgegrade.train import checkpoint

            if threads:
                torch.set_num_threads(threads)
            model = Deployable(checkpoint.model_from(checkpoint.load(src))).eval()
            names = mod["outputs"]

            def infer(a, model=model, names=names):
                with torch.inference_mode():
                    return {n: t.numpy() for n, t in zip(names, model(torch.from_numpy(a)))}

            dice, mae = _accuracy(infer, evalset, role)
            rows.append(_row(role, "torch (reference)", "fp32", "torch eager CPU", src.stat().st_size, dice, mae,
                             _time(infer, x, runs)))
        files = [(p, a["file"]) for p, a in mod["artifacts"].items()]
        files += [(f"{p}", e["file"]) for p, e in mod.get("engines", {}).items()]
        for prec, rel in files:
            kw = {"provider": "cpu", "threads": threads} if rel.endswith(".onnx") else {}
            with open_backend(bundle / rel, **kw) as backend:
                dice, mae = _accuracy(backend.infer, evalset, role)
                ms = _time(backend.infer, x, runs)
                name = getattr(backend, "active_provider", "") or backend.name
            rows.append(_row(role, rel, prec, name, (bundle / rel).stat().st_size, dice, mae, ms))
    for r in rows:  # speed-up against the torch reference of the same module, same run
        ref = next((q for q in rows if q["module"] == r["module"] and q["artifact"].startswith("torch")), None)
        r["speedup_vs_torch"] = round(ref["ms_per_image"] / r["ms_per_image"], 2) if ref else None
    return rows


def _row(module, artifact, precision, backend, size, dice, mae, ms) -> dict:
    return {"module": module, "artifact": artifact, "precision": precision, "backend": backend,
            "size_mb": round(size / 1e6, 1), "dice": None if dice is None else round(dice, 4),
            "mae": None if mae is None else round(mae, 4), "ms_per_image": round(ms, 2),
            "images_per_s": round(1000 / ms, 1)}


def format_table(rows: list[dict]) -> str:
    cols = ["module", "artifact", "precision", "backend", "size_mb", "dice", "mae", "ms_per_image", "images_per_s",
            "speedup_vs_torch"]
    widths = {c: max(len(c), *(len(str(r.get(c))) for r in rows)) for c in cols}
    line = lambda vals: "  ".join(str(v).ljust(widths[c]) for c, v in zip(cols, vals))  # noqa: E731
    return "\n".join([line(cols)] + [line([r.get(c) for c in cols]) for r in rows])
