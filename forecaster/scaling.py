"""Per-series standard scaling, fitted on the training part of each series only, after an
optional log of the target."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: What ``--target-transform`` may be: chosen by training, the target as it is, or its natural logarithm.
TARGET_TRANSFORMS = ("auto", "none", "log")

#: Where a value at or below 0 given to a model of the logarithm is read, in scaled units: five
#: standard deviations of the training part below its mean, so that it forecasts on from there
#: and scores as the outlier it is, instead of stopping the run on the one value that has no
#: logarithm (a count that drops to 0 in an outage is what detection is there to flag).
NONPOSITIVE_SCALED = -5.0


@dataclass(frozen=True)
class SeriesScaler:
    """Mean and scale of each feature of one series (target first, then covariates).

    With ``log_target`` the target is modelled as its logarithm: series whose swings grow
    with their level (sales, traffic, most counts) then have swings of one size, errors
    become relative, and forecasts and interval bounds come back positive.

    Attributes:
        mean: `(n_features,)`, of the target's logarithm with ``log_target``.
        scale: `(n_features,)`, never zero.
        log_target: the target channel is the logarithm of the data's values.
    """

    mean: np.ndarray
    scale: np.ndarray
    log_target: bool = False

    @classmethod
    def fit(cls, features: np.ndarray, log_target: bool = False) -> SeriesScaler:
        """Fit on `(n_steps, n_features)` values: pass the training part only."""
        from sklearn.preprocessing import StandardScaler

        fitted = StandardScaler().fit(_logged(features, log_target))
        return cls(mean=fitted.mean_.astype(np.float64), scale=fitted.scale_.astype(np.float64),
                   log_target=log_target)

    def transform(self, features: np.ndarray) -> np.ndarray:
        """`(n_steps, n_features)` -> the same shape, float32."""
        if self.log_target:
            features = np.array(features, dtype=np.float64, copy=True)
            features[:, 0] = np.log(self._loggable(features[:, 0]))
        return ((features - self.mean) / self.scale).astype(np.float32)

    def target_to_scaled(self, values: np.ndarray) -> np.ndarray:
        """Target values (any shape) from the data's units to scaled units, float64."""
        values = np.asarray(values, dtype=np.float64)
        if self.log_target:
            values = np.log(self._loggable(values))  # NaN stays NaN: unknown
        return (values - self.mean[0]) / self.scale[0]

    @property
    def log_spread(self) -> float | None:
        """With ``log_target``, the standard deviation of the training part's logarithm; else None."""
        return float(self.scale[0]) if self.log_target else None

    @property
    def nonpositive_reading(self) -> float:
        """With ``log_target``, the value in the data's units that values at or below 0 are read as
        (see ``NONPOSITIVE_SCALED``)."""
        return float(np.exp(self.mean[0] + NONPOSITIVE_SCALED * self.scale[0]))

    def _loggable(self, target: np.ndarray) -> np.ndarray:
        return np.where(target > 0, target, np.where(np.isnan(target), np.nan, self.nonpositive_reading))

    def target_to_original(self, scaled: np.ndarray) -> np.ndarray:
        """Target values (any shape) from scaled units back to the data's units."""
        values = np.asarray(scaled, dtype=np.float64) * self.scale[0] + self.mean[0]
        return np.exp(values) if self.log_target else values

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "log_target": self.log_target}

    @classmethod
    def from_dict(cls, data: dict) -> SeriesScaler:
        return cls(mean=np.asarray(data["mean"], dtype=np.float64), scale=np.asarray(data["scale"], dtype=np.float64),
                   log_target=bool(data.get("log_target", False)))  # models from before the option: False


def nonpositive_target(shown: str, series) -> str | None:
    """Where a series' target has values at or below 0, which have no logarithm, for a message:
    the file, the column, the series, the first such value and its time, and how many more.
    None when every value is above 0.

    Args:
        shown: the file as messages name it.
        series: a :class:`forecaster.data.Series`.
    """
    from .data import time_text

    bad = np.flatnonzero(np.asarray(series.values) <= 0)
    if not len(bad):
        return None
    where = "" if series.name == series.target else f" (series '{series.name}')"
    more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
    return (f"{shown}: column '{series.target}'{where} is {series.values[bad[0]]:g} at "
            f"{time_text(series.index[bad[0]])}{more}")


def require_positive_target(shown: str, series) -> None:
    """Refuse to train with ``--target-transform log`` on a series with a value at or below 0.

    Raises:
        DataError: naming the file, the column, the series and the first such timestamp.
    """
    from .errors import DataError

    found = nonpositive_target(shown, series)
    if found:
        raise DataError(f"{found}; --target-transform log needs every value above 0: leave the option out, "
                        "or shift the values up")


def _logged(features: np.ndarray, log_target: bool) -> np.ndarray:
    if not log_target:
        return features
    logged = np.array(features, dtype=np.float64, copy=True)
    logged[:, 0] = np.log(logged[:, 0])
    return logged
