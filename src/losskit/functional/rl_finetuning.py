"""Policy-optimization losses for fine-tuning language models with RL: PPO's clipped
surrogate and value loss, GRPO, and the KL penalty estimators.

Inputs are **per token**: ``logps [B, T]`` are the log-probabilities the current policy
gives the sampled tokens (with gradient; ``losskit.rl.sequence_logps`` or a gather of
``log_softmax``), ``old_logps [B, T]`` those of the policy that sampled them, and a bool
``mask [B, T]`` marks the completion tokens that count (padding and prompt are False).
Advantages, returns, rewards, old and reference log-probabilities are constants (detached).

How a ``[B, T]`` per-token loss becomes one number matters as much as the formula (it
decides how long and short completions are weighed); ``aggregation`` says it:

* ``"token"`` (default): sum over counted tokens / their number. Every token weighs the
  same, so long completions are not diluted (DAPO's token-level loss).
* ``"sequence"``: each sequence's token mean, then the mean over sequences (the GRPO paper):
  a token of a short completion weighs more than one of a long completion, which biases
  the policy toward short correct answers and long wrong ones. A sequence with no counted
  token is left out of that mean (TRL's ``loss_type="grpo"`` divides by every row, so a
  batch with fully masked rows gives a smaller value there).
* ``"constant"``: sum / (B T), a constant denominator (Dr. GRPO): unbiased, and the same
  scale for every batch.

For gradient accumulation, pass ``normalizer=`` the total count over the accumulated batch
(tokens for "token", sequences for "sequence", B T or any constant for "constant"); the
mean of each micro-batch is then its sum divided by that count, and the accumulated
gradient equals that of one big batch.
"""

from __future__ import annotations

from typing import Literal

import torch

from .._core.reduce import upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_ndim,
    check_param,
    check_reduction,
    check_same_shape,
)
from . import _examples as ex
from ._lm import (
    AGGREGATIONS,
    Aggregation,
    aggregate,
    check_logps,
    check_mask,
    check_normalizer,
    finish,
    log_ratio_cap,
    zero_masked,
)

__all__ = ["grpo", "kl_penalty", "ppo_clip", "ppo_value"]

KL_ESTIMATORS = ("k1", "k2", "k3")
_TOKENS = 5  # example completion length


# --- shared formulas -------------------------------------------------------------------------


def _clipped_surrogate(logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor,
                       clip: float, clip_high: float) -> torch.Tensor:
    """-min(ratio A, clamp(ratio, 1 - clip, 1 + clip_high) A) per token."""
    # exp of a capped log-ratio: a far off-policy token cannot overflow to inf (and then
    # NaN in the gradient); clamp and minimum propagate NaN, unlike torch.where.
    ratio = torch.exp(torch.clamp_max(logps - old_logps.detach(), log_ratio_cap))
    a = advantages.detach()
    return -torch.minimum(ratio * a, torch.clamp(ratio, 1.0 - clip, 1.0 + clip_high) * a)


def _kl_estimate(logps: torch.Tensor, reference_logps: torch.Tensor,
                 estimator: str) -> torch.Tensor:
    """Schulman's estimators of KL(policy || reference) from samples of the policy."""
    log_ratio = logps - reference_logps.detach()
    if estimator == "k1":
        return log_ratio
    if estimator == "k2":
        return 0.5 * log_ratio.square()
    # k3 = e^x - x - 1 with x = ref - logp: expm1(x) - x has no cancellation near x = 0;
    # x is capped so a token far below the reference cannot overflow to inf.
    x = torch.clamp_max(-log_ratio, log_ratio_cap)
    return torch.expm1(x) - x


def _check_clip(clip: float, clip_high: float | None) -> float:
    check_param("clip", clip, low=0.0, high=1.0)
    if clip_high is None:
        return clip
    check_param("clip_high", clip_high, low=0.0)
    return clip_high


def _token_inputs(logps: torch.Tensor, old_logps: torch.Tensor,
                  mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    check_logps("logps", logps)
    check_logps("old_logps", old_logps)
    check_ndim("logps", logps, 2, "[B, T]: batch, tokens")
    check_same_shape("logps", logps, "old_logps", old_logps)
    check_mask(mask, logps.shape)
    lp, old = zero_masked(mask, upcast(logps), upcast(old_logps))
    return lp, old


# --- examples and references -----------------------------------------------------------------


def _token_logps(n: int, g: torch.Generator) -> torch.Tensor:
    return torch.log(ex.rand(n, _TOKENS, g=g) * 0.9 + 0.05)


def _ppo_examples(n: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = ex.generator(seed)
    logps = _token_logps(n, g)
    # the sampling policy is a step behind: ratios spread across the clip range
    return logps, logps + ex.randn(n, _TOKENS, g=g) * 0.25, ex.randn(n, _TOKENS, g=g)


def _reduce_loop(per_token: torch.Tensor, reduction: str,
                 weight: torch.Tensor | None) -> torch.Tensor:
    loss = per_token if weight is None else per_token * weight
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def _ppo_reference(logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor, *,
                   clip: float = 0.2, clip_high: float | None = None,
                   weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    # PPO eq. 7 token by token, with DAPO's separate upper bound.
    high = clip if clip_high is None else clip_high
    adv = advantages if advantages.dim() == 2 else advantages[:, None].expand_as(logps)
    rows = []
    for b in range(logps.shape[0]):
        row = []
        for t in range(logps.shape[1]):
            ratio = torch.exp(logps[b, t] - old_logps[b, t].detach())
            a = float(adv[b, t])
            clipped = min(max(ratio, torch.tensor(1 - clip, dtype=ratio.dtype)),
                          torch.tensor(1 + high, dtype=ratio.dtype))
            row.append(-min(ratio * a, clipped * a))
        rows.append(torch.stack(row))
    loss = torch.stack(rows) if rows else logps * 0
    return _reduce_loop(loss, reduction, weight)


def _value_examples(n: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = ex.generator(seed)
    old = ex.randn(n, _TOKENS, g=g)
    return old + ex.randn(n, _TOKENS, g=g) * 0.3, old, ex.randn(n, _TOKENS, g=g)


def _value_reference(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, *,
                     clip: float = 0.2, weight: torch.Tensor | None = None,
                     reduction: str = "mean") -> torch.Tensor:
    # PPO2's clipped value loss, element by element with Python comparisons.
    terms = []
    for v, o, r in zip(values.reshape(-1), old_values.reshape(-1).tolist(),
                       returns.reshape(-1).tolist()):
        step = v - o
        if step.item() > clip:
            step = step * 0 + clip
        elif step.item() < -clip:
            step = step * 0 - clip
        plain, clipped = (v - r) ** 2, (o + step - r) ** 2
        terms.append(0.5 * (plain if plain.item() >= clipped.item() else clipped))
    loss = torch.stack(terms).reshape(values.shape) if terms else values * 0
    return _reduce_loop(loss, reduction, weight)


def _grpo_examples(n: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = ex.generator(seed)
    logps = _token_logps(n, g)
    return logps, logps + ex.randn(n, _TOKENS, g=g) * 0.25, ex.rand(n, g=g) * 2


def _grpo_reference(logps: torch.Tensor, old_logps: torch.Tensor, rewards: torch.Tensor, *,
                    group_size: int | None = None, beta: float = 0.0, clip: float = 0.2,
                    weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    # DeepSeekMath eq. 3 with outcome supervision: group-normalized rewards (unbiased std)
    # broadcast to every token of the completion, PPO's clipped ratio; one group here.
    n = rewards.shape[0]
    size = group_size or max(n, 1)
    adv = []
    for start in range(0, n, size):
        group = rewards[start:start + size].tolist()
        mean = sum(group) / len(group)
        std = (sum((x - mean) ** 2 for x in group) / (len(group) - 1)) ** 0.5 \
            if len(group) > 1 else 0.0
        adv += [(x - mean) / (std + 1e-4) for x in group]
    a = torch.tensor(adv, dtype=logps.dtype).reshape(n, 1).expand_as(logps)
    return _ppo_reference(logps, old_logps, a, clip=clip, weight=weight, reduction=reduction)


def _kl_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    logps = _token_logps(n, g)
    return logps, logps + ex.randn(n, _TOKENS, g=g) * 0.5


def _kl_reference(logps: torch.Tensor, reference_logps: torch.Tensor, *, estimator: str = "k3",
                  weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    # Schulman (2020): with r = p_ref / p_policy, k1 = -log r, k2 = (log r)^2 / 2,
    # k3 = (r - 1) - log r; written with r itself.
    r = torch.exp(reference_logps.detach() - logps)
    k = {"k1": -torch.log(r), "k2": torch.log(r) ** 2 / 2, "k3": (r - 1) - torch.log(r)}
    return _reduce_loop(k[estimator], reduction, weight)


# --- losses ----------------------------------------------------------------------------------


@register_loss(
    family="reinforcement", tasks=("reinforcement_learning", "language_modeling"),
    input_kind="log_probs", target_kind="old log-probabilities [B, T] and advantages",
    aliases=("ppo", "ppo_policy", "clipped_surrogate"), none_shape="element",
    summary="PPO's clipped surrogate objective, per token, with an optional separate upper "
            "clip (DAPO's clip-higher) and a choice of how tokens are averaged.",
    formula="ratio = exp(logp - old_logp);  per token: -min(ratio A, clamp(ratio, 1 - clip, "
            "1 + clip_high) A);  aggregated over the mask as 'token' | 'sequence' | 'constant'",
    gradient="dL/dlogp = -ratio A where the unclipped term is the smaller one, else 0: a token "
             "stops being pushed once its ratio left the trust region in the direction its "
             "advantage favours (above 1 + clip_high for A > 0, below 1 - clip for A < 0).",
    when_to_use="On-policy RL fine-tuning of a language model (RLHF with a reward model, "
                "verifiable rewards) when several gradient steps are taken on each batch of "
                "samples: the clip keeps those steps close to the sampling policy. "
                "aggregation='token' with clip_high about 0.28 is DAPO's recipe.",
    pitfalls="old_logps must come from the policy that sampled the tokens (for a single "
             "update per batch, logps.detach()); passing the reference model's instead turns "
             "the clip into a KL constraint it is not. aggregation changes what is optimized: "
             "'sequence' (the GRPO paper's per-sequence mean) favours short correct and long "
             "wrong completions; 'token' and 'constant' do not. 'sequence' leaves sequences "
             "with no counted token out of its mean (TRL's 'grpo' loss divides by every "
             "row). Under gradient accumulation "
             "the per-micro-batch mean is not the batch mean: pass normalizer= the total "
             "count. The log-ratio is capped at 20 before exp (as verl does) so far "
             "off-policy tokens cannot overflow.",
    references=("Schulman, Wolski, Dhariwal, Radford, Klimov, Proximal Policy Optimization "
                "Algorithms, arXiv:1707.06347, 2017.",
                "Yu et al., DAPO: An Open-Source LLM Reinforcement Learning System at Scale, "
                "arXiv:2503.14476, 2025 (clip-higher, token-level mean).",
                "Liu et al., Understanding R1-Zero-Like Training: A Critical Perspective "
                "(Dr. GRPO), arXiv:2503.20783, 2025 (constant normalizer).",
                "Shao et al., DeepSeekMath: Pushing the Limits of Mathematical Reasoning in "
                "Open Language Models, arXiv:2402.03300, 2024 (per-sequence mean)."),
    example_inputs=_ppo_examples, reference=_ppo_reference,
)
def ppo_clip(logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor, *,
             clip: float = 0.2, clip_high: float | None = None, mask: torch.Tensor | None = None,
             aggregation: Aggregation = "token", normalizer: float | torch.Tensor | None = None,
             weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """PPO clipped surrogate per token, ``-min(ratio A, clamp(ratio, 1 - clip, 1 + clip_high) A)``.

    ``clip_high`` defaults to ``clip``. ``aggregation`` ("token", "sequence", "constant", see
    the module docstring) decides the mean; ``normalizer`` replaces its denominator by a
    given count (gradient accumulation).

    Shape:
        logps, old_logps: ``[B, T]``; advantages: ``[B, T]`` per token or ``[B]`` per
        sequence; mask: bool, broadcastable to ``[B, T]``; weight: broadcastable to
        ``[B, T]`` (a per-sequence weight is ``[B, 1]``); output: scalar, or with
        ``reduction="none"`` ``[B, T]`` (masked tokens 0), or ``[B]`` per-sequence means
        for ``aggregation="sequence"``.

    Example:
        >>> lp = torch.log(torch.tensor([[0.5, 0.5]]))
        >>> ppo_clip(lp, lp - 0.5, torch.tensor([1.0]))
        tensor(-1.2000)
    """
    check_reduction(reduction)
    high = _check_clip(clip, clip_high)
    if aggregation not in AGGREGATIONS:
        raise LossInputError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    check_normalizer(normalizer)
    lp, old = _token_inputs(logps, old_logps, mask)
    check_logps("advantages", advantages)
    if advantages.shape == lp.shape[:1]:
        advantages = advantages[:, None]
    elif advantages.shape != lp.shape:
        raise LossInputError(f"advantages must have shape {tuple(lp.shape)} (per token) or "
                             f"[{lp.shape[0]}] (per sequence), got {tuple(advantages.shape)}")
    per_token = _clipped_surrogate(lp, old, upcast(advantages), clip, high)
    check_broadcastable("weight", weight, per_token.shape)
    return aggregate(per_token, mask, aggregation, reduction, weight=weight,
                     normalizer=normalizer)


@register_loss(
    family="reinforcement", tasks=("reinforcement_learning", "language_modeling"),
    input_kind="values", target_kind="old values and returns [B, T]",
    aliases=("clipped_value_loss", "ppo_value_loss"), properties=("nonnegative",),
    summary="PPO's clipped value loss: the critic's squared error, pessimistically maxed with "
            "the error of a value update clipped to within clip of the old value.",
    formula="v_clip = old + clamp(v - old, -clip, clip);  L = 0.5 max((v - R)^2, "
            "(v_clip - R)^2), masked mean",
    gradient="dL/dv = v - R where the unclipped error is the larger one; 0 where the clipped "
             "error is larger and v has moved more than clip from old (the update stops "
             "there).",
    when_to_use="The critic of PPO (RLHF with a value head): keeps each value update close to "
                "the values used to compute the advantages, as the policy clip does for the "
                "policy.",
    pitfalls="clip is in the units of the returns: if rewards are not normalized, 0.2 can be "
             "far too tight and freeze the critic. Several studies (Engstrom et al. 2020; "
             "Andrychowicz et al. 2021) found value clipping does not help or hurts; "
             "clip=float('inf') gives the plain squared error. old_values must be those used "
             "for the advantages.",
    references=("Schulman, Wolski, Dhariwal, Radford, Klimov, Proximal Policy Optimization "
                "Algorithms, arXiv:1707.06347, 2017 (value clipping as in its baselines "
                "code).",
                "Engstrom, Ilyas, Santurkar, Tsipras, Janoos, Rudolph, Madry, Implementation "
                "Matters in Deep Policy Gradients: A Case Study on PPO and TRPO, ICLR 2020."),
    example_inputs=_value_examples, reference=_value_reference,
    head="none",
)
def ppo_value(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, *,
              clip: float = 0.2, mask: torch.Tensor | None = None,
              normalizer: float | torch.Tensor | None = None,
              weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Clipped value loss ``0.5 max((v - R)^2, (old + clamp(v - old, -clip, clip) - R)^2)``.

    ``"mean"`` is over the tokens of ``mask`` (all when None), or over ``normalizer``.

    Shape:
        values, old_values, returns: ``[*]`` (e.g. ``[B, T]`` per token or ``[B]``); mask:
        bool, broadcastable to ``[*]``; weight: broadcastable to ``[*]``; output: scalar,
        or ``[*]`` with ``reduction="none"`` (masked elements 0).

    Example:
        >>> ppo_value(torch.tensor([1.0]), torch.tensor([0.0]), torch.tensor([1.0]))
        tensor(0.3200)
    """
    check_reduction(reduction)
    check_param("clip", clip, low=0.0)
    check_normalizer(normalizer)
    for name, t in (("values", values), ("old_values", old_values), ("returns", returns)):
        check_logps(name, t)
    check_same_shape("values", values, "old_values", old_values)
    check_same_shape("values", values, "returns", returns)
    check_mask(mask, values.shape)
    v, old, ret = zero_masked(mask, upcast(values), upcast(old_values).detach(),
                              upcast(returns).detach())
    clipped = old + torch.clamp(v - old, -clip, clip)
    loss = 0.5 * torch.maximum((v - ret).square(), (clipped - ret).square())
    check_broadcastable("weight", weight, loss.shape)
    return finish(loss, reduction, weight=weight, mask=mask, normalizer=normalizer)


def _group_advantages(rewards: torch.Tensor, group_size: int, scale: bool) -> torch.Tensor:
    """(r - group mean) / (group std + 1e-4) with torch's unbiased std, per contiguous group."""
    groups = rewards.reshape(-1, group_size)
    centred = groups - groups.mean(1, keepdim=True)
    if scale:
        # A group of one has no spread (torch's unbiased std would be NaN): its advantage is 0.
        std = (groups.std(1, keepdim=True) if group_size > 1 else torch.zeros_like(centred))
        centred = centred / (std + 1e-4)
    return centred.reshape(-1)


@register_loss(
    family="reinforcement", tasks=("reinforcement_learning", "language_modeling"),
    input_kind="log_probs", target_kind="old log-probabilities [B, T] and rewards [B]",
    aliases=("group_relative_policy_optimization",), none_shape="element",
    summary="GRPO: PPO's clipped surrogate with critic-free advantages, each completion's "
            "reward normalized within its group of completions of the same prompt, plus an "
            "optional k3 KL penalty to a reference model.",
    formula="A_i = (r_i - mean(group)) / (std(group) + 1e-4)  (unbiased std; no division "
            "when scale_rewards=False), broadcast over the tokens of completion i;  per token: "
            "-min(ratio A, clamp(ratio, 1 - clip, 1 + clip_high) A) + beta k3,  "
            "k3 = exp(ref - logp) - (ref - logp) - 1;  aggregated as in ppo_clip",
    gradient="The surrogate's gradient is ppo_clip's with the group advantage; the KL term "
             "adds beta (1 - exp(ref - logp)) per token, pulling logp toward the reference "
             "log-probability. A group whose rewards are all equal has zero advantage and "
             "contributes only the KL term.",
    when_to_use="RL fine-tuning with a scalar reward per completion (verifiable answers, a "
                "reward model) and several completions sampled per prompt, without training "
                "a critic. DAPO: beta=0, clip_high=0.28, aggregation='token'. Dr. GRPO: "
                "scale_rewards=False, aggregation='constant'.",
    pitfalls="Rows must be grouped: completions of one prompt contiguous, group_size of them "
             "(group_size=None treats the whole batch as one group). Dividing by the group's "
             "std (scale_rewards=True) up-weights prompts that are almost always solved or "
             "failed (Dr. GRPO's question-difficulty bias); aggregation='sequence' (the "
             "paper's per-sequence mean) adds a length bias. A group with identical rewards "
             "gives no signal: filter such prompts or sample more (DAPO's dynamic sampling). "
             "beta > 0 needs reference_logps. Under gradient accumulation pass normalizer=.",
    references=("Shao et al., DeepSeekMath: Pushing the Limits of Mathematical Reasoning in "
                "Open Language Models, arXiv:2402.03300, 2024.",
                "Yu et al., DAPO: An Open-Source LLM Reinforcement Learning System at Scale, "
                "arXiv:2503.14476, 2025.",
                "Liu et al., Understanding R1-Zero-Like Training: A Critical Perspective "
                "(Dr. GRPO), arXiv:2503.20783, 2025.",
                "Schulman, Approximating KL Divergence, blog post, 2020 (k3)."),
    example_inputs=_grpo_examples, reference=_grpo_reference,
)
def grpo(logps: torch.Tensor, old_logps: torch.Tensor, rewards: torch.Tensor, *,
         group_size: int | None = None, mask: torch.Tensor | None = None,
         reference_logps: torch.Tensor | None = None, beta: float = 0.0, clip: float = 0.2,
         clip_high: float | None = None, scale_rewards: bool = True,
         aggregation: Aggregation = "token", normalizer: float | torch.Tensor | None = None,
         weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """GRPO loss: PPO clipped surrogate with group-normalized rewards, plus ``beta`` k3 KL.

    Rows come in contiguous groups of ``group_size`` completions of one prompt
    (``None``: the whole batch is one group). Advantages are ``(r - mean) / (std + 1e-4)``
    within each group (torch's unbiased std; a group of one has advantage 0), or
    ``r - mean`` with ``scale_rewards=False``, and are the same for every token of a
    completion. ``aggregation`` and ``normalizer`` as in :func:`ppo_clip`.

    Shape:
        logps, old_logps, reference_logps: ``[B, T]``; rewards: ``[B]``; mask: bool,
        broadcastable to ``[B, T]``; weight: broadcastable to ``[B, T]``; output: scalar,
        or as :func:`ppo_clip` with ``reduction="none"``.

    Example:
        >>> lp = torch.log(torch.full((2, 3), 0.5))
        >>> grpo(lp, lp, torch.tensor([1.0, 0.0]), group_size=2)
        tensor(0.)
    """
    check_reduction(reduction)
    high = _check_clip(clip, clip_high)
    check_param("beta", beta, low=0.0)
    if aggregation not in AGGREGATIONS:
        raise LossInputError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    check_normalizer(normalizer)
    lp, old = _token_inputs(logps, old_logps, mask)
    check_logps("rewards", rewards)
    check_ndim("rewards", rewards, 1, "[B]: one reward per completion")
    if rewards.shape[0] != lp.shape[0]:
        raise LossInputError(f"rewards must have shape [{lp.shape[0]}] (one per row of logps), "
                             f"got {tuple(rewards.shape)}")
    batch = lp.shape[0]
    if group_size is None:
        group_size = max(batch, 1)
    elif isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise LossInputError(f"group_size must be a positive int, got {group_size!r}")
    if batch % group_size:
        raise LossInputError(f"the batch of {batch} completions does not split into groups of "
                             f"group_size={group_size} (rows of one prompt must be contiguous)")
    advantages = _group_advantages(upcast(rewards).detach(), group_size, scale_rewards)
    per_token = _clipped_surrogate(lp, old, advantages.to(lp.dtype)[:, None], clip, high)
    if reference_logps is not None:
        check_logps("reference_logps", reference_logps)
        check_same_shape("logps", lp, "reference_logps", reference_logps)
        if beta:
            per_token = per_token + beta * _kl_estimate(lp, upcast(reference_logps), "k3")
    elif beta:
        raise LossInputError("beta > 0 adds a KL penalty to a reference model: pass "
                             "reference_logps (or beta=0.0, as DAPO and Dr. GRPO do)")
    check_broadcastable("weight", weight, per_token.shape)
    return aggregate(per_token, mask, aggregation, reduction, weight=weight,
                     normalizer=normalizer)


@register_loss(
    family="reinforcement", tasks=("reinforcement_learning", "language_modeling"),
    input_kind="log_probs", target_kind="reference log-probabilities [B, T]",
    aliases=("kl_estimator", "reference_kl"), properties=("nonnegative", "zero_at_optimum"),
    summary="Per-token sample estimate of KL(policy || reference) from log-probabilities of "
            "tokens sampled from the policy, with Schulman's k1, k2 or k3 estimator.",
    formula="x = ref - logp;  k1 = -x;  k2 = x^2 / 2;  k3 = e^x - x - 1;  token mean over the "
            "mask",
    gradient="Differentiated as a loss on tokens sampled from the policy: k1's gradient "
             "(1 per token times d logp) has expectation 0, so it does nothing as a loss; k2's "
             "((logp - ref) d logp) is in expectation the gradient of KL(policy || ref); k3's "
             "((1 - e^(ref - logp)) d logp) that of the reverse KL(ref || policy). Both pull "
             "logp toward ref.",
    when_to_use="A penalty keeping an RL-fine-tuned policy near its reference model: add "
                "beta * kl_penalty(logps, ref_logps, mask=mask) to a policy loss, or subtract "
                "beta * k1 from the reward instead (the original RLHF recipe). k3 is unbiased "
                "for the KL, never negative and has low variance, the usual choice (GRPO).",
    pitfalls="The estimators are only valid for tokens sampled from the current policy; on "
             "other data they estimate nothing. k1 is unbiased but negative on many samples and "
             "its gradient is zero in expectation: use it as a reward penalty, not as a loss. "
             "As a loss, k3 (GRPO's choice) differentiates KL(ref || policy), k2 KL(policy || "
             "ref). k3 explodes when the policy puts far less mass on a token than the "
             "reference (e^x): x is capped at 20 before exp (as verl does).",
    references=("Schulman, Approximating KL Divergence, blog post, 2020 "
                "(joschu.net/blog/kl-approx.html).",
                "Shao et al., DeepSeekMath: Pushing the Limits of Mathematical Reasoning in "
                "Open Language Models, arXiv:2402.03300, 2024 (k3 in GRPO)."),
    example_inputs=_kl_examples, reference=_kl_reference,
    optimum=lambda args: (args[1].detach().clone(), *args[1:]),
)
def kl_penalty(logps: torch.Tensor, reference_logps: torch.Tensor, *,
               estimator: Literal["k1", "k2", "k3"] = "k3",
               mask: torch.Tensor | None = None, normalizer: float | torch.Tensor | None = None,
               weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Per-token KL(policy || reference) estimate: k1, k2 or k3 (Schulman 2020).

    With ``x = reference_logps - logps``: ``k1 = -x``, ``k2 = x^2 / 2``,
    ``k3 = exp(x) - x - 1``. ``"mean"`` is over the tokens of ``mask`` (or ``normalizer``).

    Shape:
        logps, reference_logps: ``[*]`` (e.g. ``[B, T]``); mask: bool, broadcastable to
        ``[*]``; weight: broadcastable to ``[*]``; output: scalar, or ``[*]`` with
        ``reduction="none"`` (masked tokens 0).

    Example:
        >>> kl_penalty(torch.tensor([-1.0]), torch.tensor([-2.0]))
        tensor(0.3679)
    """
    check_reduction(reduction)
    if estimator not in KL_ESTIMATORS:
        raise LossInputError(f"estimator must be one of {KL_ESTIMATORS}, got {estimator!r}")
    check_normalizer(normalizer)
    check_logps("logps", logps)
    check_logps("reference_logps", reference_logps)
    check_same_shape("logps", logps, "reference_logps", reference_logps)
    check_mask(mask, logps.shape)
    lp, ref = zero_masked(mask, upcast(logps), upcast(reference_logps))
    loss = _kl_estimate(lp, ref, estimator)
    check_broadcastable("weight", weight, loss.shape)
    return finish(loss, reduction, weight=weight, mask=mask, normalizer=normalizer)
