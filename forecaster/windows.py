"""Chronological train/validation split and sliding windows over one series.

A window ending before step ``t`` holds the inputs ``t - lookback … t - 1`` and the targets
``t … t + horizon - 1``. Training windows have inputs *and* targets before the split;
validation windows have their targets after it (their inputs may reach back into the training
part, which is the past and so no leak).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

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


def window_spans(n_steps: int, lookback: int, horizon: int, split: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The ``(first, last)`` first-target steps of a series' training and of its validation
    windows (see :func:`supervised_windows`), for a split at step ``split``."""
    return (lookback, split - horizon), (split, n_steps - horizon)


def train_validation_windows(
    features: np.ndarray, target: np.ndarray, lookback: int, horizon: int, val_fraction: float
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Training and validation windows of one series, split by time."""
    split = split_point(len(target), horizon, val_fraction)
    train_span, val_span = window_spans(len(target), lookback, horizon, split)
    train = supervised_windows(features, target, lookback, horizon, *train_span)
    val = supervised_windows(features, target, lookback, horizon, *val_span)
    return train, val


#: What a window's target channel is expressed relative to: its mean, or its last value.
WINDOW_LEVELS = ("mean", "last")


def window_level(inputs: np.ndarray, level: str) -> np.ndarray:
    """The level each window is expressed relative to: the mean or the last value of its
    target channel.

    Subtracting it lets one network serve series and stretches at any level, and lets it
    follow a trend past the range seen in training. Which one matters where the model is
    pulled towards forecasting the level (a penalty, few windows): from the mean its
    forecasts lag the latest values, from the last value they lean towards the naive one.

    Args:
        inputs: `(n_windows, lookback, n_features)`, target in channel 0.
        level: one of :data:`WINDOW_LEVELS`.

    Returns:
        `(n_windows,)`.
    """
    if level == "mean":
        return inputs[:, :, 0].mean(axis=1)
    if level == "last":
        return np.array(inputs[:, -1, 0])
    raise ValueError(f"window level must be one of {', '.join(WINDOW_LEVELS)}, not {level!r}")


def relative_to_level(inputs: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Copy of ``inputs`` with ``level`` subtracted from the target channel."""
    shifted = np.array(inputs, dtype=np.float32, copy=True)
    shifted[:, :, 0] -= level[:, None]
    return shifted


def relative_inputs(inputs: np.ndarray, targets: np.ndarray | None = None, *,
                    level: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Express windows relative to their level, as the models see them.

    Args:
        inputs: `(n_windows, lookback, n_features)` scaled.
        targets: `(n_windows, horizon)` scaled, or None.
        level: one of :data:`WINDOW_LEVELS`.

    Returns:
        shifted inputs `(n_windows, lookback, n_features)` float32 and shifted targets
        `(n_windows, horizon)` float32 (None when no targets were given).
    """
    levels = window_level(inputs, level)
    shifted_targets = None if targets is None else (targets - levels[:, None]).astype(np.float32)
    return relative_to_level(inputs, levels), shifted_targets


class WindowSet:
    """Supervised windows of many series, gathered a batch at a time instead of copied whole.

    Every window of every series, copied, takes ``lookback + horizon`` times the memory of
    the data itself (gigabytes for a few million rows); here the series' steps lie end to
    end in one array and a window is only the row of its first input step, so the set costs
    the data plus one integer per window, and a batch costs a batch.

    Args:
        features: `(n_steps_total, n_features)` scaled steps of all series end to end, target
            in channel 0.
        starts: `(n_windows,)` row in ``features`` of each window's first input step.
        level: what :meth:`gather` expresses windows relative to (see :func:`window_level`).
        weights: `(n_windows,)` how much each window counts in the training loss; None: alike.
    """

    def __init__(self, features: np.ndarray, starts: np.ndarray, lookback: int, horizon: int, *, level: str,
                 weights: np.ndarray | None = None) -> None:
        if level not in WINDOW_LEVELS:
            raise ValueError(f"window level must be one of {', '.join(WINDOW_LEVELS)}, not {level!r}")
        self.features = features
        self.starts = np.asarray(starts, dtype=np.int64)
        if weights is not None and len(weights) != len(self.starts):
            raise ValueError(f"{len(weights)} weights for {len(self.starts)} windows")
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float32)
        self.lookback = lookback
        self.horizon = horizon
        self.level = level
        self._inputs = sliding_window_view(features, lookback, axis=0)  # (n, n_features, lookback) view
        self._targets = sliding_window_view(features[:, 0], horizon)  # (n, horizon) view

    @classmethod
    def from_series(
        cls, features: Sequence[np.ndarray], spans: Sequence[Sequence[tuple[int, int]]], lookback: int, horizon: int,
        *, level: str, series_weights: Sequence[float] | None = None,
    ) -> tuple[WindowSet, ...]:
        """Window sets over the same series, sharing one copy of their steps.

        Args:
            features: each series' `(n_steps, n_features)` scaled steps.
            spans: for each set, each series' ``(first, last)`` range of first-target steps
                (as in :func:`supervised_windows`; empty when ``last < first``).
            series_weights: each series' weight, given to every window of it; None: none.

        Returns:
            one set per entry of ``spans``.
        """
        offsets = np.cumsum([0] + [len(f) for f in features])
        joined = np.concatenate(features) if len(features) else np.empty((0, 1), dtype=np.float32)
        sets = []
        for spans_of_set in spans:
            counts = [max(last - first + 1, 0) for first, last in spans_of_set]
            rows = np.concatenate([np.arange(first - lookback, first - lookback + n) + offset
                                   for (first, _), n, offset in zip(spans_of_set, counts, offsets)] or
                                  [np.empty(0, dtype=np.int64)])
            weights = None if series_weights is None else np.repeat(np.asarray(series_weights, np.float32), counts)
            sets.append(cls(joined, rows, lookback, horizon, level=level, weights=weights))
        return tuple(sets)

    def __len__(self) -> int:
        return len(self.starts)

    def joined(self, other: WindowSet) -> WindowSet:
        """The windows of this set, then those of ``other``, a set over the same steps (as
        :meth:`from_series` makes them)."""
        if other.features is not self.features:
            raise ValueError("window sets over different steps cannot be joined")
        if other.level != self.level:
            raise ValueError("window sets relative to different levels cannot be joined")
        if (self.weights is None) != (other.weights is None):
            raise ValueError("a weighted and an unweighted window set cannot be joined")
        weights = None if self.weights is None else np.concatenate([self.weights, other.weights])
        return WindowSet(self.features, np.concatenate([self.starts, other.starts]), self.lookback, self.horizon,
                         level=self.level, weights=weights)

    def relative_to(self, level: str) -> WindowSet:
        """The same windows, expressed relative to ``level`` (sharing the steps and weights)."""
        return WindowSet(self.features, self.starts, self.lookback, self.horizon, level=level, weights=self.weights)

    @property
    def n_features(self) -> int:
        return self.features.shape[1]

    def gather(self, positions: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        """Windows at ``positions`` of this set, relative to their level (as the models see them).

        Returns:
            inputs `(n, lookback, n_features)` float32 and targets `(n, horizon)` float32.
        """
        rows = self.starts[positions]
        inputs = np.ascontiguousarray(self._inputs[rows].transpose(0, 2, 1))
        shifted, targets = relative_inputs(inputs, self._targets[rows + self.lookback], level=self.level)
        assert targets is not None
        return shifted, targets

    def chunks(self, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every window in order, ``size`` at a time, as :meth:`gather` gives them."""
        for begin in range(0, len(self), size):
            yield self.gather(slice(begin, begin + size))
