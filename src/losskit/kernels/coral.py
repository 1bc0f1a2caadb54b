"""Native accelerator of CORAL: per-row loss and its gradient in one sweep.

The definition (:func:`losskit.functional.coral`) builds the ``[N, K-1]`` level mask,
two softplus tensors and their selection, and autograd keeps them for backward. The C
kernel (``losskit_coral_*`` in ``_native.c``) reads the logits once and writes each
row's loss and, when autograd needs it, ``dloss/dx`` in the same pass; backward returns
that buffer (rescaled when the upstream gradient is not the one expected).

The call, made by the definition through :func:`losskit.kernels.dispatch`, is
``(x [N, K-1], target [N] integer ranks, *, importance_weights [K-1] | None,
reduction)``; the result is the per-row loss ``[N]`` for ``reduction="none"`` and its
sum otherwise (the mean's denominator is the definition's, ``_core.reduce``).

Supports: contiguous float32/float64 CPU logits with at least :data:`MIN_NUMEL`
elements and at most :data:`MAX_THRESHOLDS` thresholds, importance weights of the same
dtype that need no gradient. ``create_graph=True`` differentiates the definition, so
higher derivatives are exact. It declines everything else, and the definition runs.
"""

from __future__ import annotations

from typing import Any

import torch

from .._core.registry import get_info
from . import _native
from ._dispatch import differentiate_definition, register

__all__ = ["MAX_THRESHOLDS", "MIN_NUMEL"]

#: Below this many logits the definition's per-call cost is lower.
MIN_NUMEL = 1 << 12
#: Thresholds (K - 1) per row the kernel handles (``CORAL_BLOCK`` in ``_native.c``).
MAX_THRESHOLDS = _native.CORAL_MAX_THRESHOLDS


def _expected_scale(n: int, dtype: torch.dtype, reduction: str) -> float:
    # The upstream gradient "mean" will send (1/N in the tensor's dtype, as autograd
    # computes it). Pre-scaling by it saves a pass in backward, which checks the
    # gradient it actually receives and rescales when it differs.
    if reduction != "mean" or n == 0:
        return 1.0
    return float(torch.ones((), dtype=dtype) / n)


class _Coral(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None,
                reduction: str) -> torch.Tensor:
        ctx.reduction = reduction
        ctx.save_for_backward(x, target, weights)
        if reduction == "none":
            ctx.grad = None
            rows = _native.coral_rows(x, target, weights, want_rows=True, want_grad=False)[1]
            assert rows is not None  # asked for with want_rows
            return rows
        ctx.scale = _expected_scale(x.shape[0], x.dtype, reduction)
        total, _, ctx.grad = _native.coral_rows(x, target, weights, want_rows=False,
                                                want_grad=True, grad_scale=ctx.scale)
        return torch.tensor(total, dtype=x.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, None, None,
                                                               None]:
        x, target, weights = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: differentiate the definition
            fn = get_info("coral").fn
            summed = "none" if ctx.reduction == "none" else "sum"
            (grad,) = differentiate_definition(
                "coral", lambda a: fn(a, target, importance_weights=weights, reduction=summed),
                (x,), grad_output)
            return grad, None, None, None
        if ctx.reduction == "none":
            grad = _native.coral_rows(x, target, weights, want_rows=False, want_grad=True,
                                      grad_scale=grad_output.to(x.dtype))[2]
            return grad, None, None, None
        grad, ctx.grad = ctx.grad, None
        if grad is None:  # a second backward (retain_graph=True): recompute
            grad = _native.coral_rows(x, target, weights, want_rows=False, want_grad=True,
                                      grad_scale=ctx.scale)[2]
        assert grad is not None  # asked for with want_grad
        g = float(grad_output)  # a CPU scalar (this path is CPU only): no device sync
        if g != ctx.scale:
            grad.mul_(g / ctx.scale)
        return grad, None, None, None


def _supports(x: torch.Tensor, target: torch.Tensor, *, importance_weights: torch.Tensor | None,
              reduction: str) -> str | None:
    if x.dim() != 2 or target.shape != (x.shape[0],):
        return "takes [N, K-1] logits and [N] ranks"
    if x.numel() < MIN_NUMEL:
        return f"fewer than {MIN_NUMEL} logits: the definition's per-call cost is lower"
    if x.shape[1] > MAX_THRESHOLDS:
        return f"more than {MAX_THRESHOLDS} thresholds"
    if not x.is_contiguous() or target.device != x.device:
        return "needs contiguous logits and ranks on the same device"
    if importance_weights is not None and (importance_weights.dtype != x.dtype
                                           or importance_weights.device != x.device):
        return "importance_weights must share the logits' dtype and device"
    if _native.library() is None:
        return f"native kernels unavailable ({_native.build_error()})"
    return None


@register("coral", "native", name="native.coral", devices=("cpu",),
          dtypes=(torch.float32, torch.float64), supports=_supports, double_backward=True,
          options=("reduction", "importance_weights"),
          description="one C sweep: per-row loss and, when autograd needs it, the gradient "
                      "(no level tensor, no [N, K-1] temporaries)")
def _coral(x: torch.Tensor, target: torch.Tensor, *, importance_weights: torch.Tensor | None,
           reduction: str) -> torch.Tensor:
    if torch.is_grad_enabled() and x.requires_grad:
        # torch.autograd.Function.apply is unannotated in torch's source
        out: torch.Tensor = _Coral.apply(  # type: ignore[no-untyped-call]
            x, target, importance_weights, reduction)
        return out
    total, rows, _ = _native.coral_rows(x, target, importance_weights,
                                        want_rows=reduction == "none", want_grad=False)
    return rows if rows is not None else torch.tensor(total, dtype=x.dtype)
