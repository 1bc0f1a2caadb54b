"""energy_margin and energy_nll: hand values, gradients, torch cross-entropy, limits."""

from __future__ import annotations

import pytest
import torch

import losskit
from losskit import functional as F


def test_energy_margin_values_by_hand():
    e = torch.tensor([[0.0, 0.5, 3.0],     # correct 0, most offending 0.5: 1 + 0 - 0.5
                      [2.0, 0.0, 5.0],     # correct 2 (E=5), most offending 0: 1 + 5 - 0
                      [4.0, 0.0, 9.0]])    # correct 1 (E=0), most offending 4: satisfied
    target = torch.tensor([0, 2, 1])
    torch.testing.assert_close(F.energy_margin(e, target, reduction="none"),
                               torch.tensor([0.5, 6.0, 0.0]))
    torch.testing.assert_close(F.energy_margin(e, target, margin=5.0, reduction="none"),
                               torch.tensor([4.5, 10.0, 1.0]))


def test_energy_margin_gradient_touches_only_the_correct_and_most_offending_answers():
    e = torch.tensor([[0.0, 0.5, 0.7, 3.0]], requires_grad=True)
    (grad,) = torch.autograd.grad(F.energy_margin(e, torch.tensor([0])), e)
    torch.testing.assert_close(grad, torch.tensor([[1.0, -1.0, 0.0, 0.0]]))


def test_energy_margin_ignore_index_and_all_ignored():
    e = torch.randn(4, 3, requires_grad=True)
    target = torch.tensor([0, -100, 2, -100])
    kept = F.energy_margin(e[[0, 2]], target[[0, 2]])
    torch.testing.assert_close(F.energy_margin(e, target), kept)
    out = F.energy_margin(e, torch.full((4,), -100))
    assert out.item() == 0.0
    assert torch.equal(torch.autograd.grad(out, e)[0], torch.zeros(4, 3))


def test_energy_margin_rejects_bad_input():
    with pytest.raises(losskit.LossInputError, match="C >= 2"):
        F.energy_margin(torch.zeros(3, 1), torch.zeros(3, dtype=torch.long))
    with pytest.raises(losskit.LossInputError, match="class index 3"):
        F.energy_margin(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(losskit.LossInputError, match="energies must have 2 dimensions"):
        F.energy_margin(torch.zeros(2, 3, 4), torch.zeros(2, dtype=torch.long))


def test_energy_nll_is_cross_entropy_on_negative_energies():
    g = torch.Generator().manual_seed(0)
    e = torch.randn(6, 4, generator=g, dtype=torch.float64)
    target = torch.randint(0, 4, (6,), generator=g)
    torch.testing.assert_close(F.energy_nll(e, target),
                               torch.nn.functional.cross_entropy(-e, target))
    # inverse temperature: (1/beta) CE(-beta E) (torch builtin)
    torch.testing.assert_close(F.energy_nll(e, target, beta=3.0),
                               torch.nn.functional.cross_entropy(-3.0 * e, target) / 3.0)


def test_energy_nll_soft_targets_and_large_beta_limit():
    g = torch.Generator().manual_seed(1)
    e = torch.randn(5, 3, generator=g, dtype=torch.float64)
    target = torch.randint(0, 3, (5,), generator=g)
    one_hot = torch.nn.functional.one_hot(target, 3).double()
    torch.testing.assert_close(F.energy_nll(e, one_hot), F.energy_nll(e, target))
    # beta -> inf: E[y] - min_c E[c] (the perceptron loss of LeCun et al. 2006)
    perceptron = (e.gather(1, target[:, None])[:, 0] - e.min(1).values).mean()
    torch.testing.assert_close(F.energy_nll(e, target, beta=1e4), perceptron, atol=1e-3, rtol=0)


def test_energy_nll_is_finite_for_huge_energies():
    e = torch.tensor([[1e30, -1e30, 0.0]], requires_grad=True)
    out = F.energy_nll(e, torch.tensor([1]))
    assert torch.isfinite(out) and float(out.detach()) == 0.0
    assert torch.isfinite(torch.autograd.grad(out, e)[0]).all()
