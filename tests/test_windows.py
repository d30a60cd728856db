import numpy as np
import pytest

from forecaster.baselines import seasonal_naive
from forecaster.metrics import mae, rmse
from forecaster.scaling import SeriesScaler
from forecaster.windows import (
    input_windows,
    min_length,
    relative_to_level,
    split_point,
    supervised_windows,
    train_validation_windows,
    window_level,
)


def test_input_windows_shape_and_order():
    features = np.arange(20, dtype=float).reshape(10, 2)
    windows = input_windows(features, 3)
    assert windows.shape == (8, 3, 2)
    np.testing.assert_array_equal(windows[0], features[0:3])
    np.testing.assert_array_equal(windows[-1], features[7:10])


def test_supervised_windows_align_inputs_and_targets():
    target = np.arange(30, dtype=float)
    features = target[:, None]
    inputs, targets = supervised_windows(features, target, lookback=4, horizon=3, first=4, last=27)
    assert inputs.shape == (24, 4, 1) and targets.shape == (24, 3)
    for x, y in zip(inputs, targets):
        # the first target step immediately follows the last input step
        assert y[0] == x[-1, 0] + 1
        np.testing.assert_array_equal(y, np.arange(y[0], y[0] + 3))


@pytest.mark.parametrize("n_steps,lookback,horizon,fraction", [(100, 10, 5, 0.2), (57, 7, 3, 0.1), (500, 48, 24, 0.3)])
def test_training_windows_never_touch_validation(n_steps, lookback, horizon, fraction):
    target = np.arange(n_steps, dtype=float)
    (x_train, y_train), (x_val, y_val) = train_validation_windows(target[:, None], target, lookback, horizon, fraction)
    split = split_point(n_steps, horizon, fraction)
    assert y_train.max() < split and x_train.max() < split
    assert y_val.min() == split and y_val.max() == n_steps - 1
    # every possible window is used exactly once
    assert len(x_train) == split - horizon - lookback + 1
    assert len(x_val) == n_steps - split - horizon + 1


def test_min_length_is_the_shortest_that_works():
    for lookback, horizon, fraction in [(10, 5, 0.2), (48, 24, 0.2), (3, 1, 0.5)]:
        n = min_length(lookback, horizon, fraction)
        target = np.arange(n, dtype=float)
        (x_train, _), (x_val, _) = train_validation_windows(target[:, None], target, lookback, horizon, fraction)
        assert len(x_train) >= 1 and len(x_val) >= 1
        shorter = np.arange(n - 1, dtype=float)
        (x_short, _), _ = train_validation_windows(shorter[:, None], shorter, lookback, horizon, fraction)
        assert len(x_short) == 0


def test_level_is_removed_from_the_target_channel_only():
    inputs = np.random.default_rng(0).normal(size=(5, 6, 2))
    shifted = relative_to_level(inputs, window_level(inputs, "mean"))
    np.testing.assert_allclose(shifted[:, :, 0].mean(axis=1), 0, atol=1e-6)
    np.testing.assert_allclose(shifted[:, :, 1], inputs[:, :, 1], atol=1e-6)
    from_last = relative_to_level(inputs, window_level(inputs, "last"))
    np.testing.assert_allclose(from_last[:, -1, 0], 0, atol=1e-6)
    np.testing.assert_allclose(from_last[:, :, 0], inputs[:, :, 0] - inputs[:, -1:, 0], atol=1e-6)
    np.testing.assert_allclose(from_last[:, :, 1], inputs[:, :, 1], atol=1e-6)
    with pytest.raises(ValueError, match="window level must be one of mean, last"):
        window_level(inputs, "median")


def test_scaler_fitted_on_given_rows_and_inverts():
    rng = np.random.default_rng(1)
    data = np.column_stack([rng.normal(50, 5, 200), rng.normal(-3, 2, 200)])
    scaler = SeriesScaler.fit(data[:150])
    np.testing.assert_allclose(scaler.mean, data[:150].mean(axis=0))
    scaled = scaler.transform(data)
    np.testing.assert_allclose(scaler.target_to_original(scaled[:, 0]), data[:, 0], rtol=1e-5)
    assert SeriesScaler.from_dict(scaler.to_dict()).to_dict() == scaler.to_dict()


def test_seasonal_naive_repeats_the_last_season_before_the_start():
    history = np.arange(50, dtype=float)
    forecasts = seasonal_naive(history, np.array([20, 30]), horizon=6, season=4)
    # step h forecasts value at start + h - 4 * (h // 4 + 1)
    np.testing.assert_array_equal(forecasts[0], [16, 17, 18, 19, 16, 17])
    np.testing.assert_array_equal(forecasts[1], [26, 27, 28, 29, 26, 27])
    assert np.isnan(seasonal_naive(history, np.array([1]), 3, 4)).all()


def test_metrics_by_hand_and_ignore_nan():
    actual = np.array([1.0, 2.0, 3.0, np.nan])
    predicted = np.array([2.0, 2.0, 5.0, 1.0])
    assert mae(actual, predicted) == pytest.approx(1.0)
    assert rmse(actual, predicted) == pytest.approx(np.sqrt(5 / 3))
    assert np.isnan(mae(np.array([np.nan]), np.array([1.0])))


def _series_features(rng, lengths, n_features=3):
    return [rng.normal(size=(n, n_features)).astype(np.float32) * 5 + 10 for n in lengths]


@pytest.mark.parametrize("level", ["mean", "last"])
def test_a_window_set_gathers_exactly_the_windows_each_series_would_copy(level):
    from forecaster.windows import WindowSet, relative_inputs, window_spans

    rng = np.random.default_rng(0)
    lookback, horizon = 6, 4
    features = _series_features(rng, [40, 25, 60])
    splits = [30, 18, 45]
    spans = [window_spans(len(f), lookback, horizon, split) for f, split in zip(features, splits)]
    train, val = WindowSet.from_series(features, list(zip(*spans)), lookback, horizon, level=level)
    for windows, which in ((train, 0), (val, 1)):
        copied = [supervised_windows(f, f[:, 0], lookback, horizon, *span[which]) for f, span in zip(features, spans)]
        expected_x, expected_y = relative_inputs(np.concatenate([x for x, _ in copied]),
                                                 np.concatenate([y for _, y in copied]), level=level)
        assert len(windows) == len(expected_x)
        positions = rng.permutation(len(windows))[:17]
        x, y = windows.gather(positions)
        np.testing.assert_array_equal(x, expected_x[positions])
        np.testing.assert_array_equal(y, expected_y[positions])
        chunks = list(windows.chunks(7))
        assert [len(cx) for cx, _ in chunks[:-1]] == [7] * (len(chunks) - 1)
        np.testing.assert_array_equal(np.concatenate([cx for cx, _ in chunks]), expected_x)
        np.testing.assert_array_equal(np.concatenate([cy for _, cy in chunks]), expected_y)
    # the sets share one copy of the steps instead of holding every window
    assert train.features is val.features
    # the same windows relative to the other level, as copied windows would be
    other = "last" if level == "mean" else "mean"
    moved = train.relative_to(other)
    assert moved.features is train.features and moved.level == other
    copied = [supervised_windows(f, f[:, 0], lookback, horizon, *span[0]) for f, span in zip(features, spans)]
    expected_x, expected_y = relative_inputs(np.concatenate([x for x, _ in copied]),
                                             np.concatenate([y for _, y in copied]), level=other)
    x, y = moved.gather(slice(None))
    np.testing.assert_array_equal(x, expected_x)
    np.testing.assert_array_equal(y, expected_y)
    with pytest.raises(ValueError, match="different levels"):
        train.joined(val.relative_to(other))
    assert train.features.nbytes == sum(f.nbytes for f in features)


def test_a_window_set_skips_series_without_windows_in_a_span():
    from forecaster.windows import WindowSet

    rng = np.random.default_rng(1)
    features = _series_features(rng, [12, 30])
    (windows,) = WindowSet.from_series(features, [[(10, 9), (5, 20)]], 5, 3, level="mean")  # first: none
    assert len(windows) == 16
    x, y = windows.gather(slice(0, 1))
    np.testing.assert_allclose(x[0, :, 1:], features[1][0:5, 1:])
    np.testing.assert_allclose(y[0] + features[1][0:5, 0].mean(), features[1][5:8, 0], rtol=1e-5)
