"""``losskit compare``: recommendation, then the comparison that backs it (or a scenario)."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "compare", help="train candidate losses on the same folds and compare them on a metric",
        description="Train candidate losses with the same folds, seeds and model and compare "
                    "them on the metric you care about, with paired tests against the standard "
                    "loss. With no DATA, runs on a bundled example and first prints the "
                    "recommendation it checks.")
    p.add_argument("data", nargs="?", help="CSV, Parquet, .npy or .npz file (default: a "
                                            "bundled example)")
    p.add_argument("--target", help="target column (CSV/Parquet) or array name (.npz); 'a,b' "
                                    "for several targets")
    p.add_argument("--example", default="delivery_times",
                   help="bundled example when no DATA is given: delivery_times (regression, "
                        "outliers) or churn (imbalanced binary)")
    p.add_argument("--losses", help="comma-separated losses (default: the recommendation's "
                                    "top choices)")
    p.add_argument("--metric", help="mae, rmse, pinball@0.9, f1, recall, roc_auc, iou, ... "
                                    "(default: the example's, else mae / f1)")
    p.add_argument("--task", help="continuous (regression), count, proportion, multioutput, "
                                  "binary, multiclass, ordinal, multilabel, survival, ranking "
                                  "(default: inferred, as recommend does)")
    p.add_argument("--time", metavar="COL", help="column giving the row order: time-ordered "
                                                 "folds")
    p.add_argument("--group", metavar="COL", help="column of group ids: folds keep groups whole "
                                                  "(and ranking losses learn within them)")
    p.add_argument("--event", metavar="COL", help="event indicator (1 = event, 0 = censored): "
                                                  "survival times")
    p.add_argument("--costs", metavar="SPEC", help="asymmetric error costs for the "
                                                   "recommendation, e.g. under=3,over=1")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--repeats", type=int, default=1, help="repeat the folds (default 1)")
    p.add_argument("--epochs", type=int, default=150, help="training steps per fold "
                                                           "(default 150)")
    p.add_argument("--model", default="linear", choices=("linear", "mlp"),
                   help="model trained with every loss (default linear)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="DIR", help="write comparison.json, comparison.png and "
                                                "curves.png here")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--scenario", metavar="NAME", help="run a classic claim as an experiment; "
                                                      "'list' shows them")
    p.set_defaults(handler=run_compare)


def _progress_callback(
        enabled: bool) -> tuple[Callable[[str, int, int], None], contextlib.ExitStack]:
    """A ``progress(label, done, total)`` callback drawing a bar; and its closer."""
    stack = contextlib.ExitStack()
    state: dict[str, Any] = {}

    def callback(label: str, done: int, total: int) -> None:
        if not enabled:
            return
        if "bar" not in state:
            from .._render import progress

            state["bar"] = stack.enter_context(progress(total, "training folds x losses"))
        state["bar"].advance()

    return callback, stack


def _write(out: str, name: str, payload: Mapping[str, Any]) -> str:
    path = Path(out) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2))
    return str(path)


def _check_args(args: argparse.Namespace) -> None:
    """Arguments that are wrong whatever the data: one line and exit 2, before any work."""
    from .._cli_errors import CLIError

    for name, low in (("epochs", 1), ("repeats", 1), ("folds", 2)):
        value = getattr(args, name)
        if value < low:
            raise CLIError(f"--{name} must be at least {low}, got {value}")
    if args.task:
        from ..vocabulary import normalize_task
        from ._compare import TABULAR_TASKS

        task = normalize_task(args.task)
        if task not in (*TABULAR_TASKS, "classification"):
            raise CLIError(f"compare trains a model on a feature table; a {task} target needs "
                           f"its own training loop (tasks compare can train: "
                           f"{', '.join(TABULAR_TASKS)})")
    if args.out:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise CLIError(f"--out must be a directory; {args.out} is an existing file")
        parent = next((p for p in (out, *out.parents) if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise CLIError(f"--out {args.out}: {parent} is a file, not a directory")


def run_compare(args: argparse.Namespace) -> int:
    _check_args(args)
    if args.scenario:
        return _run_scenario(args)
    from .._render import console
    from ..io import load_dataset
    from ._compare import compare

    ds = load_dataset(args.data, args.target, example=args.example, time=args.time,
                      group=args.group, event=args.event)
    out = console()
    metric = args.metric or ds.metric
    if metric is None and args.costs:
        from ..advise._rules import normalize_costs

        costs = normalize_costs(args.costs)
        if costs and "under" in costs:  # the expected cost is the pinball loss at that level
            metric = f"pinball@{costs['under'] / (costs['under'] + costs['over']):.4g}"
    losses: Any = None
    if args.losses:
        losses = [s.strip() for s in args.losses.split(",") if s.strip()]
    else:
        losses = _recommendation(ds, args, metric, out)
    if not args.json:
        out.print(f"[bold]Comparing[/bold] on {ds.source} ({len(ds.y)} rows, target "
                  f"{ds.target_name!r}): {args.folds}-fold CV, {args.model} model, "
                  f"{args.epochs} epochs")
    callback, bar = _progress_callback(not args.json)
    with bar:
        c = compare(ds.features, ds.y, losses=losses, metric=metric, task=args.task,
                    model=args.model, folds=args.folds, repeats=args.repeats,
                    epochs=args.epochs, seed=args.seed, progress=callback, **ds.structure)
    written = []
    if args.out:
        written.append(_write(args.out, "comparison.json", c.to_dict()))
        written.append(c.plot(str(Path(args.out) / "comparison.png")))
        written.append(c.plot(str(Path(args.out) / "curves.png"), kind="curves"))
    if args.json:
        print(c.to_json(indent=2))
        return 0
    out.print(_table(c.rows(), f"{c.metric_label} per loss (best first)"))
    for line in c.summary().splitlines():
        warn = ": loss-metric misalignment" in line or ": diverged" in line
        out.print(f"[yellow]{line}[/yellow]" if warn else line)
    for path in written:
        out.print(f"wrote {path}")
    return 0


def _table(rows: list[dict[str, str]], title: str) -> Any:
    """The shared table, without empty columns and with loss names wrapped, never cut."""
    from .._render import table

    keep = [k for k in rows[0] if any(r[k] for r in rows)] if rows else []
    t = table([{k: r[k] for k in keep} for r in rows], title=title)
    for column in getattr(t, "columns", []):
        if column.header == "loss":
            column.overflow = "fold"
            column.min_width = 16
    return t


def _recommendation(ds: Any, args: argparse.Namespace, metric: str | None, out: Any) -> Any:
    """Print the advisor's recommendation and return it (compare then checks its choices)."""
    try:
        from .. import advise
    except ImportError:
        return None
    rec = advise.recommend(ds.y, ds.features, metric=metric, task=args.task, costs=args.costs,
                           **ds.structure)
    if not args.json:
        out.print(f"[bold]Recommendation[/bold] for {ds.source}")
        render = getattr(advise, "render_recommendation", None)
        if render is not None:
            render(rec, out)
        else:
            for i, choice in enumerate(rec.to_dict()["choices"], 1):
                out.print(f"  {i}. {choice['name']} {choice.get('params') or ''}")
        out.print("")
    return rec


def _run_scenario(args: argparse.Namespace) -> int:
    from .._render import console, table
    from .scenarios import list_scenarios, run_scenario

    out = console()
    if args.scenario == "list":
        if args.json:
            print(json.dumps(list_scenarios(), indent=2))
        else:
            out.print(table(list_scenarios(), title="Scenarios (losskit compare --scenario NAME)"))
        return 0
    result = run_scenario(args.scenario, seed=args.seed)
    written = []
    if args.out:
        from ..plot import plot_scenario

        written.append(_write(args.out, f"scenario_{result.name}.json", result.to_dict()))
        figure = Path(args.out) / f"scenario_{result.name}.png"
        written.append(plot_scenario(result, out=str(figure)))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    out.print(f"[bold]Claim[/bold]: {result.claim}")
    out.print(_table(result.table, f"scenario {result.name}"))
    mark = "[green]holds[/green]" if result.holds else "[red]does not hold[/red]"
    out.print(f"[bold]Result[/bold]: the claim {mark}: {result.verdict}")
    if "note" in result.details:
        out.print(f"Note: {result.details['note']}")
    for path in written:
        out.print(f"wrote {path}")
    return 0
