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

Opening the file (encodings, separators, compression, standard input) is
:mod:`forecaster.csvfile`'s part. Undeclared decimal commas and digit grouping, and mixed
time zones, are refused here with a message that says which option or fix reads them.
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from .csvfile import read_csv
from .errors import ConfigError, DataError
from .report import QUIET, Reporter, closest, counted

ON_DUPLICATE = ("error", "mean", "last", "first")
# Epoch time columns (--time-unit): seconds or milliseconds since 1970-01-01 UTC.
TIME_UNITS = ("s", "ms")
DECIMALS = (".", ",")
#: What a gap longer than --max-gap does when a file is read (see :func:`load_dataset`).
LONG_GAPS = ("refuse", "recent", "fill", "recent-per-id")

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
# Epoch values, per unit, that are taken for timestamps when detecting the time column
# with --time-unit (1973 to 2261), and that make a hint when it is not given.
_EPOCH_RANGE = {"s": (1e8, 9.2e9), "ms": (1e11, 9.2e12)}
_EPOCH_DIGITS = {10: "s", 13: "ms"}
_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds"}
# A number written with digit grouping: "1,234", "1.234.567,8", "12 345"; \1 is the grouping mark.
_GROUPED = re.compile(r"[+-]?\d{1,3}([,.' \u00a0\u202f])\d{3}(?:\1\d{3})*(?:([.,])\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")
# Indian digit grouping: the last three digits, then pairs (lakh, crore): "12,34,567.5".
_INDIAN = r"\d{1,2}(?:,\d{2})*,\d{3}"
# Dates whose day and month order is ambiguous: 01/02/2024, 1.2.24, 01-02-2024 (no year first).
_DAY_MONTH = re.compile(r"\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b")
_YEAR_FIRST = re.compile(r"\s*\d{4}\D")
_YEAR_MONTH = re.compile(r"\s*[12]\d{3}(0[1-9]|1[0-2])\s*")
# A day/month date split into its parts: the two numbers, the separator, the year and what follows.
_DAY_MONTH_PARTS = re.compile(r"\s*\d{1,2}(?P<sep>[/.-])\d{1,2}(?P=sep)(?P<year>\d{4}|\d{2})(?P<rest>(?:\D.*)?)")
# A time of day without a date: 00:05, 13:30:00, 1:15 PM.
_CLOCK = re.compile(r"\s*\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[AaPp]\.?[Mm]\.?)?\s*")
# The UTC offset at the end of a timestamp with a time of day: Z, +01, +0100 or +01:00.
_OFFSET = re.compile(r"\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:(?P<z>[Zz])|(?P<sign>[+-])(?P<hh>\d\d):?(?P<mm>\d\d)?)\s*$")


#: Cells that exports write for "no value" besides those pandas reads as missing (NA, null,
#: #N/A, an empty cell and the like): a dash, as many reports and statistics tables use.
NO_VALUE_MARKS = ("-", "--", "\u2013", "\u2014")

#: The :class:`DataOptions` that say how a file is written and repaired rather than what its
#: columns are: ``predict`` and ``detect-anomalies`` may set them for an export written
#: differently from the training file (the model's are the default).
READING_OPTIONS = ("sep", "decimal", "thousands", "dayfirst", "time_unit", "tz", "max_gap", "on_duplicate")


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
        sep: the field separator; None sniffs it among ``,`` ``;`` tab and ``|`` from the
            first lines. ``"tab"`` and ``"\\t"`` stand for a tab.
        decimal: the decimal mark of numbers, ``"."`` or ``","``.
        thousands: the digit-grouping mark of numbers (``"1,234"``), None when numbers are
            written without one.
        dayfirst: read ambiguous dates such as ``01/02/2024`` day first (dd/mm/yyyy);
            year-first (ISO) dates are unaffected.
        time_unit: the time column holds Unix time in seconds (``"s"``) or milliseconds
            (``"ms"``); the timestamps are then UTC. None reads it as dates.
        tz: the time zone (an IANA name such as ``"Europe/Berlin"``) the timestamps are
            in. Local times written without an offset are localized to it: a time that
            happens twice when summer time ends must appear twice in its series, and is
            taken in file order, first as summer time and then as standard time (the other
            way round in a series written newest first); a time the clocks skip when summer
            time starts is an error. Timestamps that already name their instant (a
            UTC offset, ``Z``, or Unix time) are converted to the zone rather than refused:
            ``--tz`` then only says which local dates daily data have. Either way the series
            is then read like an export with offsets: hourly or finer in UTC, daily or
            coarser (every local time a midnight) by its local dates, without a zone.
            None leaves the timestamps as written.

    Raises:
        ConfigError: ``max_gap`` is negative or another option is not one of the above.
    """

    time_col: str | None = None
    id_col: str | None = None
    targets: tuple[str, ...] = ()
    covariates: tuple[str, ...] = ()
    max_gap: int = 3
    on_duplicate: str = "error"
    sep: str | None = None
    decimal: str = "."
    thousands: str | None = None
    dayfirst: bool = False
    time_unit: str | None = None
    tz: str | None = None

    def __post_init__(self) -> None:
        # Lists come from JSON and the CLI; a bare string would otherwise split into letters.
        for name in ("targets", "covariates"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            elif not isinstance(value, (list, tuple)) or not all(isinstance(column, str) for column in value):
                raise ConfigError(f"{name} must be a column name or a list of them, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        for name, what in (("time_col", "a column name"), ("id_col", "a column name"), ("tz", "a zone name"),
                           ("time_unit", "a unit")):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{name} must be {what} (text) or None, got {value!r}")
        if isinstance(self.on_duplicate, str):
            object.__setattr__(self, "on_duplicate", self.on_duplicate.lower())  # as the command line takes it
        if self.on_duplicate not in ON_DUPLICATE:
            raise ConfigError(f"--on-duplicate must be one of {', '.join(ON_DUPLICATE)}; got {self.on_duplicate!r}")
        if isinstance(self.max_gap, bool) or not isinstance(self.max_gap, (int, np.integer)) or self.max_gap < 0:
            raise ConfigError(f"--max-gap must be a whole number >= 0; got {self.max_gap!r}")
        object.__setattr__(self, "max_gap", int(self.max_gap))  # NumPy's too, as the model's JSON takes it
        if self.sep is not None:
            # A shell makes typing a tab awkward: accept its usual spellings.
            sep = "\t" if self.sep in ("tab", "\\t", "TAB") else self.sep
            if not isinstance(sep, str) or len(sep) != 1 or sep in '"\r\n' or sep.isalnum():
                raise ConfigError(f"--sep must be one character such as , ; | or tab; got {self.sep!r}")
            object.__setattr__(self, "sep", sep)
        if self.decimal not in DECIMALS:
            raise ConfigError(f"--decimal must be . or ,; got {self.decimal!r}")
        if self.thousands is not None and (
            not isinstance(self.thousands, str) or len(self.thousands) != 1 or self.thousands.isalnum()
            or self.thousands in '"\r\n' or self.thousands == self.decimal
        ):
            raise ConfigError(
                f"--thousands must be one character other than the decimal mark, such as , . ' or a space; "
                f"got {self.thousands!r}"
            )
        if not isinstance(self.dayfirst, (bool, np.bool_)):
            raise ConfigError(f"dayfirst must be true or false; got {self.dayfirst!r}")
        object.__setattr__(self, "dayfirst", bool(self.dayfirst))
        if self.time_unit is not None and self.time_unit not in TIME_UNITS:
            raise ConfigError(f"--time-unit must be one of {', '.join(TIME_UNITS)}; got {self.time_unit!r}")
        if self.tz is not None:
            _check_zone(self.tz)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe values (lists, not tuples) that :meth:`from_dict` turns back."""
        return {
            "time_col": self.time_col,
            "id_col": self.id_col,
            "targets": list(self.targets),
            "covariates": list(self.covariates),
            "max_gap": int(self.max_gap),
            "on_duplicate": self.on_duplicate,
            "sep": self.sep,
            "decimal": self.decimal,
            "thousands": self.thousands,
            "dayfirst": self.dayfirst,
            "time_unit": self.time_unit,
            "tz": self.tz,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataOptions:
        """Rebuild options from :meth:`to_dict` output; missing keys take their defaults.

        Metadata written before an option existed lacks its key, and reads as the default.

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

    def reading(self, overrides: Mapping[str, Any] | None) -> DataOptions:
        """These options with ``overrides`` of :data:`READING_OPTIONS` (a file written
        differently: ``{"sep": ";", "decimal": ",", "thousands": None}``).

        Raises:
            ConfigError: an override is not a reading option, or not a valid value.
        """
        overrides = dict(overrides or {})
        other = sorted(set(overrides) - set(READING_OPTIONS))
        if other:
            raise ConfigError(f"only how DATA is written can differ from training ({', '.join(READING_OPTIONS)}), "
                              f"not {', '.join(other)}")
        return dataclasses.replace(self, **overrides)


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
        covariates_missing: `(n_steps, n_covariates)` bool, the same for the covariates
            (None: none was filled).
    """

    name: str
    target: str
    index: pd.DatetimeIndex
    freq: str
    values: np.ndarray
    covariates: np.ndarray
    missing: np.ndarray
    first_row: int
    covariates_missing: np.ndarray | None = None


@dataclass
class Dataset:
    """Every series read from one file.

    Attributes:
        path: the path as the user gave it (``"-"`` for standard input); messages use
            :attr:`shown`.
        options: the options with ``time_col`` and ``targets`` resolved, so that reading
            another file with them needs no detection.
        series: one entry per target (wide) or per (id, target) (long).
        n_filled: how many target and covariate values were filled by interpolation.
        in_memory: made from series in memory (:func:`dataset_from_pandas`): ``path`` names
            no file.
    """

    path: str
    options: DataOptions
    series: list[Series]
    n_filled: int
    in_memory: bool = False

    @property
    def shown(self) -> str:
        """The file as messages name it: the path, or ``standard input`` for ``"-"``."""
        return shown_name(self.path)


def dataset_from_pandas(columns: Mapping[str, pd.Series], shown: str = "(in memory)") -> Dataset:
    """Series already in memory, as :func:`load_dataset` gives those of a wide file with these
    columns: one target each, no covariates.

    Args:
        columns: name -> `(n_steps,)` pandas Series of finite numbers on a regular
            ``DatetimeIndex`` (its ``freq``, or one pandas can infer). A name is text, or a
            whole number (a pivoted frame's store ids), which becomes its text: ``101`` is
            the series ``"101"``.
        shown: what messages call the data.

    Raises:
        TypeError: ``columns`` is not a mapping of names to pandas Series (a DataFrame is
            refused too: ``dict(frame.items())`` gives its columns as such a mapping), or a
            name is neither text nor a whole number.
        DataError: two names are the same as text, there is no series, or one is not numbers on a regular time grid with no
            missing or infinite value, or is constant, or the series differ in frequency or
            time zone.
    """
    if isinstance(columns, pd.DataFrame) or not isinstance(columns, Mapping):
        hint = "; for a DataFrame's columns, pass dict(frame.items())" if isinstance(columns, pd.DataFrame) else ""
        raise TypeError(f"dataset_from_pandas: columns must map names to pandas Series, not "
                        f"{type(columns).__name__}{hint}")
    named: dict[str, pd.Series] = {}
    for name, column in columns.items():
        if not isinstance(column, pd.Series):
            raise TypeError(f"dataset_from_pandas: series {name!r} is a {type(column).__name__}, not a pandas Series")
        # a name is written into CSV outputs and the model: text, or a whole number written as one
        if isinstance(name, (bool, np.bool_)) or not isinstance(name, (str, int, np.integer)):
            raise TypeError(f"dataset_from_pandas: series names must be text or whole numbers, not "
                            f"{type(name).__name__} {name!r}; give each series a name such as 'store_1'")
        if str(name) in named:
            raise DataError(f"{shown}: two series are named '{name}' once written as text; rename one")
        named[str(name)] = column
    with _errors_on_one_line():
        return _dataset_from_pandas(named, shown)


def _dataset_from_pandas(columns: Mapping[str, pd.Series], shown: str) -> Dataset:
    if not columns:
        raise DataError(f"{shown}: no series given; pass at least one")
    series, constant = [], []
    zones = {}
    for name, column in columns.items():
        if not isinstance(column.index, pd.DatetimeIndex):
            raise DataError(f"{shown}: series '{name}' is indexed by {type(column.index).__name__}, not by time; "
                            "give it a DatetimeIndex (pandas.to_datetime)")
        # in time order, as a file's rows are sorted: newest first would be learnt backwards
        column = column.sort_index(kind="stable")
        zones.setdefault(str(column.index.tz) if column.index.tz else "none (naive times)", name)
        if len(zones) > 1:
            (first, first_name), (other, other_name) = list(zones.items())[:2]
            raise DataError(f"{shown}: series '{first_name}' is in time zone {first} but series '{other_name}' in "
                            f"{other}; convert them to one (Series.tz_convert, or tz_localize for naive times)")
        index = column.index
        freq = index.freqstr or _infer_freq(index)
        if freq is None:
            raise DataError(f"{shown}: series '{name}' is not on a regular time grid; reindex it onto one "
                            "(pandas.date_range) and fill the gaps (interpolate) first")
        if type(to_offset(freq)).__name__.startswith("CustomBusiness"):
            # stored as its code alone ("C"), it would lose its holidays, and forecasts fall on them
            raise DataError(f"{shown}: series '{name}' has a custom business calendar ({freq}), whose holidays a "
                            "model cannot keep; reindex it onto plain business days (freq='B') or calendar days")
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            raise DataError(f"{shown}: series '{name}' holds {column.dtype} values, not numbers; convert it first "
                            "(pandas.to_numeric)")
        values = column.to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise DataError(f"{shown}: series '{name}' has a missing or infinite value at "
                            f"{index[~np.isfinite(values)][0]}; fill or drop it first")
        if values.min() == values.max():
            constant.append(f"series '{name}' is constant (every value is {values[0]})")
        series.append(Series(name=name, target=name, index=index, freq=freq, values=values,
                             covariates=np.empty((len(values), 0)), missing=np.zeros(len(values), dtype=bool),
                             first_row=0))  # fmt: skip
    if constant and len(constant) == len(series):
        raise DataError(f"{shown}: {constant[0]}; a constant series cannot be forecast or scaled; leave it out")
    _check_one_frequency(series, shown)
    return Dataset(path=shown, options=DataOptions(targets=tuple(columns)), series=series, n_filled=0, in_memory=True)


def read_data(data: str | os.PathLike | Dataset, options: DataOptions = DataOptions(),
              reporter: Reporter = QUIET, caller: str = "train", long_gaps: str = "refuse") -> Dataset:
    """``data`` itself if it is a :class:`Dataset` already, else the file read by
    :func:`load_dataset` (with ``long_gaps``).

    Raises:
        TypeError: ``data`` is neither (a DataFrame: :func:`dataset_from_pandas` makes one).
        ConfigError: ``options`` name columns or a file's format for a :class:`Dataset`,
            whose series are read as they are.
    """
    check_data_argument(caller, data, options)
    return data if isinstance(data, Dataset) else load_dataset(data, options, reporter, long_gaps=long_gaps)


def check_data_argument(caller: str, data: Any, options: DataOptions) -> None:
    """What :func:`read_data` refuses, checked before anything is read or written."""
    if not isinstance(data, Dataset):
        check_data_path(caller, "data_path", data)
    elif options != DataOptions():
        raise ConfigError(f"{caller}(): data_options apply to a file; the series of a Dataset are used as they "
                          "are (its targets and covariates were fixed by dataset_from_pandas)")


def check_data_path(caller: str, name: str, data: Any, optional: bool = False,
                    pandas_hint: str = "for series in memory, make a Dataset with forecaster.data.dataset_from_pandas",
                    ) -> None:
    """Refuse what is not a file path (``"-"`` for standard input) at once, naming it.

    Raises:
        TypeError: naming ``caller``'s argument ``name``, with ``pandas_hint`` for pandas objects.
    """
    if isinstance(data, (str, os.PathLike)) or (optional and data is None):
        return
    hint = f"; {pandas_hint}" if isinstance(data, (pd.DataFrame, pd.Series)) else ""
    raise TypeError(f"{caller}(): {name} must be a file path{' or None' if optional else ''}, not "
                    f"{type(data).__name__}{hint}")


def load_dataset(
    path: str | os.PathLike,
    options: DataOptions = DataOptions(),
    reporter: Reporter = QUIET,
    trained_model: str | None = None,
    known_series: Collection[str] | None = None,
    long_gaps: str = "refuse",
) -> Dataset:
    """Read a CSV file into regular, gap-filled series.

    Args:
        path: the CSV file, plain or compressed (gzip, bz2, xz: told by their first bytes),
            or ``"-"`` for standard input.
        options: column roles, how the file is written and repair settings.
        reporter: receives warnings about ignored columns, trimmed ends and filled gaps.
        trained_model: the model directory the options come from, when they were not given
            on this command line; a missing column is then blamed on the file not matching it.
        known_series: the series that model was trained on. A long file's other series (a
            store added since) are then left out with a warning, not read, so that a new key
            in an export does not stop a scheduled forecast of the others.
        long_gaps: what a gap longer than ``max_gap`` does (:data:`LONG_GAPS`): ``"refuse"``
            it; ``"recent"``: the series (with its covariates) starts after its last such gap,
            with a warning, as a forecast needs the latest steps only and a hole months before
            them should not stop it; ``"fill"``: it is filled like a short one (and marked
            missing), with a warning, as anomaly scoring skips missing steps and a monitoring
            outage must not stop the job that watches the steps after it;
            ``"recent-per-id"``: in a long file, each series as with ``"recent"`` (for
            training: one host's outage must not stop the training of the fleet), in a wide
            file, whose columns share their steps, as with ``"refuse"``.

    Returns:
        A :class:`Dataset` whose options are resolved.

    Raises:
        DataError: the file cannot be used as it is; the one-line message names the file,
            the column and the row where it can, and says what to do.
    """
    with _errors_on_one_line():
        if long_gaps not in LONG_GAPS:
            raise ValueError(f"long_gaps must be one of {LONG_GAPS}, not {long_gaps!r}")
        return _load(os.fspath(path), options, reporter, trained_model, known_series, long_gaps)


@contextmanager
def _errors_on_one_line() -> Iterator[None]:
    """Names and cells come from the caller's data and may hold line breaks: a DataError's
    message stays one line."""
    try:
        yield
    except DataError as exc:
        message = str(exc)
        if "\n" in message or "\r" in message:
            raise DataError(message.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")) from None
        raise


def _load(path: str, options: DataOptions, reporter: Reporter, trained_model: str | None,
          known_series: Collection[str] | None = None, long_gaps: str = "refuse") -> Dataset:
    shown = shown_name(path)
    # Notes on what reading did are given once the whole file is accepted: when it is not,
    # the one-line error is all that is printed.
    pending = _PendingNotes()
    frame, rows, written = read_csv(
        path, shown, options, lambda read: [name for name in read.columns if name != options.id_col
                                            and _dot_may_group_thousands(read[name], options)],
        warn=pending.warn,
    )
    options = _resolve_columns(frame, options, shown, pending, trained_model)
    for name in (*options.targets, *options.covariates):
        if name in written:
            _check_dot_not_grouping(written[name], rows, shown, name)
    times, tz = _parse_times(frame[options.time_col], rows, shown, options.time_col, options)
    targets = _number_matrix(frame, options.targets, rows, shown, options, "--target")
    covariates = _number_matrix(frame, options.covariates, rows, shown, options, "--covariate")
    for name in (*options.targets, *options.covariates):
        if frame[name].isna().all():
            raise DataError(f"{shown}: column '{name}' has no values; fill it or leave it out")

    if options.id_col:
        codes, ids = _series_ids(frame[options.id_col], rows, shown, options.id_col)
        if known_series is not None:
            ids = _ids_as_trained(ids, options.targets, known_series, trained_model, pending)
            keep = _known_ids(ids, options.targets, known_series, shown, trained_model, pending)
            kept = np.isin(codes, keep)
            codes, rows, times = codes[kept], rows[kept], times[kept]
            targets, covariates, frame = targets[kept], covariates[kept], frame[kept]
    else:
        codes, ids = np.zeros(len(frame), dtype=np.int64), [None]
    if options.tz:
        # Before sorting: a repeated autumn hour is resolved in file order within each series.
        times, tz = _apply_zone(times, tz, codes, ids, rows, frame[options.time_col], shown, options)

    row_times = times
    # Sorting by row last keeps file order among equal timestamps, which "first"/"last" rely on.
    order = np.lexsort((rows, times, codes))
    codes, times, rows = codes[order], times[order], rows[order]
    targets, covariates = targets[order], covariates[order]
    codes, times, rows, targets, covariates = _combine_duplicates(
        codes, times, rows, targets, covariates, options.on_duplicate, ids, tz, shown, pending,
        lambda: _summer_time_hint(times, codes, tz, options) + _id_col_hint(frame, row_times, options),
    )

    # A series that stood still (an error count at 0, a store closed) is trained on beside
    # the others, forecast at its value and scored against it: left out, it went unmonitored.
    # Alone there is nothing to learn; a trained model forecasts one from its own scaler.
    reader = _SeriesBuilder(shown, options, tz, long_gaps, note_constant=trained_model is None,
                            file_end=int(times.max()) if len(times) else None)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    series: list[Series] = []
    for start, end in zip(starts, ends, strict=True):
        series += reader.build(
            ids[codes[start]], times[start:end], rows[start:end], targets[start:end], covariates[start:end]
        )
    if trained_model is None and series and len(reader.constant) == len(series):
        raise DataError(f"{shown}: {reader.constant[0]}; a constant series cannot be forecast or scaled; drop it")
    if known_series is None:  # a trained model's series are each checked against their own frequency
        _check_one_frequency(series, shown)
    pending.replay(reporter)
    reader.report(reporter)
    return Dataset(path=path, options=options, series=series, n_filled=reader.n_filled)


def _local_dates_hint(index: pd.DatetimeIndex, freq: str) -> str:
    """For dates exported as times in UTC (a Berlin business's month starts as 23:00Z in winter
    and 22:00Z in summer: off any grid of whole days), the option that reads them by their
    local dates; else nothing."""
    if index.tz is None or within_a_day(freq) or len(set(index.time)) < 2:
        return ""
    return ("if these are local dates written as times with an offset (their time of day moves with summer time), "
            "pass --tz with their zone (--tz Europe/Berlin) to read them by their local dates; else ")


def true_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of True in the 1-D ``mask`` starts, and where it stops (one past its
    last step): `(n_runs,)` each, in order."""
    padded = np.diff(np.r_[False, mask, False].astype(np.int8))
    return np.flatnonzero(padded == 1), np.flatnonzero(padded == -1)


def _check_one_frequency(series: list[Series], shown: str) -> None:
    """Refuse series of different frequencies (a long file of daily and weekly stores): one
    model's windows, horizon and calendar inputs are in steps of one frequency."""
    first = series[0]
    for other in series[1:]:
        if to_offset(other.freq) != to_offset(first.freq):
            raise DataError(
                f"{shown}: series '{first.name}' has a step of {first.freq} but series '{other.name}' of {other.freq}; "
                "a model forecasts series of one frequency: train one model per frequency, each on its own file"
            )


#: How many times as far from a series' median as every other value (and as its interquartile
#: range is wide, times ten) a value must lie for training to ask whether it is a typo: a
#: misplaced decimal mark or a sensor's error code among ordinary values, which would
#: dominate the scaling and the model's loss.
LONE_EXTREME_RATIO = 10.0


def lone_extreme(series: Series) -> tuple[pd.Timestamp, float, float] | None:
    """The value of ``series`` that dwarfs all others, if one does: its timestamp, the value,
    and how many times as far from the median it lies as the next farthest value (at least
    :data:`LONE_EXTREME_RATIO`, and 10 times that in interquartile ranges). None otherwise,
    or when the others do not move (a count that is 0 but once is no typo)."""
    values = series.values
    if len(values) < 3:
        return None
    distance = np.abs(values - np.median(values))
    far = int(np.argmax(distance))
    next_farthest = np.max(np.delete(distance, far))
    low, high = np.percentile(values, [25, 75])
    scale = max(next_farthest, high - low)
    if scale <= 0 or distance[far] < LONE_EXTREME_RATIO * max(scale, 10 * (high - low)):
        return None
    return series.index[far], float(values[far]), float(distance[far] / scale)


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


def within_a_day(freq: str) -> bool:
    """Whether steps of ``freq`` are shorter than a day (hourly, 15-minute), so that each
    timestamp needs its time of day, midnight's too."""
    offset = to_offset(freq)
    return isinstance(offset, pd.offsets.Tick) and pd.Timedelta(offset) < pd.Timedelta(days=1)


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


def _resolve_columns(
    frame: pd.DataFrame, options: DataOptions, shown: str, reporter: Reporter, trained_model: str | None
) -> DataOptions:
    """Check every named column exists, detect the time column and the targets."""
    columns = list(frame.columns)
    listing = ", ".join(columns)
    if trained_model is not None and any(c in frame.columns for c in options.targets):
        # a trained target column the export no longer has is a series missing from it,
        # skipped with a warning (forecasting.series_inputs) so that the others go on
        options = dataclasses.replace(options, targets=tuple(c for c in options.targets if c in frame.columns))
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
            raise DataError(f"{shown}: column '{column}' named by {flag} does not exist"
                            f"{_did_you_mean(column, columns)}; columns are: {listing}{_one_per_flag(flag, column)}")
        if column in seen and seen[column] != flag:
            raise DataError(f"{shown}: column '{column}' is named by both {seen[column]} and {flag}; give it one role")
        seen[column] = flag
    targets, covariates = tuple(dict.fromkeys(options.targets)), tuple(dict.fromkeys(options.covariates))
    time_col = options.time_col or _detect_time_column(frame, set(seen), shown, options)
    if not targets and covariates and not any(_looks_numeric(frame[c]) for c in frame.columns
                                              if c not in {time_col, *seen}):
        named = ", ".join(f"'{c}'" for c in covariates)
        raise DataError(f"{shown}: no column is left to forecast: the numeric columns are covariates ({named}), "
                        "which are read but not forecast; name the column to forecast with --target")
    if options.id_col and not targets:
        targets = _long_file_target(frame, {time_col, *seen}, shown, options.id_col, listing, reporter)
    if not targets:
        targets = _default_targets(frame, {time_col, *seen}, shown, reporter)
    return dataclasses.replace(options, time_col=time_col, targets=targets, covariates=covariates)


def _one_per_flag(flag: str, column: str) -> str:
    """How to name several columns, for ``--target sales,promo``: the option is repeated."""
    parts = [part.strip() for part in column.split(",") if part.strip()]
    if flag not in ("--target", "--covariate") or len(parts) < 2:
        return ""
    return f"; {flag} names one column: repeat it for several ({' '.join(f'{flag} {part}' for part in parts)})"


def _did_you_mean(name: str, columns: list[str]) -> str:
    """" (did you mean 'Sales'?)" for a column named in other case or with a close spelling, else nothing."""
    match = closest(name, columns, cutoff=0.75)
    return f" (did you mean '{match}'?)" if match else ""


def _long_file_target(frame: pd.DataFrame, taken: set[str], shown: str, id_col: str, listing: str,
                      reporter: Reporter) -> tuple[str, ...]:
    """The column a long file forecasts when ``--target`` names none: its one numeric column
    besides the time, the key and the covariates. Of several (sales beside a price or a promo
    flag, which a long file often carries) none is taken as a target without being named."""
    numeric = [name for name in frame.columns if name not in taken and _looks_numeric(frame[name])]
    if len(numeric) == 1:
        reporter.info(f"Forecasting column '{numeric[0]}', the file's one numeric column besides the time "
                      f"and --id-col {id_col} (--target names the column to forecast)")
        return (numeric[0],)
    found = f"numeric columns: {', '.join(numeric)}" if numeric else f"no numeric column; columns are: {listing}"
    raise DataError(
        f"{shown}: a long file (--id-col {id_col}) needs the column(s) to forecast; pass --target ({found})"
    )


def _detect_time_column(frame: pd.DataFrame, taken: set[str], shown: str, options: DataOptions) -> str:
    found, epoch_like, clocks, dates_only = [], [], [], []
    for name in frame.columns:
        column = frame[name]
        if name in taken or pd.api.types.is_bool_dtype(column):
            continue
        if pd.api.types.is_numeric_dtype(column):
            # Numbers are Unix time only when --time-unit says so; otherwise they are values
            # (a column of yyyymmdd dates needs --time-col).
            unit = options.time_unit or _epoch_unit(column)
            if unit is not None and _in_epoch_range(column, unit):
                (found if options.time_unit else epoch_like).append(name)
            continue
        if options.time_unit:
            continue
        cells = column.dropna()
        if cells.empty:
            continue
        if len(cells) > _DETECT_SAMPLE:
            cells = cells.iloc[np.linspace(0, len(cells) - 1, _DETECT_SAMPLE).astype(np.int64)]
        cells = cells.astype(str)
        if _number_share(cells) > _NUMBER_SHARE:
            continue
        if cells.str.fullmatch(_CLOCK).mean() >= _TIME_SHARE:
            clocks.append(name)  # pandas would date a time of day today
            continue
        # Without a digit, dateutil still accepts words such as "may" or "monday".
        has_digit = cells.str.contains(r"\d", regex=True).to_numpy()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # utc=True: a column with mixed offsets is still a timestamp column (rejected later).
                parsed = pd.to_datetime(cells, format="mixed", errors="coerce", utc=True, dayfirst=options.dayfirst)
        except (ValueError, TypeError, OverflowError):
            continue
        if (parsed.notna().to_numpy() & has_digit).mean() >= _TIME_SHARE:
            found.append(name)
            times = parsed.dropna()
            if len(times) and ((times - times.dt.normalize()) == pd.Timedelta(0)).all():
                dates_only.append(name)
    if clocks and len(found) == 1 and dates_only:
        # a date column beside a time-of-day column: one moment in two columns; beside a
        # column of whole timestamps, a time of day is a value of its own (a shift's start)
        raise DataError(f"{shown}: {_split_date_time(found[0], clocks[0])}")
    found = found or clocks  # a time of day alone: refused naming its first row (_parse_times)
    if not found and options.time_unit:
        other = {"s": "ms", "ms": "s"}[options.time_unit]
        for name in frame.columns:
            if name not in taken and _epoch_unit(frame[name]) == other and _in_epoch_range(frame[name], other):
                raise DataError(
                    f"{shown}: column '{name}' looks like Unix time in {_UNIT_NAMES[other]}, not "
                    f"{_UNIT_NAMES[options.time_unit]}; pass --time-unit {other}"
                )
        low, high = _EPOCH_RANGE[options.time_unit]
        raise DataError(
            f"{shown}: no column holds Unix time in {_UNIT_NAMES[options.time_unit]} (--time-unit "
            f"{options.time_unit}: whole numbers from {low:.0e} to {high:.1e}); name it with --time-col or check the unit"
        )
    if not found and epoch_like:
        name = epoch_like[0]
        unit = _epoch_unit(frame[name])
        raise DataError(
            f"{shown}: no column looks like timestamps, but column '{name}' looks like Unix time in "
            f"{_UNIT_NAMES[unit]}; if it is, pass --time-unit {unit}"
        )
    if not found:
        for name in frame.columns:
            layout = None if name in taken else _date_number_layout(frame[name])
            if layout:
                raise DataError(f"{shown}: no column looks like timestamps, but column '{name}' looks like dates "
                                f"written as numbers ({layout}); if it is, pass --time-col {name}")
        named = [name for name in frame.columns if name in taken]
        if named and not options.time_unit:
            # the time column given another role (--covariate timestamp): say so, not "none found"
            try:
                name = _detect_time_column(frame[named], set(), shown, options)
            except DataError:
                name = None
            if name is not None:
                raise DataError(f"{shown}: column '{name}' holds the timestamps but is named by --target, --covariate "
                                "or --id-col; leave it out of those (it is found as the time column), or name the time "
                                "with --time-col")
        raise DataError(f"{shown}: no column looks like timestamps; name it with --time-col")
    if len(found) > 1:
        names = ", ".join(f"'{c}'" for c in found)
        raise DataError(f"{shown}: several columns look like timestamps ({names}); choose one with --time-col")
    return found[0]


#: Dates written as whole numbers, as ``_parse_times`` reads them: their digits and layout.
_DATE_NUMBERS = {4: ("%Y", "yyyy"), 6: ("%Y%m", "yyyymm"), 8: ("%Y%m%d", "yyyymmdd")}


def _date_number_layout(column: pd.Series) -> str | None:
    """"yyyy", "yyyymm" or "yyyymmdd" when every value of a numeric column is a whole number
    that reads as such a date from the years 1000 to 2999, at least half of the distinct dates
    a common step apart, else None. Never guessed to be the time column (a column of values
    between 1000 and 2999 may be data), only suggested."""
    values = column.dropna()
    if values.empty or not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None
    values = values.to_numpy(dtype=np.float64)
    if not (np.isfinite(values).all() and (values % 1 == 0).all() and (values > 0).all()):
        return None
    digits = np.unique(np.floor(np.log10(values)).astype(np.int64) + 1)
    if len(digits) != 1 or int(digits[0]) not in _DATE_NUMBERS:
        return None
    form, layout = _DATE_NUMBERS[int(digits[0])]
    texts = pd.Series(values.astype(np.int64)).astype(str)
    if not texts.str.match(r"[12]").all():
        return None
    parsed = pd.to_datetime(texts, format=form, errors="coerce")
    if parsed.isna().any():
        return None
    # dates step regularly (holes allowed); measurements that happen to read as dates rarely do
    steps = np.diff(np.unique(parsed.to_numpy()))
    if len(steps) < 2:
        return None
    return layout if np.unique(steps, return_counts=True)[1].max() >= len(steps) / 2 else None


def _epoch_unit(column: pd.Series) -> str | None:
    """"s" or "ms" when every value of a numeric column is a whole number of 10 or 13 digits."""
    values = column.dropna()
    if values.empty or not pd.api.types.is_numeric_dtype(values):
        return None
    values = values.to_numpy(dtype=np.float64)
    if not (np.isfinite(values).all() and (values % 1 == 0).all() and (values > 0).all()):
        return None
    digits = np.unique(np.floor(np.log10(values)).astype(np.int64) + 1)
    return _EPOCH_DIGITS.get(int(digits[0])) if len(digits) == 1 else None


def _in_epoch_range(column: pd.Series, unit: str) -> bool:
    values = column.dropna().to_numpy(dtype=np.float64)
    low, high = _EPOCH_RANGE[unit]
    return bool(len(values)) and bool(((values >= low) & (values <= high)).all())


def _default_targets(frame: pd.DataFrame, taken: set[str], shown: str, reporter: Reporter) -> tuple[str, ...]:
    targets, ignored = [], []
    for name in frame.columns:
        if name in taken:
            continue
        (targets if _looks_numeric(frame[name]) else ignored).append(name)
    if not targets:
        text = ""
        if ignored:
            names = ", ".join(f"'{c}'" for c in ignored)
            text = f" (column {names} is not numeric)" if len(ignored) == 1 else f" (columns {names} are not numeric)"
        raise DataError(f"{shown}: no numeric column to forecast{text}; the file needs at least one column of numbers")
    for name in ignored:
        reporter.warn(f"ignoring non-numeric column '{name}'")
    return tuple(targets)


def _looks_numeric(column: pd.Series) -> bool:
    """A column of numbers, or of mostly numbers: a numeric column with typos, whose reading
    then names the bad cell (``_number_matrix``)."""
    if pd.api.types.is_bool_dtype(column):
        return False
    return pd.api.types.is_numeric_dtype(column) or _number_share(column.dropna().astype(str)) > _NUMBER_SHARE


def _number_share(cells: pd.Series) -> float:
    """The share of non-blank text cells that are numbers (0 when all are blank).

    Numbers written with a decimal comma or digit grouping count: such a column is a column
    of numbers, and reading it names the first such cell and the option that reads it.
    """
    cells = cells.str.strip()
    cells = cells[cells != ""]
    if not len(cells):
        return 0.0
    numbers = pd.to_numeric(cells, errors="coerce").notna()
    if not numbers.all():
        written = cells[~numbers]
        numbers[~numbers] = (written.str.fullmatch(_GROUPED) | written.str.fullmatch(_DECIMAL_COMMA)
                             | written.str.fullmatch(rf"[+-]?{_INDIAN}(?:\.\d+)?"))
    return float(numbers.mean())


def _parse_times(
    column: pd.Series, rows: np.ndarray, shown: str, name: str, options: DataOptions = DataOptions()
) -> tuple[np.ndarray, Any]:
    """Parse the time column.

    Returns:
        `(n_rows,)` int64 nanoseconds since the epoch (UTC for aware timestamps) and the
        time zone (None when naive).
    """
    empty = column.isna().to_numpy()
    if empty.any():
        row = rows[np.argmax(empty)]
        raise DataError(f"{shown}: column '{name}', row {row}: the timestamp is empty; fill it or remove the row")
    if options.time_unit:
        return _parse_epoch(column, rows, shown, name, options.time_unit)
    if pd.api.types.is_numeric_dtype(column):
        # Numbers such as 20240131 or 2024 are dates written without separators.
        if pd.api.types.is_float_dtype(column) and (column % 1 == 0).all():
            column = column.astype(np.int64)
        column = column.astype(str)
    # Long files repeat each timestamp once per series: parse every distinct text once.
    codes, uniques = pd.factorize(column)
    texts = pd.Index(uniques).astype(str)
    # pandas would date a time of day today, and forecasts by the machine's clock; a sample
    # tells (looking at each of millions of texts is slow)
    sample = texts[np.unique(np.linspace(0, len(texts) - 1, min(len(texts), _DETECT_SAMPLE)).astype(np.int64))]
    if sample.str.fullmatch(_CLOCK).any():
        at = np.flatnonzero(np.asarray(texts.str.fullmatch(_CLOCK), dtype=bool)[codes])[0]
        raise DataError(
            f"{shown}: column '{name}', row {rows[at]}: {str(column.iloc[at])!r} is a time of day without a date; "
            "timestamps need their date: if the date is in another column, join the two into one column "
            "(2024-01-01 00:00) and name it with --time-col"
        )
    parsed = _parse_texts(texts, shown, name, options.dayfirst, lambda: _first_rows(codes, rows), options.tz)
    bad = np.asarray(parsed.isna())
    if bad.any():
        first = np.flatnonzero(bad[codes])[0]
        text = str(column.iloc[first])
        raise DataError(
            f"{shown}: column '{name}', row {rows[first]}: {text!r} is not a timestamp"
            f"{_time_hint(text, options.dayfirst, texts[0]) or '; fix or remove that value'}"
        )
    try:
        nanos = parsed.as_unit("ns").asi8
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        years = np.asarray(parsed.year)
        outside = np.flatnonzero(((years < 1678) | (years > 2261))[codes])
        at = outside[0] if len(outside) else 0
        text = str(column.iloc[at])
        read = parsed[codes[at]]
        fix = ("write the year in full (a month with a two-digit year, such as Jan-19, reads as a day of the year 1: "
               "write Jan-2019 or 2019-01)" if read.year < 100 else "fix that value")
        raise DataError(f"{shown}: column '{name}', row {rows[at]}: {text!r} reads as {read.date()}, outside the years "
                        f"1678 to 2261 that timestamps can hold; {fix}") from None
    return nanos[codes], parsed.tz


def _time_hint(text: str, dayfirst: bool, first: str) -> str:
    """Why a timestamp may have failed, and the option that reads it."""
    digits = re.fullmatch(r"\s*\+?(\d+)(?:\.0*)?\s*", text)
    if digits and len(digits.group(1)) in _EPOCH_DIGITS:
        unit = _EPOCH_DIGITS[len(digits.group(1))]
        return f"; it looks like Unix time in {_UNIT_NAMES[unit]}: pass --time-unit {unit} to read it"
    if _DAY_MONTH.match(text) and text == first:
        if dayfirst:
            return " read day first (--dayfirst); if the dates are written mm/dd/yyyy, leave --dayfirst out"
        return " read month first; if the dates are written dd/mm/yyyy, pass --dayfirst"
    if _DAY_MONTH.match(text) and _DAY_MONTH.match(first):
        if dayfirst:
            return f" in the day/month order of the first one ({first!r}, read day first: --dayfirst); fix that value"
        return (
            f" in the day/month order of the first one ({first!r}, read month first); if the dates are written "
            "dd/mm/yyyy, pass --dayfirst"
        )
    return ""


def _parse_epoch(column: pd.Series, rows: np.ndarray, shown: str, name: str, unit: str) -> tuple[np.ndarray, Any]:
    """Unix time in ``unit`` to UTC nanoseconds."""
    what = f"Unix time in {_UNIT_NAMES[unit]} (--time-unit {unit})"
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        at = np.argmax(bad)
        raise DataError(
            f"{shown}: column '{name}', row {rows[at]}: {str(column.iloc[at])!r} is not {what}; "
            "fix or remove that value, or drop --time-unit if the column holds dates"
        )
    low, high = _EPOCH_RANGE[unit]
    other = {"s": "ms", "ms": "s"}[unit]
    for at, wrong in ((np.argmax(values), values.max() > high), (np.argmin(values), values.min() < low)):
        if wrong:
            other_low, other_high = _EPOCH_RANGE[other]
            guess = f"; pass --time-unit {other}" if other_low <= values[at] <= other_high else ""
            raise DataError(
                f"{shown}: column '{name}', row {rows[at]}: {str(column.iloc[at])!r} is not {what} "
                f"between 1973 and 2261{guess or '; fix that value'}"
            )
    parsed = pd.to_datetime(values, unit=unit, utc=True)
    return parsed.as_unit("ns").asi8, parsed.tz


def _split_date_time(date: str, clock: str) -> str:
    """What to do when the date and the time of day are in columns of their own."""
    return (f"the date and the time of day are in separate columns ('{date}' and '{clock}'); join them into one "
            f"column of timestamps (2024-01-01 00:00) and name it with --time-col")


def _first_rows(codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The file row where each distinct value (numbered in order of first appearance) first is."""
    return rows[np.unique(codes, return_index=True)[1]]


def _parse_texts(
    texts: pd.Index, shown: str, name: str, dayfirst: bool, first_rows: Any, zone: str | None = None
) -> pd.DatetimeIndex:
    """Parse distinct timestamp texts; unparsable ones become NaT.

    Args:
        first_rows: called for messages only: `(len(texts),)` the file row where each text
            first appears.
        zone: :attr:`DataOptions.tz`, for offsets that change (see :func:`_parse_offsets`).
    """
    # --dayfirst is about dd/mm/yyyy; pandas would also apply it to ISO dates (2024-01-02).
    year_first = bool(_YEAR_FIRST.match(texts[0]))
    day = {"dayfirst": True} if dayfirst and not year_first else {}
    attempts: list[dict[str, Any]] = [{}, {"format": "mixed"}, {"format": "mixed", "errors": "coerce"}]
    if _YEAR_MONTH.fullmatch(texts[0]):
        # yyyymm: pandas reads six digits as nothing (or as hhmmss); every value is read as the first
        attempts = [{"format": "%Y%m", "errors": "coerce"}]
    day_month = not year_first and bool(_DAY_MONTH.match(texts[0]))
    if day_month:
        # Parsed one by one, 01/02 and 13/02 would be read in different orders (pandas infers
        # no format for two-digit years): every date is read in the format of the first, and
        # the ones that do not fit are reported.
        form = _day_month_format(texts[0], dayfirst)
        attempts = [{"format": form, "errors": "coerce"}] if form else [{}, {"errors": "coerce"}]
    # an explicit format matches no space around the date, which a quoted cell may hold
    source = texts.str.strip() if day_month else texts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = None
        # The inferred (usually ISO) format is fast; "mixed" parses each value on its own.
        for kwargs in attempts:
            try:
                parsed = pd.to_datetime(source, **day, **kwargs)
                break
            except (ValueError, TypeError, OverflowError) as exc:
                if _is_mixed_zone_error(exc):
                    return _parse_offsets(texts, shown, name, first_rows, zone)
                # not all in the first one's format: before "mixed" reads each in its own order
                _check_one_date_order(texts, shown, name, first_rows)
    if not isinstance(parsed, pd.DatetimeIndex):
        # pandas 2 returns objects instead of raising when offsets differ.
        return _parse_offsets(texts, shown, name, first_rows, zone)
    if day_month and parsed.isna().any():
        _check_one_date_order(texts, shown, name, first_rows)
        parsed = _with_other_day_month_format(source, parsed, dayfirst)
    if day_month:
        _check_the_other_order(texts, parsed, dayfirst, shown, name)
    return parsed


def _check_one_date_order(texts: pd.Index, shown: str, name: str, first_rows: Any) -> None:
    """Refuse a column mixing year-first dates (2024-02-29) with day/month ones (01/03/2024),
    which pandas reads value by value, each in an order of its own. Called only when not every
    text is in the first one's format: looking at each text is slow on millions."""
    day_month = np.asarray(texts.str.match(_DAY_MONTH), dtype=bool)
    year_first = np.asarray(texts.str.match(_YEAR_FIRST), dtype=bool) & ~day_month
    if not year_first.any() or not day_month.any():
        return
    first, other = sorted((int(np.argmax(year_first)), int(np.argmax(day_month))))
    rows = first_rows()
    raise DataError(
        f"{shown}: column '{name}' mixes date formats (row {rows[first]}: {texts[first]!r}, row {rows[other]}: "
        f"{texts[other]!r}), which cannot be read in one day/month order; write every date in one format, "
        "such as 2024-03-01"
    )


def _with_other_day_month_format(texts: pd.Index, parsed: pd.DatetimeIndex, dayfirst: bool) -> pd.DatetimeIndex:
    """``parsed`` (in the format of the first text) with the texts it could not read parsed in
    the one other format a column may mix in the same day/month order: the date alone beside
    dates with a time. Spreadsheets write midnight as ``01/01/2024`` among ``01/01/2024 01:00``."""
    parts = _DAY_MONTH_PARTS.fullmatch(texts[0])
    if parts is None:
        return parsed
    first_has_time = bool(parts.group("rest").strip())
    unread = np.flatnonzero(np.asarray(parsed.isna()))
    if first_has_time:
        other = _day_month_format(texts[0], dayfirst)
        other = other.split(" ")[0] if other and " " in other else None
    else:
        timed = next((texts[i] for i in unread if (p := _DAY_MONTH_PARTS.fullmatch(texts[i]))
                      and p.group("rest").strip()), None)
        other = _day_month_format(timed, dayfirst) if timed else None
    if other is None:
        return parsed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = pd.to_datetime(texts[unread], format=other, errors="coerce")
    if parsed.tz is not None or again.tz is not None:
        return parsed
    values = parsed.to_numpy().copy()
    values[unread] = again.to_numpy()
    return pd.DatetimeIndex(values)


def _day_month_format(first: str, dayfirst: bool) -> str | None:
    """The strptime format of a day/month date such as ``01/02/24 13:00``, day or month first;
    None when what follows the date is not a time pandas can name."""
    parts = _DAY_MONTH_PARTS.fullmatch(first)
    if parts is None:
        return None
    sep, year = parts.group("sep"), "%Y" if len(parts.group("year")) == 4 else "%y"
    date = sep.join(("%d", "%m") if dayfirst else ("%m", "%d")) + sep + year
    rest = parts.group("rest")
    if not rest:
        return date
    from pandas.tseries.api import guess_datetime_format

    after = guess_datetime_format("2000-01-01" + rest)
    return date + after[len("%Y-%m-%d"):] if after and after.startswith("%Y-%m-%d") else None


def _check_the_other_order(texts: pd.Index, parsed: pd.DatetimeIndex, dayfirst: bool, shown: str, name: str) -> None:
    """When every day/month date reads both ways (no day above 12) and only the other order
    gives evenly spaced dates (monthly 01/02/2024, 01/03/2024 read month first are 1 to 12
    January), refuse, suggesting that order, rather than fail later on the steps or the gaps."""
    if len(parsed) < 3 or parsed.isna().any() or (parsed.day > 12).any():
        return
    form = _day_month_format(texts[0], not dayfirst)
    if form is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = pd.to_datetime(texts.str.strip(), format=form, errors="coerce")
    # midnight written as the date alone among dates with a time, read in that order too
    other = _with_other_day_month_format(texts.str.strip(), other, not dayfirst)
    if other.isna().any() or _infer_freq(parsed.unique().sort_values()) is not None:
        return
    freq = _infer_freq(other.unique().sort_values())
    if freq is None:
        return
    order, other_order = ("day", "month") if dayfirst else ("month", "day")
    fix = ("drop --dayfirst if they are written mm/dd/yyyy" if dayfirst
           else "pass --dayfirst if they are written dd/mm/yyyy")
    raise DataError(
        f"{shown}: column '{name}': read {order} first ({texts[0]!r} is {parsed[0]:%Y-%m-%d}), the dates are not "
        f"evenly spaced, but read {other_order} first they are (step {freq}); {fix}"
    )


def _parse_offsets(
    texts: pd.Index, shown: str, name: str, first_rows: Any, zone: str | None = None
) -> pd.DatetimeIndex:
    """Timestamps whose UTC offsets differ: a zone with summer time, or a mix that is refused.

    Offsets that take two values at most two hours apart and change a few times a year (as
    summer time does) are one time zone: the timestamps are converted to UTC, where the
    hours are regular, so no hour is invented at a change and none is doubled. Daily or
    coarser data (every local time is midnight) keep their local dates instead, without a
    zone (the local dates of ``zone`` when it is given, else of the offsets). Anything else
    (timestamps with and without an offset, several zones) is an error.
    """
    found = pd.Series(texts).str.extract(_OFFSET)
    aware = (found["z"].notna() | found["sign"].notna()).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        utc = pd.to_datetime(pd.Series(texts), format="mixed", utc=True, errors="coerce")
    valid = utc.notna().to_numpy()
    if not valid.any():
        return pd.DatetimeIndex(utc)  # nothing parses: the caller names the first value
    mixed = f"{shown}: column '{name}' mixes time zones"
    advice = "write every timestamp in UTC, or in one zone with its offset"

    def cited(k: int) -> str:
        return f"row {first_rows()[k]}: {texts[k]!r}"

    if (valid & aware).any() and (valid & ~aware).any():
        k_aware, k_naive = np.argmax(valid & aware), np.argmax(valid & ~aware)
        first, second = sorted((k_aware, k_naive))
        raise DataError(
            f"{mixed}: some timestamps have a UTC offset and some have none ({cited(first)}, {cited(second)}); {advice}"
        )
    sign = np.where(found["sign"].to_numpy() == "-", -1, 1)
    hours = pd.to_numeric(found["hh"], errors="coerce").fillna(0).to_numpy()
    minutes = pd.to_numeric(found["mm"], errors="coerce").fillna(0).to_numpy()
    offsets = (sign * (hours * 60 + minutes)).astype(np.int64)
    index = pd.DatetimeIndex(utc).as_unit("ns")
    nanos = index.asi8
    order = np.flatnonzero(valid)[np.argsort(nanos[valid], kind="stable")]
    in_time = offsets[order]
    distinct = np.unique(in_time)
    changes = int((in_time[1:] != in_time[:-1]).sum())
    same_instant = bool(((nanos[order][1:] == nanos[order][:-1]) & (in_time[1:] != in_time[:-1])).any())
    years = (nanos[order][-1] - nanos[order][0]) / (365.25 * _NS_PER_DAY) if len(order) else 0.0
    one_zone = len(distinct) <= 2 and np.ptp(distinct) <= 120 and changes <= 2 * years + 2 and not same_instant
    if not one_zone:
        k = order[np.argmax(offsets[order] != offsets[order][0])]
        first, second = sorted((int(order[0]), int(k)))
        raise DataError(
            f"{mixed}: the UTC offsets change in a way summer time does not ({cited(first)}, {cited(second)}); {advice}"
        )
    if zone:
        local = index.tz_convert(zone).tz_localize(None)
    else:
        local = index.tz_localize(None) + pd.to_timedelta(offsets, unit="min")
    return _local_dates_or_utc(index, local)


def _local_dates_or_utc(utc: pd.DatetimeIndex, local: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Timestamps of one zone with summer time, as the rest of the reading wants them.

    In UTC the hours are regular: no hour is invented at the spring change and none is
    doubled in autumn. Daily or coarser data (every local time a midnight) are 23 or 25
    hours apart at a change instead, so they keep their local dates, without a zone.

    Args:
        utc: the instants, in UTC (NaT where a text did not parse).
        local: the same instants as naive local wall-clock times.
    """
    return local if _all_midnight(local) else utc


def _all_midnight(local: pd.DatetimeIndex) -> bool:
    known = local[local.notna()]
    return bool((known == known.normalize()).all())


def _check_zone(zone: Any) -> None:
    """Refuse a time zone name that pandas does not know, suggesting close ones."""
    if isinstance(zone, str) and zone.strip() == zone and zone:
        try:
            pd.Timestamp("2024-01-01").tz_localize(zone)
            return
        except Exception:  # noqa: BLE001 - unknown names raise KeyError, ValueError, IndexError...
            pass
    import difflib
    import zoneinfo

    try:
        names = sorted(zoneinfo.available_timezones())
    except Exception:  # noqa: BLE001 - no time zone database to suggest from
        names = []
    close = difflib.get_close_matches(str(zone), names, n=3, cutoff=0.6) if isinstance(zone, str) else []
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise ConfigError(
        f"--tz must be a time zone name such as Europe/Berlin, America/New_York or UTC; got {zone!r}{hint}"
    )


def _apply_zone(
    times: np.ndarray,
    tz: Any,
    codes: np.ndarray,
    ids: list[str | None],
    rows: np.ndarray,
    column: pd.Series,
    shown: str,
    options: DataOptions,
) -> tuple[np.ndarray, Any]:
    """Put parsed timestamps in the zone :attr:`DataOptions.tz`, as described there.

    Args:
        times: `(n,)` int64 ns as :func:`_parse_times` returns them, one per row in file
            order (the order decides which of a repeated autumn hour is which).
        tz: their zone (None when naive).
        codes: `(n,)` series code of each row; ids: the ids by code, for messages.
        rows: `(n,)` file rows; column: the time column as read, for messages.

    Returns:
        The timestamps and their zone, as :func:`_parse_times` returns them.
    """
    zone, name = options.tz, options.time_col
    stamps = pd.DatetimeIndex(times.view("M8[ns]"))
    if tz is not None:
        # The instants are known: only the local dates of daily data depend on the zone.
        utc = stamps.tz_localize("UTC")
        index = _local_dates_or_utc(utc, utc.tz_convert(zone).tz_localize(None))
    elif _all_midnight(stamps):
        # Local dates (daily or coarser data) are what counts: no summer-time change is at
        # midnight in most zones, and where one is, the date still exists.
        return times, None
    else:
        index = _localize(stamps, codes, ids, rows, column, shown, name, zone)
    return index.as_unit("ns").asi8, index.tz


def _localize(
    local: pd.DatetimeIndex,
    codes: np.ndarray,
    ids: list[str | None],
    rows: np.ndarray,
    column: pd.Series,
    shown: str,
    name: str,
    zone: str,
) -> pd.DatetimeIndex:
    """Naive wall-clock times, one per row in file order, to UTC instants in ``zone``.

    A time that happens twice when summer time ends must appear twice in its series, and
    file order tells them apart: the first is summer time and the second standard time, or
    the other way round in a series written newest first (its last row older than its first).
    Anything else cannot be told apart.

    Raises:
        DataError: a time the clocks skip, or a repeated time that does not appear twice.
    """
    uniques, inverse = np.unique(local.asi8, return_inverse=True)
    distinct = pd.DatetimeIndex(uniques.view("M8[ns]"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summer = distinct.tz_localize(zone, ambiguous=np.ones(len(distinct), dtype=bool), nonexistent="NaT")
        winter = distinct.tz_localize(zone, ambiguous=np.zeros(len(distinct), dtype=bool), nonexistent="NaT")
    summer_ns, winter_ns = summer.as_unit("ns").asi8[inverse], winter.as_unit("ns").asi8[inverse]
    skipped = np.asarray(summer.isna())[inverse]
    if skipped.any():
        at = np.argmax(skipped)
        raise DataError(
            f"{shown}: column '{name}', row {rows[at]}: {str(column.iloc[at])!r} does not exist in {zone} (the "
            "clocks skip that time when summer time starts), so it cannot be a reading; fix or remove that row"
        )
    result = summer_ns.copy()
    twice = np.flatnonzero(summer_ns != winter_ns)
    if twice.size:
        keys = pd.DataFrame({"code": codes[twice], "time": local.asi8[twice]})
        groups = keys.groupby(["code", "time"], sort=False)
        rank, count = groups.cumcount().to_numpy(), groups["time"].transform("size").to_numpy()
        # Once, after every other time of its series: an export taken between the two
        # (summer time); before every other: one that starts after the first (standard time).
        plain = np.ones(len(local), dtype=bool)
        plain[twice] = False
        bounds = pd.Series(local.asi8[plain]).groupby(codes[plain]).agg(["min", "max"])
        first, last = (bounds[side].reindex(codes[twice]).to_numpy() for side in ("min", "max"))
        with np.errstate(invalid="ignore"):
            starts = (count == 1) & (local.asi8[twice] < first)
            ends = (count == 1) & (local.asi8[twice] > last)
        unknown = (count != 2) & ~starts & ~ends
        if unknown.any():
            k = np.argmax(unknown)
            at = twice[k]
            series = "" if ids[codes[at]] is None else f" in series '{ids[codes[at]]}'"
            times = "once" if count[k] == 1 else f"{count[k]} times"
            raise DataError(
                f"{shown}: column '{name}', row {rows[at]}: {str(column.iloc[at])!r} happens twice in {zone} "
                f"(the clocks go back when summer time ends) but appears {times}{series}, so it cannot be told "
                "which it is (of two, the earlier in the file's time order is summer time); "
                "write the timestamps with their UTC offset or in UTC, or fix that row"
            )
        in_file_order = pd.Series(local.asi8).groupby(codes)
        newest_first = (in_file_order.last() < in_file_order.first()).reindex(codes[twice]).to_numpy()
        standard = twice[((count == 2) & ((rank == 1) != newest_first)) | starts]
        result[standard] = winter_ns[standard]
    return pd.DatetimeIndex(result.view("M8[ns]")).tz_localize("UTC")


def _is_mixed_zone_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(key in text for key in ("mixed timezones", "mixed time zones", "tz-aware", "tz-naive"))


def _number_matrix(
    frame: pd.DataFrame,
    names: tuple[str, ...],
    rows: np.ndarray,
    shown: str,
    options: DataOptions = DataOptions(),
    flag: str = "--target",
) -> np.ndarray:
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
            values = _text_numbers(column, rows, shown, name, options, flag)
        infinite = np.isinf(values)
        if infinite.any():
            where = np.argmax(infinite)
            raise DataError(
                f"{shown}: column '{name}', row {rows[where]}: {values[where]} is not a finite number; "
                "fix or remove that value"
            )
        matrix[:, j] = values
    return matrix


def _text_numbers(
    column: pd.Series, rows: np.ndarray, shown: str, name: str, options: DataOptions, flag: str
) -> np.ndarray:
    """A column pandas left as text, as numbers read with the declared marks.

    Without a declared mark, only the cells ``pd.to_numeric`` fails on are looked at again:
    padded numbers and blank cells are fine. With ``--decimal ,`` or ``--thousands``, every
    cell is read with the marks (``pd.to_numeric`` alone would read ``1.163`` as 1.163), a dot
    is refused unless it groups thousands, and digit groups must have three digits (pandas
    reads ``1,16`` as 116).

    Returns:
        `(n_rows,)` float64, NaN where a cell is empty.
    """
    declared = options.thousands is not None or options.decimal != "."
    values = np.full(len(column), np.nan)
    if not declared:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    at = np.flatnonzero(column.notna().to_numpy() & np.isnan(values))
    cells = column.iloc[at].astype(str).str.strip()
    blank = (cells == "").to_numpy() | cells.isin(NO_VALUE_MARKS).to_numpy()
    misgrouped = dotted = np.zeros(len(cells), dtype=bool)
    if options.thousands:
        marked = cells.str.contains(options.thousands, regex=False).to_numpy()
        misgrouped = marked & ~cells.str.fullmatch(_grouping(options)).to_numpy()
        cells = cells.str.replace(options.thousands, "", regex=False)
    if options.decimal != ".":
        if options.thousands != ".":
            dotted = cells.str.contains(".", regex=False).to_numpy()
        cells = cells.str.replace(options.decimal, ".", regex=False)
    numbers = pd.to_numeric(cells.where(~blank), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    failed = ~blank & np.isnan(numbers)
    wrong = misgrouped | dotted | failed
    if wrong.any():
        k = int(np.argmax(wrong))
        where = at[k]
        cell = str(column.iloc[where])
        cited = f"{shown}: column '{name}', row {rows[where]}: {cell!r}"
        if misgrouped[k]:
            raise DataError(
                f"{cited} is not a number grouped in thousands (--thousands {_quoted(options.thousands)}): each group "
                "after a separator has three digits; fix that value, or check --thousands"
            )
        if dotted[k]:
            grouped = _GROUPED.fullmatch(cell.strip())
            if grouped and grouped.group(1) == ".":
                raise DataError(f"{cited} has a dot, which is not a decimal mark with --decimal ,: "
                                "pass --thousands . if the dot groups thousands")
            raise DataError(f"{cited} has a dot, but the decimal mark is a comma (--decimal ,); "
                            "fix that value or the option")
        hint = _number_hint(cell, options)
        if not hint and failed.sum() > 0.5 * column.notna().sum():
            raise DataError(
                f"{shown}: column '{name}' ({flag}) holds text, not numbers (row {rows[where]}: {cell!r}); "
                "choose a column of numbers"
            )
        raise DataError(f"{cited} is not a number{hint or '; fix or remove that value'}")
    values = values.copy()  # copy-on-write hands out read-only arrays
    values[at] = numbers
    return values


def _grouping(options: DataOptions) -> str:
    """A number grouped with :attr:`DataOptions.thousands` in threes (``1,234,567.5``), or, with a
    comma, in the Indian way (``12,34,567``): the same digits, so the same number."""
    mark, decimal = re.escape(options.thousands or ""), re.escape(options.decimal)
    indian = f"|{_INDIAN}" if options.thousands == "," else ""
    return rf"[+-]?(?:\d{{1,3}}(?:{mark}\d{{3}})+{indian})(?:{decimal}\d*)?"


#: A number whose dot may group thousands, or be a decimal mark before three decimals.
_DOT_THOUSANDS = re.compile(r"[+-]?\d{1,3}\.\d{3}")
_WHOLE = re.compile(r"[+-]?\d+")
#: Whole numbers below this beside dotted ones (1.163) do not make the dot ambiguous: read as
#: grouped thousands, the dotted ones would be ten times any of them.
_WHOLE_BESIDE_GROUPED = 100


def _dot_may_group_thousands(column: pd.Series, options: DataOptions) -> bool:
    """Whether a column pandas read as decimal numbers may hold whole numbers grouped with a
    dot (``1.163`` beside ``973``), which only its cells as written can tell
    (:func:`_check_dot_not_grouping`). From the numbers: all fractional ones lie from 1 to
    1000 with at most three decimals, some with three, beside whole ones of at least
    :data:`_WHOLE_BESIDE_GROUPED` and ten times their median (grouped, the dotted ones are
    the large numbers)."""
    if options.decimal != "." or options.thousands is not None or pd.api.types.is_bool_dtype(column):
        return False
    if pd.api.types.is_float_dtype(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    elif pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
        # numbers beside a mark of no value ("-"), which pandas leaves as text; a column of
        # other text (ids, timestamps) is told by its first cells, not converted whole
        if pd.to_numeric(column.iloc[:_DETECT_SAMPLE], errors="coerce").notna().mean() < 0.5:
            return False
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        return False
    values = values[np.isfinite(values)]  # an infinity is refused later, naming its row
    # the first rows decide for most columns (a price with two decimals, a reading with four),
    # so that a column of millions of rows is looked at whole only when they look grouped
    if _three_decimals(values[:_DETECT_SAMPLE]) is False:
        return False
    if not _three_decimals(values):
        return False
    # grouped, the dotted numbers (1.163) are the large ones: whole numbers (973) then lie far
    # above them as read, not among them as in data written with three decimals (12.000)
    whole, fractional = np.abs(values[values % 1 == 0]), np.abs(values[values % 1 != 0])
    return bool(len(whole)) and whole.max() >= max(_WHOLE_BESIDE_GROUPED, 10 * np.median(fractional))


def _three_decimals(values: np.ndarray) -> bool | None:
    """For :func:`_dot_may_group_thousands`: whether the fractional numbers lie from 1 to 1000
    with at most three decimals, some with three; None when none is fractional."""
    values = np.abs(values[np.isfinite(values)])
    fractional = values[values % 1 != 0]
    if not len(fractional):
        return None
    if fractional.min() < 1 or fractional.max() >= 1000:
        return False
    thousandths = fractional * 1000
    rounded = np.round(thousandths)
    return bool(np.allclose(thousandths, rounded, rtol=0, atol=1e-6) and (rounded % 10 != 0).any())


def _check_dot_not_grouping(cells: pd.Series, rows: np.ndarray, shown: str, name: str) -> None:
    """Refuse a column whose every dotted number has three digits after the dot beside whole
    numbers (``1.163`` and ``973``): German exports group thousands with a dot, so the dot
    may be that or a decimal mark, and the two readings differ a thousandfold.

    Args:
        cells: the column as written (text), one per row of ``rows``.
    """
    cells = cells.fillna("").str.strip()
    dotted = cells.str.contains(".", regex=False).to_numpy()
    three = cells.str.fullmatch(_DOT_THOUSANDS).to_numpy()
    whole = cells.str.fullmatch(_WHOLE).to_numpy()
    if not three.any() or (dotted & ~three).any() or not whole.any():
        return
    # read as grouped, the dotted numbers are 1,000 and more: whole numbers far below that
    # (2 beside 1.799, fuel prices; 1 beside 1.085, a rate) make decimals the one reading
    if np.abs(pd.to_numeric(cells[whole]).to_numpy(dtype=np.float64)).max() < _WHOLE_BESIDE_GROUPED:
        return
    # cited: a dotted number that reads differently either way, 1.163 rather than 1.000
    telling = three & ~cells.str.endswith("0").to_numpy()
    k, j = int(np.argmax(telling if telling.any() else three)), int(np.argmax(whole))
    raise DataError(
        f"{shown}: column '{name}': the dot may group thousands or be a decimal mark (row {rows[k]}: "
        f"{cells.iloc[k]!r} beside the whole number in row {rows[j]}: {cells.iloc[j]!r}); pass --thousands . "
        "--decimal , if the dot groups thousands; if it is a decimal mark, pass the mark that groups thousands "
        "instead (--thousands ',', even if no number has one)"
    )


def _number_hint(cell: str, options: DataOptions) -> str:
    """The option that reads a number written with a decimal comma or digit grouping, if any."""
    text = cell.strip()
    grouped = _GROUPED.fullmatch(text)
    if grouped and grouped.group(1) != options.thousands:
        mark, decimal = grouped.group(1), grouped.group(2)
        if mark == "," and decimal is None and options.decimal == ".":
            return (
                "; a comma is read neither as a decimal mark nor as a thousands separator unless declared: pass "
                "--decimal , if it is a decimal comma, or --thousands ',' if it groups thousands"
            )
        if mark == options.decimal:
            return f"; '{mark}' is the decimal mark (--decimal {options.decimal}): fix that value or the option"
        flags = f"--thousands {_quoted(mark)}"
        if decimal is not None and decimal != options.decimal:
            flags += f" --decimal {decimal}"
        return f"; it has thousands separators: pass {flags} to read them, or export the numbers without digit grouping"
    if _DECIMAL_COMMA.fullmatch(text) and options.decimal != ",":
        return "; it has a decimal comma: pass --decimal , to read decimal commas"
    return ""


def _quoted(mark: str) -> str:
    """A grouping mark as typed in a shell."""
    names = {"'": '"\'"', "\u00a0": "' ' (a no-break space)", "\u202f": "' ' (a narrow no-break space)"}
    return names.get(mark, f"'{mark}'")


def _known_ids(ids: list[str], targets: tuple[str, ...], known: Collection[str], shown: str,
               trained_model: str | None, pending: Any) -> np.ndarray:
    """The codes of the ids whose series a model knows (by :func:`_series_name`); a note for
    the others, an error when there is none."""
    known = set(known)
    keep = [code for code, key in enumerate(ids) if any(_series_name(key, t, targets) in known for t in targets)]
    kept = set(keep)
    unknown = [key for code, key in enumerate(ids) if code not in kept]
    model = trained_model or "the model"
    if not keep:
        raise DataError(f"{shown}: none of its series ({', '.join(repr(k) for k in unknown[:3])}"
                        f"{', ...' if len(unknown) > 3 else ''}) is in the training data of {model}; "
                        "is this the file the model was trained on?")
    if unknown:
        # counted and named as series, as everything else names them: a key of several targets is several
        pending.warn(f"{len(unknown) * len(targets)} series not in the training data of {model} "
                     f"(e.g. '{_series_name(unknown[0], targets[0], targets)}'); skipping them "
                     "(retrain to include them)")
    return np.asarray(keep, dtype=np.int64)


def _ids_as_trained(ids: list[str], targets: tuple[str, ...], known: Collection[str], trained_model: str | None,
                    pending: Any) -> list[str]:
    """The ids as a model trained by an earlier version names them: one that read a key column
    of numbers as numbers (``0101`` as ``101``, ``1`` beside ``3.0`` as ``1.0``), when more of
    them are known to it that way than as written; else ``ids`` as they are."""
    known = set(known)

    def named(keys: list[str]) -> int:
        return sum(any(_series_name(key, t, targets) in known for t in targets) for key in keys)

    numbers = pd.to_numeric(pd.Series(ids, dtype=object), errors="coerce")
    if numbers.isna().any() or named(ids) == len(ids):
        return ids
    as_numbers = [str(number) for number in numbers.tolist()]
    if len(set(as_numbers)) < len(ids) or named(as_numbers) <= named(ids):
        return ids  # two keys were one series then (007 and 7): which is which cannot be told
    changed = next(k for k, key in enumerate(ids) if key != as_numbers[k])
    pending.warn(f"{trained_model or 'the model'} was trained when series keys were read as numbers, and names "
                 f"series '{ids[changed]}' as '{as_numbers[changed]}'; retrain it to name the series as written")
    return as_numbers


def _series_name(series_id: str | None, target: str, targets: tuple[str, ...]) -> str:
    """A series' name: its target column in a wide file, its id in a long file of one target,
    ``id/target`` in a long file of several."""
    if series_id is None:
        return target
    return series_id if len(targets) == 1 else f"{series_id}/{target}"


def _series_ids(column: pd.Series, rows: np.ndarray, shown: str, name: str) -> tuple[np.ndarray, list[str]]:
    """Integer code per row and the ids as text, in order of first appearance.

    The column is read as text (:func:`~forecaster.csvfile.read_csv`): an id is its cell as
    written, without the spaces around it, so ``007`` and ``7``, or ``1E3`` and ``1000``, are
    different series."""
    # the distinct ids are few beside the rows: they are stripped, not the millions of cells
    codes, uniques = pd.factorize(column)  # NaN: code -1
    names = pd.Index(uniques).astype(str).str.strip()
    empty = np.append(np.asarray(names == ""), True)[codes]  # code -1 takes the appended True
    if empty.any():
        raise DataError(
            f"{shown}: column '{name}', row {rows[np.argmax(empty)]}: the series id is empty; fill it or remove the row"
        )
    if names.has_duplicates:  # "a" and "a " are one series
        merged, names = pd.factorize(names)
        codes = merged[codes]
    return codes.astype(np.int64), [str(u) for u in names]


def _summer_time_hint(times: np.ndarray, codes: np.ndarray, tz: Any, options: DataOptions) -> str:
    """For timestamps without offsets whose only repeats are night hours of the months in which
    summer time ends (October, November; March, April south of the equator), one night a
    year: "if the times are local with summer time, pass --tz ...; else ", and nothing
    otherwise.

    Args:
        times: `(n_rows,)` int64 ns, sorted by series then time (``codes``).
    """
    if tz is not None or options.tz or options.time_unit:
        return ""
    repeated = (codes[1:] == codes[:-1]) & (times[1:] == times[:-1])
    stamps = pd.DatetimeIndex(times[1:][repeated])
    steps = np.diff(np.unique(times))
    if not len(steps) or np.median(steps) > pd.Timedelta(hours=1).value:
        return ""
    nights = stamps.normalize().unique()
    years = pd.DatetimeIndex(times).year
    if (stamps.hour > 3).any() or not stamps.month.isin([3, 4, 10, 11]).all() or \
            len(nights) > years.max() - years.min() + 1:
        return ""
    ones = np.ones(len(stamps), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zone = next((zone for zone in _SUMMER_TIME_ZONES  # the first whose autumn repeats every one of them
                     if (stamps.tz_localize(zone, ambiguous=ones, nonexistent="NaT")
                         != stamps.tz_localize(zone, ambiguous=~ones, nonexistent="NaT")).all()), None)
    example = f" (e.g. --tz {zone})" if zone else ""
    return f"if the times are local with summer time, pass their zone with --tz{example}; else "


def _id_col_hint(frame: pd.DataFrame, times: np.ndarray, options: DataOptions) -> str:
    """For a file read without ``--id-col`` whose timestamps repeat: "if column 'store' tells
    the series apart, pass --id-col store; else " when a column left unused would key every
    row together with its timestamp (a long file read as one series), else nothing.

    Args:
        times: `(n_rows,)` int64 ns, in the frame's row order.
    """
    if options.id_col:
        return ""
    used = {options.time_col, *options.targets, *options.covariates}

    def keys_rows(name: str) -> bool:
        return not pd.DataFrame({"time": times, "key": frame[name].to_numpy()}).duplicated().any()

    keys = [name for name in frame.columns if name not in used and keys_rows(name)]
    if not keys:
        # a numeric key (store 101 to 105) is read as a target: it takes no more values than a time has rows
        most_per_time = int(np.unique(times, return_counts=True)[1].max())
        keys = [name for name in (*options.targets, *options.covariates)
                if _few_whole_numbers(frame[name], most_per_time) and keys_rows(name)]
    if not keys:
        return ""
    cells = frame[keys[0]].dropna().astype(str)
    if len(cells) and cells.iloc[: _DETECT_SAMPLE].str.fullmatch(_CLOCK).all():
        return f"{_split_date_time(options.time_col, keys[0])}; else "
    return f"if column '{keys[0]}' tells the series apart, pass --id-col {keys[0]}; else "


def _few_whole_numbers(column: pd.Series, most: int) -> bool:
    """Whether a column holds whole numbers (such as store numbers) of at most ``most`` distinct values."""
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    values = column.dropna().to_numpy(dtype=np.float64)
    return bool(len(values)) and bool((values % 1 == 0).all()) and len(np.unique(values)) <= most


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
    id_hint: Callable[[], str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reject, or merge, rows sharing a timestamp within a series.

    Args:
        codes, times, rows: `(n,)` series code, int64 ns and file row, sorted by all three.
        targets: `(n, n_targets)`; covariates: `(n, n_covariates)`.
        how: :attr:`DataOptions.on_duplicate`.
        id_hint: what the refusal suggests before combining (:func:`_id_col_hint`).

    Returns:
        The same five arrays with one row per (series, timestamp).
    """
    same = (codes[1:] == codes[:-1]) & (times[1:] == times[:-1])
    if not same.any():
        return codes, times, rows, targets, covariates
    values = np.column_stack([targets, covariates])
    copies = same & np.all((values[1:] == values[:-1]) | (np.isnan(values[1:]) & np.isnan(values[:-1])), axis=1)
    if (copies == same).all():
        # a day's rows sent twice (an export re-run, a retried append): nothing to choose between
        keep = np.r_[True, ~same]
        dropped = int(same.sum())
        reporter.warn(f"dropped {counted(dropped, 'row')} that {'repeats' if dropped == 1 else 'repeat'} an earlier "
                      f"row exactly (the same time and values), the first row {rows[1:][same][0]}")
        return codes[keep], times[keep], rows[keep], targets[keep], covariates[keep]
    if how == "error":
        second = np.argmax(same & ~copies) + 1  # the first that conflicts, not an exact repeat
        first = second - 1
        while first > 0 and same[first - 1]:  # named with the first row of its time, not a copy of it
            first -= 1
        series = "" if ids[codes[second]] is None else f" of series '{ids[codes[second]]}'"
        count = int(same.sum())
        more = f" ({count} duplicate rows in all)" if count > 1 else ""
        raise DataError(
            f"{shown}: timestamp {time_text(_timestamp(times[second], tz))}{series} appears in rows "
            f"{rows[first]} and {rows[second]}{more}; {id_hint()}pass --on-duplicate mean|last|first to "
            "combine them"
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
    reporter.info(f"Combined {int(same.sum())} duplicate rows into others (--on-duplicate {how})")
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


#: Zones whose spring change of clocks a gap of local times is compared with (the hint names
#: the first that fits; zones changing at the same local hour on the same day fit alike).
_SUMMER_TIME_ZONES = ("Europe/Berlin", "Europe/London", "America/New_York", "America/Denver", "America/Los_Angeles",
                      "Australia/Sydney", "Pacific/Auckland")
#: More distinct row-less filled times than this are not the spring hours of a few years.
_MAX_SKIPPED_TIMES = 200


def _spring_hint(times: pd.DatetimeIndex) -> str:
    """"; it is the hour clocks skip in spring in ZONE: ... pass --tz ZONE" when every one of
    ``times`` (without a zone) is such an hour in one of :data:`_SUMMER_TIME_ZONES`; else nothing."""
    for zone in _SUMMER_TIME_ZONES:
        if times.tz_localize(zone, nonexistent="NaT", ambiguous=np.zeros(len(times), bool)).isna().all():
            return (f"; {'it is' if len(times) == 1 else 'they are'} the hour clocks skip in spring in {zone}: "
                    f"if the times are local with summer time, pass their zone with --tz (e.g. --tz {zone})")
    return ""


class _SeriesBuilder:
    """Turns the sorted, unique rows of one group into regular, filled series.

    Also tallies what was filled and trimmed, so that each kind of warning is given once.
    """

    def __init__(self, shown: str, options: DataOptions, tz: Any, long_gaps: str = "refuse",
                 note_constant: bool = False, file_end: int | None = None) -> None:
        self.shown = shown
        self.options = options
        self.tz = tz
        #: what a gap longer than --max-gap does (see load_dataset)
        self.long_gaps = long_gaps
        #: the latest timestamp of the whole file (every group), as the groups' times are given
        #: (int64 ns, in UTC when tz is set); with long_gaps "fill", a group's grid goes on to it
        self.file_end = file_end
        #: the gaps longer than --max-gap filled (long_gaps "fill"), said once all is read
        self.long_filled: list[str] = []
        #: tell of the series whose every value is the same (described in constant), for training
        self.note_constant = note_constant
        self.constant: list[str] = []
        self.n_filled = 0
        self.n_gaps = 0
        self.first_gap: tuple[Any, str] | None = None  # the earliest filled gap: its start and where, for the note
        #: the distinct times filled for want of a row, while few (None: too many to be the
        #: hours clocks skip in spring)
        self.skipped_times: set[pd.Timestamp] | None = set()
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
        if self.long_gaps == "fill":
            # a host gone silent while the others report: its steps up to the file's end are
            # missing, written as missing as its empty cells would be (below)
            grid = self._up_to_file_end(grid, times, freq, series_id)
        n_steps = len(grid)
        row_at = np.full(n_steps, -1, dtype=np.int64)
        row_at[positions] = rows
        target_grid = np.full((n_steps, targets.shape[1]), np.nan)
        target_grid[positions] = targets
        covariate_grid = np.full((n_steps, covariates.shape[1]), np.nan)
        covariate_grid[positions] = covariates
        if self._from_after_long_gaps(series_id):
            cut = self._after_last_long_gap(np.column_stack([target_grid, covariate_grid]), grid, where)
            grid, row_at, target_grid, covariate_grid = grid[cut:], row_at[cut:], target_grid[cut:], covariate_grid[cut:]
            n_steps = len(grid)

        spans, target_ends = [], []
        for j, target in enumerate(self.options.targets):
            present = np.flatnonzero(~np.isnan(target_grid[:, j]))
            if present.size == 0:
                raise DataError(f"{self.shown}: column '{target}'{where} has no values; fill it or leave it out")
            # scoring writes a series' last steps without a value (an outage up to now) as missing
            stop = n_steps if self.long_gaps == "fill" else present[-1] + 1
            target_ends.append(max(stop, present[-1] + 1))
            if self._from_after_long_gaps(series_id):
                stop = self._before_covariates_stop(covariate_grid, grid, present[0], stop,
                                                    _series_name(series_id, target, self.options.targets))
            if stop > present[-1] + 1:
                self.long_filled.append(
                    f"column '{target}'{where}: no value in its last {counted(stop - present[-1] - 1, 'step')}, "
                    f"{time_text(grid[present[-1] + 1])} to {time_text(grid[stop - 1])}: written as missing, not scored")
            spans.append((present[0], stop))
        # Covariates are filled once over the span of all this group's targets, then sliced.
        low, high = min(s[0] for s in spans), max(s[1] for s in spans)
        shared = np.empty((high - low, covariates.shape[1]))
        shared_missing = np.zeros((high - low, covariates.shape[1]), dtype=bool)
        for j, name in enumerate(self.options.covariates):
            shared[:, j], shared_missing[:, j] = self._fill(covariate_grid[low:high, j], grid[low:high],
                                                            row_at[low:high], name, where, freq)

        result = []
        for j, (target, (start, stop), target_end) in enumerate(zip(self.options.targets, spans, target_ends,
                                                                    strict=True)):
            name = _series_name(series_id, target, self.options.targets)
            ends = [f"{count} {side}" for count, side in ((start, "leading"), (n_steps - target_end, "trailing"))
                    if count]
            if ends:
                self.trimmed.append(
                    f"series '{name}': dropped {' and '.join(ends)} step(s) where '{target}' has no value"
                )
            values, missing = self._fill(
                target_grid[start:stop, j], grid[start:stop], row_at[start:stop], target, where, freq
            )
            if values.min() == values.max():
                self.constant.append(f"column '{target}'{where} is constant (every value is {values[0]})")
            result.append(
                Series(
                    name=name,
                    target=target,
                    index=grid[start:stop],
                    freq=freq,
                    values=values,
                    covariates=shared[start - low : stop - low].copy(),
                    covariates_missing=shared_missing[start - low : stop - low].copy(),
                    missing=missing,
                    first_row=int(row_at[start]),
                )
            )
        return result

    def report(self, reporter: Reporter) -> None:
        if self.constant and self.note_constant:
            more = f" (and {len(self.constant) - 1} more series)" if len(self.constant) > 1 else ""
            reporter.warn(f"{self.constant[0]}{more}; such a series is forecast at its value, and detect-anomalies "
                          "flags a departure from it")
        for messages, what in ((self.trimmed, "series trimmed the same way"), (self.long_filled, "long gaps filled")):
            for message in messages[:_MAX_TRIM_WARNINGS]:
                reporter.warn(message)
            if len(messages) > _MAX_TRIM_WARNINGS:
                reporter.warn(f"... and {len(messages) - _MAX_TRIM_WARNINGS} more {what}")
        if self.n_filled:
            reporter.warn(
                f"filled {counted(self.n_filled, 'missing value')} in {counted(self.n_gaps, 'gap')} of at most "
                f"{self.options.max_gap} steps (--max-gap), {'the first ' if self.n_gaps > 1 else ''}{self.first_gap[1]}"
                + self._spring_hint()
            )

    def _spring_hint(self) -> str:
        """For times without a zone whose every row-less filled step is an hour that clocks
        skip in spring in one of :data:`_SUMMER_TIME_ZONES`: a hint to pass the zone, under
        which there is no gap to fill (each such hour would otherwise hold a made-up value,
        and the series would run an hour off real time for half the year). Else nothing."""
        if self.tz is not None or not self.skipped_times:
            return ""
        return _spring_hint(pd.DatetimeIndex(sorted(self.skipped_times)))

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
            # months of 28 to 31 days, quarters, years: a calendar step, whose dates must
            # fall on the same day of each period for a grid to be found
            calendar = ("; monthly, quarterly and yearly dates must each be the period's first or last day (write "
                        "2024-01-01 or 2024-01-31 for January, not 2024-01-15)"
                        if pd.Timedelta(days=28) <= step <= pd.Timedelta(days=366) else "")
            raise DataError(
                f"{self.shown}: cannot infer the frequency of the timestamps{where} (most common step {step}){calendar}; "
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
                f"(row {rows[bad]}: {time_text(index[bad])} is between grid points); "
                f"{_local_dates_hint(index, freq)}resample the data first"
            )
        if step is not None:
            # A few long holes could ask for a huge grid; the first one is an error anyway.
            jumps = np.diff(positions) - 1
            if n_steps > 10 * len(times) + 100_000 and jumps.max() > self.options.max_gap:
                at = np.argmax(jumps)
                raise DataError(
                    f"{self.shown}: timestamps{where} jump from {time_text(index[at])} (row {rows[at]}) to "
                    f"{time_text(index[at + 1])}, {jumps[at]} missing steps of {freq}; at most --max-gap "
                    f"{self.options.max_gap} are filled; pass a larger --max-gap or fix the data"
                )
            grid = pd.date_range(index[0], periods=n_steps, freq=offset)
        return grid, np.asarray(positions, dtype=np.int64)

    def _up_to_file_end(self, grid: pd.DatetimeIndex, times: np.ndarray, freq: str,
                        series_id: str | None) -> pd.DatetimeIndex:
        """``grid`` continued to the file's last timestamp (:attr:`file_end`), where that lies
        on it: a group whose rows stop before the other groups' do then has its last steps
        without a row, which :meth:`build` makes missing cells. Left as it is where the file's
        end is off its grid (another phase or frequency), and, with a warning in
        :attr:`long_filled`, where it would take more steps than the grid has (memory).

        Args:
            grid: the group's regular grid from its first to its last timestamp (:meth:`_grid`).
            times: `(n,)` int64 ns of its rows, sorted.
        """
        if self.file_end is None or self.file_end <= times[-1]:
            return grid
        offset = to_offset(freq)
        step = _fixed_step(offset, self.tz)
        end = _timestamp(self.file_end, self.tz)
        if step is not None:
            if (self.file_end - int(times[0])) % step:
                return grid
            extra = (self.file_end - int(times[-1])) // step
        else:
            # calendar steps (months, business days, local days in a zone): a day at least, so
            # even centuries of them are few
            beyond = pd.date_range(grid[-1], end, freq=offset)
            if len(beyond) == 0 or beyond[0] != grid[-1] or beyond[-1] != end:
                return grid
            extra = len(beyond) - 1
        if extra > len(grid):
            name = "the file" if series_id is None else f"series '{series_id}'"
            self.long_filled.append(
                f"{name}: no row after {time_text(grid[-1])}, {counted(extra, 'step')} before the file's end at "
                f"{time_text(end)}: not written beyond its last row (more steps than it has)"
            )
            return grid
        return pd.date_range(grid[0], periods=len(grid) + extra, freq=offset)

    def _from_after_long_gaps(self, series_id: str | None) -> bool:
        """Whether a series starts after its last gap longer than ``max_gap`` (and ends before a
        covariate's that runs to its end), instead of refusing it."""
        return self.long_gaps == "recent" or (self.long_gaps == "recent-per-id" and series_id is not None)

    def _after_last_long_gap(self, columns: np.ndarray, grid: pd.DatetimeIndex, where: str) -> int:
        """The first step after the last run of more than ``max_gap`` missing steps inside any
        column's values (0: none), noted in :attr:`trimmed`: what a forecast from the latest
        steps can do without, where a scored or trained history could not.

        Args:
            columns: `(n_steps, n_columns)` the group's targets and covariates, NaN where missing.
        """
        cut, column_at = 0, None
        for j in range(columns.shape[1]):
            missing = np.isnan(columns[:, j])
            present = np.flatnonzero(~missing)
            if present.size < 2:
                continue
            starts, stops = true_runs(missing[present[0]:present[-1] + 1])
            long = stops - starts > self.options.max_gap
            if long.any() and present[0] + stops[long][-1] > cut:
                cut, column_at = present[0] + stops[long][-1], j
        if cut:
            names = (*self.options.targets, *self.options.covariates)
            self.trimmed.append(
                f"column '{names[column_at]}'{where}: a gap longer than --max-gap ends at {time_text(grid[cut - 1])}; "
                f"the steps before {time_text(grid[cut])} are left out, "
                + ("as forecasts start from the latest ones" if self.long_gaps == "recent" else
                   "as a gap that long is not filled to train on")
            )
        return cut

    def _before_covariates_stop(self, covariates: np.ndarray, grid: pd.DatetimeIndex, start: int, stop: int,
                                name: str) -> int:
        """Where a forecast from the latest steps ends a target's span ``[start, stop)``: before
        the last run of more than ``max_gap`` steps in which a covariate has no value up to
        ``stop`` (a temperature feed that stopped hours ago), noted in :attr:`trimmed`, as the
        steps where the target has none are; ``stop`` where there is no such run.

        Args:
            covariates: `(n_steps, n_covariates)`, NaN where missing.
        """
        end, stopped = stop, None
        for j, covariate in enumerate(self.options.covariates):
            present = np.flatnonzero(~np.isnan(covariates[start:stop, j]))
            last = start + (present[-1] + 1 if present.size else 0)
            if stop - last > self.options.max_gap and start < last < end:
                end, stopped = last, covariate
        if stopped is not None:
            self.trimmed.append(
                f"series '{name}': dropped {stop - end} trailing step(s) where covariate '{stopped}' has no value (more than "
                f"--max-gap {self.options.max_gap}), so it is forecast from {time_text(grid[end - 1])}")
        return end

    def _fill(self, values, grid, row_at, column, where, freq) -> tuple[np.ndarray, np.ndarray]:
        """Interpolate runs of at most max_gap missing steps (with long_gaps "fill", fill every
        run from the steps before it alone: :func:`_fill_from_the_past`).

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
        starts, stops = true_runs(missing)
        lengths = stops - starts
        too_long = lengths > self.options.max_gap
        # a target's run up to the end is told of by build(), which writes it as missing
        told_by_build = (stops == len(values)) & (self.long_gaps == "fill") & (column in self.options.targets)
        too_long &= ~told_by_build
        if too_long.any() and self.long_gaps == "fill":
            why = ("filled in for the expectations after them, and not scored" if column in self.options.targets
                   else "filled in")
            self.long_filled += [
                f"column '{column}'{where}: {lengths[k]} missing steps from {time_text(grid[starts[k]])} to "
                f"{time_text(grid[stops[k] - 1])}, more than --max-gap {self.options.max_gap}: {why}"
                for k in np.flatnonzero(too_long)
            ]
        elif too_long.any():
            k = np.argmax(too_long)
            start, stop = starts[k], stops[k]
            anchor = f"after row {row_at[start - 1]}" if start > 0 else f"before row {row_at[stop]}"
            hint = _spring_hint(grid[start:stop]) if self.tz is None and (row_at[start:stop] < 0).all() else ""
            raise DataError(
                f"{self.shown}: column '{column}'{where}: {lengths[k]} consecutive missing steps from "
                f"{time_text(grid[start])} to {time_text(grid[stop - 1])} ({anchor}); at most --max-gap "
                f"{self.options.max_gap} are filled; pass a larger --max-gap or fix the data{hint}"
            )
        # np.interp holds the end values beyond the first/last present step (covariate edges).
        filled = values.copy()
        filled[missing] = np.interp(np.flatnonzero(missing), present, values[present])
        if self.long_gaps == "fill":
            filled = _fill_from_the_past(filled, missing, present[0], seasonal_period(freq))
        if self.skipped_times is not None:
            self.skipped_times.update(grid[missing & (row_at < 0)])
            if len(self.skipped_times) > _MAX_SKIPPED_TIMES:
                self.skipped_times = None
        short = (lengths <= self.options.max_gap) & ~told_by_build
        # the long ones (filled with long_gaps "fill") are told of on their own, as is a target's run to the end
        if short.any():
            begins = grid[starts[short][0]]
            if self.first_gap is None or begins < self.first_gap[0]:
                self.first_gap = (begins, f"in column '{column}'{where} at {time_text(begins)}")
            self.n_filled += int(lengths[short].sum())
            self.n_gaps += int(short.sum())
        return filled, missing


def _fill_from_the_past(values: np.ndarray, missing: np.ndarray, first: int, season: int) -> np.ndarray:
    """``values`` with each ``missing`` step after ``first`` (the first present one) set to the
    value one ``season`` before it, or the last one before it within the first season: a
    fill that uses no value after the gap.

    Anomaly scoring takes the filled steps as the inputs of the points after a gap.
    Interpolated towards the first value after it, they would let that value shape its own
    expectation, and a spike right after an outage would look expected.

    Args:
        values: `(n,)` filled some other way where ``missing`` before ``first`` (kept).
        missing: `(n,)` True where the value was filled.
    """
    out = values.copy()
    for t in np.flatnonzero(missing):  # in time order: a filled step may feed a later one
        if t > first:
            out[t] = out[t - season] if t - season >= first else out[t - 1]
    return out


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
    elif 12.9 <= days <= 17.1 and bool(index.day.isin((1, 15)).all()):
        candidate = "SMS-15"  # the 1st and the 15th: twice a month, which no whole number of days is
    elif 12.9 <= days <= 17.1 and bool(((index.day == 15) | index.is_month_end).all()):
        candidate = "SME-15"
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


def shown_name(path: str) -> str:
    """The file as messages name it: ``"-"`` is standard input."""
    return "standard input" if path == "-" else path


def time_text(stamp: pd.Timestamp) -> str:
    """A timestamp as people write it: no zero seconds, no midnight on dates."""
    if stamp.second or stamp.microsecond or stamp.nanosecond:
        text = stamp.strftime("%Y-%m-%d %H:%M:%S")
    elif stamp.hour or stamp.minute:
        text = stamp.strftime("%Y-%m-%d %H:%M")
    else:
        text = stamp.strftime("%Y-%m-%d")
    offset = stamp.strftime("%z") if stamp.tz is not None else ""
    return f"{text}{offset[:3]}:{offset[3:]}" if offset else text
