"""Ranking losses and surrogates: torch's margin_ranking_loss, brute-force pair loops,
scikit-learn's roc_auc_score and f1_score, and hand-worked values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import losskit
from losskit.functional import margin_ranking, pairwise_logistic, soft_f1

sklearn_metrics = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_margin_ranking_equals_torch(reduction, margin):
    # Source: torch.nn.functional.margin_ranking_loss.
    g = torch.Generator().manual_seed(0)
    x1 = torch.randn(9, 2, generator=g, dtype=torch.float64, requires_grad=True)
    x2 = torch.randn(9, 2, generator=g, dtype=torch.float64)
    y = torch.where(torch.rand(9, 2, generator=g) > 0.5, 1.0, -1.0).double()
    ours = margin_ranking(x1, x2, y, margin=margin, reduction=reduction)
    theirs = F.margin_ranking_loss(x1, x2, y, margin=margin, reduction=reduction)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(torch.autograd.grad(ours.sum(), x1)[0],
                               torch.autograd.grad(theirs.sum(), x1)[0])


def test_margin_ranking_empty_is_zero_and_bad_target_raises():
    x = torch.zeros(0, requires_grad=True)
    out = margin_ranking(x, torch.zeros(0), torch.zeros(0))
    assert out.item() == 0.0  # torch gives NaN here
    with pytest.raises(losskit.LossInputError, match="target"):
        margin_ranking(torch.zeros(2), torch.zeros(2), torch.tensor([2.0, 1.0]))


def test_pairwise_logistic_hand_worked_and_brute_force():
    # By hand: positives {3, 0}, negative {1}: softplus(1 - 3) and softplus(1 - 0), averaged.
    s = torch.tensor([3.0, 1.0, 0.0], dtype=torch.float64)
    y = torch.tensor([1, 0, 1])
    expected = (math.log1p(math.exp(-2)) + math.log1p(math.exp(1))) / 2
    assert pairwise_logistic(s, y).item() == pytest.approx(expected, abs=1e-12)
    # Brute force: a double loop over all (i, j) with y_i = 1, y_j = 0.
    g = torch.Generator().manual_seed(1)
    s = torch.randn(30, generator=g, dtype=torch.float64)
    y = (torch.rand(30, generator=g) > 0.7).long()
    pairs = [math.log1p(math.exp(float(s[j] - s[i])))
             for i in range(30) for j in range(30) if y[i] == 1 and y[j] == 0]
    assert pairwise_logistic(s, y).item() == pytest.approx(sum(pairs) / len(pairs), abs=1e-12)
    # "none": the [N, N] pair matrix, a (positive, negative) pair's loss or 0
    none = pairwise_logistic(s, y, reduction="none")
    assert none.shape == (30, 30)
    assert int((none != 0).sum()) == len(pairs)
    assert none[0, 0].item() == 0.0 and none.sum().item() == pytest.approx(sum(pairs), abs=1e-12)


def test_pairwise_logistic_bounds_one_minus_auc():
    # softplus(-d) / log 2 >= 1[d < 0] pairwise, so loss / log 2 >= 1 - AUC
    # (source of the AUC: sklearn.metrics.roc_auc_score; no ties in continuous scores).
    g = torch.Generator().manual_seed(2)
    y = (torch.rand(200, generator=g) > 0.8).long()
    s = torch.randn(200, generator=g, dtype=torch.float64) + y
    auc = sklearn_metrics.roc_auc_score(y.numpy(), s.numpy())
    assert pairwise_logistic(s, y).item() / math.log(2) >= 1 - auc
    # and with scores scaled up, the mean of the 0-1 pair errors is 1 - AUC exactly
    step = (s[y == 0].unsqueeze(0) > s[y == 1].unsqueeze(1)).double().mean().item()
    assert step == pytest.approx(1 - auc, abs=1e-12)
    big = pairwise_logistic(s * 1e4, y).item()
    assert torch.isfinite(torch.tensor(big))


def test_pairwise_logistic_empty_side_is_zero_attached():
    for y in (torch.ones(4, dtype=torch.long), torch.zeros(4, dtype=torch.long)):
        s = torch.randn(4, requires_grad=True)
        out = pairwise_logistic(s, y)
        assert out.item() == 0.0
        assert torch.equal(torch.autograd.grad(out, s)[0], torch.zeros(4))
    with pytest.raises(losskit.LossInputError, match="binary"):
        pairwise_logistic(torch.zeros(2), torch.tensor([0.5, 1.0]))


def test_soft_f1_hand_worked():
    # p = sigmoid(0) = 1/2 everywhere; one label with y = [1, 0, 1]:
    # tp = 1, fp = 1/2, fn = 1  ->  F1 = 2 / (2 + 1.5) = 4/7.
    x = torch.zeros(3, 1, dtype=torch.float64)
    y = torch.tensor([[1.0], [0.0], [1.0]], dtype=torch.float64)
    assert soft_f1(x, y, smooth=0.0).item() == pytest.approx(1 - 4 / 7, abs=1e-12)
    assert soft_f1(x[:, 0], y[:, 0], smooth=0.0).item() == pytest.approx(1 - 4 / 7, abs=1e-12)
    # with the default smooth s = 1e-5: 1 - (2 + s) / (3.5 + s)
    assert soft_f1(x, y).item() == pytest.approx(1 - (2 + 1e-5) / (3.5 + 1e-5), abs=1e-12)


def test_soft_f1_with_hard_predictions_is_sklearn_macro_f1():
    # Source: sklearn.metrics.f1_score(average="macro"); logits of +-60 make the sigmoid
    # 0/1 up to 1e-26. zero_division=1.0 matches our 0/0 convention (empty label = perfect).
    g = torch.Generator().manual_seed(3)
    y = (torch.rand(40, 5, generator=g) > 0.7).double()
    y[:, 4] = 0.0
    pred = (torch.rand(40, 5, generator=g) > 0.5).double()
    pred[:, 4] = 0.0  # label 4: no positives, no predictions
    x = 60.0 * (2 * pred - 1)
    f1 = sklearn_metrics.f1_score(y.numpy(), pred.numpy(), average=None, zero_division=1.0)
    expected = 1 - torch.from_numpy(f1)
    torch.testing.assert_close(soft_f1(x[:, :4], y[:, :4], smooth=0.0, reduction="none"),
                               expected[:4], rtol=0, atol=1e-12)
    # the empty label: predicted mass 40 sigmoid(-60) ~ 4e-25 against smooth 1e-5 -> ~0
    assert soft_f1(x, y, reduction="none")[4].item() == pytest.approx(0.0, abs=1e-12)


def test_soft_f1_gradient_finite_when_everything_is_empty():
    x = torch.full((4, 2), -1e4, requires_grad=True)  # sigmoid underflows to exactly 0
    out = soft_f1(x, torch.zeros(4, 2))
    assert out.item() == 0.0
    assert torch.isfinite(torch.autograd.grad(out, x)[0]).all()


def test_pairwise_logistic_with_groups_never_pairs_across_queries():
    # Brute force: pairs (i, j) with y_i = 1, y_j = 0 and the same query id.
    g = torch.Generator().manual_seed(5)
    s = torch.randn(40, generator=g, dtype=torch.float64, requires_grad=True)
    y = (torch.rand(40, generator=g) > 0.6).long()
    group = torch.randint(0, 5, (40,), generator=g) * 11
    pairs = [(i, j) for i in range(40) for j in range(40)
             if y[i] == 1 and y[j] == 0 and group[i] == group[j]]
    sd = s.detach()
    expected = sum(math.log1p(math.exp(float(sd[j] - sd[i]))) for i, j in pairs) / len(pairs)
    out = pairwise_logistic(s, y, group=group)
    assert out.item() == pytest.approx(expected, abs=1e-12)
    # one query at a time, and all of them at once, without groups: a different value
    assert not math.isclose(pairwise_logistic(s, y).item(), expected, rel_tol=1e-6)
    # a query without negatives contributes no pair and no gradient
    only_pos = torch.tensor([1, 1, 0])
    x = torch.zeros(3, requires_grad=True)
    out = pairwise_logistic(x, only_pos, group=torch.tensor([0, 0, 1]))
    assert out.item() == 0.0 and not torch.autograd.grad(out, x)[0].any()


def test_pairwise_logistic_nan_label_is_not_hidden():
    with losskit.value_checks(False):
        out = pairwise_logistic(torch.zeros(3), torch.tensor([1.0, float("nan"), 0.0]))
    assert torch.isnan(out)


def test_margin_ranking_with_groups():
    g = torch.Generator().manual_seed(6)
    x1 = torch.randn(12, generator=g, dtype=torch.float64)
    x2 = torch.randn(12, generator=g, dtype=torch.float64)
    y = torch.where(torch.rand(12, generator=g) > 0.3, 1.0, -1.0).double()
    # one query per row: the elementwise loss (torch's margin_ranking_loss)
    torch.testing.assert_close(
        margin_ranking(x1, x2, y, margin=0.2, group=torch.arange(12)),
        F.margin_ranking_loss(x1, x2, y, margin=0.2))
    # shared queries: every input1_i against every input2_j of its query, judged by y_i
    group = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3])
    terms = [max(0.0, -float(y[i]) * float(x1[i] - x2[j]) + 0.2)
             for i in range(12) for j in range(12) if group[i] == group[j]]
    assert margin_ranking(x1, x2, y, margin=0.2, group=group).item() == pytest.approx(
        sum(terms) / len(terms), abs=1e-12)
    none = margin_ranking(x1, x2, y, margin=0.2, group=group, reduction="none")
    assert none.shape == (12, 12) and not none[0, 3:].any()


def test_margin_ranking_learnable_margin():
    g = torch.Generator().manual_seed(7)
    x1 = torch.randn(6, generator=g, dtype=torch.float64, requires_grad=True)
    x2 = torch.randn(6, generator=g, dtype=torch.float64)
    y = torch.where(torch.rand(6, generator=g) > 0.5, 1.0, -1.0).double()
    margin = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, m: margin_ranking(a, x2, y, margin=m),
                                    (x1, margin))
