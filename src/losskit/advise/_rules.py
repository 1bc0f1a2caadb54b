"""The advisor's expert knowledge: the rule table in ``rules.toml``, parsed once at import.

Each rule reads: *when* this holds for the data, the metric and the costs, *add* ``score``
to this loss, with these hyperparameters, *because* of this (a sentence that cites
measured numbers). Rules with a positive score propose a loss; rules with a score of zero
or less only demote or annotate (caveats) a loss another rule proposed; ``loss = "*"``
annotates every proposed loss; a rule without a sentence only moves the score.
Candidates are ranked by total score; :func:`rules_for` prints the table per loss.

Conditions and hyperparameters are expressions of the small language in
:mod:`losskit.advise._expr` over the names in :data:`losskit.advise._facts.FACTS`. Every
name, every ``{field}`` a sentence cites, every task and metric literal compared with
``task`` / ``metric`` is checked when the table loads: a misspelt fact is an error at
import, not a rule that silently never fires.
"""

from __future__ import annotations

import math
import re
import string
import sys
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .._core.validate import LossInputError
from ..vocabulary import METRICS as _VOCABULARY
from ..vocabulary import TASKS, close_metric, normalize_metric, resolve_metric
from ._expr import Expr, ExprError, compile_expr
from ._facts import FACTS
from ._profile import TargetProfile, _r

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["METRICS", "RULES", "Rule", "RuleError", "load_rules", "namespace",
           "normalize_costs", "normalize_metric", "objective", "rules_for"]

#: Canonical metric names -> their aliases (the shared vocabulary, for ``losskit.advise``).
METRICS = {name: m.aliases for name, m in _VOCABULARY.items()}

#: Metrics computed from hard decisions: no gradient, so train on a proxy and tune the threshold.
NON_DIFFERENTIABLE = {name for name, m in _VOCABULARY.items() if m.needs == "labels"} | {"wer"}


class RuleError(ValueError):
    """The rule table is malformed: a bad expression, an unknown fact, task or metric."""


@dataclass(frozen=True)
class Rule:
    id: str
    loss: str
    score: float
    when: str
    because: str = ""
    params: dict[str, str] = field(default_factory=dict)
    caveats: tuple[str, ...] = ()
    condition: Expr | None = field(default=None, compare=False, repr=False)
    param_exprs: dict[str, Expr] = field(default_factory=dict, compare=False, repr=False)

    def holds(self, facts: dict[str, Any]) -> bool:
        assert self.condition is not None
        return self.condition.holds(facts)

    def evaluate_params(self, facts: dict[str, Any]) -> dict[str, Any]:
        """The rule's hyperparameters; one that evaluates to none is left out."""
        out = {k: e.evaluate(facts) for k, e in self.param_exprs.items()}
        return {k: v for k, v in out.items() if v is not None}


_CHECKED_LITERALS = {"task": set(TASKS), "metric": {*_VOCABULARY, "pinball"}}


def _fields(text: str) -> list[str]:
    """Root names of the ``{field}`` references in a sentence."""
    out = []
    for _, name, _, _ in string.Formatter().parse(text):
        if name:
            out.append(re.split(r"[.\[]", name, maxsplit=1)[0])
    return out


def _compile_rule(raw: dict[str, Any]) -> Rule:
    rid = raw.get("id", "<no id>")
    known = {"id", "loss", "score", "when", "because", "params", "caveats"}
    extra = set(raw) - known
    if extra:
        raise RuleError(f"rule {rid!r}: unknown keys {sorted(extra)}")
    for key in ("id", "loss", "score", "when"):
        if key not in raw:
            raise RuleError(f"rule {rid!r} has no {key!r}")
    try:
        condition = compile_expr(raw["when"], FACTS)
        params = {k: compile_expr(str(v), FACTS) for k, v in raw.get("params", {}).items()}
    except ExprError as exc:
        raise RuleError(f"rule {rid!r}: {exc}") from None
    for expr in (condition, *params.values()):
        for name, literal in expr.literals:
            allowed = _CHECKED_LITERALS.get(name)
            if allowed is not None and literal not in allowed:
                raise RuleError(f"rule {rid!r}: {name} is compared with {literal!r}, which is "
                                f"not a known {name}")
    texts = [raw.get("because", ""), *raw.get("caveats", ())]
    for text in texts:
        for name in _fields(text):
            if name not in FACTS and name not in params:
                raise RuleError(f"rule {rid!r}: its sentence cites {{{name}}}, which is neither "
                                "a fact nor one of its hyperparameters")
    return Rule(id=raw["id"], loss=raw["loss"], score=float(raw["score"]), when=raw["when"],
                because=" ".join(raw.get("because", "").split()),
                params={k: str(v) for k, v in raw.get("params", {}).items()},
                caveats=tuple(" ".join(c.split()) for c in raw.get("caveats", ())),
                condition=condition, param_exprs=params)


def load_rules(text: str | None = None) -> tuple[Rule, ...]:
    """Parse and check a rule table (``rules.toml`` by default)."""
    if text is None:
        text = resources.files("losskit.advise").joinpath("rules.toml").read_text("utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"rules.toml: {exc}") from None
    rules = tuple(_compile_rule(raw) for raw in data.get("rule", []))
    ids = [r.id for r in rules]
    duplicate = {i for i in ids if ids.count(i) > 1}
    if duplicate:
        raise RuleError(f"duplicate rule ids: {sorted(duplicate)}")
    return rules


#: The rule table, parsed and checked once.
RULES: tuple[Rule, ...] = load_rules()


# ---------------------------------------------------------------------------------------
# The objective: metric and costs


_COST_KEYS = {
    "under": "under", "underprediction": "under", "under_prediction": "under",
    "over": "over", "overprediction": "over", "over_prediction": "over",
    "fn": "fn", "false_negative": "fn", "miss": "fn",
    "fp": "fp", "false_positive": "fp", "false_alarm": "fp",
}


def normalize_costs(costs: Any) -> dict[str, float] | None:
    """``{"under": 3, "over": 1}`` or ``{"fn": 5, "fp": 1}`` (or ``"under=3,over=1"``)."""
    if costs is None:
        return None
    if isinstance(costs, str):
        pairs = [p.split("=", 1) for p in costs.split(",") if p.strip()]
        if not pairs or not all(len(p) == 2 for p in pairs):
            raise LossInputError(f"costs must look like 'under=3,over=1' or 'fn=5,fp=1', got "
                                 f"{costs!r}")
        costs = {k.strip(): v.strip() for k, v in pairs}
    if not hasattr(costs, "items"):
        raise LossInputError(f"costs must be a mapping such as {{'fn': 5, 'fp': 1}}, got "
                             f"{type(costs).__name__}")
    out: dict[str, float] = {}
    for key, value in dict(costs).items():
        k = _COST_KEYS.get(str(key).strip().lower())
        if k is None:
            raise LossInputError(f"unknown cost {key!r}; use under/over (regression) or fn/fp "
                                 "(binary classification)")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise LossInputError(f"cost {key!r} must be a number, got {value!r}") from None
        if not (v > 0 and math.isfinite(v)):
            raise LossInputError(f"cost {key!r} must be a positive number, got {value!r}")
        out[k] = v
    for a, b in (("under", "over"), ("fn", "fp")):
        if (a in out) != (b in out):
            raise LossInputError(f"costs need both {a!r} and {b!r} (a ratio is what matters)")
    if "under" in out and "fn" in out:
        raise LossInputError("costs are either under/over (regression) or fn/fp (binary "
                             "decisions), not both")
    return out


_COSTS_FIT = {"under": ("continuous", "count", "proportion", "ordinal", "multioutput"),
              "fn": ("binary", "multilabel")}


def check_costs(costs: dict[str, float] | None, task: str) -> None:
    """Costs that cannot apply to this task are an error, never silently ignored."""
    if not costs:
        return
    kind = "under" if "under" in costs else "fn"
    if task not in _COSTS_FIT[kind]:
        if kind == "under":
            raise LossInputError(f"costs under/over price over- and under-prediction of a "
                                 f"number, but this target is {task}; for a binary decision "
                                 "give fn=...,fp=... instead")
        raise LossInputError(f"costs fn/fp price the two errors of a binary decision, but this "
                             f"target is {task}"
                             + ("; for over/under-prediction give under=...,over=... instead"
                                if task in _COSTS_FIT["under"] else ""))


def objective(metric: str | None, costs: dict[str, float] | None,
              task: str | None = None) -> dict[str, Any]:
    """What the user asked for, with the quantities derived from it (part of the profile)."""
    name, level = normalize_metric(metric)
    obj: dict[str, Any] = {"metric": name, "metric_given": metric, "costs": costs,
                           "metric_optimizes": None, "metric_needs": None,
                           "quantile_level": None, "decision_threshold": None,
                           "cost_ratio": None}
    if metric is not None and (name in _VOCABULARY or name == "pinball"):
        m = resolve_metric(metric, task)
        obj["metric_optimizes"], obj["metric_needs"] = m.optimizes, m.needs
    # A metric outside the vocabulary is taken (a custom metric: the ranking then follows
    # the data); one close to a known name may be a typo, which the caveat names.
    near = close_metric(str(name)) if metric is not None and name not in _VOCABULARY else None
    obj["metric_hint"] = f" (did you mean {near!r}?)" if near else ""
    if costs and "under" in costs:
        obj["quantile_level"] = _r(costs["under"] / (costs["under"] + costs["over"]))
    elif level is not None and name == "pinball":
        obj["quantile_level"] = level
    if costs and "fn" in costs:
        # With calibrated probabilities, predicting positive pays off when p * c_fn > (1-p) * c_fp.
        obj["decision_threshold"] = _r(costs["fp"] / (costs["fp"] + costs["fn"]))
        obj["cost_ratio"] = _r(costs["fn"] / costs["fp"])
    return obj


# ---------------------------------------------------------------------------------------
# Derived values


_REGRESSION = ("continuous", "count", "proportion", "multioutput")


def namespace(prof: TargetProfile, obj: dict[str, Any]) -> dict[str, Any]:
    """Every name a rule may use: profile facts, the objective, flags and derived values."""
    ns: dict[str, Any] = dict.fromkeys(FACTS)
    ns.update(prof.to_dict())
    ns.update(obj)
    task = prof.task
    ns["regression"] = task in _REGRESSION
    ns["classes_exclusive"] = task in ("binary", "multiclass", "ordinal")
    ns["known_metric"] = obj["metric"] is None or obj["metric"] in METRICS \
        or obj["metric"] == "pinball"
    ns["non_differentiable"] = obj["metric"] in NON_DIFFERENTIABLE
    ns["balanced_metric"] = obj["metric"] in ("balanced_accuracy", "recall") and task in (
        "multiclass", "ordinal")
    if ns["noise_sigma"]:
        # Huber's 95%-efficiency tuning constant times the scale of the clean residuals.
        ns["huber_delta"] = _r(1.345 * ns["noise_sigma"], 3)
    skew = ns["noise_skewness"]
    ns["symmetric_noise"] = skew is not None and abs(skew) <= 0.5
    if ns["n_positive"]:
        ns["pos_weight"] = _r(ns["n_negative"] / ns["n_positive"], 3)
        # RetinaNet (Lin et al., ICCV 2017, Table 1a): with gamma = 2 the best alpha was
        # 0.25 on the rare (positive) class; the focusing term already mutes easy negatives.
        ns["focal_alpha"] = 0.25
    counts = ns["class_counts"]
    if counts:
        total, k = sum(counts.values()), len(counts)
        # sklearn's "balanced" weights: every class gets the same total weight.
        ns["class_weight"] = [_r(total / (k * c), 3) for c in counts.values()]
        ns["class_count_list"] = list(counts.values())
        # Index targets must be 0..K-1; anything else (1..5, strings) needs an encoding step.
        ns["labels_need_encoding"] = ns["classes"] != list(range(k))
    if ns["label_counts"]:
        n = ns["n"]
        ns["label_pos_weight"] = [_r((n - p) / p, 3) if p else 1.0 for p in ns["label_counts"]]
    ns["log_scale"] = bool(ns["regression"] and task != "multioutput" and ns["min"] is not None
                           and ns["min"] >= 0 and (ns["orders_of_magnitude"] or 0) >= 2
                           and (ns["skewness"] or 0) > 1 and (ns["zero_fraction"] or 0) < 0.15)
    ns["zero_heavy"] = bool(task == "continuous" and ns["min"] is not None and ns["min"] >= 0
                            and (ns["zero_fraction"] or 0) >= 0.15 and not ns["integer_valued"])
    # A pile-up at a cap, or at a floor other than zero, is censoring; a mass of exact zeros
    # in a non-negative target is more often real zeros (Tweedie's point mass, or log1p).
    zero_floor = ns["pileup_side"] == "lower" and ns["pileup_value"] == 0
    ns["censored_at_limit"] = bool(ns["pileup_side"] is not None and not zero_floor)
    # Counts and proportions have their own likelihoods; "outliers" is a continuous-target idea,
    # and a pile-up at a limit or a mass of zeros is structure, not outliers.
    # Below ~20 residual degrees of freedom a fit's residuals are too few to call outliers.
    plain = task == "continuous" and (ns["noise_dof"] or 0) >= 20 and not (
        ns["log_scale"] or ns["zero_heavy"] or ns["censored_at_limit"])
    ns["outliers"] = bool(plain and (ns["noise_outlier_fraction"] or 0) >= 0.01)
    ns["heavy_tails"] = bool(plain and not ns["outliers"]
                             and (ns["noise_excess_kurtosis"] or 0) > 3)
    ns["overdispersed"] = bool(task == "count" and (ns["dispersion"] or 0) > 2)
    ns["binary_masks"] = task == "segmentation" and ns["n_classes"] == 2
    ns["long_tail"] = bool(task == "multiclass" and (ns["n_classes"] or 0) >= 3
                           and (ns["imbalance_ratio"] or 0) >= 10)
    ns["label_noise"] = bool((ns["suspected_label_noise"] or 0) >= 0.07
                             and (ns["imbalance_ratio"] or 0) < 5)
    acf, resid, n = ns["autocorrelation"], ns["residual_autocorrelation"], ns["n"] or 1
    bar = max(0.3, 3 / math.sqrt(n))
    # grouped rows (a panel) are ordered within groups by nature, and compare's folds keep
    # each group whole, so the order cannot leak between folds
    ordered = (acf is not None and not ns["time_given"] and not ns["group_given"]
               and abs(acf) >= bar)
    # Features that account for the order (lags, a sorted-by column) leave white residuals,
    # and shuffled K-fold is then valid (Bergmeir, Hyndman & Koo 2018).
    ns["ordered_rows"] = bool(ordered and (resid is None or abs(resid) >= bar))
    ns["ordered_rows_explained"] = bool(ordered and resid is not None and abs(resid) < bar)
    ns["tweedie_power"] = 1.5
    ns["many_identities"] = bool(task == "metric_learning" and (ns["n_classes"] or 0) >= 50)
    return ns


def rules_for(loss_name: str) -> list[str]:
    """The rationales of every rule that recommends ``loss_name`` (for ``losskit explain``).

    Placeholders for measured numbers read as ``<name>``.
    """
    from .._core.registry import get_info

    try:
        name = get_info(loss_name).name
    except ValueError:
        name = loss_name.strip().lower().replace("-", "_")
    out = []
    for rule in RULES:
        terms = {t.split("*")[-1].strip() for t in rule.loss.split("+")}
        if rule.score > 0 and rule.because and (rule.loss == name or name in terms):
            out.append(f"when {rule.when}: {_placeholders(rule.because)}")
    return out


def _placeholders(text: str) -> str:
    return re.sub(r"\{([^}:!]+)[^}]*\}", lambda m: f"<{m.group(1)}>", text)
