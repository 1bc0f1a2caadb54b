"""MkDocs hooks: the pages that come from losskit itself.

* ``losses/<name>.md`` for every registered loss, from its ``LossInfo`` card, the function's
  ``Shape:`` section, the advisor rules that pick it and a curve from ``losskit.plot``;
* ``topics/<slug>.md`` from ``src/losskit/topics/*.md``, with the demonstration computed now;
* ``benchmarks.md`` from ``benchmarks/RESULTS.md``;
* markers in the hand-written pages: ``<!-- readme:main-command -->`` and
  ``<!-- readme:test-command -->`` (the README's two commands), ``<!-- advisor-rules -->``,
  ``<!-- checks -->``, ``<!-- scenarios -->``;
* the navigation.
"""

from __future__ import annotations

import html
import inspect
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

import losskit  # noqa: E402
from losskit import concepts  # noqa: E402
from losskit._core.registry import PROPERTIES  # noqa: E402
from losskit._nn_base import class_name  # noqa: E402

FAMILY_ORDER = ("regression", "classification", "distribution", "sequence", "segmentation",
                "metric_learning", "ordinal", "generative", "penalties", "reinforcement",
                "energy", "ranking", "boxes")

API_PAGES = [
    ("Top level", "reference/index.md"),
    ("losskit.functional", "reference/functional.md"),
    ("losskit.nn", "reference/nn.md"),
    ("losskit.compose and schedules", "reference/compose.md"),
    ("losskit.monitor and integrations", "reference/monitor.md"),
    ("losskit.verify and testing", "reference/verify.md"),
    ("losskit.advise", "reference/advise.md"),
    ("losskit.compare", "reference/compare.md"),
    ("losskit.plot", "reference/plot.md"),
    ("losskit.weighting and distributed", "reference/weighting.md"),
]


# -- helpers ---------------------------------------------------------------------------------

def _prose(text: str) -> str:
    """Card text as Markdown: keep `code` spans, escape what Markdown would reinterpret."""
    out = []
    for piece in re.split(r"(`+[^`]+?`+)", text):
        if piece.startswith("`") and piece.endswith("`") and len(piece) > 1:
            out.append(piece)
        else:
            piece = html.escape(piece, quote=False)
            out.append(re.sub(r"([*_\[\]\\|])", r"\\\1", piece))
    return "".join(out)


def _text_block(text: str) -> list[str]:
    """A formula or gradient as a ```text block, wrapped to the width of the page."""
    wrapped = [textwrap.fill(part, 72, subsequent_indent="    ", break_long_words=False)
               for part in text.splitlines()]
    return ["```text", *wrapped, "```"]


def _call(name: str, signature: str) -> str:
    """``name(a, b, *, c=1)``, one parameter per line when it does not fit in 88 columns."""
    one = f"losskit.functional.{name}{signature}"
    if len(one) <= 88:
        return one
    inner = signature[1:-1]
    params = [p.strip() for p in re.split(r",\s*(?![^\[\](){}]*[\])}])", inner)]
    return "\n".join([f"losskit.functional.{name}(", *(f"    {p}," for p in params), ")"])


def _family(info: Any) -> str:
    return info.family.replace("_", " ")


def _families() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name in losskit.list_losses():
        groups.setdefault(losskit.info(name).family, []).append(name)
    order = [f for f in FAMILY_ORDER if f in groups] + sorted(set(groups) - set(FAMILY_ORDER))
    return {f: groups[f] for f in order}


def _shape_section(fn: Any) -> str:
    doc = inspect.getdoc(fn) or ""
    match = re.search(r"^Shape:\s*\n((?:[ \t]+.*\n?|\s*\n)+)", doc, re.M)
    if not match:
        return ""
    return " ".join(match.group(1).split())


def _readme_block(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- {marker} -->\s*```bash\n(.*?)```", text, re.S)
    if not match:
        raise ValueError(f"README.md has no ```bash block after <!-- {marker} -->")
    return f"```bash\n{match.group(1)}```"


# -- loss pages ------------------------------------------------------------------------------

def _curve(name: str) -> tuple[str | None, str]:
    """The SVG curve, or None and the reason one number cannot picture the loss."""
    from losskit.plot import curve_svg

    try:
        return curve_svg(name), ""
    except losskit.LossInputError as exc:
        return None, str(exc)


def loss_page(name: str) -> tuple[str, str | None]:
    """The Markdown of a loss page and its SVG curve (or None)."""
    from losskit.advise import rules_for

    info = losskit.info(name)
    card = info.card()
    cls = class_name(name)
    lines = [f"# {name}", ""]
    facts = [f"family: **{_family(info)}**", f"input: {info.input_kind}",
             f"target: {_prose(info.target_kind.replace('_', ' '))}"]
    if info.aliases:
        facts.append("also: " + ", ".join(f"`{a}`" for a in info.aliases))
    lines += [" · ".join(facts), "", _prose(info.summary), ""]
    lines += ["```python", _call(name, card["call"][len(name):]),
              f"losskit.nn.{cls}(...)   # or losskit.get({name!r})", "```", ""]
    lines += ["## Formula", "", *_text_block(info.formula), ""]
    lines += ["## Gradient", "", *_text_block(info.gradient), ""]
    shape = _shape_section(info.fn)
    if shape:
        lines += ["## Shapes", "", _prose(shape), ""]
    lines += ["## When to use", "", _prose(info.when_to_use), ""]
    lines += ["## Pitfalls", "", _prose(info.pitfalls), ""]
    if info.properties:
        lines += ["## Properties", "", "Each one is verified by the common test suite.", ""]
        lines += [f"- **{p.replace('_', ' ')}**: {PROPERTIES[p]}" for p in sorted(info.properties)]
        lines.append("")
    rules = rules_for(name)
    lines += ["## Chosen by the advisor when", ""]
    lines += ([f"- {_prose(r)}" for r in rules] if rules
              else ["No rule of [`losskit recommend`](../guides/advisor.md) proposes it."])
    lines.append("")
    svg, why = _curve(name)
    lines += ["## Loss and gradient", ""]
    if svg is not None:
        lines += [f"![{name}: loss and gradient](img/{name}.svg)", "",
                  f"Drawn by `losskit.plot.curve_svg({name!r})`; `losskit plot {name} --grad` "
                  "draws it as a PNG.", ""]
    else:
        lines += [f"No one-dimensional curve: {_prose(why)}.".replace("..", "."), ""]
    if info.references:
        lines += ["## References", ""] + [f"- {_prose(r)}" for r in info.references] + [""]
    return "\n".join(lines), svg


def losses_index() -> str:
    lines = ["# Losses", "",
             f"{len(losskit.list_losses())} losses, every one with the same conventions "
             "(input first, target second, keyword-only hyperparameters, `weight`, "
             "`reduction`). Each page is generated from the loss's registry card.", ""]
    for family, names in _families().items():
        lines += [f"## {family.replace('_', ' ').capitalize()}", "",
                  "| loss | input | summary |", "| --- | --- | --- |"]
        for name in names:
            info = losskit.info(name)
            lines.append(f"| [{name}]({name}.md) | {info.input_kind} | {_prose(info.summary)} |")
        lines.append("")
    return "\n".join(lines)


# -- topics ----------------------------------------------------------------------------------

def _reference_md(ref: str) -> str:
    kind, _, value = ref.partition(":")
    if kind == "loss":
        return f"[{value}](../losses/{losskit.info(value).name}.md)"
    if kind == "topic":
        return f"[{concepts.get(value).title}]({value}.md)"
    if kind == "rule":
        return f"[advisor rule `{value}`](../guides/advisor.md#rule-{value})"
    if kind == "scenario":
        return f"[scenario `{value}`](../guides/compare.md#scenario-{value})"
    if kind == "check":
        return f"[check `{value}`](../guides/verify.md#check-{value})"
    return f"`{concepts.describe_reference(ref)}`"


def topic_page(topic: Any) -> str:
    lines = [f"# {topic.title}", "", f"*{topic.summary}*", ""]
    for paragraph in topic.body:
        lines += [paragraph, ""]
    demo = topic.demonstrate()
    if demo is not None:
        lines += ["## Demonstration", "",
                  f"Computed with losskit when this page was built "
                  f"(`losskit explain {topic.slug}` runs it again):", "",
                  f"> {_prose(demo.claim)}", "", "| value | |", "| --- | ---: |"]
        lines += [f"| {k.replace('_', ' ')} | {v:.6g} |" for k, v in demo.values.items()]
        lines += ["", f"Holds: **{'yes' if demo.holds else 'NO'}**", ""]
    if topic.see_also:
        lines += ["## See also", ""] + [f"- {_reference_md(r)}" for r in topic.see_also] + [""]
    if topic.aliases:
        lines += [f"Also reachable as: {', '.join(f'`{a}`' for a in topic.aliases)}.", ""]
    return "\n".join(lines)


def topics_index() -> str:
    lines = ["# Concepts", "",
             "Questions about losses in general, not about one loss. Each topic is a Markdown "
             "file in `src/losskit/topics/` that `losskit explain TOPIC` prints too; where a "
             "claim can be checked, a demonstration computes it.", "",
             "| topic | in one sentence |", "| --- | --- |"]
    for t in concepts.topics():
        lines.append(f"| [{t.title}]({t.slug}.md) | {t.summary} |")
    return "\n".join(lines) + "\n"


# -- generated sections of hand-written pages ------------------------------------------------

def _placeholders(text: str) -> str:
    """``{n_pos:.0f}`` (a number measured on the user's data) -> ``<n_pos>``."""
    return re.sub(r"\{(\w+)[^}]*\}", r"<\1>", text)


def advisor_rules() -> str:
    from losskit.advise import RULES

    lines = []
    for rule in RULES:
        loss = rule.loss
        target = (f"[{loss}](../losses/{loss}.md)" if loss in losskit.list_losses()
                  else f"`{loss}`")
        lines += [f"### `{rule.id}` {{#rule-{rule.id}}}", "",
                  f"{target}: score {rule.score:+g} when `{rule.when}`.", ""]
        if rule.because:
            lines += [_prose(_placeholders(rule.because)), ""]
        if rule.params:
            lines += ["Hyperparameters: " + ", ".join(f"`{k} = {v}`"
                                                      for k, v in rule.params.items()), ""]
        lines += [f"- caveat: {_prose(_placeholders(c))}" for c in rule.caveats]
        if rule.caveats:
            lines.append("")
    return "\n".join(lines)


def checks_section() -> str:
    from losskit.verify import CHECKS

    lines = []
    for check in CHECKS.values():
        default = "" if check.default else " (not run by default)"
        lines += [f"### `{check.name}` {{#check-{check.name}}}", "",
                  f"{_prose(check.why)}{default}.", ""]
    return "\n".join(lines)


def scenarios_section() -> str:
    from losskit.compare.scenarios import SCENARIOS

    lines = []
    for s in SCENARIOS.values():
        lines += [f"### `{s.name}` {{#scenario-{s.name}}}", "", _prose(s.claim), "",
                  f"```bash\nlosskit compare --scenario {s.name}\n```", ""]
    return "\n".join(lines)


def benchmarks_page() -> str:
    text = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    text = re.sub(r"^# .*\n", "", text, count=1)
    return ("# Benchmarks\n\n`losskit bench` (or `python benchmarks/run.py` in a checkout) "
            "runs every case in fresh processes against PyTorch's builtins and the peer "
            "libraries; ratios are losskit / other, lower is better. The tables below are "
            "`benchmarks/RESULTS.md` as committed.\n\n" + text)


MARKERS = {
    "<!-- readme:main-command -->": lambda: _readme_block("main-command"),
    "<!-- readme:test-command -->": lambda: _readme_block("test-command"),
    "<!-- advisor-rules -->": advisor_rules,
    "<!-- checks -->": checks_section,
    "<!-- scenarios -->": scenarios_section,
}


# -- MkDocs hooks ----------------------------------------------------------------------------

def on_config(config: Any) -> Any:
    losses = [{family.replace("_", " ").capitalize(): [f"losses/{n}.md" for n in names]}
              for family, names in _families().items()]
    config["nav"] = [
        {"Home": "index.md"},
        {"Getting started": "getting-started.md"},
        {"Losses": ["losses/index.md", *losses]},
        {"Concepts": ["topics/index.md", *(f"topics/{t.slug}.md" for t in concepts.topics())]},
        {"Guides": ["guides/advisor.md", "guides/compare.md", "guides/verify.md",
                    "guides/accelerators.md", "guides/training.md", "guides/cli.md"]},
        {"Benchmarks": "benchmarks.md"},
        {"API reference": [{title: page} for title, page in API_PAGES]},
        {"Project": ["seed_coverage.md", "advisor_evaluation.md", "mutation_testing.md"]},
    ]
    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    def add(path: str, content: str | bytes) -> None:
        files.append(File.generated(config, path, content=content))

    for name in losskit.list_losses():
        page, svg = loss_page(name)
        add(f"losses/{name}.md", page)
        if svg is not None:
            add(f"losses/img/{name}.svg", svg)
    add("losses/index.md", losses_index())
    for topic in concepts.topics():
        add(f"topics/{topic.slug}.md", topic_page(topic))
    add("topics/index.md", topics_index())
    add("benchmarks.md", benchmarks_page())
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    for marker, make in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
