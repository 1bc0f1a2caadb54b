"""Sequence losses: alignment-free CTC and token-level cross-entropy over padded batches.

``linear_cross_entropy`` (hidden states times the output matrix, never materializing
the logits) lives in :mod:`losskit.functional._large_vocab`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F

from .._core.reduce import reduce, safe_divide, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_floating,
    check_integer,
    check_ndim,
    check_param,
    check_reduction,
    readable,
)
from ..kernels import ctc as _torch_ctc  # noqa: F401  (registers torch's CTC kernel)
from ..kernels import dispatch
from . import _examples as ex
from .classification import cross_entropy

__all__ = ["ctc", "sequence_cross_entropy", "soft_dtw"]


# --- CTC -------------------------------------------------------------------------------------


def _lengths(name: str, lengths: torch.Tensor | Sequence[int], batch: int) -> torch.Tensor:
    if not isinstance(lengths, torch.Tensor):
        # Python integers stay on the host: torch's CTC kernel reads the lengths there
        # (on CUDA a device copy would only be copied back).
        lengths = torch.as_tensor(lengths, dtype=torch.long)
    check_integer(name, lengths)
    if lengths.shape != (batch,):
        raise LossInputError(f"{name} must have shape [N] = ({batch},), got "
                             f"{tuple(lengths.shape)}")
    return lengths.long()


def _repeats(targets: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
    """Per sample, the number of neighbouring equal labels (each needs a blank between)."""
    if targets.dim() == 2:
        same = targets[:, 1:] == targets[:, :-1]
        inside = torch.arange(targets.shape[1] - 1, device=targets.device) < (
            target_lengths[:, None] - 1)
        return (same & inside).sum(dim=1)
    sample = torch.repeat_interleave(torch.arange(target_lengths.shape[0],
                                                  device=targets.device), target_lengths)
    same = (targets[1:] == targets[:-1]) & (sample[1:] == sample[:-1])
    return torch.bincount(sample[1:][same], minlength=target_lengths.shape[0])


def _check_ctc_values(targets: torch.Tensor, input_lengths: torch.Tensor,
                      target_lengths: torch.Tensor, frames: int, classes: int, blank: int,
                      zero_infinity: bool) -> None:
    """Data checks: lengths in range, labels valid, and every target alignable.

    Only where every one of these can be read without a device sync (CPU tensors in eager
    mode): CPU lengths beside CUDA targets are not read either."""
    if not (input_lengths.numel() and readable(targets, input_lengths, target_lengths)):
        return
    if int(input_lengths.min()) < 0 or int(input_lengths.max()) > frames:
        raise LossInputError(f"input_lengths must lie in 0..{frames} (the T of log_probs), got "
                             f"{input_lengths.tolist()}")
    if int(target_lengths.min()) < 0:
        raise LossInputError(f"target_lengths must be >= 0, got {target_lengths.tolist()}")
    if targets.dim() == 2:
        if int(target_lengths.max()) > targets.shape[1]:
            raise LossInputError(f"target_lengths must be <= {targets.shape[1]} (the width of "
                                 f"the padded targets), got {target_lengths.tolist()}")
        labels = targets[torch.arange(targets.shape[1], device=targets.device)
                         < target_lengths[:, None]]
    else:
        if int(target_lengths.sum()) != targets.shape[0]:
            raise LossInputError(f"concatenated targets hold {targets.shape[0]} labels but "
                                 f"target_lengths sum to {int(target_lengths.sum())}")
        labels = targets
    if labels.numel():
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= classes:
            raise LossInputError(f"targets contain label {lo if lo < 0 else hi}, but log_probs "
                                 f"has {classes} classes: valid labels are 0..{classes - 1}")
        if bool((labels == blank).any()):
            raise LossInputError(f"targets contain the blank label {blank}; the blank may only "
                                 "appear in the alignment, never in a target")
    longer = torch.nonzero(target_lengths > input_lengths).squeeze(1)
    if longer.numel():
        # Impossible whatever the flag says: usually swapped or mis-computed lengths.
        i = int(longer[0])
        raise LossInputError(
            f"targets[{i}] has {int(target_lengths[i])} labels but input_lengths[{i}] = "
            f"{int(input_lengths[i])} frames: a CTC target can never be longer than its input "
            "(check that input_lengths and target_lengths are not swapped)")
    if zero_infinity:
        return  # repeated neighbours that do not fit give an infinite loss, counted as 0
    needed = target_lengths + _repeats(targets, target_lengths)
    short = torch.nonzero(needed > input_lengths).squeeze(1)
    if short.numel():
        i = int(short[0])
        raise LossInputError(
            f"targets[{i}] cannot be aligned: it needs {int(needed[i])} frames "
            f"({int(target_lengths[i])} labels + {int(needed[i] - target_lengths[i])} "
            f"repeated neighbours, which need a blank between them) but input_lengths[{i}] = "
            f"{int(input_lengths[i])}; shorten the target, lengthen the input, or pass "
            "zero_infinity=True to count such samples as 0"
        )


def _log_add(*terms: torch.Tensor) -> torch.Tensor:
    """``log(sum(exp(terms)))`` elementwise, with exact zero gradients where every term is
    ``-inf`` (an unreachable lattice state), where ``torch.logaddexp`` gives NaN. The
    shift is detached: the value does not depend on it, so every derivative is exact.
    NaN propagates."""
    stacked = torch.stack(terms)
    shift = stacked.amax(0).detach()
    shift = torch.where(torch.isfinite(shift), shift, 0.0)
    total = torch.exp(stacked - shift).sum(0)
    some = ~(total <= 0)  # NaN counts as some, so it propagates
    return torch.where(some, shift + torch.log(torch.where(some, total, 1.0)),
                       float("-inf"))


def _padded_labels(targets: torch.Tensor, target_lengths: torch.Tensor,
                   blank: int) -> torch.Tensor:
    """``[N, S]`` labels with every position past a sample's length set to ``blank``.

    Concatenated targets are spread into ``S = len(targets)`` columns (an upper bound
    known from the shape: no length is read on the host)."""
    if targets.dim() == 1:
        width = targets.shape[0]
        start = torch.cumsum(target_lengths, 0) - target_lengths
        cols = torch.arange(width, device=targets.device)
        index = (start[:, None] + cols[None, :]).clamp(max=max(width - 1, 0))
        targets = targets[index] if width else targets.new_zeros(target_lengths.shape[0], 0)
    cols = torch.arange(targets.shape[1], device=targets.device)
    return torch.where(cols[None, :] < target_lengths[:, None], targets, blank)


def _ctc_nll(log_probs: torch.Tensor, targets: torch.Tensor, input_lengths: torch.Tensor,
             target_lengths: torch.Tensor, blank: int) -> torch.Tensor:
    """Per-sample ``-log p(target | log_probs)`` by the forward algorithm (Graves et al.
    2006, eq. 6-8) in log space, for every sample at once: one step per frame over the
    ``2S + 1`` states of the blank-interleaved labels. A sample stops at its own input
    length (its states are kept unchanged after it); states past its labels never feed
    back. Plain torch, no tensor data read, differentiable to any order."""
    frames, batch, _ = log_probs.shape
    dev = log_probs.device
    il = input_lengths.to(dev, non_blocking=True)
    tl = target_lengths.to(dev, non_blocking=True)
    labels = _padded_labels(targets.to(dev, non_blocking=True), tl, blank)  # [N, S]
    width = 2 * labels.shape[1] + 1
    blanks = torch.full_like(labels, blank)
    ext = torch.cat([torch.stack([blanks, labels], 2).reshape(batch, -1),
                     torch.full((batch, 1), blank, dtype=labels.dtype, device=dev)], 1)
    # A label may be reached from two states back (skipping the blank) unless it repeats
    # the previous label.
    differs = torch.cat([torch.zeros_like(labels[:, :1], dtype=torch.bool),
                         labels[:, 1:] != labels[:, :-1]], 1)
    skip = torch.cat([torch.stack([torch.zeros_like(differs), differs], 2).reshape(batch, -1),
                      torch.zeros(batch, 1, dtype=torch.bool, device=dev)], 1)
    emit = log_probs.gather(2, ext.unsqueeze(0).expand(frames, batch, width))  # [T, N, 2S+1]
    states = torch.arange(width, device=dev)
    # Before the first frame: all mass on a virtual start at state 0, so that frame 0 can
    # enter state 0 (blank) or 1 (first label); an empty input ends there.
    alpha = torch.where(states == 0, 0.0, float("-inf")).to(log_probs.dtype).expand(batch, width)
    for t in range(frames):
        stay = alpha
        step = F.pad(alpha, (1, 0), value=float("-inf"))[:, :width]
        jump = torch.where(skip, F.pad(alpha, (2, 0), value=float("-inf"))[:, :width],
                           float("-inf"))
        moved = _log_add(stay, step, jump) + emit[t]
        alpha = torch.where((il > t)[:, None], moved, alpha)
    end = (2 * tl)[:, None]
    last_blank = alpha.gather(1, end).squeeze(1)
    last_label = alpha.gather(1, (end - 1).clamp(min=0)).squeeze(1)
    last_label = torch.where(tl > 0, last_label, float("-inf"))
    return -_log_add(last_blank, last_label)


def _ctc_per_sample(log_probs: torch.Tensor, targets: torch.Tensor,
                    input_lengths: torch.Tensor, target_lengths: torch.Tensor, *, blank: int,
                    zero_infinity: bool) -> torch.Tensor:
    """The definition's per-sample loss (0 for an impossible alignment with
    ``zero_infinity``, with a zero gradient)."""
    nll = _ctc_nll(log_probs, targets, input_lengths, target_lengths, blank)
    if zero_infinity:
        nll = torch.where(torch.isinf(nll), 0.0, nll)
    return nll


def _ctc_examples(n: int, seed: int, frames: int = 12, classes: int = 5,
                  width: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    log_probs = torch.log_softmax(ex.randn(frames, n, classes, g=g) * 2, dim=2)
    targets = torch.randint(1, classes, (n, width), generator=g)
    target_lengths = torch.randint(1, width + 1, (n,), generator=g)
    input_lengths = torch.randint(frames - 3, frames + 1, (n,), generator=g)
    return log_probs, targets, input_lengths, target_lengths


def _ctc_reference(log_probs: torch.Tensor, targets: torch.Tensor, input_lengths: torch.Tensor,
                   target_lengths: torch.Tensor, *, blank: int = 0, zero_infinity: bool = True,
                   reduction: str = "mean") -> torch.Tensor:
    # torch's CTC kernel (an independent implementation). Its backward returns the gradient
    # for softmax-normalized log-probabilities, exp(log_probs) - occupancy inside each
    # input; the formula's own is -occupancy. A term of value exactly 0 (e - e.detach())
    # removes the exp(log_probs) part, for the samples torch does not zero.
    per = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=blank,
                     reduction="none", zero_infinity=zero_infinity)
    possible = torch.isfinite(F.ctc_loss(log_probs.detach(), targets, input_lengths,
                                         target_lengths, blank=blank, reduction="none"))
    inside = torch.arange(log_probs.shape[0])[:, None] < input_lengths[None, :]
    e = torch.exp(log_probs)
    per = per - ((e - e.detach()) * (inside & possible)[:, :, None]).sum((0, 2))
    if reduction == "mean":
        return (per / target_lengths.clamp(min=1)).mean()
    return per.sum() if reduction == "sum" else per


@register_loss(
    family="sequence", tasks=("speech_recognition", "ocr", "sequence_labelling"),
    input_kind="log_probs", target_kind="label sequences (padded [N, S] or concatenated)",
    aliases=("ctc_loss", "connectionist_temporal_classification"),
    properties=("nonnegative",), grad_args=(0,), none_shape="sample",
    summary="Connectionist Temporal Classification: the negative log-probability of a label "
            "sequence summed over every frame alignment that collapses to it.",
    formula="L = -log sum_{pi : B(pi) = y} prod_t p_t(pi_t),  B = merge repeats then drop "
            "blanks; 'mean' divides each sample by its target length, then averages",
    gradient="dL/dlog_probs_tc = -occupancy_tc (the posterior probability that frame t emits "
             "c over all valid alignments, 0 after the sample's input length); through "
             "log_softmax, dL/dlogit_tc = p_tc - occupancy_tc. torch's own CTC backward "
             "returns exp(log_probs) - occupancy, the same through log_softmax but not for "
             "log-probabilities used directly; losskit gives the formula's gradient on every "
             "path.",
    when_to_use="Sequence outputs without frame-level alignment: speech recognition, "
                "handwriting / OCR, keyword spotting, where the output is shorter than the "
                "input and monotonic in it.",
    pitfalls="A target of length L with R repeated neighbours needs T >= L + R frames (a blank "
             "must separate repeats); shorter inputs have probability 0 and infinite loss. "
             "zero_infinity=True (default here; torch's default is False) counts them as 0, "
             "zero_infinity=False raises a LossInputError naming the sample where torch "
             "returns inf. A target longer than its input (L > T: almost always swapped or "
             "mis-computed lengths) raises whatever zero_infinity says, where torch returns "
             "inf (0 with zero_infinity); the value checks run on CPU tensors in eager mode, "
             "elsewhere the loss of such a sample is inf (0 with zero_infinity). On CUDA "
             "torch's CTC kernel (the default path) copies the lengths to the host on every "
             "call; LOSSKIT_KERNELS=plain runs the definition, which has no sync but takes "
             "one step per frame. Invalid lengths raise LossInputError "
             "(a ValueError) where torch raises RuntimeError. Pass log_softmax outputs, not "
             "logits. The "
             "blank tends to dominate early (peaky behaviour) and CTC assumes frames are "
             "conditionally independent given the input (no language model).",
    references=("Graves, Fernández, Gomez & Schmidhuber, Connectionist Temporal "
                "Classification, ICML 2006.",),
    example_inputs=_ctc_examples, reference=_ctc_reference,
    expected_failures={
        "reduction_consistency": "as in torch, 'mean' divides each sample's loss by its "
                                 "target length before averaging, while 'none' gives the raw "
                                 "per-sample loss",
    },
)
def ctc(log_probs: torch.Tensor, targets: torch.Tensor, input_lengths: torch.Tensor,
        target_lengths: torch.Tensor, *, blank: int = 0, zero_infinity: bool = True,
        weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """CTC loss: the forward algorithm, with torch's kernel as its accelerator.

    The definition is the forward algorithm in log space in plain torch (one step per
    frame, every sample at once): it reads no tensor data, runs on meta tensors and under
    ``torch.compile`` / ``vmap``, and differentiates to any order. Where torch's fused
    kernel can run (CPU and CUDA, float32 / float64, eager) it computes the same values,
    with the definition's gradient (see :mod:`losskit.kernels.ctc`).

    Same values as :func:`torch.nn.functional.ctc_loss` (``"mean"`` divides each sample by
    its target length, then averages over the batch), except the default
    ``zero_infinity=True``: a target whose repeated labels do not fit its input gives 0 for
    that sample. With ``zero_infinity=False`` it raises a :class:`LossInputError` naming
    the sample instead of returning ``inf``, and a target longer than its input always
    raises (where the lengths can be read: CPU tensors in eager mode). An empty batch
    gives 0.0 attached to the graph.

    Shape:
        log_probs: ``[T, N, C]`` log-softmax outputs (time first); targets: ``[N, S]`` padded
        or ``[sum(target_lengths)]`` concatenated labels (never ``blank``); input_lengths,
        target_lengths: ``[N]`` integers; output: scalar, or ``[N]`` with ``"none"``.
        Unbatched, as torch: log_probs ``[T, C]``, targets ``[S]``, lengths 0-dim tensors
        or ints; every reduction then gives a scalar.

    Example:
        >>> lp = torch.log(torch.tensor([[[0.5, 0.5]], [[0.5, 0.5]]]))
        >>> ctc(lp, torch.tensor([[1]]), torch.tensor([2]), torch.tensor([1]))
        tensor(0.2877)
    """
    check_reduction(reduction)
    check_floating("log_probs", log_probs)
    check_ndim("log_probs", log_probs, (2, 3),
               "[T, N, C]: time, batch, classes; or [T, C] for one unbatched sequence")
    if log_probs.dim() == 2:
        return _unbatched_ctc(log_probs, targets, input_lengths, target_lengths, blank=blank,
                              zero_infinity=zero_infinity, weight=weight, reduction=reduction)
    frames, batch, classes = log_probs.shape
    check_integer("targets", targets)
    check_ndim("targets", targets, (1, 2), "[N, S] padded or [sum(target_lengths)]")
    if targets.dim() == 2 and targets.shape[0] != batch:
        raise LossInputError(f"padded targets must have shape [N, S] with N = {batch}, got "
                             f"{tuple(targets.shape)}")
    input_lengths = _lengths("input_lengths", input_lengths, batch)
    target_lengths = _lengths("target_lengths", target_lengths, batch)
    if not 0 <= blank < classes:
        raise LossInputError(f"blank must be a class index in 0..{classes - 1}, got {blank}")
    check_broadcastable("weight", weight, torch.Size([batch]))
    _check_ctc_values(targets, input_lengths, target_lengths, frames, classes, blank,
                      zero_infinity)
    x = upcast(log_probs)
    if batch == 0:
        return x.sum() * 0.0
    loss = dispatch("ctc", x, targets, input_lengths, target_lengths, blank=blank,
                    zero_infinity=zero_infinity, definition=_ctc_per_sample)
    if loss is None:
        loss = _ctc_per_sample(x, targets, input_lengths, target_lengths, blank=blank,
                               zero_infinity=zero_infinity)
    if reduction == "mean":
        # Lengths may stay on the host beside CUDA log_probs (torch's documented form).
        loss = loss / target_lengths.clamp(min=1).to(loss.device, loss.dtype, non_blocking=True)
    return reduce(loss, reduction, weight=weight)


def _unbatched_ctc(log_probs: torch.Tensor, targets: torch.Tensor,
                   input_lengths: torch.Tensor | int, target_lengths: torch.Tensor | int, *,
                   blank: int, zero_infinity: bool, weight: torch.Tensor | None,
                   reduction: Reduction) -> torch.Tensor:
    """torch's unbatched form: ``[T, C]`` log-probabilities and one ``[S]`` target."""
    check_integer("targets", targets)
    if targets.dim() != 1:
        raise LossInputError(f"an unbatched log_probs [T, C] = {tuple(log_probs.shape)} takes "
                             f"targets [S] (one label sequence), got shape "
                             f"{tuple(targets.shape)}; a batch needs log_probs [T, N, C]")

    def one(name: str, value: torch.Tensor | int) -> torch.Tensor:
        if not isinstance(value, torch.Tensor):
            value = torch.as_tensor(value, dtype=torch.long)  # on the host, as above
        if value.numel() != 1:
            raise LossInputError(f"{name} of an unbatched [T, C] input must be one integer "
                                 f"(a 0-dim tensor or an int), got shape {tuple(value.shape)}")
        return value.reshape(1)

    if weight is not None:
        check_broadcastable("weight", weight, torch.Size([]))
    loss = ctc(log_probs.unsqueeze(1), targets.unsqueeze(0),
               one("input_lengths", input_lengths), one("target_lengths", target_lengths),
               blank=blank, zero_infinity=zero_infinity,
               weight=None if weight is None else weight.reshape(1), reduction=reduction)
    return loss.reshape(())


# --- sequence cross-entropy --------------------------------------------------------------------


def _token_examples(n: int, seed: int, length: int = 5,
                    vocab: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return ex.randn(n, length, vocab, g=g) * 2, torch.randint(0, vocab, (n, length), generator=g)


def _sequence_ce_reference(input: torch.Tensor, target: torch.Tensor, *,
                           mask: torch.Tensor | None = None, ignore_index: int = -100,
                           average: str = "token", label_smoothing: float = 0.0,
                           reduction: str = "mean") -> torch.Tensor:
    """torch's cross_entropy per token, then explicit loops over sequences."""
    per_token = F.cross_entropy(input.transpose(1, 2), target, ignore_index=ignore_index,
                                label_smoothing=label_smoothing, reduction="none")
    counted = target != ignore_index
    if mask is not None:
        counted = counted & mask.bool()
    per_token = torch.where(counted, per_token, 0.0)
    if average == "token":
        if reduction == "none":
            return per_token
        if reduction == "sum":
            return per_token.sum()
        return per_token.sum() / counted.sum() if counted.any() else per_token.sum() * 0
    per_seq = [per_token[b].sum() / counted[b].sum() for b in range(input.shape[0])
               if counted[b].any()]
    full = torch.stack([per_token[b].sum() / counted[b].sum() if counted[b].any()
                        else per_token[b].sum() * 0 for b in range(input.shape[0])]) \
        if input.shape[0] else per_token.sum(1)
    if reduction == "none":
        return full
    if reduction == "sum":
        return full.sum()
    return torch.stack(per_seq).mean() if per_seq else per_token.sum() * 0


@register_loss(
    family="sequence", tasks=("language_modeling", "sequence_to_sequence", "tagging"),
    input_kind="logits", target_kind="token ids [B, T]",
    aliases=("token_cross_entropy", "seq_ce", "lm_loss"),
    properties=("convex", "nonnegative"),
    summary="Cross-entropy over every token of a padded batch of sequences, with a padding "
            "mask and per-token or per-sequence averaging.",
    formula="l_bt = -log softmax(x_bt)[y_bt] over counted tokens (mask and y != ignore_index);  "
            "token: sum l / #tokens;  sequence: mean_b (sum_t l_bt / #tokens_b)",
    gradient="dl_bt/dx_bt = softmax(x_bt) - onehot(y_bt) (smoothed with label_smoothing); "
             "'token' gives every token equal weight, 'sequence' gives every sequence equal "
             "weight, so tokens of short sequences weigh more.",
    when_to_use="Training language models, seq2seq decoders and taggers on padded batches. "
                "'token' matches the usual LM objective and perplexity; 'sequence' stops long "
                "sequences dominating when each sequence matters equally.",
    pitfalls="Forgetting the padding mask trains the model to predict padding and deflates "
             "the loss. For next-token prediction shift the targets (x[:, :-1] predicts "
             "y[:, 1:]) before calling. A token mean across devices or micro-batches is not "
             "the mean of per-batch means: sum losses and token counts instead. With huge "
             "vocabularies use linear_cross_entropy to avoid materializing the logits."
             " This is teacher forcing: the decoder always sees the true previous tokens, so at "
             "inference its own mistakes compound (exposure bias); scheduled sampling or "
             "sequence-level fine-tuning address it.",
    references=("Bengio et al., A Neural Probabilistic Language Model, JMLR 2003.",
                "Szegedy et al., Rethinking the Inception Architecture, CVPR 2016 (label "
                "smoothing).",),
    example_inputs=_token_examples, reference=_sequence_ce_reference,
    head="softmax",
)
def sequence_cross_entropy(input: torch.Tensor, target: torch.Tensor, *,
                           mask: torch.Tensor | None = None, ignore_index: int = -100,
                           average: Literal["token", "sequence"] = "token",
                           label_smoothing: float = 0.0, z_loss: float = 0.0,
                           softcap: float | None = None,
                           normalizer: float | torch.Tensor | None = None,
                           distributed: bool = False, group: Any = None,
                           weight: torch.Tensor | None = None,
                           reduction: Reduction = "mean") -> torch.Tensor:
    """Token-level cross-entropy for ``[B, T, V]`` logits, built on :func:`cross_entropy`.

    A token counts when ``mask`` is True there (all tokens if ``mask`` is None) and its
    target is not ``ignore_index``.

    * ``average="token"``: ``"mean"`` is the mean over all counted tokens of the batch;
      ``"none"`` gives ``[B, T]`` (0 at tokens that do not count); ``weight`` broadcasts
      against ``[B, T]``.
    * ``average="sequence"``: each sequence's mean over its counted tokens; ``"mean"`` is the
      mean over sequences with at least one counted token; ``"none"`` gives ``[B]``;
      ``weight`` broadcasts against ``[B]``.

    ``exp`` of the token mean is the perplexity (:func:`losskit.functional.perplexity`).
    ``z_loss`` and ``softcap`` are :func:`cross_entropy`'s. ``normalizer`` replaces what
    ``"mean"`` divides by: the number of counted tokens (``"token"``) or of sequences
    (``"sequence"``) of the whole accumulated batch, so that gradient accumulation over
    micro-batches gives the gradient of one big batch (each micro-batch's own mean does
    not, when micro-batches hold different numbers of tokens).

    With ``distributed=True`` the means run over the tokens (or sequences) of every rank
    of ``group``, with DDP-correct gradients (:mod:`losskit.distributed`).

    Shape:
        input: ``[B, T, V]`` logits; target: ``[B, T]`` token ids; mask: ``[B, T]`` bool or
        0/1; output: scalar, ``[B, T]`` or ``[B]``.

    Example:
        >>> sequence_cross_entropy(torch.zeros(1, 3, 4), torch.tensor([[1, 2, 3]]),
        ...                        mask=torch.tensor([[1, 1, 0]]))
        tensor(1.3863)
    """
    check_reduction(reduction)
    if average not in ("token", "sequence"):
        raise LossInputError(f"average must be 'token' or 'sequence', got {average!r}")
    check_floating("input", input)
    check_ndim("input", input, 3, "[B, T, V] logits")
    check_integer("target", target)
    if target.shape != input.shape[:2]:
        raise LossInputError(f"target must have shape [B, T] = {tuple(input.shape[:2])}, got "
                             f"{tuple(target.shape)}")
    counted = target != ignore_index
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.shape != target.shape:
            got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else repr(mask)
            raise LossInputError(f"mask must be a [B, T] = {tuple(target.shape)} tensor, "
                                 f"got {got}")
        if (mask.dtype != torch.bool and mask.numel() and readable(mask)
                and bool(((mask != 0) & (mask != 1)).any())):
            raise LossInputError("mask must be bool or hold 0 / 1 (True = the token counts); "
                                 "for soft token weights pass weight=")
        counted = counted & mask.bool()
        # Masked-out tokens may hold any id (padding of -1, say): they are not checked.
        target = torch.where(counted, target, ignore_index)
    batch, length, vocab = input.shape
    per_token = cross_entropy(input.reshape(batch * length, vocab), target.reshape(-1),
                              ignore_index=ignore_index, label_smoothing=label_smoothing,
                              z_loss=z_loss, softcap=softcap,
                              reduction="none").reshape(batch, length)
    if average == "token":
        check_broadcastable("weight", weight, target.shape)
        return reduce(per_token, reduction, weight=weight, mask=counted,
                      distributed=distributed, group=group, normalizer=normalizer)
    check_broadcastable("weight", weight, torch.Size([batch]))
    tokens = counted.sum(dim=1)
    per_sequence = safe_divide(torch.where(counted, per_token, 0.0).sum(dim=1),
                               tokens.to(per_token.dtype))
    return reduce(per_sequence, reduction, weight=weight, mask=tokens > 0,
                  distributed=distributed, group=group, normalizer=normalizer)


# --- soft-DTW --------------------------------------------------------------------------------


def _as_series(name: str, t: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` or ``[B, T, D]`` as ``[B, T, D]``."""
    check_floating(name, t)
    if t.dim() not in (2, 3):
        raise LossInputError(f"{name} must be [B, T] or [B, T, D] (batch, time, features), "
                             f"got shape {tuple(t.shape)}")
    return upcast(t if t.dim() == 3 else t.unsqueeze(-1))


def _soft_dtw_value(x: torch.Tensor, y: torch.Tensor, gamma: float) -> torch.Tensor:
    """Per-sample soft-DTW of ``[B, n, D]`` and ``[B, m, D]`` under the squared Euclidean
    cost, by Cuturi & Blondel's recursion R[i, j] = C[i, j] + softmin_gamma(R[i-1, j-1],
    R[i-1, j], R[i, j-1]), R[0, 0] = 0 and +inf on the rest of the border, swept one
    anti-diagonal i + j = k at a time (each cell of a diagonal depends only on the two
    before it): n + m - 1 vector steps over ``[B, n + 1]``. softmin is -gamma log-sum-exp
    through ``_log_add``, exact zero gradients at unreachable (+inf) cells."""
    batch, n, m = x.shape[0], x.shape[1], y.shape[1]
    cost = (x[:, :, None, :] - y[:, None, :, :]).square().sum(-1)  # [B, n, m]
    rows = torch.arange(1, n + 1, device=x.device)  # i of the cells on a diagonal
    inf = float("inf")
    start = torch.where(torch.arange(n + 1, device=x.device) == 0, 0.0, inf).to(cost.dtype)
    before, last = start.expand(batch, n + 1), torch.full_like(start, inf).expand(batch, n + 1)
    for k in range(2, n + m + 1):
        cols = k - rows  # j of cell i on diagonal k
        valid = (cols >= 1) & (cols <= m)
        c = cost[:, rows - 1, (cols - 1).clamp(0, m - 1)]  # [B, n]
        diag, up, left = before[:, :-1], last[:, :-1], last[:, 1:]
        soft = -gamma * _log_add(diag / -gamma, up / -gamma, left / -gamma)
        cells = torch.where(valid, c + soft, inf)
        before, last = last, torch.cat([torch.full_like(cells[:, :1], inf), cells], 1)
    return last[:, n]


def _soft_dtw_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    target = torch.cumsum(ex.randn(n, 9, 2, g=g) * 0.5, dim=1)
    return target[:, ::2] + 0.3 * ex.randn(n, 5, 2, g=g), target


def _soft_dtw_reference(input: torch.Tensor, target: torch.Tensor, *, gamma: float = 1.0,
                        normalize: bool = False, reduction: str = "mean") -> torch.Tensor:
    """Algorithm 1 of Cuturi & Blondel (2017) cell by cell, Python loops over i and j."""
    def one(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        n, m = a.shape[0], b.shape[0]
        big = torch.tensor(float("inf"), dtype=a.dtype)
        r = [[big] * (m + 1) for _ in range(n + 1)]
        r[0][0] = torch.zeros((), dtype=a.dtype)
        for i in range(1, n + 1):
            for j in range(1, m + 1):
                prev = torch.stack([r[i - 1][j - 1], r[i - 1][j], r[i][j - 1]])
                r[i][j] = ((a[i - 1] - b[j - 1]) ** 2).sum() - gamma * torch.logsumexp(
                    -prev / gamma, 0)
        return r[n][m]

    def series(t: torch.Tensor) -> torch.Tensor:
        return t if t.dim() == 3 else t.unsqueeze(-1)

    x, y = series(input), series(target)
    out = torch.stack([one(x[b], y[b]) for b in range(x.shape[0])]) if x.shape[0] else \
        x.sum((1, 2)) * 0
    if normalize:
        out = out - 0.5 * (torch.stack([one(x[b], x[b]) for b in range(x.shape[0])])
                           + torch.stack([one(y[b], y[b]) for b in range(x.shape[0])])) \
            if x.shape[0] else out
    return {"mean": out.mean() if out.numel() else out.sum(), "sum": out.sum(),
            "none": out}[reduction]


@register_loss(
    family="sequence", tasks=("forecasting", "sequence"), input_kind="values",
    target_kind="time series [B, T', D] (or [B, T']), any length T'",
    aliases=("sdtw", "softdtw", "soft_dynamic_time_warping"), none_shape="sample",
    properties=("smooth",),
    summary="Soft dynamic time warping: a differentiable alignment cost between two time "
            "series that may be shifted, stretched or of different lengths.",
    formula="C_ij = |x_i - y_j|^2; R_ij = C_ij + softmin_g(R_i-1,j-1, R_i-1,j, R_i,j-1), "
            "softmin_g(a) = -g log sum exp(-a / g), R_00 = 0, R_i0 = R_0j = inf; L = R_nm. "
            "normalize=True: the soft-DTW divergence L(x, y) - (L(x, x) + L(y, y)) / 2.",
    gradient="dL/dC = E, the expected alignment matrix under the Gibbs distribution over "
             "warping paths (temperature g); dL/dx_i = sum_j E_ij 2 (x_i - y_j). As g -> 0 it "
             "is DTW's single best path, a subgradient.",
    when_to_use="Forecasts and generated sequences judged by shape rather than by the exact "
                "time of each value (a peak a step late costs little), series of different "
                "lengths or speeds, averaging series (soft-DTW barycenters), and as the shape "
                "term of DILATE.",
    pitfalls="Raw soft-DTW is not a distance: it can be negative and is not minimized at "
             "input = target (softmin < min); use normalize=True (the divergence: 0 at input "
             "= target, non-negative) when the prediction should converge to the target. "
             "It sums costs along the path, so it grows with the lengths: compare series of "
             "one length, or divide. The time axis can warp freely: a forecast may drift in "
             "time at no cost, so pair it with a pointwise loss (MSE) when timing matters. "
             "O(n m) time and memory per pair; n + m - 1 sequential steps.",
    references=("Cuturi & Blondel, Soft-DTW: a Differentiable Loss Function for Time-Series, "
                "ICML 2017.",
                "Blondel, Mensch & Vert, Differentiable Divergences Between Time Series, "
                "AISTATS 2021 (the divergence).",
                "Le Guen & Thome, Shape and Time Distortion Loss for Training Deep Time Series "
                "Forecasting Models (DILATE), NeurIPS 2019."),
    example_inputs=_soft_dtw_examples, reference=_soft_dtw_reference,
)
def soft_dtw(input: torch.Tensor, target: torch.Tensor, *, gamma: float = 1.0,
             normalize: bool = False, weight: torch.Tensor | None = None,
             reduction: Reduction = "mean") -> torch.Tensor:
    """Soft-DTW between each predicted series and its target (squared Euclidean cost).

    The same values as ``tslearn.metrics.soft_dtw`` per pair; ``normalize=True`` gives the
    soft-DTW divergence, 0 when input equals target.

    Shape:
        input: ``[B, T, D]`` or ``[B, T]``; target: ``[B, T', D]`` or ``[B, T']`` (``T'`` may
        differ from ``T``, D must match); output: scalar, or ``[B]`` with
        ``reduction="none"``.

    Example:
        >>> x = torch.tensor([[0.0, 1.0, 2.0]])
        >>> round(float(soft_dtw(x, x, gamma=0.01, normalize=True)), 4)
        0.0
    """
    check_reduction(reduction)
    check_param("gamma", gamma, low=0.0, low_inclusive=False)
    x, y = _as_series("input", input), _as_series("target", target)
    if x.shape[0] != y.shape[0] or x.shape[2] != y.shape[2]:
        raise LossInputError(f"input {tuple(input.shape)} and target {tuple(target.shape)} "
                             "must have the same batch size and number of features")
    if x.shape[1] == 0 or y.shape[1] == 0:
        raise LossInputError("soft_dtw needs at least one time step in input and target")
    check_broadcastable("weight", weight, torch.Size((x.shape[0],)))
    y = y.to(x.dtype)
    loss = _soft_dtw_value(x, y, float(gamma))
    if normalize:
        loss = loss - 0.5 * (_soft_dtw_value(x, x, float(gamma))
                             + _soft_dtw_value(y, y, float(gamma)))
    return reduce(loss, reduction, weight=weight)
