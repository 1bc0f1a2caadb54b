"""``recommend(y, X, task, metric, costs)``: run the rule table and rank the losses it proposes."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any, TypedDict

from .._core.validate import LossInputError
from ._profile import TargetProfile, _jsonable, profile
from ._rules import RULES, Rule, check_costs, namespace, normalize_costs, objective

__all__ = ["Choice", "ChoiceDict", "Recommendation", "RecommendationDict", "recommend"]

#: Hyperparameters that a loss takes as tensors; the snippet rebuilds them with torch.tensor.
_TENSOR_PARAMS = {"class_weight", "pos_weight", "class_prior", "class_counts", "weight"}

#: How the call differs from ``loss(output, target)``, where it does.
_CALL = {
    "gaussian_nll": "loss(mean, target, var): two heads, var through softplus",
    "kl_div": "loss(logits, target_probabilities)",
    "linear_cross_entropy": "loss(hidden [B, T, H], output_weight [V, H], target)",
    "ctc": "loss(log_probs [T, B, C], targets, input_lengths, target_lengths)",
    "demographic_parity_gap": "total = task_loss + lam * penalty(logits, group)",
    "equalized_odds_gap": "total = task_loss + lam * penalty(logits, target, group)",
    "cox_ph": "loss(risk [N], time [N], event [N]): one log hazard ratio per subject",
    "discrete_hazard": "loss(logits [N, bins], time_bin [N], event [N])",
    "weibull_nll": "loss(log_scale, log_shape, time, event): two heads",
    "tobit": "loss(mean, target): mean of the latent (uncensored) value",
    "listnet": "loss(scores [N], relevance [N], group=query_ids) or padded [Q, L] lists",
    "listmle": "loss(scores [N], relevance [N], group=query_ids) or padded [Q, L] lists",
    "lambdarank": "loss(scores [N], relevance [N], group=query_ids) or padded [Q, L] lists",
    "approx_ndcg": "loss(scores [N], relevance [N], group=query_ids) or padded [Q, L] lists",
    "arcface": "loss(embeddings, centers [C, d] (learnable), target)",
    "cosface": "loss(embeddings, centers [C, d] (learnable), target)",
    "clip_contrastive": "loss(image_embeddings, text_embeddings)",
    "siglip": "loss(image_embeddings, text_embeddings)",
    "dpo": "loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, "
           "ref_rejected_logps)",
    "simpo": "loss(chosen_logps, rejected_logps): length-averaged log-probabilities",
    "orpo": "loss(chosen_logps, rejected_logps): length-averaged log-probabilities",
    "kto": "loss(policy_logps, reference_logps, desirable)",
    "bradley_terry": "loss(chosen_rewards, rejected_rewards)",
    "grpo": "loss(logps, old_logps, rewards, group_size=G, mask=mask)",
    "ppo_clip": "loss(logps, old_logps, advantages, mask=mask)",
}


class ChoiceDict(TypedDict):
    """:meth:`Choice.to_dict`: a JSON-ready choice."""

    name: str
    params: dict[str, Any]
    reasons: list[str]
    caveats: list[str]
    code: str


class RecommendationDict(TypedDict):
    """:meth:`Recommendation.to_dict`: the profile facts and the ranked choices, best first."""

    profile: dict[str, Any]
    choices: list[ChoiceDict]


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

    def to_dict(self) -> ChoiceDict:
        return {"name": self.name, "params": _jsonable(self.params), "reasons": list(self.reasons),
                "caveats": list(self.caveats), "code": self.code}


@dataclass
class Recommendation:
    """Ranked loss choices for a target, best first, with the profile they rest on."""

    profile: TargetProfile
    objective: dict[str, Any]
    choices: list[Choice]
    #: Ids of every rule whose condition held (proposing, demoting or annotating).
    fired: list[str] = field(default_factory=list)

    @property
    def best(self) -> Choice:
        return self.choices[0]

    def profile_dict(self) -> dict[str, Any]:
        """The profile facts and the objective (metric, costs and what follows from them)."""
        out: dict[str, Any] = _jsonable({**self.profile.to_dict(), **self.objective})
        return out

    def to_dict(self) -> RecommendationDict:
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


def recommend(y: Any, X: Any = None, *, task: str | None = None, metric: str | None = None,
              costs: Any = None, top_k: int = 3, time: Any = None, group: Any = None,
              event: Any = None) -> Recommendation:
    """Rank losses for this target, metric and costs, best first, with reasons and code.

    ``y`` may also be a :class:`TargetProfile` already computed. ``metric`` names what the
    model is judged by (``"rmse"``, ``"mae"``, ``"f1"``, ``"roc_auc"``, ``"log_loss"``,
    ``"jaccard"``, ``"pinball@0.9"``, ``"ndcg@10"``, ``"concordance"``, ...; see
    :data:`losskit.vocabulary.METRICS`); ``costs`` gives asymmetric error costs,
    ``{"under": 3, "over": 1}`` for regression or ``{"fn": 5, "fp": 1}`` for binary
    decisions. ``event`` (censoring indicator), ``group`` (query or entity ids) and
    ``time`` (row order) declare structure, as in :func:`profile`. The rules live in
    ``losskit/advise/rules.toml`` (:data:`losskit.advise.RULES`).

    >>> import numpy as np, losskit
    >>> y = np.random.default_rng(0).normal(10, 2, 500)
    >>> rec = losskit.recommend(y, costs={"under": 3, "over": 1})
    >>> rec.best.name, rec.best.params
    ('quantile', {'quantiles': 0.75})
    """
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise LossInputError(f"top_k must be a positive integer, got {top_k!r}")
    cost_map = normalize_costs(costs)
    prof = y if isinstance(y, TargetProfile) else profile(
        y, X, task=task, metric=metric, time=time, group=group, event=event)
    check_costs(cost_map, prof.task)
    obj = objective(metric, cost_map, prof.task)
    ns = namespace(prof, obj)
    candidates: dict[str, dict[str, Any]] = {}
    fired: list[str] = []
    # Pass 1: rules that propose a loss; pass 2: rules that demote or annotate proposed ones.
    for proposing in (True, False):
        for rule in RULES:
            if (rule.score > 0) != proposing or not rule.holds(ns):
                continue
            fired.append(rule.id)
            targets = list(candidates) if rule.loss == "*" else [rule.loss]
            for name in targets:
                if name not in candidates:
                    if not proposing:
                        continue
                    candidates[name] = {"score": 0.0, "params": {}, "reasons": [],
                                        "evidence": [], "caveats": [], "rules": []}
                _apply(candidates[name], rule, ns)
    _merge_equivalent(candidates)
    _note_unregistered(candidates)
    ranked = sorted(candidates.items(), key=lambda kv: -kv[1]["score"])
    choices = [Choice(name=name, params=c["params"], reasons=c["reasons"], caveats=c["caveats"],
                      code=snippet(name, c["params"]), score=round(c["score"], 2),
                      evidence=c["evidence"], rules=c["rules"])
               for name, c in ranked[:top_k] if c["score"] > 0]
    if not choices:
        raise LossInputError(f"no rule covers task {prof.task!r}; see losskit.advise.RULES")
    return Recommendation(prof, obj, choices, fired)


def _apply(cand: dict[str, Any], rule: Rule, ns: dict[str, Any]) -> None:
    params = rule.evaluate_params(ns)
    cand["score"] += rule.score
    cand["rules"].append(rule.id)
    if rule.score > 0:  # demoting and annotating rules cite their values, never set them
        cand["params"].update(params)
    if rule.because:
        fmt = _Evidence(params, ns)
        cand["reasons"].append(fmt.format(rule.because))
        cand["evidence"].append(fmt.cited)
    for text in rule.caveats:
        caveat = _Evidence(params, ns).format(text)
        if caveat not in cand["caveats"]:
            cand["caveats"].append(caveat)


def _merge_equivalent(candidates: dict[str, dict[str, Any]]) -> None:
    """huber(delta=d) and smooth_l1(beta=d) are one choice: smooth_l1 is huber / d, so the
    two have the same minimizer and, under Adam, the same training run."""
    huber, smooth = candidates.get("huber"), candidates.get("smooth_l1")
    if huber is None or smooth is None:
        return
    d, b = huber["params"].get("delta", 1.0), smooth["params"].get("beta", 1.0)
    if d is None or b is None or abs(float(d) - float(b)) > 1e-9 * max(abs(float(d)), 1.0):
        return
    huber["score"] = max(huber["score"], smooth["score"])
    note = (f"smooth_l1 with beta = {b} is this loss divided by {d}: the same choice "
            "(pick either)")
    if note not in huber["caveats"]:
        huber["caveats"].append(note)
    del candidates["smooth_l1"]


def _note_unregistered(candidates: dict[str, dict[str, Any]]) -> None:
    """A choice this build of losskit cannot construct says so (the rules name losses of
    every family; an older or trimmed build may lack some)."""
    from .._core.registry import list_losses

    have = set(list_losses())
    for name, cand in candidates.items():
        missing = [t.split("*")[-1].strip() for t in name.split("+")]
        missing = [t for t in missing if t and t not in have]
        if missing:
            cand["caveats"].append(f"{', '.join(missing)} is not registered in this build of "
                                   "losskit: update it, or register your own implementation")


def _literal(key: str, value: Any) -> str:
    if isinstance(value, dict):
        inner = ", ".join(f"{k!r}: {_literal(k, v)}" for k, v in value.items())
        return "{" + inner + "}"
    if key in _TENSOR_PARAMS and isinstance(value, (list, tuple)):
        return f"torch.tensor({list(value)!r})"
    return repr(value)


def _head_comment(name: str) -> str | None:
    from .._core.registry import HEADS, get_info

    if "+" in name:
        return "model output: raw logits [N, C, H, W], no softmax / sigmoid" if any(
            t in name for t in ("dice", "cross_entropy")) else "model output: the image itself"
    call = _CALL.get(name)
    try:
        info = get_info(name)
    except ValueError:
        return call
    head = f"model output: {HEADS.get(info.head, info.head)}" if info.head != "none" else None
    return "; ".join(x for x in (call, head) if x) or None


def snippet(name: str, params: dict[str, Any]) -> str:
    """Ready-to-paste code that builds the loss with these hyperparameters."""
    args = "".join(f", {k}={_literal(k, v)}" for k, v in params.items())
    needs_torch = any(k in _TENSOR_PARAMS and isinstance(v, (list, tuple))
                      for k, v in params.items()) or any(
        isinstance(v, dict) and any(k in _TENSOR_PARAMS for k in v) for v in params.values())
    lines = ["import losskit"]
    if needs_torch:
        lines.insert(0, "import torch")
    lines.append(f"loss = losskit.get({name!r}{args})")
    head = _head_comment(name)
    if head:
        lines.append(f"# {head}")
    return "\n".join(lines)
