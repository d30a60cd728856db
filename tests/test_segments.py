"""Segmented networks (``--segment``): the recurrent layer reads the window a run of steps at a
time, and by default a seasonal run whenever the window holds enough of them, with an
ensemble and learning rate of its own. Real, tiny Keras training."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from forecaster.data import Dataset, dataset_from_pandas
from forecaster.errors import ConfigError
from forecaster.training import (
    SEGMENTED_ENSEMBLE,
    SEGMENTED_LEARNING_RATE,
    STEPWISE_LEARNING_RATE,
    TrainOptions,
    fit,
    resolve_shape,
)

from .conftest import HOURLY, read_metadata, run_cli
from .test_ensemble_and_ema import square_wave


def wave(n: int, freq: str) -> Dataset:
    """A noisy square wave of ``n`` steps of ``freq``."""
    rng = np.random.default_rng(3)
    values = np.sign(np.sin(np.arange(n) / 5)) * 2 + rng.normal(0, 0.2, n) + 20
    return dataset_from_pandas({"x": pd.Series(values, pd.date_range("2024-01-01", periods=n, freq=freq))},
                               "wave (in memory)")


@pytest.mark.parametrize(("freq", "lookback", "segment"), [
    ("h", 168, 24),  # a week of hours: seven days
    ("h", 96, 24),  # exactly four days
    ("h", 95, 1),  # not four whole days
    ("D", 28, 7),
    ("D", 14, 1),  # the daily default lookback: two weeks only
])  # fmt: skip
def test_the_automatic_segment_is_the_season_where_the_window_holds_four(freq, lookback, segment):
    resolved = resolve_shape(wave(2000, freq), TrainOptions(lookback=lookback, horizon=6))
    assert resolved.segment == segment
    segmented = segment > 1
    assert resolved.ensemble == (SEGMENTED_ENSEMBLE if segmented else 1)
    assert resolved.learning_rate == (SEGMENTED_LEARNING_RATE if segmented else STEPWISE_LEARNING_RATE)


def test_given_options_win_over_the_automatic_ones():
    dataset = wave(2000, "h")
    given = resolve_shape(dataset, TrainOptions(lookback=168, horizon=6, segment=1))
    assert (given.segment, given.ensemble, given.learning_rate) == (1, 1, STEPWISE_LEARNING_RATE)
    given = resolve_shape(dataset, TrainOptions(lookback=48, horizon=6, segment=12))
    assert (given.segment, given.ensemble, given.learning_rate) == (12, SEGMENTED_ENSEMBLE, SEGMENTED_LEARNING_RATE)
    given = resolve_shape(dataset, TrainOptions(lookback=168, horizon=6, ensemble=1, learning_rate=0.01))
    assert (given.segment, given.ensemble, given.learning_rate) == (24, 1, 0.01)
    with pytest.raises(ConfigError, match=r"--segment \(49\) must not be longer than the lookback \(48\)"):
        resolve_shape(dataset, TrainOptions(lookback=48, horizon=6, segment=49))
    # the baselines ignore the network's options, as they ignore --units
    assert resolve_shape(dataset, TrainOptions(model="linear", lookback=48, horizon=6, segment=49)).segment == 49
    with pytest.raises(ConfigError, match="--segment must be at least 1"):
        TrainOptions(segment=0)


def test_options_saved_before_segments_read_as_a_single_network_stepping_through_the_window():
    old = {k: v for k, v in TrainOptions(seed=1, learning_rate=0.001, ensemble=1).to_dict().items() if k != "segment"}
    options = TrainOptions.from_dict(old)
    assert (options.segment, options.ensemble, options.learning_rate) == (1, 1, 0.001)


def test_a_segmented_network_learns_a_correction_and_sees_only_its_segments():
    dataset = square_wave()
    options = TrainOptions(lookback=14, horizon=4, segment=4, ensemble=1, units=4, epochs=3, batch_size=16,
                           learning_rate=0.01, calendar=False, seed=7)  # fmt: skip
    fitted = fit(dataset, options)
    network = fitted.predictor
    names = {layer.name for layer in network.layers}
    assert {"segment_crop", "segments", "segment_embedding", "lstm_1", "linear_skip"} <= names
    assert network.get_layer("lstm_1").input.shape[1:] == (3, 4)  # 14 steps: the last three runs of four
    assert fitted.best_epoch > 0  # the square wave's jumps gave the recurrent part something to learn
    stepwise = fit(dataset, replace(options, segment=1))
    assert {"segments", "segment_embedding"}.isdisjoint(layer.name for layer in stepwise.predictor.layers)


def test_train_predict_and_info_with_segments(tmp_path):
    model_dir = tmp_path / "model"
    result = run_cli("train", HOURLY, "-m", model_dir, "--segment", "24", "--ensemble", "2", "--epochs", "1",
                     "--units", "4", "--seed", "1", "--quiet")
    assert result.exit_code == 0, result.stderr
    metadata = read_metadata(model_dir)
    assert metadata["network"]["segment"] == 24 and metadata["network"]["ensemble"] == 2
    assert metadata["train_options"]["learning_rate"] == SEGMENTED_LEARNING_RATE
    info = run_cli("info", "-m", model_dir)
    assert info.exit_code == 0 and "segments of" in info.stdout and "ensemble of 2" in info.stdout
    first, again = (run_cli("predict", "-m", model_dir) for _ in range(2))
    assert first.exit_code == 0, first.stderr
    assert first.stdout == again.stdout and len(first.stdout.splitlines()) == 1 + 2 * 24  # two columns, 24 steps each
