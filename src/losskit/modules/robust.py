"""Barron's adaptive robust loss: alpha and scale learned as the negative log-likelihood.

Minimizing :func:`losskit.functional.general_robust` over its own ``alpha`` and ``scale``
is degenerate: ``rho`` falls as alpha falls and as the scale grows. Barron (CVPR 2019,
section 3) makes them learnable by minimizing the negative log-likelihood of the
distribution ``p(x | alpha, c) = exp(-rho(x, alpha, c)) / (c Z(alpha))`` instead:

    NLL = rho(x, alpha, c) + log c + log Z(alpha),   Z(alpha) = int exp(-rho(x, alpha, 1)) dx.

``log c`` stops the scale from growing without limit and ``log Z`` (which grows as the
tails get heavier) stops alpha from sliding to its lower bound. Z is finite only for
``alpha >= 0``; :class:`GeneralRobust` keeps alpha inside ``alpha_range`` (default
``(0.001, 1.999)``, Barron's) with an affine sigmoid of a free parameter, and the scale
above ``scale_lo`` with a shifted softplus, as his reference code does.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import torch

from .._core.reduce import reduce
from .._core.types import Reduction
from .._core.validate import LossInputError, check_reduction
from ..functional.robust import _barron, general_robust

__all__ = ["GeneralRobust", "log_partition"]

# Gauss-Legendre panels in s, with x = sinh(s): the substitution turns the Cauchy-like
# 1 / x^2 tail of small alpha into exp(-s) and the Gaussian cut-off of alpha = 2 into a
# smooth bump near s ~ 1, both analytic, so 3 x 32 nodes reach ~1e-12 in log Z for
# alpha in [0, 8] (against adaptive quadrature and the closed forms at 0, 1 and 2).
_PANELS = (0.0, 2.0, 6.0, 40.0)
_NODES = 32


@functools.lru_cache(maxsize=1)
def _quadrature() -> tuple[np.ndarray, np.ndarray]:
    t, w = np.polynomial.legendre.leggauss(_NODES)
    s, log_w = [], []
    for lo, hi in itertools.pairwise(_PANELS):
        s.append((t + 1) * (hi - lo) / 2 + lo)
        log_w.append(np.log(w * (hi - lo) / 2))
    s_all = np.concatenate(s)
    # log of the weight times the Jacobian dx/ds = cosh(s)
    return s_all, np.concatenate(log_w) + np.log(np.cosh(s_all))


def log_partition(alpha: torch.Tensor) -> torch.Tensor:
    """``log Z(alpha)``, the log-normalizer of Barron's distribution with scale 1.

    ``Z(alpha) = int exp(-rho(x, alpha, 1)) dx`` over the real line, by fixed Gaussian
    quadrature in float64 (differentiable in alpha; the result has alpha's dtype).
    Closed forms: ``Z(0) = pi sqrt(2)`` (Cauchy), ``Z(1) = 2 e K_1(1)``, ``Z(2) = sqrt(2 pi)``
    (Gaussian). Defined for ``alpha >= 0`` only (for ``alpha < 0`` the integral diverges).

    Shape:
        alpha: ``[*]``; output: ``[*]``.
    """
    if not isinstance(alpha, torch.Tensor) or not alpha.is_floating_point():
        raise LossInputError(f"alpha must be a floating-point tensor, got {alpha!r}")
    s_np, log_w_np = _quadrature()
    a = alpha.double().unsqueeze(-1)
    s = torch.as_tensor(s_np, dtype=torch.float64, device=alpha.device)
    log_w = torch.as_tensor(log_w_np, dtype=torch.float64, device=alpha.device)
    log_integrand = -_barron(torch.sinh(s), a) + log_w
    # The integrand is even: twice the integral over x >= 0.
    return (math.log(2.0) + torch.logsumexp(log_integrand, dim=-1)).to(alpha.dtype)


def _logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


class GeneralRobust(torch.nn.Module):
    """Barron's adaptive robust loss with learnable shape ``alpha`` and ``scale``.

    ``forward(input, target, weight=None)`` returns the negative log-likelihood
    ``rho(input - target, alpha, scale) + log(scale) + log Z(alpha)`` reduced by
    ``reduction``; its parameters are ``latent_alpha`` and ``latent_scale`` (absent when
    not learnable), so an optimizer given ``model.parameters()`` and ``loss.parameters()``
    fits the shape of the residual distribution together with the model.

    Args:
        alpha_init: starting alpha, inside ``alpha_range`` when learnable, ``>= 0`` when
            fixed.
        scale_init: starting scale, ``> scale_lo`` when learnable, ``> 0`` when fixed.
        learnable_alpha, learnable_scale: make the parameter trainable (else a buffer).
        alpha_range: ``(lo, hi)`` with ``0 <= lo < hi``; alpha = lo + (hi - lo) sigmoid(latent).
        scale_lo: the scale never goes below it (the NLL is unbounded as the scale goes to 0).
        num_dims: ``None`` for one alpha and one scale, or ``D`` for one per entry of the
            last axis of the residual (Barron's per-dimension parameters).
        reduction: ``"mean" | "sum" | "none"``.

    The values are not 0 at a perfect prediction (the log terms remain) and may be
    negative: it is a negative log-likelihood, compare it between runs, not to 0.

    Shape:
        input: ``[*, D]`` (any shape when ``num_dims`` is None); target: same; weight:
        broadcastable; output: scalar, or ``[*, D]`` with ``reduction="none"``.

    Example:
        >>> loss = GeneralRobust(alpha_init=1.0, scale_init=1.0)
        >>> round(float(loss(torch.zeros(4), torch.zeros(4))), 4)  # log Z(1) = log(2e K1(1))
        1.1855
    """

    # Buffers registered when alpha / scale are not learnable (read through nn.Module).
    fixed_alpha: torch.Tensor
    fixed_scale: torch.Tensor

    def __init__(self, *, alpha_init: float = 1.0, scale_init: float = 1.0,
                 learnable_alpha: bool = True, learnable_scale: bool = True,
                 alpha_range: tuple[float, float] = (0.001, 1.999), scale_lo: float = 1e-5,
                 num_dims: int | None = None, reduction: Reduction = "mean") -> None:
        super().__init__()
        check_reduction(reduction)
        lo, hi = (float(v) for v in alpha_range)
        if not 0.0 <= lo < hi:
            raise LossInputError(f"alpha_range must satisfy 0 <= lo < hi (the likelihood "
                                 f"needs alpha >= 0), got {alpha_range!r}")
        if learnable_alpha and not lo < alpha_init < hi:
            raise LossInputError(f"alpha_init must lie inside alpha_range {alpha_range!r} "
                                 f"when alpha is learnable, got {alpha_init!r}")
        if not learnable_alpha and not (alpha_init >= 0 and math.isfinite(alpha_init)):
            raise LossInputError(f"alpha_init must be finite and >= 0 (the likelihood needs "
                                 f"alpha >= 0), got {alpha_init!r}")
        if not scale_lo > 0:
            raise LossInputError(f"scale_lo must be > 0, got {scale_lo!r}")
        if learnable_scale and not scale_init > scale_lo:
            raise LossInputError(f"scale_init must exceed scale_lo = {scale_lo!r} when the "
                                 f"scale is learnable, got {scale_init!r}")
        if not scale_init > 0:
            raise LossInputError(f"scale_init must be > 0, got {scale_init!r}")
        if num_dims is not None and (not isinstance(num_dims, int) or num_dims < 1):
            raise LossInputError(f"num_dims must be None or a positive int, got {num_dims!r}")
        shape = () if num_dims is None else (num_dims,)
        self.alpha_range = (lo, hi)
        self.scale_lo = float(scale_lo)
        self.scale_init = float(scale_init)
        self.num_dims = num_dims
        self.reduction = reduction
        if learnable_alpha:
            start = _logit((alpha_init - lo) / (hi - lo))
            self.latent_alpha = torch.nn.Parameter(torch.full(shape, start))
        else:
            self.register_buffer("fixed_alpha", torch.full(shape, float(alpha_init)))
        if learnable_scale:
            # softplus(latent + log(e - 1)) is 1 at latent = 0, so the latent starts at 0.
            self.latent_scale = torch.nn.Parameter(torch.zeros(shape))
        else:
            self.register_buffer("fixed_scale", torch.full(shape, float(scale_init)))

    @property
    def alpha(self) -> torch.Tensor:
        """The current alpha (differentiable in ``latent_alpha``)."""
        if "latent_alpha" in self._parameters:
            lo, hi = self.alpha_range
            return lo + (hi - lo) * torch.sigmoid(self.latent_alpha)
        return self.fixed_alpha

    @property
    def scale(self) -> torch.Tensor:
        """The current scale (differentiable in ``latent_scale``)."""
        if "latent_scale" in self._parameters:
            shift = math.log(math.e - 1.0)
            return self.scale_lo + (self.scale_init - self.scale_lo) * torch.nn.functional.softplus(
                self.latent_scale + shift)
        return self.fixed_scale

    def forward(self, input: torch.Tensor, target: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_dims is not None and (input.dim() == 0 or input.shape[-1] != self.num_dims):
            raise LossInputError(f"input's last axis must have num_dims = {self.num_dims} "
                                 f"entries, got shape {tuple(input.shape)}")
        alpha, scale = self.alpha, self.scale
        rho = general_robust(input, target, alpha=alpha, scale=scale, reduction="none")
        nll = rho + torch.log(scale) + log_partition(alpha)
        return reduce(nll, self.reduction, weight=weight)

    def extra_repr(self) -> str:
        learn = [n for n in ("alpha", "scale") if f"latent_{n}" in self._parameters]
        return (f"alpha_range={self.alpha_range}, scale_lo={self.scale_lo}, "
                f"num_dims={self.num_dims}, learnable={learn}, reduction={self.reduction!r}")
