"""The `edgegrade` command: a thin click group. Each command imports its stage inside the
function, so `--help` stays fast and torch-free."""

import importlib
import json
from pathlib import Path

import click

from edgegrade import __version__
from edgegrade.tasks import DEFAULT as DEFAULT_TASK
from edgegrade.tasks import get_task, tasks

TASK_NAMES = list(tasks())


@click.group()
@click.version_option(__version__, prog_name="edgegrade")
def main():
    """Embryo fragmentation grading at the edge (AttnRegDeepLab): train, export, watch."""


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Dataset folder to write.")
@click.option("--n", default=200, show_default=True, help="Paired images (image + label map).")
@click.option("--task", type=click.Choice(TASK_NAMES), default=DEFAULT_TASK,
              show_default=True, help="Embryos (fragments) or MII oocytes (inclusions).")
@click.option("--grade-only", default=0, show_default=True, help="Embryos: extra images with only a grade in labels.csv.")
@click.option("--size", default=256, show_default=True, help="Image side in pixels.")
@click.option("--seed", default=0, show_default=True)
@click.option("--learned", is_flag=True, help="Images from a pix2pix generator instead of the procedural renderer: "
              "trained on --data's pairs (or loaded with --generator), fed random label maps.")
@click.option("--data", type=click.Path(exists=True, file_okay=False), help="--learned: paired images to train the generator on.")
@click.option("--generator", type=click.Path(dir_okay=False),
              help="--learned: generator file to use; with --data, where to write the trained one (default OUT/generator.pt).")
@click.option("--gan-epochs", default=100, show_default=True, help="--learned: pix2pix epochs over --data.")
@click.option("--gan-width", default=32, show_default=True, help="--learned: pix2pix ngf/ndf (the paper's pix2pix: 64).")
@click.option("--gan-batch", default=1, show_default=True, help="--learned: pix2pix batch (pix2pix: 1).")
@click.option("--device", default="cpu", show_default=True, help="--learned: cpu or cuda.")
def synth(out, n, task, grade_only, size, seed, learned, data, generator, gan_epochs, gan_width, gan_batch, device):
    """Synthetic training data with exact label maps: procedural embryos or oocytes, or
    pix2pix images made from random label maps (--learned)."""
    if learned:
        from edgegrade.train.learned_synth import generate, train_generator

        if data is None and generator is None:
            raise click.UsageError("--learned needs --data (pairs to train the generator on) or --generator FILE")
        if data is not None:
            generator = generator or str(out / "generator.pt")
            info = train_generator(data, generator, task=task, size=size, epochs=gan_epochs, batch=gan_batch,
                                   width=gan_width, seed=seed, device=device)
            click.echo(f"generator {info['generator']}: {info['epochs']} epochs over {info['pairs']} pairs in "
                       f"{info['seconds']} s ({info['train_images_per_s']} img/s); samples {Path(generator).with_suffix('.png')}")
        info = generate(generator, out, n, seed=seed, device=device)
        click.echo(f"wrote {info['images']} {info['task']} pairs to {out} ({info['images_per_s']} img/s)")
        return
    if data or generator:
        raise click.UsageError("--data and --generator go with --learned")
    record = get_task(task)
    info = record.write_synthetic(out, n, size=size, seed=seed, grade_only=grade_only)
    click.echo(record.synth_line.format(**info))


@main.group()
def data():
    """Check and import datasets (folder format, LabelMe, COCO)."""


@data.command("check")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the report as JSON.")
def data_check(root, json_out):
    """Report counts, grade and ratio histograms and every problem; exit 1 on problems."""
    from edgegrade.datasets import check

    report = check(root)
    click.echo(f"{report['root']}: {report['images']} images ({report['paired']} paired, "
               f"{report['grade_only']} grade-only) from {report['embryos']} embryos")
    click.echo("grades: " + "  ".join(f"{g}={n}" for g, n in report["grades"].items()))
    click.echo("fragment ratio (paired):")
    peak = max(report["ratio_histogram"].values()) or 1
    for bin_, count in report["ratio_histogram"].items():
        click.echo(f"  {bin_}  {'#' * round(30 * count / peak):30s} {count}")
    for problem in report["problems"]:
        click.echo(f"problem: {problem}", err=True)
    if json_out:
        json_out.write_text(json.dumps(report, indent=2))
    click.echo(f"{len(report['problems'])} problem(s)")
    if report["problems"]:
        raise SystemExit(1)


@data.command("import")
@click.argument("fmt", type=click.Choice(["labelme", "coco"]))
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="COCO only: folder of the images named in the JSON.")
def data_import(fmt, src, out, images):
    """Convert LabelMe JSONs (a folder) or a COCO JSON into the folder format."""
    from edgegrade.importers import import_coco, import_labelme

    if fmt == "coco":
        if images is None:
            raise click.UsageError("--images is required for COCO")
        n = import_coco(src, images, out)
    else:
        n = import_labelme(src, out)
    click.echo(f"imported {n} annotated images into {out}")


def training_options(func):
    """Flags shared by `train` and `ablate` (each overrides a TrainConfig field)."""
    options = [
        click.option("--data", type=click.Path(exists=True, file_okay=False), help="Dataset folder; default: fresh synthetic data in OUT/data."),
        click.option("--task", type=click.Choice(TASK_NAMES), default=DEFAULT_TASK, show_default=True,
                     help="oocyte-inclusions: Andreini et al.'s inclusion masks (synthetic oocytes by default)."),
        click.option("--arch", type=click.Choice(["attnregdeeplab", "smanet"]), default="attnregdeeplab",
                     show_default=True, help="smanet: segmentation only (Bonechi et al.'s SMANet)."),
        click.option("--test-data", type=click.Path(exists=True, file_okay=False),
                     help="A fixed test set; --data is then split into train and val only."),
        click.option("--repeat", default=1, show_default=True,
                     help="Passes over the (augmented) training split per epoch, for very small datasets."),
        click.option("--init", type=click.Path(exists=True, dir_okay=False),
                     help="Start from this checkpoint's weights (fine-tuning; same --arch/--width)."),
        click.option("--size", default=256, show_default=True, help="Model input side (multiple of 32)."),
        click.option("--crop", type=click.Choice(["auto", "embryo", "full"]), default="auto", show_default=True,
                     help="embryo: every image is cut to a square around the localised embryo (stored in the "
                          "checkpoint, so export and watch crop the same way); full: the whole frame; "
                          "auto: embryo for embryos, full for oocytes."),
        click.option("--margin", default=1.5, show_default=True, help="Embryo crop side / the embryo box's longer side."),
        click.option("--epochs", default=10, show_default=True, help="Epochs per phase (the cap, with --patience)."),
        click.option("--patience", default=0, show_default=True,
                     help="Stop a phase after this many epochs without a better validation metric (0: off)."),
        click.option("--augment", type=click.Choice(["full", "geometric", "off"]), default="full", show_default=True,
                     help="full: crop jitter, turns, exposure, blur, noise; geometric: jitter and turns only."),
        click.option("--batch", default=8, show_default=True),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--lr", type=float, default=0.0,
                     help="Phase 1 / end-to-end learning rate (default 1e-4, the paper's; 1e-3 for oocytes)."),
        click.option("--lr-finetune", default=1e-5, show_default=True, help="Phase 2 (frozen backbone) learning rate."),
        click.option("--precise-bn", default=0, show_default=True,
                     help="Batches to recompute BatchNorm statistics on before each validation (0: off)."),
        click.option("--schedule", type=click.Choice(["constant", "poly"]), default="constant", show_default=True,
                     help="Learning-rate schedule per step (DeepLab's poly decay, power 0.9)."),
        click.option("--output-stride", type=click.Choice(["auto", "16", "8"]), default="auto", show_default=True,
                     help="auto: 16 for AttnRegDeepLab, 8 for SMANet."),
        click.option("--width", type=click.Choice(["64", "32", "16"]), default="64", show_default=True,
                     help="Backbone stem channels: 64 is the paper's ResNet-50; 32/16 keep the depth at 1/4 or 1/16 "
                          "of the weights (quick experiments, tests)."),
        click.option("--amp", type=click.Choice(["auto", "bf16", "fp16", "off"]), default="auto", show_default=True),
        click.option("--workers", default=2, show_default=True, help="Data loader worker processes."),
        click.option("--seed", default=0, show_default=True),
        click.option("--backbone-weights", type=click.Path(exists=True, dir_okay=False),
                     help="torchvision resnet50 ImageNet state_dict file (nothing is downloaded)."),
        click.option("--synth-n", default=160, show_default=True, help="Synthetic paired images when --data is absent."),
        click.option("--synth-grade-only", default=80, show_default=True, help="Synthetic grade-only images."),
        click.option("--synth-size", default=0, show_default=True,
                     help="Side of the rendered synthetic images (0: 640 for embryos, a camera frame; --size for oocytes)."),
        click.option("--max-steps", default=0, show_default=True, help="Cap on steps per epoch (0: all)."),
        click.option("--no-plots", is_flag=True),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def train_config(no_plots, output_stride, width, **kw):
    from edgegrade.train.config import TrainConfig

    stride = 0 if output_stride == "auto" else int(output_stride)
    return TrainConfig(**kw, output_stride=stride, width=int(width), plots=not no_plots)


@main.command()
@training_options
@click.option("--recipe", type=click.Choice(["auto", "dual", "decoupled", "s1", "mtl", "noinject", "regression",
                                            "deeplabv3plus", "seg"]), default="auto", show_default=True,
              help="dual: assistant (S1) + grader (MTL); decoupled: single model; seg: segmentation only. "
                   "auto: dual, s1 for SMANet, seg for oocytes.")
@click.option("--out", default="runs/train", show_default=True, type=click.Path(file_okay=False))
@click.option("--resume", is_flag=True, help="Continue a killed run from OUT/<phase>/last.pt.")
def train(**kw):
    """Train AttnRegDeepLab or SMANet: OUT/assistant.pt + OUT/grader.pt (dual) or OUT/model.pt."""
    from edgegrade.train.run import train as run

    task = get_task(kw["task"])
    results = run(train_config(**kw))
    for role, r in results.items():
        click.echo(f"{role}: {r['file']}  test {task.metric_line(r['test'])}")


@main.group()
def localiser():
    """The embryo localiser: find the embryo's box in full microscope frames."""


@localiser.command("train")
@click.option("--out", default="runs/localiser.onnx", show_default=True, type=click.Path(dir_okay=False),
              help="ONNX file to write (the shipped one is edgegrade/assets/localiser.onnx).")
@click.option("--scenes", default=4000, show_default=True, help="Synthetic full frames to learn from.")
@click.option("--epochs", default=40, show_default=True)
@click.option("--seed", default=0, show_default=True)
def localiser_train(out, scenes, epochs, seed):
    """Fit the localiser's small CNN on synthetic full frames (~15 minutes on 2 CPU cores)."""
    from edgegrade.train.localiser import train_localiser

    click.echo(json.dumps(train_localiser(Path(out), scenes=scenes, epochs=epochs, seed=seed)))


@localiser.command("find")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--out", type=click.Path(file_okay=False), help="Also write each image with its box drawn here.")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False), help="Localiser ONNX (default: the shipped one).")
def localiser_find(paths, out, weights):
    """Print the embryo box (x,y,w,h and confidence) found in each image."""
    import cv2

    from edgegrade.imageio import read_image, write_image
    from edgegrade.localise import Localiser, default_localiser
    from edgegrade.preprocess import to_uint8_rgb
    from edgegrade.runtime.stills import expand

    loc = Localiser(weights) if weights else default_localiser()
    for path in expand(paths):
        image = read_image(path)
        roi = loc(image)
        click.echo(f"{path}: " + ("no embryo" if roi is None else
                                  f"{roi.x},{roi.y},{roi.w},{roi.h}  confidence {roi.confidence:.2f}"))
        if out and roi is not None:
            canvas = to_uint8_rgb(image, "BGR")
            cv2.rectangle(canvas, (roi.x, roi.y), (roi.x + roi.w, roi.y + roi.h), (0, 0, 255),
                          max(2, canvas.shape[1] // 400))
            write_image(Path(out) / f"{path.stem}_roi.png", canvas)


@main.command()
@click.option("--checkpoint", "ckpt", required=True, type=click.Path(dir_okay=False))
@click.option("--data", required=True, type=click.Path(file_okay=False))
@click.option("--split", type=click.Choice(["all", "train", "val", "test"]), default="all", show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the metrics here too.")
@click.option("--device", default="auto", show_default=True)
@click.option("--batch", default=8, show_default=True)
def evaluate(ckpt, data, split, json_out, device, batch):
    """Dice, IoU, MAE (direct and from mask), grade accuracy and kappa of a checkpoint."""
    from edgegrade.train.evaluate import evaluate_checkpoint, format_metrics

    metrics = evaluate_checkpoint(ckpt, data, split=split, device=device, batch=batch)
    click.echo(format_metrics(metrics))
    if json_out:
        Path(json_out).write_text(json.dumps(metrics, indent=2))


@main.command()
@click.option("--run", "run_dir", type=click.Path(file_okay=False), help="What `edgegrade train --out` wrote.")
@click.option("--out", type=click.Path(file_okay=False), help="Bundle folder to write.")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp16", show_default=True)
@click.option("--data", type=click.Path(exists=True, file_okay=False), help="Held-out data for the gate (default: the run's val+test split).")
@click.option("--calib", type=click.Path(exists=True, file_okay=False), help="INT8 calibration images (default: the run's training split).")
@click.option("--calib-n", default=200, show_default=True)
@click.option("--calib-method", type=click.Choice(["minmax", "entropy", "percentile"]), default="minmax", show_default=True)
@click.option("--quantizer", type=click.Choice(["auto", "onnxruntime", "modelopt"]), default="auto", show_default=True)
@click.option("--int8-activations", type=click.Choice(["s8", "u8"]), default="s8", show_default=True,
              help="s8: symmetric (TensorRT); u8: asymmetric, faster with ONNX Runtime on x86 CPUs without VNNI.")
@click.option("--eval-n", default=64, show_default=True, help="Held-out images the gate runs on.")
@click.option("--static-batch", is_flag=True, help="Fix the ONNX batch dimension to 1.")
@click.option("--engine", is_flag=True, help="Also build TensorRT engines (needs tensorrt and a GPU).")
@click.option("--engine-only", "engine_only", type=click.Path(exists=True, file_okay=False),
              help="Build TensorRT engines for an existing BUNDLE on this device.")
@click.option("--max-batch", default=4, show_default=True)
@click.option("--workspace-mb", default=2048, show_default=True)
@click.option("--version-compatible", is_flag=True, help="TensorRT version-compatible engines.")
@click.option("--tol-dice", type=float, help="Max |dDice| (default fp16 0.002, int8 0.01).")
@click.option("--tol-mae", type=float, help="Max |dMAE| (default fp16 0.001, int8 0.005).")
@click.option("--tol-agreement", type=float, help="Min grade agreement (default 0.98).")
def export(run_dir, out, precision, data, calib, calib_n, calib_method, quantizer, int8_activations, eval_n, static_batch, engine,
           engine_only, max_batch, workspace_mb, version_compatible, tol_dice, tol_mae, tol_agreement):
    """Export the trained modules to an accuracy-gated bundle (ONNX fp32/fp16/int8, TensorRT)."""
    if engine_only:
        from edgegrade.export.bundle_ops import build_engines

        header = build_engines(engine_only, max_batch, workspace_mb, version_compatible)
        click.echo(f"engines built in {engine_only}/engines for {header['gpu']} (TensorRT {header['tensorrt']}); "
                   f"run `edgegrade verify {engine_only}` next")
        return
    if not run_dir or not out:
        raise click.UsageError("--run and --out are required (or --engine-only BUNDLE)")
    from edgegrade.export.pipeline import ExportConfig, export_bundle

    tol = {k: v for k, v in (("ddice", tol_dice), ("dmae", tol_mae), ("agreement", tol_agreement)) if v is not None}
    cfg = ExportConfig(run=run_dir, out=out, precision=precision, data=data, calib=calib, calib_n=calib_n,
                       calib_method=calib_method, quantizer=quantizer, int8_activations=int8_activations, eval_n=eval_n,
                       dynamic_batch=not static_batch, engine=engine, max_batch=max_batch,
                       workspace_mb=workspace_mb, version_compatible=version_compatible, tolerance=tol)
    export_bundle(cfg, progress=click.echo)
    click.echo((Path(out) / "report.md").read_text())


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("--data", type=click.Path(exists=True, file_okay=False), help="Held-out data (default: fresh synthetic embryos).")
@click.option("--n", default=32, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False))
def verify(bundle, data, n, json_out):
    """Re-run the accuracy gate on a bundle (e.g. on the Jetson after --engine-only)."""
    from edgegrade.export.bundle_ops import verify_bundle

    result = verify_bundle(bundle, data, n)
    for name, r in result["results"].items():
        click.echo(f"{name:28s} pass  dDice {r.get('ddice', float('nan')):.4f}  dMAE {r.get('dmae', float('nan')):.4f}  "
                   f"agreement {r['grade_agreement']:.3f}  {r['ms_per_image']:.1f} ms/img")
    if not result["results"]:
        click.echo("only fp32 artifacts: nothing to compare beyond the export-time parity check")
    if json_out:
        Path(json_out).write_text(json.dumps(result, indent=2))


@main.command()
@click.option("--bundle", required=True, type=click.Path(file_okay=False), help="What `edgegrade export --out` wrote.")
@click.option("--source", default="synthetic", show_default=True,
              help="Camera index, /dev/videoN, video file, rtsp://, csi://N, gst:PIPELINE, image folder, "
                   "synthetic[-dish|-oocyte][:WxH][@FPS][#N].")
@click.option("--out", default="runs/watch", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the log, snapshots and summary.")
@click.option("--log", type=click.Path(dir_okay=False), help="JSONL log (default OUT/grades.jsonl).")
@click.option("--headless", is_flag=True, help="No window.")
@click.option("--max-frames", default=0, show_default=True, help="Stop after N frames (0: until the source ends).")
@click.option("--backend", type=click.Choice(["auto", "onnxruntime", "tensorrt"]), default="auto", show_default=True)
@click.option("--provider", type=click.Choice(["auto", "cpu", "cuda", "tensorrt"]), default="auto", show_default=True,
              help="ONNX Runtime execution provider.")
@click.option("--video", type=click.Path(dir_okay=False), help="Also write the annotated video (mp4).")
@click.option("--review-threshold", default=0.10, show_default=True, help="Flag when grader and mask ratios differ by more.")
@click.option("--smooth", default=15, show_default=True, help="Frames of the same scene the grade is smoothed over.")
@click.option("--threads", default=0, show_default=True, help="ONNX Runtime threads (0: all cores).")
@click.option("--roi", help="x,y,w,h: the embryo's box in frame pixels, fixed by hand (default: found and tracked).")
def watch(**kw):
    """Grade live frames with both modules; window or headless, JSONL log, snapshots."""
    from edgegrade.runtime.config import WatchConfig
    from edgegrade.runtime.watch import watch as run

    s = run(WatchConfig(**kw), echo=click.echo)
    lat = s["latency_ms"].get("result", {})
    click.echo(f"{s['frames']} frames in {s['seconds']} s ({s['fps']} fps); latency p50 {lat.get('p50')} ms, "
               f"p95 {lat.get('p95')} ms; last: {s['final']}; results {s['grades']}; "
               f"decode errors {s['decode_errors']}; log {s['log']}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--bundle", required=True, type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--backend", type=click.Choice(["auto", "onnxruntime", "tensorrt"]), default="auto", show_default=True)
@click.option("--roi", help="x,y,w,h: the embryo's box in frame pixels, fixed by hand (default: found in each image).")
def grade(paths, bundle, out, backend, roi):
    """Grade still images or folders: grades.csv, grades.json and overlay PNGs in OUT."""
    from edgegrade.runtime.config import WatchConfig
    from edgegrade.runtime.stills import grade_stills

    rows = grade_stills(WatchConfig(bundle=bundle, out=out, backend=backend, roi=roi), paths)
    for r in rows:
        click.echo(f"{r['image']}: {r.get('summary') or r['state']} {r.get('error') or ''}".rstrip())
    click.echo(f"wrote {out}/grades.csv")


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("--source", help="Also run the live pipeline on this source and report per-stage latency.")
@click.option("--frames", default=100, show_default=True, help="Frames for --source.")
@click.option("--runs", default=20, show_default=True, help="Timed runs per artifact (batch 1).")
@click.option("--threads", default=0, show_default=True, help="CPU threads for torch and ONNX Runtime (0: all).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False))
def bench(bundle, source, frames, runs, threads, json_out):
    """Benchmark every artifact of a bundle side by side (and the live pipeline with --source)."""
    import tempfile

    from edgegrade.export.bench import bench_bundle, format_table

    result = {"artifacts": bench_bundle(bundle, runs=runs, threads=threads)}
    click.echo(format_table(result["artifacts"]))
    if source:
        from edgegrade.runtime.config import WatchConfig
        from edgegrade.runtime.watch import watch as run

        with tempfile.TemporaryDirectory() as tmp:
            s = run(WatchConfig(bundle=bundle, source=source, out=tmp, headless=True, max_frames=frames,
                                threads=threads), echo=lambda m: None)
        result["pipeline"] = {k: s[k] for k in ("frames", "fps", "latency_ms", "dropped_frames", "backends")}
        click.echo(f"\npipeline on {source}: {s['fps']} fps over {s['frames']} frames (backends {s['backends']})")
        for stage, p in s["latency_ms"].items():
            click.echo(f"  {stage:16s} p50 {p.get('p50')} ms  p95 {p.get('p95')} ms")
    if json_out:
        Path(json_out).write_text(json.dumps(result, indent=2))


@main.command()
@training_options
@click.option("--out", default="runs/ablate", show_default=True, type=click.Path(file_okay=False))
@click.option("--real-n", default=18, show_default=True, help="oocyte-inclusions: real training oocytes when --data is absent.")
@click.option("--test-n", default=8, show_default=True, help="oocyte-inclusions: real test oocytes when --test-data is absent.")
@click.option("--gan-n", default=1000, show_default=True, help="oocyte-inclusions: synthetic images from the generator.")
@click.option("--gan-epochs", default=100, show_default=True, help="oocyte-inclusions: pix2pix epochs over the real pairs.")
@click.option("--gan-width", default=32, show_default=True, help="oocyte-inclusions: pix2pix ngf/ndf.")
@click.option("--generator", type=click.Path(exists=True, dir_okay=False),
              help="oocyte-inclusions: a trained generator file (skips pix2pix training).")
def ablate(out, real_n, test_n, gan_n, gan_epochs, gan_width, generator, **kw):
    """The paper's experiments on the data: Exp A-E and Table II for embryos; for
    --task oocyte-inclusions the three schedules of Andreini et al.'s Table 2 (real,
    synthetic, synthetic + real fine-tuning). Writes OUT/table2.md, .csv, .json."""
    cfg = train_config(**kw, out=out)
    task = get_task(cfg.task)
    if not task.ablate:
        raise click.UsageError(f"--task {task.name}: no paper table to reproduce")
    module, name = task.ablate.split(":")
    run = getattr(importlib.import_module(module), name)
    run(cfg, out, real_n=real_n, test_n=test_n, synthetic_n=gan_n, gan_epochs=gan_epochs, gan_width=gan_width,
        generator=generator)
    click.echo(Path(out, "table2.md").read_text())
