"""Chunked linear + cross entropy that never holds the full ``[N, V]`` logits.

Forward walks over blocks of ``rows`` tokens. For each block it computes the logits
``h W^T + b`` into one reusable ``[rows, V]`` buffer, applies the soft cap, and runs the
row kernel of :mod:`.softmax_xent`, which writes ``dloss/dlogits`` over the logits in
place. The block's contribution to the gradients is then two matrix products,
``dh = dz W`` and ``dW += dz^T h`` (and ``db += sum dz``), so backward only scales the
stored gradients by the upstream scalar. Peak extra memory: one logits block plus
``dW`` (``[V, D]``) and ``dh`` (``[N, D]``), instead of three ``[N, V]`` tensors.

With ``reduction="none"`` the upstream gradient differs per token, so forward only
computes the losses and backward repeats the block walk with the per-token scale.

float16 / bfloat16 inputs are computed in float32 (the weight is converted once) and
the gradients are returned in the inputs' dtypes.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .softmax_xent import softmax_rows

__all__ = ["BLOCK_BYTES", "LinearCrossEntropy", "block_rows"]

#: Upper bound on the logits block. Larger blocks mean fewer read-modify-write passes over
#: ``dW`` ([V, D]) and larger matrix products; 48 MiB measured faster than 16 or 32 MiB at
#: N=2048, D=512, V=32768 while the peak stays below torch's chunked path.
BLOCK_BYTES = 48 << 20


def block_rows(vocab: int, itemsize: int, tokens: int | None = None) -> int:
    """Rows per block: as many as fit in BLOCK_BYTES, balanced so the last block is not tiny."""
    rows = max(1, BLOCK_BYTES // max(1, vocab * itemsize))
    if tokens:
        blocks = -(-tokens // rows)
        rows = -(-tokens // blocks)
    return rows


def _walk(hidden, weight, bias, target, options, row_scale, want_grads):
    """Losses [N] and, if ``want_grads = (dh?, dW?, db?)``, the scaled gradients."""
    class_weight, ignore_index, label_smoothing, z_loss, softcap = options
    n, _ = hidden.shape
    v = weight.shape[0]
    acc = hidden.dtype
    need_h, need_w, need_b = want_grads if want_grads else (False, False, False)
    want = need_h or need_w or need_b
    losses = torch.empty(n, dtype=acc)
    grad_h = torch.empty_like(hidden) if need_h else None
    grad_w = torch.empty_like(weight) if need_w else None  # the first block writes it
    grad_b = torch.zeros(v, dtype=acc) if need_b else None
    rows = block_rows(v, hidden.element_size(), n)
    buffer = torch.empty(min(rows, n), v, dtype=acc)
    if need_w and n == 0:
        grad_w.zero_()
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        h = hidden[start:stop]
        z = buffer[: stop - start]
        if bias is not None:
            torch.addmm(bias, h, weight.t(), out=z)
        else:
            torch.mm(h, weight.t(), out=z)
        if softcap is not None:
            # z = cap * tanh(z / cap); keep tanh for the chain rule factor 1 - tanh^2.
            tanh = z.div_(softcap).tanh_()
            capped = tanh * softcap
        else:
            capped = z
        scale = row_scale if not isinstance(row_scale, torch.Tensor) else row_scale[start:stop]
        loss, _, dz = softmax_rows(
            capped, target[start:stop], class_weight=class_weight, ignore_index=ignore_index,
            label_smoothing=label_smoothing, z_loss=z_loss, grad_scale=scale, want_grad=want,
            grad_out=capped if want else None)
        losses[start:stop] = loss
        if not want:
            continue
        if softcap is not None:
            dz.mul_(tanh.square_().neg_().add_(1.0))
        if need_h:
            torch.mm(dz, weight, out=grad_h[start:stop])
        if need_w and start == 0:
            torch.mm(dz.t(), h, out=grad_w)
        elif need_w:
            grad_w.addmm_(dz.t(), h)
        if need_b:
            grad_b += dz.sum(0)
    return losses, grad_h, grad_w, grad_b


def _row_scale(target, class_weight, ignore_index, vocab, sample_weight, reduction):
    """Per-token gradient scale for "mean"/"sum" and the mean's denominator."""
    valid = (target != ignore_index) & (target >= 0) & (target < vocab)
    if reduction == "mean":
        if class_weight is None:
            denom = valid.sum().to(torch.float64)
        else:
            denom = torch.where(valid, class_weight[torch.where(valid, target, 0)], 0.0).sum()
        denom = float(denom)
        inv = 1.0 / denom if denom > 0 else 0.0
    else:
        denom, inv = 1.0, 1.0
    if sample_weight is None:
        return inv, denom
    return sample_weight * inv, denom


class LinearCrossEntropy(torch.autograd.Function):
    """``apply(hidden [N, D], weight [V, D], bias [V] | None, target [N], sample_weight [N] |
    None, class_weight [V] | None, ignore_index, label_smoothing, z_loss, softcap,
    reduction, track)`` -> scalar, or ``[N]`` for ``reduction="none"``; ``track`` says
    whether autograd will ask for gradients (no gradient work is done otherwise)."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, target, sample_weight, class_weight, ignore_index,
                label_smoothing, z_loss, softcap, reduction, track):
        in_dtypes = (hidden.dtype, weight.dtype, None if bias is None else bias.dtype)
        acc = torch.promote_types(torch.float32, hidden.dtype)
        h = hidden.to(acc).contiguous()
        w = weight.to(acc).contiguous()
        b = None if bias is None else bias.to(acc)
        cw = None if class_weight is None else class_weight.to(acc)
        sw = None if sample_weight is None else sample_weight.to(acc)
        options = (cw, ignore_index, label_smoothing, z_loss, softcap)
        ctx.in_dtypes, ctx.reduction, ctx.options = in_dtypes, reduction, options
        # ``track`` is False under torch.no_grad (where needs_input_grad still says True).
        wants = (track and ctx.needs_input_grad[0], track and ctx.needs_input_grad[1],
                 track and bias is not None and ctx.needs_input_grad[2])
        if not any(wants) or reduction == "none":
            losses = _walk(h, w, b, target, options, 1.0, None)[0]
            ctx.save_for_backward(h, w, b, target, sw)
            ctx.grads = None
            if sw is not None:
                losses = losses * sw
            if reduction == "none":
                return losses
            total = losses.sum(dtype=torch.float64)
            if reduction == "mean":
                _, denom = _row_scale(target, cw, ignore_index, w.shape[0], None, reduction)
                total = total / denom if denom > 0 else total * 0.0
            return total.to(acc)
        scale, denom = _row_scale(target, cw, ignore_index, w.shape[0], sw, reduction)
        losses, gh, gw, gb = _walk(h, w, b, target, options, scale, wants)
        if sw is not None:
            losses = losses * sw
        total = losses.sum(dtype=torch.float64)
        if reduction == "mean":
            total = total / denom if denom > 0 else total * 0.0
        ctx.grads = (gh, gw, gb)
        ctx.save_for_backward(h, w, b, target, sw)
        return total.to(acc)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        h, w, b, target, sw = ctx.saved_tensors
        wants = (ctx.needs_input_grad[0], ctx.needs_input_grad[1],
                 b is not None and ctx.needs_input_grad[2])
        grads, ctx.grads = ctx.grads, None
        if ctx.reduction == "none":
            scale = grad_output.to(h.dtype) if sw is None else grad_output.to(h.dtype) * sw
            grads = _walk(h, w, b, target, ctx.options, scale, wants)[1:]
        else:
            if grads is None:  # second backward with retain_graph=True: recompute
                scale, _ = _row_scale(target, ctx.options[0], ctx.options[1], w.shape[0], sw,
                                      ctx.reduction)
                grads = _walk(h, w, b, target, ctx.options, scale, wants)[1:]
            go = float(grad_output)
            if go != 1.0:
                grads = tuple(None if g is None else g.mul_(go) for g in grads)
        gh, gw, gb = (None if g is None else g.to(dt) for g, dt in zip(grads, ctx.in_dtypes))
        return gh, gw, gb, None, None, None, None, None, None, None, None, None
