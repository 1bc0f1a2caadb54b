"""``recommend(y, X, task, metric, costs)``: run the rule table and rank the losses it proposes."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from .._core.validate import LossInputError
from ._profile import TargetProfile, _jsonable, profile
from ._rules import RULES, Rule, namespace, normalize_costs, objective

__all__ = ["Choice", "Recommendation", "recommend"]

#: Hyperparameters that a loss takes as tensors; the snippet rebuilds them with torch.tensor.
_TENSOR_PARAMS = {"class_weight", "pos_weight"}

#: What the model must output for each loss (a comment line in the snippet).
_HEAD = {
    "mse": "model output: one value per target", "mae": "model output: one value per target",
    "huber": "model output: one value per target",
    "smooth_l1": "model output: one value per target",
    "log_cosh": "model output: one value per target",
    "quantile": "model output: one value per target (the quantile)",
    "msle": "model output: non-negative values (end with softplus)",
    "poisson_nll": "model output: the log-rate (no exp in the model)",
    "gaussian_nll": "loss(mean, target, var): two heads, var through softplus",
    "binary_cross_entropy": "model output: raw logits [N] (or [N, labels]), no sigmoid",
    "sigmoid_focal": "model output: raw logits, no sigmoid",
    "cross_entropy": "model output: raw logits [N, C], no softmax",
    "softmax_focal": "model output: raw logits [N, C], no softmax",
    "hinge": "model output: one score per sample; targets in {-1, 1} or {0, 1}",
    "multiclass_hinge": "model output: one score per class",
    "asymmetric_multilabel": "model output: raw logits [N, labels]",
    "soft_f1": "model output: raw logits [N]",
    "pairwise_logistic": "model output: one score per sample",
    "kl_div": "model output: log_softmax over classes",
    "js_div": "model output: logits over classes",
    "coral": "model output: K - 1 logits sharing one weight vector",
    "corn": "model output: K - 1 logits",
    "sequence_cross_entropy": "model output: logits [B, T, V]",
    "linear_cross_entropy": "loss(hidden [B, T, H], output_weight [V, H], target)",
    "ctc": "loss(log_probs [T, B, C], targets, input_lengths, target_lengths)",
    "demographic_parity_gap": "total = task_loss + lam * penalty(logits, group)",
    "equalized_odds_gap": "total = task_loss + lam * penalty(logits, target, group)",
}


@dataclass
class Choice:
    """One ranked loss: name, hyperparameters, reasons (with their evidence), caveats, code."""

    name: str
    params: dict[str, Any]
    reasons: list[str]
    caveats: list[str]
    code: str
    score: float
    #: For each reason, the profile facts (or hyperparameters) it cites: {field: value}.
    evidence: list[dict[str, Any]] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": _jsonable(self.params), "reasons": list(self.reasons),
                "caveats": list(self.caveats), "code": self.code}


@dataclass
class Recommendation:
    """Ranked loss choices for a target, best first, with the profile they rest on."""

    profile: TargetProfile
    objective: dict[str, Any]
    choices: list[Choice]

    @property
    def best(self) -> Choice:
        return self.choices[0]

    def profile_dict(self) -> dict[str, Any]:
        """The profile facts and the objective (metric, costs and what follows from them)."""
        return _jsonable({**self.profile.to_dict(), **self.objective})

    def to_dict(self) -> dict[str, Any]:
        return {"profile": self.profile_dict(), "choices": [c.to_dict() for c in self.choices]}

    def __str__(self) -> str:
        from ._render import recommendation_lines

        return "\n".join(recommendation_lines(self, markup=False))


class _Evidence(string.Formatter):
    """Formats a rule's sentence and records every field it cites."""

    def __init__(self, params: dict[str, Any], ns: dict[str, Any]):
        self.scope = {**ns, **params}
        self.cited: dict[str, Any] = {}

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        value, key = super().get_field(field_name, args, self.scope)
        self.cited[field_name] = value
        return value, key


def _holds(rule: Rule, ns: dict[str, Any]) -> bool:
    return bool(eval(rule.when, {"__builtins__": {}}, ns))


def _params(rule: Rule, ns: dict[str, Any]) -> dict[str, Any]:
    return {k: eval(expr, {"__builtins__": {}}, ns) for k, expr in rule.params.items()}


def recommend(y: Any, X: Any = None, *, task: str | None = None, metric: str | None = None,
              costs: Any = None, top_k: int = 3) -> Recommendation:
    """Rank losses for this target, metric and costs, best first, with reasons and code.

    ``y`` may also be a :class:`TargetProfile` already computed. ``metric`` names what the
    model is judged by (``"rmse"``, ``"mae"``, ``"f1"``, ``"auc"``, ``"log_loss"``,
    ``"iou"``, ``"pinball@0.9"``, ...); ``costs`` gives asymmetric error costs,
    ``{"under": 3, "over": 1}`` for regression or ``{"fn": 5, "fp": 1}`` for binary
    decisions. The rules live in :data:`losskit.advise.RULES`.

    >>> import numpy as np, losskit
    >>> y = np.random.default_rng(0).normal(10, 2, 500)
    >>> rec = losskit.recommend(y, costs={"under": 3, "over": 1})
    >>> rec.best.name, rec.best.params
    ('quantile', {'quantiles': 0.75})
    """
    if not isinstance(top_k, int) or top_k < 1:
        raise LossInputError(f"top_k must be a positive integer, got {top_k!r}")
    prof = y if isinstance(y, TargetProfile) else profile(y, X, task=task)
    obj = objective(metric, normalize_costs(costs))
    ns = namespace(prof, obj)
    candidates: dict[str, dict[str, Any]] = {}
    # Pass 1: rules that propose a loss; pass 2: rules that demote or annotate proposed ones.
    for proposing in (True, False):
        for rule in RULES:
            if (rule.score > 0) != proposing or not _holds(rule, ns):
                continue
            targets = list(candidates) if rule.loss == "*" else [rule.loss]
            for name in targets:
                if name not in candidates:
                    if not proposing:
                        continue
                    candidates[name] = {"score": 0.0, "params": {}, "reasons": [],
                                        "evidence": [], "caveats": [], "rules": []}
                _apply(candidates[name], rule, ns)
    ranked = sorted(candidates.items(), key=lambda kv: -kv[1]["score"])
    choices = [Choice(name=name, params=c["params"], reasons=c["reasons"], caveats=c["caveats"],
                      code=snippet(name, c["params"]), score=round(c["score"], 2),
                      evidence=c["evidence"], rules=c["rules"])
               for name, c in ranked[:top_k] if c["score"] > 0]
    if not choices:
        raise LossInputError(f"no rule covers task {prof.task!r}; see losskit.advise.RULES")
    return Recommendation(prof, obj, choices)


def _apply(cand: dict[str, Any], rule: Rule, ns: dict[str, Any]) -> None:
    params = _params(rule, ns)
    cand["score"] += rule.score
    cand["params"].update(params)
    cand["rules"].append(rule.id)
    if rule.because:
        fmt = _Evidence(params, ns)
        cand["reasons"].append(fmt.format(rule.because))
        cand["evidence"].append(fmt.cited)
    for text in rule.caveats:
        caveat = _Evidence(params, ns).format(text)
        if caveat not in cand["caveats"]:
            cand["caveats"].append(caveat)


def _literal(key: str, value: Any) -> str:
    if isinstance(value, dict):
        inner = ", ".join(f"{k!r}: {_literal(k, v)}" for k, v in value.items())
        return "{" + inner + "}"
    if key in _TENSOR_PARAMS:
        return f"torch.tensor({value!r})"
    return repr(value)


def snippet(name: str, params: dict[str, Any]) -> str:
    """Ready-to-paste code that builds the loss with these hyperparameters."""
    args = "".join(f", {k}={_literal(k, v)}" for k, v in params.items())
    needs_torch = any(k in _TENSOR_PARAMS for k in params) or any(
        isinstance(v, dict) and any(k in _TENSOR_PARAMS for k in v) for v in params.values())
    lines = ["import losskit"]
    if needs_torch:
        lines.insert(0, "import torch")
    lines.append(f"loss = losskit.get({name!r}{args})")
    head = ("model output: raw logits [N, C, H, W], no softmax / sigmoid" if "+" in name
            else _HEAD.get(name))
    if head:
        lines.append(f"# {head}")
    return "\n".join(lines)
