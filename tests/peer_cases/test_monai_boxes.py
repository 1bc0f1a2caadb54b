"""MONAI's published GIoU-loss cases (3-D boxes), against losskit.giou.

Source: Project-MONAI/MONAI, tests/losses/test_giou_loss.py (TestGIoULoss), and
monai.losses.BoxGIoULoss itself (installed) on random 2-D and 3-D boxes.
"""

from __future__ import annotations

import pytest
import torch

import losskit
from losskit import functional as F

monai_losses = pytest.importorskip("monai.losses")

D = torch.float64

# TEST_CASES of TestGIoULoss.test_result: (input, target, expected mean loss).
TEST_CASES = [
    (torch.tensor([[1.0, 1.0, 2.0, 2.0]]), torch.tensor([[1.0, 1.0, 2.0, 2.0]]), 0.0),
    (torch.tensor([[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]]),
     torch.tensor([[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]]), 0.0),
]


@pytest.mark.parametrize("input, target, expected", TEST_CASES)
def test_result(input, target, expected):
    """TestGIoULoss.test_result (the (1, 4) and (1, 6) cases)."""
    assert float(F.giou(input, target)) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("width", [4, 6])
def test_result_empty_is_zero_not_monai_one(width):
    """TestGIoULoss.test_result, empty (0, 4) and (0, 6) boxes: MONAI's test expects 1.0;
    losskit's convention for an empty batch is 0.0 attached to the graph (giou's card)."""
    empty = torch.zeros((0, width), requires_grad=True)
    out = F.giou(empty, torch.zeros((0, width)))
    assert float(out.detach()) == 0.0
    (g,) = torch.autograd.grad(out, empty)
    assert g.shape == (0, width)
    assert "MONAI's mean of nothing" in losskit.info("giou").pitfalls


def test_ill_shape():
    """TestGIoULoss.test_ill_shape: mismatched shapes raise a ValueError."""
    with pytest.raises(ValueError):
        F.giou(torch.ones((1, 2, 3)), torch.ones((1, 1, 2, 3)))


@pytest.mark.parametrize("width", [4, 6])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_random_boxes_against_box_giou_loss(width, reduction):
    """monai.losses.BoxGIoULoss (StandardMode boxes: lower corner, then upper corner)."""
    k = width // 2
    g = torch.Generator().manual_seed(width)

    def boxes():
        lo = torch.rand(20, k, generator=g, dtype=D) * 4
        return torch.cat([lo, lo + torch.rand(20, k, generator=g, dtype=D) * 3 + 0.1], 1)

    a, b = boxes(), boxes()
    theirs = monai_losses.BoxGIoULoss(reduction=reduction)(a.float(), b.float())
    torch.testing.assert_close(F.giou(a, b, reduction=reduction).float(), theirs,
                               rtol=1e-5, atol=1e-5)
