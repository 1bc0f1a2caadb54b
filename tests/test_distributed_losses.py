"""Batch-dependent losses with ``distributed=True`` equal one process on the concatenated batch.

For every case, each rank holds a shard of the batch (uneven sizes, and in one case a
rank whose tokens are all ignored). Expected values are the single-process results on
the full batch: each rank's loss value must equal the single-process loss, and each
rank's input gradient divided by the world size (DDP's gradient averaging) must equal
the single-process gradient of its rows; gradients of replicated arguments (a shared
output projection) averaged over ranks must equal the single-process gradient.
One process group is started per configuration and runs every case, to keep CI fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch

import losskit.functional as F

from .distributed_harness import run, shard

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@dataclass
class Case:
    fn: str
    make: callable  # (n, generator) -> tuple of arguments
    sharded: tuple[int, ...]  # argument positions split over ranks (dim 0)
    grads: tuple[int, ...]  # argument positions that receive gradients
    kwargs: dict = field(default_factory=dict)
    ignore_rank: int | None = None  # this rank's targets are all ignore_index


def _emb(n, g, d=8):
    return torch.randn(n, d, dtype=torch.float64, generator=g)


def _labels(n, g, k=3):
    return torch.randint(0, k, (n,), generator=g)


def _seg(n, g):
    return (torch.randn(n, 3, 4, 4, dtype=torch.float64, generator=g) * 2,
            torch.randint(0, 3, (n, 4, 4), generator=g))


def _tokens(n, g):
    target = torch.randint(0, 5, (n,), generator=g)
    target[torch.rand(n, generator=g) < 0.3] = -100
    return torch.randn(n, 5, dtype=torch.float64, generator=g) * 2, target


def _sequences(n, g):
    target = torch.randint(0, 6, (n, 4), generator=g)
    target[:, 3:] = -100  # padding
    return torch.randn(n, 4, 6, dtype=torch.float64, generator=g), target


def _hidden(n, g):
    target = torch.randint(0, 11, (n,), generator=g)
    target[0] = -100
    return (torch.randn(n, 6, dtype=torch.float64, generator=g),
            torch.randn(11, 6, dtype=torch.float64, generator=g) * 0.5, target)


CASES = {
    "nt_xent": Case("nt_xent", lambda n, g: (_emb(n, g), _emb(n, g)), (0, 1), (0, 1)),
    "info_nce": Case("info_nce", lambda n, g: (_emb(n, g), _emb(n, g)), (0, 1), (0, 1)),
    "supcon": Case("supcon", lambda n, g: (_emb(n, g), _labels(n, g)), (0, 1), (0,)),
    "batch_triplet_all": Case("batch_triplet", lambda n, g: (_emb(n, g), _labels(n, g)),
                              (0, 1), (0,), {"mining": "all"}),
    "batch_triplet_hard": Case("batch_triplet", lambda n, g: (_emb(n, g), _labels(n, g)),
                               (0, 1), (0,), {"mining": "hard"}),
    "dice_batch": Case("dice", _seg, (0, 1), (0,), {"batch": True}),
    "dice_per_image": Case("dice", _seg, (0, 1), (0,), {"batch": False}),
    "dice_batch_skip_empty": Case("dice", _seg, (0, 1), (0,), {"batch": True, "skip_empty": True}),
    "jaccard_batch": Case("jaccard", _seg, (0, 1), (0,), {"batch": True}),
    "tversky_batch": Case("tversky", _seg, (0, 1), (0,), {"batch": True, "gamma": 1.5}),
    "generalized_dice_batch": Case("generalized_dice", _seg, (0, 1), (0,), {"batch": True}),
    "generalized_dice_per_image": Case("generalized_dice", _seg, (0, 1), (0,), {"batch": False}),
    "cross_entropy_ignore": Case("cross_entropy", _tokens, (0, 1), (0,), ignore_rank=1),
    "cross_entropy_smoothing": Case("cross_entropy", _tokens, (0, 1), (0,),
                                    {"label_smoothing": 0.1}),
    "sequence_cross_entropy": Case("sequence_cross_entropy", _sequences, (0, 1), (0,),
                                   ignore_rank=1),
    "sequence_cross_entropy_seq_mean": Case("sequence_cross_entropy", _sequences, (0, 1), (0,),
                                            {"average": "sequence"}),
    "linear_cross_entropy": Case("linear_cross_entropy", _hidden, (0, 2), (0, 1), ignore_rank=1),
}


def _full_inputs(case: Case, sizes: list[int], seed: int) -> tuple:
    args = list(case.make(sum(sizes), torch.Generator().manual_seed(seed)))
    if case.ignore_rank is not None and case.ignore_rank < len(sizes):
        target_pos = case.sharded[-1]
        start = sum(sizes[: case.ignore_rank])
        args[target_pos] = args[target_pos].clone()
        args[target_pos][start: start + sizes[case.ignore_rank]] = -100
    return tuple(args)


def _call(case: Case, args: tuple, **extra) -> tuple[torch.Tensor, list[torch.Tensor]]:
    leaves = [a.clone().requires_grad_(True) if i in case.grads else a
              for i, a in enumerate(args)]
    loss = getattr(F, case.fn)(*leaves, **case.kwargs, **extra)
    loss.backward()
    return loss.detach(), [leaves[i].grad for i in case.grads]


def _rank_cases(rank, sizes, seed, names, **extra):
    out = {}
    for name in names:
        case = CASES[name]
        args = _full_inputs(case, sizes, seed)
        local = tuple(shard(a, sizes, rank) if i in case.sharded else a
                      for i, a in enumerate(args))
        out[name] = _call(case, local, **extra)
    return out


def _rank_all_cases(rank, world, sizes, seed, names):
    return _rank_cases(rank, sizes, seed, names, distributed=True)


@pytest.mark.parametrize("sizes", [[4, 5], [3, 1, 4]], ids=["2ranks", "3ranks"])
def test_distributed_equals_single_process(sizes):
    seed = 3
    per_rank = run(_rank_all_cases, len(sizes), sizes, seed, list(CASES))
    world = len(sizes)
    for name, case in CASES.items():
        args = _full_inputs(case, sizes, seed)
        ref_loss, ref_grads = _call(case, args)
        for rank, results in enumerate(per_rank):
            loss, grads = results[name]
            torch.testing.assert_close(loss, ref_loss, rtol=1e-6, atol=1e-6,
                                       msg=lambda m, n=name, r=rank: f"{n} rank {r}: {m}")
            for pos, g, ref_g in zip(case.grads, grads, ref_grads):
                if pos in case.sharded:
                    torch.testing.assert_close(
                        g / world, shard(ref_g, sizes, rank), rtol=1e-6, atol=1e-6,
                        msg=lambda m, n=name, r=rank, p=pos: f"{n} rank {r} arg {p}: {m}")
        for pos, ref_g in zip(case.grads, ref_grads):
            if pos not in case.sharded:  # replicated: DDP averages over ranks
                mean = sum(r[name][1][case.grads.index(pos)] for r in per_rank) / world
                torch.testing.assert_close(mean, ref_g, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_distributed_flag_without_process_group_is_single_process(name):
    case = CASES[name]
    args = _full_inputs(case, [5, 4], seed=5)
    plain, plain_grads = _call(case, args)
    flagged, flagged_grads = _call(case, args, distributed=True)
    torch.testing.assert_close(flagged, plain)
    for a, b in zip(flagged_grads, plain_grads):
        torch.testing.assert_close(a, b)


_LOCAL = ("dice_batch", "dice_per_image", "generalized_dice_batch", "generalized_dice_per_image",
          "cross_entropy_ignore", "nt_xent", "info_nce", "supcon", "batch_triplet_all")


def _rank_local(rank, world, sizes, seed, names):
    return _rank_cases(rank, sizes, seed, names)  # distributed=False (the default)


def test_without_the_flag_each_rank_reduces_its_own_shard():
    # Under an active process group, distributed=False must stay local: no collective.
    sizes, seed = [4, 5], 7
    per_rank = run(_rank_local, len(sizes), sizes, seed, list(_LOCAL))
    for name in _LOCAL:
        case = CASES[name]
        args = _full_inputs(case, sizes, seed)
        for rank, results in enumerate(per_rank):
            local = tuple(shard(a, sizes, rank) if i in case.sharded else a
                          for i, a in enumerate(args))
            want, want_grads = _call(case, local)
            loss, grads = results[name]
            torch.testing.assert_close(loss, want)
            for g, w in zip(grads, want_grads):
                torch.testing.assert_close(g, w)
