"""Per-series standard scaling, fitted on the training part of each series only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SeriesScaler:
    """Mean and scale of each feature of one series (target first, then covariates).

    Attributes:
        mean: `(n_features,)`.
        scale: `(n_features,)`, never zero.
    """

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray) -> SeriesScaler:
        """Fit on `(n_steps, n_features)` values: pass the training part only."""
        from sklearn.preprocessing import StandardScaler

        fitted = StandardScaler().fit(features)
        return cls(mean=fitted.mean_.astype(np.float64), scale=fitted.scale_.astype(np.float64))

    def transform(self, features: np.ndarray) -> np.ndarray:
        """`(n_steps, n_features)` -> the same shape, float32."""
        return ((features - self.mean) / self.scale).astype(np.float32)

    def target_to_original(self, scaled: np.ndarray) -> np.ndarray:
        """Target values (any shape) from scaled units back to the data's units."""
        return np.asarray(scaled, dtype=np.float64) * self.scale[0] + self.mean[0]

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> SeriesScaler:
        return cls(mean=np.asarray(data["mean"], dtype=np.float64), scale=np.asarray(data["scale"], dtype=np.float64))
