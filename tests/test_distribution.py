"""Distribution losses against named independent sources.

Sources: torch.nn.functional.kl_div (batchmean), scipy.spatial.distance.jensenshannon
(a peer library; it returns the square root of the divergence), closed forms worked by hand
(uniform logits have perplexity V), torch.nn.functional.cross_entropy and brute-force loops.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as TF

import losskit
from losskit import functional as F

D = torch.float64
TOL = {"rtol": 1e-6, "atol": 1e-6}


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def leaf(*shape, seed=0, scale=2.0):
    return (torch.randn(*shape, generator=gen(seed), dtype=D) * scale).requires_grad_(True)


def probs(*shape, seed=0, dim=1):
    return torch.softmax(torch.randn(*shape, generator=gen(seed), dtype=D) * 2, dim=dim)


def assert_same_value_and_grad(ours, theirs, x):
    torch.testing.assert_close(ours, theirs, **TOL)
    g1, = torch.autograd.grad(ours.sum(), x)
    g2, = torch.autograd.grad(theirs.sum(), x)
    torch.testing.assert_close(g1, g2, **TOL)


# --- kl_div: torch.nn.functional.kl_div on log_softmax inputs -----------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_kl_div_matches_torch_batchmean(reduction):
    x, p = leaf(6, 5, seed=1), probs(6, 5, seed=2)
    p[0, 1] = 0.0  # a class the target rules out: 0 log 0 = 0
    p[0] = p[0] / p[0].sum()
    torch_reduction = {"mean": "batchmean", "sum": "sum", "none": "none"}[reduction]
    theirs = TF.kl_div(TF.log_softmax(x, 1), p, reduction=torch_reduction)
    if reduction == "none":
        theirs = theirs.sum(1)
    assert_same_value_and_grad(F.kl_div(x, p, reduction=reduction), theirs, x)


def test_kl_div_log_target_matches_torch_and_accepts_teacher_logits():
    x = leaf(4, 6, seed=3)
    teacher = torch.randn(4, 6, generator=gen(4), dtype=D) * 3
    log_p = TF.log_softmax(teacher, 1)
    theirs = TF.kl_div(TF.log_softmax(x, 1), log_p, reduction="batchmean", log_target=True)
    assert_same_value_and_grad(F.kl_div(x, log_p, log_target=True), theirs, x)
    # unnormalised teacher logits give the same divergence
    torch.testing.assert_close(F.kl_div(x, teacher, log_target=True), theirs, **TOL)
    torch.testing.assert_close(F.kl_div(x, log_p.exp()), theirs, **TOL)


def test_kl_div_dense_mean_is_per_distribution():
    # [N, C, H, W]: 'none' is the KL of each of the N*H*W distributions (torch, summed over C).
    x, p = leaf(2, 3, 4, 5, seed=5), probs(2, 3, 4, 5, seed=6)
    per_position = TF.kl_div(TF.log_softmax(x, 1), p, reduction="none").sum(1)
    assert_same_value_and_grad(F.kl_div(x, p, reduction="none"), per_position, x)
    torch.testing.assert_close(F.kl_div(x, p), per_position.mean(), **TOL)


def test_kl_div_is_cross_entropy_minus_target_entropy():
    # Identity KL(p || q) = H(p, q) - H(p); H(p, q) from torch's soft-target cross_entropy.
    x, p = leaf(5, 4, seed=7), probs(5, 4, seed=8)
    entropy = -(p * p.log()).sum(1).mean()
    torch.testing.assert_close(F.kl_div(x, p), TF.cross_entropy(x, p) - entropy, **TOL)


def test_kl_div_extreme_logits_finite_in_low_precision():
    for dtype in (torch.float16, torch.bfloat16):
        x = torch.tensor([[1e4, -1e4, 0.0]], dtype=dtype, requires_grad=True)
        p = torch.tensor([[0.0, 0.5, 0.5]], dtype=dtype)
        for fn in (F.kl_div, F.js_div):
            out = fn(x, p)
            (g,) = torch.autograd.grad(out, x)
            assert out.dtype == torch.float32 and torch.isfinite(out) and torch.isfinite(g).all()


# --- js_div: scipy.spatial.distance.jensenshannon ------------------------------------------


def test_js_div_matches_scipy():
    from scipy.spatial.distance import jensenshannon

    x, p = leaf(6, 5, seed=9), probs(6, 5, seed=10)
    p[2] = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0], dtype=D)  # zeros in the target
    q = torch.softmax(x.detach(), 1).numpy()
    expected = torch.tensor([jensenshannon(p[i].numpy(), q[i]) ** 2 for i in range(6)], dtype=D)
    torch.testing.assert_close(F.js_div(x, p, reduction="none"), expected, **TOL)


def test_js_div_closed_forms_and_symmetry():
    # Disjoint supports: log 2 nats (worked by hand); identical distributions: 0.
    x = torch.tensor([[0.0, -1e4]], dtype=D)
    torch.testing.assert_close(F.js_div(x, torch.tensor([[0.0, 1.0]], dtype=D)),
                               torch.tensor(math.log(2), dtype=D))
    p = probs(3, 4, seed=11)
    torch.testing.assert_close(F.js_div(p.log(), p), torch.tensor(0.0, dtype=D), atol=1e-12, rtol=0)
    # symmetric: JS(p, q) = JS(q, p)
    q = probs(3, 4, seed=12)
    torch.testing.assert_close(F.js_div(q.log(), p), F.js_div(p.log(), q), **TOL)
    torch.testing.assert_close(F.js_div(q.log(), p.log(), log_target=True), F.js_div(q.log(), p),
                               **TOL)


def test_js_div_gradient_matches_finite_differences_with_zero_target_entries():
    x = leaf(2, 4, seed=13).detach().requires_grad_(True)
    p = torch.tensor([[0.0, 0.3, 0.7, 0.0], [1.0, 0.0, 0.0, 0.0]], dtype=D)
    assert torch.autograd.gradcheck(lambda t: F.js_div(t, p), (x,))


# --- perplexity: closed forms, torch cross_entropy, brute force ----------------------------


def test_perplexity_of_uniform_logits_is_vocabulary_size():
    # Closed form: a uniform prediction over V tokens has perplexity exactly V.
    tokens = torch.randint(0, 11, (3, 4), generator=gen(1))
    out = F.perplexity(torch.zeros(3, 4, 11, dtype=D), tokens)
    torch.testing.assert_close(out, torch.tensor(11.0, dtype=D))


def test_perplexity_token_input_is_exp_of_torch_cross_entropy():
    x = leaf(9, 7, seed=20)
    y = torch.randint(0, 7, (9,), generator=gen(21))
    assert_same_value_and_grad(F.perplexity(x, y), torch.exp(TF.cross_entropy(x, y)), x)
    torch.testing.assert_close(F.perplexity(x, y, reduction="none"),
                               torch.exp(TF.cross_entropy(x, y, reduction="none")), **TOL)


def test_perplexity_sequences_with_mask_and_ignore_index():
    # Source: torch cross_entropy on the flattened counted tokens only.
    x = leaf(3, 6, 8, seed=22)
    y = torch.randint(0, 8, (3, 6), generator=gen(23))
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[0, 4:] = False
    mask[2, 1:] = False
    y_ignored = torch.where(mask, y, -100)
    counted = mask.reshape(-1)
    corpus = torch.exp(TF.cross_entropy(x.reshape(-1, 8)[counted], y.reshape(-1)[counted]))
    assert_same_value_and_grad(F.perplexity(x, y, mask=mask), corpus, x)
    torch.testing.assert_close(F.perplexity(x, y_ignored), corpus, **TOL)
    torch.testing.assert_close(F.perplexity(x, y, mask=mask.long()), corpus, **TOL)  # 0/1 mask
    per_sequence = torch.stack([
        torch.exp(TF.cross_entropy(x[b][mask[b]], y[b][mask[b]])) for b in range(3)])
    torch.testing.assert_close(F.perplexity(x, y, mask=mask, reduction="none"), per_sequence, **TOL)
    torch.testing.assert_close(F.perplexity(x, y, mask=mask, reduction="sum"), per_sequence.sum(),
                               **TOL)


def test_perplexity_empty_selection_is_zero_with_zero_gradient():
    x = leaf(2, 3, 5, seed=24)
    y = torch.randint(0, 5, (2, 3), generator=gen(25))
    padded = torch.zeros(2, 3, dtype=torch.bool)
    out = F.perplexity(x, y, mask=padded)
    assert out.item() == 0.0
    assert not torch.autograd.grad(out, x)[0].any()
    # a fully padded sequence gets 0 in 'none', the others their perplexity
    padded[0] = True
    per_sequence = F.perplexity(x, y, mask=padded, reduction="none")
    assert per_sequence[1].item() == 0.0 and per_sequence[0].item() > 1.0
    empty = F.perplexity(torch.zeros(0, 4, 5, dtype=D), torch.zeros(0, 4, dtype=torch.long))
    assert empty.item() == 0.0


def test_perplexity_rejects_class_first_layout():
    with pytest.raises(losskit.LossInputError, match=r"input\.shape\[:-1\]"):
        F.perplexity(torch.randn(2, 5, 3), torch.zeros(2, 3, dtype=torch.long))


def _masked_and_dropped(fn, x, target, dropped_target, **kw):
    """fn on [N, C] inputs whose last class is -inf, and on the first C - 1 classes."""
    xm = x.detach().clone().requires_grad_(True)
    out = fn(xm, target, **kw)
    (g,) = torch.autograd.grad(out, xm)
    xd = x.detach()[:, :-1].clone().requires_grad_(True)
    ref = fn(xd, dropped_target, **kw)
    (gd,) = torch.autograd.grad(ref, xd)
    return out, g, ref, gd


@pytest.mark.parametrize(("loss", "form"), [
    ("kl_div", "probabilities"), ("kl_div", "log_target"), ("kl_div", "log_probs_input"),
    ("js_div", "probabilities"), ("js_div", "log_target"),
])
def test_a_class_masked_to_minus_inf_on_both_sides_counts_for_nothing(loss, form):
    # Masked logits (padding, banned tokens) put -inf where the target has probability 0:
    # 0 log 0 = 0, so value and gradients equal those of the distributions without that
    # class, and its gradient is 0 (torch's F.kl_div gives NaN here).
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 6, generator=g, dtype=torch.float64)
    x[:, -1] = float("-inf")
    p = torch.softmax(torch.randn(4, 6, generator=g, dtype=torch.float64), 1)
    p[:, -1] = 0.0
    p = p / p.sum(1, keepdim=True)
    fn = getattr(F, loss)
    kw = {}
    target, dropped = p, p[:, :-1]
    if form == "log_target":
        target, dropped, kw = p.log(), p[:, :-1].log(), {"log_target": True}
    if form == "log_probs_input":
        x = torch.log_softmax(x, 1)
        kw = {"input_kind": "log_probs"}
    out, grad, ref, ref_grad = _masked_and_dropped(fn, x, target, dropped, **kw)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(grad[:, :-1], ref_grad)
    assert torch.equal(grad[:, -1], torch.zeros(4, dtype=torch.float64))
    if loss == "kl_div":  # torch's batchmean on the live classes, an independent value
        want = torch.nn.functional.kl_div(torch.log_softmax(x[:, :-1], 1), p[:, :-1],
                                          reduction="batchmean")
        torch.testing.assert_close(out, want)
