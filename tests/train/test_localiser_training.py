import cv2
import numpy as np

from edgegrade.localise import NET_SIZE, Localiser
from edgegrade.preprocess import shrink
from edgegrade.train.localiser import OUT_SIZE, hull, scene_samples, train_localiser


def test_shrink_averages_whole_blocks():
    view = np.arange(300 * 520, dtype=np.float32).reshape(300, 520)
    small, k = shrink(view, NET_SIZE)
    assert k == 520 // NET_SIZE == 4 and small.shape == (75, 130)
    # shrunk pixel (i, j) is the mean of frame pixels [4i, 4i+4) x [4j, 4j+4): box maps stay exact
    assert np.allclose(small[10, 20], view[40:44, 80:84].mean())
    assert np.allclose(small[-1, -1], view[296:300, 516:520].mean())
    same, k1 = shrink(np.zeros((200, 250), np.uint8), NET_SIZE)
    assert k1 == 1 and same.shape == (200, 250)


def test_hull_joins_a_fragment_lying_apart_from_the_cells():
    mask = np.zeros((100, 100), bool)
    cv2.circle(mask.view(np.uint8), (30, 50), 15, 1, -1)
    mask[48:52, 85:89] = True  # a fragment away from the cell
    h = hull(mask)
    assert h.dtype == np.float32 and h[50, 60] == 1 and h[50, 86] == 1  # the gap is filled
    assert h[5, 5] == 0 and hull(np.zeros((8, 8), bool)).sum() == 0


def test_scene_samples_target_the_embryo():
    samples = scene_samples(0, 0)
    assert len(samples) == 2  # the coarse view and the fine crop
    for x, y in samples:
        assert x.shape == (1, NET_SIZE, NET_SIZE) and y.shape == (OUT_SIZE, OUT_SIZE)
        assert abs(float(x.mean())) < 0.1 and 0.99 < y.max() < 1.001  # a soft 0/1 hull
    assert samples[1][1].mean() > samples[0][1].mean()  # the fine crop is mostly embryo


def test_a_short_training_run_writes_a_loadable_localiser(tmp_path):
    out = tmp_path / "loc.onnx"
    info = train_localiser(out, scenes=12, epochs=1, progress=False)
    assert out.stat().st_size > 10_000 and info["samples"] >= 12
    frame = np.full((480, 640), 120, np.uint8)
    prob, *_ = Localiser(out).probability(frame)
    assert prob.shape == (NET_SIZE, NET_SIZE) and np.isfinite(prob).all()
