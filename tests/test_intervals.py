"""Prediction intervals: split-conformal widths that follow how much the input window moved."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from forecaster import forecasting
from forecaster.data import DataOptions
from forecaster.forecasting import MIN_SPREAD_FACTOR, interval_spreads, spread_factors, window_spread
from forecaster.training import TrainOptions, train

from .conftest import read_metadata, run_cli


def _windows(*targets: list[float]) -> np.ndarray:
    """`(n_windows, lookback, 2)` with the given target channel and a constant covariate."""
    target = np.asarray(targets, dtype=np.float64)
    return np.stack([target, np.ones_like(target)], axis=-1)


def test_window_spread_is_the_mean_absolute_step_of_the_target():
    windows = _windows([0, 1, 3, 0], [2, 2, 2, 2])
    np.testing.assert_allclose(window_spread(windows), [(1 + 2 + 3) / 3, 0.0])


def test_spread_factors_follow_the_square_root_of_the_movement_with_a_floor():
    windows = _windows([0, 4, 0, 4], [0, 1, 0, 1], [0, 0.1, 0, 0.1], [5, 5, 5, 5])
    factors = spread_factors(windows, reference=1.0)
    np.testing.assert_allclose(factors, [2.0, 1.0, MIN_SPREAD_FACTOR, MIN_SPREAD_FACTOR])
    # a model calibrated before intervals followed the window (no reference): one width
    np.testing.assert_array_equal(spread_factors(windows, None), np.ones(4))


def test_interval_spreads_scale_the_calibrated_halfwidths_per_window():
    calibration = forecasting.interval_calibration(np.array([[1.0, -2.0], [-1.0, 2.0], [1.0, 2.0], [-1.0, -2.0]]))
    windows = _windows([0, 4, 0, 4], [0, 1, 0, 1])
    spreads = interval_spreads(calibration, 3.0, 1.0, windows, 0.5)
    assert spreads.shape == (2, 2)
    np.testing.assert_allclose(spreads[0], 2 * spreads[1])
    np.testing.assert_allclose(spreads[1] / spreads[1, 0], [1.0, 2.0])


@pytest.fixture(scope="module")
def regime_csv(tmp_path_factory):
    """A daily cycle whose noise switches between calm and wild every 150 hours: the whole
    file ends wild, a copy without its last 150 hours ends calm."""
    rng = np.random.default_rng(3)
    n = 1500
    hours = np.arange(n)
    noise_sd = np.where((hours // 150) % 2 == 0, 0.5, 6.0)
    values = 100 + 10 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 1, n) * noise_sd
    frame = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=n, freq="h"), "value": values})
    folder = tmp_path_factory.mktemp("regimes")
    calm, wild = folder / "ends_calm.csv", folder / "ends_wild.csv"
    frame.to_csv(wild, index=False)
    frame.iloc[:-150].to_csv(calm, index=False)
    return calm, wild


def test_intervals_are_narrower_after_a_calm_stretch_than_after_a_wild_one(tmp_path, regime_csv):
    calm, wild = regime_csv
    model_dir = tmp_path / "model"
    train(wild, DataOptions(), TrainOptions(model="linear", lookback=48, horizon=12, seed=0), model_dir)
    width = {}
    for name, path in (("calm", calm), ("wild", wild)):
        frame = forecasting.forecast(model_dir, path, coverage=0.8)
        width[name] = float((frame["upper"] - frame["lower"]).mean())
        assert (frame["lower"] < frame["forecast"]).all() and (frame["forecast"] < frame["upper"]).all()
    # the windows' movement differs about 2.7-fold (cycle plus noise); the widths by its root
    assert width["calm"] < 0.7 * width["wild"]


def test_a_model_without_window_spreads_keeps_one_width_per_series(tmp_path, regime_csv):
    """Models trained before intervals followed the window still predict, as they used to."""
    import json

    calm, wild = regime_csv
    model_dir = tmp_path / "model"
    train(wild, DataOptions(), TrainOptions(model="linear", lookback=48, horizon=12, seed=0), model_dir)
    metadata_path = model_dir / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    for series in metadata["series"]:
        del series["window_spread"]
    metadata_path.write_text(json.dumps(metadata))
    widths = [forecasting.forecast(model_dir, path, coverage=0.8) for path in (calm, wild)]
    np.testing.assert_allclose(*((w["upper"] - w["lower"]).to_numpy() for w in widths))


# --- recalibration on values that arrived after training ------------------------------------


def _halfwidth(calibration, coverage: float) -> float:
    return float(forecasting.interval_halfwidths(calibration, coverage)[0])


def test_recalibration_mixes_arrived_residuals_in_by_their_share_of_the_calibration_set():
    validation = forecasting.interval_calibration(np.random.default_rng(0).uniform(-1, 1, (1000, 1)))
    # 500 arrived residuals, all of size 2, take the place of half of the 1000 validation ones
    mixed = forecasting.recalibrated(validation, np.full((500, 1), -2.0))
    assert mixed["n"] == 1000
    # below half the mass, the validation part (uniform on [0, 1]) at twice its level ...
    assert _halfwidth(mixed, 0.4) == pytest.approx(_halfwidth(validation, 0.8), abs=0.02)
    # ... and past it the arrived residuals' value, not a point interpolated towards it
    assert _halfwidth(mixed, 0.6) == pytest.approx(2.0)
    assert _halfwidth(mixed, 0.9) == pytest.approx(2.0)


def test_recalibration_replaces_the_validation_set_once_as_many_residuals_arrived():
    rng = np.random.default_rng(1)
    validation = forecasting.interval_calibration(rng.uniform(-1, 1, (400, 2)))
    arrived = rng.normal(0, 3, (401, 2))  # 401: no level falls exactly on a step of their distribution
    arrived[:200, 1] = np.nan  # the second step has only half of them yet
    recalibrated = forecasting.recalibrated(validation, arrived)
    # the first step's: the arrived residuals' own distribution (its quantiles as order statistics)
    own = np.quantile(np.abs(arrived[:, 0]), forecasting.INTERVAL_LEVELS, method="inverted_cdf")
    np.testing.assert_allclose(recalibrated["abs_quantiles"][0], own, atol=1e-6)
    second = forecasting.interval_halfwidths(recalibrated, 0.8)[1]
    assert forecasting.interval_halfwidths(validation, 0.8)[1] < second < np.quantile(np.abs(arrived[200:, 1]), 0.8)
    # nothing arrived: the calibration made at training
    assert forecasting.recalibrated(validation, np.full((3, 2), np.nan)) == validation


def test_arrived_targets_are_the_latest_known_after_the_training_data():
    values = np.arange(20, dtype=np.float64)
    missing = np.zeros(20, dtype=bool)
    missing[15] = True
    # trained on 10 steps, 18 known now, lookback 4, horizon 3, at most 5 targets per step
    origins = forecasting.arrived_origins(18, 10, 4, 3, 5)
    np.testing.assert_array_equal(origins, np.arange(11, 18))
    actual = forecasting.arrived_targets(values, missing, origins, 3, 18, 10, 5)
    assert actual.shape == (7, 3)
    steps = origins[:, None] + np.arange(3)
    usable = np.isfinite(actual)
    np.testing.assert_array_equal(actual[usable], steps[usable])
    # targets 13..17 (the latest five, all after training), but not the filled 15
    assert set(steps[usable]) == {13, 14, 16, 17}
    assert (usable.sum(axis=0) <= 5).all()
    # nothing after the training data: nothing arrived
    assert len(forecasting.arrived_origins(10, 10, 4, 3, 5)) == 0


@pytest.fixture(scope="module")
def rougher_later_csv(tmp_path_factory):
    """A daily cycle with noise of sd 1 for 1000 hours, then sd 4: the first 1000 hours are
    what a model is trained on, the whole file what it later predicts from."""
    rng = np.random.default_rng(5)
    hours = np.arange(1600)
    values = 100 + 10 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 1, 1600) * np.where(hours < 1000, 1.0, 4.0)
    frame = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=1600, freq="h"), "value": values})
    folder = tmp_path_factory.mktemp("rougher")
    trained, later = folder / "trained.csv", folder / "later.csv"
    frame.iloc[:1000].to_csv(trained, index=False)
    frame.to_csv(later, index=False)
    return trained, later


def test_predict_recalibrates_a_stale_model_on_the_values_that_arrived(tmp_path, rougher_later_csv):

    trained, later = rougher_later_csv
    model_dir = tmp_path / "model"
    train(trained, DataOptions(), TrainOptions(model="linear", lookback=48, horizon=12, seed=0), model_dir)

    def width(path, recalibrate):
        frame = forecasting.forecast(model_dir, path, coverage=0.8, recalibrate=recalibrate)
        return (frame["upper"] - frame["lower"]).to_numpy()

    # on its own training data there is nothing new to learn from
    np.testing.assert_allclose(width(trained, True), width(trained, False))
    # four times the noise: the window spread alone widens by about its root, the
    # recalibration by the rest
    stale, recalibrated = width(later, False), width(later, True)
    assert (recalibrated > 1.5 * stale).all()
    result = run_cli("predict", later, "-m", model_dir, "--coverage", 0.8, "-v", "-o", tmp_path / "out.csv")
    assert result.exit_code == 0, result.output
    assert "recalibrated on" in result.output
    written = pd.read_csv(tmp_path / "out.csv")
    np.testing.assert_allclose(written["upper"] - written["lower"], recalibrated, rtol=1e-6)
    result = run_cli("predict", later, "-m", model_dir, "--coverage", 0.8, "--no-recalibrate", "-o",
                     tmp_path / "stale.csv")
    assert result.exit_code == 0, result.output
    kept = pd.read_csv(tmp_path / "stale.csv")
    np.testing.assert_allclose(kept["upper"] - kept["lower"], stale, rtol=1e-6)


def test_a_sample_of_the_series_stands_for_all_when_there_are_too_many(monkeypatch):
    # 40 series, each with 10 forecasts to make; room for 100
    monkeypatch.setattr(forecasting, "RECALIBRATION_WINDOWS", 100)
    spans = [(30, 21)] * 40  # 30 steps known, 21 trained on; lookback 4, horizon 2
    origins, share = forecasting.arrival_origins(spans, 4, 2, 50)
    sampled = [i for i, o in enumerate(origins) if len(o)]
    assert sum(len(o) for o in origins) <= 100 and len(sampled) == 10 and share == 4.0
    assert sampled[0] == 0 and sampled[-1] == 39  # spread over all of them
    # few enough: every series
    origins, share = forecasting.arrival_origins(spans[:10], 4, 2, 50)
    assert all(len(o) == 10 for o in origins) and share == 1.0
    # each sampled residual stands for ``share`` of them
    validation = forecasting.interval_calibration(np.random.default_rng(2).uniform(-1, 1, (1000, 1)))
    arrived = np.random.default_rng(3).normal(0, 2, (150, 1))
    assert forecasting.recalibrated(validation, arrived, share=2.0) == forecasting.recalibrated(
        validation, np.repeat(arrived, 2, axis=0))


def test_a_coverage_beyond_what_the_validation_windows_vouch_for_is_warned_of():
    calibration = forecasting.interval_calibration(np.arange(1.0, 19.0)[:, None])  # 18 windows
    assert forecasting.calibrated_coverage(calibration) == pytest.approx(18 / 19)
    assert forecasting.few_windows_warning(calibration, 0.9) is None
    warning = forecasting.few_windows_warning(calibration, 0.95)
    assert warning.startswith("the intervals are calibrated on 18 validation windows, enough for a coverage of at "
                              "most 94 %; 95 % intervals then pool the errors of every horizon step")
    # of the levels train checks, the lowest it cannot vouch for is named
    assert "most 94 %; 95 % intervals" in forecasting.few_windows_warning(calibration, 0.8, 0.9, 0.95)
    assert "most 94 %; 90 % and above intervals" not in forecasting.few_windows_warning(calibration, 0.8, 0.9, 0.95)
    few = forecasting.interval_calibration(np.arange(1.0, 9.0)[:, None])  # 8 windows: at most 88 %
    assert "most 88 %; 90 % and above intervals" in forecasting.few_windows_warning(few, 0.8, 0.9, 0.95)
    # beyond that level a higher coverage still asks a wider interval (it was the largest error seen for any)
    assert forecasting.interval_halfwidths(calibration, 0.95) < forecasting.interval_halfwidths(calibration, 0.999)


def test_train_predict_and_evaluate_warn_of_too_few_validation_windows(tmp_path):

    index = pd.date_range("2024-01-01", periods=40, freq="D")
    data = tmp_path / "short.csv"
    pd.DataFrame({"date": index.strftime("%Y-%m-%d"),
                  "y": 80 + 10 * np.sin(np.arange(40)) + np.random.default_rng(0).normal(0, 3, 40)}).to_csv(data,
                                                                                                         index=False)
    trained = run_cli("train", data, "-m", tmp_path / "model", "--model", "linear")
    assert trained.exit_code == 0, trained.stderr
    assert "Warning: the intervals are calibrated on 2 validation windows, enough for a coverage of at most 66 %; " \
           "80 % and above intervals" in trained.stderr
    assert "--val-fraction" in trained.stderr
    assert "Warning" in run_cli("predict", "-m", tmp_path / "model", "--coverage", 0.9).stderr
    assert "Warning" not in run_cli("predict", "-m", tmp_path / "model", "--coverage", 0.6).stderr
    evaluated = run_cli("evaluate", data, "--model", "linear", "--folds", 1)
    assert evaluated.stderr.count("enough for a coverage of at most 50 %; 90 % intervals") == 1


def test_counts_get_no_forecast_or_bound_below_zero(tmp_path):
    rng = np.random.default_rng(4)
    weeks = pd.date_range("2021-01-03", periods=160, freq="W-SUN")
    rows = [(week.date(), clinic, rng.poisson(rate)) for clinic, rate in (("a", 1.5), ("b", 4.0))
            for week in weeks]
    data = tmp_path / "visits.csv"
    pd.DataFrame(rows, columns=["week", "clinic", "visits"]).to_csv(data, index=False)
    model_dir = tmp_path / "model"
    assert run_cli("train", data, "--id-col", "clinic", "-m", model_dir, "--model", "linear", "--lookback", 16,
                   "--horizon", 8, "-q").exit_code == 0
    assert [s["floor"] for s in read_metadata(model_dir)["series"]] == [0.0, 0.0]
    floored = pd.read_csv(io.StringIO(run_cli("predict", "-m", model_dir, "--coverage", 0.95, "-q").stdout))
    assert (floored[["forecast", "lower", "upper"]] >= 0).all().all()
    # the same model without its floor (as one trained before there was one) goes below zero
    metadata = read_metadata(model_dir)
    for series in metadata["series"]:
        del series["floor"]
    (model_dir / "metadata.json").write_text(json.dumps(metadata))
    plain = pd.read_csv(io.StringIO(run_cli("predict", "-m", model_dir, "--coverage", 0.95, "-q").stdout))
    assert (plain["lower"] < 0).any()
    for column in ("forecast", "lower", "upper"):
        np.testing.assert_allclose(floored[column], plain[column].clip(lower=0))
    # evaluate floors every method's forecasts alike, from the values before each cut-off
    rows = pd.read_csv(io.StringIO(run_cli("evaluate", data, "--id-col", "clinic", "--model", "linear", "--lookback",
                                           16, "--horizon", 8, "--coverage", 0.95, "-o", "-", "-q").stdout))
    assert (rows[["forecast", "lower", "upper"]] >= 0).all().all() and (rows["lower"] == 0).any()
    # a series that never sat at 0 may go lower than it has: nothing is clipped
    from forecaster.forecasting import value_floor

    assert value_floor(np.array([3.0, 1.0, np.nan, 8.0])) is None and value_floor(np.array([2.0, 0.0])) == 0.0


def test_series_of_one_column_share_the_floor_of_a_quantity_that_sat_at_zero(tmp_path):
    """A store whose sales shrank towards 0 is not forecast negative sales when another store
    of the same column had a day of none; a column that went below 0 somewhere is not floored."""
    rng = np.random.default_rng(5)
    days = pd.date_range("2023-01-02", periods=280, freq="D")
    weekly = 1 + 0.6 * (days.day_of_week >= 5)
    shrinking = np.round(np.geomspace(300, 4, len(days)) * weekly * rng.lognormal(0, 0.1, len(days)), 1)
    steady = np.round(50 * weekly * rng.lognormal(0, 0.1, len(days)), 1)
    steady[100] = 0.0  # closed one day
    rows = [(day.date(), store, value) for store, values in (("shrinking", shrinking), ("steady", steady))
            for day, value in zip(days, values)]
    data = tmp_path / "sales.csv"
    pd.DataFrame(rows, columns=["date", "store", "sales"]).to_csv(data, index=False)
    model_dir = tmp_path / "model"
    assert run_cli("train", data, "--id-col", "store", "-m", model_dir, "--model", "linear", "-q").exit_code == 0
    assert [s["floor"] for s in read_metadata(model_dir)["series"]] == [0.0, 0.0]
    forecast = pd.read_csv(io.StringIO(run_cli("predict", "-m", model_dir, "--coverage", 0.95, "-q").stdout))
    assert (forecast[["forecast", "lower", "upper"]] >= 0).all().all()
    assert (forecast.loc[forecast["series"] == "shrinking", "lower"] == 0).any()  # it would go below 0 unfloored
    backtest = pd.read_csv(io.StringIO(run_cli("evaluate", data, "--id-col", "store", "--model", "linear",
                                               "--coverage", 0.95, "-o", "-", "-q").stdout))
    assert (backtest.loc[backtest["series"] == "shrinking", "lower"] == 0).any()
    # before the closed day, nothing sat at 0; with a value below 0 anywhere in the column, only
    # the store that sat at 0 keeps its floor; in a wide file each column is a quantity of its own
    from forecaster.data import DataOptions, load_dataset
    from forecaster.forecasting import value_floors

    options = DataOptions(id_col="store", targets=("sales",))
    assert value_floors(load_dataset(data, options).series) == [0.0, 0.0]
    assert value_floors(load_dataset(data, options).series, ends=[len(days), 100]) == [None, None]
    overdrawn = [(day.date(), "overdrawn", value - 60) for day, value in zip(days, steady)]
    pd.DataFrame(rows + overdrawn, columns=["date", "store", "sales"]).to_csv(data, index=False)
    series = load_dataset(data, options).series
    assert dict(zip([s.name for s in series], value_floors(series))) == {"shrinking": None, "steady": 0.0,
                                                                         "overdrawn": None}
    wide = tmp_path / "wide.csv"
    pd.DataFrame({"date": days, "shrinking": shrinking, "steady": steady}).to_csv(wide, index=False)
    assert value_floors(load_dataset(wide).series) == [None, 0.0]


def test_few_validation_windows_give_half_widths_that_do_not_shrink_with_the_step():
    rng = np.random.default_rng(9)
    few = forecasting.interval_calibration(rng.normal(0, 1, (4, 12)) * np.linspace(1, 2, 12))
    raw = np.array([np.interp(1.0, forecasting.INTERVAL_LEVELS, row) for row in few["abs_quantiles"]])
    assert (np.diff(raw) < 0).any()  # a handful of errors per step: a saw-tooth
    widths = forecasting.interval_halfwidths(few, 0.8)  # 4 windows vouch for 80 %: each step's own
    assert (np.diff(widths) >= 0).all() and (widths >= raw).all()
    pooled = forecasting.interval_halfwidths(few, 0.9)  # beyond: the steps pooled, growing with the step
    assert (np.diff(pooled) > 0).all() and np.isfinite(pooled).all()
    # enough windows: each step keeps its own half-width, even where it is narrower
    many = forecasting.interval_calibration(rng.normal(0, 1, (400, 12)) * np.r_[np.ones(6), 0.5 * np.ones(6)])
    widths = forecasting.interval_halfwidths(many, 0.9)
    assert widths[8] < 0.7 * widths[2]


def test_one_validation_window_gives_intervals_that_hold_their_coverage():
    """One validation window of 12 steps per series (a few years of monthly data): each step's
    90 % half-width was its one error, and the intervals covered about 70 %. Pooled over the
    steps, errors that grow with the square root of the step are covered as asked; a random
    walk's, whose steps move together, less so (measured, not asserted: 82 % at 90 %)."""
    rng = np.random.default_rng(4)
    growth = np.sqrt(np.arange(1, 13))
    covered = {0.8: [], 0.9: [], 0.95: []}
    old = []
    for _ in range(3000):
        errors = rng.normal(0, 1, (2, 12)) * growth  # the validation window, then the forecast
        calibration = forecasting.interval_calibration(errors[:1])
        for coverage, hits in covered.items():
            hits.append(np.mean(np.abs(errors[1]) <= forecasting.interval_halfwidths(calibration, coverage)))
        old.append(np.mean(np.abs(errors[1]) <= np.maximum.accumulate(np.abs(errors[0]))))  # before: the one error
    for coverage, hits in covered.items():
        # 12 pooled errors: split conformal covers ceil(13 c) / 13 (0.846 at 80 %), beyond 12/13 stretched to c
        exact = math.ceil(13 * coverage) / 13 if coverage <= 12 / 13 else coverage
        assert coverage - 0.03 <= np.mean(hits) <= exact + 0.03, (coverage, np.mean(hits))
    assert np.mean(old) < 0.8
