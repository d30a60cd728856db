"""Forecast the steps after the end of each series, with intervals from validation residuals."""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .artifacts import Artifact, load_artifact, model_level
from .baselines import SeasonalNaive
from .errors import ArtifactError, ConfigError, DataError
from .features import series_features
from .report import QUIET, Reporter, counted, reporter_given, short_times
from .scaling import SeriesScaler, nonpositive_target
from .windows import input_windows, relative_inputs, window_level

if TYPE_CHECKING:  # imported where frames are made: predict's start-up stays light
    import pandas as pd

    from .data import Series

#: Quantile levels at which the absolute normalised validation residuals are stored.
INTERVAL_LEVELS = np.linspace(0.0, 1.0, 201)
PREDICT_BATCH = 4096
#: Bytes of input windows copied at once when many windows are forecast (see
#: :func:`predict_scaled_parts`): memory stays bounded whatever the number of series.
PREDICT_CHUNK_BYTES = 16 * 2**20
#: Most forecasts made to recalibrate intervals on values that arrived after training
#: (:func:`arrival_origins`); about a second of the NumPy network's time on 2 cores.
RECALIBRATION_WINDOWS = 20_000
#: Intervals never shrink below this share of a series' usual width, however still the
#: window: a meter that stood still for a while may move again.
MIN_SPREAD_FACTOR = 0.5


def predict_scaled(network: Any, inputs: np.ndarray, *, level: str) -> np.ndarray:
    """Run the network on scaled windows.

    Args:
        inputs: `(n_windows, lookback, n_features)` scaled.
        level: what the network's windows are relative to (:func:`forecaster.artifacts.model_level`).

    Returns:
        `(n_windows, horizon)` scaled forecasts (window level added back).
    """
    if len(inputs) == 0:
        return np.empty((0, network.output_shape[-1]))
    shifted, _ = relative_inputs(inputs, level=level)
    outputs = network.predict(shifted, batch_size=PREDICT_BATCH, verbose=0)
    return outputs.astype(np.float64) + window_level(inputs, level)[:, None]


def predict_scaled_parts(network: Any, parts: list[np.ndarray], *, level: str,
                         step: int | None = None) -> list[np.ndarray]:
    """:func:`predict_scaled` of several arrays of windows, such as views of every window of
    each series, copying only a bounded number of windows at a time.

    Args:
        parts: each `(n_i, lookback, n_features)` scaled; all with the same window shape.
        level: as in :func:`predict_scaled`.
        step: keep only this forecast step (0: one step ahead); None keeps them all.

    Returns:
        per part `(n_i, horizon)`, or `(n_i,)` with ``step``.
    """
    if not parts:
        return []
    window_bytes = 4 * int(np.prod(parts[0].shape[1:]))
    chunk = max(PREDICT_BATCH, PREDICT_CHUNK_BYTES // max(window_bytes, 1))
    pieces: list[list[np.ndarray]] = [[] for _ in parts]
    group: list[tuple[int, slice]] = []
    filled = 0

    def run() -> None:
        outputs = predict_scaled(network, np.concatenate([parts[i][rows] for i, rows in group]), level=level)
        if step is not None:
            outputs = outputs[:, step]
        sizes = [rows.stop - rows.start for _, rows in group]
        for (i, _), values in zip(group, np.split(outputs, np.cumsum(sizes)[:-1])):
            pieces[i].append(values)

    for i, part in enumerate(parts):
        begin = 0
        while begin < len(part):
            take = min(chunk - filled, len(part) - begin)
            group.append((i, slice(begin, begin + take)))
            filled += take
            begin += take
            if filled == chunk:
                run()
                group, filled = [], 0
    if group:
        run()
    horizon = network.output_shape[-1]
    empty = np.empty((0,) if step is not None else (0, horizon))
    return [np.concatenate(p) if p else empty for p in pieces]


def window_spread(inputs: np.ndarray) -> np.ndarray:
    """How much the target moves within each window: the mean absolute step, scaled units.

    Intervals are scaled by it, relative to the series' typical value, so they widen in
    volatile stretches and narrow in calm ones: noise that grows with the level (sales, load)
    or comes in spells (temperatures, markets) gets intervals that follow it, where one width
    per series over-covers the calm stretches and under-covers the busy ones.

    Args:
        inputs: `(n_windows, lookback, n_features)` scaled, target in channel 0.

    Returns:
        `(n_windows,)`; 0 for a window of one step.
    """
    target = np.asarray(inputs[:, :, 0], dtype=np.float64)
    if target.shape[1] < 2:
        return np.zeros(len(target))
    return np.mean(np.abs(np.diff(target, axis=1)), axis=1)


def spread_factors(inputs: np.ndarray, reference: float | None) -> np.ndarray:
    """Per window, how much wider than usual its intervals are: the square root of its
    :func:`window_spread` over the series' typical one (``reference``), at least
    :data:`MIN_SPREAD_FACTOR`.

    The square root goes half-way (geometrically) between one width per series and a width
    proportional to the window's movement, which is only a noisy guess at the coming noise:
    on ETTh1's calm test period (linear model, horizon 96) the full ratio made the 80 %
    intervals cover 74 %, one width per series 89 %, the square root 82 %. That choice was
    made looking at those test windows; the sample backtests and M4 agreed with it.

    Args:
        inputs: `(n_windows, lookback, n_features)` scaled.
        reference: the series' median window spread on its validation part; None (a model
            from before intervals followed the spread) gives 1 for every window.

    Returns:
        `(n_windows,)`.
    """
    if not reference:
        return np.ones(len(inputs))
    return np.maximum(np.sqrt(window_spread(inputs) / reference), MIN_SPREAD_FACTOR)


def value_floor(values: np.ndarray) -> float | None:
    """0 for a series that never went below 0 and sat at 0 at least once (a count, the sales
    of a shop with days of none): its forecasts and interval bounds are not to go below it,
    where a model of differences or a symmetric interval would (a lower bound of -2 visits).
    None for any other series, which may well go lower than it has (a temperature measured
    in summer, a balance): nothing is clipped.

    Args:
        values: `(n_steps,)` the values known when the model was fitted, NaN where missing.
    """
    known = np.asarray(values, dtype=np.float64)
    known = known[np.isfinite(known)]
    return 0.0 if known.size and known.min() == 0.0 else None


def value_floors(series: Sequence[Series], ends: Sequence[int] | None = None) -> list[float | None]:
    """:func:`value_floor` of each series' values known (before ``ends``, where given), with
    the series of one target column taken together: they hold one quantity (the sales of
    every store), so where none of them went below 0 and one sat at 0, none is forecast
    below 0. A store whose sales shrank towards 0 without reaching it is then not forecast
    negative sales because another store had a day of none.
    """
    known = [np.where(s.missing, np.nan, s.values)[: None if ends is None else ends[i]] for i, s in enumerate(series)]
    lowest: dict[str, float] = {}
    for s, values in zip(series, known):
        finite = values[np.isfinite(values)]
        if finite.size:
            lowest[s.target] = min(lowest.get(s.target, math.inf), float(finite.min()))
    return [value_floor(values) if lowest.get(s.target) != 0.0 else 0.0 for s, values in zip(series, known)]


def floored(values: np.ndarray, floor: float | None) -> np.ndarray:
    """``values`` raised to ``floor`` where below it (see :func:`value_floor`); as they are for None."""
    return values if floor is None else np.maximum(values, floor)


def interval_calibration(normalized_residuals: np.ndarray) -> dict[str, Any]:
    """Summarise validation residuals for split-conformal intervals.

    Args:
        normalized_residuals: `(n_windows, horizon)` residuals, each divided by its window's
            spread factor and its series' residual scale, so that windows and series of
            different noise share one distribution.

    Returns:
        JSON-safe ``{"n": n_windows, "abs_quantiles": (horizon, len(INTERVAL_LEVELS))}``.
    """
    # NaN where a baseline had no value to repeat (a season back before the series began)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # All-NaN step: its quantiles are NaN
        quantiles = np.nanquantile(np.abs(normalized_residuals), INTERVAL_LEVELS, axis=0).T
    return {"n": int(len(normalized_residuals)), "abs_quantiles": quantiles.round(6).tolist()}


def normalized_residuals(actual: np.ndarray, forecasts: np.ndarray, factors: np.ndarray, scaler: SeriesScaler,
                         residual_scale: float = 1.0) -> np.ndarray:
    """Forecast errors in the units intervals are calibrated in: scaled, divided by each
    window's spread factor and by the series' residual scale.

    Args:
        actual: `(n_windows, horizon)` in the data's units, NaN where unknown.
        forecasts: `(n_windows, horizon)` in the data's units.
        factors: `(n_windows,)` :func:`spread_factors` of the windows the forecasts start
            from (given rather than computed, as several methods' forecasts share them).

    Returns:
        `(n_windows, horizon)`.
    """
    return (scaler.target_to_scaled(actual) - scaler.target_to_scaled(forecasts)) / factors[:, None] / residual_scale


def arrived_origins(n_known: int, n_trained: int, lookback: int, horizon: int, per_step: int) -> np.ndarray:
    """First forecast steps of the forecasts that have a target among :func:`arrived_targets`.

    Args:
        n_known: steps of the series known now.
        n_trained: the first ``n_trained`` of them were in the data the model was trained on.
        per_step: how many of the latest targets are used per horizon step and series.

    Returns:
        `(n_origins,)` increasing, each at least ``lookback`` (so its window is complete).
    """
    first = max(lookback, n_trained - horizon + 1, n_known - horizon + 1 - per_step)
    if n_known <= n_trained or first >= n_known:
        return np.empty(0, dtype=int)
    return np.arange(first, n_known)


def arrival_origins(spans: list[tuple[int, int]], lookback: int, horizon: int,
                    per_step: int) -> tuple[list[np.ndarray], float]:
    """:func:`arrived_origins` of every series, for at most :data:`RECALIBRATION_WINDOWS`
    forecasts in all: beyond that, an evenly spread sample of the series stands for all.

    Args:
        spans: per series ``(n_known, n_trained)``.

    Returns:
        Per series the origins to forecast (empty for a series left out), and how many series
        each one forecast stands for (1.0 without sampling).
    """
    origins = [arrived_origins(n_known, n_trained, lookback, horizon, per_step) for n_known, n_trained in spans]
    counts = np.array([len(o) for o in origins])
    candidates = np.flatnonzero(counts)
    if counts.sum() <= RECALIBRATION_WINDOWS:
        return origins, 1.0
    wanted = max(1, int(len(candidates) * RECALIBRATION_WINDOWS / counts.sum()))
    chosen = set(candidates[np.unique(np.linspace(0, len(candidates) - 1, wanted).round().astype(int))].tolist())
    empty = np.empty(0, dtype=int)
    return [o if i in chosen else empty for i, o in enumerate(origins)], len(candidates) / len(chosen)


def arrived_targets(values: np.ndarray, missing: np.ndarray, origins: np.ndarray, horizon: int, n_known: int,
                    n_trained: int, per_step: int) -> np.ndarray:
    """The actual values of forecasts made after training whose targets are known now.

    A target counts when it came after the training data and is among the latest
    ``per_step`` known steps (so each horizon step gets at most ``per_step`` of them, the
    most recent); others, and values that were missing and filled, are NaN.

    Args:
        values: `(n_steps,)` the target in the data's units; steps from ``n_known`` on are ignored.
        missing: `(n_steps,)` True where the target was filled.
        origins: from :func:`arrived_origins`.

    Returns:
        `(n_origins, horizon)`.
    """
    steps = origins[:, None] + np.arange(horizon)
    usable = (steps < n_known) & (steps >= max(n_trained, n_known - per_step))
    at = np.where(usable, steps, 0)
    return np.where(usable & ~missing[at], values[at], np.nan)


def recalibrated(calibration: dict[str, Any], arrived: np.ndarray, share: float = 1.0) -> dict[str, Any]:
    """The interval calibration slid forward over residuals whose targets arrived after training.

    Training calibrates on the ``n`` validation windows, the latest it had. Once more values
    are known, the calibration set moves on to the latest ``n`` known forecasts, as if the
    model had been validated there: ``m`` arrived residuals of a step take the place of ``m``
    validation ones. Only quantiles of those are kept, so their weight is reduced evenly
    (to ``1 - m / n``) rather than the oldest dropped. A model left stale then keeps
    intervals that match what it has been doing lately, rather than what it did on a
    validation period that may have been calmer or rougher.

    Args:
        calibration: from :func:`interval_calibration`.
        arrived: `(n_forecasts, horizon)` residuals normalised as the validation ones were
            (:func:`normalized_residuals`), NaN where a target has not arrived.
        share: how many arrived residuals each one stands for (a sample of the series).

    Returns:
        A calibration of the same form and the same ``n``.
    """
    n = calibration["n"]
    table = np.array(calibration["abs_quantiles"], dtype=np.float64)
    for step, column in enumerate(np.abs(np.asarray(arrived, dtype=np.float64)).T):
        fresh = np.sort(column[np.isfinite(column)])
        if not len(fresh):
            continue
        weight = min(1.0, share * len(fresh) / n) if np.isfinite(table[step]).all() else 1.0
        grid = np.union1d(table[step], fresh) if weight < 1.0 else np.unique(fresh)
        stored = (1 - weight) * np.interp(grid, table[step], INTERVAL_LEVELS) if weight < 1.0 else 0.0
        # the mixture's distribution function is linear between grid points (the stored part)
        # and steps up at each arrived residual: ``below`` and ``upto`` are its values just
        # before and at each point. A level is the smallest value reaching it: the point whose
        # step covers it, or on the line rising to the point.
        below = stored + weight * np.searchsorted(fresh, grid, side="left") / len(fresh)
        upto = stored + weight * np.searchsorted(fresh, grid, side="right") / len(fresh)
        at = np.minimum(np.searchsorted(upto, INTERVAL_LEVELS, side="left"), len(grid) - 1)
        before = np.maximum(at - 1, 0)
        rise = below[at] - upto[before]
        along = np.divide(INTERVAL_LEVELS - upto[before], rise, out=np.ones_like(rise), where=rise > 0)
        on_line = (at > 0) & (INTERVAL_LEVELS <= below[at])
        table[step] = np.where(on_line, grid[before] + np.clip(along, 0, 1) * (grid[at] - grid[before]), grid[at])
    return {"n": n, "abs_quantiles": table.round(6).tolist()}


def calibrated_coverage(calibration: dict[str, Any]) -> float:
    """The highest coverage the calibration's ``n`` validation windows can vouch for,
    ``n / (n + 1)``: beyond it the split-conformal interval of a step alone would be
    unbounded, and :func:`interval_halfwidths` pools the steps (:func:`_pooled_over_steps`)."""
    n = calibration["n"]
    return n / (n + 1)


def few_windows_warning(calibration: dict[str, Any], *coverages: float) -> str | None:
    """What to say when a coverage asks more than the calibration can vouch for, else None.
    Of several (the ones commonly asked for), the lowest such is named, "and above"."""
    beyond = [c for c in sorted(coverages) if c > calibrated_coverage(calibration)]
    if not beyond:
        return None
    n, most = calibration["n"], math.floor(100 * calibrated_coverage(calibration))
    above = " and above" if len(coverages) > 1 and beyond[0] < max(coverages) else ""
    return (f"the intervals are calibrated on {counted(n, 'validation window')}, enough for a coverage "
            f"of at most {most} %; {100 * beyond[0]:g} %{above} intervals then pool the errors of every horizon "
            "step, taken to grow with the square root of the step, a guess: train on more history or with a larger "
            "--val-fraction")


def _pooled_over_steps(table: np.ndarray, n: int, coverage: float) -> np.ndarray:
    """Half-widths per step from too few windows for ``coverage`` at each step alone: the
    ``n`` residuals of every step (read back from its quantiles), each over the square root
    of its step (errors that add up step after step, as a random walk's, grow so), pooled
    into one split-conformal quantile, times each step's square root again. One window of
    12 steps then vouches for 92 %, as 12 windows would for one step; beyond what even the
    pool vouches for, its widest is stretched (:func:`beyond_widest`).

    Args:
        table: `(horizon, len(INTERVAL_LEVELS))` the absolute residuals' quantiles per step.

    Returns:
        `(horizon,)`, NaN where a step had no residual.
    """
    ranks = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
    roots = np.sqrt(np.arange(1, len(table) + 1))
    residuals = np.array([np.interp(ranks, INTERVAL_LEVELS, row) for row in table]) / roots[:, None]
    pooled = residuals[np.isfinite(residuals)]
    if not pooled.size:
        return np.full(len(table), np.nan)
    count = pooled.size
    if coverage > count / (count + 1):
        quantile = float(pooled.max()) * beyond_widest(count, coverage)
    else:
        quantile = float(np.quantile(pooled, math.ceil((count + 1) * coverage) / count))
    return np.where(np.isnan(table[:, -1]), np.nan, quantile * roots)


@functools.lru_cache(maxsize=256)
def beyond_widest(n: int, coverage: float) -> float:
    """How many times the widest of ``n`` absolute errors a new one stays below with
    probability ``coverage``, were the errors normal: ``k`` with ``P(|e| <= k * max(|e_1|,
    ..., |e_n|)) = coverage`` (1 at ``n / (n + 1)``, the coverage of the widest itself for
    any exchangeable errors). One error gives ``tan(pi * coverage / 2)``: 6.3 for 90 %.
    :func:`_pooled_over_steps` stretches its pool's widest so where even the pool is too
    small for the coverage (95 % from one window of 12 steps: 1.13 times)."""
    from scipy.special import erf

    steps = np.linspace(0.0, 12.0, 24001)[1:]  # the widest of n, in standard deviations
    spacing = steps[1] - steps[0]
    below = erf(steps / math.sqrt(2.0))  # P(|e| <= m)
    density = n * below ** (n - 1) * math.sqrt(2.0 / math.pi) * np.exp(-steps**2 / 2.0)  # of the widest

    def covered(k: float) -> float:
        return float(np.sum(erf(k * steps / math.sqrt(2.0)) * density) * spacing)

    low, high = 1e-3, 1e4
    for _ in range(60):  # bisection on the logarithm: monotone in k
        middle = math.sqrt(low * high)
        low, high = (middle, high) if covered(middle) < coverage else (low, middle)
    return math.sqrt(low * high)


#: Fewer validation windows than this calibrate each step's half-width too unsteadily to
#: stand alone: the half-widths are then made not to shrink with the step.
STEADY_CALIBRATION = 50


def interval_halfwidths(calibration: dict[str, Any], coverage: float) -> np.ndarray:
    """Normalised half-width per horizon step for a central interval of ``coverage``.

    Uses the split-conformal level ``ceil((n + 1) * coverage) / n`` so that the coverage holds
    in finite samples for exchangeable residuals. Beyond ``n / (n + 1)`` (too few windows for
    the coverage) the steps are pooled (:func:`_pooled_over_steps`). From fewer than :data:`STEADY_CALIBRATION`
    windows, a step's half-width is at least that of every earlier step.

    Returns:
        `(horizon,)`.
    """
    n = calibration["n"]
    level = min(1.0, math.ceil((n + 1) * coverage) / n)
    table = np.asarray(calibration["abs_quantiles"], dtype=np.float64)
    widths = np.array([np.interp(level, INTERVAL_LEVELS, row) for row in table])
    if coverage > calibrated_coverage(calibration):
        widths = _pooled_over_steps(table, n, coverage)
    if n < STEADY_CALIBRATION:
        # a quantile of a handful of errors per step jumps from step to step (a saw-tooth band
        # around a smooth forecast); an interval does not narrow further ahead
        widths = np.where(np.isnan(widths), np.nan, np.fmax.accumulate(widths))
    return widths


def interval_spreads(
    calibration: dict[str, Any], residual_scale: float, reference: float | None, inputs: np.ndarray, coverage: float
) -> np.ndarray:
    """Half-widths, in scaled units, of the intervals of forecasts made from ``inputs``.

    Args:
        calibration: from :func:`interval_calibration`.
        residual_scale: the series' residual scale.
        reference: the series' typical window spread (see :func:`spread_factors`).
        inputs: `(n_windows, lookback, n_features)` scaled windows the forecasts start from.

    Returns:
        `(n_windows, horizon)`.
    """
    halfwidths = interval_halfwidths(calibration, coverage)
    return halfwidths[None, :] * residual_scale * spread_factors(inputs, reference)[:, None]


def loaded_model_text(artifact: Artifact) -> str:
    """Which model a command runs on, for ``--verbose``."""
    metadata = artifact.metadata
    return (f"Model {artifact.path}: {metadata['network'].get('model', 'network')}, trained {metadata['created']} "
            f"by forecaster {metadata['forecaster_version']}")


@dataclass
class SeriesInput:
    """One series as predict / detect-anomalies see it.

    Attributes:
        meta: the series' entry in ``metadata.json``.
        index: `(n_steps,)` timestamps.
        raw: `(n_steps, n_features)` values in the data's units, target first.
        missing: `(n_steps,)` True where the target was absent in the data and filled.
    """

    meta: dict[str, Any]
    index: Any
    raw: np.ndarray
    missing: np.ndarray

    @property
    def scaler(self) -> SeriesScaler:
        return SeriesScaler.from_dict(self.meta["scaler"])


def reading_text(data_path: str | os.PathLike | None) -> str:
    """What the spinner says while ``predict`` or ``detect-anomalies`` reads its data."""
    return f"Reading {data_path if data_path is not None else 'the data stored in the model'}"


def series_inputs(
    artifact: Artifact, data_path: str | os.PathLike | None, reporter: Reporter, full_history: bool,
    reading: Mapping[str, Any] | None = None, long_gaps: str = "refuse",
) -> list[SeriesInput]:
    """The series to predict from: a fresh export of the training data, or what training stored.

    A data file is read with the options used at training, so no flag needs repeating, and
    must carry series of the training data at the same frequency; a long file's series the
    model does not know are skipped with a warning, as are trained series the file lacks.

    Args:
        reading: how the file is written where that differs from the training file
            (:data:`forecaster.data.READING_OPTIONS`: separator, decimal mark, ``dayfirst``,
            ``max_gap`` and so on, :meth:`forecaster.data.DataOptions.reading`); the others
            are the training file's.
        long_gaps: what a gap longer than ``max_gap`` does (:func:`forecaster.data.load_dataset`):
            ``"recent"`` reads each series from after its last one, as a forecast needs only
            the latest steps; ``"fill"`` fills it, for anomaly scoring.
    """
    import pandas as pd

    from .data import DataOptions, load_dataset

    metadata = artifact.metadata
    by_name = {meta["name"]: meta for meta in metadata["series"]}
    lookback = metadata["network"]["lookback"]
    if data_path is None:
        if full_history:
            return [
                SeriesInput(meta, _stored_index(meta, meta["n_steps"]), stored["values"], stored["missing"])
                for meta, stored in zip(metadata["series"], artifact.history())
            ]
        return [
            SeriesInput(
                meta,
                _stored_index(meta, len(meta["last_values"])),
                np.asarray(meta["last_values"], dtype=np.float64),
                np.zeros(len(meta["last_values"]), dtype=bool),
            )
            for meta in metadata["series"]
        ]

    options = _trained_options(artifact).reading(reading)
    dataset = load_dataset(data_path, options, reporter, str(artifact.path), known_series=by_name,
                           long_gaps=long_gaps)
    present = {s.name for s in dataset.series}
    absent = [name for name in by_name if name not in present]
    if absent:
        reporter.warn(f"{len(absent)} trained series not in {dataset.shown} (e.g. '{absent[0]}'); skipping them")
    inputs, nonpositive, short, other_clock, other_step = [], [], [], [], []
    calendar = metadata["train_options"].get("calendar", False)
    for series in dataset.series:
        meta = by_name[series.name]
        series, clock = _on_training_clock(series, meta.get("tz"))
        if clock and calendar:
            other_clock.append(clock)
        if pd.tseries.frequencies.to_offset(series.freq) != pd.tseries.frequencies.to_offset(meta["freq"]):
            # one store exported every other day must not stop the others' forecasts
            other_step.append(f"series '{series.name}' has a step of {series.freq} but the model was trained on "
                              f"{meta['freq']}")
            continue
        if len(series.values) < lookback:
            short.append(series)
            continue
        scaler = SeriesScaler.from_dict(meta["scaler"])
        found = scaler.log_target and nonpositive_target(dataset.shown, series)
        if found:
            nonpositive.append(f"{found}; the model works on the logarithm of the target, so they are read as "
                               f"{scaler.nonpositive_reading:.4g}, far below its training values")
        raw = series_features(series.values, series.covariates, series.index, series.freq, calendar)
        inputs.append(SeriesInput(meta, series.index, raw, series.missing))
    if other_step:
        more = f" (and {len(other_step) - 1} more series)" if len(other_step) > 1 else ""
        text = f"{dataset.shown}: {other_step[0]}{more}"
        if not inputs and not short:
            raise DataError(f"{text}; resample the data to {by_name[dataset.series[0].name]['freq']} or retrain")
        reporter.warn(f"{text}; skipping {'them' if len(other_step) > 1 else 'it'}: resample its rows or retrain")
    if other_clock:
        name, why = other_clock[0]
        more = f" (and {len(other_clock) - 1} more)" if len(other_clock) > 1 else ""
        reporter.warn(f"{dataset.shown}: series '{name}'{more} has times {why}, so the time-of-day and weekday inputs "
                      "are read on the file's clock, not the training data's; export the timestamps as at training, "
                      "or pass --tz ZONE for times written without an offset")
    if short:
        # One store exported with too little history must not stop the others' forecasts, as
        # one missing from the file does not.
        first = short[0]
        others = f" (and {len(short) - 1} more series too few)" if len(short) > 1 else ""
        text = (f"{dataset.shown}: series '{first.name}' has {len(first.values)} rows after cleaning{others} but the "
                f"model needs the last {lookback} (its lookback)")
        if not inputs:
            raise DataError(f"{text}; export more history")
        reporter.warn(f"{text}; skipping {'them' if len(short) > 1 else 'it'}: export more history")
    if nonpositive:
        others = f" (and in {len(nonpositive) - 1} more series)" if len(nonpositive) > 1 else ""
        reporter.warn(f"{nonpositive[0]}{others}; retrain with --target-transform none if such values are normal")
    return inputs


def _on_training_clock(series: Any, zone: str | None) -> tuple[Any, tuple[str, str] | None]:
    """``series`` with its times in the zone its training data had (``zone``, from the model),
    the same instants: an export written with other offsets (+05:30 where training had UTC)
    would otherwise give the calendar inputs another clock, and other forecasts without a
    word. Where that cannot be done (times with a zone for a model trained on times without
    one, or the reverse), also the series' name and what to warn of."""
    from dataclasses import replace

    if series.index.tz is None and zone is None:
        return series, None
    if series.index.tz is None or zone is None:
        return series, (series.name, f"{'without' if series.index.tz is None else 'with'} a UTC offset, but the "
                                     f"model was trained on times {'in ' + zone if zone else 'without one'}")
    if str(series.index.tz) == zone:
        return series, None
    try:
        return replace(series, index=series.index.tz_convert(zone)), None
    except (TypeError, ValueError, KeyError):  # a fixed offset the model wrote as "UTC+05:30"
        return series, (series.name, f"in {series.index.tz}, but the model was trained on times in {zone}")


def _report_stale_data(inputs: list[SeriesInput], data_path: str | os.PathLike, reporter: Reporter) -> None:
    """Warn when series of the file end before the data the model was trained on did: a stale
    export (a sync that stopped) would otherwise give forecasts of the past without a word."""
    import pandas as pd

    from .data import shown_name

    ends = [(item, _stored_end(item.meta, item.index)) for item in inputs]
    stale = [(item, end) for item, end in ends if item.index[-1] < end]
    if not stale:
        return
    item, trained_end = stale[0]
    steps = len(pd.date_range(item.index[-1], trained_end, freq=item.meta["freq"])) - 1
    end, trained = short_times([item.index[-1].isoformat(), trained_end.isoformat()])
    more = f" (and {len(stale) - 1} more)" if len(stale) > 1 else ""
    reporter.warn(f"{shown_name(os.fspath(data_path))}: series '{item.meta['name']}'{more} ends at {end}, {counted(steps, 'step')} "
                  f"before the data the model was trained on ({trained}), so its forecast is of the past; is the "
                  "export stale?")


def _trained_options(artifact: Artifact):
    """The data options a model was trained with, as its metadata has them; an edit that makes
    them unusable (a column in two roles) is the model's fault, not the command line's."""
    from .data import DataOptions

    file = artifact.path / "metadata.json"
    try:
        trained = DataOptions.from_dict(artifact.metadata["data_options"])
    except (ConfigError, TypeError, ValueError, KeyError) as exc:
        raise ArtifactError(f"{file}: 'data_options' cannot be used ({exc}); the metadata was edited or damaged; "
                            "retrain the model") from None
    roles = [c for c in (trained.time_col, trained.id_col, *trained.targets, *trained.covariates) if c]
    if not trained.targets or len(roles) != len(set(roles)):
        raise ArtifactError(f"{file}: 'data_options' give no target or a column two roles; the metadata was edited "
                            "or damaged; retrain the model")
    return trained


def calibration_with_arrivals(artifact: Artifact, inputs: list[SeriesInput]) -> tuple[dict[str, Any], int]:
    """The artifact's interval calibration, :func:`recalibrated` on the forecasts it would
    have made from its training end up to now, whose targets are in ``inputs``.

    Each series contributes its latest targets, up to its share of the validation windows
    per horizon step, so that the calibration set keeps its size; with many series, a sample
    of them stands for all (:func:`arrival_origins`).

    Returns:
        The calibration and how many arrived residuals it used (0: the stored one as it is).
    """
    metadata = artifact.metadata
    calibration = metadata["intervals"]
    lookback, horizon = metadata["network"]["lookback"], metadata["network"]["horizon"]
    per_step = math.ceil(calibration["n"] / len(metadata["series"]))
    spans = [(len(item.raw), int(item.index.searchsorted(_stored_end(item.meta, item.index), side="right"))) for item in inputs]
    origins_of, share = arrival_origins(spans, lookback, horizon, per_step)
    windows, actuals, used = [], [], []
    for item, (n_known, n_trained), origins in zip(inputs, spans, origins_of):
        if not len(origins):
            continue
        windows.append(input_windows(item.scaler.transform(item.raw[origins[0] - lookback : origins[-1]]), lookback))
        actuals.append(arrived_targets(item.raw[:, 0], item.missing, origins, horizon, n_known, n_trained, per_step))
        used.append(item)
    if not used:
        return calibration, 0
    residuals = []
    forecasts = predict_scaled_parts(artifact.network, windows, level=model_level(metadata["network"]))
    for item, window, actual, scaled in zip(used, windows, actuals, forecasts):
        scaler = item.scaler
        residuals.append(normalized_residuals(actual, scaler.target_to_original(scaled), spread_factors(
            window, item.meta.get("window_spread")), scaler, item.meta["residual_scale"]))
    arrived = np.concatenate(residuals)
    return recalibrated(calibration, arrived, share), int(np.isfinite(arrived).sum())


def _stored_end(meta: dict[str, Any], like: Any = None):
    """The last timestamp of a series' training data; given ``like``, the series' index in the
    file read now, as a time of its kind: a model trained on local times without a zone, given
    an export with offsets (or read with ``--tz``), compares wall-clock times, and the reverse,
    instead of failing to compare a time with a zone and one without."""
    import pandas as pd

    end = pd.Timestamp(meta["end"])
    if meta.get("tz"):
        try:
            end = end.tz_convert(meta["tz"])
        except (TypeError, ValueError, KeyError):
            pass  # a fixed offset parsed from the ISO string is already right
    return end if like is None else time_like(end, like)


def time_like(stamp: Any, like: Any):
    """``stamp`` as a time of the kind of the index ``like``: with its zone, or without one
    (wall-clock time), so that the two compare however the data was read this time."""
    zone = getattr(like, "tz", None)
    if zone is None and stamp.tz is None:
        return stamp
    if zone is None:
        return stamp.tz_localize(None)
    if stamp.tz is None:
        return stamp.tz_localize(zone, ambiguous=True, nonexistent="shift_forward")
    return stamp.tz_convert(zone)


def _stored_index(meta: dict[str, Any], n_steps: int):
    """The last ``n_steps`` timestamps of a series stored at training."""
    import pandas as pd

    return pd.date_range(end=_stored_end(meta), periods=n_steps, freq=meta["freq"])


def check_call(caller: str, model_dir: Any, data_path: Any, reading: Any = None,
               **numbers_given: tuple[Any, str, bool]) -> None:
    """Refuse arguments of the wrong kind at once, naming them: a model directory and data that
    are not paths (a DataFrame gets a hint), reading options that are not a mapping, and
    numbers that are not, given as ``name=(value, "what it must be", whole)``.

    Raises:
        TypeError: naming ``caller`` and the argument.
    """
    import numbers

    from .data import check_data_path

    check_data_path(caller, "model_dir", model_dir)
    check_data_path(caller, "data_path", data_path, optional=True,
                    pandas_hint="newer data comes as a CSV file; None works from the series stored at training")
    if reading is not None and not isinstance(reading, Mapping):
        raise TypeError(f"{caller}(): reading must be a mapping of reading options such as {{'sep': ';'}}, got "
                        f"{type(reading).__name__} {reading!r}")
    for name, (value, wanted, whole) in numbers_given.items():
        kind = numbers.Integral if whole else numbers.Real
        if value is not None and (not isinstance(value, kind) or isinstance(value, (bool, np.bool_))):
            raise TypeError(f"{caller}(): {name} must be {wanted}, got {type(value).__name__} {value!r}")


def _report_early_ends(inputs: list[SeriesInput], reporter: Reporter) -> None:
    """Say when series end before the latest one: each is forecast from its own end, so such a
    forecast starts in the past (a meter that stopped reporting, a column of a wide file that
    ends early)."""
    import pandas as pd

    ends = [item.index[-1] for item in inputs]
    latest = max(ends)
    early = [k for k, end in enumerate(ends) if end < latest]
    if not early:
        return
    first = early[0]
    steps = len(pd.date_range(ends[first], latest, freq=inputs[first].meta["freq"])) - 1
    end, last = short_times([ends[first].isoformat(), latest.isoformat()])
    more = f" (and {len(early) - 1} more series {'end' if len(early) > 2 else 'ends'} early)" if len(early) > 1 else ""
    # of series on one grid, a whole number of steps; on grids at other times of day, perhaps none
    behind = counted(steps, "step") if steps else "less than a step"
    differ = "" if steps else ": their times of day differ"
    reporter.info(f"Series '{inputs[first].meta['name']}' ends at {end}, {behind} before the latest "
                  f"series ({last}{differ}), and is forecast from there{more}")


def forecast(
    model_dir: str | os.PathLike = "forecaster-model",
    data_path: str | os.PathLike | None = None,
    coverage: float = 0.9,
    reporter: Reporter = QUIET,
    recalibrate: bool = True,
    reading: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Forecast ``horizon`` steps after the end of each series.

    Args:
        data_path: a fresher export of the training data; None forecasts from the end of the
            data the model was trained on.
        reading: how ``data_path`` is written where it differs from the training file
            (:func:`series_inputs`), e.g. ``{"sep": ";", "decimal": ","}``.
        coverage: nominal probability that the actual value lies in ``[lower, upper]``.
        recalibrate: where ``data_path`` holds values after the training data, calibrate the
            intervals also on how the model did on them (:func:`calibration_with_arrivals`);
            False keeps the calibration made at training.

    Returns:
        A DataFrame with columns ``series, timestamp, step, forecast, lower, upper``, one row
        per series per step.
    """
    return forecast_with_history(model_dir, data_path, coverage, reporter, history_steps=0, recalibrate=recalibrate,
                                 reading=reading)[0]


def forecast_with_history(
    model_dir: str | os.PathLike = "forecaster-model",
    data_path: str | os.PathLike | None = None,
    coverage: float = 0.9,
    reporter: Reporter = QUIET,
    history_steps: int = 0,
    recalibrate: bool = True,
    reading: Mapping[str, Any] | None = None,
):
    """:func:`forecast`, plus the last ``history_steps`` values of each series it started from.

    Returns:
        The forecast DataFrame and a history DataFrame with columns ``series, timestamp,
        value, target`` (``value`` NaN where it was missing and filled; ``target``, the column
        the series' values are of), for plots.
    """
    import pandas as pd

    from .data import future_index

    check_call("forecast", model_dir, data_path, reading, coverage=(coverage, "a number between 0 and 1", False))
    reporter = reporter_given("forecast", reporter)
    if not 0.0 < coverage < 1.0:
        raise ConfigError(f"--coverage must be between 0 and 1 (exclusive), got {coverage}")
    artifact = load_artifact(model_dir)
    reporter.detail(loaded_model_text(artifact))
    metadata = artifact.metadata
    lookback, horizon = metadata["network"]["lookback"], metadata["network"]["horizon"]
    with reporter.status(reading_text(data_path)) as show:  # a spinner on a terminal meanwhile
        inputs = series_inputs(artifact, data_path, reporter, full_history=history_steps > lookback, reading=reading,
                               long_gaps="recent")
        _report_early_ends(inputs, reporter)
        if data_path is not None:
            _report_stale_data(inputs, data_path, reporter)
        show(f"Forecasting {len(inputs):,} series")
        windows = np.stack([item.scaler.transform(item.raw[-lookback:]) for item in inputs])
        # (n_series, horizon)
        predicted = predict_scaled(artifact.network, windows, level=model_level(metadata["network"]))
        calibration = metadata["intervals"]
        if recalibrate and data_path is not None:
            show("Recalibrating the intervals on the values that arrived after training")
            calibration, n_arrived = calibration_with_arrivals(artifact, inputs)
            if n_arrived:
                reporter.detail(f"Intervals recalibrated on {n_arrived} errors of forecasts whose actual values "
                                "arrived after training")
        if warning := few_windows_warning(calibration, coverage):
            reporter.warn(warning)

    # Columns gathered series by series and framed once: a DataFrame per series cost about
    # a millisecond each, an eighth of the time of a predict of 10,000 series.
    timestamps, forecasts, lowers, uppers, histories = [], [], [], [], []
    for item, window, scaled in zip(inputs, windows, predicted):
        scaler = item.scaler
        (spread,) = interval_spreads(calibration, item.meta["residual_scale"],
                                     item.meta.get("window_spread"), window[None], coverage)
        timestamps.append(future_index(item.index[-1], item.meta["freq"], horizon))
        floor = item.meta.get("floor")  # None in models from before there was one
        forecasts.append(artifact.network.repeated(item.raw[:, 0], np.array([len(item.raw)]))[0]
                         if isinstance(artifact.network, SeasonalNaive)
                         else floored(scaler.target_to_original(scaled), floor))
        lowers.append(floored(scaler.target_to_original(scaled - spread), floor))
        uppers.append(floored(scaler.target_to_original(scaled + spread), floor))
        if history_steps:
            recent = slice(-history_steps, None)
            histories.append(
                pd.DataFrame(
                    {
                        "series": item.meta["name"],
                        "timestamp": item.index[recent],
                        "value": np.where(item.missing[recent], np.nan, item.raw[recent, 0]),
                        "target": item.meta.get("target", "value"),
                    }
                )
            )
    history = pd.concat(histories, ignore_index=True) if histories else pd.DataFrame(columns=["series", "timestamp", "value", "target"])
    names = np.array([item.meta["name"] for item in inputs], dtype=object)
    frame = pd.DataFrame(
        {
            "series": np.repeat(names, horizon),
            "timestamp": timestamps[0].append(timestamps[1:]),  # one file's series share a time zone
            "step": np.tile(np.arange(1, horizon + 1), len(inputs)),
            "forecast": np.concatenate(forecasts),
            "lower": np.concatenate(lowers),
            "upper": np.concatenate(uppers),
        }
    )
    return frame, history
