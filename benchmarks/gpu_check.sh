#!/usr/bin/env bash
# One prepared GPU check for losskit: the CUDA and Triton test modules, then the GPU
# benchmark cases (issue 13's targets), summarized in one table. Run it from the repository
# root on a machine with one CUDA GPU and its own python3 with torch, triton and numpy; it
# needs no network and writes nothing outside OUT_DIR (default ./gpu-check-out).
#
#   bash benchmarks/gpu_check.sh [--quick] [--with-compile] [--out OUT_DIR] [WHEEL_DIR]
#
#   WHEEL_DIR       wheels of what that python lacks (peers and pytest), installed with
#                   `pip install --no-index --no-deps --target OUT_DIR/peers`; a module the
#                   python already imports is used as it is; a missing wheel is reported
#                   and its side or stage is skipped. With pytest-xdist there, the tests run
#                   in 8 processes (most of their time is Triton compiling each variant)
#   --quick         small benchmark sizes (default: the sizes of the issue's targets)
#   --with-compile  also time torch.compile of each definition (20-60 s of compilation
#                   per case; over the 8-minute budget at full sizes)
#   --out OUT_DIR   where the reports go (tests.xml, bench.json, RESULTS_GPU.md, peers/)
#   PYTHON=...      the interpreter to use (default python3)
#
# Download the wheels beforehand on a machine with network (pure-python wheels; the tags
# only steer pip's resolver, so any Linux x86_64 / Python 3.10+ target works):
#
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux_2_28_x86_64 -d wheels \
#       liger-kernel cut-cross-entropy monai pytest pluggy iniconfig packaging pygments
#
# (checked: liger_kernel-0.8.5, cut_cross_entropy-25.1.1, monai-1.6.1, pytest-9.2.0 and its
# dependencies pluggy, iniconfig, packaging, pygments; Python < 3.11 also needs exceptiongroup
# and tomli). Copy the folder over and pass it as WHEEL_DIR.
#
# Exit status: 0 when every test passed, 1 when a test failed or could not run, 2 for a
# usage error (bad option, WHEEL_DIR missing), 3 when there is no usable GPU (said in one
# line, before anything is installed). Benchmark targets do not change the status: the
# table says which are met.

set -u -o pipefail

PYTHON="${PYTHON:-python3}"
QUICK=0
WITH_COMPILE=0
OUT_DIR="gpu-check-out"
WHEEL_DIR=""
TEST_SECONDS=210
BENCH_SECONDS=240

usage() { sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --quick) QUICK=1 ;;
        --with-compile) WITH_COMPILE=1 ;;
        --out)
            [ $# -ge 2 ] || { echo "gpu_check: --out needs a folder" >&2; exit 2; }
            OUT_DIR="$2"; shift ;;
        -*) echo "gpu_check: unknown option $1 (see --help)" >&2; exit 2 ;;
        *)
            [ -z "$WHEEL_DIR" ] || { echo "gpu_check: one WHEEL_DIR only, got '$WHEEL_DIR' and '$1'" >&2; exit 2; }
            WHEEL_DIR="$1" ;;
    esac
    shift
done

if [ ! -f benchmarks/run.py ] || [ ! -d src/losskit ]; then
    echo "gpu_check: run me from the losskit repository root (no src/losskit here)" >&2
    exit 2
fi
if [ -n "$WHEEL_DIR" ] && [ ! -d "$WHEEL_DIR" ]; then
    echo "gpu_check: wheel folder '$WHEEL_DIR' does not exist" >&2
    exit 2
fi

# The GPU first: without one, say so and stop before installing anything.
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "gpu_check: no GPU check possible: '$PYTHON' not found (set PYTHON=...)" >&2
    exit 3
fi
GPU_LINE="$("$PYTHON" - <<'EOF' 2>&1
try:
    import torch
except Exception as exc:
    print(f"NO torch is not importable ({type(exc).__name__}: {exc})")
else:
    if torch.cuda.is_available():
        print(f"OK {torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA {torch.version.cuda})")
    else:
        print(f"NO torch {torch.__version__} sees no CUDA device (built with CUDA {torch.version.cuda or 'none'})")
EOF
)"
case "$GPU_LINE" in
    OK*) GPU="${GPU_LINE#OK }" ;;
    *) echo "gpu_check: no usable GPU: ${GPU_LINE#NO }" >&2; exit 3 ;;
esac

START=$(date +%s)
mkdir -p "$OUT_DIR/peers"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
PEERS="$OUT_DIR/peers"
export PYTHONPATH="$PWD/src:$PEERS${PYTHONPATH:+:$PYTHONPATH}"
NOTES="$OUT_DIR/notes.txt"
: > "$NOTES"
note() { echo "$*" | tee -a "$NOTES"; }
note "GPU: $GPU"

limit() {  # limit SECONDS CMD...: run with a time limit where coreutils' timeout exists
    local seconds="$1"; shift
    if command -v timeout >/dev/null 2>&1; then timeout "$seconds" "$@"; else "$@"; fi
}

# Peers and pytest from the wheel folder (nothing from the network); what the python
# already imports is used as it is (a second pytest beside the installed one could break
# its plugins).
if [ -n "$WHEEL_DIR" ]; then
    for dist in liger_kernel cut_cross_entropy monai pytest pluggy iniconfig packaging \
                pygments exceptiongroup tomli; do
        if "$PYTHON" -c "import $dist" >/dev/null 2>&1; then
            note "wheel: $dist already importable here: not installed"
            continue
        fi
        found=""
        for wheel in "$WHEEL_DIR"/"$dist"-*.whl; do
            [ -e "$wheel" ] && found="$wheel"
        done
        if [ -z "$found" ]; then
            note "wheel: no $dist-*.whl in $WHEEL_DIR: skipped"
            continue
        fi
        if "$PYTHON" -m pip --version >/dev/null 2>&1; then
            "$PYTHON" -m pip install --quiet --no-index --no-deps --upgrade --target "$PEERS" \
                "$found" >>"$OUT_DIR/pip.log" 2>&1 \
                && note "wheel: installed $(basename "$found")" \
                || note "wheel: pip could not install $(basename "$found") (see pip.log)"
        else  # no pip: a pure-python wheel is a zip of the files to import
            "$PYTHON" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" \
                "$found" "$PEERS" && note "wheel: unpacked $(basename "$found") (no pip)"
        fi
    done
else
    note "wheel: no WHEEL_DIR given: peers not installed here are reported as not run"
fi

# Tests on the GPU.
TEST_STATUS=0
if "$PYTHON" -c "import pytest" >/dev/null 2>&1; then
    # Most of the tests' time is Triton compiling each kernel variant once: with
    # pytest-xdist, 8 processes share the GPU (and Triton's cache).
    PARALLEL=()
    "$PYTHON" -c "import xdist" >/dev/null 2>&1 && PARALLEL=(-n 8)
    limit "$TEST_SECONDS" "$PYTHON" -m pytest -q -p no:cacheprovider -o addopts="" \
        ${PARALLEL[@]+"${PARALLEL[@]}"} tests/test_cuda.py tests/test_triton.py \
        --junitxml="$OUT_DIR/tests.xml" >"$OUT_DIR/tests.log" 2>&1
    TEST_STATUS=$?
    tail -n 3 "$OUT_DIR/tests.log"
    [ "$TEST_STATUS" -eq 124 ] && note "tests: stopped after ${TEST_SECONDS} s"
else
    note "tests: pytest is not importable (no pytest wheel in WHEEL_DIR): not run"
    TEST_STATUS=1
fi

# The GPU benchmark.
BENCH_ARGS=(--device cuda --reps 5 --budget 5 --timeout 150 --json "$OUT_DIR/bench.json"
            --out "$OUT_DIR/RESULTS_GPU.md")
[ "$QUICK" -eq 1 ] && BENCH_ARGS+=(--quick)
[ "$WITH_COMPILE" -eq 0 ] && BENCH_ARGS+=(--no-compile)
limit "$BENCH_SECONDS" "$PYTHON" benchmarks/run.py "${BENCH_ARGS[@]}" >"$OUT_DIR/bench.log" 2>&1
BENCH_STATUS=$?
[ "$BENCH_STATUS" -eq 124 ] && note "benchmark: stopped after ${BENCH_SECONDS} s (the report keeps the cases that finished; bench.log has every side that ran)"

# One table.
"$PYTHON" - "$OUT_DIR" "$(( $(date +%s) - START ))" <<'EOF'
import json, sys, xml.etree.ElementTree as ET
from pathlib import Path

out, seconds = Path(sys.argv[1]), sys.argv[2]
rows = []
tests = out / "tests.xml"
if tests.exists():
    per_file = {}
    for case in ET.parse(tests).getroot().iter("testcase"):
        name = (case.get("classname") or "").split(".")[-1] + ".py"
        kind = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                kind = "FAILED"
            elif child.tag == "skipped":
                kind = "xfailed" if "xfail" in (child.get("type") or "") + (child.get("message") or "") else "skipped"
        counts = per_file.setdefault(name, {})
        counts[kind] = counts.get(kind, 0) + 1
        if kind == "FAILED":
            rows.append(("test", case.get("name"), "FAILED", ""))
    for name, counts in per_file.items():
        rows.insert(0, ("tests", name, ", ".join(f"{v} {k}" for k, v in sorted(counts.items())), ""))
else:
    rows.append(("tests", "tests/test_cuda.py tests/test_triton.py", "not run", ""))
bench = out / "bench.json"
if bench.exists():
    report = json.loads(bench.read_text())
    for r in report["results"]:
        ours = r["sides"].get("losskit", {})
        for side, theirs in r["sides"].items():
            if side == "losskit":
                continue
            label = f"{r['case']} ({r['size']})"
            if ours.get("status") != "ok" or theirs.get("status") != "ok":
                bad = ours if ours.get("status") != "ok" else theirs
                rows.append((label, side, bad.get("status", "?"), bad.get("reason", "")[:60]))
                continue
            tr = ours["seconds"] / theirs["seconds"]
            mr = ours["peak_mib"] / theirs["peak_mib"] if theirs["peak_mib"] > 1 else None
            tt, mt = r["targets"].get(side, (None, None))
            verdict = []
            if tt is not None:
                verdict.append(f"time<={tt:g} {'met' if tr <= tt else 'NOT met'}")
            if mt is not None and mr is not None:
                verdict.append(f"memory<={mt:g} {'met' if mr <= mt else 'NOT met'}")
            result = (f"time {tr:.2f}x ({ours['seconds']*1e3:.1f} vs {theirs['seconds']*1e3:.1f} ms)"
                      + (f", memory {mr:.2f}x ({ours['peak_mib']:.0f} vs {theirs['peak_mib']:.0f} MiB)" if mr else "")
                      + f", losskit syncs {ours.get('syncs', '?')}")
            rows.append((label, side, result, "; ".join(verdict)))
else:
    rows.append(("benchmark", "benchmarks/run.py --device cuda", "no results", "see bench.log"))
notes = (out / "notes.txt").read_text().splitlines()
widths = [max(len(str(r[i])) for r in rows + [("what", "against", "result", "target")]) for i in range(4)]
line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
print()
for n in notes:
    print(n)
print(line(("what", "against", "result", "target")))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in rows:
    print(line(r))
print(f"\n{seconds} s in all; reports in {out}")
EOF

[ "$TEST_STATUS" -eq 0 ] || exit 1
exit 0
