"""The generated nn.Module classes: in sync with the registry, real signatures, attributes;
and the typed surface as a type checker sees it."""

from __future__ import annotations

import importlib.util
import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import losskit
import losskit.nn as lnn
from losskit import _modules
from losskit._core.registry import _REGISTRY
from losskit._nn_base import Loss, class_name

ROOT = Path(__file__).resolve().parents[1]
BUILTINS = sorted(n for n, i in _REGISTRY.items() if i.builtin)


def _generator():
    spec = importlib.util.spec_from_file_location("generate_modules",
                                                  ROOT / "scripts" / "generate_modules.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_modules_match_the_generator():
    generated = _generator().generate()
    committed = (ROOT / "src" / "losskit" / "_modules.py").read_text()
    assert committed == generated, (
        "src/losskit/_modules.py is stale: run `python scripts/generate_modules.py`")


@pytest.mark.parametrize("name", BUILTINS)
def test_class_per_loss_with_signature_attributes_and_docs(name):
    info = losskit.info(name)
    cls = getattr(lnn, class_name(name))
    assert cls is getattr(_modules, class_name(name)) and cls.info is info
    assert losskit.nn.module_class(name) is cls
    params = inspect.signature(cls.__init__).parameters
    expected = dict(info.hyperparameters)
    if info.accepts("reduction"):
        expected["reduction"] = info.signature.parameters["reduction"].default
    assert [p for p in params if p != "self"] == list(expected)
    for key, default in expected.items():
        assert params[key].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[key].default == default
    module = cls()
    for key, default in expected.items():
        value = getattr(module, key)
        assert value is default or value == default, key
    doc = inspect.getdoc(cls)
    assert "Shape:" in doc and f"losskit.functional.{info.fn.__name__}" in doc
    assert repr(module) == f"{cls.__name__}()"
    forward = list(inspect.signature(cls.forward).parameters)
    assert forward[1:len(info.data_arguments) + 1] == list(info.data_arguments)


def test_module_computes_what_the_function_computes():
    x, y = torch.randn(5, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    w = torch.rand(5, dtype=torch.float64)
    loss = lnn.HuberLoss(delta=0.3, reduction="sum")
    assert torch.equal(loss(x, y, weight=w), losskit.F.huber(x, y, delta=0.3, reduction="sum",
                                                             weight=w))
    loss.delta = 2.0  # attributes are read at every call
    assert torch.equal(loss(x, y), losskit.F.huber(x, y, delta=2.0, reduction="sum"))
    assert repr(loss) == "HuberLoss(delta=2.0, reduction='sum')"


def test_get_returns_the_generated_class_with_attributes():
    assert losskit.get("huber").delta == 1.0
    assert type(losskit.get("huber", delta=0.5)) is lnn.HuberLoss
    assert losskit.get("bce").pos_weight is None  # alias
    assert losskit.get("sigmoid_focal").gamma == 2.0


def test_tensors_are_buffers_and_parameters_are_parameters():
    w = torch.tensor([1.0, 2.0, 3.0])
    ce = lnn.CrossEntropyLoss(class_weight=w)
    assert dict(ce.named_buffers())["class_weight"] is w
    assert ce.to(torch.float64).class_weight.dtype == torch.float64
    assert "class_weight=<tensor [3]>" in repr(ce)
    empty = lnn.CrossEntropyLoss()
    empty.class_weight = torch.ones(3)  # a None tensor slot is a buffer: assignment registers it
    assert "class_weight" in dict(empty.named_buffers())
    tau = torch.nn.Parameter(torch.tensor(0.5))
    nt = lnn.NTXentLoss(temperature=tau)
    assert list(nt.parameters()) == [tau]


def test_bad_hyperparameters_and_reduction_are_refused_at_construction():
    with pytest.raises(TypeError):
        lnn.HuberLoss(delat=0.5)  # the real signature refuses it
    with pytest.raises(losskit.LossInputError, match="no hyperparameter 'delat'"):
        losskit.get("huber", delat=0.5)
    with pytest.raises(losskit.LossInputError, match="reduction"):
        lnn.HuberLoss(reduction="avg")


def test_user_loss_gets_a_module_class_on_first_use():
    from losskit._core.registry import register_loss

    def make(n, seed):
        g = torch.Generator().manual_seed(seed)
        return (torch.randn(n, generator=g, dtype=torch.float64),
                torch.randn(n, generator=g, dtype=torch.float64))

    @register_loss(family="regression", tasks=["regression"], input_kind="values",
                   target_kind="values", summary="Cubed absolute error.", formula="|x-y|^3",
                   gradient="3 (x-y)|x-y|", when_to_use="tests", pitfalls="none",
                   example_inputs=make, name="cubic_module_test", replace=True)
    def cubic(input: torch.Tensor, target: torch.Tensor, *, scale: float = 2.0,
              reduction: str = "mean") -> torch.Tensor:
        r = scale * (input - target).abs() ** 3
        return r.mean() if reduction == "mean" else r.sum() if reduction == "sum" else r

    try:
        module = losskit.get("cubic_module_test", scale=3.0)
        assert isinstance(module, Loss) and module.scale == 3.0
        assert "scale" in type(module).__doc__
        x, y = make(4, 0)
        assert torch.equal(module(x, y), cubic(x, y, scale=3.0))
    finally:
        _REGISTRY.pop("cubic_module_test", None)


# -- what a type checker sees ------------------------------------------------------------

#: True when mypy cannot run here; the type-checking tests are skipped then.
MYPY_MISSING = importlib.util.find_spec("mypy") is None
needs_mypy = pytest.mark.skipif(MYPY_MISSING,
                                reason="mypy is not installed (pip install 'losskit[test]')")


def run_mypy(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``python -m mypy ARGS`` from the repository root, so the project's configuration
    (pyproject.toml) applies, with the package importable and one cache for every call
    (the first run analyses torch's stubs; later runs reuse them)."""
    # Found through PYTHONPATH the package would count as installed, whose errors mypy
    # does not report: MYPYPATH makes it the source tree it is.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MYPYPATH"] = str(ROOT / "src")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--cache-dir",
         str(ROOT / ".mypy_cache"), *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)


USER_SCRIPT = """
import torch
import losskit
import losskit.functional as F
from losskit._core import Reduction

x, y = torch.zeros(3), torch.ones(3)
logits, labels = torch.zeros(2, 3, 4), torch.zeros(2, 4, dtype=torch.long)
ok: torch.Tensor = F.huber(x, y, delta=0.5)
ok_literals: torch.Tensor = F.dice(logits, labels, activation="sigmoid", average="micro",
                                   reduction="none")
module = losskit.nn.HuberLoss(delta=0.5, reduction="sum")
delta: float | torch.Tensor = module.delta
reduction: Reduction = module.reduction
dice_module = losskit.nn.DiceLoss(activation="none", average="macro")
rec = losskit.recommend([1.0, 2.0, 30.0])
name: str = rec.choices[0].name
report = losskit.check("huber")
passed: bool = report.passed
reveal_type(losskit.recommend([1.0, 2.0, 30.0]))
reveal_type(losskit.profile([1.0, 2.0, 30.0]))
reveal_type(losskit.compare([[0.0], [1.0]], [1.0, 2.0]))
reveal_type(losskit.check("huber"))
reveal_type(rec.to_dict()["choices"][0]["params"])
reveal_type(losskit.compare([[0.0], [1.0]], [1.0, 2.0]).results[0].mean)
reveal_type(report.results[0].status)
bad = F.huber(x, y, delat=0.5)
bad_module = losskit.nn.HuberLoss(delat=0.5)
bad_reduction = losskit.nn.MSELoss(reduction="avg")
bad_fn_reduction = F.mse(x, y, reduction="average")
bad_activation = losskit.nn.DiceLoss(activation="softmx")
bad_fn_activation = F.dice(logits, labels, activation="sigmod")
"""

REVEALED = [
    "losskit.advise._recommend.Recommendation",
    "losskit.advise._profile.TargetProfile",
    "losskit.compare._compare.Comparison",
    "losskit.verify._report.CheckReport",
    "dict[str, Any]",
    "float",
    "Literal['passed'] | Literal['failed'] | Literal['skipped']",
]


@needs_mypy
def test_mypy_flags_misspelt_keywords_and_options_and_accepts_the_correct_calls(tmp_path):
    script = tmp_path / "user.py"
    script.write_text(textwrap.dedent(USER_SCRIPT))
    # The same options as the package's own check, so the two share mypy's cache; only
    # this script's errors count here (tests/test_typing.py checks the package). By file
    # name: an unchanged module's errors come from the cache under its first path.
    result = run_mypy("--strict", str(script))
    errors = [line for line in result.stdout.splitlines()
              if Path(line.split(":", 1)[0]).name == script.name and ": error:" in line]
    lines = {int(e.split(":")[1]) for e in errors}
    source = script.read_text().splitlines()
    flagged = {source[n - 1].split(" =")[0] for n in lines}
    assert flagged == {"bad", "bad_module", "bad_reduction", "bad_fn_reduction",
                       "bad_activation", "bad_fn_activation"}, result.stdout
    assert any('"delat"' in e for e in errors), result.stdout
    assert any("'softmx'" in e and "Literal['softmax', 'sigmoid', 'none']" in e
               for e in errors), result.stdout
    # The entry points' results are their classes for a type checker, not Any.
    revealed = [line.split('Revealed type is "', 1)[1].rstrip('"').replace("builtins.", "")
                for line in result.stdout.splitlines() if "Revealed type is" in line]
    assert revealed == REVEALED, result.stdout
