"""Prediction heads: declared in the registry, trained and read back by compare."""

from __future__ import annotations

import numpy as np
import pytest

import losskit
from losskit._core.registry import HEADS, default_head, register_loss
from losskit.compare._heads import PENDING_HEADS, TASK_HEADS, head_of, trainable


def test_every_registered_loss_declares_a_known_head():
    for name in losskit.list_losses():
        assert losskit.info(name).head in HEADS, name


@pytest.mark.parametrize("name, head", [
    ("mse", "identity"), ("huber", "identity"), ("poisson_nll", "log_rate"), ("msle", "log1p"),
    ("quantile", "quantiles"), ("gaussian_nll", "mean_variance"),
    ("coral", "cumulative_logits"), ("corn", "conditional_logits"),
    ("binary_cross_entropy", "logit"), ("cross_entropy", "softmax"), ("nll", "log_softmax"),
    ("pairwise_logistic", "score"), ("energy_nll", "energy"), ("supcon", "embedding"),
    ("giou", "box"), ("l2_penalty", "none"), ("bound_penalty", "none"),
])
def test_heads_of_the_built_in_losses(name, head):
    assert losskit.info(name).head == head
    assert losskit.info(name).card()["head"] == head


def test_the_default_head_reads_the_kinds():
    assert default_head("values", "values") == "identity"
    assert default_head("logits", "binary labels") == "logit"
    assert default_head("logits", "class indices [N]") == "softmax"
    assert default_head("scores", "binary labels in {0, 1}") == "score"
    assert default_head("embeddings", "class labels") == "embedding"


def test_an_unknown_head_is_refused_at_registration():
    with pytest.raises(losskit.LossInputError, match="head must be one of"):
        register_loss(family="regression", tasks=("regression",), input_kind="values",
                      target_kind="values", summary="-", formula="-", gradient="-",
                      when_to_use="-", pitfalls="-", example_inputs=lambda n, s: (),
                      head="log_odds")


def test_pending_heads_name_trainable_heads_and_yield_to_a_declared_one():
    for name, head in PENDING_HEADS.items():
        assert head in HEADS and trainable(head), name

    class Info:
        name = "tweedie"
        input_kind = "values"
        target_kind = "values"
        head = "identity"  # the default: the table applies

    assert head_of(Info) == "log_rate"
    Info.head = "log1p"  # declared in the loss's own register_loss: it wins
    assert head_of(Info) == "log1p"


def _data(task, g):
    n = 90
    X = g.normal(size=(n, 2))
    if task in ("continuous", "count", "proportion"):
        y = g.poisson(np.exp(1 + 0.3 * X[:, 0])).astype(float)
        return X, (y / (y.max() + 1) if task == "proportion" else y), {"task": task}
    if task == "binary":
        return X, (X[:, 0] + g.normal(size=n) > 0).astype(int), {}
    if task in ("multiclass", "ordinal"):
        return X, np.clip(np.rint(1.5 + X[:, 0]), 0, 3).astype(int), {"task": task}
    if task == "multilabel":
        return X, (g.random((n, 3)) < 0.4).astype(int), {}
    if task == "multioutput":
        return X, g.normal(size=(n, 2)), {}
    return None


def test_compare_trains_every_registered_loss_whose_head_fits_a_table():
    """Each registered loss with a trainable head trains and scores on a task its head
    fits; the ones that cannot say why in one clear error (their targets need more than a
    table: images, token sequences, pairs of inputs)."""
    g = np.random.default_rng(0)
    trained, refused = [], {}
    for name in losskit.list_losses():
        head = head_of(losskit.info(name))
        order = ("binary", "multiclass", "ordinal", "continuous", "count", "proportion",
                 "multilabel", "multioutput")
        tasks = [t for t in order if head in TASK_HEADS[t]]
        if not trainable(head) or not tasks:
            continue
        X, y, kwargs = _data(tasks[0], g)
        try:
            c = losskit.compare(X, y, losses=[name], folds=2, epochs=3, **kwargs)
        except losskit.LossInputError as exc:
            refused[name] = str(exc)
            continue
        assert np.isfinite(c.result(name).mean), name
        trained.append(name)
    assert {"mse", "mae", "huber", "smooth_l1", "log_cosh", "quantile", "msle", "poisson_nll",
            "gaussian_nll", "binary_cross_entropy", "sigmoid_focal", "cross_entropy",
            "softmax_focal", "coral", "corn", "hinge", "pairwise_logistic", "soft_f1",
            "nll", "poly1_cross_entropy", "multiclass_hinge", "energy_nll",
            "asymmetric_multilabel"} <= set(trained)
    for name, why in refused.items():
        assert "cannot be trained" in why and "\n" not in why, (name, why)
