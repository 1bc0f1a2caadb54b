"""Helpers for RL and preference fine-tuning that are not losses: advantages and log-probabilities.

* :func:`gae` turns per-step rewards and critic values into generalized advantage
  estimates and value targets (what :func:`losskit.functional.ppo_clip` and
  :func:`losskit.functional.ppo_value` consume).
* :func:`sequence_logps` turns a language model's logits and the sampled (or labelled)
  tokens into per-sequence log-probabilities (what :func:`losskit.functional.dpo` and
  the other alignment losses consume), in float32 and without a second ``[B, T, V]``
  tensor kept for backward.
"""

from __future__ import annotations

import torch

from ._core.reduce import safe_divide, upcast
from ._core.validate import (
    LossInputError,
    check_class_indices,
    check_floating,
    check_ndim,
    check_param,
    check_same_shape,
)
from .kernels import mode as _kernels_mode
from .kernels import token_logps as _token_logps

__all__ = ["gae", "sequence_logps"]


def gae(rewards: torch.Tensor, values: torch.Tensor, *, dones: torch.Tensor | None = None,
        last_value: torch.Tensor | None = None, gamma: float = 0.99,
        lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimation over the last (time) axis.

    Backwards over time, with ``V_T = last_value`` (0 when None) and ``A_T = 0``::

        delta_t = r_t + gamma V_{t+1} (1 - done_t) - V_t
        A_t     = delta_t + gamma lam (1 - done_t) A_{t+1}

    A ``done`` at step t ends the episode after ``r_t``: it cuts both the bootstrap from
    ``V_{t+1}`` and the recursion, so the next episode's advantages do not leak into this
    one. ``lam = 1`` gives Monte-Carlo returns minus values, ``lam = 0`` the one-step TD
    error. The loop runs over time steps only (vectorized over the batch) and reads no
    tensor data. The results are targets: they are returned detached.

    Args:
        rewards: ``[*, T]`` rewards.
        values: ``[*, T]`` critic values of the states the rewards followed.
        dones: ``[*, T]`` bool (or 0/1 floats): the episode ended at this step.
        last_value: ``[*]`` value of the state after the last step (bootstrap), or None.

    Returns:
        ``(advantages, returns)``, both ``[*, T]``, ``returns = advantages + values``;
        float32 for float16 / bfloat16 inputs.

    Example:
        >>> adv, ret = gae(torch.tensor([1.0, 1.0]), torch.zeros(2), gamma=0.5, lam=1.0)
        >>> adv
        tensor([1.5000, 1.0000])
    """
    check_floating("rewards", rewards)
    check_floating("values", values)
    check_same_shape("rewards", rewards, "values", values)
    if rewards.dim() < 1:
        raise LossInputError("rewards must have a time axis (shape [*, T]), got a scalar")
    check_param("gamma", gamma, low=0.0, high=1.0)
    check_param("lam", lam, low=0.0, high=1.0)
    r, v = upcast(rewards).detach(), upcast(values).detach()
    dtype = torch.promote_types(r.dtype, v.dtype)
    r, v = r.to(dtype), v.to(dtype)
    if dones is None:
        keep = torch.ones_like(r)
    else:
        check_same_shape("rewards", rewards, "dones", dones)
        keep = (~dones).to(dtype) if dones.dtype == torch.bool else 1 - upcast(dones).to(dtype)
    if last_value is None:
        next_value = r.new_zeros(r.shape[:-1])
    else:
        check_floating("last_value", last_value)
        if last_value.shape != r.shape[:-1]:
            raise LossInputError(f"last_value must have shape {tuple(r.shape[:-1])} (rewards "
                                 f"without the time axis), got {tuple(last_value.shape)}")
        next_value = upcast(last_value).detach().to(dtype)
    running = torch.zeros_like(next_value)
    steps = []
    for t in range(r.shape[-1] - 1, -1, -1):
        delta = r[..., t] + gamma * next_value * keep[..., t] - v[..., t]
        running = delta + gamma * lam * keep[..., t] * running
        steps.append(running)
        next_value = v[..., t]
    advantages = torch.stack(steps[::-1], dim=-1) if steps else torch.zeros_like(r)
    return advantages, advantages + v


def _token_logps_definition(logits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[index] as gather - logsumexp: autograd keeps the logits (which the
    caller holds anyway) and the [N] log-normalizers, not a [N, V] log_softmax output."""
    z = upcast(logits)
    return z.gather(-1, index[..., None]).squeeze(-1) - torch.logsumexp(z, dim=-1)


def sequence_logps(logits: torch.Tensor, labels: torch.Tensor, *, ignore_index: int = -100,
                   average: bool = False) -> torch.Tensor:
    """Per-sequence log-probability of ``labels`` under ``logits``: sum (or mean) over tokens.

    No shift: ``labels[b, t]`` is scored by ``logits[b, t]`` (shift before calling when the
    logits predict the next token: ``logits[:, :-1]``, ``labels[:, 1:]``). Positions whose
    label is ``ignore_index`` (prompt, padding) do not count; with ``average=True`` the sum
    is divided by the number of counted tokens (0 for a sequence without any), the
    length-averaged log-probability SimPO and ORPO take.

    Computed as ``logits[y] - logsumexp(logits)`` in float32 or wider, block by block
    (:mod:`losskit.kernels.token_logps`), so no second ``[B, T, V]`` tensor (a log-softmax,
    or a float32 copy of bfloat16 logits) is kept for backward. Under
    ``LOSSKIT_KERNELS=plain``, while torch.compile traces and inside torch.func transforms
    the plain ``gather - logsumexp`` runs (for float16 / bfloat16 logits it then keeps a
    float32 copy for backward).

    Shape:
        logits: ``[B, T, V]``; labels: ``[B, T]`` token ids or ``ignore_index``; output:
        ``[B]``, float32 for float16 / bfloat16 logits.

    Example:
        >>> logits = torch.zeros(1, 3, 4)
        >>> sequence_logps(logits, torch.tensor([[0, 1, -100]]))
        tensor([-2.7726])
    """
    check_floating("logits", logits)
    check_ndim("logits", logits, 3, "[B, T, V]: batch, tokens, vocabulary")
    if not isinstance(labels, torch.Tensor) or labels.shape != logits.shape[:2]:
        got = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise LossInputError(f"labels must have shape {tuple(logits.shape[:2])} (logits without "
                             f"the vocabulary axis), got {got}")
    check_class_indices("labels", labels, logits.shape[-1], ignore_index)
    valid = labels != ignore_index
    index = torch.where(valid, labels, 0)
    if _kernels_mode() != "plain" and _token_logps.declines(logits, index) is None:
        token = _token_logps.token_logps(logits, index,
                                         lambda z: _token_logps_definition(z, index))
    else:
        token = _token_logps_definition(logits, index)
    token = torch.where(valid, token, 0.0)
    total = token.sum(-1)
    if not average:
        return total
    return safe_divide(total, valid.sum(-1).to(total.dtype))
