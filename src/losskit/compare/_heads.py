"""Prediction heads: how ``compare`` trains a loss and turns its output into what a metric scores.

Every registered loss declares a head (``LossInfo.head``, one of
:data:`losskit._core.registry.HEADS`). Here each head becomes a *fitted head* for one
fold: it knows how many outputs the network needs, where they start (a sensible offset
from the training targets: the log of the mean for a log-rate, the class prior for
logits, the empirical hazard for a discrete hazard), what the loss is called with, and
how to read a prediction back on the metric's scale (exp of a log-rate, the median or
mean of an ordinal distribution, the mean of a Gaussian, a risk score for survival).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._core.registry import LossInfo
from .._core.validate import LossInputError

__all__ = ["Problem", "fit_head", "head_of", "heads_for_task"]

#: Which heads can be trained for which task, in the order a plain callable is tried.
TASK_HEADS = {
    "continuous": ("identity", "log_rate", "log1p", "quantiles", "ensemble", "mean_variance",
                   "censored_value"),
    "count": ("identity", "log_rate", "log1p", "quantiles", "ensemble", "mean_variance",
              "censored_value"),
    "proportion": ("identity", "logit", "log_rate", "log1p", "quantiles", "ensemble",
                   "mean_variance", "censored_value"),
    "multioutput": ("identity", "log_rate", "log1p"),
    "binary": ("logit", "softmax", "score", "log_softmax", "energy"),
    "multiclass": ("softmax", "log_softmax", "energy", "cumulative_logits",
                   "conditional_logits"),
    "ordinal": ("softmax", "cumulative_logits", "conditional_logits", "identity",
                "log_softmax", "energy", "quantiles"),
    "multilabel": ("logit",),
    "survival": ("risk", "hazard_logits", "survival_params"),
    "ranking": ("score", "identity", "logit"),
}


def heads_for_task(task: str) -> tuple[str, ...]:
    return TASK_HEADS.get(task, ())


def head_of(info: LossInfo) -> str:
    """The head ``compare`` trains a registered loss through."""
    return info.head


@dataclass
class Problem:
    """What is being predicted, the same for every candidate and fold."""

    task: str
    n_classes: int = 2
    n_outputs: int = 1
    levels: np.ndarray | None = None  # ordinal: the level values, in order
    time_bins: int = 10  # survival: intervals of a discrete hazard
    limits: dict[str, float] = field(default_factory=dict)  # censoring limits (tobit)


@dataclass
class Batch:
    """The targets of some rows, as tensors: ``y`` plus what survival and ranking need."""

    y: torch.Tensor | None
    event: torch.Tensor | None = None
    group: torch.Tensor | None = None
    time_bin: torch.Tensor | None = None

    def take(self, idx: torch.Tensor) -> Batch:
        def pick(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t[idx]
        return Batch(pick(self.y), pick(self.event), pick(self.group), pick(self.time_bin))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    result: np.ndarray = np.log(p) - np.log1p(-p)
    return result


def _robust_sigma(y: np.ndarray) -> np.ndarray:
    med = np.median(y, axis=0)
    mad = 1.4826 * np.median(np.abs(y - med), axis=0)
    std = np.std(y, axis=0)
    return np.where(mad > 0, mad, np.where(std > 0, std, 1.0))


def _levels_from_probs(proba: np.ndarray, stat: str) -> np.ndarray:
    """Level indices from a distribution over ordered levels: median, mean or mode."""
    if stat in ("median", "quantile"):
        cdf = np.cumsum(proba, axis=1)
        result: np.ndarray = np.argmax(cdf >= 0.5 - 1e-12, axis=1)
        return result
    if stat in ("mean", "log_mean", "ordinal"):
        k = np.arange(proba.shape[1])
        return np.clip(np.rint(proba @ k), 0, proba.shape[1] - 1).astype(int)
    result = np.argmax(proba, axis=1)
    return result


class FittedHead:
    """One head, fitted to one fold's training targets."""

    name = "identity"
    #: "values" heads predict numbers; "classes" heads a distribution over classes.
    kind = "values"
    #: Pass the group ids to the loss (ranking losses take ``group=``), and the longest
    #: group's size where the loss asks for it (``max_list_size=``).
    takes_group = False
    takes_list_size = False
    #: The loss wants class probabilities, not indices (kl_div, js_div): one-hot targets.
    probability_target = False

    def __init__(self, problem: Problem, y: np.ndarray, params: dict[str, Any],
                 batch: Batch | None = None):
        self.problem = problem
        self.params = params
        self.setup(y, batch)

    # -- to override
    def setup(self, y: np.ndarray, batch: Batch | None) -> None:
        y = y.astype(float)
        self.center = torch.as_tensor(np.median(y, axis=0), dtype=torch.float32)
        self.scale = torch.as_tensor(_robust_sigma(y), dtype=torch.float32)

    @property
    def n_outputs(self) -> int:
        return self.problem.n_outputs

    def output(self, raw: torch.Tensor) -> torch.Tensor:
        """The network's raw [N, k] output -> what the loss receives."""
        raw = raw[:, 0] if raw.shape[1] == 1 and self.n_outputs == 1 else raw
        return self.center + self.scale * raw

    def loss(self, fn: Callable[..., torch.Tensor], out: torch.Tensor,
             batch: Batch) -> torch.Tensor:
        return fn(out, batch.y)

    def target(self, y: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(y, dtype=torch.float32)

    def point(self, out: torch.Tensor, stat: str, level: float | None) -> np.ndarray:
        """A point prediction on the target's scale: the statistic a metric asks for."""
        return out.double().numpy()

    def proba(self, out: torch.Tensor) -> np.ndarray:
        raise LossInputError(f"a {self.name} head predicts values, not class probabilities")

    def risk(self, out: torch.Tensor) -> np.ndarray:
        return -self.point(out, "mean", None)


class _Identity(FittedHead):
    name = "identity"

    def setup(self, y: np.ndarray, batch: Batch | None) -> None:
        if self.problem.task == "ordinal":  # the level index is the value
            super().setup(y.astype(float), batch)
            return
        super().setup(y, batch)

    def point(self, out: torch.Tensor, stat: str, level: float | None) -> np.ndarray:
        v = out.double().numpy()
        if self.problem.task == "ordinal":
            result: np.ndarray = np.clip(np.rint(v), 0, self.problem.n_classes - 1).astype(int)
            return result
        return v

    def proba(self, out: torch.Tensor) -> np.ndarray:
        if self.problem.task == "ordinal":  # a point mass at the rounded level
            result: np.ndarray = np.eye(self.problem.n_classes)[self.point(out, "median", None)]
            return result
        return super().proba(out)


class _LogRate(FittedHead):
    """Output = log of the mean; the loss takes it as is (``log_input=True``)."""

    name = "log_rate"

    def setup(self, y: np.ndarray, batch: Batch | None) -> None:
        if np.min(y) < 0:
            raise LossInputError("a log-rate head needs non-negative targets")
        self.center = torch.as_tensor(np.log(np.maximum(np.mean(y, axis=0), 1e-8)),
                                      dtype=torch.float32)
        self.scale = torch.tensor(1.0)

    def loss(self, fn: Callable[..., torch.Tensor], out: torch.Tensor,
             batch: Batch) -> torch.Tensor:
        if self.params.get("log_input", True) is False:
            return fn(torch.exp(out), batch.y)
        return fn(out, batch.y)

    def point(self, out: torch.Tensor, stat: str, level: float | None) -> np.ndarray:
        return torch.exp(out.double().clamp(max=700)).numpy()


class _Log1p(FittedHead):
    """Output = log1p of the prediction; the loss sees expm1(output) (MSLE)."""

    name = "log1p"

    def setup(self, y: np.ndarray, batch: Batch | None) -> None:
        if np.min(y) < 0:
            raise LossInputError("a log1p head needs non-negative targets")
        z = np.log1p(y.astype(float))
        self.center = torch.as_tensor(np.mean(z, axis=0), dtype=torch.float32)
        self.scale = torch.as_tensor(np.where(np.std(z, axis=0) > 0, np.std(z, axis=0), 1.0),
                                     dtype=torch.float32)

    def loss(self, fn: Callable[..., torch.Tensor], out: torch.Tensor,
             batch: Batch) -> torch.Tensor:
        return fn(torch.expm1(out), batch.y)

    def point(self, out: torch.Tensor, stat: str, level: float | None) -> np.ndarray:
        return torch.expm1(out.double().clamp(max=700)).numpy()


class _Quantiles(FittedHead):
    name = "quantiles"

    def setup(self, y: np.ndarray, batch: Batch | None) -> None:
        q = self.params.get("quantiles", 0.5)
        self.single = isinstance(q, (int, float))
        self.levels = np.array([q] if self.single else list(q), dtype=float)
        y = y.astype(float)
        self.center = torch.as_tensor(np.quantile(y, self.levels), dtype=torch.float32)
        self.scale = torch.tensor(float(_robust_sigma(y)), dtype=torch.float32)

    @property
    def n_outputs(self) -> int:
        return len(self.levels)

    def output(self, raw: torch.Tensor) -> torch.Tensor:
        out = self.center + self.scale * raw
        return out[:, 0] if self.single else out

    def point(self, out: torch.Tensor, stat: str, level: float | None) -> np.ndarray:
        want = level if stat == "quantile" and level is not None else 0.5
        v = out.double().numpy()
        if not self.single:
            v = np.sort(v, axis=1)[:, int(np.argmin(np.abs(self.levels - want)))]
        if self.problem.task == "ordinal":
            result: np.ndarray = np.clip(np.rint(v), 0, self.problem.n_classes - 1).astype(int)
            return result
        return v


class _Ensemble(FittedHead):
    """M outputs, the members of an ensemble (samples of the predictive distribution),
    started at evenly spaced quantiles of the targets; the prediction is their median, the
    level asked for, or their mean."""

    name = "ensemble"
    members = 8

    def setup(self, y: np.ndarray, batch: Batch | None) -> None:
        y = y.astype(float)
        self.levels = (np.arange(self.members) + 0.5) / self.members
        self.center = torch.as_tensor(np.quantile(y, self.levels), dtype=torch.float32)
        self.scale = torch.tensor(float(_robust_sigma(y)), dtype=torch.float32)

    @property
    def n_outputs(self) -> int:
        return self.members

    def output(self, raw: torch.Tensor) -> torch.Tensor:
        return self.center + self.scale * raw

    def point(self, out: torch.Tensor, stat: str, level: float | None) -> np.ndarray:
        v = out.double().numpy()
        if stat in ("mean", "log_mean"):
            result: np.ndarray = v.mean(axis=1)
            return result
        want = level if stat == "quantile" and level is not None else 0.5
        result = np.quantile(v, want, axis=1)
        return result


class _MeanVariance(FittedHead):
    """Two outputs: the mean, and a variance through softplus (starting at sigma^2)."""

    name = "mean_variance"

    @property
    def n_outputs(self) -> int:
        return 2

    def output(self, raw: torch.Tensor) -> torch.Tensor:
        mean = self.center + self.scale * raw[:, 0]
        # softplus(0.5413) = 1: the variance starts at the robust sigma squared
        var = self.scale ** 2 * torch.nn.functional.softplus(raw[:, 1] + 0.5413) + 1e-6
        return torch.stack([mean, var], dim=1)

    def loss(self, fn: Callable[..., torch.Tensor], out: torch.Tensor,
             batch: Batch) -> torch.Tensor:
        return fn(out[:, 0], batch.y, out[:, 1])

    def point(self, out: torch.Tensor, stat: str, level: float | None) -> np.ndarray:
        return out[:, 0].double().numpy()


class _Censored(FittedHead):
    """The latent mean of a censored Gaussian; the prediction is it clipped to the limits."""

    name = "censored_value"

    def setup(self, y: np.ndarray, batch: Batch | None) -> None:
        super().setup(y, batch)
        self.lower = self.params.get("lower", self.problem.limits.get("lower"))
        self.upper = self.params.get("upper", self.problem.limits.get("upper"))
        self.sigma = self.params.get("sigma", float(self.scale))

    def loss(self, fn: Callable[..., torch.Tensor], out: torch.Tensor,
             batch: Batch) -> torch.Tensor:
        kwargs = {k: v for k, v in (("lower", self.lower), ("upper", self.upper))
                  if v is not None and k not in self.params}
        if "sigma" not in self.params:
            kwargs["sigma"] = self.sigma
        return fn(out, batch.y, **kwargs)

    def point(self, out: torch.Tensor, stat: str, level: float | None) -> np.ndarray:
        v = out.double().numpy()
        lo = -np.inf if self.lower is None else self.lower
        hi = np.inf if self.upper is None else self.upper
        result: np.ndarray = np.clip(v, lo, hi)
        return result


class _Logit(FittedHead):
    """One logit per sample (or per label); the prediction is the sigmoid."""

    name = "logit"
    kind = "classes"

    def setup(self, y: np.ndarray, batch: Batch | None) -> None:
        self.center = torch.as_tensor(_logit(np.mean(y.astype(float), axis=0)),
                                      dtype=torch.float32)
        self.scale = torch.tensor(1.0)

    def point(self, out: torch.Tensor, stat: str, level: float | None) -> np.ndarray:
        return torch.sigmoid(out.double()).numpy()

    def proba(self, out: torch.Tensor) -> np.ndarray:
        return torch.sigmoid(out.double()).numpy()

    def risk(self, out: torch.Tensor) -> np.ndarray:
        return out.double().numpy()


class _Score(_Logit):
    """A real score per item (binary: a margin; ranking: an order within groups)."""

    name = "score"

    def setup(self, y: np.ndarray, batch: Batch | None) -> None:
        if self.problem.task == "binary":
            super().setup(y, batch)
        else:
            self.center, self.scale = torch.tensor(0.0), torch.tensor(1.0)

    def loss(self, fn: Callable[..., torch.Tensor], out: torch.Tensor,
             batch: Batch) -> torch.Tensor:
        if batch.group is not None and self.takes_group:
            # flat rows with group ids become padded lists inside the loss; the longest
            # group bounds their size (the loss cannot read it from the data itself)
            longest = int(torch.bincount(batch.group).max()) if batch.group.numel() else 1
            extra = {"max_list_size": longest} if self.takes_list_size else {}
            return fn(out, batch.y, group=batch.group, **extra)
        return fn(out, batch.y)

    def point(self, out: torch.Tensor, stat: str, level: float | None) -> np.ndarray:
        return out.double().numpy()


class _Softmax(FittedHead):
    """One logit per class; the prediction is the softmax (ordinal: a level distribution)."""

    name = "softmax"
    kind = "classes"
    sign = 1.0

    def setup(self, y: np.ndarray, batch: Batch | None) -> None:
        k = self.problem.n_classes
        counts = np.bincount(y.astype(int), minlength=k) + 1.0
        prior = np.log(counts / counts.sum())
        self.center = torch.as_tensor(self.sign * (prior - prior.mean()), dtype=torch.float32)
        self.scale = torch.tensor(1.0)

    @property
    def n_outputs(self) -> int:
        return self.problem.n_classes

    def output(self, raw: torch.Tensor) -> torch.Tensor:
        return self.center + raw

    def target(self, y: np.ndarray) -> torch.Tensor:
        if self.probability_target:
            return torch.eye(self.problem.n_classes)[torch.as_tensor(y, dtype=torch.long)]
        return torch.as_tensor(y, dtype=torch.long)

    def proba(self, out: torch.Tensor) -> np.ndarray:
        return torch.softmax(self.sign * out.double(), dim=1).numpy()

    def point(self, out: torch.Tensor, stat: str, level: float | None) -> np.ndarray:
        return _levels_from_probs(self.proba(out), stat)


class _LogSoftmax(_Softmax):
    name = "log_softmax"

    def loss(self, fn: Callable[..., torch.Tensor], out: torch.Tensor,
             batch: Batch) -> torch.Tensor:
        return fn(torch.log_softmax(out, dim=1), batch.y)


class _Energy(_Softmax):
    name = "energy"
    sign = -1.0


class _Cumulative(FittedHead):
    """K - 1 logits of P(y > k) (CORAL); level probabilities are their differences."""

    name = "cumulative_logits"
    kind = "classes"

    def exceed(self, y: np.ndarray) -> np.ndarray:
        k = self.problem.n_classes
        return np.array([np.mean(y > j) for j in range(k - 1)])

    def setup(self, y: np.ndarray, batch: Batch | None) -> None:
        self.center = torch.as_tensor(_logit(self.exceed(y.astype(int))), dtype=torch.float32)
        self.scale = torch.tensor(1.0)

    @property
    def n_outputs(self) -> int:
        return self.problem.n_classes - 1

    def output(self, raw: torch.Tensor) -> torch.Tensor:
        return self.center + raw

    def target(self, y: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(y, dtype=torch.long)

    def survival(self, out: torch.Tensor) -> np.ndarray:
        """P(y > k) for k = 0..K-2, made non-increasing."""
        s = torch.sigmoid(out.double()).numpy()
        return np.minimum.accumulate(s, axis=1)

    def proba(self, out: torch.Tensor) -> np.ndarray:
        s = self.survival(out)
        n = len(s)
        upper = np.column_stack([np.ones(n), s])
        lower = np.column_stack([s, np.zeros(n)])
        result: np.ndarray = np.clip(upper - lower, 0.0, 1.0)
        return result

    def point(self, out: torch.Tensor, stat: str, level: float | None) -> np.ndarray:
        return _levels_from_probs(self.proba(out), stat)


class _Conditional(_Cumulative):
    """K - 1 logits of P(y > k | y > k - 1) (CORN); P(y > k) is their running product."""

    name = "conditional_logits"

    def exceed(self, y: np.ndarray) -> np.ndarray:
        k = self.problem.n_classes
        out = []
        for j in range(k - 1):
            at_risk = y >= j
            out.append(np.mean(y[at_risk] > j) if at_risk.any() else 0.5)
        return np.array(out)

    def survival(self, out: torch.Tensor) -> np.ndarray:
        return np.cumprod(torch.sigmoid(out.double()).numpy(), axis=1)


class _Risk(FittedHead):
    """A log hazard ratio per subject (Cox): loss(risk, time, event)."""

    name = "risk"

    def setup(self, y: np.ndarray, batch: Batch | None) -> None:
        self.center, self.scale = torch.tensor(0.0), torch.tensor(1.0)

    def loss(self, fn: Callable[..., torch.Tensor], out: torch.Tensor,
             batch: Batch) -> torch.Tensor:
        return fn(out, batch.y, batch.event)

    def risk(self, out: torch.Tensor) -> np.ndarray:
        return out.double().numpy()

    def point(self, out: torch.Tensor, stat: str, level: float | None) -> np.ndarray:
        return -out.double().numpy()


class _HazardLogits(FittedHead):
    """One logit per time interval: loss(logits, time_bin, event); risk = -sum_k S(t_k)."""

    name = "hazard_logits"

    def setup(self, y: np.ndarray, batch: Batch | None) -> None:
        assert batch is not None and batch.time_bin is not None and batch.event is not None
        bins = batch.time_bin.numpy()
        event = batch.event.numpy() > 0
        k = self.problem.time_bins
        hazard = []
        for j in range(k):
            at_risk = bins >= j
            events = np.sum(at_risk & (bins == j) & event)
            hazard.append((events + 0.5) / (np.sum(at_risk) + 1.0))
        self.center = torch.as_tensor(_logit(np.array(hazard)), dtype=torch.float32)
        self.scale = torch.tensor(1.0)

    @property
    def n_outputs(self) -> int:
        return self.problem.time_bins

    def output(self, raw: torch.Tensor) -> torch.Tensor:
        return self.center + raw

    def loss(self, fn: Callable[..., torch.Tensor], out: torch.Tensor,
             batch: Batch) -> torch.Tensor:
        return fn(out, batch.time_bin, batch.event)

    def risk(self, out: torch.Tensor) -> np.ndarray:
        surv = torch.cumprod(1 - torch.sigmoid(out.double()), dim=1)
        return -surv.sum(dim=1).numpy()

    def point(self, out: torch.Tensor, stat: str, level: float | None) -> np.ndarray:
        return -self.risk(out)


class _SurvivalParams(FittedHead):
    """(log scale, log shape) of a Weibull: loss(log_scale, log_shape, time, event)."""

    name = "survival_params"

    def setup(self, y: np.ndarray, batch: Batch | None) -> None:
        log_t = np.log(np.maximum(y, 1e-8))
        self.log_scale0 = float(np.median(log_t))
        self.log_scale_step = float(np.std(log_t)) or 1.0

    @property
    def n_outputs(self) -> int:
        return 2

    def output(self, raw: torch.Tensor) -> torch.Tensor:
        # the shape starts near 1 (an exponential) and moves slowly: a unit step of the log
        # shape is a factor e in every (t / scale)^shape term
        return torch.stack([self.log_scale0 + self.log_scale_step * raw[:, 0],
                            0.1 * raw[:, 1]], dim=1)

    def loss(self, fn: Callable[..., torch.Tensor], out: torch.Tensor,
             batch: Batch) -> torch.Tensor:
        return fn(out[:, 0], out[:, 1], batch.y, batch.event)

    def risk(self, out: torch.Tensor) -> np.ndarray:
        return -out[:, 0].double().numpy()

    def point(self, out: torch.Tensor, stat: str, level: float | None) -> np.ndarray:
        # the Weibull median: scale (ln 2)^(1 / shape)
        o = out.double()
        return (torch.exp(o[:, 0]) * math.log(2) ** torch.exp(-o[:, 1])).numpy()


_HEADS: dict[str, type[FittedHead]] = {
    h.name: h for h in (_Identity, _LogRate, _Log1p, _Quantiles, _Ensemble, _MeanVariance,
                        _Censored, _Logit, _Score, _Softmax, _LogSoftmax, _Energy,
                        _Cumulative, _Conditional, _Risk, _HazardLogits, _SurvivalParams)
}


def trainable(head: str) -> bool:
    return head in _HEADS


def fit_head(head: str, problem: Problem, y: np.ndarray, params: dict[str, Any],
             batch: Batch | None = None) -> FittedHead:
    if head not in _HEADS:
        raise LossInputError(f"compare cannot train a {head!r} head on a feature table")
    return _HEADS[head](problem, y, params, batch)
