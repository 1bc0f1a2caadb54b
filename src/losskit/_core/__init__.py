"""Shared mechanics with no loss math: registry, reduction, validation."""

from .reduce import accumulation_dtype, reduce, safe_divide, upcast
from .registry import INPUT_KINDS, PROPERTIES, LossInfo, get_info, list_losses, register_loss
from .validate import LossInputError

__all__ = [
    "INPUT_KINDS",
    "PROPERTIES",
    "LossInfo",
    "LossInputError",
    "accumulation_dtype",
    "get_info",
    "list_losses",
    "reduce",
    "register_loss",
    "safe_divide",
    "upcast",
]
