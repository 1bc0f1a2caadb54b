"""Vision-language and self-distillation losses that own a logit scale, a bias or a center."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .. import distributed as _dist
from .. import functional as F
from .._core.types import Reduction
from .._core.validate import LossInputError, check_param

__all__ = ["CLIPLoss", "DINOLoss", "SigLIPLoss"]


def _scalar(value: float, learnable: bool) -> torch.Tensor:
    t = torch.tensor(float(value))
    return nn.Parameter(t) if learnable else t


class CLIPLoss(nn.Module):
    """CLIP's contrastive loss with a learnable temperature, as open_clip trains it.

    The parameter ``logit_scale`` is ``log(1 / temperature)`` (initialised from
    ``init_temperature = 0.07``); the logits are ``cos * exp(logit_scale)``. Like
    open_clip, which clamps ``logit_scale`` to ``[0, log 100]`` after every optimizer
    step, the stored value is clamped in place to that range before each use, so the
    scale never exceeds ``max_logit_scale`` and the parameter never drifts past it.
    ``learnable=False`` keeps it as a buffer. ``forward(image_embeddings,
    text_embeddings, weight=None)`` is :func:`losskit.functional.clip_contrastive`.

    Example:
        >>> loss_fn = CLIPLoss()
        >>> loss = loss_fn(torch.randn(4, 8), torch.randn(4, 8))
        >>> loss.backward(); loss_fn.logit_scale.grad is not None
        True
    """

    def __init__(self, init_temperature: float = 0.07, learnable: bool = True, *,
                 max_logit_scale: float = 100.0, distributed: bool = False, group: Any = None,
                 reduction: Reduction = "mean") -> None:
        super().__init__()
        check_param("init_temperature", init_temperature, low=0.0, low_inclusive=False)
        check_param("max_logit_scale", max_logit_scale, low=1.0)
        value = _scalar(math.log(1.0 / init_temperature), learnable)
        if learnable:
            self.logit_scale = value
        else:
            self.register_buffer("logit_scale", value)
        self.max_logit_scale = max_logit_scale
        self.distributed, self.group, self.reduction = distributed, group, reduction

    @property
    def temperature(self) -> torch.Tensor:
        return torch.exp(-self.logit_scale)

    def forward(self, image_embeddings: torch.Tensor, text_embeddings: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:
        with torch.no_grad():
            self.logit_scale.clamp_(0.0, math.log(self.max_logit_scale))
        return F.clip_contrastive(image_embeddings, text_embeddings,
                                  temperature=torch.exp(-self.logit_scale),
                                  distributed=self.distributed, group=self.group,
                                  weight=weight, reduction=self.reduction)


class SigLIPLoss(nn.Module):
    """SigLIP's pairwise sigmoid loss with a learnable logit scale and bias.

    Parameters ``logit_scale`` (the log of the multiplier, initialised at ``log 10``) and
    ``logit_bias`` (initialised at -10), the paper's initialization; the logits are
    ``exp(logit_scale) cos + logit_bias``. ``learnable=False`` keeps both as buffers.
    ``forward(image_embeddings, text_embeddings, weight=None)`` is
    :func:`losskit.functional.siglip`.

    Example:
        >>> loss_fn = SigLIPLoss()
        >>> loss = loss_fn(torch.randn(4, 8), torch.randn(4, 8))
        >>> loss.backward(); loss_fn.logit_bias.grad is not None
        True
    """

    # Parameters when learnable, buffers otherwise (set by name in __init__).
    logit_scale: torch.Tensor
    logit_bias: torch.Tensor

    def __init__(self, init_logit_scale: float = math.log(10.0), init_logit_bias: float = -10.0,
                 learnable: bool = True, *, distributed: bool = False, group: Any = None,
                 reduction: Reduction = "mean") -> None:
        super().__init__()
        check_param("init_logit_scale", init_logit_scale, low=None)
        check_param("init_logit_bias", init_logit_bias, low=None)
        for name, value in (("logit_scale", init_logit_scale), ("logit_bias", init_logit_bias)):
            if learnable:
                setattr(self, name, _scalar(value, True))
            else:
                self.register_buffer(name, _scalar(value, False))
        self.distributed, self.group, self.reduction = distributed, group, reduction

    def forward(self, image_embeddings: torch.Tensor, text_embeddings: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:
        return F.siglip(image_embeddings, text_embeddings, logit_scale=self.logit_scale.exp(),
                        logit_bias=self.logit_bias, distributed=self.distributed,
                        group=self.group, weight=weight, reduction=self.reduction)


class DINOLoss(nn.Module):
    """DINO's loss with the teacher center kept as a moving average, as the official code.

    The buffer ``center`` ``[1, out_dim]`` starts at 0. Each training-mode ``forward``
    computes :func:`losskit.functional.dino` with the current center and then, under
    ``no_grad``, updates it from the teacher batch:
    ``center <- center * m + mean(teacher_logits) * (1 - m)`` with ``m =
    center_momentum``; with ``distributed=True`` the mean runs over every rank's teacher
    rows (all-reduced sum and count). In eval mode the center is left alone.

    ``ncrops=None`` pairs row ``i`` of the student with row ``i`` of the teacher.
    ``ncrops=V`` takes the official multi-crop layout: the student holds ``V`` views
    stacked ``[V B, K]`` (the first ``global_crops`` are the global views), the teacher
    the ``global_crops`` global views ``[global_crops B, K]``; the loss is the mean over
    every (teacher view, different student view) pair, as ``DINOLoss.forward`` in
    facebookresearch/dino. ``teacher_temperature`` can be overridden per call (the
    paper's warm-up schedule).

    Example:
        >>> loss_fn = DINOLoss(5)
        >>> loss = loss_fn(torch.randn(4, 5), torch.randn(4, 5))
        >>> bool(loss_fn.center.abs().sum() > 0)
        True
    """

    center: torch.Tensor

    def __init__(self, out_dim: int, *, center_momentum: float = 0.9,
                 student_temperature: float | torch.Tensor = 0.1,
                 teacher_temperature: float = 0.04, ncrops: int | None = None,
                 global_crops: int = 2, distributed: bool = False, group: Any = None,
                 reduction: Reduction = "mean") -> None:
        super().__init__()
        if not isinstance(out_dim, int) or out_dim < 1:
            raise LossInputError(f"out_dim must be a positive int, got {out_dim!r}")
        check_param("center_momentum", center_momentum, low=0.0, high=1.0)
        if ncrops is not None and (not isinstance(ncrops, int) or not isinstance(global_crops, int)
                                   or not 1 <= global_crops <= ncrops or ncrops < 2):
            raise LossInputError(f"ncrops must be an int >= 2 and >= global_crops "
                                 f"(got ncrops={ncrops!r}, global_crops={global_crops!r})")
        self.register_buffer("center", torch.zeros(1, out_dim))
        self.center_momentum = center_momentum
        self.student_temperature, self.teacher_temperature = (student_temperature,
                                                              teacher_temperature)
        self.ncrops, self.global_crops = ncrops, global_crops
        self.distributed, self.group, self.reduction = distributed, group, reduction

    def forward(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor, *,
                teacher_temperature: float | None = None) -> torch.Tensor:
        student, teacher = self._view_pairs(student_logits, teacher_logits)
        loss = F.dino(student, teacher, center=self.center,
                      student_temperature=self.student_temperature,
                      teacher_temperature=(self.teacher_temperature if teacher_temperature is None
                                           else teacher_temperature),
                      reduction=self.reduction)
        if self.training:
            self.update_center(teacher_logits)
        return loss

    @torch.no_grad()
    def update_center(self, teacher_logits: torch.Tensor) -> None:
        """EMA of the center toward the (global) batch mean of the teacher's logits."""
        t = teacher_logits.detach().to(self.center.dtype)
        total = t.sum(dim=0, keepdim=True)
        count = torch.tensor(float(t.shape[0]), dtype=t.dtype, device=t.device)
        if self.distributed:
            total = _dist.all_reduce_sum(total, self.group)
            count = _dist.all_reduce_sum(count, self.group)
        batch_center = total / count.clamp(min=1.0)
        momentum = self.center_momentum
        # An empty (global) batch leaves the center as it is.
        self.center.copy_(torch.where(count > 0, self.center * momentum
                                      + batch_center * (1.0 - momentum), self.center))

    def _view_pairs(self, student: torch.Tensor,
                    teacher: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.ncrops is None:
            return student, teacher
        if teacher.dim() != 2 or student.dim() != 2 or teacher.shape[0] % self.global_crops:
            raise LossInputError(f"teacher_logits must stack {self.global_crops} global views "
                                 f"[{self.global_crops} B, K], got {tuple(teacher.shape)}")
        b = teacher.shape[0] // self.global_crops
        if b == 0:
            return student, teacher  # an empty batch: dino gives 0
        if student.shape[0] != self.ncrops * b:
            raise LossInputError(f"student_logits must stack ncrops={self.ncrops} views of "
                                 f"B={b} rows, [{self.ncrops * b}, K], got "
                                 f"{tuple(student.shape)}")
        views, targets = torch.split(student, b), torch.split(teacher, b)
        pairs = [(t, v) for t in range(self.global_crops) for v in range(self.ncrops) if v != t]
        return (torch.cat([views[v] for _, v in pairs]),
                torch.cat([targets[t] for t, _ in pairs]))

    def extra_repr(self) -> str:
        return (f"out_dim={self.center.shape[1]}, center_momentum={self.center_momentum}, "
                f"ncrops={self.ncrops}")
