"""Penalties: weight decay over tensors/iterables/modules, soft bounds, fairness gaps.

Expected values come from brute-force loops over parameters, pairs of groups and
boolean indexing, written independently of the implementation.
"""

from __future__ import annotations

import itertools

import pytest
import torch

import losskit
from losskit import functional as F


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                               torch.nn.ReLU(), torch.nn.Linear(4, 1), torch.nn.LayerNorm(1))


def _brute(model, power, exclude_bias=False, exclude_norm=False):
    total = 0.0
    for module in model.modules():
        if exclude_norm and isinstance(module, (torch.nn.BatchNorm1d, torch.nn.LayerNorm)):
            continue
        for name, p in module.named_parameters(recurse=False):
            if exclude_bias and name == "bias":
                continue
            total += float((p.detach().abs() ** power).sum())
    return total


@pytest.mark.parametrize("fn, power", [(F.l1_penalty, 1), (F.l2_penalty, 2)])
@pytest.mark.parametrize("exclude_bias", [False, True])
@pytest.mark.parametrize("exclude_norm", [False, True])
def test_weight_penalties_on_a_module_match_a_parameter_loop(fn, power, exclude_bias,
                                                            exclude_norm):
    model = _model()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3)                                   # norm scales are no longer all 1
    value = fn(model, exclude_bias=exclude_bias, exclude_norm=exclude_norm).detach()
    assert float(value) == pytest.approx(_brute(model, power, exclude_bias, exclude_norm))


def test_weight_penalties_accept_tensors_iterables_and_named_parameters():
    a, b = torch.tensor([1.0, -2.0]), torch.tensor([[3.0]])
    assert float(F.l1_penalty(a)) == 3.0
    assert float(F.l1_penalty([a, b])) == 6.0
    assert float(F.l2_penalty(t for t in (a, b))) == 14.0
    model = torch.nn.Linear(2, 1)
    named = F.l2_penalty(model.named_parameters(), exclude_bias=True)
    assert float(named.detach()) == pytest.approx(float(model.weight.detach().square().sum()))


def test_weight_penalty_gradients_are_sign_and_twice_the_weight():
    w = torch.tensor([0.5, -2.0, 3.0], requires_grad=True)
    assert torch.equal(torch.autograd.grad(F.l1_penalty(w), w)[0], torch.tensor([1.0, -1.0, 1.0]))
    assert torch.equal(torch.autograd.grad(F.l2_penalty(w), w)[0], 2 * w.detach())


def test_weight_penalties_accumulate_low_precision_in_float32():
    w = torch.full((4096,), 0.1, dtype=torch.float16)
    value = F.l2_penalty(w)
    assert value.dtype == torch.float32
    assert float(value) == pytest.approx(4096 * float(torch.tensor(0.1, dtype=torch.float16)) ** 2,
                                         rel=1e-5)


def test_weight_penalties_reject_bad_params():
    with pytest.raises(losskit.LossInputError, match="params"):
        F.l2_penalty(3.0)
    with pytest.raises(losskit.LossInputError, match="params\\[1\\] must be a tensor"):
        F.l2_penalty([torch.ones(1), "w"])
    with pytest.raises(losskit.LossInputError, match="no tensor to penalize"):
        F.l2_penalty(torch.nn.LayerNorm(3), exclude_norm=True)
    with pytest.raises(losskit.LossInputError, match="floating-point"):
        F.l1_penalty(torch.ones(3, dtype=torch.long))


# --- bound_penalty -----------------------------------------------------------------------------


def test_bound_penalty_values_by_hand():
    x = torch.tensor([-1.0, 0.5, 3.0])
    # violations below 0 and above 1: [1, 0, 2]
    assert float(F.bound_penalty(x, 0.0, 1.0)) == pytest.approx((1 + 0 + 4) / 3)
    assert float(F.bound_penalty(x, 0.0, 1.0, kind="hinge")) == pytest.approx(1.0)
    assert float(F.bound_penalty(x, lower=0.0)) == pytest.approx(1 / 3)       # one-sided
    assert float(F.bound_penalty(x, upper=1.0, kind="hinge", reduction="sum")) == 2.0
    assert float(F.bound_penalty(x)) == 0.0                                    # no bounds


def test_bound_penalty_per_column_bounds_and_gradient():
    pred = torch.tensor([[2.0, -3.0], [0.5, 0.5]], requires_grad=True)
    lower, upper = torch.tensor([0.0, -1.0]), torch.tensor([1.0, 1.0])
    loss = F.bound_penalty(pred, lower, upper, reduction="sum")
    (grad,) = torch.autograd.grad(loss, pred)
    # violations: [[1 above, 2 below], [0, 0]] -> gradient 2 v with the sign of the push
    torch.testing.assert_close(grad, torch.tensor([[2.0, -4.0], [0.0, 0.0]]))


def test_bound_penalty_rejects_bad_bounds():
    with pytest.raises(losskit.LossInputError, match="lower must not exceed upper"):
        F.bound_penalty(torch.zeros(2), 1.0, 0.0)
    with pytest.raises(losskit.LossInputError, match="kind"):
        F.bound_penalty(torch.zeros(2), 0.0, 1.0, kind="cubic")
    with pytest.raises(losskit.LossInputError, match="lower of shape"):
        F.bound_penalty(torch.zeros(2, 3), torch.zeros(4), 1.0)


# --- fairness gaps -----------------------------------------------------------------------------


def _pairwise_gap(rates):
    return max((abs(a - b) for a, b in itertools.combinations(rates, 2)), default=0.0)


def _rates(p, mask_by_group):
    return [float(p[m].mean()) for m in mask_by_group if bool(m.any())]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_demographic_parity_gap_matches_brute_force_over_groups(seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(40, generator=g, dtype=torch.float64)
    ids = torch.tensor([3, 7, 11, 42])                   # any integer ids, not 0..G-1
    group = ids[torch.randint(0, 4, (40,), generator=g)]
    p = torch.sigmoid(logits)
    rates = _rates(p, [group == k for k in ids])
    assert float(F.demographic_parity_gap(logits, group)) == pytest.approx(_pairwise_gap(rates))
    variance = float(torch.tensor(rates).var(unbiased=False))
    assert float(F.demographic_parity_gap(logits, group, aggregate="variance")) == pytest.approx(
        variance)


def test_demographic_parity_gap_gradient_moves_the_extreme_groups():
    logits = torch.tensor([1.0, 1.0, 0.0, 0.0, -1.0, -1.0], requires_grad=True)
    group = torch.tensor([0, 0, 1, 1, 2, 2])
    (grad,) = torch.autograd.grad(F.demographic_parity_gap(logits, group), logits)
    s = torch.sigmoid(torch.tensor(1.0))
    slope = float(s * (1 - s)) / 2                       # sigmoid'(x) / group size
    torch.testing.assert_close(grad, torch.tensor([slope, slope, 0, 0, -slope, -slope]))


def test_fairness_gaps_with_missing_or_single_groups_give_zero_not_nan():
    logits = torch.randn(5, requires_grad=True)
    one_group = torch.zeros(5, dtype=torch.long)
    out = F.demographic_parity_gap(logits, one_group)
    assert out.item() == 0.0
    assert torch.equal(torch.autograd.grad(out, logits)[0], torch.zeros(5))
    # no positives at all: the TPR gap is undefined and left out, the FPR gap counts
    target = torch.zeros(5)
    group = torch.tensor([0, 0, 1, 1, 1])
    eo = F.equalized_odds_gap(logits, target, group)
    assert torch.isfinite(eo)
    dp = F.demographic_parity_gap(logits, group)
    assert float(eo.detach()) == pytest.approx(float(dp.detach()))
    empty = F.equalized_odds_gap(torch.zeros(0, requires_grad=True), torch.zeros(0),
                                 torch.zeros(0, dtype=torch.long))
    assert empty.item() == 0.0


@pytest.mark.parametrize("seed", [0, 1])
def test_equalized_odds_gap_is_the_larger_of_tpr_and_fpr_gaps(seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(60, generator=g, dtype=torch.float64)
    target = (torch.rand(60, generator=g) > 0.4).long()
    group = torch.randint(0, 3, (60,), generator=g)
    p = torch.sigmoid(logits)
    tpr = _rates(p, [(group == k) & (target == 1) for k in range(3)])
    fpr = _rates(p, [(group == k) & (target == 0) for k in range(3)])
    expected = max(_pairwise_gap(tpr), _pairwise_gap(fpr))    # fairlearn's definition
    assert float(F.equalized_odds_gap(logits, target, group)) == pytest.approx(expected)
    assert float(F.equalized_odds_gap(logits, target.double(), group)) == pytest.approx(expected)
    var = max(float(torch.tensor(tpr).var(unbiased=False)),
              float(torch.tensor(fpr).var(unbiased=False)))
    assert float(F.equalized_odds_gap(logits, target, group, aggregate="variance")) == \
        pytest.approx(var)


def test_fairness_gaps_reject_bad_input():
    with pytest.raises(losskit.LossInputError, match="group must hold integer"):
        F.demographic_parity_gap(torch.zeros(3), torch.zeros(3))
    with pytest.raises(losskit.LossInputError, match="logits must be \\[N\\]"):
        F.demographic_parity_gap(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long))
    with pytest.raises(losskit.LossInputError, match="aggregate"):
        F.demographic_parity_gap(torch.zeros(3), torch.zeros(3, dtype=torch.long),
                                 aggregate="mean")
    with pytest.raises(losskit.LossInputError, match="binary labels"):
        F.equalized_odds_gap(torch.zeros(3), torch.tensor([0, 1, 2]),
                             torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize(("name", "power"), [("l1_penalty", 1), ("l2_penalty", 2)])
def test_a_parameter_tied_between_modules_counts_once(name, power):
    # An embedding tied to the output layer (one Parameter in two modules): the penalty is
    # that of model.parameters(), which lists it once; it was counted once per module.
    torch.manual_seed(0)
    emb = torch.nn.Embedding(7, 4)
    head = torch.nn.Linear(4, 7, bias=False)
    head.weight = emb.weight
    model = torch.nn.Sequential(emb, torch.nn.ReLU(), head)
    assert len(list(model.parameters())) == 1
    fn = losskit.info(name).fn
    want = sum(p.detach().abs().pow(power).sum() for p in model.parameters())
    torch.testing.assert_close(fn(model).detach(), want)
    (grad,) = torch.autograd.grad(fn(model), emb.weight)
    w = emb.weight.detach()
    torch.testing.assert_close(grad, w.sign() if power == 1 else 2 * w)
