"""Anomaly scoring: how unusual each value is, given the model's one-step-ahead expectations.

Every point with ``lookback`` points of history gets a *score* (higher = more anomalous, in
robust standard deviations of the statistic that gave it) and is flagged when the score
reaches the *threshold*. Everything is causal: the score of step ``t`` uses steps up to ``t``
only, so the scores of the past never change when data is appended.

Expectations: the network's one-step forecast ``ŷ_t``, except that a step whose residual lies
``REPLACE_ABOVE`` or more scales from the centre is replaced by its own expectation in the
input windows of the steps after it (those are then forecast again), so that a spike does not
make its successors look anomalous too.

The score is the largest of:

* **point**: the residual ``r_t = y_t - ŷ_t`` (scaled units) as ``z_t = (r_t - centre) / s_t``
  with ``s_t = max(local_t, spread)``: ``local_t`` is the MAD scale of the previous
  ``local_window`` residuals, so a noisy stretch raises its own scale and does not look like
  an incident, and the calibrated ``spread`` is the floor, so a quiet stretch does not make
  ordinary noise look large. Catches spikes and dips.
* **shift**: for each window ``w`` in ``WINDOWS``, ``S_w = Σ clip(z, ±c_w)`` over the last
  ``w`` steps, as ``|S_w - m_w| / d_w``. The clip ``c_w`` (at most ``SHIFT_CLIP_SPREADS · d_w``)
  keeps one spike from flagging the windows that hold it; ``m_w`` and ``d_w`` are measured,
  since consecutive residuals are correlated (``d_w`` is not ``sqrt(w)``). Catches level
  shifts, which the network half follows after their first step.
* **stillness**: for each window ``w``,
  ``L_w = log((Σ|y_t - y_{t-1}|/s_t + c·n) / (Σ|ŷ_t - y_{t-1}|/s_t + c·n))``, the log ratio of
  how much the series moved to how much the model expected it to move (``c = STILL_FLOOR``),
  scored one-sided as ``max(0, (m_w - L_w) / d_w)``. Catches a frozen meter or a stretch where
  the usual cycle vanishes: once the network has seen a few flat steps its residuals stay
  within the noise, but it keeps expecting movement.

Calibration (:func:`calibrate`, at training) uses only data up to the end of training: the
residual centre and spread and the window statistics' centres come from the validation part
(out of sample, as new data will be); the window statistics' spreads are the larger of their
validation and whole-series estimates, as a short validation part holds few independent
windows.

The threshold is fitted by peaks over threshold (POT, as in SPOT, Siffer et al. 2017) on the
validation scores of all series: the excesses over a high quantile ``u`` are modelled by a
generalized Pareto tail, whose ``1 - RISK`` quantile is the score clean data exceeds with
probability ``RISK`` per point. The tail is fitted on the median excess (see
``SHAPE_BOUNDS``), which a few true anomalies among the validation scores barely move, and
the threshold never goes below ``MIN_THRESHOLD``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigError
from .report import QUIET, Reporter
from .windows import input_windows

#: MAD times this estimates the standard deviation of Gaussian noise.
MAD_TO_SD = 1.4826
#: Standardised residuals are clipped to ±CLIP before they are summed over a window, and to
#: at most SHIFT_CLIP_SPREADS times the spread of that window's sum.
CLIP = 6.0
SHIFT_CLIP_SPREADS = 1.5
#: Lengths (steps) of the windows over which residuals are summed and movement is compared.
WINDOWS = (3, 6, 12)
#: The local scale uses at least this many previous residuals (else the lookback: about two
#: seasonal periods, so that it covers whole cycles).
MIN_LOCAL_WINDOW = 24
#: The local scale needs this fraction of its window observed; before that only the
#: calibrated spread is used.
LOCAL_MIN_FRACTION = 0.25
#: Movement per step (in residual scales) added to both sides of the stillness ratio, so
#: that ordinary noise on a quiet stretch does not look like a frozen series.
STILL_FLOOR = 0.5
#: One-sided statistics take their spread from this lower quantile (standard normal: LOWER_TAIL_Z).
LOWER_TAIL = 0.05
LOWER_TAIL_Z = 1.6449
#: Fewest values to fit a window statistic's centre and spread on.
MIN_FIT_POINTS = 10
#: A point whose residual lies more than this many scales from the centre is not trusted as
#: model input: the expectations of the points after it are recomputed with it replaced by
#: its own expectation, so that a spike does not make its successors look anomalous too.
#: (Surprises of a few scales are kept: they are often real changes the model should follow.)
REPLACE_ABOVE = 6.0
#: Expected fraction of clean points flagged by the calibrated threshold.
RISK = 5e-4
#: POT fits the tail of the validation scores above their ``1 - f`` quantile, with ``f``
#: chosen to leave about TAIL_POINTS points in the tail, within TAIL_FRACTION_BOUNDS.
TAIL_POINTS = 50
TAIL_FRACTION_BOUNDS = (0.02, 0.10)
#: Bounds on the fitted tail shape ξ. Both 0: an exponential tail, fitted on the median excess
#: alone. That is conservative for Gaussian-like residuals (whose ξ is slightly negative), and
#: a shape fitted on a few hundred validation scores mostly reflects the anomalies among them
#: (a free fit on the hourly sample gives ξ ≈ 0.5 and a threshold no level shift reaches).
SHAPE_BOUNDS = (0.0, 0.0)
#: The calibrated threshold never goes below this: about 1 point in 15,000 of clean Gaussian
#: noise exceeds 4 robust standard deviations.
MIN_THRESHOLD = 4.0


# --- pure scoring functions -------------------------------------------------------------------


def robust_centre_spread(values: np.ndarray) -> tuple[float, float]:
    """Median and MAD-based standard deviation of the finite ``values`` (spread > 0)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return 0.0, 1.0
    centre = float(np.median(values))
    spread = MAD_TO_SD * float(np.median(np.abs(values - centre)))
    if not spread > 1e-9:
        spread = float(np.std(values))
    if not spread > 1e-9:
        spread = 1.0
    return centre, spread


def local_scale(residuals: np.ndarray, centre: float, window: int) -> np.ndarray:
    """Robust scale of the ``window`` residuals *before* each step (NaN until enough are seen).

    Args:
        residuals: `(n,)`, NaN where not observed (skipped).

    Returns:
        `(n,)`: ``MAD_TO_SD * median(|r_j - centre|)`` over ``j`` in ``[t - window, t)``.
    """
    import pandas as pd

    deviations = pd.Series(np.abs(np.asarray(residuals, dtype=np.float64) - centre))
    min_periods = max(3, int(math.ceil(LOCAL_MIN_FRACTION * window)))
    rolling = deviations.rolling(window, min_periods=min_periods).median().shift(1)
    return MAD_TO_SD * rolling.to_numpy()


def residual_scale(residuals: np.ndarray, calibration: dict[str, Any]) -> np.ndarray:
    """Per step ``max(local scale, spread)``: what the residual is divided by."""
    scale = np.full(len(residuals), float(calibration["spread"]))
    if calibration.get("local_window"):
        scale = np.fmax(local_scale(residuals, calibration["centre"], calibration["local_window"]), scale)
    return scale


def standardise(residuals: np.ndarray, calibration: dict[str, Any]) -> np.ndarray:
    """``(r - centre) / max(local scale, spread)``; NaN where the residual is NaN."""
    residuals = np.asarray(residuals, dtype=np.float64)
    return (residuals - calibration["centre"]) / residual_scale(residuals, calibration)


def trailing_sums(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of the finite ``values`` among the last ``window`` (the current one included).

    Steps before the start count as missing, so the first windows are partial.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    cum = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    cnt = np.concatenate([[0], np.cumsum(finite)])
    upper = np.arange(1, len(values) + 1)
    lower = np.maximum(upper - window, 0)
    return cum[upper] - cum[lower], cnt[upper] - cnt[lower]


def shift_statistics(
    z: np.ndarray, windows: list[int] | tuple[int, ...], clips: list[float] | tuple[float, ...] | float = CLIP
) -> list[np.ndarray]:
    """Per window ``w``, the sum of the last ``w`` standardised residuals, each clipped to
    ``±clip`` (one clip for all windows, or one per window)."""
    z = np.asarray(z, dtype=np.float64)
    clips = [clips] * len(windows) if np.isscalar(clips) else list(clips)
    return [trailing_sums(np.clip(z, -clip, clip), w)[0] for w, clip in zip(windows, clips)]


def stillness_statistics(
    z: np.ndarray,
    expected_steps: np.ndarray,
    scale: np.ndarray | float,
    windows: list[int] | tuple[int, ...],
    floor: float = STILL_FLOOR,
) -> list[np.ndarray]:
    """Per window, the log ratio of how much the series moved to how much the model expected.

    ``L_w = log((Σ|y_t - y_{t-1}| / s_t + c·n) / (Σ|ŷ_t - y_{t-1}| / s_t + c·n))`` over the
    ``n`` usable steps among the last ``w``, with ``s_t`` the residual scale and
    ``c = floor``. About 0 on clean data; strongly negative when the series stands (nearly)
    still while the model expected it to move, as with a frozen meter or a vanished cycle.

    Args:
        z: `(n,)` standardised residuals, NaN where not observed.
        expected_steps: `(n,)` ``ŷ_t - y_{t-1}`` in the residuals' units, NaN where
            ``y_{t-1}`` was not observed.
        scale: `(n,)` or scalar, what the residuals were divided by to give ``z``.

    Returns:
        per window `(n,)`; NaN where more than a quarter of the window is unusable.
    """
    z = np.asarray(z, dtype=np.float64)
    expected = np.asarray(expected_steps, dtype=np.float64) / scale
    usable = np.isfinite(z) & np.isfinite(expected)
    moved = np.where(usable, np.abs(expected + z), np.nan)  # observed step = expected step + residual
    foreseen = np.where(usable, np.abs(expected), np.nan)
    out = []
    for w in windows:
        moved_sum, count = trailing_sums(moved, w)
        foreseen_sum, _ = trailing_sums(foreseen, w)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.log((moved_sum + floor * count) / (foreseen_sum + floor * count))
        out.append(np.where(count >= w - w // 4, ratio, np.nan))
    return out


def score_residuals(
    residuals: np.ndarray, calibration: dict[str, Any], expected_steps: np.ndarray | None = None
) -> np.ndarray:
    """Anomaly score of every step of one series (causal: step t uses steps up to t only).

    Args:
        residuals: `(n,)` one-step residuals in scaled units, NaN where the value is missing.
        calibration: the series' ``anomaly`` entry, from :func:`calibrate_series`. An entry
            with only ``centre`` and ``spread`` (older models) gives the plain point score.
        expected_steps: `(n,)` ``ŷ_t - y_{t-1}`` for the stillness score (None: no stillness).

    Returns:
        `(n,)` scores >= 0, NaN exactly where ``residuals`` is NaN.
    """
    residuals = np.asarray(residuals, dtype=np.float64)
    scale = residual_scale(residuals, calibration)
    z = (residuals - calibration["centre"]) / scale
    parts = [np.abs(z)]
    windows = calibration.get("windows", [])
    if windows:
        clips = calibration.get("shift_clips", CLIP)
        for stat, centre, spread in zip(
            shift_statistics(z, windows, clips), calibration["shift_centres"], calibration["shift_spreads"]
        ):
            if spread:
                parts.append(np.abs(stat - centre) / spread)
    if windows and expected_steps is not None and "still_centres" in calibration:
        stills = stillness_statistics(z, expected_steps, scale, windows, calibration.get("still_floor", STILL_FLOOR))
        for stat, centre, spread in zip(stills, calibration["still_centres"], calibration["still_spreads"]):
            if spread:
                parts.append(np.maximum((centre - stat) / spread, 0.0))
    score = np.fmax.reduce(parts)
    return np.where(np.isnan(residuals), np.nan, score)


def calibrate_series(
    residuals: np.ndarray,
    split: int,
    expected_steps: np.ndarray | None = None,
    local_window: int = 2 * MIN_LOCAL_WINDOW,
    windows: list[int] | tuple[int, ...] = WINDOWS,
) -> dict[str, Any]:
    """Fit one series' scoring statistics on its residuals up to the end of training.

    The residual centre and spread, and the centres of the window statistics, come from the
    validation residuals (from ``split`` on: out of sample, as new data will be). The spread
    of each window statistic is the larger of its validation estimate and its estimate over
    all the residuals: a short validation part holds few independent windows, and
    underestimating a spread inflates every score.

    Args:
        residuals: `(n,)` one-step residuals, NaN where not observed.
        split: index of the first validation residual.
        expected_steps: as for :func:`score_residuals`; None leaves the stillness score out.

    Returns:
        JSON-safe ``{"centre", "spread", "local_window", "replace_above", "windows",
        "shift_clips", "shift_centres", "shift_spreads"[, "still_floor", "still_centres",
        "still_spreads"]}``, one entry per window in the lists; a stillness statistic that
        cannot be fitted (too few steps, or a series that never moves) has spread None and
        is not scored.
    """
    residuals = np.asarray(residuals, dtype=np.float64)
    centre, spread = robust_centre_spread(residuals[split:])
    windows = [int(w) for w in windows]
    calibration: dict[str, Any] = {
        "centre": centre,
        "spread": spread,
        "local_window": int(local_window),
        "replace_above": REPLACE_ABOVE,
        "windows": windows,
    }
    scale = residual_scale(residuals, calibration)
    z = (residuals - centre) / scale
    z_spread_all = _robust_fit(z)

    def shift_fit(w: int, clip: float) -> tuple[float, float]:
        (stat,) = shift_statistics(z, [w], clip)
        validation, overall = _robust_fit(stat[split:]), _robust_fit(stat[w - 1 :])
        candidates = [validation[1]] if validation else []
        if overall and z_spread_all:
            candidates.append(overall[1] / z_spread_all[1])  # undo the smaller in-sample residuals
        return (validation[0] if validation else 0.0), (max(candidates) if candidates else math.sqrt(w))

    centres, spreads, clips = [], [], []
    for w in windows:
        # one point may add at most SHIFT_CLIP_SPREADS window spreads: a lone spike must not
        # flag the windows that hold it
        _, first_spread = shift_fit(w, CLIP)
        clip = min(CLIP, SHIFT_CLIP_SPREADS * first_spread)
        centre_w, spread_w = shift_fit(w, clip)
        centres.append(centre_w)
        spreads.append(max(spread_w, clip / SHIFT_CLIP_SPREADS))
        clips.append(clip)
    calibration["shift_clips"] = clips
    calibration["shift_centres"], calibration["shift_spreads"] = centres, spreads
    if expected_steps is not None:
        centres, spreads = [], []
        for w, stat in zip(windows, stillness_statistics(z, expected_steps, scale, windows, STILL_FLOOR)):
            validation, overall = _lower_tail_fit(stat[split:]), _lower_tail_fit(stat[w - 1 :])
            candidates = [fit[1] for fit in (validation, overall) if fit]
            centres.append(validation[0] if validation else 0.0)
            spreads.append(max(candidates) if candidates else None)
        calibration["still_floor"] = STILL_FLOOR
        calibration["still_centres"], calibration["still_spreads"] = centres, spreads
    return calibration


def _lower_tail_fit(values: np.ndarray) -> tuple[float, float] | None:
    """Median and a spread read off the lower tail, ``(median - q05) / 1.645``, for a
    statistic scored one-sided from below whose lower tail may be longer than its upper one;
    None as for :func:`_robust_fit`."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < MIN_FIT_POINTS:
        return None
    centre, low = (float(q) for q in np.quantile(values, [0.5, LOWER_TAIL]))
    spread = (centre - low) / LOWER_TAIL_Z
    return (centre, spread) if spread > 1e-9 else None


def _robust_fit(values: np.ndarray) -> tuple[float, float] | None:
    """Median and MAD-based spread of the finite values; None with fewer than
    ``MIN_FIT_POINTS`` of them or no spread."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < MIN_FIT_POINTS:
        return None
    centre = float(np.median(values))
    spread = MAD_TO_SD * float(np.median(np.abs(values - centre)))
    return (centre, spread) if spread > 1e-9 else None


def fit_threshold(
    scores: np.ndarray,
    risk: float = RISK,
    tail_fraction: float | None = None,
    floor: float = MIN_THRESHOLD,
) -> float:
    """The score that clean data exceeds with probability ``risk`` per point (POT).

    Fits a generalized Pareto distribution to the excesses of ``scores`` over their
    ``1 - tail_fraction`` quantile ``u`` and returns its ``1 - risk`` quantile
    ``u + σ/ξ · ((risk / tail_fraction)^(-ξ) - 1)`` (``u + σ · log(tail_fraction / risk)``
    for ``ξ = 0``). ``ξ`` and ``σ`` match the median and upper quartile of the excesses, with
    ``ξ`` kept within ``SHAPE_BOUNDS`` (by default ``ξ = 0``: an exponential tail whose
    ``σ`` is the median excess over log 2). A few true anomalies among the validation scores
    barely move the median excess, where they would drag a maximum-likelihood fit to a very
    heavy tail.

    Args:
        scores: validation scores, NaN ignored.
        tail_fraction: share of the scores in the fitted tail; None: enough for
            ``TAIL_POINTS`` points, within ``TAIL_FRACTION_BOUNDS``.

    Returns:
        The threshold, at least ``floor``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    scores = np.sort(scores[np.isfinite(scores)])
    n = len(scores)
    if n == 0:
        return float(floor)
    if tail_fraction is None:
        tail_fraction = min(max(TAIL_POINTS / n, TAIL_FRACTION_BOUNDS[0]), TAIL_FRACTION_BOUNDS[1])
    if risk >= tail_fraction:
        return float(max(floor, np.quantile(scores, 1.0 - risk)))
    u = float(np.quantile(scores, 1.0 - tail_fraction))
    excess = scores[scores > u] - u
    if len(excess) < 2:
        return float(max(floor, scores[-1]))
    shape, scale = _gpd_quantile_fit(excess)
    ratio = risk / tail_fraction
    if abs(shape) < 1e-6:
        threshold = u - scale * math.log(ratio)
    else:
        threshold = u + scale / shape * (ratio ** (-shape) - 1.0)
    return float(max(floor, threshold))


def _gpd_quantile_fit(excess: np.ndarray) -> tuple[float, float]:
    """Shape and scale of a generalized Pareto distribution matching the excesses' median
    and upper quartile: for GPD, ``Q(3/4) / Q(1/2) = 2^ξ + 1``."""
    q50, q75 = (float(q) for q in np.quantile(excess, [0.5, 0.75]))
    if not q50 > 0 or not q75 > q50:
        return 0.0, max(q50, 1e-9) / math.log(2.0)
    shape = math.log2(max(q75 / q50 - 1.0, 1e-12))
    shape = min(max(shape, SHAPE_BOUNDS[0]), SHAPE_BOUNDS[1])
    scale = q50 / math.log(2.0) if abs(shape) < 1e-6 else q50 * shape / (2.0**shape - 1.0)
    return shape, scale


# --- with a network -------------------------------------------------------------------------


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


def residuals_and_steps(
    target: np.ndarray, expected: np.ndarray, start: int, missing: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One-step residuals and expected steps of the steps from ``start`` on.

    Args:
        target: `(n_steps,)` scaled target (missing values filled).
        expected: `(n_steps - start,)` one-step expectations.
        missing: `(n_steps,)` True where the target was not observed, or None.

    Returns:
        ``y_t - ŷ_t`` (NaN where ``y_t`` is missing) and ``ŷ_t - y_{t-1}`` (NaN where
        ``y_{t-1}`` is missing), each `(n_steps - start,)`.
    """
    residuals = target[start:] - expected
    steps = expected - target[start - 1 : len(target) - 1]
    if missing is not None:
        residuals = np.where(missing[start:], np.nan, residuals)
        steps = np.where(missing[start - 1 : len(target) - 1], np.nan, steps)
    return residuals, steps


def cleaned_expectations(
    network: Any,
    features: list[np.ndarray],
    lookback: int,
    expected: list[np.ndarray],
    calibrations: list[dict[str, Any]],
    missing: list[np.ndarray | None] | None = None,
) -> list[np.ndarray]:
    """One-step expectations with extreme points taken out of the model's inputs.

    A step whose residual is at least ``replace_above`` scales from the centre (per its
    series' calibration) is replaced by its expectation in the input windows of the steps
    after it, and those steps are expected again, all series in one batch. Calibrations
    without ``replace_above`` (older models) keep their expectations.

    Args:
        features: per series `(n_steps, n_features)` scaled.
        expected: per series `(n_steps - lookback,)` from :func:`one_step_expectations`.

    Returns:
        per series `(n_steps - lookback,)`.
    """
    from .forecasting import predict_scaled

    cleaned = [np.array(e, dtype=np.float64) for e in expected]
    batches, targets = [], []
    for i, (f, exp, calibration) in enumerate(zip(features, expected, calibrations)):
        limit = calibration.get("replace_above")
        if not limit:
            continue
        residuals, _ = residuals_and_steps(f[:, 0], exp, lookback, None if missing is None else missing[i])
        extreme = np.zeros(len(f), dtype=bool)
        extreme[lookback:] = np.nan_to_num(np.abs(standardise(residuals, calibration)), nan=0.0) >= limit
        if not extreme.any():
            continue
        inputs = f.copy()
        inputs[extreme, 0] -= residuals[extreme[lookback:]]  # the value the model expected there
        count = np.concatenate([[0], np.cumsum(extreme)])
        steps = np.arange(lookback, len(f))
        affected = steps[count[steps] > count[steps - lookback]]  # an extreme step in the window
        batches.append(input_windows(inputs, lookback)[affected - lookback])
        targets.append((i, affected - lookback))
    if batches:
        predicted = predict_scaled(network, np.concatenate(batches))[:, 0]
        for (i, rows), values in zip(targets, np.split(predicted, np.cumsum([len(b) for b in batches])[:-1])):
            cleaned[i][rows] = values
    return cleaned


def local_window_for(lookback: int) -> int:
    """Previous residuals the local scale looks at: the lookback (by default two seasonal
    periods, so whole cycles), at least ``MIN_LOCAL_WINDOW``."""
    return max(MIN_LOCAL_WINDOW, int(lookback))


def calibrate(
    network: Any,
    prepared_features: list[np.ndarray],
    splits: list[int],
    lookback: int,
    missing: list[np.ndarray] | None = None,
) -> dict[str, Any]:
    """Fit each series' scoring statistics and the shared threshold on the training data.

    Only data up to the end of training is used: each series is scored from its first
    ``lookback`` steps on (the training part warms up the local scale and the windows and
    steadies the window statistics' spreads), and the threshold is fitted on the validation
    scores of all series together.

    Args:
        network: anything with ``predict(x, batch_size=..., verbose=0)`` and ``output_shape``.
        prepared_features: per series `(n_steps, n_features)` scaled.
        splits: per series the index of the first validation step.
        missing: per series `(n_steps,)` True where the target was filled in (not scored), or
            None when every value was observed.

    Returns:
        JSON-safe ``{"series": [calibration, …], "threshold": float}``; see
        :func:`calibrate_series`.
    """
    local_window = local_window_for(lookback)
    n_series = len(prepared_features)
    missing = missing if missing is not None else [None] * n_series
    expected = one_step_expectations(network, prepared_features, lookback, [lookback] * n_series)
    # first pass: scales to find the extreme steps; second: the statistics of cleaned residuals
    first = []
    for features, split, exp, absent in zip(prepared_features, splits, expected, missing):
        residuals, _ = residuals_and_steps(features[:, 0], exp, lookback, absent)
        first.append(calibrate_series(residuals, split - lookback, None, local_window, ()))
    expected = cleaned_expectations(network, prepared_features, lookback, expected, first, missing)
    per_series, scores = [], []
    for features, split, exp, absent in zip(prepared_features, splits, expected, missing):
        residuals, steps = residuals_and_steps(features[:, 0], exp, lookback, absent)
        calibration = calibrate_series(residuals, split - lookback, steps, local_window, WINDOWS)
        per_series.append(calibration)
        scores.append(score_residuals(residuals, calibration, steps)[split - lookback :])
    return {"series": per_series, "threshold": fit_threshold(np.concatenate(scores))}


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
        """The ``n`` strongest incidents: of each run of consecutive flagged points of a
        series, the row with the highest score; highest first."""
        frame = self.frame
        flagged = frame["is_anomaly"] == 1
        if not flagged.any():
            return frame.iloc[:0]
        same_series = frame["series"] == frame["series"].shift()
        run = (flagged & ~(flagged.shift(fill_value=False) & same_series)).cumsum()
        peaks = frame.loc[flagged, "score"].groupby(run[flagged]).idxmax()
        return frame.loc[peaks.to_numpy()].nlargest(n, "score")


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
        An :class:`AnomalyResult`. ``expected`` is the model's one-step forecast, made from
        inputs in which extreme earlier points were replaced by their own expectations (see
        :func:`cleaned_expectations`). Points whose value was missing in the data are not
        scored and never flagged.
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
    missing = [np.asarray(item.missing, dtype=bool) for item in inputs]
    expected = cleaned_expectations(
        artifact.network, scaled, lookback, expected, [item.meta["anomaly"] for item in inputs], missing
    )

    frames = []
    for item, features, exp, absent in zip(inputs, scaled, expected, missing):
        scaler = item.scaler
        residual_scaled, steps = residuals_and_steps(features[:, 0], exp, lookback, absent)
        score = score_residuals(residual_scaled, item.meta["anomaly"], steps)
        observed = ~absent[lookback:]
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
