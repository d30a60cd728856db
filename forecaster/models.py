"""Keras networks: stacked, optionally bidirectional LSTM / GRU / SimpleRNN with a direct
multi-horizon head (one dense layer emits every step at once)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .errors import ConfigError

CELLS = ("lstm", "gru", "rnn")


@dataclass(frozen=True)
class NetworkSpec:
    """The shape of a network; everything needed to build it again."""

    lookback: int
    horizon: int
    n_features: int
    cell: str = "lstm"
    layers: int = 1
    units: int = 32
    bidirectional: bool = False
    dropout: float = 0.0
    linear_skip: bool = True

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ConfigError(f"--cell must be one of {', '.join(CELLS)}, not '{self.cell}'")
        for name in ("lookback", "horizon", "n_features", "layers", "units"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"--dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict:
        return asdict(self)


def build_network(spec: NetworkSpec, seed: int | None = None):
    """Build an uncompiled Keras model.

    Input `(batch, lookback, n_features)` with the target in channel 0; output
    `(batch, horizon)`, the scaled target relative to the window level: the last recurrent
    layer's state through a dense layer, plus (``linear_skip``) a dense layer on the whole window.
    """
    from .backend import load_keras

    keras = load_keras()

    layer_class = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}[spec.cell]
    inputs = keras.Input(shape=(spec.lookback, spec.n_features), name="window")
    hidden = inputs
    for depth in range(spec.layers):
        recurrent = layer_class(
            spec.units,
            return_sequences=depth < spec.layers - 1,
            dropout=spec.dropout,
            seed=None if seed is None else seed + depth,
            name=f"{spec.cell}_{depth + 1}",
        )
        if spec.bidirectional:
            recurrent = keras.layers.Bidirectional(recurrent, name=f"bidirectional_{depth + 1}")
        hidden = recurrent(hidden)
    outputs = keras.layers.Dense(spec.horizon, name="horizon")(hidden)
    if spec.linear_skip:
        # A linear map from the whole window straight to the output (the autoregressive
        # "highway" of LSTNet): the recurrent part then only has to learn what a linear
        # model cannot, and the network starts no worse than the linear baseline.
        flat = keras.layers.Flatten(name="window_flat")(inputs)
        linear = keras.layers.Dense(spec.horizon, name="linear_skip")(flat)
        outputs = keras.layers.Add(name="forecast")([outputs, linear])
    return keras.Model(inputs, outputs, name="forecaster")
