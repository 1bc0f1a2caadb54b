"""The one reduction helper every loss ends with, and the float32 accumulation rule.

Conventions (DESIGN.md section 2):

* ``weight`` rescales the unreduced loss (broadcast against it). As in PyTorch,
  ``"mean"`` then divides the weighted sum by the number of elements that count,
  so a weight of 2 makes an element count twice relative to the batch.
* ``class_weight`` (already gathered per element, ``class_weight[target]``) gives a
  weighted mean as in :func:`torch.nn.functional.cross_entropy`: the weighted sum is
  divided by the sum of the class weights of the elements that count.
* ``mask`` (bool, broadcast) marks the elements that count; the others contribute
  exactly 0 to the value and to the gradient, even when their raw loss is NaN.
* An empty selection (no element counts, or an empty batch) gives ``0.0``, still
  attached to the graph so ``backward()`` yields zero gradients. PyTorch gives NaN.
"""

from __future__ import annotations

import math
from typing import Any, overload

import torch

from .. import distributed as _dist
from ._math import safe_divide
from .validate import check_reduction

__all__ = ["accumulation_dtype", "fused_mean_ok", "mean_denominator", "reduce", "reduce_summed",
           "safe_divide", "upcast"]

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """float16 and bfloat16 are accumulated in float32; other dtypes as they are."""
    return torch.float32 if dtype in _LOW_PRECISION else dtype


@overload
def upcast(t: torch.Tensor) -> torch.Tensor: ...
@overload
def upcast(t: None) -> None: ...
def upcast(t: torch.Tensor | None) -> torch.Tensor | None:
    """Cast a low-precision floating tensor to float32 (differentiably); others untouched."""
    if t is None or not t.is_floating_point() or t.dtype not in _LOW_PRECISION:
        return t
    return t.float()


def reduce(
    loss: torch.Tensor,
    reduction: str = "mean",
    *,
    weight: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    class_weight: torch.Tensor | None = None,
    distributed: bool = False,
    group: Any = None,
    normalizer: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """Apply weights and mask to an unreduced loss and reduce it.

    Args:
        loss: unreduced loss, any shape ``[*]``.
        reduction: ``"mean" | "sum" | "none"``.
        weight: rescaling weights broadcastable to ``loss``.
        mask: bool tensor broadcastable to ``loss``; ``False`` elements do not count.
        class_weight: per-element class weights broadcastable to ``loss``; with it,
            ``"mean"`` is ``sum(w * loss) / sum(w)`` over counted elements.
        distributed: reduce over every rank of ``group`` (see :mod:`losskit.distributed`):
            the value is the global mean or sum on every rank and DDP's gradient
            averaging yields the single-process gradient. A no-op without a process group.
        normalizer: what ``"mean"`` divides the sum by instead of the local count (e.g.
            the number of tokens in a whole accumulated batch, so gradient accumulation
            gives the gradient of one big batch); 0 gives 0.

    Returns:
        ``loss`` with masked elements zeroed for ``"none"``, else a 0-dim tensor.
    """
    check_reduction(reduction)
    if class_weight is not None:
        loss = loss * class_weight
    if weight is not None:
        loss = loss * weight
    if mask is not None:
        loss = torch.where(mask, loss, 0.0)
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "mean" and normalizer is not None:
        return _by_normalizer(total, normalizer, distributed, group)
    if distributed:
        return _reduce_across_ranks(total, loss, reduction, mask, class_weight, group)
    return _finish(total, reduction, loss.shape, loss.device, mask, class_weight)


def reduce_summed(value: torch.Tensor, reduction: str, *, shape: torch.Size | tuple[int, ...],
                  mask: torch.Tensor | None = None, class_weight: torch.Tensor | None = None,
                  distributed: bool = False, group: Any = None,
                  normalizer: float | torch.Tensor | None = None) -> torch.Tensor:
    """Finish the reduction of a loss whose terms an accelerator has already summed.

    Accelerators (:mod:`losskit.kernels`) return, for ``reduction="none"``, the unreduced
    loss exactly as :func:`reduce` would (class weights applied, masked elements 0) and
    otherwise the sum of those elements. The mean's denominator and the empty-selection
    rule are applied here, with the same ``mask`` / ``class_weight`` (per element,
    broadcast to ``shape``) the definition would pass to :func:`reduce`, so a fast path
    and its definition cannot disagree about them.
    """
    check_reduction(reduction)
    if reduction == "none":
        return value
    if reduction == "mean" and normalizer is not None:
        return _by_normalizer(value, normalizer, distributed, group)
    if distributed:
        if reduction == "sum":
            return _dist.global_sum(value, group)
        denominator = _denominator(torch.Size(shape), value.device, mask, class_weight)
        return _dist.global_mean(value, denominator.to(value.dtype), group)
    return _finish(value, reduction, torch.Size(shape), value.device, mask, class_weight)


def _by_normalizer(total: torch.Tensor, normalizer: float | torch.Tensor, distributed: bool,
                   group: Any) -> torch.Tensor:
    """The sum divided by a given count (a number or a tensor); the distributed form sums
    the ranks' totals and divides by the same global count."""
    if distributed:
        total = _dist.global_sum(total, group)
    if isinstance(normalizer, torch.Tensor):
        return safe_divide(total, normalizer.to(device=total.device, dtype=total.dtype))
    return total / normalizer if normalizer else total * 0.0


def fused_mean_ok(reduction: str, shape: torch.Size | tuple[int, ...], *,
                  mask: torch.Tensor | None = None, class_weight: torch.Tensor | None = None,
                  normalizer: float | torch.Tensor | None = None,
                  distributed: bool = False) -> bool:
    """Whether ``"mean"`` is, by this module's rule, the sum divided by the element count
    of a non-empty ``shape`` (no mask, class weights, normalizer or ranks): the one case
    where a fused builtin's own mean (torch's ``reduction="mean"``) equals :func:`reduce`'s,
    so the accelerator may divide inside its kernel (see ``kernels.dispatch_mean``).
    Decided from shapes and arguments only: no tensor data is read."""
    if reduction != "mean" or mask is not None or class_weight is not None:
        return False
    if normalizer is not None or distributed:
        return False
    return math.prod(shape) > 0


def _finish(total: torch.Tensor, reduction: str, shape: torch.Size, device: torch.device,
            mask: torch.Tensor | None, class_weight: torch.Tensor | None) -> torch.Tensor:
    if reduction == "sum":
        return total
    if class_weight is None and mask is None:
        count = shape.numel()
        # An empty selection is 0, still attached to the graph (its gradient is 0).
        return total * 0.0 if count == 0 else total / count
    if class_weight is None and mask is not None:
        # A count: the total over an empty selection is exactly 0 (elements that do not
        # count contribute 0), so dividing by max(count, 1) gives 0 there with a finite
        # gradient, in two ops instead of safe_divide's four.
        return total / _denominator(shape, device, mask, None).clamp(min=1)
    return safe_divide(total, _denominator(shape, device, mask, class_weight).to(total.dtype))


def mean_denominator(shape: torch.Size | tuple[int, ...], device: torch.device,
                     mask: torch.Tensor | None = None,
                     class_weight: torch.Tensor | None = None) -> torch.Tensor:
    """What ``"mean"`` divides by: the class-weight sum or the count of counted elements
    (``mask`` and ``class_weight`` per element, broadcast to ``shape``)."""
    return _denominator(torch.Size(shape), device, mask, class_weight)


def _denominator(shape: torch.Size, device: torch.device, mask: torch.Tensor | None,
                 class_weight: torch.Tensor | None) -> torch.Tensor:
    if class_weight is not None:
        w = class_weight if mask is None else torch.where(mask, class_weight, 0.0)
        return w.expand(shape).sum() if w.shape != shape else w.sum()
    if mask is not None:
        return mask.expand(shape).sum() if mask.shape != shape else mask.sum()
    # A fill on the device: torch.tensor(count, device=...) would copy from the host, which
    # is a synchronizing transfer on CUDA.
    return torch.full((), shape.numel(), device=device)


def _reduce_across_ranks(total: torch.Tensor, loss: torch.Tensor, reduction: str,
                         mask: torch.Tensor | None, class_weight: torch.Tensor | None,
                         group: Any) -> torch.Tensor:
    if reduction == "sum":
        return _dist.global_sum(total, group)
    denominator = _denominator(loss.shape, loss.device, mask, class_weight)
    return _dist.global_mean(total, denominator.to(total.dtype), group)
