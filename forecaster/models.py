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
        # model cannot. Training sets it to the ridge baseline (see ``start_from_linear``).
        flat = keras.layers.Flatten(name="window_flat")(inputs)
        linear = keras.layers.Dense(spec.horizon, name="linear_skip")(flat)
        outputs = keras.layers.Add(name="forecast")([outputs, linear])
    return keras.Model(inputs, outputs, name="forecaster")


def start_from_linear(network, linear) -> None:
    """Make ``network`` compute exactly what the fitted linear baseline does, and keep it there.

    The linear skip takes the ridge solution and is frozen; the recurrent head's output
    layer starts at zero. So the network starts as the linear baseline, and the recurrent
    part only learns a correction to it; training keeps the correction only where it lowers
    the validation loss, so the network is never worse than the baseline there.
    (Adam would move every weight of a trainable skip by about the learning rate per step,
    which is as large as the ridge coefficients themselves and undoes the start at once.)

    Args:
        network: built by :func:`build_network` with ``linear_skip``, not yet compiled.
        linear: a :class:`forecaster.baselines.LinearAutoregression` fitted on the same
            relative windows, coefficients `(lookback * n_features, horizon)`.
    """
    import numpy as np

    skip = network.get_layer("linear_skip")
    skip.set_weights([np.asarray(linear.coef, dtype="float32"), np.asarray(linear.intercept, dtype="float32")])
    skip.trainable = False
    head = network.get_layer("horizon")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
