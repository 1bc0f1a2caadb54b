"""Train a small encoder with SimCLR's NT-Xent under DistributedDataParallel, on the CPU.

    torchrun --nproc-per-node 2 examples/ddp_contrastive.py
    python examples/ddp_contrastive.py            # the same, in one process

Each rank sees its own shard of every batch. With ``nt_xent(..., distributed=True)``
every anchor is contrasted with the views of *all* ranks (2 * global_batch - 2
negatives), exactly as if one process held the whole batch; the loss printed is the
global one, and DDP's gradient averaging yields the single-process gradient. Without
``distributed=True`` each rank would only see its local negatives: a different, weaker
objective that changes with the number of processes.

The data are points from 8 Gaussian clusters; two noisy "augmentations" of each point
form a positive pair. At the end, nearest-centroid accuracy of the learned embeddings
shows the encoder learned the cluster structure it was never told about.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import losskit.functional as F


def setup() -> tuple[int, int]:
    if "RANK" in os.environ:  # started by torchrun
        dist.init_process_group("gloo")
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def make_data(n: int = 2048, clusters: int = 8, dim: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(clusters, dim, generator=g) * 3
    labels = torch.randint(0, clusters, (n,), generator=g)
    return centers[labels] + torch.randn(n, dim, generator=g), labels


def augment(x: torch.Tensor) -> torch.Tensor:
    return x + 0.8 * torch.randn_like(x)


def main() -> None:
    rank, world = setup()
    torch.manual_seed(0)  # the same initial weights on every rank
    x, labels = make_data()
    encoder = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 16))
    model = DistributedDataParallel(encoder) if world > 1 else encoder
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    global_batch = 256
    local = global_batch // world
    steps = 60
    for step in range(steps):
        g = torch.Generator().manual_seed(step)  # every rank draws the same global batch
        batch = torch.randperm(x.shape[0], generator=g)[:global_batch]
        mine = batch[rank * local:(rank + 1) * local]  # ...and keeps its shard
        torch.manual_seed(1000 * step + rank)
        z_a, z_b = model(augment(x[mine])), model(augment(x[mine]))
        loss = F.nt_xent(z_a, z_b, temperature=0.2, distributed=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if rank == 0 and (step % 10 == 0 or step == steps - 1):
            print(f"step {step:3d}  global nt_xent {loss.item():.4f}  ({world} process(es), "
                  f"{local} pairs each)")
    if rank == 0:
        with torch.no_grad():
            z = torch.nn.functional.normalize(encoder(x), dim=1)
            centroids = torch.stack([z[labels == c].mean(0) for c in range(8)])
            accuracy = ((z @ centroids.T).argmax(1) == labels).float().mean()
        print(f"nearest-centroid accuracy of the embeddings: {accuracy:.3f}")
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
