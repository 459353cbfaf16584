"""Operations on an existing bundle, without torch: re-run the gate (`edgegrade verify`) and
build TensorRT engines on the target (`edgegrade export --engine-only`)."""

import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from edgegrade import datasets
from edgegrade.bundle import file_entry, read_manifest, write_manifest
from edgegrade.configs import DEFAULT_TOLERANCE, Tolerance
from edgegrade.errors import EdgegradeError, GateFailed
from edgegrade.evalset import EvalSet, load_evalset, to_model_space
from edgegrade.export.verify import gate, run_outputs, score
from edgegrade.files import staged
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


def recorded_tolerance(manifest: dict, role: str, prec: str) -> Tolerance:
    """The tolerance an artifact was gated with at export (recorded beside its accuracy; older
    bundles: their export config's overrides on the precision's defaults)."""
    recorded = manifest.get("accuracy", {}).get(role, {}).get(prec, {}).get("tolerance")
    if isinstance(recorded, dict) and set(recorded) == {"ddice", "dmae", "agreement"}:
        return Tolerance(**recorded)
    overrides = (manifest.get("export_config") or {}).get("tolerance") or {}
    return Tolerance(**{**asdict(DEFAULT_TOLERANCE[prec]), **{k: v for k, v in overrides.items()
                                                              if k in ("ddice", "dmae", "agreement")}})


def verify_bundle(bundle, data=None, n: int = 32) -> dict:
    """The gate again, on this machine, with the tolerances the bundle was exported with. A
    bundle whose export gate failed fails here too (GateFailed): `verify` never says "pass"
    for a bundle `watch` refuses."""
    bundle = Path(bundle)
    manifest = read_manifest(bundle)
    if not manifest.get("deployable"):
        raise GateFailed(f"{bundle}: marked not deployable (its accuracy gate failed at export; see "
                         f"{bundle / 'report.md'}); export it again")
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
            tol = recorded_tolerance(manifest, role, name.split("-")[0])
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
    settings), recorded in its manifest. They are built in a temp folder that becomes
    BUNDLE/engines only when all were built, so a failed build leaves the bundle as it was."""
    from edgegrade.export.engine import build_engine, tensorrt_available

    bundle = Path(bundle)
    manifest = read_manifest(bundle)
    if not tensorrt_available():
        raise EdgegradeError(f"--engine-only {bundle}: tensorrt is not importable here (install TensorRT for this "
                             "GPU: JetPack on a Jetson, NVIDIA's wheels on a desktop); the bundle is unchanged")
    prec = manifest["precision"]
    size = manifest["preprocess"]["size"]
    header, name = None, "{}.%s.engine" % prec
    with staged(bundle / "engines") as stage:
        old_cache = bundle / "engines" / "timing.cache"
        cache = Path(cfg.timing_cache) if cfg.timing_cache else stage.folder / "timing.cache"
        if not cfg.timing_cache and old_cache.is_file():
            shutil.copyfile(old_cache, cache)
        for role, mod in manifest["modules"].items():
            header = build_engine(bundle / mod["artifacts"][prec]["file"], stage.folder / name.format(role), cfg,
                                  size=size, precision=prec, timing_cache=cache)
    for role, mod in manifest["modules"].items():
        mod["engines"] = {prec: file_entry(bundle, bundle / "engines" / name.format(role))}
    manifest["tensorrt"] = header
    write_manifest(bundle, manifest)
    return header
