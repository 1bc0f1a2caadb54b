"""Arithmetic helpers shared by the ground floor (reduce, distributed) and the losses; no
loss math."""

from __future__ import annotations

import math

import torch

__all__ = ["as_scalar", "expm1_minus_x", "log_ndtr", "p_log_ratio", "safe_divide", "safe_log",
           "safe_logaddexp", "xlog"]


def as_scalar(value: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A hyperparameter as a tensor of ``like``'s dtype on ``like``'s device.

    A Python number becomes a 0-dim tensor through ``torch.full``, a fill kernel on the
    device: ``torch.tensor(v, device=x.device)`` / ``torch.as_tensor`` would copy it from the
    host, which blocks until the GPU has caught up (a sync on every call). A tensor is
    converted with ``.to`` (differentiably: a learnable temperature keeps its gradient).
    """
    if isinstance(value, torch.Tensor):
        return value.to(dtype=like.dtype, device=like.device)
    return torch.full((), value, dtype=like.dtype, device=like.device)


def safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """``numerator / denominator`` that is 0 (with zero gradient) where the denominator is 0.

    The denominator is replaced before dividing, not the quotient after, because
    ``torch.where(d > 0, n / d, 0)`` still back-propagates ``0 * inf = NaN``.
    """
    positive = denominator > 0
    return torch.where(positive, numerator, 0.0) / torch.where(positive, denominator, 1.0)


def safe_log(p: torch.Tensor) -> torch.Tensor:
    """``log p`` (``-inf`` where ``p = 0``) whose gradient is finite where ``p = 0``.

    ``torch.log`` back-propagates ``grad / p``, which is ``0 / 0 = NaN`` at ``p = 0`` even
    when the term that used the log multiplied it by ``p = 0``: the log here sees 1 there.
    """
    zero = p == 0
    return torch.where(zero, float("-inf"), torch.log(torch.where(zero, 1.0, p)))


def safe_logaddexp(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``log(exp a + exp b)``, ``-inf`` with a zero gradient where both are ``-inf``.

    ``torch.logaddexp`` weighs its gradient by ``exp(b - a)``, which is ``exp(NaN)`` when
    both are ``-inf`` (a class masked out of two distributions): NaN for the whole row.
    """
    both = (a == float("-inf")) & (b == float("-inf"))
    mixed = torch.logaddexp(torch.where(both, 0.0, a), torch.where(both, 0.0, b))
    return torch.where(both, float("-inf"), mixed)


def xlog(p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """``p * log_q`` with ``0 * -inf = 0`` (a class masked to ``-inf``, with zero gradients
    there); elsewhere the plain product, so the gradient with respect to ``p`` is ``log_q``
    even where ``p = 0``, and a NaN propagates. ``torch.xlogy`` for a log already taken
    (``log_softmax``)."""
    return p * torch.where((p == 0) & torch.isneginf(log_q), 0.0, log_q)


def p_log_ratio(p: torch.Tensor, log_p: torch.Tensor, log_r: torch.Tensor) -> torch.Tensor:
    """``p (log p - log r)`` elementwise, the summand of ``KL(p || r)``, with ``0 log 0 = 0``.

    Where ``p = 0`` the term is 0 with finite gradients, whatever the logs (``-inf - -inf``
    is NaN: a class masked to ``-inf`` in both distributions); where ``p > 0 = r`` it is
    ``inf``, as the divergence is; a NaN in ``p`` propagates. ``log_p`` is ``log p`` as
    the caller has it (from ``log_softmax``, or :func:`safe_log` of probabilities).
    """
    return p * torch.where(p == 0, 0.0, log_p - log_r)


def log_ndtr(z: torch.Tensor) -> torch.Tensor:
    """``log Phi(z)``, the log of the standard normal CDF, with a gradient accurate far into
    the lower tail in float32.

    ``torch.special.log_ndtr``'s value is accurate there, but its backward computes the
    inverse Mills ratio ``phi / Phi`` as ``exp(log phi - log Phi)``, a difference of two
    numbers near ``-z^2 / 2``: in float32 it is 35% off at ``z = -3000`` and 6x at
    ``z = -1e4``. Below 0 this writes ``Phi(z) = erfcx(-z / sqrt 2) exp(-z^2 / 2) / 2``
    (erfcx, the scaled complementary error function, neither overflows nor underflows
    there), so the gradient is ``-z`` plus a small correction, each term accurate. Each
    branch sees a clamped argument, so the other's gradient is finite and ``where`` passes
    exact zeros.
    """
    below = torch.clamp(z, max=0.0)
    left = torch.log(0.5 * torch.special.erfcx(below * -math.sqrt(0.5))) - 0.5 * below * below
    right = torch.special.log_ndtr(torch.clamp(z, min=0.0))
    return torch.where(z < 0, left, right)


#: 1/k! for k = 14 down to 2: Horner's coefficients of (e^x - 1 - x) / x^2 for |x| <= 1/4,
#: where the series' first dropped term is below float64's rounding.
_EXPM1_MINUS_X = tuple(1.0 / math.factorial(k) for k in range(14, 1, -1))


def expm1_minus_x(x: torch.Tensor) -> torch.Tensor:
    """``e^x - 1 - x``, accurate to the last bits for small ``|x|`` (``expm1(x) - x`` loses
    ``-log2 |x|`` bits there: all of float32's at ``|x| = 1e-7``).

    Below ``|x| = 1/4`` it is the Taylor series ``x^2 (1/2! + x/3! + ...)``; above,
    ``expm1(x) - x``, which loses at most three bits. The derivative is ``expm1(x)``.
    """
    small = torch.clamp(x, -0.25, 0.25)
    series = torch.full_like(small, _EXPM1_MINUS_X[0])
    for c in _EXPM1_MINUS_X[1:]:
        series = series * small + c
    series = series * small * small
    return torch.where(x.abs() <= 0.25, series, torch.expm1(x) - x)
