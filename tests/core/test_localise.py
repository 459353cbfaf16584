import numpy as np
import pytest

from edgegrade.errors import EdgegradeError
from edgegrade.feed import SceneFeed
from edgegrade.localise import Roi, default_localiser, iou, parse_roi
from edgegrade.preprocess import PreprocessSpec, preprocess, square_crop
from edgegrade.scenes import _relief, render_scene, true_box


def test_roi_geometry_and_parsing():
    roi = parse_roi("100,50,40,20")
    assert (roi.x, roi.y, roi.w, roi.h) == (100, 50, 40, 20)
    assert roi.square(1.5) == (90, 30, 60)  # centred on (120, 60), 1.5 x the longer side
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0
    for bad in ("1,2,3", "a,b,c,d", "0,0,0,5", "-1,0,5,5"):
        with pytest.raises(EdgegradeError, match="--roi"):
            parse_roi(bad)


def test_square_crop_pads_outside_the_frame():
    img = np.arange(100, dtype=np.uint8).reshape(10, 10)
    crop = square_crop(img, -2, 8, 4, pad_value=255)
    assert crop.shape == (4, 4)
    assert (crop[:, :2] == 255).all() and (crop[2:] == 255).all()
    assert crop[0, 2] == img[8, 0] and crop[1, 3] == img[9, 1]


def test_crop_preprocessing_maps_back_onto_the_frame():
    spec = PreprocessSpec(size=64, crop="embryo", margin=1.5)
    frame = np.full((300, 400), 128, np.uint8)
    roi = Roi(250, 20, 60, 40)
    x, box = preprocess(frame, spec, roi=roi)
    assert x.shape == (3, 64, 64) and (box.x0, box.y0) == roi.square(1.5)[:2]
    # the model-space centre is the box centre on the frame
    assert np.allclose(box.points_to_frame([[32, 32]]), [[280, 40]], atol=1.5)
    plane = np.ones((64, 64), np.float32)
    back = box.to_frame(plane)
    assert back.shape == (300, 400)
    x0, y0, side = roi.square(1.5)
    assert back[max(0, y0):y0 + side, x0:x0 + side].min() == 1 and back[200:, :200].max() == 0


def test_scene_truth_box_is_the_labelled_embryo():
    s = render_scene(np.random.default_rng(1), 640, 480, fraction=0.3)
    assert s.image.shape == s.label.shape == (480, 640)
    x, y, w, h = s.box
    assert s.label[y:y + h, x:x + w].any() and not s.label[:y].any() and not s.label[y + h:].any()
    assert 0.15 * 640 < w < 0.4 * 640  # the cells sit inside a zona of 30% of the width
    assert render_scene(np.random.default_rng(1), 320, 240, embryo=False).box is None
    assert true_box(np.zeros((5, 5), np.uint8)) is None


def _ious(scenes) -> list[float]:
    """The shipped localiser's box IoU on each scene (0 where it finds nothing)."""
    loc = default_localiser()
    return [0.0 if (found := loc(s.image)) is None else iou(found, s.box) for s in scenes]


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5, 0.8])
def test_localiser_finds_the_embryo_at_any_magnification(fraction):
    # seeds the shipped weights never saw (they trained on [0, i])
    scores = _ious([render_scene(np.random.default_rng([99, seed, int(fraction * 100)]), 1280, 960, fraction=fraction)
                    for seed in range(4)])
    assert np.mean(scores) > 0.75, scores  # the benchmark's 40 frames a bin: 0.85-0.86


def test_relief_optics_show_cells_by_their_rims():
    patch = np.zeros((200, 200), np.float32)
    yy, xx = np.mgrid[0:200, 0:200]
    disc = np.hypot(xx - 100, yy - 100) < 50
    patch[disc] = -40  # a rendered cell: a dark disc on the medium
    out = _relief(patch, np.random.default_rng(3), zona_d=200)
    assert abs(out[np.hypot(xx - 100, yy - 100) < 35].mean()) < 0.6 * 40  # near the medium's grey inside
    rim = np.abs(np.hypot(xx - 100, yy - 100) - 50) < 4
    assert out[rim].max() > 15 and out[rim].min() < -15  # one bright and one dark side


def test_localiser_finds_embryos_seen_through_relief_optics():
    scores = _ious([render_scene(np.random.default_rng([97, seed]), 1280, 960, fraction=0.4, relief=1.0)
                    for seed in range(4)])
    assert np.mean(scores) > 0.75, scores  # the benchmark's 40 relief frames: 0.82


def test_localiser_leaves_out_a_thick_granular_zona():
    # a zona band darker than the medium and nearly as granular as the cells (as in the real
    # frames) is not the embryo: the box neither misses the cells nor spreads over the band
    scenes = [render_scene(np.random.default_rng([96, seed]), 1280, 960, fraction=0.5, relief=1.0, zona=1.0)
              for seed in range(4)]
    loc = default_localiser()
    found = [loc(s.image) for s in scenes]
    assert all(f is not None for f in found)
    scores = [iou(f, s.box) for f, s in zip(found, scenes)]
    areas = [f.w * f.h / (s.box[2] * s.box[3]) for f, s in zip(found, scenes)]
    assert np.mean(scores) > 0.75 and max(areas) < 1.25, (scores, areas)  # benchmark's 40: 0.81


def test_localiser_says_no_embryo_for_an_empty_well():
    loc = default_localiser()
    empty = [loc(render_scene(np.random.default_rng([98, i]), 960, 720, embryo=False).image) for i in range(4)]
    assert sum(r is None for r in empty) >= 3


def test_localiser_on_the_real_frames(real_dir, tmp_path):
    from edgegrade.importers import import_labelme
    from edgegrade.imageio import read_image, read_label_map

    import_labelme(real_dir, tmp_path)
    loc = default_localiser()
    scores = []
    for p in sorted((tmp_path / "images").iterdir()):
        image = read_image(p)
        found = loc(image)
        truth = true_box(read_label_map(tmp_path / "masks" / f"{p.stem}.png", image.shape))
        scores.append(0.0 if found is None else iou(found, truth))
    # measured 0.870 mean, 0.844 worst (benchmarks/localise.py); the issue asks 0.85
    assert min(scores) > 0.8 and np.mean(scores) >= 0.85, scores


def test_tracker_follows_hides_and_refinds():
    from edgegrade.runtime.tracking import RoiTracker

    feed = SceneFeed(640, 480, seed=0, frames=60, block=15)  # embryo, empty well, small embryo, large
    tracker = RoiTracker()
    boxes = [tracker.update(frame) for frame in feed]
    first, empty = boxes[3:15], boxes[15 + tracker.patience:30]
    assert all(b is not None for b in first) and all(b is None for b in empty)
    truth = feed.scenes[0].box
    assert np.mean([iou(b, truth) for b in first]) > 0.7
    jitter = np.std([b.centre for b in first], axis=0)
    assert (jitter < 3).all(), jitter  # the smoothed box does not dance
    assert all(b is not None for b in boxes[32:45]) and iou(boxes[44], feed.scenes[2].box) > 0.6


def test_recheck_keeps_the_track_with_one_fine_pass_and_moves_when_the_embryo_is_elsewhere():
    feed = SceneFeed(1280, 960, seed=0, frames=1, block=15)
    frame = next(feed)
    loc = default_localiser()
    truth = loc(frame)
    passes = []
    original = loc._pass
    loc._pass = lambda *a, **k: passes.append(k.get("fine", False)) or original(*a, **k)
    try:
        kept = loc(frame, truth, recheck=True)  # coarse pass agrees: one fine pass
        assert passes == [False, True] and iou(kept, truth) > 0.9
        passes.clear()
        wrong = Roi(20, 20, 60, 60)  # a stale box far from the embryo: a full search follows
        moved = loc(frame, wrong, recheck=True)
        assert passes == [False, True, True] and iou(moved, truth) > 0.9
    finally:
        loc._pass = original
