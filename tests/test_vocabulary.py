"""losskit.vocabulary: one task inference, one metric table, shared by recommend and compare."""

from __future__ import annotations

import numpy as np
import pytest

import losskit
from losskit.compare import infer_task as compare_task
from losskit.vocabulary import (
    METRICS,
    TASKS,
    count_like,
    infer_task,
    normalize_metric,
    normalize_task,
    resolve_metric,
)


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("word, task", [
    ("regression", "continuous"), ("Classification", "classification"), ("multi-output",
                                                                         "multioutput"),
    ("time_to_event", "survival"), ("learning-to-rank", "ranking"), ("count", "count"),
    ("rlhf", "rl_finetuning"), ("dpo", "preference"), ("reid", "metric_learning"),
])
def test_task_words_and_their_aliases(word, task):
    assert normalize_task(word) == task


def test_an_unknown_task_names_the_nearest():
    with pytest.raises(losskit.LossInputError, match="did you mean 'ordinal'"):
        normalize_task("ordinl")


@pytest.mark.parametrize("metric, canonical, level", [
    ("q90", "pinball", 0.9), ("pinball@0.9", "pinball", 0.9), ("quantile:0.25", "pinball", 0.25),
    ("pinball", "pinball", 0.5), ("ndcg@5", "ndcg", 5.0), ("iou", "jaccard", None),
    ("AUC", "roc_auc", None), ("poisson", "poisson_deviance", None), ("c-index", "concordance",
                                                                       None),
    ("Expected Calibration Error", "ece", None), ("qwk", "qwk", None),
])
def test_metric_spellings(metric, canonical, level):
    assert normalize_metric(metric) == (canonical, level)


def test_every_alias_resolves_to_its_metric():
    for name, metric in METRICS.items():
        for alias in (name, *metric.aliases):
            assert resolve_metric(alias).name == name, alias


@pytest.mark.parametrize("metric, task, words", [
    ("rmse", "sequence", "per token"),
    ("mae", "multiclass", "declare task='ordinal'"),
    ("f1", "continuous", "does not apply"),
    ("concordance", "binary", "does not apply"),
])
def test_a_metric_that_does_not_fit_the_task_is_explained(metric, task, words):
    with pytest.raises(losskit.LossInputError, match=words):
        resolve_metric(metric, task)


def test_recommend_and_compare_accept_the_same_metrics_and_tasks():
    # The three: a count task, a deviance metric, a quantile level
    g = rng(1)
    X = g.normal(size=(120, 2))
    y = g.poisson(np.exp(0.5 + 0.4 * X[:, 0]))
    for metric in ("poisson_deviance", "q90", "rmse"):
        rec = losskit.recommend(y, X, task="count", metric=metric)
        c = losskit.compare(X, y, losses=["mse"], task="count", metric=metric, folds=2,
                            epochs=3)
        assert rec.profile.task == c.task == "count"
        assert c.metric == resolve_metric(metric).name


# ------------------------------------------------------------------------ task inference


@pytest.mark.parametrize("name, y, metric, task", [
    ("stackloss-like readings", np.array([42, 37, 37, 28, 18, 18, 19, 20, 15, 14, 14, 13, 11,
                                          12, 8, 7, 8, 8, 9, 15, 15]), None, "continuous"),
    ("diabetes-like score", np.r_[25:346:3], None, "continuous"),
    ("counts with zeros", np.r_[[0] * 40, [1] * 25, [2] * 15, [3] * 8, [5] * 4, [9] * 2, 14, 23,
                                31], None, "count"),
    ("digit labels", np.repeat(np.arange(10), 30), None, "multiclass"),
    ("ratings judged by MAE", np.repeat(np.arange(1, 8), 30), "mae", "ordinal"),
    ("ratings judged by QWK", np.repeat(np.arange(1, 6), 30), "qwk", "ordinal"),
    ("long-tailed classes judged by balanced accuracy",
     np.repeat(np.arange(6), [300, 150, 70, 30, 12, 4]), "balanced_accuracy", "multiclass"),
    ("fractions", np.linspace(0.01, 0.99, 50), None, "proportion"),
    ("labels", np.array(["yes", "no", "no"] * 10), None, "binary"),
])
def test_inference_reads_the_target_and_the_metric(name, y, metric, task):
    assert infer_task(y, metric=metric)[0] == task, name


def test_several_columns_are_multi_output_regression_never_a_sequence():
    from sklearn.datasets import load_linnerud

    _, Y = load_linnerud(return_X_y=True)
    assert infer_task(Y)[0] == "multioutput"
    assert infer_task(np.round(Y))[0] == "multioutput"  # integer-valued too
    tokens = rng(2).integers(0, 500, (40, 32))
    assert infer_task(tokens)[0] == "sequence"  # 32 columns of token ids


def test_declared_structure_decides_survival_and_ranking():
    g = rng(3)
    times = g.exponential(10, 60)
    assert infer_task(times, event=g.integers(0, 2, 60))[0] == "survival"
    relevance = g.integers(0, 4, 60)
    assert infer_task(relevance, group=np.repeat(np.arange(12), 5))[0] == "ranking"
    choice = np.tile([1, 0, 0, 0], 15)
    assert infer_task(choice, group=np.repeat(np.arange(15), 4))[0] == "ranking"
    # groups of patients with a binary outcome that is not one-per-group stay binary
    outcome = g.integers(0, 2, 60)
    outcome[:4] = [1, 1, 0, 0]
    assert infer_task(outcome, group=np.repeat(np.arange(15), 4))[0] == "binary"


def test_preference_and_image_text_layouts():
    import pandas as pd

    pairs = pd.DataFrame({"prompt": ["a", "b"], "chosen": ["x", "y"], "rejected": ["z", "w"]})
    assert losskit.profile(pairs).task == "preference"
    images = pd.DataFrame({"image": ["1.png", "2.png"], "caption": ["a cat", "a dog"]})
    assert losskit.profile(images).task == "image_text"


def test_count_like_needs_values_near_zero_and_a_right_skew():
    assert count_like(np.repeat([0, 1, 2, 4, 7], [30, 20, 10, 5, 2]))
    assert not count_like(np.array([7, 8, 9, 12, 15, 20, 28, 42]))  # no value near 0
    assert not count_like(np.repeat(np.arange(5), 20))  # uniform levels: labels
    assert not count_like(np.repeat(np.arange(7), [21, 13, 12, 10, 12, 13, 19]))  # a scale


def test_profile_and_compare_infer_the_same_task():
    import statsmodels.api as sm

    for data in (sm.datasets.stackloss.load_pandas().data,):
        y = data["STACKLOSS"]
        for metric in (None, "mae", "rmse"):
            task = losskit.profile(y, metric=metric).task
            assert compare_task(y, metric=metric) == task == "continuous"


def test_every_task_is_described():
    assert all(isinstance(v, str) and v for v in TASKS.values())
