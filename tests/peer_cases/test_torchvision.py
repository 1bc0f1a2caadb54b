"""torchvision's published test cases for its box and focal losses, against losskit.

Source: pytorch/vision, test/test_ops.py (classes TestGeneralizedBoxIouLoss,
TestCompleteBoxIouLoss, TestDistanceBoxIouLoss, TestFocalLoss, and the IoU matrices of
TestGeneralizedBoxIou, TestDistanceBoxIoU, TestCompleteBoxIou, which test the same
quantities pairwise: loss(box_i, box_j) = 1 - matrix[i][j]). torchvision does not install
beside this torch, so inputs and expected numbers are transcribed; each test names the
test it comes from.

Conventions asserted as such (documented in the cards): losskit computes float16 inputs
in float32 and returns float32; an invalid reduction raises LossInputError (a ValueError)
whose message differs from torchvision's "Invalid"; torchvision's focal alpha=-1 ("no
weighting") is alpha=None.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as TF

import losskit
from losskit import functional as F

# The transcribed generator passes low == high to make_tensor, as torchvision's does.
pytestmark = pytest.mark.filterwarnings("ignore:Passing `low==high`:FutureWarning")


# --- test/test_ops.py: get_boxes() and the loss tests ------------------------------------------


def get_boxes(dtype):
    box1 = torch.tensor([-1, -1, 1, 1], dtype=dtype)
    box2 = torch.tensor([0, 0, 1, 1], dtype=dtype)
    box3 = torch.tensor([0, 1, 1, 2], dtype=dtype)
    box4 = torch.tensor([1, 1, 2, 2], dtype=dtype)
    box1s = torch.stack([box2, box2], dim=0)
    box2s = torch.stack([box3, box4], dim=0)
    return box1, box2, box3, box4, box1s, box2s


def assert_iou_loss(fn, box1, box2, expected, reduction="none"):
    # torchvision: torch.testing.assert_close(computed, torch.tensor(expected)); losskit
    # returns float32 for float16 boxes, so the values are compared in float32.
    computed = fn(box1, box2, reduction=reduction)
    torch.testing.assert_close(computed.float(), torch.tensor(expected), rtol=1.3e-6,
                               atol=1e-4)


DTYPES = [torch.float32, torch.half]

# (first box, second box, expected loss, reduction) of each loss test, by box name.
GIOU_CASES = [("box1", "box1", 0.0, "none"), ("box1", "box2", 0.75, "none"),
              ("box2", "box3", 1.0, "none"), ("box2", "box4", 1.5, "none"),
              ("box1s", "box2s", 2.5, "sum"), ("box1s", "box2s", 1.25, "mean")]
DIOU_CIOU_CASES = [("box1", "box1", 0.0, "none"), ("box1", "box2", 0.8125, "none"),
                   ("box1", "box3", 1.1923, "none"), ("box1", "box4", 1.2500, "none"),
                   ("box1s", "box2s", 1.2250, "mean"), ("box1s", "box2s", 2.4500, "sum")]
NAMES = ("box1", "box2", "box3", "box4", "box1s", "box2s")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("first, second, expected, reduction", GIOU_CASES)
def test_giou_loss(dtype, first, second, expected, reduction):
    """TestGeneralizedBoxIouLoss.test_giou_loss (from fvcore's test_giou_loss.py)."""
    boxes = dict(zip(NAMES, get_boxes(dtype)))
    assert_iou_loss(F.giou, boxes[first], boxes[second], expected, reduction)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("first, second, expected, reduction", DIOU_CIOU_CASES)
def test_ciou_loss(dtype, first, second, expected, reduction):
    """TestCompleteBoxIouLoss.test_ciou_loss."""
    boxes = dict(zip(NAMES, get_boxes(dtype)))
    assert_iou_loss(F.ciou, boxes[first], boxes[second], expected, reduction)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("first, second, expected, reduction", DIOU_CIOU_CASES)
def test_distance_iou_loss(dtype, first, second, expected, reduction):
    """TestDistanceBoxIouLoss.test_distance_iou_loss."""
    boxes = dict(zip(NAMES, get_boxes(dtype)))
    assert_iou_loss(F.diou, boxes[first], boxes[second], expected, reduction)


@pytest.mark.parametrize("fn", [F.giou, F.ciou, F.diou])
@pytest.mark.parametrize("dtype", DTYPES)
def test_invalid_reduction_raises_value_error(fn, dtype):
    """The `reduction="xyz"` assertion of the three loss tests: a ValueError (losskit's
    LossInputError); torchvision's message says "Invalid", losskit's names the choices."""
    *_, box1s, box2s = get_boxes(dtype)
    with pytest.raises(ValueError, match="reduction must be one of"):
        fn(box1s, box2s, reduction="xyz")


@pytest.mark.parametrize("fn", [F.giou, F.ciou, F.diou])
@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_inputs(fn, dtype):
    """test_empty_inputs / test_empty_distance_iou_inputs (assert_empty_loss)."""
    box1 = torch.randn([0, 4], dtype=dtype).requires_grad_()
    box2 = torch.randn([0, 4], dtype=dtype).requires_grad_()
    loss = fn(box1, box2, reduction="mean")
    loss.backward()
    torch.testing.assert_close(loss, torch.tensor(0.0))
    assert box1.grad is not None
    assert box2.grad is not None
    assert fn(box1, box2, reduction="none").numel() == 0


# --- the IoU matrices (TestGeneralizedBoxIou, TestDistanceBoxIoU, TestCompleteBoxIou) -----------

INT_BOXES = [[0, 0, 100, 100], [0, 0, 50, 50], [200, 200, 300, 300], [0, 0, 25, 25]]
INT_BOXES2 = [[0, 0, 100, 100], [0, 0, 50, 50], [200, 200, 300, 300]]
FLOAT_BOXES = [
    [285.3538, 185.5758, 1193.5110, 851.4551],
    [285.1472, 188.7374, 1192.4984, 851.0669],
    [279.2440, 197.9812, 1189.4746, 849.2019],
]
GIOU_INT = [[1.0, 0.25, -0.7778], [0.25, 1.0, -0.8611], [-0.7778, -0.8611, 1.0],
            [0.0625, 0.25, -0.8819]]
DIOU_INT = [[1.0000, 0.1875, -0.4444], [0.1875, 1.0000, -0.5625], [-0.4444, -0.5625, 1.0000],
            [-0.0781, 0.1875, -0.6267]]
FLOAT_EXPECTED = [[1.0, 0.9933, 0.9673], [0.9933, 1.0, 0.9737], [0.9673, 0.9737, 1.0]]


def pairwise_loss(fn, boxes1, boxes2, dtype):
    a = torch.tensor(boxes1, dtype=dtype)
    b = torch.tensor(boxes2, dtype=dtype)
    n, m = a.shape[0], b.shape[0]
    pairs_a = a[:, None, :].expand(n, m, 4)
    pairs_b = b[None, :, :].expand(n, m, 4)
    return fn(pairs_a, pairs_b, reduction="none").float()  # [n, m] via leading dimensions


@pytest.mark.parametrize("dtype", [torch.int16, torch.int32, torch.int64])
@pytest.mark.parametrize("fn, expected", [(F.giou, GIOU_INT), (F.diou, DIOU_INT),
                                          (F.ciou, DIOU_INT)],
                         ids=["generalized", "distance", "complete"])
def test_iou_matrix_integer_boxes(fn, expected, dtype):
    """Test{Generalized,Distance,Complete}BoxIou.test_iou, INT_BOXES x INT_BOXES2 in
    int16 / int32 / int64, atol 1e-4 (integer boxes are computed in float32)."""
    out = pairwise_loss(fn, INT_BOXES, INT_BOXES2, dtype)
    torch.testing.assert_close(1 - out, torch.tensor(expected), rtol=0.0, atol=1e-4)


@pytest.mark.parametrize("dtype, atol", [(torch.float16, 0.002), (torch.float32, 1e-3),
                                         (torch.float64, 1e-3)])
@pytest.mark.parametrize("fn", [F.giou, F.diou, F.ciou],
                         ids=["generalized", "distance", "complete"])
def test_iou_matrix_float_boxes(fn, dtype, atol):
    """Test{Generalized,Distance,Complete}BoxIou.test_iou, FLOAT_BOXES x FLOAT_BOXES."""
    out = pairwise_loss(fn, FLOAT_BOXES, FLOAT_BOXES, dtype)
    torch.testing.assert_close(1 - out, torch.tensor(FLOAT_EXPECTED), rtol=0.0, atol=atol)


# --- TestFocalLoss --------------------------------------------------------------------------


def generate_diverse_input_target_pair(shape=(5, 2), **kwargs):
    """TestFocalLoss._generate_diverse_input_target_pair, transcribed."""
    def logit(p):
        return torch.log(p / (1 - p))

    def generate_tensor_with_range_type(shape, range_type, **kwargs):
        if range_type != "random_binary":
            low, high = {"small": (0.0, 0.2), "big": (0.8, 1.0), "zeros": (0.0, 0.0),
                         "ones": (1.0, 1.0), "random": (0.0, 1.0)}[range_type]
            return torch.testing.make_tensor(shape, low=low, high=high, **kwargs)
        return torch.randint(0, 2, shape, **kwargs)

    inputs, targets = [], []
    for input_range_type, target_range_type in [
        ("small", "zeros"), ("small", "ones"), ("small", "random_binary"),
        ("big", "zeros"), ("big", "ones"), ("big", "random_binary"),
        ("random", "zeros"), ("random", "ones"), ("random", "random_binary"),
    ]:
        inputs.append(logit(generate_tensor_with_range_type(shape, input_range_type, **kwargs)))
        targets.append(generate_tensor_with_range_type(shape, target_range_type, **kwargs))
    return torch.cat(inputs), torch.cat(targets)


def _alpha(alpha: float):
    # torchvision: alpha < 0 means no weighting; losskit spells that alpha=None.
    return None if alpha < 0 else alpha


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("gamma", [0, 2])
@pytest.mark.parametrize("alpha", [-1.0, 0.0, 0.58, 1.0])
def test_correct_ratio(alpha, gamma, seed):
    """TestFocalLoss.test_correct_ratio (float32 on CPU; torchvision skips half on CPU)."""
    torch.random.manual_seed(seed)
    inputs, targets = generate_diverse_input_target_pair(dtype=torch.float32, device="cpu")
    focal_loss = F.sigmoid_focal(inputs, targets, gamma=gamma, alpha=_alpha(alpha),
                                 reduction="none")
    ce_loss = TF.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    assert torch.all(focal_loss <= ce_loss)
    loss_ratio = (focal_loss / ce_loss).squeeze()
    prob = torch.sigmoid(inputs)
    p_t = prob * targets + (1 - prob) * (1 - targets)
    correct_ratio = (1.0 - p_t) ** gamma
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        correct_ratio = correct_ratio * alpha_t
    torch.testing.assert_close(correct_ratio, loss_ratio, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("seed", [2, 3])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_equal_ce_loss(reduction, seed):
    """TestFocalLoss.test_equal_ce_loss: alpha=-1 (None), gamma=0 is BCE, values and grads."""
    torch.random.manual_seed(seed)
    inputs, targets = generate_diverse_input_target_pair(dtype=torch.float32, device="cpu")
    inputs_fl = inputs.clone().requires_grad_()
    inputs_ce = inputs.clone().requires_grad_()
    focal_loss = F.sigmoid_focal(inputs_fl, targets.clone(), gamma=0, alpha=None,
                                 reduction=reduction)
    ce_loss = TF.binary_cross_entropy_with_logits(inputs_ce, targets.clone(),
                                                  reduction=reduction)
    torch.testing.assert_close(focal_loss, ce_loss)
    focal_loss.backward()
    ce_loss.backward()
    torch.testing.assert_close(inputs_fl.grad, inputs_ce.grad)


def test_reduction_mode():
    """TestFocalLoss.test_reduction_mode: reduction="xyz" raises a ValueError."""
    torch.random.manual_seed(0)
    inputs, targets = generate_diverse_input_target_pair(dtype=torch.float32, device="cpu")
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.sigmoid_focal(inputs, targets, alpha=0.25, gamma=2, reduction="xyz")


def test_alpha_minus_one_is_a_documented_convention():
    """torchvision's alpha=-1 is refused (alpha lies in [0, 1] or is None); the card says
    alpha=None is torchvision's alpha=-1."""
    x, y = torch.zeros(3), torch.ones(3)
    with pytest.raises(losskit.LossInputError, match="alpha"):
        F.sigmoid_focal(x, y, alpha=-1.0)
    assert "torchvision's alpha=-1" in losskit.info("sigmoid_focal").pitfalls


@pytest.mark.skip(reason="TestFocalLoss.test_jit scripts sigmoid_focal_loss with "
                         "torch.jit.script; losskit's losses are plain Python for "
                         "torch.compile (checked with fullgraph=True by the common suite) "
                         "and are not TorchScript-compatible")
def test_jit():
    """TestFocalLoss.test_jit: cannot run (TorchScript)."""
