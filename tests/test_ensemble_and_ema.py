"""Training options that change how the network is trained, not its shape: an ensemble of
networks averaged into one model (``--ensemble``), and a moving average of the weights (``--ema``).
Real, tiny Keras training on a noisy square wave: a linear model cannot follow its jumps, so
the recurrent part has something to learn."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from forecaster.data import Dataset, dataset_from_pandas
from forecaster.errors import ConfigError
from forecaster.report import Reporter
from forecaster.training import TrainOptions, fit

TINY = TrainOptions(lookback=12, horizon=4, units=4, epochs=3, batch_size=16, learning_rate=0.01, calendar=False,
                    seed=7)  # fmt: skip


def square_wave(n: int = 400) -> Dataset:
    rng = np.random.default_rng(4)
    values = np.sign(np.sin(np.arange(n) / 5)) * 2 + rng.normal(0, 0.2, n) + 20
    return dataset_from_pandas({"x": pd.Series(values, pd.date_range("2024-01-01", periods=n, freq="h"))},
                               "square wave (in memory)")


def relative_validation_inputs(fitted) -> np.ndarray:
    """`(n_windows, lookback, n_features)`: the validation windows as the network sees them."""
    from forecaster.forecasting import relative_inputs

    inputs, targets = fitted.val_parts[0]
    return relative_inputs(inputs, targets, level=fitted.level)[0]


def validation_losses(stream: io.StringIO) -> list[float]:
    """The val_loss of every epoch, from a JSON log."""
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [event["val_loss"] for event in events if event["event"] == "epoch"]


# --- ensemble ----------------------------------------------------------------------------------


def test_an_ensemble_is_the_mean_of_its_members_trained_alone_and_is_reproducible():
    """Member m is the network a single run with seed + m - 1 trains; the ensemble's forecast
    is the shared linear skip plus the mean of the members' corrections, i.e. their mean."""
    dataset = square_wave()
    ensemble = fit(dataset, replace(TINY, ensemble=2))
    alone = [fit(dataset, replace(TINY, seed=seed)) for seed in (7, 8)]

    windows = relative_validation_inputs(ensemble)
    members = [single.predictor.predict(windows, verbose=0) for single in alone]
    assert all(single.best_epoch > 0 for single in alone)  # both learned a correction: the mean is not trivial
    np.testing.assert_allclose(ensemble.predictor.predict(windows, verbose=0), (members[0] + members[1]) / 2,
                               rtol=0, atol=1e-5)  # fmt: skip
    assert ensemble.members == [{"seed": s.options.seed, "epochs_run": s.epochs_run, "best_epoch": s.best_epoch}
                                for s in alone]  # fmt: skip
    assert (ensemble.epochs_run, ensemble.best_epoch) == (alone[0].epochs_run, alone[0].best_epoch)
    assert ensemble.spec["ensemble"] == 2 and alone[0].members == []
    # the skip is the ridge solution, frozen, shared by the members
    skip = ensemble.predictor.get_layer("linear_skip")
    assert not skip.trainable
    np.testing.assert_array_equal(skip.get_weights()[0], np.asarray(ensemble.linear.coef, dtype=np.float32))

    again = fit(dataset, replace(TINY, ensemble=2))
    for a, b in zip(ensemble.predictor.get_weights(), again.predictor.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_each_member_reports_its_progress_and_falls_back_from_xla_on_its_own(xla_unavailable):
    messages = io.StringIO()
    # a GRU: an LSTM runs the fused kernel, which is never compiled by XLA
    options = replace(TINY, cell="gru", ensemble=2, epochs=1, windows_per_epoch=32)
    fitted = fit(square_wave(), options, Reporter(file=messages))
    assert xla_unavailable == [True, False, True, False]
    text = messages.getvalue()
    for member in ("Member 1/2", "Member 2/2"):
        assert f"{member}: XLA could not compile the training step (InvalidArgumentError); training without it" in text
        assert f"{member}: epoch 1/1" in text
    assert [m["epochs_run"] for m in fitted.members] == [1, 1]


@pytest.mark.parametrize("bad", [0, -1])
def test_an_ensemble_needs_at_least_one_member(bad):
    with pytest.raises(ConfigError, match=f"--ensemble must be at least 1, got {bad}"):
        TrainOptions(ensemble=bad)


def test_options_saved_before_ensembles_and_ema_read_as_neither():
    old = {k: v for k, v in TrainOptions(seed=1).to_dict().items() if k not in ("ensemble", "ema")}
    options = TrainOptions.from_dict(old)
    assert (options.ensemble, options.ema, options.seed) == (1, False, 1)


# --- ema ---------------------------------------------------------------------------------------


def test_with_ema_the_kept_weights_are_the_moving_average_of_the_best_epoch():
    """SwapEMAWeights comes before EarlyStopping, so the weights validated, kept as the best and
    restored are the moving average: the returned network's validation loss is the lowest one
    recorded (at an epoch before the last, here), and the frozen linear skip is untouched."""
    from forecaster import forecasting
    from forecaster.training import _windows, window_batches

    dataset = square_wave()
    stream = io.StringIO()
    fitted = fit(dataset, replace(TINY, ema=True), Reporter(file=stream, log_format="json"))
    losses = validation_losses(stream)
    assert fitted.predictor.optimizer.use_ema
    assert 0 < fitted.best_epoch < len(losses) and fitted.best_epoch == int(np.argmin(losses)) + 1

    val_windows = _windows(dataset, fitted.options)[2]
    restored = fitted.predictor.evaluate(window_batches(val_windows, forecasting.PREDICT_BATCH), verbose=0)
    assert restored == pytest.approx(min(losses), rel=1e-6)
    skip = fitted.predictor.get_layer("linear_skip").get_weights()
    np.testing.assert_array_equal(skip[0], np.asarray(fitted.linear.coef, dtype=np.float32))
    np.testing.assert_array_equal(skip[1], np.asarray(fitted.linear.intercept, dtype=np.float32))

    plain = io.StringIO()
    fit(dataset, TINY, Reporter(file=plain, log_format="json"))
    assert validation_losses(plain) != losses  # the average, not the trained weights, was validated
