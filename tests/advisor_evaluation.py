"""Run the advisor on the real-data cases and write ``docs/advisor_evaluation.md``.

    python tests/advisor_evaluation.py            # print the table
    python tests/advisor_evaluation.py --write    # and write docs/advisor_evaluation.md

The cases and their answer keys live in ``tests/advisor_cases.py`` (written before the
advisor was run on them); ``tests/test_advisor_real_data.py`` asserts the score.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from advisor_cases import CASES, Case  # noqa: E402


@dataclass
class Outcome:
    case: Case
    task: str
    choices: list[str]
    seconds: float
    error: str | None = None

    @property
    def top(self) -> str | None:
        return self.choices[0] if self.choices else None

    @property
    def strict(self) -> bool:
        return self.top == self.case.expected

    @property
    def hit(self) -> bool:
        return self.strict or self.top in self.case.acceptable


def run(cases: tuple[Case, ...] = CASES) -> list[Outcome]:
    import losskit

    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for case in cases:
            y, X, extra = case.load()
            start = time.perf_counter()
            try:
                rec = losskit.recommend(y, X, **{**extra, **case.kwargs})
                out.append(Outcome(case, rec.profile.task, [c.name for c in rec.choices],
                                   time.perf_counter() - start))
            except Exception as exc:  # reported as a miss, with the error
                out.append(Outcome(case, "-", [], time.perf_counter() - start,
                                   f"{type(exc).__name__}: {exc}"))
    return out


def table(outcomes: list[Outcome]) -> str:
    hits = sum(o.hit for o in outcomes)
    strict = sum(o.strict for o in outcomes)
    n = len(outcomes)
    lines = [
        "# The advisor on real data",
        "",
        f"{n} cases built from data that ships with scikit-learn (`load_*`) and statsmodels "
        "(its bundled `datasets`), each with the expert's pick and the acceptable "
        "alternatives written before the advisor was run on it "
        "(`tests/advisor_cases.py`). A case counts when `losskit.recommend`'s top choice is "
        "the expert's pick or an acceptable alternative.",
        "",
        f"**Score: {hits}/{n} ({hits / n:.0%})**; the expert's exact pick in {strict}/{n} "
        f"({strict / n:.0%}).",
        "",
        "Regenerate with `python tests/advisor_evaluation.py --write`; "
        "`tests/test_advisor_real_data.py` fails below 95%.",
        "",
        "History, so the number is read for what it is: the first run of these cases, with "
        "the keys already committed, scored 44/50 (88%). The misses were two crashes on "
        "multi-output targets, a crash on a metric that pointed to classes (a long tail read "
        "as counts), label noise and heteroscedasticity claimed on 25-32 rows, and an "
        "empty target column in the fertility loader (2012 and 2013 are empty in the bundled "
        "copy; the case now predicts 2011). Each fix was general (inference that reads the "
        "metric, minimum sample sizes for those estimates), not a per-case rule, but the "
        "same cases measured the fixes: a fresh set of cases is the honest test. A later "
        "change, made on the argument alone (a model of the variance is not the default "
        "choice for a point prediction), moved Gaussian NLL below MSE for heteroscedastic "
        "residuals; it turned grunfeld's top choice into MSLE, which its key does not "
        "list, and the key was left as written.",
        "",
        "| case | data | task | expected | acceptable | recommend's top 3 | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        c = o.case
        extra = ", ".join(f"{k}={v!r}" for k, v in c.kwargs.items())
        result = "exact" if o.strict else "acceptable" if o.hit else (
            f"miss ({o.error})" if o.error else "miss")
        lines.append(f"| {c.id}{f' ({extra})' if extra else ''} | {c.source} | {o.task} | "
                     f"{c.expected} | {', '.join(c.acceptable) or '-'} | "
                     f"{', '.join(o.choices) or '-'} | {result} |")
    lines += ["", "Why each expected pick:", ""]
    lines += [f"- **{o.case.id}**: {o.case.why}" for o in outcomes if o.case.why]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write docs/advisor_evaluation.md")
    args = parser.parse_args()
    outcomes = run()
    text = table(outcomes)
    print(text)
    if args.write:
        path = HERE.parent / "docs" / "advisor_evaluation.md"
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
