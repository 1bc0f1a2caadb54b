"""losskit.distributed across real gloo process groups (2 and 3 ranks, uneven batches).

The expected values are the single-process results on the concatenated batch: each
rank's loss value must equal it, and each rank's input gradient divided by the world
size (what DDP's gradient averaging makes of it) must equal the single-process
gradient of that rank's rows.
"""

from __future__ import annotations

import pytest
import torch

from losskit import distributed

from .distributed_harness import run, shard

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _global_logsumexp_loss(x: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Sum over anchors of logsumexp of similarities to every key (a contrastive skeleton)."""
    return torch.logsumexp(x @ keys.T, dim=1).sum()


def _rank_gather(rank, world, sizes, full):
    x = shard(full, sizes, rank).clone().requires_grad_(True)
    keys = distributed.gather(x)
    loss = distributed.global_mean(_global_logsumexp_loss(x, keys), x.shape[0])
    loss.backward()
    return loss.detach(), x.grad, keys.detach()


@pytest.mark.parametrize("sizes", [[3, 3], [2, 5], [4, 1, 3], [0, 3, 2]])
def test_gather_and_global_mean_match_single_process(sizes):
    full = torch.randn(sum(sizes), 4, dtype=torch.float64,
                       generator=torch.Generator().manual_seed(0))
    ref_x = full.clone().requires_grad_(True)
    ref = _global_logsumexp_loss(ref_x, ref_x) / full.shape[0]
    ref.backward()
    results = run(_rank_gather, len(sizes), sizes, full)
    for rank, (loss, grad, keys) in enumerate(results):
        torch.testing.assert_close(keys, full)
        torch.testing.assert_close(loss, ref.detach(), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(grad / len(sizes), shard(ref_x.grad, sizes, rank),
                                   rtol=1e-6, atol=1e-6)


def _rank_all_reduce(rank, world, sizes, full):
    x = shard(full, sizes, rank).clone().requires_grad_(True)
    stats = distributed.all_reduce_sum(torch.stack([x.sum(), x.square().sum()]))
    loss = stats[1] / (stats[0].abs() + 1.0)  # a ratio of global sums, like Dice
    loss.backward()
    return loss.detach(), x.grad


def test_all_reduce_sum_ratio_of_global_sums():
    sizes = [2, 4, 1]
    full = torch.rand(sum(sizes), 3, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(1))
    ref_x = full.clone().requires_grad_(True)
    ref = ref_x.square().sum() / (ref_x.sum().abs() + 1.0)
    ref.backward()
    for rank, (loss, grad) in enumerate(run(_rank_all_reduce, len(sizes), sizes, full)):
        torch.testing.assert_close(loss, ref.detach())
        torch.testing.assert_close(grad / len(sizes), shard(ref_x.grad, sizes, rank))


def test_no_process_group_is_a_no_op():
    x = torch.randn(3, 2, requires_grad=True)
    assert distributed.gather(x) is x
    assert distributed.all_reduce_sum(x) is x
    assert not distributed.is_active()
    loss = distributed.global_mean(x.sum(), 3)
    torch.testing.assert_close(loss, x.sum() / 3)
    assert float(distributed.global_mean(x.sum() * 0, 0)) == 0.0
