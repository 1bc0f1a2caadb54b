"""Preference losses for aligning language models: DPO and its variants, SimPO, ORPO, KTO,
and the Bradley-Terry loss of reward models.

The inputs are **per-sequence** numbers, one per completion: the log-probability of the
whole completion under the policy (summed over its tokens; ``losskit.rl.sequence_logps``
computes it from logits), under a frozen reference model, or a reward model's scalar
score. SimPO and ORPO take *length-averaged* log-probabilities
(``sequence_logps(..., average=True)``). A batch is ``[B]`` pairs (chosen, rejected) or,
for KTO, ``[B]`` single completions with a desirable / undesirable flag.

Numerics: float16 / bfloat16 inputs are upcast to float32 *before* any difference is
taken (the classic DPO NaN in fp16 comes from subtracting large summed log-probabilities
in half precision); every log-sigmoid is ``F.logsigmoid``, finite for any finite input.
Reference log-probabilities come from a frozen model and are treated as constants
(detached).
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F

from .._core.reduce import reduce, safe_divide, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_floating,
    check_param,
    check_reduction,
    check_same_shape,
)
from . import _examples as ex
from ._lm import check_logps

__all__ = ["DPOParts", "bradley_terry", "dpo", "kto", "orpo", "simpo"]

_LN2 = math.log(2.0)
DPO_LOSS_TYPES = ("sigmoid", "ipo", "hinge", "robust")


class DPOParts(NamedTuple):
    """What ``dpo(..., return_parts=True)`` returns, for logging.

    ``loss`` is reduced as asked (and carries the gradient); ``chosen_rewards`` and
    ``rejected_rewards`` are the implicit rewards ``beta (policy - reference)`` per pair,
    ``[B]``, detached; ``reward_accuracy`` is the fraction of pairs whose chosen reward is
    the larger (0 for an empty batch), detached.
    """

    loss: torch.Tensor
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor
    reward_accuracy: torch.Tensor


# --- examples and references ---------------------------------------------------------------


def _pair_logps(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed log-probabilities of a chosen and a rejected completion (tens of tokens)."""
    return -(ex.rand(n, g=g) * 40 + 5), -(ex.rand(n, g=g) * 40 + 5)


def _dpo_examples(n: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = ex.generator(seed)
    pc, pr = _pair_logps(n, g)
    # the reference sits near the policy, as after SFT initialisation
    return pc, pr, pc + ex.randn(n, g=g) * 3, pr + ex.randn(n, g=g) * 3


def _dpo_reference(pc: torch.Tensor, pr: torch.Tensor, rc: torch.Tensor | None = None,
                   rr: torch.Tensor | None = None, *, beta: float | torch.Tensor = 0.1,
                   loss_type: str = "sigmoid", label_smoothing: float = 0.0,
                   weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    # Loop over pairs with the papers' formulas in probability space:
    # DPO / cDPO: -(1 - e) log s(b z) - e log(1 - s(b z)); IPO: (z - 1 / (2 b))^2;
    # hinge (SLiC): max(0, 1 - b z); robust DPO: ((1 - e) l(z) - e l(-z)) / (1 - 2 e).
    assert rc is not None and rr is not None, "the reference takes reference log-probabilities"
    rows = []
    for i in range(pc.shape[0]):
        z = (pc[i] - rc[i].detach()) - (pr[i] - rr[i].detach())
        s = torch.sigmoid(beta * z)
        e = label_smoothing
        if loss_type == "sigmoid":
            term = -(1 - e) * torch.log(s) - e * torch.log(1 - s)
        elif loss_type == "ipo":
            term = (z - 1 / (2 * beta)) ** 2
        elif loss_type == "hinge":
            term = torch.clamp(1 - beta * z, min=0)
        else:
            term = (-(1 - e) * torch.log(s) + e * torch.log(1 - s)) / (1 - 2 * e)
        rows.append(term)
    loss = torch.stack(rows) if rows else pc * 0
    if weight is not None:
        loss = loss * weight
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def _preference_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Length-averaged log-probabilities of chosen and rejected completions, in (-3, 0)."""
    g = ex.generator(seed)
    return -(ex.rand(n, g=g) * 2.5 + 0.05), -(ex.rand(n, g=g) * 2.5 + 0.05)


def _simpo_reference(c: torch.Tensor, r: torch.Tensor, *, beta: float | torch.Tensor = 2.0,
                     gamma: float | torch.Tensor = 0.5, label_smoothing: float = 0.0,
                     weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    # SimPO eq. 6 in probability space, loop over pairs.
    rows = []
    for ci, ri in zip(c, r):
        s = torch.sigmoid(beta * (ci - ri) - gamma)
        rows.append(-(1 - label_smoothing) * torch.log(s) - label_smoothing * torch.log(1 - s))
    loss = torch.stack(rows) if rows else c * 0
    if weight is not None:
        loss = loss * weight
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def _orpo_reference(c: torch.Tensor, r: torch.Tensor, *, beta: float | torch.Tensor = 0.1,
                    weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    # ORPO eq. 7: odds(y) = P / (1 - P) with P = exp(mean log-prob); loop over pairs.
    rows = []
    for ci, ri in zip(c, r):
        pc, pr = torch.exp(ci), torch.exp(ri)
        ratio = (pc / (1 - pc)) / (pr / (1 - pr))
        rows.append(-beta * torch.log(torch.sigmoid(torch.log(ratio))))
    loss = torch.stack(rows) if rows else c * 0
    if weight is not None:
        loss = loss * weight
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def _kto_examples(n: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = ex.generator(seed)
    policy = -(ex.rand(n, g=g) * 40 + 5)
    return policy, policy + ex.randn(n, g=g) * 4, ex.rand(n, g=g) > 0.4


def _kto_reference(policy: torch.Tensor, reference: torch.Tensor, desirable: torch.Tensor, *,
                   beta: float | torch.Tensor = 0.1, reference_kl: float | torch.Tensor = 0.0,
                   desirable_weight: float = 1.0, undesirable_weight: float = 1.0,
                   weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    # KTO eq. 8: v = lambda_D s(b (r - z0)) or lambda_U s(b (z0 - r)); loss = lambda_y - v.
    z0 = max(float(reference_kl), 0.0)
    rows = []
    for p, q, d in zip(policy, reference, desirable.tolist()):
        r = p - q.detach()
        if d:
            rows.append(desirable_weight - desirable_weight * torch.sigmoid(beta * (r - z0)))
        else:
            rows.append(undesirable_weight - undesirable_weight * torch.sigmoid(beta * (z0 - r)))
    loss = torch.stack(rows) if rows else policy * 0
    if weight is not None:
        loss = loss * weight
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def _reward_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return ex.randn(n, g=g) * 2, ex.randn(n, g=g) * 2


def _bt_reference(chosen: torch.Tensor, rejected: torch.Tensor, *,
                  margin: float | torch.Tensor | None = None, center_coef: float = 0.0,
                  weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    # Bradley-Terry likelihood P(chosen > rejected) = e^rc / (e^rc + e^(rr + m)), per pair.
    rows = []
    for i in range(chosen.shape[0]):
        m = 0.0 if margin is None else (margin[i] if isinstance(margin, torch.Tensor)
                                        else margin)
        p = torch.exp(chosen[i]) / (torch.exp(chosen[i]) + torch.exp(rejected[i] + m))
        rows.append(-torch.log(p) + center_coef * (chosen[i] + rejected[i]) ** 2)
    loss = torch.stack(rows) if rows else chosen * 0
    if weight is not None:
        loss = loss * weight
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


# --- shared checks ---------------------------------------------------------------------------


def _pair(first: str, a: torch.Tensor, second: str, b: torch.Tensor,
          nonpositive: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    check_logps(first, a, nonpositive=nonpositive)
    check_logps(second, b, nonpositive=nonpositive)
    check_same_shape(first, a, second, b)
    if a.dim() > 1 and not (a.dim() == 2 and a.shape[1] == 1):
        # per-token [B, T] log-probabilities: a plausible, wrong number ([B, 1], a reward
        # head's output, is one per sequence)
        what = "reward" if "reward" in first else "log-probability"
        raise LossInputError(
            f"{first} must be [B] (or [B, 1]), one summed {what} per sequence, got shape "
            f"{tuple(a.shape)}" + ("" if what == "reward" else
                                   ": sum the token log-probabilities of each completion first "
                                   "(losskit.rl.sequence_logps(logits, labels))"))
    return upcast(a), upcast(b)


def _logsigmoid_smoothed(u: torch.Tensor, eps: float) -> torch.Tensor:
    """-(1 - eps) log s(u) - eps log s(-u): binary cross entropy of a preference flipped with
    probability eps; logsigmoid keeps both terms finite for any finite u."""
    loss = -F.logsigmoid(u)
    if eps:
        loss = (1 - eps) * loss - eps * F.logsigmoid(-u)
    return loss


# --- DPO -------------------------------------------------------------------------------------


@register_loss(
    family="alignment", tasks=("preference_optimization", "language_modeling"),
    input_kind="log_probs", target_kind="log-probabilities of the rejected completions [B]",
    aliases=("direct_preference_optimization",),
    grad_args=(0, 1), learnable=("beta",),
    summary="Direct Preference Optimization: a logistic loss on how much more the policy "
            "prefers the chosen over the rejected completion than the reference model does; "
            "IPO, hinge (SLiC) and robust-DPO variants via loss_type.",
    formula="z = (pc - pr) - (rc - rr)  (reference terms 0 when not given);  "
            "sigmoid: -(1 - e) logsigmoid(beta z) - e logsigmoid(-beta z)  (e = label_smoothing, "
            "cDPO);  ipo: (z - 1/(2 beta))^2;  hinge: max(0, 1 - beta z);  robust: "
            "(-(1 - e) logsigmoid(beta z) + e logsigmoid(-beta z)) / (1 - 2e)",
    gradient="sigmoid: dL/dpc = -dL/dpr = -beta (s(-beta z)(1 - e) - s(beta z) e): large while "
             "the policy ranks the pair wrongly (relative to the reference), vanishing once "
             "beta z is large, so confident pairs stop pulling. ipo: 2 (z - 1/(2 beta)), which "
             "pulls z to the fixed target 1/(2 beta) from both sides instead of to infinity. "
             "hinge: -beta while beta z < 1, then 0.",
    when_to_use="Offline preference data (prompt, chosen, rejected) and an SFT model to start "
                "from: the standard first choice for aligning a language model without a "
                "reward model or RL. Use ipo when preferences are near-deterministic and DPO "
                "overfits (drives z to infinity), label_smoothing (cDPO) or robust when a "
                "known fraction of labels is flipped.",
    pitfalls="Compute the four log-probabilities as sums over completion tokens in float32 "
             "(losskit.rl.sequence_logps): summing and subtracting them in fp16 is the known "
             "source of NaN DPO losses. The reference terms must come from the frozen starting "
             "model (they are detached here); leaving them out (reference-free) changes the "
             "objective. beta is the KL strength: 0.1 is typical; too small lets the policy "
             "drift and degenerate, too large barely moves it. The loss can fall while both "
             "chosen and rejected log-probabilities fall (only their margin matters); watch "
             "the rewards and reward accuracy from return_parts=True. IPO as defined in the "
             "paper is usually applied to length-averaged log-probabilities.",
    references=("Rafailov, Sharma, Mitchell, Ermon, Manning, Finn, Direct Preference "
                "Optimization: Your Language Model is Secretly a Reward Model, NeurIPS 2023.",
                "Azar, Rowland, Piot, Guo, Calandriello, Valko, Munos, A General Theoretical "
                "Paradigm to Understand Learning from Human Preferences (IPO), AISTATS 2024 "
                "(arXiv:2310.12036, 2023).",
                "Mitchell, A note on DPO with noisy preferences and relationship to IPO "
                "(conservative DPO), technical note, 2023.",
                "Chowdhury, Kini, Natarajan, Provably Robust DPO: Aligning Language Models "
                "with Noisy Feedback, ICML 2024.",
                "Zhao, Joshi, Liu, Khalman, Saleh, Liu, SLiC-HF: Sequence Likelihood "
                "Calibration with Human Feedback, 2023 (the hinge form)."),
    example_inputs=_dpo_examples, reference=_dpo_reference, none_shape="sample",
)
def dpo(policy_chosen_logps: torch.Tensor, policy_rejected_logps: torch.Tensor,
        reference_chosen_logps: torch.Tensor | None = None,
        reference_rejected_logps: torch.Tensor | None = None, *,
        beta: float | torch.Tensor = 0.1,
        loss_type: Literal["sigmoid", "ipo", "hinge", "robust"] = "sigmoid",
        label_smoothing: float = 0.0, return_parts: bool = False,
        weight: torch.Tensor | None = None,
        reduction: Reduction = "mean") -> torch.Tensor | DPOParts:
    """DPO loss on per-sequence log-probabilities of chosen and rejected completions.

    With ``z = (pc - pr) - (rc - rr)`` (the reference terms are 0 when not given, the
    reference-free variant)::

        sigmoid: -(1 - eps) logsigmoid(beta z) - eps logsigmoid(-beta z)   (cDPO for eps > 0)
        ipo:     (z - 1 / (2 beta))^2
        hinge:   max(0, 1 - beta z)
        robust:  (-(1 - eps) logsigmoid(beta z) + eps logsigmoid(-beta z)) / (1 - 2 eps)

    ``eps = label_smoothing``, the assumed probability that a preference label is flipped
    (sigmoid and robust only). ``beta`` may be a tensor requiring grad. With
    ``return_parts=True`` returns :class:`DPOParts` (loss, chosen and rejected rewards
    ``beta (p - r)`` per pair, reward accuracy), the last three detached.

    Shape:
        every log-probability: ``[B]`` (one per completion, summed over its tokens);
        weight: broadcastable to ``[B]``; output: scalar, or ``[B]`` with
        ``reduction="none"``.

    Example:
        >>> pc, pr = torch.tensor([-10.0]), torch.tensor([-12.0])
        >>> dpo(pc, pr, torch.tensor([-11.0]), torch.tensor([-11.0]))
        tensor(0.5981)
    """
    check_reduction(reduction)
    if loss_type not in DPO_LOSS_TYPES:
        raise LossInputError(f"loss_type must be one of {DPO_LOSS_TYPES}, got {loss_type!r}")
    check_param("beta", beta, low=0.0, low_inclusive=False, learnable=True)
    if loss_type == "robust":
        check_param("label_smoothing", label_smoothing, low=0.0, high=0.5, high_inclusive=False)
    else:
        check_param("label_smoothing", label_smoothing, low=0.0, high=0.5)
        if label_smoothing and loss_type in ("ipo", "hinge"):
            raise LossInputError(f"label_smoothing applies to loss_type 'sigmoid' and 'robust', "
                                 f"not {loss_type!r}")
    pc, pr = _pair("policy_chosen_logps", policy_chosen_logps, "policy_rejected_logps",
                   policy_rejected_logps)
    if (reference_chosen_logps is None) != (reference_rejected_logps is None):
        raise LossInputError("pass both reference_chosen_logps and reference_rejected_logps, "
                             "or neither (reference-free)")
    if reference_chosen_logps is not None and reference_rejected_logps is not None:
        rc, rr = _pair("reference_chosen_logps", reference_chosen_logps,
                       "reference_rejected_logps", reference_rejected_logps)
        check_same_shape("policy_chosen_logps", pc, "reference_chosen_logps", rc)
        chosen, rejected = pc - rc.detach(), pr - rr.detach()
    else:
        chosen, rejected = pc, pr
    # In float32 or wider: the differences of summed log-probabilities are where fp16 fails.
    z = chosen - rejected
    eps = label_smoothing
    if loss_type == "sigmoid":
        loss = _logsigmoid_smoothed(beta * z, eps)
    elif loss_type == "ipo":
        loss = (z - 1 / (2 * beta)).square()
    elif loss_type == "hinge":
        loss = torch.clamp_min(1 - beta * z, 0.0)  # clamp, unlike where, keeps NaN
    else:
        loss = (-(1 - eps) * F.logsigmoid(beta * z) + eps * F.logsigmoid(-beta * z)) / (1 - 2 * eps)
    check_broadcastable("weight", weight, loss.shape)
    reduced = reduce(loss, reduction, weight=weight)
    if not return_parts:
        return reduced
    with torch.no_grad():
        b = beta.detach() if isinstance(beta, torch.Tensor) else beta
        chosen_rewards, rejected_rewards = b * chosen.detach(), b * rejected.detach()
        wins = (chosen_rewards > rejected_rewards).to(chosen_rewards.dtype)
        accuracy = safe_divide(wins.sum(), torch.tensor(wins.numel(), dtype=wins.dtype,
                                                        device=wins.device))
    return DPOParts(reduced, chosen_rewards, rejected_rewards, accuracy)


# --- SimPO -----------------------------------------------------------------------------------


@register_loss(
    family="alignment", tasks=("preference_optimization", "language_modeling"),
    input_kind="log_probs",
    target_kind="length-averaged log-probabilities of the rejected completions [B]",
    aliases=("simple_preference_optimization",), grad_args=(0, 1),
    learnable=("beta", "gamma"), properties=("nonnegative", "smooth"),
    summary="SimPO: reference-free preference loss on length-averaged log-probabilities with "
            "a target reward margin gamma.",
    formula="u = beta (c - r) - gamma  (c, r: mean log-probability per token);  "
            "L = -(1 - e) logsigmoid(u) - e logsigmoid(-u)  (e = label_smoothing)",
    gradient="dL/dc = -dL/dr = -beta (s(-u)(1 - e) - s(u) e): the pair keeps pulling until the "
             "length-normalized margin exceeds gamma / beta.",
    when_to_use="Preference data without the memory or time for a reference model: SimPO "
                "needs one forward pass per completion instead of two, and its length "
                "normalization removes DPO's tendency to reward longer answers.",
    pitfalls="The inputs must be length-averaged (sequence_logps(..., average=True)); summed "
             "log-probabilities make beta and gamma meaningless. beta is much larger than "
             "DPO's (2 to 10 in the paper) because averages are small; gamma / beta is the "
             "target margin in nats per token, so tune the two together. With no reference "
             "the policy may drift from the SFT model; watch a held-out likelihood.",
    references=("Meng, Xia, Chen, SimPO: Simple Preference Optimization with a Reference-Free "
                "Reward, NeurIPS 2024.",),
    example_inputs=_preference_examples, reference=_simpo_reference, none_shape="sample",
)
def simpo(chosen_logps: torch.Tensor, rejected_logps: torch.Tensor, *,
          beta: float | torch.Tensor = 2.0, gamma: float | torch.Tensor = 0.5,
          label_smoothing: float = 0.0, weight: torch.Tensor | None = None,
          reduction: Reduction = "mean") -> torch.Tensor:
    """SimPO loss ``-logsigmoid(beta (c - r) - gamma)`` on length-averaged log-probabilities.

    With ``label_smoothing = eps > 0`` the pair is treated as flipped with probability eps:
    ``-(1 - eps) logsigmoid(u) - eps logsigmoid(-u)``. ``beta`` and ``gamma`` may be tensors
    requiring grad.

    Shape:
        chosen_logps, rejected_logps: ``[B]`` mean log-probability per token of each
        completion; weight: broadcastable to ``[B]``; output: scalar, or ``[B]`` with
        ``reduction="none"``.

    Example:
        >>> simpo(torch.tensor([-0.5]), torch.tensor([-1.0]))
        tensor(0.4741)
    """
    check_reduction(reduction)
    check_param("beta", beta, low=0.0, low_inclusive=False, learnable=True)
    check_param("gamma", gamma, low=None, learnable=True)
    check_param("label_smoothing", label_smoothing, low=0.0, high=0.5)
    c, r = _pair("chosen_logps", chosen_logps, "rejected_logps", rejected_logps)
    loss = _logsigmoid_smoothed(beta * (c - r) - gamma, label_smoothing)
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight)


# --- ORPO ------------------------------------------------------------------------------------


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - e^x) for x < 0 without cancellation: log(-expm1(x)) near 0, log1p(-e^x) far
    from it (Maechler 2012). Each branch gets an input where it is finite, so the branch
    torch.where discards cannot send 0 * inf = NaN into the gradient."""
    far = x < -_LN2
    near_value = torch.log(-torch.expm1(torch.where(far, -1.0, x)))
    far_value = torch.log1p(-torch.exp(torch.where(far, x, -1.0)))
    return torch.where(far, far_value, near_value)


@register_loss(
    family="alignment", tasks=("preference_optimization", "language_modeling"),
    input_kind="log_probs",
    target_kind="length-averaged log-probabilities of the rejected completions [B]",
    aliases=("odds_ratio_preference_optimization",), grad_args=(0, 1), learnable=("beta",),
    properties=("nonnegative", "smooth"),
    summary="ORPO's odds-ratio term: a logistic loss on the log odds ratio between the chosen "
            "and the rejected completion, added to the usual SFT loss on the chosen one.",
    formula="odds(y) = P / (1 - P), P = exp(mean log-probability);  log_odds = (c - r) - "
            "(log(1 - e^c) - log(1 - e^r));  L = -beta logsigmoid(log_odds)",
    gradient="dL/dc = -beta s(-log_odds) / (1 - e^c), dL/dr = beta s(-log_odds) / (1 - e^r): "
             "the 1 / (1 - P) factor pushes hardest on completions the model already finds "
             "likely, and the rejected one is pushed down only as far as its odds allow.",
    when_to_use="Single-stage alignment: SFT on the chosen completions and preference learning "
                "at once, with no reference model and no separate SFT run. Add the NLL of the "
                "chosen completions yourself, e.g. losskit.get(\"sequence_cross_entropy\") + "
                "orpo, or sum the two values; this function is only the odds-ratio term.",
    pitfalls="This is only the odds-ratio term: without the SFT (NLL) term on the chosen "
             "completion, ORPO is not ORPO and the model can lower the likelihood of both. The "
             "inputs must be length-averaged log-probabilities, strictly below 0 (a mean "
             "log-probability of exactly 0 means infinite odds; it is treated as the smallest "
             "representable gap below 0). beta is the paper's lambda, the weight of this term "
             "next to the NLL term.",
    references=("Hong, Lee, Thorne, ORPO: Monolithic Preference Optimization without "
                "Reference Model, EMNLP 2024.",),
    example_inputs=_preference_examples, reference=_orpo_reference, none_shape="sample",
)
def orpo(chosen_logps: torch.Tensor, rejected_logps: torch.Tensor, *,
         beta: float | torch.Tensor = 0.1, weight: torch.Tensor | None = None,
         reduction: Reduction = "mean") -> torch.Tensor:
    """ORPO's odds-ratio loss ``-beta logsigmoid(log odds(c) - log odds(r))``.

    ``log odds(x) = x - log(1 - e^x)`` for a mean log-probability ``x < 0``. Add the
    negative log-likelihood of the chosen completions to get the full ORPO objective.
    ``beta`` may be a tensor requiring grad.

    Shape:
        chosen_logps, rejected_logps: ``[B]`` mean log-probability per token, ``<= 0``;
        weight: broadcastable to ``[B]``; output: scalar, or ``[B]`` with
        ``reduction="none"``.

    Example:
        >>> orpo(torch.tensor([-0.5]), torch.tensor([-1.5]), beta=1.0)
        tensor(0.1709)
    """
    check_reduction(reduction)
    check_param("beta", beta, low=0.0, learnable=True)
    c, r = _pair("chosen_logps", chosen_logps, "rejected_logps", rejected_logps,
                 nonpositive=True)
    # A mean log-probability of exactly 0 has infinite odds; the smallest normal gap below 0
    # keeps the value and gradient finite. It changes nothing for normal x < 0; subnormal
    # ones (|x| < 1.2e-38 in float32) are moved to it, with a zero gradient.
    top = -torch.finfo(c.dtype).tiny
    c, r = torch.clamp_max(c, top), torch.clamp_max(r, top)
    log_odds = (c - r) - (_log1mexp(c) - _log1mexp(r))
    loss = -beta * F.logsigmoid(log_odds)
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight)


# --- KTO -------------------------------------------------------------------------------------


@register_loss(
    family="alignment", tasks=("preference_optimization", "language_modeling"),
    input_kind="log_probs", target_kind="reference log-probabilities [B] and desirable [B] bool",
    aliases=("kahneman_tversky_optimization",), grad_args=(0,), learnable=("beta",),
    properties=("nonnegative", "smooth", "bounded_gradient"),
    summary="KTO: alignment from unpaired thumbs-up / thumbs-down feedback, a prospect-theory "
            "value of the implicit reward relative to a KL reference point.",
    formula="r = policy - reference;  z0 = max(reference_kl, 0) (constant);  desirable: "
            "w_d (1 - s(beta (r - z0)));  undesirable: w_u (1 - s(beta (z0 - r)));  mean over "
            "all rows",
    gradient="desirable rows: dL/dpolicy = -w_d beta s(u)(1 - s(u)), u = beta (r - z0); "
             "undesirable rows: the same with the sign flipped. The sigmoid saturates, so "
             "rows far past the reference point stop pulling (risk-averse in gains, "
             "risk-seeking in losses).",
    when_to_use="Feedback that is a binary label per completion rather than a pair (likes, "
                "accepted / rejected suggestions), or imbalanced data: desirable_weight and "
                "undesirable_weight rebalance the two kinds (the paper keeps "
                "w_d n_d / (w_u n_u) between 1 and 4/3).",
    pitfalls="reference_kl is the reference point z0: an estimate of KL(policy || reference) "
             "on the batch (the paper uses mismatched prompt-completion pairs), treated as a "
             "constant; pass it as a float or a detached tensor. Leaving it 0 gives a "
             "reference point of 0, a common simplification. A batch needs both kinds of row "
             "for the reference point estimate to mean anything. Inputs are summed "
             "log-probabilities per completion.",
    references=("Ethayarajh, Xu, Muennighoff, Jurafsky, Kiela, KTO: Model Alignment as "
                "Prospect Theoretic Optimization, ICML 2024.",),
    example_inputs=_kto_examples, reference=_kto_reference, none_shape="sample",
)
def kto(policy_logps: torch.Tensor, reference_logps: torch.Tensor, desirable: torch.Tensor, *,
        beta: float | torch.Tensor = 0.1, reference_kl: float | torch.Tensor = 0.0,
        desirable_weight: float = 1.0, undesirable_weight: float = 1.0,
        weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """KTO loss on per-completion log-probabilities with a desirable / undesirable flag.

    With ``r = policy - reference`` and ``z0 = max(reference_kl, 0)`` (detached)::

        desirable:    desirable_weight   * (1 - sigmoid(beta (r - z0)))
        undesirable:  undesirable_weight * (1 - sigmoid(beta (z0 - r)))

    ``1 - sigmoid(x)`` is computed as ``sigmoid(-x)`` (no cancellation near 1). ``beta``
    may be a tensor requiring grad; ``reference_kl`` a float or a tensor without grad.

    Shape:
        policy_logps, reference_logps: ``[B]`` summed log-probabilities; desirable: ``[B]``
        bool; weight: broadcastable to ``[B]``; output: scalar, or ``[B]`` with
        ``reduction="none"``.

    Example:
        >>> kto(torch.tensor([-10.0, -12.0]), torch.tensor([-11.0, -11.0]),
        ...     torch.tensor([True, False]))
        tensor(0.4750)
    """
    check_reduction(reduction)
    check_param("beta", beta, low=0.0, low_inclusive=False, learnable=True)
    check_param("desirable_weight", desirable_weight, low=0.0)
    check_param("undesirable_weight", undesirable_weight, low=0.0)
    z0: torch.Tensor | float
    if isinstance(reference_kl, torch.Tensor):
        if reference_kl.requires_grad:
            raise LossInputError("reference_kl is the constant reference point z0; pass it "
                                 "detached (reference_kl.detach()) or as a float")
        if reference_kl.numel() != 1 or not reference_kl.is_floating_point():
            raise LossInputError(f"reference_kl must be a float or a one-element floating "
                                 f"tensor, got shape {tuple(reference_kl.shape)} and dtype "
                                 f"{reference_kl.dtype}")
        z0 = upcast(reference_kl).reshape(()).clamp_min(0.0)
    else:
        check_param("reference_kl", reference_kl, low=None)
        z0 = max(float(reference_kl), 0.0)
    policy, reference = _pair("policy_logps", policy_logps, "reference_logps", reference_logps)
    if not isinstance(desirable, torch.Tensor) or desirable.dtype != torch.bool:
        got = desirable.dtype if isinstance(desirable, torch.Tensor) else type(desirable).__name__
        raise LossInputError(f"desirable must be a bool tensor (True = a desirable "
                             f"completion), got {got}")
    check_same_shape("policy_logps", policy, "desirable", desirable)
    u = beta * (policy - reference.detach() - z0)
    loss = torch.where(desirable, desirable_weight * torch.sigmoid(-u),
                       undesirable_weight * torch.sigmoid(u))
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight)


# --- Bradley-Terry ---------------------------------------------------------------------------


@register_loss(
    family="alignment", tasks=("reward_modeling", "preference_optimization"),
    input_kind="scores", target_kind="scores of the rejected completions [B]",
    aliases=("reward_model_loss", "pairwise_reward"), grad_args=(0, 1),
    properties=("nonnegative", "smooth", "convex"),
    summary="Bradley-Terry loss for training a reward model on preference pairs, with an "
            "optional per-pair margin and a centering penalty that keeps rewards near zero.",
    formula="L = -logsigmoid(rc - rr - margin) + center_coef (rc + rr)^2, averaged over pairs",
    gradient="dL/drc = -s(-(rc - rr - m)) + 2 center_coef (rc + rr), dL/drr = s(-(rc - rr - m)) "
             "+ 2 center_coef (rc + rr): the ranking term is bounded by 1 and vanishes for "
             "pairs already ranked with room to spare.",
    when_to_use="Training the reward model of an RLHF pipeline (PPO, GRPO with a learned "
                "reward) from pairwise preferences: rc, rr are the scalar scores of the chosen "
                "and rejected completions. margin encodes how strongly each pair was preferred "
                "(Llama 2's rating gaps); center_coef (around 0.01) removes the arbitrary "
                "offset the loss leaves free.",
    pitfalls="The loss only sees differences rc - rr, so rewards can drift to any offset; "
             "without centering (or normalizing before RL) a policy optimizer sees shifted "
             "rewards. A margin larger than the reward model can express makes the loss "
             "impossible to satisfy. The rewards are raw scores, not log-probabilities.",
    references=("Bradley, Terry, Rank Analysis of Incomplete Block Designs: I. The Method of "
                "Paired Comparisons, Biometrika 1952.",
                "Ouyang et al., Training language models to follow instructions with human "
                "feedback, NeurIPS 2022.",
                "Touvron et al., Llama 2: Open Foundation and Fine-Tuned Chat Models, 2023 "
                "(margin).",
                "Eisenstein et al., Helping or Herding? Reward Model Ensembles Mitigate but do "
                "not Eliminate Reward Hacking, 2023 (reward centering)."),
    example_inputs=_reward_examples, reference=_bt_reference, none_shape="sample",
    head="none",
)
def bradley_terry(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor, *,
                  margin: float | torch.Tensor | None = None, center_coef: float = 0.0,
                  weight: torch.Tensor | None = None,
                  reduction: Reduction = "mean") -> torch.Tensor:
    """Reward-model loss ``-logsigmoid(rc - rr - margin) + center_coef (rc + rr)^2``.

    Shape:
        chosen_rewards, rejected_rewards: ``[B]`` scalar scores; margin: a float or
        broadcastable to ``[B]``; weight: broadcastable to ``[B]``; output: scalar, or
        ``[B]`` with ``reduction="none"``.

    Example:
        >>> bradley_terry(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]))
        tensor(0.8133)
    """
    check_reduction(reduction)
    check_param("center_coef", center_coef, low=0.0)
    rc, rr = _pair("chosen_rewards", chosen_rewards, "rejected_rewards", rejected_rewards)
    gap = rc - rr
    if margin is not None:
        if isinstance(margin, torch.Tensor):
            check_floating("margin", margin)
            check_broadcastable("margin", margin, gap.shape)
            margin = upcast(margin)
        else:
            check_param("margin", margin, low=None)
        gap = gap - margin
    loss = -F.logsigmoid(gap)
    if center_coef:
        loss = loss + center_coef * (rc + rr).square()
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight)
