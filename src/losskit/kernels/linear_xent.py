"""Chunked linear + cross entropy that never holds the full ``[N, V]`` logits.

Forward walks over blocks of ``rows`` tokens. For each block it computes the logits
``h W^T + b`` into one reusable ``[rows, V]`` buffer, applies the soft cap, and runs a
row kernel (:mod:`.softmax_xent`: the native C rows on the CPU, the same formulas in
torch ops elsewhere), which writes ``dloss/dlogits`` over the logits in place. The
block's contribution to the gradients is then two matrix products, ``dh = dz W`` and
``dW += dz^T h`` (and ``db += sum dz``), so backward only scales the stored gradients by
the upstream gradient. Peak extra memory: one logits block plus ``dW`` (``[V, D]``) and
``dh`` (``[N, D]``), instead of three ``[N, V]`` tensors.

Registered here as two accelerators of ``linear_cross_entropy``: ``"native"`` (CPU, C
rows) and ``"torch"`` (any device, torch-op rows); :mod:`.triton_xent` registers a third,
``"triton"``, on the same autograd Function with its own block walk (a :class:`Path`). The
call, made by the definition through
:func:`losskit.kernels.dispatch`, is ``(hidden [N, D], linear_weight [V, D], target [N],
*, bias, class_weight, weight [N] | None, ignore_index, label_smoothing, z_loss, softcap,
reduction)`` with numeric options; the result is the per-token loss (weighted, 0 at
ignored tokens) for ``reduction="none"`` and its sum otherwise. ``create_graph=True``
differentiates the definition. Neither runs under ``torch.compile`` or ``torch.func``
transforms (the definition does).

With ``reduction="none"`` the upstream gradient differs per token, so forward only
computes the losses and backward repeats the block walk with the per-token scale.
The native and torch paths compute float16 / bfloat16 inputs in float32 and return the
gradients in the inputs' dtypes; the Triton path keeps the matrix products in the inputs'
dtype (see :mod:`.triton_xent`). For ``"mean"`` the gradient is pre-scaled in forward by
``1 / denominator``, a tensor on the inputs' device; backward multiplies by the ratio of
the upstream gradient to it (read on the host only on the CPU, where that is free).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .._core.reduce import mean_denominator
from .._core.registry import get_info
from . import _native
from ._dispatch import differentiate_definition, register
from .softmax_xent import RowOptions, softmax_rows, softmax_rows_torch

__all__ = ["BLOCK_BYTES", "Path", "block_rows", "inverse_mean_denominator", "make_run"]

#: Upper bound on the logits block. Larger blocks mean fewer read-modify-write passes over
#: ``dW`` ([V, D]) and larger matrix products; 48 MiB measured faster than 16 or 32 MiB at
#: N=2048, D=512, V=32768 while the peak stays below torch's chunked path.
BLOCK_BYTES = 48 << 20


def block_rows(vocab: int, itemsize: int, tokens: int | None = None,
               budget: int | None = None) -> int:
    """Rows per block: as many as fit in ``budget`` bytes (default BLOCK_BYTES), balanced
    so the last block is not tiny."""
    rows = max(1, (budget or BLOCK_BYTES) // max(1, vocab * itemsize))
    if tokens:
        blocks = -(-tokens // rows)
        rows = -(-tokens // blocks)
    return rows


#: ``(class_weight, ignore_index, label_smoothing, z_loss, softcap)``.
_Options = tuple["torch.Tensor | None", int, float, float, "float | None"]
#: A walk's result: per-token losses and the gradients asked for (dh, dW, db).
_Walked = tuple[torch.Tensor, "torch.Tensor | None", "torch.Tensor | None", "torch.Tensor | None"]


def _walk(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
          target: torch.Tensor, options: _Options, row_scale: float | torch.Tensor,
          want_grads: tuple[bool, bool, bool] | None, *, native: bool) -> _Walked:
    """Per-token losses [N] and, if ``want_grads = (dh?, dW?, db?)``, the scaled gradients."""
    class_weight, ignore_index, label_smoothing, z_loss, softcap = options
    n, _ = hidden.shape
    v = weight.shape[0]
    dev, acc = hidden.device, hidden.dtype
    need_h, need_w, need_b = want_grads if want_grads else (False, False, False)
    want = need_h or need_w or need_b
    losses = torch.empty(n, dtype=acc, device=dev)
    grad_h = torch.empty_like(hidden) if need_h else None
    grad_w = torch.zeros_like(weight) if need_w else None
    grad_b = torch.zeros(v, dtype=acc, device=dev) if need_b else None
    rows = block_rows(v, hidden.element_size(), n)
    buffer = torch.empty(min(rows, n), v, dtype=acc, device=dev)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        h = hidden[start:stop]
        z = buffer[: stop - start]
        if bias is not None:
            torch.addmm(bias, h, weight.t(), out=z)
        else:
            torch.mm(h, weight.t(), out=z)
        if softcap is not None:
            # z = cap * tanh(z / cap); keep tanh for the chain-rule factor 1 - tanh^2.
            tanh = z.div_(softcap).tanh_()
            capped = tanh * softcap
        else:
            capped = z
        scale = row_scale[start:stop] if (isinstance(row_scale, torch.Tensor)
                                          and row_scale.dim()) else row_scale
        kw: RowOptions = {"class_weight": class_weight, "ignore_index": ignore_index,
                          "label_smoothing": label_smoothing, "z_loss": z_loss}
        if native:
            loss, dz = softmax_rows(capped, target[start:stop], grad_out=capped if want else None,
                                    grad_scale=scale, want_grad=want, **kw)
        else:
            loss, dz = softmax_rows_torch(capped, target[start:stop], grad_scale=scale,
                                          want_grad=want, **kw)
        losses[start:stop] = loss
        if not want:
            continue
        assert dz is not None  # asked for with want_grad
        if softcap is not None:
            dz.mul_(tanh.square_().neg_().add_(1.0))
        if grad_h is not None:
            torch.mm(dz, weight, out=grad_h[start:stop])
        if grad_w is not None:
            grad_w.addmm_(dz.t(), h)
        if grad_b is not None:
            grad_b += dz.sum(0)
    return losses, grad_h, grad_w, grad_b


def inverse_mean_denominator(target: torch.Tensor, class_weight: torch.Tensor | None,
                             ignore_index: int) -> torch.Tensor:
    """1 / the mean's denominator (reduce's own), as a 0-dim tensor on the target's device."""
    valid = target != ignore_index
    cw = None if class_weight is None else torch.where(
        valid, class_weight[torch.where(valid, target, 0)], 0.0)
    d = mean_denominator(target.shape, target.device, valid, cw)
    d = d.to(class_weight.dtype if class_weight is not None else torch.float32)
    return torch.where(d > 0, 1.0 / torch.where(d > 0, d, 1.0), 1.0)


@dataclass(frozen=True)
class Path:
    """How one backend walks the blocks: ``walk(h, w, b, target, options, row_scale,
    want_grads) -> (losses, dh, dW, db)``; ``keep_dtype`` runs the matrix products in the
    inputs' dtype (the walk accumulates in float32 itself) instead of upcasting them
    first; ``host_scalars`` says the tensors live on the CPU, where reading a scalar costs
    no device sync."""

    walk: Callable[..., _Walked]
    keep_dtype: bool = False
    host_scalars: bool = False


def _operands(path: Path, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
              token_weight: torch.Tensor | None,
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None,
                         torch.dtype]:
    """The walk's operands and the dtype of its losses and scales."""
    if path.keep_dtype:
        acc = torch.float32
        b = bias
        h, w = hidden.contiguous(), weight.contiguous()
    else:
        acc = torch.promote_types(torch.float32, hidden.dtype)
        h, w = hidden.to(acc).contiguous(), weight.to(acc).contiguous()
        b = None if bias is None else bias.to(acc)
    tw = None if token_weight is None else token_weight.to(acc)
    return h, w, b, tw, acc


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                target: torch.Tensor, token_weight: torch.Tensor | None,
                class_weight: torch.Tensor | None, options: tuple[int, float, float, float | None],
                reduction: str, path: Path, public: dict[str, object],
                track: bool) -> torch.Tensor:
        in_dtypes = (hidden.dtype, weight.dtype, None if bias is None else bias.dtype)
        h, w, b, tw, acc = _operands(path, hidden, weight, bias, token_weight)
        cw = None if class_weight is None else class_weight.to(acc)
        opts: _Options = (cw, *options)
        ctx.in_dtypes, ctx.reduction, ctx.options, ctx.path = in_dtypes, reduction, opts, path
        ctx.public = public
        ctx.save_for_backward(hidden, weight, bias, target, token_weight, class_weight)
        # ``track`` is False under torch.no_grad, where needs_input_grad still says True.
        wants = (track and ctx.needs_input_grad[0], track and ctx.needs_input_grad[1],
                 track and bias is not None and ctx.needs_input_grad[2])
        if reduction == "none" or not any(wants):
            ctx.grads = None
            losses = path.walk(h, w, b, target, opts, 1.0, None)[0]
            losses = losses if tw is None else losses * tw
            return losses if reduction == "none" else losses.sum(dtype=torch.float64).to(acc)
        hint = (inverse_mean_denominator(target, cw, options[0]).to(acc) if reduction == "mean"
                else torch.ones((), dtype=acc, device=h.device))
        scale = hint if tw is None else tw * hint
        losses, gh, gw, gb = path.walk(h, w, b, target, opts, scale, wants)
        losses = losses if tw is None else losses * tw
        ctx.grads, ctx.hint = (gh, gw, gb), hint
        return losses.sum(dtype=torch.float64).to(acc)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        hidden, weight, bias, target, token_weight, _ = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: differentiate the definition
            fn, public = get_info("linear_cross_entropy").fn, ctx.public
            summed = "none" if ctx.reduction == "none" else "sum"
            definition_grads = differentiate_definition(
                "linear_cross_entropy",
                lambda h, w, b: fn(h, w, target, bias=b, reduction=summed, **public),
                (hidden, weight, bias), grad_output)
            return (*definition_grads, None, None, None, None, None, None, None, None)
        path = ctx.path
        h, w, b, tw, acc = _operands(path, hidden, weight, bias, token_weight)
        wants = (ctx.needs_input_grad[0], ctx.needs_input_grad[1],
                 bias is not None and ctx.needs_input_grad[2])
        grads: tuple[torch.Tensor | None, ...] | None
        grads, ctx.grads = ctx.grads, None
        if ctx.reduction == "none":
            scale = grad_output.to(acc) if tw is None else grad_output.to(acc) * tw
            grads = path.walk(h, w, b, target, ctx.options, scale, wants)[1:]
        else:
            if grads is None:  # a second backward (retain_graph=True): recompute
                scale = ctx.hint if tw is None else tw * ctx.hint
                grads = path.walk(h, w, b, target, ctx.options, scale, wants)[1:]
            ratio = grad_output.to(acc) / ctx.hint
            # On the CPU the ratio is read for free and is usually exactly 1; elsewhere
            # multiply unconditionally (reading it would be a device sync).
            if not (path.host_scalars and float(ratio) == 1.0):
                grads = tuple(None if g is None else g.mul_(ratio) for g in grads)
        out = tuple(None if g is None else g.to(dt) for g, dt in zip(grads, ctx.in_dtypes))
        return (*out, None, None, None, None, None, None, None, None)


def _supports(native: bool) -> Callable[..., str | None]:
    def supports(hidden: torch.Tensor, linear_weight: torch.Tensor, target: torch.Tensor, *,
                 bias: torch.Tensor | None, class_weight: torch.Tensor | None,
                 weight: torch.Tensor | None, ignore_index: int,
                 label_smoothing: float | torch.Tensor, z_loss: float | torch.Tensor,
                 softcap: float | torch.Tensor | None, reduction: str) -> str | None:
        if hidden.dim() != 2 or target.dim() != 1:
            return "takes [N, D] hidden states and [N] targets"
        for key, value in (("label_smoothing", label_smoothing), ("z_loss", z_loss),
                           ("softcap", softcap)):
            if isinstance(value, torch.Tensor):
                return f"{key} must be a number"
        if native:
            if _native.library() is None:
                return f"native kernels unavailable ({_native.build_error()})"
            if hidden.dtype == torch.float64 and linear_weight.dtype != torch.float64:
                return "mixed float64 / lower-precision inputs"
        return None
    return supports


NATIVE = Path(functools.partial(_walk, native=True), host_scalars=True)
TORCH = Path(functools.partial(_walk, native=False))


def make_run(path: Path) -> Callable[..., torch.Tensor]:
    """The accelerator's entry point for one path (the call of the module docstring)."""
    def run(hidden: torch.Tensor, linear_weight: torch.Tensor, target: torch.Tensor, *,
            bias: torch.Tensor | None, class_weight: torch.Tensor | None,
            weight: torch.Tensor | None, ignore_index: int, label_smoothing: float,
            z_loss: float, softcap: float | None, reduction: str) -> torch.Tensor:
        options = (ignore_index, label_smoothing, z_loss, softcap)
        public: dict[str, object] = dict(
            class_weight=class_weight, weight=weight, ignore_index=ignore_index,
            label_smoothing=label_smoothing, z_loss=z_loss, softcap=softcap)
        track = torch.is_grad_enabled() and any(
            t is not None and t.requires_grad for t in (hidden, linear_weight, bias))
        # torch.autograd.Function.apply is unannotated in torch's source
        out: torch.Tensor = _LinearCrossEntropy.apply(  # type: ignore[no-untyped-call]
            hidden, linear_weight, bias, target, weight, class_weight, options, reduction,
            path, public, track)
        return out
    return run


register("linear_cross_entropy", "native", name="native.linear_xent", devices=("cpu",),
         supports=_supports(True), double_backward=True, traceable=False,
         tensor_hyperparameters=("bias",),
         options=("reduction", "bias", "class_weight", "weight", "ignore_index",
                  "label_smoothing", "z_loss", "softcap"),
         description="token blocks through the C softmax rows, gradients made in forward; "
                     "never holds [N, V]")(make_run(NATIVE))
register("linear_cross_entropy", "torch", name="torch.linear_xent",
         devices=("cpu", "cuda", "meta", "xpu", "mps"), supports=_supports(False),
         double_backward=True, traceable=False, tensor_hyperparameters=("bias",),
         options=("reduction", "bias", "class_weight", "weight", "ignore_index",
                  "label_smoothing", "z_loss", "softcap"),
         description="token blocks in torch ops on any device, gradients made in forward; "
                     "never holds [N, V]")(make_run(TORCH))
