"""``losskit list`` and ``losskit explain``: the registry as a table and as cards."""

from __future__ import annotations

import argparse
import json

from . import functional  # noqa: F401  (registers the built-in losses)
from ._core.registry import PROPERTIES, get_info, list_losses
from ._render import console, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list the registered losses")
    p.add_argument("--task", help="only losses for this task (e.g. regression, segmentation)")
    p.add_argument("--family", help="only losses of this family (e.g. classification)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=run_list)

    p = sub.add_parser("explain", help="what a loss computes, when to use it, its pitfalls")
    p.add_argument("name", help="a loss name or alias, e.g. huber or bce")
    p.add_argument("--json", action="store_true", help="print JSON instead of a card")
    p.add_argument("--plot", metavar="PNG", help="also write the loss and gradient curve here")
    p.set_defaults(handler=run_explain)


def run_list(args: argparse.Namespace) -> int:
    names = list_losses(task=args.task, family=args.family)
    if not names:
        from .cli import CLIError

        raise CLIError(f"no loss matches task={args.task!r} family={args.family!r}")
    rows = []
    for name in names:
        info = get_info(name)
        rows.append({"name": name, "family": info.family, "input": info.input_kind,
                     "aliases": ", ".join(info.aliases), "properties": ", ".join(
                         sorted(p.replace("_", " ") for p in info.properties))})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        console().print(table(rows, title=f"{len(rows)} losses"))
    return 0


def run_explain(args: argparse.Namespace) -> int:
    info = get_info(args.name)
    card = info.card()
    if args.json:
        print(json.dumps({**card, "advisor_rules": _advisor_rules(info.name)}, indent=2))
    else:
        out = console()
        aliases = f" (also: {', '.join(info.aliases)})" if info.aliases else ""
        out.print(f"[bold]{info.name}[/bold]{aliases} - {info.family}, input: {info.input_kind}, "
                  f"target: {info.target_kind}")
        out.print(info.summary + "\n")
        out.print(f"[bold]Call[/bold]      losskit.functional.{card['call']}")
        sections = [("Formula", "formula"), ("Gradient", "gradient"),
                    ("When to use", "when_to_use"), ("Pitfalls", "pitfalls")]
        for title, key in sections:
            out.print(f"[bold]{title}[/bold]\n  {card[key]}")
        if info.properties:
            out.print("[bold]Properties[/bold]")
            for prop in sorted(info.properties):
                out.print(f"  {prop.replace('_', ' ')}: {PROPERTIES[prop]}")
        rules = _advisor_rules(info.name)
        if rules:
            out.print("[bold]Recommended by the advisor when[/bold]")
            for rule in rules:
                out.print(f"  - {rule}")
        out.print("[bold]References[/bold]")
        for ref in info.references:
            out.print(f"  {ref}")
    if args.plot:
        from .plot import plot_losses

        path = plot_losses([info.name], grad=True, out=args.plot)
        print(f"wrote {path}")
    return 0


def _advisor_rules(name: str) -> list[str]:
    """The advisor's rationales that lead to this loss (same rule table as recommend)."""
    from .advise import rules_for

    return rules_for(name)
