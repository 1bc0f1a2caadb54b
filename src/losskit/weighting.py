"""Sample and class weights for imbalance and distribution shift.

* :func:`class_weights` turns observed labels into a ``[C]`` ``class_weight`` tensor
  (inverse frequency, its square root, or the effective number of Cui et al. 2019).
* :class:`OnlineClassWeights` keeps those weights current while the class mix drifts,
  from a bias-corrected exponential moving average of batch frequencies.
* :func:`recency_weights` gives time-ordered samples exponentially decaying weights
  with a half-life, for non-stationary data where recent samples matter more.

All weights are normalized to **average 1** (over classes, or over samples), so they
change the balance between classes or samples but not the overall scale of the loss
or the effective learning rate.

>>> class_weights(torch.tensor([0, 0, 0, 1]))
tensor([0.5000, 1.5000])
"""

from __future__ import annotations

import torch

from ._core.validate import LossInputError, check_class_indices, check_param

__all__ = ["SCHEMES", "OnlineClassWeights", "class_weights", "recency_weights"]

SCHEMES = ("inverse", "sqrt_inverse", "effective_number")


def _check_scheme(scheme: str, allowed: tuple[str, ...] = SCHEMES) -> None:
    if scheme not in allowed:
        raise LossInputError(f"scheme must be one of {allowed}, got {scheme!r}")


def _weights_from_counts(counts: torch.Tensor, scheme: str, beta: float) -> torch.Tensor:
    """Per-class weights from (possibly fractional) counts, normalized to mean 1.

    A class with count 0 would get an infinite weight; it gets the weight of the rarest
    observed class instead, so the weights stay finite and the class still counts as
    rare if it turns up later. With no observation at all every weight is 1.
    """
    counts = counts.to(torch.float64)
    seen = counts > 0
    if not bool(seen.any()):
        return torch.ones_like(counts, dtype=torch.float32)
    counts = torch.where(seen, counts, counts[seen].min())
    if scheme == "inverse":
        raw = 1.0 / counts
    elif scheme == "sqrt_inverse":
        raw = counts.rsqrt()
    else:
        # Effective number of samples E_n = (1 - beta^n) / (1 - beta) (Cui et al. 2019);
        # -expm1(n log beta) is 1 - beta^n without cancellation for beta close to 1.
        log_beta = torch.log(torch.tensor(beta, dtype=counts.dtype))
        raw = (1.0 - beta) / -torch.expm1(counts * log_beta)
    return (raw / raw.mean()).to(torch.float32)


def class_weights(targets: torch.Tensor, scheme: str = "inverse", *, beta: float = 0.999,
                  num_classes: int | None = None,
                  ignore_index: int | None = None) -> torch.Tensor:
    """Per-class weights from integer labels, averaging 1 over the classes.

    Schemes, for a class with ``n`` samples (before normalization):

    * ``"inverse"``: ``1 / n``, every class contributes equally to a weighted mean;
    * ``"sqrt_inverse"``: ``1 / sqrt(n)``, a milder correction, often better when the
      imbalance is extreme and the rare classes are noisy;
    * ``"effective_number"``: ``(1 - beta) / (1 - beta^n)`` (Cui et al., CVPR 2019):
      like inverse for small ``n``, saturating once extra samples of a class are mostly
      redundant. ``beta -> 0`` gives equal weights, ``beta -> 1`` gives ``"inverse"``;
      typical values 0.9-0.9999 (larger for larger data sets).

    Weights are scaled to have mean 1 over the ``C`` classes. A class absent from
    ``targets`` gets the weight of the rarest observed class (its inverse frequency
    would be infinite).

    Args:
        targets: integer class indices, any shape (e.g. ``[N]`` or a mask ``[N, H, W]``).
        scheme: ``"inverse" | "sqrt_inverse" | "effective_number"``.
        beta: hyperparameter of ``"effective_number"``, in [0, 1).
        num_classes: ``C``; default ``targets.max() + 1``.
        ignore_index: a label value to leave out of the counts.

    Returns:
        ``[C]`` float32 tensor, usable as ``class_weight`` of the classification losses.
    """
    _check_scheme(scheme)
    check_param("beta", beta, low=0.0, high=1.0, high_inclusive=False)
    if not isinstance(targets, torch.Tensor):
        targets = torch.as_tensor(targets)
    flat = targets.reshape(-1)
    if ignore_index is not None:
        flat = flat[flat != ignore_index]
    if num_classes is None:
        if flat.numel() == 0:
            raise LossInputError("targets is empty: pass num_classes to get uniform weights")
        num_classes = int(flat.max()) + 1
    check_class_indices("targets", flat, num_classes)
    counts = torch.bincount(flat.long(), minlength=num_classes)
    return _weights_from_counts(counts, scheme, beta)


class OnlineClassWeights(torch.nn.Module):
    """Class weights that follow a drifting class distribution.

    Keeps an exponential moving average of the class frequencies seen in each batch,
    ``f <- momentum * f + (1 - momentum) * batch_frequencies``, bias-corrected like Adam
    (``f / (1 - momentum^t)``) so the first batches are not pulled toward zero. The
    memory is about ``1 / (1 - momentum)`` batches: 0.99 follows a shift within a few
    hundred batches, 0.9 within tens. ``.weights`` applies ``scheme`` to the tracked
    frequencies and averages 1 over classes, as :func:`class_weights`.

    It is a module so the running state moves with ``.to(device)`` and is saved in a
    ``state_dict``.

    Example::

        tracker = OnlineClassWeights(num_classes=3, momentum=0.95)
        for x, y in loader:
            w = tracker.update(y)
            loss = losskit.F.cross_entropy(model(x), y, class_weight=w)
    """

    frequencies_ema: torch.Tensor
    num_updates: torch.Tensor

    def __init__(self, num_classes: int, momentum: float = 0.99, *,
                 scheme: str = "inverse", ignore_index: int | None = None) -> None:
        super().__init__()
        check_param("num_classes", num_classes, low=1)
        check_param("momentum", momentum, low=0.0, high=1.0, high_inclusive=False)
        _check_scheme(scheme, ("inverse", "sqrt_inverse"))
        self.num_classes, self.momentum = int(num_classes), float(momentum)
        self.scheme, self.ignore_index = scheme, ignore_index
        self.register_buffer("frequencies_ema", torch.zeros(self.num_classes, dtype=torch.float64))
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, batch_targets: torch.Tensor) -> torch.Tensor:
        """Fold one batch of integer labels into the estimate; returns the new weights."""
        flat = batch_targets.reshape(-1)
        if self.ignore_index is not None:
            flat = flat[flat != self.ignore_index]
        check_class_indices("batch_targets", flat, self.num_classes)
        if flat.numel() == 0:
            return self.weights  # nothing observed: keep the estimate
        counts = torch.bincount(flat.long(), minlength=self.num_classes).to(torch.float64)
        self.frequencies_ema.mul_(self.momentum).add_(counts / counts.sum(),
                                                       alpha=1.0 - self.momentum)
        self.num_updates += 1
        return self.weights

    forward = update

    @property
    def frequencies(self) -> torch.Tensor:
        """Bias-corrected estimate of the current class frequencies (sums to 1)."""
        t = int(self.num_updates)
        if t == 0:
            return torch.full_like(self.frequencies_ema, 1.0 / self.num_classes)
        return self.frequencies_ema / (1.0 - self.momentum ** t)

    @property
    def weights(self) -> torch.Tensor:
        """``[C]`` float32 weights for the current estimate (uniform before any update)."""
        return _weights_from_counts(self.frequencies, self.scheme, 0.0).to(
            self.frequencies_ema.device)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, momentum={self.momentum}, scheme={self.scheme!r}"


def recency_weights(timestamps_or_n: torch.Tensor | int, half_life: float) -> torch.Tensor:
    """Exponentially decaying sample weights: a sample ``half_life`` older counts half.

    ``w_i = 0.5 ** ((t_max - t_i) / half_life)``, then scaled to average 1 over the
    samples (so the reference time does not matter: only age differences do).

    Args:
        timestamps_or_n: ``[N]`` timestamps (any unit, larger = more recent), or an int
            ``N`` meaning samples ``0..N-1`` in time order (the last is the most recent).
        half_life: in the units of the timestamps (or of sample positions), > 0.

    Returns:
        ``[N]`` float32 weights, usable as the ``weight`` argument of any loss.

    Example:
        >>> recency_weights(3, half_life=1.0)
        tensor([0.4286, 0.8571, 1.7143])
    """
    check_param("half_life", half_life, low=0.0, low_inclusive=False)
    if isinstance(timestamps_or_n, int) and not isinstance(timestamps_or_n, bool):
        check_param("n", timestamps_or_n, low=0)
        t = torch.arange(timestamps_or_n, dtype=torch.float64)
    elif isinstance(timestamps_or_n, torch.Tensor):
        if timestamps_or_n.dim() != 1:
            raise LossInputError(f"timestamps must be 1-D [N], got shape "
                                 f"{tuple(timestamps_or_n.shape)}")
        if timestamps_or_n.is_complex() or timestamps_or_n.dtype == torch.bool:
            raise LossInputError(f"timestamps must be real numbers, got dtype "
                                 f"{timestamps_or_n.dtype}")
        t = timestamps_or_n.to(torch.float64)
    else:
        raise LossInputError(f"timestamps_or_n must be an int or a 1-D tensor, got "
                             f"{type(timestamps_or_n).__name__}")
    if t.numel() == 0:
        return torch.zeros(0, dtype=torch.float32)
    # Ages relative to the newest sample keep every exponent <= 0: no overflow, and
    # only samples many half-lives old underflow (to a weight of 0, which is right).
    w = torch.exp2(-(t.max() - t) / half_life)
    device = timestamps_or_n.device if isinstance(timestamps_or_n, torch.Tensor) else None
    return (w / w.mean()).to(device=device, dtype=torch.float32)
