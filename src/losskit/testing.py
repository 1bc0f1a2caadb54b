"""Helpers for testing losses in a user's own test suite (pytest).

``assert_loss_ok`` runs the whole conformance suite and raises with every failure;
``parametrize_with_checks`` makes one pytest case per (loss, check), in the spirit of
scikit-learn's ``parametrize_with_checks``::

    from losskit.testing import parametrize_with_checks

    @parametrize_with_checks([my_loss, MyLossModule()], task="regression")
    def test_my_losses(loss, check):
        check(loss)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .verify import CheckReport, check
from .verify._api import select_checks
from .verify._subject import _label

__all__ = ["LossCheck", "assert_loss_ok", "parametrize_with_checks"]


def assert_loss_ok(loss: Any, **kwargs: Any) -> CheckReport:
    """Run :func:`losskit.check` and raise ``LossCheckError`` (an AssertionError) on failure.

    Takes the same keyword arguments as :func:`losskit.check`; returns the report.
    """
    report = check(loss, **kwargs)
    report.raise_for_failures()
    return report


class LossCheck:
    """One named check, callable on a loss: fails the test on failure, skips it on skip."""

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.options = dict(options)

    def __call__(self, loss: Any) -> CheckReport:
        report = check(loss, checks=[self.name], **self.options)
        result = report[self.name]
        if result.status == "skipped":
            import pytest

            pytest.skip(f"{self.name}: {result.detail}")
        report.raise_for_failures()
        return report

    def __repr__(self) -> str:
        return self.name


def _loss_id(loss: Any) -> str:
    return loss if isinstance(loss, str) else _label(loss)


def parametrize_with_checks(
    losses: Iterable[Any],
    *,
    checks: Iterable[str] | None = None,
    ids: Callable[[Any], str] | None = None,
    **options: Any,
) -> Any:
    """A ``pytest.mark.parametrize("loss, check", ...)`` with one case per (loss, check).

    ``options`` (``task``, ``example``, ``reference``, ``expected_failures``) are passed to
    :func:`losskit.check` for every loss. Test ids read ``<loss>-<check>``.
    """
    import pytest

    names = select_checks(checks)
    params = []
    for loss in losses:
        label = ids(loss) if ids is not None else _loss_id(loss)
        for name in names:
            params.append(pytest.param(loss, LossCheck(name, options), id=f"{label}-{name}"))
    return pytest.mark.parametrize("loss, check", params)
