"""Training one candidate on one fold, with the held-out fold's curves recorded.

Every candidate sees the same folds, the same standardized features and the same
initial weights (the torch seed depends on the fold only), so per-fold scores are
paired. Regression models predict ``center + scale * net(x)`` with the training
target's median and robust scale, so a loss's hyperparameters keep the target's
units (Huber's ``delta`` is in minutes if the target is) while the optimizer works
on a well-scaled problem. Classification models start from the class prior.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._core.validate import LossInputError
from ._candidates import Candidate
from ._metrics import Metric, tune_threshold

__all__ = ["FoldResult", "TrainConfig", "build_model", "fit_fold", "prepare_features",
           "single_thread"]

ModelFactory = Callable[[int, int], torch.nn.Module]


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread, then restore the previous setting.

    Small models spend more on thread hand-offs than on arithmetic: on a busy 2-core
    machine an intra-op thread pool made a 500-element log_sigmoid 20 ms instead of 7 us.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class TrainConfig:
    model: str | ModelFactory = "linear"
    epochs: int = 150
    lr: float | None = None
    batch_size: int | None = None  # None: full batch
    threshold: str | float = "tune"  # "tune" on the training data, or a fixed probability
    hidden: int = 32
    records: int = 25  # points on the recorded curves


@dataclass
class FoldResult:
    score: float
    fit_seconds: float
    threshold: float | None
    curves: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)


def build_model(kind: str | ModelFactory, n_features: int, n_outputs: int,
                hidden: int = 32) -> torch.nn.Module:
    """``"linear"``, ``"mlp"`` (one hidden ReLU layer) or ``factory(n_features, n_outputs)``."""
    if callable(kind):
        return kind(n_features, n_outputs)
    if kind == "linear":
        return torch.nn.Linear(n_features, n_outputs)
    if kind == "mlp":
        return torch.nn.Sequential(torch.nn.Linear(n_features, hidden), torch.nn.ReLU(),
                                   torch.nn.Linear(hidden, n_outputs))
    raise LossInputError(f"model must be 'linear', 'mlp' or a callable "
                         f"(n_features, n_outputs) -> nn.Module, got {kind!r}")


def prepare_features(X_train: np.ndarray, X_test: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Impute with the training median, standardize with the training mean and std."""
    med = np.nanmedian(X_train, axis=0) if X_train.shape[1] else np.zeros(0)
    med = np.where(np.isnan(med), 0.0, med)
    X_train = np.where(np.isnan(X_train), med, X_train)
    X_test = np.where(np.isnan(X_test), med, X_test)
    mu, sd = X_train.mean(0), X_train.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    to = lambda a: torch.as_tensor((a - mu) / sd, dtype=torch.float32)  # noqa: E731
    return to(X_train), to(X_test)


class _Offset(torch.nn.Module):
    """``center + scale * net(x)``: a fixed affine head, so the net works at unit scale."""

    def __init__(self, net: torch.nn.Module, center: torch.Tensor, scale: float) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("center", center)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        if self.center.numel() == 1 and out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        return self.center + self.scale * out


def _head(cand: Candidate, net: torch.nn.Module, y: np.ndarray, n_classes: int) -> _Offset:
    if cand.layout == "values":
        center = float(np.median(y))
        mad = float(np.median(np.abs(y - center))) * 1.4826
        scale = mad if mad > 0 else (float(np.std(y)) or 1.0)
        return _Offset(net, torch.tensor(center), scale)
    counts = np.bincount(y.astype(int), minlength=n_classes) + 1.0
    prior = np.log(counts / counts.sum())
    if cand.layout == "binary_logit":
        return _Offset(net, torch.tensor(float(prior[1] - prior[0])), 1.0)
    return _Offset(net, torch.as_tensor(prior - prior.mean(), dtype=torch.float32), 1.0)


def predictions(cand: Candidate, output: torch.Tensor) -> np.ndarray:
    """Values (regression), P(positive) ``[N]`` (binary) or class probabilities ``[N, C]``."""
    with torch.no_grad():
        if cand.layout == "values":
            return output.double().numpy()
        if cand.layout == "binary_logit":
            return torch.sigmoid(output.double()).numpy()
        proba = torch.softmax(output.double(), dim=1).numpy()
        return proba[:, 1] if proba.shape[1] == 2 else proba


def score(metric: Metric, y: np.ndarray, pred: np.ndarray, n_classes: int,
          threshold: float | None) -> float:
    if metric.needs == "labels":
        labels = pred.argmax(1) if pred.ndim == 2 else (pred >= threshold).astype(int)
        return metric(y, labels, n_classes)
    return metric(y, pred)


def _threshold(metric: Metric, cfg: TrainConfig, y: np.ndarray, pred: np.ndarray) -> float | None:
    if metric.needs != "labels" or pred.ndim == 2:
        return None
    if cfg.threshold == "tune":
        return tune_threshold(metric, y, pred)
    return float(cfg.threshold)


class _Adam:
    """Adam (Kingma & Ba 2015; the torch.optim.Adam update with default betas) with a
    cosine learning-rate decay to 1% over ``total_steps``.

    Written out because constructing a ``torch.optim`` optimizer imports torch._dynamo,
    which costs seconds of start-up that a quick comparison should not pay.
    """

    def __init__(self, params: list[torch.Tensor], *, lr: float, total_steps: int,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params, self.lr, self.total = params, lr, max(int(total_steps), 1)
        self.b1, self.b2, self.eps, self.t = betas[0], betas[1], eps, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        lr = self.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(self.t / self.total, 1))))
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            m.mul_(self.b1).add_(p.grad, alpha=1 - self.b1)
            v.mul_(self.b2).addcmul_(p.grad, p.grad, value=1 - self.b2)
            p.addcdiv_(m, (v / c2).sqrt_().add_(self.eps), value=-lr / c1)


def fit_fold(cand: Candidate, X_train: torch.Tensor, y_train: np.ndarray, X_test: torch.Tensor,
             y_test: np.ndarray, *, metric: Metric, n_classes: int, cfg: TrainConfig,
             seed: int, extra: tuple[Metric, ...] = ()) -> FoldResult:
    """Train ``cand`` with Adam (cosine-decayed learning rate) and score the held-out fold."""
    torch.manual_seed(seed)
    net = build_model(cfg.model, X_train.shape[1], cand.n_outputs(n_classes), cfg.hidden)
    model = _head(cand, net, y_train, n_classes)
    lr = cfg.lr or (0.05 if cfg.model == "linear" else 0.01)
    n = len(y_train)
    batch = n if not cfg.batch_size or cfg.batch_size >= n else int(cfg.batch_size)
    steps_per_epoch = -(-n // batch)
    opt = _Adam(list(model.parameters()), lr=lr, total_steps=cfg.epochs * steps_per_epoch)
    t_train, t_test = cand.target(y_train), cand.target(y_test)
    record_at = set(np.unique(np.linspace(0, cfg.epochs, min(cfg.records, cfg.epochs) + 1)
                              .round().astype(int)).tolist())
    curves: dict[str, list[float]] = {"epoch": [], "train_loss": [], "val_loss": [],
                                      "val_metric": []}
    gen = torch.Generator().manual_seed(seed)
    fit_seconds = 0.0

    def record(epoch: int) -> None:
        model.eval()
        with torch.no_grad():
            out_tr, out_te = model(X_train), model(X_test)
            train_loss, val_loss = float(cand(out_tr, t_train)), float(cand(out_te, t_test))
        p_tr, p_te = predictions(cand, out_tr), predictions(cand, out_te)
        thr = _threshold(metric, cfg, y_train, p_tr)
        curves["epoch"].append(epoch)
        curves["train_loss"].append(train_loss)
        curves["val_loss"].append(val_loss)
        curves["val_metric"].append(score(metric, y_test, p_te, n_classes, thr))
        model.train()

    record(0)
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(n, generator=gen) if batch < n else None
        for i in range(steps_per_epoch):
            idx = None if order is None else order[i * batch:(i + 1) * batch]
            xb = X_train if idx is None else X_train[idx]
            yb = t_train if idx is None else t_train[idx]
            opt.zero_grad()
            loss = cand(model(xb), yb)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss {cand.label!r} became {float(loss)} at epoch "
                                         f"{epoch}")
            loss.backward()
            opt.step()
        fit_seconds += time.perf_counter() - start
        if epoch in record_at:
            record(epoch)
    model.eval()
    with torch.no_grad():
        p_tr, p_te = predictions(cand, model(X_train)), predictions(cand, model(X_test))
    thr = _threshold(metric, cfg, y_train, p_tr)
    others = {m.name: score(m, y_test, p_te, n_classes, _threshold(m, cfg, y_train, p_tr))
              for m in extra}
    return FoldResult(score(metric, y_test, p_te, n_classes, thr), fit_seconds, thr, curves,
                      others)


def jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)
