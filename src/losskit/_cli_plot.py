"""``losskit plot``: loss (and gradient) curves of registered losses as a PNG."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="draw loss (and gradient) curves of losses to a PNG")
    p.add_argument("names", nargs="+", metavar="NAME", help="loss names or aliases")
    p.add_argument("--grad", action="store_true", help="also draw the gradients")
    p.add_argument("--out", default="losses.png", help="PNG to write (default: losses.png)")
    p.add_argument("--range", nargs=2, type=float, metavar=("LO", "HI"),
                   help="x-axis range (residual or margin)")
    p.add_argument("--param", action="append", default=[], metavar="NAME.KEY=VALUE",
                   help="a hyperparameter, e.g. huber.delta=0.5 (repeatable)")
    p.set_defaults(handler=run_plot)


def _parse_params(items: list[str]) -> dict[str, dict[str, Any]]:
    from ._core.registry import get_info
    from .cli import CLIError

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        name, dot, hp = key.partition(".")
        if not sep or not dot or not hp:
            raise CLIError(f"--param wants NAME.KEY=VALUE (e.g. huber.delta=0.5), got {item!r}")
        try:
            value: Any = float(raw)
        except ValueError:
            value = {"true": True, "false": False}.get(raw.lower(), raw)
        out.setdefault(get_info(name).name, {})[hp] = value
    return out


def run_plot(args: argparse.Namespace) -> int:
    from .plot import plot_losses

    path = plot_losses(args.names, grad=args.grad, out=args.out,
                       params=_parse_params(args.param),
                       xlim=tuple(args.range) if args.range else None)
    print(f"wrote {path}")
    return 0
