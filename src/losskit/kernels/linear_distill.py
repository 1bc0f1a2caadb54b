"""Chunked linear + distillation divergence that never holds the ``[N, V]`` logits.

Accelerates :func:`losskit.functional.linear_distillation`. Forward walks over blocks of
``rows`` tokens: for each block it forms the student and teacher logits ``h W^T`` (one
``[rows, V]`` block each), the block's divergence per row and, when gradients are wanted,
``dL/dz`` for the student logits in closed form; the block's share of the gradients is
then two matrix products, ``dh = dz W`` and ``dW += dz^T h``, so no logits outlive their
block. Backward only scales the stored gradients by the upstream scalar. The teacher is
a constant: no gradient is formed for its hidden states or weight.

Closed forms of ``dD/du`` for the student's tempered logits ``u = z / T`` (``p``, ``q``: the
student's and teacher's softmax at temperature T)::

    forward_kl  KL(q || p):               p - q
    reverse_kl  KL(p || q) = D:           p (log p - log q - D)
    jsd         b KL(q || m) + (1 - b) KL(p || m), m = b q + (1 - b) p:
                                          (1 - b) p (log p - log m - KL(p || m))

and ``dL/dz = alpha T dD/du + (1 - alpha) (softmax(z) - onehot(target))``.

With ``reduction="none"`` the upstream gradient differs per token, so forward only computes
the losses and backward walks the blocks again with the per-token scale. Under
``create_graph=True`` backward differentiates the definition instead
(:func:`losskit.kernels.differentiate_definition`), so higher derivatives are exact.
float16 / bfloat16 inputs are computed in float32 and the gradients returned in the
inputs' dtypes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ._dispatch import differentiate_definition, register

__all__ = ["BLOCK_BYTES", "LinearDistillation", "block_rows"]

#: Budget for one ``[rows, V]`` block in the accumulation dtype. A block's walk holds about
#: eight such tensors at once, so the extra memory of the whole walk is about 8 x this plus
#: the gradients ``dh`` ([N, D]) and ``dW`` ([V, D]). Smaller blocks mean more
#: read-modify-write passes over ``dW`` and smaller matrix products: at N=1024, D=256,
#: V=16384 on CPU, 8 MiB was fastest on one thread and 32 MiB on two; 16 MiB sits between.
BLOCK_BYTES = 16 << 20

DIVERGENCES = ("forward_kl", "reverse_kl", "jsd")

#: ``(temperature, alpha, divergence, beta, ignore_index)`` as Python values.
_Options = tuple[float, float, str, float, int]


def block_rows(vocab: int, itemsize: int, tokens: int) -> int:
    """Rows per block: as many as fit in BLOCK_BYTES, balanced so the last block is not tiny."""
    rows = max(1, BLOCK_BYTES // max(1, vocab * itemsize))
    if tokens:
        blocks = -(-tokens // rows)
        rows = -(-tokens // blocks)
    return rows


def _block(z: torch.Tensor, teacher: torch.Tensor, target: torch.Tensor | None,
           options: _Options, want_grad: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-row loss ``[r]`` and, if wanted, ``dloss/dz`` ``[r, V]`` for student logits ``z``."""
    temperature, alpha, divergence, beta, _ = options
    tempered = temperature != 1.0
    u = z / temperature if tempered else z
    log_p = torch.log_softmax(u, dim=-1)
    log_q = torch.log_softmax(teacher.div_(temperature) if tempered else teacher, dim=-1)
    del u, teacher
    p, q = log_p.exp(), log_q.exp()
    grad = None
    # 0 log 0 = 0: a zero-probability entry contributes nothing (a NaN entry stays NaN).
    if divergence == "forward_kl":
        divergence_rows = torch.where(q == 0, 0.0, q * (log_q - log_p)).sum(-1)
        if want_grad:
            grad = p - q
    elif divergence == "reverse_kl":
        diff = log_p - log_q
        divergence_rows = torch.where(p == 0, 0.0, p * diff).sum(-1)
        if want_grad:
            grad = torch.where(p == 0, 0.0, p * diff.sub_(divergence_rows[:, None]))
    else:
        log_m = torch.logaddexp(log_q + math.log(beta), log_p + math.log1p(-beta))
        kl_q = torch.where(q == 0, 0.0, q * (log_q - log_m)).sum(-1)
        diff = log_p - log_m
        kl_p = torch.where(p == 0, 0.0, p * diff).sum(-1)
        divergence_rows = beta * kl_q + (1.0 - beta) * kl_p
        if want_grad:
            grad = torch.where(p == 0, 0.0, p * diff.sub_(kl_p[:, None])).mul_(1.0 - beta)
    del q, log_q
    loss = divergence_rows * (alpha * temperature * temperature)
    if grad is not None:
        grad.mul_(alpha * temperature)
    if target is not None and alpha != 1.0:
        log_s = torch.log_softmax(z, dim=-1) if tempered else log_p
        index = target[:, None]
        loss = loss - (1.0 - alpha) * log_s.gather(1, index).squeeze(1)
        if grad is not None:
            soft = log_s.exp() if tempered else p
            grad.add_(soft, alpha=1.0 - alpha)
            grad.scatter_add_(1, index, torch.full_like(index, alpha - 1.0, dtype=grad.dtype))
    return loss, grad


def _walk(student: tuple[torch.Tensor, torch.Tensor], teacher: tuple[torch.Tensor, torch.Tensor],
          target: torch.Tensor | None, valid: torch.Tensor | None,
          row_weight: torch.Tensor | None, options: _Options,
          scale: torch.Tensor | None, wants: tuple[bool, bool],
          ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Losses ``[N]`` (weighted, 0 where not valid) and the scaled gradients wanted."""
    h, w = student
    ht, wt = teacher
    n, v = h.shape[0], w.shape[0]
    need_h, need_w = wants
    want = need_h or need_w
    losses = torch.empty(n, dtype=h.dtype, device=h.device)
    grad_h = torch.empty_like(h) if need_h else None
    grad_w = torch.zeros_like(w) if need_w else None
    rows = block_rows(v, h.element_size(), n)
    index = None
    if target is not None:
        assert valid is not None  # the rows of target that count
        index = torch.where(valid, target, 0)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        hb = h[start:stop]
        z = hb @ w.t()
        zt = ht[start:stop].to(h.dtype) @ wt.t()
        loss, grad = _block(z, zt, None if index is None else index[start:stop], options, want)
        del z, zt
        if row_weight is not None:
            loss = loss * row_weight[start:stop]
        if valid is not None:
            loss = torch.where(valid[start:stop], loss, 0.0)
        losses[start:stop] = loss
        if grad is None:
            continue
        assert scale is not None  # gradients are wanted with their scale
        grad.mul_(scale[start:stop, None])
        if grad_h is not None:
            torch.mm(grad, w, out=grad_h[start:stop])
        if grad_w is not None:
            grad_w.addmm_(grad.t(), hb)
        del grad
    return losses, grad_h, grad_w


def _row_scale(n: int, valid: torch.Tensor | None, row_weight: torch.Tensor | None,
               dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """d(sum of rows)/d(row loss): the row's weight, 0 where the row does not count."""
    scale = (torch.ones(n, dtype=dtype, device=device) if row_weight is None
             else row_weight.to(dtype))
    return scale if valid is None else torch.where(valid, scale, 0.0)


class LinearDistillation(torch.autograd.Function):
    """``apply(student_hidden [N, Ds], student_weight [V, Ds], teacher_hidden [N, Dt],
    teacher_weight [V, Dt], target [N] | None, row_weight [N] | None, options, reduction,
    definition, track)`` -> the sum of the per-row losses, or ``[N]`` for
    ``reduction="none"``. ``options = (temperature, alpha, divergence, beta, ignore_index)``;
    ``definition(sh, sw, th, tw)`` recomputes the same output in plain torch (for
    ``create_graph``); ``track`` says whether autograd will ask for gradients."""

    @staticmethod
    def forward(ctx: Any, student_hidden: torch.Tensor, student_weight: torch.Tensor,
                teacher_hidden: torch.Tensor, teacher_weight: torch.Tensor,
                target: torch.Tensor | None, row_weight: torch.Tensor | None, options: _Options,
                reduction: str, definition: Callable[..., torch.Tensor],
                track: bool) -> torch.Tensor:
        acc = torch.promote_types(torch.float32,
                                  torch.promote_types(student_hidden.dtype, student_weight.dtype))
        h, w = student_hidden.to(acc), student_weight.to(acc)
        teacher = (teacher_hidden, teacher_weight.to(acc))
        valid = None if target is None else target != options[4]
        rw = None if row_weight is None else row_weight.to(acc)
        ctx.save_for_backward(student_hidden, student_weight, teacher_hidden, teacher_weight,
                              target, row_weight)
        ctx.options, ctx.reduction, ctx.definition = options, reduction, definition
        wants = (bool(track and ctx.needs_input_grad[0]), bool(track and ctx.needs_input_grad[1]))
        ctx.grads = None
        if reduction == "none" or not any(wants):
            losses = _walk((h, w), teacher, target, valid, rw, options, None, (False, False))[0]
            return losses if reduction == "none" else losses.sum()
        scale = _row_scale(h.shape[0], valid, rw, acc, h.device)
        losses, grad_h, grad_w = _walk((h, w), teacher, target, valid, rw, options, scale, wants)
        ctx.grads = (grad_h, grad_w)
        return losses.sum()

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        sh, sw, th, tw, target, row_weight = ctx.saved_tensors
        if torch.is_grad_enabled():
            # create_graph=True: the stored gradients are constants; the definition's own
            # graph gives exact higher derivatives.
            g_sh, g_sw, _, _ = differentiate_definition(
                "linear_distillation", ctx.definition, (sh, sw, th, tw), grad_output)
            return g_sh, g_sw, None, None, None, None, None, None, None, None
        wants = (ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        grads: tuple[torch.Tensor | None, ...] | None
        grads, ctx.grads = ctx.grads, None
        acc = torch.promote_types(torch.float32, torch.promote_types(sh.dtype, sw.dtype))
        upstream: torch.Tensor | None = grad_output  # None once folded into the row scale
        if grads is None:  # reduction="none", or a second backward with retain_graph=True
            h, w = sh.to(acc), sw.to(acc)
            valid = None if target is None else target != ctx.options[4]
            rw = None if row_weight is None else row_weight.to(acc)
            scale = _row_scale(h.shape[0], valid, rw, acc, h.device)
            if ctx.reduction == "none":
                scale = scale * grad_output.to(acc)
            grads = _walk((h, w), (th, tw.to(acc)), target, valid, rw, ctx.options, scale,
                          wants)[1:]
            if ctx.reduction == "none":
                upstream = None
        if upstream is not None:
            go = upstream.to(acc)
            grads = tuple(None if g is None else g.mul_(go) for g in grads)
        g_sh, g_sw = (None if g is None else g.to(t.dtype) for g, t in zip(grads, (sh, sw)))
        return g_sh, g_sw, None, None, None, None, None, None, None, None


# --- registration ----------------------------------------------------------------------------


def _plain_tensor(t: torch.Tensor) -> bool:
    """Storage to read and no forward-mode tangent: not a torch.func wrapper or dual tensor."""
    try:
        t.data_ptr()
    except (RuntimeError, NotImplementedError):
        return False
    # torch.autograd.forward_ad.unpack_dual is unannotated in torch's source
    dual = torch.autograd.forward_ad.unpack_dual(t)  # type: ignore[no-untyped-call]
    return dual.tangent is None


def _supports(student_hidden: torch.Tensor, student_weight: torch.Tensor,
              teacher_hidden: torch.Tensor, teacher_weight: torch.Tensor,
              target: torch.Tensor | None, *, weight: torch.Tensor | None = None,
              temperature: float | torch.Tensor = 1.0, alpha: float = 1.0,
              divergence: str = "forward_kl", beta: float | torch.Tensor = 0.5,
              ignore_index: int = -100, reduction: str = "sum",
              definition: Callable[..., torch.Tensor] | None = None) -> str | None:
    if torch.compiler.is_compiling():
        return "torch.compile is tracing (the compiled graph uses the definition)"
    tensors = [t for t in (student_hidden, student_weight, teacher_hidden, teacher_weight,
                           target, weight) if t is not None]
    if not all(_plain_tensor(t) for t in tensors):
        return "inside a torch.func transform or forward-mode AD (no custom Function there)"
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        return f"tensors on several devices ({sorted(map(str, devices))})"
    for name, value in (("temperature", temperature), ("alpha", alpha), ("beta", beta)):
        if isinstance(value, torch.Tensor):
            return f"{name} is a tensor (the definition differentiates tensor hyperparameters)"
    if divergence not in DIVERGENCES or reduction not in ("sum", "none") or definition is None:
        return "an option this path does not implement"
    return None


@register("linear_distillation", "torch", name="chunked_linear_distillation",
          devices=("cpu", "cuda"),
          dtypes=(torch.float16, torch.bfloat16, torch.float32, torch.float64),
          double_backward=True, supports=_supports, traceable=False,
          description="block-wise logits, divergence and closed-form gradients; never holds "
                      "the [N, V] logits",
          options=("temperature", "alpha", "divergence", "beta", "ignore_index", "weight",
                   "reduction"))
def chunked_linear_distillation(student_hidden: torch.Tensor, student_weight: torch.Tensor,
                                teacher_hidden: torch.Tensor, teacher_weight: torch.Tensor,
                                target: torch.Tensor | None, *, weight: torch.Tensor | None,
                                temperature: float, alpha: float, divergence: str, beta: float,
                                ignore_index: int, reduction: str,
                                definition: Callable[..., torch.Tensor]) -> torch.Tensor:
    """The definition's per-row terms (``reduction="none"``) or their sum, block by block.

    Arguments as the definition passes them: 2-D hidden states, the weights, the flat
    target (or None), the flat per-row ``weight`` (or None) and Python-number options.
    """
    track = torch.is_grad_enabled() and (student_hidden.requires_grad
                                         or student_weight.requires_grad)
    options: _Options = (float(temperature), float(alpha), divergence, float(beta),
                         int(ignore_index))
    # torch.autograd.Function.apply is unannotated in torch's source
    out: torch.Tensor = LinearDistillation.apply(  # type: ignore[no-untyped-call]
        student_hidden, student_weight, teacher_hidden, teacher_weight, target, weight,
        options, reduction, definition, track)
    return out
