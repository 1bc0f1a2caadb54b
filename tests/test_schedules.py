"""Weight schedules: values at chosen steps against their closed forms."""

from __future__ import annotations

import math

import pytest

import losskit
from losskit.schedules import Constant, Cosine, Cyclical, LinearWarmup, Piecewise, as_schedule


def test_constant():
    assert [Constant(0.3)(s) for s in (0, 1, 10**6)] == [0.3, 0.3, 0.3]


def test_linear_warmup_with_delay():
    s = LinearWarmup(4, start=0.2, end=1.0, delay=2)
    # flat at start for `delay` steps, then start + (end - start) * t / steps
    expected = [0.2, 0.2, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0]
    assert [s(i) for i in range(8)] == pytest.approx(expected)


def test_cosine_decay_and_warmup():
    decay = Cosine(10, start=1.0, end=0.0)
    for step in (0, 3, 5, 10, 15):
        t = min(step / 10, 1.0)
        assert decay(step) == pytest.approx(0.5 * (1 + math.cos(math.pi * t)))
    warm = Cosine(10, start=0.0, end=2.0)
    assert (warm(0), warm(5), warm(10)) == pytest.approx((0.0, 1.0, 2.0))


def test_cyclical_ramps_then_holds_each_period():
    s = Cyclical(8, ratio=0.5, low=0.0, high=1.0)
    one_cycle = [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0]
    assert [s(i) for i in range(16)] == pytest.approx(one_cycle * 2)   # Fu et al. 2019 shape


def test_piecewise_steps():
    s = Piecewise([100, 200], [1.0, 0.5, 0.1])
    assert [s(i) for i in (0, 99, 100, 199, 200, 10**5)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]


def test_scaling_and_products():
    s = 0.5 * LinearWarmup(2)
    assert s(1) == pytest.approx(0.25)  # 0.5 x (1 of 2 warm-up steps) = 0.5 x 0.5
    assert (LinearWarmup(2) * 4)(1) == pytest.approx(2.0)
    assert (LinearWarmup(2) * Constant(3.0))(1) == pytest.approx(1.5)
    assert as_schedule(2)(7) == 2.0
    assert as_schedule(lambda step: step / 10)(5) == 0.5


def test_bad_schedules_raise():
    with pytest.raises(losskit.LossInputError, match="steps"):
        LinearWarmup(0)
    with pytest.raises(losskit.LossInputError, match="one more value"):
        Piecewise([1, 2], [1.0])
    with pytest.raises(losskit.LossInputError, match="increase strictly"):
        Piecewise([2, 2], [1.0, 0.5, 0.1])
    with pytest.raises(losskit.LossInputError, match="ratio"):
        Cyclical(10, ratio=0.0)
    with pytest.raises(losskit.LossInputError, match="step must be >= 0"):
        Constant(1.0)(-1)
    with pytest.raises(losskit.LossInputError, match="number or a schedule"):
        as_schedule("fast")
