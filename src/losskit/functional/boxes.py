"""Bounding-box regression losses built on intersection over union.

Every function takes ``input: [*, 4]`` predicted boxes and ``target: [*, 4]`` boxes (usually
``[N, 4]``), both as ``(x1, y1, x2, y2)`` with ``x2 >= x1`` and ``y2 >= y1``, pairs them
position by position, and returns ``1 - (IoU - penalty)``. ``"none"`` gives one value per
box pair ``[*]``. ``giou`` and ``diou`` also take axis-aligned 3-D boxes ``[*, 6]`` as
``(x1, y1, z1, x2, y2, z2)`` (MONAI's ``StandardMode``): volumes replace areas and the
enclosing box's diagonal is 3-D. ``ciou``'s aspect-ratio term is defined for 2-D boxes only.

Degenerate boxes (zero width or height, points, identical or disjoint boxes) give finite
values and gradients: every ratio divides by its denominator clamped at ``eps``
(``1e-7``), which changes nothing for boxes of area above ``eps`` and keeps identical
boxes at exactly 0. torchvision instead adds ``eps`` to every denominator, so values
agree with ``torchvision.ops.generalized_box_iou_loss`` / ``distance_box_iou_loss`` /
``complete_box_iou_loss`` to about ``eps`` relative to the box area.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .._core.reduce import reduce, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_floating,
    check_in_range,
    check_param,
    check_reduction,
    check_same_shape,
)
from . import _examples as ex

__all__ = ["ciou", "diou", "giou"]


_LAYOUTS = {4: "[N, 4] (x1, y1, x2, y2)", 6: "[N, 6] (x1, y1, z1, x2, y2, z2)"}


def _float_boxes(input: torch.Tensor,
                 target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer boxes (pixel coordinates, as torchvision accepts) as floating point: the dtype
    of the floating one of the pair, or float32 when both are integers."""
    def is_int(t: object) -> bool:
        return isinstance(t, torch.Tensor) and not (t.is_floating_point() or t.is_complex()
                                                    or t.dtype == torch.bool)

    if not (is_int(input) or is_int(target)):
        return input, target
    dtype = next((t.dtype for t in (input, target)
                  if isinstance(t, torch.Tensor) and t.is_floating_point()), torch.float32)
    return (input.to(dtype) if is_int(input) else input,
            target.to(dtype) if is_int(target) else target)


def _check_boxes(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
                 reduction: str, eps: float, *, widths: tuple[int, ...] = (4, 6)) -> None:
    check_reduction(reduction)
    check_param("eps", eps, low=0.0, low_inclusive=False)
    layouts = " or ".join(_LAYOUTS[w] for w in widths)
    for name, t in (("input", input), ("target", target)):
        check_floating(name, t)
        if t.dim() == 0 or t.shape[-1] not in widths:
            raise LossInputError(f"{name} must have shape {layouts} (or any leading "
                                 f"dimensions [*, {widths[0]}]), got {tuple(t.shape)}"
                                 + (" (3-D boxes: use giou or diou; the aspect-ratio term of "
                                    "ciou is defined for 2-D boxes only)"
                                    if t.dim() and t.shape[-1] == 6 else ""))
        k = t.shape[-1] // 2
        sides = t[..., k:] - t[..., :k]
        check_in_range(f"{name} (boxes as lower corner, then upper corner)", sides, 0.0, None,
                       "widths x2 - x1, heights y2 - y1" + (", depths z2 - z1" if k == 3 else ""))
    check_same_shape("input", input, "target", target)
    check_broadcastable("weight", weight, input.shape[:-1])


def _volume(sides: torch.Tensor) -> torch.Tensor:
    """Product of the side lengths ``[*, k]`` (area, or volume for 3-D boxes), written as a
    chain of products: torch.prod's backward branches on zeros, which vmap cannot trace."""
    out = sides[..., 0]
    for i in range(1, sides.shape[-1]):
        out = out * sides[..., i]
    return out


def _geometry(a: torch.Tensor, b: torch.Tensor,
              eps: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """IoU, union and the side lengths of the enclosing box of paired boxes ``a``, ``b``
    (``[*, 2k]`` each, lower corner then upper corner)."""
    k = a.shape[-1] // 2
    lo_a, hi_a, lo_b, hi_b = a[..., :k], a[..., k:], b[..., :k], b[..., k:]
    inter = _volume((torch.minimum(hi_a, hi_b) - torch.maximum(lo_a, lo_b)).clamp(min=0))
    union = _volume(hi_a - lo_a) + _volume(hi_b - lo_b) - inter
    # union is 0 only for two empty boxes: IoU 0 there, with a zero gradient (the loss is
    # flat in every direction that keeps the boxes valid; the clamp's subgradient at the
    # boundary would give about 1 / eps)
    iou = torch.where(union <= 0, 0.0, inter / union.clamp(min=eps))  # NaN propagates
    extent = torch.maximum(hi_a, hi_b) - torch.minimum(lo_a, lo_b)  # enclosing box
    return iou, union, extent


def _center_term(a: torch.Tensor, b: torch.Tensor, extent: torch.Tensor,
                 eps: float) -> torch.Tensor:
    """Squared center distance over the squared diagonal of the enclosing box."""
    k = a.shape[-1] // 2
    d = (a[..., :k] + a[..., k:] - b[..., :k] - b[..., k:]) * 0.5
    return d.square().sum(-1) / extent.square().sum(-1).clamp(min=eps)


def _aspect_angle(box: torch.Tensor) -> torch.Tensor:
    """atan(w / h) computed as atan2(w, h): pi/2 for h = 0 instead of a division by zero.

    A point box (w = h = 0) has no aspect ratio; it is treated as square (pi/4) with zero
    gradient, because atan2's gradient is 0/0 there.
    """
    w, h = box[..., 2] - box[..., 0], box[..., 3] - box[..., 1]
    point = (w == 0) & (h == 0)
    return torch.where(point, math.pi / 4, torch.atan2(torch.where(point, 1.0, w),
                                                       torch.where(point, 1.0, h)))


def _box_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Overlapping, nested and disjoint pairs: corners in [0, 4), sides in [0.2, 2.2)."""
    g = ex.generator(seed)

    def boxes() -> torch.Tensor:
        xy = ex.rand(n, 2, g=g) * 4
        return torch.cat([xy, xy + ex.rand(n, 2, g=g) * 2 + 0.2], dim=1)

    return boxes(), boxes()


def _identical(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (args[1].clone(), args[1], *args[2:])


# torchvision's formulas with eps added to each denominator (independent reference).
def _tv_parts(a: torch.Tensor, b: torch.Tensor,
              eps: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = torch.max(a[:, :2], b[:, :2])
    rb = torch.min(a[:, 2:], b[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    union = area_a + area_b - inter
    iou = inter / (union + eps)
    c1 = torch.min(a[:, :2], b[:, :2])
    c2 = torch.max(a[:, 2:], b[:, 2:])
    return iou, union, c1, c2


def _reduce_ref(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def _giou_reference(input: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-7,
                    reduction: str = "mean") -> torch.Tensor:
    iou, union, c1, c2 = _tv_parts(input, target, eps)
    area_c = (c2 - c1).prod(-1)
    return _reduce_ref(1 - (iou - (area_c - union) / (area_c + eps)), reduction)


def _diou_reference(input: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-7,
                    reduction: str = "mean") -> torch.Tensor:
    iou, _, c1, c2 = _tv_parts(input, target, eps)
    diag = ((c2 - c1) ** 2).sum(-1) + eps
    centers = (((input[:, :2] + input[:, 2:]) - (target[:, :2] + target[:, 2:])) / 2) ** 2
    return _reduce_ref(1 - iou + centers.sum(-1) / diag, reduction)


def _ciou_reference(input: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-7,
                    reduction: str = "mean") -> torch.Tensor:
    iou, _, c1, c2 = _tv_parts(input, target, eps)
    diag = ((c2 - c1) ** 2).sum(-1) + eps
    centers = (((input[:, :2] + input[:, 2:]) - (target[:, :2] + target[:, 2:])) / 2) ** 2
    wp, hp = input[:, 2] - input[:, 0], input[:, 3] - input[:, 1]
    wg, hg = target[:, 2] - target[:, 0], target[:, 3] - target[:, 1]
    v = (4 / math.pi ** 2) * (torch.atan(wg / hg) - torch.atan(wp / hp)) ** 2
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return _reduce_ref(1 - iou + centers.sum(-1) / diag + alpha * v, reduction)


_BOX_PITFALLS = (
    "Boxes must be (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1 (3-D: x1, y1, z1, x2, y2, z2): "
    "parametrize predictions so (e.g. x2 = x1 + softplus(w)); the loss raises on negative "
    "sides. Integer boxes (pixel coordinates) are converted to floating point, as in "
    "torchvision. An empty batch gives 0.0 (torchvision also gives 0; MONAI's mean of nothing is "
    "NaN). It is scale-invariant, "
    "so small boxes pull as hard as large ones, and it is usually paired with an L1 term on the "
    "coordinates, whose scale must then be balanced against it. Zero-area boxes have IoU 0.")


@register_loss(
    family="boxes", tasks=("detection",), input_kind="boxes", target_kind="boxes",
    aliases=("giou_loss", "generalized_iou", "generalized_box_iou"),
    properties=("nonnegative", "zero_at_optimum"),
    summary="Generalized IoU loss: 1 - IoU plus the fraction of the enclosing box not covered "
            "by the union, so disjoint boxes still get a gradient.",
    formula="GIoU = IoU - (|C| - |A ∪ B|) / |C|, C the smallest box enclosing A and B; "
            "L = 1 - GIoU, in [0, 2].",
    gradient="While the boxes overlap it follows IoU; when they are disjoint IoU is flat (0) and "
             "the enclosing-box term pulls the prediction toward the target. When one box "
             "contains the other, GIoU = IoU and IoU does not change as the inner box moves "
             "inside the outer one: the translation part of the gradient is zero (the size "
             "part is not), so the position of nested boxes converges slowly.",
    when_to_use="Bounding-box regression in detectors evaluated by IoU / AP, instead of or "
                "together with smooth L1 on the coordinates; 3-D boxes [*, 6] for volumetric "
                "detection (MONAI's BoxGIoULoss).",
    pitfalls=_BOX_PITFALLS + " Slow convergence for nested or horizontally/vertically aligned "
             "boxes: diou or ciou add a center-distance term.",
    references=("Rezatofighi, Tsoi, Gwak, Sadeghian, Reid & Savarese, Generalized Intersection "
                "over Union: A Metric and A Loss for Bounding Box Regression, CVPR 2019.",
                "torchvision.ops.generalized_box_iou_loss; monai.losses.BoxGIoULoss (3-D)."),
    example_inputs=_box_examples, grad_args=(0,), optimum=_identical, none_shape="sample",
    reference=_giou_reference,
)
def giou(input: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-7,
         weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Generalized IoU loss ``1 - GIoU`` of paired boxes, 2-D or 3-D.

    Same definition as ``torchvision.ops.generalized_box_iou_loss`` (which adds ``eps`` to
    the denominators; we clamp them at ``eps``) and, for 3-D boxes, as MONAI's
    ``BoxGIoULoss``.

    Shape:
        input: ``[*, 4]`` (x1, y1, x2, y2) or ``[*, 6]`` (x1, y1, z1, x2, y2, z2); target:
        same shape; ``"none"`` gives ``[*]``.

    Example:
        >>> giou(torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[1.0, 1.0, 3.0, 3.0]]))
        tensor(1.0794)
    """
    input, target = _float_boxes(input, target)
    _check_boxes(input, target, weight, reduction, eps)
    a, b = upcast(input), upcast(target)
    iou, union, extent = _geometry(a, b, eps)
    area_c = _volume(extent)
    # area_c is 0 only when both boxes are empty and aligned: the term is 0 there, as IoU
    loss = 1.0 - iou + torch.where(area_c <= 0, 0.0, (area_c - union) / area_c.clamp(min=eps))
    return reduce(loss, reduction, weight=weight)


@register_loss(
    family="boxes", tasks=("detection",), input_kind="boxes", target_kind="boxes",
    aliases=("diou_loss", "distance_iou", "distance_box_iou"),
    properties=("nonnegative", "zero_at_optimum"),
    summary="Distance IoU loss: 1 - IoU plus the squared distance between box centers over the "
            "squared diagonal of the enclosing box.",
    formula="L = 1 - IoU + rho^2(center_A, center_B) / c^2, c the diagonal of the smallest box "
            "enclosing A and B; in [0, 2).",
    gradient="The center term pulls the centers together directly, also for nested and "
             "disjoint boxes, so it converges faster than GIoU; it does not act on the aspect "
             "ratio once the centers coincide.",
    when_to_use="Bounding-box regression where GIoU converges slowly (nested boxes, "
                "axis-aligned offsets); also the criterion of DIoU-NMS. The center term is "
                "defined in any dimension, so 3-D boxes [*, 6] are accepted (distance and "
                "diagonal in 3-D).",
    pitfalls=_BOX_PITFALLS,
    references=("Zheng, Wang, Liu, Li, Ye & Ren, Distance-IoU Loss: Faster and Better Learning "
                "for Bounding Box Regression, AAAI 2020.",),
    example_inputs=_box_examples, grad_args=(0,), optimum=_identical, none_shape="sample",
    reference=_diou_reference,
)
def diou(input: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-7,
         weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Distance IoU loss ``1 - IoU + d^2 / c^2`` of paired boxes, 2-D or 3-D.

    Same definition as ``torchvision.ops.distance_box_iou_loss`` up to its ``+ eps``; for
    3-D boxes ``d`` and ``c`` are the 3-D center distance and enclosing-box diagonal.

    Shape:
        input: ``[*, 4]`` (x1, y1, x2, y2) or ``[*, 6]`` (x1, y1, z1, x2, y2, z2); target:
        same shape; ``"none"`` gives ``[*]``.

    Example:
        >>> diou(torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[1.0, 1.0, 3.0, 3.0]]))
        tensor(0.9683)
    """
    input, target = _float_boxes(input, target)
    _check_boxes(input, target, weight, reduction, eps)
    a, b = upcast(input), upcast(target)
    iou, _, extent = _geometry(a, b, eps)
    loss = 1.0 - iou + _center_term(a, b, extent, eps)
    return reduce(loss, reduction, weight=weight)


@register_loss(
    family="boxes", tasks=("detection",), input_kind="boxes", target_kind="boxes",
    aliases=("ciou_loss", "complete_iou", "complete_box_iou"),
    properties=("nonnegative", "zero_at_optimum"),
    summary="Complete IoU loss: DIoU plus a term that matches the aspect ratio of the "
            "prediction to the target's.",
    formula="v = (4 / pi^2) (atan(w_B / h_B) - atan(w_A / h_A))^2, alpha = v / (1 - IoU + v) "
            "(held constant); L = 1 - IoU + rho^2 / c^2 + alpha v.",
    gradient="Adds a pull on width/height toward the target aspect ratio, weighted by alpha so "
             "that it matters mostly once the boxes overlap well; alpha is not differentiated "
             "(as in the paper's code and torchvision).",
    when_to_use="Bounding-box regression where overlap, center distance and shape should all "
                "be matched (YOLO-family detectors use it by default).",
    pitfalls=_BOX_PITFALLS + " The aspect-ratio angle of a zero-height box is pi/2 and of a "
             "point box is taken as pi/4 (square) with zero gradient. 2-D only: the "
             "aspect-ratio term compares one width/height angle and has no standard 3-D "
             "form (published 3-D variants differ), so 3-D boxes are rejected; use diou.",
    references=("Zheng, Wang, Liu, Li, Ye & Ren, Distance-IoU Loss, AAAI 2020 (CIoU, section "
                "4).", "Zheng et al., Enhancing Geometric Factors in Model Learning and "
                "Inference for Object Detection and Instance Segmentation, IEEE TCYB 2021."),
    example_inputs=_box_examples, grad_args=(0,), optimum=_identical, none_shape="sample",
    reference=_ciou_reference,
    expected_failures={"gradcheck": "alpha is held constant (not differentiated), as in the "
                       "CIoU authors' code and torchvision, so the gradient deliberately is not "
                       "the finite-difference derivative of the value",
                       "double_backward": "the same constant alpha: finite differences of the "
                       "gradient see alpha move"},
)
def ciou(input: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-7,
         weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """Complete IoU loss of row-paired boxes.

    Same definition as ``torchvision.ops.complete_box_iou_loss`` up to its ``+ eps``,
    except that we take the angle with ``atan2(w, h)`` (equal to ``atan(w / h)`` for
    ``h > 0``) so zero-height boxes give a finite gradient instead of NaN.

    Shape:
        input: ``[*, 4]`` (x1, y1, x2, y2); target: ``[*, 4]``; ``"none"`` gives ``[*]``.

    Example:
        >>> ciou(torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[1.0, 1.0, 3.0, 3.0]]))
        tensor(0.9683)
    """
    input, target = _float_boxes(input, target)
    _check_boxes(input, target, weight, reduction, eps, widths=(4,))
    a, b = upcast(input), upcast(target)
    iou, _, extent = _geometry(a, b, eps)
    v = (4.0 / math.pi ** 2) * (_aspect_angle(b) - _aspect_angle(a)).square()
    with torch.no_grad():
        alpha = v / (1.0 - iou + v).clamp(min=eps)
    loss = 1.0 - iou + _center_term(a, b, extent, eps) + alpha * v
    return reduce(loss, reduction, weight=weight)
