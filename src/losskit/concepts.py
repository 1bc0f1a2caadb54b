"""Concepts: the ideas about loss functions that belong to no single loss.

A loss card (``losskit explain huber``) answers questions about one loss. Other questions
are about losses in general: what training does with a loss, why cross-entropy beats
squared error for classifiers, how cross-entropy, KL divergence, NLL and perplexity
relate, what a good custom loss needs, how to put constraints, fairness or domain
knowledge into a loss, how to live with a metric that has no gradient. Each such question
is a :class:`Topic` here: an explanation in a few paragraphs, pointers to the losses,
commands and functions of losskit that implement the idea, and, where a claim can be
checked numerically, a small demonstration that computes it with losskit.

>>> from losskit import concepts
>>> concepts.get("cross-entropy-vs-kl").title
'Cross-entropy and KL divergence: H(p, q) = H(p) + KL(p || q)'
>>> concepts.get("cross-entropy-vs-kl").demonstrate().holds
True

On the command line, ``losskit explain TOPIC`` prints a topic when TOPIC is not a loss,
and ``losskit explain --topics`` lists them.

**References** in ``Topic.see_also`` are typed strings, so that tests can check that each
one exists: ``loss:NAME`` (a registered loss), ``topic:SLUG``, ``py:dotted.path`` (an
importable object), ``cli:SUBCOMMAND``, ``check:NAME`` (a ``losskit check`` check),
``rule:ID`` (a rule of the advisor, ``losskit recommend``) and ``scenario:NAME`` (an
experiment of ``losskit compare --scenario``).
"""

from __future__ import annotations

import difflib
import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch

from . import functional as F

__all__ = [
    "TOPICS",
    "Demonstration",
    "Topic",
    "close_topics",
    "describe_reference",
    "find",
    "get",
    "resolve_reference",
    "topics",
]


@dataclass(frozen=True)
class Demonstration:
    """The outcome of a topic's demonstration: the claim, the numbers, whether it held."""

    claim: str
    values: Mapping[str, float]
    holds: bool

    def to_dict(self) -> dict[str, Any]:
        return {"claim": self.claim, "holds": self.holds,
                "values": {k: float(v) for k, v in self.values.items()}}


@dataclass(frozen=True)
class Topic:
    """One concept: an explanation, where losskit implements it, and an optional demo."""

    slug: str
    title: str
    summary: str
    body: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    see_also: tuple[str, ...] = ()
    demo: Callable[[], Demonstration] | None = field(default=None, repr=False, compare=False)

    def demonstrate(self) -> Demonstration | None:
        """Run the demonstration (a few milliseconds), or ``None`` if the topic has none."""
        return self.demo() if self.demo is not None else None

    def card(self, *, run_demo: bool = True) -> dict[str, Any]:
        """A JSON-friendly view (what ``losskit explain TOPIC --json`` prints)."""
        demo = self.demonstrate() if run_demo else None
        return {
            "topic": self.slug,
            "title": self.title,
            "aliases": list(self.aliases),
            "summary": self.summary,
            "body": list(self.body),
            "see_also": [describe_reference(r) for r in self.see_also],
            "demonstration": demo.to_dict() if demo is not None else None,
        }


# -- demonstrations ----------------------------------------------------------------------
# Each one computes its numbers with losskit and states whether the claim held; the tests
# assert the relation again, independently of ``holds``.

def _f(t: torch.Tensor | float) -> float:
    return float(t.detach()) if isinstance(t, torch.Tensor) else float(t)


def _demo_training_step() -> Demonstration:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(32, 3, generator=g, dtype=torch.float64)
    y = X @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    before = F.mse(X @ w, y)
    before.backward()
    by_hand = 2 * X.T @ (X @ w.detach() - y) / len(y)
    grad_error = _f((w.grad - by_hand).abs().max())
    with torch.no_grad():
        w -= 0.1 * w.grad
    after = F.mse(X @ w, y)
    return Demonstration(
        "one gradient-descent step on the mean squared error of a linear model lowers the "
        "loss, and autograd's gradient is the hand-derived 2 X^T (X w - y) / N",
        {"loss_before": _f(before), "loss_after": _f(after), "gradient_error": grad_error},
        _f(after) < _f(before) and grad_error < 1e-12)


def _demo_recommend_outliers() -> Demonstration:
    from .advise import recommend

    g = torch.Generator().manual_seed(0)
    y = torch.randn(400, generator=g, dtype=torch.float64)
    y[::10] += 30.0  # 10% gross outliers
    names = [c.name for c in recommend(y.numpy()).choices]
    robust = {"huber", "mae", "smooth_l1", "log_cosh"}
    return Demonstration(
        "for a target with 10% gross outliers the advisor ranks a robust loss first and MSE "
        "below it",
        {"top_is_robust": float(names[0] in robust),
         "mse_rank": float(names.index("mse") + 1 if "mse" in names else len(names) + 1)},
        names[0] in robust and names[0] != "mse")


def _demo_regression_losses() -> Demonstration:
    data = torch.tensor([0.0, 0.1, 0.2, 0.3, 10.0], dtype=torch.float64)
    grid = torch.linspace(-1, 11, 12001, dtype=torch.float64)
    pred, target = grid[:, None].expand(-1, 5), data.expand(len(grid), -1)

    def argmin(fn: Callable[..., torch.Tensor], **kw: Any) -> float:
        return _f(grid[fn(pred, target, reduction="none", **kw).mean(1).argmin()])

    def grad(fn: Callable[..., torch.Tensor], residual: float, **kw: Any) -> float:
        x = torch.tensor([residual], dtype=torch.float64, requires_grad=True)
        fn(x, torch.zeros(1, dtype=torch.float64), **kw).backward()
        return _f(x.grad[0])

    v = {"mean": _f(data.mean()), "median": _f(data.median()),
         "mse_minimizer": argmin(F.mse), "mae_minimizer": argmin(F.mae),
         "huber_minimizer": argmin(F.huber, delta=1.0),
         "mse_grad_at_3": grad(F.mse, 3.0), "mae_grad_at_3": grad(F.mae, 3.0),
         "huber_grad_at_3": grad(F.huber, 3.0, delta=1.0),
         "smooth_l1_grad_at_0.05": grad(F.smooth_l1, 0.05, beta=0.1),
         "huber_grad_at_0.05": grad(F.huber, 0.05, delta=0.1)}
    holds = (abs(v["mse_minimizer"] - v["mean"]) < 1e-3
             and abs(v["mae_minimizer"] - v["median"]) < 1e-3
             and v["median"] < v["huber_minimizer"] < v["mean"]
             and abs(v["mse_grad_at_3"] - 6.0) < 1e-9 and abs(v["mae_grad_at_3"] - 1.0) < 1e-9
             and abs(v["huber_grad_at_3"] - 1.0) < 1e-9
             and abs(v["smooth_l1_grad_at_0.05"] - 10 * v["huber_grad_at_0.05"]) < 1e-9)
    return Demonstration(
        "on [0, 0.1, 0.2, 0.3, 10] MSE is minimized by the mean, MAE by the median and Huber "
        "in between; at a residual of 3 the gradients are 2e = 6 (MSE) and 1 (MAE, Huber with "
        "delta 1); in the quadratic zone Smooth L1 with beta = 0.1 has 1/beta = 10x the "
        "gradient of Huber with delta = 0.1", v, holds)


def _demo_vanishing_gradient() -> Demonstration:
    z = torch.tensor([-8.0], dtype=torch.float64, requires_grad=True)
    y = torch.ones(1, dtype=torch.float64)
    (g_mse,) = torch.autograd.grad(F.mse(torch.sigmoid(z), y), z)
    (g_ce,) = torch.autograd.grad(F.binary_cross_entropy(z, y), z)
    # Convexity in the weight of a one-feature model, sample x = 1, label 1.
    w = torch.linspace(-6, 6, 241, dtype=torch.float64, requires_grad=True)
    ones = torch.ones_like(w)
    curv = {}
    for name, loss in (("ce", F.binary_cross_entropy(w, ones, reduction="none")),
                       ("mse", F.mse(torch.sigmoid(w), ones, reduction="none"))):
        (d1,) = torch.autograd.grad(loss.sum(), w, create_graph=True)
        (d2,) = torch.autograd.grad(d1.sum(), w)
        curv[name] = _f(d2.min())
    v = {"grad_ce": _f(g_ce[0]), "grad_mse": _f(g_mse[0]),
         "ratio": _f(g_ce[0] / g_mse[0]), "min_curvature_ce": curv["ce"],
         "min_curvature_mse": curv["mse"]}
    return Demonstration(
        "for a positive predicted at logit -8, the gradient of binary cross-entropy (p - y) is "
        "over 1000x that of MSE on the sigmoid output; cross-entropy is convex in the weight "
        "of a linear model (curvature >= 0), MSE through a sigmoid is not", v,
        v["ratio"] > 1000 and v["min_curvature_ce"] >= 0 and v["min_curvature_mse"] < 0)


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * torch.log(p)).sum(-1).mean()


def _demo_nonnegative() -> Demonstration:
    sure = torch.tensor([[20.0, 0.0, 0.0]], dtype=torch.float64)
    ce_sure = F.cross_entropy(sure, torch.tensor([0]))
    p = torch.tensor([[0.7, 0.2, 0.1]], dtype=torch.float64)
    ce_soft = F.cross_entropy(torch.log(p), p)
    kl_soft = F.kl_div(torch.log(p), p)
    gnll = F.gaussian_nll(torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64),
                          torch.full((1,), 0.01, dtype=torch.float64))
    v = {"ce_confident_correct": _f(ce_sure), "ce_soft_target_at_q_equals_p": _f(ce_soft),
         "entropy_of_target": _f(_entropy(p)), "kl_at_q_equals_p": _f(kl_soft),
         "gaussian_nll_small_variance": _f(gnll)}
    holds = (0 <= v["ce_confident_correct"] < 1e-8
             and abs(v["ce_soft_target_at_q_equals_p"] - v["entropy_of_target"]) < 1e-12
             and v["entropy_of_target"] > 0 and abs(v["kl_at_q_equals_p"]) < 1e-12
             and v["gaussian_nll_small_variance"] < 0)
    return Demonstration(
        "a confident correct prediction has cross-entropy just above 0; with the soft target "
        "[0.7, 0.2, 0.1] the best possible cross-entropy is the target's entropy (0.80 nats) "
        "while KL is 0; a Gaussian NLL (densities, not probabilities) with variance 0.01 is "
        "negative", v, holds)


def _demo_why_log() -> Demonstration:
    probs32 = torch.full((2000,), 0.6, dtype=torch.float32)
    product = torch.prod(probs32)
    log_sum = torch.log(probs32).sum()
    small = torch.rand(50, generator=torch.Generator().manual_seed(1), dtype=torch.float64) + 0.5
    small = small / 1.5
    same = abs(_f(torch.log(torch.prod(small))) - _f(torch.log(small).sum()))
    logq = torch.log(torch.tensor([[0.001, 0.999], [0.4, 0.6]], dtype=torch.float64))
    penalties = F.nll(logq, torch.tensor([0, 0]), reduction="none")
    v = {"float32_product_of_2000_probabilities": _f(product),
         "float32_sum_of_their_logs": _f(log_sum), "log_identity_error": same,
         "nll_confident_wrong": _f(penalties[0]), "nll_hesitant": _f(penalties[1])}
    holds = (v["float32_product_of_2000_probabilities"] == 0.0
             and math.isfinite(v["float32_sum_of_their_logs"])
             and abs(v["float32_sum_of_their_logs"] - 2000 * math.log(0.6)) < 0.5
             and same < 1e-9 and v["nll_confident_wrong"] > 7 * v["nll_hesitant"])
    return Demonstration(
        "the likelihood of 2000 samples each predicted with probability 0.6 underflows to 0 in "
        "float32 while the sum of logs is a finite -1021.6; log of a product equals the sum of "
        "logs; -log charges a confidently wrong answer (q = 0.001) over 7x a hesitant one "
        "(q = 0.4)", v, holds)


def _demo_ce_kl() -> Demonstration:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 5, generator=g, dtype=torch.float64, requires_grad=True)
    p = torch.softmax(torch.randn(8, 5, generator=g, dtype=torch.float64), dim=1)
    ce, kl, h = F.cross_entropy(x, p), F.kl_div(x, p), _entropy(p)
    (g_ce,) = torch.autograd.grad(ce, x)
    (g_kl,) = torch.autograd.grad(kl, x)
    v = {"cross_entropy": _f(ce), "entropy": _f(h), "kl": _f(kl),
         "decomposition_error": abs(_f(ce) - _f(h) - _f(kl)),
         "gradient_difference": _f((g_ce - g_kl).abs().max())}
    return Demonstration(
        "for soft targets p and predictions q = softmax(x), cross_entropy(x, p) = H(p) + "
        "kl_div(x, p), and both losses have the same gradient with respect to x", v,
        v["decomposition_error"] < 1e-12 and v["gradient_difference"] < 1e-12 and v["kl"] > 0)


def _demo_nll_vs_ce() -> Demonstration:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (16,), generator=g)
    ce = F.cross_entropy(x, y)
    nll = F.nll(torch.log_softmax(x, dim=1), y)
    torch_ce = torch.nn.CrossEntropyLoss()(x, y)
    torch_pair = torch.nn.NLLLoss()(torch.nn.LogSoftmax(dim=1)(x), y)
    wrong = F.nll(torch.softmax(x, dim=1), y)  # probabilities where log-probabilities belong
    v = {"cross_entropy": _f(ce), "nll_of_log_softmax": _f(nll),
         "torch_CrossEntropyLoss": _f(torch_ce), "torch_LogSoftmax_NLLLoss": _f(torch_pair),
         "nll_fed_probabilities": _f(wrong)}
    holds = (max(abs(v["cross_entropy"] - v[k]) for k in
                 ("nll_of_log_softmax", "torch_CrossEntropyLoss", "torch_LogSoftmax_NLLLoss"))
             < 1e-12 and v["nll_fed_probabilities"] < 0)
    return Demonstration(
        "cross_entropy on logits equals nll on log_softmax of the logits, and both equal "
        "torch's CrossEntropyLoss and LogSoftmax + NLLLoss; nll fed probabilities instead of "
        "log-probabilities silently returns a negative number", v, holds)


def _demo_perplexity() -> Demonstration:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 10, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (2, 6), generator=g)
    ppl = F.perplexity(x, y)
    ce_nats = F.sequence_cross_entropy(x, y)
    ce_bits = ce_nats / math.log(2)
    uniform = F.perplexity(torch.zeros(3, 50, dtype=torch.float64), torch.tensor([1, 7, 42]))
    v = {"perplexity": _f(ppl), "exp_cross_entropy_nats": math.exp(_f(ce_nats)),
         "two_to_cross_entropy_bits": 2 ** _f(ce_bits), "uniform_over_50": _f(uniform)}
    holds = (abs(v["perplexity"] - v["exp_cross_entropy_nats"]) < 1e-9
             and abs(v["perplexity"] - v["two_to_cross_entropy_bits"]) < 1e-9
             and abs(v["uniform_over_50"] - 50) < 1e-9)
    return Demonstration(
        "perplexity = e^(cross-entropy in nats) = 2^(cross-entropy in bits), and a uniform "
        "model over 50 tokens has perplexity 50", v, holds)


def _demo_binary_vs_categorical() -> Demonstration:
    z = torch.tensor([-3.0, -0.5, 0.0, 2.0, 7.0], dtype=torch.float64)
    y = torch.tensor([1, 0, 1, 1, 0])
    two = torch.stack([torch.zeros_like(z), z], dim=1)
    ce2 = F.cross_entropy(two, y, reduction="none")
    bce = F.binary_cross_entropy(z, y.double(), reduction="none")
    logits = torch.tensor([[5.0, 5.0, -5.0]], dtype=torch.float64)  # labels 0 and 1 both on
    soft = torch.softmax(logits, 1)[0]
    sig = torch.sigmoid(logits)[0]
    v = {"two_logit_ce_vs_bce_error": _f((ce2 - bce).abs().max()),
         "softmax_p_label0": _f(soft[0]), "softmax_p_label1": _f(soft[1]),
         "sigmoid_p_label0": _f(sig[0]), "sigmoid_p_label1": _f(sig[1])}
    holds = (v["two_logit_ce_vs_bce_error"] < 1e-12
             and v["softmax_p_label0"] + v["softmax_p_label1"] <= 1
             and min(v["sigmoid_p_label0"], v["sigmoid_p_label1"]) > 0.99)
    return Demonstration(
        "cross-entropy over the two logits (0, z) equals binary cross-entropy on z; with two "
        "labels both present, softmax can give each at most 0.5 while independent sigmoids "
        "give both > 0.99", v, holds)


def _demo_label_structure() -> Demonstration:
    target = torch.tensor([[1.0, 1.0]], dtype=torch.float64)  # (animal, dog): both present
    coherent = torch.tensor([[0.9, 0.6]], dtype=torch.float64)
    incoherent = torch.tensor([[0.6, 0.9]], dtype=torch.float64)  # dog likelier than animal

    def bce(p: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy(torch.logit(p), target)

    def hierarchy(p: torch.Tensor) -> torch.Tensor:  # P(dog) must not exceed P(animal)
        return F.bound_penalty(p[:, 1], upper=p[:, 0], kind="hinge")

    v = {"bce_coherent": _f(bce(coherent)), "bce_incoherent": _f(bce(incoherent)),
         "hierarchy_penalty_coherent": _f(hierarchy(coherent)),
         "hierarchy_penalty_incoherent": _f(hierarchy(incoherent))}
    holds = (abs(v["bce_coherent"] - v["bce_incoherent"]) < 1e-12
             and v["hierarchy_penalty_coherent"] == 0
             and abs(v["hierarchy_penalty_incoherent"] - 0.3) < 1e-12)
    return Demonstration(
        "independent binary cross-entropy scores (animal 0.9, dog 0.6) and the impossible "
        "(animal 0.6, dog 0.9) the same; a hierarchy penalty built from bound_penalty is 0 for "
        "the first and 0.3 for the second", v, holds)


def _demo_zero_gradient() -> Demonstration:
    x = torch.tensor([-1.0, 0.5, 2.0, -0.2], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    error_rate = ((x > 0).double() != y).double().mean()
    # A version with a gradient path that is still piecewise constant: round(sigmoid(x)).
    rounded = (torch.round(torch.sigmoid(x)) - y).abs().mean()
    (g_round,) = torch.autograd.grad(rounded, x)
    (g_bce,) = torch.autograd.grad(F.binary_cross_entropy(x, y), x)
    v = {"error_rate": _f(error_rate), "error_rate_has_graph": float(error_rate.requires_grad),
         "rounded_loss_grad_norm": _f(g_round.norm()), "bce_grad_norm": _f(g_bce.norm())}
    return Demonstration(
        "a loss built from hard decisions carries no gradient (a comparison leaves the graph; "
        "rounding has derivative 0 everywhere) while binary cross-entropy on the same logits "
        "gives a non-zero gradient", v,
        v["error_rate_has_graph"] == 0 and v["rounded_loss_grad_norm"] == 0
        and v["bce_grad_norm"] > 0.1)


def _demo_check_custom() -> Demonstration:
    from .verify import check

    def custom_mse(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.mean((predictions - targets) ** 2)

    def sign_flipped(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return -torch.mean((predictions - targets) ** 2)

    names = ["gradient_direction", "optimum"]
    good = check(custom_mse, task="regression", checks=names)
    bad = check(sign_flipped, task="regression", checks=names)
    failed = sorted(r.name for r in bad.failures)
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    t = torch.randn(6, 2, generator=torch.Generator().manual_seed(1))
    v = {"custom_mse_passed": float(good.passed), "sign_flipped_passed": float(bad.passed),
         "sign_flipped_failed_checks": float(len(failed)),
         "custom_vs_builtin_error": _f((custom_mse(x, t) - F.mse(x, t)).abs())}
    return Demonstration(
        "a hand-written MSE equals losskit's and passes the gradient_direction and optimum "
        "checks; the same loss with its sign flipped fails both", v,
        good.passed and not bad.passed and failed == names
        and v["custom_vs_builtin_error"] < 1e-6)


def _demo_misalignment() -> Demonstration:
    y = torch.ones(4, dtype=torch.long)
    p_a = torch.tensor([0.99, 0.99, 0.99, 0.45], dtype=torch.float64)
    p_b = torch.full((4,), 0.55, dtype=torch.float64)

    def logits(p: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.zeros_like(p), torch.logit(p)], 1)

    v = {"ce_a": _f(F.cross_entropy(logits(p_a), y)), "ce_b": _f(F.cross_entropy(logits(p_b), y)),
         "accuracy_a": _f((p_a > 0.5).double().mean()),
         "accuracy_b": _f((p_b > 0.5).double().mean())}
    return Demonstration(
        "model A (0.99, 0.99, 0.99, 0.45 on the true class) has lower cross-entropy than model "
        "B (0.55 everywhere) but lower accuracy: 75% vs 100%", v,
        v["ce_a"] < v["ce_b"] and v["accuracy_a"] < v["accuracy_b"])


def _f1(pred: torch.Tensor, y: torch.Tensor) -> float:
    tp = _f((pred & y).sum())
    fp, fn = _f((pred & ~y).sum()), _f((~pred & y).sum())
    return 2 * tp / max(2 * tp + fp + fn, 1.0)


def _demo_surrogates() -> Demonstration:
    g = torch.Generator().manual_seed(0)
    # A validation set scored by an imbalanced-trained model: positives rarely reach 0.5.
    y = torch.rand(4000, generator=g) < 0.1
    score = torch.sigmoid(2.0 * y.double() - 2.5 + torch.randn(4000, generator=g,
                                                               dtype=torch.float64))
    f1_default = _f1(score > 0.5, y)
    thresholds = torch.linspace(0.05, 0.95, 91, dtype=torch.float64)
    f1s = [_f1(score > t, y) for t in thresholds]
    best = max(range(len(f1s)), key=f1s.__getitem__)
    # REINFORCE: reward 1 for action 1 under a Bernoulli(sigmoid(theta)) policy.
    theta = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    p = torch.sigmoid(theta)
    actions = (torch.rand(20000, generator=g, dtype=torch.float64) < p.detach()).double()
    log_probs = actions * torch.log(p) + (1 - actions) * torch.log1p(-p)
    (g_loss,) = torch.autograd.grad(F.policy_gradient(log_probs, actions), theta)
    exact = _f(p * (1 - p))
    v = {"f1_at_0.5": f1_default, "best_f1": f1s[best],
         "best_threshold": _f(thresholds[best]),
         "reinforce_gradient_estimate": -_f(g_loss), "exact_gradient": exact}
    holds = (v["best_f1"] > v["f1_at_0.5"] + 0.05
             and abs(v["reinforce_gradient_estimate"] - exact) < 0.05 * exact)
    return Demonstration(
        "tuning the decision threshold on validation data raises F1 well above the 0.5 "
        "threshold's; the REINFORCE estimate from policy_gradient matches the exact gradient "
        "p (1 - p) of the expected reward within 5%", v, holds)


def _demo_stability() -> Demonstration:
    x = torch.tensor([[1000.0, 0.0]])
    y = torch.tensor([1])
    naive_ce = -torch.log(torch.softmax(x, 1))[0, 1]
    stable_ce = F.cross_entropy(x, y)
    z = torch.tensor([-200.0])
    naive_bce = -torch.log(torch.sigmoid(z))[0]
    stable_bce = F.binary_cross_entropy(z, torch.ones(1))
    margin = torch.tensor([-100.0])  # y f(x) of a badly misclassified point
    naive_exp = torch.exp(-margin)[0]
    logged_exp = -margin[0]  # the exponential loss kept in log space: log exp(-m) = -m
    naive_logcosh = torch.log(torch.cosh(torch.tensor([100.0])))[0]
    stable_logcosh = F.log_cosh(torch.tensor([100.0]), torch.zeros(1))
    v = {"naive_cross_entropy": _f(naive_ce), "cross_entropy": _f(stable_ce),
         "naive_bce": _f(naive_bce), "bce": _f(stable_bce),
         "naive_exponential_loss": _f(naive_exp), "log_of_exponential_loss": _f(logged_exp),
         "naive_log_cosh": _f(naive_logcosh), "log_cosh": _f(stable_logcosh)}
    holds = (math.isinf(v["naive_cross_entropy"]) and abs(v["cross_entropy"] - 1000) < 1e-3
             and math.isinf(v["naive_bce"]) and abs(v["bce"] - 200) < 1e-3
             and math.isinf(v["naive_exponential_loss"]) and v["log_of_exponential_loss"] == 100
             and math.isinf(v["naive_log_cosh"])
             and abs(v["log_cosh"] - (100 - math.log(2))) < 1e-3)
    return Demonstration(
        "in float32, log(softmax) of logits (1000, 0) and log(sigmoid(-200)) take the log of "
        "a probability that underflowed to 0, and exp(100) and cosh(100) overflow: all four "
        "give an infinite loss; losskit's cross_entropy (1000), binary_cross_entropy (200) and "
        "log_cosh (100 - log 2) stay finite", v, holds)


def _demo_l2_is_weight_decay() -> Demonstration:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(20, 4, generator=g, dtype=torch.float64)
    y = torch.randn(20, generator=g, dtype=torch.float64)
    w0 = torch.randn(4, generator=g, dtype=torch.float64)
    lam, lr = 0.05, 0.1

    def step(penalize: bool) -> torch.Tensor:
        w = torch.nn.Parameter(w0.clone())
        opt = torch.optim.SGD([w], lr=lr, weight_decay=0.0 if penalize else 2 * lam)
        loss = F.mse(X @ w, y) + (lam * F.l2_penalty([w]) if penalize else 0.0)
        loss.backward()
        opt.step()
        return w.detach()

    diff = _f((step(True) - step(False)).abs().max())
    v = {"max_weight_difference": diff, "l2_penalty_of_w0": _f(F.l2_penalty([w0])),
         "sum_of_squares_w0": _f((w0 ** 2).sum())}
    return Demonstration(
        "with plain SGD, adding lam * l2_penalty (sum of squared weights) to the loss gives "
        "exactly the step of SGD with weight_decay = 2 lam", v,
        diff < 1e-12 and abs(v["l2_penalty_of_w0"] - v["sum_of_squares_w0"]) < 1e-12)


def _demo_soft_constraints() -> Demonstration:
    grid = torch.linspace(0, 8, 80001, dtype=torch.float64)
    target = torch.full_like(grid, 5.0)  # the data want 5; domain knowledge says <= 4
    out = {}
    for lam in (1.0, 100.0):
        objective = (F.mse(grid, target, reduction="none")
                     + lam * F.bound_penalty(grid, upper=4.0, reduction="none"))
        out[lam] = _f(grid[objective.argmin()])
    contradictory = (F.bound_penalty(grid - 4, lower=1.0, reduction="none")
                     + F.bound_penalty(grid - 4, upper=0.0, reduction="none"))
    v = {"minimizer_lam_1": out[1.0], "expected_lam_1": 4.5,
         "minimizer_lam_100": out[100.0], "expected_lam_100": (5 + 400) / 101,
         "min_penalty_contradictory_bounds": _f(contradictory.min())}
    holds = (abs(out[1.0] - 4.5) < 1e-3 and abs(out[100.0] - 405 / 101) < 1e-3
             and v["min_penalty_contradictory_bounds"] > 0.49)
    return Demonstration(
        "fitting a constant to data at 5 with a soft bound 'at most 4': the optimum is "
        "(5 + 4 lam) / (1 + lam), 4.5 for lam = 1 (the data win part of the way) and 4.01 for "
        "lam = 100; with contradictory bounds (>= 1 and <= 0) no prediction brings the penalty "
        "below 0.5", v, holds)


def _demo_fairness() -> Demonstration:
    group = torch.tensor([0] * 10 + [1] * 10)
    target = torch.tensor([1.0] * 5 + [0.0] * 5 + [1.0] * 2 + [0.0] * 8)  # base rates .5, .2
    perfect = (2 * target - 1) * 20.0
    dp = F.demographic_parity_gap(perfect, group)
    eo = F.equalized_odds_gap(perfect, target, group)
    v = {"base_rate_group0": 0.5, "base_rate_group1": 0.2,
         "perfect_classifier_parity_gap": _f(dp), "perfect_classifier_odds_gap": _f(eo)}
    return Demonstration(
        "with base rates 0.5 and 0.2, a perfect classifier has an equalized-odds gap of 0 but a "
        "demographic-parity gap of 0.3: the two criteria cannot both be met", v,
        abs(v["perfect_classifier_parity_gap"] - 0.3) < 1e-6
        and v["perfect_classifier_odds_gap"] < 1e-6)


def _demo_shift() -> Demonstration:
    from .weighting import OnlineClassWeights

    g = torch.Generator().manual_seed(0)
    y = torch.tensor([0] * 50 + [1] * 50)  # balanced training data
    x = torch.randn(100, 2, generator=g, dtype=torch.float64)
    losses = F.cross_entropy(x, y, reduction="none")
    prior_train, prior_deploy = torch.tensor([0.5, 0.5]), torch.tensor([0.9, 0.1])
    deploy_risk = sum(_f(prior_deploy[c] * losses[y == c].mean()) for c in (0, 1))
    w = (prior_deploy / prior_train)[y].double()
    reweighted = F.cross_entropy(x, y, weight=w)
    tracker = OnlineClassWeights(num_classes=2, momentum=0.9)
    for _ in range(50):
        tracker.update(torch.tensor([0] * 5 + [1] * 5))
    before = _f(tracker.weights[1])
    for _ in range(50):
        tracker.update(torch.tensor([0] * 9 + [1]))
    v = {"deployment_risk": deploy_risk, "importance_weighted_loss": _f(reweighted),
         "class1_weight_before_shift": before, "class1_weight_after_shift": _f(tracker.weights[1])}
    return Demonstration(
        "weighting training samples by deployment prior / training prior turns the training "
        "loss into the expected loss under the deployment class mix; OnlineClassWeights raises "
        "the weight of a class that became rare (1 -> ~1.8 after a 50/50 -> 90/10 shift)", v,
        abs(deploy_risk - v["importance_weighted_loss"]) < 1e-12
        and abs(before - 1) < 1e-6 and v["class1_weight_after_shift"] > 1.5)


def _demo_time_series() -> Demonstration:
    from .weighting import recency_weights

    g = torch.Generator().manual_seed(0)
    # Skewed daily demand: the sum of two exponentials of mean 10 (a Gamma(2, 10) sample).
    demand = -10.0 * torch.log(torch.rand(500, 2, generator=g, dtype=torch.float64)).sum(1)
    grid = torch.linspace(0, _f(demand.max()), 4001, dtype=torch.float64)
    pinball = F.quantile(grid[:, None].expand(-1, 500), demand.expand(len(grid), -1),
                         quantiles=0.9, reduction="none").mean(1)
    best = _f(grid[pinball.argmin()])
    sorted_demand = demand.sort().values
    w = recency_weights(10, half_life=3.0)
    v = {"pinball_0.9_minimizer": best,
         "empirical_q90_low": _f(sorted_demand[449]), "empirical_q90_high": _f(sorted_demand[450]),
         "recency_weight_ratio_3_steps": _f(w[-4] / w[-1]), "recency_weight_mean": _f(w.mean()),
         "log_of_zero": _f(torch.log(torch.zeros(1))[0]),
         "msle_with_zero_target": _f(F.msle(torch.ones(1), torch.zeros(1)))}
    step = _f(grid[1] - grid[0])
    holds = (v["empirical_q90_low"] - step <= best <= v["empirical_q90_high"] + step
             and abs(v["recency_weight_ratio_3_steps"] - 0.5) < 1e-6
             and abs(v["recency_weight_mean"] - 1) < 1e-6
             and v["log_of_zero"] == -math.inf and math.isfinite(v["msle_with_zero_target"]))
    return Demonstration(
        "the constant forecast that minimizes the pinball loss at q = 0.9 is the empirical 90th "
        "percentile of demand; recency_weights with a half-life of 3 halves a sample's weight "
        "every 3 steps; log(0) is -inf while MSLE (log1p) handles a zero target", v, holds)


def _demo_reconstruction() -> Demonstration:
    # An edge pixel: dark (0) in 30% of plausible images, bright (1) in 70%.
    values = torch.tensor([0.0] * 3 + [1.0] * 7, dtype=torch.float64)
    grid = torch.linspace(0, 1, 1001, dtype=torch.float64)
    pred, target = grid[:, None].expand(-1, 10), values.expand(len(grid), -1)
    mse_best = _f(grid[F.mse(pred, target, reduction="none").mean(1).argmin()])
    mae_best = _f(grid[F.mae(pred, target, reduction="none").mean(1).argmin()])
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 6, generator=g, dtype=torch.float64)
    recon = x + 0.1 * torch.randn(4, 6, generator=g, dtype=torch.float64)
    mu = torch.randn(4, 3, generator=g, dtype=torch.float64)
    logvar = 0.1 * torch.randn(4, 3, generator=g, dtype=torch.float64)
    parts = F.vae_elbo(recon, x, mu, logvar, beta=4.0, return_parts=True)
    v = {"mse_optimal_pixel": mse_best, "mae_optimal_pixel": mae_best,
         "elbo_total": _f(parts.total),
         "reconstruction_plus_beta_kl": _f(parts.reconstruction + 4.0 * parts.kl),
         "kl": _f(parts.kl), "gaussian_kl": _f(F.gaussian_kl(mu, logvar))}
    holds = (abs(mse_best - 0.7) < 1e-9 and abs(mae_best - 1.0) < 1e-9
             and abs(v["elbo_total"] - v["reconstruction_plus_beta_kl"]) < 1e-9
             and abs(v["kl"] - v["gaussian_kl"]) < 1e-9)
    return Demonstration(
        "for a pixel that is 0 in 30% and 1 in 70% of plausible images, MSE's best "
        "reconstruction is the gray 0.7 and MAE's the sharp 1.0; the VAE loss is the "
        "reconstruction plus beta times gaussian_kl", v, holds)


def _demo_imbalance() -> Demonstration:
    from .weighting import class_weights

    labels = torch.tensor([0] * 90 + [1] * 10)
    cw = class_weights(labels)
    totals = [_f(cw[c] * (labels == c).sum()) for c in (0, 1)]
    x = torch.tensor([math.log(9.0)], dtype=torch.float64)  # p = 0.9 on a positive: easy
    y = torch.ones(1, dtype=torch.float64)
    ratio = _f(F.sigmoid_focal(x, y, gamma=2.0, alpha=None) / F.binary_cross_entropy(x, y))
    v = {"class0_weight": _f(cw[0]), "class1_weight": _f(cw[1]),
         "class0_total_weight": totals[0], "class1_total_weight": totals[1],
         "focal_over_bce_at_p_0.9": ratio}
    return Demonstration(
        "inverse-frequency class weights on a 90/10 split give both classes the same total "
        "weight; focal loss with gamma = 2 keeps only (1 - 0.9)^2 = 1% of the cross-entropy "
        "of an example already predicted at 0.9", v,
        abs(totals[0] - totals[1]) < 1e-6 and abs(ratio - 0.01) < 1e-9)


def _demo_robust() -> Demonstration:
    def grad(fn: Callable[..., torch.Tensor], x0: float, y0: float, **kw: Any) -> float:
        x = torch.tensor([x0], dtype=torch.float64, requires_grad=True)
        fn(x, torch.tensor([y0], dtype=torch.float64), **kw).backward()
        return _f(x.grad[0])

    v = {"mse_grad_residual_100": grad(F.mse, 100.0, 0.0),
         "huber_grad_residual_100": grad(F.huber, 100.0, 0.0, delta=1.0),
         "smoothed_bce_grad_at_logit_ln19": grad(F.binary_cross_entropy, math.log(19.0), 1.0,
                                                 label_smoothing=0.1),
         "bce_grad_at_logit_ln19": grad(F.binary_cross_entropy, math.log(19.0), 1.0)}
    holds = (abs(v["mse_grad_residual_100"] - 200) < 1e-9
             and abs(v["huber_grad_residual_100"] - 1) < 1e-9
             and abs(v["smoothed_bce_grad_at_logit_ln19"]) < 1e-12
             and v["bce_grad_at_logit_ln19"] < -0.04)
    return Demonstration(
        "a residual of 100 pulls with gradient 200 under MSE but 1 under Huber (delta 1); with "
        "label smoothing 0.1 binary cross-entropy stops pushing at p = 0.95 (logit log 19), "
        "where plain cross-entropy still pushes toward infinite confidence", v, holds)


def _demo_sequence() -> Demonstration:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 5, 7, generator=g, dtype=torch.float64)
    y = torch.randint(0, 7, (1, 5), generator=g)
    token_sum = F.sequence_cross_entropy(x, y, reduction="sum")
    probs = torch.softmax(x, -1)[0, torch.arange(5), y[0]]
    v = {"summed_token_cross_entropy": _f(token_sum),
         "minus_log_sequence_probability": -math.log(_f(torch.prod(probs)))}
    return Demonstration(
        "summing the teacher-forced cross-entropy over a sequence's tokens gives -log of the "
        "probability of the whole sequence (chain rule)", v,
        abs(v["summed_token_cross_entropy"] - v["minus_log_sequence_probability"]) < 1e-9)


# -- the topics --------------------------------------------------------------------------

_TOPICS: tuple[Topic, ...] = (
    Topic(
        "what-is-a-loss", "What a loss function is and how training uses it",
        "A loss turns how wrong a prediction is into one number; training lowers that number "
        "by following its gradient.",
        ("A loss (also called cost, objective or training criterion) takes the model's output "
         "and the target and returns a scalar that grows as the prediction gets worse. "
         "Averaged over a mini-batch it is the only thing the optimizer sees: backpropagation "
         "computes the derivative of that scalar with respect to every parameter, and each step "
         "of (stochastic) gradient descent moves the parameters a little against it. Whatever "
         "the model learns, it learns through that gradient, so the loss is the task's "
         "specification as far as the model is concerned.",
         "The loss therefore follows from the task: squared or absolute error (or Huber) for "
         "real-valued targets, cross-entropy for classes, margin losses for rankings and "
         "max-margin classifiers, contrastive and triplet losses for embeddings, alignment "
         "losses such as CTC for unsegmented sequences, reward-weighted log-likelihoods in "
         "reinforcement learning. Among losses for the same task, two properties separate them: "
         "what the loss is minimized by (a mean, a median, a quantile, a calibrated probability, "
         "an ordering) and how its gradient behaves (whether it vanishes, explodes, or ignores "
         "some examples).",
         "In losskit each loss is a registered function with a card: `losskit list` lists them "
         "by task and family, `losskit explain NAME` shows the formula, gradient, uses and "
         "pitfalls."),
        aliases=("loss-function", "objective-function", "cost-function", "training-objective"),
        see_also=("cli:list", "py:losskit.list_losses", "loss:mse", "loss:cross_entropy",
                  "topic:choosing-a-loss"),
        demo=_demo_training_step),
    Topic(
        "choosing-a-loss", "Choosing a loss: a procedure",
        "Target type, target distribution, metric and practical limits, in that order; start "
        "from the standard loss and deviate only for a reason.",
        ("There is no formula that picks a loss, but there is a useful order of questions. "
         "(1) What is the target: a real value, a count, a binary label, one of K exclusive "
         "classes, any subset of K labels, an ordered level, a distribution, a mask, a sequence, "
         "a pair or triplet? This fixes the family and the output layer (one logit, K logits, "
         "K - 1 thresholds, a mean and a variance...). (2) How is it distributed: skewed, "
         "spread over orders of magnitude, with gross outliers or heavy-tailed noise, rare "
         "classes or tiny foreground, unreliable labels? (3) What will the model be judged on, "
         "and do some mistakes cost more than others? (4) What are the practical limits: "
         "memory (very large vocabularies), speed, batch size for batch-level losses, the need "
         "for calibrated probabilities or an interpretable model?",
         "Then begin with the standard loss of the family (MSE, softmax cross-entropy, "
         "per-label binary cross-entropy), which is well understood and hard to beat, and move "
         "away only for a reason the questions gave: a robust loss for outliers, weights or a "
         "focal term for imbalance, a quantile loss for asymmetric costs, an overlap loss for "
         "small structures, a surrogate of the metric when the standard loss ranks models "
         "differently from it. Compare candidates on held-out data with the real metric, never "
         "by their own loss values, which live on different scales; refine or write a custom "
         "loss only if the experiment asks for it.",
         "Make the output layer and the loss agree. Losses that take logits apply the sigmoid "
         "or softmax internally in a stable form, so the model must not apply it too; losses "
         "that take probabilities or log-probabilities must be fed exactly that; a quantity "
         "that cannot be negative needs softplus or exp at the output. `losskit recommend` "
         "answers questions (1) to (3) from your data and explains its ranking, and "
         "`losskit compare` runs the experiment."),
        aliases=("how-to-choose-a-loss", "loss-selection", "unified-approach",
                 "task-dictates-loss"),
        see_also=("cli:recommend", "cli:compare", "py:losskit.recommend", "py:losskit.compare",
                  "rule:regression-default", "rule:multiclass-default",
                  "topic:loss-metric-misalignment"),
        demo=_demo_recommend_outliers),
    Topic(
        "mse-vs-mae-vs-huber", "MSE, MAE, Huber and Smooth L1 for regression",
        "Squared error fits the mean and converges smoothly but lets outliers dominate; "
        "absolute error fits the median and is robust but jitters; Huber and Smooth L1 combine "
        "them.",
        ("Squared error charges an error e as e^2, absolute error as |e|. Their derivatives, 2e "
         "and sign(e), tell the whole story: under MSE the push grows with the error, under MAE "
         "it has the same size for every sample. So MSE is minimized by the conditional mean "
         "and MAE by the conditional median; a few gross errors move the mean a lot and the "
         "median hardly at all. Near the optimum MSE's gradient shrinks, so a fixed learning "
         "rate settles precisely; MAE keeps taking full-size steps and oscillates unless the "
         "learning rate decays, which is why it converges more slowly.",
         "Huber is quadratic for residuals up to delta and linear beyond, so it behaves like "
         "MSE on ordinary points and like MAE on outliers; delta (in target units) says which "
         "residuals count as outliers, and as it grows the fit moves from the median to the "
         "mean. Smooth L1 is the same curve rescaled: smooth_l1(beta) = huber(delta=beta) / "
         "beta. With beta < 1 its quadratic zone is steeper (gradient e / beta), which is why "
         "detectors find it converges faster near zero than a Huber with the same threshold "
         "at the same learning rate; its linear tails always have slope 1. Log-cosh is a "
         "twice-differentiable cousin without a threshold.",
         "Rule of thumb: MSE when the noise is roughly Gaussian or the metric is RMSE; MAE when "
         "the metric is MAE or outliers are frequent; Huber or Smooth L1 when you want a "
         "smooth finish and protection from occasional gross errors. None of them protects "
         "against outliers in the inputs (high-leverage points)."),
        aliases=("l1-vs-l2", "mse-vs-mae", "regression-losses", "huber-vs-smooth-l1"),
        see_also=("loss:mse", "loss:mae", "loss:huber", "loss:smooth_l1", "loss:log_cosh",
                  "scenario:outliers", "scenario:interpolation", "rule:outliers-huber",
                  "topic:noisy-labels-and-outliers"),
        demo=_demo_regression_losses),
    Topic(
        "cross-entropy-vs-mse", "Why cross-entropy, not MSE, for classification",
        "Through a sigmoid, squared error's gradient vanishes exactly when the model is "
        "confidently wrong; cross-entropy's does not.",
        ("Put a sigmoid on a logit z and train with squared error: the gradient with respect "
         "to z is 2 (p - y) p (1 - p). The factor p (1 - p) is the slope of the sigmoid, nearly "
         "zero once |z| is large, so a confidently wrong prediction (z = -8 for a positive) "
         "gets almost no gradient and stays wrong for many steps. Binary cross-entropy on the "
         "same logit has gradient p - y: the logarithm cancels the sigmoid's slope, so the more "
         "wrong the prediction, the stronger the push, bounded by 1. Softmax with "
         "cross-entropy behaves the same way, p - q for each logit.",
         "Other reasons point the same way. Cross-entropy is the negative log-likelihood of a "
         "Bernoulli or categorical model, so minimizing it is maximum likelihood and, for fixed "
         "targets, minimizing KL divergence to them; its minimizer is the true class "
         "probability, and it is the log-loss metric itself. For a linear model (logistic "
         "regression) it is convex in the weights, whereas squared error through a sigmoid is "
         "not and has flat regions far from the optimum.",
         "Squared error on probabilities (the Brier score) is still a proper score and a useful "
         "calibration metric, and its boundedness helps against label noise, but as the "
         "training loss of a classifier it learns slower and less reliably."),
        aliases=("vanishing-gradient", "mse-for-classification", "why-not-mse"),
        see_also=("loss:binary_cross_entropy", "loss:cross_entropy", "loss:mse",
                  "scenario:vanishing_gradient", "rule:binary-default",
                  "topic:why-log-in-cross-entropy"),
        demo=_demo_vanishing_gradient),
    Topic(
        "cross-entropy-nonnegative", "Why cross-entropy is never negative, and when it is zero",
        "Each term is a non-negative weight times -log of a probability, which is >= 0; zero "
        "needs probability 1 on a one-hot target, and a soft target's floor is its entropy.",
        ("For discrete classes, cross-entropy is the sum over classes of p_c times -log q_c. "
         "A predicted probability lies in (0, 1], so -log q_c is at least 0, and the target "
         "weights p_c are non-negative; a sum of non-negative terms cannot be negative. It is "
         "zero only if every class that carries target mass is predicted with probability 1, "
         "which is possible only for a one-hot target; with softmax outputs it is approached "
         "as the winning logit runs away from the others but never reached exactly.",
         "With a soft target (label smoothing, distillation, averaged annotator votes) the "
         "minimum is not zero but the entropy of the target, reached when the prediction equals "
         "it. A cross-entropy value on its own therefore does not say how close the model is "
         "to perfect; KL divergence, which is cross-entropy minus that entropy, is zero at the "
         "optimum and is the number to report when that matters.",
         "The argument needs probabilities of discrete outcomes. Negative log-likelihoods of "
         "continuous targets use densities, which can exceed 1, so a Gaussian NLL with a small "
         "predicted variance is legitimately negative; and nll fed something other than "
         "log-probabilities can return any sign."),
        aliases=("cross-entropy-zero", "cross-entropy-bounds", "is-cross-entropy-positive"),
        see_also=("loss:cross_entropy", "loss:kl_div", "loss:gaussian_nll", "loss:nll",
                  "topic:cross-entropy-vs-kl"),
        demo=_demo_nonnegative),
    Topic(
        "why-log-in-cross-entropy", "Why cross-entropy takes a logarithm",
        "The log turns a product of likelihoods into a sum, keeps the numbers representable, "
        "makes the penalty explode for confident mistakes and cancels the exponential of "
        "softmax.",
        ("Maximum likelihood asks for the parameters under which the observed labels are most "
         "probable: a product of one probability per sample. A product of thousands of numbers "
         "below 1 underflows to zero in floating point, and its derivative couples every "
         "sample. The logarithm is monotone, so it keeps the same maximizer, and it turns the "
         "product into a sum of per-sample terms, which is what mini-batch gradient descent "
         "needs (the gradient of a sum is a sum of gradients). Negating it gives a loss to "
         "minimize: the negative log-likelihood.",
         "The log also shapes the penalty: -log q grows without bound as q goes to 0, so a "
         "confident wrong answer costs far more than a hesitant one, while lowering a correct "
         "probability from 0.95 to 0.9 costs little. Combined with softmax or sigmoid, the log "
         "undoes the exponential and leaves the clean gradient p - y; computed as log-softmax in "
         "one step it is also numerically stable, unlike log(softmax(x)).",
         "In information terms, -log2 q is the length in bits of the code word a code built "
         "from q gives an outcome, so cross-entropy is an average code length; this is the "
         "link to entropy, KL divergence and perplexity."),
        aliases=("why-log", "log-likelihood", "negative-log-likelihood-why"),
        see_also=("loss:nll", "loss:cross_entropy", "topic:numerical-stability",
                  "topic:cross-entropy-vs-kl", "topic:perplexity-and-cross-entropy"),
        demo=_demo_why_log),
    Topic(
        "cross-entropy-vs-kl", "Cross-entropy and KL divergence: H(p, q) = H(p) + KL(p || q)",
        "Cross-entropy is the target's entropy plus the KL divergence from the target to the "
        "prediction; with a fixed target they have the same minimizer and the same gradient.",
        ("Cross-entropy H(p, q) = -sum p log q is the average cost of encoding outcomes drawn "
         "from p with a code designed for q. It splits into the entropy H(p) = -sum p log p, "
         "the cost if the code had been designed for p, and the Kullback-Leibler divergence "
         "KL(p || q) = sum p log(p / q), the extra cost of using the wrong distribution. KL is "
         "never negative and is zero only when q = p.",
         "When the target p is fixed (labels, a frozen teacher), H(p) is a constant for the "
         "model: minimizing cross-entropy and minimizing KL(p || q) over q have the same "
         "optimum and exactly the same gradient, q - p per logit. They differ in value only: KL "
         "reads 0 at a perfect match, cross-entropy reads H(p), which matters when logging, "
         "setting stopping thresholds or adding other terms. The equivalence fails when p "
         "depends on trainable parameters too (a teacher trained jointly, consistency between "
         "two predictions of the same model): then H(p) has a gradient of its own.",
         "Direction matters. Forward KL(p || q), the one inside cross-entropy, punishes q for "
         "missing any region where p has mass, so q spreads to cover all modes. Reverse KL(q "
         "|| p) punishes q for putting mass where p has little, so q concentrates on a mode. "
         "The regularizer of a VAE, KL(q(z|x) || p(z)), pulls each approximate posterior "
         "toward the prior; gaussian_kl computes it in closed form."),
        aliases=("kl-vs-cross-entropy", "entropy-plus-kl", "kl-and-cross-entropy"),
        see_also=("loss:cross_entropy", "loss:kl_div", "loss:gaussian_kl", "loss:js_div",
                  "rule:soft-labels-kl", "topic:cross-entropy-nonnegative"),
        demo=_demo_ce_kl),
    Topic(
        "nll-vs-cross-entropy",
        "Negative log-likelihood vs cross-entropy (and PyTorch's LogSoftmax + NLLLoss)",
        "With one-hot targets they are the same number; PyTorch's CrossEntropyLoss is "
        "LogSoftmax followed by NLLLoss, and mixing up their inputs fails silently.",
        ("Negative log-likelihood is a recipe: minus the log of the probability the model gives "
         "to what was observed. Cross-entropy is a quantity between two distributions. When the "
         "target is a single class (a one-hot vector) they coincide, because the sum over classes "
         "keeps only the true class's term, -log q_y. Each is more general in its own "
         "direction: cross-entropy accepts soft targets, and any likelihood (Gaussian, Poisson, "
         "a mixture, CTC's sum over alignments) gives an NLL.",
         "PyTorch splits the classification case in two: log_softmax turns logits into "
         "log-probabilities and NLLLoss picks -log q_y (with class weights and ignore_index); "
         "CrossEntropyLoss composes the two and takes raw logits. losskit mirrors this: "
         "cross_entropy takes logits, nll takes log-probabilities. Confusing them does not "
         "raise: nll on logits or probabilities returns a meaningless and possibly negative "
         "value, and cross_entropy on outputs that were already softmaxed normalizes twice and "
         "learns slowly."),
        aliases=("logsoftmax-nllloss", "nll-and-cross-entropy", "crossentropyloss"),
        see_also=("loss:nll", "loss:cross_entropy", "loss:gaussian_nll", "loss:poisson_nll",
                  "loss:ctc", "py:torch.nn.CrossEntropyLoss", "py:torch.nn.NLLLoss"),
        demo=_demo_nll_vs_ce),
    Topic(
        "perplexity-and-cross-entropy", "Perplexity, cross-entropy and the base of the logarithm",
        "Perplexity is the exponential of the mean token cross-entropy in the same base as its "
        "logarithm: e^(nats) = 2^(bits).",
        ("Perplexity is the exponential of a language model's mean per-token cross-entropy on "
         "held-out text. Measured in bits (log base 2), it is 2 to that power; in nats (natural "
         "log, what PyTorch computes), e to that power. The result is the same number, because "
         "b to the power of a cross-entropy measured in base b does not depend on b; the "
         "classic mistake is mixing bases, e.g. raising 2 to a value in nats.",
         "A model with perplexity k is, on average, as uncertain as one choosing uniformly among "
         "k tokens: a uniform model over a vocabulary of V tokens has perplexity V and a perfect "
         "model 1. Lower is better: the text surprises the model less; "
         "but it is per token, so it compares only models with the same tokenizer.",
         "Train on the cross-entropy, whose gradient is well behaved, and report perplexity. "
         "Pool the cross-entropy over all tokens and exponentiate once: the mean of per-batch "
         "perplexities is not the corpus perplexity."),
        aliases=("perplexity-base", "ppl-vs-cross-entropy", "bits-per-token"),
        see_also=("loss:perplexity", "loss:sequence_cross_entropy", "loss:linear_cross_entropy",
                  "rule:sequence-ce"),
        demo=_demo_perplexity),
    Topic(
        "binary-vs-categorical-vs-multilabel", "Binary, categorical and multi-label cross-entropy",
        "One sigmoid for binary, a softmax for exclusive classes, one sigmoid per label for "
        "multi-label.",
        ("Three output structures, three losses. Binary: one logit per sample, a sigmoid, binary "
         "cross-entropy. Mutually exclusive classes (K >= 2): K logits and a softmax that makes "
         "them share one unit of probability, categorical cross-entropy. Multi-label (any subset "
         "of K labels may be present): K logits, K independent sigmoids, and the sum or mean of "
         "K binary cross-entropies.",
         "Binary and two-class categorical are the same model: a softmax over logits (a, b) "
         "gives class 1 the probability sigmoid(b - a), so cross-entropy over two logits equals "
         "binary cross-entropy on their difference, and one logit is simply the non-redundant "
         "parametrization. Softmax on multi-label data is a real error: probabilities that sum "
         "to one cannot put two present labels near 1 at once, so co-occurring labels are made "
         "to compete. Independent sigmoids on exclusive classes are a milder error: "
         "probabilities no longer sum to one.",
         "Multi-label data usually has few positives per label: pos_weight, focal or asymmetric "
         "losses handle that, and a decision threshold per label tuned on validation data "
         "usually beats 0.5."),
        aliases=("sigmoid-vs-softmax", "binary-vs-categorical", "multi-label", "multilabel"),
        see_also=("loss:binary_cross_entropy", "loss:cross_entropy",
                  "loss:asymmetric_multilabel", "loss:sigmoid_focal", "rule:multilabel-bce",
                  "rule:multilabel-no-softmax", "topic:multilabel-label-structure"),
        demo=_demo_binary_vs_categorical),
    Topic(
        "multilabel-label-structure", "Multi-label losses that use the structure between labels",
        "Per-label cross-entropy ignores label correlations; hierarchy penalties, graph "
        "smoothing and set-level models put them in the loss, at the price of complexity and "
        "data.",
        ("Per-label binary cross-entropy treats labels as independent given the input. The "
         "shared backbone can still learn correlations in its features, but the loss does not "
         "reward coherent label sets: predicting 'dog' without 'animal', or 'beach' together "
         "with 'snow', costs no more than unrelated errors of the same size.",
         "Ways to bring structure into the loss. (a) Implication penalties for known "
         "hierarchies: P(child) must not exceed P(parent), so add a hinge on P(child) - "
         "P(parent); bound_penalty with the parent's probability as the upper bound is exactly "
         "that. (b) Graph smoothing: for labels i, j linked in a co-occurrence or knowledge "
         "graph with weight A_ij, add the sum of A_ij (p_i - p_j)^2, or tie the label "
         "classifiers' weight vectors through the graph (graph-convolutional label "
         "embeddings). (c) Models of whole label sets: classifier chains, energies over label "
         "configurations trained with an NLL (tractable for small label sets), or a decoder "
         "that emits labels as a sequence. (d) Set-level surrogates such as soft F1 that score "
         "the label vector as a whole.",
         "Costs: these need either a trustworthy structure or enough data to estimate "
         "co-occurrence, and a wrong graph pulls predictions toward wrong combinations. Keep "
         "such terms soft, tune their weight on validation data, and add them only after "
         "independent BCE (with pos_weight or the asymmetric loss) shows visibly incoherent "
         "errors."),
        aliases=("label-correlation", "structured-multilabel", "graph-multilabel",
                 "hierarchical-labels"),
        see_also=("loss:binary_cross_entropy", "loss:bound_penalty", "loss:asymmetric_multilabel",
                  "loss:soft_f1", "loss:energy_nll", "rule:multilabel-bce",
                  "py:losskit.compose.parse"),
        demo=_demo_label_structure),
    Topic(
        "custom-loss-design", "What makes a good custom loss",
        "Useful gradients almost everywhere, aligned with the metric, numerically stable, cheap, "
        "sensibly scaled; convexity is optional.",
        ("Requirements, roughly in the order they cause trouble. (1) Gradients that carry "
         "information: differentiable almost everywhere (kinks such as |x| or max(0, x) are "
         "fine, a subgradient is used there) and not flat over large regions. A loss built from "
         "argmax, rounding or thresholds is piecewise constant: its gradient is zero almost "
         "everywhere and nothing trains. (2) Aligned with the evaluation: its minimizer should "
         "be the prediction the metric rewards. (3) Numerically stable for what training "
         "produces: confident logits, zero probabilities, half precision. (4) Cheap and "
         "vectorized, since it runs on every batch and maybe on every pixel or token. (5) A "
         "sane scale and reduction: a minimum at the perfect prediction and a mean whose size "
         "does not depend on the batch size.",
         "Convexity is not required. The network makes the problem non-convex anyway, and "
         "useful losses (focal, Dice, Tversky, triplet) are not convex in their inputs. What "
         "matters more is the gradient profile: which examples get large gradients (hard ones, "
         "outliers?), whether it saturates, whether it is bounded. Well-known designs are "
         "answers to such questions: Huber bounds the pull of outliers, focal loss mutes easy "
         "examples, IoU-type losses optimize overlap directly.",
         "A custom loss is often a standard one plus a term: a regularizer, a domain "
         "constraint, a fairness penalty, combined with losskit.get('a + 0.1*b'). Write it with "
         "the standard signature, register it with losskit.register_loss so it gets a card, and "
         "run losskit check on it before training."),
        aliases=("custom-loss", "designing-a-loss", "custom-loss-requirements"),
        see_also=("py:losskit.register_loss", "py:losskit.get", "check:gradient_direction",
                  "check:optimum", "check:extreme_inputs", "topic:testing-a-custom-loss",
                  "topic:non-differentiable-metrics", "topic:numerical-stability"),
        demo=_demo_zero_gradient),
    Topic(
        "testing-a-custom-loss", "Testing a custom loss before and during training",
        "Known answers first (optimum, gradient sign, finite differences, extremes), then a "
        "tiny synthetic problem, then real data with the metric watched next to the loss.",
        ("Before training, test the loss where you know the answer: the perfect prediction must "
         "score the minimum (usually 0) and a worse one more; a small step against the gradient "
         "must lower the loss, i.e. the gradient points from the target to the prediction; "
         "autograd's gradient must agree with finite differences; a 'mean' must not depend on "
         "batch size or order; confident logits, zero errors and half precision must stay "
         "finite. Then train a small model on a synthetic problem whose solution is known and "
         "confirm that the loss falls steadily and the outputs converge to the known targets. "
         "Only then move to real data. `losskit check` runs all of this, including the "
         "synthetic training run, and losskit.testing turns it into pytest cases.",
         "During training, log each term of a composite loss on its own and watch for NaN, "
         "divergence, plateaus and exploding gradient norms (LossMonitor does this). Track the "
         "metric that matters on validation data next to the loss: if the loss keeps falling "
         "while the metric gets worse, the loss and the goal disagree, often because an "
         "auxiliary penalty is weighted too strongly; rebalance it. Compare against a standard "
         "baseline on the same folds with `losskit compare`."),
        aliases=("verify-custom-loss", "debug-a-loss", "loss-sanity-checks"),
        see_also=("cli:check", "py:losskit.check", "py:losskit.testing.assert_loss_ok",
                  "py:losskit.testing.parametrize_with_checks", "check:convergence",
                  "check:gradcheck", "py:losskit.monitor.LossMonitor", "scenario:misalignment",
                  "topic:loss-metric-misalignment"),
        demo=_demo_check_custom),
    Topic(
        "loss-metric-misalignment", "When the loss and the metric disagree",
        "The loss is chosen for its gradient and the metric for decisions; they can rank models "
        "differently, so select with the metric and bring the loss closer to it.",
        ("The training loss is picked for its gradients; the metric (accuracy, F1, recall at a "
         "fixed precision, MAE, revenue) is picked for the decisions the model supports. They "
         "are different functions and can disagree about which model is better: a lower "
         "cross-entropy does not guarantee a higher accuracy, and a model trained with MSE can "
         "improve its mean fit while the MAE a business reports gets worse. The model optimizes "
         "what the loss says and nothing else.",
         "Remedies, in increasing effort: choose the loss whose minimizer is what the metric "
         "rewards (MAE: the median; pinball at q: the q-quantile; log-loss: plain "
         "cross-entropy); express unequal costs as weights or a quantile level; keep a proper "
         "loss and tune the decision threshold or rounding for the metric on validation data; "
         "add a differentiable surrogate of the metric (soft F1, Dice or Lovasz for IoU, "
         "pairwise logistic for AUC) as a term of a composite; as a last resort treat the "
         "metric as a reward. In every case, pick checkpoints and hyperparameters by the "
         "metric, not by the loss."),
        aliases=("metric-mismatch", "loss-vs-metric", "business-objective"),
        see_also=("scenario:misalignment", "cli:compare", "py:losskit.compare",
                  "rule:non-differentiable-metric", "rule:costs-quantile",
                  "topic:non-differentiable-metrics", "py:losskit.monitor.LossMonitor"),
        demo=_demo_misalignment),
    Topic(
        "non-differentiable-metrics",
        "Optimizing a metric without a gradient (accuracy, F1, IoU, AUC, BLEU)",
        "Train a proper loss and tune the decision rule, use a smooth surrogate, or estimate "
        "gradients of the metric as a reward.",
        ("Accuracy, F1, the IoU of hard masks, AUC, BLEU and word error rate are computed from "
         "discrete decisions (argmax, thresholds, orderings, edit operations). As functions of "
         "the model's outputs they are piecewise constant: the gradient is zero almost "
         "everywhere and undefined at the jumps, so backpropagation gets nothing from them.",
         "Routes, cheapest first. (1) Train a proper differentiable loss such as cross-entropy "
         "and fit the decision rule to the metric afterwards: a threshold, one threshold per "
         "class or label, or a rounding rule, tuned on validation data; for F1 or recall this "
         "is often the largest gain. (2) A smooth surrogate: expected counts instead of counts "
         "(soft F1, soft Dice and Jaccard), a convex extension (Lovasz for IoU), a pairwise "
         "loss for AUC and rankings, a margin loss for accuracy (hinge), a structured hinge "
         "(structured SVM) for structured outputs. (3) Gradient estimators: treat the metric as "
         "a reward and use the score-function (REINFORCE) estimator with a baseline, as in "
         "sequence-level training on BLEU; unbiased but noisy. Straight-through and "
         "perturbation estimators are alternatives. (4) Use the metric to choose "
         "hyperparameters such as class weights or the mix of a composite loss.",
         "Keep measuring the true metric on validation data whichever route you take: "
         "surrogates are tight only near their optimum, and batch-level ones (soft F1, Dice) are "
         "biased for small batches."),
        aliases=("optimize-f1", "optimize-accuracy", "surrogate-losses",
                 "direct-metric-optimization"),
        see_also=("loss:soft_f1", "loss:lovasz_softmax", "loss:pairwise_logistic", "loss:hinge",
                  "loss:energy_margin", "loss:policy_gradient", "rule:non-differentiable-metric",
                  "topic:loss-metric-misalignment"),
        demo=_demo_surrogates),
    Topic(
        "numerical-stability", "Numerical stability of losses",
        "Compute logs of probabilities from logits (log-sum-exp, log-sigmoid), keep "
        "exponentials in log space or clamp them, and bound or clip the gradients.",
        ("Instabilities come from a few places: the log of a probability that rounded to 0 "
         "(-inf, then NaN gradients); the exp of a large number (overflow beyond about 88 in "
         "float32 and 11 in float16); subtracting nearly equal numbers; and large errors that "
         "produce huge gradients and blow up the weights.",
         "The standard cures. Never compute log(softmax(x)) in two steps: log_softmax(x) = x - "
         "logsumexp(x), and logsumexp subtracts the maximum before exponentiating, so nothing "
         "overflows and the winning class's log-probability is exact. For sigmoids, log "
         "sigmoid(x) = -softplus(-x) and log(1 - sigmoid(x)) = -softplus(x); this is why "
         "classification losses take logits. Exponential-type losses (the exponential loss of "
         "boosting, exp(-y f); log-cosh; Poisson with a log-rate) need rewriting in log space "
         "(log1p, softplus, |r| + log1p(exp(-2|r|)) - log 2) or clamping of the exponent. Where "
         "a probability must be logged, clamp it to [eps, 1 - eps]. Accumulate half-precision "
         "inputs in float32. For gradients: bounded-gradient losses, gradient-norm clipping, "
         "careful initialization, and a small z-loss that keeps the softmax normalizer near "
         "zero in large output layers.",
         "losskit's losses take logits and use these forms. `losskit check` includes "
         "extreme_inputs (logits of 1e4) and low_precision (float16 and bfloat16) to catch "
         "such failures in your own loss, and LossMonitor names the first term and step that "
         "went non-finite."),
        aliases=("log-sum-exp", "logsumexp", "overflow", "nan-loss"),
        see_also=("loss:cross_entropy", "loss:binary_cross_entropy", "loss:log_cosh",
                  "loss:linear_cross_entropy", "check:extreme_inputs", "check:low_precision",
                  "py:losskit.monitor.LossMonitor"),
        demo=_demo_stability),
    Topic(
        "regularization-in-the-loss", "Regularization as part of the loss",
        "Task loss + lam x penalty: L2 shrinks weights, L1 zeroes them; with SGD an L2 term "
        "equals weight decay, with Adam it does not.",
        ("A regularized objective is the task loss plus lam times a penalty on the parameters "
         "(or on activations or outputs). The L2 penalty (sum of squared weights) shrinks each "
         "weight in proportion to its size, keeping all of them small but non-zero; the L1 "
         "penalty (sum of absolute values) pushes with constant force and drives many weights "
         "to exactly zero, giving sparse and easier-to-interpret models. In Bayesian terms "
         "they are Gaussian and Laplace priors. Penalties on outputs exist too: entropy "
         "bonuses, confidence penalties, label smoothing.",
         "With plain SGD, adding lam times the sum of squared weights to the loss is the same "
         "update as weight decay 2 lam in the optimizer. With adaptive optimizers such as Adam "
         "it is not, because the penalty's gradient is rescaled per parameter; decoupled decay "
         "(AdamW) is the usual choice there. Penalize weights, not biases or normalization "
         "scales; tune lam on validation data, and expect it not to transfer across model "
         "sizes since the penalty grows with the number of parameters. Not all regularization "
         "lives in the loss: dropout, data augmentation and early stopping act elsewhere."),
        aliases=("l1-l2-regularization", "penalty-terms", "regularisation", "sparsity"),
        see_also=("loss:l2_penalty", "loss:l1_penalty", "py:losskit.compose.parse",
                  "rule:many-features", "topic:domain-knowledge-penalties"),
        demo=_demo_l2_is_weight_decay),
    Topic(
        "domain-knowledge-penalties", "Domain knowledge in the loss: soft penalties vs hard "
        "constraints",
        "Build certain rules into the output layer; express approximate ones as weighted "
        "penalties; beware of over-constraining.",
        ("Knowledge about valid outputs enters a model in two ways. Hard: build it into the "
         "architecture so that it cannot be broken, e.g. softplus or exp for non-negative "
         "quantities, a sigmoid for a fixed range, a softmax for proportions, cumulative "
         "or monotone heads for ordered quantities. Soft: add a penalty that is zero while the "
         "rule holds and grows with the violation (a bound, a conservation law, a known "
         "monotone relation, the residual of a physical equation), weighted by lam.",
         "Hard constraints suit rules that are certain and simple. Soft penalties suit rules "
         "that are approximate, apply only sometimes, or are hard to parametrize: the model may "
         "break them when the data disagree strongly enough, and lam says how much you trust "
         "the rule. The main pitfall is over-constraining: many penalties, contradictory ones, "
         "or a lam that is too large leave no direction in which every term improves, so "
         "training stalls or sacrifices the task. A rule that is incomplete or wrong is "
         "enforced just as eagerly as a right one. Add penalties one at a time, log each term, "
         "and keep each only if it helps on validation data."),
        aliases=("domain-knowledge", "soft-constraints", "hard-constraints", "physics-informed"),
        see_also=("loss:bound_penalty", "py:losskit.compose.parse", "rule:nonnegative-target",
                  "py:losskit.monitor.LossMonitor", "topic:regularization-in-the-loss"),
        demo=_demo_soft_constraints),
    Topic(
        "fairness-tradeoffs", "Fairness penalties and the trade-offs between fairness definitions",
        "Add a differentiable group gap to the loss, but choose the criterion deliberately: "
        "parity, equalized odds and calibration conflict when base rates differ.",
        ("Group fairness criteria compare a model's behavior across a protected attribute. "
         "Demographic parity: the rate of positive decisions is the same in every group, "
         "whatever the labels. Equal opportunity: true-positive rates are equal. Equalized "
         "odds: true- and false-positive rates are both equal. Calibration within groups: a "
         "score of 0.7 means 70% positives in every group. To train for one of them, add lam "
         "times a differentiable gap (computed from predicted probabilities instead of hard "
         "decisions) to the task loss, or handle it as a constraint with a Lagrange "
         "multiplier.",
         "The criteria conflict. When base rates differ between groups, a perfect classifier "
         "meets equalized odds but misses demographic parity by exactly the difference in base "
         "rates; forcing parity then requires errors in some group. Calibration and equalized "
         "odds also cannot both hold in general. So choose the criterion from the application "
         "(who is harmed by which error), expect some loss of accuracy, and sweep lam to report "
         "the trade-off as a curve. In practice the gap is a batch statistic, so every batch "
         "needs enough members (and positives and negatives) of each group; soft rates only "
         "approximate thresholded ones; and the extra term can slow convergence.",
         "Interpretability is usually pursued through sparsity (an L1 penalty) or through the "
         "model class rather than through the loss; see regularization-in-the-loss."),
        aliases=("fairness", "fairness-constraints", "parity-vs-equalized-odds"),
        see_also=("loss:demographic_parity_gap", "loss:equalized_odds_gap",
                  "rule:fairness-parity", "rule:fairness-odds", "py:losskit.compose.parse",
                  "topic:regularization-in-the-loss"),
        demo=_demo_fairness),
    Topic(
        "distribution-shift", "Distribution shift: reweighting and adapting the loss",
        "A loss averages over the training distribution; when deployment data move, reweight "
        "(class priors, density ratios, recency) and switch to robust losses if extremes grow.",
        ("A loss is an average over the training distribution, so it is tuned to it. When the "
         "deployment distribution moves, the same average overweights what became rare and "
         "underweights what became common. Kinds of shift: label (prior) shift, where class "
         "frequencies change; covariate shift, where the inputs change but the labels given "
         "the inputs do not; and concept drift, where that relation itself changes.",
         "Reweighting is the loss-side tool. Under label shift, weight each sample by the "
         "deployment prior over the training prior of its class, or recompute class weights on "
         "recent data and keep them current as the mix drifts (an online moving average). "
         "Under covariate shift, weight samples by an estimated density ratio, e.g. from a "
         "classifier that tells training from deployment inputs. In a stream, give recent "
         "samples more weight (exponential decay with a half-life) and retrain or update "
         "online. If only the extremes become more common, a squared loss lets them take over "
         "and a robust loss (Huber, MAE) limits their pull. Large importance weights make the "
         "loss noisy: clip or temper them.",
         "A loss does not detect shift; monitoring does. Compare recent target statistics with "
         "the training ones (losskit recommend warns when the first and last quarter of "
         "time-ordered rows differ) and track the metric per time window."),
        aliases=("dataset-shift", "domain-shift", "drift", "label-shift"),
        see_also=("py:losskit.weighting.class_weights", "py:losskit.weighting.OnlineClassWeights",
                  "py:losskit.weighting.recency_weights", "rule:drift-regression",
                  "rule:drift-binary", "loss:huber", "topic:time-series-losses"),
        demo=_demo_shift),
    Topic(
        "time-series-losses", "Losses for time-series forecasting",
        "MSE or MAE to start, pinball for asymmetric costs and intervals, recency weights for "
        "non-stationarity, and no plain logs or percentages near zero.",
        ("Forecasting is regression with structure in time, so the regression trade-offs apply: "
         "MSE targets the conditional mean and is dominated by spikes; MAE targets the median "
         "and shrugs off one-off events; Huber sits in between. When under- and over-forecasting "
         "cost different amounts (stock-outs against overstock), the pinball (quantile) loss at "
         "q = cost_under / (cost_under + cost_over) gives the cost-minimizing forecast, and a "
         "few quantiles together give prediction intervals. Counts of slow-moving items suit a "
         "Poisson NLL; series spanning orders of magnitude suit a log-scale loss (MSLE) that "
         "measures relative error.",
         "Non-stationarity (changing level, seasonality or noise) means a single average error "
         "mixes regimes. Weight recent observations more (exponential decay with a half-life "
         "you choose), validate with rolling-origin (walk-forward) splits instead of random "
         "folds, scale each series or window so the largest series does not dominate, and "
         "retrain when the regime changes. Zeros and near-zeros break a plain log and "
         "percentage errors (MAPE divides by the target): use log1p, a scaled error, or an "
         "absolute loss."),
        aliases=("forecasting", "time-series", "non-stationarity"),
        see_also=("loss:quantile", "loss:mae", "loss:mse", "loss:huber", "loss:msle",
                  "loss:poisson_nll", "py:losskit.weighting.recency_weights",
                  "rule:costs-quantile", "rule:log-with-zeros", "topic:distribution-shift"),
        demo=_demo_time_series),
    Topic(
        "autoencoder-reconstruction",
        "Reconstruction losses for autoencoders and the KL balance of VAEs",
        "MSE reconstructs the mean (smooth, blurry), MAE the median (sharper edges), BCE suits "
        "[0, 1] data; in a VAE, balance the KL term against reconstruction.",
        ("The reconstruction loss of an autoencoder defines what 'close to the input' means. "
         "Squared error is minimized by the mean of the plausible outputs, so when the decoder "
         "is unsure where an edge lies it hedges with a gray blur and favors smooth images. "
         "Absolute error is minimized by the median, which commits to one side, so edges and "
         "fine detail survive better and odd pixels matter less. For inputs in [0, 1] "
         "(binarized or normalized images), per-pixel binary cross-entropy on logits is the "
         "Bernoulli likelihood. Each choice is a decoder likelihood: MSE a Gaussian with fixed "
         "variance, MAE a Laplace.",
         "A variational autoencoder adds beta times KL(q(z|x) || p(z)), which pulls each "
         "posterior toward the prior. The two terms compete. With too much KL weight the "
         "cheapest solution is to ignore the input: posteriors equal the prior, the KL drops to "
         "about 0 and a strong decoder generates without using the latents (posterior "
         "collapse). With too little, the latent space becomes an unstructured code and samples "
         "drawn from the prior decode poorly. Remedies: ramp beta up from 0 (KL annealing, "
         "possibly cyclical), free bits (no KL penalty below a floor per dimension), summing "
         "rather than averaging the reconstruction over pixels so it keeps the likelihood's "
         "scale, and watching the KL term during training."),
        aliases=("reconstruction-loss", "vae-kl-balance", "posterior-collapse", "autoencoder"),
        see_also=("loss:vae_elbo", "loss:gaussian_kl", "loss:mse", "loss:mae",
                  "loss:binary_cross_entropy", "py:losskit.schedules.LinearWarmup",
                  "py:losskit.schedules.Cyclical", "py:losskit.monitor.LossMonitor",
                  "rule:reconstruction-mse", "rule:reconstruction-vae"),
        demo=_demo_reconstruction),
    Topic(
        "imbalanced-data", "Losses for imbalanced data",
        "Class weights, pos_weight, focal loss, overlap losses or metric surrogates; threshold "
        "tuning if probabilities must stay calibrated.",
        ("With a 1:100 imbalance an average loss is mostly about the majority class, and a "
         "model that never predicts the minority can reach a low loss and a high accuracy. "
         "Loss-side remedies: class weights (inverse frequency, its square root, or effective "
         "numbers) so each class contributes comparably; pos_weight for a rare positive class; "
         "focal loss, which scales down examples that are already well classified so the many "
         "easy negatives stop dominating; overlap losses (Dice, Tversky) for tiny foreground in "
         "segmentation; surrogates of AUC or F1 when those are the metrics.",
         "Data-side remedies (oversampling the minority, undersampling the majority) act like "
         "weights; do not stack both at full strength. All of them shift the predicted "
         "probabilities: if calibrated probabilities matter, train without weights and move "
         "the decision threshold, or recalibrate afterwards. Judge the result with metrics that "
         "see the minority (recall, F1, PR-AUC, balanced accuracy), not accuracy."),
        aliases=("class-imbalance", "imbalance", "rare-classes"),
        see_also=("loss:sigmoid_focal", "loss:softmax_focal", "loss:binary_cross_entropy",
                  "loss:dice", "loss:tversky", "py:losskit.weighting.class_weights",
                  "scenario:imbalance", "rule:binary-imbalance-weight",
                  "rule:binary-imbalance-focal"),
        demo=_demo_imbalance),
    Topic(
        "noisy-labels-and-outliers", "Noisy labels and outliers",
        "Bound the pull of bad targets: robust regression losses, label smoothing or bounded "
        "classification losses, and regularization.",
        ("A loss whose gradient grows with the error lets bad targets dominate: a regression "
         "target off by 100 pulls a hundred times harder than a normal one under MSE, and under "
         "cross-entropy a wrong label on a confident prediction produces the largest push "
         "there is. Robust regression losses (MAE, Huber, Smooth L1, log-cosh) cap that pull. "
         "In classification, label smoothing moves the targets away from 0 and 1 so the loss "
         "stops rewarding unlimited confidence and a mislabeled example pulls less; bounded "
         "losses (Jensen-Shannon, MAE on probabilities) or reweighting and filtering suspicious "
         "samples go further.",
         "Regularization (weight decay, dropout, early stopping) also limits how well the model "
         "memorizes wrong labels. Before switching to a robust loss, decide whether the "
         "outliers are errors to drop or rare real events the metric will score; if the metric "
         "is RMSE, they are what it measures."),
        aliases=("label-noise", "outliers", "robust-losses"),
        see_also=("loss:huber", "loss:mae", "loss:smooth_l1", "loss:log_cosh",
                  "loss:cross_entropy", "loss:js_div", "rule:outliers-huber",
                  "rule:label-noise-smoothing", "scenario:outliers"),
        demo=_demo_robust),
    Topic(
        "sequence-objectives",
        "Training objectives for sequences: teacher forcing, alignment, sequence-level metrics",
        "Per-token cross-entropy with teacher forcing is the log-likelihood of the sequence; CTC "
        "handles missing alignments; sequence metrics need REINFORCE or minimum-risk training.",
        ("A sequence model factorizes the probability of an output sequence into next-token "
         "probabilities (chain rule), so the log-likelihood of a whole sequence is the sum of "
         "per-token log-probabilities. Teacher forcing trains exactly that: feed the true "
         "previous tokens, apply cross-entropy at every position and mask the padding. It is "
         "parallel and stable, but at inference the model consumes its own outputs; that gap "
         "(exposure bias) is narrowed by scheduled sampling or sequence-level fine-tuning.",
         "When the input and output are not aligned step by step and the output is monotone in "
         "the input (speech, handwriting), CTC sums over all alignments by dynamic programming. "
         "Attention models can add alignment losses, e.g. penalizing attention weight far from "
         "the diagonal in text-to-speech or supervising attention with known alignments; these "
         "are extra penalty terms next to the cross-entropy. Sequence-level metrics (BLEU, "
         "ROUGE, WER) have no gradient: minimum-risk training or REINFORCE with the metric as "
         "reward (with a greedy-decoding baseline) optimize them, usually after cross-entropy "
         "pre-training. Very large vocabularies make the logits the memory bottleneck."),
        aliases=("seq2seq", "teacher-forcing", "sequence-losses"),
        see_also=("loss:sequence_cross_entropy", "loss:ctc", "loss:linear_cross_entropy",
                  "loss:policy_gradient", "loss:perplexity", "rule:sequence-ce",
                  "rule:sequence-ctc", "topic:non-differentiable-metrics"),
        demo=_demo_sequence),
)

#: slug -> Topic, in presentation order.
TOPICS: Mapping[str, Topic] = MappingProxyType({t.slug: t for t in _TOPICS})


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(" ", "-")


_BY_KEY: dict[str, str] = {}
for _t in _TOPICS:
    for _name in (_t.slug, *_t.aliases):
        if _key(_name) in _BY_KEY:  # pragma: no cover - a mistake in the table above
            raise RuntimeError(f"concept name {_name!r} is used twice")
        _BY_KEY[_key(_name)] = _t.slug


def topics() -> list[Topic]:
    """Every topic, in presentation order."""
    return list(TOPICS.values())


def find(name: str) -> Topic | None:
    """The topic with this slug or alias (case, ``_`` and spaces ignored), else ``None``."""
    slug = _BY_KEY.get(_key(name)) if isinstance(name, str) else None
    return TOPICS[slug] if slug else None


def close_topics(name: str, n: int = 3) -> list[str]:
    """Slugs of the topics whose slug or alias is close to ``name``."""
    hits = difflib.get_close_matches(_key(name), list(_BY_KEY), n=n * 3, cutoff=0.6)
    out: list[str] = []
    for hit in hits:
        if _BY_KEY[hit] not in out:
            out.append(_BY_KEY[hit])
    return out[:n]


def get(slug: str) -> Topic:
    """The topic with this slug or alias; ``LossInputError`` naming close topics otherwise."""
    topic = find(slug)
    if topic is None:
        from ._core.validate import LossInputError

        near = close_topics(str(slug))
        hint = f"; did you mean {', '.join(near)}?" if near else "; see losskit.concepts.topics()"
        raise LossInputError(f"unknown concept topic {slug!r}{hint}")
    return topic


# -- references --------------------------------------------------------------------------

_KINDS = ("loss", "topic", "py", "cli", "check", "rule", "scenario")


def _split(ref: str) -> tuple[str, str]:
    kind, _, value = ref.partition(":")
    if kind not in _KINDS or not value:
        raise ValueError(f"bad reference {ref!r}: expected KIND:VALUE with KIND in {_KINDS}")
    return kind, value


def describe_reference(ref: str) -> str:
    """How a user reaches a reference: a command or a Python name."""
    kind, value = _split(ref)
    return {
        "loss": f"losskit explain {value}",
        "topic": f"losskit explain {value}",
        "py": value,
        "cli": f"losskit {value}",
        "check": f"losskit check (check '{value}')",
        "rule": f"losskit recommend (rule '{value}')",
        "scenario": f"losskit compare --scenario {value}",
    }[kind]


def resolve_reference(ref: str) -> Any:
    """The object a reference names; raises ``LookupError`` if it does not exist."""
    kind, value = _split(ref)
    if kind == "loss":
        from ._core.registry import get_info

        try:
            return get_info(value)
        except ValueError as exc:
            raise LookupError(str(exc)) from None
    if kind == "topic":
        topic = find(value)
        if topic is None or topic.slug != value:
            raise LookupError(f"no topic {value!r}")
        return topic
    if kind == "py":
        module_name, attr = value, None
        while True:
            try:
                obj: Any = importlib.import_module(module_name)
                break
            except ModuleNotFoundError:
                if "." not in module_name:
                    raise LookupError(f"cannot import {value!r}") from None
                module_name, _, last = module_name.rpartition(".")
                attr = last if attr is None else f"{last}.{attr}"
        for part in (attr.split(".") if attr else []):
            if not hasattr(obj, part):
                raise LookupError(f"{value!r}: {part!r} not found")
            obj = getattr(obj, part)
        return obj
    if kind == "cli":
        from .cli import build_parser

        parser = build_parser()
        sub = next(a for a in parser._actions if a.dest == "command")
        command = value.split()[0]
        if command not in sub.choices:  # type: ignore[operator]
            raise LookupError(f"no subcommand {command!r}")
        return sub.choices[command]  # type: ignore[index]
    if kind == "check":
        from .verify import CHECKS

        if value not in CHECKS:
            raise LookupError(f"no check {value!r}")
        return CHECKS[value]
    if kind == "rule":
        from .advise import RULES

        for rule in RULES:
            if rule.id == value:
                return rule
        raise LookupError(f"no advisor rule {value!r}")
    from .compare.scenarios import SCENARIOS

    if value not in SCENARIOS:
        raise LookupError(f"no scenario {value!r}")
    return SCENARIOS[value]
