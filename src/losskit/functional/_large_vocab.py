"""Large-vocabulary cross entropy from hidden states, without the full logits.

``linear_cross_entropy(hidden, linear_weight, target)`` is, by definition,
``cross_entropy(hidden @ linear_weight.T + bias, target)`` (plus the options below). Its
accelerators (:mod:`losskit.kernels.linear_xent`) run block by block over tokens, so the
``[N, V]`` logits of a language-model head never exist at once; the definition itself
materializes them and runs where the accelerators decline (``torch.compile``,
``torch.func`` transforms, tensor-valued options).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .._core.reduce import reduce_summed, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_class_indices,
    check_floating,
    check_ndim,
    check_param,
    check_reduction,
)
from ..kernels import dispatch
from ..kernels import linear_xent as _chunked  # noqa: F401  (registers the chunked paths)
from . import _examples as ex
from .classification import _per_position, cross_entropy

__all__ = ["linear_cross_entropy"]

_VOCAB, _DIM = 11, 4  # example sizes; the vocabulary differs from every test batch size


def _examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return (ex.randn(n, _DIM, g=g), ex.randn(_VOCAB, _DIM, g=g) * 0.7,
            torch.randint(0, _VOCAB, (n,), generator=g))


def _reference(hidden: torch.Tensor, linear_weight: torch.Tensor, target: torch.Tensor, *,
               bias: torch.Tensor | None = None, ignore_index: int = -100,
               label_smoothing: float = 0.0, z_loss: float = 0.0, softcap: float | None = None,
               class_weight: torch.Tensor | None = None, weight: torch.Tensor | None = None,
               reduction: str = "mean") -> torch.Tensor:
    """The plain definition: materialize the logits, then torch's cross entropy."""
    logits = F.linear(hidden, linear_weight, bias)
    if softcap is not None:
        logits = softcap * torch.tanh(logits / softcap)
    loss = F.cross_entropy(logits, target, weight=class_weight, ignore_index=ignore_index,
                           label_smoothing=label_smoothing, reduction="none")
    valid = target != ignore_index
    if z_loss:
        # The class weight scales a token's whole loss, z-loss included.
        z = z_loss * torch.where(valid, torch.logsumexp(logits, -1), 0.0).square()
        if class_weight is not None:
            z = z * class_weight[torch.where(valid, target, 0)]
        loss = loss + z
    if weight is not None:
        loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    tw = valid.to(loss.dtype) if class_weight is None else torch.where(
        valid, class_weight[torch.where(valid, target, 0)], 0.0)
    return loss.sum() / tw.sum()


@register_loss(
    family="sequence", tasks=("language_modeling", "classification"),
    input_kind="hidden_states", target_kind="class_indices",
    aliases=("fused_linear_cross_entropy", "chunked_cross_entropy", "lm_head_cross_entropy"),
    properties=("convex",),
    grad_args=(0, 1), none_shape="sample", learnable=("class_weight",),
    summary="Cross entropy of a linear output layer computed from hidden states block by "
            "block, so the [tokens, vocabulary] logits are never held in memory.",
    formula="z = h W^T + b [; z = c tanh(z / c)];  L = -log softmax(z)_y (with label "
            "smoothing) + z_loss * logsumexp(z)^2",
    gradient="dL/dz = softmax(z) - onehot(y) (+ smoothing and z-loss terms); dL/dh = dL/dz W, "
             "dL/dW = dL/dz^T h. Both are computed per block in the forward pass, so backward "
             "only rescales them.",
    when_to_use="Language-model heads and any classifier with a very large number of classes "
                "(tens of thousands and up), where the logits tensor dominates memory: with "
                "N = 8192 tokens and V = 128k it is 4 GiB in float32, times three with its "
                "softmax and gradient.",
    pitfalls="The positional weight is the [V, D] output matrix (torch's linear_weight); the "
             "keyword `weight` is the per-token weight, as everywhere in losskit, and "
             "`class_weight` the per-class one. The chunked paths compute gradients in "
             "forward, so calling it under torch.no_grad is cheaper; double backward "
             "differentiates the materialized definition (memory of the full logits). Under "
             "torch.compile and torch.func transforms the definition runs, which holds the "
             "[N, V] logits. z_loss (PaLM uses 1e-4) keeps the log-normalizer near 0 in bf16 "
             "training.",
    references=("Wijmans et al., Cut Your Losses in Large-Vocabulary Language Models, "
                "ICLR 2025.",
                "Chowdhery et al., PaLM (2022), z-loss.",
                "Gemma 2 technical report (2024), logit soft-capping."),
    example_inputs=_examples, reference=_reference,
)
def linear_cross_entropy(hidden: torch.Tensor, linear_weight: torch.Tensor, target: torch.Tensor,
                         *, bias: torch.Tensor | None = None, ignore_index: int = -100,
                         label_smoothing: float = 0.0, z_loss: float = 0.0,
                         softcap: float | None = None, class_weight: torch.Tensor | None = None,
                         normalizer: float | torch.Tensor | None = None,
                         distributed: bool = False, group: Any = None,
                         weight: torch.Tensor | None = None,
                         reduction: Reduction = "mean") -> torch.Tensor:
    """Cross entropy of ``hidden @ linear_weight.T + bias`` without materializing the logits.

    Argument order follows :func:`torch.nn.functional.linear_cross_entropy`; the ``[V, D]``
    output matrix is called ``linear_weight`` because ``weight`` is the per-token weight.
    The options are :func:`cross_entropy`'s (``normalizer`` for gradient accumulation,
    ``z_loss``, ``softcap``, ``class_weight`` scaling a token's whole loss).

    Shape:
        hidden: ``[*, D]`` hidden states; linear_weight: ``[V, D]``; bias: ``[V]``;
        target: ``[*]`` indices in ``0..V-1`` or ``ignore_index``; class_weight: ``[V]``;
        weight: broadcastable to ``[*]``; output: scalar, or ``[*]`` with
        ``reduction="none"`` (0 at ignored tokens). ``"mean"`` divides by the number of
        non-ignored tokens (by the sum of their class weights with ``class_weight``).

    With ``distributed=True`` that count runs over the tokens of every rank of ``group``,
    with DDP-correct gradients (:mod:`losskit.distributed`); a no-op without a process
    group.

    Example:
        >>> h, w = torch.eye(2), torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
        >>> linear_cross_entropy(h, w, torch.tensor([0, 1]))
        tensor(0.2395)
    """
    check_reduction(reduction)
    check_floating("hidden", hidden)
    check_floating("linear_weight", linear_weight)
    check_ndim("linear_weight", linear_weight, 2, "[V, D]")
    vocab, dim = linear_weight.shape
    if hidden.dim() < 1 or hidden.shape[-1] != dim:
        transposed = hidden.dim() >= 1 and hidden.shape[-1] == vocab
        raise LossInputError(
            f"hidden must have shape [*, {dim}] to match linear_weight [{vocab}, {dim}], got "
            f"{tuple(hidden.shape)}" + ("; linear_weight looks transposed: it is [V, D], as "
                                        "nn.Linear(D, V).weight" if transposed else ""))
    if not isinstance(target, torch.Tensor) or target.shape != hidden.shape[:-1]:
        raise LossInputError(f"target must have shape {tuple(hidden.shape[:-1])} (hidden "
                             f"without its last axis), got "
                             f"{getattr(target, 'shape', type(target).__name__)}")
    verified = check_class_indices("target", target, vocab, ignore_index)
    all_counted = verified and not 0 <= ignore_index < vocab
    check_param("label_smoothing", label_smoothing, low=0.0, high=1.0)
    check_param("z_loss", z_loss, low=0.0)
    if softcap is not None:
        check_param("softcap", softcap, low=0.0, low_inclusive=False)
    for name, t in (("bias", bias), ("class_weight", class_weight)):
        if t is not None:
            check_floating(name, t)
            if t.shape != (vocab,):
                raise LossInputError(f"{name} must have shape [{vocab}], got {tuple(t.shape)}")
    check_broadcastable("weight", weight, target.shape)
    h, t = hidden.reshape(-1, dim), target.reshape(-1)
    token_weight = None if weight is None else weight.expand(target.shape).reshape(-1)
    # call: (hidden [N, D], linear_weight, target [N], *, bias, class_weight, weight [N],
    #        ignore_index, label_smoothing, z_loss, softcap, reduction) -> per-token loss
    #        (weighted, 0 where ignored) or its sum
    fast = dispatch("linear_cross_entropy", h, linear_weight, t, bias=bias,
                    class_weight=class_weight, weight=token_weight, ignore_index=ignore_index,
                    label_smoothing=label_smoothing, z_loss=z_loss, softcap=softcap,
                    reduction=reduction)
    if fast is not None:
        valid = None if all_counted else t != ignore_index
        cw = None if class_weight is None else _per_position(class_weight.to(fast.dtype), t,
                                                             valid)
        out = reduce_summed(fast, reduction, shape=t.shape, mask=valid, class_weight=cw,
                            distributed=distributed, group=group, normalizer=normalizer)
        return out.reshape(target.shape) if reduction == "none" else out
    # The definition: the logits, in float32 for float16/bfloat16 inputs (as every
    # accelerator keeps them: a float16 logit overflows at 65504, a bfloat16 one keeps 8
    # bits), then cross-entropy over the vocabulary.
    logits = F.linear(upcast(h), upcast(linear_weight), upcast(bias))
    out = cross_entropy(logits, t, class_weight=class_weight,
                        ignore_index=ignore_index, label_smoothing=label_smoothing,
                        z_loss=z_loss, softcap=softcap, normalizer=normalizer,
                        distributed=distributed, group=group, weight=token_weight,
                        reduction=reduction)
    return out.reshape(target.shape) if reduction == "none" else out
