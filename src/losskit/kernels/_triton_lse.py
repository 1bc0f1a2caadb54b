"""The Triton kernels of the contrastive log-sum-exp (info_nce, nt_xent, supcon).

Imported only by :mod:`losskit.kernels.triton_contrastive` when its accelerator runs (it
imports triton); ``import losskit`` never loads it. Under ``TRITON_INTERPRET=1`` the same
kernels run on CPU tensors in Triton's interpreter, which is how the tests check them
without a GPU.

Both kernels see rows ``x [n_x, d]`` against rows ``y [n_y, d]`` (any strides; float32,
float16 or bfloat16) with the logits ``s_ij = scale <x_i, y_j>`` (``scale = 1 / t``, read
from a one-element float32 tensor on the device, so a learnable temperature costs no
host read). Column ``j`` of row ``i`` is left out where ``j - i == own_shift`` (the
anchor's own column) and past the end. One program per block of ``BLOCK_X`` rows, which
it keeps while it walks the ``y`` rows in tiles of ``BLOCK_Y``; every logits tile is a
``tl.dot`` of a ``[BLOCK_X, d]`` and a ``[d, BLOCK_Y]`` tile (``d`` padded to
``BLOCK_D``, a power of two of at least 16) and lives only in registers: neither kernel
ever writes an ``n_x x n_y`` matrix, in forward or in backward (flash attention's scheme,
Dao et al. 2022, without the value matrix).

* :func:`launch_forward`: per row, ``lse_i = log sum_j exp(s_ij)`` by the online
  log-sum-exp (Milakov & Gimelshein 2018): a running maximum ``m`` and ``l = sum
  exp(s - m)``, rescaled by ``exp(m_old - m_new)`` when the maximum grows. A row with no
  column has ``lse = -inf``; a NaN logit makes its row's ``lse`` NaN.
* :func:`launch_backward`: the logits tiles are recomputed and turned into the weights
  ``w_ij = coef_i exp(s_ij - lse_i)`` (row statistics) and/or ``coef_j exp(s_ij - lse_j)``
  (column statistics: the transposed term, for a symmetric matrix or the candidates'
  side), and ``out_i = scale sum_j w_ij y_j`` is accumulated in float32. With ``coef =
  upstream gradient x row weight x |P(i)|`` that is the softmax part of the gradient of
  ``sum_i coef_i lse_i``; the positives' part is linear and stays in torch.

Precision: logits, the running statistics and every accumulation are float32. float32
tiles go to ``tl.dot`` with ``input_precision="ieee"`` unless torch itself allows TF32
for float32 matrix products (``torch.get_float32_matmul_precision() != "highest"``), so
the kernel rounds like the definition's ``a @ c.T``. float16 / bfloat16 tiles go to
``tl.dot`` as they are (tensor cores, float32 accumulation); the backward's weight tile is
rounded to that dtype for its product, as flash attention rounds its probabilities.
Triton's interpreter (3.8 / 3.9) computes ``tl.dot`` on bfloat16 operands wrongly (errors
of ~1e10, where float32 and float16 operands are exact), so under the interpreter
(``UPCAST``, set by the launchers when ``TRITON_INTERPRET=1``) bfloat16 tiles are upcast
to float32 before every product: the tests here prove the bfloat16 loads, the float32
statistics and the stores, and the bfloat16 tensor-core path is proven only on a GPU
(``tests/test_cuda.py``).
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

__all__ = ["BLOCK_X", "BLOCK_Y", "launch_backward", "launch_forward", "tiles"]


@triton.jit
def _logits(x, Y, syn, syd, cols, dims, n_y, D, scale,
            UPCAST: tl.constexpr, PRECISION: tl.constexpr):
    """The ``y`` tile (as loaded) and the float32 logits tile ``scale x y^T``."""
    ptrs = Y + cols[:, None].to(tl.int64) * syn + dims[None, :] * syd
    y = tl.load(ptrs, mask=(cols < n_y)[:, None] & (dims < D)[None, :], other=0.0)
    yd = y.to(tl.float32) if UPCAST else y
    s = tl.dot(x, tl.trans(yd), input_precision=PRECISION) * scale
    return y, yd, s


@triton.jit
def _kept(rows, cols, n_y, own_shift, EXCLUDE: tl.constexpr):
    """``[BLOCK_X, BLOCK_Y]`` (or ``[1, BLOCK_Y]``): the columns that count."""
    keep = (cols < n_y)[None, :]
    if EXCLUDE:
        keep = keep & ((cols[None, :] - rows[:, None]) != own_shift)
    return keep


@triton.jit
def _load_rows(X, sxn, sxd, rows, dims, n_x, D, UPCAST: tl.constexpr):
    ptrs = X + rows[:, None].to(tl.int64) * sxn + dims[None, :] * sxd
    x = tl.load(ptrs, mask=(rows < n_x)[:, None] & (dims < D)[None, :], other=0.0)
    return x.to(tl.float32) if UPCAST else x


@triton.jit
def _lse_kernel(
    X, sxn, sxd, Y, syn, syd, SCALE, LSE, n_x, n_y, D, own_shift,
    EXCLUDE: tl.constexpr, UPCAST: tl.constexpr, PRECISION: tl.constexpr,
    BLOCK_X: tl.constexpr, BLOCK_Y: tl.constexpr, BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_X + tl.arange(0, BLOCK_X)
    dims = tl.arange(0, BLOCK_D)
    x = _load_rows(X, sxn, sxd, rows, dims, n_x, D, UPCAST)
    scale = tl.load(SCALE)
    m = tl.full((BLOCK_X,), float("-inf"), tl.float32)
    total = tl.zeros((BLOCK_X,), tl.float32)
    for start in range(0, n_y, BLOCK_Y):
        cols = start + tl.arange(0, BLOCK_Y)
        _, _, s = _logits(x, Y, syn, syd, cols, dims, n_y, D, scale, UPCAST, PRECISION)
        s = tl.where(_kept(rows, cols, n_y, own_shift, EXCLUDE), s, float("-inf"))
        m_new = tl.maximum(m, tl.max(s, 1))
        # A row with no column yet keeps m = -inf: shift by 0 there (no -inf - -inf).
        base = tl.where(m_new == float("-inf"), 0.0, m_new)
        total = total * tl.exp(m - base) + tl.sum(tl.exp(s - base[:, None]), 1)
        m = m_new
    # log(0) = -inf for a row without columns; NaN stays NaN (exp(NaN) enters total).
    tl.store(LSE + rows, m + tl.log(total), mask=rows < n_x)


@triton.jit
def _grad_kernel(
    X, sxn, sxd, Y, syn, syd, SCALE, LSE_X, COEF_X, LSE_Y, COEF_Y, OUT, son, sod,
    n_x, n_y, D, own_shift,
    EXCLUDE: tl.constexpr, X_STATS: tl.constexpr, Y_STATS: tl.constexpr,
    UPCAST: tl.constexpr, PRECISION: tl.constexpr,
    BLOCK_X: tl.constexpr, BLOCK_Y: tl.constexpr, BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_X + tl.arange(0, BLOCK_X)
    dims = tl.arange(0, BLOCK_D)
    in_rows = rows < n_x
    x = _load_rows(X, sxn, sxd, rows, dims, n_x, D, UPCAST)
    scale = tl.load(SCALE)
    if X_STATS:
        lse_x = tl.load(LSE_X + rows, mask=in_rows, other=0.0)
        coef_x = tl.load(COEF_X + rows, mask=in_rows, other=0.0)
    acc = tl.zeros((BLOCK_X, BLOCK_D), tl.float32)
    for start in range(0, n_y, BLOCK_Y):
        cols = start + tl.arange(0, BLOCK_Y)
        y, yd, s = _logits(x, Y, syn, syd, cols, dims, n_y, D, scale, UPCAST, PRECISION)
        # Left-out columns at -inf before exp: their weight is exactly 0 (never inf * 0).
        s = tl.where(_kept(rows, cols, n_y, own_shift, EXCLUDE), s, float("-inf"))
        w = tl.zeros((BLOCK_X, BLOCK_Y), tl.float32)
        if X_STATS:
            w += coef_x[:, None] * tl.exp(s - lse_x[:, None])
        if Y_STATS:
            in_cols = cols < n_y
            lse_y = tl.load(LSE_Y + cols, mask=in_cols, other=0.0)
            coef_y = tl.load(COEF_Y + cols, mask=in_cols, other=0.0)
            w += coef_y[None, :] * tl.exp(s - lse_y[None, :])
        if UPCAST:
            acc += tl.dot(w, yd, input_precision=PRECISION)
        else:
            acc += tl.dot(w.to(y.dtype), y, input_precision=PRECISION)
    ptrs = OUT + rows[:, None].to(tl.int64) * son + dims[None, :] * sod
    tl.store(ptrs, acc * scale, mask=in_rows[:, None] & (dims < D)[None, :])


#: Caps on the rows per program and per tile of the other side (tests lower both to 16,
#: ``tl.dot``'s smallest, so small inputs span several ragged tiles).
BLOCK_X = 64
BLOCK_Y = 64


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "").strip().lower() in ("1", "true", "yes", "on")


def tiles(dtype: torch.dtype, block_d: int) -> tuple[int, int, int]:
    """``(BLOCK_X, BLOCK_Y, num_warps)`` for rows of ``block_d`` (padded) columns.

    Not timed on a GPU. Chosen from Triton 3.9's ahead-of-time compilation for sm_80,
    sm_86 and sm_90 (no GPU needed; tests/test_triton.py repeats it for sm_90): every
    configuration fits in 99 KB of shared memory (the smallest limit from sm_86 on) with
    two pipeline stages, with no or a few bytes of register spills. float32 tiles are
    multiplied without tensor cores (IEEE: the operands are held in registers), so they
    are half as tall as 16-bit ones: 64 x 64 float32 tiles spill kilobytes per thread at
    ``d = 128``.
    """
    if dtype == torch.float32:
        x, y = 32, 64 if block_d <= 32 else 32
        warps = 4 if block_d <= 32 else 8
    else:
        x, y = 64, 64 if block_d <= 128 else 32
        warps = 4 if block_d <= 64 else 8
    return min(x, BLOCK_X), min(y, BLOCK_Y), warps


def _meta(x: torch.Tensor, own_shift: int | None) -> dict[str, object]:
    d = x.shape[1]
    block_d = max(16, triton.next_power_of_2(max(d, 1)))
    if x.dtype == torch.float32 and torch.get_float32_matmul_precision() == "highest":
        precision = "ieee"
    else:
        precision = "tf32"  # Triton's default; it concerns float32 operands only
    block_x, block_y, warps = tiles(x.dtype, block_d)
    return dict(EXCLUDE=own_shift is not None,
                UPCAST=_interpreting() and x.dtype == torch.bfloat16,
                PRECISION=precision, BLOCK_X=block_x, BLOCK_Y=block_y, BLOCK_D=block_d,
                num_warps=warps, num_stages=2)


def launch_forward(x: torch.Tensor, y: torch.Tensor, scale: torch.Tensor,
                   own_shift: int | None) -> torch.Tensor:
    """``lse [n_x]`` (float32) of the logits ``scale x y^T`` row by row, leaving out column
    ``i + own_shift`` of row ``i`` (none when ``own_shift`` is None). ``x`` and ``y`` share
    a dtype and a device with ``scale`` (a one-element float32 tensor). Reads no tensor on
    the host: no device synchronization."""
    n_x, d = x.shape
    lse = torch.empty(n_x, dtype=torch.float32, device=x.device)
    if n_x == 0:
        return lse
    meta = _meta(x, own_shift)
    grid = (triton.cdiv(n_x, meta["BLOCK_X"]),)
    _lse_kernel[grid](x, *x.stride(), y, *y.stride(), scale, lse, n_x, y.shape[0], d,
                      0 if own_shift is None else own_shift, **meta)
    return lse


def launch_backward(x: torch.Tensor, y: torch.Tensor, scale: torch.Tensor,
                    x_stats: tuple[torch.Tensor, torch.Tensor] | None,
                    y_stats: tuple[torch.Tensor, torch.Tensor] | None,
                    own_shift: int | None) -> torch.Tensor:
    """``out [n_x, d]`` (float32): ``scale sum_j w_ij y_j`` with ``w_ij = coef_i
    exp(s_ij - lse_i)`` for ``x_stats = (lse, coef)`` of the rows and/or ``coef_j
    exp(s_ij - lse_j)`` for ``y_stats`` of the columns (float32 ``[n_x]`` / ``[n_y]``,
    finite ``lse``), over the columns that count (see :func:`launch_forward`)."""
    n_x, d = x.shape
    out = torch.empty(n_x, d, dtype=torch.float32, device=x.device)
    if n_x == 0:
        return out
    meta = _meta(x, own_shift)
    grid = (triton.cdiv(n_x, meta["BLOCK_X"]),)
    dummy = scale  # a valid pointer for statistics a constexpr flag switches off
    lse_x, coef_x = x_stats if x_stats is not None else (dummy, dummy)
    lse_y, coef_y = y_stats if y_stats is not None else (dummy, dummy)
    _grad_kernel[grid](x, *x.stride(), y, *y.stride(), scale, lse_x, coef_x, lse_y, coef_y,
                       out, *out.stride(), n_x, y.shape[0], d,
                       0 if own_shift is None else own_shift,
                       X_STATS=x_stats is not None, Y_STATS=y_stats is not None, **meta)
    return out
