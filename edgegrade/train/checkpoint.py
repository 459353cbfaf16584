"""Checkpoints: weights + optimiser + epoch + resolved config, written atomically, loaded with
weights_only=True (a model file never executes code)."""

import os
import shutil
from pathlib import Path

import torch

from edgegrade import __version__
from edgegrade.errors import EdgegradeError, os_error
from edgegrade.files import atomic_file
from edgegrade.train.archs import from_config
from edgegrade.train.blocks import ModelConfig

KIND = "edgegrade-checkpoint"


def save(path, model, *, model_config: ModelConfig, preprocess: dict, train_config: dict,
         phase: str, role: str, epoch: int, metrics: dict, optimizer=None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = getattr(model, "module", model)  # unwrap DDP
    write(path, {
        "kind": KIND, "edgegrade_version": __version__, "role": role, "phase": phase, "epoch": epoch,
        "model_config": model_config.to_dict(), "preprocess": preprocess, "train_config": train_config,
        "metrics": metrics, "model": module.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
    })


def write(path, state: dict) -> None:
    """torch.save through a temp file and a rename (files.atomic_file): a crash or a full disk
    never leaves half a checkpoint, and the last good one stays."""
    with atomic_file(path) as f:
        out = _Writes(f)
        try:
            torch.save(state, out)
        except RuntimeError:
            if out.error is None:
                raise
            raise out.error from None  # the OS's reason, which atomic_file reports with the path


class _Writes:
    """A file that remembers why a write failed: torch.save reports a full disk only as
    "unexpected pos"."""

    def __init__(self, f):
        self.f, self.error = f, None

    def write(self, data):
        try:
            return self.f.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self):
        self.f.flush()


def drop_optimizer(path) -> None:
    """Rewrite a finished phase's last.pt without the optimiser state (AdamW keeps two
    tensors per weight); a resume still finds the epoch it reached."""
    state = load(path)
    if state.get("optimizer") is not None:
        state["optimizer"] = None
        write(path, state)


def publish(best, final) -> None:
    """OUT/<role>.pt is the phase's best.pt (saved without optimiser): a hard link where the
    file system allows one, else a copy, made atomically either way."""
    best, final = Path(best), Path(final)
    tmp = final.with_name(f".{final.name}.link")
    tmp.unlink(missing_ok=True)
    try:
        try:
            os.link(best, tmp)
        except OSError:
            shutil.copyfile(best, tmp)
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise os_error(final, exc) from None


def load(path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise EdgegradeError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, foreign or pickled-code files alike
        raise EdgegradeError(f"{path}: not a readable edgegrade checkpoint ({exc.__class__.__name__}: "
                             f"{str(exc).splitlines()[0][:120]})") from None
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise EdgegradeError(f"{path}: not an edgegrade checkpoint (no '{KIND}' marker)")
    return state


def model_from(state: dict):
    model = from_config(ModelConfig(**state["model_config"]))
    model.load_state_dict(state["model"])
    return model.eval()
