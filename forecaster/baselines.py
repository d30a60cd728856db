"""Forecasts that any model must beat, usable as models in their own right.

The predictors here work like a Keras model where the rest of the code needs one: they take
windows relative to their level, `(n_windows, lookback, n_features)` with the target in
channel 0 (see :func:`forecaster.forecasting.relative_inputs`), and return
`(n_windows, horizon)` in the same units. So training, forecasting, intervals, anomaly
scoring and backtests run the same way whichever model was chosen.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

import numpy as np

if TYPE_CHECKING:
    from .windows import WindowSet

#: Ridge penalties tried on the validation windows; the data is scaled, so one grid serves all.
RIDGE_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4)
#: Windows per chunk when summing the normal equations: a few megabytes at a time.
CHUNK_WINDOWS = 8192
#: Relative windows and their targets: a pair of arrays, or a set that gathers them in chunks.
Windows = Union["WindowSet", tuple[np.ndarray, np.ndarray]]


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

    def repeated(self, history: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """The forecasts in the data's units, copied from ``history`` (`(n_steps,)`) itself for
        windows whose first forecast step is at each of ``starts`` (`(n_windows,)`), so that
        last week's 7.52 is forecast as 7.52, not as that value scaled to float32 and back.

        Returns:
            `(n_windows, horizon)`.
        """
        return seasonal_naive(history, starts, self.horizon, self.season)


class LinearAutoregression(_WindowPredictor):
    """Ridge regression from the whole window to every horizon step (the "DLinear-style" model).

    Args:
        coef: `(lookback * n_features, horizon)`.
        intercept: `(horizon,)`.
        alpha: the ridge penalty it was fitted with.
        validation_mse: its mean squared error over every step of the validation windows it
            chose ``alpha`` on (NaN when it was not fitted by :meth:`fit` on any).
    """

    def __init__(self, lookback: int, horizon: int, coef: np.ndarray, intercept: np.ndarray, alpha: float,
                 validation_mse: float = math.nan) -> None:
        super().__init__(lookback, horizon)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.alpha = float(alpha)
        self.validation_mse = float(validation_mse)

    @classmethod
    def fit(cls, train: Windows, validation: Windows) -> LinearAutoregression:
        """Fit on training windows, choosing the penalty by validation error.

        The solution is scikit-learn's ``Ridge`` (intercept unpenalised), computed from the
        normal equations summed a chunk of windows at a time, so that millions of windows
        never sit in memory at once and the data is read once for every penalty.

        Args:
            train: relative windows `(n_windows, lookback, n_features)` and targets
                `(n_windows, horizon)`, as a pair of arrays or a
                :class:`forecaster.windows.WindowSet`.
            validation: the same for the validation part; may be empty, then alpha is 1.
        """
        return cls.fit_choosing_channels(train, validation, [None])[0]

    @classmethod
    def fit_choosing_channels(cls, train: Windows, validation: Windows,
                              channel_sets: Sequence[Sequence[int] | None]) -> tuple[LinearAutoregression, int]:
        """Fit on each set of input channels and keep the one with the lowest validation error.

        One pass over the data serves every set: the normal equations of a subset of the
        channels are a block of those of all of them.

        Args:
            train, validation: as in :meth:`fit`.
            channel_sets: channel indices the model may see (``None``: all); the first of
                equally good sets wins.

        Returns:
            The model fitted on the best set (its inputs are windows of those channels only,
            `(n_windows, lookback, len(set))`) and that set's position in ``channel_sets``.
        """
        normal = _NormalEquations.accumulate(_chunks(train))
        n_features = len(normal.shift_x) // normal.lookback
        sets = [np.arange(n_features) if c is None else np.asarray(c, dtype=int) for c in channel_sets]
        alphas = RIDGE_ALPHAS if _count(validation) else (1.0,)
        solutions = [[normal.restrict(channels).solve(alpha) for alpha in alphas] for channels in sets]
        errors = np.zeros((len(sets), len(alphas)))
        for x_val, y_val in _chunks(validation):
            for k, channels in enumerate(sets):
                flat = x_val[:, :, channels].reshape(len(x_val), -1).astype(np.float64)
                for i, (coef, intercept) in enumerate(solutions[k]):
                    errors[k, i] += np.sum((flat @ coef + intercept - y_val) ** 2)
        # the first of equals: the earliest set, then the smallest penalty
        best_set, best_alpha = np.unravel_index(int(np.argmin(errors)), errors.shape)
        coef, intercept = solutions[best_set][best_alpha]
        n_targets = _count(validation) * normal.horizon
        mse = errors[best_set, best_alpha] / n_targets if n_targets else math.nan
        return cls(normal.lookback, normal.horizon, coef, intercept, alphas[best_alpha], mse), int(best_set)

    def refitted(self, windows: Windows) -> LinearAutoregression:
        """The same model, its penalty kept, fitted again on ``windows`` (as in :meth:`fit`,
        of the channels it sees)."""
        coef, intercept = _NormalEquations.accumulate(_chunks(windows)).solve(self.alpha)
        return type(self)(self.lookback, self.horizon, coef, intercept, self.alpha)

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


def _chunks(windows: Windows) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    if isinstance(windows, tuple):
        inputs, targets = windows
        for begin in range(0, len(inputs), CHUNK_WINDOWS):
            yield inputs[begin : begin + CHUNK_WINDOWS], targets[begin : begin + CHUNK_WINDOWS]
    else:
        yield from windows.chunks(CHUNK_WINDOWS)


def _count(windows: Windows) -> int:
    return len(windows[0]) if isinstance(windows, tuple) else len(windows)


@dataclass
class _NormalEquations:
    """Sums of a least-squares problem over windows: enough to solve the ridge problem for any
    penalty. Sums are taken around the first chunk's means (``shift``), which keeps the
    centring below exact in float64 however large the means are."""

    lookback: int
    horizon: int
    n: int
    shift_x: np.ndarray  # (n_inputs,)
    shift_y: np.ndarray  # (horizon,)
    sum_x: np.ndarray  # (n_inputs,)
    sum_y: np.ndarray  # (horizon,)
    xx: np.ndarray  # (n_inputs, n_inputs)
    xy: np.ndarray  # (n_inputs, horizon)

    @classmethod
    def accumulate(cls, chunks: Iterator[tuple[np.ndarray, np.ndarray]]) -> _NormalEquations:
        sums: _NormalEquations | None = None
        for inputs, targets in chunks:
            flat = inputs.reshape(len(inputs), -1).astype(np.float64)
            targets = np.asarray(targets, dtype=np.float64).reshape(len(targets), -1)
            if sums is None:
                n_inputs, horizon = flat.shape[1], targets.shape[1]
                sums = cls(inputs.shape[1], horizon, 0, flat.mean(axis=0), targets.mean(axis=0),
                           np.zeros(n_inputs), np.zeros(horizon), np.zeros((n_inputs, n_inputs)),
                           np.zeros((n_inputs, horizon)))
            flat -= sums.shift_x
            targets = targets - sums.shift_y
            sums.n += len(flat)
            sums.sum_x += flat.sum(axis=0)
            sums.sum_y += targets.sum(axis=0)
            sums.xx += flat.T @ flat
            sums.xy += flat.T @ targets
        if sums is None:
            raise ValueError("no training windows to fit the linear model on")
        return sums

    def restrict(self, channels: np.ndarray) -> _NormalEquations:
        """The sums of the problem that sees only ``channels`` of each window's steps."""
        n_features = len(self.shift_x) // self.lookback
        if np.array_equal(channels, np.arange(n_features)):
            return self
        columns = (np.arange(self.lookback)[:, None] * n_features + channels[None, :]).ravel()
        return _NormalEquations(self.lookback, self.horizon, self.n, self.shift_x[columns], self.shift_y,
                                self.sum_x[columns], self.sum_y, self.xx[np.ix_(columns, columns)],
                                self.xy[columns])

    def solve(self, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients `(n_inputs, horizon)` and intercept `(horizon,)` of ridge with ``alpha``."""
        mean_x, mean_y = self.sum_x / self.n, self.sum_y / self.n
        centred_xx = self.xx - self.n * np.outer(mean_x, mean_x)
        centred_xy = self.xy - self.n * np.outer(mean_x, mean_y)
        penalised = centred_xx + alpha * np.eye(len(centred_xx))
        # calendar channels repeat across a window, so the design alone is rank-deficient; the
        # penalty makes the system positive definite, as intended
        coef = np.linalg.solve(penalised, centred_xy)
        intercept = mean_y + self.shift_y - (mean_x + self.shift_x) @ coef
        return coef, intercept
