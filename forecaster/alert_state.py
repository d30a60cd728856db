"""What earlier ``detect-anomalies --state`` runs wrote: each series' newest scored point.

A cron job that writes only points newer than these sees every point once, however many
runs were missed and however late a series' rows arrive, where ``--last N`` (the newest N
points of each series, whatever the earlier runs wrote) repeats some and misses others.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ForecasterError

#: Written into the file so that another JSON file given by mistake is recognised.
KIND = "forecaster detect-anomalies state"
VERSION = 1


def _unreadable(path: str | os.PathLike, why: str) -> ForecasterError:
    return ForecasterError(f"--state '{path}' {why}; give the state file a detect-anomalies --state run wrote, or "
                           "remove it to start again (the next run then writes every point, or the last N with --last)")


def read_marks(path: str | os.PathLike) -> dict[str, Any]:
    """Each series' newest scored point (a ``pandas.Timestamp``) that an earlier run wrote, by
    series name; empty when the file does not exist yet (the first run).

    Raises:
        ForecasterError: the file cannot be read or was not written by ``--state``.
    """
    import pandas as pd

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise _unreadable(path, f"cannot be read ({getattr(error, 'strerror', None) or error})") from None
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        raise _unreadable(path, f"is not JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(content, dict) or content.get("kind") != KIND:
        raise _unreadable(path, "is not a detect-anomalies state file")
    if not isinstance(content.get("version"), int) or content["version"] > VERSION:
        raise _unreadable(path, f"is of version {content.get('version')!r}, which this forecaster does not read "
                                f"(it reads {VERSION} and before)")
    marks = content.get("newest_scored")
    if not isinstance(marks, dict):
        raise _unreadable(path, "has no 'newest_scored' object")
    parsed = {}
    for name, when in marks.items():
        try:
            parsed[name] = pd.Timestamp(when)
        except (TypeError, ValueError):
            parsed[name] = pd.NaT
        if not isinstance(when, str) or pd.isna(parsed[name]):
            raise _unreadable(path, f"has {when!r} for series '{name}', not a time")
    return parsed


def newest_scored(frame: Any) -> dict[str, Any]:
    """Each series' newest point with a score in ``frame`` (detect-anomalies' rows), by name.
    A point without one (no value yet: a late row, a host gone silent) is not counted, so
    the next run writes it again, scored once its value has arrived."""
    scored = frame[frame["score"].notna()]
    return scored.groupby("series", sort=False)["timestamp"].max().to_dict()


def write_marks(path: str | os.PathLike, marks: Mapping[str, Any], frame: Any) -> dict[str, Any]:
    """Write ``marks`` moved on to the newest scored points of ``frame``, the rows the run
    wrote, atomically; series not in ``frame`` keep their mark (a host missing from one
    export does not lose its place). Returns the marks written."""
    from .outputs import atomic_output

    updated = {**marks, **newest_scored(frame)}
    content = {"kind": KIND, "version": VERSION,
               "newest_scored": {str(name): when.isoformat() for name, when in updated.items()}}
    with atomic_output(path) as handle:
        json.dump(content, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    return updated
