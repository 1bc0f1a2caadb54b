"""``losskit check MODULE:OBJECT``: run the conformance suite on a user's loss from the shell."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

__all__ = ["load_object", "register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ._checks import CHECKS
    from ._subject import TASKS

    p = sub.add_parser(
        "check", help="run the conformance suite on a loss (yours or a built-in)",
        description="Run losskit's conformance checks on a loss. Exit status 0 when every "
                    "check passes, 1 when one fails, 2 when the loss cannot be loaded.")
    p.add_argument("target", metavar="MODULE:OBJECT",
                   help="a dotted module importable from here, or a path to a .py file, and the "
                        "loss in it (function, nn.Module instance or class); or a registered "
                        "loss name")
    p.add_argument("--task", choices=sorted(TASKS),
                   help="what inputs to generate for an unregistered loss (default: regression)")
    p.add_argument("--checks", help=f"comma-separated subset of: {', '.join(CHECKS)}")
    p.add_argument("--compile", action="store_true", help="also check torch.compile (slow)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=run)


def _import_module(spec: str) -> Any:
    from .._cli_errors import CLIError

    path = Path(spec)
    if spec.endswith(".py") or "/" in spec or "\\" in spec:
        if not path.is_file():
            raise CLIError(f"no such file: {spec}")
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        if module_spec is None or module_spec.loader is None:
            raise CLIError(f"cannot import {spec} as a Python module")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules.setdefault(path.stem, module)
        loader = module_spec.loader
    else:
        loader = None
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        if loader is not None:
            loader.exec_module(module)
            return module
        return importlib.import_module(spec)
    except (Exception, SystemExit) as exc:
        if loader is not None and sys.modules.get(path.stem) is module:
            del sys.modules[path.stem]  # do not leave a half-run module behind
        if isinstance(exc, SystemExit):
            raise CLIError(f"importing {spec} called sys.exit({exc.code!r})") from None
        raise CLIError(f"cannot import {spec}: {type(exc).__name__}: {exc}") from None


def load_object(target: str) -> Any:
    """The loss named by ``MODULE:OBJECT`` (a class is instantiated), or a registered name."""
    from .._cli_errors import CLIError

    if ":" not in target:
        from .._core.registry import get_info

        try:
            return get_info(target).name
        except ValueError:
            raise CLIError(f"{target!r} is neither MODULE:OBJECT nor a registered loss "
                           "name") from None
    module_name, _, object_path = target.rpartition(":")
    module = _import_module(module_name)
    obj: Any = module
    for part in object_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CLIError(f"{module_name} has no attribute {object_path!r}") from None
    if inspect.isclass(obj):
        import torch

        if not issubclass(obj, torch.nn.Module):
            raise CLIError(f"{target} is a class but not a torch.nn.Module; pass a loss function "
                           "or module")
        try:
            obj = obj()
        except Exception as exc:
            raise CLIError(f"cannot build {target}() with no arguments: {exc}") from None
    if not callable(obj):
        raise CLIError(f"{target} is a {type(obj).__name__}, not a callable loss")
    return obj


def run(args: argparse.Namespace) -> int:
    from .._render import console
    from ._api import check, select_checks

    loss = load_object(args.target)
    names = select_checks(args.checks) if args.checks else select_checks(None)
    if args.compile and "compile" not in names:
        names.append("compile")
    report = check(loss, task=args.task, checks=names)
    if args.json:
        print(report.to_json())
    else:
        out = console()
        out.print(report)  # its notes first, on a terminal and in plain text
        if report.failures:
            out.print(f"{len(report.failures)} check(s) failed; see the detail column")
    return 0 if report.passed else 1
