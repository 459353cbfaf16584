"""docs/crossval_real.jpg: the held-out frames of an `edgegrade crossval` run, truth (left)
beside the fine-tuned assistant's prediction (right); cyan embryo, red fragments.

    python scripts/crossval_sheet.py runs/crossval --init pretrained --seed 0 --out docs/crossval_real.jpg
"""

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from edgegrade import datasets
from edgegrade.boxes import locate_samples
from edgegrade.evalset import load_pair
from edgegrade.metrics import dice
from edgegrade.preprocess import Normaliser, PreprocessSpec
from edgegrade.train import checkpoint

SCALE = 3


def outline(rgb, fragment, embryo):
    out = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
    for mask, colour in ((embryo, (255, 200, 0)), (fragment, (40, 40, 255))):
        big = cv2.resize(mask.astype(np.uint8), None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(big, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, colour, 1, cv2.LINE_AA)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run", type=Path)
    p.add_argument("--init", default="pretrained")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="docs/crossval_real.jpg")
    a = p.parse_args()
    rows = []
    for fold in sorted((a.run / "folds").iterdir()):
        runs = sorted(a.run.glob(f"runs/{fold.name}_n*_seed{a.seed}_{a.init}"), key=lambda r: int(r.name.split("_n")[1].split("_")[0]))
        state = checkpoint.load(runs[-1] / "assistant.pt")  # the run on the whole pool
        model, spec = checkpoint.model_from(state), PreprocessSpec.from_dict(state["preprocess"])
        samples = datasets.load(fold / "test").samples
        for s, roi in zip(samples, locate_samples(samples, spec, progress=False)):
            rgb, label, _ = load_pair(s, spec, roi)
            with torch.no_grad():
                probs = torch.sigmoid(model(torch.from_numpy(Normaliser(spec)(rgb))[None])["mask_logits"])[0].numpy()
            frag, emb = probs[0] > 0.5, (probs[1] > 0.5) | (probs[0] > 0.5)
            truth = outline(rgb, label == 2, label > 0)
            pred = outline(rgb, frag, emb)
            cv2.putText(truth, f"{s.name[-6:]} truth", (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
            cv2.putText(pred, f"predicted (fragment Dice {dice(frag, label == 2):.2f})", (6, 20),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
            rows.append(np.hstack([truth, pred]))
    pairs = [np.hstack(rows[i:i + 2]) if i + 1 < len(rows) else np.hstack([rows[i], np.zeros_like(rows[i])])
             for i in range(0, len(rows), 2)]
    cv2.imwrite(a.out, np.vstack(pairs), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print("wrote", a.out)


if __name__ == "__main__":
    main()
