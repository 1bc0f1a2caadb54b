"""The ``losskit`` command.

Each feature adds its own subcommands through a ``register(subparsers)`` function in
its package (``losskit.advise._cli``, ``losskit.compare._cli``, ...), so this file only
wires them. A bad file or argument ends with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ._core.validate import LossInputError

#: Modules that contribute subcommands, in the order they appear in --help.
_FEATURES = ("losskit._cli_catalog", "losskit.advise._cli", "losskit.compare._cli",
             "losskit.verify._cli", "losskit._cli_plot", "losskit._cli_bench")


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="losskit",
        description="Choose, use, verify and compare loss functions for deep learning.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in _FEATURES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # the feature is not part of this build
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        return int(args.handler(args) or 0)
    except (CLIError, LossInputError, FileNotFoundError) as exc:
        message = str(exc) if not isinstance(exc, FileNotFoundError) else (
            f"no such file: {exc.filename}" if exc.filename else str(exc))
        print(f"losskit {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
