import cv2
import numpy as np

from edgegrade import datasets
from edgegrade.grading import CELL, FRAGMENT
from edgegrade.metrics import SegRegMeter, pixel_scores
from edgegrade.oocytes import add_spots, render_oocyte, write_oocyte_dataset
from edgegrade.postprocess import count_instances


def test_forced_inclusions_are_dark_spots_inside_the_ooplasm():
    for seed in range(6):
        o = render_oocyte(np.random.default_rng(seed), 256, inclusions=1)
        assert set(np.unique(o.label)) == {0, CELL, FRAGMENT}
        n, area = count_instances(o.label == FRAGMENT, min_area=1)
        assert n == 1 and 1 <= area <= 60  # one spot of 2-7 px diameter
        spot = o.label == FRAGMENT
        ring = cv2.dilate(spot.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~spot
        assert (o.label[ring] == CELL).all()  # wholly inside the ooplasm, not on zona or medium
        around = cv2.dilate(spot.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool) & ~spot
        assert o.image[spot].mean() < o.image[around].mean() - 10  # visibly darker than around it


def test_oocytes_without_inclusions_have_none():
    o = render_oocyte(np.random.default_rng(1), 128, inclusions=0)
    assert o.inclusions == 0 and not (o.label == FRAGMENT).any()
    assert 0.15 < (o.label == CELL).mean() < 0.5  # the ooplasm fills a good part of the frame


def test_spots_follow_the_papers_recipe_and_fall_back_to_the_centre():
    rng = np.random.default_rng(0)
    for _ in range(20):
        label = np.zeros((256, 256), np.uint8)  # masks that mark inclusions only: no ooplasm class
        n = add_spots(label, rng)
        assert 1 <= n <= 5
        ys, xs = np.nonzero(label == FRAGMENT)
        assert np.hypot(xs - 128, ys - 128).max() < 0.3 * 256 + 4
        found, area = count_instances(label == FRAGMENT, min_area=1)
        assert 1 <= found <= n and area <= n * 50


def test_oocyte_dataset_checks_clean(tmp_path):
    write_oocyte_dataset(tmp_path, 5, size=128, seed=4, progress=False)
    report = datasets.check(tmp_path)
    assert report["problems"] == [] and report["paired"] == 5 and report["embryos"] == 5


def test_pixel_accuracy_and_mean_iou_by_hand():
    true = np.zeros((10, 10), bool)
    true[0, :4] = True  # 4 target pixels
    pred = np.zeros((10, 10), bool)
    pred[0, 2:6] = True  # 2 right, 2 wrong, 2 missed
    s = pixel_scores(inter=2, union=6, pixels=100)
    assert s["pixel_acc"] == 0.96
    assert np.isclose(s["miou"], (2 / 6 + 94 / 98) / 2)
    meter = SegRegMeter()
    meter.add_masks(pred, true)
    assert np.isclose(meter.summary()["miou"], s["miou"]) and meter.summary()["pixel_acc"] == 0.96
