"""Distribution losses: compare a predicted distribution (given as logits) with a target.

* ``kl_div`` and ``js_div`` take ``input: [N, C, *]`` logits with the class dimension at 1
  and ``target: [N, C, *]`` probabilities (or logits / log-probabilities with
  ``log_target=True``). ``reduction="none"`` returns one divergence per distribution,
  ``[N, *]``; ``"mean"`` averages them, which for ``[N, C]`` inputs is torch's
  ``reduction="batchmean"`` (the mathematically correct KL per sample).
  ``input_kind="probabilities"`` takes non-negative values as they are, without
  normalising them (kornia's divergences between heatmaps), and ``"log_probs"`` takes log
  values as they are (torch's ``kl_div`` input).
* ``perplexity`` is a metric for language models: ``input: [*, V]`` logits with the
  vocabulary last (``[N, V]`` tokens or ``[B, T, V]`` sequences) and ``target: [*]`` token
  ids, with padding given by ``mask`` and/or ``ignore_index``.

Divergences are in nats (natural logarithm). float16 / bfloat16 inputs are computed in
float32; logs are taken with log_softmax / xlogy, never of a probability that may be 0.
"""

from __future__ import annotations

import math
from typing import Any, Literal, get_args

import torch
import torch.nn.functional as F

from .._core._math import p_log_ratio, safe_log, safe_logaddexp
from .._core.reduce import reduce, safe_divide, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_class_indices,
    check_floating,
    check_in_range,
    check_probabilities,
    check_reduction,
    check_same_shape,
)
from . import _examples as ex

__all__ = ["js_div", "kl_div", "perplexity"]

_LOG2 = math.log(2.0)


def _target_log_probs(x: torch.Tensor, target: torch.Tensor,
                      log_target: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
    """``(log p, p)`` of the target; ``log p`` is None when it was given as probabilities."""
    if log_target:
        # log_softmax normalises logits and leaves log-probabilities unchanged (their
        # log-sum-exp is already 0), so both are accepted.
        log_p = torch.log_softmax(upcast(target).to(x.dtype), dim=1)
        return log_p, log_p.exp()
    return None, upcast(target).to(x.dtype)


#: What ``kl_div`` and ``js_div`` take as input: logits, probabilities or log-probabilities.
DistributionInput = Literal["logits", "probabilities", "log_probs"]
_INPUT_KINDS: tuple[str, ...] = get_args(DistributionInput)


def _distribution_inputs(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
                         reduction: str, log_target: bool,
                         input_kind: str = "logits") -> torch.Tensor:
    check_reduction(reduction)
    check_floating("input", input)
    if input_kind not in _INPUT_KINDS:
        raise LossInputError(f"input_kind must be one of {_INPUT_KINDS}, got {input_kind!r}")
    if input.dim() < 2:
        raise LossInputError(
            f"input must have shape [N, C, *] (batch, classes, ...), got shape {tuple(input.shape)}"
        )
    if input_kind == "probabilities":
        check_in_range("input", input, 0.0, None,
                       "non-negative probabilities or masses (input_kind='probabilities'); values")
    if log_target:
        check_floating("target", target)
    else:
        check_probabilities("target", target)
    check_same_shape("input", input, "target", target)
    check_broadcastable("weight", weight, torch.Size((input.shape[0], *input.shape[2:])))
    return upcast(input)


def _xlog_ratio(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a log(a / b)`` with ``0 log(0 / b) = 0`` for any ``b``, including 0.

    Both logs see 1 where ``a = 0`` (``where`` before the log), so no 0 * inf reaches the
    gradient: heatmaps with many exact zeros in both arguments get finite gradients. A
    positive ``a`` over ``b = 0`` is ``inf``, as the divergence is.
    """
    return p_log_ratio(a, safe_log(a), torch.log(torch.where(a == 0, 1.0, b)))


def _nan_guard(x: torch.Tensor) -> torch.Tensor:
    """NaN for each distribution of ``x`` that holds a NaN, else 0 (add to a per-distribution
    value: ``_xlog_ratio`` would otherwise hide a NaN where the other argument is 0)."""
    return torch.where(torch.isnan(x).any(1), float("nan"), 0.0).to(x.dtype)


def _perfect_logits(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Logits equal to the log of the target distribution."""
    return (args[1].log(), *args[1:])


def _kl_reference(input: torch.Tensor, target: torch.Tensor, *,
                  reduction: str = "mean") -> torch.Tensor:
    per_element = F.kl_div(F.log_softmax(input, dim=1), target, reduction="none")
    if reduction == "mean":
        return F.kl_div(F.log_softmax(input, dim=1), target, reduction="batchmean")
    return per_element.sum() if reduction == "sum" else per_element.sum(1)


@register_loss(
    family="distribution", tasks=("distillation", "classification", "distribution_matching"),
    input_kind="logits", target_kind="probabilities [N, C, *] (or logits with log_target)",
    aliases=("kl", "kl_divergence", "kullback_leibler", "relative_entropy"),
    properties=("convex", "smooth", "nonnegative", "bounded_gradient", "zero_at_optimum"),
    summary="Kullback-Leibler divergence KL(target || softmax(input)): the extra nats needed "
            "to code samples of the target with the predicted distribution.",
    formula="log q = log_softmax(x);  L = sum_c p_c (log p_c - log q_c)  per distribution, "
            "with 0 log 0 = 0; 'mean' averages over distributions (torch's batchmean)",
    gradient="dL/dx_c = q_c - p_c: the same as cross-entropy with soft targets (the two "
             "differ by the target's entropy, a constant), bounded by 1 per logit.",
    when_to_use="Knowledge distillation (target = teacher probabilities, usually at a "
                "temperature T, then multiply by T^2), matching a known target distribution, "
                "and regularising towards a prior. It is 'mean-seeking': the prediction must "
                "cover every mode of the target.",
    pitfalls="The direction matters: this is KL(target || prediction), the forward KL; the "
             "reverse KL(prediction || target) is mode-seeking. It grows without bound where "
             "the prediction puts (almost) no mass on the target's support (infinite for "
             "probabilities of 0, large for very negative logits), which is what makes it "
             "mass-covering; js_div stays below log 2 there. input_kind='probabilities' "
             "(kornia's heatmap divergences) uses unnormalised values as they are: for "
             "masses that do not sum to 1 the value can be negative. kornia's "
             "kl_div_loss_2d(pred, target) on [B, N, H, W] heatmaps, whose distributions "
             "run over the pixels, is kl_div(pred.flatten(2).transpose(1, 2), "
             "target.flatten(2).transpose(1, 2), input_kind='probabilities'). torch's kl_div with "
             "reduction='mean' divides by N*C, a known trap: losskit's 'mean' is per "
             "distribution. The target must sum to 1 over the class dimension (not checked).",
    references=("Kullback & Leibler, On Information and Sufficiency, Ann. Math. Statist. 1951.",
                "Hinton, Vinyals, Dean, Distilling the Knowledge in a Neural Network, 2015.",
                "torch.nn.KLDivLoss with reduction='batchmean' on log_softmax inputs."),
    example_inputs=ex.distribution_logits, reference=_kl_reference, optimum=_perfect_logits,
    none_shape="position",
)
def kl_div(input: torch.Tensor, target: torch.Tensor, *, log_target: bool = False,
           input_kind: DistributionInput = "logits", weight: torch.Tensor | None = None,
           reduction: Reduction = "mean") -> torch.Tensor:
    """KL(target || softmax(input)) per distribution, averaged over the batch by default.

    Unlike :func:`torch.nn.functional.kl_div`, the input is logits (normalised here with
    log_softmax) and ``"mean"`` is the mean over distributions: for ``[N, C]`` it equals
    torch's ``reduction="batchmean"``; for ``[N, C, *]`` it averages over the ``N * prod(*)``
    distributions (torch's batchmean would divide by N only).

    Args:
        log_target: the target holds log-probabilities or unnormalised logits instead of
            probabilities (useful for a teacher's logits; torch's ``log_target``).
        input_kind: what the input holds. ``"logits"`` (default) are normalised with
            log_softmax over dim 1. ``"probabilities"`` are non-negative values used as
            they are, normalised or not: ``sum_c p_c log(p_c / q_c)`` with ``0 log 0 = 0``
            and ``inf`` where ``q_c = 0 < p_c`` (kornia's ``kl_div_loss_2d`` between
            heatmaps). ``"log_probs"`` are log values used as they are (torch's
            ``kl_div`` input).

    Shape:
        input: ``[N, C, *]``; target: ``[N, C, *]``; output: scalar, or ``[N, *]`` with
        ``reduction="none"``.

    Example:
        >>> kl_div(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]))
        tensor(0.6931)
    """
    x = _distribution_inputs(input, target, weight, reduction, log_target, input_kind)
    log_p, p = _target_log_probs(x, target, log_target)
    if input_kind == "probabilities":
        return reduce(_xlog_ratio(p, x).sum(1) + _nan_guard(x), reduction, weight=weight)
    log_q = x if input_kind == "log_probs" else torch.log_softmax(x, dim=1)
    # p (log p - log q) with 0 wherever p = 0, even where log q = -inf (a class masked out
    # of both distributions), with finite gradients there.
    per = p_log_ratio(p, safe_log(p) if log_p is None else log_p, log_q).sum(1)
    if input_kind == "log_probs":  # a NaN in x where p = 0 would otherwise be hidden
        per = per + _nan_guard(x)
    return reduce(per, reduction, weight=weight)


def _js_reference(input: torch.Tensor, target: torch.Tensor, *,
                  reduction: str = "mean") -> torch.Tensor:
    # Brute-force loop over distributions of the definition on probabilities:
    # 0.5 sum p log(p / m) + 0.5 sum q log(q / m), m = (p + q) / 2.
    rows = []
    for x_row, p in zip(input, target):
        q = torch.softmax(x_row, dim=0)
        m = 0.5 * (p + q)
        rows.append(0.5 * (p * torch.log(p / m)).sum() + 0.5 * (q * torch.log(q / m)).sum())
    loss = torch.stack(rows) if rows else input.sum(1) * 0
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@register_loss(
    family="distribution", tasks=("distillation", "classification", "distribution_matching"),
    input_kind="logits", target_kind="probabilities [N, C, *] (or logits with log_target)",
    aliases=("js", "jensen_shannon", "js_divergence"),
    properties=("smooth", "nonnegative", "bounded_gradient", "zero_at_optimum"),
    summary="Jensen-Shannon divergence between softmax(input) and the target: the symmetric, "
            "bounded average of the two KLs to their mixture.",
    formula="q = softmax(x);  m = (p + q) / 2;  L = 0.5 KL(p || m) + 0.5 KL(q || m), in "
            "[0, log 2] nats per distribution",
    gradient="dL/dx_c = 0.5 q_c (log(q_c / m_c) - sum_k q_k log(q_k / m_k)): it vanishes "
             "when q and p have disjoint support, so a prediction far from the target gets "
             "little signal.",
    when_to_use="A symmetric, bounded divergence between two distributions: consistency "
                "regularisation between augmented views, comparing two models' predictions, "
                "robust training with noisy soft labels.",
    pitfalls="Bounded by log 2 and saturating, so it gives weak gradients for very wrong "
             "predictions; as a primary classification loss cross-entropy or KL learn "
             "faster. Its square root (the JS distance) is a metric; the divergence is not. "
             "input_kind='probabilities' takes unnormalised masses as they are (kornia's "
             "js_div_loss_2d on heatmaps, distributions over the pixels: flatten and move "
             "the pixel axis to dim 1); the log 2 bound then holds only for masses summing "
             "to 1.",
    references=("Lin, Divergence measures based on the Shannon entropy, IEEE Trans. Inf. "
                "Theory 1991.",
                "scipy.spatial.distance.jensenshannon (its square is this divergence)."),
    example_inputs=ex.distribution_logits, reference=_js_reference, optimum=_perfect_logits,
    none_shape="position",
)
def js_div(input: torch.Tensor, target: torch.Tensor, *, log_target: bool = False,
           input_kind: DistributionInput = "logits", weight: torch.Tensor | None = None,
           reduction: Reduction = "mean") -> torch.Tensor:
    """Jensen-Shannon divergence between ``softmax(input)`` and ``target``, in nats.

    Args:
        log_target: the target holds log-probabilities or logits instead of probabilities.
        input_kind: ``"logits"`` (default, normalised with softmax), ``"probabilities"``
            (non-negative values as they are, normalised or not: kornia's
            ``js_div_loss_2d`` between heatmaps) or ``"log_probs"`` (log values, used as
            ``exp(input)`` without normalising).

    Shape:
        input: ``[N, C, *]``; target: ``[N, C, *]``; output: scalar, or ``[N, *]`` with
        ``reduction="none"``.

    Example:
        >>> js_div(torch.tensor([[0.0, -1e4]]), torch.tensor([[0.0, 1.0]]))
        tensor(0.6931)
    """
    x = _distribution_inputs(input, target, weight, reduction, log_target, input_kind)
    if input_kind != "logits":
        _, p = _target_log_probs(x, target, log_target)
        q = x if input_kind == "probabilities" else x.exp()
        m = 0.5 * (p + q)
        per = 0.5 * (_xlog_ratio(p, m) + _xlog_ratio(q, m)).sum(1)
        return reduce(per + _nan_guard(x), reduction, weight=weight)
    log_q = torch.log_softmax(x, dim=1)
    q = log_q.exp()
    log_p, p = _target_log_probs(x, target, log_target)
    if log_p is None:
        log_p = safe_log(p)  # -inf where p = 0
    # log m = log((p + q) / 2) in log space: exact for log p = -inf, and -inf with finite
    # gradients where both are -inf (a class masked out of both distributions).
    log_m = safe_logaddexp(log_p, log_q) - _LOG2
    per = p_log_ratio(p, log_p, log_m) + p_log_ratio(q, log_q, log_m)
    return reduce(0.5 * per.sum(1), reduction, weight=weight)


# --- perplexity -------------------------------------------------------------------------------


def _perplexity_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``[n, 5, 7]`` and token ids ``[n, 5]``, the tail of odd sequences padded."""
    g = ex.generator(seed)
    logits = ex.randn(n, 5, 7, g=g)
    target = torch.randint(0, 7, (n, 5), generator=g)
    target[1::2, 3:] = -100
    return logits, target


def _perplexity_reference(input: torch.Tensor, target: torch.Tensor, *,
                          reduction: str = "mean") -> torch.Tensor:
    # Brute-force loop over sequences and tokens: exp of the mean token negative log-likelihood.
    total, count, per_sequence = input.new_zeros(()), 0, []
    for logits, tokens in zip(input, target):
        seq_total, seq_count = input.new_zeros(()), 0
        for row, token in zip(logits, tokens):
            if int(token) == -100:
                continue
            nll = -(row[token] - torch.logsumexp(row, dim=0))
            seq_total, seq_count = seq_total + nll, seq_count + 1
        total, count = total + seq_total, count + seq_count
        per_sequence.append(torch.exp(seq_total / seq_count) if seq_count
                            else input.sum() * 0)
    if reduction == "mean":
        return torch.exp(total / count)
    stacked = torch.stack(per_sequence)
    return stacked.sum() if reduction == "sum" else stacked


@register_loss(
    family="distribution", tasks=("language_modeling", "sequence"), input_kind="logits",
    target_kind="token ids [*] (vocabulary last in the input)",
    aliases=("ppl",),
    properties=("nonnegative",),
    summary="Perplexity: exp of the mean token cross-entropy, the effective number of equally "
            "likely next tokens a language model hesitates between (a metric).",
    formula="PPL = exp( sum_t m_t (-log softmax(x_t)[y_t]) / sum_t m_t ), m the padding mask",
    gradient="dPPL/dx = PPL * d(mean NLL)/dx: the cross-entropy gradient scaled by the "
             "perplexity itself, so it explodes for bad models; train on the cross-entropy "
             "and report perplexity.",
    when_to_use="Evaluating language models and any next-token predictor, on held-out text. "
                "Corpus perplexity ('mean') pools all tokens before exponentiating, as LM "
                "papers report it; 'none' gives one perplexity per sequence.",
    pitfalls="Only comparable between models with the same tokenizer and vocabulary (it is "
             "per token, not per character or word). Averaging per-batch perplexities is "
             "not the corpus perplexity: average the cross-entropy, then exponentiate. "
             "Padding must be masked or it is counted as text. Not a training loss."
             " The log base does not matter as long as it is used consistently: e^(cross-entropy "
             "in nats) equals 2^(cross-entropy in bits).",
    references=("Jelinek, Mercer, Bahl, Baker, Perplexity - a measure of the difficulty of "
                "speech recognition tasks, JASA 1977.",),
    example_inputs=_perplexity_examples, reference=_perplexity_reference, none_shape="sample",
    expected_failures={
        "reduction_consistency": "'mean' is the corpus perplexity exp(mean token NLL) and "
                                 "'none' the per-sequence perplexities; by Jensen's inequality "
                                 "the mean of the latter is larger, by design",
        "weight": "weight rescales the token cross-entropies inside the exponential, so it "
                  "cannot rescale the perplexity linearly",
        "extreme_inputs": "logits of 1e4 give a token cross-entropy near 1e4 and a "
                          "perplexity of e^10000, which no float can hold",
    },
    head="softmax",
)
def perplexity(input: torch.Tensor, target: torch.Tensor, *, mask: torch.Tensor | None = None,
               ignore_index: int = -100, weight: torch.Tensor | None = None,
               reduction: Reduction = "mean") -> torch.Tensor:
    """Perplexity ``exp(mean token cross-entropy)`` from logits and token ids.

    Args:
        mask: ``[*]`` (bool or 0/1), True / 1 for tokens that count; padding is False.
        ignore_index: token ids equal to it do not count (combined with ``mask``).
        weight: per-token weights broadcast against ``[*]``, applied to the cross-entropy.
        reduction: ``"mean"`` gives the corpus perplexity over every counted token;
            ``"none"`` one perplexity per sample (per sequence for ``[B, T, V]``);
            ``"sum"`` the sum of those.

    A selection with no counted token (an empty batch, or a fully padded sequence with
    ``"none"``) gives 0.0 (an impossible perplexity, easy to spot) rather than NaN.

    Shape:
        input: ``[*, V]`` logits, vocabulary last (``[N, V]`` or ``[B, T, V]``); target:
        ``[*]`` integer ids; output: scalar, or ``[N]`` / ``[B]`` with ``reduction="none"``.

    Example:
        >>> perplexity(torch.zeros(1, 3, 10), torch.tensor([[1, 2, 3]]))
        tensor(10.)
    """
    check_reduction(reduction)
    check_floating("input", input)
    if input.dim() < 2:
        raise LossInputError(
            f"input must have shape [*, V] (vocabulary last), got shape {tuple(input.shape)}"
        )
    token_shape = input.shape[:-1]
    if not isinstance(target, torch.Tensor) or target.shape != token_shape:
        got = tuple(target.shape) if isinstance(target, torch.Tensor) else type(target).__name__
        raise LossInputError(
            f"target must hold token ids of shape input.shape[:-1] = {tuple(token_shape)}, "
            f"got {got}"
        )
    check_class_indices("target", target, input.shape[-1], ignore_index)
    check_broadcastable("mask", mask, token_shape)
    check_broadcastable("weight", weight, token_shape)
    valid = target != ignore_index
    if mask is not None:
        valid = valid & mask.bool()
    x = upcast(input)
    logp = torch.log_softmax(x, dim=-1)
    safe = torch.where(valid, target, 0).long()
    nll = -logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    if reduction == "mean":
        mean_nll = reduce(nll, "mean", weight=weight, mask=valid)
        # exp(0) = 1 must not leak out of an empty selection: pick 0 (attached) instead.
        return torch.where(valid.any(), mean_nll.exp(), mean_nll * 0)
    # Per sample: the masked, weighted token sum over every axis but the first, divided by
    # the number of counted tokens (safe_divide: 0 for a fully padded sample).
    rows = (token_shape[0], math.prod(token_shape[1:]))
    per_token = reduce(nll, "none", weight=weight, mask=valid).reshape(rows)
    counts = valid.expand(token_shape).reshape(rows).sum(1)
    mean_nll = safe_divide(per_token.sum(1), counts.to(per_token.dtype))
    per_sample = torch.where(counts > 0, mean_nll.exp(), mean_nll * 0)
    return per_sample.sum() if reduction == "sum" else per_sample
