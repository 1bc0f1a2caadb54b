"""Penalties added to a task loss: weight decay, soft bounds on predictions, fairness gaps.

``l1_penalty`` and ``l2_penalty`` take the parameters to penalize as a tensor, an
iterable of tensors, or a ``torch.nn.Module`` (whose parameters are read at call time).
``bound_penalty`` encodes domain knowledge ("a dose is never negative, never above
10") as a soft constraint on predictions. The two fairness gaps are differentiable
surrogates of group-fairness criteria computed on the batch, for use as
``task_loss + lam * gap``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, get_args

import torch

from .._core._math import as_scalar
from .._core.reduce import reduce, safe_divide, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    _reading_values,
    check_broadcastable,
    check_floating,
    check_integer,
    check_reduction,
)
from . import _examples as ex

__all__ = [
    "bound_penalty",
    "demographic_parity_gap",
    "equalized_odds_gap",
    "l1_penalty",
    "l2_penalty",
]

ParamsLike = (torch.Tensor | Iterable[torch.Tensor | tuple[str, torch.Tensor]]
              | torch.nn.Module)

# Modules whose parameters are scale/shift of a normalization, not weights to shrink.
_NORM_TYPES = (
    torch.nn.modules.batchnorm._NormBase,
    torch.nn.GroupNorm,
    torch.nn.LayerNorm,
    torch.nn.LocalResponseNorm,
    *((torch.nn.RMSNorm,) if hasattr(torch.nn, "RMSNorm") else ()),
)


def _collect(params: ParamsLike, exclude_bias: bool, exclude_norm: bool) -> list[torch.Tensor]:
    """The tensors to penalize, read fresh at every call (modules change during training)."""
    if isinstance(params, torch.Tensor):
        return [params]
    if isinstance(params, torch.nn.Module):
        # A parameter shared by several modules (tied embeddings and output layer) counts
        # once, as in model.parameters().
        out: list[torch.Tensor] = []
        seen: set[int] = set()
        for module in params.modules():
            if exclude_norm and isinstance(module, _NORM_TYPES):
                continue
            for name, p in module.named_parameters(recurse=False):
                if (exclude_bias and name == "bias") or id(p) in seen:
                    continue
                seen.add(id(p))
                out.append(p)
        return out
    try:
        items = list(params)
    except TypeError:
        raise LossInputError(f"params must be a tensor, an iterable of tensors or a "
                             f"torch.nn.Module, got {type(params).__name__}") from None
    tensors: list[torch.Tensor] = []
    for i, item in enumerate(items):
        candidate: object = item
        # named_parameters() yields (name, tensor) pairs; accept them too.
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], torch.Tensor):
            if exclude_bias and str(item[0]).rsplit(".", 1)[-1] == "bias":
                continue
            candidate = item[1]
        if not isinstance(candidate, torch.Tensor):
            raise LossInputError(f"params[{i}] must be a tensor, got {type(candidate).__name__}")
        tensors.append(candidate)
    return tensors


def _norm(params: ParamsLike, exclude_bias: bool, exclude_norm: bool, power: int) -> torch.Tensor:
    tensors = _collect(params, exclude_bias, exclude_norm)
    for i, t in enumerate(tensors):
        check_floating("params" if len(tensors) == 1 else f"params[{i}]", t)
    if not tensors:
        raise LossInputError("params holds no tensor to penalize (after excluding biases and "
                             "normalization parameters)")
    terms = [(upcast(t).abs() if power == 1 else upcast(t).square()).sum() for t in tensors]
    return torch.stack(terms).sum() if len(terms) > 1 else terms[0]


def _params_examples(n: int, seed: int) -> tuple[torch.Tensor]:
    g = ex.generator(seed)
    return (ex.randn(n, 3, g=g),)


def _zero_params(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (torch.zeros_like(args[0]), *args[1:])


@register_loss(
    family="penalties", tasks=("regularization",), input_kind="parameters", target_kind="none",
    aliases=("lasso_penalty", "l1_regularization"),
    properties=("convex", "nonnegative", "zero_at_optimum", "bounded_gradient"),
    summary="L1 norm of the parameters: the lasso penalty, which drives weights to exactly "
            "zero.",
    formula="P = sum over tensors, sum over entries |w|",
    gradient="dP/dw = sign(w): constant magnitude, so small weights are pushed to zero as hard "
             "as large ones (a subgradient at 0; proximal or clipped updates give exact zeros).",
    when_to_use="Sparse models and feature selection: add lam * l1_penalty(model) to the task "
                "loss. In a composite, bind the model: losskit.get('mse + 1e-4*l1_penalty', "
                "l1_penalty={'params': model}).",
    pitfalls="Plain SGD on an L1 penalty oscillates around zero instead of reaching it; use a "
             "proximal step if exact sparsity matters. Penalizing biases and normalization "
             "scales rarely helps (exclude_bias, exclude_norm). With Adam the penalty's "
             "gradient is rescaled per parameter, so its strength is not what lam suggests.",
    references=("Tibshirani, Regression Shrinkage and Selection via the Lasso, JRSS-B 1996.",),
    example_inputs=_params_examples, optimum=_zero_params,
)
def l1_penalty(params: ParamsLike, *, exclude_bias: bool = False,
               exclude_norm: bool = False) -> torch.Tensor:
    """Sum of absolute values of ``params`` (a tensor, an iterable of tensors, or a module).

    With a module, ``exclude_bias`` skips parameters named ``bias`` and ``exclude_norm``
    skips the parameters of normalization layers (BatchNorm, LayerNorm, GroupNorm, ...).
    ``exclude_bias`` also works on ``model.named_parameters()``.

    Shape:
        params: any shapes; output: scalar (float32 for low-precision parameters).

    Example:
        >>> l1_penalty([torch.tensor([1.0, -2.0]), torch.tensor([3.0])])
        tensor(6.)
    """
    return _norm(params, exclude_bias, exclude_norm, 1)


@register_loss(
    family="penalties", tasks=("regularization",), input_kind="parameters", target_kind="none",
    aliases=("weight_decay", "ridge_penalty", "l2_regularization"),
    properties=("convex", "smooth", "nonnegative", "zero_at_optimum"),
    summary="Squared L2 norm of the parameters: the ridge / weight-decay penalty.",
    formula="P = sum over tensors, sum over entries w^2   (no 1/2 factor)",
    gradient="dP/dw = 2 w: proportional to the weight, so large weights shrink fast and small "
             "ones barely move; weights never reach exactly zero.",
    when_to_use="Generic regularization against overfitting and for ill-conditioned "
                "regression; add lam * l2_penalty(model) to the task loss, or in a composite "
                "bind the model: losskit.get('mse + 0.01*l2_penalty', "
                "l2_penalty={'params': model}).",
    pitfalls="With Adam, an L2 term in the loss is not weight decay (the gradient is rescaled "
             "per parameter); prefer AdamW's decoupled decay there. Usually exclude biases and "
             "normalization parameters (exclude_bias=True, exclude_norm=True). The value grows "
             "with the number of parameters, so lam does not transfer between model sizes.",
    references=("Hoerl & Kennard, Ridge Regression, Technometrics 1970.",
                "Loshchilov & Hutter, Decoupled Weight Decay Regularization, ICLR 2019."),
    example_inputs=_params_examples, optimum=_zero_params,
)
def l2_penalty(params: ParamsLike, *, exclude_bias: bool = False,
               exclude_norm: bool = False) -> torch.Tensor:
    """Sum of squares of ``params`` (a tensor, an iterable of tensors, or a module).

    No factor 1/2: ``lam * l2_penalty(w)`` has gradient ``2 lam w``. ``exclude_bias`` and
    ``exclude_norm`` as in :func:`l1_penalty`.

    Shape:
        params: any shapes; output: scalar (float32 for low-precision parameters).

    Example:
        >>> l2_penalty(torch.nn.Linear(2, 1, bias=False).requires_grad_(False)).shape
        torch.Size([])
    """
    return _norm(params, exclude_bias, exclude_norm, 2)


# --- soft bounds on predictions ---------------------------------------------------------------

_BOUND_KINDS = ("squared", "hinge")


def _bound_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    lower = torch.tensor([-1.0, -0.5, 0.0], dtype=torch.float64)
    return ex.randn(n, 3, g=g) * 2, lower, lower + torch.tensor([2.0, 1.0, 2.0],
                                                                   dtype=torch.float64)


def _bound_reference(pred: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor, *,
                     kind: str = "squared", reduction: str = "mean") -> torch.Tensor:
    # The distance to the projection onto [lower, upper], via torch.clamp.
    gap = (pred - torch.clamp(pred, lower, upper)).abs()
    loss = gap.square() if kind == "squared" else gap
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def _clamped(args: tuple[Any, ...]) -> tuple[Any, ...]:
    pred, lower, upper = args[:3]
    return (torch.clamp(pred.detach(), lower, upper), lower, upper, *args[3:])


def _as_bound(name: str, bound: torch.Tensor | float | None,
              like: torch.Tensor) -> torch.Tensor | None:
    if bound is None:
        return None
    if isinstance(bound, (int, float)):
        return as_scalar(float(bound), like)
    check_floating(name, bound)
    check_broadcastable(name, bound, like.shape)
    return bound.to(like.dtype)


@register_loss(
    family="penalties", tasks=("regression", "constraints"), input_kind="values",
    target_kind="bounds", aliases=("range_penalty", "constraint_penalty"),
    properties=("convex", "smooth", "nonnegative", "zero_at_optimum"),
    summary="Soft lower/upper bounds on predictions: zero inside [lower, upper], growing with "
            "the violation outside.",
    formula="v = relu(lower - x) + relu(x - upper);  L = v^2 (kind='squared') or v "
            "(kind='hinge')",
    gradient="Zero inside the bounds, so the task loss alone decides there; outside, 2 v "
             "(squared: gentle for small violations, strong for large ones) or a constant 1 "
             "(hinge: pushes back even tiny violations, bounded for big ones).",
    when_to_use="Domain knowledge that predictions must respect (non-negative quantities, a "
                "physical range, a safety limit): add lam * bound_penalty(pred, lo, hi) to the "
                "task loss. A soft penalty lets the model violate a bound when the data insist, "
                "unlike a hard clamp or a squashing output layer.",
    pitfalls="It is a penalty, not a guarantee: a small lam still allows violations, and too "
             "many or contradictory bounds make the objective fight the data. Bounds are in "
             "target units; rescale lam if you rescale targets. If the bound is absolute "
             "(probabilities, counts) an output activation (sigmoid, softplus) enforces it "
             "exactly and is usually better.",
    references=("Nocedal & Wright, Numerical Optimization (2006), ch. 17 (quadratic penalty "
                "method).",
                "Stewart & Ermon, Label-Free Supervision of Neural Networks with Physics and "
                "Domain Knowledge, AAAI 2017."),
    example_inputs=_bound_examples, reference=_bound_reference, optimum=_clamped,
    head="none",
)
def bound_penalty(pred: torch.Tensor, lower: torch.Tensor | float | None = None,
                  upper: torch.Tensor | float | None = None, *,
                  kind: Literal["squared", "hinge"] = "squared",
                  weight: torch.Tensor | None = None,
                  reduction: Reduction = "mean") -> torch.Tensor:
    """Penalty for predictions outside ``[lower, upper]`` (either bound may be ``None``).

    Shape:
        pred: ``[*]``; lower, upper: floats or tensors broadcastable to ``pred`` (e.g. one
        bound per output column ``[C]``); output: scalar, or ``[*]`` with ``reduction="none"``.

    Example:
        >>> bound_penalty(torch.tensor([-1.0, 0.5, 3.0]), 0.0, 1.0)
        tensor(1.6667)
    """
    check_reduction(reduction)
    check_floating("pred", pred)
    if kind not in _BOUND_KINDS:
        raise LossInputError(f"kind must be one of {_BOUND_KINDS}, got {kind!r}")
    x = upcast(pred)
    lo, hi = _as_bound("lower", lower, x), _as_bound("upper", upper, x)
    if lo is not None and hi is not None and _reading_values(lo) and bool((lo > hi).any()):
        raise LossInputError("lower must not exceed upper")
    violation = torch.zeros_like(x)
    if lo is not None:
        violation = violation + torch.relu(lo - x)
    if hi is not None:
        violation = violation + torch.relu(x - hi)
    loss = violation.square() if kind == "squared" else violation
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight)


# --- group fairness gaps ----------------------------------------------------------------------

#: How the fairness gaps combine the groups' rates: the largest gap or their variance.
GapAggregate = Literal["max", "variance"]
_AGGREGATES: tuple[str, ...] = get_args(GapAggregate)


def _check_binary_logits(logits: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    check_floating("logits", logits)
    if logits.dim() == 2 and logits.shape[1] == 1:
        logits = logits[:, 0]
    if logits.dim() != 1:
        raise LossInputError(f"logits must be [N] (or [N, 1]) binary-classifier logits, got "
                             f"shape {tuple(logits.shape)}")
    check_integer("group", group, hint=" (group ids, one per sample)")
    if group.shape != logits.shape:
        raise LossInputError(f"group must have shape [N] = {tuple(logits.shape)}, got "
                             f"{tuple(group.shape)}")
    return logits


def _group_index(group: torch.Tensor) -> torch.Tensor:
    """Dense ids in 0..G-1 for arbitrary integer group labels, without reading data.

    Sorting the labels and counting label changes numbers the groups; the ids live in a
    buffer of the batch size (an upper bound of G), so the shapes never depend on the data.
    """
    order = torch.argsort(group, stable=True)
    labels = group[order]
    starts = torch.ones_like(labels, dtype=torch.bool)
    starts[1:] = labels[1:] != labels[:-1]
    segment = torch.cumsum(starts.long(), 0) - 1
    return torch.zeros_like(segment).scatter(0, order, segment)


def _rate_gap(prob: torch.Tensor, group: torch.Tensor, member: torch.Tensor | None,
              aggregate: str) -> torch.Tensor:
    """Gap across groups of the mean of ``prob`` weighted by ``member`` within each group.

    ``member`` (1 = selected, 0 = not; a NaN stays NaN) chooses the samples whose rate is
    measured (positives for the TPR); groups with no member have no rate and are left
    out; with fewer than two rated groups the gap is 0 (attached, zero gradient).
    """
    index = _group_index(group)
    member = torch.ones_like(prob) if member is None else member.to(prob.dtype)
    slots = prob.shape[0]
    sums = prob.new_zeros(slots).index_add(0, index, prob * member)
    counts = prob.new_zeros(slots).index_add(0, index, member)
    rates = safe_divide(sums, counts)
    rated = counts > 0
    n_rated = rated.sum()
    if aggregate == "max":
        # max_a r_a - min_b r_b over rated groups = the largest pairwise gap. A sentinel
        # keeps the extrema defined on an empty batch.
        pad = prob.new_zeros(1)
        big = torch.cat([torch.where(rated, rates, -torch.inf), pad - torch.inf]).amax()
        small = torch.cat([torch.where(rated, rates, torch.inf), pad + torch.inf]).amin()
        gap = big - small
    else:
        centre = safe_divide(torch.where(rated, rates, 0.0).sum(), n_rated.to(prob.dtype))
        gap = safe_divide(torch.where(rated, (rates - centre).square(), 0.0).sum(),
                          n_rated.to(prob.dtype))
    # Fewer than two rated groups: no gap. A NaN probability or membership lands in a
    # group's sum, where the "rated" mask would hide it: 0 * the sums keeps it visible.
    visible = 0.0 * (sums.sum() + counts.sum())
    return torch.where(n_rated >= 2, gap, prob.sum() * 0.0) + visible


def _fairness_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return ex.randn(n, g=g) * 2, torch.arange(n) % 3


@register_loss(
    family="penalties", tasks=("fairness", "classification"), input_kind="logits",
    target_kind="groups", aliases=("statistical_parity_gap", "dp_gap"),
    properties=("nonnegative", "bounded_gradient"),
    summary="Differentiable demographic-parity gap: how much the mean predicted positive rate "
            "differs between groups.",
    formula="r_g = mean_{i in g} sigmoid(x_i);  gap = max_g r_g - min_g r_g (aggregate='max') "
            "or mean_g (r_g - mean r)^2 (aggregate='variance')",
    gradient="Pushes the logits of the group with the highest rate down and the lowest up, each "
             "scaled by sigmoid'(x) / |group|; zero once rates are equal. The 'max' form moves "
             "only the two extreme groups, the 'variance' form moves every group toward the "
             "mean rate.",
    when_to_use="Add lam * demographic_parity_gap(logits, group) to the task loss when the "
                "positive decision rate should not depend on a protected attribute (lending, "
                "hiring screens). Use batches large enough that every group appears.",
    pitfalls="Parity of soft rates (mean probability) is a surrogate: thresholded decision "
             "rates can still differ. Demographic parity ignores the labels, so when base rates "
             "truly differ it costs accuracy, and it can conflict with equalized odds; choose "
             "the criterion deliberately. Small groups in a batch give noisy rates. Groups "
             "absent from a batch are ignored for that batch.",
    references=("Dwork et al., Fairness Through Awareness, ITCS 2012.",
                "Zafar et al., Fairness Constraints: Mechanisms for Fair Classification, "
                "AISTATS 2017."),
    example_inputs=_fairness_examples,
    head="none",
)
def demographic_parity_gap(logits: torch.Tensor, group: torch.Tensor, *,
                           aggregate: GapAggregate = "max") -> torch.Tensor:
    """Gap between groups in mean predicted positive probability ``sigmoid(logits)``.

    ``aggregate="max"`` gives the largest pairwise gap ``max_g r_g - min_g r_g`` (in
    [0, 1]); ``"variance"`` the population variance of the group rates (smooth, involves
    every group). Any number of groups, identified by any integer ids. Groups with no
    member in the batch are left out; fewer than two groups give ``0.0``.

    Shape:
        logits: ``[N]`` or ``[N, 1]`` binary logits; group: ``[N]`` integer ids; output: scalar.

    Example:
        >>> demographic_parity_gap(torch.tensor([10.0, 10.0, -10.0]), torch.tensor([0, 0, 1]))
        tensor(0.9999)
    """
    if aggregate not in _AGGREGATES:
        raise LossInputError(f"aggregate must be one of {_AGGREGATES}, got {aggregate!r}")
    logits = _check_binary_logits(logits, group)
    return _rate_gap(torch.sigmoid(upcast(logits)), group, None, aggregate)


def _odds_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return (ex.randn(n, g=g) * 2, (torch.arange(n) // 2 % 2).double(),
            torch.arange(n) % 3)


@register_loss(
    family="penalties", tasks=("fairness", "classification"), input_kind="logits",
    target_kind="binary", aliases=("eo_gap", "equal_odds_gap"),
    properties=("nonnegative", "bounded_gradient"),
    summary="Differentiable equalized-odds gap: the larger of the between-group gaps in "
            "true-positive rate and in false-positive rate.",
    formula="TPR_g = mean_{i in g, y_i=1} sigmoid(x_i), FPR_g = mean_{i in g, y_i=0} "
            "sigmoid(x_i);  gap = max(agg_g TPR_g, agg_g FPR_g), agg = max-min or variance",
    gradient="Moves the logits of the groups with extreme TPR (or FPR, whichever gap is "
             "larger) toward each other, within the positives (or negatives) only; the labels "
             "decide which samples move, unlike demographic parity.",
    when_to_use="Add lam * equalized_odds_gap(logits, target, group) to the task loss when "
                "errors, not decisions, must be balanced across groups (equal opportunity and "
                "equal false-alarm rates), e.g. screening or risk scores.",
    pitfalls="Needs positives and negatives of every group in the batch; a group without "
             "positives has no TPR and is left out of that gap. Soft rates are a surrogate for "
             "thresholded ones. Equalized odds and demographic parity cannot both hold when "
             "base rates differ (except trivially)."
             " Equal opportunity is the TPR gap alone: demographic_parity_gap(logits[target == "
             "1], group[target == 1]); the FPR side uses target == 0.",
    references=("Hardt, Price & Srebro, Equality of Opportunity in Supervised Learning, "
                "NeurIPS 2016.",
                "fairlearn: equalized_odds_difference = max(TPR gap, FPR gap)."),
    example_inputs=_odds_examples,
    head="none",
)
def equalized_odds_gap(logits: torch.Tensor, target: torch.Tensor, group: torch.Tensor, *,
                       aggregate: GapAggregate = "max") -> torch.Tensor:
    """``max(TPR gap, FPR gap)`` between groups, with soft rates from ``sigmoid(logits)``.

    The gap of each rate is aggregated over groups as in :func:`demographic_parity_gap`
    (``"max"``: largest pairwise gap; ``"variance"``: variance of the group rates); the
    result is the larger of the two, as fairlearn's ``equalized_odds_difference``. A group
    without positives (negatives) in the batch is left out of the TPR (FPR) gap.

    Shape:
        logits: ``[N]`` or ``[N, 1]``; target: ``[N]`` in {0, 1} (float or integer);
        group: ``[N]`` integer ids; output: scalar.

    Example:
        >>> x = torch.tensor([5.0, -5.0, 5.0, 5.0])
        >>> equalized_odds_gap(x, torch.tensor([1, 0, 1, 0]), torch.tensor([0, 0, 1, 1]))
        tensor(0.9866)
    """
    if aggregate not in _AGGREGATES:
        raise LossInputError(f"aggregate must be one of {_AGGREGATES}, got {aggregate!r}")
    logits = _check_binary_logits(logits, group)
    if not isinstance(target, torch.Tensor) or target.shape != logits.shape:
        raise LossInputError(f"target must be a tensor of shape [N] = {tuple(logits.shape)}, "
                             f"got {getattr(target, 'shape', type(target).__name__)}")
    if _reading_values(target) and not bool(((target == 0) | (target == 1)).all()):
        raise LossInputError("target must hold binary labels 0 or 1")
    prob = torch.sigmoid(upcast(logits))
    # Membership weights y and 1 - y select the positives (TPR) and negatives (FPR); as
    # arithmetic rather than a comparison they keep a NaN label visible.
    positive = target.to(prob.dtype)
    tpr_gap = _rate_gap(prob, group, positive, aggregate)
    fpr_gap = _rate_gap(prob, group, 1 - positive, aggregate)
    return torch.maximum(tpr_gap, fpr_gap)

