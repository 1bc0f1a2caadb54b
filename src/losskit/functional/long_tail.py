"""Long-tailed, noisy-label and scoring-rule classification losses.

Same conventions as :mod:`losskit.functional.classification` (family "classification"):
``input: [N, C, *]`` logits with the class dimension at 1, ``target: [N, *]`` integer class
indices or ``[N, C, *]`` class probabilities, ``ignore_index`` for index targets,
``weight`` per position and ``reduction``; ``"none"`` gives one value per position
``[N, *]``. Everything is computed from ``log_softmax``, so logits of any finite size give
finite values and gradients.

* Long tail: ``logit_adjusted_cross_entropy`` (Menon et al. 2021) and ``balanced_softmax``
  (Ren et al. 2020) are cross-entropy on logits shifted by the log class prior. The shift
  moves the decision boundary toward the frequent classes during training, so the raw
  logits of the trained model are fit for a balanced (uniform-prior) test.
* Noisy labels: ``generalized_cross_entropy`` (Zhang & Sabuncu 2018),
  ``symmetric_cross_entropy`` (Wang et al. 2019) and ``bootstrapped_cross_entropy`` (Reed
  et al. 2015) reduce the pull of examples the model confidently disagrees with.
* Scoring: ``brier`` (Brier 1950) is a proper scoring rule like cross-entropy, bounded
  where cross-entropy is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

from .._core._math import xlog
from .._core.reduce import reduce, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    _reading_values,
    check_broadcastable,
    check_param,
    check_reduction,
)
from . import _examples as ex
from ._references import reduced
from .classification import (
    CLASS_WEIGHT_HINT,
    _as_tensor,
    _check_class_input,
    _gather_class,
    _target_kind,
    cross_entropy,
)

__all__ = [
    "balanced_softmax",
    "bootstrapped_cross_entropy",
    "brier",
    "generalized_cross_entropy",
    "logit_adjusted_cross_entropy",
    "symmetric_cross_entropy",
]

_TASKS = ("classification", "multiclass_classification", "segmentation")
_LONG_TAIL_TASKS = (*_TASKS, "long_tail_classification")
_NOISY_TASKS = (*_TASKS, "noisy_label_classification")

# log(0) of the label distribution is clipped to this value in the reverse cross-entropy
# (Wang et al. 2019, A = -4), so a one-hot label gives RCE = -A (1 - p_y) = 4 (1 - p_y).
_RCE_LOG_ZERO = -4.0


# --- shared pieces ---------------------------------------------------------------------------


def _log_class_frequencies(name: str, value: float | Sequence[float] | torch.Tensor | None,
                           input: torch.Tensor,
                           x: torch.Tensor) -> torch.Tensor | None:
    """``log value`` as a ``[1, C, 1, ...]`` tensor that broadcasts against the logits.

    ``value`` is a class prior or class counts: positive, one entry per class. Only its
    ratios matter (a constant factor adds the same number to every logit, which the softmax
    ignores), so priors and counts give the same loss.
    """
    if value is None:
        return None
    v = _as_tensor(name, value, x)
    num_classes = input.shape[1]
    if v.shape != (num_classes,):
        raise LossInputError(f"{name} must have shape [C] = ({num_classes},), one entry per "
                             f"class, got {tuple(v.shape)}")
    if _reading_values(v) and not bool((v > 0).all()):
        raise LossInputError(
            f"{name} must be positive for every class (its log shifts the logits), found "
            f"{float(v.min()):g}; a class never seen in training has no prior to adjust by: "
            "drop it or give it a small positive count"
        )
    return torch.log(v).reshape(1, num_classes, *([1] * (x.dim() - 2)))


def _positions(input: torch.Tensor) -> torch.Size:
    return torch.Size((input.shape[0], *input.shape[2:]))


def _class_inputs(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
                  reduction: str, ignore_index: int,
                  ) -> tuple[torch.Tensor, str, torch.Tensor | None]:
    """Checked ``(x, kind, valid)``: float32-or-wider logits, "index" | "soft", and the mask of
    counted positions (None when every position counts)."""
    check_reduction(reduction)
    _check_class_input(input)
    kind, all_counted = _target_kind(input, target, ignore_index)
    check_broadcastable("weight", weight, _positions(input), hint=CLASS_WEIGHT_HINT)
    valid = None if kind == "soft" or all_counted else target != ignore_index
    return upcast(input), kind, valid


def _ce_loop(input: torch.Tensor, target: torch.Tensor,
             shift: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample ``log sum_c exp(z_c) - z_y`` with ``z = input + shift`` (float64 loop)."""
    terms = []
    for row, y in zip(input, target):
        z = row if shift is None else row + shift
        terms.append(torch.log(torch.exp(z).sum()) - z[y])
    return torch.stack(terms) if terms else input.sum(1) * 0


# --- long tail ---------------------------------------------------------------------------------


_ADJUSTED_GRADIENT = (
    "dL/dx_c = softmax(x + tau log pi)_c - q_c: cross-entropy's gradient evaluated at the "
    "adjusted logits. A rare class (small pi) has its logit lowered during training, so "
    "the model must push its raw logit higher to fit it: the margin it learns grows with "
    "tau log(pi_frequent / pi_rare).")

_LONG_TAIL_PITFALLS = (
    " Predict with the raw logits: argmax of the input targets the balanced error (every "
    "class weighted equally), which is the point; softmax(input) estimates the posterior "
    "under a uniform class prior, softmax(input + log prior) the posterior under the "
    "training prior. Do not also reweight by inverse frequency or resample: the shift "
    "already does that work and the corrections compound. Calibration: the loss is a "
    "proper scoring rule for the adjusted logits (input + tau log prior), not for the raw "
    "ones; temperature-scale on held-out data (losskit.calibration.temperature_scale) if "
    "you need probabilities.")


def _adjusted_reference(input: torch.Tensor, target: torch.Tensor, *,
                        reduction: str = "mean") -> torch.Tensor:
    # With no prior given the adjustment is a constant shift: plain cross-entropy, written
    # out per sample (the prior's effect is tested in tests/test_long_tail.py).
    return reduced(_ce_loop(input, target), reduction)


@register_loss(
    family="classification", tasks=_LONG_TAIL_TASKS, input_kind="logits",
    target_kind="class indices [N, *] or class probabilities [N, C, *]",
    aliases=("logit_adjusted_ce", "logit_adjustment", "la_loss"),
    properties=("convex", "smooth", "nonnegative", "bounded_gradient", "handles_imbalance"),
    summary="Logit-adjusted cross-entropy (long-tail learning): cross-entropy on the logits "
            "plus tau times the log class prior, so the model learns larger margins for rare "
            "classes and its raw logits target the balanced error.",
    formula="L = CE(x + tau log pi, y) = -log( pi_y^tau exp(x_y) / sum_c pi_c^tau exp(x_c) ), "
            "pi the training class prior (any positive vector proportional to it: counts "
            "give the same loss)",
    gradient=_ADJUSTED_GRADIENT,
    when_to_use="Long-tailed multi-class classification judged by a balanced metric "
                "(balanced accuracy, per-class mean recall, macro averages), where the "
                "training labels are skewed but the test classes matter equally. Menon et "
                "al. report that it beats inverse-frequency weighting, re-sampling and focal "
                "loss on CIFAR-LT, ImageNet-LT and iNaturalist; tau = 1 is Bayes-consistent "
                "for the balanced error and the usual choice.",
    pitfalls="class_prior=None is the uniform prior, where the adjustment is a constant and "
             "the loss is exactly cross_entropy: pass the training label frequencies. tau > 1 "
             "favours rare classes further (trading head accuracy for tail accuracy); tau is "
             "learnable but is normally tuned on a balanced validation set."
             + _LONG_TAIL_PITFALLS,
    references=("Menon, Jayasumana, Rawat, Jain, Veit & Kumar, Long-tail learning via logit "
                "adjustment, ICLR 2021.",),
    example_inputs=ex.class_logits, reference=_adjusted_reference, none_shape="position",
    learnable=("tau", "class_weight"),
)
def logit_adjusted_cross_entropy(input: torch.Tensor, target: torch.Tensor, *,
                                 class_prior: torch.Tensor | Sequence[float] | None = None,
                                 tau: float | torch.Tensor = 1.0,
                                 class_weight: torch.Tensor | Sequence[float] | None = None,
                                 ignore_index: int = -100, label_smoothing: float = 0.0,
                                 weight: torch.Tensor | None = None,
                                 reduction: Reduction = "mean") -> torch.Tensor:
    """Cross-entropy on ``input + tau * log(class_prior)`` (Menon et al. 2021).

    Args:
        class_prior: ``[C]`` positive class frequencies of the training set (a prior or
            counts: a constant factor cancels in the softmax). ``None`` is the uniform
            prior, which makes the loss plain cross-entropy.
        tau: the adjustment's strength >= 0 (a number or a 0-dim tensor, learnable).
        class_weight, ignore_index, label_smoothing, weight, reduction: as
            :func:`~losskit.functional.cross_entropy`, applied to the adjusted logits.

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"``.

    Example:
        >>> logit_adjusted_cross_entropy(torch.zeros(1, 2), torch.tensor([1]),
        ...                              class_prior=torch.tensor([0.8, 0.2]))
        tensor(1.6094)
    """
    check_param("tau", tau, low=0.0, learnable=True)
    _check_class_input(input)
    x = upcast(input)
    log_prior = _log_class_frequencies("class_prior", class_prior, input, x)
    if log_prior is not None:
        x = x + tau * log_prior
    return cross_entropy(x, target, class_weight=class_weight, ignore_index=ignore_index,
                         label_smoothing=label_smoothing, weight=weight, reduction=reduction)


@register_loss(
    family="classification", tasks=_LONG_TAIL_TASKS, input_kind="logits",
    target_kind="class indices [N, *] or class probabilities [N, C, *]",
    aliases=("balanced_softmax_loss", "bsl", "balanced_softmax_cross_entropy"),
    properties=("convex", "smooth", "nonnegative", "bounded_gradient", "handles_imbalance"),
    summary="Balanced Softmax (long-tail learning): cross-entropy on the logits plus the log "
            "class counts, which undoes the label shift between a long-tailed training set "
            "and a balanced test set.",
    formula="L = CE(x + log n, y) = -log( n_y exp(x_y) / sum_c n_c exp(x_c) ), n the training "
            "count of each class; logit_adjusted_cross_entropy with tau = 1",
    gradient=_ADJUSTED_GRADIENT.replace("tau log pi", "log n").replace("small pi", "small n")
    .replace("tau log(pi_frequent / pi_rare)", "log(n_frequent / n_rare)"),
    when_to_use="Long-tailed classification (and instance segmentation heads) evaluated on "
                "a balanced test set: Ren et al. derive it as the likelihood of the balanced "
                "model under the training label distribution. Equivalent to "
                "logit_adjusted_cross_entropy(tau=1, class_prior=counts).",
    pitfalls="class_counts=None is uniform counts, where the loss is exactly cross_entropy: "
             "pass the training counts. Every count must be positive (a class never seen in "
             "training has no finite log count)." + _LONG_TAIL_PITFALLS,
    references=("Ren, Yu, Sheng, Ma, Zhao, Yi & Li, Balanced Meta-Softmax for Long-Tailed "
                "Visual Recognition, NeurIPS 2020.",),
    example_inputs=ex.class_logits, reference=_adjusted_reference, none_shape="position",
    learnable=("class_weight",),
)
def balanced_softmax(input: torch.Tensor, target: torch.Tensor, *,
                     class_counts: torch.Tensor | Sequence[float] | None = None,
                     class_weight: torch.Tensor | Sequence[float] | None = None,
                     ignore_index: int = -100, label_smoothing: float = 0.0,
                     weight: torch.Tensor | None = None,
                     reduction: Reduction = "mean") -> torch.Tensor:
    """Balanced Softmax: cross-entropy on ``input + log(class_counts)`` (Ren et al. 2020).

    Args:
        class_counts: ``[C]`` positive number of training examples of each class;
            ``None`` means equal counts (plain cross-entropy).
        class_weight, ignore_index, label_smoothing, weight, reduction: as
            :func:`~losskit.functional.cross_entropy`.

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"``.

    Example:
        >>> balanced_softmax(torch.zeros(1, 2), torch.tensor([1]),
        ...                  class_counts=torch.tensor([80.0, 20.0]))
        tensor(1.6094)
    """
    _check_class_input(input)
    x = upcast(input)
    log_counts = _log_class_frequencies("class_counts", class_counts, input, x)
    if log_counts is not None:
        x = x + log_counts
    return cross_entropy(x, target, class_weight=class_weight, ignore_index=ignore_index,
                         label_smoothing=label_smoothing, weight=weight, reduction=reduction)


# --- noisy labels ------------------------------------------------------------------------------


def _gce_reference(input: torch.Tensor, target: torch.Tensor, *,
                   reduction: str = "mean") -> torch.Tensor:
    # Zhang & Sabuncu's L_q = (1 - p_y^q) / q at q = 0.7, on probabilities, per sample.
    terms = [(1 - torch.softmax(row, 0)[y] ** 0.7) / 0.7 for row, y in zip(input, target)]
    return reduced(torch.stack(terms) if terms else input.sum(1) * 0, reduction)


@register_loss(
    family="classification", tasks=_NOISY_TASKS, input_kind="logits",
    target_kind="class indices [N, *] or class probabilities [N, C, *]",
    aliases=("gce", "generalized_ce", "lq_loss"),
    properties=("smooth", "nonnegative", "bounded_gradient", "robust_to_outliers"),
    summary="Generalized cross-entropy (L_q): the negative Box-Cox transform of the target "
            "probability, between cross-entropy (q -> 0) and the noise-robust MAE (q = 1).",
    formula="L = (1 - p_y^q) / q, p = softmax(x), q in (0, 1];  soft targets: sum_c t_c "
            "(1 - p_c^q) / q",
    gradient="dL/dx = p_y^q (p - onehot(y)): cross-entropy's gradient weighted by p_y^q, so an "
             "example the model confidently contradicts (p_y -> 0, often a wrong label) "
             "pulls less and less; q -> 0 gives cross-entropy's full weight, q = 1 the MAE "
             "weight p_y.",
    when_to_use="Classification with suspected label noise (crowd-sourced, web-scraped or "
                "weak labels). q = 0.7 is the paper's default; lower q learns faster but "
                "tolerates less noise. Zhang & Sabuncu also prune examples with p_y < k "
                "late in training (the truncated L_q), which this function does not do.",
    pitfalls="The same down-weighting that ignores wrong labels slows learning of hard "
             "correct examples and of every example early in training (p_y ~ 1/C), more so "
             "with many classes: warm up with cross-entropy or use a smaller q. The loss is "
             "bounded by 1/q, so it is not a likelihood and not a proper scoring rule for "
             "q > 0 (its minimizer over-weights the most likely class); calibrate "
             "probabilities afterwards (losskit.calibration.temperature_scale) if you need "
             "them.",
    references=("Zhang & Sabuncu, Generalized Cross Entropy Loss for Training Deep Neural "
                "Networks with Noisy Labels, NeurIPS 2018.",),
    example_inputs=ex.class_logits, reference=_gce_reference, none_shape="position",
    learnable=("q",),
)
def generalized_cross_entropy(input: torch.Tensor, target: torch.Tensor, *,
                              q: float | torch.Tensor = 0.7, ignore_index: int = -100,
                              weight: torch.Tensor | None = None,
                              reduction: Reduction = "mean") -> torch.Tensor:
    """Generalized cross-entropy ``(1 - p_y^q) / q`` (Zhang & Sabuncu 2018).

    Args:
        q: in (0, 1] (a number or a 0-dim tensor, learnable); ``q -> 0`` approaches
            cross-entropy, ``q = 1`` is ``1 - p_y`` (MAE on the probabilities, up to 2x).

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"``.

    Example:
        >>> generalized_cross_entropy(torch.zeros(1, 2), torch.tensor([1]), q=1.0)
        tensor(0.5000)
    """
    check_param("q", q, low=0.0, high=1.0, low_inclusive=False, learnable=True)
    x, kind, valid = _class_inputs(input, target, weight, reduction, ignore_index)
    logp = torch.log_softmax(x, dim=1)
    if kind == "soft":
        # (1 - p^q) / q = -expm1(q log p) / q: exact for small q, no p^q of a tiny p.
        per_class = -torch.expm1(q * logp) / q
        return reduce((upcast(target).to(x.dtype) * per_class).sum(1), reduction, weight=weight)
    loss = -torch.expm1(q * _gather_class(logp, target, valid)) / q
    return reduce(loss, reduction, weight=weight, mask=valid)


def _sce_reference(input: torch.Tensor, target: torch.Tensor, *,
                   reduction: str = "mean") -> torch.Tensor:
    # Wang et al.: 0.1 CE + 1.0 RCE, RCE = -sum_k p_k log q_k with log 0 = -4 (one-hot q).
    terms = []
    for row, y in zip(input, target):
        p = torch.softmax(row, 0)
        log_label = torch.full_like(p, -4.0)
        log_label[y] = 0.0
        terms.append(0.1 * -torch.log(p[y]) + 1.0 * -(p * log_label).sum())
    return reduced(torch.stack(terms) if terms else input.sum(1) * 0, reduction)


@register_loss(
    family="classification", tasks=_NOISY_TASKS, input_kind="logits",
    target_kind="class indices [N, *] or class probabilities [N, C, *]",
    aliases=("sce", "symmetric_ce"),
    properties=("smooth", "nonnegative", "bounded_gradient", "robust_to_outliers"),
    summary="Symmetric cross-entropy: alpha times cross-entropy plus beta times the reverse "
            "cross-entropy (predictions as the reference distribution), which is robust to "
            "label noise.",
    formula="L = alpha CE + beta RCE;  CE = -sum_k t_k log p_k;  RCE = -sum_k p_k log t_k with "
            "log 0 clipped to A = -4, so for a label y RCE = 4 (1 - p_y)",
    gradient="CE contributes alpha (p - onehot(y)); RCE contributes 4 beta p_y (p - "
             "onehot(y)), cross-entropy's gradient weighted by p_y, which vanishes for "
             "examples the model confidently contradicts (p_y -> 0). A mislabeled example "
             "therefore pulls with about alpha, a well-fit uncertain one with up to alpha + "
             "beta.",
    when_to_use="Classification with noisy labels, especially class-dependent (asymmetric) "
                "noise. The paper's defaults are alpha = 0.1, beta = 1.0 on CIFAR-10; they "
                "use larger alpha (6.0, with beta 0.1) on CIFAR-100, where the many classes "
                "make RCE alone learn too slowly.",
    pitfalls="RCE is MAE on the probabilities times -A (1 - p_y is half the L1 distance to the "
             "one-hot label), so the loss inherits MAE's slow, underfitting start with many "
             "classes; alpha controls how much cross-entropy speeds it up and how much "
             "noise it lets in. A only rescales RCE for hard labels (beta * -A is what "
             "matters). The authors' code clamps the one-hot label at 1e-4, so its A is "
             "log 1e-4 = -9.21, not the paper's -4: to reproduce its alpha / beta settings "
             "scale beta by 9.21 / 4. Not a proper scoring rule; recalibrate "
             "(losskit.calibration.temperature_scale) if probabilities matter.",
    references=("Wang, Ma, Chen, Luo, Yi & Bailey, Symmetric Cross Entropy for Robust Learning "
                "with Noisy Labels, ICCV 2019.",),
    example_inputs=ex.class_logits, reference=_sce_reference, none_shape="position",
    learnable=("alpha", "beta"),
)
def symmetric_cross_entropy(input: torch.Tensor, target: torch.Tensor, *,
                            alpha: float | torch.Tensor = 0.1, beta: float | torch.Tensor = 1.0,
                            ignore_index: int = -100, weight: torch.Tensor | None = None,
                            reduction: Reduction = "mean") -> torch.Tensor:
    """Symmetric cross-entropy ``alpha * CE + beta * RCE`` (Wang et al. 2019).

    Args:
        alpha: weight of cross-entropy >= 0 (learnable).
        beta: weight of the reverse cross-entropy >= 0 (learnable).

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"``.

    Example:
        >>> symmetric_cross_entropy(torch.zeros(1, 2), torch.tensor([1]))
        tensor(2.0693)
    """
    check_param("alpha", alpha, low=0.0, learnable=True)
    check_param("beta", beta, low=0.0, learnable=True)
    x, kind, valid = _class_inputs(input, target, weight, reduction, ignore_index)
    logp = torch.log_softmax(x, dim=1)
    if kind == "soft":
        t = upcast(target).to(x.dtype)
        ce = -(t * logp).sum(1)
        # log t_k clipped at A: a class the label rules out costs -A p_k (clamp keeps NaN).
        rce = -(logp.exp() * torch.log(t).clamp(min=_RCE_LOG_ZERO)).sum(1)
        return reduce(alpha * ce + beta * rce, reduction, weight=weight)
    logp_y = _gather_class(logp, target, valid)
    # sum_{k != y} p_k = 1 - p_y = -expm1(log p_y), precise when p_y is close to 1.
    rce = -_RCE_LOG_ZERO * -torch.expm1(logp_y)
    return reduce(alpha * -logp_y + beta * rce, reduction, weight=weight, mask=valid)


def _bootstrap_reference(input: torch.Tensor, target: torch.Tensor, *,
                         reduction: str = "mean") -> torch.Tensor:
    # Reed et al.'s soft bootstrapping at beta = 0.95: cross-entropy against
    # beta y + (1 - beta) p with p the (constant) prediction, per sample.
    terms = []
    for row, y in zip(input, target):
        logp = torch.log_softmax(row, 0)
        t = 0.05 * logp.exp().detach()
        t[y] = t[y] + 0.95
        terms.append(-(t * logp).sum())
    return reduced(torch.stack(terms) if terms else input.sum(1) * 0, reduction)


_BOOTSTRAP_MODES = ("soft", "hard")


@register_loss(
    family="classification", tasks=_NOISY_TASKS, input_kind="logits",
    target_kind="class indices [N, *] or class probabilities [N, C, *]",
    aliases=("bootstrapping", "bootstrap_ce", "soft_bootstrapping"),
    properties=("nonnegative", "bounded_gradient"),
    summary="Bootstrapped cross-entropy: cross-entropy against a mix of the given label and "
            "the model's own prediction, so the model can partly overrule labels it "
            "consistently disagrees with.",
    formula="soft: L = -sum_k (beta y_k + (1 - beta) p_k) log p_k;  hard: L = -beta log p_y "
            "- (1 - beta) log p_argmax;  p = softmax(x), the p inside the target (and the "
            "argmax) held constant",
    gradient="soft: beta (p - onehot(y)) exactly, since the constant p in the target cancels "
             "(1 - beta) of the softmax: with detached predictions soft bootstrapping only "
             "rescales cross-entropy's gradient (Reed et al.'s minimum-entropy effect needs "
             "detach=False, which adds (1 - beta) times the entropy's gradient). hard: beta "
             "(p - onehot(y)) + (1 - beta) (p - onehot(argmax p)), a pull toward the model's "
             "own current guess.",
    when_to_use="Noisy labels where the model's own confident predictions are a useful "
                "second opinion (Reed et al.: beta = 0.95 soft, 0.8 hard). Prefer mode='hard' "
                "(or detach=False): with the default detached soft mode the gradient is "
                "cross-entropy's scaled by beta, i.e. only a smaller learning rate.",
    pitfalls="Self-confirmation: early in training the model's guesses are poor and "
             "bootstrapping reinforces them; start from a cross-entropy warm-up. The value "
             "includes a term from the model's own prediction, so it does not reach 0 and "
             "is not comparable with cross-entropy's. Not a proper scoring rule "
             "(mode='hard' and detach=False push toward over-confidence); recalibrate "
             "(losskit.calibration.temperature_scale) if probabilities matter.",
    references=("Reed, Lee, Anguelov, Szegedy, Erhan & Rabinovich, Training Deep Neural "
                "Networks on Noisy Labels with Bootstrapping, ICLR 2015 (workshop track).",),
    example_inputs=ex.class_logits, reference=_bootstrap_reference, none_shape="position",
    learnable=("beta",),
    expected_failures={"gradcheck": "the prediction inside the target (and the hard mode's "
                       "argmax) is held constant, as the formula states, so the gradient is "
                       "deliberately not the finite-difference derivative of the value; "
                       "detach=False is gradchecked in tests/test_long_tail.py"},
)
def bootstrapped_cross_entropy(input: torch.Tensor, target: torch.Tensor, *,
                               beta: float | torch.Tensor = 0.95,
                               mode: Literal["soft", "hard"] = "soft",
                               detach: bool = True, ignore_index: int = -100,
                               weight: torch.Tensor | None = None,
                               reduction: Reduction = "mean") -> torch.Tensor:
    """Bootstrapped cross-entropy of Reed et al. (2015), soft or hard.

    Args:
        beta: weight of the given label in [0, 1] (learnable); ``beta = 1`` is
            cross-entropy.
        mode: ``"soft"`` (target ``beta y + (1 - beta) p``) or ``"hard"`` (``beta CE(y) +
            (1 - beta) CE(argmax p)``).
        detach: hold the prediction inside the target constant (the default, and what the
            loss's formula states). ``False`` lets gradients flow through it in soft mode,
            which adds ``(1 - beta)`` times the prediction's entropy's gradient (the
            paper's minimum-entropy regularisation). Hard mode's argmax has no gradient.

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar, or ``[N, *]`` with ``reduction="none"``.

    Example:
        >>> bootstrapped_cross_entropy(torch.tensor([[0.0, 1.0]]), torch.tensor([0]),
        ...                            beta=0.5, mode="hard")
        tensor(0.8133)
    """
    check_param("beta", beta, low=0.0, high=1.0, learnable=True)
    if mode not in _BOOTSTRAP_MODES:
        raise LossInputError(f"mode must be one of {_BOOTSTRAP_MODES}, got {mode!r}")
    x, kind, valid = _class_inputs(input, target, weight, reduction, ignore_index)
    logp = torch.log_softmax(x, dim=1)
    # xlog: 0 log 0 = 0 where a class is masked to -inf (or p underflows), not 0 * -inf.
    if kind == "soft":
        label_ce = -xlog(upcast(target).to(x.dtype), logp).sum(1)
    else:
        label_ce = -_gather_class(logp, target, valid)
    if mode == "soft":
        p = logp.exp()
        own = -xlog(p.detach() if detach else p, logp).sum(1)
    else:
        guess = x.detach().argmax(dim=1)
        own = -logp.gather(1, guess.unsqueeze(1)).squeeze(1)
    return reduce(beta * label_ce + (1 - beta) * own, reduction, weight=weight, mask=valid)


# --- scoring rules -----------------------------------------------------------------------------


def _brier_reference(input: torch.Tensor, target: torch.Tensor, *,
                     reduction: str = "mean") -> torch.Tensor:
    # Brier (1950): sum over classes of the squared probability error, per sample.
    terms = []
    for row, y in zip(input, target):
        p = torch.softmax(row, 0)
        terms.append(sum(((p[k] - (1.0 if k == int(y) else 0.0)) ** 2 for k in range(len(p))),
                         p.new_zeros(())))
    return reduced(torch.stack(terms) if terms else input.sum(1) * 0, reduction)


@register_loss(
    family="classification", tasks=(*_TASKS, "calibration"), input_kind="logits",
    target_kind="class indices [N, *] or class probabilities [N, C, *]",
    aliases=("brier_score", "brier_loss", "quadratic_score"),
    properties=("smooth", "nonnegative", "bounded_gradient", "proper_scoring"),
    summary="Brier score: the squared error between the predicted class probabilities and "
            "the one-hot label, summed over classes; a bounded proper scoring rule.",
    formula="p = softmax(x);  L = sum_k (p_k - onehot(y)_k)^2 = (1 - p_y)^2 + sum_{k != y} "
            "p_k^2, in [0, 2];  soft targets: sum_k (p_k - t_k)^2",
    gradient="dL/dx_j = 2 p_j ((p_j - t_j) - sum_k p_k (p_k - t_k)): bounded, and it vanishes "
             "for confident predictions right or wrong (p saturates), unlike cross-entropy's "
             "p - t; confident mistakes are therefore corrected slowly.",
    when_to_use="When predicted probabilities themselves are the product (forecasts, risk "
                "scores, inputs to decisions) and the metric is the Brier score; as a "
                "bounded alternative to cross-entropy that one mislabeled example cannot "
                "dominate. Proper: the expected score under the true class distribution is "
                "minimized by predicting it.",
    pitfalls="The multi-class Brier score of Brier (1950) sums over all C classes; the binary "
             "form of scikit-learn's brier_score_loss, mean (p - y)^2 for the positive class "
             "only, is half of this with C = 2. Its gradient saturates for confident wrong "
             "predictions, so it trains slower than cross-entropy from a poor start; a "
             "common recipe is cross-entropy first, then Brier or temperature scaling "
             "(losskit.calibration.temperature_scale) for calibration.",
    references=("Brier, Verification of Forecasts Expressed in Terms of Probability, Monthly "
                "Weather Review 1950.",
                "Gneiting & Raftery, Strictly Proper Scoring Rules, Prediction, and "
                "Estimation, JASA 2007."),
    example_inputs=ex.class_logits, reference=_brier_reference, none_shape="position",
)
def brier(input: torch.Tensor, target: torch.Tensor, *, ignore_index: int = -100,
          weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Multi-class Brier score ``sum_k (softmax(input)_k - onehot(target)_k)^2`` per position.

    Shape:
        input: ``[N, C, *]`` logits; target: ``[N, *]`` indices or ``[N, C, *]``
        probabilities; output: scalar (the mean over positions), or ``[N, *]`` with
        ``reduction="none"``.

    Example:
        >>> brier(torch.zeros(1, 2), torch.tensor([1]))
        tensor(0.5000)
    """
    x, kind, valid = _class_inputs(input, target, weight, reduction, ignore_index)
    p = torch.softmax(x, dim=1)
    if kind == "soft":
        t = upcast(target).to(x.dtype)
    else:
        safe = target if valid is None else torch.where(valid, target, 0)
        t = torch.zeros_like(p).scatter(1, safe.long().unsqueeze(1), 1.0)
    return reduce((p - t).square().sum(1), reduction, weight=weight, mask=valid)
