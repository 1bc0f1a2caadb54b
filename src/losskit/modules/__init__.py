"""Losses that own learnable state (an optimizer sees their parameters)."""

from .robust import GeneralRobust

__all__ = ["GeneralRobust"]
