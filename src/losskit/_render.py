"""Terminal rendering shared by the CLI commands (rich when installed, plain text otherwise)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


class _PlainConsole:
    def print(self, *objects: Any) -> None:
        import re

        text = " ".join(str(o) for o in objects)
        print(re.sub(r"\[/?(bold|red|green|yellow|dim|cyan)\]", "", text))


def console() -> Any:
    """A rich Console if rich is installed, else a plain printer with the same ``print``."""
    try:
        from rich.console import Console
    except ImportError:
        return _PlainConsole()
    return Console(highlight=False)


def table(rows: Sequence[dict[str, Any]], title: str | None = None) -> Any:
    """A table of dict rows (same keys): a rich Table, or aligned plain text."""
    columns = list(rows[0]) if rows else []
    try:
        from rich.table import Table
    except ImportError:
        widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
        lines = [title or ""] if title else []
        lines.append("  ".join(c.ljust(widths[c]) for c in columns))
        lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
        return "\n".join(lines)
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*(str(r[c]) for c in columns))
    return t


@contextmanager
def progress(total: int, description: str) -> Iterator[Any]:
    """A progress bar with ``advance()``; silent when rich is missing or output is not a TTY."""
    try:
        from rich.progress import Progress
    except ImportError:
        class _Quiet:
            def advance(self, n: int = 1) -> None:
                pass

        yield _Quiet()
        return
    with Progress(transient=True) as bar:
        task = bar.add_task(description, total=total)

        class _Bar:
            def advance(self, n: int = 1) -> None:
                bar.advance(task, n)

        yield _Bar()
