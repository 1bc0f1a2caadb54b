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
"""

from __future__ import annotations

import torch

__all__ = ["SimilarityLogSumExp", "similarity_logsumexp"]

# About 16 MB of float32 per block: large enough for efficient matrix products,
# small enough that the whole loss stays far below the size of the full matrix.
_BLOCK_ELEMENTS = 1 << 22


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
    none) or ``None``. Output ``[M]``; a row with no candidate left gives ``-inf``.
    """

    @staticmethod
    def forward(ctx, query, keys, scale, exclude):
        lse = query.new_empty(query.shape[0])
        for start, stop in _row_blocks(query.shape[0], keys.shape[0]):
            lse[start:stop] = torch.logsumexp(
                _block_logits(query, keys, scale, exclude, start, stop), dim=1)
        ctx.scale = scale
        ctx.symmetric = query is keys and exclude is not None and bool(
            torch.equal(exclude, torch.arange(query.shape[0], device=exclude.device)))
        ctx.save_for_backward(query, keys, lse, exclude)
        return lse

    @staticmethod
    def backward(ctx, grad_lse):
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
            return grad, None, None, None
        grad_q = torch.zeros_like(query) if ctx.needs_input_grad[0] else None
        grad_k = torch.zeros_like(keys) if ctx.needs_input_grad[1] else None
        for start, stop in _row_blocks(query.shape[0], keys.shape[0]):
            s = _block_logits(query, keys, scale, exclude, start, stop)
            w = torch.exp(s.sub_(lse[start:stop, None])).mul_(row_coef[start:stop, None])
            if grad_q is not None:
                grad_q[start:stop] = torch.mm(w, keys)
            if grad_k is not None:
                grad_k.addmm_(w.t(), query[start:stop])
        return grad_q, grad_k, None, None


def similarity_logsumexp(query: torch.Tensor, keys: torch.Tensor, scale: float,
                         exclude: torch.Tensor | None = None) -> torch.Tensor:
    """Functional form of :class:`SimilarityLogSumExp` (see there)."""
    return SimilarityLogSumExp.apply(query, keys, float(scale), exclude)
