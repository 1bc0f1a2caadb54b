"""Softmax-contrastive losses without keeping the similarity matrix (backend ``"torch"``).

Registered as the accelerator of ``info_nce``, ``nt_xent`` and ``supcon``. At its dispatch
point each definition (:mod:`losskit.functional.metric_learning`) needs, for anchors
``a_i`` ``[M, d]`` and candidates ``c_j`` ``[N, d]`` (the anchors themselves when
``candidates`` is ``None``), the similarities ``s_ij = <a_i, c_j> / t`` and

    T_i = sum_{p in P(i)} (lse_i - s_ip),   lse_i = log sum_{j != x(i)} exp(s_ij),

where ``x(i) = exclude_offset + i`` is the anchor's own column (skipped; none when
``exclude_offset`` is ``None``) and ``P(i)`` its positives: the single column
``positive_index[i]``, or every column with the anchor's label except ``x(i)``. It returns
``out_i = row_weight_i * T_i`` (``reduction="none"``) or ``sum_i out_i``; the definition
does the rest (folding views, the mean's denominator, the empty-selection rule).

Plain autograd keeps the ``[M, N]`` matrix, its exponential and its softmax alive until
backward: 800 MB at ``M = N = 8192``. Here, with ``G_ij = d out / d s_ij =
rho_i (n_i softmax_ij - [j in P(i)])`` (``rho_i`` = upstream gradient times
``row_weight_i``, ``n_i = |P(i)|``):

    d a_i = (1/t) sum_j G_ij c_j,   d c_j = (1/t) sum_i G_ij a_i,
    d t   = -(1/t) sum_ij G_ij s_ij = -(1/t) sum_i <a_i, d a_i>,

so the temperature's exact gradient costs one ``[M, d]`` dot product with the anchors'
gradient (it is accumulated from every block through it). The positive part of ``T`` and of
``G`` is linear in the embeddings (``sum_p s_ip = <a_i, sum_p c_p> / t``), so positives never
touch the matrix: they go through per-label sums of the rows (:class:`_Problem`), ``O(N d)``.

* **Gradient in forward.** When the upstream gradient is one number (``"mean"`` /
  ``"sum"``) and the matrix has at most ``_EAGER_ELEMENTS`` entries (256 MB of float32),
  forward builds it once as scratch, overwrites it with ``exp(S - shift)`` and already
  forms the gradients; only ``[M, d]`` / ``[N, d]`` results are kept and backward scales
  them. When the anchors are the candidates (``candidates is None``: decided by how the
  loss calls, never by comparing data) ``S`` is symmetric; if moreover the embeddings are
  unit vectors and ``t`` is a number with ``2 / t`` small enough that ``exp(-2 / t)`` stays
  a normal number, one shift ``1 / t`` (the largest possible ``s``) serves every row,
  ``exp(S - shift)`` is symmetric too and ``G + G^T`` needs a single product.
* **Blockwise.** Otherwise forward keeps only ``lse`` (one block of rows at a time,
  ``_BLOCK_ELEMENTS`` entries) and backward recomputes each block: one product per block
  when ``S`` is symmetric, two otherwise.

``create_graph=True`` differentiates the definition itself
(:func:`~losskit.kernels.differentiate_definition`, with the closure the definition
passes as ``definition``). Declined: other distances than the inner product, several
positives per anchor each with its own denominator (``nt_xent`` with ``labels``), dtypes
other than float32/float64, ``torch.compile`` and ``torch.func`` transforms. It runs on
any device (``meta`` included); every tensor it makes is allocated on the input's device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from ._dispatch import differentiate_definition, register

__all__: list[str] = []

# About 16 MB of float32 per block: large enough for efficient matrix products, small
# enough that the whole loss stays far below the size of the full matrix.
_BLOCK_ELEMENTS = 1 << 22
# Compute the gradient in forward when S has at most this many entries; above it,
# backward recomputes the blocks (memory O((M + N) d + block)).
_EAGER_ELEMENTS = 1 << 26
# One shift for every row needs exp(-2 / t) to stay a normal number in the dtype.
_SHARED_SHIFT_LIMIT = {torch.float32: 80.0, torch.float64: 700.0}

#: 1 / temperature: a number, or a 0-dim tensor for a learnable temperature.
Scale = float | torch.Tensor
#: The definition's own computation at the dispatch point, ``(anchors, candidates, t)``.
Definition = Callable[[torch.Tensor, torch.Tensor | None, float | torch.Tensor], torch.Tensor]


def _row_blocks(rows: int, cols: int) -> Iterator[tuple[int, int]]:
    step = max(1, _BLOCK_ELEMENTS // max(cols, 1))
    for start in range(0, rows, step):
        yield start, min(rows, start + step)


class _Problem:
    """The call's fixed description (everything but the differentiable inputs).

    Positives enter only through linear maps, so no label mask is ever swept: ``gather(X)``
    gives each anchor ``sum_{j in P(i)} X_j`` over candidate-side rows ``X`` ``[N, *]`` and
    ``scatter(Y)`` each candidate ``sum_{i : j in P(i)} Y_i`` over anchor-side rows ``Y``
    ``[M, *]``. With labels they go through per-label sums: dense label ids come from a
    sort (no ``unique``, no data read), the sums from ``index_add`` into ``N + 1`` buckets
    (the last one empty, for anchors whose label no candidate has), and the anchor's own
    column is subtracted.
    """

    def __init__(self, loss: str, row_weight: torch.Tensor, anchor_labels: torch.Tensor | None,
                 candidate_labels: torch.Tensor | None, positive_index: torch.Tensor | None,
                 exclude_offset: int | None, unit_norm: bool) -> None:
        self.loss = loss
        self.row_weight = row_weight
        self.positive_index = positive_index
        self.exclude_offset = exclude_offset
        self.unit_norm = unit_norm
        if positive_index is None:
            assert anchor_labels is not None and candidate_labels is not None
            self.anchor_group, self.candidate_group = _label_groups(anchor_labels,
                                                                   candidate_labels)

    def logits(self, scaled: torch.Tensor, keys: torch.Tensor, start: int,
               stop: int) -> torch.Tensor:
        """``S[start:stop]`` with each row's own column at ``-inf``."""
        s = torch.mm(scaled[start:stop], keys.t())
        if self.exclude_offset is not None:
            s.diagonal(self.exclude_offset + start).fill_(float("-inf"))
        return s

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        if self.positive_index is not None:
            return x.index_select(0, self.positive_index)
        sums = x.new_zeros((x.shape[0] + 1, *x.shape[1:])).index_add_(0, self.candidate_group, x)
        out = sums.index_select(0, self.anchor_group)
        if self.exclude_offset is not None:
            m = self.anchor_group.shape[0]
            out = out - x[self.exclude_offset:self.exclude_offset + m]
        return out

    def scatter(self, y: torch.Tensor, n: int) -> torch.Tensor:
        if self.positive_index is not None:
            return y.new_zeros((n, *y.shape[1:])).index_add_(0, self.positive_index, y)
        sums = y.new_zeros((n + 1, *y.shape[1:])).index_add_(0, self.anchor_group, y)
        out = sums.index_select(0, self.candidate_group)
        if self.exclude_offset is not None:
            m = y.shape[0]
            out[self.exclude_offset:self.exclude_offset + m] -= y
        return out

    def count(self, like: torch.Tensor) -> torch.Tensor:
        if self.positive_index is not None:
            return like.new_ones(self.positive_index.shape[0])
        return self.gather(like.new_ones(self.candidate_group.shape[0]))


def _label_groups(anchor_labels: torch.Tensor,
                  candidate_labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense ids ``0..N-1`` of the candidates' labels and the anchors' ids (``N``: no match)."""
    n = candidate_labels.shape[0]
    ordered, order = candidate_labels.sort()
    first = torch.ones_like(ordered, dtype=torch.bool)
    first[1:] = ordered[1:] != ordered[:-1]
    group_of_sorted = first.cumsum(0) - 1
    candidate_group = torch.empty_like(group_of_sorted).scatter_(0, order, group_of_sorted)
    if n == 0:
        return torch.zeros_like(anchor_labels), candidate_group
    at = torch.searchsorted(ordered, anchor_labels.to(ordered.dtype)).clamp(max=n - 1)
    found = ordered.index_select(0, at) == anchor_labels
    anchor_group = torch.where(found, group_of_sorted.index_select(0, at), n)
    return anchor_group, candidate_group


def _terms(n_pos: torch.Tensor, lse: torch.Tensor, positive_sum: torch.Tensor) -> torch.Tensor:
    # A row with no positive (or no candidate, lse = -inf) contributes exactly 0.
    return torch.where(n_pos > 0, n_pos * lse - positive_sum, 0.0)


def _positive_logits(problem: _Problem, scaled: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """``sum_{p in P(i)} s_ip``, linear in the keys: ``<a_i / t, sum_p c_p>``."""
    return (scaled * problem.gather(keys)).sum(dim=1)


def _positive_grads(problem: _Problem, anchors: torch.Tensor, keys: torch.Tensor,
                    rho: torch.Tensor, scale: Scale,
                    symmetric: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The ``-rho_i [j in P(i)]`` part of G, through the products: ``(d a, d c)``."""
    da = problem.gather(keys).mul_(-(rho * scale)[:, None])
    dc = problem.scatter(anchors * (-(rho * scale))[:, None], keys.shape[0])
    if symmetric:
        return da.add_(dc), None
    return da, dc


def _forward_blockwise(problem: _Problem, anchors: torch.Tensor, keys: torch.Tensor,
                       scale: Scale) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    m, n = anchors.shape[0], keys.shape[0]
    scaled = anchors * scale
    lse = anchors.new_empty(m)
    for start, stop in _row_blocks(m, n):
        lse[start:stop] = torch.logsumexp(problem.logits(scaled, keys, start, stop), dim=1)
    n_pos = problem.count(anchors)
    return lse, n_pos, _terms(n_pos, lse, _positive_logits(problem, scaled, keys))


def _eager_forward(problem: _Problem, anchors: torch.Tensor, keys: torch.Tensor, scale: Scale,
                   symmetric: bool, need_keys: bool,
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(T, d a, d c)`` for upstream gradient 1 (``d c`` is None when symmetric or unneeded)."""
    m, n = anchors.shape[0], keys.shape[0]
    r = problem.row_weight
    scaled = anchors * scale
    n_pos = problem.count(anchors)
    positive_sum = _positive_logits(problem, scaled, keys)
    e = torch.mm(scaled, keys.t())
    if problem.exclude_offset is not None:
        e.diagonal(problem.exclude_offset).fill_(float("-inf"))
    shared_shift = (scale if symmetric and problem.unit_norm and isinstance(scale, float)
                    and 2.0 * scale < _SHARED_SHIFT_LIMIT[e.dtype] else None)
    shared = shared_shift is not None
    if shared_shift is not None:
        # |s_ij| <= 1/t for unit vectors: shift by the largest possible value.
        shift = anchors.new_full((m,), shared_shift)
        e.sub_(shared_shift).exp_()
    else:
        shift = e.amax(dim=1) if n else anchors.new_full((m,), float("-inf"))
        shift = torch.where(torch.isfinite(shift), shift, 0.0)
        e.sub_(shift[:, None]).exp_()
    total = e.sum(dim=1)
    lse = shift + total.log()
    terms = _terms(n_pos, lse, positive_sum)
    # softmax_ij = e_ij / total_i, so G_ij = coef_i e_ij - r_i [j in P(i)]; the second part
    # goes through _positive_grads.
    coef = torch.where(total > 0, r * n_pos / torch.where(total > 0, total, 1.0), 0.0)
    if shared:
        # e symmetric: (coef_i e_ij) + (coef_i e_ij)^T = e_ij (coef_i + coef_j), one product.
        # One reused block buffer holds the factor (fresh blocks would each be page-faulted).
        factor = None
        for start, stop in _row_blocks(m, n):
            if factor is None:
                factor = e.new_empty(stop - start, n)
            f = factor[:stop - start]
            torch.add(coef[start:stop, None], coef[None, :], out=f)
            e[start:stop].mul_(f)
        da, dc = torch.mm(e, anchors).mul_(scale), None
    else:
        e.mul_(coef[:, None])
        if symmetric:
            da, dc = torch.mm(e, anchors).addmm_(e.t(), anchors).mul_(scale), None
        else:
            da = torch.mm(e, keys).mul_(scale)
            dc = torch.mm(e.t(), anchors).mul_(scale) if need_keys else None
    pa, pc = _positive_grads(problem, anchors, keys, r, scale, symmetric)
    da = da.add_(pa)
    if dc is not None and pc is not None:
        dc = dc.add_(pc)
    return terms, da, dc


def _backward_blockwise(problem: _Problem, anchors: torch.Tensor, keys: torch.Tensor,
                        scale: Scale, lse: torch.Tensor, n_pos: torch.Tensor,
                        rho: torch.Tensor, symmetric: bool, need_keys: bool,
                        ) -> tuple[torch.Tensor, torch.Tensor | None]:
    m, n = anchors.shape[0], keys.shape[0]
    scaled = anchors * scale
    # A row without candidates has lse = -inf and no gradient; 0 keeps exp finite.
    lse = torch.where(torch.isfinite(lse), lse, 0.0)
    coef = rho * n_pos
    da = torch.zeros_like(anchors)
    dc = torch.zeros_like(keys) if (need_keys and not symmetric) else None
    for start, stop in _row_blocks(m, n):
        s = problem.logits(scaled, keys, start, stop)
        if symmetric:
            # Row part G[b] and, S being symmetric, the column part (G^T)[b] from one block.
            w = torch.exp(s - lse[start:stop, None]).mul_(coef[start:stop, None])
            w.add_(torch.exp(s.sub_(lse[None, :])).mul_(coef[None, :]))
            da[start:stop] = torch.mm(w, anchors)
            continue
        w = torch.exp(s.sub_(lse[start:stop, None])).mul_(coef[start:stop, None])
        da[start:stop] = torch.mm(w, keys)
        if dc is not None:
            dc.addmm_(w.t(), anchors[start:stop])
    da.mul_(scale)
    pa, pc = _positive_grads(problem, anchors, keys, rho, scale, symmetric)
    da.add_(pa)
    if dc is not None and pc is not None:
        dc.mul_(scale).add_(pc)
    return da, dc


def _temperature_grad(anchors: torch.Tensor, da: torch.Tensor, scale: Scale,
                      symmetric: bool) -> torch.Tensor:
    # d t = -(1/t) sum_ij G_ij s_ij = -(1/t) <a, d a>; symmetric d a holds G + G^T: twice.
    total = (anchors * da).sum()
    return -total * scale / 2.0 if symmetric else -total * scale


class _SoftmaxContrast(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, anchors: torch.Tensor, candidates: torch.Tensor | None,
                temperature: float | torch.Tensor, problem: _Problem, reduction: str,
                definition: Definition, track: bool) -> torch.Tensor:
        symmetric = candidates is None
        keys = anchors if candidates is None else candidates
        scale = 1.0 / temperature
        ctx.problem, ctx.reduction, ctx.definition = problem, reduction, definition
        ctx.symmetric, ctx.temperature_is_tensor = symmetric, isinstance(temperature, torch.Tensor)
        ctx.temperature_number = None if ctx.temperature_is_tensor else temperature
        need_anchor = track and ctx.needs_input_grad[0]
        need_keys = track and not symmetric and ctx.needs_input_grad[1]
        need_t = track and ctx.temperature_is_tensor and ctx.needs_input_grad[2]
        ctx.need = (need_anchor, need_keys, need_t)
        tensors = (anchors, candidates, temperature if ctx.temperature_is_tensor else None)
        eager = (reduction != "none" and any(ctx.need)
                 and anchors.shape[0] * keys.shape[0] <= _EAGER_ELEMENTS)
        ctx.grads = None
        if eager:
            terms, da, dc = _eager_forward(problem, anchors, keys, scale, symmetric, need_keys)
            dt = _temperature_grad(anchors, da, scale, symmetric) if need_t else None
            ctx.grads = (da if need_anchor else None, dc, dt)
            ctx.save_for_backward(*tensors)
        else:
            lse, n_pos, terms = _forward_blockwise(problem, anchors, keys, scale)
            ctx.save_for_backward(*tensors, lse, n_pos)
        out = problem.row_weight * terms
        return out if reduction == "none" else out.sum()

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        saved = ctx.saved_tensors
        anchors, candidates, t_tensor = saved[:3]
        need_anchor, need_keys, need_t = ctx.need
        temperature = t_tensor if ctx.temperature_is_tensor else ctx.temperature_number
        if torch.is_grad_enabled():  # create_graph=True: differentiate the definition
            grads = differentiate_definition(ctx.problem.loss, ctx.definition,
                                             (anchors, candidates, temperature), grad_out)
            return (grads[0], grads[1], grads[2] if ctx.temperature_is_tensor else None,
                    None, None, None, None)
        scale = 1.0 / temperature
        keys = anchors if ctx.symmetric else candidates
        if ctx.grads is not None:
            da, dc, dt = (None if g is None else g * grad_out for g in ctx.grads)
        else:
            lse, n_pos = saved[3:]
            rho = ctx.problem.row_weight * grad_out
            da, dc = _backward_blockwise(ctx.problem, anchors, keys, scale, lse, n_pos, rho,
                                         ctx.symmetric, need_keys)
            dt = _temperature_grad(anchors, da, scale, ctx.symmetric) if need_t else None
        if dt is not None:
            dt = dt.to(t_tensor.dtype).reshape(t_tensor.shape)
        return (da if need_anchor else None, dc if need_keys else None, dt,
                None, None, None, None)


def _supports(anchors: torch.Tensor, candidates: torch.Tensor | None, *,
              temperature: float | torch.Tensor, row_weight: torch.Tensor,
              anchor_labels: torch.Tensor | None, candidate_labels: torch.Tensor | None,
              positive_index: torch.Tensor | None, exclude_offset: int | None, distance: str,
              pair_form: bool, unit_norm: bool, reduction: str,
              definition: Definition) -> str | None:
    if distance != "cosine":
        return f"takes the inner-product similarity (distance='cosine'), not {distance!r}"
    if pair_form and positive_index is None:
        return ("several positives per anchor, each with its own denominator (nt_xent with "
                "labels), is left to the definition")
    if candidates is not None and candidates.dtype != anchors.dtype:
        return "anchors and candidates must share a dtype"
    if candidates is None and exclude_offset != 0:
        return "anchors used as candidates must skip their own column"
    if isinstance(temperature, torch.Tensor) and temperature.numel() != 1:
        return "temperature must be a number or a one-element tensor"
    return None


def _make_run(loss: str) -> Callable[..., torch.Tensor]:
    def run(anchors: torch.Tensor, candidates: torch.Tensor | None, *,
            temperature: float | torch.Tensor, row_weight: torch.Tensor,
            anchor_labels: torch.Tensor | None, candidate_labels: torch.Tensor | None,
            positive_index: torch.Tensor | None, exclude_offset: int | None, distance: str,
            pair_form: bool, unit_norm: bool, reduction: str,
            definition: Definition) -> torch.Tensor:
        problem = _Problem(loss, row_weight, anchor_labels, candidate_labels, positive_index,
                           exclude_offset, unit_norm)
        track = torch.is_grad_enabled() and any(
            isinstance(x, torch.Tensor) and x.requires_grad
            for x in (anchors, candidates, temperature))
        out: torch.Tensor = _SoftmaxContrast.apply(  # type: ignore[no-untyped-call]
            anchors, candidates, temperature, problem, reduction, definition, track)
        return out
    return run


# The call's keywords (metric_learning._softmax_contrast); supports() declines the values
# the blockwise path does not compute.
_OPTIONS = ("reduction", "temperature", "row_weight", "unit_norm", "anchor_labels",
            "candidate_labels", "positive_index", "exclude_offset", "distance", "pair_form")
for _loss in ("info_nce", "nt_xent", "supcon"):
    register(_loss, "torch", name=f"torch.blockwise_{_loss}",
             devices=("cpu", "cuda", "meta", "xpu", "mps"),
             dtypes=(torch.float32, torch.float64), supports=_supports, double_backward=True,
             tensor_hyperparameters=("temperature",), traceable=False,
             options=_OPTIONS,
             description="similarity matrix in row blocks, never kept for backward; gradient "
                         "in forward when it fits; learnable temperature")(_make_run(_loss))
