"""The result of ``check``: one row per check, readable as a table, JSON or an exception."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["CheckReport", "CheckResult", "LossCheckError"]

#: A check's outcome.
Status = Literal["passed", "failed", "skipped"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "skipped")
_COLOURS = {"passed": "green", "failed": "red", "skipped": "yellow"}


class LossCheckError(AssertionError):
    """Raised by :meth:`CheckReport.raise_for_failures` when a check failed."""


@dataclass
class CheckResult:
    """One check on one loss: its status, a detail with numbers, and any data it kept."""

    name: str
    status: Status
    detail: str
    why: str
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "why": self.why,
                "seconds": round(self.seconds, 4), "data": _jsonable(self.data)}


@dataclass
class CheckReport:
    """All checks run on one loss.

    ``passed`` is true when no check failed (skipped checks do not count against it);
    ``failures`` lists the failed results; ``raise_for_failures()`` turns them into a
    :class:`LossCheckError`. Printing the report with rich shows a coloured table;
    ``str(report)`` is the same table in plain text and ``to_json()`` the JSON form.
    """

    loss: str
    task: str | None
    results: list[CheckResult]
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.failed]

    @property
    def skipped(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "skipped"]

    @property
    def curve(self) -> list[float] | None:
        """The training curve of the convergence check, when it ran."""
        for r in self.results:
            if r.name == "convergence" and "curve" in r.data:
                return list(r.data["curve"])
        return None

    def __getitem__(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no check named {name!r} in this report; ran {[r.name for r in self]}")

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def raise_for_failures(self) -> None:
        if self.failures:
            lines = [f"{self.loss}: {len(self.failures)} of {len(self.results)} checks failed"]
            lines += [f"  {r.name}: {r.detail}" for r in self.failures]
            raise LossCheckError("\n".join(lines))

    def summary(self) -> str:
        counts = {s: sum(r.status == s for r in self.results) for s in STATUSES}
        return (f"{self.loss}: {counts['passed']} passed, {counts['failed']} failed, "
                f"{counts['skipped']} skipped")

    def rows(self, markup: bool = False) -> list[dict[str, str]]:
        def status(s: str) -> str:
            return f"[{_COLOURS[s]}]{s}[/{_COLOURS[s]}]" if markup else s

        return [{"check": r.name, "status": status(r.status), "detail": r.detail}
                for r in self.results]

    def to_dict(self) -> dict[str, Any]:
        return {"loss": self.loss, "task": self.task, "passed": self.passed,
                "notes": list(self.notes), "checks": [r.to_dict() for r in self.results]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.markup import escape

        from .._render import table

        rendered = table(self.rows(markup=True), title=self.summary())
        return Group(*(f"note: {escape(n)}" for n in self.notes), rendered)

    def __str__(self) -> str:
        rows = self.rows()
        widths = {c: max(len(c), *(len(r[c]) for r in rows)) if rows else len(c)
                  for c in ("check", "status")}
        lines = [self.summary(), *(f"note: {n}" for n in self.notes)]
        lines += [f"{r['check']:<{widths['check']}}  {r['status']:<{widths['status']}}  "
                  f"{r['detail']}" for r in rows]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<CheckReport {self.summary()}>"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return repr(value)
