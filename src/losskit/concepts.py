"""Concepts: the ideas about loss functions that belong to no single loss.

A loss card (``losskit explain huber``) answers questions about one loss. Other questions
are about losses in general: what training does with a loss, why cross-entropy beats
squared error for classifiers, how cross-entropy, KL divergence, NLL and perplexity
relate, what a good custom loss needs, how to put constraints, fairness or domain
knowledge into a loss, how to live with a metric that has no gradient. Each such question
is a :class:`Topic`: an explanation in a few paragraphs, pointers to the losses,
commands and functions of losskit that implement the idea, and, where a claim can be
checked numerically, a small demonstration that computes it with losskit.

**Topic files.** The text of each topic is a Markdown file ``losskit/topics/<slug>.md``,
read by ``losskit explain`` and by the documentation site alike; every ``*.md`` file in
that folder is a topic. It starts with front matter::

    ---
    slug: cross-entropy-vs-kl          # the file name without .md
    title: "Cross-entropy and KL divergence: H(p, q) = H(p) + KL(p || q)"
    order: 7                           # optional: position in the list
    aliases:                           # other names `losskit explain` accepts
      - kl-vs-cross-entropy
    see_also:                          # typed references, see below
      - loss:kl_div
    ---

followed by paragraphs separated by blank lines; the first paragraph is the one-sentence
summary. Quote a value that contains ``": "``. A demonstration stays in Python: a function
in :data:`DEMONSTRATIONS` under the topic's slug.

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
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any

import torch

from . import functional as F

__all__ = [
    "DEMONSTRATIONS",
    "TOPICS",
    "Demonstration",
    "Topic",
    "close_topics",
    "describe_reference",
    "find",
    "get",
    "load_topics",
    "parse_topic",
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
    order: int | None = None
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
    (w_grad,) = torch.autograd.grad(before, w)
    by_hand = 2 * X.T @ (X @ w.detach() - y) / len(y)
    grad_error = _f((w_grad - by_hand).abs().max())
    with torch.no_grad():
        w -= 0.1 * w_grad
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
        (g,) = torch.autograd.grad(fn(x, torch.zeros(1, dtype=torch.float64), **kw), x)
        return _f(g[0])

    v = {"mean": _f(data.mean()), "median": _f(data.median()),
         "mse_minimizer": argmin(F.mse), "mae_minimizer": argmin(F.mae),
         "huber_minimizer": argmin(F.huber, delta=1.0),
         "mse_grad_at_3": grad(F.mse, 3.0), "mae_grad_at_3": grad(F.mae, 3.0),
         "huber_grad_at_3": grad(F.huber, 3.0, delta=1.0),
         "smooth_l1_grad_at_0.05": grad(F.smooth_l1, 0.05, beta=0.1),
         "huber_grad_at_0.05": grad(F.huber, 0.05, delta=0.1),
         "smooth_l1_minus_huber_over_beta": _f(
             (F.smooth_l1(grid, torch.zeros_like(grid), beta=0.1, reduction="none")
              - F.huber(grid, torch.zeros_like(grid), delta=0.1, reduction="none") / 0.1)
             .abs().max())}
    holds = (abs(v["mse_minimizer"] - v["mean"]) < 1e-3
             and abs(v["mae_minimizer"] - v["median"]) < 1e-3
             and v["median"] < v["huber_minimizer"] < v["mean"]
             and abs(v["mse_grad_at_3"] - 6.0) < 1e-9 and abs(v["mae_grad_at_3"] - 1.0) < 1e-9
             and abs(v["huber_grad_at_3"] - 1.0) < 1e-9
             and abs(v["smooth_l1_grad_at_0.05"] - 10 * v["huber_grad_at_0.05"]) < 1e-9
             and v["smooth_l1_minus_huber_over_beta"] < 1e-12)
    return Demonstration(
        "on [0, 0.1, 0.2, 0.3, 10] MSE is minimized by the mean, MAE by the median and Huber "
        "in between; at a residual of 3 the gradients are 2e = 6 (MSE) and 1 (MAE, Huber with "
        "delta 1); Smooth L1 with beta = 0.1 is Huber with delta = 0.1 divided by 0.1 at "
        "every residual, so in the quadratic zone its gradient is 10x Huber's", v, holds)


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
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    t = torch.randn(6, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
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

    # Two images, one class, 40 pixels, 20 in the target. Masks A: IoU 0 and 1 per image;
    # masks B: 9 of the 20 target pixels in both images, IoU 0.45 each.
    target = torch.zeros(2, 1, 40, dtype=torch.float64)
    target[..., :20] = 1
    masks_a = torch.zeros_like(target)
    masks_a[0, 0, 20:] = 1
    masks_a[1] = target[1]
    masks_b = torch.zeros_like(target)
    masks_b[..., :9] = 1

    def overlap(fn: Callable[..., torch.Tensor], masks: torch.Tensor) -> float:
        return 1 - _f(fn(masks, target, activation="none", smooth=0.0))

    v = {"ce_a": _f(F.cross_entropy(logits(p_a), y)), "ce_b": _f(F.cross_entropy(logits(p_b), y)),
         "accuracy_a": _f((p_a > 0.5).double().mean()),
         "accuracy_b": _f((p_b > 0.5).double().mean()),
         "mean_iou_masks_a": overlap(F.jaccard, masks_a),
         "mean_iou_masks_b": overlap(F.jaccard, masks_b),
         "mean_dice_masks_a": overlap(F.dice, masks_a),
         "mean_dice_masks_b": overlap(F.dice, masks_b)}
    return Demonstration(
        "model A (0.99, 0.99, 0.99, 0.45 on the true class) has lower cross-entropy than model "
        "B (0.55 everywhere) but lower accuracy: 75% vs 100%; and masks with IoUs (0, 1) beat "
        "masks with IoUs (0.45, 0.45) on mean IoU (0.5 vs 0.45) but lose on mean Dice (0.5 vs "
        "0.62), although Dice = 2 IoU / (1 + IoU) agrees with IoU image by image", v,
        v["ce_a"] < v["ce_b"] and v["accuracy_a"] < v["accuracy_b"]
        and v["mean_iou_masks_a"] > v["mean_iou_masks_b"]
        and v["mean_dice_masks_a"] < v["mean_dice_masks_b"])


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
    f32 = torch.float32  # the claim is about float32: never the global default dtype
    x = torch.tensor([[1000.0, 0.0]], dtype=f32)
    y = torch.tensor([1])
    naive_ce = -torch.log(torch.softmax(x, 1))[0, 1]
    stable_ce = F.cross_entropy(x, y)
    z = torch.tensor([-200.0], dtype=f32)
    naive_bce = -torch.log(torch.sigmoid(z))[0]
    stable_bce = F.binary_cross_entropy(z, torch.ones(1, dtype=f32))
    margin = torch.tensor([-100.0], dtype=f32)  # y f(x) of a badly misclassified point
    naive_exp = torch.exp(-margin)[0]
    logged_exp = -margin[0]  # the exponential loss kept in log space: log exp(-m) = -m
    naive_logcosh = torch.log(torch.cosh(torch.tensor([100.0], dtype=f32)))[0]
    stable_logcosh = F.log_cosh(torch.tensor([100.0], dtype=f32),
                                torch.zeros(1, dtype=f32))
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
        (w.grad,) = torch.autograd.grad(loss, w)
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
    # Two groups of 10 with base rates 0.5 and 0.2.
    group = torch.tensor([0] * 10 + [1] * 10)
    target = torch.tensor([1.0] * 5 + [0.0] * 5 + [1.0] * 2 + [0.0] * 8, dtype=torch.float64)

    def gaps(logits: torch.Tensor) -> tuple[float, float]:
        return (_f(F.demographic_parity_gap(logits, group)),
                _f(F.equalized_odds_gap(logits, target, group)))

    perfect = (2 * target - 1) * 40.0  # sigmoid = 1 on positives, 0 on negatives
    constant = torch.zeros(20, dtype=torch.float64)  # predicts 0.5 for everyone
    # Soft rates TPR = 0.8 and FPR = 0.3 in both groups: informative, same errors per group.
    informative = torch.where(target > 0, torch.logit(torch.tensor(0.8, dtype=torch.float64)),
                              torch.logit(torch.tensor(0.3, dtype=torch.float64)))
    v: dict[str, float] = {"base_rate_group0": 0.5, "base_rate_group1": 0.2}
    for name, logits in (("perfect", perfect), ("constant", constant),
                         ("tpr_0.8_fpr_0.3", informative)):
        v[f"{name}_parity_gap"], v[f"{name}_odds_gap"] = gaps(logits)
    # With equal TPR and FPR in every group, the parity gap is (TPR - FPR) x (base-rate gap).
    v["predicted_parity_gap"] = (0.8 - 0.3) * (0.5 - 0.2)
    holds = (abs(v["perfect_parity_gap"] - 0.3) < 1e-9 and v["perfect_odds_gap"] < 1e-9
             and v["constant_parity_gap"] < 1e-12 and v["constant_odds_gap"] < 1e-12
             and v["tpr_0.8_fpr_0.3_odds_gap"] < 1e-12
             and abs(v["tpr_0.8_fpr_0.3_parity_gap"] - v["predicted_parity_gap"]) < 1e-12)
    return Demonstration(
        "with base rates 0.5 and 0.2, a perfect classifier meets equalized odds but has a "
        "demographic-parity gap of 0.3; a constant classifier meets both; a classifier with "
        "TPR 0.8 and FPR 0.3 in both groups meets equalized odds and misses parity by "
        "(0.8 - 0.3) x (0.5 - 0.2) = 0.15: with unequal base rates both hold only when "
        "TPR = FPR, i.e. when the decisions carry no information about the label", v, holds)


def _demo_shift() -> Demonstration:
    from .weighting import OnlineClassWeights

    g = torch.Generator().manual_seed(0)
    y = torch.tensor([0] * 50 + [1] * 50)  # balanced training data
    x = torch.randn(100, 2, generator=g, dtype=torch.float64)
    losses = F.cross_entropy(x, y, reduction="none")
    prior_train = torch.tensor([0.5, 0.5], dtype=torch.float64)
    prior_deploy = torch.tensor([0.9, 0.1], dtype=torch.float64)
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
         "log_of_zero": _f(torch.log(torch.zeros(1, dtype=torch.float64))[0]),
         "msle_with_zero_target": _f(F.msle(torch.ones(1, dtype=torch.float64),
                                            torch.zeros(1, dtype=torch.float64))),
         "msle_110_for_100": _f(F.msle(torch.tensor([110.0], dtype=torch.float64),
                                       torch.tensor([100.0], dtype=torch.float64))),
         "msle_1.1_for_1": _f(F.msle(torch.tensor([1.1], dtype=torch.float64),
                                     torch.tensor([1.0], dtype=torch.float64)))}
    step = _f(grid[1] - grid[0])
    holds = (v["empirical_q90_low"] - step <= best <= v["empirical_q90_high"] + step
             and abs(v["recency_weight_ratio_3_steps"] - 0.5) < 1e-6
             and abs(v["recency_weight_mean"] - 1) < 1e-6
             and v["log_of_zero"] == -math.inf and math.isfinite(v["msle_with_zero_target"])
             and v["msle_110_for_100"] > 3 * v["msle_1.1_for_1"])
    return Demonstration(
        "the constant forecast that minimizes the pinball loss at q = 0.9 is the empirical 90th "
        "percentile of demand; recency_weights with a half-life of 3 halves a sample's weight "
        "every 3 steps; log(0) is -inf while MSLE (log1p) handles a zero target, but its +1 "
        "makes a 10% overshoot cost 0.0089 at 100 and only 0.0024 at 1", v, holds)


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
    assert not isinstance(parts, torch.Tensor)  # return_parts=True gives the parts
    v = {"mse_optimal_pixel": mse_best, "mae_optimal_pixel": mae_best,
         "elbo_total": _f(parts.total),
         "reconstruction_plus_beta_kl": _f(parts.reconstruction + 4.0 * parts.kl),
         "kl": _f(parts.kl), "gaussian_kl": _f(F.gaussian_kl(mu, logvar)),
         # binary cross-entropy of a perfect reconstruction: logit(x) for x = 0.5 and x = 1
         "bce_perfect_reconstruction_of_0.5": _f(F.binary_cross_entropy(
             torch.zeros(1, dtype=torch.float64), torch.full((1,), 0.5, dtype=torch.float64))),
         "bce_perfect_reconstruction_of_1": _f(F.binary_cross_entropy(
             torch.full((1,), 40.0, dtype=torch.float64), torch.ones(1, dtype=torch.float64)))}
    holds = (abs(mse_best - 0.7) < 1e-9 and abs(mae_best - 1.0) < 1e-9
             and abs(v["elbo_total"] - v["reconstruction_plus_beta_kl"]) < 1e-9
             and abs(v["kl"] - v["gaussian_kl"]) < 1e-9
             and abs(v["bce_perfect_reconstruction_of_0.5"] - math.log(2)) < 1e-12
             and v["bce_perfect_reconstruction_of_1"] < 1e-12)
    return Demonstration(
        "for a pixel that is 0 in 30% and 1 in 70% of plausible images, MSE's best "
        "reconstruction is the gray 0.7 and MAE's the sharp 1.0; the VAE loss is the "
        "reconstruction plus beta times gaussian_kl; binary cross-entropy of a perfect "
        "reconstruction is 0 for a binary pixel but log 2 = 0.69 for a pixel of 0.5", v, holds)


def _demo_imbalance() -> Demonstration:
    from .weighting import class_weights

    labels = torch.tensor([0] * 90 + [1] * 10)
    cw = class_weights(labels)
    totals = [_f(cw[c] * (labels == c).sum()) for c in (0, 1)]
    x = torch.tensor([math.log(9.0)], dtype=torch.float64)  # p = 0.9 on a positive: easy
    y = torch.ones(1, dtype=torch.float64)
    ratio = _f(F.sigmoid_focal(x, y, gamma=2.0, alpha=None) / F.binary_cross_entropy(x, y))
    z = x.clone().requires_grad_(True)
    (g_focal,) = torch.autograd.grad(F.sigmoid_focal(z, y, gamma=2.0, alpha=None), z)
    (g_bce,) = torch.autograd.grad(F.binary_cross_entropy(z, y), z)
    # The best constant logit for a target that is positive 20% of the time.
    grid = torch.linspace(-4, 4, 8001, dtype=torch.float64)
    labels01 = torch.tensor([1.0] * 2 + [0.0] * 8, dtype=torch.float64)

    def best_logit(**kw: Any) -> float:
        risk = F.binary_cross_entropy(grid[:, None].expand(-1, 10),
                                      labels01.expand(len(grid), -1), reduction="none", **kw)
        return _f(grid[risk.mean(1).argmin()])

    v = {"class0_weight": _f(cw[0]), "class1_weight": _f(cw[1]),
         "class0_total_weight": totals[0], "class1_total_weight": totals[1],
         "focal_over_bce_at_p_0.9": ratio,
         "focal_grad_over_bce_grad_at_p_0.9": _f(g_focal[0] / g_bce[0]),
         "best_logit_bce": best_logit(), "true_logit": math.log(0.2 / 0.8),
         "best_logit_pos_weight_4": best_logit(
             pos_weight=torch.tensor(4.0, dtype=torch.float64))}
    step = 8 / 8000
    return Demonstration(
        "inverse-frequency class weights on a 90/10 split give both classes the same total "
        "weight; focal loss with gamma = 2 keeps only (1 - 0.9)^2 = 1% of the cross-entropy "
        "of an example already predicted at 0.9 but about 3% of its gradient (a 35x cut); on a "
        "20% positive target the best constant logit is log(0.2 / 0.8) under plain binary "
        "cross-entropy and 0 (probability 0.5) under pos_weight 4", v,
        abs(totals[0] - totals[1]) < 1e-6 and abs(ratio - 0.01) < 1e-9
        and 0.025 < v["focal_grad_over_bce_grad_at_p_0.9"] < 0.035
        and abs(v["best_logit_bce"] - v["true_logit"]) <= step
        and abs(v["best_logit_pos_weight_4"]) <= step)


def _demo_robust() -> Demonstration:
    def grad(fn: Callable[..., torch.Tensor], x0: float, y0: float, **kw: Any) -> float:
        x = torch.tensor([x0], dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(fn(x, torch.tensor([y0], dtype=torch.float64), **kw), x)
        return _f(g[0])

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

#: slug -> demonstration. A demonstration stays in Python; its topic's text is a file.
DEMONSTRATIONS: Mapping[str, Callable[[], Demonstration]] = MappingProxyType({
    "what-is-a-loss": _demo_training_step,
    "choosing-a-loss": _demo_recommend_outliers,
    "mse-vs-mae-vs-huber": _demo_regression_losses,
    "cross-entropy-vs-mse": _demo_vanishing_gradient,
    "cross-entropy-nonnegative": _demo_nonnegative,
    "why-log-in-cross-entropy": _demo_why_log,
    "cross-entropy-vs-kl": _demo_ce_kl,
    "nll-vs-cross-entropy": _demo_nll_vs_ce,
    "perplexity-and-cross-entropy": _demo_perplexity,
    "binary-vs-categorical-vs-multilabel": _demo_binary_vs_categorical,
    "multilabel-label-structure": _demo_label_structure,
    "custom-loss-design": _demo_zero_gradient,
    "testing-a-custom-loss": _demo_check_custom,
    "loss-metric-misalignment": _demo_misalignment,
    "non-differentiable-metrics": _demo_surrogates,
    "numerical-stability": _demo_stability,
    "regularization-in-the-loss": _demo_l2_is_weight_decay,
    "domain-knowledge-penalties": _demo_soft_constraints,
    "fairness-tradeoffs": _demo_fairness,
    "distribution-shift": _demo_shift,
    "time-series-losses": _demo_time_series,
    "autoencoder-reconstruction": _demo_reconstruction,
    "imbalanced-data": _demo_imbalance,
    "noisy-labels-and-outliers": _demo_robust,
    "sequence-objectives": _demo_sequence,
})

_FRONT_MATTER_KEYS = {"slug", "title", "order", "aliases", "see_also"}


def _scalar(text: str) -> str:
    text = text.strip()
    if text.startswith('"'):
        return str(json.loads(text))
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    return text


def _front_matter(lines: list[str], source: str) -> dict[str, Any]:
    """The small YAML subset the topic files use: scalars, ``[a, b]`` and ``- item`` lists."""
    out: dict[str, Any] = {}
    key: str | None = None
    for number, line in enumerate(lines, 2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = re.match(r"^\s+-\s+(.*)$", line)
        if item:
            if key is None or not isinstance(out.get(key), list):
                raise ValueError(f"{source}:{number}: a list item outside a list")
            out[key].append(_scalar(item.group(1)))
            continue
        pair = re.match(r"^([A-Za-z_][\w-]*):\s*(.*)$", line)
        if not pair:
            raise ValueError(f"{source}:{number}: expected 'key: value', got {line!r}")
        key, value = pair.group(1), pair.group(2).strip()
        if key not in _FRONT_MATTER_KEYS:
            raise ValueError(f"{source}:{number}: unknown front matter key {key!r} (known: "
                             f"{', '.join(sorted(_FRONT_MATTER_KEYS))})")
        if not value:
            out[key] = []
        elif value.startswith("[") and value.endswith("]"):
            out[key] = [_scalar(v) for v in value[1:-1].split(",") if v.strip()]
        else:
            out[key] = _scalar(value)
    return out


def _paragraphs(body: str) -> list[str]:
    """Blank-line separated paragraphs; lines of prose are joined, lists and code kept."""
    out = []
    for block in re.split(r"\n\s*\n", body.strip()):
        lines = block.splitlines()
        structured = any(re.match(r"^\s*(```|[-*] |\d+\. |\|)", ln) for ln in lines)
        out.append(block.strip() if structured else " ".join(ln.strip() for ln in lines))
    return [p for p in out if p]


def parse_topic(text: str, source: str = "<topic>") -> Topic:
    """A :class:`Topic` from the text of a topic file (front matter, then paragraphs).

    The first paragraph is the summary; the demonstration is looked up by slug in
    :data:`DEMONSTRATIONS`.
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---" or "---" not in (ln.strip() for ln in lines[1:]):
        raise ValueError(f"{source}: a topic file starts with front matter between '---' lines")
    end = next(i for i, ln in enumerate(lines[1:], 1) if ln.strip() == "---")
    meta = _front_matter(lines[1:end], source)
    for required in ("slug", "title"):
        if not isinstance(meta.get(required), str) or not meta[required]:
            raise ValueError(f"{source}: front matter needs {required!r}")
    paragraphs = _paragraphs("\n".join(lines[end + 1:]))
    if not paragraphs:
        raise ValueError(f"{source}: the topic has no text")
    for key in ("aliases", "see_also"):
        if not isinstance(meta.get(key, []), list):
            raise ValueError(f"{source}: {key!r} must be a list")
    order = meta.get("order")
    return Topic(
        slug=meta["slug"], title=meta["title"], summary=paragraphs[0],
        body=tuple(paragraphs[1:]), aliases=tuple(meta.get("aliases", ())),
        see_also=tuple(meta.get("see_also", ())),
        order=int(order) if order is not None else None,
        demo=DEMONSTRATIONS.get(meta["slug"]),
    )


def load_topics(folder: Any = None) -> dict[str, Topic]:
    """Every ``*.md`` topic file in ``folder`` (default: the package's ``topics``), in order."""
    folder = resources.files("losskit") / "topics" if folder is None else folder
    found = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".md"):
            continue
        topic = parse_topic(entry.read_text(encoding="utf-8"), f"topics/{entry.name}")
        if entry.name != f"{topic.slug}.md":
            raise ValueError(f"topics/{entry.name}: the file name must be the slug "
                             f"({topic.slug}.md)")
        found.append(topic)
    found.sort(key=lambda t: (t.order is None, t.order or 0, t.slug))
    return {t.slug: t for t in found}


#: slug -> Topic, in presentation order (``order`` in the front matter, then by slug).
TOPICS: Mapping[str, Topic] = MappingProxyType(load_topics())


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(" ", "-")


_BY_KEY: dict[str, str] = {}
for _t in TOPICS.values():
    for _name in (_t.slug, *_t.aliases):
        if _key(_name) in _BY_KEY:
            raise ValueError(f"concept name {_name!r} is used by two topics")
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
