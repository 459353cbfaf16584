"""A task is one record: a third task is one new module and one registry entry. This toy
task (bright spots in a dish) goes through synthetic data, training, export and the runtime
without any other code knowing its name."""

from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from conftest import tiny_train_config  # noqa: E402
from edgegrade import tasks  # noqa: E402
from edgegrade.datasets import write_labels_csv  # noqa: E402
from edgegrade.imageio import write_image  # noqa: E402
from edgegrade.postprocess import binarise, count_instances  # noqa: E402


class Spots:
    def __init__(self, image, label):
        self.image, self.label = image, label


def render(rng, size):
    label = np.zeros((size, size), np.uint8)
    cv2.circle(label, (size // 2, size // 2), size // 3, 1, -1)
    for _ in range(int(rng.integers(1, 4))):
        x, y = (int(v) for v in rng.integers(size // 3, 2 * size // 3, 2))
        cv2.circle(label, (x, y), max(2, size // 20), 2, -1)
    image = (40 + 60 * (label > 0) + 120 * (label == 2)).astype(np.uint8)
    return Spots(image, label)


def write_synthetic(out, n, *, size, seed, grade_only=0, relief=0.0, progress=True):
    rows = []
    for i in range(n):
        r = render(np.random.default_rng([seed, i]), size)
        write_image(Path(out) / "images" / f"toy{i}.png", r.image)
        write_image(Path(out) / "masks" / f"toy{i}.png", r.label)
        rows.append({"image": f"toy{i}.png", "grade": "", "ratio": "", "embryo_id": f"toy{i}"})
    write_labels_csv(out, rows)
    return {"paired": n, "out": str(out)}


def read(probs, raw_ratio, scale, smooth, review_threshold):
    spots, dish = binarise(probs)
    if dish.mean() < 0.005:
        return tasks.Reading(state="no-dish")
    return tasks.Reading(state="counted", target=spots, region=dish, inclusions={"count": count_instances(spots)[0]})


TOY = tasks.Task(
    name="toy-spots", region="dish", target="spot", classes=("dish", "spot"), graded=False,
    recipes={"attnregdeeplab": "seg", "smanet": "seg"}, crop="full", lr=1e-3, lr_from_weights=1e-3, synth_size=0,
    metrics=(("dice", "Dice"), ("miou", "mean IoU")), render=render, write_synthetic=write_synthetic,
    synth_line="wrote {paired} toy images to {out}", random_label_map=lambda rng, size, t: render(rng, size).label,
    read=read, headline=lambda r: (f"Spots: {r.inclusions['count']}" if r.inclusions else "No dish", [], (0, 255, 0)),
)


def test_a_third_task_needs_only_its_record(tmp_path, monkeypatch):
    from edgegrade.configs import ExportConfig
    from edgegrade.export.pipeline import export_bundle
    from edgegrade.configs import GradeConfig
    from edgegrade.runtime.stills import grade_stills
    from edgegrade.train.run import train

    monkeypatch.setitem(tasks.TASKS, TOY.name, TOY)  # the registry line
    results = train(tiny_train_config(tmp_path / "run", task=TOY.name, synth_n=12, synth_grade_only=0))
    assert set(results) == {"model"} and "miou" in results["model"]["test"]
    assert (tmp_path / "run" / "data" / "images" / "toy0.png").is_file()  # its own synthetic data
    bundle = tmp_path / "bundle"
    export_bundle(ExportConfig(run=str(tmp_path / "run"), out=str(bundle), precision="fp32", eval_n=4),
                  progress=lambda m: None)
    rows = grade_stills(GradeConfig(bundle=str(bundle), out=str(tmp_path / "graded")),
                        [tmp_path / "run" / "data" / "images" / "toy0.png"])
    assert rows[0]["state"] in ("counted", "no-dish")
    assert rows[0]["summary"].startswith("Spots:" if rows[0]["state"] == "counted" else "No dish")
