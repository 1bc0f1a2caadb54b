"""CLI conventions: --version, plain output off a terminal, --json, quiet closed pipes, and
one-line errors with exit status 2 (exit 1 only for a failed check)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import losskit
from losskit.cli import main

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"),
                                                   os.environ.get("PYTHONPATH", "")])}


def _shell(command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    losskit_cmd = f"{sys.executable} -m losskit"
    script = f"set -o pipefail; {command.replace('LOSSKIT', losskit_cmd)}"
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=ENV,
                          cwd=cwd, timeout=120)


def _error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2, argv
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"losskit {argv[0]}: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"losskit {losskit.__version__}"


def test_closed_pipes_end_quietly_with_status_0():
    # (each command starts Python and torch: two are enough to pin the behaviour)
    for command in ("LOSSKIT list | head -3", "LOSSKIT explain cross_entropy | head -c 10"):
        result = _shell(command)
        assert result.returncode == 0, (command, result.stderr)
        assert result.stderr == "", (command, result.stderr)


def test_list_to_a_file_keeps_full_names_in_plain_columns(tmp_path):
    result = _shell(f"LOSSKIT list > {tmp_path / 'losses.tsv'}")
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "losses.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    assert header[:3] == ["name", "family", "input"]
    names = [line.split("\t")[0] for line in lines[1:]]
    assert names == losskit.list_losses()
    assert "…" not in "".join(lines) and all(len(line.split("\t")) == len(header)
                                              for line in lines)


def test_json_wherever_a_table_is_printed(capsys):
    for argv, key in ((["list", "--json"], "name"), (["explain", "--topics", "--json"], "topic"),
                      (["bench", "--list", "--json"], "case")):
        assert main(argv) == 0
        rows = json.loads(capsys.readouterr().out)
        assert rows and all(key in r for r in rows), argv
    assert main(["explain", "huber", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "huber"


def test_plot_errors_are_one_line(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    out = str(tmp_path / "x.png")
    assert "no hyperparameter 'nope'" in _error(capsys, ["plot", "huber", "--param",
                                                         "huber.nope=2", "--out", out])
    assert "is a directory" in _error(capsys, ["plot", "huber", "--out", str(tmp_path)])
    line = _error(capsys, ["plot", "huber", "--param", "huber.delta=-1", "--out", out])
    assert "delta" in line and not Path(out).exists()  # no empty curve drawn
    assert "finite" in _error(capsys, ["plot", "huber", "--range", "nan", "1", "--out", out])
    assert "LO < HI" in _error(capsys, ["plot", "huber", "--range", "2", "1", "--out", out])
    assert "given twice" in _error(capsys, ["plot", "huber", "--param", "huber.delta=1",
                                            "--param", "huber.delta=2", "--out", out])
    assert main(["plot", "huber", "--param", "huber.delta=0.5", "--out", out]) == 0
    assert Path(out).read_bytes()[:4] == b"\x89PNG"


def test_bench_unknown_case_exits_2(capsys):
    assert "unknown case 'bad'" in _error(capsys, ["bench", "--cases", "bad"])


def test_check_of_a_module_that_calls_sys_exit(capsys, tmp_path):
    module = tmp_path / "exits.py"
    module.write_text("import sys\nsys.exit(3)\n")
    assert "sys.exit(3)" in _error(capsys, ["check", f"{module}:loss"])


def test_check_exit_1_only_when_a_check_fails(capsys, tmp_path):
    module = tmp_path / "losses_for_cli.py"
    module.write_text("def good(x, y):\n    return ((x - y) ** 2).mean()\n\n"
                      "def flipped(x, y):\n    return -((x - y) ** 2).mean()\n")
    checks = "gradient_direction,optimum"
    assert main(["check", f"{module}:good", "--checks", checks]) == 0
    # the report's note (no task given: regression assumed) once, not twice
    assert capsys.readouterr().out.count("assumed regression") == 1
    assert main(["check", f"{module}:flipped", "--checks", checks]) == 1
    capsys.readouterr()
    assert "unknown check" in _error(capsys, ["check", f"{module}:good", "--checks", "nope"])


def test_long_bad_spec_gives_a_short_error():
    for spec in ("x" * 5000, "0.5*mse + " + "y" * 5000, "0.5*mse + )" + "z" * 5000):
        with pytest.raises(losskit.LossInputError) as exc:
            losskit.get(spec)
        assert len(str(exc.value)) < 400


def test_get_refuses_what_is_not_a_spec():
    for spec in (None, 42, 1.5, ["mse"]):
        with pytest.raises(losskit.LossInputError, match="must be a string"):
            losskit.get(spec)
    with pytest.raises(losskit.LossInputError, match="not finite"):
        losskit.get("1e999*mse")
    with pytest.raises(losskit.LossInputError, match="not finite"):
        losskit.get("1e200*1e200*mse")


def test_list_targets_are_refused_and_int32_targets_accepted():
    x = torch.randn(3, 4)
    for name in ("coral", "corn", "energy_nll", "energy_margin"):
        with pytest.raises(losskit.LossInputError, match=r"target must be a torch\.Tensor"):
            getattr(losskit.F, name)(x, [0, 1, 2])
    y64 = torch.tensor([0, 1, 2])
    for name in ("energy_margin", "energy_nll", "coral", "corn"):
        fn = getattr(losskit.F, name)
        assert torch.equal(fn(x, y64.int()), fn(x, y64)), name


def test_missing_optional_dependency_names_the_extra(capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    line = _error(capsys, ["plot", "huber", "--out", "never.png"])
    assert "pip install 'losskit[plot]'" in line


def test_list_takes_the_task_names_recommend_takes(capsys):
    # `list --task binary` once matched nothing: the registry tags binary_classification.
    assert main(["list", "--task", "binary"]) == 0
    binary = capsys.readouterr().out
    assert main(["list", "--task", "binary_classification"]) == 0
    assert capsys.readouterr().out == binary and "binary_cross_entropy" in binary
    assert main(["list", "--task", "no_such_task"]) == 2
    assert "tasks: " in capsys.readouterr().err
