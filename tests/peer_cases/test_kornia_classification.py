"""kornia's published test cases for its focal losses and divergences, against losskit.

Sources: kornia/kornia, tests/losses/test_focal_loss.py (classes
TestBinaryFocalLossWithLogits, TestFocalLoss) and tests/losses/test_divergence.py
(TestDivergenceLoss). kornia is not installed here: inputs and expected numbers are
transcribed, and where kornia's tests only compare shapes, the values are also compared
with kornia's formulas transcribed from kornia/losses/focal.py and divergence.py
(``_kornia_*`` below, cited line by line).

Conventions asserted as such (documented in the cards of sigmoid_focal, softmax_focal,
kl_div and js_div):
* kornia's focal losses default to reduction="none" and ignore_index=-100 (losskit: "mean",
  and sigmoid_focal ignores nothing unless told);
* kornia's binary pos_weight / weight of shape [C] act on dim 1 of [N, C, *]; losskit's
  broadcast against the input like torch's BCE, so they are passed as [C, 1];
* kornia's multi-class scalar alpha a is alpha=[1 - a, a, ..., a] (class 0 as background),
  its class weight multiplies into alpha, its reduction="none" is per_class=True, and its
  "mean" averages the [N, C, *] tensor (ignored positions included);
* kornia's divergences run over the pixels of [B, N, H, W] heatmaps given as probabilities:
  losskit's distribution axis is dim 1, so heatmaps are flattened and the pixel axis moved
  to dim 1, with input_kind="probabilities".
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as TF

import losskit
from losskit import functional as F

# --- kornia's formulas, transcribed for value comparisons ---------------------------------------


def _kornia_binary_focal(pred, target, alpha=0.25, gamma=2.0, pos_weight=None, weight=None,
                         ignore_index=-100):
    """kornia/losses/focal.py, binary_focal_loss_with_logits, reduction='none'."""
    log_probs_pos = TF.logsigmoid(pred)
    log_probs_neg = TF.logsigmoid(-pred)
    if ignore_index is not None:
        mask = target != ignore_index
        target = target.where(mask, target.new_zeros(1))
        log_probs_neg = log_probs_neg * mask
        log_probs_pos = log_probs_pos * mask
    pos_term = -log_probs_neg.exp().pow(gamma) * target * log_probs_pos
    neg_term = -log_probs_pos.exp().pow(gamma) * (1.0 - target) * log_probs_neg
    if alpha is not None:
        pos_term = alpha * pos_term
        neg_term = (1.0 - alpha) * neg_term
    dims = [-1] + [1] * len(pred.shape[2:])
    if pos_weight is not None:
        pos_term = pos_weight.view(dims) * pos_term
    loss = pos_term + neg_term
    if weight is not None:
        loss = weight.view(dims) * loss
    return loss


def _kornia_focal(pred, target, alpha, gamma=2.0, weight=None, ignore_index=-100):
    """kornia/losses/focal.py, focal_loss, reduction='none' ([N, C, *])."""
    mask = target != ignore_index
    target = target.where(mask, target.new_zeros(1))
    one_hot = TF.one_hot(target, pred.shape[1]).movedim(-1, 1).to(pred.dtype)
    one_hot = one_hot * mask.unsqueeze(1)
    log_pred_soft = pred.log_softmax(1)
    loss = -torch.pow(1.0 - log_pred_soft.exp(), gamma) * log_pred_soft * one_hot
    dims = [-1] + [1] * len(pred.shape[2:])
    if alpha is not None:
        alpha_fac = torch.tensor([1 - alpha] + [alpha] * (pred.shape[1] - 1), dtype=loss.dtype)
        loss = alpha_fac.view(dims) * loss
    if weight is not None:
        loss = weight.view(dims) * loss
    return loss


def _alpha_vector(alpha, classes, weight=None):
    """kornia's scalar alpha (and class weight) as losskit's per-class alpha."""
    if alpha is None and weight is None:
        return None
    a = torch.ones(classes, dtype=torch.float64) if alpha is None else torch.tensor(
        [1 - alpha] + [alpha] * (classes - 1), dtype=torch.float64)
    return a if weight is None else a * weight.to(torch.float64)


def _reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


# --- TestBinaryFocalLossWithLogits -------------------------------------------------------------


@pytest.mark.parametrize("ignore_index", [-100, None])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_binary_value_same_as_torch_bce_loss(reduction, ignore_index):
    """test_value_same_as_torch_bce_loss."""
    logits = torch.rand(2, 3, 2)
    labels = torch.rand(2, 3, 2)
    focal_equivalent_bce_loss = F.sigmoid_focal(logits, labels, alpha=None, gamma=0,
                                                reduction=reduction, ignore_index=ignore_index)
    torch_bce_loss = TF.binary_cross_entropy_with_logits(logits, labels, reduction=reduction)
    torch.testing.assert_close(focal_equivalent_bce_loss, torch_bce_loss)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_binary_value_same_as_torch_bce_loss_pos_weight_weight(reduction):
    """test_value_same_as_torch_bce_loss_pos_weight_weight (pos_weight, weight: [C, 1])."""
    num_classes = 3
    logits = torch.rand(2, num_classes, 2)
    labels = torch.rand(2, num_classes, 2)
    pos_weight = torch.rand(num_classes, 1)
    weight = torch.rand(num_classes, 1)
    focal_equivalent_bce_loss = F.sigmoid_focal(logits, labels, alpha=None, gamma=0,
                                                reduction=reduction, pos_weight=pos_weight,
                                                weight=weight)
    torch_bce_loss = TF.binary_cross_entropy_with_logits(
        logits, labels, reduction=reduction, pos_weight=pos_weight, weight=weight)
    torch.testing.assert_close(focal_equivalent_bce_loss, torch_bce_loss)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("alpha", [None, 0.2, 0.5])
@pytest.mark.parametrize("reduction, expected_shape", [("none", (2, 3, 2)), ("mean", ()),
                                                       ("sum", ())])
def test_binary_shape_alpha_gamma(reduction, expected_shape, alpha, gamma):
    """test_shape_alpha_gamma (values also against kornia's formula, hard labels)."""
    logits = torch.rand(2, 3, 2, dtype=torch.float64)
    labels = (torch.rand(2, 3, 2) > 0.5).to(torch.float64)
    out = F.sigmoid_focal(logits, labels, alpha=alpha, gamma=gamma, reduction=reduction)
    assert out.shape == expected_shape
    theirs = _reduce(_kornia_binary_focal(logits, labels, alpha, gamma), reduction)
    torch.testing.assert_close(out, theirs)


@pytest.mark.parametrize("weight", [None, (0.2, 0.5, 0.8)])
@pytest.mark.parametrize("pos_weight", [None, (1, 2, 5)])
@pytest.mark.parametrize("reduction, expected_shape", [("none", (2, 3, 2)), ("mean", ()),
                                                       ("sum", ())])
def test_binary_shape_pos_weight_weight(reduction, expected_shape, pos_weight, weight):
    """test_shape_pos_weight_weight: kornia's [C] vectors act on dim 1; losskit takes them as
    [C, 1] (broadcast against the input, torch's convention). Values against kornia's
    formula with hard labels."""
    logits = torch.rand(2, 3, 2, dtype=torch.float64)
    labels = (torch.rand(2, 3, 2) > 0.5).to(torch.float64)
    pw = None if pos_weight is None else torch.tensor(pos_weight, dtype=torch.float64)
    w = None if weight is None else torch.tensor(weight, dtype=torch.float64)
    out = F.sigmoid_focal(logits, labels, alpha=0.8, gamma=0.5, reduction=reduction,
                          pos_weight=None if pw is None else pw.view(3, 1),
                          weight=None if w is None else w.view(3, 1))
    assert out.shape == expected_shape
    theirs = _reduce(_kornia_binary_focal(logits, labels, 0.8, 0.5, pw, w), reduction)
    torch.testing.assert_close(out, theirs)
    if pw is not None:  # the [C] vector itself broadcasts against the last dimension
        with pytest.raises(losskit.LossInputError, match="pos_weight"):
            F.sigmoid_focal(logits, labels, pos_weight=pw)


@pytest.mark.parametrize("ignore_index", [-100, 255])
@pytest.mark.parametrize("reduction, expected_shape", [("none", (2, 3, 2)), ("mean", ()),
                                                       ("sum", ())])
def test_binary_shape_ignore_index(reduction, expected_shape, ignore_index):
    """test_shape_ignore_index, with kornia's values for hard labels (0 where ignored);
    kornia's "mean" divides by every element, losskit's by the counted ones (documented)."""
    logits = torch.rand(2, 3, 2, dtype=torch.float64)
    labels = (torch.rand(2, 3, 2) > 0.5).to(torch.float64)
    ignore = torch.rand(2, 3, 2) > 0.6
    labels[ignore] = ignore_index
    out = F.sigmoid_focal(logits, labels, alpha=0.8, gamma=0.5, reduction=reduction,
                          ignore_index=ignore_index)
    assert out.shape == expected_shape
    per_element = _kornia_binary_focal(logits, labels, 0.8, 0.5, ignore_index=ignore_index)
    if reduction == "mean":
        counted = int((~ignore).sum())
        torch.testing.assert_close(out * counted, per_element.mean() * per_element.numel())
    else:
        torch.testing.assert_close(out, _reduce(per_element, reduction))


def test_binary_dynamo():
    """test_dynamo: a compiled call equals the eager one (args alpha=0.25, gamma=2.0)."""
    logits = torch.rand(2, 3, 2)
    labels = torch.rand(2, 3, 2)
    compiled = torch.compile(F.sigmoid_focal, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(logits, labels, alpha=0.25, gamma=2.0,
                                        reduction="none"),
                               F.sigmoid_focal(logits, labels, alpha=0.25, gamma=2.0,
                                               reduction="none"))


def test_binary_gradcheck():
    """test_gradcheck."""
    logits = torch.rand(2, 3, 2, dtype=torch.float64, requires_grad=True)
    labels = torch.rand(2, 3, 2, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda x: F.sigmoid_focal(x, labels, alpha=0.25, gamma=2.0, reduction="none"),
        (logits,))


def test_binary_gradcheck_ignore_index():
    """test_gradcheck_ignore_index: kornia ignores -100 by default; losskit is told."""
    logits = torch.rand(2, 3, 2, dtype=torch.float64, requires_grad=True)
    labels = torch.rand(2, 3, 2, dtype=torch.float64)
    ignore = torch.rand(2, 3, 2) > 0.8
    labels[ignore] = -100
    assert torch.autograd.gradcheck(
        lambda x: F.sigmoid_focal(x, labels, alpha=0.25, gamma=2.0, ignore_index=-100,
                                  reduction="none"), (logits,))
    if ignore.any():
        with pytest.raises(losskit.LossInputError, match="target"):
            F.sigmoid_focal(logits, labels, alpha=0.25, gamma=2.0)


def test_binary_module():
    """test_module: the module equals the function."""
    logits = torch.rand(2, 3, 2)
    labels = torch.rand(2, 3, 2)
    module = losskit.get("sigmoid_focal", alpha=0.25, gamma=2.0)
    torch.testing.assert_close(module(logits, labels),
                               F.sigmoid_focal(logits, labels, alpha=0.25, gamma=2.0))


def test_binary_numeric_stability():
    """test_numeric_stability: logits of +-100 on their labels give 0."""
    logits = torch.tensor([[100.0, -100]])
    labels = torch.tensor([[1.0, 0.0]])
    actual = F.sigmoid_focal(logits, labels, alpha=0.25, gamma=2.0, reduction="none")
    torch.testing.assert_close(actual, torch.tensor([[0.0, 0.0]]))


# --- TestFocalLoss -----------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("alpha", [None, 0.2, 0.5])
@pytest.mark.parametrize("reduction, expected_shape", [("none", (2, 3, 3, 2)), ("mean", ()),
                                                       ("sum", ())])
def test_shape_alpha_gamma(reduction, expected_shape, alpha, gamma):
    """test_shape_alpha_gamma, with kornia's values (scalar alpha as [1 - a, a, a];
    reduction="none" is per_class=True; kornia's "mean" is over N * C * positions)."""
    num_classes = 3
    logits = torch.rand(2, num_classes, 3, 2, dtype=torch.float64)
    labels = torch.randint(num_classes, (2, 3, 2))
    out = F.softmax_focal(logits, labels, alpha=_alpha_vector(alpha, num_classes), gamma=gamma,
                          per_class=True, reduction=reduction)
    assert out.shape == expected_shape
    theirs = _kornia_focal(logits, labels, alpha, gamma)
    if reduction == "mean":
        torch.testing.assert_close(out / num_classes, theirs.mean())
    else:
        torch.testing.assert_close(out, _reduce(theirs, reduction))


@pytest.mark.parametrize("reduction, expected_shape", [("none", (2, 3)), ("mean", ()),
                                                       ("sum", ())])
def test_shape_target_with_only_one_dim(reduction, expected_shape):
    """test_shape_target_with_only_one_dim (alpha=0.1, gamma=1.5)."""
    num_classes = 3
    logits = torch.rand(2, num_classes, dtype=torch.float64)
    labels = torch.randint(num_classes, (2,))
    out = F.softmax_focal(logits, labels, alpha=_alpha_vector(0.1, num_classes), gamma=1.5,
                          per_class=True, reduction=reduction)
    assert out.shape == expected_shape
    theirs = _kornia_focal(logits, labels, 0.1, 1.5)
    if reduction == "none":
        torch.testing.assert_close(out, theirs)


@pytest.mark.parametrize("weight", [None, (0.2, 0.5, 0.8)])
@pytest.mark.parametrize("reduction, expected_shape", [("none", (2, 3, 3, 2)), ("mean", ()),
                                                       ("sum", ())])
def test_shape_weight(reduction, expected_shape, weight):
    """test_shape_weight (alpha=0.8, gamma=0.5): kornia's class weight multiplies into alpha."""
    num_classes = 3
    logits = torch.rand(2, num_classes, 3, 2, dtype=torch.float64)
    labels = torch.randint(num_classes, (2, 3, 2))
    w = None if weight is None else torch.tensor(weight, dtype=torch.float64)
    out = F.softmax_focal(logits, labels, alpha=_alpha_vector(0.8, num_classes, w), gamma=0.5,
                          per_class=True, reduction=reduction)
    assert out.shape == expected_shape
    theirs = _kornia_focal(logits, labels, 0.8, 0.5, weight=w)
    if reduction != "mean":
        torch.testing.assert_close(out, _reduce(theirs, reduction))


@pytest.mark.parametrize("ignore_index", [-100, 255])
@pytest.mark.parametrize("reduction, expected_shape", [("none", (2, 3, 3, 2)), ("mean", ()),
                                                       ("sum", ())])
def test_shape_ignore_index(reduction, expected_shape, ignore_index):
    """test_shape_ignore_index (alpha=0.8, gamma=0.5)."""
    num_classes = 3
    logits = torch.rand(2, num_classes, 3, 2, dtype=torch.float64)
    labels = torch.randint(num_classes, (2, 3, 2))
    ignore = torch.rand(2, 3, 2) > 0.6
    labels[ignore] = ignore_index
    out = F.softmax_focal(logits, labels, alpha=_alpha_vector(0.8, num_classes), gamma=0.5,
                          per_class=True, reduction=reduction, ignore_index=ignore_index)
    assert out.shape == expected_shape
    theirs = _kornia_focal(logits, labels, 0.8, 0.5, ignore_index=ignore_index)
    if reduction != "mean":
        torch.testing.assert_close(out, _reduce(theirs, reduction))


@pytest.mark.parametrize("ignore_index", [-100, 255])
def test_value_ignore_index(ignore_index):
    """test_value_ignore_index: ignoring equals an extra class of logit -inf, sliced off."""
    num_classes = 3
    logits = torch.rand(2, num_classes, 3, 2)
    labels = torch.randint(num_classes, (2, 3, 2))
    ignore = torch.rand(2, 3, 2) > 0.6
    labels[ignore] = ignore_index
    labels_extra_class = labels.clone()
    labels_extra_class[ignore] = num_classes
    logits_extra_class = torch.cat([logits, logits.new_full((2, 1, 3, 2), float("-inf"))],
                                   dim=1)
    expected_values = F.softmax_focal(
        logits_extra_class, labels_extra_class, alpha=_alpha_vector(0.8, num_classes + 1),
        gamma=0.5, per_class=True, reduction="none")[:, :-1, ...]
    actual_values = F.softmax_focal(logits, labels, alpha=_alpha_vector(0.8, num_classes),
                                    gamma=0.5, per_class=True, reduction="none",
                                    ignore_index=ignore_index)
    torch.testing.assert_close(actual_values, expected_values.to(actual_values.dtype))


def test_dynamo():
    """test_dynamo (alpha=0.25, gamma=2.0)."""
    logits = torch.rand(2, 3)
    labels = torch.randint(3, (2,))
    alpha = _alpha_vector(0.25, 3).float()
    compiled = torch.compile(F.softmax_focal, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(logits, labels, alpha=alpha, gamma=2.0),
                               F.softmax_focal(logits, labels, alpha=alpha, gamma=2.0))


def test_gradcheck():
    """test_gradcheck (ignored labels -100, alpha=0.25, gamma=2.0)."""
    logits = torch.rand(2, 3, 3, 2, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(3, (2, 3, 2))
    labels[torch.rand(2, 3, 2) > 0.8] = -100
    alpha = _alpha_vector(0.25, 3)
    assert torch.autograd.gradcheck(
        lambda x: F.softmax_focal(x, labels, alpha=alpha, gamma=2.0, per_class=True,
                                  reduction="none"), (logits,))


def test_module():
    """test_module: the module equals the function."""
    logits = torch.rand(2, 3)
    labels = torch.randint(3, (2,))
    alpha = _alpha_vector(0.25, 3).float()
    module = losskit.get("softmax_focal", alpha=alpha, gamma=2.0)
    torch.testing.assert_close(module(logits, labels),
                               F.softmax_focal(logits, labels, alpha=alpha, gamma=2.0))


def test_kornia_conventions_are_in_the_cards():
    assert "kornia's pos_weight" in losskit.info("sigmoid_focal").pitfalls
    text = losskit.info("softmax_focal").pitfalls
    assert "alpha=[1 - a, a, ..., a]" in text and "per_class=True" in text
    assert "input_kind='probabilities'" in losskit.info("kl_div").pitfalls
    assert "input_kind='probabilities'" in losskit.info("js_div").pitfalls


# --- TestDivergenceLoss ------------------------------------------------------------------------


def _pixels(t):
    """[B, N, H, W] heatmaps -> [B, H*W, N]: losskit's distribution axis is dim 1."""
    return t.flatten(2).transpose(1, 2)


def kornia_js(pred, target, reduction="mean"):
    return F.js_div(_pixels(pred), _pixels(target), input_kind="probabilities",
                    reduction=reduction)


def kornia_kl(pred, target, reduction="mean"):
    return F.kl_div(_pixels(pred), _pixels(target), input_kind="probabilities",
                    reduction=reduction)


CASES_JS = [
    (torch.full((1, 1, 2, 4), 0.125), torch.full((1, 1, 2, 4), 0.125), 0.0),
    (torch.full((1, 7, 2, 4), 0.125), torch.full((1, 7, 2, 4), 0.125), 0.0),
    (torch.full((1, 7, 2, 4), 0.125), torch.zeros((1, 7, 2, 4)), 0.346574),
    (torch.zeros((1, 7, 2, 4)), torch.full((1, 7, 2, 4), 0.125), 0.346574),
]
CASES_KL = [
    (torch.full((1, 1, 2, 4), 0.125), torch.full((1, 1, 2, 4), 0.125), 0.0),
    (torch.full((1, 7, 2, 4), 0.125), torch.full((1, 7, 2, 4), 0.125), 0.0),
    (torch.full((1, 7, 2, 4), 0.125), torch.zeros((1, 7, 2, 4)), 0.0),
    (torch.zeros((1, 7, 2, 4)), torch.full((1, 7, 2, 4), 0.125), math.inf),
]
CASES_JS_NONCONTIGUOUS = [
    *CASES_JS[:2],
    (torch.full((1, 7, 2, 4), 0.125), torch.zeros((1, 7, 2, 4)), 0.303251),
    (torch.zeros((1, 7, 2, 4)), torch.full((1, 7, 2, 4), 0.125), 0.303251),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("pred, target, expected", CASES_JS)
def test_js_div_loss_2d(pred, target, expected, dtype):
    """test_js_div_loss_2d."""
    actual = kornia_js(pred.to(dtype), target.to(dtype))
    # the expected numbers are printed to 6 decimals
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=dtype), rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("pred, target, expected", CASES_KL)
def test_kl_div_loss_2d(pred, target, expected, dtype):
    """test_kl_div_loss_2d."""
    actual = kornia_kl(pred.to(dtype), target.to(dtype))
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=dtype))


@pytest.mark.parametrize("pred, target, expected", [
    (c[0], c[1], torch.full(c[0].shape[:2], c[2])) for c in CASES_KL])
def test_kl_div_loss_2d_without_reduction(pred, target, expected):
    """test_kl_div_loss_2d_without_reduction: one divergence per (batch, channel) [B, N]."""
    actual = kornia_kl(pred, target, reduction="none")
    torch.testing.assert_close(actual, expected)


@pytest.mark.parametrize("pred, target, expected", CASES_KL)
def test_noncontiguous_kl(pred, target, expected):
    """test_noncontiguous_kl."""
    pred = pred.view(pred.shape[::-1]).transpose(-2, -1)
    target = target.view(target.shape[::-1]).transpose(-2, -1)
    torch.testing.assert_close(kornia_kl(pred, target), torch.tensor(expected))


@pytest.mark.parametrize("pred, target, expected", CASES_JS_NONCONTIGUOUS)
def test_noncontiguous_js(pred, target, expected):
    """test_noncontiguous_js (distributions of 7 pixels of 0.125: masses of 0.875)."""
    pred = pred.view(pred.shape[::-1]).transpose(-2, -1)
    target = target.view(target.shape[::-1]).transpose(-2, -1)
    torch.testing.assert_close(kornia_js(pred, target), torch.tensor(expected), rtol=0,
                               atol=1e-6)


@pytest.mark.parametrize("fn", [kornia_kl, kornia_js], ids=["kl", "js"])
def test_divergence_gradcheck(fn):
    """test_gradcheck_kl / test_gradcheck_js."""
    pred = torch.rand(1, 1, 10, 16, dtype=torch.float64, requires_grad=True)
    target = torch.rand(1, 1, 10, 16, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda p: fn(p, target), (pred,))


@pytest.mark.parametrize("fn", [kornia_kl, kornia_js], ids=["kl", "js"])
def test_divergence_dynamo(fn):
    """test_dynamo_kl / test_dynamo_js."""
    pred = torch.full((1, 1, 2, 4), 0.125)
    target = torch.full((1, 1, 2, 4), 0.125)
    compiled = torch.compile(fn, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(fn(pred, target), compiled(pred, target), rtol=0, atol=1e-5)
