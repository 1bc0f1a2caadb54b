"""The advisor's expert knowledge, in one table.

Each :class:`Rule` reads: *when* this holds for the data, the metric and the costs,
*add* ``score`` to this loss, with these hyperparameters, *because* of this (a sentence
that cites measured numbers). Rules with a positive score propose a loss; rules with a
score of zero or less only demote or annotate (caveats) a loss another rule proposed;
``loss="*"`` annotates every proposed loss; a rule without a sentence only moves the
score. Candidates are ranked by total score; :func:`rules_for` prints the table per loss.

Conditions and hyperparameters are short Python expressions over the names listed in
:func:`namespace` (the profile's facts, the objective, a few derived values such as
``huber_delta`` or ``pos_weight``). A fact a task does not have reads as ``None``, so
conditions start with the task flag (``regression and ...``) before comparing numbers.
Sentences are format strings over the same names plus the rule's own hyperparameters;
every ``{field}`` becomes evidence that the tests trace back to the profile.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ._profile import TargetProfile, _r

__all__ = ["METRICS", "RULES", "Rule", "namespace", "normalize_costs", "normalize_metric"]


@dataclass(frozen=True)
class Rule:
    id: str
    loss: str
    score: float
    when: str
    because: str = ""
    params: dict[str, str] = field(default_factory=dict)
    caveats: tuple[str, ...] = ()


#: Metric spellings -> the canonical name the rules test for.
METRICS = {
    "rmse": ("rmse", "mse", "r2", "mean_squared_error", "root_mean_squared_error"),
    "mae": ("mae", "l1", "mean_absolute_error", "medae", "median_absolute_error"),
    "pinball": ("pinball", "quantile", "quantile_loss", "pinball_loss"),
    "mape": ("mape", "smape", "mean_absolute_percentage_error"),
    "rmsle": ("rmsle", "msle", "mean_squared_log_error"),
    "poisson_deviance": ("poisson_deviance", "poisson", "deviance"),
    "gaussian_nll": ("gaussian_nll", "crps", "interval_coverage", "nll_gaussian"),
    "f1": ("f1", "f1_score", "fbeta", "f2", "macro_f1", "micro_f1"),
    "recall": ("recall", "sensitivity", "tpr", "true_positive_rate"),
    "precision": ("precision", "ppv"),
    "accuracy": ("accuracy", "acc", "error_rate", "top1"),
    "balanced_accuracy": ("balanced_accuracy", "bacc"),
    "auc": ("auc", "roc_auc", "auroc", "gini"),
    "average_precision": ("average_precision", "ap", "pr_auc", "auprc", "map"),
    "log_loss": ("log_loss", "logloss", "cross_entropy", "brier", "calibration", "ece", "nll"),
    "qwk": ("qwk", "kappa", "quadratic_weighted_kappa", "cohen_kappa"),
    "iou": ("iou", "jaccard", "miou", "mean_iou"),
    "dice": ("dice", "dice_score", "dsc"),
    "perplexity": ("perplexity", "ppl", "token_accuracy", "bleu"),
    "wer": ("wer", "cer", "edit_distance"),
    "ndcg": ("ndcg", "mrr", "kendall_tau", "spearman"),
    "demographic_parity": ("demographic_parity", "statistical_parity"),
    "equalized_odds": ("equalized_odds", "equal_opportunity"),
}
_METRIC_OF = {alias: name for name, aliases in METRICS.items() for alias in aliases}

#: Metrics computed from hard decisions: no gradient, so train on a proxy and tune the threshold.
NON_DIFFERENTIABLE = {"f1", "recall", "precision", "accuracy", "balanced_accuracy", "qwk", "wer"}


def normalize_metric(metric: str | None) -> tuple[str | None, float | None]:
    """(canonical metric name or the unknown name as given, quantile level if one is given).

    ``"pinball@0.9"``, ``"quantile:0.9"``, ``"pinball_0.9"`` and ``"q90"`` name a level.
    """
    if metric is None:
        return None, None
    m = metric.strip().lower().replace("-", "_").replace(" ", "_")
    level = None
    match = re.fullmatch(r"(pinball|quantile|q)[@:=_]?(0?\.\d+|\d{1,2})", m)
    if match:
        raw = match.group(2)
        level = float(raw) if "." in raw else float(raw) / 100
        return "pinball", level
    return _METRIC_OF.get(m, m), level


_COST_KEYS = {
    "under": "under", "underprediction": "under", "under_prediction": "under",
    "over": "over", "overprediction": "over", "over_prediction": "over",
    "fn": "fn", "false_negative": "fn", "miss": "fn",
    "fp": "fp", "false_positive": "fp", "false_alarm": "fp",
}


def normalize_costs(costs: Any) -> dict[str, float] | None:
    """``{"under": 3, "over": 1}`` or ``{"fn": 5, "fp": 1}`` (or ``"under=3,over=1"``)."""
    from .._core.validate import LossInputError

    if costs is None:
        return None
    if isinstance(costs, str):
        pairs = [p.split("=", 1) for p in costs.split(",") if p.strip()]
        if not all(len(p) == 2 for p in pairs):
            raise LossInputError(f"costs must look like 'under=3,over=1', got {costs!r}")
        costs = dict(pairs)
    out: dict[str, float] = {}
    for key, value in dict(costs).items():
        k = _COST_KEYS.get(str(key).strip().lower())
        if k is None:
            raise LossInputError(f"unknown cost {key!r}; use under/over (regression) or fn/fp "
                                 "(classification)")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise LossInputError(f"cost {key!r} must be a number, got {value!r}") from None
        if not (v > 0 and math.isfinite(v)):
            raise LossInputError(f"cost {key!r} must be positive, got {value!r}")
        out[k] = v
    for a, b in (("under", "over"), ("fn", "fp")):
        if (a in out) != (b in out):
            raise LossInputError(f"costs need both {a!r} and {b!r} (a ratio is what matters)")
    return out


def objective(metric: str | None, costs: dict[str, float] | None) -> dict[str, Any]:
    """What the user asked for, with the quantities derived from it (part of the profile)."""
    name, level = normalize_metric(metric)
    obj: dict[str, Any] = {"metric": name, "metric_given": metric, "costs": costs,
                           "quantile_level": None, "decision_threshold": None}
    if costs and "under" in costs:
        obj["quantile_level"] = _r(costs["under"] / (costs["under"] + costs["over"]))
    elif level is not None:
        obj["quantile_level"] = level
    if costs and "fn" in costs:
        # With calibrated probabilities, predicting positive pays off when p * c_fn > (1-p) * c_fp.
        obj["decision_threshold"] = _r(costs["fp"] / (costs["fp"] + costs["fn"]))
    return obj


class _Facts(dict):
    """Names for conditions: a fact the profile does not have reads as None."""

    def __missing__(self, key: str) -> None:
        return None


_REGRESSION = ("continuous", "count", "proportion")


def namespace(prof: TargetProfile, obj: dict[str, Any]) -> _Facts:
    """Every name a rule may use: profile facts, the objective, flags and derived values."""
    ns = _Facts(prof.to_dict())
    ns.update(obj)
    # The functions expressions may use (names resolve here before builtins).
    ns.update(abs=abs, bool=bool)
    task = prof.task
    ns["regression"] = task in _REGRESSION
    ns["classes_exclusive"] = task in ("binary", "multiclass", "ordinal")
    ns["known_metric"] = obj["metric"] is None or obj["metric"] in METRICS
    ns["non_differentiable"] = obj["metric"] in NON_DIFFERENTIABLE
    if ns["noise_sigma"]:
        # Huber's 95%-efficiency tuning constant times the scale of the clean residuals.
        ns["huber_delta"] = _r(1.345 * ns["noise_sigma"], 3)
    if ns["n_positive"]:
        ns["pos_weight"] = _r(ns["n_negative"] / ns["n_positive"], 3)
        ns["focal_alpha"] = _r(ns["n_negative"] / (ns["n_negative"] + ns["n_positive"]), 3)
    counts = ns["class_counts"]
    if counts:
        total, k = sum(counts.values()), len(counts)
        # sklearn's "balanced" weights: every class gets the same total weight.
        ns["class_weight"] = [_r(total / (k * c), 3) for c in counts.values()]
        # Index targets must be 0..K-1; anything else (1..5, strings) needs an encoding step.
        ns["labels_need_encoding"] = ns["classes"] != list(range(k))
    if ns["label_counts"]:
        n = ns["n"]
        ns["label_pos_weight"] = [_r((n - p) / p, 3) if p else 1.0 for p in ns["label_counts"]]
    ns["log_scale"] = bool(regression_log_scale(ns))
    # Counts and proportions have their own likelihoods; "outliers" is a continuous-target idea.
    ns["outliers"] = bool(task == "continuous" and not ns["log_scale"]
                          and ns["noise_outlier_fraction"] >= 0.01)
    ns["heavy_tails"] = bool(task == "continuous" and not ns["outliers"] and not ns["log_scale"]
                             and ns["noise_excess_kurtosis"] > 3)
    ns["binary_masks"] = task == "segmentation" and ns["n_classes"] == 2
    return ns


def regression_log_scale(ns: _Facts) -> bool:
    """A positive target spanning orders of magnitude with a long right tail."""
    return (ns["regression"] and ns["min"] is not None and ns["min"] >= 0
            and (ns["orders_of_magnitude"] or 0) >= 2 and (ns["skewness"] or 0) > 1)


# --------------------------------------------------------------------------------------------
# The table. Scores: a loss that fits the task ~10, the metric adds up to ~6, the data adds or
# removes a few points; a rule that must win outright (asymmetric costs) scores higher.

_WEIGHTING_METRICS = "(None, 'f1', 'recall', 'balanced_accuracy')"
_CALIBRATION = "metric == 'log_loss'"

RULES: tuple[Rule, ...] = (
    # ---------------------------------------------------------------- regression: the default
    Rule("regression-default", "mse", 10, "task == 'continuous'",
         "a continuous target ({n_distinct} distinct values, median {median}): MSE estimates the "
         "conditional mean, is smooth and converges fastest; the default to beat"),
    Rule("regression-robust-alternative", "huber", 6,
         "task == 'continuous' and huber_delta and not outliers and not heavy_tails "
         "and metric != 'mae'",
         "Huber with delta = 1.345 x the clean noise scale {noise_sigma} = {delta} acts as MSE on "
         "ordinary residuals and as MAE beyond them: cheap insurance against outliers",
         params={"delta": "huber_delta"}),
    Rule("regression-median-alternative", "mae", 5,
         "task == 'continuous' and not outliers and metric != 'mae'",
         "MAE estimates the conditional median ({median}, mean {mean}); its constant gradient "
         "ignores how far off an outlier is",
         caveats=("MAE's gradient is +-1 however small the error, so it converges slowly near "
                  "the optimum: decay the learning rate",)),
    # ---------------------------------------------------------------- regression: the metric
    Rule("metric-rmse", "mse", 6, "regression and metric == 'rmse'",
         "the metric is RMSE, minimized by the conditional mean, which is what MSE estimates "
         "(noise excess kurtosis {noise_excess_kurtosis}, {noise_outlier_fraction:.1%} outliers)"),
    Rule("metric-rmse-despite-outliers", "mse", 0, "regression and metric == 'rmse' and outliers",
         caveats=("{noise_outlier_fraction:.1%} of residuals are outliers and RMSE will be "
                  "dominated by them; MSE still targets what is measured, but clip gradients and "
                  "check whether those targets are errors to fix rather than signal",)),
    Rule("metric-mae", "mae", 11.5, "regression and metric == 'mae'",
         "the metric is MAE, minimized by the conditional median (median {median} vs mean "
         "{mean}): MAE trains exactly what is measured"),
    Rule("metric-mae-huber", "huber", 11,
         "regression and metric == 'mae' and huber_delta and not outliers",
         "for an MAE metric, Huber with a small delta = {delta} (1.345 x noise scale "
         "{noise_sigma}) tracks the median like MAE but has a smooth minimum",
         params={"delta": "huber_delta"}),
    Rule("metric-mae-not-mse", "mse", -3, "regression and metric == 'mae'",
         caveats=("the metric is MAE, but MSE fits the mean, not the median",)),
    Rule("metric-mape", "mae", 5, "regression and metric == 'mape' and min > 0",
         "MAPE is MAE weighted by 1 / |y|: pass weight = 1 / y (target range {min} to {max})",
         caveats=("MAPE favours under-prediction; with targets near 0 the weights explode",)),
    Rule("metric-mape-zeros", "mae", 0, "regression and metric == 'mape' and min <= 0",
         caveats=("the target reaches {min}: MAPE (and 1 / y weights) are undefined at zero; "
                  "report MAE or sMAPE instead",)),
    Rule("metric-rmsle", "msle", 9, "regression and metric == 'rmsle' and min >= 0",
         "the metric is RMSLE, which MSLE (MSE on log1p) minimizes; target range {min} to {max}"),
    Rule("metric-poisson", "poisson_nll", 6, "regression and metric == 'poisson_deviance'",
         "the metric is Poisson deviance, the Poisson NLL up to a constant (mean {mean})"),
    Rule("metric-gaussian-nll", "gaussian_nll", 12, "regression and metric == 'gaussian_nll'",
         "the metric scores predicted uncertainty: Gaussian NLL learns a mean and a variance "
         "per sample (noise scale {noise_sigma})",
         caveats=("the variance head must stay positive (softplus); warm up with MSE so the "
                  "variance does not absorb an unfitted mean",)),
    Rule("metric-pinball", "quantile", 12, "regression and metric == 'pinball'",
         "the metric is the pinball loss at level {quantiles}: train the quantile loss at the "
         "same level (target median {median})",
         params={"quantiles": "quantile_level or 0.5"}),
    # ---------------------------------------------------------------- regression: the data
    Rule("outliers-huber", "huber", 12, "outliers",
         "{noise_outlier_fraction:.1%} of the targets lie beyond 3.5 robust sigmas from "
         "{noise_source}: MSE would let them dominate the gradient; Huber is quadratic up to "
         "delta = 1.345 x "
         "{noise_sigma} = {delta} and linear beyond",
         params={"delta": "huber_delta"}),
    Rule("outliers-and-mae-metric-huber", "huber", 5, "outliers and metric == 'mae'",
         "for the MAE metric, Huber's linear tails keep the fit near the median ({median}; the "
         "outliers drag the mean to {mean}) while its quadratic core gives a smooth minimum"),
    Rule("outliers-and-mae-metric-mae", "mae", 4, "outliers and metric == 'mae'"),
    Rule("outliers-mae", "mae", 9, "outliers and metric != 'mae'",
         "with {noise_outlier_fraction:.1%} outliers, MAE's gradient has the same size for a "
         "gross error as for a small one"),
    Rule("outliers-smooth-l1", "smooth_l1", 9, "outliers",
         "Smooth L1 with beta = {beta} is Huber / beta: same robustness to the "
         "{noise_outlier_fraction:.1%} outliers, gradient bounded by 1 whatever the target scale "
         "(the box-regression loss of detectors)",
         params={"beta": "huber_delta"}),
    Rule("outliers-log-cosh", "log_cosh", 8, "outliers and 0.3 < noise_sigma < 3",
         "log-cosh is a twice-differentiable Huber whose bend sits at |error| ~ 1, and the noise "
         "scale here is {noise_sigma}",
         caveats=("log-cosh has no scale parameter: standardize the target if its scale changes",)),
    Rule("outliers-not-mse", "mse", -8, "outliers and metric != 'rmse'",
         caveats=("{noise_outlier_fraction:.1%} outlying residuals would dominate MSE's "
                  "gradient",)),
    Rule("heavy-tails-huber", "huber", 9, "heavy_tails",
         "the residuals are heavy-tailed (excess kurtosis {noise_excess_kurtosis}; 0 for "
         "Gaussian noise): Huber with delta = {delta} bounds the pull of the tail",
         params={"delta": "huber_delta"}),
    Rule("heavy-tails-not-mse", "mse", -2, "heavy_tails",
         caveats=("heavy-tailed residuals (excess kurtosis {noise_excess_kurtosis}) make MSE's "
                  "gradient noisy; clip gradients",)),
    Rule("log-scale-msle", "msle", 10, "log_scale",
         "the target is non-negative, right-skewed (skewness {skewness}) and spans "
         "{orders_of_magnitude} orders of magnitude: relative errors matter, and MSLE compares "
         "log1p(prediction) with log1p(target)"),
    Rule("log-scale-not-mse", "mse", -4, "log_scale",
         caveats=("in raw units the largest targets (max {max}) dominate MSE",)),
    Rule("log-with-zeros", "msle", 0, "regression and zero_fraction > 0",
         caveats=("{zero_fraction:.1%} of targets are 0: MSLE is fine (log1p(0) = 0), but a plain "
                  "log of the target or of the prediction would be -inf; never log-transform "
                  "without the +1",)),
    Rule("heteroscedastic", "gaussian_nll", 11,
         "regression and heteroscedasticity is not None and heteroscedasticity >= 0.3",
         "the spread of the residuals grows with the fitted value (Spearman rho "
         "{heteroscedasticity}): Gaussian NLL lets the model predict a variance per sample",
         caveats=("the model can explain errors away with a large variance; warm up with MSE or "
                  "use beta-NLL weighting",)),
    Rule("counts-poisson", "poisson_nll", 12, "task == 'count'",
         "non-negative integer counts (mean {mean}, variance / mean {dispersion_index}): Poisson "
         "NLL on a predicted log-rate keeps the rate positive and weights errors by the count's "
         "own variance",
         params={"log_input": "True"}),
    Rule("counts-mse", "mse", 7, "task == 'count'",
         "MSE on the raw counts also estimates the mean ({mean}) but treats a miss of 5 at a "
         "count of 1 like a miss of 5 at a count of {max}"),
    Rule("counts-overdispersed", "poisson_nll", 0, "task == 'count' and dispersion_index > 2",
         caveats=("variance / mean = {dispersion_index} > 1: the counts are overdispersed; "
                  "Poisson underestimates their spread (a negative-binomial likelihood fits "
                  "better)",)),
    Rule("counts-zero-inflated", "poisson_nll", 0, "task == 'count' and zero_fraction > 0.5",
         caveats=("{zero_fraction:.1%} zeros: consider a zero-inflated model (a gate for 'any "
                  "event' times a count)",)),
    Rule("proportion-bce", "binary_cross_entropy", 11, "task == 'proportion'",
         "targets are fractions in [{min}, {max}]: binary cross-entropy accepts probability "
         "targets and a sigmoid output keeps predictions inside the interval"),
    Rule("proportion-mse", "mse", 0, "task == 'proportion'",
         caveats=("predict through a sigmoid so outputs stay in [0, 1]",)),
    Rule("nonnegative-target", "*", 0,
         "regression and min >= 0 and min < mad_sigma and task != 'proportion'",
         caveats=("the target is never negative (min {min}): end the model with softplus or "
                  "exp, or add losskit.F.bound_penalty, so predictions respect it",)),
    # ---------------------------------------------------------------- asymmetric costs
    Rule("costs-quantile", "quantile", 20,
         "regression and costs and 'under' in costs and costs['under'] != costs['over']",
         "under-prediction costs {costs[under]} and over-prediction {costs[over]}: the expected "
         "cost is minimized by the q = under / (under + over) = {quantiles} quantile, which the "
         "pinball loss at that level estimates",
         params={"quantiles": "quantile_level"},
         caveats=("several quantile heads trained independently can cross; sort them",)),
    Rule("costs-binary-threshold", "binary_cross_entropy", 2,
         "task == 'binary' and costs and 'fn' in costs",
         "a missed positive costs {costs[fn]} and a false alarm {costs[fp]}: keep the "
         "probabilities calibrated and predict positive above p = fp / (fp + fn) = "
         "{decision_threshold}"),
    # ---------------------------------------------------------------- binary classification
    Rule("binary-default", "binary_cross_entropy", 10, "task == 'binary'",
         "a binary target ({n_positive} positives of {n}): one logit and binary cross-entropy, "
         "the Bernoulli likelihood; not MSE on a sigmoid, whose gradient vanishes when the "
         "prediction is confidently wrong",
         caveats=("feed raw logits; the loss applies log-sigmoid in a stable form",)),
    Rule("binary-text-labels", "*", 0,
         "task == 'binary' and positive_label is not None and positive_label not in (0, 1)",
         caveats=("the loss wants 0/1 targets: encode {positive_label!r} (the rarer class) as 1",)),
    Rule("binary-imbalance-weight", "binary_cross_entropy", 4,
         f"task == 'binary' and imbalance_ratio >= 3 and metric in {_WEIGHTING_METRICS}",
         "positives are {positive_rate:.1%} ({n_positive} of {n}): pos_weight = n_neg / n_pos = "
         "{n_negative} / {n_positive} = {pos_weight} gives both classes the same total weight",
         params={"pos_weight": "pos_weight"},
         caveats=("pos_weight inflates the predicted probabilities; drop it if you need "
                  "calibrated scores",
                  "oversampling the positives is the alternative; do not combine both",)),
    Rule("binary-extreme-weight", "binary_cross_entropy", 0,
         f"task == 'binary' and imbalance_ratio >= 100 and metric in {_WEIGHTING_METRICS}",
         caveats=("pos_weight = {pos_weight} lets a few positives dominate each batch: consider "
                  "its square root, or focal loss",)),
    Rule("binary-imbalance-focal", "sigmoid_focal", 12,
         "task == 'binary' and imbalance_ratio >= 10 and metric in "
         "(None, 'f1', 'recall', 'balanced_accuracy', 'average_precision')",
         "a {imbalance_ratio}:1 imbalance makes most negatives easy: focal loss (gamma = 2) "
         "scales each term by (1 - p_t)^2 and alpha = n_neg / n = {alpha} balances the prior",
         params={"gamma": "2.0", "alpha": "focal_alpha"},
         caveats=("focal loss pushes probabilities away from calibration; do not read its "
                  "outputs as probabilities",
                  "with gamma = 2 the RetinaNet authors found a smaller alpha (0.25) best, "
                  "because the focusing term already mutes easy negatives; tune alpha",)),
    Rule("binary-f1-surrogate", "soft_f1", 8, "task == 'binary' and metric == 'f1'",
         "F1 is a set-level metric: soft F1 optimizes a differentiable version of it on each "
         "batch (positives {positive_rate:.1%})",
         caveats=("soft F1 needs batches with positives in them; use large or stratified "
                  "batches, and warm up with cross-entropy",)),
    Rule("binary-auc-pairwise", "pairwise_logistic", 13, "task == 'binary' and metric == 'auc'",
         "AUC is the share of correctly ordered (positive, negative) pairs, here {n_positive} x "
         "{n_negative}: pairwise logistic loss is its smooth surrogate",
         caveats=("pairwise scores are not calibrated probabilities",
                  "every batch needs both classes (positives are {positive_rate:.1%}): stratify "
                  "the batches",)),
    Rule("binary-auc-bce", "binary_cross_entropy", 1, "task == 'binary' and metric == 'auc'",
         "AUC depends only on the ranking, which unweighted cross-entropy already learns well "
         "(positives {positive_rate:.1%}); no pos_weight needed"),
    Rule("binary-accuracy-hinge", "hinge", 8, "task == 'binary' and metric == 'accuracy'",
         "accuracy only counts the sign of the score: hinge loss is the max-margin (SVM) "
         "surrogate and ignores already-correct samples beyond the margin ({n} samples)",
         caveats=("hinge gives no probabilities and is not differentiable at the margin "
                  "(subgradient)",)),
    Rule("calibration-plain-bce", "binary_cross_entropy", 6, f"task == 'binary' and {_CALIBRATION}",
         "log-loss is exactly what unweighted binary cross-entropy minimizes over the {n} "
         "samples: no pos_weight, no focal term, no label smoothing, each of which distorts "
         "the probabilities"),
    Rule("calibration-no-focal", "sigmoid_focal", -20, _CALIBRATION),
    Rule("calibration-no-soft-f1", "soft_f1", -20, _CALIBRATION),
    Rule("fairness-parity", "demographic_parity_gap", 9,
         "task == 'binary' and metric == 'demographic_parity'",
         "positive rate {positive_rate:.1%} overall: add lambda x demographic_parity_gap(logits, "
         "group) to the cross-entropy to equalize it across groups",
         caveats=("fairness definitions conflict (parity vs equalized odds); tune lambda against "
                  "accuracy on validation data",)),
    Rule("fairness-odds", "equalized_odds_gap", 9,
         "task == 'binary' and metric == 'equalized_odds'",
         "add lambda x equalized_odds_gap(logits, target, group) to the cross-entropy so error "
         "rates match across groups (positives {positive_rate:.1%})",
         caveats=("fairness definitions conflict; a soft penalty, tuned on validation data, "
                  "beats a hard constraint",)),
    Rule("fairness-base", "binary_cross_entropy", 1,
         "task == 'binary' and metric in ('demographic_parity', 'equalized_odds')",
         "the task loss stays binary cross-entropy ({n_positive} positives); the penalty is "
         "added on top"),
    # ---------------------------------------------------------------- multi-class
    Rule("multiclass-default", "cross_entropy", 10, "task == 'multiclass'",
         "{n_classes} mutually exclusive classes: softmax cross-entropy, the categorical "
         "likelihood (use nll only if the model already ends in log_softmax)",
         caveats=("feed raw logits [N, C]; the loss applies log-softmax stably",)),
    Rule("multiclass-imbalance-weight", "cross_entropy", 4,
         f"task == 'multiclass' and imbalance_ratio >= 3 and metric in {_WEIGHTING_METRICS}",
         "the largest class has {imbalance_ratio}x the rows of the smallest ({minority_class}, "
         "{minority_share:.1%}): class_weight = n / (K n_k) = {class_weight} equalizes them",
         params={"class_weight": "class_weight"},
         caveats=("class weights shift predicted probabilities toward rare classes",)),
    Rule("multiclass-imbalance-focal", "softmax_focal", 11,
         f"task == 'multiclass' and imbalance_ratio >= 10 and metric in {_WEIGHTING_METRICS}",
         "with a {imbalance_ratio}:1 class imbalance, softmax focal loss (gamma = 2) down-weights "
         "the easy majority-class samples",
         params={"gamma": "2.0"},
         caveats=("focal loss hurts calibration",)),
    Rule("multiclass-accuracy-hinge", "multiclass_hinge", 8,
         "task == 'multiclass' and metric == 'accuracy'",
         "accuracy only needs the right class on top: the multi-class hinge enforces a margin "
         "over the other {n_classes} - 1 classes",
         caveats=("no probabilities; cross-entropy usually trains deep nets better",)),
    Rule("multiclass-calibration", "cross_entropy", 6, f"task == 'multiclass' and {_CALIBRATION}",
         "log-loss is what plain cross-entropy minimizes ({n_classes} classes): no class "
         "weights, no focal term, no label smoothing"),
    Rule("calibration-no-softmax-focal", "softmax_focal", -20, _CALIBRATION),
    Rule("label-noise-smoothing", "binary_cross_entropy", 1,
         "task == 'binary' and (suspected_label_noise or 0) >= 0.07 and imbalance_ratio < 5 "
         "and metric != 'log_loss'",
         "a confident-learning check with a cross-validated linear model flags "
         "{suspected_label_noise:.1%} of labels as inconsistent with the features: "
         "label_smoothing = {label_smoothing} stops the model from chasing them with confident "
         "logits",
         params={"label_smoothing": "0.1"},
         caveats=("cross-entropy punishes confident mistakes without bound, so wrong labels pull "
                  "hard; inspect the flagged rows (a weak linear model also flags hard ones)",)),
    Rule("label-noise-smoothing-multiclass", "cross_entropy", 1,
         "task == 'multiclass' and (suspected_label_noise or 0) >= 0.07 and imbalance_ratio < 5 "
         "and metric != 'log_loss'",
         "a confident-learning check with a cross-validated linear model flags "
         "{suspected_label_noise:.1%} of labels as inconsistent with the features: "
         "label_smoothing = {label_smoothing} softens the one-hot targets",
         params={"label_smoothing": "0.1"}),
    Rule("encode-class-labels", "*", 0,
         "task in ('multiclass', 'ordinal', 'energy') and labels_need_encoding",
         caveats=("the class labels are {classes}: map them to indices 0..K-1 (K = {n_classes}) "
                  "before training",)),
    # ---------------------------------------------------------------- ordinal
    Rule("ordinal-corn", "corn", 12,
         "task == 'ordinal' or (task == 'multiclass' and metric == 'qwk')",
         "{n_classes} ordered levels: CORN trains K - 1 conditional binary tasks "
         "(P(y > k | y > k-1)), consistent ranks without CORAL's shared-weight constraint",
         caveats=("the model's last layer has K - 1 outputs, not K",)),
    Rule("ordinal-coral", "coral", 11.5,
         "task == 'ordinal' or (task == 'multiclass' and metric == 'qwk')",
         "{n_classes} ordered levels: CORAL predicts the K - 1 cumulative events y > k with one "
         "shared weight vector and K - 1 biases, so predictions are rank-consistent",
         caveats=("the model's last layer has K - 1 outputs sharing one weight vector",)),
    Rule("ordinal-not-plain-ce", "cross_entropy", 7, "task == 'ordinal'",
         "plain cross-entropy over the {n_classes} levels ignores their order: predicting 1 for "
         "a 5 costs the same as predicting 4"),
    Rule("ordinal-mae", "mae", 8, "task == 'ordinal' and metric == 'mae'",
         "if the {n_classes} levels are evenly spaced, regressing the level with MAE and "
         "rounding is a strong, simple baseline"),
    # ---------------------------------------------------------------- multi-label
    Rule("multilabel-bce", "binary_cross_entropy", 12, "task == 'multilabel'",
         "{n_labels} labels with {label_cardinality} per row on average and "
         "{co_occurrence_fraction:.1%} of rows carrying two or more: one sigmoid and binary "
         "cross-entropy per label, because softmax would make co-occurring labels compete",
         caveats=("independent sigmoids ignore label correlations; a structured loss can use "
                  "them but needs more data",)),
    Rule("multilabel-pos-weight", "binary_cross_entropy", 2,
         f"task == 'multilabel' and imbalance_ratio >= 3 and metric in {_WEIGHTING_METRICS}",
         "the rarest label is {imbalance_ratio}x outnumbered by its negatives: pos_weight = "
         "n_neg / n_pos per label = {pos_weight}",
         params={"pos_weight": "label_pos_weight"}),
    Rule("multilabel-asymmetric", "asymmetric_multilabel", 11,
         "task == 'multilabel' and label_density < 0.2 and metric != 'log_loss'",
         "only {label_density:.1%} of the label slots are positive: the asymmetric loss "
         "down-weights (and clips) the many easy negatives while keeping full weight on "
         "positives"),
    Rule("multilabel-focal", "sigmoid_focal", 9, "task == 'multilabel' and imbalance_ratio >= 10",
         "per-label imbalance up to {imbalance_ratio}:1: sigmoid focal loss per label (gamma = 2)",
         params={"gamma": "2.0"}),
    Rule("multilabel-no-softmax", "cross_entropy", -20, "task == 'multilabel'"),
    # ---------------------------------------------------------------- soft labels
    Rule("soft-labels-ce", "cross_entropy", 12, "task == 'soft_labels'",
         "each row is a distribution over {n_classes} classes (mean normalized entropy "
         "{mean_normalized_entropy}): cross-entropy with probability targets fits it exactly",
         caveats=("pass the probabilities as the target tensor [N, C], not argmax indices",)),
    Rule("soft-labels-kl", "kl_div", 11, "task == 'soft_labels'",
         "KL(target || prediction) = cross-entropy - H(target): the same gradient, but 0 at a "
         "perfect match (here {hard_row_fraction:.1%} of rows are one-hot), the usual form for "
         "distillation",
         caveats=("kl_div takes the model's log-probabilities (log_softmax), see "
                  "losskit explain kl_div; with a temperature T multiply the loss by T^2",)),
    Rule("soft-labels-js", "js_div", 7, "task == 'soft_labels'",
         "Jensen-Shannon is symmetric and bounded (by log 2), gentler when the {n_classes}-class "
         "targets put zero mass where the model puts some"),
    # ---------------------------------------------------------------- segmentation
    Rule("segmentation-combo", "0.5*dice + 0.5*cross_entropy", 11,
         "task == 'segmentation' and not binary_masks",
         "{n_classes} classes over {foreground_fraction:.1%} foreground pixels: Dice works on "
         "overlap so small structures count, cross-entropy keeps per-pixel gradients smooth and "
         "stable; the sum is the usual segmentation default",
         params={"dice": "{'activation': 'softmax', 'batch': bool(empty_mask_fraction)}"},
         caveats=("softmax over the class dimension: the channels must sum to 1 per pixel",)),
    Rule("segmentation-combo-binary", "0.5*dice + 0.5*binary_cross_entropy", 11, "binary_masks",
         "binary masks with {foreground_fraction:.1%} foreground pixels: Dice counts overlap so "
         "the small foreground matters, binary cross-entropy keeps gradients smooth",
         params={"dice": "{'activation': 'sigmoid', 'batch': bool(empty_mask_fraction)}"}),
    Rule("segmentation-small-foreground", "0.5*dice + 0.5*cross_entropy", 2,
         "task == 'segmentation' and not binary_masks and foreground_fraction < 0.2",
         "cross-entropy alone would be dominated by the background ({foreground_fraction:.1%} "
         "foreground)"),
    Rule("segmentation-ce", "cross_entropy", 9, "task == 'segmentation' and not binary_masks",
         "pixel-wise cross-entropy over {n_classes} classes is the stable baseline when the "
         "classes are not tiny (smallest class {smallest_class_fraction:.1%} of pixels)"),
    Rule("segmentation-ce-small", "cross_entropy", -3,
         "task == 'segmentation' and foreground_fraction < 0.2"),
    Rule("segmentation-dice", "dice", 8, "task == 'segmentation'",
         "Dice alone optimizes overlap directly ({foreground_fraction:.1%} foreground), but its "
         "gradient is noisy early in training"),
    Rule("segmentation-empty", "*", 0, "task == 'segmentation' and empty_mask_fraction > 0",
         caveats=("{empty_mask_fraction:.1%} of masks have no foreground: per-image Dice is "
                  "undefined there; pass batch=True to overlap losses (one Dice over the batch)",)),
    Rule("segmentation-rare-class", "generalized_dice", 9,
         "task == 'segmentation' and n_classes > 2 and smallest_class_fraction < 0.01",
         "the smallest class covers {smallest_class_fraction:.1%} of pixels: generalized Dice "
         "weights each class by 1 / volume^2 so it is not ignored"),
    Rule("segmentation-recall", "tversky", 14,
         "task == 'segmentation' and metric == 'recall'",
         "recall matters most ({foreground_fraction:.1%} foreground): Tversky with alpha = "
         "{alpha} on false positives and beta = {beta} on false negatives trades precision for "
         "recall",
         params={"alpha": "0.3", "beta": "0.7",
                 "activation": "'sigmoid' if binary_masks else 'softmax'"}),
    Rule("segmentation-iou", "lovasz_softmax", 12,
         "task == 'segmentation' and not binary_masks and metric == 'iou'",
         "the metric is IoU: the Lovasz-softmax loss is a convex surrogate of the Jaccard index "
         "over {n_classes} classes",
         caveats=("Lovasz works best fine-tuning a model first trained with cross-entropy",)),
    Rule("segmentation-iou-binary", "lovasz_hinge", 12, "binary_masks and metric == 'iou'",
         "the metric is IoU: the Lovasz hinge is a convex surrogate of the Jaccard index for "
         "binary masks ({foreground_fraction:.1%} foreground)",
         caveats=("Lovasz works best fine-tuning a model first trained with cross-entropy",)),
    # ---------------------------------------------------------------- sequences
    Rule("sequence-ce", "sequence_cross_entropy", 12, "task == 'sequence'",
         "{n_sequences} sequences of {length_min} to {length_max} tokens over a vocabulary of "
         "{vocab_size}: per-token cross-entropy with padding ignored (its exp is perplexity)",
         params={"ignore_index": "-100"},
         caveats=("pad with -100 (or pass a padding mask) so padded positions are not trained",)),
    Rule("sequence-large-vocab", "linear_cross_entropy", 13,
         "task == 'sequence' and vocab_size >= 32000",
         "a {vocab_size}-token vocabulary makes [B, T, V] logits the memory peak: "
         "linear_cross_entropy computes the loss from hidden states without materializing them"),
    Rule("sequence-ctc", "ctc", 11, "task == 'sequence' and metric == 'wer'",
         "edit-distance metrics on transcripts ({length_mean} tokens on average): if the inputs "
         "are unaligned frames (speech, handwriting), CTC sums over all alignments",
         params={"blank": "0", "zero_infinity": "True"},
         caveats=("CTC needs input length >= target length (plus repeats), and index 0 reserved "
                  "for blank",)),
    # ---------------------------------------------------------------- declared-only tasks
    Rule("metric-learning-supcon", "supcon", 12, "task == 'metric_learning'",
         "{n_classes} identities with labels: supervised contrastive loss uses every same-label "
         "pair in the batch (smallest identity has {smallest_class_count} samples)",
         params={"temperature": "0.1"},
         caveats=("batches need >= 2 samples per identity: use a P x K sampler",)),
    Rule("metric-learning-triplet", "batch_triplet", 11, "task == 'metric_learning'",
         "triplet loss with semi-hard mining over {n_classes} identities: anchor-positive "
         "closer than anchor-negative by a margin (FaceNet)",
         params={"margin": "0.2", "mining": "'semihard'"},
         caveats=("hard mining from the start can collapse embeddings; semi-hard is safer",)),
    Rule("metric-learning-contrastive", "contrastive", 8, "task == 'metric_learning'",
         "pairwise contrastive loss (Siamese networks) for {n_classes} identities: pull same "
         "pairs together, push different pairs beyond a margin",
         params={"margin": "1.0"}),
    Rule("metric-learning-self-supervised", "nt_xent", 7, "task == 'metric_learning'",
         "without labels, NT-Xent (SimCLR) treats two augmentations of a sample as the pair; "
         "here {n_classes} identity labels exist, so prefer a supervised loss",
         params={"temperature": "0.5"}),
    Rule("ranking-pairwise", "pairwise_logistic", 12,
         "task == 'ranking' or (metric == 'ndcg' and regression)",
         "relevance takes {n_distinct} distinct values: pairwise logistic loss learns the order "
         "of every pair with different relevance"),
    Rule("ranking-margin", "margin_ranking", 9, "task == 'ranking'",
         "margin ranking loss (hinge on score differences) for {n} items: ordered pairs must be "
         "separated by a margin",
         params={"margin": "1.0"}),
    Rule("reconstruction-bce", "binary_cross_entropy", 11,
         "task == 'reconstruction' and min >= 0 and max <= 1",
         "inputs lie in [{min}, {max}]: per-pixel binary cross-entropy on logits is the "
         "Bernoulli reconstruction likelihood"),
    Rule("reconstruction-mse", "mse", 10, "task == 'reconstruction'",
         "MSE reconstruction (range {min} to {max}) gives smooth reconstructions; MAE keeps "
         "edges sharper"),
    Rule("reconstruction-vae", "vae_elbo", 9, "task == 'reconstruction'",
         "for a VAE, the ELBO adds KL(q(z|x) || N(0, I)) to the reconstruction of the {n} "
         "samples",
         params={"beta": "1.0", "recon_loss": "'bce' if (min >= 0 and max <= 1) else 'mse'"},
         caveats=("too much KL weight collapses the posterior (the decoder ignores z): anneal "
                  "beta from 0 or use free bits; too little leaves the latent space "
                  "unstructured",)),
    Rule("detection-giou", "giou", 12, "task == 'detection'",
         "box regression over {n} boxes: GIoU optimizes the overlap the metric measures and "
         "still has a gradient when boxes do not overlap"),
    Rule("detection-ciou", "ciou", 11, "task == 'detection'",
         "CIoU adds centre distance and aspect ratio terms to IoU, converging faster on the "
         "{n} boxes"),
    Rule("detection-smooth-l1", "smooth_l1", 9, "task == 'detection'",
         "Smooth L1 on box offsets (Faster R-CNN) is robust to the occasional badly matched box "
         "among {n}",
         params={"beta": "0.111"},
         caveats=("the class head of a one-stage detector pairs with sigmoid_focal "
                  "(gamma = 2, alpha = 0.25)",)),
    Rule("rl-actor-critic", "actor_critic", 12, "task == 'reinforcement'",
         "returns have std {std}: an actor-critic loss subtracts a learned baseline (the value) "
         "to cut the variance of the policy gradient",
         params={"value_coef": "0.5", "entropy_coef": "0.01"}),
    Rule("rl-policy-gradient", "policy_gradient", 9, "task == 'reinforcement'",
         "plain REINFORCE on returns (mean {mean}); pass a baseline to reduce variance"),
    Rule("energy-nll", "energy_nll", 12, "task == 'energy'",
         "an energy-based model over {n_classes} classes: the NLL pushes the energy of the "
         "correct answer down and of all others up through the partition function"),
    Rule("energy-margin", "energy_margin", 10, "task == 'energy'",
         "the margin form only asks the correct answer's energy to beat the best wrong one of "
         "{n_classes} by a margin",
         params={"margin": "1.0"}),
    # ---------------------------------------------------------------- whatever the loss
    Rule("non-differentiable-metric", "*", 0, "non_differentiable",
         caveats=("{metric} is not differentiable: train on this proxy, then choose the decision "
                  "threshold (or rounding) that maximizes {metric} on validation data",)),
    Rule("unknown-metric", "*", 0, "not known_metric",
         caveats=("losskit has no rule for metric {metric!r}; the ranking follows the data only. "
                  "A custom loss should track the metric: register it with "
                  "losskit.register_loss and run losskit.check on it before training",)),
    Rule("missing-targets", "*", 0, "n_missing + n_nonfinite > 0",
         caveats=("{n_missing} missing and {n_nonfinite} non-finite targets were left out of "
                  "this profile: drop those rows or give them weight 0",)),
    Rule("drift-regression", "*", 0, "regression and order_shift is not None and "
         "abs(order_shift) >= 0.5",
         caveats=("the last quarter of the rows sits {order_shift} robust sigmas from the first: "
                  "if rows are in time order the target drifts, so weight recent samples more "
                  "(the weight= argument) and retrain regularly; if extreme values are becoming "
                  "more common, a robust loss (huber, mae) limits their pull",)),
    Rule("drift-binary", "*", 0, "task == 'binary' and positive_rate_first_quarter is not None "
         "and abs(positive_rate_shift_z) >= 3 "
         "and (positive_rate_last_quarter >= 1.5 * positive_rate_first_quarter "
         "or positive_rate_first_quarter >= 1.5 * positive_rate_last_quarter)",
         caveats=("the positive rate moves from {positive_rate_first_quarter:.1%} in the first "
                  "quarter of rows to {positive_rate_last_quarter:.1%} in the last: if rows are in "
                  "time order, recompute class weights on recent data and weight recent samples",)),
    Rule("many-features", "*", 0, "features_per_sample is not None and features_per_sample > 0.1",
         caveats=("{n_features} features for {n} rows: add weight decay or losskit.F.l2_penalty "
                  "to the loss",)),
)


def rules_for(loss_name: str) -> list[str]:
    """The rationales of every rule that recommends ``loss_name`` (for ``losskit explain``).

    Placeholders for measured numbers read as ``<name>``.
    """
    from .._core.registry import get_info

    try:
        name = get_info(loss_name).name
    except ValueError:
        name = loss_name.strip().lower().replace("-", "_")
    out = []
    for rule in RULES:
        terms = {t.split("*")[-1].strip() for t in rule.loss.split("+")}
        if rule.score > 0 and rule.because and (rule.loss == name or name in terms):
            out.append(f"when {rule.when}: {_placeholders(rule.because)}")
    return out


def _placeholders(text: str) -> str:
    return re.sub(r"\{([^}:!]+)[^}]*\}", lambda m: f"<{m.group(1)}>", text)
