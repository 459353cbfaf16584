"""PNG plots of a phase: curves, predicted vs true ratio, grade confusion, sample overlays."""

import csv
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from edgegrade.files import atomic_write_bytes, make_dir  # noqa: E402
from edgegrade.grading import GRADE_NAMES, GRADES, grade_index  # noqa: E402
from edgegrade.metrics import confusion_matrix  # noqa: E402


def _plot_keys(ax, rows, keys, title):
    epochs = [int(r["epoch"]) for r in rows]
    for key in keys:
        vals = [float(r[key]) if r.get(key) else np.nan for r in rows]
        if not np.all(np.isnan(vals)):
            ax.plot(epochs, vals, marker="o", label=key)
    ax.set(xlabel="epoch", title=title)
    ax.legend()


def plot_phase(out: Path, phase: str, records: dict, spec, task) -> list[Path]:
    """task: its record (edgegrade.tasks): which curves, whether ratio plots, class names."""
    pdir = make_dir(out / "plots")
    written = []
    with open(out / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["phase"] == phase]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    _plot_keys(axes[0], rows, ("loss", "seg", "reg", "cons"), "training loss")
    _plot_keys(axes[1], rows, ("dice", "mae_direct", "mae_mask", "grade_acc_direct") if task.graded else
               ("dice", "miou", "pixel_acc"), "validation")
    written.append(_save(fig, pdir / f"{phase}_curves.png"))

    true = np.asarray(records["true"])
    if true.size and task.graded:  # an inclusion's share of the ooplasm is no grade
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
        ax = axes[0]
        for key, marker in (("direct", "o"), ("mask", "x")):
            pred = np.asarray(records[key], float)
            if not np.all(np.isnan(pred)):
                ax.scatter(true, pred, marker=marker, label=f"{key} (MAE {np.nanmean(np.abs(pred - true)):.3f})")
        for g in GRADES[1:]:
            ax.axvline(g.low, color="grey", lw=0.5)
            ax.axhline(g.low, color="grey", lw=0.5)
        ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="true ratio", ylabel="predicted ratio", title="test set")
        ax.legend()
        direct = np.asarray(records["direct"], float)
        cm = confusion_matrix(grade_index(true), grade_index(direct))
        axes[1].imshow(cm, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            axes[1].text(j, i, str(v), ha="center", va="center")
        axes[1].set(xticks=range(4), yticks=range(4), xticklabels=GRADE_NAMES, yticklabels=GRADE_NAMES,
                    xlabel="predicted grade", ylabel="true grade", title="grade confusion (direct)")
        written.append(_save(fig, pdir / f"{phase}_ratio.png"))

    if records["examples"]:
        n = len(records["examples"])
        fig, axes = plt.subplots(n, 3, figsize=(9, 3 * n), squeeze=False)
        for row, (image, masks, probs) in zip(axes, records["examples"]):
            grey = image[0] * spec.std[0] + spec.mean[0]
            row[0].imshow(grey, cmap="gray")
            row[0].set_title("input")
            row[1].imshow(masks[1] + masks[0], cmap="viridis", vmin=0, vmax=2)
            row[1].set_title(f"truth ({' / '.join(task.classes)})")
            row[2].imshow(grey, cmap="gray")
            row[2].contour(probs[1] > 0.5, levels=[0.5], colors="cyan", linewidths=0.8)
            row[2].contour(probs[0] > 0.5, levels=[0.5], colors="red", linewidths=0.8)
            row[2].set_title(f"prediction (red {task.target}s)")
            for ax in row:
                ax.axis("off")
        written.append(_save(fig, pdir / f"{phase}_samples.png"))
    return written


def _save(fig, path: Path) -> Path:
    """Rendered in memory and written whole (a full disk leaves no half PNG)."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, dpi=90, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path
