"""Example-input factories shared by the registry entries.

Each factory takes ``(n, seed)`` and returns the positional arguments of a valid
call with a batch of ``n`` in float64 (tests cast as they need). ``n = 0`` gives
an empty batch of the right trailing shape.
"""

from __future__ import annotations

import torch


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, g: torch.Generator) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def rand(*shape: int, g: torch.Generator) -> torch.Tensor:
    return torch.rand(*shape, generator=g, dtype=torch.float64)


def regression(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions and targets ``[n, 3]``."""
    g = generator(seed)
    return randn(n, 3, g=g), randn(n, 3, g=g)


def nonnegative_regression(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-negative predictions and targets ``[n, 3]`` (for log-based losses)."""
    g = generator(seed)
    return rand(n, 3, g=g) * 3, rand(n, 3, g=g) * 3


def binary_logits(n: int, seed: int, labels: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``[n, labels]`` and {0, 1} float targets of the same shape."""
    g = generator(seed)
    return randn(n, labels, g=g) * 2, (rand(n, labels, g=g) > 0.6).double()


def class_logits(n: int, seed: int, classes: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``[n, classes]`` and integer targets ``[n]``."""
    g = generator(seed)
    return randn(n, classes, g=g) * 2, torch.randint(0, classes, (n,), generator=g)


def dense_class_logits(n: int, seed: int, classes: int = 4,
                       size: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``[n, classes, size, size]`` and integer targets ``[n, size, size]``."""
    g = generator(seed)
    return (randn(n, classes, size, size, g=g) * 2,
            torch.randint(0, classes, (n, size, size), generator=g))


def distribution_logits(n: int, seed: int, classes: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``[n, classes]`` and target probabilities ``[n, classes]``."""
    g = generator(seed)
    return randn(n, classes, g=g) * 2, torch.softmax(randn(n, classes, g=g) * 2, dim=1)
