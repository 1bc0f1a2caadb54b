"""losskit.profile / losskit.recommend: on data with known properties, the expert's choice.

Every data set here is generated with a fixed seed and a property far from the decision
boundary of the rule it exercises (5% gross outliers, a 1:50 imbalance), so the
assertions hold with wide margins rather than by luck of the draw.
"""

from __future__ import annotations

import json
import math
import string

import numpy as np
import pytest
import torch

import losskit
from losskit.advise import RULES, TASKS, profile, recommend, rules_for
from losskit.cli import main

# Every name DESIGN.md section 3 lists; a rule proposing anything else is a typo.
DESIGN_NAMES = frozenset({
    "mse", "mae", "huber", "smooth_l1", "log_cosh", "quantile", "msle", "poisson_nll",
    "gaussian_nll", "binary_cross_entropy", "cross_entropy", "nll", "sigmoid_focal",
    "softmax_focal", "hinge", "multiclass_hinge", "poly1_cross_entropy", "asymmetric_multilabel",
    "kl_div", "js_div", "perplexity", "ctc", "sequence_cross_entropy", "linear_cross_entropy",
    "dice", "jaccard", "tversky", "generalized_dice", "lovasz_softmax", "lovasz_hinge",
    "contrastive", "triplet_margin", "batch_triplet", "info_nce", "nt_xent", "supcon", "coral",
    "corn", "gaussian_kl", "vae_elbo", "l1_penalty", "l2_penalty", "bound_penalty",
    "demographic_parity_gap", "equalized_odds_gap", "policy_gradient", "actor_critic",
    "energy_margin", "energy_nll", "margin_ranking", "pairwise_logistic", "soft_f1", "giou",
    "diou", "ciou", "dpo", "simpo", "orpo", "kto", "bradley_terry", "ppo_clip", "ppo_value",
    "grpo", "kl_penalty", "distillation", "linear_distillation", "arcface", "cosface", "circle",
    "proxy_anchor", "multi_similarity", "clip_contrastive", "siglip", "vicreg", "barlow_twins",
    "negative_cosine", "dino", "ssim", "ms_ssim", "charbonnier", "total_variation",
    "general_robust", "cauchy", "welsch", "geman_mcclure", "gan_generator", "gan_discriminator",
    "gradient_penalty", "r1_penalty", "diffusion", "cox_ph", "discrete_hazard", "weibull_nll",
    "deephit", "tobit", "listnet", "listmle", "lambdarank", "approx_ndcg", "tweedie",
    "negative_binomial_nll", "mape", "smape", "mase", "logit_adjusted_cross_entropy",
    "balanced_softmax", "generalized_cross_entropy", "symmetric_cross_entropy",
    "bootstrapped_cross_entropy", "brier", "tukey_biweight",
})
#: Registered losses added after the design's list (public names too).
ADDED_NAMES = frozenset({"crps_gaussian", "crps_ensemble"})


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def names(rec) -> list[str]:
    return [c.name for c in rec.choices]


def linear_data(n=2000, sigma=2.0, outlier_share=0.0, seed=0):
    g = rng(seed)
    X = g.normal(size=(n, 4))
    y = X @ np.array([3.0, -2.0, 1.0, 0.5]) + 20 + g.normal(0, sigma, n)
    k = int(outlier_share * n)
    y[g.choice(n, k, replace=False)] += g.uniform(15, 40, k) * sigma  # gross, one-sided
    return X, y


def assert_reasons_cite_profile(rec) -> None:
    """Each reason holds a digit, and every field it cites resolves to the same value in the
    profile dict of the recommendation or in the choice's own hyperparameters."""
    prof = rec.to_dict()["profile"]
    for choice in rec.choices:
        assert choice.reasons, choice.name
        assert len(choice.evidence) == len(choice.reasons)
        for reason, cited in zip(choice.reasons, choice.evidence):
            assert any(ch.isdigit() for ch in reason), reason
            assert cited, reason
            for expr, value in cited.items():
                scope = {**prof, **choice.params}
                found = string.Formatter().get_field(expr, (), scope)[0]
                assert found == value, (reason, expr)


# ------------------------------------------------------------------------------- regression


def test_clean_gaussian_noise_judged_by_rmse_gives_mse():
    X, y = linear_data(sigma=2.0)
    for rec in (recommend(y, metric="rmse"), recommend(y, X, metric="rmse")):
        assert rec.best.name == "mse"
        assert rec.best.params == {}
        assert rec.profile.noise_outlier_fraction < 0.01
        assert_reasons_cite_profile(rec)


@pytest.mark.parametrize("with_features", [False, True])
def test_gross_outliers_judged_by_mae_give_a_robust_loss_with_a_clean_scale_delta(with_features):
    sigma = 2.0
    if with_features:
        X, y = linear_data(sigma=sigma, outlier_share=0.05, seed=1)
    else:
        X, y = None, 20 + rng(1).normal(0, sigma, 2000)
        y[rng(2).choice(2000, 100, replace=False)] += 60
    rec = recommend(y, X, metric="mae")
    assert rec.best.name in ("huber", "mae")
    assert "mse" not in names(rec)
    huber = next(c for c in rec.choices if c.name == "huber")
    target = 1.345 * sigma
    assert target / 2 < huber.params["delta"] < target * 2
    assert 0.03 < rec.profile.noise_outlier_fraction < 0.08
    assert_reasons_cite_profile(rec)


def test_features_separate_noise_from_signal():
    # Without X the spread of y is mostly signal; with X the residual scale is the noise.
    X, y = linear_data(sigma=1.0, seed=3)
    assert profile(y).noise_sigma > 2.5
    assert 0.7 < profile(y, X).noise_sigma < 1.4
    assert "linear fit on 4 features" in profile(y, X).noise_source


def test_asymmetric_costs_give_the_matching_quantile():
    y = rng(4).normal(50, 5, 500)
    rec = recommend(y, costs={"under": 3, "over": 1})
    assert rec.best.name == "quantile"
    assert rec.best.params == {"quantiles": 0.75}
    assert "0.75" in rec.best.reasons[0]
    assert rec.to_dict()["profile"]["quantile_level"] == 0.75
    assert recommend(y, costs="under=1,over=4").best.params == {"quantiles": 0.2}
    assert_reasons_cite_profile(rec)


def test_pinball_metric_reads_its_level():
    rec = recommend(rng(5).normal(size=300), metric="pinball@0.9")
    assert (rec.best.name, rec.best.params) == ("quantile", {"quantiles": 0.9})


def test_counts_give_poisson_nll_and_overdispersed_counts_a_negative_binomial():
    g = rng(6)
    X = g.normal(size=(1500, 2))
    y = g.poisson(np.exp(1.0 + 0.6 * X[:, 0] - 0.3 * X[:, 1]))  # an exact Poisson GLM
    rec = recommend(y, X)
    assert rec.profile.task == "count" and not rec.profile.task_declared
    assert rec.best.name == "poisson_nll"
    assert rec.best.params == {"log_input": True}
    assert_reasons_cite_profile(rec)
    # A Poisson-gamma mixture (variance / mean ~ 2.5 and more) is overdispersed
    mix = g.poisson(g.gamma(2.0, 2.5, 1500))
    rec = recommend(mix)
    assert rec.profile.dispersion > 2
    assert rec.best.name == "negative_binomial_nll"
    alpha = rec.best.params["dispersion"]
    assert 0.3 < alpha < 0.8  # gamma shape 2: alpha = 1 / shape = 0.5
    assert "huber" not in names(rec) and "mae" not in names(rec)  # the tail is not outliers
    poisson = next(c for c in rec.choices if c.name == "poisson_nll")
    assert any("dispersion" in c and "> 2" in c for c in poisson.caveats)
    assert_reasons_cite_profile(rec)


def test_positive_target_spanning_orders_of_magnitude_gives_msle_and_warns_about_log_of_zero():
    y = np.exp(rng(7).normal(3, 1.5, 2000))
    y[:100] = 0.0  # 5% zeros: real zeros (log1p handles them), not a censoring limit
    rec = recommend(y)
    assert rec.best.name == "msle"
    assert rec.profile.orders_of_magnitude > 2
    assert any("log1p(0) = 0" in c for c in rec.best.caveats)
    assert_reasons_cite_profile(rec)


def test_proportions_give_bce_with_probability_targets():
    rec = recommend(rng(8).beta(2, 5, 800))
    assert rec.profile.task == "proportion"
    assert rec.best.name == "binary_cross_entropy"


def test_heteroscedastic_noise_brings_in_gaussian_nll():
    g = rng(9)
    X = g.uniform(1, 10, size=(3000, 1))
    y = 2 * X[:, 0] + g.normal(0, 1, 3000) * X[:, 0]  # noise grows with the mean
    rec = recommend(y, X)
    assert rec.profile.heteroscedasticity > 0.3
    assert "gaussian_nll" in names(rec)


def test_drift_over_row_order_is_a_caveat_on_every_choice():
    y = rng(10).normal(0, 1, 2000) + np.linspace(0, 3, 2000)
    rec = recommend(y)
    assert rec.profile.order_shift > 1
    assert all(any("weight recent samples" in c for c in ch.caveats) for ch in rec.choices)
    assert not any("weight recent" in c for ch in recommend(rng(10).normal(size=2000)).choices
                   for c in ch.caveats)


# --------------------------------------------------------------------------- classification


def imbalanced_binary(n=5100, ratio=50, seed=11):
    y = np.zeros(n, dtype=int)
    y[rng(seed).choice(n, n // (ratio + 1), replace=False)] = 1
    return y


def test_rare_positives_judged_by_f1_give_weighted_bce_or_focal_from_the_counts():
    y = imbalanced_binary()
    n_pos = int(y.sum())
    rec = recommend(y, metric="f1")
    assert rec.best.name in ("binary_cross_entropy", "sigmoid_focal")
    bce = next(c for c in rec.choices if c.name == "binary_cross_entropy")
    assert bce.params["pos_weight"] == pytest.approx((len(y) - n_pos) / n_pos, rel=0.01)
    assert 45 < bce.params["pos_weight"] < 55
    focal = next(c for c in rec.choices if c.name == "sigmoid_focal")
    # RetinaNet's alpha at gamma = 2 (and the focal card's default), not n_neg / n = 0.98
    assert focal.params == {"gamma": 2.0, "alpha": 0.25}
    assert focal.params["alpha"] == losskit.info("sigmoid_focal").hyperparameters["alpha"]
    assert "pos_weight=50.0" in bce.code  # a float; a per-label list becomes a tensor
    assert any("threshold" in c for c in bce.caveats)  # F1 is not differentiable
    assert_reasons_cite_profile(rec)


def test_log_loss_keeps_plain_bce_and_drops_focal():
    rec = recommend(imbalanced_binary(), metric="log_loss")
    assert rec.best.name == "binary_cross_entropy"
    assert "pos_weight" not in rec.best.params
    assert "sigmoid_focal" not in names(rec)


def test_auc_prefers_a_pairwise_surrogate():
    rec = recommend(imbalanced_binary(), metric="roc_auc")
    assert names(rec)[:2] == ["pairwise_logistic", "binary_cross_entropy"]


def test_binary_costs_set_the_decision_threshold_and_nothing_else():
    rec = recommend(imbalanced_binary(), costs={"fn": 5, "fp": 1})
    assert rec.to_dict()["profile"]["decision_threshold"] == pytest.approx(1 / 6, abs=1e-3)
    assert rec.best.name == "binary_cross_entropy"
    assert any("0.1667" in r for r in rec.best.reasons)
    # one mechanism: the costs' threshold on calibrated probabilities, never pos_weight too
    assert "pos_weight" not in rec.best.params
    assert "sigmoid_focal" not in names(rec)


@pytest.mark.parametrize("y, costs, message", [
    (np.array([0, 1] * 50), {"under": 3, "over": 1}, "fn=...,fp=..."),
    (np.linspace(0, 10, 100), {"fn": 5, "fp": 1}, "under=...,over=..."),
    (np.repeat(np.arange(4), 25), {"fn": 5, "fp": 1}, "binary decision"),
    (np.linspace(0, 10, 100), "under=3", "both"),
    (np.linspace(0, 10, 100), "under=-1,over=1", "positive"),
    (np.linspace(0, 10, 100), "under=3,over=1,fn=2,fp=1", "not both"),
])
def test_costs_that_do_not_fit_the_task_raise_a_clear_error(y, costs, message):
    with pytest.raises(losskit.LossInputError, match=message.replace(".", r"\.")):
        recommend(y, costs=costs)


def test_imbalanced_multiclass_gets_balanced_class_weights():
    y = np.repeat([0, 1, 2], [900, 90, 10])
    rec = recommend(y, metric="f1")
    ce = next(c for c in rec.choices if c.name == "cross_entropy")
    weights = ce.params["class_weight"]
    # n / (K n_k): equal total weight per class
    assert weights == pytest.approx([1000 / (3 * 900), 1000 / (3 * 90), 1000 / (3 * 10)],
                                    rel=0.01)
    assert "torch.tensor([" in ce.code
    json.dumps(rec.to_dict())


def test_noisy_labels_bring_a_noise_robust_loss():
    g = rng(12)
    X = g.normal(size=(2000, 3))
    clean = (X @ np.array([4.0, -3.0, 2.0]) > 0).astype(int)
    flipped = clean.copy()
    idx = g.choice(2000, 400, replace=False)  # 20% flipped
    flipped[idx] = 1 - flipped[idx]
    assert profile(clean, X).suspected_label_noise < 0.02
    rec = recommend(flipped, X)
    assert 0.1 < rec.profile.suspected_label_noise < 0.3
    assert names(rec)[:2] == ["generalized_cross_entropy", "symmetric_cross_entropy"]
    bce = next(c for c in rec.choices if c.name == "binary_cross_entropy")
    assert bce.params.get("label_smoothing") == 0.1
    assert recommend(clean, X).best.name == "binary_cross_entropy"
    assert "label_smoothing" not in recommend(clean, X).best.params


def test_confident_learning_flags_what_cleanlab_flags_below_the_own_class_threshold():
    cleanlab = pytest.importorskip("cleanlab.filter")
    from losskit.advise._profile import confident_learning_issues

    g = rng(31)
    k, n = 4, 3000
    true = g.integers(0, k, n)
    logits = 2.5 * np.eye(k)[true] + g.normal(0, 1.2, (n, k))
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = true.copy()
    flip = g.random(n) < 0.15
    labels[flip] = g.integers(0, k, flip.sum())
    ours = confident_learning_issues(labels, proba)
    theirs = cleanlab.find_label_issues(labels, proba, filter_by="confident_learning")
    thresholds = np.array([proba[labels == j, j].mean() for j in range(k)])
    below_own = proba[np.arange(n), labels] < thresholds[labels]
    # Northcutt et al.'s off-diagonal rows, restricted to rows below their own threshold
    np.testing.assert_array_equal(ours, theirs & below_own)
    assert ours.sum() > 0.5 * theirs.sum()


def test_multilabel_indicator_matrix_gives_per_label_bce_never_softmax():
    g = rng(13)
    y = (g.random((1000, 5)) < [0.4, 0.3, 0.2, 0.1, 0.05]).astype(int)
    prof = profile(y)
    assert prof.task == "multilabel"
    # expected cardinality = sum of the planted label rates 0.4 + 0.3 + 0.2 + 0.1 + 0.05
    assert prof.label_cardinality == pytest.approx(1.05, abs=0.1)
    rec = recommend(y)
    assert rec.best.name == "binary_cross_entropy"
    assert "cross_entropy" not in names(rec)
    assert len(rec.best.params["pos_weight"]) == 5
    assert_reasons_cite_profile(rec)


def test_one_hot_matrix_is_multiclass_not_multilabel():
    y = np.eye(4, dtype=int)[rng(14).integers(0, 4, 400)]
    assert profile(y).task == "multiclass"
    assert recommend(y).best.name == "cross_entropy"


def test_declared_ordinal_gives_coral_or_corn_and_the_profile_says_it_was_declared():
    y = rng(15).integers(1, 6, 800)
    prof = profile(y, task="ordinal")
    assert prof.task == "ordinal" and prof.task_declared
    assert prof.inferred_task == "multiclass"
    assert "declared" in prof.task_rule
    rec = recommend(y, task="ordinal")
    assert set(names(rec)[:2]) == {"coral", "corn"}
    assert_reasons_cite_profile(rec)


def test_probability_targets_give_soft_cross_entropy_or_kl_with_the_kl_js_argument_right_way():
    y = rng(16).dirichlet(np.ones(5), 600)
    rec = recommend(y)
    assert rec.profile.task == "soft_labels"
    assert set(names(rec)[:2]) == {"cross_entropy", "kl_div"}
    assert_reasons_cite_profile(rec)
    js = next(c for c in recommend(y, top_k=5).choices if c.name == "js_div")
    assert "~0 mass on a class the target supports" in js.reasons[0]
    # The claim, computed: KL(target || model) blows up as the model's mass on a class the
    # target supports goes to 0; JS stays below log 2.
    import torch

    target = torch.tensor([[0.5, 0.5, 0.0]], dtype=torch.float64)
    kls, jss = [], []
    for eps in (1e-2, 1e-6, 1e-12):
        model = torch.tensor([[1 - 2 * eps, eps, eps]], dtype=torch.float64)
        kls.append(float(losskit.F.kl_div(model.log(), target)))
        jss.append(float(losskit.F.js_div(model.log(), target)))
    assert kls[0] < kls[1] < kls[2] and kls[2] > 12
    assert all(j < np.log(2) for j in jss)


def test_small_foreground_masks_give_dice_plus_cross_entropy_and_recall_gives_tversky():
    masks = np.zeros((6, 32, 32), dtype=int)
    masks[:, 10:14, 10:14] = 1
    masks[:, 20:22, 5:7] = 2
    masks[5] = 0  # one image without foreground
    rec = recommend(masks)
    assert rec.profile.task == "segmentation"
    assert rec.best.name == "0.5*dice + 0.5*cross_entropy"
    assert rec.best.params["dice"]["batch"] is True  # empty masks
    tv = recommend(masks, metric="recall").best
    assert tv.name == "tversky" and tv.params["beta"] > tv.params["alpha"]


def test_declared_only_tasks_have_rules():
    for task, y in [("metric_learning", rng(17).integers(0, 20, 400)),
                    ("ranking", rng(18).integers(0, 4, 400)),
                    ("reconstruction", rng(19).random(400)),
                    ("reinforcement", rng(20).normal(size=400)),
                    ("energy", rng(21).integers(0, 5, 400))]:
        rec = recommend(y, task=task)
        assert rec.choices and rec.profile.task == task
        assert_reasons_cite_profile(rec)


# ----------------------------------------------------------------------- public data sets


def test_sklearn_diabetes_is_continuous_and_gets_a_squared_or_huber_loss():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    rec = recommend(y, X, metric="rmse")
    assert rec.profile.task == "continuous"
    assert rec.best.name == "mse"
    assert recommend(y, X).best.name in ("mse", "huber")
    assert_reasons_cite_profile(rec)


def test_sklearn_breast_cancer_is_mildly_imbalanced_binary_and_gets_plain_bce():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    rec = recommend(y, X, metric="accuracy")
    assert rec.profile.task == "binary"
    assert rec.profile.imbalance_ratio == pytest.approx(357 / 212, rel=0.01)
    assert rec.best.name == "binary_cross_entropy"
    assert "pos_weight" not in rec.best.params  # 1.7:1 is not worth reweighting
    assert rec.profile.suspected_label_noise < 0.05  # a near-separable, clean data set


# --------------------------------------------------------------------------------- profile


def test_profile_accepts_arrays_tensors_pandas_and_lists_alike():
    import pandas as pd

    values = [0.5, 1.5, 2.0, 7.0, 3.0, 2.5]
    kinds = [np.array(values), torch.tensor(values), pd.Series(values),
             pd.DataFrame({"y": values}), values]
    dicts = [profile(v).to_dict() for v in kinds]
    assert all(d == dicts[0] for d in dicts)
    json.dumps(dicts[0])


def test_profile_statistics_match_their_definitions():
    from scipy import stats

    g = rng(22)
    y = np.concatenate([g.normal(0, 1, 950), g.normal(0, 1, 50) + 30])
    prof = profile(y)
    assert prof.outlier_fraction == pytest.approx(0.05, abs=0.005)  # 50 planted of 1000
    assert prof.skewness == pytest.approx(stats.skew(y), rel=1e-3)
    assert prof.excess_kurtosis == pytest.approx(stats.kurtosis(y), rel=1e-3)
    assert prof.mad_sigma == pytest.approx(stats.median_abs_deviation(y, scale="normal"), rel=1e-3)
    counts = profile(np.array([0, 0, 3, 5, 0, 2, 2, 1] * 10, dtype=float), task="count")
    # three zeros in every eight values: 3 / 8 = 0.375
    assert counts.zero_fraction == 0.375 and counts.integer_valued and counts.sign == "non-negative"


def test_missing_and_non_finite_values_are_reported_not_dropped_silently():
    y = np.array([1.0, 2.5, np.nan, 4.0, np.inf, 3.0, np.nan, 2.0])
    prof = profile(y)
    assert (prof.n_missing, prof.n_nonfinite, prof.n) == (2, 1, 8)
    rec = recommend(y)
    assert any("2 missing and 1 non-finite" in c for c in rec.best.caveats)
    labels = ["a", None, "b", "a", "b", None]
    assert profile(labels).n_missing == 2


def test_task_aliases_used_by_other_commands_are_understood():
    assert profile(rng(30).integers(0, 30, 100), task="regression").task == "continuous"
    assert profile(np.array([0, 1, 1, 0] * 10), task="classification").task == "binary"


def test_string_labels_are_classes_and_declared_regression_on_them_fails():
    y = np.array(["cat", "dog", "dog", "cat", "bird"] * 20)
    assert profile(y).task == "multiclass"
    with pytest.raises(losskit.LossInputError, match="numeric"):
        profile(y, task="continuous")


def test_degenerate_targets_raise_one_clear_error():
    with pytest.raises(losskit.LossInputError, match="single value"):
        profile(np.ones(50))
    with pytest.raises(losskit.LossInputError, match="no finite values"):
        profile(np.full(10, np.nan))
    with pytest.raises(losskit.LossInputError, match="unknown task"):
        profile(np.arange(10), task="regresion")
    with pytest.raises(losskit.LossInputError, match="rows"):
        profile(np.arange(10.0), np.zeros((9, 2)))


def test_ragged_sequences_are_profiled():
    g = rng(23)
    seqs = [list(g.integers(0, 100, g.integers(2, 12))) for _ in range(50)]
    rec = recommend(seqs)
    assert rec.profile.task == "sequence" and rec.profile.length_max <= 11
    assert rec.best.name == "sequence_cross_entropy"


# ------------------------------------------------------------------------------ the table


def test_every_rule_names_a_design_loss_and_its_sentences_cite_numbers():
    for rule in RULES:
        for term in rule.loss.split("+"):
            name = term.split("*")[-1].strip()
            assert name == "" or name in DESIGN_NAMES | ADDED_NAMES, (rule.id, name)
        if rule.score > 0 and rule.because:
            fields = [f for _, f, _, _ in string.Formatter().parse(rule.because) if f]
            assert fields, f"rule {rule.id} cites no measured number"


def test_every_rule_runs_on_every_kind_of_target_and_metric():
    from losskit.vocabulary import METRICS, metric_fits_task

    g = rng(24)
    targets = {
        "continuous": g.normal(size=300), "binary": imbalanced_binary(600),
        "multiclass": g.integers(0, 4, 300), "multilabel": (g.random((300, 4)) < 0.2).astype(int),
        "soft_labels": g.dirichlet(np.ones(3), 300), "count": g.poisson(4, 300) * 3,
        "segmentation": g.integers(0, 2, (3, 8, 8)),
    }
    for y in targets.values():
        prof = profile(y)
        fitting = [m for m, metric in METRICS.items() if metric_fits_task(metric, prof.task)
                   is None]
        requests = [(m, None) for m in [None, "unheard_of", *fitting]]
        if prof.task in ("continuous", "count", "proportion"):
            requests.append((None, {"under": 2, "over": 1}))
        if prof.task in ("binary", "multilabel"):
            requests.append(("f1", {"fn": 3, "fp": 1}))
        for metric, costs in requests:
            rec = recommend(prof, metric=metric, costs=costs)
            json.dumps(rec.to_dict())
            assert_reasons_cite_profile(rec)
        others = [m for m in METRICS if m not in fitting]
        for metric in others:
            with pytest.raises(losskit.LossInputError, match="does not fit"):
                recommend(prof, metric=metric)


def test_to_dict_has_exactly_the_contract_shape():
    d = recommend(imbalanced_binary(), metric="f1").to_dict()
    assert set(d) == {"profile", "choices"}
    for c in d["choices"]:
        assert set(c) == {"name", "params", "reasons", "caveats", "code"}
    assert json.loads(json.dumps(d)) == d


def test_snippets_build_the_loss_they_describe():
    cases = [recommend(imbalanced_binary(), metric="f1"),
             recommend(np.repeat([0, 1, 2], [90, 9, 1])),
             recommend(linear_data(outlier_share=0.05)[1], metric="mae"),
             recommend(rng(25).normal(size=100), costs={"under": 3, "over": 1}),
             recommend(np.repeat(np.eye(3, dtype=int)[None, :, :], 4, axis=0))]
    built = []
    for rec in cases:
        for choice in rec.choices:
            terms = [t.split("*")[-1].strip() for t in choice.name.split("+")]
            if not set(terms) <= set(losskit.list_losses()):
                continue  # a family still being written in this tree
            scope: dict = {}
            exec(choice.code, scope)
            assert isinstance(scope["loss"], torch.nn.Module)
            built.append(choice.name)
    assert len(built) >= 6 and any("+" in name for name in built)


def test_rules_for_lists_the_rationales_behind_a_loss():
    huber = rules_for("huber")
    assert len(huber) >= 3 and all("<" in r for r in huber)
    assert any("quantile" in r or "pinball" in r for r in rules_for("pinball"))
    assert rules_for("dice") and rules_for("cross_entropy")
    assert rules_for("no_such_loss") == []


def test_every_declared_task_is_covered_by_some_rule():
    text = " ".join(rule.when for rule in RULES)
    for task in TASKS:
        assert f"'{task}'" in text or task in ("multilabel", "segmentation"), task


def test_str_and_render_are_readable():
    rec = recommend(imbalanced_binary(), metric="f1")
    text = str(rec)
    assert "1. binary_cross_entropy" in text and "pos_weight" in text and "[bold]" not in text


# -------------------------------------------------------------------------------------- CLI


def test_cli_runs_on_the_bundled_example_and_says_so(capsys):
    assert main(["recommend"]) == 0
    out = capsys.readouterr().out
    assert "bundled example" in out and "judged by mae" in out
    assert "huber" in out


def test_cli_json_on_a_csv(tmp_path, capsys):
    X, y = linear_data(n=300, outlier_share=0.05, seed=26)
    path = tmp_path / "d.csv"
    header = "a,b,c,d,price"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header=header, comments="")
    assert main(["recommend", str(path), "--target", "price", "--metric", "mae", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["choices"][0]["name"] in ("huber", "mae") and d["profile"]["n_features"] == 4


def test_cli_costs_and_npy(tmp_path, capsys):
    path = tmp_path / "demand.npy"
    np.save(path, rng(27).normal(100, 10, 300))
    assert main(["recommend", str(path), "--costs", "under=3,over=1", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["choices"][0] == {**d["choices"][0], "name": "quantile", "params": {"quantiles": 0.75}}


def test_cli_npz_with_declared_task(tmp_path, capsys):
    path = tmp_path / "grades.npz"
    np.savez(path, X=rng(28).normal(size=(200, 2)), y=rng(28).integers(0, 5, 200))
    assert main(["recommend", str(path), "--task", "ordinal", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["profile"]["task_declared"] is True
    assert d["choices"][0]["name"] in ("coral", "corn")


@pytest.mark.parametrize("content, args, message", [
    (None, ["missing.csv", "--target", "y"], "no such file"),
    ("price,size\n1,2\n3,4\n", ["--target", "prize"], "did you mean 'price'"),
    ("price,size\n1,2\n1,4\n1,5\n", ["--target", "price"], "single value"),
    ("price,size\n,2\n,4\n", ["--target", "price"], "entirely empty"),
    ("name,size\nann,2\nbob,4\ncy,5\n", ["--target", "name", "--task", "continuous"], "numeric"),
    ("price,size\n1,2\n3,4\n", ["--target", "price", "--costs", "under=3"], "both"),
    ("price,size\n1,2\n3,4\n", ["--target", "price", "--task", "regresion"], "unknown task"),
])
def test_cli_bad_data_exits_2_with_one_line(tmp_path, capsys, content, args, message):
    if content is not None:
        path = tmp_path / "data.csv"
        path.write_text(content)
        args = [str(path), *args]
    else:
        args = [str(tmp_path / args[0]), *args[1:]]
    assert main(["recommend", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("losskit recommend: error:")


def test_cli_misspelled_column_lists_the_columns(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("alpha,beta\n1,2\n3,4\n")
    assert main(["recommend", str(path), "--target", "gamma"]) == 2
    assert "columns: ['alpha', 'beta']" in capsys.readouterr().err


def test_quantile_level_from_costs_is_exact():
    rec = recommend(rng(29).normal(size=50), costs={"under": 1, "over": 1})
    assert rec.best.name != "quantile"  # symmetric costs: no asymmetry to encode
    assert math.isclose(recommend(rng(29).normal(size=50), costs={"under": 9, "over": 1})
                        .best.params["quantiles"], 0.9)


# ------------------------------------------------------------------ data hygiene, robustness


def demand_table(n=600, seed=40):
    """A realistic demand CSV: a date, an order id, a store code, two real features."""
    import pandas as pd

    g = rng(seed)
    price = g.uniform(5, 15, n)
    promo = (g.random(n) < 0.3).astype(int)
    store = g.choice(["north", "south", "east"], n)
    demand = 120 - 4 * price + 15 * promo + (store == "north") * 10 + g.normal(0, 5, n)
    return pd.DataFrame({
        "date": pd.date_range("2021-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        "order_id": [f"ORD-{100000 + i}" for i in range(n)],
        "row": np.arange(n),
        "store": store, "price": price, "promo": promo, "demand": demand,
    })


def test_a_table_with_a_date_and_an_id_keeps_only_the_real_features_and_a_sane_noise_scale():
    df = demand_table()
    X = df.drop(columns=["demand"])
    prof = profile(df["demand"], X)
    # price, promo and the three store levels: nothing made of the date, the id or the row
    assert prof.n_features <= 5
    assert 3.5 < prof.noise_sigma < 7.5  # the planted noise sd is 5
    assert prof.noise_outlier_fraction < 0.02
    notes = " ".join(prof.data_notes)
    assert "'date' holds dates" in notes and "time='date'" in notes
    assert "'order_id' looks like an id" in notes and "'row' looks like an id" in notes
    rec = recommend(df["demand"], X, metric="rmse")
    assert rec.best.name == "mse"


def test_a_column_with_a_few_missing_values_is_imputed_and_said_so():
    df = demand_table()
    df.loc[::30, "price"] = np.nan  # 3.3% missing
    prof = profile(df["demand"], df.drop(columns=["demand"]))
    assert any("'price' has 20 missing values" in n and "imputed" in n for n in prof.data_notes)
    assert prof.n_features == 5


@pytest.mark.parametrize("extreme", [1e13, 1e80, -1e80, 1e300, 1.7e308])
def test_one_extreme_target_cannot_break_the_robust_scale(extreme):
    g = rng(41)
    X = g.normal(size=(200, 2))
    y = 10 + X @ [1.0, -1.0] + g.normal(0, 2, 200)
    y[7] = extreme
    for features in (None, X):
        rec = recommend(y, features, metric="mae")
        json.dumps(rec.to_dict())
        sigma = rec.profile.noise_sigma
        assert 1.0 < sigma < 4.0, sigma  # the noise sd is 2 (3.6 with the signal, no X)
        for choice in rec.choices:
            for value in choice.params.values():
                assert not isinstance(value, float) or abs(value) < 10


def test_the_cli_reports_what_it_did_to_the_table(tmp_path, capsys):
    path = tmp_path / "demand.csv"
    demand_table().to_csv(path, index=False)
    assert main(["recommend", str(path), "--target", "demand", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["profile"]["n_features"] == 5
    assert any("holds dates" in note for note in d["profile"]["data_notes"])
    assert main(["recommend", str(path), "--target", "demand", "--time", "date"]) == 0
    out = capsys.readouterr().out
    assert "data: column 'order_id' looks like an id" in out


# ------------------------------------------------------------------ residuals, not the marginal


def test_a_subgroup_a_feature_explains_is_not_called_outliers():
    g = rng(42)
    n = 1000
    flag = (g.random(n) < 0.1).astype(float)
    X = np.column_stack([g.normal(size=n), flag])
    y = 5 + 2 * X[:, 0] + 30 * flag + g.normal(0, 1, n)
    assert recommend(y).profile.noise_outlier_fraction > 0.05  # marginally: 10% "outliers"
    with_x = recommend(y, X, metric="rmse")
    assert with_x.profile.noise_outlier_fraction < 0.01
    assert with_x.best.name == "mse"
    assert not any(r.startswith("outliers") for c in with_x.choices for r in c.rules)


def test_poisson_glm_data_is_not_called_overdispersed_but_the_marginal_counts_are():
    g = rng(43)
    X = g.normal(size=(3000, 2))
    y = g.poisson(np.exp(1.5 + 0.8 * X[:, 0]))
    marginal, fitted = profile(y), profile(y, X)
    assert marginal.dispersion > 2  # the feature's spread makes the raw counts vary
    assert 0.85 < fitted.dispersion < 1.15  # around the fitted GLM they are Poisson
    assert recommend(y, X).best.name == "poisson_nll"
    assert recommend(y).best.name == "negative_binomial_nll"


def test_huber_tracks_the_median_only_for_symmetric_noise():
    from scipy.optimize import minimize_scalar

    def huber_location(v, delta):
        def loss(m):
            r = np.abs(v - m)
            return np.mean(np.where(r <= delta, 0.5 * r ** 2, delta * (r - 0.5 * delta)))
        return minimize_scalar(loss, bounds=(v.min(), v.max()), method="bounded").x

    g = rng(44)
    symmetric = g.normal(0, 1, 20000)
    skewed = g.exponential(1, 20000)  # median ln 2 = 0.693, mean 1
    for v, close in ((symmetric, True), (skewed, False)):
        sigma = 1.4826 * np.median(np.abs(v - np.median(v)))
        gap = abs(huber_location(v, 1.345 * sigma) - np.median(v))
        assert bool(gap < 0.02) is close, gap  # measured: 0.001 symmetric, 0.18 skewed
    # the advisor offers Huber for an MAE metric only when the residuals are symmetric
    X = g.normal(size=(2000, 2))
    base = X @ [1.0, 2.0]
    sym = recommend(base + g.normal(0, 1, 2000), X, metric="mae")
    skew = recommend(base + g.exponential(1, 2000), X, metric="mae")
    assert "metric-mae-huber" in next(c for c in sym.choices if c.name == "huber").rules
    assert skew.best.name == "mae"
    assert all("metric-mae-huber" not in c.rules for c in skew.choices)


def test_an_interval_metric_gives_two_quantiles_that_cover_the_interval():
    g = rng(45)
    y = g.gamma(2, 3, 5000)
    rec = recommend(y, metric="interval_coverage")
    assert (rec.best.name, rec.best.params) == ("quantile", {"quantiles": [0.05, 0.95]})
    assert "gaussian_nll" not in names(rec)[:1]
    # the pinball minimizers at those levels (the sample quantiles) cover 90% of new data
    lo, hi = np.quantile(y, [0.05, 0.95])
    fresh = g.gamma(2, 3, 20000)
    assert 0.88 < np.mean((fresh >= lo) & (fresh <= hi)) < 0.92


def test_bce_is_offered_for_binary_reconstructions_only():
    import torch

    # the claim, computed: at a perfect reconstruction of x = 0.5, BCE is log 2, not 0
    half = torch.tensor([0.5], dtype=torch.float64)
    perfect = torch.log(half / (1 - half))  # the logit whose sigmoid is x
    assert float(losskit.F.binary_cross_entropy(perfect, half)) == pytest.approx(np.log(2))
    g = rng(46)
    images = g.random((8, 3, 16, 16))
    rec = recommend(images, task="reconstruction", top_k=5)
    assert "binary_cross_entropy" not in names(rec)
    assert rec.best.name == "0.84*ssim + 0.16*mae"
    assert "charbonnier" in names(rec)
    vae = next(c for c in recommend(images.reshape(8, -1), task="reconstruction",
                                    top_k=5).choices if c.name == "vae_elbo")
    assert vae.params["recon_loss"] == "mse"
    binary = recommend((images > 0.5).astype(float), task="reconstruction")
    assert binary.best.name == "binary_cross_entropy"


# ------------------------------------------------------------------ structure and new tasks


def test_a_pile_up_at_a_cap_gives_tobit_with_the_limit():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    cap = np.percentile(y, 75)
    rec = recommend(np.minimum(y, cap), X)
    assert rec.profile.pileup_side == "upper"
    assert rec.profile.pileup_fraction == pytest.approx(0.25, abs=0.01)
    assert rec.best.name == "tobit"
    assert rec.best.params["upper"] == pytest.approx(cap)
    assert "lower" not in rec.best.params and 20 < rec.best.params["sigma"] < 80
    assert_reasons_cite_profile(rec)


def test_zero_heavy_positive_continuous_gives_tweedie():
    g = rng(47)
    y = np.where(g.random(2000) < 0.6, 0.0, g.gamma(2.0, 5.0, 2000))
    rec = recommend(y)
    assert rec.best.name == "tweedie" and rec.best.params == {"power": 1.5}
    assert "tobit" in names(recommend(y, top_k=5))
    assert not any(r.startswith("outliers") for c in rec.choices for r in c.rules)


def test_an_integer_scale_judged_by_mae_is_read_as_ordinal_with_median_decoding():
    g = rng(48)
    X = g.normal(size=(900, 2))
    y = np.clip(np.rint(3 + 1.5 * X[:, 0] + g.normal(0, 1, 900)), 0, 6).astype(int)
    rec = recommend(y, X, metric="mae")
    assert rec.profile.task == "ordinal" and not rec.profile.task_declared
    assert rec.best.name in ("corn", "coral")
    caveats = " ".join(rec.best.caveats)
    assert "declare task='ordinal'" in caveats and "median of the predicted level" in caveats
    plain = recommend(y, X)
    assert plain.profile.task == "multiclass"
    assert any("declare task='ordinal'" in c for c in plain.best.caveats)


def test_censored_times_give_cox_or_a_discrete_hazard():
    import pandas as pd

    g = rng(49)
    df = pd.DataFrame({"age": g.normal(60, 8, 300), "dose": g.uniform(0, 1, 300)})
    time = g.exponential(np.exp(3 - 0.03 * (df["age"] - 60)))
    df["died"] = (g.random(300) < 0.7).astype(int)
    rec = recommend(time, df, event="died")
    assert rec.profile.task == "survival" and rec.profile.n_features == 2
    assert names(rec)[:2] == ["cox_ph", "discrete_hazard"]
    assert rec.profile.censored_fraction == pytest.approx(1 - df["died"].mean(), abs=1e-3)
    assert any("censored rows" in c for c in rec.best.caveats)
    with pytest.raises(losskit.LossInputError, match="0/1"):
        recommend(time, df, event=df["age"])


def test_grouped_relevance_gives_listwise_losses_and_one_choice_per_group_listnet():
    g = rng(50)
    groups = np.repeat(np.arange(80), 5)
    relevance = g.integers(0, 4, 400)
    rec = recommend(relevance, g.normal(size=(400, 3)), group=groups, metric="ndcg@10")
    assert rec.profile.task == "ranking"
    assert set(names(rec)) <= {"lambdarank", "listnet", "listmle", "approx_ndcg"}
    assert rec.best.name == "lambdarank"
    choice = np.tile([0, 1, 0, 0], 50)
    rec = recommend(choice, group=np.repeat(np.arange(50), 4))
    assert rec.best.name == "listnet" and rec.profile.one_positive_per_group


def test_time_order_is_declared_or_warned_about():
    g = rng(51)
    walk = np.cumsum(g.normal(size=500))
    warned = recommend(walk)
    assert any("autocorrelation" in c for c in warned.best.caveats)
    declared = recommend(walk, time=np.arange(500)[::-1])  # reversed order, declared
    assert not any("lag-1 autocorrelation" in c for c in declared.best.caveats)


def test_several_target_columns_are_multi_output_with_per_column_scales():
    from sklearn.datasets import load_linnerud

    X, Y = load_linnerud(return_X_y=True)
    rec = recommend(Y, X)
    assert rec.profile.task == "multioutput" and rec.profile.n_outputs == 3
    assert rec.best.name == "mse"
    assert "sequence_cross_entropy" not in names(rec)
    assert len(rec.profile.output_sigmas) == 3


def test_a_long_tail_judged_by_balanced_accuracy_gives_logit_adjustment():
    y = np.repeat(np.arange(5), [500, 200, 80, 30, 10])
    rec = recommend(y, metric="balanced_accuracy")
    assert names(rec)[:2] == ["logit_adjusted_cross_entropy", "balanced_softmax"]
    assert rec.best.params["class_prior"] == pytest.approx([500 / 820, 200 / 820, 80 / 820,
                                                            30 / 820, 10 / 820], rel=1e-3)
    assert rec.choices[1].params["class_counts"] == [500, 200, 80, 30, 10]
    assert "torch.tensor([" in rec.best.code


@pytest.mark.parametrize("y, kwargs, first, family", [
    ("pairs", {}, "dpo", {"dpo", "simpo", "orpo", "kto"}),
    ("unpaired", {}, "kto", {"dpo", "simpo", "orpo", "kto"}),
    (None, {"task": "reward_modeling"}, "bradley_terry", {"bradley_terry"}),
    (None, {"task": "rl_finetuning"}, "grpo", {"grpo", "ppo_clip"}),
    (None, {"task": "image_text"}, "clip_contrastive", {"clip_contrastive", "siglip"}),
    ("identities", {"task": "metric_learning"}, "arcface",
     {"arcface", "cosface", "supcon", "batch_triplet"}),
])
def test_the_new_families_have_their_rules(y, kwargs, first, family):
    import pandas as pd

    g = rng(52)
    data = {
        "pairs": pd.DataFrame({"prompt": ["p"] * 30, "chosen": ["a"] * 30,
                               "rejected": ["b"] * 30}),
        "unpaired": pd.DataFrame({"prompt": ["p"] * 30, "completion": ["a"] * 30,
                                  "label": [True, False] * 15}),
        "identities": g.integers(0, 100, 1000),
        None: g.normal(size=64),
    }[y]
    rec = recommend(data, **kwargs)
    assert rec.best.name == first
    assert set(names(rec)) <= family
    assert_reasons_cite_profile(rec)


def test_huber_and_smooth_l1_with_the_same_delta_are_one_choice():
    from losskit.advise._recommend import _merge_equivalent

    def cand(params, score):
        return {"score": score, "params": params, "reasons": ["r"], "evidence": [{}],
                "caveats": [], "rules": []}

    same = {"huber": cand({"delta": 2.5}, 12), "smooth_l1": cand({"beta": 2.5}, 13)}
    _merge_equivalent(same)
    assert list(same) == ["huber"] and same["huber"]["score"] == 13
    assert "smooth_l1 with beta = 2.5" in same["huber"]["caveats"][0]
    different = {"huber": cand({"delta": 2.5}, 12), "smooth_l1": cand({"beta": 1.0}, 9)}
    _merge_equivalent(different)
    assert set(different) == {"huber", "smooth_l1"}
    rec = recommend(linear_data(outlier_share=0.05)[1], top_k=6)
    assert "smooth_l1" not in names(rec)


def test_cli_structure_options(tmp_path, capsys):
    import pandas as pd

    g = rng(53)
    df = pd.DataFrame({"age": g.normal(60, 8, 200), "time": g.exponential(10, 200),
                       "died": (g.random(200) < 0.6).astype(int),
                       "query": np.repeat(np.arange(40), 5), "grade": g.integers(0, 4, 200)})
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    assert main(["recommend", str(path), "--target", "time", "--event", "died", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["profile"]["task"] == "survival" and d["choices"][0]["name"] == "cox_ph"
    assert d["profile"]["n_features"] == 3  # age, query, grade: died is the event
    assert main(["recommend", str(path), "--target", "grade", "--group", "query",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["profile"]["task"] == "ranking"
    assert main(["recommend", str(path), "--target", "died", "--costs", "under=3,over=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "fn=...,fp=..." in err
    assert main(["recommend", str(path), "--target", "time", "--event", "nope"]) == 2
    assert "no column 'nope' for --event" in capsys.readouterr().err


def test_the_crps_metric_gives_a_crps_loss_gaussian_or_ensemble_by_the_residuals():
    # The CRPS scores a predictive distribution: a point loss (huber, mae) cannot be judged by
    # it. Gaussian residuals: the closed form; outliers: the ensemble's, which assumes no family.
    g = rng(61)
    X = g.normal(size=(800, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + g.normal(0, 1.0, 800)
    clean = recommend(y, X, metric="crps")
    assert clean.best.name == "crps_gaussian"
    assert_reasons_cite_profile(clean)
    y_out = y.copy()
    y_out[g.random(800) < 0.05] += 40
    assert recommend(y_out, X, metric="crps").best.name == "crps_ensemble"


def test_a_metric_outside_the_vocabulary_is_taken_with_a_hint_when_close():
    # A close name may be a typo (maee) or a metric of its own (nmse, wape, mAP): both are
    # taken, and the caveat names the near one.
    y = rng(62).normal(size=200)
    rec = recommend(y, metric="maee")
    assert any("did you mean 'mae'" in c for c in rec.best.caveats)
    assert recommend(y, metric="nmse").best is not None
    rec = recommend(y, metric="weekly_margin_kpi")
    assert "unknown-metric" in rec.fired
    assert any("no rule for metric 'weekly_margin_kpi'" in c for c in rec.best.caveats)
