"""Every number a card states is computed here, so a card cannot contradict the code.

Each test evaluates losskit's own function (or, for the claims about a loss's optimum,
minimizes its expected value) and compares with the number the card gives; where a card
phrases the claim, the test also checks that the card still says it.
"""

from __future__ import annotations

import math

import pytest
import torch

import losskit
from losskit import functional as F

D = torch.float64


def card(name: str) -> str:
    info = losskit.info(name)
    return " ".join([info.summary, info.formula, info.gradient, info.when_to_use, info.pitfalls,
                     *info.references])


def grad_of(fn, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(x), x)
    return g


def minimize_scalar_logit(objective, start: float = 0.0) -> float:
    """Newton's method on one logit (the expected losses here are smooth and unimodal)."""
    z = torch.tensor([start], dtype=D, requires_grad=True)
    for _ in range(100):
        (g,) = torch.autograd.grad(objective(z), z, create_graph=True)
        (h,) = torch.autograd.grad(g.sum(), z)
        with torch.no_grad():
            z -= (g / h).clamp(-2.0, 2.0)
        if abs(float(g.detach())) < 1e-13:
            break
    return float(torch.sigmoid(z.detach()))


# --- focal losses ------------------------------------------------------------------------------


def test_sigmoid_focal_at_p_t_09_loss_100x_lower_gradient_only_35x():
    x = torch.tensor([math.log(9.0)], dtype=D)  # p = p_t = 0.9 for a positive label
    y = torch.ones(1, dtype=D)

    def focal(z):
        return F.sigmoid_focal(z, y, gamma=2.0, alpha=None, reduction="sum")

    def bce(z):
        return F.binary_cross_entropy(z, y, reduction="sum")

    assert float(bce(x) / focal(x)) == pytest.approx(100.0, rel=1e-9)
    ratio = float(grad_of(bce, x) / grad_of(focal, x))
    assert ratio == pytest.approx(34.5, abs=0.05)
    # the closed form the card gives: (1 - p)^g - g p (1 - p)^(g - 1) log p = 0.029
    assert 1 / ratio == pytest.approx(0.01 - 2 * 0.9 * 0.1 * math.log(0.9), rel=1e-9)
    text = card("sigmoid_focal")
    assert "100x less loss" in text and "~35x" in text and "0.029" in text


@pytest.mark.parametrize("classes", [2, 3, 7])
@pytest.mark.parametrize("p_y, kept", [(0.5, 0.60), (0.6, 0.405), (0.9, 0.029)])
def test_softmax_focal_keeps_60_and_40_percent_of_the_gradient(classes, p_y, kept):
    rest = math.log((1 - p_y) / (classes - 1))
    x = torch.tensor([[math.log(p_y)] + [rest] * (classes - 1)], dtype=D)
    y = torch.tensor([0])
    g_focal = grad_of(lambda z: F.softmax_focal(z, y, gamma=2.0, reduction="sum"), x)
    g_ce = grad_of(lambda z: F.cross_entropy(z, y, reduction="sum"), x)
    torch.testing.assert_close(g_focal / g_ce, torch.full_like(x, g_focal[0, 0] / g_ce[0, 0]))
    assert float(g_focal[0, 0] / g_ce[0, 0]) == pytest.approx(kept, abs=0.005)
    assert "60% of cross-entropy's gradient at p_y = 0.5, 40.5% at 0.6" in card("softmax_focal")


@pytest.mark.parametrize("q, alpha, expected", [(0.9, None, 0.69), (0.1, None, 0.31),
                                                (0.5, 0.25, 0.40)])
def test_focal_is_not_proper_its_minimizer_is_pulled_toward_half(q, alpha, expected):
    one, zero = torch.ones(1, dtype=D), torch.zeros(1, dtype=D)

    def expected_loss(z):
        return (q * F.sigmoid_focal(z, one, alpha=alpha, reduction="sum")
                + (1 - q) * F.sigmoid_focal(z, zero, alpha=alpha, reduction="sum"))

    assert minimize_scalar_logit(expected_loss) == pytest.approx(expected, abs=0.005)
    assert "p = 0.69 for q = 0.9 and 0.31 for q = 0.1" in card("sigmoid_focal")
    assert "(q = 0.5 gives 0.40)" in card("sigmoid_focal")


def test_softmax_focal_two_classes_minimizer_matches_its_card():
    q = 0.9
    y1, y0 = torch.tensor([1]), torch.tensor([0])

    def expected_loss(z):
        logits = torch.cat([torch.zeros_like(z), z]).unsqueeze(0)
        return (q * F.softmax_focal(logits, y1, reduction="sum")
                + (1 - q) * F.softmax_focal(logits, y0, reduction="sum"))

    assert minimize_scalar_logit(expected_loss) == pytest.approx(0.69, abs=0.005)


# --- what makes a loss proper, and what distorts it ----------------------------------------


def test_bce_minimizer_with_pos_weight_and_label_smoothing():
    one, zero = torch.ones(1, dtype=D), torch.zeros(1, dtype=D)

    def bce_expected(q, **kw):
        return lambda z: (q * F.binary_cross_entropy(z, one, reduction="sum", **kw)
                          + (1 - q) * F.binary_cross_entropy(z, zero, reduction="sum", **kw))

    assert minimize_scalar_logit(bce_expected(0.3)) == pytest.approx(0.3, abs=1e-9)
    assert minimize_scalar_logit(bce_expected(0.1, pos_weight=9.0)) == pytest.approx(0.5, abs=1e-9)
    eps = 0.2
    assert minimize_scalar_logit(bce_expected(0.1, label_smoothing=eps)) == \
        pytest.approx((1 - eps) * 0.1 + eps / 2, abs=1e-9)
    assert "q = 0.1 with pw = 9 predicts 0.5" in card("binary_cross_entropy")


def test_cross_entropy_minimizer_with_class_weight_and_label_smoothing():
    q = torch.tensor([0.6, 0.3, 0.1], dtype=D)
    labels = [torch.tensor([k]) for k in range(3)]

    def argmin(**kw):
        z = torch.zeros(1, 3, dtype=D, requires_grad=True)
        opt = torch.optim.LBFGS([z], lr=1, max_iter=200, tolerance_grad=1e-14,
                                tolerance_change=1e-16, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = sum(q[k] * F.cross_entropy(z, labels[k], reduction="sum", **kw)
                       for k in range(3))
            loss.backward()
            return loss

        opt.step(closure)
        return torch.softmax(z.detach(), 1)[0]

    torch.testing.assert_close(argmin(), q, atol=1e-7, rtol=0)
    w = torch.tensor([1.0, 2.0, 4.0], dtype=D)
    torch.testing.assert_close(argmin(class_weight=w), w * q / (w * q).sum(), atol=1e-7, rtol=0)
    torch.testing.assert_close(argmin(label_smoothing=0.3), 0.7 * q + 0.1, atol=1e-7, rtol=0)


def test_gce_minimizer_sharpens_the_distribution():
    q_true = torch.tensor([0.6, 0.3, 0.1], dtype=D)
    q_exp = 0.7
    z = torch.zeros(1, 3, dtype=D, requires_grad=True)
    opt = torch.optim.LBFGS([z], lr=1, max_iter=300, tolerance_grad=1e-14,
                            tolerance_change=1e-16, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = sum(q_true[k] * F.generalized_cross_entropy(z, torch.tensor([k]), q=q_exp,
                                                           reduction="sum") for k in range(3))
        loss.backward()
        return loss

    opt.step(closure)
    p = torch.softmax(z.detach(), 1)[0]
    sharpened = q_true ** (1 / (1 - q_exp))
    torch.testing.assert_close(p, sharpened / sharpened.sum(), atol=1e-6, rtol=0)
    assert p[0] > q_true[0]


# --- regression -----------------------------------------------------------------------------


def test_poisson_optimum_leaves_y_minus_y_log_y_and_full_leaves_half_log_2_pi_y():
    y = torch.tensor([20.0], dtype=D)
    at_optimum = F.poisson_nll(torch.log(y), y)
    assert float(at_optimum) == pytest.approx(20 - 20 * math.log(20), rel=1e-12)
    assert float(at_optimum) == pytest.approx(-39.9, abs=0.05)
    full = F.poisson_nll(torch.log(y), y, full=True)
    assert float(full) == pytest.approx(0.5 * math.log(2 * math.pi * 20), rel=1e-12)
    assert float(full) == pytest.approx(2.4, abs=0.05)
    # the exact likelihood's floor: y - y log y + log(y!) is that plus about 1 / (12 y)
    exact = 20 - 20 * math.log(20) + math.lgamma(21)
    assert exact - float(full) == pytest.approx(1 / 240, rel=0.01)
    text = card("poisson_nll")
    assert "y - y log y (-39.9 at y = 20)" in text and "0.5 log(2 pi y) (2.4 at y = 20" in text


def test_msle_numbers():
    def one(pred, true):
        return float(F.msle(torch.tensor([pred], dtype=D), torch.tensor([true], dtype=D)))

    assert one(110.0, 100.0) == pytest.approx(0.0089, abs=5e-5)
    assert one(1.1, 1.0) == pytest.approx(0.0024, abs=5e-5)
    assert one(0.1, 0.0) == pytest.approx(0.0091, abs=5e-5)
    assert one(110.0, 100.0) > 3.5 * one(1.1, 1.0)
    assert "0.0089" in card("msle") and "0.0024" in card("msle")


def test_log_cosh_hessian_vanishes_and_newton_steps_explode():
    for r, hessian, step in ((3.0, 0.0099, 101.0), (5.0, 1.8e-4, 5.5e3)):
        x = torch.tensor([r], dtype=D, requires_grad=True)
        loss = F.log_cosh(x, torch.zeros(1, dtype=D), reduction="sum")
        (g,) = torch.autograd.grad(loss, x, create_graph=True)
        (h,) = torch.autograd.grad(g.sum(), x)
        g = g.detach()
        assert float(h) == pytest.approx(hessian, rel=0.02)
        assert float(g / h) == pytest.approx(step, rel=0.01)
        assert float(g / h) == pytest.approx(math.sinh(2 * r) / 2, rel=1e-9)
    assert "Not a good objective for Newton-step methods" in card("log_cosh")


def test_mse_one_residual_of_100_equals_10000_residuals_of_1():
    big = F.mse(torch.tensor([100.0], dtype=D), torch.zeros(1, dtype=D), reduction="sum")
    many = F.mse(torch.ones(10_000, dtype=D), torch.zeros(10_000, dtype=D), reduction="sum")
    assert float(big) == float(many) == 10_000.0
    g_big = grad_of(lambda x: F.mse(x, torch.zeros(1, dtype=D), reduction="sum"),
                    torch.tensor([100.0], dtype=D))
    assert float(g_big) == 100 * 2.0  # 100x the pull of one residual of 1
    assert "weighs as much in the loss as 10,000" in card("mse")


# --- generative ----------------------------------------------------------------------------


def test_vae_elbo_bce_perfect_reconstruction_of_half_is_not_zero():
    x = torch.full((1, 4), 0.5, dtype=D)
    latent = torch.zeros(1, 2, dtype=D)
    perfect_logits = torch.logit(x)
    bce = F.vae_elbo(perfect_logits, x, latent, latent, recon_loss="bce")
    assert float(bce) == pytest.approx(4 * math.log(2), rel=1e-12)
    assert float(bce) == pytest.approx(2.77, abs=0.005)
    for kind in ("mse", "mae"):
        assert float(F.vae_elbo(x.clone(), x, latent, latent, recon_loss=kind)) == 0.0
    assert "zero_at_optimum" not in losskit.info("vae_elbo").properties
    assert "2.77 for four values" in card("vae_elbo")


# --- segmentation (the dice card's corrected sentence; the card lives in segmentation.py) ------


def test_mean_dice_and_mean_iou_can_rank_two_predictions_differently():
    """Per image Dice = 2 IoU / (1 + IoU) is monotone, but means over images are not: IoUs
    (0, 1) beat (0.45, 0.45) under mean IoU and lose under mean Dice."""
    def dice_of(iou):
        return 2 * iou / (1 + iou)

    assert (0 + 1) / 2 > (0.45 + 0.45) / 2
    assert (dice_of(0) + dice_of(1)) / 2 < (dice_of(0.45) + dice_of(0.45)) / 2

    side = 10

    def image(inter: int, size: int = 29):
        # target: the first `size` pixels; prediction: `size` pixels overlapping `inter`
        t = torch.zeros(side * side, dtype=D)
        p = torch.zeros(side * side, dtype=D)
        t[:size] = 1
        p[size - inter:2 * size - inter] = 1
        return p.reshape(1, 1, side, side), t.reshape(1, 1, side, side)

    a, b, c = image(0), image(29), image(18)  # IoU 0, 1 and 18 / 40 = 0.45
    first = (torch.cat([a[0], b[0]]), torch.cat([a[1], b[1]]))
    second = (torch.cat([c[0], c[0]]), torch.cat([c[1], c[1]]))
    iou_first = 1 - F.jaccard(*first, activation="none")
    iou_second = 1 - F.jaccard(*second, activation="none")
    dice_first = 1 - F.dice(*first, activation="none")
    dice_second = 1 - F.dice(*second, activation="none")
    assert float(iou_first) == pytest.approx(0.5, abs=1e-4)
    assert float(iou_second) == pytest.approx(0.45, abs=1e-4)
    assert float(dice_second) == pytest.approx(dice_of(0.45), abs=1e-4)
    assert iou_first > iou_second and dice_first < dice_second


# --- boxes -------------------------------------------------------------------------------------


def test_giou_nested_boxes_only_the_translation_gradient_vanishes():
    outer = torch.tensor([[0.0, 0.0, 10.0, 10.0]], dtype=D)
    inner = torch.tensor([[2.0, 3.0, 5.0, 7.0]], dtype=D, requires_grad=True)
    (g,) = torch.autograd.grad(F.giou(inner, outer), inner)
    translate_x = g[0, 0] + g[0, 2]
    translate_y = g[0, 1] + g[0, 3]
    assert abs(float(translate_x)) < 1e-12 and abs(float(translate_y)) < 1e-12
    grow_x = g[0, 2] - g[0, 0]
    assert float(grow_x) < -1e-3  # growing the inner box still lowers the loss
    assert float(F.giou(inner.detach(), outer)) == pytest.approx(1 - 12 / 100)  # GIoU = IoU
    assert "translation part of the gradient is zero" in card("giou")


# --- references ----------------------------------------------------------------------------


def test_corrected_references():
    assert "Leng, Tan, Liu, Cubuk, Shi, Cheng & Anguelov" in card("poly1_cross_entropy")
    assert "ICLR 2022" in card("poly1_cross_entropy")
    assert "Narayanaswamy" in card("soft_f1")
    assert "Loaiza-Ganem & Cunningham" in card("vae_elbo")


def test_proper_scoring_is_declared_where_it_holds():
    for name in ("binary_cross_entropy", "cross_entropy", "brier"):
        assert "proper_scoring" in losskit.info(name).properties
    for name in ("sigmoid_focal", "softmax_focal", "asymmetric_multilabel",
                 "generalized_cross_entropy", "symmetric_cross_entropy",
                 "bootstrapped_cross_entropy", "poly1_cross_entropy"):
        assert "proper_scoring" not in losskit.info(name).properties
        assert "temperature_scale" in card(name), name



# --- metric learning (the nt_xent card's corrected sentence; the card lives elsewhere) -------


def test_nt_xent_picks_the_partner_among_2n_minus_1_candidates():
    """Each of the 2N views is classified against the 2N - 1 other views (one positive,
    2N - 2 negatives): cross-entropy over 2N - 1 candidates, written out here."""
    g = torch.Generator().manual_seed(0)
    n, t = 4, 0.5
    z_a, z_b = torch.randn(n, 8, generator=g, dtype=D), torch.randn(n, 8, generator=g, dtype=D)
    z = torch.nn.functional.normalize(torch.cat([z_a, z_b]), dim=1)
    sim = z @ z.T / t
    losses = []
    for i in range(2 * n):
        others = [j for j in range(2 * n) if j != i]
        assert len(others) == 2 * n - 1
        partner = others.index((i + n) % (2 * n))
        losses.append(-torch.log_softmax(sim[i, others], 0)[partner])
    expected = torch.stack(losses).mean()
    torch.testing.assert_close(F.nt_xent(z_a, z_b, temperature=t), expected)
