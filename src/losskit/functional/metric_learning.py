"""Metric-learning losses: embeddings that place similar things close together.

Pair and triplet losses (``contrastive``, ``triplet_margin``) take explicit tuples of
embeddings. Batch losses (``batch_triplet``, ``info_nce``, ``nt_xent``, ``supcon``)
form every pair or triplet of a batch implicitly, with memory that grows with the
square of the batch at most: ``batch_triplet`` never builds an ``[N, N, N]`` tensor
(see :mod:`losskit.kernels.triplet`), and the three softmax-contrastive losses never
hold their similarity matrix with its autograd graph (see
:mod:`losskit.kernels.contrastive`).

Embeddings are ``[N, d]`` float tensors; float16/bfloat16 are computed in float32.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .. import distributed as _dist
from .._core.reduce import reduce, safe_divide, upcast
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
from ..kernels import triplet as _triplet
from ..kernels.contrastive import similarity_logsumexp
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


def _check_labels(labels: torch.Tensor, n: int) -> None:
    check_integer("labels", labels)
    if labels.shape != (n,):
        raise LossInputError(f"labels must have shape [N] = ({n},) to match the embeddings, "
                             f"got {tuple(labels.shape)}")


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise LossInputError(f"{name} must be one of {allowed}, got {value!r}")


def _prepare(x: torch.Tensor, normalize: bool) -> torch.Tensor:
    x = upcast(x)
    return F.normalize(x, dim=1) if normalize else x


# --- pair and triplet losses ---------------------------------------------------------------


def _pair_examples(n: int, seed: int):
    g = ex.generator(seed)
    a = ex.randn(n, 4, g=g)
    b = a + 0.8 * ex.randn(n, 4, g=g)
    return a, b, ex.rand(n, g=g) > 0.5


def _contrastive_optimum(args):
    a, same = args[0], args[2]
    # Same pairs coincide, different pairs are pushed far beyond any margin.
    far = a.detach() + 10.0
    return (a, torch.where(same[:, None], a.detach(), far), same, *args[3:])


def _contrastive_reference(a, b, same, *, margin=1.0, distance="euclidean", reduction="mean"):
    if distance == "euclidean":
        d = torch.linalg.vector_norm(a - b, dim=1)
    else:
        d = 1 - F.cosine_similarity(a, b, dim=1)
    s = same.to(a.dtype)
    loss = 0.5 * s * d ** 2 + 0.5 * (1 - s) * torch.clamp(margin - d, min=0) ** 2
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@register_loss(
    family="metric_learning", tasks=("metric_learning", "verification"),
    input_kind="embeddings", target_kind="pair labels (same / different)",
    aliases=("contrastive_loss", "siamese"),
    properties=("nonnegative", "zero_at_optimum"), grad_args=(0, 1), none_shape="sample",
    summary="Contrastive (siamese) pair loss: pull same pairs together, push different pairs "
            "at least a margin apart.",
    formula="d = |a - b|_2 (or 1 - cos(a, b));  L = same * d^2 / 2 + (1 - same) * "
            "max(0, margin - d)^2 / 2",
    gradient="Same pairs: dL/da = (a - b), a spring that never lets go. Different pairs: a "
             "push of size (margin - d) while closer than the margin, exactly 0 beyond it, so "
             "easy negatives stop contributing.",
    when_to_use="Verification data that comes as labelled pairs (same person / not, duplicate "
                "question / not), and siamese networks. With class labels for a whole batch, "
                "batch_triplet or supcon use far more of the batch's information.",
    pitfalls="Collapse: if most pairs are positive the trivial solution maps everything to one "
             "point; balance positive and negative pairs. The margin is in distance units: "
             "normalize embeddings (or use distance='cosine', distances in [0, 2]) so one "
             "margin fits all scales. Pulling positives to distance 0 over-constrains "
             "classes with real intra-class variation.",
    references=("Hadsell, Chopra & LeCun, Dimensionality Reduction by Learning an Invariant "
                "Mapping, CVPR 2006.",),
    example_inputs=_pair_examples, reference=_contrastive_reference,
    optimum=_contrastive_optimum,
)
def contrastive(a: torch.Tensor, b: torch.Tensor, same: torch.Tensor, *, margin: float = 1.0,
                distance: str = "euclidean", weight: torch.Tensor | None = None,
                reduction: str = "mean") -> torch.Tensor:
    """Contrastive loss of Hadsell et al. (2006) on pairs ``(a_i, b_i)``.

    Shape:
        a, b: ``[N, d]``; same: ``[N]`` bool (or 0/1), True where the pair should match;
        output: scalar, or ``[N]`` per pair with ``reduction="none"``.

    Example:
        >>> contrastive(torch.zeros(2, 2), torch.tensor([[3.0, 4.0], [0.6, 0.0]]),
        ...             torch.tensor([True, False]))
        tensor(6.2900)
    """
    check_reduction(reduction)
    check_param("margin", margin, low=0.0)
    _check_choice("distance", distance, ("euclidean", "cosine"))
    _check_embeddings("a", a)
    _check_embeddings("b", b)
    check_same_shape("a", a, "b", b)
    if not isinstance(same, torch.Tensor) or same.shape != (a.shape[0],):
        raise LossInputError(f"same must be a tensor of shape [N] = ({a.shape[0]},), got "
                             f"{tuple(same.shape) if isinstance(same, torch.Tensor) else same!r}")
    check_broadcastable("weight", weight, torch.Size([a.shape[0]]))
    x, y = upcast(a), upcast(b)
    is_same = same.bool()
    if distance == "euclidean":
        sq = (x - y).square().sum(dim=1)
        # sqrt only where positive: coincident negatives get a zero (not NaN) gradient.
        d = torch.where(sq > 0, torch.where(sq > 0, sq, 1.0).sqrt(), 0.0)
    else:
        d = 1.0 - F.cosine_similarity(x, y, dim=1)
        sq = d.square()
    loss = torch.where(is_same, 0.5 * sq, 0.5 * (margin - d).clamp(min=0.0).square())
    return reduce(loss, reduction, weight=weight)


def _triplet_examples(n: int, seed: int):
    g = ex.generator(seed)
    anchor = ex.randn(n, 4, g=g)
    return anchor, anchor + 0.7 * ex.randn(n, 4, g=g), ex.randn(n, 4, g=g)


def _triplet_optimum(args):
    anchor = args[0]
    return (anchor, anchor.detach().clone(), anchor.detach() + 10.0, *args[3:])


def _triplet_reference(anchor, positive, negative, *, margin=1.0, p=2.0, eps=1e-6,
                       swap=False, reduction="mean"):
    return F.triplet_margin_loss(anchor, positive, negative, margin=margin, p=p, eps=eps,
                                 swap=swap, reduction=reduction)


@register_loss(
    family="metric_learning", tasks=("metric_learning", "retrieval"),
    input_kind="embeddings", target_kind="implicit (anchor, positive, negative)",
    aliases=("triplet", "triplet_margin_loss"),
    properties=("nonnegative", "zero_at_optimum"), grad_args=(0, 1, 2), none_shape="sample",
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
                   margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                   weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """Triplet margin loss (same values as :func:`torch.nn.functional.triplet_margin_loss`).

    Shape:
        anchor, positive, negative: ``[N, d]``; output: scalar, or ``[N]`` per triplet.

    Example:
        >>> triplet_margin(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]),
        ...                torch.tensor([[0.0, 1.5]]), margin=1.0)
        tensor(0.5000)
    """
    check_reduction(reduction)
    check_param("margin", margin, low=0.0)
    check_param("p", p, low=0.0, low_inclusive=False)
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


def _labelled_examples(n: int, seed: int):
    """Embeddings ``[n, 4]`` and labels ``[n]`` in which most classes appear twice."""
    g = ex.generator(seed)
    labels = (torch.arange(n) // 2)[torch.randperm(n, generator=g)]
    centers = ex.randn(max(n, 1), 4, g=g)
    return centers[labels] * 0.8 + ex.randn(n, 4, g=g) * 0.6, labels


def _triplet_hinges_brute_force(embeddings, labels, margin, mining, squared):
    """Per-anchor triplet hinges by explicit loops: ``{anchor: [hinge, ...]}``."""
    n = embeddings.shape[0]
    d = torch.cdist(embeddings, embeddings) if n else embeddings.new_zeros(0, 0)
    if squared:
        d = d ** 2
    out = {}
    for a in range(n):
        pos = [p for p in range(n) if p != a and labels[p] == labels[a]]
        neg = [q for q in range(n) if labels[q] != labels[a]]
        if not pos or not neg:
            out[a] = []
            continue
        if mining == "all":
            out[a] = [torch.relu(d[a, p] - d[a, q] + margin) for p in pos for q in neg]
        elif mining == "hard":
            hp = max(d[a, p] for p in pos)
            hn = min(d[a, q] for q in neg)
            out[a] = [torch.relu(hp - hn + margin)]
        else:
            hinges = []
            for p in pos:
                farther = [d[a, q] for q in neg if d[a, q] > d[a, p]]
                dn = min(farther) if farther else max(d[a, q] for q in neg)
                hinges.append(torch.relu(d[a, p] - dn + margin))
            out[a] = hinges
    return out


def _batch_triplet_reference(embeddings, labels, *, margin=0.2, mining="all", squared=False,
                             average="valid", reduction="mean"):
    hinges = _triplet_hinges_brute_force(embeddings, labels, margin, mining, squared)
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


@register_loss(
    family="metric_learning", tasks=("metric_learning", "retrieval", "face_recognition"),
    input_kind="embeddings", target_kind="class labels",
    aliases=("batch_all_triplet", "batch_hard_triplet", "online_triplet"),
    properties=("nonnegative",), none_shape="sample",
    summary="Triplet loss mined inside a labelled batch: all valid triplets, the hardest per "
            "anchor, or FaceNet's semi-hard negatives.",
    formula="D = pairwise distances; valid (a, p, n): y_p = y_a, p != a, y_n != y_a;  "
            "all: mean over valid triplets of max(0, D_ap - D_an + margin);  hard: per anchor "
            "max(0, max_p D_ap - min_n D_an + margin);  semihard: per (a, p) the nearest "
            "negative with D_an > D_ap (else the farthest negative)",
    gradient="dL/dD_ap = number of active negatives of (a, p), dL/dD_an = -number of active "
             "positives of (a, n), divided by the number of triplets averaged over; the "
             "gradient flows from D to the embeddings. Satisfied triplets give nothing, so "
             "with average='valid' the loss and its gradient shrink as training succeeds.",
    when_to_use="Learning retrieval or verification embeddings from class-labelled batches "
                "(P classes x K samples per batch works best). mining='hard' (Hermans et al.) "
                "is the strongest signal once training is under way; 'semihard' (FaceNet) is "
                "gentler; 'all' with average='nonzero' is a stable default.",
    pitfalls="Hard mining early in training (or with label noise) picks outliers and can "
             "collapse all embeddings to one point (loss stuck at margin); warm up with "
             "'all' or 'semihard'. Batches need several samples per class, otherwise "
             "anchors have no positive and contribute nothing. average='valid' divides by all "
             "triplets, most of them zero late in training, so the gradient fades; "
             "average='nonzero' (pytorch-metric-learning's default) keeps it up but makes the "
             "loss value non-monotone. Normalize embeddings so the margin has a fixed scale.",
    references=("Schroff, Kalenichenko & Philbin, FaceNet, CVPR 2015 (semi-hard mining).",
                "Hermans, Beyer & Leibe, In Defense of the Triplet Loss for Person "
                "Re-Identification, arXiv:1703.07737, 2017 (batch-hard, batch-all).",),
    example_inputs=_labelled_examples, reference=_batch_triplet_reference,
    expected_failures={"reduction_consistency": "'none' gives each anchor's summed triplet "
                       "hinges while 'mean' averages over triplets, not anchors"},
)
def batch_triplet(embeddings: torch.Tensor, labels: torch.Tensor, *, margin: float = 0.2,
                  mining: str = "all", squared: bool = False, average: str = "valid",
                  distributed: bool = False, group: Any = None,
                  weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """Triplet loss over the triplets of a labelled batch, mined on the fly.

    Distances are Euclidean (``squared=True``: squared Euclidean, as in FaceNet). Memory
    is ``O(N^2)``: batch-all sums its hinges with one sort and binary searches per
    anchor (:mod:`losskit.kernels.triplet`) instead of an ``[N, N, N]`` tensor.

    ``average`` chooses what ``"mean"`` divides by: ``"valid"`` the number of valid
    triplets (a plain mean), ``"nonzero"`` the number of triplets with a positive hinge
    (pytorch-metric-learning's ``AvgNonZeroReducer``; Hermans et al.'s batch-all
    ``BA≠0``). ``"none"`` returns each anchor's *summed* hinges ``[N]`` and ``weight``
    ``[N]`` rescales them; ``"sum"`` is their total.

    Shape:
        embeddings: ``[N, d]``; labels: ``[N]`` integers; output: scalar or ``[N]``.

    Example:
        >>> x = torch.tensor([[0.0], [0.1], [0.5], [2.0]])
        >>> batch_triplet(x, torch.tensor([0, 0, 1, 1]), margin=0.5, mining="hard")
        tensor(0.5000)
    """
    check_reduction(reduction)
    check_param("margin", margin, low=0.0)
    _check_choice("mining", mining, ("all", "hard", "semihard"))
    _check_choice("average", average, ("valid", "nonzero"))
    _check_embeddings("embeddings", embeddings)
    _check_labels(labels, embeddings.shape[0])
    check_broadcastable("weight", weight, torch.Size([embeddings.shape[0]]))
    x = upcast(embeddings)
    # Anchors are this rank's rows; candidates are the whole (gathered) batch.
    offset, candidates, candidate_labels = _gather_candidates(x, labels, distributed, group)
    dist = _triplet.pairwise_distances(x, candidates, squared=squared, offset=offset)
    same = labels[:, None] == candidate_labels[None, :]
    rows = torch.arange(labels.shape[0], device=labels.device)
    own = torch.zeros_like(same)
    own[rows, rows + offset] = True
    positive = same & ~own
    negative = ~same
    mine = {"all": _triplet.batch_all, "hard": _triplet.batch_hard,
            "semihard": _triplet.semihard}[mining]
    per_anchor, active, valid = mine(dist, positive, negative, margin)
    counted = (valid if average == "valid" else active).to(per_anchor.dtype)
    # Each anchor enters the mean as many times as it has counted triplets: its mean
    # hinge, weighted by that count, makes "mean" the mean over triplets.
    return reduce(safe_divide(per_anchor, counted), reduction, weight=weight,
                  class_weight=counted, distributed=distributed, group=group)


# --- softmax-contrastive family ---------------------------------------------------------------


def _gather_candidates(x: torch.Tensor, labels: torch.Tensor, distributed: bool,
                       group: Any) -> tuple[int, torch.Tensor, torch.Tensor]:
    """This rank's row offset, and the candidates and labels of the whole batch.

    In one process (or with ``distributed=False``) that is ``(0, x, labels)``. With a
    process group, every rank's rows are all-gathered with gradients
    (:func:`losskit.distributed.gather`), so the negatives come from the global batch.
    """
    if not (distributed and _dist.is_active(group)):
        return 0, x, labels
    offset = _dist.rank_offset(x.shape[0], x.device, group)
    return offset, _dist.gather(x, group), _dist.gather(labels, group)


def _candidate_set(anchor_labels: torch.Tensor, candidates: torch.Tensor,
                   labels: torch.Tensor, anchors_are_candidates: bool, labels_are_ids: bool,
                   distributed: bool = False, group: Any = None,
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The keys every anchor is contrasted with, and each anchor's own column.

    This is the one place the candidate set is formed. Returns ``(anchor_labels,
    candidates, candidate_labels, exclude)``. In one process the candidates are the
    local batch; with ``distributed=True`` and a process group they are every rank's
    (gathered with gradients). When the anchors are among the candidates (``nt_xent``,
    ``supcon``), ``exclude[i]`` is anchor ``i``'s own column, which row ``i`` skips.
    Labels that are row ids (``nt_xent``, ``info_nce``) are shifted by the rank's row
    offset so they stay unique in the global batch.
    """
    active = distributed and _dist.is_active(group)
    offset = _dist.rank_offset(candidates.shape[0], candidates.device, group) if active else 0
    if labels_are_ids and offset:
        anchor_labels, labels = anchor_labels + offset, labels + offset
    if active:
        candidates, labels = _dist.gather(candidates, group), _dist.gather(labels, group)
    candidate_labels = labels
    exclude = None
    if anchors_are_candidates:
        exclude = offset + torch.arange(anchor_labels.shape[0], device=candidates.device)
    return anchor_labels, candidates, candidate_labels, exclude


def _softmax_contrast(anchors: torch.Tensor, anchor_labels: torch.Tensor,
                      candidates: torch.Tensor, candidate_labels: torch.Tensor,
                      exclude: torch.Tensor | None,
                      temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-anchor ``-mean_{p in P(i)} log softmax_j(s_ij / t)[p]`` and the anchors with a positive.

    ``j`` runs over the candidates except ``exclude[i]``; ``P(i)`` are the candidates
    with the anchor's label (again except ``exclude[i]``). Because the positive term
    is linear in the similarities, ``mean_p s_ip = q_i . (sum_p k_p) / |P(i)|`` uses
    per-label sums of the candidates: only the log-sum-exp needs all pairs, and it is
    computed blockwise without keeping the matrix.
    """
    scale = 1.0 / temperature
    log_normalizer = similarity_logsumexp(anchors, candidates, scale, exclude)
    all_labels, inverse = torch.unique(torch.cat([anchor_labels, candidate_labels]),
                                       return_inverse=True)
    anchor_class, candidate_class = inverse[:anchors.shape[0]], inverse[anchors.shape[0]:]
    label_sum = candidates.new_zeros(all_labels.shape[0], candidates.shape[1]).index_add(
        0, candidate_class, candidates)
    label_count = torch.bincount(candidate_class, minlength=all_labels.shape[0])
    positive_sum, positives = label_sum[anchor_class], label_count[anchor_class]
    if exclude is not None:
        col = exclude.clamp(min=0)
        own = (exclude >= 0) & (candidate_labels[col] == anchor_labels)
        positive_sum = positive_sum - torch.where(own[:, None], candidates[col], 0.0)
        positives = positives - own.long()
    positive_logit = scale * safe_divide((anchors * positive_sum).sum(dim=1),
                                         positives.to(anchors.dtype))
    return log_normalizer - positive_logit, positives > 0


def _check_temperature(temperature: float) -> None:
    check_param("temperature", temperature, low=0.0, low_inclusive=False)


def _view_examples(n: int, seed: int):
    g = ex.generator(seed)
    z = ex.randn(n, 4, g=g)
    return z, z + 0.5 * ex.randn(n, 4, g=g)


def _info_nce_reference(query, key, *, temperature=0.1, negatives=None, normalize=True,
                        reduction="mean"):
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
    none_shape="sample",
    summary="InfoNCE: each query must pick its own key out of the batch's keys (and optional "
            "extra negatives), a softmax over cosine similarities.",
    formula="s_ij = cos(q_i, k_j) / t over keys = [key; negatives];  L_i = -log( exp(s_ii) / "
            "sum_j exp(s_ij) )",
    gradient="dL/ds_ij = softmax_ij - [j = i]: every negative is pushed away in proportion to "
             "how likely it currently looks, so hard negatives dominate; 1/t scales the "
             "logits and sharpens that focus.",
    when_to_use="Contrastive representation learning with paired views or modalities "
                "(CPC, MoCo with a queue passed as negatives=[M, d], CLIP-style retrieval in "
                "one direction). A lower bound on mutual information that tightens with more "
                "negatives.",
    pitfalls="Temperature too low (< 0.05) makes the loss chase a few hard negatives and "
             "training unstable; too high washes out the signal. In-batch false negatives: a "
             "key of the same class as the query is still treated as a negative (use supcon "
             "when labels exist). Small batches give few negatives and a loose bound. Without "
             "normalize the logits grow with the embedding norm.",
    references=("van den Oord, Li & Vinyals, Representation Learning with Contrastive "
                "Predictive Coding, arXiv:1807.03748, 2018.",
                "He et al., Momentum Contrast (MoCo), CVPR 2020 (extra negatives).",),
    example_inputs=_view_examples, reference=_info_nce_reference,
)
def info_nce(query: torch.Tensor, key: torch.Tensor, *, temperature: float = 0.1,
             negatives: torch.Tensor | None = None, normalize: bool = True,
             distributed: bool = False, group: Any = None,
             weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """InfoNCE with in-batch negatives: key ``i`` is the positive of query ``i``.

    Every other key, plus each row of ``negatives`` (a memory bank or queue), is a
    negative. ``normalize=True`` uses cosine similarity (the usual choice).

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
    check_broadcastable("weight", weight, torch.Size([query.shape[0]]))
    n = query.shape[0]
    ids = torch.arange(n, device=query.device)
    query_ids, keys, key_ids, exclude = _candidate_set(
        ids, _prepare(key, normalize), ids, anchors_are_candidates=False, labels_are_ids=True,
        distributed=distributed, group=group)
    if negatives is not None:
        _check_embeddings("negatives", negatives)
        if negatives.shape[1] != query.shape[1]:
            raise LossInputError(f"negatives must have shape [M, {query.shape[1]}] like the "
                                 f"query, got {tuple(negatives.shape)}")
        # Extra negatives (a memory bank every rank shares) are not gathered; they get a
        # label no query has.
        keys = torch.cat([keys, _prepare(negatives, normalize).to(keys.dtype)])
        key_ids = torch.cat([key_ids, key_ids.new_full((negatives.shape[0],), -1)])
    loss, _ = _softmax_contrast(_prepare(query, normalize), query_ids, keys, key_ids, exclude,
                                temperature)
    return reduce(loss, reduction, weight=weight, distributed=distributed, group=group)


def _nt_xent_reference(z_a, z_b, *, temperature=0.5, normalize=True, reduction="mean"):
    n = z_a.shape[0]
    z = torch.cat([z_a, z_b])
    if normalize:
        z = F.normalize(z, dim=1)
    sim = (z @ z.t() / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool),
                                                float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    per_view = (F.cross_entropy(sim, target, reduction="none") if n
                else sim.sum(1))
    per_pair = 0.5 * (per_view[:n] + per_view[n:])
    if reduction == "none":
        return per_pair
    return per_pair.sum() if reduction == "sum" else (per_pair.mean() if n else per_pair.sum())


@register_loss(
    family="metric_learning", tasks=("self_supervised", "metric_learning"),
    input_kind="embeddings", target_kind="implicit (z_a[i] and z_b[i] are two views)",
    aliases=("simclr", "ntxent", "normalized_temperature_cross_entropy"),
    properties=("nonnegative",), grad_args=(0, 1), none_shape="sample",
    summary="NT-Xent (SimCLR): each view must find its partner among the other 2N - 2 views of "
            "the batch, a softmax over cosine similarities.",
    formula="z = [z_a; z_b], s_ij = cos(z_i, z_j) / t;  l_i = -log( exp(s_{i,pair(i)}) / "
            "sum_{j != i} exp(s_ij) );  L_k = (l_k + l_{k+N}) / 2",
    gradient="dl_i/ds_ij = softmax_ij - [j = pair(i)] over the 2N - 1 other views: the "
             "partner is pulled in, every other view pushed away in proportion to its "
             "softmax weight (hard negatives first).",
    when_to_use="Self-supervised pre-training from two augmentations of each image (SimCLR) "
                "or any symmetric two-view setup. Large batches (256-4096) matter: they are "
                "the negatives.",
    pitfalls="Temperature: SimCLR found 0.1-0.5 best; too low is unstable, too high gives weak "
             "gradients. Other samples of the same class are treated as negatives (false "
             "negatives); with labels use supcon. Weak augmentations let the network solve the "
             "task with trivial cues. Dimensional collapse is not prevented, only slowed; "
             "watch the embedding spectrum.",
    references=("Chen, Kornblith, Norouzi & Hinton, A Simple Framework for Contrastive "
                "Learning of Visual Representations (SimCLR), ICML 2020.",
                "Sohn, Improved Deep Metric Learning with Multi-class N-pair Loss Objective, "
                "NeurIPS 2016.",),
    example_inputs=_view_examples, reference=_nt_xent_reference,
)
def nt_xent(z_a: torch.Tensor, z_b: torch.Tensor, *, temperature: float = 0.5,
            normalize: bool = True, distributed: bool = False, group: Any = None,
            weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """NT-Xent loss of SimCLR on two views ``z_a[i]``, ``z_b[i]`` of the same sample.

    Every view is an anchor; its positive is the other view of its sample and its
    negatives are the remaining ``2N - 2`` views. ``"none"`` gives ``[N]``, the mean of
    the two directions of each pair, so ``"mean"`` is SimCLR's average over all ``2N``
    anchors. Works blockwise: the ``2N x 2N`` similarity matrix is never kept.

    Shape:
        z_a, z_b: ``[N, d]``; output: scalar, or ``[N]`` per pair.

    Example:
        >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> nt_xent(z, z, temperature=1.0)
        tensor(0.5514)
    """
    check_reduction(reduction)
    _check_temperature(temperature)
    _check_embeddings("z_a", z_a)
    _check_embeddings("z_b", z_b)
    check_same_shape("z_a", z_a, "z_b", z_b)
    n = z_a.shape[0]
    check_broadcastable("weight", weight, torch.Size([n]))
    views = torch.cat([_prepare(z_a, normalize), _prepare(z_b, normalize)])
    pair_id = torch.arange(n, device=z_a.device).repeat(2)
    anchor_ids, candidates, candidate_ids, exclude = _candidate_set(
        pair_id, views, pair_id, anchors_are_candidates=True, labels_are_ids=True,
        distributed=distributed, group=group)
    per_view, _ = _softmax_contrast(views, anchor_ids, candidates, candidate_ids, exclude,
                                    temperature)
    return reduce(0.5 * (per_view[:n] + per_view[n:]), reduction, weight=weight,
                  distributed=distributed, group=group)


def _supcon_reference(embeddings, labels, *, temperature=0.1, normalize=True, reduction="mean"):
    z = F.normalize(embeddings, dim=1) if normalize else embeddings
    losses, counted = [], []
    for i in range(z.shape[0]):
        others = [j for j in range(z.shape[0]) if j != i]
        pos = [j for j in others if labels[j] == labels[i]]
        if not pos:
            losses.append(z.sum() * 0)
            continue
        logits = torch.stack([z[i] @ z[j] for j in others]) / temperature
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
    summary="Supervised contrastive loss (SupCon, L_out): every sample of the anchor's class "
            "is a positive, every other sample a negative.",
    formula="s_ij = cos(z_i, z_j) / t;  L_i = -1/|P(i)| sum_{p in P(i)} log( exp(s_ip) / "
            "sum_{j != i} exp(s_ij) );  mean over anchors with |P(i)| > 0",
    gradient="dL_i/ds_ij = softmax_ij - [j in P(i)] / |P(i)|: positives share one unit of "
             "pull, negatives are pushed by their softmax weight. Anchors without positives "
             "contribute nothing (never NaN).",
    when_to_use="Learning embeddings (or pre-training a classifier backbone) from class "
                "labels, usually with two augmented views per image concatenated into the "
                "batch with their labels repeated. Often more robust to hyperparameters and "
                "label noise than cross-entropy, and removes the false negatives of nt_xent.",
    pitfalls="Needs several samples per class per batch; a class seen once gives an anchor "
             "with no positive, which is skipped. Temperature ~0.1 (0.07 in the paper); too "
             "low is unstable. The L_in variant (log of the mean instead of mean of logs) is "
             "worse per the paper; this is L_out. Large classes dominate the pull; balance "
             "the sampler.",
    references=("Khosla et al., Supervised Contrastive Learning, NeurIPS 2020.",),
    example_inputs=_labelled_examples, reference=_supcon_reference,
)
def supcon(embeddings: torch.Tensor, labels: torch.Tensor, *, temperature: float = 0.1,
           normalize: bool = True, distributed: bool = False, group: Any = None,
           weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020, the L_out form).

    Anchors without any positive are excluded from the mean (``"none"`` gives them 0),
    and a batch without any positive pair gives 0 attached to the graph. For the paper's
    two-view setup pass ``torch.cat([view1, view2])`` and ``labels.repeat(2)``.

    Shape:
        embeddings: ``[N, d]``; labels: ``[N]`` integers; output: scalar, or ``[N]``.

    Example:
        >>> z = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]])
        >>> supcon(z, torch.tensor([0, 0, 1]), temperature=1.0)
        tensor(0.3285)
    """
    check_reduction(reduction)
    _check_temperature(temperature)
    _check_embeddings("embeddings", embeddings)
    _check_labels(labels, embeddings.shape[0])
    check_broadcastable("weight", weight, torch.Size([embeddings.shape[0]]))
    z = _prepare(embeddings, normalize)
    anchor_labels, candidates, candidate_labels, exclude = _candidate_set(
        labels, z, labels, anchors_are_candidates=True, labels_are_ids=False,
        distributed=distributed, group=group)
    loss, has_positive = _softmax_contrast(z, anchor_labels, candidates, candidate_labels,
                                           exclude, temperature)
    return reduce(loss, reduction, weight=weight, mask=has_positive, distributed=distributed,
                  group=group)
