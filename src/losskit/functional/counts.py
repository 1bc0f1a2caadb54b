"""Count and forecasting losses: Tweedie and negative-binomial likelihoods, percentage and
scaled errors.

``tweedie`` and ``negative_binomial_nll`` take the log of the predicted mean by default
(``log_input=True``), so any real model output is a valid mean. ``mape``, ``smape`` and
``mase`` compare forecasts with actual values on the forecaster's usual scale-free terms.
Every function takes ``input: [*]`` and ``target: [*]`` of the same shape, ``weight``
broadcast against the unreduced loss, and ``reduction``; ``"none"`` gives ``[*]``.
float16/bfloat16 inputs are computed in float32.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .._core._math import expm1_minus_x
from .._core.reduce import reduce, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_nonnegative,
    check_pair,
    check_param,
    readable,
)
from . import _examples as ex
from ._references import elementwise_loop, reduced

__all__ = ["mape", "mase", "negative_binomial_nll", "smape", "tweedie"]

#: scikit-learn's floor on |target| in mean_absolute_percentage_error: float64's machine
#: epsilon, whatever the dtype.
_MAPE_EPS = 2.220446049250313e-16


def _check_positive(name: str, t: torch.Tensor, why: str) -> None:
    if t.numel() and readable(t) and bool((~(t > 0)).any()):
        raise LossInputError(f"{name} must be > 0 ({why}), found {float(t[~(t > 0)][0]):g}")


# --- Tweedie -----------------------------------------------------------------------------------


def _positive_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return ex.randn(n, 3, g=g) * 0.5, ex.rand(n, 3, g=g) * 3 + 0.1


def _log_perfect(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (torch.log(args[1]), args[1], *args[2:])


def _tweedie_reference(input: torch.Tensor, target: torch.Tensor, *,
                       reduction: str = "mean") -> torch.Tensor:
    """scikit-learn's deviance for 1 < p < 2 written out, halved: mu = exp(input)."""
    p, mu = 1.5, torch.exp(input)
    dev = 2 * (target ** (2 - p) / ((1 - p) * (2 - p)) - target * mu ** (1 - p) / (1 - p)
               + mu ** (2 - p) / (2 - p))
    return reduced(dev / 2, reduction)


@register_loss(
    family="regression", tasks=("regression", "count"), input_kind="values",
    target_kind="non-negative values (counts, amounts; exact zeros allowed for 1 <= power < 2)",
    aliases=("tweedie_deviance", "tweedie_nll", "compound_poisson"),
    properties=("nonnegative", "zero_at_optimum", "smooth"),
    summary="Half the unit Tweedie deviance of a predicted mean: the negative log-likelihood "
            "of a Tweedie distribution (variance ~ mean^power) up to terms free of the mean.",
    formula="mu = exp(x) (log_input) or x. p = power: p = 0: (y - mu)^2 / 2; p = 1: y log(y / "
            "mu) - y + mu; p = 2: log(mu / y) + y / mu - 1; otherwise y^(2-p) / ((1-p)(2-p)) - "
            "y mu^(1-p) / (1-p) + mu^(2-p) / (2-p). Equal to scikit-learn's "
            "mean_tweedie_deviance / 2.",
    gradient="With log_input: dL/dx = mu^(1-p) (mu - y) = (mu - y) / variance-function times mu: "
             "the residual scaled down where the variance is large, so big amounts do not "
             "dominate the fit as in MSE.",
    when_to_use="Non-negative targets with many exact zeros and a skewed positive part "
                "(insurance claims, rainfall, sales per item, spend per customer): 1 < p < 2 is "
                "a compound Poisson-gamma. p = 1 is Poisson, p = 2 gamma, p = 3 inverse "
                "Gaussian. Convex in the log-mean for 1 <= p <= 2.",
    pitfalls="power is a modelling choice, not a parameter to learn by minimizing the "
             "deviance (the deviance drops terms that depend on power; estimate it by profile "
             "likelihood and fix it). No Tweedie distribution has 0 < p < 1. p >= 2 needs "
             "y > 0. With log_input=False the input must stay > 0. A log-mean of 1e4 "
             "overflows the mean; the loss is exact wherever the mean is representable.",
    references=("Jorgensen, Exponential Dispersion Models, Journal of the Royal Statistical "
                "Society B 49(2), 1987.",
                "Tweedie, An index which distinguishes between some important exponential "
                "families, Proc. Indian Statistical Institute Golden Jubilee Conference, 1984.",
                "scikit-learn, sklearn.metrics.mean_tweedie_deviance."),
    example_inputs=_positive_examples, reference=_tweedie_reference, optimum=_log_perfect,
    expected_failures={"extreme_inputs": "a log-mean of 1e4 is a mean of e^10000, which no float "
                       "can hold; the loss is exact wherever the mean is representable"},
    head="log_rate",
)
def tweedie(input: torch.Tensor, target: torch.Tensor, *, power: float = 1.5,
            log_input: bool = True, weight: torch.Tensor | None = None,
            reduction: Reduction = "mean") -> torch.Tensor:
    """Half the unit Tweedie deviance (Tweedie negative log-likelihood up to a constant).

    The value is exactly ``sklearn.metrics.mean_tweedie_deviance(target, mu, power=power)
    / 2`` for ``reduction="mean"``, so it is 0 at ``mu = target`` and non-negative.

    Shape:
        input: ``[*]`` log-means (means with ``log_input=False``); target: ``[*]``.

    Example:
        >>> round(float(tweedie(torch.tensor([0.0]), torch.tensor([2.0]))), 4)
        0.3431
    """
    check_pair(input, target, weight, reduction)
    check_param("power", power, low=None)
    if 0 < power < 1:
        raise LossInputError(f"power must be <= 0 or >= 1 (no Tweedie distribution has "
                             f"0 < power < 1), got {power!r}")
    if 1 <= power < 2:
        check_nonnegative("target", target, f"Tweedie power {power:g} needs targets >= 0")
    elif power >= 2:
        _check_positive("target", target, f"Tweedie power {power:g}")
    if not log_input and power != 0:
        _check_positive("input", input, "means with log_input=False")
    x, y = upcast(input), upcast(target)
    log_mu, mu = (x, torch.exp(x)) if log_input else (torch.log(x), x)
    p = float(power)
    if p == 0:
        return reduce(0.5 * (y - mu).square(), reduction, weight=weight)
    if p == 1:
        loss = torch.xlogy(y, y) - y * log_mu - y + mu
    elif p == 2:
        loss = log_mu - torch.log(y) + y * torch.exp(-log_mu) - 1.0
    else:
        # mu^(1-p), mu^(2-p) as exponentials of the log-mean: no mu = 0 ** negative power.
        y_term = y.clamp(min=0.0) if p < 0 else y
        # y mu^(1-p) is 0 at y = 0 whatever mu (for 1 < p < 2, mu^(1-p) overflows as mu -> 0:
        # 0 * inf); the exponent is replaced there so no inf reaches value or gradient.
        cross = (1 - p) * log_mu
        cross = torch.where(y == 0, 0.0, cross) if 1 < p < 2 else cross
        loss = (y_term.pow(2 - p) / ((1 - p) * (2 - p))
                - y * torch.exp(cross) / (1 - p)
                + torch.exp((2 - p) * log_mu) / (2 - p))
    # Within a factor e of the target the terms above cancel (float32 has no correct digit
    # at mu = y (1 + 1e-4)); there the deviance is taken in the form that has none.
    near = (log_mu - torch.log(y)).abs() < 1.0
    return reduce(torch.where(near, _tweedie_near_target(log_mu, y, p, near), loss),
                  reduction, weight=weight)


def _tweedie_near_target(log_mu: torch.Tensor, y: torch.Tensor, p: float,
                         near: torch.Tensor) -> torch.Tensor:
    """Half the Tweedie deviance where ``near`` (``y > 0``, ``|log(mu / y)| < 1``), without
    cancellation: with ``r = log(mu / y)``, ``a = 1 - p``, ``b = 2 - p`` and
    ``h(x) = e^x - 1 - x``, it is ``y^b (h(b r) / b - h(a r) / a)`` (a term whose
    coefficient is 0 is its limit, 0: p = 1 gives ``y h(r)``, p = 2 ``h(-r)``). The sum is
    ``r^2 / 2`` to leading order and each term at most ``max(|a|, |b|) r^2 / 2`` (for
    1 < p < 2 the two have the same sign), so rounding costs at most ``max(|a|, |b|)`` ulps.
    Outside ``near`` the inputs are replaced, so the unused branch has finite gradients."""
    log_y = torch.log(torch.where(near, y, 1.0))
    r = torch.where(near, log_mu - log_y, 0.0)
    a, b = 1.0 - p, 2.0 - p
    f = torch.zeros_like(r)
    if b != 0:
        f = f + expm1_minus_x(b * r) / b
    if a != 0:
        f = f - expm1_minus_x(a * r) / a
    return torch.exp(b * log_y) * f


# --- negative binomial -------------------------------------------------------------------------


def _count_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    rate = torch.full((n, 3), 3.0, dtype=torch.float64)
    return ex.randn(n, 3, g=g) * 0.5, torch.poisson(rate, generator=g)


def _negative_binomial_reference(input: torch.Tensor, target: torch.Tensor, *,
                                 dispersion: float = 1.0,
                                 reduction: str = "mean") -> torch.Tensor:
    """torch.distributions.NegativeBinomial with total_count 1 / dispersion and mean e^input."""
    r = 1.0 / dispersion
    dist = torch.distributions.NegativeBinomial(total_count=torch.as_tensor(r, dtype=input.dtype),
                                                logits=input + math.log(dispersion))
    # Distribution.log_prob is unannotated in torch's source
    return reduced(-dist.log_prob(target), reduction)  # type: ignore[no-untyped-call]


@register_loss(
    family="regression", tasks=("regression", "count"), input_kind="values",
    target_kind="counts",
    aliases=("negative_binomial", "nb_nll", "nb2"),
    properties=("smooth",), learnable=("dispersion",),
    summary="Negative binomial (NB2) negative log-likelihood of counts: mean mu, variance "
            "mu + dispersion mu^2, for counts more spread out than Poisson allows.",
    formula="r = 1 / dispersion, z = log(dispersion mu). L = -log NB(y; r, p = 1 / (1 + "
            "dispersion mu)) = lgamma(r) + lgamma(y + 1) - lgamma(y + r) - r logsigmoid(-z) - "
            "y logsigmoid(z).",
    gradient="With log_input: dL/dx = (mu - y) / (1 + dispersion mu), a Poisson residual damped "
             "where the extra variance is large; dL/ddispersion is exact (digamma terms), so "
             "the dispersion can be learned with the model.",
    when_to_use="Counts whose variance exceeds their mean (variance / mean well above 1): "
                "visits, claims, sales, sequencing reads, demand forecasts (DeepAR uses it). "
                "Reduces to Poisson as dispersion -> 0.",
    pitfalls="Learn log(dispersion) and pass its exp (it must stay > 0). Near the Poisson "
             "limit (dispersion below 0.1) lgamma(y + r) - lgamma(r) is taken from Stirling's "
             "series in a form without cancellation, so float32 values and the dispersion's "
             "gradient keep float32's precision at any dispersion (checked to 1e-14). The "
             "value includes lgamma(y + 1), so it is a proper NLL, not 0 at the optimum. "
             "With log_input=False the input must be > 0.",
    references=("Hilbe, Negative Binomial Regression, 2nd ed., Cambridge University Press "
                "2011.",
                "Cameron & Trivedi, Regression Analysis of Count Data, 2nd ed., Cambridge "
                "University Press 2013 (NB2)."),
    example_inputs=_count_examples, reference=_negative_binomial_reference,
    head="log_rate",
)
def negative_binomial_nll(input: torch.Tensor, target: torch.Tensor, *,
                          dispersion: float | torch.Tensor = 1.0, log_input: bool = True,
                          weight: torch.Tensor | None = None,
                          reduction: Reduction = "mean") -> torch.Tensor:
    """NB2 negative log-likelihood, equal to ``-scipy.stats.nbinom(n, p).logpmf(target)``
    with ``n = 1 / dispersion`` and ``p = 1 / (1 + dispersion * mu)``.

    ``dispersion`` may be a number or a tensor (requiring grad to learn it; one value, or
    one per element broadcastable to ``[*]``).

    Shape:
        input: ``[*]`` log-means (means with ``log_input=False``); target: ``[*]`` counts.

    Example:
        >>> round(float(negative_binomial_nll(torch.tensor([0.0]), torch.tensor([2.0]),
        ...                                   dispersion=0.5)), 4)
        1.9095
    """
    check_pair(input, target, weight, reduction)
    check_param("dispersion", dispersion, low=0.0, low_inclusive=False, learnable=True,
                broadcast_to=input.shape)
    check_nonnegative("target", target, "counts")
    if not log_input:
        _check_positive("input", input, "means with log_input=False")
    x, y = upcast(input), upcast(target)
    log_mu = x if log_input else torch.log(x)
    if not isinstance(dispersion, torch.Tensor):
        alpha = float(dispersion)
        loss = (_nb_near_poisson(log_mu, y, alpha) if alpha < _NB_STIRLING
                else _nb_lgamma(log_mu, y, alpha, math.log(alpha), math.lgamma(1.0 / alpha)))
        return reduce(loss, reduction, weight=weight)
    a = upcast(dispersion).to(x.dtype)
    near = a < _NB_STIRLING
    # each branch sees a dispersion in its own range, so the other's gradient is finite
    a_near, a_far = torch.where(near, a, _NB_STIRLING), torch.where(near, 1.0, a)
    loss = torch.where(near, _nb_near_poisson(log_mu, y, a_near),
                       _nb_lgamma(log_mu, y, a_far, torch.log(a_far), torch.lgamma(1.0 / a_far)))
    return reduce(loss, reduction, weight=weight)


#: Below this dispersion (r = 1 / dispersion above 10) lgamma(y + r) - lgamma(r) is taken
#: from Stirling's series to r^-11: its first dropped term, 1 / (156 r^13), is below
#: float64's rounding.
_NB_STIRLING = 0.1


def _nb_lgamma(log_mu: torch.Tensor, y: torch.Tensor, alpha: torch.Tensor | float,
               log_alpha: torch.Tensor | float, lgamma_r: torch.Tensor | float) -> torch.Tensor:
    """The NB2 NLL through lgamma: exact while r = 1 / alpha is moderate."""
    r = 1.0 / alpha
    z = log_alpha + log_mu  # log(dispersion * mu)
    # log(1 / (1 + e^z)) = logsigmoid(-z) and log(e^z / (1 + e^z)) = logsigmoid(z): finite
    # for any log-mean, where log(mu / (r + mu)) would overflow first.
    return (lgamma_r + torch.lgamma(y + 1.0) - torch.lgamma(y + r)
            - r * F.logsigmoid(-z) - y * F.logsigmoid(z))


def _nb_near_poisson(log_mu: torch.Tensor, y: torch.Tensor,
                     alpha: torch.Tensor | float) -> torch.Tensor:
    """The NB2 NLL for a large r = 1 / alpha, without cancellation in the value or in the
    dispersion's gradient. lgamma(y + r) - lgamma(r) (each about r log r: 2e9 at r = 1e8,
    where float32 keeps no digit of the difference) is taken from Stirling's series,
    lgamma(t) = (t - 1/2) log t - t + log(2 pi) / 2 + S(t), and the terms that are large
    and cancel (y, y log r, r log1p(a mu) ~ mu) are cancelled by hand, with
    h(w) = w - log1p(w) = expm1_minus_x(log1p(w)) accurate for small w (a = alpha,
    z = log(a mu)):
    L = lgamma(y + 1) + r h(a y) + log1p(a y) / 2 - dS + r log1p(a mu)
        + y (softplus(z) - log1p(a y)) - y log mu,
    r log1p(a mu) = mu - r h(a mu) below z = 0, r softplus(z) above; the difference of the
    S terms in powers of a and a / (1 + a y). As a -> 0 it is the Poisson NLL."""
    r = 1.0 / alpha
    log_alpha = math.log(alpha) if isinstance(alpha, float) else torch.log(alpha)
    z = log_mu + log_alpha
    w_y = alpha * y
    l1y = torch.log1p(w_y)

    def r_h(w_log1p: torch.Tensor) -> torch.Tensor:  # r (w - log1p(w)), from log1p(w)
        return r * expm1_minus_x(w_log1p)

    u, v = alpha, alpha / (1.0 + w_y)  # 1 / r and 1 / (r + y)
    d_s = (-y * u * v / 12.0 - (v ** 3 - u ** 3) / 360.0 + (v ** 5 - u ** 5) / 1260.0
           - (v ** 7 - u ** 7) / 1680.0 + (v ** 9 - u ** 9) / 1188.0
           - 691.0 * (v ** 11 - u ** 11) / 360360.0)
    z_lo, z_hi = torch.clamp(z, max=0.0), torch.clamp(z, min=0.0)
    # mu - r h(a mu), mu from the log-mean alone: r e^z would put two terms of r mu in the
    # dispersion's gradient (-r^2 e^z + r e^z / a), which cancel to nothing in float32
    mu = torch.exp(torch.minimum(log_mu, -log_alpha + torch.zeros_like(log_mu)))
    below = mu - r_h(F.softplus(z_lo))
    r_log1p_mu = torch.where(z < 0, below, r * F.softplus(z_hi))
    return (torch.lgamma(y + 1.0) + r_h(l1y) + 0.5 * l1y - d_s + r_log1p_mu
            + y * (F.softplus(z) - l1y) - y * log_mu)


# --- forecasting errors --------------------------------------------------------------------------


def _forecast_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    target = ex.rand(n, 3, g=g) * 3 + 0.5
    return target * (1 + 0.3 * ex.randn(n, 3, g=g)), target


def _perfect(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (args[1].clone(), args[1], *args[2:])


# scikit-learn's formula, element by element.
_mape_reference = elementwise_loop(lambda x, y: (x - y).abs() / max(abs(float(y)), _MAPE_EPS))


@register_loss(
    family="regression", tasks=("regression", "forecasting"), input_kind="values",
    target_kind="values",
    aliases=("mean_absolute_percentage_error", "percentage_error"),
    properties=("convex", "nonnegative", "zero_at_optimum", "robust_to_outliers",
                "bounded_gradient"),
    summary="Mean absolute percentage error, as scikit-learn: |y - x| / max(|y|, eps), a "
            "fraction (0.1 = 10%), eps = float64's machine epsilon.",
    formula="L = mean_i |y_i - x_i| / max(|y_i|, 2.22e-16)",
    gradient="dL/dx_i = sign(x_i - y_i) / (N max(|y_i|, eps)): an L1 gradient weighted by "
             "1 / |target|, so small actual values get the largest pushes.",
    when_to_use="Forecasts judged by MAPE (demand, revenue, traffic) where errors are meant "
                "relative to the actual value and the targets stay well away from zero.",
    pitfalls="Explodes for targets near zero (1 / 2.2e-16 at exact zeros, as scikit-learn), so "
             "intermittent series need mase or smape. Asymmetric: an under-forecast costs at "
             "most 100%, an over-forecast is unbounded, so minimizing MAPE biases forecasts "
             "low (its minimizer is a weighted median).",
    references=("Hyndman & Koehler, Another look at measures of forecast accuracy, "
                "International Journal of Forecasting 22(4), 2006.",
                "scikit-learn, sklearn.metrics.mean_absolute_percentage_error."),
    example_inputs=_forecast_examples, optimum=_perfect, reference=_mape_reference,
)
def mape(input: torch.Tensor, target: torch.Tensor, *, weight: torch.Tensor | None = None,
         reduction: Reduction = "mean") -> torch.Tensor:
    """Mean absolute percentage error with scikit-learn's epsilon convention (a fraction).

    Shape:
        input: ``[*]`` forecasts; target: ``[*]`` actual values.

    Example:
        >>> mape(torch.tensor([110.0, 90.0]), torch.tensor([100.0, 100.0]))
        tensor(0.1000)
    """
    check_pair(input, target, weight, reduction)
    x, y = upcast(input), upcast(target)
    # clamp, not a where on |y| > 0: it keeps a NaN target NaN.
    loss = (y - x).abs() / y.abs().clamp(min=_MAPE_EPS)
    return reduce(loss, reduction, weight=weight)


def _smape_scalar(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The formula for one element, with the 0/0 case written out."""
    if float(x.detach()) == 0.0 and float(y) == 0.0:
        return x * 0.0
    return 2 * (x - y).abs() / (x.abs() + y.abs())


_smape_reference = elementwise_loop(_smape_scalar)


@register_loss(
    family="regression", tasks=("regression", "forecasting"), input_kind="values",
    target_kind="values",
    aliases=("symmetric_mape", "symmetric_mean_absolute_percentage_error"),
    properties=("nonnegative", "zero_at_optimum", "robust_to_outliers", "bounded_gradient"),
    summary="Symmetric MAPE: 2 |x - y| / (|x| + |y|), in [0, 2]; 0 where forecast and actual "
            "are both 0.",
    formula="L = mean_i 2 |x_i - y_i| / (|x_i| + |y_i|), with 0/0 := 0",
    gradient="Bounded by 4 / (|x| + |y|) and fading as the forecast grows (the loss saturates "
             "at 2), so wild forecasts pull no harder than moderate ones; exactly 0 (never NaN) "
             "where both are 0.",
    when_to_use="Forecasts judged by sMAPE (M3/M4 competitions), or a bounded, scale-free "
                "error when actual values can be zero.",
    pitfalls="Not symmetric in over/under-forecasting despite the name: for a fixed actual, "
             "under-forecasts cost more than over-forecasts of the same size. Not convex; a "
             "zero actual makes every non-zero forecast cost the maximum 2 with no gradient. "
             "This is the 0-2 convention (some texts divide by 2 or report percent).",
    references=("Makridakis, Accuracy measures: theoretical and practical concerns, "
                "International Journal of Forecasting 9(4), 1993.",
                "Hyndman & Koehler, Another look at measures of forecast accuracy, "
                "International Journal of Forecasting 22(4), 2006."),
    example_inputs=_forecast_examples, optimum=_perfect, reference=_smape_reference,
)
def smape(input: torch.Tensor, target: torch.Tensor, *, weight: torch.Tensor | None = None,
          reduction: Reduction = "mean") -> torch.Tensor:
    """Symmetric mean absolute percentage error ``2 |x - y| / (|x| + |y|)`` (0 if both are 0).

    Shape:
        input: ``[*]`` forecasts; target: ``[*]`` actual values.

    Example:
        >>> smape(torch.tensor([3.0, 0.0]), torch.tensor([1.0, 0.0]))
        tensor(0.5000)
    """
    check_pair(input, target, weight, reduction)
    x, y = upcast(input), upcast(target)
    total = x.abs() + y.abs()
    # The 0/0 case takes a denominator of 1 before dividing (a zero numerator, zero gradient);
    # a NaN total is not == 0, so NaN stays NaN.
    empty = total == 0
    loss = torch.where(empty, 0.0, 2.0 * (x - y).abs() / torch.where(empty, 1.0, total))
    return reduce(loss, reduction, weight=weight)


def _mase_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    target = ex.randn(n, 8, g=g).cumsum(1)  # random walks: the naive forecast is the yardstick
    return target + 0.5 * ex.randn(n, 8, g=g), target


def _mase_reference(input: torch.Tensor, target: torch.Tensor, *,
                    reduction: str = "mean") -> torch.Tensor:
    """Hyndman & Koehler's MASE with the in-window naive scale, a loop over series."""
    rows = []
    for forecast, actual in zip(input.reshape(-1, input.shape[-1]),
                                target.reshape(-1, target.shape[-1])):
        steps = len(actual)
        scale = sum(abs(float(actual[t] - actual[t - 1])) for t in range(1, steps)) / (steps - 1)
        rows.append((forecast - actual).abs() / scale)
    loss = torch.stack(rows).reshape(input.shape) if rows else input * 0.0
    return reduced(loss, reduction)


@register_loss(
    family="regression", tasks=("regression", "forecasting"), input_kind="values",
    target_kind="values",
    aliases=("mean_absolute_scaled_error", "scaled_error"),
    properties=("convex", "nonnegative", "zero_at_optimum", "robust_to_outliers",
                "bounded_gradient"),
    summary="Mean absolute scaled error: the forecast's absolute errors divided by the mean "
            "absolute error of the naive (previous value) forecast.",
    formula="L = mean |x - y| / scale, scale = mean_t |a_t - a_{t-1}| over the series' history "
            "(pass it); by default over the target window along the last dimension.",
    gradient="dL/dx = sign(x - y) / (N scale): MAE's constant-size gradient, in units of how "
             "hard the series is to forecast naively, so every series counts alike.",
    when_to_use="Comparing or training forecasts across many series of different scales, "
                "including series with zeros (where MAPE fails): < 1 beats the naive forecast.",
    pitfalls="The textbook scale is the in-sample (training) naive error: compute it from the "
             "history and pass scale= ([S, 1] per series, or a number). The default uses the "
             "evaluated window's own naive error, a different and noisier yardstick, and fails "
             "for a constant window (scale 0). For seasonal data compute the scale with the "
             "seasonal lag.",
    references=("Hyndman & Koehler, Another look at measures of forecast accuracy, "
                "International Journal of Forecasting 22(4), 2006.",),
    example_inputs=_mase_examples, optimum=_perfect, reference=_mase_reference,
)
def mase(input: torch.Tensor, target: torch.Tensor, *,
         scale: float | torch.Tensor | None = None, weight: torch.Tensor | None = None,
         reduction: Reduction = "mean") -> torch.Tensor:
    """Mean absolute scaled error ``|x - y| / scale`` (Hyndman & Koehler 2006).

    ``scale`` is the mean absolute one-step naive error of each series' history: a positive
    number, or a tensor broadcastable to ``[*]`` (e.g. ``[S, 1]``, one per series). With
    ``scale=None`` it is computed from ``target`` along its last dimension (the window
    being evaluated), which needs at least 2 time steps.

    Shape:
        input: ``[*, T]`` forecasts (T time steps last); target: same shape.

    Example:
        >>> mase(torch.tensor([2.0, 2.0]), torch.tensor([1.0, 3.0]), scale=2.0)
        tensor(0.5000)
    """
    check_pair(input, target, weight, reduction)
    x, y = upcast(input), upcast(target)
    denominator: torch.Tensor | float
    if scale is None:
        if y.dim() == 0 or y.shape[-1] < 2:
            raise LossInputError(f"mase without scale= needs a target with at least 2 time "
                                 f"steps along its last dimension, got shape "
                                 f"{tuple(target.shape)}; pass the history's naive error as "
                                 f"scale=")
        denominator = (y[..., 1:] - y[..., :-1]).abs().mean(-1, keepdim=True)
        _check_positive("scale", denominator, "a constant target window has no naive error: "
                                              "pass scale=")
    elif isinstance(scale, torch.Tensor):
        check_broadcastable("scale", scale, input.shape)
        _check_positive("scale", scale, "the naive forecast's mean absolute error")
        denominator = upcast(scale).to(x.dtype)
    else:
        check_param("scale", scale, low=0.0, low_inclusive=False)
        denominator = float(scale)
    return reduce((x - y).abs() / denominator, reduction, weight=weight)
