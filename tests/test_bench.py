"""The benchmark runner's CPU side and its GPU plumbing that can be checked without a GPU."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from losskit._bench import run

ROOT = Path(__file__).resolve().parents[1]


def test_cpu_quick_run_of_one_case(tmp_path):
    # One case, no torch.compile side, one repetition: each side in its own process.
    out = tmp_path / "bench.json"
    assert run.main(["--device", "cpu", "--quick", "--cases", "mse", "--no-compile",
                     "--reps", "1", "--budget", "0", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    sides = report["results"][0]["sides"]
    assert report["device"] == "cpu" and set(sides) == {"losskit", "torch F.mse_loss"}
    assert all(s["status"] == "ok" and s["seconds"] > 0 for s in sides.values())
    assert "| mse |" in run.render(report)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_cuda_without_a_gpu_exits_2_with_one_line():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--device",
                           "cuda"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no CUDA device" in lines[0], proc.stderr
    assert proc.stdout == ""


def test_gpu_cases_declare_the_issue_targets():
    cases = run.case_table("cuda")
    assert cases["linear_cross_entropy"].full == {"n": 8192, "d": 4096, "v": 128256,
                                                  "dtype": "bfloat16"}
    assert cases["linear_cross_entropy"].targets == {"Liger-Kernel fused linear CE": (1.0, 1.0)}
    assert cases["cross_entropy"].full == {"n": 16384, "c": 128256, "dtype": "bfloat16"}
    assert cases["cross_entropy"].targets == {"torch eager F.cross_entropy": (0.8, None)}
    assert cases["dice"].full["spatial"] == (128, 128, 128)
    assert cases["dice"].targets == {"MONAI DiceLoss(softmax, to_onehot_y)": (0.5, 0.5)}
    assert cases["nt_xent"].full == {"n": 16384, "d": 256}
    assert cases["nt_xent"].targets == {"plain torch NT-Xent": (None, 0.2)}
    for case in cases.values():
        assert "losskit" in case.sides and len(case.sides) >= 2


def test_gpu_report_renders_syncs_and_verdicts():
    ok = {"status": "ok", "seconds": 0.01, "peak_mib": 100.0, "first_call_seconds": 2.0,
          "syncs": 0}
    report = {"facts": {"date": "d", "torch": "2.11", "torch_threads": 16, "python": "3.12",
                        "gpu": "Some GPU", "cuda": "12.8", "triton": "3.5",
                        "liger_kernel": "0.8.5", "cut_cross_entropy": "25.1.1",
                        "monai": "1.6.1"},
              "quick": False, "device": "cuda",
              "results": [{"case": "nt_xent", "size": "n=16384, d=256",
                           "what": "forward + backward", "targets": {"plain": (None, 0.2)},
                           "sides": {"losskit": ok, "plain": dict(ok, peak_mib=1000.0,
                                                                   syncs=3)}}]}
    text = run.render(report)
    assert "# losskit GPU benchmarks" in text and "Some GPU" in text
    assert "losskit syncs |" in text and "memory ≤ 0.2 met" in text
    row = next(line for line in text.splitlines() if line.startswith("| nt_xent"))
    assert row.endswith(" 0 |")


_TINY = {
    "linear_cross_entropy": {"n": 33, "d": 16, "v": 101, "dtype": "bfloat16"},
    "cross_entropy": {"n": 9, "c": 50, "dtype": "bfloat16"},
    "softmax_focal": {"n": 9, "c": 50},
    "dice": {"b": 2, "c": 3, "spatial": (5, 6, 7)},
    "nt_xent": {"n": 12, "d": 8},
}


@pytest.mark.parametrize("name", sorted(_TINY))
def test_every_gpu_side_runs_its_code_on_the_cpu(name, monkeypatch):
    # Without a GPU, each side's code (input builders, losskit's calls, the peers' call
    # signatures where the peer is installed) runs once at a tiny size on the CPU and gives
    # finite gradients; a peer that is missing here must say so (NotAvailable), not crash.
    # torch.compile sides are left out (minutes of inductor), and so are peers whose
    # kernels need a GPU.
    table = run.case_table("cuda")  # imports the runner's modules (cases, cases_gpu)
    cases, cases_gpu = sys.modules["cases"], sys.modules["cases_gpu"]
    COMPILED, NotAvailable = cases.COMPILED, cases.NotAvailable
    monkeypatch.setattr(cases_gpu, "DEVICE", "cpu")
    case = table[name]
    assert set(_TINY) == set(table)
    ran = []
    for side, build in case.sides.items():
        if side == COMPILED or side.startswith(("Liger", "cut-cross")):
            continue
        try:
            step = build(_TINY[name])
        except NotAvailable:
            continue
        step()
        grads = [t.grad for t in step.leaves]
        assert grads and all(g is not None and torch.isfinite(g).all() for g in grads), side
        ran.append(side)
    assert "losskit" in ran and len(ran) >= 2, ran


def test_list_of_gpu_cases_needs_no_gpu(capsys):
    assert run.main(["--device", "cuda", "--list"]) == 0
    assert "Liger-Kernel fused linear CE" in capsys.readouterr().out


# --- benchmarks/gpu_check.sh, the parts that need no GPU ---------------------------------------

SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
bash = pytest.mark.skipif(subprocess.run(["bash", "--version"], capture_output=True).returncode,
                          reason="no bash")


def _script(*args, cwd=ROOT, timeout=120):
    import os

    env = dict(os.environ, PYTHON=sys.executable)
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


@bash
def test_gpu_check_parses_and_handles_its_arguments(tmp_path):
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    helped = _script("--help")
    assert helped.returncode == 0 and "pip download" in helped.stdout
    bad = _script("--bogus")
    assert bad.returncode == 2 and "unknown option --bogus" in bad.stderr
    missing = _script(str(tmp_path / "no-wheels"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    twice = _script("a", "b")
    assert twice.returncode == 2 and "one WHEEL_DIR" in twice.stderr
    elsewhere = _script(cwd=tmp_path)
    assert elsewhere.returncode == 2 and "repository root" in elsewhere.stderr


@bash
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_gpu_check_without_a_gpu_says_so_and_stops(tmp_path):
    out = tmp_path / "out"
    proc = _script("--out", str(out), str(tmp_path), timeout=60)
    assert proc.returncode == 3
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "no usable GPU" in proc.stderr and "no CUDA device" in proc.stderr
    assert not out.exists()  # nothing installed or written before the GPU check
