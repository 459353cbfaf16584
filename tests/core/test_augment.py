import numpy as np
import pytest

from edgegrade.augment import AUGMENTS, Augment
from edgegrade.evalset import model_pair
from edgegrade.grading import CELL, FRAGMENT
from edgegrade.localise import Roi
from edgegrade.preprocess import PreprocessSpec, letterbox_label

SPEC = PreprocessSpec(size=64, crop="embryo", margin=1.5)


def _frame():
    """A frame whose grey level encodes its label (so pixels and labels can be compared),
    with an asymmetric embryo (turns and mirrors show)."""
    label = np.zeros((240, 320), np.uint8)
    label[80:160, 100:220] = CELL
    label[90:120, 110:150] = FRAGMENT
    label[140:155, 190:215] = FRAGMENT
    return (20 + label * 100).astype(np.uint8), label, Roi(100, 80, 120, 80)


def test_same_seed_same_sample_other_epoch_another():
    image, label, roi = _frame()
    aug = AUGMENTS["full"]
    a = model_pair(image, label, SPEC, roi, aug, np.random.default_rng([0, 1, 5]))
    b = model_pair(image, label, SPEC, roi, aug, np.random.default_rng([0, 1, 5]))
    c = model_pair(image, label, SPEC, roi, aug, np.random.default_rng([0, 2, 5]))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("seed", range(8))
def test_labels_move_with_the_pixels(seed):
    image, label, roi = _frame()
    geometric = Augment(brightness=0, contrast=0, gamma=0, blur=0, noise=0, scale=0.2, shift=0.1)
    rgb, small = model_pair(image, label, SPEC, roi, geometric, np.random.default_rng(seed))
    grey = rgb[:, :, 0].astype(int) - 20
    # wherever the label is clear-cut (away from shrunk edges), the pixel says the same class
    interior = grey % 100 == 0
    assert interior.mean() > 0.8
    assert np.array_equal(grey[interior] // 100, small[interior])


def test_pixels_change_exposure_not_the_padding():
    image, label, roi = _frame()
    far = Roi(0, 0, 60, 60)  # the crop leaves the frame: padding on two sides
    plain, _ = model_pair(image, label, SPEC, far)
    full = Augment(scale=0, shift=0, turns=False, brightness=0.3)
    rgb, _ = model_pair(image, label, SPEC, far, full, np.random.default_rng(3))
    pad = plain == 0
    assert pad.any() and (rgb[pad] == 0).all()  # the padding is as the runtime pads
    assert not np.array_equal(rgb[~pad], plain[~pad])


def test_label_shrinks_by_area_majority():
    label = np.zeros((300, 300), np.uint8)
    label[:, :] = CELL
    label[0:10, 0:10] = FRAGMENT  # 10 px squares, 3.3 model pixels at 90 px
    label[100:104, 100:104] = FRAGMENT  # a 4 px speck: 1.2 model pixels, kept when it covers half of one
    small = letterbox_label(label, 90)
    assert small.shape == (90, 90)
    frag = small == FRAGMENT
    assert 9 <= frag[:5, :5].sum() <= 16 and frag[30:36, 30:36].sum() >= 0
    assert (small[frag == 0] == CELL).all()
