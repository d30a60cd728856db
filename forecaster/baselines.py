"""Forecasts that any model must beat, usable as models in their own right.

The predictors here work like a Keras model where the rest of the code needs one: they take
windows relative to their level, `(n_windows, lookback, n_features)` with the target in
channel 0 (see :func:`forecaster.forecasting.relative_inputs`), and return
`(n_windows, horizon)` in the same units. So training, forecasting, intervals, anomaly
scoring and backtests run the same way whichever model was chosen.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

#: Ridge penalties tried on the validation windows; the data is scaled, so one grid serves all.
RIDGE_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4)


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


class _WindowPredictor:
    """What the code needs of a model: ``predict``, ``output_shape`` and ``save``."""

    def __init__(self, lookback: int, horizon: int) -> None:
        self.lookback = lookback
        self.horizon = horizon

    @property
    def output_shape(self) -> tuple[None, int]:
        return (None, self.horizon)

    def predict(self, windows: np.ndarray, batch_size: int | None = None, verbose: int = 0) -> np.ndarray:
        """`(n_windows, lookback, n_features)` -> `(n_windows, horizon)` float32."""
        raise NotImplementedError

    def save(self, path: str | os.PathLike) -> None:
        """Baselines without parameters write nothing."""


class SeasonalNaive(_WindowPredictor):
    """The last season of the window, repeated; ``season=1`` is the naive last value.

    Args:
        season: seasonal period in steps, at most ``lookback``.
    """

    def __init__(self, lookback: int, horizon: int, season: int = 1) -> None:
        super().__init__(lookback, horizon)
        if not 1 <= season <= lookback:
            raise ValueError(f"season {season} must be between 1 and the lookback {lookback}")
        self.season = season

    def predict(self, windows: np.ndarray, batch_size: int | None = None, verbose: int = 0) -> np.ndarray:
        source = self.lookback - self.season + np.arange(self.horizon) % self.season
        return np.asarray(windows[:, source, 0], dtype=np.float32)


class LinearAutoregression(_WindowPredictor):
    """Ridge regression from the whole window to every horizon step (the "DLinear-style" model).

    Args:
        coef: `(lookback * n_features, horizon)`.
        intercept: `(horizon,)`.
        alpha: the ridge penalty it was fitted with.
    """

    def __init__(self, lookback: int, horizon: int, coef: np.ndarray, intercept: np.ndarray, alpha: float) -> None:
        super().__init__(lookback, horizon)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.alpha = float(alpha)

    @classmethod
    def fit(
        cls, train: tuple[np.ndarray, np.ndarray], validation: tuple[np.ndarray, np.ndarray]
    ) -> LinearAutoregression:
        """Fit on training windows, choosing the penalty by validation error.

        Args:
            train: relative windows `(n_windows, lookback, n_features)` and targets `(n_windows, horizon)`.
            validation: the same for the validation part; may be empty, then alpha is 1.
        """
        from sklearn.linear_model import Ridge

        (x_train, y_train), (x_val, y_val) = train, validation
        _, lookback, _ = x_train.shape
        flat_train = x_train.reshape(len(x_train), -1)
        best: tuple[float, Any, float] | None = None
        for alpha in RIDGE_ALPHAS if len(x_val) else (1.0,):
            with warnings.catch_warnings():
                # calendar channels repeat across a window, so the design is rank-deficient;
                # the penalty is what makes the solution unique, as intended
                warnings.simplefilter("ignore")
                ridge = Ridge(alpha=alpha).fit(flat_train, y_train)
            if len(x_val):
                # one target column comes back as (n,): keep it (n, 1), or it broadcasts to (n, n)
                predicted = np.asarray(ridge.predict(x_val.reshape(len(x_val), -1))).reshape(y_val.shape)
                error = float(np.mean((predicted - y_val) ** 2))
            else:
                error = 0.0
            if best is None or error < best[0]:
                best = (error, ridge, alpha)
        assert best is not None
        _, ridge, alpha = best
        horizon = y_train.shape[1]
        # scikit-learn drops the target axis when there is a single target
        coef = np.asarray(ridge.coef_).reshape(horizon, -1).T
        return cls(lookback, horizon, coef, np.asarray(ridge.intercept_).reshape(horizon), alpha)

    def predict(self, windows: np.ndarray, batch_size: int | None = None, verbose: int = 0) -> np.ndarray:
        flat = np.asarray(windows, dtype=np.float64).reshape(len(windows), -1)
        return (flat @ self.coef + self.intercept).astype(np.float32)

    def save(self, path: str | os.PathLike) -> None:
        with open(path, "wb") as handle:
            np.savez(handle, coef=self.coef, intercept=self.intercept, alpha=np.float64(self.alpha))

    @classmethod
    def load(cls, path: str | os.PathLike, lookback: int, horizon: int) -> LinearAutoregression:
        with np.load(path, allow_pickle=False) as stored:
            return cls(lookback, horizon, stored["coef"], stored["intercept"], float(stored["alpha"]))
