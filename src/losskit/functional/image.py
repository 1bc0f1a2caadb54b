"""Image losses: structural similarity (SSIM, MS-SSIM), Charbonnier, total variation.

Images are ``[N, C, H, W]`` (or volumes ``[N, C, D, H, W]``), channels first. SSIM and
MS-SSIM compare local statistics under a Gaussian window applied without padding
("valid": only windows that lie inside the image count), the convention of Wang et al.
(2004) and of scikit-image with ``gaussian_weights=True, use_sample_covariance=False``.
They are **per image** losses: ``reduction="none"`` gives ``[N]`` and ``"mean"``
averages over images; ``weight`` is per image. float16/bfloat16 inputs are computed in
float32 and the result is float32.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from .._core.reduce import reduce, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_floating,
    check_ndim,
    check_pair,
    check_param,
    check_reduction,
    check_same_shape,
)
from . import _examples as ex

__all__ = ["charbonnier", "ms_ssim", "ssim", "total_variation"]

#: Wang, Simoncelli & Bovik (2003), the exponents of scales 1 (finest) to 5.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


# --- shared mechanics ------------------------------------------------------------------------


def _check_images(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
                  reduction: str) -> None:
    check_reduction(reduction)
    check_floating("input", input)
    check_floating("target", target)
    check_ndim("input", input, (4, 5), "N, C, H, W or N, C, D, H, W")
    check_same_shape("input", input, "target", target)
    check_broadcastable("weight", weight, input.shape[:1])


def _check_window(window_size: int, sigma: float, k1: float, k2: float,
                  data_range: float) -> None:
    if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 1 \
            or window_size % 2 == 0:
        raise LossInputError(f"window_size must be an odd positive int, got {window_size!r}")
    check_param("sigma", sigma, low=0.0, low_inclusive=False)
    check_param("k1", k1, low=0.0, low_inclusive=False)
    check_param("k2", k2, low=0.0, low_inclusive=False)
    check_param("data_range", data_range, low=0.0, low_inclusive=False)


def _gaussian(window_size: int, sigma: float, like: torch.Tensor) -> torch.Tensor:
    """The normalized 1-D Gaussian window, centred, ``window_size`` taps."""
    coords = torch.arange(window_size, dtype=like.dtype, device=like.device) - (window_size - 1) / 2
    g = torch.exp(-coords.square() / (2 * sigma * sigma))
    return g / g.sum()


def _filter(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter of ``[B, 1, *spatial]`` without padding ("valid")."""
    dims = x.dim() - 2
    k = window.numel()
    for d in range(dims):
        shape = [1, 1] + [k if i == d else 1 for i in range(dims)]
        x = _CONV[dims](x, window.reshape(shape))
    return x


def _ssim_maps(x: torch.Tensor, y: torch.Tensor, window: torch.Tensor,
               c1: float, c2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Luminance and contrast-structure maps ``[N, C, *valid]``.

    l = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1),
    cs = (2 s_xy + C2) / (s_x^2 + s_y^2 + C2), with Gaussian-weighted (population)
    moments, as in Wang et al. (2004).
    """
    n, c, *spatial = x.shape
    # The second moments E[x^2] - mu^2 cancel when the pixels sit far from 0 on the scale of
    # their spread (float32 gave 1 - SSIM = -2.44 at an offset of 1000, data_range 1): they are
    # taken about the target's mean per image and channel, which the normalized window
    # passes through unchanged, so only the rounding differs.
    shift = y.detach().flatten(2).mean(-1).reshape(n, c, *([1] * len(spatial)))
    x, y = x - shift, y - shift
    # The five moments in one filter call: stack them along the batch axis.
    stack = torch.stack([x, y, x * x, y * y, x * y], dim=1).reshape(n * 5 * c, 1, *spatial)
    moments = _filter(stack, window)
    mu_x, mu_y, e_xx, e_yy, e_xy = moments.reshape(n, 5, c, *moments.shape[2:]).unbind(1)
    contrast_structure = ((2 * (e_xy - mu_x * mu_y) + c2)
                          / ((e_xx - mu_x * mu_x) + (e_yy - mu_y * mu_y) + c2))
    mu_x, mu_y = mu_x + shift, mu_y + shift
    luminance = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    return luminance, contrast_structure


def _spatial_mean(t: torch.Tensor) -> torch.Tensor:
    """Mean over every axis after the channel axis: ``[N, C, *] -> [N, C]``."""
    return t.flatten(2).mean(-1)


def _image_examples(n: int, seed: int, channels: int = 2, size: int = 24
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """A target image in [0, 1] and a prediction correlated with it (SSIM well above 0)."""
    g = ex.generator(seed)
    target = ex.rand(n, channels, size, size, g=g)
    return 0.75 * target + 0.25 * ex.rand(n, channels, size, size, g=g), target


def _reference_ssim_maps(x: torch.Tensor, y: torch.Tensor, data_range: float,
                         window_size: int = 11, sigma: float = 1.5, k1: float = 0.01,
                         k2: float = 0.03) -> tuple[torch.Tensor, torch.Tensor]:
    """The textbook route: one full 2-D Gaussian kernel (outer product), one conv per moment."""
    coords = torch.arange(window_size, dtype=x.dtype) - window_size // 2
    g1 = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    kernel = torch.outer(g1, g1)
    kernel = (kernel / kernel.sum())[None, None]
    c = x.shape[1]

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernel.expand(c, 1, window_size, window_size), groups=c)

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx ** 2
    syy = blur(y * y) - my ** 2
    sxy = blur(x * y) - mx * my
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    return (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1), (2 * sxy + c2) / (sxx + syy + c2)


def _reduced(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def _ssim_reference(input: torch.Tensor, target: torch.Tensor, *, data_range: float = 1.0,
                    reduction: str = "mean", **kw: Any) -> torch.Tensor:
    lum, cs = _reference_ssim_maps(input, target, data_range, **kw)
    return _reduced(1 - (lum * cs).mean(dim=(1, 2, 3)), reduction)


def _perfect(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (args[1].clone(), args[1], *args[2:])


# --- SSIM ------------------------------------------------------------------------------------


_SSIM_REFS = ("Wang, Bovik, Sheikh & Simoncelli, Image Quality Assessment: From Error "
              "Visibility to Structural Similarity, IEEE Transactions on Image Processing "
              "13(4), 2004.",)

_SSIM_RANGE = ("data_range must be the dynamic range of the pixel values (1 for [0, 1] "
               "images, 255 for 8-bit, max - min for other data): C1 = (k1 R)^2 and "
               "C2 = (k2 R)^2 are set from it, so a wrong range silently changes the loss "
               "(too large a range pushes SSIM toward 1 on flat regions). It is a fixed "
               "number, not a learnable one: SSIM rises toward 1 as it grows, so learning it "
               "would only inflate the score.")


@register_loss(
    family="image", tasks=("image_reconstruction", "image_restoration"), input_kind="values",
    target_kind="values (images [N, C, H, W])", aliases=("ssim_loss", "structural_similarity"),
    properties=("nonnegative", "zero_at_optimum"),
    summary="One minus the structural similarity index (SSIM) of two images: a comparison of "
            "local means, contrasts and correlations under an 11x11 Gaussian window.",
    formula="Per valid window position: l = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1), "
            "cs = (2 s_xy + C2) / (s_x^2 + s_y^2 + C2), with Gaussian-weighted means mu, "
            "variances s^2 and covariance s_xy, C1 = (k1 R)^2, C2 = (k2 R)^2; "
            "SSIM = mean over channels and positions of l * cs; L_n = 1 - SSIM_n; mean over "
            "images.",
    gradient="Each pixel receives the gradient of the SSIM of every window that covers it; "
             "it is zero where the two images agree locally, and is driven by structure "
             "(correlation) and contrast rather than absolute error, so it is weak in flat "
             "regions and for uniform brightness shifts (whose only cost is through l).",
    when_to_use="Image reconstruction, restoration, super-resolution, compression and "
                "denoising when perceived structure matters; usually combined with a pixel "
                "loss, e.g. 0.84 * ms_ssim + 0.16 * l1 (Zhao et al. 2017) or ssim + l1 / "
                "charbonnier, since SSIM alone is insensitive to uniform bias and colour "
                "shifts.",
    pitfalls=_SSIM_RANGE + " Windows do not cross the border (no padding), so images must "
              "be at least window_size per side and the outer (window_size - 1) / 2 pixels "
              "only count through the windows that contain them. SSIM can be negative "
              "(anticorrelated structure), so the loss lies in [0, 2]. The window convention "
              "matters when comparing numbers: this is scikit-image's structural_similarity("
              "gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=R), "
              "averaged over channels; uniform 7x7 windows or sample covariance give other "
              "values.",
    references=_SSIM_REFS,
    example_inputs=_image_examples, optimum=_perfect, reference=_ssim_reference,
    none_shape="sample",
)
def ssim(input: torch.Tensor, target: torch.Tensor, *, data_range: float = 1.0,
         window_size: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03,
         weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """``1 - SSIM(input, target)`` per image, with a Gaussian window and no padding.

    Equal to ``1 - skimage.metrics.structural_similarity(x, y, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=R, channel_axis=0)`` per image
    (the mean over channels of each channel's mean SSIM).

    Args:
        data_range: R, the dynamic range of the pixel values (a Python number).
        window_size: taps of the Gaussian window (odd); scikit-image uses
            ``2 * int(3.5 * sigma + 0.5) + 1`` (11 for sigma = 1.5).
        sigma: standard deviation of the Gaussian window, in pixels.
        k1, k2: the stabilizing constants ``C1 = (k1 R)^2`` and ``C2 = (k2 R)^2``.

    Shape:
        input: ``[N, C, H, W]`` or ``[N, C, D, H, W]`` with every spatial side
        ``>= window_size``; target: same; weight: ``[N]``; output: scalar, or ``[N]`` with
        ``reduction="none"``.

    Example:
        >>> x = torch.linspace(0, 1, 256).reshape(1, 1, 16, 16)
        >>> float(ssim(x, x))
        0.0
        >>> round(float(ssim(x, 1 - x)), 4)  # anticorrelated: SSIM < 0
        1.8262
    """
    _check_images(input, target, weight, reduction)
    _check_window(window_size, sigma, k1, k2, data_range)
    if min(input.shape[2:]) < window_size:
        raise LossInputError(f"every spatial side must be >= window_size = {window_size}, got "
                             f"shape {tuple(input.shape)}")
    x, y = upcast(input), upcast(target)
    window = _gaussian(window_size, sigma, x)
    lum, cs = _ssim_maps(x, y, window, (k1 * data_range) ** 2, (k2 * data_range) ** 2)
    loss = 1 - _spatial_mean(lum * cs).mean(-1)
    return reduce(loss, reduction, weight=weight)


# --- MS-SSIM ---------------------------------------------------------------------------------


def _downsample(x: torch.Tensor) -> torch.Tensor:
    """Average 2 x 2 (x 2) blocks; an odd last row / column is averaged with itself.

    An odd side is padded by repeating its last row / column, so each partial block is the
    mean of the pixels it holds: TensorFlow's ``ssim_multiscale`` convention (symmetric
    padding of odd sides). Not ``avg_pool(ceil_mode=True)``, the same values: under
    ``torch.compile`` (inductor, torch 2.13) its gradient on odd sizes is wrong (0.66 off
    on a 25 x 25 image).
    """
    spatial = x.shape[2:]
    pad: list[int] = []
    for size in reversed(spatial):  # F.pad lists the last dimension first
        pad += [0, size % 2]
    if any(pad):
        x = F.pad(x, pad, mode="replicate")
    return _POOL[x.dim() - 2](x, kernel_size=2, stride=2)


def _scale_sizes(spatial: tuple[int, ...], levels: int) -> list[tuple[int, ...]]:
    sizes = [tuple(spatial)]
    for _ in range(levels - 1):
        sizes.append(tuple(math.ceil(s / 2) for s in sizes[-1]))
    return sizes


def _ms_ssim_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    # 161 is the smallest side that survives four halvings with an 11-tap window.
    return _image_examples(n, seed, channels=1, size=161)


def _ms_ssim_reference(input: torch.Tensor, target: torch.Tensor, *, data_range: float = 1.0,
                       reduction: str = "mean",
                       weights: Sequence[float] = MS_SSIM_WEIGHTS) -> torch.Tensor:
    """Wang et al. (2003) with explicit edge-replicated padding and block means."""
    x, y = input, target
    values = []
    for j, w in enumerate(weights):
        lum, cs = _reference_ssim_maps(x, y, data_range)
        last = j == len(weights) - 1
        term = (lum * cs).mean(dim=(2, 3)) if last else cs.mean(dim=(2, 3))
        values.append(torch.relu(term) ** w)
        if not last:
            def halve(t: torch.Tensor) -> torch.Tensor:
                t = F.pad(t, (0, t.shape[-1] % 2, 0, t.shape[-2] % 2), mode="replicate")
                h, w_ = t.shape[-2] // 2, t.shape[-1] // 2
                return t.reshape(*t.shape[:2], h, 2, w_, 2).mean(dim=(3, 5))
            x, y = halve(x), halve(y)
    per_channel = torch.stack(values).prod(0)
    return _reduced(1 - per_channel.mean(1), reduction)


@register_loss(
    family="image", tasks=("image_reconstruction", "image_restoration"), input_kind="values",
    target_kind="values (images [N, C, H, W])", aliases=("ms_ssim_loss", "msssim"),
    properties=("nonnegative", "zero_at_optimum"),
    summary="One minus multi-scale SSIM: contrast-structure compared at five resolutions "
            "(halved each time) and luminance at the coarsest, combined as a weighted "
            "geometric mean.",
    formula="At scales j = 1..M (image averaged 2x2 between scales): cs_j = mean of the cs "
            "map, and at the coarsest scale s_M = mean of the SSIM map l * cs; per channel "
            "MS-SSIM = prod_{j<M} relu(cs_j)^w_j * relu(s_M)^w_M with w = (0.0448, 0.2856, "
            "0.3001, 0.2363, 0.1333); L_n = 1 - mean over channels; mean over images.",
    gradient="Like SSIM at every scale, weighted by w_j times the product of the other "
             "factors over the factor itself: coarse scales (large w) dominate, so it "
             "favours getting structure right over fine detail. A factor at 0 (a scale "
             "whose mean cs is <= 0) zeroes the value and the gradient of that channel.",
    when_to_use="Perceptual image reconstruction and compression where structure at several "
                "viewing distances matters; Zhao et al. (2017) found 0.84 * ms_ssim + 0.16 * "
                "l1 better than either alone for restoration. Prefer ssim for small images "
                "(each side must survive M - 1 halvings with the window inside).",
    pitfalls="Negative contrast-structure: a scale whose mean cs is negative (anticorrelated "
             "structure, common for random predictions early in training) would put a "
             "negative number to a fractional power (NaN). Like pytorch_msssim, piq and "
             "TensorFlow's ssim_multiscale we clamp each factor at 0 (relu): values and "
             "gradients stay finite and equal theirs, but such a channel scores MS-SSIM = 0 "
             "with zero gradient, and just above 0 the gradient grows like cs^(w - 1); warm "
             "up with l1 / ssim or mix in a pixel loss so every scale starts positive. Each "
             "side must be >= (window_size - 1) * 2^(M-1) + 1 (161 for the defaults): pass "
             "fewer weights or a smaller window for small images. Odd sides are halved by "
             "averaging the last row / column with itself (TensorFlow's convention; "
             "pytorch_msssim zero-pads instead, so on odd sizes the two differ by far more "
             "than rounding: compare them on even sizes). "
             + _SSIM_RANGE,
    references=("Wang, Simoncelli & Bovik, Multiscale Structural Similarity for Image Quality "
                "Assessment, 37th Asilomar Conference on Signals, Systems and Computers, "
                "2003.", *_SSIM_REFS, "Zhao, Gallo, Frosio & Kautz, Loss Functions for Image "
                "Restoration With Neural Networks, IEEE Transactions on Computational Imaging "
                "3(1), 2017."),
    example_inputs=_ms_ssim_examples, optimum=_perfect, reference=_ms_ssim_reference,
    none_shape="sample",
)
def ms_ssim(input: torch.Tensor, target: torch.Tensor, *,
            data_range: float = 1.0, window_size: int = 11, sigma: float = 1.5,
            k1: float = 0.01, k2: float = 0.03,
            weights: tuple[float, ...] = MS_SSIM_WEIGHTS,
            weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """``1 - MS-SSIM(input, target)`` per image (Wang, Simoncelli & Bovik 2003).

    ``len(weights)`` scales; between scales both images are averaged over 2 x 2 blocks.
    Scales ``1..M-1`` contribute their mean contrast-structure ``cs_j``, the coarsest its
    mean SSIM (luminance times contrast-structure), each clamped at 0 and raised to its
    weight; the product is averaged over channels. The windows and constants are those
    of :func:`ssim`. A single weight ``(1.0,)`` gives ``ssim``.

    Shape:
        input: ``[N, C, H, W]`` or ``[N, C, D, H, W]``, every spatial side at least
        ``(window_size - 1) * 2^(M-1) + 1``; target: same; weight: ``[N]``; output: scalar,
        or ``[N]`` with ``reduction="none"``.

    Example:
        >>> x = torch.linspace(0, 1, 161 * 161).reshape(1, 1, 161, 161)
        >>> float(ms_ssim(x, x))
        0.0
        >>> round(float(ms_ssim(x, x ** 2)), 4)
        0.071
        >>> float(ms_ssim(x, 1 - x))  # anticorrelated: every cs < 0, clamped to 0
        1.0
    """
    _check_images(input, target, weight, reduction)
    _check_window(window_size, sigma, k1, k2, data_range)
    weights = tuple(weights)
    if not weights:
        raise LossInputError("weights must hold at least one exponent, got ()")
    for w in weights:
        check_param("weights", w, low=0.0, low_inclusive=False)
    sizes = _scale_sizes(input.shape[2:], len(weights))
    if min(sizes[-1]) < window_size:
        need = (window_size - 1) * 2 ** (len(weights) - 1) + 1
        raise LossInputError(
            f"ms_ssim with {len(weights)} scales and window_size {window_size} needs every "
            f"spatial side >= {need} (the image is halved {len(weights) - 1} times); got shape "
            f"{tuple(input.shape)}. Pass fewer weights or a smaller window_size")
    x, y = upcast(input), upcast(target)
    window = _gaussian(window_size, sigma, x)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    total: torch.Tensor | None = None
    for j, w in enumerate(weights):
        lum, cs = _ssim_maps(x, y, window, c1, c2)
        last = j == len(weights) - 1
        term = _spatial_mean(lum * cs) if last else _spatial_mean(cs)
        # relu: a negative mean cs to a fractional power is NaN; 0 is the convention of
        # TensorFlow and pytorch_msssim (see the pitfalls). relu keeps a NaN input NaN.
        factor = torch.relu(term) ** w
        total = factor if total is None else total * factor
        if not last:
            x, y = _downsample(x), _downsample(y)
    assert total is not None  # weights is not empty (checked above)
    loss = 1 - total.mean(-1)
    return reduce(loss, reduction, weight=weight)


# --- pixel losses -----------------------------------------------------------------------------


def _charbonnier_reference(input: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-3,
                          reduction: str = "mean") -> torch.Tensor:
    return _reduced(torch.sqrt((input - target) ** 2 + eps ** 2), reduction)


@register_loss(
    family="image", tasks=("image_reconstruction", "image_restoration", "regression"),
    input_kind="values", target_kind="values", aliases=("charbonnier_loss", "pseudo_huber_l1"),
    properties=("convex", "robust_to_outliers", "bounded_gradient", "nonnegative"),
    summary="Charbonnier loss: a differentiable L1, sqrt(r^2 + eps^2).",
    formula="L = mean sqrt((x - y)^2 + eps^2)",
    gradient="dL/dx = (x - y) / sqrt((x - y)^2 + eps^2): like L2 / eps for |x - y| << eps, "
             "like sign(x - y) (L1) beyond; bounded by 1. Differentiable everywhere, but its "
             "curvature at 0 is 1 / eps (1000 at the default), so at the scale of typical "
             "errors it behaves like L1's kink.",
    when_to_use="Pixel loss for image restoration, super-resolution, deblurring and optical "
                "flow (LapSRN, EDVR, many flow networks): L1's robustness and sharpness without "
                "its kink at zero. Pair it with ssim / ms_ssim for structure.",
    pitfalls="The minimum value is eps, not 0 (the loss is not shifted): compare values only "
             "at the same eps. eps is in pixel units (1e-3 for [0, 1] images, about 0.25 for "
             "0..255 data); a large eps makes it quadratic (L2-like) over typical errors. "
             "Barron's general_robust(alpha=1, scale=eps) is the shifted, rescaled form "
             "(sqrt((r / eps)^2 + 1) - 1).",
    references=("Charbonnier, Blanc-Feraud, Aubert & Barlaud, Two Deterministic Half-Quadratic "
                "Regularization Algorithms for Computed Imaging, ICIP 1994.",
                "Lai, Huang, Ahuja & Yang, Deep Laplacian Pyramid Networks for Fast and "
                "Accurate Super-Resolution, CVPR 2017."),
    example_inputs=ex.regression, optimum=_perfect, reference=_charbonnier_reference,
    learnable=("eps",),
)
def charbonnier(input: torch.Tensor, target: torch.Tensor, *, eps: float | torch.Tensor = 1e-3,
                weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Charbonnier loss ``sqrt((input - target)^2 + eps^2)``.

    Shape:
        input: ``[*]``; target: ``[*]``; output: scalar, or ``[*]`` with ``reduction="none"``.

    Example:
        >>> round(float(charbonnier(torch.tensor([3.0]), torch.tensor([0.0]), eps=4.0)), 4)
        5.0
    """
    check_pair(input, target, weight, reduction)
    check_param("eps", eps, low=0.0, low_inclusive=False, learnable=True)
    r = upcast(input) - upcast(target)
    e = upcast(eps) if isinstance(eps, torch.Tensor) else torch.full_like(r, eps)
    # hypot(r, eps) = sqrt(r^2 + eps^2) without squaring: no overflow for huge residuals.
    return reduce(torch.hypot(r, e), reduction, weight=weight)


def _tv_examples(n: int, seed: int) -> tuple[torch.Tensor]:
    g = ex.generator(seed)
    return (ex.rand(n, 2, 5, 6, g=g),)


def _tv_reference(input: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Neighbour differences one row and one column at a time."""
    n, _, h, w = input.shape
    total = input.new_zeros(n)
    for i in range(h - 1):
        total = total + (input[:, :, i + 1, :] - input[:, :, i, :]).abs().sum(dim=(1, 2))
    for j in range(w - 1):
        total = total + (input[:, :, :, j + 1] - input[:, :, :, j]).abs().sum(dim=(1, 2))
    return _reduced(total, reduction)


@register_loss(
    family="image", tasks=("image_reconstruction", "image_restoration", "regularization"),
    input_kind="values", target_kind="none", aliases=("tv", "tv_loss", "anisotropic_tv"),
    properties=("convex", "bounded_gradient", "nonnegative", "zero_at_optimum"),
    summary="Anisotropic total variation: the L1 norm of differences between neighbouring "
            "pixels, summed per image; a smoothness prior that keeps edges.",
    formula="TV_n = sum_c sum_axes sum |x_{..., i+1, ...} - x_{..., i, ...}| over every "
            "spatial axis of image n; L = mean over images.",
    gradient="dTV/dx = sum over its neighbours of sign(x - neighbour): each pixel is pulled "
             "toward the median of its neighbours with a force that does not depend on the "
             "size of the jump, so noise is removed while large edges are not blurred "
             "(unlike a squared-difference smoothness term).",
    when_to_use="A regularizer added to a reconstruction loss: denoising, deblurring, "
                "inpainting, style transfer and feature visualization, optical-flow and depth "
                "smoothness. Weight it small (1e-6 to 1e-2 relative to the data term "
                "depending on image size, since it is a sum over pixels).",
    pitfalls="Used alone it is minimized by any constant image. It is a per-image sum, so its "
             "scale grows with resolution: rescale its weight when the image size changes. "
             "The anisotropic (L1 per axis) form favours axis-aligned edges and produces "
             "staircasing on smooth ramps; the isotropic form sqrt(dx^2 + dy^2) is rotation "
             "invariant but needs care at 0. Not differentiable where neighbours are equal "
             "(0 is the subgradient used).",
    references=("Rudin, Osher & Fatemi, Nonlinear Total Variation Based Noise Removal "
                "Algorithms, Physica D 60(1-4), 1992.",),
    example_inputs=_tv_examples, optimum=lambda args: (torch.zeros_like(args[0]),),
    reference=_tv_reference, none_shape="sample",
)
def total_variation(input: torch.Tensor, *, weight: torch.Tensor | None = None,
                    reduction: Reduction = "mean") -> torch.Tensor:
    """Anisotropic total variation, summed per image and averaged over images.

    ``TV_n = sum |x[n, c, i+1, j] - x[n, c, i, j]| + sum |x[n, c, i, j+1] - x[n, c, i, j]|``
    (every spatial axis for volumes or signals).

    Shape:
        input: ``[N, C, *spatial]`` with 1 to 3 spatial axes; weight: ``[N]``; output:
        scalar, or ``[N]`` with ``reduction="none"``.

    Example:
        >>> x = torch.tensor([[[[0.0, 1.0], [3.0, 3.0]]]])  # |1| + |0| + |3| + |2|
        >>> float(total_variation(x))
        6.0
    """
    check_reduction(reduction)
    check_floating("input", input)
    check_ndim("input", input, (3, 4, 5), "N, C, *spatial with 1 to 3 spatial axes")
    check_broadcastable("weight", weight, input.shape[:1])
    x = upcast(input)
    per_image = x.new_zeros(x.shape[0])
    for axis in range(2, x.dim()):
        per_image = per_image + x.diff(dim=axis).abs().flatten(1).sum(-1)
    return reduce(per_image, reduction, weight=weight)
