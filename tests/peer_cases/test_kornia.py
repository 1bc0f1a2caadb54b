"""kornia's own tests of ``dice_loss`` and ``tversky_loss``, run against losskit's dice and
tversky.

Source: kornia/kornia at commit b4f5a78a13891c7ac4c1cd9695941380273e981d,
``tests/losses/test_dice.py`` (class ``TestDiceLoss``) and ``tests/losses/test_tversky.py``
(class ``TestTverskyLoss``); each test below names the kornia test it transcribes. Inputs
and expected values (numbers, or kornia's own closed-form expressions) are kornia's,
computed in float32 at kornia's tolerance (rtol = atol = 1e-3).

Mapping: kornia's ``dice_loss`` is losskit's ``dice(..., average=...)`` (kornia's default is
``average="micro"``, losskit's ``"macro"``) and its ``tversky_loss`` is
``tversky(..., average="micro")``; kornia's ``eps`` (denominator only) is
``smooth_nr=0, smooth_dr=eps``; ``weight`` is ``class_weight``. Where kornia's test builds
labels with a batch of 2 against logits with a batch of 1 (relying on broadcasting), the
labels' two identical rows are one row here: the mean over two equal copies is one copy.

Counts (``test_counts``): 28 cases, 27 agree, 1 documented difference (micro averaging
with non-binary class weights: kornia squares them in the intersection, see the dice card),
0 cannot run. kornia's ``test_exception`` cases check kornia's own argument errors (4-D
input only, same device) and are not transcribed: losskit takes any ``[N, C, *spatial]``.
"""

from __future__ import annotations

import math

import pytest
import torch

import losskit
import losskit.functional as LF

TOL = {"rtol": 1e-3, "atol": 1e-3}
EPS = 1e-8
DTYPE = torch.float32
RESULTS: list[str] = []


def _dice(logits, labels, average="micro", eps=EPS, weight=None, ignore_index=-100):
    """kornia.losses.dice_loss(pred, target, average, eps, weight, ignore_index) in losskit."""
    return LF.dice(logits, labels, average=average, smooth_nr=0.0, smooth_dr=eps,
                   class_weight=weight, ignore_index=ignore_index)


def _tversky(logits, labels, alpha, beta, eps=EPS, ignore_index=-100):
    """kornia.losses.tversky_loss(pred, target, alpha, beta, eps, ignore_index) in losskit."""
    return LF.tversky(logits, labels, alpha=alpha, beta=beta, average="micro", smooth_nr=0.0,
                      smooth_dr=eps, ignore_index=ignore_index)


def _agree(actual, expected):
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=actual.dtype), **TOL)
    RESULTS.append("agree")


# --- TestDiceLoss ------------------------------------------------------------------------------


def test_dice_smoke():
    # TestDiceLoss.test_smoke: random logits [2, 3, 3, 2] and labels; a value comes out.
    g = torch.Generator().manual_seed(0)
    logits = torch.rand(2, 3, 3, 2, generator=g, dtype=DTYPE)
    labels = (torch.rand(2, 3, 2, generator=g) * 3).long()
    assert torch.isfinite(_dice(logits, labels))
    RESULTS.append("agree")


@pytest.mark.parametrize("ignore_index", [-100, None])
def test_dice_all_zeros(ignore_index):
    # TestDiceLoss.test_all_zeros: class 0 wins everywhere and every label is 0 -> about 0.
    logits = torch.zeros(2, 3, 1, 2, dtype=DTYPE)
    logits[:, 0] = 10.0
    logits[:, 1] = 1.0
    logits[:, 2] = 1.0
    labels = torch.zeros(2, 1, 2, dtype=torch.int64)
    _agree(_dice(logits, labels, ignore_index=ignore_index), 0.0)


def test_dice_averaging_micro():
    # TestDiceLoss.test_averaging_micro (kornia's closed form).
    logits = torch.zeros(1, 2, 4, 1, dtype=DTYPE)
    logits[:, 0, 0:3] = 10.0
    logits[:, 0, 3:4] = 1.0
    logits[:, 1, 0:3] = 1.0
    logits[:, 1, 3:4] = 10.0
    labels = torch.zeros(1, 4, 1, dtype=torch.int64)  # kornia: two identical rows
    e1, e10 = math.exp(1.0), math.exp(10.0)
    intersection = (3.0 * e10 + 1.0 * e1) / (e1 + e10)
    cardinality = 8.0  # for micro averaging cardinality is equal 2 * H * W
    _agree(_dice(logits, labels, average="micro"), 1.0 - 2.0 * intersection / (cardinality + EPS))


def test_dice_averaging_macro():
    # TestDiceLoss.test_averaging_macro (kornia's closed form).
    logits = torch.zeros(1, 2, 1, 4, dtype=DTYPE)
    logits[:, 0, :, 0:3] = 10.0
    logits[:, 0, :, 3:4] = 1.0
    logits[:, 1, :, 0:3] = 1.0
    logits[:, 1, :, 3:4] = 10.0
    labels = torch.zeros(1, 1, 4, dtype=torch.int64)  # kornia: two identical rows
    e1, e10 = math.exp(1.0), math.exp(10.0)
    i1 = (3.0 * e10 + e1) / (e1 + e10)
    c1 = 4.0 + (3.0 * e10 + 1.0 * e1) / (e1 + e10)
    c2 = 0.0 + (1.0 * e10 + 3.0 * e1) / (e1 + e10)
    expected = ((1.0 - 2.0 * i1 / (c1 + EPS)) + (1.0 - 0.0 / (c2 + EPS))) / 2.0
    _agree(_dice(logits, labels, average="macro"), expected)


def _weight_case():
    logits = torch.zeros(4, 3, 1, 4, dtype=DTYPE)
    logits[:, 0, :, 0] = 100.0
    logits[:, 2, :, 1:] = 100.0
    labels = torch.tensor([0, 1, 2, 2], dtype=torch.int64).expand((4, 1, -1))
    return logits, labels


@pytest.mark.parametrize("avg", ["micro", "macro"])
def test_dice_weight(avg):
    # TestDiceLoss.test_weight: class 0 all correct, class 1 all wrong, class 2 partly
    # correct, an extra class of weight 0 changes nothing.
    logits, labels = _weight_case()
    w = lambda *v: torch.tensor(v, dtype=DTYPE)  # noqa: E731
    _agree(_dice(logits, labels, avg, weight=w(1.0, 0.0, 0.0)), 0.0)
    _agree(_dice(logits, labels, avg, weight=w(0.0, 1.0, 0.0)), 1.0)
    _agree(_dice(logits, labels, avg, weight=w(0.0, 0.0, 1.0)), 1.0 / 5.0)
    padded = torch.cat([logits, logits.new_zeros((4, 1, 1, 4))], dim=1)
    _agree(_dice(padded, labels, avg, weight=w(1.0, 1.0, 1.0, 0.0)), _dice(logits, labels, avg))


def test_dice_weight_non_binary_macro():
    # TestDiceLoss.test_weight, "test non binary weights", average="macro": 0.7.
    logits, labels = _weight_case()
    _agree(_dice(logits, labels, "macro", weight=torch.tensor([0.3, 0.7, 0.0])), 0.7)


def test_dice_weight_non_binary_micro_is_a_documented_difference():
    # TestDiceLoss.test_weight, "test non binary weights", average="micro". kornia multiplies
    # the probabilities and the one-hot target by w before the product, so its intersection
    # carries w^2: its expected value is 1 - 2 (w0 tp0 + w1 tp1)^2 / (...) with its own
    # counts. losskit weighs each class's sums by w once (like generalized Dice).
    logits, labels = _weight_case()
    w0, w1 = 0.3, 0.7
    preds = logits.argmax(1)
    tp0 = ((preds == 0) & (labels == 0)).sum((1, 2)).double()
    tp1 = ((preds == 1) & (labels == 1)).sum((1, 2)).double()
    fnfp0 = ((preds == 0) ^ (labels == 0)).sum((1, 2)).double()
    fnfp1 = ((preds == 1) ^ (labels == 1)).sum((1, 2)).double()
    kornia = (1 - 2 * (w0 * tp0 + w1 * tp1) ** 2
              / (w0 * (2 * tp0 + fnfp0) + w1 * (2 * tp1 + fnfp1) + EPS)).mean()
    ours = _dice(logits, labels, "micro", weight=torch.tensor([w0, w1, 0.0]))
    # losskit's convention, by hand: the same counts with w applied once.
    linear = (1 - 2 * (w0 * tp0 + w1 * tp1)
              / (w0 * (2 * tp0 + fnfp0) + w1 * (2 * tp1 + fnfp1) + EPS)).mean()
    torch.testing.assert_close(ours.double(), linear, **TOL)
    assert abs(float(ours) - float(kornia)) > 0.1
    assert "its intersection carries w^2" in losskit.info("dice").pitfalls
    RESULTS.append("documented")


@pytest.mark.parametrize("ignore_index", [-100, 255])
def test_dice_ignore_index(ignore_index):
    # TestDiceLoss.test_ignore_index: half the pixels ignored -> 1/2.
    logits = torch.zeros(2, 2, 1, 4, dtype=DTYPE)
    logits[:, 0, :, 0] = 100.0
    logits[:, 1, :, 1:] = 100.0
    labels = torch.zeros(2, 1, 4, dtype=torch.int64)
    labels[..., 2:] = ignore_index
    _agree(_dice(logits, labels, "micro", ignore_index=ignore_index), 0.5)


def test_dice_gradcheck():
    # TestDiceLoss.test_gradcheck: gradcheck in float64 with about 20% of labels ignored.
    g = torch.Generator().manual_seed(1)
    logits = torch.rand(2, 3, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 3, (2, 3, 2), generator=g)
    labels[torch.rand(2, 3, 2, generator=g) > 0.8] = -100
    assert torch.autograd.gradcheck(lambda x: _dice(x, labels), (logits,))
    RESULTS.append("agree")


def test_dice_dynamo():
    # TestDiceLoss.test_dynamo: the compiled loss equals the eager one.
    g = torch.Generator().manual_seed(2)
    logits = torch.rand(2, 3, 1, 2, generator=g, dtype=DTYPE)
    labels = (torch.rand(2, 1, 2, generator=g) * 3).long()
    compiled = torch.compile(_dice, backend="aot_eager", fullgraph=True)
    _agree(compiled(logits, labels), _dice(logits, labels))


def test_dice_module():
    # TestDiceLoss.test_module: the module form equals the function.
    g = torch.Generator().manual_seed(3)
    logits = torch.rand(2, 3, 1, 2, generator=g, dtype=DTYPE)
    labels = (torch.rand(2, 1, 2, generator=g) * 3).long()
    module = losskit.get("dice", average="micro", smooth_nr=0.0, smooth_dr=EPS)
    _agree(module(logits, labels), _dice(logits, labels))


# --- TestTverskyLoss ---------------------------------------------------------------------------


def test_tversky_smoke():
    # TestTverskyLoss.test_smoke.
    g = torch.Generator().manual_seed(4)
    logits = torch.rand(2, 3, 3, 2, generator=g, dtype=DTYPE)
    labels = (torch.rand(2, 3, 2, generator=g) * 3).long()
    assert torch.isfinite(_tversky(logits, labels, 0.5, 0.5))
    RESULTS.append("agree")


@pytest.mark.parametrize("ignore_index", [-100, None])
def test_tversky_all_zeros(ignore_index):
    # TestTverskyLoss.test_all_zeros.
    logits = torch.zeros(2, 3, 1, 2, dtype=DTYPE)
    logits[:, 0] = 10.0
    logits[:, 1] = 1.0
    logits[:, 2] = 1.0
    labels = torch.zeros(2, 1, 2, dtype=torch.int64)
    _agree(_tversky(logits, labels, 0.5, 0.5, ignore_index=ignore_index), 0.0)


@pytest.mark.parametrize("ignore_index", [-100, 255])
def test_tversky_ignore_index(ignore_index):
    # TestTverskyLoss.test_ignore_index: -> 1/2.
    logits = torch.zeros(2, 2, 1, 4, dtype=DTYPE)
    logits[:, 0, :, 0] = 100.0
    logits[:, 1, :, 1:] = 100.0
    labels = torch.zeros(2, 1, 4, dtype=torch.int64)
    labels[..., 2:] = ignore_index
    _agree(_tversky(logits, labels, 0.5, 0.5, ignore_index=ignore_index), 0.5)


def test_tversky_gradcheck():
    # TestTverskyLoss.test_gradcheck (alpha = beta = 0.5, about 20% of labels ignored).
    g = torch.Generator().manual_seed(5)
    logits = torch.rand(2, 3, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 3, (2, 3, 2), generator=g)
    labels[torch.rand(2, 3, 2, generator=g) > 0.8] = -100
    assert torch.autograd.gradcheck(lambda x: _tversky(x, labels, 0.5, 0.5), (logits,))
    RESULTS.append("agree")


def test_tversky_dynamo():
    # TestTverskyLoss.test_dynamo: params (0.5, 0.05).
    g = torch.Generator().manual_seed(6)
    logits = torch.rand(2, 3, 3, 2, generator=g, dtype=DTYPE)
    labels = (torch.rand(2, 3, 2, generator=g) * 3).long()
    compiled = torch.compile(_tversky, backend="aot_eager", fullgraph=True)
    _agree(compiled(logits, labels, 0.5, 0.05), _tversky(logits, labels, 0.5, 0.05))


def test_tversky_module():
    # TestTverskyLoss.test_module.
    g = torch.Generator().manual_seed(7)
    logits = torch.rand(2, 3, 1, 2, generator=g, dtype=DTYPE)
    labels = (torch.rand(2, 1, 2, generator=g) * 3).long()
    module = losskit.get("tversky", alpha=0.5, beta=0.5, average="micro", smooth_nr=0.0,
                         smooth_dr=EPS)
    _agree(module(logits, labels), _tversky(logits, labels, 0.5, 0.5))


def test_counts():
    # Runs last in this module (pytest keeps file order); a partial run (-k) cannot count.
    if len(RESULTS) < 28:
        pytest.skip("counts need the whole module")
    assert (len(RESULTS), RESULTS.count("agree"), RESULTS.count("documented")) == (28, 27, 1)
