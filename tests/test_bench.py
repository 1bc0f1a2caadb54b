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


_FAKE_TORCH = """
__version__ = "0.0-standin"
class version:
    cuda = "0.0"
class cuda:
    @staticmethod
    def is_available():
        return True
    @staticmethod
    def get_device_name():
        return "Stand-in GPU"
"""

_FAKE_RUN = """
import json, sys
args = sys.argv[1:]
assert args[:2] == ["--device", "cuda"] and "--no-compile" in args, args
ok = {"status": "ok", "seconds": 0.004, "peak_mib": 100.0, "syncs": 0}
report = {"facts": {}, "quick": "--quick" in args, "device": "cuda", "results": [
    {"case": "nt_xent", "size": "n=16384, d=256", "what": "forward + backward",
     "targets": {"plain": [None, 0.2]},
     "sides": {"losskit": ok, "plain": dict(ok, seconds=0.008, peak_mib=1000.0)}},
    {"case": "dice", "size": "b=2", "what": "forward + backward",
     "targets": {"MONAI": [0.5, 0.5]},
     "sides": {"losskit": ok, "MONAI": {"status": "not available", "reason": "no monai"}}}]}
with open(args[args.index("--json") + 1], "w") as f:
    json.dump(report, f)
"""

_FAKE_TESTS = """
import liger_kernel

def test_passes():
    assert liger_kernel.MARK == 1

def test_fails():
    assert False
"""


@bash
def test_gpu_check_end_to_end_with_a_stand_in_gpu(tmp_path):
    # The script's whole pipeline, with a stand-in for what needs a GPU: a torch module that
    # reports one, a benchmark that writes a fixed report, two test modules (one test
    # fails). Peers come from a wheel folder: a wheel of a module this python lacks is
    # installed with pip --target and importable by the tests; one it already has (pytest)
    # is left alone. The table has the GPU, the tests per file with the failure named,
    # each benchmark row with its verdict, and the exit status is 1 (a test failed).
    import shutil
    import zipfile

    root = tmp_path / "repo"
    (root / "benchmarks").mkdir(parents=True)
    (root / "src" / "losskit").mkdir(parents=True)
    (root / "tests").mkdir()
    shutil.copy(SCRIPT, root / "benchmarks" / "gpu_check.sh")
    (root / "benchmarks" / "run.py").write_text(_FAKE_RUN)
    (root / "tests" / "test_cuda.py").write_text(_FAKE_TESTS)
    (root / "tests" / "test_triton.py").write_text("def test_ok():\n    pass\n")
    fake = tmp_path / "standin"
    (fake / "torch").mkdir(parents=True)
    (fake / "torch" / "__init__.py").write_text(_FAKE_TORCH)
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\nPYTHONPATH={fake}${{PYTHONPATH:+:$PYTHONPATH}} "
                      f"exec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "liger_kernel-0.0.1-py3-none-any.whl", "w") as whl:
        whl.writestr("liger_kernel/__init__.py", "MARK = 1\n")
        info = "liger_kernel-0.0.1.dist-info"
        whl.writestr(f"{info}/METADATA",
                     "Metadata-Version: 2.1\nName: liger_kernel\nVersion: 0.0.1\n")
        whl.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\n"
                                      "Root-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr(f"{info}/RECORD", "")
    shutil.copy(wheels / "liger_kernel-0.0.1-py3-none-any.whl",
                wheels / "pytest-0.0.1-py3-none-any.whl")
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    env["PYTHON"] = str(python)
    proc = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--out", "out", str(wheels)],
                          cwd=root, capture_output=True, text=True, env=env, timeout=300)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "GPU: Stand-in GPU (torch 0.0-standin, CUDA 0.0)" in out
    assert "wheel: installed liger_kernel-0.0.1-py3-none-any.whl" in out
    assert "wheel: pytest already importable here: not installed" in out
    assert "| tests " in out and "test_cuda.py" in out and "1 FAILED, 1 passed" in out
    assert "test_fails" in out and "FAILED" in out
    row = next(line for line in out.splitlines() if line.startswith("| nt_xent"))
    assert "time 0.50x" in row and "memory 0.10x" in row and "memory<=0.2 met" in row
    assert "losskit syncs 0" in row
    dice = next(line for line in out.splitlines() if line.startswith("| dice"))
    assert "not available" in dice
    assert (root / "out" / "tests.xml").exists() and (root / "out" / "notes.txt").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="with a GPU test_cuda.py runs itself")
def test_the_cuda_sweep_runs_on_a_stand_in_device():
    # tests/test_cuda.py's sweep of every loss (and its ctc cases) with the CPU standing in
    # for the GPU (tests/_stand_in_cuda.py): its plumbing must work before a GPU run, where
    # device time is short. It once copied r1_penalty's logits apart from its inputs.
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests._stand_in_cuda", "-p",
         "no:cacheprovider", "tests/test_cuda.py", "-k", "without_syncs or lengths"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout.splitlines()[-1]
