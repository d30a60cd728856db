"""Anomaly scores and thresholds: the pure scoring functions on synthetic residuals, and one
tiny real model end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecaster import anomaly
from forecaster.anomaly import (
    AnomalyResult,
    calibrate_series,
    fit_threshold,
    residuals_and_steps,
    score_residuals,
)

from .conftest import run_cli

HISTORY = 200  # residuals before the validation part: warm-up for the local scale and windows


def ar_noise(n: int, rng: np.random.Generator, phi: float = 0.4) -> np.ndarray:
    """Unit-variance AR(1) noise, like the correlated one-step residuals of a real model."""
    eps = rng.normal(0.0, np.sqrt(1 - phi**2), n)
    out = np.empty(n)
    out[0] = rng.normal()
    for i in range(1, n):
        out[i] = phi * out[i - 1] + eps[i]
    return out


def calibrated(residuals: np.ndarray, n_val: int, steps: np.ndarray | None = None):
    """Calibration and threshold from the first ``HISTORY + n_val`` residuals."""
    end = HISTORY + n_val
    calibration = calibrate_series(residuals[:end], HISTORY, None if steps is None else steps[:end])
    val_scores = score_residuals(residuals[:end], calibration, None if steps is None else steps[:end])[HISTORY:]
    return calibration, fit_threshold(val_scores)


# --- scores -----------------------------------------------------------------------------------


def test_level_shift_scores_high_across_its_span():
    start, length = 2000, 12
    flagged, flagged_by_point = [], []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        residuals = 0.2 * ar_noise(3000, rng)
        calibration, threshold = calibrated(residuals, 1000)
        shifted = residuals.copy()
        # The network half follows a shift of 8 spreads: a big first residual, then about 3.
        shifted[start] += 0.2 * 8
        shifted[start + 1 : start + length] += 0.2 * 3
        scores = score_residuals(shifted, calibration)
        point = score_residuals(shifted, {key: calibration[key] for key in ("centre", "spread")})
        flagged.append(np.sum(scores[start : start + length] >= threshold))
        flagged_by_point.append(np.sum(point[start : start + length] >= threshold))
        assert np.mean(scores[HISTORY:start] >= threshold) < 5e-3
    # Residuals of 3 spreads are unremarkable one by one; their window sums flag most of them.
    flagged, flagged_by_point = np.array(flagged), np.array(flagged_by_point)
    assert np.median(flagged) >= 7 and np.median(flagged_by_point) <= 3
    assert np.mean(flagged - flagged_by_point) >= 4


def test_single_spike_gets_a_high_score_and_its_neighbours_do_not():
    rng = np.random.default_rng(2)
    residuals = rng.normal(0.0, 0.3, 6000)
    calibration, threshold = calibrated(residuals, 1000)
    spikes = np.arange(1500, 6000, 150)
    spiked = residuals.copy()
    spiked[spikes] += 0.3 * 12
    scores = score_residuals(spiked, calibration)
    assert (scores[spikes] >= max(threshold, 6.0)).all()
    assert np.median(scores[spikes]) >= 10.0
    # one clipped residual moves a window sum by at most SHIFT_CLIP_SPREADS of its spreads...
    clips, spreads = np.array(calibration["shift_clips"]), np.array(calibration["shift_spreads"])
    assert (clips <= anomaly.SHIFT_CLIP_SPREADS * spreads + 1e-12).all()
    # ...so the steps after a spike are seldom flagged (30 spikes, 330 neighbours)
    after = np.concatenate([np.arange(t + 1, t + 12) for t in spikes])
    assert np.mean(scores[after] >= threshold) < 0.04


def test_noisy_but_normal_stretch_is_not_flagged_thanks_to_the_local_scale():
    rng = np.random.default_rng(3)
    n = 6000
    sd = np.ones(n)
    sd[3000:4000] = np.linspace(1.0, 2.5, 1000)  # the noise grows gradually, then stays high
    sd[4000:] = 2.5
    residuals = rng.normal(0.0, 1.0, n) * sd
    calibration, threshold = calibrated(residuals, 2000)
    scores = score_residuals(residuals, calibration)
    noisy = slice(3000, n)
    assert np.mean(scores[noisy] >= threshold) < 5e-3
    # without the local scale the same stretch cries wolf
    fixed = {key: calibration[key] for key in ("centre", "spread")}
    assert np.mean(score_residuals(residuals, fixed)[noisy] >= threshold) > 0.02
    # the local scale only ever shrinks standardised residuals (the calibrated spread is its floor)
    local, no_local = anomaly.standardise(residuals, calibration), anomaly.standardise(residuals, fixed)
    assert (np.abs(local) <= np.abs(no_local) + 1e-12).all()
    assert np.abs(local[4000:]).mean() < 0.6 * np.abs(no_local[4000:]).mean()


def test_flatline_where_the_cycle_vanishes_is_caught():
    rng = np.random.default_rng(4)
    n = 3000
    cycle = 3.0 * np.sin(2 * np.pi * np.arange(n) / 24)
    values = cycle + rng.normal(0.0, 0.3, n)
    start, length = 2000, 12
    values[start : start + length] = values[start - 1]  # a frozen meter
    # A model that expects the cycle's next move from the last value.
    expected = values[:-1] + np.diff(cycle)
    residuals, steps = residuals_and_steps(values, expected, 1)
    calibration, threshold = calibrated(residuals, 1000, steps)
    scores = score_residuals(residuals, calibration, steps)
    span = scores[start - 1 : start - 1 + length]  # residual i is for values[i + 1]
    assert (span >= threshold).sum() >= length // 2
    clean = np.r_[scores[HISTORY : start - 30], scores[start + 30 :]]
    assert np.mean(clean >= threshold) < 5e-3
    # without the expected steps there is no stillness score, which only ever adds
    without = score_residuals(residuals, calibration)[start - 1 : start - 1 + length]
    assert (span >= without).all()


def test_stillness_statistic_compares_observed_and_expected_movement():
    expected_steps = np.tile([1.0, -1.0], 10)  # the model expects the series to zigzag
    z_still = -expected_steps  # the series does not move: every residual undoes the step
    z_moving = np.zeros(20)  # the series moves exactly as expected
    (still,) = anomaly.stillness_statistics(z_still, expected_steps, 1.0, [6], floor=0.5)
    (moving,) = anomaly.stillness_statistics(z_moving, expected_steps, 1.0, [6], floor=0.5)
    np.testing.assert_allclose(still[5:], np.log(0.5 / 1.5))
    np.testing.assert_allclose(moving[5:], 0.0, atol=1e-12)
    assert np.isnan(still[:4]).all()  # windows more than a quarter short are not scored


def test_scores_are_causal():
    rng = np.random.default_rng(5)
    residuals = ar_noise(1500, rng)
    steps = rng.normal(0.0, 1.0, 1500)
    calibration, _ = calibrated(residuals, 500, steps)
    before = score_residuals(residuals, calibration, steps)
    changed_residuals, changed_steps = residuals.copy(), steps.copy()
    changed_residuals[1000:] = rng.normal(0.0, 10.0, 500)
    changed_residuals[1200:1210] = np.nan
    changed_steps[1000:] = 0.0
    after = score_residuals(changed_residuals, calibration, changed_steps)
    np.testing.assert_array_equal(after[:1000], before[:1000])
    assert not np.allclose(after[1000:1100], before[1000:1100])
    # a prefix scores the same as the whole series up to its end
    np.testing.assert_array_equal(score_residuals(residuals[:700], calibration, steps[:700]), before[:700])


def test_missing_residuals_give_nan_scores_and_are_never_flagged():
    rng = np.random.default_rng(6)
    residuals = rng.normal(0.0, 1.0, 2000)
    steps = rng.normal(0.0, 1.0, 2000)
    calibration, threshold = calibrated(residuals, 800, steps)
    holed = residuals.copy()
    holed[[1100, 1101, 1500]] = np.nan
    holed[1300] = 50.0  # a huge spike...
    holed[1301:1305] = np.nan  # ...followed by a hole
    scores = score_residuals(holed, calibration, steps)
    assert np.isnan(scores[[1100, 1101, 1500, 1301, 1302, 1303, 1304]]).all()
    assert np.isfinite(np.delete(scores, [1100, 1101, 1500, 1301, 1302, 1303, 1304])).all()
    flags = np.nan_to_num(scores, nan=0.0) >= threshold
    assert flags[1300] and not flags[np.isnan(holed)].any()
    # all missing: nothing scored, nothing to calibrate on but the threshold floor
    assert np.isnan(score_residuals(np.full(50, np.nan), calibration, steps[:50])).all()
    assert fit_threshold(np.full(50, np.nan)) == anomaly.MIN_THRESHOLD


def test_scores_are_non_negative_and_grow_with_the_residual():
    rng = np.random.default_rng(7)
    residuals = rng.normal(0.0, 1.0, 1500)
    calibration, _ = calibrated(residuals, 800)
    scores = []
    for size in (2.0, 4.0, 8.0, 16.0):
        bumped = residuals.copy()
        bumped[1200] = calibration["centre"] + size * calibration["spread"]
        scores.append(score_residuals(bumped, calibration)[1200])
    assert scores == sorted(scores) and scores[-1] >= 8.0
    assert (score_residuals(residuals, calibration)[HISTORY:] >= 0).all()


def test_a_calibration_without_windows_gives_the_plain_point_score():
    """Models trained before the window scores keep scoring as they did."""
    residuals = np.array([0.1, -0.3, np.nan, 2.0])
    scores = score_residuals(residuals, {"centre": 0.1, "spread": 0.5}, expected_steps=np.ones(4))
    np.testing.assert_allclose(scores, [0.0, 0.8, np.nan, 3.8])


def test_calibration_is_json_safe():
    rng = np.random.default_rng(8)
    residuals = rng.normal(0.0, 1.0, 600)
    steps = rng.normal(0.0, 1.0, 600)
    calibration = calibrate_series(residuals, 400, steps)
    assert json.loads(json.dumps(calibration, allow_nan=False)) == calibration
    assert set(calibration) >= {"centre", "spread", "local_window", "windows", "shift_spreads", "still_spreads"}


# --- threshold --------------------------------------------------------------------------------


@pytest.mark.parametrize("risk", [1e-2, 1e-3])
def test_pot_threshold_flags_about_the_risk_level_on_exponential_scores(risk):
    rng = np.random.default_rng(9)
    threshold = fit_threshold(rng.exponential(1.0, 20_000), risk=risk, floor=0.0)
    assert threshold == pytest.approx(-np.log(risk), rel=0.1)
    rate = np.mean(rng.exponential(1.0, 1_000_000) >= threshold)
    assert risk / 2 < rate < 2 * risk


def test_threshold_on_gaussian_residual_scores_flags_at_most_about_the_risk_level():
    rng = np.random.default_rng(10)
    residuals = ar_noise(HISTORY + 3000 + 200_000, rng)
    steps = rng.normal(0.0, 1.0, len(residuals))
    calibration, threshold = calibrated(residuals, 3000, steps)
    fresh = score_residuals(residuals, calibration, steps)[HISTORY + 3000 :]
    rate = np.mean(fresh >= threshold)
    assert rate < 2 * anomaly.RISK
    assert threshold >= anomaly.MIN_THRESHOLD


def test_a_few_anomalies_among_the_validation_scores_barely_move_the_threshold():
    rng = np.random.default_rng(11)
    clean = np.abs(rng.normal(0.0, 1.0, 2000)) * 1.5
    dirty = clean.copy()
    dirty[rng.choice(2000, 6, replace=False)] = rng.uniform(15.0, 40.0, 6)  # 0.3 %: more than the risk
    clean_threshold, dirty_threshold = fit_threshold(clean, floor=0.0), fit_threshold(dirty, floor=0.0)
    assert dirty_threshold == pytest.approx(clean_threshold, rel=0.3)
    assert dirty_threshold < 15.0  # the anomalies stay above it


def test_threshold_has_a_floor():
    assert fit_threshold(np.zeros(100)) == anomaly.MIN_THRESHOLD
    assert fit_threshold(np.linspace(0.0, 1.0, 1000)) == anomaly.MIN_THRESHOLD
    assert fit_threshold(np.array([7.0, 1.0, 2.0])) >= anomaly.MIN_THRESHOLD


# --- result -----------------------------------------------------------------------------------


def test_strongest_lists_the_peak_of_each_incident():
    frame = pd.DataFrame(
        {
            "series": ["a"] * 6 + ["b"] * 3,
            "timestamp": list(pd.date_range("2024-01-01", periods=6, freq="h"))
            + list(pd.date_range("2024-01-01", periods=3, freq="h")),
            "value": 0.0,
            "expected": 0.0,
            "residual": 0.0,
            "score": [1.0, 7.0, 9.0, 8.0, 1.0, 6.0, 5.0, 2.0, 1.0],
            "is_anomaly": [0, 1, 1, 1, 0, 1, 1, 0, 0],
        }
    )
    result = AnomalyResult(frame=frame, threshold=5.0)
    strongest = result.strongest(5)
    # three incidents: a's run of three, a's last point, and b's first point (a new series)
    assert list(strongest["score"]) == [9.0, 6.0, 5.0]
    assert list(strongest["series"]) == ["a", "a", "b"]
    assert len(result.strongest(1)) == 1 and result.n_flagged == 5
    none = AnomalyResult(frame=frame.assign(is_anomaly=0), threshold=99.0)
    assert len(none.strongest(5)) == 0


# --- expectations ---------------------------------------------------------------------------


class Persistence:
    """A stand-in for the network (duck-typed): forecasts the last value of each window."""

    output_shape = (None, 1)

    def predict(self, x, batch_size=None, verbose=0):
        return np.asarray(x)[:, -1, :1]


def test_extreme_points_are_taken_out_of_the_inputs_of_the_points_after_them():
    rng = np.random.default_rng(13)
    lookback, n = 8, 400
    target = rng.normal(0.0, 0.1, n)
    target[300] += 5.0  # a spike: persistence would expect it again at 301
    features = [target[:, None]]
    expected = anomaly.one_step_expectations(Persistence(), features, lookback, [lookback])
    np.testing.assert_allclose(expected[0], target[lookback - 1 : n - 1], atol=1e-6)
    residuals, _ = residuals_and_steps(target, expected[0], lookback)
    calibration = calibrate_series(residuals, 100, None, 24, ())
    (cleaned,) = anomaly.cleaned_expectations(Persistence(), features, lookback, expected, [calibration])
    row = 301 - lookback
    assert cleaned[row] == pytest.approx(target[299], abs=1e-6)  # the spike's own expectation
    np.testing.assert_array_equal(cleaned[: row - 1], expected[0][: row - 1])  # the past is untouched
    assert abs(target[301] - cleaned[row]) < 1.0 < abs(target[301] - expected[0][row])
    # models calibrated before this step existed keep their expectations
    (kept,) = anomaly.cleaned_expectations(
        Persistence(), features, lookback, expected, [{"centre": 0.0, "spread": 0.1}]
    )
    np.testing.assert_array_equal(kept, expected[0])


# --- end to end -------------------------------------------------------------------------------


def test_tiny_model_flags_an_injected_level_shift_and_spike(tmp_path):
    rng = np.random.default_rng(12)
    index = pd.date_range("2024-01-01", periods=24 * 40, freq="h")
    hour = index.hour.to_numpy()
    load = 100 + 20 * np.sin(2 * np.pi * hour / 24) + rng.normal(0, 1.5, len(index))
    shift = slice(24 * 14 + 9, 24 * 14 + 17)  # eight hours 10 higher, in the training part
    spike = 24 * 20 + 15
    load[shift] += 10.0
    load[spike] += 25.0
    data = tmp_path / "load.csv"
    pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d %H:%M:%S"), "load": load.round(3)}).to_csv(data, index=False)
    model_dir = tmp_path / "model"
    lookback = 24
    result = run_cli(
        "train", data, "--target", "load", "-m", model_dir, "--lookback", lookback, "--horizon", 6,
        "--units", 4, "--epochs", 10, "--seed", 0, "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr

    detected = anomaly.detect_anomalies(model_dir)
    frame = detected.frame
    flags = frame["is_anomaly"].to_numpy()
    row = {t: i for i, t in enumerate(frame["timestamp"])}
    assert flags[row[index[spike]]] == 1
    shift_rows = [row[t] for t in index[shift]]
    assert flags[shift_rows].sum() >= 4  # at least half of the shift, not only its first hour
    # Clean data raises few flags. The network's input still holds the shift for a lookback
    # after it ends, so the return to normal may be flagged too: that stretch is left out.
    clean = np.ones(len(frame), dtype=bool)
    clean[shift_rows[0] : shift_rows[-1] + lookback] = False
    clean[row[index[spike]]] = False
    assert flags[clean].mean() < 0.005
