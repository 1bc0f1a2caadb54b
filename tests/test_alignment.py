"""Preference losses against the papers' formulas, written here independently in float64.

Sources of the expected values: DPO eq. 7 (Rafailov et al. 2023), cDPO eq. 3 (Mitchell
2023), IPO eq. 17 (Azar et al. 2023), robust DPO eq. 7 and its unbiasedness lemma
(Chowdhury et al. 2024), SimPO eq. 6 (Meng et al. 2024), ORPO eqs. 4-7 (Hong et al. 2024,
odds from probabilities), KTO eq. 8 (Ethayarajh et al. 2024), the Bradley-Terry likelihood
and torch's binary_cross_entropy_with_logits as a peer.
"""

from __future__ import annotations

import math

import pytest
import torch

import losskit
from losskit import functional as F


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _logps(n=6, seed=0, scale=40.0):
    g = torch.Generator().manual_seed(seed)
    return tuple(-(torch.rand(n, generator=g, dtype=torch.float64) * scale + 1)
                 for _ in range(4))


# --- DPO -------------------------------------------------------------------------------------


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_dpo_sigmoid_and_cdpo_match_the_papers(eps):
    pc, pr, rc, rr = _logps()
    beta = 0.1
    expected = []
    for i in range(6):
        # Rafailov et al. eq. 7: -log s(beta log(pi_w/ref_w) - beta log(pi_l/ref_l)); cDPO
        # (Mitchell) mixes in the flipped pair with weight eps.
        h = beta * ((pc[i] - rc[i]) - (pr[i] - rr[i])).item()
        expected.append(-(1 - eps) * math.log(_sigmoid(h)) - eps * math.log(_sigmoid(-h)))
    out = F.dpo(pc, pr, rc, rr, beta=beta, label_smoothing=eps, reduction="none")
    torch.testing.assert_close(out, torch.tensor(expected, dtype=torch.float64))
    assert F.dpo(pc, pr, rc, rr, beta=beta, label_smoothing=eps).item() == \
        pytest.approx(sum(expected) / 6)


def test_dpo_gradient_is_the_papers():
    pc, pr, rc, rr = _logps(seed=1)
    pc.requires_grad_(True)
    pr.requires_grad_(True)
    beta = 0.2
    loss = F.dpo(pc, pr, rc, rr, beta=beta)
    g_c, g_r = torch.autograd.grad(loss, [pc, pr])
    # DPO section 4: grad = -beta s(r_l - r_w) (grad log pi_w - grad log pi_l), per pair / B
    z = (pc - rc) - (pr - rr)
    weight = torch.sigmoid(-beta * z.detach())
    torch.testing.assert_close(g_c, -beta * weight / 6)
    torch.testing.assert_close(g_r, beta * weight / 6)


def test_dpo_reference_free_drops_the_reference_terms():
    pc, pr, _, _ = _logps(seed=2)
    zeros = torch.zeros(6, dtype=torch.float64)
    for loss_type in ("sigmoid", "ipo", "hinge", "robust"):
        torch.testing.assert_close(F.dpo(pc, pr, loss_type=loss_type),
                                   F.dpo(pc, pr, zeros, zeros, loss_type=loss_type))
    with pytest.raises(losskit.LossInputError, match="both"):
        F.dpo(pc, pr, zeros)


def test_ipo_is_a_squared_distance_to_one_over_two_beta():
    pc, pr, rc, rr = _logps(seed=3)
    beta = 0.25
    z = (pc - pr) - (rc - rr)
    # Azar et al. eq. 17: (h - 1/(2 tau))^2
    expected = torch.tensor([(float(v) - 1 / (2 * beta)) ** 2 for v in z], dtype=torch.float64)
    torch.testing.assert_close(F.dpo(pc, pr, rc, rr, beta=beta, loss_type="ipo",
                                     reduction="none"), expected)
    # its minimum is at z = 1/(2 beta): zero loss and zero gradient there
    target = torch.tensor([1 / (2 * beta)], dtype=torch.float64, requires_grad=True)
    zero = torch.zeros(1, dtype=torch.float64)
    loss = F.dpo(target, zero, zero, zero, beta=beta, loss_type="ipo")
    assert loss.item() == 0.0
    assert torch.autograd.grad(loss, target)[0].item() == 0.0


def test_hinge_is_slic():
    pc, pr, rc, rr = _logps(seed=4, scale=20)
    beta = 0.5
    z = (pc - pr) - (rc - rr)
    expected = torch.tensor([max(0.0, 1 - beta * float(v)) for v in z], dtype=torch.float64)
    torch.testing.assert_close(F.dpo(pc, pr, rc, rr, beta=beta, loss_type="hinge",
                                     reduction="none"), expected)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.4])
def test_robust_dpo_formula_and_unbiasedness(eps):
    pc, pr, rc, rr = _logps(seed=5)
    beta = 0.1
    out = F.dpo(pc, pr, rc, rr, beta=beta, loss_type="robust", label_smoothing=eps,
                reduction="none")
    swapped = F.dpo(pr, pc, rr, rc, beta=beta, loss_type="robust", label_smoothing=eps,
                    reduction="none")
    clean = []
    for i in range(6):
        h = beta * ((pc[i] - rc[i]) - (pr[i] - rr[i])).item()
        lw, ll = -math.log(_sigmoid(h)), -math.log(_sigmoid(-h))
        # Chowdhury et al. eq. 7
        assert out[i].item() == pytest.approx(((1 - eps) * lw - eps * ll) / (1 - 2 * eps))
        clean.append(lw)
    # Their Lemma: under labels flipped with probability eps the expected robust loss is the
    # clean DPO loss.
    torch.testing.assert_close((1 - eps) * out + eps * swapped,
                               torch.tensor(clean, dtype=torch.float64))
    with pytest.raises(losskit.LossInputError, match="label_smoothing"):
        F.dpo(pc, pr, rc, rr, loss_type="robust", label_smoothing=0.5)


@pytest.mark.parametrize("eps", [0.2, 0.5])
def test_cdpo_gradient_closed_form(eps):
    pc, pr, rc, rr = _logps(seed=6)
    pc.requires_grad_(True)
    loss = F.dpo(pc, pr, rc, rr, label_smoothing=eps)
    z = ((pc - rc) - (pr - rr)).detach()
    # d/dz of -(1 - e) log s(b z) - e log s(-b z) = b (-(1 - e) s(-b z) + e s(b z))
    g = torch.autograd.grad(loss, pc)[0]
    torch.testing.assert_close(g, 0.1 * (-(1 - eps) * torch.sigmoid(-0.1 * z)
                                         + eps * torch.sigmoid(0.1 * z)) / 6)


def test_dpo_return_parts():
    pc, pr, rc, rr = _logps(seed=7)
    parts = F.dpo(pc, pr, rc, rr, beta=0.2, return_parts=True)
    torch.testing.assert_close(parts.loss, F.dpo(pc, pr, rc, rr, beta=0.2))
    torch.testing.assert_close(parts.chosen_rewards, 0.2 * (pc - rc))
    torch.testing.assert_close(parts.rejected_rewards, 0.2 * (pr - rr))
    wins = sum(float(a) > float(b) for a, b in zip(0.2 * (pc - rc), 0.2 * (pr - rr)))
    assert parts.reward_accuracy.item() == pytest.approx(wins / 6)
    pc.requires_grad_(True)
    loss, chosen, rejected, acc = F.dpo(pc, pr, rc, rr, return_parts=True)
    assert loss.requires_grad
    assert not (chosen.requires_grad or rejected.requires_grad or acc.requires_grad)
    empty = torch.zeros(0, dtype=torch.float64)
    assert F.dpo(empty, empty, empty, empty, return_parts=True).reward_accuracy.item() == 0.0


def test_dpo_learnable_beta_gradient():
    pc, pr, rc, rr = _logps(seed=8)
    beta = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    loss = F.dpo(pc, pr, rc, rr, beta=beta)
    (g,) = torch.autograd.grad(loss, beta)
    z = (pc - pr) - (rc - rr)
    # d/dbeta of -log s(beta z) = -z s(-beta z)
    assert g.item() == pytest.approx(float((-z * torch.sigmoid(-0.1 * z)).mean()))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo", "hinge", "robust"])
def test_dpo_finite_in_half_precision_at_minus_1e4(dtype, loss_type):
    g = torch.Generator().manual_seed(9)
    # summed log-probabilities of long completions reach -1e4; their differences are small
    base = -1e4 + torch.rand(4, 8, generator=g, dtype=torch.float64) * 50
    pc, pr, rc, rr = (b.to(dtype).requires_grad_(True) for b in base)
    eps = 0.1 if loss_type in ("sigmoid", "robust") else 0.0
    loss = F.dpo(pc, pr, rc, rr, loss_type=loss_type, label_smoothing=eps)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    grads = torch.autograd.grad(loss, [pc, pr])
    assert all(torch.isfinite(x.float()).all() for x in grads)
    exact = F.dpo(*(b.detach().to(dtype).double() for b in (pc, pr, rc, rr)),
                  loss_type=loss_type, label_smoothing=eps)
    assert loss.item() == pytest.approx(exact.item(), rel=1e-5, abs=1e-5)


def test_dpo_input_errors():
    pc, pr, rc, rr = _logps()
    with pytest.raises(losskit.LossInputError, match="loss_type"):
        F.dpo(pc, pr, rc, rr, loss_type="kto")
    with pytest.raises(losskit.LossInputError, match="label_smoothing"):
        F.dpo(pc, pr, rc, rr, loss_type="ipo", label_smoothing=0.1)
    with pytest.raises(losskit.LossInputError, match="beta"):
        F.dpo(pc, pr, rc, rr, beta=0.0)
    with pytest.raises(losskit.LossInputError, match="same shape"):
        F.dpo(pc, pr[:3], rc, rr)


# --- SimPO -----------------------------------------------------------------------------------


def _averages(seed=0, n=6):
    g = torch.Generator().manual_seed(seed)
    return (-(torch.rand(n, generator=g, dtype=torch.float64) * 2 + 0.01),
            -(torch.rand(n, generator=g, dtype=torch.float64) * 2 + 0.01))


def test_simpo_matches_the_paper_and_its_limits():
    c, r = _averages(1)
    beta, gamma, eps = 2.5, 1.4, 0.1
    expected = [-(1 - eps) * math.log(_sigmoid(beta * (a - b) - gamma))
                - eps * math.log(1 - _sigmoid(beta * (a - b) - gamma))
                for a, b in zip(c.tolist(), r.tolist())]
    torch.testing.assert_close(
        F.simpo(c, r, beta=beta, gamma=gamma, label_smoothing=eps, reduction="none"),
        torch.tensor(expected, dtype=torch.float64))
    # gamma = 0: reference-free DPO on the same (averaged) inputs
    torch.testing.assert_close(F.simpo(c, r, beta=beta, gamma=0.0), F.dpo(c, r, beta=beta))


def test_simpo_learnable_beta_and_gamma():
    c, r = _averages(2)
    beta = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    gamma = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    g_beta, g_gamma = torch.autograd.grad(F.simpo(c, r, beta=beta, gamma=gamma), [beta, gamma])
    u = 2.0 * (c - r) - 0.5
    s = torch.sigmoid(-u)
    assert g_beta.item() == pytest.approx(float((-(c - r) * s).mean()))
    assert g_gamma.item() == pytest.approx(float(s.mean()))


# --- ORPO ------------------------------------------------------------------------------------


def test_orpo_is_the_odds_ratio_term():
    c, r = _averages(3)
    beta = 0.2
    expected = []
    for a, b in zip(c.tolist(), r.tolist()):
        odds_c = math.exp(a) / (1 - math.exp(a))       # ORPO eq. 4
        odds_r = math.exp(b) / (1 - math.exp(b))
        expected.append(-beta * math.log(_sigmoid(math.log(odds_c / odds_r))))  # eq. 7
    torch.testing.assert_close(F.orpo(c, r, beta=beta, reduction="none"),
                               torch.tensor(expected, dtype=torch.float64))
    # equal completions: log odds ratio 0, loss beta log 2
    assert F.orpo(c, c, beta=beta).item() == pytest.approx(beta * math.log(2))


def test_orpo_near_zero_and_at_minus_1e4():
    # a mean log-probability just below 0 (a completion the model is sure of) stays finite
    for top in (-1e-9, -1e-30, 0.0):
        c = torch.tensor([top, -0.3], dtype=torch.float64, requires_grad=True)
        r = torch.tensor([-2.0, -1e4], dtype=torch.float64, requires_grad=True)
        loss = F.orpo(c, r)
        assert torch.isfinite(loss)
        assert all(torch.isfinite(g).all() for g in torch.autograd.grad(loss, [c, r]))
    # cancellation-free near 0: log(1 - e^x) for x = -1e-9 is log(1e-9)
    c = torch.tensor([-1e-9], dtype=torch.float64)
    r = torch.tensor([-1.0], dtype=torch.float64)
    log_odds = (-1e-9 - math.log(1e-9 - 1e-18 / 2)) - (-1.0 - math.log(1 - math.exp(-1.0)))
    assert F.orpo(c, r, beta=1.0).item() == pytest.approx(math.log1p(math.exp(-log_odds)))
    for dtype in (torch.float16, torch.bfloat16):
        c = torch.full((3,), -1e4, dtype=dtype, requires_grad=True)
        r = torch.tensor([-1e4, -0.5, -3.0], dtype=dtype)
        loss = F.orpo(c, r)
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
        assert torch.isfinite(torch.autograd.grad(loss, c)[0].float()).all()
    with pytest.raises(losskit.LossInputError, match="<= 0"):
        F.orpo(torch.tensor([0.1]), torch.tensor([-1.0]))


# --- KTO -------------------------------------------------------------------------------------


def test_kto_matches_the_paper():
    g = torch.Generator().manual_seed(4)
    policy = -(torch.rand(8, generator=g, dtype=torch.float64) * 30 + 1)
    reference = policy + torch.randn(8, generator=g, dtype=torch.float64) * 5
    desirable = torch.tensor([True, False, True, True, False, False, True, False])
    beta, z0, wd, wu = 0.2, 1.5, 1.0, 1.33
    expected = []
    for p, q, d in zip(policy.tolist(), reference.tolist(), desirable.tolist()):
        r = p - q
        # KTO eq. 8: loss = lambda_y - v(x, y)
        v = wd * _sigmoid(beta * (r - z0)) if d else wu * _sigmoid(beta * (z0 - r))
        expected.append((wd if d else wu) - v)
    out = F.kto(policy, reference, desirable, beta=beta, reference_kl=z0, desirable_weight=wd,
                undesirable_weight=wu, reduction="none")
    torch.testing.assert_close(out, torch.tensor(expected, dtype=torch.float64))
    assert F.kto(policy, reference, desirable, beta=beta, reference_kl=z0, desirable_weight=wd,
                 undesirable_weight=wu).item() == pytest.approx(sum(expected) / 8)
    # the reference point is max(KL, 0), a constant: a negative estimate acts as 0, and a
    # tensor estimate gives the same value as the float
    torch.testing.assert_close(F.kto(policy, reference, desirable, reference_kl=-3.0),
                               F.kto(policy, reference, desirable, reference_kl=0.0))
    torch.testing.assert_close(
        F.kto(policy, reference, desirable, reference_kl=torch.tensor(1.5, dtype=torch.float64)),
        F.kto(policy, reference, desirable, reference_kl=1.5))
    with pytest.raises(losskit.LossInputError, match="detached"):
        F.kto(policy, reference, desirable, reference_kl=torch.tensor(1.0, requires_grad=True))
    with pytest.raises(losskit.LossInputError, match="bool"):
        F.kto(policy, reference, desirable.double())


def test_kto_gradient_and_no_gradient_to_the_reference():
    policy = torch.tensor([-10.0, -12.0], dtype=torch.float64, requires_grad=True)
    reference = torch.tensor([-11.0, -11.0], dtype=torch.float64, requires_grad=True)
    loss = F.kto(policy, reference, torch.tensor([True, False]), beta=0.5)
    g_p, g_r = torch.autograd.grad(loss, [policy, reference], allow_unused=True)
    assert g_r is None or not g_r.any()
    s1, s2 = _sigmoid(0.5 * 1.0), _sigmoid(0.5 * -1.0)
    # d/dp (1 - s(b r)) = -b s(1 - s); d/dp (1 - s(-b r)) = +b s(-br)(1 - s(-br))
    torch.testing.assert_close(g_p, torch.tensor([-0.5 * s1 * (1 - s1) / 2,
                                                  0.5 * s2 * (1 - s2) / 2],
                                                 dtype=torch.float64))


# --- Bradley-Terry ---------------------------------------------------------------------------


def test_bradley_terry_is_logistic_regression_on_the_gap():
    g = torch.Generator().manual_seed(5)
    rc, rr = (torch.randn(7, generator=g, dtype=torch.float64) * 2 for _ in range(2))
    margin = torch.rand(7, generator=g, dtype=torch.float64)
    # peer: torch's BCE with logits at target 1 on the gap (minus the margin)
    peer = torch.nn.functional.binary_cross_entropy_with_logits(rc - rr - margin,
                                                                torch.ones(7, dtype=torch.float64))
    torch.testing.assert_close(F.bradley_terry(rc, rr, margin=margin), peer)
    # a float margin is the same as a constant tensor
    torch.testing.assert_close(F.bradley_terry(rc, rr, margin=0.5),
                               F.bradley_terry(rc, rr, margin=torch.full((7,), 0.5,
                                                                         dtype=torch.float64)))
    # centering (Eisenstein et al.): + c mean((rc + rr)^2)
    expected = peer + 0.01 * ((rc + rr) ** 2).mean()
    torch.testing.assert_close(F.bradley_terry(rc, rr, margin=margin, center_coef=0.01), expected)


def test_bradley_terry_probability_form_and_gradient():
    rc = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    rr = torch.tensor([0.0, 1.0], dtype=torch.float64, requires_grad=True)
    loss = F.bradley_terry(rc, rr, center_coef=0.1)
    p1 = math.e / (math.e + 1)           # P(chosen > rejected) = e^rc / (e^rc + e^rr)
    p2 = 1 / (1 + math.e)
    assert loss.item() == pytest.approx((-math.log(p1) - math.log(p2)) / 2 + 0.1)
    g_c, g_r = torch.autograd.grad(loss, [rc, rr])
    torch.testing.assert_close(g_c, torch.tensor([(-(1 - p1) + 0.2) / 2, (-(1 - p2) + 0.2) / 2],
                                                 dtype=torch.float64))
    torch.testing.assert_close(g_r, torch.tensor([((1 - p1) + 0.2) / 2, ((1 - p2) + 0.2) / 2],
                                                 dtype=torch.float64))


# --- shared contract -------------------------------------------------------------------------


CALLS = {
    "dpo": lambda a, b: F.dpo(a, b, b.detach() * 0.9, a.detach() * 0.9),
    "simpo": lambda a, b: F.simpo(a, b),
    "orpo": lambda a, b: F.orpo(a, b),
    "kto": lambda a, b: F.kto(a, b.detach(), torch.arange(a.shape[0]) % 2 == 0),
    "bradley_terry": lambda a, b: F.bradley_terry(a, b, center_coef=0.01),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_empty_batch_is_zero_and_attached(name):
    a = torch.zeros(0, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(0, dtype=torch.float64, requires_grad=True)
    out = CALLS[name](a, b)
    assert out.item() == 0.0 and out.requires_grad
    assert not torch.autograd.grad(out, a)[0].any()


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_finite_down_to_minus_1e4(name, dtype):
    g = torch.Generator().manual_seed(10)
    a = (-torch.rand(6, generator=g, dtype=torch.float64) * 1e4).to(dtype).requires_grad_(True)
    b = (-torch.rand(6, generator=g, dtype=torch.float64) * 1e4).to(dtype).requires_grad_(True)
    out = CALLS[name](a, b)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    assert torch.isfinite(torch.autograd.grad(out, a)[0].float()).all()


@pytest.mark.parametrize("name", sorted(CALLS))
def test_nan_input_gives_nan(name):
    a, b = _averages(6)
    a[0] = float("nan")
    with losskit.value_checks(False):
        assert torch.isnan(CALLS[name](a, b))


@pytest.mark.parametrize("name", ["dpo", "simpo", "orpo", "bradley_terry"])
def test_per_token_log_probabilities_are_refused(name):
    # [B, T] token log-probabilities gave a plausible number (0.687 for 0.537); the losses
    # take one summed log-probability per sequence.
    chosen, rejected = -torch.rand(4, 12), -torch.rand(4, 12)
    with pytest.raises(losskit.LossInputError, match=r"must be \[B\] \(or \[B, 1\]\), one summed"):
        getattr(F, name)(chosen, rejected)


def test_a_reward_heads_b_by_1_output_is_one_per_sequence():
    # nn.Linear(d, 1) gives [B, 1]: accepted as before, like [B].
    chosen, rejected = torch.randn(4, 1), torch.randn(4, 1)
    torch.testing.assert_close(F.bradley_terry(chosen, rejected),
                               F.bradley_terry(chosen[:, 0], rejected[:, 0]))
