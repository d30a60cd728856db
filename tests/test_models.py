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
