"""Chronological train/validation split and sliding windows over one series.

A window ending before step ``t`` holds the inputs ``t - lookback … t - 1`` and the targets
``t … t + horizon - 1``. Training windows have inputs *and* targets before the split;
validation windows have their targets after it (their inputs may reach back into the training
part, which is the past and so no leak).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def validation_length(n_steps: int, horizon: int, val_fraction: float) -> int:
    """Steps at the end of a series held out for validation: at least one horizon."""
    return max(horizon, int(round(n_steps * val_fraction)))


def split_point(n_steps: int, horizon: int, val_fraction: float) -> int:
    """Index of the first validation step."""
    return n_steps - validation_length(n_steps, horizon, val_fraction)


def min_length(lookback: int, horizon: int, val_fraction: float) -> int:
    """Fewest steps a series needs for one training window and one validation window."""
    n = lookback + 2 * horizon
    while split_point(n, horizon, val_fraction) < lookback + horizon:
        n += 1
    return n


def max_lookback(n_steps: int, horizon: int, val_fraction: float) -> int:
    """Longest lookback that still leaves one training window in a series of ``n_steps``."""
    return split_point(n_steps, horizon, val_fraction) - horizon


def input_windows(features: np.ndarray, lookback: int) -> np.ndarray:
    """Every input window of a series, as a read-only view.

    Args:
        features: `(n_steps, n_features)`.

    Returns:
        `(n_steps - lookback + 1, lookback, n_features)`; window ``i`` covers steps
        ``i … i + lookback - 1`` and so precedes step ``i + lookback``.
    """
    return sliding_window_view(features, lookback, axis=0).transpose(0, 2, 1)


def supervised_windows(
    features: np.ndarray, target: np.ndarray, lookback: int, horizon: int, first: int, last: int
) -> tuple[np.ndarray, np.ndarray]:
    """Windows whose first target step lies in ``[first, last]``.

    Args:
        features: `(n_steps, n_features)` scaled inputs.
        target: `(n_steps,)` scaled target.
        first: earliest first-target step (``>= lookback``).
        last: latest first-target step (``<= n_steps - horizon``).

    Returns:
        inputs `(n_windows, lookback, n_features)` and targets `(n_windows, horizon)`.
    """
    if last < first:
        return (
            np.empty((0, lookback, features.shape[1]), dtype=features.dtype),
            np.empty((0, horizon), dtype=target.dtype),
        )
    inputs = input_windows(features, lookback)[first - lookback : last - lookback + 1]
    targets = sliding_window_view(target, horizon)[first : last + 1]
    return inputs, targets


def train_validation_windows(
    features: np.ndarray, target: np.ndarray, lookback: int, horizon: int, val_fraction: float
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Training and validation windows of one series, split by time."""
    n_steps = len(target)
    split = split_point(n_steps, horizon, val_fraction)
    train = supervised_windows(features, target, lookback, horizon, lookback, split - horizon)
    val = supervised_windows(features, target, lookback, horizon, split, n_steps - horizon)
    return train, val


def window_level(inputs: np.ndarray) -> np.ndarray:
    """The level each window is expressed relative to: the mean of its target channel.

    Subtracting it lets one network serve series and stretches at any level, and lets it
    follow a trend past the range seen in training.

    Args:
        inputs: `(n_windows, lookback, n_features)`, target in channel 0.

    Returns:
        `(n_windows,)`.
    """
    return inputs[:, :, 0].mean(axis=1)


def relative_to_level(inputs: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Copy of ``inputs`` with ``level`` subtracted from the target channel."""
    shifted = np.array(inputs, dtype=np.float32, copy=True)
    shifted[:, :, 0] -= level[:, None]
    return shifted
