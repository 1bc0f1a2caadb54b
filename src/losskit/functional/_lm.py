"""Shared mechanics of the language-model losses (alignment, RL fine-tuning, distillation).

No loss math: checks for per-sequence and per-token log-probabilities, the ``normalizer``
option (a mean over a count the caller knows, for gradient accumulation), and the three
token aggregations of policy-gradient fine-tuning. Everything reduces through
:func:`losskit._core.reduce.reduce`.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch

from .._core.reduce import reduce, safe_divide
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_floating,
    check_in_range,
    readable,
)

__all__ = ["AGGREGATIONS", "Aggregation", "aggregate", "check_logps", "check_mask",
           "check_normalizer", "finish", "log_ratio_cap"]

#: How a per-token loss [B, T] becomes one number (see :func:`aggregate`): the mean over
#: all tokens of the batch, per sequence, or over a constant number of tokens.
Aggregation = Literal["token", "sequence", "constant"]
AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)

#: Largest log-ratio fed to ``exp`` (ratio <= e^20 ~ 4.9e8), as verl does: a token whose
#: probability rose that far cannot overflow float32 to inf; below the cap the formula is
#: exact, above it the term is constant (zero gradient).
log_ratio_cap = 20.0


def check_logps(name: str, t: torch.Tensor, *, nonpositive: bool = False) -> None:
    """A floating tensor of log-probabilities; ``nonpositive`` also checks ``<= 0`` (CPU)."""
    check_floating(name, t)
    if nonpositive:
        check_in_range(name, t.detach(), None, 0.0, what="log-probabilities")


def check_mask(mask: torch.Tensor | None, shape: torch.Size) -> None:
    if mask is None:
        return
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise LossInputError(f"mask must be a bool tensor (True = the token counts), got {got}")
    check_broadcastable("mask", mask, shape)


def zero_masked(mask: torch.Tensor | None, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The tensors with 0 at the tokens ``mask`` leaves out, so a NaN or ``-inf`` of padding
    reaches neither the value nor the gradient: the reduction masks the loss, this masks
    what the loss is computed from (``0 * NaN`` would otherwise flow back through it)."""
    if mask is None:
        return tensors
    return tuple(torch.where(mask, t, 0.0) for t in tensors)


def check_normalizer(normalizer: float | int | torch.Tensor | None) -> None:
    """``normalizer``: a count >= 0, a Python number or a one-element tensor (read only where
    value checks may read). It replaces the denominator of ``"mean"``; "sum" and "none"
    ignore it, as :func:`losskit._core.reduce.reduce` does."""
    if normalizer is None:
        return
    if isinstance(normalizer, torch.Tensor):
        if normalizer.numel() != 1 or normalizer.is_complex() or normalizer.dtype == torch.bool:
            raise LossInputError(
                f"normalizer must be a number or a one-element real tensor, got a tensor of "
                f"shape {tuple(normalizer.shape)} and dtype {normalizer.dtype}")
        if readable(normalizer) and not float(normalizer.detach().reshape(())) >= 0:
            raise LossInputError(f"normalizer must be a count >= 0, got "
                                 f"{float(normalizer.detach().reshape(()))}")
        return
    if isinstance(normalizer, bool) or not isinstance(normalizer, (int, float)):
        raise LossInputError(f"normalizer must be a number or a one-element tensor, got "
                             f"{type(normalizer).__name__}")
    if not normalizer >= 0:
        raise LossInputError(f"normalizer must be a count >= 0, got {normalizer!r}")


def finish(loss: torch.Tensor, reduction: str, *, weight: torch.Tensor | None = None,
           mask: torch.Tensor | None = None,
           normalizer: float | int | torch.Tensor | None = None) -> torch.Tensor:
    """:func:`reduce`; a (detached) ``normalizer`` replaces the count of "mean"."""
    if isinstance(normalizer, torch.Tensor):
        normalizer = normalizer.detach().reshape(())
    return reduce(loss, reduction, weight=weight, mask=mask, normalizer=normalizer)


def aggregate(per_token: torch.Tensor, mask: torch.Tensor | None, aggregation: str,
              reduction: str, *, weight: torch.Tensor | None = None,
              normalizer: float | int | torch.Tensor | None = None) -> torch.Tensor:
    """Reduce a per-token loss ``[B, T]`` the way ``aggregation`` says.

    * ``"token"``: sum over counted tokens / their number (every token weighs the same;
      DAPO). ``"none"`` gives ``[B, T]``.
    * ``"sequence"``: each sequence's token mean, then the mean over the sequences with at
      least one counted token (every sequence weighs the same; the GRPO paper). ``"none"``
      gives the per-sequence means ``[B]``.
    * ``"constant"``: sum over counted tokens / (B T), a constant that does not depend on
      the lengths (Dr. GRPO). ``"none"`` gives ``[B, T]``.

    ``weight`` (broadcast to ``[B, T]``) rescales tokens before any of these; ``normalizer``
    replaces the denominator of ``"mean"`` (tokens, sequences or B T) by a given count.
    """
    if aggregation not in AGGREGATIONS:
        raise LossInputError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    if aggregation == "token":
        return finish(per_token, reduction, weight=weight, mask=mask, normalizer=normalizer)
    counted = reduce(per_token, "none", weight=weight, mask=mask)  # masked tokens are 0
    if aggregation == "constant":
        return finish(counted, reduction, normalizer=normalizer)
    tokens = (torch.full(per_token.shape[:-1], per_token.shape[-1], device=per_token.device,
                         dtype=per_token.dtype) if mask is None
              else mask.expand(per_token.shape).sum(-1).to(per_token.dtype))
    per_sequence = safe_divide(counted.sum(-1), tokens)
    return finish(per_sequence, reduction, mask=tokens > 0, normalizer=normalizer)
