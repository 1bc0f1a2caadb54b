"""The package passes ``mypy --strict`` with the project's configuration, and every loss's
``Literal`` option types say exactly what its own validation accepts."""

from __future__ import annotations

import inspect
import typing

import pytest

import losskit
from losskit._core.registry import _REGISTRY
from losskit._core.types import Reduction

from .test_nn_modules import needs_mypy, run_mypy

#: Modules whose definitions are being rewritten, exempt from the strict check (pyproject).
_REWRITING = ("losskit.functional.metric_learning",)


@needs_mypy
def test_package_passes_mypy_strict_with_the_project_configuration():
    # `mypy --strict src/losskit` as CI runs it: pyproject.toml names the exempt modules and
    # says why. Cold (torch's stubs analysed first) this takes about 30 s; warm about 1 s.
    result = run_mypy("--strict", "src/losskit")
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 0 and not errors, result.stdout + result.stderr


def _literal_options() -> list[tuple[str, str, tuple[str, ...]]]:
    """(loss, option, accepted values) for every Literal-typed option of a built-in loss."""
    out = []
    for name, info in sorted(_REGISTRY.items()):
        if not info.builtin or info.fn.__module__.startswith(_REWRITING):
            continue
        hints = typing.get_type_hints(info.fn)
        for option in inspect.signature(info.fn).parameters:
            hint = hints.get(option)
            if typing.get_origin(hint) is typing.Literal:
                out.append((name, option, typing.get_args(hint)))
    return out


OPTIONS = _literal_options()


def test_every_loss_types_reduction_and_its_string_options_as_literals():
    typed = {(name, option) for name, option, _ in OPTIONS}
    for name, info in _REGISTRY.items():
        if not info.builtin or info.fn.__module__.startswith(_REWRITING):
            continue
        for option, param in inspect.signature(info.fn).parameters.items():
            if isinstance(param.default, str):
                assert (name, option) in typed, f"{name}({option}=...) is typed as a plain str"
            if option == "reduction":
                assert typing.get_type_hints(info.fn)[option] == Reduction, name


@pytest.mark.parametrize(("name", "option", "values"), OPTIONS,
                         ids=[f"{n}-{o}" for n, o, _ in OPTIONS])
def test_literal_values_are_exactly_what_the_loss_accepts(name, option, values):
    info = _REGISTRY[name]
    args = info.example_inputs(4, 0)
    for value in values:
        # Accepted: the call may still refuse the example for another reason (activation
        # "none" wants probabilities, not the example's logits), never for this option.
        try:
            info.fn(*args, **{option: value})
        except losskit.LossInputError as exc:
            assert f"{option} must" not in str(exc), (value, str(exc))
    with pytest.raises(losskit.LossInputError, match=f"{option} must.*'not-an-option'"):
        info.fn(*args, **{option: "not-an-option"})
