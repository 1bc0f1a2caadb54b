"""Helpers shared by the test modules: calling a registered loss on its example inputs."""

from __future__ import annotations

from typing import Any

import torch

import losskit
from losskit._core.registry import LossInfo
from losskit.verify._checks import (  # noqa: F401  (one table each, shared with check())
    LOW_PRECISION_TOL,
    SCALABLE,
)

ALL_LOSSES = losskit.list_losses()


def example(info: LossInfo, n: int = 6, seed: int = 0, dtype: torch.dtype = torch.float64,
            requires_grad: bool = True) -> tuple[Any, ...]:
    """The loss's example arguments in ``dtype``, with ``grad_args`` requiring grad."""
    args = []
    for i, a in enumerate(info.example_inputs(n, seed)):
        if isinstance(a, torch.Tensor) and a.is_floating_point():
            a = a.to(dtype)
            if requires_grad and i in info.grad_args:
                a = a.detach().requires_grad_(True)
        args.append(a)
    return tuple(args)


def grad_tensors(info: LossInfo, args: tuple[Any, ...]) -> list[torch.Tensor]:
    return [args[i] for i in info.grad_args
            if isinstance(args[i], torch.Tensor) and args[i].requires_grad]


def scaled(info: LossInfo, args: tuple[Any, ...], factor: float) -> tuple[Any, ...]:
    """Multiply the differentiable inputs by ``factor`` (fresh leaves)."""
    out = list(args)
    for i in info.grad_args:
        out[i] = (args[i].detach() * factor).requires_grad_(True)
    return tuple(out)


def skip_if_expected(info: LossInfo, check: str) -> None:
    import pytest

    if check in info.expected_failures:
        pytest.skip(f"{info.name}: {info.expected_failures[check]}")
