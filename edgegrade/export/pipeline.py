"""`edgegrade export`: run dir -> bundle. export_onnx -> to_fp16 / quantize_int8 ->
build_engine -> verify, each a plain function; the bundle is staged and renamed at the end."""

import json
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from edgegrade import __version__, datasets
from edgegrade.boxes import CACHE_NAME
from edgegrade.bundle import SCHEMA_VERSION, file_entry, sha256, staged, write_manifest
from edgegrade.configs import ExportConfig
from edgegrade.errors import EdgegradeError, GateFailed
from edgegrade.evalset import load_evalset, load_images
from edgegrade.export.verify import DEFAULT_TOLERANCE, compare, run_outputs, score
from edgegrade.grading import grade_table
from edgegrade.preprocess import PreprocessSpec
from edgegrade.runtime.backends import OnnxRuntimeBackend
from edgegrade.tasks import get_task

PRECISIONS = ("fp32", "fp16", "int8")


def find_modules(run: Path) -> dict[str, Path]:
    if (run / "model.pt").is_file():
        return {"model": run / "model.pt"}
    if (run / "assistant.pt").is_file() and (run / "grader.pt").is_file():
        return {"assistant": run / "assistant.pt", "grader": run / "grader.pt"}
    raise EdgegradeError(f"--run {run}: no model.pt and no assistant.pt + grader.pt (what `edgegrade train --out` writes)")


def held_out(cfg: ExportConfig, run: Path, spec: PreprocessSpec, train_cfg: dict):
    """Images for the gate, and for INT8 calibration: --calib, else the run's training split
    (never the gate's images), else --data."""
    train_split = None
    if cfg.data:
        evalset = load_evalset(datasets.load(cfg.data).samples, spec, cfg.eval_n)
    else:
        splits = datasets.splits_of(run)
        evalset = load_evalset(splits["val"] + splits["test"], spec, cfg.eval_n, boxes=run / CACHE_NAME)
        train_split = splits["train"]
    if len(evalset) == 0:
        raise EdgegradeError("no held-out images for the accuracy gate (--data)")
    if cfg.precision != "int8":
        return evalset, None
    if cfg.calib:
        return evalset, load_images(cfg.calib, spec, cfg.calib_n)
    if train_split:
        return evalset, load_evalset(train_split, spec, cfg.calib_n, boxes=run / CACHE_NAME).inputs
    return evalset, load_images(cfg.data, spec, cfg.calib_n)


def export_bundle(cfg: ExportConfig, progress=print) -> dict:
    import torch

    from edgegrade.export.engine import build_engine, tensorrt_available
    from edgegrade.export.onnx_export import Deployable, export_onnx
    from edgegrade.train import checkpoint
    from edgegrade.train.archs import output_names

    if cfg.precision not in PRECISIONS:
        raise EdgegradeError(f"--precision {cfg.precision}: choose from {', '.join(PRECISIONS)}")
    if cfg.engine and cfg.precision == "int8" and cfg.int8_activations != "s8":
        raise EdgegradeError("--engine needs --int8-activations s8: TensorRT takes only symmetric INT8")
    run = Path(cfg.run)
    modules = find_modules(run)
    states = {role: checkpoint.load(path) for role, path in modules.items()}
    first = next(iter(states.values()))
    spec = PreprocessSpec.from_dict(first["preprocess"])
    evalset, calib = held_out(cfg, run, spec, first["train_config"])
    if cfg.precision == "int8" and (calib is None or len(calib) == 0):
        raise EdgegradeError("--calib: no calibration images found")
    tol = cfg.tol()
    report = {"precision": cfg.precision, "eval_images": len(evalset), "modules": {}}
    manifest_modules = {}
    with staged(Path(cfg.out)) as tmp:
        for role, state in states.items():
            progress(f"[{role}] exporting ONNX")
            model = checkpoint.model_from(state)
            meta = {"edgegrade_version": __version__, "role": role, "preprocess": spec.to_dict(),
                    "task": get_task(state["train_config"].get("task")).name,
                    "grade_table": grade_table(), "model_config": state["model_config"]}
            fp32 = tmp / f"{role}.fp32.onnx"
            parity = export_onnx(model, fp32, size=spec.size, metadata=meta, dynamic_batch=cfg.dynamic_batch)
            with torch.no_grad():  # the torch fp32 reference on the held-out images
                ref_model = Deployable(checkpoint.model_from(state)).eval()
                names = output_names(model.cfg)
                ref = {n: [] for n in names}
                for i in range(0, len(evalset), 8):
                    for n, t in zip(names, ref_model(torch.from_numpy(evalset.inputs[i:i + 8]))):
                        ref[n].append(t.numpy())
                ref = {n: np.concatenate(v) for n, v in ref.items()}
            ref_score = score(ref, evalset)
            artifacts = {"fp32": fp32}
            mod_report = {"source": str(modules[role]), "onnx_parity": parity, "reference": _public(ref_score),
                          "artifacts": {}}
            if cfg.precision == "fp16":
                from edgegrade.export.fp16 import to_fp16

                progress(f"[{role}] converting to FP16")
                artifacts["fp16"] = to_fp16(fp32, tmp / f"{role}.fp16.onnx")
            gate = {}
            for prec, path in list(artifacts.items()):
                gate[prec] = _gate(role, path, ref, ref_score, evalset, DEFAULT_TOLERANCE["fp32"] if prec == "fp32" else tol)
            if cfg.precision == "int8":
                artifacts["int8"], gate["int8"], mod_report["quantization"] = _int8_with_fallback(
                    role, fp32, tmp / f"{role}.int8.onnx", calib, cfg, ref, ref_score, evalset, tol, progress)
            mod_report["artifacts"] = gate
            engines = {}
            if cfg.engine:
                if not tensorrt_available():
                    raise EdgegradeError("--engine: tensorrt is not importable here; export without --engine "
                                         "and run `edgegrade export --engine-only BUNDLE` on the target")
                progress(f"[{role}] building TensorRT engine")
                (tmp / "engines").mkdir(exist_ok=True)
                epath = tmp / "engines" / f"{role}.{cfg.precision}.engine"
                mod_report["engine"] = build_engine(artifacts[cfg.precision], epath, size=spec.size,
                                                    max_batch=cfg.max_batch, workspace_mb=cfg.workspace_mb,
                                                    timing_cache=Path(cfg.out).parent / "timing.cache",
                                                    version_compatible=cfg.version_compatible)
                engines[cfg.precision] = epath
            report["modules"][role] = mod_report
            manifest_modules[role] = {
                "role": role, "source_checkpoint": str(modules[role].resolve()), "source_sha256": sha256(modules[role]),
                "model_config": state["model_config"], "outputs": names, "input": "image",
                "artifacts": {p: {**file_entry(tmp, f), "precision": p} for p, f in artifacts.items()},
                "engines": {p: file_entry(tmp, f) for p, f in engines.items()},
            }
        passed = all(g["passed"] for m in report["modules"].values() for g in m["artifacts"].values())
        report["passed"] = passed
        manifest = {
            "schema_version": SCHEMA_VERSION, "edgegrade_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "host": platform.node(),
            "kind": "dual" if len(modules) == 2 else "single", "precision": cfg.precision,
            "deployable": passed, "preprocess": spec.to_dict(), "grade_table": grade_table(),
            "task": get_task(first["train_config"].get("task")).name,
            "modules": manifest_modules, "export_config": asdict(cfg),
            "accuracy": {r: {p: {k: g.get(k) for k in ("passed", "dice", "mae", "ddice", "dmae", "grade_agreement", "borderline")}
                             for p, g in m["artifacts"].items()} for r, m in report["modules"].items()},
            "tensorrt": next((m["engine"] for m in report["modules"].values() if "engine" in m), None)
            or {"note": "no engines in this bundle; build them on the target with `edgegrade export --engine-only BUNDLE`"},
        }
        write_manifest(tmp, manifest)
        (tmp / "report.json").write_text(json.dumps(report, indent=2))
        from edgegrade.export.report import write_markdown

        write_markdown(tmp / "report.md", manifest, report, tmp)
    if not passed:
        fails = [f"{r}/{p}: {', '.join(g['failures'])}" for r, m in report["modules"].items()
                 for p, g in m["artifacts"].items() if not g["passed"]]
        raise GateFailed(f"accuracy gate failed, bundle {cfg.out} marked not deployable: {'; '.join(fails)}")
    return report


def _public(s: dict) -> dict:
    return {k: v for k, v in s.items() if not k.startswith(("grades_", "ratios_", "confusion_"))}


def _gate(role, path, ref, ref_score, evalset, tol) -> dict:
    with OnnxRuntimeBackend(path, provider="cpu") as backend:
        got, ms = run_outputs(backend, evalset.inputs)
    result = compare(role, ref, ref_score, got, score(got, evalset), tol)
    result.update(file=Path(path).name, mb=Path(path).stat().st_size / 1e6, ms_per_image_ort_cpu=ms)
    return result


def _int8_with_fallback(role, fp32, dst, calib, cfg, ref, ref_score, evalset, tol, progress):
    """Quantize; if the gate fails, keep the layers that add the most error (measured per
    layer) in floating point, 1, 2, 4, ... and finally all of them, until the gate passes."""
    import tempfile

    from edgegrade.export.int8 import layer_sensitivity, prepare, quantize_int8

    progress(f"[{role}] INT8 calibration on {len(calib)} images ({cfg.calib_method}, {cfg.int8_activations})")
    with tempfile.TemporaryDirectory() as tmp:
        prepared = prepare(fp32, Path(tmp) / "prepared.onnx")
        kw = dict(method=cfg.calib_method, activations=cfg.int8_activations)
        info = quantize_int8(prepared, dst, calib, quantizer=cfg.quantizer, **kw)
        gate = _gate(role, dst, ref, ref_score, evalset, tol)
        if gate["passed"]:
            return dst, gate, info
        ranking = layer_sensitivity(prepared, dst, calib[: min(8, len(calib))])
        k = 0
        while not gate["passed"] and k < len(ranking):
            k = min(max(1, 2 * k), len(ranking))
            progress(f"[{role}] INT8 gate failed ({', '.join(gate['failures'])}); keeping {k} layer(s) in float")
            info = quantize_int8(prepared, dst, calib, exclude=[n for n, _ in ranking[:k]], quantizer="onnxruntime", **kw)
            gate = _gate(role, dst, ref, ref_score, evalset, tol)
    info["sensitivity_top"] = ranking[:10]
    return dst, gate, info
