"""Segmentation losses: overlap losses (Dice family) and Lovász losses on dense predictions.

Shapes used throughout:

* ``input``: ``[N, C, *spatial]`` logits (``activation="softmax"`` or ``"sigmoid"``), or
  probabilities with ``activation="none"``.
* ``target``: ``[N, *spatial]`` integer class indices (also ``[N, 1, *spatial]``), or
  ``[N, C, *spatial]`` one-hot / soft probabilities. With ``C = 1`` (binary, sigmoid)
  index targets hold 0 (background) and 1 (foreground).

Every overlap loss is computed in two steps. :func:`overlap_stats` reduces the
prediction and the target to per-(image or batch, class) statistics: soft
intersection, prediction volume and target volume. The loss is then a small function
of those ``[B, K]`` tensors. Because only the statistics depend on the whole image, a
distributed run can all-reduce them before the second step and obtain the exact
global-batch loss.

Soft intersection. ``|p ∩ t| = sum(min(p, t)) = (|p| + |t| - |p - t|_1) / 2``, the
form of Wang et al. (2023). With hard targets (t in {0, 1}) and p in [0, 1] it equals
the usual product ``sum(p * t)``. With soft targets the product is wrong: for
``p = t = 0.5`` it gives Dice ``0.5`` instead of ``1``; the min form makes the loss
exactly 0 whenever the predicted probabilities equal the target probabilities.

With index targets no one-hot tensor is built: intersections are gathered at the
target class and summed with ``scatter_add`` over the flattened spatial axis, target
volumes are counted the same way, and the gradient is written by hand
(:class:`_IndexOverlap`) so that only the logits are kept for backward.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from .. import distributed as _dist
from .._core.reduce import reduce, safe_divide, upcast
from .._core.registry import register_loss
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_class_indices,
    check_floating,
    check_ndim,
    check_param,
    check_probabilities,
    check_reduction,
)
from ..kernels import _native
from . import _examples as ex

__all__ = [
    "dice",
    "generalized_dice",
    "jaccard",
    "lovasz_hinge",
    "lovasz_softmax",
    "tversky",
]

ACTIVATIONS = ("softmax", "sigmoid", "none")


class OverlapStats(NamedTuple):
    """Per-(image or batch, class) sums an overlap loss is built from; all ``[B, K]``.

    ``B`` is ``N`` (per image) or 1 (``batch=True``); ``K`` the classes kept
    (``C``, or ``C - 1`` without background). Summing these over processes and then
    applying the loss gives the global-batch value.
    """

    intersection: torch.Tensor  # sum(min(p, t)) -- differentiable
    prediction: torch.Tensor  # sum(p) -- differentiable
    target: torch.Tensor  # sum(t) -- constant
    predicted_count: torch.Tensor | None  # voxels whose hard prediction is the class (constant)


# --- validation and preparation ----------------------------------------------------------


class _Prepared(NamedTuple):
    logits: torch.Tensor  # [N, C, S], float32 or float64
    index: torch.Tensor | None  # [N, S] int64 in 0..C-1 (ignored voxels set to 0)
    dense: torch.Tensor | None  # [N, C, S] probabilities
    valid: torch.Tensor | None  # [N, S] bool; None when nothing is ignored
    kept: slice  # classes kept (background dropped or not)


def _activate(x: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "softmax":
        return torch.softmax(x, dim=1)
    if activation == "sigmoid":
        return torch.sigmoid(x)
    return x


def _prepare(input: torch.Tensor, target: torch.Tensor, *, activation: str,
             include_background: bool, ignore_index: int | None, class_weight, weight,
             reduction: str, dense_targets: bool = True) -> _Prepared:
    """Check the arguments once and bring them to ``[N, C, S]`` / ``[N, S]`` form."""
    check_reduction(reduction)
    check_floating("input", input)
    check_ndim("input", input, tuple(range(2, 9)), "N, C, *spatial")
    if activation not in ACTIVATIONS:
        raise LossInputError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    n, c = input.shape[:2]
    if activation == "softmax" and c == 1:
        raise LossInputError("activation='softmax' over a single channel is constant 1; use "
                             "activation='sigmoid' for a binary [N, 1, *spatial] input")
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
        check_class_indices("target", target, max(c, 2), ignore_index)
    if class_weight is not None:
        check_floating("class_weight", class_weight)
        if class_weight.dim() != 1 or class_weight.numel() not in (c, c - int(
                not include_background)):
            raise LossInputError(
                f"class_weight must be a [C] tensor with C = {c} (the input's classes"
                + ("" if include_background else f", or {c - 1} without background")
                + f"), got shape {tuple(class_weight.shape)}")

    s = math.prod(spatial)
    x = upcast(input).reshape(n, c, s)
    kept = slice(0, c) if include_background else slice(1, c)
    if target.is_floating_point():
        return _Prepared(x, None, upcast(target).reshape(n, c, s), None, kept)
    t = target.reshape(n, s).long()
    valid = None
    if ignore_index is not None:
        valid = t != ignore_index
        t = torch.where(valid, t, 0)
    if c == 1:  # binary: index 1 is the foreground of the single channel
        return _Prepared(x, None, (t == 1).to(x.dtype).unsqueeze(1), valid, kept)
    return _Prepared(x, t, None, valid, kept)


def _class_weight(class_weight: torch.Tensor | None, kept: slice, k: int,
                  like: torch.Tensor) -> torch.Tensor | None:
    if class_weight is None:
        return None
    w = class_weight if class_weight.numel() == k else class_weight[kept]
    return w.to(dtype=like.dtype, device=like.device)


# --- step 1: statistics --------------------------------------------------------------------


class _IndexOverlap(torch.autograd.Function):
    """Per-image, per-class soft intersection and prediction volume from index targets.

    Forward: ``P[n, c] = sum_s p[n, c, s]`` and ``I[n, c] = sum_{s: t_s = c} p[n, c, s]``
    (equal to ``sum(min(p, onehot(t)))`` because p <= 1), via gather + scatter_add.
    Backward writes ``dL/dp = gP[c] + gI[c] [t_s = c]`` through the activation by hand,
    in place in the probabilities kept from forward, so the whole step holds a single
    ``[N, C, S]`` buffer and never a one-hot tensor. A second backward through the same
    graph (``retain_graph=True``) recomputes the probabilities from the saved logits.
    """

    @staticmethod
    def forward(ctx, logits, index, valid, activation):  # type: ignore[override]
        n, c, _ = logits.shape
        p = _activate(logits, activation)
        vf = None if valid is None else valid.to(p.dtype)
        pred = p.sum(-1) if vf is None else torch.bmm(p, vf.unsqueeze(-1)).squeeze(-1)
        p_t = p.gather(1, index.unsqueeze(1))  # probability of the true class, [N, 1, S]
        src = p_t.squeeze(1) if vf is None else p_t.squeeze(1) * vf
        inter = torch.zeros(n, c, dtype=p.dtype, device=p.device).scatter_add_(1, index, src)
        ctx.save_for_backward(logits, index, valid, p_t)
        ctx.activation = activation
        # Kept as an attribute, not a saved tensor, so backward may overwrite it in place.
        ctx.probabilities = p if activation != "none" else None
        return inter, pred

    @staticmethod
    def backward(ctx, g_inter, g_pred):  # type: ignore[override]
        logits, index, valid, p_t = ctx.saved_tensors
        n, c, s = logits.shape
        zeros = logits.new_zeros(n, c)
        g_inter = zeros if g_inter is None else g_inter
        g_pred = zeros if g_pred is None else g_pred
        idx = index.unsqueeze(1)
        g_at_target = g_inter.gather(1, index).unsqueeze(1)  # gI of the true class, [N, 1, S]
        if ctx.activation == "none":
            out = g_pred.unsqueeze(-1).expand(n, c, s).contiguous()
            out.scatter_add_(1, idx, g_at_target.expand(n, 1, s).contiguous())
        else:
            out = ctx.probabilities
            ctx.probabilities = None
            if out is None:  # second backward of a retained graph
                out = _activate(logits, ctx.activation)
            if ctx.activation == "sigmoid":
                # dx_c = p_c (1 - p_c) (gP_c + gI_c [t = c])
                for k in range(c):  # in place, one [N, S] temporary at a time
                    pk = out[:, k]
                    pk.mul_(1.0 - pk).mul_(g_pred[:, k:k + 1])
                out.scatter_add_(1, idx, p_t * (1.0 - p_t) * g_at_target)
            else:
                # softmax: dx_c = p_c (g_c - sum_k p_k g_k) with g_c = gP_c + gI_c [t = c]
                mean_g = torch.bmm(g_pred.unsqueeze(1), out).add_(p_t * g_at_target)  # [N, 1, S]
                shifted = torch.empty_like(mean_g[:, 0])
                for k in range(c):  # in place, one reused [N, S] buffer
                    torch.sub(g_pred[:, k:k + 1], mean_g[:, 0], out=shifted)
                    out[:, k].mul_(shifted)
                out.scatter_add_(1, idx, p_t * g_at_target)
        if valid is not None:
            out.mul_(valid.unsqueeze(1))
        return out, None, None, None


class _NativeIndexOverlap(torch.autograd.Function):
    """:class:`_IndexOverlap` for ``activation="softmax"`` in the native kernels.

    One sweep over the logits computes each voxel's softmax and accumulates
    intersection, prediction and target volumes; backward recomputes the softmax per
    voxel and writes the gradient in one more sweep. Nothing of size ``[N, C, S]`` is
    kept between the two: the gradient buffer is the only large allocation.
    Returns ``(inter, pred, target)``; the target volumes are constants.
    """

    @staticmethod
    def forward(ctx, logits, index, valid):  # type: ignore[override]
        logits, index = logits.contiguous(), index.contiguous()
        valid = None if valid is None else valid.contiguous()
        inter, pred, tgt = _native.overlap_softmax_forward(logits, index, valid)
        ctx.save_for_backward(logits, index, valid)
        ctx.mark_non_differentiable(tgt)
        return inter, pred, tgt

    @staticmethod
    def backward(ctx, g_inter, g_pred, _g_tgt):  # type: ignore[override]
        logits, index, valid = ctx.saved_tensors
        zeros = logits.new_zeros(logits.shape[:2])
        return (_native.overlap_softmax_backward(
            logits, index, valid, zeros if g_inter is None else g_inter,
            zeros if g_pred is None else g_pred), None, None)


def _hard_counts(prep: _Prepared, activation: str) -> torch.Tensor:
    """Voxels whose hard prediction is each class: argmax for softmax, p > 0.5 otherwise."""
    x = prep.logits
    n, c, s = x.shape
    with torch.no_grad():
        if activation == "softmax":
            src = torch.ones(1, dtype=x.dtype, device=x.device).expand(n, s)
            if prep.valid is not None:
                src = prep.valid.to(x.dtype)
            return x.new_zeros(n, c).scatter_add_(1, x.argmax(1), src)
        hard = (x > 0) if activation == "sigmoid" else (x > 0.5)
        if prep.valid is not None:
            hard = hard & prep.valid.unsqueeze(1)
        return hard.sum(-1).to(x.dtype)


def _stats_from_prepared(prep: _Prepared, activation: str, batch: bool,
                         count_predicted: bool, distributed: bool = False,
                         group: Any = None) -> OverlapStats:
    x = prep.logits
    n, c, s = x.shape
    if (prep.index is not None and activation == "softmax"
            and _native.overlap_softmax_supported(x)):
        inter, pred, tgt = _NativeIndexOverlap.apply(x, prep.index, prep.valid)
    elif prep.index is not None:
        inter, pred = _IndexOverlap.apply(x, prep.index, prep.valid, activation)
        src = (torch.ones(1, dtype=x.dtype, device=x.device).expand(n, s)
               if prep.valid is None else prep.valid.to(x.dtype))
        tgt = x.new_zeros(n, c).scatter_add_(1, prep.index, src)
    else:
        p = _activate(x, activation)
        t = prep.dense
        if prep.valid is not None:
            v = prep.valid.unsqueeze(1).to(x.dtype)
            p, t = p * v, t * v
        inter = torch.minimum(p, t).sum(-1)  # soft intersection (Wang et al. 2023)
        pred = p.sum(-1)
        tgt = t.sum(-1)
    counts = _hard_counts(prep, activation) if count_predicted else None
    stats = [inter, pred, tgt, counts]
    if batch:
        stats = [None if v is None else v.sum(0, keepdim=True) for v in stats]
        if distributed and _dist.is_active(group):
            # Whole-batch statistics of every rank, in one differentiable all-reduce.
            present = [v for v in stats if v is not None]
            summed = _dist.all_reduce_sum(torch.stack(present), group).unbind(0)
            stats = [summed[i] for i in range(len(present))] + [None] * (4 - len(present))
    return OverlapStats(*(None if v is None else v[:, prep.kept] for v in stats))


def overlap_stats(input: torch.Tensor, target: torch.Tensor, *, activation: str = "softmax",
                  include_background: bool = True, ignore_index: int | None = None,
                  batch: bool = False, count_predicted: bool = False) -> OverlapStats:
    """Soft intersection, prediction volume and target volume per (image or batch, class).

    The one place where overlap losses touch the full ``[N, C, *spatial]`` tensors; the
    losses are functions of its ``[B, K]`` output (``B = N``, or 1 with ``batch=True``).
    ``count_predicted`` also counts hard-predicted voxels (used by ``skip_empty``).
    """
    prep = _prepare(input, target, activation=activation, include_background=include_background,
                    ignore_index=ignore_index, class_weight=None, weight=None, reduction="mean")
    return _stats_from_prepared(prep, activation, batch, count_predicted)


# --- step 2: statistics -> loss ------------------------------------------------------------


def _score(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """``numerator / denominator`` with 0/0 := 1: a class absent from both prediction and
    target (possible with ``smooth=0``) counts as perfectly segmented, never as NaN. The
    denominator is replaced before dividing so the gradient stays finite too."""
    empty = denominator <= 0
    return torch.where(empty, 1.0, numerator) / torch.where(empty, 1.0, denominator)


def _finish_pairs(loss: torch.Tensor, stats: OverlapStats, prep: _Prepared, *, batch: bool,
                  skip_empty: bool, class_weight, weight, reduction: str,
                  distributed: bool = False, group: Any = None) -> torch.Tensor:
    """Reduce a ``[B, K]`` per-(image, class) loss with the shared :func:`reduce`.

    With ``batch=True`` and ``distributed`` the statistics are already global, so every
    rank holds the same per-class loss; per image, the mean runs over every rank's pairs.
    """
    mask = None
    if skip_empty:
        mask = (stats.target > 0) | (stats.predicted_count > 0)
    cw = _class_weight(class_weight, prep.kept, loss.shape[1], loss)
    if batch:
        loss = loss[0]
        mask = None if mask is None else mask[0]
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight, mask=mask, class_weight=cw,
                  distributed=distributed and not batch, group=group)


def _overlap_call(input, target, *, activation, include_background, ignore_index, batch,
                  skip_empty, class_weight, weight, reduction, smooth, distributed=False,
                  group=None):
    check_param("smooth", smooth)
    prep = _prepare(input, target, activation=activation, include_background=include_background,
                    ignore_index=ignore_index, class_weight=class_weight, weight=weight,
                    reduction=reduction)
    return prep, _stats_from_prepared(prep, activation, batch, skip_empty, distributed, group)


def _dice_from_stats(stats: OverlapStats, smooth: float) -> torch.Tensor:
    return 1.0 - _score(2.0 * stats.intersection + smooth,
                        stats.prediction + stats.target + smooth)


def _jaccard_from_stats(stats: OverlapStats, smooth: float) -> torch.Tensor:
    # soft union |p| + |t| - |p ∩ t| = sum(max(p, t))
    union = stats.prediction + stats.target - stats.intersection
    return 1.0 - _score(stats.intersection + smooth, union + smooth)


def _tversky_from_stats(stats: OverlapStats, smooth: float, alpha: float, beta: float,
                        gamma: float) -> torch.Tensor:
    i = stats.intersection
    fp = stats.prediction - i  # sum(relu(p - t)) in the min form
    fn = stats.target - i  # sum(relu(t - p))
    loss = (1.0 - _score(i + smooth, i + alpha * fp + beta * fn + smooth)).clamp(min=0.0)
    if gamma == 1.0:
        return loss
    # (1 - TI)^gamma has an infinite slope at 0 for gamma < 1; take 0 there (the loss is
    # minimal) by raising a safe base and masking.
    positive = loss > 0
    return torch.where(positive, torch.where(positive, loss, 1.0).pow(gamma), 0.0)


# --- registry support ------------------------------------------------------------------------


def _seg_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return ex.dense_class_logits(n, seed, classes=4, size=6)


def _seg_optimum(args: tuple) -> tuple:
    """Logits so confident that softmax is exactly one-hot in float64 (exp(-1000) = 0)."""
    logits, target = args[0], args[1]
    onehot = F.one_hot(target, logits.shape[1]).movedim(-1, 1).to(logits.dtype)
    return (1000.0 * onehot, target, *args[2:])


def _onehot_stats(input, target, *, activation="softmax", include_background=True,
                  ignore_index=None, batch=False):
    """Reference statistics by the textbook route: one-hot target and products."""
    c = input.shape[1]
    p = _activate(input, activation).flatten(2)
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


def _pair_reference(head):
    def reference(input, target, *, smooth=1e-5, reduction="mean", **kw):
        inter, pred, tgt = _onehot_stats(input, target)
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
    "global score). Overlap losses alone give poor gradients early in training and are "
    "usually combined with cross-entropy (losskit.get('0.5*dice + 0.5*cross_entropy')).")

_OVERLAP_REFS = (
    "Milletari, Navab & Ahmadi, V-Net, 3DV 2016 (soft Dice loss).",
    "Wang, Popordanoska, Bertels, Lemmens & Blaschko, Dice Semimetric Losses: Optimizing the "
    "Dice Score with Soft Labels, MICCAI 2023.",
)


# --- the losses --------------------------------------------------------------------------------


@register_loss(
    family="segmentation", tasks=("segmentation",), input_kind="logits",
    target_kind="class indices [N, *spatial] or probabilities [N, C, *spatial]",
    aliases=("dice_loss", "soft_dice"),
    properties=("nonnegative", "zero_at_optimum", "handles_imbalance"),
    summary="Soft Dice loss: one minus the Dice overlap between predicted probabilities and the "
            "target, per class and image.",
    formula="D_bc = (2 I_bc + s) / (P_bc + T_bc + s) with I = sum(min(p, t)), P = sum(p), "
            "T = sum(t) over the voxels of image b (or the batch) and class c; L_bc = 1 - D_bc; "
            "mean over (b, c).",
    gradient="dL/dp = -(2 [p < t] (P + T + s) - (2 I + s)) / (P + T + s)^2 per class: a voxel's "
             "pull depends on the whole region, so the loss does not care how many voxels a "
             "class has and small foreground gets a strong gradient; it is large and noisy "
             "when P + T is small.",
    when_to_use="Segmentation with small foreground or heavy class imbalance in pixels, when "
                "the metric is Dice/F1; usually summed with cross-entropy for stable early "
                "training."
                " Dice and IoU (jaccard) always rank two predictions the same way, since D = 2J /"
                " (1 + J); they differ only in how hard they push, not in what they prefer.",
    pitfalls=_OVERLAP_PITFALLS,
    references=_OVERLAP_REFS,
    example_inputs=_seg_examples, optimum=_seg_optimum, none_shape="sample_class",
    reference=_pair_reference(lambda i, p, t, s: (2 * i + s, p + t + s)),
)
def dice(input: torch.Tensor, target: torch.Tensor, *, activation: str = "softmax",
         include_background: bool = True, ignore_index: int | None = None,
         class_weight: torch.Tensor | None = None, smooth: float = 1e-5, batch: bool = False,
         skip_empty: bool = False, distributed: bool = False, group: Any = None,

         weight: torch.Tensor | None = None,
         reduction: str = "mean") -> torch.Tensor:
    """Soft Dice loss ``1 - (2|p ∩ t| + smooth) / (|p| + |t| + smooth)`` per image and class.

    Args:
        input: ``[N, C, *spatial]`` logits (probabilities with ``activation="none"``).
        target: ``[N, *spatial]`` class indices, or ``[N, C, *spatial]`` one-hot or soft
            probabilities.
        activation: ``"softmax"`` (classes exclusive), ``"sigmoid"`` (independent
            channels, multi-label or binary ``C = 1``) or ``"none"``.
        include_background: keep class 0 in the mean.
        ignore_index: voxels with this target index count for nothing.
        class_weight: ``[C]`` weights; ``"mean"`` is then the weighted mean over pairs.
        smooth: added to numerator and denominator.
        batch: sum the statistics over the whole batch (one Dice per class) instead of
            one Dice per image.
        distributed: with ``batch=True``, sum the statistics over every rank of ``group``
            (the global batch); per image, average over every rank's images. DDP-correct
            gradients (:mod:`losskit.distributed`); without a process group, no effect.
        skip_empty: leave out of the mean the (image, class) pairs where the class is
            absent from the target and from the hard prediction (argmax for softmax,
            p > 0.5 otherwise); those are trivially right and otherwise dilute the mean.
        weight: broadcast against the unreduced ``[N, C]`` (``[C]`` with ``batch``) loss.

    Soft targets use the soft intersection ``sum(min(p, t))`` (Wang et al. 2023), so
    ``input == target`` probabilities give exactly 0; it equals MONAI's ``DiceLoss`` with
    hard targets, and with ``soft_label=True`` for soft ones. Unlike MONAI, a
    ``class_weight`` mean divides by the sum of the weights, as cross-entropy does.

    Shape:
        ``"none"`` returns one value per (image, class) ``[N, K]``, or per class ``[K]``
        with ``batch=True`` (``K = C``, or ``C - 1`` without background).

    Example:
        >>> p = torch.tensor([[[0.9, 0.2]], [[0.1, 0.8]]]).unsqueeze(0)  # [1, 2, 1, 2]
        >>> round(float(dice(p, torch.tensor([[[0, 1]]]), activation="none", smooth=0)), 4)
        0.1504
    """
    prep, stats = _overlap_call(
        input, target, activation=activation, include_background=include_background,
        ignore_index=ignore_index, batch=batch, skip_empty=skip_empty, class_weight=class_weight,
        weight=weight, reduction=reduction, smooth=smooth,
        distributed=distributed, group=group)
    return _finish_pairs(_dice_from_stats(stats, smooth), stats, prep, batch=batch,
                         skip_empty=skip_empty, class_weight=class_weight, weight=weight,
                         reduction=reduction, distributed=distributed, group=group)


@register_loss(
    family="segmentation", tasks=("segmentation",), input_kind="logits",
    target_kind="class indices [N, *spatial] or probabilities [N, C, *spatial]",
    aliases=("iou_loss", "soft_jaccard", "soft_iou"),
    properties=("nonnegative", "zero_at_optimum", "handles_imbalance"),
    summary="Soft Jaccard (IoU) loss: one minus intersection over union of predicted "
            "probabilities and target, per class and image.",
    formula="J_bc = (I + s) / (P + T - I + s) with I = sum(min(p, t)) (so P + T - I = "
            "sum(max(p, t)), the soft union); L_bc = 1 - J_bc; mean over (b, c).",
    gradient="dL/dp = -([p < t] U - [p >= t] I) / U^2 per class (U the soft union, ignoring s): "
             "like Dice it is scale-free in the region size; it punishes a given overlap error "
             "more than Dice does (IoU <= Dice).",
    when_to_use="Segmentation judged by IoU / Jaccard, with small or imbalanced foreground. For "
                "a tighter surrogate of the IoU of hard predictions see lovasz_softmax.",
    pitfalls=_OVERLAP_PITFALLS,
    references=(*_OVERLAP_REFS, "Rahman & Wang, Optimizing Intersection-over-Union in Deep "
                "Neural Networks for Image Segmentation, ISVC 2016."),
    example_inputs=_seg_examples, optimum=_seg_optimum, none_shape="sample_class",
    reference=_pair_reference(lambda i, p, t, s: (i + s, p + t - i + s)),
)
def jaccard(input: torch.Tensor, target: torch.Tensor, *, activation: str = "softmax",
            include_background: bool = True, ignore_index: int | None = None,
            class_weight: torch.Tensor | None = None, smooth: float = 1e-5, batch: bool = False,
            skip_empty: bool = False, distributed: bool = False, group: Any = None,

            weight: torch.Tensor | None = None,
            reduction: str = "mean") -> torch.Tensor:
    """Soft Jaccard loss ``1 - (|p ∩ t| + smooth) / (|p ∪ t| + smooth)`` per image and class.

    Arguments, soft-label handling and shapes are those of :func:`dice`. Equals MONAI's
    ``DiceLoss(jaccard=True)`` with hard targets when our ``smooth`` is half of MONAI's
    (MONAI writes ``(2I + s) / (2U + s)``).

    Example:
        >>> p = torch.tensor([[[0.9, 0.2]], [[0.1, 0.8]]]).unsqueeze(0)
        >>> round(float(jaccard(p, torch.tensor([[[0, 1]]]), activation="none", smooth=0)), 4)
        0.2614
    """
    prep, stats = _overlap_call(
        input, target, activation=activation, include_background=include_background,
        ignore_index=ignore_index, batch=batch, skip_empty=skip_empty, class_weight=class_weight,
        weight=weight, reduction=reduction, smooth=smooth,
        distributed=distributed, group=group)
    return _finish_pairs(_jaccard_from_stats(stats, smooth), stats, prep, batch=batch,
                         skip_empty=skip_empty, class_weight=class_weight, weight=weight,
                         reduction=reduction, distributed=distributed, group=group)


def _tversky_reference(input, target, *, alpha=0.3, beta=0.7, gamma=1.0, smooth=1e-5,
                       reduction="mean"):
    inter, pred, tgt = _onehot_stats(input, target)
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
    formula="TI = (I + s) / (I + alpha FP + beta FN + s), FP = P - I, FN = T - I, "
            "I = sum(min(p, t)); L = (1 - TI)^gamma; mean over (image, class).",
    gradient="beta > alpha makes a missed foreground voxel cost more than a false alarm, "
             "pushing toward recall. gamma < 1 raises the gradient of nearly solved classes "
             "(the slope of x^gamma grows as x -> 0), gamma > 1 lowers it; the slope at exactly "
             "0 is taken as 0.",
    when_to_use="Small lesions or structures where missing foreground is worse than a false "
                "alarm (alpha = 0.3, beta = 0.7 as in Salehi et al.). alpha = beta = 0.5 is Dice "
                "(up to the smooth term); alpha = beta = 1 is Jaccard.",
    pitfalls=_OVERLAP_PITFALLS + " Abraham & Khan write the focal exponent as 1/gamma: their "
             "gamma = 4/3 is gamma = 0.75 here. With gamma < 1 the gradient near a perfect "
             "class is very large.",
    references=("Salehi, Erdogmus & Gholipour, Tversky loss function for image segmentation "
                "using 3D fully convolutional deep networks, MLMI 2017.",
                "Abraham & Khan, A Novel Focal Tversky loss function with improved Attention "
                "U-Net for lesion segmentation, ISBI 2019.", _OVERLAP_REFS[1]),
    example_inputs=_seg_examples, optimum=_seg_optimum, none_shape="sample_class",
    reference=_tversky_reference,
)
def tversky(input: torch.Tensor, target: torch.Tensor, *, alpha: float = 0.3,
            beta: float = 0.7, gamma: float = 1.0, activation: str = "softmax",
            include_background: bool = True, ignore_index: int | None = None,
            class_weight: torch.Tensor | None = None, smooth: float = 1e-5, batch: bool = False,
            skip_empty: bool = False, distributed: bool = False, group: Any = None,

            weight: torch.Tensor | None = None,
            reduction: str = "mean") -> torch.Tensor:
    """(Focal) Tversky loss ``(1 - (I + s) / (I + alpha FP + beta FN + s))^gamma``.

    ``alpha`` weighs false positives, ``beta`` false negatives (MONAI's convention).
    With soft targets ``FP = sum(relu(p - t))`` and ``FN = sum(relu(t - p))`` (the min
    form), which equals MONAI's ``TverskyLoss`` products ``sum(p (1 - t))`` and
    ``sum((1 - p) t)`` for hard targets. Other arguments and shapes are those of
    :func:`dice`.

    Example:
        >>> p = torch.tensor([[[0.9, 0.2]], [[0.1, 0.8]]]).unsqueeze(0)
        >>> t = torch.tensor([[[0, 1]]])
        >>> round(float(tversky(p, t, alpha=0.5, beta=0.5, activation="none", smooth=0)), 4)
        0.1504
    """
    check_param("alpha", alpha)
    check_param("beta", beta)
    check_param("gamma", gamma, low=0.0, low_inclusive=False)
    prep, stats = _overlap_call(
        input, target, activation=activation, include_background=include_background,
        ignore_index=ignore_index, batch=batch, skip_empty=skip_empty, class_weight=class_weight,
        weight=weight, reduction=reduction, smooth=smooth,
        distributed=distributed, group=group)
    loss = _tversky_from_stats(stats, smooth, alpha, beta, gamma)
    return _finish_pairs(loss, stats, prep, batch=batch, skip_empty=skip_empty,
                         class_weight=class_weight, weight=weight, reduction=reduction,
                         distributed=distributed, group=group)


def _sudre_weights(target_volume: torch.Tensor) -> torch.Tensor:
    """w_c = 1 / T_c^2 (Sudre et al.), normalized to sum 1 per row.

    A class absent from the target (T_c = 0) would get an infinite weight; as in MONAI it
    gets the largest finite weight of its row instead. The normalization leaves the loss
    unchanged when smooth = 0 (the ratio is scale-free) and keeps ``smooth`` on the scale
    of voxel counts, instead of being compared with sums of order 1 / T.
    """
    with torch.no_grad():
        present = target_volume > 0
        w = torch.where(present, 1.0 / torch.where(present, target_volume, 1.0).square(), 0.0)
        w = torch.where(present, w, w.amax(dim=-1, keepdim=True))
        return safe_divide(w, w.sum(dim=-1, keepdim=True))


def _generalized_reference(input, target, *, smooth=1e-5, reduction="mean"):
    inter, pred, tgt = _onehot_stats(input, target)
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
    formula="w_c = 1 / T_c^2 (normalized);  L_b = 1 - (2 sum_c w_c I_bc + s) / "
            "(sum_c w_c (P_bc + T_bc) + s); I = sum(min(p, t)); mean over images b.",
    gradient="Each class's contribution to the gradient is scaled by 1 / T_c^2, so a class "
             "with 100x fewer voxels is not drowned out by the background; the per-image value "
             "is a single ratio, so it is smoother than averaging per-class Dice scores.",
    when_to_use="Multi-class segmentation with strong volume imbalance between classes (tiny "
                "lesions next to large organs), when one loss per image is preferred over a "
                "per-class mean.",
    pitfalls="A class absent from an image's target has no finite Sudre weight: it gets the "
             "largest finite weight of that image (as MONAI does). With very small target "
             "volumes the weights explode and the loss is dominated by a few voxels; batch=True "
             "computes volumes over the batch and is steadier. " + _OVERLAP_PITFALLS,
    references=("Sudre, Li, Vercauteren, Ourselin & Cardoso, Generalised Dice overlap as a deep "
                "learning loss function for highly unbalanced segmentations, DLMIA 2017.",
                "Crum, Camara & Hill, Generalized overlap measures for evaluation and validation "
                "in medical image analysis, IEEE TMI 2006.", _OVERLAP_REFS[1]),
    example_inputs=_seg_examples, optimum=_seg_optimum, none_shape="sample",
    reference=_generalized_reference,
)
def generalized_dice(input: torch.Tensor, target: torch.Tensor, *, activation: str = "softmax",
                     include_background: bool = True, ignore_index: int | None = None,
                     class_weight: torch.Tensor | None = None, smooth: float = 1e-5,
                     batch: bool = False, skip_empty: bool = False, distributed: bool = False,
                     group: Any = None, weight: torch.Tensor | None = None,
                     reduction: str = "mean") -> torch.Tensor:
    """Generalized Dice loss (Sudre et al. 2017) with weights ``1 / T_c^2``.

    ``class_weight`` multiplies the Sudre weights; ``skip_empty`` gives the pairs absent
    from target and hard prediction weight 0. The weights are normalized to sum to 1 per
    image (or batch), which changes nothing when ``smooth = 0`` and equals MONAI's
    ``GeneralizedDiceLoss`` there (hard targets); with ``smooth > 0`` MONAI's
    unnormalized weights of order ``1 / T^2`` make its ``smooth`` far larger in effect.

    Shape:
        ``"none"`` returns one value per image ``[N]``, or a 0-dim tensor with
        ``batch=True``; ``weight`` broadcasts against that.

    Example:
        >>> p = torch.tensor([[[0.9, 0.2]], [[0.1, 0.8]]]).unsqueeze(0)
        >>> t = torch.tensor([[[0, 1]]])
        >>> round(float(generalized_dice(p, t, activation="none", smooth=0)), 4)
        0.15
    """
    prep, stats = _overlap_call(
        input, target, activation=activation, include_background=include_background,
        ignore_index=ignore_index, batch=batch, skip_empty=skip_empty, class_weight=class_weight,
        weight=weight, reduction=reduction, smooth=smooth,
        distributed=distributed, group=group)
    w = _sudre_weights(stats.target)
    cw = _class_weight(class_weight, prep.kept, w.shape[1], w)
    if cw is not None:
        w = w * cw
    if skip_empty:
        w = w * ((stats.target > 0) | (stats.predicted_count > 0))
    numerator = 2.0 * (w * stats.intersection).sum(-1) + smooth
    denominator = (w * (stats.prediction + stats.target)).sum(-1) + smooth
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


def _lovasz_softmax_reference(input, target, *, reduction="mean"):
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
    summary="Lovász-Softmax loss: a convex, tight surrogate of the per-class Jaccard loss "
            "(1 - IoU) evaluated on the errors |1[t = c] - p_c|.",
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
             "those present in the target). Gradients are sparse early in training: start "
             "from cross-entropy.",
    references=("Berman, Rannen Triki & Blaschko, The Lovász-Softmax loss: A tractable "
                "surrogate for the optimization of the intersection-over-union measure in "
                "neural networks, CVPR 2018.",
                "Lovász, Submodular functions and convexity, 1983."),
    example_inputs=_seg_examples, optimum=_seg_optimum, none_shape="sample_class",
    reference=_lovasz_softmax_reference,
)
def lovasz_softmax(input: torch.Tensor, target: torch.Tensor, *, activation: str = "softmax",
                   include_background: bool = True, ignore_index: int | None = None,
                   class_weight: torch.Tensor | None = None, batch: bool = False,
                   skip_empty: bool = False, weight: torch.Tensor | None = None,
                   reduction: str = "mean") -> torch.Tensor:
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
                    ignore_index=ignore_index, class_weight=class_weight, weight=weight,
                    reduction=reduction, dense_targets=False)
    x = prep.logits
    n, c, s = x.shape
    p = _activate(x, activation)
    if prep.index is not None:
        fg = prep.index.unsqueeze(1) == torch.arange(c, device=x.device).view(1, c, 1)
    else:  # binary single channel
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
    target_count = fg.sum(-1).to(x.dtype)
    counts = None
    if skip_empty:
        counts = _hard_counts(prep, activation)
        counts = counts.sum(0, keepdim=True) if batch else counts
    stats = OverlapStats(loss, loss, target_count[:, prep.kept],
                         None if counts is None else counts[:, prep.kept])
    return _finish_pairs(loss[:, prep.kept], stats, prep, batch=batch, skip_empty=skip_empty,
                         class_weight=class_weight, weight=weight, reduction=reduction)


def _binary_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return ex.randn(n, 6, 6, g=g) * 2, (ex.rand(n, 6, 6, g=g) > 0.6).long()


def _hinge_optimum(args: tuple) -> tuple:
    """Margins of 5 > 1 on every pixel: every hinge error is negative."""
    return (5.0 * (2.0 * args[1].to(args[0].dtype) - 1.0), args[1], *args[2:])


def _lovasz_hinge_reference(input, target, *, reduction="mean"):
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
                 reduction: str = "mean") -> torch.Tensor:
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
        fg = t > 0.5
        if bool(((t != 0) & (t != 1)).any()):
            raise LossInputError("lovasz_hinge needs hard labels: target must hold 0 and 1")
    else:
        labels = t.long()
        check_class_indices("target", labels, 2, ignore_index)
        fg = labels == 1
        if ignore_index is not None:
            valid = labels != ignore_index
            fg = fg & valid
    errors = 1.0 - x * (2.0 * fg.to(x.dtype) - 1.0)
    if batch:
        errors, fg = errors.reshape(1, -1), fg.reshape(1, -1)
        valid = None if valid is None else valid.reshape(1, -1)
    loss = _lovasz_jaccard(errors, fg, valid)
    if batch:
        loss = loss[0]
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight)
