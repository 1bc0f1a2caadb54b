"""Triplet sums over a batch in O(N^2) memory: no ``[N, N, N]`` tensor, no index lists.

Batch-all triplet loss is ``sum_{a, p, n} relu(D[a, p] - D[a, n] + margin)`` over
valid triplets (``p`` shares the anchor's label, ``n`` does not). For a fixed
``(a, p)`` the active negatives are those with ``D[a, n] < D[a, p] + margin``; if the
anchor's negative distances are sorted, they form a prefix of that sorted row, so

    sum_n relu(D[a, p] + margin - D[a, n]) = c * (D[a, p] + margin) - prefix_sum[c]

with ``c`` the length of the prefix, found by binary search. Everything is an
``[N, N]`` tensor and the expression is differentiable as written: autograd sends
``c`` to ``D[a, p]`` and ``-(number of positives that activate n)`` to ``D[a, n]``
through the sort, the cumulative sum and the gather. The prefix sums are taken in
float64 so the difference ``c * t - prefix`` does not cancel away its precision.

The semi-hard negative of FaceNet (smallest ``D[a, n]`` above ``D[a, p]``) is a
binary search in the same sorted rows.
"""

from __future__ import annotations

import torch

__all__ = ["batch_all", "batch_hard", "pairwise_distances", "semihard"]


def pairwise_distances(x: torch.Tensor, y: torch.Tensor | None = None, *,
                       squared: bool = False, offset: int = 0) -> torch.Tensor:
    """Euclidean distances ``[N, M]`` between the rows of ``x`` ``[N, d]`` and ``y`` ``[M, d]``.

    ``y=None`` means ``y = x``. Row ``i`` of ``x`` is row ``offset + i`` of ``y`` (its
    own column, distance exactly 0): ``offset`` is nonzero when ``x`` is this rank's
    shard of a gathered ``y``.

    Uses ``|x_i|^2 + |y_j|^2 - 2 x_i . y_j`` (one matrix product) on rows centred at
    the mean of ``y``: distances do not change, and the smaller norms make the
    cancellation in the expression lose far less precision. The square root is taken
    only where the squared distance is positive, so coincident points (and each
    point's own column) get a zero gradient instead of ``0 * inf = NaN``.
    """
    center = (x if y is None else y).mean(dim=0, keepdim=True).detach()
    x = x - center
    y = x if y is None else y - center
    sq = (x.square().sum(dim=1)[:, None] + y.square().sum(dim=1)[None, :]
          - 2.0 * (x @ y.t())).clamp(min=0.0)
    # Each point's own column is exactly 0, whatever rounding left there.
    rows = torch.arange(x.shape[0], device=x.device)
    own = torch.zeros_like(sq, dtype=torch.bool)
    own[rows, rows + offset] = True
    sq = sq.masked_fill(own, 0.0)
    if squared:
        return sq
    positive = sq > 0
    return torch.where(positive, torch.where(positive, sq, 1.0).sqrt(), 0.0)


def _sorted_negatives(dist: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Each row's negative distances in ascending order, padded with +inf."""
    return torch.where(negative, dist, float("inf")).sort(dim=1).values


def batch_all(dist: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
              margin: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-anchor sum of all triplet hinges, number of active and of valid triplets.

    Args:
        dist: ``[N, N]`` distances; positive / negative: ``[N, N]`` bool masks of the
            valid positives (same label, not the anchor) and negatives of each anchor.

    Returns:
        ``(loss [N], active [N], valid [N])``: per-anchor summed hinge, number of
        triplets with a positive hinge and number of valid triplets.
    """
    acc = torch.float64 if dist.device.type != "mps" else dist.dtype
    sorted_neg = _sorted_negatives(dist, negative).to(acc)
    finite = torch.isfinite(sorted_neg)
    prefix = torch.cat([sorted_neg.new_zeros(dist.shape[0], 1),
                        torch.where(finite, sorted_neg, 0.0).cumsum(dim=1)], dim=1)
    threshold = dist.to(acc) + margin
    # count[a, p] = #{n : D[a, n] < D[a, p] + margin}; +inf padding never counts.
    count = torch.searchsorted(sorted_neg.detach().contiguous(), threshold.detach().contiguous(),
                               side="left")
    hinge_sum = count * threshold - prefix.gather(1, count)
    hinge_sum = torch.where(positive, hinge_sum, 0.0)
    loss = hinge_sum.sum(dim=1).to(dist.dtype)
    active = torch.where(positive, count, 0).sum(dim=1)
    valid = positive.sum(dim=1) * negative.sum(dim=1)
    return loss, active, valid


def batch_hard(dist: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
               margin: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hermans et al.'s batch-hard triplet: farthest positive against nearest negative.

    Returns ``(loss [N], active [N], valid [N])`` as :func:`batch_all`, with at most
    one triplet per anchor.
    """
    has_pos, has_neg = positive.any(dim=1), negative.any(dim=1)
    valid = has_pos & has_neg
    hardest_pos = torch.where(positive, dist, float("-inf")).amax(dim=1)
    hardest_neg = torch.where(negative, dist, float("inf")).amin(dim=1)
    # Anchors without a triplet get finite placeholders so no inf reaches the graph.
    hinge = (torch.where(valid, hardest_pos, 0.0) - torch.where(valid, hardest_neg, 0.0)
             + margin).relu()
    loss = torch.where(valid, hinge, 0.0)
    return loss, (loss > 0).long(), valid.long()


def semihard(dist: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
             margin: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """FaceNet semi-hard mining: for each positive pair, the nearest negative farther
    than the positive; if none is farther, the farthest negative (the choice of
    TensorFlow Addons' ``triplet_semihard_loss``).

    Returns ``(loss [N], active [N], valid [N])`` as :func:`batch_all`, one triplet per
    positive pair.
    """
    n_neg = negative.sum(dim=1)
    sorted_neg = _sorted_negatives(dist, negative)
    # First negative strictly farther than D[a, p]; clamping to the last negative picks
    # the farthest one when no negative is farther.
    first_farther = torch.searchsorted(sorted_neg.detach().contiguous(),
                                       dist.detach().contiguous(), side="right")
    chosen = first_farther.clamp(max=(n_neg - 1).clamp(min=0)[:, None])
    neg_dist = sorted_neg.gather(1, chosen)
    pair = positive & (n_neg > 0)[:, None]
    neg_dist = torch.where(pair, neg_dist, 0.0)
    hinge = torch.where(pair, (torch.where(pair, dist, 0.0) - neg_dist + margin).relu(), 0.0)
    return hinge.sum(dim=1), (hinge > 0).sum(dim=1), pair.sum(dim=1)
