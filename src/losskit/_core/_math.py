"""Arithmetic helpers shared by the ground floor (reduce, distributed); no loss math."""

from __future__ import annotations

import torch

__all__ = ["safe_divide"]


def safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """``numerator / denominator`` that is 0 (with zero gradient) where the denominator is 0.

    The denominator is replaced before dividing, not the quotient after, because
    ``torch.where(d > 0, n / d, 0)`` still back-propagates ``0 * inf = NaN``.
    """
    positive = denominator > 0
    return torch.where(positive, numerator, 0.0) / torch.where(positive, denominator, 1.0)
