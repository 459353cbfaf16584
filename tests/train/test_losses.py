import math

import pytest

torch = pytest.importorskip("torch")

from edgegrade.train.losses import (  # noqa: E402
    LossWeights, dice_loss, focal_loss, precise_loss, range_loss, soft_mask_ratio, total_loss)

BIG = 30.0  # sigmoid(+-30) is 0/1 to float precision


def test_range_loss_is_zero_inside_and_linear_outside():
    pred = torch.tensor([0.05, 0.30, 0.05, 0.60])
    low = torch.tensor([0.0, 0.10, 0.10, 0.50])
    high = torch.tensor([0.10, 0.25, 0.25, 1.0])
    assert torch.allclose(range_loss(pred, low, high), torch.tensor([0.0, 0.05, 0.05, 0.0]))


def test_precise_loss_is_l1():
    assert torch.allclose(precise_loss(torch.tensor([0.3, 0.1]), torch.tensor([0.2, 0.4])), torch.tensor([0.1, 0.3]))


def test_dice_and_focal_hand_computed():
    logits = torch.tensor([[[BIG, BIG, -BIG, -BIG]]])
    target = torch.tensor([[[1.0, 0.0, 1.0, 0.0]]])
    assert float(dice_loss(logits, target)) == pytest.approx(0.5, abs=1e-4)
    assert float(dice_loss(logits, (logits > 0).float())) == pytest.approx(0.0, abs=1e-4)
    half = focal_loss(torch.zeros(1, 1, 1), torch.ones(1, 1, 1))  # p = 0.5: 0.25 * ln 2
    assert float(half) == pytest.approx(0.25 * math.log(2), rel=1e-4)


def test_soft_mask_ratio():
    logits = torch.full((1, 2, 4, 4), -BIG)
    logits[0, 1, :2, :] = BIG  # embryo: 8 px
    logits[0, 0, 0, :2] = BIG  # fragment: 2 px
    assert float(soft_mask_ratio(logits)) == pytest.approx(0.25, abs=1e-4)


def test_mixed_batch_masks_each_loss_per_sample():
    torch.manual_seed(0)
    out = {"mask_logits": torch.randn(2, 2, 8, 8), "ratio": torch.tensor([0.2, 0.3])}
    batch = {"masks": torch.zeros(2, 2, 8, 8), "has_mask": torch.tensor([1.0, 0.0]),
             "ratio": torch.tensor([0.1, 0.0]), "has_ratio": torch.tensor([1.0, 0.0]),
             "low": torch.tensor([0.1, 0.10]), "high": torch.tensor([0.1, 0.25])}
    total, parts = total_loss(out, batch, LossWeights(1, 1, 1))
    # the grade-only sample's (absent) mask must not matter
    batch2 = {**batch, "masks": batch["masks"].clone()}
    batch2["masks"][1] = 1.0
    assert float(total_loss(out, batch2, LossWeights(1, 1, 1))[0]) == pytest.approx(float(total))
    # L_reg = precise (|0.2-0.1|) + range (0.3 outside [0.10, 0.25] by 0.05)
    assert float(parts["reg"]) == pytest.approx(0.1 + 0.05, abs=1e-6)
    _, no_reg = total_loss(out, batch, LossWeights(1, 0, 1))
    assert "reg" not in no_reg and "cons" in no_reg
