"""Every built-in loss passes ``losskit.check``, the same suite users run on their own losses.

A built-in that cannot meet a check says why in its ``LossInfo.expected_failures`` (the
check is then reported as skipped with that reason); the names are shared with
``tests/test_common.py`` so one entry covers both suites.
"""

from __future__ import annotations

import pytest

import losskit
from losskit.verify import CHECKS

#: expected_failures keys that only the common test suite reads.
COMMON_ONLY = {"weight", "empty_batch"}


@pytest.mark.parametrize("name", losskit.list_losses())
def test_builtin_loss_passes_check(name):
    report = losskit.check(name)
    assert report.passed, "\n" + str(report)
    assert len(report.results) == sum(c.default for c in CHECKS.values())


@pytest.mark.parametrize("name", losskit.list_losses())
def test_expected_failures_name_real_checks(name):
    # A misspelt key would silently skip nothing and run nothing.
    unknown = set(losskit.info(name).expected_failures) - set(CHECKS) - COMMON_ONLY
    assert not unknown, f"{name}: expected_failures names no check: {sorted(unknown)}"
