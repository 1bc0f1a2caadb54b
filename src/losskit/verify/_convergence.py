"""The convergence check: train a small model with the loss on a problem with a known answer.

The problem is read off the loss's own example arguments, so the same code serves
built-in and user losses:

* **regression** (values in, values of the same shape out): noise-free targets
  ``y = X W* + b*``; a linear model trained with the loss must recover ``W*`` and ``b*``.
  Every loss whose minimum is at zero residual has that answer (MSE, L1, Huber,
  pinball, ...), so missing it means the loss is minimized elsewhere or trains badly.
* **classification** (logits / log-probabilities / probabilities with class-index,
  one-hot or {0, 1} targets, dense or not): linearly separable labels; the trained
  linear model must classify >= 90% of the training set.
* **embedding** (embeddings with integer labels): features whose class signal hides
  under larger nuisance dimensions; after training, same-class pairs must end at most
  half as far apart as different-class pairs.
* otherwise, **direct descent**: the differentiable arguments themselves are trained
  from the example; the loss must close half the gap to its value at the perfect
  prediction (or, with no known optimum, fall by a tenth).

The training curve (loss per step) is kept in the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ._outcome import Failed, Skipped
from ._subject import Args, Subject

__all__ = ["converge"]

STEPS = 150
_CURVE_POINTS = 30


def _curve(losses: list[float]) -> list[float]:
    stride = max(1, len(losses) // _CURVE_POINTS)
    kept = losses[::stride]
    if kept[-1] is not losses[-1]:
        kept.append(losses[-1])
    return [round(v, 6) for v in kept]


def _train(params: list[torch.Tensor], objective: Callable[[], torch.Tensor], lr: float,
           steps: int = STEPS) -> list[float]:
    """Full-batch Adam with a cosine-decayed learning rate (so L1-type losses settle).

    Written out rather than taken from ``torch.optim``: the first ``torch.optim`` step
    imports the compiler stack (seconds), which would dominate a sub-second check.
    """
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    losses: list[float] = []
    for step in range(1, steps + 1):
        loss = objective()
        if loss.dim() != 0 or not torch.isfinite(loss):
            raise Failed(f"training produced {loss.detach()} at step {step}")
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        rate = lr * 0.5 * (1 + math.cos(math.pi * (step - 1) / steps))
        with torch.no_grad():
            for p, g, m_p, v_p in zip(params, grads, m, v):
                if g is None:
                    continue
                if not torch.isfinite(g).all():
                    raise Failed(f"non-finite gradient at training step {step}")
                m_p.mul_(beta1).add_(g, alpha=1 - beta1)
                v_p.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                m_hat = m_p / (1 - beta1 ** step)
                v_hat = v_p / (1 - beta2 ** step)
                p.sub_(rate * m_hat / (v_hat.sqrt() + eps))
        losses.append(float(loss.detach()))
    with torch.no_grad():
        losses.append(float(objective()))
    return losses


def _result(detail: str, losses: list[float], problem: str,
            **data: Any) -> tuple[str, dict[str, Any]]:
    return detail, {"problem": problem, "curve": _curve(losses), "steps": len(losses) - 1, **data}


def _target_values(t: torch.Tensor) -> tuple[float, float] | None:
    """The two values of a binary target tensor, e.g. (0, 1) or (-1, 1), or None."""
    values = torch.unique(t)
    if values.numel() == 0 or values.numel() > 2:
        return None
    low, high = float(values.min()), float(values.max())
    if (low, high) in {(0.0, 1.0), (-1.0, 1.0), (0.0, 0.0), (1.0, 1.0)}:
        return (low if low != high else 0.0), 1.0
    return None


def _kind(subject: Subject, args: Args) -> str:
    x = args[0]
    t = args[1] if len(args) > 1 else None
    if subject.family == "penalties":  # constraints on a model, not a fit to data
        return "descent"
    if not isinstance(x, torch.Tensor) or not isinstance(t, torch.Tensor) or x.dim() == 0:
        return "descent"
    if subject.input_kind == "values" and subject.target_kind == "values" \
            and t.is_floating_point() and t.shape == x.shape:
        return "regression"
    if subject.input_kind in ("logits", "log_probs", "probabilities", "scores", "energies"):
        classes = x.shape[1] if x.dim() > 1 else 0
        if not t.is_floating_point() and t.shape == x.shape[:1] + x.shape[2:] and classes > 1:
            if t.numel() and int(t.min()) >= 0 and int(t.max()) < classes:
                return "classes"
            return "descent"
        if t.shape == x.shape and not t.is_floating_point() and _target_values(t) is not None:
            return "binary"
        if t.is_floating_point() and t.shape == x.shape:
            if classes > 1 and t.numel() and bool(torch.isclose(
                    t.sum(1), torch.ones((), dtype=t.dtype)).all()) and (t >= 0).all():
                return "onehot"
            if _target_values(t) is not None:
                return "binary"
    if subject.input_kind == "embeddings" and len(args) == 2 and not t.is_floating_point() \
            and t.dim() == 1 and t.shape[0] == x.shape[0] and x.dim() == 2:
        return "embedding"
    return "descent"


def converge(subject: Subject) -> tuple[str, dict[str, Any]]:
    template = subject.example(n=64, requires_grad=False)
    kind = _kind(subject, template)
    torch.manual_seed(0)
    problem = {"regression": _regression, "classes": _classification,
               "onehot": _classification, "binary": _binary, "embedding": _embedding,
               "descent": _descent}[kind]
    return problem(subject, template, kind)


def _loss(subject: Subject, template: Args, new: dict[int, Any]) -> torch.Tensor:
    args = tuple(new.get(i, a) for i, a in enumerate(template))
    return subject(*args, reduction="mean")


def _regression(subject: Subject, template: Args, kind: str) -> tuple[str, dict[str, Any]]:
    shape = template[0].shape
    n, k, d = shape[0], math.prod(shape[1:]), 4
    g = torch.Generator().manual_seed(11)
    # Centred features keep the problem well conditioned; the intercept keeps every target
    # >= 1 so log-based regression losses (msle) stay in their domain.
    X = 2 * torch.rand(n, d, generator=g, dtype=torch.float64) - 1
    W_true = 0.2 + 0.5 * torch.rand(d, k, generator=g, dtype=torch.float64)
    b_true = 0.5 + W_true.sum(0)
    y = (X @ W_true + b_true).reshape(shape)
    W = torch.zeros(d, k, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(k, dtype=torch.float64, requires_grad=True)
    losses = _train([W, b], lambda: _loss(subject, template, {0: (X @ W + b).reshape(shape),
                                                              1: y}), lr=0.2)
    with torch.no_grad():
        truth = torch.cat([W_true, b_true[None]])
        fitted = torch.cat([W, b[None]])
        error = float((fitted - truth).norm() / truth.norm())
    detail = (f"linear model on noise-free data: coefficients within {error:.2%} of the truth "
              f"(loss {losses[0]:.4g} -> {losses[-1]:.4g} in {len(losses) - 1} steps)")
    if not error < 0.02:
        failed = detail.replace("within", "off by")
        with torch.no_grad():
            at_truth = float(_loss(subject, template, {0: y, 1: y}))
            at_affine = float(_loss(subject, template, {0: 2 * y + 1, 1: y}))
        if math.isclose(at_affine, at_truth, rel_tol=1e-6, abs_tol=1e-9):
            raise Failed(failed + f"; the loss scores 2 y + 1 as it scores y ({at_truth:.4g}): "
                         "blind to the scale and offset of the predictions, as a correlation "
                         "is, so a model trained with it predicts y only up to an affine map "
                         "(calibrate the output, or add a loss that pins the scale)")
        raise Failed(failed + "; the loss is not minimized at the true coefficients, or does "
                     "not reach them")
    return _result(detail, losses, "regression", coefficient_error=error)


def _features_model(template: Args, classes_dim: bool, d: int = 8, seed: int = 12) -> Any:
    """Features and a separating linear map shaped like the loss's input."""
    shape = template[0].shape
    g = torch.Generator().manual_seed(seed)
    if classes_dim:  # [N, C, *spatial]: features [N, d, *spatial], map d -> C per position
        n, c, spatial = shape[0], shape[1], shape[2:]
        X = torch.randn(n, d, *spatial, generator=g, dtype=torch.float64)
        W_true = torch.randn(d, c, generator=g, dtype=torch.float64)

        def apply(W: torch.Tensor, b: torch.Tensor, X: torch.Tensor = X) -> torch.Tensor:
            return torch.einsum("nd...,dc->nc...", X, W) + b.view(1, c, *[1] * len(spatial))

        return X, W_true, apply, (d, c), (c,)
    n, k = shape[0], math.prod(shape[1:])
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    W_true = torch.randn(d, k, generator=g, dtype=torch.float64)

    def apply_flat(W: torch.Tensor, b: torch.Tensor, X: torch.Tensor = X) -> torch.Tensor:
        return (X @ W + b).reshape(shape)

    return X, W_true, apply_flat, (d, k), (k,)


def _as_input(subject: Subject, logits: torch.Tensor, multiclass: bool) -> torch.Tensor:
    if subject.input_kind == "log_probs":
        return (torch.log_softmax(logits, 1) if multiclass
                else torch.nn.functional.logsigmoid(logits))
    if subject.input_kind == "probabilities":
        return torch.softmax(logits, 1) if multiclass else torch.sigmoid(logits)
    if subject.input_kind == "energies":  # low energy = likely: the negated logits
        return -logits
    return logits


def _classification(subject: Subject, template: Args, kind: str) -> tuple[str, dict[str, Any]]:
    _, W_true, apply, w_shape, b_shape = _features_model(template, classes_dim=True)
    with torch.no_grad():
        labels = apply(W_true, torch.zeros(b_shape, dtype=torch.float64)).argmax(1)
    target: torch.Tensor = labels.to(template[1].dtype)
    if kind == "onehot":
        target = torch.nn.functional.one_hot(labels, w_shape[1]).movedim(-1, 1).to(
            template[1].dtype)
    W = torch.zeros(w_shape, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(b_shape, dtype=torch.float64, requires_grad=True)

    def objective() -> torch.Tensor:
        return _loss(subject, template, {0: _as_input(subject, apply(W, b), True), 1: target})

    losses = _train([W, b], objective, lr=0.1)
    # Labels the loss is told to ignore (torch's ignore_index=0) are never learned: they are
    # not scored.
    ignored = subject.ignore_index
    counted = labels != ignored if kind != "onehot" and ignored is not None else \
        torch.ones_like(labels, dtype=torch.bool)
    with torch.no_grad():
        hits = (apply(W, b).argmax(1) == labels)[counted]
        accuracy = float(hits.double().mean()) if hits.numel() else 1.0
    what = f"{w_shape[1]}-class separable data"
    if not bool(counted.all()):
        what += f", class {ignored} ignored as the loss's ignore_index"
    return _accuracy_verdict(accuracy, losses, what)


def _binary(subject: Subject, template: Args, kind: str) -> tuple[str, dict[str, Any]]:
    _, W_true, apply, w_shape, b_shape = _features_model(template, classes_dim=False)
    low, high = _target_values(template[1]) or (0.0, 1.0)
    with torch.no_grad():
        positive = apply(W_true, torch.zeros(b_shape, dtype=torch.float64)) > 0
    target = torch.where(positive, high, low).to(template[1].dtype)
    W = torch.zeros(w_shape, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(b_shape, dtype=torch.float64, requires_grad=True)

    def objective() -> torch.Tensor:
        return _loss(subject, template, {0: _as_input(subject, apply(W, b), False), 1: target})

    losses = _train([W, b], objective, lr=0.1)
    with torch.no_grad():
        accuracy = float(((apply(W, b) > 0) == positive).double().mean())
    return _accuracy_verdict(accuracy, losses, "separable binary labels")


def _accuracy_verdict(accuracy: float, losses: list[float],
                      what: str) -> tuple[str, dict[str, Any]]:
    detail = (f"linear model on {what}: training accuracy {accuracy:.1%} (loss {losses[0]:.4g} "
              f"-> {losses[-1]:.4g} in {len(losses) - 1} steps)")
    if accuracy < 0.9:
        raise Failed(detail + "; separable data should reach >= 90%")
    return _result(detail, losses, "classification", accuracy=accuracy)


def _pair_distances(z: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    z = torch.nn.functional.normalize(z, dim=1)
    dist = torch.cdist(z, z)
    same = labels[:, None] == labels[None, :]
    off = ~torch.eye(len(labels), dtype=torch.bool)
    return float(dist[same & off].mean()), float(dist[~same].mean())


def _nearest_neighbour_accuracy(z: torch.Tensor, labels: torch.Tensor) -> float:
    """Leave-one-out 1-NN accuracy under cosine distance."""
    z = torch.nn.functional.normalize(z, dim=1)
    dist = torch.cdist(z, z)
    dist.fill_diagonal_(float("inf"))
    return float((labels[dist.argmin(1)] == labels).double().mean())


def _embedding(subject: Subject, template: Args, kind: str) -> tuple[str, dict[str, Any]]:
    n, dim = template[0].shape
    g = torch.Generator().manual_seed(13)
    # as many classes as the example's labels hold (a loss with a fixed number of class
    # centres, ArcFace's, takes no other), at most 4
    classes = max(2, min(4, int(template[1].max()) + 1)) if template[1].numel() else 4
    labels = torch.arange(n) % classes
    centers = torch.randn(classes, 4, generator=g, dtype=torch.float64)
    # The class signal is 4 dimensions of unit scale beside 12 nuisance ones of scale 3:
    # a random projection mixes them, training has to find the signal.
    X = torch.cat([centers[labels] + 0.1 * torch.randn(n, 4, generator=g, dtype=torch.float64),
                   3.0 * torch.randn(n, 12, generator=g, dtype=torch.float64)], dim=1)
    W0 = torch.randn(16, dim, generator=g, dtype=torch.float64) / 4
    W = W0.clone().requires_grad_(True)
    target = labels.to(template[1].dtype)
    with torch.no_grad():
        start = _pair_distances(X @ W, labels)
    # A loss with its own parameters (class centres, proxies, a temperature) trains them with
    # the embedding, as it would in a model: on a float64 copy, the user's module untouched.
    try:
        trained, own = subject.float64_twin()
    except (RuntimeError, TypeError):  # a module that cannot be copied keeps its parameters
        trained, own = subject, []
    if own:
        try:  # a module that computes in its parameters' dtype (emb.float() @ W) keeps them
            with torch.no_grad():
                _loss(trained, template, {0: X @ W, 1: target})
            subject = trained
        except RuntimeError:
            own = []
    losses = _train([W, *own], lambda: _loss(subject, template, {0: X @ W, 1: target}),
                    lr=0.05)
    with torch.no_grad():
        same, diff = _pair_distances(X @ W, labels)
        knn = (_nearest_neighbour_accuracy(X @ W0, labels),
               _nearest_neighbour_accuracy(X @ W, labels))
    detail = (f"same-class / different-class distance {start[0] / start[1]:.2f} -> "
              f"{same / diff:.2f}, nearest-neighbour accuracy {knn[0]:.0%} -> {knn[1]:.0%} "
              f"(loss {losses[0]:.4g} -> {losses[-1]:.4g})")
    # Tight clusters, or (a margin loss on a hypersphere: classes apart, not shrunk to
    # points) clearly closer same-class pairs and the retrieval the embedding is for.
    if not (same < 0.5 * diff or (same < 0.8 * diff and knn[1] >= 0.9)):
        raise Failed(detail + "; same-class pairs should end at most half as far apart, or "
                     "closer than 0.8 with every point's nearest neighbour in its class")
    return _result(detail, losses, "embedding", same_class_distance=same,
                   different_class_distance=diff)


def _descent(subject: Subject, template: Args, kind: str) -> tuple[str, dict[str, Any]]:
    args = subject.example(seed=6)
    positions = [i for i in subject.grad_args if i < len(args)
                 and isinstance(args[i], torch.Tensor) and args[i].requires_grad]
    if not positions:
        raise Skipped("no floating-point argument to train")
    params = [args[i] for i in positions]
    target_value = None
    if subject.optimum is not None:
        with torch.no_grad():
            target_value = float(subject(*subject.prepare(subject.optimum(args),
                                                          requires_grad=False),
                                         reduction="mean"))
    try:
        losses = _train(params, lambda: _loss(subject, args, dict(zip(positions, params))),
                        lr=0.05)
    except ValueError as exc:  # LossInputError, or torch's own ("var has negative entry")
        raise Skipped(f"training the arguments directly left their valid range ({exc}); no "
                      "unconstrained synthetic problem for this loss") from None
    start, end = losses[0], losses[-1]
    if target_value is not None:
        gap_closed = (start - end) / (start - target_value) if start > target_value else 1.0
        detail = (f"training the inputs directly: {start:.4g} -> {end:.4g}, optimum "
                  f"{target_value:.4g} ({gap_closed:.0%} of the gap closed)")
        if not gap_closed >= 0.5:
            raise Failed(detail + "; should close at least half")
    else:
        detail = (f"training the inputs directly: {start:.4g} -> {end:.4g} in "
                  f"{len(losses) - 1} steps")
        if not end <= start - 0.1 * abs(start) and not end < start - 0.1:
            raise Failed(detail + "; the loss should fall by a tenth")
    return _result(detail, losses, "descent", optimum=target_value)
