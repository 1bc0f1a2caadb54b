"""Ranking losses and differentiable surrogates of ranking / set metrics (AUC, F1).

``margin_ranking`` compares two score tensors elementwise; ``pairwise_logistic`` compares
every positive with every negative of a batch (an AUC surrogate); ``soft_f1`` replaces
the counts of the F1 score by expected counts under the predicted probabilities.
``group=`` (query ids) keeps the pairs of ``margin_ranking`` and ``pairwise_logistic``
inside each query. The listwise ranking losses are in :mod:`.listwise`.
float16/bfloat16 inputs are computed in float32.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .._core.reduce import reduce, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_floating,
    check_in_range,
    check_integer,
    check_ndim,
    check_param,
    check_probabilities,
    check_reduction,
    check_same_shape,
)
from . import _examples as ex
from ._indicators import binary_indicator, nan_of

__all__ = ["margin_ranking", "pairwise_logistic", "soft_f1"]


def _ranking_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    target = torch.where(ex.rand(n, g=g) > 0.5, 1.0, -1.0).double()
    return ex.randn(n, g=g), ex.randn(n, g=g), target


def _margin_ranking_reference(input1: torch.Tensor, input2: torch.Tensor, target: torch.Tensor,
                              *, margin: float = 0.0, reduction: str = "mean") -> torch.Tensor:
    return F.margin_ranking_loss(input1, input2, target, margin=margin, reduction=reduction)


def _same_group(group: torch.Tensor | None, n: int) -> torch.Tensor | None:
    """``[N, N]`` bool: rows i and j belong to the same query (None without groups)."""
    if group is None:
        return None
    check_integer("group", group, hint=" (query ids)")
    if group.shape != (n,):
        raise LossInputError(f"group must have shape ({n},) (one query id per row), got "
                             f"{tuple(group.shape)}")
    return group.unsqueeze(1) == group.unsqueeze(0)


@register_loss(
    family="ranking", tasks=("ranking", "metric_learning"), input_kind="scores",
    target_kind="+1 / -1 (which input should rank higher)",
    aliases=("margin_ranking_loss", "pairwise_hinge"),
    properties=("convex", "nonnegative", "bounded_gradient", "robust_to_outliers"),
    grad_args=(0, 1),
    summary="Margin ranking loss: a hinge on the score difference of two items whose order is "
            "given.",
    formula="L = max(0, -y (x1 - x2) + margin), y = +1 when x1 should rank above x2, -1 when "
            "below.",
    gradient="dL/dx1 = -y, dL/dx2 = +y while the pair is ordered wrongly or within the "
             "margin, else 0: constant-size pushes on violating pairs only. dL/dmargin = 1 on "
             "the active pairs (margin may be learned).",
    when_to_use="Learning to rank from pairwise preferences (A preferred to B), siamese "
                "scoring models, and as the pairwise building block of ranking objectives.",
    pitfalls="With margin = 0 a tie gives 0 loss and no gradient, so scores can collapse to a "
             "constant: use a positive margin. The margin is in score units, so it interacts "
             "with the scale of the scores. Pairs already satisfied by the margin stop "
             "contributing, which can leave few active pairs late in training. With group=, "
             "every input1 of a query meets every input2 of the same query (N^2 memory), "
             "judged by the row of input1.",
    references=("Herbrich, Graepel & Obermayer, Large Margin Rank Boundaries for Ordinal "
                "Regression, 2000.", "torch.nn.MarginRankingLoss."),
    example_inputs=_ranking_examples, reference=_margin_ranking_reference,
    learnable=("margin",),
)
def margin_ranking(input1: torch.Tensor, input2: torch.Tensor, target: torch.Tensor, *,
                   margin: float | torch.Tensor = 0.0, group: torch.Tensor | None = None,
                   weight: torch.Tensor | None = None,
                   reduction: Reduction = "mean") -> torch.Tensor:
    """Margin ranking loss ``max(0, -target (input1 - input2) + margin)``.

    Same values as :func:`torch.nn.functional.margin_ranking_loss` (except that an empty
    batch gives 0 instead of NaN). ``margin`` may be a tensor requiring grad.

    With ``group`` (``[N]`` query ids, 1-D inputs), the pairs are every ``(input1_i,
    input2_j)`` of the same query, ``max(0, -target_i (input1_i - input2_j) + margin)``:
    with one row per query this is the elementwise loss, and with rows ``(query, better
    item, worse item)`` every better item of a query is ranked against every worse item
    of that query, never of another. ``"mean"`` averages over those pairs.

    Shape:
        input1: ``[*]`` scores; input2: ``[*]`` same shape; target: ``[*]`` (or
        broadcastable) holding +1 / -1; ``"none"`` gives ``[*]``. With ``group``:
        input1, input2, target, group ``[N]``; ``"none"`` gives the ``[N, N]`` pair losses,
        0 for pairs of different queries; ``weight`` broadcasts against it.

    Example:
        >>> margin_ranking(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]),
        ...                torch.tensor([1.0, 1.0]), margin=0.5)
        tensor(0.7500)
    """
    check_reduction(reduction)
    check_floating("input1", input1)
    check_floating("input2", input2)
    check_same_shape("input1", input1, "input2", input2)
    if not isinstance(target, torch.Tensor):
        raise LossInputError(f"target must be a torch.Tensor, got {type(target).__name__}")
    check_broadcastable("target", target, input1.shape)
    check_in_range("target", target, -1.0, 1.0, "+1 / -1 labels; values")
    check_param("margin", margin, low=None, learnable=True)
    x1, x2 = upcast(input1), upcast(input2)
    if group is None:
        check_broadcastable("weight", weight, input1.shape)
        loss = (margin - target.to(x1.dtype) * (x1 - x2)).clamp(min=0.0)
        return reduce(loss, reduction, weight=weight)
    check_ndim("input1", input1, 1, "N, with group=")
    same = _same_group(group, input1.shape[0])
    y = target.to(x1.dtype).expand(input1.shape)
    loss = (margin - y.unsqueeze(1) * (x1.unsqueeze(1) - x2.unsqueeze(0))).clamp(min=0.0)
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight, mask=same)


def _pairwise_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    scores = ex.randn(n, g=g) * 2
    labels = (ex.rand(n, g=g) > 0.6).long()
    if n >= 2:  # at least one positive and one negative
        labels[0], labels[1] = 1, 0
    return scores, labels


def _pairwise_reference(input: torch.Tensor, target: torch.Tensor, *,
                        reduction: str = "mean") -> torch.Tensor:
    """Brute force: a Python double loop over (positive, negative) pairs."""
    n = len(target)
    zero = input.sum() * 0.0
    rows = [torch.stack([torch.log1p(torch.exp(-(input[i] - input[j])))
                         if int(target[i]) == 1 and int(target[j]) == 0 else zero
                         for j in range(n)]) for i in range(n)]
    loss = torch.stack(rows)
    pairs = int((target == 1).sum()) * int((target == 0).sum())
    return {"mean": loss.sum() / pairs, "sum": loss.sum(), "none": loss}[reduction]


@register_loss(
    family="ranking", tasks=("binary_classification", "ranking"), input_kind="scores",
    target_kind="binary labels {0, 1}", aliases=("auc_surrogate", "ranknet", "pairwise_auc"),
    properties=("convex", "smooth", "nonnegative", "bounded_gradient", "handles_imbalance"),
    summary="Pairwise logistic loss: a smooth surrogate of 1 - AUC that scores every "
            "(positive, negative) pair of the batch.",
    formula="L = mean over positives i and negatives j of softplus(-(s_i - s_j)) = "
            "log(1 + exp(s_j - s_i)).",
    gradient="dL/ds_i = -sigmoid(s_j - s_i) / (P Q) per pair: large for mis-ordered pairs, "
             "fading as a positive moves above a negative; only score differences matter, so "
             "it does not calibrate the scores.",
    when_to_use="Binary problems judged by ROC AUC or ranking quality, particularly under class "
                "imbalance: every pair counts once whatever the class ratio, so the rare class "
                "is not swamped.",
    pitfalls="Cost and memory grow as N^2 per batch (every pair is formed, then masked, so the "
             "shapes do not depend on the labels); with very rare positives a batch may hold "
             "none, giving 0 loss and no signal (use stratified batches). Pass group= (query "
             "ids) so that pairs never cross queries. Scores are not "
             "probabilities: calibrate afterwards or add a BCE term. Upper-bounds the 0-1 "
             "pairwise error only up to a factor 1 / log 2.",
    references=("Burges et al., Learning to Rank using Gradient Descent (RankNet), ICML 2005.",
                "Yan, Dodier, Mozer & Wolniewicz, Optimizing Classifier Performance via an "
                "Approximation to the Wilcoxon-Mann-Whitney Statistic, ICML 2003."),
    example_inputs=_pairwise_examples, reference=_pairwise_reference, none_shape="pair",
    expected_failures={"reduction_consistency": "'none' is the [N, N] matrix of all pairs "
                       "with 0 where a pair is not (positive, negative), so its shape does "
                       "not depend on the labels; 'mean' averages over the (positive, "
                       "negative) pairs only"},
)
def pairwise_logistic(input: torch.Tensor, target: torch.Tensor, *,
                      group: torch.Tensor | None = None, weight: torch.Tensor | None = None,
                      reduction: Reduction = "mean") -> torch.Tensor:
    """AUC surrogate: mean of ``softplus(s_neg - s_pos)`` over all (positive, negative) pairs.

    The ``[N, N]`` pair matrix is built and the (positive, negative) pairs selected by a
    mask, so no shape depends on the labels (no host sync, traceable). With ``group``
    (``[N]`` query ids) only pairs of the same query count: a per-query AUC surrogate,
    averaged over all such pairs. A batch without a (positive, negative) pair gives 0.0,
    still attached to the graph.

    Shape:
        input: ``[N]`` scores; target: ``[N]`` labels 0 / 1 (integer, bool or float);
        group: ``[N]`` integer ids. ``"none"`` returns the ``[N, N]`` pair losses, row i a
        positive and column j a negative (of the same group), 0 elsewhere; ``weight``
        broadcasts against it.

    Example:
        >>> round(float(pairwise_logistic(torch.tensor([2.0, 0.0]), torch.tensor([1, 0]))), 4)
        0.1269
    """
    check_reduction(reduction)
    check_floating("input", input)
    check_ndim("input", input, 1, "N")
    positive = binary_indicator("target", target, input.shape, "binary labels")
    s = upcast(input)
    pairs = positive.unsqueeze(1) & ~positive.unsqueeze(0)
    same = _same_group(group, input.shape[0])
    if same is not None:
        pairs = pairs & same
    # log(1 + exp(s_j - s_i)) as -logsigmoid(s_i - s_j): exact, finite for any score gap.
    loss = -F.logsigmoid(s.unsqueeze(1) - s.unsqueeze(0))
    check_broadcastable("weight", weight, loss.shape)
    out = reduce(loss, reduction, weight=weight, mask=pairs)
    # A NaN label only selects pairs, which would hide it: make it show.
    return out + nan_of(target, like=out)


def _soft_f1_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return ex.binary_logits(n, seed, labels=4)


def _soft_f1_optimum(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (1000.0 * (2.0 * args[1] - 1.0), args[1], *args[2:])


def _soft_f1_reference(input: torch.Tensor, target: torch.Tensor, *, smooth: float = 1e-5,
                       reduction: str = "mean") -> torch.Tensor:
    p = torch.sigmoid(input)
    tp, fp, fn = (p * target).sum(0), (p * (1 - target)).sum(0), ((1 - p) * target).sum(0)
    loss = 1 - (2 * tp + smooth) / (2 * tp + fp + fn + smooth)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@register_loss(
    family="ranking", tasks=("binary_classification", "multilabel_classification"),
    input_kind="logits", target_kind="binary labels or probabilities in [0, 1]",
    aliases=("f1_loss", "soft_f1_loss", "macro_soft_f1"),
    properties=("nonnegative", "zero_at_optimum", "handles_imbalance"),
    summary="Soft F1 loss: 1 - F1 with true/false positives and negatives replaced by their "
            "expected counts under the sigmoid probabilities; macro-averaged over labels.",
    formula="p = sigmoid(x); per label: tp = sum_i p y, fp = sum_i p (1 - y), fn = sum_i (1 - p) "
            "y; L = 1 - (2 tp + s) / (2 tp + fp + fn + s) = (sum p + sum y - 2 sum p y) / (sum p + "
            "sum y + s).",
    gradient="A batch-level ratio: each sample's gradient depends on the whole batch's counts; "
             "it targets the positives of each label, and is large when a label has few "
             "positives and predictions (the denominator is small).",
    when_to_use="Multi-label or imbalanced binary classification judged by (macro) F1, often "
                "after pre-training with BCE; it optimizes the metric's trade-off between "
                "precision and recall directly instead of thresholding later.",
    pitfalls="Needs reasonably large batches: the counts are batch statistics, so small batches "
             "give a noisy, biased estimate of the dataset F1. A label with no positives in a "
             "batch costs m / (m + smooth) for a predicted mass m: nearly 1 for any real false "
             "alarm, so such labels dominate unless batches hold positives of every label; "
             "raise smooth to soften this. The product tp = sum p y treats soft targets as "
             "Bernoulli labels (expected counts), so p = y < 1 does not give 0 there; use hard "
             "targets or segmentation's min-form dice for soft labels. Calibration: not a "
             "proper scoring rule (it rewards pushing probabilities toward 0 or 1 wherever "
             "that helps the batch's F1), so its sigmoid outputs are not probabilities; "
             "choose the threshold on validation data, or recalibrate "
             "(losskit.calibration.temperature_scale).",
    references=("Jansche, Maximum Expected F-Measure Training of Logistic Regression Models, "
                "HLT/EMNLP 2005.", "Lipton, Elkan & Narayanaswamy, Optimal Thresholding of "
                "Classifiers to Maximize F1 Measure, ECML PKDD 2014."),
    example_inputs=_soft_f1_examples, optimum=_soft_f1_optimum, reference=_soft_f1_reference,
    none_shape="class",
)
def soft_f1(input: torch.Tensor, target: torch.Tensor, *, smooth: float = 1e-5,
            weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Soft (expected-count) F1 loss from logits, per label and macro-averaged.

    ``1 - (2 tp + smooth) / (2 tp + fp + fn + smooth)``, written as ``(sum p + sum y -
    2 sum p y) / (sum p + sum y + smooth)``. A label with no positives and no predicted
    mass is perfect (0), and its loss grows continuously with false-alarm mass; with
    ``smooth = 0`` the 0/0 case is taken as 0, never NaN.

    Shape:
        input: ``[N]`` (binary) or ``[N, L]`` (multi-label) logits; target: same shape,
        values in [0, 1]. ``"none"`` gives one loss per label ``[L]`` (0-dim for ``[N]``
        input); ``weight`` broadcasts against it (per-label weights).

    Example:
        >>> round(float(soft_f1(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0]))), 4)
        0.5
    """
    check_reduction(reduction)
    check_param("smooth", smooth)
    check_floating("input", input)
    check_ndim("input", input, (1, 2), "N or N, L")
    check_probabilities("target", target)
    check_same_shape("input", input, "target", target)
    p, y = torch.sigmoid(upcast(input)), upcast(target)
    tp = (p * y).sum(0)
    total = p.sum(0) + y.sum(0)  # 2 tp + fp + fn
    # 0/0 (no positives, no predicted mass, smooth = 0) is 0 with a zero gradient; a NaN
    # total stays NaN (a `> 0` test would turn it into the 0/0 case).
    empty = total + smooth == 0
    loss = torch.where(empty, 0.0, (total - 2.0 * tp) / torch.where(empty, 1.0, total + smooth))
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight)

