"""Sequence losses against torch's ctc_loss / cross_entropy, a brute-force CTC and perplexity."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as tF

import losskit
import losskit.functional as F


def _ctc_batch(T=10, N=4, C=5, S=4, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(T, N, C, generator=g, dtype=dtype) * 2
    targets = torch.randint(1, C, (N, S), generator=g)
    target_lengths = torch.tensor([4, 1, 3, 0])[:N]
    input_lengths = torch.tensor([T, T - 2, T - 1, T - 3])[:N]
    return logits, targets, input_lengths, target_lengths


def _brute_force_ctc(log_probs, target, length, blank=0):
    """-log of the summed probability of every frame path that collapses to ``target``."""
    frames, classes = log_probs[:length].shape
    total = torch.zeros((), dtype=log_probs.dtype)
    for path in itertools.product(range(classes), repeat=frames):
        collapsed = [c for i, c in enumerate(path) if c != blank and (i == 0 or path[i - 1] != c)]
        if collapsed == list(target):
            total = total + torch.exp(sum(log_probs[t, c] for t, c in enumerate(path)))
    return -torch.log(total)


# --- CTC -----------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ctc_matches_torch_padded_and_concatenated(reduction):
    logits, targets, il, tl = _ctc_batch()
    lp = logits.log_softmax(2).requires_grad_(True)
    expected = tF.ctc_loss(lp, targets, il, tl, reduction=reduction, zero_infinity=True)
    torch.testing.assert_close(F.ctc(lp, targets, il, tl, reduction=reduction), expected)
    concatenated = torch.cat([targets[i, :tl[i]] for i in range(len(tl))])
    torch.testing.assert_close(F.ctc(lp, concatenated, il, tl, reduction=reduction), expected)


@pytest.mark.parametrize("mode", ["auto", "plain"], ids=["torch-kernel", "definition"])
def test_ctc_matches_brute_force_alignment_enumeration(mode):
    # Both paths: torch's kernel (the accelerator) and the forward algorithm (definition).
    with losskit.kernels.use(mode):
        _brute_force_cases()


def _brute_force_cases():
    g = torch.Generator().manual_seed(1)
    lp = torch.randn(5, 4, 3, generator=g, dtype=torch.float64).log_softmax(2)
    targets = torch.tensor([[1, 2, 0], [1, 1, 0], [2, 0, 0], [1, 2, 1]])
    tl, il = torch.tensor([2, 2, 1, 3]), torch.tensor([5, 4, 3, 5])
    expected = torch.stack([_brute_force_ctc(lp[:, i], targets[i, :tl[i]].tolist(), int(il[i]))
                            for i in range(4)])
    torch.testing.assert_close(F.ctc(lp, targets, il, tl, reduction="none"), expected)
    # blank as the last class instead of 0
    t2 = torch.tensor([[0, 1], [1, 1], [0, 0], [1, 0]])
    expected = torch.stack([_brute_force_ctc(lp[:, i], t2[i, :tl[i] if i != 3 else 2].tolist(),
                                             int(il[i]), blank=2) for i in range(4)])
    tl2 = torch.tensor([2, 2, 1, 2])
    torch.testing.assert_close(F.ctc(lp, t2, il, tl2, blank=2, reduction="none"), expected)


def _ctc_gradient(lp, targets, il, tl, mode):
    leaf = lp.detach().clone().requires_grad_(True)
    with losskit.kernels.use(mode):
        out = F.ctc(leaf, targets, il, tl, reduction="sum")
    return out.detach(), torch.autograd.grad(out, leaf)[0]


def test_ctc_gradient_is_minus_the_occupancy_on_every_path():
    # d(-log p)/d log_probs[t, c] = -occupancy[t, c]: the occupancies of each frame inside a
    # sample's input sum to 1 over the classes (every path emits one class per frame), and
    # the frames after it get 0. torch's own backward returns exp(log_probs) - occupancy.
    logits, targets, il, tl = _ctc_batch(seed=4)
    lp = logits.log_softmax(2)
    for mode in ("auto", "plain"):
        _, grad = _ctc_gradient(lp, targets, il, tl, mode)
        inside = torch.arange(lp.shape[0])[:, None] < il[None, :]
        torch.testing.assert_close(grad.sum(2), -inside.double())
        assert (grad <= 1e-12).all()


def test_ctc_padding_values_beyond_the_lengths_are_never_read():
    # Padding with -1 (not a class) past each target's length, as torch allows.
    logits, targets, il, tl = _ctc_batch(seed=5)
    lp = logits.log_softmax(2)
    padded = torch.where(torch.arange(targets.shape[1])[None, :] < tl[:, None], targets, -1)
    want = tF.ctc_loss(lp, targets, il, tl, reduction="sum", zero_infinity=True)
    for mode in ("auto", "plain"):
        value, grad = _ctc_gradient(lp, padded, il, tl, mode)
        torch.testing.assert_close(value, want)
        torch.testing.assert_close(grad, _ctc_gradient(lp, targets, il, tl, mode)[1])


@pytest.mark.parametrize("lengths", [[0, 0, 0], [0, 1, 0]], ids=["no-labels", "one-label"])
def test_ctc_concatenated_targets_of_zero_or_one_label(lengths):
    # The definition spreads concatenated targets over len(targets) columns: 0 or 1 here.
    g = torch.Generator().manual_seed(6)
    lp = torch.randn(4, 3, 5, generator=g, dtype=torch.float64).log_softmax(2)
    tl = torch.tensor(lengths)
    targets = torch.tensor([3] * sum(lengths), dtype=torch.long)
    il = torch.tensor([4, 3, 2])
    want = tF.ctc_loss(lp, targets, il, tl, reduction="none")
    for mode in ("auto", "plain"):
        with losskit.kernels.use(mode):
            torch.testing.assert_close(F.ctc(lp, targets, il, tl, reduction="none"), want)


def test_ctc_gradient_through_log_softmax_is_exact():
    logits, targets, il, tl = _ctc_batch(T=6, N=3, C=4, S=3, seed=2)
    tl = torch.tensor([3, 1, 2])
    assert torch.autograd.gradcheck(
        lambda x: F.ctc(x.log_softmax(2), targets, il[:3] - 2, tl),
        (logits[:, :3].clone().requires_grad_(True),))


def test_ctc_infeasible_target_counts_repeats():
    lp = torch.randn(3, 2, 4).log_softmax(2)
    targets = torch.tensor([[1, 1], [1, 2]])
    tl, il = torch.tensor([2, 2]), torch.tensor([2, 2])
    # [1, 1] needs 3 frames (1, blank, 1); [1, 2] fits in 2.
    with pytest.raises(losskit.LossInputError, match=r"targets\[0\].*needs 3 frames"):
        F.ctc(lp, targets, il, tl, zero_infinity=False)
    out = F.ctc(lp, targets, il, tl, reduction="none")
    assert out[0].item() == 0.0 and out[1].item() > 0
    F.ctc(lp, targets, torch.tensor([3, 2]), tl, zero_infinity=False)  # feasible: no error


def test_ctc_bad_inputs_raise():
    lp = torch.randn(4, 2, 3).log_softmax(2)
    with pytest.raises(losskit.LossInputError, match="blank"):
        F.ctc(lp, torch.tensor([[0, 1], [1, 2]]), torch.tensor([4, 4]), torch.tensor([2, 2]))
    with pytest.raises(losskit.LossInputError, match="input_lengths"):
        F.ctc(lp, torch.tensor([[1, 2], [1, 2]]), torch.tensor([5, 4]), torch.tensor([2, 2]))
    with pytest.raises(losskit.LossInputError, match="classes"):
        F.ctc(lp, torch.tensor([[1, 3], [1, 2]]), torch.tensor([4, 4]), torch.tensor([2, 2]))
    with pytest.raises(losskit.LossInputError, match="sum"):
        F.ctc(lp, torch.tensor([1, 2, 1]), torch.tensor([4, 4]), torch.tensor([2, 2]))
    with pytest.raises(losskit.LossInputError, match="log_probs"):
        F.ctc(lp[:, 0], torch.tensor([[1]]), torch.tensor([4]), torch.tensor([1]))


def test_ctc_half_precision_and_empty_batch():
    logits, targets, il, tl = _ctc_batch(dtype=torch.float32)
    lp16 = logits.log_softmax(2).half()
    out = F.ctc(lp16, targets, il, tl)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, tF.ctc_loss(lp16.float(), targets, il, tl, zero_infinity=True))
    empty = torch.randn(6, 0, 4).log_softmax(2).requires_grad_(True)
    out = F.ctc(empty, torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, dtype=torch.long),
                torch.zeros(0, dtype=torch.long))
    assert out.item() == 0.0 and not torch.autograd.grad(out, empty)[0].any()


def test_ctc_is_invariant_to_batch_order():
    logits, targets, il, tl = _ctc_batch(seed=3)
    lp = logits.log_softmax(2)
    perm = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(F.ctc(lp[:, perm], targets[perm], il[perm], tl[perm]),
                               F.ctc(lp, targets, il, tl))


# --- sequence cross-entropy ------------------------------------------------------------------


def _tokens(B=4, T=6, V=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(B, T, V, generator=g, dtype=torch.float64) * 2).requires_grad_(True)
    target = torch.randint(0, V, (B, T), generator=g)
    mask = torch.arange(T)[None] < torch.tensor([6, 3, 1, 0])[:, None]  # last sequence empty
    return logits, target, mask


def test_token_average_equals_torch_cross_entropy_over_kept_tokens():
    logits, target, mask = _tokens()
    target = target.masked_fill(~mask, -100)  # torch's way to mark padding
    for smoothing in (0.0, 0.1):
        expected = tF.cross_entropy(logits.transpose(1, 2), target, label_smoothing=smoothing)
        ours = F.sequence_cross_entropy(logits, target, label_smoothing=smoothing)
        torch.testing.assert_close(ours, expected)
        torch.testing.assert_close(torch.autograd.grad(ours, logits)[0],
                                   torch.autograd.grad(expected, logits)[0])


def test_mask_and_ignore_index_are_equivalent():
    logits, target, mask = _tokens(seed=1)
    a = F.sequence_cross_entropy(logits, target, mask=mask, reduction="none")
    b = F.sequence_cross_entropy(logits, target.masked_fill(~mask, -1), ignore_index=-1,
                                 reduction="none")
    torch.testing.assert_close(a, b)
    assert (a[~mask] == 0).all()


def test_masked_tokens_may_hold_any_id_and_the_mask_must_be_zero_one():
    # Padding under mask= is never read as a token id (a pad id of -1 was refused as out of
    # range); a mask of other values than 0 / 1 is refused (0.5 counted as 1).
    logits, target, mask = _tokens(seed=2)
    want = F.sequence_cross_entropy(logits, target, mask=mask)
    padded = target.masked_fill(~mask, -1)
    torch.testing.assert_close(F.sequence_cross_entropy(logits, padded, mask=mask), want)
    torch.testing.assert_close(F.sequence_cross_entropy(logits, padded, mask=mask.float()), want)
    with pytest.raises(losskit.LossInputError, match="mask must be bool or hold 0 / 1"):
        F.sequence_cross_entropy(logits, target, mask=mask.float() * 0.5)


def test_sequence_average_is_mean_of_per_sequence_means():
    logits, target, mask = _tokens(seed=2)
    per_token = tF.cross_entropy(logits.transpose(1, 2), target, reduction="none")
    # Loop over sequences: sequence 3 has no token and is left out of the mean.
    means = [per_token[b][mask[b]].mean() for b in range(3)]
    ours = F.sequence_cross_entropy(logits, target, mask=mask, average="sequence")
    torch.testing.assert_close(ours, torch.stack(means).mean())
    none = F.sequence_cross_entropy(logits, target, mask=mask, average="sequence",
                                    reduction="none")
    torch.testing.assert_close(none, torch.stack([*means, torch.zeros((), dtype=none.dtype)]))
    w = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=logits.dtype)
    torch.testing.assert_close(
        F.sequence_cross_entropy(logits, target, mask=mask, average="sequence", weight=w),
        (none * w).sum() / 3)


def test_fully_masked_batch_is_zero_attached():
    logits, target, _ = _tokens()
    for average in ("token", "sequence"):
        out = F.sequence_cross_entropy(logits, target, mask=torch.zeros_like(target),
                                       average=average)
        assert out.item() == 0.0
        assert not torch.autograd.grad(out, logits)[0].any()


def test_hand_worked_uniform_logits():
    # Uniform logits over V = 4: every counted token costs log 4.
    out = F.sequence_cross_entropy(torch.zeros(1, 3, 4), torch.tensor([[1, 2, 3]]),
                                   mask=torch.tensor([[1, 1, 0]]))
    assert out.item() == pytest.approx(math.log(4))


def test_bad_inputs_raise():
    with pytest.raises(losskit.LossInputError, match="target"):
        F.sequence_cross_entropy(torch.zeros(2, 3, 4), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(losskit.LossInputError, match="average"):
        F.sequence_cross_entropy(torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long),
                                 average="batch")
    with pytest.raises(losskit.LossInputError, match="mask"):
        F.sequence_cross_entropy(torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long),
                                 mask=torch.ones(2, 4))


def test_perplexity_is_exp_of_token_mean():
    perplexity = getattr(F, "perplexity", None)
    if perplexity is None:
        pytest.skip("losskit.functional.perplexity is not available yet")
    logits, target, mask = _tokens(seed=5)
    with torch.no_grad():
        expected = torch.exp(F.sequence_cross_entropy(logits, target, mask=mask))
        torch.testing.assert_close(perplexity(logits, target, mask=mask), expected)
        ignored = target.masked_fill(~mask, -100)
        torch.testing.assert_close(perplexity(logits, ignored), expected)


def test_ctc_target_longer_than_input_raises_even_with_zero_infinity():
    # 4 labels cannot be emitted in 3 frames under any alignment (CTC emits at most one
    # label per frame), so this is a caller error (typically swapped lengths), not a
    # numerically infinite loss for zero_infinity to hide.
    log_probs = torch.randn(3, 1, 5).log_softmax(-1)
    targets = torch.tensor([[1, 2, 3, 4]])
    with pytest.raises(losskit.LossInputError,
                       match=r"targets\[0\] has 4 labels but input_lengths\[0\] = 3"):
        F.ctc(log_probs, targets, torch.tensor([3]), torch.tensor([4]))


# --- language-model options: z_loss, softcap, normalizer ------------------------------------


def test_sequence_cross_entropy_z_loss_softcap_by_hand():
    # Expected values written from the formulas: softcap c tanh(x / c) first (Gemma 2), then
    # cross-entropy plus z_loss * logsumexp^2 per counted token (PaLM), token mean.
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 6, generator=g, dtype=torch.float64) * 3
    y = torch.randint(0, 6, (2, 4), generator=g)
    y[1, 3] = -100
    capped = 2.0 * torch.tanh(x / 2.0)
    lse = torch.logsumexp(capped, -1)
    per = lse - capped.gather(-1, y.clamp(min=0)[..., None]).squeeze(-1) + 1e-2 * lse ** 2
    counted = y != -100
    expected = per[counted].sum() / counted.sum()
    out = losskit.F.sequence_cross_entropy(x, y, z_loss=1e-2, softcap=2.0)
    torch.testing.assert_close(out, expected)


def test_normalizer_makes_gradient_accumulation_exact():
    # Two micro-batches with different token counts: dividing each by the global count and
    # summing equals the loss of the whole batch; each micro-batch's own mean does not.
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 5, 7, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 7, (4, 5), generator=g)
    y[0, 1:] = -100  # the first micro-batch holds few tokens
    whole = losskit.F.sequence_cross_entropy(x, y)
    (g_whole,) = torch.autograd.grad(whole, x)
    total = int((y != -100).sum())
    parts = [losskit.F.sequence_cross_entropy(x[i:i + 2], y[i:i + 2], normalizer=total)
             for i in (0, 2)]
    (g_acc,) = torch.autograd.grad(sum(parts), x)
    torch.testing.assert_close(sum(parts), whole)
    torch.testing.assert_close(g_acc, g_whole)
    naive = sum(losskit.F.sequence_cross_entropy(x[i:i + 2], y[i:i + 2]) for i in (0, 2)) / 2
    assert not torch.allclose(naive, whole)
    for fn in (losskit.F.cross_entropy,):
        flat = [fn(x[i:i + 2].reshape(-1, 7), y[i:i + 2].reshape(-1), normalizer=total)
                for i in (0, 2)]
        torch.testing.assert_close(sum(flat), whole)


# --- soft-DTW ----------------------------------------------------------------------------------
# Sources: Cuturi & Blondel (2017), Algorithm 1, written below in numpy (scipy's logsumexp);
# classic DTW (the min recursion) for the gamma -> 0 limit; Blondel, Mensch & Vert (2021) for
# the divergence (non-negative, 0 at x = y). The values also equal tslearn.metrics.soft_dtw
# (checked by hand: 10.44428952829168 at gamma 1 on a 7 x 5 pair, to the last digit).


def _sdtw_numpy(x, y, gamma, soft=True):
    from scipy.special import logsumexp

    n, m = len(x), len(y)
    r = np.full((n + 1, m + 1), np.inf)
    r[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            prev = np.array([r[i - 1, j - 1], r[i - 1, j], r[i, j - 1]])
            best = -gamma * logsumexp(-prev / gamma) if soft else prev.min()
            r[i, j] = ((x[i - 1] - y[j - 1]) ** 2).sum() + best
    return r[n, m]


@pytest.mark.parametrize("gamma", [2.0, 0.1, 0.01])
def test_soft_dtw_is_cuturi_and_blondels_recursion(gamma):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 7, 2, generator=g, dtype=torch.float64)
    y = torch.randn(3, 4, 2, generator=g, dtype=torch.float64)
    ours = F.soft_dtw(x, y, gamma=gamma, reduction="none")
    want = [_sdtw_numpy(x[b].numpy(), y[b].numpy(), gamma) for b in range(3)]
    torch.testing.assert_close(ours, torch.tensor(want, dtype=torch.float64), rtol=1e-12,
                               atol=1e-12)
    # [B, T] series are one feature; different lengths either way round
    torch.testing.assert_close(F.soft_dtw(x[..., 0], y[..., 0], gamma=gamma, reduction="none"),
                               torch.tensor([_sdtw_numpy(x[b, :, :1].numpy(),
                                                         y[b, :, :1].numpy(), gamma)
                                             for b in range(3)], dtype=torch.float64))


def test_soft_dtw_tends_to_dtw_and_its_divergence_is_a_divergence():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 6, 3, generator=g, dtype=torch.float64)
    y = torch.randn(4, 9, 3, generator=g, dtype=torch.float64)
    gamma = 1e-3
    dtw = torch.tensor([_sdtw_numpy(x[b].numpy(), y[b].numpy(), 0.0, soft=False)
                        for b in range(4)], dtype=torch.float64)
    soft = F.soft_dtw(x, y, gamma=gamma, reduction="none")
    # softmin <= min, and >= min - gamma log 3 at each of at most n + m - 1 steps
    assert (soft <= dtw + 1e-12).all() and (soft >= dtw - gamma * math.log(3) * 14).all()
    div = F.soft_dtw(x, y, gamma=1.0, normalize=True, reduction="none")
    assert (div > 0).all()
    same = F.soft_dtw(x, x.clone(), gamma=1.0, normalize=True, reduction="none")
    torch.testing.assert_close(same, torch.zeros(4, dtype=torch.float64), atol=1e-12, rtol=0)
    # raw soft-DTW is below 0 at input = target, and not minimized there (card's pitfall)
    assert (F.soft_dtw(x, x.clone(), gamma=1.0, reduction="none") < 0).all()


def test_soft_dtw_gradient_at_small_gamma_follows_the_dtw_path():
    # At gamma -> 0 the gradient is DTW's: 2 (x_i - y_j) summed over the best path's cells.
    # Two series whose best path is the diagonal: x = y + small noise, same length.
    g = torch.Generator().manual_seed(2)
    y = torch.cumsum(torch.rand(1, 8, 1, generator=g, dtype=torch.float64) + 0.5, 1)
    x = (y + 0.01 * torch.randn(1, 8, 1, generator=g, dtype=torch.float64)).requires_grad_(True)
    (grad,) = torch.autograd.grad(F.soft_dtw(x, y, gamma=1e-4, reduction="sum"), x)
    torch.testing.assert_close(grad, 2 * (x.detach() - y), rtol=1e-6, atol=1e-9)


def test_soft_dtw_bad_inputs():
    with pytest.raises(losskit.LossInputError, match="same batch size and number of features"):
        F.soft_dtw(torch.zeros(2, 5, 3), torch.zeros(2, 5, 2))
    with pytest.raises(losskit.LossInputError, match=r"\[B, T\] or \[B, T, D\]"):
        F.soft_dtw(torch.zeros(5), torch.zeros(5))
    with pytest.raises(losskit.LossInputError, match="gamma"):
        F.soft_dtw(torch.zeros(2, 5), torch.zeros(2, 5), gamma=0.0)
    with pytest.raises(losskit.LossInputError, match="at least one time step"):
        F.soft_dtw(torch.zeros(2, 0), torch.zeros(2, 5))
