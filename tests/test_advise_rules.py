"""The advisor's rule table: the expression language, the checks made when the table loads,
every rule firing at least once, and every loss a rule names being a registered loss."""

from __future__ import annotations

import builtins
import re
import string

import numpy as np
import pandas as pd
import pytest

import losskit
from losskit.advise import FACTS, RULES, profile, recommend
from losskit.advise._expr import ExprError, compile_expr
from losskit.advise._rules import RuleError, load_rules

# --------------------------------------------------------------------------- expressions


@pytest.mark.parametrize("text, facts, value", [
    ("task == 'binary' and n >= 3", {"task": "binary", "n": 3}, True),
    ("imbalance_ratio >= 3", {"imbalance_ratio": None}, False),  # missing facts never compare
    ("imbalance_ratio < 3", {"imbalance_ratio": None}, False),
    ("not imbalance_ratio", {"imbalance_ratio": None}, True),
    ("min + 1", {"min": None}, None),
    ("quantile_level or 0.5", {"quantile_level": None}, 0.5),
    ("costs['under'] / costs['over']", {"costs": {"under": 3, "over": 1}}, 3.0),
    ("costs['under']", {"costs": None}, None),
    ("'a' if n > 2 else 'b'", {"n": 1}, "b"),
    ("metric in (none, 'f1')", {"metric": None}, True),
    ("metric not in ('f1',)", {"metric": "mae"}, True),
    ("positive_label is not none", {"positive_label": 0}, True),
    ("-n * 2 + abs(-3) - max(1, 2) / 2", {"n": 2}, -2.0),
    ("{'k': [1, n]}", {"n": 4}, {"k": [1, 4]}),
    ("'label' in layout_columns", {"layout_columns": None}, False),
    ("1e-3 < n and n < 1.5e1", {"n": 3}, True),
])
def test_expressions_evaluate_like_python_with_missing_facts_as_none(text, facts, value):
    assert compile_expr(text, facts).evaluate(facts) == value


@pytest.mark.parametrize("text, message", [
    ("tsk == 'binary'", "unknown fact 'tsk' (did you mean 'task'?)"),
    ("__import__('os')", "unknown function"),
    ("n.__class__", "cannot read"),
    ("n ==", "unexpected"),
    ("(n", "but found 'the end'"),
    ("n = 1", "cannot read"),
])
def test_bad_expressions_fail_when_compiled(text, message):
    with pytest.raises(ExprError, match=re.escape(message)):
        compile_expr(text, {"n", "task"})


def test_expressions_never_reach_eval(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("eval called")

    monkeypatch.setattr(builtins, "eval", refuse)
    assert compile_expr("n * 2", {"n"}).evaluate({"n": 2}) == 4
    recommend(np.random.default_rng(0).normal(size=100))


# ------------------------------------------------------------------------------ the table

_ONE_RULE = """
[[rule]]
id = "x"
loss = "mse"
score = 1
when = "{when}"
because = "{because}"
"""


@pytest.mark.parametrize("when, because, message", [
    ("taks == 'continuous'", "ok", "unknown fact 'taks'"),
    ("task == 'continous'", "ok", "not a known task"),
    ("metric == 'rsme'", "ok", "not a known metric"),
    ("task == 'continuous'", "cites {medain}", "cites {medain}"),
])
def test_a_misspelt_fact_task_metric_or_citation_is_an_error_at_load(when, because, message):
    with pytest.raises(RuleError, match=message):
        load_rules(_ONE_RULE.format(when=when, because=because))


def test_the_shipped_table_loaded_and_every_name_is_a_fact():
    assert len(RULES) > 100
    for rule in RULES:
        assert rule.condition.names <= set(FACTS)
        for expr in rule.param_exprs.values():
            assert expr.names <= set(FACTS)
        if rule.score > 0 and rule.because:
            fields = [f for _, f, _, _ in string.Formatter().parse(rule.because) if f]
            assert fields, f"rule {rule.id} cites no measured number"


def test_the_profile_emits_only_facts_the_table_knows():
    g = np.random.default_rng(0)
    X = g.normal(size=(300, 3))
    targets = [
        (g.normal(size=300), {}), (g.integers(0, 2, 300), {}), (g.integers(0, 4, 300), {}),
        (g.poisson(3, 300), {}), (g.random(300), {}), ((g.random((300, 3)) < 0.3), {}),
        (g.dirichlet(np.ones(3), 300), {}), (g.normal(size=(300, 2)), {}),
        (g.exponential(5, 300), {"event": g.integers(0, 2, 300)}),
        (g.integers(0, 3, 300), {"group": np.repeat(np.arange(60), 5)}),
        (g.normal(size=300), {"time": np.arange(300)}),
    ]
    for y, kwargs in targets:
        for extra in ({}, {"X": X}):
            facts = set(profile(y, **extra, **kwargs).to_dict())
            assert facts <= set(FACTS), facts - set(FACTS)
    assert set(profile(g.integers(0, 5, (4, 8, 8))).to_dict()) <= set(FACTS)
    assert set(profile([[1, 2, 3], [4, 5]]).to_dict()) <= set(FACTS)


# ---------------------------------------------------------- every rule fires at least once


def _scenarios():
    """(y, X, recommend kwargs) cases that, together, make every rule fire."""
    g = np.random.default_rng(7)
    n = 600
    X = g.normal(size=(n, 3))
    clean = X @ [2.0, -1.0, 0.5] + 10 + g.normal(0, 1, n)
    outl = clean.copy()
    outl[:30] += 40  # 5% one-sided gross errors
    sym = clean.copy()
    sym[:15] += 40
    sym[15:30] -= 40  # symmetric gross errors
    heavy = clean.copy()
    heavy[:3] += [15, -15, 15]  # a few extreme values: kurtosis without 1% outliers
    hetero = X[:, 0] * 0 + (X[:, 0] + 3) * g.normal(0, 1, n) + 3 * X[:, 0]
    lognormal = np.exp(g.normal(3, 1.5, n))
    with_zeros = lognormal.copy()
    with_zeros[:20] = 0
    zero_heavy = np.where(g.random(n) < 0.5, 0.0, g.gamma(2, 3, n))
    capped = np.minimum(clean, np.percentile(clean, 80))
    counts = g.poisson(np.exp(1 + 0.5 * X[:, 0]))
    overdispersed = g.negative_binomial(1, 1 / (1 + np.exp(1.5 + 0.5 * X[:, 0])))
    zero_inflated = np.where(g.random(n) < 0.5, 0, g.poisson(6, n))
    extreme_counts = counts.copy()
    extreme_counts[:5] = 500  # under 1%: the dispersion estimate leaves them out
    binary = (X[:, 0] + g.normal(0, 1, n) > 0).astype(int)
    rare = np.zeros(n, dtype=int)
    rare[:5] = 1
    rare10 = np.zeros(n, dtype=int)
    rare10[:50] = 1
    noisy = (X[:, 0] > 0).astype(int)
    noisy[g.choice(n, 150, replace=False)] ^= 1
    text = np.where(binary == 1, "churn", "stay")
    drifting = np.r_[np.zeros(n // 2, int), (g.random(n // 2) < 0.5).astype(int)]
    multi = np.argmax(X @ g.normal(size=(3, 3)) + g.gumbel(size=(n, 3)), axis=1)
    tail = np.repeat(np.arange(5), [400, 100, 60, 30, 10])
    letters = np.array(list("abc"))[multi]
    noisy3 = multi.copy()
    noisy3[g.choice(n, 200, replace=False)] = g.integers(0, 3, 200)
    levels = np.clip(np.rint(X[:, 0] + 3), 1, 5).astype(int)
    multilabel = (g.random((n, 5)) < [0.4, 0.2, 0.1, 0.05, 0.02]).astype(int)
    soft = g.dirichlet(np.ones(4), n)
    masks = np.zeros((6, 16, 16), int)
    masks[:, 3:6, 3:6] = 1
    masks[:, 10:11, 10:12] = 2
    masks[5] = 0
    binary_masks = (masks > 0).astype(int)
    seqs = [list(g.integers(0, 40000, g.integers(3, 9))) for _ in range(40)]
    times = g.exponential(10, n)
    events = (g.random(n) < 0.7).astype(int)
    tied = np.round(times)
    relevance = g.integers(0, 4, n)
    query = np.repeat(np.arange(n // 6), 6)
    choice = np.tile([1, 0, 0], n // 3)
    chooser = np.repeat(np.arange(n // 3), 3)
    drift = g.normal(size=2000) + np.linspace(0, 3, 2000)
    walk = np.cumsum(g.normal(size=n))
    lagged = walk[3:]
    lags = np.column_stack([walk[2:-1], walk[1:-2], walk[:-3]])
    images = g.random((8, 3, 16, 16))
    binary_images = (images > 0.5).astype(float)
    pairs = pd.DataFrame({"prompt": ["p"] * 20, "chosen": ["a"] * 20, "rejected": ["b"] * 20})
    unpaired = pd.DataFrame({"prompt": ["p"] * 20, "completion": ["a"] * 20,
                             "label": [True, False] * 10})
    multi_out = np.column_stack([clean, 100 * clean + g.normal(0, 50, n)])
    multi_out_outliers = multi_out.copy()
    multi_out_outliers[:30, 0] += 50
    wide = g.normal(size=(50, 20))
    yield from [
        (clean, X, {}), (clean, X, {"metric": "rmse"}), (outl, X, {"metric": "rmse"}),
        (clean, X, {"metric": "mae"}), (outl, X, {"metric": "mae"}), (sym, X, {"metric": "mae"}),
        (outl, X, {}), (heavy, X, {}), (hetero, X, {}), (lognormal, None, {}),
        (with_zeros, None, {"metric": "mape"}), (lognormal, None, {"metric": "mape"}),
        (lognormal, None, {"metric": "rmsle"}), (counts, X, {"metric": "poisson_deviance"}),
        (zero_heavy, None, {"metric": "tweedie_deviance"}), (clean, X, {"metric": "gaussian_nll"}),
        (clean, X, {"metric": "interval_coverage"}), (clean, X, {"metric": "crps"}),
        (outl, X, {"metric": "crps"}),
        (clean, X, {"metric": "pinball@0.9"}), (zero_heavy, None, {}), (capped, X, {}),
        (counts, X, {}), (overdispersed, X, {}), (zero_inflated, None, {}),
        (extreme_counts, X, {}), (g.beta(2, 5, n), None, {}),
        (multi_out, X, {}), (multi_out_outliers, X, {}),
        (clean, X, {"costs": {"under": 3, "over": 1}}),
        (levels, X, {"task": "ordinal", "costs": "under=3,over=1"}),
        (binary, X, {"costs": {"fn": 5, "fp": 1}}), (binary, X, {}), (text, None, {}),
        (rare10, None, {"metric": "f1"}), (rare, None, {"metric": "f1"}),
        (rare10, None, {"metric": "roc_auc"}), (binary, X, {"metric": "accuracy"}),
        (rare10, None, {"metric": "log_loss"}), (binary, None, {"metric": "demographic_parity"}),
        (binary, None, {"metric": "equalized_odds"}), (multi, X, {}),
        (tail, None, {"metric": "f1"}), (tail, None, {"metric": "balanced_accuracy"}),
        (multi, X, {"metric": "accuracy"}), (multi, X, {"metric": "log_loss"}),
        (noisy, X, {}), (noisy3, X, {}), (letters, None, {}), (multi + 1, None, {}),
        (levels, X, {"metric": "mae"}), (levels, X, {"metric": "rmse"}),
        (multi, X, {"metric": "qwk"}), (multilabel, None, {}),
        (multilabel, None, {"costs": {"fn": 2, "fp": 1}}), (soft, None, {}),
        (masks, None, {}), (masks, None, {"metric": "recall"}), (masks, None, {"metric": "iou"}),
        (binary_masks, None, {"metric": "iou"}), (seqs, None, {"metric": "wer"}),
        (g.integers(0, 50, n), None, {"task": "metric_learning"}),
        (g.integers(0, 4, n), None, {"task": "detection"}),
        (g.normal(size=n), None, {"task": "reinforcement"}),
        (g.integers(0, 5, n), None, {"task": "energy"}),
        (g.normal(size=n), None, {"task": "image_text"}),
        (pairs, None, {}), (unpaired, None, {}),
        (pairs, None, {"metric": "reward_accuracy"}),
        (g.normal(size=n), None, {"task": "reward_modeling"}),
        (g.normal(size=n), None, {"task": "rl_finetuning"}),
        (images, None, {}), (binary_images, None, {"task": "reconstruction"}),
        (g.random(n), None, {"task": "reconstruction"}),
        (times, X, {"event": events}), (tied, X, {"event": events}),
        (relevance, X, {"group": query}), (relevance, X, {"group": query, "metric": "ndcg"}),
        (choice, None, {"group": chooser}), (relevance, None, {"task": "ranking"}),
        (clean, X, {"metric": "unheard_of"}), (np.r_[clean[:-5], [np.nan] * 5], None, {}),
        (drift, None, {}), (drifting, None, {}), (walk, None, {}), (lagged, lags, {}),
        (clean, X, {"group": np.repeat(np.arange(n // 5), 5)}),
        (wide[:, 0], wide, {}),
    ]


def test_every_rule_fires_at_least_once():
    fired: set[str] = set()
    for y, X, kwargs in _scenarios():
        rec = recommend(y, X, **kwargs)
        fired.update(rec.fired)
    missing = sorted({r.id for r in RULES} - fired)
    assert not missing, f"rules no scenario exercises: {missing}"


def test_rule_losses_are_registered():
    names = set(losskit.list_losses())
    pending = []
    for rule in RULES:
        for term in rule.loss.split("+"):
            name = term.split("*")[-1].strip()
            if name in ("", ) or rule.loss == "*":
                continue
            if name not in names:
                pending.append(name)
    assert not pending, f"rules name unregistered losses: {sorted(set(pending))}"
