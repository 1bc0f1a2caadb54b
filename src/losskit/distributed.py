"""Losses that stay correct under ``torch.distributed`` (DDP, FSDP).

Several losses depend on the whole batch: contrastive losses need every rank's
embeddings as negatives, overlap losses need global sums, token-mean cross-entropy
needs the global token count. Computed per rank and averaged, they silently change
meaning. This module gives the three primitives the ``distributed=True`` option of
those losses is built on.

The gradient rule. DDP averages parameter gradients over the ``W`` ranks, so the
objective it optimizes is ``(1/W) * sum_r L_r`` where ``L_r`` is what rank ``r``
returned. Every primitive here is written so that this average equals the loss of
one process on the concatenated batch:

* :func:`gather` is an all-gather whose backward is the exact adjoint (sum the
  gradients every rank computed for my slice: a reduce-scatter). Gathering with
  ``torch.distributed.all_gather`` alone drops the gradient to the other ranks'
  embeddings; returning only the local slice of the gradient without summing
  under-counts it by ``W``. Both are frequent bugs in contrastive code.
* :func:`all_reduce_sum` sums a statistic over ranks; its backward all-reduces the
  gradient too (the adjoint of a sum that every rank uses).
* :func:`global_mean` turns a local sum and a local count into a loss whose *value*
  is the global mean on every rank and whose *gradient*, after DDP's averaging, is
  the gradient of the global mean: ``W * local_sum / global_count`` plus a detached
  correction to the value.

Without an initialized process group (or with a world of one) every function is a
no-op, so ``distributed=True`` gives the single-process result and can stay on in
code that also runs on one device.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

from ._core._math import safe_divide

__all__ = ["all_reduce_sum", "gather", "global_mean", "global_sum", "is_active", "rank_offset",
           "world_size"]


def is_active(group: Any = None) -> bool:
    """True when a process group is initialized and has more than one rank."""
    return (dist.is_available() and dist.is_initialized()
            and dist.get_world_size(group) > 1)


def world_size(group: Any = None) -> int:
    return dist.get_world_size(group) if is_active(group) else 1


def _sizes(n: int, device: torch.device, group: Any) -> list[int]:
    local = torch.tensor([n], dtype=torch.long, device=device)
    sizes = [torch.zeros_like(local) for _ in range(dist.get_world_size(group))]
    dist.all_gather(sizes, local, group=group)
    return [int(s) for s in sizes]


class _Gather(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, group: Any) -> torch.Tensor:
        sizes = _sizes(x.shape[0], x.device, group)
        ctx.group, ctx.sizes, ctx.rank = group, sizes, dist.get_rank(group)
        biggest = max(sizes)
        # all_gather needs equal shapes: pad to the largest batch, cut after.
        padded = x.new_zeros((biggest, *x.shape[1:]))
        padded[: x.shape[0]] = x
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded.contiguous(), group=group)
        return torch.cat([p[:s] for p, s in zip(parts, sizes)], dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        start = sum(ctx.sizes[: ctx.rank])
        return grad[start: start + ctx.sizes[ctx.rank]], None


class _AllReduceSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, group: Any) -> torch.Tensor:
        ctx.group = group
        out = x.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        grad = grad.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad, None


def gather(x: torch.Tensor, group: Any = None) -> torch.Tensor:
    """All-gather along dim 0 that keeps gradients correct; batch sizes may differ by rank.

    Returns the concatenation of every rank's ``x`` in rank order. The gradient each
    rank receives for its own slice is the sum of the gradients all ranks computed
    for it. A no-op without an initialized process group.

    Shape:
        x: ``[n_r, *]`` on rank r; output: ``[sum_r n_r, *]``.
    """
    if not is_active(group):
        return x
    out: torch.Tensor = _Gather.apply(x, group)  # type: ignore[no-untyped-call]
    return out


def all_reduce_sum(x: torch.Tensor, group: Any = None) -> torch.Tensor:
    """Differentiable sum over ranks of a statistic (e.g. per-class intersections)."""
    if not is_active(group):
        return x
    out: torch.Tensor = _AllReduceSum.apply(x, group)  # type: ignore[no-untyped-call]
    return out


def rank_offset(n: int, device: torch.device, group: Any = None) -> int:
    """Index of this rank's first row in the gathered batch (0 without a process group)."""
    if not is_active(group):
        return 0
    return sum(_sizes(n, device, group)[: dist.get_rank(group)])


def global_mean(local_sum: torch.Tensor, local_count: torch.Tensor | float,
                group: Any = None) -> torch.Tensor:
    """Global mean over ranks from this rank's sum and count, DDP-correct in its gradient.

    The value is ``sum_r local_sum_r / sum_r local_count_r`` on every rank (0 when the
    global count is 0); the gradient, once DDP averages it over ``W`` ranks, is that of
    the global mean. Without a process group it is ``local_sum / local_count``.
    """
    count = torch.as_tensor(local_count, dtype=local_sum.dtype, device=local_sum.device)
    if not is_active(group):
        return safe_divide(local_sum, count)
    stats = torch.stack([local_sum.detach(), count.detach()])
    dist.all_reduce(stats, op=dist.ReduceOp.SUM, group=group)
    total, global_count = stats[0], stats[1]
    scaled = safe_divide(local_sum * world_size(group), global_count)
    return scaled + (safe_divide(total, global_count) - scaled).detach()


def global_sum(local_sum: torch.Tensor, group: Any = None) -> torch.Tensor:
    """Global sum over ranks of this rank's sum, DDP-correct in its gradient (see module doc)."""
    if not is_active(group):
        return local_sum
    total = local_sum.detach().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
    scaled = local_sum * world_size(group)
    return scaled + (total - scaled).detach()
