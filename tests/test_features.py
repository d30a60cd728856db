"""Calendar inputs: which cycles each frequency gets, their values, and when a model keeps them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from forecaster.baselines import LinearAutoregression
from forecaster.data import DataOptions, Dataset, Series, load_dataset
from forecaster.features import calendar_cycles, calendar_features, series_features
from forecaster.models import NetworkSpec, build_network
from forecaster.training import TrainOptions, fit
from forecaster.windows import relative_inputs

from .conftest import HOURLY


@pytest.mark.parametrize(
    ("freq", "cycles"),
    [
        ("h", ("day", "week")),
        ("15min", ("day", "week")),
        ("D", ("week", "year")),
        ("B", ("week", "year")),
        ("W-SUN", ("year",)),
        ("MS", ("year",)),
        ("QS", ("year",)),
        ("YS", ()),
    ],
)
def test_each_frequency_gets_the_cycles_that_vary_within_it(freq, cycles):
    assert calendar_cycles(freq) == cycles


def test_hourly_features_encode_time_of_day_and_day_of_week():
    index = pd.date_range("2024-01-01 00:00", periods=24 * 7, freq="h")  # 2024-01-01 is a Monday
    features = calendar_features(index, "h")
    assert features.shape == (168, 4)  # sin day, sin week, cos day, cos week
    day_sin, week_sin, day_cos, week_cos = features.T
    np.testing.assert_allclose([day_sin[0], day_cos[0]], [0, 1], atol=1e-12)  # midnight
    np.testing.assert_allclose([day_sin[6], day_cos[6]], [1, 0], atol=1e-12)  # 06:00
    np.testing.assert_allclose(features[:24, [0, 2]], features[24:48, [0, 2]])  # every day alike
    # Monday midnight starts the week; Thursday noon is half-way through it
    np.testing.assert_allclose([week_sin[0], week_cos[0]], [0, 1], atol=1e-12)
    np.testing.assert_allclose([week_sin[3 * 24 + 12], week_cos[3 * 24 + 12]], [0, -1], atol=1e-12)


def test_local_time_is_used_for_zoned_series():
    utc = pd.date_range("2024-06-01", periods=24, freq="h", tz="UTC")
    paris = utc.tz_convert("Europe/Paris")  # two hours ahead in summer
    np.testing.assert_allclose(calendar_features(paris, "h")[0], calendar_features(utc, "h")[2])


def _field_phases(index: pd.DatetimeIndex, cycles: tuple[str, ...]) -> np.ndarray:
    """The cycle positions from pandas' own calendar fields, to check the arithmetic against."""
    local = index.tz_localize(None) if index.tz is not None else index
    day = (local.hour * 3600 + local.minute * 60 + local.second).to_numpy(dtype=np.float64) / 86_400
    positions = {"day": day, "week": (local.day_of_week.to_numpy(dtype=np.float64) + day) / 7,
                 "year": (local.day_of_year.to_numpy(dtype=np.float64) - 1 + day)
                 / np.where(local.is_leap_year, 366.0, 365.0)}
    return np.column_stack([positions[cycle] for cycle in cycles])


@pytest.mark.parametrize("index, freq", [
    (pd.date_range("1899-12-25 03:10", periods=3000, freq="37min"), "37min"),  # before 1970
    (pd.date_range("1960-01-01 00:00:00.7", periods=2000, freq="h"), "h"),  # fractions of a second
    (pd.date_range("2024-10-26", periods=2000, freq="h", tz="America/New_York"), "h"),  # a DST change
    (pd.date_range("1896-02-25", periods=2000, freq="D"), "D"),  # leap years, and 1900 is none
    (pd.DatetimeIndex(pd.date_range("2020-01-01", periods=500, freq="h").to_numpy().astype("datetime64[s]")), "h"),
    (pd.date_range("2000-01-03", periods=500, freq="B"), "B"),
])
def test_calendar_positions_agree_with_pandas_calendar_fields(index, freq):
    angles = 2 * np.pi * _field_phases(index, calendar_cycles(freq))
    np.testing.assert_array_equal(calendar_features(index, freq), np.column_stack([np.sin(angles), np.cos(angles)]))


def test_series_features_put_the_target_first_then_covariates_then_calendar():
    index = pd.date_range("2024-01-01", periods=10, freq="D")
    values, covariates = np.arange(10.0), np.ones((10, 2))
    with_calendar = series_features(values, covariates, index, "D", calendar=True)
    assert with_calendar.shape == (10, 1 + 2 + 4)
    np.testing.assert_array_equal(with_calendar[:, 0], values)
    np.testing.assert_array_equal(with_calendar[:, 1:3], covariates)
    assert series_features(values, np.empty((10, 0)), index, "D", calendar=False).shape == (10, 1)


def test_the_linear_skip_can_be_left_out():
    spec = NetworkSpec(lookback=8, horizon=3, n_features=2, units=4)
    names = {layer.name for layer in build_network(spec).layers}
    assert {"linear_skip", "forecast"} <= names
    plain = NetworkSpec(lookback=8, horizon=3, n_features=2, units=4, linear_skip=False)
    assert "linear_skip" not in {layer.name for layer in build_network(plain).layers}


def _hourly_with_weekday_effect(n_days: int = 60) -> Dataset:
    """A daily cycle plus a weekday effect that a one-day window cannot see, and noise."""
    index = pd.date_range("2024-01-01", periods=24 * n_days, freq="h")
    rng = np.random.default_rng(3)
    weekday_effect = np.array([0.0, 1.0, 2.0, 1.5, 3.0, -2.0, -4.0])
    values = (50 + 3 * np.sin(2 * np.pi * index.hour / 24) + 2 * weekday_effect[index.day_of_week]
              + rng.normal(0, 0.5, len(index)))
    series = Series(name="load", target="load", first_row=2, index=index, freq="h", values=values,
                    covariates=np.empty((len(index), 0)), missing=np.zeros(len(index), dtype=bool))
    return Dataset(path="weekly.csv", options=DataOptions(), series=[series], n_filled=0)


def test_calendar_inputs_are_kept_where_they_lower_the_validation_error():
    # 12 days of validation: long enough to judge a weekly cycle
    fitted = fit(_hourly_with_weekday_effect(), TrainOptions(model="linear", lookback=24, horizon=6, seed=0))
    assert fitted.options.calendar is True
    assert fitted.spec["n_features"] == 1 + 4  # time of day and day of week


def _first_rows(dataset: Dataset, n: int) -> Dataset:
    cut = [replace(s, index=s.index[:n], values=s.values[:n], covariates=s.covariates[:n], missing=s.missing[:n])
           for s in dataset.series]
    return replace(dataset, series=cut)


def test_calendar_inputs_are_kept_where_the_validation_part_is_too_short_to_judge_them():
    dataset = _first_rows(load_dataset(HOURLY, DataOptions(targets=("load",), covariates=("temperature",))), 400)
    fitted = fit(dataset, TrainOptions(model="linear", seed=0))
    assert fitted.options.calendar is True and fitted.spec["n_features"] == 2 + 4
    # 80 hours of validation, less than the week of the weekly cycle; on them alone the linear
    # model would have done better without the calendar inputs
    x, y = fitted.val_parts[0]
    _, chosen = LinearAutoregression.fit_choosing_channels(fitted.train_windows, relative_inputs(x, y, level=fitted.level),
                                                           [None, [0, 1]])
    assert chosen == 1


def test_calendar_inputs_are_left_out_where_the_window_already_shows_the_cycles():
    # a week of hourly history: the daily and weekly cycles are in every window
    dataset = load_dataset(HOURLY, DataOptions(targets=("load",), covariates=("temperature",)))
    chosen = fit(dataset, TrainOptions(model="linear", seed=0))
    assert chosen.options.calendar is False and chosen.spec["n_features"] == 2
    # the same as asking for no calendar inputs: the model fitted on the shared sums of both
    # choices is the one fitted on the windows without them
    without = fit(dataset, TrainOptions(model="linear", seed=0, calendar=False))
    assert chosen.linear.alpha == without.linear.alpha
    np.testing.assert_allclose(chosen.linear.coef, without.linear.coef, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(chosen.linear.intercept, without.linear.intercept, rtol=1e-6, atol=1e-9)
    # and an explicit choice is obeyed
    forced = fit(dataset, TrainOptions(model="linear", seed=0, calendar=True))
    assert forced.options.calendar is True and forced.spec["n_features"] == 2 + 4


def test_yearly_data_has_no_calendar_inputs_to_choose():
    index = pd.date_range("1900-01-01", periods=80, freq="YS")
    values = np.cumsum(np.random.default_rng(0).normal(size=80)) + 10
    series = Series(name="y", target="y", first_row=2, index=index, freq="YS", values=values, covariates=np.empty((80, 0)),
                    missing=np.zeros(80, dtype=bool))
    dataset = Dataset(path="yearly.csv", options=DataOptions(), series=[series], n_filled=0)
    fitted = fit(dataset, TrainOptions(model="linear", lookback=4, horizon=2, seed=0))
    assert fitted.options.calendar is False and fitted.spec["n_features"] == 1
