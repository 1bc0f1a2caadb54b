"""``losskit bench``: run the side-by-side benchmarks (``benchmarks/run.py``).

The benchmark runner lives in the source checkout, not in the installed package (it
imports peer libraries and writes ``benchmarks/RESULTS.md``), so this command finds it
(``--script``, then ``./benchmarks/run.py``, then the checkout this package was imported
from) and runs it with the current interpreter, passing the options through.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from .cli import CLIError


def find_runner(script: str | None = None) -> Path:
    candidates = [Path(script)] if script else [
        Path.cwd() / "benchmarks" / "run.py",
        Path(__file__).resolve().parents[2] / "benchmarks" / "run.py",
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise CLIError("benchmarks/run.py not found: run `losskit bench` from a losskit source "
                   "checkout or pass --script PATH")


def _handler(args: argparse.Namespace) -> int:
    runner = find_runner(args.script)
    cmd = [sys.executable, str(runner), "--reps", str(args.reps)]
    if args.quick:
        cmd.append("--quick")
    if args.cases:
        cmd += ["--cases", args.cases]
    if args.out is not None:
        cmd += ["--out", args.out]
    if args.list:
        cmd.append("--list")
    return subprocess.call(cmd)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench", help="time and memory side by side with torch and peer libraries",
        description="Run every benchmark case in fresh processes against torch builtins, MONAI, "
                    "pytorch-metric-learning and coral-pytorch; write benchmarks/RESULTS.md.")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    p.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    p.add_argument("--reps", type=int, default=7, help="timed repetitions per side")
    p.add_argument("--out", default=None, help="where to write the Markdown report")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--script", default=None, help="path to benchmarks/run.py")
    p.set_defaults(handler=_handler)
