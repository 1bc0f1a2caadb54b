"""Ordinal losses against coral-pytorch, torch's BCE and hand-worked values."""

from __future__ import annotations

import math

import pytest
import torch

import losskit
import losskit.functional as F
from losskit import kernels

coral_losses = pytest.importorskip("coral_pytorch.losses")
coral_dataset = pytest.importorskip("coral_pytorch.dataset")


def _batch(n=40, ranks=6, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(n, ranks - 1, generator=g, dtype=dtype) * 3).requires_grad_(True)
    return logits, torch.randint(0, ranks, (n,), generator=g)


@pytest.mark.parametrize("mode", ["plain", "auto"])
def test_coral_matches_coral_pytorch(mode):
    # Source: coral_pytorch.losses.coral_loss on the levels of the target; "plain" is the
    # definition, "auto" with a batch above the native kernel's threshold its accelerator.
    logits, target = _batch(n=40 if mode == "plain" else 1000)
    levels = coral_dataset.levels_from_labelbatch(target, 6).to(logits.dtype)
    iw = torch.rand(5, dtype=logits.dtype, generator=torch.Generator().manual_seed(1))
    with kernels.use(mode):
        for importance in (None, iw):
            for ours_red, theirs_red in (("mean", "mean"), ("sum", "sum"), ("none", None)):
                ours = F.coral(logits, target, importance_weights=importance,
                               reduction=ours_red)
                theirs = coral_losses.coral_loss(logits, levels, importance_weights=importance,
                                                 reduction=theirs_red)
                torch.testing.assert_close(ours, theirs)
        ours, theirs = F.coral(logits, target), coral_losses.coral_loss(logits, levels)
    torch.testing.assert_close(torch.autograd.grad(ours, logits)[0],
                               torch.autograd.grad(theirs, logits)[0])


def test_corn_matches_coral_pytorch():
    logits, target = _batch(seed=2)
    with kernels.use("plain"):
        ours = F.corn(logits, target)
    theirs = coral_losses.corn_loss(logits, target, 6)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(torch.autograd.grad(ours, logits)[0],
                               torch.autograd.grad(theirs, logits)[0])
    # sum: coral-pytorch's numerator, i.e. its mean times the number of (sample, task) pairs
    pairs = int(torch.clamp(target + 1, max=5).sum())
    torch.testing.assert_close(F.corn(logits, target, reduction="sum"), theirs * pairs)


def test_hand_worked_values():
    # K = 3, logits (2, -2), rank 1: levels (1, 0).
    x, y = torch.tensor([[2.0, -2.0]]), torch.tensor([1])
    sp = math.log1p(math.exp(-2.0))  # -log sigmoid(2) = -log(1 - sigmoid(-2))
    # CORAL: both thresholds right with margin 2 -> 2 * softplus(-2)
    assert F.coral(x, y).item() == pytest.approx(2 * sp, rel=1e-6)
    # CORN: task 0 (all samples, label 1) and task 1 (y >= 1, label 0): mean of two terms
    assert F.corn(x, y).item() == pytest.approx(sp, rel=1e-6)
    # CORN with rank 0: only task 0 applies, label 0 -> softplus(2)
    assert F.corn(x, torch.tensor([0])).item() == pytest.approx(math.log1p(math.exp(2.0)),
                                                                rel=1e-6)


def test_weight_and_none_for_corn():
    logits, target = _batch(n=9, ranks=4, seed=3)
    none = F.corn(logits, target, reduction="none")
    w = torch.rand(9, dtype=logits.dtype)
    tasks = torch.clamp(target + 1, max=3).to(logits.dtype)
    torch.testing.assert_close(F.corn(logits, target, weight=w), (none * w).sum() / tasks.sum())


def test_predict_rank_helpers_match_coral_pytorch():
    logits, _ = _batch(n=200, seed=4)
    logits = logits.detach().float()
    torch.testing.assert_close(F.coral_predict_rank(logits),
                               coral_dataset.proba_to_label(torch.sigmoid(logits)))
    torch.testing.assert_close(F.corn_predict_rank(logits),
                               coral_dataset.corn_label_from_logits(logits))


def test_extreme_logits_stay_finite_and_correct():
    x = torch.tensor([[1e4, -1e4]], requires_grad=True)
    # rank 1: both thresholds right -> 0 loss; rank 0: first threshold wrong by 1e4.
    assert F.coral(x, torch.tensor([1])).item() == 0.0
    assert F.coral(x, torch.tensor([0])).item() == pytest.approx(1e4)
    assert torch.isfinite(torch.autograd.grad(F.corn(x, torch.tensor([2])), x)[0]).all()


def test_bad_inputs_raise():
    x = torch.randn(3, 4)
    with pytest.raises(losskit.LossInputError, match="target"):
        F.coral(x, torch.tensor([0, 1, 5]))  # K = 5 ranks: 0..4
    with pytest.raises(losskit.LossInputError, match="target"):
        F.corn(x, torch.tensor([0, 1]))
    with pytest.raises(losskit.LossInputError, match="importance_weights"):
        F.coral(x, torch.tensor([0, 1, 2]), importance_weights=torch.ones(5))
    with pytest.raises(losskit.LossInputError, match="input"):
        F.corn(torch.randn(3), torch.tensor([0, 1, 2]))


def test_learnable_importance_weights_match_coral_pytorch():
    # Source: coral_pytorch.losses.coral_loss differentiated with respect to its
    # importance_weights (a tensor that requires grad; the native kernel declines it).
    logits, target = _batch(n=2000, seed=5)
    levels = coral_dataset.levels_from_labelbatch(target, 6).to(logits.dtype)
    iw = torch.rand(5, dtype=logits.dtype, generator=torch.Generator().manual_seed(6))
    ours_w, theirs_w = iw.clone().requires_grad_(True), iw.clone().requires_grad_(True)
    ours = F.coral(logits, target, importance_weights=ours_w)
    theirs = coral_losses.coral_loss(logits, levels, importance_weights=theirs_w)
    torch.testing.assert_close(torch.autograd.grad(ours, ours_w)[0],
                               torch.autograd.grad(theirs, theirs_w)[0])


def test_native_coral_double_backward_is_the_definitions():
    # A gradient penalty through the accelerated path: the Hessian-vector product equals the
    # definition's (the kernel differentiates the definition under create_graph).
    logits, target = _batch(n=1500, seed=7, dtype=torch.float64)
    v = torch.randn_like(logits)
    out = {}
    for mode in ("native", "plain"):
        with kernels.use(mode):
            (g,) = torch.autograd.grad(F.coral(logits, target), logits, create_graph=True)
            out[mode] = torch.autograd.grad((g * v).sum(), logits)[0]
    torch.testing.assert_close(out["native"], out["plain"])
    assert out["plain"].abs().sum() > 0
