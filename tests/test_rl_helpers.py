"""losskit.rl: gae against a plain Python loop (Schulman et al. 2016, eqs. 11-16, with episode
ends), and sequence_logps against log_softmax + gather in float64, its block-wise
accelerator against the plain definition, and what autograd keeps for backward."""

from __future__ import annotations

import pytest
import torch

import losskit
from losskit import kernels, rl
from losskit.kernels import token_logps


def _gae_loop(rewards, values, dones, last, gamma, lam):
    """One trajectory, backwards, written from the GAE paper with episode cuts."""
    n = len(rewards)
    adv = [0.0] * n
    following = 0.0
    for t in reversed(range(n)):
        next_value = last if t == n - 1 else values[t + 1]
        alive = 0.0 if dones[t] else 1.0
        delta = rewards[t] + gamma * next_value * alive - values[t]
        following = delta + gamma * lam * alive * following
        adv[t] = following
    return adv


def test_gae_matches_a_loop_with_episode_ends():
    g = torch.Generator().manual_seed(0)
    rewards = torch.randn(3, 2, 9, generator=g, dtype=torch.float64)
    values = torch.randn(3, 2, 9, generator=g, dtype=torch.float64)
    dones = torch.rand(3, 2, 9, generator=g) > 0.7
    last = torch.randn(3, 2, generator=g, dtype=torch.float64)
    adv, ret = rl.gae(rewards, values, dones=dones, last_value=last, gamma=0.9, lam=0.8)
    for i in range(3):
        for j in range(2):
            expected = _gae_loop(rewards[i, j].tolist(), values[i, j].tolist(),
                                 dones[i, j].tolist(), last[i, j].item(), 0.9, 0.8)
            torch.testing.assert_close(adv[i, j], torch.tensor(expected, dtype=torch.float64))
    torch.testing.assert_close(ret, adv + values)
    # float 0/1 dones mean the same as bool ones
    adv_f, _ = rl.gae(rewards, values, dones=dones.double(), last_value=last, gamma=0.9,
                      lam=0.8)
    torch.testing.assert_close(adv_f, adv)


def test_gae_limits():
    g = torch.Generator().manual_seed(1)
    rewards = torch.randn(4, 6, generator=g, dtype=torch.float64)
    values = torch.randn(4, 6, generator=g, dtype=torch.float64)
    gamma = 0.95
    # lam = 0: the one-step TD error r_t + gamma V_{t+1} - V_t (no bootstrap after the end)
    adv0, _ = rl.gae(rewards, values, gamma=gamma, lam=0.0)
    next_values = torch.cat([values[:, 1:], torch.zeros(4, 1, dtype=torch.float64)], 1)
    torch.testing.assert_close(adv0, rewards + gamma * next_values - values)
    # lam = 1: discounted return-to-go minus the value
    _, ret1 = rl.gae(rewards, values, gamma=gamma, lam=1.0)
    to_go = torch.zeros_like(rewards)
    running = torch.zeros(4, dtype=torch.float64)
    for t in reversed(range(6)):
        running = rewards[:, t] + gamma * running
        to_go[:, t] = running
    torch.testing.assert_close(ret1, to_go)
    # a done at every step: the advantage is r - V, nothing flows between steps
    adv_done, _ = rl.gae(rewards, values, dones=torch.ones(4, 6, dtype=torch.bool))
    torch.testing.assert_close(adv_done, rewards - values)


def test_gae_detached_half_precision_and_errors():
    rewards = torch.randn(2, 5, dtype=torch.float16)
    values = torch.randn(2, 5, dtype=torch.float16, requires_grad=True)
    adv, ret = rl.gae(rewards, values)
    assert adv.dtype == torch.float32 and not ret.requires_grad
    empty, _ = rl.gae(torch.zeros(2, 0), torch.zeros(2, 0))
    assert empty.shape == (2, 0)
    with pytest.raises(losskit.LossInputError, match="last_value"):
        rl.gae(rewards, values, last_value=torch.zeros(5))
    with pytest.raises(losskit.LossInputError, match="lam"):
        rl.gae(rewards, values, lam=1.5)


# --- sequence_logps --------------------------------------------------------------------------


def _lm_batch(b=3, t=7, v=13, seed=2, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(b, t, v, generator=g, dtype=torch.float64) * 3).to(dtype)
    labels = torch.randint(0, v, (b, t), generator=g)
    labels[0, :2] = -100
    labels[-1, 4:] = -100
    return logits.requires_grad_(True), labels


def _reference(logits, labels, average=False):
    logp = torch.log_softmax(logits.double(), -1)
    valid = labels != -100
    picked = logp.gather(-1, labels.clamp_min(0)[..., None]).squeeze(-1) * valid
    total = picked.sum(-1)
    return total / valid.sum(-1) if average else total


@pytest.fixture(params=["auto", "plain"])
def path(request):
    with kernels.use(request.param):
        yield request.param


@pytest.fixture
def small_blocks(monkeypatch):
    # two or three rows per block: every sequence is walked in several blocks
    monkeypatch.setattr(token_logps, "BLOCK_BYTES", 3 * 13 * 8 - 1)


def test_sequence_logps_matches_log_softmax_gather(path, small_blocks):
    logits, labels = _lm_batch()
    for average in (False, True):
        ours = rl.sequence_logps(logits, labels, average=average)
        ref = _reference(logits, labels, average)
        torch.testing.assert_close(ours, ref)
        g_ours, = torch.autograd.grad(ours.sum() * 2, logits)
        g_ref, = torch.autograd.grad(ref.sum() * 2, logits)
        torch.testing.assert_close(g_ours, g_ref)


def test_sequence_logps_edge_cases(path):
    logits, labels = _lm_batch(seed=3)
    labels[1] = -100
    out = rl.sequence_logps(logits, labels, average=True)
    assert out[1].item() == 0.0 and torch.isfinite(out).all()
    empty = rl.sequence_logps(logits[:0], labels[:0])
    assert empty.shape == (0,)
    # logits of magnitude 1e4 stay finite
    big = (logits.detach() * 3e3).requires_grad_(True)
    value = rl.sequence_logps(big, labels)
    assert torch.isfinite(value).all()
    assert torch.isfinite(torch.autograd.grad(value.sum(), big)[0]).all()
    with pytest.raises(losskit.LossInputError, match="labels"):
        rl.sequence_logps(logits, labels[:, :3])
    with pytest.raises(losskit.LossInputError, match="class index"):
        rl.sequence_logps(logits, labels + 100)


def test_sequence_logps_sliced_logits_next_token(path, small_blocks):
    # the usual shift: logits[:, :-1] score labels[:, 1:] (a non-contiguous view)
    logits, labels = _lm_batch(t=8, seed=4)
    ours = rl.sequence_logps(logits[:, :-1], labels[:, 1:])
    ref = _reference(logits[:, :-1], labels[:, 1:])
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(torch.autograd.grad(ours.sum(), logits)[0],
                               torch.autograd.grad(ref.sum(), logits)[0])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_sequence_logps_half_precision_accumulates_in_float32(dtype, small_blocks):
    logits, labels = _lm_batch(t=40, v=13, seed=5, dtype=dtype)
    out = rl.sequence_logps(logits, labels)
    assert out.dtype == torch.float32
    # exact on the same (rounded) logits, up to float32
    torch.testing.assert_close(out.double(), _reference(logits.detach(), labels),
                               rtol=1e-6, atol=1e-4)
    (grad,) = torch.autograd.grad(out.sum(), logits)
    assert grad.dtype == dtype
    (ref_grad,) = torch.autograd.grad(_reference(logits, labels).sum(), logits)
    torch.testing.assert_close(grad.double(), ref_grad.double(), rtol=2e-2, atol=1e-2)


def test_accelerator_keeps_no_second_logits_sized_tensor():
    logits, labels = _lm_batch(b=2, t=5, v=11, dtype=torch.bfloat16)
    size = logits.numel()
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = rl.sequence_logps(logits, labels)
    big = [t for t in saved if t.numel() >= size]
    # only the caller's own logits (same storage), no float32 copy or log-softmax
    assert big and all(t.data_ptr() == logits.data_ptr() for t in big)
    assert out.dtype == torch.float32


def test_accelerator_double_backward_is_the_definitions():
    logits, labels = _lm_batch(b=2, t=4, v=5, seed=6)
    weights = torch.randn(2, 4, 5, dtype=torch.float64)

    def grad_norm():
        out = rl.sequence_logps(logits, labels)
        (g,) = torch.autograd.grad(out.sum(), logits, create_graph=True)
        return (g * weights).sum()

    (hvp_auto,) = torch.autograd.grad(grad_norm(), logits)
    with kernels.use("plain"):
        (hvp_plain,) = torch.autograd.grad(grad_norm(), logits)
    torch.testing.assert_close(hvp_auto, hvp_plain)
    assert hvp_auto.abs().sum() > 0


def test_accelerator_runs_and_declines_under_vmap(monkeypatch):
    logits, labels = _lm_batch(b=3, t=4, v=6, seed=7)
    calls = []
    original = token_logps.TokenLogProbs.apply
    monkeypatch.setattr(token_logps.TokenLogProbs, "apply",
                        lambda *a: calls.append(1) or original(*a))
    (full,) = torch.autograd.grad(rl.sequence_logps(logits, labels).sum(), logits)
    assert calls == [1]
    with kernels.use("plain"):
        rl.sequence_logps(logits, labels)
    assert calls == [1]
    # per-sample gradients through torch.func: the Function declines, the definition runs
    per_sample = torch.func.vmap(torch.func.grad(
        lambda z, y: rl.sequence_logps(z[None], y[None]).sum()))(logits.detach(), labels)
    torch.testing.assert_close(per_sample, full)
    assert calls == [1]
