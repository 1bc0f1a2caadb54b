"""Training one candidate on one fold, with the held-out fold's curves recorded.

Every candidate sees the same folds, the same standardized features and the same
initial weights (the torch seed depends on the fold only), so per-fold scores are
paired. The network's raw output goes through the candidate's fitted head
(:mod:`losskit.compare._heads`), which puts it on a sensible scale from the start (the
training target's median and robust scale for values, the log of the mean for a
log-rate, the class prior for logits), so a loss's hyperparameters keep the target's
units (Huber's ``delta`` is in minutes if the target is) while the optimizer works on a
well-scaled problem; the head also reads predictions back on the metric's scale.
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
from ..vocabulary import Metric
from ._candidates import Candidate
from ._heads import Batch, FittedHead, Problem
from ._metrics import tune_threshold

__all__ = ["FoldResult", "TrainConfig", "build_model", "fit_fold", "prepare_features",
           "single_thread"]

ModelFactory = Callable[[int, int], torch.nn.Module]


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch (and numpy's BLAS) on one thread, then restore the previous setting.

    Small models spend more on thread hand-offs than on arithmetic: on a busy 2-core
    machine an intra-op thread pool made a 500-element log_sigmoid 20 ms instead of 7 us.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            yield
        else:
            with threadpool_limits(1, user_api="blas"):
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


def _wide_positive(X: np.ndarray) -> np.ndarray:
    """Columns that are positive and span a factor of 10 or more (1st to 99th percentile)."""
    if X.shape[1] == 0:
        return np.zeros(0, dtype=bool)
    with np.errstate(all="ignore"):
        lo = np.nanpercentile(X, 1, axis=0)
        hi = np.nanpercentile(X, 99, axis=0)
        mn = np.nanmin(X, axis=0)
    result: np.ndarray = (mn > 0) & (hi >= 10 * lo)
    return result


def prepare_features(X_train: np.ndarray, X_test: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Impute with the training median, add log(x) beside every positive feature that spans
    an order of magnitude (a population, an income: it enters a log-link model as an
    offset would, and every candidate sees the same columns), then standardize with the
    training mean and std."""
    if X_train.shape[1]:
        wide = _wide_positive(X_train)
        with np.errstate(all="ignore"):
            med = np.nanmedian(X_train, axis=0)
        med = np.where(np.isnan(med), 0.0, med)
        X_train = np.where(np.isnan(X_train), med, X_train)
        X_test = np.where(np.isnan(X_test), med, X_test)
        if wide.any():
            floor = X_train[:, wide].min(axis=0)
            X_train = np.column_stack([X_train, np.log(X_train[:, wide])])
            X_test = np.column_stack([X_test, np.log(np.maximum(X_test[:, wide], floor))])
    mu, sd = X_train.mean(0), X_train.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    def to(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((a - mu) / sd, dtype=torch.float32)
    return to(X_train), to(X_test)


class _Model(torch.nn.Module):
    """The network followed by the fitted head's fixed offset and link."""

    def __init__(self, net: torch.nn.Module, head: FittedHead) -> None:
        super().__init__()
        self.net = net
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raw = self.net(x)
        if raw.ndim == 1:
            raw = raw[:, None]
        return self.head.output(raw)


@dataclass
class Predictions:
    """What a fitted model predicts for some rows, read through its head on demand."""

    head: FittedHead
    out: torch.Tensor

    def for_metric(self, metric: Metric, threshold: float | None) -> np.ndarray:
        task = self.head.problem.task
        needs = metric.needs
        if needs == "risk":
            return self.head.risk(self.out)
        if needs == "scores":
            if self.head.kind == "classes" and task != "ranking":
                return self.head.proba(self.out)
            return self.head.point(self.out, "mean", None)
        if needs == "values":
            v = self.head.point(self.out, metric.optimizes, metric.level)
            levels = self.head.problem.levels
            if task == "ordinal":
                assert levels is not None  # an ordinal problem knows its levels
                result: np.ndarray = levels[np.asarray(v, dtype=int)]
                return result
            return v
        proba = self.binary_or_class_proba()
        if needs == "proba":
            return proba
        # labels
        if task == "ordinal":
            return _ordinal_labels(self.head, self.out, metric)
        if proba.ndim == 2 and task != "multilabel":
            labels: np.ndarray = proba.argmax(1)
            return labels
        t = 0.5 if threshold is None else threshold
        return (proba >= t).astype(int)

    def binary_or_class_proba(self) -> np.ndarray:
        proba = self.head.proba(self.out)
        if self.head.problem.task == "binary" and proba.ndim == 2:
            return proba[:, 1]
        return proba


def _ordinal_labels(head: FittedHead, out: torch.Tensor, metric: Metric) -> np.ndarray:
    stat = {"ordinal": "mean"}.get(metric.optimizes, "mode")
    return np.asarray(head.point(out, stat, None), dtype=int)


def score(metric: Metric, y: np.ndarray, pred: Predictions, n_classes: int,
          threshold: float | None, batch: Batch) -> float:
    p = pred.for_metric(metric, threshold)
    event = None if batch.event is None else batch.event.numpy()
    group = None if batch.group is None else batch.group.numpy()
    return metric(y, p, n_classes=n_classes, group=group, event=event)


def _threshold(metric: Metric, cfg: TrainConfig, y: np.ndarray, pred: Predictions) -> Any:
    task = pred.head.problem.task
    if metric.needs != "labels" or task not in ("binary", "multilabel"):
        return None
    proba = pred.binary_or_class_proba()
    if cfg.threshold != "tune":
        return float(cfg.threshold)
    if task == "multilabel":
        return np.array([tune_threshold(metric, y[:, j], proba[:, j])
                         for j in range(y.shape[1])])
    return tune_threshold(metric, y, proba)


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


def fit_fold(cand: Candidate, problem: Problem, X_train: torch.Tensor, y_train: np.ndarray,
             b_train: Batch, X_test: torch.Tensor, y_test: np.ndarray, b_test: Batch, *,
             metric: Metric, cfg: TrainConfig, seed: int,
             extra: tuple[Metric, ...] = ()) -> FoldResult:
    """Train ``cand`` with Adam (cosine-decayed learning rate) and score the held-out fold."""
    torch.manual_seed(seed)
    head = cand.fit(problem, y_train, b_train)
    net = build_model(cfg.model, X_train.shape[1], head.n_outputs, cfg.hidden)
    model = _Model(net, head)
    lr = cfg.lr or (0.05 if cfg.model == "linear" else 0.01)
    n = len(y_train)
    # Survival and ranking losses compare rows with each other: they train on full batches.
    whole = problem.task in ("survival", "ranking")
    batch = n if whole or not cfg.batch_size or cfg.batch_size >= n else int(cfg.batch_size)
    steps_per_epoch = -(-n // batch)
    opt = _Adam(list(model.net.parameters()), lr=lr, total_steps=cfg.epochs * steps_per_epoch)
    b_train = Batch(head.target(y_train), b_train.event, b_train.group, b_train.time_bin)
    b_test = Batch(head.target(y_test), b_test.event, b_test.group, b_test.time_bin)
    record_at = set(np.unique(np.linspace(0, cfg.epochs, min(cfg.records, cfg.epochs) + 1)
                              .round().astype(int)).tolist())
    curves: dict[str, list[float]] = {"epoch": [], "train_loss": [], "val_loss": [],
                                      "val_metric": []}
    gen = torch.Generator().manual_seed(seed)
    fit_seconds = 0.0
    n_classes = problem.n_classes

    def record(epoch: int) -> None:
        model.eval()
        with torch.no_grad():
            out_tr, out_te = model(X_train), model(X_test)
            train_loss = float(head.loss(cand.loss, out_tr, b_train))
            val_loss = float(head.loss(cand.loss, out_te, b_test))
        p_tr, p_te = Predictions(head, out_tr), Predictions(head, out_te)
        thr = _threshold(metric, cfg, y_train, p_tr)
        curves["epoch"].append(epoch)
        curves["train_loss"].append(train_loss)
        curves["val_loss"].append(val_loss)
        curves["val_metric"].append(score(metric, y_test, p_te, n_classes, thr, b_test))
        model.train()

    record(0)
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(n, generator=gen) if batch < n else None
        for i in range(steps_per_epoch):
            part = b_train if order is None else b_train.take(order[i * batch:(i + 1) * batch])
            xb = X_train if order is None else X_train[order[i * batch:(i + 1) * batch]]
            opt.zero_grad()
            loss = head.loss(cand.loss, model(xb), part)
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
        p_tr, p_te = Predictions(head, model(X_train)), Predictions(head, model(X_test))
    thr = _threshold(metric, cfg, y_train, p_tr)
    others = {m.name: score(m, y_test, p_te, n_classes, _threshold(m, cfg, y_train, p_tr),
                            b_test) for m in extra}
    final = score(metric, y_test, p_te, n_classes, thr, b_test)
    shown = None if thr is None else (float(thr) if np.ndim(thr) == 0 else float(np.mean(thr)))
    return FoldResult(final, fit_seconds, shown, curves, others)


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
