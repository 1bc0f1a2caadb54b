"""policy_gradient and actor_critic: closed-form gradients, detached targets, a bandit."""

from __future__ import annotations

import pytest
import torch

import losskit
from losskit import functional as F


def _rollout(seed=0, shape=(8,)):
    g = torch.Generator().manual_seed(seed)
    lp = torch.log(torch.rand(*shape, generator=g, dtype=torch.float64) * 0.9 + 0.05)
    return lp.requires_grad_(True), torch.randn(*shape, generator=g, dtype=torch.float64) * 2


def test_policy_gradient_gradient_is_minus_the_advantage():
    log_probs, returns = _rollout()
    baseline = returns.mean()
    loss = F.policy_gradient(log_probs, returns, baseline=baseline)
    (grad,) = torch.autograd.grad(loss, log_probs)
    # d/d log_prob_i of -mean((R - b) log_prob) = -(R_i - b) / N   (closed form)
    torch.testing.assert_close(grad, -(returns - baseline) / returns.numel())


def test_policy_gradient_normalized_advantages_have_zero_mean_unit_std():
    log_probs, returns = _rollout(1, shape=(4, 5))
    loss = F.policy_gradient(log_probs, returns, baseline=1.0, normalize_returns=True,
                             reduction="sum")
    (grad,) = torch.autograd.grad(loss, log_probs)
    advantage = -grad
    assert float(advantage.mean()) == pytest.approx(0.0, abs=1e-12)
    assert float(advantage.std(unbiased=False)) == pytest.approx(1.0, abs=1e-6)
    # a single element normalizes to 0, not NaN
    one = F.policy_gradient(log_probs[:1, :1], returns[:1, :1], normalize_returns=True)
    assert float(one.detach()) == 0.0


def test_policy_gradient_treats_returns_and_baseline_as_constants():
    log_probs, returns = _rollout(2)
    returns = returns.clone().requires_grad_(True)
    baseline = torch.zeros(8, dtype=torch.float64, requires_grad=True)
    loss = F.policy_gradient(log_probs, returns, baseline=baseline)
    grads = torch.autograd.grad(loss, [returns, baseline], allow_unused=True)
    assert all(g is None for g in grads)


def test_reinforce_learns_a_three_armed_bandit():
    # Rewards 0, 1, 0.5 for the three arms (known optimum: arm 1). A softmax policy
    # trained with REINFORCE and a mean baseline concentrates on arm 1.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)        # tiny tensors: a second thread only adds latency
    try:
        _train_bandit()
    finally:
        torch.set_num_threads(threads)


def _train_bandit():
    g = torch.Generator().manual_seed(0)
    logits = torch.zeros(3, requires_grad=True)
    opt = torch.optim.SGD([logits], lr=0.5)
    reward = torch.tensor([0.0, 1.0, 0.5])
    for _ in range(80):
        dist = torch.distributions.Categorical(logits=logits)
        actions = torch.multinomial(dist.probs.detach(), 32, replacement=True, generator=g)
        returns = reward[actions] + 0.1 * torch.randn(32, generator=g)
        opt.zero_grad()
        F.policy_gradient(dist.log_prob(actions), returns, baseline=returns.mean()).backward()
        opt.step()
    assert float(torch.softmax(logits.detach(), 0)[1]) > 0.9   # measured 0.96-0.97, seeds 0-2


def test_actor_critic_gradients_and_parts_by_closed_form():
    log_probs, returns = _rollout(3)
    values = torch.randn(8, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    values.requires_grad_(True)
    entropy = torch.rand(8, dtype=torch.float64, generator=torch.Generator().manual_seed(10))
    parts = F.actor_critic(log_probs, values, returns, entropy=entropy, value_coef=0.5,
                           entropy_coef=0.1, return_parts=True)
    adv = (returns - values).detach()
    torch.testing.assert_close(parts.policy, (-adv * log_probs).mean())
    torch.testing.assert_close(parts.value, ((values - returns) ** 2).mean())
    torch.testing.assert_close(parts.entropy, entropy.mean())
    torch.testing.assert_close(parts.total, parts.policy + 0.5 * parts.value - 0.1 * parts.entropy)
    g_lp, g_v = torch.autograd.grad(parts.total, [log_probs, values])
    n = 8
    torch.testing.assert_close(g_lp, -adv / n)                               # actor
    torch.testing.assert_close(g_v, 2 * 0.5 * (values - returns).detach() / n)  # critic only
    plain = F.actor_critic(log_probs, values, returns, entropy=entropy, value_coef=0.5,
                           entropy_coef=0.1)
    torch.testing.assert_close(plain, parts.total)


def test_actor_critic_without_entropy_and_bad_input():
    log_probs, returns = _rollout(4)
    values = torch.zeros(8, dtype=torch.float64)
    parts = F.actor_critic(log_probs, values, returns, return_parts=True)
    assert float(parts.entropy) == 0.0
    with pytest.raises(losskit.LossInputError, match="same shape"):
        F.actor_critic(log_probs, values[:4], returns)
    with pytest.raises(losskit.LossInputError, match="value_coef"):
        F.actor_critic(log_probs, values, returns, value_coef=-1.0)
    with pytest.raises(losskit.LossInputError, match="same shape"):
        F.policy_gradient(log_probs, returns[:3])
