"""``losskit.check``: run the conformance suite on one loss and return a :class:`CheckReport`."""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch

from .._core.validate import LossInputError
from ._checks import CHECKS, Failed, Skipped
from ._report import CheckReport, CheckResult, Status
from ._subject import Args, Subject, build_subject
from ._transforms import gist

__all__ = ["check", "run_check", "select_checks"]


def select_checks(checks: Iterable[str] | str | None) -> list[str]:
    """Check names to run, in suite order; ``None`` means every default check."""
    if checks is None:
        return [name for name, c in CHECKS.items() if c.default]
    names = [c.strip() for c in checks.split(",")] if isinstance(checks, str) else list(checks)
    for name in names:
        if name not in CHECKS:
            near = difflib.get_close_matches(name, list(CHECKS), n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise LossInputError(f"unknown check {name!r}{hint} (checks: {', '.join(CHECKS)})")
    return [name for name in CHECKS if name in names]


def run_check(subject: Subject, name: str) -> CheckResult:
    """Run one check on a subject; the loss's own exceptions become a failed result."""
    spec = CHECKS[name]
    if name in subject.expected_failures:
        return CheckResult(name, "skipped", f"expected failure: {subject.expected_failures[name]}",
                           spec.why)
    start = time.perf_counter()
    data: dict[str, Any] = {}
    status: Status
    try:
        outcome = spec.run(subject)
        if isinstance(outcome, tuple):
            outcome, data = outcome
        status, detail = "passed", str(outcome)
    except Skipped as exc:
        status, detail = "skipped", str(exc)
    except Failed as exc:
        status, detail = "failed", str(exc)
    except Exception as exc:
        status, detail = "failed", f"raised {type(exc).__name__}: {gist(str(exc))}"
    return CheckResult(name, status, detail, spec.why, time.perf_counter() - start, data)


def check(
    loss: Any,
    *,
    task: str | None = None,
    example: Args | Callable[[int, int], Args] | None = None,
    reference: Callable[..., torch.Tensor] | None = None,
    checks: Iterable[str] | str | None = None,
    expected_failures: Mapping[str, str] | None = None,
    grad_args: Sequence[int] | None = None,
) -> CheckReport:
    """Run the conformance suite on a loss: losskit's ``check_estimator``.

    Args:
        loss: a registered name (``"huber"``), a registered function, a ``losskit.nn``
            module, or any callable ``(input, target) -> tensor`` (function or
            ``nn.Module``). A ``reduction`` argument (or a module's ``reduction``
            attribute) is detected and exercised.
        task: makes inputs for an unregistered loss: ``"regression"``, ``"binary"``,
            ``"multilabel"``, ``"multiclass"``, ``"segmentation"``, ``"distribution"`` or
            ``"embedding"`` (logits for the classification tasks, class dimension 1).
        example: the loss's positional arguments, as a tuple of tensors or a factory
            ``(n, seed) -> tuple``; overrides ``task`` and the registry.
        reference: an independent implementation called like the loss; values and
            gradients must agree (float64).
        checks: names to run (a list or ``"a,b"``); default: all but ``compile`` (slow)
            and ``empty_batch`` (a mean over an empty batch is NaN in torch's own losses;
            losskit's give 0: name it to hold a loss to that).
        expected_failures: ``{check: reason}``; those checks are skipped with the reason
            (added to any the loss's ``LossInfo`` declares).
        grad_args: positions of the arguments that receive gradients (default: the
            registry's for a registered loss, else ``(0,)``, the input): name a predicted
            variance or a second input, ``grad_args=(0, 2)``, to have its gradient checked.

    Returns:
        A :class:`CheckReport`; ``report.passed``, ``report.failures``,
        ``report.raise_for_failures()``, ``report.to_json()``.

    Example:
        >>> import losskit, torch
        >>> report = losskit.check(lambda x, y: ((x - y) ** 2).mean(), task="regression",
        ...                        checks=["gradcheck", "optimum"])
        >>> report.passed
        True
    """
    names = select_checks(checks)
    if expected_failures:
        select_checks(list(expected_failures))  # typo-check the names
    subject = build_subject(loss, task=task, example=example, reference=reference,
                            expected_failures=expected_failures,
                            grad_args=None if grad_args is None else tuple(grad_args))
    # The suite runs on tensors of a few hundred elements, where intra-op threads only add
    # synchronization (and spin for seconds on a busy machine); one thread, then restore.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results = [run_check(subject, name) for name in names]
    finally:
        torch.set_num_threads(threads)
    return CheckReport(loss=subject.name, task=subject.task, results=results,
                       notes=list(subject.notes))
