"""``losskit recommend``: profile a data set's target and print the ranked loss choices."""

from __future__ import annotations

import argparse
import json
import sys

from ._profile import TASKS


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "recommend", help="choose a loss from the data, the metric and the costs",
        description="Profile the target column and rank losses with reasons, hyperparameters "
                    "computed from the data, caveats and code. With no DATA, runs on a "
                    "bundled example.")
    p.add_argument("data", nargs="?", metavar="DATA",
                   help="CSV, Parquet, .npy or .npz file (omit for the bundled example)")
    p.add_argument("--target", metavar="COL",
                   help="target column (array name for .npz); 'a,b,c' for several targets")
    p.add_argument("--task", metavar="T",
                   help="declare the task instead of inferring it: " + ", ".join(TASKS))
    p.add_argument("--metric", metavar="M",
                   help="what the model is judged by: rmse, mae, pinball@0.9, f1, recall, auc, "
                        "log_loss, iou, ...")
    p.add_argument("--costs", metavar="SPEC",
                   help="asymmetric error costs, e.g. under=3,over=1 or fn=5,fp=1")
    p.add_argument("--time", metavar="COL",
                   help="column giving the row order (dates or numbers): time-ordered data")
    p.add_argument("--group", metavar="COL",
                   help="column of group ids (queries, choice sets, entities): grouped data, "
                        "listwise losses for relevance")
    p.add_argument("--event", metavar="COL",
                   help="event indicator (1 = event, 0 = censored): the target is a survival "
                        "time")
    p.add_argument("--top-k", type=int, default=3, metavar="K", help="number of choices (3)")
    p.add_argument("--example", default="delivery_times",
                   help="bundled example to use when DATA is omitted (delivery_times, churn)")
    p.add_argument("--json", action="store_true",
                   help="print Recommendation.to_dict() as JSON (notes go to stderr)")
    p.set_defaults(handler=run_recommend)


def run_recommend(args: argparse.Namespace) -> int:
    from .._cli_errors import CLIError
    from ..io import load_dataset
    from . import recommend, render_recommendation

    if args.top_k < 1:
        raise CLIError(f"--top-k must be at least 1, got {args.top_k}")
    ds = load_dataset(args.data, args.target, example=args.example, time=args.time,
                      group=args.group, event=args.event)
    metric = args.metric or (ds.metric if ds.bundled else None)
    rec = recommend(ds.y, ds.features, task=args.task, metric=metric, costs=args.costs,
                    top_k=args.top_k, **ds.structure)
    note = None
    if ds.bundled:
        note = (f"No DATA given: using the {ds.source}; target {ds.target_name!r}"
                + (f", judged by {metric}" if metric and not args.metric else "")
                + ". Run `losskit recommend FILE --target COL` on your own data.")
    if args.json:
        if note:
            print(note, file=sys.stderr)
        print(json.dumps(rec.to_dict(), indent=2))
        return 0
    from .._render import console

    out = console()
    header = note or f"Data: {ds.source}, target {ds.target_name!r}"
    if type(out).__module__.startswith("rich"):
        from rich.markup import escape

        header = escape(header)
    out.print(header)
    render_recommendation(rec, out)
    return 0
