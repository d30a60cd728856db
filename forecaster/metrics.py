"""Forecast error measures: pure functions of arrays of equal shape, NaN pairs ignored."""

from __future__ import annotations

import numpy as np


def _pairs(actual: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    actual = np.asarray(actual, dtype=np.float64).ravel()
    predicted = np.asarray(predicted, dtype=np.float64).ravel()
    keep = np.isfinite(actual) & np.isfinite(predicted)
    return actual[keep], predicted[keep]


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute error; NaN when no pair is finite."""
    from sklearn.metrics import mean_absolute_error

    a, p = _pairs(actual, predicted)
    return float(mean_absolute_error(a, p)) if a.size else float("nan")


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error; NaN when no pair is finite."""
    from sklearn.metrics import mean_squared_error

    a, p = _pairs(actual, predicted)
    return float(np.sqrt(mean_squared_error(a, p))) if a.size else float("nan")


def error_summary(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {"mae": mae(actual, predicted), "rmse": rmse(actual, predicted)}
