"""losskit: loss functions for deep learning; choose, use, verify and compare them.

>>> import losskit, torch
>>> loss = losskit.get("huber", delta=0.5)
>>> round(float(loss(torch.zeros(2), torch.tensor([0.2, 3.0]))), 4)
0.6975
"""

from __future__ import annotations

from importlib import import_module, metadata
from typing import TYPE_CHECKING, Any

from . import functional
from . import functional as F
from ._core.registry import LossInfo, list_losses, register_loss
from ._core.registry import get_info as info
from ._core.validate import LossInputError, set_value_checks, value_checks
from .api import get

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and IDEs
    from . import nn as nn
    from .advise import profile as profile
    from .advise import recommend as recommend
    from .compare import compare as compare
    from .verify import check as check

try:
    __version__ = metadata.version("losskit")
except metadata.PackageNotFoundError:  # imported from a source tree that is not installed
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
    "nn",
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


# Public submodules, loaded on first use: `losskit.modules.ArcFace` works after
# `import losskit`, as `losskit.nn` does.
_SUBMODULES = frozenset({
    "advise", "calibration", "compose", "concepts", "distributed", "integrations", "io",
    "kernels", "modules", "monitor", "plot", "rl", "schedules", "tabular", "testing",
    "verify", "vocabulary", "weighting",
})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return import_module(f"losskit.{name}")
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    if name == "nn":
        return import_module("losskit.nn")
    raise AttributeError(f"module 'losskit' has no attribute {name!r}")
