"""Run a function in real CPU process groups (gloo on loopback) and collect each rank's result.

``run(fn, world_size, *args)`` starts ``world_size`` processes, initializes a gloo group in
each, calls ``fn(rank, world_size, *args)`` and returns the list of per-rank return values
(which must be picklable: tensors are fine). ``fn`` must be a module-level function.
"""

from __future__ import annotations

import os
import socket
import tempfile
import traceback

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world_size, port, out_dir, fn, args):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        result = fn(rank, world_size, *args)
        torch.save({"ok": result}, os.path.join(out_dir, f"{rank}.pt"))
    except BaseException:
        torch.save({"error": traceback.format_exc()}, os.path.join(out_dir, f"{rank}.pt"))
    finally:
        dist.destroy_process_group()


def run(fn, world_size: int, *args):
    with tempfile.TemporaryDirectory() as out_dir:
        mp.start_processes(_worker, args=(world_size, _free_port(), out_dir, fn, args),
                           nprocs=world_size, join=True, start_method="spawn")
        results = [torch.load(os.path.join(out_dir, f"{r}.pt"), weights_only=False)
                   for r in range(world_size)]
    for r, res in enumerate(results):
        if "error" in res:
            raise AssertionError(f"rank {r} failed:\n{res['error']}")
    return [res["ok"] for res in results]


def shard(x: torch.Tensor, sizes: list[int], rank: int) -> torch.Tensor:
    """Rows of ``x`` that rank ``rank`` holds when the batch is split into ``sizes``."""
    start = sum(sizes[:rank])
    return x[start: start + sizes[rank]]
