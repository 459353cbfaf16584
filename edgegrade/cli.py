"""The `edgegrade` command: a thin click group. Each command imports its stage inside the
function, so `--help` stays fast and torch-free."""

import importlib
import json
from pathlib import Path

import click

from edgegrade import __version__
from edgegrade.configs import ExportConfig, GradeConfig, TrainConfig, WatchConfig, options
from edgegrade.tasks import DEFAULT as DEFAULT_TASK
from edgegrade.tasks import TASKS, get_task

TASK_NAMES = list(TASKS)
AT_LEAST_1 = click.IntRange(min=1)
AT_LEAST_0 = click.IntRange(min=0)
OVERWRITE_HELP = "Replace what --out holds (without it, a folder with files is refused)."


class IntList(click.ParamType):
    """'0,1,2' -> (0, 1, 2); '' -> (); anything else is the flag's one-line error."""

    name = "INTS"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            return tuple(int(v) for v in value.split(",")) if value.strip() else ()
        except ValueError:
            self.fail(f"{value!r}: expected comma-separated integers", param, ctx)


INT_LIST = IntList()


class Cli(click.Group):
    """The group: what no command caught itself still ends in one line, never a traceback
    (an OS error with the path it names; Ctrl-C with exit code 130)."""

    def invoke(self, ctx):
        from edgegrade.errors import EdgegradeError, Interrupted

        try:
            return super().invoke(ctx)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise EdgegradeError(f"{where}{exc.strerror or exc}") from None
        except KeyboardInterrupt:
            raise Interrupted("interrupted; every result file is whole or absent (train: continue with --resume)") \
                from None


def write_json(path, data) -> None:
    """A --json report, written whole or not at all."""
    from edgegrade.files import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2))


@click.group(cls=Cli)
@click.version_option(__version__, prog_name="edgegrade")
def main():
    """Embryo fragmentation grading at the edge (AttnRegDeepLab): train, export, watch."""


def gan_options(when: str):
    """The pix2pix generator's training flags, shared by `synth --learned` and `ablate`."""
    def decorate(func):
        func = click.option("--gan-width", default=32, show_default=True, type=AT_LEAST_1,
                            help=f"{when}: pix2pix ngf/ndf (the paper's pix2pix: 64).")(func)
        return click.option("--gan-epochs", default=100, show_default=True, type=AT_LEAST_1,
                            help=f"{when}: pix2pix epochs over the real pairs (--data).")(func)
    return decorate


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Dataset folder to write.")
@click.option("--n", default=200, show_default=True, type=AT_LEAST_0, help="Paired images (image + label map).")
@click.option("--task", type=click.Choice(TASK_NAMES), default=DEFAULT_TASK,
              show_default=True, help="Embryos (fragments) or MII oocytes (inclusions).")
@click.option("--grade-only", default=0, show_default=True, type=AT_LEAST_0,
              help="Embryos: extra images with only a grade in labels.csv.")
@click.option("--relief", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Embryos: share drawn as EmbryoScope frames through relief optics (the rest: the classic renderer).")
@click.option("--size", default=256, show_default=True, type=click.IntRange(min=64), help="Image side in pixels.")
@click.option("--seed", default=0, show_default=True, type=AT_LEAST_0)
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
@click.option("--learned", is_flag=True, help="Images from a pix2pix generator instead of the procedural renderer: "
              "trained on --data's pairs (or loaded with --generator), fed random label maps.")
@click.option("--data", type=click.Path(exists=True, file_okay=False), help="--learned: paired images to train the generator on.")
@click.option("--generator", type=click.Path(dir_okay=False),
              help="--learned: generator file to use; with --data, where to write the trained one (default OUT/generator.pt).")
@gan_options("--learned")
@click.option("--gan-batch", default=1, show_default=True, type=AT_LEAST_1,
              help="--learned: pix2pix batch (pix2pix: 1).")
@click.option("--device", default="cpu", show_default=True, help="--learned: cpu or cuda.")
def synth(out, n, task, grade_only, relief, size, seed, overwrite, learned, data, generator, gan_epochs, gan_width,
          gan_batch, device):
    """Synthetic training data with exact label maps: procedural embryos or oocytes, or
    pix2pix images made from random label maps (--learned). The folder is written whole or
    not at all (a temp folder renamed at the end)."""
    from edgegrade.datasets import new_dataset

    if n + grade_only == 0:
        raise click.BadParameter("nothing to write (--n 0 and --grade-only 0)", param_hint="--n")
    if learned:
        from edgegrade.train.learned_synth import generate, train_generator

        if data is None and generator is None:
            raise click.UsageError("--learned needs --data (pairs to train the generator on) or --generator FILE")
        with new_dataset(out, overwrite) as folder:
            if data is not None:  # the generator goes into the new folder unless --generator says where
                generator = generator or str(folder / "generator.pt")
                info = train_generator(data, generator, task=task, size=size, epochs=gan_epochs, batch=gan_batch,
                                       width=gan_width, seed=seed, device=device)
                click.echo(f"generator: {info['epochs']} epochs over {info['pairs']} pairs in {info['seconds']} s "
                           f"({info['train_images_per_s']} img/s)")
            info = generate(generator, folder, n, seed=seed, device=device)
        click.echo(f"wrote {info['images']} {info['task']} pairs to {out} ({info['images_per_s']} img/s)")
        return
    if data or generator:
        raise click.UsageError("--data and --generator go with --learned")
    record = get_task(task)
    with new_dataset(out, overwrite) as folder:
        info = record.write_synthetic(folder, n, size=size, seed=seed, grade_only=grade_only, relief=relief)
    click.echo(record.synth_line.format(**{**info, "out": out}))


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
        write_json(json_out, report)
    click.echo(f"{len(report['problems'])} problem(s)")
    if report["problems"]:
        raise SystemExit(1)


@data.command("import")
@click.argument("fmt", type=click.Choice(["labelme", "coco"]))
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="COCO only: folder of the images named in the JSON.")
@click.option("--map-label", "maps", multiple=True, metavar="FROM=TO",
              help="Read annotation class FROM as TO (cell or fragment); repeatable.")
@click.option("--ignore-label", "ignore", multiple=True, metavar="NAME",
              help="Skip annotations of class NAME on purpose; repeatable. Any class that is not cell, fragment, "
              "mapped or ignored is an error.")
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
def data_import(fmt, src, out, images, maps, ignore, overwrite):
    """Convert LabelMe JSONs (a folder) or a COCO JSON into the folder format. The folder is
    written whole or not at all (a temp folder renamed at the end)."""
    from edgegrade.importers import import_coco, import_labelme, label_names

    names = label_names(maps, ignore)
    if fmt == "coco":
        if images is None:
            raise click.UsageError("--images is required for COCO")
        n = import_coco(src, images, out, names, overwrite)
    else:
        n = import_labelme(src, out, names, overwrite)
    click.echo(f"imported {n} annotated images into {out}")


@main.command()
@options(TrainConfig)
@click.option("--out", default=TrainConfig.out, show_default=True, type=click.Path(file_okay=False))
def train(**kw):
    """Train AttnRegDeepLab or SMANet: OUT/assistant.pt + OUT/grader.pt (dual) or OUT/model.pt."""
    from edgegrade.train.run import train as run

    task = get_task(kw["task"])
    results = run(TrainConfig(**kw))
    for role, r in results.items():
        click.echo(f"{role}: {r['file']}  test {task.metric_line(r['test'])}")


@main.command()
@options(TrainConfig, skip=("recipe", "resume", "overwrite", "init", "val_fraction", "test_data"))
@click.option("--out", default="runs/crossval", show_default=True, type=click.Path(file_okay=False))
@click.option("--group-by", help="Regex whose first group names a frame's group (default: its embryo id); one group "
              "is held out at a time, e.g. 'RUN(\\d\\d)' pairs consecutive EmbryoScope frames.")
@click.option("--seeds", default="0,1", show_default=True, type=INT_LIST,
              help="Comma-separated seeds (training order, augmentation).")
@click.option("--sizes", default="", type=INT_LIST, help="Also train on this many frames of each fold's pool, e.g. 1,2.")
@click.option("--scratch/--no-scratch", default=True, show_default=True,
              help="Also train from scratch (the same steps) to compare with the pretrained start.")
def crossval(out, group_by, seeds, sizes, scratch, **kw):
    """Fine-tuning on a few annotated frames, leave-one-group-out: from the pretrained models and
    from scratch, per fold and mean (fragment and embryo Dice, ratio errors); OUT/crossval.md."""
    from edgegrade.train.crossval import crossval as run

    run(TrainConfig(**kw, out=out), out, group_by=group_by, seeds=seeds, sizes=sizes,
        inits=("pretrained", None) if scratch else ("pretrained",))
    click.echo(Path(out, "crossval.md").read_text())


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print pretrained.json as it is.")
def models(as_json):
    """The pretrained models that ship with edgegrade: files, provenance, measured metrics."""
    from edgegrade import pretrained

    index = pretrained.index()
    if as_json:
        click.echo(json.dumps(index, indent=2))
        return
    made = index["made"]
    for role, m in index["models"].items():
        t, cfg = m["synthetic_test"], m["model_config"]
        click.echo(f"{role:9s} {pretrained.FOLDER / m['file']}  {m['bytes'] / 1e6:.1f} MB {m['dtype']}  "
                   f"sha256 {m['sha256'][:12]}  width {cfg['width']}, {m['preprocess']['size']} px, "
                   f"{m['preprocess']['crop']} crop")
        for where, t in ((f"{made['synthetic_test']['n']} fresh synthetic embryos", t),
                         ("the real frames, zero-shot", m.get("real_zero_shot", {}))):
            if t:
                click.echo(f"          on {where}: " + "  ".join(f"{k} {t[k]:.4f}" for k in (
                    "dice", "embryo_dice", "mae_direct", "mae_mask", "grade_acc_direct", "kappa_direct") if k in t))
    click.echo(f"made {made['date']} with edgegrade {made['edgegrade_version']}, renderer {made['renderer']}: "
               f"{made['command'] or 'see README'}")
    click.echo(index["card"])


@main.group()
def localiser():
    """The embryo localiser: find the embryo's box in full microscope frames."""


@localiser.command("train")
@click.option("--out", default="runs/localiser.onnx", show_default=True, type=click.Path(dir_okay=False),
              help="ONNX file to write (the shipped one is edgegrade/assets/localiser.onnx).")
@click.option("--scenes", default=4000, show_default=True, type=click.IntRange(min=10),
              help="Synthetic full frames to learn from.")
@click.option("--epochs", default=40, show_default=True, type=AT_LEAST_1)
@click.option("--seed", default=0, show_default=True, type=AT_LEAST_0)
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
@click.option("--batch", default=8, show_default=True, type=AT_LEAST_1)
def evaluate(ckpt, data, split, json_out, device, batch):
    """Dice, IoU, MAE (direct and from mask), grade accuracy and kappa of a checkpoint."""
    from edgegrade.train.evaluate import evaluate_checkpoint, format_metrics

    metrics = evaluate_checkpoint(ckpt, data, split=split, device=device, batch=batch)
    click.echo(format_metrics(metrics))
    if json_out:
        write_json(json_out, metrics)


@main.command()
@options(ExportConfig)
@click.option("--engine-only", "engine_only", type=click.Path(exists=True, file_okay=False),
              help="Build TensorRT engines for an existing BUNDLE on this device.")
def export(engine_only, **kw):
    """Export the trained modules to an accuracy-gated bundle (ONNX fp32/fp16/int8, TensorRT)."""
    cfg = ExportConfig(**kw)
    if engine_only:
        from edgegrade.export.bundle_ops import build_engines

        header = build_engines(engine_only, cfg)
        click.echo(f"engines built in {engine_only}/engines for {header['gpu']} (TensorRT {header['tensorrt']}); "
                   f"run `edgegrade verify {engine_only}` next")
        return
    if not cfg.run or not cfg.out:
        raise click.UsageError("--run and --out are required (or --engine-only BUNDLE)")
    from edgegrade.export.pipeline import export_bundle

    export_bundle(cfg, progress=click.echo)
    click.echo((Path(cfg.out) / "report.md").read_text())


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("--data", type=click.Path(exists=True, file_okay=False), help="Held-out data (default: fresh synthetic embryos).")
@click.option("--n", default=32, show_default=True, type=AT_LEAST_1)
@click.option("--json", "json_out", type=click.Path(dir_okay=False))
def verify(bundle, data, n, json_out):
    """Re-run the accuracy gate on a bundle (e.g. on the Jetson after --engine-only), with the
    tolerances it was exported with; a bundle marked not deployable fails (exit 3)."""
    from edgegrade.export.bundle_ops import verify_bundle

    result = verify_bundle(bundle, data, n)
    for name, r in result["results"].items():
        click.echo(f"{name:28s} pass  dDice {r.get('ddice', float('nan')):.4f}  dMAE {r.get('dmae', float('nan')):.4f}  "
                   f"agreement {r['grade_agreement']:.3f}  {r['ms_per_image']:.1f} ms/img")
    if not result["results"]:
        click.echo("only fp32 artifacts: nothing to compare beyond the export-time parity check")
    if json_out:
        write_json(json_out, result)


@main.command()
@options(WatchConfig)
def watch(**kw):
    """Grade live frames with both modules; window or headless, JSONL log, snapshots."""
    from edgegrade.runtime.watch import verdict
    from edgegrade.runtime.watch import watch as run

    s = run(WatchConfig(**kw), echo=click.echo)
    lat = s["latency_ms"].get("result", {})
    click.echo(f"{s['frames']} frames in {s['seconds']} s ({s['fps']} fps); latency p50 {lat.get('p50')} ms, "
               f"p95 {lat.get('p95')} ms; last: {s['final']}; results {s['grades']}; "
               f"decode errors {s['decode_errors']}; log {s['log']}")
    if "truth" in s:
        t = s["truth"]
        per = ", ".join(f"{g} {100 * v['agreement']:.0f}%" for g, v in t["per_grade"].items())
        click.echo(f"truth: the grade agrees on {100 * t['agreement']:.1f}% of {t['frames']} frames ({per}); "
                   f"REVIEW on {100 * t['review']:.1f}%")
    problem = verdict(s)
    if problem:
        raise problem


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@options(GradeConfig, only=("bundle", "backend", "provider", "review_threshold", "threads", "roi", "labelme",
                            "labelme_embed"))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the CSV, JSON and overlays.")
def grade(paths, **kw):
    """Grade still images or folders: grades.csv, grades.json and overlay PNGs in OUT (with
    --labelme, the predictions as LabelMe files to correct)."""
    from edgegrade.runtime.stills import grade_stills, verdict

    cfg = GradeConfig(**kw)
    rows = grade_stills(cfg, paths, warn=lambda m: click.echo(f"warning: {m}", err=True))
    for r in rows:
        click.echo(f"{r['image']}: {r.get('summary') or r['state']} {r.get('error') or ''}".rstrip())
    click.echo(f"wrote {cfg.out}/grades.csv" + (f" and LabelMe files in {cfg.out}/labelme (correct them, then "
                                                  f"`edgegrade data import labelme {cfg.out}/labelme --out DATA`)"
                                                  if cfg.labelme else ""))
    problem = verdict(rows, cfg.out)
    if problem:
        raise problem


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Report folder: report.html, embryos.csv, timeline.csv (and the audit log of `confirm`).")
def report(run_dir, out):
    """Per-embryo report of a `watch` or `grade` output folder: the ratio over time (grader and
    mask), grade timeline, REVIEW flags, latest overlay, model and bundle hash, the confirmed
    grades beside the AI's and their agreement. One self-contained HTML page plus CSVs."""
    from edgegrade.errors import Incomplete
    from edgegrade.review.report import PAGE, make_report, raise_if_broken

    data, state = make_report(run_dir, out)
    click.echo(f"wrote {out / PAGE}: {len(data['embryos'])} embryo(s), {len(state['decisions'])} confirmed")
    raise_if_broken(out, state)
    if data["skipped"]:
        raise Incomplete(f"{len(data['skipped'])} line(s) or image(s) of {run_dir} could not be used "
                         f"(the first: {data['skipped'][0]}); the report says which")


@main.command()
@click.argument("report", type=click.Path(file_okay=False, path_type=Path))
@click.option("--embryo", required=True, help="The embryo's id, as the report shows it.")
@click.option("--grade", required=True, type=click.Choice(["A", "B", "C", "D"], case_sensitive=False),
              help="The embryologist's grade.")
@click.option("--by", "by", required=True, help="Who decided (recorded with the system account).")
@click.option("--note", default="", help="Why, or anything the next reader should know.")
def confirm(report, embryo, grade, by, note):
    """Record an embryologist's grade for one embryo in the report's audit log (append-only,
    hash-chained) and show it in the report beside the AI's."""
    from edgegrade.review.report import PAGE, confirm as record

    r = record(report, embryo, grade, by, note)
    click.echo(f"recorded decision {r['seq']}: embryo {embryo} grade {r['grade']} by {r['by']} "
               f"(AI grade {r['ai_grade']}); hash {r['hash']}; {report / PAGE} updated")


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("--source", help="Also run the live pipeline on this source and report per-stage latency.")
@click.option("--frames", default=100, show_default=True, type=AT_LEAST_1, help="Frames for --source.")
@click.option("--runs", default=20, show_default=True, type=AT_LEAST_1, help="Timed runs per artifact (batch 1).")
@click.option("--threads", default=0, show_default=True, type=AT_LEAST_0,
              help="CPU threads for torch and ONNX Runtime (0: all).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False))
def bench(bundle, source, frames, runs, threads, json_out):
    """Benchmark every artifact of a bundle side by side (and the live pipeline with --source)."""
    import tempfile

    from edgegrade.export.bench import bench_bundle, format_table

    result = {"artifacts": bench_bundle(bundle, runs=runs, threads=threads)}
    click.echo(format_table(result["artifacts"]))
    if source:
        from edgegrade.runtime.watch import watch as run

        with tempfile.TemporaryDirectory() as tmp:  # as watch runs: the log and the video written
            s = run(WatchConfig(bundle=bundle, source=source, out=tmp, headless=True, max_frames=frames,
                                threads=threads, video=str(Path(tmp) / "watch.mp4")), echo=lambda m: None)
        result["pipeline"] = {k: s[k] for k in ("frames", "fps", "latency_ms", "dropped_frames", "backends")}
        click.echo(f"\npipeline on {source}: {s['fps']} fps over {s['frames']} frames (backends {s['backends']}; "
                   "log and video written)")
        for stage, p in s["latency_ms"].items():
            click.echo(f"  {stage:17s} mean {p.get('mean'):>6} ms  p50 {p.get('p50'):>6} ms  p95 {p.get('p95'):>6} ms")
    if json_out:
        write_json(json_out, result)


@main.command()
@options(TrainConfig, skip=("recipe", "resume", "overwrite"))  # ablate resumes by itself
@click.option("--out", default="runs/ablate", show_default=True, type=click.Path(file_okay=False))
@click.option("--real-n", default=18, show_default=True, type=click.IntRange(min=3),
              help="oocyte-inclusions: real training oocytes when --data is absent.")
@click.option("--test-n", default=8, show_default=True, type=AT_LEAST_1,
              help="oocyte-inclusions: real test oocytes when --test-data is absent.")
@click.option("--gan-n", default=1000, show_default=True, type=AT_LEAST_1,
              help="oocyte-inclusions: synthetic images from the generator.")
@gan_options("oocyte-inclusions")
@click.option("--generator", type=click.Path(exists=True, dir_okay=False),
              help="oocyte-inclusions: a trained generator file (skips pix2pix training).")
@click.option("--seeds", type=INT_LIST, help="Comma-separated seeds, each a full replicate (its own synthetic data, split and "
              "initialisation); default: --seed.")
def ablate(out, real_n, test_n, gan_n, gan_epochs, gan_width, generator, seeds, **kw):
    """The paper's experiments on the data: Exp A-E and Table II for embryos; for
    --task oocyte-inclusions the three schedules of Andreini et al.'s Table 2 (real,
    synthetic, synthetic + real fine-tuning). Writes OUT/table2.md, .csv, .json."""
    cfg = TrainConfig(**kw, out=out)
    task = get_task(cfg.task)
    if not task.ablate:
        raise click.UsageError(f"--task {task.name}: no paper table to reproduce")
    module, name = task.ablate.split(":")
    run = getattr(importlib.import_module(module), name)
    run(cfg, out, seeds=seeds or (cfg.seed,), real_n=real_n, test_n=test_n, synthetic_n=gan_n, gan_epochs=gan_epochs,
        gan_width=gan_width, generator=generator)
    click.echo(Path(out, "table2.md").read_text())
