"""losskit.compare: rankings and p-values on data with a known answer, the JSON contract,
layouts, thresholds, the misalignment flag and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import losskit
from losskit.cli import main
from losskit.compare import misalignment, paired_test
from losskit.compare._metrics import resolve_metric, tune_threshold
from losskit.compare.scenarios import misalignment_data, outlier_regression


@pytest.fixture(scope="module")
def outliers_result():
    X, y = outlier_regression(n=300, seed=1)
    return losskit.compare(X, y, losses=["mse", ("huber", {"delta": 1.345}), "mae"],
                           metric="mae", epochs=100, seed=1)


@pytest.fixture(scope="module")
def clean_result():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3))
    y = X @ np.array([1.5, -1.0, 0.5]) + rng.normal(size=300)
    return losskit.compare(X, y, losses=["mse", ("huber", {"delta": 1.345})], metric="rmse",
                           epochs=100, seed=3)


def test_planted_outliers_rank_robust_losses_above_mse(outliers_result):
    c = outliers_result
    assert c.metric == "mae" and c.higher_is_better is False
    assert c.results[-1].loss == "mse"  # worst of three: sorted best first
    mse = c.result("mse")
    for r in c.results:
        if not r.baseline:
            # Measured here: ~3.9 vs ~5.5; the outliers add +15..40 to 10% of targets.
            assert r.mean < 0.85 * mse.mean
            assert r.p_value < 0.01
            assert c.better_than_baseline(r)


def test_clean_data_claims_no_difference(clean_result):
    c = clean_result
    huber = c.result("huber(delta=1.345)")
    assert huber.p_value > 0.2  # measured ~0.5: no difference exists
    assert not c.significant(huber)
    assert abs(huber.diff) < 0.05 * c.result("mse").mean


def test_to_dict_contract_and_json(outliers_result):
    d = outliers_result.to_dict()
    assert {"metric", "higher_is_better", "results"} <= set(d)
    first = d["results"][0]
    assert {"loss", "mean", "std", "p_value", "fit_seconds"} <= set(first)
    base = next(r for r in d["results"] if r["baseline"])
    assert base["p_value"] is None and base["loss"] == "mse"
    assert d["test"] == "corrected_t" and "Nadeau-Bengio" in d["test_description"]
    assert len(first["scores"]) == 5 and first["fit_seconds"] > 0
    assert len(first["curves"]["val_metric"]) == len(first["curves"]["epoch"])
    again = json.loads(json.dumps(d))
    assert again["results"][0]["mean"] == pytest.approx(first["mean"])


def test_same_folds_and_seeds_are_deterministic():
    X, y = outlier_regression(n=120, seed=5)
    a = losskit.compare(X, y, losses=["mae"], folds=3, epochs=20, seed=5)
    b = losskit.compare(X, y, losses=["mae"], folds=3, epochs=20, seed=5)
    assert a.result("mae").scores == b.result("mae").scores


def test_paired_tests():
    a = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert paired_test(a, a) == 1.0
    b = [1.3, 2.2, 3.4, 4.1, 5.3]
    plain, corrected = paired_test(b, a, test="t"), paired_test(b, a)
    # The correction inflates the variance (1/k + 1/(k-1)) / (1/k) = 2.25x for k = 5.
    assert corrected > plain
    from scipy import stats

    assert plain == pytest.approx(stats.ttest_rel(b, a).pvalue)


def test_threshold_tuning_maximizes_f1_on_the_given_data():
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.1).astype(int)
    p = np.clip(0.1 + 0.3 * y + rng.normal(0, 0.15, 400), 0, 1)
    f1 = resolve_metric("f1", "binary")
    thr = tune_threshold(f1, y, p)

    def f1_at(t):  # plain formula, independent of the implementation under test
        pred = p >= t
        tp = np.sum(pred & (y == 1))
        return 2 * tp / (pred.sum() + y.sum())

    best = max(f1_at(t) for t in np.unique(p))  # brute force over every cut
    assert f1_at(thr) == pytest.approx(best)
    assert f1(y, (p >= thr).astype(int)) == pytest.approx(best)  # sklearn agrees
    # recall's operating point is the F1-optimal one, not the degenerate "all positive"
    assert tune_threshold(resolve_metric("recall", "binary"), y, p) == pytest.approx(thr)


def test_layouts_follow_the_loss():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    c = losskit.compare(X, y, losses=["binary_cross_entropy", "cross_entropy"],
                        metric="accuracy", folds=3, epochs=40)
    # Sigmoid BCE on one logit and softmax CE on two logits fit the same model family.
    bce, ce = c.result("binary_cross_entropy"), c.result("cross_entropy")
    assert bce.mean > 0.75 and ce.mean > 0.75
    assert abs(bce.mean - ce.mean) < 0.05
    assert c.task == "binary" and c.baseline == "binary_cross_entropy"


def test_quantile_loss_wins_on_pinball():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 2))
    y = X[:, 0] + rng.exponential(2.0, 300)  # skewed noise: q90 far above the mean
    c = losskit.compare(X, y, losses=[("quantile", {"quantiles": 0.9}), "mse"],
                        metric="pinball@0.9", epochs=100)
    assert c.best.loss == "quantile(quantiles=0.9)"
    # Measured 0.36 vs 0.59, better in 5/5 folds (p=0.03; with 3 folds the corrected
    # t-test has 2 degrees of freedom and cannot call it).
    assert c.best.mean < 0.75 * c.result("mse").mean
    assert c.better_than_baseline(c.best)


def test_callables_and_composite_specs_are_candidates():
    X, y = outlier_regression(n=150, seed=4)

    def cubic_root_loss(pred, target):
        return (pred - target).abs().add(1e-6).pow(0.5).mean()

    c = losskit.compare(X, y, losses=[cubic_root_loss, "0.5*mae + 0.5*mse"], folds=3,
                        epochs=30)
    names = {r.loss for r in c.results}
    assert names == {"cubic_root_loss", "0.5*mae + 0.5*mse", "mse"}  # mse added as baseline
    assert all(np.isfinite(r.mean) for r in c.results)


def test_default_candidates_come_from_the_recommendation():
    from losskit.io import load_dataset

    ds = load_dataset()
    c = losskit.compare(ds.X, ds.y, metric="mae", folds=3, epochs=40, top=2)
    assert c.recommendation is not None
    recommended = [ch["name"] for ch in c.recommendation["choices"][:2]]
    sources = {r.source for r in c.results if not r.baseline}
    assert sources == {"recommendation"}
    assert {r.loss.split("(")[0] for r in c.results if not r.baseline} == set(recommended)
    assert any(r.baseline and r.loss == "mse" for r in c.results)


@pytest.mark.parametrize("kwargs, match", [
    ({"metric": "nonsense"}, "unknown metric"),
    ({"metric": "f1"}, "does not apply"),
    ({"losses": ["no_such_loss"]}, "unknown loss"),
    ({"losses": []}, "no losses"),
    ({"folds": 1}, "folds"),
])
def test_bad_arguments_raise_loss_input_error(kwargs, match):
    X, y = outlier_regression(n=50, seed=0)
    with pytest.raises(losskit.LossInputError, match=match):
        losskit.compare(X, y, **{"losses": ["mae"], **kwargs})


def test_misalignment_detector_on_curves():
    t = np.linspace(0, 1, 25)
    rng = np.random.default_rng(0)
    loss = np.stack([1 - 0.3 * t + 0.01 * rng.normal(size=25) for _ in range(5)])
    worse = np.stack([5 + 2 * t ** 2 + 0.05 * rng.normal(size=25) for _ in range(5)])
    flag = misalignment(loss, worse, higher_is_better=False)
    assert flag is not None and flag["folds_worse"] == 5
    better = np.stack([5 - 2 * t + 0.05 * rng.normal(size=25) for _ in range(5)])
    assert misalignment(loss, better, higher_is_better=False) is None
    noise = np.stack([5 + 0.05 * rng.normal(size=25) for _ in range(5)])
    assert misalignment(loss, noise, higher_is_better=False) is None


def test_misalignment_flag_fires_and_stays_quiet(clean_result):
    X, y = misalignment_data(seed=0)
    c = losskit.compare(X, y, losses=["mse", "mae"], metric="mae", epochs=120)
    mse, mae = c.result("mse"), c.result("mae")
    assert mse.misaligned is not None
    assert mse.misaligned["metric_end"] > 1.15 * mse.misaligned["metric_best"]
    assert any("misalignment" in w for w in mse.warnings)
    assert "misalignment" in c.summary()
    assert mae.misaligned is None
    assert all(r.misaligned is None for r in clean_result.results)


def test_compare_is_reachable_as_function_and_module():
    import losskit.compare as module

    assert callable(losskit.compare) and callable(module)
    assert module.Comparison.__name__ == "Comparison"


# -- CLI -------------------------------------------------------------------------------
def test_cli_bad_file_and_column(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "missing.csv"), "--target", "y"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file" in err[0]
    csv = tmp_path / "d.csv"
    csv.write_text("a,b\n1,2\n3,4\n")
    assert main(["compare", str(csv), "--target", "nope"]) == 2
    assert "no column 'nope'" in capsys.readouterr().err


def test_cli_compare_writes_json_and_figures(tmp_path, capsys):
    X, y = outlier_regression(n=120, seed=0)
    csv = tmp_path / "data.csv"
    rows = "\n".join(",".join(f"{v:.5f}" for v in (*x, t)) for x, t in zip(X, y))
    csv.write_text("f0,f1,f2,target\n" + rows + "\n")
    out = tmp_path / "out"
    code = main(["compare", str(csv), "--target", "target", "--losses", "mse,mae",
                 "--metric", "mae", "--folds", "3", "--epochs", "30", "--out", str(out),
                 "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["metric"] == "mae" and len(printed["results"]) == 2
    assert json.loads((out / "comparison.json").read_text())["metric"] == "mae"
    for name in ("comparison.png", "curves.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_scenario_list(capsys):
    assert main(["compare", "--scenario", "list", "--json"]) == 0
    names = {s["name"] for s in json.loads(capsys.readouterr().out)}
    assert {"outliers", "imbalance", "vanishing_gradient", "interpolation"} <= names
    assert main(["compare", "--scenario", "nope"]) == 2


def test_torch_threads_restored():
    before = torch.get_num_threads()
    X, y = outlier_regression(n=60, seed=0)
    losskit.compare(X, y, losses=["mae"], folds=2, epochs=5)
    assert torch.get_num_threads() == before


def test_thresholds_are_tuned_on_training_folds_only(monkeypatch):
    import losskit.compare._train as train

    seen = []
    real = train.tune_threshold

    def spy(metric, y, proba):
        seen.append(len(y))
        return real(metric, y, proba)

    monkeypatch.setattr(train, "tune_threshold", spy)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 2))
    y = (X[:, 0] + rng.normal(size=100) > 1.0).astype(int)
    c = losskit.compare(X, y, losses=["binary_cross_entropy"], metric="f1", folds=4, epochs=5)
    assert seen and set(seen) == {75}  # 100 rows, 4 folds: always the 75 training rows
    assert len(c.best.thresholds) == 4


def test_multiclass_baseline_and_alternatives():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = np.argmax(X @ rng.normal(size=(3, 3)) + rng.gumbel(size=(300, 3)), axis=1)
    c = losskit.compare(X, y, losses=["cross_entropy", "softmax_focal"], metric="f1",
                        folds=3, epochs=40, extra_metrics=("accuracy", "log_loss"))
    assert c.task == "multiclass" and c.baseline == "cross_entropy"
    assert all(0.4 < r.mean <= 1 for r in c.results)  # macro F1 well above chance (1/3)
    assert set(c.to_dict()["results"][0]["other_metrics"]) == {"accuracy", "log_loss"}


# -- heads: every loss trained and scored on the metric's scale ------------------------------


def test_cancer_counts_poisson_beats_mse_in_rmse_as_glm_fits_do():
    sm = pytest.importorskip("statsmodels.api")
    df = sm.datasets.cancer.load_pandas().data
    for X in (df[["population"]], np.log(df[["population"]])):
        c = losskit.compare(X, df["cancer"], losses=["mse", "poisson_nll"], metric="rmse")
        assert c.task == "count"
        poisson, mse = c.result("poisson_nll"), c.result("mse")
        # statsmodels GLM fits on the same data: Poisson 13.0-13.7 RMSE, OLS 13.4-31
        assert poisson.mean < mse.mean
        assert poisson.mean < 16
        assert poisson.misaligned is None


def test_stackloss_task_is_the_same_in_recommend_and_compare():
    sm = pytest.importorskip("statsmodels.api")
    df = sm.datasets.stackloss.load_pandas().data
    y, X = df["STACKLOSS"], df.drop(columns=["STACKLOSS"])
    for metric in ("mae", None):
        rec = losskit.recommend(y, X, metric=metric)
        c = losskit.compare(X, y, metric=metric, folds=3, epochs=30)
        assert c.task == rec.profile.task == "continuous"


def test_a_dated_table_with_ids_compares_on_the_real_features_only():
    from tests.test_advise import demand_table

    df = demand_table()
    c = losskit.compare(df.drop(columns=["demand"]), df["demand"], losses=["mse"],
                        metric="rmse", folds=3, epochs=60)
    assert c.n_features == 5
    assert any("holds dates" in n for n in c.notes) and any("looks like an id" in n
                                                             for n in c.notes)
    assert 4 < c.result("mse").mean < 7  # the planted noise sd is 5


def test_link_heads_start_near_the_data_and_every_regression_head_trains():
    g = np.random.default_rng(10)
    X = g.normal(size=(240, 2))
    y = g.poisson(np.exp(2.0 + 0.5 * X[:, 0])).astype(float)
    c = losskit.compare(X, y, metric="mae", folds=3, epochs=60, losses=[
        "mse", "poisson_nll", "msle", "gaussian_nll", ("quantile", {"quantiles": [0.1, 0.5, 0.9]}),
        ("huber", {"delta": 3.0}), "crps_gaussian", "crps_ensemble"])
    for r in c.results:
        assert np.isfinite(r.mean) and not r.warnings, (r.loss, r.warnings)
        assert r.mean < 5  # every head reads its prediction back on the counts' scale
    first = c.result("poisson_nll").curves["train_loss"][0]
    assert first < 20  # the log-rate starts at log(mean): exp(x) - y x is O(y), not 1e14


def test_ordinal_heads_decode_the_median_level():
    g = np.random.default_rng(11)
    X = g.normal(size=(600, 2))
    y = np.clip(np.rint(2 + 1.2 * X[:, 0] + g.normal(0, 0.7, 600)), 0, 4).astype(int)
    c = losskit.compare(X, y, metric="mae", folds=3, epochs=80,
                        losses=["cross_entropy", "coral", "corn", "mae"])
    assert c.task == "ordinal"
    scores = {r.loss: r.mean for r in c.results}
    assert max(scores.values()) < 0.8  # the levels are 0..4; a constant guess scores ~1
    assert abs(scores["coral"] - scores["corn"]) < 0.15


def test_huber_and_smooth_l1_with_matching_delta_are_compared_once():
    X, y = outlier_regression(n=120, seed=2)
    c = losskit.compare(X, y, losses=[("huber", {"delta": 2.0}), ("smooth_l1", {"beta": 2.0}),
                                      ("smooth_l1", {"beta": 0.5})], folds=3, epochs=20)
    labels = {r.loss for r in c.results}
    assert labels == {"huber(delta=2)", "smooth_l1(beta=0.5)", "mse"}
    assert any("compared once" in n for n in c.notes)


# -- structure: time, groups, survival, ranking, several targets ------------------------------


def test_time_ordered_folds_train_on_the_past_only():
    from losskit.compare._compare import _prepare, _splits

    g = np.random.default_rng(12)
    n = 200
    t = g.permutation(n)  # rows arrive shuffled; time says their order
    y = np.sin(t / 10) + g.normal(0, 0.1, n)
    data = _prepare(g.normal(size=(n, 1)), y, None, None, t, None, None)
    notes: list[str] = []
    for tr, te in _splits(data, 4, 1, 0, notes):
        assert data.time[tr].max() < data.time[te].min()
    assert any("time-ordered" in note for note in notes)
    c = losskit.compare(np.zeros((n, 0)), y, losses=["mae"], time=t, folds=4, epochs=5)
    assert any("time-ordered folds" in note for note in c.notes)


def test_shuffled_folds_on_ordered_rows_get_a_warning():
    walk = np.cumsum(np.random.default_rng(13).normal(size=300))
    c = losskit.compare(None, walk, losses=["mae"], folds=3, epochs=5)
    assert any(n.startswith("warning: the target's lag-1 autocorrelation") for n in c.notes)


def test_grouped_folds_keep_every_group_whole():
    from losskit.compare._compare import _group_folds

    group = np.repeat(np.arange(23), np.arange(23) % 5 + 1)
    folds = _group_folds(group, 5, seed=0)
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(len(group)))
    for tr, te in folds:
        assert not set(group[tr]) & set(group[te])


def test_ranking_within_groups_is_scored_by_ndcg():
    g = np.random.default_rng(14)
    groups = np.repeat(np.arange(60), 6)
    X = g.normal(size=(360, 2))
    relevance = np.clip(np.rint(1.5 + X[:, 0] + 0.5 * g.normal(size=360)), 0, 3).astype(int)
    c = losskit.compare(X, relevance, group=groups, metric="ndcg@5", losses=["mse", "mae"],
                        folds=3, epochs=40)
    assert c.task == "ranking" and c.metric == "ndcg@5"
    assert all(0.8 < r.mean <= 1 for r in c.results)  # the feature orders the items well
    assert any("grouped folds" in n for n in c.notes)
    # NDCG@5 of one fold's predictions, recomputed group by group with scikit-learn
    from sklearn.metrics import ndcg_score

    from losskit.vocabulary import resolve_metric

    score = np.array(X[:, 0])
    manual = np.mean([ndcg_score(relevance[groups == q][None], score[groups == q][None], k=5)
                      for q in range(60) if np.ptp(relevance[groups == q]) > 0])
    assert resolve_metric("ndcg@5")(relevance, score, group=groups) == pytest.approx(manual)


@pytest.fixture
def toy_cox():
    """A Cox partial likelihood (Breslow, no ties) registered as a user loss with a risk head."""
    from losskit._core import registry

    def toy_cox_ph(risk, time, event, *, weight=None, reduction="mean"):
        order = torch.argsort(time, descending=True)
        r, e = risk[order], event[order]
        log_risk_set = torch.logcumsumexp(r, dim=0)
        total = -((r - log_risk_set) * e).sum()
        return total / e.sum().clamp(min=1)

    losskit.register_loss(
        family="survival", tasks=("survival",), input_kind="values", target_kind="times",
        summary="test Cox", formula="-", gradient="-", when_to_use="-", pitfalls="-",
        example_inputs=lambda n, seed: (), head="risk")(toy_cox_ph)
    yield "toy_cox_ph"
    registry._REGISTRY.pop("toy_cox_ph")


def test_survival_is_scored_by_the_concordance_index(toy_cox):
    pytest.importorskip("sksurv")
    g = np.random.default_rng(15)
    n = 300
    X = g.normal(size=(n, 2))
    time = g.exponential(np.exp(-1.0 * X[:, 0]))  # higher x0, earlier event
    event = (g.random(n) < 0.8).astype(int)
    c = losskit.compare(X, time, event=event, losses=[toy_cox], baseline=toy_cox,
                        folds=3, epochs=60)
    assert c.task == "survival" and c.metric == "concordance"
    assert 0.65 < c.result(toy_cox).mean < 0.9
    with pytest.raises(losskit.LossInputError, match="does not fit a survival"):
        losskit.compare(X, time, event=event, losses=["mse"], baseline=toy_cox, folds=3)


def test_several_targets_and_label_matrices_train():
    from sklearn.datasets import load_linnerud

    X, Y = load_linnerud(return_X_y=True)
    c = losskit.compare(X, Y, losses=["mse", "mae"], metric="mae", folds=3, epochs=40)
    assert c.task == "multioutput" and all(np.isfinite(r.mean) for r in c.results)
    g = np.random.default_rng(16)
    Xm = g.normal(size=(300, 3))
    labels = (Xm @ g.normal(size=(3, 4)) + g.normal(size=(300, 4)) > 0.5).astype(int)
    c = losskit.compare(Xm, labels, losses=["binary_cross_entropy"], metric="f1", folds=3,
                        epochs=40)
    assert c.task == "multilabel" and 0.5 < c.best.mean <= 1


def test_expected_calibration_error_comes_from_torchmetrics():
    pytest.importorskip("torchmetrics")
    from losskit.vocabulary import resolve_metric

    g = np.random.default_rng(17)
    p = g.random(2000)
    y = (g.random(2000) < p ** 2).astype(int)  # over-confident probabilities
    ece = resolve_metric("ece")(y, p)
    # by hand (Guo et al. 2017; torchmetrics' binary form bins P(y = 1)): 15 equal-width
    # bins, |mean predicted probability - rate of 1s| weighted by the bin's share of rows
    edges = np.linspace(0, 1, 16)
    idx = np.clip(np.digitize(p, edges[1:-1], right=True), 0, 14)
    manual = sum(abs(p[idx == b].mean() - y[idx == b].mean()) * np.mean(idx == b)
                 for b in range(15) if np.any(idx == b))
    assert ece == pytest.approx(manual, abs=1e-6)
    X = g.normal(size=(300, 2))
    yb = (X[:, 0] + g.normal(size=300) > 0).astype(int)
    c = losskit.compare(X, yb, losses=["binary_cross_entropy"], metric="ece", folds=3,
                        epochs=30)
    assert c.metric == "ece" and c.higher_is_better is False and 0 <= c.best.mean < 0.2


# -- CLI errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--epochs", "-3"], "--epochs must be at least 1, got -3"),
    (["--repeats", "0"], "--repeats must be at least 1, got 0"),
    (["--folds", "1"], "--folds must be at least 2"),
    (["--costs", "fn=5"], "both 'fn' and 'fp'"),
    (["--costs", "fn=5,fp=1"], "but this target is continuous"),
    (["--metric", "f1"], "does not fit this continuous target"),
    (["--task", "segmentation"], "needs its own training loop"),
])
def test_cli_compare_errors_are_one_line_with_exit_2(capsys, args, message):
    assert main(["compare", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("losskit compare: error:") and "\n" not in err
    assert message in err


def test_cli_compare_out_must_not_be_a_file(tmp_path, capsys):
    existing = tmp_path / "taken.txt"
    existing.write_text("x")
    for out in (existing, existing / "sub"):
        assert main(["compare", "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "file" in err


def test_crps_losses_train_a_distribution_and_resist_outliers():
    # The ensemble head's members spread over the predictive quantiles: its 0.9 level is read
    # back for pinball@0.9, its median for MAE; both CRPS losses pull on outliers like MAE.
    X, y = outlier_regression(n=300, seed=1)
    c = losskit.compare(X, y, losses=["mse", "crps_gaussian", "crps_ensemble"], metric="mae",
                        epochs=100, seed=1)
    mse = c.result("mse").mean
    for name in ("crps_gaussian", "crps_ensemble"):
        assert c.result(name).mean < 0.85 * mse, (name, c.result(name).mean, mse)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 2))
    y = X[:, 0] + rng.exponential(2.0, 300)
    c = losskit.compare(X, y, losses=["crps_ensemble", "mse"], metric="pinball@0.9", epochs=100)
    assert c.result("crps_ensemble").mean < 0.8 * c.result("mse").mean


def test_swapped_arguments_are_flagged():
    # compare takes (X, y) like scikit-learn; recommend and profile take (y, X). Swapped, a
    # 4-feature table became a 4-column target of one feature without a word.
    g = np.random.default_rng(12)
    X = g.normal(size=(100, 4))
    y = X @ np.ones(4) + g.normal(size=100)
    c = losskit.compare(y, X, losses=["mse"], epochs=5, folds=2)
    assert any("check the order" in n for n in c.notes)
    right = losskit.compare(X, y, losses=["mse"], epochs=5, folds=2)
    assert not any("check the order" in n for n in right.notes)
