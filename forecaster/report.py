"""The one place that prints.

Library code never calls ``print``: it reports through a :class:`Reporter`, which writes to
stderr (stdout is kept free for CSV output): with rich for people, or as one JSON object per
line for log collectors (``--log-format json``). ``--quiet`` silences all but errors and
``--verbose`` adds detail.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

LOG_FORMATS = ("text", "json")
#: The widest a table is printed where there is no terminal to fit (a log file, a pipe).
MAX_TABLE_WIDTH = 160


class Reporter:
    """Progress, warnings and tables on stderr, as text or as JSON lines.

    Args:
        quiet: print nothing but :meth:`error` (which the CLI calls).
        file: where to write; stderr by default.
        verbose: also print :meth:`detail` messages.
        log_format: ``"text"`` (rich, for people) or ``"json"``: one object per event, with
            ``time`` (ISO 8601, UTC) and ``event`` (start, message, detail, warning, epoch,
            table, finish, error, anomalies) and the event's fields.
    """

    def __init__(self, quiet: bool = False, file: Any = None, verbose: bool = False, log_format: str = "text") -> None:
        if log_format not in LOG_FORMATS:
            raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.json = log_format == "json"
        self._file = file
        self._console = None
        #: the reader of our stream went away (a log shipper restarted, ``2>&1 | head``)
        self._gone = False
        #: the command being run, named in a JSON log's error event as in its start and finish
        self.command: str | None = None

    def event(self, event: str, **fields: Any) -> None:
        """Write one JSON event (JSON format only; text readers get the same news from
        :meth:`info` and friends). Quiet lets through only what ends a run: an error, or
        anomalies that ``--fail-on-anomaly`` turns into an exit code."""
        if not self.json or (self.quiet and event not in ("error", "anomalies")):
            return
        record = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "event": event}
        if event == "error" and self.command:
            record["command"] = self.command
        record.update({k: _json_safe(v) for k, v in fields.items()})
        stream = self._file or sys.stderr
        self._emit(lambda: (stream.write(json.dumps(record, ensure_ascii=False) + "\n"), stream.flush()))

    def _emit(self, write: Callable[[], Any]) -> None:
        """Run ``write``; when the stream's reader has gone away, stop writing and carry on.
        A training must not be lost because a progress line could not be shown: ``train``
        whose log reader closed exited 1 without its model."""
        if self._gone:
            return
        try:
            write()
        except BrokenPipeError:
            self._gone = True
            if self._file is None:
                # the interpreter's last flush, and TensorFlow's own lines, would fail the same way
                with contextlib.suppress(OSError, ValueError):
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, sys.stderr.fileno())
                    os.close(devnull)

    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            class ReaderSafeConsole(Console):
                def on_broken_pipe(self) -> None:
                    # rich's exits with 1 (and points stdout, not stderr, at /dev/null); the
                    # reporter stops writing instead and the run goes on (see ``_emit``)
                    raise BrokenPipeError

            self._console = ReaderSafeConsole(file=self._file or sys.stderr, highlight=False, soft_wrap=True)
        return self._console

    def info(self, message: str) -> None:
        if self.quiet:
            return
        if self.json:
            self.event("message", message=message)
        else:
            self._emit(lambda: self.console.print(message, markup=False))

    def detail(self, message: str) -> None:
        """What only ``--verbose`` shows: the resolved options, the model loaded."""
        if not self.verbose:
            return
        if self.json:
            self.event("detail", message=message)
        else:
            self._emit(lambda: self.console.print(message, style="dim", markup=False))

    def warn(self, message: str) -> None:
        if self.quiet:
            return
        if self.json:
            self.event("warning", message=message)
        else:
            self._emit(lambda: self.console.print(f"Warning: {message}", style="yellow", markup=False))

    def error(self, message: str, exit_code: int) -> None:
        """The one line of a failed run; printed even when quiet."""
        if self.json:
            self.event("error", message=message, exit_code=exit_code)
        else:
            self._emit(lambda: (self._file or sys.stderr).write(f"Error: {message}\n"))

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Print a table; floats are shown with 4 significant digits, or as whole numbers with
        thousands separators from 10,000 on (in JSON, in full), and columns of numbers are
        aligned right, others left."""
        if self.quiet:
            return
        if self.json:
            names = [column or "name" for column in columns]
            self.event("table", title=title, rows=[dict(zip(names, row)) for row in rows])
            return
        from rich.table import Table

        from rich.measure import Measurement

        table = Table(title=title, title_justify="left")
        for i, column in enumerate(columns):
            numeric = i > 0 and all(_is_number(row[i]) or row[i] is None for row in rows)
            # a long series name wraps rather than losing its end (two names may differ only there)
            table.add_column(column, justify="right" if numeric else "left", overflow="fold")
        for row in rows:
            table.add_row(*(_format_cell(cell) for cell in row))
        if self.console.is_terminal or os.environ.get("COLUMNS", "").isdigit():
            self._emit(lambda: self.console.print(table))  # a width the user has, or has set
            return
        # a log file or a pipe has no width: the table at its natural width, up to a limit
        # past which the text of long cells wraps, rather than cut to rich's default of 80
        width = self.console.width
        natural = Measurement.get(self.console, self.console.options.update_width(10_000), table).maximum
        self.console.width = max(width, min(natural, MAX_TABLE_WIDTH))
        try:
            self._emit(lambda: self.console.print(table))
        finally:
            self.console.width = width

    @contextlib.contextmanager
    def status(self, message: str) -> Iterator[Callable[[str], None]]:
        """A spinner with ``message`` while work without countable steps runs, on a terminal
        only; yields a function that changes the message. It leaves no line behind.

        Quiet, JSON and non-terminal runs show nothing: a cron log has no use for a spinner,
        and the run's result lines say what was done.
        """
        if self.quiet or self.json or not self.console.is_terminal:
            yield lambda _message: None
            return
        with self.console.status(message) as spinner:
            yield lambda new_message: spinner.update(new_message)

    @contextlib.contextmanager
    def progress(self, description: str, total: int) -> Iterator[EpochProgress]:
        """A progress bar for ``total`` steps; silent when quiet or not on a terminal.

        Off a terminal (cron, a pipe) a bar would only spray control characters into the log,
        so each step is printed as one plain line instead.
        """
        if self.quiet:
            yield EpochProgress(None, None)
            return
        if self.json:
            yield EpochProgress(None, None, self, description)
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

    def __init__(self, bar: Any, task: Any, plain: Reporter | None = None, description: str = "") -> None:
        self._bar = bar
        self._task = task
        self._plain = plain
        self._description = description

    def advance(self, detail: str = "", total: int | None = None, **fields: Any) -> None:
        """One step done; ``detail`` is its line of text, ``fields`` the same as numbers
        (e.g. ``epoch=3, loss=0.12``) for JSON logs."""
        if self._bar is not None:
            self._bar.update(self._task, advance=1, detail=detail, total=total)
        elif self._plain is not None and self._plain.json:
            self._plain.event("epoch" if "epoch" in fields else "progress", task=self._description,
                              **(fields or {"message": detail}))
        elif self._plain is not None and detail:
            self._plain.info(detail)


def _json_safe(value: Any) -> Any:
    """Numbers, strings, lists and dicts as JSON takes them: NaN and infinities become None,
    NumPy scalars plain numbers, anything else its text."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float) or hasattr(value, "item"):
        number = value.item() if hasattr(value, "item") else value
        if isinstance(number, float) and not math.isfinite(number):
            return None
        return number
    return str(value)


def short_times(texts: Sequence[str], times_of_day: bool = False) -> list[str]:
    """ISO timestamps as a table column shows them: dates alone when every one is a midnight
    without a UTC offset (unless ``times_of_day``: data whose steps are shorter than a day),
    else to the minute (to the second where any has seconds), with the offset where there is
    one."""
    whens = [datetime.fromisoformat(text) for text in texts]
    if not times_of_day and all(when.time() == datetime.min.time() and when.utcoffset() is None for when in whens):
        return [when.strftime("%Y-%m-%d") for when in whens]
    form = "%Y-%m-%d %H:%M" + (":%S" if any(when.second or when.microsecond for when in whens) else "")
    return [when.strftime(form) + _utc_offset(when) for when in whens]


def _utc_offset(when: datetime) -> str:
    """"+02:00" as ISO writes it, or nothing for a time without an offset."""
    offset = when.strftime("%z")
    return f"{offset[:3]}:{offset[3:5]}" if offset else ""


def _is_number(cell: Any) -> bool:
    return isinstance(cell, numbers.Number) and not isinstance(cell, bool)


def _format_cell(cell: Any) -> str:
    # a baseline with nothing to compare (seasonal naive on a series shorter than a season)
    if cell is None or (isinstance(cell, float) and cell != cell):
        return "n/a"
    if isinstance(cell, float):
        # sales of 14,340 read as money, not as 1.434e+04; below, 4 significant digits
        return f"{cell:,.0f}" if 1e4 <= abs(cell) < 1e15 else f"{cell:.4g}"
    return str(cell)


QUIET = Reporter(quiet=True)


def reporter_given(function: str, reporter: Any) -> Reporter:
    """The ``reporter`` argument of a library function: None prints nothing, as :data:`QUIET`;
    anything but a :class:`Reporter` is refused at once, naming it (it failed on its first
    message, after the data was read)."""
    if reporter is None:
        return QUIET
    if not isinstance(reporter, Reporter):
        raise TypeError(f"{function}(): reporter must be a Reporter or None, got {type(reporter).__name__} "
                        f"{reporter!r}")
    return reporter


def counted(n: int, noun: str) -> str:
    """"1 epoch", "3 epochs": a count and its noun, plural where it needs one."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


#: How much lower than the linear baseline's the network's validation MAE must be for the
#: network to be worth its training time (a fraction of it).
NETWORK_MARGIN = 0.01


def closest(name: str, choices: Sequence[str], cutoff: float = 0.6) -> str | None:
    """The one of ``choices`` (as spelled there) that ``name`` most likely meant: the same in
    another case, or a close spelling; None where none is close. For "did you mean" hints."""
    import difflib

    folded = {choice.casefold(): choice for choice in reversed(choices)}  # of equal ones, the first
    match = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=cutoff)
    return folded[match[0]] if match else None


def linear_baseline_note(metrics: dict[str, dict[str, Any]], model: str = "network") -> str | None:
    """A line of advice when the linear baseline is the better choice: for the network, when
    it forecasts validation no better than the linear baseline, which trains in a fraction of
    its time (its MAE within :data:`NETWORK_MARGIN` of the linear's, or above); for the naive
    or seasonal-naive model, when the linear baseline forecasts validation clearly better.
    None otherwise, and for the linear model itself.

    Args:
        metrics: validation errors by method, as ``TrainResult.metrics`` (or a model's
            metadata) has them: ``{"model": {"mae": ...}, "linear": {"mae": ...}, ...}``.
        model: the kind of model trained (``TrainOptions.model``).
    """
    trained, linear = (metrics.get(name, {}).get("mae") for name in ("model", "linear"))
    # a missing or NaN error compares false: no advice without both
    if model == "linear" or trained is None or linear is None or not trained >= (1 - NETWORK_MARGIN) * linear:
        return None
    how = "better" if linear < (1 - NETWORK_MARGIN) * trained else "about as well"
    if model != "network":
        return (f"The linear baseline forecasts validation {how} (MAE {linear:.4g} against {trained:.4g}): "
                "consider --model linear." if how == "better" else None)
    return (f"The linear baseline forecasts validation {how} (MAE {linear:.4g} against {trained:.4g}) and trains in "
            "a fraction of the time: consider --model linear.")


def unscaled_mase_warning(names: Sequence[str], before: str) -> str | None:
    """What to say when MASE leaves out series whose values ``before`` (the validation part,
    the first cut-off) repeated themselves exactly every season: their errors are no number
    of seasonal differences. None when there are none."""
    if not names:
        return None
    return (f"MASE leaves out {series_text(list(names))}: {'its' if len(names) == 1 else 'their'} values before "
            f"{before} do not change from one season to the next, which leaves no seasonal difference to scale "
            "the errors by; MAE and RMSE include them")


#: The most series a line names; of more, it names the first ones and counts them all.
NAMED_SERIES = 5


def first_few(texts: Any, shown: int = 3) -> str:
    """The first ``shown`` of ``texts`` and how many more: "a, b, c and 4 more"."""
    texts = list(texts)
    return ", ".join(texts[:shown]) + (f" and {len(texts) - shown:,} more" if len(texts) > shown else "")


def series_text(names: Sequence[str]) -> str:
    """"2 series (load, temperature)": how many series, and which (the first few of many, "30
    series (a, b, c, d, e, ...)"), so that a run that took every numeric column of a file for
    a target shows it."""
    count = f"{len(names):,} series"
    if not names:
        return count
    return f"{count} ({', '.join(names[:NAMED_SERIES])}{', ...' if len(names) > NAMED_SERIES else ''})"


def epochs_text(epochs_run: int, best_epoch: int, members: list[dict[str, int]] | None = None) -> str:
    """How a network's training ended, e.g. "12 epochs (best 2)", for the train and evaluate reports."""
    if members:  # an ensemble: each member stopped on its own
        return ", ".join(f"{epochs_text(m['epochs_run'], m['best_epoch'])} for member {i}"
                         for i, m in enumerate(members, start=1))
    # best 0: the network starts as the linear model and no epoch bettered it on validation
    best = f"best {best_epoch}" if best_epoch else "none better than the linear start, which was kept"
    return f"{counted(epochs_run, 'epoch')} ({best})"
