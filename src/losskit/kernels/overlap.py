"""Accelerators of the overlap statistics behind dice, jaccard, tversky and generalized_dice.

The overlap losses reduce ``[N, C, S]`` predictions to per-(image, class) sums, and only
that step touches the large tensors. With integer class-index targets the definition
(:mod:`losskit.functional.segmentation`) computes them with gather + scatter_add, and
autograd keeps the probabilities and builds two ``[N, C, S]`` gradient buffers in
backward. The accelerators here compute the same sums with less memory traffic:

* ``"native"``: one C sweep over the logits computes each voxel's softmax and
  accumulates the three sums; backward recomputes the softmax per voxel and writes the
  gradient in one more sweep. Nothing of size ``[N, C, S]`` is kept between the two.
  Softmax only, float32/float64 CPU tensors, at most :data:`NATIVE_MAX_CLASSES` classes.
* ``"torch"``: a custom autograd Function in torch ops (any device) that keeps only the
  probabilities and writes the gradient through the activation in place into them, so
  backward holds a single ``[N, C, S]`` buffer. Softmax, sigmoid or no activation.

A third, ``"triton"`` (:mod:`.triton_overlap`), does the native sweep's work on CUDA
(and in Triton's interpreter on the CPU, for tests).

The call, made by each loss's definition through :func:`losskit.kernels.dispatch`, is
``(x [N, C, S], index [N, S] int64 in 0..C-1, valid [N, S] bool | None, *, activation,
other_act, squared_pred, definition)``; the result is what ``definition(x, index, valid,
activation=..., other_act=..., squared_pred=...)`` returns: a ``[3, N, C]`` tensor
stacking the soft intersection ``sum_{s: t_s = c} p``, the prediction volume ``sum p``
and the target volume (a constant), over the voxels that count. Ratios, averaging and
the reduction stay in the definition. Under ``create_graph=True`` backward
differentiates ``definition`` (:func:`losskit.kernels.differentiate_definition`), so
higher derivatives are the definition's own. Neither accelerator runs while
``torch.compile`` traces or inside ``torch.func`` transforms (the definition does), and
both decline ``other_act``, ``squared_pred`` and small inputs (:data:`MIN_NUMEL`,
:data:`TORCH_MIN_NUMEL`), where the definition is as fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .._core.reduce import upcast
from . import _native
from ._dispatch import differentiate_definition, register

__all__ = ["LOSSES", "MIN_NUMEL", "NATIVE_MAX_CLASSES", "TORCH_MIN_NUMEL"]

#: The losses whose statistics these accelerators compute.
LOSSES = ("dice", "jaccard", "tversky", "generalized_dice")
#: Below this many logits the definition's few ops cost less than the native sweep.
MIN_NUMEL = 1 << 14
#: Below this many logits the in-place torch Function is no faster than the definition
#: (measured on the CPU; its point elsewhere is memory: one [N, C, S] buffer).
TORCH_MIN_NUMEL = 1 << 16
#: Classes the native sweep handles (``OV_MAXC`` in ``_native.c``).
NATIVE_MAX_CLASSES = _native.OVERLAP_MAX_CLASSES

# A user's activation (the loss's other_act): logits -> probabilities.
_Activation = Callable[[torch.Tensor], torch.Tensor]


def _common_decline(x: torch.Tensor, index: torch.Tensor, valid: torch.Tensor | None,
                    other_act: _Activation | None, squared_pred: bool,
                    min_numel: int) -> str | None:
    if x.dim() != 3 or index.shape != (x.shape[0], x.shape[2]):
        return "takes [N, C, S] logits and [N, S] class indices"
    if x.numel() < min_numel:
        return f"fewer than {min_numel} logits: the definition is as fast"
    if index.dtype != torch.int64 or index.device != x.device:
        return "needs int64 class indices on the input's device"
    if valid is not None and (valid.dtype != torch.bool or valid.shape != index.shape):
        return "valid must be a bool [N, S] mask"
    if other_act is not None:
        return "other_act is a user callable (the definition applies it)"
    if squared_pred:
        return "squared_pred (the definition computes the squared sums)"
    return None


def _target_volume(x: torch.Tensor, index: torch.Tensor,
                   valid: torch.Tensor | None) -> torch.Tensor:
    n, c, s = x.shape
    ones = (torch.ones((), dtype=x.dtype, device=x.device).expand(n, s) if valid is None
            else valid.to(x.dtype))
    return x.new_zeros(n, c).scatter_add_(1, index, ones)


def _second_order(loss: str, ctx: Any, grad_output: torch.Tensor) -> torch.Tensor | None:
    """The definition's gradient with a graph, for ``create_graph=True``."""
    x, index, valid = ctx.saved_tensors
    definition, activation = ctx.definition, ctx.activation
    return differentiate_definition(
        loss, lambda a: definition(a, index, valid, activation=activation, other_act=None,
                                   squared_pred=False),
        (x,), grad_output)[0]


# --- native: softmax in one C sweep ---------------------------------------------------------


class _NativeSoftmaxOverlap(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, index: torch.Tensor, valid: torch.Tensor | None,
                loss: str, definition: Callable[..., torch.Tensor]) -> torch.Tensor:
        index = index.contiguous()
        valid = None if valid is None else valid.contiguous()
        inter, pred, tgt = _native.overlap_softmax_forward(x.contiguous(), index, valid)
        # x itself, not a contiguous copy: a copy made here has no graph, and the second
        # derivative (create_graph=True) differentiates the definition at the saved x.
        ctx.save_for_backward(x, index, valid)
        ctx.loss, ctx.definition, ctx.activation = loss, definition, "softmax"
        return torch.stack([inter, pred, tgt])

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        if torch.is_grad_enabled():  # create_graph=True: differentiate the definition
            return _second_order(ctx.loss, ctx, grad_output), None, None, None, None
        x, index, valid = ctx.saved_tensors
        grad = _native.overlap_softmax_backward(x.contiguous(), index, valid, grad_output[0],
                                                grad_output[1])
        return grad, None, None, None, None


def _native_supports(x: torch.Tensor, index: torch.Tensor, valid: torch.Tensor | None, *,
                     activation: str, other_act: _Activation | None, squared_pred: bool,
                     definition: Callable[..., torch.Tensor]) -> str | None:
    reason = _common_decline(x, index, valid, other_act, squared_pred, MIN_NUMEL)
    if reason:
        return reason
    if activation != "softmax":
        return f"activation={activation!r} (the native sweep is softmax only)"
    if not 1 <= x.shape[1] <= NATIVE_MAX_CLASSES:
        return f"more than {NATIVE_MAX_CLASSES} classes"
    if _native.library() is None:
        return f"native kernels unavailable ({_native.build_error()})"
    return None


def _make_native_run(loss: str) -> Callable[..., torch.Tensor]:
    def run(x: torch.Tensor, index: torch.Tensor, valid: torch.Tensor | None, *,
            activation: str, other_act: _Activation | None, squared_pred: bool,
            definition: Callable[..., torch.Tensor]) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            # torch.autograd.Function.apply is unannotated in torch's source
            out: torch.Tensor = _NativeSoftmaxOverlap.apply(  # type: ignore[no-untyped-call]
                x, index, valid, loss, definition)
            return out
        x, index = x.contiguous(), index.contiguous()
        valid = None if valid is None else valid.contiguous()
        return torch.stack(_native.overlap_softmax_forward(x, index, valid))
    return run


# --- torch: one [N, C, S] buffer, gradient written in place ----------------------------------


def _activate(x: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "softmax":
        return torch.softmax(x, dim=1)
    if activation == "sigmoid":
        return torch.sigmoid(x)
    return x


class _InPlaceOverlap(torch.autograd.Function):
    """Forward: ``P[n, c] = sum_s p v`` and ``I[n, c] = sum_{s: t_s = c} p v`` (v the
    valid mask) via gather + scatter_add. Backward writes ``dL/dx`` through the
    activation, ``dL/dp_c = gP_c + gI_c [t = c]``, in place into the probabilities kept
    from forward, so the whole step holds one ``[N, C, S]`` buffer and never a one-hot
    tensor. A second backward of a retained graph recomputes the probabilities."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, index: torch.Tensor, valid: torch.Tensor | None,
                activation: str, loss: str,
                definition: Callable[..., torch.Tensor]) -> torch.Tensor:
        n, c, _ = x.shape
        p = _activate(x, activation)
        vf = None if valid is None else valid.to(p.dtype)
        pred = p.sum(-1) if vf is None else torch.bmm(p, vf.unsqueeze(-1)).squeeze(-1)
        p_t = p.gather(1, index.unsqueeze(1))  # probability of the true class, [N, 1, S]
        src = p_t.squeeze(1) if vf is None else p_t.squeeze(1) * vf
        inter = x.new_zeros(n, c).scatter_add_(1, index, src)
        ctx.save_for_backward(x, index, valid)
        ctx.p_t = p_t
        ctx.loss, ctx.definition, ctx.activation = loss, definition, activation
        # Kept as an attribute, not a saved tensor, so backward may overwrite it in place.
        ctx.probabilities = p if activation != "none" else None
        return torch.stack([inter, pred, _target_volume(x, index, valid)])

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        if torch.is_grad_enabled():  # create_graph=True: differentiate the definition
            return _second_order(ctx.loss, ctx, grad_output), None, None, None, None, None
        x, index, valid = ctx.saved_tensors
        p_t = ctx.p_t
        n, c, s = x.shape
        g_inter, g_pred = grad_output[0], grad_output[1]
        idx = index.unsqueeze(1)
        g_at_target = g_inter.gather(1, index).unsqueeze(1)  # gI of the true class, [N, 1, S]
        if ctx.activation == "none":
            out = g_pred.unsqueeze(-1).expand(n, c, s).contiguous()
            out.scatter_add_(1, idx, g_at_target.expand(n, 1, s).contiguous())
        else:
            out, ctx.probabilities = ctx.probabilities, None
            if out is None:  # second backward of a retained graph
                out = _activate(x, ctx.activation)
            if ctx.activation == "sigmoid":
                # dx_c = p_c (1 - p_c) (gP_c + gI_c [t = c])
                for k in range(c):  # in place, one [N, S] temporary at a time
                    pk = out[:, k]
                    pk.mul_(1.0 - pk).mul_(g_pred[:, k:k + 1])
                out.scatter_add_(1, idx, p_t * (1.0 - p_t) * g_at_target)
            else:
                # softmax: dx_c = p_c (g_c - sum_k p_k g_k) with g_c = gP_c + gI_c [t = c]
                mean_g = torch.bmm(g_pred.unsqueeze(1), out).add_(p_t * g_at_target)  # [N, 1, S]
                shifted = torch.empty_like(mean_g[:, 0])
                for k in range(c):  # in place, one reused [N, S] buffer
                    torch.sub(g_pred[:, k:k + 1], mean_g[:, 0], out=shifted)
                    out[:, k].mul_(shifted)
                out.scatter_add_(1, idx, p_t * g_at_target)
        if valid is not None:
            out.mul_(valid.unsqueeze(1))
        return out, None, None, None, None, None


def _torch_supports(x: torch.Tensor, index: torch.Tensor, valid: torch.Tensor | None, *,
                    activation: str, other_act: _Activation | None, squared_pred: bool,
                    definition: Callable[..., torch.Tensor]) -> str | None:
    reason = _common_decline(x, index, valid, other_act, squared_pred, TORCH_MIN_NUMEL)
    if reason:
        return reason
    if activation not in ("softmax", "sigmoid", "none"):
        return f"activation={activation!r}"
    return None


def _make_torch_run(loss: str) -> Callable[..., torch.Tensor]:
    def run(x: torch.Tensor, index: torch.Tensor, valid: torch.Tensor | None, *,
            activation: str, other_act: _Activation | None, squared_pred: bool,
            definition: Callable[..., torch.Tensor]) -> torch.Tensor:
        # float16/bfloat16 logits: the softmax and the sums in float32, as the definition
        x = upcast(x)
        if torch.is_grad_enabled() and x.requires_grad:
            # torch.autograd.Function.apply is unannotated in torch's source
            out: torch.Tensor = _InPlaceOverlap.apply(  # type: ignore[no-untyped-call]
                x, index, valid, activation, loss, definition)
            return out
        return definition(x, index, valid, activation=activation, other_act=None,
                          squared_pred=False)
    return run


_OPTIONS = ("activation", "ignore_index", "other_act", "squared_pred")
for _loss in LOSSES:
    register(_loss, "native", name=f"native.overlap_softmax.{_loss}", devices=("cpu",),
             dtypes=(torch.float32, torch.float64), supports=_native_supports,
             double_backward=True, options=_OPTIONS,
             description="one C sweep: per-voxel softmax and the three overlap sums; backward "
                         "recomputes the softmax (no [N, C, S] tensor kept)")(
        _make_native_run(_loss))
    register(_loss, "torch", name=f"torch.overlap_inplace.{_loss}",
             devices=("cpu", "cuda", "xpu", "mps"), supports=_torch_supports,
             double_backward=True, traceable=False, options=_OPTIONS,
             description="gather + scatter_add sums; backward writes the gradient in place "
                         "into the kept probabilities (one [N, C, S] buffer)")(
        _make_torch_run(_loss))
