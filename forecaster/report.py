"""The one place that prints.

Library code never calls ``print``: it reports through a :class:`Reporter`, which writes to
stderr with rich (stdout is kept free for CSV output) and which ``--quiet`` silences.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any


class Reporter:
    """Human-readable progress, warnings and tables on stderr.

    Args:
        quiet: print nothing at all (errors are printed by the CLI, not here).
        file: where to write; stderr by default.
    """

    def __init__(self, quiet: bool = False, file: Any = None) -> None:
        self.quiet = quiet
        self._file = file
        self._console = None

    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self._file or sys.stderr, highlight=False, soft_wrap=True)
        return self._console

    def info(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message, markup=False)

    def warn(self, message: str) -> None:
        if not self.quiet:
            self.console.print(f"Warning: {message}", style="yellow", markup=False)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Print a table; floats are shown with 4 significant digits."""
        if self.quiet:
            return
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for i, column in enumerate(columns):
            table.add_column(column, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*(_format_cell(cell) for cell in row))
        self.console.print(table)

    @contextlib.contextmanager
    def progress(self, description: str, total: int) -> Iterator[EpochProgress]:
        """A progress bar for ``total`` steps; silent when quiet or not on a terminal.

        Off a terminal (cron, a pipe) a bar would only spray control characters into the log,
        so each step is printed as one plain line instead.
        """
        if self.quiet:
            yield EpochProgress(None, None)
            return
        if not self.console.is_terminal:
            yield EpochProgress(None, None, self)
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        with bar:
            task = bar.add_task(description, total=total, detail="")
            yield EpochProgress(bar, task)


class EpochProgress:
    """Handle given to long-running loops to report each finished step."""

    def __init__(self, bar: Any, task: Any, plain: Reporter | None = None) -> None:
        self._bar = bar
        self._task = task
        self._plain = plain

    def advance(self, detail: str = "", total: int | None = None) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, detail=detail, total=total)
        elif self._plain is not None and detail:
            self._plain.info(detail)


def _format_cell(cell: Any) -> str:
    # a baseline with nothing to compare (seasonal naive on a series shorter than a season)
    if cell is None or (isinstance(cell, float) and cell != cell):
        return "n/a"
    if isinstance(cell, float):
        return f"{cell:.4g}"
    return str(cell)


QUIET = Reporter(quiet=True)
