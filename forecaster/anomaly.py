"""Anomaly scoring: how far each value lies from the model's one-step-ahead expectation.

The *score* of a point is its one-step residual (in the series' scaled units) standardised by
the centre and robust spread of the same residuals on the validation part. The *threshold*
that turns scores into flags is calibrated on the validation scores of all series, so clean
data raises few flags.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigError
from .report import QUIET, Reporter
from .windows import input_windows

#: Scores below this are never flagged by the calibrated threshold: about 1 point in 15,000
#: of clean Gaussian noise exceeds 4 robust standard deviations.
MIN_THRESHOLD = 4.0
#: Margin over the 99th percentile of validation scores, for heavier-tailed residuals.
THRESHOLD_MARGIN = 1.5
#: MAD times this estimates the standard deviation of Gaussian noise.
MAD_TO_SD = 1.4826


def one_step_expectations(network: Any, features: list[np.ndarray], lookback: int, starts: list[int]) -> list[np.ndarray]:
    """Scaled one-step-ahead expectations for every step from ``start`` to the end of each series.

    All series go through the network in one batch.

    Args:
        features: per series `(n_steps, n_features)` scaled, target in channel 0.
        starts: per series the first step to expect (``>= lookback``).

    Returns:
        per series `(n_steps - start,)`.
    """
    from .forecasting import predict_scaled

    windows = [input_windows(f, lookback)[start - lookback : len(f) - lookback] for f, start in zip(features, starts)]
    if not windows:
        return []
    predicted = predict_scaled(network, np.concatenate(windows))[:, 0]
    return np.split(predicted, np.cumsum([len(w) for w in windows])[:-1])


def _robust_centre_spread(residuals: np.ndarray) -> tuple[float, float]:
    centre = float(np.median(residuals))
    spread = MAD_TO_SD * float(np.median(np.abs(residuals - centre)))
    if not spread > 1e-9:
        spread = float(np.std(residuals)) or 1.0
    return centre, spread


def calibrate(network: Any, prepared_features: list[np.ndarray], splits: list[int], lookback: int) -> dict[str, Any]:
    """Fit each series' residual centre and spread and the shared threshold on validation data.

    Args:
        prepared_features: per series `(n_steps, n_features)` scaled.
        splits: per series the index of the first validation step.

    Returns:
        JSON-safe ``{"series": [{"centre", "spread"}, …], "threshold": float}``.
    """
    expected = one_step_expectations(network, prepared_features, lookback, splits)
    per_series, scores = [], []
    for features, split, exp in zip(prepared_features, splits, expected):
        residuals = features[split:, 0] - exp
        centre, spread = _robust_centre_spread(residuals)
        per_series.append({"centre": centre, "spread": spread})
        scores.append(np.abs(residuals - centre) / spread)
    pooled = np.concatenate(scores)
    threshold = max(MIN_THRESHOLD, THRESHOLD_MARGIN * float(np.quantile(pooled, 0.99)))
    return {"series": per_series, "threshold": threshold}


@dataclass
class AnomalyResult:
    """Scored points and the threshold used.

    Attributes:
        frame: columns ``series, timestamp, value, expected, residual, score, is_anomaly``.
        threshold: score at or above which a point is flagged.
    """

    frame: Any
    threshold: float

    @property
    def n_flagged(self) -> int:
        return int(self.frame["is_anomaly"].sum())

    def strongest(self, n: int = 5):
        flagged = self.frame[self.frame["is_anomaly"] == 1]
        return flagged.nlargest(n, "score")


def detect_anomalies(
    model_dir: str | os.PathLike = "forecaster-model",
    data_path: str | os.PathLike | None = None,
    threshold: float | None = None,
    reporter: Reporter = QUIET,
) -> AnomalyResult:
    """Score every point that has ``lookback`` points of history and flag the unusual ones.

    Args:
        data_path: data to score, read with the training options; None scores the data the
            model was trained on.
        threshold: flag scores at or above this; None uses the threshold calibrated at training.

    Returns:
        An :class:`AnomalyResult`. Points whose value was missing in the data are not scored
        and never flagged.
    """
    import pandas as pd

    from .artifacts import load_artifact
    from .forecasting import series_inputs

    if threshold is not None and not threshold >= 0:
        raise ConfigError(f"--threshold must be 0 or more, got {threshold}")
    artifact = load_artifact(model_dir)
    metadata = artifact.metadata
    lookback = metadata["network"]["lookback"]
    threshold = float(metadata["anomaly_threshold"] if threshold is None else threshold)
    inputs = series_inputs(artifact, data_path, reporter, full_history=True)
    scaled = [item.scaler.transform(item.raw) for item in inputs]
    expected = one_step_expectations(artifact.network, scaled, lookback, [lookback] * len(inputs))

    frames = []
    for item, features, exp in zip(inputs, scaled, expected):
        scaler = item.scaler
        calibration = item.meta["anomaly"]
        observed = ~item.missing[lookback:]
        residual_scaled = features[lookback:, 0] - exp
        score = np.where(observed, np.abs(residual_scaled - calibration["centre"]) / calibration["spread"], np.nan)
        expected_values = scaler.target_to_original(exp)
        values = np.where(observed, item.raw[lookback:, 0], np.nan)
        frames.append(
            pd.DataFrame(
                {
                    "series": item.meta["name"],
                    "timestamp": item.index[lookback:],
                    "value": values,
                    "expected": expected_values,
                    "residual": values - expected_values,
                    "score": score,
                    "is_anomaly": (np.nan_to_num(score, nan=0.0) >= threshold).astype(np.int8),
                }
            )
        )
    return AnomalyResult(frame=pd.concat(frames, ignore_index=True), threshold=threshold)
