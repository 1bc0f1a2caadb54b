"""Survival and censored losses against statsmodels' PHReg, pycox's losses (or their
formulas transcribed here), scipy.stats distributions and closed-form maximum likelihood
estimates (the life table)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import losskit
from losskit.functional import cox_ph, deephit, discrete_hazard, tobit, weibull_nll

stats = pytest.importorskip("scipy.stats")


def _survival_data(n=40, p=3, seed=0, distinct=8, event_rate=0.6):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, p, generator=g, dtype=torch.float64)
    time = torch.randint(1, distinct + 1, (n,), generator=g).double()  # many ties
    event = (torch.rand(n, generator=g) < event_rate).double()
    beta = torch.randn(p, generator=g, dtype=torch.float64) * 0.7
    return X, time, event, beta


# --- cox_ph ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_cox_ph_equals_statsmodels_phreg_value_and_score(ties):
    # Source: statsmodels.duration.hazard_regression.PHReg.loglike / .score.
    phreg = pytest.importorskip("statsmodels.duration.hazard_regression")
    X, time, event, beta = _survival_data()
    model = phreg.PHReg(time.numpy(), X.numpy(), status=event.numpy(), ties=ties)
    loglike = model.loglike(beta.numpy())
    b = beta.clone().requires_grad_(True)
    total = cox_ph(X @ b, time, event, ties=ties, reduction="sum")
    assert total.item() == pytest.approx(-loglike, rel=1e-12)
    mean = cox_ph(X @ beta, time, event, ties=ties)
    assert mean.item() == pytest.approx(-loglike / event.sum().item(), rel=1e-12)
    (grad,) = torch.autograd.grad(total, b)
    np.testing.assert_allclose(grad.numpy(), -model.score(beta.numpy()), rtol=1e-10)


def test_cox_ph_minimizer_is_statsmodels_fit():
    # Fitting beta by minimizing cox_ph (Efron) reaches PHReg.fit()'s estimate.
    phreg = pytest.importorskip("statsmodels.duration.hazard_regression")
    X, time, event, _ = _survival_data(n=40, seed=1)
    expected = phreg.PHReg(time.numpy(), X.numpy(), status=event.numpy(), ties="efron").fit()
    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([b], max_iter=100, tolerance_grad=1e-12, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = cox_ph(X @ b, time, event, ties="efron")
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(b.detach().numpy(), expected.params, atol=1e-6)


def test_cox_ph_ties_by_hand():
    # Two tied events (risks a, b) at t=1 with one later subject (risk c) at risk.
    a, b_, c = 0.5, -0.2, 0.3
    risk = torch.tensor([a, b_, c], dtype=torch.float64)
    time = torch.tensor([1.0, 1.0, 2.0], dtype=torch.float64)
    event = torch.tensor([1, 1, 0])
    R = math.exp(a) + math.exp(b_) + math.exp(c)
    D = math.exp(a) + math.exp(b_)
    breslow = 2 * math.log(R) - a - b_
    efron = math.log(R) + math.log(R - D / 2) - a - b_
    assert cox_ph(risk, time, event, reduction="sum").item() == pytest.approx(breslow, abs=1e-13)
    assert cox_ph(risk, time, event, ties="efron", reduction="sum").item() == pytest.approx(
        efron, abs=1e-13)
    # each tied event carries the group's average Efron term; the censored subject 0
    none = cox_ph(risk, time, event, ties="efron", reduction="none")
    half = (math.log(R) + math.log(R - D / 2)) / 2
    torch.testing.assert_close(none, torch.tensor([half - a, half - b_, 0.0],
                                                  dtype=torch.float64))


def test_cox_ph_efron_equals_breslow_without_ties_and_none_follows_the_subjects():
    g = torch.Generator().manual_seed(3)
    risk = torch.randn(25, generator=g, dtype=torch.float64)
    time = torch.rand(25, generator=g, dtype=torch.float64)  # continuous: no ties
    event = (torch.rand(25, generator=g) > 0.4).long()
    torch.testing.assert_close(cox_ph(risk, time, event, ties="efron", reduction="none"),
                               cox_ph(risk, time, event, reduction="none"))
    # with ties, permuting the subjects permutes the per-subject terms
    time = torch.randint(0, 4, (25,), generator=g)
    perm = torch.randperm(25, generator=g)
    for ties in ("breslow", "efron"):
        none = cox_ph(risk, time, event, ties=ties, reduction="none")
        torch.testing.assert_close(cox_ph(risk[perm], time[perm], event[perm], ties=ties,
                                          reduction="none"), none[perm])


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_cox_ph_without_events_is_zero_attached(ties):
    risk = torch.randn(6, dtype=torch.float64, requires_grad=True)
    time = torch.arange(6.0)
    for reduction in ("mean", "sum"):
        out = cox_ph(risk, time, torch.zeros(6), ties=ties, reduction=reduction)
        assert out.item() == 0.0
        assert torch.equal(torch.autograd.grad(out, risk)[0], torch.zeros(6, dtype=torch.float64))


def test_cox_ph_weight_scales_event_terms_and_huge_risks_stay_finite():
    X, time, event, beta = _survival_data(seed=4)
    risk = X @ beta
    w = torch.rand(40, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    none = cox_ph(risk, time, event, ties="efron", reduction="none")
    assert cox_ph(risk, time, event, ties="efron", weight=w, reduction="sum").item() == \
        pytest.approx((none * w).sum().item(), rel=1e-12)
    big = (risk * 1e4).float().requires_grad_(True)
    for ties in ("breslow", "efron"):
        out = cox_ph(big, time, event, ties=ties)
        assert torch.isfinite(out)
        assert torch.isfinite(torch.autograd.grad(out, big)[0]).all()


def test_cox_ph_efron_traces_and_runs_on_meta():
    X, time, event, beta = _survival_data(seed=6)
    risk = X @ beta
    compiled = torch.compile(lambda r, t, e: cox_ph(r, t, e, ties="efron"), backend="aot_eager",
                             fullgraph=True)
    torch.testing.assert_close(compiled(risk, time, event), cox_ph(risk, time, event,
                                                                   ties="efron"))
    with losskit.value_checks(False):
        out = cox_ph(risk.to("meta"), time.to("meta"), event.to("meta"), ties="efron")
    assert out.device.type == "meta"


def test_cox_ph_rejects_bad_arguments():
    risk, time = torch.zeros(3), torch.arange(3.0)
    with pytest.raises(losskit.LossInputError, match="ties"):
        cox_ph(risk, time, torch.ones(3), ties="exact")
    with pytest.raises(losskit.LossInputError, match="event"):
        cox_ph(risk, time, torch.tensor([0.5, 1.0, 0.0]))
    with pytest.raises(losskit.LossInputError, match="time"):
        cox_ph(risk, torch.arange(4.0), torch.ones(3))


# --- discrete_hazard and deephit --------------------------------------------------------------


def _binned(n=30, bins=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, bins, generator=g, dtype=torch.float64) * 1.5
    time_bin = torch.randint(0, bins, (n,), generator=g)
    event = (torch.rand(n, generator=g) > 0.35).double()
    return logits, time_bin, event


def _logistic_hazard_formula(phi, idx, events):
    """pycox's nll_logistic_hazard, written out: scatter the event into its interval,
    BCE with logits everywhere, running sum, read at the subject's interval."""
    y = torch.zeros_like(phi).scatter(1, idx.view(-1, 1), events.view(-1, 1).to(phi.dtype))
    bce = torch.nn.functional.binary_cross_entropy_with_logits(phi, y, reduction="none")
    return bce.cumsum(1).gather(1, idx.view(-1, 1)).view(-1)


def test_discrete_hazard_equals_pycox_formula():
    logits, time_bin, event = _binned()
    expected = _logistic_hazard_formula(logits, time_bin, event)
    torch.testing.assert_close(discrete_hazard(logits, time_bin, event, reduction="none"),
                               expected)
    torch.testing.assert_close(discrete_hazard(logits, time_bin, event.bool()), expected.mean())


def test_discrete_hazard_equals_pycox():
    pycox_loss = pytest.importorskip("pycox.models.loss")
    logits, time_bin, event = _binned(seed=1)
    for reduction in ("mean", "sum", "none"):
        torch.testing.assert_close(
            discrete_hazard(logits, time_bin, event, reduction=reduction),
            pycox_loss.nll_logistic_hazard(logits, time_bin, event, reduction=reduction))


def _life_table_hazard(time_bin, event, bins):
    """The MLE of a discrete hazard per interval: events in it / subjects at risk in it
    (censored subjects count as at risk through their own interval)."""
    at_risk = torch.stack([(time_bin >= k).sum() for k in range(bins)]).double()
    events = torch.stack([((time_bin == k) & event.bool()).sum() for k in range(bins)]).double()
    return events / at_risk


def test_discrete_hazard_trains_to_the_life_table():
    g = torch.Generator().manual_seed(2)
    n, bins = 400, 4
    time_bin = torch.randint(0, bins, (n,), generator=g)
    event = (torch.rand(n, generator=g) > 0.3).double()
    theta = torch.zeros(bins, dtype=torch.float64, requires_grad=True)  # one logit per interval
    opt = torch.optim.LBFGS([theta], max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = discrete_hazard(theta.expand(n, bins), time_bin, event)
        loss.backward()
        return loss

    opt.step(closure)
    torch.testing.assert_close(torch.sigmoid(theta.detach()),
                               _life_table_hazard(time_bin, event, bins), atol=1e-6, rtol=0)


def _pycox_deephit_formula(phi, idx, events, alpha, sigma, epsilon=1e-7):
    """pycox's DeepHitSingleLoss (nll_pmf + rank_loss_deephit_single with pair_rank_mat),
    written out with the same epsilon."""
    n = phi.shape[0]
    padded = torch.cat([phi, torch.zeros_like(phi[:, :1])], 1)
    gamma = padded.max(1)[0]
    cumsum = (padded - gamma.view(-1, 1)).exp().cumsum(1)
    sum_ = cumsum[:, -1]
    part1 = (padded.gather(1, idx.view(-1, 1)).view(-1) - gamma) * events
    part2 = -(sum_.relu() + epsilon).log()
    part3 = ((sum_ - cumsum.gather(1, idx.view(-1, 1)).view(-1)).relu() + epsilon).log() \
        * (1.0 - events)
    nll = -(part1 + part2 + part3)
    rank_mat = torch.zeros(n, n, dtype=phi.dtype)
    for i in range(n):
        for j in range(n):
            if events[i] == 1 and (idx[i] < idx[j] or (idx[i] == idx[j] and events[j] == 0)):
                rank_mat[i, j] = 1.0
    pmf = torch.softmax(padded, 1)
    y = torch.zeros_like(pmf).scatter(1, idx.view(-1, 1), 1.0)
    r = pmf.cumsum(1) @ y.T
    r = (r.diag().view(1, -1) - r).T  # R_ij = F_i(T_i) - F_j(T_i)
    rank = (rank_mat * torch.exp(-r / sigma)).mean(1)
    return alpha * nll + (1 - alpha) * rank


@pytest.mark.parametrize("alpha, sigma", [(0.2, 0.1), (0.7, 0.5), (1.0, 0.1), (0.0, 0.3)])
def test_deephit_equals_pycox_formula(alpha, sigma):
    logits, time_bin, event = _binned(seed=3)
    expected = _pycox_deephit_formula(logits, time_bin, event, alpha, sigma)
    ours = deephit(logits, time_bin, event, alpha=alpha, sigma=sigma, reduction="none")
    # pycox puts epsilon = 1e-7 inside its logs; ours is exact: they agree to about
    # 1e-7 / (survival mass), and exactly once the epsilon is taken out.
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)
    exact = _pycox_deephit_formula(logits, time_bin, event, alpha, sigma, epsilon=0.0)
    torch.testing.assert_close(ours, exact, rtol=1e-12, atol=1e-12)


def test_deephit_equals_pycox():
    pycox_loss = pytest.importorskip("pycox.models.loss")
    pycox_data = pytest.importorskip("pycox.models.data")
    logits, time_bin, event = _binned(seed=4)
    rank_mat = torch.from_numpy(pycox_data.pair_rank_mat(time_bin.numpy(), event.numpy()))
    for reduction in ("mean", "sum"):
        theirs = pycox_loss.DeepHitSingleLoss(alpha=0.3, sigma=0.2, reduction=reduction)(
            logits.float(), time_bin, event.float(), rank_mat.float())
        ours = deephit(logits.float(), time_bin, event, alpha=0.3, sigma=0.2,
                       reduction=reduction)
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_deephit_likelihood_alone_trains_to_the_life_table():
    # alpha = 1 leaves the pmf likelihood, whose MLE for a saturated pmf is the life table.
    g = torch.Generator().manual_seed(5)
    n, bins = 120, 3
    time_bin = torch.randint(0, bins, (n,), generator=g)
    event = (torch.rand(n, generator=g) > 0.3).double()
    theta = torch.zeros(bins, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([theta], max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = deephit(theta.expand(n, bins), time_bin, event, alpha=1.0)
        loss.backward()
        return loss

    opt.step(closure)
    pmf = torch.softmax(torch.cat([theta.detach(), torch.zeros(1, dtype=torch.float64)]), 0)
    survival_before = 1.0 - torch.cat([torch.zeros(1, dtype=torch.float64), pmf.cumsum(0)[:-1]])
    hazard = pmf[:bins] / survival_before[:bins]
    torch.testing.assert_close(hazard, _life_table_hazard(time_bin, event, bins), atol=1e-6,
                               rtol=0)


def test_deephit_learnable_alpha_and_sigma_gradcheck():
    logits, time_bin, event = _binned(n=6, bins=3, seed=6)
    alpha = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    sigma = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, s, x: deephit(x, time_bin, event, alpha=a, sigma=s),
        (alpha, sigma, logits.clone().requires_grad_(True)))


def test_discrete_losses_reject_bad_bins_and_give_zero_for_empty_batches():
    with pytest.raises(losskit.LossInputError, match="time_bin"):
        discrete_hazard(torch.zeros(2, 3), torch.tensor([0, 3]), torch.ones(2))
    with pytest.raises(losskit.LossInputError, match="time_bin"):
        deephit(torch.zeros(2, 3), torch.tensor([0.0, 1.0]), torch.ones(2))
    x = torch.zeros(0, 4, requires_grad=True)
    for fn in (discrete_hazard, deephit):
        out = fn(x, torch.zeros(0, dtype=torch.long), torch.zeros(0))
        assert out.item() == 0.0 and not torch.autograd.grad(out, x)[0].any()


# --- weibull_nll -------------------------------------------------------------------------------


def test_weibull_nll_equals_scipy():
    # Source: scipy.stats.weibull_min(c=shape, scale=scale): -logpdf for events, -logsf else.
    g = torch.Generator().manual_seed(7)
    log_scale = torch.randn(50, generator=g, dtype=torch.float64) * 0.5
    log_shape = torch.randn(50, generator=g, dtype=torch.float64) * 0.4
    time = torch.rand(50, generator=g, dtype=torch.float64) * 3 + 0.05
    event = torch.rand(50, generator=g) > 0.4
    dist = stats.weibull_min(np.exp(log_shape.numpy()), scale=np.exp(log_scale.numpy()))
    expected = np.where(event.numpy(), -dist.logpdf(time.numpy()), -dist.logsf(time.numpy()))
    np.testing.assert_allclose(weibull_nll(log_scale, log_shape, time, event,
                                           reduction="none").numpy(), expected, rtol=1e-11)
    assert weibull_nll(log_scale, log_shape, time, event).item() == pytest.approx(
        expected.mean(), rel=1e-12)


def test_weibull_nll_shared_shape_recovers_the_parameters():
    # Maximum likelihood on censored Weibull samples recovers scale 2 and shape 1.5.
    g = torch.Generator().manual_seed(8)
    n = 4000
    u = torch.rand(n, generator=g, dtype=torch.float64)
    t_event = 2.0 * (-torch.log(u)) ** (1 / 1.5)
    t_censor = torch.rand(n, generator=g, dtype=torch.float64) * 6
    time, event = torch.minimum(t_event, t_censor), t_event <= t_censor
    params = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([params], max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = weibull_nll(params[0].expand(n), params[1:], time, event)
        loss.backward()
        return loss

    opt.step(closure)
    scale, shape = params.detach().exp().tolist()
    assert scale == pytest.approx(2.0, rel=0.05) and shape == pytest.approx(1.5, rel=0.05)


def test_weibull_nll_rejects_nonpositive_times():
    with pytest.raises(losskit.LossInputError, match="time"):
        weibull_nll(torch.zeros(2), torch.zeros(2), torch.tensor([1.0, 0.0]), torch.ones(2))


# --- tobit -------------------------------------------------------------------------------------


def test_tobit_equals_scipy_norm_with_limits():
    # Source: scipy.stats.norm: -logpdf inside, -logcdf(lower) below, -logsf(upper) above.
    g = torch.Generator().manual_seed(9)
    x = torch.randn(60, generator=g, dtype=torch.float64) * 2
    y = (torch.randn(60, generator=g, dtype=torch.float64) * 2).clamp(-1.0, 1.5)
    sigma = 0.8
    d = stats.norm(x.numpy(), sigma)
    yn = y.numpy()
    expected = np.where(yn <= -1.0, -d.logcdf(-1.0),
                        np.where(yn >= 1.5, -d.logsf(1.5), -d.logpdf(yn)))
    ours = tobit(x, y, lower=-1.0, upper=1.5, sigma=sigma, reduction="none")
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12)
    # per-row limits as tensors; an infinite limit means that row is not censored there
    lower = torch.full((60,), -1.0, dtype=torch.float64)
    lower[::2] = -math.inf
    expected_rows = np.where((yn <= -1.0) & (np.arange(60) % 2 == 1), -d.logcdf(-1.0),
                             np.where(yn >= 1.5, -d.logsf(1.5), -d.logpdf(yn)))
    xr = x.clone().requires_grad_(True)
    out = tobit(xr, y, lower=lower, upper=1.5, sigma=sigma, reduction="none")
    np.testing.assert_allclose(out.detach().numpy(), expected_rows, rtol=1e-12)
    assert torch.isfinite(torch.autograd.grad(out.sum(), xr)[0]).all()


def test_tobit_without_limits_is_the_gaussian_nll_and_far_tails_are_accurate():
    x = torch.tensor([0.0, 1.0], dtype=torch.float64)
    y = torch.tensor([1.0, -2.0], dtype=torch.float64)
    expected = -stats.norm(x.numpy(), 2.0).logpdf(y.numpy()).mean()
    assert tobit(x, y, sigma=2.0).item() == pytest.approx(expected, rel=1e-12)
    # 30 sigma below the limit: Phi underflows in a naive log(cdf), log_ndtr does not
    far = tobit(torch.tensor([30.0], dtype=torch.float64), torch.tensor([0.0],
                dtype=torch.float64), lower=0.0)
    assert far.item() == pytest.approx(-stats.norm.logcdf(-30.0), rel=1e-10)


def test_tobit_learnable_sigma_gradcheck_and_fit_beats_mse_on_capped_data():
    g = torch.Generator().manual_seed(10)
    x = torch.randn(8, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(8, generator=g, dtype=torch.float64).clamp(max=0.5)
    sigma = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, s: tobit(a, y, upper=0.5, sigma=s), (x, sigma))
    # Latent y* = 2 z + noise, observed capped at 1: Tobit recovers the slope 2 (and the
    # noise scale 0.5), least squares on the capped values underestimates it.
    n = 3000
    z = torch.randn(n, generator=g, dtype=torch.float64)
    observed = (2 * z + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)).clamp(max=1.0)
    params = torch.zeros(3, dtype=torch.float64, requires_grad=True)  # slope, bias, log sigma
    opt = torch.optim.LBFGS([params], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = tobit(params[0] * z + params[1], observed, upper=1.0, sigma=params[2].exp())
        loss.backward()
        return loss

    opt.step(closure)
    assert params[0].item() == pytest.approx(2.0, rel=0.03)
    assert params[2].exp().item() == pytest.approx(0.5, rel=0.05)
    ols_slope = np.polyfit(z.numpy(), observed.numpy(), 1)[0]
    assert ols_slope < 1.8


def test_tobit_rejects_bad_limits_and_sigma():
    x = torch.zeros(2)
    with pytest.raises(losskit.LossInputError, match="lower"):
        tobit(x, x, lower=1.0, upper=0.0)
    with pytest.raises(losskit.LossInputError, match="sigma"):
        tobit(x, x, sigma=0.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_tobit_gradient_far_in_a_censored_tail_is_the_inverse_mills_ratio(dtype):
    # d/dx of -log Phi((x - upper) / s) on a row censored at upper is -phi(z) / Phi(z) / s,
    # the inverse Mills ratio (scipy's log-pdf and log-cdf in float64). torch's log_ndtr
    # backward gave -1961 for -3001 at z = -3001 in float32 (a difference of two numbers
    # near -z^2 / 2); the value was right.
    from scipy import special

    xs = [-1e4, -3000.0, -300.0, -20.0, -1.0, 0.5, 3.0]
    x = torch.tensor(xs, dtype=torch.float32).to(dtype).requires_grad_(True)
    y = torch.full((len(xs),), 1.0, dtype=dtype)
    out = tobit(x, y, upper=1.0, sigma=2.0, reduction="sum")
    (grad,) = torch.autograd.grad(out, x)
    z = (x.detach().double().numpy() - 1.0) / 2.0
    mills = np.exp(stats.norm.logpdf(z) - special.log_ndtr(z))
    want = torch.from_numpy(-mills / 2.0)
    # float64: the reference's own exp(logpdf - logcdf) carries about 1e-8 at z = -5000
    rtol = {torch.float32: 1e-6, torch.float64: 5e-8, torch.bfloat16: 8e-3}[dtype]
    torch.testing.assert_close(grad.double(), want, rtol=rtol, atol=0.0)
    torch.testing.assert_close(out.double(), torch.tensor(-special.log_ndtr(z).sum(),
                                                          dtype=torch.float64),
                               rtol=max(rtol, 1e-7), atol=0.0)


def test_tobit_tensor_limits_must_be_ordered_and_weibull_times_finite():
    x, y = torch.zeros(2), torch.tensor([0.5, 2.0])
    with pytest.raises(losskit.LossInputError, match="lower must be below upper"):
        tobit(x, y, lower=torch.tensor([1.0, -1.0]), upper=torch.tensor([0.0, 3.0]))
    tobit(x, y, lower=torch.tensor([-1.0, -1.0]), upper=torch.tensor([1.0, float("inf")]))
    with pytest.raises(losskit.LossInputError, match="finite survival times > 0, found inf"):
        weibull_nll(torch.zeros(2), torch.zeros(2), torch.tensor([1.0, float("inf")]),
                    torch.tensor([1, 0]))
