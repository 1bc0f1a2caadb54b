"""One vocabulary of tasks and metrics, shared by ``profile``, ``recommend``, ``compare`` and
the CLI.

* :data:`TASKS` and :data:`TASK_ALIASES`: the task names and their other spellings;
  :func:`normalize_task` turns a user's word into a task name or says which exist.
* :func:`infer_task`: the single task inference (what the target, the metric and the
  declared structure say), returning the task and the sentence that decided it.
* :data:`METRICS`: every metric by its canonical name, with its aliases, the tasks it
  applies to, which way is better, what a model must predict for it (values, labels,
  probabilities, a risk score, scores within groups) and the statistic that minimizes
  it (mean, median, a quantile, ...). :func:`resolve_metric` reads ``"pinball@0.9"``,
  ``"q90"``, ``"ndcg@10"`` and aliases, and explains a metric that does not fit the task.

Scores are computed by well-kept libraries: scikit-learn for regression, classification
and NDCG, scikit-survival for the concordance index, torchmetrics for the expected
calibration error (optional extras; a missing one is named in the error).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._core.validate import LossInputError

__all__ = [
    "METRICS",
    "TASKS",
    "TASK_ALIASES",
    "Metric",
    "as_target_array",
    "close_metric",
    "infer_task",
    "metric_fits_task",
    "normalize_metric",
    "normalize_task",
    "resolve_metric",
]

# ---------------------------------------------------------------------------------------
# Tasks

#: Task kinds: inferred from the target (and the declared structure), or declared.
TASKS = {
    "binary": "two classes",
    "multiclass": "one of K > 2 unordered classes per sample",
    "multilabel": "any subset of K labels per sample (indicator matrix [N, K])",
    "ordinal": "ordered levels (integers judged by a distance metric, or declared)",
    "count": "non-negative integer counts",
    "continuous": "real-valued regression target",
    "proportion": "real values in [0, 1] (rates, shares, fractional labels)",
    "multioutput": "several real-valued target columns per sample (multi-output regression)",
    "soft_labels": "a probability distribution over K classes per sample ([N, K], rows sum to 1)",
    "survival": "times to an event, some censored (give the event indicator: event=)",
    "ranking": "relevance of items within groups (queries, users, choice sets: group=)",
    "segmentation": "a class label per pixel ([N, H, W] or [N, D, H, W])",
    "sequence": "token sequences (ragged lists or a padded [N, T] integer matrix)",
    "reconstruction": "an image or signal to reproduce (autoencoders, restoration; float "
                      "[N, C, H, W])",
    # declared only: the target alone cannot reveal these
    "metric_learning": "identity labels for embedding training (faces, re-identification)",
    "image_text": "paired images and texts (vision-language contrastive training)",
    "preference": "preference pairs: a chosen and a rejected response per prompt",
    "reward_modeling": "a scalar reward model trained on preference pairs",
    "rl_finetuning": "policy optimization of a language model on rewards (PPO, GRPO)",
    "detection": "bounding boxes and their classes",
    "reinforcement": "returns or rewards of a policy",
    "energy": "class labels for an energy-based model",
}

#: Other spellings of a task. "classification" keeps the inferred binary / multiclass split.
TASK_ALIASES = {
    "regression": "continuous", "real": "continuous", "forecasting": "continuous",
    "robust_regression": "continuous", "quantile": "continuous",
    "counts": "count", "poisson": "count",
    "multi_label": "multilabel", "multilabel_classification": "multilabel",
    "binary_classification": "binary", "multi_class": "multiclass",
    "multiclass_classification": "multiclass", "nominal": "multiclass",
    "ordered": "ordinal", "ordinal_regression": "ordinal", "rating": "ordinal",
    "multi_output": "multioutput", "multioutput_regression": "multioutput",
    "multi_output_regression": "multioutput", "multitarget": "multioutput",
    "soft": "soft_labels", "probabilities": "soft_labels", "distillation": "soft_labels",
    "bounded": "proportion", "rate": "proportion", "share": "proportion",
    "censored": "survival", "time_to_event": "survival", "hazard": "survival",
    "learning_to_rank": "ranking", "ltr": "ranking", "choice": "ranking",
    "masks": "segmentation", "tokens": "sequence", "language_modeling": "sequence",
    "embedding": "metric_learning", "face_recognition": "metric_learning",
    "re_identification": "metric_learning", "reid": "metric_learning",
    "vision_language": "image_text", "clip": "image_text", "contrastive_pairs": "image_text",
    "autoencoder": "reconstruction", "vae": "reconstruction", "image_restoration":
    "reconstruction", "denoising": "reconstruction", "super_resolution": "reconstruction",
    "alignment": "preference", "dpo": "preference", "preference_pairs": "preference",
    "reward_model": "reward_modeling", "rm": "reward_modeling",
    "rlhf": "rl_finetuning", "grpo": "rl_finetuning", "ppo": "rl_finetuning",
    "boxes": "detection", "rl": "reinforcement", "classification": "classification",
}

_CLASS_TASKS = ("binary", "multiclass", "ordinal")
_REGRESSION_TASKS = ("continuous", "count", "proportion", "multioutput")


def _key(word: str) -> str:
    return str(word).strip().lower().replace("-", "_").replace(" ", "_")


def normalize_task(task: str | None) -> str | None:
    """A task name from :data:`TASKS` (or ``"classification"``), or a clear error."""
    if task is None:
        return None
    if not isinstance(task, str):
        raise LossInputError(f"task must be a string, got {type(task).__name__}")
    key = _key(task)
    key = TASK_ALIASES.get(key, key)
    if key not in TASKS and key != "classification":
        import difflib

        near = difflib.get_close_matches(key, [*TASKS, *TASK_ALIASES], n=1, cutoff=0.6)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise LossInputError(f"unknown task {task!r}{hint}; choose from {', '.join(TASKS)}")
    return key


# ---------------------------------------------------------------------------------------
# Metrics


@dataclass(frozen=True)
class Metric:
    """A scoring rule and what it asks of a model.

    ``needs`` is what the scorer reads: ``"values"`` (point predictions), ``"labels"``
    (class decisions), ``"proba"`` (class probabilities), ``"risk"`` (higher = earlier
    event), ``"scores"`` (within groups) or None when ``compare`` cannot score it from a
    feature table (the advisor still reasons about it). ``optimizes`` is the statistic
    that minimizes the expected metric: ``"mean"``, ``"median"``, ``"quantile"``, ...
    """

    name: str
    label: str
    higher_is_better: bool
    needs: str | None
    tasks: tuple[str, ...]
    optimizes: str
    fn: Callable[..., float] | None = None
    aliases: tuple[str, ...] = ()
    tune_for: str | None = None
    level: float | None = None
    requires: str | None = None
    why_not: Mapping[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.label or self.name

    def __call__(self, y_true: np.ndarray, prediction: np.ndarray, *, n_classes: int = 2,
                 group: np.ndarray | None = None, event: np.ndarray | None = None) -> float:
        if self.fn is None:
            raise LossInputError(f"metric {self.name!r} cannot be scored from a feature table "
                                 f"({self.why_not.get('compare', 'no scorer')})")
        return float(self.fn(y_true, prediction, n_classes=n_classes, group=group,
                             event=event))


def _sk() -> Any:
    import sklearn.metrics as skm

    return skm


def _labels_fn(sk_name: str) -> Callable[..., float]:
    def fn(y: Any, labels: Any, *, n_classes: int, **_: Any) -> Any:
        f = getattr(_sk(), sk_name)
        if np.ndim(y) == 2:  # multi-label indicators
            return f(y, labels, average="macro", zero_division=0)
        if n_classes <= 2:
            return f(y, labels, average="binary", zero_division=0)
        return f(y, labels, average="macro", labels=np.arange(n_classes), zero_division=0)
    return fn


def _roc_auc(y: Any, proba: np.ndarray, **_: Any) -> Any:
    if proba.ndim == 1 or np.ndim(y) == 2:
        return _sk().roc_auc_score(y, proba, average="macro")
    return _sk().roc_auc_score(y, proba, multi_class="ovr", labels=np.arange(proba.shape[1]))


def _average_precision(y: Any, proba: np.ndarray, **_: Any) -> Any:
    if proba.ndim == 1 or np.ndim(y) == 2:
        return _sk().average_precision_score(y, proba, average="macro")
    return _sk().average_precision_score(np.eye(proba.shape[1])[y], proba, average="macro")


def _two_columns(proba: np.ndarray) -> np.ndarray:
    return np.stack([1 - proba, proba], 1) if proba.ndim == 1 else proba


def _log_loss(y: Any, proba: np.ndarray, **_: Any) -> Any:
    if np.ndim(y) == 2:  # multi-label: mean binary log-loss over labels
        p = np.clip(proba, 1e-15, 1 - 1e-15)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))
    proba = _two_columns(proba)
    return _sk().log_loss(y, proba, labels=np.arange(proba.shape[1]))


def _brier(y: Any, proba: np.ndarray, **_: Any) -> Any:
    if proba.ndim == 1:
        return _sk().brier_score_loss(y, proba)
    # the multi-class Brier score: mean over samples of sum_k (p_k - onehot_k)^2
    return float(np.mean(np.sum((proba - np.eye(proba.shape[1])[y]) ** 2, axis=1)))


def _ece(y: Any, proba: np.ndarray, **_: Any) -> float:
    """Expected calibration error (15 equal-width bins, L1), torchmetrics' implementation."""
    try:
        import torch
        from torchmetrics.functional.classification import (
            binary_calibration_error,
            multiclass_calibration_error,
        )
    except ImportError:
        raise LossInputError("the expected calibration error comes from torchmetrics: "
                             "pip install 'losskit[calibration]'") from None
    p = torch.as_tensor(np.asarray(proba, dtype=np.float64))
    t = torch.as_tensor(np.asarray(y, dtype=np.int64))
    if p.ndim == 1:
        return float(binary_calibration_error(p, t, n_bins=15, norm="l1"))
    return float(multiclass_calibration_error(p, t, num_classes=p.shape[1], n_bins=15,
                                              norm="l1"))


def _qwk(y: Any, labels: Any, **_: Any) -> Any:
    return _sk().cohen_kappa_score(y, labels, weights="quadratic")


def _rmse(y: Any, p: Any, **_: Any) -> float:
    return float(np.sqrt(_sk().mean_squared_error(y, p)))


_TINY = 1e-9


def _positive(p: np.ndarray) -> np.ndarray:
    """Deviances are undefined for predictions <= 0; a model that predicts them pays."""
    return np.asarray(np.maximum(p, _TINY))


def _smape(y: Any, p: Any, **_: Any) -> float:
    y, p = np.asarray(y, float), np.asarray(p, float)
    denom = np.abs(y) + np.abs(p)
    ratio = np.divide(2 * np.abs(p - y), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(np.mean(ratio))


def _concordance(time: Any, risk: Any, *, event: Any, **_: Any) -> Any:
    try:
        from sksurv.metrics import concordance_index_censored  # type: ignore[import-untyped]
    except ImportError:
        raise LossInputError("the concordance index comes from scikit-survival: "
                             "pip install 'losskit[survival]'") from None
    return concordance_index_censored(np.asarray(event, bool), np.asarray(time, float),
                                      np.asarray(risk, float))[0]


def _grouped(y: Any, scores: Any, group: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(relevance, scores) per group with at least two items and some spread in relevance."""
    order = np.argsort(group, kind="mergesort")
    g, y, s = np.asarray(group)[order], np.asarray(y, float)[order], np.asarray(scores)[order]
    cuts = np.flatnonzero(np.diff(g)) + 1
    for yy, ss in zip(np.split(y, cuts), np.split(s, cuts)):
        if len(yy) >= 2 and np.ptp(yy) > 0:
            yield yy, ss


def _padded(y: Any, scores: Any, group: Any) -> tuple[np.ndarray, np.ndarray]:
    """The groups as rows of a [Q, L] matrix; padding has relevance 0 and the lowest score,
    so it adds no gain and changes no ideal DCG: scikit-learn scores every query at once."""
    lists = list(_grouped(y, scores, group))
    if not lists:
        return np.zeros((0, 2)), np.zeros((0, 2))
    width = max(len(yy) for yy, _ in lists)
    floor = min(float(np.min(ss)) for _, ss in lists) - 1.0
    rel = np.zeros((len(lists), width))
    sco = np.full((len(lists), width), floor)
    for i, (yy, ss) in enumerate(lists):
        rel[i, :len(yy)], sco[i, :len(ss)] = yy, ss
    return rel, sco


def _ndcg_fn(k: int) -> Callable[..., float]:
    def fn(y: Any, scores: Any, *, group: Any = None, **_: Any) -> Any:
        if group is None:
            return _sk().ndcg_score(np.asarray(y, float)[None], np.asarray(scores)[None], k=k)
        rel, sco = _padded(y, scores, group)
        return float(_sk().ndcg_score(rel, sco, k=k)) if len(rel) else float("nan")
    return fn


def _mrr(y: Any, scores: Any, *, group: Any = None, **_: Any) -> float:
    groups = _grouped(y, scores, group) if group is not None else [(np.asarray(y, float),
                                                                   np.asarray(scores))]
    values = []
    for yy, ss in groups:
        ranks = np.argsort(np.argsort(-ss, kind="mergesort"), kind="mergesort") + 1
        values.append(1.0 / ranks[yy == yy.max()].min())
    return float(np.mean(values)) if values else float("nan")


_VALUE_TASKS = (*_REGRESSION_TASKS, "ordinal", "reconstruction")
_LABEL_TASKS = ("binary", "multiclass", "ordinal", "multilabel", "energy", "segmentation")
_PROBA_TASKS = ("binary", "multiclass", "ordinal", "multilabel")

_NOMINAL = ("a {task} target has unordered classes, so a distance between labels means "
            "nothing: if the classes are ordered levels declare task='ordinal'; otherwise "
            "judge by accuracy, f1 or log_loss")
_SEQUENCE = ("a sequence target is scored per token (perplexity, token accuracy, wer), "
             "not by a distance between token ids")


def _regression(name: str, label: str, fn: Callable[..., float], optimizes: str,
                aliases: tuple[str, ...], tasks: tuple[str, ...] = _VALUE_TASKS,
                higher: bool = False) -> Metric:
    return Metric(name, label, higher, "values", tasks, optimizes, fn, aliases,
                  why_not={"multiclass": _NOMINAL, "binary": _NOMINAL, "sequence": _SEQUENCE})


_METRIC_LIST: tuple[Metric, ...] = (
    # ---------------------------------------------------------------- regression
    _regression("rmse", "RMSE", _rmse, "mean", ("root_mean_squared_error",)),
    _regression("mse", "MSE", lambda y, p, **_: _sk().mean_squared_error(y, p), "mean",
                ("mean_squared_error", "l2")),
    _regression("r2", "R²", lambda y, p, **_: _sk().r2_score(y, p), "mean",
                ("r_squared", "rsquared", "explained_variance"), higher=True),
    _regression("mae", "MAE", lambda y, p, **_: _sk().mean_absolute_error(y, p), "median",
                ("l1", "mean_absolute_error")),
    _regression("medae", "median abs. error",
                lambda y, p, **_: _sk().median_absolute_error(y, p), "median",
                ("median_absolute_error",)),
    _regression("mape", "MAPE",
                lambda y, p, **_: _sk().mean_absolute_percentage_error(y, p), "relative",
                ("mean_absolute_percentage_error",), _REGRESSION_TASKS),
    _regression("smape", "sMAPE", _smape, "relative", ("symmetric_mape",), _REGRESSION_TASKS),
    _regression("rmsle", "RMSLE",
                lambda y, p, **_: _sk().root_mean_squared_log_error(y, np.maximum(p, 0)),
                "log_mean", ("msle", "mean_squared_log_error", "root_mean_squared_log_error"),
                _REGRESSION_TASKS),
    _regression("poisson_deviance", "Poisson deviance",
                lambda y, p, **_: _sk().mean_poisson_deviance(y, _positive(p)), "mean",
                ("poisson", "mean_poisson_deviance", "deviance"),
                ("count", "continuous", "proportion", "multioutput")),
    _regression("gamma_deviance", "Gamma deviance",
                lambda y, p, **_: _sk().mean_gamma_deviance(y, _positive(p)), "mean",
                ("mean_gamma_deviance",), ("continuous", "count")),
    _regression("tweedie_deviance", "Tweedie deviance (p=1.5)",
                lambda y, p, **_: _sk().mean_tweedie_deviance(y, _positive(p), power=1.5),
                "mean", ("mean_tweedie_deviance",), ("continuous", "count")),
    Metric("interval_coverage", "interval coverage", True, None,
           ("continuous", "count", "multioutput"), "interval",
           aliases=("coverage", "prediction_interval", "interval_score", "winkler"),
           why_not={"compare": "it needs predicted intervals; compare pinball@0.05 and "
                               "pinball@0.95 instead"}),
    Metric("crps", "CRPS", False, None, ("continuous", "count", "multioutput"),
           "distribution", aliases=("continuous_ranked_probability_score",),
           why_not={"compare": "it needs a predictive distribution; compare pinball at "
                               "several levels instead"}),
    Metric("gaussian_nll", "Gaussian NLL", False, None, ("continuous", "count", "multioutput"),
           "distribution", aliases=("nll_gaussian", "predictive_nll"),
           why_not={"compare": "it needs a predicted variance per sample"}),
    # ---------------------------------------------------------------- classification
    Metric("accuracy", "accuracy", True, "labels", _LABEL_TASKS, "mode",
           lambda y, p, **_: _sk().accuracy_score(y, p), ("acc", "top1", "error_rate"),
           tune_for="accuracy"),
    Metric("balanced_accuracy", "balanced accuracy", True, "labels",
           ("binary", "multiclass", "ordinal", "energy"), "balanced",
           lambda y, p, **_: _sk().balanced_accuracy_score(y, p),
           ("bacc", "mean_recall", "macro_recall", "mean_per_class_accuracy"),
           tune_for="balanced_accuracy"),
    Metric("f1", "F1", True, "labels", _LABEL_TASKS, "balanced", _labels_fn("f1_score"),
           ("f1_score", "macro_f1", "micro_f1", "fbeta", "f2", "f_score"), tune_for="f1"),
    Metric("recall", "recall", True, "labels", _LABEL_TASKS, "balanced",
           _labels_fn("recall_score"), ("sensitivity", "tpr", "true_positive_rate"),
           tune_for="f1"),
    Metric("precision", "precision", True, "labels", _LABEL_TASKS, "balanced",
           _labels_fn("precision_score"), ("ppv", "positive_predictive_value"), tune_for="f1"),
    Metric("mcc", "MCC", True, "labels", ("binary", "multiclass", "ordinal"), "balanced",
           lambda y, p, **_: _sk().matthews_corrcoef(y, p), ("matthews_corrcoef",),
           tune_for="mcc"),
    Metric("jaccard", "IoU (Jaccard)", True, "labels",
           ("binary", "multiclass", "multilabel", "segmentation"), "overlap",
           _labels_fn("jaccard_score"), ("iou", "miou", "mean_iou", "jaccard_score"),
           tune_for="jaccard"),
    Metric("dice", "Dice", True, "labels", ("binary", "multiclass", "multilabel",
                                             "segmentation"), "overlap",
           _labels_fn("f1_score"), ("dice_score", "dsc"), tune_for="f1"),
    Metric("roc_auc", "ROC AUC", True, "proba", _PROBA_TASKS, "ranking", _roc_auc,
           ("auc", "auroc", "roc", "gini")),
    Metric("average_precision", "average precision", True, "proba", _PROBA_TASKS, "ranking",
           _average_precision, ("ap", "pr_auc", "auprc", "auc_pr")),
    Metric("log_loss", "log loss", False, "proba", (*_PROBA_TASKS, "soft_labels"),
           "probability", _log_loss, ("logloss", "cross_entropy", "nll", "bce")),
    Metric("brier", "Brier score", False, "proba", ("binary", "multiclass", "ordinal"),
           "probability", _brier, ("brier_score", "brier_score_loss")),
    Metric("ece", "expected calibration error", False, "proba",
           ("binary", "multiclass", "ordinal"), "probability", _ece,
           ("expected_calibration_error", "calibration", "calibration_error"),
           requires="torchmetrics"),
    Metric("qwk", "quadratic weighted kappa", True, "labels", ("ordinal", "multiclass"),
           "ordinal", _qwk, ("kappa", "quadratic_weighted_kappa", "cohen_kappa")),
    # ---------------------------------------------------------------- ranking, survival
    Metric("ndcg", "NDCG@10", True, "scores", ("ranking",), "ranking", _ndcg_fn(10),
           ("ndcg_score",), level=10),
    Metric("mrr", "MRR", True, "scores", ("ranking",), "ranking", _mrr,
           ("mean_reciprocal_rank",)),
    Metric("concordance", "concordance index", True, "risk", ("survival",), "ranking",
           _concordance, ("c_index", "cindex", "harrell_c", "concordance_index"),
           requires="sksurv"),
    # ---------------------------------------------------------------- beyond tables
    Metric("perplexity", "perplexity", False, None, ("sequence",), "probability",
           aliases=("ppl", "token_accuracy"),
           why_not={"compare": "it is scored on token sequences"}),
    Metric("wer", "word error rate", False, None, ("sequence",), "sequence",
           aliases=("cer", "edit_distance", "bleu"),
           why_not={"compare": "it is scored on decoded sequences"}),
    Metric("demographic_parity", "demographic parity gap", False, None, ("binary",),
           "fairness", aliases=("statistical_parity",),
           why_not={"compare": "it needs group membership"}),
    Metric("equalized_odds", "equalized odds gap", False, None, ("binary",), "fairness",
           aliases=("equal_opportunity",), why_not={"compare": "it needs group membership"}),
    Metric("reward_accuracy", "preference accuracy", True, None,
           ("preference", "reward_modeling"), "preference",
           aliases=("preference_accuracy", "win_rate", "pairwise_accuracy"),
           why_not={"compare": "it is scored on preference pairs"}),
    Metric("reward", "mean reward", True, None, ("rl_finetuning", "reinforcement"), "reward",
           aliases=("return", "episode_return", "mean_reward"),
           why_not={"compare": "it is measured by rolling out the policy"}),
    Metric("recall_at_k", "recall@k", True, None, ("metric_learning", "image_text"),
           "retrieval", aliases=("retrieval_recall", "r_at_k", "top_k_retrieval",
                                 "map_at_r", "verification_accuracy", "tar_at_far"),
           why_not={"compare": "it is scored on embeddings"}),
    Metric("psnr", "PSNR", True, None, ("reconstruction",), "mean",
           aliases=("peak_signal_to_noise_ratio",), why_not={"compare": "it is scored on images"}),
    Metric("ssim", "SSIM", True, None, ("reconstruction",), "structure",
           aliases=("ms_ssim", "structural_similarity", "lpips", "perceptual"),
           why_not={"compare": "it is scored on images"}),
)

#: Every metric by canonical name.
METRICS: dict[str, Metric] = {m.name: m for m in _METRIC_LIST}
_ALIAS = {alias: m.name for m in _METRIC_LIST for alias in (m.name, *m.aliases)}

_PINBALL = re.compile(r"(?:pinball|quantile|q|mean_pinball_loss|pinball_loss|quantile_loss)"
                      r"(?:[@:=_]?(0?\.\d+|\d{1,2}))?")
_AT_K = re.compile(r"(ndcg|mrr|recall)(?:[@:=_]?(\d+))")


def normalize_metric(metric: str | None) -> tuple[str | None, float | None]:
    """(canonical name, or the unknown name as given; its level if it names one).

    ``"pinball@0.9"``, ``"quantile:0.9"``, ``"pinball_0.9"`` and ``"q90"`` name the 0.9
    quantile; ``"ndcg@5"`` names the cut-off 5.
    """
    if metric is None:
        return None, None
    if not isinstance(metric, str):
        raise LossInputError(f"metric must be a string, got {type(metric).__name__}")
    key = _key(metric)
    match = _PINBALL.fullmatch(key)
    if match and (match.group(1) or not key.startswith("q") or key in ("quantile",)):
        raw = match.group(1)
        if raw is None:
            return "pinball", 0.5
        level = float(raw) if "." in raw else float(raw) / 100
        if not 0 < level < 1:
            raise LossInputError(f"a quantile level must lie in (0, 1), got {metric!r}")
        return "pinball", level
    match = _AT_K.fullmatch(key)
    if match and match.group(1) in ("ndcg", "mrr"):
        return match.group(1), float(match.group(2))
    if match and match.group(1) == "recall":
        return "recall_at_k", float(match.group(2))
    return _ALIAS.get(key, key), None


def _pinball(level: float) -> Metric:
    return Metric(f"pinball@{level:g}", f"pinball loss (q={level:g})", False, "values",
                  _VALUE_TASKS, "quantile",
                  lambda y, p, **_: _sk().mean_pinball_loss(y, p, alpha=level),
                  ("pinball", "quantile"), level=level,
                  why_not={"multiclass": _NOMINAL, "binary": _NOMINAL, "sequence": _SEQUENCE})


def metric_fits_task(metric: Metric, task: str) -> str | None:
    """None if ``metric`` applies to ``task``, else a sentence that says why not."""
    if task in metric.tasks:
        return None
    reason = metric.why_not.get(task)
    if reason:
        return reason.format(task=task)
    usable = sorted(name for name, m in METRICS.items() if task in m.tasks)
    return f"it does not apply to a {task} target; metrics that do: {', '.join(usable)}"


def close_metric(name: str) -> str | None:
    """The metric name or alias a misspelt ``name`` most likely meant, if one is close."""
    import difflib

    near = difflib.get_close_matches(name, list(_ALIAS), n=1, cutoff=0.75)
    return near[0] if near else None


def resolve_metric(name: str | Metric, task: str | None = None) -> Metric:
    """The :class:`Metric` a name stands for; with ``task``, also check that it applies."""
    if isinstance(name, Metric):
        metric = name
    else:
        canonical, level = normalize_metric(name)
        if canonical == "pinball":
            metric = _pinball(level if level is not None else 0.5)
        elif canonical in METRICS:
            metric = METRICS[canonical]
            if canonical == "ndcg" and level is not None:
                k = int(level)
                metric = Metric(f"ndcg@{k}", f"NDCG@{k}", True, "scores", ("ranking",),
                                "ranking", _ndcg_fn(k), level=k)
        else:
            known = sorted([*METRICS, "pinball@Q", "ndcg@K"])
            near = close_metric(str(canonical))
            hint = f" (did you mean {near!r}?)" if near else ""
            raise LossInputError(f"unknown metric {name!r}{hint}; known: {', '.join(known)}")
    if task is not None and task != "classification":
        why = metric_fits_task(metric, task)
        if why:
            raise LossInputError(f"metric {metric.name!r} does not fit this {task} target: "
                                 f"{why}")
    return metric


# ---------------------------------------------------------------------------------------
# Target arrays


def as_target_array(y: Any) -> tuple[Any, list[str] | None]:
    """A numpy array (or a list of 1-D arrays for ragged sequences) and column names if any."""
    names = None
    try:
        import torch

        if isinstance(y, torch.Tensor):
            return y.detach().cpu().numpy(), None
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if isinstance(y, Mapping) and y and all(np.ndim(v) >= 1 for v in y.values()):
        import pandas as pd

        y = pd.DataFrame({str(k): list(v) for k, v in y.items()})
    if hasattr(y, "to_numpy") and hasattr(y, "columns"):  # DataFrame
        names = [str(c) for c in y.columns]
        if len(names) == 1:
            return _series_values(y.iloc[:, 0]), names
        if all(_numeric(y[c]) for c in y.columns):
            return y.to_numpy(dtype=float, na_value=np.nan), names
        return y.to_numpy(dtype=object), names
    if hasattr(y, "to_numpy"):  # Series
        return _series_values(y), None
    if isinstance(y, np.ndarray):
        return y, None
    if isinstance(y, (list, tuple)):
        if y and all(isinstance(r, (list, tuple, np.ndarray)) for r in y):
            lengths = {len(r) for r in y}
            if len(lengths) > 1:
                return [np.asarray(r) for r in y], None
        has_none = bool(y) and not isinstance(y[0], (list, tuple)) and any(v is None for v in y)
        return np.asarray(y, dtype=object if has_none else None), None
    return np.asarray(y), None


def _numeric(s: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype))


def _series_values(s: Any) -> np.ndarray:
    import pandas as pd

    if isinstance(s.dtype, pd.CategoricalDtype):
        out = s.astype(object).where(s.notna(), None).to_numpy()
    elif _numeric(s):
        out = s.to_numpy(dtype=float, na_value=np.nan) if s.isna().any() else s.to_numpy()
    else:
        out = s.astype(object).where(s.notna(), None).to_numpy()
    return np.asarray(out)


# ---------------------------------------------------------------------------------------
# Task inference

#: Column names of the usual preference-data layouts (TRL's "chosen"/"rejected", KTO's
#: unpaired "completion"/"label", GRPO's prompts with rewards).
_PREFERENCE_COLUMNS = ({"chosen", "rejected"}, {"completion", "label"})
_IMAGE_TEXT_COLUMNS = ({"image", "text"}, {"image", "caption"}, {"image_path", "caption"})


def _label(v: Any) -> Any:
    if isinstance(v, (np.bool_, bool)):
        return int(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return int(v) if float(v).is_integer() else float(v)
    return str(v) if not isinstance(v, (int, float)) else v


def _skewness(v: np.ndarray) -> float:
    """Population skewness, computed on a scaled copy so no finite input overflows."""
    v = np.asarray(v, float)
    scale = float(np.max(np.abs(v))) or 1.0
    d = v / scale - float(np.mean(v / scale))
    m2 = float(np.mean(d * d))
    return 0.0 if m2 <= 0 else float(np.mean(d ** 3) / m2 ** 1.5)


def count_like(v: np.ndarray) -> bool:
    """Non-negative integers that look like event counts rather than labels or readings.

    Counts reach down to 0 or 1 and are right-skewed; with few distinct values the
    frequencies also decay (the top value is rare and the mode sits at the bottom), which
    separates "number of visits" from class labels 0..K-1 and from rating scales.
    """
    v = np.asarray(v, float)
    if v.size == 0 or v.min() < 0 or v.min() > 1:
        return False
    values, freq = np.unique(v, return_counts=True)
    right_skewed = _skewness(v) > 0.5 or float(np.mean(v)) > float(np.median(v))
    if not right_skewed:
        return False
    if len(values) <= 10:
        share = freq / freq.sum()
        consecutive = values[-1] - values[0] + 1 == len(values)
        mode_low = int(np.argmax(freq)) <= 1
        return bool(share[-1] < 0.1 and (mode_low or not consecutive))
    return True


def _distance_metric(metric: str | None) -> bool:
    name, _ = normalize_metric(metric)
    m = None if name is None else METRICS.get(name) if name != "pinball" else _pinball(0.5)
    return m is not None and (m.needs == "values" or m.name == "qwk")


def _class_metric(metric: str | None) -> bool:
    """A metric of class decisions or probabilities (not of distances between numbers)."""
    name, _ = normalize_metric(metric)
    m = None if name is None else METRICS.get(name)
    return m is not None and m.needs in ("labels", "proba") and m.name != "qwk"


def _ranking_metric(metric: str | None) -> bool:
    name, _ = normalize_metric(metric)
    return name in ("ndcg", "mrr")


def _one_per_group(values: np.ndarray, group: np.ndarray) -> bool:
    """Exactly one positive per group of two or more rows: a choice among alternatives."""
    _, inverse, sizes = np.unique(group, return_inverse=True, return_counts=True)
    positives = np.bincount(inverse, weights=(values == values.max()).astype(float))
    return bool(np.all(positives == 1) and np.median(sizes) >= 2)


def infer_task(y: Any, *, metric: str | None = None, event: Any = None, group: Any = None,
               columns: list[str] | None = None) -> tuple[str, str]:
    """(task, the sentence that decided it) for a target array.

    ``y`` is the target as :func:`as_target_array` returns it, with missing values removed
    for a 1-D target. The metric and the declared structure take part: an event
    indicator means censored times; groups with graded or one-per-group relevance mean
    ranking; small integer levels judged by a distance metric (MAE, RMSE, QWK) are
    ordered levels.
    """
    if event is not None:
        return "survival", "an event indicator was given: times to an event, some censored"
    if columns is not None:
        cols = {_key(c) for c in columns}
        for layout in _PREFERENCE_COLUMNS:
            if layout <= cols:
                return "preference", f"columns {sorted(layout)}: preference data"
        for layout in _IMAGE_TEXT_COLUMNS:
            if layout <= cols:
                return "image_text", f"columns {sorted(layout)}: paired images and texts"
    if isinstance(y, list):
        return "sequence", f"ragged rows ({len(y)} sequences of different lengths)"
    a = np.asarray(y)
    if a.ndim >= 3:
        if a.dtype.kind in "biu" or (a.dtype.kind == "f" and np.all(a == np.round(a))):
            return "segmentation", f"{a.ndim}-D integer target {list(a.shape)}: a label map per " \
                                   "sample"
        return "reconstruction", (f"{a.ndim}-D real-valued target {list(a.shape)}: an image or "
                                  "signal per sample")
    if a.ndim == 2:
        return _infer_matrix(a)
    return _infer_vector(a, metric, group)


def _infer_matrix(a: np.ndarray) -> tuple[str, str]:
    k = a.shape[1]
    if a.dtype == object:
        return "multioutput", f"{k} target columns"
    v = a.astype(float)
    finite = v[np.isfinite(v)]
    if finite.size and np.isin(finite, (0, 1)).all():
        sums = np.nansum(v, axis=1)
        if np.all(sums == 1):
            return "multiclass", f"one-hot matrix [N, {k}]: exactly one 1 per row"
        return "multilabel", (f"0/1 indicator matrix [N, {k}] with rows summing to "
                              f"{int(sums.min())}..{int(sums.max())}")
    if finite.size and finite.min() >= 0 and finite.max() <= 1 and np.allclose(
            np.nansum(v, axis=1), 1.0, atol=1e-3):
        return "soft_labels", f"rows of [N, {k}] lie in [0, 1] and sum to 1"
    integer = finite.size and np.all(finite == np.round(finite))
    if integer and (k >= 16 or np.any(finite == -100)) and finite.max() >= 2:
        return "sequence", f"padded integer matrix [N, {k}] of token ids"
    return "multioutput", f"{k} real-valued target columns: multi-output regression"


def _infer_vector(v: np.ndarray, metric: str | None, group: Any) -> tuple[str, str]:
    distinct = np.unique(v)
    grouped = group is not None
    if v.dtype == object or v.dtype.kind in "bUS":
        if len(distinct) == 2:
            if grouped and _one_per_group(np.asarray([str(x) for x in v]) == str(distinct[1]),
                                          np.asarray(group)):
                return "ranking", "one positive per group: a choice among the group's rows"
            return "binary", "2 distinct non-numeric labels"
        return "multiclass", f"{len(distinct)} distinct non-numeric labels"
    if len(distinct) == 2:
        if grouped and (_ranking_metric(metric) or _one_per_group(v, np.asarray(group))):
            why = ("one positive per group: a choice among the group's alternatives"
                   if not _ranking_metric(metric) else "0/1 relevance within groups")
            return "ranking", why
        return "binary", f"exactly 2 distinct values ({_label(distinct[0])}, {_label(distinct[1])})"
    integer = bool(np.all(v == np.round(v)))
    levels = len(distinct)
    if integer and levels <= 50 and _class_metric(metric):
        return "multiclass", (f"{levels} distinct integers judged by {metric}, a classification "
                              "metric: class labels")
    if integer and v.min() >= 0:
        if grouped and levels <= 10 and not _distance_metric(metric):
            return "ranking", (f"{levels} graded relevance levels within groups (declare another "
                               "task if the groups are not queries or choice sets)")
        if grouped and _ranking_metric(metric):
            return "ranking", f"relevance judged by {metric} within groups"
        if levels <= 10:
            if _distance_metric(metric):
                return "ordinal", (f"{levels} integer levels judged by {metric}, a distance "
                                   "between levels: ordered levels (declare task='ordinal' to "
                                   "confirm, or 'continuous' for evenly spaced readings)")
            if count_like(v):
                return "count", (f"{levels} distinct non-negative integers from "
                                 f"{_label(distinct[0])} with right-skewed, decaying "
                                 "frequencies: counts")
            return "multiclass", (f"{levels} distinct non-negative integers: read as class "
                                  "labels (declare task='ordinal' or 'count' if they are not)")
        if count_like(v):
            return "count", (f"{levels} distinct non-negative integers from {_label(distinct[0])}"
                             ", right-skewed: counts")
        return "continuous", (f"{levels} distinct integers from {_label(distinct[0])} to "
                              f"{_label(distinct[-1])}: readings recorded as integers")
    if grouped and _ranking_metric(metric):
        return "ranking", f"relevance judged by {metric} within groups"
    if v.min() >= 0 and v.max() <= 1:
        return "proportion", f"real values inside [0, 1] ({levels} distinct)"
    return "continuous", f"{levels} distinct real values"


def finite_rows(a: np.ndarray) -> np.ndarray:
    """Rows of a 1-D target that hold a usable value (not None, NaN or +-inf)."""
    if a.dtype == object:
        return np.array([v is not None and not (isinstance(v, float) and not math.isfinite(v))
                         for v in a], dtype=bool)
    if a.dtype.kind == "f":
        return np.asarray(np.isfinite(a))
    return np.ones(len(a), dtype=bool)
