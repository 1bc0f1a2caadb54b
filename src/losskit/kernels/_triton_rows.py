"""The Triton softmax-row kernel: loss and gradient of cross entropy / focal in one pass.

Imported only by :mod:`losskit.kernels.triton_xent` when a Triton accelerator runs (it
imports triton); ``import losskit`` never loads it. Under ``TRITON_INTERPRET=1`` the same
kernel runs on CPU tensors in Triton's interpreter, which is how the tests check it
without a GPU.

One program per row of ``x [N, C]`` (any float dtype; arithmetic in float32):

* pass 1 (online softmax, Milakov & Gimelshein 2018): the running maximum ``m`` and
  ``s = sum_c exp(x_c - m)``, rescaled when ``m`` grows; with label smoothing also
  ``sum_c w_c (x_c - m)`` kept relative to the current ``m`` (exact at logits of 1e4,
  where ``sum_c w_c x_c - W m`` would cancel); for focal ``sum_{c != t} exp(x_c - m)``,
  which gives ``1 - p_t`` without the cancellation of ``1 - exp(log p_t)`` near 1;
* the row's loss, with ``log p_t = (x_t - m) - log s`` (never ``x_t - (m + log s)``);
* pass 2 (when asked): ``gs_i * dloss_i / dx_i`` written to ``grad`` (which may be ``x``
  itself: each element is read before it is overwritten, by the same program).

Formulas (``w`` class weights or 1, ``W = sum_c w_c``, ``b = ls / C``, ``p = softmax(x)``)::

    cross entropy  loss = w_t [-(1 - ls) log p_t + z lse^2] + [w_t > 0] b sum_c w_c (-log p_c)
                   grad = (a + b' W + 2 z w_t lse) p - b' w - a onehot_t,
                          a = (1 - ls) w_t,  b' = [w_t > 0] b
    focal (g > 0)  loss = -w_t q^g log p_t,   q = 1 - p_t
                   grad = w_t (q^g - g q^(g-1) p_t log p_t) (p - onehot_t)

The ``[w_t > 0]`` factor is the definition's: a target class of weight 0 removes the
whole position, its label-smoothing term included. With ``softcap`` the kernel first
replaces ``x`` by ``c tanh(x / c)`` and multiplies the gradient by ``1 - tanh^2``.
Ignored rows (``target == ignore_index``) get loss 0 and a zero gradient row; any other
target outside ``0..C-1`` gets a NaN loss and NaN gradient (a visible error that costs
no device sync, where the definition would fail an index assertion on CUDA).

No ``tl.dot`` is used, so nothing here depends on the interpreter's bfloat16 matrix
product (which is wrong in Triton 3.8 / 3.9); loading, converting and storing bfloat16
are exact in the interpreter.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["launch_rows"]


@triton.jit
def _tanh(y):
    # tl has no tanh that also runs in the interpreter (libdevice does not); this form
    # never overflows: e = exp(-2|y|) is in (0, 1].
    e = tl.exp(-2.0 * tl.abs(y))
    t = (1.0 - e) / (1.0 + e)
    return tl.where(y < 0, -t, t)


@triton.jit
def _softmax_rows_kernel(
    X, stride_x, T, CW, GS, stride_gs, LOSS, G, stride_g,
    n_cols, ignore_index, label_smoothing, z_loss, gamma, softcap,
    HAS_CW: tl.constexpr, SMOOTH: tl.constexpr, ZLOSS: tl.constexpr, FOCAL: tl.constexpr,
    SOFTCAP: tl.constexpr, WANT_GRAD: tl.constexpr, BLOCK: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    x_row = X + row * stride_x
    g_row = G + row * stride_g
    t = tl.load(T + row).to(tl.int64)

    if t == ignore_index:
        tl.store(LOSS + row, 0.0)
        if WANT_GRAD:
            for start in range(0, n_cols, BLOCK):
                offs = start + tl.arange(0, BLOCK)
                zero = tl.zeros((BLOCK,), dtype=tl.float32)
                tl.store(g_row + offs, zero.to(G.dtype.element_ty), mask=offs < n_cols)
        return

    bad = (t < 0) | (t >= n_cols)
    t = tl.where(bad, 0, t)
    x_t = tl.load(x_row + t).to(tl.float32)
    if SOFTCAP:
        x_t = softcap * _tanh(x_t / softcap)
    w_t = 1.0
    if HAS_CW:
        w_t = tl.load(CW + t).to(tl.float32)

    # pass 1: online max, normalizer, smoothing sum, non-target mass
    m = float("-inf")
    s = 0.0
    smooth = 0.0       # sum_c w_c (x_c - m) over the columns seen, relative to the current m
    seen_w = 0.0       # sum_c w_c over the columns seen
    other = 0.0        # sum_{c != t} exp(x_c - m)
    for start in range(0, n_cols, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        inside = offs < n_cols
        x = tl.load(x_row + offs, mask=inside, other=float("-inf")).to(tl.float32)
        if SOFTCAP:
            x = tl.where(inside, softcap * _tanh(x / softcap), float("-inf"))
        m_new = tl.maximum(m, tl.max(x, 0))
        e = tl.exp(x - m_new)
        rescale = tl.exp(m - m_new)
        s = s * rescale + tl.sum(e, 0)
        if FOCAL:
            other = other * rescale + tl.sum(tl.where(offs == t, 0.0, e), 0)
        if SMOOTH:
            if HAS_CW:
                w = tl.load(CW + offs, mask=inside, other=0.0).to(tl.float32)
            else:
                w = tl.where(inside, 1.0, 0.0)
            # shift the running sum to the new maximum (0 before any column is seen)
            shift = seen_w * (tl.where(seen_w > 0, m, m_new) - m_new)
            smooth = smooth + shift + tl.sum(w * tl.where(inside, x - m_new, 0.0), 0)
            seen_w = seen_w + tl.sum(w, 0)
        m = m_new

    log_s = tl.log(s)
    logp_t = (x_t - m) - log_s
    lse = m + log_s
    if FOCAL:
        tiny = 1.1754943508222875e-38
        q = tl.maximum(other / s, tiny)
        log_q = tl.log(q)
        qg = tl.exp(gamma * log_q)
        p_t = tl.exp(logp_t)
        loss = -w_t * qg * logp_t
        a = w_t * (qg - gamma * tl.exp((gamma - 1.0) * log_q) * p_t * logp_t)
        b = 0.0
        coef = a
    else:
        a = (1.0 - label_smoothing) * w_t
        loss = -a * logp_t
        b = 0.0
        coef = a
        if SMOOTH:
            b = label_smoothing / n_cols
            if HAS_CW:
                b = tl.where(w_t > 0, b, 0.0)
            loss += b * (seen_w * log_s - smooth)
            coef += b * seen_w
        if ZLOSS:
            loss += z_loss * w_t * lse * lse
            coef += 2.0 * z_loss * w_t * lse
    loss = tl.where(bad, float("nan"), loss)
    tl.store(LOSS + row, loss)

    if WANT_GRAD:
        gs = tl.load(GS + row * stride_gs).to(tl.float32)
        coef = coef * gs
        hit = a * gs
        spread = b * gs
        for start in range(0, n_cols, BLOCK):
            offs = start + tl.arange(0, BLOCK)
            inside = offs < n_cols
            x = tl.load(x_row + offs, mask=inside, other=0.0).to(tl.float32)
            if SOFTCAP:
                th = _tanh(x / softcap)
                x = softcap * th
            p = tl.exp((x - m) - log_s)
            g = coef * p - tl.where(offs == t, hit, 0.0)
            if SMOOTH:
                if HAS_CW:
                    w = tl.load(CW + offs, mask=inside, other=0.0).to(tl.float32)
                    g -= spread * w
                else:
                    g -= spread
            if SOFTCAP:
                g = g * (1.0 - th * th)
            g = tl.where(bad, float("nan"), g)
            tl.store(g_row + offs, g.to(G.dtype.element_ty), mask=inside)


#: Largest column block per step. 32768 elements per program is what Liger-Kernel tuned
#: for its row kernel on A100/H100 (with 32 warps); a smaller block only adds loop steps.
#: Tests lower it to put several blocks (and a ragged last one) in small rows.
MAX_BLOCK = 32768


def launch_rows(x: torch.Tensor, target: torch.Tensor, *, class_weight: torch.Tensor | None,
                ignore_index: int, label_smoothing: float,
                z_loss: float, gamma: float, softcap: float | None,
                grad_scale: torch.Tensor | None, grad_out: torch.Tensor | None,
                loss_out: torch.Tensor | None = None) -> torch.Tensor:
    """Run the kernel over the rows of ``x [N, C]`` (last axis contiguous).

    ``class_weight [C]`` is a float32 tensor on ``x``'s device; ``grad_scale`` is a float32
    0-dim or ``[N]`` tensor (the gradient of row ``i`` is multiplied by it); ``grad_out``
    receives the gradient (it may be ``x``); None skips pass 2. Returns the float32 per-row
    loss ``[N]`` (written into ``loss_out`` when given). Nothing here reads tensor data on
    the host: no device synchronization.
    """
    n, c = x.shape
    loss = loss_out if loss_out is not None else torch.empty(n, dtype=torch.float32,
                                                              device=x.device)
    if n == 0:
        return loss
    want_grad = grad_out is not None
    block = min(MAX_BLOCK, triton.next_power_of_2(max(c, 1)))
    dummy = loss  # a valid pointer for arguments a constexpr flag switches off
    gs = grad_scale if grad_scale is not None else dummy
    _softmax_rows_kernel[(n,)](
        x, x.stride(0), target,
        class_weight if class_weight is not None else dummy,
        gs, (gs.stride(0) if gs.dim() else 0) if want_grad else 0,
        loss, grad_out if want_grad else x, grad_out.stride(0) if want_grad else 0,
        c, ignore_index, float(label_smoothing), float(z_loss), float(gamma),
        float(softcap) if softcap is not None else 1.0,
        HAS_CW=class_weight is not None, SMOOTH=bool(label_smoothing) and gamma == 0,
        ZLOSS=bool(z_loss) and gamma == 0, FOCAL=gamma > 0, SOFTCAP=softcap is not None,
        WANT_GRAD=want_grad, BLOCK=block,
        num_warps=32 if block >= 8192 else (8 if block >= 1024 else 4),
    )
    return loss
