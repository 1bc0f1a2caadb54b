"""Turning what the user passes as ``losses`` into trainable candidates.

A candidate is a loss plus the *head* that connects a model's raw output to it (see
:mod:`losskit.compare._heads`). A registered loss (or a weighted sum of them) trains
through the head its ``LossInfo`` declares; a plain callable is tried with the heads
that fit the task, most natural first, and kept with the first one it accepts. Either
way the candidate is called once on a few real rows before training, so a loss that
cannot work here fails with a clear sentence, not in the middle of a fold.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._core.validate import LossInputError
from ._heads import Batch, Problem, fit_head, head_of, heads_for_task, trainable

__all__ = ["Candidate", "format_params", "resolve_candidates"]


@dataclass
class Candidate:
    """One loss in a comparison."""

    label: str
    loss: Callable[..., torch.Tensor]
    spec: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    head: str = "identity"
    source: str = "user"  # "user" | "recommendation" | "baseline" | "default"
    takes_group: bool = False
    probability_target: bool = False
    takes_list_size: bool = False

    def fit(self, problem: Problem, y: np.ndarray, batch: Batch) -> Any:
        """This candidate's head, fitted to one fold's training targets."""
        head = fit_head(self.head, problem, y, self.params, batch)
        head.takes_group = self.takes_group
        head.takes_list_size = self.takes_list_size
        head.probability_target = self.probability_target
        return head

    @property
    def layout(self) -> str:
        """The head's name (the word earlier versions used)."""
        return self.head


def format_params(params: Mapping[str, Any]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, torch.Tensor):
            v = v.tolist()
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        return str(v)

    return ", ".join(f"{k}={fmt(v)}" for k, v in params.items())


def _label(spec: str, params: Mapping[str, Any]) -> str:
    return f"{spec}({format_params(params)})" if params else spec


#: Hyperparameters that are tensors (a list in JSON): per-class or per-label vectors.
_VECTOR_PARAMS = {"class_weight", "pos_weight", "class_prior", "class_counts",
                  "importance_weights", "alpha"}


def _tensorize(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: torch.tensor(v, dtype=torch.float32)
            if k in _VECTOR_PARAMS and isinstance(v, (list, tuple)) and v
            and all(isinstance(x, (int, float)) for x in v) else v for k, v in params.items()}


def _build(spec: str, params: Mapping[str, Any]) -> Callable[..., torch.Tensor]:
    from ..api import get

    return get(spec, **_tensorize(params))


def _takes(spec: str, argument: str) -> bool:
    """Whether every term of a registered spec takes this keyword."""
    from .._core.registry import get_info

    return all(get_info(t.split("*")[-1].strip()).accepts(argument) for t in spec.split("+"))


def _registered_head(spec: str) -> tuple[str, bool, bool]:
    """(head of a registered loss or of every term of a weighted sum, whether it takes group
    ids, whether it wants probability targets)."""
    from .._core.registry import get_info

    terms = [t.split("*")[-1].strip() for t in spec.split("+")]
    heads, group, proba = set(), False, False
    for term in terms:
        info = get_info(term)
        heads.add(head_of(info))
        group = group or (info.family == "ranking" and info.accepts("group"))
        proba = proba or info.target_kind.startswith("probabilities")
    if len(heads) > 1:
        raise LossInputError(f"the terms of {spec!r} train different heads ({sorted(heads)}); "
                             "compare them separately")
    return heads.pop(), group, proba


def _fill_required(spec: str, params: dict[str, Any], y: np.ndarray) -> dict[str, Any]:
    """Required hyperparameters a loss has no default for, estimated from the targets when
    losskit knows how (a negative binomial's dispersion: the moment estimate)."""
    from .._core.registry import get_info

    if "+" in spec or "*" in spec:
        return params
    info = get_info(spec)
    out = dict(params)
    for name, default in info.hyperparameters.items():
        if default is not inspect.Parameter.empty or name in out:
            continue
        if name == "dispersion" and y.ndim == 1:
            mean, var = float(np.mean(y)), float(np.var(y))
            out[name] = round(max((var - mean) / max(mean, 1e-8) ** 2, 0.01), 4)
    return out


def probe_rows(y: np.ndarray, batch: Batch, n: int = 16) -> tuple[np.ndarray, Batch]:
    """A few rows for the trial call: whole groups for ranking, both classes where possible."""
    if batch.group is not None:
        g = batch.group.numpy()
        keep = np.isin(g, np.unique(g)[:4])
        idx = np.flatnonzero(keep)[:64]
    else:  # evenly spread rows: sorted targets still give several values
        idx = np.unique(np.linspace(0, len(y) - 1, min(len(y), n)).astype(int))
    return y[idx], batch.take(torch.as_tensor(idx))


def _probe(cand: Candidate, problem: Problem, y: np.ndarray, batch: Batch) -> str | None:
    """None if the loss trains through its head on these targets, else the reason."""
    rows, part = probe_rows(y, batch)
    try:
        head = cand.fit(problem, y, batch)
        part.y = head.target(rows)
        g = torch.Generator().manual_seed(0)
        raw = (0.1 * torch.randn(len(rows), head.n_outputs, generator=g)).requires_grad_(True)
        value = head.loss(cand.loss, head.output(raw), part)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            return (f"returned {type(value).__name__} of shape {getattr(value, 'shape', '?')}, "
                    "not a scalar")
        value.backward()  # type: ignore[no-untyped-call]  # unannotated in torch's source
    except (LossInputError, RuntimeError, ValueError, TypeError, IndexError) as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if not torch.isfinite(value):
        return "gave a non-finite value"
    return None


def _one(item: Any, problem: Problem, y: np.ndarray, batch: Batch, source: str) -> Candidate:
    if isinstance(item, Candidate):
        return item
    params: dict[str, Any] = {}
    if isinstance(item, Mapping):
        item, params = item["name"], dict(item.get("params") or {})
    elif isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[1], Mapping):
        item, params = item[0], dict(item[1])
    task = problem.task
    if isinstance(item, str):
        spec = item.strip()
        head, takes_group, proba = _registered_head(spec)  # raises for an unknown name
        if not trainable(head):
            raise LossInputError(f"loss {spec!r} trains a {head!r} head, which compare cannot "
                                 "fit on a feature table")
        if head not in heads_for_task(task):
            raise LossInputError(f"loss {spec!r} trains a {head!r} head, which does not fit a "
                                 f"{task} target (heads that do: "
                                 f"{', '.join(heads_for_task(task))})")
        params = _fill_required(spec, params, y)
        try:
            loss = _build(spec, params)
        except TypeError as exc:
            raise LossInputError(f"loss {spec!r}: {exc}") from None
        cand = Candidate(_label(spec, params), loss, spec, params, head, source, takes_group,
                         proba, takes_group and _takes(spec, "max_list_size"))
        why = _probe(cand, problem, y, batch)
        if why is not None:
            raise LossInputError(f"loss {cand.label!r} cannot be trained on this {task} target "
                                 f"through its {head} head: {why}")
        return cand
    if not callable(item):
        raise LossInputError(f"a loss must be a name, a spec, a (name, params) pair or a "
                             f"callable, got {type(item).__name__}")
    name = getattr(item, "__name__", None) or type(item).__name__
    if inspect.isclass(item):
        raise LossInputError(f"pass an instance of {name}, not the class")
    reasons = []
    for head in heads_for_task(task):
        cand = Candidate(name, item, None, params, head, source)
        why = _probe(cand, problem, y, batch)
        if why is None:
            return cand
        reasons.append(f"{head}: {why}")
    raise LossInputError(f"loss {name!r} cannot be trained on this {task} target "
                         f"({'; '.join(reasons)})")


def resolve_candidates(items: list[Any], problem: Problem, y: np.ndarray, batch: Batch,
                       source: str = "user") -> list[Candidate]:
    """Candidates with unique labels (a repeated label gets a ``#2`` suffix)."""
    out: list[Candidate] = []
    seen: dict[str, int] = {}
    for item in items:
        cand = _one(item, problem, y, batch, source)
        seen[cand.label] = seen.get(cand.label, 0) + 1
        if seen[cand.label] > 1:
            cand.label = f"{cand.label} #{seen[cand.label]}"
        out.append(cand)
    return out


def equivalent(a: Candidate, b: Candidate) -> bool:
    """huber(delta=d) and smooth_l1(beta=d): smooth_l1 is huber / d, the same minimizer, and
    Adam (invariant to a constant scale of the gradient) trains them identically."""
    pair = {a.spec, b.spec}
    if pair != {"huber", "smooth_l1"}:
        return False
    h, s = (a, b) if a.spec == "huber" else (b, a)
    return float(h.params.get("delta", 1.0)) == float(s.params.get("beta", 1.0))
