"""ssim, ms_ssim, charbonnier and total_variation.

Expected values: scikit-image's structural_similarity (per image and per channel, 2-D and
3-D), MS-SSIM transcribed below from Wang, Simoncelli & Bovik (2003) with scipy's Gaussian
filter and numpy block means (TensorFlow's ssim_multiscale conventions), and hand-worked
numbers for Charbonnier and total variation.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

import losskit
from losskit import functional as F


def _pair(shape, seed=0, noise=0.3):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(*shape, generator=g, dtype=torch.float64)
    other = torch.rand(*shape, generator=g, dtype=torch.float64)
    return (1 - noise) * target + noise * other, target


def _skimage_ssim(x, y, data_range, **kw):
    skimage_metrics = pytest.importorskip("skimage.metrics")  # the test extra installs it
    return skimage_metrics.structural_similarity(
        x, y, gaussian_weights=True, sigma=kw.pop("sigma", 1.5), use_sample_covariance=False,
        data_range=data_range, **kw)


@pytest.mark.parametrize("shape", [(3, 2, 23, 31), (2, 3, 11, 40)])
@pytest.mark.parametrize("data_range", [1.0, 255.0])
def test_ssim_matches_scikit_image_per_image_and_per_channel(shape, data_range):
    x, y = _pair(shape)
    x, y = x * data_range, y * data_range
    ours = F.ssim(x, y, data_range=data_range, reduction="none")
    for n in range(shape[0]):
        theirs = _skimage_ssim(x[n].numpy(), y[n].numpy(), data_range, channel_axis=0)
        assert float(ours[n]) == pytest.approx(1 - theirs, abs=1e-12)
        for c in range(shape[1]):
            one = F.ssim(x[n:n + 1, c:c + 1], y[n:n + 1, c:c + 1], data_range=data_range)
            theirs_c = _skimage_ssim(x[n, c].numpy(), y[n, c].numpy(), data_range)
            assert float(one) == pytest.approx(1 - theirs_c, abs=1e-12)
    assert float(F.ssim(x, y, data_range=data_range)) == pytest.approx(float(ours.mean()))


def test_ssim_matches_scikit_image_on_volumes_and_other_windows():
    x, y = _pair((2, 1, 12, 13, 14), seed=1)
    ours = F.ssim(x, y, reduction="none")
    for n in range(2):
        theirs = _skimage_ssim(x[n, 0].numpy(), y[n, 0].numpy(), 1.0)
        assert float(ours[n]) == pytest.approx(1 - theirs, abs=1e-12)
    # scikit-image's Gaussian spans 2 * int(3.5 sigma + 0.5) + 1 taps: 9 for sigma = 1
    x, y = _pair((1, 1, 20, 20), seed=2)
    ours = F.ssim(x, y, window_size=9, sigma=1.0, k1=0.02, k2=0.05)
    theirs = _skimage_ssim(x[0, 0].numpy(), y[0, 0].numpy(), 1.0, sigma=1.0, K1=0.02, K2=0.05)
    assert float(ours) == pytest.approx(1 - theirs, abs=1e-12)


def test_ssim_is_zero_with_zero_gradient_for_identical_images():
    _, y = _pair((2, 3, 16, 16))
    x = y.clone().requires_grad_(True)
    out = F.ssim(x, y)
    (g,) = torch.autograd.grad(out, x)
    assert abs(out.item()) < 1e-15 and float(g.abs().max()) < 1e-12
    assert F.ssim(x, y.flip(-1)).item() > 0.5


def test_ssim_low_precision_accumulates_in_float32_and_options_are_checked():
    x, y = _pair((2, 1, 16, 16))
    out = F.ssim(x.half(), y.half())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, F.ssim(x.half().float(), y.half().float()))
    with pytest.raises(losskit.LossInputError, match="window_size"):
        F.ssim(x, y, window_size=10)
    with pytest.raises(losskit.LossInputError, match="spatial side"):
        F.ssim(x[..., :8, :], y[..., :8, :])
    with pytest.raises(losskit.LossInputError, match="data_range must be a Python number"):
        F.ssim(x, y, data_range=torch.tensor(1.0))
    with pytest.raises(losskit.LossInputError, match="dimensions"):
        F.ssim(x[0], y[0])


# --- MS-SSIM ------------------------------------------------------------------------------------

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _ms_ssim_transcribed(x, y, data_range=1.0, weights=WEIGHTS, k1=0.01, k2=0.03):
    """MS-SSIM of one 2-D channel, numpy / scipy, following Wang et al. (2003):
    cs at scales 1..M-1 and l * cs at scale M, each the mean over valid windows, clamped at 0,
    raised to its weight; 2 x 2 block means between scales, an odd side padded by repeating
    its last row / column (TensorFlow's 'SYMMETRIC' padding)."""
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    result = 1.0
    for j, w in enumerate(weights):
        def blur(a):
            # scipy's Gaussian (truncate 3.5 -> 11 taps at sigma 1.5), then drop the 5-pixel
            # border where the window would leave the image: the "valid" windows.
            return ndimage.gaussian_filter(a, sigma=1.5, truncate=3.5, mode="reflect")[5:-5, 5:-5]
        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        cs = (2 * cxy + c2) / (vx + vy + c2)
        lum = (2 * mx * my + c1) / (mx * mx + my * my + c1)
        last = j == len(weights) - 1
        value = (lum * cs).mean() if last else cs.mean()
        result *= max(value, 0.0) ** w
        if not last:
            pad = ((0, x.shape[0] % 2), (0, x.shape[1] % 2))
            x, y = np.pad(x, pad, mode="symmetric"), np.pad(y, pad, mode="symmetric")
            h, wd = x.shape[0] // 2, x.shape[1] // 2
            x = x.reshape(h, 2, wd, 2).mean(axis=(1, 3))
            y = y.reshape(h, 2, wd, 2).mean(axis=(1, 3))
    return result


@pytest.mark.parametrize("size", [(161, 161), (176, 192), (170, 163)])
def test_ms_ssim_matches_the_transcribed_formula(size):
    x, y = _pair((2, 2, *size), seed=3)
    ours = F.ms_ssim(x, y, reduction="none")
    for n in range(2):
        expected = np.mean([_ms_ssim_transcribed(x[n, c].numpy(), y[n, c].numpy())
                            for c in range(2)])
        assert float(ours[n]) == pytest.approx(1 - expected, abs=1e-12)


def test_ms_ssim_with_fewer_scales_and_one_scale_is_ssim():
    x, y = _pair((1, 1, 48, 48), seed=4)
    w = (0.3, 0.7)
    expected = _ms_ssim_transcribed(x[0, 0].numpy(), y[0, 0].numpy(), weights=w)
    assert float(F.ms_ssim(x, y, weights=w)) == pytest.approx(1 - expected, abs=1e-12)
    torch.testing.assert_close(F.ms_ssim(x, y, weights=(1.0,)), F.ssim(x, y))


def test_ms_ssim_identity_is_one_with_zero_gradient():
    _, y = _pair((2, 3, 161, 170), seed=5)
    x = y.clone().requires_grad_(True)
    out = F.ms_ssim(x, y)
    (g,) = torch.autograd.grad(out, x)
    assert abs(out.item()) < 1e-14 and float(g.abs().max()) < 1e-12


def test_ms_ssim_clamps_negative_contrast_structure_at_zero():
    # y = 1 - x is anticorrelated at every scale: each cs < 0, so every channel scores 0
    # (loss 1) with zero, finite gradients (raw powers of negative numbers would be NaN).
    x0, _ = _pair((1, 2, 161, 161), seed=6)
    x = x0.clone().requires_grad_(True)
    out = F.ms_ssim(x, 1 - x0)
    (g,) = torch.autograd.grad(out, x)
    assert out.item() == 1.0 and torch.isfinite(g).all() and not g.any()
    # one channel anticorrelated, one identical: mean of 0 and 1
    y = torch.stack([1 - x0[0, 0], x0[0, 1]])[None]
    assert float(F.ms_ssim(x0, y)) == pytest.approx(0.5, abs=1e-12)
    # NaN still propagates through the clamp
    bad = x0.clone()
    bad[0, 0, 0, 0] = float("nan")
    assert torch.isnan(F.ms_ssim(bad, x0))


def test_ms_ssim_says_how_large_images_must_be():
    x, y = _pair((1, 1, 160, 200))
    with pytest.raises(losskit.LossInputError, match=">= 161"):
        F.ms_ssim(x, y)
    F.ms_ssim(x, y, weights=WEIGHTS[:4])  # 4 scales need >= 81


# --- Charbonnier and total variation ---------------------------------------------------------


@pytest.mark.parametrize("offset", [0.0, 100.0, 1000.0])
@pytest.mark.parametrize(("fn", "size"), [(F.ssim, 48), (F.ms_ssim, 161)])
def test_ssim_in_float32_far_from_zero_matches_float64(fn, size, offset):
    # Pixels far from 0 on the scale of data_range (unnormalized images, an offset): the
    # variances E[x^2] - mu^2 once cancelled in float32 (the loss 1 - SSIM came out -2.44 for
    # 0.078 at offset 1000). Source: the same float32 inputs computed in float64.
    x, y = _pair((2, 1, size, size), seed=4)
    x32, y32 = (x + offset).float(), (y + offset).float()
    got = fn(x32, y32, data_range=1.0)
    want = fn(x32.double(), y32.double(), data_range=1.0)
    assert float(got) == pytest.approx(float(want), rel=1e-4)


def test_charbonnier_by_hand():
    x = torch.tensor([3.0, 0.0, -1.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0.0, 0.0, 0.0], dtype=torch.float64)
    out = F.charbonnier(x, y, eps=4.0, reduction="none")
    torch.testing.assert_close(out, torch.tensor([5.0, 4.0, 17 ** 0.5], dtype=torch.float64))
    (g,) = torch.autograd.grad(out.sum(), x)  # r / sqrt(r^2 + eps^2)
    torch.testing.assert_close(g, torch.tensor([0.6, 0.0, -1 / 17 ** 0.5], dtype=torch.float64))
    # the default eps = 1e-3: sqrt(r^2 + 1e-6), so the minimum is eps, not 0
    assert float(F.charbonnier(y, y)) == pytest.approx(1e-3)


def test_charbonnier_learnable_eps_and_huge_residuals():
    x = torch.tensor([0.5, -2.0, 0.01], dtype=torch.float64)
    eps = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda e: F.charbonnier(x, torch.zeros_like(x), eps=e), (eps,))
    big = torch.tensor([1e30, -1e25], requires_grad=True)
    out = F.charbonnier(big, torch.zeros(2), reduction="sum")
    (g,) = torch.autograd.grad(out, big)
    assert torch.isfinite(out) and out.item() == pytest.approx(1e30 + 1e25, rel=1e-6)
    torch.testing.assert_close(g, torch.tensor([1.0, -1.0]))


def test_total_variation_by_hand():
    # rows: |1-0| + |3-3| ... : vertical |3-0| + |3-1| = 5, horizontal |1-0| + |3-3| = 1
    x = torch.tensor([[[[0.0, 1.0], [3.0, 3.0]]]])
    assert float(F.total_variation(x)) == 6.0
    # two images, two channels: per-image sums, then the mean over images
    img_a = torch.tensor([[0.0, 2.0, 2.0]])  # one row: |2| + |0| = 2
    img_b = torch.tensor([[1.0, 0.0, 4.0]])  # |-1| + |4| = 5
    batch = torch.stack([torch.stack([img_a, img_b]), torch.stack([img_b, img_b])])
    torch.testing.assert_close(F.total_variation(batch, reduction="none"),
                               torch.tensor([7.0, 10.0]))
    assert float(F.total_variation(batch)) == 8.5
    # a volume: every spatial axis; a constant image has none
    vol = torch.zeros(1, 1, 2, 2, 2)
    vol[0, 0, 1, 1, 1] = 1.0  # three neighbours differ by 1
    assert float(F.total_variation(vol)) == 3.0
    assert float(F.total_variation(torch.full((2, 3, 4, 4), 7.0))) == 0.0


def test_total_variation_gradient_counts_neighbour_signs():
    x = torch.tensor([[[[0.0, 5.0, 1.0]]]], requires_grad=True)
    (g,) = torch.autograd.grad(F.total_variation(x), x)
    # d/dx of |x1 - x0| + |x2 - x1|: x0 -> -1, x1 -> +1 + 1, x2 -> -1
    torch.testing.assert_close(g, torch.tensor([[[[-1.0, 2.0, -1.0]]]]))
    with pytest.raises(losskit.LossInputError, match="dimensions"):
        F.total_variation(torch.zeros(4, 4))
