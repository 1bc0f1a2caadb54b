"""Policy-gradient objectives written as losses to minimize.

The data are what a rollout produced: ``log_probs`` of the actions taken (with
gradient through the policy), ``returns`` (discounted returns or any advantage
target, treated as constants) and, for actor-critic, the critic's ``values``.
Minimizing these losses performs gradient *ascent* on expected return. Their value is
not a measure of progress (it is an estimator of a gradient, not of return); log
the returns instead.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .._core.reduce import reduce, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    check_broadcastable,
    check_floating,
    check_param,
    check_reduction,
    check_same_shape,
)
from . import _examples as ex

__all__ = ["ActorCriticParts", "actor_critic", "policy_gradient"]


def _normalized(a: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Zero-mean, unit-variance over all elements; an empty or constant batch is safe."""
    if a.numel() == 0:
        return a
    centred = a - a.mean()
    # Population std: defined for a single element (0), where the unbiased one is NaN.
    return centred / (centred.square().mean().sqrt() + eps)


def _rollout_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    probs = ex.rand(n, 4, g=g) * 0.9 + 0.05
    return probs.log(), ex.randn(n, 4, g=g) * 3


def _pg_reference(log_probs: torch.Tensor, returns: torch.Tensor, *,
                  baseline: torch.Tensor | None = None,
                  reduction: str = "mean") -> torch.Tensor:
    # Brute-force loop: the REINFORCE surrogate term by term.
    flat_lp, flat_r = log_probs.reshape(-1), returns.reshape(-1).tolist()
    b = ([0.0] * len(flat_r) if baseline is None
         else baseline.expand_as(returns).reshape(-1).tolist())
    terms = [-(r - bi) * lp for lp, r, bi in zip(flat_lp, flat_r, b)]
    loss = torch.stack(terms).reshape(log_probs.shape) if terms else log_probs * 0
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@register_loss(
    family="reinforcement", tasks=("reinforcement_learning",), input_kind="log_probs",
    target_kind="returns", aliases=("reinforce", "pg_loss"),
    summary="REINFORCE policy-gradient surrogate: minus the advantage times the log-probability "
            "of the action taken.",
    formula="A = returns - baseline (constant, optionally normalized);  L = -mean(A * log_prob)",
    gradient="dL/dtheta = -mean(A * grad log pi(a|s)): the likelihood-ratio estimator of the "
             "gradient of expected return. Actions that did better than the baseline become "
             "more likely; a baseline does not bias it but can cut its variance a lot.",
    when_to_use="On-policy training of a stochastic policy from sampled episodes, or any "
                "non-differentiable reward (sequence-level metrics, discrete choices, hard "
                "attention). Use a baseline (the mean return, or a critic via actor_critic).",
    pitfalls="High variance: without a baseline or return normalization learning is slow and "
             "noisy. The returns and baseline must be constants (they are detached here); "
             "letting the gradient flow into them is a classic bug. The loss value is not the "
             "return and need not decrease. Off-policy data needs importance weights. "
             "normalize_returns divides by the population standard deviation (defined for a "
             "single element), where CleanRL and Stable-Baselines3 use torch's unbiased "
             "one: the same direction, a scale smaller by sqrt((n - 1) / n).",
    references=("Williams, Simple Statistical Gradient-Following Algorithms for Connectionist "
                "Reinforcement Learning, Machine Learning 1992.",
                "Sutton & Barto, Reinforcement Learning: An Introduction (2018), ch. 13."),
    example_inputs=_rollout_examples, reference=_pg_reference,
    head="none",
)
def policy_gradient(log_probs: torch.Tensor, returns: torch.Tensor, *,
                    baseline: torch.Tensor | float | None = None,
                    normalize_returns: bool = False, weight: torch.Tensor | None = None,
                    reduction: Reduction = "mean") -> torch.Tensor:
    """REINFORCE loss ``-(returns - baseline) * log_probs``; advantages carry no gradient.

    ``normalize_returns`` standardizes the advantages over all elements of the batch
    (after subtracting the baseline), a common variance-reduction trick.

    Shape:
        log_probs: ``[*]`` log pi(a_t | s_t) of the actions taken (e.g. ``[N]`` or ``[N, T]``);
        returns: ``[*]`` same shape; baseline: broadcastable to ``[*]``; output: scalar,
        or ``[*]`` with ``reduction="none"``.

    Example:
        >>> policy_gradient(torch.log(torch.tensor([0.5, 0.25])), torch.tensor([1.0, -1.0]))
        tensor(-0.3466)
    """
    check_reduction(reduction)
    check_floating("log_probs", log_probs)
    check_floating("returns", returns)
    check_same_shape("log_probs", log_probs, "returns", returns)
    advantage = upcast(returns).detach()
    if baseline is not None:
        if isinstance(baseline, torch.Tensor):
            check_floating("baseline", baseline)
            check_broadcastable("baseline", baseline, returns.shape)
            baseline = upcast(baseline).detach()
        advantage = advantage - baseline
    if normalize_returns:
        advantage = _normalized(advantage)
    loss = -advantage * upcast(log_probs)
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight)


class ActorCriticParts(NamedTuple):
    """The actor-critic loss and its parts, each reduced as asked.

    ``total = policy + value_coef * value - entropy_coef * entropy``.
    """

    total: torch.Tensor
    policy: torch.Tensor
    value: torch.Tensor
    entropy: torch.Tensor


def _actor_critic_examples(n: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = ex.generator(seed)
    log_probs, returns = _rollout_examples(n, seed)
    return log_probs, ex.randn(n, 4, g=g), returns


def _ac_reference(log_probs: torch.Tensor, values: torch.Tensor, returns: torch.Tensor, *,
                  entropy: torch.Tensor | None = None, value_coef: float = 0.5,
                  entropy_coef: float = 0.01, reduction: str = "mean") -> torch.Tensor:
    # Independent composition: REINFORCE with the (frozen) critic as baseline plus
    # torch's MSE for the critic.
    policy = _pg_reference(log_probs, returns, baseline=values.detach(), reduction="none")
    value = torch.nn.functional.mse_loss(values, returns, reduction="none")
    loss = policy + value_coef * value
    if entropy is not None:
        loss = loss - entropy_coef * entropy
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@register_loss(
    family="reinforcement", tasks=("reinforcement_learning",), input_kind="log_probs",
    target_kind="returns", aliases=("a2c", "advantage_actor_critic"), grad_args=(0, 1),
    summary="Advantage actor-critic loss: a policy-gradient term with the critic as baseline, "
            "a squared-error value loss for the critic, and an optional entropy bonus.",
    formula="A = stop_grad(returns - values);  L = mean(-A log_prob + value_coef (values - "
            "returns)^2 - entropy_coef entropy)",
    gradient="The policy term moves the actor toward actions with positive advantage (no "
             "gradient reaches the critic through A); the value term regresses the critic on "
             "the returns (2 value_coef (V - R)); the entropy bonus keeps the policy from "
             "collapsing to a deterministic one too early.",
    when_to_use="On-policy RL with a learned state-value baseline (A2C/A3C, and the base of "
                "PPO without clipping). Pass per-step tensors from a rollout: log-probs of the "
                "taken actions, critic values, bootstrapped returns or GAE targets, and the "
                "policy entropy per step.",
    pitfalls="Detaching the advantage matters: otherwise the policy term trains the critic to "
             "make advantages large. value_coef balances two networks' gradients when they "
             "share a trunk; too large and the critic dominates the shared features. The "
             "returns must be constants. Too much entropy_coef keeps the policy random.",
    references=("Mnih et al., Asynchronous Methods for Deep Reinforcement Learning, ICML 2016.",
                "Konda & Tsitsiklis, Actor-Critic Algorithms, NeurIPS 2000."),
    example_inputs=_actor_critic_examples, reference=_ac_reference,
    expected_failures={"gradcheck": "the advantage is a stop-gradient by design, so finite "
                       "differences in `values` see the policy term move while autograd "
                       "(correctly) does not; tests/test_reinforcement.py checks both "
                       "gradients against closed forms instead",
                       "double_backward": "the same stop-gradient: finite differences of the "
                       "gradient see the detached advantage move"},
    head="none",
)
def actor_critic(log_probs: torch.Tensor, values: torch.Tensor, returns: torch.Tensor, *,
                 entropy: torch.Tensor | None = None, value_coef: float = 0.5,
                 entropy_coef: float = 0.01, return_parts: bool = False,
                 weight: torch.Tensor | None = None,
                 reduction: Reduction = "mean") -> torch.Tensor | ActorCriticParts:
    """A2C loss ``-A log_probs + value_coef (values - returns)^2 - entropy_coef entropy``.

    The advantage ``A = returns - values`` is detached for the policy term. With
    ``return_parts=True`` returns :class:`ActorCriticParts` (total, policy, value,
    entropy), each reduced like the total; ``entropy`` is 0 when none is given.

    Shape:
        log_probs, values, returns: ``[*]`` per step (e.g. ``[N]`` or ``[N, T]``); entropy:
        broadcastable to ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.

    Example:
        >>> lp = torch.log(torch.tensor([0.5]))
        >>> actor_critic(lp, torch.tensor([0.0]), torch.tensor([1.0]), return_parts=True).value
        tensor(1.)
    """
    check_reduction(reduction)
    check_param("value_coef", value_coef, low=0.0)
    check_param("entropy_coef", entropy_coef, low=0.0)
    for name, t in (("log_probs", log_probs), ("values", values), ("returns", returns)):
        check_floating(name, t)
    check_same_shape("log_probs", log_probs, "values", values)
    check_same_shape("log_probs", log_probs, "returns", returns)
    lp, v, r = upcast(log_probs), upcast(values), upcast(returns).detach()
    policy = -(r - v.detach()) * lp
    value = (v - r).square()
    total = policy + value_coef * value
    if entropy is not None:
        check_floating("entropy", entropy)
        check_broadcastable("entropy", entropy, lp.shape)
        ent = upcast(entropy).expand_as(lp)
        total = total - entropy_coef * ent
    else:
        ent = torch.zeros_like(lp)
    check_broadcastable("weight", weight, total.shape)
    reduced = reduce(total, reduction, weight=weight)
    if not return_parts:
        return reduced
    return ActorCriticParts(reduced, reduce(policy, reduction, weight=weight),
                            reduce(value, reduction, weight=weight),
                            reduce(ent, reduction, weight=weight))
