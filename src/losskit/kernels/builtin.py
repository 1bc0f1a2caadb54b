"""torch's own fused builtins as accelerators (backend ``"torch"``).

For a handful of losses torch has one fused operator (``mse_loss``, ``huber_loss``,
``binary_cross_entropy_with_logits``, ``cross_entropy``, ...) where the definition takes
several ops. Their arithmetic is the same, so the gain is the per-call overhead that
dominates small batches. They run wherever torch runs (CPU, CUDA, meta, under
``torch.compile``, ``vmap`` and double backward), and are asked for the *sum* (or the
unreduced loss), never a mean: the denominator and the empty-selection rule stay in
``_core.reduce`` (torch's mean over an empty or all-ignored batch is NaN; losskit's is 0).

Each accelerator here takes the call its definition makes through
:func:`losskit.kernels.dispatch` (documented at the call) and declines options where
torch's convention differs from losskit's, so it is exact wherever it runs; the tests
check each against the definition.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._dispatch import FUSED_MEAN, register

__all__: list[str] = []

_EVERYWHERE = ("cpu", "cuda", "meta", "xpu", "mps")
_FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
# torch's cross-entropy keeps half-precision logits' log-softmax in half precision; the
# definition accumulates in float32, so the builtin takes float32 / float64 only.
_WIDE = (torch.float32, torch.float64)


def _summed(reduction: str) -> str:
    """torch's reduction for ours: "none" stays, ``FUSED_MEAN`` (from ``dispatch_mean``,
    certified the plain element mean) is torch's "mean", anything else is summed."""
    if reduction == FUSED_MEAN:
        return "mean"
    return "none" if reduction == "none" else "sum"


def _same_float_pair(x: torch.Tensor, y: torch.Tensor) -> str | None:
    if y.dtype != x.dtype or y.shape != x.shape:
        return "input and target must share shape and dtype"
    return None


def _numbers(**values: float | torch.Tensor | None) -> str | None:
    for key, v in values.items():
        if isinstance(v, torch.Tensor):
            return f"{key} must be a number for torch's builtin"
    return None


# --- regression: (x, y, *, reduction[, delta | beta]) -> unreduced loss or its sum ---------

def _pair_supports(x: torch.Tensor, y: torch.Tensor, *, reduction: str,
                   **hyper: float | torch.Tensor) -> str | None:
    return _same_float_pair(x, y) or _numbers(**hyper)


@register("mse", "torch", name="torch.mse_loss", devices=_EVERYWHERE, dtypes=_FLOATS,
          supports=_pair_supports, double_backward=True, fuses_mean=True,
          options=("reduction",),
          description="torch.nn.functional.mse_loss, one fused op")
def _mse(x: torch.Tensor, y: torch.Tensor, *, reduction: str) -> torch.Tensor:
    return F.mse_loss(x, y, reduction=_summed(reduction))


@register("mae", "torch", name="torch.l1_loss", devices=_EVERYWHERE, dtypes=_FLOATS,
          supports=_pair_supports, double_backward=True, fuses_mean=True,
          options=("reduction",),
          description="torch.nn.functional.l1_loss, one fused op")
def _mae(x: torch.Tensor, y: torch.Tensor, *, reduction: str) -> torch.Tensor:
    return F.l1_loss(x, y, reduction=_summed(reduction))


@register("huber", "torch", name="torch.huber_loss", devices=_EVERYWHERE, dtypes=_FLOATS,
          supports=_pair_supports, double_backward=True, fuses_mean=True,
          options=("reduction", "delta"),
          description="torch.nn.functional.huber_loss, one fused op (numeric delta)")
def _huber(x: torch.Tensor, y: torch.Tensor, *, reduction: str, delta: float) -> torch.Tensor:
    return F.huber_loss(x, y, reduction=_summed(reduction), delta=delta)


def _smooth_l1_supports(x: torch.Tensor, y: torch.Tensor, *, reduction: str,
                        beta: float | torch.Tensor) -> str | None:
    return _pair_supports(x, y, reduction=reduction, beta=beta)


@register("smooth_l1", "torch", name="torch.smooth_l1_loss", devices=_EVERYWHERE,
          dtypes=_FLOATS, supports=_smooth_l1_supports, double_backward=True, fuses_mean=True,
          options=("reduction", "beta"),
          description="torch.nn.functional.smooth_l1_loss, one fused op (numeric beta)")
def _smooth_l1(x: torch.Tensor, y: torch.Tensor, *, reduction: str, beta: float) -> torch.Tensor:
    return F.smooth_l1_loss(x, y, reduction=_summed(reduction), beta=beta)


# --- binary cross-entropy: (x, y, *, reduction, pos_weight, weight) -----------------------

def _bce_supports(x: torch.Tensor, y: torch.Tensor, *, reduction: str,
                  pos_weight: float | torch.Tensor | None = None,
                  weight: torch.Tensor | None = None) -> str | None:
    return _same_float_pair(x, y)


@register("binary_cross_entropy", "torch", name="torch.binary_cross_entropy_with_logits",
          devices=_EVERYWHERE, dtypes=_FLOATS, supports=_bce_supports, double_backward=True,
          fuses_mean=True,
          options=("reduction", "pos_weight", "weight"),
          description="torch.nn.functional.binary_cross_entropy_with_logits (pos_weight and "
                      "weight tensors without grad)")
def _bce(x: torch.Tensor, y: torch.Tensor, *, reduction: str,
         pos_weight: float | torch.Tensor | None = None,
         weight: torch.Tensor | None = None) -> torch.Tensor:
    if pos_weight is not None and not isinstance(pos_weight, torch.Tensor):
        pos_weight = torch.tensor(pos_weight, dtype=x.dtype, device=x.device)
    return F.binary_cross_entropy_with_logits(x, y, weight=weight, pos_weight=pos_weight,
                                              reduction=_summed(reduction))


# --- softmax cross-entropy with index targets --------------------------------------------
# call: (x [N, C, *], target [N, *] int64, *, class_weight [C] or None, ignore_index,
#        label_smoothing, reduction) -> the class-weighted loss per position with ignored
#        positions 0 ("none"), or its sum.

def _ce_supports(x: torch.Tensor, target: torch.Tensor, *, class_weight: torch.Tensor | None,
                 ignore_index: int, label_smoothing: float, reduction: str) -> str | None:
    if target.dtype != torch.int64:
        return "torch's builtin takes int64 class indices"
    if class_weight is not None and label_smoothing:
        # torch keeps the smoothing term of a class with weight 0 in the numerator; losskit
        # drops the position. Equal only when no class weight is 0, which is data.
        return "class_weight with label_smoothing (zero-weight classes differ from torch)"
    if class_weight is not None and class_weight.dtype != x.dtype:
        return "class_weight must have the input's dtype"
    return None


@register("cross_entropy", "torch", name="torch.cross_entropy", devices=_EVERYWHERE,
          dtypes=_WIDE, supports=_ce_supports, double_backward=True, fuses_mean=True,
          options=("reduction", "class_weight", "ignore_index", "label_smoothing"),
          description="torch.nn.functional.cross_entropy with index targets, summed")
def _cross_entropy(x: torch.Tensor, target: torch.Tensor, *, class_weight: torch.Tensor | None,
                   ignore_index: int, label_smoothing: float, reduction: str) -> torch.Tensor:
    return F.cross_entropy(x, target, weight=class_weight, ignore_index=ignore_index,
                           label_smoothing=label_smoothing, reduction=_summed(reduction))


# --- negative log-likelihood: same call as cross_entropy without label_smoothing ----------

def _nll_supports(x: torch.Tensor, target: torch.Tensor, *, class_weight: torch.Tensor | None,
                  ignore_index: int, reduction: str) -> str | None:
    if target.dtype != torch.int64:
        return "torch's builtin takes int64 class indices"
    if class_weight is not None and class_weight.dtype != x.dtype:
        return "class_weight must have the input's dtype"
    return None


@register("nll", "torch", name="torch.nll_loss", devices=_EVERYWHERE, dtypes=_FLOATS,
          supports=_nll_supports, double_backward=True,
          options=("reduction", "class_weight", "ignore_index"),
          description="torch.nn.functional.nll_loss, summed")
def _nll(x: torch.Tensor, target: torch.Tensor, *, class_weight: torch.Tensor | None,
         ignore_index: int, reduction: str) -> torch.Tensor:
    return F.nll_loss(x, target, weight=class_weight, ignore_index=ignore_index,
                      reduction=_summed(reduction))
