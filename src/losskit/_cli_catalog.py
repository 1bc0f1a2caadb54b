"""``losskit list`` and ``losskit explain``: the registry as a table and as cards."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from . import functional  # noqa: F401  (registers the built-in losses)
from ._core.registry import PROPERTIES, close_names, get_info, list_losses
from ._core.validate import LossInputError
from ._render import console, table

if TYPE_CHECKING:
    from .concepts import Topic


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("list", help="list the registered losses")
    p.add_argument("--task", help="only losses for this task (e.g. regression, segmentation)")
    p.add_argument("--family", help="only losses of this family (e.g. classification)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=run_list)

    p = sub.add_parser("explain", help="what a loss computes, when to use it, its pitfalls; "
                                        "or a concept topic (see --topics)")
    p.add_argument("name", nargs="?", help="a loss name or alias, e.g. huber or bce, or a concept "
                                           "topic, e.g. cross-entropy-vs-kl")
    p.add_argument("--json", action="store_true", help="print JSON instead of a card")
    p.add_argument("--plot", metavar="PNG", help="also write the loss and gradient curve here")
    p.add_argument("--topics", action="store_true",
                   help="list the concept topics (questions that belong to no single loss)")
    p.set_defaults(handler=run_explain)


#: The target kinds of recommend / compare / check (losskit.vocabulary.TASKS) as the task
#: tags of the registry, so ``list --task`` takes either vocabulary.
_TASK_TAGS = {
    "binary": ("binary_classification",), "multiclass": ("multiclass_classification",),
    "multilabel": ("multilabel_classification",), "ordinal": ("ordinal_regression",),
    "count": ("count",), "continuous": ("regression",), "proportion": ("regression",),
    "multioutput": ("regression",), "soft_labels": ("distillation", "distribution_matching"),
    "survival": ("survival",), "ranking": ("ranking",), "segmentation": ("segmentation",),
    "sequence": ("sequence", "language_modeling"),
    "reconstruction": ("image_reconstruction", "image_restoration", "denoising"),
    "metric_learning": ("metric_learning",), "image_text": ("vision_language",),
    "preference": ("preference_optimization",), "reward_modeling": ("reward_modeling",),
    "rl_finetuning": ("reinforcement_learning",), "reinforcement": ("reinforcement_learning",),
    "detection": ("detection",), "energy": ("energy_based",),
    "classification": ("classification",),
}


def _losses_for(task: str | None, family: str | None) -> list[str]:
    """Losses tagged ``task``, and those of the registry tags a target kind of recommend's
    vocabulary stands for (``sequence`` is both: a tag, and token sequences)."""
    names = set(list_losses(task=task, family=family))
    if task is None:
        return sorted(names)
    from .vocabulary import normalize_task

    try:
        kind = normalize_task(task)
    except LossInputError:
        return sorted(names)
    return sorted(names | {n for tag in _TASK_TAGS.get(kind or "", ())
                           for n in list_losses(task=tag, family=family)})


def run_list(args: argparse.Namespace) -> int:
    names = _losses_for(args.task, args.family)
    if not names:
        from ._cli_errors import CLIError

        tags = sorted({t for n in list_losses() for t in get_info(n).tasks})
        families = sorted({get_info(n).family for n in list_losses()})
        raise CLIError(f"no loss matches task={args.task!r} family={args.family!r}; tasks: "
                       f"{', '.join(tags)} (or recommend's: binary, multiclass, ...); "
                       f"families: {', '.join(families)}")
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
    if args.topics:
        return _list_topics(args)
    if not args.name:
        from ._cli_errors import CLIError

        raise CLIError("give a loss name or a concept topic, or --topics to list the topics")
    try:
        info = get_info(args.name)
    except LossInputError:
        from . import concepts

        topic = concepts.find(args.name)
        if topic is None:
            near = [*close_names(args.name.strip().lower().replace("-", "_"), n=3),
                    *concepts.close_topics(args.name)]
            hint = (f"; did you mean {', '.join(near)}?" if near else
                    "; see losskit list and losskit explain --topics")
            raise LossInputError(f"unknown loss or topic {args.name!r}{hint}") from None
        return _explain_topic(topic, args)
    card = info.card()
    if args.json:
        print(json.dumps({**card, "advisor_rules": _advisor_rules(info.name)}, indent=2))
    else:
        out = console()
        aliases = f" (also: {', '.join(info.aliases)})" if info.aliases else ""
        out.print(f"[bold]{info.name}[/bold]{aliases} - {info.family}, input: {info.input_kind}, "
                  f"target: {info.target_kind}")
        out.print(_literal(info.summary) + "\n")
        out.print(f"[bold]Call[/bold]      losskit.functional.{_literal(card['call'])}")
        sections = [("Formula", "formula"), ("Gradient", "gradient"),
                    ("When to use", "when_to_use"), ("Pitfalls", "pitfalls")]
        for title, key in sections:
            out.print(f"[bold]{title}[/bold]\n  {_literal(card[key])}")
        if info.properties:
            out.print("[bold]Properties[/bold]")
            for prop in sorted(info.properties):
                out.print(f"  {prop.replace('_', ' ')}: {PROPERTIES[prop]}")
        rules = _advisor_rules(info.name)
        if rules:
            out.print("[bold]Recommended by the advisor when[/bold]")
            for rule in rules:
                out.print(f"  - {_literal(rule)}")
        out.print("[bold]References[/bold]")
        for ref in info.references:
            out.print(f"  {_literal(ref)}")
    if args.plot:
        from .plot import plot_losses

        path = plot_losses([info.name], grad=True, out=args.plot)
        print(f"wrote {path}")
    return 0


def _list_topics(args: argparse.Namespace) -> int:
    from . import concepts

    rows = [{"topic": t.slug, "title": t.title, "aliases": ", ".join(t.aliases)}
            for t in concepts.topics()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:  # slug and title only: the slug is what gets typed, so it must not be cut
        console().print(table([{"topic": r["topic"], "title": _literal(r["title"])} for r in rows],
                              title=f"{len(rows)} topics: losskit explain TOPIC"))
    return 0


def _explain_topic(topic: Topic, args: argparse.Namespace) -> int:
    """Print a concept topic (losskit.concepts) as a card."""
    if args.plot:
        from ._cli_errors import CLIError

        raise CLIError(f"--plot draws losses; {topic.slug!r} is a concept topic")
    card = topic.card()
    if args.json:
        print(json.dumps(card, indent=2))
        return 0
    out = console()
    aliases = f" (also: {', '.join(topic.aliases)})" if topic.aliases else ""
    out.print(f"[bold]{_literal(topic.title)}[/bold]\nconcept: {topic.slug}{aliases}")
    out.print(_literal(topic.summary) + "\n")
    for paragraph in topic.body:
        out.print(_literal(paragraph) + "\n")
    demo = card["demonstration"]
    if demo:
        out.print("[bold]Demonstration[/bold] (computed now with losskit)")
        out.print(f"  {_literal(demo['claim'])}")
        for key, value in demo["values"].items():
            out.print(f"    {key} = {value:.6g}")
        out.print(f"  holds: {'yes' if demo['holds'] else 'NO'}")
    out.print("[bold]See also[/bold]")
    for ref in card["see_also"]:
        out.print(f"  {_literal(ref)}")
    return 0


def _literal(text: str) -> str:
    """Text shown as is: rich would read '[eps, 1 - eps]' as a markup tag and drop it."""
    try:
        from rich.markup import escape
    except ImportError:
        return text
    return escape(text)


def _advisor_rules(name: str) -> list[str]:
    """The advisor's rationales that lead to this loss (same rule table as recommend)."""
    from .advise import rules_for

    return rules_for(name)
