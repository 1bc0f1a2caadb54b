"""The outcomes a check can raise besides passing (shared by every check module)."""

from __future__ import annotations

__all__ = ["Failed", "Skipped"]


class Failed(Exception):
    """The check ran and the loss did not meet it; the message is the detail."""


class Skipped(Exception):
    """The check does not apply to this loss; the message says why."""
