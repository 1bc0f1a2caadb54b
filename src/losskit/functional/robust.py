"""Robust regression losses: Barron's general loss, its named special cases, Tukey's biweight.

Every function takes ``input: [*]`` predictions and ``target: [*]`` values of the same
shape, keyword-only hyperparameters, an optional ``weight`` broadcast against the
unreduced loss, and ``reduction``; ``"none"`` returns the per-element loss.
float16/bfloat16 inputs are computed in float32 and the result is float32.

``scale`` (Barron's ``c``) and Tukey's ``c`` are in the units of the residual. They, and
Barron's shape ``alpha``, may be tensors requiring grad (learned, or predicted per element
by a model) and then receive exact gradients; a tensor of any shape that broadcasts to
the input works (one value per channel, per pixel, ...). Learning ``alpha`` or ``scale``
by minimizing the loss itself is degenerate (it prefers the most robust shape and an
ever larger scale); :class:`losskit.modules.GeneralRobust` learns them through Barron's
negative log-likelihood instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .._core._math import as_scalar
from .._core.reduce import reduce, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_pair,
    check_param,
    readable,
)
from . import _examples as ex

__all__ = ["cauchy", "geman_mcclure", "general_robust", "tukey_biweight", "welsch"]


def _perfect(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (args[1].clone(), args[1], *args[2:])


def _check_scale_like(name: str, value: float | torch.Tensor, shape: torch.Size) -> None:
    check_param(name, value, low=0.0, low_inclusive=False, learnable=True, broadcast_to=shape)


def _hyper(value: float | torch.Tensor) -> float | torch.Tensor:
    """A float hyperparameter as it is, a low-precision tensor one in float32."""
    return upcast(value) if isinstance(value, torch.Tensor) else value


def _scaled_square(input: torch.Tensor, target: torch.Tensor,
                   scale: float | torch.Tensor) -> torch.Tensor:
    """``(r / c)^2``: the only way the residual enters Barron's family."""
    return _scaled(input, target, scale).square()


def _scaled(input: torch.Tensor, target: torch.Tensor,
            scale: float | torch.Tensor) -> torch.Tensor:
    """``r / c``."""
    return (upcast(input) - upcast(target)) / _hyper(scale)


def _log1p_square(u: torch.Tensor) -> torch.Tensor:
    """``log(1 + u^2)`` without forming ``u^2`` where it could overflow.

    Past ``|u| = 1`` it is ``2 log|u| + log1p(u^-2)``, finite for every finite ``u``
    (``u^2`` overflows from ``|u| > 1.8e19`` in float32, and ``log1p(inf)`` would make
    bounded losses NaN). Each branch sees an argument in its own range, so the other's
    gradient is finite and ``where`` passes exact zeros; the inner branch squares ``u``
    itself, so its derivatives are exact through 0.
    """
    outer = u.abs() > 1
    inner_u = torch.where(outer, 0.0, u)
    outer_u = torch.where(outer, u, 1.0)
    far = 2 * torch.log(outer_u.abs()) + torch.log1p(outer_u.reciprocal().square())
    return torch.where(outer, far, torch.log1p(inner_u.square()))


def _exprel(u: torch.Tensor) -> torch.Tensor:
    """``expm1(u) / u``, analytic through ``u = 0`` (where it is 1).

    Near 0 the quotient is 0/0 and its autograd derivative cancels catastrophically, so
    ``|u| < 0.05`` uses the series ``sum_k u^k / (k + 1)!`` through ``u^7`` (truncation
    below 0.05^8 / 9! ~ 1e-16), which gives exact first and second derivatives there.
    The quotient branch sees a safe ``u`` so its unused gradient cannot be ``0 * inf``.
    """
    small = u.abs() < 0.05
    safe = torch.where(small, torch.ones_like(u), u)
    quotient = torch.expm1(safe) / safe
    series = 1 + u / 2 * (1 + u / 3 * (1 + u / 4 * (1 + u / 5 * (1 + u / 6 * (
        1 + u / 7 * (1 + u / 8))))))
    return torch.where(small, series, quotient)


def _barron(t: torch.Tensor, alpha: float | torch.Tensor) -> torch.Tensor:
    """``rho(x, alpha, c)`` from ``t = x / c``, exact and differentiable for every finite alpha.

    Barron's form ``|a - 2| / a (((z / |a - 2| + 1)^(a / 2) - 1)`` is 0/0 at ``a = 0`` and
    ``a = 2``. With ``z = t^2``, ``b = |a - 2|`` and ``L = log1p(z / b)`` it equals
    ``b L / 2 * exprel(a L / 2)``: the ``1 / a`` is gone, so ``a = 0`` gives the Cauchy
    limit ``log1p(z / 2)`` with its exact value and gradient in alpha (no special case).
    At ``a = 2`` the loss is ``z / 2`` for every ``b > 0`` (the power is then linear), so
    ``b`` is floored at the dtype's epsilon: the value there stays exact, the value within
    epsilon of 2 moves by O(epsilon log epsilon), and the alpha-gradient (whose true value
    grows like ``z / 4 log(1 / |a - 2|)`` near 2) is the finite one at ``|a - 2| = epsilon``.
    """
    alpha_t = alpha if isinstance(alpha, torch.Tensor) else as_scalar(alpha, t)
    alpha_t = upcast(alpha_t)
    b = (alpha_t - 2).abs().clamp(min=torch.finfo(t.dtype).eps)
    # L in log space: a residual whose square overflows keeps a finite L, so alpha < 0
    # gives its bound |a - 2| / |a| there instead of NaN.
    log_term = _log1p_square(t * torch.rsqrt(b))
    return 0.5 * b * log_term * _exprel(0.5 * alpha_t * log_term)


def _check_alpha(alpha: float | torch.Tensor, shape: torch.Size) -> None:
    check_param("alpha", alpha, low=None, learnable=True, broadcast_to=shape)
    if isinstance(alpha, torch.Tensor):
        if alpha.numel() and readable(alpha) and not bool(torch.isfinite(alpha).all()):
            raise LossInputError("alpha must be finite (alpha -> -inf is welsch; Barron's "
                                 "alpha -> +inf limit, exp(z / 2) - 1, is not offered), got an "
                                 "infinite value")
    elif not math.isfinite(alpha):
        raise LossInputError(f"alpha must be finite (alpha -> -inf is welsch), got {alpha!r}")


def _reduced(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def _barron_reference(input: torch.Tensor, target: torch.Tensor, *,
                      alpha: float | torch.Tensor = 1.0, scale: float = 1.0,
                      reduction: str = "mean") -> torch.Tensor:
    """Barron's closed forms as printed, one formula per regime (alpha a Python number)."""
    z = ((input - target) / scale) ** 2
    a = float(alpha)
    if a == 2:
        loss = 0.5 * z
    elif a == 0:
        loss = torch.log(0.5 * z + 1)
    else:
        b = abs(a - 2)
        loss = b / a * ((z / b + 1) ** (a / 2) - 1)
    return _reduced(loss, reduction)


_ROBUST_REFS = ("Barron, A General and Adaptive Robust Loss Function, CVPR 2019.",)


@register_loss(
    family="regression", tasks=("regression", "robust_regression"), input_kind="values",
    target_kind="values", aliases=("barron", "adaptive_robust", "general_adaptive_robust"),
    properties=("smooth", "robust_to_outliers", "bounded_gradient", "nonnegative",
                "zero_at_optimum"),
    summary="Barron's general robust loss: one shape parameter alpha moves continuously "
            "through L2 (alpha = 2), Charbonnier / pseudo-Huber (1), Cauchy (0), Geman-McClure "
            "(-2) and Welsch (-> -inf).",
    formula="z = ((x - y) / c)^2;  rho = |a - 2| / a ((z / |a - 2| + 1)^(a / 2) - 1), with "
            "the limits rho = z / 2 at a = 2 and rho = log(z / 2 + 1) at a = 0; mean over "
            "elements.",
    gradient="drho/dx = (x - y) / c^2 (z / |a - 2| + 1)^(a / 2 - 1): equal to the L2 gradient "
             "(x - y) / c^2 for |x - y| << c whatever alpha is; beyond c it grows like "
             "|x - y|^(a - 1), so it is bounded for a <= 1 and falls back to 0 for a < 1 "
             "(redescending). For alpha = 1 (the default) it is bounded by 1 / c.",
    when_to_use="Robust regression when you do not know how heavy the tails of the noise "
                "are: alpha = 1 is a smooth L1, alpha = 0 (Cauchy) or -2 (Geman-McClure) "
                "discard gross outliers, alpha = 2 is least squares. scale c is the residual "
                "below which the loss is quadratic: set it to the size of a clean residual. "
                "To let the data choose alpha and c, use losskit.modules.GeneralRobust "
                "(Barron's negative log-likelihood).",
    pitfalls="Minimizing rho itself over alpha or c is degenerate: rho falls as alpha falls "
             "and as c grows, so a learnable alpha slides to its lower bound and c grows "
             "without limit; learn them through the negative log-likelihood "
             "(losskit.modules.GeneralRobust) or keep them fixed. The loss is convex in the "
             "residual only for alpha >= 1 and its gradient is bounded only for alpha <= 1 "
             "(the listed properties are those of the default alpha = 1); alpha <= 0 can "
             "stall training from a bad start (an outlier-like residual gets almost no "
             "gradient): anneal alpha from 2 or 1 down. "
             "The alpha-gradient is finite everywhere, but its true value grows like "
             "log(1 / |alpha - 2|) next to alpha = 2; at alpha = 2 exactly it is the value at "
             "|alpha - 2| = machine epsilon. alpha must be finite: use welsch for alpha -> -inf.",
    references=_ROBUST_REFS,
    example_inputs=ex.regression, optimum=_perfect, reference=_barron_reference,
    learnable=("alpha", "scale"),
)
def general_robust(input: torch.Tensor, target: torch.Tensor, *,
                   alpha: float | torch.Tensor = 1.0, scale: float | torch.Tensor = 1.0,
                   weight: torch.Tensor | None = None,
                   reduction: Reduction = "mean") -> torch.Tensor:
    """Barron's general robust loss ``rho(x - y, alpha, scale)``.

    ``rho = |a - 2| / a (((r / c)^2 / |a - 2| + 1)^(a / 2) - 1)`` with its limits
    ``0.5 (r / c)^2`` at ``a = 2`` and ``log(0.5 (r / c)^2 + 1)`` at ``a = 0``. Any finite
    alpha is accepted; alpha and scale may be tensors requiring grad (broadcast against
    the input) and the value and gradients stay finite at and next to ``a = 0`` and
    ``a = 2`` (see :func:`_barron`).

    Shape:
        input: ``[*]``; target: ``[*]``; alpha, scale: floats or tensors broadcastable to
        ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.

    Example:
        >>> x, y = torch.tensor([0.0, 3.0]), torch.tensor([0.0, 0.0])
        >>> round(float(general_robust(x, y, alpha=1.0)), 4)  # (sqrt(10) - 1) / 2
        1.0811
        >>> round(float(general_robust(x, y, alpha=2.0)), 4)  # 0.5 * 9 / 2
        2.25
    """
    check_pair(input, target, weight, reduction)
    _check_alpha(alpha, input.shape)
    _check_scale_like("scale", scale, input.shape)
    return reduce(_barron(_scaled(input, target, scale), alpha), reduction,
                  weight=weight)


def _closed_form_reference(formula: Callable[[torch.Tensor], torch.Tensor],
                           ) -> Callable[..., torch.Tensor]:
    def reference(input: torch.Tensor, target: torch.Tensor, *, scale: float = 1.0,
                  reduction: str = "mean") -> torch.Tensor:
        return _reduced(formula(((input - target) / scale) ** 2), reduction)
    return reference


@register_loss(
    family="regression", tasks=("regression", "robust_regression"), input_kind="values",
    target_kind="values", aliases=("lorentzian", "cauchy_loss"),
    properties=("smooth", "robust_to_outliers", "bounded_gradient", "nonnegative",
                "zero_at_optimum"),
    summary="Cauchy (Lorentzian) loss: the log of a quadratic, general_robust at alpha = 0.",
    formula="z = ((x - y) / c)^2;  L = log(z / 2 + 1); mean over elements.",
    gradient="dL/dx = 2 (x - y) / (2 c^2 + (x - y)^2): largest (1 / (sqrt(2) c)) at "
             "|x - y| = sqrt(2) c, then it falls like 2 / (x - y): outliers pull weakly but "
             "never with zero force.",
    when_to_use="Regression with a large fraction of gross outliers (the negative "
                "log-likelihood of a Cauchy / Student-t with one degree of freedom); a "
                "standard choice in robust vision (optical flow, pose, bundle adjustment).",
    pitfalls="Non-convex: from a bad initialization a whole cluster of points can be treated "
              "as outliers; start with L2 or Charbonnier and switch, or anneal alpha with "
              "general_robust. c is in the units of the residual. The scale convention is "
              "Barron's (curvature 1 / c^2 at 0); other texts write log(1 + (r / c)^2), which "
              "is this loss with c / sqrt(2).",
    references=("Black & Anandan, The Robust Estimation of Multiple Motions: Parametric and "
                "Piecewise-Smooth Flow Fields, CVIU 63(1), 1996.", *_ROBUST_REFS),
    example_inputs=ex.regression, optimum=_perfect,
    reference=_closed_form_reference(lambda z: torch.log(0.5 * z + 1)), learnable=("scale",),
)
def cauchy(input: torch.Tensor, target: torch.Tensor, *, scale: float | torch.Tensor = 1.0,
           weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Cauchy / Lorentzian loss ``log(0.5 ((input - target) / scale)^2 + 1)``.

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.

    Example:
        >>> round(float(cauchy(torch.tensor([2.0]), torch.tensor([0.0]))), 4)  # log 3
        1.0986
    """
    check_pair(input, target, weight, reduction)
    _check_scale_like("scale", scale, input.shape)
    # log1p keeps the small-residual end exact (the loss is ~z / 2 there).
    return reduce(_log1p_square(_scaled(input, target, scale) * math.sqrt(0.5)), reduction,
                  weight=weight)


@register_loss(
    family="regression", tasks=("regression", "robust_regression"), input_kind="values",
    target_kind="values", aliases=("leclerc", "welsch_loss"),
    properties=("smooth", "robust_to_outliers", "bounded_gradient", "nonnegative",
                "zero_at_optimum"),
    summary="Welsch (Leclerc) loss: one minus a Gaussian bump, bounded by 1; general_robust "
            "as alpha -> -inf.",
    formula="z = ((x - y) / c)^2;  L = 1 - exp(-z / 2); mean over elements.",
    gradient="dL/dx = (x - y) / c^2 exp(-z / 2): largest at |x - y| = c, then it decays like a "
             "Gaussian, so a residual beyond about 3 c has practically no influence "
             "(redescending).",
    when_to_use="When outliers should be ignored outright (a residual of 5 c costs 1 like one "
                "of 50 c), e.g. matching, registration and fitting with many gross mismatches, "
                "after a good initialization.",
    pitfalls="Strongly non-convex: points farther than a few c from the current fit get "
             "vanishing gradients, so a poor start can never recover them; initialize with "
             "L2, Charbonnier or Cauchy, or shrink c over training. The loss saturates at 1, "
             "so its mean says little about how bad the outliers are.",
    references=("Dennis & Welsch, Techniques for Nonlinear Least Squares and Robust "
                "Regression, Communications in Statistics - Simulation and Computation 7(4), "
                "1978.", "Leclerc, Constructing Simple Stable Descriptions for Image "
                "Partitioning, IJCV 3(1), 1989.", *_ROBUST_REFS),
    example_inputs=ex.regression, optimum=_perfect,
    reference=_closed_form_reference(lambda z: 1 - torch.exp(-0.5 * z)), learnable=("scale",),
)
def welsch(input: torch.Tensor, target: torch.Tensor, *, scale: float | torch.Tensor = 1.0,
           weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Welsch / Leclerc loss ``1 - exp(-0.5 ((input - target) / scale)^2)``.

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.

    Example:
        >>> round(float(welsch(torch.tensor([2.0]), torch.tensor([0.0]))), 4)  # 1 - e^-2
        0.8647
    """
    check_pair(input, target, weight, reduction)
    _check_scale_like("scale", scale, input.shape)
    # -expm1(-z / 2) keeps the small-residual end exact (1 - exp loses it to cancellation).
    return reduce(-torch.expm1(-0.5 * _scaled_square(input, target, scale)), reduction,
                  weight=weight)


@register_loss(
    family="regression", tasks=("regression", "robust_regression"), input_kind="values",
    target_kind="values", aliases=("geman_mcclure_loss",),
    properties=("smooth", "robust_to_outliers", "bounded_gradient", "nonnegative",
                "zero_at_optimum"),
    summary="Geman-McClure loss: a rational function bounded by 2, general_robust at "
            "alpha = -2.",
    formula="z = ((x - y) / c)^2;  L = 2 z / (z + 4); mean over elements.",
    gradient="dL/dx = 16 (x - y) / (c^2 (z + 4)^2): largest near |x - y| = 1.15 c, then it "
             "decays like 1 / (x - y)^3 (redescending, between Cauchy and Welsch).",
    when_to_use="Robust fitting where outliers should have little influence but a softer "
                "cut-off than Welsch is wanted (depth, flow and surface fitting; Barron's "
                "alpha = -2).",
    pitfalls="Non-convex and redescending: needs a reasonable initialization. The "
             "normalization is Barron's (curvature 1 / c^2 at 0, limit 2); Geman & McClure's "
             "original r^2 / (r^2 + sigma^2) is this loss / 2 with sigma = 2 c.",
    references=("Geman & McClure, Bayesian Image Analysis: An Application to Single Photon "
                "Emission Tomography, Proceedings of the American Statistical Association "
                "(Statistical Computing Section), 1985.", *_ROBUST_REFS),
    example_inputs=ex.regression, optimum=_perfect,
    reference=_closed_form_reference(lambda z: 2 * z / (z + 4)), learnable=("scale",),
)
def geman_mcclure(input: torch.Tensor, target: torch.Tensor, *,
                  scale: float | torch.Tensor = 1.0, weight: torch.Tensor | None = None,
                  reduction: Reduction = "mean") -> torch.Tensor:
    """Geman-McClure loss ``2 z / (z + 4)`` with ``z = ((input - target) / scale)^2``.

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.

    Example:
        >>> round(float(geman_mcclure(torch.tensor([2.0]), torch.tensor([0.0]))), 4)  # 2 * 4 / 8
        1.0
    """
    check_pair(input, target, weight, reduction)
    _check_scale_like("scale", scale, input.shape)
    w = (upcast(input) - upcast(target)) / _hyper(scale)
    # 2 z / (z + 4) = 2 (w / hypot(w, 2))^2: hypot never overflows, so huge residuals give
    # the limit 2 instead of inf / inf, and w = 0 keeps an exact zero gradient.
    ratio = w / torch.hypot(w, torch.full_like(w, 2.0))
    return reduce(2 * ratio.square(), reduction, weight=weight)


def _tukey_reference(input: torch.Tensor, target: torch.Tensor, *, c: float = 4.685,
                     reduction: str = "mean") -> torch.Tensor:
    r = input - target
    inside = c ** 2 / 6 * (1 - (1 - (r / c) ** 2) ** 3)
    return _reduced(torch.where(r.abs() <= c, inside, torch.full_like(r, c ** 2 / 6)), reduction)


@register_loss(
    family="regression", tasks=("regression", "robust_regression"), input_kind="values",
    target_kind="values", aliases=("tukey", "biweight", "bisquare"),
    properties=("smooth", "robust_to_outliers", "bounded_gradient", "nonnegative",
                "zero_at_optimum"),
    summary="Tukey's biweight (bisquare): quadratic near zero, constant c^2 / 6 beyond |r| = c, "
            "so outliers have exactly zero influence.",
    formula="r = x - y;  L = c^2 / 6 (1 - (1 - (r / c)^2)^3) for |r| <= c, else c^2 / 6; "
            "mean over elements.",
    gradient="dL/dx = r (1 - (r / c)^2)^2 for |r| <= c, else 0 (the biweight psi function): "
             "like L2 for small r, largest at |r| = c / sqrt(5), exactly zero beyond c.",
    when_to_use="Robust regression (M-estimation) with gross outliers that should be ignored "
                "completely. With residuals in units of a robust noise scale (e.g. divided by "
                "1.4826 MAD), c = 4.685 gives 95% efficiency under Gaussian noise. Also a "
                "redescending choice for label-noise-robust regression.",
    pitfalls="Non-convex and exactly flat beyond c: residuals larger than c get no gradient "
             "at all, so start from a good fit (L2, Huber) or c would silently drop most "
             "points; c is in the units of the residual, so standardize the residuals or set "
             "c from the noise scale. The loss saturates at c^2 / 6, so its mean understates "
             "how bad outliers are.",
    references=("Beaton & Tukey, The Fitting of Power Series, Meaning Polynomials, Illustrated "
                "on Band-Spectroscopic Data, Technometrics 16(2), 1974.",
                "Holland & Welsch, Robust Regression Using Iteratively Reweighted "
                "Least-Squares, Communications in Statistics - Theory and Methods 6(9), 1977 "
                "(c = 4.685 for 95% Gaussian efficiency)."),
    example_inputs=ex.regression, optimum=_perfect, reference=_tukey_reference,
    learnable=("c",),
)
def tukey_biweight(input: torch.Tensor, target: torch.Tensor, *, c: float | torch.Tensor = 4.685,
                   weight: torch.Tensor | None = None,
                   reduction: Reduction = "mean") -> torch.Tensor:
    """Tukey's biweight ``c^2/6 (1 - (1 - (r/c)^2)^3)`` for ``|r| <= c``, else ``c^2/6``.

    Shape:
        input: ``[*]``; target: ``[*]``; c: a float or a tensor broadcastable to ``[*]``;
        output: scalar, or ``[*]`` with ``reduction="none"``.

    Example:
        >>> x, y = torch.tensor([1.0, 10.0]), torch.tensor([0.0, 0.0])
        >>> round(float(tukey_biweight(x, y, c=2.0, reduction="sum")), 4)  # 2/3 (1 - 27/64) + 2/3
        1.0521
    """
    check_pair(input, target, weight, reduction)
    _check_scale_like("c", c, input.shape)
    c_t = _hyper(c)
    # Clamping (r / c)^2 at 1 writes both branches as one expression; beyond c the clamp
    # passes no gradient, and a NaN residual stays NaN (clamp propagates it).
    u = _scaled_square(input, target, c).clamp(max=1.0)
    return reduce(c_t * c_t / 6 * (1 - (1 - u) ** 3), reduction, weight=weight)
