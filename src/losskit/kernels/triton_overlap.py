"""Triton accelerators of the overlap statistics behind dice, jaccard, tversky and
generalized_dice with class-index targets.

Registered as backend ``"triton"`` against each of the four losses, with the call contract
of the other overlap accelerators (:mod:`.overlap`): ``(x [N, C, S], index [N, S] int64,
valid [N, S] bool | None, *, activation, other_act, squared_pred, definition)`` returning
the ``[3, N, C]`` intersection / prediction / target sums that
``definition(x, index, valid, ...)`` returns. Everything after the statistics
(include_background, class_weight, batch, skip_empty, micro / macro averaging, the
smoothing terms, learnable or not, the score and the reduction) stays in the definition,
so every one of those options works on this path unchanged.

Forward is one Triton launch over the voxels (:mod:`._triton_overlap_stats`): per tile of voxels
the softmax (or sigmoid) of every class, and the tile's three sums per class; torch adds
the tiles' float32 partial sums. No one-hot tensor exists and the probabilities are never
stored: autograd keeps only the logits, the indices and the mask, which the definition's
caller holds anyway. Backward is a second launch that recomputes the probabilities per
voxel and writes the gradient (one ``[N, C, S]`` buffer, the gradient itself), as the
native C sweep does on the CPU. float16 / bfloat16 logits are loaded as they are and
summed in float32 (the statistics are float32; the gradient has the logits' dtype).
Under ``create_graph=True`` backward differentiates the definition
(:func:`~losskit.kernels.differentiate_definition`), so higher derivatives are its own.

Declined (the definition, or another accelerator, computes them): ``activation="none"``,
``other_act``, ``squared_pred``, more than :data:`MAX_CLASSES` classes, float64, index
dtypes other than int64; probability (soft) targets never reach this call (the
definition sums them densely). In ``auto`` mode inputs under :data:`MIN_NUMEL` logits
use the definition. triton is imported only when the accelerator runs; devices are CUDA,
and the CPU through Triton's interpreter when ``TRITON_INTERPRET=1`` and only when
``LOSSKIT_KERNELS=triton`` forces it (see :mod:`.triton_xent`).
"""

from __future__ import annotations

import torch

from ._dispatch import mode, register
from .overlap import LOSSES, _common_decline, _second_order
from .triton_xent import _devices, _where_it_runs

__all__ = ["MAX_CLASSES", "MIN_NUMEL"]

#: Classes one program holds per voxel (a tile of BLOCK_C x BLOCK_S logits, BLOCK_C the
#: class count rounded up to a power of two); above it the tile would leave too few voxels
#: per program, and the torch accelerator or the definition takes the call.
MAX_CLASSES = 256
#: In ``auto`` mode the kernel takes inputs of at least this many logits; below it a
#: launch costs more than the definition's few small ops. The in-place torch accelerator's
#: threshold, not yet measured for Triton on a GPU.
MIN_NUMEL = 1 << 16

_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _kernels():
    from . import _triton_overlap_stats
    return _triton_overlap_stats


def _supports(x, index, valid, *, activation, other_act, squared_pred, definition):
    reason = _common_decline(x, index, valid, other_act, squared_pred, 0)
    if reason:
        return reason
    if activation not in ("softmax", "sigmoid"):
        return f"activation={activation!r} (the kernel applies softmax or sigmoid)"
    if x.shape[1] > MAX_CLASSES:
        return f"more than {MAX_CLASSES} classes"
    if valid is not None and valid.device != x.device:
        return "valid must be on the input's device"
    if mode() == "auto" and x.numel() < MIN_NUMEL:
        return f"fewer than {MIN_NUMEL} logits: the definition is as fast"
    return _where_it_runs(x)


class _TritonOverlap(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, index, valid, activation, loss, definition):
        ctx.save_for_backward(x, index, valid)
        ctx.loss, ctx.definition, ctx.activation = loss, definition, activation
        return _kernels().launch_forward(x, index, valid, sigmoid=activation == "sigmoid")

    @staticmethod
    def backward(ctx, grad_output):
        if torch.is_grad_enabled():  # create_graph=True: differentiate the definition
            return _second_order(ctx.loss, ctx, grad_output), None, None, None, None, None
        x, index, valid = ctx.saved_tensors
        grad = _kernels().launch_backward(x, index, valid, grad_output[0], grad_output[1],
                                          sigmoid=ctx.activation == "sigmoid")
        return grad, None, None, None, None, None


def _make_run(loss: str):
    def run(x, index, valid, *, activation, other_act, squared_pred, definition):
        if torch.is_grad_enabled() and x.requires_grad:
            return _TritonOverlap.apply(x, index, valid, activation, loss, definition)
        return _kernels().launch_forward(x, index, valid, sigmoid=activation == "sigmoid")
    return run


for _loss in LOSSES:
    register(_loss, "triton", name=f"triton.overlap.{_loss}", devices=_devices(),
             dtypes=_DTYPES, supports=_supports, double_backward=True,
             options=("activation", "ignore_index", "other_act", "squared_pred"),
             description="one Triton launch over the voxels: per-voxel softmax or sigmoid "
                         "and the three overlap sums, no one-hot, probabilities not kept; "
                         "backward recomputes them and writes the gradient")(
        _make_run(_loss))
