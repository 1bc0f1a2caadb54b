"""Paired tests on per-fold scores and the loss–metric misalignment detector."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["TESTS", "misalignment", "paired_test"]

TESTS = {
    "corrected_t": "paired t-test with the Nadeau-Bengio correction for overlapping training "
                   "sets",
    "t": "paired t-test (scipy.stats.ttest_rel)",
    "wilcoxon": "Wilcoxon signed-rank test (scipy.stats.wilcoxon)",
}


def paired_test(a: Sequence[float], b: Sequence[float], *, test: str = "corrected_t",
                test_fraction: float = 0.2) -> float:
    """Two-sided p-value for "the per-fold scores ``a`` and ``b`` have the same mean".

    Cross-validation folds share most of their training data, so their scores are
    correlated and the plain paired t-test is overconfident. ``"corrected_t"`` inflates
    the variance by ``1 + n_test / n_train`` per fold (Nadeau & Bengio, Inference for the
    Generalization Error, Machine Learning 2003; Bouckaert & Frank, PAKDD 2004). With 5
    folds the Wilcoxon test can never go below p = 0.0625, so it is offered, not the default.
    """
    from scipy import stats

    d = np.asarray(a, float) - np.asarray(b, float)
    d = d[np.isfinite(d)]
    k = len(d)
    if k < 2:
        return float("nan")
    if test == "wilcoxon":
        if np.allclose(d, 0):
            return 1.0
        return float(stats.wilcoxon(d).pvalue)
    mean, var = d.mean(), d.var(ddof=1)
    if var <= 1e-24 * max(1.0, mean * mean):
        return 1.0 if abs(mean) <= 1e-12 else 0.0
    if test == "t":
        return float(stats.ttest_rel(np.asarray(a, float), np.asarray(b, float)).pvalue)
    if test != "corrected_t":
        raise ValueError(f"test must be one of {sorted(TESTS)}, got {test!r}")
    ratio = test_fraction / (1.0 - test_fraction)
    t = mean / math.sqrt((1.0 / k + ratio) * var)
    return float(2 * stats.t.sf(abs(t), df=k - 1))


def _tau(values: np.ndarray) -> float:
    """Kendall's tau of a sequence against time: +1 strictly rising, -1 strictly falling."""
    from scipy import stats

    if len(values) < 3 or np.ptp(values) == 0:
        return 0.0
    tau = stats.kendalltau(np.arange(len(values)), values).statistic
    return 0.0 if np.isnan(tau) else float(tau)


def misalignment(val_loss: np.ndarray, val_metric: np.ndarray, *, higher_is_better: bool,
                 min_points: int = 6, min_tail: float = 0.25, min_tau: float = 0.5,
                 min_worsening: float = 0.02, min_snr: float = 5.0) -> dict[str, Any] | None:
    """Detect "validation loss keeps falling while the validation metric gets worse".

    ``val_loss`` and ``val_metric`` are ``[folds, points]`` curves of the held-out folds.
    From the point where the fold-mean metric was best to the end (at least ``min_points``
    points and ``min_tail`` of the curve), the mean loss must fall (Kendall tau <=
    -``min_tau``) while the mean metric worsens (tau in the worse direction >= ``min_tau``)
    by at least ``min_worsening`` of its best value and ``min_snr`` times the curve's
    step-to-step noise, and the metric must end worse than at that point in at least two
    thirds of the folds. Noise fails the size or the consistency condition: the best
    point of a noisy curve is an extreme, but the drop from it is a few noise units.
    Returns the evidence as a dict, or None.
    """
    loss = np.asarray(val_loss, float)
    metric = np.asarray(val_metric, float)
    if loss.ndim == 1:
        loss, metric = loss[None], metric[None]
    sign = 1.0 if higher_is_better else -1.0
    good = sign * metric  # larger is better
    mean_good, mean_loss = good.mean(0), loss.mean(0)
    if not (np.all(np.isfinite(mean_good)) and np.all(np.isfinite(mean_loss))):
        return None
    best = int(np.argmax(mean_good))
    tail = slice(best, None)
    if len(mean_good) - best < max(min_points, min_tail * len(mean_good)):
        return None
    steps = np.diff(mean_good)
    noise = 1.4826 * float(np.median(np.abs(steps - np.median(steps)))) / math.sqrt(2)
    loss_tau, worse_tau = _tau(mean_loss[tail]), -_tau(mean_good[tail])
    drop = mean_good[best] - mean_good[-1]
    scale = max(abs(mean_good[best]), 1e-12)
    loss_fall = mean_loss[best] - mean_loss[-1]
    folds_worse = int(np.sum(good[:, -1] < good[:, best]))
    needed = math.ceil(2 * loss.shape[0] / 3)
    if (loss_tau <= -min_tau and worse_tau >= min_tau and loss_fall > 0
            and drop >= max(min_worsening * scale, min_snr * noise) and folds_worse >= needed):
        return {"from_point": best, "loss_tau": round(loss_tau, 3),
                "metric_tau": round(-sign * worse_tau, 3),
                "loss_start": float(mean_loss[best]), "loss_end": float(mean_loss[-1]),
                "metric_best": float(sign * mean_good[best]),
                "metric_end": float(sign * mean_good[-1]),
                "folds_worse": folds_worse, "folds": int(loss.shape[0])}
    return None
