"""What earlier ``detect-anomalies --state`` runs wrote: each series' newest scored point,
and the points before it still without a value.

A cron job that writes only points newer than these sees every point once, however many
runs were missed and however late a series' rows arrive, where ``--last N`` (the newest N
points of each series, whatever the earlier runs wrote) repeats some and misses others.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import ForecasterError

#: Written into the file so that another JSON file given by mistake is recognised.
KIND = "forecaster detect-anomalies state"
VERSION = 3
#: A point written without a value before a later scored one (a gap a collector fills in
#: later) is written again by this many runs at most, then given up.
PENDING_RUNS = 24


@dataclass
class AlertState:
    """Each series' newest scored point written (``marks``), and the points before it written
    without a value, each with how many runs wrote it (``pending``); ``model`` is the model
    directory the runs used, ``zone`` the time zone (``--tz``) this run reads timestamps
    written without an offset in."""

    marks: dict[str, Any] = field(default_factory=dict)
    pending: dict[str, dict[Any, int]] = field(default_factory=dict)
    model: str | None = None
    zone: str | None = None


def _unreadable(path: str | os.PathLike, why: str) -> ForecasterError:
    return ForecasterError(f"--state '{path}' {why}; give the state file a detect-anomalies --state run wrote, or "
                           "remove it to start again (the next run then writes every point, or the last N with --last)")


def model_key(model_dir: str | os.PathLike) -> str:
    """How a state file names its model: the absolute path as given (a link such as
    ``current`` stays the same name when a retraining points it elsewhere)."""
    return os.path.abspath(model_dir)


def _time(path: str | os.PathLike, name: str, when: Any):
    import pandas as pd

    try:
        datetime.fromisoformat(when)  # ISO only: pandas would take "now" and "today"
        return pd.Timestamp(when)
    except (TypeError, ValueError):
        raise _unreadable(path, f"has {when!r} for series '{name}', not a time") from None


def run_zone(model_dir: str | os.PathLike | None, reading: Mapping[str, Any] | None = None) -> str | None:
    """The time zone a run reads timestamps written without an offset in: ``reading``'s
    ``tz`` if it has one (None for ``--tz none``), else the model's."""
    if reading and "tz" in reading:
        return reading["tz"]
    if model_dir is None:
        return None
    from .artifacts import read_metadata

    try:
        zone = read_metadata(model_dir)["data_options"].get("tz")
    except (ForecasterError, OSError, KeyError, TypeError, AttributeError, ValueError):
        return None  # the run itself then says what is wrong with the model
    return zone if isinstance(zone, str) else None


def read_state(path: str | os.PathLike, model_dir: str | os.PathLike | None = None,
               reading: Mapping[str, Any] | None = None) -> AlertState:
    """What earlier runs recorded in ``path``; empty when the file does not exist yet (the
    first run).

    The times are made comparable with this run's (``reading`` as given to
    :func:`forecaster.anomaly.detect_anomalies`) where ``--tz`` was added, dropped or
    changed since the file was written: a time recorded without a zone is a local time in
    the zone the file records, or else in this run's; one with a zone is put in the zone
    the file records, so that it gives the local time the runs before read.

    Raises:
        ForecasterError: the file cannot be read, was not written by ``--state``, or was
            written for another model than ``model_dir`` (two jobs sharing it would skip each
            other's points).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return AlertState(model=None if model_dir is None else model_key(model_dir), zone=run_zone(model_dir, reading))
    except (OSError, UnicodeDecodeError) as error:
        raise _unreadable(path, f"cannot be read ({getattr(error, 'strerror', None) or error})") from None
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        raise _unreadable(path, f"is not JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(content, dict) or content.get("kind") != KIND:
        raise _unreadable(path, "is not a detect-anomalies state file")
    version = content.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= VERSION:
        raise _unreadable(path, f"is of version {version!r}, which this forecaster does not read (it reads 1 to "
                                f"{VERSION})")
    marks, pending = content.get("newest_scored"), content.get("unscored", {})
    if not isinstance(marks, dict):
        raise _unreadable(path, "has no 'newest_scored' object")
    if not isinstance(pending, dict) or not all(isinstance(p, dict) for p in pending.values()):
        raise _unreadable(path, "has an 'unscored' entry that is not an object of times")
    recorded = content.get("model")
    if model_dir is not None and recorded is not None and recorded != model_key(model_dir):
        raise ForecasterError(f"--state '{path}' is the state of the job with the model '{recorded}', not "
                              f"'{model_key(model_dir)}'; give each job its own --state file (sharing one, each "
                              "would skip the points the other wrote), or, if this job's model was moved there, set "
                              "the file's \"model\" to its new path")
    written_in = content.get("zone")
    if written_in is not None and not isinstance(written_in, str):
        raise _unreadable(path, f"has {written_in!r} as its zone, not a zone name")
    zone = run_zone(model_dir, reading)
    try:
        return AlertState(
            marks={name: _comparable(_time(path, name, when), written_in, zone) for name, when in marks.items()},
            pending={name: {_comparable(_time(path, name, when), written_in, zone): int(runs)
                            for when, runs in points.items()}
                     for name, points in pending.items()},
            model=model_key(model_dir) if model_dir is not None else recorded,
            zone=zone,
        )
    except (KeyError, ValueError) as error:  # pytz / zoneinfo: an unknown zone
        raise _unreadable(path, f"has a zone this machine does not know ({error})") from None


def _comparable(when: Any, written_in: str | None, zone: str | None):
    """A recorded time as this run's times will compare with it (see :func:`read_state`)."""
    if when.tz is not None:
        return when.tz_convert(written_in) if written_in else when
    local = written_in or zone
    # the earlier of a repeated autumn hour, and the hour before a skipped spring one: a
    # point written twice rather than one never written
    return when if local is None else when.tz_localize(local, ambiguous=True, nonexistent="shift_backward")


def read_marks(path: str | os.PathLike) -> dict[str, Any]:
    """Each series' newest scored point (a ``pandas.Timestamp``) recorded in ``path``."""
    return read_state(path).marks


def as_times(marks: Mapping[str, Any], caller: str, name: str = "after") -> dict[str, Any]:
    """``marks`` (series name -> a time: a ``pandas.Timestamp``, a ``datetime`` or ISO text)
    as ``pandas.Timestamp``s.

    Raises:
        TypeError: naming ``caller``'s argument, for what is not such a mapping.
    """
    return {series: _given_time(when, caller, f"{name}['{series}']")
            for series, when in _given_mapping(marks, caller, name).items()}


def as_time_lists(points: Mapping[str, Any], caller: str, name: str = "again") -> dict[str, list]:
    """``points`` (series name -> times, such as :attr:`AlertState.pending`) as lists of
    ``pandas.Timestamp``s, refused as :func:`as_times` refuses."""
    return {series: [_given_time(when, caller, f"{name}['{series}']") for when in times]
            for series, times in _given_mapping(points, caller, name).items()}


def _given_mapping(value: Any, caller: str, name: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise TypeError(f"{caller}(): {name} must be a mapping of series names to times (read_state gives one), got "
                        f"{type(value).__name__}")
    return value


def _given_time(when: Any, caller: str, label: str):
    import pandas as pd

    try:
        stamp = pd.Timestamp(when)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if pd.isna(stamp) or isinstance(when, (bool, int, float)):
        raise TypeError(f"{caller}(): {label} must be a time, got {type(when).__name__} {when!r}")
    return stamp


def updated_state(state: AlertState, frame: Any) -> AlertState:
    """``state`` after a run wrote ``frame`` (detect-anomalies' rows): each series' mark
    moved on to its newest scored point; the points written without a value before it
    pending (one run more), those scored now or given up after :data:`PENDING_RUNS` runs
    dropped. A series not in ``frame`` keeps its mark and pending points (a host missing
    from one export does not lose its place)."""
    marks = dict(state.marks)
    pending = {name: dict(points) for name, points in state.pending.items()}
    for name, rows in frame.groupby("series", sort=False):
        scored = rows["score"].notna()
        if scored.any():
            newest = rows.loc[scored, "timestamp"].max()
            marks[name] = newest if name not in marks else max(newest, _like(marks[name], newest))
        before = pending.pop(name, {})
        if name not in marks:
            continue
        mark = _like(marks[name], rows["timestamp"].iloc[0])  # an old mark may be of the other kind
        still = {}
        for when in rows.loc[~scored & (rows["timestamp"] < mark), "timestamp"]:
            runs = next((n for t, n in before.items() if t == when), 0) + 1
            if runs <= PENDING_RUNS:
                still[when] = runs
        if still:
            pending[name] = still
    return AlertState(marks, pending, state.model, state.zone)


def _like(when: Any, other: Any):
    """``when`` comparable with ``other`` (both with a zone or both without)."""
    import pandas as pd

    from .forecasting import time_like

    return time_like(when, pd.DatetimeIndex([other]))


def write_state(path: str | os.PathLike, state: AlertState, frame: Any) -> AlertState:
    """Write :func:`updated_state` to ``path`` atomically; returns it."""
    from .outputs import atomic_output

    updated = updated_state(state, frame)
    content = {"kind": KIND, "version": VERSION, "model": updated.model, "zone": updated.zone,
               "newest_scored": {str(name): when.isoformat() for name, when in updated.marks.items()},
               "unscored": {str(name): {when.isoformat(): runs for when, runs in points.items()}
                            for name, points in updated.pending.items()}}
    with atomic_output(path) as handle:
        json.dump(content, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    return updated
