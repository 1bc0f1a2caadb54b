"""Shared argument handling of the structured-target losses (survival, ranking).

* :func:`binary_indicator` turns an event / label tensor given as bool, integer or float
  0 / 1 into a bool tensor, with a value check that reads data only where
  :func:`~losskit._core.validate.readable` allows it.
* :func:`nan_of` is 0 or NaN: added to a loss, it makes a NaN in an argument that only
  selects (an event flag, a time that only orders, a score outside every risk set) show
  up in the result, as the library promises, where ``torch.where`` or a comparison would
  otherwise hide it. It is a constant, so it adds nothing to any gradient.
"""

from __future__ import annotations

import torch

from .._core.validate import LossInputError, check_class_indices, check_in_range, readable

__all__ = ["binary_indicator", "nan_of"]


def binary_indicator(name: str, t: torch.Tensor, shape: torch.Size, what: str) -> torch.Tensor:
    """``t`` (bool, integer or float 0 / 1, of ``shape``) as a bool tensor."""
    if not isinstance(t, torch.Tensor):
        raise LossInputError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.shape != shape:
        raise LossInputError(f"{name} must have shape {tuple(shape)}, got {tuple(t.shape)}")
    if t.dtype == torch.bool:
        return t
    if t.is_floating_point():
        check_in_range(name, t, 0.0, 1.0, f"{what} 0 / 1; values")
        if t.numel() and readable(t) and bool(((t != 0) & (t != 1)).any()):
            raise LossInputError(f"{name} must hold {what} 0 and 1, found a value strictly "
                                 "between them")
        return t > 0.5
    if t.is_complex():
        raise LossInputError(f"{name} must hold {what} 0 / 1, got dtype {t.dtype}")
    try:
        check_class_indices(name, t, 2)
    except LossInputError:  # its wording speaks of classes of an input; these are flags
        bad = t[(t != 0) & (t != 1)]
        raise LossInputError(f"{name} must hold {what} 0 and 1, found "
                             f"{int(bad[0]) if bad.numel() else 'another value'}") from None
    return t == 1


def nan_of(*tensors: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """A 0-dim tensor (``like``'s dtype and device): NaN if a floating tensor holds a NaN."""
    flag = torch.zeros((), dtype=torch.bool, device=like.device)
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.is_floating_point():
            flag = flag | t.isnan().any()
    return torch.where(flag, torch.nan, 0.0).to(like.dtype)
