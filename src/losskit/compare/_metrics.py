"""The metrics a comparison is judged by: the shared vocabulary's, plus threshold tuning.

The metric table itself (names, aliases, the tasks each applies to, the scorer from
scikit-learn, scikit-survival or torchmetrics) lives in :mod:`losskit.vocabulary`, the
one table ``recommend``, ``compare`` and the CLI share. Binary threshold metrics have
their threshold tuned on the training predictions (:func:`tune_threshold`), never on the
fold being scored.
"""

from __future__ import annotations

import numpy as np

from ..vocabulary import METRICS, Metric, resolve_metric

__all__ = ["METRICS", "Metric", "default_metric", "resolve_metric", "tune_threshold"]

_DEFAULTS = {"binary": "f1", "multiclass": "f1", "multilabel": "f1", "ordinal": "mae",
             "survival": "concordance", "ranking": "ndcg"}


def default_metric(task: str) -> str:
    """MAE for numbers (in the target's units), F1 for classes, the concordance index for
    survival times, NDCG@10 for rankings."""
    return _DEFAULTS.get(task, "mae")


def _counts(y: np.ndarray, scores: np.ndarray,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Confusion counts for every threshold between consecutive distinct scores."""
    order = np.argsort(-scores, kind="mergesort")
    s, t = scores[order], y[order].astype(float)
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(t)[distinct]
    fp = (distinct + 1) - tp
    P, N = t.sum(), len(t) - t.sum()
    # Predict positive for scores >= s[distinct]; put the cut halfway to the next score.
    nxt = np.r_[s[distinct[:-1] + 1], s[-1] - 1.0]
    thresholds = (s[distinct] + nxt) / 2
    return thresholds, tp, fp, P - tp, N - fp


def _score_counts(kind: str, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray,
                  tn: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "accuracy":
            out = (tp + tn) / (tp + fp + fn + tn)
        elif kind == "balanced_accuracy":
            out = 0.5 * (tp / (tp + fn) + tn / (tn + fp))
        elif kind == "jaccard":
            out = tp / (tp + fp + fn)
        elif kind == "mcc":
            out = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        else:  # f1
            out = 2 * tp / (2 * tp + fp + fn)
    scores: np.ndarray = np.nan_to_num(out, nan=0.0)
    return scores


def tune_threshold(metric: Metric, y_train: np.ndarray, proba_train: np.ndarray) -> float:
    """The probability threshold that maximises ``metric.tune_for`` on the training data."""
    if metric.tune_for is None or len(y_train) == 0:
        return 0.5
    thresholds, tp, fp, fn, tn = _counts(np.asarray(y_train), np.asarray(proba_train, float))
    values = _score_counts(metric.tune_for, tp, fp, fn, tn)
    return float(thresholds[int(np.argmax(values))])
