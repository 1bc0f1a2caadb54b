"""torch's CTC kernel as the accelerator of ``ctc`` (backend ``"torch"``).

The definition (:func:`losskit.functional.sequence._ctc_nll`) is the forward algorithm in
plain torch, one step per frame; torch's ``F.ctc_loss`` computes the same per-sample loss
in one fused kernel (CPU, CUDA, cuDNN). Two differences are handled here, so the result
is the definition's in value and gradient:

* torch's backward returns ``(exp(log_probs) - occupancy) * g`` for the frames inside a
  sample's input (0 after it), the gradient for log-probabilities that a softmax
  normalizes; the definition's is ``-occupancy * g``. The two agree through
  ``log_softmax`` but not for log-probabilities used directly, so the ``exp(log_probs)``
  term is subtracted. torch runs without its own ``zero_infinity`` (its zeroed samples
  could not be told from samples of probability 1): an impossible sample (infinite loss)
  and a log-probability of ``-inf`` get the definition's zero gradient here, where
  torch's backward gives NaN.
* ``create_graph=True``: torch's backward has no derivative; the definition is
  differentiated instead (:func:`~losskit.kernels.differentiate_definition`).

Declined on the meta device (torch has no meta CTC kernel), while ``torch.compile``
traces, inside ``torch.func`` transforms, and for float16 / bfloat16 (the definition
upcasts first). On CUDA torch's kernel copies the lengths to the host on every call (a
synchronization losskit cannot avoid there; ``LOSSKIT_KERNELS=plain`` runs the
definition, which has none).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ._dispatch import differentiate_definition, register

__all__: list[str] = []


class _TorchCTC(torch.autograd.Function):
    """torch's kernel without its own zero_infinity (whose zeroed samples cannot be told
    from samples of probability 1 afterwards): infinite samples are handled here."""

    @staticmethod
    def forward(ctx: Any, log_probs: torch.Tensor, targets: torch.Tensor,
                input_lengths: torch.Tensor, target_lengths: torch.Tensor, blank: int,
                zero_infinity: bool, definition: Any) -> torch.Tensor:
        ctx.save_for_backward(log_probs, targets, input_lengths, target_lengths)
        ctx.options = (blank, zero_infinity, definition)
        with torch.enable_grad():
            leaf = log_probs.detach().requires_grad_(True)
            raw = F.ctc_loss(leaf, targets, input_lengths, target_lengths, blank=blank,
                             reduction="none", zero_infinity=False)
        ctx.leaf, ctx.raw = leaf, raw
        out = raw.detach()
        return torch.where(torch.isinf(out), 0.0, out) if zero_infinity else out

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Any, ...]:
        log_probs, targets, input_lengths, target_lengths = ctx.saved_tensors
        blank, zero_infinity, definition = ctx.options
        none = (None,) * 6
        if torch.is_grad_enabled():  # create_graph=True: differentiate the definition
            (grad,) = differentiate_definition(
                "ctc", lambda lp: definition(lp, targets, input_lengths, target_lengths,
                                             blank=blank, zero_infinity=zero_infinity),
                (log_probs,), grad_output)
            return (grad, *none)
        # An impossible sample (infinite loss) has a zero gradient in the definition; torch's
        # backward would give NaN there, so it gets a zero upstream gradient and its rows
        # are cleared.
        possible = ~torch.isinf(ctx.raw.detach())
        g = torch.where(possible, grad_output, 0.0)
        (grad,) = torch.autograd.grad(ctx.raw, ctx.leaf, g, retain_graph=True)
        # Cleared too: log-probabilities of -inf, where torch computes inf - inf (NaN) and
        # the definition's occupancy is exactly 0.
        keep = possible[None, :, None] & ~torch.isneginf(log_probs)
        grad = torch.where(keep, grad, 0.0)
        frames = log_probs.shape[0]
        inside = (torch.arange(frames, device=log_probs.device)[:, None]
                  < input_lengths.to(log_probs.device, non_blocking=True)[None, :])
        correction = torch.exp(log_probs) * (inside.to(log_probs.dtype) * g)[:, :, None]
        return (grad - correction, *none)


def _supports(log_probs: torch.Tensor, targets: torch.Tensor, input_lengths: torch.Tensor,
              target_lengths: torch.Tensor, *, blank: int, zero_infinity: bool,
              definition: Any) -> str | None:
    if targets.device.type not in ("cpu", log_probs.device.type):
        return "targets must be on the host or on the log-probabilities' device"
    return None


@register("ctc", "torch", name="torch.ctc_loss", devices=("cpu", "cuda"),
          dtypes=(torch.float32, torch.float64), supports=_supports, double_backward=True,
          traceable=False, options=("blank", "zero_infinity"),
          description="torch.nn.functional.ctc_loss per sample, with the definition's "
                      "gradient (the exp(log_probs) term of torch's backward removed)")
def _ctc(log_probs: torch.Tensor, targets: torch.Tensor, input_lengths: torch.Tensor,
         target_lengths: torch.Tensor, *, blank: int, zero_infinity: bool,
         definition: Any) -> torch.Tensor:
    if not log_probs.requires_grad or not torch.is_grad_enabled():
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=blank,
                          reduction="none", zero_infinity=zero_infinity)
    out: torch.Tensor = _TorchCTC.apply(  # type: ignore[no-untyped-call]
        log_probs, targets, input_lengths, target_lengths, blank, zero_infinity, definition)
    return out
