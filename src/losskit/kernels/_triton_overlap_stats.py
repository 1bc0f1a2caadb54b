"""The Triton kernels of the overlap statistics (dice, jaccard, tversky, generalized_dice).

Imported only by :mod:`losskit.kernels.triton_overlap` when its accelerator runs (it
imports triton); ``import losskit`` never loads it. Under ``TRITON_INTERPRET=1`` the same
kernels run on CPU tensors in Triton's interpreter, which is how the tests check them
without a GPU.

Inputs: logits ``x [N, C, S]`` (any strides; float32, float16 or bfloat16, arithmetic in
float32), class indices ``t [N, S]`` (int64) and an optional mask ``v [N, S]`` of the
voxels that count. One program per tile of ``BLOCK_S`` voxels of one image, holding all
``C`` classes of those voxels (``BLOCK_C`` = C rounded up to a power of two):

* forward: ``p`` = softmax over the classes (or the sigmoid of each logit) of each voxel,
  then the tile's sums ``P_c = sum_s v_s p_cs``, ``I_c = sum_{s: t_s = c} v_s p_cs`` and
  ``T_c = sum_{s: t_s = c} v_s``, written to a ``[N, tiles, 3, C]`` float32 buffer that
  torch sums over the tiles. No one-hot tensor and no probabilities are stored; partial
  sums rather than atomics keep the result deterministic (the same summation order on
  every run).
* backward: the tile's probabilities are recomputed from the logits and the gradient
  written, with ``g_cs = gP_c + gI_c [t_s = c]``::

      softmax  dx_cs = v_s p_cs (g_cs - sum_k p_ks g_ks)
      sigmoid  dx_cs = v_s p_cs (1 - p_cs) g_cs

The softmax is taken relative to the voxel's largest logit (finite at logits of 1e4);
the sigmoid as ``1 / (1 + e)`` or ``e / (1 + e)`` with ``e = exp(-|x|)`` and its slope as
``e / (1 + e)^2``, which never overflows and has no cancellation in ``1 - p``. The mask
multiplies (never selects), so a NaN logit gives a NaN statistic as in the definition. A
counted voxel whose class index is outside ``0..C-1`` makes its image's prediction
volumes and its gradient NaN: a visible error that costs no device synchronization, where
the definition would fail an index assertion on CUDA.

No ``tl.dot`` is used, so nothing here depends on the interpreter's bfloat16 matrix
product (wrong in Triton 3.8 / 3.9).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["MAX_TILE", "launch_backward", "launch_forward", "tile_shape"]


@triton.jit
def _tile(X, sxn, sxc, sxs, T, stn, sts, V, svn, svs, n, offs_c, offs_s, C, S,
          SIGMOID: tl.constexpr, HAS_VALID: tl.constexpr):
    """Probabilities ``p [BLOCK_C, BLOCK_S]``, their slope for the sigmoid (the softmax's
    backward needs only ``p``), the voxel weights ``w [BLOCK_S]`` (1, or the mask; 0 past
    the end; NaN at a bad index) and the target one-hot ``hit`` (as a comparison)."""
    in_c = offs_c < C
    in_s = offs_s < S
    inside = in_c[:, None] & in_s[None, :]
    ptrs = X + n * sxn + offs_c[:, None] * sxc + offs_s[None, :] * sxs
    x = tl.load(ptrs, mask=inside, other=0.0).to(tl.float32)
    if SIGMOID:
        e = tl.exp(-tl.abs(x))
        r = 1.0 / (1.0 + e)
        p = tl.where(x >= 0, r, e * r)
        slope = e * r * r
    else:
        # padded classes take no share of a voxel's softmax
        x = tl.where(in_c[:, None], x, float("-inf"))
        m = tl.max(x, 0)
        ex = tl.exp(x - m[None, :])
        p = ex / tl.sum(ex, 0)[None, :]
        slope = p
    t = tl.load(T + n * stn + offs_s * sts, mask=in_s, other=0).to(tl.int64)
    if HAS_VALID:
        w = tl.load(V + n * svn + offs_s * svs, mask=in_s, other=0).to(tl.float32)
    else:
        w = tl.where(in_s, 1.0, 0.0)
    bad = in_s & ((t < 0) | (t >= C))
    w = tl.where(bad, float("nan"), w)
    hit = offs_c[:, None] == t[None, :]
    return p, slope, w, hit


@triton.jit
def _overlap_forward_kernel(
    X, sxn, sxc, sxs, T, stn, sts, V, svn, svs, PART, n_tiles, C, S,
    SIGMOID: tl.constexpr, HAS_VALID: tl.constexpr, BLOCK_C: tl.constexpr,
    BLOCK_S: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    n = pid // n_tiles
    tile = pid % n_tiles
    offs_c = tl.arange(0, BLOCK_C)
    offs_s = tile * BLOCK_S + tl.arange(0, BLOCK_S).to(tl.int64)
    p, _, w, hit = _tile(X, sxn, sxc, sxs, T, stn, sts, V, svn, svs, n, offs_c, offs_s, C, S,
                         SIGMOID, HAS_VALID)
    pw = p * w[None, :]
    pred = tl.sum(pw, 1)
    inter = tl.sum(tl.where(hit, pw, 0.0), 1)
    target = tl.sum(tl.where(hit, w[None, :], 0.0), 1)
    base = PART + pid * 3 * C
    in_c = offs_c < C
    tl.store(base + offs_c, inter, mask=in_c)
    tl.store(base + C + offs_c, pred, mask=in_c)
    tl.store(base + 2 * C + offs_c, target, mask=in_c)


@triton.jit
def _overlap_backward_kernel(
    X, sxn, sxc, sxs, T, stn, sts, V, svn, svs, GI, GP, G, sgn, sgc, sgs, n_tiles, C, S,
    SIGMOID: tl.constexpr, HAS_VALID: tl.constexpr, BLOCK_C: tl.constexpr,
    BLOCK_S: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    n = pid // n_tiles
    tile = pid % n_tiles
    offs_c = tl.arange(0, BLOCK_C)
    offs_s = tile * BLOCK_S + tl.arange(0, BLOCK_S).to(tl.int64)
    p, slope, w, hit = _tile(X, sxn, sxc, sxs, T, stn, sts, V, svn, svs, n, offs_c, offs_s,
                             C, S, SIGMOID, HAS_VALID)
    in_c = offs_c < C
    g_pred = tl.load(GP + n * C + offs_c, mask=in_c, other=0.0)
    g_inter = tl.load(GI + n * C + offs_c, mask=in_c, other=0.0)
    g = g_pred[:, None] + tl.where(hit, g_inter[:, None], 0.0)
    if SIGMOID:
        dx = slope * g
    else:
        mean_g = tl.sum(p * g, 0)  # sum_k p_k g_k per voxel (padded classes have p = 0)
        dx = p * (g - mean_g[None, :])
    dx = dx * w[None, :]
    inside = in_c[:, None] & (offs_s < S)[None, :]
    ptrs = G + n * sgn + offs_c[:, None] * sgc + offs_s[None, :] * sgs
    tl.store(ptrs, dx.to(G.dtype.element_ty), mask=inside)


#: Elements (classes x voxels) of one program's tile: 4096 float32 values, 16 values per
#: thread and array at 8 warps (1024 voxels at 4 classes); not yet tuned on a GPU. Tests
#: lower it so small volumes span several tiles with a ragged last one.
MAX_TILE = 4096


def tile_shape(c: int) -> tuple[int, int]:
    """``(BLOCK_C, BLOCK_S)``: every class of ``BLOCK_S`` voxels per program."""
    block_c = triton.next_power_of_2(max(c, 1))
    return block_c, max(1, MAX_TILE // block_c)


def _common(x, index, valid):
    n, c, s = x.shape
    block_c, block_s = tile_shape(c)
    n_tiles = triton.cdiv(s, block_s)
    v = index if valid is None else valid.view(torch.uint8)  # a valid pointer either way
    args = (x, *x.stride(), index, *index.stride(), v, *v.stride())
    # 8 to 16 elements per thread and array (not tuned on a GPU)
    meta = dict(HAS_VALID=valid is not None, BLOCK_C=block_c, BLOCK_S=block_s,
                num_warps=8 if block_c * block_s >= 2048 else 4)
    return n, c, s, n_tiles, args, meta


def launch_forward(x: torch.Tensor, index: torch.Tensor, valid: torch.Tensor | None, *,
                   sigmoid: bool) -> torch.Tensor:
    """The float32 statistics ``[3, N, C]`` (intersection, prediction, target) of
    ``x [N, C, S]``, ``index [N, S]`` int64 and ``valid [N, S]`` bool or None, all on one
    device. Reads no tensor on the host: no device synchronization."""
    n, c, s, n_tiles, args, meta = _common(x, index, valid)
    if n * n_tiles == 0:
        return torch.zeros(3, n, c, dtype=torch.float32, device=x.device)
    part = torch.empty(n, n_tiles, 3, c, dtype=torch.float32, device=x.device)
    _overlap_forward_kernel[(n * n_tiles,)](*args, part, n_tiles, c, s, SIGMOID=sigmoid,
                                            **meta)
    return part.sum(1).transpose(0, 1)


def launch_backward(x: torch.Tensor, index: torch.Tensor, valid: torch.Tensor | None,
                    grad_inter: torch.Tensor, grad_pred: torch.Tensor, *,
                    sigmoid: bool) -> torch.Tensor:
    """``dL/dx`` (``x``'s dtype and layout) from the upstream gradients of the intersection
    and prediction statistics (``[N, C]`` each)."""
    n, c, s, n_tiles, args, meta = _common(x, index, valid)
    grad = torch.empty_like(x)
    if n * n_tiles == 0:
        return grad.zero_()
    gi = grad_inter.to(torch.float32).contiguous()
    gp = grad_pred.to(torch.float32).contiguous()
    _overlap_backward_kernel[(n * n_tiles,)](*args, gi, gp, grad, *grad.stride(), n_tiles, c,
                                             s, SIGMOID=sigmoid, **meta)
    return grad
