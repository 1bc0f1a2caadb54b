"""Side-by-side benchmark of losskit against torch builtins and peer libraries.

    losskit bench                       # every case, full sizes, writes the report
    losskit bench --quick               # small sizes (smoke test)
    losskit bench --cases mse,cross_entropy --reps 9
    python benchmarks/run.py [same]     # in a source checkout: writes benchmarks/RESULTS.md

The runner ships inside the package (``losskit._bench``), so ``losskit bench`` works from an
installed wheel; the peer libraries it compares against come with ``losskit[bench]``, and a
side whose library is missing is reported as not run.

Every (case, side) runs in a fresh Python process, so one side's allocations, caches and
thread pools never affect the other's. In that process the inputs are built, the step
(forward + backward) runs twice as warm-up, then once more for the memory measurement,
then ``--reps`` times for the timing; the reported time is the median. Peak memory is the
rise of the process's peak resident set size during one step above its resident size
just before it (``/proc/self/clear_refs`` resets the peak on Linux; elsewhere
``ru_maxrss``), identical for both sides. Ratios are losskit / other: lower is better.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def default_out() -> Path:
    """``benchmarks/RESULTS.md`` in a source checkout (run from its root), else a file here."""
    checkout = Path.cwd() / "benchmarks"
    return checkout / "RESULTS.md" if checkout.is_dir() else Path.cwd() / "losskit-benchmarks.md"


# --- child: one side of one case ---------------------------------------------------------------


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_of(step) -> float:
    """MiB by which one call of ``step`` raises the process's peak resident memory.

    The gradients of the previous step are freed first, so the new ones count.
    """
    for t in getattr(step, "leaves", ()):
        t.grad = None
    gc.collect()
    if _reset_peak() and _status_kb("VmRSS") is not None:
        before = _status_kb("VmRSS")
        step()
        return (_status_kb("VmHWM") - before) / 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024


def child(case_name: str, side: str, quick: bool, reps: int, budget: float) -> dict:
    sys.path.insert(0, str(HERE))
    import torch
    from cases import CASES, NotAvailable

    case = CASES[case_name]
    size = case.quick if quick else case.full
    torch.manual_seed(0)
    try:
        step = case.sides[side](size)
        t0 = time.perf_counter()
        step()  # first call: includes a one-off native build if the cache is cold
        first = time.perf_counter() - t0
    except NotAvailable as exc:
        return {"status": "not available", "reason": str(exc)}
    except Exception as exc:  # a side that crashes is reported, not fatal
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"[:300]}
    step()
    peak = _peak_of(step)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < reps and (len(times) < 3 or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    per_call = statistics.median(times) / case.calls
    return {"status": "ok", "seconds": per_call, "times": [t / case.calls for t in times],
            "first_call_seconds": first / case.calls if case.calls == 1 else first,
            "peak_mib": peak, "torch_threads": torch.get_num_threads()}


# --- parent: run every case, write the report --------------------------------------------------


def _run_side(case_name: str, side: str, args) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", case_name, side,
           "--reps", str(args.reps), "--budget", str(args.budget)]
    if args.quick:
        cmd.append("--quick")
    env = dict(os.environ)
    # A fixed mmap threshold makes every large buffer its own mapping, returned to the OS
    # when freed; glibc's adaptive threshold would otherwise recycle freed heap pages and
    # hide later allocations from the resident-size measurement (for both sides alike).
    env.setdefault("MALLOC_MMAP_THRESHOLD_", "131072")
    # The child imports losskit exactly as this process did (an installed package or a
    # source tree on PYTHONPATH).
    package_root = str(HERE.parents[1])
    env["PYTHONPATH"] = os.pathsep.join([package_root, env.get("PYTHONPATH", "")])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"timed out after {args.timeout:g} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": "error", "reason": tail[:300]}
    return json.loads(lines[-1])


def machine_facts() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    facts = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if hasattr(os, "getloadavg"):
        facts["load_average_at_start"] = round(os.getloadavg()[0], 2)
    for module in ("monai", "pytorch_metric_learning", "coral_pytorch"):
        try:
            facts[module] = __import__(module).__version__
        except Exception:
            facts[module] = "not installed"
    return facts


def _fmt_size(size: dict) -> str:
    return ", ".join(f"{k}={'x'.join(map(str, v)) if isinstance(v, tuple) else v}"
                     for k, v in size.items())


def _fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _verdict(ratio: float | None, target: float | None) -> str:
    if target is None or ratio is None:
        return ""
    return f"≤ {target:g} {'met' if ratio <= target else 'NOT met'}"


def run(args) -> dict:
    sys.path.insert(0, str(HERE))
    from cases import CASES

    names = list(CASES) if not args.cases else [n.strip() for n in args.cases.split(",")]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; known: {', '.join(CASES)}")
    facts = machine_facts()
    results = []
    for name in names:
        case = CASES[name]
        size = case.quick if args.quick else case.full
        sides = {}
        for side in case.sides:
            sides[side] = _run_side(name, side, args)
            r = sides[side]
            shown = (f"{_fmt_time(r['seconds'])}, peak +{r['peak_mib']:.0f} MiB"
                     if r["status"] == "ok" else f"{r['status']}: {r.get('reason', '')}")
            print(f"{name:32s} {side:42s} {shown}", flush=True)
        results.append({"case": name, "size": _fmt_size(size), "what": case.what,
                        "sides": sides, "targets": case.targets})
    report = {"facts": facts, "quick": bool(args.quick), "results": results}
    if args.out:
        Path(args.out).write_text(render(report), encoding="utf-8")
        print(f"wrote {args.out}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1), encoding="utf-8")
    return report


def render(report: dict) -> str:
    f = report["facts"]
    lines = [
        "# losskit benchmarks" + (" (quick sizes)" if report["quick"] else ""),
        "",
        "Generated by `losskit bench" + (" --quick" if report["quick"] else "")
        + "` (or `losskit bench`). Each side runs in its own fresh process: warm-up, then the "
          "median of repeated forward + backward steps, and the rise of peak resident memory "
          "during one step. **Ratios are losskit / other: lower is better.** Targets are "
          "those of issue 8.",
        "",
        f"- date: {f['date']}; torch {f['torch']} ({f['torch_threads']} threads); "
        f"Python {f['python']}",
        f"- CPU: {f['cpu']}, {f['cores']} cores; {f['platform']}",
        f"- load average when the run started: {f.get('load_average_at_start', '?')}",
        f"- peers: MONAI {f['monai']}, pytorch-metric-learning {f['pytorch_metric_learning']}, "
        f"coral-pytorch {f['coral_pytorch']}",
        "",
        "| case | size | compared with | losskit time | other time | time ratio | "
        "losskit peak | other peak | memory ratio | target |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in report["results"]:
        ours = r["sides"]["losskit"]
        for side, theirs in r["sides"].items():
            if side == "losskit":
                continue
            tt, mt = r["targets"].get(side, (None, None))
            if ours["status"] != "ok" or theirs["status"] != "ok":
                why = ours if ours["status"] != "ok" else theirs
                who = "losskit" if ours["status"] != "ok" else side
                lines.append(f"| {r['case']} | {r['size']} | {side} | | | {why['status']} "
                             f"({who}) | | | | |")
                continue
            time_ratio = ours["seconds"] / theirs["seconds"]
            mem_ratio = (ours["peak_mib"] / theirs["peak_mib"]
                         if theirs["peak_mib"] > 1 and r["what"].startswith("forward +")
                         else None)
            verdicts = [v for v in (
                "time " + _verdict(time_ratio, tt) if tt is not None else "",
                ("memory " + (_verdict(mem_ratio, mt) if mem_ratio is not None else
                              "n/a (other side's rise < 1 MiB)")) if mt is not None else "")
                if v]
            lines.append(
                f"| {r['case']} | {r['size']} | {side} | {_fmt_time(ours['seconds'])} | "
                f"{_fmt_time(theirs['seconds'])} | {time_ratio:.2f} | "
                f"{ours['peak_mib']:.0f} MiB | {theirs['peak_mib']:.0f} MiB | "
                f"{'' if mem_ratio is None else f'{mem_ratio:.2f}'} | {'; '.join(verdicts)} |")
    firsts = [(r["case"], r["sides"]["losskit"]["first_call_seconds"]) for r in report["results"]
              if r["sides"]["losskit"]["status"] == "ok" and r["what"].startswith("forward +")]
    if firsts:
        slowest = max(firsts, key=lambda x: x[1])
        lines += ["", f"First call (includes a one-off native kernel build when the cache is "
                      f"cold): slowest losskit first step {slowest[1]:.2f} s ({slowest[0]})."]
    unavailable = [f"{r['case']} / {s}: {v.get('reason', '')}" for r in report["results"]
                   for s, v in r["sides"].items() if v["status"] != "ok"]
    if unavailable:
        lines += ["", "Not run:", ""] + [f"- {u}" for u in unavailable]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    p.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    p.add_argument("--reps", type=int, default=7, help="timed repetitions (median reported)")
    p.add_argument("--budget", type=float, default=60.0,
                   help="seconds of timing per side after 3 repetitions")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per side process")
    p.add_argument("--out", default=None,
                   help="Markdown report (default: benchmarks/RESULTS.md in a source checkout, "
                        "else losskit-benchmarks.md, for a full run; none for --quick; '' to "
                        "skip)")
    p.add_argument("--json", default="", help="also write the raw results as JSON here")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--child", nargs=2, metavar=("CASE", "SIDE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child, args.quick, args.reps, args.budget)))
        return 0
    if args.list:
        sys.path.insert(0, str(HERE))
        from cases import CASES

        for name, case in CASES.items():
            print(f"{name:32s} {', '.join(s for s in case.sides if s != 'losskit')}")
        return 0
    if args.out is None:
        args.out = "" if args.quick else str(default_out())
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
