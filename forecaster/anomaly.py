"""Anomaly scoring: how unusual each value is, given the model's one-step-ahead expectations.

Every point with ``lookback`` points of history gets a *score* (higher = more anomalous;
0 for a point that raises nothing new) and is flagged when the score reaches the
*threshold*. Everything is causal: the score of step ``t`` uses steps up to ``t`` only, so
the scores of the past never change when data is appended; except within a glitch (below),
which is known as one only once the series has come back, within the horizon.

Expectations: the model's one-step forecast ``ŷ_t``, except that a step whose residual lies
``REPLACE_ABOVE`` or more scales from the centre is replaced by its own expectation in the
input windows of the steps after it (those are then forecast again), so that a spike does not
make its successors look anomalous too. For a series whose validation part the model forecast
clearly worse (``SOURCE_MARGIN``) than the median of the same step in the last ``SEASONS_BACK``
seasons, that seasonal median gives the expectations instead (chosen at calibration,
``expected_by``), cleaned the same way.

Each statistic is standardised *online*, by estimates of its typical value and spread over
all the steps before it, updated as data arrives (in the style of the "anomaly likelihood"
of Numenta's HTM detector and of a windowed Gaussian): a series whose residuals turn out
noisier or more heavy-tailed than on the short validation part raises its own yardstick,
instead of being judged forever by statistics fitted on a hundred-odd validation points.

* **surprise**: ``x_t = (|e_t| - μ_t) / σ_t`` with ``e_t = r_t - c_t``, the residual
  ``r_t = y_t - ŷ_t`` (scaled units; for a model of the logarithm, the values over the
  training part's geometric mean, see :func:`scoring_units`) less ``c_t``, the median of
  the residuals before ``t``;
  ``μ_t`` and ``σ_t`` are the mean and standard deviation of the earlier ``|e|``. They start
  from the calibration (``PRIOR_POINTS`` pseudo-observations of Gaussian residuals with the
  validation spread) and move to the series' own history as it grows. While they rest on few
  residuals, ``|e_t|`` is first moved to the Gaussian scale (:func:`gaussian_equivalent`):
  taken as Student's t with ``prior_df`` (``DF_PER_POINT`` per validation residual) plus one
  per earlier step degrees of freedom, it becomes the normal deviate as far in the tail. A
  short series' spread comes from a dozen validation residuals and is often well below the
  true one; without this its first steps were flagged about ten times as often as later
  ones. Catches spikes, dips and the first steps of level shifts.
* **stillness**: for each window ``w`` in ``STILL_WINDOWS``,
  ``L_w = log((Σ|y_t - y_{t-1}|/s_t + c·n) / (Σ|ŷ_t - y_{t-1}|/s_t + c·n))``, the log ratio of
  how much the series moved to how much the model expected it to move (``s_t`` the running
  root mean square of ``e``, ``c = STILL_FLOOR``), standardised from below by the median and
  lower-tail spread of its own earlier values (at least ``STILL_MIN_SPREAD``), less
  ``STILL_MARGIN``: ``max(0, (m_w - L_w) / d_w - STILL_MARGIN)``. Catches a frozen meter or a
  stretch where the usual cycle vanishes, which the model soon follows step by step. It needs
  ``STILL_MIN_HISTORY`` earlier values; the margin keeps a quiet stretch of an ordinary series
  from looking like a fault.
* **range**: how far the value lies beyond the range of all the series' earlier values (the
  training data's included), both as a fraction of that range and in typical steps (the median
  of the earlier ``|y_t - y_{t-1}|``): ``THRESHOLD`` times the smaller of ``fraction /
  RANGE_TOLERANCE`` and ``steps / RANGE_STEPS``, 0 inside the range. Catches a jump to a level
  never seen, which the residuals can miss (on a noisy series it is one more large residual;
  a model relative to its last value follows it at once), and needs no model. The steps keep
  a series that wanders or trends, setting new records by about a step all the time, from
  flagging each. Not held off: the range itself moves with each new extreme, so a value must
  go beyond the last one.

**Glitches.** A run of steps the cleaning takes out whole because the series came back from
it within the horizon (:func:`cleaned_expectations`), and whose surprise reaches
``GLITCH_SURPRISE`` (far beyond any series' own noise), is scored like any other, but left
out of what the steps after it are measured against: the running centre and estimates of
the surprise, the range, and the hold-off's peak (which still holds within the run and over
the steps right after it that remain surprising, :func:`incident_runs`). One reading of
50000 on a series at 500 otherwise swelled the running spread for good, and the series was
blind to every later incident. A series' own rare spikes stay in: its yardstick should
know them.

**Hold-off.** A statistic scores only by how far it exceeds the highest value it reached over
the previous ``hold`` steps (the lookback, at least ``MIN_LOCAL_WINDOW``; for a stillness
window, those ending at least ``w`` steps back, so that the window's own build-up is not held
against it): ``score_t = max over statistics of max(0, x_t - max(0, max x over the hold))``.
A spike scores its whole surprise; the steps after it score 0 unless they are more surprising
still; a sustained change is flagged at its onset, and then not again while it lasts (the
model's new normal) unless it grows. So an incident gives one or a few flagged points (a
stillness build-up at most its window's length), not a run of hundreds. The steps before the
first scored one count, for the surprise, as having reached ``prior_peak`` (stored in the
calibration; :func:`typical_peak` of the hold): the peak a hold-off of Gaussian residuals
typically holds. Without it the first steps had no past to measure the peak on, and on
Gaussian noise the first five scored steps were flagged 35 times as often as later ones.

Calibration (:func:`calibrate`, at training) fits the starting residual centre and spread on
the validation part (out of sample, as new data will be); the online estimates then run
through the training data and on. The threshold ``THRESHOLD`` is in the score's own units
(standard deviations of the statistic beyond its recent peak) and the same for every model:
the per-series calibration is in the online standardisation (the range score is put on the
same scale by ``RANGE_TOLERANCE`` and ``RANGE_STEPS``). With a hold-off of 168 steps
(an hourly model's week) about one step in ``10^4`` of Gaussian noise reaches it; with the
shortest hold-off, 24 steps, about one in 600.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .alert_state import as_time_lists, as_times
from .artifacts import ANOMALY_SCORING_VERSION
from .data import true_runs
from .errors import ArtifactError, ConfigError
from .report import QUIET, Reporter, first_few, reporter_given
from .windows import input_windows

#: MAD times this estimates the standard deviation of Gaussian noise.
MAD_TO_SD = 1.4826
#: Mean and standard deviation of |e| for Gaussian e of unit standard deviation: the starting
#: point of the online estimates.
ABS_MEAN, ABS_SD = math.sqrt(2.0 / math.pi), math.sqrt(1.0 - 2.0 / math.pi)
#: Weight, in steps, of the calibrated starting estimates in the online mean and spread of |e|:
#: enough to steady the first steps, soon outweighed by the series' own history.
PRIOR_POINTS = 50
#: Lengths (steps) of the windows over which movement is compared.
STILL_WINDOWS = (3, 6, 12)
#: Movement per step (in residual scales) added to both sides of the stillness ratio, so
#: that ordinary noise on a quiet stretch does not look like a frozen series.
STILL_FLOOR = 0.5
#: Lower-tail spreads of a stillness statistic below its median that count as ordinary: a
#: series that often stands still for a moment (a step-like or zero-heavy series) must not
#: flag each time.
STILL_MARGIN = 6.0
#: Smallest lower-tail spread (log ratio) a stillness statistic is standardised by. After one
#: huge residual (a spike of a million on a series of tens) the running scale dwarfs every
#: ordinary step, both sides of the ratio are the floor, and the statistic barely varies; a
#: spread standardised from that history would call a 1 % change in movement extreme. With this
#: floor a stretch scores only when it moved at least about half less than usual
#: (``(STILL_MARGIN + THRESHOLD) * 0.1`` below its median in log).
STILL_MIN_SPREAD = 0.1
#: Earlier values a stillness statistic needs before it is scored.
STILL_MIN_HISTORY = 100
#: One-sided stillness takes its spread from this lower quantile (standard normal: LOWER_TAIL_Z).
LOWER_TAIL = 0.05
LOWER_TAIL_Z = 1.6449
#: Degrees of freedom of the starting spread per validation residual it was estimated from:
#: the Gaussian efficiency of the median absolute deviation.
DF_PER_POINT = 0.37
#: The Gaussian equivalent of a residual is computed exactly below this many degrees of
#: freedom, or beyond this many spreads; elsewhere by an expansion, as good and far cheaper.
EXACT_DF_BELOW = 200.0
EXPANSION_UP_TO = 3.0
#: Fewest earlier residuals for their running median to replace the calibrated centre.
MIN_FIT_POINTS = 10
#: The local scale (used to find the extreme steps taken out of the model's inputs) uses at
#: least this many previous residuals (else the lookback: about two seasonal periods, so that
#: it covers whole cycles); the hold-off is as long.
MIN_LOCAL_WINDOW = 24
#: The local scale needs this fraction of its window observed; before that only the
#: calibrated spread is used.
LOCAL_MIN_FRACTION = 0.25
#: A point whose residual lies more than this many scales from the centre is not trusted as
#: model input: the expectations of the points after it are recomputed with it replaced by
#: its own expectation, so that a spike does not make its successors look anomalous too.
#: (Surprises of a few scales are kept: they are often real changes the model should follow.)
REPLACE_ABOVE = 6.0
#: Score at or above which a point is flagged: two standard deviations of the statistic
#: beyond its highest value over the hold-off.
THRESHOLD = 2.0
#: What gives a point its score, as the output's ``reason`` column names it: the surprise, the
#: stillness or the range score.
REASONS = ("surprise", "stillness", "range")
#: A value this fraction of the range of all earlier values beyond that range scores
#: ``THRESHOLD`` (if it is also ``RANGE_STEPS`` typical steps beyond it). The constant is the
#: "spatial anomaly" tolerance of Numenta's HTM detector in NAB (its ``SPATIAL_TOLERANCE``),
#: taken as it is.
RANGE_TOLERANCE = 0.05
#: ...and this many typical steps (the median ``|y_t - y_{t-1}|`` before it) beyond the range. A
#: random walk sets a record by about one step; with four, simulated Gaussian walks of 300 and
#: 5,000 steps had 0.3 and 0.5 records flagged on average (11 and 13 without the condition, 1.2
#: and 2.2 with three steps), noise along a slow trend none (12 without):
#: ``benchmarks/range_score.py``.
RANGE_STEPS = 4.0
#: Seasons back the phase scale looks (:func:`phase_ratio`): a week of daily seasons.
PHASE_SEASONS = 7
#: Steps per season for each step either side of the phase the phase scale pools (at least one):
#: half an hour either side in a day of 5-minute steps, an hour in a day of hours.
PHASE_STEPS_PER_NEIGHBOUR = 48
#: Degrees of freedom per residual of a spread estimated as a mean absolute deviation: its
#: efficiency for Gaussian data.
PHASE_DF_PER_POINT = 0.876
#: Largest factor the phase scale may put between a phase's residual size and the series'.
PHASE_MAX_RATIO = 4.0
#: An |e| counts in the phase scale up to this many times the series' mean |e|, so that one
#: spike does not make its hour of the day look noisy for a week.
PHASE_CLIP = 4.0
#: The phase scale is used only for a series whose residuals, up to the end of training, are
#: at least this many times as large in the noisiest part of the season as in the calmest
#: (:func:`phase_contrast`): estimated from a few weeks, a phase's size is itself uncertain by a
#: sixth or so, which on a series as noisy at every hour only adds false flags.
PHASE_MIN_CONTRAST = 2.0
#: Parts of the season the contrast compares (at most; two-hour parts of a day).
PHASE_PARTS = 12
#: Residuals each part needs for the contrast to be measured: with 60, Gaussian noise gives a
#: contrast of 1.36 (median) and 1.69 (99th percentile) by chance alone; with 30, 2 is common.
PHASE_MIN_PER_PART = 60
#: An excursion the series came back from (:func:`cleaned_expectations`) whose surprise reaches
#: this is a glitch (:func:`scores_and_reasons`): about 60 standard deviations of Gaussian
#: residuals (``x`` is in standard deviations of ``|e|``, 0.6 of the residuals'). A sensor
#: writing 50000 where it reads 500 (noise 10) reaches thousands. Lower, a series' own rare
#: spikes count too, and leaving those out of what later points are measured against made
#: NAB's heavy-tailed files cry wolf: all excursions, 2,260 detection events instead of 443
#: (NAB standard -16.6 instead of 57.4); from 20, 55.2; from 50, 56.6; from 100 and 300,
#: 57.4 as before (BENCHMARKS.md).
GLITCH_SURPRISE = 100.0
#: Version of the scoring a calibration was made for (older models have none). Version 3 added
#: ``expected_by``, version 4 the range score's settings, version 5 ``prior_peak``, version 6
#: ``prior_df`` and version 7 ``phase_season``, which an older forecaster would ignore, so it
#: refuses these models instead.
SCORING_VERSION = ANOMALY_SCORING_VERSION
#: First version whose scores are on the scale of ``THRESHOLD``.
THRESHOLD_SCALE_VERSION = 2
#: Where a series' one-step expectations may come from: the model, or the median of the values
#: one, two and three seasonal periods back. (The last value was tried as a third source and left
#: out: on NAB it replaced the model for 11 of 57 files and added 95 false alarms for 3 incidents
#: found; see BENCHMARKS.md.)
EXPECTATION_SOURCES = ("model", "seasonal-median")
#: Seasons back the seasonal median looks: three, so that one unusual day (already flagged) does
#: not make the next ones look unusual too, as it would if yesterday alone were expected again.
SEASONS_BACK = 3
#: What the seasonal source expects, said where it is chosen.
SEASONAL_TEXT = f"the median of the same step's values in the last {SEASONS_BACK} seasons"
#: The seasonal median gives a series' expectations instead of the model only when its cleaned
#: residuals on the validation part deviate from their median at least this much less than the
#: model's: a model trained on too little history can miss a cycle that yesterday's values show,
#: and every residual is then mostly the model's own error; a baseline merely level with it is
#: not worth the change.
SOURCE_MARGIN = 0.10


# --- pure scoring functions -------------------------------------------------------------------
#
# The functions of the scores work along axis 0: on one series `(n,)`, or on a batch of series
# side by side `(n, n_series)` (shorter series padded with NaN at the end, which no earlier step
# sees), so that many series are scored with one pandas call per statistic instead of one each.


def _along_steps(values: np.ndarray):
    """``values`` `(n,)` or `(n, n_series)` as a pandas Series or DataFrame (steps as rows), for
    its rolling and expanding windows."""
    import pandas as pd

    return pd.DataFrame(values) if values.ndim == 2 else pd.Series(values)


def _before(values: np.ndarray, fill: float) -> np.ndarray:
    """``values`` moved one step later along axis 0, ``fill`` at the first step (if any)."""
    return np.concatenate([np.full((1, *values.shape[1:]), fill), values[:-1]])[: len(values)]


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


def local_scale(residuals: np.ndarray, centre: float | np.ndarray, window: int) -> np.ndarray:
    """Robust scale of the ``window`` residuals *before* each step (NaN until enough are seen).

    Args:
        residuals: `(n,)` or `(n, n_series)`, NaN where not observed (skipped).
        centre: a number, or one per series `(n_series,)`.

    Returns:
        the shape of ``residuals``: ``MAD_TO_SD * median(|r_j - centre|)`` over ``j`` in
        ``[t - window, t)``.
    """
    deviations = _along_steps(np.abs(np.asarray(residuals, dtype=np.float64) - centre))
    min_periods = max(3, int(math.ceil(LOCAL_MIN_FRACTION * window)))
    rolling = deviations.rolling(window, min_periods=min_periods).median().shift(1)
    return MAD_TO_SD * rolling.to_numpy()


def residual_scale(residuals: np.ndarray, calibration: dict[str, Any]) -> np.ndarray:
    """Per step ``max(local scale, spread)``: what a residual is divided by to decide whether
    it is extreme enough to be taken out of the model's inputs (the shape of ``residuals``;
    ``centre`` and ``spread`` numbers or one per series, as for :func:`score_residuals`)."""
    scale = np.broadcast_to(np.asarray(calibration["spread"], dtype=np.float64), np.shape(residuals))
    if calibration.get("local_window"):
        scale = np.fmax(local_scale(residuals, calibration["centre"], calibration["local_window"]), scale)
    return scale


def standardise(residuals: np.ndarray, calibration: dict[str, Any]) -> np.ndarray:
    """``(r - centre) / max(local scale, spread)``; NaN where the residual is NaN."""
    residuals = np.asarray(residuals, dtype=np.float64)
    return (residuals - calibration["centre"]) / residual_scale(residuals, calibration)


def trailing_sums(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of the finite ``values`` among the last ``window`` (the current one included),
    along axis 0.

    Steps before the start count as missing, so the first windows are partial.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    start = np.zeros((1, *values.shape[1:]))
    cum = np.concatenate([start, np.cumsum(np.where(finite, values, 0.0), axis=0)])
    cnt = np.concatenate([start.astype(np.int64), np.cumsum(finite, axis=0)])
    upper = np.arange(1, len(values) + 1)
    lower = np.maximum(upper - window, 0)
    return cum[upper] - cum[lower], cnt[upper] - cnt[lower]


def running_centre(residuals: np.ndarray, prior_centre: float | np.ndarray) -> np.ndarray:
    """Median of the residuals before each step; ``prior_centre`` until ``MIN_FIT_POINTS``
    of them are observed.

    Args:
        residuals: `(n,)` or `(n, n_series)`, NaN where not observed (skipped).
        prior_centre: a number, or one per series `(n_series,)`.

    Returns:
        the shape of ``residuals``.
    """
    residuals = np.asarray(residuals, dtype=np.float64)
    median = _along_steps(residuals).expanding(min_periods=MIN_FIT_POINTS).median().shift(1).to_numpy()
    return np.where(np.isnan(median), prior_centre, median)


def running_mean_sd(values: np.ndarray, prior_mean: float | np.ndarray, prior_sd: float | np.ndarray,
                    prior_points: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the finite ``values`` before each step, starting from
    ``prior_points`` pseudo-observations with mean ``prior_mean`` and spread ``prior_sd``.

    Args:
        values: `(n,)` or `(n, n_series)`, NaN where not observed (skipped).
        prior_mean, prior_sd, prior_points: numbers, or one per series `(n_series,)`.

    Returns:
        two arrays of the shape of ``values``; the standard deviation is positive wherever
        ``prior_sd`` is.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    filled = np.where(finite, values, 0.0)
    before = lambda x: _before(np.cumsum(x, axis=0), 0.0)  # noqa: E731  sums over steps < t
    # arrays, numbers too: a float's ** 2 goes through pow(), an array's multiplies, and the
    # two can differ in the last bit; a series must score the same alone and in a batch
    prior_mean, prior_sd, prior_points = (np.asarray(p, dtype=np.float64) for p in (prior_mean, prior_sd, prior_points))
    count = before(finite.astype(np.float64)) + prior_points
    total = before(filled) + prior_points * prior_mean
    squares = before(filled**2) + prior_points * (prior_sd**2 + prior_mean**2)
    mean = total / count
    return mean, np.sqrt(np.maximum(squares / count - mean**2, 0.0))


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
        z: `(n,)` standardised residuals, NaN where not observed; or `(n, n_series)`.
        expected_steps: ``ŷ_t - y_{t-1}`` in the residuals' units, NaN where ``y_{t-1}`` was
            not observed; the shape of ``z``.
        scale: the shape of ``z``, or scalar: what the residuals were divided by to give ``z``.

    Returns:
        per window an array of the shape of ``z``; NaN where more than a quarter of the
        window is unusable.
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


def online_stillness(statistic: np.ndarray, margin: float = STILL_MARGIN,
                     min_spread: float = STILL_MIN_SPREAD) -> np.ndarray:
    """A stillness statistic standardised from below by its own earlier values.

    Args:
        statistic: `(n,)` or `(n, n_series)` one window's ``L_w`` from
            :func:`stillness_statistics`, NaN where not defined.

    Returns:
        the shape of ``statistic``: ``max(0, (m - L) / d - margin)``, with ``m`` the median of
        the earlier values and ``d = max((m - q05) / 1.645, min_spread)`` their lower-tail
        spread; NaN before ``STILL_MIN_HISTORY`` earlier values, where ``L`` is NaN, or where
        the earlier values have no spread.
    """
    history = _along_steps(np.asarray(statistic, dtype=np.float64)).expanding(min_periods=STILL_MIN_HISTORY)
    median = history.median().shift(1).to_numpy()
    spread = (median - history.quantile(LOWER_TAIL).shift(1).to_numpy()) / LOWER_TAIL_Z
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(spread > 1e-9, (median - statistic) / np.maximum(spread, min_spread), np.nan)
    return np.maximum(z - margin, 0.0)


def beyond_recent_peak(statistic: np.ndarray, hold: int, gap: int = 1, prior: float = 0.0,
                       excursions: np.ndarray | None = None, incidents: np.ndarray | None = None) -> np.ndarray:
    """How far each value exceeds the statistic's highest value over the hold-off.

    Args:
        statistic: `(n,)` or `(n, n_series)`, NaN where not defined (never a peak).
        hold: the hold-off reaches back this many steps...
        gap: ...to the step ``gap`` steps back (``1``: the previous one).
        prior: the value the steps before the first are taken to have had.
        excursions: the shape of ``statistic``, True at steps that are a peak only for the
            later steps of their own run of True in ``incidents`` (an excursion the series
            came back from is held off while the incident lasts, and is then over: nothing
            lasts to hold off); None: none.
        incidents: the shape of ``statistic``, True over each excursion and the steps after
            it that still look anomalous (:func:`incident_runs`).

    Returns:
        the shape of ``statistic``: ``max(0, x_t - max(0, max(x_j for t - hold <= j <= t -
        gap)))``, ``x_j = prior`` for ``j < 0``; NaN where ``statistic`` is.
    """
    statistic = np.asarray(statistic, dtype=np.float64)
    gap = max(int(gap), 1)
    span = max(int(hold) - gap + 1, 1)
    before = np.full((span + gap - 1, *statistic.shape[1:]), float(prior))
    held = statistic if excursions is None else np.where(excursions, np.nan, statistic)
    padded = np.concatenate([before, np.nan_to_num(held, nan=0.0)])
    peak = _along_steps(padded).rolling(span, min_periods=1).max().shift(gap).to_numpy()[len(before):]
    if excursions is not None:
        peak = np.fmax(peak, _within_runs(statistic, incidents, np.maximum))
    # a negative peak (a quiet stretch) does not lower the bar below the statistic itself
    peak = np.maximum(np.nan_to_num(peak, nan=0.0), 0.0)
    return np.maximum(statistic - peak, 0.0)


def _runs(mask: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """``(column, start, stop)`` of each run of True in ``mask`` (`(n,)` or `(n, n_series)`,
    seen as columns), column by column: excursions are rare, so a loop over them is cheap."""
    from .data import true_runs

    columns = mask.reshape(len(mask), -1)
    for column in np.flatnonzero(columns.any(axis=0)):
        for start, stop in zip(*true_runs(columns[:, column])):
            yield int(column), int(start), int(stop)


def _within_runs(values: np.ndarray, runs: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
    """At each step of a run of True in ``runs``, ``ufunc`` (``np.maximum``: the highest)
    accumulated over the run's earlier observed ``values``; NaN elsewhere and at each run's
    first step (the shape of ``values``, `(n,)` or `(n, n_series)`)."""
    out = np.full(values.shape, np.nan)
    columns, flat_out = values.reshape(len(values), -1), out.reshape(len(out), -1)
    identity = -np.inf if ufunc is np.maximum else np.inf
    for column, start, stop in _runs(runs):
        run = columns[start:stop, column]
        flat_out[start + 1 : stop, column] = ufunc.accumulate(np.where(np.isfinite(run), run, identity))[:-1]
    return np.where(np.isinf(out), np.nan, out)


def _runs_reaching(runs: np.ndarray, x: np.ndarray, level: float) -> np.ndarray:
    """The runs of True in ``runs`` in which ``x`` reaches ``level`` somewhere; the shape of ``runs``."""
    kept = np.zeros_like(runs)
    flat_x, flat_kept = x.reshape(len(x), -1), kept.reshape(len(kept), -1)
    for column, start, stop in _runs(runs):
        if np.nanmax(flat_x[start:stop, column], initial=-np.inf) >= level:
            flat_kept[start:stop, column] = True
    return kept


def incident_runs(excursions: np.ndarray, x: np.ndarray, level: float = THRESHOLD) -> np.ndarray:
    """Each run of True in ``excursions`` extended over the steps after it whose surprise
    ``x`` (before the hold-off) is still ``level`` or more: the incident goes on although the
    series is no longer far enough from the forecast made before it to count as part of the
    excursion. The shape of ``excursions``, `(n,)` or `(n, n_series)`."""
    runs = excursions.copy()
    flat_runs, flat_x = runs.reshape(len(runs), -1), x.reshape(len(x), -1)
    for column, _, stop in _runs(excursions):
        while stop < len(flat_x) and flat_x[stop, column] >= level:
            flat_runs[stop, column] = True
            stop += 1
    return runs


def typical_peak(hold: int) -> float:
    """The median of the highest surprise ``(|e| - ABS_MEAN) / ABS_SD`` over ``hold`` steps of
    Gaussian residuals of unit spread: the bar a hold-off of that length typically sets (2.31
    for 24 steps, 3.44 for 168)."""
    from statistics import NormalDist

    highest = NormalDist().inv_cdf((1.0 + 0.5 ** (1.0 / max(int(hold), 1))) / 2.0)  # of |e|
    return (highest - ABS_MEAN) / ABS_SD


def beyond_range(values: np.ndarray, excursions: np.ndarray | None = None,
                 incidents: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """How far each value lies beyond the range of all the observed values before it.

    Args:
        values: `(n,)` or `(n, n_series)`, NaN where not observed (skipped: neither scored nor
            part of the range).
        excursions: the shape of ``values``, True at values scored but left out of the range
            of the values after them, except within their run of ``incidents`` (see
            :func:`beyond_recent_peak`); None: none.

    Returns:
        ``excess``, the shape of ``values``: ``max(0, y_t - max_{j<t} y_j, min_{j<t} y_j -
        y_t)``, 0 until two different values have been seen, NaN where ``values`` is;
        ``spread``, the same shape: ``max_{j<t} y_j - min_{j<t} y_j``, NaN until it is positive.
    """
    values = np.asarray(values, dtype=np.float64)
    observed = np.isfinite(values)
    ranged = observed if excursions is None else observed & ~excursions
    high = _before(np.maximum.accumulate(np.where(ranged, values, -np.inf), axis=0), -np.inf)
    low = _before(np.minimum.accumulate(np.where(ranged, values, np.inf), axis=0), np.inf)
    if excursions is not None:
        high = np.fmax(high, _within_runs(values, incidents, np.maximum))
        low = np.fmin(low, _within_runs(values, incidents, np.minimum))
    with np.errstate(invalid="ignore"):
        spread = high - low
        known = np.isfinite(spread) & (spread > 0)
        excess = np.where(known, np.maximum(np.maximum(values - high, low - values), 0.0), 0.0)
    return np.where(observed, excess, np.nan), np.where(known, spread, np.nan)


def range_exceedance(values: np.ndarray) -> np.ndarray:
    """:func:`beyond_range`'s excess as a fraction of the range (the shape of ``values``), 0
    inside it or before there is one, NaN where ``values`` is."""
    return _fraction_of_range(*beyond_range(values))


def _fraction_of_range(excess: np.ndarray, spread: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(excess > 0, excess / spread, excess)


def typical_step(values: np.ndarray) -> np.ndarray:
    """Median of the earlier ``|y_j - y_{j-1}|`` before each step (over the observed pairs); NaN
    until ``MIN_FIT_POINTS`` of them are seen.

    Args:
        values: `(n,)` or `(n, n_series)`, NaN where not observed.

    Returns:
        the shape of ``values``.
    """
    values = np.asarray(values, dtype=np.float64)
    moves = _along_steps(np.abs(values - _before(values, np.nan)))
    return moves.expanding(min_periods=MIN_FIT_POINTS).median().shift(1).to_numpy()


def range_score(values: np.ndarray, tolerance: float = RANGE_TOLERANCE, steps: float = RANGE_STEPS,
                excursions: np.ndarray | None = None, incidents: np.ndarray | None = None) -> np.ndarray:
    """``THRESHOLD`` times the smaller of how far each value lies beyond the range of the earlier
    values, as a fraction of that range over ``tolerance``, and in typical steps
    (:func:`typical_step`) over ``steps``.

    Args:
        values: `(n,)` or `(n, n_series)`, NaN where not observed.
        excursions, incidents: the shape of ``values``, as in :func:`beyond_range`; the
            excursions are left out of the typical step too.

    Returns:
        the shape of ``values``, >= 0: 0 inside the range and until the typical step is known
        (a typical step of 0, a series that mostly stands still, or ``steps`` 0 sets no bar in
        steps); NaN where ``values`` is.
    """
    excess, spread = beyond_range(values, excursions, incidents)
    step = typical_step(values if excursions is None else np.where(excursions, np.nan, values)) * steps
    with np.errstate(invalid="ignore", divide="ignore"):
        by_steps = np.where(step > 0, excess / step, np.where(step == 0, np.inf, 0.0))
    return THRESHOLD * np.minimum(_fraction_of_range(excess, spread) / tolerance, by_steps)


def surprise(residuals: np.ndarray, calibration: dict[str, Any],
             excursions: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The online-standardised absolute residual, before the hold-off.

    Args:
        residuals: `(n,)` one-step residuals in scaled units, NaN where not observed; or
            `(n, n_series)`.
        calibration: with ``centre`` and ``spread`` (the starting estimates) and, from
            scoring version 6, ``prior_df``, numbers or one per series `(n_series,)`.
        excursions: the shape of ``residuals``, True at steps that are standardised but left
            out of the running estimates of the steps after them (None: none).

    Returns:
        ``x``: ``(|e_t| - μ_t) / σ_t`` (NaN where the residual is; ``|e_t|`` on the Gaussian
        scale where ``prior_df`` is given); ``e``: the residual less
        the running centre; ``rms``: the running root mean square of ``e`` before each step,
        the scale the stillness statistic measures movement in; each the shape of
        ``residuals``.
    """
    residuals = np.asarray(residuals, dtype=np.float64)
    # what the running estimates of later steps see: every step but the excursions
    kept = lambda values: values if excursions is None else np.where(excursions, np.nan, values)  # noqa: E731
    spread = np.asarray(calibration["spread"], dtype=np.float64)
    deviation = residuals - running_centre(kept(residuals), np.asarray(calibration["centre"], dtype=np.float64))
    size = np.abs(deviation)
    prior = float(calibration.get("prior_points", PRIOR_POINTS))
    mean, sd = running_mean_sd(kept(size), ABS_MEAN * spread, ABS_SD * spread, prior)
    rms = np.sqrt(mean**2 + sd**2)  # of the residuals as they are: the stillness measures movement in it
    if season := calibration.get("phase_season"):
        # |e| over its phase's spread is a Student's t deviate (the spread rests on a few
        # weeks of that phase); its Gaussian equivalent, in the series' units again
        ratio, points = phase_ratio(kept(size), mean, int(season))
        spread_now = np.sqrt(mean**2 + sd**2)
        size = spread_now * gaussian_equivalent(size / (ratio * spread_now), PHASE_DF_PER_POINT * points)
        mean, sd = running_mean_sd(kept(size), ABS_MEAN * spread, ABS_SD * spread, prior)
    prior_df = calibration.get("prior_df")
    if prior_df is not None:
        seen = _before(np.cumsum(np.isfinite(kept(size)), axis=0), 0.0)
        scale = np.sqrt(mean**2 + sd**2)
        size = scale * gaussian_equivalent(size / scale, np.asarray(prior_df, dtype=np.float64) + seen)
    return (size - mean) / sd, deviation, rms


def phase_contrast(residuals: np.ndarray, season: int) -> float:
    """How many times as large the residuals are, on average, in the noisiest part of the season
    as in the calmest: the mean absolute deviation from their median in each of
    ``PHASE_PARTS`` equal parts of the season (each phase counted by its position in
    ``residuals``); NaN with fewer than two seasons or a part with fewer than
    ``PHASE_MIN_PER_PART`` residuals.

    Args:
        residuals: `(n,)` one-step residuals, NaN where not observed.
    """
    residuals = np.asarray(residuals, dtype=np.float64)
    finite = np.isfinite(residuals)
    if season < 2 or finite.sum() < 2 * season:
        return math.nan
    size = np.abs(residuals - np.median(residuals[finite]))
    parts = np.arange(len(residuals)) % season * min(PHASE_PARTS, season) // season
    sums = np.bincount(parts[finite], weights=size[finite], minlength=min(PHASE_PARTS, season))
    counts = np.bincount(parts[finite], minlength=min(PHASE_PARTS, season))
    if (counts < PHASE_MIN_PER_PART).any():
        return math.nan
    means = sums / counts
    return float(means.max() / means.min()) if means.min() > 0 else math.inf


def phase_ratio(size: np.ndarray, mean: np.ndarray, season: int) -> tuple[np.ndarray, np.ndarray]:
    """How large the residuals usually are at each step's phase of the season, relative to the
    series' usual size: what ``|e_t|`` is divided by before it is standardised.

    A busy hour's residuals are larger than a quiet night's; measured against one yardstick for
    every hour, the night's incidents were not seen at all, and a busy evening's noise raised
    the peak the hold-off holds. The phase's size is the mean ``|e|`` (each at most
    ``PHASE_CLIP`` times ``mean``) over the same phase, and ``season // PHASE_STEPS_PER_NEIGHBOUR``
    steps (at least one) either side, in each of the last ``PHASE_SEASONS`` seasons, with one
    season's worth of pseudo-observations at ``mean``; causal, as it looks only at earlier
    seasons. The ratio is kept within ``1 / PHASE_MAX_RATIO`` and ``PHASE_MAX_RATIO``.

    Args:
        size: `(n,)` or `(n, n_series)` the absolute residuals ``|e_t|``, NaN where missing.
        mean: the shape of ``size``: the running mean of the earlier ``|e|``.
        season: steps per season, 2 or more.

    Returns:
        two arrays of the shape of ``size``: the ratio, positive and finite; and the residuals
        (pseudo-observations included) the phase's size rests on.
    """
    half = max(1, season // PHASE_STEPS_PER_NEIGHBOUR)
    clipped = np.minimum(size, PHASE_CLIP * mean)
    sums, counts = trailing_sums(clipped, 2 * half + 1)  # at u: the steps from u - 2·half to u
    total, count = np.zeros_like(sums), np.zeros_like(sums)
    for back in range(1, PHASE_SEASONS + 1):
        # the neighbourhood of step t one season ``back``: it ends at t - back·season + half < t
        shift = back * season - half
        if shift >= len(sums):
            break
        total[shift:] += sums[: len(sums) - shift]
        count[shift:] += counts[: len(counts) - shift]
    prior = 2 * half + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (total + prior * mean) / ((count + prior) * mean)
    return np.clip(np.nan_to_num(ratio, nan=1.0), 1.0 / PHASE_MAX_RATIO, PHASE_MAX_RATIO), count + prior


def gaussian_equivalent(u: np.ndarray, df: np.ndarray) -> np.ndarray:
    """The standard normal deviate as far in the tail as ``u`` is in Student's t with ``df``
    degrees of freedom (``u >= 0``, the shape of both broadcast; NaN where ``u`` is); rising
    with ``u`` (but for a step of under 3e-5 where the expansion hands over to the exact
    value), finite for finite ``u``.

    A residual measured against a spread estimated from few residuals is more often large
    than against the true spread; in Gaussian terms it is less surprising than it looks.
    """
    u, df = np.broadcast_arrays(np.asarray(u, dtype=np.float64), np.asarray(df, dtype=np.float64))
    # the Cornish-Fisher expansion to second order, within 3e-5 of the exact value where used
    out = u - (u**3 + u) / (4.0 * df) + (13.0 * u**5 + 8.0 * u**3 + 3.0 * u) / (96.0 * df**2)
    exact = (df < EXACT_DF_BELOW) | (u > EXPANSION_UP_TO)
    if exact.any():
        from scipy.special import ndtri, stdtr

        tail = stdtr(df[exact], -u[exact])
        deviate = -ndtri(tail)
        # beyond float64's range the tail is taken from its first term, in logarithms
        far = tail < 1e-300
        if far.any():
            deviate[far] = _deviate_of_log_tail(_log_t_tail(u[exact][far], df[exact][far]))
        out[exact] = deviate
    return np.maximum(out, 0.0)


def _log_t_tail(u: np.ndarray, df: np.ndarray) -> np.ndarray:
    """``log P(T > u)`` for Student's t with ``df`` degrees of freedom, ``u`` far in the tail:
    the density at ``u`` times ``(df + u²) / (df · u)``, its tail's first-order term (within
    1e-3 where the tail is below 1e-300)."""
    from scipy.special import gammaln

    log_density = (gammaln((df + 1.0) / 2.0) - gammaln(df / 2.0) - 0.5 * np.log(df * math.pi)
                   - (df + 1.0) / 2.0 * np.log1p(u**2 / df))
    return log_density + np.log((df + u**2) / (df * u))


def _deviate_of_log_tail(log_tail: np.ndarray) -> np.ndarray:
    """The ``z`` with ``log P(Z > z) = log_tail`` for a standard normal Z and ``log_tail``
    far below 0, from ``P(Z > z) ≈ φ(z) / z``."""
    z = np.sqrt(-2.0 * log_tail)
    for _ in range(4):  # converges to ~1e-6 at the tails that reach here (z > 37)
        z = np.sqrt(-2.0 * log_tail - math.log(2.0 * math.pi) - 2.0 * np.log(z))
    return z


def scores_and_reasons(
    residuals: np.ndarray,
    calibration: dict[str, Any],
    expected_steps: np.ndarray | None = None,
    values: np.ndarray | None = None,
    excursions: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Anomaly score of every step of one series (causal: step t uses steps up to t only),
    and which statistic gives it.

    Args:
        residuals: `(n,)` one-step residuals in scaled units, NaN where the value is missing;
            or `(n, n_series)`, a batch of series sharing their settings (see
            :func:`score_batches`).
        calibration: the series' ``anomaly`` entry, from :func:`calibrate_series` (for a
            batch, ``centre``, ``spread`` and ``prior_df`` one per series `(n_series,)`). Entries from older
            models (without ``hold``) are scored the same way, with the default hold-off and
            stillness settings; those without ``range_tolerance`` without the range score.
        expected_steps: ``ŷ_t - y_{t-1}`` for the stillness score, the shape of ``residuals``
            (None: no stillness).
        values: `(n_steps,)` (or `(n_steps, n_series)`) the series in any units, NaN where
            missing, ending with the ``n`` scored steps (the steps before them are history) for
            the range score (None: no range score).
        excursions: the shape of ``residuals``, True at the steps of excursions the series
            came back from (:func:`cleaned_expectations`). Those whose surprise reaches
            :data:`GLITCH_SURPRISE` (glitches) are scored, but left out of what the steps
            after them are measured against (the running estimates, the hold-off's peak, the
            range), so that one reading of a hundred times the level does not hide every later
            incident (None: none). An excursion is known once the series is back, within
            the horizon.

    Returns:
        scores >= 0, the shape of ``residuals``, NaN exactly where ``residuals`` is NaN; and
        the same shape of ``int8``: the index in :data:`REASONS` of the statistic that gives
        the score, -1 where the score is 0 or NaN.
    """
    residuals = np.asarray(residuals, dtype=np.float64)
    hold = int(calibration.get("hold") or local_window_for(calibration.get("local_window") or 0))
    if excursions is not None:
        excursions = np.asarray(excursions, dtype=np.float64) == 1  # padded with NaN in a batch
        if excursions.any():
            excursions = _runs_reaching(excursions, surprise(residuals, calibration)[0], GLITCH_SURPRISE)
    x, deviation, rms = surprise(residuals, calibration, excursions)
    incidents = None if excursions is None else incident_runs(excursions, x)
    parts = [beyond_recent_peak(x, hold, prior=calibration.get("prior_peak", 0.0), excursions=excursions,
                                incidents=incidents)]
    kinds = [REASONS.index("surprise")]
    if expected_steps is not None:
        if excursions is not None:
            # a step within an excursion is measured from what the model expected at the step
            # before, ŷ_t - ŷ_{t-1} = (ŷ_t - y_{t-1}) + r_{t-1}: in a sensor stuck at 50000
            # the model expected a fall of 49500 at every step, saw none, and the series
            # looked still for hours after
            within = excursions & np.concatenate([np.zeros_like(excursions[:1]), excursions[:-1]])
            earlier = np.concatenate([np.full_like(residuals[:1], np.nan), residuals[:-1]])
            expected_steps = np.where(within, expected_steps + earlier, expected_steps)
        windows = calibration.get("still_windows", STILL_WINDOWS)
        floor = calibration.get("still_floor", STILL_FLOOR)
        margin = calibration.get("still_margin", STILL_MARGIN)
        min_spread = calibration.get("still_min_spread", STILL_MIN_SPREAD)
        for w, stat in zip(windows, stillness_statistics(deviation / rms, expected_steps, rms, windows, floor)):
            # held as always: a window's stillness is the series', not one excursion step's
            parts.append(beyond_recent_peak(online_stillness(stat, margin, min_spread), hold, gap=w))
            kinds.append(REASONS.index("stillness"))
    tolerance = calibration.get("range_tolerance")
    if values is not None and tolerance:
        before = np.zeros((len(values) - len(residuals), *residuals.shape[1:]), dtype=bool)
        by_range = range_score(values, tolerance, calibration.get("range_steps", RANGE_STEPS),
                               *(None if m is None else np.concatenate([before, m]) for m in (excursions, incidents)))
        parts.append(by_range[len(values) - len(residuals):])
        kinds.append(REASONS.index("range"))
    score = np.where(np.isnan(residuals), np.nan, np.fmax.reduce(parts))
    strongest = np.argmax(np.nan_to_num(np.stack(parts), nan=-np.inf), axis=0)
    reason = np.where(score > 0, np.asarray(kinds, dtype=np.int8)[strongest], np.int8(-1))
    return score, reason


def score_residuals(
    residuals: np.ndarray,
    calibration: dict[str, Any],
    expected_steps: np.ndarray | None = None,
    values: np.ndarray | None = None,
    excursions: np.ndarray | None = None,
) -> np.ndarray:
    """The scores of :func:`scores_and_reasons` alone."""
    return scores_and_reasons(residuals, calibration, expected_steps, values, excursions)[0]




#: The calibration entries :func:`scores_and_reasons` reads besides each series' own ``centre``
#: and ``spread``: series that agree on all of them are scored together.
SCORE_SETTINGS = ("hold", "prior_peak", "local_window", "prior_points", "still_windows", "still_floor",
                  "still_margin", "still_min_spread", "range_tolerance", "range_steps", "phase_season")
#: At most this many steps x series in one batch of :func:`score_batches` (2 MB per array):
#: pandas' cost per call is then spread over 250 series of a thousand steps, and the score's
#: temporaries need no more memory than the rest of ``detect-anomalies`` (measured: 1,000 series,
#: 8 MB per array, no faster and 135 MB more at the peak).
BATCH_CELLS = 250_000


def _side_by_side(arrays: list[np.ndarray], n_steps: int) -> np.ndarray:
    """`(n_steps, len(arrays))`: the 1-D ``arrays`` as columns, padded with NaN at the end."""
    out = np.full((n_steps, len(arrays)), np.nan)
    for column, array in enumerate(arrays):
        out[: len(array), column] = array
    return out


def in_batches(
    function: Callable[..., np.ndarray],
    calibrations: list[dict[str, Any]],
    arrays: list[tuple[np.ndarray, ...]],
    settings: tuple[str, ...],
    cells: int = BATCH_CELLS,
) -> list[np.ndarray]:
    """``function(calibration, *series_arrays)`` of many series, computed a batch at a time.

    ``function`` must work along axis 0 and treat each column as a series of its own, as the
    scoring functions here do: series whose calibrations agree on ``settings`` (and whose
    arrays differ in length by as much) are stacked side by side (longest first, shorter ones
    padded with NaN at the end, which no earlier step sees), at most ``cells`` steps x series
    at a time (one series at least), with ``centre``, ``spread`` and ``prior_df`` one per series.

    Args:
        arrays: per series a tuple of 1-D arrays; the first has the result's length.

    Returns:
        per series what ``function`` gives for it alone.
    """
    import json

    groups: dict[tuple, list[int]] = {}
    for i, (calibration, series) in enumerate(zip(calibrations, arrays)):
        key = (*(len(a) - len(series[0]) for a in series), *(json.dumps(calibration.get(k)) for k in settings))
        groups.setdefault(key, []).append(i)
    out: list[np.ndarray] = [np.empty(0)] * len(arrays)
    for members in groups.values():
        members.sort(key=lambda i: -max(len(a) for a in arrays[i]))
        while members:
            size = max(1, cells // max(1, *(len(a) for a in arrays[members[0]])))
            batch, members = members[:size], members[size:]
            calibration = {**calibrations[batch[0]],
                           "centre": np.array([calibrations[i]["centre"] for i in batch], dtype=np.float64),
                           "spread": np.array([calibrations[i]["spread"] for i in batch], dtype=np.float64)}
            if any(calibrations[i].get("prior_df") is not None for i in batch):
                calibration["prior_df"] = np.array([calibrations[i].get("prior_df") or np.inf for i in batch])
            stacked = [_side_by_side([arrays[i][k] for i in batch], len(arrays[batch[0]][k]))
                       for k in range(len(arrays[batch[0]]))]
            result = function(calibration, *stacked)
            for column, i in enumerate(batch):
                out[i] = result[: len(arrays[i][0]), column]
    return out


def score_batches(
    residuals: list[np.ndarray],
    calibrations: list[dict[str, Any]],
    expected_steps: list[np.ndarray],
    values: list[np.ndarray],
    excursions: list[np.ndarray] | None = None,
    cells: int = BATCH_CELLS,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """:func:`scores_and_reasons` of many series, the same scores, computed :func:`in_batches`
    of series that agree on :data:`SCORE_SETTINGS`.

    Args:
        residuals: per series `(n_i,)`.
        calibrations: per series its ``anomaly`` entry.
        expected_steps: per series `(n_i,)`.
        values: per series `(n_i + history,)`, ``history`` steps before the scored ones.
        excursions: per series `(n_i,)` bool (see :func:`scores_and_reasons`); None: none.

    Returns:
        per series the scores `(n_i,)`, and per series the reasons `(n_i,)`.
    """
    if excursions is None:
        excursions = [np.zeros(len(r), dtype=bool) for r in residuals]
    both = in_batches(lambda calibration, r, s, v, x: np.stack(scores_and_reasons(r, calibration, s, v, x), axis=-1),
                      calibrations, list(zip(residuals, expected_steps, values, excursions)), SCORE_SETTINGS, cells)
    return [pair[:, 0] for pair in both], [pair[:, 1].astype(np.int8) for pair in both]


def calibrate_series(residuals: np.ndarray, split: int, local_window: int = 2 * MIN_LOCAL_WINDOW,
                     season: int = 1) -> dict[str, Any]:
    """Fit one series' starting estimates on its residuals up to the end of training.

    Args:
        residuals: `(n,)` one-step residuals, NaN where not observed.
        split: index of the first validation residual: the centre and spread come from the
            residuals from there on (out of sample, as new data will be).
        local_window: steps of the local scale and of the hold-off.
        season: the series' seasonal period, for the phase scale (:func:`phase_ratio`), used
            where the residuals up to the end of training vary with the phase by
            :data:`PHASE_MIN_CONTRAST` or more (:func:`phase_contrast`).

    Returns:
        JSON-safe ``{"scoring", "centre", "spread", "local_window", "replace_above", "hold",
        "prior_peak", "prior_points", "prior_df", "still_windows", "still_floor", "still_margin", "still_min_spread",
        "range_tolerance", "range_steps", "phase_season"}``: the settings are stored so that a
        model keeps scoring as it was calibrated.
    """
    validation = np.asarray(residuals, dtype=np.float64)[split:]
    centre, spread = robust_centre_spread(validation)
    return {
        "scoring": SCORING_VERSION,
        "centre": centre,
        "spread": spread,
        "local_window": int(local_window),
        "replace_above": REPLACE_ABOVE,
        "hold": int(local_window),
        "prior_peak": typical_peak(local_window),
        "prior_points": PRIOR_POINTS,
        "prior_df": DF_PER_POINT * max(int(np.isfinite(validation).sum()), 1),
        "still_windows": list(STILL_WINDOWS),
        "still_floor": STILL_FLOOR,
        "still_margin": STILL_MARGIN,
        "still_min_spread": STILL_MIN_SPREAD,
        "range_tolerance": RANGE_TOLERANCE,
        "range_steps": RANGE_STEPS,
        "phase_season": int(season) if phase_contrast(residuals, season) >= PHASE_MIN_CONTRAST else None,
    }


# --- with a network -------------------------------------------------------------------------


def one_step_expectations(network: Any, features: list[np.ndarray], lookback: int, starts: list[int], *,
                          level: str) -> list[np.ndarray]:
    """Scaled one-step-ahead expectations for every step from ``start`` to the end of each series.

    All series go through the network together, a bounded number of windows at a time.

    Args:
        features: per series `(n_steps, n_features)` scaled, target in channel 0.
        starts: per series the first step to expect (``>= lookback``).
        level: what the network's windows are relative to (``artifacts.model_level``).

    Returns:
        per series `(n_steps - start,)`.
    """
    from .forecasting import predict_scaled_parts

    windows = [input_windows(f, lookback)[start - lookback : len(f) - lookback] for f, start in zip(features, starts)]
    return predict_scaled_parts(network, windows, level=level, step=0)


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


def scoring_units(scaled: np.ndarray, log_scale: float | None) -> np.ndarray:
    """Target values from the model's scaled units to the units they are scored in.

    A model of the logarithm (``log_scale``: the standard deviation of the training part's
    logarithm) is scored on the values themselves, in units of the training part's geometric
    mean: in the logarithm a surge counts in proportion to the level it starts from, and on
    NAB models of the logarithm scored that way missed incidents that plain models found
    (BENCHMARKS.md).
    """
    return scaled if log_scale is None else np.exp(np.asarray(scaled, dtype=np.float64) * log_scale)


def scored_residuals_and_steps(
    target: np.ndarray, expected: np.ndarray, start: int, missing: np.ndarray | None, log_scale: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`residuals_and_steps` in the units of :func:`scoring_units`."""
    return residuals_and_steps(scoring_units(target, log_scale), scoring_units(expected, log_scale), start, missing)


def expectation_source(calibration: dict[str, Any]) -> str:
    """Where a series' expectations come from (:data:`EXPECTATION_SOURCES`); older models: the model."""
    return calibration.get("expected_by", "model")


def seasonal_median_expectations(target: np.ndarray, start: int, season: int) -> np.ndarray:
    """One-step expectations of the seasonal median for the steps from ``start`` on: the median
    of the values ``season``, ``2·season`` ... ``SEASONS_BACK·season`` steps back, of those there
    are (the previous value where there is no season of history yet).

    Args:
        target: `(n_steps,)` scaled target (missing values filled).

    Returns:
        `(n_steps - start,)`.
    """
    target = np.asarray(target, dtype=np.float64)
    steps = np.arange(start, len(target))
    previous = target[steps - 1]
    back = steps[:, None] - season * np.arange(1, SEASONS_BACK + 1)[None, :]
    seasons_back = np.where(back >= 0, target[np.maximum(back, 0)], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: no season yet
        median = np.nanmedian(seasons_back, axis=1)
    return np.where(np.isfinite(median), median, previous)


def forecast_filled(network: Any, features: list[np.ndarray], missing: list[np.ndarray], lookback: int,
                    sources: list[str], *, level: str) -> list[np.ndarray]:
    """Each series' scaled features with its target's missing steps (those with a whole
    window of history before them) set to the network's forecasts from the steps before each
    run of them, for the series whose expectations come from the network.

    Reading fills a gap from the values before it (a season back, or the last value), which
    on a Monday morning is Sunday's: the windows after the gap then showed a fall that never
    happened, and the steps after it were flagged by the dozen. The network's own forecast is
    what it would have expected there; the first value after the gap is then measured against
    what the network expected from before it. A run longer than the horizon is forecast a
    horizon at a time; the runs of a series in time order, so each sees the ones before it
    filled. Covariates keep reading's fill.

    Args:
        features: per series `(n_steps, n_features)` scaled, target in channel 0.
        missing: per series `(n_steps,)` True where the target was not observed.
        sources: per series one of :data:`EXPECTATION_SOURCES`.
        level: as in :func:`one_step_expectations`.

    Returns:
        per series `(n_steps, n_features)`; the arrays given where nothing changes.
    """
    from .forecasting import predict_scaled

    filled = list(features)
    runs: dict[int, list[list[int]]] = {}  # series -> [first step, steps left] of each run, in time order
    for i, (absent, source) in enumerate(zip(missing, sources)):
        if source != "model" or not absent[lookback:].any():
            continue
        starts, stops = true_runs(absent)
        runs[i] = [[int(a), int(b - a)] for a, b in zip(starts, stops) if a >= lookback]
        if runs[i]:
            filled[i] = features[i].copy()
    horizon = int(network.output_shape[-1])
    while pending := [i for i in runs if runs[i]]:
        windows = np.stack([filled[i][runs[i][0][0] - lookback : runs[i][0][0]] for i in pending])
        for i, forecast in zip(pending, predict_scaled(network, windows, level=level)):
            first, left = runs[i][0]
            n = min(left, horizon)
            filled[i][first : first + n, 0] = forecast[:n]
            if left > n:
                runs[i][0] = [first + n, left - n]
            else:
                runs[i].pop(0)
    return filled


def plain_expectations(
    network: Any, features: list[np.ndarray], lookback: int, sources: list[str], seasons: list[int], *, level: str
) -> list[np.ndarray]:
    """Each series' one-step expectations from its source, for every step from ``lookback`` on;
    the network runs on the series it gives expectations for only.

    Args:
        features: per series `(n_steps, n_features)` scaled, target in channel 0.
        sources: per series one of :data:`EXPECTATION_SOURCES`.
        seasons: per series its seasonal period (for ``"seasonal-median"``).
        level: as in :func:`one_step_expectations`.

    Returns:
        per series `(n_steps - lookback,)`.
    """
    by_model = [i for i, source in enumerate(sources) if source == "model"]
    expected = [seasonal_median_expectations(f[:, 0], lookback, season) if source != "model" else np.empty(0)
                for f, source, season in zip(features, sources, seasons)]
    parts = one_step_expectations(network, [features[i] for i in by_model], lookback, [lookback] * len(by_model),
                                  level=level)
    for i, part in zip(by_model, parts):
        expected[i] = part
    return expected


#: At most this many times the extreme steps are judged against the cleaned expectations
#: (see :func:`cleaned_expectations`); each time only some drop out, and two or three suffice.
CLEANING_ROUNDS = 6


def cleaned_expectations(
    network: Any,
    features: list[np.ndarray],
    lookback: int,
    expected: list[np.ndarray],
    calibrations: list[dict[str, Any]],
    missing: list[np.ndarray | None] | None = None,
    log_scales: list[float | None] | None = None,
    seasons: list[int] | None = None,
    *,
    level: str,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One-step expectations with extreme points taken out of their source's inputs, and the
    excursions taken out whole.

    A step whose residual is at least ``replace_above`` scales from the centre (per its
    series' calibration) is replaced by its expectation in the inputs of the steps after it
    (the model's input windows, or the values the seasonal median takes), and those steps are
    expected again; the network's, all series in one batch. An excursion of several steps
    that the series comes back from within the horizon is replaced by the forecast from
    before it instead (:func:`_take_out_excursions`). The extreme steps are then judged again
    against the cleaned expectations, and those no longer extreme there put back, until
    none is (at most :data:`CLEANING_ROUNDS` times). Calibrations without ``replace_above``
    (older models) keep their expectations.

    Args:
        features: per series `(n_steps, n_features)` scaled.
        expected: per series `(n_steps - lookback,)` from :func:`plain_expectations`.
        calibrations: per series; :func:`expectation_source` says where its expectations
            come from.
        log_scales: per series what :func:`scoring_units` takes, or None: every series scored
            in the model's units.
        seasons: per series its seasonal period (needed for ``"seasonal-median"`` sources).
        level: as in :func:`one_step_expectations`.

    Returns:
        per series the expectations `(n_steps - lookback,)`; and per series `(n_steps -
        lookback,)` True at the steps of the excursions taken out whole and still extreme
        at the end (a glitch the series came back from), which :func:`scores_and_reasons`
        leaves out of its running estimates.
    """
    from .forecasting import predict_scaled_parts

    cleaned = [np.array(e, dtype=np.float64) for e in expected]
    log_scales = log_scales if log_scales is not None else [None] * len(features)
    pending = [i for i, calibration in enumerate(calibrations) if calibration.get("replace_above")]
    taken_out = {i: np.zeros(len(features[i]), dtype=bool) for i in pending}
    returned: dict[int, np.ndarray] = {}
    targets_in = {i: features[i][:, 0] for i in pending}  # the target channel as the inputs have it
    # A step after an extreme one is expected from inputs that still hold it, so its own
    # residual can look extreme too (a glitch of 100 times the level makes the next step's
    # expectation wild), and it was replaced by that wild expectation, which the steps after
    # it then took in. So the extreme steps are judged again against the cleaned expectations
    # and kept only if still extreme there (never more of them: else a level shift's new
    # level would be taken out step by step), until they no longer change. A run of extreme
    # steps after which the series is back where the model expected it before the run (a
    # sensor stuck at 50000 for three readings) is replaced whole by that forecast; the steps
    # of one that does not come back (a level shift) keep their one-step expectations, which
    # let the new level in.
    for cleaning_round in range(CLEANING_ROUNDS):
        residuals, scored = {}, []  # in the model's units (taken out of the inputs) and in the scoring units
        for i in pending:
            target, absent = features[i][:, 0], None if missing is None else missing[i]
            residuals[i], _ = residuals_and_steps(target, cleaned[i], lookback, absent)
            scored.append((residuals[i] if log_scales[i] is None
                           else scored_residuals_and_steps(target, cleaned[i], lookback, absent, log_scales[i])[0],))
        standardised = in_batches(lambda calibration, r: standardise(r, calibration),
                                  [calibrations[i] for i in pending], scored, ("local_window",))
        proposed = {}
        for i, z, (scored_i,) in zip(pending, standardised, scored):
            extreme = np.zeros(len(features[i]), dtype=bool)
            extreme[lookback:] = np.nan_to_num(np.abs(z), nan=0.0) >= calibrations[i]["replace_above"]
            if cleaning_round:
                extreme &= taken_out[i]  # only ever fewer: see above
                replacements = targets_in[i]  # as the first round set them
            else:
                replacements = np.r_[features[i][:lookback, 0], cleaned[i]]  # the values the model expected there
            proposed[i] = [extreme, np.where(extreme, replacements, features[i][:, 0]), scored_i]
        if not cleaning_round:
            returned = _take_out_excursions(network, features, lookback, proposed, calibrations, log_scales,
                                            missing, level=level)
        batches, targets, changed = [], [], []
        for i in pending:
            extreme, values, _ = proposed[i]
            if np.array_equal(extreme, taken_out[i]):
                continue  # the values follow the steps: nothing changed
            changed.append(i)
            taken_out[i], targets_in[i] = extreme, values
            inputs = features[i].copy()
            inputs[:, 0] = values
            if expectation_source(calibrations[i]) != "model":
                cleaned[i] = seasonal_median_expectations(values, lookback, seasons[i])
                continue
            cleaned[i] = np.array(expected[i], dtype=np.float64)
            count = np.concatenate([[0], np.cumsum(extreme)])
            steps = np.arange(lookback, len(inputs))
            affected = steps[count[steps] > count[steps - lookback]]  # an extreme step in the window
            batches.append(input_windows(inputs, lookback)[affected - lookback])
            targets.append((i, affected - lookback))
        for (i, rows), values in zip(targets, predict_scaled_parts(network, batches, level=level, step=0)):
            cleaned[i][rows] = values
        pending = changed
        if not pending:
            break
    excursions = [np.zeros(len(f) - lookback, dtype=bool) for f in features]
    for i, steps in returned.items():
        excursions[i] = (steps & taken_out[i])[lookback:]
    return cleaned, excursions


def _take_out_excursions(network: Any, features: list[np.ndarray], lookback: int, proposed: dict[int, list],
                         calibrations: list[dict[str, Any]], log_scales: list[float | None],
                         missing: list[np.ndarray | None] | None, *, level: str) -> dict[int, np.ndarray]:
    """Replace each excursion of a model-expected series by the forecast made before it.

    From each extreme step that starts a run in ``proposed`` (series -> ``[extreme, values,
    scored residuals]``, values the target channel of the inputs), the series is followed
    against the network's forecast from the window before it: while its values stay
    ``replace_above`` scales (the scale before the run) from that forecast, they are part of
    the excursion. One that ends within the horizon (a sensor stuck at 50000 for three
    readings) is taken out whole, each value replaced by the forecast and marked extreme, so
    that the steps after it are not expected from values the one-step expectations of the
    excursion left in. One that lasts (a level shift) keeps its one-step expectations, which
    let the new level in. The runs of a series are followed in time order, each window with
    the excursions before it taken out; the series side by side.

    Returns:
        per series of ``proposed``, `(n_steps,)` True at the steps of the excursions taken out
        whole.
    """
    from .forecasting import predict_scaled

    horizon = int(network.output_shape[-1])
    returned = {i: np.zeros(len(features[i]), dtype=bool) for i in proposed}
    queue: dict[int, list[int]] = {}
    for i, (extreme, _, _) in proposed.items():
        if expectation_source(calibrations[i]) == "model":
            starts, _ = true_runs(extreme)
            queue[i] = [int(a) for a in starts if a >= lookback]
    while active := [i for i in queue if queue[i]]:
        firsts = [queue[i].pop(0) for i in active]
        windows = []
        for i, first in zip(active, firsts):
            window = features[i][first - lookback : first].copy()
            window[:, 0] = proposed[i][1][first - lookback : first]
            windows.append(window)
        for i, first, forecast in zip(active, firsts, predict_scaled(network, np.stack(windows), level=level)):
            extreme, values, scored_i = proposed[i]
            calibration, target = calibrations[i], features[i][:, 0]
            ahead = min(horizon, len(target) - first)
            away = (scoring_units(target[first : first + ahead], log_scales[i])
                    - scoring_units(forecast[:ahead], log_scales[i]) - calibration["centre"])
            scale = residual_scale(scored_i, calibration)[first - lookback]
            absent = (np.zeros(ahead, dtype=bool) if missing is None or missing[i] is None
                      else missing[i][first : first + ahead])
            far = (np.abs(away) >= calibration["replace_above"] * scale) & ~absent
            back = np.flatnonzero(~far)
            if not np.isfinite(scale):
                continue
            if not far[0]:
                # extreme only against an expectation made from the values before it: it stays
                values[first], extreme[first] = target[first], False
                stop = first + 1
            elif len(back):
                stop = first + int(back[0])
                values[first:stop] = forecast[: stop - first]
                extreme[first:stop] = returned[i][first:stop] = True
            else:
                continue  # it lasts past the horizon
            if stop < len(target) and extreme[stop]:
                queue[i].insert(0, stop)  # the rest of the run, against a forecast from before it
    return returned


def local_window_for(lookback: int) -> int:
    """Previous residuals the local scale looks at, and the steps of the hold-off: the
    lookback (by default two seasonal periods, so whole cycles), at least ``MIN_LOCAL_WINDOW``."""
    return max(MIN_LOCAL_WINDOW, int(lookback))


def validation_deviation(residuals: np.ndarray, split: int) -> float:
    """Mean absolute deviation from their median of the finite residuals from ``split`` on:
    how much of a source's validation error the scoring, which takes the centre off, still
    sees (NaN without any)."""
    values = np.asarray(residuals, dtype=np.float64)[split:]
    values = values[np.isfinite(values)]
    return float(np.mean(np.abs(values - np.median(values)))) if len(values) else math.nan


def calibrate(
    network: Any,
    prepared_features: list[np.ndarray],
    splits: list[int],
    lookback: int,
    missing: list[np.ndarray] | None = None,
    log_scales: list[float | None] | None = None,
    seasons: list[int] | None = None,
    *,
    level: str,
) -> dict[str, Any]:
    """Choose where each series' expectations come from and fit its starting estimates.

    Only data up to the end of training is used. For each source (the model and, when the
    training data hold a season before the validation part, the seasonal median) the residual
    centre and spread come from the series' validation part, once from the plain expectations
    (to find the extreme steps to take out of the inputs) and once from the cleaned ones. The
    seasonal median replaces the model when its cleaned validation residuals deviate at least
    :data:`SOURCE_MARGIN` less (:func:`validation_deviation`).

    Args:
        network: anything with ``predict(x, batch_size=..., verbose=0)`` and ``output_shape``.
        prepared_features: per series `(n_steps, n_features)` scaled.
        splits: per series the index of the first validation step.
        missing: per series `(n_steps,)` True where the target was filled in (not scored), or
            None when every value was observed.
        log_scales: per series, for a model of the logarithm, the standard deviation of the
            training part's logarithm (scored on the values, see :func:`scoring_units`); None.
        seasons: per series its seasonal period; None: no seasonal baseline.
        level: what the network's windows are relative to (``artifacts.model_level``).

    Returns:
        JSON-safe ``{"series": [calibration, …], "threshold": THRESHOLD}``; see
        :func:`calibrate_series`, plus ``expected_by`` (the source) and ``deviations`` (each
        source's :func:`validation_deviation`, in scoring units). The threshold is in the
        units of the online-standardised score and so the same for every model.
    """
    local_window = local_window_for(lookback)
    n_series = len(prepared_features)
    missing = missing if missing is not None else [None] * n_series
    log_scales = log_scales if log_scales is not None else [None] * n_series
    seasons = seasons if seasons is not None else [1] * n_series

    def candidate(source: str) -> list[dict[str, Any]]:
        """Every series' calibration with expectations from ``source``, and its deviation."""
        sources = [source] * n_series
        expected = plain_expectations(network, prepared_features, lookback, sources, seasons, level=level)
        # first pass: a scale to find the extreme steps; second: the estimates of cleaned residuals
        first = []
        for features, split, exp, absent, log_scale, season in zip(prepared_features, splits, expected, missing,
                                                                   log_scales, seasons):
            residuals, _ = scored_residuals_and_steps(features[:, 0], exp, lookback, absent, log_scale)
            first.append({**calibrate_series(residuals, split - lookback, local_window, season),
                          "expected_by": source})
        expected, _ = cleaned_expectations(network, prepared_features, lookback, expected, first, missing,
                                           log_scales, seasons, level=level)
        out = []
        for features, split, exp, absent, log_scale, season in zip(prepared_features, splits, expected, missing,
                                                                   log_scales, seasons):
            residuals, _ = scored_residuals_and_steps(features[:, 0], exp, lookback, absent, log_scale)
            calibration = {**calibrate_series(residuals, split - lookback, local_window, season),
                           "expected_by": source}
            if log_scale is not None:
                calibration["scored_on"] = "values"  # models of the logarithm calibrated before scored the log
            out.append((calibration, validation_deviation(residuals, split - lookback)))
        return out

    by_source = {source: candidate(source) for source in EXPECTATION_SOURCES}
    per_series = []
    for i in range(n_series):
        usable = [source for source in EXPECTATION_SOURCES
                  if source != "seasonal-median" or 1 < seasons[i] <= splits[i]]
        deviations = {source: by_source[source][i][1] for source in usable}
        seasonal = deviations.get("seasonal-median", math.nan)
        chosen = "seasonal-median" if seasonal < (1.0 - SOURCE_MARGIN) * deviations["model"] else "model"
        calibration = by_source[chosen][i][0]
        calibration["deviations"] = {s: (d if np.isfinite(d) else None) for s, d in deviations.items()}
        per_series.append(calibration)
    return {"series": per_series, "threshold": THRESHOLD}


@dataclass
class AnomalyResult:
    """Scored points and the threshold used.

    Attributes:
        frame: columns ``series, timestamp, value, expected, residual, score, is_anomaly,
            reason`` (which of :data:`REASONS` gives the score; missing where it is 0).
        threshold: score at or above which a point is flagged.
        targets: each series' target column, by series name.
        unscored: the trained series that are not in ``frame``: missing from the data, or
            with fewer than ``lookback`` rows in it.
    """

    frame: Any
    threshold: float
    targets: dict[str, str] = field(default_factory=dict)
    unscored: tuple[str, ...] = ()

    @property
    def n_flagged(self) -> int:
        """How many points of ``frame`` are flagged."""
        return int(self.frame["is_anomaly"].sum())

    def tail(self, n: int) -> AnomalyResult:
        """The last ``n`` points of each series, as ``detect_anomalies(last=n)`` returns them."""
        return AnomalyResult(self.frame.groupby("series", sort=False).tail(n).reset_index(drop=True),
                             self.threshold, self.targets, self.unscored)

    def since(self, after: Mapping[str, Any], last: int | None = None, reporter: Reporter = QUIET,
              again: Mapping[str, list] | None = None) -> AnomalyResult:
        """The points ``detect_anomalies(after=after, last=last, again=again)`` returns, from
        a result with every point."""
        import pandas as pd

        groups = [(name, pd.DatetimeIndex(rows["timestamp"]), rows["score"].notna().to_numpy(), rows.index)
                  for name, rows in self.frame.groupby("series", sort=False)]
        positions = points_written([group[:3] for group in groups], last, after, reporter, again)
        kept = [group[3][points] for group, points in zip(groups, positions)]
        frame = self.frame.loc[np.concatenate(kept) if kept else []].reset_index(drop=True)
        return AnomalyResult(frame, self.threshold, self.targets, self.unscored)

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
    last: int | None = None,
    reading: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    again: Mapping[str, Any] | None = None,
) -> AnomalyResult:
    """Score every point that has ``lookback`` points of history and flag the unusual ones.

    Args:
        data_path: data to score, read with the training options; None scores the data the
            model was trained on.
        threshold: flag scores at or above this; None uses the threshold stored at training
            (:data:`THRESHOLD` for a model calibrated by an older version, whose stored
            threshold is on another scale; ``reporter`` says so).
        last: return only the last ``last`` points of each series (a cron job that checks
            the newest data); they are scored with the whole history before them all the
            same, so their scores do not depend on ``last``.
        reading: how ``data_path`` is written where it differs from the training file
            (:func:`forecaster.forecasting.series_inputs`), e.g. ``{"dayfirst": True}``.
        after: return only the points later than these times, by series name (the newest
            points an earlier run scored: :func:`forecaster.alert_state.read_marks`); a
            series not in it is returned whole. With ``last`` as well, the newest ``last``
            scored ones of those and the points without a value after them, and
            ``reporter`` warns of each series that had more scored ones.
        again: points to return again, where the data has them, by series name (a
            state's ``pending``: points an earlier run wrote without a value).

    Raises:
        ArtifactError: the model was calibrated by a newer forecaster's anomaly scoring.

    Returns:
        An :class:`AnomalyResult`. ``expected`` is the one-step forecast of the model (or of
        the seasonal median, where calibration chose it), made from inputs in which extreme
        earlier points were replaced by their own expectations (see
        :func:`cleaned_expectations`). Points whose value was missing in the data are not
        scored and never flagged.
    """
    import pandas as pd

    from .artifacts import load_artifact, model_level
    from .forecasting import check_call, loaded_model_text, reading_text, series_inputs

    check_call("detect_anomalies", model_dir, data_path, reading,
               threshold=(threshold, "a number of 0 or more", False), last=(last, "a whole number of 1 or more", True))
    reporter = reporter_given("detect_anomalies", reporter)
    if threshold is not None and not threshold >= 0:
        raise ConfigError(f"--threshold must be 0 or more, got {threshold}")
    if last is not None and last < 1:
        raise ConfigError(f"--last must be at least 1, got {last}")
    if after is not None:
        after = as_times(after, "detect_anomalies")
    if again is not None:
        again = as_time_lists(again, "detect_anomalies")
    artifact = load_artifact(model_dir)
    reporter.detail(loaded_model_text(artifact))
    metadata = artifact.metadata
    lookback = metadata["network"]["lookback"]
    with reporter.status(reading_text(data_path)) as show:  # a spinner on a terminal meanwhile
        inputs = series_inputs(artifact, data_path, reporter, full_history=True, reading=reading, long_gaps="fill")
        newest = max(item.meta["anomaly"].get("scoring") or 0 for item in inputs)
        if newest > SCORING_VERSION:
            raise ArtifactError(
                f"{artifact.path} was calibrated for anomaly scoring version {newest}, newer than this "
                f"forecaster's {SCORING_VERSION}; upgrade forecaster, or retrain the model with this one"
            )
        if threshold is None:
            threshold = float(metadata["anomaly_threshold"])
            if any((item.meta["anomaly"].get("scoring") or 0) < THRESHOLD_SCALE_VERSION for item in inputs):
                # its threshold was fitted to the scores of an older version, on another scale
                reporter.warn(
                    f"{artifact.path} was calibrated by an older version of forecaster: scoring it the current "
                    f"way with the current threshold {THRESHOLD:g} instead of its {threshold:.2f}; retrain it to "
                    "store the current calibration"
                )
                threshold = THRESHOLD
        show(f"Expecting every point of {len(inputs):,} series")
        scaled = [item.scaler.transform(item.raw) for item in inputs]
        calibrations = [item.meta["anomaly"] for item in inputs]
        seasons = [int(item.meta.get("season") or 1) for item in inputs]
        level = model_level(metadata["network"])
        sources = [expectation_source(c) for c in calibrations]
        missing = [np.asarray(item.missing, dtype=bool) for item in inputs]
        scaled = forecast_filled(artifact.network, scaled, missing, lookback, sources, level=level)
        expected = plain_expectations(artifact.network, scaled, lookback, sources, seasons, level=level)
        log_scales = [_log_scale(item) for item in inputs]
        expected, excursions = cleaned_expectations(artifact.network, scaled, lookback, expected, calibrations,
                                                    missing, log_scales, seasons, level=level)

        show(f"Scoring {len(inputs):,} series")
        residuals, steps = zip(*(scored_residuals_and_steps(features[:, 0], exp, lookback, absent, log_scale)
                                 for features, exp, absent, log_scale in zip(scaled, expected, missing, log_scales)))
        # observed values, the unscored first ones too
        histories = [np.where(absent, np.nan, item.raw[:, 0]) for item, absent in zip(inputs, missing)]
        scores, reasons = score_batches(list(residuals), calibrations, list(steps), histories, excursions)

    kept = points_written([(item.meta["name"], item.index[lookback:], np.isfinite(series_scores))
                           for item, series_scores in zip(inputs, scores)], last, after, reporter, again)
    kept_values = [history[lookback:][points] for history, points in zip(histories, kept)]
    values = np.concatenate(kept_values)
    expected_values = np.concatenate([item.scaler.target_to_original(exp)[points]
                                      for item, exp, points in zip(inputs, expected, kept)])
    score = np.concatenate([series_scores[points] for series_scores, points in zip(scores, kept)])
    stamps = [item.index[lookback:][points] for item, points in zip(inputs, kept)]
    frame = pd.DataFrame(
        {
            "series": np.repeat(np.array([item.meta["name"] for item in inputs], dtype=object),
                                [len(v) for v in kept_values]),
            "timestamp": stamps[0].append(stamps[1:]),
            "value": values,
            "expected": expected_values,
            "residual": values - expected_values,
            "score": score,
            "is_anomaly": (np.nan_to_num(score, nan=0.0) >= threshold).astype(np.int8),
            "reason": pd.Categorical.from_codes(np.concatenate([r[points] for r, points in zip(reasons, kept)]),
                                                categories=REASONS),
        }
    )
    scored = {item.meta["name"] for item in inputs}
    return AnomalyResult(frame=frame, threshold=threshold,
                         targets={item.meta["name"]: item.meta.get("target", "value") for item in inputs},
                         unscored=tuple(meta["name"] for meta in metadata["series"] if meta["name"] not in scored))


def points_written(named_points: list[tuple[str, Any, np.ndarray]], last: int | None,
                   after: Mapping[str, Any] | None, reporter: Reporter = QUIET,
                   again: Mapping[str, list] | None = None) -> list[np.ndarray]:
    """The positions of the points to return in each series' times (``(name, times,
    scored)``, the times in order, ``scored`` True where a point has a score): the last ``last``;
    or, given ``after`` (a state's marks, ``{}`` on the first run), the points after the
    series' time in it, among which at most the newest ``last`` scored ones and the points
    without a score after them. Points without a value do not count against ``last`` there:
    a host whose rows come four hours late would otherwise have only its empty newest hours
    written, run after run, and never a scored one. Before them, the series' points at the
    times ``again`` gives, where there are such. ``reporter`` warns of each series whose
    earlier scored points are left out, and of each whose data ends before its mark."""
    from .forecasting import time_like

    written, cut, behind = [], [], []
    for name, stamps, scored in named_points:
        if after is None:
            written.append(np.arange(max(0, len(stamps) - last) if last else 0, len(stamps)))
            continue
        first = 0
        if name in after:
            mark = time_like(after[name], stamps)
            first = int(stamps.searchsorted(mark, side="right"))
            if len(stamps) and stamps[-1] < mark:
                behind.append((name, stamps[-1], mark))
        newer = np.flatnonzero(scored[first:])
        if last and len(newer) > last:
            if name in after:
                cut.append((name, len(newer)))
            first += int(newer[-last])
        points = np.arange(first, len(stamps))
        if again and again.get(name):
            where = stamps.get_indexer([time_like(when, stamps) for when in again[name]])
            points = np.concatenate([np.unique(where[(where >= 0) & (where < first)]), points])
        written.append(points)
    if cut:
        reporter.warn(f"more points arrived since the last run than --last {last} writes, so the earlier ones are "
                      f"not written: {first_few(f'{name} ({n:,})' for name, n in cut)}; pass a larger --last to write them "
                      "all")
    if behind:
        reporter.warn("the data ends before the newest point an earlier run with this --state scored, so nothing is "
                      f"written for {first_few(f'{name} (ends {end}, the mark is {mark})' for name, end, mark in behind)}: "
                      "an older export, or a clock that ran ahead; remove the state file to check them again")
    return written


def _log_scale(item) -> float | None:
    """What :func:`scoring_units` takes for a series: its scaler's spread of the logarithm if
    the model works on the logarithm and was calibrated on the values (see ``calibrate``)."""
    return item.scaler.log_spread if item.meta["anomaly"].get("scored_on") == "values" else None
