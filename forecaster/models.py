"""Keras networks: stacked, optionally bidirectional LSTM / GRU / SimpleRNN with a direct
multi-horizon head (one dense layer emits every step at once), alone or as an ensemble of
several that average their forecasts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .errors import ConfigError

CELLS = ("lstm", "gru", "rnn")
#: The training options only a network uses; a baseline model is fitted without them.
NETWORK_ONLY = ("cell", "layers", "units", "bidirectional", "dropout", "linear_skip", "ensemble", "segment", "ema",
                "epochs", "patience", "batch_size", "windows_per_epoch", "learning_rate", "series_weights")


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
    #: recurrent stacks ("members"), each with its own head, whose corrections are averaged
    ensemble: int = 1
    #: steps per recurrent step: 1, the window step by step; more, the window's last
    #: ``lookback // segment`` segments of that many steps, each embedded by a dense layer
    segment: int = 1

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ConfigError(f"--cell must be one of {', '.join(CELLS)}, not '{self.cell}'")
        for name in ("lookback", "horizon", "n_features", "layers", "units", "ensemble", "segment"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"--dropout must be in [0, 1), got {self.dropout}")
        check_segment(self.segment, self.lookback)

    @property
    def n_segments(self) -> int:
        """Recurrent steps per window."""
        return self.lookback // self.segment

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NetworkSpec:
        """The spec :meth:`to_dict` gave, from a dict that may hold more (a model's ``network``
        metadata, a fitted model's ``spec``)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def check_segment(segment: int, lookback: int) -> None:
    """Refuse a segment longer than the window it cuts into runs."""
    if segment > lookback:
        raise ConfigError(f"--segment ({segment}) must not be longer than the lookback ({lookback}); "
                          "pass a shorter --segment or a longer --lookback")


def member_prefix(member: int, ensemble: int) -> str:
    """What the names of ensemble member ``member``'s (1-based) layers and weights start with:
    ``member2_`` and so on, and nothing for a single network, whose names stay those of the
    models trained before ensembles existed (so that those still load)."""
    return f"member{member}_" if ensemble > 1 else ""


def build_network(spec: NetworkSpec, seed: int | None = None):
    """Build an uncompiled Keras model.

    Input `(batch, lookback, n_features)` with the target in channel 0; output
    `(batch, horizon)`, the scaled target relative to the window level: the last recurrent
    layer's state through a dense layer, plus (``linear_skip``) a dense layer on the whole window.
    An ensemble has ``spec.ensemble`` such recurrent stacks with their own dense heads
    (layers named after :func:`member_prefix`), averaged by ``keras.layers.Average`` before
    the one shared linear skip is added: the mean of the members' forecasts. LSTM layers are
    :class:`forecaster.fused_lstm.FusedLSTM`, Keras' LSTM run by one fused kernel (on groups of
    the batch side by side in a network of one direction and one member).

    Args:
        seed: the recurrent dropout's seed (member ``m`` takes ``seed + m - 1``); the initial
            weights come from Keras' global seed.
    """
    from .backend import load_keras

    keras = load_keras()

    from .fused_lstm import FusedLSTM

    layer_class = {"lstm": FusedLSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}[spec.cell]
    # a lone LSTM runs its kernel on groups of the batch side by side; beside other recurrent
    # layers (the other direction, other members) that would only slow it down
    extra = {"split_rows": not spec.bidirectional and spec.ensemble == 1} if spec.cell == "lstm" else {}
    inputs = keras.Input(shape=(spec.lookback, spec.n_features), name="window")
    corrections = []
    for member in range(1, spec.ensemble + 1):
        prefix = member_prefix(member, spec.ensemble)
        hidden = inputs if spec.segment == 1 else segment_embedding(keras, spec, inputs, prefix)
        for depth in range(spec.layers):
            recurrent = layer_class(
                spec.units,
                return_sequences=depth < spec.layers - 1,
                dropout=spec.dropout,
                seed=None if seed is None else seed + member - 1 + depth,
                name=f"{prefix}{spec.cell}_{depth + 1}",
                **extra,
            )
            if spec.bidirectional:
                recurrent = keras.layers.Bidirectional(recurrent, name=f"{prefix}bidirectional_{depth + 1}")
            hidden = recurrent(hidden)
        corrections.append(keras.layers.Dense(spec.horizon, name=f"{prefix}horizon")(hidden))
    # Average, not a Lambda: the model must load in Keras' safe mode
    outputs = keras.layers.Average(name="members_mean")(corrections) if spec.ensemble > 1 else corrections[0]
    if spec.linear_skip:
        # A linear map from the whole window straight to the output (the autoregressive
        # "highway" of LSTNet): the recurrent part then only has to learn what a linear
        # model cannot. Training sets it to the ridge baseline (see ``start_from_linear``).
        flat = keras.layers.Flatten(name="window_flat")(inputs)
        linear = keras.layers.Dense(spec.horizon, name="linear_skip")(flat)
        outputs = keras.layers.Add(name="forecast")([outputs, linear])
    return keras.Model(inputs, outputs, name="forecaster")


def segment_embedding(keras, spec: NetworkSpec, inputs, prefix: str):
    """The window as a sequence of segments (as SegRNN, Lin et al. 2023): its last
    ``n_segments * segment`` steps cut into ``n_segments`` runs of ``segment`` steps, each
    run's values (steps x features, flattened step by step) mapped to ``units`` values by a
    dense layer with ReLU. A recurrent layer then takes ``n_segments`` steps instead of
    ``lookback``: a daily segment shows it a whole cycle at once, and it trains far faster.

    `(batch, lookback, n_features)` -> `(batch, n_segments, units)`.
    """
    dropped = spec.lookback - spec.n_segments * spec.segment
    hidden = inputs
    if dropped:
        hidden = keras.layers.Cropping1D((dropped, 0), name=f"{prefix}segment_crop")(hidden)
    hidden = keras.layers.Reshape((spec.n_segments, spec.segment * spec.n_features),
                                  name=f"{prefix}segments")(hidden)
    return keras.layers.Dense(spec.units, activation="relu", name=f"{prefix}segment_embedding")(hidden)


def ensemble_of(spec: NetworkSpec, members: list):
    """One Keras model of ``spec`` (``spec.ensemble == len(members)``) that averages the
    forecasts of ``members``, single networks of ``spec`` built by :func:`build_network`
    with ``ensemble`` 1 and trained on their own. Members that share the frozen linear skip
    (training starts each from the same one) average to that skip plus the mean of their
    recurrent corrections, which is what the ensemble computes.

    Returns:
        the only member itself when there is one.
    """
    if len(members) == 1:
        return members[0]
    network = build_network(spec)
    for member, trained in enumerate(members, start=1):
        prefix = member_prefix(member, spec.ensemble)
        for layer in trained.layers:
            if layer.weights and layer.name != "linear_skip":
                network.get_layer(prefix + layer.name).set_weights(layer.get_weights())
    if spec.linear_skip:
        skip = network.get_layer("linear_skip")
        skip.set_weights(members[0].get_layer("linear_skip").get_weights())
        skip.trainable = False
    return network


def start_from_linear(network, linear) -> None:
    """Make ``network`` compute exactly what the fitted linear baseline does, and keep it there.

    The linear skip takes the ridge solution and is frozen; the recurrent head's output
    layer starts at zero. So the network starts as the linear baseline, and the recurrent
    part only learns a correction to it; training keeps the correction only where it lowers
    the validation loss, so the network is never worse than the baseline there.
    (Adam would move every weight of a trainable skip by about the learning rate per step,
    which is as large as the ridge coefficients themselves and undoes the start at once.)

    Args:
        network: built by :func:`build_network` with ``linear_skip`` and ``ensemble`` 1
            (training starts every member of an ensemble on its own), not yet compiled.
        linear: a :class:`forecaster.baselines.LinearAutoregression` fitted on the same
            relative windows, coefficients `(lookback * n_features, horizon)`.
    """
    import numpy as np

    skip = network.get_layer("linear_skip")
    skip.set_weights([np.asarray(linear.coef, dtype="float32"), np.asarray(linear.intercept, dtype="float32")])
    skip.trainable = False
    head = network.get_layer("horizon")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
