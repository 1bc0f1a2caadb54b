"""Composite losses: spec parsing, Python arithmetic, routing, schedules, logging.

Expected values are the weighted sums computed by hand from the functional losses
(each of which is pinned against its own reference in the common suite).
"""

from __future__ import annotations

import pytest
import torch

import losskit
from losskit import functional as F
from losskit.compose import Composite, bind, parse
from losskit.schedules import Constant, LinearWarmup, Piecewise


def _segmentation(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    return logits, torch.randint(0, 3, (2, 4, 4), generator=g)


def test_dice_plus_cross_entropy_equals_the_weighted_sum_and_exposes_both_terms():
    logits, target = _segmentation()
    loss = losskit.get("0.5*dice + 0.5*cross_entropy")
    value = loss(logits, target)
    dice, ce = F.dice(logits, target), F.cross_entropy(logits, target)
    torch.testing.assert_close(value, 0.5 * dice + 0.5 * ce)
    assert set(loss.last_terms) == {"dice", "cross_entropy"}
    torch.testing.assert_close(loss.last_terms["dice"], dice.detach())
    torch.testing.assert_close(loss.last_terms["cross_entropy"], ce.detach())
    assert not any(t.requires_grad for t in loss.last_terms.values())
    assert loss.last_weights == {"dice": 0.5, "cross_entropy": 0.5}
    # gradients are those of the hand-made sum
    (g_comp,) = torch.autograd.grad(value, logits)
    (g_hand,) = torch.autograd.grad(0.5 * F.dice(logits, target)
                                    + 0.5 * F.cross_entropy(logits, target), logits)
    torch.testing.assert_close(g_comp, g_hand)


def test_per_term_hyperparameters_reach_only_their_term():
    logits, target = _segmentation(1)
    loss = losskit.get("0.5*dice + 0.5*cross_entropy", dice={"include_background": False},
                       cross_entropy={"label_smoothing": 0.1})
    expected = (0.5 * F.dice(logits, target, include_background=False)
                + 0.5 * F.cross_entropy(logits, target, label_smoothing=0.1))
    torch.testing.assert_close(loss(logits, target), expected)
    # without the option the dice term differs, so the option really was applied
    assert not torch.allclose(F.dice(logits, target), F.dice(logits, target,
                                                            include_background=False))


def test_shared_hyperparameter_goes_to_every_term_that_has_it():
    x, y = torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    loss = losskit.get("huber + 2*mse", reduction="sum", huber={"delta": 0.3})
    expected = F.huber(x, y, delta=0.3, reduction="sum") + 2 * F.mse(x, y, reduction="sum")
    torch.testing.assert_close(loss(x, y), expected)


def test_l2_penalty_binds_a_model_and_reads_its_current_parameters():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    x, y = torch.randn(8, 3), torch.randn(8, 2)
    loss = losskit.get("mse + 0.01*l2_penalty", l2_penalty={"params": model})
    value = loss(model(x), y)
    by_hand = F.mse(model(x), y) + 0.01 * sum(p.square().sum() for p in model.parameters())
    torch.testing.assert_close(value, by_hand)
    value.backward()
    # d/dW of 0.01 * ||W||^2 is 0.02 W on top of the data gradient
    data_grad = torch.autograd.grad(F.mse(model(x), y), model.weight)[0]
    torch.testing.assert_close(model.weight.grad, data_grad + 0.02 * model.weight.detach())
    # the model is bound, not owned: no duplicated parameters, no model in the state dict
    assert list(loss.parameters()) == []
    assert not any(k.startswith("weight") for k in loss.state_dict())
    # the penalty follows the model as it changes
    with torch.no_grad():
        model.weight.zero_()
        model.bias.fill_(1.0)
    loss(model(x), y)
    assert float(loss.last_terms["l2_penalty"]) == pytest.approx(2.0)


def test_penalty_options_and_python_bind():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LayerNorm(2))
    x, y = torch.randn(4, 2), torch.randn(4, 2)
    spec = losskit.get("mse + 0.1*l1_penalty",
                       l1_penalty={"params": model, "exclude_bias": True, "exclude_norm": True})
    objective = losskit.get("mse") + 0.1 * bind("l1_penalty", params=model, exclude_bias=True,
                                                exclude_norm=True)
    expected = F.mse(model(x), y) + 0.1 * model[0].weight.abs().sum()
    torch.testing.assert_close(spec(model(x), y), expected)
    torch.testing.assert_close(objective(model(x), y), expected)


def test_unbound_parameter_penalty_is_an_error_not_a_penalty_on_predictions():
    loss = losskit.get("mse + 0.01*l2_penalty")
    x = torch.randn(3, 2)
    with pytest.raises(losskit.LossInputError, match="params"):
        loss(x, x)
    # ...unless the parameters come by keyword at call time
    w = torch.ones(4)
    torch.testing.assert_close(loss(x, x, params=w), torch.tensor(0.04))


def test_python_arithmetic_on_loss_modules():
    x, y = torch.randn(6, 3, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    mse, mae = losskit.get("mse"), losskit.get("mae")
    combos = {
        "w1*a + w2*b": 0.3 * mse + 0.7 * mae,
        "a*w1 + b*w2": mse * 0.3 + mae * 0.7,
        "sum([...])": sum([0.3 * mse, 0.7 * mae]),
        "(a + b*w)*s": (mse + mae * (7 / 3)) * 0.3,
    }
    expected = 0.3 * F.mse(x, y) + 0.7 * F.mae(x, y)
    for label, loss in combos.items():
        assert isinstance(loss, Composite), label
        torch.testing.assert_close(loss(x, y), expected, msg=label)
        assert loss.terms == ("mse", "mae"), label
    # the operands are untouched
    assert isinstance(mse, losskit.nn.Loss)
    torch.testing.assert_close(mse(x, y), F.mse(x, y))


def test_repeated_losses_get_distinct_names():
    x, y = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    loss = losskit.get("huber + huber", huber_2={"delta": 0.1})
    assert loss.terms == ("huber", "huber_2")
    torch.testing.assert_close(loss(x, y), F.huber(x, y) + F.huber(x, y, delta=0.1))
    python = losskit.get("huber") + losskit.get("huber", delta=0.1)
    assert python.terms == ("huber", "huber_2")


def test_keyword_data_arguments_are_routed_to_the_terms_that_take_them():
    g = torch.Generator().manual_seed(2)
    recon, x = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    mu, logvar = torch.randn(5, 2, generator=g), torch.randn(5, 2, generator=g)
    loss = losskit.get("mse + 0.1*gaussian_kl")
    torch.testing.assert_close(loss(recon, x, mu=mu, logvar=logvar),
                               F.mse(recon, x) + 0.1 * F.gaussian_kl(mu, logvar))
    logits = torch.randn(6, generator=g)
    y = (torch.rand(6, generator=g) > 0.5).float()
    group = torch.tensor([0, 0, 1, 1, 2, 2])
    fair = losskit.get("binary_cross_entropy + 2*demographic_parity_gap")
    torch.testing.assert_close(fair(logits, y, group=group),
                               F.binary_cross_entropy(logits, y)
                               + 2 * F.demographic_parity_gap(logits, group))


def test_routing_errors_name_the_problem():
    loss = losskit.get("mse + gaussian_kl")
    x = torch.randn(3, 2)
    with pytest.raises(losskit.LossInputError, match=r"no term .* accepts the keyword 'sigma'"):
        loss(x, x, mu=x, logvar=x, sigma=x)
    with pytest.raises(losskit.LossInputError, match="positional"):
        losskit.get("0.5*mse")(x, x, x)
    with pytest.raises(losskit.LossInputError, match="needs the data arguments"):
        losskit.get("0.5*gaussian_nll")(x, x)


def test_schedules_drive_the_weights_through_step_and_the_step_argument():
    x, y = torch.zeros(2, 1), torch.ones(2, 1)   # mse = 1, mae = 1: the value is the weight sum
    loss = losskit.get("mse + 0.5*mae", schedules={"mae": LinearWarmup(4)})
    assert float(loss(x, y)) == pytest.approx(1.0)          # step 0: mae weight 0
    assert loss.last_weights == {"mse": 1.0, "mae": 0.0}
    assert loss.step() == 1 and loss.step() == 2
    assert float(loss(x, y)) == pytest.approx(1.25)         # 0.5 * 2/4
    assert loss.current_step == 2                           # calling never advances it
    assert float(loss(x, y, step=10)) == pytest.approx(1.5)
    assert loss.current_step == 10
    assert loss.weights(step=1) == {"mse": 1.0, "mae": 0.125}
    # the step is saved with the module, so a resumed run continues its warm-up
    fresh = losskit.get("mse + 0.5*mae", schedules={"mae": LinearWarmup(4)})
    fresh.load_state_dict(loss.state_dict())
    assert fresh.current_step == 10


def test_schedules_in_python_arithmetic():
    x, y = torch.zeros(2, 1), torch.ones(2, 1)
    loss = losskit.get("mse") + 0.5 * Piecewise([2], [0.0, 1.0]) * losskit.get("mae")
    assert [float(loss(x, y, step=s)) for s in (0, 1, 2, 3)] == [1.0, 1.0, 1.5, 1.5]
    warm = LinearWarmup(2) * losskit.get("mae")
    assert float(warm(x, y, step=1)) == pytest.approx(0.5)
    assert float((warm * 4)(x, y, step=1)) == pytest.approx(2.0)
    # schedule times schedule multiplies
    both = (LinearWarmup(2) * losskit.get("mae")) * LinearWarmup(4)
    assert float(both(x, y, step=1)) == pytest.approx(0.5 * 0.25)
    assert losskit.get("mse + mae", schedules={"mae": Constant(3.0)}).weights() == {
        "mse": 1.0, "mae": 3.0}


@pytest.mark.parametrize("spec, message", [
    ("0.5*dcie + 0.5*cross_entropy", "dice"),          # unknown name: close names listed
    ("0.5*cross_entropy + 0.5*huberr", "huber"),
    ("0.5*", "expected a number or a loss name"),
    ("mse + ", "expected a number or a loss name"),
    ("0.5 * mse * mae", "two loss names"),
    ("mse + 0.5", "without a loss name"),
    ("mse + (0.5*mae)", "unexpected character"),
    ("mse 0.5 + mae", "expected '\\+' or '\\*'"),
])
def test_bad_specs_raise_loss_input_error(spec, message):
    with pytest.raises(losskit.LossInputError, match=message):
        losskit.get(spec)


def test_bad_options_raise_loss_input_error():
    with pytest.raises(losskit.LossInputError, match="has no option 'delta'"):
        losskit.get("mse + mae", mse={"delta": 1.0})
    with pytest.raises(losskit.LossInputError, match="must be a dict"):
        losskit.get("mse + huber", huber=0.5)
    with pytest.raises(losskit.LossInputError, match="neither a term"):
        losskit.get("mse + mae", delta=1.0)
    with pytest.raises(losskit.LossInputError, match="schedules name terms"):
        losskit.get("mse + mae", schedules={"huber": LinearWarmup(3)})
    with pytest.raises(losskit.LossInputError, match="spec must be a string"):
        parse(3)


def test_scientific_coefficients_and_aliases():
    x, y = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    loss = losskit.get("1e-1*l2 + 2.5E+0*MAE")
    assert loss.terms == ("l2", "mae")
    torch.testing.assert_close(loss(x, y), 0.1 * F.mse(x, y) + 2.5 * F.mae(x, y))


def test_composite_moves_its_loss_buffers_with_to():
    loss = losskit.get("0.5*cross_entropy + 0.5*mse",
                       cross_entropy={"class_weight": torch.tensor([1.0, 2.0])})
    loss = loss.to(torch.float64)
    assert loss.losses["cross_entropy"].class_weight.dtype == torch.float64
