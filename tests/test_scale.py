"""Many windows in bounded memory: batches gathered on demand, forecasts a chunk at a time,
and a bounded number of windows per epoch."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from forecaster import forecasting
from forecaster.baselines import LinearAutoregression
from forecaster.data import Dataset, dataset_from_pandas
from forecaster.training import TrainOptions, fit, window_batches
from forecaster.windows import WindowSet, input_windows, window_spans

from .conftest import STORES, read_metadata, run_cli


def _window_set(n_series=4, n_steps=90, lookback=8, horizon=3):
    rng = np.random.default_rng(0)
    features = [np.cumsum(rng.normal(size=(n_steps, 2)), axis=0).astype(np.float32) for _ in range(n_series)]
    spans = [window_spans(n_steps, lookback, horizon, n_steps - 20) for _ in features]
    train, _ = WindowSet.from_series(features, list(zip(*spans)), lookback, horizon, level="mean")
    return train


@pytest.mark.parametrize("level", ["mean", "last"])
def test_many_series_are_forecast_a_chunk_at_a_time_with_the_same_result(monkeypatch, level):
    rng = np.random.default_rng(2)
    parts = [input_windows(rng.normal(size=(n, 2)), 6) for n in (40, 7, 100, 6, 55)]
    linear = LinearAutoregression(6, 3, rng.normal(size=(12, 3)), rng.normal(size=3), 1.0)
    whole = forecasting.predict_scaled(linear, np.concatenate(parts), level=level)
    monkeypatch.setattr(forecasting, "PREDICT_BATCH", 8)
    monkeypatch.setattr(forecasting, "PREDICT_CHUNK_BYTES", 8 * 4 * 12)  # 8 windows at a time
    pieces = forecasting.predict_scaled_parts(linear, parts, level=level)
    assert [len(p) for p in pieces] == [len(p) for p in parts]
    np.testing.assert_allclose(np.concatenate(pieces), whole, rtol=1e-6)
    first = forecasting.predict_scaled_parts(linear, parts, level=level, step=0)
    np.testing.assert_allclose(np.concatenate(first), whole[:, 0], rtol=1e-6)
    assert forecasting.predict_scaled_parts(linear, [], level=level) == []


def test_training_batches_are_a_new_seeded_order_each_epoch():
    windows = _window_set()
    batches = window_batches(windows, batch_size=16, seed=3)
    assert len(batches) == -(-len(windows) // 16)
    first = np.concatenate([batches[i][0] for i in range(len(batches))])
    assert len(first) == len(windows)
    everything, _ = windows.gather(slice(None))
    # every window once per epoch, shuffled
    assert sorted(map(bytes, first)) == sorted(map(bytes, everything))
    assert not np.array_equal(first, everything)
    batches.on_epoch_end()
    second = np.concatenate([batches[i][0] for i in range(len(batches))])
    assert not np.array_equal(first, second)
    again = window_batches(windows, batch_size=16, seed=3)
    np.testing.assert_array_equal(np.concatenate([again[i][0] for i in range(len(again))]), first)
    in_order = window_batches(windows, batch_size=50)
    np.testing.assert_array_equal(np.concatenate([in_order[i][0] for i in range(len(in_order))]), everything)


def test_windows_per_epoch_draws_that_many_distinct_windows_each_epoch():
    windows = _window_set()
    batches = window_batches(windows, batch_size=10, seed=0, per_epoch=45)
    assert len(batches) == 5
    for _ in range(3):
        drawn = np.concatenate([batches[i][0] for i in range(len(batches))])
        assert len(drawn) == 45
        assert len(set(map(bytes, drawn))) == 45
        batches.on_epoch_end()
    assert len(window_batches(windows, batch_size=10, seed=0, per_epoch=10**6)) == -(-len(windows) // 10)


def test_windows_per_epoch_bounds_each_epoch_of_a_real_training(tmp_path):
    model_dir = tmp_path / "model"
    result = run_cli("train", STORES, "--id-col", "store", "--target", "sales", "-m", model_dir, "--units", 4,
                     "--epochs", 2, "--windows-per-epoch", 100, "--batch-size", 25, "--seed", 0, "--log-format", "json")
    assert result.exit_code == 0, result.stderr
    meta = read_metadata(model_dir)
    assert meta["train_options"]["windows_per_epoch"] == 100
    assert meta["training"]["train_windows"] > 100  # the bound is per epoch, not on the data
    refused = run_cli("train", STORES, "--id-col", "store", "--target", "sales", "-m", tmp_path / "other",
                      "--windows-per-epoch", 0)
    assert refused.exit_code != 0
    assert "--windows-per-epoch" in refused.stderr


def _sine_dataset(n: int = 300) -> Dataset:
    rng = np.random.default_rng(4)
    values = np.sin(np.arange(n) / 4) * 3 + rng.normal(0, 0.3, n) + 20
    return dataset_from_pandas({"x": pd.Series(values, pd.date_range("2024-01-01", periods=n, freq="h"))},
                               "sine (in memory)")


TINY_SINE = TrainOptions(lookback=12, horizon=4, units=4, epochs=2, calendar=False, seed=7, windows_per_epoch=64)


def test_a_fit_from_gathered_batches_is_reproducible_with_a_seed():
    dataset, options = _sine_dataset(), TINY_SINE
    first, second = fit(dataset, options), fit(dataset, options)
    for a, b in zip(first.predictor.get_weights(), second.predictor.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert first.epochs_run == 2


@pytest.mark.parametrize("bad", [0, -3])
def test_windows_per_epoch_must_be_positive(bad):
    from forecaster.errors import ConfigError

    with pytest.raises(ConfigError, match="--windows-per-epoch"):
        TrainOptions(windows_per_epoch=bad)


#: A GRU: an LSTM runs the fused kernel, which is never compiled by XLA
TINY_SINE_GRU = replace(TINY_SINE, cell="gru")


def test_training_starts_again_without_xla_when_xla_cannot_compile(xla_unavailable):
    from forecaster.report import Reporter

    messages = io.StringIO()
    fitted = fit(_sine_dataset(), TINY_SINE_GRU, Reporter(file=messages))
    assert xla_unavailable == [True, False]
    assert "XLA could not compile the training step (InvalidArgumentError); training without it" in messages.getvalue()
    assert fitted.epochs_run == TINY_SINE.epochs
    # the recurrent head trained: it started at zero
    assert np.abs(fitted.predictor.get_layer("horizon").get_weights()[0]).max() > 0
    # and the run is as reproducible as one with XLA
    again = fit(_sine_dataset(), TINY_SINE_GRU, Reporter(file=io.StringIO()))
    for a, b in zip(fitted.predictor.get_weights(), again.predictor.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_xla_compiles_only_a_training_long_enough_to_earn_it_back_and_both_are_reproducible(monkeypatch):
    from forecaster import training
    from forecaster.models import NetworkSpec

    compiled: list[bool] = []
    compile_network = training.compile_network

    def recording(network, learning_rate, xla=True, **rest):
        compiled.append(xla)
        compile_network(network, learning_rate, xla, **rest)

    monkeypatch.setattr(training, "compile_network", recording)
    spec = NetworkSpec(lookback=12, horizon=4, n_features=1)
    # 2 epochs of one batch of 64 windows, 12 recurrent steps each
    assert training.xla_work(spec, TINY_SINE, n_windows=1000, epochs=2) == 2 * 12
    assert training.xla_work(replace(spec, segment=4, layers=2, bidirectional=True), TINY_SINE, 1000, 2) == 2 * 3 * 4
    assert training.xla_work(spec, replace(TINY_SINE, windows_per_epoch=None), n_windows=130, epochs=2) == 2 * 3 * 12

    fit(_sine_dataset(), TINY_SINE_GRU)  # reproducible without XLA too: test_a_fit_from_gathered_batches_...
    # as many epochs allowed as make it worth compiling; early stopping ends it much sooner
    long = replace(TINY_SINE_GRU, epochs=-(-training.XLA_MIN_WORK // 12), patience=1)
    first, second = fit(_sine_dataset(), long), fit(_sine_dataset(), long)
    assert compiled == [False, True, True]
    assert first.epochs_run < long.epochs
    for a, b in zip(first.predictor.get_weights(), second.predictor.get_weights()):
        np.testing.assert_array_equal(a, b)
    # an LSTM as long runs the fused kernel instead, which XLA cannot compile
    assert training.fused_kernel_runs(spec)
    fit(_sine_dataset(), replace(long, cell="lstm"))
    assert compiled[-1] is False


def _two_sine_dataset(n: int = 300) -> Dataset:
    rng = np.random.default_rng(5)
    index = pd.date_range("2024-01-01", periods=n, freq="h")
    return dataset_from_pandas({name: pd.Series(np.sin(np.arange(n) / 4) * scale + rng.normal(0, noise, n) + 20, index)
                                for name, scale, noise in (("calm", 3, 0.1), ("noisy", 1, 0.8))}, "sines (in memory)")


@pytest.mark.parametrize("dataset, per_epoch", [(_sine_dataset, None), (_two_sine_dataset, 100)],
                         ids=["every-window", "weighted-windows-drawn"])
def test_a_long_training_trains_many_batches_per_call_to_the_same_weights(monkeypatch, dataset, per_epoch):
    from dataclasses import replace

    from forecaster import training

    calls: list[int] = []
    streams: list[int] = []
    compile_network, window_stream = training.compile_network, training.window_stream

    def recording(network, learning_rate, xla=True, **rest):
        calls.append(rest.get("steps_per_execution", 1))
        compile_network(network, learning_rate, xla, **rest)

    def recording_stream(keras, windows, batch_size, **rest):
        streams.append((len(windows), batch_size))
        return window_stream(keras, windows, batch_size, **rest)

    monkeypatch.setattr(training, "compile_network", recording)
    monkeypatch.setattr(training, "window_stream", recording_stream)
    # 8 windows a batch: an epoch's batches are not a multiple of 16, so the last call of
    # each epoch trains fewer (and the stream's last gather is short)
    options = replace(TINY_SINE, windows_per_epoch=per_epoch, batch_size=8, epochs=3)
    one_at_a_time = fit(dataset(), options)
    n_windows = len(one_at_a_time.train_windows)
    assert training.batches_per_epoch(options, n_windows) % training.STEPS_PER_EXECUTION != 0
    assert (one_at_a_time.train_windows.weights is None) == (dataset is _sine_dataset)
    monkeypatch.setattr(training, "MULTI_STEP_MIN_BATCHES", 1)
    many_at_a_time = fit(dataset(), options)
    assert calls == [1, training.STEPS_PER_EXECUTION]
    # both handed over by tf.data, not fetched batch by batch, and validated likewise
    assert [size for size in streams if size[1] == 8] == [(n_windows, 8)] * 2
    assert [size[1] for size in streams if size[1] != 8] == [forecasting.PREDICT_BATCH] * 2
    assert one_at_a_time.epochs_run == many_at_a_time.epochs_run == 3
    for a, b in zip(one_at_a_time.predictor.get_weights(), many_at_a_time.predictor.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_stream_gives_the_batches_keras_trains_on_from_the_py_dataset():
    from forecaster import training
    from forecaster.backend import load_keras

    keras = load_keras()
    windows = _window_set()
    weighted = WindowSet(windows.features, windows.starts, windows.lookback, windows.horizon, level="mean",
                         weights=np.linspace(0.5, 2.0, len(windows)))
    batches = training.window_batches(weighted, batch_size=16, seed=3, per_epoch=150)
    stream, epoch_start = training.window_stream(keras, weighted, batch_size=16, seed=3, per_epoch=150)
    assert stream.cardinality().numpy() == len(batches) == 10
    next(iter(stream))  # as fit may, to build the model, before any epoch: no order of its own
    for epoch in range(3):
        batches.on_epoch_end()  # as fit does before every epoch, the first included
        epoch_start.on_epoch_begin(epoch)
        streamed = list(stream.as_numpy_iterator())
        assert len(streamed) == len(batches)
        for index, parts in enumerate(streamed):
            assert [p.shape[0] for p in parts] == [16 if index < 9 else 6] * 3
            for got, expected in zip(parts, batches[index]):
                np.testing.assert_array_equal(got, expected)


def test_validation_gives_the_windows_in_order_as_the_py_dataset_does():
    from forecaster import training
    from forecaster.backend import load_keras

    windows = _window_set()
    batches = training.window_batches(windows, batch_size=forecasting.PREDICT_BATCH // 64)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(forecasting, "PREDICT_BATCH", forecasting.PREDICT_BATCH // 64)
        validation = training.validation_data(load_keras(), windows)
    streamed = list(validation.as_numpy_iterator())
    assert len(streamed) == len(batches) > 1
    for index, parts in enumerate(streamed):
        for got, expected in zip(parts, batches[index], strict=True):
            np.testing.assert_array_equal(got, expected)


def test_the_pipelines_fit_reads_are_not_autotuned():
    # Autotuning's thread sleeps for a period that doubles as the pipeline runs, and dropping
    # the pipeline at the end of fit can wait the rest of it out: seconds after a training.
    from forecaster import training
    from forecaster.backend import load_keras

    keras = load_keras()
    windows = _window_set()
    training_stream, _ = training.training_data(keras, windows, batch_size=16, seed=0)
    for pipeline in (training_stream, training.validation_data(keras, windows)):
        assert pipeline.options().autotune.enabled is False


def test_many_batches_per_call_only_where_early_stopping_leaves_enough_batches():
    from dataclasses import replace

    from forecaster import training

    options = TrainOptions(epochs=100, patience=10, batch_size=10)
    # early stopping runs at least 11 epochs: 91 batches each make 1,001, 90 make 990
    assert training.multi_steps(options, n_windows=910) == training.STEPS_PER_EXECUTION
    assert training.multi_steps(options, n_windows=900) == 1
    assert training.multi_steps(replace(options, epochs=5), n_windows=910) == 1
    assert training.multi_steps(replace(options, windows_per_epoch=100), n_windows=10**6) == 1
    # a refit runs every epoch of its schedule
    assert training.multi_steps(options, n_windows=910, epochs=5) == 1
    assert training.multi_steps(options, n_windows=2000, epochs=5) == training.STEPS_PER_EXECUTION


def test_an_error_of_the_data_is_not_mistaken_for_xla_failing(monkeypatch):
    from forecaster import training

    def compile_and_fail(network, learning_rate, xla=True, **rest):
        raise ValueError("not TensorFlow's")

    monkeypatch.setattr(training, "compile_network", compile_and_fail)
    with pytest.raises(ValueError, match="not TensorFlow's"):
        fit(_sine_dataset(), TINY_SINE)
