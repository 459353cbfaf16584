"""`edgegrade train`: build data, run the recipe's phases, write the modules, metrics and plots.

Reads top to bottom: data -> for each phase (model, optimiser, epochs with validation and
best-checkpoint selection) -> final module files -> test evaluation -> plots.
"""

import json
import os
import random
import time
from pathlib import Path

import numpy as np
import torch

from edgegrade import datasets, pretrained
from edgegrade.augment import AUGMENTS
from edgegrade.boxes import CACHE_NAME, locate_samples
from edgegrade.configs import TrainConfig
from edgegrade.errors import EdgegradeError
from edgegrade.files import atomic_write_text, make_dir
from edgegrade.preprocess import PreprocessSpec
from edgegrade.recipes import RECIPES, Phase
from edgegrade.tasks import get_task
from edgegrade.train import checkpoint
from edgegrade.train.archs import build_model
from edgegrade.train.blocks import ModelConfig
from edgegrade.train.data import EmbryoDataset, EpochSampler
from edgegrade.train.loop import (
    MetricsLog,
    check_finite,
    evaluate,
    poly_lr,
    recalibrate_batchnorm,
    score,
    train_one_epoch,
)
from edgegrade.train.resnet import load_torchvision_weights


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise EdgegradeError("--device cuda: no CUDA GPU visible to torch (use --device cpu)")
    return torch.device(name)


def seed_everything(seed: int):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def dist_info() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world


def prepare_data(cfg: TrainConfig, out: Path, is_main: bool) -> Path:
    if cfg.data:
        return Path(cfg.data)
    root = out / "data"
    if is_main and not (root / "labels.csv").exists():
        with datasets.new_dataset(root, overwrite=True) as folder:  # a killed render leaves no half dataset
            get_task(cfg.task).write_synthetic(folder, cfg.synth_n, size=cfg.synth_size, seed=cfg.seed,
                                               grade_only=cfg.synth_grade_only, relief=cfg.synth_relief)
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
    return root


def make_loader(samples, rois, spec, cfg, *, train: bool, device):
    """Training: `repeat` passes per epoch, augmented, shuffled per (seed, epoch)."""
    repeat = cfg.repeat if train else 1
    ds = EmbryoDataset(samples * repeat, rois * repeat, spec, augment=AUGMENTS[cfg.augment] if train else None,
                       seed=cfg.seed)
    rank, world = dist_info()
    sampler = EpochSampler(len(ds), shuffle=train, seed=cfg.seed, rank=rank if train else 0,
                           world=world if train else 1)
    return torch.utils.data.DataLoader(
        ds, batch_size=cfg.batch, sampler=sampler, num_workers=cfg.workers, pin_memory=device.type == "cuda",
        drop_last=train and len(sampler) > cfg.batch, persistent_workers=cfg.workers > 0)


def claim_out(out: Path, phases, cfg: TrainConfig, spec: PreprocessSpec) -> None:
    """A folder that holds a run is continued (--resume) or replaced (--overwrite), never mixed
    into: its metrics would gain a second history and its modules be swapped unasked. Replacing
    clears the history and the resume points; the old modules stay until the new ones are written.
    Continuing needs the same model and preprocessing as the resume points were trained with."""
    held = [p for p in [out / "metrics.csv"] + [out / ph.name / "last.pt" for ph in phases] if p.exists()]
    if cfg.resume:
        for ph in phases:
            if (out / ph.name / "last.pt").exists():
                state = checkpoint.load(out / ph.name / "last.pt")
                check_model(state, ph, cfg, f"--resume {out / ph.name / 'last.pt'}", spec)
        return
    if not held:
        return
    if not cfg.overwrite:
        raise EdgegradeError(f"--out {out}: holds a training run already ({held[0].relative_to(out)}); continue it "
                             "with --resume, replace it with --overwrite, or choose another --out")
    for p in held + list(out.glob("eval_*.json")):
        p.unlink()
    for ph in phases:
        (out / ph.name / "best.pt").unlink(missing_ok=True)


def check_model(state: dict, phase: Phase, cfg: TrainConfig, what: str, spec: PreprocessSpec | None = None):
    """A checkpoint's model (and, to continue it, its preprocessing) must be what this phase
    builds: a mismatch is one line naming what differs, not a size-mismatch traceback."""
    want = ModelConfig(**phase.model_kwargs(cfg)).to_dict()
    have = state["model_config"]
    diff = [f"{k} {have.get(k)} (this run: {v})" for k, v in want.items() if have.get(k) != v]
    if spec is not None:
        pre = state.get("preprocess", {})
        diff += [f"{k} {pre.get(k)} (this run: {v})" for k, v in spec.to_dict().items()
                 if k in ("size", "crop", "margin") and pre.get(k) != v]
    if diff:
        raise EdgegradeError(f"{what}: trained with {', '.join(diff)}; match --arch, --width, --output-stride"
                             + (", --size, --crop and --margin" if spec is not None else ""))


def find_boxes(splits: dict, spec, cache: Path, is_main: bool) -> dict:
    """The embryo box of every image, found once before the loaders start (rank 0 searches
    and writes the cache; the other ranks read it)."""
    everything = [s for k in datasets.SPLITS for s in splits[k]]
    if not is_main:
        torch.distributed.barrier()
    rois = iter(locate_samples(everything, spec, cache, progress=is_main))
    if is_main and torch.distributed.is_initialized():
        torch.distributed.barrier()
    return {k: [next(rois) for _ in splits[k]] for k in datasets.SPLITS}


def build_phase_model(phase: Phase, cfg: TrainConfig, out: Path, device):
    model = build_model(**phase.model_kwargs(cfg))
    if phase.init_from or cfg.init:
        path = out / phase.init_from / "best.pt" if phase.init_from else Path(cfg.init)
        if not phase.init_from and cfg.init == pretrained.NAME:
            path = pretrained.path_for(pretrained.role_for(phase.role, bool(phase.weights.reg)))
        state = checkpoint.load(path)
        check_model(state, phase, cfg, f"--init {path}")
        model.load_state_dict(state["model"])
    elif cfg.backbone_weights:
        load_torchvision_weights(model.backbone, cfg.backbone_weights)
    if phase.freeze:
        trainable = {id(p) for p in model.finetune_parameters()}
        for p in model.parameters():
            p.requires_grad_(id(p) in trainable)
    model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model


def run_phase(phase: Phase, cfg: TrainConfig, loaders, out: Path, device, spec, log: MetricsLog) -> Path:
    """Epochs of one phase until cfg.epochs, or until the validation metric has not improved
    for cfg.patience epochs; -> the best checkpoint."""
    rank, world = dist_info()
    is_main = rank == 0
    task = get_task(cfg.task)
    pdir = out / phase.name
    last, best = pdir / "last.pt", pdir / "best.pt"
    model = build_phase_model(phase, cfg, out, device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=getattr(cfg, phase.lr_key), weight_decay=cfg.weight_decay,
                                  fused=device.type == "cuda")
    start, best_score, best_epoch = 1, -float("inf"), 0
    if cfg.resume and last.exists():
        state = checkpoint.load(last, map_location=device)
        getattr(model, "module", model).load_state_dict(state["model"])
        if state.get("optimizer"):
            optimizer.load_state_dict(state["optimizer"])
        start, best_score = state["epoch"] + 1, state["metrics"].get("best_score", -float("inf"))
        best_epoch = state["metrics"].get("best_epoch", state["epoch"])
        if is_main:
            print(f"[{phase.name}] resuming after epoch {state['epoch']}")
    if world > 1:
        ddp_kw = {"device_ids": [device.index]} if device.type == "cuda" else {}
        model = torch.nn.parallel.DistributedDataParallel(
            model, find_unused_parameters=phase.weights.reg == 0 or phase.regression_only, **ddp_kw)
    amp = cfg.amp if cfg.amp != "auto" else ("bf16" if device.type == "cuda" else "off")
    scaler = torch.amp.GradScaler("cuda") if amp == "fp16" else None
    mcfg = ModelConfig(**phase.model_kwargs(cfg))
    meta = dict(model_config=mcfg, preprocess=spec.to_dict(), train_config=cfg.to_dict(),
                phase=phase.name, role=phase.role)
    steps = min(len(loaders["train"]), cfg.max_steps) if cfg.max_steps else len(loaders["train"])
    base_lr = getattr(cfg, phase.lr_key)
    for epoch in range(start, cfg.epochs + 1):
        if cfg.patience and epoch - best_epoch > cfg.patience:
            if is_main:
                print(f"[{phase.name}] stopped early: no better {phase.select} since epoch {best_epoch}")
            break
        loaders["train"].sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        schedule = None if cfg.schedule == "constant" else (
            lambda i, e=epoch: poly_lr(base_lr, (e - 1) * steps + i, cfg.epochs * steps))
        losses = train_one_epoch(model, loaders["train"], optimizer, phase.weights, device, amp, scaler,
                                 freeze=phase.freeze, max_steps=cfg.max_steps, schedule=schedule,
                                 desc=f"{phase.name} {epoch}/{cfg.epochs}", show=is_main)
        check_finite(losses, phase.name, epoch, last)
        if not is_main:
            torch.distributed.barrier()
            best_epoch = epoch  # rank 0 decides early stopping; others follow its checkpoints
            continue
        # the bare module: a DDP forward would broadcast buffers, a collective only rank 0 joins
        bare = getattr(model, "module", model)
        if cfg.precise_bn and not phase.freeze:  # frozen BatchNorm keeps phase 1's statistics
            recalibrate_batchnorm(bare, loaders["train"], device, amp, cfg.precise_bn)
        val = evaluate(bare, loaders["val"], device, amp)[0] if loaders["val"] is not None else {}
        current = score(val, phase.select)  # no validation split: NaN, so every epoch is kept: the last wins
        improved = not (current <= best_score)  # NaN (e.g. no validation masks) counts as better
        best_score = current if improved and current == current else best_score
        best_epoch = epoch if improved else best_epoch
        metrics = {**val, "best_score": best_score, "best_epoch": best_epoch, "select": phase.select}
        checkpoint.save(last, model, **meta, epoch=epoch, metrics=metrics, optimizer=optimizer)
        if improved or not best.exists():
            checkpoint.save(best, model, **meta, epoch=epoch, metrics=metrics)
        log.write({"phase": phase.name, "epoch": epoch, **losses, **val, "seconds": time.perf_counter() - t0})
        print(f"[{phase.name}] epoch {epoch}: loss {losses['loss']:.4f}  {task.metric_line(val)}  "
              f"({losses['images_per_s']:.1f} img/s)" + ("  *best*" if improved else ""))
        if world > 1:
            torch.distributed.barrier()
    if is_main:
        checkpoint.drop_optimizer(last)  # the phase is over: a third of the bytes, same resume point
    return best


def train(cfg: TrainConfig) -> dict:
    cfg = cfg.resolved()
    rank, world = dist_info()
    device = resolve_device(cfg.device)
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    seed_everything(cfg.seed + rank)
    is_main = rank == 0
    out = Path(cfg.out)
    make_dir(out)
    phases = RECIPES[cfg.recipe]
    spec = PreprocessSpec(size=cfg.size, crop=cfg.crop, margin=cfg.margin)
    if is_main:
        claim_out(out, phases, cfg, spec)
    needs_masks = any(p.weights.seg for p in phases)
    data_root = prepare_data(cfg, out, is_main)
    ds = datasets.load(data_root, require_paired=needs_masks)
    splits = datasets.run_splits(ds.samples, cfg.val_fraction, cfg.test_fraction, cfg.seed, cfg.test_data,
                                 require_paired=needs_masks)
    if len(splits["train"]) * cfg.repeat < 2 or (not splits["val"] and cfg.val_fraction > 0):
        # BatchNorm (and the ASPP image pooling) needs two images in a training batch: two frames,
        # or one frame seen twice per epoch (--repeat), each view augmented on its own
        raise EdgegradeError(f"{data_root}: too few embryos for a train/val split ({len(ds.samples)} images; "
                             "need at least 2 for training (or one with --repeat 2 or more) and 1 for validation, "
                             "or --val-fraction 0)")
    if is_main:  # every image and mask read once: a bad one is a line here, not a worker's traceback later
        datasets.check_samples([s for k in datasets.SPLITS for s in splits[k]], data_root)
    boxes = find_boxes(splits, spec, out / CACHE_NAME, is_main)
    test = "test" if splits["test"] else "val"  # a set too small for a test split is tested on val
    loaders = {k: make_loader(splits[s], boxes[s], spec, cfg, train=False, device=device) if splits[s] else None
               for k, s in (("val", "val"), ("test", test))}
    if is_main:
        atomic_write_text(out / "config.json", json.dumps(cfg.to_dict(), indent=2))
        datasets.write_splits(out, splits, data_root, cfg.test_data)
        print(f"data {data_root}: train {len(splits['train'])}, val {len(splits['val'])}, "
              f"test {len(splits['test'])} images on {device}")
    log = MetricsLog(out / "metrics.csv")
    results = {}
    for phase in phases:
        # grade-only samples carry nothing for a phase without L_reg (no mask, no ratio)
        train_split = [(s, b) for s, b in zip(splits["train"], boxes["train"]) if s.paired or phase.weights.reg]
        loaders["train"] = make_loader([s for s, _ in train_split], [b for _, b in train_split], spec, cfg,
                                       train=True, device=device)
        best = run_phase(phase, cfg, loaders, out, device, spec, log)
        if not is_main:
            continue
        final = out / f"{phase.role}.pt"
        checkpoint.publish(best, final)
        model = checkpoint.model_from(checkpoint.load(final)).to(device)
        test, records = evaluate(model, loaders["test"], device, keep=4) if loaders["test"] is not None else ({}, None)
        atomic_write_text(out / f"eval_{phase.role}.json", json.dumps(test, indent=2))
        results[phase.role] = {"file": str(final), "test": test}
        if cfg.plots and records is not None:
            from edgegrade.train.plots import plot_phase

            plot_phase(out, phase.name, records, spec, get_task(cfg.task))
    if world > 1:
        torch.distributed.destroy_process_group()
    return results
