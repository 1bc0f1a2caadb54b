"""Softmax cross entropy / focal over rows, with the gradient computed in the same pass.

For logits ``x [N, C]`` and class indices ``t [N]`` one pass per row computes the row's
log-sum-exp, its loss, and (when asked) ``gs_i * dloss_i/dx_i`` written straight into a
gradient buffer, which may be the logits buffer itself. No one-hot, no log-softmax and
no softmax tensor is ever stored. Formulas (``w`` class weights or 1, ``W = sum w``,
``b = label_smoothing / C``, ``p = softmax(x)``, ``m`` the row maximum)::

    log p_t        = (x_t - m) - log s,   s = sum_c exp(x_c - m)
    cross entropy  loss = -(1 - ls) w_t log p_t - b sum_c w_c log p_c + w_t z lse^2
                   grad = (1 - ls) w_t (p - onehot_t) + b (W p - w) + 2 w_t z lse p
    focal (g > 0)  loss = -w_t (1 - p_t)^g log p_t
                   grad = w_t ((1 - p_t)^g - g (1 - p_t)^(g - 1) p_t log p_t) (p - onehot_t)

``log p`` is formed as ``(x - m) - log s``, never as ``x - (m + log s)``, which cancels
at logits of 1e4 (tested: row error <= 1e-5 in float32).

:func:`softmax_rows` runs the native kernel (contiguous float32/float64 CPU data) and
:func:`softmax_rows_torch` the same formulas in torch ops (any device); the chunked
linear cross entropy (:mod:`.linear_xent`) uses one or the other per backend. The
native rows are also registered as the ``"native"`` accelerator of ``cross_entropy`` and
``softmax_focal`` (index targets, ``[N, C]`` logits).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

import torch

from .._core.reduce import mean_denominator
from .._core.registry import get_info
from . import _native
from ._dispatch import differentiate_definition, register

__all__ = ["NATIVE_MIN_NUMEL", "RowOptions", "softmax_rows", "softmax_rows_torch"]

#: Below this many logits the builtin (or the definition) beats the native kernel's call cost.
NATIVE_MIN_NUMEL = 1 << 15


class RowOptions(TypedDict, total=False):
    """The loss options of :func:`softmax_rows` / :func:`softmax_rows_torch`, passed along."""

    class_weight: torch.Tensor | None
    ignore_index: int
    label_smoothing: float
    z_loss: float
    gamma: float


def softmax_rows_torch(x: torch.Tensor, target: torch.Tensor, *,
                       class_weight: torch.Tensor | None = None, ignore_index: int = -100,
                       label_smoothing: float = 0.0, z_loss: float = 0.0, gamma: float = 0.0,
                       grad_scale: float | torch.Tensor | None = None, want_grad: bool = False,
                       ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Torch-op version of the row kernel: ``(loss [N], grad [N, C] or None)``; any device.

    ``grad_scale`` is a float, a 0-dim tensor or an ``[N]`` tensor multiplying row ``i`` of
    the gradient (1 when None). Ignored rows (``ignore_index``) get loss 0 and gradient 0.
    """
    c = x.shape[1]
    valid = target != ignore_index
    t = torch.where(valid, target, 0)
    m = x.amax(1, keepdim=True).detach()
    shifted = x - m
    log_s = torch.logsumexp(shifted, 1)
    logp_t = shifted.gather(1, t[:, None]).squeeze(1) - log_s
    wt = class_weight[t] if class_weight is not None else None
    b = label_smoothing / c if c else 0.0
    big_w: float | torch.Tensor
    b_row: float | torch.Tensor = b  # per row: 0 where the target's class weight is 0
    if gamma > 0:
        p_t = logp_t.exp()
        q = (1.0 - p_t).clamp(min=0.0)
        qg = q.pow(gamma)
        qg1 = gamma * q.clamp(min=torch.finfo(x.dtype).tiny).pow(gamma - 1)
        loss = -qg * logp_t
        a = qg - qg1 * p_t * logp_t
        if wt is not None:
            loss, a = loss * wt, a * wt
        big_w = 0.0
    else:
        a = (1.0 - label_smoothing) * (wt if wt is not None else torch.ones_like(logp_t))
        loss = -a * logp_t
        big_w = 0.0
        if b:
            logp = shifted - log_s[:, None]
            if class_weight is not None:
                assert wt is not None  # class_weight[t]
                big_w = class_weight.sum()
                # A target class of weight 0 drops the position, its smoothing term too.
                b_row = torch.where(wt > 0, b, 0.0)
                loss = loss - b_row * (logp @ class_weight)
            else:
                big_w = float(c)
                loss = loss - b * logp.sum(1)
    lse = log_s + m.squeeze(1)
    zw = z_loss if wt is None else z_loss * wt  # the class weight scales z-loss too
    if z_loss:
        loss = loss + zw * lse.square()
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    loss = torch.where(valid, loss, zero)
    if not want_grad:
        return loss, None
    # A number becomes a tensor by a fill on the device (torch.as_tensor would copy it from
    # the host: a sync on CUDA).
    gs = (torch.ones_like(loss) if grad_scale is None
          else torch.full_like(loss, grad_scale) if not isinstance(grad_scale, torch.Tensor)
          else grad_scale.to(x.dtype).expand_as(loss))
    gs = torch.where(valid, gs, zero)
    p = torch.exp(shifted - log_s[:, None])
    coef = gs * (a + b_row * big_w + 2.0 * zw * torch.where(valid, lse, zero))
    grad = coef[:, None] * p
    if b:
        w = class_weight if class_weight is not None else torch.ones(c, dtype=x.dtype,
                                                                     device=x.device)
        grad = grad - (gs * b_row)[:, None] * w
    return loss, grad.scatter_add(1, t[:, None], -(gs * a)[:, None])


def softmax_rows(x: torch.Tensor, target: torch.Tensor, *, class_weight: torch.Tensor | None = None,
                 ignore_index: int = -100, label_smoothing: float = 0.0, z_loss: float = 0.0,
                 gamma: float = 0.0, grad_scale: float | torch.Tensor | None = None,
                 want_grad: bool = False, grad_out: torch.Tensor | None = None,
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The native row kernel: ``(loss [N], grad or None)`` for contiguous float32/float64
    CPU ``x [N, C]`` and int64 ``target [N]``.

    ``grad_scale`` is a float or an ``[N]`` tensor multiplying row ``i`` of the gradient;
    ``grad_out`` is the buffer the gradient is written to (it may be ``x`` itself, to
    overwrite the logits in place). Labels outside ``0..C-1`` count as ignored.
    """
    lib = _native.loaded_library()
    n, c = x.shape
    target = target.to(torch.int64).contiguous()
    cw = None if class_weight is None else class_weight.to(x.dtype).contiguous()
    loss = torch.empty(n, dtype=x.dtype, device=x.device)
    grad = None
    gs_tensor: torch.Tensor | None = None
    gs0 = 1.0
    if want_grad:
        grad = grad_out if grad_out is not None else torch.empty_like(x)
        if isinstance(grad_scale, torch.Tensor) and grad_scale.dim():
            gs_tensor = grad_scale.to(x.dtype).contiguous()
        elif grad_scale is not None:
            gs0 = float(grad_scale)
    fn = lib.losskit_softmax_rows_f32 if x.dtype == torch.float32 else lib.losskit_softmax_rows_f64
    fn(n, c, x.data_ptr(), target.data_ptr(), _native.ptr(cw), int(ignore_index),
       float(label_smoothing), float(z_loss), float(gamma), loss.data_ptr(), None,
       _native.ptr(grad), _native.ptr(gs_tensor), gs0, _native.threads(n * c))
    return loss, grad


# --- the native accelerator of cross_entropy and softmax_focal ----------------------------
# call (cross_entropy): (x [N, C], target [N] int64, *, class_weight [C] | None,
#        ignore_index, label_smoothing, reduction)
# call (softmax_focal): (x [N, C], target [N] int64, *, alpha [C] | None, gamma,
#        ignore_index, reduction)
# result: the per-row loss (class- or alpha-weighted, 0 at ignored rows) for "none", else
# its sum. The mean's denominator is the definition's (reduce_summed).


def _supports(x: torch.Tensor, target: torch.Tensor, *, reduction: str,
              gamma: float | torch.Tensor = 0.0, label_smoothing: float = 0.0,
              **kw: torch.Tensor | None) -> str | None:
    if x.dim() != 2 or target.dim() != 1:
        return "takes [N, C] logits and [N] targets"
    if x.numel() < NATIVE_MIN_NUMEL:
        return f"fewer than {NATIVE_MIN_NUMEL} logits: the builtin's per-call cost is lower"
    if target.dtype != torch.int64 or not x.is_contiguous():
        return "needs contiguous logits and int64 targets"
    if isinstance(gamma, torch.Tensor):
        return "gamma must be a number"
    weights = kw.get("class_weight", kw.get("alpha"))
    if weights is not None and weights.device != x.device:
        return "class weights must be on the input's device"
    if _native.library() is None:
        return f"native kernels unavailable ({_native.build_error()})"
    return None


def _hint(target: torch.Tensor, weights: torch.Tensor | None, ignore_index: int, reduction: str,
          divide_by_weights: bool) -> float:
    """The upstream gradient "mean" will send (1 / the mean's denominator), to pre-scale
    the gradient in forward; backward rescales when the real one differs. CPU only."""
    if reduction != "mean":
        return 1.0
    valid = target != ignore_index
    cw = weights[torch.where(valid, target, 0)] if (weights is not None
                                                    and divide_by_weights) else None
    d = float(mean_denominator(target.shape, target.device, valid, cw))
    return 1.0 / d if d > 0 else 1.0


def definition_grads(ctx: Any, x: torch.Tensor, target: torch.Tensor,
                     weights: torch.Tensor | None,
                     grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    """The backward of a row Function under ``create_graph=True`` (native or Triton): the
    gradients of the loss's definition (``ctx.kind``, ``ctx.public``, ``ctx.reduction``),
    so higher derivatives are the definition's own."""
    fn, public = get_info(ctx.kind).fn, ctx.public
    summed = "none" if ctx.reduction == "none" else "sum"
    grads = differentiate_definition(
        ctx.kind, lambda a, w: fn(a, target, reduction=summed, **public(w)),
        (x, weights), grad_output)
    return grads[0], None, grads[1], None, None, None, None


class _SoftmaxRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None,
                kind: str, options: tuple[int, float, float], reduction: str,
                public: Callable[[torch.Tensor | None], dict[str, object]]) -> torch.Tensor:
        ignore_index, label_smoothing, gamma = options
        kw: RowOptions = {"class_weight": weights, "ignore_index": ignore_index,
                          "label_smoothing": label_smoothing, "gamma": gamma}
        ctx.kw, ctx.kind, ctx.reduction, ctx.public = kw, kind, reduction, public
        ctx.save_for_backward(x, target, weights)
        if reduction == "none":
            ctx.grad = None
            return softmax_rows(x, target, **kw)[0]
        ctx.hint = _hint(target, weights, ignore_index, reduction, kind == "cross_entropy")
        loss, ctx.grad = softmax_rows(x, target, grad_scale=ctx.hint, want_grad=True, **kw)
        return loss.sum(dtype=torch.float64).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, target, weights = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: differentiate the definition
            return definition_grads(ctx, x, target, weights, grad_output)
        if ctx.reduction == "none":
            grad = softmax_rows(x, target, grad_scale=grad_output.to(x.dtype).contiguous(),
                                want_grad=True, **ctx.kw)[1]
            return grad, None, None, None, None, None, None
        grad, ctx.grad = ctx.grad, None
        if grad is None:  # a second backward (retain_graph=True): recompute
            grad = softmax_rows(x, target, grad_scale=ctx.hint, want_grad=True, **ctx.kw)[1]
        assert grad is not None  # asked for with want_grad
        g = float(grad_output)  # a CPU scalar (this path is CPU only): no device sync
        if g != ctx.hint:
            grad.mul_(g / ctx.hint)
        return grad, None, None, None, None, None, None


@register("cross_entropy", "native", name="native.softmax_rows.cross_entropy",
          devices=("cpu",), dtypes=(torch.float32, torch.float64), supports=_supports,
          double_backward=True, min_numel=NATIVE_MIN_NUMEL,
          options=("reduction", "class_weight", "ignore_index",
                                         "label_smoothing"),
          description="one C pass per row: log-sum-exp, loss and gradient, no [N, C] "
                      "temporaries beyond the gradient")
def _cross_entropy(x: torch.Tensor, target: torch.Tensor, *, class_weight: torch.Tensor | None,
                   ignore_index: int, label_smoothing: float, reduction: str) -> torch.Tensor:
    options = (ignore_index, label_smoothing, 0.0)
    if torch.is_grad_enabled() and x.requires_grad:
        def public(w: torch.Tensor | None, _ii: int = ignore_index,
                   _ls: float = label_smoothing) -> dict[str, object]:
            return dict(class_weight=w, ignore_index=_ii, label_smoothing=_ls)
        # torch.autograd.Function.apply is unannotated in torch's source
        out: torch.Tensor = _SoftmaxRows.apply(  # type: ignore[no-untyped-call]
            x, target, class_weight, "cross_entropy", options, reduction, public)
        return out
    loss = softmax_rows(x, target, class_weight=class_weight, ignore_index=ignore_index,
                        label_smoothing=label_smoothing)[0]
    return loss if reduction == "none" else loss.sum(dtype=torch.float64).to(x.dtype)


@register("softmax_focal", "native", name="native.softmax_rows.softmax_focal",
          devices=("cpu",), dtypes=(torch.float32, torch.float64), supports=_supports,
          double_backward=True, min_numel=NATIVE_MIN_NUMEL,
          options=("reduction", "alpha", "gamma", "ignore_index"),
          description="one C pass per row: focal loss and its gradient")
def _softmax_focal(x: torch.Tensor, target: torch.Tensor, *, alpha: torch.Tensor | None,
                   gamma: float, ignore_index: int, reduction: str) -> torch.Tensor:
    options = (ignore_index, 0.0, float(gamma))
    if torch.is_grad_enabled() and x.requires_grad:
        def public(w: torch.Tensor | None, _ii: int = ignore_index,
                   _g: float = gamma) -> dict[str, object]:
            return dict(alpha=w, gamma=_g, ignore_index=_ii)
        # torch.autograd.Function.apply is unannotated in torch's source
        out: torch.Tensor = _SoftmaxRows.apply(  # type: ignore[no-untyped-call]
            x, target, alpha, "softmax_focal", options, reduction, public)
        return out
    loss = softmax_rows(x, target, class_weight=alpha, ignore_index=ignore_index,
                        gamma=float(gamma))[0]
    return loss if reduction == "none" else loss.sum(dtype=torch.float64).to(x.dtype)
