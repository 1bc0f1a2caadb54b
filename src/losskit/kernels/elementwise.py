"""Native one-sweep accelerators of the elementwise losses: value and gradient in one pass.

A plain-torch ``mse`` forward + backward reads ``input`` and ``target`` twice, writes a
difference, a square and the gradient, and re-reads them in backward. Here the native
kernel (``_native.c``) reads both once and, when a gradient is needed, writes
``dloss/dinput`` in the same sweep; backward returns that buffer. No other ``[*]``
temporary exists.

Registered for mse, mae, huber, smooth_l1, log_cosh, binary_cross_entropy and
sigmoid_focal (backend ``"native"``). The call, made by each definition through
:func:`losskit.kernels.dispatch`, is ``(x, y, *, reduction, **hyperparameters)`` with
``x`` and ``y`` float tensors of one shape and dtype (already upcast, label smoothing
already applied to ``y``); the result is the unreduced loss for ``reduction="none"`` and
its sum otherwise (the definition divides; see ``_core.reduce.reduce_summed``).

Supports: contiguous float32/float64 CPU tensors of at least :data:`MIN_NUMEL`
elements, no ``weight``, numeric hyperparameters (a tensor ``pos_weight`` only as a
0-dim tensor that needs no gradient). ``create_graph=True`` differentiates the
definition (:func:`losskit.kernels.differentiate_definition`), so higher derivatives are
exact. It declines everything else, and the definition runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from .._core.registry import get_info
from . import _native
from ._dispatch import differentiate_definition, register

__all__ = ["KINDS", "MIN_NUMEL"]

#: Loss name -> kernel code in ``_native.c``.
KINDS = {"mse": 0, "mae": 1, "huber": 2, "smooth_l1": 3, "log_cosh": 4,
         "binary_cross_entropy": 5, "sigmoid_focal": 6}

#: Below this many elements the per-call cost of the definition (or torch's builtin) is lower.
MIN_NUMEL = 1 << 15

_DTYPES = (torch.float32, torch.float64)
# Losses that are a function of input - target, so d/dtarget = -d/dinput.
_DIFFERENCE = frozenset({"mse", "mae", "huber", "smooth_l1", "log_cosh"})
# The keyword hyperparameters of each loss, in the kernel's parameter order (p1, p2, p3).
_PARAMS = {"mse": (), "mae": (), "huber": ("delta",), "smooth_l1": ("beta",), "log_cosh": (),
           "binary_cross_entropy": ("pos_weight",), "sigmoid_focal": ("gamma", "alpha")}


#: The hyperparameters a definition passes to its accelerator (numbers, tensors or None).
_Hyper = Mapping[str, float | torch.Tensor | None]


def _kernel_params(kind: str, hyper: _Hyper) -> tuple[float, float, float]:
    values: list[float] = []
    for key in _PARAMS[kind]:
        v = hyper.get(key)
        if kind == "binary_cross_entropy" and v is None:
            v = 1.0
        if kind == "sigmoid_focal" and key == "alpha" and v is None:
            v = -1.0  # the kernel's "no alpha weighting"
        assert v is not None, f"{kind} passes {key}"
        values.append(float(v))  # numbers only: supports() declined tensors that need it
    padded = values + [0.0] * (3 - len(values))
    return padded[0], padded[1], padded[2]


def _supports(kind: str) -> Callable[..., str | None]:
    def supports(x: torch.Tensor, y: torch.Tensor, *, reduction: str,
                 **hyper: float | torch.Tensor | None) -> str | None:
        if x.numel() < MIN_NUMEL:
            return f"fewer than {MIN_NUMEL} elements: the definition's per-call cost is lower"
        if y.dtype != x.dtype or y.shape != x.shape or y.device != x.device:
            return "input and target must share shape, dtype and device"
        if not (x.is_contiguous() and y.is_contiguous()):
            return "needs contiguous tensors"
        if y.requires_grad and kind not in _DIFFERENCE and torch.is_grad_enabled():
            return "does not differentiate the target of this loss"
        for key in _PARAMS[kind]:
            v = hyper.get(key)
            if isinstance(v, torch.Tensor) and (v.dim() or v.requires_grad):
                return f"{key} must be a number (or a 0-dim tensor without grad)"
        beta = hyper.get("beta", 1.0)
        if kind == "smooth_l1" and not (beta is not None and beta > 0):
            return "beta = 0 is L1 (the definition handles it)"
        if _native.library() is None:
            return f"native kernels unavailable ({_native.build_error()})"
        return None
    return supports


def _run(code: int, x: torch.Tensor, y: torch.Tensor, want_none: bool, grad_scale: float | None,
         params: tuple[float, float, float]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One sweep: ``(loss, grad)``; loss is ``[*]`` if ``want_none`` else the 0-dim sum,
    grad is ``grad_scale * dloss/dx`` or ``None`` when ``grad_scale`` is None."""
    lib = _native.loaded_library()
    n = x.numel()
    fn = lib.losskit_elementwise_f32 if x.dtype == torch.float32 else lib.losskit_elementwise_f64
    per_element = torch.empty_like(x) if want_none else None
    grad = torch.empty_like(x) if grad_scale is not None else None
    total: float = fn(code, n, x.data_ptr(), y.data_ptr(), _native.ptr(per_element),
                      _native.ptr(grad), 1.0 if grad_scale is None else grad_scale, *params,
                      _native.threads(n))
    if per_element is not None:
        return per_element, grad
    return torch.tensor(total, dtype=x.dtype), grad


def _expected_scale(n: int, dtype: torch.dtype) -> float:
    # The upstream gradient "mean" will send (1/n in the tensor's dtype, exactly as
    # autograd computes it). Pre-scaling by it saves a pass in backward; backward checks
    # the gradient it actually receives and rescales when it differs.
    return float(torch.ones((), dtype=dtype) / n) if n else 1.0


def _code(kind: str, params: tuple[float, float, float]) -> int:
    # sigmoid focal with the default gamma = 2 has its own kernel (q^2 without pow)
    return 7 if kind == "sigmoid_focal" and params[0] == 2.0 else KINDS[kind]


class _Elementwise(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, input: torch.Tensor, target: torch.Tensor, kind: str, reduction: str,
                params: tuple[float, float, float], hyper: _Hyper) -> torch.Tensor:
        code = _code(kind, params)
        if reduction == "none":
            out, _ = _run(code, input, target, True, None, params)
            ctx.grad, ctx.scale = None, None
        else:
            scale = _expected_scale(input.numel(), input.dtype) if reduction == "mean" else 1.0
            out, ctx.grad = _run(code, input, target, False, scale, params)
            ctx.scale = scale
        ctx.kind, ctx.reduction, ctx.params, ctx.hyper = kind, reduction, params, hyper
        ctx.save_for_backward(input, target)
        return out

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        input, target = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: differentiate the definition
            fn, hyper = get_info(ctx.kind).fn, ctx.hyper
            summed = "none" if ctx.reduction == "none" else "sum"
            grads = differentiate_definition(
                ctx.kind, lambda a, b: fn(a, b, reduction=summed, **hyper), (input, target),
                grad_output)
            return grads[0], grads[1], None, None, None, None
        code = _code(ctx.kind, ctx.params)
        if ctx.reduction == "none":
            _, grad = _run(code, input, target, True, 1.0, ctx.params)
            assert grad is not None  # asked for with a grad_scale
            grad.mul_(grad_output)
        else:
            grad, ctx.grad = ctx.grad, None
            if grad is None:  # a second backward (retain_graph=True): recompute
                _, grad = _run(code, input, target, False, ctx.scale, ctx.params)
            assert grad is not None  # asked for with a grad_scale
            g = float(grad_output)  # a CPU scalar (this path is CPU only): no device sync
            if g != ctx.scale:
                grad.mul_(g / ctx.scale)
        grad_input = grad if ctx.needs_input_grad[0] else None
        grad_target = -grad if ctx.needs_input_grad[1] else None
        return grad_input, grad_target, None, None, None, None


def _make_run(kind: str) -> Callable[..., torch.Tensor]:
    def run(x: torch.Tensor, y: torch.Tensor, *, reduction: str,
            **hyper: float | torch.Tensor | None) -> torch.Tensor:
        params = _kernel_params(kind, hyper)
        if torch.is_grad_enabled() and (x.requires_grad or y.requires_grad):
            # torch.autograd.Function.apply is unannotated in torch's source
            out: torch.Tensor = _Elementwise.apply(  # type: ignore[no-untyped-call]
                x, y, kind, reduction, params, hyper)
            return out
        return _run(_code(kind, params), x, y, reduction == "none", None, params)[0]
    return run


for _kind, _names in _PARAMS.items():
    register(_kind, "native", name=f"native.elementwise.{_kind}", devices=("cpu",),
             dtypes=_DTYPES, supports=_supports(_kind), double_backward=True,
             min_numel=MIN_NUMEL,
             options=("reduction", *_names),
             description="one C sweep writing the loss sum and, when autograd needs it, the "
                         "gradient (multithreaded, no temporaries)")(_make_run(_kind))
