"""Operations on an existing bundle, without torch: re-run the gate (`edgegrade verify`) and
build TensorRT engines on the target (`edgegrade export --engine-only`)."""

from dataclasses import asdict
from pathlib import Path

import numpy as np

from edgegrade import datasets
from edgegrade.bundle import file_entry, read_manifest, write_manifest
from edgegrade.configs import DEFAULT_TOLERANCE, Tolerance
from edgegrade.errors import GateFailed
from edgegrade.evalset import EvalSet, load_evalset, to_model_space
from edgegrade.export.verify import gate, run_outputs, score
from edgegrade.grading import FRAGMENT
from edgegrade.preprocess import Normaliser, PreprocessSpec
from edgegrade.runtime.backends import open_backend
from edgegrade.tasks import Task, get_task


def synthetic_evalset(spec: PreprocessSpec, task: Task, n: int = 32, seed: int = 12345) -> EvalSet:
    """Fresh synthetic held-out images of the task (rendered at the size it trains on) when no
    --data is given."""
    from edgegrade.grading import fragment_ratio

    norm, inputs, frags, ratios = Normaliser(spec), [], [], []
    for i in range(n):
        r = task.render(np.random.default_rng([seed, i]), task.synth_size or spec.size)
        rgb, label = to_model_space(r.image, r.label, spec)
        inputs.append(norm(rgb))
        frags.append(label == FRAGMENT)
        ratios.append(fragment_ratio(r.label))
    return EvalSet(np.stack(inputs), frags, ratios, [f"synthetic{i}" for i in range(n)])


def verify_bundle(bundle, data=None, n: int = 32, tolerance: dict | None = None) -> dict:
    bundle = Path(bundle)
    manifest = read_manifest(bundle)
    spec = PreprocessSpec.from_dict(manifest["preprocess"])
    evalset = load_evalset(datasets.load(data).samples, spec, n) if data else \
        synthetic_evalset(spec, get_task(manifest.get("task")), n)
    results = {}
    for role, mod in manifest["modules"].items():
        with open_backend(bundle / mod["artifacts"]["fp32"]["file"], provider="cpu") as ref_backend:
            ref, _ = run_outputs(ref_backend, evalset.inputs)
        ref_score = score(ref, evalset)
        files = {p: a["file"] for p, a in mod["artifacts"].items() if p != "fp32"}
        files.update({f"{p}-engine": e["file"] for p, e in mod.get("engines", {}).items()})
        for name, rel in files.items():
            prec = name.split("-")[0]
            tol = Tolerance(**{**asdict(DEFAULT_TOLERANCE[prec]), **(tolerance or {})})
            with open_backend(bundle / rel) as backend:
                results[f"{role}/{name}"] = gate(role, ref, backend, evalset, tol, ref_score,
                                                 batch=1 if name.endswith("engine") else 8)
    failed = [k for k, r in results.items() if not r["passed"]]
    if failed:
        raise GateFailed(f"{bundle}: gate failed for {', '.join(failed)}: "
                         + "; ".join(", ".join(results[k]["failures"]) for k in failed))
    return {"bundle": str(bundle), "images": len(evalset), "results": results}


def build_engines(bundle, cfg) -> dict:
    """TensorRT engines for every module of an existing bundle (cfg: the ExportConfig's engine
    settings), recorded in its manifest."""
    from edgegrade.export.engine import build_engine

    bundle = Path(bundle)
    manifest = read_manifest(bundle)
    prec = manifest["precision"]
    size = manifest["preprocess"]["size"]
    (bundle / "engines").mkdir(exist_ok=True)
    header = None
    for role, mod in manifest["modules"].items():
        path = bundle / "engines" / f"{role}.{prec}.engine"
        header = build_engine(bundle / mod["artifacts"][prec]["file"], path, cfg, size=size, precision=prec,
                              timing_cache=bundle / "engines" / "timing.cache")
        mod["engines"] = {prec: file_entry(bundle, path)}
    manifest["tensorrt"] = header
    write_manifest(bundle, manifest)
    return header
