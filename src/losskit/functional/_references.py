"""Building blocks of the independent references the registry entries carry.

A reference computes a loss by a route that shares no code with its definition: here,
a Python loop over elements or samples applying the textbook scalar formula (float64,
moderate inputs), then the plain mean / sum. The common suite compares every definition
with its reference, values and gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["elementwise_loop", "reduced"]


def reduced(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def elementwise_loop(scalar: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                     ) -> Callable[..., torch.Tensor]:
    """A reference ``(input, target, *, reduction)`` from a per-element scalar formula."""
    def reference(input: torch.Tensor, target: torch.Tensor, *,
                  reduction: str = "mean") -> torch.Tensor:
        flat = [scalar(x, y) for x, y in zip(input.reshape(-1), target.reshape(-1))]
        loss = torch.stack(flat).reshape(input.shape) if flat else input * 0
        return reduced(loss, reduction)
    return reference
