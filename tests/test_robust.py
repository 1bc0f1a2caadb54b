"""Barron's general loss, its special cases, Tukey's biweight and the GeneralRobust module.

Expected values: Barron's closed forms (CVPR 2019, eq. 1 and its limits) written out per
alpha below, derivatives of those forms taken by hand or by mpmath at 40 digits,
statsmodels' TukeyBiweight, scipy's quadrature and Bessel function for the partition
function.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import scipy.integrate
import scipy.special
import torch

import losskit
from losskit import functional as F
from losskit.modules import GeneralRobust
from losskit.modules.robust import log_partition

mpmath.mp.dps = 40


def _residuals(dtype=torch.float64):
    x = torch.tensor([-7.5, -2.0, -0.3, 0.0, 1e-4, 0.9, 3.0, 40.0], dtype=dtype)
    return x, torch.zeros_like(x)


# Barron's loss for each alpha in closed form, as a function of z = (x / c)^2.
CLOSED_FORMS = {
    2.0: lambda z: 0.5 * z,
    1.0: lambda z: math.sqrt(z + 1) - 1,
    0.0: lambda z: math.log(0.5 * z + 1),
    -2.0: lambda z: 2 * z / (z + 4),
    0.5: lambda z: 3 * ((z / 1.5 + 1) ** 0.25 - 1),
    4.0: lambda z: 0.5 * z + z * z / 8,
}


@pytest.mark.parametrize("alpha", sorted(CLOSED_FORMS))
@pytest.mark.parametrize("scale", [1.0, 0.7, 3.0])
def test_general_robust_matches_barrons_closed_forms(alpha, scale):
    x, y = _residuals()
    expected = torch.tensor([CLOSED_FORMS[alpha]((v / scale) ** 2) for v in x.tolist()],
                            dtype=torch.float64)
    ours = F.general_robust(x, y, alpha=alpha, scale=scale, reduction="none")
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-15)
    assert float(F.general_robust(x, y, alpha=alpha, scale=scale)) == pytest.approx(
        float(expected.mean()), rel=1e-12)


@pytest.mark.parametrize("alpha", [2.0, 1.0, 0.0, -2.0, 0.5, 4.0, -7.0])
def test_general_robust_input_gradient_is_barrons_psi(alpha):
    # d rho / dx = x / c^2 (z / |a - 2| + 1)^(a / 2 - 1), with the a = 2 limit x / c^2 and
    # the a = 0 limit 2 x / (x^2 + 2 c^2).
    c = 1.3
    x = torch.tensor([-4.0, -0.5, 0.2, 2.5, 9.0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(F.general_robust(x, torch.zeros_like(x), alpha=alpha, scale=c,
                                                   reduction="sum"), x)
    xs = x.detach()
    z = (xs / c) ** 2
    if alpha == 2.0:
        expected = xs / c ** 2
    elif alpha == 0.0:
        expected = 2 * xs / (xs ** 2 + 2 * c ** 2)
    else:
        expected = xs / c ** 2 * (z / abs(alpha - 2) + 1) ** (alpha / 2 - 1)
    torch.testing.assert_close(grad, expected, rtol=1e-12, atol=1e-15)


def test_named_special_cases_are_general_robust_at_their_alpha():
    x = torch.linspace(-6, 6, 25, dtype=torch.float64)
    y = torch.zeros_like(x)
    for scale in (0.5, 2.0):
        z = (x / scale) ** 2
        kw = {"scale": scale, "reduction": "none"}
        torch.testing.assert_close(F.cauchy(x, y, **kw), torch.log1p(0.5 * z), rtol=1e-13, atol=0)
        torch.testing.assert_close(F.cauchy(x, y, **kw), F.general_robust(x, y, alpha=0.0, **kw))
        torch.testing.assert_close(F.geman_mcclure(x, y, **kw), 2 * z / (z + 4), rtol=1e-13,
                                   atol=1e-16)
        torch.testing.assert_close(F.geman_mcclure(x, y, **kw),
                                   F.general_robust(x, y, alpha=-2.0, **kw))
        welsch = F.welsch(x, y, **kw)
        torch.testing.assert_close(welsch, 1 - torch.exp(-0.5 * z), rtol=1e-13, atol=1e-16)
        # alpha -> -inf: rho(a) - welsch = O(1 / |a|)
        far = F.general_robust(x, y, alpha=-1e6, **kw)
        torch.testing.assert_close(far, welsch, rtol=0, atol=5e-5)


def test_special_cases_stay_finite_and_bounded_for_huge_residuals():
    x = torch.tensor([1e25, -1e30], dtype=torch.float32, requires_grad=True)
    y = torch.zeros(2)
    with torch.no_grad():
        assert float(F.geman_mcclure(x, y, reduction="sum")) == pytest.approx(4.0)
        assert float(F.welsch(x, y, reduction="sum")) == pytest.approx(2.0)
        assert float(F.tukey_biweight(x, y, c=2.0, reduction="sum")) == pytest.approx(4 / 3)
    for fn in (F.geman_mcclure, F.welsch, F.tukey_biweight):
        (g,) = torch.autograd.grad(fn(x, y), x)
        assert torch.isfinite(g).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_residuals_whose_square_overflows_keep_the_bound_and_the_log(dtype):
    # (r / c)^2 overflows past 1.8e19 (float32) / 1.3e154 (float64): the bounded members
    # of the family (alpha < 0) still give their bound |a - 2| / |a| (robust_loss_pytorch's
    # lossfun gives 1.4 at alpha = -5), cauchy its log (2 log r - log 2, from mpmath), and
    # the gradient is finite; they gave NaN (general_robust) and inf (cauchy).
    r = 1e20 if dtype == torch.float32 else 1e160
    x = torch.tensor([r, -r], dtype=dtype, requires_grad=True)
    y = torch.zeros(2, dtype=dtype)
    for alpha, bound in ((-5.0, 1.4), (-2.0, 2.0), (-0.5, 5.0)):
        out = F.general_robust(x, y, alpha=alpha, reduction="none")
        (g,) = torch.autograd.grad(out.sum(), x)
        torch.testing.assert_close(out, torch.full((2,), bound, dtype=dtype))
        assert torch.isfinite(g).all()
    out = F.cauchy(x, y, reduction="none")
    want = float(_rho_mp(r, 0))
    torch.testing.assert_close(out, torch.full((2,), want, dtype=dtype))
    torch.testing.assert_close(F.general_robust(x, y, alpha=0.0, reduction="none"), out)
    (g,) = torch.autograd.grad(out.sum(), x)
    torch.testing.assert_close(g, torch.tensor([2 / r, -2 / r], dtype=dtype))


# --- alpha at and near its singular points ------------------------------------------------------


def _rho_mp(x, a, c=1.0):
    z = (mpmath.mpf(x) / c) ** 2
    a = mpmath.mpf(a)
    if a == 0:
        return mpmath.log(z / 2 + 1)
    if a == 2:
        return z / 2
    b = abs(a - 2)
    return b / a * ((z / b + 1) ** (a / 2) - 1)


def _alpha_grad(x, alpha, dtype=torch.float64):
    a = torch.tensor(alpha, dtype=dtype, requires_grad=True)
    xt = torch.tensor([x], dtype=dtype)
    value = F.general_robust(xt, torch.zeros_like(xt), alpha=a)
    (g,) = torch.autograd.grad(value, a)
    return value.detach(), g


@pytest.mark.parametrize("x", [0.3, 2.0, 15.0])
def test_alpha_gradient_at_zero_is_the_exact_derivative(x):
    # Barron's loss is analytic in alpha at 0: d rho / d alpha = -L / 2 + z / (4 + 2 z) + L^2 / 4
    # with L = log(1 + z / 2) (a first-order expansion of eq. 1 around alpha = 0).
    z = x * x
    L = math.log1p(z / 2)
    closed = -L / 2 + z / (4 + 2 * z) + L * L / 4
    value, g = _alpha_grad(x, 0.0)
    assert float(value) == pytest.approx(L, rel=1e-14)
    assert float(g) == pytest.approx(closed, rel=1e-10)
    # and continuous through 0: the mpmath derivative at +-1e-6
    for a0 in (1e-6, -1e-6):
        h = mpmath.mpf("1e-12")
        mp = (_rho_mp(x, a0 + h) - _rho_mp(x, a0 - h)) / (2 * h)
        assert float(_alpha_grad(x, a0)[1]) == pytest.approx(float(mp), rel=1e-8)


@pytest.mark.parametrize("d", [1e-2, 1e-4, 1e-7, -1e-4, -1e-7])
def test_alpha_gradient_next_to_two_matches_high_precision_differences(d):
    # The true derivative grows like z / 4 log(1 / |alpha - 2|) there (finite for d != 0).
    x = 2.0
    a0 = mpmath.mpf(2) + mpmath.mpf(d)
    h = mpmath.mpf(abs(d)) / 1000
    mp = (_rho_mp(x, a0 + h) - _rho_mp(x, a0 - h)) / (2 * h)
    value, g = _alpha_grad(x, 2.0 + d)
    assert float(value) == pytest.approx(float(_rho_mp(x, a0)), rel=1e-9)
    assert float(g) == pytest.approx(float(mp), rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_value_and_gradients_finite_exactly_at_the_singular_points(dtype):
    x = torch.tensor([-3.0, 0.0, 0.5, 8.0], dtype=dtype, requires_grad=True)
    for alpha in (0.0, 2.0):
        a = torch.tensor(alpha, dtype=dtype, requires_grad=True)
        c = torch.tensor(1.5, dtype=dtype, requires_grad=True)
        out = F.general_robust(x, torch.zeros_like(x), alpha=a, scale=c)
        grads = torch.autograd.grad(out, (x, a, c), create_graph=True)
        assert torch.isfinite(out) and all(torch.isfinite(g).all() for g in grads)
        second = torch.autograd.grad(grads[1], (x, a, c))
        assert all(torch.isfinite(g).all() for g in second)
        z = (x.detach().double() / 1.5) ** 2
        expected = (0.5 * z if alpha == 2.0 else torch.log1p(0.5 * z)).mean()
        tol = 1e-12 if dtype == torch.float64 else 2e-6
        assert out.item() == pytest.approx(float(expected), rel=tol)
    # at alpha = 2 the alpha-gradient is the (finite, large) one at |alpha - 2| = epsilon
    _, g2 = _alpha_grad(2.0, 2.0)
    _, g_near = _alpha_grad(2.0, 2.0 + 1e-15)
    assert float(g2) == pytest.approx(float(g_near), rel=0.1)


@pytest.mark.parametrize("alpha", [0.0, 1e-9, -1e-9, 1e-3, -1e-3, 2 - 1e-3, 2 + 1e-3, 1.95, 2.05])
def test_gradcheck_with_learnable_alpha_and_scale_near_the_singular_points(alpha):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(6, generator=g, dtype=torch.float64)
    a = torch.tensor(alpha, dtype=torch.float64, requires_grad=True)
    c = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)

    def fn(x, a, c):
        return F.general_robust(x, y, alpha=a, scale=c)

    assert torch.autograd.gradcheck(fn, (x, a, c), eps=1e-7, atol=1e-6, rtol=1e-5)
    if abs(alpha - 2) > 1e-2:  # second derivatives grow like 1 / |alpha - 2| next to 2
        assert torch.autograd.gradgradcheck(fn, (x, a, c), eps=1e-7, atol=1e-5, rtol=1e-4)


def test_alpha_and_scale_broadcast_per_element():
    x = torch.randn(4, 3, dtype=torch.float64)
    y = torch.zeros_like(x)
    alpha = torch.tensor([2.0, 0.0, -2.0], dtype=torch.float64)
    scale = torch.tensor([1.0, 0.5, 2.0], dtype=torch.float64)
    ours = F.general_robust(x, y, alpha=alpha, scale=scale, reduction="none")
    for j in range(3):
        col = F.general_robust(x[:, j], y[:, j], alpha=float(alpha[j]), scale=float(scale[j]),
                               reduction="none")
        torch.testing.assert_close(ours[:, j], col)
    with pytest.raises(losskit.LossInputError, match="alpha"):
        F.general_robust(x, y, alpha=torch.zeros(5, dtype=torch.float64))


def test_general_robust_rejects_bad_hyperparameters():
    x, y = _residuals()
    with pytest.raises(losskit.LossInputError, match="alpha must be finite"):
        F.general_robust(x, y, alpha=-math.inf)
    with pytest.raises(losskit.LossInputError, match="alpha must be finite"):
        F.general_robust(x, y, alpha=torch.tensor(math.inf, dtype=torch.float64))
    with pytest.raises(losskit.LossInputError, match="scale"):
        F.general_robust(x, y, scale=0.0)
    with pytest.raises(losskit.LossInputError, match="scale"):
        F.cauchy(x, y, scale=-1.0)


def test_float16_inputs_accumulate_in_float32():
    x = torch.tensor([0.5, 300.0, -2.0], dtype=torch.float16)
    y = torch.zeros_like(x)
    for fn in (F.general_robust, F.cauchy, F.welsch, F.geman_mcclure, F.tukey_biweight):
        out = fn(x, y)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, fn(x.float(), y.float()))


# --- Tukey's biweight --------------------------------------------------------------------------


def test_tukey_biweight_by_hand():
    # c = 2: r = 1 -> 4/6 (1 - (3/4)^3) = 37/96; r = 3 (beyond c) -> 4/6; r = 0 -> 0
    x = torch.tensor([1.0, -3.0, 0.0, 2.0], dtype=torch.float64, requires_grad=True)
    out = F.tukey_biweight(x, torch.zeros_like(x), c=2.0, reduction="none")
    torch.testing.assert_close(out, torch.tensor([37 / 96, 2 / 3, 0.0, 2 / 3],
                                                 dtype=torch.float64))
    # psi(r) = r (1 - (r / c)^2)^2 inside, 0 outside (and 0 at r = c, continuously)
    (g,) = torch.autograd.grad(out.sum(), x)
    torch.testing.assert_close(g, torch.tensor([9 / 16, 0.0, 0.0, 0.0], dtype=torch.float64))


def test_tukey_biweight_matches_statsmodels():
    norms = pytest.importorskip("statsmodels.robust.norms")
    r = np.linspace(-12, 12, 97)
    for c in (4.685, 1.5):
        ours = F.tukey_biweight(torch.tensor(r), torch.zeros(97, dtype=torch.float64), c=c,
                                reduction="none")
        np.testing.assert_allclose(ours.numpy(), norms.TukeyBiweight(c=c).rho(r), rtol=1e-12,
                                   atol=1e-14)
        x = torch.tensor(r, requires_grad=True)
        (psi,) = torch.autograd.grad(F.tukey_biweight(x, torch.zeros_like(x), c=c,
                                                      reduction="sum"), x)
        np.testing.assert_allclose(psi.numpy(), norms.TukeyBiweight(c=c).psi(r), rtol=1e-12,
                                   atol=1e-14)


def test_tukey_biweight_learnable_c():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, generator=g, dtype=torch.float64) * 3
    c = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c: F.tukey_biweight(x, torch.zeros_like(x), c=c), (c,))
    # beyond c the loss is c^2 / 6, whose c-derivative is c / 3
    far = F.tukey_biweight(torch.tensor([10.0], dtype=torch.float64),
                           torch.zeros(1, dtype=torch.float64), c=c)
    (gc,) = torch.autograd.grad(far, c)
    assert float(gc) == pytest.approx(2.5 / 3)


# --- GeneralRobust: the negative log-likelihood ------------------------------------------------


def _log_z_scipy(alpha):
    f = lambda x: math.exp(-float(F.general_robust(  # noqa: E731
        torch.tensor([x], dtype=torch.float64), torch.zeros(1, dtype=torch.float64),
        alpha=alpha)))
    value, _ = scipy.integrate.quad(f, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-13, limit=400)
    return math.log(value)


def test_log_partition_closed_forms_and_quadrature():
    alpha = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    expected = [math.log(math.pi * math.sqrt(2)), math.log(2 * math.e * scipy.special.k1(1.0)),
                0.5 * math.log(2 * math.pi)]
    torch.testing.assert_close(log_partition(alpha), torch.tensor(expected, dtype=torch.float64),
                               rtol=1e-12, atol=1e-12)
    for a in (0.25, 0.999, 1.6, 3.0):
        assert float(log_partition(torch.tensor(a, dtype=torch.float64))) == pytest.approx(
            _log_z_scipy(a), abs=1e-9)


def test_log_partition_gradient_matches_differences_of_the_integral():
    for a in (0.3, 1.0, 1.8):
        t = torch.tensor(a, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(log_partition(t), t)
        h = 1e-5
        numeric = (_log_z_scipy(a + h) - _log_z_scipy(a - h)) / (2 * h)
        assert float(g) == pytest.approx(numeric, abs=1e-6)


def test_general_robust_module_is_a_normalized_negative_log_likelihood():
    loss = GeneralRobust(alpha_init=0.7, scale_init=1.8, reduction="none").double()
    # exp(-NLL) integrates to 1 over the residual
    def density(v):
        x = torch.tensor([v], dtype=torch.float64)
        return math.exp(-loss(x, torch.zeros_like(x)).item())
    total, _ = scipy.integrate.quad(density, -np.inf, np.inf, epsabs=1e-11, limit=400)
    assert total == pytest.approx(1.0, abs=1e-8)
    # and it is rho + log c + log Z(alpha) (alpha and c as the parameters hold them)
    a, c = loss.alpha.item(), loss.scale.item()
    assert a == pytest.approx(0.7, rel=1e-6) and c == pytest.approx(1.8, rel=1e-6)
    x = torch.tensor([0.0, 1.0, -4.0], dtype=torch.float64)
    rho = F.general_robust(x, torch.zeros_like(x), alpha=a, scale=c, reduction="none")
    expected = rho + math.log(c) + _log_z_scipy(a)
    torch.testing.assert_close(loss(x, torch.zeros_like(x)), expected, rtol=0, atol=1e-9)


def test_general_robust_module_parameters_start_where_asked_and_stay_in_range():
    loss = GeneralRobust(alpha_init=1.5, scale_init=0.3)
    names = dict(loss.named_parameters())
    assert set(names) == {"latent_alpha", "latent_scale"}
    assert loss.alpha.item() == pytest.approx(1.5, rel=1e-6)
    assert loss.scale.item() == pytest.approx(0.3, rel=1e-6)
    with torch.no_grad():
        loss.latent_alpha.fill_(-1e4)
        loss.latent_scale.fill_(-1e4)
    assert loss.alpha.item() == pytest.approx(0.001, rel=1e-6)
    assert loss.scale.item() == pytest.approx(1e-5, rel=1e-6)
    fixed = GeneralRobust(alpha_init=3.0, learnable_alpha=False, learnable_scale=False)
    assert list(fixed.parameters()) == [] and fixed.alpha.item() == 3.0
    per_dim = GeneralRobust(num_dims=4)
    out = per_dim(torch.randn(5, 4), torch.zeros(5, 4))
    out.backward()
    assert per_dim.latent_alpha.grad.shape == (4,)
    with pytest.raises(losskit.LossInputError, match="num_dims"):
        per_dim(torch.randn(5, 3), torch.zeros(5, 3))
    with pytest.raises(losskit.LossInputError, match="alpha_init"):
        GeneralRobust(alpha_init=2.5)
    with pytest.raises(losskit.LossInputError, match="alpha_range"):
        GeneralRobust(alpha_range=(-1.0, 2.0))


def _fit(data, steps=150):
    loss = GeneralRobust().double()
    opt = torch.optim.Adam(loss.parameters(), lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        loss(data, torch.zeros_like(data)).backward()
        opt.step()
    return loss.alpha.item(), loss.scale.item()


def test_general_robust_module_learns_the_shape_of_the_noise():
    g = torch.Generator().manual_seed(0)
    gaussian = 2.0 * torch.randn(2000, generator=g, dtype=torch.float64)
    alpha, scale = _fit(gaussian)
    assert alpha > 1.6 and scale == pytest.approx(2.0, rel=0.15)  # Gaussian: alpha -> 2, c -> sigma
    # Cauchy(0, 0.3) residuals: alpha -> 0 (Barron's Cauchy has gamma = sqrt(2) c)
    u = torch.rand(2000, generator=g, dtype=torch.float64)
    cauchy = 0.3 * torch.tan(math.pi * (u - 0.5))
    alpha, scale = _fit(cauchy)
    assert alpha < 0.3 and scale == pytest.approx(0.3 / math.sqrt(2), rel=0.25)
