"""The checks, one function each, and the table that names and explains them.

A check takes a :class:`Subject` and returns a detail string (passed), or raises
:class:`Failed` or :class:`Skipped` with one. Any other exception raised by the loss
is a failure of that check. Numbers in details are the ones the verdict was based on.

Names shared with ``tests/test_common.py`` (gradcheck, reduction_consistency,
extreme_inputs, low_precision, batch_order) mean the same thing there, so one entry in a
loss's ``LossInfo.expected_failures`` covers both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.autograd.gradcheck import GradcheckError

from . import _transforms
from ._outcome import Failed, Skipped
from ._properties import properties
from ._subject import Args, Subject

__all__ = ["CHECKS", "LOW_PRECISION_TOL", "Check", "Failed", "Skipped"]

#: Relative / absolute tolerance of a low-precision result against float32 on the same
#: rounded inputs (the rounding of the inputs is not the loss's fault, the arithmetic is).
LOW_PRECISION_TOL = {torch.float16: (2e-2, 2e-3), torch.bfloat16: (6e-2, 1e-2)}

#: Input kinds that stay valid inputs when scaled to extreme magnitudes.
SCALABLE = frozenset({"logits", "values", "embeddings", "scores", "energies"})

EXTREME = 1e4



@dataclass(frozen=True)
class Check:
    name: str
    why: str
    run: Callable[[Subject], Any]
    default: bool = True


# --- helpers -------------------------------------------------------------------------------


def _g(x: float) -> str:
    return f"{x:.4g}"


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(torch.isclose(a.double(), b.double(), rtol=rtol,
                                                     atol=atol, equal_nan=False).all())


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().double() - b.detach().double()).abs().max()) if a.numel() else 0.0


def _scalar(out: Any, what: str = "the loss") -> torch.Tensor:
    if not isinstance(out, torch.Tensor):
        raise Failed(f"{what} returned {type(out).__name__}, not a tensor")
    if out.dim() != 0:
        raise Failed(f"{what} returned shape {tuple(out.shape)}, not a scalar")
    return out


def _mean(subject: Subject, args: Args) -> torch.Tensor:
    return _scalar(subject(*args, reduction="mean"))


def _grads(out: torch.Tensor, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    grads = torch.autograd.grad(out, inputs, allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads)]


def _replace(args: Args, new: dict[int, Any]) -> Args:
    return tuple(new.get(i, a) for i, a in enumerate(args))


def _batch_positions(subject: Subject, args: Args, n: int) -> list[int]:
    """Positions of batch-first tensors, or [] when the first argument is not batch-first."""
    if subject.input_kind == "parameters":  # a penalty on weights has no batch
        return []
    first = args[0]
    if not isinstance(first, torch.Tensor) or first.dim() == 0 or first.shape[0] != n or n < 2:
        return []
    return [i for i, a in enumerate(args)
            if isinstance(a, torch.Tensor) and a.dim() and a.shape[0] == n]


def _same_space_regression(subject: Subject, args: Args) -> bool:
    """Input and target are values in the same space, so the perfect input is the target."""
    return (subject.input_kind == "values" and subject.target_kind == "values"
            and len(args) > 1 and isinstance(args[1], torch.Tensor)
            and args[1].is_floating_point() and args[0].shape == args[1].shape)


# --- the checks ----------------------------------------------------------------------------


def finite_scalar(subject: Subject) -> str:
    out = _mean(subject, subject.example())
    if not out.is_floating_point():
        raise Failed(f"dtype {out.dtype} is not floating point")
    if not torch.isfinite(out):
        raise Failed(f"value {out.item()} on ordinary inputs")
    return f"{_g(out.item())} ({out.dtype})"


def differentiable(subject: Subject) -> str:
    args = subject.example()
    inputs = subject.grad_tensors(args)
    if not inputs:
        raise Skipped("no floating-point argument to differentiate")
    out = _mean(subject, args)
    if not out.requires_grad:
        raise Failed("the output is not attached to the inputs' graph (detached, .item(), "
                     "argmax or a numpy round trip)")
    grads = _grads(out, inputs)
    bad = [i for i, g in enumerate(grads) if not torch.isfinite(g).all()]
    if bad:
        raise Failed(f"non-finite gradient for argument(s) {bad}")
    norm = max(float(g.abs().max()) for g in grads)
    if norm == 0.0:
        raise Failed("the gradient is exactly zero on ordinary inputs: the loss cannot train")
    return f"max |grad| {_g(norm)}"


def gradcheck(subject: Subject) -> str:
    args = subject.example(n=3, seed=1)
    inputs = subject.grad_tensors(args)
    if not inputs:
        raise Skipped("no floating-point argument to differentiate")
    positions = [i for i in subject.grad_args if i < len(args) and args[i] is not None
                 and isinstance(args[i], torch.Tensor) and args[i].requires_grad]
    with torch.no_grad():
        dtype = _mean(subject, args).dtype if subject.takes_reduction else subject(*args).dtype
    if dtype != torch.float64:
        raise Skipped(f"the loss returns {str(dtype).removeprefix('torch.')} for float64 "
                      "inputs (it casts them, e.g. input.float()); finite differences need "
                      "float64 throughout")
    # Every reduction (a backward can be right for "mean" only), and for inputs that scale
    # freely a second point four times as spread (a branch for large errors or logits).
    points: list[tuple[str, str | None, list[torch.Tensor]]] = [
        (r or "default", r, inputs) for r in (("mean", "sum", "none") if subject.takes_reduction
                                              else (None,))]
    if subject.input_kind in SCALABLE:
        points.append(("mean, inputs x4" if subject.takes_reduction else "inputs x4",
                       "mean" if subject.takes_reduction else None,
                       [(x.detach() * 4).requires_grad_(True) for x in inputs]))
    for label, reduction, point in points:
        def fn(*diff: torch.Tensor, _reduction: str | None = reduction) -> torch.Tensor:
            return subject(*_replace(args, dict(zip(positions, diff))), reduction=_reduction)

        # Central differences at eps = 1e-6 in float64 carry about 1e-10 |f| of rounding:
        # an absolute tolerance of 1e-7 |f| leaves a wide margin and still sees a gradient
        # wrong by a few percent where the gradients are small (a mean over many elements;
        # a fixed 1e-5 let a 6% error of a Dice denominator through).
        with torch.no_grad():
            size = float(fn(*point).abs().max()) if point else 1.0
        atol = 1e-7 * max(1.0, size if math.isfinite(size) else 1.0)
        try:
            # fast_mode compares random projections u^T J v instead of the full Jacobian:
            # the same verdict on a wrong backward, at a cost independent of the input size.
            torch.autograd.gradcheck(fn, tuple(point), eps=1e-6, atol=atol, rtol=1e-4,
                                     fast_mode=True)
        except GradcheckError as exc:
            # A directional derivative puts one number on the disagreement.
            g = torch.Generator().manual_seed(0)
            dirs = [torch.randn(x.shape, generator=g, dtype=x.dtype) for x in point]
            out = fn(*point)
            weights = torch.randn(out.shape, generator=g, dtype=out.dtype)
            analytic = sum(float((gr * d).sum()) for gr, d in
                           zip(_grads((out * weights).sum(), point), dirs))
            h = 1e-6
            with torch.no_grad():
                plus = (fn(*(x + h * d for x, d in zip(point, dirs))) * weights).sum()
                minus = (fn(*(x - h * d for x, d in zip(point, dirs))) * weights).sum()
            numeric = float(plus - minus) / (2 * h)
            first = _transforms.gist(str(exc).strip().splitlines()[0])
            raise Failed(f"autograd and finite differences disagree ({label}): directional "
                         f"derivative {_g(analytic)} (autograd) vs {_g(numeric)} (finite "
                         f"differences); {first}") from None
    detail = (f"float64, {sum(x.numel() for x in inputs)} inputs agree with finite "
              f"differences ({'; '.join(label for label, _, _ in points)})")
    return detail + _module_parameters_agree(subject, args)


def _module_parameters_agree(subject: Subject, args: Args) -> str:
    """A module's own parameters (ArcFace's class centres, a learnable temperature): the
    directional derivative autograd gives along a random direction equals the central
    difference, on a float64 copy of the module (a ``.detach()`` of a parameter, or a
    parameter used outside autograd, gives autograd 0 and finite differences not)."""
    try:
        other, params = subject.float64_twin()
    except (RuntimeError, TypeError):
        return "; the module's parameters not checked (the module cannot be copied)"
    if not params:
        return ""
    point = tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in args)
    try:
        out = _mean(other, point)
    except RuntimeError:  # it computes in float32 whatever its parameters (emb.float() @ W)
        return "; the module's parameters not checked (it does not run in float64)"
    g = torch.Generator().manual_seed(8)
    dirs = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in params]
    norm = math.sqrt(sum(float(d.square().sum()) for d in dirs)) or 1.0
    dirs = [d / norm for d in dirs]  # one unit step in all of them: few ReLU kinks crossed
    grads = _grads(out, params) if out.requires_grad else [torch.zeros_like(p) for p in params]
    analytic = sum(float((gr * d).sum()) for gr, d in zip(grads, dirs))
    h = 1e-6
    with torch.no_grad():
        for p, d in zip(params, dirs):
            p.add_(h * d)
        moved = [p.clone() for p in params]
        plus = float(_mean(other, point))
        if any(not torch.equal(p, m) for p, m in zip(params, moved)):
            return ("; the module's parameters not checked (the loss rewrites them in its "
                    "forward, as a projection onto the sphere)")
        for p, d in zip(params, dirs):
            p.sub_(2 * h * d)
        minus = float(_mean(other, point))
    numeric = (plus - minus) / (2 * h)
    # A parameter cut from the graph gives 0 against a derivative of its full size: a loose
    # relative tolerance keeps kinks (ReLU) and rounding out of the verdict.
    if not math.isclose(analytic, numeric, rel_tol=1e-2, abs_tol=1e-7 * max(1.0, abs(plus))):
        raise Failed(f"the module's parameters: directional derivative {_g(analytic)} "
                     f"(autograd) vs {_g(numeric)} (finite differences); a parameter detached "
                     "or used outside autograd does not train")
    return f"; the module's {sum(p.numel() for p in params)} parameters agree too"


def gradient_direction(subject: Subject) -> str:
    args = subject.example(seed=2)
    inputs = subject.grad_tensors(args)
    if not inputs:
        raise Skipped("no floating-point argument to differentiate")
    positions = [i for i in subject.grad_args if i < len(args)
                 and isinstance(args[i], torch.Tensor) and args[i].requires_grad]
    before = _mean(subject, args)
    grads = _grads(before, inputs)
    gnorm = sum(float(g.square().sum()) for g in grads) ** 0.5
    if gnorm == 0.0:
        raise Skipped("zero gradient at the example: no direction to test")
    xnorm = sum(float(x.detach().square().sum()) for x in inputs) ** 0.5
    step = 1e-4 * max(xnorm, 1.0) / gnorm  # moves the inputs by 1e-4 of their size
    with torch.no_grad():
        moved = {p: (x - step * g).detach() for p, x, g in zip(positions, inputs, grads)}
        after = _mean(subject, _replace(args, moved))
    predicted = step * gnorm ** 2
    change = float(before.detach() - after)
    if not change > 0:
        moved_by = (f"raised the loss by {_g(-change)}" if change < 0
                    else "left the loss unchanged")
        raise Failed(f"a step against the gradient {moved_by} (from {_g(before.item())}; "
                     f"first-order prediction: a fall of {_g(predicted)}); the gradient points "
                     "the wrong way")
    detail = (f"step against the gradient lowers the loss by {_g(change)} "
              f"(predicted {_g(predicted)})")
    if _same_space_regression(subject, args) and 0 in positions:
        g0 = grads[positions.index(0)]
        if not _separable(subject, args, g0):
            return (detail + "; predictions are scored jointly (moving one changes the "
                    "others' gradients), so they need not each move toward their targets")
        toward = (args[1] - args[0]).detach()
        moving = g0 != 0
        agree = ((-g0).sign() == toward.sign())[moving]
        if agree.numel() and not bool(agree.all()):
            frac = 1.0 - float(agree.double().mean())
            raise Failed(f"{frac:.0%} of predictions would move away from their targets")
        detail += "; every prediction moves toward its target"
    return detail


def _separable(subject: Subject, args: Args, g0: torch.Tensor) -> bool:
    """Whether the loss is an increasing function of a sum of one term per prediction:
    moving half of the predictions leaves the gradient of the other half as it was, up to
    one positive factor (a correlation or a ranking loss scores them jointly, and then a
    prediction need not move toward its own target)."""
    x = args[0].detach()
    g = torch.Generator().manual_seed(6)
    half = torch.rand(x.shape, generator=g) < 0.5
    shift = torch.randn(x.shape, generator=g, dtype=x.dtype) * (0.1 * float(x.std()) + 0.1)
    moved = (x + torch.where(half, shift, 0.0)).requires_grad_(True)
    (g_moved,) = _grads(_mean(subject, _replace(args, {0: moved})), [moved])
    # g(sum of terms) (an RMSE, a log-MSE, a mean over a normalizer) rescales the other
    # half's gradients by g'(S) > 0, which keeps every direction: proportional counts.
    a, b = g_moved[~half].double(), g0.detach()[~half].double()
    scale = float((a * b).sum() / (b * b).sum()) if bool((b != 0).any()) else 1.0
    return scale > 0 and _close(a, scale * b, 1e-6, 1e-12)


def optimum(subject: Subject) -> str:
    if subject.optimum is None:
        raise Skipped("no known perfect prediction for this loss")
    example = subject.example(seed=3, requires_grad=False)
    best_args = subject.prepare(subject.optimum(example), requires_grad=False)
    if subject.optimum_is_limit:
        return _agreeing_logits(subject, example, best_args)
    with torch.no_grad():
        best = float(_mean(subject, best_args))
        at_example = float(_mean(subject, example))
        if not best <= at_example + 1e-9:
            raise Failed(f"the perfect prediction scores {_g(best)}, worse than a random "
                         f"prediction ({_g(at_example)})")
        x = best_args[0]
        g = torch.Generator().manual_seed(5)
        tol = 1e-6 * max(1.0, abs(best))
        lowest = (best, 0.0)
        for scale in (1e-1, 1e-3):
            for _ in range(4):
                d = torch.randn(x.shape, generator=g, dtype=x.dtype) * scale
                for sign in (1.0, -1.0):
                    value = float(_mean(subject, _replace(best_args, {0: x + sign * d})))
                    if value < lowest[0]:
                        lowest = (value, scale)
        if lowest[0] < best - tol:
            raise Failed(f"not a minimum: the perfect prediction scores {_g(best)} but a "
                         f"perturbation of size {lowest[1]:g} scores {_g(lowest[0])}")
        detail = f"perfect prediction {_g(best)} <= 16 nearby points and the random example"
        if "zero_at_optimum" in subject.properties and abs(best) > 1e-10:
            raise Failed(f"claims zero_at_optimum but scores {_g(best)} at the optimum")
        if "nonnegative" in subject.properties and subject.takes_reduction:
            lowest_value = min(float(subject(*a, reduction="none").min())
                               for a in (example, best_args, subject.example(seed=4)))
            if lowest_value < -1e-12:
                raise Failed(f"claims nonnegative but an element scores {_g(lowest_value)}")
            detail += "; nonnegative as claimed"
    return detail


def _agreeing_logits(subject: Subject, example: Args, confident: Args) -> str:
    """For a logits task: logits that agree with the targets at a moderate margin (3) must
    score below the random example and below uninformative logits (0). Not a local minimum
    test: cross-entropy's infimum is at infinite margin, and label smoothing or a
    temperature puts the minimizer at a finite margin the check cannot know."""
    agree = _replace(confident, {0: confident[0] * (3.0 / 20.0)})
    flat = _replace(confident, {0: torch.zeros_like(confident[0])})
    with torch.no_grad():
        at_agree, at_example, at_flat = (float(_mean(subject, a))
                                         for a in (agree, example, flat))
    if not (at_agree < at_example and at_agree < at_flat):
        raise Failed(f"logits that agree with the targets (margin 3) score {_g(at_agree)}, "
                     f"not below a random prediction ({_g(at_example)}) and uninformative "
                     f"logits ({_g(at_flat)}): the loss does not reward the right class")
    return (f"agreeing logits {_g(at_agree)} < random {_g(at_example)} and uninformative "
            f"{_g(at_flat)} (logits have no finite optimum to test as a minimum)")


def reduction_consistency(subject: Subject) -> str:
    if not subject.takes_reduction:
        raise Skipped("takes no reduction argument")
    args = subject.example(requires_grad=False)
    with torch.no_grad():
        none = subject(*args, reduction="none")
        total = _scalar(subject(*args, reduction="sum"), 'reduction="sum"')
        mean = _scalar(subject(*args, reduction="mean"), 'reduction="mean"')
    if not isinstance(none, torch.Tensor) or none.dim() == 0:
        raise Failed('reduction="none" returned a scalar: the argument is ignored')
    if not _close(total, none.sum(), 1e-6, 1e-8):
        raise Failed(f'reduction="sum" gives {_g(total.item())} but none.sum() is '
                     f"{_g(none.sum().item())} (mean {_g(mean.item())})")
    # "mean" divides the sum by the number of elements that count: all of them, or fewer
    # where some are masked out (ignore_index, anchors without positives), which "none"
    # reports as exact zeros. So the count lies between the nonzero elements and all.
    counted: float = none.numel()
    if not _close(mean, none.mean(), 1e-6, 1e-8):
        nonzero = int((none != 0).sum())
        counted = round(float(total / mean)) if float(mean) != 0 else 0
        weighted = _weighted_mean(subject, args, total, mean)
        if weighted is not None:
            counted = weighted
        elif not (nonzero <= counted <= none.numel()
                  and _close(mean * counted, total, 1e-6, 1e-8)):
            raise Failed(f'reduction="mean" gives {_g(mean.item())}, which is none.sum() / '
                         f"{_g(float(total / mean)) if float(mean) else 'inf'}; expected a count "
                         f"between the {nonzero} nonzero and all {none.numel()} elements "
                         f"(none.mean() = {_g(none.mean().item())})")
    try:
        subject(*args, reduction="average")
    except Exception:  # any error is the right answer to a typo
        pass
    else:
        raise Failed('reduction="average" was accepted silently; a typo should raise')
    return (f"sum {_g(total.item())} = none.sum(), mean {_g(mean.item())} = sum / "
            f"{_g(counted)} for {none.numel()} elements; unknown reduction raises")


def _weighted_mean(subject: Subject, args: Args, total: torch.Tensor,
                   mean: torch.Tensor) -> float | None:
    """The denominator of a weighted mean (torch's class-weighted cross-entropy divides by
    the summed weights of the targets), or None. Accepted when it is positive and doubles
    with the batch: the mean of the batch taken twice is the same, so the denominator
    counts the samples, weighted, rather than some other number."""
    if float(mean) == 0 or not float(total / mean) > 0:
        return None
    try:
        twice = _mean_of_the_batch_twice(subject, args)
    except Skipped:
        return None
    return float(total / mean) if _close(twice, mean, 1e-6, 1e-9) else None


def _mean_of_the_batch_twice(subject: Subject, args: Args) -> torch.Tensor:
    """The mean over the batch concatenated with itself; Skipped when the batch cannot be
    duplicated that way (not batch-first, or samples that depend on each other)."""
    n = subject.n
    positions = _batch_positions(subject, args, n)
    if not positions:
        raise Skipped("the first argument is not batch-first")
    doubled = _replace(args, {i: torch.cat([args[i], args[i]]) for i in positions})
    with torch.no_grad():
        if not _per_sample_independent(subject, args, doubled, n):
            raise Skipped("each sample's loss depends on the rest of the batch (in-batch "
                          "negatives or pairs), so the mean need not survive duplication")
        return _mean(subject, doubled)


def _per_sample_independent(subject: Subject, args: Args, doubled: Args, n: int) -> bool:
    """Whether each sample's unreduced loss ignores the rest of the batch."""
    if not subject.takes_reduction:
        return _additive(subject, args, n)
    none_1 = subject(*args, reduction="none")
    none_2 = subject(*doubled, reduction="none")
    if none_1.dim() == 0 or none_1.shape[0] != n or none_2.shape[0] != 2 * n:
        return True
    return _close(none_2[:n], none_1, 1e-6, 1e-9)


def _additive(subject: Subject, args: Args, n: int) -> bool:
    """For a loss with no ``reduction`` argument: whether its mean is a sum of one term per
    sample divided by some count ``c(n)`` (right or wrong, which batch_size then judges).

    With ``S`` the sum and halves ``A``, ``B`` of ``m`` samples: ``c(2m) f(AA) = 2 c(m) f(A)``
    (``A`` taken twice) and ``c(2m) f(AB) = c(m) (f(A) + f(B))``, so
    ``f(AB) = (f(A) + f(B)) f(AA) / (2 f(A))`` whatever ``c``. A loss that couples the
    samples (in-batch negatives, a batch statistic) breaks it. Three splits are tried (the
    halves, even and odd rows, a shuffle): a half without a positive pair scores 0 in a
    contrastive loss, which decides nothing. Undecidable on every split counts as additive."""
    m = n // 2
    if m < 2:
        return True
    positions = _batch_positions(subject, args, n)

    def rows(*parts: torch.Tensor) -> Args:
        return _replace(args, {i: torch.cat([args[i][p] for p in parts]) for i in positions})

    shuffled = torch.randperm(n, generator=torch.Generator().manual_seed(7))
    splits = [(torch.arange(0, m), torch.arange(m, 2 * m)),
              (torch.arange(0, 2 * m, 2), torch.arange(1, 2 * m, 2)),
              (shuffled[:m], shuffled[m:2 * m])]
    for a, b in splits:
        f_a, f_b = float(_mean(subject, rows(a))), float(_mean(subject, rows(b)))
        f_aa, f_ab = float(_mean(subject, rows(a, a))), float(_mean(subject, rows(a, b)))
        if abs(f_a) < 1e-9 or abs(f_aa) < 1e-9:
            continue
        predicted = (f_a + f_b) * f_aa / (2 * f_a)
        if not math.isclose(f_ab, predicted, rel_tol=1e-6, abs_tol=1e-9):
            return False
    return True


def batch_size(subject: Subject) -> str:
    args = subject.example(requires_grad=False)
    n = subject.n
    twice = _mean_of_the_batch_twice(subject, args)
    with torch.no_grad():
        once = _mean(subject, args)
    if not _close(once, twice, 1e-6, 1e-9):
        raise Failed(f"mean over a batch of {n}: {_g(once.item())}; over the same batch twice "
                     f"({2 * n}): {_g(twice.item())} (ratio {_g(twice.item() / once.item())}); "
                     "the mean divides by a count that is not the number of elements")
    return f"{_g(once.item())} for the batch of {n} and for it duplicated"


def pure(subject: Subject) -> str:
    args = subject.example(requires_grad=False)
    before = [a.clone() if isinstance(a, torch.Tensor) else None for a in args]
    with torch.no_grad():
        first, second = _mean(subject, args), _mean(subject, args)
    for i, (a, b) in enumerate(zip(args, before)):
        if b is not None and not (torch.equal(a, b) or (a.is_floating_point() and bool(
                torch.isclose(a, b, rtol=0.0, atol=0.0, equal_nan=True).all()))):
            raise Failed(f"argument {i} was modified by the call (an in-place operation on a "
                         "caller's tensor: the model's output or the labels change under it)")
    if not _close(first, second, 1e-12, 0.0):
        raise Failed(f"the same call twice gives {_g(first.item())} and {_g(second.item())}: "
                     "the loss is random or keeps state between calls (a buffer it updates), "
                     "so no other check's numbers can be trusted")
    return f"{_g(first.item())} twice; arguments unchanged"


def ignore_index(subject: Subject) -> str:
    ignored = subject.ignore_index
    if ignored is None:
        raise Skipped("the loss takes no ignore_index")
    args = subject.example(requires_grad=False)
    if (len(args) < 2 or not isinstance(args[1], torch.Tensor) or args[1].is_floating_point()
            or args[1].dim() == 0 or not isinstance(args[0], torch.Tensor)
            or args[0].dim() == 0 or args[0].shape[0] != args[1].shape[0]):
        raise Skipped("the target is not batch-first class indices")
    # Rows whose every target is ignore_index, appended to the batch: whatever the loss does
    # with the rest (class weights, label smoothing, a shift of the labels for next-token
    # prediction), such rows must change neither the loss nor any gradient, and their own
    # logits must not matter. A mean over every position, or an ignore_index never
    # applied, moves the loss.
    x, target = args[0].detach(), args[1]
    extra = 3
    g = torch.Generator().manual_seed(9)
    padded_target = torch.cat([target, torch.full((extra, *target.shape[1:]), ignored,
                                                  dtype=target.dtype)])
    values, grads = [], []
    base = x.clone().requires_grad_(True)
    out = _mean(subject, _replace(args, {0: base}))
    values.append(out.detach())
    grads.append(_grads(out, [base])[0])
    for scale in (1.0, 5.0):
        rows = scale * torch.randn((extra, *x.shape[1:]), generator=g, dtype=x.dtype)
        inp = torch.cat([x, rows]).requires_grad_(True)
        padded = _replace(args, {0: inp, 1: padded_target,
                                 **{k: torch.cat([a, a[:1].expand(extra, *a.shape[1:])])
                                    for k, a in enumerate(args)
                                    if k > 1 and isinstance(a, torch.Tensor) and a.dim()
                                    and a.shape[0] == x.shape[0]}})
        out = _mean(subject, padded)
        values.append(out.detach())
        grads.append(_grads(out, [inp])[0])
    where = f"{extra} rows of targets all equal to ignore_index={ignored} added to the batch"
    if not _close(values[0], values[1], 1e-9, 1e-12):
        raise Failed(f"{where} change the mean from {_g(values[0].item())} to "
                     f"{_g(values[1].item())}: ignored targets are counted (as a class, or in "
                     "the mean's denominator)")
    if not _close(values[1], values[2], 1e-9, 1e-12):
        raise Failed(f"{where}: their logits change the loss; ignored positions are not left "
                     "out")
    if bool(grads[1][x.shape[0]:].abs().gt(0).any()):
        raise Failed(f"{where}: the ignored rows receive gradients")
    if not _close(grads[1][:x.shape[0]], grads[0], 1e-9, 1e-12):
        raise Failed(f"{where}: the gradients of the other rows change")
    return f"{where}: the loss, its gradients and the mean's count are unchanged"


def empty_batch(subject: Subject) -> str:
    args = subject.example(requires_grad=False)
    positions = _batch_positions(subject, args, subject.n)
    if not positions:
        raise Skipped("the first argument is not batch-first")
    if subject.fixed_example:
        empty = subject.prepare(_replace(args, {i: args[i][:0] for i in positions}))
    else:
        empty = subject.example(n=0)
    out = _scalar(subject(*empty, reduction="mean") if subject.takes_reduction
                  else subject(*empty), "the loss of an empty batch")
    if not bool(torch.isfinite(out)):
        raise Failed(f"an empty batch (or a selection that comes out empty) gives "
                     f"{out.item()}: a mean over zero elements; divide by max(count, 1) so it "
                     "is 0")
    inputs = subject.grad_tensors(empty)
    if inputs:
        if not out.requires_grad:
            raise Failed("the loss of an empty batch has no graph, so loss.backward() raises "
                         "in the training step that meets one; return a zero that depends on "
                         "the input (input.sum() * 0)")
        if not all(bool(torch.isfinite(g).all()) for g in _grads(out, inputs)):
            raise Failed("an empty batch gives non-finite gradients")
    return f"{_g(out.item())}, with a graph to the inputs" if inputs else _g(out.item())


def batch_order(subject: Subject) -> str:
    args = subject.example(requires_grad=False)
    n = subject.n
    positions = _batch_positions(subject, args, n)
    if not positions:
        raise Skipped("the first argument is not batch-first")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        plain = _mean(subject, args)
        shuffled = _mean(subject, _replace(args, {i: args[i][perm] for i in positions}))
    if not _close(plain, shuffled, 1e-6, 1e-9):
        raise Failed(f"{_g(plain.item())} in order, {_g(shuffled.item())} shuffled")
    return f"{_g(plain.item())} in any order of the batch"


def extreme_inputs(subject: Subject) -> str:
    if subject.input_kind not in SCALABLE:
        raise Skipped(f"{subject.input_kind or 'unknown'} inputs cannot be scaled freely")
    base = subject.example(dtype=torch.float32)
    cases = {f"x{EXTREME:g}": {i: base[i].detach() * EXTREME for i in subject.grad_args
                               if i < len(base) and isinstance(base[i], torch.Tensor)
                               and base[i].is_floating_point()}}
    if _same_space_regression(subject, base):
        y = base[1].detach()
        # Over-predictions, so losses with a one-sided domain (msle) stay inside it.
        cases["error 1e-6"] = {0: y + 1e-6}
        cases[f"error {EXTREME:g}"] = {0: y + EXTREME}
    worst = 0.0
    for label, new in cases.items():
        args = _replace(base, {i: t.clone().requires_grad_(True) for i, t in new.items()})
        out = _mean(subject, args)
        if not torch.isfinite(out):
            raise Failed(f"value {out.item()} at {label} (float32)")
        grads = _grads(out, subject.grad_tensors(args)) if out.requires_grad else []
        for g in grads:
            if not torch.isfinite(g).all():
                raise Failed(f"non-finite gradient at {label} (float32)")
        worst = max(worst, abs(out.item()))
    return f"finite values and gradients at {', '.join(cases)} (float32); max |loss| {_g(worst)}"


def low_precision(subject: Subject) -> str:
    parts = []
    for dtype, (rtol, atol) in LOW_PRECISION_TOL.items():
        low = subject.example(dtype=dtype, requires_grad=False)
        same_values = tuple(a.float() if isinstance(a, torch.Tensor) and a.dtype == dtype else a
                            for a in low)
        name = str(dtype).removeprefix("torch.")
        with torch.no_grad():
            try:
                out_low = _mean(subject, low)
            except NotImplementedError as exc:
                raise Skipped(f"{name} has no kernel here for an operator of the loss "
                              f"({_transforms.gist(str(exc))}); run the check where it has "
                              "one (a GPU)") from None
            except RuntimeError as exc:
                if "without overflow" not in str(exc):
                    raise
                raise Failed(f"{name} raises: {_transforms.gist(str(exc))}: a constant the loss "
                             f"writes into a {name} tensor (a mask fill of -1e9, say) is out of "
                             f"its range; use torch.finfo(x.dtype).min or compute in float32"
                             ) from None
            out_32 = _mean(subject, same_values)
        if not torch.isfinite(out_low):
            raise Failed(f"{name} gives {out_low.item()} where float32 gives {_g(out_32.item())}")
        if not _close(out_low.float(), out_32, rtol, atol):
            raise Failed(f"{name} gives {_g(out_low.item())}, float32 {_g(out_32.item())} on the "
                         f"same inputs (rtol {rtol:g}, atol {atol:g})")
        parts.append(f"{name} {_g(out_low.item())}")
    return f"{', '.join(parts)} vs float32 {_g(out_32.item())}"


def reference(subject: Subject) -> str:
    if subject.reference is None:
        raise Skipped("no reference implementation given")
    reductions: list[str | None] = [None]
    if subject.takes_reduction:
        reductions = ["mean", "sum", "none"]
    worst = 0.0
    for reduction in reductions:
        args = subject.example(n=5, seed=2)
        ref_args = subject.prepare(args)
        ours = subject(*args, reduction=reduction)
        kw = {} if reduction is None else {"reduction": reduction}
        theirs = subject.reference(*ref_args, **kw)
        label = reduction or "default"
        if not _close(ours, theirs, 1e-6, 1e-6):
            detail = (f"max difference {_g(_max_diff(ours, theirs))}" if ours.shape == theirs.shape
                      else f"shapes {tuple(ours.shape)} vs {tuple(theirs.shape)}")
            raise Failed(f"value ({label}) differs from the reference: {detail}")
        worst = max(worst, _max_diff(ours, theirs))
        if ours.dim() == 0 and ours.requires_grad and theirs.requires_grad:
            for a, b in zip(_grads(ours, subject.grad_tensors(args)),
                            _grads(theirs, subject.grad_tensors(ref_args))):
                if not _close(a, b, 1e-6, 1e-6):
                    raise Failed(f"gradient ({label}) differs from the reference's by up to "
                                 f"{_g(_max_diff(a, b))}")
                worst = max(worst, _max_diff(a, b))
    return f"values and gradients match ({', '.join(r or 'default' for r in reductions)}); " \
           f"max difference {_g(worst)}"


def _convergence(subject: Subject) -> Any:
    from ._convergence import converge

    return converge(subject)


CHECKS: dict[str, Check] = {c.name: c for c in (
    Check("finite_scalar", "a loss that is NaN, inf or not a scalar cannot be back-propagated "
          "or logged", finite_scalar),
    Check("pure", "the same call must give the same value and leave its arguments alone; a "
          "random or stateful loss, or one that edits the model's output in place, makes "
          "every other number meaningless", pure),
    Check("differentiable", "gradients must reach the inputs and be finite, or the model "
          "silently stops learning", differentiable),
    Check("gradcheck", "a hand-written backward or a non-differentiable op gives gradients that "
          "disagree with the loss's own values (float64 finite differences)", gradcheck),
    Check("gradient_direction", "a sign error trains the model away from the data; a small "
          "step against the gradient must lower the loss", gradient_direction),
    Check("optimum", "the perfect prediction must be a minimum, or training converges to the "
          "wrong answer", optimum),
    Check("reduction_consistency", '"sum" must equal none.sum() and "mean" none.mean(), or '
          "learning rates and logged values silently change meaning", reduction_consistency),
    Check("batch_size", "a mean over the wrong count makes the effective learning rate depend "
          "on the batch size", batch_size),
    Check("batch_order", "shuffling the batch must not change a mean", batch_order),
    Check("ignore_index", "targets equal to ignore_index must change neither the loss nor any "
          "gradient, nor the count 'mean' divides by", ignore_index),
    Check("empty_batch", "a batch (or a masked selection) that comes out empty must give a "
          "finite loss that back-propagates, not a NaN from a mean over zero elements (off "
          "by default: torch's own losses give NaN there)", empty_batch, default=False),
    Check("extreme_inputs", "confident logits (1e4) and tiny or huge errors occur in real "
          "training; an overflow there is a NaN that ends the run", extreme_inputs),
    Check("low_precision", "mixed-precision training feeds float16/bfloat16; the loss must stay "
          "finite and close to float32", low_precision),
    Check("reference", "an independent implementation catches formula mistakes that every "
          "self-consistency check misses", reference),
    Check("convergence", "the end-to-end test: training a small model with the loss must reach "
          "a known answer on a synthetic problem", _convergence),
    Check("properties", "every property a loss claims (nonnegative, bounded gradient, convex, "
          "handles imbalance, proper scoring, ...) must hold when measured", properties),
    Check("meta", "a loss that reads tensor data or copies between the host and the device "
          "syncs the GPU on every call; on meta tensors there is no data to read, and the "
          "copies are recorded", _transforms.meta),
    Check("vmap", "per-sample gradients (torch.func.vmap of grad) must equal a loop over "
          "samples", _transforms.vmap),
    Check("double_backward", "gradient penalties and meta-learning differentiate the gradient; "
          "create_graph=True must give exact second derivatives", _transforms.double_backward),
    Check("learnable", "a tensor hyperparameter that requires grad must get its exact gradient "
          "or be refused; a silently frozen temperature never learns", _transforms.learnable),
    Check("nan_propagation", "a NaN in the input or target must surface as a NaN loss or an "
          "error, never as a finite value", _transforms.nan_propagation),
    Check("compile", "torch.compile(fullgraph=True) must trace the loss without a graph break "
          "and give the eager value and gradients (slow; off by default)",
          _transforms.compiled, default=False),
)}
