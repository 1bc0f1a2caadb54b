"""Turning what the user passes as ``losses`` into trainable candidates.

A candidate is a loss plus the *layout* that connects a model's raw output to it:

* ``values``: one real output per sample, target as float (regression; a quantile loss
  with one level predicts that single quantile);
* ``binary_logit``: one logit per sample, target as float 0/1 (sigmoid losses);
* ``class_logits``: ``[N, C]`` logits, target as class indices (softmax losses).

The layout is read off the registry's ``input_kind`` and confirmed by calling the loss
once on a few real rows, so user losses, composite specs and plain callables all work
without declaring anything.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._core.validate import LossInputError

__all__ = ["LAYOUTS", "Candidate", "format_params", "resolve_candidates"]

#: Layouts to try per task, most natural first.
LAYOUTS = {
    "regression": ("values",),
    "binary": ("binary_logit", "class_logits"),
    "multiclass": ("class_logits",),
}


@dataclass
class Candidate:
    """One loss in a comparison."""

    label: str
    loss: Callable[..., torch.Tensor]
    spec: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    layout: str = "values"
    source: str = "user"  # "user" | "recommendation" | "baseline" | "default"

    def n_outputs(self, n_classes: int) -> int:
        return n_classes if self.layout == "class_logits" else 1

    def target(self, y: np.ndarray) -> torch.Tensor:
        if self.layout == "class_logits":
            return torch.as_tensor(y, dtype=torch.long)
        return torch.as_tensor(y, dtype=torch.float32)

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss(output, target)


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


def _tensorize(params: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-style lists become tensors (``class_weight`` is a ``[C]`` tensor)."""
    return {k: torch.tensor(v, dtype=torch.float32)
            if isinstance(v, (list, tuple)) and v and all(isinstance(x, (int, float)) for x in v)
            else v for k, v in params.items()}


def _build(spec: str, params: Mapping[str, Any]) -> Callable[..., torch.Tensor]:
    from ..api import get

    return get(spec, **_tensorize(params))


def _probe(loss: Callable[..., torch.Tensor], layout: str, y: np.ndarray,
           n_classes: int) -> str | None:
    """None if the loss trains in this layout on these targets, else the reason it does not."""
    rows = y[: min(len(y), 16)]
    g = torch.Generator().manual_seed(0)
    if layout == "class_logits":
        out = torch.randn(len(rows), n_classes, generator=g)
        target = torch.as_tensor(rows, dtype=torch.long)
    else:
        out = torch.randn(len(rows), generator=g)
        if layout == "values":
            out = out + torch.as_tensor(rows, dtype=torch.float32)
        target = torch.as_tensor(rows, dtype=torch.float32)
    out.requires_grad_(True)
    try:
        value = loss(out, target)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            return f"returned {type(value).__name__} of shape {getattr(value, 'shape', '?')}, " \
                   "not a scalar"
        value.backward()
    except (LossInputError, RuntimeError, ValueError, TypeError, IndexError) as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if not torch.isfinite(value):
        return "gave a non-finite value"
    return None


def _preferred_layouts(spec: str | None, task: str) -> tuple[str, ...]:
    layouts = LAYOUTS[task]
    if spec is None or task != "binary" or any(op in spec for op in "+*"):
        return layouts
    from .._core.registry import get_info

    info = get_info(spec)
    # A softmax loss on a binary task wants [N, 2] logits and class indices. Trying the
    # one-logit layout first could be misread as one unbatched sample of N classes.
    softmax_like = ((info.accepts("class_weight") or info.accepts("ignore_index")
                     or "softmax" in info.name or "multiclass" in info.name
                     or info.name.endswith("cross_entropy"))
                    and not info.accepts("pos_weight") and not info.name.startswith("binary"))
    return ("class_logits", "binary_logit") if softmax_like else layouts


def _one(item: Any, task: str, y: np.ndarray, n_classes: int, source: str) -> Candidate:
    if isinstance(item, Candidate):
        return item
    params: dict[str, Any] = {}
    if isinstance(item, Mapping):
        item, params = item["name"], dict(item.get("params") or {})
    elif isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[1], Mapping):
        item, params = item[0], dict(item[1])
    if isinstance(item, str):
        spec = item.strip()
        try:
            loss = _build(spec, params)
        except TypeError as exc:
            raise LossInputError(f"loss {spec!r}: {exc}") from None
        cand = Candidate(_label(spec, params), loss, spec, params, source=source)
    elif callable(item):
        name = getattr(item, "__name__", None) or type(item).__name__
        if inspect.isclass(item):
            raise LossInputError(f"pass an instance of {name}, not the class")
        cand = Candidate(name, item, None, params, source=source)
    else:
        raise LossInputError(f"a loss must be a name, a spec, a (name, params) pair or a "
                             f"callable, got {type(item).__name__}")
    reasons = []
    for layout in _preferred_layouts(cand.spec, task):
        why = _probe(cand.loss, layout, y, n_classes)
        if why is None:
            cand.layout = layout
            return cand
        reasons.append(f"{layout}: {why}")
    raise LossInputError(f"loss {cand.label!r} cannot be trained on this {task} task "
                         f"({'; '.join(reasons)})")


def resolve_candidates(items: list[Any], task: str, y: np.ndarray, n_classes: int,
                       source: str = "user") -> list[Candidate]:
    """Candidates with unique labels (a repeated label gets a ``#2`` suffix)."""
    out: list[Candidate] = []
    seen: dict[str, int] = {}
    for item in items:
        cand = _one(item, task, y, n_classes, source)
        seen[cand.label] = seen.get(cand.label, 0) + 1
        if seen[cand.label] > 1:
            cand.label = f"{cand.label} #{seen[cand.label]}"
        out.append(cand)
    return out
