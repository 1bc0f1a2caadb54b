"""Bad inputs raise LossInputError whose message names the argument and the bad value.

Each case is (call, fragments): every fragment must appear in the message, so a message
that loses the argument's name or the offending value fails the test.
"""

from __future__ import annotations

import pytest
import torch

import losskit
from losskit import functional as F


def _x(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


IDX = torch.tensor([0, 1])

CASES = {
    # shape mismatch
    "mse shape": (lambda: F.mse(_x(3), _x(4)), ["input", "target", "(3,)", "(4,)"]),
    "bce shape": (lambda: F.binary_cross_entropy(_x(2, 3), torch.rand(2, 4)),
                  ["input", "target", "(2, 3)", "(2, 4)"]),
    "ce target shape": (lambda: F.cross_entropy(_x(2, 3), torch.tensor([0, 1, 2])),
                        ["target", "(2,)", "(3,)"]),
    "ce input 1-d": (lambda: F.cross_entropy(_x(3), torch.tensor(1)),
                     ["input", "[N, C, *]", "(3,)"]),
    "kl shape": (lambda: F.kl_div(_x(2, 3), torch.full((2, 4), 0.25)),
                 ["input", "target", "(2, 4)"]),
    "perplexity layout": (lambda: F.perplexity(_x(2, 5, 3), torch.zeros(2, 3, dtype=torch.long)),
                          ["target", "(2, 5)", "(2, 3)"]),
    "weight shape": (lambda: F.cross_entropy(_x(2, 3), IDX, weight=torch.ones(3)),
                     ["weight", "(3,)", "(2,)"]),
    "class_weight shape": (lambda: F.cross_entropy(_x(2, 3), IDX, class_weight=torch.ones(4)),
                           ["class_weight", "(3,)", "(4,)"]),
    "pos_weight shape": (lambda: F.binary_cross_entropy(_x(2, 3), torch.rand(2, 3),
                                                        pos_weight=torch.ones(2)),
                         ["pos_weight", "(2,)", "(2, 3)"]),
    "alpha shape": (lambda: F.softmax_focal(_x(2, 3), IDX, alpha=[1.0, 2.0]), ["alpha", "(2,)"]),
    # float targets where indices are needed, and the reverse
    "ce float indices": (lambda: F.cross_entropy(_x(2, 3), torch.tensor([0.0, 1.0])),
                         ["target", "torch.float32", "integer"]),
    "nll float indices": (lambda: F.nll(_x(2, 3), torch.tensor([0.0, 1.0])),
                          ["target", "torch.float32", "integer"]),
    "multiclass_hinge float": (lambda: F.multiclass_hinge(_x(2, 3), torch.tensor([0.0, 1.0])),
                               ["target", "torch.float32", "integer"]),
    "ce integer one-hot": (lambda: F.cross_entropy(_x(2, 3), torch.eye(3, dtype=torch.long)[:2]),
                           ["target", "torch.int64", "floating point"]),
    "mse integer target": (lambda: F.mse(_x(3), torch.tensor([1, 2, 3])),
                           ["target", "floating-point", "torch.int64"]),
    "ce integer input": (lambda: F.cross_entropy(torch.tensor([[1, 2, 3]]), torch.tensor([0])),
                         ["input", "floating-point", "torch.int64"]),
    # class index out of range
    "ce index high": (lambda: F.cross_entropy(_x(2, 3), torch.tensor([0, 5])),
                      ["target", "5", "0..2"]),
    "ce index negative": (lambda: F.cross_entropy(_x(2, 3),
                                                 torch.tensor([-1, 0], dtype=torch.int32)),
                          ["target", "-1", "0..2"]),
    "nll index": (lambda: F.nll(_x(2, 4), torch.tensor([4, 0])), ["target", "4", "0..3"]),
    "focal index": (lambda: F.softmax_focal(_x(2, 3), torch.tensor([3, 0])),
                    ["target", "3", "0..2"]),
    "multi_margin index": (lambda: F.multiclass_hinge(_x(2, 3), torch.tensor([7, 0])),
                           ["target", "7", "0..2"]),
    "poly1 index": (lambda: F.poly1_cross_entropy(_x(2, 3), torch.tensor([0, 9])),
                    ["target", "9", "0..2"]),
    "perplexity token": (lambda: F.perplexity(_x(1, 2, 5), torch.tensor([[0, 9]])),
                         ["target", "9", "0..4"]),
    # probabilities outside [0, 1]
    "bce target > 1": (lambda: F.binary_cross_entropy(_x(2), torch.tensor([0.5, 1.5])),
                       ["target", "[0, 1]", "1.5"]),
    "focal target < 0": (lambda: F.sigmoid_focal(_x(2), torch.tensor([-0.25, 1.0])),
                         ["target", "[0, 1]", "-0.25"]),
    "ce soft target < 0": (lambda: F.cross_entropy(_x(2, 3), torch.tensor([[0.5, -0.1, 0.6],
                                                                            [1.0, 0.0, 0.0]])),
                           ["target", "[0, 1]", "-0.1"]),
    "kl target > 1": (lambda: F.kl_div(_x(2, 3), torch.full((2, 3), 2.0)),
                      ["target", "[0, 1]", "2"]),
    "hinge label": (lambda: F.hinge(_x(3), torch.tensor([0, 1, 2])), ["target", "{0, 1}", "2"]),
    "hinge mixed labels": (lambda: F.hinge(_x(3), torch.tensor([0, 1, -1])), ["target", "0", "-1"]),
    # negative targets for log losses (regression family)
    "msle negative": (lambda: F.msle(torch.rand(3), torch.tensor([1.0, -2.0, 0.0])),
                      ["target", "non-negative", "-2"]),
    "poisson negative": (lambda: F.poisson_nll(torch.rand(3), torch.tensor([1.0, -3.0, 0.0])),
                         ["target", "non-negative", "-3"]),
    "class_weight negative": (lambda: F.cross_entropy(_x(2, 3), IDX,
                                                      class_weight=torch.tensor([1.0, -1.0, 1.0])),
                              ["class_weight", "non-negative", "-1"]),
    # invalid reduction
    "ce reduction": (lambda: F.cross_entropy(_x(2, 3), IDX, reduction="avg"),
                     ["reduction", "'avg'", "'mean'"]),
    "bce reduction": (lambda: F.binary_cross_entropy(_x(2), torch.rand(2), reduction="batchmean"),
                      ["reduction", "'batchmean'"]),
    "mse reduction": (lambda: F.mse(_x(2), _x(2), reduction=None), ["reduction", "None"]),
    # bad hyperparameters
    "huber delta": (lambda: F.huber(_x(2), _x(2), delta=-1.0), ["delta", "-1.0"]),
    "smooth_l1 beta": (lambda: F.smooth_l1(_x(2), _x(2), beta=-0.5), ["beta", "-0.5"]),
    "sigmoid_focal gamma": (lambda: F.sigmoid_focal(_x(2), torch.rand(2), gamma=-1.0),
                            ["gamma", "-1.0"]),
    "softmax_focal gamma": (lambda: F.softmax_focal(_x(2, 3), IDX, gamma=-0.5), ["gamma", "-0.5"]),
    "asl gamma_neg": (lambda: F.asymmetric_multilabel(_x(2), torch.rand(2), gamma_neg=-2.0),
                      ["gamma_neg", "-2.0"]),
    "asl clip": (lambda: F.asymmetric_multilabel(_x(2), torch.rand(2), clip=1.0), ["clip", "1.0"]),
    "focal alpha": (lambda: F.sigmoid_focal(_x(2), torch.rand(2), alpha=1.5), ["alpha", "1.5"]),
    "label_smoothing": (lambda: F.cross_entropy(_x(2, 3), IDX, label_smoothing=1.5),
                        ["label_smoothing", "1.5"]),
    "poly1 epsilon": (lambda: F.poly1_cross_entropy(_x(2, 3), IDX, epsilon=-2.0),
                      ["epsilon", "-2.0"]),
    "hinge margin": (lambda: F.hinge(_x(2), torch.tensor([0, 1]), margin=-1.0), ["margin", "-1.0"]),
    "multiclass_hinge form": (lambda: F.multiclass_hinge(_x(2, 3), IDX, form="one_vs_rest"),
                              ["form", "'one_vs_rest'", "crammer_singer"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_error_message_names_argument_and_value(case):
    call, fragments = CASES[case]
    with pytest.raises(losskit.LossInputError) as err:
        call()
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"


def test_loss_input_error_is_a_value_error():
    with pytest.raises(ValueError):
        F.cross_entropy(_x(2, 3), torch.tensor([0, 5]))


def test_value_checks_can_be_switched_off_but_shape_checks_cannot():
    with losskit.value_checks(False):
        F.binary_cross_entropy(_x(2), torch.tensor([0.5, 1.5]))  # data check skipped
        with pytest.raises(losskit.LossInputError, match="same shape"):
            F.binary_cross_entropy(_x(2), torch.rand(3))
    with pytest.raises(losskit.LossInputError, match=r"1\.5"):
        F.binary_cross_entropy(_x(2), torch.tensor([0.5, 1.5]))


@pytest.mark.parametrize(("name", "param"), [
    ("clip_contrastive", "temperature"), ("siglip", "logit_scale"), ("supcon", "temperature"),
    ("nt_xent", "temperature"), ("approx_ndcg", "temperature"), ("deephit", "sigma"),
    ("arcface", "margin"), ("cosface", "scale"), ("dino", "student_temperature"),
])
def test_a_learnable_hyperparameter_tensor_must_have_one_element(name, param):
    # A [k] tensor broadcast against some axis would silently become a per-column (or
    # per-sample) value; only a one-element tensor is a learnable scalar.
    info = losskit.info(name)
    args = info.example_inputs(4, 0)
    with pytest.raises(losskit.LossInputError, match=f"{param} must be a number or a "
                                                     "one-element tensor"):
        info.fn(*args, **{param: torch.full((4,), 0.5, dtype=torch.float64)})
    info.fn(*args, **{param: torch.full((1,), 0.5, dtype=torch.float64)})  # [1] is accepted


@pytest.mark.parametrize(("name", "param", "low", "high"), [
    ("sigmoid_focal", "alpha", 0.1, 0.9), ("negative_binomial_nll", "dispersion", 0.2, 2.0),
    ("tobit", "sigma", 0.5, 2.0), ("general_robust", "alpha", -2.0, 1.5),
    ("general_robust", "scale", 0.5, 2.0), ("cauchy", "scale", 0.5, 2.0),
])
def test_a_documented_per_element_hyperparameter_takes_one_value_per_element(name, param, low,
                                                                               high):
    # These losses document a tensor broadcast against the input (one per label, per
    # element): each element's loss is the loss at that element's value.
    info = losskit.info(name)
    args = info.example_inputs(3, 0)
    x = args[0]
    values = torch.linspace(low, high, x.numel(), dtype=x.dtype).reshape(x.shape)
    got = info.fn(*args, **{param: values}, reduction="none")
    for i in range(x.numel()):
        one = info.fn(*args, **{param: float(values.reshape(-1)[i])}, reduction="none")
        torch.testing.assert_close(got.reshape(-1)[i], one.reshape(-1)[i])


def test_open_lower_ends_and_a_tensor_quantile_level():
    # msle's log1p is -inf at -1 (scikit-learn refuses it too); an exposure must be > 0;
    # a 0-dim tensor quantile level says it is not learned (it raised a raw TypeError).
    with pytest.raises(losskit.LossInputError, match="input must hold predictions > -1, "
                                                     "found -1"):
        F.msle(torch.tensor([-1.0]), torch.tensor([1.0]))
    with pytest.raises(losskit.LossInputError, match="exposure must hold exposures > 0"):
        F.poisson_nll(torch.zeros(2), torch.ones(2), exposure=torch.tensor([1.0, 0.0]))
    with pytest.raises(losskit.LossInputError, match="quantile levels are not learned"):
        F.quantile(torch.zeros(3), torch.ones(3), quantiles=torch.tensor(0.3))


def test_a_per_element_hyperparameter_of_an_empty_batch_is_empty_too():
    # the range check reads nothing from an empty tensor (min() of nothing raised)
    empty = torch.zeros(0, 3)
    assert F.general_robust(empty, empty, alpha=torch.empty(0, 3)).item() == 0.0


def test_a_class_weight_passed_as_weight_says_where_it_belongs():
    # torch's F.cross_entropy(x, t, weight=w) is a class weight; losskit's weight= weighs
    # positions. The error for a [C] weight names class_weight.
    x, t = torch.randn(8, 3), torch.randint(0, 3, (8,))
    for fn in (F.cross_entropy, F.nll, F.softmax_focal, F.balanced_softmax):
        with pytest.raises(losskit.LossInputError, match="are class_weight="):
            fn(x, t, weight=torch.ones(3))


def test_messages_name_the_argument_in_its_own_terms():
    # an event flag is no class index; a transposed output weight is named as such
    with pytest.raises(losskit.LossInputError, match="event indicators 0 and 1, found 2"):
        F.cox_ph(torch.randn(4), torch.rand(4), torch.tensor([0, 1, 2, 1]))
    with pytest.raises(losskit.LossInputError, match="linear_weight looks transposed"):
        F.linear_cross_entropy(torch.randn(6, 8), torch.randn(8, 10), torch.randint(0, 10, (6,)))
