import itertools

import numpy as np
import pytest

from forecaster.backend import load_keras, seed_everything
from forecaster.errors import ConfigError
from forecaster.models import CELLS, NetworkSpec, build_network

COMBINATIONS = list(itertools.product(CELLS, (1, 2), (False, True)))


@pytest.mark.parametrize("cell,layers,bidirectional", COMBINATIONS)
def test_every_network_trains_saves_and_loads_to_the_same_predictions(tmp_path, cell, layers, bidirectional):
    keras = load_keras()
    seed_everything(0)
    spec = NetworkSpec(lookback=6, horizon=3, n_features=2, cell=cell, layers=layers, units=4,
                       bidirectional=bidirectional, dropout=0.1)
    network = build_network(spec, seed=0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6, 2)).astype("float32")
    y = rng.normal(size=(32, 3)).astype("float32")
    network.compile(optimizer="adam", loss="mse")
    before = network.get_weights()
    network.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, network.get_weights())), "one step must change weights"
    predicted = network.predict(x, verbose=0)
    assert predicted.shape == (32, 3)

    path = tmp_path / "net.keras"
    network.save(path)
    loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), predicted, atol=1e-6)
    recurrent = [layer for layer in loaded.layers if layer.name.startswith(("bidirectional", cell))]
    assert len(recurrent) == layers
    assert all(type(layer).__name__ == "Bidirectional" for layer in recurrent) == bidirectional


def test_bad_network_options_are_refused():
    with pytest.raises(ConfigError, match="--cell"):
        NetworkSpec(lookback=4, horizon=2, n_features=1, cell="transformer")
    with pytest.raises(ConfigError, match="--units"):
        NetworkSpec(lookback=4, horizon=2, n_features=1, units=0)
    with pytest.raises(ConfigError, match="--dropout"):
        NetworkSpec(lookback=4, horizon=2, n_features=1, dropout=1.0)
    with pytest.raises(ConfigError, match="--ensemble must be at least 1, got 0"):
        NetworkSpec(lookback=4, horizon=2, n_features=1, ensemble=0)


def _linear_problem(seed: int = 0):
    """Windows `(n, 8, 2)` whose targets `(n, 3)` are a linear map of the window plus noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, 8, 2)).astype("float32")
    weights = rng.normal(size=(16, 3))
    y = (x.reshape(200, -1) @ weights + rng.normal(0, 0.5, (200, 3))).astype("float32")
    return (x[:150], y[:150]), (x[150:], y[150:])


def test_a_network_started_from_the_linear_baseline_predicts_exactly_what_it_does():
    from forecaster.baselines import LinearAutoregression
    from forecaster.models import start_from_linear

    train, validation = _linear_problem()
    linear = LinearAutoregression.fit(train, validation)
    network = build_network(NetworkSpec(lookback=8, horizon=3, n_features=2, units=4), seed=0)
    start_from_linear(network, linear)
    np.testing.assert_allclose(network.predict(validation[0], verbose=0), linear.predict(validation[0]), atol=1e-4)
    assert not network.get_layer("linear_skip").trainable


@pytest.mark.parametrize("cell,bidirectional", [("lstm", False), ("gru", True)])
def test_an_ensemble_adds_the_mean_of_its_members_corrections_to_the_skip_and_loads_in_safe_mode(
        tmp_path, cell, bidirectional):  # fmt: skip
    from dataclasses import replace

    from forecaster.baselines import LinearAutoregression
    from forecaster.models import ensemble_of, start_from_linear

    keras = load_keras()
    train, validation = _linear_problem()
    linear = LinearAutoregression.fit(train, validation)
    single = NetworkSpec(lookback=8, horizon=3, n_features=2, cell=cell, layers=2, units=4,
                         bidirectional=bidirectional)  # fmt: skip
    rng = np.random.default_rng(0)
    members, corrections = [], []
    for seed in (0, 1):
        member = build_network(single, seed=seed)
        start_from_linear(member, linear)
        for layer in member.layers:  # as if trained: every recurrent and head weight random
            if layer.name != "linear_skip":
                layer.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.get_weights()])
        members.append(member)
        corrections.append(member.predict(validation[0], verbose=0) - linear.predict(validation[0]))
    wrapped = "bidirectional" if bidirectional else cell
    assert {layer.name for layer in members[0].layers} >= {f"{wrapped}_1", "horizon", "linear_skip", "forecast"}

    ensemble = ensemble_of(replace(single, ensemble=2), members)
    expected = linear.predict(validation[0]) + (corrections[0] + corrections[1]) / 2
    predicted = ensemble.predict(validation[0], verbose=0)
    np.testing.assert_allclose(predicted, expected, rtol=0, atol=1e-4)
    assert np.abs(corrections[0] - corrections[1]).max() > 0.1  # two different members
    assert {layer.name for layer in ensemble.layers} >= {
        f"member1_{wrapped}_1", f"member2_{wrapped}_2", "member1_horizon", "member2_horizon", "members_mean",
        "linear_skip", "forecast",
    }  # fmt: skip
    assert not ensemble.get_layer("linear_skip").trainable

    path = tmp_path / "ensemble.keras"
    ensemble.save(path)
    loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(validation[0], verbose=0), predicted, rtol=0, atol=1e-6)


def test_training_never_leaves_the_network_worse_than_its_linear_start_on_validation():
    """Targets that are linear plus noise: the recurrent part has nothing to add, and what it
    learns from the noise must not be kept if it makes validation worse."""
    import pandas as pd

    from forecaster.data import dataset_from_pandas
    from forecaster.forecasting import relative_inputs
    from forecaster.training import TrainOptions, fit

    rng = np.random.default_rng(1)
    n = 400
    values = np.cumsum(rng.normal(size=n)) + 50
    dataset = dataset_from_pandas({"x": pd.Series(values, pd.date_range("2024-01-01", periods=n, freq="h"))},
                                  "random walk (in memory)")
    fitted = fit(dataset, TrainOptions(lookback=12, horizon=4, units=4, epochs=3, learning_rate=0.05,
                                       calendar=False, seed=0))
    keras = load_keras()
    inputs, targets = fitted.val_parts[0]
    shifted, shifted_targets = relative_inputs(inputs, targets, level=fitted.level)
    huber = keras.losses.Huber()
    network_loss = float(huber(shifted_targets, fitted.predictor.predict(shifted, verbose=0)))
    linear_loss = float(huber(shifted_targets, fitted.linear.predict(shifted)))
    assert network_loss <= linear_loss + 1e-6
