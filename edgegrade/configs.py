"""The typed config of each stage (TrainConfig, ExportConfig, WatchConfig): the one place
their defaults and help texts live. CLI flags are generated from the fields (`options`), a
run stores its resolved config in every checkpoint, bundle and summary. Torch-free and light,
so `edgegrade --help` stays fast."""

from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path

import click

from edgegrade.augment import AUGMENTS
from edgegrade.recipes import ARCHS, RECIPES, SEGMENTATION_ONLY
from edgegrade.tasks import DEFAULT as DEFAULT_TASK
from edgegrade.tasks import TASKS, get_task


def setting(default=None, help: str = "", *, factory=None, **click_kw):
    """A config field that is also a CLI flag (when it has help text): its default, its help,
    and click settings (type, `flag` names such as "--plots/--no-plots", `parse` for the value,
    `cli_default` where the flag spells the default otherwise, e.g. "auto" for 0)."""
    meta = {"help": help, **click_kw} if help else {}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def options(cls, *, skip=(), only=None, **defaults):
    """click.option decorators for the fields of a config dataclass that carry help text, in
    field order (`only` some of them, or all but `skip`); `defaults` overrides a field's
    default for one command."""
    def decorate(func):
        for f in reversed(fields(cls)):
            if f.name in skip or (only is not None and f.name not in only) or not f.metadata.get("help"):
                continue
            meta = dict(f.metadata)
            parse = meta.pop("parse", None)
            flag = meta.pop("flag", "--" + f.name.replace("_", "-"))
            default = defaults.get(f.name, meta.pop("cli_default", None if f.default is MISSING else f.default))
            kw = {"default": default, "show_default": default is not None and default is not False, **meta}
            if isinstance(default, bool) and "/" not in flag:
                kw["is_flag"] = True
            if parse is not None:
                kw["callback"] = lambda ctx, param, value, parse=parse: parse(value)
            func = click.option(flag, f.name, **kw)(func)
        return func
    return decorate


def check_ranges(cfg) -> None:
    """The flags' numeric ranges (their click types), checked again for a config made in code
    (ablate, scripts, tests), with the flag's name in the one-line error."""
    from edgegrade.errors import EdgegradeError

    for f in fields(cfg):
        kind, value = f.metadata.get("type"), getattr(cfg, f.name)
        if isinstance(kind, (click.IntRange, click.FloatRange)) and value is not None:
            try:
                kind.convert(value, None, None)
            except click.BadParameter as exc:
                raise EdgegradeError(f"--{f.name.replace('_', '-')} {value}: {exc.message}") from None


def _path(**kw):
    return click.Path(**kw)


@dataclass
class TrainConfig:
    data: str | None = setting(None, "Dataset folder; default: fresh synthetic data in OUT/data.",
                               type=_path(exists=True, file_okay=False))
    task: str = setting(DEFAULT_TASK, "oocyte-inclusions: Andreini et al.'s inclusion masks (synthetic oocytes by "
                        "default).", type=click.Choice(list(TASKS)))
    arch: str = setting("attnregdeeplab", "smanet: segmentation only (Bonechi et al.'s SMANet).",
                        type=click.Choice(list(ARCHS)))
    recipe: str = setting("auto", "dual: assistant (S1) + grader (MTL); decoupled: single model; seg: segmentation "
                          "only. auto: the task's (dual; s1 for SMANet; seg for oocytes).",
                          type=click.Choice(["auto", *RECIPES]))
    test_data: str | None = setting(None, "A fixed test set; --data is then split into train and val only.",
                                    type=_path(exists=True, file_okay=False))
    repeat: int = setting(1, "Passes over the (augmented) training split per epoch, for very small datasets.",
                          type=click.IntRange(min=1))
    init: str | None = setting(None, "Start from this checkpoint's weights (fine-tuning; same --arch/--width), or "
                               "'pretrained': the models that ship with edgegrade (`edgegrade models`).")
    out: str = "runs/train"
    size: int = setting(256, "Model input side (a multiple of 32).", type=click.IntRange(min=32))
    crop: str = setting("auto", "embryo: every image is cut to a square around the localised embryo (stored in "
                        "the checkpoint, so export and watch crop the same way); full: the whole frame; auto: the "
                        "task's (embryo for embryos, full for oocytes).", type=click.Choice(["auto", "embryo", "full"]))
    margin: float = setting(1.5, "Embryo crop side / the embryo box's longer side (at least 1).",
                            type=click.FloatRange(min=1.0))
    epochs: int = setting(10, "Epochs per phase (the cap, with --patience).", type=click.IntRange(min=1))
    patience: int = setting(0, "Stop a phase after this many epochs without a better validation metric (0: off).",
                            type=click.IntRange(min=0))
    augment: str = setting("full", "full: crop jitter, turns, exposure, blur, noise; geometric: jitter and turns "
                           "only.", type=click.Choice(list(AUGMENTS)))
    batch: int = setting(8, "Images per training step (at least 2: BatchNorm needs two).", type=click.IntRange(min=2))
    device: str = setting("auto", "auto, cpu, cuda or cuda:N.")
    lr: float = setting(0.0, "Phase 1 / end-to-end learning rate (0: the task's: for embryos 1e-3 from scratch, "
                        "1e-4, the paper's, from --init or --backbone-weights; 1e-3 for oocytes).",
                        type=click.FloatRange(min=0.0))
    lr_finetune: float = setting(1e-3, "Phase 2 (frozen backbone) learning rate (the paper's 1e-5 barely moved the "
                                 "new regression head in 10 CPU epochs: README, Train).",
                                 type=click.FloatRange(min=0.0, min_open=True))
    weight_decay: float = 1e-4
    precise_bn: int = setting(0, "Batches to recompute BatchNorm statistics on before each validation (0: off).",
                              type=click.IntRange(min=0))
    schedule: str = setting("poly", "Learning-rate schedule per step (poly: DeepLab's decay, power 0.9).",
                            type=click.Choice(["constant", "poly"]))
    output_stride: int = setting(0, "auto: the architecture's (16 for AttnRegDeepLab, 8 for SMANet).",
                                 type=click.Choice(["auto", "16", "8"]), cli_default="auto",
                                 parse=lambda v: 0 if v == "auto" else int(v))
    width: int = setting(64, "Backbone stem channels: 64 is the paper's ResNet-50; 32/16 keep the depth at 1/4 or "
                         "1/16 of the weights (quick experiments, tests).", type=click.Choice([64, 32, 16]))
    seed: int = setting(0, "Seeds the data split, synthetic data, initialisation and augmentation.",
                        type=click.IntRange(min=0))
    workers: int = setting(2, "Data loader worker processes (0: load in the main process).", type=click.IntRange(min=0))
    amp: str = setting("auto", "auto: bf16 on CUDA, off on CPU.", type=click.Choice(["auto", "bf16", "fp16", "off"]))
    resume: bool = setting(False, "Continue a killed run from OUT/<phase>/last.pt.")
    overwrite: bool = setting(False, "Replace the run already in OUT (its modules stay until the new ones are "
                              "written); without it, or --resume, `train` refuses a folder that holds a run.")
    backbone_weights: str | None = setting(None, "torchvision resnet50 ImageNet state_dict file (nothing is "
                                           "downloaded).", type=_path(exists=True, dir_okay=False))
    synth_n: int = setting(160, "Synthetic paired images when --data is absent.", type=click.IntRange(min=1))
    synth_grade_only: int = setting(80, "Synthetic grade-only images.", type=click.IntRange(min=0))
    synth_relief: float = setting(0.5, "Share of the synthetic embryos drawn as EmbryoScope frames through relief "
                                  "(Hoffman) optics, with fragments at the cell surface (the rest: the classic renderer).",
                                  type=click.FloatRange(0, 1))
    synth_size: int = setting(0, "Side of the rendered synthetic images, at least 64 (0: the task's: 640 for "
                              "embryos, a camera frame; --size for oocytes).", type=click.IntRange(min=0))
    val_fraction: float = setting(0.15, "Share of the embryos held out for validation (the best epoch); 0: none, "
                                  "the last epoch is kept (a handful of frames; use --test-data to measure).",
                                  type=click.FloatRange(0, 0.9))
    test_fraction: float = 0.15
    max_steps: int = setting(0, "Cap on steps per epoch (0: all).", type=click.IntRange(min=0))
    plots: bool = setting(True, "PNG plots of every phase (curves, ratios, samples).", flag="--plots/--no-plots")

    def to_dict(self):
        return asdict(self)

    def resolved(self) -> "TrainConfig":
        """`auto` fields made explicit (what checkpoints store), after checking the combination."""
        from edgegrade.errors import EdgegradeError

        task = get_task(self.task)
        arch = ARCHS.get(self.arch)
        if arch is None:
            raise EdgegradeError(f"--arch {self.arch}: unknown; choose from {', '.join(ARCHS)}")
        recipe = self.recipe if self.recipe != "auto" else task.recipes[self.arch]
        if recipe not in RECIPES:
            raise EdgegradeError(f"--recipe {recipe}: unknown; choose from {', '.join(RECIPES)}")
        if (not arch.regression or not task.graded) and recipe not in SEGMENTATION_ONLY:
            why = f"{arch.title} has no regression head" if not arch.regression else \
                f"{task.name} has no fragmentation grade"
            raise EdgegradeError(f"--recipe {recipe}: {why}; use --recipe {' or '.join(SEGMENTATION_ONLY)}")
        if self.init and self.init != "pretrained" and not Path(self.init).is_file():
            raise EdgegradeError(f"--init {self.init}: no such checkpoint file (or 'pretrained')")
        if recipe == "phase2" and not self.init:
            raise EdgegradeError("--recipe phase2: give the S1 model it starts from with --init")
        if self.resume and self.overwrite:
            raise EdgegradeError("--resume and --overwrite: choose one (continue the run in --out, or replace it)")
        check_ranges(self)
        if self.size % 32:
            raise EdgegradeError(f"--size {self.size}: must be a multiple of 32 (ResNet-50 downsamples by 32)")
        if 0 < self.synth_size < 64:
            raise EdgegradeError(f"--synth-size {self.synth_size}: at least 64 (or 0: the task's)")
        if self.augment not in AUGMENTS:
            raise EdgegradeError(f"--augment {self.augment}: choose from {', '.join(AUGMENTS)}")
        return replace(self, recipe=recipe, crop=task.crop if self.crop == "auto" else self.crop,
                       output_stride=self.output_stride or arch.output_stride, lr=self.lr or (task.lr_from_weights if self.init or self.backbone_weights else task.lr),
                       synth_size=self.synth_size or task.synth_size or self.size)


@dataclass
class Tolerance:
    ddice: float
    dmae: float
    agreement: float  # minimum share of images graded the same as the reference


DEFAULT_TOLERANCE = {
    "fp32": Tolerance(0.001, 0.0005, 0.98),
    "fp16": Tolerance(0.002, 0.001, 0.98),
    "int8": Tolerance(0.01, 0.005, 0.98),
}


@dataclass
class ExportConfig:
    run: str | None = setting(None, "What `edgegrade train --out` wrote, or 'pretrained': the models that ship "
                              "with edgegrade (gated on --data, else on fresh synthetic embryos).")
    out: str | None = setting(None, "Bundle folder to write.", type=_path(file_okay=False))
    precision: str = setting("fp16", "Precision of the deployed artifacts.", type=click.Choice(["fp32", "fp16", "int8"]))
    data: str | None = setting(None, "Held-out data for the gate (default: the run's val+test split).",
                               type=_path(exists=True, file_okay=False))
    calib: str | None = setting(None, "INT8 calibration images (default: the run's training split).",
                                type=_path(exists=True, file_okay=False))
    calib_n: int = setting(200, "INT8 calibration images used.", type=click.IntRange(min=1))
    calib_method: str = setting("minmax", "INT8 calibration method (ModelOpt offers minmax, which it calls max, "
                                "and entropy; a method the quantizer lacks is refused).",
                                type=click.Choice(["minmax", "entropy", "percentile"]))
    quantizer: str = setting("auto", "INT8 quantizer, one per bundle (auto: NVIDIA ModelOpt where installed and able "
                             "to do what was asked, else onnxruntime).",
                             type=click.Choice(["auto", "onnxruntime", "modelopt"]))
    int8_activations: str = setting("s8", "s8: symmetric, Q/DQ where TensorRT fuses them; u8: asymmetric on "
                                    "Conv/Gemm/MatMul, faster with ONNX Runtime on x86 CPUs without VNNI.",
                                    type=click.Choice(["s8", "u8"]))
    int8_float: str = setting("fp32", "Precision of the layers an INT8 graph leaves out of INT8: fp32 (what the CPU "
                              "gate measures, and the onnxruntime quantizer's only one) or fp16 (ModelOpt's "
                              "default: faster on GPUs).", type=click.Choice(["fp32", "fp16"]))
    eval_n: int = setting(64, "Held-out images the gate runs on.", type=click.IntRange(min=1))
    dynamic_batch: bool = setting(True, "--static-batch fixes the ONNX batch dimension to 1.",
                                  flag="--dynamic-batch/--static-batch")
    engine: bool = setting(False, "Also build TensorRT engines (needs tensorrt and a GPU).")
    min_batch: int = setting(1, "TensorRT engines: smallest batch of the optimisation profile.",
                             type=click.IntRange(min=1))
    opt_batch: int = setting(1, "TensorRT engines: the batch the profile is tuned for.", type=click.IntRange(min=1))
    max_batch: int = setting(4, "TensorRT engines: largest batch of the optimisation profile.",
                             type=click.IntRange(min=1))
    dla: int = setting(-1, "TensorRT engines: run on this Jetson DLA core, layers it cannot run falling back to the "
                       "GPU (-1: the GPU only). Needs fp16 or int8 and one fixed batch (--min/--opt/--max-batch "
                       "equal); refused where the TensorRT or the device has no DLA.", type=click.IntRange(min=-1))
    workspace_mb: int = setting(2048, "TensorRT engines: builder workspace limit (MiB).", type=click.IntRange(min=1))
    timing_cache: str | None = setting(None, "TensorRT engines: timing cache file, read and updated by every build "
                                       "(default: timing.cache beside the bundle).", type=_path(dir_okay=False))
    version_compatible: bool = setting(False, "TensorRT version-compatible engines.")
    tol_dice: float | None = setting(None, "Max |dDice| (default fp16 0.002, int8 0.01).",
                                     type=click.FloatRange(0.0, 1.0))
    tol_mae: float | None = setting(None, "Max |dMAE| (default fp16 0.001, int8 0.005).",
                                    type=click.FloatRange(0.0, 1.0))
    tol_agreement: float | None = setting(None, "Min grade agreement, a share in [0, 1] (default 0.98).",
                                          type=click.FloatRange(0.0, 1.0))

    def tol(self) -> Tolerance:
        """The precision's tolerance with the --tol-* overrides, each checked (configs made in
        code skip click's ranges)."""
        check_ranges(self)
        given = {"ddice": self.tol_dice, "dmae": self.tol_mae, "agreement": self.tol_agreement}
        return Tolerance(**{**asdict(DEFAULT_TOLERANCE[self.precision]),
                            **{k: v for k, v in given.items() if v is not None}})


@dataclass
class WatchConfig:
    bundle: str = setting(None, "What `edgegrade export --out` wrote.", type=_path(file_okay=False), required=True)
    source: str = setting("synthetic", "Camera index, /dev/videoN, video file, rtsp://, csi://N, gst:PIPELINE, image "
                          "folder, synthetic[-dish|-oocyte][:WxH][@FPS][#N].")
    out: str = setting("runs/watch", "Folder for the log, snapshots and summary.", type=_path(file_okay=False))
    log: str | None = setting(None, "JSONL log (default OUT/grades.jsonl).", type=_path(dir_okay=False))
    headless: bool = setting(False, "No window.")
    max_frames: int = setting(0, "Stop after N frames (0: until the source ends).", type=click.IntRange(min=0))
    backend: str = setting("auto", "Inference backend (auto: TensorRT engines where the bundle has them and "
                           "tensorrt imports, else ONNX Runtime).", type=click.Choice(["auto", "onnxruntime", "tensorrt"]))
    provider: str = setting("auto", "ONNX Runtime execution provider.", type=click.Choice(["auto", "cpu", "cuda", "tensorrt"]))
    video: str | None = setting(None, "Also write the annotated video (mp4).", type=_path(dir_okay=False))
    display_width: int = setting(1280, "The overlay (window, video, snapshots) is drawn at the frame size divided by "
                                 "the smallest whole factor that makes it at most this wide (1920 -> 960; 0: full "
                                 "size).")
    snapshot_on_change: bool = True
    review_threshold: float = setting(0.10, "Flag when grader and mask ratios differ by more (in [0, 1]).",
                                      type=click.FloatRange(0.0, 1.0))
    smooth: int = setting(15, "Frames of the same scene the grade is smoothed over (1: no smoothing).",
                          type=click.IntRange(min=1))
    threads: int = setting(0, "ONNX Runtime threads (0: all cores).", type=click.IntRange(min=0))
    roi: str | None = setting(None, "x,y,w,h: the embryo's box in frame pixels, fixed by hand (default: found and "
                              "tracked).")
    allow_undeployable: bool = False
    serve: str | None = setting(None, "[HOST:]PORT: serve a live view of the run (overlay, grade, ratio chart, "
                                "snapshots; /api/latest, /api/history), read-only. HOST defaults to 127.0.0.1; "
                                "any other address needs a token (--serve-token, or one generated and printed "
                                "once). PORT 0: any free port.")
    serve_token: str | None = setting(None, "The live view's token, asked of every request (?token= or "
                                      "'Authorization: Bearer'); default for a non-local HOST: generated.",
                                      envvar="EDGEGRADE_SERVE_TOKEN", show_envvar=True)
    serve_fps: float = setting(10.0, "The live view's picture rate at most (the newest overlay, JPEG).",
                               type=click.FloatRange(0.5, 60.0))


@dataclass
class GradeConfig(WatchConfig):
    """`edgegrade grade`: the watch settings that apply to stills, and the pre-annotation."""

    labelme: bool = setting(False, "Also write OUT/labelme/NAME.json per image: the prediction as LabelMe "
                            "polygons (cell, fragment) to correct, then `edgegrade data import labelme`.")
    labelme_embed: bool = setting(False, "Embed the image in each LabelMe file (imageData; default: imagePath "
                                  "relative to the file).")
