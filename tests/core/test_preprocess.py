import cv2
import numpy as np
import pytest

from edgegrade.preprocess import PreprocessSpec, letterbox, preprocess, to_uint8_rgb


def test_letterbox_keeps_aspect_and_centres():
    image = np.full((100, 200), 255, np.uint8)
    out, box = letterbox(image, 64)
    assert out.shape == (64, 64)
    assert (box.new_w, box.new_h) == (64, 32)
    assert box.pad_y == 16 and box.pad_x == 0
    assert out[16:48].min() == 255 and out[:16].max() == 0 and out[48:].max() == 0


def test_inverse_maps_mask_back_onto_the_frame():
    frame = np.zeros((300, 500), np.uint8)
    cv2.circle(frame, (350, 120), 60, 1, -1)
    boxed, box = letterbox(frame, 128, interpolation=cv2.INTER_NEAREST)
    back = box.to_frame(boxed, cv2.INTER_NEAREST)
    assert back.shape == frame.shape
    overlap = np.logical_and(back, frame).sum() / np.logical_or(back, frame).sum()
    assert overlap > 0.9
    centre = box.points_to_frame([[box.pad_x + 350 * box.scale, box.pad_y + 120 * box.scale]])
    assert np.allclose(centre, [[350, 120]], atol=1)


@pytest.mark.parametrize("frame", [
    np.full((40, 60), 128, np.uint8),
    np.full((40, 60, 3), 128, np.uint8),
    np.full((40, 60, 4), 128, np.uint8),
    np.full((40, 60), 128 * 257, np.uint16),
    np.full((40, 60, 1), 128, np.uint8),
])
def test_every_frame_kind_gives_the_same_input(frame):
    x, box = preprocess(frame, PreprocessSpec(size=32))
    ref, _ = preprocess(np.full((40, 60), 128, np.uint8), PreprocessSpec(size=32))
    assert x.shape == (3, 32, 32) and x.dtype == np.float32
    assert np.allclose(x, ref)


def test_normalisation_and_channel_order():
    bgr = np.zeros((8, 8, 3), np.uint8)
    bgr[..., 2] = 255  # red in BGR
    spec = PreprocessSpec(size=8)
    x, _ = preprocess(bgr, spec)
    assert x[0, 0, 0] == pytest.approx((1 - spec.mean[0]) / spec.std[0], rel=1e-5)
    assert x[2, 0, 0] == pytest.approx((0 - spec.mean[2]) / spec.std[2], rel=1e-5)
    assert to_uint8_rgb(bgr)[0, 0].tolist() == [255, 0, 0]


def test_two_step_area_shrink_matches_one_resize_and_maps_back_exactly():
    """A 1080p frame shrinks by whole blocks first (the fast path), then by the remainder;
    the picture differs from one INTER_AREA resize by less than a grey level on average and
    the inverse mapping covers the whole frame (the dropped last rows and columns are zero)."""
    from edgegrade.feed import SceneFeed

    frame = next(SceneFeed(1917, 1080))
    out, box = letterbox(frame, 256)
    one = cv2.resize(frame[:box.src_h, :box.src_w], (box.new_w, box.new_h), interpolation=cv2.INTER_AREA)
    inner = out[box.pad_y:box.pad_y + box.new_h, box.pad_x:box.pad_x + box.new_w]
    assert np.abs(inner.astype(int) - one).mean() < 1.0
    assert (box.src_h, box.src_w, box.frame_h, box.frame_w) == (1078, 1911, 1080, 1917)  # k = 7
    back = box.to_frame(out)
    assert back.shape == frame.shape and back[1078:].max() == 0 and back[:, 1911:].max() == 0
    mark = np.zeros((256, 256), np.uint8)
    mark[box.pad_y + 40, box.pad_x + 100] = 1
    y, x = np.argwhere(box.to_frame(mark, cv2.INTER_NEAREST)).mean(axis=0)
    assert abs(x - (100 + 0.5) / box.scale) < 4 and abs(y - (40 + 0.5) / box.scale) < 4
