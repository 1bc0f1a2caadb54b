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
    "diou", "ciou",
})


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


def test_counts_give_poisson_nll():
    g = rng(6)
    y = g.poisson(np.exp(g.normal(1.5, 0.7, 1500)))
    prof = profile(y)
    assert prof.task == "count" and not prof.task_declared
    assert prof.dispersion_index > 1.5  # a mixture of rates is overdispersed
    rec = recommend(y)
    assert rec.best.name == "poisson_nll"
    assert any("overdispersed" in c for c in rec.best.caveats)
    assert_reasons_cite_profile(rec)


def test_positive_target_spanning_orders_of_magnitude_gives_msle_and_warns_about_log_of_zero():
    y = np.exp(rng(7).normal(3, 1.5, 2000))
    y[:100] = 0.0
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
    assert focal.params["alpha"] == pytest.approx(1 - n_pos / len(y), abs=0.002)
    assert "torch.tensor(" in bce.code
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


def test_binary_costs_set_the_decision_threshold():
    rec = recommend(imbalanced_binary(), costs={"fn": 5, "fp": 1})
    assert rec.to_dict()["profile"]["decision_threshold"] == pytest.approx(1 / 6, abs=1e-3)
    assert any("0.1667" in r for r in rec.best.reasons)


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


def test_noisy_labels_bring_label_smoothing():
    g = rng(12)
    X = g.normal(size=(2000, 3))
    clean = (X @ np.array([4.0, -3.0, 2.0]) > 0).astype(int)
    flipped = clean.copy()
    idx = g.choice(2000, 400, replace=False)  # 20% flipped
    flipped[idx] = 1 - flipped[idx]
    assert profile(clean, X).suspected_label_noise < 0.02
    rec = recommend(flipped, X)
    assert rec.profile.suspected_label_noise > 0.1
    assert rec.best.params.get("label_smoothing") == 0.1
    assert "label_smoothing" not in recommend(clean, X).best.params


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


def test_probability_targets_give_soft_cross_entropy_or_kl():
    y = rng(16).dirichlet(np.ones(5), 600)
    rec = recommend(y)
    assert rec.profile.task == "soft_labels"
    assert set(names(rec)[:2]) == {"cross_entropy", "kl_div"}
    assert_reasons_cite_profile(rec)


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
            assert name == "" or name in DESIGN_NAMES, (rule.id, name)
        if rule.score > 0 and rule.because:
            fields = [f for _, f, _, _ in string.Formatter().parse(rule.because) if f]
            assert fields, f"rule {rule.id} cites no measured number"


def test_every_rule_runs_on_every_kind_of_target_and_metric():
    from losskit.advise import METRICS

    g = rng(24)
    targets = {
        "continuous": g.normal(size=300), "binary": imbalanced_binary(600),
        "multiclass": g.integers(0, 4, 300), "multilabel": (g.random((300, 4)) < 0.2).astype(int),
        "soft_labels": g.dirichlet(np.ones(3), 300), "count": g.poisson(4, 300) * 3,
        "segmentation": g.integers(0, 2, (3, 8, 8)),
    }
    for y in targets.values():
        prof = profile(y)
        requests = [(m, None) for m in [None, "unheard_of", *METRICS]]
        requests += [(None, {"under": 2, "over": 1}), ("f1", {"fn": 3, "fp": 1})]
        for metric, costs in requests:
            rec = recommend(prof, metric=metric, costs=costs)
            json.dumps(rec.to_dict())
            assert_reasons_cite_profile(rec)


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
    ("price,size,junk\n1,2,\n3,4,\n5,6,\n", ["--target", "price"], "'junk'"),
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
