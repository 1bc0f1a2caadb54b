"""Survival and censored-data losses: time-to-event models and censored regression.

A survival target is a time and an event indicator per subject: ``event = 1`` when the
event was observed at ``time``, ``0`` when the subject was censored then (still event-free
when last seen). Censored subjects carry information (they survived that long), so
dropping them or treating their times as event times biases every estimate.

* ``cox_ph``: the negative Cox partial log-likelihood of risk scores, Breslow or Efron
  ties; sorted once, then running log-sum-exps (O(N log N), no loop over subjects).
* ``discrete_hazard``: the logistic-hazard likelihood over discrete time intervals.
* ``deephit``: DeepHit's pmf likelihood plus its pairwise ranking term (single risk).
* ``weibull_nll``: a parametric Weibull likelihood with right censoring.
* ``tobit``: the censored Gaussian likelihood of a value piled up at known limits.

``event`` may be bool, integer or float 0 / 1. float16/bfloat16 inputs are computed in
float32. No loss here reads tensor data on its computing path: they run on any device,
under ``torch.compile(fullgraph=True)``, ``torch.func`` and double backward.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F

from .._core._math import as_scalar, log_ndtr
from .._core.reduce import reduce, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_class_indices,
    check_floating,
    check_ndim,
    check_pair,
    check_param,
    check_reduction,
    readable,
)
from . import _examples as ex
from ._indicators import binary_indicator, nan_of
from ._references import reduced

__all__ = ["cox_ph", "deephit", "discrete_hazard", "tobit", "weibull_nll"]

_TIES = ("breslow", "efron")


def _events(event: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    return binary_indicator("event", event, shape, "event indicators")


def _check_times(name: str, time: torch.Tensor, shape: torch.Size) -> None:
    if not isinstance(time, torch.Tensor):
        raise LossInputError(f"{name} must be a torch.Tensor, got {type(time).__name__}")
    if time.dtype == torch.bool or time.is_complex():
        raise LossInputError(f"{name} must hold real times, got dtype {time.dtype}")
    if time.shape != shape:
        raise LossInputError(f"{name} must have shape {tuple(shape)}, got {tuple(time.shape)}")


def _check_bins(time_bin: torch.Tensor, n: int, bins: int) -> None:
    if not isinstance(time_bin, torch.Tensor):
        raise LossInputError(f"time_bin must be a torch.Tensor, got {type(time_bin).__name__}")
    if time_bin.shape != (n,):
        raise LossInputError(f"time_bin must have shape ({n},) (one interval index per row of "
                             f"logits), got {tuple(time_bin.shape)}")
    check_class_indices("time_bin", time_bin, bins)


# --- Cox proportional hazards --------------------------------------------------------------


def _cox_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    risk = ex.randn(n, g=g)
    time = torch.randint(1, 5, (n,), generator=g).double()  # few distinct times: ties
    event = (ex.rand(n, g=g) > 0.35).double()
    if n:
        event[0] = 1.0
    return risk, time, event


def _cox_reference(risk: torch.Tensor, time: torch.Tensor, event: torch.Tensor, *,
                   ties: str = "breslow", reduction: str = "mean") -> torch.Tensor:
    """Brute force: for each event, its risk set and tie group listed by Python loops."""
    n = len(risk)
    terms = []
    for i in range(n):
        if not bool(event[i]):
            terms.append(risk[i] * 0.0)
            continue
        zero = risk.new_zeros(())
        hazard_sum = sum((torch.exp(risk[j]) for j in range(n) if time[j] >= time[i]), zero)
        if ties == "breslow":
            terms.append(torch.log(hazard_sum) - risk[i])
            continue
        tied = [j for j in range(n) if time[j] == time[i] and bool(event[j])]
        d = len(tied)
        tied_sum = sum((torch.exp(risk[j]) for j in tied), zero)
        # Efron: the d tied deaths remove 0, 1/d, ..., (d-1)/d of their hazard; each of
        # them takes the average of the d log terms.
        logs = sum((torch.log(hazard_sum - (k / d) * tied_sum) for k in range(d)), zero) / d
        terms.append(logs - risk[i])
    loss = torch.stack(terms) if terms else risk * 0.0
    deaths = sum(bool(e) for e in event)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / deaths if deaths else loss.sum() * 0.0


def _efron_correction(r: torch.Tensor, died: torch.Tensor, log_risk: torch.Tensor,
                      first_of_tie: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Efron's term for subjects sorted by time: (1/d) sum_{k<d} log(1 - (k/d) D/R).

    For a tie group of ``d`` events whose hazards sum to ``D`` in a risk set summing to
    ``R``; every event of the group gets the group's average, so the split of the total
    does not depend on the order of tied subjects. Tie groups are handled with running
    sums and ``index_add`` over group ids (at most N groups): no data-dependent shape.
    """
    group = torch.cumsum(first_of_tie.long(), 0) - 1
    counts = died.to(r.dtype)
    deaths = torch.zeros_like(r).index_add(0, group, counts)[group].clamp(min=1.0)
    # D / R as a sum of exp(r_i - log R): each term is in (0, 1] (i is in its own risk
    # set), so nothing overflows whatever the scale of the risks.
    share = torch.zeros_like(r).index_add(
        0, group, torch.where(died, torch.exp(r - log_risk), 0.0))[group]
    start = torch.cummax(torch.where(first_of_tie, pos, 0), 0).values
    before = torch.cumsum(counts, 0) - counts
    rank = before - before[start]  # 0 .. d-1 among the events of the tie group
    # rank / d <= (d - 1) / d and D <= R, so the argument of log1p stays above -1.
    removed = torch.where(died, rank / deaths * share, 0.0)
    per_event = torch.where(died, torch.log1p(-removed), 0.0)
    return torch.zeros_like(r).index_add(0, group, per_event)[group] / deaths


@register_loss(
    family="survival", tasks=("survival",), input_kind="scores",
    target_kind="survival times with event indicators (1 = event observed, 0 = censored)",
    aliases=("cox", "coxph", "cox_partial_likelihood", "deepsurv"),
    properties=("convex", "smooth"),
    summary="Negative Cox partial log-likelihood of risk scores (log hazard ratios), with "
            "Breslow or Efron handling of tied event times.",
    formula="Breslow: L = sum over events i of [log sum_{j: t_j >= t_i} exp(r_j) - r_i]. "
            "Efron, for a time with d tied events whose exp(r) sum to D in a risk set "
            "summing to R: sum_{k=0}^{d-1} log(R - (k/d) D) - sum of their r. 'sum' is the "
            "whole negative log partial likelihood, 'mean' divides it by the number of events.",
    gradient="dL/dr_j = sum over events i with j at risk of exp(r_j) / R_i, minus 1 if j is an "
             "event: the expected minus the observed number of events of subject j. Censored "
             "subjects get gradient only through the risk sets they belong to.",
    when_to_use="Right-censored time-to-event data (churn, failure, clinical follow-up) when "
                "you want a ranking of risk rather than a time distribution: the model "
                "outputs one score per subject, the baseline hazard is left unspecified "
                "(DeepSurv and other neural Cox models). Prefer Efron with many tied times.",
    pitfalls="The risk sets are those of the batch: a minibatch optimizes the partial "
             "likelihood of its own subjects, a noisy stand-in for the full-data one, so use "
             "large batches with several events each and reshuffle every epoch. A batch "
             "without events gives 0 and no gradient. Risks are only "
             "identified up to an additive constant (no intercept). Breslow is biased toward "
             "zero when many events share a time. weight rescales each event's term; it does "
             "not enter the risk sets (so it is not a frequency weight). 'none' gives each "
             "subject's term, 0 for censored subjects.",
    references=("Cox, Regression Models and Life-Tables, Journal of the Royal Statistical "
                "Society B 34(2), 1972.",
                "Breslow, Covariance Analysis of Censored Survival Data, Biometrics 30(1), 1974.",
                "Efron, The Efficiency of Cox's Likelihood Function for Censored Data, Journal "
                "of the American Statistical Association 72(359), 1977.",
                "Kvamme, Borgan & Scheel, Time-to-Event Prediction with Neural Networks and "
                "Cox Regression, JMLR 20(129), 2019 (pycox)."),
    example_inputs=_cox_examples, reference=_cox_reference, none_shape="sample",
    expected_failures={"reduction_consistency": "'mean' divides the summed negative "
                       "log-likelihood by the number of events (the statsmodels and survival "
                       "convention), while 'none' has one entry per subject, 0 for censored "
                       "ones"},
    head="risk",
)
def cox_ph(risk: torch.Tensor, time: torch.Tensor, event: torch.Tensor, *,
           ties: Literal["breslow", "efron"] = "breslow", weight: torch.Tensor | None = None,
           reduction: Reduction = "mean") -> torch.Tensor:
    """Negative Cox partial log-likelihood, Breslow or Efron ties.

    Equal to ``-statsmodels.duration.hazard_regression.PHReg(time, X, status=event,
    ties=ties).loglike(beta)`` for ``risk = X @ beta`` with ``reduction="sum"``;
    ``"mean"`` divides by the number of events, and a batch without events gives 0 still
    attached to the graph. The subjects are sorted by time once and every risk set is a
    running log-sum-exp of that order, so the cost is O(N log N) and no loop runs over
    subjects or times.

    Shape:
        risk: ``[N]`` scores (log hazard ratios); time: ``[N]`` times (any real dtype; only
        their order and ties matter); event: ``[N]`` 1 = event, 0 = censored. ``"none"``
        gives ``[N]``: each event's term, 0 for censored subjects.

    Example:
        >>> risk = torch.tensor([1.0, 0.0, -1.0])
        >>> time = torch.tensor([1.0, 2.0, 3.0])
        >>> round(float(cox_ph(risk, time, torch.tensor([1, 1, 0]))), 4)
        0.3604
    """
    check_reduction(reduction)
    if ties not in _TIES:
        raise LossInputError(f"ties must be one of {_TIES}, got {ties!r}")
    check_floating("risk", risk)
    check_ndim("risk", risk, 1, "N")
    _check_times("time", time, risk.shape)
    observed = _events(event, risk.shape)
    check_broadcastable("weight", weight, risk.shape)
    r = upcast(risk)
    n = r.shape[0]
    pos = torch.arange(n, device=r.device)
    # Latest first: the risk set {j : t_j >= t_i} is then a prefix of the order, ending at
    # the last subject tied with i.
    order = torch.argsort(time, descending=True, stable=True)
    t, r_s, died = time[order], r[order], observed[order]
    new_time = t[1:] != t[:-1]
    edge = torch.ones(min(n, 1), dtype=torch.bool, device=r.device)
    last_of_tie = torch.cat([new_time, edge])
    end = torch.where(last_of_tie, pos, n).flip(0).cummin(0).values.flip(0)
    # log sum_{j at risk} exp(r_j) as a running log-sum-exp: finite for any scale of risk.
    log_risk = torch.logcumsumexp(r_s, 0).gather(0, end)
    loss_sorted = log_risk - r_s
    if ties == "efron":
        first_of_tie = torch.cat([edge, new_time])
        loss_sorted = loss_sorted + _efron_correction(r_s, died, log_risk, first_of_tie, pos)
    loss = torch.zeros_like(loss_sorted).scatter(0, order, loss_sorted)
    loss = loss + nan_of(risk, time, event, like=loss)
    return reduce(loss, reduction, weight=weight, mask=observed)


# --- discrete-time models ------------------------------------------------------------------


def _discrete_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    bins = 6
    logits = ex.randn(n, bins, g=g)
    time_bin = torch.randint(0, bins, (n,), generator=g)
    event = (ex.rand(n, g=g) > 0.3).double()
    return logits, time_bin, event


def _discrete_hazard_reference(logits: torch.Tensor, time_bin: torch.Tensor, event: torch.Tensor,
                               *, reduction: str = "mean") -> torch.Tensor:
    """pycox's ``nll_logistic_hazard``, transcribed: BCE per interval, cumsum, gather."""
    y = torch.zeros_like(logits).scatter(1, time_bin.view(-1, 1), event.to(logits.dtype)
                                         .view(-1, 1))
    bce = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    return reduced(bce.cumsum(1).gather(1, time_bin.view(-1, 1)).view(-1), reduction)


@register_loss(
    family="survival", tasks=("survival",), input_kind="logits",
    target_kind="interval index of the event or censoring time, with event indicators",
    aliases=("logistic_hazard", "nnet_survival", "nll_logistic_hazard"),
    properties=("convex", "smooth", "nonnegative"),
    summary="Logistic-hazard (discrete-time) survival likelihood: one hazard logit per time "
            "interval, a binary cross-entropy for each interval the subject was at risk in.",
    formula="h_ik = sigmoid(x_ik); L_i = sum_{k <= b_i} BCE(x_ik, y_ik) with y_ik = 1 only at "
            "k = b_i for an event (all 0 if censored in interval b_i): -log of prod_{k < b_i} "
            "(1 - h_ik) times h_ib for events, (1 - h_ib) for censored; mean over subjects.",
    gradient="dL/dx_ik = sigmoid(x_ik) - y_ik for the intervals at risk, 0 after: each "
             "interval is a logistic regression on the subjects still at risk in it.",
    when_to_use="Survival with event times grouped into intervals (days, months, visit "
                "windows), or when the hazard may change shape over time (no proportional "
                "hazards assumption); scales to large data and minibatches, since each "
                "subject's term is independent of the batch.",
    pitfalls="Censoring in interval b is counted as surviving it (pycox's convention); with "
             "wide intervals put censoring at the previous interval or use finer bins. "
             "Intervals after the last observed time get no training signal. time_bin must "
             "be an interval index in 0..T-1, not a time.",
    references=("Gensheimer & Narasimhan, A scalable discrete-time survival model for neural "
                "networks, PeerJ 7:e6257, 2019.",
                "Kvamme & Borgan, Continuous and Discrete-Time Survival Prediction with Neural "
                "Networks, arXiv:1910.06724, 2019; Lifetime Data Analysis 27, 2021 (pycox's "
                "nll_logistic_hazard)."),
    example_inputs=_discrete_examples, reference=_discrete_hazard_reference, none_shape="sample",
    expected_failures={"convergence": "the check scores argmax(logits) as a class prediction, "
                       "but these are per-interval hazard logits: the intervals after a "
                       "subject's own get no signal from it and the largest hazard is not a "
                       "predicted time; tests/test_survival.py trains the loss to its known "
                       "optimum instead (the life-table hazards)"},
    head="hazard_logits",
)
def discrete_hazard(logits: torch.Tensor, time_bin: torch.Tensor, event: torch.Tensor, *,
                    weight: torch.Tensor | None = None,
                    reduction: Reduction = "mean") -> torch.Tensor:
    """Logistic-hazard negative log-likelihood (nnet-survival), as pycox's ``nll_logistic_hazard``.

    Shape:
        logits: ``[N, T]`` hazard logits per interval; time_bin: ``[N]`` integer interval
        index of the event / censoring time; event: ``[N]`` 1 = event, 0 = censored.
        ``"none"`` gives ``[N]``.

    Example:
        >>> round(float(discrete_hazard(torch.zeros(1, 3), torch.tensor([1]),
        ...                             torch.tensor([1]))), 4)
        1.3863
    """
    check_reduction(reduction)
    check_floating("logits", logits)
    check_ndim("logits", logits, 2, "N, T")
    n, bins = logits.shape
    _check_bins(time_bin, n, bins)
    observed = _events(event, torch.Size([n]))
    check_broadcastable("weight", weight, torch.Size([n]))
    x = upcast(logits)
    k = torch.arange(bins, device=x.device)
    at_risk = k <= time_bin.unsqueeze(1)
    y = ((k == time_bin.unsqueeze(1)) & observed.unsqueeze(1)).to(x.dtype)
    # Binary cross-entropy from logits by log-sigmoids: exact and finite at any logit.
    bce = -(y * F.logsigmoid(x) + (1.0 - y) * F.logsigmoid(-x))
    loss = torch.where(at_risk, bce, 0.0).sum(1) + nan_of(event, like=x)
    return reduce(loss, reduction, weight=weight)


def _deephit_reference(logits: torch.Tensor, time_bin: torch.Tensor, event: torch.Tensor, *,
                       alpha: float = 0.2, sigma: float = 0.1,
                       reduction: str = "mean") -> torch.Tensor:
    """pycox's formulas transcribed with Python loops for the rank matrix (epsilon 0)."""
    n = logits.shape[0]
    pmf = torch.softmax(torch.cat([logits, torch.zeros_like(logits[:, :1])], 1), 1)
    cdf = pmf.cumsum(1)
    terms = []
    for i in range(n):
        b = int(time_bin[i])
        nll = -torch.log(pmf[i, b]) if bool(event[i]) else -torch.log(pmf[i, b + 1:].sum())
        rank = logits.new_zeros(())
        for j in range(n):
            bj = int(time_bin[j])
            if bool(event[i]) and (b < bj or (b == bj and not bool(event[j]))):
                rank = rank + torch.exp(-(cdf[i, b] - cdf[j, b]) / sigma)
        terms.append(alpha * nll + (1 - alpha) * rank / n)
    loss = torch.stack(terms) if terms else logits.sum(1)
    return reduced(loss, reduction)


@register_loss(
    family="survival", tasks=("survival",), input_kind="logits",
    target_kind="interval index of the event or censoring time, with event indicators",
    aliases=("deephit_single",),
    properties=("smooth", "nonnegative"),
    summary="DeepHit (single risk): the likelihood of a discrete time distribution (softmax "
            "over intervals plus 'later') combined with a pairwise ranking term on the CDFs.",
    formula="p_i = softmax([x_i, 0]) over T intervals and 'after the last'; F_i(k) = sum_{m<=k} "
            "p_im. NLL_i = -log p_i(b_i) for events, -log sum_{m > b_i} p_im if censored. "
            "Rank_i = (1/N) sum_j A_ij exp(-(F_i(b_i) - F_j(b_i)) / sigma), A_ij = 1 if i had "
            "an event and b_i < b_j (or b_i = b_j with j censored). L_i = alpha NLL_i + "
            "(1 - alpha) Rank_i (pycox's convention for alpha); mean over subjects.",
    gradient="The NLL moves probability mass to the observed interval (or beyond the "
             "censoring interval); the ranking term pushes the CDF of an earlier event above "
             "the CDFs of subjects who outlived it, with weight exp(-gap / sigma): pairs "
             "ranked wrongly or by a small margin dominate.",
    when_to_use="Discrete-time survival when concordance (ranking subjects by risk) is the "
                "metric and the hazard may be non-proportional; the ranking term sharpens "
                "discrimination that the likelihood alone learns slowly.",
    pitfalls="The ranking term compares every pair in the batch: O(N^2 T) memory and time, and "
             "it depends on the batch composition. alpha weighs the likelihood, as in pycox "
             "(the paper puts its alpha on the ranking term instead). Small sigma makes "
             "exp(-gap / sigma) up to exp(1 / sigma): keep sigma >= 0.05 in float32. The "
             "ranking term favours discrimination over calibration; check calibrated "
             "survival curves separately.",
    references=("Lee, Zame, Yoon & van der Schaar, DeepHit: A Deep Learning Approach to "
                "Survival Analysis with Competing Risks, AAAI 2018.",
                "Kvamme, Borgan & Scheel, Time-to-Event Prediction with Neural Networks and "
                "Cox Regression, JMLR 20(129), 2019 (pycox's DeepHitSingleLoss)."),
    example_inputs=_discrete_examples, reference=_deephit_reference, none_shape="sample",
    learnable=("alpha", "sigma"),
    expected_failures={"convergence": "the check scores argmax(logits) as a class prediction, "
                       "but a censored subject (a third of the examples) has no interval "
                       "label, only a lower bound on it, so argmax accuracy is not the answer; "
                       "tests/test_survival.py trains the likelihood to its known optimum (the "
                       "life table) instead"},
)
def deephit(logits: torch.Tensor, time_bin: torch.Tensor, event: torch.Tensor, *,
            alpha: float | torch.Tensor = 0.2, sigma: float | torch.Tensor = 0.1,
            weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """DeepHit loss for a single risk: ``alpha * NLL + (1 - alpha) * ranking``, as pycox.

    The likelihood is computed in log space (a log-softmax and a running log-sum-exp for
    the survival mass), where pycox adds ``epsilon = 1e-7`` inside its logs; the two agree
    to that epsilon. ``alpha`` and ``sigma`` may be tensors requiring grad.

    Shape:
        logits: ``[N, T]`` (the pmf has T + 1 entries: a zero logit for 'after the last
        interval' is appended); time_bin: ``[N]`` integer interval index; event: ``[N]``
        1 = event, 0 = censored. ``"none"`` gives ``[N]``.

    Example:
        >>> round(float(deephit(torch.zeros(2, 2), torch.tensor([0, 1]),
        ...                     torch.tensor([1, 0]))), 4)
        0.4197
    """
    check_reduction(reduction)
    check_param("alpha", alpha, low=0.0, high=1.0, learnable=True)
    check_param("sigma", sigma, low=0.0, low_inclusive=False, learnable=True)
    check_floating("logits", logits)
    check_ndim("logits", logits, 2, "N, T")
    n, bins = logits.shape
    _check_bins(time_bin, n, bins)
    observed = _events(event, torch.Size([n]))
    check_broadcastable("weight", weight, torch.Size([n]))
    x = upcast(logits)
    b = time_bin.unsqueeze(1)
    log_pmf = torch.log_softmax(torch.cat([x, x.new_zeros(n, 1)], 1), 1)
    # log of the mass after interval k: a reverse running log-sum-exp, never log(0 + eps).
    log_after = log_pmf.flip(1).logcumsumexp(1).flip(1)
    nll = -torch.where(observed, log_pmf.gather(1, b).squeeze(1),
                       log_after.gather(1, b + 1).squeeze(1))
    cdf = log_pmf.exp().cumsum(1)
    own = cdf.gather(1, b).squeeze(1)                       # F_i(b_i)
    gap = own.unsqueeze(1) - cdf.index_select(1, time_bin).T  # [i, j]: F_i(b_i) - F_j(b_i)
    earlier = b < b.T
    comparable = observed.unsqueeze(1) & (earlier | ((b == b.T) & ~observed.unsqueeze(0)))
    # Pairs that do not count are evaluated at gap 0, so exp never overflows off the mask.
    pair = torch.where(comparable, torch.exp(-torch.where(comparable, gap, 0.0) / sigma), 0.0)
    rank = pair.sum(1) / max(n, 1)
    loss = alpha * nll + (1.0 - alpha) * rank + nan_of(event, like=x)
    return reduce(loss, reduction, weight=weight)


# --- parametric and censored regression ----------------------------------------------------


def _weibull_examples(n: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = ex.generator(seed)
    return (ex.randn(n, g=g) * 0.5, ex.randn(n, g=g) * 0.3, ex.rand(n, g=g) * 2 + 0.1,
            (ex.rand(n, g=g) > 0.3).double())


def _weibull_reference(log_scale: torch.Tensor, log_shape: torch.Tensor, time: torch.Tensor,
                       event: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """torch.distributions.Weibull: -log_prob for events, (t / scale)^shape = -log S else."""
    scale, shape = torch.exp(log_scale), torch.exp(log_shape)
    dist = torch.distributions.Weibull(scale, shape)
    # Distribution.log_prob is unannotated in torch's source
    log_density = dist.log_prob(time)  # type: ignore[no-untyped-call]
    loss = torch.where(event.bool(), -log_density, (time / scale) ** shape)
    return reduced(loss, reduction)


@register_loss(
    family="survival", tasks=("survival", "regression"), input_kind="values",
    target_kind="positive survival times with event indicators",
    aliases=("weibull", "weibull_aft", "wtte"),
    properties=("smooth",), grad_args=(0, 1),
    summary="Weibull negative log-likelihood with right censoring, from predicted log-scale "
            "and log-shape: -log f(t) for events, -log S(t) for censored subjects.",
    formula="lambda = exp(log_scale), k = exp(log_shape), u = k (log t - log lambda); "
            "S(t) = exp(-(t / lambda)^k) = exp(-e^u); L = e^u - event * (log k + u - log t); "
            "mean over subjects.",
    gradient="dL/du = e^u - event: the scale moves until the cumulative hazard (t/lambda)^k at "
             "the observed time matches the event indicator on average; censored subjects "
             "only push the scale up (they survived at least that long).",
    when_to_use="Continuous survival times when a full, smooth time distribution per subject "
                "is wanted (median survival, survival curves, time-to-failure with "
                "increasing or decreasing hazard: k > 1 or k < 1), e.g. WTTE-RNN churn and "
                "predictive-maintenance models.",
    pitfalls="Assumes a Weibull shape: a hazard that is monotone in time; check the fit. "
             "Predict logs (the parameters must stay positive); large log_shape makes "
             "(t/lambda)^k overflow: clamp or scale times to around 1. time must be > 0. "
             "The value can be negative (a density above 1), so compare values, not signs.",
    references=("Weibull, A Statistical Distribution Function of Wide Applicability, Journal "
                "of Applied Mechanics 18, 1951.",
                "Kalbfleisch & Prentice, The Statistical Analysis of Failure Time Data, 2nd "
                "ed., Wiley 2002 (likelihood under right censoring)."),
    example_inputs=_weibull_examples, reference=_weibull_reference, none_shape="sample",
    expected_failures={"extreme_inputs": "a log-shape or log-scale of 1e4 is a Weibull "
                       "parameter of e^10000, which no float holds; the loss is exact wherever "
                       "(t / scale)^shape is representable"},
    head="survival_params",
)
def weibull_nll(log_scale: torch.Tensor, log_shape: torch.Tensor, time: torch.Tensor,
                event: torch.Tensor, *, weight: torch.Tensor | None = None,
                reduction: Reduction = "mean") -> torch.Tensor:
    """Right-censored Weibull negative log-likelihood.

    ``-log f(t) = (t/lambda)^k - log k + log lambda - (k - 1) log(t / lambda)`` for events and
    ``-log S(t) = (t/lambda)^k`` for censored subjects, with ``lambda = exp(log_scale)`` and
    ``k = exp(log_shape)``; the same values as ``scipy.stats.weibull_min(k, scale=lambda)``'s
    ``-logpdf`` and ``-logsf``.

    Shape:
        log_scale: ``[*]``; log_shape: broadcastable to ``[*]`` (one shared shape is fine);
        time: ``[*]`` positive; event: ``[*]`` 1 = event, 0 = censored. ``"none"`` gives ``[*]``.

    Example:
        >>> round(float(weibull_nll(torch.zeros(1), torch.zeros(1), torch.tensor([2.0]),
        ...                         torch.tensor([1.0]))), 4)
        2.0
    """
    check_reduction(reduction)
    check_floating("log_scale", log_scale)
    check_floating("log_shape", log_shape)
    check_broadcastable("log_shape", log_shape, log_scale.shape)
    _check_times("time", time, log_scale.shape)
    if time.numel() and readable(time):
        bad = ~((time > 0) & (time < math.inf))
        if bool(bad.any()):
            raise LossInputError(f"time must hold finite survival times > 0, found "
                                 f"{float(time[bad][0]):g}")
    observed = _events(event, log_scale.shape)
    check_broadcastable("weight", weight, log_scale.shape)
    log_lam, log_k = upcast(log_scale), upcast(log_shape)
    log_t = torch.log(time.to(log_lam.dtype))
    u = torch.exp(log_k) * (log_t - log_lam)  # log of the cumulative hazard (t / lambda)^k
    loss = torch.exp(u) - torch.where(observed, log_k + u - log_t, 0.0)
    return reduce(loss + nan_of(event, like=loss), reduction, weight=weight)


def _tobit_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return ex.randn(n, 3, g=g), ex.randn(n, 3, g=g)


def _tobit_reference(input: torch.Tensor, target: torch.Tensor, *, sigma: float = 1.0,
                    reduction: str = "mean") -> torch.Tensor:
    """torch.distributions.Normal: -log_prob (no limits are set by the examples)."""
    # Distribution.log_prob is unannotated in torch's source
    normal = torch.distributions.Normal(input, sigma)
    return reduced(-normal.log_prob(target), reduction)  # type: ignore[no-untyped-call]


def _perfect(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (args[1].clone(), args[1], *args[2:])


def _limit(value: float | torch.Tensor, like: torch.Tensor, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        check_broadcastable(name, value, like.shape)
        return upcast(value).to(like.dtype)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LossInputError(f"{name} must be None, a number or a tensor, got "
                             f"{type(value).__name__}")
    return as_scalar(float(value), like)


@register_loss(
    family="survival", tasks=("regression", "censored_regression"), input_kind="values",
    target_kind="values",
    aliases=("tobit_nll", "censored_gaussian", "censored_regression"),
    properties=("convex", "smooth"),
    summary="Tobit (censored Gaussian) negative log-likelihood: a Gaussian density for "
            "values inside the limits, the probability mass beyond a limit for values piled "
            "up at it.",
    formula="z = (y - x) / sigma. Inside: 0.5 z^2 + log sigma + 0.5 log(2 pi). At or below "
            "lower: -log Phi((lower - x) / sigma). At or above upper: -log Phi((x - upper) / "
            "sigma). Phi is the standard normal CDF.",
    gradient="Inside the limits the Gaussian's (x - y) / sigma^2; at a limit the inverse Mills "
             "ratio phi/Phi / sigma, which fades once the prediction is well beyond the limit: "
             "a censored value only says 'at least / at most', so it stops pulling once the "
             "prediction agrees.",
    when_to_use="Targets capped or floored by measurement or policy (sales limited by stock, "
                "test scores at a ceiling, detection limits, top-coded incomes): many rows "
                "sit exactly at a limit and the latent value may lie beyond it. Plain MSE "
                "pulls predictions toward the limit and biases the slope.",
    pitfalls="Rows count as censored when target <= lower or target >= upper: set the limits "
             "to the censoring points exactly. The Gaussian assumption matters (heavy tails "
             "or skew bias it). sigma is a single or per-element scale; learn it as a tensor "
             "(positive, e.g. exp of a parameter) or it fixes the trade-off between the "
             "density and the tail terms. The value can be negative for sigma < 0.4.",
    references=("Tobin, Estimation of Relationships for Limited Dependent Variables, "
                "Econometrica 26(1), 1958.",
                "Amemiya, Tobit Models: A Survey, Journal of Econometrics 24(1-2), 1984."),
    example_inputs=_tobit_examples, reference=_tobit_reference, optimum=_perfect,
    learnable=("sigma",),
    head="censored_value",
)
def tobit(input: torch.Tensor, target: torch.Tensor, *, lower: float | torch.Tensor | None = None,
          upper: float | torch.Tensor | None = None, sigma: float | torch.Tensor = 1.0,
          weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Censored Gaussian (Tobit) negative log-likelihood.

    Equal to ``-scipy.stats.norm(input, sigma).logpdf(target)`` inside the limits,
    ``-logcdf(lower)`` where ``target <= lower`` and ``-logsf(upper)`` where ``target >=
    upper``. The tails use a log normal CDF whose value and gradient stay accurate far into
    them, also in float32 (``losskit._core._math.log_ndtr``).

    Shape:
        input: ``[*]`` predicted latent means; target: ``[*]`` observed values; lower,
        upper: ``None``, a number, or a tensor broadcastable to ``[*]`` (per-row limits);
        sigma: a positive number or tensor broadcastable to ``[*]``. ``"none"`` gives ``[*]``.

    Example:
        >>> round(float(tobit(torch.tensor([0.0]), torch.tensor([1.0]), upper=1.0)), 4)
        1.841
    """
    check_pair(input, target, weight, reduction)
    check_param("sigma", sigma, low=0.0, low_inclusive=False, learnable=True,
                broadcast_to=input.shape)
    if (isinstance(lower, (int, float)) and isinstance(upper, (int, float))
            and not lower < upper):
        raise LossInputError(f"lower must be below upper, got lower={lower!r}, upper={upper!r}")
    x, y = upcast(input), upcast(target)
    low = None if lower is None else _limit(lower, x, "lower")
    high = None if upper is None else _limit(upper, x, "upper")
    given_as_tensor = isinstance(lower, torch.Tensor) or isinstance(upper, torch.Tensor)
    if (low is not None and high is not None and given_as_tensor and readable(low)
            and readable(high) and bool((low >= high).any())):
        raise LossInputError("lower must be below upper wherever both limits are given, "
                             "found a row where lower >= upper")
    s = upcast(sigma).to(x.dtype) if isinstance(sigma, torch.Tensor) else float(sigma)
    log_s = torch.log(s) if isinstance(s, torch.Tensor) else math.log(s)
    loss = 0.5 * ((y - x) / s).square() + log_s + 0.5 * math.log(2 * math.pi)
    # Each tail is evaluated at 0 where it is not selected, so its gradient there is finite
    # (an infinite per-row limit, say) and torch.where passes exact zeros.
    if low is not None:
        below = y <= low
        tail = -log_ndtr(torch.where(below, (low - x) / s, 0.0))
        loss = torch.where(below, tail, loss)
    if high is not None:
        above = y >= high
        tail = -log_ndtr(torch.where(above, (x - high) / s, 0.0))
        loss = torch.where(above, tail, loss)
    return reduce(loss, reduction, weight=weight)
