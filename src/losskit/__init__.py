"""losskit: loss functions for deep learning; choose, use, verify and compare them.

>>> import losskit, torch
>>> loss = losskit.get("huber", delta=0.5)
>>> round(float(loss(torch.zeros(2), torch.tensor([0.2, 3.0]))), 4)
0.6975
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from . import functional
from . import functional as F
from ._core.registry import LossInfo, list_losses, register_loss
from ._core.registry import get_info as info
from ._core.validate import LossInputError, set_value_checks, value_checks
from .api import get

__version__ = "0.1.0"

__all__ = [
    "F",
    "LossInfo",
    "LossInputError",
    "check",
    "compare",
    "functional",
    "get",
    "info",
    "list_losses",
    "profile",
    "recommend",
    "register_loss",
    "set_value_checks",
    "value_checks",
]

# Heavier features load on first use so `import losskit` stays fast.
_LAZY = {
    "profile": "losskit.advise",
    "recommend": "losskit.advise",
    "check": "losskit.verify",
    "compare": "losskit.compare",
}


def __getattr__(name: str) -> Any:
    if name in ("calibration", "vocabulary"):  # submodules, loaded on first use
        return import_module(f"losskit.{name}")
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'losskit' has no attribute {name!r}")
