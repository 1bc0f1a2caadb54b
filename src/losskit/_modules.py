"""Explicit ``nn.Module`` classes for the built-in losses (re-exported by ``losskit.nn``).

GENERATED FILE, do not edit by hand. Regenerate after adding or changing a loss with

    python scripts/generate_modules.py

(tests/test_modules.py fails while this file differs from what the script writes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import torch

from . import functional as F
from ._core.registry import LossInfo, get_info
from ._core.types import Reduction
from ._nn_base import Loss
from .functional._lm import Aggregation
from .functional.adversarial import GanKind
from .functional.alignment import DPOParts
from .functional.distillation import Divergence
from .functional.distribution import DistributionInput
from .functional.generative import ELBOParts
from .functional.penalties import GapAggregate, ParamsLike
from .functional.reinforcement import ActorCriticParts
from .functional.segmentation import Activation, Average

__all__ = [
    "ActorCriticLoss",
    "ApproxNDCGLoss",
    "ArcfaceLoss",
    "AsymmetricMultilabelLoss",
    "BalancedSoftmaxLoss",
    "BarlowTwinsLoss",
    "BatchTripletLoss",
    "BinaryCrossEntropyLoss",
    "BootstrappedCrossEntropyLoss",
    "BoundPenaltyLoss",
    "BoundaryLoss",
    "BradleyTerryLoss",
    "BrierLoss",
    "CIoULoss",
    "CTCLoss",
    "CauchyLoss",
    "CharbonnierLoss",
    "CircleLoss",
    "ClDiceLoss",
    "ClipContrastiveLoss",
    "ContrastiveLoss",
    "CoralLoss",
    "CornLoss",
    "CosfaceLoss",
    "CoxPHLoss",
    "CrossEntropyLoss",
    "CrpsEnsembleLoss",
    "CrpsGaussianLoss",
    "DIoULoss",
    "DPOLoss",
    "DeepHitLoss",
    "DemographicParityGapLoss",
    "DiceLoss",
    "DiffusionLoss",
    "DinoLoss",
    "DiscreteHazardLoss",
    "DistillationLoss",
    "EnergyMarginLoss",
    "EnergyNLLLoss",
    "EqualizedOddsGapLoss",
    "GIoULoss",
    "GRPOLoss",
    "GanDiscriminatorLoss",
    "GanGeneratorLoss",
    "GaussianKLLoss",
    "GaussianNLLLoss",
    "GemanMcclureLoss",
    "GeneralRobustLoss",
    "GeneralizedCrossEntropyLoss",
    "GeneralizedDiceLoss",
    "GradientPenaltyLoss",
    "HingeLoss",
    "HuberLoss",
    "InfoNCELoss",
    "JSDivLoss",
    "JaccardLoss",
    "KLDivLoss",
    "KLPenaltyLoss",
    "KTOLoss",
    "L1PenaltyLoss",
    "L2PenaltyLoss",
    "LambdaRankLoss",
    "LinearCrossEntropyLoss",
    "LinearDistillationLoss",
    "ListMLELoss",
    "ListNetLoss",
    "LogCoshLoss",
    "LogitAdjustedCrossEntropyLoss",
    "LovaszHingeLoss",
    "LovaszSoftmaxLoss",
    "MAELoss",
    "MAPELoss",
    "MASELoss",
    "MSELoss",
    "MSLELoss",
    "MarginRankingLoss",
    "MsSsimLoss",
    "MultiSimilarityLoss",
    "MulticlassHingeLoss",
    "NLLLoss",
    "NTXentLoss",
    "NegativeBinomialNLLLoss",
    "NegativeCosineLoss",
    "ORPOLoss",
    "PPOClipLoss",
    "PPOValueLoss",
    "PairwiseLogisticLoss",
    "PerplexityLoss",
    "PoissonNLLLoss",
    "PolicyGradientLoss",
    "Poly1CrossEntropyLoss",
    "ProxyAnchorLoss",
    "QuantileLoss",
    "R1PenaltyLoss",
    "SMAPELoss",
    "SequenceCrossEntropyLoss",
    "SiglipLoss",
    "SigmoidFocalLoss",
    "SimPOLoss",
    "SmoothL1Loss",
    "SoftDtwLoss",
    "SoftF1Loss",
    "SoftmaxFocalLoss",
    "SsimLoss",
    "SupConLoss",
    "SymmetricCrossEntropyLoss",
    "TobitLoss",
    "TotalVariationLoss",
    "TripletMarginLoss",
    "TukeyBiweightLoss",
    "TverskyLoss",
    "TweedieLoss",
    "VAEELBOLoss",
    "VicregLoss",
    "WeibullNLLLoss",
    "WelschLoss",
]


class ActorCriticLoss(Loss):
    """Advantage actor-critic loss: a policy-gradient term with the critic as baseline, a
    squared-error value loss for the critic, and an optional entropy bonus.

    Module form of :func:`losskit.functional.actor_critic`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(log_probs, values, returns)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        entropy: see :func:`losskit.functional.actor_critic`. Default: ``None``.
        value_coef: see :func:`losskit.functional.actor_critic`. Default: ``0.5``.
        entropy_coef: see :func:`losskit.functional.actor_critic`. Default: ``0.01``.
        return_parts: see :func:`losskit.functional.actor_critic`. Default: ``False``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        log_probs, values, returns: ``[*]`` per step (e.g. ``[N]`` or ``[N, T]``); entropy:
        broadcastable to ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("actor_critic")
    entropy: torch.Tensor | None
    value_coef: float
    entropy_coef: float
    return_parts: bool
    reduction: Reduction

    def __init__(
        self,
        *,
        entropy: torch.Tensor | None = None,
        value_coef: float = 0.5,
        entropy_coef: float = 0.01,
        return_parts: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            entropy=entropy,
            value_coef=value_coef,
            entropy_coef=entropy_coef,
            return_parts=return_parts,
            reduction=reduction,
        )

    def forward(
        self,
        log_probs: torch.Tensor,
        values: torch.Tensor,
        returns: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor | ActorCriticParts:
        return F.actor_critic(log_probs, values, returns, **self._arguments(kwargs))


class ApproxNDCGLoss(Loss):
    """1 - ApproxNDCG: NDCG with each item's rank replaced by a smooth approximate rank (a sum of
    sigmoids of score differences), averaged over lists.

    Module form of :func:`losskit.functional.approx_ndcg`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(scores, relevance)`` computes the loss, and a keyword given
    to the call (``weight=``, ...) goes to the function for that call.

    Args:
        mask: see :func:`losskit.functional.approx_ndcg`. Default: ``None``.
        temperature: see :func:`losskit.functional.approx_ndcg`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``1.0``.
        group: see :func:`losskit.functional.approx_ndcg`. Default: ``None``.
        max_list_size: see :func:`losskit.functional.approx_ndcg`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        scores: ``[Q, L]`` (or ``[N]`` with ``group``); relevance: same shape; mask: bool,
        same shape. ``"none"`` gives ``[Q]`` (``[N]`` with ``group``).
    """

    info: ClassVar[LossInfo] = get_info("approx_ndcg")
    mask: torch.Tensor | None
    temperature: float | torch.Tensor
    group: torch.Tensor | None
    max_list_size: int | None
    reduction: Reduction

    def __init__(
        self,
        *,
        mask: torch.Tensor | None = None,
        temperature: float | torch.Tensor = 1.0,
        group: torch.Tensor | None = None,
        max_list_size: int | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            mask=mask,
            temperature=temperature,
            group=group,
            max_list_size=max_list_size,
            reduction=reduction,
        )

    def forward(self, scores: torch.Tensor, relevance: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.approx_ndcg(scores, relevance, **self._arguments(kwargs))


class ArcfaceLoss(Loss):
    """ArcFace (additive angular margin): softmax cross-entropy on scaled cosines to class centers,
    with the target angle enlarged by a margin; sub-center variant.

    Module form of :func:`losskit.functional.arcface`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(embeddings, centers, target)`` computes the loss, and a keyword
    given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        margin: see :func:`losskit.functional.arcface`. Learnable: pass an ``nn.Parameter``
            to train it. Default: ``0.5``.
        scale: see :func:`losskit.functional.arcface`. Learnable: pass an ``nn.Parameter``
            to train it. Default: ``64.0``.
        subcenters: see :func:`losskit.functional.arcface`. Default: ``1``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        embeddings: ``[N, d]``; centers: ``[C * subcenters, d]``; target: ``[N]`` class
        indices in ``0..C-1``; output: scalar, or ``[N]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("arcface")
    margin: float | torch.Tensor
    scale: float | torch.Tensor
    subcenters: int
    reduction: Reduction

    def __init__(
        self,
        *,
        margin: float | torch.Tensor = 0.5,
        scale: float | torch.Tensor = 64.0,
        subcenters: int = 1,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(margin=margin, scale=scale, subcenters=subcenters, reduction=reduction)

    def forward(
        self,
        embeddings: torch.Tensor,
        centers: torch.Tensor,
        target: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.arcface(embeddings, centers, target, **self._arguments(kwargs))


class AsymmetricMultilabelLoss(Loss):
    """Asymmetric loss (ASL) for multi-label classification: focal-style down-weighting with
    separate strengths for positives and negatives, plus a probability margin that discards very
    easy negatives.

    Module form of :func:`losskit.functional.asymmetric_multilabel`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        gamma_pos: see :func:`losskit.functional.asymmetric_multilabel`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``0.0``.
        gamma_neg: see :func:`losskit.functional.asymmetric_multilabel`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``4.0``.
        clip: see :func:`losskit.functional.asymmetric_multilabel`. Default: ``0.05``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, L]`` (any ``[*]``) logits; target: same shape in [0, 1]; output: scalar,
        or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("asymmetric_multilabel")
    gamma_pos: float | torch.Tensor
    gamma_neg: float | torch.Tensor
    clip: float
    reduction: Reduction

    def __init__(
        self,
        *,
        gamma_pos: float | torch.Tensor = 0.0,
        gamma_neg: float | torch.Tensor = 4.0,
        clip: float = 0.05,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.asymmetric_multilabel(input, target, **self._arguments(kwargs))


class BalancedSoftmaxLoss(Loss):
    """Balanced Softmax (long-tail learning): cross-entropy on the logits plus the log class counts,
    which undoes the label shift between a long-tailed training set and a balanced test set.

    Module form of :func:`losskit.functional.balanced_softmax`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        class_counts: ``[C]`` positive number of training examples of each class; ``None``
            means equal counts (plain cross-entropy). class_weight, ignore_index,
            label_smoothing, weight, reduction: as :func:`~losskit.functional.cross_entropy`.
            Default: ``None``.
        class_weight: see :func:`losskit.functional.balanced_softmax`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``None``.
        ignore_index: see :func:`losskit.functional.balanced_softmax`. Default: ``-100``.
        label_smoothing: see :func:`losskit.functional.balanced_softmax`. Default: ``0.0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("balanced_softmax")
    class_counts: torch.Tensor | Sequence[float] | None
    class_weight: torch.Tensor | Sequence[float] | None
    ignore_index: int
    label_smoothing: float
    reduction: Reduction

    def __init__(
        self,
        *,
        class_counts: torch.Tensor | Sequence[float] | None = None,
        class_weight: torch.Tensor | Sequence[float] | None = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            class_counts=class_counts,
            class_weight=class_weight,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.balanced_softmax(input, target, **self._arguments(kwargs))


class BarlowTwinsLoss(Loss):
    """Barlow Twins: drive the cross-correlation matrix of the two views' batch-standardized
    embeddings to the identity.

    Module form of :func:`losskit.functional.barlow_twins`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(z_a, z_b)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        lambd: see :func:`losskit.functional.barlow_twins`. Default: ``0.0051``.
        eps: see :func:`losskit.functional.barlow_twins`. Default: ``1e-05``.
        distributed: see :func:`losskit.functional.barlow_twins`. Default: ``False``.
        group: see :func:`losskit.functional.barlow_twins`. Default: ``None``.

    Shape:
        z_a, z_b: ``[N, d]``; output: scalar.
    """

    info: ClassVar[LossInfo] = get_info("barlow_twins")
    lambd: float
    eps: float
    distributed: bool
    group: Any

    def __init__(
        self,
        *,
        lambd: float = 0.0051,
        eps: float = 1e-05,
        distributed: bool = False,
        group: Any = None,
    ) -> None:
        super().__init__(lambd=lambd, eps=eps, distributed=distributed, group=group)

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.barlow_twins(z_a, z_b, **self._arguments(kwargs))


class BatchTripletLoss(Loss):
    """Triplet loss mined inside a labelled batch: all valid triplets, the hardest per anchor, or
    FaceNet's semi-hard negatives.

    Module form of :func:`losskit.functional.batch_triplet`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(embeddings, labels)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        margin: see :func:`losskit.functional.batch_triplet`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``0.2``.
        mining: see :func:`losskit.functional.batch_triplet`. Default: ``"all"``.
        squared: see :func:`losskit.functional.batch_triplet`. Default: ``False``.
        average: see :func:`losskit.functional.batch_triplet`. Default: ``"valid"``.
        distance: see :func:`losskit.functional.batch_triplet`. Default: ``"euclidean"``.
        smooth_loss: see :func:`losskit.functional.batch_triplet`. Default: ``False``.
        ref_emb: see :func:`losskit.functional.batch_triplet`. Default: ``None``.
        ref_labels: see :func:`losskit.functional.batch_triplet`. Default: ``None``.
        distributed: see :func:`losskit.functional.batch_triplet`. Default: ``False``.
        group: see :func:`losskit.functional.batch_triplet`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        embeddings: ``[N, d]``; labels: ``[N]`` integers; ref_emb: ``[R, d]``; ref_labels:
        ``[R]``; output: scalar or ``[N]``.
    """

    info: ClassVar[LossInfo] = get_info("batch_triplet")
    margin: float | torch.Tensor
    mining: str
    squared: bool
    average: str
    distance: str
    smooth_loss: bool
    ref_emb: torch.Tensor | None
    ref_labels: torch.Tensor | None
    distributed: bool
    group: Any
    reduction: Reduction

    def __init__(
        self,
        *,
        margin: float | torch.Tensor = 0.2,
        mining: str = "all",
        squared: bool = False,
        average: str = "valid",
        distance: str = "euclidean",
        smooth_loss: bool = False,
        ref_emb: torch.Tensor | None = None,
        ref_labels: torch.Tensor | None = None,
        distributed: bool = False,
        group: Any = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            margin=margin,
            mining=mining,
            squared=squared,
            average=average,
            distance=distance,
            smooth_loss=smooth_loss,
            ref_emb=ref_emb,
            ref_labels=ref_labels,
            distributed=distributed,
            group=group,
            reduction=reduction,
        )

    def forward(
        self,
        embeddings: torch.Tensor,
        labels: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.batch_triplet(embeddings, labels, **self._arguments(kwargs))


class BinaryCrossEntropyLoss(Loss):
    """Binary cross-entropy on logits: the negative Bernoulli log-likelihood of each label, for
    binary and multi-label classification.

    Module form of :func:`losskit.functional.binary_cross_entropy`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        pos_weight: weight of the positive term, a number or a tensor broadcast against the
            input (e.g. ``[L]``, one per label); ``None`` is 1. Default: ``None``.
        label_smoothing: ``eps`` in [0, 1]; targets become ``y (1 - eps) + eps / 2``.
            Default: ``0.0``.
        ignore_index: targets equal to it (e.g. -1 for "unknown" labels) do not count;
            ``"mean"`` divides by the number of counted elements. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]`` logits (``[N]`` binary, ``[N, L]`` multi-label); target: ``[*]`` in
        [0, 1]; output: scalar, or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("binary_cross_entropy")
    pos_weight: float | torch.Tensor | None
    label_smoothing: float
    ignore_index: int | None
    reduction: Reduction

    def __init__(
        self,
        *,
        pos_weight: float | torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        ignore_index: int | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            pos_weight=pos_weight,
            label_smoothing=label_smoothing,
            ignore_index=ignore_index,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.binary_cross_entropy(input, target, **self._arguments(kwargs))


class BootstrappedCrossEntropyLoss(Loss):
    """Bootstrapped cross-entropy: cross-entropy against a mix of the given label and the model's
    own prediction, so the model can partly overrule labels it consistently disagrees with.

    Module form of :func:`losskit.functional.bootstrapped_cross_entropy`. The hyperparameters
    are keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        beta: weight of the given label in [0, 1] (learnable); ``beta = 1`` is
            cross-entropy. Learnable: pass an ``nn.Parameter`` to train it. Default: ``0.95``.
        mode: ``"soft"`` (target ``beta y + (1 - beta) p``) or ``"hard"`` (``beta CE(y) + (1
            - beta) CE(argmax p)``). Default: ``"soft"``.
        detach: hold the prediction inside the target constant (the default, and what the
            loss's formula states). ``False`` lets gradients flow through it in soft mode, which
            adds ``(1 - beta)`` times the prediction's entropy's gradient (the paper's
            minimum-entropy regularisation). Hard mode's argmax has no gradient. Default:
            ``True``.
        ignore_index: see :func:`losskit.functional.bootstrapped_cross_entropy`. Default:
            ``-100``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("bootstrapped_cross_entropy")
    beta: float | torch.Tensor
    mode: Literal["soft", "hard"]
    detach: bool
    ignore_index: int
    reduction: Reduction

    def __init__(
        self,
        *,
        beta: float | torch.Tensor = 0.95,
        mode: Literal["soft", "hard"] = "soft",
        detach: bool = True,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            beta=beta,
            mode=mode,
            detach=detach,
            ignore_index=ignore_index,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.bootstrapped_cross_entropy(input, target, **self._arguments(kwargs))


class BoundPenaltyLoss(Loss):
    """Soft lower/upper bounds on predictions: zero inside [lower, upper], growing with the
    violation outside.

    Module form of :func:`losskit.functional.bound_penalty`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(pred, lower, upper)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        kind: see :func:`losskit.functional.bound_penalty`. Default: ``"squared"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        pred: ``[*]``; lower, upper: floats or tensors broadcastable to ``pred`` (e.g. one
        bound per output column ``[C]``); output: scalar, or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("bound_penalty")
    kind: Literal["squared", "hinge"]
    reduction: Reduction

    def __init__(
        self,
        *,
        kind: Literal["squared", "hinge"] = "squared",
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(kind=kind, reduction=reduction)

    def forward(
        self,
        pred: torch.Tensor,
        lower: torch.Tensor | float | None = None,
        upper: torch.Tensor | float | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.bound_penalty(pred, lower, upper, **self._arguments(kwargs))


class BoundaryLoss(Loss):
    """Boundary (surface) loss: predicted probabilities weighted by a precomputed signed distance to
    the ground-truth boundary, an integral over the region between the predicted and the true
    boundary.

    Module form of :func:`losskit.functional.boundary`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, distance_map)`` computes the loss, and a keyword given to
    the call (``weight=``, ...) goes to the function for that call.

    Args:
        include_background: see :func:`losskit.functional.boundary`. Default: ``True``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, H, W]`` or ``[N, C, D, H, W]`` logits; distance_map: same shape;
        weight: broadcastable to the unreduced loss; output: scalar, or ``[N, K, *spatial]``
        with ``reduction="none"`` (``K = C``, or ``C - 1`` without background).
    """

    info: ClassVar[LossInfo] = get_info("boundary")
    include_background: bool
    reduction: Reduction

    def __init__(self, *, include_background: bool = True, reduction: Reduction = "mean") -> None:
        super().__init__(include_background=include_background, reduction=reduction)

    def forward(
        self,
        input: torch.Tensor,
        distance_map: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.boundary(input, distance_map, **self._arguments(kwargs))


class BradleyTerryLoss(Loss):
    """Bradley-Terry loss for training a reward model on preference pairs, with an optional per-pair
    margin and a centering penalty that keeps rewards near zero.

    Module form of :func:`losskit.functional.bradley_terry`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(chosen_rewards, rejected_rewards)`` computes the
    loss, and a keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        margin: see :func:`losskit.functional.bradley_terry`. Default: ``None``.
        center_coef: see :func:`losskit.functional.bradley_terry`. Default: ``0.0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        chosen_rewards, rejected_rewards: ``[B]`` scalar scores; margin: a float or
        broadcastable to ``[B]``; weight: broadcastable to ``[B]``; output: scalar, or
        ``[B]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("bradley_terry")
    margin: float | torch.Tensor | None
    center_coef: float
    reduction: Reduction

    def __init__(
        self,
        *,
        margin: float | torch.Tensor | None = None,
        center_coef: float = 0.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(margin=margin, center_coef=center_coef, reduction=reduction)

    def forward(
        self,
        chosen_rewards: torch.Tensor,
        rejected_rewards: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.bradley_terry(chosen_rewards, rejected_rewards, **self._arguments(kwargs))


class BrierLoss(Loss):
    """Brier score: the squared error between the predicted class probabilities and the one-hot
    label, summed over classes; a bounded proper scoring rule.

    Module form of :func:`losskit.functional.brier`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        ignore_index: see :func:`losskit.functional.brier`. Default: ``-100``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar (the mean over positions), or ``[N, *]`` with
        ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("brier")
    ignore_index: int
    reduction: Reduction

    def __init__(self, *, ignore_index: int = -100, reduction: Reduction = "mean") -> None:
        super().__init__(ignore_index=ignore_index, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.brier(input, target, **self._arguments(kwargs))


class CauchyLoss(Loss):
    """Cauchy (Lorentzian) loss: the log of a quadratic, general_robust at alpha = 0.

    Module form of :func:`losskit.functional.cauchy`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        scale: see :func:`losskit.functional.cauchy`. Learnable: pass an ``nn.Parameter`` to
            train it. Default: ``1.0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("cauchy")
    scale: float | torch.Tensor
    reduction: Reduction

    def __init__(self, *, scale: float | torch.Tensor = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(scale=scale, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.cauchy(input, target, **self._arguments(kwargs))


class CharbonnierLoss(Loss):
    """Charbonnier loss: a differentiable L1, sqrt(r^2 + eps^2).

    Module form of :func:`losskit.functional.charbonnier`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to
    the call (``weight=``, ...) goes to the function for that call.

    Args:
        eps: see :func:`losskit.functional.charbonnier`. Learnable: pass an ``nn.Parameter``
            to train it. Default: ``0.001``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("charbonnier")
    eps: float | torch.Tensor
    reduction: Reduction

    def __init__(self, *, eps: float | torch.Tensor = 0.001, reduction: Reduction = "mean") -> None:
        super().__init__(eps=eps, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.charbonnier(input, target, **self._arguments(kwargs))


class CIoULoss(Loss):
    """Complete IoU loss: DIoU plus a term that matches the aspect ratio of the prediction to the
    target's.

    Module form of :func:`losskit.functional.ciou`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        eps: see :func:`losskit.functional.ciou`. Default: ``1e-07``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*, 4]`` (x1, y1, x2, y2); target: ``[*, 4]``; ``"none"`` gives ``[*]``.
    """

    info: ClassVar[LossInfo] = get_info("ciou")
    eps: float
    reduction: Reduction

    def __init__(self, *, eps: float = 1e-07, reduction: Reduction = "mean") -> None:
        super().__init__(eps=eps, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.ciou(input, target, **self._arguments(kwargs))


class CircleLoss(Loss):
    """Circle loss (pair-based, in-batch): every positive and negative similarity is re-weighted by
    how far it is from its optimum, giving a circular decision boundary.

    Module form of :func:`losskit.functional.circle`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(embeddings, target)`` computes the loss, and a keyword given to
    the call (``weight=``, ...) goes to the function for that call.

    Args:
        margin: see :func:`losskit.functional.circle`. Learnable: pass an ``nn.Parameter``
            to train it. Default: ``0.25``.
        gamma: see :func:`losskit.functional.circle`. Learnable: pass an ``nn.Parameter`` to
            train it. Default: ``256.0``.
        detach_weights: see :func:`losskit.functional.circle`. Default: ``True``.
        distributed: see :func:`losskit.functional.circle`. Default: ``False``.
        group: see :func:`losskit.functional.circle`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        embeddings: ``[N, d]``; target: ``[N]`` integer labels; output: scalar, or
        ``[N]`` per anchor.
    """

    info: ClassVar[LossInfo] = get_info("circle")
    margin: float | torch.Tensor
    gamma: float | torch.Tensor
    detach_weights: bool
    distributed: bool
    group: Any
    reduction: Reduction

    def __init__(
        self,
        *,
        margin: float | torch.Tensor = 0.25,
        gamma: float | torch.Tensor = 256.0,
        detach_weights: bool = True,
        distributed: bool = False,
        group: Any = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            margin=margin,
            gamma=gamma,
            detach_weights=detach_weights,
            distributed=distributed,
            group=group,
            reduction=reduction,
        )

    def forward(
        self,
        embeddings: torch.Tensor,
        target: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.circle(embeddings, target, **self._arguments(kwargs))


class ClDiceLoss(Loss):
    """Soft clDice: a Dice-like score between each mask and the other's soft skeleton (centerline),
    so breaking a thin structure costs much more than thinning it.

    Module form of :func:`losskit.functional.cl_dice`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        iterations: see :func:`losskit.functional.cl_dice`. Default: ``3``.
        smooth: see :func:`losskit.functional.cl_dice`. Default: ``1.0``.
        include_background: see :func:`losskit.functional.cl_dice`. Default: ``False``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, H, W]`` or ``[N, C, D, H, W]`` logits; target: ``[N, *spatial]``
        indices or ``[N, C, *spatial]`` probabilities; weight: ``[N]``; output: scalar, or
        ``[N]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("cl_dice")
    iterations: int
    smooth: float
    include_background: bool
    reduction: Reduction

    def __init__(
        self,
        *,
        iterations: int = 3,
        smooth: float = 1.0,
        include_background: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            iterations=iterations,
            smooth=smooth,
            include_background=include_background,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.cl_dice(input, target, **self._arguments(kwargs))


class ClipContrastiveLoss(Loss):
    """CLIP's symmetric contrastive loss: each image must pick its caption among the batch's texts
    and each text its image, softmax over cosine similarities.

    Module form of :func:`losskit.functional.clip_contrastive`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(image_embeddings, text_embeddings)`` computes
    the loss, and a keyword given to the call (``weight=``, ...) goes to the function for that
    call.

    Args:
        temperature: see :func:`losskit.functional.clip_contrastive`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``0.07``.
        distributed: see :func:`losskit.functional.clip_contrastive`. Default: ``False``.
        group: see :func:`losskit.functional.clip_contrastive`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        image_embeddings, text_embeddings: ``[N, d]``; output: scalar, or ``[N]`` per
        pair (the mean of its two directions) with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("clip_contrastive")
    temperature: float | torch.Tensor
    distributed: bool
    group: Any
    reduction: Reduction

    def __init__(
        self,
        *,
        temperature: float | torch.Tensor = 0.07,
        distributed: bool = False,
        group: Any = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            temperature=temperature,
            distributed=distributed,
            group=group,
            reduction=reduction,
        )

    def forward(
        self,
        image_embeddings: torch.Tensor,
        text_embeddings: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.clip_contrastive(image_embeddings, text_embeddings, **self._arguments(kwargs))


class ContrastiveLoss(Loss):
    """Contrastive (siamese) pair loss: pull same pairs together, push different pairs at least a
    margin apart.

    Module form of :func:`losskit.functional.contrastive`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(a, b, same)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        margin: see :func:`losskit.functional.contrastive`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``1.0``.
        pos_margin: see :func:`losskit.functional.contrastive`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``None``.
        neg_margin: see :func:`losskit.functional.contrastive`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``None``.
        distance: see :func:`losskit.functional.contrastive`. Default: ``"euclidean"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        a, b: ``[N, d]``; same: ``[N]`` bool (or 0/1), True where the pair should match;
        output: scalar, or ``[N]`` per pair with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("contrastive")
    margin: float | torch.Tensor
    pos_margin: float | torch.Tensor | None
    neg_margin: float | torch.Tensor | None
    distance: str
    reduction: Reduction

    def __init__(
        self,
        *,
        margin: float | torch.Tensor = 1.0,
        pos_margin: float | torch.Tensor | None = None,
        neg_margin: float | torch.Tensor | None = None,
        distance: str = "euclidean",
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            margin=margin,
            pos_margin=pos_margin,
            neg_margin=neg_margin,
            distance=distance,
            reduction=reduction,
        )

    def forward(
        self,
        a: torch.Tensor,
        b: torch.Tensor,
        same: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.contrastive(a, b, same, **self._arguments(kwargs))


class CoralLoss(Loss):
    """CORAL: ordinal regression as K-1 binary 'rank > k' problems sharing one weight vector, which
    makes the predicted ranks consistent.

    Module form of :func:`losskit.functional.coral`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        importance_weights: see :func:`losskit.functional.coral`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, K-1]`` logits; target: ``[N]`` integer ranks in ``0..K-1``;
        importance_weights: ``[K-1]`` per-threshold weights; output: scalar, or ``[N]``.
    """

    info: ClassVar[LossInfo] = get_info("coral")
    importance_weights: torch.Tensor | None
    reduction: Reduction

    def __init__(
        self,
        *,
        importance_weights: torch.Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(importance_weights=importance_weights, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.coral(input, target, **self._arguments(kwargs))


class CornLoss(Loss):
    """CORN: ordinal regression with conditional binary tasks, rank-consistent for any network head.

    Module form of :func:`losskit.functional.corn`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, K-1]`` logits; target: ``[N]`` integer ranks; output: scalar, or ``[N]``.
    """

    info: ClassVar[LossInfo] = get_info("corn")
    reduction: Reduction

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.corn(input, target, **self._arguments(kwargs))


class CosfaceLoss(Loss):
    """CosFace (large margin cosine loss, AM-Softmax): softmax cross-entropy on scaled cosines to
    class centers with a margin subtracted from the target cosine.

    Module form of :func:`losskit.functional.cosface`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(embeddings, centers, target)`` computes the loss, and a keyword
    given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        margin: see :func:`losskit.functional.cosface`. Learnable: pass an ``nn.Parameter``
            to train it. Default: ``0.35``.
        scale: see :func:`losskit.functional.cosface`. Learnable: pass an ``nn.Parameter``
            to train it. Default: ``64.0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        embeddings: ``[N, d]``; centers: ``[C, d]``; target: ``[N]`` class indices;
        output: scalar, or ``[N]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("cosface")
    margin: float | torch.Tensor
    scale: float | torch.Tensor
    reduction: Reduction

    def __init__(
        self,
        *,
        margin: float | torch.Tensor = 0.35,
        scale: float | torch.Tensor = 64.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(margin=margin, scale=scale, reduction=reduction)

    def forward(
        self,
        embeddings: torch.Tensor,
        centers: torch.Tensor,
        target: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.cosface(embeddings, centers, target, **self._arguments(kwargs))


class CoxPHLoss(Loss):
    """Negative Cox partial log-likelihood of risk scores (log hazard ratios), with Breslow or Efron
    handling of tied event times.

    Module form of :func:`losskit.functional.cox_ph`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(risk, time, event)`` computes the loss, and a keyword given to
    the call (``weight=``, ...) goes to the function for that call.

    Args:
        ties: see :func:`losskit.functional.cox_ph`. Default: ``"breslow"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        risk: ``[N]`` scores (log hazard ratios); time: ``[N]`` times (any real dtype; only
        their order and ties matter); event: ``[N]`` 1 = event, 0 = censored. ``"none"``
        gives ``[N]``: each event's term, 0 for censored subjects.
    """

    info: ClassVar[LossInfo] = get_info("cox_ph")
    ties: Literal["breslow", "efron"]
    reduction: Reduction

    def __init__(
        self,
        *,
        ties: Literal["breslow", "efron"] = "breslow",
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(ties=ties, reduction=reduction)

    def forward(
        self,
        risk: torch.Tensor,
        time: torch.Tensor,
        event: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.cox_ph(risk, time, event, **self._arguments(kwargs))


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy: the negative log-likelihood of the target class under a softmax over
    the logits; the standard multi-class classification loss.

    Module form of :func:`losskit.functional.cross_entropy`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        class_weight: ``[C]`` non-negative weights (a tensor may require grad); ``"mean"``
            becomes the weighted mean ``sum w_y L / sum w_y`` for index targets (for probability
            targets torch, and losskit, divide by the number of positions). The weight scales a
            position's whole loss, z-loss included. Learnable: pass an ``nn.Parameter`` to train
            it. Default: ``None``.
        ignore_index: index targets equal to it do not count (index targets only). Default:
            ``-100``.
        label_smoothing: ``eps`` in [0, 1]; mixes the target with the uniform distribution.
            Default: ``0.0``.
        z_loss: adds ``z_loss * logsumexp(x)^2`` per counted position (PaLM's auxiliary
            loss, ~1e-4, keeps the log-normalizer near 0 in low-precision training). Default:
            ``0.0``.
        softcap: replaces the logits by ``softcap * tanh(logits / softcap)`` first (Gemma
            2). Default: ``None``.
        normalizer: ``"mean"`` divides the sum by this number (or 0-dim tensor) instead of
            the local count: pass the number of counted tokens of the whole accumulated batch,
            so gradient accumulation over micro-batches gives the big batch's gradient (dividing
            each micro-batch by its own count does not). Default: ``None``.
        distributed: average over the tokens of every rank (the global count of non-ignored
            positions) instead of this rank's; DDP-correct gradients, see
            :mod:`losskit.distributed`. Without a process group it changes nothing. Default:
            ``False``.
        group: see :func:`losskit.functional.cross_entropy`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` integer indices (int64 or int32) or
        ``[N, C, *]`` probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"``
        (0 at ignored positions).
    """

    info: ClassVar[LossInfo] = get_info("cross_entropy")
    class_weight: torch.Tensor | Sequence[float] | None
    ignore_index: int
    label_smoothing: float
    z_loss: float
    softcap: float | None
    normalizer: float | torch.Tensor | None
    distributed: bool
    group: Any
    reduction: Reduction

    def __init__(
        self,
        *,
        class_weight: torch.Tensor | Sequence[float] | None = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        z_loss: float = 0.0,
        softcap: float | None = None,
        normalizer: float | torch.Tensor | None = None,
        distributed: bool = False,
        group: Any = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            class_weight=class_weight,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            z_loss=z_loss,
            softcap=softcap,
            normalizer=normalizer,
            distributed=distributed,
            group=group,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.cross_entropy(input, target, **self._arguments(kwargs))


class CrpsEnsembleLoss(Loss):
    """Continuous ranked probability score of an ensemble (samples of the predictive distribution):
    members close to the target, and spread as the errors are.

    Module form of :func:`losskit.functional.crps_ensemble`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        fair: see :func:`losskit.functional.crps_ensemble`. Default: ``False``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*, M]`` members; target: ``[*]``; "none" gives ``[*]``.
    """

    info: ClassVar[LossInfo] = get_info("crps_ensemble")
    fair: bool
    reduction: Reduction

    def __init__(self, *, fair: bool = False, reduction: Reduction = "mean") -> None:
        super().__init__(fair=fair, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.crps_ensemble(input, target, **self._arguments(kwargs))


class CrpsGaussianLoss(Loss):
    """Continuous ranked probability score of a predicted Gaussian: how far its CDF is from the step
    at the observed value, in the target's units.

    Module form of :func:`losskit.functional.crps_gaussian`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target, var)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        eps: see :func:`losskit.functional.crps_gaussian`. Default: ``1e-06``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, *]`` means; target: ``[N, *]``; var: ``[N, *]``, or one dimension fewer /
        a last dimension of 1 for one variance per sample, or a scalar.
    """

    info: ClassVar[LossInfo] = get_info("crps_gaussian")
    eps: float
    reduction: Reduction

    def __init__(self, *, eps: float = 1e-06, reduction: Reduction = "mean") -> None:
        super().__init__(eps=eps, reduction=reduction)

    def forward(
        self,
        input: torch.Tensor,
        target: torch.Tensor,
        var: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.crps_gaussian(input, target, var, **self._arguments(kwargs))


class CTCLoss(Loss):
    """Connectionist Temporal Classification: the negative log-probability of a label sequence
    summed over every frame alignment that collapses to it.

    Module form of :func:`losskit.functional.ctc`. The hyperparameters are keyword-only and kept
    as attributes; ``loss(log_probs, targets, input_lengths, target_lengths)`` computes the
    loss, and a keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        blank: see :func:`losskit.functional.ctc`. Default: ``0``.
        zero_infinity: see :func:`losskit.functional.ctc`. Default: ``True``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        log_probs: ``[T, N, C]`` log-softmax outputs (time first); targets: ``[N, S]`` padded
        or ``[sum(target_lengths)]`` concatenated labels (never ``blank``); input_lengths,
        target_lengths: ``[N]`` integers; output: scalar, or ``[N]`` with ``"none"``.
        Unbatched, as torch: log_probs ``[T, C]``, targets ``[S]``, lengths 0-dim tensors
        or ints; every reduction then gives a scalar.
    """

    info: ClassVar[LossInfo] = get_info("ctc")
    blank: int
    zero_infinity: bool
    reduction: Reduction

    def __init__(
        self,
        *,
        blank: int = 0,
        zero_infinity: bool = True,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(blank=blank, zero_infinity=zero_infinity, reduction=reduction)

    def forward(
        self,
        log_probs: torch.Tensor,
        targets: torch.Tensor,
        input_lengths: torch.Tensor,
        target_lengths: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.ctc(log_probs, targets, input_lengths, target_lengths, **self._arguments(kwargs))


class DeepHitLoss(Loss):
    """DeepHit (single risk): the likelihood of a discrete time distribution (softmax over intervals
    plus 'later') combined with a pairwise ranking term on the CDFs.

    Module form of :func:`losskit.functional.deephit`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(logits, time_bin, event)`` computes the loss, and a keyword given
    to the call (``weight=``, ...) goes to the function for that call.

    Args:
        alpha: see :func:`losskit.functional.deephit`. Learnable: pass an ``nn.Parameter``
            to train it. Default: ``0.2``.
        sigma: see :func:`losskit.functional.deephit`. Learnable: pass an ``nn.Parameter``
            to train it. Default: ``0.1``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        logits: ``[N, T]`` (the pmf has T + 1 entries: a zero logit for 'after the last
        interval' is appended); time_bin: ``[N]`` integer interval index; event: ``[N]``
        1 = event, 0 = censored. ``"none"`` gives ``[N]``.
    """

    info: ClassVar[LossInfo] = get_info("deephit")
    alpha: float | torch.Tensor
    sigma: float | torch.Tensor
    reduction: Reduction

    def __init__(
        self,
        *,
        alpha: float | torch.Tensor = 0.2,
        sigma: float | torch.Tensor = 0.1,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(alpha=alpha, sigma=sigma, reduction=reduction)

    def forward(
        self,
        logits: torch.Tensor,
        time_bin: torch.Tensor,
        event: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.deephit(logits, time_bin, event, **self._arguments(kwargs))


class DemographicParityGapLoss(Loss):
    """Differentiable demographic-parity gap: how much the mean predicted positive rate differs
    between groups.

    Module form of :func:`losskit.functional.demographic_parity_gap`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(logits, group)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        aggregate: see :func:`losskit.functional.demographic_parity_gap`. Default:
            ``"max"``.

    Shape:
        logits: ``[N]`` or ``[N, 1]`` binary logits; group: ``[N]`` integer ids; output: scalar.
    """

    info: ClassVar[LossInfo] = get_info("demographic_parity_gap")
    aggregate: GapAggregate

    def __init__(self, *, aggregate: GapAggregate = "max") -> None:
        super().__init__(aggregate=aggregate)

    def forward(self, logits: torch.Tensor, group: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.demographic_parity_gap(logits, group, **self._arguments(kwargs))


class DiceLoss(Loss):
    """Soft Dice loss: one minus the Dice overlap between predicted probabilities and the target,
    per class and image.

    Module form of :func:`losskit.functional.dice`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        activation: ``"softmax"`` (classes exclusive), ``"sigmoid"`` (independent channels,
            multi-label or binary ``C = 1``) or ``"none"`` (the input already holds
            probabilities; checked in CPU eager calls only). Default: ``"softmax"``.
        include_background: keep class 0 in the mean. Default: ``True``.
        ignore_index: voxels with this target index count for nothing. Default: ``None``.
        class_weight: ``[C]`` non-negative weights (a tensor may require grad); ``"mean"``
            is then the weighted mean over pairs; with ``average="micro"`` each class's sums are
            weighted instead. Learnable: pass an ``nn.Parameter`` to train it. Default:
            ``None``.
        smooth: added to numerator and denominator (a number or a learnable tensor);
            ``smooth_nr`` / ``smooth_dr`` set the numerator's / denominator's term apart.
            Learnable: pass an ``nn.Parameter`` to train it. Default: ``1e-05``.
        smooth_nr: see :func:`losskit.functional.dice`. Learnable: pass an ``nn.Parameter``
            to train it. Default: ``None``.
        smooth_dr: see :func:`losskit.functional.dice`. Learnable: pass an ``nn.Parameter``
            to train it. Default: ``None``.
        squared_pred: volumes ``sum p^2`` and ``sum t^2`` with intersection ``sum p t``
            (V-Net's form) instead of ``sum p`` and ``sum t``. Default: ``False``.
        soft_label: intersection ``sum(min(p, t))`` (default; exact for soft targets) or,
            when False, the product ``sum(p t)`` (MONAI's default); equal for hard targets.
            Default: ``True``.
        log_loss: ``-log(score)`` instead of ``1 - score``. Default: ``False``.
        other_act: a callable applied to the input instead of ``activation`` (MONAI's
            ``other_act``); its output is used as the probabilities, unchecked. Default:
            ``None``.
        average: ``"macro"`` one score per (image, class), ``"micro"`` one score per image
            over the classes' summed statistics (kornia's ``average="micro"``). Default:
            ``"macro"``.
        batch: sum the statistics over the whole batch (one score per class) instead of one
            per image. Default: ``False``.
        skip_empty: leave out of the mean the (image, class) pairs where the class is absent
            from the target and from the hard prediction (argmax for softmax, p > 0.5
            otherwise); those are trivially right and otherwise dilute the mean. Default:
            ``False``.
        distributed: with ``batch=True``, sum the statistics over every rank of ``group``
            (the global batch); per image, average over every rank's images. DDP-correct
            gradients (:mod:`losskit.distributed`); without a process group, no effect. Default:
            ``False``.
        group: see :func:`losskit.functional.dice`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        ``"none"`` returns one value per (image, class) ``[N, K]``, per class ``[K]`` with
        ``batch=True`` (``K = C``, or ``C - 1`` without background); with
        ``average="micro"`` one per image ``[N]``, or a 0-dim tensor with ``batch=True``.
    """

    info: ClassVar[LossInfo] = get_info("dice")
    activation: Activation
    include_background: bool
    ignore_index: int | None
    class_weight: torch.Tensor | None
    smooth: float | torch.Tensor
    smooth_nr: float | torch.Tensor | None
    smooth_dr: float | torch.Tensor | None
    squared_pred: bool
    soft_label: bool
    log_loss: bool
    other_act: Callable[[torch.Tensor], torch.Tensor] | None
    average: Average
    batch: bool
    skip_empty: bool
    distributed: bool
    group: Any
    reduction: Reduction

    def __init__(
        self,
        *,
        activation: Activation = "softmax",
        include_background: bool = True,
        ignore_index: int | None = None,
        class_weight: torch.Tensor | None = None,
        smooth: float | torch.Tensor = 1e-05,
        smooth_nr: float | torch.Tensor | None = None,
        smooth_dr: float | torch.Tensor | None = None,
        squared_pred: bool = False,
        soft_label: bool = True,
        log_loss: bool = False,
        other_act: Callable[[torch.Tensor], torch.Tensor] | None = None,
        average: Average = "macro",
        batch: bool = False,
        skip_empty: bool = False,
        distributed: bool = False,
        group: Any = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            activation=activation,
            include_background=include_background,
            ignore_index=ignore_index,
            class_weight=class_weight,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            squared_pred=squared_pred,
            soft_label=soft_label,
            log_loss=log_loss,
            other_act=other_act,
            average=average,
            batch=batch,
            skip_empty=skip_empty,
            distributed=distributed,
            group=group,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.dice(input, target, **self._arguments(kwargs))


class DiffusionLoss(Loss):
    """Denoising diffusion training loss: per-sample mean squared error of the network's prediction
    (noise, velocity or clean sample), optionally weighted by min-SNR-gamma.

    Module form of :func:`losskit.functional.diffusion`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(prediction, target, timesteps)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        alphas_cumprod: see :func:`losskit.functional.diffusion`. Default: ``None``.
        prediction_type: see :func:`losskit.functional.diffusion`. Default: ``"epsilon"``.
        snr_gamma: see :func:`losskit.functional.diffusion`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        prediction: ``[N, *]``; target: same; timesteps: ``[N]`` integer indices into
        alphas_cumprod ``[T]``; weight: ``[N]``; output: scalar, or ``[N]`` with
        ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("diffusion")
    alphas_cumprod: torch.Tensor | None
    prediction_type: Literal["epsilon", "v_prediction", "sample"]
    snr_gamma: float | None
    reduction: Reduction

    def __init__(
        self,
        *,
        alphas_cumprod: torch.Tensor | None = None,
        prediction_type: Literal["epsilon", "v_prediction", "sample"] = "epsilon",
        snr_gamma: float | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            alphas_cumprod=alphas_cumprod,
            prediction_type=prediction_type,
            snr_gamma=snr_gamma,
            reduction=reduction,
        )

    def forward(
        self,
        prediction: torch.Tensor,
        target: torch.Tensor,
        timesteps: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.diffusion(prediction, target, timesteps, **self._arguments(kwargs))


class DinoLoss(Loss):
    """DINO self-distillation: cross-entropy from a centered, sharpened, detached teacher
    distribution to the student's softmax.

    Module form of :func:`losskit.functional.dino`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(student_logits, teacher_logits)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        center: see :func:`losskit.functional.dino`. Default: ``None``.
        student_temperature: see :func:`losskit.functional.dino`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``0.1``.
        teacher_temperature: see :func:`losskit.functional.dino`. Default: ``0.04``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        student_logits, teacher_logits: ``[N, K]``; output: scalar, or ``[N]``.
    """

    info: ClassVar[LossInfo] = get_info("dino")
    center: torch.Tensor | None
    student_temperature: float | torch.Tensor
    teacher_temperature: float
    reduction: Reduction

    def __init__(
        self,
        *,
        center: torch.Tensor | None = None,
        student_temperature: float | torch.Tensor = 0.1,
        teacher_temperature: float = 0.04,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            center=center,
            student_temperature=student_temperature,
            teacher_temperature=teacher_temperature,
            reduction=reduction,
        )

    def forward(
        self,
        student_logits: torch.Tensor,
        teacher_logits: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.dino(student_logits, teacher_logits, **self._arguments(kwargs))


class DIoULoss(Loss):
    """Distance IoU loss: 1 - IoU plus the squared distance between box centers over the squared
    diagonal of the enclosing box.

    Module form of :func:`losskit.functional.diou`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        eps: see :func:`losskit.functional.diou`. Default: ``1e-07``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*, 4]`` (x1, y1, x2, y2) or ``[*, 6]`` (x1, y1, z1, x2, y2, z2); target:
        same shape; ``"none"`` gives ``[*]``.
    """

    info: ClassVar[LossInfo] = get_info("diou")
    eps: float
    reduction: Reduction

    def __init__(self, *, eps: float = 1e-07, reduction: Reduction = "mean") -> None:
        super().__init__(eps=eps, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.diou(input, target, **self._arguments(kwargs))


class DiscreteHazardLoss(Loss):
    """Logistic-hazard (discrete-time) survival likelihood: one hazard logit per time interval, a
    binary cross-entropy for each interval the subject was at risk in.

    Module form of :func:`losskit.functional.discrete_hazard`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(logits, time_bin, event)`` computes the loss,
    and a keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        logits: ``[N, T]`` hazard logits per interval; time_bin: ``[N]`` integer interval
        index of the event / censoring time; event: ``[N]`` 1 = event, 0 = censored.
        ``"none"`` gives ``[N]``.
    """

    info: ClassVar[LossInfo] = get_info("discrete_hazard")
    reduction: Reduction

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)

    def forward(
        self,
        logits: torch.Tensor,
        time_bin: torch.Tensor,
        event: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.discrete_hazard(logits, time_bin, event, **self._arguments(kwargs))


class DistillationLoss(Loss):
    """Knowledge distillation: a divergence (forward KL, reverse KL or generalized JSD) between the
    teacher's and the student's tempered softmax, scaled by T^2 and optionally mixed with
    cross-entropy on the labels.

    Module form of :func:`losskit.functional.distillation`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(student_logits, teacher_logits, target)`` computes the loss,
    and a keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        temperature: see :func:`losskit.functional.distillation`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``1.0``.
        alpha: see :func:`losskit.functional.distillation`. Default: ``1.0``.
        divergence: see :func:`losskit.functional.distillation`. Default: ``"forward_kl"``.
        beta: see :func:`losskit.functional.distillation`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``0.5``.
        ignore_index: see :func:`losskit.functional.distillation`. Default: ``-100``.
        normalizer: see :func:`losskit.functional.distillation`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        student_logits, teacher_logits: ``[*, V]`` (``[N, V]`` or ``[B, T, V]``); target:
        ``[*]`` class indices or ``ignore_index``; weight: broadcastable to ``[*]``;
        output: scalar, or ``[*]`` with ``reduction="none"`` (0 at ignored rows).
    """

    info: ClassVar[LossInfo] = get_info("distillation")
    temperature: float | torch.Tensor
    alpha: float
    divergence: Divergence
    beta: float | torch.Tensor
    ignore_index: int
    normalizer: float | torch.Tensor | None
    reduction: Reduction

    def __init__(
        self,
        *,
        temperature: float | torch.Tensor = 1.0,
        alpha: float = 1.0,
        divergence: Divergence = "forward_kl",
        beta: float | torch.Tensor = 0.5,
        ignore_index: int = -100,
        normalizer: float | torch.Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            temperature=temperature,
            alpha=alpha,
            divergence=divergence,
            beta=beta,
            ignore_index=ignore_index,
            normalizer=normalizer,
            reduction=reduction,
        )

    def forward(
        self,
        student_logits: torch.Tensor,
        teacher_logits: torch.Tensor,
        target: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.distillation(student_logits, teacher_logits, target, **self._arguments(kwargs))


class DPOLoss(Loss):
    """Direct Preference Optimization: a logistic loss on how much more the policy prefers the
    chosen over the rejected completion than the reference model does; IPO, hinge (SLiC) and
    robust-DPO variants via loss_type.

    Module form of :func:`losskit.functional.dpo`. The hyperparameters are keyword-only and kept
    as attributes; ``loss(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
    reference_rejected_logps)`` computes the loss, and a keyword given to the call (``weight=``,
    ...) goes to the function for that call.

    Args:
        beta: see :func:`losskit.functional.dpo`. Learnable: pass an ``nn.Parameter`` to
            train it. Default: ``0.1``.
        loss_type: see :func:`losskit.functional.dpo`. Default: ``"sigmoid"``.
        label_smoothing: see :func:`losskit.functional.dpo`. Default: ``0.0``.
        return_parts: see :func:`losskit.functional.dpo`. Default: ``False``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        every log-probability: ``[B]`` (one per completion, summed over its tokens);
        weight: broadcastable to ``[B]``; output: scalar, or ``[B]`` with
        ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("dpo")
    beta: float | torch.Tensor
    loss_type: Literal["sigmoid", "ipo", "hinge", "robust"]
    label_smoothing: float
    return_parts: bool
    reduction: Reduction

    def __init__(
        self,
        *,
        beta: float | torch.Tensor = 0.1,
        loss_type: Literal["sigmoid", "ipo", "hinge", "robust"] = "sigmoid",
        label_smoothing: float = 0.0,
        return_parts: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            beta=beta,
            loss_type=loss_type,
            label_smoothing=label_smoothing,
            return_parts=return_parts,
            reduction=reduction,
        )

    def forward(
        self,
        policy_chosen_logps: torch.Tensor,
        policy_rejected_logps: torch.Tensor,
        reference_chosen_logps: torch.Tensor | None = None,
        reference_rejected_logps: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> torch.Tensor | DPOParts:
        return F.dpo(
            policy_chosen_logps,
            policy_rejected_logps,
            reference_chosen_logps,
            reference_rejected_logps,
            **self._arguments(kwargs),
        )


class EnergyMarginLoss(Loss):
    """Margin (hinge) loss for energy-based models: the correct answer's energy must be at least
    `margin` below that of the most offending wrong answer.

    Module form of :func:`losskit.functional.energy_margin`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(energies, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        margin: see :func:`losskit.functional.energy_margin`. Default: ``1.0``.
        ignore_index: see :func:`losskit.functional.energy_margin`. Default: ``-100``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        energies: ``[N, C]``, C >= 2; target: ``[N]`` class indices (``ignore_index`` rows do
        not count); weight: ``[N]``; output: scalar, or ``[N]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("energy_margin")
    margin: float
    ignore_index: int
    reduction: Reduction

    def __init__(
        self,
        *,
        margin: float = 1.0,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(margin=margin, ignore_index=ignore_index, reduction=reduction)

    def forward(self, energies: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.energy_margin(energies, target, **self._arguments(kwargs))


class EnergyNLLLoss(Loss):
    """Negative log-likelihood of the Gibbs distribution p(c) ∝ exp(-beta E_c): the correct energy
    plus the free energy of all answers.

    Module form of :func:`losskit.functional.energy_nll`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(energies, target)`` computes the loss, and a keyword given to
    the call (``weight=``, ...) goes to the function for that call.

    Args:
        beta: see :func:`losskit.functional.energy_nll`. Default: ``1.0``.
        ignore_index: see :func:`losskit.functional.energy_nll`. Default: ``-100``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        energies: ``[N, C]``; target: ``[N]`` class indices or ``[N, C]`` probabilities;
        weight: ``[N]``; output: scalar, or ``[N]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("energy_nll")
    beta: float
    ignore_index: int
    reduction: Reduction

    def __init__(
        self,
        *,
        beta: float = 1.0,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(beta=beta, ignore_index=ignore_index, reduction=reduction)

    def forward(self, energies: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.energy_nll(energies, target, **self._arguments(kwargs))


class EqualizedOddsGapLoss(Loss):
    """Differentiable equalized-odds gap: the larger of the between-group gaps in true-positive rate
    and in false-positive rate.

    Module form of :func:`losskit.functional.equalized_odds_gap`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(logits, target, group)`` computes the loss, and
    a keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        aggregate: see :func:`losskit.functional.equalized_odds_gap`. Default: ``"max"``.

    Shape:
        logits: ``[N]`` or ``[N, 1]``; target: ``[N]`` in {0, 1} (float or integer);
        group: ``[N]`` integer ids; output: scalar.
    """

    info: ClassVar[LossInfo] = get_info("equalized_odds_gap")
    aggregate: GapAggregate

    def __init__(self, *, aggregate: GapAggregate = "max") -> None:
        super().__init__(aggregate=aggregate)

    def forward(
        self,
        logits: torch.Tensor,
        target: torch.Tensor,
        group: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.equalized_odds_gap(logits, target, group, **self._arguments(kwargs))


class GanDiscriminatorLoss(Loss):
    """The discriminator's (critic's) side of a GAN objective, from its raw outputs on real and on
    generated samples: non-saturating (cross-entropy), hinge, least-squares or Wasserstein.

    Module form of :func:`losskit.functional.gan_discriminator`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(real_logits, fake_logits)`` computes the loss,
    and a keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        kind: see :func:`losskit.functional.gan_discriminator`. Default:
            ``"non_saturating"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        real_logits: ``[N, *]``; fake_logits: ``[M, *]``; output: scalar, or ``[N, *]`` with
        ``reduction="none"`` (N = M).
    """

    info: ClassVar[LossInfo] = get_info("gan_discriminator")
    kind: GanKind
    reduction: Reduction

    def __init__(self, *, kind: GanKind = "non_saturating", reduction: Reduction = "mean") -> None:
        super().__init__(kind=kind, reduction=reduction)

    def forward(
        self,
        real_logits: torch.Tensor,
        fake_logits: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.gan_discriminator(real_logits, fake_logits, **self._arguments(kwargs))


class GanGeneratorLoss(Loss):
    """The generator's side of a GAN objective, from the discriminator's raw outputs on generated
    samples: non-saturating, hinge, least-squares or Wasserstein.

    Module form of :func:`losskit.functional.gan_generator`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(fake_logits)`` computes the loss, and a keyword
    given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        kind: see :func:`losskit.functional.gan_generator`. Default: ``"non_saturating"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        fake_logits: ``[N, *]``; weight: broadcastable to it; output: scalar, or ``[N, *]``
        with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("gan_generator")
    kind: GanKind
    reduction: Reduction

    def __init__(self, *, kind: GanKind = "non_saturating", reduction: Reduction = "mean") -> None:
        super().__init__(kind=kind, reduction=reduction)

    def forward(self, fake_logits: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.gan_generator(fake_logits, **self._arguments(kwargs))


class GaussianKLLoss(Loss):
    """KL divergence of a diagonal Gaussian posterior N(mu, exp(logvar)) from the standard normal
    prior, summed over latent dimensions.

    Module form of :func:`losskit.functional.gaussian_kl`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(mu, logvar)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        mu: ``[N, D]`` posterior means; logvar: ``[N, D]`` log-variances; weight: ``[N]``;
        output: scalar, or ``[N]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("gaussian_kl")
    reduction: Reduction

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)

    def forward(self, mu: torch.Tensor, logvar: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.gaussian_kl(mu, logvar, **self._arguments(kwargs))


class GaussianNLLLoss(Loss):
    """Gaussian negative log-likelihood with a predicted variance (heteroscedastic regression).

    Module form of :func:`losskit.functional.gaussian_nll`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(input, target, var)`` computes the loss, and a keyword given
    to the call (``weight=``, ...) goes to the function for that call.

    Args:
        full: see :func:`losskit.functional.gaussian_nll`. Default: ``False``.
        eps: see :func:`losskit.functional.gaussian_nll`. Default: ``1e-06``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, *]`` means; target: ``[N, *]``; var: ``[N, *]``, or one dimension fewer /
        a last dimension of 1 for one variance per sample, or a scalar (homoscedastic).
    """

    info: ClassVar[LossInfo] = get_info("gaussian_nll")
    full: bool
    eps: float
    reduction: Reduction

    def __init__(
        self,
        *,
        full: bool = False,
        eps: float = 1e-06,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(full=full, eps=eps, reduction=reduction)

    def forward(
        self,
        input: torch.Tensor,
        target: torch.Tensor,
        var: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.gaussian_nll(input, target, var, **self._arguments(kwargs))


class GemanMcclureLoss(Loss):
    """Geman-McClure loss: a rational function bounded by 2, general_robust at alpha = -2.

    Module form of :func:`losskit.functional.geman_mcclure`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        scale: see :func:`losskit.functional.geman_mcclure`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``1.0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("geman_mcclure")
    scale: float | torch.Tensor
    reduction: Reduction

    def __init__(self, *, scale: float | torch.Tensor = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(scale=scale, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.geman_mcclure(input, target, **self._arguments(kwargs))


class GeneralRobustLoss(Loss):
    """Barron's general robust loss: one shape parameter alpha moves continuously through L2 (alpha
    = 2), Charbonnier / pseudo-Huber (1), Cauchy (0), Geman-McClure (-2) and Welsch (-> -inf).

    Module form of :func:`losskit.functional.general_robust`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        alpha: see :func:`losskit.functional.general_robust`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``1.0``.
        scale: see :func:`losskit.functional.general_robust`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``1.0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]``; target: ``[*]``; alpha, scale: floats or tensors broadcastable to
        ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("general_robust")
    alpha: float | torch.Tensor
    scale: float | torch.Tensor
    reduction: Reduction

    def __init__(
        self,
        *,
        alpha: float | torch.Tensor = 1.0,
        scale: float | torch.Tensor = 1.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(alpha=alpha, scale=scale, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.general_robust(input, target, **self._arguments(kwargs))


class GeneralizedCrossEntropyLoss(Loss):
    """Generalized cross-entropy (L_q): the negative Box-Cox transform of the target probability,
    between cross-entropy (q -> 0) and the noise-robust MAE (q = 1).

    Module form of :func:`losskit.functional.generalized_cross_entropy`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        q: in (0, 1] (a number or a 0-dim tensor, learnable); ``q -> 0`` approaches
            cross-entropy, ``q = 1`` is ``1 - p_y`` (MAE on the probabilities, up to 2x).
            Learnable: pass an ``nn.Parameter`` to train it. Default: ``0.7``.
        ignore_index: see :func:`losskit.functional.generalized_cross_entropy`. Default:
            ``-100``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("generalized_cross_entropy")
    q: float | torch.Tensor
    ignore_index: int
    reduction: Reduction

    def __init__(
        self,
        *,
        q: float | torch.Tensor = 0.7,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(q=q, ignore_index=ignore_index, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.generalized_cross_entropy(input, target, **self._arguments(kwargs))


class GeneralizedDiceLoss(Loss):
    """Generalized Dice loss: one Dice over all classes, each class weighted by the inverse square
    of its target volume.

    Module form of :func:`losskit.functional.generalized_dice`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        activation: see :func:`losskit.functional.generalized_dice`. Default: ``"softmax"``.
        include_background: see :func:`losskit.functional.generalized_dice`. Default:
            ``True``.
        ignore_index: see :func:`losskit.functional.generalized_dice`. Default: ``None``.
        class_weight: see :func:`losskit.functional.generalized_dice`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``None``.
        smooth: see :func:`losskit.functional.generalized_dice`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``1e-05``.
        smooth_nr: see :func:`losskit.functional.generalized_dice`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``None``.
        smooth_dr: see :func:`losskit.functional.generalized_dice`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``None``.
        weight_type: see :func:`losskit.functional.generalized_dice`. Default: ``"square"``.
        soft_label: see :func:`losskit.functional.generalized_dice`. Default: ``True``.
        other_act: see :func:`losskit.functional.generalized_dice`. Default: ``None``.
        batch: see :func:`losskit.functional.generalized_dice`. Default: ``False``.
        skip_empty: see :func:`losskit.functional.generalized_dice`. Default: ``False``.
        distributed: see :func:`losskit.functional.generalized_dice`. Default: ``False``.
        group: see :func:`losskit.functional.generalized_dice`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        ``"none"`` returns one value per image ``[N]``, or a 0-dim tensor with
        ``batch=True``; ``weight`` broadcasts against that.
    """

    info: ClassVar[LossInfo] = get_info("generalized_dice")
    activation: Activation
    include_background: bool
    ignore_index: int | None
    class_weight: torch.Tensor | None
    smooth: float | torch.Tensor
    smooth_nr: float | torch.Tensor | None
    smooth_dr: float | torch.Tensor | None
    weight_type: Literal["square", "simple", "uniform"]
    soft_label: bool
    other_act: Callable[[torch.Tensor], torch.Tensor] | None
    batch: bool
    skip_empty: bool
    distributed: bool
    group: Any
    reduction: Reduction

    def __init__(
        self,
        *,
        activation: Activation = "softmax",
        include_background: bool = True,
        ignore_index: int | None = None,
        class_weight: torch.Tensor | None = None,
        smooth: float | torch.Tensor = 1e-05,
        smooth_nr: float | torch.Tensor | None = None,
        smooth_dr: float | torch.Tensor | None = None,
        weight_type: Literal["square", "simple", "uniform"] = "square",
        soft_label: bool = True,
        other_act: Callable[[torch.Tensor], torch.Tensor] | None = None,
        batch: bool = False,
        skip_empty: bool = False,
        distributed: bool = False,
        group: Any = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            activation=activation,
            include_background=include_background,
            ignore_index=ignore_index,
            class_weight=class_weight,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            weight_type=weight_type,
            soft_label=soft_label,
            other_act=other_act,
            batch=batch,
            skip_empty=skip_empty,
            distributed=distributed,
            group=group,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.generalized_dice(input, target, **self._arguments(kwargs))


class GIoULoss(Loss):
    """Generalized IoU loss: 1 - IoU plus the fraction of the enclosing box not covered by the
    union, so disjoint boxes still get a gradient.

    Module form of :func:`losskit.functional.giou`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        eps: see :func:`losskit.functional.giou`. Default: ``1e-07``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*, 4]`` (x1, y1, x2, y2) or ``[*, 6]`` (x1, y1, z1, x2, y2, z2); target:
        same shape; ``"none"`` gives ``[*]``.
    """

    info: ClassVar[LossInfo] = get_info("giou")
    eps: float
    reduction: Reduction

    def __init__(self, *, eps: float = 1e-07, reduction: Reduction = "mean") -> None:
        super().__init__(eps=eps, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.giou(input, target, **self._arguments(kwargs))


class GradientPenaltyLoss(Loss):
    """WGAN-GP gradient penalty: the critic's input-gradient norm pushed to 1 on random points
    between real and generated samples.

    Module form of :func:`losskit.functional.gradient_penalty`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(critic, real, fake)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        target: see :func:`losskit.functional.gradient_penalty`. Default: ``1.0``.
        generator: see :func:`losskit.functional.gradient_penalty`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        real: ``[N, *]``; fake: same; weight: ``[N]``; output: scalar, or ``[N]`` with
        ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("gradient_penalty")
    target: float
    generator: torch.Generator | None
    reduction: Reduction

    def __init__(
        self,
        *,
        target: float = 1.0,
        generator: torch.Generator | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(target=target, generator=generator, reduction=reduction)

    def forward(
        self,
        critic: Callable[[torch.Tensor], torch.Tensor],
        real: torch.Tensor,
        fake: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.gradient_penalty(critic, real, fake, **self._arguments(kwargs))


class GRPOLoss(Loss):
    """GRPO: PPO's clipped surrogate with critic-free advantages, each completion's reward
    normalized within its group of completions of the same prompt, plus an optional k3 KL penalty to
    a reference model.

    Module form of :func:`losskit.functional.grpo`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(logps, old_logps, rewards)`` computes the loss, and a keyword
    given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        group_size: see :func:`losskit.functional.grpo`. Default: ``None``.
        mask: see :func:`losskit.functional.grpo`. Default: ``None``.
        reference_logps: see :func:`losskit.functional.grpo`. Default: ``None``.
        beta: see :func:`losskit.functional.grpo`. Default: ``0.0``.
        clip: see :func:`losskit.functional.grpo`. Default: ``0.2``.
        clip_high: see :func:`losskit.functional.grpo`. Default: ``None``.
        scale_rewards: see :func:`losskit.functional.grpo`. Default: ``True``.
        aggregation: see :func:`losskit.functional.grpo`. Default: ``"token"``.
        normalizer: see :func:`losskit.functional.grpo`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        logps, old_logps, reference_logps: ``[B, T]``; rewards: ``[B]``; mask: bool,
        broadcastable to ``[B, T]``; weight: broadcastable to ``[B, T]``; output: scalar,
        or as :func:`ppo_clip` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("grpo")
    group_size: int | None
    mask: torch.Tensor | None
    reference_logps: torch.Tensor | None
    beta: float
    clip: float
    clip_high: float | None
    scale_rewards: bool
    aggregation: Aggregation
    normalizer: float | torch.Tensor | None
    reduction: Reduction

    def __init__(
        self,
        *,
        group_size: int | None = None,
        mask: torch.Tensor | None = None,
        reference_logps: torch.Tensor | None = None,
        beta: float = 0.0,
        clip: float = 0.2,
        clip_high: float | None = None,
        scale_rewards: bool = True,
        aggregation: Aggregation = "token",
        normalizer: float | torch.Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            group_size=group_size,
            mask=mask,
            reference_logps=reference_logps,
            beta=beta,
            clip=clip,
            clip_high=clip_high,
            scale_rewards=scale_rewards,
            aggregation=aggregation,
            normalizer=normalizer,
            reduction=reduction,
        )

    def forward(
        self,
        logps: torch.Tensor,
        old_logps: torch.Tensor,
        rewards: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.grpo(logps, old_logps, rewards, **self._arguments(kwargs))


class HingeLoss(Loss):
    """Binary hinge loss of the support vector machine: zero once the score is on the right side of
    the label by the margin, linear otherwise.

    Module form of :func:`losskit.functional.hinge`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        margin: see :func:`losskit.functional.hinge`. Learnable: pass an ``nn.Parameter`` to
            train it. Default: ``1.0``.
        squared: see :func:`losskit.functional.hinge`. Default: ``False``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]`` scores; target: ``[*]`` labels in {0, 1} or {-1, 1} (float or integer);
        output: scalar, or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("hinge")
    margin: float | torch.Tensor
    squared: bool
    reduction: Reduction

    def __init__(
        self,
        *,
        margin: float | torch.Tensor = 1.0,
        squared: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(margin=margin, squared=squared, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.hinge(input, target, **self._arguments(kwargs))


class HuberLoss(Loss):
    """Huber loss: quadratic for residuals below delta, linear beyond.

    Module form of :func:`losskit.functional.huber`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        delta: see :func:`losskit.functional.huber`. Learnable: pass an ``nn.Parameter`` to
            train it. Default: ``1.0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("huber")
    delta: float | torch.Tensor
    reduction: Reduction

    def __init__(self, *, delta: float | torch.Tensor = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(delta=delta, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.huber(input, target, **self._arguments(kwargs))


class InfoNCELoss(Loss):
    """InfoNCE: each query must pick its own key out of the batch's keys (and optional extra
    negatives), a softmax over cosine similarities.

    Module form of :func:`losskit.functional.info_nce`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(query, key)`` computes the loss, and a keyword given to the call
    (``weight=``, ...) goes to the function for that call.

    Args:
        temperature: see :func:`losskit.functional.info_nce`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``0.1``.
        negatives: see :func:`losskit.functional.info_nce`. Default: ``None``.
        normalize: see :func:`losskit.functional.info_nce`. Default: ``True``.
        distributed: see :func:`losskit.functional.info_nce`. Default: ``False``.
        group: see :func:`losskit.functional.info_nce`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        query, key: ``[N, d]``; negatives: ``[M, d]`` or None; output: scalar, or ``[N]``
        per query with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("info_nce")
    temperature: float | torch.Tensor
    negatives: torch.Tensor | None
    normalize: bool
    distributed: bool
    group: Any
    reduction: Reduction

    def __init__(
        self,
        *,
        temperature: float | torch.Tensor = 0.1,
        negatives: torch.Tensor | None = None,
        normalize: bool = True,
        distributed: bool = False,
        group: Any = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            temperature=temperature,
            negatives=negatives,
            normalize=normalize,
            distributed=distributed,
            group=group,
            reduction=reduction,
        )

    def forward(self, query: torch.Tensor, key: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.info_nce(query, key, **self._arguments(kwargs))


class JaccardLoss(Loss):
    """Soft Jaccard (IoU) loss: one minus intersection over union of predicted probabilities and
    target, per class and image.

    Module form of :func:`losskit.functional.jaccard`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        activation: see :func:`losskit.functional.jaccard`. Default: ``"softmax"``.
        include_background: see :func:`losskit.functional.jaccard`. Default: ``True``.
        ignore_index: see :func:`losskit.functional.jaccard`. Default: ``None``.
        class_weight: see :func:`losskit.functional.jaccard`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``None``.
        smooth: see :func:`losskit.functional.jaccard`. Learnable: pass an ``nn.Parameter``
            to train it. Default: ``1e-05``.
        smooth_nr: see :func:`losskit.functional.jaccard`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``None``.
        smooth_dr: see :func:`losskit.functional.jaccard`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``None``.
        squared_pred: see :func:`losskit.functional.jaccard`. Default: ``False``.
        soft_label: see :func:`losskit.functional.jaccard`. Default: ``True``.
        log_loss: see :func:`losskit.functional.jaccard`. Default: ``False``.
        other_act: see :func:`losskit.functional.jaccard`. Default: ``None``.
        average: see :func:`losskit.functional.jaccard`. Default: ``"macro"``.
        batch: see :func:`losskit.functional.jaccard`. Default: ``False``.
        skip_empty: see :func:`losskit.functional.jaccard`. Default: ``False``.
        distributed: see :func:`losskit.functional.jaccard`. Default: ``False``.
        group: see :func:`losskit.functional.jaccard`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input, target: as :func:`losskit.functional.jaccard` documents; output: a scalar, or
        shape 'sample_class' with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("jaccard")
    activation: Activation
    include_background: bool
    ignore_index: int | None
    class_weight: torch.Tensor | None
    smooth: float | torch.Tensor
    smooth_nr: float | torch.Tensor | None
    smooth_dr: float | torch.Tensor | None
    squared_pred: bool
    soft_label: bool
    log_loss: bool
    other_act: Callable[[torch.Tensor], torch.Tensor] | None
    average: Average
    batch: bool
    skip_empty: bool
    distributed: bool
    group: Any
    reduction: Reduction

    def __init__(
        self,
        *,
        activation: Activation = "softmax",
        include_background: bool = True,
        ignore_index: int | None = None,
        class_weight: torch.Tensor | None = None,
        smooth: float | torch.Tensor = 1e-05,
        smooth_nr: float | torch.Tensor | None = None,
        smooth_dr: float | torch.Tensor | None = None,
        squared_pred: bool = False,
        soft_label: bool = True,
        log_loss: bool = False,
        other_act: Callable[[torch.Tensor], torch.Tensor] | None = None,
        average: Average = "macro",
        batch: bool = False,
        skip_empty: bool = False,
        distributed: bool = False,
        group: Any = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            activation=activation,
            include_background=include_background,
            ignore_index=ignore_index,
            class_weight=class_weight,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            squared_pred=squared_pred,
            soft_label=soft_label,
            log_loss=log_loss,
            other_act=other_act,
            average=average,
            batch=batch,
            skip_empty=skip_empty,
            distributed=distributed,
            group=group,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.jaccard(input, target, **self._arguments(kwargs))


class JSDivLoss(Loss):
    """Jensen-Shannon divergence between softmax(input) and the target: the symmetric, bounded
    average of the two KLs to their mixture.

    Module form of :func:`losskit.functional.js_div`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        log_target: the target holds log-probabilities or logits instead of probabilities.
            Default: ``False``.
        input_kind: ``"logits"`` (default, normalised with softmax), ``"probabilities"``
            (non-negative values as they are, normalised or not: kornia's ``js_div_loss_2d``
            between heatmaps) or ``"log_probs"`` (log values, used as ``exp(input)`` without
            normalising). Default: ``"logits"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, *]``; target: ``[N, C, *]``; output: scalar, or ``[N, *]`` with
        ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("js_div")
    log_target: bool
    input_kind: DistributionInput
    reduction: Reduction

    def __init__(
        self,
        *,
        log_target: bool = False,
        input_kind: DistributionInput = "logits",
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(log_target=log_target, input_kind=input_kind, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.js_div(input, target, **self._arguments(kwargs))


class KLDivLoss(Loss):
    """Kullback-Leibler divergence KL(target || softmax(input)): the extra nats needed to code
    samples of the target with the predicted distribution.

    Module form of :func:`losskit.functional.kl_div`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        log_target: the target holds log-probabilities or unnormalised logits instead of
            probabilities (useful for a teacher's logits; torch's ``log_target``). Default:
            ``False``.
        input_kind: what the input holds. ``"logits"`` (default) are normalised with
            log_softmax over dim 1. ``"probabilities"`` are non-negative values used as they
            are, normalised or not: ``sum_c p_c log(p_c / q_c)`` with ``0 log 0 = 0`` and
            ``inf`` where ``q_c = 0 < p_c`` (kornia's ``kl_div_loss_2d`` between heatmaps).
            ``"log_probs"`` are log values used as they are (torch's ``kl_div`` input). Default:
            ``"logits"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, *]``; target: ``[N, C, *]``; output: scalar, or ``[N, *]`` with
        ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("kl_div")
    log_target: bool
    input_kind: DistributionInput
    reduction: Reduction

    def __init__(
        self,
        *,
        log_target: bool = False,
        input_kind: DistributionInput = "logits",
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(log_target=log_target, input_kind=input_kind, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.kl_div(input, target, **self._arguments(kwargs))


class KLPenaltyLoss(Loss):
    """Per-token sample estimate of KL(policy || reference) from log-probabilities of tokens sampled
    from the policy, with Schulman's k1, k2 or k3 estimator.

    Module form of :func:`losskit.functional.kl_penalty`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(logps, reference_logps)`` computes the loss, and a keyword
    given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        estimator: see :func:`losskit.functional.kl_penalty`. Default: ``"k3"``.
        mask: see :func:`losskit.functional.kl_penalty`. Default: ``None``.
        normalizer: see :func:`losskit.functional.kl_penalty`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        logps, reference_logps: ``[*]`` (e.g. ``[B, T]``); mask: bool, broadcastable to
        ``[*]``; weight: broadcastable to ``[*]``; output: scalar, or ``[*]`` with
        ``reduction="none"`` (masked tokens 0).
    """

    info: ClassVar[LossInfo] = get_info("kl_penalty")
    estimator: Literal["k1", "k2", "k3"]
    mask: torch.Tensor | None
    normalizer: float | torch.Tensor | None
    reduction: Reduction

    def __init__(
        self,
        *,
        estimator: Literal["k1", "k2", "k3"] = "k3",
        mask: torch.Tensor | None = None,
        normalizer: float | torch.Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(estimator=estimator, mask=mask, normalizer=normalizer, reduction=reduction)

    def forward(
        self,
        logps: torch.Tensor,
        reference_logps: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.kl_penalty(logps, reference_logps, **self._arguments(kwargs))


class KTOLoss(Loss):
    """KTO: alignment from unpaired thumbs-up / thumbs-down feedback, a prospect-theory value of the
    implicit reward relative to a KL reference point.

    Module form of :func:`losskit.functional.kto`. The hyperparameters are keyword-only and kept
    as attributes; ``loss(policy_logps, reference_logps, desirable)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        beta: see :func:`losskit.functional.kto`. Learnable: pass an ``nn.Parameter`` to
            train it. Default: ``0.1``.
        reference_kl: see :func:`losskit.functional.kto`. Default: ``0.0``.
        desirable_weight: see :func:`losskit.functional.kto`. Default: ``1.0``.
        undesirable_weight: see :func:`losskit.functional.kto`. Default: ``1.0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        policy_logps, reference_logps: ``[B]`` summed log-probabilities; desirable: ``[B]``
        bool; weight: broadcastable to ``[B]``; output: scalar, or ``[B]`` with
        ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("kto")
    beta: float | torch.Tensor
    reference_kl: float | torch.Tensor
    desirable_weight: float
    undesirable_weight: float
    reduction: Reduction

    def __init__(
        self,
        *,
        beta: float | torch.Tensor = 0.1,
        reference_kl: float | torch.Tensor = 0.0,
        desirable_weight: float = 1.0,
        undesirable_weight: float = 1.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            beta=beta,
            reference_kl=reference_kl,
            desirable_weight=desirable_weight,
            undesirable_weight=undesirable_weight,
            reduction=reduction,
        )

    def forward(
        self,
        policy_logps: torch.Tensor,
        reference_logps: torch.Tensor,
        desirable: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.kto(policy_logps, reference_logps, desirable, **self._arguments(kwargs))


class L1PenaltyLoss(Loss):
    """L1 norm of the parameters: the lasso penalty, which drives weights to exactly zero.

    Module form of :func:`losskit.functional.l1_penalty`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(params)`` computes the loss, and a keyword given to the call
    (``weight=``, ...) goes to the function for that call.

    Args:
        exclude_bias: see :func:`losskit.functional.l1_penalty`. Default: ``False``.
        exclude_norm: see :func:`losskit.functional.l1_penalty`. Default: ``False``.

    Shape:
        params: any shapes; output: scalar (float32 for low-precision parameters).
    """

    info: ClassVar[LossInfo] = get_info("l1_penalty")
    exclude_bias: bool
    exclude_norm: bool

    def __init__(self, *, exclude_bias: bool = False, exclude_norm: bool = False) -> None:
        super().__init__(exclude_bias=exclude_bias, exclude_norm=exclude_norm)

    def forward(self, params: ParamsLike, **kwargs: Any) -> torch.Tensor:
        return F.l1_penalty(params, **self._arguments(kwargs))


class L2PenaltyLoss(Loss):
    """Squared L2 norm of the parameters: the ridge / weight-decay penalty.

    Module form of :func:`losskit.functional.l2_penalty`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(params)`` computes the loss, and a keyword given to the call
    (``weight=``, ...) goes to the function for that call.

    Args:
        exclude_bias: see :func:`losskit.functional.l2_penalty`. Default: ``False``.
        exclude_norm: see :func:`losskit.functional.l2_penalty`. Default: ``False``.

    Shape:
        params: any shapes; output: scalar (float32 for low-precision parameters).
    """

    info: ClassVar[LossInfo] = get_info("l2_penalty")
    exclude_bias: bool
    exclude_norm: bool

    def __init__(self, *, exclude_bias: bool = False, exclude_norm: bool = False) -> None:
        super().__init__(exclude_bias=exclude_bias, exclude_norm=exclude_norm)

    def forward(self, params: ParamsLike, **kwargs: Any) -> torch.Tensor:
        return F.l2_penalty(params, **self._arguments(kwargs))


class LambdaRankLoss(Loss):
    """LambdaRank: a pairwise logistic loss on every (more relevant, less relevant) pair of a list,
    each pair weighted by the NDCG change of swapping the two items in the current ranking.

    Module form of :func:`losskit.functional.lambdarank`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(scores, relevance)`` computes the loss, and a keyword given
    to the call (``weight=``, ...) goes to the function for that call.

    Args:
        mask: see :func:`losskit.functional.lambdarank`. Default: ``None``.
        group: see :func:`losskit.functional.lambdarank`. Default: ``None``.
        max_list_size: see :func:`losskit.functional.lambdarank`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        scores: ``[Q, L]`` (or ``[N]`` with ``group``); relevance: same shape; mask: bool,
        same shape. ``"none"`` gives ``[Q]`` (``[N]`` with ``group``).
    """

    info: ClassVar[LossInfo] = get_info("lambdarank")
    mask: torch.Tensor | None
    group: torch.Tensor | None
    max_list_size: int | None
    reduction: Reduction

    def __init__(
        self,
        *,
        mask: torch.Tensor | None = None,
        group: torch.Tensor | None = None,
        max_list_size: int | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(mask=mask, group=group, max_list_size=max_list_size, reduction=reduction)

    def forward(self, scores: torch.Tensor, relevance: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.lambdarank(scores, relevance, **self._arguments(kwargs))


class LinearCrossEntropyLoss(Loss):
    """Cross entropy of a linear output layer computed from hidden states block by block, so the
    [tokens, vocabulary] logits are never held in memory.

    Module form of :func:`losskit.functional.linear_cross_entropy`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(hidden, linear_weight, target)`` computes the
    loss, and a keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        bias: see :func:`losskit.functional.linear_cross_entropy`. Default: ``None``.
        ignore_index: see :func:`losskit.functional.linear_cross_entropy`. Default:
            ``-100``.
        label_smoothing: see :func:`losskit.functional.linear_cross_entropy`. Default:
            ``0.0``.
        z_loss: see :func:`losskit.functional.linear_cross_entropy`. Default: ``0.0``.
        softcap: see :func:`losskit.functional.linear_cross_entropy`. Default: ``None``.
        class_weight: see :func:`losskit.functional.linear_cross_entropy`. Learnable: pass
            an ``nn.Parameter`` to train it. Default: ``None``.
        normalizer: see :func:`losskit.functional.linear_cross_entropy`. Default: ``None``.
        distributed: see :func:`losskit.functional.linear_cross_entropy`. Default:
            ``False``.
        group: see :func:`losskit.functional.linear_cross_entropy`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        hidden: ``[*, D]`` hidden states; linear_weight: ``[V, D]``; bias: ``[V]``;
        target: ``[*]`` indices in ``0..V-1`` or ``ignore_index``; class_weight: ``[V]``;
        weight: broadcastable to ``[*]``; output: scalar, or ``[*]`` with
        ``reduction="none"`` (0 at ignored tokens). ``"mean"`` divides by the number of
        non-ignored tokens (by the sum of their class weights with ``class_weight``).
    """

    info: ClassVar[LossInfo] = get_info("linear_cross_entropy")
    bias: torch.Tensor | None
    ignore_index: int
    label_smoothing: float
    z_loss: float
    softcap: float | None
    class_weight: torch.Tensor | None
    normalizer: float | torch.Tensor | None
    distributed: bool
    group: Any
    reduction: Reduction

    def __init__(
        self,
        *,
        bias: torch.Tensor | None = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        z_loss: float = 0.0,
        softcap: float | None = None,
        class_weight: torch.Tensor | None = None,
        normalizer: float | torch.Tensor | None = None,
        distributed: bool = False,
        group: Any = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            bias=bias,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            z_loss=z_loss,
            softcap=softcap,
            class_weight=class_weight,
            normalizer=normalizer,
            distributed=distributed,
            group=group,
            reduction=reduction,
        )

    def forward(
        self,
        hidden: torch.Tensor,
        linear_weight: torch.Tensor,
        target: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.linear_cross_entropy(hidden, linear_weight, target, **self._arguments(kwargs))


class LinearDistillationLoss(Loss):
    """Distillation from the last hidden states and output matrices of a student and a teacher,
    computed block by block so neither [tokens, vocabulary] logits tensor is ever held in memory.

    Module form of :func:`losskit.functional.linear_distillation`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(student_hidden, student_linear_weight,
    teacher_hidden, teacher_linear_weight, target)`` computes the loss, and a keyword given to
    the call (``weight=``, ...) goes to the function for that call.

    Args:
        temperature: see :func:`losskit.functional.linear_distillation`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``1.0``.
        alpha: see :func:`losskit.functional.linear_distillation`. Default: ``1.0``.
        divergence: see :func:`losskit.functional.linear_distillation`. Default:
            ``"forward_kl"``.
        beta: see :func:`losskit.functional.linear_distillation`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``0.5``.
        ignore_index: see :func:`losskit.functional.linear_distillation`. Default: ``-100``.
        normalizer: see :func:`losskit.functional.linear_distillation`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        student_hidden: ``[*, Ds]``; student_linear_weight: ``[V, Ds]``; teacher_hidden:
        ``[*, Dt]``; teacher_linear_weight: ``[V, Dt]``; target: ``[*]``; weight:
        broadcastable to ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("linear_distillation")
    temperature: float | torch.Tensor
    alpha: float
    divergence: Divergence
    beta: float | torch.Tensor
    ignore_index: int
    normalizer: float | torch.Tensor | None
    reduction: Reduction

    def __init__(
        self,
        *,
        temperature: float | torch.Tensor = 1.0,
        alpha: float = 1.0,
        divergence: Divergence = "forward_kl",
        beta: float | torch.Tensor = 0.5,
        ignore_index: int = -100,
        normalizer: float | torch.Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            temperature=temperature,
            alpha=alpha,
            divergence=divergence,
            beta=beta,
            ignore_index=ignore_index,
            normalizer=normalizer,
            reduction=reduction,
        )

    def forward(
        self,
        student_hidden: torch.Tensor,
        student_linear_weight: torch.Tensor,
        teacher_hidden: torch.Tensor,
        teacher_linear_weight: torch.Tensor,
        target: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.linear_distillation(
            student_hidden,
            student_linear_weight,
            teacher_hidden,
            teacher_linear_weight,
            target,
            **self._arguments(kwargs),
        )


class ListMLELoss(Loss):
    """ListMLE: the Plackett-Luce negative log-likelihood of the items' order by relevance under the
    scores, averaged over lists.

    Module form of :func:`losskit.functional.listmle`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(scores, relevance)`` computes the loss, and a keyword given to
    the call (``weight=``, ...) goes to the function for that call.

    Args:
        mask: see :func:`losskit.functional.listmle`. Default: ``None``.
        group: see :func:`losskit.functional.listmle`. Default: ``None``.
        max_list_size: see :func:`losskit.functional.listmle`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        scores: ``[Q, L]`` (or ``[N]`` with ``group``); relevance: same shape; mask: bool,
        same shape. ``"none"`` gives ``[Q]`` (``[N]`` with ``group``).
    """

    info: ClassVar[LossInfo] = get_info("listmle")
    mask: torch.Tensor | None
    group: torch.Tensor | None
    max_list_size: int | None
    reduction: Reduction

    def __init__(
        self,
        *,
        mask: torch.Tensor | None = None,
        group: torch.Tensor | None = None,
        max_list_size: int | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(mask=mask, group=group, max_list_size=max_list_size, reduction=reduction)

    def forward(self, scores: torch.Tensor, relevance: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.listmle(scores, relevance, **self._arguments(kwargs))


class ListNetLoss(Loss):
    """ListNet: cross-entropy between the top-one distributions softmax(relevance) and
    softmax(scores) over each list's items, averaged over lists.

    Module form of :func:`losskit.functional.listnet`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(scores, relevance)`` computes the loss, and a keyword given to
    the call (``weight=``, ...) goes to the function for that call.

    Args:
        mask: see :func:`losskit.functional.listnet`. Default: ``None``.
        group: see :func:`losskit.functional.listnet`. Default: ``None``.
        max_list_size: see :func:`losskit.functional.listnet`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        scores: ``[Q, L]`` (or ``[N]`` with ``group``); relevance: same shape; mask: bool,
        same shape (True = real item). ``"none"`` gives one loss per list ``[Q]`` (``[N]``
        with ``group``). See the module docstring for the layouts.
    """

    info: ClassVar[LossInfo] = get_info("listnet")
    mask: torch.Tensor | None
    group: torch.Tensor | None
    max_list_size: int | None
    reduction: Reduction

    def __init__(
        self,
        *,
        mask: torch.Tensor | None = None,
        group: torch.Tensor | None = None,
        max_list_size: int | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(mask=mask, group=group, max_list_size=max_list_size, reduction=reduction)

    def forward(self, scores: torch.Tensor, relevance: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.listnet(scores, relevance, **self._arguments(kwargs))


class LogCoshLoss(Loss):
    """Log-cosh: about r^2/2 for small residuals and |r| - log 2 for large ones.

    Module form of :func:`losskit.functional.log_cosh`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("log_cosh")
    reduction: Reduction

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.log_cosh(input, target, **self._arguments(kwargs))


class LogitAdjustedCrossEntropyLoss(Loss):
    """Logit-adjusted cross-entropy (long-tail learning): cross-entropy on the logits plus tau times
    the log class prior, so the model learns larger margins for rare classes and its raw logits
    target the balanced error.

    Module form of :func:`losskit.functional.logit_adjusted_cross_entropy`. The hyperparameters
    are keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        class_prior: ``[C]`` positive class frequencies of the training set (a prior or
            counts: a constant factor cancels in the softmax). ``None`` is the uniform prior,
            which makes the loss plain cross-entropy. Default: ``None``.
        tau: the adjustment's strength >= 0 (a number or a 0-dim tensor, learnable).
            class_weight, ignore_index, label_smoothing, weight, reduction: as
            :func:`~losskit.functional.cross_entropy`, applied to the adjusted logits.
            Learnable: pass an ``nn.Parameter`` to train it. Default: ``1.0``.
        class_weight: see :func:`losskit.functional.logit_adjusted_cross_entropy`.
            Learnable: pass an ``nn.Parameter`` to train it. Default: ``None``.
        ignore_index: see :func:`losskit.functional.logit_adjusted_cross_entropy`. Default:
            ``-100``.
        label_smoothing: see :func:`losskit.functional.logit_adjusted_cross_entropy`.
            Default: ``0.0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("logit_adjusted_cross_entropy")
    class_prior: torch.Tensor | Sequence[float] | None
    tau: float | torch.Tensor
    class_weight: torch.Tensor | Sequence[float] | None
    ignore_index: int
    label_smoothing: float
    reduction: Reduction

    def __init__(
        self,
        *,
        class_prior: torch.Tensor | Sequence[float] | None = None,
        tau: float | torch.Tensor = 1.0,
        class_weight: torch.Tensor | Sequence[float] | None = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            class_prior=class_prior,
            tau=tau,
            class_weight=class_weight,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.logit_adjusted_cross_entropy(input, target, **self._arguments(kwargs))


class LovaszHingeLoss(Loss):
    """Lovász hinge: the convex surrogate of the binary Jaccard loss built from hinge errors on the
    logits.

    Module form of :func:`losskit.functional.lovasz_hinge`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to
    the call (``weight=``, ...) goes to the function for that call.

    Args:
        ignore_index: integer targets equal to it count for nothing. Default: ``None``.
        batch: one loss over all pixels of the batch instead of one per image. Default:
            ``False``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        ``"none"`` returns ``[N]``, or a 0-dim tensor with ``batch=True``.
    """

    info: ClassVar[LossInfo] = get_info("lovasz_hinge")
    ignore_index: int | None
    batch: bool
    reduction: Reduction

    def __init__(
        self,
        *,
        ignore_index: int | None = None,
        batch: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(ignore_index=ignore_index, batch=batch, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.lovasz_hinge(input, target, **self._arguments(kwargs))


class LovaszSoftmaxLoss(Loss):
    """Lovász-Softmax loss: a tight surrogate of the per-class Jaccard loss (1 - IoU), convex in the
    errors |1[t = c] - p_c| (not in the logits).

    Module form of :func:`losskit.functional.lovasz_softmax`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        activation: see :func:`losskit.functional.lovasz_softmax`. Default: ``"softmax"``.
        include_background: see :func:`losskit.functional.lovasz_softmax`. Default:
            ``True``.
        ignore_index: see :func:`losskit.functional.lovasz_softmax`. Default: ``None``.
        class_weight: see :func:`losskit.functional.lovasz_softmax`. Default: ``None``.
        batch: see :func:`losskit.functional.lovasz_softmax`. Default: ``False``.
        skip_empty: see :func:`losskit.functional.lovasz_softmax`. Default: ``False``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        ``"none"`` returns ``[N, K]`` per (image, class), or ``[K]`` with ``batch=True``.
    """

    info: ClassVar[LossInfo] = get_info("lovasz_softmax")
    activation: Activation
    include_background: bool
    ignore_index: int | None
    class_weight: torch.Tensor | None
    batch: bool
    skip_empty: bool
    reduction: Reduction

    def __init__(
        self,
        *,
        activation: Activation = "softmax",
        include_background: bool = True,
        ignore_index: int | None = None,
        class_weight: torch.Tensor | None = None,
        batch: bool = False,
        skip_empty: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            activation=activation,
            include_background=include_background,
            ignore_index=ignore_index,
            class_weight=class_weight,
            batch=batch,
            skip_empty=skip_empty,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.lovasz_softmax(input, target, **self._arguments(kwargs))


class MAELoss(Loss):
    """Mean absolute error: the average of absolute residuals.

    Module form of :func:`losskit.functional.mae`. The hyperparameters are keyword-only and kept
    as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the call
    (``weight=``, ...) goes to the function for that call.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("mae")
    reduction: Reduction

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.mae(input, target, **self._arguments(kwargs))


class MAPELoss(Loss):
    """Mean absolute percentage error, as scikit-learn: |y - x| / max(|y|, eps), a fraction (0.1 =
    10%), eps = float64's machine epsilon.

    Module form of :func:`losskit.functional.mape`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]`` forecasts; target: ``[*]`` actual values.
    """

    info: ClassVar[LossInfo] = get_info("mape")
    reduction: Reduction

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.mape(input, target, **self._arguments(kwargs))


class MarginRankingLoss(Loss):
    """Margin ranking loss: a hinge on the score difference of two items whose order is given.

    Module form of :func:`losskit.functional.margin_ranking`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input1, input2, target)`` computes the loss, and
    a keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        margin: see :func:`losskit.functional.margin_ranking`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``0.0``.
        group: see :func:`losskit.functional.margin_ranking`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input1: ``[*]`` scores; input2: ``[*]`` same shape; target: ``[*]`` (or
        broadcastable) holding +1 / -1; ``"none"`` gives ``[*]``. With ``group``:
        input1, input2, target, group ``[N]``; ``"none"`` gives the ``[N, N]`` pair losses,
        0 for pairs of different queries; ``weight`` broadcasts against it.
    """

    info: ClassVar[LossInfo] = get_info("margin_ranking")
    margin: float | torch.Tensor
    group: torch.Tensor | None
    reduction: Reduction

    def __init__(
        self,
        *,
        margin: float | torch.Tensor = 0.0,
        group: torch.Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(margin=margin, group=group, reduction=reduction)

    def forward(
        self,
        input1: torch.Tensor,
        input2: torch.Tensor,
        target: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.margin_ranking(input1, input2, target, **self._arguments(kwargs))


class MASELoss(Loss):
    """Mean absolute scaled error: the forecast's absolute errors divided by the mean absolute error
    of the naive (previous value) forecast.

    Module form of :func:`losskit.functional.mase`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        scale: see :func:`losskit.functional.mase`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*, T]`` forecasts (T time steps last); target: same shape.
    """

    info: ClassVar[LossInfo] = get_info("mase")
    scale: float | torch.Tensor | None
    reduction: Reduction

    def __init__(
        self,
        *,
        scale: float | torch.Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(scale=scale, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.mase(input, target, **self._arguments(kwargs))


class MsSsimLoss(Loss):
    """One minus multi-scale SSIM: contrast-structure compared at five resolutions (halved each
    time) and luminance at the coarsest, combined as a weighted geometric mean.

    Module form of :func:`losskit.functional.ms_ssim`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        data_range: see :func:`losskit.functional.ms_ssim`. Default: ``1.0``.
        window_size: see :func:`losskit.functional.ms_ssim`. Default: ``11``.
        sigma: see :func:`losskit.functional.ms_ssim`. Default: ``1.5``.
        k1: see :func:`losskit.functional.ms_ssim`. Default: ``0.01``.
        k2: see :func:`losskit.functional.ms_ssim`. Default: ``0.03``.
        weights: see :func:`losskit.functional.ms_ssim`. Default: ``(0.0448, 0.2856, 0.3001,
            0.2363, 0.1333)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, H, W]`` or ``[N, C, D, H, W]``, every spatial side at least
        ``(window_size - 1) * 2^(M-1) + 1``; target: same; weight: ``[N]``; output: scalar,
        or ``[N]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("ms_ssim")
    data_range: float
    window_size: int
    sigma: float
    k1: float
    k2: float
    weights: tuple[float, ...]
    reduction: Reduction

    def __init__(
        self,
        *,
        data_range: float = 1.0,
        window_size: int = 11,
        sigma: float = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        weights: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333),
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            data_range=data_range,
            window_size=window_size,
            sigma=sigma,
            k1=k1,
            k2=k2,
            weights=weights,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.ms_ssim(input, target, **self._arguments(kwargs))


class MSELoss(Loss):
    """Mean squared error: the average of squared residuals.

    Module form of :func:`losskit.functional.mse`. The hyperparameters are keyword-only and kept
    as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the call
    (``weight=``, ...) goes to the function for that call.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]`` predictions; target: ``[*]`` same shape; output: scalar, or ``[*]``
        with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("mse")
    reduction: Reduction

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.mse(input, target, **self._arguments(kwargs))


class MSLELoss(Loss):
    """Mean squared logarithmic error: MSE between log(1 + x) and log(1 + y).

    Module form of :func:`losskit.functional.msle`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]``; target: ``[*]`` non-negative; output: scalar, or ``[*]``.
    """

    info: ClassVar[LossInfo] = get_info("msle")
    reduction: Reduction

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.msle(input, target, **self._arguments(kwargs))


class MultiSimilarityLoss(Loss):
    """Multi-Similarity loss: soft log-sum-exp penalties on each anchor's positive and negative
    similarities around a shared threshold (no mining by default).

    Module form of :func:`losskit.functional.multi_similarity`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(embeddings, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        alpha: see :func:`losskit.functional.multi_similarity`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``2.0``.
        beta: see :func:`losskit.functional.multi_similarity`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``50.0``.
        base: see :func:`losskit.functional.multi_similarity`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``0.5``.
        distributed: see :func:`losskit.functional.multi_similarity`. Default: ``False``.
        group: see :func:`losskit.functional.multi_similarity`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        embeddings: ``[N, d]``; target: ``[N]`` integer labels; output: scalar, or ``[N]``.
    """

    info: ClassVar[LossInfo] = get_info("multi_similarity")
    alpha: float | torch.Tensor
    beta: float | torch.Tensor
    base: float | torch.Tensor
    distributed: bool
    group: Any
    reduction: Reduction

    def __init__(
        self,
        *,
        alpha: float | torch.Tensor = 2.0,
        beta: float | torch.Tensor = 50.0,
        base: float | torch.Tensor = 0.5,
        distributed: bool = False,
        group: Any = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            alpha=alpha,
            beta=beta,
            base=base,
            distributed=distributed,
            group=group,
            reduction=reduction,
        )

    def forward(
        self,
        embeddings: torch.Tensor,
        target: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.multi_similarity(embeddings, target, **self._arguments(kwargs))


class MulticlassHingeLoss(Loss):
    """Multi-class hinge (SVM) loss: every wrong class must score at least a margin below the target
    class.

    Module form of :func:`losskit.functional.multiclass_hinge`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        margin: required score gap >= 0. Learnable: pass an ``nn.Parameter`` to train it.
            Default: ``1.0``.
        squared: square each violation (torch's ``p=2``). Default: ``False``.
        form: ``"weston_watkins"`` (sum over wrong classes divided by C, torch's form) or
            ``"crammer_singer"`` (only the highest-scoring wrong class, no division). Default:
            ``"weston_watkins"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, *]`` scores; target: ``[N, *]`` integer indices; output: scalar, or
        ``[N, *]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("multiclass_hinge")
    margin: float | torch.Tensor
    squared: bool
    form: Literal["weston_watkins", "crammer_singer"]
    reduction: Reduction

    def __init__(
        self,
        *,
        margin: float | torch.Tensor = 1.0,
        squared: bool = False,
        form: Literal["weston_watkins", "crammer_singer"] = "weston_watkins",
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(margin=margin, squared=squared, form=form, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.multiclass_hinge(input, target, **self._arguments(kwargs))


class NegativeBinomialNLLLoss(Loss):
    """Negative binomial (NB2) negative log-likelihood of counts: mean mu, variance mu + dispersion
    mu^2, for counts more spread out than Poisson allows.

    Module form of :func:`losskit.functional.negative_binomial_nll`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        dispersion: see :func:`losskit.functional.negative_binomial_nll`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``1.0``.
        log_input: see :func:`losskit.functional.negative_binomial_nll`. Default: ``True``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]`` log-means (means with ``log_input=False``); target: ``[*]`` counts.
    """

    info: ClassVar[LossInfo] = get_info("negative_binomial_nll")
    dispersion: float | torch.Tensor
    log_input: bool
    reduction: Reduction

    def __init__(
        self,
        *,
        dispersion: float | torch.Tensor = 1.0,
        log_input: bool = True,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(dispersion=dispersion, log_input=log_input, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.negative_binomial_nll(input, target, **self._arguments(kwargs))


class NegativeCosineLoss(Loss):
    """SimSiam / BYOL objective: negative cosine similarity between a predictor's output and the
    other view's embedding, with a stop-gradient on the target.

    Module form of :func:`losskit.functional.negative_cosine`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(prediction, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        stop_gradient: see :func:`losskit.functional.negative_cosine`. Default: ``True``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        prediction, target: ``[N, d]``; output: scalar, or ``[N]`` with
        ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("negative_cosine")
    stop_gradient: bool
    reduction: Reduction

    def __init__(self, *, stop_gradient: bool = True, reduction: Reduction = "mean") -> None:
        super().__init__(stop_gradient=stop_gradient, reduction=reduction)

    def forward(
        self,
        prediction: torch.Tensor,
        target: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.negative_cosine(prediction, target, **self._arguments(kwargs))


class NLLLoss(Loss):
    """Negative log-likelihood of the target class, given log-probabilities.

    Module form of :func:`losskit.functional.nll`. The hyperparameters are keyword-only and kept
    as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the call
    (``weight=``, ...) goes to the function for that call.

    Args:
        class_weight: see :func:`losskit.functional.nll`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``None``.
        ignore_index: see :func:`losskit.functional.nll`. Default: ``-100``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, *]`` log-probabilities; target: ``[N, *]`` integer indices; output:
        scalar, or ``[N, *]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("nll")
    class_weight: torch.Tensor | Sequence[float] | None
    ignore_index: int
    reduction: Reduction

    def __init__(
        self,
        *,
        class_weight: torch.Tensor | Sequence[float] | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(class_weight=class_weight, ignore_index=ignore_index, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.nll(input, target, **self._arguments(kwargs))


class NTXentLoss(Loss):
    """NT-Xent (SimCLR): each view must pick its partner out of the 2N - 1 other views of the batch
    (one positive, 2N - 2 negatives), a softmax over cosine similarities; with labels, every
    same-label view is a positive.

    Module form of :func:`losskit.functional.nt_xent`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(z_a, z_b)`` computes the loss, and a keyword given to the call
    (``weight=``, ...) goes to the function for that call.

    Args:
        temperature: see :func:`losskit.functional.nt_xent`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``0.5``.
        labels: see :func:`losskit.functional.nt_xent`. Default: ``None``.
        ref_emb: see :func:`losskit.functional.nt_xent`. Default: ``None``.
        ref_labels: see :func:`losskit.functional.nt_xent`. Default: ``None``.
        distance: see :func:`losskit.functional.nt_xent`. Default: ``"cosine"``.
        average: see :func:`losskit.functional.nt_xent`. Default: ``"pair"``.
        normalize: see :func:`losskit.functional.nt_xent`. Default: ``True``.
        distributed: see :func:`losskit.functional.nt_xent`. Default: ``False``.
        group: see :func:`losskit.functional.nt_xent`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        z_a, z_b: ``[N, d]``; labels: ``[N]``; ref_emb: ``[R, d]``; ref_labels: ``[R]``;
        output: scalar, or ``[N]`` per sample.
    """

    info: ClassVar[LossInfo] = get_info("nt_xent")
    temperature: float | torch.Tensor
    labels: torch.Tensor | None
    ref_emb: torch.Tensor | None
    ref_labels: torch.Tensor | None
    distance: str
    average: str
    normalize: bool
    distributed: bool
    group: Any
    reduction: Reduction

    def __init__(
        self,
        *,
        temperature: float | torch.Tensor = 0.5,
        labels: torch.Tensor | None = None,
        ref_emb: torch.Tensor | None = None,
        ref_labels: torch.Tensor | None = None,
        distance: str = "cosine",
        average: str = "pair",
        normalize: bool = True,
        distributed: bool = False,
        group: Any = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            temperature=temperature,
            labels=labels,
            ref_emb=ref_emb,
            ref_labels=ref_labels,
            distance=distance,
            average=average,
            normalize=normalize,
            distributed=distributed,
            group=group,
            reduction=reduction,
        )

    def forward(
        self,
        z_a: torch.Tensor,
        z_b: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.nt_xent(z_a, z_b, **self._arguments(kwargs))


class ORPOLoss(Loss):
    """ORPO's odds-ratio term: a logistic loss on the log odds ratio between the chosen and the
    rejected completion, added to the usual SFT loss on the chosen one.

    Module form of :func:`losskit.functional.orpo`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(chosen_logps, rejected_logps)`` computes the loss, and a keyword
    given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        beta: see :func:`losskit.functional.orpo`. Learnable: pass an ``nn.Parameter`` to
            train it. Default: ``0.1``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        chosen_logps, rejected_logps: ``[B]`` mean log-probability per token, ``<= 0``;
        weight: broadcastable to ``[B]``; output: scalar, or ``[B]`` with
        ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("orpo")
    beta: float | torch.Tensor
    reduction: Reduction

    def __init__(self, *, beta: float | torch.Tensor = 0.1, reduction: Reduction = "mean") -> None:
        super().__init__(beta=beta, reduction=reduction)

    def forward(
        self,
        chosen_logps: torch.Tensor,
        rejected_logps: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.orpo(chosen_logps, rejected_logps, **self._arguments(kwargs))


class PairwiseLogisticLoss(Loss):
    """Pairwise logistic loss: a smooth surrogate of 1 - AUC that scores every (positive, negative)
    pair of the batch.

    Module form of :func:`losskit.functional.pairwise_logistic`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        group: see :func:`losskit.functional.pairwise_logistic`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N]`` scores; target: ``[N]`` labels 0 / 1 (integer, bool or float);
        group: ``[N]`` integer ids. ``"none"`` returns the ``[N, N]`` pair losses, row i a
        positive and column j a negative (of the same group), 0 elsewhere; ``weight``
        broadcasts against it.
    """

    info: ClassVar[LossInfo] = get_info("pairwise_logistic")
    group: torch.Tensor | None
    reduction: Reduction

    def __init__(self, *, group: torch.Tensor | None = None, reduction: Reduction = "mean") -> None:
        super().__init__(group=group, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.pairwise_logistic(input, target, **self._arguments(kwargs))


class PerplexityLoss(Loss):
    """Perplexity: exp of the mean token cross-entropy, the effective number of equally likely next
    tokens a language model hesitates between (a metric).

    Module form of :func:`losskit.functional.perplexity`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to
    the call (``weight=``, ...) goes to the function for that call.

    Args:
        mask: ``[*]`` (bool or 0/1), True / 1 for tokens that count; padding is False.
            Default: ``None``.
        ignore_index: token ids equal to it do not count (combined with ``mask``). Default:
            ``-100``.
        reduction: ``"mean"`` gives the corpus perplexity over every counted token;
            ``"none"`` one perplexity per sample (per sequence for ``[B, T, V]``); ``"sum"`` the
            sum of those. Default: ``"mean"``.

    Shape:
        input: ``[*, V]`` logits, vocabulary last (``[N, V]`` or ``[B, T, V]``); target:
        ``[*]`` integer ids; output: scalar, or ``[N]`` / ``[B]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("perplexity")
    mask: torch.Tensor | None
    ignore_index: int
    reduction: Reduction

    def __init__(
        self,
        *,
        mask: torch.Tensor | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(mask=mask, ignore_index=ignore_index, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.perplexity(input, target, **self._arguments(kwargs))


class PoissonNLLLoss(Loss):
    """Poisson negative log-likelihood for count targets.

    Module form of :func:`losskit.functional.poisson_nll`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to
    the call (``weight=``, ...) goes to the function for that call.

    Args:
        log_input: see :func:`losskit.functional.poisson_nll`. Default: ``True``.
        full: see :func:`losskit.functional.poisson_nll`. Default: ``False``.
        eps: see :func:`losskit.functional.poisson_nll`. Default: ``1e-08``.
        exposure: see :func:`losskit.functional.poisson_nll`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]`` log-rates (or rates with ``log_input=False``); target: ``[*]`` counts;
        exposure: broadcastable to ``[*]``, positive.
    """

    info: ClassVar[LossInfo] = get_info("poisson_nll")
    log_input: bool
    full: bool
    eps: float
    exposure: torch.Tensor | None
    reduction: Reduction

    def __init__(
        self,
        *,
        log_input: bool = True,
        full: bool = False,
        eps: float = 1e-08,
        exposure: torch.Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            log_input=log_input,
            full=full,
            eps=eps,
            exposure=exposure,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.poisson_nll(input, target, **self._arguments(kwargs))


class PolicyGradientLoss(Loss):
    """REINFORCE policy-gradient surrogate: minus the advantage times the log-probability of the
    action taken.

    Module form of :func:`losskit.functional.policy_gradient`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(log_probs, returns)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        baseline: see :func:`losskit.functional.policy_gradient`. Default: ``None``.
        normalize_returns: see :func:`losskit.functional.policy_gradient`. Default:
            ``False``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        log_probs: ``[*]`` log pi(a_t | s_t) of the actions taken (e.g. ``[N]`` or ``[N, T]``);
        returns: ``[*]`` same shape; baseline: broadcastable to ``[*]``; output: scalar,
        or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("policy_gradient")
    baseline: torch.Tensor | float | None
    normalize_returns: bool
    reduction: Reduction

    def __init__(
        self,
        *,
        baseline: torch.Tensor | float | None = None,
        normalize_returns: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            baseline=baseline,
            normalize_returns=normalize_returns,
            reduction=reduction,
        )

    def forward(
        self,
        log_probs: torch.Tensor,
        returns: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.policy_gradient(log_probs, returns, **self._arguments(kwargs))


class Poly1CrossEntropyLoss(Loss):
    """Poly-1 loss: cross-entropy plus epsilon times (1 - p_t), a one-knob adjustment of the leading
    polynomial term of cross-entropy's Taylor expansion.

    Module form of :func:`losskit.functional.poly1_cross_entropy`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        epsilon: see :func:`losskit.functional.poly1_cross_entropy`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``1.0``.
        ignore_index: see :func:`losskit.functional.poly1_cross_entropy`. Default: ``-100``.
        label_smoothing: see :func:`losskit.functional.poly1_cross_entropy`. Default:
            ``0.0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("poly1_cross_entropy")
    epsilon: float | torch.Tensor
    ignore_index: int
    label_smoothing: float
    reduction: Reduction

    def __init__(
        self,
        *,
        epsilon: float | torch.Tensor = 1.0,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            epsilon=epsilon,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.poly1_cross_entropy(input, target, **self._arguments(kwargs))


class PPOClipLoss(Loss):
    """PPO's clipped surrogate objective, per token, with an optional separate upper clip (DAPO's
    clip-higher) and a choice of how tokens are averaged.

    Module form of :func:`losskit.functional.ppo_clip`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(logps, old_logps, advantages)`` computes the loss, and a keyword
    given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        clip: see :func:`losskit.functional.ppo_clip`. Default: ``0.2``.
        clip_high: see :func:`losskit.functional.ppo_clip`. Default: ``None``.
        mask: see :func:`losskit.functional.ppo_clip`. Default: ``None``.
        aggregation: see :func:`losskit.functional.ppo_clip`. Default: ``"token"``.
        normalizer: see :func:`losskit.functional.ppo_clip`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        logps, old_logps: ``[B, T]``; advantages: ``[B, T]`` per token or ``[B]`` per
        sequence; mask: bool, broadcastable to ``[B, T]``; weight: broadcastable to
        ``[B, T]`` (a per-sequence weight is ``[B, 1]``); output: scalar, or with
        ``reduction="none"`` ``[B, T]`` (masked tokens 0), or ``[B]`` per-sequence means
        for ``aggregation="sequence"``.
    """

    info: ClassVar[LossInfo] = get_info("ppo_clip")
    clip: float
    clip_high: float | None
    mask: torch.Tensor | None
    aggregation: Aggregation
    normalizer: float | torch.Tensor | None
    reduction: Reduction

    def __init__(
        self,
        *,
        clip: float = 0.2,
        clip_high: float | None = None,
        mask: torch.Tensor | None = None,
        aggregation: Aggregation = "token",
        normalizer: float | torch.Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            clip=clip,
            clip_high=clip_high,
            mask=mask,
            aggregation=aggregation,
            normalizer=normalizer,
            reduction=reduction,
        )

    def forward(
        self,
        logps: torch.Tensor,
        old_logps: torch.Tensor,
        advantages: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.ppo_clip(logps, old_logps, advantages, **self._arguments(kwargs))


class PPOValueLoss(Loss):
    """PPO's clipped value loss: the critic's squared error, pessimistically maxed with the error of
    a value update clipped to within clip of the old value.

    Module form of :func:`losskit.functional.ppo_value`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(values, old_values, returns)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        clip: see :func:`losskit.functional.ppo_value`. Default: ``0.2``.
        mask: see :func:`losskit.functional.ppo_value`. Default: ``None``.
        normalizer: see :func:`losskit.functional.ppo_value`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        values, old_values, returns: ``[*]`` (e.g. ``[B, T]`` per token or ``[B]``); mask:
        bool, broadcastable to ``[*]``; weight: broadcastable to ``[*]``; output: scalar,
        or ``[*]`` with ``reduction="none"`` (masked elements 0).
    """

    info: ClassVar[LossInfo] = get_info("ppo_value")
    clip: float
    mask: torch.Tensor | None
    normalizer: float | torch.Tensor | None
    reduction: Reduction

    def __init__(
        self,
        *,
        clip: float = 0.2,
        mask: torch.Tensor | None = None,
        normalizer: float | torch.Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(clip=clip, mask=mask, normalizer=normalizer, reduction=reduction)

    def forward(
        self,
        values: torch.Tensor,
        old_values: torch.Tensor,
        returns: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.ppo_value(values, old_values, returns, **self._arguments(kwargs))


class ProxyAnchorLoss(Loss):
    """Proxy-Anchor loss: each class proxy is an anchor that pulls every batch embedding of its
    class and pushes every other, with log-sum-exp weighting.

    Module form of :func:`losskit.functional.proxy_anchor`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(embeddings, proxies, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        margin: see :func:`losskit.functional.proxy_anchor`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``0.1``.
        alpha: see :func:`losskit.functional.proxy_anchor`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``32.0``.

    Shape:
        embeddings: ``[N, d]``; proxies: ``[C, d]``; target: ``[N]`` class indices;
        output: scalar.
    """

    info: ClassVar[LossInfo] = get_info("proxy_anchor")
    margin: float | torch.Tensor
    alpha: float | torch.Tensor

    def __init__(
        self,
        *,
        margin: float | torch.Tensor = 0.1,
        alpha: float | torch.Tensor = 32.0,
    ) -> None:
        super().__init__(margin=margin, alpha=alpha)

    def forward(
        self,
        embeddings: torch.Tensor,
        proxies: torch.Tensor,
        target: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.proxy_anchor(embeddings, proxies, target, **self._arguments(kwargs))


class QuantileLoss(Loss):
    """Pinball (quantile) loss: an asymmetric L1 whose minimizer is the q-th quantile.

    Module form of :func:`losskit.functional.quantile`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        quantiles: see :func:`losskit.functional.quantile`. Default: ``0.5``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        With a single level ``q``: input ``[*]`` and target ``[*]``; ``"none"`` gives ``[*]``.
        With ``Q`` levels: input ``[*, Q]`` (one prediction per level) and target ``[*]``;
        ``"none"`` gives ``[*, Q]`` and ``"mean"`` averages over samples and levels.
    """

    info: ClassVar[LossInfo] = get_info("quantile")
    quantiles: float | Sequence[float]
    reduction: Reduction

    def __init__(
        self,
        *,
        quantiles: float | Sequence[float] = 0.5,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(quantiles=quantiles, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.quantile(input, target, **self._arguments(kwargs))


class R1PenaltyLoss(Loss):
    """R1 regularization: the squared norm of the discriminator's gradient with respect to real
    inputs, which keeps the discriminator flat on the data.

    Module form of :func:`losskit.functional.r1_penalty`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(real_logits, real_inputs)`` computes the loss, and a keyword
    given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        real_logits: ``[N]`` or ``[N, *]`` (a patch discriminator's map is summed per
        sample); real_inputs: ``[N, *]``; weight: ``[N]``; output: scalar, or ``[N]`` with
        ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("r1_penalty")
    reduction: Reduction

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)

    def forward(
        self,
        real_logits: torch.Tensor,
        real_inputs: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.r1_penalty(real_logits, real_inputs, **self._arguments(kwargs))


class SequenceCrossEntropyLoss(Loss):
    """Cross-entropy over every token of a padded batch of sequences, with a padding mask and
    per-token or per-sequence averaging.

    Module form of :func:`losskit.functional.sequence_cross_entropy`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        mask: see :func:`losskit.functional.sequence_cross_entropy`. Default: ``None``.
        ignore_index: see :func:`losskit.functional.sequence_cross_entropy`. Default:
            ``-100``.
        average: see :func:`losskit.functional.sequence_cross_entropy`. Default:
            ``"token"``.
        label_smoothing: see :func:`losskit.functional.sequence_cross_entropy`. Default:
            ``0.0``.
        z_loss: see :func:`losskit.functional.sequence_cross_entropy`. Default: ``0.0``.
        softcap: see :func:`losskit.functional.sequence_cross_entropy`. Default: ``None``.
        normalizer: see :func:`losskit.functional.sequence_cross_entropy`. Default:
            ``None``.
        distributed: see :func:`losskit.functional.sequence_cross_entropy`. Default:
            ``False``.
        group: see :func:`losskit.functional.sequence_cross_entropy`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[B, T, V]`` logits; target: ``[B, T]`` token ids; mask: ``[B, T]`` bool or
        0/1; output: scalar, ``[B, T]`` or ``[B]``.
    """

    info: ClassVar[LossInfo] = get_info("sequence_cross_entropy")
    mask: torch.Tensor | None
    ignore_index: int
    average: Literal["token", "sequence"]
    label_smoothing: float
    z_loss: float
    softcap: float | None
    normalizer: float | torch.Tensor | None
    distributed: bool
    group: Any
    reduction: Reduction

    def __init__(
        self,
        *,
        mask: torch.Tensor | None = None,
        ignore_index: int = -100,
        average: Literal["token", "sequence"] = "token",
        label_smoothing: float = 0.0,
        z_loss: float = 0.0,
        softcap: float | None = None,
        normalizer: float | torch.Tensor | None = None,
        distributed: bool = False,
        group: Any = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            mask=mask,
            ignore_index=ignore_index,
            average=average,
            label_smoothing=label_smoothing,
            z_loss=z_loss,
            softcap=softcap,
            normalizer=normalizer,
            distributed=distributed,
            group=group,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.sequence_cross_entropy(input, target, **self._arguments(kwargs))


class SiglipLoss(Loss):
    """SigLIP: every image-text pair of the batch is an independent binary classification (match or
    not) with a sigmoid, no softmax over the batch.

    Module form of :func:`losskit.functional.siglip`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(image_embeddings, text_embeddings)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        logit_scale: see :func:`losskit.functional.siglip`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``10.0``.
        logit_bias: see :func:`losskit.functional.siglip`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``-10.0``.
        distributed: see :func:`losskit.functional.siglip`. Default: ``False``.
        group: see :func:`losskit.functional.siglip`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        image_embeddings, text_embeddings: ``[N, d]``; output: scalar, or ``[N]`` (each
        image's sum over all texts) with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("siglip")
    logit_scale: float | torch.Tensor
    logit_bias: float | torch.Tensor
    distributed: bool
    group: Any
    reduction: Reduction

    def __init__(
        self,
        *,
        logit_scale: float | torch.Tensor = 10.0,
        logit_bias: float | torch.Tensor = -10.0,
        distributed: bool = False,
        group: Any = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            logit_scale=logit_scale,
            logit_bias=logit_bias,
            distributed=distributed,
            group=group,
            reduction=reduction,
        )

    def forward(
        self,
        image_embeddings: torch.Tensor,
        text_embeddings: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.siglip(image_embeddings, text_embeddings, **self._arguments(kwargs))


class SigmoidFocalLoss(Loss):
    """Sigmoid focal loss (RetinaNet): binary cross-entropy scaled down on examples the model
    already gets right, so rare hard examples dominate training.

    Module form of :func:`losskit.functional.sigmoid_focal`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        gamma: focusing parameter >= 0; 0 gives (alpha-weighted) binary cross-entropy.
            Learnable: pass an ``nn.Parameter`` to train it. Default: ``2.0``.
        alpha: weight of the positive class in [0, 1] (negatives get 1 - alpha): a number, a
            tensor broadcast against the input (``[C]``: one per label), or ``None`` for no
            weighting. Learnable: pass an ``nn.Parameter`` to train it. Default: ``0.25``.
        ignore_index: targets equal to it do not count. Default: ``None``.
        pos_weight: multiplies the positive part of the loss, as in
            :func:`binary_cross_entropy` (a number or a tensor broadcast against the input, e.g.
            ``[L]``); ``None`` is 1. With ``gamma=0, alpha=None`` the loss is
            ``binary_cross_entropy(..., pos_weight=pos_weight)``. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]`` logits; target: ``[*]`` in [0, 1]; output: scalar, or ``[*]``.
    """

    info: ClassVar[LossInfo] = get_info("sigmoid_focal")
    gamma: float | torch.Tensor
    alpha: float | torch.Tensor | None
    ignore_index: int | None
    pos_weight: float | torch.Tensor | None
    reduction: Reduction

    def __init__(
        self,
        *,
        gamma: float | torch.Tensor = 2.0,
        alpha: float | torch.Tensor | None = 0.25,
        ignore_index: int | None = None,
        pos_weight: float | torch.Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            gamma=gamma,
            alpha=alpha,
            ignore_index=ignore_index,
            pos_weight=pos_weight,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.sigmoid_focal(input, target, **self._arguments(kwargs))


class SimPOLoss(Loss):
    """SimPO: reference-free preference loss on length-averaged log-probabilities with a target
    reward margin gamma.

    Module form of :func:`losskit.functional.simpo`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(chosen_logps, rejected_logps)`` computes the loss, and a keyword
    given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        beta: see :func:`losskit.functional.simpo`. Learnable: pass an ``nn.Parameter`` to
            train it. Default: ``2.0``.
        gamma: see :func:`losskit.functional.simpo`. Learnable: pass an ``nn.Parameter`` to
            train it. Default: ``0.5``.
        label_smoothing: see :func:`losskit.functional.simpo`. Default: ``0.0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        chosen_logps, rejected_logps: ``[B]`` mean log-probability per token of each
        completion; weight: broadcastable to ``[B]``; output: scalar, or ``[B]`` with
        ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("simpo")
    beta: float | torch.Tensor
    gamma: float | torch.Tensor
    label_smoothing: float
    reduction: Reduction

    def __init__(
        self,
        *,
        beta: float | torch.Tensor = 2.0,
        gamma: float | torch.Tensor = 0.5,
        label_smoothing: float = 0.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            beta=beta,
            gamma=gamma,
            label_smoothing=label_smoothing,
            reduction=reduction,
        )

    def forward(
        self,
        chosen_logps: torch.Tensor,
        rejected_logps: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.simpo(chosen_logps, rejected_logps, **self._arguments(kwargs))


class SMAPELoss(Loss):
    """Symmetric MAPE: 2 |x - y| / (|x| + |y|), in [0, 2]; 0 where forecast and actual are both 0.

    Module form of :func:`losskit.functional.smape`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]`` forecasts; target: ``[*]`` actual values.
    """

    info: ClassVar[LossInfo] = get_info("smape")
    reduction: Reduction

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.smape(input, target, **self._arguments(kwargs))


class SmoothL1Loss(Loss):
    """Smooth L1: L1 with the kink around zero replaced by a parabola of width beta.

    Module form of :func:`losskit.functional.smooth_l1`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to
    the call (``weight=``, ...) goes to the function for that call.

    Args:
        beta: see :func:`losskit.functional.smooth_l1`. Learnable: pass an ``nn.Parameter``
            to train it. Default: ``1.0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("smooth_l1")
    beta: float | torch.Tensor
    reduction: Reduction

    def __init__(self, *, beta: float | torch.Tensor = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(beta=beta, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.smooth_l1(input, target, **self._arguments(kwargs))


class SoftDtwLoss(Loss):
    """Soft dynamic time warping: a differentiable alignment cost between two time series that may
    be shifted, stretched or of different lengths.

    Module form of :func:`losskit.functional.soft_dtw`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        gamma: see :func:`losskit.functional.soft_dtw`. Default: ``1.0``.
        normalize: see :func:`losskit.functional.soft_dtw`. Default: ``False``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[B, T, D]`` or ``[B, T]``; target: ``[B, T', D]`` or ``[B, T']`` (``T'`` may
        differ from ``T``, D must match); output: scalar, or ``[B]`` with
        ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("soft_dtw")
    gamma: float
    normalize: bool
    reduction: Reduction

    def __init__(
        self,
        *,
        gamma: float = 1.0,
        normalize: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(gamma=gamma, normalize=normalize, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.soft_dtw(input, target, **self._arguments(kwargs))


class SoftF1Loss(Loss):
    """Soft F1 loss: 1 - F1 with true/false positives and negatives replaced by their expected
    counts under the sigmoid probabilities; macro-averaged over labels.

    Module form of :func:`losskit.functional.soft_f1`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        smooth: see :func:`losskit.functional.soft_f1`. Default: ``1e-05``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N]`` (binary) or ``[N, L]`` (multi-label) logits; target: same shape,
        values in [0, 1]. ``"none"`` gives one loss per label ``[L]`` (0-dim for ``[N]``
        input); ``weight`` broadcasts against it (per-label weights).
    """

    info: ClassVar[LossInfo] = get_info("soft_f1")
    smooth: float
    reduction: Reduction

    def __init__(self, *, smooth: float = 1e-05, reduction: Reduction = "mean") -> None:
        super().__init__(smooth=smooth, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.soft_f1(input, target, **self._arguments(kwargs))


class SoftmaxFocalLoss(Loss):
    """Softmax focal loss: cross-entropy scaled by (1 - p_y)^gamma so well-classified examples
    contribute little and the hard ones drive training.

    Module form of :func:`losskit.functional.softmax_focal`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        gamma: focusing parameter >= 0. Learnable: pass an ``nn.Parameter`` to train it.
            Default: ``2.0``.
        alpha: ``[C]`` per-class multipliers, or ``None`` for none. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``None``.
        ignore_index: index targets equal to it do not count. Default: ``-100``.
        per_class: with ``reduction="none"``, return the loss split by class, ``[N, C, *]``
            (kornia's ``focal_loss`` output): for index targets the position's loss sits at its
            target class and the other classes are 0; for probability targets class ``c`` holds
            ``alpha_c t_c (1 - p_c)^gamma (-log p_c)``. Summing over dim 1 gives the default
            ``[N, *]`` output; ``"mean"`` and ``"sum"`` are unchanged. Default: ``False``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"`` (``[N, C, *]``
        with ``per_class=True``).
    """

    info: ClassVar[LossInfo] = get_info("softmax_focal")
    gamma: float | torch.Tensor
    alpha: torch.Tensor | Sequence[float] | None
    ignore_index: int
    per_class: bool
    reduction: Reduction

    def __init__(
        self,
        *,
        gamma: float | torch.Tensor = 2.0,
        alpha: torch.Tensor | Sequence[float] | None = None,
        ignore_index: int = -100,
        per_class: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            gamma=gamma,
            alpha=alpha,
            ignore_index=ignore_index,
            per_class=per_class,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.softmax_focal(input, target, **self._arguments(kwargs))


class SsimLoss(Loss):
    """One minus the structural similarity index (SSIM) of two images: a comparison of local means,
    contrasts and correlations under an 11x11 Gaussian window.

    Module form of :func:`losskit.functional.ssim`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        data_range: R, the dynamic range of the pixel values (a Python number). Default:
            ``1.0``.
        window_size: taps of the Gaussian window (odd); scikit-image uses ``2 * int(3.5 *
            sigma + 0.5) + 1`` (11 for sigma = 1.5). Default: ``11``.
        sigma: standard deviation of the Gaussian window, in pixels. k1, k2: the stabilizing
            constants ``C1 = (k1 R)^2`` and ``C2 = (k2 R)^2``. Default: ``1.5``.
        k1: see :func:`losskit.functional.ssim`. Default: ``0.01``.
        k2: see :func:`losskit.functional.ssim`. Default: ``0.03``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, H, W]`` or ``[N, C, D, H, W]`` with every spatial side
        ``>= window_size``; target: same; weight: ``[N]``; output: scalar, or ``[N]`` with
        ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("ssim")
    data_range: float
    window_size: int
    sigma: float
    k1: float
    k2: float
    reduction: Reduction

    def __init__(
        self,
        *,
        data_range: float = 1.0,
        window_size: int = 11,
        sigma: float = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            data_range=data_range,
            window_size=window_size,
            sigma=sigma,
            k1=k1,
            k2=k2,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.ssim(input, target, **self._arguments(kwargs))


class SupConLoss(Loss):
    """Supervised contrastive loss (SupCon, L_out): every sample of the anchor's class is a
    positive, every other sample a negative.

    Module form of :func:`losskit.functional.supcon`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(embeddings, labels)`` computes the loss, and a keyword given to
    the call (``weight=``, ...) goes to the function for that call.

    Args:
        temperature: see :func:`losskit.functional.supcon`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``0.1``.
        ref_emb: see :func:`losskit.functional.supcon`. Default: ``None``.
        ref_labels: see :func:`losskit.functional.supcon`. Default: ``None``.
        distance: see :func:`losskit.functional.supcon`. Default: ``"cosine"``.
        normalize: see :func:`losskit.functional.supcon`. Default: ``True``.
        distributed: see :func:`losskit.functional.supcon`. Default: ``False``.
        group: see :func:`losskit.functional.supcon`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        embeddings: ``[N, d]``; labels: ``[N]`` integers; ref_emb: ``[R, d]``; ref_labels:
        ``[R]``; output: scalar, or ``[N]``.
    """

    info: ClassVar[LossInfo] = get_info("supcon")
    temperature: float | torch.Tensor
    ref_emb: torch.Tensor | None
    ref_labels: torch.Tensor | None
    distance: str
    normalize: bool
    distributed: bool
    group: Any
    reduction: Reduction

    def __init__(
        self,
        *,
        temperature: float | torch.Tensor = 0.1,
        ref_emb: torch.Tensor | None = None,
        ref_labels: torch.Tensor | None = None,
        distance: str = "cosine",
        normalize: bool = True,
        distributed: bool = False,
        group: Any = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            temperature=temperature,
            ref_emb=ref_emb,
            ref_labels=ref_labels,
            distance=distance,
            normalize=normalize,
            distributed=distributed,
            group=group,
            reduction=reduction,
        )

    def forward(
        self,
        embeddings: torch.Tensor,
        labels: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.supcon(embeddings, labels, **self._arguments(kwargs))


class SymmetricCrossEntropyLoss(Loss):
    """Symmetric cross-entropy: alpha times cross-entropy plus beta times the reverse cross-entropy
    (predictions as the reference distribution), which is robust to label noise.

    Module form of :func:`losskit.functional.symmetric_cross_entropy`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        alpha: weight of cross-entropy >= 0 (learnable). Learnable: pass an ``nn.Parameter``
            to train it. Default: ``0.1``.
        beta: weight of the reverse cross-entropy >= 0 (learnable). Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``1.0``.
        ignore_index: see :func:`losskit.functional.symmetric_cross_entropy`. Default:
            ``-100``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("symmetric_cross_entropy")
    alpha: float | torch.Tensor
    beta: float | torch.Tensor
    ignore_index: int
    reduction: Reduction

    def __init__(
        self,
        *,
        alpha: float | torch.Tensor = 0.1,
        beta: float | torch.Tensor = 1.0,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(alpha=alpha, beta=beta, ignore_index=ignore_index, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.symmetric_cross_entropy(input, target, **self._arguments(kwargs))


class TobitLoss(Loss):
    """Tobit (censored Gaussian) negative log-likelihood: a Gaussian density for values inside the
    limits, the probability mass beyond a limit for values piled up at it.

    Module form of :func:`losskit.functional.tobit`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        lower: see :func:`losskit.functional.tobit`. Default: ``None``.
        upper: see :func:`losskit.functional.tobit`. Default: ``None``.
        sigma: see :func:`losskit.functional.tobit`. Learnable: pass an ``nn.Parameter`` to
            train it. Default: ``1.0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]`` predicted latent means; target: ``[*]`` observed values; lower,
        upper: ``None``, a number, or a tensor broadcastable to ``[*]`` (per-row limits);
        sigma: a positive number or tensor broadcastable to ``[*]``. ``"none"`` gives ``[*]``.
    """

    info: ClassVar[LossInfo] = get_info("tobit")
    lower: float | torch.Tensor | None
    upper: float | torch.Tensor | None
    sigma: float | torch.Tensor
    reduction: Reduction

    def __init__(
        self,
        *,
        lower: float | torch.Tensor | None = None,
        upper: float | torch.Tensor | None = None,
        sigma: float | torch.Tensor = 1.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(lower=lower, upper=upper, sigma=sigma, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.tobit(input, target, **self._arguments(kwargs))


class TotalVariationLoss(Loss):
    """Anisotropic total variation: the L1 norm of differences between neighbouring pixels, summed
    per image; a smoothness prior that keeps edges.

    Module form of :func:`losskit.functional.total_variation`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input)`` computes the loss, and a keyword given
    to the call (``weight=``, ...) goes to the function for that call.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[N, C, *spatial]`` with 1 to 3 spatial axes; weight: ``[N]``; output:
        scalar, or ``[N]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("total_variation")
    reduction: Reduction

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)

    def forward(self, input: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.total_variation(input, **self._arguments(kwargs))


class TripletMarginLoss(Loss):
    """Triplet margin loss on explicit (anchor, positive, negative) triplets.

    Module form of :func:`losskit.functional.triplet_margin`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(anchor, positive, negative)`` computes the loss,
    and a keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        margin: see :func:`losskit.functional.triplet_margin`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``1.0``.
        p: see :func:`losskit.functional.triplet_margin`. Default: ``2.0``.
        eps: see :func:`losskit.functional.triplet_margin`. Default: ``1e-06``.
        swap: see :func:`losskit.functional.triplet_margin`. Default: ``False``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        anchor, positive, negative: ``[N, d]``; output: scalar, or ``[N]`` per triplet.
    """

    info: ClassVar[LossInfo] = get_info("triplet_margin")
    margin: float | torch.Tensor
    p: float
    eps: float
    swap: bool
    reduction: Reduction

    def __init__(
        self,
        *,
        margin: float | torch.Tensor = 1.0,
        p: float = 2.0,
        eps: float = 1e-06,
        swap: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(margin=margin, p=p, eps=eps, swap=swap, reduction=reduction)

    def forward(
        self,
        anchor: torch.Tensor,
        positive: torch.Tensor,
        negative: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.triplet_margin(anchor, positive, negative, **self._arguments(kwargs))


class TukeyBiweightLoss(Loss):
    """Tukey's biweight (bisquare): quadratic near zero, constant c^2 / 6 beyond |r| = c, so
    outliers have exactly zero influence.

    Module form of :func:`losskit.functional.tukey_biweight`. The hyperparameters are
    keyword-only and kept as attributes; ``loss(input, target)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        c: see :func:`losskit.functional.tukey_biweight`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``4.685``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]``; target: ``[*]``; c: a float or a tensor broadcastable to ``[*]``;
        output: scalar, or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("tukey_biweight")
    c: float | torch.Tensor
    reduction: Reduction

    def __init__(self, *, c: float | torch.Tensor = 4.685, reduction: Reduction = "mean") -> None:
        super().__init__(c=c, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.tukey_biweight(input, target, **self._arguments(kwargs))


class TverskyLoss(Loss):
    """Tversky loss: a Dice generalization that weighs false positives (alpha) and false negatives
    (beta) separately; gamma gives the focal Tversky loss.

    Module form of :func:`losskit.functional.tversky`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        alpha: see :func:`losskit.functional.tversky`. Learnable: pass an ``nn.Parameter``
            to train it. Default: ``0.3``.
        beta: see :func:`losskit.functional.tversky`. Learnable: pass an ``nn.Parameter`` to
            train it. Default: ``0.7``.
        gamma: see :func:`losskit.functional.tversky`. Learnable: pass an ``nn.Parameter``
            to train it. Default: ``1.0``.
        activation: see :func:`losskit.functional.tversky`. Default: ``"softmax"``.
        include_background: see :func:`losskit.functional.tversky`. Default: ``True``.
        ignore_index: see :func:`losskit.functional.tversky`. Default: ``None``.
        class_weight: see :func:`losskit.functional.tversky`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``None``.
        smooth: see :func:`losskit.functional.tversky`. Learnable: pass an ``nn.Parameter``
            to train it. Default: ``1e-05``.
        smooth_nr: see :func:`losskit.functional.tversky`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``None``.
        smooth_dr: see :func:`losskit.functional.tversky`. Learnable: pass an
            ``nn.Parameter`` to train it. Default: ``None``.
        soft_label: see :func:`losskit.functional.tversky`. Default: ``True``.
        log_loss: see :func:`losskit.functional.tversky`. Default: ``False``.
        other_act: see :func:`losskit.functional.tversky`. Default: ``None``.
        average: see :func:`losskit.functional.tversky`. Default: ``"macro"``.
        batch: see :func:`losskit.functional.tversky`. Default: ``False``.
        skip_empty: see :func:`losskit.functional.tversky`. Default: ``False``.
        distributed: see :func:`losskit.functional.tversky`. Default: ``False``.
        group: see :func:`losskit.functional.tversky`. Default: ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input, target: as :func:`losskit.functional.tversky` documents; output: a scalar, or
        shape 'sample_class' with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("tversky")
    alpha: float | torch.Tensor
    beta: float | torch.Tensor
    gamma: float | torch.Tensor
    activation: Activation
    include_background: bool
    ignore_index: int | None
    class_weight: torch.Tensor | None
    smooth: float | torch.Tensor
    smooth_nr: float | torch.Tensor | None
    smooth_dr: float | torch.Tensor | None
    soft_label: bool
    log_loss: bool
    other_act: Callable[[torch.Tensor], torch.Tensor] | None
    average: Average
    batch: bool
    skip_empty: bool
    distributed: bool
    group: Any
    reduction: Reduction

    def __init__(
        self,
        *,
        alpha: float | torch.Tensor = 0.3,
        beta: float | torch.Tensor = 0.7,
        gamma: float | torch.Tensor = 1.0,
        activation: Activation = "softmax",
        include_background: bool = True,
        ignore_index: int | None = None,
        class_weight: torch.Tensor | None = None,
        smooth: float | torch.Tensor = 1e-05,
        smooth_nr: float | torch.Tensor | None = None,
        smooth_dr: float | torch.Tensor | None = None,
        soft_label: bool = True,
        log_loss: bool = False,
        other_act: Callable[[torch.Tensor], torch.Tensor] | None = None,
        average: Average = "macro",
        batch: bool = False,
        skip_empty: bool = False,
        distributed: bool = False,
        group: Any = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            alpha=alpha,
            beta=beta,
            gamma=gamma,
            activation=activation,
            include_background=include_background,
            ignore_index=ignore_index,
            class_weight=class_weight,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            soft_label=soft_label,
            log_loss=log_loss,
            other_act=other_act,
            average=average,
            batch=batch,
            skip_empty=skip_empty,
            distributed=distributed,
            group=group,
            reduction=reduction,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.tversky(input, target, **self._arguments(kwargs))


class TweedieLoss(Loss):
    """Half the unit Tweedie deviance of a predicted mean: the negative log-likelihood of a Tweedie
    distribution (variance ~ mean^power) up to terms free of the mean.

    Module form of :func:`losskit.functional.tweedie`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        power: see :func:`losskit.functional.tweedie`. Default: ``1.5``.
        log_input: see :func:`losskit.functional.tweedie`. Default: ``True``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]`` log-means (means with ``log_input=False``); target: ``[*]``.
    """

    info: ClassVar[LossInfo] = get_info("tweedie")
    power: float
    log_input: bool
    reduction: Reduction

    def __init__(
        self,
        *,
        power: float = 1.5,
        log_input: bool = True,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(power=power, log_input=log_input, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.tweedie(input, target, **self._arguments(kwargs))


class VAEELBOLoss(Loss):
    """Negative evidence lower bound of a Gaussian-latent VAE: reconstruction error plus beta times
    the KL of the posterior from the standard normal prior.

    Module form of :func:`losskit.functional.vae_elbo`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(recon, x, mu, logvar)`` computes the loss, and a keyword given to
    the call (``weight=``, ...) goes to the function for that call.

    Args:
        beta: see :func:`losskit.functional.vae_elbo`. Default: ``1.0``.
        recon_loss: see :func:`losskit.functional.vae_elbo`. Default: ``"mse"``.
        free_bits: see :func:`losskit.functional.vae_elbo`. Default: ``0.0``.
        return_parts: see :func:`losskit.functional.vae_elbo`. Default: ``False``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        recon: ``[N, *]`` reconstructions (logits when ``recon_loss="bce"``); x: ``[N, *]``
        data (in [0, 1] for ``"bce"``); mu, logvar: ``[N, D]``; weight: ``[N]``;
        output: scalar, or ``[N]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("vae_elbo")
    beta: float
    recon_loss: Literal["mse", "mae", "bce"]
    free_bits: float
    return_parts: bool
    reduction: Reduction

    def __init__(
        self,
        *,
        beta: float = 1.0,
        recon_loss: Literal["mse", "mae", "bce"] = "mse",
        free_bits: float = 0.0,
        return_parts: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            beta=beta,
            recon_loss=recon_loss,
            free_bits=free_bits,
            return_parts=return_parts,
            reduction=reduction,
        )

    def forward(
        self,
        recon: torch.Tensor,
        x: torch.Tensor,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor | ELBOParts:
        return F.vae_elbo(recon, x, mu, logvar, **self._arguments(kwargs))


class VicregLoss(Loss):
    """VICReg: invariance (MSE between the two views' embeddings) plus variance and covariance
    regularizers that keep every dimension alive and decorrelated.

    Module form of :func:`losskit.functional.vicreg`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(z_a, z_b)`` computes the loss, and a keyword given to the call
    (``weight=``, ...) goes to the function for that call.

    Args:
        sim_weight: see :func:`losskit.functional.vicreg`. Default: ``25.0``.
        var_weight: see :func:`losskit.functional.vicreg`. Default: ``25.0``.
        cov_weight: see :func:`losskit.functional.vicreg`. Default: ``1.0``.
        eps: see :func:`losskit.functional.vicreg`. Default: ``0.0001``.
        distributed: see :func:`losskit.functional.vicreg`. Default: ``False``.
        group: see :func:`losskit.functional.vicreg`. Default: ``None``.

    Shape:
        z_a, z_b: ``[N, d]``; output: scalar.
    """

    info: ClassVar[LossInfo] = get_info("vicreg")
    sim_weight: float
    var_weight: float
    cov_weight: float
    eps: float
    distributed: bool
    group: Any

    def __init__(
        self,
        *,
        sim_weight: float = 25.0,
        var_weight: float = 25.0,
        cov_weight: float = 1.0,
        eps: float = 0.0001,
        distributed: bool = False,
        group: Any = None,
    ) -> None:
        super().__init__(
            sim_weight=sim_weight,
            var_weight=var_weight,
            cov_weight=cov_weight,
            eps=eps,
            distributed=distributed,
            group=group,
        )

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.vicreg(z_a, z_b, **self._arguments(kwargs))


class WeibullNLLLoss(Loss):
    """Weibull negative log-likelihood with right censoring, from predicted log-scale and log-shape:
    -log f(t) for events, -log S(t) for censored subjects.

    Module form of :func:`losskit.functional.weibull_nll`. The hyperparameters are keyword-only
    and kept as attributes; ``loss(log_scale, log_shape, time, event)`` computes the loss, and a
    keyword given to the call (``weight=``, ...) goes to the function for that call.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        log_scale: ``[*]``; log_shape: broadcastable to ``[*]`` (one shared shape is fine);
        time: ``[*]`` positive; event: ``[*]`` 1 = event, 0 = censored. ``"none"`` gives ``[*]``.
    """

    info: ClassVar[LossInfo] = get_info("weibull_nll")
    reduction: Reduction

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)

    def forward(
        self,
        log_scale: torch.Tensor,
        log_shape: torch.Tensor,
        time: torch.Tensor,
        event: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        return F.weibull_nll(log_scale, log_shape, time, event, **self._arguments(kwargs))


class WelschLoss(Loss):
    """Welsch (Leclerc) loss: one minus a Gaussian bump, bounded by 1; general_robust as alpha ->
    -inf.

    Module form of :func:`losskit.functional.welsch`. The hyperparameters are keyword-only and
    kept as attributes; ``loss(input, target)`` computes the loss, and a keyword given to the
    call (``weight=``, ...) goes to the function for that call.

    Args:
        scale: see :func:`losskit.functional.welsch`. Learnable: pass an ``nn.Parameter`` to
            train it. Default: ``1.0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Default: ``"mean"``.

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.
    """

    info: ClassVar[LossInfo] = get_info("welsch")
    scale: float | torch.Tensor
    reduction: Reduction

    def __init__(self, *, scale: float | torch.Tensor = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(scale=scale, reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.welsch(input, target, **self._arguments(kwargs))
