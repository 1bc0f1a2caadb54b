"""Weight schedules for the terms of a composite loss, driven by a step counter.

A schedule maps an integer step (usually the optimizer step) to a float factor. In a
composite (:mod:`losskit.compose`) a term's weight is ``coefficient * schedule(step)``,
so ``"mse + 0.1*gaussian_kl"`` with ``schedules={"gaussian_kl": LinearWarmup(1000)}``
ramps the KL weight from 0 to 0.1 over the first 1000 steps (KL annealing). Schedules
are plain, stateless callables: the step lives in the composite (``composite.step()``
or the ``step=`` argument of its call).

Schedules multiply with numbers (``0.1 * Cosine(...)``) and, when multiplied with a
losskit loss module, give a composite term (``LinearWarmup(500) * kl_loss``).

>>> [round(LinearWarmup(4)(s), 2) for s in range(6)]
[0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

from ._core.validate import LossInputError, check_param

__all__ = ["Constant", "Cosine", "Cyclical", "LinearWarmup", "Piecewise", "Schedule"]


class Schedule:
    """Base class: ``schedule(step) -> float`` for integer steps >= 0."""

    def __call__(self, step: int) -> float:
        if step < 0:
            raise LossInputError(f"step must be >= 0, got {step}")
        return float(self.value(int(step)))

    def value(self, step: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def __mul__(self, other: Any) -> Any:
        if isinstance(other, Real) and not isinstance(other, bool):
            return _Scaled(self, float(other))
        if isinstance(other, Schedule):
            return _Product(self, other)
        return NotImplemented  # lets a loss module's __rmul__ build a composite term

    __rmul__ = __mul__

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class _Scaled(Schedule):
    def __init__(self, inner: Schedule, factor: float) -> None:
        self.inner, self.factor = inner, factor

    def value(self, step: int) -> float:
        return self.factor * self.inner(step)

    def __repr__(self) -> str:
        return f"{self.factor!r} * {self.inner!r}"


class _Product(Schedule):
    def __init__(self, a: Schedule, b: Schedule) -> None:
        self.a, self.b = a, b

    def value(self, step: int) -> float:
        return self.a(step) * self.b(step)

    def __repr__(self) -> str:
        return f"{self.a!r} * {self.b!r}"


class Constant(Schedule):
    """The same value at every step."""

    def __init__(self, value: float = 1.0) -> None:
        self.constant = float(value)

    def value(self, step: int) -> float:
        return self.constant


class LinearWarmup(Schedule):
    """Linear ramp from ``start`` to ``end`` over ``steps`` steps, then ``end``.

    ``delay`` holds ``start`` for that many steps first (e.g. let the reconstruction
    settle before the KL term switches on).
    """

    def __init__(self, steps: int, *, start: float = 0.0, end: float = 1.0,
                 delay: int = 0) -> None:
        check_param("steps", steps, low=1)
        check_param("delay", delay, low=0)
        self.steps, self.delay = int(steps), int(delay)
        self.start, self.end = float(start), float(end)

    def value(self, step: int) -> float:
        t = min(max(step - self.delay, 0) / self.steps, 1.0)
        return self.start + t * (self.end - self.start)


class Cosine(Schedule):
    """Half-cosine from ``start`` to ``end`` over ``steps`` steps, then ``end``.

    With ``start=1, end=0`` it is cosine decay (fade an auxiliary loss out); with
    ``start=0, end=1`` a smooth warm-up (zero slope at both ends).
    """

    def __init__(self, steps: int, *, start: float = 1.0, end: float = 0.0) -> None:
        check_param("steps", steps, low=1)
        self.steps, self.start, self.end = int(steps), float(start), float(end)

    def value(self, step: int) -> float:
        t = min(step / self.steps, 1.0)
        return self.end + (self.start - self.end) * 0.5 * (1.0 + math.cos(math.pi * t))


class Cyclical(Schedule):
    """Repeated linear ramps (cyclical KL annealing, Fu et al. 2019).

    Each cycle of ``period`` steps rises linearly from ``low`` to ``high`` during its
    first ``ratio`` fraction, then holds ``high`` for the rest of the cycle.
    """

    def __init__(self, period: int, *, ratio: float = 0.5, low: float = 0.0,
                 high: float = 1.0) -> None:
        check_param("period", period, low=1)
        check_param("ratio", ratio, low=0.0, high=1.0, low_inclusive=False)
        self.period, self.ratio = int(period), float(ratio)
        self.low, self.high = float(low), float(high)

    def value(self, step: int) -> float:
        phase = (step % self.period) / self.period
        t = min(phase / self.ratio, 1.0)
        return self.low + t * (self.high - self.low)


class Piecewise(Schedule):
    """Step schedule: ``values[k]`` from ``boundaries[k-1]`` (inclusive) to ``boundaries[k]``.

    ``Piecewise([100, 200], [1.0, 0.5, 0.1])`` is 1.0 for steps 0-99, 0.5 for 100-199 and
    0.1 from 200 on.
    """

    def __init__(self, boundaries: Sequence[int], values: Sequence[float]) -> None:
        boundaries, values = [int(b) for b in boundaries], [float(v) for v in values]
        if len(values) != len(boundaries) + 1:
            raise LossInputError(f"Piecewise needs one more value than boundaries, got "
                                 f"{len(boundaries)} boundaries and {len(values)} values")
        if any(b <= a for a, b in itertools.pairwise(boundaries)):
            raise LossInputError(f"boundaries must increase strictly, got {boundaries}")
        self.boundaries, self.values = boundaries, values

    def value(self, step: int) -> float:
        k = sum(step >= b for b in self.boundaries)
        return self.values[k]


def as_schedule(weight: float | Schedule) -> Schedule:
    """A float becomes :class:`Constant`; a schedule (or any callable of the step) is kept."""
    if isinstance(weight, Schedule):
        return weight
    if isinstance(weight, Real) and not isinstance(weight, bool):
        return Constant(float(weight))
    if callable(weight):
        return _Callable(weight)
    raise LossInputError(f"a term weight must be a number or a schedule, got "
                         f"{type(weight).__name__}")


class _Callable(Schedule):
    def __init__(self, fn: Callable[[int], float]) -> None:
        self.fn = fn

    def value(self, step: int) -> float:
        return float(self.fn(step))
