"""``losskit bench``: time and memory side by side with torch and peer libraries.

The runner and its cases ship inside the package (:mod:`losskit._bench`), so the command
works from an installed wheel. Case names are checked here, before any process starts.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._cli_errors import CLIError


def _cases(device: str = "cpu") -> dict[str, Any]:
    from ._bench.run import case_table

    return dict(case_table(device))


def _handler(args: argparse.Namespace) -> int:
    cases = _cases(args.device)
    if args.list:
        rows = [{"case": name, "compared_with": [s for s in case.sides if s != "losskit"]}
                for name, case in cases.items()]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for row in rows:
                print(f"{row['case']}\t{', '.join(row['compared_with'])}")
        return 0
    names = [n.strip() for n in args.cases.split(",") if n.strip()] if args.cases else []
    unknown = [n for n in names if n not in cases]
    if unknown:
        raise CLIError(f"unknown case {unknown[0]!r}; see losskit bench --list")
    if args.reps < 1:
        raise CLIError(f"--reps must be at least 1, got {args.reps}")
    from ._bench.run import cuda_problem
    from ._bench.run import main as run_main

    if args.device == "cuda" and cuda_problem():
        raise CLIError(str(cuda_problem()))
    argv = ["--reps", str(args.reps), "--device", args.device]
    if args.no_compile:
        argv.append("--no-compile")
    if args.quick:
        argv.append("--quick")
    if names:
        argv += ["--cases", ",".join(names)]
    if args.out is not None:
        argv += ["--out", args.out]
    if args.json:
        argv += ["--json", args.json_out]
    return int(run_main(argv) or 0)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "bench", help="time and memory side by side with torch and peer libraries",
        description="Run every benchmark case in fresh processes against torch builtins, MONAI, "
                    "pytorch-metric-learning and coral-pytorch (pip install 'losskit[bench]'; "
                    "a missing peer is reported as not run) and write a Markdown report.")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    p.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    p.add_argument("--reps", type=int, default=7, help="timed repetitions per side")
    p.add_argument("--out", default=None,
                   help="where to write the Markdown report (default: benchmarks/RESULTS.md in "
                        "a source checkout, else losskit-benchmarks.md)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cpu (default), or cuda for the GPU cases (Liger-Kernel, "
                        "cut-cross-entropy, MONAI)")
    p.add_argument("--no-compile", action="store_true",
                   help="skip the torch.compile(definition) sides")
    p.add_argument("--json", action="store_true",
                   help="with --list, print JSON; otherwise also write the raw results as JSON "
                        "(to --json-out)")
    p.add_argument("--json-out", default="losskit-benchmarks.json", metavar="FILE",
                   help="where --json writes the raw results (default: %(default)s)")
    p.set_defaults(handler=_handler)
