"""Type aliases shared by the public signatures."""

from __future__ import annotations

from typing import Literal

__all__ = ["Reduction"]

#: How a loss reduces its per-element values: their (weighted) mean, their sum, or none.
Reduction = Literal["mean", "sum", "none"]
