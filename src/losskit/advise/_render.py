"""Terminal rendering of a recommendation (rich markup, or plain text without rich)."""

from __future__ import annotations

from typing import Any

__all__ = ["recommendation_lines", "render_recommendation"]

#: Facts worth a line in the summary, in this order (each shown only when the profile has it).
_SUMMARY = (
    "n", "shape", "n_missing", "n_nonfinite", "n_features", "n_groups", "group_size_median",
    "n_events", "censored_fraction", "n_outputs", "output_sigmas", "n_classes", "class_counts",
    "positive_rate", "imbalance_ratio", "suspected_label_noise", "n_labels", "label_cardinality",
    "co_occurrence_fraction", "label_density", "mean_normalized_entropy", "foreground_fraction",
    "empty_mask_fraction", "length_min", "length_max", "vocab_size", "min", "max", "median",
    "mad_sigma", "skewness", "excess_kurtosis", "outlier_fraction", "zero_fraction",
    "pileup_fraction", "pileup_value", "orders_of_magnitude", "dispersion_index", "dispersion",
    "nb_dispersion", "noise_sigma", "noise_outlier_fraction", "noise_excess_kurtosis",
    "noise_skewness", "heteroscedasticity", "order_shift", "autocorrelation",
)
_PERCENT = {"positive_rate", "suspected_label_noise", "co_occurrence_fraction", "label_density",
            "foreground_fraction", "empty_mask_fraction", "outlier_fraction", "zero_fraction",
            "noise_outlier_fraction", "censored_fraction", "pileup_fraction"}


def _escape(text: str, markup: bool) -> str:
    if not markup:
        return text
    try:
        from rich.markup import escape
    except ImportError:
        return text
    return escape(text)


def _value(key: str, value: Any) -> str:
    if key in _PERCENT and isinstance(value, float):
        return f"{value:.1%}"
    if isinstance(value, dict) and len(value) > 8:
        return f"{len(value)} entries"
    return str(value)


def recommendation_lines(rec: Any, markup: bool = True, show_profile: bool = True) -> list[str]:
    """The recommendation as printable lines (rich markup when ``markup``)."""
    b = (lambda s: f"[bold]{s}[/bold]") if markup else (lambda s: s)
    dim = (lambda s: f"[dim]{s}[/dim]") if markup else (lambda s: s)
    warn = (lambda s: f"[yellow]{s}[/yellow]") if markup else (lambda s: s)
    prof = rec.profile_dict()
    lines = [f"{b('Target')}: {prof['task']} - {_escape(prof['task_rule'], markup)}"]
    goal = []
    if prof.get("metric_given"):
        goal.append(f"metric {prof['metric_given']}")
    if prof.get("costs"):
        goal.append("costs " + ", ".join(f"{k}={v:g}" for k, v in prof["costs"].items()))
    if goal:
        lines.append(f"{b('Objective')}: " + "; ".join(goal))
    if show_profile:
        facts = [f"{k}={_value(k, prof[k])}" for k in _SUMMARY if prof.get(k) is not None]
        if prof.get("noise_source") and prof.get("noise_sigma") is not None:
            facts.append(f"noise from {prof['noise_source']}")
        lines.append(dim(_escape("  " + ", ".join(facts), markup)))
        for note in prof.get("data_notes") or []:
            lines.append(dim(_escape(f"  data: {note}", markup)))
    # Caveats every choice shares (drift, missing values, the metric) are printed once.
    shared = [c for c in rec.choices[0].caveats
              if len(rec.choices) > 1 and all(c in ch.caveats for ch in rec.choices)]
    for rank, choice in enumerate(rec.choices, 1):
        params = ", ".join(f"{k}={v}" for k, v in choice.params.items())
        lines.append("")
        lines.append(f"{b(f'{rank}. {choice.name}')}" + (f"  {_escape(params, markup)}"
                                                          if params else ""))
        lines += [f"   - {_escape(r, markup)}" for r in choice.reasons]
        lines += [warn(f"   ! {_escape(c, markup)}") for c in choice.caveats if c not in shared]
        lines += [dim(f"     {_escape(line, markup)}") for line in choice.code.splitlines()]
    if shared:
        lines += ["", b("Whichever you choose")]
        lines += [warn(f"   ! {_escape(c, markup)}") for c in shared]
    return lines


def render_recommendation(rec: Any, console: Any = None, *, show_profile: bool = True) -> None:
    """Print a recommendation on ``console`` (a rich Console; a default one if None).

    Reusable by other commands, e.g. ``losskit compare`` prints it before its table.
    """
    if console is None:
        from .._render import console as make_console

        console = make_console()
    markup = type(console).__module__.startswith("rich")
    for line in recommendation_lines(rec, markup=markup, show_profile=show_profile):
        console.print(line)
