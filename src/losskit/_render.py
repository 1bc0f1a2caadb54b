"""Terminal rendering shared by the CLI commands.

On a terminal, rich draws tables and styles text (when it is installed). When stdout is
not a terminal (a pipe, a file), output is plain: no markup, no wrapping, and tables are
tab-separated columns with a header row and every cell in full, so ``losskit list >
file`` keeps whole names and ``cut -f1`` works.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

_MARKUP = re.compile(r"\[/?(bold|red|green|yellow|dim|cyan|italic)\]")


def interactive() -> bool:
    """Whether stdout is a terminal a person reads."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _rich() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return interactive()


class _PlainConsole:
    def print(self, *objects: Any) -> None:
        text = " ".join(str(o) for o in objects)
        # rich markup off, and its escapes ("\\[eps, 1 - eps]") back to the literal text
        print(_MARKUP.sub("", text).replace("\\[", "["))


def console() -> Any:
    """A rich Console on a terminal (if rich is installed), else a plain printer with the
    same ``print``."""
    if not _rich():
        return _PlainConsole()
    from rich.console import Console

    return Console(highlight=False)


def _cell(value: Any) -> str:
    return " ".join(str(value).split())  # no tab or newline inside a cell


def table(rows: Sequence[dict[str, Any]], title: str | None = None) -> Any:
    """A table of dict rows (same keys): a rich Table on a terminal, else tab-separated text
    (the title is left out so the first line is the header)."""
    columns = list(rows[0]) if rows else []
    if not _rich():
        cells = [columns, *([_cell(r[c]) for c in columns] for r in rows)]
        if not interactive():
            return "\n".join("\t".join(line) for line in cells)
        widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
        aligned = ["  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip()
                   for line in cells]
        return "\n".join(([title] if title else []) + aligned)
    from rich.table import Table

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
