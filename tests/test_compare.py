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
