"""Property-based tests (hypothesis) over random shapes and values.

For the elementwise regression losses and the classification / distribution losses:
the value and the gradient are finite, "nonnegative" claims hold, ``reduction="none"``
has the documented shape (the input's shape for elementwise losses, ``[N, *]`` for losses
with a class dimension at 1), ``"sum"`` is ``none.sum()``, and ``"mean"`` is
``none.mean()`` (or ``none.sum() / #counted`` when targets are ignored). Examples are few
(the CPU is shared); each test still sees a new random draw of shapes and values per run.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import losskit

SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ELEMENTWISE = ["mse", "mae", "huber", "smooth_l1", "log_cosh", "quantile", "msle", "poisson_nll",
               "binary_cross_entropy", "sigmoid_focal", "asymmetric_multilabel", "hinge"]
CLASS_DIM = ["cross_entropy", "nll", "softmax_focal", "multiclass_hinge", "poly1_cross_entropy",
             "kl_div", "js_div"]

SOFT_TARGETS = {"cross_entropy", "softmax_focal", "poly1_cross_entropy"}
IGNORE_INDEX = {"cross_entropy", "nll", "softmax_focal", "poly1_cross_entropy"}

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)


def floats(low, high):
    return st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)


def tensor(draw, shape, low, high):
    return torch.from_numpy(draw(hnp.arrays(np.float64, shape, elements=floats(low, high))))


@st.composite
def elementwise_case(draw, name):
    shape = draw(shapes)
    if name == "msle":
        return tensor(draw, shape, 0, 1e3), tensor(draw, shape, 0, 1e3)
    if name == "poisson_nll":
        counts = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 50)))
        return tensor(draw, shape, -20, 20), torch.from_numpy(counts).double()
    if name == "hinge":
        labels = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 1)))
        return tensor(draw, shape, -1e3, 1e3), torch.from_numpy(labels)
    if name in ("binary_cross_entropy", "sigmoid_focal", "asymmetric_multilabel"):
        return tensor(draw, shape, -1e3, 1e3), tensor(draw, shape, 0, 1)
    return tensor(draw, shape, -1e3, 1e3), tensor(draw, shape, -1e3, 1e3)


@st.composite
def class_case(draw, name):
    n = draw(st.integers(1, 5))
    classes = draw(st.integers(2, 5))
    spatial = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    shape = (n, classes, *spatial)
    logits = tensor(draw, shape, -1e3, 1e3)
    soft_allowed = name in SOFT_TARGETS
    if name in ("kl_div", "js_div") or (soft_allowed and draw(st.booleans())):
        return logits, torch.softmax(tensor(draw, shape, -10, 10), dim=1)
    low = -1 if name in IGNORE_INDEX else 0
    target = torch.from_numpy(draw(hnp.arrays(np.int64, (n, *spatial),
                                              elements=st.integers(low, classes - 1))))
    target = torch.where(target < 0, -100, target)  # -1 stands for an ignored position
    if name == "nll":
        logits = torch.log_softmax(logits, dim=1)
    return logits, target


def check_reductions(info, x, y, expected_none_shape, counted=None):
    x = x.requires_grad_(True)
    none = info.fn(x, y, reduction="none")
    assert none.shape == expected_none_shape
    assert torch.isfinite(none).all()
    if "nonnegative" in info.properties:
        assert (none >= -1e-9).all(), f"{info.name} claims nonnegative, got {none.min()}"
    torch.testing.assert_close(info.fn(x, y, reduction="sum"), none.sum())
    mean = info.fn(x, y, reduction="mean")
    if counted is None:
        torch.testing.assert_close(mean, none.mean())
    else:
        expected = none.sum() / counted if counted else torch.zeros((), dtype=none.dtype)
        torch.testing.assert_close(mean, expected)
    (grad,) = torch.autograd.grad(mean, x)
    assert torch.isfinite(grad).all(), f"{info.name} gradient not finite"


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_losses_properties(name):
    info = losskit.info(name)

    @SETTINGS
    @given(elementwise_case(name))
    def run(case):
        x, y = case
        check_reductions(info, x, y, x.shape)

    run()


@pytest.mark.parametrize("name", CLASS_DIM)
def test_class_dimension_losses_properties(name):
    info = losskit.info(name)

    @SETTINGS
    @given(class_case(name))
    def run(case):
        x, y = case
        position_shape = (x.shape[0], *x.shape[2:])
        counted = None
        if not y.is_floating_point() and (y == -100).any():
            counted = int((y != -100).sum())
            none = info.fn(x, y, reduction="none")
            assert (none[y == -100] == 0).all(), "ignored positions give 0 in 'none'"
        check_reductions(info, x, y, position_shape, counted)

    run()


@SETTINGS
@given(class_case("multiclass_hinge"), floats(0.0, 0.5))
def test_one_hot_probability_targets_equal_index_targets(case, eps):
    x, y = case  # index targets in 0..C-1 (multiclass_hinge draws no ignored positions)
    one_hot = torch.nn.functional.one_hot(y, x.shape[1]).movedim(-1, 1).double()
    for name in ("cross_entropy", "poly1_cross_entropy"):
        fn = losskit.info(name).fn
        torch.testing.assert_close(fn(x, one_hot, label_smoothing=eps, reduction="none"),
                                   fn(x, y, label_smoothing=eps, reduction="none"))
    fn = losskit.info("softmax_focal").fn
    torch.testing.assert_close(fn(x, one_hot, reduction="none"), fn(x, y, reduction="none"))


@SETTINGS
@given(class_case("kl_div"))
def test_js_div_is_bounded_by_log_two(case):
    x, p = case
    js = losskit.info("js_div").fn(x, p, reduction="none")
    assert (js <= np.log(2) + 1e-9).all()
