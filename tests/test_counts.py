"""Count and forecasting losses against scikit-learn's mean_tweedie_deviance and
mean_absolute_percentage_error, scipy.stats.nbinom, maximum likelihood on simulated counts,
and hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import losskit
from losskit.functional import mape, mase, negative_binomial_nll, smape, tweedie

sklearn_metrics = pytest.importorskip("sklearn.metrics")
stats = pytest.importorskip("scipy.stats")


def _claims(n=200, seed=0, zeros=True):
    """Amounts with many exact zeros (as Tweedie data) and a spread positive part."""
    g = torch.Generator().manual_seed(seed)
    log_mu = torch.randn(n, generator=g, dtype=torch.float64) * 0.7
    y = torch.rand(n, generator=g, dtype=torch.float64) * 4 * log_mu.exp() + 0.05
    if zeros:
        y[torch.rand(n, generator=g) < 0.3] = 0.0
    return log_mu, y


@pytest.mark.parametrize("power", [-0.5, 0.0, 1.0, 1.2, 1.5, 1.8, 2.0, 3.0])
@pytest.mark.parametrize("log_input", [True, False])
def test_tweedie_is_half_sklearn_deviance(power, log_input):
    # Source: sklearn.metrics.mean_tweedie_deviance(y, mu, power) / 2; its differences
    # between two predictions are therefore the same too.
    log_mu, y = _claims(zeros=1 <= power < 2 or power <= 0)
    mu = log_mu.exp()
    x = log_mu if log_input else mu
    ours = tweedie(x, y, power=power, log_input=log_input)
    expected = sklearn_metrics.mean_tweedie_deviance(y.numpy(), mu.numpy(), power=power) / 2
    assert ours.item() == pytest.approx(expected, rel=1e-10, abs=1e-12)
    other = (log_mu + 0.3) if log_input else mu * math.exp(0.3)
    diff = tweedie(other, y, power=power, log_input=log_input) - ours
    expected_diff = (sklearn_metrics.mean_tweedie_deviance(y.numpy(), mu.numpy() * math.exp(0.3),
                                                           power=power) / 2 - expected)
    assert diff.item() == pytest.approx(expected_diff, rel=1e-9, abs=1e-12)


def test_tweedie_gradient_and_optimum():
    # d/dx of the half deviance with log link: mu^(1-p) (mu - y); 0 at mu = y.
    log_mu, y = _claims(seed=1)
    x = log_mu.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(tweedie(x, y, power=1.5, reduction="sum"), x)
    mu = log_mu.exp()
    torch.testing.assert_close(grad, mu ** (1 - 1.5) * (mu - y))
    positive = y > 0
    assert tweedie(y[positive].log(), y[positive]).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("power", [-1.0, 1.0, 1.2, 1.5, 1.9, 2.0, 3.0])
def test_tweedie_near_the_target_in_float32(power):
    # Source: the deviance at 40 digits (mpmath) of the float32 inputs. Near mu = y the
    # textbook terms cancel: float32 had no correct digit at mu = y e^(1e-4) (errors of
    # 10-150x). Left: the rounding of log y in float32 (|log y| / |log(mu / y)| ulps).
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    p = mpmath.mpf(power)

    def half_deviance(x, y):
        mu, y = mpmath.e ** mpmath.mpf(x), mpmath.mpf(y)
        if power == 1:
            return y * mpmath.log(y / mu) - y + mu
        if power == 2:
            return mpmath.log(mu / y) + y / mu - 1
        return (y ** (2 - p) / ((1 - p) * (2 - p)) - y * mu ** (1 - p) / (1 - p)
                + mu ** (2 - p) / (2 - p))

    y = torch.tensor([0.5, 3.0, 100.0, 1e4] * 4)
    d = torch.tensor([1e-4] * 4 + [-1e-3] * 4 + [0.9] * 4 + [-2.0] * 4)
    x = (y.double().log() + d.double()).float().requires_grad_(True)
    ours = tweedie(x, y, power=power, reduction="none")
    (grad,) = torch.autograd.grad(ours.sum(), x)
    want = [float(half_deviance(float(a), float(b))) for a, b in zip(x.detach(), y)]
    want_grad = [float(mpmath.e ** ((1 - p) * mpmath.mpf(float(a)))
                       * (mpmath.e ** mpmath.mpf(float(a)) - mpmath.mpf(float(b))))
                 for a, b in zip(x.detach(), y)]
    want = torch.tensor(want, dtype=torch.float64)
    rel = (ours.double() - want).abs() / want
    bound = 1e-5 + 4e-7 * y.log().abs().double() / d.abs().double()
    assert (rel <= bound).all(), (rel, bound)
    want_grad = torch.tensor(want_grad, dtype=torch.float64)
    rel_grad = (grad.double() - want_grad).abs() / want_grad.abs()
    assert (rel_grad <= bound).all(), (rel_grad, bound)


def test_expm1_minus_x_against_mpmath():
    # Source: mpmath at 40 digits; the derivative is expm1(x).
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    from losskit._core._math import expm1_minus_x
    x = torch.tensor([-30.0, -1.0, -0.25, -0.2500001, -1e-3, -1e-9, 0.0, 1e-9, 1e-3, 0.25,
                      0.2500001, 1.0, 30.0], dtype=torch.float64, requires_grad=True)
    want = torch.tensor([float(mpmath.expm1(mpmath.mpf(float(v))) - mpmath.mpf(float(v)))
                         for v in x.detach()], dtype=torch.float64)
    got = expm1_minus_x(x)
    torch.testing.assert_close(got, want, rtol=1e-15, atol=1e-300)
    torch.testing.assert_close(expm1_minus_x(x.detach().float()), want.float(), rtol=1e-6,
                               atol=1e-38)
    (grad,) = torch.autograd.grad(got.sum(), x)
    torch.testing.assert_close(grad, torch.expm1(x.detach()), rtol=1e-15, atol=1e-300)
    assert torch.autograd.gradcheck(expm1_minus_x, (x.detach()[2:-2].clone().requires_grad_(),))


def test_tweedie_rejects_invalid_powers_and_targets():
    x, y = torch.zeros(3), torch.tensor([0.0, 1.0, 2.0])
    with pytest.raises(losskit.LossInputError, match="power"):
        tweedie(x, y, power=0.5)
    with pytest.raises(losskit.LossInputError, match="Python number"):
        tweedie(x, y, power=torch.tensor(1.5))
    with pytest.raises(losskit.LossInputError, match="target"):
        tweedie(x, y, power=2.0)       # gamma needs y > 0
    with pytest.raises(losskit.LossInputError, match="target"):
        tweedie(x, -y, power=1.5)
    with pytest.raises(losskit.LossInputError, match="input"):
        tweedie(torch.tensor([1.0, 0.0, 1.0]), y, power=1.5, log_input=False)


def _counts(n=300, seed=0, mean=4.0, dispersion=0.5):
    """NB2 samples: a gamma-distributed Poisson rate with mean `mean` and var mean^2 disp."""
    g = torch.Generator().manual_seed(seed)
    shape = 1.0 / dispersion
    rate = torch._standard_gamma(torch.full((n,), shape, dtype=torch.float64),
                                 generator=g) * mean / shape
    return torch.poisson(rate, generator=g)


@pytest.mark.parametrize("dispersion", [0.05, 0.5, 2.0])
def test_negative_binomial_equals_scipy(dispersion):
    # Source: scipy.stats.nbinom(n = 1/dispersion, p = 1/(1 + dispersion mu)).logpmf.
    y = _counts(dispersion=dispersion)
    log_mu = torch.randn(300, generator=torch.Generator().manual_seed(1),
                         dtype=torch.float64) * 0.5 + 1.0
    mu = log_mu.exp().numpy()
    expected = -stats.nbinom(1 / dispersion, 1 / (1 + dispersion * mu)).logpmf(y.numpy())
    ours = negative_binomial_nll(log_mu, y, dispersion=dispersion, reduction="none")
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-10)
    ours_mu = negative_binomial_nll(log_mu.exp(), y, dispersion=dispersion, log_input=False,
                                    reduction="none")
    np.testing.assert_allclose(ours_mu.numpy(), expected, rtol=1e-10)


def test_negative_binomial_learnable_dispersion():
    y = _counts(n=8, seed=2)
    x = torch.randn(8, generator=torch.Generator().manual_seed(3), dtype=torch.float64,
                    requires_grad=True)
    alpha = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, d: negative_binomial_nll(a, y, dispersion=d),
                                    (x, alpha))
    # one dispersion per element, as a tensor broadcast against the input
    per = torch.full((8,), 0.7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda d: negative_binomial_nll(x.detach(), y, dispersion=d),
                                    (per,))
    # maximum likelihood over (log mean, log dispersion) recovers the simulated 4 and 0.5
    y = _counts(n=5000, seed=4)
    params = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([params], max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = negative_binomial_nll(params[0].expand(5000), y, dispersion=params[1].exp())
        loss.backward()
        return loss

    opt.step(closure)
    mean, dispersion = params.detach().exp().tolist()
    assert mean == pytest.approx(y.mean().item(), rel=1e-5)  # the MLE of the mean is y-bar
    assert dispersion == pytest.approx(0.5, rel=0.1)


def test_negative_binomial_tends_to_poisson_and_stays_finite_at_extreme_logits():
    y = torch.tensor([0.0, 1.0, 5.0], dtype=torch.float64)
    x = torch.tensor([-0.3, 0.2, 1.5], dtype=torch.float64)
    poisson = (x.exp() - y * x + torch.lgamma(y + 1)).mean()
    assert negative_binomial_nll(x, y, dispersion=1e-7).item() == pytest.approx(
        poisson.item(), rel=1e-5)
    big = torch.tensor([1e4, -1e4, 0.0], requires_grad=True)
    out = negative_binomial_nll(big, y.float())
    assert torch.isfinite(out) and torch.isfinite(torch.autograd.grad(out, big)[0]).all()


def test_mape_equals_sklearn_including_zero_targets():
    # Source: sklearn.metrics.mean_absolute_percentage_error (|y - x| / max(|y|, eps)).
    g = torch.Generator().manual_seed(5)
    y = torch.randn(50, generator=g, dtype=torch.float64) * 3
    y[:3] = 0.0
    x = y + torch.randn(50, generator=g, dtype=torch.float64)
    expected = sklearn_metrics.mean_absolute_percentage_error(y.numpy(), x.numpy())
    assert mape(x, y).item() == pytest.approx(expected, rel=1e-12)
    y2, x2 = y.view(10, 5)[:, 1:], x.view(10, 5)[:, 1:]  # multi-output: uniform average
    assert mape(x2, y2).item() == pytest.approx(
        sklearn_metrics.mean_absolute_percentage_error(y2.numpy(), x2.numpy()), rel=1e-12)


def test_smape_hand_values_and_zero_over_zero():
    x = torch.tensor([110.0, 90.0, 0.0, 5.0, 0.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([100.0, 100.0, 0.0, 0.0, 3.0], dtype=torch.float64)
    expected = [20 / 210, 20 / 190, 0.0, 2.0, 2.0]  # 2|x - y| / (|x| + |y|)
    none = smape(x, y, reduction="none")
    torch.testing.assert_close(none, torch.tensor(expected, dtype=torch.float64))
    assert smape(x, y).item() == pytest.approx(sum(expected) / 5)
    (grad,) = torch.autograd.grad(smape(x, y, reduction="sum"), x)
    assert torch.isfinite(grad).all() and grad[2] == 0.0
    # d/dx 2(x - y)/(x + y) at x = 110, y = 100: 4 y / (x + y)^2
    assert grad[0].item() == pytest.approx(4 * 100 / 210 ** 2)


def test_mase_hand_values_scale_forms_and_errors():
    y = torch.tensor([[1.0, 3.0, 2.0, 6.0], [0.0, 0.0, 1.0, 1.0]], dtype=torch.float64)
    x = torch.tensor([[2.0, 3.0, 2.0, 4.0], [0.0, 1.0, 1.0, 1.0]], dtype=torch.float64)
    # in-window naive errors: row 0: (2 + 1 + 4) / 3 = 7/3; row 1: 1/3
    expected_rows = [[1 / (7 / 3), 0.0, 0.0, 2 / (7 / 3)], [0.0, 1 / (1 / 3), 0.0, 0.0]]
    torch.testing.assert_close(mase(x, y, reduction="none"),
                               torch.tensor(expected_rows, dtype=torch.float64))
    history_scale = torch.tensor([[2.0], [0.5]], dtype=torch.float64)
    torch.testing.assert_close(mase(x, y, scale=history_scale),
                               ((x - y).abs() / history_scale).mean())
    assert mase(x, y, scale=2.0).item() == pytest.approx((x - y).abs().mean().item() / 2)
    with pytest.raises(losskit.LossInputError, match="scale"):
        mase(x, y, scale=0.0)
    with pytest.raises(losskit.LossInputError, match="scale"):
        mase(x, torch.ones_like(y))             # constant window: no naive error
    with pytest.raises(losskit.LossInputError, match="2 time steps"):
        mase(x[:, :1], y[:, :1])


@pytest.mark.parametrize("power", [1.2, 1.5, 1.9])
def test_tweedie_zero_target_far_below_is_the_deviance_limit_not_nan(power):
    # For 1 < p < 2 and y = 0 the deviance is mu^(2-p) / (2-p): finite and tending to 0 as
    # the log-mean falls, where y mu^(1-p) = 0 * inf gave NaN (float32 from x = -180 at
    # p = 1.5). Half of scikit-learn's mean_tweedie_deviance is the reference.
    x = torch.tensor([-500.0, -180.0, -60.0, -5.0], requires_grad=True)
    y = torch.zeros(4)
    out = tweedie(x, y, power=power, reduction="none")
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert torch.isfinite(out).all() and torch.isfinite(grad).all()
    for xi, got in zip(x.detach().double(), out.detach().double()):
        mu = float(torch.exp(xi))
        want = (sklearn_metrics.mean_tweedie_deviance([0.0], [mu], power=power) / 2
                if mu > 0 else 0.0)
        assert abs(float(got) - want) <= 1e-6 * want + 1e-45
    # d/dx mu^(2-p) / (2-p) = mu^(2-p)
    torch.testing.assert_close(grad, torch.exp((2 - power) * x.detach()))


@pytest.mark.parametrize("dispersion", [2.0, 0.5, 0.0999, 1e-3, 1e-6, 1e-10])
def test_negative_binomial_near_the_poisson_limit_in_float32(dispersion):
    # Source: the NB2 log-pmf at 50 digits (mpmath) on the float32 inputs, and its derivative
    # in the dispersion. lgamma(y + r) - lgamma(r) cancelled in float32 (0.18 relative error at
    # dispersion 1e-6, 5.6 at 1e-8; scipy's nbinom too, in float64, at 1e-10), and the
    # dispersion's gradient was -16384 for -780 at 1e-10.
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, generator=g)
    y = torch.poisson(torch.full((12,), 3.0), generator=g)
    y[0], y[1] = 0.0, 40.0
    d32 = float(torch.tensor(dispersion, dtype=torch.float32))

    def nll(d):
        r = 1 / mpmath.mpf(d)
        total = 0
        for a, b in zip(x.tolist(), y.tolist()):
            mu, k = mpmath.e ** mpmath.mpf(a), mpmath.mpf(b)
            total -= (mpmath.loggamma(k + r) - mpmath.loggamma(r) - mpmath.loggamma(k + 1)
                      + r * mpmath.log(r / (r + mu)) + k * mpmath.log(mu / (r + mu)))
        return total

    alpha = torch.tensor(dispersion, dtype=torch.float32, requires_grad=True)
    ours = negative_binomial_nll(x, y, dispersion=alpha, reduction="sum")
    (grad,) = torch.autograd.grad(ours, alpha)
    assert float(ours.detach()) == pytest.approx(float(nll(d32)), rel=2e-6)
    assert float(grad) == pytest.approx(float(mpmath.diff(nll, mpmath.mpf(d32))), rel=2e-5)
    assert float(negative_binomial_nll(x, y, dispersion=dispersion, reduction="sum")) == \
        pytest.approx(float(nll(dispersion)), rel=2e-6)


def test_negative_binomial_per_element_dispersion_on_both_sides_of_the_series():
    # One tensor with dispersions on both sides of the switch to Stirling's series equals the
    # calls with each number, values and gradients (float64).
    x = torch.tensor([0.3, -1.0, 2.0, 0.5], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.0, 0.0, 9.0, 4.0], dtype=torch.float64)
    d = [1.5, 0.2, 0.05, 1e-7]
    both = negative_binomial_nll(x, y, dispersion=torch.tensor(d, dtype=torch.float64),
                                 reduction="none")
    alone = torch.stack([negative_binomial_nll(x[i:i + 1], y[i:i + 1], dispersion=d[i],
                                               reduction="sum") for i in range(4)])
    torch.testing.assert_close(both, alone, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(torch.autograd.grad(both.sum(), x)[0],
                               torch.autograd.grad(alone.sum(), x)[0], rtol=1e-12, atol=1e-13)
