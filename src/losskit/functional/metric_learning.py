"""Metric-learning losses: embeddings that place similar things close together.

Pair and triplet losses (``contrastive``, ``triplet_margin``) take explicit tuples of
embeddings. Batch losses (``batch_triplet``, ``info_nce``, ``nt_xent``, ``supcon``)
form every pair or triplet of a batch from label-equality masks.

Each function here is its loss's definition in plain torch: it reads no tensor data
(no ``unique``, ``nonzero``, boolean-mask indexing or data-dependent branches), so it
runs on any device, on ``meta`` tensors, under ``torch.compile(fullgraph=True)``,
``torch.func`` transforms and double backward, and a learnable temperature or margin (a
0-dim tensor requiring grad) gets its exact gradient.

* ``batch_triplet`` keeps ``O(N^2)`` memory: its batch-all sum is an exact identity over
  each anchor's sorted negative distances (see :func:`_batch_all`), and semi-hard mining
  is a binary search in the same sorted rows; no ``[N, N, N]`` tensor exists (except
  with ``smooth_loss=True`` and ``mining="all"``, whose softplus has no such identity).
* ``info_nce``, ``nt_xent`` and ``supcon`` build their ``[M, N]`` similarity matrix. Their
  accelerator (:mod:`losskit.kernels.contrastive`) computes the same value in row blocks
  without keeping the matrix for backward; it is what runs in eager calls.

Embeddings are ``[N, d]`` float tensors; float16/bfloat16 are computed in float32.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .. import distributed as _dist
from .._core.reduce import reduce, reduce_summed, safe_divide, upcast
from .._core.registry import register_loss
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_floating,
    check_integer,
    check_ndim,
    check_param,
    check_reduction,
    check_same_shape,
)
from ..kernels import contrastive as _contrastive_kernels  # noqa: F401  (registers them)
from ..kernels import dispatch
from . import _examples as ex

__all__ = [
    "batch_triplet",
    "contrastive",
    "info_nce",
    "nt_xent",
    "supcon",
    "triplet_margin",
]


# --- shared checks -------------------------------------------------------------------------


def _check_embeddings(name: str, x: torch.Tensor) -> None:
    check_floating(name, x)
    check_ndim(name, x, 2, "[N, d] embeddings")


def _check_labels(name: str, labels: torch.Tensor, n: int, of: str = "the embeddings") -> None:
    check_integer(name, labels)
    if labels.shape != (n,):
        raise LossInputError(f"{name} must have shape [N] = ({n},) to match {of}, "
                             f"got {tuple(labels.shape)}")


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise LossInputError(f"{name} must be one of {allowed}, got {value!r}")


def _check_reference(embeddings: torch.Tensor, labels: torch.Tensor | None,
                     ref_emb: torch.Tensor | None, ref_labels: torch.Tensor | None) -> None:
    """``ref_emb`` / ``ref_labels``: candidates distinct from the anchors, both or neither."""
    if ref_emb is None and ref_labels is None:
        return
    if ref_emb is None or ref_labels is None or labels is None:
        raise LossInputError("ref_emb and ref_labels go together (reference embeddings and "
                             "their labels), and need the anchors' labels")
    _check_embeddings("ref_emb", ref_emb)
    if ref_emb.shape[1] != embeddings.shape[1]:
        raise LossInputError(f"ref_emb must have shape [R, {embeddings.shape[1]}] like the "
                             f"embeddings, got {tuple(ref_emb.shape)}")
    _check_labels("ref_labels", ref_labels, ref_emb.shape[0], of="ref_emb")


def _check_temperature(temperature: float | torch.Tensor) -> None:
    check_param("temperature", temperature, low=0.0, low_inclusive=False, learnable=True)


def _prepare(x: torch.Tensor, normalize: bool) -> torch.Tensor:
    x = upcast(x)
    return F.normalize(x, dim=1) if normalize else x


# --- distances -------------------------------------------------------------------------------


def _own_columns(m: int, n: int, offset: int, device: torch.device) -> torch.Tensor:
    """``[M, N]`` bool: column ``offset + i`` is anchor ``i`` itself."""
    rows = torch.arange(m, device=device)[:, None] + offset
    return rows == torch.arange(n, device=device)[None, :]


def _sqrt0(sq: torch.Tensor) -> torch.Tensor:
    """``sqrt`` with gradient 0 (not ``inf``) at 0, for coincident points; NaN stays NaN."""
    keep = ~(sq <= 0)  # True for positive entries and for NaN
    return torch.where(keep, torch.where(keep, sq, 1.0).sqrt(), 0.0)


def _squared_distances(x: torch.Tensor, y: torch.Tensor,
                       own: torch.Tensor | None) -> torch.Tensor:
    """``|x_i - y_j|^2`` ``[M, N]`` with one matrix product.

    ``|x|^2 + |y|^2 - 2 x.y`` on rows centred at the mean of ``y``: the distances do not
    change (so the detached centre costs no gradient), and smaller norms lose far less
    precision to the cancellation. ``own`` marks columns that are the row itself: exactly 0.
    """
    center = y.mean(dim=0, keepdim=True).detach()
    xc, yc = x - center, y - center
    sq = (xc.square().sum(dim=1)[:, None] + yc.square().sum(dim=1)[None, :]
          - 2.0 * (xc @ yc.t())).clamp(min=0.0)
    return sq if own is None else torch.where(own, 0.0, sq)


# Similarities of the softmax-contrastive losses: the inner product of the (normalized)
# embeddings, or a negated distance.
_SIMILARITIES = ("cosine", "euclidean", "squared_euclidean")


def _similarity(x: torch.Tensor, y: torch.Tensor, distance: str,
                own: torch.Tensor | None) -> torch.Tensor:
    if distance == "cosine":
        return x @ y.t()
    sq = _squared_distances(x, y, own)
    return -(sq if distance == "squared_euclidean" else _sqrt0(sq))


# --- pair and triplet losses ---------------------------------------------------------------


def _pair_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    a = ex.randn(n, 4, g=g)
    b = a + 0.8 * ex.randn(n, 4, g=g)
    return a, b, ex.rand(n, g=g) > 0.5


def _contrastive_optimum(args: tuple[Any, ...]) -> tuple[Any, ...]:
    a, same = args[0], args[2]
    # Same pairs coincide, different pairs are pushed far beyond any margin.
    far = a.detach() + 10.0
    return (a, torch.where(same[:, None], a.detach(), far), same, *args[3:])


def _contrastive_reference(a: torch.Tensor, b: torch.Tensor, same: torch.Tensor, *,
                           margin: float = 1.0, pos_margin: float | None = None,
                           neg_margin: float | None = None, distance: str = "euclidean",
                           reduction: str = "mean") -> torch.Tensor:
    if distance == "cosine":
        d = 1 - F.cosine_similarity(a, b, dim=1)
    else:
        d = torch.linalg.vector_norm(a - b, dim=1)
        d = d ** 2 if distance == "squared_euclidean" else d
    s = same.to(a.dtype)
    if pos_margin is None and neg_margin is None:
        loss = 0.5 * s * d ** 2 + 0.5 * (1 - s) * torch.clamp(margin - d, min=0) ** 2
    else:
        pm = 0.0 if pos_margin is None else pos_margin
        nm = margin if neg_margin is None else neg_margin
        loss = s * torch.clamp(d - pm, min=0) + (1 - s) * torch.clamp(nm - d, min=0)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@register_loss(
    family="metric_learning", tasks=("metric_learning", "verification"),
    input_kind="embeddings", target_kind="pair labels (same / different)",
    aliases=("contrastive_loss", "siamese"),
    properties=("nonnegative", "zero_at_optimum"), grad_args=(0, 1), none_shape="sample",
    learnable=("margin", "pos_margin", "neg_margin"),
    summary="Contrastive (siamese) pair loss: pull same pairs together, push different pairs "
            "at least a margin apart.",
    formula="d = |a - b|_2 (or |a - b|_2^2, or 1 - cos(a, b));  Hadsell: L = same * d^2 / 2 + "
            "(1 - same) * max(0, margin - d)^2 / 2;  with pos_margin / neg_margin: L = same * "
            "max(0, d - pos_margin) + (1 - same) * max(0, neg_margin - d)",
    gradient="Same pairs: dL/da = (a - b), a spring that never lets go (with pos_margin: a "
             "constant pull of unit size until d <= pos_margin, then nothing). Different pairs: "
             "a push of size (margin - d) (constant size in the margins form) while closer "
             "than the margin, exactly 0 beyond it, so easy negatives stop contributing.",
    when_to_use="Verification data that comes as labelled pairs (same person / not, duplicate "
                "question / not), and siamese networks. With class labels for a whole batch, "
                "batch_triplet or supcon use far more of the batch's information.",
    pitfalls="Collapse: if most pairs are positive the trivial solution maps everything to one "
             "point; balance positive and negative pairs. The margin is in distance units: "
             "normalize embeddings (or use distance='cosine', distances in [0, 2]) so one "
             "margin fits all scales. Pulling positives to distance 0 over-constrains "
             "classes with real intra-class variation (pos_margin > 0 stops the pull there). "
             "Against pytorch-metric-learning's ContrastiveLoss(pos_margin, neg_margin): it is "
             "the margins form (linear hinges) on every pair of a labelled batch; its distances "
             "normalize the embeddings first (losskit does not); its CosineSimilarity margins "
             "are similarities, so pos_margin = 1 - theirs and neg_margin = 1 - theirs here; "
             "and it averages positive and negative pairs separately (over the non-zero ones "
             "by default) and adds the two means, where 'mean' here averages all pairs.",
    references=("Hadsell, Chopra & LeCun, Dimensionality Reduction by Learning an Invariant "
                "Mapping, CVPR 2006.",),
    example_inputs=_pair_examples, reference=_contrastive_reference,
    optimum=_contrastive_optimum,
)
def contrastive(a: torch.Tensor, b: torch.Tensor, same: torch.Tensor, *,
                margin: float | torch.Tensor = 1.0,
                pos_margin: float | torch.Tensor | None = None,
                neg_margin: float | torch.Tensor | None = None,
                distance: str = "euclidean", weight: torch.Tensor | None = None,
                reduction: str = "mean") -> torch.Tensor:
    """Contrastive loss of Hadsell et al. (2006) on pairs ``(a_i, b_i)``.

    ``distance`` is ``"euclidean"`` (``d = |a - b|``), ``"squared_euclidean"``
    (``d = |a - b|^2``) or ``"cosine"`` (``d = 1 - cos(a, b)``). By default the loss is
    Hadsell's ``same * d^2 / 2 + (1 - same) * max(0, margin - d)^2 / 2``. Passing
    ``pos_margin`` or ``neg_margin`` selects the double-margin form of
    pytorch-metric-learning's ``ContrastiveLoss``, linear hinges on both sides:
    ``same * max(0, d - pos_margin) + (1 - same) * max(0, neg_margin - d)`` (``pos_margin``
    defaults to 0, ``neg_margin`` to ``margin``). Every margin may be a learnable tensor.

    Shape:
        a, b: ``[N, d]``; same: ``[N]`` bool (or 0/1), True where the pair should match;
        output: scalar, or ``[N]`` per pair with ``reduction="none"``.

    Example:
        >>> contrastive(torch.zeros(2, 2), torch.tensor([[3.0, 4.0], [0.6, 0.0]]),
        ...             torch.tensor([True, False]))
        tensor(6.2900)
    """
    check_reduction(reduction)
    check_param("margin", margin, low=0.0, learnable=True)
    margins_form = pos_margin is not None or neg_margin is not None
    if pos_margin is not None:
        check_param("pos_margin", pos_margin, low=None, learnable=True)
    if neg_margin is not None:
        check_param("neg_margin", neg_margin, low=None, learnable=True)
    _check_choice("distance", distance, ("euclidean", "squared_euclidean", "cosine"))
    _check_embeddings("a", a)
    _check_embeddings("b", b)
    check_same_shape("a", a, "b", b)
    if not isinstance(same, torch.Tensor) or same.shape != (a.shape[0],):
        raise LossInputError(f"same must be a tensor of shape [N] = ({a.shape[0]},), got "
                             f"{tuple(same.shape) if isinstance(same, torch.Tensor) else same!r}")
    check_broadcastable("weight", weight, torch.Size([a.shape[0]]))
    x, y = upcast(a), upcast(b)
    is_same = same.bool()
    if distance == "cosine":
        d = 1.0 - F.cosine_similarity(x, y, dim=1)
    else:
        sq = (x - y).square().sum(dim=1)
        d = sq if distance == "squared_euclidean" else _sqrt0(sq)
    if margins_form:
        pos = 0.0 if pos_margin is None else pos_margin
        neg = margin if neg_margin is None else neg_margin
        loss = torch.where(is_same, (d - pos).clamp(min=0.0), (neg - d).clamp(min=0.0))
    else:
        # Same pairs: d^2 / 2 straight from the squared norm (smooth where d = 0).
        pull = 0.5 * (sq if distance == "euclidean" else d.square())
        loss = torch.where(is_same, pull, 0.5 * (margin - d).clamp(min=0.0).square())
    return reduce(loss, reduction, weight=weight)


def _triplet_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    anchor = ex.randn(n, 4, g=g)
    return anchor, anchor + 0.7 * ex.randn(n, 4, g=g), ex.randn(n, 4, g=g)


def _triplet_optimum(args: tuple[Any, ...]) -> tuple[Any, ...]:
    anchor = args[0]
    return (anchor, anchor.detach().clone(), anchor.detach() + 10.0, *args[3:])


def _triplet_reference(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, *,
                       margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                       reduction: str = "mean") -> torch.Tensor:
    return F.triplet_margin_loss(anchor, positive, negative, margin=margin, p=p, eps=eps,
                                 swap=swap, reduction=reduction)


@register_loss(
    family="metric_learning", tasks=("metric_learning", "retrieval"),
    input_kind="embeddings", target_kind="implicit (anchor, positive, negative)",
    aliases=("triplet", "triplet_margin_loss"),
    properties=("nonnegative", "zero_at_optimum"), grad_args=(0, 1, 2), none_shape="sample",
    learnable=("margin",),
    summary="Triplet margin loss on explicit (anchor, positive, negative) triplets.",
    formula="L = max(0, margin + |a - p|_p - |a - n|_p)  (swap: |a - n| replaced by "
            "min(|a - n|, |p - n|))",
    gradient="Zero once the negative is a margin farther than the positive; otherwise unit "
             "vectors pull the positive toward the anchor and push the negative away, so the "
             "step size does not depend on how badly the triplet is violated.",
    when_to_use="When the data pipeline already yields triplets (e.g. query, clicked, "
                "not-clicked) or you mine them yourself. Same values as torch's "
                "triplet_margin_loss. With class-labelled batches prefer batch_triplet, which "
                "mines all triplets of the batch at once."
                " The classic use is face recognition and verification (FaceNet): embed, then "
                "compare distances.",
    pitfalls="Random triplets are mostly easy (zero loss) and training stalls; mine hard or "
             "semi-hard ones. Collapse: all embeddings equal gives loss = margin, a plateau "
             "rather than a minimum; normalize embeddings so the margin has a fixed scale.",
    references=("Schroff, Kalenichenko & Philbin, FaceNet, CVPR 2015.",
                "Balntas et al., Learning local feature descriptors with triplets and shallow "
                "convolutional neural networks, BMVC 2016 (the swap).",),
    example_inputs=_triplet_examples, reference=_triplet_reference, optimum=_triplet_optimum,
)
def triplet_margin(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, *,
                   margin: float | torch.Tensor = 1.0, p: float = 2.0, eps: float = 1e-6,
                   swap: bool = False, weight: torch.Tensor | None = None,
                   reduction: str = "mean") -> torch.Tensor:
    """Triplet margin loss (same values as :func:`torch.nn.functional.triplet_margin_loss`).

    ``margin`` may be a learnable tensor.

    Shape:
        anchor, positive, negative: ``[N, d]``; output: scalar, or ``[N]`` per triplet.

    Example:
        >>> triplet_margin(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]),
        ...                torch.tensor([[0.0, 1.5]]), margin=1.0)
        tensor(0.5000)
    """
    check_reduction(reduction)
    check_param("margin", margin, low=0.0, learnable=True)
    check_param("p", p, low=0.0, low_inclusive=False)
    check_param("eps", eps, low=0.0)
    for name, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        _check_embeddings(name, t)
    check_same_shape("anchor", anchor, "positive", positive)
    check_same_shape("anchor", anchor, "negative", negative)
    check_broadcastable("weight", weight, torch.Size([anchor.shape[0]]))
    a, pos, neg = upcast(anchor), upcast(positive), upcast(negative)
    # pairwise_distance adds eps to the difference, so coincident points stay differentiable.
    d_ap = F.pairwise_distance(a, pos, p=p, eps=eps)
    d_an = F.pairwise_distance(a, neg, p=p, eps=eps)
    if swap:
        d_an = torch.minimum(d_an, F.pairwise_distance(pos, neg, p=p, eps=eps))
    return reduce((margin + d_ap - d_an).clamp(min=0.0), reduction, weight=weight)


# --- batch triplet ---------------------------------------------------------------------------


def _labelled_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings ``[n, 4]`` and labels ``[n]`` in which most classes appear twice."""
    g = ex.generator(seed)
    labels = (torch.arange(n) // 2)[torch.randperm(n, generator=g)]
    centers = ex.randn(max(n, 1), 4, g=g)
    return centers[labels] * 0.8 + ex.randn(n, 4, g=g) * 0.6, labels


def _reference_triplet_hinges(embeddings: torch.Tensor, labels: torch.Tensor, margin: float,
                                mining: str, squared: bool, distance: str = "euclidean",
                                smooth_loss: bool = False, ref_emb: torch.Tensor | None = None,
                                ref_labels: torch.Tensor | None = None,
                                ) -> dict[int, list[torch.Tensor]]:
    """Per-anchor triplet losses by explicit loops: ``{anchor: [loss, ...]}``."""
    refs = embeddings if ref_emb is None else ref_emb
    ref_y = labels if ref_labels is None else ref_labels
    n, r = embeddings.shape[0], refs.shape[0]
    if distance == "cosine":
        d = 1 - F.normalize(embeddings, dim=1) @ F.normalize(refs, dim=1).t()
    else:
        d = torch.cdist(embeddings, refs) if n and r else embeddings.new_zeros(n, r)
        d = d ** 2 if squared else d
    act = F.softplus if smooth_loss else torch.relu
    out: dict[int, list[torch.Tensor]] = {}
    for a in range(n):
        pos = [p for p in range(r) if (ref_emb is not None or p != a) and ref_y[p] == labels[a]]
        neg = [q for q in range(r) if ref_y[q] != labels[a]]
        if not pos or not neg:
            out[a] = []
            continue
        if mining == "all":
            out[a] = [act(d[a, p] - d[a, q] + margin) for p in pos for q in neg]
        elif mining == "hard":
            hp = max(d[a, p] for p in pos)
            hn = min(d[a, q] for q in neg)
            out[a] = [act(hp - hn + margin)]
        else:
            hinges = []
            for p in pos:
                farther = [d[a, q] for q in neg if d[a, q] > d[a, p]]
                dn = min(farther) if farther else max(d[a, q] for q in neg)
                hinges.append(act(d[a, p] - dn + margin))
            out[a] = hinges
    return out


def _batch_triplet_reference(embeddings: torch.Tensor, labels: torch.Tensor, *,
                             margin: float = 0.2, mining: str = "all", squared: bool = False,
                             average: str = "valid", distance: str = "euclidean",
                             smooth_loss: bool = False, ref_emb: torch.Tensor | None = None,
                             ref_labels: torch.Tensor | None = None,
                             reduction: str = "mean") -> torch.Tensor:
    hinges = _reference_triplet_hinges(embeddings, labels, margin, mining, squared, distance,
                                         smooth_loss, ref_emb, ref_labels)
    zero = embeddings.sum() * 0
    per_anchor = torch.stack([sum(h, zero) for h in hinges.values()]) if hinges else zero[None][:0]
    if reduction == "none":
        return per_anchor
    if reduction == "sum":
        return per_anchor.sum()
    every = [x for h in hinges.values() for x in h]
    if average == "nonzero":
        every = [x for x in every if x > 0]
    return torch.stack(every).mean() if every else zero


def _padding_free(sorted_rows: torch.Tensor) -> torch.Tensor:
    """Sorted masked rows with their ``+inf`` padding replaced by 0 (a NaN stays)."""
    return torch.where(sorted_rows == float("inf"), 0.0, sorted_rows)


def _hinge(v: torch.Tensor, smooth: bool) -> torch.Tensor:
    return F.softplus(v) if smooth else v.clamp(min=0.0)


def _batch_all(dist: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
               margin: float | torch.Tensor,
               smooth: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-anchor sum of every valid triplet's hinge; ``(loss, active, valid)`` per anchor.

    For an anchor ``a`` and a positive ``p``, with ``t = D[a, p] + margin`` and the anchor's
    negative distances sorted, ``d_(1) <= d_(2) <= ...``, the hinge sum over negatives is
    exactly

        sum_n max(0, t - D[a, n]) = c t - (d_(1) + ... + d_(c)),   c = #{n : D[a, n] < t},

    because the active negatives form a prefix of the sorted row. ``c`` is a binary search
    and the bracket a prefix sum, so every tensor is ``[N, N]`` and nothing reads data: this
    is the definition (the brute-force ``[N, N, N]`` sum is the test's reference). Autograd
    sends ``c`` to ``D[a, p]`` and ``-(number of positives that activate n)`` to ``D[a, n]``
    through the sort, the cumulative sum and the gather. Prefix sums are in float64 so
    ``c t - prefix`` keeps its precision. The softplus of ``smooth_loss`` has no such
    identity: it sums the ``[N, N, N]`` triplet tensor.
    """
    if smooth:
        valid = positive[:, :, None] & negative[:, None, :]
        losses = torch.where(valid, F.softplus(dist[:, :, None] - dist[:, None, :] + margin), 0.0)
        return losses.sum(dim=(1, 2)), (losses > 0).sum(dim=(1, 2)), valid.sum(dim=(1, 2))
    acc = torch.float64 if dist.device.type != "mps" else dist.dtype
    sorted_neg = torch.where(negative, dist, float("inf")).sort(dim=1).values.to(acc)
    prefix = torch.cat([sorted_neg.new_zeros(dist.shape[0], 1),
                        _padding_free(sorted_neg).cumsum(dim=1)], dim=1)
    threshold = dist.to(acc) + margin
    count = torch.searchsorted(sorted_neg.detach().contiguous(), threshold.detach().contiguous(),
                               side="left")
    # 0 * (sum of all the anchor's negatives): nothing, unless one of them is NaN, which the
    # search may stop before.
    hinge_sum = count * threshold - prefix.gather(1, count) + 0.0 * prefix[:, -1:]
    loss = torch.where(positive, hinge_sum, 0.0).sum(dim=1).to(dist.dtype)
    active = torch.where(positive, count, 0).sum(dim=1)
    valid = positive.sum(dim=1) * negative.sum(dim=1)
    return loss, active, valid


def _batch_hard(dist: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                margin: float | torch.Tensor,
               smooth: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hermans et al.'s batch-hard triplet: farthest positive against nearest negative
    (masked max / min); at most one triplet per anchor."""
    valid = positive.any(dim=1) & negative.any(dim=1)
    if dist.shape[1] == 0:  # an empty batch: amax over no columns raises
        zero = dist.sum(dim=1)
        return zero, zero.long(), valid.long()
    hardest_pos = torch.where(positive, dist, float("-inf")).amax(dim=1)
    hardest_neg = torch.where(negative, dist, float("inf")).amin(dim=1)
    # Anchors without a triplet get finite placeholders so no inf reaches the graph.
    hinge = _hinge(torch.where(valid, hardest_pos, 0.0) - torch.where(valid, hardest_neg, 0.0)
                   + margin, smooth)
    loss = torch.where(valid, hinge, 0.0)
    return loss, (loss > 0).long(), valid.long()


def _semihard(dist: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
              margin: float | torch.Tensor,
              smooth: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """FaceNet semi-hard mining: for each positive pair, the nearest negative farther than
    the positive; if none is farther, the farthest negative (the choice of TensorFlow
    Addons' ``triplet_semihard_loss``). A binary search in each anchor's sorted negatives."""
    n_neg = negative.sum(dim=1)
    sorted_neg = torch.where(negative, dist, float("inf")).sort(dim=1).values
    # First negative strictly farther than D[a, p]; clamping to the last negative picks
    # the farthest one when no negative is farther.
    first_farther = torch.searchsorted(sorted_neg.detach().contiguous(),
                                       dist.detach().contiguous(), side="right")
    chosen = first_farther.clamp(max=(n_neg - 1).clamp(min=0)[:, None])
    neg_dist = sorted_neg.gather(1, chosen)
    pair = positive & (n_neg > 0)[:, None]
    hinge = _hinge(torch.where(pair, dist, 0.0) - torch.where(pair, neg_dist, 0.0) + margin,
                   smooth)
    # As in _batch_all: a NaN among the negatives reaches the loss even if not chosen.
    hinge = torch.where(pair, hinge, 0.0) + 0.0 * _padding_free(sorted_neg).sum(dim=1,
                                                                                 keepdim=True)
    return hinge.sum(dim=1), (hinge > 0).sum(dim=1), pair.sum(dim=1)


@register_loss(
    family="metric_learning", tasks=("metric_learning", "retrieval", "face_recognition"),
    input_kind="embeddings", target_kind="class labels",
    aliases=("batch_all_triplet", "batch_hard_triplet", "online_triplet"),
    properties=("nonnegative",), none_shape="sample", learnable=("margin",),
    summary="Triplet loss mined inside a labelled batch: all valid triplets, the hardest per "
            "anchor, or FaceNet's semi-hard negatives.",
    formula="D = pairwise distances (Euclidean, squared, or 1 - cos); valid (a, p, n): "
            "y_p = y_a, p != a, y_n != y_a;  h(v) = max(0, v) (smooth_loss: log(1 + e^v));  "
            "all: mean over valid triplets of h(D_ap - D_an + margin);  hard: per anchor "
            "h(max_p D_ap - min_n D_an + margin);  semihard: per (a, p) the nearest "
            "negative with D_an > D_ap (else the farthest negative)",
    gradient="dL/dD_ap = number of active negatives of (a, p), dL/dD_an = -number of active "
             "positives of (a, n), divided by the number of triplets averaged over; the "
             "gradient flows from D to the embeddings. Satisfied triplets give nothing, so "
             "with average='valid' the loss and its gradient shrink as training succeeds "
             "(smooth_loss: every triplet keeps a sigmoid-weighted share).",
    when_to_use="Learning retrieval or verification embeddings from class-labelled batches "
                "(P classes x K samples per batch works best). mining='hard' (Hermans et al.) "
                "is the strongest signal once training is under way; 'semihard' (FaceNet) is "
                "gentler; 'all' with average='nonzero' is a stable default. ref_emb / "
                "ref_labels take the positives and negatives from a separate set (a memory "
                "bank, or the other modality).",
    pitfalls="Hard mining early in training (or with label noise) picks outliers and can "
             "collapse all embeddings to one point (loss stuck at margin); warm up with "
             "'all' or 'semihard'. Batches need several samples per class, otherwise "
             "anchors have no positive and contribute nothing. average='valid' divides by all "
             "triplets, most of them zero late in training, so the gradient fades; "
             "average='nonzero' (pytorch-metric-learning's default) keeps it up but makes the "
             "loss value non-monotone. Normalize embeddings so the margin has a fixed scale: "
             "pytorch-metric-learning's distances normalize by default, losskit's Euclidean "
             "distance does not (distance='cosine' does). smooth_loss with mining='all' builds "
             "the [N, N, N] triplet tensor (the other modes stay O(N^2)). mining='semihard' is "
             "FaceNet's one negative per positive pair, not pytorch-metric-learning's "
             "TripletMarginMiner('semihard') (every triplet with 0 < D_an - D_ap <= margin).",
    references=("Schroff, Kalenichenko & Philbin, FaceNet, CVPR 2015 (semi-hard mining).",
                "Hermans, Beyer & Leibe, In Defense of the Triplet Loss for Person "
                "Re-Identification, arXiv:1703.07737, 2017 (batch-hard, batch-all, soft "
                "margin).",),
    example_inputs=_labelled_examples, reference=_batch_triplet_reference,
    expected_failures={"reduction_consistency": "'none' gives each anchor's summed triplet "
                       "hinges while 'mean' averages over triplets, not anchors"},
)
def batch_triplet(embeddings: torch.Tensor, labels: torch.Tensor, *,
                  margin: float | torch.Tensor = 0.2, mining: str = "all", squared: bool = False,
                  average: str = "valid", distance: str = "euclidean", smooth_loss: bool = False,
                  ref_emb: torch.Tensor | None = None, ref_labels: torch.Tensor | None = None,
                  distributed: bool = False, group: Any = None,
                  weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """Triplet loss over the triplets of a labelled batch, mined on the fly.

    ``distance="euclidean"`` (``squared=True``: squared Euclidean, as in FaceNet) or
    ``"cosine"`` (``1 - cos``; a hinge on similarities, pytorch-metric-learning's
    ``CosineSimilarity``). ``smooth_loss=True`` replaces ``max(0, v)`` by the soft margin
    ``log(1 + e^v)`` (Hermans et al.). Memory is ``O(N^2)``: batch-all sums its hinges
    with one sort and binary searches per anchor instead of an ``[N, N, N]`` tensor.

    ``ref_emb`` / ``ref_labels``: positives and negatives come from these reference
    embeddings instead of the batch itself (no anchor is then its own candidate).

    ``average`` chooses what ``"mean"`` divides by: ``"valid"`` the number of valid
    triplets (a plain mean), ``"nonzero"`` the number of triplets with a positive hinge
    (pytorch-metric-learning's ``AvgNonZeroReducer``; Hermans et al.'s batch-all
    ``BA≠0``). ``"none"`` returns each anchor's *summed* hinges ``[N]`` and ``weight``
    ``[N]`` rescales them; ``"sum"`` is their total. ``margin`` may be a learnable tensor.

    Shape:
        embeddings: ``[N, d]``; labels: ``[N]`` integers; ref_emb: ``[R, d]``; ref_labels:
        ``[R]``; output: scalar or ``[N]``.

    Example:
        >>> x = torch.tensor([[0.0], [0.1], [0.5], [2.0]])
        >>> batch_triplet(x, torch.tensor([0, 0, 1, 1]), margin=0.5, mining="hard")
        tensor(0.5000)
    """
    check_reduction(reduction)
    check_param("margin", margin, low=0.0, learnable=True)
    _check_choice("mining", mining, ("all", "hard", "semihard"))
    _check_choice("average", average, ("valid", "nonzero"))
    _check_choice("distance", distance, ("euclidean", "cosine"))
    if squared and distance == "cosine":
        raise LossInputError("squared=True squares the Euclidean distance; it does not apply "
                             "to distance='cosine'")
    _check_embeddings("embeddings", embeddings)
    _check_labels("labels", labels, embeddings.shape[0])
    _check_reference(embeddings, labels, ref_emb, ref_labels)
    check_broadcastable("weight", weight, torch.Size([embeddings.shape[0]]))
    x = upcast(embeddings)
    own_rows = ref_emb is None
    refs, ref_y = _reference_rows(x, labels, ref_emb, ref_labels, normalize=False)
    # Anchors are this rank's rows; candidates are the whole (gathered) batch.
    offset, candidates = _gather_rows(refs, own_rows, distributed, group)
    candidate_labels = _gather_labels(ref_y, distributed, group)
    own = (_own_columns(x.shape[0], candidates.shape[0], offset, x.device) if own_rows
           else None)
    if distance == "cosine":
        dist = 1.0 - F.normalize(x, dim=1) @ F.normalize(candidates, dim=1).t()
    else:
        sq = _squared_distances(x, candidates, own)
        dist = sq if squared else _sqrt0(sq)
    same = labels[:, None] == candidate_labels[None, :]
    positive = same if own is None else same & ~own
    negative = ~same
    mine = {"all": _batch_all, "hard": _batch_hard, "semihard": _semihard}[mining]
    per_anchor, active, valid = mine(dist, positive, negative, margin, smooth_loss)
    # A NaN counts as active, so average="nonzero" shows it instead of dividing it away.
    active = torch.where(torch.isnan(per_anchor), active.clamp(min=1), active)
    counted = (valid if average == "valid" else active).to(per_anchor.dtype)
    # Each anchor enters the mean as many times as it has counted triplets: its mean
    # hinge, weighted by that count, makes "mean" the mean over triplets.
    return reduce(safe_divide(per_anchor, counted), reduction, weight=weight,
                  class_weight=counted, distributed=distributed, group=group)


# --- softmax-contrastive family ---------------------------------------------------------------


def _gather_rows(rows: torch.Tensor, anchors_among: bool, distributed: bool,
                 group: Any) -> tuple[int, torch.Tensor]:
    """The anchors' row offset in the candidates, and the candidates of the whole batch.

    In one process (or with ``distributed=False``) that is ``(0, rows)``. With a process
    group, every rank's rows are all-gathered with gradients (:func:`losskit.distributed.
    gather`), so the candidates come from the global batch; when the anchors are among them
    (``anchors_among``), this rank's rows start at its offset.
    """
    if not (distributed and _dist.is_active(group)):
        return 0, rows
    offset = _dist.rank_offset(rows.shape[0], rows.device, group) if anchors_among else 0
    return offset, _dist.gather(rows, group)


def _gather_labels(labels: torch.Tensor, distributed: bool, group: Any) -> torch.Tensor:
    """The candidates' labels, gathered like :func:`_gather_rows` gathers the candidates."""
    return _dist.gather(labels, group) if distributed and _dist.is_active(group) else labels


def _reference_rows(anchors: torch.Tensor, labels: torch.Tensor, ref_emb: torch.Tensor | None,
                    ref_labels: torch.Tensor | None,
                    normalize: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The candidates and their labels: the anchors themselves, or the reference rows."""
    if ref_emb is None or ref_labels is None:
        return anchors, labels
    return _prepare(ref_emb, normalize).to(anchors.dtype), ref_labels


def _label_counts(anchor_labels: torch.Tensor, candidate_labels: torch.Tensor,
                  skip_own: bool) -> torch.Tensor:
    """``|P(i)|``: how many candidates share anchor ``i``'s label (its own column excluded),
    by two binary searches in the sorted candidate labels, without an ``[M, N]`` mask."""
    ordered = candidate_labels.long().sort().values.contiguous()
    query = anchor_labels.long().contiguous()
    count = (torch.searchsorted(ordered, query, side="right")
             - torch.searchsorted(ordered, query, side="left"))
    return count - 1 if skip_own else count


def _contrast_terms(anchors: torch.Tensor, candidates: torch.Tensor | None,
                    temperature: float | torch.Tensor, *, anchor_labels: torch.Tensor | None,
                    candidate_labels: torch.Tensor | None, positive_index: torch.Tensor | None,
                    exclude_offset: int | None, distance: str, pair_form: bool) -> torch.Tensor:
    """Per anchor, ``T_i = sum_{p in P(i)} -log p_ip`` from the full ``[M, N]`` logits.

    ``s_ij = sim(a_i, c_j) / t`` over the candidates (the anchors themselves when
    ``candidates`` is None); column ``exclude_offset + i`` is anchor ``i`` itself and never
    counts. ``P(i)``: the column ``positive_index[i]``, or the candidates with the anchor's
    label. ``p_ip`` is ``softmax_j(s_ij)[p]`` over every other column (SupCon's L_out), or
    with ``pair_form`` ``e^{s_ip} / (e^{s_ip} + sum_n e^{s_in})`` over the negatives ``n``
    only (pytorch-metric-learning's NT-Xent with several positives per anchor). With one
    positive per anchor the two are equal.
    """
    keys = anchors if candidates is None else candidates
    m, n = anchors.shape[0], keys.shape[0]
    own = None if exclude_offset is None else _own_columns(m, n, exclude_offset, anchors.device)
    s = _similarity(anchors, keys, distance, own) / temperature
    if positive_index is not None:
        positive = torch.arange(n, device=anchors.device)[None, :] == positive_index[:, None]
    else:
        assert anchor_labels is not None and candidate_labels is not None
        positive = anchor_labels[:, None] == candidate_labels[None, :]
        if own is not None:
            positive = positive & ~own
    # Masked logits get the dtype's lowest finite value: exp gives exactly 0 for them, and
    # a row with nothing left stays finite (no NaN gradient from -inf - (-inf)).
    fill = torch.finfo(s.dtype).min
    if pair_form:
        others = positive if own is None else positive | own
        log_negatives = torch.logsumexp(torch.where(others, fill, s), dim=1, keepdim=True)
        # -log(e^s / (e^s + e^lse_neg)) = softplus(lse_neg - s), formed only at positives:
        # elsewhere the gap can be large enough that its second derivative is inf / inf.
        terms = F.softplus(torch.where(positive, log_negatives - s, 0.0))
    else:
        log_normalizer = torch.logsumexp(s if own is None else torch.where(own, fill, s), dim=1,
                                         keepdim=True)
        terms = log_normalizer - s
    return torch.where(positive, terms, 0.0).sum(dim=1)


def _softmax_contrast(loss: str, anchors: torch.Tensor, candidates: torch.Tensor | None,
                      temperature: float | torch.Tensor, row_weight: torch.Tensor,
                      reduction: str, *, unit_norm: bool, **options: Any) -> torch.Tensor:
    """``row_weight * T`` (see :func:`_contrast_terms`) for ``"none"``, else its sum.

    This is the dispatch point of the family: the accelerator computes the same value
    blockwise (:mod:`losskit.kernels.contrastive`, whose docstring gives the call).
    """

    def definition(a: torch.Tensor, c: torch.Tensor | None,
                   t: float | torch.Tensor) -> torch.Tensor:
        out = row_weight * _contrast_terms(a, c, t, **options)
        return out if reduction == "none" else out.sum()

    fast = dispatch(loss, anchors, candidates, temperature=temperature, row_weight=row_weight,
                    unit_norm=unit_norm, reduction=reduction, definition=definition, **options)
    return definition(anchors, candidates, temperature) if fast is None else fast


def _sample_weight(weight: torch.Tensor | None, n: int, like: torch.Tensor) -> torch.Tensor:
    if weight is None:
        return like.new_ones(n)
    return weight.to(like.dtype).expand(n)


def _view_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    z = ex.randn(n, 4, g=g)
    return z, z + 0.5 * ex.randn(n, 4, g=g)


def _info_nce_reference(query: torch.Tensor, key: torch.Tensor, *, temperature: float = 0.1,
                        negatives: torch.Tensor | None = None, normalize: bool = True,
                        reduction: str = "mean") -> torch.Tensor:
    keys = key if negatives is None else torch.cat([key, negatives])
    if normalize:
        query, keys = F.normalize(query, dim=1), F.normalize(keys, dim=1)
    logits = query @ keys.t() / temperature
    target = torch.arange(query.shape[0])
    if query.shape[0] == 0:
        return logits.sum() * 0 if reduction != "none" else logits.sum(1)
    return F.cross_entropy(logits, target, reduction=reduction)


@register_loss(
    family="metric_learning", tasks=("self_supervised", "metric_learning", "retrieval"),
    input_kind="embeddings", target_kind="implicit (row i of key matches row i of query)",
    aliases=("infonce", "cpc"), properties=("nonnegative",), grad_args=(0, 1),
    none_shape="sample", learnable=("temperature",),
    summary="InfoNCE: each query must pick its own key out of the batch's keys (and optional "
            "extra negatives), a softmax over cosine similarities.",
    formula="s_ij = cos(q_i, k_j) / t over keys = [key; negatives];  L_i = -log( exp(s_ii) / "
            "sum_j exp(s_ij) )",
    gradient="dL/ds_ij = softmax_ij - [j = i]: every negative is pushed away in proportion to "
             "how likely it currently looks, so hard negatives dominate; 1/t scales the "
             "logits and sharpens that focus. A learnable t gets dL/dt = -(1/t) sum_ij "
             "(softmax_ij - [j = i]) s_ij.",
    when_to_use="Contrastive representation learning with paired views or modalities "
                "(CPC, MoCo with a queue passed as negatives=[M, d], CLIP-style retrieval in "
                "one direction). A lower bound on mutual information that tightens with more "
                "negatives.",
    pitfalls="The temperature matters: MoCo uses 0.07 and CLIP learns it (starting at 0.07, "
             "clipped at 0.01); a fixed t far below that concentrates the gradient on a few "
             "hard negatives, and a high t washes out the signal. In-batch false negatives: a "
             "key of the same class as the query is still treated as a negative (use supcon "
             "when labels exist). Small batches give few negatives and a loose bound. Without "
             "normalize the logits grow with the embedding norm.",
    references=("van den Oord, Li & Vinyals, Representation Learning with Contrastive "
                "Predictive Coding, arXiv:1807.03748, 2018.",
                "He et al., Momentum Contrast (MoCo), CVPR 2020 (extra negatives).",
                "Radford et al., Learning Transferable Visual Models From Natural Language "
                "Supervision (CLIP), ICML 2021 (learned temperature).",),
    example_inputs=_view_examples, reference=_info_nce_reference,
)
def info_nce(query: torch.Tensor, key: torch.Tensor, *,
             temperature: float | torch.Tensor = 0.1, negatives: torch.Tensor | None = None,
             normalize: bool = True, distributed: bool = False, group: Any = None,
             weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """InfoNCE with in-batch negatives: key ``i`` is the positive of query ``i``.

    Every other key, plus each row of ``negatives`` (a memory bank or queue), is a
    negative. ``normalize=True`` uses cosine similarity (the usual choice). ``temperature``
    may be a learnable tensor (CLIP's ``1 / logit_scale``).

    Shape:
        query, key: ``[N, d]``; negatives: ``[M, d]`` or None; output: scalar, or ``[N]``
        per query with ``reduction="none"``.

    Example:
        >>> q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> info_nce(q, q, temperature=1.0)
        tensor(0.3133)
    """
    check_reduction(reduction)
    _check_temperature(temperature)
    _check_embeddings("query", query)
    _check_embeddings("key", key)
    check_same_shape("query", query, "key", key)
    if negatives is not None:
        _check_embeddings("negatives", negatives)
        if negatives.shape[1] != query.shape[1]:
            raise LossInputError(f"negatives must have shape [M, {query.shape[1]}] like the "
                                 f"query, got {tuple(negatives.shape)}")
    check_broadcastable("weight", weight, torch.Size([query.shape[0]]))
    n = query.shape[0]
    q, k = _prepare(query, normalize), _prepare(key, normalize)
    ids = torch.arange(n, device=q.device)
    # Key i is this rank's row offset + i of the gathered keys.
    offset, keys = _gather_rows(k, True, distributed, group)
    if negatives is not None:
        # Extra negatives (a memory bank every rank shares) are not gathered.
        keys = torch.cat([keys, _prepare(negatives, normalize).to(keys.dtype)])
    value = _softmax_contrast("info_nce", q, keys, temperature, _sample_weight(weight, n, q),
                              reduction, unit_norm=normalize, anchor_labels=None,
                              candidate_labels=None, positive_index=ids + offset,
                              exclude_offset=None, distance="cosine", pair_form=False)
    return reduce_summed(value, reduction, shape=(n,), distributed=distributed, group=group)


def _nt_xent_reference(z_a: torch.Tensor, z_b: torch.Tensor | None = None, *,
                       temperature: float = 0.5, labels: torch.Tensor | None = None,
                       ref_emb: torch.Tensor | None = None, ref_labels: torch.Tensor | None = None,
                       distance: str = "cosine", average: str = "pair", normalize: bool = True,
                       reduction: str = "mean") -> torch.Tensor:
    """Brute force over (anchor, positive) pairs: -log(e^{s_ap} / (e^{s_ap} + sum_n e^{s_an}))."""
    views = 1 if z_b is None else 2
    z = z_a if z_b is None else torch.cat([z_a, z_b])
    n = z_a.shape[0]
    y = (torch.arange(n) if labels is None else labels).repeat(views)
    refs = z if ref_emb is None else ref_emb
    ref_y = y if ref_labels is None else ref_labels
    if normalize:
        z, refs = F.normalize(z, dim=1), F.normalize(refs, dim=1)

    def sim(i: int, j: int) -> torch.Tensor:
        if distance == "cosine":
            return z[i] @ refs[j]
        d = (z[i] - refs[j]).square().sum().sqrt()
        return -(d.square() if distance == "squared_euclidean" else d)

    terms: list[torch.Tensor] = []
    pair_counts: list[int] = []
    for i in range(z.shape[0]):
        others = [j for j in range(refs.shape[0]) if ref_emb is not None or j != i]
        pos = [j for j in others if ref_y[j] == y[i]]
        neg = [j for j in others if ref_y[j] != y[i]]
        total = z.sum() * 0
        for p in pos:
            logits = torch.stack([sim(i, p)] + [sim(i, q) for q in neg]) / temperature
            total = total - torch.log_softmax(logits, 0)[0]
        terms.append(total)
        pair_counts.append(len(pos))
    per_anchor = torch.stack(terms) if terms else z.sum(1)
    counts = torch.tensor(pair_counts, dtype=z.dtype).reshape(-1)
    sample_sum = per_anchor.reshape(views, n).sum(0)
    sample_count = counts.reshape(views, n).sum(0)
    none = torch.where(sample_count > 0, sample_sum / sample_count.clamp(min=1), 0.0)
    if reduction == "none":
        return none
    if reduction == "sum":
        return none.sum()
    if average == "anchor":
        kept = none[sample_count > 0]
        return kept.mean() if kept.numel() else z.sum() * 0
    return sample_sum.sum() / sample_count.sum() if sample_count.sum() else z.sum() * 0


@register_loss(
    family="metric_learning", tasks=("self_supervised", "metric_learning"),
    input_kind="embeddings", target_kind="implicit (z_a[i] and z_b[i] are two views)",
    aliases=("simclr", "ntxent", "normalized_temperature_cross_entropy"),
    properties=("nonnegative",), grad_args=(0, 1), none_shape="sample",
    learnable=("temperature",),
    summary="NT-Xent (SimCLR): each view must pick its partner out of the 2N - 1 other views "
            "of the batch (one positive, 2N - 2 negatives), a softmax over cosine "
            "similarities; with labels, every same-label view is a positive.",
    formula="z = [z_a; z_b], s_ij = cos(z_i, z_j) / t;  per positive pair (i, p): "
            "l_ip = -log( exp(s_ip) / (exp(s_ip) + sum_{n negative of i} exp(s_in)) );  "
            "without labels p = pair(i) and every other view is a negative;  'mean' averages "
            "l over the positive pairs",
    gradient="dl_ip/ds_ip = q_ip - 1 and dl_ip/ds_in = q_in for each negative n, with q the "
             "softmax over {p} and the negatives: the partner is pulled in, every negative "
             "pushed away in proportion to its softmax weight (hard negatives first).",
    when_to_use="Self-supervised pre-training from two augmentations of each image (SimCLR) "
                "or any symmetric two-view setup. Large batches (256-4096) matter: they are "
                "the negatives. With labels (labels=[N]) it becomes pytorch-metric-learning's "
                "NTXentLoss: every same-label view is a positive, each positive pair with its "
                "own denominator; for SupCon's shared denominator use supcon.",
    pitfalls="Temperature: SimCLR found 0.1-0.5 best (pytorch-metric-learning defaults to "
             "0.07, losskit to 0.5); too low is unstable, too high gives weak gradients. "
             "Without labels, other samples of the same class are treated as negatives (false "
             "negatives); pass labels or use supcon. Weak augmentations let the network solve "
             "the task with trivial cues. Dimensional collapse is not prevented, only slowed; "
             "watch the embedding spectrum.",
    references=("Chen, Kornblith, Norouzi & Hinton, A Simple Framework for Contrastive "
                "Learning of Visual Representations (SimCLR), ICML 2020.",
                "Sohn, Improved Deep Metric Learning with Multi-class N-pair Loss Objective, "
                "NeurIPS 2016.",),
    example_inputs=_view_examples, reference=_nt_xent_reference,
)
def nt_xent(z_a: torch.Tensor, z_b: torch.Tensor | None = None, *,
            temperature: float | torch.Tensor = 0.5, labels: torch.Tensor | None = None,
            ref_emb: torch.Tensor | None = None, ref_labels: torch.Tensor | None = None,
            distance: str = "cosine", average: str = "pair", normalize: bool = True,
            distributed: bool = False, group: Any = None,
            weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """NT-Xent loss of SimCLR, with pytorch-metric-learning's label form.

    ``nt_xent(z_a, z_b)``: ``z_a[i]`` and ``z_b[i]`` are two views of sample ``i``. Every
    view is an anchor; its positive is the other view of its sample and its negatives are
    the remaining ``2N - 2`` views.

    ``labels`` ``[N]`` (one per sample) makes every other view with the anchor's label a
    positive: each positive pair ``(i, p)`` is scored against the anchor's negatives only,
    ``-log(e^{s_ip} / (e^{s_ip} + sum_n e^{s_in}))``, as pytorch-metric-learning's
    ``NTXentLoss(embeddings, labels)``. ``nt_xent(embeddings, labels=labels)`` (no ``z_b``)
    is that loss on one batch; ``ref_emb`` / ``ref_labels`` take the positives and negatives
    from reference embeddings instead of the batch (then no anchor is its own candidate).

    ``"none"`` gives ``[N]``: per sample, the mean of the terms of the positive pairs its
    views anchor (without labels: the mean of the two directions). ``"mean"`` with
    ``average="pair"`` averages over all positive pairs (SimCLR's average over the ``2N``
    anchors when there are no labels), with ``average="anchor"`` over the samples that have
    a positive. ``distance="euclidean"`` / ``"squared_euclidean"`` use the negated
    distance as the similarity. ``temperature`` may be a learnable tensor. Without labels
    and with the cosine similarity it runs blockwise: the ``2N x 2N`` matrix is not kept.

    Shape:
        z_a, z_b: ``[N, d]``; labels: ``[N]``; ref_emb: ``[R, d]``; ref_labels: ``[R]``;
        output: scalar, or ``[N]`` per sample.

    Example:
        >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> nt_xent(z, z, temperature=1.0)
        tensor(0.5514)
    """
    check_reduction(reduction)
    _check_temperature(temperature)
    _check_choice("distance", distance, _SIMILARITIES)
    _check_choice("average", average, ("pair", "anchor"))
    _check_embeddings("z_a", z_a)
    n = z_a.shape[0]
    if z_b is not None:
        _check_embeddings("z_b", z_b)
        check_same_shape("z_a", z_a, "z_b", z_b)
    if labels is not None:
        _check_labels("labels", labels, n, of="z_a")
    if ref_emb is not None and z_b is not None:
        raise LossInputError("pass z_b (a second view of each sample) or ref_emb (reference "
                             "embeddings), not both")
    _check_reference(z_a, labels, ref_emb, ref_labels)
    if z_b is None and labels is None:
        raise LossInputError("nt_xent needs z_b (the second view of each sample) or labels "
                             "(positives by label)")
    check_broadcastable("weight", weight, torch.Size([n]))
    views = 1 if z_b is None else 2
    anchors = _prepare(z_a, normalize)
    if z_b is not None:
        anchors = torch.cat([anchors, _prepare(z_b, normalize)])
    own_rows = ref_emb is None
    options: dict[str, Any]
    if labels is None:
        # Each view's one positive is the other view of its sample.
        offset, gathered = _gather_rows(anchors, True, distributed, group)
        rows = torch.arange(views * n, device=anchors.device)
        counts = anchors.new_ones(views * n)
        options = dict(anchor_labels=None, candidate_labels=None,
                       positive_index=offset + (rows + n) % (2 * n))
    else:
        anchor_labels = labels.repeat(views)
        refs, ref_y = _reference_rows(anchors, anchor_labels, ref_emb, ref_labels, normalize)
        offset, gathered = _gather_rows(refs, own_rows, distributed, group)
        candidate_labels = _gather_labels(ref_y, distributed, group)
        counts = _label_counts(anchor_labels, candidate_labels, own_rows).to(anchors.dtype)
        options = dict(anchor_labels=anchor_labels, candidate_labels=candidate_labels,
                       positive_index=None)
    # None: the anchors themselves, a symmetric similarity matrix
    candidates = None if own_rows and gathered is anchors else gathered
    sample_count = counts.reshape(views, n).sum(dim=0)
    w = _sample_weight(weight, n, anchors)
    per_pair_mean = reduction != "mean" or average == "anchor"
    # Row weights: "none", "sum" and average="anchor" weight each sample's mean over its
    # pairs; average="pair" weights every pair alike (the denominator counts the pairs).
    row_weight = (safe_divide(w, sample_count) if per_pair_mean else w).repeat(views)
    value = _softmax_contrast("nt_xent", anchors, candidates, temperature, row_weight, reduction,
                              unit_norm=normalize, exclude_offset=offset if own_rows else None,
                              distance=distance, pair_form=True, **options)
    if reduction == "none":
        value = value.reshape(views, n).sum(dim=0)
    if average == "anchor":
        return reduce_summed(value, reduction, shape=(n,), mask=sample_count > 0,
                             distributed=distributed, group=group)
    return reduce_summed(value, reduction, shape=(n,), class_weight=sample_count,
                         distributed=distributed, group=group)


def _supcon_reference(embeddings: torch.Tensor, labels: torch.Tensor, *,
                      temperature: float = 0.1, ref_emb: torch.Tensor | None = None,
                      ref_labels: torch.Tensor | None = None, distance: str = "cosine",
                      normalize: bool = True, reduction: str = "mean") -> torch.Tensor:
    z = F.normalize(embeddings, dim=1) if normalize else embeddings
    refs = z if ref_emb is None else (F.normalize(ref_emb, dim=1) if normalize else ref_emb)
    ref_y = labels if ref_labels is None else ref_labels

    def sim(i: int, j: int) -> torch.Tensor:
        if distance == "cosine":
            return z[i] @ refs[j]
        d = (z[i] - refs[j]).square().sum().sqrt()
        return -(d.square() if distance == "squared_euclidean" else d)

    losses, counted = [], []
    for i in range(z.shape[0]):
        others = [j for j in range(refs.shape[0]) if ref_emb is not None or j != i]
        pos = [j for j in others if ref_y[j] == labels[i]]
        if not pos:
            losses.append(z.sum() * 0)
            continue
        logits = torch.stack([sim(i, j) for j in others]) / temperature
        log_prob = logits - torch.logsumexp(logits, 0)
        losses.append(-torch.stack([log_prob[others.index(p)] for p in pos]).mean())
        counted.append(losses[-1])
    per_anchor = torch.stack(losses) if losses else z.sum(1)
    if reduction == "none":
        return per_anchor
    if reduction == "sum":
        return per_anchor.sum()
    return torch.stack(counted).mean() if counted else z.sum() * 0


@register_loss(
    family="metric_learning", tasks=("metric_learning", "classification", "self_supervised"),
    input_kind="embeddings", target_kind="class labels",
    aliases=("supervised_contrastive",), properties=("nonnegative",), none_shape="sample",
    learnable=("temperature",),
    summary="Supervised contrastive loss (SupCon, L_out): every sample of the anchor's class "
            "is a positive, every other sample a negative.",
    formula="s_ij = cos(z_i, z_j) / t (or -|z_i - z_j| / t, -|z_i - z_j|^2 / t);  L_i = "
            "-1/|P(i)| sum_{p in P(i)} log( exp(s_ip) / sum_{j != i} exp(s_ij) );  mean over "
            "anchors with |P(i)| > 0",
    gradient="dL_i/ds_ij = softmax_ij - [j in P(i)] / |P(i)|: positives share one unit of "
             "pull, negatives are pushed by their softmax weight. Anchors without positives "
             "contribute nothing (never NaN).",
    when_to_use="Learning embeddings (or pre-training a classifier backbone) from class "
                "labels, usually with two augmented views per image concatenated into the "
                "batch with their labels repeated. Khosla et al. report it more robust than "
                "cross-entropy to image corruptions and to hyperparameter choices, and it "
                "removes the false negatives of nt_xent.",
    pitfalls="Needs several samples per class per batch; a class seen once gives an anchor "
             "with no positive, which is skipped. Temperature ~0.1 (0.07 in the paper); too "
             "low is unstable. The L_in variant (log of the mean instead of mean of logs) is "
             "worse per the paper; this is L_out. Large classes dominate the pull; balance "
             "the sampler. Against pytorch-metric-learning's SupConLoss: the same L_out and "
             "the same mean (its LpDistance normalizes the embeddings like normalize=True "
             "here), except that it returns 0 for a batch without any negative pair, where "
             "L_out is not 0 (log 2 per anchor for two equally similar positives). The "
             "authors' SupContrast code multiplies the loss by temperature / "
             "base_temperature (0.07): at temperature 0.1 its value, and its gradient, is "
             "1.43x this one (scale the learning rate or the loss to reproduce it).",
    references=("Khosla et al., Supervised Contrastive Learning, NeurIPS 2020.",),
    example_inputs=_labelled_examples, reference=_supcon_reference,
)
def supcon(embeddings: torch.Tensor, labels: torch.Tensor, *,
           temperature: float | torch.Tensor = 0.1, ref_emb: torch.Tensor | None = None,
           ref_labels: torch.Tensor | None = None, distance: str = "cosine",
           normalize: bool = True, distributed: bool = False, group: Any = None,
           weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020, the L_out form).

    Anchors without any positive are excluded from the mean (``"none"`` gives them 0),
    and a batch without any positive pair gives 0 attached to the graph. For the paper's
    two-view setup pass ``torch.cat([view1, view2])`` and ``labels.repeat(2)``.
    ``ref_emb`` / ``ref_labels``: contrast each anchor with reference embeddings instead of
    the rest of the batch. ``distance="euclidean"`` / ``"squared_euclidean"`` use the
    negated distance (of the normalized embeddings with ``normalize=True``) as the
    similarity. ``temperature`` may be a learnable tensor.

    Shape:
        embeddings: ``[N, d]``; labels: ``[N]`` integers; ref_emb: ``[R, d]``; ref_labels:
        ``[R]``; output: scalar, or ``[N]``.

    Example:
        >>> z = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]])
        >>> supcon(z, torch.tensor([0, 0, 1]), temperature=1.0)
        tensor(0.3285)
    """
    check_reduction(reduction)
    _check_temperature(temperature)
    _check_choice("distance", distance, _SIMILARITIES)
    _check_embeddings("embeddings", embeddings)
    _check_labels("labels", labels, embeddings.shape[0])
    _check_reference(embeddings, labels, ref_emb, ref_labels)
    n = embeddings.shape[0]
    check_broadcastable("weight", weight, torch.Size([n]))
    z = _prepare(embeddings, normalize)
    own_rows = ref_emb is None
    refs, ref_y = _reference_rows(z, labels, ref_emb, ref_labels, normalize)
    offset, gathered = _gather_rows(refs, own_rows, distributed, group)
    candidate_labels = _gather_labels(ref_y, distributed, group)
    counts = _label_counts(labels, candidate_labels, own_rows)
    # None: the anchors themselves, a symmetric similarity matrix
    candidates = None if own_rows and gathered is z else gathered
    # Each anchor's mean over its positives: T_i / |P(i)|.
    row_weight = safe_divide(_sample_weight(weight, n, z), counts.to(z.dtype))
    value = _softmax_contrast("supcon", z, candidates, temperature, row_weight, reduction,
                              unit_norm=normalize, anchor_labels=labels,
                              candidate_labels=candidate_labels, positive_index=None,
                              exclude_offset=offset if own_rows else None, distance=distance,
                              pair_form=False)
    return reduce_summed(value, reduction, shape=(n,), mask=counts > 0,
                         distributed=distributed, group=group)
