"""How well 0/1 anomaly detections match labelled anomaly windows: pure functions of arrays.

Two views of one file's detections against its labelled windows (row ranges):

* the **NAB score** (Numenta Anomaly Benchmark, Lavin & Ahmad 2015), which rewards an early
  detection inside a window, counts only the earliest detection of each window, charges every
  false-positive row (less so just after a window) and every missed window;
* **event-level precision and recall**: a window is found when any detection falls in it; a
  detection event (a run of consecutive detected rows) is true when it touches a window.

Rows of the probationary period (the detector's time to learn) are ignored by both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CostProfile:
    """Weights of one NAB application profile (``config/profiles.json`` there)."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


NAB_PROFILES = (
    CostProfile("standard", 1.0, 0.11, 1.0),
    CostProfile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    CostProfile("reward_low_FN_rate", 1.0, 0.11, 2.0),
)


def nab_probation(n_rows: int, fraction: float = 0.15) -> int:
    """Rows at the start of a file that NAB does not score: ``min(⌊0.15·N⌋, 0.15·5000)``."""
    return int(min(math.floor(fraction * n_rows), fraction * 5000))


def scaled_sigmoid(y: np.ndarray | float) -> np.ndarray:
    """NAB's ``A(y) = 2·σ(−5y) − 1``, and −1 beyond ``y > 3``: 0.987 at y = −1, 0 at y = 0."""
    y = np.asarray(y, dtype=np.float64)
    return np.where(y > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * y)) - 1.0)


def _check_windows(windows: list[tuple[int, int]], n_rows: int) -> list[tuple[int, int]]:
    ordered = sorted((int(a), int(b)) for a, b in windows)
    for (a, b), following in zip(ordered, ordered[1:] + [None]):
        if not 0 <= a <= b < n_rows:
            raise ValueError(f"window rows {a}..{b} are not within 0..{n_rows - 1}")
        if following is not None and following[0] <= b:
            raise ValueError(f"windows {a}..{b} and {following[0]}..{following[1]} overlap")
    return ordered


def nab_raw_score(
    detections: np.ndarray, windows: list[tuple[int, int]], profile: CostProfile, probation: int = 0
) -> dict[str, float]:
    """NAB's raw score of one file's detections.

    Each window counts the weighted score of its earliest detection, ``A(−(r−i+1)/w) · tp /
    A(−1)`` for a detection at row ``i`` of a window of ``w`` rows ending at row ``r``
    (``tp`` on the window's first row, near 0 on its last), or ``−fn`` when it holds none.
    Every detection outside the windows adds ``A(|i − r'|/(w' − 1)) · fp``, ``r'`` and ``w'``
    being the end and width of the last window before it, or ``−fp`` when none came before.

    Args:
        detections: `(n_rows,)` truthy where a row is detected as anomalous.
        windows: labelled windows as inclusive ``(first_row, last_row)``, not overlapping.
        probation: rows at the start whose detections are ignored.

    Returns:
        ``score`` (the raw score), ``tp`` / ``fn`` (windows found / missed) and ``fp``
        (false-positive rows).
    """
    detected = np.asarray(detections, dtype=bool).copy()
    n_rows = len(detected)
    detected[: max(0, int(probation))] = False
    windows = _check_windows(windows, n_rows)
    rows = np.flatnonzero(detected)
    in_window = np.zeros(n_rows, dtype=bool)
    score, tp, fn = 0.0, 0, 0
    for first, last in windows:
        in_window[first : last + 1] = True
        hits = rows[(rows >= first) & (rows <= last)]
        if len(hits):
            width = last - first + 1
            score += float(scaled_sigmoid(-(last - hits[0] + 1) / width)) * profile.tp_weight / float(scaled_sigmoid(-1.0))
            tp += 1
        else:
            score -= profile.fn_weight
            fn += 1
    false_rows = rows[~in_window[rows]]
    ends = np.array([last for _, last in windows], dtype=np.int64)
    widths = np.array([last - first + 1 for first, last in windows], dtype=np.int64)
    # the last window ending before each false row (-1: none); a false row is never inside one
    k = np.searchsorted(ends, false_rows) - 1
    after = k >= 0
    # a one-row window has no width to measure by: treat it as two rows wide
    y = (false_rows[after] - ends[k[after]]) / np.maximum(widths[k[after]] - 1, 1)
    score += float(np.sum(scaled_sigmoid(y))) * profile.fp_weight - profile.fp_weight * int(np.sum(~after))
    return {"score": score, "tp": tp, "fn": fn, "fp": int(len(false_rows))}


def nab_normalised(raw_total: float, n_windows: int, profile: CostProfile) -> float:
    """``100 · (S − S_null) / (S_perfect − S_null)`` over a corpus (NaN without windows): the perfect detector
    (each window's first row) scores 100, one that detects nothing scores 0."""
    perfect, null = profile.tp_weight * n_windows, -profile.fn_weight * n_windows
    if not n_windows:
        return float("nan")
    return 100.0 * (raw_total - null) / (perfect - null)


def detection_events(detections: np.ndarray, probation: int = 0) -> list[tuple[int, int]]:
    """Runs of consecutive detected rows after ``probation``, as inclusive ``(first, last)``."""
    detected = np.asarray(detections, dtype=bool).copy()
    detected[: max(0, int(probation))] = False
    edges = np.diff(np.concatenate([[0], detected.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist()))


def event_counts(detections: np.ndarray, windows: list[tuple[int, int]], probation: int = 0) -> dict[str, int]:
    """Windows found and missed, and detection events that touch a window or none.

    Returns:
        ``windows_found``, ``windows_missed``, ``events_true``, ``events_false``: sum them
        over files, then precision = true / (true + false), recall = found / (found + missed).
    """
    detected = np.asarray(detections, dtype=bool)
    windows = _check_windows(windows, len(detected))
    events = detection_events(detected, probation)
    found = sum(any(a <= last and first <= b for a, b in events) for first, last in windows)
    true = sum(any(a <= last and first <= b for first, last in windows) for a, b in events)
    return {
        "windows_found": int(found),
        "windows_missed": len(windows) - int(found),
        "events_true": int(true),
        "events_false": len(events) - int(true),
    }
