"""`edgegrade export`: run dir -> bundle. export_onnx -> to_fp16 / quantize_int8 ->
build_engine -> verify, each a plain function; the bundle is staged and renamed at the end."""

import json
import platform
import time
from dataclasses import asdict
from pathlib import Path

from edgegrade import __version__, datasets, pretrained
from edgegrade.boxes import CACHE_NAME
from edgegrade.bundle import SCHEMA_VERSION, file_entry, read_manifest, sha256, write_manifest
from edgegrade.configs import DEFAULT_TOLERANCE, ExportConfig
from edgegrade.errors import EdgegradeError, GateFailed
from edgegrade.evalset import load_evalset, load_images
from edgegrade.export.bundle_ops import synthetic_evalset
from edgegrade.export.report import write_markdown
from edgegrade.export.verify import gate, score
from edgegrade.files import atomic_write_text, staged
from edgegrade.grading import grade_table
from edgegrade.preprocess import PreprocessSpec
from edgegrade.runtime.backends import OnnxRuntimeBackend
from edgegrade.tasks import get_task

PRECISIONS = ("fp32", "fp16", "int8")


def find_modules(run: Path) -> dict[str, Path]:
    if str(run) == pretrained.NAME:
        return pretrained.modules()
    if not run.is_dir():
        raise EdgegradeError(f"--run {run}: no such folder (a training run's --out, or 'pretrained')")
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
    elif str(run) == pretrained.NAME:  # no run to hold out from: fresh synthetic images, calibration too
        task = get_task(train_cfg.get("task"))
        evalset = synthetic_evalset(spec, task, cfg.eval_n)
        if cfg.precision == "int8" and not cfg.calib:
            return evalset, synthetic_evalset(spec, task, cfg.calib_n, seed=54321).inputs
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
    """Export every module of the run, gate each artifact, write the bundle (staged and renamed).
    A bundle that fails its gate never replaces a deployable one at --out: it goes to
    OUT.failed and GateFailed names it."""
    from edgegrade.train import checkpoint

    if cfg.precision not in PRECISIONS:
        raise EdgegradeError(f"--precision {cfg.precision}: choose from {', '.join(PRECISIONS)}")
    cfg.tol()  # the --tol-* overrides checked before any work
    if cfg.engine and cfg.precision == "int8" and cfg.int8_activations != "s8":
        raise EdgegradeError("--engine needs --int8-activations s8: TensorRT takes only symmetric INT8")
    if cfg.engine:  # before minutes of export, not after
        from edgegrade.export.engine import check_engine_options

        check_engine_options(cfg, cfg.precision)
    quantizer = None
    if cfg.precision == "int8":  # one quantizer for every module and every fallback attempt
        from edgegrade.export.int8 import choose_quantizer

        quantizer = choose_quantizer(cfg.quantizer, cfg.calib_method, cfg.int8_activations, cfg.int8_float)
    run = Path(cfg.run)
    modules = find_modules(run)
    states = {role: checkpoint.load(path) for role, path in modules.items()}
    first = next(iter(states.values()))
    spec = PreprocessSpec.from_dict(first["preprocess"])
    evalset, calib = held_out(cfg, run, spec, first["train_config"])
    if cfg.precision == "int8" and (calib is None or len(calib) == 0):
        raise EdgegradeError("--calib: no calibration images found")
    report = {"precision": cfg.precision, "eval_images": len(evalset), "modules": {}}
    entries = {}
    with staged(Path(cfg.out)) as stage:
        tmp = stage.folder
        for role, state in states.items():
            entries[role], report["modules"][role] = export_module(role, state, modules[role], spec, cfg, tmp,
                                                                   evalset, calib, progress, quantizer)
        report["passed"] = all(g["passed"] for m in report["modules"].values() for g in m["artifacts"].values())
        manifest = build_manifest(cfg, spec, get_task(first["train_config"].get("task")), entries, report)
        write_manifest(tmp, manifest)
        atomic_write_text(tmp / "report.json", json.dumps(report, indent=2))
        write_markdown(tmp / "report.md", manifest, report, tmp)
        if not report["passed"] and is_deployable(Path(cfg.out)):
            stage.destination = Path(f"{cfg.out}.failed")  # the good bundle stays where it is
    if not report["passed"]:
        fails = [f"{r}/{p}: {', '.join(g['failures'])}" for r, m in report["modules"].items()
                 for p, g in m["artifacts"].items() if not g["passed"]]
        where = f"written to {stage.destination} (the deployable bundle at {cfg.out} is kept)" \
            if stage.destination != Path(cfg.out) else f"bundle {cfg.out} marked not deployable"
        raise GateFailed(f"accuracy gate failed, {where}: {'; '.join(fails)}")
    return report


def is_deployable(bundle: Path) -> bool:
    try:
        return bool(read_manifest(bundle, check_hashes=False).get("deployable"))
    except EdgegradeError:
        return False


def export_module(role, state, source: Path, spec, cfg: ExportConfig, tmp: Path, evalset, calib, progress,
                  quantizer=None):
    """One module: ONNX (parity-checked), the torch reference on the held-out images, the
    precision's artifact, each gated; engines when asked. -> (manifest entry, report)."""
    from edgegrade.export.onnx_export import export_onnx, reference_outputs
    from edgegrade.train import checkpoint
    from edgegrade.train.archs import output_names

    progress(f"[{role}] exporting ONNX")
    model = checkpoint.model_from(state)
    meta = {"edgegrade_version": __version__, "role": role, "preprocess": spec.to_dict(),
            "task": get_task(state["train_config"].get("task")).name, "grade_table": grade_table(),
            "model_config": state["model_config"]}
    fp32 = tmp / f"{role}.fp32.onnx"
    parity = export_onnx(model, fp32, size=spec.size, metadata=meta, dynamic_batch=cfg.dynamic_batch)
    ref = reference_outputs(model, evalset.inputs)
    ref_score = score(ref, evalset)
    artifacts = {"fp32": fp32}
    if cfg.precision == "fp16":
        from edgegrade.export.fp16 import to_fp16

        progress(f"[{role}] converting to FP16")
        artifacts["fp16"] = to_fp16(fp32, tmp / f"{role}.fp16.onnx")
    tol = cfg.tol()
    gates = {p: _gate(role, path, ref, ref_score, evalset, DEFAULT_TOLERANCE["fp32"] if p == "fp32" else tol)
             for p, path in artifacts.items()}
    report = {"source": str(source), "onnx_parity": parity, "reference": _public(ref_score), "artifacts": gates}
    if cfg.precision == "int8":
        artifacts["int8"], gates["int8"], report["quantization"] = _int8_with_fallback(
            role, fp32, tmp / f"{role}.int8.onnx", calib, cfg, quantizer, ref, ref_score, evalset, tol, progress)
    engines = {}
    if cfg.engine:
        report["engine"], engines[cfg.precision] = _engine(role, artifacts[cfg.precision], spec, cfg, tmp, progress)
    entry = {
        "role": role, "source_checkpoint": str(source.resolve()), "source_sha256": sha256(source),
        "model_config": state["model_config"], "outputs": output_names(model.cfg), "input": "image",
        "artifacts": {p: {**file_entry(tmp, f), "precision": p} for p, f in artifacts.items()},
        "engines": {p: file_entry(tmp, f) for p, f in engines.items()},
    }
    return entry, report


def _engine(role, onnx_path, spec, cfg: ExportConfig, tmp: Path, progress):
    from edgegrade.export.engine import build_engine, tensorrt_available

    if not tensorrt_available():
        raise EdgegradeError("--engine: tensorrt is not importable here; export without --engine "
                             "and run `edgegrade export --engine-only BUNDLE` on the target")
    progress(f"[{role}] building TensorRT engine")
    (tmp / "engines").mkdir(exist_ok=True)
    path = tmp / "engines" / f"{role}.{cfg.precision}.engine"
    header = build_engine(onnx_path, path, cfg, size=spec.size, precision=cfg.precision,
                          timing_cache=Path(cfg.out).parent / "timing.cache")
    return header, path


def build_manifest(cfg: ExportConfig, spec, task, entries: dict, report: dict) -> dict:
    """What the runtime reads: preprocessing, grade table, files with hashes, the gate's verdict."""
    gate_keys = ("passed", "dice", "mae", "ddice", "dmae", "grade_agreement", "borderline", "tolerance")
    return {
        "schema_version": SCHEMA_VERSION, "edgegrade_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "host": platform.node(),
        "kind": "dual" if len(entries) == 2 else "single", "precision": cfg.precision,
        "deployable": report["passed"], "preprocess": spec.to_dict(), "grade_table": grade_table(),
        "task": task.name, "modules": entries, "export_config": asdict(cfg),
        "accuracy": {r: {p: {k: g.get(k) for k in gate_keys} for p, g in m["artifacts"].items()}
                     for r, m in report["modules"].items()},
        "quantization": next(({k: m["quantization"][k] for k in ("quantizer", "method", "quantizer_method",
                                                                  "activations", "float_dtype")}
                              for m in report["modules"].values() if "quantization" in m), None),
        "tensorrt": next((m["engine"] for m in report["modules"].values() if "engine" in m), None)
        or {"note": "no engines in this bundle; build them on the target with `edgegrade export --engine-only BUNDLE`"},
    }


def _public(s: dict) -> dict:
    return {k: v for k, v in s.items() if not k.startswith(("grades_", "ratios_", "confusion_"))}


def _gate(role, path, ref, ref_score, evalset, tol) -> dict:
    """An ONNX artifact on ONNX Runtime's CPU provider through the one gate."""
    with OnnxRuntimeBackend(path, provider="cpu") as backend:
        result = gate(role, ref, backend, evalset, tol, ref_score)
    result.update(file=Path(path).name, mb=Path(path).stat().st_size / 1e6, ms_per_image_ort_cpu=result["ms_per_image"])
    return result

def _int8_with_fallback(role, fp32, dst, calib, cfg, quantizer, ref, ref_score, evalset, tol, progress):
    """Quantize; if the gate fails, keep the layers that add the most error (measured per
    layer) in floating point, 1, 2, 4, ... and finally all of them, until the gate passes.
    Every attempt uses the same quantizer, which is told the layers to leave out."""
    import tempfile

    from edgegrade.export.int8 import layer_sensitivity, prepare, quantize_int8

    progress(f"[{role}] INT8 calibration on {len(calib)} images ({quantizer.name}, {cfg.calib_method}, "
             f"{cfg.int8_activations}, float layers {cfg.int8_float})")
    kw = dict(method=cfg.calib_method, activations=cfg.int8_activations, float_dtype=cfg.int8_float)
    ranking = []
    with tempfile.TemporaryDirectory() as tmp:
        prepared = prepare(fp32, Path(tmp) / "prepared.onnx")
        info = quantize_int8(prepared, dst, calib, quantizer, **kw)
        gate = _gate(role, dst, ref, ref_score, evalset, tol)
        if not gate["passed"]:
            ranking = layer_sensitivity(prepared, dst, calib[: min(8, len(calib))])
        k = 0
        while not gate["passed"] and k < len(ranking):
            k = min(max(1, 2 * k), len(ranking))
            progress(f"[{role}] INT8 gate failed ({', '.join(gate['failures'])}); keeping {k} layer(s) in float")
            info = quantize_int8(prepared, dst, calib, quantizer, exclude=[n for n, _ in ranking[:k]], **kw)
            gate = _gate(role, dst, ref, ref_score, evalset, tol)
    info["sensitivity_top"] = ranking[:10]
    return dst, gate, info
