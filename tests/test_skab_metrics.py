"""The SKAB benchmark's pure scoring helpers (``benchmarks/skab.py``) against values worked out by
hand: point-wise F1 / FAR / MAR, detection onsets and the changepoint windows. No training."""

from __future__ import annotations

import math

import numpy as np
import pytest

from .conftest import load_benchmark_script


@pytest.fixture(scope="module")
def skab():
    return load_benchmark_script("skab")


def test_confusion_counts_and_scores(skab):
    truth = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1], dtype=bool)
    detected = np.array([1, 0, 0, 0, 0, 0, 1, 1, 1, 0], dtype=bool)
    counts = skab.confusion_counts(truth, detected)
    assert counts == {"tp": 3, "fp": 1, "fn": 1, "tn": 5}
    scores = skab.outlier_scores(counts)
    assert scores["f1"] == pytest.approx(3 / (3 + (1 + 1) / 2))  # 0.75
    assert scores["far"] == pytest.approx(100 * 1 / 6)
    assert scores["mar"] == pytest.approx(100 * 1 / 4)


def test_scores_are_pooled_from_summed_counts(skab):
    # two files: pooled counts, not the mean of per-file F1 (1.0 and 0.0 would average 0.5)
    a = skab.confusion_counts(np.array([1, 0], dtype=bool), np.array([1, 0], dtype=bool))
    b = skab.confusion_counts(np.array([1, 1, 1, 0], dtype=bool), np.array([0, 0, 0, 0], dtype=bool))
    pooled = {k: a[k] + b[k] for k in a}
    assert skab.outlier_scores(pooled)["f1"] == pytest.approx(1 / (1 + 3 / 2))


def test_null_and_perfect_detectors(skab):
    truth = np.array([0, 1, 1, 0], dtype=bool)
    null = skab.outlier_scores(skab.confusion_counts(truth, np.zeros(4, dtype=bool)))
    assert null["f1"] == 0 and null["far"] == 0 and null["mar"] == 100
    perfect = skab.outlier_scores(skab.confusion_counts(truth, truth))
    assert perfect == {"f1": 1.0, "far": 0.0, "mar": 0.0}
    assert math.isnan(skab.outlier_scores({"tp": 0, "fp": 0, "fn": 0, "tn": 3})["f1"])


def test_confusion_counts_refuse_mismatched_shapes(skab):
    with pytest.raises(ValueError, match="differ in shape"):
        skab.confusion_counts(np.zeros(3), np.zeros(4))


def test_onsets_mark_first_row_of_each_run(skab):
    detected = np.array([1, 1, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    assert np.flatnonzero(skab.onsets(detected)).tolist() == [0, 4, 6]
    assert not skab.onsets(np.zeros(5, dtype=bool)).any()


def test_changepoint_windows_right_of_each_changepoint(skab):
    marked = np.zeros(200, dtype=bool)
    marked[[5, 50, 60, 120, 190]] = True
    # row 5 is training data (no window); 50 is cut before 60; 190 is cut at the end of the file
    windows = skab.changepoint_windows(marked, first_scored=10, width=60)
    assert windows == [(50, 59), (60, 119), (120, 179), (190, 199)]


def test_changepoint_windows_at_adjacent_rows(skab):
    marked = np.zeros(100, dtype=bool)
    marked[[40, 41]] = True
    assert skab.changepoint_windows(marked, first_scored=0, width=60) == [(40, 40), (41, 99)]


def test_summarise_scores_only_the_test_rows(skab):
    n, train = 600, skab.TRAIN_ROWS
    anomaly = np.zeros(n, dtype=bool)
    anomaly[450:500] = True
    changepoint = np.zeros(n, dtype=bool)
    changepoint[450] = True
    detected = np.zeros(n, dtype=bool)
    detected[[100, 450, 451, 452]] = True  # row 100 is in the training rows: ignored
    f = {"name": "valve1/0.csv", "detected": detected, "anomaly": anomaly,
         "windows": skab.changepoint_windows(changepoint)}
    out = skab.summarise([f])
    assert out["counts"] == {"tp": 3, "fp": 0, "fn": 47, "tn": n - train - 50}
    assert out["n_windows"] == 1 and out["missed"] == 0 and out["false"] == 0
    # one onset on the window's first row: NAB's full reward, so 100 under every profile
    assert all(score == pytest.approx(100.0) for score in out["nab"].values())


def test_tsad_variant_rewards_and_costs(skab):
    standard = skab.NAB_PROFILES[0]  # tp 1, fp 0.11, fn 1
    windows = [(10, 19), (40, 49)]

    def score(*rows):
        detected = np.zeros(60, dtype=bool)
        detected[list(rows)] = True
        return skab.tsad_raw_score(detected, windows, standard)

    # first row of both windows: the full reward each
    assert score(10, 40) == pytest.approx(2.0)
    # last row of a window: -fp; the other window missed: -fn
    assert score(19) == pytest.approx(-0.11 - 1.0)
    # only the earliest detection of a window counts; one right after a window costs a flat fp
    assert score(10, 12, 40, 20) == pytest.approx(2.0 - 0.11)
    # the middle of a window: (1 + 0.11) / 2 * (1 - tanh(x) / tanh(pi / 2)) - 0.11 at the grid point
    x = np.linspace(-np.pi / 2, np.pi / 2, 1000)[int(5 / 9 * 1000)]
    assert score(15, 40) == pytest.approx(1.11 / 2 * (1 - np.tanh(x) / np.tanh(np.pi / 2)) - 0.11 + 1.0)
    # detections in the probationary rows are ignored
    detected = np.zeros(60, dtype=bool)
    detected[[5, 10, 40]] = True
    assert skab.tsad_raw_score(detected, windows, standard, probation=8) == pytest.approx(2.0)
