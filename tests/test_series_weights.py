"""Series weighted in the network's loss by their seasonal-naive error (``--series-weights``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import forecasting
from forecaster.data import DataOptions, Dataset, Series
from forecaster.errors import ConfigError
from forecaster.training import (SEASONAL_ERROR_FLOOR, SERIES_WEIGHT_CAP, TrainOptions, _windows, fit, series_weights,
                                 window_batches)
from forecaster.windows import WindowSet

from .conftest import STORES, read_metadata, run_cli


def daily_cycles(*noise: float, n: int = 24 * 30) -> Dataset:
    """Hourly series of one daily cycle, each with its own amount of noise."""
    index = pd.date_range("2024-01-01", periods=n, freq="h")
    cycle = 50 + 10 * np.sin(2 * np.pi * np.arange(n) / 24)
    rng = np.random.default_rng(0)
    series = [Series(name=f"s{i}", target="y", index=index, freq="h", values=cycle + sd * rng.normal(size=n),
                     covariates=np.empty((n, 0)), missing=np.zeros(n, dtype=bool), first_row=0)
              for i, sd in enumerate(noise)]
    return Dataset(path="(in memory)", options=DataOptions(), series=series, n_filled=0)


def test_weights_are_the_inverse_seasonal_error_with_mean_one_over_the_training_windows():
    season = 4
    steps = np.arange(40)
    exact = np.where(steps % season == 0, 1.0, 0.0)  # repeats its season exactly: error 0
    off_by_one = steps % season + np.where((steps // season) % 2 == 0, 0.0, 1.0)  # seasonal error 1 ...
    off_by_two = 2 * off_by_one  # ... and 2
    weights = series_weights([off_by_one, off_by_two, exact], [season] * 3, [10, 30, 0])
    assert weights[0] / weights[1] == pytest.approx(2.0)
    # a series seasonal naive forecasts exactly weighs at most the cap times the median series
    assert weights[2] / weights[0] == pytest.approx(SERIES_WEIGHT_CAP)
    assert np.average(weights, weights=[10, 30, 0]) == pytest.approx(1.0)
    # where such series are the median, the error a weight is taken from never goes below the
    # floor: large, not infinite
    weights = series_weights([exact, exact, off_by_one], [season] * 3, [1, 1, 1])
    assert weights[0] == weights[1] and weights[0] / weights[2] == pytest.approx(1.0 / SEASONAL_ERROR_FLOOR)
    # a part too short for two seasons is compared with its previous step instead
    short = np.array([0.0, 1.0, 3.0, 6.0])  # lag-1 error 2
    weights = series_weights([short, off_by_one], [season, season], [1, 1])
    assert weights[1] / weights[0] == pytest.approx(2.0)


def test_window_weights_follow_their_windows():
    features = [np.arange(20, dtype=np.float32).reshape(-1, 1), np.arange(30, dtype=np.float32).reshape(-1, 1)]
    spans = [[(5, 10), (5, 20)], [(11, 14), (21, 25)]]
    train, val = WindowSet.from_series(features, spans, 4, 2, level="mean", series_weights=[2.0, 0.5])
    assert train.weights.tolist() == [2.0] * 6 + [0.5] * 16
    assert val.weights.tolist() == [2.0] * 4 + [0.5] * 5
    joined = train.joined(val).relative_to("last")
    assert joined.weights.tolist() == train.weights.tolist() + val.weights.tolist()
    unweighted, _ = WindowSet.from_series(features, spans, 4, 2, level="mean")
    assert unweighted.weights is None
    with pytest.raises(ValueError, match="weighted"):
        train.joined(WindowSet(train.features, val.starts, 4, 2, level="mean"))
    # Keras gets each batch's weights with it, in the batch's (shuffled) order
    batches = window_batches(train, 8, seed=1)
    x, y, w = batches[0]
    assert x.shape == (8, 4, 1) and y.shape == (8, 2) and w.shape == (8,)
    rows = train.starts[batches.order[:8]]
    assert w.tolist() == [2.0 if row < 20 else 0.5 for row in rows]
    assert len(window_batches(unweighted, 8)[0]) == 2


def test_the_default_weighs_a_clean_series_above_a_noisy_one_and_one_series_is_never_weighted():
    shape = {"lookback": 48, "horizon": 6, "calendar": False, "seed": 0, "target_transform": "none"}
    _, train, val, _ = _windows(daily_cycles(0.5, 3.0), TrainOptions(**shape))
    first, second = train.weights[0], train.weights[-1]
    assert first > 2 * second
    assert float(np.mean(train.weights)) == pytest.approx(1.0, rel=1e-6)
    assert set(np.unique(val.weights)) == {first, second}
    assert _windows(daily_cycles(0.5, 3.0), TrainOptions(series_weights="even", **shape))[1].weights is None
    assert _windows(daily_cycles(0.5), TrainOptions(**shape))[1].weights is None


def test_the_weights_change_what_the_network_learns():
    data = daily_cycles(0.5, 3.0, n=24 * 20)
    options = TrainOptions(lookback=24, horizon=6, calendar=False, seed=3, units=4, epochs=3, patience=3,
                           target_transform="none", window_level="mean", ensemble=1, segment=1)
    forecasts = {}
    for weights in ("seasonal-error", "even"):
        fitted = fit(data, TrainOptions(**{**options.to_dict(), "series_weights": weights}))
        assert fitted.best_epoch > 0  # the network learnt something beyond its linear start
        inputs = fitted.val_parts[0][0]
        forecasts[weights] = forecasting.predict_scaled(fitted.predictor, inputs, level=fitted.level)
    assert not np.allclose(forecasts["seasonal-error"], forecasts["even"], atol=1e-4)


def test_the_option_is_checked_saved_and_read_back(tmp_path):
    with pytest.raises(ConfigError, match="--series-weights must be one of seasonal-error, even"):
        TrainOptions(series_weights="mase")
    # models saved before the option were trained with every window alike
    assert TrainOptions.from_dict({}).series_weights == "even"
    result = run_cli("train", STORES, "--id-col", "store", "--target", "sales", "--series-weights", "bogus",
                     "--model-dir", tmp_path / "m")
    assert result.exit_code == 2 and "--series-weights" in result.stderr and "seasonal-error, even" in result.stderr
    assert not (tmp_path / "m").exists()
    result = run_cli("train", STORES, "--id-col", "store", "--target", "sales", "--model", "linear",
                     "--series-weights", "even", "--model-dir", tmp_path / "m", "-q")
    assert result.exit_code == 0, result.stderr
    assert read_metadata(tmp_path / "m")["train_options"]["series_weights"] == "even"
