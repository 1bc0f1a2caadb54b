"""Segmentation losses: overlap losses (Dice family) and Lovász losses on dense predictions.

Shapes used throughout:

* ``input``: ``[N, C, *spatial]`` logits (``activation="softmax"`` or ``"sigmoid"``), or
  probabilities in [0, 1] with ``activation="none"``.
* ``target``: ``[N, *spatial]`` integer class indices (also ``[N, 1, *spatial]``), or
  ``[N, C, *spatial]`` one-hot / soft probabilities. With ``C = 1`` (binary, sigmoid)
  index targets hold 0 (background) and 1 (foreground).

Every overlap loss is computed in two steps. The statistics step reduces the
prediction and the target to per-(image or batch, class) sums: intersection,
prediction volume and target volume. The loss is then a small function of those
``[B, K]`` tensors. Because only the statistics depend on the whole image, a
distributed run can all-reduce them before the second step and obtain the exact
global-batch loss.

Soft intersection. By default ``|p ∩ t| = sum(min(p, t)) = (|p| + |t| - |p - t|_1) / 2``,
the form of Wang et al. (2023). With hard targets (t in {0, 1}) and p in [0, 1] it
equals the usual product ``sum(p * t)``. With soft targets the product is wrong: for
``p = t = 0.5`` it gives Dice ``0.5`` instead of ``1``; the min form makes the loss
exactly 0 whenever the predicted probabilities equal the target probabilities.
``soft_label=False`` selects the product (MONAI's default), and ``squared_pred=True``
the squared volumes ``sum p^2``, ``sum t^2`` with the product intersection (V-Net's
form, for which the product is right for soft targets too).

With index targets no one-hot tensor is built: intersections are gathered at the
target class and summed with ``scatter_add`` over the flattened spatial axis, target
volumes are counted the same way, and autograd differentiates both. That step is where
the accelerators of :mod:`losskit.kernels.overlap` may stand in (a native softmax sweep
on the CPU, an in-place torch Function elsewhere).

The definitions read no tensor data: they run unchanged on CPU, CUDA and ``meta``,
under ``torch.compile(fullgraph=True)``, ``torch.func`` transforms and double backward.
Value checks (class-index range, probabilities in [0, 1]) run only in CPU eager calls
(:mod:`losskit._core.validate`); on other devices and under transforms they are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple, get_args

import torch
import torch.nn.functional as F

from .. import distributed as _dist
from .._core.reduce import reduce, safe_divide, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_class_indices,
    check_floating,
    check_ndim,
    check_nonnegative,
    check_param,
    check_probabilities,
    check_reduction,
    readable,
)
from ..kernels import dispatch
from ..kernels import overlap as _overlap_kernels  # noqa: F401  (registers the accelerators)
from . import _examples as ex

__all__ = [
    "dice",
    "generalized_dice",
    "jaccard",
    "lovasz_hinge",
    "lovasz_softmax",
    "tversky",
]

#: How an overlap loss turns its input into probabilities (``"none"``: it already is one).
Activation = Literal["softmax", "sigmoid", "none"]
ACTIVATIONS: tuple[str, ...] = get_args(Activation)
#: Mean of the per-class scores (``"macro"``) or one score over the summed statistics.
Average = Literal["macro", "micro"]
AVERAGES: tuple[str, ...] = get_args(Average)
WEIGHT_TYPES = ("square", "simple", "uniform")


class OverlapStats(NamedTuple):
    """Per-(image or batch, class) sums an overlap loss is built from; all ``[B, K]``.

    ``B`` is ``N`` (per image) or 1 (``batch=True``); ``K`` the classes kept
    (``C``, or ``C - 1`` without background). Summing these over processes and then
    applying the loss gives the global-batch value.
    """

    intersection: torch.Tensor  # sum(min(p, t)), sum(p t) -- differentiable
    prediction: torch.Tensor  # sum(p), or sum(p^2) with squared_pred -- differentiable
    target: torch.Tensor  # sum(t), or sum(t^2) with squared_pred
    predicted_count: torch.Tensor | None  # voxels whose hard prediction is the class (constant)


#: ``score(stats, numerator smoothing, denominator smoothing)`` -> per-(image, class) score.
_Score = Callable[[OverlapStats, float | torch.Tensor, float | torch.Tensor], torch.Tensor]


# --- validation and preparation ----------------------------------------------------------


class _Prepared(NamedTuple):
    raw: torch.Tensor  # [N, C, S], the caller's dtype
    indices: torch.Tensor | None  # [N, S] int64 in 0..C-1 (ignored voxels set to 0)
    dense: torch.Tensor | None  # [N, C, S] probabilities
    valid: torch.Tensor | None  # [N, S] bool; None when nothing is ignored
    kept: slice  # classes kept (background dropped or not)

    @property
    def logits(self) -> torch.Tensor:
        """``[N, C, S]`` in float32 or float64 (float16/bfloat16 upcast), for the definition.
        Accelerators receive ``raw``: a kernel that accumulates in float32 reads the
        half-precision logits without a float32 copy."""
        return upcast(self.raw)


def _activate(x: torch.Tensor, activation: str,
              other_act: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    if other_act is not None:
        return other_act(x)
    if activation == "softmax":
        return torch.softmax(x, dim=1)
    if activation == "sigmoid":
        return torch.sigmoid(x)
    return x


def _check_activation(input: torch.Tensor, activation: str,
                      other_act: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
    if activation not in ACTIVATIONS:
        raise LossInputError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    c = input.shape[1]
    if other_act is not None:
        if not callable(other_act):
            raise LossInputError(f"other_act must be a callable (e.g. torch.tanh) or None, got "
                                 f"{type(other_act).__name__}")
        if activation == "sigmoid":
            raise LossInputError("other_act replaces the activation: leave activation at its "
                                 "default or pass activation='none', got activation='sigmoid'")
        return
    if activation == "softmax" and c == 1:
        raise LossInputError("activation='softmax' over a single channel is constant 1; use "
                             "activation='sigmoid' for a binary [N, 1, *spatial] input")
    if activation == "none":
        try:
            check_probabilities("input", input)
        except LossInputError as exc:
            raise LossInputError(
                f"{exc}. activation='none' takes probabilities in [0, 1]; pass logits with "
                "activation='softmax' or 'sigmoid'") from None


def _prepare(input: torch.Tensor, target: torch.Tensor, *, activation: str,
             include_background: bool, ignore_index: int | None,
             class_weight: torch.Tensor | None, reduction: str,
             other_act: Callable[[torch.Tensor], torch.Tensor] | None = None,
             dense_targets: bool = True) -> _Prepared:
    """Check the arguments once and bring them to ``[N, C, S]`` / ``[N, S]`` form."""
    check_reduction(reduction)
    check_floating("input", input)
    check_ndim("input", input, tuple(range(2, 9)), "N, C, *spatial")
    _check_activation(input, activation, other_act)
    n, c = input.shape[:2]
    if not include_background and c == 1:
        raise LossInputError("include_background=False would drop the only channel of a "
                             "[N, 1, *spatial] input")
    if not isinstance(target, torch.Tensor):
        raise LossInputError(f"target must be a torch.Tensor, got {type(target).__name__}")
    spatial = input.shape[2:]
    if target.dtype == torch.bool:
        target = target.to(torch.int64) if target.shape != input.shape or c == 1 else target.to(
            input.dtype)
    if not target.is_floating_point() and target.shape == (n, 1, *spatial):
        target = target.squeeze(1)
    verified = False
    if target.is_floating_point():
        if target.shape != input.shape:
            raise LossInputError(
                f"a probability target must have the input's shape {tuple(input.shape)} "
                f"(N, C, *spatial); got {tuple(target.shape)}. Class indices must be an "
                "integer tensor [N, *spatial]")
        if not dense_targets:
            raise LossInputError("this loss needs hard labels: pass integer class indices "
                                 f"[N, *spatial], got a {target.dtype} target")
        if ignore_index is not None:
            raise LossInputError("ignore_index applies to integer class-index targets; with "
                                 "probability targets zero the pixels through the input instead")
        check_probabilities("target", target)
    elif target.shape != (n, *spatial):
        raise LossInputError(
            f"an index target must have shape (N, *spatial) = {(n, *spatial)}, got "
            f"{tuple(target.shape)}")
    else:
        verified = check_class_indices("target", target, max(c, 2), ignore_index)
    if class_weight is not None:
        check_floating("class_weight", class_weight)
        if class_weight.dim() != 1 or class_weight.numel() not in (c, c - int(
                not include_background)):
            raise LossInputError(
                f"class_weight must be a [C] tensor with C = {c} (the input's classes"
                + ("" if include_background else f", or {c - 1} without background")
                + f"), got shape {tuple(class_weight.shape)}")
        check_nonnegative("class_weight", class_weight)

    s = math.prod(spatial)
    x = input.reshape(n, c, s)
    kept = slice(0, c) if include_background else slice(1, c)
    if target.is_floating_point():
        return _Prepared(x, None, upcast(target).reshape(n, c, s), None, kept)
    t = target.reshape(n, s).long()
    valid = None
    # No mask is needed when the value check read every entry and found only class
    # indices, unless ignore_index is itself a class.
    if ignore_index is not None and not (verified and not 0 <= ignore_index < max(c, 2)):
        valid = t != ignore_index
        t = torch.where(valid, t, 0)
    if c == 1:  # binary: index 1 is the foreground of the single channel
        return _Prepared(x, None, (t == 1).to(upcast(x).dtype).unsqueeze(1), valid, kept)
    return _Prepared(x, t, None, valid, kept)


def _class_weight(class_weight: torch.Tensor | None, kept: slice, k: int,
                  like: torch.Tensor) -> torch.Tensor | None:
    if class_weight is None:
        return None
    w = class_weight if class_weight.numel() == k else class_weight[kept]
    return w.to(dtype=like.dtype, device=like.device)


# --- step 1: statistics --------------------------------------------------------------------


def _index_statistics(x: torch.Tensor, index: torch.Tensor, valid: torch.Tensor | None, *,
                      activation: str, other_act: Callable[[torch.Tensor], torch.Tensor] | None,
                      squared_pred: bool) -> torch.Tensor:
    """Statistics of class-index targets, stacked ``[3, N, C]``: intersection
    ``sum_{s: t_s = c} p``, prediction volume ``sum p`` (``sum p^2`` with
    ``squared_pred``) and target volume (the count of voxels of class c; ``t^2 = t`` for
    one-hot targets), over the voxels that count.

    ``sum_{s: t_s = c} p`` is both ``sum(min(p, onehot))`` and ``sum(p onehot)`` for p in
    [0, 1]: gathered at the target class and summed with ``scatter_add``, so no one-hot
    tensor exists; autograd differentiates gather and scatter_add.
    """
    n, c, _ = x.shape
    p = _activate(x, activation, other_act)
    volume = p * p if squared_pred else p
    p_t = p.gather(1, index.unsqueeze(1)).squeeze(1)  # probability of the true class, [N, S]
    if valid is None:
        counted = torch.ones_like(p_t)
        pred = volume.sum(-1)
    else:
        counted = valid.to(p.dtype)
        pred = torch.bmm(volume, counted.unsqueeze(-1)).squeeze(-1)
        p_t = p_t * counted
    inter = p.new_zeros(n, c).scatter_add(1, index, p_t)
    target = p.new_zeros(n, c).scatter_add(1, index, counted)
    return torch.stack([inter, pred, target])


def _dense_statistics(x: torch.Tensor, t: torch.Tensor, valid: torch.Tensor | None, *,
                      activation: str, other_act: Callable[[torch.Tensor], torch.Tensor] | None,
                      squared_pred: bool, soft_label: bool,
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Statistics of ``[N, C, S]`` probability targets (see :class:`OverlapStats`)."""
    p = _activate(x, activation, other_act)
    if valid is not None:
        v = valid.unsqueeze(1).to(p.dtype)
        p, t = p * v, t * v
    if squared_pred:
        # 2 sum(p t) / (sum p^2 + sum t^2) is 1 exactly when p = t, soft targets included.
        return (p * t).sum(-1), (p * p).sum(-1), (t * t).sum(-1)
    # soft intersection sum(min(p, t)) (Wang et al. 2023), or the product on request
    inter = torch.minimum(p, t) if soft_label else p * t
    return inter.sum(-1), p.sum(-1), t.sum(-1)


def _hard_counts(prep: _Prepared, activation: str,
                 other_act: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Voxels whose hard prediction is each class: argmax for softmax, p > 0.5 otherwise."""
    x = prep.logits
    n, c, s = x.shape
    with torch.no_grad():
        if activation == "softmax" and other_act is None:
            src = (torch.ones(n, s, dtype=x.dtype, device=x.device) if prep.valid is None
                   else prep.valid.to(x.dtype))
            return x.new_zeros(n, c).scatter_add(1, x.argmax(1), src)
        if activation == "sigmoid" and other_act is None:
            hard = x > 0
        else:
            hard = _activate(x, activation, other_act) > 0.5
        if prep.valid is not None:
            hard = hard & prep.valid.unsqueeze(1)
        return hard.sum(-1).to(x.dtype)


def _statistics(loss: str, prep: _Prepared, *, activation: str,
                other_act: Callable[[torch.Tensor], torch.Tensor] | None = None,
                squared_pred: bool = False, soft_label: bool = True, batch: bool = False,
                count_predicted: bool = False, distributed: bool = False,
                group: Any = None) -> OverlapStats:
    if prep.indices is not None:
        # call: (x [N, C, S] in the caller's dtype, index [N, S] int64, valid [N, S] bool |
        #        None, *, activation, other_act, squared_pred, definition) ->
        #        _index_statistics's [3, N, C] in float32 or float64
        stacked: torch.Tensor | None = dispatch(
            loss, prep.raw, prep.indices, prep.valid, activation=activation,
            other_act=other_act, squared_pred=squared_pred, definition=_index_statistics)
        x = prep.logits
        if stacked is None:
            stacked = _index_statistics(x, prep.indices, prep.valid, activation=activation,
                                        other_act=other_act, squared_pred=squared_pred)
        inter, pred, tgt = stacked.to(x.dtype).unbind(0)
    else:
        x = prep.logits
        assert prep.dense is not None  # _prepare gives index or dense targets
        inter, pred, tgt = _dense_statistics(x, prep.dense, prep.valid, activation=activation,
                                             other_act=other_act, squared_pred=squared_pred,
                                             soft_label=soft_label)
    counts = _hard_counts(prep, activation, other_act) if count_predicted else None
    if batch:
        inter, pred, tgt = (v.sum(0, keepdim=True) for v in (inter, pred, tgt))
        counts = None if counts is None else counts.sum(0, keepdim=True)
        if distributed and _dist.is_active(group):
            # Whole-batch statistics of every rank, in one differentiable all-reduce.
            present = [inter, pred, tgt] + ([] if counts is None else [counts])
            summed = _dist.all_reduce_sum(torch.stack(present), group).unbind(0)
            inter, pred, tgt = summed[:3]
            counts = None if counts is None else summed[3]
    kept = prep.kept
    return OverlapStats(inter[:, kept], pred[:, kept], tgt[:, kept],
                        None if counts is None else counts[:, kept])


def overlap_stats(input: torch.Tensor, target: torch.Tensor, *,
                  activation: Activation = "softmax",
                  include_background: bool = True, ignore_index: int | None = None,
                  batch: bool = False, count_predicted: bool = False,
                  squared_pred: bool = False, soft_label: bool = True,
                  other_act: Callable[[torch.Tensor], torch.Tensor] | None = None) -> OverlapStats:
    """Intersection, prediction volume and target volume per (image or batch, class).

    The one place where overlap losses touch the full ``[N, C, *spatial]`` tensors; the
    losses are functions of its ``[B, K]`` output (``B = N``, or 1 with ``batch=True``).
    ``count_predicted`` also counts hard-predicted voxels (used by ``skip_empty``).
    """
    prep = _prepare(input, target, activation=activation, include_background=include_background,
                    ignore_index=ignore_index, class_weight=None, reduction="mean",
                    other_act=other_act)
    return _statistics("dice", prep, activation=activation, other_act=other_act,
                       squared_pred=squared_pred, soft_label=soft_label, batch=batch,
                       count_predicted=count_predicted)


# --- step 2: statistics -> loss ------------------------------------------------------------


def _score(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """``numerator / denominator`` with x/0 := 1: a class absent from both prediction and
    target (possible when the denominator's smoothing is 0) counts as perfectly segmented,
    never as NaN or infinity. The denominator is replaced before dividing so the gradient
    stays finite too; a NaN denominator is not 0 and stays NaN."""
    empty = denominator == 0
    return torch.where(empty, 1.0, numerator) / torch.where(empty, 1.0, denominator)


def _smoothing(smooth: float | torch.Tensor, smooth_nr: float | torch.Tensor | None,
               smooth_dr: float | torch.Tensor | None,
               ) -> tuple[float | torch.Tensor, float | torch.Tensor]:
    """The numerator's and the denominator's smoothing terms (``smooth`` unless given)."""
    check_param("smooth", smooth, learnable=True)
    if smooth_nr is not None:
        check_param("smooth_nr", smooth_nr, learnable=True)
    if smooth_dr is not None:
        check_param("smooth_dr", smooth_dr, learnable=True)
    return (smooth if smooth_nr is None else smooth_nr,
            smooth if smooth_dr is None else smooth_dr)


def _dice_score(stats: OverlapStats, nr: float | torch.Tensor,
                dr: float | torch.Tensor) -> torch.Tensor:
    return _score(2.0 * stats.intersection + nr, stats.prediction + stats.target + dr)


def _jaccard_score(stats: OverlapStats, nr: float | torch.Tensor,
                   dr: float | torch.Tensor) -> torch.Tensor:
    # soft union |p| + |t| - |p ∩ t| (= sum(max(p, t)) in the min form)
    union = stats.prediction + stats.target - stats.intersection
    return _score(stats.intersection + nr, union + dr)


def _tversky_score(alpha: float | torch.Tensor, beta: float | torch.Tensor) -> _Score:
    def score(stats: OverlapStats, nr: float | torch.Tensor,
              dr: float | torch.Tensor) -> torch.Tensor:
        i = stats.intersection
        fp = stats.prediction - i  # sum(relu(p - t)) in the min form, sum(p (1 - t)) else
        fn = stats.target - i  # sum(relu(t - p)), or sum((1 - p) t)
        return _score(i + nr, i + alpha * fp + beta * fn + dr)
    return score


def _focal_power(loss: torch.Tensor, gamma: float | torch.Tensor) -> torch.Tensor:
    """``loss^gamma``; gamma = 1 (a number) returns the loss untouched."""
    if not isinstance(gamma, torch.Tensor) and gamma == 1.0:
        return loss
    # x^gamma has an infinite slope at 0 for gamma < 1 and d/dgamma = x^gamma log x is
    # 0 * -inf there: take 0 (the loss is at its minimum) by raising a safe base. Rounding
    # may leave -1e-16, clamped to 0 (a negative base would give NaN). NaN is not <= 0,
    # so it propagates.
    base = loss.clamp(min=0.0)
    at_zero = base <= 0
    return torch.where(at_zero, 0.0, torch.where(at_zero, 1.0, base).pow(gamma))


def _micro(stats: OverlapStats, cw: torch.Tensor | None) -> OverlapStats:
    """Statistics summed over the kept classes (weighted by ``cw``): ``[B, 1]``."""
    def total(v: torch.Tensor) -> torch.Tensor:
        return (v if cw is None else v * cw).sum(-1, keepdim=True)
    return OverlapStats(total(stats.intersection), total(stats.prediction), total(stats.target),
                        None if stats.predicted_count is None else total(stats.predicted_count))


def _overlap(loss_name: str, score: _Score, input: torch.Tensor, target: torch.Tensor, *,
             activation: str, other_act: Callable[[torch.Tensor], torch.Tensor] | None,
             include_background: bool,
             ignore_index: int | None, class_weight: torch.Tensor | None,
             smooth: float | torch.Tensor, smooth_nr: float | torch.Tensor | None,
             smooth_dr: float | torch.Tensor | None, squared_pred: bool, soft_label: bool,
             log_loss: bool, average: str, batch: bool, skip_empty: bool, distributed: bool,
             group: Any, weight: torch.Tensor | None, reduction: str,
             gamma: float | torch.Tensor = 1.0) -> torch.Tensor:
    """The shared pipeline of dice, jaccard and tversky: statistics, score, reduction."""
    nr, dr = _smoothing(smooth, smooth_nr, smooth_dr)
    if average not in AVERAGES:
        raise LossInputError(f"average must be one of {AVERAGES}, got {average!r}")
    prep = _prepare(input, target, activation=activation, include_background=include_background,
                    ignore_index=ignore_index, class_weight=class_weight, reduction=reduction,
                    other_act=other_act)
    stats = _statistics(loss_name, prep, activation=activation, other_act=other_act,
                        squared_pred=squared_pred, soft_label=soft_label, batch=batch,
                        count_predicted=skip_empty, distributed=distributed, group=group)
    cw = _class_weight(class_weight, prep.kept, stats.intersection.shape[1],
                       stats.intersection)
    if average == "micro":
        stats, cw = _micro(stats, cw), None
    s = score(stats, nr, dr)
    # -log(score): unbounded as the overlap vanishes (infinite at score 0, i.e. no overlap
    # with zero numerator smoothing); 1 - score is bounded by 1.
    loss = _focal_power(-torch.log(s) if log_loss else 1.0 - s, gamma)
    mask = None
    if skip_empty:
        assert stats.predicted_count is not None  # counted with count_predicted=skip_empty
        mask = (stats.target > 0) | (stats.predicted_count > 0)
    if average == "micro":
        loss, mask = loss[:, 0], None if mask is None else mask[:, 0]
    if batch:
        loss, mask = loss[0], None if mask is None else mask[0]
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight, mask=mask, class_weight=cw,
                  distributed=distributed and not batch, group=group)


# --- registry support ------------------------------------------------------------------------


def _seg_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return ex.dense_class_logits(n, seed, classes=4, size=6)


def _seg_optimum(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Logits so confident that softmax is exactly one-hot in float64 (exp(-1000) = 0)."""
    logits, target = args[0], args[1]
    onehot = F.one_hot(target, logits.shape[1]).movedim(-1, 1).to(logits.dtype)
    return (1000.0 * onehot, target, *args[2:])


def _reference_onehot_stats(input: torch.Tensor, target: torch.Tensor, *,
                            activation: str = "softmax", include_background: bool = True,
                            ignore_index: int | None = None,
                            batch: bool = False) -> list[torch.Tensor]:
    """Reference statistics by the textbook route: one-hot target and products."""
    c = input.shape[1]
    activations: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "softmax": lambda a: torch.softmax(a, 1), "sigmoid": torch.sigmoid, "none": lambda a: a}
    p = activations[activation](input).flatten(2)
    t = target.flatten(1)
    valid = torch.ones_like(t, dtype=torch.bool) if ignore_index is None else t != ignore_index
    onehot = F.one_hot(torch.where(valid, t, 0), c).movedim(-1, 1).to(p.dtype)
    v = valid.unsqueeze(1).to(p.dtype)
    p, onehot = p * v, onehot * v
    stats = [(p * onehot).sum(-1), p.sum(-1), onehot.sum(-1)]
    if batch:
        stats = [a.sum(0, keepdim=True) for a in stats]
    start = 0 if include_background else 1
    return [a[:, start:] for a in stats]


def _pair_reference(head: Callable[..., tuple[torch.Tensor, torch.Tensor]],
                    ) -> Callable[..., torch.Tensor]:
    def reference(input: torch.Tensor, target: torch.Tensor, *, smooth: float = 1e-5,
                  reduction: str = "mean", **kw: Any) -> torch.Tensor:
        inter, pred, tgt = _reference_onehot_stats(input, target)
        num, den = head(inter, pred, tgt, smooth, **kw)
        loss = 1.0 - num / den
        return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]
    return reference


_OVERLAP_PITFALLS = (
    "Empty masks: when a class is absent from an image's target, any predicted mass gives a "
    "per-image loss near 1 with a tiny smooth term, and exactly 0 when the prediction is empty "
    "too; per-image averaging then swings between 0 and 1 on such images. Use batch=True "
    "(global statistics), skip_empty=True (leave absent-absent pairs out of the mean) or "
    "include_background=False. The smooth term biases the loss toward predicting tiny "
    "structures as empty: keep it small (1e-5) unless structures span many voxels. "
    "Per-image and batch Dice optimize different things (mean of per-image scores vs one "
    "global score). Calibration: overlap losses are not proper scoring rules; they reward "
    "near-binary outputs whatever the true probability, so their probabilities are "
    "typically over-confident (Mehrtash et al., IEEE TMI 2020): recalibrate on held-out "
    "pixels (losskit.calibration.temperature_scale) or add a cross-entropy term. Overlap "
    "losses alone give poor gradients early in training and are usually combined with "
    "cross-entropy (losskit.get('0.5*dice + 0.5*cross_entropy')). "
    "activation='none' takes probabilities in [0, 1]: values outside raise a LossInputError in "
    "CPU eager calls; on other devices and under compile/vmap the check does not run (it would "
    "read the data), and log-probabilities or logits then give meaningless values. The output "
    "of other_act is not checked (MONAI's tests pass torch.tanh).")

_OVERLAP_CONVENTIONS = (
    " Conventions against the peers: soft_label=True (the min form) is the default here, "
    "MONAI's default is the product (soft_label=False); both are equal for hard targets. "
    "smooth sets both terms; MONAI's smooth_nr/smooth_dr are the same arguments, and kornia's "
    "eps is smooth_nr=0, smooth_dr=eps. With class_weight, 'mean' divides by the summed "
    "weights of the pairs (as cross-entropy does); MONAI's mean divides by the number of "
    "pairs ('none' and 'sum' agree). kornia's average='micro' multiplies both the "
    "probabilities and the one-hot target by the class weights, so its intersection carries "
    "w^2; here each class's sums are weighted by w (equal for 0/1 weights).")

_OVERLAP_REFS = (
    "Milletari, Navab & Ahmadi, V-Net: Fully Convolutional Neural Networks for Volumetric "
    "Medical Image Segmentation, 3DV 2016 (soft Dice loss, squared volumes).",
    "Wang, Popordanoska, Bertels, Lemmens & Blaschko, Dice Semimetric Losses: Optimizing the "
    "Dice Score with Soft Labels, MICCAI 2023.",
)

_LEARNABLE_SMOOTHING = ("smooth", "smooth_nr", "smooth_dr", "class_weight")


# --- the losses --------------------------------------------------------------------------------


@register_loss(
    family="segmentation", tasks=("segmentation",), input_kind="logits",
    target_kind="class indices [N, *spatial] or probabilities [N, C, *spatial]",
    aliases=("dice_loss", "soft_dice"),
    properties=("nonnegative", "zero_at_optimum", "handles_imbalance"),
    summary="Soft Dice loss: one minus the Dice overlap between predicted probabilities and the "
            "target, per class and image.",
    formula="D_bc = (2 I_bc + s_nr) / (P_bc + T_bc + s_dr) with I = sum(min(p, t)) (sum(p t) "
            "with soft_label=False), P = sum(p), T = sum(t) (sum p^2, sum t^2 and I = sum(p t) "
            "with squared_pred) over the voxels of image b (or the batch) and class c; "
            "L_bc = 1 - D_bc (-log D_bc with log_loss); mean over (b, c). average='micro' sums "
            "I, P, T over the classes first: one D per image.",
    gradient="dL/dp = -(2 [p < t] (P + T + s) - (2 I + s)) / (P + T + s)^2 per class: a voxel's "
             "pull depends on the whole region, so the loss does not care how many voxels a "
             "class has and small foreground gets a strong gradient; it is large and noisy "
             "when P + T is small. log_loss divides it by D: stronger when the overlap is poor.",
    when_to_use="Segmentation with small foreground or heavy class imbalance in pixels, when "
                "the metric is Dice/F1; usually summed with cross-entropy for stable early "
                "training. For one image and class, Dice and IoU (jaccard) rank two predictions "
                "the same way (D = 2J / (1 + J) is increasing); their averages over images or "
                "classes need not: per-class IoUs (0, 1) beat (0.45, 0.45) on mean IoU (0.5 vs "
                "0.45) but lose on mean Dice (0.5 vs 0.62).",
    pitfalls=_OVERLAP_PITFALLS + _OVERLAP_CONVENTIONS,
    references=_OVERLAP_REFS,
    example_inputs=_seg_examples, optimum=_seg_optimum, none_shape="sample_class",
    reference=_pair_reference(lambda i, p, t, s: (2 * i + s, p + t + s)),
    learnable=_LEARNABLE_SMOOTHING,
)
def dice(input: torch.Tensor, target: torch.Tensor, *, activation: Activation = "softmax",
         include_background: bool = True, ignore_index: int | None = None,
         class_weight: torch.Tensor | None = None, smooth: float | torch.Tensor = 1e-5,
         smooth_nr: float | torch.Tensor | None = None,
         smooth_dr: float | torch.Tensor | None = None, squared_pred: bool = False,
         soft_label: bool = True, log_loss: bool = False,
         other_act: Callable[[torch.Tensor], torch.Tensor] | None = None,
         average: Average = "macro", batch: bool = False, skip_empty: bool = False,
         distributed: bool = False, group: Any = None, weight: torch.Tensor | None = None,
         reduction: Reduction = "mean") -> torch.Tensor:
    """Soft Dice loss ``1 - (2|p ∩ t| + smooth) / (|p| + |t| + smooth)`` per image and class.

    Args:
        input: ``[N, C, *spatial]`` logits (probabilities in [0, 1] with
            ``activation="none"``).
        target: ``[N, *spatial]`` class indices, or ``[N, C, *spatial]`` one-hot or soft
            probabilities.
        activation: ``"softmax"`` (classes exclusive), ``"sigmoid"`` (independent
            channels, multi-label or binary ``C = 1``) or ``"none"`` (the input already
            holds probabilities; checked in CPU eager calls only).
        other_act: a callable applied to the input instead of ``activation`` (MONAI's
            ``other_act``); its output is used as the probabilities, unchecked.
        include_background: keep class 0 in the mean.
        ignore_index: voxels with this target index count for nothing.
        class_weight: ``[C]`` non-negative weights (a tensor may require grad); ``"mean"``
            is then the weighted mean over pairs; with ``average="micro"`` each class's
            sums are weighted instead.
        smooth: added to numerator and denominator (a number or a learnable tensor);
            ``smooth_nr`` / ``smooth_dr`` set the numerator's / denominator's term apart.
        squared_pred: volumes ``sum p^2`` and ``sum t^2`` with intersection ``sum p t``
            (V-Net's form) instead of ``sum p`` and ``sum t``.
        soft_label: intersection ``sum(min(p, t))`` (default; exact for soft targets) or,
            when False, the product ``sum(p t)`` (MONAI's default); equal for hard targets.
        log_loss: ``-log(score)`` instead of ``1 - score``.
        average: ``"macro"`` one score per (image, class), ``"micro"`` one score per image
            over the classes' summed statistics (kornia's ``average="micro"``).
        batch: sum the statistics over the whole batch (one score per class) instead of
            one per image.
        skip_empty: leave out of the mean the (image, class) pairs where the class is
            absent from the target and from the hard prediction (argmax for softmax,
            p > 0.5 otherwise); those are trivially right and otherwise dilute the mean.
        distributed: with ``batch=True``, sum the statistics over every rank of ``group``
            (the global batch); per image, average over every rank's images. DDP-correct
            gradients (:mod:`losskit.distributed`); without a process group, no effect.
        weight: broadcast against the unreduced loss.

    Soft targets use the soft intersection ``sum(min(p, t))`` (Wang et al. 2023), so
    ``input == target`` probabilities give exactly 0; it equals MONAI's ``DiceLoss`` with
    hard targets, and with ``soft_label=True`` for soft ones (``soft_label=False`` here is
    MONAI's default). Unlike MONAI, a ``class_weight`` mean divides by the sum of the
    weights, as cross-entropy does.

    Shape:
        ``"none"`` returns one value per (image, class) ``[N, K]``, per class ``[K]`` with
        ``batch=True`` (``K = C``, or ``C - 1`` without background); with
        ``average="micro"`` one per image ``[N]``, or a 0-dim tensor with ``batch=True``.

    Example:
        >>> p = torch.tensor([[[0.9, 0.2]], [[0.1, 0.8]]]).unsqueeze(0)  # [1, 2, 1, 2]
        >>> round(float(dice(p, torch.tensor([[[0, 1]]]), activation="none", smooth=0)), 4)
        0.1504
    """
    return _overlap("dice", _dice_score, input, target, activation=activation,
                    other_act=other_act, include_background=include_background,
                    ignore_index=ignore_index, class_weight=class_weight, smooth=smooth,
                    smooth_nr=smooth_nr, smooth_dr=smooth_dr, squared_pred=squared_pred,
                    soft_label=soft_label, log_loss=log_loss, average=average, batch=batch,
                    skip_empty=skip_empty, distributed=distributed, group=group, weight=weight,
                    reduction=reduction)


@register_loss(
    family="segmentation", tasks=("segmentation",), input_kind="logits",
    target_kind="class indices [N, *spatial] or probabilities [N, C, *spatial]",
    aliases=("iou_loss", "soft_jaccard", "soft_iou"),
    properties=("nonnegative", "zero_at_optimum", "handles_imbalance"),
    summary="Soft Jaccard (IoU) loss: one minus intersection over union of predicted "
            "probabilities and target, per class and image.",
    formula="J_bc = (I + s_nr) / (P + T - I + s_dr) with I = sum(min(p, t)) (so P + T - I = "
            "sum(max(p, t)), the soft union); L_bc = 1 - J_bc (-log J_bc with log_loss); mean "
            "over (b, c). soft_label, squared_pred and average as for dice.",
    gradient="dL/dp = -([p < t] U - [p >= t] I) / U^2 per class (U the soft union, ignoring s): "
             "like Dice it is scale-free in the region size; it punishes a given overlap error "
             "more than Dice does (IoU <= Dice).",
    when_to_use="Segmentation judged by IoU / Jaccard, with small or imbalanced foreground. For "
                "a tighter surrogate of the IoU of hard predictions see lovasz_softmax.",
    pitfalls=_OVERLAP_PITFALLS + _OVERLAP_CONVENTIONS + " MONAI's DiceLoss(jaccard=True) "
             "writes (2I + s_nr) / (2U + s_dr): it equals this loss with half its smoothing "
             "terms.",
    references=(*_OVERLAP_REFS, "Rahman & Wang, Optimizing Intersection-over-Union in Deep "
                "Neural Networks for Image Segmentation, ISVC 2016."),
    example_inputs=_seg_examples, optimum=_seg_optimum, none_shape="sample_class",
    reference=_pair_reference(lambda i, p, t, s: (i + s, p + t - i + s)),
    learnable=_LEARNABLE_SMOOTHING,
)
def jaccard(input: torch.Tensor, target: torch.Tensor, *, activation: Activation = "softmax",
            include_background: bool = True, ignore_index: int | None = None,
            class_weight: torch.Tensor | None = None, smooth: float | torch.Tensor = 1e-5,
            smooth_nr: float | torch.Tensor | None = None,
            smooth_dr: float | torch.Tensor | None = None, squared_pred: bool = False,
            soft_label: bool = True, log_loss: bool = False,
            other_act: Callable[[torch.Tensor], torch.Tensor] | None = None,
            average: Average = "macro", batch: bool = False, skip_empty: bool = False,
            distributed: bool = False, group: Any = None, weight: torch.Tensor | None = None,
            reduction: Reduction = "mean") -> torch.Tensor:
    """Soft Jaccard loss ``1 - (|p ∩ t| + smooth) / (|p ∪ t| + smooth)`` per image and class.

    Arguments, soft-label handling and shapes are those of :func:`dice`; with
    ``squared_pred`` the union is ``sum p^2 + sum t^2 - sum p t``. Equals MONAI's
    ``DiceLoss(jaccard=True)`` when our smoothing terms are half of MONAI's (MONAI writes
    ``(2I + s) / (2U + s)``).

    Example:
        >>> p = torch.tensor([[[0.9, 0.2]], [[0.1, 0.8]]]).unsqueeze(0)
        >>> round(float(jaccard(p, torch.tensor([[[0, 1]]]), activation="none", smooth=0)), 4)
        0.2614
    """
    return _overlap("jaccard", _jaccard_score, input, target, activation=activation,
                    other_act=other_act, include_background=include_background,
                    ignore_index=ignore_index, class_weight=class_weight, smooth=smooth,
                    smooth_nr=smooth_nr, smooth_dr=smooth_dr, squared_pred=squared_pred,
                    soft_label=soft_label, log_loss=log_loss, average=average, batch=batch,
                    skip_empty=skip_empty, distributed=distributed, group=group, weight=weight,
                    reduction=reduction)


def _tversky_reference(input: torch.Tensor, target: torch.Tensor, *, alpha: float = 0.3,
                       beta: float = 0.7, gamma: float = 1.0, smooth: float = 1e-5,
                       reduction: str = "mean") -> torch.Tensor:
    inter, pred, tgt = _reference_onehot_stats(input, target)
    loss = (1.0 - (inter + smooth) / (inter + alpha * (pred - inter) + beta * (tgt - inter)
                                      + smooth)) ** gamma
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@register_loss(
    family="segmentation", tasks=("segmentation",), input_kind="logits",
    target_kind="class indices [N, *spatial] or probabilities [N, C, *spatial]",
    aliases=("tversky_loss", "focal_tversky"),
    properties=("nonnegative", "zero_at_optimum", "handles_imbalance"),
    summary="Tversky loss: a Dice generalization that weighs false positives (alpha) and false "
            "negatives (beta) separately; gamma gives the focal Tversky loss.",
    formula="TI = (I + s_nr) / (I + alpha FP + beta FN + s_dr), FP = P - I, FN = T - I, "
            "I = sum(min(p, t)) (sum(p t) with soft_label=False); L = (1 - TI)^gamma "
            "((-log TI)^gamma with log_loss); mean over (image, class), or one TI per image "
            "over the summed statistics with average='micro'.",
    gradient="beta > alpha makes a missed foreground voxel cost more than a false alarm, "
             "pushing toward recall. gamma < 1 raises the gradient of nearly solved classes "
             "(the slope of x^gamma grows as x -> 0), gamma > 1 lowers it; the slope at exactly "
             "0 is taken as 0. alpha, beta, gamma and the smoothing may be learnable tensors.",
    when_to_use="Small lesions or structures where missing foreground is worse than a false "
                "alarm (alpha = 0.3, beta = 0.7 as in Salehi et al.). alpha = beta = 0.5 is Dice "
                "(up to the smooth term); alpha = beta = 1 is Jaccard.",
    pitfalls=_OVERLAP_PITFALLS + " Abraham & Khan write the focal exponent as 1/gamma: their "
             "gamma = 4/3 is gamma = 0.75 here. With gamma < 1 the gradient near a perfect "
             "class is very large. MONAI's TverskyLoss defaults to alpha = beta = 0.5. "
             "kornia's tversky_loss in its repository's code is average='micro' with "
             "smooth_nr=0, smooth_dr=eps; its 0.9.0 release instead averages the per-class "
             "index over the classes present in the target."
             + _OVERLAP_CONVENTIONS,
    references=("Salehi, Erdogmus & Gholipour, Tversky loss function for image segmentation "
                "using 3D fully convolutional deep networks, MLMI 2017.",
                "Abraham & Khan, A Novel Focal Tversky loss function with improved Attention "
                "U-Net for lesion segmentation, ISBI 2019.", _OVERLAP_REFS[1]),
    example_inputs=_seg_examples, optimum=_seg_optimum, none_shape="sample_class",
    reference=_tversky_reference,
    learnable=("alpha", "beta", "gamma", *_LEARNABLE_SMOOTHING),
)
def tversky(input: torch.Tensor, target: torch.Tensor, *, alpha: float | torch.Tensor = 0.3,
            beta: float | torch.Tensor = 0.7, gamma: float | torch.Tensor = 1.0,
            activation: Activation = "softmax", include_background: bool = True,
            ignore_index: int | None = None, class_weight: torch.Tensor | None = None,
            smooth: float | torch.Tensor = 1e-5, smooth_nr: float | torch.Tensor | None = None,
            smooth_dr: float | torch.Tensor | None = None, soft_label: bool = True,
            log_loss: bool = False,
            other_act: Callable[[torch.Tensor], torch.Tensor] | None = None,
            average: Average = "macro", batch: bool = False, skip_empty: bool = False,
            distributed: bool = False, group: Any = None, weight: torch.Tensor | None = None,
            reduction: Reduction = "mean") -> torch.Tensor:
    """(Focal) Tversky loss ``(1 - (I + s) / (I + alpha FP + beta FN + s))^gamma``.

    ``alpha`` weighs false positives, ``beta`` false negatives (MONAI's convention);
    ``alpha``, ``beta``, ``gamma`` may be tensors that require grad. With soft targets
    ``FP = sum(relu(p - t))`` and ``FN = sum(relu(t - p))`` (the min form), which equals
    MONAI's ``TverskyLoss`` products ``sum(p (1 - t))`` and ``sum((1 - p) t)`` for hard
    targets (and for soft ones with ``soft_label=False``). ``log_loss`` replaces
    ``1 - TI`` by ``-log TI`` before the power. Other arguments and shapes are those of
    :func:`dice` (``squared_pred`` does not apply: ``sum p^2 - sum p t`` is not a count of
    false positives).

    Example:
        >>> p = torch.tensor([[[0.9, 0.2]], [[0.1, 0.8]]]).unsqueeze(0)
        >>> t = torch.tensor([[[0, 1]]])
        >>> round(float(tversky(p, t, alpha=0.5, beta=0.5, activation="none", smooth=0)), 4)
        0.1504
    """
    check_param("alpha", alpha, learnable=True)
    check_param("beta", beta, learnable=True)
    check_param("gamma", gamma, low=0.0, low_inclusive=False, learnable=True)
    return _overlap("tversky", _tversky_score(alpha, beta), input, target,
                    activation=activation, other_act=other_act,
                    include_background=include_background, ignore_index=ignore_index,
                    class_weight=class_weight, smooth=smooth, smooth_nr=smooth_nr,
                    smooth_dr=smooth_dr, squared_pred=False, soft_label=soft_label,
                    log_loss=log_loss, average=average, batch=batch, skip_empty=skip_empty,
                    distributed=distributed, group=group, weight=weight, reduction=reduction,
                    gamma=gamma)


def _sudre_weights(target_volume: torch.Tensor, weight_type: str = "square") -> torch.Tensor:
    """w_c = 1 / T_c^2 (Sudre et al.; 1 / T_c for "simple", 1 for "uniform"), normalized
    to sum 1 per row.

    A class absent from the target (T_c = 0) would get an infinite weight; as in MONAI it
    gets the largest finite weight of its row instead. The normalization leaves the loss
    unchanged when the smoothing is 0 (the ratio is scale-free) and keeps ``smooth`` on
    the scale of voxel counts, instead of being compared with sums of order 1 / T.
    """
    with torch.no_grad():
        if weight_type == "uniform":
            w = torch.ones_like(target_volume)
        else:
            present = target_volume > 0
            safe = torch.where(present, target_volume, 1.0)
            w = torch.where(present, 1.0 / (safe.square() if weight_type == "square" else safe),
                            0.0)
            w = torch.where(present, w, w.amax(dim=-1, keepdim=True))
        return safe_divide(w, w.sum(dim=-1, keepdim=True))


def _generalized_reference(input: torch.Tensor, target: torch.Tensor, *, smooth: float = 1e-5,
                           reduction: str = "mean") -> torch.Tensor:
    inter, pred, tgt = _reference_onehot_stats(input, target)
    w = torch.where(tgt > 0, 1.0 / tgt.clamp(min=1).square(), 0.0)
    w = torch.where(tgt > 0, w, w.amax(-1, keepdim=True))
    w = w / w.sum(-1, keepdim=True)
    loss = 1.0 - (2 * (w * inter).sum(-1) + smooth) / ((w * (pred + tgt)).sum(-1) + smooth)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@register_loss(
    family="segmentation", tasks=("segmentation",), input_kind="logits",
    target_kind="class indices [N, *spatial] or probabilities [N, C, *spatial]",
    aliases=("generalized_dice_loss", "gdl", "generalised_dice"),
    properties=("nonnegative", "zero_at_optimum", "handles_imbalance"),
    summary="Generalized Dice loss: one Dice over all classes, each class weighted by the "
            "inverse square of its target volume.",
    formula="w_c = 1 / T_c^2 (1 / T_c for weight_type='simple', 1 for 'uniform'; normalized to "
            "sum 1);  L_b = 1 - (2 sum_c w_c I_bc + s_nr) / (sum_c w_c (P_bc + T_bc) + s_dr); "
            "I = sum(min(p, t)) (sum(p t) with soft_label=False); mean over images b.",
    gradient="Each class's contribution to the gradient is scaled by 1 / T_c^2, so a class "
             "with 100x fewer voxels is not drowned out by the background; the per-image value "
             "is a single ratio, so it is smoother than averaging per-class Dice scores.",
    when_to_use="Multi-class segmentation with strong volume imbalance between classes (tiny "
                "lesions next to large organs), when one loss per image is preferred over a "
                "per-class mean.",
    pitfalls="A class absent from an image's target has no finite Sudre weight: it gets the "
             "largest finite weight of that image (as MONAI does). With very small target "
             "volumes the weights explode and the loss is dominated by a few voxels; batch=True "
             "computes volumes over the batch and is steadier. Convention against MONAI's "
             "GeneralizedDiceLoss: the weights are normalized to sum 1 per image here, which "
             "changes nothing without smoothing but makes MONAI's smoothing, added to sums of "
             "order 1 / T, far larger in effect than the same number here; the values then "
             "differ. " + _OVERLAP_PITFALLS,
    references=("Sudre, Li, Vercauteren, Ourselin & Cardoso, Generalised Dice overlap as a deep "
                "learning loss function for highly unbalanced segmentations, DLMIA 2017.",
                "Crum, Camara & Hill, Generalized overlap measures for evaluation and validation "
                "in medical image analysis, IEEE TMI 2006.", _OVERLAP_REFS[1]),
    example_inputs=_seg_examples, optimum=_seg_optimum, none_shape="sample",
    reference=_generalized_reference,
    learnable=_LEARNABLE_SMOOTHING,
)
def generalized_dice(input: torch.Tensor, target: torch.Tensor, *,
                     activation: Activation = "softmax",
                     include_background: bool = True, ignore_index: int | None = None,
                     class_weight: torch.Tensor | None = None,
                     smooth: float | torch.Tensor = 1e-5,
                     smooth_nr: float | torch.Tensor | None = None,
                     smooth_dr: float | torch.Tensor | None = None,
                     weight_type: Literal["square", "simple", "uniform"] = "square",
                     soft_label: bool = True,
                     other_act: Callable[[torch.Tensor], torch.Tensor] | None = None,
                     batch: bool = False, skip_empty: bool = False, distributed: bool = False,
                     group: Any = None, weight: torch.Tensor | None = None,
                     reduction: Reduction = "mean") -> torch.Tensor:
    """Generalized Dice loss (Sudre et al. 2017) with weights ``1 / T_c^2``.

    ``weight_type`` is MONAI's ``w_type``: ``"square"`` (``1 / T^2``), ``"simple"``
    (``1 / T``) or ``"uniform"``. ``class_weight`` multiplies these weights; ``skip_empty``
    gives the pairs absent from target and hard prediction weight 0. The weights are
    normalized to sum to 1 per image (or batch), which changes nothing when the smoothing
    is 0 and equals MONAI's ``GeneralizedDiceLoss`` there; with smoothing MONAI's
    unnormalized weights of order ``1 / T^2`` make its ``smooth`` far larger in effect.
    Other arguments are those of :func:`dice`.

    Shape:
        ``"none"`` returns one value per image ``[N]``, or a 0-dim tensor with
        ``batch=True``; ``weight`` broadcasts against that.

    Example:
        >>> p = torch.tensor([[[0.9, 0.2]], [[0.1, 0.8]]]).unsqueeze(0)
        >>> t = torch.tensor([[[0, 1]]])
        >>> round(float(generalized_dice(p, t, activation="none", smooth=0)), 4)
        0.15
    """
    nr, dr = _smoothing(smooth, smooth_nr, smooth_dr)
    if weight_type not in WEIGHT_TYPES:
        raise LossInputError(f"weight_type must be one of {WEIGHT_TYPES}, got {weight_type!r}")
    prep = _prepare(input, target, activation=activation, include_background=include_background,
                    ignore_index=ignore_index, class_weight=class_weight, reduction=reduction,
                    other_act=other_act)
    stats = _statistics("generalized_dice", prep, activation=activation, other_act=other_act,
                        soft_label=soft_label, batch=batch, count_predicted=skip_empty,
                        distributed=distributed, group=group)
    w = _sudre_weights(stats.target, weight_type)
    cw = _class_weight(class_weight, prep.kept, w.shape[1], w)
    if cw is not None:
        w = w * cw
    if skip_empty:
        assert stats.predicted_count is not None  # counted with count_predicted=skip_empty
        w = w * ((stats.target > 0) | (stats.predicted_count > 0))
    numerator = 2.0 * (w * stats.intersection).sum(-1) + nr
    denominator = (w * (stats.prediction + stats.target)).sum(-1) + dr
    loss = 1.0 - _score(numerator, denominator)
    if batch:
        loss = loss[0]
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight, distributed=distributed and not batch,
                  group=group)


# --- Lovász ------------------------------------------------------------------------------------


def _lovasz_jaccard(errors: torch.Tensor, foreground: torch.Tensor,
                    valid: torch.Tensor | None) -> torch.Tensor:
    """Lovász extension of the Jaccard loss at ``relu(errors)``, row by row: ``[R, M] -> [R]``.

    Sort the errors in decreasing order; the extension is the dot product of the sorted
    errors with the increments of the Jaccard loss of the growing prefix sets of
    mispredicted pixels (Berman et al. 2018, Alg. 1). Ignored pixels are sorted last
    with error 0, and add nothing to the prefix sets.
    """
    key = errors if valid is None else errors.masked_fill(~valid, -math.inf)
    ordered, order = key.sort(dim=-1, descending=True)
    fg = foreground.gather(-1, order).to(errors.dtype)
    bg = 1.0 - fg
    if valid is not None:
        kept = valid.gather(-1, order)
        ordered = torch.where(kept, ordered, 0.0)
        bg = bg * kept
    total = fg.sum(-1, keepdim=True)
    intersection = total - fg.cumsum(-1)
    union = total + bg.cumsum(-1)
    # union is 0 only before the first valid pixel of an all-empty row: loss 0 there.
    jac = 1.0 - safe_divide(intersection, union)
    increments = torch.diff(jac, dim=-1, prepend=jac.new_zeros((*jac.shape[:-1], 1)))
    return (ordered.clamp(min=0.0) * increments).sum(-1)


def _lovasz_softmax_reference(input: torch.Tensor, target: torch.Tensor, *,
                              reduction: str = "mean") -> torch.Tensor:
    """Per (image, class) loop following Berman et al.'s published algorithm."""
    p = torch.softmax(input, 1)
    n, c = p.shape[:2]
    rows = []
    for b in range(n):
        row = []
        for k in range(c):
            fg = (target[b] == k).flatten().to(p.dtype)
            err = (fg - p[b, k].flatten()).abs()
            err_sorted, perm = torch.sort(err, descending=True)
            gt = fg[perm]
            gts = gt.sum()
            inter = gts - gt.cumsum(0)
            union = gts + (1 - gt).cumsum(0)
            jac = 1.0 - inter / union
            jac = torch.cat([jac[:1], jac[1:] - jac[:-1]])
            row.append(torch.dot(err_sorted, jac))
        rows.append(torch.stack(row))
    loss = torch.stack(rows)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@register_loss(
    family="segmentation", tasks=("segmentation",), input_kind="logits",
    target_kind="class indices [N, *spatial]", aliases=("lovasz",),
    properties=("nonnegative", "zero_at_optimum", "bounded_gradient", "handles_imbalance"),
    summary="Lovász-Softmax loss: a tight surrogate of the per-class Jaccard loss (1 - IoU), "
            "convex in the errors |1[t = c] - p_c| (not in the logits).",
    formula="e_i = |1[t_i = c] - p_ic|; sort e decreasingly (order pi); L_c = sum_k e_pi(k) "
            "(J(pi_1..k) - J(pi_1..k-1)), J(M) = |M| / |{t = c} ∪ M| the Jaccard loss of the "
            "mispredicted set M; mean over (image, class).",
    gradient="dL/dp_ic = +-(Jaccard increment of pixel i's rank): piecewise constant in the "
             "probabilities, bounded by 1, and concentrated on the worst-ranked pixels; it "
             "optimizes the IoU of the hard prediction more directly than soft Jaccard.",
    when_to_use="Semantic segmentation judged by mean IoU, typically to fine-tune a model "
                "trained with cross-entropy (or summed with it); per image (batch=False) "
                "matches an image-averaged IoU, batch=True a dataset IoU.",
    pitfalls="Needs hard labels (integer classes). Sorting costs O(M log M) per class and "
             "image, noticeably slower than Dice on large volumes. A class absent from the "
             "target costs its largest predicted probability; skip_empty leaves out classes "
             "absent from target and hard prediction (Berman's classes='present' keeps only "
             "those present in the target), and averages over the kept (image, class) "
             "pairs, where Berman's per_image=True averages each image's classes first: "
             "images with fewer kept classes weigh less here. Gradients are sparse early in "
             "training: start "
             "from cross-entropy.",
    references=("Berman, Rannen Triki & Blaschko, The Lovász-Softmax loss: A tractable "
                "surrogate for the optimization of the intersection-over-union measure in "
                "neural networks, CVPR 2018.",
                "Lovász, Submodular functions and convexity, 1983."),
    example_inputs=_seg_examples, optimum=_seg_optimum, none_shape="sample_class",
    reference=_lovasz_softmax_reference,
)
def lovasz_softmax(input: torch.Tensor, target: torch.Tensor, *,
                   activation: Activation = "softmax",
                   include_background: bool = True, ignore_index: int | None = None,
                   class_weight: torch.Tensor | None = None, batch: bool = False,
                   skip_empty: bool = False, weight: torch.Tensor | None = None,
                   reduction: Reduction = "mean") -> torch.Tensor:
    """Lovász-Softmax loss (Berman et al. 2018) per image and class.

    Args are those of :func:`dice` (no ``smooth``); targets must be class indices.
    ``batch=True`` is the reference code's ``per_image=False``; ``skip_empty=False`` is
    ``classes="all"``.

    Shape:
        ``"none"`` returns ``[N, K]`` per (image, class), or ``[K]`` with ``batch=True``.

    Example:
        >>> p = torch.tensor([[[0.9, 0.2]], [[0.1, 0.8]]]).unsqueeze(0)
        >>> round(float(lovasz_softmax(p, torch.tensor([[[0, 1]]]), activation="none")), 4)
        0.175
    """
    prep = _prepare(input, target, activation=activation, include_background=include_background,
                    ignore_index=ignore_index, class_weight=class_weight, reduction=reduction,
                    dense_targets=False)
    x = prep.logits
    n, c, s = x.shape
    p = _activate(x, activation)
    if prep.indices is not None:
        fg = prep.indices.unsqueeze(1) == torch.arange(c, device=x.device).view(1, c, 1)
    else:  # binary single channel
        assert prep.dense is not None  # _prepare gives index or dense targets
        fg = prep.dense > 0.5
    valid = None if prep.valid is None else prep.valid.unsqueeze(1).expand(n, c, s)
    if valid is not None:
        fg = fg & valid  # ignored pixels were given index 0; they are no one's foreground
    errors = (fg.to(p.dtype) - p).abs()
    if batch:
        errors, fg = (a.transpose(0, 1).reshape(1, c, n * s) for a in (errors, fg))
        valid = None if valid is None else valid.transpose(0, 1).reshape(1, c, n * s)
    b, m = errors.shape[0], errors.shape[-1]
    loss = _lovasz_jaccard(errors.reshape(b * c, m), fg.reshape(b * c, m),
                           None if valid is None else valid.reshape(b * c, m)).view(b, c)
    mask = None
    if skip_empty:
        counts = _hard_counts(prep, activation)
        counts = counts.sum(0, keepdim=True) if batch else counts
        mask = ((fg.sum(-1) > 0) | (counts > 0))[:, prep.kept]
    loss = loss[:, prep.kept]
    cw = _class_weight(class_weight, prep.kept, loss.shape[1], loss)
    if batch:
        loss, mask = loss[0], None if mask is None else mask[0]
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight, mask=mask, class_weight=cw)


def _check_hard_labels(target: torch.Tensor) -> None:
    """A float target of lovasz_hinge must hold 0 and 1 (read only where values may be)."""
    if target.numel() and readable(target) and not bool(((target == 0) | (target == 1)).all()):
        raise LossInputError("lovasz_hinge needs hard labels: target must hold 0 and 1")


def _binary_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return ex.randn(n, 6, 6, g=g) * 2, (ex.rand(n, 6, 6, g=g) > 0.6).long()


def _hinge_optimum(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Margins of 5 > 1 on every pixel: every hinge error is negative."""
    return (5.0 * (2.0 * args[1].to(args[0].dtype) - 1.0), args[1], *args[2:])


def _lovasz_hinge_reference(input: torch.Tensor, target: torch.Tensor, *,
                            reduction: str = "mean") -> torch.Tensor:
    """Per-image loop following Berman et al.'s published lovasz_hinge_flat."""
    rows = []
    for b in range(input.shape[0]):
        logits, labels = input[b].flatten(), target[b].flatten().to(input.dtype)
        errors = 1.0 - logits * (2.0 * labels - 1.0)
        err_sorted, perm = torch.sort(errors, descending=True)
        gt = labels[perm]
        gts = gt.sum()
        jac = 1.0 - (gts - gt.cumsum(0)) / (gts + (1 - gt).cumsum(0))
        jac = torch.cat([jac[:1], jac[1:] - jac[:-1]])
        rows.append(torch.dot(torch.relu(err_sorted), jac))
    loss = torch.stack(rows)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@register_loss(
    family="segmentation", tasks=("segmentation", "binary_segmentation"), input_kind="logits",
    target_kind="binary mask {0, 1} [N, *spatial]", aliases=("lovasz_binary",),
    properties=("nonnegative", "zero_at_optimum", "bounded_gradient", "convex"),
    summary="Lovász hinge: the convex surrogate of the binary Jaccard loss built from hinge "
            "errors on the logits.",
    formula="e_i = 1 - x_i (2 t_i - 1) (hinge error); sort decreasingly; L = sum_k relu(e_pi(k)) "
            "(J(pi_1..k) - J(pi_1..k-1)) with J(M) = |M| / |{t = 1} ∪ M|; mean over images.",
    gradient="dL/dx_i = -(2 t_i - 1) x (Jaccard increment of pixel i's rank) while its margin is "
             "below 1, else 0: bounded by 1 and focused on the worst-ranked pixels.",
    when_to_use="Binary segmentation (foreground vs background) judged by foreground IoU; "
                "often used to fine-tune after binary cross-entropy.",
    pitfalls="Works on raw logits with a margin of 1: the logit scale matters and a perfect "
             "prediction needs |x| >= 1 everywhere. An image with empty foreground costs its "
             "largest hinge error (any false positive is a full Jaccard error). Per-image "
             "(batch=False, the paper's default) is noisy with small images; batch=True pools.",
    references=("Berman, Rannen Triki & Blaschko, The Lovász-Softmax loss, CVPR 2018.",
                "Yu & Blaschko, The Lovász Hinge: A Novel Convex Surrogate for Submodular "
                "Losses, IEEE TPAMI 2018."),
    example_inputs=_binary_examples, optimum=_hinge_optimum, none_shape="sample",
    reference=_lovasz_hinge_reference,
)
def lovasz_hinge(input: torch.Tensor, target: torch.Tensor, *, ignore_index: int | None = None,
                 batch: bool = False, weight: torch.Tensor | None = None,
                 reduction: Reduction = "mean") -> torch.Tensor:
    """Binary Lovász hinge loss (Berman et al. 2018) per image.

    Args:
        input: ``[N, *spatial]`` or ``[N, 1, *spatial]`` logits of the foreground.
        target: ``[N, *spatial]`` (or the input's shape) holding 0 and 1, integer, bool
            or float.
        ignore_index: integer targets equal to it count for nothing.
        batch: one loss over all pixels of the batch instead of one per image.

    Shape:
        ``"none"`` returns ``[N]``, or a 0-dim tensor with ``batch=True``.

    Example:
        >>> x = torch.tensor([[2.0, -0.5]])
        >>> round(float(lovasz_hinge(x, torch.tensor([[1, 0]]))), 4)
        0.25
    """
    check_reduction(reduction)
    check_floating("input", input)
    check_ndim("input", input, tuple(range(1, 9)), "N, *spatial")
    if not isinstance(target, torch.Tensor):
        raise LossInputError(f"target must be a torch.Tensor, got {type(target).__name__}")
    n = input.shape[0]
    if target.numel() != input.numel() or target.shape[:1] != input.shape[:1]:
        raise LossInputError(f"target must hold one label per input pixel: input shape "
                             f"{tuple(input.shape)}, target shape {tuple(target.shape)}")
    m = math.prod(input.shape[1:])
    x = upcast(input).reshape(n, m)
    t = target.reshape(n, m)
    valid = None
    if target.is_floating_point():
        if ignore_index is not None:
            raise LossInputError("ignore_index applies to integer targets")
        check_probabilities("target", target)
        _check_hard_labels(target)
        fg = t > 0.5
        # The sign 2 t - 1 from the float target itself: a NaN target gives a NaN error.
        sign = 2.0 * upcast(t).to(x.dtype) - 1.0
    else:
        labels = t.long()
        check_class_indices("target", labels, 2, ignore_index)
        fg = labels == 1
        if ignore_index is not None:
            valid = labels != ignore_index
            fg = fg & valid
        sign = 2.0 * fg.to(x.dtype) - 1.0
    errors = 1.0 - x * sign
    if batch:
        errors, fg = errors.reshape(1, -1), fg.reshape(1, -1)
        valid = None if valid is None else valid.reshape(1, -1)
    loss = _lovasz_jaccard(errors, fg, valid)
    if batch:
        loss = loss[0]
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight)
