"""Triton accelerators of cross_entropy, softmax_focal and linear_cross_entropy.

Registered as backend ``"triton"``. triton itself is imported only when one of them runs
(:mod:`._triton_rows` holds the kernel), so ``import losskit`` never imports it and a
machine without triton simply never takes these paths.

Devices: CUDA; and the CPU when ``TRITON_INTERPRET=1`` is set at import, where Triton's
interpreter runs the same kernel on CPU tensors. The interpreter is for tests: on the CPU
these accelerators take a call only when ``LOSSKIT_KERNELS=triton`` (or
``kernels.use("triton")``) forces them; ``auto`` keeps the native and torch paths there.

What runs in Triton and what stays in torch:

* ``cross_entropy`` / ``softmax_focal`` (``[N, C]`` logits, index targets): one kernel
  program per row, online softmax, loss and gradient in the same launch
  (:mod:`._triton_rows`); no log-softmax, softmax or one-hot tensor. In ``auto`` they
  take rows of at least :data:`MIN_CLASSES` classes (large vocabularies); below that
  torch's fused builtin is the path.
* ``linear_cross_entropy``: blocks of tokens; per block the logits ``h W^T + b`` come
  from cuBLAS (``torch.mm``) in the inputs' dtype, the Triton row kernel turns them in
  place into ``dloss/dlogits``, and two more cuBLAS products give ``dh`` and accumulate
  ``dW`` (float32) and ``db``. The matrix products stay in torch because cuBLAS already
  runs them near the tensor cores' peak, and a fused Triton matmul (Cut Cross-Entropy's
  design) would be tuned and proven only on a GPU: the interpreter computes ``tl.dot``
  on bfloat16 tiles wrongly, so none of the kernels here calls ``tl.dot``.

Precision: every kernel loads float32, float16 or bfloat16 and computes in float32. For
bfloat16 ``linear_cross_entropy`` the logits block is bfloat16 (as the definition's
``F.linear`` output is), its gradient is stored in bfloat16 (as autograd's is), and
``dW`` is accumulated over the blocks in float32 and rounded once at the end. That costs
``4 V D`` bytes for the accumulator where Liger-Kernel's default (``accum_dtype=None``)
accumulates in bfloat16 with ``2 V D``.

Call contracts are those of the other accelerators of each loss (written at the
definitions' dispatch calls and in :mod:`.softmax_xent` / :mod:`.linear_xent`): the
unreduced loss for ``reduction="none"``, else its sum; the mean's denominator stays in
``_core.reduce``. For ``"mean"`` the gradient is pre-scaled in forward by
``1 / denominator`` computed on the device, and backward multiplies by the ratio of the
upstream gradient to it, also on the device: no call reads a tensor on the host, so
there is no device synchronization per call. ``create_graph=True`` differentiates the
definition (:func:`~losskit.kernels.differentiate_definition`).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import torch

from ._dispatch import mode, register
from .linear_xent import Path, block_rows, inverse_mean_denominator, make_run
from .softmax_xent import definition_grads

__all__ = ["MIN_CLASSES", "available", "interpreting", "walk_linear"]

#: In ``auto`` mode the row kernel takes logits with at least this many classes. Below it
#: a row is a fraction of one block and torch's fused cross entropy is the path. Not yet
#: measured on a GPU: the large-vocabulary benchmark case is the reference for it.
MIN_CLASSES = 4096

#: Upper bound on the bytes of one logits block of linear_cross_entropy on the GPU (about
#: Liger-Kernel's block at D = 4096, V = 128256 in bfloat16: 256 rows).
GPU_BLOCK_BYTES = 64 << 20

#: Upper bound on the bytes of one float32 block of the weight gradient's accumulator, for
#: 16-bit weights. Split by vocabulary rows, each block is rounded to the weight's dtype
#: and freed in turn, so the float32 accumulator and the 16-bit gradient never both exist
#: whole: at V = 128256, D = 4096 the step's peak holds 2 GiB + one 128 MiB block where a
#: single accumulator would hold 3 GiB while rounding. Tests lower it.
GRAD_W_BLOCK_BYTES = 256 << 20

_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
_INDEX_DTYPES = (torch.int64, torch.int32)


def interpreting() -> bool:
    """Whether Triton's interpreter is on (``TRITON_INTERPRET=1``): kernels then run on
    CPU tensors, in numpy."""
    return os.environ.get("TRITON_INTERPRET", "").strip().lower() in ("1", "true", "yes", "on")


def _devices() -> tuple[str, ...]:
    return ("cuda", "cpu") if interpreting() else ("cuda",)


@functools.cache
def _import_error() -> str | None:
    try:
        import triton  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install
        return f"{type(exc).__name__}: {exc}"
    return None


def available() -> bool:
    """Whether triton can be imported here (imports it on the first call)."""
    return _import_error() is None


def _rows():
    from ._triton_rows import launch_rows
    return launch_rows


def _where_it_runs(t: torch.Tensor) -> str | None:
    """Reasons common to every accelerator here, cheapest first (triton imported last)."""
    if t.device.type == "cpu" and mode() != "triton":
        return ("on the CPU Triton runs in its interpreter, only when LOSSKIT_KERNELS=triton "
                "forces it (tests)")
    if _import_error() is not None:
        return f"triton unavailable ({_import_error()})"
    return None


# --- cross_entropy and softmax_focal -------------------------------------------------------
# call (cross_entropy): (x [N, C], target [N] int64/int32, *, class_weight [C] | None,
#        ignore_index, label_smoothing, reduction)
# call (softmax_focal): (x [N, C], target [N], *, alpha [C] | None, gamma, ignore_index,
#        reduction)
# result: the per-row loss (class- or alpha-weighted, 0 at ignored rows) for "none", else
# its sum. The mean's denominator is the definition's (reduce_summed).


def _rows_supports(x, target, *, reduction, gamma=0.0, label_smoothing=0.0, **kw):
    if x.dim() != 2 or target.dim() != 1:
        return "takes [N, C] logits and [N] targets"
    if x.stride(1) != 1:
        return "needs logits whose class axis is contiguous"
    if target.dtype not in _INDEX_DTYPES:
        return "needs int64 or int32 targets"
    if isinstance(gamma, torch.Tensor):
        return "gamma must be a number"
    weights = kw.get("class_weight", kw.get("alpha"))
    if weights is not None and weights.device != x.device:
        return "class weights must be on the input's device"
    if mode() == "auto" and x.shape[1] < MIN_CLASSES:
        return f"fewer than {MIN_CLASSES} classes: torch's fused kernel is the path there"
    return _where_it_runs(x)


def _launch(x, target, weights, options, grad_scale=None, grad_out=None):
    ignore_index, label_smoothing, gamma = options
    return _rows()(x, target, class_weight=weights, ignore_index=ignore_index,
                   label_smoothing=label_smoothing, z_loss=0.0, gamma=gamma, softcap=None,
                   grad_scale=grad_scale, grad_out=grad_out)


class _TritonRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, target, weights, kind, options, reduction, public):
        cw = None if weights is None else weights.to(torch.float32).contiguous()
        ctx.kind, ctx.reduction, ctx.public, ctx.options, ctx.cw = (kind, reduction, public,
                                                                    options, cw)
        ctx.save_for_backward(x, target, weights)
        if reduction == "none":
            ctx.grad = None
            return _launch(x, target, cw, options)
        # cross_entropy's mean divides by the class-weight sum, softmax_focal's by the count.
        by_weight = cw if kind == "cross_entropy" else None
        ctx.hint = (inverse_mean_denominator(target, by_weight, options[0])
                    if reduction == "mean"
                    else torch.ones((), dtype=torch.float32, device=x.device))
        ctx.grad = torch.empty_like(x)
        loss = _launch(x, target, cw, options, ctx.hint, ctx.grad)
        return loss.sum()

    @staticmethod
    def backward(ctx, grad_output):
        x, target, weights = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: differentiate the definition
            return definition_grads(ctx, x, target, weights, grad_output)
        if ctx.reduction == "none":
            grad = torch.empty_like(x)
            _launch(x, target, ctx.cw, ctx.options, grad_output.to(torch.float32).contiguous(),
                    grad)
            return grad, None, None, None, None, None, None
        grad, ctx.grad = ctx.grad, None
        if grad is None:  # a second backward (retain_graph=True): recompute
            grad = torch.empty_like(x)
            _launch(x, target, ctx.cw, ctx.options, ctx.hint, grad)
        # On the device: reading the ratio to skip a multiplication by 1 would be a sync.
        grad.mul_((grad_output.to(torch.float32) / ctx.hint).to(grad.dtype))
        return grad, None, None, None, None, None, None


def _rows_call(kind: str, x, target, weights, options, reduction, public):
    if torch.is_grad_enabled() and x.requires_grad:
        return _TritonRows.apply(x, target, weights, kind, options, reduction, public)
    cw = None if weights is None else weights.to(torch.float32).contiguous()
    loss = _launch(x, target, cw, options)
    return loss if reduction == "none" else loss.sum()


@register("cross_entropy", "triton", name="triton.softmax_rows.cross_entropy",
          devices=_devices(), dtypes=_DTYPES, supports=_rows_supports, double_backward=True,
          options=("reduction", "class_weight", "ignore_index", "label_smoothing"),
          description="one Triton program per row: online softmax, loss and gradient in "
                      "one launch; large vocabularies")
def _cross_entropy(x, target, *, class_weight, ignore_index, label_smoothing, reduction):
    def public(w, _ii=ignore_index, _ls=label_smoothing):
        return dict(class_weight=w, ignore_index=_ii, label_smoothing=_ls)
    return _rows_call("cross_entropy", x, target, class_weight,
                      (ignore_index, float(label_smoothing), 0.0), reduction, public)


@register("softmax_focal", "triton", name="triton.softmax_rows.softmax_focal",
          devices=_devices(), dtypes=_DTYPES, supports=_rows_supports, double_backward=True,
          options=("reduction", "alpha", "gamma", "ignore_index"),
          description="one Triton program per row: focal loss and its gradient in one "
                      "launch; large vocabularies")
def _softmax_focal(x, target, *, alpha, gamma, ignore_index, reduction):
    def public(w, _ii=ignore_index, _g=gamma):
        return dict(alpha=w, gamma=_g, ignore_index=_ii)
    return _rows_call("softmax_focal", x, target, alpha, (ignore_index, 0.0, float(gamma)),
                      reduction, public)


# --- linear_cross_entropy ------------------------------------------------------------------
# call: (hidden [N, D], linear_weight [V, D], target [N], *, bias, class_weight,
#        weight [N] | None, ignore_index, label_smoothing, z_loss, softcap, reduction)
# result: the per-token loss (weighted, 0 at ignored tokens) for "none", else its sum.

# torch >= 2.8 on CUDA multiplies bfloat16 / float16 matrices straight into a float32
# accumulator (addmm's out_dtype); elsewhere the block is upcast first.
_ADDMM_OUT_DTYPE = [True]


def _accumulate(acc: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> None:
    """``acc += a @ b`` with ``acc`` float32 and ``a``, ``b`` in the inputs' dtype."""
    if a.dtype == acc.dtype:
        acc.addmm_(a, b)
        return
    if acc.is_cuda and _ADDMM_OUT_DTYPE[0]:
        try:
            torch.addmm(acc, a, b, out_dtype=torch.float32, out=acc)
            return
        except (TypeError, RuntimeError):  # an older torch: no out_dtype overload
            _ADDMM_OUT_DTYPE[0] = False
    acc.addmm_(a.to(acc.dtype), b.to(acc.dtype))


def walk_linear(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                target: torch.Tensor, options: tuple[Any, ...],
                row_scale: float | torch.Tensor,
                want_grads: tuple[bool, bool, bool] | None) -> tuple[Any, ...]:
    """Per-token float32 losses ``[N]`` and, if ``want_grads = (dh?, dW?, db?)``, the
    gradients scaled per row by ``row_scale`` (in the inputs' dtypes).

    ``hidden [N, D]``, ``weight [V, D]`` and ``bias [V]`` share a dtype (float32, float16 or
    bfloat16), which the logits block and its gradient keep; the Triton row kernel computes
    in float32, and ``dW`` / ``db`` are accumulated in float32 over the blocks.
    """
    class_weight, ignore_index, label_smoothing, z_loss, softcap = options
    launch = _rows()
    n, _ = hidden.shape
    v = weight.shape[0]
    dev = hidden.device
    need_h, need_w, need_b = want_grads if want_grads else (False, False, False)
    want = need_h or need_w or need_b
    losses = torch.empty(n, dtype=torch.float32, device=dev)
    grad_h = torch.empty_like(hidden) if need_h else None
    # dW in float32 blocks of vocabulary rows (one block for float32 weights).
    d = weight.shape[1]
    block_v = (v if weight.dtype == torch.float32
               else max(1, GRAD_W_BLOCK_BYTES // max(4 * d, 1)))
    bounds = [(lo, min(lo + block_v, v)) for lo in range(0, v, block_v)] if need_w else []
    grad_w_blocks = [torch.zeros(hi - lo, d, dtype=torch.float32, device=dev)
                     for lo, hi in bounds]
    grad_b = torch.zeros(v, dtype=torch.float32, device=dev) if need_b else None
    cw = None if class_weight is None else class_weight.to(torch.float32).contiguous()
    if want and not isinstance(row_scale, torch.Tensor):
        row_scale = torch.full((), row_scale, dtype=torch.float32, device=dev)
    rows = block_rows(v, hidden.element_size(), n,
                      budget=GPU_BLOCK_BYTES if dev.type == "cuda" else None)
    buffer = torch.empty(min(rows, n), v, dtype=hidden.dtype, device=dev)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        h = hidden[start:stop]
        z = buffer[: stop - start]
        if bias is not None:
            torch.addmm(bias, h, weight.t(), out=z)
        else:
            torch.mm(h, weight.t(), out=z)
        scale = None
        if want:
            scale = row_scale[start:stop] if row_scale.dim() else row_scale
        # The kernel overwrites the logits block with the gradient of the block's losses.
        launch(z, target[start:stop], class_weight=cw, ignore_index=ignore_index,
               label_smoothing=label_smoothing, z_loss=z_loss, gamma=0.0, softcap=softcap,
               grad_scale=scale, grad_out=z if want else None, loss_out=losses[start:stop])
        if not want:
            continue
        if need_h:
            torch.mm(z, weight, out=grad_h[start:stop])
        for (lo, hi), block in zip(bounds, grad_w_blocks):
            _accumulate(block, z[:, lo:hi].t(), h)
        if need_b:
            grad_b += z.sum(0, dtype=torch.float32)
    # Round the float32 accumulators once, and free them before backward: block by block
    # (each float32 block is released as soon as its 16-bit copy exists).
    grad_w = None
    if need_w:
        parts = []
        while grad_w_blocks:
            parts.append(grad_w_blocks.pop(0).to(weight.dtype))
        grad_w = (parts[0] if len(parts) == 1
                  else torch.cat(parts) if parts else torch.zeros_like(weight))
        del parts
    grad_b = None if grad_b is None else grad_b.to(bias.dtype)
    return losses, grad_h, grad_w, grad_b


def _linear_supports(hidden, linear_weight, target, *, bias, class_weight, weight,
                     ignore_index, label_smoothing, z_loss, softcap, reduction):
    if hidden.dim() != 2 or target.dim() != 1:
        return "takes [N, D] hidden states and [N] targets"
    if target.dtype not in _INDEX_DTYPES:
        return "needs int64 or int32 targets"
    if linear_weight.dtype != hidden.dtype or (bias is not None and bias.dtype != hidden.dtype):
        return "hidden, linear_weight and bias must share a dtype"
    for key, value in (("label_smoothing", label_smoothing), ("z_loss", z_loss),
                       ("softcap", softcap)):
        if isinstance(value, torch.Tensor):
            return f"{key} must be a number"
    for key, t in (("linear_weight", linear_weight), ("bias", bias),
                   ("class_weight", class_weight), ("weight", weight), ("target", target)):
        if t is not None and t.device != hidden.device:
            return f"{key} must be on the hidden states' device"
    return _where_it_runs(hidden)


TRITON = Path(walk_linear, keep_dtype=True)

register("linear_cross_entropy", "triton", name="triton.linear_xent", devices=_devices(),
         dtypes=_DTYPES, supports=_linear_supports, double_backward=True,
         tensor_hyperparameters=("bias",),
         options=("reduction", "bias", "class_weight", "weight", "ignore_index",
                  "label_smoothing", "z_loss", "softcap"),
         description="token blocks: cuBLAS logits in the inputs' dtype, the Triton row "
                     "kernel writes their gradient in place, cuBLAS dh / dW (float32 "
                     "accumulation); never holds [N, V]")(make_run(TRITON))
