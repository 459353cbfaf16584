"""The embryo box is found once per image per run, kept beside the run, and handed to the
loaders; preprocessing never searches for it."""

import json
import shutil

import numpy as np

from edgegrade import boxes, datasets
from edgegrade.localise import Roi
from edgegrade.preprocess import PreprocessSpec, preprocess


class CountingLocaliser:
    def __init__(self):
        self.calls = 0

    def __call__(self, image):
        self.calls += 1
        return Roi(1, 2, image.shape[1] // 2, image.shape[0] // 2, 0.9)


def test_each_image_is_searched_once_and_the_cache_serves_a_second_pass(synth_dir, tmp_path, monkeypatch):
    loc = CountingLocaliser()
    monkeypatch.setattr(boxes, "default_localiser", lambda: loc)
    samples = datasets.load(synth_dir).samples
    spec = PreprocessSpec(size=64, crop="embryo")
    cache = tmp_path / "boxes.json"
    first = boxes.locate_samples(samples, spec, cache, progress=False)
    assert loc.calls == len(samples) and all(isinstance(r, Roi) for r in first)
    again = boxes.locate_samples(samples, spec, cache, progress=False)
    assert loc.calls == len(samples) and again == first  # nothing searched twice
    # keyed by content: a renamed copy is found in the cache, an edited image is searched again
    copy = tmp_path / "copy"
    shutil.copytree(synth_dir, copy)
    moved = sorted((copy / "images").iterdir())[0]
    moved.rename(moved.with_name("renamed.png"))
    cv2_edit = sorted((copy / "images").iterdir())[1]
    cv2_edit.write_bytes(cv2_edit.read_bytes() + b"\0")  # same picture, other bytes
    boxes.locate_samples(datasets.scan(copy).samples, spec, cache, progress=False)
    assert loc.calls == len(samples) + 1
    # another localiser's boxes are not reused
    stored = json.loads(cache.read_text())
    stored["localiser"] = "another"
    cache.write_text(json.dumps(stored))
    boxes.locate_samples(samples, spec, cache, progress=False)
    assert loc.calls == 2 * len(samples) + 1


def test_whole_frame_specs_search_nothing(synth_dir, monkeypatch):
    monkeypatch.setattr(boxes, "default_localiser", lambda: (_ for _ in ()).throw(AssertionError("searched")))
    samples = datasets.load(synth_dir).samples
    assert boxes.locate_samples(samples, PreprocessSpec(size=64, crop="full"), progress=False) == [None] * len(samples)


def test_preprocess_never_searches(monkeypatch):
    import edgegrade.localise as localise

    monkeypatch.setattr(localise, "default_localiser", lambda: (_ for _ in ()).throw(AssertionError("searched")))
    frame = np.full((120, 160), 90, np.uint8)
    spec = PreprocessSpec(size=32, crop="embryo")
    whole, box = preprocess(frame, spec)  # no box given: the whole frame
    assert box.frame_h == 0 and whole.shape == (3, 32, 32)
    _, box = preprocess(frame, spec, roi=Roi(40, 30, 40, 40))
    assert (box.x0, box.y0) == (30, 20)
