"""Box losses: hand-worked examples, torchvision's formulas, degenerate boxes.

torchvision cannot be installed here; its formulas (``generalized_box_iou_loss``,
``distance_box_iou_loss``, ``complete_box_iou_loss``: eps added to each denominator) are
the registry references ``_giou_reference`` etc., which the common suite compares with.
"""

from __future__ import annotations

import math

import pytest
import torch

import losskit
from losskit.functional import ciou, diou, giou
from losskit.functional.boxes import _ciou_reference, _diou_reference, _giou_reference

A = torch.tensor([[0.0, 0.0, 2.0, 2.0]], dtype=torch.float64)
B = torch.tensor([[1.0, 1.0, 3.0, 3.0]], dtype=torch.float64)


def test_hand_worked_overlapping_squares():
    # Worked by hand: intersection 1, union 4 + 4 - 1 = 7, enclosing box [0, 3]^2 of area 9,
    # centers (1, 1) and (2, 2): squared distance 2, squared diagonal 18; same aspect ratio.
    iou = 1 / 7
    assert giou(A, B).item() == pytest.approx(1 - (iou - (9 - 7) / 9), abs=1e-12)
    assert diou(A, B).item() == pytest.approx(1 - iou + 2 / 18, abs=1e-12)
    assert ciou(A, B).item() == pytest.approx(1 - iou + 2 / 18, abs=1e-12)


def test_hand_worked_ciou_aspect_term():
    # A 2x1 box and a 1x2 box sharing a corner: IoU 1/3, enclosing [0, 2]^2 (diagonal^2 8),
    # centers (1, .5) and (.5, 1) (distance^2 .5); v = 4/pi^2 (atan(1/2) - atan(2))^2,
    # alpha = v / (1 - IoU + v).
    a = torch.tensor([[0.0, 0.0, 2.0, 1.0]], dtype=torch.float64)
    b = torch.tensor([[0.0, 0.0, 1.0, 2.0]], dtype=torch.float64)
    iou = 1 / 3
    v = 4 / math.pi ** 2 * (math.atan(0.5) - math.atan(2.0)) ** 2
    alpha = v / (1 - iou + v)
    assert ciou(a, b).item() == pytest.approx(1 - iou + 0.5 / 8 + alpha * v, abs=1e-12)
    assert diou(a, b).item() == pytest.approx(1 - iou + 0.5 / 8, abs=1e-12)
    assert giou(a, b).item() == pytest.approx(1 - (iou - (4 - 3) / 4), abs=1e-12)


def _random_boxes(n, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * 10
    return torch.cat([xy, xy + torch.rand(n, 2, generator=g, dtype=torch.float64) * 5 + 0.1], 1)


@pytest.mark.parametrize("fn,ref", [(giou, _giou_reference), (diou, _diou_reference),
                                    (ciou, _ciou_reference)])
def test_matches_torchvision_formula(fn, ref):
    # torchvision adds eps = 1e-7 to denominators; we clamp them: same value to ~1e-7 relative.
    a, b = _random_boxes(64, 0), _random_boxes(64, 1)
    torch.testing.assert_close(fn(a, b, reduction="none"), ref(a, b, reduction="none"),
                               rtol=1e-6, atol=1e-6)


def test_brute_force_iou_by_area_sampling():
    # Independent of the closed form: IoU from counting cell centers of a grid (1/64 spacing
    # on integer-aligned boxes makes the count exact), then GIoU's enclosing term likewise.
    a = torch.tensor([[0.5, 0.25, 2.0, 1.75]], dtype=torch.float64)
    b = torch.tensor([[1.0, 0.0, 2.5, 1.0]], dtype=torch.float64)
    step = 1 / 64
    xs = torch.arange(0, 3, step, dtype=torch.float64) + step / 2
    gx, gy = torch.meshgrid(xs, xs, indexing="ij")

    def inside(box):
        return (gx > box[0]) & (gx < box[2]) & (gy > box[1]) & (gy < box[3])

    ia, ib = inside(a[0]), inside(b[0])
    inter, union = (ia & ib).sum().item(), (ia | ib).sum().item()
    enclosing = inside(torch.tensor([0.5, 0.0, 2.5, 1.75], dtype=torch.float64)).sum().item()
    brute = 1 - (inter / union - (enclosing - union) / enclosing)
    assert giou(a, b).item() == pytest.approx(brute, abs=1e-9)


@pytest.mark.parametrize("fn", [giou, diou, ciou])
def test_degenerate_boxes_are_finite(fn):
    pairs = [
        ([1.0, 1.0, 1.0, 3.0], [0.0, 0.0, 2.0, 2.0]),  # zero width
        ([1.0, 1.0, 3.0, 1.0], [0.0, 0.0, 2.0, 2.0]),  # zero height
        ([1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]),  # identical points
        ([1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0]),  # point inside a box
        ([0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0]),  # disjoint
        ([0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0]),  # identical
        ([0.0, 0.0, 0.0, 0.0], [3.0, 3.0, 3.0, 0.0 + 3.0]),  # two distinct points
    ]
    for dtype in (torch.float64, torch.float32, torch.float16):
        pred = torch.tensor([p for p, _ in pairs], dtype=dtype, requires_grad=True)
        tgt = torch.tensor([t for _, t in pairs], dtype=dtype)
        out = fn(pred, tgt, reduction="none")
        assert torch.isfinite(out).all(), (fn.__name__, dtype, out)
        assert torch.isfinite(torch.autograd.grad(out.sum(), pred)[0]).all()
        assert out[5].item() == 0.0  # identical boxes: exactly zero


def test_disjoint_boxes_still_get_a_gradient_toward_the_target():
    pred = torch.tensor([[0.0, 0.0, 1.0, 1.0]], dtype=torch.float64, requires_grad=True)
    tgt = torch.tensor([[5.0, 0.0, 6.0, 1.0]], dtype=torch.float64)
    for fn in (giou, diou, ciou):
        grad = torch.autograd.grad(fn(pred, tgt), pred)[0]
        assert grad[0, 2] < 0  # moving x2 right (toward the target) lowers the loss
    # far apart, GIoU approaches its upper bound 2
    assert giou(pred, tgt + torch.tensor([1e4, 0, 1e4, 0])).item() == pytest.approx(2, abs=1e-3)


def test_invalid_boxes_raise():
    with pytest.raises(losskit.LossInputError, match="widths"):
        giou(torch.tensor([[2.0, 0.0, 1.0, 1.0]]), torch.tensor([[0.0, 0.0, 1.0, 1.0]]))
    with pytest.raises(losskit.LossInputError, match=r"\[N, 4\]"):
        diou(torch.zeros(3, 5), torch.zeros(3, 5))
    with pytest.raises(losskit.LossInputError, match="same shape"):
        ciou(torch.zeros(3, 4), torch.zeros(2, 4))


@pytest.mark.parametrize("name", ["giou", "diou", "ciou"])
def test_two_aligned_empty_boxes_give_loss_one_and_no_gradient(name):
    # Identical zero-height boxes: IoU is 0 by convention and every valid move (growing
    # the height) leaves the loss at 1 to first order, so the gradient is 0, not the
    # clamp's 1 / eps = 1e7 at the boundary.
    fn = losskit.info(name).fn
    box = torch.tensor([[0.0, 1.0, 2.0, 1.0]], dtype=torch.float64, requires_grad=True)
    target = torch.tensor([[0.0, 1.0, 2.0, 1.0]], dtype=torch.float64)
    out = fn(box, target)
    (grad,) = torch.autograd.grad(out, box)
    assert out.item() == 1.0
    assert torch.equal(grad, torch.zeros_like(grad))
    grown = torch.tensor([[0.0, 1.0, 2.0, 1.0 + 1e-6]], dtype=torch.float64)
    assert abs(fn(grown, target).item() - 1.0) < 1e-9
