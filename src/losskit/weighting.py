"""Sample, class and task weights: imbalance, distribution shift and multi-task training.

* :func:`class_weights` turns observed labels into a ``[C]`` ``class_weight`` tensor
  (inverse frequency, its square root, or the effective number of Cui et al. 2019).
* :class:`OnlineClassWeights` keeps those weights current while the class mix drifts,
  from a bias-corrected exponential moving average of batch frequencies.
* :func:`recency_weights` gives time-ordered samples exponentially decaying weights
  with a half-life, for non-stationary data where recent samples matter more.
* :class:`UncertaintyWeighting` and :class:`GradNorm` learn the weights of several task
  losses while the model trains; pass either as ``weighting=`` to a composite loss
  (``losskit.get("mse + cross_entropy", weighting=UncertaintyWeighting(2))``) or call it
  on a list (or dict) of task losses.

Class and sample weights are normalized to **average 1** (over classes, or over
samples), so they change the balance between classes or samples but not the overall
scale of the loss or the effective learning rate.

>>> class_weights(torch.tensor([0, 0, 0, 1]))
tensor([0.5000, 1.5000])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch

from ._core.validate import LossInputError, check_class_indices, check_param

__all__ = ["SCHEMES", "GradNorm", "OnlineClassWeights", "UncertaintyWeighting", "class_weights",
           "recency_weights"]

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


# --- multi-task weighting --------------------------------------------------------------------


def _task_losses(losses: Sequence[torch.Tensor] | Mapping[str, torch.Tensor] | torch.Tensor,
                 n_tasks: int) -> tuple[list[str], torch.Tensor]:
    """Names and the ``[T]`` stack of scalar task losses (a list, a dict or a 1-D tensor)."""
    if isinstance(losses, Mapping):
        names, values = [str(k) for k in losses], list(losses.values())
    elif isinstance(losses, torch.Tensor):
        if losses.dim() != 1:
            raise LossInputError(f"losses as a tensor must be 1-D [T], got shape "
                                 f"{tuple(losses.shape)}")
        names, values = [f"task_{i}" for i in range(losses.shape[0])], list(losses.unbind(0))
    else:
        values = list(losses)
        names = [f"task_{i}" for i in range(len(values))]
    if len(values) != n_tasks:
        raise LossInputError(f"expected {n_tasks} task losses, got {len(values)}")
    for name, v in zip(names, values):
        if not isinstance(v, torch.Tensor) or v.numel() != 1:
            got = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
            raise LossInputError(f"task loss {name!r} must be a scalar tensor, got {got}")
    return names, torch.stack([v.reshape(()) for v in values])


def _check_tasks(n_tasks: int) -> int:
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, int) or n_tasks < 1:
        raise LossInputError(f"n_tasks must be a positive int, got {n_tasks!r}")
    return n_tasks


class UncertaintyWeighting(torch.nn.Module):
    """Task weights learned as homoscedastic uncertainties (Kendall, Gal & Cipolla, CVPR 2018).

    One learnable log-variance ``s_i`` per task, initialized to 0::

        total = sum_i 0.5 * exp(-s_i) * L_i + 0.5 * s_i

    Minimizing over ``s_i`` gives ``exp(s_i) = L_i``: a task whose loss stays large (noisy,
    or on a larger scale) is down-weighted, and the ``0.5 s_i`` term stops every weight from
    collapsing to 0. Optimize ``s`` together with the model::

        weighting = UncertaintyWeighting(2)
        optimizer = torch.optim.Adam([*model.parameters(), *weighting.parameters()])
        total = weighting([loss_depth, loss_segmentation])  # or a dict name -> loss

    or inside a composite: ``losskit.get("mse + cross_entropy", weighting=weighting)``
    (then ``composite.parameters()`` includes ``s``). The total can be negative: the
    ``s_i`` terms are log-variances. ``weights`` are the current ``0.5 exp(-s_i)`` and
    ``last_terms`` the last (unweighted, detached) task losses, so a
    :class:`~losskit.monitor.LossMonitor` given this module records every task.

    Args:
        n_tasks: number of task losses ``T``.

    Shape:
        losses: ``T`` scalar tensors (a list, a dict name -> loss, or a ``[T]`` tensor);
        output: a scalar.

    Example:
        >>> weighting = UncertaintyWeighting(2)
        >>> weighting([torch.tensor(2.0), torch.tensor(4.0)])
        tensor(3., grad_fn=<SumBackward0>)
    """

    def __init__(self, n_tasks: int) -> None:
        super().__init__()
        self.n_tasks = _check_tasks(n_tasks)
        self.log_variance = torch.nn.Parameter(torch.zeros(self.n_tasks))
        self.last_terms: dict[str, torch.Tensor] = {}

    @property
    def weights(self) -> torch.Tensor:
        """The current multipliers ``0.5 exp(-s_i)`` of the task losses (detached)."""
        return 0.5 * torch.exp(-self.log_variance.detach())

    def forward(self, losses: Sequence[torch.Tensor] | Mapping[str, torch.Tensor]
                ) -> torch.Tensor:
        names, stacked = _task_losses(losses, self.n_tasks)
        s = self.log_variance
        self.last_terms = dict(zip(names, stacked.detach().unbind(0)))
        return (0.5 * torch.exp(-s) * stacked + 0.5 * s).sum()

    def extra_repr(self) -> str:
        return f"n_tasks={self.n_tasks}"


class GradNorm(torch.nn.Module):
    """Task weights that balance the tasks' gradient norms (Chen et al., ICML 2018).

    Each task ``i`` has a learnable weight ``w_i`` (initialized to 1); the model trains on
    ``sum_i w_i L_i``. The weights follow the GradNorm rule. At every training call, with
    ``W`` the parameters of the ``shared`` layer (the last layer shared by the tasks):

    * ``G_i = ||grad_W (w_i L_i)||_2 = w_i ||grad_W L_i||_2`` and ``G_bar = mean_i G_i``;
    * the inverse training rate ``r_i = (L_i / L_i(0)) / mean_j (L_j / L_j(0))``, with
      ``L_i(0)`` the task losses at the first training call;
    * ``L_grad = sum_i |G_i - G_bar r_i^alpha|``, the target ``G_bar r_i^alpha`` held
      constant, so ``dL_grad / dw_i = sign(G_i - target_i) ||grad_W L_i||``: a task whose
      gradient is larger than its target (it trains too fast or too loudly) loses weight;
    * before each training call (that is, after every optimizer step) the weights are
      renormalized to sum to ``T``.

    ``alpha`` sets how strongly tasks that lag behind (large ``r_i``) are pushed; the paper
    uses 0.12 to 3.0, 1.5 by default.

    The returned value is ``sum_i w_i L_i``. Its gradient reaches the model as that of
    ``sum_i w_i L_i`` with the weights held fixed, and reaches the weights as
    ``dL_grad / dw``: the paper's two gradient computations in one ``backward()``, so
    the training loop is the usual one::

        gradnorm = GradNorm(2, shared=model.trunk[-1], alpha=1.5)
        optimizer = torch.optim.Adam([*model.parameters(), *gradnorm.parameters()])
        for x, y1, y2 in loader:
            h = model.trunk(x)
            total = gradnorm([loss1(model.head1(h), y1), loss2(model.head2(h), y2)])
            optimizer.zero_grad(); total.backward(); optimizer.step()

    It costs one extra backward pass per task, through the heads and the shared layer
    only. Outside training (``.eval()``, ``torch.no_grad()``, or losses without a graph)
    it returns ``sum_i w_i L_i`` and leaves the weights alone. Use it as ``weighting=`` of a
    composite in the same way. ``last_terms`` (the unweighted task losses),
    ``last_gradient_norms`` (``||grad_W L_i||``) and ``last_grad_loss`` (``L_grad``) are
    kept for logging.

    Args:
        n_tasks: number of task losses ``T``.
        shared: the last shared layer: a module (its parameters) or an iterable of
            parameters. They are not registered here, so ``parameters()`` holds only the
            task weights and an optimizer never sees the model's parameters twice.
        alpha: the asymmetry hyperparameter (>= 0).
    """

    initial_losses: torch.Tensor

    def __init__(self, n_tasks: int, shared: torch.nn.Module | Iterable[torch.Tensor], *,
                 alpha: float = 1.5) -> None:
        super().__init__()
        self.n_tasks = _check_tasks(n_tasks)
        check_param("alpha", alpha, low=0.0)
        self.alpha = float(alpha)
        params = shared.parameters() if isinstance(shared, torch.nn.Module) else shared
        self._shared: tuple[torch.Tensor, ...] = tuple(p for p in params if p.requires_grad)
        if not self._shared:
            raise LossInputError("shared has no parameters that require grad: pass the last "
                                 "layer shared by the tasks")
        self.task_weights = torch.nn.Parameter(torch.ones(self.n_tasks))
        self.register_buffer("initial_losses", torch.zeros(self.n_tasks))
        self._started: bool | None = False
        self.last_terms: dict[str, torch.Tensor] = {}
        self.last_gradient_norms: torch.Tensor | None = None
        self.last_grad_loss: torch.Tensor | None = None

    @property
    def weights(self) -> torch.Tensor:
        """The current task weights ``w_i`` (detached)."""
        return self.task_weights.detach()

    @torch.no_grad()
    def renormalize(self) -> None:
        """Rescale the weights to sum to ``T`` (done before every training call)."""
        self.task_weights.mul_(self.n_tasks / self.task_weights.sum())

    def reset(self) -> None:
        """Forget ``L_i(0)``: the next training call records the task losses again."""
        self._started = False

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._started = None  # decided from the loaded initial losses at the next call

    def forward(self, losses: Sequence[torch.Tensor] | Mapping[str, torch.Tensor]
                ) -> torch.Tensor:
        names, stacked = _task_losses(losses, self.n_tasks)
        self.last_terms = dict(zip(names, stacked.detach().unbind(0)))
        training = self.training and torch.is_grad_enabled() and stacked.requires_grad
        if not training:
            return (self.task_weights.detach() * stacked).sum()
        self.renormalize()
        if self._started is None:  # after load_state_dict: one read, once
            self._started = bool((self.initial_losses != 0).any())
        if not self._started:
            self.initial_losses.copy_(stacked.detach())
            self._started = True
        norms = []
        for value in stacked.unbind(0):
            grads = torch.autograd.grad(value, self._shared, retain_graph=True,
                                        allow_unused=True)
            squares = [g.square().sum() for g in grads if g is not None]
            norms.append(torch.stack(squares).sum().sqrt() if squares
                         else stacked.new_zeros(()))
        grad_norms = torch.stack(norms).detach().to(self.task_weights.dtype)
        w = self.task_weights
        gradient = w * grad_norms  # G_i = ||grad_W (w_i L_i)||, as w_i > 0
        ratio = stacked.detach().to(w.dtype) / self.initial_losses
        target = (gradient.mean() * (ratio / ratio.mean()) ** self.alpha).detach()
        grad_loss = (gradient - target).abs().sum()
        self.last_gradient_norms, self.last_grad_loss = grad_norms, grad_loss.detach()
        # The value is sum_i w_i L_i; the model's gradient is that of the weighted sum with
        # w fixed, the weights' gradient is that of L_grad (its value is added and removed).
        return (w.detach() * stacked).sum() + (grad_loss - grad_loss.detach())

    def extra_repr(self) -> str:
        return f"n_tasks={self.n_tasks}, alpha={self.alpha:g}"
