"""Put a finished dual run's models into the package as the pretrained models: weights only,
half precision, in edgegrade/assets/pretrained/, with pretrained.json recording where they
came from and what these very files score on a fresh synthetic test set (rendered here with
a seed training never used).

    python scripts/ship_pretrained.py runs/pretrained --test-n 300 --command "edgegrade train ..."
"""

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

import torch

from edgegrade import __version__, pretrained
from edgegrade.synth_dataset import RENDERER, write_dataset
from edgegrade.train import checkpoint
from edgegrade.train.evaluate import evaluate_checkpoint

p = argparse.ArgumentParser()
p.add_argument("run", type=Path)
p.add_argument("--test-n", type=int, default=300)
p.add_argument("--test-seed", type=int, default=9000)
p.add_argument("--command", default="", help="The training command, as the README shows it.")
p.add_argument("--real", type=Path, help="A dataset of real annotated frames to measure the shipped files on too "
               "(zero-shot: they never trained on it).")
a = p.parse_args()

pretrained.FOLDER.mkdir(parents=True, exist_ok=True)
cfg = json.loads((a.run / "config.json").read_text())
with tempfile.TemporaryDirectory() as tmp:
    test = Path(tmp) / "test"
    write_dataset(test, a.test_n, size=cfg.get("synth_size") or 640, seed=a.test_seed, grade_only=0,
                  relief=cfg.get("synth_relief", 0.0))  # drawn as the training data was
    models = {}
    for role in ("assistant", "grader"):
        state = checkpoint.load(a.run / f"{role}.pt")
        state["model"] = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
        state["optimizer"] = None
        path = pretrained.FOLDER / f"{role}.pt"
        checkpoint.write(path, state)
        metrics = evaluate_checkpoint(path, test, device="cpu")
        real = evaluate_checkpoint(path, a.real, device="cpu") if a.real else {}
        run_test = json.loads((a.run / f"eval_{role}.json").read_text())
        keep = ("n_masks", "n_ratios", "dice", "embryo_dice", "iou", "mae_direct", "mae_mask", "grade_acc_direct", "kappa_direct",
                "grade_acc_mask", "kappa_mask")
        models[role] = {
            "file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "bytes": path.stat().st_size,
            "dtype": "float16", "model_config": state["model_config"], "preprocess": state["preprocess"],
            "phase": state["phase"], "epoch": state["epoch"],
            "synthetic_test": {k: metrics[k] for k in keep if k in metrics},
            **({"real_zero_shot": {k: real[k] for k in keep if k in real}} if real else {}),
            "run_test_fp32": {k: run_test[k] for k in keep if k in run_test},
        }
        print(role, path, f"{path.stat().st_size / 1e6:.1f} MB", {k: round(v, 4) for k, v in models[role]["synthetic_test"].items()})
index = {
    "models": models,
    "made": {"command": a.command, "train_config": cfg, "renderer": RENDERER, "edgegrade_version": __version__,
             "date": time.strftime("%Y-%m-%d"), "torch": torch.__version__,
             "synthetic_test": {"n": a.test_n, "seed": a.test_seed, "size": cfg.get("synth_size") or 640,
                                "relief": cfg.get("synth_relief", 0.0)},
             "real": str(a.real) if a.real else None},
    "card": "Trained on procedural synthetic embryos only. Not for clinical use before fine-tuning and checking on "
            "the lab's own annotated frames.",
}
pretrained.INDEX.write_text(json.dumps(index, indent=2) + "\n")
print("wrote", pretrained.INDEX)
