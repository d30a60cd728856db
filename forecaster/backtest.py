"""Rolling-origin backtests: how the model and the baselines would have done, had they been
trained at earlier cut-offs and asked for the next ``horizon`` steps.

The same code as ``train`` fits each fold (:func:`forecaster.training.fit`), so what is
measured is what is deployed. At a cut-off a model sees only the data before it: its
scaler, its early stopping and its interval calibration come from that part alone.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from . import forecasting, metrics
from .data import DataOptions, Dataset, check_data_argument, read_data, seasonal_period, time_text
from .errors import ConfigError, DataError
from .features import series_features
from .report import (QUIET, Reporter, counted, epochs_text, first_few, reporter_given, series_text,
                     unscaled_mase_warning)
from .training import (BASELINES, FittedModel, TrainOptions, check_argument_types, evaluate_validation, fit,
                       method_forecasts, plain_values, resolve_shape, unused_options_warning, warn_of_lone_extremes,
                       without_short_series, wrong_kind)
from .windows import input_windows, min_length

REFIT = ("each", "once")
METHODS = ("model", *BASELINES)
ROW_COLUMNS = ["series", "cutoff", "timestamp", "step", "actual", "model", "forecast", "lower", "upper"]
SUMMARY_COLUMNS = ["mae", "rmse", "smape", "mase", "coverage", "width"]


_KIND_NAMES = {"folds": "a whole number", "stride": "a whole number or None", "season": "a whole number or None",
               "coverage": "a number between 0 and 1 (one; evaluate_coverages takes several)",
               "recalibrate": "True or False", "refit": "'each' or 'once'"}


@dataclass(frozen=True)
class BacktestOptions:
    """Where the cut-offs fall and how models are refitted.

    Args:
        folds: how many cut-offs, the last one ``horizon`` steps before each series' end.
        stride: steps between cut-offs; None means one horizon.
        refit: ``"each"`` trains at every cut-off; ``"once"`` trains at the first and slides.
        recalibrate: with ``refit="once"``, calibrate the intervals at each later cut-off also
            on the forecasts whose targets came before it but after the training data, as
            ``predict`` does with a fresher data file
            (:func:`forecaster.forecasting.recalibrated`).
        season: seasonal period for MASE and seasonal naive; None takes it from the frequency.
        coverage: nominal probability of the ``lower``/``upper`` intervals.
    """

    folds: int = 3
    stride: int | None = None
    refit: str = "each"
    recalibrate: bool = True
    season: int | None = None
    coverage: float = 0.9

    def __post_init__(self) -> None:
        # a caller's list or text fails here, naming the field, not deep in the backtest
        if found := wrong_kind(self):
            name, _, value = found
            raise ConfigError(f"{name} must be {_KIND_NAMES[name]}, got {value!r}")
        plain_values(self, ("refit",))
        if self.folds < 1:
            raise ConfigError(f"--folds must be at least 1, got {self.folds}")
        if self.stride is not None and self.stride < 1:
            raise ConfigError(f"--stride must be at least 1, got {self.stride}")
        if self.refit not in REFIT:
            raise ConfigError(f"--refit must be one of {', '.join(REFIT)}, not '{self.refit}'")
        if self.season is not None and self.season < 1:
            raise ConfigError(f"--season must be at least 1, got {self.season}")
        if not 0.0 < self.coverage < 1.0:
            raise ConfigError(f"--coverage must be between 0 and 1 (exclusive), got {self.coverage}")


@dataclass
class Evaluation:
    """What a backtest measured.

    Attributes:
        rows: one row per series, cut-off, step and method, columns :data:`ROW_COLUMNS`
            (``model`` names the method: model, naive, seasonal_naive or linear).
        summary: per method, columns ``model`` and :data:`SUMMARY_COLUMNS`.
        per_step: the same per method and horizon step (column ``step``).
        per_series: the same per series and method, columns ``series``, ``model`` and
            :data:`SUMMARY_COLUMNS` (MASE, unlike MAE, compares across series).
        options: the training options as resolved for the last fold's training (a choice
            made from the data may differ from one cut-off to another).
        backtest: the backtest options, with the stride and season resolved (and the first
            coverage, in a result of several merged by :func:`merged_coverages`).
        n_series: how many series were evaluated.
    """

    rows: Any
    summary: Any
    per_step: Any
    per_series: Any
    options: TrainOptions
    backtest: BacktestOptions
    n_series: int
    #: every coverage measured, in a result merged by :func:`merged_coverages`; else empty
    coverages: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary (NaN becomes None)."""

        def records(frame):
            return [{k: metrics.json_number(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]

        return {
            "train_options": self.options.to_dict(),
            "backtest": dataclasses.asdict(self.backtest),
            **({"coverages": list(self.coverages)} if self.coverages else {}),
            "n_series": self.n_series,
            "summary": records(self.summary),
            "per_step": records(self.per_step),
            "per_series": records(self.per_series),
            "comparisons": records(self.comparisons()),
        }

    def comparisons(self):
        """The model against each baseline, forecast by forecast: see :func:`paired_comparisons`."""
        return paired_comparisons(self.rows)


#: The two-sided level of the signed-rank test below which the model is called better or
#: worse than a baseline.
COMPARISON_LEVEL = 0.05
#: Fewer forecasts that differ than this cannot be told apart at that level, however they
#: fall: 5 wins of 5 happen by chance once in 16.
MIN_COMPARED = 6


def paired_comparisons(rows):
    """The model against each baseline, forecast by forecast (a series at a cut-off, its MAE
    over the horizon), and whether the difference is more than chance.

    Pooled error measures can hide that a model wins by a lot on a few forecasts and loses on
    most, or that two methods differ by less than the spread of a few forecasts. Each pair
    gives the log of the ratio of the two MAEs (free of the series' units, so series of
    different sizes count alike); a Wilcoxon signed-rank test of those logs (two-sided, at
    :data:`COMPARISON_LEVEL`) says whether the model's errors are smaller or larger than the
    baseline's by more than chance. Ties (a baseline identical to the model) count for
    neither side.

    Args:
        rows: :data:`ROW_COLUMNS`, one row per series, cut-off, step and method.

    Returns:
        one row per baseline present: ``baseline``, ``forecasts`` (paired), ``better``,
        ``worse`` (how many of the model's MAEs were below or above the baseline's),
        ``ratio`` (the geometric mean of the model's MAE over the baseline's: 0.5, half the
        error), ``p_value`` (NaN where nothing differs) and ``verdict``: ``better``,
        ``worse``, ``too close to call``, ``too few forecasts to tell`` (fewer than
        :data:`MIN_COMPARED` differ) or ``the same forecasts``.
    """
    import numpy as np
    import pandas as pd

    errors = (rows.assign(error=(rows["forecast"] - rows["actual"]).abs())
              .pivot_table(index=["series", "cutoff"], columns="model", values="error", aggfunc="mean"))
    out = []
    for baseline in (m for m in METHODS[1:] if m in errors.columns):
        pair = errors[["model", baseline]].dropna().to_numpy()
        # a perfect forecast (MAE 0) is taken as a hundredth of the smallest error seen
        floor = 0.01 * pair[pair > 0].min() if (pair > 0).any() else 1.0
        logs = np.log(np.maximum(pair[:, 0], floor)) - np.log(np.maximum(pair[:, 1], floor))
        # forecasts that agree to float rounding (the same values by two computations) are ties
        differ = logs[~np.isclose(pair[:, 0], pair[:, 1], rtol=1e-9, atol=0.0)]
        better, worse = int((differ < 0).sum()), int((differ > 0).sum())
        p_value = _signed_rank_p(differ)
        if not len(differ):
            verdict = "the same forecasts"
        elif len(differ) < MIN_COMPARED:
            verdict = "too few forecasts to tell"
        elif p_value < COMPARISON_LEVEL:
            verdict = "better" if differ.mean() < 0 else "worse"
        else:
            verdict = "too close to call"
        out.append({"baseline": baseline, "forecasts": len(logs), "better": better, "worse": worse,
                    "ratio": float(np.exp(logs.mean())) if len(logs) else math.nan, "p_value": p_value,
                    "verdict": verdict})
    return pd.DataFrame(out, columns=["baseline", "forecasts", "better", "worse", "ratio", "p_value", "verdict"])


def _signed_rank_p(differences) -> float:
    """Two-sided p-value of the Wilcoxon signed-rank test that ``differences`` (none 0) are
    centred on 0; NaN for none."""
    if not len(differences):
        return math.nan
    from scipy.stats import wilcoxon

    return float(wilcoxon(differences).pvalue)


def evaluate(
    data_path: str | os.PathLike | Dataset,
    data_options: DataOptions = DataOptions(),
    options: TrainOptions = TrainOptions(),
    backtest: BacktestOptions = BacktestOptions(),
    reporter: Reporter = QUIET,
) -> Evaluation:
    """Backtest the model and the baselines on every series of ``data_path`` (a file, or a
    :class:`~forecaster.data.Dataset`).

    Raises:
        DataError: the file cannot be used, or a series is too short for the cut-offs.
        ConfigError: the options cannot work together.
    """
    _check_types(data_path, data_options, options, backtest)
    (evaluation,) = evaluate_coverages(data_path, data_options, options, backtest, (backtest.coverage,), reporter)
    return evaluation


def coverage_suffix(coverage: float) -> str:
    """How a further coverage's columns are named: ``_95`` for 0.95, ``_97.5`` for 0.975."""
    return f"_{100 * coverage:g}"


def merged_coverages(evaluations: list[Evaluation]) -> Evaluation:
    """The :func:`evaluate_coverages` results as one :class:`Evaluation`: the first coverage's
    as it is (``lower``, ``upper``, ``coverage``, ``width``), each further one's as columns
    named with :func:`coverage_suffix` (``lower_95``, ``coverage_95`` ...) beside them. The
    forecasts and errors are the same in every result; only the intervals differ."""
    first, *others = evaluations
    rows, summary, per_step, per_series = (frame.copy() for frame in (first.rows, first.summary, first.per_step,
                                                                       first.per_series))
    for other in others:
        suffix = coverage_suffix(other.backtest.coverage)
        for name in ("lower", "upper"):
            rows[name + suffix] = other.rows[name].to_numpy()
        for frame, source in ((summary, other.summary), (per_step, other.per_step), (per_series, other.per_series)):
            for name in ("coverage", "width"):
                frame[name + suffix] = source[name].to_numpy()
    if not others:
        return first
    coverages = tuple(evaluation.backtest.coverage for evaluation in evaluations)
    return dataclasses.replace(first, rows=rows, summary=summary, per_step=per_step, per_series=per_series,
                               coverages=coverages)


def _check_types(data_path, data_options, options, backtest) -> None:
    check_argument_types("evaluate", data_options=(data_options, DataOptions), options=(options, TrainOptions),
                         backtest=(backtest, BacktestOptions))
    check_data_argument("evaluate", data_path, data_options)


def evaluate_coverages(
    data_path: str | os.PathLike | Dataset,
    data_options: DataOptions,
    options: TrainOptions,
    backtest: BacktestOptions,
    coverages: tuple[float, ...],
    reporter: Reporter = QUIET,
) -> list[Evaluation]:
    """:func:`evaluate` at several interval coverages from the same fitted models (one
    training per fold, not one per fold and coverage); one :class:`Evaluation` per coverage,
    in order. ``backtest.coverage`` is ignored."""
    _check_types(data_path, data_options, options, backtest)
    reporter = reporter_given("evaluate", reporter)
    if warning := unused_options_warning(options):
        reporter.warn(warning)
    if backtest.refit == "each" and not backtest.recalibrate:
        reporter.warn("--no-recalibrate has no effect with --refit each: every cut-off's intervals are calibrated "
                      "by its own training (it applies to --refit once)")
    for coverage in coverages:
        replace(backtest, coverage=coverage)  # raises ConfigError for a level outside (0, 1)
    # the series train would fit: a host trained on from after an outage, a few short ones left out
    dataset = read_data(data_path, data_options, reporter, caller="evaluate", long_gaps="recent-per-id")
    dataset, options = without_short_series(dataset, options, reporter, backtest=True)
    warn_of_lone_extremes(dataset, reporter)
    shape = resolve_shape(dataset, options, QUIET)  # said below, of the series kept
    horizon = shape.horizon
    stride = backtest.stride or horizon
    # cut-off k (0 = earliest) of a series of n steps: the first forecast step
    offsets = [horizon + (backtest.folds - 1 - k) * stride for k in range(backtest.folds)]
    kept, warning = _without_short_series(dataset, offsets[0], options, shape)
    # the horizon of the whole file (what train would fit on it), and the lookback of the series
    # kept: one left out no longer shortens it
    same_horizon = kept is dataset or resolve_shape(kept, options, QUIET).horizon == horizon
    if warning:
        reporter.warn(warning + ("" if same_horizon else f"; the horizon stays the whole file's, {horizon} steps"))
    dataset, options = kept, options if same_horizon else replace(options, horizon=horizon)
    if options.horizon is None and (fitting := _fitting_horizon(dataset, options, backtest, horizon)) < horizon:
        # the series kept are all too short for the cut-offs of the automatic horizon
        shortest = min(dataset.series, key=lambda series: len(series.values))
        apart = "a horizon" if backtest.stride is None else f"{backtest.stride} steps"
        reporter.info(f"Horizon {fitting} steps: series '{shortest.name}' has {len(shortest.values)} rows, and a "
                      f"longer horizon leaves too few before the first of {backtest.folds} cut-offs {apart} apart "
                      "(--horizon, --folds and --stride set it)")
        options, horizon = replace(options, horizon=fitting), fitting
        stride = backtest.stride or horizon
        offsets = [horizon + (backtest.folds - 1 - k) * stride for k in range(backtest.folds)]
    backtest = replace(backtest, stride=stride)
    # the lookback each fold's training chooses on the data before its cut-off is said there
    shape = resolve_shape(dataset, options, reporter, say_lookback=False)
    _check_room(dataset, offsets[0], shape)
    scales, unseasoned = _mase_scales(dataset, offsets[0], horizon, backtest.season)  # before any training
    if warning := unscaled_mase_warning([name for name, scale in scales.items() if scale == 0 and
                                         name not in unseasoned], "the first cut-off"):
        reporter.warn(warning)
    if unseasoned:
        period = seasonal_period(dataset.series[0].freq)
        reporter.warn(f"MASE leaves out {series_text(unseasoned)}: {'its' if len(unseasoned) == 1 else 'their'} history "
                      f"before the first cut-off is shorter than a season and one step ({period + 1} steps), which "
                      "leaves no seasonal difference to scale the errors by; MAE and RMSE include them (--season sets "
                      "a shorter season)")

    reporter.info(f"Backtest at {cutoffs_text(backtest.folds, stride)}: {_training_cost(shape, backtest)}")
    if warning := _uneven_ends_warning(dataset):
        reporter.warn(warning)
    rows: dict[float, list] = {coverage: [] for coverage in coverages}
    fitted = None
    warned: set[str] = set()  # said once, not at every cut-off
    n_series = f"{len(dataset.series):,} series"
    for fold, offset in enumerate(offsets):
        stage = f"Fold {fold + 1}/{backtest.folds}"
        known = _truncated(dataset, offset)  # what the models may see at this cut-off
        if fitted is None or backtest.refit == "each":
            truncated = known
            reporter.info(f"{stage}: training on all but the last {offset} steps")
            # the horizon of the whole data: a short series' automatic one depends on its length
            fitted = fit(truncated, replace(options, horizon=horizon), reporter)
            if fitted.options.model == "network":
                stopped = epochs_text(fitted.epochs_run, fitted.best_epoch, fitted.members)
                reporter.info(f"{stage}: stopped after {stopped}")
            # spinners on a terminal for the stages between trainings, which show no progress
            with reporter.status(f"{stage}: validating the model and the baselines on {n_series}"):
                validation = evaluate_validation(fitted, truncated, backtest.season)
            calibration = validation["calibration"]
            for warning in {forecasting.few_windows_warning(calibration["model"]["intervals"], coverage)
                            for coverage in coverages} - {None} - warned:
                reporter.warn(warning)
                warned.add(warning)
        elif backtest.recalibrate:
            with reporter.status(f"{stage}: recalibrating the intervals on the values before the cut-off"):
                calibration = _arrived_calibration(fitted, validation, known, offsets[0] - offset, backtest.season)
        with reporter.status(f"{stage}: forecasting {n_series} from the cut-off"):
            for coverage in coverages:
                rows[coverage].append(_fold_rows(fitted, fitted.linear, calibration, known, dataset,
                                                 replace(backtest, coverage=coverage)))

    import pandas as pd

    evaluations = []
    with reporter.status(f"Scoring the forecasts of {n_series} at {cutoffs_text(backtest.folds)}"):
        for coverage in coverages:
            frame = pd.concat(rows[coverage], ignore_index=True)[ROW_COLUMNS]
            summary, per_step, per_series = _summaries(frame, scales)
            # the season in effect, said in the result (the series share one frequency)
            season = backtest.season or seasonal_period(dataset.series[0].freq)
            evaluations.append(Evaluation(frame, summary, per_step, per_series, fitted.options,
                                          replace(backtest, coverage=coverage, season=season), len(dataset.series)))
    return evaluations


def _uneven_ends_warning(dataset: Dataset) -> str | None:
    """What to say when the series end at different times: cut-offs are counted back from each
    series' own end, so one model, trained on every series up to its own cut-off, learns
    from another series' values after this one's cut-off, which a model trained then would
    not have had."""
    ends = {s.name: s.index[-1] for s in dataset.series}
    latest = max(ends.values())
    early = [name for name, end in ends.items() if end < latest]
    if not early:
        return None
    return (f"{len(early)} of {len(ends)} series end before the others (e.g. '{early[0]}' at "
            f"{time_text(ends[early[0]])}, the latest at {time_text(latest)}): cut-offs are counted back from each "
            "series' own end, so the models also learn from other series' values after an early series' cut-offs, "
            "and its figures are somewhat optimistic; give every series the same end for a clean backtest")


def cutoffs_text(folds: int, stride: int | None = None) -> str:
    """"1 cut-off", "3 cut-offs", or with ``stride`` "3 cut-offs 24 steps apart"."""
    return counted(folds, "cut-off") + (f" {counted(stride, 'step')} apart" if stride and folds > 1 else "")


def _training_cost(options: TrainOptions, backtest: BacktestOptions) -> str:
    """How much training the backtest takes, in words, said before it starts: an ensemble or a
    final fit multiplies it."""
    cost = f"the model trained {'at each cut-off' if backtest.refit == 'each' else 'once, before the first cut-off'}"
    if options.model == "network" and options.ensemble > 1:
        cost += f", as {options.ensemble} networks (--ensemble)"
    if options.model == "network" and options.final_fit == "all":
        cost += ", each network twice (--final-fit all)"
    return cost


def _fitting_horizon(dataset: Dataset, options: TrainOptions, backtest: BacktestOptions, horizon: int) -> int:
    """The longest automatic horizon, ``horizon`` at most, whose backtest the shortest series
    has the rows for: each step shorter moves the cut-offs (a horizon apart unless
    ``--stride``) closer to the end. ``horizon`` where none fits (the error then says what to
    change). A three-year weekly series got the horizon and lookback of its whole length,
    and the backtest needed 234 of its 156 rows."""
    shortest = min(len(series.values) for series in dataset.series)
    for candidate in range(horizon, 0, -1):
        earliest = candidate + (backtest.folds - 1) * (backtest.stride or candidate)
        try:
            shape = resolve_shape(dataset, replace(options, horizon=candidate), QUIET)
        except (ConfigError, DataError):
            continue
        if _rows_needed(earliest, shape) <= shortest:
            return candidate
    return horizon


def _check_room(dataset: Dataset, earliest: int, options: TrainOptions) -> None:
    needed = _rows_needed(earliest, options)
    for series in dataset.series:
        if len(series.values) < needed:
            raise DataError(
                f"{dataset.shown}: series '{series.name}' has {len(series.values)} rows but the backtest needs at "
                f"least {needed} (training before the first cut-off, {earliest} steps from the end); "
                "use fewer --folds, a smaller --stride or a shorter --horizon"
            )


def _rows_needed(earliest: int, options: TrainOptions) -> int:
    """The rows a series needs for a backtest whose first cut-off is ``earliest`` steps before
    its end, with ``options``' (resolved) lookback and horizon."""
    return min_length(options.lookback, options.horizon, options.val_fraction) + earliest


def _without_short_series(dataset: Dataset, earliest: int, options: TrainOptions,
                          shape: TrainOptions) -> tuple[Dataset, str | None]:
    """``dataset`` without the series too short for the backtest, and a warning naming them, where
    others are long enough: a store opened a few months ago should not keep the others from
    being backtested (``train`` takes it, with a shorter lookback for all). Too short means
    shorter than the backtest needs with the lookback the longest series would get alone.
    Unchanged, without a warning, where every series fits ``shape`` or none would be left: then
    :func:`_check_room` passes, or refuses with the remedies.

    Args:
        shape: ``options`` resolved on every series (:func:`resolve_shape`).
    """
    # with the automatic lookback, what the others would be backtested with once it is left out
    longest = max(dataset.series, key=lambda series: len(series.values))
    kept_shape = resolve_shape(replace(dataset, series=[longest]), replace(options, horizon=shape.horizon), QUIET)
    needed = _rows_needed(earliest, kept_shape)
    short = [series for series in dataset.series if len(series.values) < needed]
    if not short or len(short) == len(dataset.series) or not [s for s in dataset.series
                                                              if len(s.values) < _rows_needed(earliest, shape)]:
        return dataset, None
    named = first_few((f"'{series.name}' ({len(series.values)} rows)" for series in short), NAMED_SHORT)
    warning = (f"left out {counted(len(short), 'series')} too short for the backtest, which needs {needed} rows "
               f"(training before the first cut-off, {earliest} steps from the end): {named}; fewer --folds, "
               "a smaller --stride or a shorter --horizon would keep them")
    return replace(dataset, series=[series for series in dataset.series if len(series.values) >= needed]), warning


#: The most short series the warning that leaves them out names.
NAMED_SHORT = 3


def _truncated(dataset: Dataset, offset: int) -> Dataset:
    """Every series without its last ``offset`` steps, as a file ending at the cut-off would
    give it. A gap that runs up to the cut-off was filled by interpolating towards the first
    value after it, which a model at the cut-off cannot have seen: it holds the last value
    before the gap instead, as reading a file that ends within a gap holds a covariate's
    (a target's trailing gap is cut off there, which would move the cut-off)."""
    series = []
    for s in dataset.series:
        covariates_missing = None if s.covariates_missing is None else s.covariates_missing[:-offset]
        covariates = s.covariates[:-offset]
        if covariates_missing is not None and covariates.shape[1]:
            covariates = np.column_stack([_held_at_end(column, gaps) for column, gaps in
                                          zip(covariates.T, covariates_missing.T)])
        series.append(replace(s, index=s.index[:-offset], values=_held_at_end(s.values[:-offset], s.missing[:-offset]),
                              covariates=covariates, missing=s.missing[:-offset],
                              covariates_missing=covariates_missing))
    return replace(dataset, series=series)


def _held_at_end(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """``values`` `(n,)` with the run of ``missing`` steps at its end (if any) set to the last
    value before the run."""
    present = np.flatnonzero(~missing)
    if not len(missing) or not missing[-1] or not present.size:
        return values
    held = values.copy()
    held[present[-1] + 1 :] = values[present[-1]]
    return held


def _arrived_calibration(fitted: FittedModel, validation: dict, known: Dataset, trained_offset: int,
                         season: int | None) -> dict[str, dict]:
    """Each method's interval calibration (as in ``validation["calibration"]``), recalibrated
    at the cut-off, the end of each series of ``known`` (:func:`_truncated`), on the forecasts
    of the steps between the end of the training data (``trained_offset`` steps before the
    cut-off) and the cut-off."""
    lookback, horizon = fitted.options.lookback, fitted.options.horizon
    calibration = validation["calibration"]
    per_step = math.ceil(calibration["model"]["intervals"]["n"] / len(known.series))
    spans = [(len(series.values), len(series.values) - trained_offset) for series in known.series]
    origins_of, share = forecasting.arrival_origins(spans, lookback, horizon, per_step)
    windows, actuals = [], []
    for series, prep, (n_known, n_trained), origins in zip(known.series, fitted.prepared, spans, origins_of):
        if len(origins):
            features = prep.scaler.transform(
                series_features(series.values, series.covariates, series.index, series.freq, fitted.options.calendar)
            )
            windows.append(input_windows(features[origins[0] - lookback : origins[-1]], lookback))
        else:
            windows.append(np.empty((0, lookback, fitted.spec["n_features"]), dtype=np.float32))
        actuals.append(forecasting.arrived_targets(series.values, series.missing, origins, horizon, n_known,
                                                   n_trained, per_step))
    forecasts_of = method_forecasts(fitted, known, windows, origins_of, fitted.linear, season)
    # every method's calibration shares the series' window spreads, so the factors are too
    factors = [forecasting.spread_factors(window, reference)
               for window, reference in zip(windows, validation["window_spreads"])]
    recalibrated = {}
    for method, own in calibration.items():
        arrived = [
            forecasting.normalized_residuals(actual, forecasts[method], factor, prep.scaler, scale)
            for prep, actual, forecasts, factor, scale in zip(
                fitted.prepared, actuals, forecasts_of, factors, own["residual_scales"])
        ]
        intervals = forecasting.recalibrated(own["intervals"], np.concatenate(arrived), share)
        recalibrated[method] = {**own, "intervals": intervals}
    return recalibrated


def _fold_rows(fitted: FittedModel, linear, calibrations: dict[str, dict], known: Dataset, dataset: Dataset,
               backtest: BacktestOptions):
    """Forecast rows of every method at the cut-off, the end of each series of ``known``.

    Args:
        linear: the fitted linear baseline.
        calibrations: by method, what calibrates its intervals (``evaluate_validation``'s
            ``calibration``).
        known: the series up to the cut-off, as the models may see them (:func:`_truncated`).
        dataset: the whole series, for the values that followed.
    """
    import pandas as pd

    lookback, horizon = fitted.options.lookback, fitted.options.horizon
    starts = [len(series.values) for series in known.series]
    windows = []
    for series, prep, start in zip(known.series, fitted.prepared, starts):
        features = prep.scaler.transform(
            series_features(series.values, series.covariates, series.index, series.freq, fitted.options.calendar)
        )
        windows.append(input_windows(features[start - lookback : start], lookback))
    forecasts_of = method_forecasts(fitted, known, windows, [np.array([start]) for start in starts], linear,
                                    backtest.season)
    frames = []
    floors = forecasting.value_floors(dataset.series, starts)
    for i, (series, prep, start, window, forecasts) in enumerate(
        zip(dataset.series, fitted.prepared, starts, windows, forecasts_of)
    ):
        actual = np.where(series.missing, np.nan, series.values)[start : start + horizon]
        floor = floors[i]
        for method, values in forecasts.items():
            calibration = calibrations[method]
            spread = forecasting.interval_spreads(
                calibration["intervals"], calibration["residual_scales"][i], calibration["window_spreads"][i],
                window, backtest.coverage)[0]
            # in scaled units, where the calibration was made (the log of the data with --target-transform log)
            center = prep.scaler.target_to_scaled(values[0])
            frames.append(
                pd.DataFrame(
                    {
                        "series": series.name,
                        "cutoff": series.index[start - 1],
                        "timestamp": series.index[start : start + horizon],
                        "step": np.arange(1, horizon + 1),
                        "actual": actual,
                        "model": method,
                        "forecast": forecasting.floored(values[0], floor),
                        "lower": forecasting.floored(prep.scaler.target_to_original(center - spread), floor),
                        "upper": forecasting.floored(prep.scaler.target_to_original(center + spread), floor),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def _mase_scales(dataset: Dataset, earliest: int, horizon: int,
                 season: int | None) -> tuple[dict[str, float], list[str]]:
    """Each series' MASE scale: the mean absolute seasonal difference of its history before
    the first cut-off (``earliest`` steps before its end), by name in the data's order; and
    the series whose history is too short for their automatic season (``season`` None), for
    which the scale is 0 (left out of MASE, as a series without seasonal differences is): 60
    weeks of sales are backtested, not refused for want of a year before the first cut-off.

    Raises:
        DataError: a series' history before the first cut-off is too short for the season
            given; the message says whether fewer folds (cut-offs at the last ``horizon``
            steps alone) would leave enough.
    """
    scales, unseasoned = {}, []
    for s in dataset.series:
        period = season or seasonal_period(s.freq)
        try:
            scales[s.name] = metrics.seasonal_scale(s.values[:-earliest], period)
        except ValueError:
            if season is None:
                scales[s.name] = 0.0
                unseasoned.append(s.name)
                continue
            try:
                metrics.seasonal_scale(s.values[:-horizon], period)
                remedy = "pass a smaller --season or fewer --folds"
            except ValueError:
                remedy = "pass a smaller --season"
            raise DataError(
                f"{dataset.shown}: series '{s.name}' has too little history before the first cut-off for a "
                f"season of {period} steps (MASE); {remedy}"
            ) from None
    return scales, unseasoned


def _summaries(rows, scales: dict[str, float]):
    """Error measures per method: overall, per step and per series (in the order of ``scales``).

    MASE divides each series' errors by its ``scales`` entry (:func:`_mase_scales`), so the
    pooled figure is the mean of the per-series MASE.
    """
    rows = rows.assign(scale=rows["series"].map(scales))
    # methods in METHODS' order, series in the data's
    orders = {"model": {name: i for i, name in enumerate(METHODS)},
              "series": {name: i for i, name in enumerate(scales)}}

    def measured(keys: list[str]):
        frame = metrics.grouped_forecast_summary(rows, keys)
        key = lambda column: column.map(orders[column.name]) if column.name in orders else column  # noqa: E731
        return frame.sort_values(keys, key=key, kind="stable").reset_index(drop=True)

    return measured(["model"]), measured(["model", "step"]), measured(["series", "model"])
