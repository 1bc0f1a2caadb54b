"""Class weights, the online estimator and recency weights, against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

import losskit
from losskit.weighting import OnlineClassWeights, class_weights, recency_weights


def _labels(counts):
    return torch.cat([torch.full((n,), k, dtype=torch.long) for k, n in enumerate(counts)])


def _normalized(raw):
    mean = sum(raw) / len(raw)
    return [r / mean for r in raw]


@pytest.mark.parametrize("scheme, raw", [
    ("inverse", lambda n: 1 / n),
    ("sqrt_inverse", lambda n: 1 / math.sqrt(n)),
    # Cui et al. 2019, eq. for the effective number: E_n = (1 - beta^n) / (1 - beta)
    ("effective_number", lambda n: (1 - 0.99) / (1 - 0.99 ** n)),
])
def test_class_weights_by_hand(scheme, raw):
    counts = [500, 50, 5]
    w = class_weights(_labels(counts), scheme, beta=0.99)
    assert w.dtype == torch.float32 and w.shape == (3,)
    assert w.tolist() == pytest.approx(_normalized([raw(n) for n in counts]), rel=1e-5)
    assert float(w.mean()) == pytest.approx(1.0)
    assert w[2] > w[1] > w[0]


def test_effective_number_limits():
    y = _labels([900, 100])
    # beta -> 0: every class has effective number 1, so the weights are equal
    assert class_weights(y, "effective_number", beta=0.0).tolist() == pytest.approx([1.0, 1.0])
    # beta -> 1: E_n -> n, the inverse-frequency weights
    assert class_weights(y, "effective_number", beta=1 - 1e-9).tolist() == pytest.approx(
        class_weights(y, "inverse").tolist(), rel=1e-4)


def test_absent_classes_get_the_rarest_observed_weight():
    w = class_weights(torch.tensor([0, 0, 0, 1]), num_classes=4)
    # counts [3, 1, 0, 0] -> absent classes counted like the rarest (1): raw [1/3, 1, 1, 1]
    assert w.tolist() == pytest.approx(_normalized([1 / 3, 1, 1, 1]))
    assert torch.isfinite(w).all()


def test_class_weights_ignore_index_and_dense_targets():
    mask = torch.tensor([[0, 0, 1], [-100, 0, 1]])
    assert class_weights(mask, ignore_index=-100).tolist() == pytest.approx(
        _normalized([1 / 3, 1 / 2]))


def test_class_weights_reject_bad_input():
    with pytest.raises(losskit.LossInputError, match="scheme"):
        class_weights(torch.tensor([0, 1]), "balanced")
    with pytest.raises(losskit.LossInputError, match="class index 5"):
        class_weights(torch.tensor([0, 5]), num_classes=3)
    with pytest.raises(losskit.LossInputError, match="num_classes"):
        class_weights(torch.zeros(0, dtype=torch.long))
    with pytest.raises(losskit.LossInputError, match="integer class indices"):
        class_weights(torch.tensor([0.0, 1.0]))


def test_online_weights_first_update_is_exact_and_then_track_a_shift():
    tracker = OnlineClassWeights(2, momentum=0.9)
    assert tracker.weights.tolist() == [1.0, 1.0]              # no data yet: uniform
    # bias correction: after one batch the estimate equals that batch's frequencies
    tracker.update(_labels([8, 2]))
    assert tracker.frequencies.tolist() == pytest.approx([0.8, 0.2])
    assert tracker.weights.tolist() == pytest.approx(class_weights(_labels([8, 2])).tolist())
    for _ in range(20):
        tracker.update(_labels([8, 2]))
    # the distribution flips. Closed form of the EMA of frequency 0 after 21 batches at
    # 0.8 and 30 at 0.2, divided by the bias correction 1 - 0.9^51:
    for _ in range(30):
        tracker.update(_labels([2, 8]))
    ema = 0.8 * (1 - 0.9 ** 21) * 0.9 ** 30 + 0.2 * (1 - 0.9 ** 30)
    assert float(tracker.frequencies[0]) == pytest.approx(ema / (1 - 0.9 ** 51), rel=1e-9)
    assert float(tracker.frequencies[0]) < 0.25                 # it followed the shift
    assert tracker.weights[0] > tracker.weights[1]              # class 0 is now the rare one


def test_online_weights_state_dict_and_empty_batches():
    tracker = OnlineClassWeights(3, momentum=0.5, scheme="sqrt_inverse", ignore_index=-1)
    tracker.update(torch.tensor([0, 0, 1, -1]))
    before = tracker.weights.clone()
    tracker.update(torch.tensor([-1, -1]))                      # nothing counts: unchanged
    assert torch.equal(tracker.weights, before)
    clone = OnlineClassWeights(3, momentum=0.5, scheme="sqrt_inverse")
    clone.load_state_dict(tracker.state_dict())
    assert torch.equal(clone.weights, before)
    with pytest.raises(losskit.LossInputError, match="scheme"):
        OnlineClassWeights(3, scheme="effective_number")


def test_recency_weights_halve_every_half_life_and_average_one():
    w = recency_weights(5, half_life=2.0)
    assert float(w.mean()) == pytest.approx(1.0)
    ratios = (w[1:] / w[:-1]).tolist()
    assert ratios == pytest.approx([2 ** 0.5] * 4)              # 2 positions = 1 half-life
    stamps = torch.tensor([0.0, 10.0, 30.0, 30.0])
    w = recency_weights(stamps, half_life=10.0)
    assert (w[3] / w[0]).item() == pytest.approx(8.0)           # 3 half-lives apart
    assert w[2] == w[3]
    assert recency_weights(torch.tensor([2023, 2024]), half_life=1.0).tolist() == pytest.approx(
        [2 / 3, 4 / 3])
    assert recency_weights(0, 1.0).shape == (0,)
    with pytest.raises(losskit.LossInputError, match="half_life"):
        recency_weights(3, half_life=0.0)
    with pytest.raises(losskit.LossInputError, match="1-D"):
        recency_weights(torch.zeros(2, 2), half_life=1.0)
