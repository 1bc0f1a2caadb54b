"""``check()``: the conformance suite for losses, built-in or the user's own.

The equivalent of scikit-learn's ``check_estimator`` for loss functions: a named,
selectable set of checks (values, gradients, optimum, reductions, batch invariance,
numerical stability, precision, a reference, and convergence on a synthetic problem
with a known answer) that reports which check failed and why, with numbers.
"""

from ._api import check, select_checks
from ._checks import CHECKS, LOW_PRECISION_TOL, Check
from ._report import CheckReport, CheckResult, LossCheckError
from ._subject import TASKS

__all__ = ["CHECKS", "LOW_PRECISION_TOL", "TASKS", "Check", "CheckReport", "CheckResult",
           "LossCheckError", "check", "select_checks"]
