"""Input checks shared by every loss.

Each check raises :class:`LossInputError` whose message names the argument, what
was expected and what came. Shape and dtype checks read tensor metadata only.

Value checks (index ranges, probability ranges, signs) read the data. They run only
where reading is free and meaningful: CPU tensors in eager mode, outside any
transform. On CUDA (a host-device sync per call), on ``meta`` tensors, while
``torch.compile`` traces and inside ``torch.func`` transforms (``vmap``, ``grad``)
they are skipped, so a loss never synchronizes and always traces. They never change a
result: they raise or they stay silent. :func:`set_value_checks` and
:func:`value_checks` switch them off for the current thread (a context variable), e.g.
in a hot CPU loop once the inputs are known to be right.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence

import torch

__all__ = [
    "LossInputError",
    "check_broadcastable",
    "check_class_indices",
    "check_floating",
    "check_in_range",
    "check_integer",
    "check_ndim",
    "check_nonnegative",
    "check_pair",
    "check_param",
    "check_probabilities",
    "check_reduction",
    "check_same_shape",
    "readable",
    "set_value_checks",
    "value_checks",
    "value_checks_enabled",
]

REDUCTIONS = ("mean", "sum", "none")

# Per thread (and per asyncio task): one thread switching checks off leaves the others alone.
_VALUE_CHECKS: contextvars.ContextVar[bool] = contextvars.ContextVar("losskit_value_checks",
                                                                     default=True)


class LossInputError(ValueError):
    """A loss was called with inputs it cannot accept (shape, dtype, value range)."""


def set_value_checks(enabled: bool) -> None:
    """Turn the data-reading checks on or off for the current thread (shape checks always run)."""
    _VALUE_CHECKS.set(bool(enabled))


@contextlib.contextmanager
def value_checks(enabled: bool) -> Iterator[None]:
    """Context manager form of :func:`set_value_checks` (current thread only)."""
    token = _VALUE_CHECKS.set(bool(enabled))
    try:
        yield
    finally:
        _VALUE_CHECKS.reset(token)


def value_checks_enabled() -> bool:
    """Whether data-reading checks are on for the current thread."""
    return _VALUE_CHECKS.get()


def _has_storage(t: torch.Tensor) -> bool:
    # Tensors inside torch.func transforms (vmap's BatchedTensor, grad's wrapper) and the
    # fake tensors of tracing have no storage to read; asking for its address says so.
    try:
        t.data_ptr()
    except (RuntimeError, NotImplementedError):
        return False
    return True


def readable(*tensors: torch.Tensor | None) -> bool:
    """Whether a value check may read these tensors now: checks are on for this thread,
    nothing is being traced, and every tensor is a plain CPU tensor with storage (not
    CUDA: a sync; not meta; not inside ``vmap``/``grad``)."""
    # is_compiling first: dynamo cannot trace ContextVar.get (and checks never run there).
    if torch.compiler.is_compiling() or not _VALUE_CHECKS.get():
        return False
    for t in tensors:
        if t is None:
            continue
        if t.device.type != "cpu" or not _has_storage(t):
            return False
    return True


def _reading_values(t: torch.Tensor) -> bool:
    return t.numel() > 0 and readable(t)


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise LossInputError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_param(name: str, value: float | torch.Tensor, *, low: float | None = 0.0,
                high: float | None = None, low_inclusive: bool = True,
                high_inclusive: bool = True, learnable: bool = False,
                broadcast_to: torch.Size | None = None) -> None:
    """Check a hyperparameter lies in [low, high] (inclusive unless told).

    ``learnable=True`` marks a hyperparameter the loss differentiates when it is a tensor
    (a learnable temperature, margin, ...): such a tensor is range-checked like a value
    check, only where its data may be read (:func:`readable`), every element. It must have
    one element, unless the loss documents one value per element: then ``broadcast_to``
    is the shape it must broadcast to (Barron's per-dimension alpha, a per-label focal
    alpha). Any other hyperparameter must be a Python number: a tensor would be frozen (or
    read with a device sync), so it is refused with an error that says so.
    """
    if isinstance(value, torch.Tensor) and not learnable:
        raise LossInputError(
            f"{name} must be a Python number, got a tensor: this loss does not learn {name} "
            f"(pass float({name}) for a fixed value)"
        )
    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.dtype == torch.bool:
            raise LossInputError(f"{name} must be a real number or tensor, got dtype {value.dtype}")
        if broadcast_to is not None:
            check_broadcastable(name, value, broadcast_to)
        elif value.numel() != 1:
            raise LossInputError(
                f"{name} must be a number or a one-element tensor (a learnable scalar), got "
                f"shape {tuple(value.shape)}")
        if not (value.numel() and readable(value)):
            return
        with torch.no_grad():
            lo_v, hi_v = float(value.min()), float(value.max())
        if lo_v != lo_v or hi_v != hi_v:  # NaN
            raise LossInputError(f"{name} must be a number, got NaN")
        value_for_message = lo_v if (low is not None and (lo_v < low if low_inclusive
                                                          else lo_v <= low)) else hi_v
        _check_range(name, lo_v, low, high, low_inclusive, high_inclusive, value_for_message)
        _check_range(name, hi_v, low, high, low_inclusive, high_inclusive, hi_v)
        return
    _check_range(name, value, low, high, low_inclusive, high_inclusive, value)


def _check_range(name: str, value: float, low: float | None, high: float | None,
                 low_inclusive: bool, high_inclusive: bool, shown: float) -> None:
    bad_low = low is not None and (value < low if low_inclusive else value <= low)
    bad_high = high is not None and (value > high if high_inclusive else value >= high)
    if bad_low or bad_high or value != value:
        lo = "(-inf" if low is None else ("[" if low_inclusive else "(") + f"{low:g}"
        hi = "inf)" if high is None else f"{high:g}" + ("]" if high_inclusive else ")")
        raise LossInputError(f"{name} must lie in {lo}, {hi}, got {shown!r}")


def check_floating(name: str, t: torch.Tensor) -> None:
    if not isinstance(t, torch.Tensor):
        raise LossInputError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise LossInputError(
            f"{name} must be a floating-point tensor, got dtype {t.dtype}"
            + (" (class indices are only accepted as the target)" if name == "input" else "")
        )


def check_integer(name: str, t: torch.Tensor, hint: str = "") -> None:
    if not isinstance(t, torch.Tensor):
        raise LossInputError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise LossInputError(f"{name} must hold integer class indices, got dtype {t.dtype}{hint}")


def check_ndim(name: str, t: torch.Tensor, allowed: Sequence[int] | int, axes: str = "") -> None:
    allowed = (allowed,) if isinstance(allowed, int) else tuple(allowed)
    if t.dim() not in allowed:
        want = " or ".join(str(a) for a in allowed)
        described = f" ({axes})" if axes else ""
        raise LossInputError(
            f"{name} must have {want} dimensions{described}, got shape {tuple(t.shape)}"
        )


def check_same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise LossInputError(
            f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} "
            f"and {tuple(b.shape)}"
        )


def check_broadcastable(name: str, t: torch.Tensor | None, shape: torch.Size,
                        hint: str = "") -> None:
    """``t`` must broadcast to ``shape`` without enlarging it; ``hint`` ends the error."""
    if t is None:
        return
    if not isinstance(t, torch.Tensor):
        raise LossInputError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    try:
        out = torch.broadcast_shapes(t.shape, shape)  # type: ignore[no-untyped-call]
    except RuntimeError:
        out = None
    if out != shape:
        raise LossInputError(
            f"{name} of shape {tuple(t.shape)} does not broadcast to the loss shape "
            f"{tuple(shape)}{hint}")


def check_class_indices(name: str, target: torch.Tensor, num_classes: int,
                        ignore_index: int | None = None) -> bool:
    """Integer target whose entries are in 0..num_classes-1 (or equal ``ignore_index``).

    Returns True when the values were read and every entry is a class index in
    0..num_classes-1 (so none is an out-of-range ``ignore_index``): a caller may then
    skip building the mask of counted positions. False means "not read here" or "some
    entries are ignore_index", never that the target is wrong (that raises).
    """
    check_integer(name, target, hint=" (for probability targets pass a float tensor shaped like "
                                     "the input)")
    if not _reading_values(target):
        return False
    # One pass for the common case (every entry a class index): min and max together.
    lo, hi = (int(v) for v in torch.aminmax(target))
    if lo >= 0 and hi < num_classes:
        return True
    valid = target if ignore_index is None else target[target != ignore_index]
    if valid.numel() == 0:
        return False
    lo, hi = int(valid.min()), int(valid.max())
    if lo < 0 or hi >= num_classes:
        bad = lo if lo < 0 else hi
        extra = f" or ignore_index={ignore_index}" if ignore_index is not None else ""
        raise LossInputError(
            f"{name} contains class index {bad}, but the input has {num_classes} classes: "
            f"valid indices are 0..{num_classes - 1}{extra}"
        )
    return False


def check_in_range(name: str, t: torch.Tensor, low: float | None, high: float | None,
                   what: str = "values", *, low_inclusive: bool = True) -> None:
    if not _reading_values(t):
        return
    if low is not None and high is not None and low_inclusive and t.is_floating_point():
        # One pass and one read-back for both bounds (NaN fails both comparisons).
        lo_t, hi_t = torch.aminmax(t)
        lo, hi = lo_t.item(), hi_t.item()
        if lo >= low and hi <= high:
            return
        if not lo >= low:
            raise LossInputError(f"{name} must hold {what} >= {low:g}, found {lo:g}")
        raise LossInputError(f"{name} must hold {what} <= {high:g}, found {hi:g}")
    if low is not None:
        # an open lower end: log1p's -1, a positive exposure
        smallest = t.min()
        below = smallest < low if low_inclusive else smallest <= low
        if bool(below) or bool(torch.isnan(smallest)):
            raise LossInputError(f"{name} must hold {what} {'>=' if low_inclusive else '>'} "
                                 f"{low:g}, found {float(smallest):g}")
    if high is not None:
        largest = t.max()
        if bool(largest > high) or bool(torch.isnan(largest)):
            raise LossInputError(
                f"{name} must hold {what} <= {high:g}, found {float(largest):g}")


def check_probabilities(name: str, t: torch.Tensor) -> None:
    check_floating(name, t)
    check_in_range(name, t, 0.0, 1.0, what="probabilities in [0, 1]; values")


def check_nonnegative(name: str, t: torch.Tensor, why: str = "") -> None:
    if not _reading_values(t):
        return
    lo = t.detach().min()
    if bool(lo < 0):
        reason = f" ({why})" if why else ""
        raise LossInputError(f"{name} must be non-negative{reason}, found {float(lo):g}")


def check_pair(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
               reduction: str) -> None:
    """The checks of an elementwise loss: float input, same-shape target, weight, reduction."""
    # Hot path (every call of every elementwise loss): one expression when all is well.
    if (weight is None and reduction in REDUCTIONS and isinstance(input, torch.Tensor)
            and isinstance(target, torch.Tensor) and input.is_floating_point()
            and target.is_floating_point() and input.shape == target.shape):
        return
    check_reduction(reduction)
    check_floating("input", input)
    check_floating("target", target)
    check_same_shape("input", input, "target", target)
    check_broadcastable("weight", weight, input.shape)
