"""``profile(y, X)``: what kind of target this is, and the measured facts a loss choice rests on.

Every number the advisor cites comes from here. Floats are rounded to four significant
digits once, at the source, so the text of a reason and the profile show the same value.
Missing and non-finite values are counted and reported, never silently dropped: the
statistics are computed on the finite values and the profile says how many were left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._core.validate import LossInputError

__all__ = ["TASKS", "TargetProfile", "profile"]

#: Task kinds the profiler infers, and the ones only a declaration can tell.
TASKS = {
    "binary": "two classes",
    "multiclass": "one of K > 2 classes per sample",
    "multilabel": "any subset of K labels per sample (indicator matrix [N, K])",
    "ordinal": "ordered levels (declare it: integers alone do not say the order matters)",
    "count": "non-negative integer counts",
    "continuous": "real-valued regression target",
    "proportion": "real values in [0, 1] (rates, shares, fractional labels)",
    "soft_labels": "a probability distribution over K classes per sample ([N, K], rows sum to 1)",
    "segmentation": "a class label per pixel ([N, H, W] or [N, D, H, W])",
    "sequence": "token sequences (ragged lists or a padded [N, T] integer matrix)",
    # declared only: the target alone cannot reveal these
    "metric_learning": "identity labels for embedding training (pairs, triplets, contrastive)",
    "ranking": "relevance scores to be ordered",
    "reconstruction": "autoencoder / VAE: the target is the input itself",
    "detection": "bounding boxes and their classes",
    "reinforcement": "returns or rewards of a policy",
    "energy": "class labels for an energy-based model",
}

#: Other spellings of a task (the compare command says "regression"); "classification"
#: keeps the inferred binary / multiclass split.
TASK_ALIASES = {
    "regression": "continuous", "real": "continuous", "forecasting": "continuous",
    "counts": "count", "poisson": "count",
    "multi_label": "multilabel", "multilabel_classification": "multilabel",
    "soft": "soft_labels", "probabilities": "soft_labels", "distillation": "soft_labels",
    "bounded": "proportion", "rate": "proportion",
    "masks": "segmentation", "tokens": "sequence", "language_modeling": "sequence",
    "embedding": "metric_learning", "autoencoder": "reconstruction", "vae": "reconstruction",
    "boxes": "detection", "rl": "reinforcement", "classification": "classification",
}

_CLASSIFICATION = ("binary", "multiclass", "ordinal", "metric_learning", "energy")
_NUMERIC = ("continuous", "count", "proportion", "ranking", "reinforcement", "reconstruction")

# Iglewicz & Hoaglin: a robust z-score 0.6745 (y - median) / MAD above 3.5 flags an outlier.
_OUTLIER_Z = 3.5
_MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its sigma


def _r(x: float, digits: int = 4) -> float:
    """Round to ``digits`` significant digits (the profile's single rounding point)."""
    x = float(x)
    if not math.isfinite(x) or x == 0.0:
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def _label(v: Any) -> Any:
    """A class label as a JSON-friendly scalar."""
    if isinstance(v, (np.bool_, bool)):
        return int(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return int(v) if float(v).is_integer() else float(v)
    return str(v) if not isinstance(v, (int, float)) else v


@dataclass
class TargetProfile:
    """The task kind, the rule that decided it, and the measured facts (``facts``).

    Facts are also readable as attributes: ``profile(y).outlier_fraction``.
    """

    task: str
    task_rule: str
    task_declared: bool
    facts: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        facts = self.__dict__.get("facts", {})
        if name in facts:
            return facts[name]
        raise AttributeError(f"TargetProfile has no fact {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict: task, the rule that decided it, and every fact."""
        return {"task": self.task, "task_rule": self.task_rule,
                "task_declared": self.task_declared, **self.facts}

    def __str__(self) -> str:
        lines = [f"task: {self.task} ({self.task_rule})"]
        lines += [f"  {k}: {v}" for k, v in self.facts.items()]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Input normalisation


def _as_array(y: Any) -> tuple[Any, list[str] | None]:
    """numpy array (or list of 1-D arrays for ragged sequences) and column names if any."""
    names = None
    try:
        import torch

        if isinstance(y, torch.Tensor):
            return y.detach().cpu().numpy(), None
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if hasattr(y, "to_numpy") and hasattr(y, "columns"):  # DataFrame
        names = [str(c) for c in y.columns]
        if len(names) == 1:
            return _series_values(y.iloc[:, 0]), names
        return y.to_numpy(), names
    if hasattr(y, "to_numpy"):  # Series
        return _series_values(y), None
    if isinstance(y, np.ndarray):
        return y, None
    if isinstance(y, (list, tuple)):
        if y and all(isinstance(r, (list, tuple, np.ndarray)) for r in y):
            lengths = {len(r) for r in y}
            if len(lengths) > 1:
                return [np.asarray(r) for r in y], None
        return np.asarray(y, dtype=object if _has_none(y) else None), None
    return np.asarray(y), None


def _has_none(seq: Any) -> bool:
    return any(v is None for v in seq) if seq and not isinstance(seq[0], (list, tuple)) else False


def _series_values(s: Any) -> np.ndarray:
    import pandas as pd

    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.astype(object).where(s.notna(), None).to_numpy()
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype=float, na_value=np.nan) if s.isna().any() else s.to_numpy()
    return s.astype(object).where(s.notna(), None).to_numpy()


def _split_missing(a: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """(finite values, missing facts). Object arrays: None/NaN are missing; numbers coerced."""
    facts: dict[str, Any] = {}
    if a.dtype == object:
        flat = a.ravel()
        missing = np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in flat])
        values = flat[~missing]
        try:
            numeric = values.astype(float)
            if all(isinstance(v, (int, float, np.number, bool, np.bool_)) for v in values):
                values = numeric
        except (TypeError, ValueError):
            pass
        n_missing, n_nonfinite = int(missing.sum()), 0
        if values.dtype != object:
            bad = ~np.isfinite(values)
            n_nonfinite, values = int(bad.sum()), values[~bad]
        facts.update(n_missing=n_missing, n_nonfinite=n_nonfinite)
        return values, facts
    if a.dtype.kind == "f":
        nan = np.isnan(a)
        inf = np.isinf(a)
        facts.update(n_missing=int(nan.sum()), n_nonfinite=int(inf.sum()))
        return a, facts
    if a.dtype.kind in "US":
        facts.update(n_missing=0, n_nonfinite=0)
        return a.ravel().astype(object), facts
    facts.update(n_missing=0, n_nonfinite=0)
    return a, facts


# ---------------------------------------------------------------------------------------
# Statistics (numpy only: scipy and scikit-learn are optional)


def _moments(v: np.ndarray) -> tuple[float, float]:
    """(skewness, excess kurtosis), population estimates as scipy.stats.skew/kurtosis."""
    d = v - v.mean()
    m2 = float(np.mean(d ** 2))
    if m2 <= 0:
        return 0.0, 0.0
    return float(np.mean(d ** 3) / m2 ** 1.5), float(np.mean(d ** 4) / m2 ** 2 - 3.0)


def _robust_scale(v: np.ndarray) -> tuple[float, float]:
    """(median, sigma from the MAD); falls back to the IQR, then the mean absolute deviation
    when more than half the values are equal (zero-inflated data has MAD = 0)."""
    med = float(np.median(v))
    sigma = _MAD_TO_SIGMA * float(np.median(np.abs(v - med)))
    if sigma == 0:
        q25, q75 = np.percentile(v, [25, 75])
        sigma = float(q75 - q25) / 1.349
    if sigma == 0:
        sigma = 1.2533 * float(np.mean(np.abs(v - med)))
    return med, sigma


def _outlier_fraction(v: np.ndarray, center: float, sigma: float) -> float:
    if sigma == 0:
        return 0.0
    return float(np.mean(np.abs(v - center) / sigma > _OUTLIER_Z))


def _ranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="mergesort")
    r = np.empty(len(v))
    r[order] = np.arange(len(v))
    return r


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def _design(X: Any, n: int) -> np.ndarray | None:
    """Features as a finite float matrix [n, p] (standardized), or None if unusable."""
    if X is None:
        return None
    if hasattr(X, "to_numpy"):
        import pandas as pd

        X = pd.get_dummies(X, dtype=float) if hasattr(X, "columns") else X
        X = X.to_numpy(dtype=float)
    else:
        try:
            import torch

            if isinstance(X, torch.Tensor):
                X = X.detach().cpu().numpy()
        except ImportError:  # pragma: no cover
            pass
        X = np.asarray(X, dtype=float)
    X = X.reshape(len(X), -1) if X.ndim != 2 else X
    if len(X) != n:
        raise LossInputError(f"X has {len(X)} rows but y has {n}; they must match")
    keep = np.isfinite(X).all(axis=0)
    X = X[:, keep]
    if X.shape[1] == 0:
        return None
    std = X.std(axis=0)
    X = (X[:, std > 0] - X.mean(axis=0)[std > 0]) / std[std > 0]
    return X if X.shape[1] else None


def _robust_linear_fit(X: np.ndarray, y: np.ndarray, iterations: int = 30) -> np.ndarray:
    """Residuals of a Huber-loss linear fit by iteratively reweighted least squares.

    Starts from least squares, then down-weights points beyond 1.345 robust sigmas of the
    current residuals (Huber's 95%-efficiency constant). A few thousand rows suffice.
    """
    A = np.column_stack([np.ones(len(X)), X])
    w = np.ones(len(y))
    ridge = 1e-6 * np.eye(A.shape[1])
    for _ in range(iterations):
        Aw = A * w[:, None]
        coef = np.linalg.solve(A.T @ Aw + ridge, Aw.T @ y)
        r = y - A @ coef
        _, s = _robust_scale(r)
        if s == 0:
            break
        w_new = np.minimum(1.0, 1.345 * s / np.maximum(np.abs(r), 1e-12))
        if np.max(np.abs(w_new - w)) < 1e-4:
            break
        w = w_new
    return y - A @ coef


def _logistic_proba(X: np.ndarray, codes: np.ndarray, k: int, X_new: np.ndarray) -> np.ndarray:
    """One-vs-rest ridge logistic regressions fitted by Newton's method; rows sum to 1."""
    A = np.column_stack([np.ones(len(X)), X])
    B = np.column_stack([np.ones(len(X_new)), X_new])
    ridge = 1e-2 * np.eye(A.shape[1])
    ridge[0, 0] = 0.0
    out = np.empty((len(X_new), k))
    for j in range(k):
        t = (codes == j).astype(float)
        w = np.zeros(A.shape[1])
        for _ in range(25):
            p = 0.5 * (1 + np.tanh(0.5 * (A @ w)))  # a sigmoid that cannot overflow
            grad = A.T @ (p - t) + ridge @ w
            hess = (A * (p * (1 - p) + 1e-9)[:, None]).T @ A + ridge
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.max(np.abs(step)) < 1e-6:
                break
        out[:, j] = 0.5 * (1 + np.tanh(0.5 * (B @ w)))
    if k == 2:
        out[:, 0] = 1 - out[:, 1]
    return out / out.sum(axis=1, keepdims=True)


def _suspected_label_noise(X: np.ndarray, labels: np.ndarray) -> float | None:
    """Confident-learning estimate of the share of wrong labels (Northcutt et al., 2021).

    Out-of-fold probabilities come from a linear model (3 folds). A sample labelled i is
    suspect when, for some other class j, p_j reaches the average p_j of the samples
    labelled j. A weak model over-estimates noise on hard problems; None when a class has
    fewer than 10 samples.
    """
    rng = np.random.default_rng(0)
    idx = rng.choice(len(labels), size=min(len(labels), 4000), replace=False)
    _, codes, counts = np.unique([str(v) for v in labels[idx]], return_inverse=True,
                                 return_counts=True)
    if counts.min() < 10:
        return None
    k = len(counts)
    X = X[idx]
    folds = np.arange(len(idx)) % 3
    proba = np.empty((len(idx), k))
    for f in range(3):
        train, test = folds != f, folds == f
        proba[test] = _logistic_proba(X[train], codes[train], k, X[test])
    thresholds = np.array([proba[codes == j, j].mean() if np.any(codes == j) else 1.0
                           for j in range(k)])
    above = proba >= thresholds
    above[np.arange(len(codes)), codes] = False
    return float(np.mean(above.any(axis=1)))


# ---------------------------------------------------------------------------------------
# Task inference: one function, each branch returns (task, the rule that decided it)


def _infer_task(a: Any, values: np.ndarray | None) -> tuple[str, str]:
    if isinstance(a, list):
        return "sequence", f"ragged rows ({len(a)} sequences of different lengths)"
    if a.ndim >= 3:
        return "segmentation", f"{a.ndim}-D target {list(a.shape)}: a label map per sample"
    if a.ndim == 2:
        v = values
        if v.dtype != object and np.isin(v, (0, 1)).all():
            sums = a.sum(axis=1)
            if np.all(sums == 1):
                return "multiclass", f"one-hot matrix [N, {a.shape[1]}]: exactly one 1 per row"
            return "multilabel", (f"0/1 indicator matrix [N, {a.shape[1]}] with rows summing to "
                                  f"{int(sums.min())}..{int(sums.max())}")
        if v.dtype != object and v.min() >= 0 and v.max() <= 1 and np.allclose(
                a.sum(axis=1), 1.0, atol=1e-3):
            return "soft_labels", f"rows of [N, {a.shape[1]}] lie in [0, 1] and sum to 1"
        if v.dtype != object and np.all(v == np.round(v)) and v.min() >= 0 and len(
                np.unique(v)) > 2:
            return "sequence", f"padded integer matrix [N, {a.shape[1]}] of token ids"
        return "continuous", f"real-valued matrix [N, {a.shape[1]}]: multi-output regression"
    v = values
    distinct = np.unique(v)
    if v.dtype == object or v.dtype.kind in "bUS":
        kind = "binary" if len(distinct) == 2 else "multiclass"
        return kind, f"{len(distinct)} distinct non-numeric labels"
    if len(distinct) == 2:
        return "binary", f"exactly 2 distinct values ({_label(distinct[0])}, {_label(distinct[1])})"
    integer = bool(np.all(v == np.round(v)))
    if integer and v.min() >= 0:
        upper_share = float(np.mean(v > (v.min() + v.max()) / 2))
        if len(distinct) <= 10:
            return "multiclass", (f"{len(distinct)} distinct non-negative integers: read as class "
                                  "labels (declare task='count' or 'ordinal' if they are not)")
        if upper_share < 0.25 and _moments(v.astype(float))[0] > 0:
            return "count", (f"{len(distinct)} distinct non-negative integers, right-skewed: "
                             f"{upper_share:.1%} of values in the upper half of the range")
        if len(distinct) <= 50:
            return "multiclass", f"{len(distinct)} distinct integers, no count-like decay"
    if v.min() >= 0 and v.max() <= 1:
        return "proportion", f"real values inside [0, 1] ({len(distinct)} distinct)"
    return "continuous", f"{len(distinct)} distinct real values"


# ---------------------------------------------------------------------------------------
# Facts per kind of target


def _class_facts(labels: np.ndarray, task: str) -> dict[str, Any]:
    classes, counts = np.unique(labels, return_counts=True)
    order = np.argsort(-counts, kind="mergesort")
    facts: dict[str, Any] = {
        "n_classes": len(classes),
        "classes": [_label(c) for c in classes],
        "class_counts": {str(_label(c)): int(k) for c, k in zip(classes, counts)},
        "majority_class": _label(classes[order[0]]),
        "minority_class": _label(classes[order[-1]]),
        "minority_share": _r(counts.min() / counts.sum()),
        "smallest_class_count": int(counts.min()),
        "imbalance_ratio": _r(counts.max() / counts.min()),
    }
    if task == "binary" or len(classes) == 2:
        # The positive class is the rarer one unless the labels are 0/1 or False/True.
        values = [_label(c) for c in classes]
        pos = 1 if set(values) == {0, 1} else _label(classes[order[-1]])
        n_pos = int(counts[values.index(pos)])
        facts.update(positive_label=pos, n_positive=n_pos, n_negative=int(counts.sum()) - n_pos,
                     positive_rate=_r(n_pos / counts.sum()))
    return facts


def _numeric_facts(v: np.ndarray) -> dict[str, Any]:
    v = v.astype(float)
    med, sigma = _robust_scale(v)
    skew, kurt = _moments(v)
    lo, hi = float(v.min()), float(v.max())
    sign = ("positive" if lo > 0 else "non-negative" if lo >= 0 else
            "negative" if hi < 0 else "non-positive" if hi <= 0 else "mixed")
    facts = {
        "min": _r(lo), "max": _r(hi), "mean": _r(v.mean()), "median": _r(med),
        "std": _r(v.std()), "mad_sigma": _r(sigma),
        "outlier_fraction": _r(_outlier_fraction(v, med, sigma)),
        "skewness": _r(skew), "excess_kurtosis": _r(kurt),
        "zero_fraction": _r(np.mean(v == 0)), "sign": sign,
        "integer_valued": bool(np.all(v == np.round(v))),
        "n_distinct": len(np.unique(v)),
    }
    positive = v[v > 0]
    if lo >= 0 and len(positive) >= 10:
        q01, q99 = np.percentile(positive, [1, 99])
        facts["orders_of_magnitude"] = _r(math.log10(q99 / q01)) if q01 > 0 else None
    else:
        facts["orders_of_magnitude"] = None
    return facts


def _order_shift(v: np.ndarray, sigma: float) -> float | None:
    """(median of the last quarter - median of the first quarter) / robust sigma."""
    if len(v) < 400 or sigma == 0:  # below that, quarter medians differ by chance
        return None
    q = len(v) // 4
    return _r((np.median(v[-q:]) - np.median(v[:q])) / sigma)


def _regression_facts(v: np.ndarray, X: np.ndarray | None, rows_ok: np.ndarray | None,
                      task: str) -> dict[str, Any]:
    facts = _numeric_facts(v)
    facts["order_shift"] = _order_shift(v.astype(float), facts["mad_sigma"])
    if task == "count":
        mean = v.mean()
        facts["dispersion_index"] = _r(v.var() / mean) if mean > 0 else None
    noise = {"noise_source": "the target's median (no features given)",
             "noise_sigma": facts["mad_sigma"],
             "noise_outlier_fraction": facts["outlier_fraction"],
             "noise_excess_kurtosis": facts["excess_kurtosis"], "heteroscedasticity": None}
    if X is not None and rows_ok is not None and v.ndim == 1:
        Xf = X[rows_ok]
        rng = np.random.default_rng(0)
        idx = rng.choice(len(v), size=min(len(v), 5000), replace=False)
        resid = _robust_linear_fit(Xf[idx], v[idx].astype(float))
        _, s = _robust_scale(resid)
        fitted = v[idx] - resid
        noise = {
            "noise_source": f"a robust (Huber IRLS) linear fit on {X.shape[1]} features",
            "noise_sigma": _r(s),
            "noise_outlier_fraction": _r(_outlier_fraction(resid, float(np.median(resid)), s)),
            "noise_excess_kurtosis": _r(_moments(resid)[1]),
            # Does the spread of the residuals grow with the prediction?
            "heteroscedasticity": _r(_spearman(fitted, np.abs(resid - np.median(resid)))),
        }
    facts.update(noise)
    return facts


def _multilabel_facts(a: np.ndarray) -> dict[str, Any]:
    a = a.astype(float)
    pos = a.sum(axis=0)
    n = len(a)
    per_row = a.sum(axis=1)
    with np.errstate(divide="ignore"):
        ratios = np.where(pos > 0, (n - pos) / np.maximum(pos, 1), np.inf)
    return {
        "n_labels": int(a.shape[1]),
        "label_counts": [int(p) for p in pos],
        "label_cardinality": _r(per_row.mean()),
        "label_density": _r(per_row.mean() / a.shape[1]),
        "co_occurrence_fraction": _r(np.mean(per_row >= 2)),
        "empty_row_fraction": _r(np.mean(per_row == 0)),
        "never_positive_labels": int(np.sum(pos == 0)),
        "imbalance_ratio": _r(float(np.max(ratios[np.isfinite(ratios)]))) if np.isfinite(
            ratios).any() else None,
    }


def _soft_label_facts(a: np.ndarray) -> dict[str, Any]:
    a = a.astype(float)
    k = a.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.nansum(np.where(a > 0, a * np.log(a), 0.0), axis=1) / math.log(k)
    return {
        "n_classes": int(k),
        "mean_normalized_entropy": _r(ent.mean()),
        "hard_row_fraction": _r(np.mean(a.max(axis=1) > 0.999)),
        "max_row_sum_error": _r(float(np.max(np.abs(a.sum(axis=1) - 1)))),
        "class_mass": [_r(m) for m in a.mean(axis=0)],
    }


def _segmentation_facts(a: np.ndarray) -> dict[str, Any]:
    labels = np.round(a).astype(np.int64) if a.dtype.kind == "f" else a.astype(np.int64)
    classes, counts = np.unique(labels, return_counts=True)
    flat = labels.reshape(len(labels), -1)
    background = 0 if 0 in classes else int(classes[np.argmax(counts)])
    return {
        "image_shape": list(a.shape[1:]),
        "n_classes": len(classes),
        "classes": [int(c) for c in classes],
        "pixel_counts": {str(int(c)): int(k) for c, k in zip(classes, counts)},
        "background_class": background,
        "foreground_fraction": _r(float(np.mean(flat != background))),
        "smallest_class_fraction": _r(counts.min() / counts.sum()),
        "empty_mask_fraction": _r(float(np.mean((flat != background).sum(axis=1) == 0))),
    }


def _sequence_facts(a: Any) -> dict[str, Any]:
    if isinstance(a, list):
        lengths = np.array([len(r) for r in a])
        tokens = np.concatenate([np.asarray(r).ravel() for r in a]) if len(a) else np.array([])
        padded = False
    else:
        lengths = np.full(len(a), a.shape[1])
        tokens = a.ravel()
        padded = True
    vocab = len(np.unique(tokens))
    return {
        "n_sequences": len(lengths),
        "length_min": int(lengths.min()), "length_mean": _r(lengths.mean()),
        "length_max": int(lengths.max()),
        "vocab_size": (int(tokens.max()) + 1 if tokens.size and tokens.dtype.kind in "iuf"
                       else vocab),
        "distinct_tokens": vocab,
        "padded_matrix": padded,
    }


# ---------------------------------------------------------------------------------------


def profile(y: Any, X: Any = None, *, task: str | None = None) -> TargetProfile:
    """Describe a target: its task kind (with the rule that decided it) and measured facts.

    ``y`` may be a numpy array, torch tensor, pandas Series/DataFrame or (nested) list;
    ``X`` (optional, same number of rows) lets the profile measure residual noise of a
    robust linear fit instead of the spread of the raw target. A declared ``task``
    always wins over inference; the profile then records both.

    >>> import numpy as np, losskit
    >>> losskit.profile(np.array([0, 1, 0, 0, 1, 0])).task
    'binary'
    """
    if task is not None:
        given = task
        task = task.strip().lower().replace("-", "_").replace(" ", "_")
        task = TASK_ALIASES.get(task, task)
        if task not in TASKS and task != "classification":
            raise LossInputError(f"unknown task {given!r}; choose from {', '.join(TASKS)}")
    a, _ = _as_array(y)
    if isinstance(a, list):  # ragged sequences
        facts: dict[str, Any] = {"n": len(a), "shape": [len(a)], "n_missing": 0, "n_nonfinite": 0}
        inferred, rule = _infer_task(a, None)
        facts.update(_sequence_facts(a))
        return _finish(task, inferred, rule, facts)
    if a.ndim == 0:
        raise LossInputError("y must hold one target per sample, got a scalar")
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    n = len(a)
    if n == 0:
        raise LossInputError("y is empty: there is nothing to profile")
    values, facts0 = _split_missing(a)
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    facts = {"n": int(n), "shape": list(a.shape), **facts0}
    bad = facts["n_missing"] + facts["n_nonfinite"]
    facts["missing_fraction"] = _r(bad / a.size)
    if finite.size == 0:
        raise LossInputError(f"y has no finite values ({facts['n_missing']} missing, "
                             f"{facts['n_nonfinite']} non-finite)")
    if a.ndim == 1 and len(np.unique(finite)) < 2:
        raise LossInputError(f"y has a single value ({_label(finite[0])!r}) in all {finite.size} "
                             "usable rows: there is nothing to learn")
    if a.ndim >= 2 and bad:
        a = np.where(np.isfinite(a.astype(float)), a, 0)  # structure kept; counts reported above
    inferred, rule = _infer_task(a if a.ndim >= 2 else finite, finite)
    if task == "classification":
        task = inferred if inferred in ("binary", "multiclass", "multilabel") else "multiclass"
    kind = task or inferred
    rows_ok = None
    Xd = None
    if a.ndim == 1:
        rows_ok = (np.array([v is not None and not (isinstance(v, float) and math.isnan(v))
                             for v in a]) if a.dtype == object else
                   np.isfinite(a) if a.dtype.kind == "f" else np.ones(n, bool))
        Xd = _design(X, n)
    facts["n_features"] = None if X is None else (
        int(np.asarray(X).reshape(n, -1).shape[1]) if not hasattr(X, "columns") else len(X.columns))

    if kind in _NUMERIC and a.ndim <= 2 and (finite.dtype == object or finite.dtype.kind in "US"):
        raise LossInputError(f"task {kind!r} needs numeric targets, but y holds labels such as "
                             f"{finite[0]!r}")
    if kind in ("segmentation",) or (a.ndim >= 3):
        facts.update(_segmentation_facts(a))
    elif kind == "sequence" and a.ndim == 2:
        facts.update(_sequence_facts(a))
    elif inferred == "multilabel" or (kind == "multilabel" and a.ndim == 2):
        facts.update(_multilabel_facts(a))
    elif inferred == "soft_labels" or kind == "soft_labels":
        facts.update(_soft_label_facts(a))
    elif a.ndim == 2 and inferred == "multiclass":  # one-hot: profile the indices
        facts.update(_class_facts(np.argmax(a, axis=1), kind))
    elif kind in _CLASSIFICATION or kind == "multiclass":
        facts.update(_class_facts(finite, kind))
        if kind in ("binary",) and len(finite) >= 200:
            q = len(finite) // 4
            pos = facts["positive_label"]
            first = float(np.mean(finite[:q] == pos))
            last = float(np.mean(finite[-q:] == pos))
            facts["positive_rate_first_quarter"] = _r(first)
            facts["positive_rate_last_quarter"] = _r(last)
            # Two-proportion z statistic: is the change more than sampling noise?
            pooled = (first + last) / 2
            se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * 2 / q)
            facts["positive_rate_shift_z"] = _r((last - first) / se)
        if Xd is not None and kind in ("binary", "multiclass", "ordinal"):
            noise = _suspected_label_noise(Xd[rows_ok], finite)
            facts["suspected_label_noise"] = None if noise is None else _r(noise)
    else:
        facts.update(_regression_facts(finite, Xd, rows_ok, kind))
    if X is not None and facts["n_features"]:
        facts["features_per_sample"] = _r(facts["n_features"] / n)
    return _finish(task, inferred, rule, facts)


def _finish(task: str | None, inferred: str, rule: str, facts: dict[str, Any]) -> TargetProfile:
    if task is None:
        return TargetProfile(inferred, f"inferred: {rule}", False, facts)
    note = f"declared task={task!r}"
    if task != inferred:
        note += f" (inference alone would say {inferred!r}: {rule})"
    facts["inferred_task"] = inferred
    return TargetProfile(task, note, True, facts)


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x
