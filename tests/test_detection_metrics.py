"""NAB scoring and event counts against values worked out by hand from NAB's definitions."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.detection_metrics import (
    NAB_PROFILES,
    detection_events,
    event_counts,
    nab_normalised,
    nab_probation,
    nab_raw_score,
    scaled_sigmoid,
)

STANDARD, LOW_FP, LOW_FN = NAB_PROFILES
N = 300
WINDOW = (100, 109)  # ten rows


def detections(*rows: int) -> np.ndarray:
    out = np.zeros(N, dtype=bool)
    out[list(rows)] = True
    return out


def test_scaled_sigmoid_matches_nab():
    # 2 / (1 + e^-5) - 1, 0 at the window's right edge, -1 more than 3 widths after it
    assert scaled_sigmoid(-1.0) == pytest.approx(0.9866142981514305)
    assert scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert scaled_sigmoid(3.5) == -1.0


def test_probationary_period():
    assert nab_probation(4032) == 604  # floor(0.15 * 4032)
    assert nab_probation(22695) == 750  # capped at 0.15 * 5000


def test_earliest_detection_in_a_window_earns_the_full_weight_and_later_ones_less():
    first = nab_raw_score(detections(100), [WINDOW], STANDARD)
    assert first == {"score": pytest.approx(1.0), "tp": 1, "fn": 0, "fp": 0}
    # the last row: A(-1/10) / A(-1)
    assert nab_raw_score(detections(109), [WINDOW], STANDARD)["score"] == pytest.approx(0.24824154977542992)
    # the middle: A(-5/10) / A(-1); a second detection in the same window adds nothing
    assert nab_raw_score(detections(105, 107), [WINDOW], STANDARD)["score"] == pytest.approx(0.8597925669097837)


def test_a_missed_window_costs_the_fn_weight():
    assert nab_raw_score(detections(), [WINDOW], STANDARD)["score"] == pytest.approx(-1.0)
    assert nab_raw_score(detections(), [WINDOW], LOW_FN)["score"] == pytest.approx(-2.0)
    assert nab_raw_score(detections(), [WINDOW], STANDARD)["fn"] == 1


def test_false_positives_cost_less_just_after_a_window():
    # before any window: -fp each
    assert nab_raw_score(detections(50, 51, 100), [WINDOW], STANDARD)["score"] == pytest.approx(1.0 - 0.22)
    assert nab_raw_score(detections(50, 100), [WINDOW], LOW_FP)["score"] == pytest.approx(1.0 - 0.22)
    # 5 rows after the window's end: 0.11 * A(5 / 9)
    near = nab_raw_score(detections(100, 114), [WINDOW], STANDARD)
    assert near["score"] == pytest.approx(1.0 - 0.09712188136763907)
    assert near["fp"] == 1
    # 40 rows after: y = 40/9 > 3, the full -0.11
    assert nab_raw_score(detections(100, 149), [WINDOW], STANDARD)["score"] == pytest.approx(1.0 - 0.11)


def test_detections_in_the_probationary_period_are_ignored():
    assert nab_raw_score(detections(10, 100), [WINDOW], STANDARD, probation=20)["score"] == pytest.approx(1.0)
    assert nab_raw_score(detections(10, 100), [WINDOW], STANDARD)["score"] == pytest.approx(1.0 - 0.11)


def test_normalised_score_reproduces_numentas_published_70_1():
    # the "numenta" detector's raw standard total over the corpus's 116 windows
    assert nab_normalised(46.634, 116, STANDARD) == pytest.approx(70.10, abs=0.005)
    assert nab_normalised(116.0, 116, STANDARD) == pytest.approx(100.0)
    assert nab_normalised(-232.0, 116, LOW_FN) == pytest.approx(0.0)


def test_overlapping_or_outside_windows_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        nab_raw_score(detections(), [(10, 20), (20, 30)], STANDARD)
    with pytest.raises(ValueError, match="within"):
        nab_raw_score(detections(), [(290, 310)], STANDARD)


def test_event_counts():
    detected = detections(5, 6, 7, 100, 101, 200, 250, 251)
    assert detection_events(detected) == [(5, 7), (100, 101), (200, 200), (250, 251)]
    assert detection_events(detected, probation=6) == [(6, 7), (100, 101), (200, 200), (250, 251)]
    counts = event_counts(detected, [WINDOW, (195, 205), (280, 290)], probation=10)
    assert counts == {"windows_found": 2, "windows_missed": 1, "events_true": 2, "events_false": 1}
