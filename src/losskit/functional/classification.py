"""Classification losses: raw logits in, class indices or probabilities as targets.

Conventions (DESIGN.md section 2):

* Binary and multi-label losses (``binary_cross_entropy``, ``sigmoid_focal``, ``hinge``,
  ``asymmetric_multilabel``) are elementwise: ``input: [*]`` logits, ``target: [*]`` of the
  same shape; ``reduction="none"`` returns ``[*]``.
* Multi-class losses (``cross_entropy``, ``nll``, ``softmax_focal``, ``multiclass_hinge``,
  ``poly1_cross_entropy``) take ``input: [N, C, *]`` with the class dimension at 1 and
  ``target: [N, *]`` integer class indices (int64 or int32), or, where it makes sense,
  ``[N, C, *]`` float probabilities. ``reduction="none"`` returns one value per position,
  ``[N, *]``.
* Every loss is computed from logits with log-sigmoid / log-softmax, never by taking the
  log of a probability, so logits of any finite size give finite values and gradients.
  float16 / bfloat16 inputs are computed in float32.
* Ignored targets (``ignore_index``) and empty batches give 0.0 attached to the graph, not
  NaN as PyTorch does.

Each function is its loss's definition in plain torch. Where an accelerator exists
(torch's fused builtins, the native C sweeps and row kernels of :mod:`losskit.kernels`)
the definition asks :func:`losskit.kernels.dispatch` at one point and reduces what comes
back with ``_core.reduce``; the tests check every accelerator against the definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, overload

import torch
import torch.nn.functional as F

from .._core._math import as_scalar
from .._core.reduce import fused_mean_ok, reduce, reduce_summed, safe_divide, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    _reading_values,
    check_broadcastable,
    check_class_indices,
    check_floating,
    check_nonnegative,
    check_param,
    check_probabilities,
    check_reduction,
    check_same_shape,
)
from ..kernels import builtin as _builtin  # noqa: F401  (registers torch's fused losses)
from ..kernels import dispatch, dispatch_mean
from ..kernels import elementwise as _native_elementwise  # noqa: F401  (registers C sweeps)
from ..kernels import softmax_xent as _native_rows  # noqa: F401  (registers C row kernels)
from . import _examples as ex
from ._references import reduced

__all__ = [
    "asymmetric_multilabel",
    "binary_cross_entropy",
    "cross_entropy",
    "hinge",
    "multiclass_hinge",
    "nll",
    "poly1_cross_entropy",
    "sigmoid_focal",
    "softmax_focal",
]

_TASKS_BINARY = ("classification", "binary_classification", "multilabel_classification")
_TASKS_MULTICLASS = ("classification", "multiclass_classification", "segmentation")


# --- shared helpers -------------------------------------------------------------------------


def _focal_factor(z: torch.Tensor, gamma: float | torch.Tensor) -> torch.Tensor:
    """``z ** gamma`` for a probability ``z`` in [0, 1], safe to differentiate.

    ``gamma = 0`` is exactly 1 (the plain loss). ``z`` is clamped at the smallest normal
    float first: for ``gamma < 1`` the derivative ``gamma z^(gamma-1)`` is infinite at 0 and
    would turn a saturated logit into a NaN gradient; the clamp changes the value by at
    most ``tiny ** gamma`` (tiny = 1.2e-38 in float32). A tensor ``gamma`` (learnable)
    always takes the power, whose value at 0 is 1 too.
    """
    if not isinstance(gamma, torch.Tensor) and gamma == 0:
        return torch.ones_like(z)
    return z.clamp(min=torch.finfo(z.dtype).tiny).pow(gamma)


def _as_tensor(name: str, value: float | Sequence[float] | torch.Tensor,
               like: torch.Tensor) -> torch.Tensor:
    """A float/sequence/tensor hyperparameter as a tensor of ``like``'s dtype and device."""
    if isinstance(value, torch.Tensor):
        if not (value.is_floating_point() or value.dtype in (torch.int32, torch.int64)):
            raise LossInputError(f"{name} must be a real tensor, got dtype {value.dtype}")
        return value.to(dtype=like.dtype, device=like.device)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return as_scalar(value, like)
    try:  # a sequence: host data, copied once per call (pass a device tensor to avoid it)
        return torch.as_tensor(value, dtype=like.dtype, device=like.device)
    except (TypeError, ValueError, RuntimeError):
        raise LossInputError(f"{name} must be a number or a tensor, got {value!r}") from None


def _class_vector(name: str, value: float | Sequence[float] | torch.Tensor | None,
                  input: torch.Tensor, x: torch.Tensor) -> torch.Tensor | None:
    """A per-class ``[C]`` tensor (class_weight, alpha), validated against the input's C."""
    if value is None:
        return None
    w = _as_tensor(name, value, x)
    num_classes = input.shape[1]
    if w.shape != (num_classes,):
        raise LossInputError(
            f"{name} must have shape [C] = ({num_classes},), one entry per class, got "
            f"{tuple(w.shape)}"
        )
    check_nonnegative(name, w)
    return w


#: The end of a weight-shape error: torch's ``weight=`` of cross_entropy / nll_loss is a class
#: weight, the usual way a [C] tensor arrives here.
CLASS_WEIGHT_HINT = ("; weight= weighs each position of the loss, [N, *]: per-class weights "
                     "(torch's weight= of cross_entropy and nll_loss) are class_weight=")


def _check_position_weight(weight: torch.Tensor | None, input: torch.Tensor) -> None:
    """``weight`` broadcasts to the loss's positions ``[N, *]`` of ``[N, C, *]`` logits."""
    check_broadcastable("weight", weight, torch.Size((input.shape[0], *input.shape[2:])),
                        hint=CLASS_WEIGHT_HINT)


def _check_class_input(input: torch.Tensor) -> None:
    check_floating("input", input)
    if input.dim() < 2:
        raise LossInputError(
            f"input must have shape [N, C, *] (batch, classes, ...), got shape {tuple(input.shape)}"
        )


def _target_kind(input: torch.Tensor, target: torch.Tensor, ignore_index: int | None,
                 *, allow_soft: bool = True) -> tuple[str, bool]:
    """``("index" | "soft", all_counted)``; raises a LossInputError that says which form was
    meant. ``all_counted`` is True when the value check read every index target and none
    is ``ignore_index``, so the definition needs no mask (False means "unknown")."""
    if not isinstance(target, torch.Tensor):
        raise LossInputError(f"target must be a torch.Tensor, got {type(target).__name__}")
    index_shape = (input.shape[0], *input.shape[2:])
    soft_form = (f" or float probabilities shaped like the input {tuple(input.shape)}"
                 if allow_soft else "")
    if target.is_floating_point():
        if allow_soft and target.shape == input.shape:
            check_probabilities("target", target)
            return "soft", True
        if target.shape == index_shape:
            raise LossInputError(
                f"target has the shape of class indices {tuple(target.shape)} but dtype "
                f"{target.dtype}; class indices must be an integer tensor (target.long())"
                + (f", and probability targets must have the input's shape "
                   f"{tuple(input.shape)}" if allow_soft else "")
            )
    elif target.shape == index_shape:
        verified = check_class_indices("target", target, input.shape[1], ignore_index)
        # Every entry is in 0..C-1: none is ignored unless ignore_index is itself a class.
        return "index", verified and not (ignore_index is not None
                                          and 0 <= ignore_index < input.shape[1])
    elif allow_soft and target.shape == input.shape:
        raise LossInputError(
            f"target has the input's shape {tuple(target.shape)} but integer dtype "
            f"{target.dtype}; probability (soft or one-hot) targets must be floating point "
            "(target.float())"
        )
    raise LossInputError(
        f"target must hold integer class indices of shape [N, *] = {index_shape}{soft_form}; "
        f"got shape {tuple(target.shape)} and dtype {target.dtype}"
    )


def _gather_class(t: torch.Tensor, target: torch.Tensor,
                  valid: torch.Tensor | None) -> torch.Tensor:
    """``t[n, target[n, *], *]`` per position; positions that do not count read class 0."""
    safe = (target if valid is None else torch.where(valid, target, 0)).long()
    return t.gather(1, safe.unsqueeze(1)).squeeze(1)


def _accelerator_input(input: torch.Tensor, x: torch.Tensor,
                       softcap: float | None) -> torch.Tensor:
    """What a row accelerator receives: the caller's float16/bfloat16 logits as they are
    (a kernel that accumulates in float32 reads half the bytes and needs no float32 copy;
    accelerators that cannot, decline those dtypes), else the definition's upcast ``x``."""
    if softcap is None and input.dtype in (torch.float16, torch.bfloat16):
        return input
    return x


@overload
def _per_position(vector: torch.Tensor, target: torch.Tensor,
                  valid: torch.Tensor | None) -> torch.Tensor: ...
@overload
def _per_position(vector: None, target: torch.Tensor, valid: torch.Tensor | None) -> None: ...
def _per_position(vector: torch.Tensor | None, target: torch.Tensor,
                  valid: torch.Tensor | None) -> torch.Tensor | None:
    """``vector[target]`` per position (class weights, alpha); class 0 where not counted."""
    if vector is None:
        return None
    return vector[target if valid is None else torch.where(valid, target, 0)]


def _class_sum(t: torch.Tensor, class_vector: torch.Tensor | None) -> torch.Tensor:
    """``sum_c v_c t[:, c]`` over the class dimension (plain sum when ``v`` is None)."""
    if class_vector is None:
        return t.sum(1)
    # A matrix-vector product over the classes: no [N, C, *] product temporary.
    return t.movedim(1, -1) @ class_vector


# --- binary / multi-label --------------------------------------------------------------------


def _bce_terms(x: torch.Tensor, y: torch.Tensor,
               pos_weight: torch.Tensor | float | None) -> torch.Tensor:
    """Elementwise ``-[pw y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]`` from logits.

    Stable form: log(1 - sigmoid(x)) = log sigmoid(x) - x, so the loss is
    ``(1 - y) x - (1 + (pw - 1) y) log sigmoid(x)``, and log sigmoid is evaluated by
    ``F.logsigmoid`` without ever forming sigmoid(x) (no log(0) for |x| large).
    """
    log_p = F.logsigmoid(x)
    if pos_weight is None:
        return (1 - y) * x - log_p
    return (1 - y) * x - (1 + (pos_weight - 1) * y) * log_p


def _binary_inputs(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
                   reduction: str, ignore_index: int | None = None,
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Checked ``(x, y, mask)``: upcast logits, float targets, and the mask of counted
    elements (``None`` without ``ignore_index``; ignored targets read 0 in ``y``)."""
    check_reduction(reduction)
    check_floating("input", input)
    if not isinstance(target, torch.Tensor):
        raise LossInputError(f"target must be a torch.Tensor, got {type(target).__name__}")
    check_same_shape("input", input, "target", target)
    check_broadcastable("weight", weight, input.shape)
    x = upcast(input)
    mask = None
    if ignore_index is not None:
        mask = target != ignore_index
        target = torch.where(mask, target, 0)
    if not (target.is_floating_point() or target.is_complex()):
        target = target.to(x.dtype)  # integer or bool 0/1 labels are accepted as they are
    check_probabilities("target", target)
    return x, upcast(target).to(x.dtype), mask


def _binary_alpha(alpha: float | torch.Tensor | None,
                  x: torch.Tensor) -> torch.Tensor | float | None:
    """Focal alpha: None, a number in [0, 1], or a tensor broadcast against the input
    (e.g. ``[C]``, one per label), learnable."""
    if alpha is None or not isinstance(alpha, torch.Tensor):
        if alpha is not None:
            check_param("alpha", alpha, low=0.0, high=1.0)
        return alpha
    a = _as_tensor("alpha", alpha, x)
    check_param("alpha", a, low=0.0, high=1.0, learnable=True, broadcast_to=x.shape)
    return a


def _bce_scalar(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # The textbook Bernoulli likelihood on probabilities (fine in float64 at |x| < 30).
    p = 1.0 / (1.0 + torch.exp(-x))
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p))


def _bce_reference(input: torch.Tensor, target: torch.Tensor, *,
                   reduction: str = "mean") -> torch.Tensor:
    flat = [_bce_scalar(x, y) for x, y in zip(input.reshape(-1), target.reshape(-1))]
    loss = torch.stack(flat).reshape(input.shape) if flat else input * 0
    return reduced(loss, reduction)


@register_loss(
    family="classification", tasks=_TASKS_BINARY, input_kind="logits",
    target_kind="binary labels or probabilities in [0, 1], same shape as the input",
    aliases=("bce", "binary_cross_entropy_with_logits", "log_loss"),
    properties=("convex", "smooth", "nonnegative", "bounded_gradient", "handles_imbalance",
                "proper_scoring"),
    summary="Binary cross-entropy on logits: the negative Bernoulli log-likelihood of each "
            "label, for binary and multi-label classification.",
    formula="p = sigmoid(x);  L = -[pos_weight y log p + (1 - y) log(1 - p)];  with label "
            "smoothing eps the target becomes y (1 - eps) + eps / 2",
    gradient="dL/dx = p - y without pos_weight: the error in probability, bounded by 1, and "
             "largest for confident mistakes. pos_weight scales the positive part to "
             "pos_weight (p - 1) y.",
    when_to_use="Binary classification and multi-label classification (one independent "
                "sigmoid per label, target [N, L]). Soft targets in [0, 1] (distillation, "
                "label noise) are handled exactly. Use pos_weight = #neg / #pos to rebalance "
                "a rare positive class.",
    pitfalls="Pass logits, not probabilities: a sigmoid followed by log loses all precision "
             "for confident predictions. For mutually exclusive classes use cross_entropy, "
             "whose softmax couples the classes. Calibration: with pos_weight=None and "
             "label_smoothing=0 it is a proper scoring rule (for a label that is 1 with "
             "probability q the expected loss is minimized at sigmoid(x) = q), so its "
             "probabilities are calibrated on the training distribution. pos_weight moves "
             "that minimizer to pw q / (pw q + 1 - q) (q = 0.1 with pw = 9 predicts 0.5) and "
             "label smoothing to (1 - eps) q + eps / 2, so neither gives probabilities to "
             "read as such: recalibrate on held-out data (losskit.calibration."
             "temperature_scale, or Platt scaling) or move the threshold instead.",
    references=("Cox, The regression analysis of binary sequences, JRSS B 1958.",
                "Gneiting & Raftery, Strictly Proper Scoring Rules, Prediction, and Estimation, "
                "JASA 2007.",
                "torch.nn.BCEWithLogitsLoss (same values, including pos_weight and weight)."),
    example_inputs=ex.binary_logits, reference=_bce_reference,
)
def binary_cross_entropy(input: torch.Tensor, target: torch.Tensor, *,
                         pos_weight: float | torch.Tensor | None = None,
                         label_smoothing: float = 0.0, ignore_index: int | None = None,
                         weight: torch.Tensor | None = None,
                         reduction: Reduction = "mean") -> torch.Tensor:
    """Binary cross-entropy with logits (same values as ``F.binary_cross_entropy_with_logits``).

    Args:
        pos_weight: weight of the positive term, a number or a tensor broadcast against the
            input (e.g. ``[L]``, one per label); ``None`` is 1.
        label_smoothing: ``eps`` in [0, 1]; targets become ``y (1 - eps) + eps / 2``.
        ignore_index: targets equal to it (e.g. -1 for "unknown" labels) do not count;
            ``"mean"`` divides by the number of counted elements.
        weight: rescales the unreduced loss; ``"mean"`` still divides by the element count,
            as torch does.

    Shape:
        input: ``[*]`` logits (``[N]`` binary, ``[N, L]`` multi-label); target: ``[*]`` in
        [0, 1]; output: scalar, or ``[*]`` with ``reduction="none"``.

    Example:
        >>> binary_cross_entropy(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0]))
        tensor(0.6931)
    """
    check_param("label_smoothing", label_smoothing, low=0.0, high=1.0)
    x, y, mask = _binary_inputs(input, target, weight, reduction, ignore_index)
    if label_smoothing:
        y = y * (1 - label_smoothing) + 0.5 * label_smoothing
    if isinstance(pos_weight, torch.Tensor):
        pos_weight = _as_tensor("pos_weight", pos_weight, x)
        check_broadcastable("pos_weight", pos_weight, x.shape)
        check_nonnegative("pos_weight", pos_weight)
    elif pos_weight is not None:
        check_param("pos_weight", pos_weight, low=0.0)
    if mask is None:
        # call: (x, y, *, reduction, pos_weight, weight) -> unreduced loss or its sum
        if fused_mean_ok(reduction, x.shape):
            found = dispatch_mean("binary_cross_entropy", x, y, reduction=reduction,
                                  pos_weight=pos_weight, weight=weight)
            if found is not None:
                return found[0] if found[1] else reduce_summed(found[0], reduction,
                                                               shape=x.shape)
        else:
            fast = dispatch("binary_cross_entropy", x, y, reduction=reduction,
                            pos_weight=pos_weight, weight=weight)
            if fast is not None:
                return reduce_summed(fast, reduction, shape=x.shape)
    return reduce(_bce_terms(x, y, pos_weight), reduction, weight=weight, mask=mask)


def _sigmoid_focal_terms(x: torch.Tensor, y: torch.Tensor, gamma: float | torch.Tensor,
                         alpha: float | torch.Tensor | None,
                         pos_weight: torch.Tensor | float | None = None) -> torch.Tensor:
    """Elementwise RetinaNet focal loss ``alpha_t (1 - p_t)^gamma * BCE(x, y)``, the positive
    part of the BCE scaled by ``pos_weight`` when given."""
    loss = _bce_terms(x, y, pos_weight)
    if isinstance(gamma, torch.Tensor) or gamma:
        # 1 - p_t = y sigmoid(-x) + (1 - y) sigmoid(x): the probability given to the wrong
        # answer, read from sigmoid(-x) directly so it does not cancel to 0 when p_t ~ 1.
        # For soft y this equals torchvision's p + y - 2 p y.
        wrong = y * torch.sigmoid(-x) + (1 - y) * torch.sigmoid(x)
        loss = loss * _focal_factor(wrong, gamma)
    if alpha is not None:
        loss = loss * (alpha * y + (1 - alpha) * (1 - y))
    return loss


def _sigmoid_focal_reference(input: torch.Tensor, target: torch.Tensor, *,
                             reduction: str = "mean") -> torch.Tensor:
    # Textbook definition on probabilities (Lin et al. 2017, eq. 5), fine in float64.
    p = torch.sigmoid(input)
    p_t = p * target + (1 - p) * (1 - target)
    alpha_t = 0.25 * target + 0.75 * (1 - target)
    return reduced(-alpha_t * (1 - p_t) ** 2 * torch.log(p_t), reduction)


@register_loss(
    family="classification", tasks=(*_TASKS_BINARY, "detection"), input_kind="logits",
    target_kind="binary labels or probabilities in [0, 1], same shape as the input",
    aliases=("sigmoid_focal_loss", "binary_focal", "retinanet_focal"),
    properties=("nonnegative", "bounded_gradient", "handles_imbalance"),
    summary="Sigmoid focal loss (RetinaNet): binary cross-entropy scaled down on examples the "
            "model already gets right, so rare hard examples dominate training.",
    formula="p = sigmoid(x);  p_t = p y + (1 - p)(1 - y);  alpha_t = alpha y + (1 - alpha)(1 - y);"
            "  L = -alpha_t (1 - p_t)^gamma log p_t",
    gradient="Relative to BCE's p - y the gradient is scaled by (1 - p_t)^gamma - gamma p_t "
             "(1 - p_t)^(gamma - 1) log p_t (alpha aside): the modulating factor's own "
             "derivative makes the gradient fall more slowly than the loss. At gamma = 2 an "
             "easy example with p_t = 0.9 has 100x less loss than under BCE but only ~35x "
             "less gradient (factor 0.029); at p_t = 0.5 it keeps 60%, and a misclassified "
             "one (p_t -> 0) almost the full BCE gradient.",
    when_to_use="Dense detection and multi-label problems with extreme foreground/background "
                "imbalance (1:1000 anchors), where the sum of many easy negatives would swamp "
                "the loss. gamma = 2, alpha = 0.25 are the RetinaNet defaults.",
    learnable=("gamma", "alpha"),
    pitfalls="alpha weights the positive class by alpha (0.25 < 0.5 down-weights positives: it "
             "compensates for gamma, it is not a rarity weight); alpha=None turns it off "
             "(torchvision's alpha=-1). pos_weight multiplies the positive term as in "
             "binary_cross_entropy (kornia's pos_weight; gamma=0, alpha=None is BCE with "
             "pos_weight). RetinaNet normalises the summed loss by the number of positive "
             "anchors, not by all elements: use reduction='sum' and divide yourself. Soft "
             "targets follow torchvision's p_t = p y + (1 - p)(1 - y); kornia's binary focal "
             "instead weights y and 1 - y by (1 - p)^gamma and p^gamma separately (equal for "
             "hard labels). Calibration: not a proper scoring rule. For a label that is 1 "
             "with probability q the expected loss (gamma = 2, alpha=None) is minimized at "
             "p = 0.69 for q = 0.9 and 0.31 for q = 0.1: predictions are pulled toward 0.5 "
             "(under-confident), and alpha = 0.25 shifts them further toward 0 (q = 0.5 gives "
             "0.40). Recalibrate on held-out data (losskit.calibration.temperature_scale) "
             "before reading them as probabilities. Non-convex.",
    references=("Lin, Goyal, Girshick, He, Dollar, Focal Loss for Dense Object Detection, "
                "ICCV 2017.",
                "Guo, Pleiss, Sun & Weinberger, On Calibration of Modern Neural Networks, "
                "ICML 2017 (temperature scaling).",
                "torchvision.ops.sigmoid_focal_loss (same values; alpha=-1 there is "
                "alpha=None here)."),
    example_inputs=ex.binary_logits, reference=_sigmoid_focal_reference,
)
def sigmoid_focal(input: torch.Tensor, target: torch.Tensor, *,
                  gamma: float | torch.Tensor = 2.0,
                  alpha: float | torch.Tensor | None = 0.25, ignore_index: int | None = None,
                  pos_weight: float | torch.Tensor | None = None,
                  weight: torch.Tensor | None = None,
                  reduction: Reduction = "mean") -> torch.Tensor:
    """Sigmoid focal loss on logits (the RetinaNet / torchvision ``sigmoid_focal_loss`` form).

    Args:
        gamma: focusing parameter >= 0; 0 gives (alpha-weighted) binary cross-entropy.
        alpha: weight of the positive class in [0, 1] (negatives get 1 - alpha): a number,
            a tensor broadcast against the input (``[C]``: one per label), or ``None`` for
            no weighting.
        ignore_index: targets equal to it do not count.
        pos_weight: multiplies the positive part of the loss, as in
            :func:`binary_cross_entropy` (a number or a tensor broadcast against the input,
            e.g. ``[L]``); ``None`` is 1. With ``gamma=0, alpha=None`` the loss is
            ``binary_cross_entropy(..., pos_weight=pos_weight)``.

    Shape:
        input: ``[*]`` logits; target: ``[*]`` in [0, 1]; output: scalar, or ``[*]``.

    Example:
        >>> sigmoid_focal(torch.tensor([0.0]), torch.tensor([1.0]), alpha=None)
        tensor(0.1733)
    """
    check_param("gamma", gamma, low=0.0, learnable=True)
    x, y, mask = _binary_inputs(input, target, weight, reduction, ignore_index)
    alpha = _binary_alpha(alpha, x)
    if isinstance(pos_weight, torch.Tensor):
        pos_weight = _as_tensor("pos_weight", pos_weight, x)
        check_broadcastable("pos_weight", pos_weight, x.shape)
        check_nonnegative("pos_weight", pos_weight)
    elif pos_weight is not None:
        check_param("pos_weight", pos_weight, low=0.0)
    if mask is None and pos_weight is None:
        # call: (x, y, *, reduction, gamma, alpha, weight) -> unreduced loss or its sum
        fast = dispatch("sigmoid_focal", x, y, reduction=reduction, gamma=gamma, alpha=alpha,
                        weight=weight)
        if fast is not None:
            return reduce_summed(fast, reduction, shape=x.shape)
    return reduce(_sigmoid_focal_terms(x, y, gamma, alpha, pos_weight), reduction, weight=weight,
                  mask=mask)


def _asl_reference(input: torch.Tensor, target: torch.Tensor, *,
                   reduction: str = "mean") -> torch.Tensor:
    # The authors' AsymmetricLoss (github.com/Alibaba-MIIL/ASL, losses.py) with the paper's
    # gamma_pos=0, gamma_neg=4, clip=0.05, eps=1e-8, written on probabilities.
    p = torch.sigmoid(input)
    xs_neg = (1 - p + 0.05).clamp(max=1)
    loss = target * torch.log(p.clamp(min=1e-8)) + (1 - target) * torch.log(xs_neg.clamp(min=1e-8))
    pt = p * target + xs_neg * (1 - target)
    loss = -loss * torch.pow(1 - pt, 0.0 * target + 4.0 * (1 - target))
    return reduced(loss, reduction)


@register_loss(
    family="classification", tasks=_TASKS_BINARY, input_kind="logits",
    target_kind="binary labels or probabilities in [0, 1], same shape as the input",
    aliases=("asl", "asymmetric_loss"),
    properties=("nonnegative", "bounded_gradient", "handles_imbalance"),
    summary="Asymmetric loss (ASL) for multi-label classification: focal-style down-weighting "
            "with separate strengths for positives and negatives, plus a probability margin "
            "that discards very easy negatives.",
    formula="p = sigmoid(x);  p_m = max(p - clip, 0);  L = -y (1 - p)^gamma_pos log p "
            "- (1 - y) p_m^gamma_neg log(1 - p_m)",
    gradient="Positives get (near) BCE gradients (gamma_pos = 0); negatives are damped by "
             "p_m^gamma_neg and get exactly zero gradient once p < clip, so the many easy "
             "negatives of a multi-label image stop contributing; very confident wrong "
             "negatives (possibly missing labels) also get a reduced gradient.",
    when_to_use="Multi-label classification with many labels and few positives per sample "
                "(tagging, attributes, MS-COCO / OpenImages style), where BCE is dominated by "
                "negatives. Defaults follow the paper: gamma_pos=0, gamma_neg=4, clip=0.05.",
    pitfalls="The loss is deliberately biased towards predicting positives; tune the decision "
             "threshold on validation data instead of using 0.5. Calibration: not a proper "
             "scoring rule (the asymmetric focusing and the clip both move the minimizer "
             "above the true label frequency), so recalibrate per label on held-out data "
             "(losskit.calibration.temperature_scale) before reading outputs as "
             "probabilities. clip > 0 makes negatives "
             "with p < clip contribute nothing, so a badly initialised model (all p ~ 0) "
             "learns only from positives at first. With clip=0 and equal gammas it is the "
             "symmetric focal loss without alpha. The focusing weight is differentiated "
             "here; the authors' training script detaches it "
             "(disable_torch_grad_focal_loss=True), which changes the negatives' gradient, "
             "and their loss is a sum where this one defaults to the mean.",
    references=("Ridnik, Ben-Baruch, Zamir, Noy, Friedman, Protter, Zelnik-Manor, Asymmetric "
                "Loss For Multi-Label Classification, ICCV 2021.",),
    example_inputs=ex.binary_logits, reference=_asl_reference,
    learnable=("gamma_pos", "gamma_neg"),
)
def asymmetric_multilabel(input: torch.Tensor, target: torch.Tensor, *,
                          gamma_pos: float | torch.Tensor = 0.0,
                          gamma_neg: float | torch.Tensor = 4.0, clip: float = 0.05,
                          weight: torch.Tensor | None = None,
                          reduction: Reduction = "mean") -> torch.Tensor:
    """Asymmetric loss (ASL) of Ridnik et al. on logits, elementwise over labels.

    Soft targets are used linearly: ``y * positive_term + (1 - y) * negative_term``.
    The probability margin is the paper's ``p_m = max(p - clip, 0)``; the authors' code
    clamps the log's argument at 1e-8, which this stable form does not need.

    Shape:
        input: ``[N, L]`` (any ``[*]``) logits; target: same shape in [0, 1]; output: scalar,
        or ``[*]`` with ``reduction="none"``.

    Example:
        >>> asymmetric_multilabel(torch.tensor([0.0]), torch.tensor([1.0]))
        tensor(0.6931)
    """
    check_param("gamma_pos", gamma_pos, low=0.0, learnable=True)
    check_param("gamma_neg", gamma_neg, low=0.0, learnable=True)
    check_param("clip", clip, low=0.0, high=1.0, high_inclusive=False)
    x, y, _ = _binary_inputs(input, target, weight, reduction)
    # log p = logsigmoid(x): no log(0) however negative x is.
    positive = -_focal_factor(torch.sigmoid(-x), gamma_pos) * F.logsigmoid(x)
    if clip > 0:
        shifted = (torch.sigmoid(x) - clip).clamp(min=0)
        # 1 - p_m >= clip > 0, so log1p(-p_m) is finite and its derivative at most 1 / clip.
        log_not = torch.log1p(-shifted)
    else:
        shifted = torch.sigmoid(x)
        log_not = F.logsigmoid(-x)  # log(1 - p) without forming 1 - p
    negative = -_focal_factor(shifted, gamma_neg) * log_not
    return reduce(y * positive + (1 - y) * negative, reduction, weight=weight)


def _hinge_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return ex.randn(n, 3, g=g) * 1.5, torch.where(ex.rand(n, 3, g=g) > 0.5, 1.0, -1.0).double()


def _hinge_optimum(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Scores on the right side of the margin (signed target times 2 > margin 1)."""
    signs = torch.where(args[1] > 0, 1.0, -1.0).to(args[0].dtype)
    return (2.0 * signs, *args[1:])


def _hinge_reference(input: torch.Tensor, target: torch.Tensor, *,
                     reduction: str = "mean") -> torch.Tensor:
    # Brute-force loop over elements of max(0, 1 - t x), t in {-1, 1}.
    flat_x, flat_t = input.reshape(-1), target.reshape(-1)
    terms = [torch.clamp(1 - (1.0 if t > 0 else -1.0) * xi, min=0) for xi, t in zip(flat_x, flat_t)]
    loss = (torch.stack(terms) if terms else input.reshape(-1) * 0).reshape(input.shape)
    return reduced(loss, reduction)


@register_loss(
    family="classification", tasks=_TASKS_BINARY, input_kind="scores",
    target_kind="binary labels in {0, 1} or {-1, 1}, same shape as the input",
    aliases=("hinge_loss", "svm"),
    properties=("convex", "nonnegative", "bounded_gradient", "zero_at_optimum"),
    summary="Binary hinge loss of the support vector machine: zero once the score is on the "
            "right side of the label by the margin, linear otherwise.",
    formula="t = +1 for positives, -1 for negatives;  L = max(0, margin - t x)  (squared: its "
            "square)",
    gradient="dL/dx = -t while t x < margin, else 0: correctly classified points beyond the "
             "margin stop contributing (a sparse set of support vectors drives training). "
             "Squared hinge gives -2 t (margin - t x), smooth at the margin.",
    when_to_use="Linear or kernel max-margin classifiers, and when you want a classifier that "
                "ignores easy examples; squared=True (L2-SVM) is smoother and often easier to "
                "optimise with gradient methods."
                " Inside deep models the hinge lives on as margin losses: contrastive, "
                "triplet_margin and margin_ranking are hinges on distances or score differences.",
    pitfalls="Scores are not probabilities (the loss says nothing about calibration); use "
             "binary_cross_entropy when you need probabilities. Not differentiable at the "
             "margin (a subgradient is used). Targets {0, 1} are mapped to {-1, +1}; mixing "
             "0 and -1 in one target is rejected as ambiguous.",
    references=("Cortes & Vapnik, Support-vector networks, Machine Learning 1995.",),
    example_inputs=_hinge_examples, optimum=_hinge_optimum, reference=_hinge_reference,
    learnable=("margin",),
)
def hinge(input: torch.Tensor, target: torch.Tensor, *, margin: float | torch.Tensor = 1.0,
          squared: bool = False, weight: torch.Tensor | None = None,
          reduction: Reduction = "mean") -> torch.Tensor:
    """Binary hinge loss ``max(0, margin - t * input)``, optionally squared.

    Shape:
        input: ``[*]`` scores; target: ``[*]`` labels in {0, 1} or {-1, 1} (float or integer);
        output: scalar, or ``[*]`` with ``reduction="none"``.

    Example:
        >>> hinge(torch.tensor([0.5, -2.0]), torch.tensor([1, 0]))
        tensor(0.2500)
    """
    check_param("margin", margin, low=0.0, learnable=True)
    check_reduction(reduction)
    check_floating("input", input)
    if not isinstance(target, torch.Tensor):
        raise LossInputError(f"target must be a torch.Tensor, got {type(target).__name__}")
    check_same_shape("input", input, "target", target)
    check_broadcastable("weight", weight, input.shape)
    if _reading_values(target):
        bad = (target != 0) & (target != 1) & (target != -1)
        if bool(bad.any()):
            raise LossInputError(
                f"target must hold labels in {{0, 1}} or {{-1, 1}}, found {target[bad][0].item()!r}"
            )
        if bool((target == 0).any()) and bool((target == -1).any()):
            raise LossInputError("target mixes 0 and -1 as labels; use {0, 1} or {-1, 1}")
    x = upcast(input)
    # Both label conventions map with one comparison: 1 -> +1, and 0 or -1 -> -1. The
    # comparison alone would turn a NaN label into -1; adding 0 * t keeps it NaN.
    t = target.to(x.dtype)
    signs = torch.where(t > 0, 1.0, -1.0) + 0 * t
    violation = (margin - signs * x).clamp(min=0)
    return reduce(violation.square() if squared else violation, reduction, weight=weight)


# --- multi-class ------------------------------------------------------------------------------


def _index_cross_entropy(x: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None,
                         class_weight: torch.Tensor | None,
                         label_smoothing: float) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-position cross-entropy from logits ``[N, C, *]`` and index targets ``[N, *]``.

    Returns ``(loss, class_weight_per_position)`` such that ``reduce(loss, class_weight=cw)``
    is torch's cross_entropy: label smoothing is ``(1 - eps) nll + eps/C sum_c w_c (-log p_c)``
    computed from the log-softmax directly (no smoothed one-hot target). reduce() multiplies
    by ``cw = w[target]``, so the smoothing term is divided by it here.
    """
    logp = torch.log_softmax(x, dim=1)
    loss = -_gather_class(logp, target, valid)
    cw = _per_position(class_weight, target, valid)
    if label_smoothing:
        smooth = -_class_sum(logp, class_weight)
        if cw is not None:
            # A target class of weight 0 drops the position entirely (torch would keep its
            # smoothing term in the numerator while dropping it from the denominator).
            smooth = safe_divide(smooth, cw)
        loss = (1 - label_smoothing) * loss + (label_smoothing / x.shape[1]) * smooth
    return loss, cw


def _soft_cross_entropy(logp: torch.Tensor, q: torch.Tensor, class_weight: torch.Tensor | None,
                        label_smoothing: float) -> torch.Tensor:
    """Per-position ``-sum_c w_c q'_c log p_c`` with ``q' = (1 - eps) q + eps / C``.

    The smoothed target q' is never formed: its uniform part is the class mean of -log p.
    """
    loss = -_class_sum(q * logp, class_weight)
    if label_smoothing:
        smooth = -_class_sum(logp, class_weight)
        loss = (1 - label_smoothing) * loss + (label_smoothing / logp.shape[1]) * smooth
    return loss


def _ce_reference(input: torch.Tensor, target: torch.Tensor, *,
                  reduction: str = "mean") -> torch.Tensor:
    # Per sample: log sum_c exp(x_c) - x_y, the softmax likelihood written out (float64).
    terms = [torch.log(torch.exp(row).sum()) - row[y] for row, y in zip(input, target)]
    return reduced(torch.stack(terms) if terms else input.sum(1) * 0, reduction)


@register_loss(
    family="classification", tasks=_TASKS_MULTICLASS, input_kind="logits",
    target_kind="class indices [N, *] or class probabilities [N, C, *]",
    aliases=("ce", "categorical_cross_entropy", "softmax_cross_entropy", "cross_entropy_loss"),
    properties=("convex", "smooth", "nonnegative", "bounded_gradient", "handles_imbalance",
                "proper_scoring"),
    summary="Softmax cross-entropy: the negative log-likelihood of the target class under a "
            "softmax over the logits; the standard multi-class classification loss.",
    formula="log p = log_softmax(x);  L = -w_y log p_y  (index)  or  -sum_c w_c q_c log p_c "
            "(probabilities);  label smoothing eps: (1 - eps) L + eps/C sum_c w_c (-log p_c)",
    gradient="dL/dx_c = p_c - q_c (q the one-hot or soft target): bounded by 1 in each logit, "
             "proportional to the probability error, never vanishing for a confident mistake.",
    when_to_use="Mutually exclusive classes (one label per sample or per pixel); soft targets "
                "for distillation, mixup/cutmix and label noise. class_weight rebalances "
                "classes (torch's weighted mean); ignore_index skips padding or void pixels.",
    pitfalls="Pass logits: a softmax before the loss double-normalises and slows learning. "
             "Calibration: without class_weight and label smoothing it is a proper scoring "
             "rule (the expected loss under a class distribution q is minimized at softmax(x) "
             "= q). class_weight moves the minimizer to p_c proportional to w_c q_c and label "
             "smoothing to (1 - eps) q + eps / C, so neither yields probabilities of the "
             "training distribution (smoothing often helps an over-confident network's "
             "calibration in practice, but a perfect fit cannot reach 0 or 1, and it hurts "
             "knowledge distillation from the smoothed teacher). Networks trained to "
             "convergence are usually over-confident anyway: fit a temperature on held-out "
             "logits (losskit.calibration.temperature_scale). With class_weight the 'mean' "
             "divides by the summed weights, not by N. torch's weight= is class_weight= "
             "here: losskit's weight= weighs each position, so a [C] tensor passed as weight "
             "with a batch of N = C rows is read per row. Unlike torch, a batch whose "
             "targets are all ignored gives 0, not NaN."
             " For labels that can occur together (multi-label), softmax makes them compete for "
             "one unit of probability: use binary_cross_entropy per label instead.",
    references=("Bridle, Probabilistic interpretation of feedforward classification network "
                "outputs, 1990.",
                "Szegedy et al., Rethinking the Inception Architecture (label smoothing), "
                "CVPR 2016.",
                "Müller, Kornblith & Hinton, When Does Label Smoothing Help?, NeurIPS 2019.",
                "Guo, Pleiss, Sun & Weinberger, On Calibration of Modern Neural Networks, "
                "ICML 2017 (temperature scaling).",
                "torch.nn.CrossEntropyLoss (same values, including weight, ignore_index, "
                "label_smoothing and probability targets)."),
    example_inputs=ex.class_logits, reference=_ce_reference, none_shape="position",
    learnable=("class_weight",),
)
def cross_entropy(input: torch.Tensor, target: torch.Tensor, *,
                  class_weight: torch.Tensor | Sequence[float] | None = None,
                  ignore_index: int = -100, label_smoothing: float = 0.0, z_loss: float = 0.0,
                  softcap: float | None = None, normalizer: float | torch.Tensor | None = None,
                  distributed: bool = False, group: Any = None,
                  weight: torch.Tensor | None = None,
                  reduction: Reduction = "mean") -> torch.Tensor:
    """Softmax cross-entropy from logits, with index or probability targets.

    Same values and gradients as :func:`torch.nn.functional.cross_entropy` (``class_weight``
    is torch's ``weight``), with two deliberate differences: when every target is ignored
    (or the batch is empty) the result is 0.0 with zero gradients instead of NaN, and a
    class whose ``class_weight`` is 0 removes its positions from the label-smoothing term too.

    Args:
        class_weight: ``[C]`` non-negative weights (a tensor may require grad); ``"mean"``
            becomes the weighted mean ``sum w_y L / sum w_y`` for index targets (for
            probability targets torch, and losskit, divide by the number of positions).
            The weight scales a position's whole loss, z-loss included.
        ignore_index: index targets equal to it do not count (index targets only).
        label_smoothing: ``eps`` in [0, 1]; mixes the target with the uniform distribution.
        z_loss: adds ``z_loss * logsumexp(x)^2`` per counted position (PaLM's auxiliary
            loss, ~1e-4, keeps the log-normalizer near 0 in low-precision training).
        softcap: replaces the logits by ``softcap * tanh(logits / softcap)`` first (Gemma 2).
        normalizer: ``"mean"`` divides the sum by this number (or 0-dim tensor) instead
            of the local count: pass the number of counted tokens of the whole accumulated
            batch, so gradient accumulation over micro-batches gives the big batch's
            gradient (dividing each micro-batch by its own count does not).
        weight: per-position weights broadcast against ``[N, *]``.
        distributed: average over the tokens of every rank (the global count of
            non-ignored positions) instead of this rank's; DDP-correct gradients, see
            :mod:`losskit.distributed`. Without a process group it changes nothing.

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` integer indices (int64 or int32) or
        ``[N, C, *]`` probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"``
        (0 at ignored positions).

    Example:
        >>> cross_entropy(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))
        tensor(0.6931)
    """
    check_reduction(reduction)
    check_param("label_smoothing", label_smoothing, low=0.0, high=1.0)
    check_param("z_loss", z_loss, low=0.0)
    if softcap is not None:
        check_param("softcap", softcap, low=0.0, low_inclusive=False)
    _check_class_input(input)
    kind, all_counted = _target_kind(input, target, ignore_index)
    x = upcast(input)
    if softcap is not None:
        x = softcap * torch.tanh(x / softcap)
    cw_vector = _class_vector("class_weight", class_weight, input, x)
    _check_position_weight(weight, input)
    reduction_kw = dict(distributed=distributed, group=group, normalizer=normalizer)
    if kind == "soft":
        logp = torch.log_softmax(x, dim=1)
        loss = _soft_cross_entropy(logp, upcast(target).to(x.dtype), cw_vector, label_smoothing)
        if z_loss:
            loss = loss + z_loss * torch.logsumexp(x, dim=1).square()
        return reduce(loss, reduction, weight=weight, **reduction_kw)
    valid = None if all_counted else target != ignore_index
    if weight is None and not z_loss:
        # call: (x [N, C, *], target, *, class_weight, ignore_index, label_smoothing,
        #        reduction) -> class-weighted loss per position (0 where ignored) or its sum
        call = (_accelerator_input(input, x, softcap), target)
        kw = dict(class_weight=cw_vector, ignore_index=ignore_index,
                  label_smoothing=label_smoothing, reduction=reduction)
        fast = None
        if fused_mean_ok(reduction, target.shape, mask=valid, class_weight=cw_vector,
                         normalizer=normalizer, distributed=distributed):
            found = dispatch_mean("cross_entropy", *call, **kw)
            if found is not None and found[1]:
                mean: torch.Tensor = found[0]
                return mean
            fast = None if found is None else found[0]
        else:
            fast = dispatch("cross_entropy", *call, **kw)
        if fast is not None:
            return reduce_summed(fast, reduction, shape=target.shape, mask=valid,
                                 class_weight=_per_position(cw_vector, target, valid),
                                 **reduction_kw)
    loss, cw = _index_cross_entropy(x, target, valid, cw_vector, label_smoothing)
    if z_loss:
        loss = loss + z_loss * torch.logsumexp(x, dim=1).square()
    return reduce(loss, reduction, weight=weight, mask=valid, class_weight=cw, **reduction_kw)


def _nll_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    logits, target = ex.class_logits(n, seed)
    return torch.log_softmax(logits, dim=1), target


def _nll_reference(input: torch.Tensor, target: torch.Tensor, *,
                   reduction: str = "mean") -> torch.Tensor:
    terms = [-row[y] for row, y in zip(input, target)]
    return reduced(torch.stack(terms) if terms else input.sum(1) * 0, reduction)


@register_loss(
    family="classification", tasks=_TASKS_MULTICLASS, input_kind="log_probs",
    target_kind="class indices [N, *]",
    aliases=("nll_loss", "negative_log_likelihood"),
    properties=("convex", "bounded_gradient"),
    summary="Negative log-likelihood of the target class, given log-probabilities.",
    formula="L = -w_y input[y]  (mean: sum over positions / sum of w_y)",
    gradient="dL/d input[c] = -w_y if c = y else 0: linear in its input, so all the shaping "
             "comes from whatever produced the log-probabilities.",
    when_to_use="When the model already outputs log-probabilities (a log_softmax head, a "
                "mixture, a CRF or a custom normaliser); nll(log_softmax(x)) equals "
                "cross_entropy(x).",
    pitfalls="The input must be log-probabilities; feeding logits or probabilities gives a "
             "meaningless (even negative) loss without any error. With plain logits use "
             "cross_entropy, which also fuses the normalisation stably.",
    references=("torch.nn.NLLLoss (same values, including weight and ignore_index).",),
    example_inputs=_nll_examples, reference=_nll_reference, none_shape="position",
    learnable=("class_weight",),
    expected_failures={"nan_propagation": "nll reads only the target class's log-probability "
                       "(a NaN at another class never enters its value, as in torch); the "
                       "log_softmax or model that produced the NaN is where it shows"},
)
def nll(input: torch.Tensor, target: torch.Tensor, *,
        class_weight: torch.Tensor | Sequence[float] | None = None, ignore_index: int = -100,
        weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Negative log-likelihood from log-probabilities (as :func:`torch.nn.functional.nll_loss`).

    ``class_weight`` is torch's ``weight``; an all-ignored batch gives 0.0, not NaN.

    Shape:
        input: ``[N, C, *]`` log-probabilities; target: ``[N, *]`` integer indices; output:
        scalar, or ``[N, *]`` with ``reduction="none"``.

    Example:
        >>> nll(torch.log(torch.tensor([[0.25, 0.75]])), torch.tensor([1]))
        tensor(0.2877)
    """
    check_reduction(reduction)
    _check_class_input(input)
    _, all_counted = _target_kind(input, target, ignore_index, allow_soft=False)
    x = upcast(input)
    cw_vector = _class_vector("class_weight", class_weight, input, x)
    _check_position_weight(weight, input)
    valid = None if all_counted else target != ignore_index
    cw = _per_position(cw_vector, target, valid)
    if weight is None:
        # call: (x, target, *, class_weight, ignore_index, reduction) -> loss or its sum
        fast = dispatch("nll", x, target, class_weight=cw_vector, ignore_index=ignore_index,
                        reduction=reduction)
        if fast is not None:
            return reduce_summed(fast, reduction, shape=target.shape, mask=valid,
                                 class_weight=cw)
    return reduce(-_gather_class(x, target, valid), reduction, weight=weight, mask=valid,
                  class_weight=cw)


def _softmax_focal_reference(input: torch.Tensor, target: torch.Tensor, *,
                             reduction: str = "mean") -> torch.Tensor:
    # Brute-force loop over samples of -(1 - p_y)^2 log p_y (Lin et al. 2017, softmax form).
    terms = []
    for row, y in zip(input, target):
        p = torch.softmax(row, dim=0)[y]
        terms.append(-(1 - p) ** 2 * torch.log(p))
    return reduced(torch.stack(terms) if terms else input.sum(1) * 0, reduction)


@register_loss(
    family="classification", tasks=_TASKS_MULTICLASS, input_kind="logits",
    target_kind="class indices [N, *] or class probabilities [N, C, *]",
    aliases=("softmax_focal_loss", "multiclass_focal", "focal_cross_entropy"),
    properties=("nonnegative", "bounded_gradient", "handles_imbalance"),
    summary="Softmax focal loss: cross-entropy scaled by (1 - p_y)^gamma so well-classified "
            "examples contribute little and the hard ones drive training.",
    formula="log p = log_softmax(x);  L = -alpha_y (1 - p_y)^gamma log p_y  (soft targets: "
            "sum_c over q_c alpha_c (1 - p_c)^gamma (-log p_c))",
    gradient="Cross-entropy's gradient p - onehot(y) scaled by (1 - p_y)^gamma - gamma p_y "
             "(1 - p_y)^(gamma - 1) log p_y, whatever the number of classes: at gamma = 2 "
             "an example keeps 60% of cross-entropy's gradient at p_y = 0.5, 40.5% at 0.6 "
             "and 2.9% at 0.9, while its loss falls to 25%, 16% and 1%.",
    when_to_use="Multi-class problems with many easy examples and a few hard or rare ones "
                "(dense segmentation, long-tailed classification). alpha is a per-class "
                "multiplier, e.g. inverse class frequency.",
    pitfalls="alpha multiplies the loss but 'mean' divides by the number of counted "
             "positions (not by the summed alpha, unlike cross_entropy's class_weight). "
             "Large gamma slows early training, when every example is hard. kornia's "
             "focal_loss differs by convention: its scalar alpha a is alpha=[1 - a, a, ..., a] "
             "here (class 0 as background), its weight is a per-class factor (multiply it "
             "into alpha), its reduction='none' is per_class=True here, and its 'mean' "
             "averages over N * C * positions, ignored ones included. Calibration: not a "
             "proper scoring rule; with two classes the expected loss for a true probability "
             "0.9 is minimized at 0.69 (gamma = 2): predictions are pulled toward uniform. "
             "Mukhoti et al. use this to counter a network's over-confidence, but the "
             "outputs still need checking; fit a temperature on held-out logits "
             "(losskit.calibration.temperature_scale) before reading them as probabilities.",
    references=("Lin, Goyal, Girshick, He, Dollar, Focal Loss for Dense Object Detection, "
                "ICCV 2017.",
                "Mukhoti et al., Calibrating Deep Neural Networks using Focal Loss, NeurIPS 2020."),
    example_inputs=ex.class_logits, reference=_softmax_focal_reference, none_shape="position",
    learnable=("gamma", "alpha"),
)
def softmax_focal(input: torch.Tensor, target: torch.Tensor, *,
                  gamma: float | torch.Tensor = 2.0,
                  alpha: torch.Tensor | Sequence[float] | None = None, ignore_index: int = -100,
                  per_class: bool = False,
                  weight: torch.Tensor | None = None,
                  reduction: Reduction = "mean") -> torch.Tensor:
    """Multi-class focal loss from logits; ``gamma=0`` is (alpha-scaled) cross-entropy.

    Args:
        gamma: focusing parameter >= 0.
        alpha: ``[C]`` per-class multipliers, or ``None`` for none.
        ignore_index: index targets equal to it do not count.
        per_class: with ``reduction="none"``, return the loss split by class, ``[N, C, *]``
            (kornia's ``focal_loss`` output): for index targets the position's loss sits at
            its target class and the other classes are 0; for probability targets class
            ``c`` holds ``alpha_c t_c (1 - p_c)^gamma (-log p_c)``. Summing over dim 1 gives
            the default ``[N, *]`` output; ``"mean"`` and ``"sum"`` are unchanged.

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"`` (``[N, C, *]``
        with ``per_class=True``).

    Example:
        >>> softmax_focal(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))
        tensor(0.1733)
    """
    check_reduction(reduction)
    check_param("gamma", gamma, low=0.0, learnable=True)
    _check_class_input(input)
    kind, all_counted = _target_kind(input, target, ignore_index)
    x = upcast(input)
    alpha_vector = _class_vector("alpha", alpha, input, x)
    _check_position_weight(weight, input)
    valid = None if all_counted else target != ignore_index
    split = per_class and reduction == "none"
    if kind == "index" and weight is None and not split:
        # call: (x, target, *, alpha, gamma, ignore_index, reduction) -> alpha-weighted
        # loss per position (0 where ignored) or its sum; "mean" counts positions.
        fast = dispatch("softmax_focal", _accelerator_input(input, x, None), target,
                        alpha=alpha_vector, gamma=gamma, ignore_index=ignore_index,
                        reduction=reduction)
        if fast is not None:
            return reduce_summed(fast, reduction, shape=target.shape, mask=valid)
    logp = torch.log_softmax(x, dim=1)
    if kind == "soft":
        # 1 - p = -expm1(log p): keeps its precision when p is close to 1.
        terms = upcast(target).to(x.dtype) * _focal_factor(-torch.expm1(logp), gamma) * -logp
        if split:
            if alpha_vector is not None:
                terms = terms * alpha_vector.reshape(1, -1, *([1] * (x.dim() - 2)))
            w = None if weight is None else weight.expand(target.shape[:1] + target.shape[2:])
            return reduce(terms, "none", weight=None if w is None else w.unsqueeze(1))
        return reduce(_class_sum(terms, alpha_vector), reduction, weight=weight)
    logp_y = _gather_class(logp, target, valid)
    loss = -_focal_factor(-torch.expm1(logp_y), gamma) * logp_y
    if alpha_vector is not None:
        loss = loss * _per_position(alpha_vector, target, valid)
    loss = reduce(loss, reduction, weight=weight, mask=valid)
    if split:
        # The position's loss at its target class, 0 at the others (scatter keeps a NaN
        # where it came from instead of spreading 0 * inf over the row).
        safe = (target if valid is None else torch.where(valid, target, 0)).long()
        return torch.zeros_like(x).scatter(1, safe.unsqueeze(1), loss.unsqueeze(1))
    return loss


def _multiclass_hinge_optimum(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Logits with the target class ahead of every other by 2 > margin 1."""
    logits, target = args[0], args[1]
    best = torch.zeros_like(logits).scatter(1, target.unsqueeze(1), 2.0)
    return (best, *args[1:])


def _multi_margin_reference(input: torch.Tensor, target: torch.Tensor, *,
                            reduction: str = "mean") -> torch.Tensor:
    return F.multi_margin_loss(input, target, reduction=reduction)


@register_loss(
    family="classification", tasks=("classification", "multiclass_classification"),
    input_kind="scores", target_kind="class indices [N, *]",
    aliases=("multi_margin", "multi_margin_loss", "multiclass_svm"),
    properties=("convex", "nonnegative", "bounded_gradient", "zero_at_optimum"),
    summary="Multi-class hinge (SVM) loss: every wrong class must score at least a margin "
            "below the target class.",
    formula="weston_watkins (torch's multi_margin_loss): L = (1/C) sum_{j != y} "
            "max(0, margin - x_y + x_j)^p;  crammer_singer: L = max(0, margin - x_y + "
            "max_{j != y} x_j)^p;  p = 2 if squared else 1",
    gradient="Each violating class j gets +1/C (p = 1) and the target -k/C for k violators; "
             "classes beyond the margin get nothing. Crammer-Singer moves only the single "
             "most offending class.",
    when_to_use="Max-margin multi-class classification, and as a loss that stops pushing "
                "once examples are classified with a margin (it ignores easy examples "
                "completely, unlike cross-entropy).",
    pitfalls="Scores are not probabilities. The default divides by C, as torch does, so the "
             "loss scale shrinks as classes are added; crammer_singer does not. Not "
             "differentiable at the margin. For torch's class `weight`, pass "
             "weight=class_weight[target] (torch's mean also divides by N).",
    references=("Weston & Watkins, Support Vector Machines for Multi-Class Pattern "
                "Recognition, ESANN 1999.",
                "Crammer & Singer, On the Algorithmic Implementation of Multiclass Kernel-based "
                "Vector Machines, JMLR 2001.",
                "torch.nn.MultiMarginLoss (the default form, same values)."),
    example_inputs=ex.class_logits, optimum=_multiclass_hinge_optimum,
    reference=_multi_margin_reference, none_shape="position", learnable=("margin",),
)
def multiclass_hinge(input: torch.Tensor, target: torch.Tensor, *,
                     margin: float | torch.Tensor = 1.0, squared: bool = False,
                     form: Literal["weston_watkins", "crammer_singer"] = "weston_watkins",
                     weight: torch.Tensor | None = None,
                     reduction: Reduction = "mean") -> torch.Tensor:
    """Multi-class hinge loss; the default equals :func:`torch.nn.functional.multi_margin_loss`.

    Args:
        margin: required score gap >= 0.
        squared: square each violation (torch's ``p=2``).
        form: ``"weston_watkins"`` (sum over wrong classes divided by C, torch's form) or
            ``"crammer_singer"`` (only the highest-scoring wrong class, no division).

    Shape:
        input: ``[N, C, *]`` scores; target: ``[N, *]`` integer indices; output: scalar, or
        ``[N, *]`` with ``reduction="none"``.

    Example:
        >>> multiclass_hinge(torch.tensor([[0.0, 0.5, 0.0]]), torch.tensor([1]))
        tensor(0.3333)
    """
    check_reduction(reduction)
    check_param("margin", margin, low=0.0, learnable=True)
    if form not in ("weston_watkins", "crammer_singer"):
        raise LossInputError(f"form must be 'weston_watkins' or 'crammer_singer', got {form!r}")
    _check_class_input(input)
    _target_kind(input, target, None, allow_soft=False)
    _check_position_weight(weight, input)
    x = upcast(input)
    index = target.long().unsqueeze(1)
    score_y = x.gather(1, index)
    if form == "crammer_singer":
        # The best wrong class: the target's own score is replaced by -inf before the max.
        rival = x.scatter(1, index, float("-inf")).amax(1, keepdim=True)
        violation = (margin - score_y + rival).clamp(min=0).squeeze(1)
        loss = violation.square() if squared else violation
    else:
        violation = (margin - score_y + x).clamp(min=0)
        violation = violation.square() if squared else violation
        # The j = y term is margin^p, not a violation: zero it rather than subtract it.
        loss = violation.scatter(1, index, 0.0).sum(1) / x.shape[1]
    return reduce(loss, reduction, weight=weight)


def _poly1_reference(input: torch.Tensor, target: torch.Tensor, *,
                     reduction: str = "mean") -> torch.Tensor:
    # The paper's Listing 1 form: CE + epsilon (1 - p_t) with epsilon = 1, via torch's CE.
    pt = torch.softmax(input, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
    return reduced(F.cross_entropy(input, target, reduction="none") + (1 - pt), reduction)


@register_loss(
    family="classification", tasks=_TASKS_MULTICLASS, input_kind="logits",
    target_kind="class indices [N, *] or class probabilities [N, C, *]",
    aliases=("poly1", "poly_loss", "polyloss"),
    properties=("nonnegative", "smooth", "bounded_gradient"),
    summary="Poly-1 loss: cross-entropy plus epsilon times (1 - p_t), a one-knob adjustment "
            "of the leading polynomial term of cross-entropy's Taylor expansion.",
    formula="p_t = sum_c q_c softmax(x)_c (= p_y for index targets);  L = CE(x, q) + "
            "epsilon (1 - p_t)",
    gradient="Cross-entropy's gradient plus -epsilon dp_t/dx: epsilon > 0 adds a constant "
             "push on the target probability, which keeps the gradient larger for "
             "well-classified examples than plain cross-entropy does (the opposite of focal).",
    when_to_use="A drop-in replacement for cross-entropy to tune with one scalar: the paper "
                "reports ImageNet gains with epsilon = 2 (EfficientNetV2) and detection gains "
                "with the analogous Poly-1 form of focal loss; tune epsilon on validation "
                "data.",
    pitfalls="epsilon = 0 is cross-entropy; negative epsilon down-weights confident examples "
             "(focal-like), below -1 the loss can go negative and is rejected. With label "
             "smoothing p_t uses the smoothed target, as in the paper's code. Calibration: "
             "for epsilon != 0 not a proper scoring rule (epsilon > 0 moves the minimizer "
             "toward the most likely class, epsilon < 0 toward uniform); recalibrate "
             "(losskit.calibration.temperature_scale) if probabilities matter.",
    references=("Leng, Tan, Liu, Cubuk, Shi, Cheng & Anguelov, PolyLoss: A Polynomial "
                "Expansion Perspective of Classification Loss Functions, ICLR 2022.",),
    example_inputs=ex.class_logits, reference=_poly1_reference, none_shape="position",
    learnable=("epsilon",),
)
def poly1_cross_entropy(input: torch.Tensor, target: torch.Tensor, *,
                        epsilon: float | torch.Tensor = 1.0,
                        ignore_index: int = -100, label_smoothing: float = 0.0,
                        weight: torch.Tensor | None = None,
                        reduction: Reduction = "mean") -> torch.Tensor:
    """Poly-1 cross-entropy ``CE + epsilon * (1 - p_t)`` (Leng et al. 2022).

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"``.

    Example:
        >>> poly1_cross_entropy(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))
        tensor(1.1931)
    """
    check_reduction(reduction)
    check_param("epsilon", epsilon, low=-1.0, learnable=True)
    check_param("label_smoothing", label_smoothing, low=0.0, high=1.0)
    _check_class_input(input)
    kind, all_counted = _target_kind(input, target, ignore_index)
    x = upcast(input)
    _check_position_weight(weight, input)
    logp = torch.log_softmax(x, dim=1)
    uniform = label_smoothing / x.shape[1]
    if kind == "soft":
        q = upcast(target).to(x.dtype)
        ce = _soft_cross_entropy(logp, q, None, label_smoothing)
        p_t = (1 - label_smoothing) * (q * logp.exp()).sum(1) + uniform
        return reduce(ce + epsilon * (1 - p_t), reduction, weight=weight)
    valid = None if all_counted else target != ignore_index
    logp_y = _gather_class(logp, target, valid)
    ce = -logp_y
    if label_smoothing:
        ce = (1 - label_smoothing) * ce - uniform * logp.sum(1)
    # p_t of the smoothed target: (1 - eps) p_y + eps / C, since the p_c sum to 1.
    p_t = (1 - label_smoothing) * logp_y.exp() + uniform
    return reduce(ce + epsilon * (1 - p_t), reduction, weight=weight, mask=valid)
