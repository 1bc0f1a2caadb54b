"""The metrics a comparison is judged by, all computed with scikit-learn's implementations.

A :class:`Metric` says which way is better and what it needs from the model: real
``values`` (regression), hard ``labels`` (after a decision threshold on binary tasks)
or class ``proba``-bilities. Binary threshold metrics have their threshold tuned on the
training predictions (:func:`tune_threshold`), never on the fold being scored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._core.validate import LossInputError

__all__ = ["METRICS", "Metric", "default_metric", "resolve_metric", "tune_threshold"]


@dataclass(frozen=True)
class Metric:
    """A scoring rule: ``fn(y_true, prediction)`` where the prediction is of ``needs`` kind."""

    name: str
    higher_is_better: bool
    needs: str  # "values" | "labels" | "proba"
    tasks: tuple[str, ...]
    fn: Callable[..., float]
    #: For binary label metrics: the quantity whose best threshold is used. Recall and
    #: precision alone are maximised by degenerate thresholds (all positive / none), so
    #: their operating point is the F1-optimal one.
    tune_for: str | None = None
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name

    def __call__(self, y_true: np.ndarray, prediction: np.ndarray, n_classes: int = 2) -> float:
        """The score; ``n_classes > 2`` selects macro averages for label metrics."""
        if self.needs == "labels":
            return float(self.fn(y_true, prediction, n_classes))
        return float(self.fn(y_true, prediction))


def _sk():
    import sklearn.metrics as skm

    return skm


def _label_metric(name: str, sk_name: str, tune_for: str | None, label: str) -> Metric:
    def fn(y_true, labels, n_classes):
        f = getattr(_sk(), sk_name)
        if n_classes <= 2:
            return f(y_true, labels, average="binary", zero_division=0)
        return f(y_true, labels, average="macro", labels=np.arange(n_classes), zero_division=0)

    return Metric(name, True, "labels", ("binary", "multiclass"), fn, tune_for, label)


def _roc_auc(y_true, proba):
    if proba.ndim == 1:
        return _sk().roc_auc_score(y_true, proba)
    return _sk().roc_auc_score(y_true, proba, multi_class="ovr", labels=np.arange(proba.shape[1]))


def _average_precision(y_true, proba):
    if proba.ndim == 1:
        return _sk().average_precision_score(y_true, proba)
    return _sk().average_precision_score(np.eye(proba.shape[1])[y_true], proba, average="macro")


def _log_loss(y_true, proba):
    if proba.ndim == 1:
        proba = np.stack([1 - proba, proba], 1)
    return _sk().log_loss(y_true, proba, labels=np.arange(proba.shape[1]))


def _rmse(y, p):
    return float(np.sqrt(_sk().mean_squared_error(y, p)))


_CLASSIFICATION = {
    "accuracy": Metric("accuracy", True, "labels", ("binary", "multiclass"),
                       lambda y, p, c: _sk().accuracy_score(y, p), "accuracy", "accuracy"),
    "balanced_accuracy": Metric("balanced_accuracy", True, "labels", ("binary", "multiclass"),
                                lambda y, p, c: _sk().balanced_accuracy_score(y, p),
                                "balanced_accuracy", "balanced accuracy"),
    "f1": _label_metric("f1", "f1_score", "f1", "F1"),
    "recall": _label_metric("recall", "recall_score", "f1", "recall"),
    "precision": _label_metric("precision", "precision_score", "f1", "precision"),
    "jaccard": _label_metric("jaccard", "jaccard_score", "jaccard", "IoU (Jaccard)"),
    "mcc": Metric("mcc", True, "labels", ("binary", "multiclass"),
                  lambda y, p, c: _sk().matthews_corrcoef(y, p), "mcc", "MCC"),
    "roc_auc": Metric("roc_auc", True, "proba", ("binary", "multiclass"), _roc_auc,
                      label="ROC AUC"),
    "average_precision": Metric("average_precision", True, "proba", ("binary", "multiclass"),
                                _average_precision, label="average precision"),
    "log_loss": Metric("log_loss", False, "proba", ("binary", "multiclass"), _log_loss,
                       label="log loss"),
}
_CLASSIFICATION["dice"] = Metric("dice", True, "labels", ("binary", "multiclass"),
                                 _CLASSIFICATION["f1"].fn, "f1", "Dice")

_REGRESSION = {
    "mae": Metric("mae", False, "values", ("regression",),
                  lambda y, p: _sk().mean_absolute_error(y, p), label="MAE"),
    "mse": Metric("mse", False, "values", ("regression",),
                  lambda y, p: _sk().mean_squared_error(y, p), label="MSE"),
    "rmse": Metric("rmse", False, "values", ("regression",), _rmse, label="RMSE"),
    "medae": Metric("medae", False, "values", ("regression",),
                    lambda y, p: _sk().median_absolute_error(y, p), label="median abs. error"),
    "mape": Metric("mape", False, "values", ("regression",),
                   lambda y, p: _sk().mean_absolute_percentage_error(y, p), label="MAPE"),
    "r2": Metric("r2", True, "values", ("regression",), lambda y, p: _sk().r2_score(y, p),
                 label="R²"),
}

METRICS: dict[str, Metric] = {**_REGRESSION, **_CLASSIFICATION}

_ALIASES = {"iou": "jaccard", "auc": "roc_auc", "roc": "roc_auc", "pr_auc": "average_precision",
            "ap": "average_precision", "logloss": "log_loss", "cross_entropy": "log_loss",
            "f1_score": "f1", "acc": "accuracy", "l1": "mae", "mean_absolute_error": "mae",
            "mean_squared_error": "mse", "l2": "mse", "median_absolute_error": "medae",
            "sensitivity": "recall", "tpr": "recall", "ppv": "precision"}

_PINBALL = re.compile(r"^(?:pinball|quantile|mean_pinball_loss)(?:[@:_=]?(0?\.\d+))?$")


def pinball_metric(alpha: float) -> Metric:
    return Metric(f"pinball@{alpha:g}", False, "values", ("regression",),
                  lambda y, p: _sk().mean_pinball_loss(y, p, alpha=alpha),
                  label=f"pinball loss (q={alpha:g})")


def resolve_metric(name: str | Metric, task: str) -> Metric:
    """A :class:`Metric` from a name such as ``"f1"``, ``"iou"`` or ``"pinball@0.9"``."""
    if isinstance(name, Metric):
        return name
    key = str(name).strip().lower().replace("-", "_")
    match = _PINBALL.match(key)
    if match:
        metric = pinball_metric(float(match.group(1) or 0.5))
    else:
        key = _ALIASES.get(key, key)
        if key not in METRICS:
            known = sorted([*METRICS, "pinball@Q"])
            raise LossInputError(f"unknown metric {name!r}; known: {', '.join(known)}")
        metric = METRICS[key]
    if task not in metric.tasks:
        usable = sorted(k for k, m in METRICS.items() if task in m.tasks)
        raise LossInputError(f"metric {metric.name!r} does not apply to a {task} task; "
                             f"use one of {usable}")
    return metric


def default_metric(task: str) -> str:
    """MAE for regression (in the target's units), F1 for classification."""
    return "mae" if task == "regression" else "f1"


def _counts(y: np.ndarray, scores: np.ndarray):
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


def _score_counts(kind: str, tp, fp, fn, tn):
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
    return np.nan_to_num(out, nan=0.0)


def tune_threshold(metric: Metric, y_train: np.ndarray, proba_train: np.ndarray) -> float:
    """The probability threshold that maximises ``metric.tune_for`` on the training data."""
    if metric.tune_for is None or len(y_train) == 0:
        return 0.5
    thresholds, tp, fp, fn, tn = _counts(np.asarray(y_train), np.asarray(proba_train, float))
    values = _score_counts(metric.tune_for, tp, fp, fn, tn)
    return float(thresholds[int(np.argmax(values))])
