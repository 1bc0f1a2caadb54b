"""Log-probabilities of chosen tokens from ``[B, T, V]`` logits, with no second such tensor.

Accelerates :func:`losskit.rl.sequence_logps` (a helper, not a loss: it is called
directly, not through the loss dispatch, and honours ``LOSSKIT_KERNELS=plain``).
``log p(y) = z_y - logsumexp(z)``: forward computes the log-sum-exp block by block in
float32 or wider (a block of float16 / bfloat16 logits is converted at a time, never the
whole tensor) and keeps only the logits the caller already holds, the labels and the
``[B, T]`` log-normalizers for backward. Backward writes ``g (onehot(y) - softmax(z))``
block by block into the one ``[B, T, V]`` gradient autograd needs anyway.

The plain definition (``gather - logsumexp``) keeps no second ``[B, T, V]`` tensor for float32
logits either, but for float16 / bfloat16 it must convert the logits to float32 as a whole
(autograd then keeps that copy), or take the log-sum-exp in half precision, which is off by
up to ~0.03 nats per token in bfloat16: summed over a completion, enough to flip a DPO
preference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from ._dispatch import differentiate_definition

__all__ = ["BLOCK_BYTES", "TokenLogProbs", "declines", "token_logps"]

#: Budget for one block of logits in the accumulation dtype.
BLOCK_BYTES = 16 << 20


def _blocks(logits: torch.Tensor, acc: torch.dtype) -> Iterator[tuple[int, int, int]]:
    """(b, start, stop) covering ``[B, T, V]`` logits in blocks of rows within one sequence:
    every block is a view, so sliced (non-contiguous) logits are never copied whole."""
    batch, tokens, vocab = logits.shape
    rows = max(1, BLOCK_BYTES // max(1, vocab * (torch.finfo(acc).bits // 8)))
    for b in range(batch):
        for start in range(0, tokens, rows):
            yield b, start, min(start + rows, tokens)


class TokenLogProbs(torch.autograd.Function):
    """``apply(logits [B, T, V], index [B, T] in 0..V-1, definition)`` -> ``[B, T]``
    log-probabilities in float32 (float16 / bfloat16 logits) or the logits' dtype.
    ``definition(logits)`` recomputes them in plain torch, for ``create_graph=True``."""

    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, index: torch.Tensor,
                definition: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        acc = torch.promote_types(torch.float32, logits.dtype)
        lse = torch.empty(logits.shape[:2], dtype=acc, device=logits.device)
        for b, start, stop in _blocks(logits, acc):
            lse[b, start:stop] = torch.logsumexp(logits[b, start:stop].to(acc), dim=-1)
        picked = logits.gather(-1, index[..., None]).squeeze(-1).to(acc)
        ctx.save_for_backward(logits, index, lse)
        ctx.definition = definition
        return picked - lse

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        logits, index, lse = ctx.saved_tensors
        if torch.is_grad_enabled():
            # create_graph=True: differentiate the definition for exact higher derivatives.
            (grad,) = differentiate_definition("sequence_logps", ctx.definition, (logits,),
                                               grad_output)
            return grad, None, None
        acc = lse.dtype
        grad = torch.empty(logits.shape, dtype=logits.dtype, device=logits.device)
        g = grad_output.to(acc)
        for b, start, stop in _blocks(logits, acc):
            # d(z_y - lse)/dz = onehot(y) - softmax(z), scaled by the upstream gradient
            block = torch.exp(logits[b, start:stop].to(acc) - lse[b, start:stop, None])
            block.mul_(-g[b, start:stop, None])
            block.scatter_add_(1, index[b, start:stop, None], g[b, start:stop, None])
            grad[b, start:stop] = block
        return grad, None, None


def _plain_tensor(t: torch.Tensor) -> bool:
    try:
        t.data_ptr()
    except (RuntimeError, NotImplementedError):
        return False
    # torch.autograd.forward_ad.unpack_dual is unannotated in torch's source
    dual = torch.autograd.forward_ad.unpack_dual(t)  # type: ignore[no-untyped-call]
    return dual.tangent is None


def declines(logits: torch.Tensor, index: torch.Tensor) -> str | None:
    """Why :func:`token_logps` cannot take this call (None when it can): it is a custom
    autograd Function, so not while torch.compile traces, inside torch.func transforms or
    under forward-mode AD, where the definition runs instead."""
    if torch.compiler.is_compiling():
        return "torch.compile is tracing (the compiled graph uses the definition)"
    if not (_plain_tensor(logits) and _plain_tensor(index)):
        return "inside a torch.func transform or forward-mode AD (no custom Function there)"
    if logits.dim() != 3 or index.device != logits.device:
        return "expects [B, T, V] logits and [B, T] indices on one device"
    return None


def token_logps(logits: torch.Tensor, index: torch.Tensor,
                definition: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Log-probabilities ``[B, T]`` of ``index`` under ``[B, T, V]`` logits (module doc).

    ``definition(logits)`` computes the same in plain torch; it supplies the higher
    derivatives under ``create_graph=True``. Call only where :func:`declines` is None.
    """
    # torch.autograd.Function.apply is unannotated in torch's source
    out: torch.Tensor = TokenLogProbs.apply(  # type: ignore[no-untyped-call]
        logits, index, definition)
    return out
