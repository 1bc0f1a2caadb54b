"""One-sweep elementwise losses: value and gradient in a single pass over the data.

A pure-torch ``mse`` forward + backward reads ``input`` and ``target`` twice, writes a
difference, a square and the gradient, and re-reads them in backward. Here the native
kernel reads both once and, when a gradient is needed, writes ``dloss/dinput`` (already
scaled by the reduction) in the same sweep; backward returns that buffer (multiplied in
place by the upstream gradient when it is not 1). No other ``[*]`` temporary exists.

Used by :mod:`losskit.functional.regression` and ``classification`` when
:func:`usable` says so (contiguous float32/float64 CPU tensors of at least
:data:`MIN_NUMEL` elements, no ``weight``, native library available); otherwise the
functional module runs its plain definition, which ``tests/test_kernels.py`` checks
this path against.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from . import _native

__all__ = ["KINDS", "MIN_NUMEL", "elementwise_loss", "usable"]

#: Loss name -> kernel code in ``_native.c``.
KINDS = {"mse": 0, "mae": 1, "huber": 2, "smooth_l1": 3, "log_cosh": 4,
         "binary_cross_entropy": 5, "sigmoid_focal": 6}

#: Below this many elements the per-call cost of the plain path is lower.
MIN_NUMEL = 1 << 15

_FAST_DTYPES = (torch.float32, torch.float64)
# Losses that are a function of input - target, so d/dtarget = -d/dinput.
_DIFFERENCE = {0, 1, 2, 3, 4}


def usable(kind: str, input: torch.Tensor, target: torch.Tensor) -> bool:
    """Whether the native one-sweep path applies to this call (weightless calls only)."""
    return (
        input.numel() >= MIN_NUMEL
        and input.dtype in _FAST_DTYPES
        and target.dtype == input.dtype
        and input.device.type == "cpu"
        and target.device.type == "cpu"
        and input.shape == target.shape
        and input.is_contiguous()
        and target.is_contiguous()
        and not (target.requires_grad and KINDS[kind] not in _DIFFERENCE
                 and torch.is_grad_enabled())
        and not torch.compiler.is_compiling()  # ctypes calls cannot be traced
        and _native.library() is not None
    )


def _run(code: int, x: torch.Tensor, y: torch.Tensor, reduction: str, want_grad: bool,
         params: tuple[float, float, float]) -> tuple[torch.Tensor, torch.Tensor | None]:
    lib = _native.library()
    n = x.numel()
    fn = lib.losskit_elementwise_f32 if x.dtype == torch.float32 else lib.losskit_elementwise_f64
    per_element = torch.empty_like(x) if reduction == "none" else None
    grad = torch.empty_like(x) if want_grad else None
    scale = 1.0 / n if reduction == "mean" else 1.0
    total = fn(code, n, x.data_ptr(), y.data_ptr(), _native.ptr(per_element), _native.ptr(grad),
               scale, *params, _native.threads(n))
    if per_element is not None:
        return per_element, grad
    value = total / n if reduction == "mean" else total
    return torch.tensor(value, dtype=x.dtype), grad


class _ElementwiseLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, target, code, reduction, params):
        out, grad = _run(code, input, target, reduction, True, params)
        ctx.code, ctx.reduction, ctx.params = code, reduction, params
        ctx.grad = grad
        ctx.save_for_backward(input, target)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        grad, ctx.grad = ctx.grad, None
        if grad is None:  # a second backward (retain_graph=True): the buffer was handed out
            input, target = ctx.saved_tensors
            _, grad = _run(ctx.code, input, target, ctx.reduction, True, ctx.params)
        if ctx.reduction == "none" or float(grad_output) != 1.0:
            grad.mul_(grad_output)
        grad_target = -grad if ctx.needs_input_grad[1] else None
        return (grad if ctx.needs_input_grad[0] else None), grad_target, None, None, None


def elementwise_loss(kind: str, input: torch.Tensor, target: torch.Tensor, reduction: str,
                     p1: float = 0.0, p2: float = 0.0, p3: float = 0.0) -> torch.Tensor:
    """The loss ``kind`` (a key of :data:`KINDS`) in one native sweep; see :func:`usable`."""
    code, params = KINDS[kind], (float(p1), float(p2), float(p3))
    if torch.is_grad_enabled() and (input.requires_grad or target.requires_grad):
        return _ElementwiseLoss.apply(input, target, code, reduction, params)
    return _run(code, input, target, reduction, False, params)[0]
