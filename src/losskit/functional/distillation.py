"""Knowledge distillation for language models: match a student's next-token distribution to
a teacher's, optionally mixed with cross-entropy on the data.

``distillation`` takes the two models' logits with the vocabulary last (``[N, V]`` tokens or
``[B, T, V]`` sequences); ``linear_distillation`` takes their last hidden states and output
matrices and is computed block by block (:mod:`losskit.kernels.linear_distill`), so neither
``[N, V]`` logits tensor is ever held. Per row (token)::

    p_s = softmax(student / T),  p_t = softmax(teacher / T)
    D = KL(p_t || p_s)                                    forward_kl (Hinton et al.)
      | KL(p_s || p_t)                                    reverse_kl
      | beta KL(p_t || m) + (1 - beta) KL(p_s || m),
        m = beta p_t + (1 - beta) p_s                     jsd (generalized JSD, GKD)
    loss = alpha T^2 D + (1 - alpha) cross_entropy(student, target)

averaged over the rows whose target is not ``ignore_index`` (all rows without a target). The
teacher is a constant: it never receives gradient. Divergences are in nats; float16 /
bfloat16 inputs are computed in float32.
"""

from __future__ import annotations

import math
from typing import Any, Literal, TypedDict, get_args

import torch
import torch.nn.functional as F

from .._core._math import p_log_ratio, safe_logaddexp
from .._core.reduce import reduce, reduce_summed, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_class_indices,
    check_floating,
    check_ndim,
    check_param,
    check_reduction,
)
from ..kernels import dispatch
from ..kernels import linear_distill as _linear_distill  # noqa: F401  (registers the accelerator)
from . import _examples as ex
from ._lm import check_normalizer, finish

__all__ = ["distillation", "linear_distillation"]

#: The divergences between teacher and student that ``distillation`` and
#: ``linear_distillation`` offer.
Divergence = Literal["forward_kl", "reverse_kl", "jsd"]
DIVERGENCES: tuple[str, ...] = get_args(Divergence)


class _Options(TypedDict):
    """The hyperparameters ``_row_losses`` takes, passed through as one mapping."""

    temperature: float | torch.Tensor
    alpha: float
    divergence: str
    beta: float | torch.Tensor
    ignore_index: int
_VOCAB, _DIM, _TEACHER_DIM = 11, 4, 6  # example sizes; the vocabulary differs from test batches


def _kl_terms(p: torch.Tensor, log_p: torch.Tensor, log_r: torch.Tensor) -> torch.Tensor:
    """sum p (log p - log r) over the last axis, with 0 log 0 = 0 and finite gradients
    where a class is masked to -inf in both distributions."""
    return p_log_ratio(p, log_p, log_r).sum(-1)


def _row_divergence(log_ps: torch.Tensor, log_pt: torch.Tensor, divergence: str,
                    beta: float | torch.Tensor) -> torch.Tensor:
    ps, pt = log_ps.exp(), log_pt.exp()
    if divergence == "forward_kl":
        return _kl_terms(pt, log_pt, log_ps)
    if divergence == "reverse_kl":
        return _kl_terms(ps, log_ps, log_pt)
    # log m = log(beta p_t + (1 - beta) p_s) in log space: no underflow for tiny p.
    log_b: torch.Tensor | float
    log_1mb: torch.Tensor | float
    if isinstance(beta, torch.Tensor):
        log_b, log_1mb = torch.log(beta), torch.log1p(-beta)
    else:
        log_b, log_1mb = math.log(beta), math.log1p(-beta)
    log_m = safe_logaddexp(log_pt + log_b, log_ps + log_1mb)
    return beta * _kl_terms(pt, log_pt, log_m) + (1 - beta) * _kl_terms(ps, log_ps, log_m)


def _check_options(temperature: float | torch.Tensor, alpha: float, divergence: str,
                   beta: float | torch.Tensor, target: torch.Tensor | None) -> None:
    check_param("temperature", temperature, low=0.0, low_inclusive=False, learnable=True)
    # alpha is a mixing weight, not learnable: a gradient would only move it onto the
    # smaller of the two terms.
    check_param("alpha", alpha, low=0.0, high=1.0)
    if divergence not in DIVERGENCES:
        raise LossInputError(f"divergence must be one of {DIVERGENCES}, got {divergence!r}")
    if divergence == "jsd":
        check_param("beta", beta, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False,
                    learnable=True)
    elif isinstance(beta, torch.Tensor):
        check_param("beta", beta, low=0.0, high=1.0, learnable=True)
    if target is None and alpha != 1.0:
        raise LossInputError("alpha < 1 mixes in cross-entropy on the data: pass target (or "
                             "alpha=1.0 for distillation alone)")


def _row_losses(student: torch.Tensor, teacher: torch.Tensor, target: torch.Tensor | None, *,
                temperature: float | torch.Tensor, alpha: float, divergence: str,
                beta: float | torch.Tensor, ignore_index: int,
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-row loss ``[*]`` (before weights and mask) and the rows that count (or None)."""
    s = upcast(student)
    t = upcast(teacher).detach().to(s.dtype)  # the teacher is a constant
    tempered = isinstance(temperature, torch.Tensor) or temperature != 1.0
    log_ps = torch.log_softmax(s / temperature if tempered else s, dim=-1)
    log_pt = torch.log_softmax(t / temperature if tempered else t, dim=-1)
    loss = _row_divergence(log_ps, log_pt, divergence, beta)
    if tempered or alpha != 1.0:
        loss = loss * (alpha * temperature * temperature)
    valid = None
    if target is not None:
        valid = target != ignore_index
        if alpha != 1.0:
            log_q = torch.log_softmax(s, dim=-1) if tempered else log_ps
            picked = log_q.gather(-1, torch.where(valid, target, 0).unsqueeze(-1)).squeeze(-1)
            loss = loss - (1 - alpha) * picked
    return loss, valid


def _distillation_examples(n: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = ex.generator(seed)
    teacher = ex.randn(n, _VOCAB, g=g) * 1.5
    return (teacher + ex.randn(n, _VOCAB, g=g), teacher,
            torch.randint(0, _VOCAB, (n,), generator=g))


def _distillation_reference(student: torch.Tensor, teacher: torch.Tensor,
                            target: torch.Tensor | None = None, *,
                            temperature: float | torch.Tensor = 1.0, alpha: float = 1.0,
                            divergence: str = "forward_kl", beta: float | torch.Tensor = 0.5,
                            ignore_index: int = -100,
                            normalizer: float | torch.Tensor | None = None,
                            weight: torch.Tensor | None = None,
                            reduction: str = "mean") -> torch.Tensor:
    # Row by row with torch's kl_div (KL(target || input) with log-probability input) and
    # cross_entropy; the mixture of the generalized JSD built from probabilities.
    rows, counted = [], []
    flat_s = student.reshape(-1, student.shape[-1])
    flat_t = teacher.detach().reshape(-1, teacher.shape[-1])
    flat_y = None if target is None else target.reshape(-1)
    for i in range(flat_s.shape[0]):
        ls = F.log_softmax(flat_s[i] / temperature, dim=-1)
        lt = F.log_softmax(flat_t[i] / temperature, dim=-1)
        if divergence == "forward_kl":
            d = F.kl_div(ls, lt, log_target=True, reduction="sum")
        elif divergence == "reverse_kl":
            d = F.kl_div(lt, ls, log_target=True, reduction="sum")
        else:
            m = beta * lt.exp() + (1 - beta) * ls.exp()
            d = (beta * F.kl_div(m.log(), lt, log_target=True, reduction="sum")
                 + (1 - beta) * F.kl_div(m.log(), ls, log_target=True, reduction="sum"))
        value = alpha * temperature ** 2 * d
        keep = flat_y is None or int(flat_y[i]) != ignore_index
        if flat_y is not None and keep and alpha != 1.0:
            value = value + (1 - alpha) * F.cross_entropy(flat_s[i][None], flat_y[i][None])
        rows.append(value if keep else value * 0)
        counted.append(keep)
    loss = (torch.stack(rows) if rows else flat_s.sum(-1) * 0).reshape(student.shape[:-1])
    if weight is not None:
        loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    count = normalizer if normalizer is not None else sum(counted)
    return loss.sum() / count if count else loss.sum() * 0


@register_loss(
    family="distribution", tasks=("distillation", "language_modeling"), input_kind="logits",
    target_kind="teacher logits [*, V] (and optional class indices [*])",
    aliases=("knowledge_distillation", "kd", "gkd", "generalized_jsd"),
    properties=("nonnegative", "zero_at_optimum", "smooth"), learnable=("temperature", "beta"),
    summary="Knowledge distillation: a divergence (forward KL, reverse KL or generalized JSD) "
            "between the teacher's and the student's tempered softmax, scaled by T^2 and "
            "optionally mixed with cross-entropy on the labels.",
    formula="p = softmax(student / T), q = softmax(teacher / T);  D = KL(q || p) | KL(p || q) | "
            "beta KL(q || m) + (1 - beta) KL(p || m), m = beta q + (1 - beta) p;  L = alpha T^2 "
            "D + (1 - alpha) CE(student, target), mean over non-ignored rows",
    gradient="Per student logit: forward KL: alpha T (p - q); reverse KL: alpha T p (log p - "
             "log q - D); jsd: alpha T (1 - beta) p (log(p/m) - KL(p || m)); plus (1 - alpha) "
             "(softmax(student) - onehot). The T^2 factor keeps the soft-target gradient on "
             "the scale of the hard-label one as T changes (Hinton et al.).",
    when_to_use="Training a smaller language model (or classifier) on a larger one's "
                "next-token distributions: forward_kl (the classic soft-target loss) makes the "
                "student cover all of the teacher's modes; reverse_kl is mode-seeking, better "
                "when the student is too small to cover them (MiniLLM, GKD); jsd interpolates "
                "and stays bounded. For on-policy distillation (GKD) score the student's own "
                "samples with both models.",
    pitfalls="The vocabulary axis is the last one (unlike kl_div, whose class axis is 1), and "
             "both models must share the tokenizer. The T^2 factor is part of the definition, "
             "so the soft-target gradient keeps its scale when T changes and alpha keeps its "
             "meaning. "
             "beta is only used by jsd and must lie strictly inside (0, 1): at the ends the "
             "generalized JSD is identically 0 (TRL's GKD instead maps beta = 0 / 1 to the two "
             "KLs: use divergence='forward_kl' / 'reverse_kl'). The teacher is detached; "
             "precompute its logits under torch.no_grad to save memory. Under gradient "
             "accumulation pass normalizer= the global count of counted tokens.",
    references=("Hinton, Vinyals, Dean, Distilling the Knowledge in a Neural Network, NIPS "
                "Deep Learning Workshop 2014 (arXiv:1503.02531, 2015).",
                "Agarwal, Vieillard, Zhou, Stanczyk, Ramos Garea, Geist, Bachem, On-Policy "
                "Distillation of Language Models: Learning from Self-Generated Mistakes (GKD), "
                "ICLR 2024.",
                "Gu, Dong, Wei, Huang, MiniLLM: Knowledge Distillation of Large Language "
                "Models, ICLR 2024 (reverse KL)."),
    example_inputs=_distillation_examples, reference=_distillation_reference,
    optimum=lambda args: (args[1].detach().clone(), *args[1:]), none_shape="position",
    head="none",
)
def distillation(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                 target: torch.Tensor | None = None, *,
                 temperature: float | torch.Tensor = 1.0, alpha: float = 1.0,
                 divergence: Divergence = "forward_kl", beta: float | torch.Tensor = 0.5,
                 ignore_index: int = -100, normalizer: float | torch.Tensor | None = None,
                 weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Distillation loss ``alpha T^2 D(teacher, student) + (1 - alpha) CE(student, target)``.

    ``D`` per row: ``divergence="forward_kl"`` KL(p_t || p_s), ``"reverse_kl"``
    KL(p_s || p_t), ``"jsd"`` beta KL(p_t || m) + (1 - beta) KL(p_s || m) with
    ``m = beta p_t + (1 - beta) p_s`` (beta strictly inside (0, 1)); ``p = softmax(logits /
    temperature)``. The cross-entropy uses the untempered student logits and needs
    ``target`` (required when ``alpha < 1``). Rows whose target is ``ignore_index`` count
    for nothing. ``"mean"`` divides by the number of counted rows, or by ``normalizer``
    (e.g. the token count of the whole accumulated batch). ``temperature`` and ``beta`` may
    be tensors requiring grad. The teacher never receives gradient.

    Shape:
        student_logits, teacher_logits: ``[*, V]`` (``[N, V]`` or ``[B, T, V]``); target:
        ``[*]`` class indices or ``ignore_index``; weight: broadcastable to ``[*]``;
        output: scalar, or ``[*]`` with ``reduction="none"`` (0 at ignored rows).

    Example:
        >>> s, t = torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([[0.0, 2.0, 0.0]])
        >>> distillation(s, t)
        tensor(1.3610)
    """
    check_reduction(reduction)
    check_floating("student_logits", student_logits)
    check_floating("teacher_logits", teacher_logits)
    if student_logits.dim() < 2:
        raise LossInputError(f"student_logits must have shape [*, V] (rows, vocabulary "
                             f"last), got {tuple(student_logits.shape)}")
    if teacher_logits.shape != student_logits.shape:
        raise LossInputError(f"teacher_logits must have the shape of student_logits "
                             f"{tuple(student_logits.shape)}, got {tuple(teacher_logits.shape)}")
    _check_options(temperature, alpha, divergence, beta, target)
    check_normalizer(normalizer)
    rows_shape = student_logits.shape[:-1]
    if target is not None:
        _check_target(target, rows_shape, student_logits.shape[-1], ignore_index)
    loss, valid = _row_losses(student_logits, teacher_logits, target, temperature=temperature,
                              alpha=alpha, divergence=divergence, beta=beta,
                              ignore_index=ignore_index)
    check_broadcastable("weight", weight, loss.shape)
    return finish(loss, reduction, weight=weight, mask=valid, normalizer=normalizer)


def _check_target(target: torch.Tensor, rows_shape: torch.Size, vocab: int,
                  ignore_index: int) -> None:
    if not isinstance(target, torch.Tensor) or target.shape != rows_shape:
        got = tuple(target.shape) if isinstance(target, torch.Tensor) else type(target).__name__
        raise LossInputError(f"target must have shape {tuple(rows_shape)} (the logits without "
                             f"their vocabulary axis), got {got}")
    check_class_indices("target", target, vocab, ignore_index)


# --- from hidden states ----------------------------------------------------------------------


def _linear_examples(n: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = ex.generator(seed)
    teacher_hidden = ex.randn(n, _TEACHER_DIM, g=g)
    return (ex.randn(n, _DIM, g=g), ex.randn(_VOCAB, _DIM, g=g) * 0.7, teacher_hidden,
            ex.randn(_VOCAB, _TEACHER_DIM, g=g) * 0.7,
            torch.randint(0, _VOCAB, (n,), generator=g))


def _linear_reference(student_hidden: torch.Tensor, student_linear_weight: torch.Tensor,
                      teacher_hidden: torch.Tensor, teacher_linear_weight: torch.Tensor,
                      target: torch.Tensor | None = None, **options: Any) -> torch.Tensor:
    # The plain composition: materialize both logits with torch's F.linear, then the
    # row-by-row reference of distillation.
    return _distillation_reference(F.linear(student_hidden, student_linear_weight),
                                   F.linear(teacher_hidden, teacher_linear_weight), target,
                                   **options)


def _linear_terms(student_hidden: torch.Tensor, student_linear_weight: torch.Tensor,
                  teacher_hidden: torch.Tensor, teacher_linear_weight: torch.Tensor,
                  target: torch.Tensor | None, weight: torch.Tensor | None,
                  valid: torch.Tensor | None, options: _Options, reduction: str) -> torch.Tensor:
    """The definition up to the denominator: per-row terms ("none") or their sum."""
    s = F.linear(upcast(student_hidden), upcast(student_linear_weight))
    t = F.linear(upcast(teacher_hidden).detach(), upcast(teacher_linear_weight).detach())
    loss, _ = _row_losses(s, t, target, **options)
    terms = reduce(loss, "none", weight=weight, mask=valid)
    return terms if reduction == "none" else terms.sum()


@register_loss(
    family="distribution", tasks=("distillation", "language_modeling"),
    input_kind="hidden_states",
    target_kind="teacher hidden states [*, Dt] and output matrix [V, Dt] (and optional class "
                "indices [*])",
    aliases=("fused_linear_distillation", "linear_kd", "fused_linear_jsd"), grad_args=(0, 1),
    properties=("nonnegative",), learnable=("temperature", "beta"),
    none_shape="position",
    summary="Distillation from the last hidden states and output matrices of a student and a "
            "teacher, computed block by block so neither [tokens, vocabulary] logits tensor "
            "is ever held in memory.",
    formula="z_s = h_s W_s^T, z_t = h_t W_t^T;  L = distillation(z_s, z_t, target) (forward / "
            "reverse KL or generalized JSD at temperature T, alpha T^2 D + (1 - alpha) CE)",
    gradient="dL/dz_s as for distillation; dL/dh_s = dL/dz_s W_s and dL/dW_s = dL/dz_s^T h_s, "
             "accumulated block by block in the forward pass; nothing flows to the teacher.",
    when_to_use="Distilling a language model with a large vocabulary, where two [tokens, V] "
                "logits tensors (student and teacher) and their softmaxes would dominate "
                "memory: with 8192 tokens and V = 128k each is 4 GiB in float32.",
    pitfalls="The positional weights are the [V, D] output matrices (torch's linear_weight "
             "convention); the keyword `weight` is the per-token weight. The two models may "
             "have different hidden sizes but must share the vocabulary. The chunked path "
             "computes gradients during forward (cheaper under torch.no_grad if only the "
             "value is wanted); with tensor hyperparameters, inside torch.func transforms or "
             "while torch.compile traces it declines and the plain definition (which "
             "materializes the logits) runs.",
    references=("Hinton, Vinyals, Dean, Distilling the Knowledge in a Neural Network, NIPS "
                "Deep Learning Workshop 2014 (arXiv:1503.02531, 2015).",
                "Agarwal et al., On-Policy Distillation of Language Models: Learning from "
                "Self-Generated Mistakes (GKD), ICLR 2024.",
                "Hsu et al., Liger Kernel: Efficient Triton Kernels for LLM Training, "
                "arXiv:2410.10989, 2024 (fused linear JSD)."),
    example_inputs=_linear_examples, reference=_linear_reference,
)
def linear_distillation(student_hidden: torch.Tensor, student_linear_weight: torch.Tensor,
                        teacher_hidden: torch.Tensor, teacher_linear_weight: torch.Tensor,
                        target: torch.Tensor | None = None, *,
                        temperature: float | torch.Tensor = 1.0,
                        alpha: float = 1.0, divergence: Divergence = "forward_kl",
                        beta: float | torch.Tensor = 0.5, ignore_index: int = -100,
                        normalizer: float | torch.Tensor | None = None,
                        weight: torch.Tensor | None = None,
                        reduction: Reduction = "mean") -> torch.Tensor:
    """:func:`distillation` of ``student_hidden @ student_linear_weight.T`` against
    ``teacher_hidden @ teacher_linear_weight.T``, without materializing either.

    Same options and value as :func:`distillation` on those logits. The chunked accelerator
    (:mod:`losskit.kernels.linear_distill`) runs on CPU and CUDA; the definition below it
    materializes the logits and runs where the accelerator declines.

    Shape:
        student_hidden: ``[*, Ds]``; student_linear_weight: ``[V, Ds]``; teacher_hidden:
        ``[*, Dt]``; teacher_linear_weight: ``[V, Dt]``; target: ``[*]``; weight:
        broadcastable to ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.

    Example:
        >>> h = torch.tensor([[1.0, 0.0]])
        >>> ws, wt = torch.tensor([[2.0, 0.0], [0.0, 0.0]]), torch.tensor([[0.0, 0.0], [2.0, 0.0]])
        >>> linear_distillation(h, ws, h, wt)
        tensor(1.5232)
    """
    check_reduction(reduction)
    for name, t in (("student_hidden", student_hidden), ("teacher_hidden", teacher_hidden),
                    ("student_linear_weight", student_linear_weight),
                    ("teacher_linear_weight", teacher_linear_weight)):
        check_floating(name, t)
    check_ndim("student_linear_weight", student_linear_weight, 2, "[V, Ds]")
    check_ndim("teacher_linear_weight", teacher_linear_weight, 2, "[V, Dt]")
    vocab, dim = student_linear_weight.shape
    if teacher_linear_weight.shape[0] != vocab:
        raise LossInputError(f"teacher_linear_weight must have {vocab} rows (the student's "
                             f"vocabulary), got shape {tuple(teacher_linear_weight.shape)}")
    if student_hidden.dim() < 1 or student_hidden.shape[-1] != dim:
        raise LossInputError(f"student_hidden must have shape [*, {dim}] to match "
                             f"student_linear_weight [{vocab}, {dim}], got "
                             f"{tuple(student_hidden.shape)}")
    rows_shape = student_hidden.shape[:-1]
    t_dim = teacher_linear_weight.shape[1]
    if teacher_hidden.shape != (*rows_shape, t_dim):
        raise LossInputError(f"teacher_hidden must have shape {(*rows_shape, t_dim)} (the "
                             f"student's rows, the teacher's width), got "
                             f"{tuple(teacher_hidden.shape)}")
    _check_options(temperature, alpha, divergence, beta, target)
    check_normalizer(normalizer)
    if target is not None:
        _check_target(target, rows_shape, vocab, ignore_index)
    check_broadcastable("weight", weight, rows_shape)
    options: _Options = {"temperature": temperature, "alpha": alpha, "divergence": divergence,
                         "beta": beta, "ignore_index": ignore_index}
    sh, th = student_hidden.reshape(-1, dim), teacher_hidden.reshape(-1, t_dim)
    flat_target = None if target is None else target.reshape(-1)
    flat_weight = None if weight is None else weight.expand(rows_shape).reshape(-1)
    valid = None if flat_target is None else flat_target != ignore_index
    summed = "none" if reduction == "none" else "sum"

    def definition(s_hidden: torch.Tensor, s_weight: torch.Tensor, t_hidden: torch.Tensor,
                   t_weight: torch.Tensor) -> torch.Tensor:
        return _linear_terms(s_hidden, s_weight, t_hidden, t_weight, flat_target, flat_weight,
                             valid, options, summed)

    # The accelerator returns what `definition` returns (the per-row terms or their sum);
    # the mean's denominator and the empty-selection rule stay below.
    terms: torch.Tensor | None = dispatch("linear_distillation", sh, student_linear_weight, th,
                     teacher_linear_weight, flat_target, weight=flat_weight,
                     reduction=summed, definition=definition, **options)
    if terms is None:
        terms = definition(sh, student_linear_weight, th, teacher_linear_weight)
    if reduction == "none":
        return terms.reshape(rows_shape)
    if isinstance(normalizer, torch.Tensor):
        normalizer = normalizer.detach().reshape(())
    return reduce_summed(terms, reduction, shape=sh.shape[:1], mask=valid, normalizer=normalizer)
