"""The ``properties`` check: every property a loss claims is measured, none is taken on trust.

Each claim in ``LossInfo.properties`` (see ``losskit._core.registry.PROPERTIES``) has a
test here that a loss without the property fails (``tests/test_verify.py`` plants one
bad loss per property):

* nonnegative: no element of ``reduction="none"`` below 0 on three random batches;
* zero_at_optimum: the loss at the known perfect prediction is 0;
* bounded_gradient / robust_to_outliers: scaling the inputs by 1000 does not make the
  largest gradient more than 10 times larger;
* convex: the loss at the midpoint of two inputs is at most the mean of the two losses;
* smooth: the gradients just either side of the optimum agree (no kink);
* handles_imbalance: the loss's imbalance mechanism moves gradient toward the rare
  class or the hard examples. With a knob (``pos_weight``, ``class_weight``, ``alpha``,
  ``gamma_neg``, ``gamma``), turning it up raises the share of the gradient on the
  positives / one class / the hardest half; without one (Dice, AUC surrogates), the
  rarest class gets a larger share of the gradient than under (binary) cross-entropy;
* proper_scoring: the expected loss under a Bernoulli or categorical target with true
  probability q is minimized at the prediction q.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ._outcome import Failed, Skipped
from ._subject import Args, Subject

__all__ = ["properties"]


def _grad_tensors(subject: Subject, args: Args) -> list[torch.Tensor]:
    return subject.grad_tensors(args)


def _total(subject: Subject, args: Args, **kw: Any) -> torch.Tensor:
    if kw:
        reduction = {"reduction": "sum"} if subject.takes_reduction else {}
        return subject.fn(*args, **reduction, **kw)
    return subject(*args, reduction="sum" if subject.takes_reduction else None)


def _grad_max(subject: Subject, args: Args) -> float:
    out = _total(subject, args)
    grads = torch.autograd.grad(out, _grad_tensors(subject, args), allow_unused=True)
    return max((float(g.abs().max()) for g in grads if g is not None and g.numel()), default=0.0)


def _scaled(subject: Subject, args: Args, factor: float) -> Args:
    out = list(args)
    for i in subject.grad_args:
        if i < len(args) and isinstance(args[i], torch.Tensor) and args[i].is_floating_point():
            out[i] = (args[i].detach() * factor).requires_grad_(True)
    return tuple(out)


def properties(subject: Subject) -> str:
    claims = set(subject.properties)
    if not claims:
        raise Skipped("claims no properties")
    done = []
    for seed in range(3):
        args = subject.example(seed=seed)
        if "nonnegative" in claims and subject.takes_reduction:
            values = subject(*args, reduction="none")
            low = float(values.detach().min()) if values.numel() else 0.0
            if low < -1e-12:
                raise Failed(f"claims nonnegative but an element scores {low:.4g}")
        if "zero_at_optimum" in claims:
            if subject.optimum is None:
                raise Failed("claims zero_at_optimum but has no known perfect prediction")
            best = subject.prepare(subject.optimum(args))
            value = float(subject(*best, reduction="mean").detach())
            if abs(value) > 1e-10:
                raise Failed(f"claims zero_at_optimum but scores {value:.4g} at the optimum")
        if claims & {"bounded_gradient", "robust_to_outliers"}:
            small = _grad_max(subject, args)
            big = _grad_max(subject, _scaled(subject, args, 1e3))
            if big > 10 * max(small, 1.0):
                raise Failed(f"claims a bounded gradient but the largest gradient grows from "
                             f"{small:.4g} to {big:.4g} when the inputs grow 1000x")
        if "convex" in claims:
            other = subject.example(seed=seed + 10)
            # Jensen's inequality at the midpoint, per element of reduction="none" where
            # there is one (a scalar mean can average a violation away), at three scales.
            red = "none" if subject.takes_reduction else None
            for scale in (0.1, 1.0, 3.0):
                a, b = args[0].detach() * scale, other[0].detach()
                with torch.no_grad():
                    mid = subject(*_with_first(args, 0.5 * (a + b)), reduction=red)
                    ends = 0.5 * (subject(*_with_first(args, a), reduction=red)
                                  + subject(*_with_first(args, b), reduction=red))
                gap = float((mid - ends).max()) if mid.numel() else 0.0
                if gap > 1e-9:
                    raise Failed(f"claims convexity but the loss at a midpoint exceeds the mean "
                                 f"of the ends by {gap:.4g}")
        if "smooth" in claims and subject.optimum is not None:
            opt = subject.prepare(subject.optimum(args))
            sides = []
            for eps in (1e-4, -1e-4):
                x = (opt[0].detach() + eps).requires_grad_(True)
                sides.append(torch.autograd.grad(subject(*_with_first(opt, x)), x)[0])
            jump = float((sides[0] - sides[1]).abs().max())
            if jump >= 1e-2:
                raise Failed(f"claims smoothness but the gradient jumps by {jump:.4g} across "
                             "the optimum")
    done = sorted(claims & {"nonnegative", "zero_at_optimum", "bounded_gradient",
                            "robust_to_outliers", "convex", "smooth"})
    if "handles_imbalance" in claims:
        done.append(_imbalance(subject))
    if "proper_scoring" in claims:
        done.append(_proper(subject))
    return "verified: " + ", ".join(done)


def _with_first(args: Args, first: torch.Tensor) -> Args:
    return (first, *args[1:])


# --- handles_imbalance -----------------------------------------------------------------------


def _gradient_share(subject: Subject, args: Args, select: torch.Tensor, **kw: Any) -> float:
    """Share of the input gradient's magnitude at the selected positions."""
    x = args[0].detach().clone().requires_grad_(True)
    out = _total(subject, (x, *args[1:]), **kw)
    (g,) = torch.autograd.grad(out, x)
    mag = g.abs()
    if mag.shape != select.shape:  # [N, C, *] input, [N, *] positions
        mag = mag.sum(1)
    total = float(mag.sum())
    return float(mag[select].sum()) / total if total > 0 else 0.0


def _rare_positions(args: Args) -> tuple[torch.Tensor, str, int | None]:
    x, target = args[0], args[1]
    if target.is_floating_point() and target.shape == x.shape:
        return target > 0.5, "the positives", None
    if not target.is_floating_point() and x.dim() >= 2 and target.shape == (x.shape[0],
                                                                            *x.shape[2:]):
        counts = torch.bincount(target.reshape(-1).clamp(min=0), minlength=x.shape[1])
        present = torch.nonzero(counts).reshape(-1)
        k = int(present[counts[present].argmin()])
        return target == k, f"class {k}", k
    raise Skipped("cannot tell the rare class of these targets")


def _imbalance(subject: Subject) -> str:
    args = subject.example(n=12, seed=5)
    if len(args) < 2 or not isinstance(args[1], torch.Tensor):
        raise Failed("claims handles_imbalance but takes no target to be imbalanced")
    select, what, k = _rare_positions(args)
    hyper = subject.hyperparameters
    c = args[0].shape[1] if args[0].dim() >= 2 else 1
    ones = torch.ones(c, dtype=args[0].dtype)
    boosted = ones.clone()
    if k is not None:
        boosted[k] = 10.0
    knobs: list[tuple[str, Any, Any, str]] = []
    if "pos_weight" in hyper:
        knobs.append(("pos_weight", 1.0, 10.0, what))
    if "class_weight" in hyper and k is not None:
        knobs.append(("class_weight", ones, boosted, what))
    if "alpha" in hyper and k is not None and hyper["alpha"] is None:
        knobs.append(("alpha", ones, boosted, what))
    if "alpha" in hyper and isinstance(hyper["alpha"], float) and k is None:
        knobs.append(("alpha", 0.5, 0.9, what))
    if "gamma_neg" in hyper:
        knobs.append(("gamma_neg", 0.0, 4.0, what))
    if "gamma" in hyper and not knobs:
        knobs.append(("gamma", 0.0, 2.0, "the hardest half"))
    if knobs:
        name, neutral, turned, label = knobs[0]
        if label == "the hardest half":
            with torch.no_grad():
                per = subject(*args, reduction="none") if subject.takes_reduction else None
            if per is None or per.shape != select.shape:
                raise Skipped("cannot rank examples by difficulty")
            select = per >= per.median()
        before = _gradient_share(subject, args, select, **{name: neutral})
        after = _gradient_share(subject, args, select, **{name: turned})
        if not after > before + 1e-6:
            raise Failed(f"claims handles_imbalance, but turning {name} up leaves the share of "
                         f"the gradient on {label} at {after:.3f} (was {before:.3f})")
        return f"handles_imbalance ({name} moves the gradient share on {label} " \
               f"{before:.2f} -> {after:.2f})"
    # No knob: the mechanism is built in; compare with (binary) cross-entropy.
    x, target = args[0].detach(), args[1]

    def baseline(z: torch.Tensor) -> torch.Tensor:
        if k is None:
            return F.binary_cross_entropy_with_logits(z, target.to(z.dtype), reduction="sum")
        return F.cross_entropy(z, target, reduction="sum")

    z = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(baseline(z), z)
    mag = g.abs() if g.shape == select.shape else g.abs().sum(1)
    base_share = float(mag[select].sum() / mag.sum())
    share = _gradient_share(subject, args, select)
    if not share > base_share:
        raise Failed(f"claims handles_imbalance, but {what} (the rarest) gets {share:.3f} of "
                     f"the gradient, no more than under cross-entropy ({base_share:.3f})")
    return f"handles_imbalance ({what} gets {share:.2f} of the gradient vs {base_share:.2f} " \
           "under cross-entropy)"


# --- proper_scoring --------------------------------------------------------------------------


def _proper(subject: Subject) -> str:
    args = subject.example(n=4, seed=3, requires_grad=False)
    x, target = args[0], args[1]
    if target.is_floating_point() and target.shape == x.shape:
        worst = 0.0
        for q in (0.15, 0.5, 0.8):
            z = torch.zeros(1, dtype=torch.float64, requires_grad=True)
            ones = torch.ones(1, dtype=torch.float64)
            zero = torch.zeros(1, dtype=torch.float64)

            def expected(z: torch.Tensor = z, q: float = q, ones: torch.Tensor = ones,
                         zero: torch.Tensor = zero) -> torch.Tensor:
                return (q * subject(z, ones, *args[2:], reduction="sum")
                        + (1 - q) * subject(z, zero, *args[2:], reduction="sum"))
            p = float(torch.sigmoid(_minimize(expected, z)))
            worst = max(worst, abs(p - q))
            if abs(p - q) > 1e-3:
                raise Failed(f"claims proper_scoring, but under a Bernoulli({q}) target the "
                             f"expected loss is minimized at p = {p:.4f}")
        return f"proper_scoring (Bernoulli: minimizer within {worst:.1e} of q)"
    if not target.is_floating_point() and x.dim() == 2:
        c = x.shape[1]
        weights = torch.linspace(1.0, 2.0, c, dtype=torch.float64)
        probs = weights / weights.sum()
        logits = torch.zeros(1, c, dtype=torch.float64, requires_grad=True)
        labels = [torch.tensor([k]) for k in range(c)]

        def expected_categorical() -> torch.Tensor:
            return sum((probs[k] * subject(logits, labels[k], *args[2:], reduction="sum")
                        for k in range(c)), torch.zeros((), dtype=torch.float64))
        found = torch.softmax(_minimize(expected_categorical, logits).detach(), dim=1)[0]
        err = float((found - probs).abs().max())
        if err > 1e-3:
            raise Failed(f"claims proper_scoring, but under a categorical target q the "
                         f"expected loss is minimized {err:.3g} away from q")
        return f"proper_scoring (categorical: minimizer within {err:.1e} of q)"
    raise Skipped("proper_scoring needs binary or class-index targets")


def _minimize(objective: Callable[[], torch.Tensor], z: torch.Tensor,
              steps: int = 300) -> torch.Tensor:
    """Newton-free gradient descent with backtracking; enough for a 1-5 parameter convex
    or quasi-convex expected loss."""
    lr = 1.0
    for _ in range(steps):
        value = objective()
        (g,) = torch.autograd.grad(value, z)
        with torch.no_grad():
            step = lr * g
            trial = z - step
            old = z.detach().clone()
            z.copy_(trial)
            if float(objective()) > float(value):
                z.copy_(old)
                lr *= 0.5
        if float(g.abs().max()) < 1e-10:
            break
    return z.detach()
