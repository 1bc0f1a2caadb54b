"""RL fine-tuning losses against formulas written here from the papers, in float64.

Sources: PPO's clipped surrogate (Schulman et al. 2017, eq. 7) and clipped value loss (the
PPO2 baselines code), DAPO's clip-higher and token-level mean (Yu et al. 2025), the GRPO
objective with outcome rewards and k3 (Shao et al. 2024, eqs. 3-4), Dr. GRPO's constant
normalizer (Liu et al. 2025), Schulman's KL estimators (2020; their expectations are
checked exactly by enumerating a small vocabulary), and Python's ``statistics.stdev`` for
the unbiased group standard deviation.
"""

from __future__ import annotations

import math
import statistics

import pytest
import torch

import losskit
from losskit import functional as F


def _batch(b=4, t=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    logps = torch.log(torch.rand(b, t, generator=g, dtype=torch.float64) * 0.9 + 0.05)
    old = logps + torch.randn(b, t, generator=g, dtype=torch.float64) * 0.3
    adv = torch.randn(b, t, generator=g, dtype=torch.float64)
    mask = torch.rand(b, t, generator=g) > 0.3
    mask[:, 0] = True
    return logps.requires_grad_(True), old, adv, mask


def _surrogate(lp, old, a, low, high):
    """PPO eq. 7 for one token: -min(r A, clip(r, 1 - low, 1 + high) A)."""
    r = math.exp(lp - old)
    return -min(r * a, min(max(r, 1 - low), 1 + high) * a)


def _per_token(logps, old, adv, low, high):
    return [[_surrogate(logps[b][t], old[b][t], adv[b][t], low, high)
             for t in range(len(logps[0]))] for b in range(len(logps))]


@pytest.mark.parametrize("clip_high", [None, 0.28])
def test_ppo_clip_three_aggregations(clip_high):
    logps, old, adv, mask = _batch()
    high = 0.2 if clip_high is None else clip_high
    terms = _per_token(logps.tolist(), old.tolist(), adv.tolist(), 0.2, high)
    m = mask.tolist()
    counted = [[terms[b][t] for t in range(6) if m[b][t]] for b in range(4)]
    token = sum(map(sum, counted)) / sum(map(len, counted))           # DAPO eq. 8
    sequence = sum(sum(c) / len(c) for c in counted) / 4               # GRPO eq. 3
    constant = sum(map(sum, counted)) / (4 * 6)                        # Dr. GRPO
    for aggregation, expected in (("token", token), ("sequence", sequence),
                                  ("constant", constant)):
        out = F.ppo_clip(logps, old, adv, clip=0.2, clip_high=clip_high, mask=mask,
                         aggregation=aggregation)
        assert out.item() == pytest.approx(expected, rel=1e-12), aggregation
    none = F.ppo_clip(logps, old, adv, clip_high=clip_high, mask=mask, reduction="none")
    expected_none = torch.tensor(terms, dtype=torch.float64) * mask
    torch.testing.assert_close(none, expected_none)
    seq_none = F.ppo_clip(logps, old, adv, clip_high=clip_high, mask=mask,
                          aggregation="sequence", reduction="none")
    torch.testing.assert_close(seq_none, torch.tensor([sum(c) / len(c) for c in counted],
                                                      dtype=torch.float64))


def test_ppo_clip_asymmetric_clip_decides_which_tokens_move():
    # ratios 1.25 (A > 0): clipped at 1 + 0.2, not at 1 + 0.28; ratio 0.75 (A < 0): clipped
    # at 1 - 0.2 either way
    old = torch.zeros(1, 2, dtype=torch.float64)
    logps = torch.log(torch.tensor([[1.25, 0.75]], dtype=torch.float64)).requires_grad_(True)
    adv = torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    g_sym = torch.autograd.grad(F.ppo_clip(logps, old, adv, reduction="sum"), logps)[0]
    g_high = torch.autograd.grad(F.ppo_clip(logps, old, adv, clip_high=0.28, reduction="sum"),
                                 logps)[0]
    torch.testing.assert_close(g_sym, torch.zeros(1, 2, dtype=torch.float64))
    # unclipped: d/dlogp of -r A = -r A
    torch.testing.assert_close(g_high, torch.tensor([[-1.25, 0.0]], dtype=torch.float64))
    # a pessimistic bound: the unclipped term is kept when it is worse (r = 0.75, A > 0)
    adv_pos = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    g = torch.autograd.grad(F.ppo_clip(logps, old, adv_pos, reduction="sum"), logps)[0]
    torch.testing.assert_close(g, torch.tensor([[0.0, -0.75]], dtype=torch.float64))


def test_ppo_clip_sequence_advantages_broadcast_and_old_is_constant():
    logps, old, _, mask = _batch(seed=1)
    old = old.clone().requires_grad_(True)
    per_seq = torch.tensor([1.0, -0.5, 2.0, 0.0], dtype=torch.float64)
    a = F.ppo_clip(logps, old, per_seq, mask=mask)
    b = F.ppo_clip(logps, old, per_seq[:, None].expand(4, 6), mask=mask)
    torch.testing.assert_close(a, b)
    g_old = torch.autograd.grad(a, old, allow_unused=True)[0]
    assert g_old is None or not g_old.any()
    with pytest.raises(losskit.LossInputError, match="advantages"):
        F.ppo_clip(logps, old, per_seq[:3])


@pytest.mark.parametrize("aggregation", ["token", "sequence", "constant"])
def test_normalizer_makes_gradient_accumulation_exact(aggregation):
    logps, old, adv, mask = _batch(b=6, seed=2)
    full = F.ppo_clip(logps, old, adv, mask=mask, aggregation=aggregation)
    g_full = torch.autograd.grad(full, logps)[0]
    count = {"token": mask.sum(), "sequence": 6, "constant": 6 * 6}[aggregation]
    parts = [F.ppo_clip(logps[s], old[s], adv[s], mask=mask[s], aggregation=aggregation,
                        normalizer=count) for s in (slice(0, 2), slice(2, 6))]
    torch.testing.assert_close(parts[0] + parts[1], full)
    torch.testing.assert_close(torch.autograd.grad(parts[0] + parts[1], logps)[0], g_full)
    # averaging the micro-batches' own means (loss / steps) is not the batch mean: the bug
    # normalizer fixes
    if aggregation == "token":
        local = [F.ppo_clip(logps[s], old[s], adv[s], mask=mask[s]).item() for s in
                 (slice(0, 2), slice(2, 6))]
        assert abs((local[0] + local[1]) / 2 - full.item()) > 1e-3
    # only "mean" has a denominator to replace (as in reduce): "sum" is unchanged
    torch.testing.assert_close(
        F.ppo_clip(logps, old, adv, mask=mask, normalizer=10, reduction="sum"),
        F.ppo_clip(logps, old, adv, mask=mask, reduction="sum"))
    with pytest.raises(losskit.LossInputError, match="normalizer"):
        F.ppo_clip(logps, old, adv, normalizer=torch.ones(2))


@pytest.mark.parametrize("aggregation", ["token", "sequence", "constant"])
def test_empty_and_all_masked_are_zero_and_attached(aggregation):
    logps, old, adv, mask = _batch(seed=3)
    for args, m in (((logps[:0], old[:0], adv[:0]), None),
                    ((logps, old, adv), torch.zeros_like(mask))):
        out = F.ppo_clip(*args, mask=m, aggregation=aggregation)
        assert out.item() == 0.0 and out.requires_grad
        assert not torch.autograd.grad(out, logps)[0].any()
    out = F.grpo(logps, old, torch.ones(4, dtype=torch.float64), group_size=2,
                 mask=torch.zeros_like(mask), reference_logps=old, beta=0.1,
                 aggregation=aggregation)
    assert out.item() == 0.0 and not torch.autograd.grad(out, logps)[0].any()
    for out in (F.kl_penalty(logps, old, mask=torch.zeros_like(mask)),
                F.ppo_value(logps, old, adv, mask=torch.zeros_like(mask))):
        assert out.item() == 0.0 and not torch.autograd.grad(out, logps)[0].any()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_finite_in_half_precision_down_to_minus_1e4(dtype):
    g = torch.Generator().manual_seed(4)
    logps, old, ref = ((-torch.rand(4, 6, generator=g, dtype=torch.float64) * 1e4).to(dtype)
                       for _ in range(3))
    logps.requires_grad_(True)
    adv = torch.randn(4, 6, generator=g, dtype=torch.float64).to(dtype)
    outs = [F.ppo_clip(logps, old, adv), F.ppo_value(logps, old, ref),
            F.grpo(logps, old, torch.rand(4, dtype=dtype), group_size=2, reference_logps=ref,
                   beta=0.04)]
    outs += [F.kl_penalty(logps, ref, estimator=e) for e in ("k1", "k2", "k3")]
    for out in outs:
        assert out.dtype == torch.float32 and torch.isfinite(out)
        assert torch.isfinite(torch.autograd.grad(out, logps)[0].float()).all()


def test_ppo_value_is_the_clipped_value_loss():
    g = torch.Generator().manual_seed(5)
    old = torch.randn(3, 5, generator=g, dtype=torch.float64)
    values = (old + torch.randn(3, 5, generator=g, dtype=torch.float64) * 0.5).requires_grad_(True)
    returns = torch.randn(3, 5, generator=g, dtype=torch.float64)
    mask = torch.rand(3, 5, generator=g) > 0.2
    expected = []
    for v, o, r, m in zip(values.flatten().tolist(), old.flatten().tolist(),
                          returns.flatten().tolist(), mask.flatten().tolist()):
        if m:
            clipped = o + min(max(v - o, -0.2), 0.2)
            expected.append(0.5 * max((v - r) ** 2, (clipped - r) ** 2))
    out = F.ppo_value(values, old, returns, clip=0.2, mask=mask)
    assert out.item() == pytest.approx(sum(expected) / len(expected))
    # no clip: half the masked mean squared error
    plain = F.ppo_value(values, old, returns, clip=float("inf"), mask=mask)
    assert plain.item() == pytest.approx((0.5 * ((values - returns) ** 2)[mask].mean()).item())
    g_values = torch.autograd.grad(out, values)[0]
    assert not g_values[~mask].any()


def test_grpo_group_advantages_and_k3():
    g = torch.Generator().manual_seed(6)
    logps = torch.log(torch.rand(6, 4, generator=g, dtype=torch.float64) * 0.9 + 0.05)
    old = logps + torch.randn(6, 4, generator=g, dtype=torch.float64) * 0.2
    ref = logps + torch.randn(6, 4, generator=g, dtype=torch.float64) * 0.5
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.5, 1.0, 1.0], dtype=torch.float64)
    mask = torch.rand(6, 4, generator=g) > 0.25
    mask[:, 0] = True
    beta = 0.04
    # GRPO with outcome supervision: A_i = (r_i - mean) / std within each prompt's group
    adv = []
    for start in (0, 3):
        group = rewards[start:start + 3].tolist()
        mean, std = statistics.mean(group), statistics.stdev(group)
        adv += [(x - mean) / (std + 1e-4) for x in group]
    lp, o, rf, m = logps.tolist(), old.tolist(), ref.tolist(), mask.tolist()
    per_token = [[_surrogate(lp[b][t], o[b][t], adv[b], 0.2, 0.2)
                  + beta * (math.exp(rf[b][t] - lp[b][t]) - (rf[b][t] - lp[b][t]) - 1)
                  for t in range(4)] for b in range(6)]
    counted = [[per_token[b][t] for t in range(4) if m[b][t]] for b in range(6)]
    expected = {"token": sum(map(sum, counted)) / sum(map(len, counted)),
                "sequence": sum(sum(c) / len(c) for c in counted) / 6,
                "constant": sum(map(sum, counted)) / 24}
    for aggregation, value in expected.items():
        out = F.grpo(logps, old, rewards, group_size=3, mask=mask, reference_logps=ref,
                     beta=beta, aggregation=aggregation)
        assert out.item() == pytest.approx(value, rel=1e-12), aggregation
    # scale_rewards=False (Dr. GRPO): advantages are r - group mean
    centred = torch.tensor([x - statistics.mean(rewards[s:s + 3].tolist())
                            for s in (0, 3) for x in rewards[s:s + 3].tolist()],
                           dtype=torch.float64)
    torch.testing.assert_close(
        F.grpo(logps, old, rewards, group_size=3, mask=mask, scale_rewards=False),
        F.ppo_clip(logps, old, centred, mask=mask))


def test_grpo_groups_and_errors():
    logps, old, _, mask = _batch(b=4, seed=7)
    same = torch.ones(4, dtype=torch.float64)
    # identical rewards: zero advantage, no policy gradient
    out = F.grpo(logps, old, same, group_size=2, mask=mask)
    assert out.item() == 0.0
    assert not torch.autograd.grad(out, logps)[0].any()
    # group_size=None: the whole batch is one group
    rewards = torch.tensor([0.0, 1.0, 3.0, 2.0], dtype=torch.float64)
    torch.testing.assert_close(F.grpo(logps, old, rewards, mask=mask),
                               F.grpo(logps, old, rewards, group_size=4, mask=mask))
    # a group of one has no spread: advantage 0, not NaN
    assert F.grpo(logps, old, rewards, group_size=1).item() == 0.0
    with pytest.raises(losskit.LossInputError, match="group"):
        F.grpo(logps, old, rewards, group_size=3)
    with pytest.raises(losskit.LossInputError, match="reference_logps"):
        F.grpo(logps, old, rewards, beta=0.1)
    with pytest.raises(losskit.LossInputError, match="aggregation"):
        F.grpo(logps, old, rewards, aggregation="seq-mean")


def test_kl_estimators_match_schulman_exactly_in_expectation():
    # tokens sampled from the policy p; the expectation over p of k1 and k3 is KL(p || q)
    g = torch.Generator().manual_seed(8)
    p = torch.softmax(torch.randn(7, generator=g, dtype=torch.float64), 0)
    q = torch.softmax(torch.randn(7, generator=g, dtype=torch.float64), 0)
    kl = float((p * (p.log() - q.log())).sum())
    logp, logq = p.log()[None], q.log()[None]
    for estimator in ("k1", "k3"):
        per_token = F.kl_penalty(logp, logq, estimator=estimator, reduction="none")
        assert float((p * per_token[0]).sum()) == pytest.approx(kl, rel=1e-12)
    # formulas with r = q / p (Schulman 2020)
    r = (q / p)[None]
    torch.testing.assert_close(F.kl_penalty(logp, logq, estimator="k1", reduction="none"),
                               -torch.log(r))
    torch.testing.assert_close(F.kl_penalty(logp, logq, estimator="k2", reduction="none"),
                               torch.log(r) ** 2 / 2)
    torch.testing.assert_close(F.kl_penalty(logp, logq, estimator="k3", reduction="none"),
                               (r - 1) - torch.log(r))
    mask = torch.tensor([[True, False, True, True, False, True, True]])
    assert F.kl_penalty(logp, logq, mask=mask).item() == pytest.approx(
        float(((r - 1) - torch.log(r))[mask].mean()))
    with pytest.raises(losskit.LossInputError, match="estimator"):
        F.kl_penalty(logp, logq, estimator="k4")


def test_k3_gradient_pulls_toward_the_reference():
    logp = torch.tensor([[-1.0, -3.0]], dtype=torch.float64, requires_grad=True)
    ref = torch.tensor([[-2.0, -2.0]], dtype=torch.float64)
    (g,) = torch.autograd.grad(F.kl_penalty(logp, ref, reduction="sum"), logp)
    # d/dlogp of e^(ref - logp) - (ref - logp) - 1 = 1 - e^(ref - logp)
    torch.testing.assert_close(g, 1 - torch.exp(ref - logp.detach()))


def test_nan_propagates_through_clip_and_mask_rules():
    logps, old, adv, mask = _batch(seed=9)
    for which in range(3):
        args = [logps.detach().clone(), old.clone(), adv.clone()]
        args[which][0, 0] = float("nan")
        assert torch.isnan(F.ppo_clip(*args, mask=mask))
        assert torch.isnan(F.ppo_value(*args, mask=mask))
    rewards = torch.tensor([float("nan"), 1.0, 0.0, 1.0], dtype=torch.float64)
    assert torch.isnan(F.grpo(logps, old, rewards, group_size=2))


@pytest.mark.parametrize("pad", [float("nan"), float("-inf")])
@pytest.mark.parametrize("call", [
    lambda lp, old, adv, mask: F.ppo_clip(lp, old, adv, mask=mask),
    lambda lp, old, adv, mask: F.ppo_value(lp, old, adv, mask=mask),
    lambda lp, old, adv, mask: F.kl_penalty(lp, old, estimator="k1", mask=mask),
    lambda lp, old, adv, mask: F.kl_penalty(lp, old, estimator="k2", mask=mask),
    lambda lp, old, adv, mask: F.kl_penalty(lp, old, estimator="k3", mask=mask),
    lambda lp, old, adv, mask: F.grpo(lp, old, adv[:, 0], group_size=2, mask=mask, beta=0.1,
                                      reference_logps=old),
], ids=["ppo_clip", "ppo_value", "k1", "k2", "k3", "grpo"])
def test_padding_of_nan_or_minus_inf_reaches_neither_value_nor_gradient(call, pad):
    # Padded tokens may hold anything (NaN, -inf log-probabilities): with the mask off there,
    # value and gradients equal those of the same batch padded with zeros. k2 and ppo_value
    # once gave NaN gradients at the padding.
    logps, old, adv, mask = _batch(seed=10)
    assert not mask.all()
    results = []
    for fill in (0.0, pad):
        lp = logps.detach().masked_fill(~mask, fill).requires_grad_(True)
        out = call(lp, old.masked_fill(~mask, fill), adv, mask)
        (grad,) = torch.autograd.grad(out, lp)
        results.append((out, grad))
    (want, want_grad), (got, got_grad) = results
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got_grad, want_grad)
    assert torch.equal(got_grad[~mask], torch.zeros_like(got_grad[~mask]))


def test_kl_estimator_gradients_in_expectation():
    # With tokens drawn from pi = softmax(theta) (the sampling itself not differentiated),
    # E[grad k2] = grad KL(pi || ref), E[grad k3] = grad KL(ref || pi), E[grad k1] = 0:
    # enumerate the vocabulary, weighting each token by its probability (a constant).
    g = torch.Generator().manual_seed(10)
    theta = torch.randn(6, generator=g, dtype=torch.float64, requires_grad=True)
    ref = torch.log_softmax(torch.randn(6, generator=g, dtype=torch.float64), 0)
    logp = torch.log_softmax(theta, 0)
    p = logp.exp().detach()

    def expected_grad(estimator):
        per_token = F.kl_penalty(logp[None], ref[None], estimator=estimator, reduction="none")
        return torch.autograd.grad((p * per_token[0]).sum(), theta, retain_graph=True)[0]

    forward_kl = (logp.exp() * (logp - ref)).sum()
    reverse_kl = (ref.exp() * (ref - logp)).sum()
    torch.testing.assert_close(expected_grad("k1"), torch.zeros(6, dtype=torch.float64))
    torch.testing.assert_close(expected_grad("k2"),
                               torch.autograd.grad(forward_kl, theta, retain_graph=True)[0])
    torch.testing.assert_close(expected_grad("k3"),
                               torch.autograd.grad(reverse_kl, theta, retain_graph=True)[0])
