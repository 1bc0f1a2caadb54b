"""Listwise learning-to-rank losses: every query's items are scored together.

Two layouts, the same losses:

* **padded lists**: ``scores`` and ``relevance`` of shape ``[Q, L]`` (Q queries, at most L
  items each) with an optional bool ``mask`` ``[Q, L]`` (True = a real item);
* **flat rows with query ids**: ``scores`` and ``relevance`` ``[N]`` with ``group=`` ``[N]``
  integer ids (any values, in any order). They are turned into padded lists inside,
  without reading any data: the rows are sorted by group id, a running sum over "a new
  id starts here" gives each row its list, and its position minus the position where
  its list starts gives its column. As the number of groups and the largest group are
  data, the padded tensor has the bounds that shapes give: ``N`` lists (the unused ones
  are empty) of width ``max_list_size`` (default ``N``). Pass ``max_list_size`` (>= the
  largest group) to keep it small: ``listnet``/``listmle`` use O(N * width) memory,
  ``lambdarank``/``approx_ndcg`` O(N * width^2), and ask for ``max_list_size`` once that
  passes 2^24 elements (N > 256 rows without it). A group larger than ``max_list_size``
  raises where its size can be read for free (CPU, eager); elsewhere its extra items
  would be left out, so set the bound from your data loader.

Relevance is graded (0, 1, 2, ...; float or integer), larger = more relevant. Every loss
is per list, then averaged over the lists where it is defined: lists with at least one
item (``listnet``, ``listmle``) or with a positive ideal DCG (``lambdarank``,
``approx_ndcg``). Other lists give 0 and do not count; if none counts the loss is 0,
still attached to the graph. ``"none"`` gives the ``[Q]`` per-list losses (with
``group=``: ``[N]``, one per list in increasing group-id order, then zeros). ``weight``
is one weight per list. NDCG uses gains ``2^rel - 1`` and discounts ``1 / log2(1 + rank)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .._core.reduce import reduce, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_floating,
    check_integer,
    check_ndim,
    check_param,
    check_reduction,
    check_same_shape,
    readable,
)
from . import _examples as ex

__all__ = ["approx_ndcg", "lambdarank", "listmle", "listnet"]

#: Largest padded pair tensor (lists x width x width) built for ``group=`` input by the
#: pairwise losses before asking for ``max_list_size``.
_MAX_PAIR_ELEMENTS = 2 ** 24


# --- layouts -----------------------------------------------------------------------------------


def _item_mask(mask: torch.Tensor | None, shape: torch.Size, device: torch.device
               ) -> torch.Tensor:
    if mask is None:
        return torch.ones(shape, dtype=torch.bool, device=device)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise LossInputError(f"mask must be a bool tensor (True = a real item), got {got}")
    if mask.shape != shape:
        raise LossInputError(f"mask must have the scores' shape {tuple(shape)}, got "
                             f"{tuple(mask.shape)}")
    return mask


def _padded_from_groups(scores: torch.Tensor, relevance: torch.Tensor, valid: torch.Tensor,
                        group: torch.Tensor, max_list_size: int | None
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Flat rows with group ids -> padded ``[N, width]`` lists, without reading data."""
    n = scores.shape[0]
    width = n if max_list_size is None else max_list_size
    pos = torch.arange(n, device=scores.device)
    order = torch.argsort(group, stable=True)
    ids = group[order]
    starts = torch.cat([torch.ones(min(n, 1), dtype=torch.bool, device=scores.device),
                        ids[1:] != ids[:-1]])
    row = torch.cumsum(starts.long(), 0) - 1
    col = pos - torch.cummax(torch.where(starts, pos, 0), 0).values
    if max_list_size is not None and n and readable(col):
        largest = int(col.max()) + 1
        if largest > width:
            raise LossInputError(f"a group has {largest} items but max_list_size is {width}: "
                                 f"raise max_list_size to the largest group")
    # Items past the width go to one extra slot that is dropped.
    slot = torch.where(col < width, row * width + col, n * width)

    def place(values: torch.Tensor) -> torch.Tensor:
        out = values.new_zeros(n * width + 1).index_add(0, slot, values[order])
        return out[:-1].view(n, width)

    return place(scores), place(relevance), place(valid.to(scores.dtype)) > 0.5


def _lists(scores: torch.Tensor, relevance: torch.Tensor, mask: torch.Tensor | None,
           group: torch.Tensor | None, max_list_size: int | None, pairwise: bool = False
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validated ``(scores, relevance, valid)`` as padded ``[Q, L]`` lists in a float dtype."""
    check_floating("scores", scores)
    if not isinstance(relevance, torch.Tensor):
        raise LossInputError(f"relevance must be a torch.Tensor, got {type(relevance).__name__}")
    if relevance.dtype == torch.bool or relevance.is_complex():
        raise LossInputError(f"relevance must hold graded relevance (float or integer), got "
                             f"dtype {relevance.dtype}")
    check_same_shape("scores", scores, "relevance", relevance)
    s = upcast(scores)
    rel = upcast(relevance) if relevance.is_floating_point() else relevance.to(s.dtype)
    rel = rel.to(s.dtype)
    valid = _item_mask(mask, scores.shape, scores.device)
    # Grades are 0, 1, 2, ...: a negative one is almost always padding (allRank pads with
    # -1) that would count as an item with gain 2^-1 - 1 unless mask= leaves it out.
    if rel.numel() and readable(rel):
        lowest = float(torch.where(valid, rel, 0.0).min())
        if lowest < 0:
            raise LossInputError(
                f"relevance must hold grades >= 0 at the items that count, found {lowest:g}: "
                "pass mask= to leave padding (such as allRank's -1) out")
    if group is None:
        if max_list_size is not None:
            raise LossInputError("max_list_size applies only to flat input with group=")
        check_ndim("scores", scores, 2, "Q, L: padded lists (or [N] with group=)")
        return s, rel, valid
    check_ndim("scores", scores, 1, "N, with group=")
    check_integer("group", group, hint=" (query ids)")
    if group.shape != scores.shape:
        raise LossInputError(f"group must have the scores' shape {tuple(scores.shape)}, got "
                             f"{tuple(group.shape)}")
    if max_list_size is not None:
        check_param("max_list_size", max_list_size, low=1)
        max_list_size = int(max_list_size)
    n = scores.shape[0]
    width = n if max_list_size is None else max_list_size
    if pairwise and n * width * width > _MAX_PAIR_ELEMENTS:
        raise LossInputError(f"with group= and {n} rows the padded pair tensor would hold "
                             f"{n} x {width} x {width} elements: pass max_list_size= (the "
                             f"largest group) or padded [Q, L] lists")
    return _padded_from_groups(s, rel, valid, group, max_list_size)


def _finish(loss: torch.Tensor, counted: torch.Tensor, s: torch.Tensor, rel: torch.Tensor,
            valid: torch.Tensor, weight: torch.Tensor | None, reduction: str) -> torch.Tensor:
    """Per-list losses -> reduction over the lists that count.

    A NaN in a real item makes its list NaN (and count), even where the item only decides
    an order or a pair (a comparison would hide it); padding never matters.
    """
    check_broadcastable("weight", weight, loss.shape)
    bad = torch.where(valid, s.isnan() | rel.isnan(), False).any(-1)
    loss = torch.where(bad, torch.nan, loss)
    return reduce(loss, reduction, weight=weight, mask=counted | bad)


def _masked_log_softmax(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """log_softmax over the real items of each list; 0 at padding (never -inf or NaN).

    Padding is filled with the dtype's most negative finite value rather than -inf, so a
    list without items gives finite values and gradients instead of -inf - (-inf).
    """
    filled = torch.where(valid, x, torch.finfo(x.dtype).min)
    return torch.where(valid, filled - torch.logsumexp(filled, -1, keepdim=True), 0.0)


def _gains(rel: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return torch.where(valid, torch.exp2(rel) - 1.0, 0.0)


def _discount(rank: torch.Tensor) -> torch.Tensor:
    return 1.0 / torch.log2(1.0 + rank)


def _ideal_dcg(gain: torch.Tensor) -> torch.Tensor:
    best = torch.sort(gain, dim=-1, descending=True).values
    rank = torch.arange(1, gain.shape[-1] + 1, device=gain.device, dtype=gain.dtype)
    return (best * _discount(rank)).sum(-1)


# --- examples and brute-force references -----------------------------------------------------


def _list_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    scores = ex.randn(n, 6, g=g) * 1.5
    relevance = torch.randint(0, 4, (n, 6), generator=g).double()
    relevance[:, 0] = relevance[:, 0].clamp(min=1.0)  # every list has a relevant item
    return scores, relevance


def _per_list(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], scores: torch.Tensor,
              relevance: torch.Tensor, reduction: str,
              defined: Callable[[torch.Tensor], bool]) -> torch.Tensor:
    """Apply ``fn(s, y)`` to each list (Python loop) and reduce over the defined ones."""
    losses, count = [], 0
    for s, y in zip(scores, relevance):
        if defined(y):
            losses.append(fn(s, y))
            count += 1
        else:
            losses.append(s.sum() * 0.0)
    loss = torch.stack(losses) if losses else scores.sum(-1)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" or count == 0 else loss.sum() / count


def _dcg_terms(y: torch.Tensor) -> tuple[list[float], float]:
    gains = [2.0 ** float(v) - 1.0 for v in y]
    ideal = sorted(gains, reverse=True)
    return gains, sum(g / math.log2(2 + k) for k, g in enumerate(ideal))


def _listnet_reference(scores: torch.Tensor, relevance: torch.Tensor, *,
                       reduction: str = "mean") -> torch.Tensor:
    def one(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = torch.exp(y) / torch.exp(y).sum()
        return -(p * (s - torch.log(torch.exp(s).sum()))).sum()

    return _per_list(one, scores, relevance, reduction, lambda y: len(y) > 0)


def _listmle_reference(scores: torch.Tensor, relevance: torch.Tensor, *,
                       reduction: str = "mean") -> torch.Tensor:
    def one(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        order = sorted(range(len(y)), key=lambda i: -float(y[i]))  # stable: ties by position
        total = s.sum() * 0.0
        for k, i in enumerate(order):
            rest = torch.stack([s[j] for j in order[k:]])
            total = total + torch.log(torch.exp(rest).sum()) - s[i]
        return total

    return _per_list(one, scores, relevance, reduction, lambda y: len(y) > 0)


def _lambdarank_reference(scores: torch.Tensor, relevance: torch.Tensor, *,
                          reduction: str = "mean") -> torch.Tensor:
    def one(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gains, idcg = _dcg_terms(y)
        by_score = sorted(range(len(s)), key=lambda i: -float(s[i].detach()))
        rank = {i: k + 1 for k, i in enumerate(by_score)}
        total = s.sum() * 0.0
        for i in range(len(y)):
            for j in range(len(y)):
                if float(y[i]) > float(y[j]):
                    swap = abs(gains[i] - gains[j]) * abs(1 / math.log2(1 + rank[i])
                                                          - 1 / math.log2(1 + rank[j]))
                    total = total + swap / idcg * torch.log1p(torch.exp(-(s[i] - s[j])))
        return total

    return _per_list(one, scores, relevance, reduction, lambda y: _dcg_terms(y)[1] > 0)


def _approx_ndcg_reference(scores: torch.Tensor, relevance: torch.Tensor, *,
                           temperature: float = 1.0, reduction: str = "mean") -> torch.Tensor:
    def one(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gains, idcg = _dcg_terms(y)
        dcg = s.sum() * 0.0
        for i in range(len(y)):
            rank = 1.0 + sum((torch.sigmoid((s[j] - s[i]) / temperature)
                              for j in range(len(y)) if j != i), s.new_zeros(()))
            dcg = dcg + gains[i] / torch.log2(1.0 + rank)
        return 1.0 - dcg / idcg

    return _per_list(one, scores, relevance, reduction, lambda y: _dcg_terms(y)[1] > 0)


_LAYOUT_PITFALL = ("Lists are padded [Q, L] with a bool mask, or flat [N] rows with group= "
                   "query ids; with group=, pass max_list_size (>= the largest group) or the "
                   "padded tensors are N x N. ")


# --- the losses ------------------------------------------------------------------------------


@register_loss(
    family="ranking", tasks=("ranking",), input_kind="scores",
    target_kind="graded relevance per item of each list (float or integer, larger = better)",
    aliases=("listnet_loss", "softmax_cross_entropy_ranking"),
    properties=("convex", "smooth", "nonnegative"), none_shape="list",
    summary="ListNet: cross-entropy between the top-one distributions softmax(relevance) and "
            "softmax(scores) over each list's items, averaged over lists.",
    formula="L_q = -sum_{i in list q} softmax(y_q)_i log softmax(s_q)_i, over the valid items; "
            "mean over non-empty lists.",
    gradient="dL/ds_i = softmax(s)_i - softmax(y)_i: each item's score moves until its share of "
             "the list's probability matches its relevance share.",
    when_to_use="Learning to rank with graded relevance when a cheap, smooth, convex listwise "
                "objective is wanted (search, recommendation re-ranking); a strong baseline "
                "that looks at the whole list at once.",
    pitfalls="softmax(relevance) depends on the relevance scale: grades 0..4 give a much "
             "sharper target than 0..1; rescale labels to tune it. It matches the top-one "
             "probabilities, not NDCG directly, so the head of the ranking is not weighted "
             "more. " + _LAYOUT_PITFALL,
    references=("Cao, Qin, Liu, Tsai & Li, Learning to Rank: From Pairwise Approach to "
                "Listwise Approach, ICML 2007.",),
    example_inputs=_list_examples, reference=_listnet_reference,
)
def listnet(scores: torch.Tensor, relevance: torch.Tensor, *, mask: torch.Tensor | None = None,
            group: torch.Tensor | None = None, max_list_size: int | None = None,
            weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """ListNet top-one cross-entropy between softmax(relevance) and softmax(scores).

    Shape:
        scores: ``[Q, L]`` (or ``[N]`` with ``group``); relevance: same shape; mask: bool,
        same shape (True = real item). ``"none"`` gives one loss per list ``[Q]`` (``[N]``
        with ``group``). See the module docstring for the layouts.

    Example:
        >>> round(float(listnet(torch.tensor([[2.0, 0.0]]), torch.tensor([[1.0, 0.0]]))), 4)
        0.6648
    """
    check_reduction(reduction)
    s, rel, valid = _lists(scores, relevance, mask, group, max_list_size)
    target = torch.exp(_masked_log_softmax(rel, valid)) * valid
    loss = -(target * _masked_log_softmax(s, valid)).sum(-1)
    return _finish(loss, valid.any(-1), s, rel, valid, weight, reduction)


@register_loss(
    family="ranking", tasks=("ranking",), input_kind="scores",
    target_kind="graded relevance per item of each list (float or integer, larger = better)",
    aliases=("listmle_loss", "plackett_luce"),
    properties=("convex", "smooth", "nonnegative"), none_shape="list",
    summary="ListMLE: the Plackett-Luce negative log-likelihood of the items' order by "
            "relevance under the scores, averaged over lists.",
    formula="Order each list by relevance (best first; ties keep their position order): "
            "pi_1, ..., pi_n. L_q = sum_k [log sum_{m >= k} exp(s_pi_m) - s_pi_k]; mean over "
            "non-empty lists.",
    gradient="dL/ds_pi_k = sum_{m <= k} softmax over {pi_m, ..., pi_n} of s at pi_k, minus 1: "
             "an item is pushed up until it wins the 'choose the best of the rest' draw at its "
             "own position and pushed down in the draws for better items.",
    when_to_use="Learning to rank when a full order is known or relevance grades define one; "
                "convex and cheap (one sort and a running log-sum-exp per list).",
    pitfalls="Ties in relevance are broken by position, which imposes an arbitrary order "
             "among equally relevant items (shuffle them, or prefer listnet / lambdarank with "
             "many ties). Every position counts equally, so errors deep in the list cost as "
             "much as at the top. " + _LAYOUT_PITFALL,
    references=("Xia, Liu, Wang, Zhang & Li, Listwise Approach to Learning to Rank: Theory "
                "and Algorithm, ICML 2008.",),
    example_inputs=_list_examples, reference=_listmle_reference,
)
def listmle(scores: torch.Tensor, relevance: torch.Tensor, *, mask: torch.Tensor | None = None,
            group: torch.Tensor | None = None, max_list_size: int | None = None,
            weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """ListMLE: Plackett-Luce negative log-likelihood of the order by relevance.

    Shape:
        scores: ``[Q, L]`` (or ``[N]`` with ``group``); relevance: same shape; mask: bool,
        same shape. ``"none"`` gives ``[Q]`` (``[N]`` with ``group``).

    Example:
        >>> round(float(listmle(torch.tensor([[2.0, 0.0]]), torch.tensor([[1.0, 0.0]]))), 4)
        0.1269
    """
    check_reduction(reduction)
    s, rel, valid = _lists(scores, relevance, mask, group, max_list_size)
    order = torch.argsort(torch.where(valid, rel, -torch.inf), dim=-1, descending=True,
                          stable=True)
    ranked, real = s.gather(-1, order), valid.gather(-1, order)
    # log sum_{m >= k} exp(s_m) for every k: a reverse running log-sum-exp; padding (last
    # in the order) is the most negative finite value, which adds exactly nothing.
    filled = torch.where(real, ranked, torch.finfo(s.dtype).min)
    rest = filled.flip(-1).logcumsumexp(-1).flip(-1)
    loss = torch.where(real, rest - ranked, 0.0).sum(-1)
    return _finish(loss, valid.any(-1), s, rel, valid, weight, reduction)


@register_loss(
    family="ranking", tasks=("ranking",), input_kind="scores",
    target_kind="graded relevance per item of each list (float or integer, larger = better)",
    aliases=("lambda_rank", "lambdaloss_ndcg"),
    properties=("nonnegative",), none_shape="list",
    summary="LambdaRank: a pairwise logistic loss on every (more relevant, less relevant) pair "
            "of a list, each pair weighted by the NDCG change of swapping the two items in the "
            "current ranking.",
    formula="Per list: G_i = 2^rel_i - 1, D_i = 1 / log2(1 + rank_i) with rank_i from the "
            "current scores (1 = best), IDCG = sum_k G_(k) / log2(1 + k) over the ideal order. "
            "L_q = sum_{rel_i > rel_j} |G_i - G_j| |D_i - D_j| / IDCG * log(1 + exp(-(s_i - "
            "s_j))); mean over lists with IDCG > 0.",
    gradient="The LambdaRank lambdas: dL/ds_i = -sum_j |delta NDCG_ij| sigmoid(-(s_i - s_j)) "
             "over pairs where i should rank above j (and the opposite for j): swaps that "
             "would change NDCG most, near the top, get the largest push. The |delta NDCG| "
             "weights are constants of the current ranking (no gradient).",
    when_to_use="Learning to rank judged by NDCG (search, recommendation): it focuses the "
                "pairwise signal on the pairs that matter for the metric, the idea behind "
                "LambdaMART.",
    pitfalls="The weights change when the ranking changes, so the loss is piecewise smooth "
             "and not a fixed objective (it is a heuristic whose gradient approximates NDCG's "
             "improvement direction). O(L^2) pairs per list. Lists whose items are all "
             "irrelevant (IDCG = 0) give no signal and are not counted. " + _LAYOUT_PITFALL,
    references=("Burges, From RankNet to LambdaRank to LambdaMART: An Overview, Microsoft "
                "Research Technical Report MSR-TR-2010-82, 2010.",
                "Burges, Ragno & Le, Learning to Rank with Nonsmooth Cost Functions, NeurIPS "
                "2006."),
    example_inputs=_list_examples, reference=_lambdarank_reference,
)
def lambdarank(scores: torch.Tensor, relevance: torch.Tensor, *,
               mask: torch.Tensor | None = None, group: torch.Tensor | None = None,
               max_list_size: int | None = None, weight: torch.Tensor | None = None,
               reduction: Reduction = "mean") -> torch.Tensor:
    """LambdaRank: |delta NDCG|-weighted pairwise logistic loss per list.

    Shape:
        scores: ``[Q, L]`` (or ``[N]`` with ``group``); relevance: same shape; mask: bool,
        same shape. ``"none"`` gives ``[Q]`` (``[N]`` with ``group``).

    Example:
        >>> round(float(lambdarank(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]]))), 4)
        0.4847
    """
    check_reduction(reduction)
    s, rel, valid = _lists(scores, relevance, mask, group, max_list_size, pairwise=True)
    gain = _gains(rel, valid)
    idcg = _ideal_dcg(gain)
    # Ranks of the current scores (1 = best, padding last): integers, so no gradient.
    by_score = torch.argsort(torch.where(valid, s.detach(), -torch.inf), dim=-1,
                             descending=True, stable=True)
    discount = _discount((by_score.argsort(-1) + 1).to(s.dtype))
    better = ((rel.unsqueeze(-1) > rel.unsqueeze(-2)) & valid.unsqueeze(-1)
              & valid.unsqueeze(-2))
    swap = ((gain.unsqueeze(-1) - gain.unsqueeze(-2)).abs()
            * (discount.unsqueeze(-1) - discount.unsqueeze(-2)).abs())
    # log(1 + exp(-(s_i - s_j))) as -logsigmoid: exact and finite at any score gap.
    pairs = swap * -F.logsigmoid(s.unsqueeze(-1) - s.unsqueeze(-2))
    counted = idcg > 0
    loss = torch.where(better, pairs, 0.0).sum((-1, -2)) / torch.where(counted, idcg, 1.0)
    return _finish(torch.where(counted, loss, 0.0), counted, s, rel, valid, weight, reduction)


@register_loss(
    family="ranking", tasks=("ranking",), input_kind="scores",
    target_kind="graded relevance per item of each list (float or integer, larger = better)",
    aliases=("approxndcg", "approx_ndcg_loss"),
    properties=("smooth",), none_shape="list", learnable=("temperature",),
    summary="1 - ApproxNDCG: NDCG with each item's rank replaced by a smooth approximate rank "
            "(a sum of sigmoids of score differences), averaged over lists.",
    formula="rank~_i = 1 + sum_{j != i} sigmoid((s_j - s_i) / T); ApproxDCG = sum_i (2^rel_i - "
            "1) / log2(1 + rank~_i); L_q = 1 - ApproxDCG / IDCG; mean over lists with IDCG > 0.",
    gradient="Through the approximate ranks: raising s_i lowers rank~_i (raising its discounted "
             "gain) and raises the ranks of the others; the pull is strongest on relevant "
             "items near the top and between items whose scores are within a few T.",
    when_to_use="Learning to rank judged by NDCG when a directly differentiable NDCG "
                "surrogate is wanted; T trades smoothness (large) for fidelity to the true "
                "ranks (small).",
    pitfalls="Scores act only through differences divided by T: with small T or widely spread "
             "scores the sigmoids saturate and gradients vanish, with large T every item "
             "looks tied. Not convex. O(L^2) per list. Lists without relevant items (IDCG = 0) "
             "are not counted. " + _LAYOUT_PITFALL,
    references=("Qin, Liu & Li, A General Approximation Framework for Direct Optimization of "
                "Information Retrieval Measures, Information Retrieval 13(4), 2010.",),
    example_inputs=_list_examples, reference=_approx_ndcg_reference,
)
def approx_ndcg(scores: torch.Tensor, relevance: torch.Tensor, *,
                mask: torch.Tensor | None = None, temperature: float | torch.Tensor = 1.0,
                group: torch.Tensor | None = None, max_list_size: int | None = None,
                weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """1 - ApproxNDCG (Qin, Liu & Li) with approximate ranks from sigmoids of score gaps.

    ``temperature`` may be a tensor requiring grad.

    Shape:
        scores: ``[Q, L]`` (or ``[N]`` with ``group``); relevance: same shape; mask: bool,
        same shape. ``"none"`` gives ``[Q]`` (``[N]`` with ``group``).

    Example:
        >>> round(float(approx_ndcg(torch.tensor([[2.0, 0.0]]), torch.tensor([[1.0, 0.0]]))), 4)
        0.0771
    """
    check_reduction(reduction)
    check_param("temperature", temperature, low=0.0, low_inclusive=False, learnable=True)
    s, rel, valid = _lists(scores, relevance, mask, group, max_list_size, pairwise=True)
    gain = _gains(rel, valid)
    idcg = _ideal_dcg(gain)
    eye = torch.eye(s.shape[-1], dtype=torch.bool, device=s.device)
    others = valid.unsqueeze(-1) & valid.unsqueeze(-2) & ~eye
    # [.., i, j] = sigmoid((s_j - s_i) / T): how likely j is ranked above i.
    above = torch.sigmoid((s.unsqueeze(-2) - s.unsqueeze(-1)) / temperature)
    approx_rank = 1.0 + torch.where(others, above, 0.0).sum(-1)
    approx_dcg = (gain * _discount(approx_rank)).sum(-1)
    counted = idcg > 0
    loss = torch.where(counted, 1.0 - approx_dcg / torch.where(counted, idcg, 1.0), 0.0)
    return _finish(loss, counted, s, rel, valid, weight, reduction)
