"""``profile(y, X)``: what kind of target this is, and the measured facts a loss choice rests on.

Every number the advisor cites comes from here. Floats are rounded to four significant
digits once, at the source, so the text of a reason and the profile show the same value.
Nothing is dropped silently: missing targets are counted, and every decision taken on the
feature table (a date or id column dropped, missing values imputed) is a line in
``data_notes``. Scale estimates are robust (one extreme value cannot move them) and every
statistic is computed on scaled values, so any finite input, 1e300 included, profiles.

With features, the noise, the outliers and the dispersion of counts are judged on the
residuals of a fitted model (a Huber linear fit, a Poisson GLM), not on the raw target:
a tail that a feature explains is signal, not noise.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._core.validate import LossInputError
from ..tabular import event_indicator, prepare_features, structure_column, time_order
from ..vocabulary import (
    TASKS,
    as_target_array,
    finite_rows,
    infer_task,
    normalize_task,
)

__all__ = ["TASKS", "TargetProfile", "profile"]

_CLASSIFICATION = ("binary", "multiclass", "ordinal", "metric_learning", "energy")
_NUMERIC = ("continuous", "count", "proportion", "reinforcement", "survival")

# Iglewicz & Hoaglin: a robust z-score 0.6745 (y - median) / MAD above 3.5 flags an outlier.
_OUTLIER_Z = 3.5
_MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its sigma


def _r(x: Any, digits: int = 4) -> Any:
    """Round to ``digits`` significant digits (the profile's single rounding point)."""
    if x is None:
        return None
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
# Statistics (numpy only; scipy, where present, only refines the count-tail check)


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Run numpy's BLAS on one thread: the matrices here are small, and on a busy machine a
    pool of BLAS threads made a 1,800-row logistic fit 40x slower (28 s instead of 0.7 s)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def _scale_of(v: np.ndarray) -> float:
    """A power of two at most max |v| (and above half of it): dividing by it is exact and
    brings every value into [-2, 2], so squares and sums stay finite."""
    m = float(np.max(np.abs(v))) if v.size else 0.0
    return math.ldexp(1.0, math.frexp(m)[1] - 1) if m > 0 and math.isfinite(m) else 1.0


def _mean_std(v: np.ndarray) -> tuple[float, float]:
    s = _scale_of(v)
    w = v / s
    mean = float(np.mean(w))
    return mean * s, float(np.sqrt(np.mean((w - mean) ** 2))) * s


def _moments(v: np.ndarray) -> tuple[float, float]:
    """(skewness, excess kurtosis), population estimates as scipy.stats.skew/kurtosis."""
    w = v / _scale_of(v)
    d = w - w.mean()
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
        s = _scale_of(v)
        sigma = 1.2533 * float(np.mean(np.abs(v / s - med / s))) * s
    return med, sigma


def _outlier_fraction(v: np.ndarray, center: float, sigma: float) -> float:
    if sigma == 0 or not math.isfinite(sigma):
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


def _lag1_autocorrelation(v: np.ndarray) -> float | None:
    if len(v) < 20:
        return None
    w = v / _scale_of(v)
    d = w - w.mean()
    denom = float(np.sum(d * d))
    return None if denom == 0 else float(np.sum(d[1:] * d[:-1]) / denom)


def _impute(X: np.ndarray) -> np.ndarray:
    X = np.array(X, dtype=float)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column has no median
        med = np.nanmedian(np.where(np.isfinite(X), X, np.nan), axis=0)
    med = np.where(np.isfinite(med), med, 0.0)
    return np.where(np.isfinite(X), X, med)


def _log_design(X: np.ndarray) -> np.ndarray:
    """Features for a log-link model: a positive feature spanning an order of magnitude or
    more (a population, an exposure) enters through its log, as an offset would."""
    X = _impute(X)
    out: np.ndarray = X.copy()
    for j, col in enumerate(X.T):
        if col.min() > 0 and np.percentile(col, 99) >= 10 * np.percentile(col, 1):
            out[:, j] = np.log(col)
    return out


def _standardize(X: np.ndarray) -> np.ndarray | None:
    """Median-imputed, standardized features; None if no column varies."""
    if np.size(X) == 0:
        return None
    X = _impute(X)
    center = np.median(X, axis=0)
    scale = np.array([_scale_of(c - m) for c, m in zip(X.T, center)])
    X = (X - center) / scale  # bring every column to O(1) before moments
    std = X.std(axis=0)
    keep = std > 1e-12
    if not keep.any():
        return None
    standardized: np.ndarray = (X[:, keep] - X[:, keep].mean(axis=0)) / std[keep]
    return standardized


def _robust_linear_fit(X: np.ndarray, y: np.ndarray, iterations: int = 50) -> np.ndarray:
    """Residuals of a Huber-loss linear fit by iteratively reweighted least squares.

    Starts from the median with zero slopes (a least-squares start is broken by a single
    gross value), then down-weights points beyond 1.345 robust sigmas of the current
    residuals (Huber's 95%-efficiency constant). Works on y in units of its robust scale,
    so ordinary rows are O(1) and a gross value only gets a tiny weight: any finite target
    stays finite.
    """
    centered = y - np.median(y)
    s = _robust_scale(centered)[1]
    s = s if s > 0 and math.isfinite(s) else _scale_of(centered)
    t = centered / s
    A = np.column_stack([np.ones(len(X)), X])
    ridge = 1e-6 * len(t) * np.eye(A.shape[1])
    ridge[0, 0] = 0.0
    coef = np.zeros(A.shape[1])
    r = t.copy()
    for _ in range(iterations):
        _, sigma = _robust_scale(r)
        if sigma == 0:
            break
        w = np.minimum(1.0, 1.345 * sigma / np.maximum(np.abs(r), 1e-300))
        Aw = A * w[:, None]
        new = np.linalg.solve(A.T @ Aw + ridge, Aw.T @ t)
        r = t - A @ new
        if np.max(np.abs(new - coef)) < 1e-7:
            coef = new
            break
        coef = new
    residuals: np.ndarray = r * s
    return residuals


def _poisson_glm(X: np.ndarray | None, y: np.ndarray, iterations: int = 50) -> np.ndarray:
    """Fitted means of a Poisson GLM with a log link (IRLS, a small ridge)."""
    n = len(y)
    A = np.ones((n, 1)) if X is None else np.column_stack([np.ones(n), X])
    beta = np.zeros(A.shape[1])
    beta[0] = math.log(max(float(np.mean(y)), 1e-8))
    ridge = 1e-4 * np.eye(A.shape[1])
    ridge[0, 0] = 0.0
    for _ in range(iterations):
        eta = np.clip(A @ beta, -30, 30)
        mu = np.exp(eta)
        z = eta + (y - mu) / mu
        Aw = A * mu[:, None]
        new = np.linalg.solve(A.T @ Aw + ridge, Aw.T @ z)
        if not np.all(np.isfinite(new)):
            break
        done = np.max(np.abs(new - beta)) < 1e-8
        beta = new
        if done:
            break
    return np.exp(np.clip(A @ beta, -30, 30))


def _count_model(X: np.ndarray | None, y: np.ndarray) -> dict[str, Any]:
    """Dispersion of counts around a Poisson fit, and the tail the negative binomial leaves.

    The Pearson dispersion sum((y - mu)^2 / mu) / (n - p) is 1 for Poisson data. The NB2
    dispersion alpha (variance mu + alpha mu^2) is the Cameron-Trivedi moment estimate
    sum((y - mu)^2 - y) / sum(mu^2), taken without the top 1% of counts so that a few
    wild values cannot inflate it and then excuse themselves. A count is called extreme
    only if that negative binomial gives it an upper-tail probability below 1e-4.
    """
    n = len(y)
    p = 1 if X is None else X.shape[1] + 1
    mu = _poisson_glm(X, y)
    pearson = float(np.sum((y - mu) ** 2 / mu) / max(n - p, 1))
    body = y <= np.percentile(y, 99)
    alpha = max(float(np.sum((y[body] - mu[body]) ** 2 - y[body]) / np.sum(mu[body] ** 2)), 0.0)
    facts: dict[str, Any] = {
        "dispersion": _r(pearson),
        "dispersion_source": ("a Poisson GLM on the features (log of wide-ranging positive ones)"
                              if X is not None else "the target alone (variance / mean)"),
        "nb_dispersion": _r(alpha),
        "count_outlier_fraction": None,
    }
    zeros_expected = float(np.mean(np.exp(-mu))) if alpha == 0 else float(
        np.mean((1 + alpha * mu) ** (-1 / alpha)))
    facts["expected_zero_fraction"] = _r(zeros_expected)
    try:
        from scipy import stats
    except ImportError:
        return facts
    with np.errstate(all="ignore"):
        if alpha > 1e-8:
            size = 1.0 / alpha
            tail = stats.nbinom.sf(y - 1, size, size / (size + mu))
        else:
            tail = stats.poisson.sf(y - 1, mu)
    facts["count_outlier_fraction"] = _r(float(np.mean(tail < 1e-4)))
    return facts


def _logistic_proba(X: np.ndarray, codes: np.ndarray, k: int, X_new: np.ndarray) -> np.ndarray:
    """Multinomial ridge logistic regression by Newton's method on the softmax NLL
    (one-vs-rest for many classes); rows sum to 1."""
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
    normalized: np.ndarray = out / out.sum(axis=1, keepdims=True)
    return normalized


def confident_learning_issues(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Rows whose label looks wrong by confident learning (Northcutt, Jiang & Chuang, JAIR
    2021): with per-class thresholds t_j = mean of p_j over the rows labelled j, a row
    labelled i is suspect when p_i < t_i and some other class j has p_j >= t_j (the row
    then belongs, by the argmax among those classes, to an off-diagonal cell of the
    confident joint).
    """
    k = proba.shape[1]
    thresholds = np.array([proba[labels == j, j].mean() if np.any(labels == j) else 1.0
                           for j in range(k)])
    above = proba >= thresholds
    own = above[np.arange(len(labels)), labels]
    above[np.arange(len(labels)), labels] = False
    suspect: np.ndarray = ~own & above.any(axis=1)
    return suspect


def _suspected_label_noise(X: np.ndarray, labels: np.ndarray) -> float | None:
    """Share of rows confident learning flags, with out-of-fold probabilities from a
    linear model (3 folds, up to 4000 rows). None when a class has fewer than 10 rows.
    A linear model under-fits hard problems, and the estimate then includes rows that are
    merely hard, so the rules treat it as a suspicion to inspect. None below 150 rows or
    when a class has fewer than 15: out-of-fold estimates are too noisy there."""
    rng = np.random.default_rng(0)
    idx = rng.choice(len(labels), size=min(len(labels), 4000), replace=False)
    _, codes, counts = np.unique([str(v) for v in labels[idx]], return_inverse=True,
                                 return_counts=True)
    if len(idx) < 150 or counts.min() < 15:
        return None
    k = len(counts)
    X = X[idx]
    folds = np.arange(len(idx)) % 3
    proba = np.empty((len(idx), k))
    for f in range(3):
        train, test = folds != f, folds == f
        proba[test] = _logistic_proba(X[train], codes[train], k, X[test])
    return float(np.mean(confident_learning_issues(codes, proba)))


# ---------------------------------------------------------------------------------------
# Facts per kind of target


def _class_facts(labels: np.ndarray, task: str) -> dict[str, Any]:
    classes, counts = np.unique(labels, return_counts=True)
    order = np.argsort(-counts, kind="mergesort")
    facts: dict[str, Any] = {
        "n_classes": len(classes),
        "classes": [_label(c) for c in classes],
        "class_counts": {str(_label(c)): int(k) for c, k in zip(classes, counts)},
        "class_prior": [_r(k / counts.sum()) for k in counts],
        "majority_class": _label(classes[order[0]]),
        "minority_class": _label(classes[order[-1]]),
        "minority_share": _r(counts.min() / counts.sum()),
        "smallest_class_count": int(counts.min()),
        "imbalance_ratio": _r(counts.max() / counts.min()),
    }
    numeric = classes.dtype.kind in "iuf" or all(isinstance(c, (int, float, np.number))
                                                 for c in classes)
    if numeric and len(classes) >= 3:
        values = np.asarray(classes, float)
        facts["integer_levels"] = bool(np.all(values == np.round(values))
                                       and values[-1] - values[0] + 1 == len(values))
    else:
        facts["integer_levels"] = False
    if task == "binary" or len(classes) == 2:
        # The positive class is the rarer one unless the labels are 0/1 or False/True.
        class_labels = [_label(c) for c in classes]
        pos = 1 if set(class_labels) == {0, 1} else _label(classes[order[-1]])
        n_pos = int(counts[class_labels.index(pos)])
        facts.update(positive_label=pos, n_positive=n_pos, n_negative=int(counts.sum()) - n_pos,
                     positive_rate=_r(n_pos / counts.sum()))
    return facts


def _pileup(v: np.ndarray) -> dict[str, Any]:
    """A point mass at the smallest or largest value: a limit the data were censored at.

    Continuous data put about 1/n of the rows on any one value; a limit gathers far more.
    Reported when at least 5% of the rows sit exactly on the limit and that value holds
    at least 10x the rows of the most common value inside the range.
    """
    out: dict[str, Any] = {"pileup_side": None, "pileup_value": None, "pileup_fraction": None}
    values, counts = np.unique(v, return_counts=True)
    if len(values) < 10:
        return out
    inner = counts[1:-1].max()
    best = None
    for side, i in (("lower", 0), ("upper", -1)):
        share = counts[i] / len(v)
        if share >= 0.05 and counts[i] >= 10 * inner and (best is None or share > best[2]):
            best = (side, values[i], share)
    if best:
        out.update(pileup_side=best[0], pileup_value=_r(best[1], 6), pileup_fraction=_r(best[2]))
    return out


def _numeric_facts(v: np.ndarray) -> dict[str, Any]:
    v = v.astype(float)
    med, sigma = _robust_scale(v)
    skew, kurt = _moments(v)
    mean, std = _mean_std(v)
    lo, hi = float(v.min()), float(v.max())
    sign = ("positive" if lo > 0 else "non-negative" if lo >= 0 else
            "negative" if hi < 0 else "non-positive" if hi <= 0 else "mixed")
    facts = {
        "min": _r(lo), "max": _r(hi), "mean": _r(mean), "median": _r(med),
        "std": _r(std), "mad_sigma": _r(sigma),
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
    if lo >= 0 and len(positive) >= 10:
        facts["positive_skewness"] = _r(_moments(positive)[0])
    return facts


def _order_shift(v: np.ndarray, sigma: float) -> float | None:
    """(median of the last quarter - median of the first quarter) / robust sigma."""
    if len(v) < 400 or not sigma:  # below that, quarter medians differ by chance
        return None
    q = len(v) // 4
    shift: float | None = _r((np.median(v[-q:]) - np.median(v[:q])) / sigma)
    return shift


def _regression_facts(v: np.ndarray, X: np.ndarray | None, task: str,
                      X_log: np.ndarray | None = None) -> dict[str, Any]:
    facts = _numeric_facts(v)
    facts["order_shift"] = _order_shift(v.astype(float), facts["mad_sigma"])
    if task == "count":
        mean, std = _mean_std(v.astype(float))
        facts["dispersion_index"] = _r(std ** 2 / mean) if mean > 0 else None
        idx = np.random.default_rng(0).choice(len(v), size=min(len(v), 20000), replace=False)
        design = X_log if X_log is not None else X
        facts.update(_count_model(None if design is None else design[idx], v[idx].astype(float)))
    if task in ("continuous", "proportion", "count") and (not facts["integer_valued"]
                                                            or facts["n_distinct"] > 20):
        facts.update(_pileup(v.astype(float)))
    noise = {"noise_source": "the target's median (no features given)",
             "noise_dof": len(v) - 1,
             "noise_sigma": facts["mad_sigma"],
             "noise_outlier_fraction": facts["outlier_fraction"],
             "noise_excess_kurtosis": facts["excess_kurtosis"],
             "noise_skewness": facts["skewness"], "heteroscedasticity": None}
    if X is not None:
        rng = np.random.default_rng(0)
        idx = rng.choice(len(v), size=min(len(v), 5000), replace=False)
        y = v[idx].astype(float)
        resid = _robust_linear_fit(X[idx], y)
        center, s = _robust_scale(resid)
        skew, kurt = _moments(resid)
        fitted = y - resid
        noise = {
            "noise_source": f"a robust (Huber IRLS) linear fit on {X.shape[1]} features",
            "noise_dof": len(y) - X.shape[1] - 1,
            "noise_sigma": _r(s),
            "noise_outlier_fraction": _r(_outlier_fraction(resid, center, s)),
            "noise_excess_kurtosis": _r(kurt),
            "noise_skewness": _r(skew),
            # Does the spread of the residuals grow with the prediction?
            "heteroscedasticity": _r(_spearman(fitted, np.abs(resid - center))),
        }
    facts.update(noise)
    return facts


def _multioutput_facts(a: np.ndarray, names: list[str] | None,
                       X: np.ndarray | None) -> dict[str, Any]:
    a = a.astype(float)
    k = a.shape[1]
    per = [_regression_facts(col[np.isfinite(col)], None if X is None else
                             X[np.isfinite(col)], "continuous") for col in a.T]
    sigmas = [f["noise_sigma"] or f["mad_sigma"] or 1.0 for f in per]
    facts = {
        "n_outputs": k,
        "output_names": names or [f"y{i}" for i in range(k)],
        "output_sigmas": [_r(s) for s in sigmas],
        "output_scale_ratio": _r(max(sigmas) / min(sigmas)) if min(sigmas) > 0 else None,
        "output_weight": [_r(1 / s ** 2, 3) if s > 0 else 1.0 for s in sigmas],
        "noise_outlier_fraction": max(f["noise_outlier_fraction"] for f in per),
        "noise_excess_kurtosis": max(f["noise_excess_kurtosis"] for f in per),
        "noise_skewness": max((f["noise_skewness"] for f in per), key=abs),
        "noise_source": per[0]["noise_source"],
        "min": min(f["min"] for f in per), "max": max(f["max"] for f in per),
        "integer_valued": all(f["integer_valued"] for f in per),
        "heteroscedasticity": None,
    }
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
        "zero_mass_fraction": _r(np.mean(a == 0)),
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


def _reconstruction_facts(a: np.ndarray) -> dict[str, Any]:
    v = a.astype(float)
    finite = v[np.isfinite(v)]
    return {
        "image_shape": list(a.shape[1:]) if a.ndim >= 2 else None,
        "min": _r(finite.min()), "max": _r(finite.max()),
        "binary_values": bool(np.isin(finite, (0.0, 1.0)).all()),
        "image_like": a.ndim >= 3,
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


def _survival_facts(time: np.ndarray, event: np.ndarray) -> dict[str, Any]:
    t = time.astype(float)
    e = event.astype(bool)
    event_times = t[e]
    _, counts = np.unique(event_times, return_counts=True) if e.any() else (None, np.array([]))
    facts = {
        "n_events": int(e.sum()),
        "event_rate": _r(e.mean()),
        "censored_fraction": _r(1 - e.mean()),
        "median_time": _r(np.median(t)),
        "time_min": _r(t.min()), "time_max": _r(t.max()),
        "tied_event_fraction": _r(float(counts[counts > 1].sum() / max(e.sum(), 1))),
        "n_distinct_times": len(np.unique(t)),
        "suggested_time_bins": int(min(20, max(5, len(np.unique(event_times)) // 5)))
        if e.any() else 5,
    }
    return facts


def _group_facts(group: np.ndarray, values: np.ndarray | None) -> dict[str, Any]:
    _, inverse, sizes = np.unique(group.astype(str), return_inverse=True, return_counts=True)
    facts: dict[str, Any] = {
        "n_groups": len(sizes), "group_size_median": _r(np.median(sizes)),
        "group_size_min": int(sizes.min()), "group_size_max": int(sizes.max()),
    }
    if values is not None and values.dtype.kind in "biuf":
        top = (values == values.max()).astype(float)
        per_group = np.bincount(inverse, weights=top)
        facts["one_positive_per_group"] = bool(np.all(per_group == 1))
        facts["relevance_levels"] = len(np.unique(values))
    return facts


# ---------------------------------------------------------------------------------------


def profile(y: Any, X: Any = None, *, task: str | None = None, metric: str | None = None,
            time: Any = None, group: Any = None, event: Any = None) -> TargetProfile:
    """Describe a target: its task kind (with the rule that decided it) and measured facts.

    ``y`` may be a numpy array, torch tensor, pandas Series/DataFrame (several columns:
    multi-output regression) or (nested) list; ``X`` (optional, same number of rows) lets
    the profile judge noise, outliers and count dispersion on the residuals of a fitted
    model instead of the raw target. A declared ``task`` always wins over inference; the
    profile then records both. ``metric`` takes part in inference (integer levels judged
    by MAE are ordered). Structure the data cannot show is declared: ``event`` (1 = event,
    0 = censored: survival times), ``group`` (query, choice-set or entity ids) and
    ``time`` (the order of the rows); each is an array or the name of a column of ``X``.

    >>> import numpy as np, losskit
    >>> losskit.profile(np.array([0, 1, 0, 0, 1, 0])).task
    'binary'
    """
    with _one_blas_thread():
        return _profile(y, X, task=task, metric=metric, time=time, group=group, event=event)


def _profile(y: Any, X: Any, *, task: str | None, metric: str | None, time: Any, group: Any,
             event: Any) -> TargetProfile:
    task = normalize_task(task)
    a, names = as_target_array(y)
    n = len(a)
    if not isinstance(a, list) and a.ndim == 0:
        raise LossInputError("y must hold one target per sample, got a scalar")
    if n == 0:
        raise LossInputError("y is empty: there is nothing to profile")
    event_a, X = structure_column(event, X, "event", n)
    group_a, X = structure_column(group, X, "group", n)
    time_a, X = structure_column(time, X, "time", n)
    structure = {"event_given": event_a is not None, "group_given": group_a is not None,
                 "time_given": time_a is not None}
    if event_a is not None:
        event_a = event_indicator(event_a)
        if task not in (None, "survival"):
            raise LossInputError(f"an event indicator means survival times, but task={task!r} "
                                 "was declared")
    if isinstance(a, list):  # ragged sequences
        facts: dict[str, Any] = {"n": len(a), "shape": [len(a)], "n_missing": 0,
                                 "n_nonfinite": 0, **structure}
        inferred, rule = infer_task(a)
        facts.update(_sequence_facts(a))
        return _finish(task, inferred, rule, facts)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    feats = prepare_features(X, n)
    facts = {"n": int(n), "shape": list(a.shape), **structure}
    inferred_layout = infer_task(a, columns=names) if a.ndim == 2 and a.dtype == object \
        else None
    if inferred_layout and inferred_layout[0] in ("preference", "image_text"):
        facts.update(n_missing=0, n_nonfinite=0, layout_columns=names)
        return _finish(task, *inferred_layout, facts)

    ok = np.ones(n, dtype=bool) if a.ndim != 1 else finite_rows(a)
    n_nonfinite = int(np.sum(~ok & ~_missing(a))) if a.ndim == 1 else 0
    n_missing = int(np.sum(~ok)) - n_nonfinite if a.ndim == 1 else 0
    if a.ndim >= 2 and a.dtype != object:
        bad = ~np.isfinite(a.astype(float))
        n_missing = int(bad.sum())
    facts.update(n_missing=n_missing, n_nonfinite=n_nonfinite,
                 missing_fraction=_r((n_missing + n_nonfinite) / max(a.size, 1)))
    if event_a is not None:
        ok &= np.isfinite(event_a)
    if not ok.any():
        raise LossInputError(f"y has no finite values ({n_missing} missing, {n_nonfinite} "
                             "non-finite)")
    values = a[ok] if a.ndim == 1 else a
    if values.dtype == object and a.ndim == 1:
        values = _coerce(values)
    if a.ndim == 1 and len(np.unique(values)) < 2:
        raise LossInputError(f"y has a single value ({_label(values[0])!r}) in all {values.size} "
                             "usable rows: there is nothing to learn")
    Xd = X_log = None
    if feats.X is not None:
        rows = feats.X[ok] if a.ndim == 1 else feats.X
        Xd = _standardize(rows)
        X_log = _standardize(_log_design(rows))
    facts["n_features"] = feats.n_features if X is not None else None
    facts["data_notes"] = list(feats.notes)
    facts["features_dropped"] = len(feats.dropped)
    facts["date_columns"] = list(feats.date_columns)
    group_ok = None if group_a is None else group_a[ok] if a.ndim == 1 else group_a
    if group_ok is not None:
        facts.update(_group_facts(group_ok, values if a.ndim == 1 else None))

    inferred, rule = infer_task(values, metric=metric,
                                event=None if event_a is None else event_a[ok],
                                group=group_ok, columns=names if a.ndim == 2 else None)
    if task == "classification":
        task = inferred if inferred in ("binary", "multiclass", "multilabel") else "multiclass"
    kind = task or inferred
    if time_a is not None and a.ndim == 1:
        order = time_order(time_a[ok])
        values = values[order]
        Xd = None if Xd is None else Xd[order]
        X_log = None if X_log is None else X_log[order]
    if kind in (*_NUMERIC, "ordinal", "multioutput") and a.ndim <= 2 and (
            values.dtype == object or values.dtype.kind in "US") and kind != "ordinal":
        raise LossInputError(f"task {kind!r} needs numeric targets, but y holds labels "
                             f"such as {values.ravel()[0]!r}")

    if kind == "survival":
        if event_a is None:
            raise LossInputError("survival times need the event indicator: pass event= "
                                 "(1 = the event happened, 0 = censored), or --event COL")
        t = values.astype(float)
        if t.min() < 0:
            raise LossInputError(f"survival times must be non-negative, got {t.min():g}")
        facts.update(_numeric_facts(t))
        facts.update(_survival_facts(t, event_a[ok]))
    elif kind == "segmentation" or (a.ndim >= 3 and kind != "reconstruction"):
        facts.update(_segmentation_facts(a))
    elif kind == "reconstruction":
        facts.update(_reconstruction_facts(a if a.ndim >= 2 else values))
    elif kind == "sequence" and a.ndim == 2:
        facts.update(_sequence_facts(a))
    elif kind == "multioutput" or (a.ndim == 2 and inferred == "multioutput"
                                   and kind in ("continuous", "count")):
        facts.update(_multioutput_facts(a, names, Xd))
    elif inferred == "multilabel" or (kind == "multilabel" and a.ndim == 2):
        facts.update(_multilabel_facts(a))
    elif inferred == "soft_labels" or kind == "soft_labels":
        facts.update(_soft_label_facts(a))
    elif a.ndim == 2 and inferred == "multiclass":  # one-hot: profile the indices
        facts.update(_class_facts(np.argmax(a, axis=1), kind))
    elif kind in _CLASSIFICATION or (kind in ("multiclass", "ranking") and a.ndim == 1):
        facts.update(_class_facts(values, kind))
        if kind == "binary" and len(values) >= 200:
            facts.update(_rate_drift(values, facts["positive_label"]))
        if Xd is not None and kind in ("binary", "multiclass", "ordinal"):
            noise = _suspected_label_noise(Xd, values)
            facts["suspected_label_noise"] = None if noise is None else _r(noise)
        if kind == "ordinal" and values.dtype.kind in "biuf":
            facts.update(_numeric_facts(values))
    elif a.ndim == 1:
        if values.dtype == object or values.dtype.kind in "US":
            raise LossInputError(f"task {kind!r} needs numeric targets, but y holds labels "
                                 f"such as {values[0]!r}")
        facts.update(_regression_facts(values, Xd, kind, X_log))
    if a.ndim == 1 and kind in ("continuous", "count", "proportion") and len(values) >= 20:
        v = values.astype(float)
        acf = _lag1_autocorrelation(v)
        facts["autocorrelation"] = None if acf is None else _r(acf)
        facts["residual_autocorrelation"] = None
        if acf is not None and Xd is not None:
            w = v / _scale_of(v)
            A = np.column_stack([np.ones(len(w)), Xd])
            coef, *_ = np.linalg.lstsq(A, w, rcond=None)
            resid = _lag1_autocorrelation(w - A @ coef)
            facts["residual_autocorrelation"] = None if resid is None else _r(resid)
    if X is not None and facts["n_features"]:
        facts["features_per_sample"] = _r(facts["n_features"] / n)
    return _finish(task, inferred, rule, facts)


def _missing(a: np.ndarray) -> np.ndarray:
    if a.dtype == object:
        return np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in a])
    if a.dtype.kind == "f":
        nan: np.ndarray = np.isnan(a)
        return nan
    return np.zeros(len(a), dtype=bool)


def _coerce(values: np.ndarray) -> np.ndarray:
    """Object arrays of numbers become float arrays; labels stay objects."""
    if all(isinstance(v, (int, float, np.number, bool, np.bool_)) for v in values):
        return values.astype(float)
    return np.array([str(v) for v in values], dtype=object)


def _rate_drift(values: np.ndarray, pos: Any) -> dict[str, Any]:
    q = len(values) // 4
    first = float(np.mean(values[:q] == pos))
    last = float(np.mean(values[-q:] == pos))
    # Two-proportion z statistic: is the change more than sampling noise?
    pooled = (first + last) / 2
    se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * 2 / q)
    return {"positive_rate_first_quarter": _r(first), "positive_rate_last_quarter": _r(last),
            "positive_rate_shift_z": _r((last - first) / se)}


def _finish(task: str | None, inferred: str, rule: str, facts: dict[str, Any]) -> TargetProfile:
    facts["inferred_task"] = inferred
    if task is None:
        return TargetProfile(inferred, f"inferred: {rule}", False, facts)
    note = f"declared task={task!r}"
    if task != inferred:
        note += f" (inference alone would say {inferred!r}: {rule})"
    return TargetProfile(task, note, True, facts)


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else x
    return x

