"""Shared mechanics with no loss math: registry, reduction, validation."""

from .reduce import accumulation_dtype, reduce, safe_divide, upcast
from .registry import INPUT_KINDS, PROPERTIES, LossInfo, get_info, list_losses, register_loss
from .types import Reduction
from .validate import LossInputError

__all__ = [
    "INPUT_KINDS",
    "PROPERTIES",
    "LossInfo",
    "LossInputError",
    "Reduction",
    "accumulation_dtype",
    "get_info",
    "list_losses",
    "reduce",
    "register_loss",
    "safe_divide",
    "upcast",
]
