"""The learning rate schedule: halved on a plateau of the validation loss, judged relative to
the best loss so that the schedule does not depend on the scale of the loss. Driven through
a real compiled Keras model's optimizer, epoch by epoch, with chosen validation losses."""

from __future__ import annotations

import numpy as np

from forecaster.backend import load_keras
from forecaster.training import relative_plateau


def rates_under(val_losses, patience=3, start=1e-3):
    """The learning rate each epoch trains at when the validation losses are ``val_losses``."""
    keras = load_keras()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=start), loss="mse")
    plateau = relative_plateau(keras, patience=patience)
    plateau.set_model(model)
    plateau.on_train_begin()
    rates = []
    for epoch, loss in enumerate(val_losses):
        rates.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
        plateau.on_epoch_end(epoch, {"val_loss": loss})
    return np.array(rates)


def test_a_loss_still_falling_by_a_fifth_of_a_percent_an_epoch_keeps_its_rate_whatever_its_scale():
    # M4 Hourly's weighted Huber loss is about 0.012: Keras' absolute test (1e-4 lower) would
    # count only every fifth epoch's fall of 2.4e-5 as progress, and halve the rate meanwhile
    falling = 0.012 * 0.998 ** np.arange(20)
    np.testing.assert_allclose(rates_under(falling), 1e-3, rtol=1e-6)
    np.testing.assert_allclose(rates_under(falling * 100), 1e-3, rtol=1e-6)


def test_a_flat_loss_halves_the_rate_after_patience_epochs_at_any_scale():
    losses = [0.012, 0.010, 0.0099999, 0.0100001, 0.0101, 0.0100, 0.0102, 0.0103, 0.0101]
    small = rates_under(losses)
    # epoch 2 gains 1e-5 of the best: not progress; three such epochs after the best halve it
    np.testing.assert_allclose(small, [1e-3] * 5 + [5e-4] * 3 + [2.5e-4], rtol=1e-6)
    np.testing.assert_allclose(rates_under(np.array(losses) * 1000), small, rtol=1e-6)
    np.testing.assert_allclose(rates_under(np.array(losses) / 1000), small, rtol=1e-6)


def test_training_steers_its_rate_by_the_relative_plateau(monkeypatch):
    from dataclasses import replace

    from forecaster import training

    from .test_scale import TINY_SINE, _sine_dataset

    made = []

    def recording(keras, patience, **rest):
        made.append(relative_plateau(keras, patience, **rest))
        return made[-1]

    monkeypatch.setattr(training, "relative_plateau", recording)
    options = replace(TINY_SINE, epochs=3, patience=7)
    training.fit(_sine_dataset(), options)
    (plateau,) = made
    assert plateau.patience == 7 // 3
    assert plateau.model is not None  # fit drove it, epoch by epoch
    # and it is the relative test, not Keras' absolute one
    assert plateau._is_improvement(0.0099985, 0.01) and not plateau._is_improvement(0.0099995, 0.01)
