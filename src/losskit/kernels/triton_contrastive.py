"""Triton accelerators of the contrastive log-sum-exp of info_nce, nt_xent and supcon.

Registered as backend ``"triton"`` against each of the three losses, with the call
contract of their torch accelerator (:mod:`.contrastive`, whose docstring gives it):
``(anchors [M, d], candidates [N, d] | None, *, temperature, row_weight [M],
anchor_labels, candidate_labels, positive_index, exclude_offset, distance, pair_form,
unit_norm, reduction, definition)`` returning ``out_i = row_weight_i T_i`` for
``reduction="none"`` and ``sum_i out_i`` otherwise, with ``T_i = sum_{p in P(i)} (lse_i -
s_ip)``, ``s_ij = <a_i, c_j> / t`` and ``lse_i`` over every column but the anchor's own.

What runs in Triton and what stays in torch (:mod:`._triton_lse` holds the kernels):

* ``lse``: one launch, flash-attention style: per block of anchors, the candidates in
  tiles, each logits tile a ``tl.dot`` kept in registers, an online (running maximum,
  running sum) log-sum-exp per row with the anchor's own column left out. Only ``lse``
  ``[M]`` (float32) is kept for backward, never the ``M x N`` matrix.
* backward recomputes the tiles: ``d a_i = (1/t) sum_j G_ij c_j`` and ``d c_j = (1/t)
  sum_i G_ij a_i`` with the softmax part of ``G_ij = rho_i (|P(i)| softmax_ij - [j in
  P(i)])`` (``rho_i`` = upstream gradient x row weight). When the anchors are the
  candidates (``candidates is None``: nt_xent without labels, supcon without
  ``ref_emb``) the matrix is symmetric and one launch gives ``G + G^T`` per row block;
  otherwise a launch over the anchors and one over the candidates (no atomics: the same
  summation order on every run).
* the positives, linear in the embeddings (``sum_p s_ip = <a_i, sum_p c_p> / t``), go
  through the per-label sums of the torch accelerator (``O((M + N) d)``, no label mask),
  as does the temperature's exact gradient ``dL/dt = -(1/t) sum_i <a_i, d a_i>`` (halved
  when ``d a`` holds ``G + G^T``): a learnable temperature costs one dot product. The
  temperature reaches the kernels as a one-element tensor on the device, never as a
  host number.

Precision: float32 statistics and accumulation for float32, float16 and bfloat16
embeddings (the definitions upcast low precision before they dispatch, so the public call
hands over float32; the low-precision path is reached by a direct call); gradients are
returned in the embeddings' dtype. bfloat16's tensor-core ``tl.dot`` is proven only on a
GPU: Triton's interpreter computes it wrongly, so the kernels upcast bfloat16 tiles
there (see :mod:`._triton_lse`).

Declined: what the torch accelerator declines (a distance other than the inner product,
nt_xent with labels: several positives per anchor each with its own denominator,
candidates of another dtype, anchors used as candidates without skipping their own
column, a temperature of more than one element); float64; embeddings wider than
:data:`MAX_DIM`; any tensor of the call on another device than the
anchors; ``torch.compile`` and ``torch.func`` transforms. In ``auto`` mode calls under
:data:`MIN_PAIRS` anchor-candidate pairs stay with the torch accelerator, which forms
small matrices whole. ``create_graph=True`` differentiates the definition
(:func:`~losskit.kernels.differentiate_definition`). Devices: CUDA, and the CPU through
Triton's interpreter when ``TRITON_INTERPRET=1`` and only when ``LOSSKIT_KERNELS=triton``
forces it (see :mod:`.triton_xent`); triton is imported only when the accelerator runs.
"""

from __future__ import annotations

from typing import Any

import torch

from . import contrastive as _torch_path
from ._dispatch import differentiate_definition, mode, register
from .triton_xent import _devices, _where_it_runs

__all__ = ["MAX_DIM", "MIN_PAIRS"]

#: In ``auto`` mode the kernels take calls of at least this many anchor-candidate pairs
#: (a 1024 x 1024 matrix); below it the torch accelerator forms the matrix whole with its
#: gradient in forward. Not yet measured on a GPU.
MIN_PAIRS = 1 << 20

#: Widest embedding the kernels take (flash attention's largest head dimension): a program
#: holds its rows and their float32 gradient accumulator in registers. Wider embeddings
#: are left to the torch accelerator.
MAX_DIM = 256

_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _kernels():
    from . import _triton_lse
    return _triton_lse


def _scale_tensor(scale: float | torch.Tensor, device: torch.device) -> torch.Tensor:
    """``1 / t`` as the one-element float32 tensor the kernels read on the device."""
    if isinstance(scale, torch.Tensor):
        return scale.detach().to(torch.float32).reshape(1)
    return torch.full((1,), scale, dtype=torch.float32, device=device)


def _lse(anchors, keys, scale, exclude_offset):
    return _kernels().launch_forward(anchors, keys, _scale_tensor(scale, anchors.device),
                                     exclude_offset)


def _forward_terms(problem, anchors, keys, scale, exclude_offset):
    """``(lse, |P|, T)`` in float32: ``lse`` from the kernel, the positives in torch."""
    lse = _lse(anchors, keys, scale, exclude_offset)
    a32, k32 = anchors.float(), keys.float()
    n_pos = problem.count(a32)
    positive_sum = _torch_path._positive_logits(problem, a32 * scale, k32)
    return lse, n_pos, _torch_path._terms(n_pos, lse, positive_sum)


class _TritonContrast(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, anchors, candidates, temperature, problem, reduction, definition):
        symmetric = candidates is None
        keys = anchors if symmetric else candidates
        scale = 1.0 / temperature
        t_is_tensor = isinstance(temperature, torch.Tensor)
        lse, n_pos, terms = _forward_terms(problem, anchors, keys, scale,
                                           problem.exclude_offset)
        ctx.problem, ctx.reduction, ctx.definition = problem, reduction, definition
        ctx.symmetric, ctx.t_is_tensor = symmetric, t_is_tensor
        ctx.t_number = None if t_is_tensor else temperature
        ctx.save_for_backward(anchors, candidates, temperature if t_is_tensor else None,
                              lse, n_pos)
        out = problem.row_weight * terms
        return out if reduction == "none" else out.sum()

    @staticmethod
    def backward(ctx: Any, grad_out):
        anchors, candidates, t_tensor, lse, n_pos = ctx.saved_tensors
        temperature = t_tensor if ctx.t_is_tensor else ctx.t_number
        if torch.is_grad_enabled():  # create_graph=True: differentiate the definition
            grads = differentiate_definition(ctx.problem.loss, ctx.definition,
                                             (anchors, candidates, temperature), grad_out)
            return (grads[0], grads[1], grads[2] if ctx.t_is_tensor else None,
                    None, None, None)
        need_anchor = ctx.needs_input_grad[0]
        need_keys = not ctx.symmetric and ctx.needs_input_grad[1]
        need_t = ctx.t_is_tensor and ctx.needs_input_grad[2]
        problem, symmetric = ctx.problem, ctx.symmetric
        keys = anchors if symmetric else candidates
        scale = 1.0 / temperature
        scale_dev = _scale_tensor(scale, anchors.device)
        # A row without any column has lse = -inf and no positive (coef 0): 0 keeps exp finite.
        lse = torch.where(lse == float("-inf"), 0.0, lse)
        rho = (problem.row_weight * grad_out).to(torch.float32)
        stats = (lse, (rho * n_pos).contiguous())
        offset = problem.exclude_offset
        launch = _kernels().launch_backward
        da = dc = None
        if need_anchor or need_t:
            if symmetric:
                da = launch(anchors, anchors, scale_dev, stats, stats, offset)
            else:
                da = launch(anchors, keys, scale_dev, stats, None, offset)
        if need_keys:
            dc = launch(keys, anchors, scale_dev, None, stats,
                        None if offset is None else -offset)
        a32, k32 = anchors.float(), keys.float()
        pa, pc = _torch_path._positive_grads(problem, a32, k32, rho, scale, symmetric)
        dt = None
        if da is not None:
            da = da.add_(pa)
            if need_t:
                dt = _torch_path._temperature_grad(a32, da, scale, symmetric)
                dt = dt.to(t_tensor.dtype).reshape(t_tensor.shape)
            da = da.to(anchors.dtype) if need_anchor else None
        if dc is not None and pc is not None:
            dc = dc.add_(pc).to(keys.dtype)
        return da, dc, dt, None, None, None


def _on(device: torch.device, *named: tuple[str, Any]) -> str | None:
    for key, value in named:
        if isinstance(value, torch.Tensor) and value.device != device:
            return f"{key} is on {value.device}, the anchors on {device}"
    return None


def _supports(anchors, candidates, *, temperature, row_weight, anchor_labels, candidate_labels,
              positive_index, exclude_offset, distance, pair_form, unit_norm, reduction,
              definition) -> str | None:
    reason = _torch_path._supports(
        anchors, candidates, temperature=temperature, row_weight=row_weight,
        anchor_labels=anchor_labels, candidate_labels=candidate_labels,
        positive_index=positive_index, exclude_offset=exclude_offset, distance=distance,
        pair_form=pair_form, unit_norm=unit_norm, reduction=reduction, definition=definition)
    if reason is not None:
        return reason
    if anchors.dim() != 2 or (candidates is not None and candidates.dim() != 2):
        return "takes [M, d] anchors and [N, d] candidates"
    reason = _on(anchors.device, ("candidates", candidates), ("temperature", temperature),
                 ("row_weight", row_weight), ("anchor_labels", anchor_labels),
                 ("candidate_labels", candidate_labels), ("positive_index", positive_index))
    if reason is not None:
        return reason
    if anchors.shape[1] > MAX_DIM:
        return f"embeddings wider than {MAX_DIM} (a program holds its rows in registers)"
    if mode() == "auto":
        n = anchors.shape[0] if candidates is None else candidates.shape[0]
        if anchors.shape[0] * n < MIN_PAIRS:
            return f"fewer than {MIN_PAIRS} pairs: the torch accelerator forms them whole"
    return _where_it_runs(anchors)


def _make_run(loss: str):
    def run(anchors, candidates, *, temperature, row_weight, anchor_labels, candidate_labels,
            positive_index, exclude_offset, distance, pair_form, unit_norm, reduction,
            definition):
        problem = _torch_path._Problem(loss, row_weight, anchor_labels, candidate_labels,
                                       positive_index, exclude_offset, unit_norm)
        track = torch.is_grad_enabled() and any(
            isinstance(x, torch.Tensor) and x.requires_grad
            for x in (anchors, candidates, temperature))
        if track:
            return _TritonContrast.apply(anchors, candidates, temperature, problem, reduction,
                                         definition)
        keys = anchors if candidates is None else candidates
        _, _, terms = _forward_terms(problem, anchors, keys, 1.0 / temperature, exclude_offset)
        out = row_weight * terms
        return out if reduction == "none" else out.sum()
    return run


# The call's keywords (metric_learning._softmax_contrast); supports() declines the values
# the blockwise path does not compute.
_OPTIONS = ("reduction", "temperature", "row_weight", "unit_norm", "anchor_labels",
            "candidate_labels", "positive_index", "exclude_offset", "distance", "pair_form")
for _loss in ("info_nce", "nt_xent", "supcon"):
    register(_loss, "triton", name=f"triton.lse.{_loss}", devices=_devices(), dtypes=_DTYPES,
             supports=_supports, double_backward=True, tensor_hyperparameters=("temperature",),
             options=_OPTIONS,
             description="flash-attention-style blockwise log-sum-exp: tl.dot tiles, online "
                         "max and sum, the N x N matrix never stored; backward recomputes "
                         "the tiles; learnable temperature")(_make_run(_loss))
