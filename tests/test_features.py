"""Calendar inputs: which cycles each frequency gets, and their values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.features import calendar_cycles, calendar_features, series_features
from forecaster.models import NetworkSpec, build_network


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
