"""Side-by-side benchmark of losskit against torch builtins and peer libraries.

    losskit bench                       # every case, full sizes, writes the report
    losskit bench --quick               # small sizes (smoke test)
    losskit bench --cases mse,cross_entropy --reps 9
    python benchmarks/run.py [same]     # in a source checkout: writes benchmarks/RESULTS.md
    python benchmarks/run.py --device cuda [--quick] [--no-compile]
                                        # the GPU cases; writes benchmarks/RESULTS_GPU.md

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

With ``--device cuda`` the cases of :mod:`cases_gpu` run on the current CUDA device: two
warm-up steps (they include Triton's and inductor's compilation), then the peak memory of
one step from ``torch.cuda.max_memory_allocated`` (its rise above the memory allocated
just before the step), the host-device synchronizations of one step (counted under
``torch.cuda.set_sync_debug_mode("warn")``), and the time of each step between two CUDA
events; the reported time is the median. Without a CUDA device it exits with status 2.
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


def default_out(device: str = "cpu") -> Path:
    """``benchmarks/RESULTS.md`` (``RESULTS_GPU.md`` for CUDA) in a source checkout (run from
    its root), else a file here."""
    checkout = Path.cwd() / "benchmarks"
    if device == "cuda":
        return (checkout / "RESULTS_GPU.md" if checkout.is_dir()
                else Path.cwd() / "losskit-benchmarks-gpu.md")
    return checkout / "RESULTS.md" if checkout.is_dir() else Path.cwd() / "losskit-benchmarks.md"


def case_table(device: str) -> dict:
    """The cases for a device: :data:`cases.CASES` (CPU) or :data:`cases_gpu.GPU_CASES`."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    if device == "cuda":
        from cases_gpu import GPU_CASES

        return GPU_CASES
    from cases import CASES

    return CASES


def cuda_problem() -> str | None:
    """Why CUDA cannot be benchmarked here (one line), or None."""
    try:
        import torch
    except ImportError as exc:
        return f"torch is not importable: {exc}"
    if not torch.cuda.is_available():
        return (f"no CUDA device: torch.cuda.is_available() is False (torch {torch.__version__}, "
                f"built with CUDA {torch.version.cuda or 'none'})")
    return None


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


def child(case_name: str, side: str, quick: bool, reps: int, budget: float,
          device: str = "cpu") -> dict:
    sys.path.insert(0, str(HERE))
    import torch
    from cases import NotAvailable

    case = case_table(device)[case_name]
    size = case.quick if quick else case.full
    torch.manual_seed(0)
    if device == "cuda":
        return _child_cuda(case, side, size, reps, budget, NotAvailable)
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


def _child_cuda(case, side: str, size: dict, reps: int, budget: float, not_available) -> dict:
    """One side on the GPU: CUDA-event timing, allocator peak, syncs per step."""
    import warnings

    import torch

    try:
        step = case.sides[side](size)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()  # first call: Triton / inductor compilation
        torch.cuda.synchronize()
        first = time.perf_counter() - t0
        step()
        torch.cuda.synchronize()
    except not_available as exc:
        return {"status": "not available", "reason": str(exc)}
    except Exception as exc:  # a side that crashes (or runs out of memory) is reported
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"[:300]}
    for t in getattr(step, "leaves", ()):
        t.grad = None
    gc.collect()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    step()
    torch.cuda.synchronize()
    peak = (torch.cuda.max_memory_allocated() - before) / 2**20
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            step()
        finally:
            torch.cuda.set_sync_debug_mode(0)
    torch.cuda.synchronize()
    syncs = sum("synchroniz" in str(w.message) for w in caught)
    times: list[float] = []
    start_all = time.perf_counter()
    while len(times) < reps and (len(times) < 3 or time.perf_counter() - start_all < budget):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return {"status": "ok", "seconds": statistics.median(times) / case.calls, "times": times,
            "first_call_seconds": first, "peak_mib": peak, "syncs": syncs,
            "gpu": torch.cuda.get_device_name()}


# --- parent: run every case, write the report --------------------------------------------------


def _run_side(case_name: str, side: str, args) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", case_name, side,
           "--reps", str(args.reps), "--budget", str(args.budget), "--device", args.device]
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


def machine_facts(device: str = "cpu") -> dict:
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
    peers = (("monai", "pytorch_metric_learning", "coral_pytorch") if device != "cuda" else
             ("monai", "liger_kernel", "cut_cross_entropy", "triton"))
    for module in peers:
        facts[module] = _version(module)
    if device == "cuda":
        facts["gpu"] = torch.cuda.get_device_name()
        facts["cuda"] = torch.version.cuda or "?"
    return facts


def _version(module: str) -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(module.replace("_", "-"))
        except PackageNotFoundError:
            return str(__import__(module).__version__)
    except Exception:
        return "not installed"


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
    table = case_table(args.device)
    names = list(table) if not args.cases else [n.strip() for n in args.cases.split(",")]
    unknown = [n for n in names if n not in table]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; known: {', '.join(table)}")
    from cases import COMPILED

    facts = machine_facts(args.device)
    results = []
    for name in names:
        case = table[name]
        size = case.quick if args.quick else case.full
        sides = {}
        for side in case.sides:
            if args.no_compile and side == COMPILED:
                continue
            sides[side] = _run_side(name, side, args)
            r = sides[side]
            shown = (f"{_fmt_time(r['seconds'])}, peak +{r['peak_mib']:.0f} MiB"
                     + (f", {r['syncs']} syncs" if "syncs" in r else "")
                     if r["status"] == "ok" else f"{r['status']}: {r.get('reason', '')}")
            print(f"{name:32s} {side:42s} {shown}", flush=True)
        results.append({"case": name, "size": _fmt_size(size), "what": case.what,
                        "sides": sides, "targets": case.targets})
        # Written after every case: a run stopped by a time limit keeps what it measured.
        _write(_assemble(facts, args, results), args, final=name == names[-1])
    return _assemble(facts, args, results)


def _assemble(facts: dict, args, results: list) -> dict:
    return {"facts": facts, "quick": bool(args.quick), "device": args.device,
            "results": results}


def _write(rep: dict, args, *, final: bool) -> None:
    if args.out:
        Path(args.out).write_text(render(rep), encoding="utf-8")
        if final:
            print(f"wrote {args.out}")
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=1), encoding="utf-8")


def render(report: dict) -> str:
    f = report["facts"]
    gpu = report.get("device") == "cuda"
    flags = (" --device cuda" if gpu else "") + (" --quick" if report["quick"] else "")
    if gpu:
        how = ("Each side runs in its own fresh process on the GPU: two warm-up steps (they "
               "include Triton's and inductor's compilation), then the median time of "
               "forward + backward steps between CUDA events, the rise of "
               "`torch.cuda.max_memory_allocated` during one step, and the host-device "
               "synchronizations of one step (`torch.cuda.set_sync_debug_mode`). **Ratios are "
               "losskit / other: lower is better.** Targets are those of issue 13.")
        machine = [f"- GPU: {f.get('gpu', '?')} (CUDA {f.get('cuda', '?')}); torch "
                   f"{f['torch']}; triton {f.get('triton', '?')}; Python {f['python']}",
                   f"- peers: Liger-Kernel {f.get('liger_kernel')}, cut-cross-entropy "
                   f"{f.get('cut_cross_entropy')}, MONAI {f.get('monai')}"]
    else:
        how = ("Each side runs in its own fresh process: warm-up, then the median of repeated "
               "forward + backward steps, and the rise of peak resident memory during one "
               "step. **Ratios are losskit / other: lower is better.** Targets: against the "
               "peers, those set when the kernels were written; against "
               "torch.compile(definition) (inductor), an accelerated loss must be at least "
               "as fast as its own formula compiled.")
        machine = [f"- CPU: {f['cpu']}, {f['cores']} cores; {f['platform']}",
                   f"- load average when the run started: "
                   f"{f.get('load_average_at_start', '?')}",
                   f"- peers: MONAI {f['monai']}, pytorch-metric-learning "
                   f"{f['pytorch_metric_learning']}, coral-pytorch {f['coral_pytorch']}"]
    lines = [
        ("# losskit GPU benchmarks" if gpu else "# losskit benchmarks")
        + (" (quick sizes)" if report["quick"] else ""),
        "",
        f"Generated by `python benchmarks/run.py{flags}` (or `losskit bench{flags}`). " + how,
        "",
        f"- date: {f['date']}; torch {f['torch']} ({f['torch_threads']} threads); "
        f"Python {f['python']}",
        *machine,
        "",
        "| case | size | compared with | losskit time | other time | time ratio | "
        "losskit peak | other peak | memory ratio | target |" + (" losskit syncs |" if gpu else ""),
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
        + (" ---: |" if gpu else ""),
    ]
    for r in report["results"]:
        ours = r["sides"].get("losskit", {"status": "not run"})
        syncs = f" {ours['syncs']} |" if gpu and "syncs" in ours else (" |" if gpu else "")
        for side, theirs in r["sides"].items():
            if side == "losskit":
                continue
            tt, mt = r["targets"].get(side, (None, None))
            if ours["status"] != "ok" or theirs["status"] != "ok":
                why = ours if ours["status"] != "ok" else theirs
                who = "losskit" if ours["status"] != "ok" else side
                lines.append(f"| {r['case']} | {r['size']} | {side} | | | {why['status']} "
                             f"({who}) | | | | |" + syncs)
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
                f"{'' if mem_ratio is None else f'{mem_ratio:.2f}'} | {'; '.join(verdicts)} |"
                + syncs)
    firsts = [(r["case"], r["sides"]["losskit"]["first_call_seconds"]) for r in report["results"]
              if r["sides"].get("losskit", {}).get("status") == "ok"
              and r["what"].startswith("forward +")]
    if firsts:
        slowest = max(firsts, key=lambda x: x[1])
        what = "Triton compilation" if gpu else "a one-off native kernel build"
        lines += ["", f"First call (includes {what} when the cache is cold): slowest losskit "
                      f"first step {slowest[1]:.2f} s ({slowest[0]})."]
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
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cpu (default) or cuda: the GPU cases on the current CUDA device")
    p.add_argument("--no-compile", action="store_true",
                   help="skip the torch.compile(definition) sides (their first step compiles "
                        "for tens of seconds)")
    p.add_argument("--child", nargs=2, metavar=("CASE", "SIDE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child, args.quick, args.reps, args.budget, args.device)))
        return 0
    if args.list:
        for name, case in case_table(args.device).items():
            print(f"{name:32s} {', '.join(s for s in case.sides if s != 'losskit')}")
        return 0
    if args.device == "cuda":
        problem = cuda_problem()
        if problem:
            print(f"losskit bench: {problem}", file=sys.stderr)
            return 2
    if args.out is None:
        args.out = "" if args.quick else str(default_out(args.device))
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
