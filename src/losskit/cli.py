"""The ``losskit`` command.

Each feature adds its own subcommands through a ``register(subparsers)`` function in
its package (``losskit.advise._cli``, ``losskit.compare._cli``, ...), so this file only
wires them. Conventions every command follows:

* a bad file or argument ends with one line on stderr and exit status 2 (no traceback),
  and so does a command whose optional dependency is missing (the line names the
  ``pip install 'losskit[...]'`` that brings it); exit status 1 means only "a check failed";
* when stdout is not a terminal, tables are plain tab-separated columns with full names;
  ``--json`` prints JSON wherever a table is printed;
* a closed pipe (``losskit list | head -3``) ends the command quietly with status 0.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ._cli_errors import CLIError
from ._core.validate import LossInputError

#: Optional dependency (top-level module) -> the extra that installs it.
EXTRAS = {
    "sklearn": ("scikit-learn", "compare"),
    "scipy": ("scipy", "compare"),
    "matplotlib": ("matplotlib", "plot"),
    "pandas": ("pandas", "data"),
    "pyarrow": ("pyarrow", "data"),
    "lightning": ("lightning", "lightning"),
}

#: Modules that contribute subcommands, in the order they appear in --help.
_FEATURES = ("losskit._cli_catalog", "losskit.advise._cli", "losskit.compare._cli",
             "losskit.verify._cli", "losskit._cli_plot", "losskit._cli_bench")


#: Commands whose own extra brings every optional dependency they need (of these modules).
COMMAND_EXTRAS = {"compare": ("compare", {"sklearn", "scipy", "matplotlib", "pandas"})}


def missing_extra(exc: ModuleNotFoundError, command: str | None = None) -> str | None:
    """The one-line install hint for a missing optional dependency, or None."""
    top = (exc.name or "").split(".")[0]
    if top not in EXTRAS:
        return None
    package, extra = EXTRAS[top]
    own = COMMAND_EXTRAS.get(command or "")
    if own is not None and top in own[1]:
        extra = own[0]
    return f"this needs {package}, which is not installed: pip install 'losskit[{extra}]'"


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="losskit",
        description="Choose, use, verify and compare loss functions for deep learning.",
    )
    parser.add_argument("--version", action="version", version=f"losskit {__version__}")
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


def _short(message: str, limit: int = 300) -> str:
    """One line, at most ``limit`` characters."""
    line = " ".join(message.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the final flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        _quiet_stdout()
        return 0


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    command = f"losskit {args.command}"
    try:
        return int(args.handler(args) or 0)
    except BrokenPipeError:
        raise
    except (CLIError, LossInputError, FileNotFoundError, IsADirectoryError,
            NotADirectoryError, PermissionError) as exc:
        if isinstance(exc, OSError) and exc.filename:
            reason = {FileNotFoundError: "no such file", IsADirectoryError: "is a directory",
                      NotADirectoryError: "not a directory",
                      PermissionError: "permission denied"}.get(type(exc), exc.strerror)
            message = f"{reason}: {exc.filename}"
        else:
            message = str(exc)
        print(f"{command}: error: {_short(message)}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        hint = missing_extra(exc, args.command)
        if hint is None:
            raise
        print(f"{command}: error: {hint}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # e.g. a user module run by `losskit check` calls sys.exit()
        if exc.code in (0, None):
            return 0
        print(f"{command}: error: stopped by sys.exit({exc.code!r})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
