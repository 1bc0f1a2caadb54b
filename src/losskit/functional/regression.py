"""Regression losses: predictions and targets are real values of the same shape.

Every function here takes ``input: [*]`` predictions and ``target: [*]`` values,
keyword-only hyperparameters, an optional ``weight`` broadcast against the
unreduced loss, and ``reduction``. ``"none"`` returns the per-element loss.
float16/bfloat16 inputs are computed in float32 and the result is float32. The
predictive-distribution losses add the distribution's spread: ``gaussian_nll`` and
``crps_gaussian`` a variance argument, ``crps_ensemble`` a last dimension of members.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from .._core._math import as_scalar
from .._core.reduce import fused_mean_ok, reduce, reduce_summed, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_floating,
    check_in_range,
    check_nonnegative,
    check_pair,
    check_param,
    check_reduction,
)
from ..kernels import builtin as _builtin  # noqa: F401  (registers torch's fused losses)
from ..kernels import dispatch, dispatch_mean
from ..kernels import elementwise as _native_elementwise  # noqa: F401  (registers C sweeps)
from . import _examples as ex
from ._references import elementwise_loop, reduced

__all__ = [
    "crps_ensemble",
    "crps_gaussian",
    "gaussian_nll",
    "huber",
    "log_cosh",
    "mae",
    "mse",
    "msle",
    "poisson_nll",
    "quantile",
    "smooth_l1",
]


def _perfect(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Arguments whose prediction equals the target."""
    return (args[1].clone(), args[1], *args[2:])


def _pair(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
          reduction: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Checked, upcast (input, target) of an elementwise regression loss."""
    check_pair(input, target, weight, reduction)
    return upcast(input), upcast(target)


def _accelerated(name: str, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None,
                 reduction: str, **hyper: float | torch.Tensor) -> torch.Tensor | None:
    """The accelerator's result for a weightless call of ``name``, reduced; or None.

    Every elementwise definition below asks here first (see :mod:`losskit.kernels`)."""
    if weight is not None or x.dtype != y.dtype:
        return None
    if fused_mean_ok(reduction, x.shape):
        found = dispatch_mean(name, x, y, reduction=reduction, **hyper)
        if found is None:
            return None
        out, is_mean = found
        return out if is_mean else reduce_summed(out, reduction, shape=x.shape)
    out = dispatch(name, x, y, reduction=reduction, **hyper)
    return None if out is None else reduce_summed(out, reduction, shape=x.shape)


def _huber_reference(input: torch.Tensor, target: torch.Tensor, *, delta: float = 1.0,
                     reduction: str = "mean") -> torch.Tensor:
    # Huber (1964), the two branches written out per element.
    def scalar(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        r = abs(float((x - y).detach()))
        return 0.5 * (x - y) ** 2 if r <= delta else delta * ((x - y).abs() - 0.5 * delta)
    return elementwise_loop(scalar)(input, target, reduction=reduction)


def _smooth_l1_reference(input: torch.Tensor, target: torch.Tensor, *, beta: float = 1.0,
                         reduction: str = "mean") -> torch.Tensor:
    # Girshick (2015): 0.5 r^2 / beta inside the band, |r| - 0.5 beta outside.
    def scalar(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        r = abs(float((x - y).detach()))
        return 0.5 * (x - y) ** 2 / beta if r < beta else (x - y).abs() - 0.5 * beta
    return elementwise_loop(scalar)(input, target, reduction=reduction)


@register_loss(
    family="regression", tasks=("regression",), input_kind="values", target_kind="values",
    aliases=("l2", "mean_squared_error", "squared_error"),
    properties=("convex", "smooth", "nonnegative", "zero_at_optimum"),
    summary="Mean squared error: the average of squared residuals.",
    formula="L = mean_i (x_i - y_i)^2",
    gradient="dL/dx_i = 2 (x_i - y_i) / N: it grows with the error, so large errors dominate "
             "the update and training converges fast near the optimum.",
    when_to_use="The default for regression with roughly Gaussian noise, and the right loss when "
                "the metric is RMSE/MSE. Its minimizer is the conditional mean.",
    pitfalls="Outliers dominate: one residual of 100 weighs as much in the loss as 10,000 "
             "residuals of 1 (100^2 = 10,000 x 1^2) and pulls 100 times harder on the fit than "
             "each of them. With gross outliers or heavy tails use huber, smooth_l1 or mae. "
             "As a loss on sigmoid outputs "
             "for classification it saturates (vanishing gradient); use cross-entropy there.",
    references=("Gauss, Theoria motus corporum coelestium (1809), least squares.",),
    example_inputs=ex.regression, optimum=_perfect,
    reference=elementwise_loop(lambda x, y: (x - y) * (x - y)),
)
def mse(input: torch.Tensor, target: torch.Tensor, *, weight: torch.Tensor | None = None,
        reduction: Reduction = "mean") -> torch.Tensor:
    """Mean squared error ``(input - target)^2``.

    Shape:
        input: ``[*]`` predictions; target: ``[*]`` same shape; output: scalar, or ``[*]``
        with ``reduction="none"``.

    Example:
        >>> mse(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0]))
        tensor(2.)
    """
    x, y = _pair(input, target, weight, reduction)
    fast = _accelerated("mse", x, y, weight, reduction)
    if fast is not None:
        return fast
    return reduce((x - y).square(), reduction, weight=weight)


@register_loss(
    family="regression", tasks=("regression",), input_kind="values", target_kind="values",
    aliases=("l1", "mean_absolute_error", "absolute_error"),
    properties=("convex", "robust_to_outliers", "bounded_gradient", "nonnegative",
                "zero_at_optimum"),
    summary="Mean absolute error: the average of absolute residuals.",
    formula="L = mean_i |x_i - y_i|",
    gradient="dL/dx_i = sign(x_i - y_i) / N: constant magnitude whatever the error, so an "
             "outlier pulls no harder than any other point (0 at x = y, a subgradient).",
    when_to_use="Regression with outliers or heavy-tailed noise, or when the metric is MAE. Its "
                "minimizer is the conditional median.",
    pitfalls="The constant gradient does not shrink near the optimum, so a fixed learning rate "
             "oscillates around it and convergence is slower than with MSE; decay the learning "
             "rate or use huber / smooth_l1. Not differentiable at zero error.",
    references=("Laplace (1774); Koenker, Quantile Regression (2005), the median as L1 "
                "minimizer.",),
    example_inputs=ex.regression, optimum=_perfect,
    reference=elementwise_loop(lambda x, y: (x - y) if x > y else (y - x)),
)
def mae(input: torch.Tensor, target: torch.Tensor, *, weight: torch.Tensor | None = None,
        reduction: Reduction = "mean") -> torch.Tensor:
    """Mean absolute error ``|input - target|``.

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.

    Example:
        >>> mae(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0]))
        tensor(1.)
    """
    x, y = _pair(input, target, weight, reduction)
    fast = _accelerated("mae", x, y, weight, reduction)
    if fast is not None:
        return fast
    return reduce((x - y).abs(), reduction, weight=weight)


@register_loss(
    family="regression", tasks=("regression",), input_kind="values", target_kind="values",
    aliases=("huber_loss",),
    properties=("convex", "smooth", "robust_to_outliers", "bounded_gradient", "nonnegative",
                "zero_at_optimum"),
    summary="Huber loss: quadratic for residuals below delta, linear beyond.",
    formula="r = |x - y|;  L = 0.5 r^2 if r <= delta else delta (r - 0.5 delta)",
    gradient="dL/dx = (x - y) inside the band, delta * sign(x - y) outside: MSE-like near the "
             "optimum, MAE-like (bounded by delta) for outliers.",
    when_to_use="Regression with some outliers when you still want fast, smooth convergence near "
                "the optimum. Set delta to the scale of a typical clean residual (e.g. 1.35 x "
                "the MAD-based sigma gives 95% efficiency under Gaussian noise).",
    pitfalls="delta is in the units of the target: rescaling the target without rescaling delta "
             "changes the loss's behaviour. A huge delta is MSE/2, a tiny one is delta x MAE. "
             "Its minimizer lies between the conditional mean and the conditional median: it "
             "estimates the center of the noise only when the noise is symmetric; with skewed "
             "noise it is biased toward the long tail relative to the median.",
    references=("Huber, Robust Estimation of a Location Parameter, Ann. Math. Statist. 1964.",),
    example_inputs=ex.regression, optimum=_perfect, reference=_huber_reference,
    learnable=("delta",),
)
def huber(input: torch.Tensor, target: torch.Tensor, *, delta: float | torch.Tensor = 1.0,
          weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Huber loss with threshold ``delta`` (same values as :func:`torch.nn.functional.huber_loss`).

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.

    Example:
        >>> huber(torch.tensor([0.0, 0.0]), torch.tensor([0.5, 3.0]), delta=1.0)
        tensor(1.3125)
    """
    check_param("delta", delta, low=0.0, low_inclusive=False, learnable=True)
    x, y = _pair(input, target, weight, reduction)
    fast = _accelerated("huber", x, y, weight, reduction, delta=delta)
    if fast is not None:
        return fast
    r = (x - y).abs()
    # Clamping r at delta gives both branches in one expression, with no doubled gradient
    # at the kink: 0.5 m^2 + delta (r - m) with m = min(r, delta).
    m = torch.minimum(r, as_scalar(delta, r))
    return reduce(0.5 * m.square() + delta * (r - m), reduction, weight=weight)


@register_loss(
    family="regression", tasks=("regression", "detection"), input_kind="values",
    target_kind="values", aliases=("smooth_l1_loss",),
    properties=("convex", "smooth", "robust_to_outliers", "bounded_gradient", "nonnegative",
                "zero_at_optimum"),
    summary="Smooth L1: L1 with the kink around zero replaced by a parabola of width beta.",
    formula="r = |x - y|;  L = 0.5 r^2 / beta if r < beta else r - 0.5 beta",
    gradient="dL/dx = (x - y) / beta inside the band, sign(x - y) outside: the gradient "
             "magnitude is at most 1 whatever beta is.",
    when_to_use="Bounding-box regression (Fast R-CNN) and any regression where you want L1's "
                "robustness without its kink at zero. Equal to huber(delta=beta) / beta.",
    pitfalls="Unlike Huber, the linear part has slope 1 for every beta, so a small beta makes the "
             "loss nearly L1 (slow final convergence); beta = 0 is exactly L1."
             " It is often called faster than Huber: for beta < 1 its gradient near zero is "
             "1/beta times Huber's (delta = beta), so small residuals are corrected faster; the "
             "cost per call is the same.",
    references=("Girshick, Fast R-CNN, ICCV 2015.",),
    example_inputs=ex.regression, optimum=_perfect,
    reference=_smooth_l1_reference,
    learnable=("beta",),
)
def smooth_l1(input: torch.Tensor, target: torch.Tensor, *, beta: float | torch.Tensor = 1.0,
              weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Smooth L1 loss (same values as :func:`torch.nn.functional.smooth_l1_loss`).

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.

    Example:
        >>> smooth_l1(torch.tensor([0.0, 0.0]), torch.tensor([0.5, 3.0]))
        tensor(1.3125)
    """
    learnt = isinstance(beta, torch.Tensor)
    # A learnable beta must stay positive (the quadratic part divides by it); a number may
    # be 0, which is exactly L1.
    check_param("beta", beta, low=0.0, low_inclusive=not learnt, learnable=True)
    x, y = _pair(input, target, weight, reduction)
    fast = _accelerated("smooth_l1", x, y, weight, reduction, beta=beta)
    if fast is not None:
        return fast
    r = (x - y).abs()
    if not learnt and beta == 0:
        return reduce(r, reduction, weight=weight)
    m = torch.minimum(r, as_scalar(beta, r))
    return reduce(0.5 * m.square() / beta + (r - m), reduction, weight=weight)


_LOG2 = math.log(2.0)


def _log_cosh_reference(input: torch.Tensor, target: torch.Tensor, *,
                        reduction: str = "mean") -> torch.Tensor:
    # Direct textbook form; fine in float64 for moderate residuals.
    return reduced(torch.log(torch.cosh(input - target)), reduction)


@register_loss(
    family="regression", tasks=("regression",), input_kind="values", target_kind="values",
    aliases=("logcosh",),
    properties=("convex", "smooth", "robust_to_outliers", "bounded_gradient", "nonnegative",
                "zero_at_optimum"),
    summary="Log-cosh: about r^2/2 for small residuals and |r| - log 2 for large ones.",
    formula="L = mean_i log(cosh(x_i - y_i))",
    gradient="dL/dx = tanh(x - y): linear near 0, saturating at +-1, and smooth everywhere "
             "(infinitely differentiable, unlike Huber). The second derivative sech^2(x - y) "
             "vanishes for large residuals (0.0099 at r = 3, 1.8e-4 at r = 5).",
    when_to_use="Robust regression with first-order optimizers (SGD, Adam) when a smooth loss "
                "with a bounded gradient is wanted and no threshold should be tuned.",
    pitfalls="Not a good objective for Newton-step methods (gradient boosting with Hessians, "
             "as in XGBoost / LightGBM custom objectives): the Newton step tanh(r) / sech^2(r) "
             "= sinh(2r) / 2 is 101 at r = 3 and 5.5e3 at r = 5, so large residuals blow up "
             "the leaf values; use a pseudo-Huber loss with a floored Hessian, or quantile / "
             "MAE objectives with their dedicated leaf updates, there. The naive "
             "log(cosh(r)) overflows for |r| > ~89 in float32 and ~11 in float16; losskit "
             "uses |r| + log1p(exp(-2|r|)) - log 2. The quadratic zone has fixed width ~1, so "
             "rescale targets to unit scale first.",
    references=("Saleh & Saleh, Statistical Properties of the log-cosh Loss Function, 2022.",),
    example_inputs=ex.regression, optimum=_perfect, reference=_log_cosh_reference,
)
def log_cosh(input: torch.Tensor, target: torch.Tensor, *, weight: torch.Tensor | None = None,
             reduction: Reduction = "mean") -> torch.Tensor:
    """Log-cosh loss, computed in the overflow-free form.

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.

    Example:
        >>> log_cosh(torch.tensor([0.0]), torch.tensor([1.0]))
        tensor(0.4338)
    """
    x, y = _pair(input, target, weight, reduction)
    fast = _accelerated("log_cosh", x, y, weight, reduction)
    if fast is not None:
        return fast
    d = x - y
    r = d.abs()
    near = r < 1
    # Below 1: log cosh d = log1p(2 sinh^2(d / 2)), exact for small d (the form below
    # cancels there: 100% off at d = 1e-4 in float32, and slightly negative).
    inner = torch.where(near, d, 0.0)
    small = torch.log1p(2.0 * torch.sinh(0.5 * inner).square())
    # Beyond: |d| + log(1 + e^{-2|d|}) - log 2, finite for every finite d.
    r = torch.where(near, 1.0, r)
    large = r + torch.nn.functional.softplus(-2.0 * r) - _LOG2
    return reduce(torch.where(near, small, large), reduction, weight=weight)


def _quantile_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return ex.regression(n, seed)


def _pinball_reference(input: torch.Tensor, target: torch.Tensor, *,
                       quantiles: float | Sequence[float] = 0.5,
                       reduction: str = "mean") -> torch.Tensor:
    qs = [quantiles] if isinstance(quantiles, (int, float)) else list(quantiles)
    preds = input.unsqueeze(-1) if isinstance(quantiles, (int, float)) else input
    cols = []
    for k, q in enumerate(qs):
        e = target - preds[..., k]
        cols.append(torch.where(e >= 0, q * e, (q - 1) * e))
    loss = torch.stack(cols, -1)
    loss = loss.squeeze(-1) if isinstance(quantiles, (int, float)) else loss
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@register_loss(
    family="regression", tasks=("regression", "forecasting"), input_kind="values",
    target_kind="values", aliases=("pinball", "quantile_loss"),
    properties=("convex", "robust_to_outliers", "bounded_gradient", "nonnegative",
                "zero_at_optimum"),
    summary="Pinball (quantile) loss: an asymmetric L1 whose minimizer is the q-th quantile.",
    formula="e = y - x;  L = q e if e >= 0 else (q - 1) e   (per quantile level q)",
    gradient="dL/dx = -q when under-predicting, (1 - q) when over-predicting: the ratio "
             "q / (1 - q) is the price of an under-prediction relative to an over-prediction.",
    when_to_use="Asymmetric costs (under-stocking costs 3x over-stocking -> q = 3 / (3 + 1) = "
                "0.75), prediction intervals (q = 0.05 and 0.95), and forecasting judged by "
                "pinball loss. q = 0.5 is MAE / 2.",
    pitfalls="Predicting several quantiles independently can cross (q90 < q50); sort or use "
             "monotone heads. Like MAE, the constant gradient slows the final convergence.",
    references=("Koenker & Bassett, Regression Quantiles, Econometrica 1978.",),
    example_inputs=_quantile_examples, optimum=_perfect, reference=_pinball_reference,
    head="quantiles",
)
def quantile(input: torch.Tensor, target: torch.Tensor, *,
             quantiles: float | Sequence[float] = 0.5, weight: torch.Tensor | None = None,
             reduction: Reduction = "mean") -> torch.Tensor:
    """Pinball loss at one quantile level, or at several levels at once.

    Shape:
        With a single level ``q``: input ``[*]`` and target ``[*]``; ``"none"`` gives ``[*]``.
        With ``Q`` levels: input ``[*, Q]`` (one prediction per level) and target ``[*]``;
        ``"none"`` gives ``[*, Q]`` and ``"mean"`` averages over samples and levels.

    Example:
        >>> quantile(torch.tensor([0.0]), torch.tensor([2.0]), quantiles=0.75)
        tensor(1.5000)
    """
    check_reduction(reduction)
    check_floating("input", input)
    check_floating("target", target)
    if isinstance(quantiles, torch.Tensor) and quantiles.dim() == 0:
        raise LossInputError("quantiles must be a number or a sequence of numbers, got a 0-dim "
                             "tensor: pass float(q) (quantile levels are not learned)")
    single = isinstance(quantiles, (int, float))
    levels = ([float(quantiles)] if isinstance(quantiles, (int, float))
              else [float(q) for q in quantiles])
    if not levels:
        raise LossInputError("quantiles must name at least one level in (0, 1)")
    for level in levels:
        check_param("quantiles", level, low=0.0, high=1.0, low_inclusive=False,
                    high_inclusive=False)
    x, y = upcast(input), upcast(target)
    if single:
        if x.shape != y.shape:
            raise LossInputError(f"input and target must have the same shape, got "
                                 f"{tuple(x.shape)} and {tuple(y.shape)}")
        q = torch.full((), levels[0], dtype=x.dtype, device=x.device)
        e = y - x
    else:
        if x.shape != (*y.shape, len(levels)):
            raise LossInputError(
                f"with {len(levels)} quantile levels the input must have shape target.shape + "
                f"({len(levels)},) = {(*y.shape, len(levels))}, got {tuple(x.shape)}"
            )
        # one fill per level on the input's device: a tensor built from a Python list would be
        # a host-to-device copy on every call
        q = torch.stack([torch.full((), v, dtype=x.dtype, device=x.device) for v in levels])
        e = y.unsqueeze(-1) - x
    loss = torch.maximum(q * e, (q - 1) * e)
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight)


def _msle_reference(input: torch.Tensor, target: torch.Tensor, *,
                    reduction: str = "mean") -> torch.Tensor:
    loss = (torch.log(1 + input) - torch.log(1 + target)) ** 2
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@register_loss(
    family="regression", tasks=("regression",), input_kind="values", target_kind="values",
    aliases=("mean_squared_log_error",),
    properties=("smooth", "nonnegative", "zero_at_optimum"),
    summary="Mean squared logarithmic error: MSE between log(1 + x) and log(1 + y).",
    formula="L = mean_i (log1p(x_i) - log1p(y_i))^2",
    gradient="dL/dx = 2 (log1p(x) - log1p(y)) / ((1 + x) N): the error is measured on "
             "log(1 + value), which is a relative error only for values well above 1. "
             "Predicting 110 for 100 costs (log(111/101))^2 = 0.0089, but 1.1 for 1 only "
             "(log(2.1/2))^2 = 0.0024, because of the +1; and 0.1 for 0 costs 0.0091.",
    when_to_use="Non-negative targets spanning orders of magnitude (prices, counts, durations) "
                "when relative error matters and the metric is RMSLE. Penalizes "
                "under-prediction more than over-prediction of the same absolute size. Its "
                "minimizer is exp(E[log(1 + y)]) - 1, the geometric mean of 1 + y minus 1, "
                "not the mean of y.",
    pitfalls="Targets must be >= 0 and predictions > -1 (log1p of anything below -1 is NaN): "
             "put a softplus or exp on the output. Zeros are fine (log1p(0) = 0); a plain log "
             "of zero is not.",
    references=("Kaggle RMSLE metric; equivalent to MSE on log1p-transformed targets.",),
    example_inputs=ex.nonnegative_regression, optimum=_perfect, reference=_msle_reference,
    head="log1p",
)
def msle(input: torch.Tensor, target: torch.Tensor, *, weight: torch.Tensor | None = None,
         reduction: Reduction = "mean") -> torch.Tensor:
    """Mean squared log error ``(log1p(input) - log1p(target))^2``.

    Shape:
        input: ``[*]``; target: ``[*]`` non-negative; output: scalar, or ``[*]``.

    Example:
        >>> msle(torch.tensor([0.0]), torch.tensor([math.e - 1]))
        tensor(1.)
    """
    check_pair(input, target, weight, reduction)
    check_nonnegative("target", target, "msle takes log1p of the target")
    # log1p is -inf at -1 and undefined below
    check_in_range("input", input, -1.0, None, "predictions", low_inclusive=False)
    loss = (torch.log1p(upcast(input)) - torch.log1p(upcast(target))).square()
    return reduce(loss, reduction, weight=weight)


def _poisson_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return ex.randn(n, 3, g=g) * 0.5, torch.poisson(torch.full((n, 3), 2.0, dtype=torch.float64),
                                                    generator=g)


def _poisson_reference(input: torch.Tensor, target: torch.Tensor, *,
                       reduction: str = "mean") -> torch.Tensor:
    # torch's own poisson_nll_loss (log_input=True), which the definition does not call.
    return torch.nn.functional.poisson_nll_loss(input, target, reduction=reduction)


@register_loss(
    family="regression", tasks=("regression", "count"), input_kind="values",
    target_kind="counts", aliases=("poisson", "poisson_nll_loss"),
    properties=("convex", "smooth"),
    summary="Poisson negative log-likelihood for count targets.",
    formula="log_input: L = exp(x) - y x;  else L = x - y log(x + eps);  full adds "
            "Stirling's log(y!) ~ y log y - y + 0.5 log(2 pi y) for y > 1 (the exact "
            "negative log-likelihood is L + log(y!))",
    gradient="with log_input: dL/dx = exp(x) - y, so the update is the gap between predicted "
             "rate and observed count; the variance is assumed equal to the mean.",
    when_to_use="Counts (events, visits, photons) where larger means carry larger variance. "
                "Predict the log-rate (log_input=True) so the rate stays positive.",
    pitfalls="Targets must be non-negative. Overdispersed counts (variance >> mean, judged on "
             "the residuals of a fitted model, not on the raw target) call for a "
             "negative-binomial likelihood. With log_input=False the prediction must stay "
             "positive; eps only guards log(0). The loss is not 0 at the optimum: at the "
             "perfect rate exp(x) = y it equals y - y log y (-39.9 at y = 20), and with "
             "full=True 0.5 log(2 pi y) (2.4 at y = 20; the exact likelihood's floor, "
             "y - y log y + log y!, is about that plus 1 / (12 y)), never 0. Compare values "
             "only between models, or use the Poisson "
             "deviance 2 (y log(y / mu) - y + mu), which is 0 at mu = y.",
    references=("McCullagh & Nelder, Generalized Linear Models (1989), ch. 6.",),
    example_inputs=_poisson_examples, reference=_poisson_reference,
    expected_failures={"extreme_inputs": "a log-rate of 1e4 is a rate of e^10000, which no "
                       "float can hold; the loss is exact wherever the rate is representable"},
    head="log_rate",
)
def poisson_nll(input: torch.Tensor, target: torch.Tensor, *, log_input: bool = True,
                full: bool = False, eps: float = 1e-8, exposure: torch.Tensor | None = None,
                weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Poisson negative log-likelihood (same values as torch's ``poisson_nll_loss``).

    ``exposure`` (time at risk, population, ...) multiplies the rate: with ``log_input``
    the model predicts the log-rate per unit of exposure and ``log(exposure)`` is the
    offset of a Poisson GLM, so ``mu = exposure * exp(input)``.

    Shape:
        input: ``[*]`` log-rates (or rates with ``log_input=False``); target: ``[*]`` counts;
        exposure: broadcastable to ``[*]``, positive.

    Example:
        >>> poisson_nll(torch.tensor([0.0]), torch.tensor([1.0]))
        tensor(1.)
    """
    check_pair(input, target, weight, reduction)
    check_nonnegative("target", target, "Poisson counts")
    if not log_input:
        check_nonnegative("input", input, "Poisson rates with log_input=False")
    check_param("eps", eps, low=0.0)
    x, y = upcast(input), upcast(target)
    if exposure is not None:
        check_floating("exposure", exposure)
        check_broadcastable("exposure", exposure, x.shape)
        check_in_range("exposure", exposure, 0.0, None, "exposures", low_inclusive=False)
        e = upcast(exposure).to(x.dtype)
        # The GLM offset: log mu = x + log e (log_input), mu = x e otherwise.
        loss = (e * torch.exp(x) - y * (x + torch.log(e)) if log_input
                else x * e - y * torch.log(x * e + eps))
    else:
        loss = torch.exp(x) - y * x if log_input else x - y * torch.log(x + eps)
    if full:
        # Stirling's approximation of log(y!), added only where it is accurate (y > 1).
        stirling = y * torch.log(y.clamp(min=1)) - y + 0.5 * torch.log(2 * math.pi * y.clamp(min=1))
        loss = loss + torch.where(y > 1, stirling, 0.0)
    return reduce(loss, reduction, weight=weight)


def _gaussian_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return ex.randn(n, 3, g=g), ex.randn(n, 3, g=g), ex.rand(n, 3, g=g) + 0.5


def _gaussian_reference(input: torch.Tensor, target: torch.Tensor, var: torch.Tensor, *,
                        full: bool = False, eps: float = 1e-6,
                        reduction: str = "mean") -> torch.Tensor:
    # torch's own gaussian_nll_loss, which the definition does not call.
    return torch.nn.functional.gaussian_nll_loss(input, target, var, full=full, eps=eps,
                                                 reduction=reduction)


def _mean_variance(input: torch.Tensor, target: torch.Tensor, var: torch.Tensor, eps: float,
                   weight: torch.Tensor | None,
                   reduction: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Checked, upcast (mean, target, variance) of a loss on a predicted Gaussian, the
    variance shaped against the mean and clamped at ``eps`` in value only."""
    check_pair(input, target, weight, reduction)
    check_floating("var", var)
    check_param("eps", eps, low=0.0, low_inclusive=False)
    check_nonnegative("var", var, "variances")
    x, y, v = upcast(input), upcast(target), upcast(var)
    # torch's forms only: a general broadcast would read a [D] var per column of [N, D]
    # when N != D but per sample when N == D.
    if v.shape == x.shape[:-1] and x.dim() >= 1:
        v = v.unsqueeze(-1)
    elif not (v.shape == x.shape or v.dim() == 0
              or (v.shape[:-1] == x.shape[:-1] and v.dim() == x.dim() and v.shape[-1] == 1)):
        raise LossInputError(
            f"var of shape {tuple(var.shape)} does not match input {tuple(input.shape)}: pass "
            f"the input's shape, one per sample ({tuple(input.shape[:-1])} or "
            f"{(*input.shape[:-1], 1)}), or a 0-dim tensor")
    # Clamp the value but let the gradient through, as torch does: the clamp only guards
    # log(0) and division by 0, it should not freeze the variance head.
    return x, y, v + (v.clamp(min=eps) - v).detach()


@register_loss(
    family="regression", tasks=("regression", "uncertainty"), input_kind="values",
    target_kind="values", aliases=("gaussian", "gaussian_nll_loss", "heteroscedastic"),
    properties=("smooth",), grad_args=(0, 2),
    summary="Gaussian negative log-likelihood with a predicted variance (heteroscedastic "
            "regression).",
    formula="L = 0.5 (log max(var, eps) + (x - y)^2 / max(var, eps)) [+ 0.5 log(2 pi) if full]",
    gradient="dL/dx = (x - y) / var, dL/dvar = 0.5 (1/var - (x - y)^2 / var^2): the model may "
             "explain a large error by a large variance instead of moving the mean.",
    when_to_use="When the model should report its own uncertainty per sample (aleatoric "
                "uncertainty), or the noise level varies across inputs.",
    pitfalls="The model can inflate var to ignore hard samples; early in training the mean is "
             "poorly fit and the variance absorbs it (consider a warm-up with MSE or the beta-NLL "
             "weighting). var must be positive: use softplus on the variance head. eps clamps "
             "the variance in the value but, as in torch, the gradient passes the clamp."
             " Its value can be negative (a confident, correct prediction has log var < 0), so 0 "
             "is not a perfect score: compare values, not signs.",
    references=("Nix & Weigend, Estimating the mean and variance of the target probability "
                "distribution, ICNN 1994.",),
    example_inputs=_gaussian_examples, reference=_gaussian_reference,
    head="mean_variance",
)
def gaussian_nll(input: torch.Tensor, target: torch.Tensor, var: torch.Tensor, *,
                 full: bool = False, eps: float = 1e-6, weight: torch.Tensor | None = None,
                 reduction: Reduction = "mean") -> torch.Tensor:
    """Gaussian NLL with predicted variance (same values as torch's ``gaussian_nll_loss``).

    Shape:
        input: ``[N, *]`` means; target: ``[N, *]``; var: ``[N, *]``, or one dimension fewer /
        a last dimension of 1 for one variance per sample, or a scalar (homoscedastic).

    Example:
        >>> gaussian_nll(torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([1.0]))
        tensor(0.5000)
    """
    x, y, v = _mean_variance(input, target, var, eps, weight, reduction)
    loss = 0.5 * (torch.log(v) + (x - y).square() / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce(loss, reduction, weight=weight)


# --- CRPS ----------------------------------------------------------------------------------

_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)


def _crps_gaussian_reference(input: torch.Tensor, target: torch.Tensor, var: torch.Tensor, *,
                             eps: float = 1e-6, reduction: str = "mean") -> torch.Tensor:
    """E|X - y| - E|X - X'| / 2 for X ~ N(mu, sigma^2): the mean of a folded normal,
    sigma sqrt(2/pi) exp(-d^2 / 2 sigma^2) + d (1 - 2 Phi(-d / sigma)), and 2 sigma / sqrt(pi)
    (Gneiting & Raftery 2007, eq. 20), with torch.special.ndtr for Phi."""
    sigma = var.clamp(min=eps).sqrt()
    d = target - input
    folded = (sigma * math.sqrt(2 / math.pi) * torch.exp(-d.square() / (2 * sigma.square()))
              + d * (1 - 2 * torch.special.ndtr(-d / sigma)))
    return reduced(folded - sigma * _INV_SQRT_PI, reduction)


@register_loss(
    family="regression", tasks=("regression", "uncertainty"), input_kind="values",
    target_kind="values", aliases=("crps", "crps_normal", "continuous_ranked_probability_score"),
    properties=("smooth", "nonnegative"), grad_args=(0, 2),
    summary="Continuous ranked probability score of a predicted Gaussian: how far its CDF is "
            "from the step at the observed value, in the target's units.",
    formula="sigma = sqrt(max(var, eps)), d = y - mu, z = d / sigma: L = d (2 Phi(z) - 1) + "
            "sigma (2 phi(z) - 1 / sqrt(pi)) = integral of (F(t) - 1[t >= y])^2 dt.",
    gradient="dL/dmu = -(2 Phi(z) - 1), bounded by 1 (an outlier pulls the mean no harder than "
             "in MAE); dL/dsigma = 2 phi(z) - 1 / sqrt(pi), zero where |z| = sqrt(log 2) = "
             "0.83: the spread settles where the errors are, without the 1 / var factor of "
             "Gaussian NLL.",
    when_to_use="Probabilistic forecasts and regression with uncertainty scored by CRPS "
                "(weather, energy, demand forecasting): train on the metric. A drop-in "
                "replacement for gaussian_nll (the same call) that is robust to outliers and "
                "does not let the variance run away early in training.",
    pitfalls="Under heavy-tailed noise the Gaussian is wrong either way, and the two fit "
             "it differently: NLL's variance grows with the outliers' squared errors, CRPS's "
             "follows the bulk (an outlier's 2 phi(z) is 0), so CRPS gives sharper intervals "
             "that under-cover the tails: check the coverage. The minimum is 0 only in the limit "
             "var -> 0 at mu = y; compare values, not distance from 0. var must be positive "
             "(softplus on the variance head); eps clamps it in value, the gradient passes the "
             "clamp as in gaussian_nll.",
    references=("Gneiting & Raftery, Strictly Proper Scoring Rules, Prediction, and Estimation, "
                "JASA 102(477), 2007.",
                "Rasp & Lerch, Neural networks for postprocessing ensemble weather forecasts, "
                "Monthly Weather Review 146(11), 2018.",
                "properscoring, crps_gaussian."),
    example_inputs=_gaussian_examples, reference=_crps_gaussian_reference,
    head="mean_variance",
)
def crps_gaussian(input: torch.Tensor, target: torch.Tensor, var: torch.Tensor, *,
                  eps: float = 1e-6, weight: torch.Tensor | None = None,
                  reduction: Reduction = "mean") -> torch.Tensor:
    """CRPS of a Gaussian predictive distribution N(input, var) at the target.

    Called like :func:`gaussian_nll` (the variance, not the standard deviation), so the two
    swap freely; the same values as ``properscoring.crps_gaussian(target, input, var ** 0.5)``.

    Shape:
        input: ``[N, *]`` means; target: ``[N, *]``; var: ``[N, *]``, or one dimension fewer /
        a last dimension of 1 for one variance per sample, or a scalar.

    Example:
        >>> round(float(crps_gaussian(torch.tensor([0.0]), torch.tensor([0.0]),
        ...                           torch.tensor([1.0]))), 4)
        0.2337
    """
    x, y, v = _mean_variance(input, target, var, eps, weight, reduction)
    sigma = torch.sqrt(v)
    d = y - x
    z = d / sigma
    phi = torch.exp(-0.5 * z.square()) * (1.0 / math.sqrt(2 * math.pi))
    # d (2 Phi(z) - 1) rather than sigma z (2 Phi(z) - 1): exact when sigma is tiny
    loss = d * torch.erf(z * math.sqrt(0.5)) + sigma * (2 * phi - _INV_SQRT_PI)
    return reduce(loss, reduction, weight=weight)


def _ensemble_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return ex.randn(n, 8, g=g), ex.randn(n, g=g)


def _crps_ensemble_reference(input: torch.Tensor, target: torch.Tensor, *, fair: bool = False,
                             reduction: str = "mean") -> torch.Tensor:
    """E|X - y| - E|X - X'| / 2 over the members, every pair taken explicitly (O(M^2))."""
    m = input.shape[-1]
    pairs = (input[..., :, None] - input[..., None, :]).abs().sum((-2, -1))
    spread = pairs / (2 * m * (m - 1) if fair else 2 * m * m)
    return reduced((input - target[..., None]).abs().mean(-1) - spread, reduction)


@register_loss(
    family="regression", tasks=("regression", "uncertainty"), input_kind="values",
    target_kind="values", aliases=("crps_sample", "crps_empirical", "energy_score_1d"),
    properties=("nonnegative", "zero_at_optimum"), grad_args=(0,), none_shape="sample",
    summary="Continuous ranked probability score of an ensemble (samples of the predictive "
            "distribution): members close to the target, and spread as the errors are.",
    formula="x_1..x_M members: L = mean_i |x_i - y| - sum_ij |x_i - x_j| / (2 M^2) (fair: "
            "/ (2 M (M - 1))); the pair sum is 2 sum_k (2k - M - 1) x_(k) over the sorted "
            "members, O(M log M).",
    gradient="dL/dx_i = (sign(x_i - y) - (2 rank_i - M - 1) / M) / M: each member is pulled "
             "toward the target and pushed apart from the others in proportion to its rank, "
             "so the members spread over the predictive distribution's quantiles.",
    when_to_use="Generative or ensemble forecasts (several sampled trajectories, members of a "
                "deep ensemble, a model with M output heads) scored by CRPS; no parametric "
                "family to choose. fair=True is the unbiased estimate of the CRPS of the "
                "distribution the members are drawn from (it rewards a small ensemble for "
                "the spread it cannot show); the default scores the M members themselves, as "
                "properscoring does.",
    pitfalls="A single member reduces it to MAE. Ties and sorting make the gradient "
             "piecewise: members with equal values share it arbitrarily. fair=True needs "
             "M >= 2. A NaN member gives NaN (properscoring skips NaN members).",
    references=("Gneiting & Raftery, Strictly Proper Scoring Rules, Prediction, and Estimation, "
                "JASA 102(477), 2007.",
                "Ferro, Fair scores for ensemble forecasts, QJRMS 140(683), 2014.",
                "properscoring, crps_ensemble."),
    example_inputs=_ensemble_examples, reference=_crps_ensemble_reference, head="ensemble",
    optimum=lambda args: (args[1].unsqueeze(-1).expand_as(args[0]).clone(), *args[1:]),
)
def crps_ensemble(input: torch.Tensor, target: torch.Tensor, *, fair: bool = False,
                  weight: torch.Tensor | None = None,
                  reduction: Reduction = "mean") -> torch.Tensor:
    """CRPS of the empirical distribution of ensemble members (the last dimension).

    The same values as ``properscoring.crps_ensemble(target, input)`` for finite members;
    ``fair=True`` gives
    Ferro's unbiased (fair) version.

    Shape:
        input: ``[*, M]`` members; target: ``[*]``; "none" gives ``[*]``.

    Example:
        >>> round(float(crps_ensemble(torch.tensor([[0.0, 1.0]]), torch.tensor([0.0]))), 4)
        0.25
    """
    check_floating("input", input)
    if input.dim() < 1 or input.shape[:-1] != target.shape:
        raise LossInputError(f"input must be [*, M] members with [*] the target's shape "
                             f"{tuple(target.shape)}, got {tuple(input.shape)}")
    check_pair(input[..., 0], target, weight, reduction)
    m = input.shape[-1]
    if m < (2 if fair else 1):
        raise LossInputError(f"crps_ensemble needs at least {2 if fair else 1} member"
                             f"{'s' if fair else ''} in the last dimension, got {m}")
    x, y = upcast(input), upcast(target)
    error = (x - y.unsqueeze(-1)).abs().mean(-1)
    ranks = torch.arange(1, m + 1, dtype=x.dtype, device=x.device)
    pairs = 2 * (torch.sort(x, dim=-1).values * (2 * ranks - m - 1)).sum(-1)
    loss = error - pairs / (2 * m * (m - 1) if fair else 2 * m * m)
    return reduce(loss, reduction, weight=weight)

