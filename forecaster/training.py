"""Train one global network on every series of a CSV file and write the model directory."""

from __future__ import annotations

import numbers
import os
import random
import time
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from . import anomaly, forecasting, interrupts
from .artifacts import (LINEAR_FILE, MODEL_FILE, NETWORK_FILE, check_replaceable, clean_leftovers, model_level,
                        newer_model_note, save_artifact)
from .baselines import LinearAutoregression, SeasonalNaive, seasonal_naive
from .data import DataOptions, Dataset, check_data_argument, lone_extreme, read_data, seasonal_period
from .errors import ConfigError, DataError
from .metrics import error_summary, json_number, mean_scaled_error, seasonal_scale
from .models import CELLS, NETWORK_ONLY, NetworkSpec, build_network, check_segment, start_from_linear
from .report import QUIET, Reporter, first_few, reporter_given, series_text, unscaled_mase_warning
from .features import CYCLE_LENGTHS, calendar_cycles, series_features
from .locking import model_lock
from .scaling import TARGET_TRANSFORMS, SeriesScaler, require_positive_target
from .windows import WINDOW_LEVELS, WindowSet, max_lookback, min_length, split_point, supervised_windows, window_spans

MIN_AUTO_LOOKBACK = 4
MAX_AUTO_LOOKBACK = 336
#: What can be trained: the recurrent network, or one of the baselines it is compared with.
MODEL_TYPES = ("network", "linear", "naive", "seasonal-naive")
#: What the model is finally fitted on: the training part, or all the data (``--final-fit``).
FINAL_FITS = ("train", "all")
#: "auto": relative to the last value if the linear model forecasts validation clearly better so
#: (:func:`_chosen_window_level`), else to the mean; see :func:`forecaster.windows.window_level`
WINDOW_LEVEL_CHOICES = ("auto", *WINDOW_LEVELS)
#: How much each series' windows count in the network's loss: "seasonal-error", by the inverse
#: of the series' in-sample seasonal-naive error (see :func:`series_weights`); "even", alike.
SERIES_WEIGHTS = ("seasonal-error", "even")
#: The smallest in-sample seasonal-naive error (scaled units: a share of the series' standard
#: deviation) a weight is taken from, so that a constant or exactly periodic series, which
#: seasonal naive forecasts without error, gets a large weight and not an infinite one.
SEASONAL_ERROR_FLOOR = 0.01
#: No series weighs more than this many times the median series: one that seasonal naive
#: forecasts almost exactly (a stuck sensor with a glitch, a flat line with a step) would
#: otherwise take most of the loss, and the network would chase its rare surprises.
SERIES_WEIGHT_CAP = 10.0
#: How the baselines are named in metrics, next to ``"model"``.
BASELINES = ("naive", "seasonal_naive", "linear")
#: The automatic segment (``segment`` None) is the seasonal period when the lookback holds at
#: least this many of them; shorter windows are stepped through one step at a time.
MIN_SEGMENTS = 4
#: A segmented network takes ``lookback / segment`` recurrent steps instead of ``lookback``
#: and trains several times faster, so by default three of them (seeds seed to seed + 2) are
#: trained and averaged, at a lower learning rate than a network that steps through the
#: window. Chosen on the ETTh1 development split and on M4 Hourly, whose validation agreed
#: (BENCHMARKS.md, "Segmented networks").
SEGMENTED_ENSEMBLE = 3
SEGMENTED_LEARNING_RATE = 3e-4
STEPWISE_LEARNING_RATE = 1e-3
#: What the options a model's saved options lack meant when it was saved.
SAVED_BEFORE_THEM = {"ensemble": 1, "segment": 1, "learning_rate": STEPWISE_LEARNING_RATE, "series_weights": "even"}


#: The largest seed given: NumPy and the backends take up to 2**32 - 1, and an ensemble's
#: members and layers take the seeds after it (drawn seeds are below it too).
MAX_SEED = 2**31 - 1
#: The share of each series kept for validation that the library accepts, as the command line
#: does (``--val-fraction``'s range in cli.py, which does not import this module).
VAL_FRACTION_RANGE = (0.01, 0.9)


@dataclass(frozen=True)
class TrainOptions:
    """How to train. ``None`` for lookback / horizon / seed means: choose from the data."""

    lookback: int | None = None
    horizon: int | None = None
    model: str = "network"
    cell: str = "lstm"
    layers: int = 1
    units: int = 32
    bidirectional: bool = False
    dropout: float = 0.0
    linear_skip: bool = True
    #: networks trained with seeds seed, seed + 1, ... whose forecasts are averaged; None:
    #: :data:`SEGMENTED_ENSEMBLE` for a segmented network, 1 for one that steps through the window
    ensemble: int | None = None
    #: validate, stop early and keep an exponential moving average of the weights
    ema: bool = False
    #: steps the recurrent layer takes at once (see :class:`forecaster.models.NetworkSpec`); None:
    #: the seasonal period where the lookback holds :data:`MIN_SEGMENTS` of them, else 1
    segment: int | None = None
    #: what the model is finally fitted on, once validation has chosen the epochs (network) and
    #: the penalty (linear): "train", the training part only, or "all", validation part included
    final_fit: str = "train"
    epochs: int = 100
    batch_size: int = 64
    #: None: :data:`SEGMENTED_LEARNING_RATE` for a segmented network, :data:`STEPWISE_LEARNING_RATE` otherwise
    learning_rate: float | None = None
    val_fraction: float = 0.2
    patience: int = 10
    windows_per_epoch: int | None = None
    #: "log": model the target's logarithm (values must be above 0); "none": the values as they are;
    #: "auto": the log if every value is above 0 and the linear model forecasts validation better with it
    target_transform: str = "auto"
    #: None: given to the model, and left out if the linear model does better without them on a
    #: validation part that spans their longest cycle
    calendar: bool | None = None
    #: what each window is expressed relative to: one of :data:`WINDOW_LEVEL_CHOICES`
    window_level: str = "auto"
    #: how much each series counts in the network's loss: one of :data:`SERIES_WEIGHTS`
    series_weights: str = "seasonal-error"
    seed: int | None = None

    def __post_init__(self) -> None:
        if found := wrong_kind(self):
            name, what, value = found
            raise TypeError(f"TrainOptions: {name} must be {what}, got {type(value).__name__} {value!r}")
        plain_values(self, ("model", "cell", "target_transform", "window_level", "series_weights", "final_fit"))
        if self.model not in MODEL_TYPES:
            raise ConfigError(f"--model must be one of {', '.join(MODEL_TYPES)}, not '{self.model}'")
        if self.target_transform not in TARGET_TRANSFORMS:
            raise ConfigError(f"--target-transform must be one of {', '.join(TARGET_TRANSFORMS)}, "
                              f"not '{self.target_transform}'")
        if self.window_level not in WINDOW_LEVEL_CHOICES:
            raise ConfigError(f"--window-level must be one of {', '.join(WINDOW_LEVEL_CHOICES)}, "
                              f"not '{self.window_level}'")
        if self.series_weights not in SERIES_WEIGHTS:
            raise ConfigError(f"--series-weights must be one of {', '.join(SERIES_WEIGHTS)}, "
                              f"not '{self.series_weights}'")
        if self.final_fit not in FINAL_FITS:
            raise ConfigError(f"--final-fit must be one of {', '.join(FINAL_FITS)}, not '{self.final_fit}'")
        for name in ("epochs", "batch_size", "patience"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        for name in ("lookback", "horizon", "windows_per_epoch", "ensemble", "segment"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if not VAL_FRACTION_RANGE[0] <= self.val_fraction <= VAL_FRACTION_RANGE[1]:
            raise ConfigError(f"--val-fraction must be between {VAL_FRACTION_RANGE[0]} and {VAL_FRACTION_RANGE[1]}, "
                              f"got {self.val_fraction}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ConfigError(f"--learning-rate must be positive, got {self.learning_rate}")
        # the network's own checks (NetworkSpec), made here too so that a wrong value fails
        # before the data is read, not after the linear model is fitted
        if self.cell not in CELLS:
            raise ConfigError(f"--cell must be one of {', '.join(CELLS)}, not '{self.cell}'")
        for name in ("units", "layers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"--seed must be between 0 and {MAX_SEED}, got {self.seed}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{**SAVED_BEFORE_THEM, **{k: v for k, v in data.items() if k in known}})


def unused_options_warning(options: TrainOptions) -> str | None:
    """What to tell a user who set network options (to other than their defaults) for a
    baseline model, which has no use for them: a typo'd ``--model`` or an option that does
    not mean what they think would otherwise pass unnoticed. None when there is nothing to say."""
    if options.model == "network":
        return None
    defaults = TrainOptions()
    repeats = options.model in ("naive", "seasonal-naive")  # the target's own earlier values, no inputs
    unused = NETWORK_ONLY + (("calendar", "window_level") if repeats else ())
    given = [name for name in unused if getattr(options, name) != getattr(defaults, name)]
    if not given:
        return None
    flags = [option_flag(name, getattr(options, name)) for name in given]
    why = "it repeats earlier values of the target" if repeats else "only the network uses them"
    return f"{', '.join(flags)} {'has' if len(flags) == 1 else 'have'} no effect with --model {options.model} ({why})"


def option_flag(name: str, value: Any) -> str:
    """An option as it is written on the command line: ``--units 64``, ``--ema``, ``--no-linear-skip``."""
    flag = name.replace("_", "-")
    if isinstance(value, bool):
        return f"--{flag}" if value else f"--no-{flag}"
    return f"--{flag} {value}"


#: Each annotated type of an options dataclass's fields: what it is called and what fits it.
_KINDS = {
    "int": ("a whole number", lambda v: isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))),
    "float": ("a number", lambda v: isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))),
    "bool": ("True or False", lambda v: isinstance(v, (bool, np.bool_))),
    "str": ("a string", lambda v: isinstance(v, str)),
}


def wrong_kind(options: Any) -> tuple[str, str, Any] | None:
    """The first field of an options dataclass (:class:`TrainOptions`, a backtest's) whose value
    is not of its annotated kind (``int | None`` and the like): its name, what it must be and
    the value; None when all fit. A caller's ``epochs="2"`` is then refused where it was given,
    not in a comparison far from it."""
    for field_ in fields(options):
        base, *others = field_.type.split(" | ")
        what, fits = _KINDS[base]
        value = getattr(options, field_.name)
        if not (fits(value) or (value is None and "None" in others)):
            return field_.name, what + (" or None" if "None" in others else ""), value
    return None


def plain_values(options: Any, choices: tuple[str, ...] = ()) -> None:
    """Make the fields of a frozen options dataclass, checked by :func:`wrong_kind`, what the
    command line gives: NumPy numbers as Python's (``np.int64(3)`` from a pandas table of
    settings could not be written to the model's JSON, after the whole training), and the
    ``choices`` fields in lower case, as the command line takes them (``"LSTM"``)."""
    for field_ in fields(options):
        value = getattr(options, field_.name)
        if isinstance(value, np.generic):
            object.__setattr__(options, field_.name, value.item())
        elif field_.name in choices and isinstance(value, str):
            object.__setattr__(options, field_.name, value.lower())


@dataclass
class TrainResult:
    """What a training run produced; the model itself is in ``model_dir``.

    Attributes:
        model_dir: where the model was written.
        options: the training options as resolved (lookback, horizon, seed, ...).
        n_series, n_train_windows, n_val_windows: what it was trained and validated on.
        epochs_run, best_epoch: the network's epochs and its best one (0: none bettered the
            linear start, which was kept); an ensemble's first member's; 0 for a baseline.
        seconds: the run's wall time, from when it held the model directory's lock (a --wait for
            another train is not counted).
        metrics: validation errors by method (``model``, ``naive``, ``seasonal_naive``,
            ``linear``), each ``{"mae": ..., "rmse": ..., "mase": ...}``, MAE and RMSE in data
            units.
        series_metrics: the same per series name.
        members: each ensemble member's ``seed``, ``epochs_run`` and ``best_epoch``.
    """

    model_dir: Path
    options: TrainOptions
    n_series: int
    n_train_windows: int
    n_val_windows: int
    epochs_run: int
    best_epoch: int
    seconds: float
    metrics: dict[str, dict[str, float]]
    series_metrics: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    #: see :class:`FittedModel`
    members: list[dict[str, int]] = field(default_factory=list)


@dataclass
class _PreparedSeries:
    name: str
    scaler: SeriesScaler
    features: np.ndarray  # (n_steps, n_features) scaled
    split: int


def default_horizon(freq: str) -> int:
    """One seasonal period, kept between 6 and 48 steps."""
    return int(min(max(seasonal_period(freq), 6), 48))


def _steps_per_week(freq: str) -> int:
    """Steps in a week for sub-daily data (hourly: 168), where a week fits the automatic
    lookback: the weekly cycle is then in every window. 0 otherwise."""
    import pandas as pd

    try:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    except ValueError:
        return 0
    week = pd.Timedelta(days=7)
    if step >= pd.Timedelta(days=1) or week % step:
        return 0
    steps = int(week / step)
    return steps if steps <= MAX_AUTO_LOOKBACK else 0


def automatic_horizon(freq: str, n_steps: int, val_fraction: float, lookback: int = 0) -> int:
    """The horizon when none is given, for data whose shortest series has ``n_steps``.

    :func:`default_horizon`, shortened where it would leave that series no room for a
    lookback as long as the horizon and as many training windows (a weekly series of 60
    rows cannot learn to forecast 48 weeks), or for the ``lookback`` the model needs at
    least (seasonal naive's season): then the longest horizon that does, if any.
    """
    preferred = default_horizon(freq)

    def fits(horizon: int) -> bool:
        room = max_lookback(n_steps, horizon, val_fraction)
        return room >= 2 * horizon and room >= lookback

    if fits(preferred):
        return preferred
    return next((h for h in range(preferred - 1, 0, -1) if fits(h)), preferred)


def resolve_shape(dataset: Dataset, options: TrainOptions, reporter: Reporter = QUIET,
                  say_lookback: bool = True) -> TrainOptions:
    """Fill in lookback, horizon and the network's segment, ensemble and learning rate from the
    data, and check every series is long enough.

    The automatic horizon is one seasonal period within bounds, shortened for a short series
    (:func:`automatic_horizon`; ``reporter`` says so). The automatic lookback covers two
    seasonal periods, or a whole week of sub-daily data (at least the horizon, at most
    :data:`MAX_AUTO_LOOKBACK`), shortened when the shortest series could not otherwise give
    training windows (``reporter`` says so too). The automatic segment is the seasonal
    period where the lookback holds :data:`MIN_SEGMENTS` of them, else 1; the ensemble and
    learning rate not given follow from it. ``say_lookback`` False: the lookback is not said
    (``evaluate``, whose folds each choose their own on the data before their cut-off).
    """
    shortest = min(dataset.series, key=lambda s: len(s.values))
    season = max(seasonal_period(s.freq) for s in dataset.series)
    horizon = options.horizon
    if horizon is None:
        freq = dataset.series[0].freq
        needs = (options.lookback or season) if options.model == "seasonal-naive" else 0
        horizon = automatic_horizon(freq, len(shortest.values), options.val_fraction, needs)
        if horizon < default_horizon(freq):
            reporter.info(f"Horizon {horizon} steps, not {default_horizon(freq)}: series '{shortest.name}' has "
                          f"{len(shortest.values)} rows, too few to learn a longer one (--horizon sets it)")
    lookback = options.lookback
    if lookback is None:
        week = max(_steps_per_week(s.freq) for s in dataset.series)
        preferred = min(max(2 * season, week, horizon, MIN_AUTO_LOOKBACK), MAX_AUTO_LOOKBACK)
        # leave at least as many training windows as the lookback is long, where possible
        room = max_lookback(len(shortest.values), horizon, options.val_fraction)
        lookback = max(min(preferred, (room + 1) // 2), min(MIN_AUTO_LOOKBACK, room))
        if lookback < 1:  # no lookback fits: the error below gives what the shortest one needs
            lookback = MIN_AUTO_LOOKBACK
        if options.model == "seasonal-naive":
            lookback = max(lookback, season)
        elif say_lookback and lookback < preferred and len(shortest.values) >= min_length(lookback, horizon,
                                                                                              options.val_fraction):
            reporter.info(f"Lookback {lookback} steps, not {preferred}: series '{shortest.name}' has "
                          f"{len(shortest.values)} rows, which would leave too few training windows (--lookback "
                          "sets it)")
    if options.model == "seasonal-naive" and lookback < season:
        raise ConfigError(f"--model seasonal-naive needs --lookback of at least one season ({season} steps), got {lookback}")
    segment = options.segment
    if segment is None:
        segment = season if season > 1 and lookback >= MIN_SEGMENTS * season else 1
    elif options.model == "network":
        check_segment(segment, lookback)  # here, before the baselines are fitted, not once the network is built
    ensemble = options.ensemble or (SEGMENTED_ENSEMBLE if segment > 1 else 1)
    learning_rate = options.learning_rate or (SEGMENTED_LEARNING_RATE if segment > 1 else STEPWISE_LEARNING_RATE)
    needed = min_length(lookback, horizon, options.val_fraction)
    for series in dataset.series:
        if len(series.values) < needed:
            raise DataError(
                f"{dataset.shown}: series '{series.name}' has {len(series.values)} rows after cleaning but needs at least "
                f"{needed} for lookback {lookback} + horizon {horizon} with a {options.val_fraction:g} validation "
                "fraction; give it more history or pass a smaller --lookback / --horizon"
            )
    return replace(options, lookback=lookback, horizon=horizon, segment=segment, ensemble=ensemble,
                   learning_rate=learning_rate)


def without_short_series(dataset: Dataset, options: TrainOptions, reporter: Reporter = QUIET,
                         backtest: bool = False) -> tuple[Dataset, TrainOptions]:
    """``dataset`` without the few series too short for the model the others support, with a
    warning naming them: a host added yesterday must neither stop a nightly training that
    gives ``--lookback`` and ``--horizon`` nor, left to choose them, shorten them for every
    series (the forecasts a cron job reads would change length). Too short: shorter than the
    lookback and horizon given, or the longest series would get alone, need. Left out only
    while they are fewer than half of the series; many new ones get a shape that suits them
    all instead. Unchanged where every series fits, or none would be left. ``backtest``: for
    ``evaluate``, which backtests what ``train`` would fit (the warning says so).

    The shape chosen for the series kept rests on the shortest of them, and can be shorter
    than the longest's alone; for ``train``, a series left out that fits it after all is then
    kept, and the options returned fix that shape (said as ``resolve_shape`` says it).

    Returns:
        the series to fit, and the options to fit them with.
    """
    if len(dataset.series) < 2:
        return dataset, options
    longest = max(dataset.series, key=lambda series: len(series.values))
    try:
        shape = resolve_shape(replace(dataset, series=[longest]), options, QUIET)
    except (DataError, ConfigError):
        return dataset, options  # said, with the remedies, when every series is resolved
    needed = min_length(shape.lookback, shape.horizon, options.val_fraction)
    short = [series for series in dataset.series if len(series.values) < needed]
    if not short or 2 * len(short) >= len(dataset.series):
        return dataset, options
    if not backtest and (options.lookback is None or options.horizon is None):
        kept = replace(dataset, series=[series for series in dataset.series if len(series.values) >= needed])
        settled = resolve_shape(kept, options, QUIET)
        needed_then = min_length(settled.lookback, settled.horizon, options.val_fraction)
        if needed_then < needed:
            resolve_shape(kept, options, reporter)  # says why the shape is shorter
            options = replace(options, lookback=settled.lookback, horizon=settled.horizon)
            needed = needed_then
            short = [series for series in short if len(series.values) < needed]
            if not short:
                return dataset, options
    named = first_few(f"'{series.name}' ({len(series.values)} rows)" for series in short)
    if options.lookback is not None and options.horizon is not None:  # given, or settled on above
        why = f"too short for lookback {options.lookback} + horizon {options.horizon}, which need {needed} rows"
    else:
        why = (f"much shorter than the others (the longest has {len(longest.values)} rows), which would shorten "
               "every series' lookback and horizon")
    then = (f"train leaves {'it' if len(short) == 1 else 'them'} out too" if backtest else
            "each is trained on once it is longer (until then predict and detect-anomalies skip it)")
    reporter.warn(f"left out {len(short)} series {why}: {named}; {then}")
    return replace(dataset, series=[series for series in dataset.series if len(series.values) >= needed]), options


@dataclass
class FittedModel:
    """A model fitted on a dataset, before it is evaluated and written.

    Attributes:
        predictor: the Keras network or a baseline predictor; takes relative windows
            `(n_windows, lookback, n_features)` and returns `(n_windows, horizon)`.
        options: the options with lookback, horizon and seed resolved.
        spec: JSON-safe description of the model (type, shape, network layers).
        prepared: each series' scaler, scaled features and split point.
        train_windows: the training windows of all series together.
        val_parts: each series' validation inputs `(n, lookback, n_features)` and targets
            `(n, horizon)`, scaled but not relative.
        epochs_run, best_epoch: the network's epochs and its best one (0: none bettered the
            linear start); an ensemble's first member's, the network one run of the same
            seed without ``ensemble`` would have trained.
        linear: the linear baseline fitted on the same windows (the network starts from it
            and the summaries compare with it).
        members: each ensemble member's ``seed``, ``epochs_run`` and ``best_epoch``; empty
            for a single network or a baseline.
        validated: with ``final_fit`` "all", the model and linear baseline as they were
            fitted on the training part and validated: what the validation errors, the
            interval calibration and the anomaly threshold come from, as they are errors on
            data the model did not train on. ``predictor`` and ``linear`` are then refitted on
            every window. None when they are the same.
    """

    predictor: Any
    options: TrainOptions
    spec: dict[str, Any]
    prepared: list[_PreparedSeries]
    train_windows: WindowSet
    val_parts: list[tuple[np.ndarray, np.ndarray]]
    epochs_run: int
    best_epoch: int
    linear: LinearAutoregression
    members: list[dict[str, int]] = field(default_factory=list)
    validated: tuple[Any, LinearAutoregression] | None = None
    #: with ``--window-level auto``, the linear model's validation MSE (scaled units) fitted
    #: relative to each level, what the choice was made on; empty when the level was given
    level_errors: dict[str, float] = field(default_factory=dict)

    @property
    def level(self) -> str:
        """What the model's windows are relative to (see :func:`forecaster.windows.window_level`)."""
        return model_level(self.spec)

    @property
    def validated_predictor(self) -> Any:
        """The model as validated (see ``validated``)."""
        return self.predictor if self.validated is None else self.validated[0]

    @property
    def validated_linear(self) -> LinearAutoregression:
        """The linear baseline as validated (see ``validated``)."""
        return self.linear if self.validated is None else self.validated[1]


def fit(dataset: Dataset, options: TrainOptions, reporter: Reporter = QUIET) -> FittedModel:
    """Fit the chosen model on the training part of every series of ``dataset``.

    Training seeds Python's and NumPy's global random generators (Keras seeds them with
    the backend's); they are given back as they were, so that a caller's own sampling after
    it is not the same in every run. TensorFlow's global seed and its deterministic kernels
    stay set.

    Raises:
        DataError: a series is too short for the lookback and horizon.
        ConfigError: the options cannot work together.
    """
    state = random.getstate(), np.random.get_state()
    try:
        return _fit(dataset, options, reporter)
    finally:
        random.setstate(state[0])
        np.random.set_state(state[1])


def _fit(dataset: Dataset, options: TrainOptions, reporter: Reporter) -> FittedModel:
    options = resolve_shape(dataset, options, reporter)
    if options.target_transform == "log":
        for series in dataset.series:
            if not _constant(series):  # kept as it is (see _prepare)
                require_positive_target(dataset.shown, series)
    if options.seed is None:
        options = replace(options, seed=random.SystemRandom().randrange(MAX_SEED + 1))
    lookback, horizon = options.lookback, options.horizon
    assert lookback is not None and horizon is not None
    reporter.detail("Options: " + ", ".join(f"{k}={v}" for k, v in options.to_dict().items()
                                            if options.model == "network" or k not in NETWORK_ONLY))

    cycles = calendar_cycles(dataset.series[0].freq)
    n_calendar = 2 * len(cycles)
    if options.calendar and not n_calendar:
        reporter.warn(f"--calendar has no effect: data at a step of {dataset.series[0].freq} have no calendar cycle "
                      "within a few steps (time of day, weekday, day of year) to give the model")
        options = replace(options, calendar=False)
    # By default the calendar inputs are given where there are any, and left out only if they
    # do not earn their place (below): where the window already shows the cycles they only add
    # noise. That is judged only on a validation part that spans their longest cycle; a
    # shorter one cannot tell whether knowing the weekday helps, and keeps them.
    choose_calendar = (options.calendar is None and n_calendar > 0
                       and _validation_span(dataset, options) >= max(CYCLE_LENGTHS[c] for c in cycles))
    if options.calendar is None:
        options = replace(options, calendar=n_calendar > 0)
    chosen_fit = None
    if options.target_transform == "auto":
        transform, chosen_fit = _chosen_target_transform(dataset, options, reporter)
        options = replace(options, target_transform=transform)
    # the windows (and linear model) the choice already built for the transform it took
    prepared, train_windows, val_windows, val_parts = chosen_fit[0] if chosen_fit else _windows(dataset, options)
    if choose_calendar:
        n_inputs = prepared[0].features.shape[1]
        linear, chosen = LinearAutoregression.fit_choosing_channels(
            train_windows, val_windows, [None, range(n_inputs - n_calendar)])
        if chosen == 1:
            reporter.detail("Calendar inputs left out: the linear model does better on validation without them")
            options = replace(options, calendar=False)
            # the same scaled columns without the calendar ones: the linear model fits as it is
            prepared, train_windows, val_windows, val_parts = _windows(dataset, options)
    else:
        linear = chosen_fit[1] if chosen_fit else LinearAutoregression.fit(train_windows, val_windows)
    level_errors: dict[str, float] = {}
    if options.window_level == "auto":
        level, linear, level_errors = _chosen_window_level(train_windows, val_windows, linear, reporter)
        options = replace(options, window_level=level)
        train_windows, val_windows = train_windows.relative_to(level), val_windows.relative_to(level)
    n_features = prepared[0].features.shape[1]
    spec = {"model": options.model, "lookback": lookback, "horizon": horizon, "n_features": n_features,
            "window_level": options.window_level}

    if options.model == "network":
        network_spec = NetworkSpec(
            lookback=lookback, horizon=horizon, n_features=n_features, cell=options.cell, layers=options.layers,
            units=options.units, bidirectional=options.bidirectional, dropout=options.dropout,
            linear_skip=options.linear_skip, ensemble=options.ensemble, segment=options.segment,
        )  # fmt: skip
        spec.update(network_spec.to_dict())
        reporter.info(
            # "an LSTM", "an RNN" (said letter by letter), "a GRU"
            f"Training {'a bidirectional' if options.bidirectional else 'a' if options.cell == 'gru' else 'an'} "
            f"{options.cell.upper()} ({options.layers} x {options.units} units"
            f"{f', over segments of {options.segment} steps' if options.segment > 1 else ''}"
            f"{f', ensemble of {options.ensemble}' if options.ensemble > 1 else ''}) on "
            f"{series_text([series.name for series in prepared])}: "
            f"{len(train_windows)} training and {len(val_windows)} validation windows, "
            f"lookback {lookback}, horizon {horizon}"
        )
        if train_windows.weights is not None:
            reporter.detail(f"Series weighted in the loss by the inverse of their seasonal-naive error: from "
                            f"{train_windows.weights.min():.3g} to {train_windows.weights.max():.3g} times the mean "
                            "(--series-weights even weighs them alike)")
        predictor, members, schedules = _fit_network(network_spec, options, train_windows, val_windows, linear,
                                                     reporter)
        epochs_run, best_epoch = members[0]["epochs_run"], members[0]["best_epoch"]
    else:
        reporter.info(
            f"Fitting the {options.model} model on {series_text([series.name for series in prepared])}: "
            f"{len(train_windows)} training and "
            f"{len(val_windows)} validation windows, lookback {lookback}, horizon {horizon}"
        )
        predictor, epochs_run, best_epoch = _baseline_model(options.model, dataset, lookback, horizon, linear), 0, 0
        members = []
    validated = None
    if options.final_fit == "all" and len(val_windows):
        # the most recent steps are those a forecast depends on most: once validation has
        # chosen, the model learns from them too
        validated = (predictor, linear)
        every = train_windows.joined(val_windows)
        linear = linear.refitted(every)
        if options.model == "network":
            reporter.info(f"Training again on all {len(every)} windows, validation included, for the epochs "
                          f"validation chose ({', '.join(str(m['best_epoch']) for m in members)})")
            predictor, _, _ = _fit_network(network_spec, options, every, None, linear, reporter, schedules)
        else:
            if options.model == "linear":
                reporter.info(f"Fitting again on all {len(every)} windows, validation included")
            predictor = _baseline_model(options.model, dataset, lookback, horizon, linear)
    return FittedModel(predictor, options, spec, prepared, train_windows, val_parts, epochs_run, best_epoch,
                       linear, members if len(members) > 1 else [], validated, level_errors)


#: How much better (a fraction of the validation error) the linear model must forecast with the
#: logarithm for ``--target-transform auto`` to take it: it changes what the intervals mean, so
#: a difference within the noise of one validation part should not decide it.
LOG_MARGIN = 0.02


def _chosen_target_transform(dataset: Dataset, options: TrainOptions,
                             reporter: Reporter) -> tuple[str, tuple | None]:
    """What ``--target-transform auto`` becomes: "log" when every target value is above 0 and
    the linear model, fitted on the logarithm, forecasts the validation part better in the data's
    units than fitted on the values as they are, by ``LOG_MARGIN`` at least; "none" otherwise.

    Better means a lower mean over the series of each one's validation MAE relative to its
    mean absolute training value, so that series at every level count alike.

    Returns:
        the transform, and what was built for it, so that ``fit`` need not build it again:
        ``(_windows(...), the linear model fitted on them)``, or None where nothing was fitted.
    """
    nonpositive = next((s for s in dataset.series if np.any(s.values <= 0) and not _constant(s)), None)
    if nonpositive is not None:
        reporter.detail(f"Target modelled as it is: series '{nonpositive.name}' has values at or below 0, "
                        "which have no logarithm")
        return "none", None
    errors, built = {}, {}
    for transform in ("none", "log"):
        prepared, train_windows, val_windows, val_parts = _windows(dataset, replace(options,
                                                                                 target_transform=transform))
        if not len(val_windows):
            return "none", None
        linear = LinearAutoregression.fit(train_windows, val_windows)
        built[transform] = ((prepared, train_windows, val_windows, val_parts), linear)
        inputs = [x for x, _ in val_parts]
        relative = []
        for series, prep, x, scaled in zip(dataset.series, prepared, inputs,
                                           forecasting.predict_scaled_parts(linear, inputs, level=val_windows.level)):
            if len(x) and not _constant(series):  # the same either way (see _prepare); and of level 0 maybe
                values = np.asarray(series.values, dtype=np.float64)
                starts = prep.split + np.arange(len(x))
                actual = values[starts[:, None] + np.arange(options.horizon)]
                level = np.mean(np.abs(values[: prep.split]))
                relative.append(np.mean(np.abs(prep.scaler.target_to_original(scaled) - actual)) / level)
        errors[transform] = float(np.mean(relative))
    change = errors["log"] / errors["none"] - 1
    if change < -LOG_MARGIN:
        reporter.info(f"Modelling the logarithm of the target: with it the linear model's validation error is "
                      f"{-100 * change:.1f} % lower (--target-transform none turns it off)")
        return "log", built["log"]
    reporter.detail(f"Target modelled as it is: with its logarithm the linear model's validation error is "
                    f"{100 * abs(change):.1f} % {'higher' if change > 0 else 'lower'}, not the "
                    f"{100 * LOG_MARGIN:g} % lower it takes")
    return "none", built["none"]


#: How much lower (a fraction of the validation MSE) the linear model's error must be with
#: windows relative to their last value for ``--window-level auto`` to take it over the mean:
#: as for the logarithm, a difference within the noise of one validation part should not decide.
LEVEL_MARGIN = 0.02


def _chosen_window_level(train_windows: WindowSet, val_windows: WindowSet, linear: LinearAutoregression,
                         reporter: Reporter) -> tuple[str, LinearAutoregression, dict[str, float]]:
    """What ``--window-level auto`` becomes, the linear model fitted to it, and each level's
    validation MSE (empty without validation windows): "last" when
    the linear model, fitted on windows relative to their last value, forecasts the validation
    windows with a mean squared error (scaled units, every step) at least ``LEVEL_MARGIN``
    lower than ``linear``, fitted relative to their mean; "mean" otherwise. Errors are in the
    windows' scaled units, the same whatever the level.

    Args:
        train_windows, val_windows: relative to their mean, as ``linear`` was fitted (by
            :meth:`LinearAutoregression.fit`) on them.
    """
    if not len(val_windows):
        return "mean", linear, {}
    last_train, last_val = train_windows.relative_to("last"), val_windows.relative_to("last")
    from_last = LinearAutoregression.fit(last_train, last_val)
    errors = {"mean": linear.validation_mse, "last": from_last.validation_mse}
    # a validation part forecast exactly (a noise-free line) has nothing to gain from the last value
    change = errors["last"] / errors["mean"] - 1 if errors["mean"] > 0 else 0.0
    if change < -LEVEL_MARGIN:
        reporter.info(f"Windows taken relative to their last value: the linear model's validation error is "
                      f"{-100 * change:.1f} % lower that way than relative to their mean (--window-level mean keeps "
                      "the mean)")
        return "last", from_last, errors
    reporter.detail(f"Windows taken relative to their mean: relative to their last value the linear model's "
                    f"validation error is {100 * abs(change):.1f} % {'higher' if change > 0 else 'lower'}, not "
                    f"the {100 * LEVEL_MARGIN:g} % lower it takes")
    return "mean", linear, errors


def _fit_network(spec: NetworkSpec, options: TrainOptions, train_windows: WindowSet, val_windows: WindowSet | None,
                 linear: LinearAutoregression, reporter: Reporter, schedules: list[list[float]] | None = None):
    """Train the network, or each member of an ensemble one after another; returns the
    network, a list of each member's ``seed``, ``epochs_run`` and ``best_epoch``, and each
    member's learning rate in every epoch up to its best (what :func:`_fit_single` refits with).

    Member ``m`` is trained exactly as a single network with seed ``options.seed + m - 1``
    (so the first is the network a run without ``ensemble`` trains), from the same frozen
    linear start and with its own early stopping; then the members are put together into
    one model (:func:`forecaster.models.ensemble_of`).

    Args:
        val_windows: None to refit without validation, each member for the epochs and at the
            learning rates of its entry of ``schedules``.
    """
    from .models import ensemble_of

    single = replace(spec, ensemble=1)
    networks, members, rates = [], [], []
    for member in range(1, spec.ensemble + 1):
        interrupts.check()  # between networks, TensorFlow's finalisers drop a signal's exception
        seed = options.seed + member - 1
        label = f"Member {member}/{spec.ensemble}" if spec.ensemble > 1 else ""
        network, epochs_run, best_epoch, used = _fit_single(
            single, replace(options, seed=seed), train_windows, val_windows, linear, reporter, label,
            None if schedules is None else schedules[member - 1])
        networks.append(network)
        members.append({"seed": seed, "epochs_run": epochs_run, "best_epoch": best_epoch})
        rates.append(used[:best_epoch])
    return ensemble_of(spec, networks), members, rates


def _fit_single(spec: NetworkSpec, options: TrainOptions, train_windows: WindowSet, val_windows: WindowSet | None,
                linear: LinearAutoregression, reporter: Reporter, label: str = "", schedule: list[float] | None = None):
    """Train one network; returns it, the epochs run, the best epoch (0: no epoch improved
    on the starting point, the linear baseline, which is then what is kept) and the learning
    rate of every epoch run.

    An LSTM runs TensorFlow's fused kernel (:func:`fused_kernel_runs`), which XLA cannot
    compile. Another network's training step is compiled by XLA, which trains a network
    stepping through a long window more than twice as fast on the CPU (measured:
    BENCHMARKS.md, "XLA only where it pays"), where the training is long enough to earn back
    the compilation (:data:`XLA_MIN_WORK`); if XLA cannot compile it, training starts again
    without. Without XLA, TensorFlow's deterministic kernels keep ``--seed`` runs identical.
    A long training runs :data:`STEPS_PER_EXECUTION` batches per call into the compiled step,
    which changes how fast it trains and nothing else (:func:`multi_steps`).

    With ``options.ema`` the weights validated, kept as the best and finally restored are
    the exponential moving average of the trained ones: ``SwapEMAWeights`` comes first among
    the callbacks, so it has put the average into the model before early stopping and the
    learning rate schedule look at the epoch.

    Args:
        label: what the progress of this network is called (an ensemble member's number).
        schedule: refit instead, without validation (``val_windows`` None): one epoch at each
            of these learning rates, those an earlier run with validation trained its best
            epochs at (none: the network stays the linear start).
    """
    from .backend import load_keras, seed_everything

    keras = load_keras()
    epochs = options.epochs if schedule is None else len(schedule)
    xla = compiles_with_xla(spec, options, len(train_windows), epochs)
    steps_per_execution = multi_steps(options, len(train_windows), None if schedule is None else epochs)
    seed_everything(options.seed, deterministic_ops=not xla)
    network = build_network(spec, seed=options.seed)
    if spec.linear_skip:
        start_from_linear(network, linear)
    if schedule is not None and not schedule:
        return network, 0, 0, []
    start_weights = network.get_weights()
    validation = None if val_windows is None else validation_data(keras, val_windows)

    def train(xla: bool):
        compile_network(network, options.learning_rate, xla, ema=options.ema, steps_per_execution=steps_per_execution)
        start_loss = float(network.evaluate(validation, verbose=0)) if validation is not None else float("nan")
        training, feeding = training_data(keras, train_windows, options.batch_size, seed=options.seed,
                                          per_epoch=options.windows_per_epoch)
        if schedule is None:
            steering = [
                keras.callbacks.EarlyStopping(monitor="val_loss", patience=options.patience,
                                              restore_best_weights=True),
                relative_plateau(keras, patience=max(2, options.patience // 3)),
            ]
        else:
            steering = [keras.callbacks.LearningRateScheduler(lambda epoch, _: schedule[epoch])]
        rates = _learning_rate_recorder(keras)
        with reporter.progress(label or "Training", total=epochs) as progress:
            callbacks = [
                *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if options.ema else []),
                *steering,
                *feeding,
                rates,
                _progress_callback(keras, progress, epochs, label),
            ]
            history = network.fit(training, validation_data=validation, epochs=epochs, shuffle=False,
                                  callbacks=callbacks, verbose=0)
        return start_loss, history.history.get("val_loss", []), rates.used

    try:
        start_loss, val_losses, used = train(xla)
    except Exception as exc:
        if not xla or not _is_backend_error(exc):
            raise
        reporter.warn(f"{label + ': ' if label else ''}XLA could not compile the training step "
                      f"({type(exc).__name__}); training without it")
        seed_everything(options.seed, deterministic_ops=True)
        network.set_weights(start_weights)
        start_loss, val_losses, used = train(xla=False)
    if schedule is not None:
        return network, epochs, epochs, used
    if spec.linear_skip and not min(val_losses) < start_loss:
        network.set_weights(start_weights)
        return network, len(val_losses), 0, used
    return network, len(val_losses), int(np.argmin(val_losses)) + 1, used


#: The coverages ``train`` checks its interval calibration can vouch for (those that
#: ``predict --coverage`` is commonly asked, 90 % its default; 80 % needs 4 validation
#: windows, 90 % 9, 95 % 19); a warning names the lowest it cannot.
INTERVAL_WARN_COVERAGES = (0.8, 0.9, 0.95)


#: The training work (:func:`xla_work`) from which the training step is compiled by XLA.
#: Compiling costs seconds whatever the data, and each batch then trains faster by a fraction
#: of a millisecond per recurrent step, so XLA pays only over a long enough training (measured:
#: BENCHMARKS.md, "XLA only where it pays"). A small file's training is done sooner without.
XLA_MIN_WORK = 10_000


def compiles_with_xla(spec: NetworkSpec, options: TrainOptions, n_windows: int, epochs: int) -> bool:
    """Whether training compiles its step with XLA: not for a network that runs the fused
    kernel (:func:`fused_kernel_runs`), and only where the work of the epochs allowed earns
    back the compilation (:func:`xla_work`, :data:`XLA_MIN_WORK`)."""
    return not fused_kernel_runs(spec) and xla_work(spec, options, n_windows, epochs) >= XLA_MIN_WORK


def fused_kernel_runs(spec: NetworkSpec) -> bool:
    """Whether the network's recurrent layers run as one fused kernel
    (:class:`forecaster.fused_lstm.FusedLSTM`), which XLA cannot compile: an epoch trains 1.0
    to 1.2 times as fast as Keras' loop compiled by XLA one way, 1.8 to 2.5 times both ways,
    without the compilation (BENCHMARKS.md, "The LSTM as one kernel")."""
    from .fused_lstm import fused_kernel_available

    return spec.cell == "lstm" and fused_kernel_available()


def xla_work(spec: NetworkSpec, options: TrainOptions, n_windows: int, epochs: int) -> int:
    """The recurrent steps of every batch of every epoch allowed: the work XLA speeds up.

    Counted over the epochs allowed, not those early stopping will run, so XLA is left out
    only where even a full run could not earn back its compilation.
    """
    return epochs * batches_per_epoch(options, n_windows) * spec.n_segments * spec.layers * (
        2 if spec.bidirectional else 1)


def batches_per_epoch(options: TrainOptions, n_windows: int) -> int:
    """The batches of one training epoch over ``n_windows`` windows."""
    per_epoch = min(n_windows, options.windows_per_epoch or n_windows)
    return -(-per_epoch // options.batch_size)


#: Batches trained per call into the compiled training step (Keras' ``steps_per_execution``)
#: where the training is long enough (:data:`MULTI_STEP_MIN_BATCHES`). Between calls Keras
#: goes back to Python, which for the small default network costs about as much as training
#: the batch: M4 Hourly's training took 11.9 s an epoch (3,028 batches) instead of 17.4, to
#: the same weights to the last bit (BENCHMARKS.md, "Sixteen batches per call").
STEPS_PER_EXECUTION = 16

#: The batches of the epochs early stopping cannot cut short from which training calls
#: :data:`STEPS_PER_EXECUTION` batches at a time: compiling that loop costs about 0.5 to 0.9 s
#: more than a single step, which a training of a few hundred batches would not earn back.
MULTI_STEP_MIN_BATCHES = 1000


def multi_steps(options: TrainOptions, n_windows: int, epochs: int | None = None) -> int:
    """How many batches training calls the compiled step on at a time (``steps_per_execution``).

    Args:
        epochs: the epochs that will run (a refit's schedule); None: as many as early stopping
            is sure to run, ``patience + 1`` at most ``options.epochs``.
    """
    sure = min(options.epochs, options.patience + 1) if epochs is None else epochs
    long_enough = batches_per_epoch(options, n_windows) * sure >= MULTI_STEP_MIN_BATCHES
    return STEPS_PER_EXECUTION if long_enough else 1


#: How much lower than the best so far a validation loss must be to count as progress for the
#: learning rate schedule, as a fraction of the best (PyTorch's ``ReduceLROnPlateau`` default).
PLATEAU_RELATIVE_DELTA = 1e-4


def relative_plateau(keras, patience: int, factor: float = 0.5):
    """A ``ReduceLROnPlateau`` on the validation loss whose test for progress is relative:
    an epoch improves when its loss is below ``(1 - PLATEAU_RELATIVE_DELTA)`` times the best.

    Keras' own test is absolute (at least 1e-4 lower), so whether an epoch counts depended on
    the scale of the loss: a Huber loss of 0.012 (M4 Hourly's) had to fall by about 1 % an
    epoch, and once the fast phase was over the rate halved every ``patience + 1`` epochs or so
    (inferred from the logged losses), whether or not training was still gaining
    (BENCHMARKS.md, "The learning rate's plateau judged relative to the loss").
    """

    class RelativePlateau(keras.callbacks.ReduceLROnPlateau):
        def _is_improvement(self, monitor_value, reference_value):
            return reference_value is None or float(monitor_value) < float(reference_value) * (
                1 - PLATEAU_RELATIVE_DELTA)

    return RelativePlateau(monitor="val_loss", mode="min", factor=factor, patience=patience)


def _learning_rate_recorder(keras):
    """A callback that records the learning rate each epoch trains at (``.used``)."""

    class LearningRates(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.used: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.used.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    return LearningRates()


def _is_backend_error(exc: Exception) -> bool:
    """An error raised by TensorFlow itself while running a step (such as XLA failing to
    compile it), rather than one of ours or of the data."""
    try:
        import tensorflow as tf
    except ImportError:
        return False
    return isinstance(exc, tf.errors.OpError)


def compile_network(network, learning_rate: float, xla: bool = True, ema: bool = False,
                    steps_per_execution: int = 1) -> None:
    """Compile ``network`` for training as ``fit`` trains it: Adam on the Huber loss, the
    training step compiled by XLA unless ``xla`` is False (see :func:`_fit_single`), with a
    moving average of the weights (momentum 0.99, Keras' default) if ``ema``, and
    ``steps_per_execution`` batches trained per call (see :data:`STEPS_PER_EXECUTION`)."""
    from .backend import load_keras

    keras = load_keras()
    network.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate, use_ema=ema),
                    loss=keras.losses.Huber(), jit_compile=xla, steps_per_execution=steps_per_execution)


def training_data(keras, windows: WindowSet, batch_size: int, seed: int | None = None,
                  per_epoch: int | None = None) -> tuple[Any, list]:
    """What ``fit`` trains on: the batches of :func:`window_batches`, handed over by
    :func:`window_stream` on the TensorFlow backend (see there why).

    Returns:
        the data for ``fit`` and the callbacks it needs among ``fit``'s.
    """
    if keras.backend.backend() == "tensorflow":
        stream, epoch_start = window_stream(keras, windows, batch_size, seed=seed, per_epoch=per_epoch)
        return stream, [epoch_start]
    return window_batches(windows, batch_size, seed=seed, per_epoch=per_epoch), []


def validation_data(keras, windows: WindowSet):
    """What ``fit`` validates on and ``evaluate`` scores: ``windows`` in order,
    :data:`forecaster.forecasting.PREDICT_BATCH` at a time, handed over as
    :func:`training_data`'s."""
    if keras.backend.backend() == "tensorflow":
        return window_stream(keras, windows, forecasting.PREDICT_BATCH, gather_batches=1)[0]
    return window_batches(windows, forecasting.PREDICT_BATCH)


def window_batches(windows: WindowSet, batch_size: int, seed: int | None = None, per_epoch: int | None = None):
    """Batches of ``windows`` for Keras, gathered as Keras asks for them (and prefetched by it
    while the previous batch trains), so the windows are never all in memory at once.

    Args:
        seed: shuffle with this seed, a new order every epoch; None keeps the windows in order.
        per_epoch: windows drawn (without repeats) each epoch; None or more than there are
            takes them all.

    Returns:
        a ``keras.utils.PyDataset`` giving relative inputs `(batch, lookback, n_features)`,
        targets `(batch, horizon)` and, for a weighted set, the windows' weights `(batch,)`.
    """
    from .backend import load_keras

    keras = load_keras()

    class WindowBatches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.orders = window_orders(len(windows), seed, per_epoch)
            self.order = next(self.orders)

        def __len__(self) -> int:
            return -(-len(self.order) // batch_size)

        def __getitem__(self, index: int):
            return _gathered(windows, self.order[index * batch_size : (index + 1) * batch_size])

        def on_epoch_end(self) -> None:
            self.order = next(self.orders)

    return WindowBatches()


def window_orders(n_windows: int, seed: int | None, per_epoch: int | None) -> Iterator[np.ndarray]:
    """The order windows are trained in, one epoch after another: a new permutation of
    ``range(n_windows)`` from a generator seeded with ``seed`` each time, cut to ``per_epoch``;
    with ``seed`` None, the windows in order every time."""
    random = None if seed is None else np.random.default_rng(seed)
    while True:
        if random is None:
            yield np.arange(n_windows)
        else:
            order = random.permutation(n_windows)
            yield order[:per_epoch] if per_epoch else order


def _gathered(windows: WindowSet, positions: np.ndarray) -> tuple[np.ndarray, ...]:
    """The windows at ``positions`` as Keras trains on them: inputs, targets and, for a weighted
    set, weights."""
    inputs, targets = windows.gather(positions)
    return (inputs, targets) if windows.weights is None else (inputs, targets, windows.weights[positions])


#: Batches a :func:`window_stream` gathers for training at once: a multi-batch call's worth,
#: so that the generator is resumed once a call rather than once a batch (and a training of
#: one batch per call resumes it every sixteen batches; gathering 1,024 windows costs NumPy
#: no more per window than 64 do).
STREAM_GATHER_BATCHES = STEPS_PER_EXECUTION


def window_stream(keras, windows: WindowSet, batch_size: int, seed: int | None = None,
                  per_epoch: int | None = None, gather_batches: int = STREAM_GATHER_BATCHES):
    """The batches :func:`window_batches` gives Keras' ``fit``, in the same order epoch after
    epoch, handed over as a ``tf.data`` pipeline: gathered ``gather_batches`` at a
    time in a background thread, and split into batches by TensorFlow. Keras fetches a
    ``PyDataset``'s batches through Python one at a time, which for the small default network
    costs about a fifth of an epoch of M4 Hourly's long training (BENCHMARKS.md, "Batches
    handed over by tf.data"); here nothing returns to Python between batches.

    The pipeline is not autotuned (its sizes are fixed). Keras' own pipelines for a
    ``PyDataset`` or arrays are, and the autotuning thread sleeps for a period that doubles up
    to a minute as the pipeline runs; when the pipeline is dropped at the end of ``fit`` or
    ``evaluate``, its destructor can wait the rest of that period out with the GIL held: up
    to seconds of nothing after a training (BENCHMARKS.md, "No wait at the end of fit").

    Keras draws a ``PyDataset``'s order anew before the first epoch as well as after each
    (``fit`` starts by calling its ``on_epoch_end``), so epoch ``e`` (from 0) trains on draw
    ``e + 1`` of :func:`window_orders`; the stream does the same, which keeps the weights those
    of a training on :func:`window_batches` to the last bit. Which epoch is running is told by
    the returned callback, since Keras may start the pipeline more often than once an epoch
    (to build the model, and ahead of the next epoch).

    Returns:
        the ``tf.data.Dataset`` of `(batch, lookback, n_features)` inputs, `(batch, horizon)`
        targets and, for a weighted set, `(batch,)` weights; and the callback that must be
        among ``fit``'s.
    """
    import threading

    import tensorflow as tf

    orders = window_orders(len(windows), seed, per_epoch)
    # the PyDataset's draw at construction, which Keras replaces before training; every draw
    # is as long, so it also gives the batches per epoch
    n_drawn = len(next(orders))
    state = {"epoch": 0, "drawn": -1, "order": None}
    lock = threading.Lock()

    def epoch_order() -> np.ndarray:
        with lock:
            while state["drawn"] < state["epoch"]:
                state["order"] = next(orders)
                state["drawn"] += 1
            return state["order"]

    class EpochStart(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            with lock:
                state["epoch"] = epoch

    gather_size = batch_size * gather_batches

    def chunks():
        order = epoch_order()
        for begin in range(0, len(order), gather_size):
            yield _gathered(windows, order[begin : begin + gather_size])

    specs = [tf.TensorSpec((None, windows.lookback, windows.n_features), tf.float32),
             tf.TensorSpec((None, windows.horizon), tf.float32)]
    if windows.weights is not None:
        specs.append(tf.TensorSpec((None,), tf.float32))
    options = tf.data.Options()
    options.autotune.enabled = False
    dataset = (tf.data.Dataset.from_generator(chunks, output_signature=tuple(specs))
               .prefetch(2)
               .rebatch(batch_size)
               .apply(tf.data.experimental.assert_cardinality(-(-n_drawn // batch_size)))
               .with_options(options))
    return dataset, EpochStart()


def _baseline_model(model: str, dataset: Dataset, lookback: int, horizon: int, linear: LinearAutoregression):
    if model == "linear":
        return linear
    season = max(seasonal_period(s.freq) for s in dataset.series) if model == "seasonal-naive" else 1
    return SeasonalNaive(lookback, horizon, season)


def check_argument_types(function: str, **arguments: tuple[Any, type]) -> None:
    """Refuse an argument of the wrong type at once, naming it.

    The options are positional, so ``train(data, "model")`` would otherwise take the model
    directory for the data options, ignore it and write to the default directory.

    Raises:
        TypeError: an argument is not an instance of its type.
    """
    for name, (value, expected) in arguments.items():
        if not isinstance(value, expected):
            raise TypeError(f"{function}(): {name} must be a {expected.__name__}, got {type(value).__name__} "
                            f"{value!r}; pass the arguments by keyword to be sure which is which")


def train(
    data_path: str | os.PathLike | Dataset,
    data_options: DataOptions = DataOptions(),
    options: TrainOptions = TrainOptions(),
    model_dir: str | os.PathLike = "forecaster-model",
    reporter: Reporter = QUIET,
    wait: float = 0,
) -> TrainResult:
    """Train on every series of ``data_path`` (a file, or a :class:`~forecaster.data.Dataset`
    already read or made in memory) and write the model directory.

    The model directory's lock (:mod:`forecaster.locking`) is held from before the data is
    read until the new model is in place, so two runs never write the same directory; what an
    earlier run killed mid-way left beside it is cleaned up first.

    Args:
        wait: seconds to wait for another ``train`` into ``model_dir`` to finish.

    Raises:
        DataError: the file cannot be used (see :func:`forecaster.data.load_dataset`).
        ConfigError: the options cannot work together.
        ArtifactError: ``model_dir`` holds something that is not a model.
        LockedError: another ``train`` into ``model_dir`` still runs after ``wait`` seconds.
    """
    check_argument_types("train", data_options=(data_options, DataOptions), options=(options, TrainOptions))
    check_data_argument("train", data_path, data_options)
    reporter = reporter_given("train", reporter)
    if isinstance(wait, bool) or not isinstance(wait, numbers.Real):
        raise TypeError(f"train(): wait must be a number of seconds, got {type(wait).__name__} {wait!r}")
    if not wait >= 0:
        raise ConfigError(f"--wait must be 0 or more seconds, got {wait}")
    if warning := unused_options_warning(options):
        reporter.warn(warning)
    check_replaceable(model_dir)
    with model_lock(model_dir, wait):
        started = time.monotonic()  # not counting the wait for another train's lock
        clean_leftovers(model_dir)
        check_replaceable(model_dir)  # as it is now that no one else writes it
        if note := newer_model_note(model_dir):
            reporter.warn(note)
        # one host's outage longer than --max-gap: that host is trained on from after it
        dataset = read_data(data_path, data_options, reporter, long_gaps="recent-per-id")
        dataset, options = without_short_series(dataset, options, reporter)
        warn_of_lone_extremes(dataset, reporter)
        fitted = fit(dataset, options, reporter)
        calibrator, numpy_network, gap, matches = fitted.validated_predictor, None, 0.0, False
        if fitted.options.model == "network":
            # predict and detect-anomalies run the NumPy copy, not Keras: it must compute the same
            numpy_network, gap, matches = _numpy_copy(fitted.predictor, fitted)
            validated, _, validated_matches = ((numpy_network, gap, matches) if fitted.validated is None
                                               else _numpy_copy(fitted.validated_predictor, fitted))
            if validated_matches:
                # the anomaly scores are then calibrated on the network that detects, and in
                # about half the time of Keras' predict
                calibrator = validated
        n_series = f"{len(dataset.series):,} series"
        with reporter.status(f"Validating the model and the baselines on {n_series}") as show:
            evaluation = evaluate_validation(fitted, dataset)
            if warning := forecasting.few_windows_warning(evaluation["intervals"], *INTERVAL_WARN_COVERAGES):
                reporter.warn(warning)
            if warning := unscaled_mase_warning(evaluation["unscaled"], "the validation part"):
                reporter.warn(warning)
            show(f"Calibrating the anomaly scores of {n_series}")
            calibration = anomaly.calibrate(calibrator,
                                            prepared_features=[p.features for p in fitted.prepared],
                                            splits=[p.split for p in fitted.prepared],
                                            lookback=fitted.options.lookback,
                                            missing=[s.missing for s in dataset.series],
                                            log_scales=[p.scaler.log_spread for p in fitted.prepared],
                                            seasons=[seasonal_period(s.freq) for s in dataset.series],
                                            level=fitted.level)
        _report_expectation_sources(dataset, calibration, reporter)
        seconds = time.monotonic() - started
        metadata = _metadata(dataset, fitted, evaluation, calibration, seconds)
        history_arrays = [
            {"values": _features(s, fitted.options), "missing": s.missing} for s in dataset.series
        ]
        companions = {}
        if matches:
            companions[NETWORK_FILE] = numpy_network
            metadata["network_file"] = NETWORK_FILE
        elif numpy_network is not None:
            reporter.warn(
                f"the NumPy copy of the network differs from Keras by {gap:.2g} with Keras "
                f"{metadata.get('keras_version')}; saved without it, so predict loads the network through "
                "Keras (slower); please report this"
            )
        path = save_artifact(model_dir, fitted.predictor, metadata, history_arrays, model_file(fitted.options.model),
                             companions)
    return TrainResult(
        model_dir=path,
        options=fitted.options,
        n_series=len(fitted.prepared),
        n_train_windows=len(fitted.train_windows),
        n_val_windows=sum(len(x) for x, _ in fitted.val_parts),
        epochs_run=fitted.epochs_run,
        best_epoch=fitted.best_epoch,
        seconds=time.monotonic() - started,
        metrics=evaluation["overall"],
        series_metrics=evaluation["per_series"],
        members=fitted.members,
    )


def warn_of_lone_extremes(dataset: Dataset, reporter: Reporter) -> None:
    """Ask about a value that dwarfs the rest of its series (:func:`forecaster.data.lone_extreme`):
    trained on as it is, it sets the scaling and much of the loss."""
    found = [(series.name, extreme) for series in dataset.series if (extreme := lone_extreme(series))]
    if not found:
        return
    from .report import short_times

    name, (when, value, ratio) = found[0]
    (when,) = short_times([when.isoformat()])
    more = f" (and one such value in {len(found) - 1} more series)" if len(found) > 1 else ""
    reporter.warn(f"series '{name}': the value {value:.6g} at {when} lies {ratio:.3g} times as far from the median "
                  f"as any other{more}; if it is an error in the data, fix or remove it and train again")


def _numpy_copy(model: Any, fitted: FittedModel) -> tuple[Any, float, bool]:
    """The NumPy copy of a Keras ``model`` of ``fitted`` (what ``predict`` and
    ``detect-anomalies`` run), the largest difference of its outputs from Keras' on the first
    256 training windows, and whether that is within ``PARITY_TOLERANCE``."""
    from . import numpy_network

    copy = numpy_network.NumpyNetwork.from_keras(model, fitted.spec)
    gap = copy.difference_from(model, fitted.train_windows.gather(slice(0, 256))[0])
    return copy, gap, gap <= numpy_network.PARITY_TOLERANCE


def _report_expectation_sources(dataset: Dataset, calibration: dict[str, Any], reporter: Reporter,
                                shown: int = 5) -> None:
    """Say which series' anomaly scores will measure surprise against the seasonal median, not
    the model: each of the first ``shown``, then how many more."""
    chosen = [(series.name, entry["deviations"]) for series, entry in zip(dataset.series, calibration["series"])
              if anomaly.expectation_source(entry) != "model"]
    for name, deviations in chosen[:shown]:
        reporter.info(
            f"series '{name}': anomaly scores measure surprise against {anomaly.SEASONAL_TEXT}, whose one-step "
            f"error on validation was {deviations['seasonal-median'] / deviations['model']:.0%} of the model's"
        )
    if len(chosen) > shown:
        reporter.info(f"... and {len(chosen) - shown} more series of {len(dataset.series)} the same way "
                      "('forecaster info' counts them)")


def model_file(model: str) -> str | None:
    """The file in the model directory that holds the fitted parameters, if any."""
    return {"network": MODEL_FILE, "linear": LINEAR_FILE}.get(model)


def _features(series, options: TrainOptions) -> np.ndarray:
    """`(n_steps, n_features)` model inputs of a series, in the data's units."""
    return series_features(series.values, series.covariates, series.index, series.freq, options.calendar)


def _validation_span(dataset: Dataset, options: TrainOptions):
    """The longest time any series' validation part covers (a ``pandas.Timedelta``)."""
    def span(series):
        split = split_point(len(series.values), options.horizon, options.val_fraction)
        return series.index[-1] - series.index[split]

    return max(span(series) for series in dataset.series)


def _windows(dataset: Dataset, options: TrainOptions):
    """Each series prepared for training, the training and validation windows of all of them,
    and each series' validation windows as arrays (see :class:`FittedModel`)."""
    lookback, horizon = options.lookback, options.horizon
    prepared = [_prepare(series, horizon, options) for series in dataset.series]
    spans = [window_spans(len(p.features), lookback, horizon, p.split) for p in prepared]
    # "auto" is decided on windows relative to their mean (see fit)
    level = "mean" if options.window_level == "auto" else options.window_level
    weights = None
    if options.series_weights == "seasonal-error" and len(prepared) > 1:
        seasons = [seasonal_period(series.freq) for series in dataset.series]
        weights = series_weights([p.features[: p.split, 0] for p in prepared], seasons,
                                 [max(last - first + 1, 0) for (first, last), _ in spans])
    train_windows, val_windows = WindowSet.from_series([p.features for p in prepared], list(zip(*spans)), lookback,
                                                       horizon, level=level, series_weights=weights)
    val_parts = [supervised_windows(p.features, p.features[:, 0], lookback, horizon, *val_span)
                 for p, (_, val_span) in zip(prepared, spans)]
    return prepared, train_windows, val_windows, val_parts


def series_weights(training_targets: list[np.ndarray], seasons: list[int], n_windows: list[int]) -> np.ndarray:
    """Each series' weight in the network's loss: the inverse of its seasonal-naive error on
    its training part, so that the loss weighs series as MASE does and a series that seasonal
    naive forecasts well must be forecast well, however small its errors are next to its
    spread; but at most :data:`SERIES_WEIGHT_CAP` times the median series' weight. Scaled so
    that the training windows' mean weight is 1 (the learning rate keeps its meaning).

    Args:
        training_targets: each series' scaled target over its training part, `(n_steps_i,)`.
        seasons: each series' seasonal period; lag 1 where the part holds no two seasons.
        n_windows: each series' number of training windows, for the scaling.

    Returns:
        `(n_series,)` weights.
    """
    errors = [max(seasonal_scale(values, season if len(values) > 2 * season else 1), SEASONAL_ERROR_FLOOR)
              if len(values) > 1 else 1.0
              for values, season in zip(training_targets, seasons)]
    weights = 1.0 / np.asarray(errors)
    weights = np.minimum(weights, SERIES_WEIGHT_CAP * np.median(weights))
    counts = np.asarray(n_windows, dtype=np.float64)
    return weights * counts.sum() / np.sum(weights * counts) if counts.sum() else weights


def _prepare(series, horizon: int, options: TrainOptions) -> _PreparedSeries:
    raw = _features(series, options)
    split = split_point(len(raw), horizon, options.val_fraction)
    # a series that stood still (an error count at 0 beside busy hosts) is modelled as it is:
    # it has no swings to even out, and 0 no logarithm, so it need not keep the others from one
    scaler = SeriesScaler.fit(raw[:split], log_target=options.target_transform == "log" and not _constant(series))
    return _PreparedSeries(name=series.name, scaler=scaler, features=scaler.transform(raw), split=split)


def _constant(series) -> bool:
    """Whether every value of the series' target is the same."""
    return bool(series.values.min() == series.values.max())


def _progress_callback(keras, progress, epochs: int, label: str = ""):
    class EpochReport(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            interrupts.check()  # a stop asked for during the epoch and lost in a finaliser
            logs = logs or {}
            loss, val_loss = logs.get("loss", float("nan")), logs.get("val_loss")
            validated = {} if val_loss is None else {"val_loss": float(val_loss)}
            progress.advance(
                f"{label + ': ' if label else ''}epoch {epoch + 1}/{epochs}  loss {loss:.4g}"
                + (f"  val_loss {val_loss:.4g}" if validated else ""),
                epoch=epoch + 1, epochs=epochs, loss=float(loss), **validated,
            )

    return EpochReport()


def method_forecasts(fitted: FittedModel, dataset: Dataset, inputs: list[np.ndarray], starts: list[np.ndarray],
                     linear: Any, season: int | None = None, predictor: Any = None) -> list[dict[str, np.ndarray]]:
    """Forecasts in the data's units of the model and each baseline from the same origins, for
    every series (the models run on all series' windows together, not series by series).

    Args:
        inputs: per series `(n_windows, lookback, n_features)` scaled windows ending just
            before ``starts``.
        starts: per series `(n_windows,)` index of each window's first forecast step.
        linear: the fitted linear baseline.
        season: seasonal period of the seasonal-naive baseline; None takes it from the frequency.
        predictor: the model to run; None: ``fitted.predictor``.

    Returns:
        per series ``{"model" | "naive" | "seasonal_naive" | "linear": (n_windows, horizon)}``.
    """
    horizon = fitted.options.horizon
    predictor = fitted.predictor if predictor is None else predictor
    model = forecasting.predict_scaled_parts(predictor, inputs, level=fitted.level)
    linear_forecasts = forecasting.predict_scaled_parts(linear, inputs, level=fitted.level)
    forecasts = []
    for series, prep, first_steps, scaled_model, scaled_linear in zip(dataset.series, fitted.prepared, starts, model,
                                                                      linear_forecasts):
        forecasts.append({
            "model": (predictor.repeated(series.values, first_steps) if isinstance(predictor, SeasonalNaive)
                      else prep.scaler.target_to_original(scaled_model)),
            "naive": seasonal_naive(series.values, first_steps, horizon, 1),
            "seasonal_naive": seasonal_naive(series.values, first_steps, horizon,
                                             season or seasonal_period(series.freq)),
            "linear": prep.scaler.target_to_original(scaled_linear),
        })  # fmt: skip
    return forecasts


def evaluate_validation(fitted: FittedModel, dataset: Dataset, season: int | None = None) -> dict[str, Any]:
    """Validation errors in the data's units for the model and the baselines, and what
    calibrates each one's prediction intervals: those of the model and linear baseline as
    validated, before any final fit on all the data (``fitted.validated``), whose errors on
    the validation part would not be errors on unseen data.

    Args:
        season: seasonal period for the seasonal-naive baseline; None takes it from the frequency.

    Returns:
        ``overall`` and ``per_series`` error summaries by method; ``residual_scales`` and ``window_spreads`` (per series) and ``intervals``
        of the model; ``calibration`` by method: ``{"residual_scales": [...],
        "window_spreads": [...], "intervals": {...}}``; and ``unscaled``, the names of the
        series MASE leaves out (their training part repeated itself exactly every season).
    """
    horizon = fitted.options.horizon
    linear = fitted.validated_linear
    methods = ("model", *BASELINES)
    collected: dict[str, list[np.ndarray]] = {name: [] for name in ("actual", "scale", *methods)}
    residuals: dict[str, list[np.ndarray]] = {name: [] for name in methods}
    scales: dict[str, list[float]] = {name: [] for name in methods}
    spreads: list[float] = []
    unscaled: list[str] = []
    per_series: dict[str, dict[str, dict[str, float]]] = {}
    inputs_of = [inputs for inputs, _ in fitted.val_parts]
    starts_of = [prep.split + np.arange(len(inputs)) for prep, inputs in zip(fitted.prepared, inputs_of)]
    forecasts_of = method_forecasts(fitted, dataset, inputs_of, starts_of, linear, season,
                                    fitted.validated_predictor)
    for series, prep, inputs, starts, forecasts in zip(dataset.series, fitted.prepared, inputs_of, starts_of,
                                                       forecasts_of):
        actual = series.values[starts[:, None] + np.arange(horizon)]
        scale = _training_scale(series, prep.split, season)
        if scale == 0:
            unscaled.append(series.name)
        per_series[series.name] = {name: {**error_summary(actual, values), "mase": _scaled_mae(actual, values, scale)}
                                   for name, values in forecasts.items()}
        collected["scale"].append(np.full(actual.size, scale))
        collected["actual"].append(actual.ravel())
        spreads.append(float(np.median(forecasting.window_spread(inputs))))
        factors = forecasting.spread_factors(inputs, spreads[-1])
        for name, values in forecasts.items():
            collected[name].append(values.ravel())
            # in scaled units, divided by how much its window moved (calm windows get narrow
            # intervals) and then by the series' own residual size, so that windows and
            # series with different noise share one distribution of normalised residuals
            scaled = forecasting.normalized_residuals(actual, values, factors, prep.scaler)
            scale = float(np.sqrt(np.nanmean(scaled**2))) if np.isfinite(scaled).any() else 1.0
            scales[name].append(scale or 1.0)
            residuals[name].append(scaled / (scale or 1.0))
    actual = np.concatenate(collected.pop("actual"))
    scale = np.concatenate(collected.pop("scale"))
    calibration = {
        name: {"residual_scales": scales[name], "window_spreads": spreads,
               "intervals": forecasting.interval_calibration(np.concatenate(residuals[name]))}
        for name in methods
    }
    return {
        "overall": {name: {**error_summary(actual, np.concatenate(parts)),
                           "mase": _scaled_mae(actual, np.concatenate(parts), scale)}
                    for name, parts in collected.items()},
        "per_series": per_series,
        "residual_scales": calibration["model"]["residual_scales"],
        "window_spreads": spreads,
        "intervals": calibration["model"]["intervals"],
        "calibration": calibration,
        "unscaled": unscaled,
    }


def _training_scale(series, split: int, season: int | None) -> float:
    """MASE's denominator for one series: the mean absolute seasonal difference of its
    training part (NaN where that part is not longer than a season)."""
    try:
        return seasonal_scale(np.where(series.missing, np.nan, series.values)[:split],
                              season or seasonal_period(series.freq))
    except ValueError:
        return float("nan")


def _scaled_mae(actual: np.ndarray, forecast: np.ndarray, scale: float | np.ndarray) -> float:
    """MASE: of one series with its scale, or of several pooled, each cell with its own."""
    actual = np.asarray(actual, dtype=np.float64).reshape(-1, 1)
    return mean_scaled_error(actual, np.asarray(forecast, dtype=np.float64).reshape(-1, 1),
                             np.broadcast_to(np.asarray(scale, dtype=np.float64), actual.shape[:1]))


def _json_metrics(metrics: dict[str, dict[str, float]]) -> dict[str, dict[str, float | None]]:
    """Error summaries by method with NaN (a baseline that had no value to compare, such as
    seasonal naive on a series shorter than a season) as None, for JSON."""
    return {method: {k: json_number(v) for k, v in values.items()} for method, values in metrics.items()}


def _metadata(dataset: Dataset, fitted: FittedModel, evaluation, calibration, seconds: float) -> dict[str, Any]:
    lookback = fitted.options.lookback
    series_meta = []
    floors = forecasting.value_floors(dataset.series)
    for i, (series, prep) in enumerate(zip(dataset.series, fitted.prepared)):
        raw_tail = _features(series, fitted.options)[-lookback:]
        series_meta.append(
            {
                "name": series.name,
                "target": series.target,
                "freq": series.freq,
                "season": seasonal_period(series.freq),
                "tz": None if series.index.tz is None else str(series.index.tz),
                "start": series.index[0].isoformat(),
                "end": series.index[-1].isoformat(),
                "n_steps": len(series.values),
                "validation_start": series.index[prep.split].isoformat(),
                "scaler": prep.scaler.to_dict(),
                "last_values": raw_tail.tolist(),
                # predict's forecasts and bounds go no lower (see forecasting.value_floor)
                "floor": floors[i],
                "residual_scale": evaluation["residual_scales"][i],
                "window_spread": evaluation["window_spreads"][i],
                "anomaly": calibration["series"][i],
                "metrics": _json_metrics(evaluation["per_series"][series.name]),
            }
        )
    versions = {}
    if fitted.options.model == "network":
        from .backend import load_keras

        versions["keras_version"] = load_keras().__version__
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **versions,
        "data_file": dataset.path if dataset.in_memory or dataset.path == "-" else str(Path(dataset.path).resolve()),
        "data_options": dataset.options.to_dict(),
        "train_options": fitted.options.to_dict(),
        "network": fitted.spec,
        "model_file": model_file(fitted.options.model),
        "format": "long" if dataset.options.id_col else "wide",
        "series": series_meta,
        "intervals": evaluation["intervals"],
        "anomaly_threshold": calibration["threshold"],
        "metrics": _json_metrics(evaluation["overall"]),
        "training": {
            "epochs_run": fitted.epochs_run,
            "best_epoch": fitted.best_epoch,
            "train_windows": len(fitted.train_windows),
            "validation_windows": sum(len(x) for x, _ in fitted.val_parts),
            "seconds": round(seconds, 2),
            **({"members": fitted.members} if fitted.members else {}),
            **({"window_level_errors": fitted.level_errors} if fitted.level_errors else {}),
        },
    }
