"""Softmax cross entropy / focal over row blocks, with the gradient computed in forward.

For logits ``x [N, C]`` and class indices ``t [N]`` one pass per row computes the row's
log-sum-exp, its loss, and (when asked) ``gs_i * dloss_i/dx_i`` written straight into a
gradient buffer, which may be the logits buffer itself. No one-hot, no log-softmax and
no softmax tensor is ever stored. Formulas (``w`` class weights or 1, ``W = sum w``,
``b = label_smoothing / C``, ``p = softmax(x)``)::

    cross entropy  loss = (1 - ls) w_t (lse - x_t) + b (W lse - sum_c w_c x_c) + z lse^2
                   grad = (1 - ls) w_t (p - onehot_t) + b (W p - w) + 2 z lse p
    focal (g > 0)  loss = -w_t (1 - p_t)^g log p_t
                   grad = w_t ((1 - p_t)^g - g (1 - p_t)^(g - 1) p_t log p_t) (p - onehot_t)

:func:`softmax_rows` runs the native kernel for contiguous float32/float64 CPU data and
:func:`softmax_rows_plain` (the same formulas in torch ops) otherwise; the tests check
the two against each other and against ``torch.nn.functional.cross_entropy``.
"""

from __future__ import annotations

import math

import torch
from torch.autograd.function import once_differentiable

from . import _native

__all__ = ["SoftmaxCrossEntropy", "cross_entropy_builtin", "softmax_cross_entropy", "softmax_rows",
           "softmax_rows_plain"]


def softmax_rows_plain(x, target, *, class_weight=None, ignore_index=-100, label_smoothing=0.0,
                       z_loss=0.0, gamma=0.0, grad_scale=None, want_grad=False):
    """Torch-op version of the row kernel: returns ``(loss [N], lse [N], grad or None)``."""
    c = x.shape[1]
    valid = (target != ignore_index) & (target >= 0) & (target < c)
    t = torch.where(valid, target, 0)
    full_lse = torch.logsumexp(x, 1)
    lse = full_lse
    xt = x.gather(1, t[:, None]).squeeze(1)
    wt = class_weight[t] if class_weight is not None else torch.ones_like(lse)
    lp = xt - lse
    b = label_smoothing / c if c else 0.0
    if gamma > 0:
        p_t = lp.exp().clamp(max=1.0)
        q = 1.0 - p_t
        qg = torch.where(q > 0, q.clamp(min=1e-300).pow(gamma), 0.0)
        qg1 = torch.where(q > 0, gamma * qg / torch.where(q > 0, q, 1.0),
                          1.0 if gamma == 1 else 0.0)
        loss = -wt * qg * lp
        a = wt * (qg - qg1 * p_t * lp)
        big_w = 0.0
    else:
        a = (1.0 - label_smoothing) * wt
        big_w = float(class_weight.sum()) if class_weight is not None else float(c)
        wx = x @ class_weight if class_weight is not None else x.sum(1)
        loss = a * (lse - xt) + b * (big_w * lse - wx)
    if z_loss:
        loss = loss + z_loss * lse.square()
    zero = torch.zeros((), dtype=x.dtype)
    loss = torch.where(valid, loss, zero)
    lse = torch.where(valid, lse, zero)
    grad = None
    if want_grad:
        gs = grad_scale if isinstance(grad_scale, torch.Tensor) else torch.full_like(
            lse, 1.0 if grad_scale is None else float(grad_scale))
        gs = torch.where(valid, gs, zero)
        p = torch.exp(x - full_lse[:, None])
        coef = gs * (a + b * big_w + 2.0 * z_loss * lse)
        grad = coef[:, None] * p
        if b:
            w = class_weight if class_weight is not None else torch.ones(c, dtype=x.dtype)
            grad -= (gs * b)[:, None] * w
        grad.scatter_add_(1, t[:, None], -(gs * a)[:, None])
    return loss, lse, grad


def softmax_rows(x, target, *, class_weight=None, ignore_index=-100, label_smoothing=0.0,
                 z_loss=0.0, gamma=0.0, grad_scale=None, want_grad=False, grad_out=None):
    """Row losses, log-sum-exps and (optionally) scaled gradients of ``x [N, C]``.

    ``grad_scale`` is a float or an ``[N]`` tensor multiplying row ``i`` of the gradient;
    ``grad_out`` is the buffer the gradient is written to (it may be ``x`` itself, to
    overwrite the logits in place). Returns ``(loss [N], lse [N], grad or None)``.
    """
    lib = _native.library()
    native = (lib is not None and x.dtype in (torch.float32, torch.float64)
              and x.device.type == "cpu" and x.is_contiguous() and x.dim() == 2
              and not (gamma > 0 and label_smoothing))
    if not native:
        loss, lse, grad = softmax_rows_plain(
            x, target, class_weight=class_weight, ignore_index=ignore_index,
            label_smoothing=label_smoothing, z_loss=z_loss, gamma=gamma,
            grad_scale=grad_scale, want_grad=want_grad)
        if grad is not None and grad_out is not None:
            grad_out.copy_(grad)
            grad = grad_out
        return loss, lse, grad
    n, c = x.shape
    target = target.to(torch.int64).contiguous()
    cw = None if class_weight is None else class_weight.to(x.dtype).contiguous()
    loss = torch.empty(n, dtype=x.dtype)
    lse = torch.empty(n, dtype=x.dtype)
    grad = None
    gs_tensor, gs0 = None, 1.0
    if want_grad:
        grad = grad_out if grad_out is not None else torch.empty_like(x)
        if isinstance(grad_scale, torch.Tensor):
            gs_tensor = grad_scale.to(x.dtype).contiguous()
        elif grad_scale is not None:
            gs0 = float(grad_scale)
    fn = lib.losskit_softmax_rows_f32 if x.dtype == torch.float32 else lib.losskit_softmax_rows_f64
    fn(n, c, x.data_ptr(), target.data_ptr(), _native.ptr(cw), int(ignore_index),
       float(label_smoothing), float(z_loss), float(gamma), loss.data_ptr(), lse.data_ptr(),
       _native.ptr(grad), _native.ptr(gs_tensor), gs0, _native.threads(n * c))
    return loss, lse, grad


def _mean_denominator(target, class_weight, ignore_index, num_classes):
    valid = (target != ignore_index) & (target >= 0) & (target < num_classes)
    if class_weight is None:
        return valid.sum()
    return torch.where(valid, class_weight[torch.where(valid, target, 0)], 0.0).sum()


class SoftmaxCrossEntropy(torch.autograd.Function):
    """Cross entropy / softmax focal of ``[N, C]`` logits with the gradient made in forward.

    ``apply(x, target, class_weight, ignore_index, label_smoothing, gamma, reduction)``
    with ``reduction`` in ``mean`` (weighted by class weights, over non-ignored rows),
    ``sum`` or ``none`` (returns ``[N]``). For ``none`` the gradient is made in backward
    (one more pass) because the upstream gradient then differs per row.
    """

    @staticmethod
    def forward(ctx, x, target, class_weight, ignore_index, label_smoothing, gamma, reduction):
        ctx.options = (class_weight, ignore_index, label_smoothing, gamma)
        ctx.reduction = reduction
        ctx.save_for_backward(x, target)
        kw = dict(class_weight=class_weight, ignore_index=ignore_index,
                  label_smoothing=label_smoothing, gamma=gamma)
        if reduction == "none":
            ctx.grad = None
            return softmax_rows(x, target, **kw)[0]
        scale = 1.0
        if reduction == "mean":
            denom = float(_mean_denominator(target, class_weight, ignore_index, x.shape[1]))
            scale = 1.0 / denom if denom > 0 else 0.0
        loss, _, grad = softmax_rows(x, target, grad_scale=scale, want_grad=True, **kw)
        ctx.grad = grad
        total = loss.sum(dtype=torch.float64)
        return (total * scale).to(x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        x, target = ctx.saved_tensors
        class_weight, ignore_index, label_smoothing, gamma = ctx.options
        kw = dict(class_weight=class_weight, ignore_index=ignore_index,
                  label_smoothing=label_smoothing, gamma=gamma)
        grad, ctx.grad = ctx.grad, None
        if ctx.reduction == "none":
            _, _, grad = softmax_rows(x, target, grad_scale=grad_output.to(x.dtype),
                                      want_grad=True, **kw)
            return grad, None, None, None, None, None, None
        if grad is None:  # second backward with retain_graph=True: recompute
            scale = 1.0
            if ctx.reduction == "mean":
                denom = float(_mean_denominator(target, class_weight, ignore_index, x.shape[1]))
                scale = 1.0 / denom if denom > 0 else 0.0
            _, _, grad = softmax_rows(x, target, grad_scale=scale, want_grad=True, **kw)
        if float(grad_output) != 1.0:
            grad.mul_(grad_output)
        return grad, None, None, None, None, None, None


def softmax_cross_entropy(x, target, *, class_weight=None, ignore_index=-100,
                          label_smoothing=0.0, gamma=0.0, reduction="mean"):
    """Reduced cross entropy / focal of ``x [N, C]``; the gradient is made in forward only
    when autograd will ask for it."""
    if torch.is_grad_enabled() and x.requires_grad:
        return SoftmaxCrossEntropy.apply(x, target, class_weight, ignore_index, label_smoothing,
                                         gamma, reduction)
    loss = softmax_rows(x, target, class_weight=class_weight, ignore_index=ignore_index,
                        label_smoothing=label_smoothing, gamma=gamma)[0]
    if reduction == "none":
        return loss
    total = loss.sum(dtype=torch.float64)
    if reduction == "mean":
        denom = float(_mean_denominator(target, class_weight, ignore_index, x.shape[1]))
        total = total / denom if denom > 0 else total * 0.0
    return total.to(x.dtype)


#: Below this many logits torch's builtin beats the native kernel's per-call cost.
NATIVE_MIN_NUMEL = 1 << 15


def cross_entropy_fast(x, target, *, class_weight=None, ignore_index=-100, label_smoothing=0.0,
                       gamma=0.0, weighted_mean=True, reduction="mean"):
    """Index-target cross entropy (``gamma = 0``) or softmax focal of ``x [N, C]``, or
    ``None`` when this fast path does not apply (the caller then runs its plain definition).

    Same values as ``F.cross_entropy`` with losskit's conventions: the mean of an empty
    selection is 0 (attached), and ``weighted_mean=False`` (softmax focal's ``alpha``)
    divides by the number of counted rows instead of their summed class weights.
    Small inputs use torch's fused builtin; large ones the native row kernel.
    """
    if (x.dim() != 2 or target.dim() != 1 or x.dtype not in (torch.float32, torch.float64)
            or target.dtype != torch.int64 or x.device.type != "cpu"
            or torch.compiler.is_compiling()):  # compiled graphs take the plain definition
        return None
    if class_weight is not None and label_smoothing and not bool((class_weight > 0).all()):
        return None  # zero-weight classes: losskit's smoothing convention differs from torch's
    if x.numel() >= NATIVE_MIN_NUMEL and x.is_contiguous() and _native.library() is not None:
        if gamma > 0 and label_smoothing:
            return None
        if not weighted_mean and class_weight is not None and reduction == "mean":
            out = softmax_cross_entropy(x, target, class_weight=class_weight,
                                        ignore_index=ignore_index, label_smoothing=label_smoothing,
                                        gamma=gamma, reduction="sum")
            count = int(((target != ignore_index) & (target >= 0)).sum())
            return out / count if count else out * 0.0
        return softmax_cross_entropy(x, target, class_weight=class_weight,
                                     ignore_index=ignore_index, label_smoothing=label_smoothing,
                                     gamma=gamma, reduction=reduction)
    if gamma > 0 or (class_weight is not None and not weighted_mean):
        return None
    return cross_entropy_builtin(x, target, class_weight, ignore_index, label_smoothing,
                                 reduction)


_REDUCTION_ENUM = {"none": 0, "mean": 1, "sum": 2}


def cross_entropy_builtin(x, target, class_weight, ignore_index, label_smoothing, reduction):
    """torch's fused cross entropy (its C entry point: no Python wrapper) with losskit's
    empty-selection convention. torch raises for a class index out of range; callers that
    have not checked the indices beforehand catch that and report it with their own
    checks (see :func:`losskit.functional.cross_entropy`)."""
    out = torch._C._nn.cross_entropy_loss(x, target, class_weight, _REDUCTION_ENUM[reduction],
                                          ignore_index, label_smoothing)
    # torch's mean over nothing (every target ignored, or zero total weight) is 0/0;
    # losskit's is 0, still attached. A NaN from the logits themselves stays NaN.
    # (.item() of a CPU scalar is a plain read, ~0.3 us, cheaper than any tensor op.)
    if reduction == "mean" and math.isnan(out.item()) and not bool(x.isnan().any()):
        return (x * 0.0).sum()
    return out
