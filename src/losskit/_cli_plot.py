"""``losskit plot``: loss (and gradient) curves of registered losses as a PNG."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("plot", help="draw loss (and gradient) curves of losses to a PNG "
                                    "(needs matplotlib: pip install 'losskit[plot]')")
    p.add_argument("names", nargs="+", metavar="NAME", help="loss names or aliases")
    p.add_argument("--grad", action="store_true", help="also draw the gradients")
    p.add_argument("--out", default="losses.png", help="PNG to write (default: losses.png)")
    p.add_argument("--range", nargs=2, type=float, metavar=("LO", "HI"),
                   help="x-axis range (residual or margin), finite with LO < HI")
    p.add_argument("--param", action="append", default=[], metavar="NAME.KEY=VALUE",
                   help="a hyperparameter, e.g. huber.delta=0.5 (repeatable, once per key)")
    p.set_defaults(handler=run_plot)


def _value(raw: str) -> Any:
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


def parse_params(items: list[str], names: list[str]) -> dict[str, dict[str, Any]]:
    """``["huber.delta=0.5"]`` -> ``{"huber": {"delta": 0.5}}``, every key checked."""
    from ._cli_errors import CLIError
    from ._core.registry import get_info

    plotted = {get_info(n).name for n in names}
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        name, dot, hp = key.partition(".")
        if not sep or not dot or not hp or not raw:
            raise CLIError(f"--param wants NAME.KEY=VALUE (e.g. huber.delta=0.5), got "
                           f"{item[:80]!r}")
        info = get_info(name)
        if info.name not in plotted:
            raise CLIError(f"--param {item[:80]!r} sets {info.name}, which is not plotted")
        allowed = info.hyperparameters
        if hp not in allowed:
            raise CLIError(f"{info.name} has no hyperparameter {hp!r}; it takes "
                           f"{', '.join(allowed) or 'none'}")
        if hp in out.get(info.name, {}):
            raise CLIError(f"--param {info.name}.{hp} is given twice")
        value = _value(raw)
        if isinstance(value, float) and not math.isfinite(value):
            raise CLIError(f"--param {info.name}.{hp} must be finite, got {raw!r}")
        out.setdefault(info.name, {})[hp] = value
    return out


def run_plot(args: argparse.Namespace) -> int:
    from ._cli_errors import CLIError

    if args.range is not None:
        lo, hi = args.range
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
            raise CLIError(f"--range wants two finite numbers LO < HI, got {lo} {hi}")
    out = Path(args.out)
    if out.is_dir():
        raise CLIError(f"--out {args.out} is a directory; give a file name such as "
                       f"{out / 'losses.png'}")
    if out.suffix.lower() not in ("", ".png"):
        raise CLIError(f"--out writes a PNG; {args.out!r} ends in {out.suffix!r}")
    params = parse_params(args.param, args.names)
    from .plot import plot_losses

    path = plot_losses(args.names, grad=args.grad, out=out,
                       params=params, xlim=tuple(args.range) if args.range else None)
    print(f"wrote {path}")
    return 0
