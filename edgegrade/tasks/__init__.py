"""A task is one record: what training, export, the runtime and the CLI ask of it, looked up
once from the config or the bundle's manifest (`get_task`). The code elsewhere never tests a
task's name. A new task is one new module here that builds a `Task`, and a line in TASKS.

Both tasks share the data agreement: label maps 0 background, 1 region (cell / ooplasm),
2 target (fragment / inclusion); models output the target and region channels."""

import importlib
from dataclasses import dataclass
from typing import Callable

from edgegrade.errors import EdgegradeError


@dataclass(kw_only=True)
class Reading:
    """What the runtime reads off one frame's model outputs (before contours and timing)."""

    state: str  # graded / analysed, or the task's empty state (no targets, no grade)
    target: object = None  # boolean model-space masks whose contours are drawn
    region: object = None
    grade: str | None = None
    ratio: float | None = None  # smoothed grader ratio (the one the grade comes from)
    mask_ratio: float | None = None  # smoothed ratio read off the assistant's mask
    raw_ratio: float | None = None
    raw_mask_ratio: float | None = None
    review: bool = False
    inclusions: dict | None = None  # count, area_px (frame pixels), share of the region


@dataclass(frozen=True, kw_only=True)
class Task:
    name: str
    region: str  # what a frame shows and channel 1 outlines: "embryo", "oocyte"
    target: str  # what channel 0 finds: "fragment", "inclusion"
    classes: tuple  # names of label values 1 and 2
    graded: bool  # a fragmentation ratio and grade: regression head, grade gate, ratio plots
    recipes: dict  # architecture -> default recipe
    crop: str  # default crop: "embryo" or "full"
    lr: float  # default learning rate (phase 1 / end to end) from scratch
    lr_from_weights: float  # ... when starting from weights (--init, --backbone-weights)
    synth_size: int  # side of rendered training images (0: the model's input size)
    metrics: tuple  # (key, label) pairs `train` and `evaluate` print, in order
    render: Callable  # (rng, size) -> object with .image (uint8 grey) and .label
    write_synthetic: Callable  # (out, n, *, size, seed, grade_only, relief) -> info dict
    synth_line: str  # format of `synth`'s report, filled from the writer's info
    random_label_map: Callable  # (rng, size, templates) -> label map (learned synthesis)
    read: Callable  # (probs or None, raw ratio or None, scale, smooth, review_threshold) -> Reading
    headline: Callable  # result -> (heading, [detail lines], BGR colour) for overlay and CLI
    ablate: str = ""  # "module:function" that runs this task's paper table; "" when it has none

    @property
    def empty_state(self) -> str:
        return f"no-{self.region}"

    def metric_line(self, metrics: dict) -> str:
        """`Dice 0.8123  MAE 0.0312 ...`: the task's metrics that `metrics` holds."""
        return "  ".join(f"{label} {metrics[key]:.4f}" for key, label in self.metrics if key in metrics)


# The registry: a name -> "module:RECORD" (imported on first use, so `edgegrade --help` stays
# light) or a Task itself.
TASKS: dict[str, "str | Task"] = {
    "embryo-fragmentation": "edgegrade.tasks.embryo:EMBRYO",
    "oocyte-inclusions": "edgegrade.tasks.oocyte:OOCYTE",
}
DEFAULT = "embryo-fragmentation"


def get_task(name: str | None) -> Task:
    """The record for a task name from a config, checkpoint or manifest (None: the default,
    as files made before tasks existed say nothing)."""
    name = name or DEFAULT
    if name not in TASKS:
        raise EdgegradeError(f"--task {name}: unknown; choose from {', '.join(TASKS)}")
    entry = TASKS[name]
    if isinstance(entry, str):
        module, attr = entry.split(":")
        entry = TASKS[name] = getattr(importlib.import_module(module), attr)
    return entry
