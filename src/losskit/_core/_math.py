"""Arithmetic helpers shared by the ground floor (reduce, distributed) and the losses; no
loss math."""

from __future__ import annotations

import torch

__all__ = ["as_scalar", "safe_divide"]


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
