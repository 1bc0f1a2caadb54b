"""Row-wise log-sum-exp of a similarity matrix that is never stored whole.

The contrastive losses (``info_nce``, ``nt_xent``, ``supcon``) all need, for every
anchor ``i``, ``lse_i = log sum_j exp(scale * q_i . k_j)`` over a set of candidate
keys, with at most one column excluded per row (the anchor itself). Plain autograd
would keep the ``[M, N]`` similarity matrix, its exponential and its softmax alive
until backward: three ``M x N`` tensors, 800 MB at ``M = N = 8192``.

:class:`SimilarityLogSumExp` works in blocks of rows instead. Forward computes each
block, reduces it to its log-sum-exp and drops it; backward recomputes the block
and turns it into gradients (``d lse_i / d s_ij = softmax_ij``). Peak memory is one
block (``_BLOCK_ELEMENTS`` floats) plus the ``[M, d]`` and ``[N, d]`` inputs and
gradients, at the price of one extra matrix product.

When the queries *are* the keys and row ``i`` excludes column ``i`` (``nt_xent`` and
``supcon`` in one process), the similarity matrix is symmetric and the key-side
gradient of block ``b`` can be read from the same recomputed block, so backward
needs one product per block instead of two.

When the whole matrix is small enough (at most ``_EAGER_ELEMENTS`` entries, 256 MB
of float32: 8192 x 8192) and a gradient will be needed, forward builds it once as a
scratch buffer, overwrites it with ``exp(S - shift)`` and already computes the
gradient for a constant upstream gradient (``d sum_i lse_i``: one product when S is
symmetric, two otherwise); only that ``[M, d]`` / ``[N, d]`` result is kept.
Backward then only scales it, which is the common case (``"mean"`` of the per-anchor
losses); with any other upstream gradient it falls back to the blockwise
recomputation. For a symmetric S whose row maxima are close enough to share one
shift (normalized embeddings) that is two products instead of three and one ``exp``
sweep instead of three, otherwise three products but still one sweep. The scratch
matrix lives only during forward and is well under half of what plain autograd keeps
(S, its masked copy and its log-softmax).
"""

from __future__ import annotations

import torch

__all__ = ["SimilarityLogSumExp", "similarity_logsumexp"]

# About 16 MB of float32 per block: large enough for efficient matrix products,
# small enough that the whole loss stays far below the size of the full matrix.
_BLOCK_ELEMENTS = 1 << 22
# Compute the gradient in forward when S has at most this many entries (float32 /
# float64 only); above it, backward recomputes the blocks (memory O(N d + block)).
_EAGER_ELEMENTS = 1 << 26


def _row_blocks(rows: int, cols: int):
    step = max(1, _BLOCK_ELEMENTS // max(cols, 1))
    for start in range(0, rows, step):
        yield start, min(rows, start + step)


def _block_logits(query: torch.Tensor, keys: torch.Tensor, scale: float,
                  exclude: torch.Tensor | None, start: int, stop: int) -> torch.Tensor:
    s = torch.mm(query[start:stop], keys.t()).mul_(scale)
    if exclude is not None:
        cols = exclude[start:stop]
        rows = torch.nonzero(cols >= 0).squeeze(1)
        s[rows, cols[rows]] = float("-inf")
    return s


class SimilarityLogSumExp(torch.autograd.Function):
    """``lse_i = logsumexp_j(scale * query_i . keys_j)`` over ``j != exclude_i``, blockwise.

    Inputs: query ``[M, d]``, keys ``[N, d]`` (same dtype), ``scale`` a float,
    ``exclude`` a long tensor ``[M]`` naming the column each row skips (``-1`` for
    none) or ``None``, ``grad_enabled`` whether autograd records this call (the
    gradient is only computed in forward when a backward can follow). Output ``[M]``;
    a row with no candidate left gives ``-inf``.
    """

    @staticmethod
    def forward(ctx, query, keys, scale, exclude, grad_enabled=True):
        ctx.scale = scale
        ctx.symmetric = query is keys and exclude is not None and bool(
            torch.equal(exclude, torch.arange(query.shape[0], device=exclude.device)))
        ctx.eager = (grad_enabled and any(ctx.needs_input_grad[:2])
                     and query.dtype in (torch.float32, torch.float64)
                     and query.shape[0] * keys.shape[0] <= _EAGER_ELEMENTS)
        if ctx.eager:
            lse, grad_q, grad_k = _eager_forward(query, keys, scale, exclude, ctx.symmetric,
                                                 ctx.needs_input_grad)
            ctx.save_for_backward(query, keys, lse, exclude, grad_q, grad_k)
            return lse
        lse = query.new_empty(query.shape[0])
        for start, stop in _row_blocks(query.shape[0], keys.shape[0]):
            lse[start:stop] = torch.logsumexp(
                _block_logits(query, keys, scale, exclude, start, stop), dim=1)
        ctx.save_for_backward(query, keys, lse, exclude)
        return lse

    @staticmethod
    def backward(ctx, grad_lse):
        if ctx.eager:
            query, keys, lse, exclude, grad_q, grad_k = ctx.saved_tensors
            flat = grad_lse.reshape(-1)
            if flat.numel() == 0 or bool((flat == flat[0]).all()):
                # Constant upstream gradient: the gradient of sum_i lse_i, scaled.
                g = flat[0] if flat.numel() else 0.0
                if ctx.symmetric:
                    return grad_q * g, None, None, None, None
                return (None if grad_q is None else grad_q * g,
                        None if grad_k is None else grad_k * g, None, None, None)
        else:
            query, keys, lse, exclude = ctx.saved_tensors
        scale = ctx.scale
        # A row whose candidates were all excluded has lse = -inf and no gradient;
        # replacing it by 0 makes exp(-inf - 0) = 0 instead of exp(-inf + inf) = NaN.
        lse = torch.where(torch.isfinite(lse), lse, 0.0)
        row_coef = grad_lse * scale
        if ctx.symmetric:
            # S is symmetric, so the column part of block b is exp(S_b - lse_cols) g_cols.
            grad = torch.zeros_like(query)
            for start, stop in _row_blocks(query.shape[0], keys.shape[0]):
                s = _block_logits(query, keys, scale, exclude, start, stop)
                w = torch.exp(s - lse[start:stop, None]).mul_(row_coef[start:stop, None])
                w.add_(torch.exp(s.sub_(lse[None, :])).mul_(row_coef[None, :]))
                grad[start:stop] = torch.mm(w, keys)
            # query and keys are one tensor: autograd sums both returned gradients.
            return grad, None, None, None, None
        grad_q = torch.zeros_like(query) if ctx.needs_input_grad[0] else None
        grad_k = torch.zeros_like(keys) if ctx.needs_input_grad[1] else None
        for start, stop in _row_blocks(query.shape[0], keys.shape[0]):
            s = _block_logits(query, keys, scale, exclude, start, stop)
            w = torch.exp(s.sub_(lse[start:stop, None])).mul_(row_coef[start:stop, None])
            if grad_q is not None:
                grad_q[start:stop] = torch.mm(w, keys)
            if grad_k is not None:
                grad_k.addmm_(w.t(), query[start:stop])
        return grad_q, grad_k, None, None, None


# Largest spread of the row maxima of S for which one shift serves every row: each row
# then keeps a term >= exp(-spread), far from underflow in the dtype.
_SHARED_SHIFT_SPREAD = {torch.float32: 60.0, torch.float64: 600.0}


def _eager_forward(query, keys, scale, exclude, symmetric, needs_grad):
    """``lse`` and the gradients of ``sum_i lse_i`` wrt query and keys, from one scratch S.

    S is overwritten in place by ``E = exp(S - shift)``: ``softmax_ij = E_ij / rowsum_i``.
    When S is symmetric and one shift fits every row, E is symmetric too and
    ``dS = P + P^T = E_ij (c_i + c_j)`` needs a single product with the keys.
    """
    # The scale is folded into the [M, d] side: no sweep over S for it.
    e = torch.mm(query * scale, keys.t())
    if exclude is not None:
        rows = torch.nonzero(exclude >= 0).squeeze(1)
        e[rows, exclude[rows]] = float("-inf")
    m = e.amax(dim=1) if e.shape[1] else e.new_full((e.shape[0],), float("-inf"))
    finite = torch.isfinite(m)
    m = torch.where(finite, m, 0.0)
    top = m[finite]
    shared = symmetric and top.numel() > 0 and bool(
        top.max() - top.min() < _SHARED_SHIFT_SPREAD[e.dtype])
    if shared:
        shift = top.max()
        e.sub_(shift).exp_()
        m = torch.full_like(m, shift)
    else:
        e.sub_(m[:, None]).exp_()
    total = e.sum(dim=1)
    lse = m + total.log()
    # softmax_ij = E_ij c_i / scale; c folds in the scale (d s_ij / d q_i = scale k_j).
    coef = torch.where(total > 0, total.reciprocal(), 0.0).mul_(scale)
    if shared:
        # E symmetric: dS = E_ij (c_i + c_j), one reused block buffer for the factor.
        factor = None
        for start, stop in _row_blocks(e.shape[0], e.shape[1]):
            if factor is None:
                factor = e.new_empty(stop - start, e.shape[1])
            f = factor[:stop - start]
            torch.add(coef[start:stop, None], coef[None, :], out=f)
            e[start:stop].mul_(f)
        return lse, torch.mm(e, keys), None
    e.mul_(coef[:, None])
    if symmetric:
        # dS = P + P^T (both uses of the one tensor).
        return lse, torch.mm(e, keys).addmm_(e.t(), query), None
    grad_k = torch.mm(e.t(), query) if needs_grad[1] else None
    grad_q = torch.mm(e, keys) if needs_grad[0] else None
    return lse, grad_q, grad_k


def similarity_logsumexp(query: torch.Tensor, keys: torch.Tensor, scale: float,
                         exclude: torch.Tensor | None = None) -> torch.Tensor:
    """Functional form of :class:`SimilarityLogSumExp` (see there)."""
    # Inside forward grad mode is always off: tell it whether a backward can follow.
    return SimilarityLogSumExp.apply(query, keys, float(scale), exclude, torch.is_grad_enabled())
