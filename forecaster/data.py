"""Read a CSV file into validated, regular time series.

This is the one place where data is checked. Everything downstream relies on what
:func:`load_dataset` guarantees for each :class:`Series`: timestamps sorted, unique and on a
regular grid of a known frequency; values numeric and finite; short gaps filled (and marked);
no leading or trailing gaps.

Two layouts are read:

* wide: one time column and one column per series (each numeric column is a target);
  covariate columns are shared by every series;
* long: a time column, a series-id column and one or more target columns; one series per
  (id, target) pair.

"Row" in every message is the line number in the file, the header being line 1, so that the
user can jump straight to it in an editor.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from .errors import ConfigError, DataError
from .report import QUIET, Reporter

ON_DUPLICATE = ("error", "mean", "last", "first")

_NS_PER_DAY = 86_400 * 10**9
_NS_PER_MINUTE = 60 * 10**9
# A column is a timestamp column when this share of its non-empty cells parse as dates.
_TIME_SHARE = 0.9
# A text column whose cells are mostly numbers is a numeric column with typos, not a label.
_NUMBER_SHARE = 0.5
# Detection only needs a sample; parsing every cell of every text column would be slow.
_DETECT_SAMPLE = 1000
# Long files can hold thousands of series: past this many, trimming warnings are summarised.
_MAX_TRIM_WARNINGS = 5
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


@dataclass(frozen=True)
class DataOptions:
    """How to read a CSV file: which columns play which role, and how to repair it.

    Args:
        time_col: the timestamp column; None detects it.
        id_col: the series-id column of a long file; None reads the file as wide.
        targets: the columns to forecast; empty means every numeric column (wide files
            only: a long file must name them).
        covariates: extra numeric input columns, known for the past only.
        max_gap: the longest run of missing steps that is filled by interpolation.
        on_duplicate: what to do with rows sharing a timestamp within a series:
            ``"error"``, or combine them with ``"mean"``, ``"last"`` or ``"first"``.

    Raises:
        ConfigError: ``max_gap`` is negative or ``on_duplicate`` is not one of the above.
    """

    time_col: str | None = None
    id_col: str | None = None
    targets: tuple[str, ...] = ()
    covariates: tuple[str, ...] = ()
    max_gap: int = 3
    on_duplicate: str = "error"

    def __post_init__(self) -> None:
        # Lists come from JSON and the CLI; a bare string would otherwise split into letters.
        for name in ("targets", "covariates"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        if self.on_duplicate not in ON_DUPLICATE:
            raise ConfigError(f"--on-duplicate must be one of {', '.join(ON_DUPLICATE)}; got {self.on_duplicate!r}")
        if isinstance(self.max_gap, bool) or not isinstance(self.max_gap, (int, np.integer)) or self.max_gap < 0:
            raise ConfigError(f"--max-gap must be a whole number >= 0; got {self.max_gap!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe values (lists, not tuples) that :meth:`from_dict` turns back."""
        return {
            "time_col": self.time_col,
            "id_col": self.id_col,
            "targets": list(self.targets),
            "covariates": list(self.covariates),
            "max_gap": int(self.max_gap),
            "on_duplicate": self.on_duplicate,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataOptions:
        """Rebuild options from :meth:`to_dict` output; missing keys take their defaults.

        Raises:
            ConfigError: ``d`` has keys this version does not know.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(
                f"unknown data option(s) {', '.join(unknown)}; they were probably written by a newer forecaster"
            )
        return cls(**d)


@dataclass
class Series:
    """One validated series on a regular grid.

    Attributes:
        name: wide files: the target column; long files: the id, or ``"{id}/{target}"``
            when there are several targets.
        target: the target column.
        index: `(n_steps,)` sorted, unique, regular at ``freq``; time zone as in the file.
        freq: pandas offset alias, e.g. ``"h"``, ``"D"``, ``"MS"``, ``"15min"``, ``"W-SUN"``.
        values: `(n_steps,)` float64 target values, short gaps filled, all finite.
        covariates: `(n_steps, n_covariates)` float64, filled the same way, all finite.
        missing: `(n_steps,)` bool, True where the target was absent from the file (empty
            cell or missing timestamp) and was filled.
        first_row: file row of the series' first step, for messages.
    """

    name: str
    target: str
    index: pd.DatetimeIndex
    freq: str
    values: np.ndarray
    covariates: np.ndarray
    missing: np.ndarray
    first_row: int


@dataclass
class Dataset:
    """Every series read from one file.

    Attributes:
        path: the path as the user gave it, for messages.
        options: the options with ``time_col`` and ``targets`` resolved, so that reading
            another file with them needs no detection.
        series: one entry per target (wide) or per (id, target) (long).
        n_filled: how many target and covariate values were filled by interpolation.
    """

    path: str
    options: DataOptions
    series: list[Series]
    n_filled: int


def load_dataset(
    path: str | os.PathLike,
    options: DataOptions = DataOptions(),
    reporter: Reporter = QUIET,
    trained_model: str | None = None,
) -> Dataset:
    """Read a CSV file into regular, gap-filled series.

    Args:
        path: the CSV file.
        options: column roles and repair settings.
        reporter: receives warnings about ignored columns, trimmed ends and filled gaps.
        trained_model: the model directory the options come from, when they were not given
            on this command line; a missing column is then blamed on the file not matching it.

    Returns:
        A :class:`Dataset` whose options are resolved.

    Raises:
        DataError: the file cannot be used as it is; the one-line message names the file,
            the column and the row where it can, and says what to do.
    """
    shown = os.fspath(path)
    # Notes on what reading did are given once the whole file is accepted: when it is not,
    # the one-line error is all that is printed.
    pending = _PendingNotes()
    frame, rows = _read_csv(shown)
    options = _resolve_columns(frame, options, shown, pending, trained_model)
    times, tz = _parse_times(frame[options.time_col], rows, shown, options.time_col)
    targets = _number_matrix(frame, options.targets, rows, shown)
    covariates = _number_matrix(frame, options.covariates, rows, shown)
    for name in (*options.targets, *options.covariates):
        if frame[name].isna().all():
            raise DataError(f"{shown}: column '{name}' has no values; fill it or leave it out")

    if options.id_col:
        codes, ids = _series_ids(frame[options.id_col], rows, shown, options.id_col)
    else:
        codes, ids = np.zeros(len(frame), dtype=np.int64), [None]

    # Sorting by row last keeps file order among equal timestamps, which "first"/"last" rely on.
    order = np.lexsort((rows, times, codes))
    codes, times, rows = codes[order], times[order], rows[order]
    targets, covariates = targets[order], covariates[order]
    codes, times, rows, targets, covariates = _combine_duplicates(
        codes, times, rows, targets, covariates, options.on_duplicate, ids, tz, shown, pending
    )

    reader = _SeriesBuilder(shown, options, tz)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    series: list[Series] = []
    for start, end in zip(starts, ends, strict=True):
        series += reader.build(
            ids[codes[start]], times[start:end], rows[start:end], targets[start:end], covariates[start:end]
        )
    pending.replay(reporter)
    reader.report(reporter)
    return Dataset(path=shown, options=options, series=series, n_filled=reader.n_filled)


def seasonal_period(freq: str) -> int:
    """The number of steps in one natural cycle of ``freq``.

    24 for hourly, 7 daily, 5 business-daily, 52 weekly, 12 monthly, 4 quarterly, 1 yearly;
    steps per day for other steps that divide a day (``15min`` -> 96), steps per minute for
    steps below a minute that divide it (``s`` -> 60), 1 when there is no natural cycle.

    Args:
        freq: a pandas offset alias such as :attr:`Series.freq`.

    Returns:
        The period, >= 1.
    """
    offset = to_offset(freq)
    n = max(int(offset.n), 1)
    # Day is a Tick in pandas 2 and a calendar offset in pandas 3: test it first.
    if isinstance(offset, pd.offsets.Day):
        return _per_cycle(n, {1: 7, 7: 52})
    if isinstance(offset, pd.offsets.Tick):
        step = pd.Timedelta(offset).value
        if step >= _NS_PER_DAY:
            return _per_cycle(step // _NS_PER_DAY if step % _NS_PER_DAY == 0 else 0, {1: 7, 7: 52})
        if step >= _NS_PER_MINUTE:
            return _NS_PER_DAY // step if _NS_PER_DAY % step == 0 else 1
        return _NS_PER_MINUTE // step if _NS_PER_MINUTE % step == 0 else 1
    if isinstance(offset, pd.offsets.Week):
        return 52 // n if 52 % n == 0 else 1
    if isinstance(offset, pd.offsets.BusinessDay):
        return _per_cycle(n, {1: 5})
    if isinstance(offset, (pd.offsets.SemiMonthBegin, pd.offsets.SemiMonthEnd)):
        return 24 // n if 24 % n == 0 else 1
    o = pd.offsets
    if isinstance(offset, (o.MonthBegin, o.MonthEnd, o.BusinessMonthBegin, o.BusinessMonthEnd)):
        return 12 // n if 12 % n == 0 else 1
    if isinstance(offset, (o.QuarterBegin, o.QuarterEnd, o.BQuarterBegin, o.BQuarterEnd)):
        return 4 // n if 4 % n == 0 else 1
    return 1


def future_index(last: pd.Timestamp, freq: str, steps: int) -> pd.DatetimeIndex:
    """The ``steps`` timestamps that follow ``last`` at ``freq``, in ``last``'s time zone.

    Args:
        last: the last known timestamp, e.g. ``series.index[-1]``.
        freq: the series' offset alias.
        steps: how many timestamps to make (0 gives an empty index).

    Returns:
        `(steps,)` DatetimeIndex.
    """
    offset = to_offset(freq)
    return pd.date_range(start=pd.Timestamp(last) + offset, periods=int(steps), freq=offset)


# --- reading -------------------------------------------------------------------------------


def _read_csv(shown: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Read the file; return the frame without empty lines and each row's file line number.

    Returns:
        The frame and `(n_rows,)` int64 line numbers (header = 1).
    """
    file = Path(shown)
    if not file.exists():
        raise DataError(f"{shown}: file not found")
    if file.is_dir():
        raise DataError(f"{shown}: is a directory, not a CSV file; give the path of the file itself")
    try:
        size = file.stat().st_size
        if size == 0 or (size < 65_536 and not file.read_bytes().strip()):
            raise DataError(f"{shown}: file is empty")
        # Blank lines are kept (as empty rows, dropped below) so that index + 2 is the line
        # number; low_memory=False types each column as a whole instead of chunk by chunk.
        frame = pd.read_csv(file, skip_blank_lines=False, low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{shown}: file is empty") from None
    except UnicodeDecodeError:
        raise DataError(f"{shown}: is not UTF-8 text; save it as a UTF-8 CSV file") from None
    except pd.errors.ParserError as exc:
        reason = str(exc).strip().splitlines()[-1]
        raise DataError(f"{shown}: cannot be read as CSV ({reason}); check quoting and the number of fields") from None
    except PermissionError:
        raise DataError(f"{shown}: cannot be read (permission denied); check the file's permissions") from None
    except OSError as exc:
        raise DataError(f"{shown}: cannot be read ({exc.strerror or exc}); check the path and the file") from None
    rows = np.arange(2, len(frame) + 2, dtype=np.int64)
    blank = frame.isna().all(axis=1).to_numpy()
    if blank.any():
        frame, rows = frame.loc[~blank].reset_index(drop=True), rows[~blank]
    if frame.empty:
        raise DataError(f"{shown}: has a header but no data rows")
    frame.columns = [str(c) for c in frame.columns]
    if len(frame.columns) == 1:
        name = frame.columns[0]
        hint = next(
            (f"; it seems to be separated by {sep!r}: save it with commas" for sep in ";\t|" if sep in name), ""
        )
        raise DataError(
            f"{shown}: has only one column ('{name}'); a time column and a column of numbers are needed{hint}"
        )
    return frame, rows


def _resolve_columns(
    frame: pd.DataFrame, options: DataOptions, shown: str, reporter: Reporter, trained_model: str | None
) -> DataOptions:
    """Check every named column exists, detect the time column and the targets."""
    columns = list(frame.columns)
    listing = ", ".join(columns)
    named = [("--time-col", options.time_col), ("--id-col", options.id_col)]
    named += [("--target", c) for c in options.targets] + [("--covariate", c) for c in options.covariates]
    seen: dict[str, str] = {}
    for flag, column in named:
        if column is None:
            continue
        if column not in frame.columns and trained_model is not None:
            raise DataError(
                f"{shown}: does not match the model in {trained_model}: it has no column '{column}' "
                f"({flag} at training); columns are: {listing}. Export the columns the model was trained on, or retrain"
            )
        if column not in frame.columns:
            raise DataError(f"{shown}: column '{column}' named by {flag} does not exist; columns are: {listing}")
        if column in seen and seen[column] != flag:
            raise DataError(f"{shown}: column '{column}' is named by both {seen[column]} and {flag}; give it one role")
        seen[column] = flag
    targets, covariates = tuple(dict.fromkeys(options.targets)), tuple(dict.fromkeys(options.covariates))
    if options.id_col and not targets:
        raise DataError(
            f"{shown}: a long file (--id-col {options.id_col}) needs the column(s) to forecast; "
            f"pass --target (columns are: {listing})"
        )

    time_col = options.time_col or _detect_time_column(frame, set(seen), shown)
    if not targets:
        targets = _default_targets(frame, {time_col, *seen}, shown, reporter)
    return dataclasses.replace(options, time_col=time_col, targets=targets, covariates=covariates)


def _detect_time_column(frame: pd.DataFrame, taken: set[str], shown: str) -> str:
    found = []
    for name in frame.columns:
        column = frame[name]
        if name in taken or pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue
        cells = column.dropna()
        if cells.empty:
            continue
        if len(cells) > _DETECT_SAMPLE:
            cells = cells.iloc[np.linspace(0, len(cells) - 1, _DETECT_SAMPLE).astype(np.int64)]
        cells = cells.astype(str)
        if _number_share(cells) > _NUMBER_SHARE:
            continue
        # Without a digit, dateutil still accepts words such as "may" or "monday".
        has_digit = cells.str.contains(r"\d", regex=True).to_numpy()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # utc=True: a column with mixed offsets is still a timestamp column (rejected later).
                parsed = pd.to_datetime(cells, format="mixed", errors="coerce", utc=True)
        except (ValueError, TypeError, OverflowError):
            continue
        if (parsed.notna().to_numpy() & has_digit).mean() >= _TIME_SHARE:
            found.append(name)
    if not found:
        raise DataError(f"{shown}: no column looks like timestamps; name it with --time-col")
    if len(found) > 1:
        names = ", ".join(f"'{c}'" for c in found)
        raise DataError(f"{shown}: several columns look like timestamps ({names}); choose one with --time-col")
    return found[0]


def _default_targets(frame: pd.DataFrame, taken: set[str], shown: str, reporter: Reporter) -> tuple[str, ...]:
    targets, ignored = [], []
    for name in frame.columns:
        if name in taken:
            continue
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            targets.append(name)
            continue
        if not pd.api.types.is_bool_dtype(column) and _number_share(column.dropna().astype(str)) > _NUMBER_SHARE:
            # Mostly numbers: a numeric column with typos; _number_matrix names the bad cell.
            targets.append(name)
            continue
        ignored.append(name)
    if not targets:
        text = ""
        if ignored:
            names = ", ".join(f"'{c}'" for c in ignored)
            text = f" (column {names} is not numeric)" if len(ignored) == 1 else f" (columns {names} are not numeric)"
        raise DataError(f"{shown}: no numeric column to forecast{text}; the file needs at least one column of numbers")
    for name in ignored:
        reporter.warn(f"ignoring non-numeric column '{name}'")
    return tuple(targets)


def _number_share(cells: pd.Series) -> float:
    """The share of non-blank text cells that are numbers (0 when all are blank)."""
    cells = cells.str.strip()
    cells = cells[cells != ""]
    return float(pd.to_numeric(cells, errors="coerce").notna().mean()) if len(cells) else 0.0


def _parse_times(column: pd.Series, rows: np.ndarray, shown: str, name: str) -> tuple[np.ndarray, Any]:
    """Parse the time column.

    Returns:
        `(n_rows,)` int64 nanoseconds since the epoch (UTC for aware timestamps) and the
        time zone (None when naive).
    """
    empty = column.isna().to_numpy()
    if empty.any():
        row = rows[np.argmax(empty)]
        raise DataError(f"{shown}: column '{name}', row {row}: the timestamp is empty; fill it or remove the row")
    if pd.api.types.is_numeric_dtype(column):
        # Numbers such as 20240131 or 2024 are dates written without separators.
        if pd.api.types.is_float_dtype(column) and (column % 1 == 0).all():
            column = column.astype(np.int64)
        column = column.astype(str)
    # Long files repeat each timestamp once per series: parse every distinct text once.
    codes, uniques = pd.factorize(column)
    parsed = _parse_texts(pd.Index(uniques).astype(str), shown, name)
    bad = np.asarray(parsed.isna())
    if bad.any():
        first = np.flatnonzero(bad[codes])[0]
        raise DataError(
            f"{shown}: column '{name}', row {rows[first]}: {str(column.iloc[first])!r} is not a timestamp; "
            "fix or remove that value"
        )
    try:
        nanos = parsed.as_unit("ns").asi8
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        raise DataError(f"{shown}: column '{name}' has timestamps outside 1677-2262; fix those values") from None
    return nanos[codes], parsed.tz


def _parse_texts(texts: pd.Index, shown: str, name: str) -> pd.DatetimeIndex:
    """Parse distinct timestamp texts; unparsable ones become NaT."""
    mixed_zones = DataError(
        f"{shown}: column '{name}' has mixed time zone offsets (or timestamps with and without one); "
        "write every timestamp in UTC or in one fixed offset"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = None
        # The inferred (usually ISO) format is fast; "mixed" parses each value on its own.
        for kwargs in ({}, {"format": "mixed"}, {"format": "mixed", "errors": "coerce"}):
            try:
                parsed = pd.to_datetime(texts, **kwargs)
                break
            except (ValueError, TypeError, OverflowError) as exc:
                if _is_mixed_zone_error(exc):
                    raise mixed_zones from None
    if not isinstance(parsed, pd.DatetimeIndex):
        # pandas 2 returns objects instead of raising when offsets differ.
        raise mixed_zones
    return parsed


def _is_mixed_zone_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(key in text for key in ("mixed timezones", "mixed time zones", "tz-aware", "tz-naive"))


def _number_matrix(frame: pd.DataFrame, names: tuple[str, ...], rows: np.ndarray, shown: str) -> np.ndarray:
    """Columns as floats, rejecting text and infinities.

    Returns:
        `(n_rows, len(names))` float64, NaN where a cell is empty.
    """
    matrix = np.empty((len(frame), len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            bad = column.notna().to_numpy() & np.isnan(values)
            if bad.any():
                # Only the failed cells are looked at again: padded numbers and blank cells are fine.
                text = column[bad].astype(str).str.strip()
                blank = (text == "").to_numpy()
                retry = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
                still_bad = ~blank & np.isnan(retry)
                if still_bad.any():
                    where = np.flatnonzero(bad)[np.argmax(still_bad)]
                    raise DataError(
                        f"{shown}: column '{name}', row {rows[where]}: {str(column.iloc[where])!r} is not a number; "
                        "fix or remove that value"
                    )
                values = values.copy()  # copy-on-write hands out read-only arrays
                values[bad] = retry
        infinite = np.isinf(values)
        if infinite.any():
            where = np.argmax(infinite)
            raise DataError(
                f"{shown}: column '{name}', row {rows[where]}: {values[where]} is not a finite number; "
                "fix or remove that value"
            )
        matrix[:, j] = values
    return matrix


def _series_ids(column: pd.Series, rows: np.ndarray, shown: str, name: str) -> tuple[np.ndarray, list[str]]:
    """Integer code per row and the ids as text, in order of first appearance."""
    empty = column.isna().to_numpy()
    if empty.any():
        raise DataError(
            f"{shown}: column '{name}', row {rows[np.argmax(empty)]}: the series id is empty; fill it or remove the row"
        )
    codes, uniques = pd.factorize(column)
    return codes.astype(np.int64), [str(u) for u in uniques]


def _combine_duplicates(
    codes: np.ndarray,
    times: np.ndarray,
    rows: np.ndarray,
    targets: np.ndarray,
    covariates: np.ndarray,
    how: str,
    ids: list[str | None],
    tz: Any,
    shown: str,
    reporter: Reporter,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reject, or merge, rows sharing a timestamp within a series.

    Args:
        codes, times, rows: `(n,)` series code, int64 ns and file row, sorted by all three.
        targets: `(n, n_targets)`; covariates: `(n, n_covariates)`.
        how: :attr:`DataOptions.on_duplicate`.

    Returns:
        The same five arrays with one row per (series, timestamp).
    """
    same = (codes[1:] == codes[:-1]) & (times[1:] == times[:-1])
    if not same.any():
        return codes, times, rows, targets, covariates
    if how == "error":
        second = np.argmax(same) + 1
        series = "" if ids[codes[second]] is None else f" of series '{ids[codes[second]]}'"
        count = int(same.sum())
        more = f" ({count} duplicate rows in all)" if count > 1 else ""
        raise DataError(
            f"{shown}: timestamp {_stamp(_timestamp(times[second], tz))}{series} appears in rows "
            f"{rows[second - 1]} and {rows[second]}{more}; pass --on-duplicate mean|last|first to combine them"
        )
    first_of_group = np.r_[True, ~same]
    keep = np.r_[~same, True] if how == "last" else first_of_group
    if how == "mean":
        group = np.cumsum(first_of_group) - 1
        merged = pd.DataFrame(np.column_stack([targets, covariates])).groupby(group).mean().to_numpy()
        targets, covariates = merged[:, : targets.shape[1]], merged[:, targets.shape[1] :]
        # Each merged row is cited by the first of the rows it came from.
        codes, times, rows = codes[keep], times[keep], rows[keep]
    else:
        codes, times, rows, targets, covariates = codes[keep], times[keep], rows[keep], targets[keep], covariates[keep]
    reporter.info(f"combined {int(same.sum())} duplicate rows into others (--on-duplicate {how})")
    return codes, times, rows, targets, covariates


class _PendingNotes:
    """Stands in for the reporter while a file is read; :meth:`replay` passes the notes on."""

    def __init__(self) -> None:
        self.notes: list[tuple[str, str]] = []

    def info(self, message: str) -> None:
        self.notes.append(("info", message))

    def warn(self, message: str) -> None:
        self.notes.append(("warn", message))

    def replay(self, reporter: Reporter) -> None:
        for kind, message in self.notes:
            getattr(reporter, kind)(message)


# --- one group of rows: the whole wide file, or one id of a long file ---------------------


class _SeriesBuilder:
    """Turns the sorted, unique rows of one group into regular, filled series.

    Also tallies what was filled and trimmed, so that each kind of warning is given once.
    """

    def __init__(self, shown: str, options: DataOptions, tz: Any) -> None:
        self.shown = shown
        self.options = options
        self.tz = tz
        self.n_filled = 0
        self.n_gaps = 0
        self.trimmed: list[str] = []

    def build(
        self, series_id: str | None, times: np.ndarray, rows: np.ndarray, targets: np.ndarray, covariates: np.ndarray
    ) -> list[Series]:
        """Series of one group.

        Args:
            series_id: the id (long files) or None (wide).
            times: `(n,)` int64 ns, sorted and unique.
            rows: `(n,)` file rows.
            targets: `(n, n_targets)` float64 with NaN for empty cells.
            covariates: `(n, n_covariates)` float64 with NaN for empty cells.
        """
        where = "" if series_id is None else f" (series '{series_id}')"
        index = _to_index(times, self.tz)
        owner = "the file" if series_id is None else f"series '{series_id}' (row {rows.min()})"
        freq = self._frequency(index, owner, where)
        grid, positions = self._grid(index, times, rows, freq, where)
        n_steps = len(grid)
        row_at = np.full(n_steps, -1, dtype=np.int64)
        row_at[positions] = rows
        target_grid = np.full((n_steps, targets.shape[1]), np.nan)
        target_grid[positions] = targets
        covariate_grid = np.full((n_steps, covariates.shape[1]), np.nan)
        covariate_grid[positions] = covariates

        spans = []
        for j, target in enumerate(self.options.targets):
            present = np.flatnonzero(~np.isnan(target_grid[:, j]))
            if present.size == 0:
                raise DataError(f"{self.shown}: column '{target}'{where} has no values; fill it or leave it out")
            spans.append((present[0], present[-1] + 1))
        # Covariates are filled once over the span of all this group's targets, then sliced.
        low, high = min(s[0] for s in spans), max(s[1] for s in spans)
        shared = np.empty((high - low, covariates.shape[1]))
        for j, name in enumerate(self.options.covariates):
            shared[:, j], _ = self._fill(covariate_grid[low:high, j], grid[low:high], row_at[low:high], name, where)

        result = []
        for j, (target, (start, stop)) in enumerate(zip(self.options.targets, spans, strict=True)):
            if self.options.id_col is None:
                name = target
            elif len(self.options.targets) == 1:
                name = series_id
            else:
                name = f"{series_id}/{target}"
            ends = [f"{count} {side}" for count, side in ((start, "leading"), (n_steps - stop, "trailing")) if count]
            if ends:
                self.trimmed.append(
                    f"series '{name}': dropped {' and '.join(ends)} step(s) where '{target}' has no value"
                )
            values, missing = self._fill(
                target_grid[start:stop, j], grid[start:stop], row_at[start:stop], target, where
            )
            if values.min() == values.max():
                raise DataError(
                    f"{self.shown}: column '{target}'{where} is constant (every value is {values[0]}); "
                    "a constant series cannot be forecast or scaled; drop it"
                )
            result.append(
                Series(
                    name=name,
                    target=target,
                    index=grid[start:stop],
                    freq=freq,
                    values=values,
                    covariates=shared[start - low : stop - low].copy(),
                    missing=missing,
                    first_row=int(row_at[start]),
                )
            )
        return result

    def report(self, reporter: Reporter) -> None:
        for message in self.trimmed[:_MAX_TRIM_WARNINGS]:
            reporter.warn(message)
        if len(self.trimmed) > _MAX_TRIM_WARNINGS:
            reporter.warn(f"... and {len(self.trimmed) - _MAX_TRIM_WARNINGS} more series trimmed the same way")
        if self.n_filled:
            reporter.warn(
                f"filled {self.n_filled} missing values in {self.n_gaps} gap{'s' if self.n_gaps != 1 else ''} of at most "
                f"{self.options.max_gap} steps (--max-gap)"
            )

    def _frequency(self, index: pd.DatetimeIndex, owner: str, where: str) -> str:
        if len(index) < 3:
            raise DataError(
                f"{self.shown}: {owner} has only {len(index)} distinct timestamp(s); "
                "at least 3 are needed to infer the frequency"
            )
        freq = _infer_freq(index)
        if freq is None:
            freq = _fallback_freq(index)
        if freq is None:
            step = pd.Timedelta(int(_most_common_step(index.asi8)), unit="ns")
            raise DataError(
                f"{self.shown}: cannot infer the frequency of the timestamps{where} (most common step {step}); "
                "resample the data to a regular frequency first"
            )
        return freq

    def _grid(self, index, times, rows, freq, where) -> tuple[pd.DatetimeIndex, np.ndarray]:
        """The regular grid from the first to the last timestamp, and each row's position on it."""
        offset = to_offset(freq)
        step = _fixed_step(offset, self.tz)
        if step is not None:
            # Fixed steps: integer arithmetic instead of building and searching a grid.
            elapsed = times - times[0]
            off_grid = elapsed % step != 0
            positions = elapsed // step
            n_steps = int(positions[-1]) + 1
        else:
            grid = pd.date_range(index[0], index[-1], freq=offset)
            if len(grid) == 0:
                # Not even the first timestamp falls on the offset (e.g. "MS" on the 15th).
                positions, off_grid = np.zeros(len(index), dtype=np.int64), np.ones(len(index), dtype=bool)
            else:
                positions = np.minimum(grid.searchsorted(index), len(grid) - 1)
                off_grid = np.asarray(grid[positions] != index)
            n_steps = len(grid)
        if off_grid.any():
            bad = np.argmax(off_grid)
            raise DataError(
                f"{self.shown}: timestamps{where} are not on a regular grid of step {freq} "
                f"(row {rows[bad]}: {_stamp(index[bad])} is between grid points); resample the data first"
            )
        if step is not None:
            # A few long holes could ask for a huge grid; the first one is an error anyway.
            jumps = np.diff(positions) - 1
            if n_steps > 10 * len(times) + 100_000 and jumps.max() > self.options.max_gap:
                at = np.argmax(jumps)
                raise DataError(
                    f"{self.shown}: timestamps{where} jump from {_stamp(index[at])} (row {rows[at]}) to "
                    f"{_stamp(index[at + 1])}, {jumps[at]} missing steps of {freq}; at most --max-gap "
                    f"{self.options.max_gap} are filled; pass a larger --max-gap or fix the data"
                )
            grid = pd.date_range(index[0], periods=n_steps, freq=offset)
        return grid, np.asarray(positions, dtype=np.int64)

    def _fill(self, values, grid, row_at, column, where) -> tuple[np.ndarray, np.ndarray]:
        """Interpolate runs of at most max_gap missing steps.

        A target's first and last steps are present (the series is trimmed to them); a
        covariate's may be missing, and are then filled with the nearest value.

        Args:
            values: `(n,)` with NaN where missing.
            grid: `(n,)` the timestamps, for messages.
            row_at: `(n,)` file row of each step, -1 where the timestamp is absent.

        Returns:
            The filled `(n,)` values and the `(n,)` mask of filled steps.
        """
        missing = np.isnan(values)
        if not missing.any():
            # A copy: the input is a strided view into the whole group's grid.
            return values.copy(), missing
        present = np.flatnonzero(~missing)
        if present.size == 0:
            raise DataError(
                f"{self.shown}: column '{column}'{where} has no values where the targets have; fill it or leave it out"
            )
        padded = np.r_[False, missing, False].astype(np.int8)
        starts = np.flatnonzero(np.diff(padded) == 1)
        stops = np.flatnonzero(np.diff(padded) == -1)
        lengths = stops - starts
        too_long = lengths > self.options.max_gap
        if too_long.any():
            k = np.argmax(too_long)
            start, stop = starts[k], stops[k]
            anchor = f"after row {row_at[start - 1]}" if start > 0 else f"before row {row_at[stop]}"
            raise DataError(
                f"{self.shown}: column '{column}'{where}: {lengths[k]} consecutive missing steps from "
                f"{_stamp(grid[start])} to {_stamp(grid[stop - 1])} ({anchor}); at most --max-gap "
                f"{self.options.max_gap} are filled; pass a larger --max-gap or fix the data"
            )
        # np.interp holds the end values beyond the first/last present step (covariate edges).
        filled = values.copy()
        filled[missing] = np.interp(np.flatnonzero(missing), present, values[present])
        self.n_filled += int(missing.sum())
        self.n_gaps += len(starts)
        return filled, missing


# --- frequencies ----------------------------------------------------------------------------


def _infer_freq(index: pd.DatetimeIndex) -> str | None:
    with warnings.catch_warnings():
        # pandas >= 3 warns that infer_freq will return an offset; both forms are handled.
        warnings.simplefilter("ignore")
        try:
            freq = pd.infer_freq(index)
        except (ValueError, TypeError):
            return None
    if freq is None:
        return None
    return freq if isinstance(freq, str) else freq.freqstr


def _most_common_step(nanos: np.ndarray) -> int:
    steps, counts = np.unique(np.diff(nanos), return_counts=True)
    return int(steps[np.argmax(counts)])


def _fallback_freq(index: pd.DatetimeIndex) -> str | None:
    """Guess the frequency of timestamps with holes, which ``pd.infer_freq`` refuses.

    The most common step decides; calendar frequencies (months, quarters, years) are told
    apart by where the timestamps fall. The guess is checked against the grid later.
    """
    step = _most_common_step(index.as_unit("ns").asi8)
    days = step / _NS_PER_DAY
    first = index[0]
    anchor = _MONTHS[first.month - 1]
    starts, ends = bool(index.is_month_start.all()), bool(index.is_month_end.all())
    # Local-midnight data in a zone with summer time is an hour off a whole number of days.
    if 27.9 <= days <= 31.1:
        candidate = _month_based(starts, ends, ("MS", "MS"), ("ME", "M"))
    elif 88.9 <= days <= 92.1:
        in_phase = bool(((index.month - first.month) % 3 == 0).all())
        quarter_starts, quarter_ends = (f"QS-{anchor}", f"QS-{anchor}"), (f"QE-{anchor}", f"Q-{anchor}")
        candidate = _month_based(in_phase and starts, in_phase and ends, quarter_starts, quarter_ends)
    elif 364.9 <= days <= 366.1:
        same_month = bool((index.month == first.month).all())
        year_starts, year_ends = (f"YS-{anchor}", f"AS-{anchor}"), (f"YE-{anchor}", f"A-{anchor}")
        candidate = _month_based(same_month and starts, same_month and ends, year_starts, year_ends)
    elif step % _NS_PER_DAY == 0:
        n_days = step // _NS_PER_DAY
        weekend = bool((index.day_of_week >= 5).any())
        if n_days == 1 and not weekend and index[-1] - index[0] >= pd.Timedelta(days=7):
            candidate = "B"
        elif n_days == 7:
            candidate = f"W-{_WEEKDAYS[first.day_of_week]}"
        else:
            candidate = "D" if n_days == 1 else f"{n_days}D"
    else:
        candidate = to_offset(pd.Timedelta(step, unit="ns")).freqstr
    if candidate is None:
        return None
    # Spell it as infer_freq spells the same data without holes ("QS-JAN" for a series
    # starting in April), so that files with and without holes get equal frequencies.
    try:
        canonical = _infer_freq(pd.date_range(first, periods=16, freq=candidate))
    except (ValueError, OverflowError):
        canonical = None
    return canonical or candidate


def _month_based(starts: bool, ends: bool, start_aliases: tuple[str, str], end_aliases: tuple[str, str]) -> str | None:
    """The start alias if every timestamp starts a month, the end alias if every one ends one."""
    if starts:
        return _alias(*start_aliases)
    if ends:
        return _alias(*end_aliases)
    return None


def _alias(new: str, old: str) -> str:
    """``new`` if the installed pandas knows it (>= 2.2), else the older spelling."""
    try:
        to_offset(new)
        return new
    except ValueError:
        return old


def _fixed_step(offset: pd.offsets.BaseOffset, tz: Any) -> int | None:
    """The step in nanoseconds when it is the same everywhere on the grid, else None."""
    if isinstance(offset, pd.offsets.Day):
        # Calendar days in a zone with summer time last 23 or 25 hours.
        return int(offset.n) * _NS_PER_DAY if tz is None else None
    if isinstance(offset, pd.offsets.Tick):
        return int(pd.Timedelta(offset).value)
    return None


# --- small helpers --------------------------------------------------------------------------


def _per_cycle(n: int, table: dict[int, int]) -> int:
    return table.get(n, 1)


def _to_index(times: np.ndarray, tz: Any) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(times.view("M8[ns]"))
    return index if tz is None else index.tz_localize("UTC").tz_convert(tz)


def _timestamp(nanos: int, tz: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(int(nanos), unit="ns")
    return stamp if tz is None else stamp.tz_localize("UTC").tz_convert(tz)


def _stamp(stamp: pd.Timestamp) -> str:
    """A timestamp as people write it: no zero seconds, no midnight on dates."""
    if stamp.second or stamp.microsecond or stamp.nanosecond:
        text = stamp.strftime("%Y-%m-%d %H:%M:%S")
    elif stamp.hour or stamp.minute:
        text = stamp.strftime("%Y-%m-%d %H:%M")
    else:
        text = stamp.strftime("%Y-%m-%d")
    offset = stamp.strftime("%z") if stamp.tz is not None else ""
    return f"{text}{offset[:3]}:{offset[3:]}" if offset else text
