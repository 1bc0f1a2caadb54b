"""Mutation testing of loss definitions: does the test suite notice a wrong formula?

    python scripts/mutation_test.py src/losskit/functional/regression.py [--jobs 2]
    python scripts/mutation_test.py FILE --tests "tests/test_x.py tests/test_common.py -k 'a or b'"

Each mutant changes one thing in the code of one function (an arithmetic operator, a
comparison, a numeric constant, a unary minus, ``and``/``or``, ``True``/``False``); the
cards (``register_loss`` arguments), docstrings and signatures are left alone. A mutant is
*killed* when the selected tests fail (or time out) with it in place, and *survives*
otherwise. Why not mutmut: mutmut 3 does not mutate decorated functions, and every loss
here is decorated by ``register_loss``.

Speed: one server process imports torch and pytest once and forks a child per mutant; the
child puts a copy of ``src`` with the mutated file first on ``sys.path`` and runs pytest
in-process with ``-x`` (the first failing test ends the run). The default test selection
for a file is the family's own test module, the accelerator tests and the common suite
restricted to the losses the file registers.

Writes a JSON report (``--out``) with every mutant: line, description, status.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_BINOPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
           ast.Pow: ast.Mult, ast.FloorDiv: ast.Div, ast.Mod: ast.Mult}
_CMPOPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
           ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn,
           ast.NotIn: ast.In}


@dataclass
class Mutant:
    index: int
    function: str
    line: int
    description: str
    code: str = ""
    status: str = "pending"
    seconds: float = 0.0


#: Functions that are test support, not loss code: example-input factories, the
#: independent references the tests compare against, known optima. A mutant there changes
#: what the tests feed in or expect, not the loss, so it says nothing about the suite.
SUPPORT = re.compile(r"(^_.*examples?$|reference|optimum|^_perfect$|^_well_separated$)")


def _skip_ranges(tree: ast.Module) -> tuple[set[int], dict[int, str]]:
    """ids of nodes not to mutate (decorators, docstrings, signatures, test-support
    functions) and the enclosing function name of every node."""
    skip: set[int] = set()
    owner: dict[int, str] = {}
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if SUPPORT.search(fn.name):
            skip.update(id(n) for n in ast.walk(fn))
            continue
        for dec in fn.decorator_list:
            skip.update(id(n) for n in ast.walk(dec))
        skip.update(id(n) for n in ast.walk(fn.args))
        if fn.returns is not None:
            skip.update(id(n) for n in ast.walk(fn.returns))
        body = fn.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skip.update(id(n) for n in ast.walk(body[0]))
        for n in ast.walk(fn):
            # error messages and their f-strings: a wording mutant says nothing about math
            if isinstance(n, (ast.Raise, ast.JoinedStr)):
                skip.update(id(m) for m in ast.walk(n))
        for stmt in body:
            for n in ast.walk(stmt):
                owner.setdefault(id(n), fn.name)
    return skip, owner


def _candidates(tree: ast.Module) -> list[tuple[int, str, int, str]]:
    """(node id, field, line, description) of every mutation point inside functions."""
    skip, owner = _skip_ranges(tree)
    out = []
    for node in ast.walk(tree):
        if id(node) in skip or id(node) not in owner:
            continue
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            out.append((id(node), "op", line, f"{type(node.op).__name__} -> "
                        f"{_BINOPS[type(node.op)].__name__}"))
        elif isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                if type(op) in _CMPOPS:
                    out.append((id(node), f"ops.{k}", line, f"{type(op).__name__} -> "
                                f"{_CMPOPS[type(op)].__name__}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
            out.append((id(node), "unary", line, f"drop {type(node.op).__name__}"))
        elif isinstance(node, ast.BoolOp):
            out.append((id(node), "boolop", line, f"{type(node.op).__name__} -> "
                        f"{'Or' if isinstance(node.op, ast.And) else 'And'}"))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
              and not isinstance(node.value, bool)):
            out.append((id(node), "const", line, f"{node.value!r} -> {_bumped(node.value)!r}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            out.append((id(node), "bool", line, f"{node.value} -> {not node.value}"))
    return out


def _bumped(value: int | float) -> int | float:
    if value == 0:
        return 1
    if value == 1:
        return 2
    return value * 2 if isinstance(value, int) else value * 1.5


class _Apply(ast.NodeTransformer):
    def __init__(self, target: int, field: str) -> None:
        self.target, self.field = target, field

    def visit(self, node):
        if id(node) != self.target:
            return self.generic_visit(node)
        if self.field == "op":
            node.op = _BINOPS[type(node.op)]()
        elif self.field.startswith("ops."):
            k = int(self.field.split(".")[1])
            node.ops[k] = _CMPOPS[type(node.ops[k])]()
        elif self.field == "unary":
            return node.operand
        elif self.field == "boolop":
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif self.field == "const":
            node.value = _bumped(node.value)
        elif self.field == "bool":
            node.value = not node.value
        return node


def mutants_of(source: str) -> list[tuple[Mutant, str]]:
    tree = ast.parse(source)
    _, owner = _skip_ranges(tree)
    lines = source.splitlines()
    out = []
    for k, (node_id, field, line, what) in enumerate(_candidates(tree)):
        clone = copy.deepcopy(tree)
        # deepcopy keeps the walk order, so the k-th candidate of the clone is the same node
        target = _candidates(clone)[k][0]
        mutated = ast.unparse(ast.fix_missing_locations(_Apply(target, field).visit(clone)))
        code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        out.append((Mutant(k, owner.get(node_id, "?"), line, what, code), mutated))
    return out


def _registered_names(source: str) -> list[str]:
    tree = ast.parse(source)
    names = []
    for fn in tree.body:
        if isinstance(fn, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "id", "") == "register_loss"
                for d in fn.decorator_list):
            names.append(fn.name)
    return names


def default_tests(path: Path, source: str) -> list[list[str]]:
    """pytest runs, in order: the family's own tests, the peers' cases, the accelerator
    tests of the file's losses, their Triton kernels, and the distributed tests of those
    that have them (the common suite's checks run in-process after them, see
    :func:`_checks_pass`)."""
    family = path.stem
    names = _registered_names(source)
    runs = [[f"tests/test_{family}.py"]] if (ROOT / f"tests/test_{family}.py").exists() else []
    candidates = [*(ROOT / "tests/peer_cases").glob("test_*.py"),
                  ROOT / "tests/test_loss_options.py", ROOT / "tests/test_card_claims.py"]
    peers = sorted(str(p.relative_to(ROOT)) for p in candidates if p.exists()
                   and any(re.search(rf"\b{n}\b", p.read_text()) for n in names))
    if peers:
        runs.append(peers)
    accelerated = [n for n in names if f'"{n}": [' in (ROOT / "tests/test_accelerators.py")
                   .read_text()]
    if accelerated:
        selection = " or ".join(f"[{n}:" for n in accelerated)
        runs.append(["tests/test_accelerators.py", "-k", selection])
    triton = (ROOT / "tests/test_triton.py").read_text()
    in_triton = [n for n in names if re.search(rf"\b{n}\b", triton)]
    if in_triton:  # the Triton kernels in the interpreter, against the definitions
        runs.append(["tests/test_triton.py", "-k", " or ".join(in_triton)])
    distributed = (ROOT / "tests/test_distributed_losses.py").read_text()
    if any(re.search(rf'Case\("{n}"', distributed) for n in names):
        # last: real process groups (seconds); reached by the mutants nothing else kills
        runs.append(["tests/test_distributed_losses.py"])
    return runs


def _checks_pass(losses: list[str]) -> bool:
    """The common suite on these losses, in-process (no test collection): every check of
    ``losskit.check`` (compile excepted: seconds per loss), the reference check on the
    definition alone, and the suite's test-only cases (weights, empty batch, all ignored,
    accelerated path against the definition)."""
    import pytest

    from losskit import kernels
    from losskit.verify import CHECKS
    from losskit.verify._api import run_check
    from losskit.verify._subject import build_subject

    sys.path.insert(0, str(ROOT))
    from tests import test_common

    extra = [test_common.test_weight_rescales_unreduced_loss,
             test_common.test_empty_batch_gives_zero_attached,
             test_common.test_all_ignored_gives_zero_and_zero_gradients,
             test_common.test_plain_and_accelerated_paths_agree]
    for name in losses:
        subject = build_subject(name)
        for check in CHECKS:
            if check == "compile":
                continue
            if run_check(subject, check).status == "failed":
                return False
        with kernels.use("plain"):
            if run_check(subject, "reference").status == "failed":
                return False
        for case in extra:
            try:
                case(name)
            except pytest.skip.Exception:
                continue
            except Exception:
                return False
    return True


def _run_child(src_copy: Path, rel: Path, mutated: str, tests: list[list[str]],
               losses: list[str], timeout: float) -> str:
    import signal

    pid = os.fork()
    if pid == 0:  # child: mutated file in place, fresh losskit import, pytest in-process
        try:
            (src_copy / rel).write_text(mutated)
            os.environ["LOSSKIT_MUTANT"] = "1"
            sys.path.insert(0, str(src_copy))
            for name in [m for m in sys.modules if m == "losskit" or m.startswith("losskit.")]:
                del sys.modules[name]
            import pytest

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            for run in tests:
                code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                                    "--rootdir", str(ROOT), *run])
                if code != 0:
                    os._exit(1)
            os._exit(0 if _checks_pass(losses) else 1)
        except BaseException:
            os._exit(1)
    start = time.time()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return "survived" if os.waitstatus_to_exitcode(status) == 0 else "killed"
        if time.time() - start > timeout:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "killed (timeout)"
        time.sleep(0.05)


def _write(out: Path, rel: Path, tests: list[list[str]], report: list[Mutant]) -> int:
    killed = sum(m.status.startswith("killed") for m in report)
    summary = {"file": str(rel), "tests": tests, "mutants": len(report), "killed": killed,
               "score": round(killed / len(report), 4) if report else None,
               "results": [asdict(m) for m in report]}
    out.write_text(json.dumps(summary, indent=1))
    return killed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", type=Path)
    p.add_argument("--tests", help="pytest arguments (default: the family's tests)")
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--limit", type=int, default=0, help="run only the first N mutants")
    p.add_argument("--survivors-of", type=Path,
                   help="rerun only the mutants that survived in this earlier report "
                        "(matched by function, mutation and source line)")
    p.add_argument("--resume", type=Path,
                   help="an earlier (or interrupted) report of this file: its killed mutants "
                        "count as killed without a rerun (matched by function, mutation and "
                        "source line); survivors and mutants it lacks are run")
    p.add_argument("--out", type=Path, help="JSON report (default: mutation-<stem>.json)")
    args = p.parse_args(argv)
    path = args.file.resolve()
    rel = path.relative_to(ROOT / "src")
    source = path.read_text()
    tests = ([[re.sub(r"^'(.*)'$", r"\1", t) for t in args.tests.split()]] if args.tests
             else default_tests(path, source))
    import pytest  # noqa: F401  (imported once here, inherited by every forked child)
    import torch

    torch.set_num_threads(1)

    work = Path(tempfile.mkdtemp(prefix="losskit-mutants-"))
    src_copy = work / "src"
    shutil.copytree(ROOT / "src", src_copy, ignore=shutil.ignore_patterns("__pycache__"))
    losses = _registered_names(source)
    baseline = _run_child(src_copy, rel, source, tests, losses, args.timeout)
    if baseline != "survived":
        print(f"the unmutated code fails the selected tests ({baseline}); fix that first")
        return 2
    results = mutants_of(source)
    if args.survivors_of:
        old = json.loads(args.survivors_of.read_text())["results"]
        wanted = {(r["function"], r["description"], r.get("code", "")) for r in old
                  if r["status"] == "survived"}
        results = [(m, code) for m, code in results
                   if (m.function, m.description, m.code) in wanted]
    if args.limit:
        results = results[: args.limit]
    killed_before: set[tuple[str, str, str]] = set()
    if args.resume:
        killed_before = {(r["function"], r["description"], r.get("code", ""))
                         for r in json.loads(args.resume.read_text())["results"]
                         if r["status"].startswith("killed")}
    out = args.out or ROOT / f"mutation-{path.stem}.json"
    report: list[Mutant] = []
    for k, (mutant, mutated) in enumerate(results, 1):
        if (mutant.function, mutant.description, mutant.code) in killed_before:
            mutant.status = "killed (earlier run)"
            report.append(mutant)
            continue
        t = time.time()
        mutant.status = _run_child(src_copy, rel, mutated, tests, losses, args.timeout)
        mutant.seconds = round(time.time() - t, 2)
        report.append(mutant)
        print(f"[{k}/{len(results)}] {mutant.status:16s} {rel}:{mutant.line} "
              f"{mutant.function}: {mutant.description}", flush=True)
        _write(out, rel, tests, report)  # after every mutant: an interrupted run resumes
    (src_copy / rel).write_text(source)
    killed = _write(out, rel, tests, report)
    print(f"{rel}: {killed}/{len(report)} mutants killed "
          f"({100 * killed / max(len(report), 1):.1f}%); report in {out}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
