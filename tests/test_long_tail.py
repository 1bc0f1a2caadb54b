"""Long-tail, noisy-label and scoring losses against their papers' formulas, written here.

Sources, each independent of losskit's code:
* logit adjustment: Menon et al., ICLR 2021, eq. (10):
  -log(pi_y^tau e^{x_y} / sum_c pi_c^tau e^{x_c});
* balanced softmax: Ren et al., NeurIPS 2020, eq. (4): -log(n_y e^{x_y} / sum_c n_c e^{x_c});
* generalized cross-entropy: Zhang & Sabuncu, NeurIPS 2018, eq. (6): (1 - p_y^q) / q;
* symmetric cross-entropy: Wang et al., ICCV 2019, eqs. (3)-(6): alpha CE + beta RCE with
  RCE = -sum_k p_k log q_k, log 0 := A = -4;
* bootstrapping: Reed et al., ICLR 2015 workshop, eqs. (6)-(7), predictions held constant;
* Brier score: Brier 1950, and scikit-learn's brier_score_loss (a peer implementation).
The values are computed with numpy in float64 from the definitions on probabilities.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import losskit
from losskit import functional as F
from losskit.verify import CHECKS

D = torch.float64
TOL = {"rtol": 1e-9, "atol": 1e-10}


def logits(n=6, c=5, seed=0, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, generator=g, dtype=D) * scale).requires_grad_(True)


def labels(n=6, c=5, seed=1):
    return torch.randint(0, c, (n,), generator=torch.Generator().manual_seed(seed))


def softmax_np(x: torch.Tensor) -> np.ndarray:
    z = x.detach().numpy()
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


PRIOR = torch.tensor([0.5, 0.25, 0.15, 0.07, 0.03], dtype=D)


# --- logit adjustment / balanced softmax ------------------------------------------------------


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 2.0])
def test_logit_adjusted_matches_menon_eq10(tau):
    x, y = logits(), labels()
    pi = PRIOR.numpy()
    z = x.detach().numpy()
    num = pi[y.numpy()] ** tau * np.exp(z[np.arange(6), y.numpy()])
    den = (pi[None, :] ** tau * np.exp(z)).sum(1)
    expected = -np.log(num / den)
    ours = F.logit_adjusted_cross_entropy(x, y, class_prior=PRIOR, tau=tau, reduction="none")
    np.testing.assert_allclose(ours.detach().numpy(), expected, rtol=1e-10)
    assert float(F.logit_adjusted_cross_entropy(x.detach(), y, class_prior=PRIOR, tau=tau)) == \
        pytest.approx(expected.mean(), rel=1e-10)


def test_logit_adjusted_priors_and_counts_give_the_same_loss_and_none_is_cross_entropy():
    x, y = logits(), labels()
    counts = PRIOR * 1234.0
    torch.testing.assert_close(F.logit_adjusted_cross_entropy(x, y, class_prior=PRIOR),
                               F.logit_adjusted_cross_entropy(x, y, class_prior=counts), **TOL)
    torch.testing.assert_close(F.logit_adjusted_cross_entropy(x, y), TF.cross_entropy(x, y),
                               **TOL)
    torch.testing.assert_close(F.logit_adjusted_cross_entropy(x, y, class_prior=PRIOR, tau=0.0),
                               TF.cross_entropy(x, y), **TOL)


def test_balanced_softmax_matches_ren_eq4_and_equals_logit_adjustment_at_tau_1():
    x, y = logits(seed=3), labels(seed=4)
    n = np.array([500.0, 120.0, 40.0, 9.0, 2.0])
    z = x.detach().numpy()
    expected = -np.log(n[y.numpy()] * np.exp(z[np.arange(6), y.numpy()])
                       / (n[None, :] * np.exp(z)).sum(1))
    counts = torch.tensor(n, dtype=D)
    ours = F.balanced_softmax(x, y, class_counts=counts, reduction="none")
    np.testing.assert_allclose(ours.detach().numpy(), expected, rtol=1e-10)
    torch.testing.assert_close(
        F.balanced_softmax(x, y, class_counts=counts),
        F.logit_adjusted_cross_entropy(x, y, class_prior=counts, tau=1.0), **TOL)


def test_logit_adjusted_raw_logits_are_the_balanced_posterior():
    """At the population optimum softmax(x + tau log pi) is the training posterior q, so
    softmax(x) = q / pi^tau (normalised): the gradient vanishes exactly there."""
    q = torch.tensor([[0.6, 0.25, 0.1, 0.04, 0.01]], dtype=D)
    x = (torch.log(q) - torch.log(PRIOR)).requires_grad_(True)
    loss = F.logit_adjusted_cross_entropy(x, q, class_prior=PRIOR)
    (g,) = torch.autograd.grad(loss, x)
    assert float(g.abs().max()) < 1e-12
    balanced = torch.softmax(x.detach(), 1)
    torch.testing.assert_close(balanced, (q / PRIOR) / (q / PRIOR).sum(), **TOL)


def test_logit_adjusted_tau_gradient_matches_finite_differences():
    x, y = logits().detach(), labels()
    tau = torch.tensor(0.8, dtype=D, requires_grad=True)
    torch.autograd.gradcheck(
        lambda t: F.logit_adjusted_cross_entropy(x, y, class_prior=PRIOR, tau=t), (tau,))


def test_logit_adjustment_options_pass_through_to_cross_entropy():
    x = logits(n=4, c=3, seed=5)
    y = torch.tensor([0, 2, -100, 1])
    prior = torch.tensor([0.7, 0.2, 0.1], dtype=D)
    shifted = x + torch.log(prior)
    cw = torch.tensor([1.0, 2.0, 3.0], dtype=D)
    for kw in ({}, {"class_weight": cw}, {"label_smoothing": 0.1}):
        torch.testing.assert_close(
            F.logit_adjusted_cross_entropy(x, y, class_prior=prior, **kw),
            TF.cross_entropy(shifted, y, weight=kw.get("class_weight"),
                             label_smoothing=kw.get("label_smoothing", 0.0)), **TOL)


@pytest.mark.parametrize("bad, match", [
    (torch.tensor([0.5, 0.5]), r"shape \[C\]"),
    (torch.tensor([0.5, 0.0, 0.3, 0.1, 0.1]), "positive"),
    (torch.tensor([0.5, -0.1, 0.3, 0.2, 0.1]), "positive"),
])
def test_bad_priors_raise(bad, match):
    x, y = logits(), labels()
    with pytest.raises(losskit.LossInputError, match=match):
        F.logit_adjusted_cross_entropy(x, y, class_prior=bad)
    with pytest.raises(losskit.LossInputError, match=match):
        F.balanced_softmax(x, y, class_counts=bad)


def test_logit_adjustment_with_a_real_prior_passes_the_conformance_checks():
    """The common suite runs the registered default (no prior); here the same checks run
    with a skewed prior bound (meta, vmap, double backward, learnable tau, NaN, ...)."""
    checks = [c for c in CHECKS if c not in ("reference", "compile", "convergence")]
    for fn, bound in ((F.logit_adjusted_cross_entropy, {"class_prior": PRIOR}),
                      (F.balanced_softmax, {"class_counts": PRIOR * 100})):
        report = losskit.check(functools.partial(fn, **bound), task="multiclass",
                               checks=checks)
        failed = [r for r in report.results if r.status == "failed"]
        assert not failed, [(r.name, r.detail) for r in failed]


# --- generalized cross-entropy -----------------------------------------------------------------


@pytest.mark.parametrize("q", [0.1, 0.5, 0.7, 1.0])
def test_gce_matches_zhang_sabuncu(q):
    x, y = logits(seed=7), labels(seed=8)
    p_y = softmax_np(x)[np.arange(6), y.numpy()]
    expected = (1 - p_y ** q) / q
    ours = F.generalized_cross_entropy(x, y, q=q, reduction="none")
    np.testing.assert_allclose(ours.detach().numpy(), expected, rtol=1e-9)


def test_gce_limits_cross_entropy_and_mae():
    x, y = logits(seed=9), labels(seed=10)
    torch.testing.assert_close(F.generalized_cross_entropy(x, y, q=1e-7),
                               TF.cross_entropy(x, y), rtol=1e-5, atol=1e-6)
    p_y = torch.softmax(x, 1).gather(1, y[:, None]).squeeze(1)
    torch.testing.assert_close(F.generalized_cross_entropy(x, y, q=1.0), (1 - p_y).mean(), **TOL)


def test_gce_gradient_is_cross_entropy_weighted_by_p_y_to_the_q():
    x, y, q = logits(seed=11), labels(seed=12), 0.7
    (g,) = torch.autograd.grad(F.generalized_cross_entropy(x, y, q=q, reduction="sum"), x)
    p = torch.softmax(x.detach(), 1)
    onehot = TF.one_hot(y, 5).to(D)
    expected = p.gather(1, y[:, None]) ** q * (p - onehot)
    torch.testing.assert_close(g, expected, **TOL)


def test_gce_soft_targets_are_the_expectation_and_q_is_learnable():
    x = logits(seed=13)
    t = torch.softmax(torch.randn(6, 5, generator=torch.Generator().manual_seed(14),
                                  dtype=D), 1)
    p = softmax_np(x)
    expected = (t.numpy() * (1 - p ** 0.7) / 0.7).sum(1).mean()
    assert float(F.generalized_cross_entropy(x.detach(), t)) == pytest.approx(expected,
                                                                              rel=1e-10)
    q = torch.tensor(0.4, dtype=D, requires_grad=True)
    torch.autograd.gradcheck(lambda v: F.generalized_cross_entropy(x.detach(), t, q=v), (q,))
    with pytest.raises(losskit.LossInputError, match="q"):
        F.generalized_cross_entropy(x, t, q=0.0)


# --- symmetric cross-entropy -------------------------------------------------------------------


def _sce_numpy(x, target_dist, alpha, beta):
    p = softmax_np(x)
    ce = -(target_dist * np.log(p)).sum(1)
    with np.errstate(divide="ignore"):
        log_label = np.maximum(np.log(target_dist), -4.0)  # log 0 := A = -4
    rce = -(p * log_label).sum(1)
    return alpha * ce + beta * rce


@pytest.mark.parametrize("alpha, beta", [(0.1, 1.0), (6.0, 0.1), (1.0, 0.0), (0.0, 1.0)])
def test_sce_matches_wang_et_al(alpha, beta):
    x, y = logits(seed=15), labels(seed=16)
    onehot = np.eye(5)[y.numpy()]
    expected = _sce_numpy(x, onehot, alpha, beta)
    ours = F.symmetric_cross_entropy(x, y, alpha=alpha, beta=beta, reduction="none")
    np.testing.assert_allclose(ours.detach().numpy(), expected, rtol=1e-10)
    # for a label, RCE = 4 (1 - p_y)
    p_y = softmax_np(x)[np.arange(6), y.numpy()]
    rce = F.symmetric_cross_entropy(x, y, alpha=0.0, beta=1.0, reduction="none")
    np.testing.assert_allclose(rce.detach().numpy(), 4 * (1 - p_y), rtol=1e-10)


def test_sce_soft_targets_clip_log_zero_and_soft_one_hot_equals_index():
    x, y = logits(seed=17), labels(seed=18)
    soft = torch.softmax(torch.randn(6, 5, generator=torch.Generator().manual_seed(19),
                                     dtype=D) * 3, 1)
    soft[0] = 0.0
    soft[0, 2] = 1.0  # a one-hot row inside soft targets (log 0 elsewhere)
    expected = _sce_numpy(x, soft.numpy(), 0.1, 1.0)
    ours = F.symmetric_cross_entropy(x, soft, reduction="none")
    np.testing.assert_allclose(ours.detach().numpy(), expected, rtol=1e-10)
    onehot = TF.one_hot(y, 5).to(D)
    torch.testing.assert_close(F.symmetric_cross_entropy(x, onehot),
                               F.symmetric_cross_entropy(x, y), **TOL)


def test_sce_gradient_from_rce_vanishes_for_confidently_contradicted_labels():
    x = torch.tensor([[12.0, 0.0, 0.0]], dtype=D, requires_grad=True)  # p_y ~ 1e-5 for y = 1
    y = torch.tensor([1])
    (g_rce,) = torch.autograd.grad(F.symmetric_cross_entropy(x, y, alpha=0.0, beta=1.0), x)
    (g_ce,) = torch.autograd.grad(TF.cross_entropy(x, y), x)
    assert float(g_rce.abs().max()) < 1e-3 * float(g_ce.abs().max())
    for name in ("alpha", "beta"):
        h = torch.tensor(0.3, dtype=D, requires_grad=True)
        torch.autograd.gradcheck(
            lambda v, n=name: F.symmetric_cross_entropy(x.detach(), y, **{n: v}), (h,))


# --- bootstrapping -----------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.95, 0.8, 0.0, 1.0])
def test_bootstrap_soft_and_hard_match_reed_et_al(beta):
    x, y = logits(seed=20), labels(seed=21)
    p = softmax_np(x)
    onehot = np.eye(5)[y.numpy()]
    soft = -((beta * onehot + (1 - beta) * p) * np.log(p)).sum(1)
    guess = p.argmax(1)
    hard = -(beta * np.log(p[np.arange(6), y.numpy()]) + (1 - beta) * np.log(p[np.arange(6),
                                                                                 guess]))
    np.testing.assert_allclose(
        F.bootstrapped_cross_entropy(x, y, beta=beta, reduction="none").detach().numpy(),
        soft, rtol=1e-10)
    np.testing.assert_allclose(
        F.bootstrapped_cross_entropy(x, y, beta=beta, mode="hard",
                                     reduction="none").detach().numpy(), hard, rtol=1e-10)


@pytest.mark.parametrize("mode", ["soft", "hard"])
@pytest.mark.parametrize("soft_target", [False, True])
def test_bootstrap_with_a_class_masked_to_minus_inf_is_the_loss_without_it(mode, soft_target):
    # A masked class has p = 0: its terms p log p and t log p are 0 log 0 = 0 (they were NaN,
    # 0 * -inf). Source: the same loss on the logits with that class removed.
    x, y = logits(seed=24), labels(seed=25) % 4
    live = x[:, :4].clone().requires_grad_(True)
    masked = torch.cat([live, torch.full((6, 1), -math.inf, dtype=D)], 1)
    target = TF.one_hot(y, 5).to(D) * 0.9 + torch.tensor([0.025] * 4 + [0.0], dtype=D)
    t_full, t_live = (target, target[:, :4]) if soft_target else (y, y)
    ours = F.bootstrapped_cross_entropy(masked, t_full, beta=0.8, mode=mode, detach=False)
    want = F.bootstrapped_cross_entropy(live, t_live, beta=0.8, mode=mode, detach=False)
    torch.testing.assert_close(ours, want)
    (g_ours,) = torch.autograd.grad(ours, live)
    (g_want,) = torch.autograd.grad(want, live)
    torch.testing.assert_close(g_ours, g_want)


def test_bootstrap_gradients_detached_and_not():
    """Card claims: with the prediction held constant the soft gradient is beta (p - y);
    hard mode adds (1 - beta)(p - onehot(argmax)); detach=False adds the entropy gradient."""
    x, y, beta = logits(seed=22), labels(seed=23), 0.8
    p = torch.softmax(x.detach(), 1)
    onehot = TF.one_hot(y, 5).to(D)
    (g,) = torch.autograd.grad(F.bootstrapped_cross_entropy(x, y, beta=beta, reduction="sum"), x)
    torch.testing.assert_close(g, beta * (p - onehot), **TOL)
    (g,) = torch.autograd.grad(F.bootstrapped_cross_entropy(x, y, beta=beta, mode="hard",
                                                            reduction="sum"), x)
    guess = TF.one_hot(p.argmax(1), 5).to(D)
    torch.testing.assert_close(g, beta * (p - onehot) + (1 - beta) * (p - guess), **TOL)
    torch.autograd.gradcheck(
        lambda z: F.bootstrapped_cross_entropy(z, y, beta=beta, detach=False), (x,))
    with pytest.raises(losskit.LossInputError, match="mode"):
        F.bootstrapped_cross_entropy(x, y, mode="medium")


# --- Brier -------------------------------------------------------------------------------------


def test_brier_matches_definition_and_scikit_learn():
    from sklearn.metrics import brier_score_loss

    x, y = logits(seed=24), labels(seed=25)
    p = softmax_np(x)
    expected = ((p - np.eye(5)[y.numpy()]) ** 2).sum(1)
    np.testing.assert_allclose(F.brier(x, y, reduction="none").detach().numpy(), expected,
                               rtol=1e-10)
    assert float(F.brier(x.detach(), y)) == pytest.approx(
        brier_score_loss(y.numpy(), p, labels=list(range(5))), rel=1e-10)
    # Binary: scikit-learn's positive-class form is half of the two-class Brier score.
    xb, yb = logits(n=8, c=2, seed=26), labels(n=8, c=2, seed=27)
    p1 = softmax_np(xb)[:, 1]
    assert float(F.brier(xb.detach(), yb)) == pytest.approx(2 * brier_score_loss(yb.numpy(), p1),
                                                   rel=1e-10)


def test_brier_soft_targets_ignore_index_and_range():
    x = logits(n=4, c=3, seed=28)
    t = torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.1, 0.1, 0.8]],
                     dtype=D)
    p = softmax_np(x)
    np.testing.assert_allclose(F.brier(x, t, reduction="none").detach().numpy(),
                               ((p - t.numpy()) ** 2).sum(1), rtol=1e-10)
    y = torch.tensor([0, -100, 2, 1])
    keep = [0, 2, 3]
    expected = ((p[keep] - np.eye(3)[[0, 2, 1]]) ** 2).sum(1).mean()
    assert float(F.brier(x.detach(), y)) == pytest.approx(expected, rel=1e-10)
    worst = F.brier(torch.tensor([[50.0, -50.0]], dtype=D), torch.tensor([1]))
    assert float(worst) == pytest.approx(2.0)


@pytest.mark.parametrize("name", ["generalized_cross_entropy", "symmetric_cross_entropy",
                                  "bootstrapped_cross_entropy", "brier",
                                  "logit_adjusted_cross_entropy", "balanced_softmax"])
def test_dense_inputs_all_ignored_and_empty(name):
    fn = getattr(F, name)
    x = torch.randn(2, 3, 4, 4, dtype=D, generator=torch.Generator().manual_seed(29),
                    requires_grad=True)
    y = torch.randint(0, 3, (2, 4, 4), generator=torch.Generator().manual_seed(30))
    per_pixel = fn(x, y, reduction="none")
    assert per_pixel.shape == (2, 4, 4)
    flat = fn(x.movedim(1, -1).reshape(-1, 3), y.reshape(-1), reduction="none")
    torch.testing.assert_close(per_pixel.reshape(-1), flat, **TOL)
    out = fn(x, torch.full_like(y, -100))
    (g,) = torch.autograd.grad(out, x)
    assert float(out.detach()) == 0.0 and not g.any()
    empty = fn(torch.zeros(0, 3, dtype=D, requires_grad=True), torch.zeros(0, dtype=torch.long))
    assert float(empty.detach()) == 0.0


def test_long_tail_losses_are_registered_as_classification():
    for name in ("logit_adjusted_cross_entropy", "balanced_softmax", "generalized_cross_entropy",
                 "symmetric_cross_entropy", "bootstrapped_cross_entropy", "brier"):
        info = losskit.info(name)
        assert info.family == "classification"
        assert info.references
    assert "proper_scoring" in losskit.info("brier").properties
    assert math.isclose(float(F.brier(torch.zeros(1, 2), torch.tensor([1]))), 0.5)


def test_bootstrap_gradient_with_respect_to_a_soft_target_is_minus_the_log_probability():
    # The loss is linear in the target: d/dt_c = -beta log p_c, at t_c = 0 too (the 0 log 0
    # guard once zeroed it there). Source: torch.autograd through F.cross_entropy.
    x = logits(seed=26)[:1]
    t = torch.tensor([[0.7, 0.0, 0.3, 0.0, 0.0]], dtype=D, requires_grad=True)
    (g,) = torch.autograd.grad(F.bootstrapped_cross_entropy(x, t, beta=1.0), t)
    t2 = t.detach().clone().requires_grad_(True)
    (want,) = torch.autograd.grad(TF.cross_entropy(x, t2), t2)
    torch.testing.assert_close(g, want)
