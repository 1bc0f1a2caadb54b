"""Segmentation losses that look at shape rather than overlap: clDice and the boundary loss.

Shapes used throughout:

* ``input``: ``[N, C, H, W]`` or ``[N, C, D, H, W]`` logits; one channel is a binary
  foreground logit (sigmoid), several channels are exclusive classes (softmax over dim 1).
* ``cl_dice``'s ``target``: ``[N, *spatial]`` integer class indices (also
  ``[N, 1, *spatial]``; 0/1 with a single channel), or ``[N, C, *spatial]`` one-hot / soft
  probabilities.
* ``boundary``'s ``distance_map``: ``[N, C, *spatial]`` signed distances to each class's
  ground-truth region, precomputed (see :func:`boundary`).

float16/bfloat16 inputs are computed in float32 and the result is float32.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .._core.reduce import reduce, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_class_indices,
    check_floating,
    check_ndim,
    check_param,
    check_probabilities,
    check_reduction,
    check_same_shape,
)
from . import _examples as ex

__all__ = ["boundary", "cl_dice"]

_MAX_POOL = {2: F.max_pool2d, 3: F.max_pool3d}


def _check_input(input: torch.Tensor) -> None:
    check_floating("input", input)
    check_ndim("input", input, (4, 5), "N, C, H, W or N, C, D, H, W")


def _probabilities(input: torch.Tensor) -> torch.Tensor:
    """Sigmoid of a single foreground channel, softmax over several exclusive classes."""
    x = upcast(input)
    return torch.sigmoid(x) if x.shape[1] == 1 else torch.softmax(x, dim=1)


def _foreground(t: torch.Tensor, include_background: bool) -> torch.Tensor:
    """Drop channel 0 of a multi-class map unless the background is kept."""
    return t if include_background or t.shape[1] == 1 else t[:, 1:]


def _dense_target(target: torch.Tensor, input: torch.Tensor) -> torch.Tensor:
    """Bring a class-index or probability target to ``[N, C, *spatial]`` floats."""
    if not isinstance(target, torch.Tensor):
        raise LossInputError(f"target must be a torch.Tensor, got {type(target).__name__}")
    n, c, *spatial = input.shape
    if target.dtype == torch.bool:
        target = target.to(torch.int64)
    if target.is_floating_point():
        if target.shape != input.shape:
            raise LossInputError(
                f"a probability target must have the input's shape {tuple(input.shape)}, got "
                f"{tuple(target.shape)}; class indices must be an integer tensor [N, *spatial]")
        check_probabilities("target", target)
        return upcast(target)
    if target.shape == (n, 1, *spatial):
        target = target.squeeze(1)
    if target.shape != (n, *spatial):
        raise LossInputError(f"an index target must have shape (N, *spatial) = "
                             f"{(n, *spatial)}, got {tuple(target.shape)}")
    check_class_indices("target", target, max(c, 2))
    dtype = upcast(input).dtype
    if c == 1:
        return (target == 1).to(dtype).unsqueeze(1)
    # A comparison with the class ids, not F.one_hot (which reads the data to check it).
    classes = torch.arange(c, device=target.device).reshape(1, c, *[1] * len(spatial))
    return (target.unsqueeze(1) == classes).to(dtype)


# --- soft skeleton (Shit et al. 2021) -----------------------------------------------------------


def _soft_erode(img: torch.Tensor) -> torch.Tensor:
    """Min-pooling over a cross (3 taps along each axis): a soft morphological erosion."""
    dims = img.dim() - 2
    pool = _MAX_POOL[dims]
    eroded: torch.Tensor | None = None
    for axis in range(dims):
        kernel = tuple(3 if i == axis else 1 for i in range(dims))
        padding = tuple(1 if i == axis else 0 for i in range(dims))
        # min(x) = -max(-x); the pooling's implicit -inf padding never wins the min.
        along = -pool(-img, kernel, stride=1, padding=padding)
        eroded = along if eroded is None else torch.minimum(eroded, along)
    assert eroded is not None  # the input has at least one spatial axis (checked by callers)
    return eroded


def _soft_dilate(img: torch.Tensor) -> torch.Tensor:
    """Max-pooling over the full 3 x 3 (x 3) neighbourhood: a soft dilation."""
    return _MAX_POOL[img.dim() - 2](img, 3, stride=1, padding=1)


def _soft_skeleton(img: torch.Tensor, iterations: int) -> torch.Tensor:
    """Iterated soft opening residues: skel += relu(delta - skel * delta) at every erosion.

    relu (not a mask) keeps a NaN probability NaN.
    """
    skeleton = torch.relu(img - _soft_dilate(_soft_erode(img)))
    for _ in range(iterations):
        img = _soft_erode(img)
        delta = torch.relu(img - _soft_dilate(_soft_erode(img)))
        skeleton = skeleton + torch.relu(delta - skeleton * delta)
    return skeleton


def _per_image_sum(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], math.prod(t.shape[1:])).sum(-1)


def _topology_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits [n, 3, 12, 12] and index targets made of thin horizontal and vertical lines."""
    g = ex.generator(seed)
    logits = ex.randn(n, 3, 12, 12, g=g) * 2
    target = torch.zeros(n, 12, 12, dtype=torch.int64)
    rows = torch.randint(1, 11, (n, 2), generator=g)
    cols = torch.randint(1, 11, (n, 2), generator=g)
    for i in range(n):  # building example data, not part of any loss
        target[i, rows[i, 0], 2:10] = 1
        target[i, rows[i, 1], 1:11] = 1
        target[i, 1:11, cols[i, 0]] = 2
        target[i, 3:9, cols[i, 1]] = 2
    return logits, target


def _confident(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Logits so confident that softmax is exactly one-hot in float64 (exp(-1000) = 0)."""
    logits, target = args[0], args[1]
    onehot = F.one_hot(target, logits.shape[1]).movedim(-1, 1).to(logits.dtype)
    return (1000.0 * onehot, *args[1:])


def _cl_dice_reference(input: torch.Tensor, target: torch.Tensor, *, iterations: int = 3,
                       smooth: float = 1.0, reduction: str = "mean") -> torch.Tensor:
    """The official clDice recipe per image (jocpae/clDice): 2-D cross erosion via two
    separate 3x1 / 1x3 min-pools, 3x3 dilation, foreground channels 1: of a softmax."""
    def erode(img: torch.Tensor) -> torch.Tensor:
        p1 = -F.max_pool2d(-img, (3, 1), (1, 1), (1, 0))
        p2 = -F.max_pool2d(-img, (1, 3), (1, 1), (0, 1))
        return torch.min(p1, p2)

    def dilate(img: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(img, (3, 3), (1, 1), (1, 1))

    def skel(img: torch.Tensor) -> torch.Tensor:
        s = F.relu(img - dilate(erode(img)))
        for _ in range(iterations):
            img = erode(img)
            d = F.relu(img - dilate(erode(img)))
            s = s + F.relu(d - s * d)
        return s

    p = torch.softmax(input, 1)[:, 1:]
    t = F.one_hot(target, input.shape[1]).permute(0, 3, 1, 2).to(input.dtype)[:, 1:]
    sp, st = skel(p), skel(t)
    tprec = ((sp * t).sum((1, 2, 3)) + smooth) / (sp.sum((1, 2, 3)) + smooth)
    tsens = ((st * p).sum((1, 2, 3)) + smooth) / (st.sum((1, 2, 3)) + smooth)
    loss = 1.0 - 2.0 * (tprec * tsens) / (tprec + tsens)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@register_loss(
    family="segmentation", tasks=("segmentation", "tubular_segmentation"), input_kind="logits",
    target_kind="class indices [N, *spatial] or probabilities [N, C, *spatial]",
    aliases=("cldice", "soft_cldice", "centerline_dice"),
    properties=("nonnegative", "zero_at_optimum"), none_shape="sample",
    summary="Soft clDice: a Dice-like score between each mask and the other's soft skeleton "
            "(centerline), so breaking a thin structure costs much more than thinning it.",
    formula="S_P = softskel(P), S_T = softskel(T) (soft skeletons by iterated min/max-pooling); "
            "Tprec = (sum S_P T + s) / (sum S_P + s), Tsens = (sum S_T P + s) / (sum S_T + s), "
            "sums over the foreground classes and voxels of one image; L = 1 - 2 Tprec Tsens / "
            "(Tprec + Tsens); mean over images.",
    gradient="Through the soft skeleton of the prediction (Tprec: predicted centerlines must "
             "lie in the true mask) and through the prediction at the true centerline (Tsens: "
             "true centerlines must be covered); pixels away from centerlines get a gradient "
             "only through the skeletonization's max/min-pooling, so it says little about "
             "boundaries and is usually paired with dice or cross-entropy.",
    when_to_use="Segmentation of thin, tubular or curvilinear structures where connectivity "
                "matters more than pixel overlap (vessels, neurons, airways, roads, cracks); "
                "Shit et al. use (1 - alpha) dice + alpha cl_dice with alpha ~ 0.1-0.5.",
    pitfalls="The soft skeleton needs iterations at least as large as the half-width of the "
             "thickest structure (in pixels); 3 (the paper's iter_) suits structures a few "
             "pixels wide, thicker ones need more (and more compute; the current reference "
             "code's soft_cldice runs 10 whatever iter_ says). Used alone it ignores thickness and "
             "boundaries: combine it with dice or cross-entropy. The background channel is "
             "excluded from the sums unless include_background=True (the reference code "
             "excludes it). This computes one score per image (like MONAI's SoftclDiceLoss); "
             "the original code pools the whole batch into one score, equal for N = 1. "
             "Softmax for several channels, sigmoid for one: a multi-label input is not "
             "supported.",
    references=("Shit, Paetzold, Sekuboyina, Ezhov, Unger, Zhylka, Pluim, Bauer & Menze, "
                "clDice - a Novel Topology-Preserving Loss Function for Tubular Structure "
                "Segmentation, CVPR 2021.",),
    example_inputs=_topology_examples, optimum=_confident, reference=_cl_dice_reference,
)
def cl_dice(input: torch.Tensor, target: torch.Tensor, *, iterations: int = 3,
            smooth: float = 1.0, include_background: bool = False,
            weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Soft clDice loss ``1 - 2 Tprec Tsens / (Tprec + Tsens)`` per image.

    ``Tprec = (sum(skel(P) T) + smooth) / (sum(skel(P)) + smooth)`` and
    ``Tsens = (sum(skel(T) P) + smooth) / (sum(skel(T)) + smooth)``, with ``P`` the
    predicted probabilities (sigmoid for one channel, softmax otherwise), ``T`` the target
    and ``skel`` the soft skeleton after ``iterations`` erosions; sums run over the
    foreground classes (all classes with ``include_background``) and voxels of each image.

    Shape:
        input: ``[N, C, H, W]`` or ``[N, C, D, H, W]`` logits; target: ``[N, *spatial]``
        indices or ``[N, C, *spatial]`` probabilities; weight: ``[N]``; output: scalar, or
        ``[N]`` with ``reduction="none"``.

    Example:
        >>> t = torch.zeros(1, 9, 9, dtype=torch.long); t[0, 4, 1:8] = 1  # a horizontal line
        >>> perfect = 50.0 * (2.0 * t.unsqueeze(1).double() - 1)  # one sigmoid channel
        >>> float(cl_dice(perfect, t)) < 1e-12
        True
        >>> round(float(cl_dice(torch.zeros(1, 1, 9, 9), t)), 4)  # p = 0.5 everywhere
        0.28
    """
    check_reduction(reduction)
    _check_input(input)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise LossInputError(f"iterations must be a non-negative int, got {iterations!r}")
    check_param("smooth", smooth, low=0.0, low_inclusive=False)
    check_broadcastable("weight", weight, input.shape[:1])
    t = _foreground(_dense_target(target, input), include_background)
    p = _foreground(_probabilities(input), include_background)
    skel_p = _soft_skeleton(p, iterations)
    skel_t = _soft_skeleton(t, iterations)
    precision = (_per_image_sum(skel_p * t) + smooth) / (_per_image_sum(skel_p) + smooth)
    sensitivity = (_per_image_sum(skel_t * p) + smooth) / (_per_image_sum(skel_t) + smooth)
    loss = 1 - 2 * precision * sensitivity / (precision + sensitivity)
    return reduce(loss, reduction, weight=weight)


# --- boundary loss (Kervadec et al.) ------------------------------------------------------------


def _signed_distance_bruteforce(mask: torch.Tensor) -> torch.Tensor:
    """Kervadec's signed distance map of a boolean mask ``[*spatial]``, by brute force.

    Outside the mask: the Euclidean distance to the nearest mask pixel; inside: minus (the
    distance to the nearest background pixel - 1), so the mask's edge pixels are 0; an
    empty mask gives zeros. For small test images only (O(pixels^2)); use
    ``scipy.ndimage.distance_transform_edt`` for real data (see :func:`boundary`).
    """
    grid = torch.stack(torch.meshgrid(*[torch.arange(s, dtype=torch.float64)
                                        for s in mask.shape], indexing="ij"), -1)
    points = grid.reshape(-1, mask.dim())
    inside = mask.reshape(-1).bool()
    if not bool(inside.any()):
        return torch.zeros(mask.shape, dtype=torch.float64)
    dist = torch.cdist(points, points)
    inf = torch.tensor(float("inf"), dtype=torch.float64)
    to_inside = torch.where(inside[None, :], dist, inf).min(1).values
    to_outside = torch.where(~inside[None, :], dist, inf).min(1).values
    phi = torch.where(inside, -(to_outside - 1), to_inside)
    return phi.reshape(mask.shape)


def _boundary_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits [n, 2, 8, 8] and the signed distance maps of a random rectangle per image."""
    g = ex.generator(seed)
    logits = ex.randn(n, 2, 8, 8, g=g) * 2
    maps = torch.zeros(n, 2, 8, 8, dtype=torch.float64)
    corners = torch.randint(1, 4, (n, 2), generator=g)
    sizes = torch.randint(2, 5, (n, 2), generator=g)
    for i in range(n):  # building example data, not part of any loss
        fg = torch.zeros(8, 8, dtype=torch.bool)
        r, c = int(corners[i, 0]), int(corners[i, 1])
        fg[r:r + int(sizes[i, 0]), c:c + int(sizes[i, 1])] = True
        maps[i, 0] = _signed_distance_bruteforce(~fg)
        maps[i, 1] = _signed_distance_bruteforce(fg)
    return logits, maps


def _boundary_optimum(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Each class's region is where its distance map is <= 0; confident logits there."""
    return (1000.0 * (args[1] <= 0).to(args[0].dtype), *args[1:])


def _boundary_reference(input: torch.Tensor, distance_map: torch.Tensor, *,
                        reduction: str = "mean") -> torch.Tensor:
    # SurfaceLoss of Kervadec et al.'s code: einsum of probabilities and maps, then a mean.
    product = torch.einsum("bkwh,bkwh->bkwh", torch.softmax(input, 1), distance_map)
    return {"mean": product.mean(), "sum": product.sum(), "none": product}[reduction]


@register_loss(
    family="segmentation", tasks=("segmentation", "binary_segmentation"), input_kind="logits",
    target_kind="signed distance maps [N, C, *spatial] (negative inside each class's region)",
    aliases=("boundary_loss", "surface_loss"),
    properties=("bounded_gradient", "handles_imbalance"),
    summary="Boundary (surface) loss: predicted probabilities weighted by a precomputed signed "
            "distance to the ground-truth boundary, an integral over the region between the "
            "predicted and the true boundary.",
    formula="L = mean over (n, c, voxels) of p_c(q) * phi_c(q), with p the softmax (sigmoid "
            "for one channel) probabilities and phi_c the signed distance map of class c's "
            "ground truth (positive outside, <= 0 inside).",
    gradient="dL/dp_c(q) = phi_c(q) / count: probability mass outside the true region is "
             "pushed down in proportion to its distance from the boundary, and mass inside "
             "is rewarded; the distance weighting gives far false positives large gradients "
             "whatever the region's size.",
    when_to_use="Highly unbalanced segmentation (small lesions, thin structures) together "
                "with a regional loss: Kervadec et al. pair it with generalized Dice and move "
                "weight from the regional term to the boundary term as training proceeds. "
                "Alone, early in training, it mostly pushes probabilities down everywhere "
                "outside the region (a regional loss is needed to grow the region).",
    pitfalls="The distance maps must be precomputed from the ground truth (not "
             "differentiable, O(voxels) per image with an exact EDT), e.g. with "
             "scipy.ndimage.distance_transform_edt, per image and class: "
             "phi = edt(~mask) * ~mask - (edt(mask) - 1) * mask (Kervadec's convention, 0 on "
             "the mask's edge pixels, all zeros for an absent class); pass spacing via "
             "sampling= for anisotropic voxels. The loss is negative at good predictions and "
             "its minimum is not 0 (it depends on the region's size): monitor it, do not "
             "compare it across datasets. Start from a regional loss and ramp the boundary "
             "term in, as in the paper; include_background=False matches the paper's "
             "foreground-only experiments.",
    references=("Kervadec, Bouchtiba, Desrosiers, Granger, Dolz & Ben Ayed, Boundary Loss for "
                "Highly Unbalanced Segmentation, MIDL 2019 (PMLR 102).",
                "Kervadec, Bouchtiba, Desrosiers, Granger, Dolz & Ben Ayed, Boundary Loss for "
                "Highly Unbalanced Segmentation, Medical Image Analysis 67, 2021."),
    example_inputs=_boundary_examples, optimum=_boundary_optimum, reference=_boundary_reference,
)
def boundary(input: torch.Tensor, distance_map: torch.Tensor, *, include_background: bool = True,
             weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Boundary loss ``mean(p * phi)`` (Kervadec et al.) with precomputed signed distances.

    ``p`` are the predicted probabilities (sigmoid for one channel, softmax otherwise) and
    ``phi`` the signed distance map of each class's ground truth: positive outside the
    region, ``<= 0`` inside. With ``include_background=False`` channel 0 of a multi-class
    input is left out (after the softmax).

    Computing the maps (once per training image, e.g. in the data loader)::

        import numpy as np
        from scipy.ndimage import distance_transform_edt as edt

        def signed_distance(mask):  # mask: bool array [*spatial] of one class
            if not mask.any():
                return np.zeros(mask.shape)
            return edt(~mask) * ~mask - (edt(mask) - 1) * mask

        phi = np.stack([signed_distance(label == c) for c in range(C)])  # [C, *spatial]

    Shape:
        input: ``[N, C, H, W]`` or ``[N, C, D, H, W]`` logits; distance_map: same shape;
        weight: broadcastable to the unreduced loss; output: scalar, or ``[N, K, *spatial]``
        with ``reduction="none"`` (``K = C``, or ``C - 1`` without background).

    Example:
        >>> phi = torch.tensor([[[[-1.0, 0.0, 1.0, 2.0]]]])  # one channel, a 1 x 4 image
        >>> float(boundary(torch.zeros(1, 1, 1, 4), phi))  # p = 0.5: 0.5 * (-1 + 0 + 1 + 2) / 4
        0.25
    """
    check_reduction(reduction)
    _check_input(input)
    check_floating("distance_map", distance_map)
    check_same_shape("input", input, "distance_map", distance_map)
    p = _foreground(_probabilities(input), include_background)
    phi = _foreground(upcast(distance_map), include_background)
    check_broadcastable("weight", weight, p.shape)
    return reduce(p * phi, reduction, weight=weight)
