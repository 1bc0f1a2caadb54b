"""The error every ``losskit`` subcommand raises for a user mistake (below ``cli``, so the
subcommands that ``cli`` loads never import it back)."""

from __future__ import annotations

__all__ = ["CLIError"]


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""
