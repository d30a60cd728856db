"""The input channels a model sees for each step of a series: the target, the covariates,
and the position in the calendar.

A window of 48 hours cannot tell a Friday from a Sunday, yet tomorrow's load depends on it.
Encoding the time of day, day of week (and so on, by frequency) as sine/cosine pairs gives
every window that knowledge at the cost of a few channels, and needs nothing from the user:
it is computed from the timestamps, so predict and detect-anomalies rebuild it exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

_DAY = pd.Timedelta(days=1)
#: How long each cycle of :func:`calendar_cycles` lasts.
CYCLE_LENGTHS = {"day": _DAY, "week": 7 * _DAY, "year": 365 * _DAY}


def calendar_cycles(freq: str) -> tuple[str, ...]:
    """The calendar cycles worth encoding for series at ``freq``.

    Returns:
        Names among ``"day"`` (time of day), ``"week"`` (day of week), ``"year"`` (day of
        year); only cycles longer than two steps, so that they vary within them.
    """
    offset = to_offset(freq)
    try:
        step = pd.Timedelta(offset)
    except ValueError:  # calendar offsets (months, quarters, business days) have no fixed length
        step = None
    if isinstance(offset, pd.offsets.BusinessDay):
        return ("week", "year")
    if isinstance(offset, (pd.offsets.YearBegin, pd.offsets.YearEnd)):
        return ()
    if step is None or step >= 7 * _DAY:
        return ("year",) if step is None or step < 180 * _DAY else ()
    if step >= _DAY:
        return ("week", "year")
    return ("day", "week")


def calendar_features(index: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """Sine and cosine of the position of each timestamp in each cycle of :func:`calendar_cycles`.

    Args:
        index: `(n_steps,)` timestamps (local time if the index has a time zone, as people live by it).
        freq: the series' offset alias.

    Returns:
        `(n_steps, 2 * n_cycles)` float64 in [-1, 1].
    """
    cycles = calendar_cycles(freq)
    if not cycles:
        return np.empty((len(index), 0))
    # Integer arithmetic on the wall-clock seconds rather than pandas' field accessors (hour,
    # day_of_week, ...), which cost about a millisecond each per call: with 10,000 series
    # that was over a third of a predict's time. The same integers, so the same features to
    # the bit.
    wall = index.tz_localize(None) if index.tz is not None else index
    seconds = wall.as_unit("ns").asi8 // 1_000_000_000  # floor, also before 1970
    days = seconds // 86_400
    day_fraction = (seconds - days * 86_400).astype(np.float64) / 86_400
    phases = []
    for cycle in cycles:
        if cycle == "day":
            phases.append(day_fraction)
        elif cycle == "week":
            day_of_week = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
            phases.append((day_of_week.astype(np.float64) + day_fraction) / 7)
        else:
            dates = days.astype("datetime64[D]")
            year_starts = dates.astype("datetime64[Y]")
            day_of_year = (dates - year_starts.astype("datetime64[D]")).astype(np.int64) + 1
            year_days = ((year_starts + 1).astype("datetime64[D]") - year_starts.astype("datetime64[D]")).astype(np.float64)
            phases.append((day_of_year.astype(np.float64) - 1 + day_fraction) / year_days)
    angles = 2 * np.pi * np.column_stack(phases)
    return np.column_stack([np.sin(angles), np.cos(angles)])


def series_features(values: np.ndarray, covariates: np.ndarray, index: pd.DatetimeIndex, freq: str,
                    calendar: bool) -> np.ndarray:
    """Every input channel of one series, target first.

    Args:
        values: `(n_steps,)` target.
        covariates: `(n_steps, n_covariates)`.
        index: `(n_steps,)` timestamps.
        calendar: add :func:`calendar_features`.

    Returns:
        `(n_steps, 1 + n_covariates [+ 2 * n_cycles])` float64.
    """
    parts = [np.asarray(values, dtype=np.float64)[:, None], np.asarray(covariates, dtype=np.float64).reshape(len(values), -1)]
    if calendar:
        parts.append(calendar_features(index, freq))
    return np.column_stack(parts)
