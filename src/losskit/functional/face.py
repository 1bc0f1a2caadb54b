"""Face recognition and re-identification losses: margins on the hypersphere.

Two kinds of loss live here. **Class-center (proxy) losses** compare each embedding
with one learnable center per identity: ``arcface`` and ``cosface`` put a margin on
the target class's cosine and apply softmax cross-entropy over all classes;
``proxy_anchor`` pulls the batch toward its proxies with log-sum-exp terms. The
centers are an argument, so the caller owns them (:mod:`losskit.modules` has
``nn.Module`` versions that hold them as parameters). **In-batch pair losses**
(``circle``, ``multi_similarity``) compare the batch's embeddings with each other;
positives and negatives are label-equality masks over the ``[N, N]`` similarity
matrix (no data-dependent indexing), so memory is ``O(N^2)``.

Every similarity is the cosine of L2-normalized rows. Values match
pytorch-metric-learning (``ArcFaceLoss``, ``SubCenterArcFaceLoss``, ``CosFaceLoss``,
``CircleLoss``, ``ProxyAnchorLoss``, ``MultiSimilarityLoss``; tested in float64),
whose ArcFace margin is given in degrees where ours is in radians.
Embeddings are ``[N, d]`` float tensors; float16/bfloat16 are computed in float32.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .. import distributed as _dist
from .._core._math import as_scalar
from .._core.reduce import reduce, safe_divide, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_class_indices,
    check_floating,
    check_integer,
    check_ndim,
    check_param,
    check_reduction,
)
from . import _examples as ex

__all__ = ["arcface", "circle", "cosface", "multi_similarity", "proxy_anchor"]


# --- shared checks and pieces -----------------------------------------------------------------


def _check_embeddings(name: str, x: torch.Tensor) -> None:
    check_floating(name, x)
    check_ndim(name, x, 2, "[N, d] embeddings")


def _check_centers(name: str, centers: torch.Tensor, embeddings: torch.Tensor) -> None:
    check_floating(name, centers)
    check_ndim(name, centers, 2, f"[C, d] {name}")
    if centers.shape[1] != embeddings.shape[1]:
        raise LossInputError(f"{name} must have shape [C, {embeddings.shape[1]}] to match the "
                             f"embeddings' dimension, got {tuple(centers.shape)}")


def _check_labels(name: str, labels: torch.Tensor, n: int) -> None:
    check_integer(name, labels)
    if labels.shape != (n,):
        raise LossInputError(f"{name} must have shape [N] = ({n},) to match the embeddings, "
                             f"got {tuple(labels.shape)}")


def _normalized(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(upcast(x), dim=1)


def _cosines(embeddings: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """``[N, C]`` cosines of embeddings to centers, in their common (promoted) dtype."""
    e, w = _normalized(embeddings), _normalized(centers)
    dtype = torch.promote_types(e.dtype, w.dtype)
    return e.to(dtype) @ w.to(dtype).t()


def _margin_cross_entropy(cos: torch.Tensor, target: torch.Tensor, target_logit: torch.Tensor,
                          scale: float | torch.Tensor) -> torch.Tensor:
    """Per-sample ``-log softmax(scale * logits)[target]`` where the target column of ``cos``
    is replaced by ``target_logit``; logsumexp keeps scale 64 logits stable."""
    is_target = target[:, None] == torch.arange(cos.shape[1], device=cos.device)
    logits = torch.where(is_target, target_logit[:, None], cos) * scale
    return torch.logsumexp(logits, dim=1) - target_logit * scale


def _class_examples(n: int, seed: int, classes: int = 3,
                    subcenters: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Embeddings ``[n, 4]`` near their class's center, centers ``[classes * k, 4]``, labels."""
    g = ex.generator(seed)
    centers = ex.randn(classes * subcenters, 4, g=g)
    target = torch.randint(0, classes, (n,), generator=g)
    pick = target * subcenters + torch.randint(0, subcenters, (n,), generator=g)
    return centers[pick] + 0.9 * ex.randn(n, 4, g=g), centers, target


# --- ArcFace -----------------------------------------------------------------------------------


def _additive_angular_margin(cos: torch.Tensor, margin: float | torch.Tensor) -> torch.Tensor:
    """``cos(theta + m)`` from ``cos(theta)``, finite in value and gradient at theta = 0 and pi.

    ``cos(theta + m) = cos(theta) cos(m) - sin(theta) sin(m)`` with ``sin(theta) =
    sqrt((1 - c)(1 + c))``. Written through ``acos`` instead, the derivative
    ``-1 / sqrt(1 - c^2)`` is infinite where an embedding lies exactly on its center
    (c = 1) and the gradient becomes ``inf * 0 = NaN`` (insightface #1555). Here the
    square root only sees positive arguments (double ``where``), so at exactly c = +-1
    the sine is 0 with zero gradient: the value is exact, and the gradient is the
    subgradient that drops the sine's term (the loss is a cone in the embedding there,
    with no unique gradient). Anywhere else the gradient is the exact
    ``sin(theta + m) / sin(theta)`` times the gradient of c.

    When ``theta + m > pi`` the cosine would rise again as theta grows; like insightface
    (``easy_margin=False``) and pytorch-metric-learning the logit then becomes
    ``cos(theta) - m sin(m)``, which keeps it decreasing in theta (the switch is at
    ``cos(theta) = cos(pi - m) = -cos(m)``).
    """
    m = as_scalar(margin, cos)
    cos_m, sin_m = torch.cos(m), torch.sin(m)
    c = cos.clamp(-1.0, 1.0)
    sin_sq = (1.0 - c) * (1.0 + c)  # more accurate than 1 - c^2 near c = +-1
    positive = sin_sq > 0
    sin_theta = torch.where(positive, torch.where(positive, sin_sq, 1.0).sqrt(), 0.0)
    shifted = c * cos_m - sin_theta * sin_m
    return torch.where(c > -cos_m, shifted, c - m * sin_m)


def _subcenter_cosine(embeddings: torch.Tensor, centers: torch.Tensor,
                      subcenters: int) -> torch.Tensor:
    """``[N, C]`` cosines; with ``k`` sub-centers per class the largest of the class's k."""
    cos = _cosines(embeddings, centers)
    if subcenters == 1:
        return cos
    return cos.view(cos.shape[0], cos.shape[1] // subcenters, subcenters).amax(dim=2)


def _check_face_inputs(embeddings: torch.Tensor, centers: torch.Tensor, target: torch.Tensor,
                       weight: torch.Tensor | None, subcenters: int) -> None:
    _check_embeddings("embeddings", embeddings)
    _check_centers("centers", centers, embeddings)
    if not isinstance(subcenters, int) or isinstance(subcenters, bool) or subcenters < 1:
        raise LossInputError(f"subcenters must be a positive int, got {subcenters!r}")
    if centers.shape[0] % subcenters:
        raise LossInputError(f"centers must have C * subcenters rows (grouped per class); "
                             f"{centers.shape[0]} rows do not divide into groups of "
                             f"{subcenters}")
    _check_labels("target", target, embeddings.shape[0])
    check_class_indices("target", target, centers.shape[0] // subcenters)
    check_broadcastable("weight", weight, torch.Size([embeddings.shape[0]]))


def _arcface_reference(embeddings: torch.Tensor, centers: torch.Tensor, target: torch.Tensor, *,
                       margin: float = 0.5, scale: float = 64.0, subcenters: int = 1,
                       reduction: str = "mean") -> torch.Tensor:
    # The textbook acos form, one sample at a time (valid away from theta = 0).
    e = embeddings / embeddings.norm(dim=1, keepdim=True)
    w = centers / centers.norm(dim=1, keepdim=True)
    losses = []
    for i in range(e.shape[0]):
        cos = (w @ e[i]).view(-1, subcenters).max(dim=1).values
        theta = torch.acos(cos[target[i]])
        if theta + margin <= math.pi:
            target_cos = torch.cos(theta + margin)
        else:
            target_cos = cos[target[i]] - margin * math.sin(margin)
        logits = torch.cat([cos[:target[i]], target_cos[None], cos[target[i] + 1:]]) * scale
        losses.append(torch.logsumexp(logits, 0) - logits[target[i]])
    per = torch.stack(losses) if losses else embeddings.sum(1)
    return {"mean": per.mean() if losses else per.sum(), "sum": per.sum(), "none": per}[reduction]


@register_loss(
    family="metric_learning",
    tasks=("face_recognition", "re_identification", "metric_learning", "retrieval"),
    input_kind="embeddings", target_kind="class indices (identities)",
    aliases=("additive_angular_margin", "arcface_loss", "subcenter_arcface"),
    properties=("nonnegative",), grad_args=(0, 1), none_shape="sample",
    learnable=("margin", "scale"),
    summary="ArcFace (additive angular margin): softmax cross-entropy on scaled cosines to "
            "class centers, with the target angle enlarged by a margin; sub-center variant.",
    formula="cos_ij = cos(e_i, w_j) (max over the k sub-centers of class j);  theta = "
            "acos(cos_iy);  logit_iy = s cos(theta + m) (s (cos_iy - m sin m) once theta + m > "
            "pi), logit_ij = s cos_ij for j != y;  L_i = -log softmax(logit_i)[y]",
    gradient="dL/dlogit_ij = softmax_ij - [j = y], times s; the target cosine's gradient is "
             "scaled by sin(theta + m) / sin(theta), above 1 while theta < (pi - m) / 2 (76 "
             "degrees for m = 0.5), so samples already near their center still get pushed "
             "until the margin is met; below 1 for larger target angles, and exactly 1 past "
             "theta + m > pi, where the logit is s (cos - m sin m). Finite (a subgradient) "
             "even when an embedding lies exactly on its center.",
    when_to_use="The default for face recognition and re-identification with identity labels "
                "and many classes: train a backbone + ArcFace head (losskit.modules.ArcFace "
                "holds the centers), then compare embeddings by cosine at test time. "
                "Defaults m = 0.5 rad (28.6 deg), s = 64 as in the paper. subcenters=3 "
                "(sub-center ArcFace) when identity labels are noisy or classes are "
                "multi-modal: noisy samples gather on a non-dominant sub-center instead of "
                "pulling the main one.",
    pitfalls="The margin is in radians (pytorch-metric-learning's ArcFaceLoss takes degrees: "
             "margin=28.6 there is 0.5 here). A large margin from random initialization can "
             "stall or diverge on hard or small datasets; warm up with CosFace or m = 0, or "
             "lower s. s must be large enough for the softmax to saturate: s ~ 30-64 for "
             "thousands of classes. The centers are normalized, so weight decay on them only "
             "shrinks a norm the loss ignores (and can make their steps erratic). "
             "theta + m > pi switches to cos(theta) - m sin(m) (insightface's convention); "
             "easy_margin variants differ there. A [N, C * k] cosine matrix is formed: for "
             "millions of identities shard the classes (Partial FC).",
    references=("Deng, Guo, Xue & Zafeiriou, ArcFace: Additive Angular Margin Loss for Deep "
                "Face Recognition, CVPR 2019.",
                "Deng, Guo, Liu, Yu & Zafeiriou, Sub-center ArcFace: Boosting Face Recognition "
                "by Large-Scale Noisy Web Faces, ECCV 2020.",),
    example_inputs=_class_examples, reference=_arcface_reference,
)
def arcface(embeddings: torch.Tensor, centers: torch.Tensor, target: torch.Tensor, *,
            margin: float | torch.Tensor = 0.5, scale: float | torch.Tensor = 64.0,
            subcenters: int = 1, weight: torch.Tensor | None = None,
            reduction: Reduction = "mean") -> torch.Tensor:
    """ArcFace loss of Deng et al. (2019), with the sub-centers of Deng et al. (2020).

    ``centers`` holds ``subcenters`` rows per class, grouped: rows ``j k .. j k + k - 1``
    belong to class ``j``; the class's cosine is the largest of its ``k``. The margin (in
    radians) is added to the target angle; see :func:`_additive_angular_margin` for the
    ``sqrt`` form that keeps the gradient finite when an embedding lies on its center,
    and for the ``theta + m > pi`` convention (insightface's). ``margin`` and ``scale``
    may be learnable tensors.

    Shape:
        embeddings: ``[N, d]``; centers: ``[C * subcenters, d]``; target: ``[N]`` class
        indices in ``0..C-1``; output: scalar, or ``[N]`` with ``reduction="none"``.

    Example:
        >>> e = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> arcface(e, e.clone(), torch.tensor([0, 1]), margin=0.5, scale=4.0)
        tensor(0.0294)
    """
    check_reduction(reduction)
    check_param("margin", margin, low=0.0, high=math.pi, learnable=True)
    check_param("scale", scale, low=0.0, low_inclusive=False, learnable=True)
    _check_face_inputs(embeddings, centers, target, weight, subcenters)
    cos = _subcenter_cosine(embeddings, centers, subcenters)
    target_cos = cos.gather(1, target[:, None]).squeeze(1)
    loss = _margin_cross_entropy(cos, target, _additive_angular_margin(target_cos, margin), scale)
    return reduce(loss, reduction, weight=weight)


# --- CosFace -----------------------------------------------------------------------------------


def _cosface_reference(embeddings: torch.Tensor, centers: torch.Tensor, target: torch.Tensor, *,
                       margin: float = 0.35, scale: float = 64.0,
                       reduction: str = "mean") -> torch.Tensor:
    logits = F.cosine_similarity(embeddings[:, None, :], centers[None, :, :], dim=2)
    logits = (logits - margin * F.one_hot(target, centers.shape[0])) * scale
    if embeddings.shape[0] == 0:
        return logits.sum() * 0 if reduction != "none" else logits.sum(1)
    return F.cross_entropy(logits, target, reduction=reduction)


@register_loss(
    family="metric_learning",
    tasks=("face_recognition", "re_identification", "metric_learning", "retrieval"),
    input_kind="embeddings", target_kind="class indices (identities)",
    aliases=("large_margin_cosine", "additive_margin_softmax", "am_softmax", "cosface_loss"),
    properties=("nonnegative",), grad_args=(0, 1), none_shape="sample",
    learnable=("margin", "scale"),
    summary="CosFace (large margin cosine loss, AM-Softmax): softmax cross-entropy on "
            "scaled cosines to class centers with a margin subtracted from the target cosine.",
    formula="cos_ij = cos(e_i, w_j);  logit_ij = s (cos_ij - m [j = y_i]);  L_i = -log "
            "softmax(logit_i)[y_i]",
    gradient="dL/dcos_ij = s (softmax_ij - [j = y]); the margin only shifts the target logit, "
             "so the gradient is that of cross-entropy at a harder operating point: it stays "
             "active until the target cosine beats every other by m.",
    when_to_use="Face recognition and re-identification with identity labels, like ArcFace; "
                "the margin is in cosine units rather than angle and the target logit is "
                "linear in the cosine (no angle, no fallback branch), so it is the simpler "
                "and often steadier choice from scratch. Defaults m = 0.35, s = 64 (the "
                "paper's).",
    pitfalls="m and s interact: s (1 - m) must still dominate the other logits; s too small "
             "caps the achievable probability and the loss never reaches 0. The margin is in "
             "cosine units, not radians. Forms an [N, C] cosine matrix: shard the classes for "
             "very large identity sets.",
    references=("Wang, Wang, Zhou, Ji, Gong, Zhou, Li & Liu, CosFace: Large Margin Cosine Loss "
                "for Deep Face Recognition, CVPR 2018.",
                "Wang, Cheng, Liu & Liu, Additive Margin Softmax for Face Verification, IEEE "
                "Signal Processing Letters 2018.",),
    example_inputs=_class_examples, reference=_cosface_reference,
)
def cosface(embeddings: torch.Tensor, centers: torch.Tensor, target: torch.Tensor, *,
            margin: float | torch.Tensor = 0.35, scale: float | torch.Tensor = 64.0,
            weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """CosFace loss of Wang et al. (2018): ``s (cos - m)`` for the target class.

    Shape:
        embeddings: ``[N, d]``; centers: ``[C, d]``; target: ``[N]`` class indices;
        output: scalar, or ``[N]`` with ``reduction="none"``.

    Example:
        >>> e = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> cosface(e, e.clone(), torch.tensor([0, 1]), margin=0.35, scale=4.0)
        tensor(0.0716)
    """
    check_reduction(reduction)
    check_param("margin", margin, low=0.0, learnable=True)
    check_param("scale", scale, low=0.0, low_inclusive=False, learnable=True)
    _check_face_inputs(embeddings, centers, target, weight, 1)
    cos = _subcenter_cosine(embeddings, centers, 1)
    target_cos = cos.gather(1, target[:, None]).squeeze(1)
    loss = _margin_cross_entropy(cos, target, target_cos - margin, scale)
    return reduce(loss, reduction, weight=weight)


# --- in-batch pair losses ----------------------------------------------------------------------


def _pair_masks(embeddings: torch.Tensor, labels: torch.Tensor, distributed: bool,
                group: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Similarities of this rank's rows to the whole batch, and the positive / negative masks.

    Returns ``(sim [n, N], positive [n, N], negative [n, N])``. Positives share the
    anchor's label and are not the anchor itself; negatives have another label. With
    ``distributed=True`` and a process group the columns are every rank's embeddings,
    gathered with gradients (:func:`losskit.distributed.gather`).
    """
    x = _normalized(embeddings)
    candidates, candidate_labels, offset = x, labels, 0
    if distributed and _dist.is_active(group):
        offset = _dist.rank_offset(x.shape[0], x.device, group)
        candidates, candidate_labels = _dist.gather(x, group), _dist.gather(labels, group)
    sim = x @ candidates.t()
    same = labels[:, None] == candidate_labels[None, :]
    own = (torch.arange(x.shape[0], device=x.device)[:, None] + offset
           == torch.arange(candidates.shape[0], device=x.device)[None, :])
    return sim, same & ~own, ~same


def _log1p_sum_exp(z: torch.Tensor, keep: torch.Tensor, dim: int) -> torch.Tensor:
    """``log(1 + sum_{keep} exp(z))`` along ``dim``: a logsumexp with a zero term appended.

    The extra 0 keeps every slice finite (an empty selection gives log 1 = 0) and its
    gradient free of ``exp(-inf + inf)``; masked entries are ``-inf`` and get no gradient.
    """
    masked = torch.where(keep, z, float("-inf"))
    shape = list(masked.shape)
    shape[dim] = 1
    return torch.logsumexp(torch.cat([masked, masked.new_zeros(shape)], dim=dim), dim=dim)


def _masked_logsumexp(z: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Row-wise logsumexp over ``keep``; a row with nothing kept gives 0 (finite gradient)."""
    any_kept = keep.any(dim=1, keepdim=True)
    masked = torch.where(keep, z, float("-inf"))
    return torch.logsumexp(torch.where(any_kept, masked, 0.0), dim=1)


def _labelled_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings ``[n, 4]`` and labels ``[n]`` in which most classes appear twice."""
    g = ex.generator(seed)
    labels = (torch.arange(n) // 2)[torch.randperm(n, generator=g)]
    centers = ex.randn(max(n, 1), 4, g=g)
    return centers[labels] * 0.7 + ex.randn(n, 4, g=g) * 0.6, labels


def _circle_reference(embeddings: torch.Tensor, target: torch.Tensor, *, margin: float = 0.25,
                      gamma: float = 256.0, detach_weights: bool = True,
                      reduction: str = "mean") -> torch.Tensor:
    # One anchor at a time over explicit lists of positive and negative similarities.
    e = embeddings / embeddings.norm(dim=1, keepdim=True)
    losses, counted = [], []
    for i in range(e.shape[0]):
        pos = [e[i] @ e[j] for j in range(e.shape[0]) if j != i and target[j] == target[i]]
        neg = [e[i] @ e[j] for j in range(e.shape[0]) if target[j] != target[i]]
        if not pos or not neg:
            losses.append(e.sum() * 0)
            continue
        sp, sn = torch.stack(pos), torch.stack(neg)
        ap = torch.relu(1 + margin - (sp.detach() if detach_weights else sp))
        an = torch.relu((sn.detach() if detach_weights else sn) + margin)
        value = F.softplus(torch.logsumexp(-gamma * ap * (sp - (1 - margin)), 0)
                           + torch.logsumexp(gamma * an * (sn - margin), 0))
        losses.append(value)
        counted.append(value)
    per = torch.stack(losses) if losses else embeddings.sum(1)
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return torch.stack(counted).mean() if counted else embeddings.sum() * 0


@register_loss(
    family="metric_learning",
    tasks=("re_identification", "face_recognition", "metric_learning", "retrieval"),
    input_kind="embeddings", target_kind="class labels",
    aliases=("circle_loss",), properties=("nonnegative",), none_shape="sample",
    learnable=("margin", "gamma"),
    summary="Circle loss (pair-based, in-batch): every positive and negative similarity is "
            "re-weighted by how far it is from its optimum, giving a circular decision "
            "boundary.",
    formula="s = cos over batch pairs;  alpha_p = relu(1 + m - s_p), alpha_n = relu(s_n + m) "
            "(constants in back-propagation);  L_i = softplus( logsumexp_p(-gamma alpha_p (s_p "
            "- (1 - m))) + logsumexp_n(gamma alpha_n (s_n - m)) );  mean over anchors with a "
            "positive and a negative",
    gradient="dL/ds_n = gamma alpha_n w_n, dL/ds_p = -gamma alpha_p w_p, with w the softmax "
             "weights of each log-sum-exp times sigmoid of the total: a similarity far from "
             "its optimum (s_p -> 1 + m, s_n -> -m) gets a large weight, one near it almost "
             "none, unlike the equal weights of triplet or softmax losses.",
    when_to_use="Re-identification, face recognition and fine-grained retrieval from "
                "class-labelled batches (P identities x K images). Paper defaults: m = 0.25, "
                "gamma = 256 for faces, 128 for person re-ID, m = 0.4, gamma = 80 for "
                "fine-grained retrieval.",
    pitfalls="As in the paper's analysis and every reference implementation, alpha_p and "
             "alpha_n are computed from detached similarities (detach_weights=True), so "
             "the embedding gradient is deliberately not the derivative of the value; "
             "detach_weights=False differentiates through them. Anchors with no positive "
             "(a class seen once) or no negative are skipped: batches need K >= 2 per "
             "identity. pytorch-metric-learning's CircleLoss averages the per-anchor values "
             "that are > 0 (AvgNonZeroReducer); this averages over anchors with a positive "
             "and a negative, the same unless softplus underflows to exactly 0. gamma = 256 "
             "makes the loss very sharp: lower it for small or noisy batches.",
    references=("Sun, Cheng, Zhang, Zhang, Zheng, Wang & Wei, Circle Loss: A Unified "
                "Perspective of Pair Similarity Optimization, CVPR 2020.",),
    example_inputs=_labelled_examples, reference=_circle_reference,
    expected_failures={"gradcheck": "alpha_p and alpha_n are constants in back-propagation "
                                    "(the paper's and pytorch-metric-learning's gradient), so "
                                    "the embedding gradient is not the finite difference of "
                                    "the value by design; detach_weights=False is gradchecked "
                                    "in tests/test_face.py",
                       "double_backward": "the same constant weights: finite differences of "
                                          "the gradient see them move; detach_weights=False "
                                          "is gradgradchecked in tests/test_face.py"},
)
def circle(embeddings: torch.Tensor, target: torch.Tensor, *,
           margin: float | torch.Tensor = 0.25, gamma: float | torch.Tensor = 256.0,
           detach_weights: bool = True, distributed: bool = False, group: Any = None,
           weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Circle loss of Sun et al. (2020), pair-based, over every pair of the batch.

    Optimum ``s_p = 1 - m``, ``s_n = m`` with relaxed targets ``O_p = 1 + m``,
    ``O_n = -m``. The weights ``alpha`` use detached similarities (``detach_weights``),
    as the paper's gradient analysis and pytorch-metric-learning do; ``margin`` and
    ``gamma`` may be learnable tensors (their gradients are exact). Anchors without a
    positive or a negative give 0 in ``"none"`` and do not count in ``"mean"``. With
    ``distributed=True`` the pairs run over every rank's embeddings.

    Shape:
        embeddings: ``[N, d]``; target: ``[N]`` integer labels; output: scalar, or
        ``[N]`` per anchor.

    Example:
        >>> e = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
        >>> circle(e, torch.tensor([0, 0, 1]), margin=0.25, gamma=8.0)
        tensor(0.3269)
    """
    check_reduction(reduction)
    check_param("margin", margin, low=0.0, learnable=True)
    check_param("gamma", gamma, low=0.0, low_inclusive=False, learnable=True)
    _check_embeddings("embeddings", embeddings)
    _check_labels("target", target, embeddings.shape[0])
    check_broadcastable("weight", weight, torch.Size([embeddings.shape[0]]))
    sim, positive, negative = _pair_masks(embeddings, target, distributed, group)
    fixed = sim.detach() if detach_weights else sim
    alpha_p = (1.0 + margin - fixed).clamp(min=0.0)
    alpha_n = (fixed + margin).clamp(min=0.0)
    logit_p = -gamma * alpha_p * (sim - (1.0 - margin))
    logit_n = gamma * alpha_n * (sim - margin)
    counted = positive.any(dim=1) & negative.any(dim=1)
    # softplus(a + b) = log(1 + e^a e^b): finite for any magnitude of the log-sum-exps.
    loss = F.softplus(_masked_logsumexp(logit_p, positive) + _masked_logsumexp(logit_n, negative))
    return reduce(loss, reduction, weight=weight, mask=counted, distributed=distributed,
                  group=group)


def _multi_similarity_reference(embeddings: torch.Tensor, target: torch.Tensor, *,
                                alpha: float = 2.0, beta: float = 50.0, base: float = 0.5,
                                reduction: str = "mean") -> torch.Tensor:
    e = embeddings / embeddings.norm(dim=1, keepdim=True)
    losses = []
    for i in range(e.shape[0]):
        pos = [e[i] @ e[j] for j in range(e.shape[0]) if j != i and target[j] == target[i]]
        neg = [e[i] @ e[j] for j in range(e.shape[0]) if target[j] != target[i]]
        value = e.sum() * 0
        if pos:
            pull = torch.exp(-alpha * (torch.stack(pos) - base)).sum()
            value = value + torch.log(1 + pull) / alpha
        if neg:
            push = torch.exp(beta * (torch.stack(neg) - base)).sum()
            value = value + torch.log(1 + push) / beta
        losses.append(value)
    per = torch.stack(losses) if losses else embeddings.sum(1)
    if reduction == "none":
        return per
    return per.sum() if reduction == "sum" or not losses else per.mean()


@register_loss(
    family="metric_learning", tasks=("metric_learning", "retrieval", "re_identification"),
    input_kind="embeddings", target_kind="class labels",
    aliases=("ms_loss", "multi_similarity_loss"), properties=("nonnegative",),
    none_shape="sample", learnable=("alpha", "beta", "base"),
    summary="Multi-Similarity loss: soft log-sum-exp penalties on each anchor's positive and "
            "negative similarities around a shared threshold (no mining by default).",
    formula="s = cos over batch pairs;  L_i = 1/alpha log(1 + sum_p exp(-alpha (s_ip - base))) "
            "+ 1/beta log(1 + sum_n exp(beta (s_in - base)));  mean over all anchors",
    gradient="dL_i/ds_ip = -w_ip, dL_i/ds_in = w_in with w the softmax weight of each pair "
             "among the anchor's positives (negatives), the 1 acting as a pair already at the "
             "threshold: pairs on the wrong side of base dominate, hard negatives most "
             "(beta = 50 is sharp).",
    when_to_use="Deep metric learning for retrieval (CUB, Cars, SOP, In-Shop) and re-ID from "
                "class-labelled batches; weights pairs by self-similarity and relative "
                "similarity at once. Defaults alpha = 2, beta = 50 (the paper's) and base = "
                "0.5 (the threshold of the authors' code and pytorch-metric-learning); the "
                "paper also mines pairs, which this function leaves to the caller.",
    pitfalls="The paper mines pairs (epsilon = 0.1) before weighting; like "
             "pytorch-metric-learning's MultiSimilarityLoss without a miner this uses every "
             "pair, so values differ from the mined loss. Anchors without positives still "
             "pay their negative term and count in the mean. beta = 50 makes the negative "
             "term close to a hard max: fp16 inputs are computed in float32 for that "
             "reason. Needs several samples per class per batch.",
    references=("Wang, Han, Huang, Dong & Scott, Multi-Similarity Loss with General Pair "
                "Weighting for Deep Metric Learning, CVPR 2019.",),
    example_inputs=_labelled_examples, reference=_multi_similarity_reference,
)
def multi_similarity(embeddings: torch.Tensor, target: torch.Tensor, *,
                     alpha: float | torch.Tensor = 2.0, beta: float | torch.Tensor = 50.0,
                     base: float | torch.Tensor = 0.5, distributed: bool = False,
                     group: Any = None, weight: torch.Tensor | None = None,
                     reduction: Reduction = "mean") -> torch.Tensor:
    """Multi-Similarity loss of Wang et al. (2019) over every pair of the batch (no mining).

    ``log(1 + sum exp(.))`` is a log-sum-exp with a zero term, stable for beta = 50.
    ``"mean"`` averages over all anchors, as pytorch-metric-learning's MeanReducer.
    With ``distributed=True`` the pairs run over every rank's embeddings.

    Shape:
        embeddings: ``[N, d]``; target: ``[N]`` integer labels; output: scalar, or ``[N]``.

    Example:
        >>> e = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
        >>> multi_similarity(e, torch.tensor([0, 0, 1]))
        tensor(0.1055)
    """
    check_reduction(reduction)
    check_param("alpha", alpha, low=0.0, low_inclusive=False, learnable=True)
    check_param("beta", beta, low=0.0, low_inclusive=False, learnable=True)
    check_param("base", base, low=None, learnable=True)
    _check_embeddings("embeddings", embeddings)
    _check_labels("target", target, embeddings.shape[0])
    check_broadcastable("weight", weight, torch.Size([embeddings.shape[0]]))
    sim, positive, negative = _pair_masks(embeddings, target, distributed, group)
    loss = (_log1p_sum_exp(-alpha * (sim - base), positive, dim=1) / alpha
            + _log1p_sum_exp(beta * (sim - base), negative, dim=1) / beta)
    return reduce(loss, reduction, weight=weight, distributed=distributed, group=group)


# --- Proxy-Anchor ------------------------------------------------------------------------------


def _proxy_reference(embeddings: torch.Tensor, proxies: torch.Tensor, target: torch.Tensor, *,
                     margin: float = 0.1, alpha: float = 32.0) -> torch.Tensor:
    # The paper's equation, one proxy at a time. (Tensor.norm is unannotated in torch.)
    e: torch.Tensor = embeddings / embeddings.norm(dim=1, keepdim=True)
    p: torch.Tensor = proxies / proxies.norm(dim=1, keepdim=True)
    pos_total, neg_total, with_positives = e.sum() * 0, e.sum() * 0, 0
    for c in range(p.shape[0]):
        s = e @ p[c]
        members = target == c
        if members.any():
            with_positives += 1
            pos_total = pos_total + torch.log(1 + torch.exp(-alpha * (s[members] - margin)).sum())
        neg_total = neg_total + torch.log(1 + torch.exp(alpha * (s[~members] + margin)).sum())
    pos = pos_total / with_positives if with_positives else pos_total
    return pos + neg_total / p.shape[0]


@register_loss(
    family="metric_learning", tasks=("metric_learning", "retrieval", "re_identification"),
    input_kind="embeddings", target_kind="class indices",
    aliases=("proxy_anchor_loss",), properties=("nonnegative",), grad_args=(0, 1),
    learnable=("margin", "alpha"),
    summary="Proxy-Anchor loss: each class proxy is an anchor that pulls every batch "
            "embedding of its class and pushes every other, with log-sum-exp weighting.",
    formula="s_ic = cos(e_i, p_c);  L = 1/|P+| sum_{c in P+} log(1 + sum_{i: y_i = c} "
            "exp(-alpha (s_ic - margin))) + 1/C sum_c log(1 + sum_{i: y_i != c} exp(alpha "
            "(s_ic + margin)));  P+ = proxies with a positive in the batch",
    gradient="dL/ds_ic = -alpha w_ic / |P+| for positives and alpha w_ic / C for negatives, "
             "w the softmax weight of the pair within its proxy's log-sum-exp (the 1 "
             "included): hard samples get most of their proxy's pull, and every sample "
             "interacts with every proxy, so it converges in few epochs.",
    when_to_use="Deep metric learning for retrieval with class labels (CUB, Cars, SOP, "
                "In-Shop): fast convergence like proxy losses, data-to-data interactions like "
                "pair losses. Defaults margin = 0.1, alpha = 32 (the paper's). "
                "losskit.modules.ProxyAnchor holds the proxies.",
    pitfalls="Proxies need a much larger learning rate than the backbone (the paper uses "
             "100x). The loss is over proxies, not samples: there is no per-sample "
             "reduction, and duplicating the batch changes it (log(1 + 2S) != log(1 + S)). "
             "Classes absent from the batch still act as negatives. The [N, C] cosine matrix "
             "is formed.",
    references=("Kim, Kim, Cho & Kwak, Proxy Anchor Loss for Deep Metric Learning, CVPR "
                "2020.",),
    example_inputs=_class_examples, reference=_proxy_reference,
    expected_failures={"batch_size": "the loss is a sum over proxies of log(1 + sum over the "
                                     "batch), not a mean over samples: duplicating the batch "
                                     "changes it, as in the paper"},
)
def proxy_anchor(embeddings: torch.Tensor, proxies: torch.Tensor, target: torch.Tensor, *,
                 margin: float | torch.Tensor = 0.1,
                 alpha: float | torch.Tensor = 32.0) -> torch.Tensor:
    """Proxy-Anchor loss of Kim et al. (2020); same value as pytorch-metric-learning's.

    The positive term is averaged over the proxies that have a positive in the batch,
    the negative term over all ``C`` proxies. An empty batch gives 0 attached to the
    graph.

    Shape:
        embeddings: ``[N, d]``; proxies: ``[C, d]``; target: ``[N]`` class indices;
        output: scalar.

    Example:
        >>> e = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> proxy_anchor(e, e.clone(), torch.tensor([0, 1]), margin=0.1, alpha=4.0)
        tensor(0.9400)
    """
    check_param("margin", margin, low=None, learnable=True)
    check_param("alpha", alpha, low=0.0, low_inclusive=False, learnable=True)
    _check_embeddings("embeddings", embeddings)
    _check_centers("proxies", proxies, embeddings)
    _check_labels("target", target, embeddings.shape[0])
    check_class_indices("target", target, proxies.shape[0])
    cos = _cosines(embeddings, proxies)  # [N, C]
    positive = target[:, None] == torch.arange(proxies.shape[0], device=cos.device)
    pos_term = _log1p_sum_exp(-alpha * (cos - margin), positive, dim=0)  # [C]
    neg_term = _log1p_sum_exp(alpha * (cos + margin), ~positive, dim=0)
    with_positives = positive.any(dim=0).sum().to(cos.dtype)
    return safe_divide(pos_term.sum(), with_positives) + neg_term.sum() / max(proxies.shape[0], 1)
