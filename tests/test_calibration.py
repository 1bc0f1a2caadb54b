"""losskit.calibration.temperature_scale against a direct minimization of the same NLL."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import losskit
from losskit.calibration import temperature_scale


def _nll(logits: np.ndarray, y: np.ndarray, t: float) -> float:
    """Mean negative log-likelihood of softmax(logits / t), written with numpy."""
    z = logits / t
    if z.ndim == 1:
        return float(np.mean(np.logaddexp(0, z) - y * z))
    z = z - z.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y]))


def _scipy_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda lt: _nll(logits, y, np.exp(lt)), bounds=(-5, 5),
                          method="bounded", options={"xatol": 1e-10})
    return float(np.exp(res.x))


@pytest.mark.parametrize("scale", [0.4, 1.0, 3.0])
def test_multiclass_temperature_matches_scipy_and_recovers_the_planted_scale(scale):
    g = torch.Generator().manual_seed(1)
    true = torch.randn(4000, 5, generator=g, dtype=torch.float64) * 1.5
    y = torch.multinomial(torch.softmax(true, 1), 1, generator=g)[:, 0]
    logits = scale * true  # over- (scale > 1) or under-confident (scale < 1)
    t = temperature_scale(logits, y)
    assert t.ndim == 0 and t.dtype == torch.float64
    assert float(t) == pytest.approx(_scipy_temperature(logits.numpy(), y.numpy()), rel=1e-5)
    assert float(t) == pytest.approx(scale, rel=0.1)


def test_binary_logits_with_01_targets():
    g = np.random.default_rng(2)
    true = g.normal(0, 2, 3000)
    y = (g.random(3000) < 1 / (1 + np.exp(-true))).astype(float)
    logits = torch.tensor(2.5 * true)
    t = temperature_scale(logits, torch.tensor(y))
    assert float(t) == pytest.approx(_scipy_temperature(2.5 * true, y), rel=1e-5)
    assert float(t) == pytest.approx(2.5, rel=0.12)


def test_scaling_never_changes_the_ranking_and_lowers_the_nll():
    g = torch.Generator().manual_seed(3)
    true = torch.randn(2000, 3, generator=g)
    y = torch.multinomial(torch.softmax(true, 1), 1, generator=g)[:, 0]
    logits = 4 * true
    t = temperature_scale(logits, y)
    assert torch.equal((logits / t).argmax(1), logits.argmax(1))
    before = torch.nn.functional.cross_entropy(logits, y)
    after = torch.nn.functional.cross_entropy(logits / t, y)
    assert after < before


@pytest.mark.parametrize("logits, target, message", [
    (torch.zeros(4, 3), torch.tensor([0, 1, 2, 3]), "class"),
    (torch.zeros(4), torch.tensor([0.0, 1.0, 0.5, 1.0]), "0 and 1"),
    (torch.zeros(4, 3), torch.tensor([0, 1]), r"\[N\] = \[4\]"),
    (torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), "empty"),
    (torch.tensor([[float("nan"), 0.0]]), torch.tensor([0]), "finite"),
    (torch.zeros(2, 2, 2), torch.zeros(2, dtype=torch.long), r"\[N, C\]"),
])
def test_bad_inputs_raise_loss_input_error(logits, target, message):
    with pytest.raises(losskit.LossInputError, match=message):
        temperature_scale(logits, target)


def test_reachable_from_the_package():
    assert losskit.calibration.temperature_scale is temperature_scale
