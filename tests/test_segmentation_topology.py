"""cl_dice and boundary.

Expected values: MONAI's SoftclDiceLoss (a peer implementation of Shit et al.'s soft
skeleton), a perfect prediction (clDice 0), hand-made signed distance maps, and the maps of
scipy.ndimage.distance_transform_edt by the recipe in boundary's card (Kervadec et al.).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import losskit
from losskit import functional as F
from losskit.functional.segmentation_topology import _signed_distance_bruteforce

F64 = torch.float64


def _confident(target, classes):
    """Logits whose softmax (or sigmoid, one channel) is exactly the one-hot target."""
    if classes == 1:
        return 1000.0 * (2.0 * target.unsqueeze(1).to(F64) - 1.0)
    onehot = torch.nn.functional.one_hot(target, classes).movedim(-1, 1).to(F64)
    return 1000.0 * onehot


def _lines(n=2, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        r, c = torch.randint(2, size - 2, (2,), generator=g).tolist()
        t[i, r, 1:size - 1] = 1
        t[i, 2:size - 2, c] = 2
        t[i, r - 1:r + 2, c - 1:c + 2] = 2
    return t


def test_cl_dice_of_a_perfect_prediction_is_zero():
    t = _lines()
    assert F.cl_dice(_confident(t, 3), t).item() == 0.0
    binary = (t > 0).long()
    assert F.cl_dice(_confident(binary, 1), binary).item() == 0.0
    assert F.cl_dice(_confident(binary, 2), binary, include_background=True).item() == 0.0
    vol = torch.zeros(1, 8, 8, 8, dtype=torch.long)
    vol[0, 4, 4, 1:7] = 1
    vol[0, 2:6, 2, 3] = 1
    assert F.cl_dice(_confident(vol, 2), vol).item() == 0.0
    # empty target and empty prediction: (0 + s) / (0 + s) = 1 for both ratios
    empty = torch.zeros(1, 8, 8, dtype=torch.long)
    assert F.cl_dice(_confident(empty, 2), empty).item() == 0.0
    # and any other prediction does worse
    g = torch.Generator().manual_seed(3)
    assert F.cl_dice(torch.randn(2, 3, 16, 16, generator=g, dtype=F64), t).item() > 0.1


def test_cl_dice_matches_monai_per_image():
    monai_losses = pytest.importorskip("monai.losses")
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 3, 16, 16, generator=g, dtype=F64) * 2
    t = _lines(3, seed=2)
    peer = monai_losses.SoftclDiceLoss(iter_=3, smooth_nr=1.0, smooth_dr=1.0, smooth=1e-300,
                                       include_background=False, softmax=True,
                                       to_onehot_y=True, reduction="none")
    theirs = peer(logits, t.unsqueeze(1))
    ours = F.cl_dice(logits, t, reduction="none")
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-14)
    # one sigmoid channel, soft targets, 3-D and more iterations
    logits1 = torch.randn(2, 1, 6, 7, 8, generator=g, dtype=F64)
    soft = torch.rand(2, 1, 6, 7, 8, generator=g, dtype=F64)
    peer = monai_losses.SoftclDiceLoss(iter_=5, smooth=1e-300, sigmoid=True, reduction="none")
    torch.testing.assert_close(F.cl_dice(logits1, soft, iterations=5, reduction="none"),
                               peer(logits1, soft), rtol=1e-12, atol=1e-14)


def test_cl_dice_prefers_a_thick_connected_line_to_a_broken_one():
    # target: a 1-pixel line; A breaks it (2 pixels missing); B covers it 3 pixels thick.
    # Dice prefers A (0.93 vs 0.5); clDice prefers B, which keeps the topology.
    t = torch.zeros(1, 16, 16, dtype=torch.long)
    t[0, 8, 1:15] = 1
    broken = t.clone()
    broken[0, 8, 7:9] = 0
    thick = torch.zeros_like(t)
    thick[0, 7:10, 1:15] = 1

    def dice(pred):
        return 2 * (pred * t).sum().item() / (pred.sum() + t.sum()).item()

    assert dice(broken) > 0.9 > 0.5 == pytest.approx(dice(thick))
    loss_broken = F.cl_dice(_confident(broken, 1), t).item()
    loss_thick = F.cl_dice(_confident(thick, 1), t).item()
    assert loss_thick < 0.01 < 0.05 < loss_broken


def test_cl_dice_gradients_and_arguments():
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(2, 3, 10, 10, generator=g, dtype=F64, requires_grad=True)
    t = _lines(2, size=10, seed=5)
    assert torch.autograd.gradcheck(lambda x: F.cl_dice(x, t), (logits,), fast_mode=True)
    none = F.cl_dice(logits, t, reduction="none")
    assert none.shape == (2,)
    torch.testing.assert_close(F.cl_dice(logits[:1], t[:1]), none[0])
    with pytest.raises(losskit.LossInputError, match="iterations"):
        F.cl_dice(logits, t, iterations=-1)
    with pytest.raises(losskit.LossInputError, match="smooth"):
        F.cl_dice(logits, t, smooth=0.0)
    with pytest.raises(losskit.LossInputError, match="class index"):
        F.cl_dice(logits, t + 3)
    half = F.cl_dice(logits.detach().half(), t)
    assert half.dtype == torch.float32


# --- boundary ----------------------------------------------------------------------------------


def _scipy_signed_distance(mask):
    """The recipe of boundary's card (Kervadec et al.'s one_hot2dist, one class)."""
    from scipy.ndimage import distance_transform_edt as edt

    if not mask.any():
        return np.zeros(mask.shape)
    return edt(~mask) * ~mask - (edt(mask) - 1) * mask


def test_boundary_on_a_hand_made_distance_map():
    # one channel: p = sigmoid(logit); loss = mean p * phi
    phi = torch.tensor([[[[2.0, 1.0, 0.0, -1.0, 0.0, 1.0]]]], dtype=F64)
    logits = torch.tensor([[[[0.0, -2.0, 1.0, 3.0, 0.0, 0.5]]]], dtype=F64, requires_grad=True)
    p = torch.sigmoid(logits.detach())
    expected = (p * phi).sum() / 6
    out = F.boundary(logits, phi)
    assert out.item() == pytest.approx(expected.item(), rel=1e-14)
    (g,) = torch.autograd.grad(out, logits)
    torch.testing.assert_close(g, phi * p * (1 - p) / 6)
    # two channels: softmax, and the background channel can be left out
    two = torch.tensor([[[[0.3, -1.0]], [[1.2, 0.4]]]], dtype=F64)
    maps = torch.tensor([[[[1.0, -2.0]], [[-1.0, 3.0]]]], dtype=F64)
    q = torch.softmax(two, 1)
    assert F.boundary(two, maps).item() == pytest.approx((q * maps).mean().item())
    assert F.boundary(two, maps, include_background=False).item() == pytest.approx(
        (q[:, 1] * maps[:, 1]).mean().item())
    assert F.boundary(two, maps, include_background=False, reduction="none").shape == (1, 1, 1, 2)


def test_boundary_with_scipy_maps_is_lowest_at_the_true_region():
    mask = np.zeros((12, 12), dtype=bool)
    mask[3:8, 4:10] = True
    phi = torch.tensor(_scipy_signed_distance(mask), dtype=F64)[None, None]
    # the example maps of the registry follow the same convention
    torch.testing.assert_close(_signed_distance_bruteforce(torch.from_numpy(mask)), phi[0, 0])
    truth = torch.from_numpy(mask).long()[None]
    perfect = F.boundary(_confident(truth, 1), phi).item()
    # at the optimum the loss is sum of phi inside the region / count (phi <= 0 there)
    assert perfect == pytest.approx(phi[0, 0][torch.from_numpy(mask)].sum().item() / 144)
    shifted = torch.roll(truth, 2, dims=2)
    grown = torch.from_numpy(np.pad(mask[1:-1, 1:-1], 1, constant_values=False)).long()[None]
    grown[0, 2:9, 3:11] = 1
    for other in (shifted, grown, torch.zeros_like(truth)):
        assert F.boundary(_confident(other, 1), phi).item() > perfect
    # a class absent from the image has an all-zero map: it adds nothing
    assert not _scipy_signed_distance(np.zeros((4, 4), dtype=bool)).any()


def test_boundary_checks_its_arguments():
    with pytest.raises(losskit.LossInputError, match="same shape"):
        F.boundary(torch.zeros(1, 2, 4, 4), torch.zeros(1, 1, 4, 4))
    with pytest.raises(losskit.LossInputError, match="dimensions"):
        F.boundary(torch.zeros(2, 4), torch.zeros(2, 4))
    out = F.boundary(torch.zeros(1, 2, 4, 4, dtype=torch.bfloat16), torch.ones(1, 2, 4, 4))
    assert out.dtype == torch.float32 and out.item() == pytest.approx(0.5)
