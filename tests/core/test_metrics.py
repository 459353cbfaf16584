import numpy as np
import pytest

from edgegrade.metrics import SegRegMeter, confusion_matrix, dice, iou, quadratic_kappa


def test_dice_iou_and_empty_convention():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    assert dice(a, b) == 1.0 and iou(a, b) == 1.0
    a[0, :2] = True
    b[0, 1:3] = True
    assert dice(a, b) == pytest.approx(2 * 1 / 4)
    assert iou(a, b) == pytest.approx(1 / 3)
    assert dice(a, np.zeros_like(a)) == 0.0


def test_kappa_hand_computed():
    assert quadratic_kappa(np.diag([3, 2, 4, 1])) == 1.0
    # two raters, 2 classes only used: A/B swapped once
    cm = confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1])
    # weights (i-j)^2/9: observed 1/9; expected: rows (2,2) cols (1,3) -> off-diag 2*1*... /4
    observed = 1 / 9
    expected = (2 * 3 / 4) / 9 + (2 * 1 / 4) / 9
    assert quadratic_kappa(cm) == pytest.approx(1 - observed / expected)


def test_meter_pooled_vs_mean_and_grades():
    m = SegRegMeter()
    m.add_masks(np.ones((2, 2)), np.ones((2, 2)))
    m.add_masks(np.zeros((2, 2)), np.ones((2, 2)))
    for true, pred in ((0.05, 0.06), (0.3, 0.6)):
        m.add_ratios(true, direct=pred)
    s = m.summary()
    assert s["dice"] == pytest.approx(0.5)
    assert s["dice_pooled"] == pytest.approx(2 * 4 / 12)
    assert s["mae_direct"] == pytest.approx((0.01 + 0.3) / 2)
    assert s["grade_acc_direct"] == 0.5
    assert "mae_mask" not in s
