"""Ordinal regression losses: integer ranks ``0..K-1`` predicted with ``K - 1`` binary logits.

Both losses turn rank ``y`` into the binary questions "is ``y > k``?" for
``k = 0..K-2`` and score them with log-sigmoid (stable for any logit):

* ``coral`` asks every question of every sample; logit ``k`` is ``P(y > k)``.
* ``corn`` asks question ``k`` only of samples with ``y >= k`` (those that passed
  the previous question); logit ``k`` is ``P(y > k | y > k - 1)``.

``input`` is ``[N, K-1]`` logits, ``target`` ``[N]`` integer ranks. ``"none"``
returns one loss per sample ``[N]``. Turn logits into ranks with
:func:`coral_predict_rank` / :func:`corn_predict_rank`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._core.reduce import reduce, reduce_summed, safe_divide, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_class_indices,
    check_floating,
    check_integer,
    check_ndim,
    check_reduction,
)
from ..kernels import coral as _native_coral  # noqa: F401  (registers the C sweep)
from ..kernels import dispatch
from . import _examples as ex

__all__ = ["coral", "coral_predict_rank", "corn", "corn_predict_rank"]


def _check_ordinal(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
                   reduction: str) -> int:
    """Checks shared by both losses; returns the number of ranks K."""
    check_reduction(reduction)
    check_floating("input", input)
    check_ndim("input", input, 2, "[N, K-1] logits, one per rank threshold")
    check_integer("target", target, " (integer ranks 0..K-1)")
    if target.shape != (input.shape[0],):
        raise LossInputError(f"target must have shape [N] = ({input.shape[0]},) of integer "
                             f"ranks, got {tuple(target.shape)}")
    num_ranks = input.shape[1] + 1
    check_class_indices("target", target, num_ranks)
    check_broadcastable("weight", weight, torch.Size([input.shape[0]]))
    return num_ranks


def _levels(target: torch.Tensor, num_thresholds: int) -> torch.Tensor:
    """``levels[i, k] = 1 if target_i > k``: the extended binary encoding of a rank."""
    return target[:, None] > torch.arange(num_thresholds, device=target.device)


def _binary_nll(logits: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    # -log sigmoid(x) = softplus(-x) and -log(1 - sigmoid(x)) = softplus(x): finite for
    # any finite logit, where log(sigmoid(x)) underflows to log(0) below x ~ -100.
    return torch.where(levels, F.softplus(-logits), F.softplus(logits))


def _ordinal_examples(n: int, seed: int,
                      ranks: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return ex.randn(n, ranks - 1, g=g) * 2, torch.randint(0, ranks, (n,), generator=g)


def _coral_reference(input: torch.Tensor, target: torch.Tensor, *,
                     importance_weights: torch.Tensor | None = None,
                     reduction: str = "mean") -> torch.Tensor:
    levels = (target[:, None] > torch.arange(input.shape[1])).to(input.dtype)
    per_threshold = F.binary_cross_entropy_with_logits(input, levels, reduction="none")
    if importance_weights is not None:
        per_threshold = per_threshold * importance_weights
    loss = per_threshold.sum(dim=1)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else (loss.mean() if loss.numel() else loss.sum())


@register_loss(
    family="ordinal", tasks=("ordinal_regression", "classification"), input_kind="logits",
    target_kind="integer ranks 0..K-1", aliases=("coral_loss",),
    properties=("convex", "nonnegative", "smooth"), none_shape="sample",
    summary="CORAL: ordinal regression as K-1 binary 'rank > k' problems sharing one weight "
            "vector, which makes the predicted ranks consistent.",
    formula="levels_ik = [y_i > k];  L_i = sum_k w_k [ -levels_ik log s(x_ik) - "
            "(1 - levels_ik) log(1 - s(x_ik)) ],  s = sigmoid",
    gradient="dL/dx_ik = w_k (s(x_ik) - levels_ik): a bounded pull per threshold; a prediction "
             "off by several ranks is wrong on several thresholds and is pulled on each.",
    when_to_use="Ordered classes where a near miss is better than a far one: ages, ratings, "
                "disease grades, star reviews. Needs the CORAL head: one shared linear score "
                "plus K-1 biases."
                " The simple baseline to beat: regress the level with mae or mse and round; it is"
                " fine when the levels are evenly spaced.",
    pitfalls="Rank consistency (P(y > k) decreasing in k) is guaranteed only with the CORAL head, "
             "x_ik = w . h_i + b_k with w shared by all thresholds; with K-1 independent outputs "
             "the thresholds can cross (use corn then). Rare extreme ranks make the outer "
             "thresholds imbalanced: importance_weights re-balances them. Predict with "
             "coral_predict_rank, not argmax.",
    references=("Cao, Mirjalili & Raschka, Rank Consistent Ordinal Regression for Neural "
                "Networks with Application to Age Estimation, Pattern Recognition Letters "
                "2020.",
                "Li & Lin, Ordinal Regression by Extended Binary Classification, NeurIPS "
                "2006.",),
    example_inputs=_ordinal_examples, reference=_coral_reference,
    learnable=("importance_weights",),
    head="cumulative_logits",
)
def coral(input: torch.Tensor, target: torch.Tensor, *,
          importance_weights: torch.Tensor | None = None, weight: torch.Tensor | None = None,
          reduction: Reduction = "mean") -> torch.Tensor:
    """CORAL loss (same values as ``coral_pytorch.losses.coral_loss`` on the levels of target).

    The loss is a sum of binary cross-entropies, one per threshold; what makes it CORAL
    is the head that produces the logits: ``x_ik = w . h_i + b_k`` with one weight vector
    shared by all thresholds. Under that head the learned biases are ordered and
    :func:`coral_predict_rank` never sees crossing thresholds.

    Shape:
        input: ``[N, K-1]`` logits; target: ``[N]`` integer ranks in ``0..K-1``;
        importance_weights: ``[K-1]`` per-threshold weights; output: scalar, or ``[N]``.

    Example:
        >>> coral(torch.tensor([[2.0, -2.0]]), torch.tensor([1]))
        tensor(0.2539)
    """
    _check_ordinal(input, target, weight, reduction)
    x = upcast(input)
    iw = None
    if importance_weights is not None:
        check_floating("importance_weights", importance_weights)
        if importance_weights.shape != (x.shape[1],):
            raise LossInputError(f"importance_weights must have shape [K-1] = ({x.shape[1]},), "
                                 f"got {tuple(importance_weights.shape)}")
        iw = upcast(importance_weights)
    if weight is None:
        # call: (x [N, K-1], target [N], *, importance_weights [K-1] | None, reduction)
        #       -> per-row loss [N] for "none", else its sum
        fast = dispatch("coral", x, target, importance_weights=iw, reduction=reduction)
        if fast is not None:
            return reduce_summed(fast, reduction, shape=target.shape)
    loss = _binary_nll(x, _levels(target, x.shape[1]))
    if iw is not None:
        loss = loss * iw
    return reduce(loss.sum(dim=1), reduction, weight=weight)


def _corn_reference(input: torch.Tensor, target: torch.Tensor, *,
                    reduction: str = "mean") -> torch.Tensor:
    """Brute force over (sample, task) pairs, as the paper states CORN: task k trains on
    the samples with y >= k, with label [y > k]."""
    ranks = target.tolist()
    per_sample, pairs = [], 0
    for i, y in enumerate(ranks):
        terms = []
        for k in range(input.shape[1]):
            if y >= k:
                label = torch.tensor(float(y > k), dtype=input.dtype)
                terms.append(F.binary_cross_entropy_with_logits(input[i, k], label))
        pairs += len(terms)
        per_sample.append(torch.stack(terms).sum() if terms else input[i].sum() * 0.0)
    loss = torch.stack(per_sample) if per_sample else input.sum(1) * 0.0
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / pairs if pairs else loss.sum()


@register_loss(
    family="ordinal", tasks=("ordinal_regression", "classification"), input_kind="logits",
    target_kind="integer ranks 0..K-1", aliases=("corn_loss",),
    properties=("convex", "nonnegative", "smooth"), none_shape="sample",
    summary="CORN: ordinal regression with conditional binary tasks, rank-consistent for any "
            "network head.",
    formula="task k uses samples with y >= k, label [y > k];  L = sum over (i, k) with y_i >= k "
            "of BCE(x_ik, [y_i > k]) / number of such (i, k)",
    gradient="dL/dx_ik = (s(x_ik) - [y_i > k]) / #pairs for samples in task k's subset, 0 "
             "otherwise: later thresholds learn only from samples that passed the earlier "
             "ones.",
    when_to_use="Ordinal targets with a free (non-shared) output layer; usually better than "
                "CORAL on larger networks. Predicted ranks come from the chain rule P(y > k) = "
                "prod_{j <= k} s(x_ij), so they are consistent by construction."
                " Compare against the baseline of regressing the level with mae or mse and "
                "rounding.",
    pitfalls="High thresholds are trained on few samples (only those with y >= k): with rare "
             "top ranks their logits stay noisy. The mean is over (sample, task) pairs, not "
             "samples, so samples of high rank weigh more. Predict with corn_predict_rank "
             "(cumulative product), not by thresholding each logit.",
    references=("Shi, Cao & Raschka, Deep Neural Networks for Rank-Consistent Ordinal "
                "Regression Based on Conditional Probabilities, Pattern Analysis and "
                "Applications 2023 (arXiv:2111.08851, 2021).",),
    example_inputs=_ordinal_examples, reference=_corn_reference,
    expected_failures={"reduction_consistency": "'mean' averages over (sample, task) pairs as "
                       "in the paper and coral-pytorch, while 'none' gives each sample's sum "
                       "over its tasks"},
    head="conditional_logits",
)
def corn(input: torch.Tensor, target: torch.Tensor, *, weight: torch.Tensor | None = None,
         reduction: Reduction = "mean") -> torch.Tensor:
    """CORN loss (same value as ``coral_pytorch.losses.corn_loss``).

    ``"none"`` gives each sample's summed binary losses over the tasks it takes part in
    (``min(y_i + 1, K - 1)`` of them); ``"mean"`` divides the (weighted) total by the
    number of (sample, task) pairs, as the paper does.

    Shape:
        input: ``[N, K-1]`` logits; target: ``[N]`` integer ranks; output: scalar, or ``[N]``.

    Example:
        >>> corn(torch.tensor([[2.0, -2.0]]), torch.tensor([1]))
        tensor(0.1269)
    """
    _check_ordinal(input, target, weight, reduction)
    x = upcast(input)
    thresholds = torch.arange(x.shape[1], device=x.device)
    in_task = target[:, None] >= thresholds
    per_sample = torch.where(in_task, _binary_nll(x, target[:, None] > thresholds), 0.0).sum(1)
    tasks = in_task.sum(dim=1).to(x.dtype)
    # A sample enters the mean once per task it takes part in.
    return reduce(safe_divide(per_sample, tasks), reduction, weight=weight, class_weight=tasks)


def coral_predict_rank(input: torch.Tensor) -> torch.Tensor:
    """Ranks ``[N]`` from CORAL logits ``[N, K-1]``: the number of thresholds with P > 0.5.

    Example:
        >>> coral_predict_rank(torch.tensor([[2.0, 0.5, -1.0]]))
        tensor([2])
    """
    check_ndim("input", input, 2, "[N, K-1] logits")
    return (input > 0).sum(dim=1)


def corn_predict_rank(input: torch.Tensor) -> torch.Tensor:
    """Ranks ``[N]`` from CORN logits ``[N, K-1]``: the number of k with ``P(y > k) > 0.5``,
    where ``P(y > k) = prod_{j <= k} sigmoid(x_j)`` (the chain of conditional tasks).

    Example:
        >>> corn_predict_rank(torch.tensor([[2.0, 0.5, -1.0]]))
        tensor([2])
    """
    check_ndim("input", input, 2, "[N, K-1] logits")
    # Cumulative sum of log-sigmoids is the log of the product, without underflow.
    return (F.logsigmoid(upcast(input)).cumsum(dim=1) > torch.log(torch.tensor(0.5))).sum(dim=1)
