"""Prediction heads: declared in the registry, trained and read back by compare."""

from __future__ import annotations

import numpy as np
import pytest

import losskit
from losskit._core.registry import HEADS, default_head, register_loss
from losskit.compare._heads import TASK_HEADS, head_of, trainable


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


def test_structured_losses_declare_their_heads():
    # declared in each loss's own register_loss
    expected = {"cox_ph": "risk", "discrete_hazard": "hazard_logits",
                "weibull_nll": "survival_params", "tobit": "censored_value",
                "tweedie": "log_rate", "negative_binomial_nll": "log_rate",
                "listnet": "score", "bradley_terry": "none", "distillation": "none"}
    for name, head in expected.items():
        assert head_of(losskit.info(name)) == head, name
        assert head in HEADS and (trainable(head) or head == "none"), name


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
    if task == "survival":
        return X, g.exponential(np.exp(-X[:, 0])), {"event": (g.random(n) < 0.7).astype(int)}
    if task == "ranking":
        relevance = np.clip(np.rint(1.5 + X[:, 0]), 0, 3).astype(int)
        return X, relevance, {"group": np.repeat(np.arange(n // 6), 6)}
    return None


def test_compare_trains_every_registered_loss_whose_head_fits_a_table():
    """Each registered loss with a trainable head trains and scores on a task its head
    fits; the ones that cannot say why in one clear error (their targets need more than a
    table: images, token sequences, pairs of inputs)."""
    g = np.random.default_rng(0)
    trained, refused = [], {}
    for name in losskit.list_losses():
        head = head_of(losskit.info(name))
        info = losskit.info(name)
        order = ("binary", "multiclass", "ordinal", "continuous", "count", "proportion",
                 "multilabel", "multioutput", "survival", "ranking")
        if "relevance" in info.target_kind:
            order = ("ranking", *order)
        tasks = [t for t in order if head in TASK_HEADS[t]]
        if not trainable(head) or not tasks:
            continue
        X, y, kwargs = _data(tasks[0], g)
        try:
            c = losskit.compare(X, y, losses=[name], baseline=name, folds=2, epochs=3,
                                metric="mae" if tasks[0] in ("continuous", "count") else None,
                                **kwargs)
        except losskit.LossInputError as exc:
            refused[name] = str(exc)
            continue
        assert np.isfinite(c.result(name).mean), name
        trained.append(name)
    assert {"mse", "mae", "huber", "smooth_l1", "log_cosh", "quantile", "msle", "poisson_nll",
            "gaussian_nll", "binary_cross_entropy", "sigmoid_focal", "cross_entropy",
            "softmax_focal", "coral", "corn", "hinge", "pairwise_logistic", "soft_f1",
            "nll", "poly1_cross_entropy", "multiclass_hinge", "energy_nll",
            "asymmetric_multilabel", "cox_ph", "discrete_hazard", "weibull_nll", "tobit",
            "tweedie", "negative_binomial_nll", "listnet", "listmle", "lambdarank",
            "approx_ndcg", "mape", "smape"} <= set(trained)
    for name, why in refused.items():
        assert "cannot be trained" in why and "\n" not in why, (name, why)


# -- the structured heads, through stand-ins registered under other names --------------------
# The survival, censored, count and ranking losses are registered by other parts of the
# library; these stand-ins (the textbook formulas, written here) declare the same heads, so
# the path compare takes for the real ones is exercised now.

import torch  # noqa: E402

_COMMON = {"summary": "stand-in", "formula": "-", "gradient": "-", "when_to_use": "-",
           "pitfalls": "-", "example_inputs": lambda n, seed: ()}


def _hazard(logits, time_bin, event, *, weight=None, reduction="mean"):
    """pycox's nll_logistic_hazard: BCE per interval up to and including the subject's."""
    k = logits.shape[1]
    j = torch.arange(k)
    at_risk = (j[None, :] <= time_bin[:, None]).float()
    target = ((j[None, :] == time_bin[:, None]).float() * event[:, None])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (bce * at_risk).sum(1).mean()


def _tobit(input, target, *, lower=None, upper=None, sigma=1.0, weight=None, reduction="mean"):
    z = (target - input) / sigma
    nll = 0.5 * z ** 2 + np.log(sigma) + 0.5 * np.log(2 * np.pi)
    if upper is not None:
        nll = torch.where(target >= upper, -torch.special.log_ndtr(-z), nll)
    if lower is not None:
        nll = torch.where(target <= lower, -torch.special.log_ndtr(z), nll)
    return nll.mean()


def _weibull(log_scale, log_shape, time, event, *, weight=None, reduction="mean"):
    k = log_shape.exp()
    z = (time.clamp(min=1e-8).log() - log_scale) * k
    log_surv = -z.exp()
    log_density = log_shape - log_scale + (k - 1) * (time.clamp(min=1e-8).log() - log_scale) \
        + log_surv
    return -(event * log_density + (1 - event) * log_surv).mean()


def _listnet(scores, relevance, *, group=None, weight=None, reduction="mean"):
    total = []
    for q in torch.unique(group):
        m = group == q
        total.append(-(torch.softmax(relevance[m].float(), 0)
                       * torch.log_softmax(scores[m], 0)).sum())
    return torch.stack(total).mean()


def _negative_binomial(input, target, *, dispersion, log_input=True, weight=None,
                       reduction="mean"):
    mu = input.exp()
    r = torch.as_tensor(1.0 / dispersion, dtype=input.dtype)
    nll = -(torch.lgamma(target + r) - torch.lgamma(r) - torch.lgamma(target + 1)
            + r * torch.log(r / (r + mu)) + target * torch.log(mu / (r + mu)))
    return nll.mean()


STAND_INS = {
    "stand_in_hazard": (_hazard, "hazard_logits", "survival"),
    "stand_in_tobit": (_tobit, "censored_value", "regression"),
    "stand_in_weibull": (_weibull, "survival_params", "survival"),
    "stand_in_listnet": (_listnet, "score", "ranking"),
    "stand_in_nb": (_negative_binomial, "log_rate", "regression"),
}


@pytest.fixture(scope="module")
def stand_ins():
    from losskit._core import registry

    for name, (fn, head, family) in STAND_INS.items():
        register_loss(name=name, family=family, tasks=(family,), input_kind="values",
                      target_kind="values", head=head, replace=True, **_COMMON)(fn)
    yield
    for name in STAND_INS:
        registry._REGISTRY.pop(name, None)


def test_survival_heads_train_and_rank_by_risk(stand_ins):
    pytest.importorskip("sksurv")
    g = np.random.default_rng(5)
    X = g.normal(size=(240, 2))
    time = g.exponential(np.exp(-X[:, 0]))
    event = (g.random(240) < 0.75).astype(int)
    c = losskit.compare(X, time, event=event, losses=["stand_in_hazard", "stand_in_weibull"],
                        baseline="stand_in_weibull", folds=3, epochs=60)
    for r in c.results:
        assert 0.65 < r.mean < 0.9, (r.loss, r.mean)  # concordance well above 0.5


def test_a_censored_head_reads_the_pile_up_limit_and_predicts_clipped_values(stand_ins):
    g = np.random.default_rng(6)
    X = g.normal(size=(300, 2))
    latent = 10 + 3 * X[:, 0] + g.normal(0, 1, 300)
    cap = np.percentile(latent, 75)
    y = np.minimum(latent, cap)
    c = losskit.compare(X, y, losses=["stand_in_tobit", "mse"], metric="mae", folds=3,
                        epochs=80)
    tobit, mse = c.result("stand_in_tobit"), c.result("mse")
    assert tobit.mean < mse.mean  # MSE bends toward the 25% of rows at the cap
    rec = losskit.recommend(y, X)
    assert rec.best.params["upper"] == pytest.approx(cap)


def test_listwise_scores_train_within_groups(stand_ins):
    g = np.random.default_rng(7)
    groups = np.repeat(np.arange(50), 6)
    X = g.normal(size=(300, 2))
    relevance = np.clip(np.rint(1.5 + X[:, 0] + 0.3 * g.normal(size=300)), 0, 3).astype(int)
    c = losskit.compare(X, relevance, group=groups, losses=["stand_in_listnet"], folds=3,
                        epochs=40)
    assert c.task == "ranking" and c.metric == "ndcg"
    assert c.result("stand_in_listnet").mean > 0.85


def test_a_required_dispersion_is_estimated_from_the_counts(stand_ins):
    g = np.random.default_rng(8)
    X = g.normal(size=(300, 2))
    y = g.negative_binomial(2, 2 / (2 + np.exp(1.5 + 0.5 * X[:, 0])))
    c = losskit.compare(X, y, losses=["stand_in_nb"], metric="rmse", task="count", folds=3,
                        epochs=60)
    r = next(r for r in c.results if r.loss.startswith("stand_in_nb"))
    assert 0.1 < r.params["dispersion"] < 2  # the marginal moment estimate
    assert r.mean < 1.1 * c.result("mse").mean


def test_real_listwise_losses_train_on_a_real_choice_data_set():
    sm = pytest.importorskip("statsmodels.api")
    df = sm.datasets.modechoice.load_pandas().data  # 210 travellers x 4 modes
    X = df.drop(columns=["choice", "individual", "mode"])
    c = losskit.compare(X, df["choice"], group=df["individual"], losses=["listnet"],
                        folds=3, epochs=30)
    r = c.result("listnet")
    assert c.task == "ranking" and not r.warnings and 0.6 < r.mean <= 1
