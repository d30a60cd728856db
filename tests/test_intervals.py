"""Prediction intervals: split-conformal widths that follow how much the input window moved."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import forecasting
from forecaster.data import DataOptions
from forecaster.forecasting import MIN_SPREAD_FACTOR, interval_spreads, spread_factors, window_spread
from forecaster.training import TrainOptions, train


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
