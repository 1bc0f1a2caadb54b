"""Energy-based losses: the model scores every answer with an energy, low = compatible.

Both losses take ``energies: [N, C]`` (one energy per candidate answer, the class
dimension at dim 1 as everywhere in losskit) and ``target: [N]`` the index of the
correct answer. Following LeCun et al. (2006), a good energy loss pushes the correct
answer's energy down and pulls up the energy of the answers that compete with it;
the two losses here differ in *which* wrong answers are pulled up: the single most
offending one (margin) or all of them, weighted by their Gibbs probability (NLL).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .._core.reduce import reduce, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_class_indices,
    check_floating,
    check_integer,
    check_ndim,
    check_param,
    check_probabilities,
    check_reduction,
)
from . import _examples as ex

__all__ = ["energy_margin", "energy_nll"]


def _check_energies(energies: torch.Tensor) -> None:
    check_floating("energies", energies)
    check_ndim("energies", energies, 2, "[N, C] one energy per candidate answer")


def _index_target(energies: torch.Tensor, target: torch.Tensor,
                  ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated target with ignored entries replaced by 0, and the mask of counted rows."""
    check_integer("target", target, " (class indices)")
    check_class_indices("target", target, energies.shape[1], ignore_index)
    if target.shape != energies.shape[:1]:
        raise LossInputError(f"target must have shape [N] = {tuple(energies.shape[:1])}, got "
                             f"{tuple(target.shape)}")
    keep = target != ignore_index
    # int64 whatever integer type came (one_hot and gather take int64 indices).
    return torch.where(keep, target, 0).long(), keep


def _energy_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    logits, target = ex.class_logits(n, seed, classes=5)
    return -logits, target


def _margin_reference(energies: torch.Tensor, target: torch.Tensor, *, margin: float = 1.0,
                      reduction: str = "mean") -> torch.Tensor:
    # Brute-force loop over samples and wrong answers.
    rows = []
    for e, y in zip(energies, target.tolist()):
        wrong = min((e[c] for c in range(e.shape[0]) if c != y), key=lambda t: float(t.detach()))
        rows.append(torch.clamp(margin + e[y] - wrong, min=0))
    loss = torch.stack(rows) if rows else energies.sum(1)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def _well_separated(args: tuple[Any, ...]) -> tuple[Any, ...]:
    energies, target = args[:2]
    # The correct answer 2 units below every wrong one: beyond the default margin of 1.
    perfect = torch.full_like(energies, 2.0).scatter(1, target.unsqueeze(1), 0.0)
    return (perfect, target, *args[2:])


@register_loss(
    family="energy", tasks=("classification", "structured_prediction", "energy_based"),
    input_kind="energies", target_kind="class_indices",
    aliases=("energy_hinge", "most_offending_margin"),
    properties=("convex", "nonnegative", "zero_at_optimum", "bounded_gradient",
                "robust_to_outliers"),
    summary="Margin (hinge) loss for energy-based models: the correct answer's energy must be "
            "at least `margin` below that of the most offending wrong answer.",
    formula="L_i = max(0, margin + E_i[y_i] - min_{c != y_i} E_i[c])",
    gradient="While the margin is violated: +1 on the correct answer's energy (push down) and "
             "-1 on the most offending wrong answer (pull up), nothing on the others; zero once "
             "the margin holds. Bounded, so badly wrong samples pull no harder than others.",
    when_to_use="Energy-based models and structured prediction where only a ranking of answers "
                "matters (no normalized probability needed), e.g. a learned compatibility score "
                "with a search over candidates. The energy form of the multiclass hinge "
                "(Crammer-Singer / structured SVM).",
    pitfalls="Only the most offending answer gets gradient, so with many near-duplicate wrong "
             "answers training can be slow; energy_nll pulls all of them. The margin is in "
             "energy units: the energy scale is otherwise free, so regularize it or the model "
             "can satisfy any margin by scaling up. Gives no calibrated probabilities.",
    references=("LeCun, Chopra, Hadsell, Ranzato & Huang, A Tutorial on Energy-Based Learning, "
                "in Predicting Structured Data, MIT Press 2006 (sections 2.2.3, 3).",
                "Crammer & Singer, On the Algorithmic Implementation of Multiclass Kernel-based "
                "Vector Machines, JMLR 2001."),
    example_inputs=_energy_examples, reference=_margin_reference, optimum=_well_separated,
)
def energy_margin(energies: torch.Tensor, target: torch.Tensor, *, margin: float = 1.0,
                  ignore_index: int = -100, weight: torch.Tensor | None = None,
                  reduction: Reduction = "mean") -> torch.Tensor:
    """Hinge on the gap between the correct energy and the lowest wrong energy.

    Shape:
        energies: ``[N, C]``, C >= 2; target: ``[N]`` class indices (``ignore_index`` rows do
        not count); weight: ``[N]``; output: scalar, or ``[N]`` with ``reduction="none"``.

    Example:
        >>> energy_margin(torch.tensor([[0.0, 0.5, 3.0]]), torch.tensor([0]))
        tensor(0.5000)
    """
    check_reduction(reduction)
    check_param("margin", margin, low=0.0)
    _check_energies(energies)
    if energies.shape[1] < 2:
        raise LossInputError(f"energies needs at least 2 candidate answers (C >= 2), got shape "
                             f"{tuple(energies.shape)}")
    safe_target, keep = _index_target(energies, target, ignore_index)
    e = upcast(energies)
    correct = e.gather(1, safe_target.unsqueeze(1)).squeeze(1)
    # The correct answer is excluded from the competitors by giving it +inf energy; min
    # then picks the most offending wrong answer and routes its gradient to that one only.
    offending = e.scatter(1, safe_target.unsqueeze(1), torch.inf).amin(1)
    loss = torch.relu(margin + correct - offending)
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight, mask=keep)


def _nll_reference(energies: torch.Tensor, target: torch.Tensor, *, beta: float = 1.0,
                   reduction: str = "mean") -> torch.Tensor:
    # torch's cross entropy on logits -beta * E, rescaled to energy units.
    return F.cross_entropy(-beta * energies, target, reduction=reduction) / beta


@register_loss(
    family="energy", tasks=("classification", "energy_based"), input_kind="energies",
    target_kind="class_indices_or_probabilities",
    aliases=("free_energy_nll", "softmin_nll", "gibbs_nll"),
    properties=("convex", "smooth", "nonnegative", "bounded_gradient"),
    summary="Negative log-likelihood of the Gibbs distribution p(c) ∝ exp(-beta E_c): the "
            "correct energy plus the free energy of all answers.",
    formula="L_i = E_i[y_i] + (1/beta) log sum_c exp(-beta E_i[c])  "
            "(= cross_entropy(-beta E, y) / beta; soft targets: sum_c p_c E_i[c] + same)",
    gradient="dL/dE_c = 1[c = y] - softmin_c(beta E): pushes the correct energy down and pulls "
             "every wrong answer up in proportion to its probability; bounded in [-1, 1].",
    when_to_use="Training an energy-based classifier or scorer when calibrated probabilities "
                "are wanted, or when many wrong answers compete. With beta = 1 it is exactly "
                "cross-entropy on logits -E; beta -> infinity approaches the perceptron loss "
                "E[y] - min_c E[c].",
    pitfalls="Over a large or continuous answer space the log-partition sum is intractable "
             "(sampling or contrastive approximations are then needed). The loss never "
             "reaches 0, so energies keep being pushed apart; regularize the energy scale. "
             "Pass energies (low = good), not logits: the sign matters.",
    references=("LeCun, Chopra, Hadsell, Ranzato & Huang, A Tutorial on Energy-Based Learning, "
                "in Predicting Structured Data, MIT Press 2006 (section 2.2.4, NLL loss).",),
    example_inputs=_energy_examples, reference=_nll_reference,
)
def energy_nll(energies: torch.Tensor, target: torch.Tensor, *, beta: float = 1.0,
               ignore_index: int = -100, weight: torch.Tensor | None = None,
               reduction: Reduction = "mean") -> torch.Tensor:
    """Gibbs NLL ``E[y] + logsumexp(-beta E) / beta`` (softmin cross-entropy).

    Shape:
        energies: ``[N, C]``; target: ``[N]`` class indices or ``[N, C]`` probabilities;
        weight: ``[N]``; output: scalar, or ``[N]`` with ``reduction="none"``.

    Example:
        >>> energy_nll(torch.tensor([[0.0, 0.0]]), torch.tensor([0]))
        tensor(0.6931)
    """
    check_reduction(reduction)
    check_param("beta", beta, low=0.0, low_inclusive=False)
    _check_energies(energies)
    e = upcast(energies)
    # log-sum-exp is shift-invariant and torch's implementation subtracts the max, so the
    # free energy is finite for energies of any magnitude.
    free_energy = torch.logsumexp(-beta * e, dim=1) / beta
    keep = None
    if isinstance(target, torch.Tensor) and target.is_floating_point():
        if target.shape != energies.shape:
            raise LossInputError(f"probability targets must have the energies' shape "
                                 f"{tuple(energies.shape)}, got {tuple(target.shape)}")
        check_probabilities("target", target)
        correct = (upcast(target) * e).sum(1)
    else:
        safe_target, keep = _index_target(energies, target, ignore_index)
        correct = e.gather(1, safe_target.unsqueeze(1)).squeeze(1)
    loss = correct + free_energy
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight, mask=keep)
