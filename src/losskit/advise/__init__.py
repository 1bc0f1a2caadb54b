"""Choose a loss from the data, the metric and the costs.

* :func:`profile` measures the target: task kind (and the rule that decided it), class
  counts and imbalance, outliers, tails, zeros, range, missing values, residual noise.
* :func:`recommend` runs the rule table :data:`RULES` (``rules.toml``, checked against the
  facts in :data:`FACTS` when it loads) over that profile and returns ranked choices, each
  with hyperparameters computed from the data, reasons citing measured numbers, caveats
  and a code snippet.
* :func:`rules_for` lists the rationales behind a loss (for ``losskit explain``);
  :func:`render_recommendation` prints a recommendation (reused by ``losskit compare``).
"""

from ._facts import FACTS
from ._profile import TASKS, TargetProfile, profile
from ._recommend import Choice, ChoiceDict, Recommendation, RecommendationDict, recommend, snippet
from ._render import render_recommendation
from ._rules import METRICS, RULES, Rule, rules_for

__all__ = [
    "FACTS",
    "METRICS",
    "RULES",
    "TASKS",
    "Choice",
    "ChoiceDict",
    "Recommendation",
    "RecommendationDict",
    "Rule",
    "TargetProfile",
    "profile",
    "recommend",
    "render_recommendation",
    "rules_for",
    "snippet",
]
