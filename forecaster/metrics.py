"""Forecast error measures: pure functions of arrays, NaN pairs ignored.

Point errors (``mae``, ``rmse``, ``smape``, ``mase``) compare ``actual`` with ``predicted`` of
equal shape, usually `(n_windows, horizon)` or `(horizon,)`, and pool every cell where both
values are finite. Interval measures (``interval_coverage``, ``mean_interval_width``) do the
same with ``lower`` and ``upper`` bounds. ``per_step`` applies any of them to each horizon step.

sMAPE, MASE and OWA follow the M4 competition (Makridakis et al., IJF 2020): per series,

* ``sMAPE = 100/h · Σ 2·|Y_t − Ŷ_t| / (|Y_t| + |Ŷ_t|)`` (percent, 0 … 200);
* ``MASE = [1/h · Σ |Y_t − Ŷ_t|] / [1/(n−m) · Σ_{t>m} |y_t − y_{t−m}|]``, the scale being the
  in-sample MAE of the seasonal-naive forecast of the training series ``y`` (``seasonal_scale``);
* over a set of series each measure is the mean of the per-series values, and
  ``OWA = ½ · (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2)`` is formed from those set means.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def json_number(value):
    """A measure as JSON wants it: NaN and infinities (nothing to measure) become None,
    NumPy scalars plain Python numbers; anything else is returned unchanged."""
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


# MAE and RMSE are NumPy's mean rather than scikit-learn's mean_absolute_error and
# mean_squared_error: the same numbers to the last bit, without their input checks, which cost
# about 25 times the arithmetic per call. Training takes both for every series and method: on
# 1,000 series of 1,000 days, a training of two epochs took 27 to 28 s instead of 29 to 34.


def _pairs(actual: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    actual = np.asarray(actual, dtype=np.float64).ravel()
    predicted = np.asarray(predicted, dtype=np.float64).ravel()
    keep = np.isfinite(actual) & np.isfinite(predicted)
    return actual[keep], predicted[keep]


def _same_shape(**arrays: np.ndarray) -> dict[str, np.ndarray]:
    converted = {name: np.asarray(a, dtype=np.float64) for name, a in arrays.items()}
    shapes = {name: a.shape for name, a in converted.items()}
    if len(set(shapes.values())) > 1:
        described = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"arrays must have the same shape, got {described}")
    return converted


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute error; NaN when no pair is finite."""
    a, p = _pairs(actual, predicted)
    return float(np.mean(np.abs(a - p))) if a.size else float("nan")


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error; NaN when no pair is finite."""
    a, p = _pairs(actual, predicted)
    return float(np.sqrt(np.mean((a - p) ** 2))) if a.size else float("nan")


def error_summary(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """``{"mae": …, "rmse": …}`` of the finite pairs."""
    return {"mae": mae(actual, predicted), "rmse": rmse(actual, predicted)}


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Symmetric mean absolute percentage error, in percent (M4 definition).

    The mean over finite pairs of ``200 · |a − p| / (|a| + |p|)``. A pair with ``a = p = 0``
    contributes 0 (a perfect forecast of zero), so every term lies in ``[0, 200]``.

    Args:
        actual: observed values, any shape (for example `(n_windows, horizon)`).
        predicted: forecasts, same shape as ``actual``.

    Returns:
        sMAPE in percent; NaN when no pair is finite. Over several series of equal horizon
        this pooled value equals the mean of the per-series sMAPE, as in M4.
    """
    a, p = _pairs(*_same_shape(actual=actual, predicted=predicted).values())
    if not a.size:
        return float("nan")
    denominator = np.abs(a) + np.abs(p)
    terms = np.zeros_like(a)
    nonzero = denominator > 0
    terms[nonzero] = 200.0 * np.abs(a[nonzero] - p[nonzero]) / denominator[nonzero]
    return float(terms.mean())


def seasonal_scale(insample: np.ndarray, season: int) -> float:
    """Mean absolute seasonal difference of an in-sample series: the MASE denominator.

    ``1/(n − m) · Σ_{t=m+1..n} |y_t − y_{t−m}|``, the in-sample MAE of the seasonal-naive
    forecast (``season = 1`` gives the naive one). Differences that involve a NaN are skipped.

    Args:
        insample: `(n_steps,)` the training part of one series, in time order.
        season: seasonal period ``m`` in steps, at least 1 (24 for hourly data in M4).

    Returns:
        The scale, ``>= 0``. It is 0 for a series that repeats itself exactly every ``season``
        steps; no fallback to another season is made (M4's reference code has none either).

    Raises:
        ValueError: ``season < 1``, ``insample`` not 1-D, or no finite seasonal difference
            (the series is not longer than ``season`` or too sparse).
    """
    if int(season) != season or season < 1:
        raise ValueError(f"season must be a positive integer, got {season!r}")
    season = int(season)
    insample = np.asarray(insample, dtype=np.float64)
    if insample.ndim != 1:
        raise ValueError(f"insample must be one series of shape (n_steps,), got shape {insample.shape}")
    differences = np.abs(insample[season:] - insample[:-season])
    differences = differences[np.isfinite(differences)]
    if not differences.size:
        raise ValueError(
            f"in-sample series too short for season {season}: {insample.size} steps "
            f"({np.isfinite(insample).sum()} finite) give no finite difference y[t] - y[t-{season}]; "
            f"it needs more than {season} steps"
        )
    return float(differences.mean())


def _scaled(error: float, scale: float) -> float:
    """``error / scale`` with a zero scale giving inf (or NaN for ``0 / 0``) and no warning."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(error) / np.float64(scale))


def mase(actual: np.ndarray, predicted: np.ndarray, insample: np.ndarray, season: int) -> float:
    """Mean absolute scaled error of forecasts for one series (M4 definition).

    The MAE of the forecast over all finite pairs divided by ``seasonal_scale(insample, season)``.
    Several windows of the same series may be passed at once as `(n_windows, horizon)`; they
    share the one in-sample scale. For several *series*, compute MASE per series and average
    (or use ``forecast_summary`` with per-series ``insample_scale``).

    Args:
        actual: observed values, `(horizon,)` or `(n_windows, horizon)`.
        predicted: forecasts, same shape as ``actual``.
        insample: `(n_steps,)` the series' training values, before the forecast origin.
        season: seasonal period ``m`` of the scale (M4: 24 hourly, 12 monthly, 1 yearly).

    Returns:
        MASE; NaN when no pair is finite. If the in-sample series has a zero scale (it repeats
        exactly every ``season`` steps) the result is ``inf``, or NaN when the MAE is 0 too.

    Raises:
        ValueError: the in-sample series is too short for ``season`` (see ``seasonal_scale``),
            or ``actual`` and ``predicted`` differ in shape.
    """
    _same_shape(actual=actual, predicted=predicted)
    scale = seasonal_scale(insample, season)
    return _scaled(mae(actual, predicted), scale)


def owa(smape_model: float, mase_model: float, smape_naive2: float, mase_naive2: float) -> float:
    """Overall weighted average of M4: ``½ · (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2)``.

    Pass averages over the same set of series (M4 forms OWA from the set means, not per
    series). Naive2 itself scores 1; lower is better.

    Raises:
        ValueError: a Naive2 value is not a positive finite number.
    """
    for name, value in (("smape_naive2", smape_naive2), ("mase_naive2", mase_naive2)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return 0.5 * (float(smape_model) / float(smape_naive2) + float(mase_model) / float(mase_naive2))


def _bounds(lower: np.ndarray, upper: np.ndarray, **others: np.ndarray) -> dict[str, np.ndarray]:
    arrays = _same_shape(**others, lower=lower, upper=upper)
    lo, hi = arrays["lower"], arrays["upper"]
    with np.errstate(invalid="ignore"):
        crossed = lo > hi
    if crossed.any():
        raise ValueError(f"lower bound above upper bound in {int(crossed.sum())} of {lo.size} intervals")
    return arrays


def interval_coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actual values inside their interval ``[lower, upper]`` (bounds included).

    Only cells where the actual value and both bounds are finite count.

    Args:
        actual: observed values, any shape (for example `(n_windows, horizon)`).
        lower: lower bounds, same shape.
        upper: upper bounds, same shape.

    Returns:
        A share in ``[0, 1]``; NaN when no cell counts.

    Raises:
        ValueError: the shapes differ or some ``lower > upper``.
    """
    arrays = _bounds(lower, upper, actual=actual)
    a, lo, hi = (arrays[k].ravel() for k in ("actual", "lower", "upper"))
    keep = np.isfinite(a) & np.isfinite(lo) & np.isfinite(hi)
    if not keep.any():
        return float("nan")
    a, lo, hi = a[keep], lo[keep], hi[keep]
    return float(np.mean((a >= lo) & (a <= hi)))


def mean_interval_width(lower: np.ndarray, upper: np.ndarray) -> float:
    """Mean of ``upper − lower`` over cells where both bounds are finite; NaN when none are.

    Args:
        lower: lower bounds, any shape (for example `(n_windows, horizon)`).
        upper: upper bounds, same shape.

    Raises:
        ValueError: the shapes differ or some ``lower > upper``.
    """
    arrays = _bounds(lower, upper)
    lo, hi = _pairs(arrays["lower"], arrays["upper"])
    return float(np.mean(hi - lo)) if lo.size else float("nan")


def grouped_forecast_summary(rows, keys: list[str]):
    """:func:`forecast_summary` of each group of a long table of forecasts, in one pass.

    Calling :func:`forecast_summary` group by group costs about 0.6 ms a group in pandas,
    which for every series and method of 10,000 series is half a minute; here every measure
    is a column of per-row terms averaged by one ``groupby``, to the same values (up to
    float rounding in the order of summation).

    Args:
        rows: a DataFrame with columns ``actual``, ``forecast``, ``lower``, ``upper`` and
            ``scale`` (the MASE denominator of the row's series), and ``keys``.
        keys: the columns whose combinations are the groups, e.g. ``["model", "step"]``.

    Returns:
        a DataFrame: ``keys``, then ``mae``, ``rmse``, ``smape``, ``mase``, ``coverage``,
        ``width``; one row per group, in order of first appearance.

    Raises:
        ValueError: some ``lower > upper``.
    """
    import pandas as pd

    actual, forecast, lower, upper, scale = (rows[name].to_numpy(dtype=np.float64)
                                             for name in ("actual", "forecast", "lower", "upper", "scale"))
    if (lower > upper).any():
        raise ValueError("some lower bounds lie above their upper bounds")
    pair = np.isfinite(actual) & np.isfinite(forecast)
    bounds = np.isfinite(lower) & np.isfinite(upper)
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.where(pair, np.abs(actual - forecast), np.nan)
        denominator = np.abs(actual) + np.abs(forecast)
        # a series without seasonal differences (scale 0) is left out, as by mean_scaled_error
        scaled = np.where(scaled_by(scale), error / scale, np.nan)
        terms = pd.DataFrame({
            "mae": error,
            "rmse": error ** 2,
            "smape": np.where(denominator > 0, 200.0 * error / denominator, np.where(pair, 0.0, np.nan)),
            "mase": scaled,
            "coverage": np.where(bounds & np.isfinite(actual), (actual >= lower) & (actual <= upper), np.nan),
            # over the rows coverage is measured on: those whose actual is known
            "width": np.where(bounds & np.isfinite(actual), upper - lower, np.nan),
        })
    for key in keys:
        terms[key] = rows[key].to_numpy()
    grouped = terms.groupby(keys, sort=False)
    summary = grouped[["mae", "rmse", "smape", "mase", "coverage", "width"]].mean()
    summary["rmse"] = np.sqrt(summary["rmse"])
    return summary.reset_index()


def per_step(metric: Callable[..., float], *arrays: np.ndarray, **kwargs) -> np.ndarray:
    """A metric for each horizon step: ``metric`` applied to each column of the arrays.

    ``per_step(mae, actual, predicted)[j] == mae(actual[:, j], predicted[:, j])``. Positional
    arrays are sliced by column; keyword arguments are passed to every call unchanged, e.g.
    ``per_step(mase, actual, predicted, insample=train, season=24)`` or
    ``per_step(interval_coverage, actual, lower, upper)``.

    Args:
        metric: a function of 1-D arrays returning a float (``mae``, ``smape``, ``mase`` …).
        *arrays: each `(n_windows, horizon)`, all of the same shape.
        **kwargs: further arguments of ``metric``, not sliced.

    Returns:
        `(horizon,)` the metric per step (NaN where a step has no finite pair).

    Raises:
        ValueError: no array given, or the arrays are not 2-D of one shape.
    """
    if not arrays:
        raise ValueError("per_step needs at least one (n_windows, horizon) array")
    converted = _same_shape(**{f"array {i}": a for i, a in enumerate(arrays)})
    first = next(iter(converted.values()))
    if first.ndim != 2:
        raise ValueError(f"per_step needs (n_windows, horizon) arrays, got shape {first.shape}")
    columns = list(converted.values())
    return np.array([metric(*(c[:, j] for c in columns), **kwargs) for j in range(first.shape[1])], dtype=np.float64)


def mean_scaled_error(actual: np.ndarray, predicted: np.ndarray, scale: float | np.ndarray) -> float:
    """The mean of ``|actual - predicted| / scale`` over the finite pairs (MASE pooled as
    :func:`forecast_summary` pools it): ``scale`` a number, or one per row of a 2-D ``actual``.

    Rows whose scale is 0 or not finite (a series that repeated itself exactly every season
    before the forecasts: its errors are no number of scales) are left out, so that one such
    series does not make the pooled figure infinite or missing; NaN when no row is left.
    """
    scale = np.asarray(scale, dtype=np.float64)
    if scale.ndim == 1 and actual.ndim == 2 and scale.shape[0] == actual.shape[0]:
        scale = scale[:, None]
    elif scale.ndim != 0:
        raise ValueError(
            f"insample_scale must be a number or one per row, shape ({actual.shape[0]},), "
            f"for actual of shape {actual.shape}; got shape {scale.shape}"
        )
    scale = np.broadcast_to(scale, actual.shape)
    keep = np.isfinite(actual) & np.isfinite(predicted) & scaled_by(scale)
    if not keep.any():
        return float("nan")
    return float(np.mean(np.abs(actual[keep] - predicted[keep]) / scale[keep]))


def scaled_by(scale: np.ndarray) -> np.ndarray:
    """Where a MASE scale can scale errors: above 0 and finite."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(scale) & (scale > 0)


def forecast_summary(
    actual: np.ndarray,
    predicted: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    insample_scale: float | np.ndarray | None = None,
) -> dict[str, float]:
    """Point (and interval) accuracy of a set of forecasts in one dict.

    MASE is pooled as the mean of the scaled absolute errors ``|a − p| / scale`` over all
    finite cells, each cell divided by the scale of its own row's series. When every row has
    the same number of finite cells (as in M4, h = 48 for every series) this equals the mean
    of the per-series MASE, which is the M4 convention; a single MAE over all series divided
    by one scale would instead let high-level series dominate. With a scalar scale it is
    simply ``MAE / scale``.

    Args:
        actual: observed values, `(n_windows, horizon)` (one row per series or window) or
            `(horizon,)`.
        predicted: forecasts, same shape.
        lower: lower interval bounds, same shape; give with ``upper``.
        upper: upper interval bounds, same shape; give with ``lower``.
        insample_scale: the MASE denominator (``seasonal_scale`` of the training series):
            a number, or `(n_windows,)` one per row of a 2-D ``actual``. Rows with a zero
            scale are left out of MASE (:func:`mean_scaled_error`; :func:`mase` of one such
            series is inf).

    Returns:
        ``mae``, ``rmse`` and ``smape`` (percent); ``mase`` when ``insample_scale`` is given;
        ``coverage`` and ``width`` (``interval_coverage``, ``mean_interval_width``, both over
        the cells whose actual value is known) when the bounds are given.

    Raises:
        ValueError: shapes differ, only one bound is given, a bound is crossed, or the scale
            has the wrong shape.
    """
    arrays = _same_shape(actual=actual, predicted=predicted)
    actual, predicted = arrays["actual"], arrays["predicted"]
    summary = {**error_summary(actual, predicted), "smape": smape(actual, predicted)}
    if insample_scale is not None:
        summary["mase"] = mean_scaled_error(actual, predicted, insample_scale)
    if (lower is None) != (upper is None):
        raise ValueError("give both lower and upper bounds, or neither")
    if lower is not None:
        _same_shape(actual=actual, lower=lower, upper=upper)
        summary["coverage"] = interval_coverage(actual, lower, upper)
        # over the cells coverage counts: those whose actual value is known
        known = np.isfinite(np.asarray(actual, dtype=np.float64))
        summary["width"] = mean_interval_width(np.where(known, lower, np.nan), np.where(known, upper, np.nan))
    return summary
