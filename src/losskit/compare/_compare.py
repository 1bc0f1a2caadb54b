"""``losskit.compare``: an empirical tournament of losses on the user's own data."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import torch

from .._core.validate import LossInputError, value_checks
from ..tabular import event_indicator, prepare_features, structure_column, time_order
from ..vocabulary import as_target_array, finite_rows, normalize_task
from ..vocabulary import infer_task as _infer
from ._candidates import Candidate, equivalent, resolve_candidates
from ._heads import Batch, Problem
from ._metrics import Metric, default_metric, resolve_metric
from ._stats import TESTS, misalignment, paired_test
from ._train import FoldResult, TrainConfig, fit_fold, jsonable, single_thread
from ._train import prepare_features as prepare_fold

if TYPE_CHECKING:
    from ..advise import RecommendationDict

__all__ = ["Comparison", "ComparisonDict", "LossResult", "compare", "infer_task"]

#: The standard loss each task's candidates are tested against.
BASELINES = {"continuous": "mse", "count": "mse", "proportion": "mse", "multioutput": "mse",
             "ranking": "mse", "binary": "binary_cross_entropy", "multiclass": "cross_entropy",
             "ordinal": "cross_entropy", "multilabel": "binary_cross_entropy",
             "survival": "cox_ph"}

#: Tasks compare can train on a feature table.
TABULAR_TASKS = tuple(BASELINES)


@dataclass
class LossResult:
    """How one loss did: per-fold scores, their summary, the test against the baseline."""

    loss: str
    params: dict[str, Any]
    scores: list[float]
    fit_seconds: float
    baseline: bool = False
    source: str = "user"
    p_value: float | None = None
    diff: float | None = None  # mean(score - baseline score), in the metric's units
    thresholds: list[float] = field(default_factory=list)
    curves: dict[str, Any] = field(default_factory=dict)
    misaligned: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    #: Other metrics scored on the same trained models: name -> per-fold scores.
    extra: dict[str, list[float]] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        s = np.asarray(self.scores, float)
        return float(np.mean(s)) if s.size and np.all(np.isfinite(s)) else float("nan")

    @property
    def std(self) -> float:
        s = np.asarray(self.scores, float)
        return float(np.std(s, ddof=1)) if s.size > 1 and np.all(np.isfinite(s)) else float("nan")


class ComparisonDict(TypedDict):
    """:meth:`Comparison.to_dict`: the setting, and one entry per loss, best first."""

    metric: str
    higher_is_better: bool
    #: Per loss: "loss", "mean", "std", "p_value", "fit_seconds", "rank", "params", ...
    results: list[dict[str, Any]]
    task: str
    baseline: str
    test: str
    test_description: str
    alpha: float
    folds: int
    repeats: int
    n_samples: int
    n_features: int
    recommendation: dict[str, Any] | None
    notes: list[str]


@dataclass
class Comparison:
    """The outcome of :func:`compare`; ``results`` are sorted best first."""

    metric: str
    metric_label: str
    higher_is_better: bool
    task: str
    test: str
    folds: int
    repeats: int
    n_samples: int
    baseline: str
    results: list[LossResult]
    alpha: float = 0.05
    #: The advisor's recommendation the candidates came from (its ``to_dict()``), if any.
    recommendation: Mapping[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    n_features: int = 0

    @property
    def best(self) -> LossResult:
        return self.results[0]

    def result(self, loss: str) -> LossResult:
        for r in self.results:
            if r.loss == loss:
                return r
        have = [r.loss for r in self.results]
        raise KeyError(f"no loss {loss!r} in this comparison; have {have}")

    def significant(self, r: LossResult) -> bool:
        return r.p_value is not None and np.isfinite(r.p_value) and r.p_value < self.alpha

    def better_than_baseline(self, r: LossResult) -> bool:
        return (self.significant(r) and r.diff is not None
                and (r.diff > 0) == self.higher_is_better)

    def to_dict(self) -> ComparisonDict:
        """JSON-ready: ``{"metric", "higher_is_better", "results": [{"loss", "mean", ...}]}``."""
        results: list[dict[str, Any]] = []
        for rank, r in enumerate(self.results, 1):
            results.append(jsonable({
                "loss": r.loss, "mean": r.mean, "std": r.std, "p_value": r.p_value,
                "fit_seconds": round(r.fit_seconds, 4), "rank": rank, "params": r.params,
                "baseline": r.baseline, "source": r.source, "diff_vs_baseline": r.diff,
                "significant": self.significant(r),
                "better_than_baseline": self.better_than_baseline(r),
                "scores": r.scores, "thresholds": r.thresholds,
                "misaligned": r.misaligned is not None, "misalignment": r.misaligned,
                "warnings": r.warnings, "curves": r.curves,
                "other_metrics": {k: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1))
                                      if len(v) > 1 else None, "scores": v}
                                  for k, v in r.extra.items()},
            }))
        return {
            "metric": self.metric, "higher_is_better": self.higher_is_better,
            "results": results, "task": self.task, "baseline": self.baseline,
            "test": self.test, "test_description": TESTS.get(self.test, self.test),
            "alpha": self.alpha, "folds": self.folds, "repeats": self.repeats,
            "n_samples": self.n_samples, "n_features": self.n_features,
            "recommendation": jsonable(self.recommendation), "notes": list(self.notes),
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def rows(self) -> list[dict[str, str]]:
        """Table rows for the terminal."""
        rows = []
        for rank, r in enumerate(self.results, 1):
            if r.baseline:
                verdict = "baseline"
            elif r.p_value is None or not np.isfinite(r.p_value):
                verdict = "-"
            else:
                tag = ("better" if self.better_than_baseline(r)
                       else "worse" if self.significant(r) else "no clear diff.")
                verdict = f"{tag}, p={r.p_value:.2g}"
            rows.append({
                "#": str(rank), "loss": r.loss,
                self.metric_label: f"{r.mean:.4g} ± {r.std:.2g}",
                "vs baseline": verdict,
                "fit s": f"{r.fit_seconds:.2f}",
                "warnings": "; ".join(w.split(":")[0] for w in r.warnings) or "",
            })
        return rows

    def summary(self) -> str:
        """Plain-language verdict plus every warning."""
        direction = "higher" if self.higher_is_better else "lower"
        lines = [f"{self.metric_label} ({direction} is better), {self.folds}-fold CV"
                 + (f" x {self.repeats}" if self.repeats > 1 else "")
                 + f", {self.n_samples} samples; p-values: {TESTS.get(self.test, self.test)} "
                   f"against {self.baseline}."]
        base = self.result(self.baseline) if any(r.baseline for r in self.results) else None
        winners = [r for r in self.results if self.better_than_baseline(r)]
        if base is not None:
            if winners:
                w = winners[0]
                lines.append(f"{w.loss} beats {base.loss}: {w.mean:.4g} vs {base.mean:.4g} "
                             f"(p={w.p_value:.2g}).")
            else:
                lines.append(f"No loss is significantly better than {base.loss} at "
                             f"alpha={self.alpha}.")
        for r in self.results:
            lines.extend(f"{r.loss}: {w}" for w in r.warnings)
        lines.extend(self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, out: str, kind: str = "metric") -> str:
        """Write a PNG: ``"metric"`` (score per loss with spread) or ``"curves"``."""
        from .. import plot

        # With ``out`` given the plot functions return the written path.
        path: str = (plot.plot_curves(self, out=out) if kind == "curves"
                     else plot.plot_comparison(self, out=out))
        return path


def infer_task(y: Any, task: str | None = None, *, metric: str | None = None,
               event: Any = None, group: Any = None) -> str:
    """The task of a target, by the same inference as :func:`losskit.profile` (or the hint).

    ``"classification"`` keeps the inferred binary / multiclass split.
    """
    a, names = as_target_array(y)
    if not isinstance(a, list) and a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    values = a[finite_rows(a)] if not isinstance(a, list) and a.ndim == 1 else a
    inferred, _ = _infer(values, metric=metric, event=event, group=group,
                         columns=names if not isinstance(a, list) and a.ndim == 2 else None)
    declared = normalize_task(task)
    if declared is None:
        return inferred
    if declared == "classification":
        return inferred if inferred in ("binary", "multiclass", "multilabel") else "multiclass"
    return declared


@dataclass
class _Data:
    """The comparison's data after hygiene: features, encoded targets and structure."""

    X: np.ndarray
    y: np.ndarray
    task: str
    problem: Problem
    event: np.ndarray | None
    group: np.ndarray | None
    time: np.ndarray | None
    classes: list[Any]
    notes: list[str]
    n_features: int


def _prepare(X: Any, y: Any, task: str | None, metric: str | None, time: Any, group: Any,
             event: Any) -> _Data:
    a, names = as_target_array(y)
    if isinstance(a, list) or a.ndim == 0:
        raise LossInputError("y must hold one target (or one row of targets) per sample")
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim > 2:
        raise LossInputError(f"compare trains on a feature table: y must be [N] or [N, K], got "
                             f"shape {a.shape}")
    n = len(a)
    event_a, X = structure_column(event, X, "event", n)
    group_a, X = structure_column(group, X, "group", n)
    time_a, X = structure_column(time, X, "time", n)
    feats = prepare_features(X, n)
    notes = list(feats.notes)
    Xm = feats.X if feats.X is not None else np.zeros((n, 0))
    if a.ndim == 2 and Xm.shape[1] < a.shape[1] and np.ndim(X) == 1:
        # recommend and profile take (y, X); compare, like scikit-learn, (X, y)
        notes.append(f"warning: one feature column and {a.shape[1]} target columns: compare "
                     "takes (X, y), recommend and profile (y, X); check the order")
    ok = finite_rows(a) if a.ndim == 1 else np.all(np.isfinite(a.astype(float)), axis=1)
    if event_a is not None:
        event_a = event_indicator(event_a)
        ok &= np.isfinite(event_a)
    if not ok.all():
        what = "target or event" if event_a is not None else "target"
        notes.append(f"{int((~ok).sum())} rows with a missing {what} were left out")
    a, Xm = a[ok], Xm[ok]
    event_a = None if event_a is None else event_a[ok]
    group_a = None if group_a is None else group_a[ok]
    time_a = None if time_a is None else time_a[ok]
    if a.ndim == 1 and a.dtype == object:
        a = (a.astype(float) if all(isinstance(v, (int, float, np.number, bool, np.bool_))
                                    for v in a) else np.array([str(v) for v in a], dtype=object))
    if len(a) < 10:
        raise LossInputError(f"compare needs at least 10 samples, got {len(a)}")
    if time_a is not None:
        order = time_order(time_a)
        a, Xm, time_a = a[order], Xm[order], time_a[order]
        event_a = None if event_a is None else event_a[order]
        group_a = None if group_a is None else group_a[order]
    inferred, _ = _infer(a, metric=metric, event=event_a, group=group_a,
                         columns=names if a.ndim == 2 else None)
    declared = normalize_task(task)
    kind = inferred if declared is None else declared
    if declared == "classification":
        kind = inferred if inferred in ("binary", "multiclass", "multilabel") else "multiclass"
    if kind not in TABULAR_TASKS:
        raise LossInputError(f"compare trains a model on a feature table; a {kind} target "
                             f"needs its own training loop (tasks compare can train: "
                             f"{', '.join(TABULAR_TASKS)})")
    if kind == "survival" and event_a is None:
        raise LossInputError("survival times need the event indicator: pass event= (1 = the "
                             "event happened, 0 = censored), or --event COL")
    if kind == "ranking" and group_a is None:
        raise LossInputError("a ranking is learned within groups: pass group= (query or "
                             "choice-set ids), or --group COL")
    y_enc, classes, problem = _encode(a, kind, event_a)
    if y_enc.dtype.kind == "f":
        huge = int(np.sum(np.abs(y_enc) > float(np.finfo(np.float32).max)))
        if huge:
            notes.append(f"warning: {huge} targets lie beyond float32's range (3.4e38); a "
                         "float32 model cannot fit them, so every loss that sees them diverges: "
                         "rescale the target or drop those rows")
    if group_a is not None:
        group_a = np.unique(group_a.astype(str), return_inverse=True)[1]
    return _Data(Xm, y_enc, kind, problem, event_a, group_a, time_a, classes, notes,
                 feats.n_features)


def _encode(a: np.ndarray, task: str, event: np.ndarray | None) -> tuple[np.ndarray, list[Any],
                                                                         Problem]:
    if task in ("binary", "multiclass", "ordinal"):
        if a.ndim != 1:
            raise LossInputError(f"a {task} target is one label per sample, got shape {a.shape}")
        classes, codes = np.unique(a, return_inverse=True)
        if task == "binary" and len(classes) != 2:
            raise LossInputError(f"a binary task needs exactly 2 classes, the target has "
                                 f"{len(classes)}")
        if len(classes) < 2:
            raise LossInputError("the target has a single class: there is nothing to learn")
        problem = Problem(task, n_classes=len(classes))
        if task == "ordinal":
            try:
                problem.levels = classes.astype(float)
            except (TypeError, ValueError):
                problem.levels = np.arange(len(classes), dtype=float)
        return codes.astype(int), classes.tolist(), problem
    try:
        yf = a.astype(float)
    except (TypeError, ValueError):
        raise LossInputError(f"a {task} target must be numeric, got labels such as "
                             f"{a.ravel()[0]!r}") from None
    if task == "multilabel":
        if yf.ndim != 2 or not np.isin(yf, (0.0, 1.0)).all():
            raise LossInputError("a multilabel target is a 0/1 indicator matrix [N, K]")
        return yf, [], Problem(task, n_outputs=yf.shape[1], n_classes=2)
    if task == "multioutput":
        yf = yf if yf.ndim == 2 else yf[:, None]
        return yf, [], Problem(task, n_outputs=yf.shape[1])
    if yf.ndim != 1:
        raise LossInputError(f"a {task} target is one number per sample, got shape {yf.shape}; "
                             "several target columns are task='multioutput'")
    problem = Problem(task)
    if task == "survival":
        if yf.min() < 0:
            raise LossInputError(f"survival times must be non-negative, got {yf.min():g}")
        n_event_times = len(np.unique(yf[event > 0])) if event is not None else 0
        problem.time_bins = int(min(20, max(3, n_event_times // 5)))
    if task in ("continuous", "count", "proportion"):
        problem.limits = _limits(yf)
    return yf, [], problem


def _limits(y: np.ndarray) -> dict[str, float]:
    """A censoring limit where at least 5% of rows pile up on the smallest or largest value."""
    values, counts = np.unique(y, return_counts=True)
    out: dict[str, float] = {}
    if len(values) < 10:
        return out
    inner = counts[1:-1].max()
    if counts[0] >= 0.05 * len(y) and counts[0] >= 10 * inner:
        out["lower"] = float(values[0])
    if counts[-1] >= 0.05 * len(y) and counts[-1] >= 10 * inner:
        out["upper"] = float(values[-1])
    return out


def _group_folds(group: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds that keep every group whole, balanced by rows (largest groups first)."""
    ids, sizes = np.unique(group, return_counts=True)
    if len(ids) < folds:
        raise LossInputError(f"there are {len(ids)} groups, fewer than folds={folds}; lower "
                             "--folds")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))
    order = order[np.argsort(-sizes[order], kind="mergesort")]
    load = np.zeros(folds)
    fold_of = np.empty(len(ids), dtype=int)
    for i in order:
        f = int(np.argmin(load))
        fold_of[i] = f
        load[f] += sizes[i]
    row_fold = fold_of[np.searchsorted(ids, group)]
    return [(np.flatnonzero(row_fold != f), np.flatnonzero(row_fold == f)) for f in range(folds)]


def _splits(data: _Data, folds: int, repeats: int, seed: int,
            notes: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    n = len(data.y)
    if data.time is not None:
        if repeats > 1:
            notes.append("time-ordered folds are the same on every repeat: ran them once")
        notes.append(f"time-ordered folds: each fold is scored on rows later than all the rows "
                     f"it was trained on ({folds} expanding windows)")
        return list(TimeSeriesSplit(n_splits=folds).split(np.zeros(n)))
    if data.group is not None:
        out = []
        for r in range(repeats):
            out += _group_folds(data.group, folds, seed + r)
        notes.append(f"grouped folds: each of the {len(np.unique(data.group))} groups stays "
                     "within one fold")
        return out
    if data.task in ("binary", "multiclass", "ordinal", "survival"):
        if data.task == "survival":
            assert data.event is not None  # survival data always carry the event flags
            strata = data.event.astype(int)
        else:
            strata = data.y
        smallest = int(np.bincount(strata).min())
        if smallest < folds:
            what = "class" if data.task != "survival" else "of events and censored rows"
            raise LossInputError(f"the rarest {what} has {smallest} samples, fewer than folds="
                                 f"{folds}; lower --folds")
        out = []
        for r in range(repeats):
            cv = StratifiedKFold(folds, shuffle=True, random_state=seed + r)
            out += list(cv.split(np.zeros(n), strata))
        return out
    out = []
    for r in range(repeats):
        out += list(KFold(folds, shuffle=True, random_state=seed + r).split(np.zeros(n)))
    return out


def _lag1(v: np.ndarray) -> float | None:
    d = v - v.mean()
    denom = float(np.sum(d * d))
    return None if denom == 0 else float(np.sum(d[1:] * d[:-1]) / denom)


def _ordered_rows_note(data: _Data) -> str | None:
    """A word when shuffled folds run on rows that look time-ordered.

    The target's lag-1 autocorrelation in row order says the rows may be ordered; the
    residuals of a least-squares fit on the features say whether the features account
    for it. When they do (an autoregression on lagged values, rows sorted by a feature),
    shuffled K-fold is valid (Bergmeir, Hyndman & Koo, Computational Statistics & Data
    Analysis 2018); when they do not, shuffled folds leak neighbouring rows into training.
    """
    if data.time is not None or data.group is not None or data.y.ndim != 1:
        return None
    if data.task not in ("continuous", "count", "proportion") or len(data.y) < 20:
        return None
    v = data.y.astype(float)
    v = v / (np.max(np.abs(v)) or 1.0)
    acf = _lag1(v)
    bar = max(0.3, 3 / math.sqrt(len(v)))
    if acf is None or abs(acf) < bar:
        return None
    resid_acf = None
    if data.X.shape[1]:
        with np.errstate(all="ignore"):
            med = np.nanmedian(data.X, axis=0)
        A = np.column_stack([np.ones(len(v)), np.where(np.isnan(data.X),
                                                       np.nan_to_num(med), data.X)])
        coef, *_ = np.linalg.lstsq(A, v, rcond=None)
        resid_acf = _lag1(v - A @ coef)
    if resid_acf is not None and abs(resid_acf) < bar:
        return (f"note: the target's lag-1 autocorrelation in row order is {acf:.2f}, but the "
                f"residuals of a linear fit on the features have {resid_acf:.2f}: the features "
                "account for the order, and shuffled K-fold is then valid (Bergmeir, Hyndman & "
                "Koo 2018); pass time= (--time COL) for time-ordered folds all the same")
    extra = "" if resid_acf is None else f" (residuals of a linear fit: {resid_acf:.2f})"
    return (f"warning: the target's lag-1 autocorrelation in row order is {acf:.2f}{extra}; if "
            "the rows are in time order, shuffled folds leak neighbouring rows into training and "
            "flatter every loss: pass time= (--time COL) for time-ordered folds")


def _time_bins(times: np.ndarray, event: np.ndarray, k: int) -> np.ndarray:
    """Interval edges from the quantiles of the training event times."""
    t = times[event > 0] if np.any(event > 0) else times
    edges = np.unique(np.quantile(t, np.linspace(0, 1, k + 1)))
    return edges


def _bin_index(times: np.ndarray, edges: np.ndarray, k: int) -> torch.Tensor:
    idx = np.searchsorted(edges[1:-1], times, side="left")
    return torch.as_tensor(np.clip(idx, 0, k - 1), dtype=torch.long)


def _fold_batches(data: _Data, tr: np.ndarray, te: np.ndarray) -> tuple[Batch, Batch]:
    def batch(idx: np.ndarray, bins: torch.Tensor | None) -> Batch:
        return Batch(None,
                     None if data.event is None else torch.as_tensor(data.event[idx],
                                                                     dtype=torch.float32),
                     None if data.group is None else torch.as_tensor(data.group[idx]),
                     bins)
    if data.task == "survival":
        assert data.event is not None  # survival data always carry the event flags
        k = data.problem.time_bins
        edges = _time_bins(data.y[tr], data.event[tr], k)
        k_eff = max(len(edges) - 1, 1)
        data.problem.time_bins = k_eff
        return (batch(tr, _bin_index(data.y[tr], edges, k_eff)),
                batch(te, _bin_index(data.y[te], edges, k_eff)))
    return batch(tr, None), batch(te, None)


def _robust_delta(X: np.ndarray, y: np.ndarray) -> float:
    """Huber's tuning: 1.345 x the MAD scale of the residuals of a least-squares line."""
    A = np.c_[np.ones(len(y)), np.nan_to_num(X)]
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    r = y - A @ coef
    s = 1.4826 * np.median(np.abs(r - np.median(r)))
    return float(1.345 * s) if s > 0 else 1.0


def default_losses(task: str, X: np.ndarray, y: np.ndarray, metric: Metric) -> list[Any]:
    """What to compare when no recommendation is available."""
    from .._core.registry import list_losses

    have = set(list_losses())
    out: list[Any] = []
    if task in ("continuous", "proportion", "multioutput"):
        if metric.name.startswith("pinball@") and metric.level is not None:
            out.append(("quantile", {"quantiles": float(metric.level)}))
        if y.ndim == 1:
            out.append(("huber", {"delta": round(_robust_delta(X, y), 4)}))
        out.append("mae")
    elif task == "count":
        out += ["poisson_nll", "mae"]
    elif task == "binary":
        pos = max(int(y.sum()), 1)
        ratio = (len(y) - pos) / pos
        if ratio > 2:
            out.append(("binary_cross_entropy", {"pos_weight": round(ratio, 3)}))
        out.append(("sigmoid_focal", {"gamma": 2.0, "alpha": 0.25}))
    elif task == "multiclass":
        counts = np.bincount(y).astype(float)
        if counts.max() / max(counts.min(), 1) > 2:
            w = len(y) / (len(counts) * np.maximum(counts, 1))
            out.append(("cross_entropy", {"class_weight": [round(float(v), 4) for v in w]}))
        out.append(("softmax_focal", {"gamma": 2.0}))
    elif task == "ordinal":
        out += ["corn", "coral", "mae"]
    elif task == "multilabel":
        out.append(("sigmoid_focal", {"gamma": 2.0, "alpha": 0.25}))
    elif task == "survival":
        out += ["discrete_hazard", "weibull_nll"]
    elif task == "ranking":
        out += ["listnet", "lambdarank"]
    return [c for c in out if (c if isinstance(c, str) else c[0]) in have]


def recommended_losses(X: Any, y: Any, task: str | None, metric: str | None, top: int = 3,
                       **structure: Any) -> tuple[list[Any], RecommendationDict | None, str | None]:
    """The advisor's top choices as (name, params) pairs, its dict, or why it was skipped."""
    try:
        from ..advise import recommend
    except ImportError as exc:
        return [], None, f"the advisor is not available ({exc}); compared a default set"
    try:
        data = recommend(y, X, task=task, metric=metric, **structure).to_dict()
    except Exception as exc:  # the advisor is another feature; never let it sink a comparison
        return [], None, f"the advisor failed ({type(exc).__name__}: {exc}); compared a default set"
    choices = [(c["name"], dict(c.get("params") or {})) for c in data.get("choices", [])[:top]]
    return choices, data, None


def _positive_int(name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise LossInputError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def compare(X: Any, y: Any, *, losses: Sequence[Any] | None = None, metric: str | None = None,
            task: str | None = None, model: str | Callable[[int, int], torch.nn.Module] = "linear",
            folds: int = 5, repeats: int = 1, epochs: int = 150, seed: int = 0,
            lr: float | None = None, batch_size: int | None = None,
            threshold: str | float = "tune", baseline: Any = None, test: str = "corrected_t",
            alpha: float = 0.05, top: int = 3, extra_metrics: Sequence[str] = (),
            progress: Callable[[str, int, int], None] | None = None, time: Any = None,
            group: Any = None, event: Any = None) -> Comparison:
    """Train each candidate loss on the same cross-validation folds and score it on ``metric``.

    Args:
        X: ``[N, F]`` features (array, DataFrame, tensor) or None for intercept-only models.
            A table goes through the same hygiene as ``recommend`` (dates and ids dropped,
            text one-hot encoded or dropped, missing values imputed per fold), each step
            a line in ``notes``.
        y: ``[N]`` targets (numbers or class labels of any dtype), or ``[N, K]`` (several
            target columns: multi-output regression; a 0/1 matrix: multi-label).
        losses: names, specs (``"0.5*mae + 0.5*mse"``), ``(name, params)`` pairs, or
            callables ``fn(output, target) -> scalar``; or a ``Recommendation`` (its top
            ``top`` choices). None: the top choices of ``losskit.recommend`` on the same
            data, metric and structure (a default set if the advisor is unavailable).
            Suggested losses that cannot be trained here are skipped with a note. Every
            registered loss trains through the head its ``LossInfo`` declares and is
            scored on the metric's scale (exp of a log-rate, the median of an ordinal
            distribution, the mean of a Gaussian, ...).
        metric: any metric of :data:`losskit.vocabulary.METRICS` that applies to the task
            (``mae``, ``rmse``, ``pinball@0.9``, ``poisson_deviance``, ``f1``, ``roc_auc``,
            ``log_loss``, ``ece``, ``qwk``, ``concordance``, ``ndcg@10``, ...). Default:
            MAE for numbers, F1 for classes, the concordance index for survival, NDCG@10
            for rankings.
        task: any task :func:`losskit.recommend` accepts that can be trained on a feature
            table (continuous, count, proportion, multioutput, binary, multiclass, ordinal,
            multilabel, survival, ranking; "regression" and "classification" too), or None
            to infer it as ``recommend`` does.
        model: ``"linear"``, ``"mlp"`` or ``factory(n_features, n_outputs) -> nn.Module``.
        folds, repeats: (repeated) K-fold, stratified for classes and survival events,
            grouped when ``group`` is given, time-ordered when ``time`` is given.
        epochs: full-batch Adam steps (passes over the data when ``batch_size`` is set).
        threshold: binary label metrics use a decision threshold tuned on the training
            folds (``"tune"``; recall and precision use the F1-optimal one) or a fixed one.
        baseline: the loss the p-values compare against (default ``mse``,
            ``binary_cross_entropy``, ``cross_entropy``, ``cox_ph`` for survival); added
            if not among ``losses``.
        test: ``"corrected_t"`` (default), ``"t"`` or ``"wilcoxon"`` on the per-fold scores.
        extra_metrics: more metrics scored on the same trained models (reported in
            ``other_metrics``; the ranking and the tests use ``metric``).
        progress: ``callback(label, done, total)`` after every fold of every candidate.
        time, group, event: declared structure, arrays or names of columns of ``X``: row
            order (time-ordered folds), group ids (folds keep groups whole; ranking losses
            learn within them), the event indicator of survival times (1 = event).

    Returns:
        A :class:`Comparison`; ``to_dict()`` is JSON-ready.

    Example:
        >>> import numpy as np, losskit
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 3)); y = X @ [1.0, -2.0, 0.5] + rng.normal(size=200)
        >>> c = losskit.compare(X, y, losses=["mse", "mae"], metric="rmse", epochs=60)
        >>> c.metric, len(c.results)
        ('rmse', 2)
    """
    from .. import functional  # noqa: F401  (registers the built-in losses)

    if test not in TESTS:
        raise LossInputError(f"test must be one of {sorted(TESTS)}, got {test!r}")
    folds = _positive_int("folds", folds, 2)
    repeats = _positive_int("repeats", repeats)
    epochs = _positive_int("epochs", epochs)
    top = _positive_int("top", top)
    if batch_size is not None:
        batch_size = _positive_int("batch_size", batch_size)
    if lr is not None and not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise LossInputError(f"lr must be a positive number, got {lr!r}")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise LossInputError(f"alpha must lie in (0, 1), got {alpha!r}")
    data = _prepare(X, y, task, metric, time, group, event)
    notes = data.notes
    m = resolve_metric(metric or default_metric(data.task), data.task)
    extra = tuple(resolve_metric(e, data.task) for e in extra_metrics)
    for met in (m, *extra):
        if met.needs is None:
            raise LossInputError(f"compare cannot score {met.name!r}: "
                                 f"{met.why_not.get('compare', 'no scorer')}")
    recommendation: Mapping[str, Any] | None = None
    structure = {"time": time, "group": group, "event": event}
    if losses is not None and (hasattr(losses, "to_dict") or isinstance(losses, dict)):
        recommendation = losses.to_dict() if hasattr(losses, "to_dict") else dict(losses)
        items = [(c["name"], dict(c.get("params") or {}))
                 for c in recommendation.get("choices", [])[:top]]
        source = "recommendation"
    elif losses is None:
        items, recommendation, why = recommended_losses(X, y, task, metric or m.name, top,
                                                        **structure)
        if why:
            notes.append(why)
        if not items:
            items = default_losses(data.task, data.X, data.y, m)
        source = "recommendation" if recommendation else "default"
    else:
        items, source = list(losses), "user"
    probe_batch = _fold_batches(data, np.arange(len(data.y)), np.arange(0))[0]
    problem = data.problem

    def resolve(batch_items: list[Any], src: str) -> list[Candidate]:
        return resolve_candidates(batch_items, problem, data.y, probe_batch, source=src)

    if source == "user":
        cands = resolve(items, source)
    else:  # a suggestion that cannot be trained here is skipped, not fatal
        cands = []
        for item in items:
            try:
                cands += resolve([item], source)
            except LossInputError as exc:
                notes.append(f"skipped {item[0] if isinstance(item, tuple) else item}: {exc}")
    if not cands and source == "user":
        raise LossInputError("no losses to compare")
    base_spec = baseline if baseline is not None else BASELINES[data.task]
    base_label = base_spec if isinstance(base_spec, str) else None
    match = [c for c in cands if base_label is not None and (c.label == base_label
                                                             or (c.spec == base_label
                                                                 and not c.params))]
    if match:
        base = match[0]
    else:
        try:
            base = resolve([base_spec], "baseline")[0]
        except LossInputError as exc:
            raise LossInputError(f"the baseline {base_spec!r} cannot be trained here: {exc}; "
                                 "pass baseline=") from None
        cands.insert(0, base)
    if len(cands) == 1 and source != "user":
        # The suggestion is the baseline itself: add the usual alternatives so the
        # comparison still says whether anything beats it.
        notes.append(f"the recommended loss is the baseline {base.label}; compared it with "
                     f"common alternatives")
        for item in default_losses(data.task, data.X, data.y, m):
            try:
                cands += resolve([item], "default")
            except LossInputError as exc:
                notes.append(f"skipped {item[0] if isinstance(item, tuple) else item}: {exc}")
    cands = _dedupe(cands, base, notes)
    order_note = _ordered_rows_note(data)
    if order_note:
        notes.append(order_note)

    splits = _splits(data, folds, repeats, seed, notes)
    cfg = TrainConfig(model=model, epochs=epochs, lr=lr, batch_size=batch_size,
                      threshold=threshold)
    total = len(splits) * len(cands)
    per_cand: dict[str, list[FoldResult]] = {c.label: [] for c in cands}
    failures: dict[str, str] = {}
    done = 0
    import sklearn

    # The probe already checked the targets' values; skip the per-call re-reads, and
    # sklearn's argument validation, which costs more than scoring itself here.
    with single_thread(), warnings.catch_warnings(), value_checks(False), \
            sklearn.config_context(skip_parameter_validation=True, assume_finite=True):
        warnings.simplefilter("ignore", category=UserWarning)
        for f, (tr, te) in enumerate(splits):
            X_tr, X_te = prepare_fold(data.X[tr], data.X[te])
            b_tr, b_te = _fold_batches(data, tr, te)
            for cand in cands:
                if cand.label not in failures:
                    try:
                        per_cand[cand.label].append(fit_fold(
                            cand, problem, X_tr, data.y[tr], b_tr, X_te, data.y[te], b_te,
                            metric=m, cfg=cfg, seed=seed * 1000 + f, extra=extra))
                    except FloatingPointError as exc:
                        failures[cand.label] = str(exc)
                    except (LossInputError, RuntimeError, ValueError) as exc:
                        # a loss that passed the trial call can still refuse a whole fold
                        failures[cand.label] = (f"failed on fold {f + 1}: "
                                                f"{str(exc).splitlines()[0]}")
                done += 1
                if progress is not None:
                    progress(cand.label, done, total)

    results = [_summarize(c, per_cand[c.label], failures.get(c.label), m, c is base)
               for c in cands]
    base_result = next(r for r in results if r.baseline)
    test_fraction = 1.0 / folds
    for r in results:
        if r.baseline or not r.scores or len(r.scores) != len(base_result.scores):
            continue
        r.diff = float(np.mean(np.asarray(r.scores) - np.asarray(base_result.scores)))
        r.p_value = paired_test(r.scores, base_result.scores, test=test,
                                test_fraction=test_fraction)
    sign = 1.0 if m.higher_is_better else -1.0
    results.sort(key=lambda r: -sign * r.mean if math.isfinite(r.mean) else math.inf)
    if data.task in ("binary", "multilabel") and m.needs == "labels":
        notes.append("decision thresholds tuned on the training folds" if threshold == "tune"
                     else f"decision threshold fixed at {threshold}")
    return Comparison(metric=m.name, metric_label=m.title, higher_is_better=m.higher_is_better,
                      task=data.task, test=test, folds=folds, repeats=repeats,
                      n_samples=len(data.y), baseline=base.label, results=results, alpha=alpha,
                      recommendation=recommendation, notes=notes, n_features=data.n_features)


def _dedupe(cands: list[Candidate], base: Candidate, notes: list[str]) -> list[Candidate]:
    """Train equivalent losses once (huber and smooth_l1 with matching delta / beta)."""
    out: list[Candidate] = []
    for cand in cands:
        twin = next((c for c in out if equivalent(c, cand)), None)
        if twin is None:
            out.append(cand)
            continue
        keep, drop = (twin, cand) if cand is not base else (cand, twin)
        if keep is cand:
            out[out.index(twin)] = cand
        notes.append(f"{drop.label} is {keep.label} up to a constant factor (same minimizer, "
                     f"same Adam run): compared once, as {keep.label}")
    return out


def _summarize(cand: Candidate, folds: list[FoldResult], failure: str | None, metric: Metric,
               is_baseline: bool) -> LossResult:
    r = LossResult(loss=cand.label, params=jsonable(cand.params), scores=[], fit_seconds=0.0,
                   baseline=is_baseline, source=cand.source)
    if failure:
        r.warnings.append(failure if failure.startswith("failed") else f"diverged: {failure}")
        r.scores = [float("nan")]
        return r
    r.scores = [f.score for f in folds]
    r.fit_seconds = float(sum(f.fit_seconds for f in folds))
    r.thresholds = [f.threshold for f in folds if f.threshold is not None]
    r.extra = {k: [f.extra[k] for f in folds] for k in (folds[0].extra if folds else {})}
    keys = ("train_loss", "val_loss", "val_metric")
    arr = {k: np.array([f.curves[k] for f in folds], float) for k in keys}
    r.curves = {"epoch": folds[0].curves["epoch"]}
    for k in keys:
        r.curves[k] = arr[k].mean(0).tolist()
        r.curves[k + "_std"] = arr[k].std(0).tolist()
    flag = misalignment(arr["val_loss"], arr["val_metric"],
                        higher_is_better=metric.higher_is_better)
    if flag is not None:
        flag["from_epoch"] = int(r.curves["epoch"][flag.pop("from_point")])
        r.misaligned = flag
        r.warnings.append(
            f"loss-metric misalignment: validation loss kept falling "
            f"({flag['loss_start']:.4g} -> {flag['loss_end']:.4g}) after epoch "
            f"{flag['from_epoch']} while {metric.title} got worse ({flag['metric_best']:.4g} -> "
            f"{flag['metric_end']:.4g}) in {flag['folds_worse']}/{flag['folds']} folds; "
            f"this loss does not optimize what you measure")
    return r
