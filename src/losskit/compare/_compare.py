"""``losskit.compare``: an empirical tournament of losses on the user's own data."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._core.validate import LossInputError, value_checks
from ._candidates import Candidate, resolve_candidates
from ._metrics import Metric, default_metric, resolve_metric
from ._stats import TESTS, misalignment, paired_test
from ._train import FoldResult, TrainConfig, fit_fold, jsonable, prepare_features, single_thread

__all__ = ["Comparison", "LossResult", "compare", "infer_task"]

BASELINES = {"regression": "mse", "binary": "binary_cross_entropy", "multiclass": "cross_entropy"}


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
    misaligned: dict | None = None
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
    recommendation: dict | None = None
    notes: list[str] = field(default_factory=list)

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"metric", "higher_is_better", "results": [{"loss", "mean", ...}]}``."""
        results = []
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
            "n_samples": self.n_samples, "recommendation": jsonable(self.recommendation),
            "notes": list(self.notes),
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

        if kind == "curves":
            return plot.plot_curves(self, out=out)
        return plot.plot_comparison(self, out=out)


def infer_task(y: np.ndarray, task: str | None = None) -> str:
    """``"regression"``, ``"binary"`` or ``"multiclass"`` from the target (or the hint)."""
    if task is not None:
        t = task.lower()
        if t in ("regression", "binary", "multiclass"):
            return t
        if t in ("classification", "multi_class", "multiclass_classification"):
            return "binary" if len(np.unique(y)) <= 2 else "multiclass"
        if t in ("binary_classification",):
            return "binary"
        if t in ("quantile", "forecasting", "robust_regression"):
            return "regression"
        raise LossInputError(f"task must be 'regression', 'binary', 'multiclass' or "
                             f"'classification', got {task!r}")
    if y.dtype.kind in "OUSb":
        return "binary" if len(np.unique(y)) <= 2 else "multiclass"
    yf = y.astype(float)
    values = np.unique(yf[np.isfinite(yf)])
    if len(values) <= 2:
        return "binary"
    if np.all(values == np.round(values)) and len(values) <= 20 and values.min() >= 0:
        return "multiclass"
    return "regression"


def _as_arrays(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise LossInputError(f"y must be one target per sample, shape [N]; got {y.shape}")
    if X is None:
        X = np.zeros((len(y), 0))
    elif isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    elif hasattr(X, "to_numpy"):
        import pandas as pd

        X = pd.get_dummies(X, dtype=float).to_numpy(dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or len(X) != len(y):
        raise LossInputError(f"X must be [N, features] with N = len(y) = {len(y)}; "
                             f"got shape {X.shape}")
    if len(y) < 10:
        raise LossInputError(f"compare needs at least 10 samples, got {len(y)}")
    return X, y


def _encode(y: np.ndarray, task: str) -> tuple[np.ndarray, list[Any]]:
    if task == "regression":
        yf = y.astype(float)
        if not np.all(np.isfinite(yf)):
            raise LossInputError("the target has missing or infinite values; drop those rows")
        return yf, []
    classes, codes = np.unique(y, return_inverse=True)
    if task == "binary" and len(classes) != 2:
        raise LossInputError(f"a binary task needs exactly 2 classes, the target has "
                             f"{len(classes)}")
    return codes.astype(int), classes.tolist()


def _splits(task: str, y: np.ndarray, folds: int, repeats: int, seed: int):
    from sklearn.model_selection import (
        KFold,
        RepeatedKFold,
        RepeatedStratifiedKFold,
        StratifiedKFold,
    )

    if task == "regression":
        cv = (KFold(folds, shuffle=True, random_state=seed) if repeats == 1
              else RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=seed))
        return list(cv.split(np.zeros(len(y))))
    smallest = int(np.bincount(y).min())
    if smallest < folds:
        raise LossInputError(f"the rarest class has {smallest} samples, fewer than folds="
                             f"{folds}; lower --folds")
    cv = (StratifiedKFold(folds, shuffle=True, random_state=seed) if repeats == 1
          else RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed))
    return list(cv.split(np.zeros(len(y)), y))


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
    if task == "regression":
        if metric.name.startswith("pinball@"):
            out.append(("quantile", {"quantiles": float(metric.name.split("@")[1])}))
        out += [("huber", {"delta": round(_robust_delta(X, y), 4)}), "mae"]
    elif task == "binary":
        pos = max(int(y.sum()), 1)
        ratio = (len(y) - pos) / pos
        if ratio > 2:
            out.append(("binary_cross_entropy", {"pos_weight": round(ratio, 3)}))
        out.append(("sigmoid_focal", {"gamma": 2.0, "alpha": 0.75 if ratio > 2 else 0.5}))
    else:
        counts = np.bincount(y).astype(float)
        if counts.max() / max(counts.min(), 1) > 2:
            w = len(y) / (len(counts) * np.maximum(counts, 1))
            out.append(("cross_entropy", {"class_weight": [round(float(v), 4) for v in w]}))
        out.append(("softmax_focal", {"gamma": 2.0}))
    return [c for c in out if (c if isinstance(c, str) else c[0]) in have]


def recommended_losses(X: np.ndarray, y_raw: np.ndarray, task: str | None, metric: str | None,
                       top: int = 3) -> tuple[list[Any], dict | None, str | None]:
    """The advisor's top choices as (name, params) pairs, its dict, or why it was skipped."""
    try:
        from ..advise import recommend
    except ImportError as exc:
        return [], None, f"the advisor is not available ({exc}); compared a default set"
    try:
        # The advisor infers the task itself; pass on only what the user said.
        kwargs: dict[str, Any] = {"metric": metric} if task is None else {"metric": metric,
                                                                          "task": task}
        data = recommend(y_raw, X if X.shape[1] else None, **kwargs).to_dict()
    except Exception as exc:  # the advisor is another feature; never let it sink a comparison
        return [], None, f"the advisor failed ({type(exc).__name__}: {exc}); compared a default set"
    choices = [(c["name"], dict(c.get("params") or {})) for c in data.get("choices", [])[:top]]
    return choices, data, None


def compare(X: Any, y: Any, *, losses: Sequence[Any] | None = None, metric: str | None = None,
            task: str | None = None, model: str | Callable[[int, int], torch.nn.Module] = "linear",
            folds: int = 5, repeats: int = 1, epochs: int = 150, seed: int = 0,
            lr: float | None = None, batch_size: int | None = None,
            threshold: str | float = "tune", baseline: Any = None, test: str = "corrected_t",
            alpha: float = 0.05, top: int = 3, extra_metrics: Sequence[str] = (),
            progress: Callable[[str, int, int], None] | None = None) -> Comparison:
    """Train each candidate loss on the same cross-validation folds and score it on ``metric``.

    Args:
        X: ``[N, F]`` features (array, DataFrame, tensor) or None for intercept-only models.
        y: ``[N]`` targets: real values (regression) or class labels (any dtype).
        losses: names, specs (``"0.5*mae + 0.5*mse"``), ``(name, params)`` pairs, or
            callables ``fn(output, target) -> scalar``; or a ``Recommendation`` (its top
            ``top`` choices). None: the top choices of ``losskit.recommend(y, X, task=...,
            metric=...)`` (a default set if the advisor is unavailable). Suggested losses
            that cannot be trained on this task are skipped with a note.
        metric: what the comparison is judged by (scikit-learn implementations): ``mae``,
            ``rmse``, ``mse``, ``r2``, ``medae``, ``mape``, ``pinball@Q``, ``f1``,
            ``recall``, ``precision``, ``accuracy``, ``balanced_accuracy``, ``mcc``,
            ``jaccard``/``iou``, ``dice``, ``roc_auc``, ``average_precision``, ``log_loss``.
            Default: ``mae`` for regression, ``f1`` for classification.
        task: ``"regression"``, ``"binary"``, ``"multiclass"`` or None to infer from ``y``.
        model: ``"linear"``, ``"mlp"`` or ``factory(n_features, n_outputs) -> nn.Module``.
        folds, repeats: (repeated) K-fold, stratified for classification.
        epochs: full-batch Adam steps (passes over the data when ``batch_size`` is set).
        threshold: binary label metrics use a decision threshold tuned on the training
            folds (``"tune"``; recall and precision use the F1-optimal one) or a fixed one.
        baseline: the loss the p-values compare against (default ``mse``,
            ``binary_cross_entropy`` or ``cross_entropy``); added if not among ``losses``.
        test: ``"corrected_t"`` (default), ``"t"`` or ``"wilcoxon"`` on the per-fold scores.
        extra_metrics: more metrics scored on the same trained models (reported in
            ``other_metrics``; the ranking and the tests use ``metric``).
        progress: ``callback(label, done, total)`` after every fold of every candidate.

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
    if int(folds) < 2:
        raise LossInputError(f"folds must be at least 2, got {folds}")
    X, y_raw = _as_arrays(X, y)
    user_task, task = task, infer_task(y_raw, task)
    y_enc, classes = _encode(y_raw, task)
    n_classes = max(len(classes), 2)
    m = resolve_metric(metric or default_metric(task), task)
    extra = tuple(resolve_metric(e, task) for e in extra_metrics)
    notes: list[str] = []
    recommendation = None
    if losses is not None and (hasattr(losses, "to_dict") or isinstance(losses, dict)):
        recommendation = losses.to_dict() if hasattr(losses, "to_dict") else dict(losses)
        items = [(c["name"], dict(c.get("params") or {}))
                 for c in recommendation.get("choices", [])[:top]]
        source = "recommendation"
    elif losses is None:
        items, recommendation, why = recommended_losses(X, y_raw, user_task, m.name, top)
        if why:
            notes.append(why)
        if not items:
            items = default_losses(task, X, y_enc, m)
        source = "recommendation" if recommendation else "default"
    else:
        items, source = list(losses), "user"
    if source == "user":
        cands = resolve_candidates(items, task, y_enc, n_classes, source=source)
    else:  # a suggestion that cannot be trained here is skipped, not fatal
        cands = []
        for item in items:
            try:
                cands += resolve_candidates([item], task, y_enc, n_classes, source=source)
            except LossInputError as exc:
                notes.append(f"skipped {item[0] if isinstance(item, tuple) else item}: {exc}")
    if not cands and source == "user":
        raise LossInputError("no losses to compare")
    base_spec = baseline if baseline is not None else BASELINES[task]
    base_label = base_spec if isinstance(base_spec, str) else None
    match = [c for c in cands if base_label is not None and (c.label == base_label
                                                             or (c.spec == base_label
                                                                 and not c.params))]
    if match:
        base = match[0]
    else:
        base = resolve_candidates([base_spec], task, y_enc, n_classes, source="baseline")[0]
        cands.insert(0, base)
    if len(cands) == 1 and source != "user":
        # The suggestion is the baseline itself: add the usual alternatives so the
        # comparison still says whether anything beats it.
        notes.append(f"the recommended loss is the baseline {base.label}; compared it with "
                     f"common alternatives")
        for item in default_losses(task, X, y_enc, m):
            try:
                cands += resolve_candidates([item], task, y_enc, n_classes, source="default")
            except LossInputError as exc:
                notes.append(f"skipped {item[0] if isinstance(item, tuple) else item}: {exc}")

    splits = _splits(task, y_enc, int(folds), int(repeats), seed)
    cfg = TrainConfig(model=model, epochs=int(epochs), lr=lr, batch_size=batch_size,
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
            X_tr, X_te = prepare_features(X[tr], X[te])
            for cand in cands:
                if cand.label not in failures:
                    try:
                        per_cand[cand.label].append(fit_fold(
                            cand, X_tr, y_enc[tr], X_te, y_enc[te], metric=m,
                            n_classes=n_classes, cfg=cfg, seed=seed * 1000 + f,
                            extra=extra))
                    except FloatingPointError as exc:
                        failures[cand.label] = str(exc)
                done += 1
                if progress is not None:
                    progress(cand.label, done, total)

    results = [_summarize(c, per_cand[c.label], failures.get(c.label), m, c is base)
               for c in cands]
    base_result = next(r for r in results if r.baseline)
    for r in results:
        if r.baseline or not r.scores or len(r.scores) != len(base_result.scores):
            continue
        r.diff = float(np.mean(np.asarray(r.scores) - np.asarray(base_result.scores)))
        r.p_value = paired_test(r.scores, base_result.scores, test=test,
                                test_fraction=1.0 / int(folds))
    sign = 1.0 if m.higher_is_better else -1.0
    results.sort(key=lambda r: -sign * r.mean if math.isfinite(r.mean) else math.inf)
    if task == "binary" and m.needs == "labels":
        notes.append("decision thresholds tuned on the training folds" if threshold == "tune"
                     else f"decision threshold fixed at {threshold}")
    return Comparison(metric=m.name, metric_label=m.title, higher_is_better=m.higher_is_better,
                      task=task, test=test, folds=int(folds), repeats=int(repeats),
                      n_samples=len(y_enc), baseline=base.label, results=results, alpha=alpha,
                      recommendation=recommendation, notes=notes)


def _summarize(cand: Candidate, folds: list[FoldResult], failure: str | None, metric: Metric,
               is_baseline: bool) -> LossResult:
    r = LossResult(loss=cand.label, params=jsonable(cand.params), scores=[], fit_seconds=0.0,
                   baseline=is_baseline, source=cand.source)
    if failure:
        r.warnings.append(f"diverged: {failure}")
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
