"""Regression losses: every option against an independent source, and the limiting cases.

Sources: the textbook scalar formulas written out per element in this file (Huber 1964,
Girshick 2015, Koenker & Bassett 1978), scipy.stats (Poisson and normal log-densities),
torch's own ``poisson_nll_loss`` / ``gaussian_nll_loss`` (which the definitions do not
call), and the identities between losses (huge delta -> MSE / 2, smooth_l1 = huber / beta).
Definitions run alone (``kernels.use("plain")``); the accelerators are checked against
them in tests/test_accelerators.py.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import losskit
from losskit import functional as F
from losskit import kernels


@pytest.fixture(autouse=True)
def definitions_only():
    with kernels.use("plain"):
        yield


def _pair(n=40, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, generator=g, dtype=torch.float64) * scale,
            torch.randn(n, generator=g, dtype=torch.float64) * scale)


def _loop(fn, x, y):
    return torch.stack([fn(float(a), float(b)) for a, b in zip(x, y)]).double()


def _t(v):
    return torch.tensor(v, dtype=torch.float64)


@pytest.mark.parametrize("delta", [0.3, 1.0, 2.5])
def test_huber_branches_by_hand(delta):
    x, y = _pair()

    def huber(a, b):
        r = abs(a - b)
        return _t(0.5 * r * r if r <= delta else delta * (r - 0.5 * delta))
    expected = _loop(huber, x, y)
    torch.testing.assert_close(F.huber(x, y, delta=delta, reduction="none"), expected)
    torch.testing.assert_close(F.huber(x, y, delta=delta), expected.mean())
    torch.testing.assert_close(F.huber(x, y, delta=delta, reduction="sum"), expected.sum())
    # gradient: the residual inside the band, delta * sign outside
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.huber(xr, y, delta=delta, reduction="sum"), xr)
    torch.testing.assert_close(g, (x - y).clamp(-delta, delta))


def test_huber_limits():
    x, y = _pair()
    torch.testing.assert_close(F.huber(x, y, delta=1e6), F.mse(x, y) / 2)
    small = 1e-6
    torch.testing.assert_close(F.huber(x, y, delta=small) / small, F.mae(x, y), rtol=1e-5,
                               atol=1e-8)


@pytest.mark.parametrize("beta", [0.0, 0.4, 1.0, 3.0])
def test_smooth_l1_branches_by_hand(beta):
    x, y = _pair(seed=1)

    def smooth(a, b):
        r = abs(a - b)
        return _t(r if beta == 0 else (0.5 * r * r / beta if r < beta else r - 0.5 * beta))
    torch.testing.assert_close(F.smooth_l1(x, y, beta=beta, reduction="none"),
                               _loop(smooth, x, y))
    if beta > 0:
        torch.testing.assert_close(F.smooth_l1(x, y, beta=beta),
                                   F.huber(x, y, delta=beta) / beta)
        xr = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(F.smooth_l1(xr, y, beta=beta, reduction="sum"), xr)
        torch.testing.assert_close(g, ((x - y) / beta).clamp(-1, 1))


def test_mse_mae_and_their_gradients_by_hand():
    x, y = _pair(seed=2)
    torch.testing.assert_close(F.mse(x, y, reduction="none"), _loop(lambda a, b: _t((a - b) ** 2),
                                                                     x, y))
    torch.testing.assert_close(F.mae(x, y, reduction="none"), _loop(lambda a, b: _t(abs(a - b)),
                                                                     x, y))
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.mse(xr, y), xr)
    torch.testing.assert_close(g, 2 * (x - y) / x.numel())
    (g,) = torch.autograd.grad(F.mae(xr, y, reduction="sum"), xr)
    torch.testing.assert_close(g, torch.sign(x - y))


def test_log_cosh_by_hand_and_far_from_zero():
    x, y = _pair(seed=3)
    torch.testing.assert_close(F.log_cosh(x, y, reduction="none"),
                               _loop(lambda a, b: _t(math.log(math.cosh(a - b))), x, y))
    far = torch.tensor([1000.0]), torch.tensor([0.0])
    # log cosh r = r - log 2 + log(1 + e^{-2r}) -> r - log 2
    torch.testing.assert_close(F.log_cosh(*far), torch.tensor(1000.0 - math.log(2.0)))
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.log_cosh(xr, y, reduction="sum"), xr)
    torch.testing.assert_close(g, torch.tanh(x - y))


@pytest.mark.parametrize("levels", [0.5, 0.1, 0.9, (0.1, 0.5, 0.9)])
def test_quantile_pinball_by_hand(levels):
    g = torch.Generator().manual_seed(4)
    y = torch.randn(30, generator=g, dtype=torch.float64)
    qs = [levels] if isinstance(levels, float) else list(levels)
    x = torch.randn(30, len(qs), generator=g, dtype=torch.float64)
    expected = torch.stack([
        torch.stack([_t(q * (float(yy) - float(xx[k])) if yy >= xx[k]
                        else (q - 1) * (float(yy) - float(xx[k])))
                     for k, q in enumerate(qs)]) for xx, yy in zip(x, y)])
    if isinstance(levels, float):
        x, expected = x[:, 0], expected[:, 0]
    torch.testing.assert_close(F.quantile(x, y, quantiles=levels, reduction="none"), expected)
    torch.testing.assert_close(F.quantile(x, y, quantiles=levels), expected.mean())


def test_quantile_half_is_half_mae_and_bad_levels_raise():
    x, y = _pair(seed=5)
    torch.testing.assert_close(F.quantile(x, y, quantiles=0.5), F.mae(x, y) / 2)
    for bad in (0.0, 1.0, -0.2, ()):
        with pytest.raises(losskit.LossInputError, match="quantiles"):
            F.quantile(x, y, quantiles=bad)
    with pytest.raises(losskit.LossInputError, match="shape"):
        F.quantile(x, y, quantiles=(0.1, 0.9))


def test_msle_by_hand_and_domain():
    g = torch.Generator().manual_seed(6)
    x = torch.rand(20, generator=g, dtype=torch.float64) * 5
    y = torch.rand(20, generator=g, dtype=torch.float64) * 5
    torch.testing.assert_close(F.msle(x, y, reduction="none"),
                               _loop(lambda a, b: _t((math.log1p(a) - math.log1p(b)) ** 2), x, y))
    with pytest.raises(losskit.LossInputError, match="non-negative"):
        F.msle(x, -y)
    with pytest.raises(losskit.LossInputError, match="-1"):
        F.msle(x - 10, y)


def test_poisson_nll_options_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    g = torch.Generator().manual_seed(7)
    log_rate = torch.randn(25, generator=g, dtype=torch.float64) * 0.7
    counts = torch.poisson(torch.full((25,), 3.0, dtype=torch.float64), generator=g)
    rate = log_rate.exp()
    # -log p(y | mu) = mu - y log mu + log y!; the loss drops log y! (full adds Stirling's)
    nll = -torch.as_tensor(stats.poisson.logpmf(counts.numpy(), rate.numpy()))
    log_fact = torch.lgamma(counts + 1)
    torch.testing.assert_close(F.poisson_nll(log_rate, counts, reduction="none"), nll - log_fact)
    torch.testing.assert_close(F.poisson_nll(rate, counts, log_input=False, eps=0.0,
                                             reduction="none"), nll - log_fact)
    full = F.poisson_nll(log_rate, counts, full=True, reduction="none")
    stirling = torch.where(counts > 1, counts * torch.log(counts.clamp(min=1)) - counts
                           + 0.5 * torch.log(2 * math.pi * counts.clamp(min=1)), 0.0)
    torch.testing.assert_close(full, nll - log_fact + stirling)
    # exposure: mu = exposure * exp(x), the Poisson GLM offset
    exposure = torch.rand(25, generator=g, dtype=torch.float64) * 3 + 0.5
    nll_e = -torch.as_tensor(stats.poisson.logpmf(counts.numpy(), (exposure * rate).numpy()))
    torch.testing.assert_close(F.poisson_nll(log_rate, counts, exposure=exposure,
                                             reduction="none"), nll_e - log_fact)
    torch.testing.assert_close(F.poisson_nll(rate, counts, log_input=False, exposure=exposure,
                                             eps=0.0, reduction="none"), nll_e - log_fact)
    # torch's own loss agrees with the default form
    torch.testing.assert_close(F.poisson_nll(log_rate, counts),
                               torch.nn.functional.poisson_nll_loss(log_rate, counts))
    with pytest.raises(losskit.LossInputError, match="exposure"):
        F.poisson_nll(log_rate, counts, exposure=-exposure)


@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_against_scipy(full):
    stats = pytest.importorskip("scipy.stats")
    g = torch.Generator().manual_seed(8)
    mean = torch.randn(16, generator=g, dtype=torch.float64)
    y = torch.randn(16, generator=g, dtype=torch.float64)
    var = torch.rand(16, generator=g, dtype=torch.float64) + 0.2
    logpdf = torch.as_tensor(stats.norm.logpdf(y.numpy(), mean.numpy(), var.sqrt().numpy()))
    constant = 0.0 if full else 0.5 * math.log(2 * math.pi)
    torch.testing.assert_close(F.gaussian_nll(mean, y, var, full=full, reduction="none"),
                               -logpdf - constant)
    # one variance per sample ([N] for [N, 1] means) and the eps clamp of the value
    torch.testing.assert_close(F.gaussian_nll(mean[:, None], y[:, None], var),
                               F.gaussian_nll(mean, y, var))
    tiny = torch.full_like(var, 1e-12)
    clamped = F.gaussian_nll(mean, y, tiny, eps=1e-3, reduction="none")
    torch.testing.assert_close(clamped, 0.5 * (math.log(1e-3) + (mean - y) ** 2 / 1e-3))


@pytest.mark.parametrize("mode", ["plain", "auto"])
def test_weight_rescales_each_regression_loss(mode):
    # In auto mode the weightless calls go to the builtin accelerators; a weighted call
    # must not (they would drop the weight).
    x, y = _pair(seed=9)
    w = torch.linspace(0.0, 2.0, x.numel(), dtype=torch.float64)
    with kernels.use(mode):
        for name in ("mse", "mae", "huber", "smooth_l1", "log_cosh"):
            fn = losskit.info(name).fn
            expected = _loop(lambda a, b, fn=fn: fn(_t([a]), _t([b]), reduction="sum"), x, y)
            torch.testing.assert_close(fn(x, y, weight=w), (expected * w).mean())


def test_hyperparameter_bounds_are_strict_where_zero_breaks_the_formula():
    x, y = _pair(seed=10)
    with pytest.raises(losskit.LossInputError, match="delta"):
        F.huber(x, y, delta=0.0)
    with pytest.raises(losskit.LossInputError, match="eps"):
        F.gaussian_nll(x, y, torch.ones_like(x), eps=0.0)
    with pytest.raises(losskit.LossInputError, match="-1"):
        F.msle(torch.full_like(x, -1.5), y.abs())


def test_trailing_axes_are_handled_on_the_last_dimension():
    # Multi-level quantiles and per-sample variances are aligned on the last axis, also
    # when the batch has more than one leading axis.
    g = torch.Generator().manual_seed(11)
    y = torch.randn(4, 2, generator=g, dtype=torch.float64)
    x = torch.randn(4, 2, 3, generator=g, dtype=torch.float64)
    levels = (0.2, 0.5, 0.8)
    expected = torch.stack([F.quantile(x[..., k], y, quantiles=q, reduction="none")
                            for k, q in enumerate(levels)], -1)
    torch.testing.assert_close(F.quantile(x, y, quantiles=levels, reduction="none"), expected)
    mean = torch.randn(4, 2, 1, generator=g, dtype=torch.float64)
    var = torch.rand(4, 2, generator=g, dtype=torch.float64) + 0.5
    torch.testing.assert_close(F.gaussian_nll(mean, y[..., None], var, reduction="none"),
                               F.gaussian_nll(mean, y[..., None], var[..., None],
                                              reduction="none"))


def test_poisson_eps_and_stirling_for_non_integer_counts():
    x = torch.tensor([0.5, 2.0, 3.0], dtype=torch.float64)
    y = torch.tensor([1.5, 0.0, 2.5], dtype=torch.float64)
    # rates with eps inside the log, exactly as written: x - y log(x + eps)
    torch.testing.assert_close(F.poisson_nll(x, y, log_input=False, eps=0.5, reduction="none"),
                               x - y * torch.log(x + 0.5))
    e = torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)
    torch.testing.assert_close(
        F.poisson_nll(x, y, log_input=False, eps=0.5, exposure=e, reduction="none"),
        x * e - y * torch.log(x * e + 0.5))
    # Stirling's term is added for y > 1, also between 1 and 2
    stirling = y * torch.log(y) - y + 0.5 * torch.log(2 * math.pi * y)
    full = F.poisson_nll(x.log(), y, full=True, reduction="none")
    torch.testing.assert_close(full, x - y * x.log() + torch.where(y > 1, stirling, 0.0))


@pytest.mark.parametrize("mode", ["plain", "native"])
def test_log_cosh_is_accurate_for_small_residuals_in_float32(mode):
    # log cosh r ~ r^2 / 2: the form r + softplus(-2r) - log 2 cancels in float32 (100% off
    # at r = 1e-4, and negative). Reference: mpmath at 30 digits; tanh for the gradient.
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 30
    from losskit.kernels import _native

    if mode == "native" and _native.library() is None:
        pytest.skip(f"no native kernels: {_native.build_error()}")
    levels = [1e-4, -3e-4, 1e-3, 0.3, -0.999, 1.001, 7.0]
    r = torch.tensor(levels, dtype=torch.float32).repeat_interleave(1 << 13)  # native sizes
    x = r.clone().requires_grad_(True)
    with kernels.use(mode):
        out = F.log_cosh(x, torch.zeros_like(r), reduction="none")
        (grad,) = torch.autograd.grad(out.sum(), x)
    want = torch.tensor([float(mpmath.log(mpmath.cosh(mpmath.mpf(v)))) for v in levels],
                        dtype=torch.float64).repeat_interleave(1 << 13)
    torch.testing.assert_close(out.double(), want, rtol=1e-6, atol=0.0)
    torch.testing.assert_close(grad.double(), torch.tanh(r.double()), rtol=1e-6, atol=0.0)


def test_gaussian_nll_takes_torchs_var_shapes_only():
    # torch.nn.functional.gaussian_nll_loss: var shaped like the input, one per sample
    # ([N] or [N, 1] for [N, D]), or (here) a 0-dim tensor; a [D] var against [N, D] with
    # N != D is refused (it was broadcast per column, while N == D reads it per sample).
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    for var in (torch.rand(4, 3, generator=g) + 0.1, torch.rand(4, generator=g) + 0.1,
                torch.rand(4, 1, generator=g) + 0.1):
        torch.testing.assert_close(
            F.gaussian_nll(x, y, var, reduction="none"),
            torch.nn.functional.gaussian_nll_loss(x, y, var, reduction="none"))
    with pytest.raises(losskit.LossInputError, match="one per sample"):
        F.gaussian_nll(x, y, torch.rand(3, generator=g) + 0.1)
    v = torch.tensor(0.7)
    torch.testing.assert_close(F.gaussian_nll(x, y, v), F.gaussian_nll(x, y, v.expand(4, 3)))


# --- CRPS ------------------------------------------------------------------------------------
# Source: the definition of the CRPS, the integral over t of (F(t) - 1[t >= y])^2 (Gneiting &
# Raftery 2007, eq. 20), by scipy.integrate.quad with scipy.stats.norm.cdf for a Gaussian and
# exactly, interval by interval, for the empirical CDF of an ensemble.


def _crps_by_integration(cdf, y, lo, hi):
    integrate = pytest.importorskip("scipy.integrate")
    left, _ = integrate.quad(lambda t: cdf(t) ** 2, lo, y, limit=200, epsabs=1e-13)
    right, _ = integrate.quad(lambda t: (1 - cdf(t)) ** 2, y, hi, limit=200, epsabs=1e-13)
    return left + right


def test_crps_gaussian_is_the_integral_of_the_squared_cdf_difference():
    stats = pytest.importorskip("scipy.stats")
    mu = _t([0.0, 1.5, -2.0, 0.3, 10.0])
    y = _t([0.0, 0.2, 1.0, 0.3, -5.0])
    var = _t([1.0, 0.25, 4.0, 1e-4, 9.0])
    ours = F.crps_gaussian(mu, y, var, reduction="none")
    want = []
    for m, t0, v in zip(mu.tolist(), y.tolist(), var.tolist()):
        s = v ** 0.5
        want.append(_crps_by_integration(lambda t, m=m, s=s: stats.norm.cdf(t, m, s), t0,
                                         min(m, t0) - 40 * s, max(m, t0) + 40 * s))
    torch.testing.assert_close(ours, _t(want), rtol=1e-7, atol=1e-9)
    # gradients: dL/dmu = 1 - 2 Phi(z), dL/dsigma = 2 phi(z) - 1 / sqrt(pi), z = (y - mu) / sigma
    m = mu.clone().requires_grad_(True)
    v = var.clone().requires_grad_(True)
    g_mu, g_var = torch.autograd.grad(F.crps_gaussian(m, y, v, reduction="sum"), (m, v))
    sigma = var.sqrt().numpy()
    z = (y.numpy() - mu.numpy()) / sigma
    torch.testing.assert_close(g_mu, _t(1 - 2 * stats.norm.cdf(z)))
    d_sigma = 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi)
    torch.testing.assert_close(g_var, _t(d_sigma / (2 * sigma)))


def test_crps_gaussian_limits_and_low_precision():
    # var -> 0: the CRPS of a point mass is |y - mu| (MAE), in float32 too (the form is
    # d (2 Phi(z) - 1) + sigma (...), never sigma * z)
    mu, y = torch.tensor([0.0, 1.0, 3e4]), torch.tensor([2.0, 1.0, -3e4])
    tiny = F.crps_gaussian(mu, y, torch.full((3,), 1e-30), eps=1e-30, reduction="none")
    torch.testing.assert_close(tiny, (y - mu).abs())
    # float16 and bfloat16 are computed in float32
    x16 = torch.tensor([0.5, -1.0], dtype=torch.float16)
    y16 = torch.tensor([0.0, 2.0], dtype=torch.float16)
    v16 = torch.tensor([0.5, 2.0], dtype=torch.float16)
    out = F.crps_gaussian(x16, y16, v16)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, F.crps_gaussian(x16.float(), y16.float(), v16.float()))
    with pytest.raises(losskit.LossInputError, match="var"):
        F.crps_gaussian(mu, y, torch.tensor([1.0, -1.0, 1.0]))


def _empirical_crps(members, y):
    """The integral of (F_M(t) - 1[t >= y])^2, exactly: F_M is a step function."""
    import numpy as np
    pts = np.sort(np.append(members, y))
    total = 0.0
    for a, b in itertools.pairwise(pts):
        mid = 0.5 * (a + b)
        cdf = np.mean(members <= mid)
        total += (cdf - float(mid >= y)) ** 2 * (b - a)
    return total


def test_crps_ensemble_is_the_crps_of_the_empirical_distribution():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(6, 7, generator=g, dtype=torch.float64) * 2
    y = torch.randn(6, generator=g, dtype=torch.float64)
    x[0, 3] = x[0, 1]  # a tie
    y[1] = x[1, 2]  # the target on a member
    ours = F.crps_ensemble(x, y, reduction="none")
    want = [_empirical_crps(x[i].numpy(), float(y[i])) for i in range(6)]
    torch.testing.assert_close(ours, _t(want), rtol=1e-12, atol=1e-12)
    # Ferro's fair CRPS: mean |x_i - y| - sum_{i != j} |x_i - x_j| / (2 M (M - 1))
    m = x.shape[1]
    pairs = (x[:, :, None] - x[:, None, :]).abs().sum((1, 2))
    fair = (x - y[:, None]).abs().mean(1) - pairs / (2 * m * (m - 1))
    torch.testing.assert_close(F.crps_ensemble(x, y, fair=True, reduction="none"), fair)
    # one member is MAE; [*, M] inputs of any rank; gradients by finite differences
    torch.testing.assert_close(F.crps_ensemble(x[:, :1], y), (x[:, 0] - y).abs().mean())
    x3, y3 = x.reshape(2, 3, 7), y.reshape(2, 3)
    assert F.crps_ensemble(x3, y3, reduction="none").shape == (2, 3)
    xg = torch.randn(4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: F.crps_ensemble(a, y[:4], fair=True), (xg,))


def test_crps_ensemble_rejects_mismatched_shapes_and_too_few_members():
    with pytest.raises(losskit.LossInputError, match=r"\[\*, M\]"):
        F.crps_ensemble(torch.zeros(4, 5), torch.zeros(5))
    with pytest.raises(losskit.LossInputError, match="at least 2 members"):
        F.crps_ensemble(torch.zeros(4, 1), torch.zeros(4), fair=True)


def test_poisson_nll_refuses_a_negative_rate():
    # log_input=False: log(rate + eps) of a negative rate was a silent NaN (torch's too);
    # tweedie and negative_binomial_nll refuse theirs.
    with pytest.raises(losskit.LossInputError, match="input must be non-negative"):
        F.poisson_nll(_t([0.5, -0.1]), _t([1.0, 0.0]), log_input=False)
    assert torch.isfinite(F.poisson_nll(_t([0.5, 0.0]), _t([1.0, 0.0]), log_input=False))
