"""Forecasts that any model must beat."""

from __future__ import annotations

import numpy as np


def seasonal_naive(history: np.ndarray, starts: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Repeat the last observed season: the forecast for step ``t`` is the value ``season`` steps
    (or a multiple) before it, using only values before the forecast start.

    Args:
        history: `(n_steps,)` the whole series.
        starts: `(n_windows,)` index of each window's first forecast step.
        horizon: steps to forecast.
        season: seasonal period in steps (1 gives the naive last-value forecast).

    Returns:
        `(n_windows, horizon)`; NaN where the series has no value a season back.
    """
    steps = np.arange(horizon)
    lags = season * (steps // season + 1)
    source = starts[:, None] + steps[None, :] - lags[None, :]
    forecasts = np.full(source.shape, np.nan)
    valid = source >= 0
    forecasts[valid] = history[source[valid]]
    return forecasts
