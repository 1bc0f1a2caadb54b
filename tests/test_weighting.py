"""Class weights, the online estimator and recency weights, against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

import losskit
from losskit.weighting import OnlineClassWeights, class_weights, recency_weights


def _labels(counts):
    return torch.cat([torch.full((n,), k, dtype=torch.long) for k, n in enumerate(counts)])


def _normalized(raw):
    mean = sum(raw) / len(raw)
    return [r / mean for r in raw]


@pytest.mark.parametrize("scheme, raw", [
    ("inverse", lambda n: 1 / n),
    ("sqrt_inverse", lambda n: 1 / math.sqrt(n)),
    # Cui et al. 2019, eq. for the effective number: E_n = (1 - beta^n) / (1 - beta)
    ("effective_number", lambda n: (1 - 0.99) / (1 - 0.99 ** n)),
])
def test_class_weights_by_hand(scheme, raw):
    counts = [500, 50, 5]
    w = class_weights(_labels(counts), scheme, beta=0.99)
    assert w.dtype == torch.float32 and w.shape == (3,)
    assert w.tolist() == pytest.approx(_normalized([raw(n) for n in counts]), rel=1e-5)
    assert float(w.mean()) == pytest.approx(1.0)
    assert w[2] > w[1] > w[0]


def test_effective_number_limits():
    y = _labels([900, 100])
    # beta -> 0: every class has effective number 1, so the weights are equal
    assert class_weights(y, "effective_number", beta=0.0).tolist() == pytest.approx([1.0, 1.0])
    # beta -> 1: E_n -> n, the inverse-frequency weights
    assert class_weights(y, "effective_number", beta=1 - 1e-9).tolist() == pytest.approx(
        class_weights(y, "inverse").tolist(), rel=1e-4)


def test_absent_classes_get_the_rarest_observed_weight():
    w = class_weights(torch.tensor([0, 0, 0, 1]), num_classes=4)
    # counts [3, 1, 0, 0] -> absent classes counted like the rarest (1): raw [1/3, 1, 1, 1]
    assert w.tolist() == pytest.approx(_normalized([1 / 3, 1, 1, 1]))
    assert torch.isfinite(w).all()


def test_class_weights_ignore_index_and_dense_targets():
    mask = torch.tensor([[0, 0, 1], [-100, 0, 1]])
    assert class_weights(mask, ignore_index=-100).tolist() == pytest.approx(
        _normalized([1 / 3, 1 / 2]))


def test_class_weights_reject_bad_input():
    with pytest.raises(losskit.LossInputError, match="scheme"):
        class_weights(torch.tensor([0, 1]), "balanced")
    with pytest.raises(losskit.LossInputError, match="class index 5"):
        class_weights(torch.tensor([0, 5]), num_classes=3)
    with pytest.raises(losskit.LossInputError, match="num_classes"):
        class_weights(torch.zeros(0, dtype=torch.long))
    with pytest.raises(losskit.LossInputError, match="integer class indices"):
        class_weights(torch.tensor([0.0, 1.0]))


def test_online_weights_first_update_is_exact_and_then_track_a_shift():
    tracker = OnlineClassWeights(2, momentum=0.9)
    assert tracker.weights.tolist() == [1.0, 1.0]              # no data yet: uniform
    # bias correction: after one batch the estimate equals that batch's frequencies
    tracker.update(_labels([8, 2]))
    assert tracker.frequencies.tolist() == pytest.approx([0.8, 0.2])
    assert tracker.weights.tolist() == pytest.approx(class_weights(_labels([8, 2])).tolist())
    for _ in range(20):
        tracker.update(_labels([8, 2]))
    # the distribution flips. Closed form of the EMA of frequency 0 after 21 batches at
    # 0.8 and 30 at 0.2, divided by the bias correction 1 - 0.9^51:
    for _ in range(30):
        tracker.update(_labels([2, 8]))
    ema = 0.8 * (1 - 0.9 ** 21) * 0.9 ** 30 + 0.2 * (1 - 0.9 ** 30)
    assert float(tracker.frequencies[0]) == pytest.approx(ema / (1 - 0.9 ** 51), rel=1e-9)
    assert float(tracker.frequencies[0]) < 0.25                 # it followed the shift
    assert tracker.weights[0] > tracker.weights[1]              # class 0 is now the rare one


def test_online_weights_state_dict_and_empty_batches():
    tracker = OnlineClassWeights(3, momentum=0.5, scheme="sqrt_inverse", ignore_index=-1)
    tracker.update(torch.tensor([0, 0, 1, -1]))
    before = tracker.weights.clone()
    tracker.update(torch.tensor([-1, -1]))                      # nothing counts: unchanged
    assert torch.equal(tracker.weights, before)
    clone = OnlineClassWeights(3, momentum=0.5, scheme="sqrt_inverse")
    clone.load_state_dict(tracker.state_dict())
    assert torch.equal(clone.weights, before)
    with pytest.raises(losskit.LossInputError, match="scheme"):
        OnlineClassWeights(3, scheme="effective_number")


def test_recency_weights_halve_every_half_life_and_average_one():
    w = recency_weights(5, half_life=2.0)
    assert float(w.mean()) == pytest.approx(1.0)
    ratios = (w[1:] / w[:-1]).tolist()
    assert ratios == pytest.approx([2 ** 0.5] * 4)              # 2 positions = 1 half-life
    stamps = torch.tensor([0.0, 10.0, 30.0, 30.0])
    w = recency_weights(stamps, half_life=10.0)
    assert (w[3] / w[0]).item() == pytest.approx(8.0)           # 3 half-lives apart
    assert w[2] == w[3]
    assert recency_weights(torch.tensor([2023, 2024]), half_life=1.0).tolist() == pytest.approx(
        [2 / 3, 4 / 3])
    assert recency_weights(0, 1.0).shape == (0,)
    with pytest.raises(losskit.LossInputError, match="half_life"):
        recency_weights(3, half_life=0.0)
    with pytest.raises(losskit.LossInputError, match="1-D"):
        recency_weights(torch.zeros(2, 2), half_life=1.0)


# --- multi-task weighting ----------------------------------------------------------------------


def test_uncertainty_weighting_value_parameters_and_optimum():
    from losskit.weighting import UncertaintyWeighting

    weighting = UncertaintyWeighting(3)
    params = list(weighting.parameters())
    assert len(params) == 1 and params[0].shape == (3,) and not params[0].any()
    losses = [torch.tensor(2.0), torch.tensor(0.5), torch.tensor(8.0)]
    # Kendall, Gal & Cipolla 2018: sum_i 0.5 exp(-s_i) L_i + 0.5 s_i; at s = 0, half the sum.
    assert weighting(losses).item() == pytest.approx(0.5 * 10.5)
    with torch.no_grad():
        weighting.log_variance.copy_(torch.tensor([0.3, -1.0, 2.0]))
    s = [0.3, -1.0, 2.0]
    expected = sum(0.5 * math.exp(-si) * float(li) + 0.5 * si for si, li in zip(s, losses))
    total = weighting(losses)
    assert total.item() == pytest.approx(expected, rel=1e-6)
    (grad,) = torch.autograd.grad(total, weighting.log_variance)
    torch.testing.assert_close(grad, torch.tensor(
        [-0.5 * math.exp(-si) * float(li) + 0.5 for si, li in zip(s, losses)]))
    torch.testing.assert_close(weighting.weights, 0.5 * torch.exp(-torch.tensor(s)))
    # minimizing over s alone gives exp(s_i) = L_i (plain gradient descent)
    for _ in range(300):
        (grad,) = torch.autograd.grad(weighting(losses), weighting.log_variance)
        with torch.no_grad():
            weighting.log_variance -= 0.5 * grad
    torch.testing.assert_close(weighting.log_variance.detach().exp(), torch.stack(losses),
                               rtol=1e-4, atol=1e-4)


def test_uncertainty_weighting_names_tasks_and_checks_their_number():
    from losskit.weighting import UncertaintyWeighting

    weighting = UncertaintyWeighting(2)
    weighting({"depth": torch.tensor(1.0), "seg": torch.tensor(3.0)})
    assert set(weighting.last_terms) == {"depth", "seg"}
    assert weighting.last_terms["seg"].item() == 3.0
    with pytest.raises(losskit.LossInputError, match="2 task losses"):
        weighting([torch.tensor(1.0)])
    with pytest.raises(losskit.LossInputError, match="scalar"):
        weighting([torch.ones(3), torch.tensor(1.0)])
    with pytest.raises(losskit.LossInputError, match="n_tasks"):
        UncertaintyWeighting(0)


def _two_tasks(seed=0):
    g = torch.Generator().manual_seed(seed)
    trunk = torch.nn.Linear(3, 4).double()
    heads = [torch.nn.Linear(4, 1).double(), torch.nn.Linear(4, 1).double()]
    for m in (trunk, *heads):
        for p in m.parameters():
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.5)
    x = torch.randn(64, 3, generator=g, dtype=torch.float64)
    y1 = x[:, :1] - x[:, 1:2]
    y2 = 10.0 * (x[:, 1:2] + x[:, 2:3])  # a louder task: ten times the scale

    def losses():
        h = torch.tanh(trunk(x))
        return [((heads[0](h) - y1) ** 2).mean(), ((heads[1](h) - y2) ** 2).mean()]

    return trunk, heads, losses


def _shared_norms(loss_values, trunk):
    return torch.stack([torch.linalg.vector_norm(torch.cat(
        [g.reshape(-1) for g in torch.autograd.grad(v, list(trunk.parameters()),
                                                    retain_graph=True)]))
        for v in loss_values])


def test_gradnorm_follows_the_papers_update_rule():
    from losskit.weighting import GradNorm

    trunk, heads, losses = _two_tasks()
    gradnorm = GradNorm(2, shared=trunk, alpha=1.5)
    assert [p.shape for p in gradnorm.parameters()] == [(2,)]  # the model's are not included
    values = losses()
    total = gradnorm(values)
    assert total.item() == pytest.approx((values[0] + values[1]).item())
    norms = _shared_norms(losses(), trunk)
    total.backward()
    # Chen et al. 2018: G_i = w_i ||grad_W L_i||; at the first step L_i / L_i(0) = 1, so every
    # target is mean_i G_i and dL_grad/dw_i = sign(G_i - mean G) ||grad_W L_i||.
    expected = torch.sign(norms - norms.mean()) * norms
    torch.testing.assert_close(gradnorm.task_weights.grad, expected.float())
    assert norms[1] > norms[0] and gradnorm.task_weights.grad[1] > 0  # the loud task loses
    # the model receives the gradient of the weighted sum (weights 1 here)
    plain = torch.autograd.grad(sum(losses()), trunk.weight)[0]
    torch.testing.assert_close(trunk.weight.grad, plain)
    # a step on the weights, then the next call renormalizes them to sum to T = 2
    with torch.no_grad():
        gradnorm.task_weights -= 0.01 * gradnorm.task_weights.grad
    w_before = gradnorm.task_weights.detach().clone()
    assert w_before[0] > 1 > w_before[1]
    gradnorm.zero_grad()
    for m in (trunk, *heads):
        m.zero_grad()
    with torch.no_grad():  # move the model so the loss ratios differ from 1
        heads[1].bias += 1.0
    values = losses()
    initial = gradnorm.initial_losses.clone()
    gradnorm(values).backward()
    w = w_before * 2 / w_before.sum()
    torch.testing.assert_close(gradnorm.task_weights.detach(), w)
    norms = _shared_norms(losses(), trunk).float()
    ratio = torch.stack([v.detach() for v in values]).float() / initial
    target = (w * norms).mean() * (ratio / ratio.mean()) ** 1.5
    torch.testing.assert_close(gradnorm.task_weights.grad, torch.sign(w * norms - target) * norms)


def test_gradnorm_weights_settle_where_the_weighted_gradient_norms_are_equal():
    from losskit.weighting import GradNorm

    # With the model held fixed the loss ratios stay 1, so the rule's fixed point is
    # w_1 ||grad L_1|| = w_2 ||grad L_2|| with w_1 + w_2 = 2.
    trunk, _, losses = _two_tasks(seed=1)
    gradnorm = GradNorm(2, shared=trunk)
    norms = _shared_norms(losses(), trunk).float()
    assert norms[1] / norms[0] > 5  # the louder task starts with the larger gradient
    for step in range(60):
        total = gradnorm(losses())
        (grad,) = torch.autograd.grad(total, gradnorm.task_weights)
        with torch.no_grad():
            gradnorm.task_weights -= 0.004 / (1 + step / 10) * grad
    gradnorm(losses())
    torch.testing.assert_close(gradnorm.last_gradient_norms, norms)
    # sign steps of a decaying size: the big weight lands within 1%, the small one within
    # the last step (about 25% of it), and the weighted norms nearly agree
    fixed_point = 2 * norms.flip(0) / norms.sum()
    assert gradnorm.weights[0].item() == pytest.approx(fixed_point[0].item(), rel=0.01)
    assert gradnorm.weights[1].item() == pytest.approx(fixed_point[1].item(), rel=0.25)
    balanced = gradnorm.weights * norms
    assert 0.75 < (balanced[1] / balanced[0]).item() < 1.33
    # outside training: the weighted sum, and no gradient for the weights
    gradnorm.eval()
    values = losses()
    out = gradnorm(values)
    assert out.item() == pytest.approx(float((gradnorm.weights.double() * torch.stack(
        [v.detach() for v in values])).sum()))
    assert torch.autograd.grad(out, gradnorm.task_weights, allow_unused=True)[0] is None


def test_weighting_modules_inside_a_composite_and_the_monitor():
    from losskit.monitor import LossMonitor
    from losskit.weighting import GradNorm, UncertaintyWeighting

    g = torch.Generator().manual_seed(2)
    x = torch.randn(8, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(8, 3, generator=g, dtype=torch.float64)
    weighting = UncertaintyWeighting(2)
    with torch.no_grad():
        weighting.log_variance.copy_(torch.tensor([0.5, -0.5]))
    loss = losskit.get("2*mse + mae", weighting=weighting)
    assert any(p is weighting.log_variance for p in loss.parameters())
    value = loss(x, y)
    mse, mae = losskit.F.mse(x, y), losskit.F.mae(x, y)
    expected = 0.5 * math.exp(-0.5) * 2 * mse + 0.25 + 0.5 * math.exp(0.5) * mae - 0.25
    torch.testing.assert_close(value, expected.to(value.dtype))
    assert loss.last_weights == {"mse": 2.0, "mae": 1.0}
    torch.testing.assert_close(loss.last_terms["mae"], mae.detach())
    monitor = LossMonitor(loss=loss)
    monitor.record(value)
    assert set(monitor.terms) == {"mse", "mae"}
    # scaling keeps the weighting; adding terms to it or a wrong task count raises
    assert (0.5 * loss).weighting is weighting
    with pytest.raises(losskit.LossInputError, match="weighting"):
        loss + losskit.get("mse")
    with pytest.raises(losskit.LossInputError, match="3 terms"):
        losskit.get("mse + mae + huber", weighting=UncertaintyWeighting(2))
    # GradNorm over a shared layer, through a composite
    layer = torch.nn.Linear(3, 3).double()
    composite = losskit.get("mse + mae", weighting=GradNorm(2, shared=layer))
    out = composite(layer(x), y)
    assert out.item() == pytest.approx((losskit.F.mse(layer(x), y)
                                        + losskit.F.mae(layer(x), y)).item())
    out.backward()
    assert composite.weighting.task_weights.grad is not None
