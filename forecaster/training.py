"""Train one global network on every series of a CSV file and write the model directory."""

from __future__ import annotations

import os
import random
import time
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import anomaly, forecasting
from .artifacts import check_replaceable, save_artifact
from .baselines import seasonal_naive
from .data import DataOptions, Dataset, load_dataset, seasonal_period
from .errors import ConfigError, DataError
from .metrics import error_summary
from .models import NetworkSpec, build_network
from .report import QUIET, Reporter
from .scaling import SeriesScaler, feature_matrix
from .windows import max_lookback, min_length, split_point, train_validation_windows

MIN_AUTO_LOOKBACK = 4
MAX_AUTO_LOOKBACK = 336


@dataclass(frozen=True)
class TrainOptions:
    """How to train. ``None`` for lookback / horizon / seed means: choose from the data."""

    lookback: int | None = None
    horizon: int | None = None
    cell: str = "lstm"
    layers: int = 1
    units: int = 32
    bidirectional: bool = False
    dropout: float = 0.0
    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 1e-3
    val_fraction: float = 0.2
    patience: int = 10
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        for name in ("lookback", "horizon"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name} must be at least 1, got {value}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"--val-fraction must be between 0 and 1, got {self.val_fraction}")
        if not self.learning_rate > 0:
            raise ConfigError(f"--learning-rate must be positive, got {self.learning_rate}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class TrainResult:
    """What a training run produced; the model itself is in ``model_dir``."""

    model_dir: Path
    options: TrainOptions
    n_series: int
    n_train_windows: int
    n_val_windows: int
    epochs_run: int
    best_epoch: int
    seconds: float
    metrics: dict[str, dict[str, float]]
    series_metrics: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


@dataclass
class _PreparedSeries:
    name: str
    scaler: SeriesScaler
    features: np.ndarray  # (n_steps, n_features) scaled
    split: int


def default_horizon(freq: str) -> int:
    """One seasonal period, kept between 6 and 48 steps."""
    return int(min(max(seasonal_period(freq), 6), 48))


def resolve_shape(dataset: Dataset, options: TrainOptions) -> TrainOptions:
    """Fill in lookback and horizon from the data, and check every series is long enough.

    The automatic lookback covers two seasonal periods (at least the horizon), shortened when
    the shortest series could not otherwise give training windows.
    """
    shortest = min(dataset.series, key=lambda s: len(s.values))
    season = max(seasonal_period(s.freq) for s in dataset.series)
    horizon = options.horizon or default_horizon(dataset.series[0].freq)
    lookback = options.lookback
    if lookback is None:
        preferred = min(max(2 * season, horizon, MIN_AUTO_LOOKBACK), MAX_AUTO_LOOKBACK)
        # leave at least as many training windows as the lookback is long, where possible
        room = max_lookback(len(shortest.values), horizon, options.val_fraction)
        lookback = max(min(preferred, (room + 1) // 2), min(MIN_AUTO_LOOKBACK, room))
        lookback = max(lookback, 1)
    needed = min_length(lookback, horizon, options.val_fraction)
    for series in dataset.series:
        if len(series.values) < needed:
            raise DataError(
                f"{dataset.path}: series '{series.name}' has {len(series.values)} rows after cleaning but needs at least "
                f"{needed} for lookback {lookback} + horizon {horizon} with a {options.val_fraction:g} validation "
                "fraction; give it more history or pass a smaller --lookback / --horizon"
            )
    return replace(options, lookback=lookback, horizon=horizon)


def train(
    data_path: str | os.PathLike,
    data_options: DataOptions = DataOptions(),
    options: TrainOptions = TrainOptions(),
    model_dir: str | os.PathLike = "forecaster-model",
    reporter: Reporter = QUIET,
) -> TrainResult:
    """Train on every series of ``data_path`` and write the model directory.

    Raises:
        DataError: the file cannot be used (see :func:`forecaster.data.load_dataset`).
        ConfigError: the options cannot work together.
    """
    started = time.monotonic()
    check_replaceable(model_dir)
    dataset = load_dataset(data_path, data_options, reporter)
    options = resolve_shape(dataset, options)
    if options.seed is None:
        options = replace(options, seed=random.SystemRandom().randrange(2**31))
    lookback, horizon = options.lookback, options.horizon
    assert lookback is not None and horizon is not None

    from .backend import load_keras, seed_everything

    keras = load_keras()
    seed_everything(options.seed)

    prepared = [_prepare(series, horizon, options.val_fraction) for series in dataset.series]
    train_parts, val_parts = zip(
        *(train_validation_windows(p.features, p.features[:, 0], lookback, horizon, options.val_fraction) for p in prepared)
    )
    train_inputs = np.concatenate([x for x, _ in train_parts])
    train_targets = np.concatenate([y for _, y in train_parts])
    val_inputs = np.concatenate([x for x, _ in val_parts])
    val_targets = np.concatenate([y for _, y in val_parts])
    reporter.info(
        f"Training {'a bidirectional' if options.bidirectional else 'an' if options.cell == 'lstm' else 'a'} {options.cell.upper()} "
        f"({options.layers} x {options.units} units) on {len(prepared)} series: "
        f"{len(train_inputs)} training and {len(val_inputs)} validation windows, lookback {lookback}, horizon {horizon}"
    )

    spec = NetworkSpec(
        lookback=lookback,
        horizon=horizon,
        n_features=prepared[0].features.shape[1],
        cell=options.cell,
        layers=options.layers,
        units=options.units,
        bidirectional=options.bidirectional,
        dropout=options.dropout,
    )
    network = build_network(spec, seed=options.seed)
    network.compile(optimizer=keras.optimizers.Adam(learning_rate=options.learning_rate), loss=keras.losses.Huber())
    x_train, y_train = forecasting.relative_inputs(train_inputs, train_targets)
    x_val, y_val = forecasting.relative_inputs(val_inputs, val_targets)

    with reporter.progress("Training", total=options.epochs) as progress:
        callbacks = [
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=options.patience, restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(2, options.patience // 3)),
            _progress_callback(keras, progress, options.epochs),
        ]
        history = network.fit(
            x_train,
            y_train,
            validation_data=(x_val, y_val),
            epochs=options.epochs,
            batch_size=options.batch_size,
            shuffle=True,
            callbacks=callbacks,
            verbose=0,
        )
    val_losses = history.history["val_loss"]
    best_epoch = int(np.argmin(val_losses)) + 1

    evaluation = _evaluate(network, dataset, prepared, val_parts, lookback, horizon)
    calibration = anomaly.calibrate(network, prepared_features=[p.features for p in prepared],
                                    splits=[p.split for p in prepared], lookback=lookback)
    metadata = _metadata(dataset, options, spec, prepared, evaluation, calibration, len(val_losses), best_epoch,
                         len(train_inputs), len(val_inputs), time.monotonic() - started)
    history_arrays = [
        {"values": feature_matrix(s.values, s.covariates), "missing": s.missing} for s in dataset.series
    ]
    path = save_artifact(model_dir, network, metadata, history_arrays)
    return TrainResult(
        model_dir=path,
        options=options,
        n_series=len(prepared),
        n_train_windows=len(train_inputs),
        n_val_windows=len(val_inputs),
        epochs_run=len(val_losses),
        best_epoch=best_epoch,
        seconds=time.monotonic() - started,
        metrics=evaluation["overall"],
        series_metrics=evaluation["per_series"],
    )


def _prepare(series, horizon: int, val_fraction: float) -> _PreparedSeries:
    raw = feature_matrix(series.values, series.covariates)
    split = split_point(len(raw), horizon, val_fraction)
    scaler = SeriesScaler.fit(raw[:split])
    return _PreparedSeries(name=series.name, scaler=scaler, features=scaler.transform(raw), split=split)


def _progress_callback(keras, progress, epochs: int):
    class EpochReport(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            progress.advance(
                f"epoch {epoch + 1}/{epochs}  loss {logs.get('loss', float('nan')):.4f}  "
                f"val_loss {logs.get('val_loss', float('nan')):.4f}"
            )

    return EpochReport()


def _evaluate(network, dataset: Dataset, prepared, val_parts, lookback: int, horizon: int) -> dict[str, Any]:
    """Validation errors in the data's units, for the network and seasonal naive, plus the
    scaled residuals that calibrate the prediction intervals."""
    model_all, naive_all, actual_all, residuals = [], [], [], []
    per_series: dict[str, dict[str, dict[str, float]]] = {}
    residual_scales = []
    for series, prep, (inputs, targets) in zip(dataset.series, prepared, val_parts):
        predicted = forecasting.predict_scaled(network, inputs)  # (n_windows, horizon)
        scaled_residuals = targets - predicted
        scale = float(np.sqrt(np.mean(scaled_residuals**2))) or 1.0
        residual_scales.append(scale)
        residuals.append(scaled_residuals / scale)
        starts = prep.split + np.arange(len(inputs))
        actual = series.values[starts[:, None] + np.arange(horizon)]
        model = prep.scaler.target_to_original(predicted)
        naive = seasonal_naive(series.values, starts, horizon, seasonal_period(series.freq))
        per_series[series.name] = {"model": error_summary(actual, model), "seasonal_naive": error_summary(actual, naive)}
        model_all.append(model.ravel())
        naive_all.append(naive.ravel())
        actual_all.append(actual.ravel())
    actual = np.concatenate(actual_all)
    overall = {
        "model": error_summary(actual, np.concatenate(model_all)),
        "seasonal_naive": error_summary(actual, np.concatenate(naive_all)),
    }
    return {
        "overall": overall,
        "per_series": per_series,
        "residual_scales": residual_scales,
        "intervals": forecasting.interval_calibration(np.concatenate(residuals)),
    }


def _metadata(dataset, options, spec, prepared, evaluation, calibration, epochs_run, best_epoch,
              n_train, n_val, seconds) -> dict[str, Any]:
    from .backend import load_keras

    series_meta = []
    for i, (series, prep) in enumerate(zip(dataset.series, prepared)):
        raw_tail = feature_matrix(series.values[-spec.lookback :], series.covariates[-spec.lookback :])
        series_meta.append(
            {
                "name": series.name,
                "target": series.target,
                "freq": series.freq,
                "season": seasonal_period(series.freq),
                "tz": None if series.index.tz is None else str(series.index.tz),
                "start": series.index[0].isoformat(),
                "end": series.index[-1].isoformat(),
                "n_steps": len(series.values),
                "validation_start": series.index[prep.split].isoformat(),
                "scaler": prep.scaler.to_dict(),
                "last_values": raw_tail.tolist(),
                "residual_scale": evaluation["residual_scales"][i],
                "anomaly": calibration["series"][i],
                "metrics": evaluation["per_series"][series.name],
            }
        )
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "keras_version": load_keras().__version__,
        "data_file": str(Path(dataset.path).resolve()) if str(dataset.path) != "-" else "-",
        "data_options": dataset.options.to_dict(),
        "train_options": options.to_dict(),
        "network": spec.to_dict(),
        "format": "long" if dataset.options.id_col else "wide",
        "series": series_meta,
        "intervals": evaluation["intervals"],
        "anomaly_threshold": calibration["threshold"],
        "metrics": evaluation["overall"],
        "training": {
            "epochs_run": epochs_run,
            "best_epoch": best_epoch,
            "train_windows": n_train,
            "validation_windows": n_val,
            "seconds": round(seconds, 2),
        },
    }
