"""Command-line interface: each command parses its options and makes one library call.

Exit codes: 0 success; 1 a data, model or configuration error (one line on stderr);
2 a malformed command line; 3 ``detect-anomalies --fail-on-anomaly`` flagged something;
130 interrupted (SIGINT, Ctrl-C); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, Optional, TypeVar

import typer

from . import interrupts
from .errors import ForecasterError
from .report import closest, counted, epochs_text, linear_baseline_note, short_times

T = TypeVar("T")

app = typer.Typer(
    name="forecaster",
    help="Forecasts and anomaly flags for CSV time series with recurrent neural networks (LSTM, GRU, RNN).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain help and errors: rich panels cut defaults short at 80 columns and box an error in several lines
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"forecaster {__version__}")
        raise typer.Exit()


@app.callback()
def _before_the_command(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", is_eager=True, callback=_print_version, help="Print the version and exit."),
    ] = False,
) -> None:
    # the options given before the command's name: --version only (the help is the app's)
    pass


DEFAULT_MODEL_DIR = Path("forecaster-model")
#: detect-anomalies --fail-on-anomaly found some: not an error, news for cron to act on
EXIT_ANOMALIES = 3
ON_DUPLICATE = ("error", "mean", "last", "first")
CELLS = ("lstm", "gru", "rnn")


# --- options shared by several commands -------------------------------------------------------

ModelDir = Annotated[
    Path, typer.Option("--model-dir", "-m", help="Model directory: written by train, read by the other commands.", show_default=True)
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors, and the result of evaluate and info (for cron).")]
Debug = Annotated[bool, typer.Option("--debug", help="Show the full traceback of unexpected errors.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Also print details: the resolved training options, the model loaded.")]
LogFormat = Annotated[
    str,
    typer.Option(help="How progress and errors go to stderr: text for people, json for log collectors (one object per line)."),
]
Output = Annotated[
    Optional[str],
    typer.Option("--output", "-o", help="CSV file to write (atomically), compressed if its name ends in .gz, .bz2, "
                                         ".xz or .zip; '-' or nothing writes to stdout."),
]
OptionalData = Annotated[
    Optional[Path],
    typer.Argument(
        help="CSV to read, with the column options used at training. Omitted: the data the model was trained on.",
        show_default=False,
        metavar="DATA",
    ),
]


Plot = Annotated[
    Optional[Path],
    typer.Option(help="Also draw the result to this .png, .svg or .pdf file.", show_default=False, metavar="FILE"),
]


def _load_config(ctx: typer.Context, param: Any, value: Optional[Path]) -> Optional[Path]:
    """Read a TOML file of option defaults; flags on the command line win over it.

    Keys are option names (``lookback``, ``val-fraction`` or ``val_fraction``), at the top
    level or in a table named after the command (``[train]``). ``evaluate`` also reads the
    ``[train]`` table, under its own, so that one file describes the model that is trained
    and the one that is backtested; train-only keys (``model-dir``, ``wait``) are skipped there
    and at the top level.
    """
    if value is None:
        return value
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        table = tomllib.loads(value.read_text(encoding="utf-8"))
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {value}: {exc.strerror}", param=param) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"{value} is not valid TOML: {exc}", param=param) from None
    command = ctx.info_name or ""
    known = _config_keys(ctx)
    for name, item in table.items():
        if isinstance(item, dict) and name not in CONFIG_TABLES:
            close = closest(name, CONFIG_TABLES)
            hint = (f"; did you mean [{close}]?" if close
                    else f"; the tables are named after the commands that read them: {', '.join(CONFIG_TABLES)}")
            raise typer.BadParameter(f"{value}: unknown table [{name}]{hint}", param=param)
    flat = {k: v for k, v in table.items() if not isinstance(v, dict)}
    if command == "evaluate":
        # the model you deploy, described at the top level or in [train]: its model directory
        # and lock wait mean nothing to a backtest, which writes no model
        flat = {k: v for k, v in flat.items() if k.replace("-", "_") not in _TRAIN_ONLY}
        if isinstance(table.get("train"), dict):
            flat.update({k: v for k, v in table["train"].items() if k.replace("-", "_") not in _TRAIN_ONLY})
    if isinstance(table.get(command), dict):
        flat.update(table[command])
    defaults = {}
    for key, item in flat.items():
        option = known.get(key.replace("-", "_"))
        if option is None:
            raise typer.BadParameter(f"{value}: unknown option '{key}' for '{command}'{_key_hint(key, known, command)}",
                                     param=param)
        try:
            defaults[option.name] = _config_value(ctx, option, item)
        except ValueError as exc:
            raise typer.BadParameter(f"{value}: '{key}': {exc}", param=param) from None
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


_TRAIN_ONLY = {"model_dir", "wait"}
#: The tables a config file may hold: one per command that reads one (--config).
CONFIG_TABLES = ("train", "evaluate")


def _key_hint(key: str, known: dict[str, Any], command: str) -> str:
    """What a config file's unknown ``key`` may have meant: "; did you mean 'epochs'?" for
    'epoch', spelled with the key's dashes or underscores; empty where nothing is close."""
    name = key.replace("-", "_")
    if command == "evaluate" and name in _TRAIN_ONLY:
        return "; it is train's alone (evaluate keeps no model)"
    close = closest(name, list(known))
    if not close:
        return ""
    return f"; did you mean '{close.replace('_', '-') if '-' in key else close}'?"


def _config_keys(ctx: typer.Context) -> dict[str, Any]:
    """The command's options by every name a config file may use: the parameter's (``as_json``)
    and each of its flags' without the dashes (``json``, ``val_fraction`` for ``--val-fraction``)."""
    known = {}
    for option in ctx.command.params:
        if not option.name or option.name == "config" or option.param_type_name != "option" or option.hidden:
            continue  # a hidden option is a mistake's explanation, not a setting
        known[option.name] = option
        for flag in (*option.opts, *option.secondary_opts):
            if flag.startswith("--") and not flag.startswith("--no-"):
                known[flag[2:].replace("-", "_")] = option
    return known


def _config_value(ctx: typer.Context, option: Any, item: Any) -> Any:
    """A config file's value for ``option``, checked as the command line's would be.

    Raises:
        ValueError: "must be ..., not ..." (the key is prefixed by the caller).
    """
    multiple = getattr(option, "multiple", False)
    if isinstance(item, list) and not multiple:
        raise ValueError(f"takes one value, not a list ({item!r})")
    # `target = "load"` reads as naturally as `target = ["load"]` for a repeatable option
    items = item if isinstance(item, list) else [item]
    kind = option.type  # click's parameter types, told apart by name ("int range" and so on)
    if option.is_flag or kind.name == "boolean":
        wanted, fits = "true or false", lambda x: isinstance(x, bool)
    elif kind.name.startswith("int"):
        wanted, fits = "a whole number", lambda x: isinstance(x, int) and not isinstance(x, bool)
    elif kind.name.startswith("float"):
        wanted, fits = "a number", lambda x: isinstance(x, (int, float)) and not isinstance(x, bool)
    else:
        wanted, fits = "a string", lambda x: isinstance(x, str)
    converted = []
    for one in items:
        if not fits(one):
            kind_name = {bool: "true or false", int: "a whole number", float: "a decimal number", str: "a string",
                         list: "a list", dict: "a table"}.get(type(one), type(one).__name__)
            raise ValueError(f"must be {wanted}{' (or a list of them)' if multiple else ''}, not {kind_name} "
                             f"({one!r})")
        try:
            converted.append(kind.convert(one, option, ctx))
        except typer.BadParameter as exc:
            raise ValueError(exc.message) from None
    value = converted if multiple else converted[0]
    if option.callback is not None:  # the option's own check (--coverage's), its message naming the file's key
        try:
            return option.callback(ctx, option, value)
        except typer.BadParameter as exc:
            raise ValueError(exc.message) from None
    return value


def _run(action: Callable[[], T], debug: bool, reporter, command: str,
         counts: Callable[[T], dict[str, Any]] | None = None, report: Callable[[T], None] | None = None) -> T:
    """Run a library call, then ``report`` its result, turning errors into one line on stderr
    and an exit code.

    With ``--log-format json`` the run is framed by ``start`` and ``finish`` events (the
    latter with its duration and ``counts`` of the result), or ends with an ``error`` event.
    """
    import time

    started = time.monotonic()
    reporter.command = command
    reporter.event("start", command=command)

    def fail(message: str, code: int = 1):
        reporter.error(message, code)
        return typer.Exit(code)

    try:
        # the warning settings are this run's only, so in-process callers (tests, scripts)
        # get theirs back
        with warnings.catch_warnings():
            if reporter.quiet:
                warnings.simplefilter("ignore")
            elif reporter.json:
                # a library's warning printed as text would break the one-object-per-line log
                warnings.showwarning = lambda message, *args, **kwargs: reporter.warn(str(message))
            result = action()
            interrupts.check()  # a stop asked for while it ran, lost where Python drops exceptions
            interrupts.committed()  # its outputs are in place: what remains is to say so
            if report is not None:
                report(result)
    except typer.BadParameter as exc:
        # Typer prints it as text with the usage line and exits 2; a JSON log that saw the
        # start also gets how the run ended
        reporter.event("error", message=exc.format_message(), exit_code=2)
        raise
    except typer.Exit:
        raise  # a chosen exit
    except KeyboardInterrupt:
        _report_exit(reporter, "Interrupted.", 130)
        raise typer.Exit(130) from None
    except Exception as exc:
        # a signal that arrived inside an import may come out as an ImportError: the
        # signal, not what it broke, is why the run ends
        if (stopped := interrupts.requested()) is not None:
            raise stopped from None
        if isinstance(exc, ForecasterError):
            raise fail(str(exc)) from None
        if debug:
            raise
        if isinstance(exc, OSError):
            where = f": {exc.filename}" if exc.filename else ""
            raise fail(f"{exc.strerror or exc}{where}") from None
        raise fail(f"unexpected {type(exc).__name__}: {exc} (re-run with --debug for the traceback and report it)") from None
    reporter.event("finish", command=command, seconds=round(time.monotonic() - started, 3),
                   **(counts(result) if counts else {}))
    return result


_active_reporter = None


def _reporter(quiet: bool, verbose: bool = False, log_format: str = "text"):
    """The run's reporter; remembered so that a signal's message is logged the same way."""
    global _active_reporter
    from .report import LOG_FORMATS, Reporter

    log_format = _choice(log_format, LOG_FORMATS, "--log-format")
    _active_reporter = Reporter(quiet=quiet, verbose=verbose, log_format=log_format)
    return _active_reporter


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    """``value`` as ``allowed`` spells it, in any case (``--cell LSTM`` is lstm, as the
    training line "Training an LSTM" would have it typed); a usage error if it is none of them."""
    canonical = {name.lower(): name for name in allowed}.get(value.lower())
    if canonical is None:
        # marks such as . and , quoted, or the list reads "., ,"
        names = ", ".join(a if a.replace("-", "").isalnum() else repr(a) for a in allowed)
        raise typer.BadParameter(f"must be one of {names}, not '{value}'", param_hint=option)
    return canonical


#: The --coverage a command line may ask for: 0.999 at most, as intervals of more are
#: beyond what the validation errors can calibrate
COVERAGE_RANGE = (0.01, 0.999)


def _probabilities(value: T) -> T:
    """Check --coverage (one, or a list): a probability, where a percentage is a common slip
    (``--coverage 90``, which it then names as 0.9)."""
    low, high = COVERAGE_RANGE
    for level in value if isinstance(value, list) else [] if value is None else [value]:
        if not low <= level <= high:
            # from 10 up: 1.5 is more likely a slip of another kind than 1.5 %
            slip = f"; for {level:g} % write {level / 100:g}" if 10 <= level <= 100 * high else ""
            raise typer.BadParameter(f"{level:g} is not a probability from {low:g} to {high:g}{slip}")
    return value


def _a_number(value: T) -> T:
    """Refuse ``nan`` for an option with a range, which click lets through (no comparison
    with it is true), as the range's own message would."""
    if isinstance(value, float) and value != value:
        raise typer.BadParameter("nan is not a number")
    return value


def _is_model_dir(path: Any) -> bool:
    from .artifacts import METADATA_FILE

    return path is not None and (Path(path) / METADATA_FILE).is_file()


def _refuse_model_dir_as_data(data: Optional[Path]) -> None:
    """DATA that is a model directory (``predict forecaster-model``): the library would say it
    is a directory, not a CSV file; this says where it goes."""
    if _is_model_dir(data):
        raise typer.BadParameter(f"'{data}' is a model directory: use -m {data} (DATA is a CSV file)",
                                 param_hint="DATA")


def _trained_horizon(model_dir: Path) -> Optional[int]:
    """The horizon of the model in ``model_dir``, or None where it cannot be read: only to
    word a hint, so the directory is not checked as predict would check it."""
    try:
        return int(_peeked_metadata(model_dir)["network"]["horizon"])
    except (KeyError, TypeError, ValueError):
        return None


def _times_of_day(model_dir: Path) -> bool:
    """Whether the model's series step by less than a day, so that the output's timestamps are
    written with their time of day even when all are at midnight (an hourly ``--last 1``)."""
    from .data import within_a_day

    try:
        return any(within_a_day(series["freq"]) for series in _peeked_metadata(model_dir)["series"])
    except (KeyError, TypeError, ValueError):
        return False


def _peeked_metadata(model_dir: Path) -> Any:
    """The model's metadata as it is, unchecked (``{}`` where it cannot be read): for how a
    message or an output is worded, never for the results themselves."""
    import json

    from .artifacts import METADATA_FILE

    try:
        return json.loads((Path(model_dir) / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


# --- commands ---------------------------------------------------------------------------------


# Data and training options, shared by train and evaluate.
DataArg = Annotated[Path, typer.Argument(help="CSV file (or .csv.gz, or - for standard input) with one or many time series.", show_default=False, metavar="DATA")]
TimeCol = Annotated[Optional[str], typer.Option(help="Time column (default: the one column of timestamps).")]
IdCol = Annotated[Optional[str], typer.Option(help="Series key column of a long file (one series per value).")]
Targets = Annotated[
    Optional[list[str]], typer.Option("--target", help="Column to forecast; repeatable. Default: every numeric column (wide).")
]
Covariates = Annotated[
    Optional[list[str]], typer.Option("--covariate", help="Extra numeric input column, not forecast; repeatable.")
]
MaxGap = Annotated[int, typer.Option(min=0, help="Longest run of missing steps filled by interpolation.")]
OnDuplicate = Annotated[str, typer.Option(help="Duplicate timestamps: error, or combine by mean, last or first.")]
Sep = Annotated[
    Optional[str],
    typer.Option(help="Field separator, e.g. ';', '|' or tab.", show_default="sniffed among , ; tab |"),
]
Decimal = Annotated[str, typer.Option(help="Decimal mark of numbers: . or , (then e.g. 1,5 reads as 1.5).")]
Thousands = Annotated[
    Optional[str], typer.Option(help="Thousands separator of numbers, e.g. ',' for 1,234.5.", show_default="none")
]
DayFirst = Annotated[bool, typer.Option("--dayfirst", help="Read dates such as 01/02/2024 day first (dd/mm/yyyy).")]
TimeUnit = Annotated[
    Optional[str],
    typer.Option(help="The time column is Unix time in s (seconds) or ms (milliseconds), UTC.", show_default="dates"),
]
TimeZone = Annotated[
    Optional[str],
    typer.Option(
        "--tz", metavar="ZONE",
        help="Time zone of timestamps written without an offset, e.g. Europe/Berlin: read across summer-time changes "
        "(the repeated autumn hour in file order); hourly or finer data are then in UTC.",
        show_default="as written",
    ),
]
ModelType = Annotated[
    str,
    typer.Option(
        "--model",
        help="What forecasts: network (the recurrent network below), linear (ridge regression on the "
        "lookback window), naive (last value) or seasonal-naive (last season).",
    ),
]
Cell = Annotated[str, typer.Option(help="Recurrent cell: lstm, gru or rnn (SimpleRNN).")]
Layers = Annotated[int, typer.Option(min=1, help="Stacked recurrent layers.")]
Units = Annotated[int, typer.Option(min=1, help="Units per recurrent layer.")]
Bidirectional = Annotated[bool, typer.Option(help="Wrap each recurrent layer in a bidirectional layer.")]
Dropout = Annotated[float, typer.Option(min=0.0, max=0.95, help="Input dropout of each recurrent layer.")]
LinearSkip = Annotated[
    bool, typer.Option(help="Start the network as the linear baseline (a frozen ridge map from the window to the "
                            "output) and let the recurrent layers learn a correction to it.")
]
Ensemble = Annotated[
    Optional[int],
    typer.Option(min=1, metavar="K", help="Train K networks one after another, with seeds seed to seed+K-1, and "
                                         "average their forecasts: steadier forecasts for K times the training time.",
                 show_default="3 for a segmented network, else 1"),
]
Segment = Annotated[
    Optional[int],
    typer.Option(min=1, metavar="STEPS",
                 help="Steps the recurrent layer reads at once: the window's last lookback/STEPS runs of STEPS steps, "
                      "each embedded by a dense layer (SegRNN-style); 1 steps through the window one step at a time. "
                      "A daily run of hourly data shows the network whole cycles and trains several times faster.",
                 show_default="the seasonal period if the lookback holds 4 of them, else 1"),
]
Ema = Annotated[
    bool,
    typer.Option(help="Validate, stop early on and keep an exponential moving average of the weights (Adam's "
                      "use_ema, momentum 0.99) rather than the last ones."),
]
FinalFit = Annotated[
    str,
    typer.Option(
        help="What the saved model is fitted on once validation has chosen its epochs (network) or penalty "
        "(linear): train (the training part only) or all (the validation part too, so it learns from the "
        "latest data, at the cost of training the chosen epochs again). Validation errors, intervals and the "
        "anomaly threshold come from the model as validated either way.",
    ),
]
TargetTransform = Annotated[
    str,
    typer.Option(
        help="Model the target as it is (none) or as its logarithm (log): for values above 0 whose swings grow "
        "with their level, such as sales, traffic and counts. Forecasts and intervals are then relative and stay "
        "positive; anomalies are still scored on the values. auto: the log when every value is above 0 and the "
        "linear model forecasts the validation part at least 2 % better with it.",
    ),
]
WindowLevel = Annotated[
    str,
    typer.Option(
        help="What each input window is expressed relative to before the model sees it: its mean, or its last "
        "value (forecasts then lean towards the latest value rather than the window's average, which helps where "
        "training data is short or the series wanders). auto: the last value when the linear model forecasts "
        "the validation part clearly better so (by 2 % of its error), else the mean.",
    ),
]
SeriesWeights = Annotated[
    str,
    typer.Option(
        help="How much each series counts in the network's training loss, where there are several: "
        "seasonal-error, by the inverse of its seasonal-naive error on its training part (as MASE weighs series: "
        "a series that repeats its cycle closely must be forecast closely), at most 10 times the median series'; "
        "even, every window alike.",
    ),
]
Calendar = Annotated[
    Optional[bool],
    typer.Option(
        help="Give the model the time of day, day of week and day of year as inputs. "
        "[default: given, and left out if the linear model does better without them on a validation "
        "part that spans their longest cycle]",
        show_default=False,
    ),
]
Lookback = Annotated[
    Optional[int],
    typer.Option(
        min=1,
        help="Steps of history per window.",
        show_default="two seasonal periods or a week of sub-daily data, at most 336, less for short series",
    ),
]
Horizon = Annotated[
    Optional[int], typer.Option(min=1, help="Steps to forecast.", show_default="one seasonal period, 6 to 48")
]
ValFraction = Annotated[
    float, typer.Option(min=0.01, max=0.9, help="Share of each series' end kept for validation.")
]
Epochs = Annotated[int, typer.Option(min=1, help="Most epochs; early stopping usually ends sooner.")]
Patience = Annotated[int, typer.Option(min=1, help="Epochs without validation improvement before stopping.")]
BatchSize = Annotated[int, typer.Option(min=1, help="Windows per training batch.")]
WindowsPerEpoch = Annotated[
    Optional[int],
    typer.Option(min=1, metavar="N", help="Train each epoch on N windows drawn at random (a new draw every epoch), "
                                          "so epochs on large data stay short.", show_default="all windows"),
]
LearningRate = Annotated[
    Optional[float],
    typer.Option(min=1e-7, help="Adam learning rate.", show_default="0.0003 for a segmented network, else 0.001"),
]
Seed = Annotated[Optional[int], typer.Option(help="Seed for reproducible training and outputs.")]
Config = Annotated[
    Optional[Path],
    typer.Option(
        help="TOML file of option defaults (keys as option names); flags win.", is_eager=True, callback=_load_config
    ),
]


# How DATA is written, for predict and detect-anomalies: by default as the training file was
# (the model records it); given, for an export written differently.
AS_TRAINED = "as at training"
ReadSep = Annotated[Optional[str], typer.Option(help="Field separator of DATA, e.g. ';', '|' or tab.",
                                                show_default=AS_TRAINED)]
ReadDecimal = Annotated[Optional[str], typer.Option(help="Decimal mark of DATA's numbers: . or ,.",
                                                    show_default=AS_TRAINED)]
ReadThousands = Annotated[Optional[str], typer.Option(help="Thousands separator of DATA's numbers, e.g. ','; "
                                                           "'' for none.", show_default=AS_TRAINED)]
ReadDayFirst = Annotated[Optional[bool], typer.Option("--dayfirst/--no-dayfirst",
                                                      help="Read DATA's dates such as 01/02/2024 day first.",
                                                      show_default=AS_TRAINED)]
ReadTimeUnit = Annotated[Optional[str], typer.Option(help="DATA's time column is Unix time in s or ms; 'dates' "
                                                          "for dates.", show_default=AS_TRAINED)]
ReadTimeZone = Annotated[Optional[str], typer.Option("--tz", metavar="ZONE", help="Time zone of DATA's timestamps "
                                                     "written without an offset; 'none' for as written.",
                                                     show_default=AS_TRAINED)]
ReadMaxGap = Annotated[Optional[int], typer.Option(min=0, help="Longest run of missing steps in DATA filled by "
                                                               "interpolation.", show_default=AS_TRAINED)]
ReadOnDuplicate = Annotated[Optional[str], typer.Option(help="Duplicate timestamps in DATA: error, or combine by "
                                                             "mean, last or first.", show_default=AS_TRAINED)]


def _reading(*, sep, decimal, thousands, dayfirst, time_unit, tz, max_gap, on_duplicate) -> dict[str, Any]:
    """The reading options given on the command line, for DATA written unlike the training file
    (:meth:`forecaster.data.DataOptions.reading`); usage errors exit 2."""
    from .data import DECIMALS, TIME_UNITS, DataOptions

    if decimal is not None:
        decimal = _choice(decimal, DECIMALS, "--decimal")
    if time_unit is not None:
        time_unit = _choice(time_unit, (*TIME_UNITS, "dates"), "--time-unit")
    if on_duplicate is not None:
        on_duplicate = _choice(on_duplicate, ON_DUPLICATE, "--on-duplicate")
    given = {"sep": sep, "decimal": decimal, "dayfirst": dayfirst, "max_gap": max_gap, "on_duplicate": on_duplicate,
             "thousands": thousands, "time_unit": time_unit, "tz": tz}
    # the words that turn a recorded setting off: a command line has no other way to say "none"
    off = {"thousands": "", "time_unit": "dates", "tz": "none"}
    reading = {name: None if name in off and value.lower() == off[name] else value for name, value in given.items()
               if value is not None}
    # each value on its own, as a usage error; whether the thousands and decimal marks differ
    # is known only with the model's
    checked = dict(reading)
    if checked.get("thousands"):
        checked.setdefault("decimal", "," if checked["thousands"] == "." else ".")
    _usage_errors(lambda: DataOptions(**checked))
    return reading


def _config_named(ctx: typer.Context, build: Callable[[], T]) -> T:
    """``build()``; its usage error about an option's value that came from the ``--config`` file
    (checked only once the command runs: ``seed = -1``, ``cell = "foo"``) names the file and
    the key, as the file's other errors do."""
    try:
        return build()
    except typer.BadParameter as exc:
        flag, message = exc.param_hint if isinstance(exc.param_hint, str) else None, exc.message
        if flag is None and (named := re.match(r"(--[a-z-]+) (.*)", message)):
            flag, message = named.groups()
        name = next((p.name for p in ctx.command.params if flag in getattr(p, "opts", ())), None) if flag else None
        source = ctx.get_parameter_source(name) if name else None
        if ctx.params.get("config") is None or getattr(source, "name", None) != "DEFAULT_MAP":
            raise
        raise typer.BadParameter(f"{ctx.params['config']}: '{flag.removeprefix('--')}': {message}",
                                 param_hint="'--config'") from None


def _usage_errors(build: Callable[[], T]) -> T:
    """``build()``, its ConfigError (an option's value the library refuses, such as ``--sep ab``
    or ``--tz Mars/Base``) turned into a usage error: exit code 2, as for any value out of range."""
    from .errors import ConfigError

    try:
        return build()
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None


def _training_options(
    *, time_col, id_col, target, covariate, max_gap, on_duplicate, model, cell, layers, units, bidirectional,
    dropout, linear_skip, ensemble, segment, ema, final_fit, target_transform, calendar, window_level, series_weights,
    lookback, horizon, val_fraction,
    epochs, patience, batch_size, learning_rate, seed, windows_per_epoch=None, sep=None, decimal=".", thousands=None,
    dayfirst=False, time_unit=None, tz=None,
):  # fmt: skip
    """The library's option objects from the command line's values; usage errors exit 2."""
    from .data import DECIMALS, TIME_UNITS, DataOptions
    from .scaling import TARGET_TRANSFORMS
    from .training import FINAL_FITS, MODEL_TYPES, SERIES_WEIGHTS, WINDOW_LEVEL_CHOICES, TrainOptions

    on_duplicate = _choice(on_duplicate, ON_DUPLICATE, "--on-duplicate")
    decimal = _choice(decimal, DECIMALS, "--decimal")
    if time_unit is not None:
        time_unit = _choice(time_unit, TIME_UNITS, "--time-unit")
    model = _choice(model, MODEL_TYPES, "--model")
    cell = _choice(cell, CELLS, "--cell")
    final_fit = _choice(final_fit, FINAL_FITS, "--final-fit")
    target_transform = _choice(target_transform, TARGET_TRANSFORMS, "--target-transform")
    window_level = _choice(window_level, WINDOW_LEVEL_CHOICES, "--window-level")
    series_weights = _choice(series_weights, SERIES_WEIGHTS, "--series-weights")
    data_options = _usage_errors(lambda: DataOptions(
        time_col=time_col, id_col=id_col, targets=tuple(target or ()), covariates=tuple(covariate or ()),
        max_gap=max_gap, on_duplicate=on_duplicate, sep=sep, decimal=decimal, thousands=thousands,
        dayfirst=dayfirst, time_unit=time_unit, tz=tz,
    ))  # fmt: skip
    options = _usage_errors(lambda: TrainOptions(
        lookback=lookback, horizon=horizon, model=model, cell=cell, layers=layers, units=units,
        bidirectional=bidirectional, dropout=dropout, linear_skip=linear_skip, ensemble=ensemble, segment=segment, ema=ema,
        final_fit=final_fit, target_transform=target_transform, calendar=calendar, window_level=window_level,
        series_weights=series_weights, epochs=epochs,
        batch_size=batch_size, windows_per_epoch=windows_per_epoch, learning_rate=learning_rate,
        val_fraction=val_fraction, patience=patience, seed=seed,
    ))  # fmt: skip
    return data_options, options


# --- commands ---------------------------------------------------------------------------------

#: Each command's examples, at the end of its --help (as in the README)
EXAMPLES = {
    "train": (
        "forecaster train sample_data/hourly_load.csv --target load --covariate temperature -m model --seed 42",
        "forecaster train sample_data/stores_daily.csv --id-col store --target sales --covariate promo -m stores",
        "forecaster train export.csv --target load -m linear --model linear",
    ),
    "predict": (
        "forecaster predict -m model",
        "forecaster predict export.csv -m model -o forecast.csv --plot forecast.png",
        "forecaster predict export.csv -m model --sep ';' --decimal , --dayfirst -o forecast.csv.gz",
    ),
    "detect-anomalies": (
        "forecaster detect-anomalies -m model -o anomalies.csv --plot anomalies.png",
        "forecaster detect-anomalies export.csv -m model -o anomalies.csv --state anomalies.state --last 48 "
        "--fail-on-anomaly --quiet",
    ),
    "evaluate": (
        "forecaster evaluate sample_data/hourly_load.csv --target load --covariate temperature --seed 42",
        "forecaster evaluate sample_data/hourly_load.csv --target load --model linear --folds 5 --json",
    ),
    "info": (
        "forecaster info -m model",
        "forecaster info -m model --json",
    ),
}


def _examples(command: str) -> str:
    # \b keeps the lines as they are: click would otherwise join them into one paragraph
    return "Examples:\n\n\b\n" + "\n".join(EXAMPLES[command])


@app.command(short_help="Train a model on DATA, write the model directory.", epilog=_examples("train"))
def train(
    ctx: typer.Context,
    data: DataArg,
    model_dir: ModelDir = DEFAULT_MODEL_DIR,
    time_col: TimeCol = None,
    id_col: IdCol = None,
    target: Targets = None,
    covariate: Covariates = None,
    max_gap: MaxGap = 3,
    on_duplicate: OnDuplicate = "error",
    sep: Sep = None,
    decimal: Decimal = ".",
    thousands: Thousands = None,
    dayfirst: DayFirst = False,
    time_unit: TimeUnit = None,
    tz: TimeZone = None,
    model: ModelType = "network",
    cell: Cell = "lstm",
    layers: Layers = 1,
    units: Units = 32,
    bidirectional: Bidirectional = False,
    dropout: Dropout = 0.0,
    linear_skip: LinearSkip = True,
    ensemble: Ensemble = None,
    segment: Segment = None,
    ema: Ema = False,
    final_fit: FinalFit = "train",
    target_transform: TargetTransform = "auto",
    calendar: Calendar = None,
    window_level: WindowLevel = "auto",
    series_weights: SeriesWeights = "seasonal-error",
    lookback: Lookback = None,
    horizon: Horizon = None,
    val_fraction: ValFraction = 0.2,
    epochs: Epochs = 100,
    patience: Patience = 10,
    batch_size: BatchSize = 64,
    windows_per_epoch: WindowsPerEpoch = None,
    learning_rate: LearningRate = None,
    seed: Seed = None,
    wait: Annotated[
        float,
        typer.Option(
            min=0, metavar="SECONDS", callback=_a_number,
            help="Wait this long for another train into the same model directory to finish; by default fail at once.",
        ),
    ] = 0.0,
    config: Config = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    log_format: LogFormat = "text",
    debug: Debug = False,
    coverage: Annotated[
        Optional[str], typer.Option(hidden=True, help="Not an option: refused with where the coverage is set.")
    ] = None,
) -> None:
    """Train a model on DATA and write it to the model directory."""
    if coverage is not None:
        raise typer.BadParameter("the intervals' coverage is chosen when forecasting, not at training: pass it to "
                                 f"predict or evaluate (--coverage {coverage}); a model serves every level",
                                 param_hint="--coverage")
    settings = {k: v for k, v in locals().items() if k not in _NOT_TRAINING}
    from .training import train as train_model

    reporter = _reporter(quiet, verbose, log_format)

    _run(lambda: train_model(data, *_config_named(ctx, lambda: _training_options(**settings)), model_dir, reporter,
                             wait=wait), debug,
         reporter, "train", _training_counts, lambda result: _report_training(result, reporter))


# train's options that are not training options
_NOT_TRAINING = {"ctx", "data", "model_dir", "config", "quiet", "verbose", "log_format", "debug", "wait",
                 "coverage"}


def _training_counts(result) -> dict[str, Any]:
    return {"model_dir": str(result.model_dir), "series": result.n_series, "train_windows": result.n_train_windows,
            "validation_windows": result.n_val_windows, "epochs": result.epochs_run, "best_epoch": result.best_epoch,
            "seed": result.options.seed, **({"members": result.members} if result.members else {})}


def _method_label(method: str, options) -> str:
    """How a row of a comparison table is labelled: the trained model by its kind."""
    if method == "model":
        kind = options.cell.upper() if options.model == "network" else options.model
        return f"{kind} model"
    return method.replace("_", " ")


#: The most series a per-series table lists; beyond it, those where the model compares worst.
SERIES_TABLE_ROWS = 20


def _series_table(reporter, title: str, labels: list[str], values: dict[str, list[float]]) -> None:
    """A table of an error per series (rows) and method (columns, the model first), for a
    file of several series. Of more than :data:`SERIES_TABLE_ROWS`, it lists those where the
    model's error is largest relative to the best baseline's: the series to look at."""
    import numpy as np

    if len(values) < 2:
        return
    names = list(values)
    if len(names) > SERIES_TABLE_ROWS:
        errors = np.array([values[name] for name in names], dtype=float)
        # a baseline that is the model itself (the linear one, for --model linear) is no yardstick
        others = [j for j in range(1, errors.shape[1])
                  if not np.array_equal(errors[:, j], errors[:, 0], equal_nan=True)]
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = errors[:, 0] / np.min(errors[:, others or list(range(1, errors.shape[1]))], axis=1)
        order = np.argsort(-np.nan_to_num(relative, nan=-np.inf), kind="stable")
        names = [names[i] for i in order[:SERIES_TABLE_ROWS]]
        title += (f": the {SERIES_TABLE_ROWS} of {len(values):,} where the model compares worst with "
                  "its best baseline")
    reporter.table(title, ["series", *labels], [[name, *values[name]] for name in names])


def _validation_table(reporter, metrics: dict[str, dict[str, Any]], options) -> None:
    """Each method's validation errors: MAE and RMSE pooled in the data's units, and MASE,
    which weighs series of different sizes or units alike (None or missing in older models)."""
    reporter.table("Validation error (MAE and RMSE in data units)", ["", "MAE", "RMSE", "MASE"],
                   [[_method_label(name, options), m["mae"], m["rmse"], m.get("mase")] for name, m in metrics.items()])


def _report_training(result, reporter) -> None:
    _validation_table(reporter, result.metrics, result.options)
    methods = list(result.metrics)
    _series_table(reporter, "Validation MAE per series", [_method_label(k, result.options) for k in methods],
                  {name: [m[k]["mae"] for k in methods] for name, m in result.series_metrics.items()})
    stopped = (f"Stopped after {epochs_text(result.epochs_run, result.best_epoch, result.members)} in "
               if result.options.model == "network" else "Fitted in ")
    refitted = result.options.final_fit == "all" and result.options.model in ("network", "linear")
    final = "; then fitted again on all the data" if refitted else ""
    reporter.info(
        f"{stopped}{result.seconds:.1f} s; seed {result.options.seed}{final}. Model written to {result.model_dir}"
    )
    if note := linear_baseline_note(result.metrics, result.options.model):
        reporter.info(note)


@app.command(short_help="Forecast the next steps of each series (CSV).", epilog=_examples("predict"))
def predict(
    data: OptionalData = None,
    model_dir: ModelDir = DEFAULT_MODEL_DIR,
    output: Output = None,
    coverage: Annotated[
        float, typer.Option(callback=_probabilities, help="Probability, from 0.01 to 0.999, that the interval from "
                                                          "lower to upper holds the value.")
    ] = 0.9,
    recalibrate: Annotated[
        bool,
        typer.Option(help="Calibrate the intervals also on how the model did on values of DATA that came after "
                          "its training data (the latest replace as many validation errors)."),
    ] = True,
    fail_on_missing: Annotated[
        bool, typer.Option(help="Exit with code 3 when a trained series is not forecast (not in DATA, too short, at "
                                "another step) or its data end before the others' (a host gone silent), naming them, "
                                "so cron can alert.")
    ] = False,
    plot: Plot = None,
    sep: ReadSep = None,
    decimal: ReadDecimal = None,
    thousands: ReadThousands = None,
    dayfirst: ReadDayFirst = None,
    time_unit: ReadTimeUnit = None,
    tz: ReadTimeZone = None,
    max_gap: ReadMaxGap = None,
    on_duplicate: ReadOnDuplicate = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    log_format: LogFormat = "text",
    debug: Debug = False,
    horizon: Annotated[
        Optional[str], typer.Option(hidden=True, help="Not an option: refused with where the horizon is set.")
    ] = None,
) -> None:
    """Forecast the next steps of each series, with intervals, as CSV."""
    from .forecasting import forecast_with_history
    from .outputs import write_csv

    if horizon is not None:
        trained = _trained_horizon(model_dir)
        if str(trained) != horizon.strip():  # the model's own horizon is what it does anyway
            forecasts = f" (the model in {model_dir} forecasts {trained} steps)" if trained else ""
            raise typer.BadParameter(f"the horizon is fixed when the model is trained{forecasts}; to forecast another, "
                                     f"train again with --horizon {horizon}", param_hint="--horizon")
    _refuse_model_dir_as_data(data)
    reporter = _reporter(quiet, verbose, log_format)
    reading = _reading(sep=sep, decimal=decimal, thousands=thousands, dayfirst=dayfirst, time_unit=time_unit, tz=tz,
                       max_gap=max_gap, on_duplicate=on_duplicate)

    times_of_day = _times_of_day(model_dir)  # read once for the CSV and the alert line

    def action():
        plot_path = _checked_outputs(output, plot, data=data, model_dir=model_dir)
        frame, history = forecast_with_history(model_dir, data, coverage, reporter,
                                                 history_steps=_context_points() if plot else 0,
                                                 recalibrate=recalibrate, reading=reading)
        write_csv(frame, output, times_of_day=times_of_day)
        if plot_path:
            from .plots import plot_forecast

            plot_forecast(history, frame, plot_path, coverage=coverage)
        return frame

    def report(frame):
        if output not in (None, "-"):
            reporter.info(f"Wrote {len(frame)} forecast rows for {frame['series'].nunique()} series to {output}")
        if plot:
            reporter.info(f"Plot written to {plot}")

    frame = _run(action, debug, reporter, "predict",
                 lambda frame: {"rows": len(frame), "series": int(frame["series"].nunique()), "output": output or "-"},
                 report)
    if fail_on_missing and (missing := _unforecast_text(frame, model_dir, times_of_day)):
        _report_exit(reporter, f"Missing (--fail-on-missing): {missing}.", EXIT_ANOMALIES, "missing")
        raise typer.Exit(EXIT_ANOMALIES)


def _unforecast_text(frame, model_dir: Path, times_of_day: bool) -> str:
    """The trained series ``predict`` did not forecast, and those forecast from an end before
    the others' (a host gone silent), for the alert of --fail-on-missing: "web-09 is not
    forecast (not in the data, too short or at another step); web-05 ends before the others
    (forecast from 2024-05-14 22:00)". Empty when there are none."""
    forecast = set(frame["series"])
    parts = [f"{name} is not forecast (not in the data, too short or at another step)"
             for name in (s.get("name") for s in _peeked_metadata(model_dir).get("series", [])) if name not in forecast]
    starts = frame[frame["step"] == 1].set_index("series")["timestamp"]
    early = starts[starts < starts.max()] if len(starts) else starts
    times = short_times([t.isoformat() for t in early], times_of_day)
    parts += [f"{name} ends before the others (forecast from {when})" for name, when in zip(early.index, times)]
    more = len(parts) - ALERT_SERIES
    return "; ".join(parts[:ALERT_SERIES]) + (f"; and {more:,} more series" if more > 0 else "")


def _context_points() -> int:
    from .plots import CONTEXT_POINTS

    return CONTEXT_POINTS


def _checked_outputs(output: Optional[str], plot: Optional[Path], state: Optional[Path] = None, *,
                     data: Optional[Path] = None, model_dir: Optional[Path] = None) -> Optional[Path]:
    """Check the -o, --plot and --state paths before any work is done, so a typo fails in a
    second (and a compression that cannot be written, not after a long run); returns the plot's.
    None of them may be DATA or a file of the model, which they would replace (``-o
    export.csv`` on the export it reads: the next run then read forecasts)."""
    from .artifacts import OWN_FILES
    from .outputs import check_writable, output_compression

    for path, option in ((output, "-o"), (plot, "--plot"), (state, "--state")):
        if path in (None, "-", "") or str(path) == "-":
            continue
        written = os.path.realpath(path)
        if data is not None and str(data) != "-" and written == os.path.realpath(data):
            raise typer.BadParameter(f"'{path}' is DATA, which this would replace; give it another name",
                                     param_hint=option)
        model = None if model_dir is None else os.path.realpath(model_dir)
        if written == model or (os.path.dirname(written) == model and os.path.basename(written) in OWN_FILES):
            what = "the model directory" if written == model else "a file of the model"
            raise typer.BadParameter(f"'{path}' is {what} '{model_dir}', which this would damage; write it elsewhere",
                                     param_hint=option)
    output_compression(output)
    if output not in (None, "-"):
        check_writable(output)
    if state is not None:
        if str(state) in ("", "-"):
            raise typer.BadParameter(f"'{state}' is not a file name; the state is read and written, so name a file "
                                     "(anomalies.state)", param_hint="--state")
        for other, option in ((output, "-o"), (plot, "--plot")):
            if other not in (None, "-") and os.path.realpath(other) == os.path.realpath(state):
                raise typer.BadParameter(f"'{state}' is also the {option} file; give each its own name",
                                         param_hint="--state")
        check_writable(state, "--state")
    if plot is None:
        return None
    from .plots import check_plot_path

    if output not in (None, "-") and os.path.realpath(output) == os.path.realpath(plot):
        raise typer.BadParameter(f"'{plot}' is also the -o file, which the picture would replace; give each its own "
                                 "name", param_hint="--plot")
    return check_plot_path(plot)


@app.command("detect-anomalies", short_help="Score every point, flag unusual ones (CSV).",
             epilog=_examples("detect-anomalies"))
def detect_anomalies(
    data: OptionalData = None,
    model_dir: ModelDir = DEFAULT_MODEL_DIR,
    output: Output = None,
    threshold: Annotated[
        Optional[float], typer.Option(min=0.0, callback=_a_number, help="Flag scores at or above this.",
                                      show_default="the model's, 2.0")
    ] = None,
    last: Annotated[
        Optional[int],
        typer.Option(min=1, metavar="N", help="Write only the last N points of each series (all are still scored "
                     "with their whole history).", show_default="every point"),
    ] = None,
    state: Annotated[
        Optional[Path],
        typer.Option(metavar="FILE", help="Write only the points after those written by the runs before with this "
                     "--state (with --last N, at most the newest N scored), and remember them in FILE: a cron job "
                     "then sees every point once, after missed runs and late rows too.", show_default="none"),
    ] = None,
    fail_on_anomaly: Annotated[
        bool, typer.Option(help="Exit with code 3 when any point written is flagged, so cron can alert.")
    ] = False,
    fail_on_missing: Annotated[
        bool, typer.Option(help="Exit with code 3 when a point written has no value (a host gone silent) or a trained "
                                "series is not in DATA, so cron can alert.")
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            min=0, metavar="SECONDS", callback=_a_number,
            help="With --state: wait this long for another run with the same state file to finish; by default fail "
                 "at once (writing nothing; the next run writes those points).",
        ),
    ] = 0.0,
    plot: Plot = None,
    sep: ReadSep = None,
    decimal: ReadDecimal = None,
    thousands: ReadThousands = None,
    dayfirst: ReadDayFirst = None,
    time_unit: ReadTimeUnit = None,
    tz: ReadTimeZone = None,
    max_gap: ReadMaxGap = None,
    on_duplicate: ReadOnDuplicate = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    log_format: LogFormat = "text",
    debug: Debug = False,
) -> None:
    """Score every point against the model's expectation and flag the unusual ones, as CSV."""
    from .anomaly import detect_anomalies as detect
    from .outputs import write_csv

    _refuse_model_dir_as_data(data)
    reporter = _reporter(quiet, verbose, log_format)
    reading = _reading(sep=sep, decimal=decimal, thousands=thousands, dayfirst=dayfirst, time_unit=time_unit, tz=tz,
                       max_gap=max_gap, on_duplicate=on_duplicate)
    times_of_day = _times_of_day(model_dir)  # read once for the CSV, the table and the alert lines

    def action():
        if wait and state is None:
            raise typer.BadParameter("waits only for another run with the same --state; give --state FILE or leave "
                                     "--wait out", param_hint="--wait")
        plot_path = _checked_outputs(output, plot, state, data=data, model_dir=model_dir)
        if state is None:
            return detected(plot_path, None)
        from .locking import state_lock

        with state_lock(state, wait):  # a run started while another runs would write its points again
            from .alert_state import read_state

            return detected(plot_path, read_state(state, model_dir, reading))

    def detected(plot_path, earlier):
        marks, again = (earlier.marks, earlier.pending) if earlier else (None, None)
        if plot_path and marks:
            # the points written differ from series to series: score them all, draw some before
            shown = detect(model_dir, data, threshold, reporter, reading=reading)
            result = shown.since(marks, last, reporter, again)
            written = result.frame.groupby("series", sort=False).size().to_dict()
        else:
            # a plot of the last few points shows the days before them too
            drawn = last if last is None or plot_path is None else max(last, _context_points())
            shown = detect(model_dir, data, threshold, reporter, last=drawn, reading=reading, after=marks, again=again)
            result = shown if drawn == last else shown.tail(last)
            written = last
        write_csv(result.frame, output, times_of_day=times_of_day)
        if state:
            from .alert_state import write_state

            write_state(state, earlier, result.frame)
        if plot_path:
            from .plots import plot_anomalies

            plot_anomalies(shown.frame, plot_path, threshold=result.threshold, value_labels=result.targets,
                           last=written)
        return result

    def report(result):
        scored = int(result.frame["score"].notna().sum())
        if state:
            which = f"the {scored} scored points written (those after the last run's" + \
                (f", at most {last} a series)" if last else ")")
        else:
            which = f"the {scored} scored points written (the last {last} of each series)" if last else \
                f"{scored} scored points"
        reporter.info(
            f"Flagged {result.n_flagged} of {which} (threshold {result.threshold:.2f})"
            + (f"; wrote {output}" if output not in (None, "-") else "")
        )
        strongest = result.strongest(5)
        if len(strongest):
            reporter.table(
                "Strongest anomalies",
                ["series", "timestamp", "value", "expected", "score", "reason"],
                [[r.series, when, r.value, r.expected, r.score, r.reason] for r, when in
                 zip(strongest.itertuples(), short_times([t.isoformat() for t in strongest["timestamp"]],
                                                         times_of_day))],
            )
        if plot:
            reporter.info(f"Plot written to {plot}")

    result = _run(action, debug, reporter, "detect-anomalies",
                  lambda result: {"scored": int(result.frame["score"].notna().sum()), "flagged": result.n_flagged,
                                  "threshold": result.threshold, "output": output or "-"}, report)
    news = []
    if fail_on_anomaly and result.n_flagged:
        news.append(f"Anomalies: {result.n_flagged} point(s) flagged (--fail-on-anomaly): "
                    f"{_flagged_text(result.frame, times_of_day)}.")
    if fail_on_missing and (missing := _missing_text(result, times_of_day)):
        news.append(f"Missing (--fail-on-missing): {missing}.")
    if news:
        _report_exit(reporter, "\n".join(news), EXIT_ANOMALIES, "anomalies")
        raise typer.Exit(EXIT_ANOMALIES)


#: The most series the alert line of --fail-on-anomaly names.
ALERT_SERIES = 3


def _flagged_text(frame, times_of_day: bool = False) -> str:
    """Which series were flagged, and when last, for the alert a cron job mails: "web2/latency
    at 2024-03-22 11:40, web1/rps at 2024-03-22 12:10 and 2 more series"."""
    flagged = frame[frame["is_anomaly"] == 1]
    latest = flagged.groupby("series", sort=False)["timestamp"].max()
    times = short_times([t.isoformat() for t in latest], times_of_day)
    named = ", ".join(f"{name} at {when}" for name, when in list(zip(latest.index, times))[:ALERT_SERIES])
    more = len(latest) - ALERT_SERIES
    return named + (f" and {more:,} more series" if more > 0 else "")


def _missing_text(result, times_of_day: bool = False) -> str:
    """The series written with points that have no value, and since when, and the trained
    series not scored at all, for the alert of --fail-on-missing: "web-05 has no value from
    2024-05-14 22:05 (24 points); web-09 is not in the data". Empty when there are none."""
    frame = result.frame
    gone = frame[frame["value"].isna()]
    parts = []
    if len(gone):
        first = gone.groupby("series", sort=False)["timestamp"].agg(["min", "size"])
        times = short_times([t.isoformat() for t in first["min"]], times_of_day)
        parts += [f"{name} has no value at {when}" if n == 1 else f"{name} has no value in {n} points from {when}"
                  for name, when, n in zip(first.index, times, first["size"])]
    parts += [f"{name} is not in the data or too short to score" for name in result.unscored]
    more = len(parts) - ALERT_SERIES
    return "; ".join(parts[:ALERT_SERIES]) + (f"; and {more:,} more series" if more > 0 else "")


@app.command(short_help="Backtest the model and the baselines at cut-offs.", epilog=_examples("evaluate"))
def evaluate(
    ctx: typer.Context,
    data: DataArg,
    folds: Annotated[int, typer.Option(min=1, help="Cut-offs, the last one a horizon before each series' end.")] = 3,
    stride: Annotated[
        Optional[int], typer.Option(min=1, help="Steps between cut-offs.", show_default="one horizon")
    ] = None,
    refit: Annotated[str, typer.Option(help="Train at each cut-off, or once before the first and slide.")] = "each",
    recalibrate: Annotated[
        bool,
        typer.Option(help="With --refit once, calibrate the intervals at each cut-off also on the values that came "
                          "after training, as predict does."),
    ] = True,
    season: Annotated[
        Optional[int], typer.Option(min=1, help="Seasonal period for MASE and seasonal naive.", show_default="from the frequency")
    ] = None,
    coverage: Annotated[
        Optional[list[float]],
        typer.Option(callback=_probabilities, help="Nominal probability, from 0.01 to 0.999, of the lower-upper "
                                                   "intervals; repeatable (--coverage 0.8 --coverage 0.95) to measure "
                                                   "several at once.", show_default="0.9"),
    ] = None,
    output: Annotated[
        Optional[str],
        typer.Option("--output", "-o", help="CSV of every forecast (per series, cut-off, step and method), compressed "
                                             "if its name ends in .gz, .bz2, .xz or .zip; '-' for stdout."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON instead of tables.")] = False,
    plot: Plot = None,
    time_col: TimeCol = None,
    id_col: IdCol = None,
    target: Targets = None,
    covariate: Covariates = None,
    max_gap: MaxGap = 3,
    on_duplicate: OnDuplicate = "error",
    sep: Sep = None,
    decimal: Decimal = ".",
    thousands: Thousands = None,
    dayfirst: DayFirst = False,
    time_unit: TimeUnit = None,
    tz: TimeZone = None,
    model: ModelType = "network",
    cell: Cell = "lstm",
    layers: Layers = 1,
    units: Units = 32,
    bidirectional: Bidirectional = False,
    dropout: Dropout = 0.0,
    linear_skip: LinearSkip = True,
    ensemble: Ensemble = None,
    segment: Segment = None,
    ema: Ema = False,
    final_fit: FinalFit = "train",
    target_transform: TargetTransform = "auto",
    calendar: Calendar = None,
    window_level: WindowLevel = "auto",
    series_weights: SeriesWeights = "seasonal-error",
    lookback: Lookback = None,
    horizon: Horizon = None,
    val_fraction: ValFraction = 0.2,
    epochs: Epochs = 100,
    patience: Patience = 10,
    batch_size: BatchSize = 64,
    windows_per_epoch: WindowsPerEpoch = None,
    learning_rate: LearningRate = None,
    seed: Seed = None,
    config: Config = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    log_format: LogFormat = "text",
    debug: Debug = False,
    model_dir: Annotated[
        Optional[str],
        typer.Option("--model-dir", "-m", hidden=True, help="Not an option: refused with what evaluate trains."),
    ] = None,
) -> None:
    """Backtest the model and the baselines at rolling cut-offs: MAE, RMSE, sMAPE, MASE, coverage."""
    if model_dir is not None:
        from .training import MODEL_TYPES

        if model_dir.lower() in MODEL_TYPES:  # -m taken for --model
            raise typer.BadParameter(f"evaluate reads no model directory; did you mean --model {model_dir.lower()}?",
                                     param_hint="-m/--model-dir")
        raise typer.BadParameter(
            "evaluate reads no model directory: it trains its own models at each cut-off, from the training options "
            "given to it (--model, --lookback, --horizon ... as for train, or a --config file, whose [train] table "
            "it reads)", param_hint="-m/--model-dir")
    settings = {k: v for k, v in locals().items() if k not in _EVALUATE_ONLY}
    from .backtest import REFIT, BacktestOptions, evaluate_coverages, merged_coverages
    from .outputs import write_csv
    from .report import Reporter

    coverages = tuple(dict.fromkeys(coverage or [0.9]))  # in the order given, each once
    backtest_args = {"folds": folds, "stride": stride,
                     "refit": _config_named(ctx, lambda: _choice(refit, REFIT, "--refit")),
                     "recalibrate": recalibrate, "season": season, "coverage": coverages[0]}
    if as_json and output == "-":
        raise typer.BadParameter("--json prints to stdout, so the CSV cannot go there too; give -o a file name",
                                 param_hint="--output")
    reporter = _reporter(quiet, verbose, log_format)

    def action():
        plot_path = _checked_outputs(output, plot, data=data)
        data_options, options = _config_named(ctx, lambda: _training_options(**settings))
        result = merged_coverages(evaluate_coverages(data, data_options, options, BacktestOptions(**backtest_args),
                                                     coverages, reporter))
        if output is not None:
            write_csv(result.rows, output)
        if plot_path:
            from .plots import plot_evaluation

            per_step = result.per_step.rename(columns={"model": "method"})
            per_step["method"] = [_method_label(m, result.options) for m in per_step["method"]]
            from .backtest import coverage_suffix, cutoffs_text

            further = {f"coverage{coverage_suffix(level)}": level for level in result.coverages[1:]}
            note = f"{result.n_series:,} series, {cutoffs_text(result.backtest.folds)}"
            plot_evaluation(per_step, plot_path, nominal=result.backtest.coverage, more_coverages=further, note=note)
        return result

    def report(result):
        if as_json:
            import json

            typer.echo(json.dumps(result.to_dict(), indent=2))
            return
        # the tables are the result, on stdout; when the CSV is there, they go to stderr with
        # the rest of the run's messages, as those do (silenced by --quiet, events in a JSON log)
        _report_evaluation(result, reporter if output == "-" else Reporter(file=sys.stdout))
        if plot:
            reporter.info(f"Plot written to {plot}")

    _run(action, debug, reporter, "evaluate",
         lambda result: {"rows": len(result.rows), "series": result.n_series, "folds": result.backtest.folds}, report)


# evaluate's own options; the rest are train's and go to _training_options
_EVALUATE_ONLY = {"ctx", "data", "folds", "stride", "refit", "recalibrate", "season", "coverage", "output", "as_json",
                  "plot", "config", "quiet", "verbose", "log_format", "debug", "model_dir"}


def _report_evaluation(result, reporter) -> None:
    """The tables of evaluate's result."""
    from .backtest import cutoffs_text

    options, backtest, summary = result.options, result.backtest, result.summary
    # a merged result's further coverages are in columns coverage_95, width_95 ...
    suffixes = ["", *(name.removeprefix("coverage") for name in summary.columns if name.startswith("coverage_"))]
    nominal = [f"{100 * backtest.coverage:g}%", *(f"{suffix[1:]}%" for suffix in suffixes[1:])]
    title = (
        f"Backtest: {result.n_series} series, {cutoffs_text(backtest.folds, backtest.stride)}, "
        f"horizon {options.horizon}, {', '.join(nominal[:-1]) + ' and ' if len(nominal) > 1 else ''}{nominal[-1]} "
        "intervals"
    )
    rows = summary.to_dict(orient="records")
    errors = [[_method_label(row["model"], options), row["mae"], row["rmse"], row["smape"], row["mase"]] for row in rows]
    if len(suffixes) == 1:
        reporter.table(title, ["", "MAE", "RMSE", "sMAPE %", "MASE", "coverage", "width"],
                       [[*error, row["coverage"], row["width"]] for error, row in zip(errors, rows)])
    else:  # the intervals in a table of their own, which a terminal's width still holds
        reporter.table(title, ["", "MAE", "RMSE", "sMAPE %", "MASE"], errors)
        reporter.table("Interval coverage and mean width",
                       ["", *(f"{kind} {level}" for level in nominal for kind in ("coverage", "width"))],
                       [[error[0], *(row[f"{kind}{suffix}"] for suffix in suffixes for kind in ("coverage", "width"))]
                        for error, row in zip(errors, rows)])
    methods = list(result.summary["model"])
    labels = [_method_label(m, options) for m in methods]
    mae = result.per_step.pivot(index="step", columns="model", values="mae")[methods]
    reporter.table("MAE per horizon step", ["step", *labels],
                   [[step, *row] for step, row in zip(mae.index, mae.to_numpy())])
    mase = result.per_series.pivot(index="series", columns="model", values="mase")
    _series_table(reporter, "MASE per series", labels,
                  {name: list(mase.loc[name, methods]) for name in dict.fromkeys(result.per_series["series"])})
    compared = result.comparisons()
    if len(compared):
        n = int(compared["forecasts"].iloc[0])
        reporter.table(
            f"{labels[0]} against each baseline over {n:,} forecasts (each series from each cut-off: its MAE over the "
            "horizon)",
            ["baseline", "model better", "model worse", "MAE ratio", "p", "verdict"],
            [[_method_label(row.baseline, options), row.better, row.worse, row.ratio, row.p_value, row.verdict]
             for row in compared.itertuples()],
        )


# info takes no argument; one given (a model directory, typed as for ls) is refused with where it goes
@app.command(short_help="Describe a trained model.", epilog=_examples("info"),
             context_settings={"allow_extra_args": True})
def info(
    ctx: typer.Context,
    model_dir: ModelDir = DEFAULT_MODEL_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON instead of tables.")] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
    log_format: LogFormat = "text",
    debug: Debug = False,
) -> None:
    """Describe a trained model: what it is, what it was trained on and how well it did."""
    from .artifacts import read_metadata

    if ctx.args:
        given = ctx.args[0]
        raise typer.BadParameter(f"that is a model directory: use -m {given}" if _is_model_dir(given) else
                                 "info takes no argument: name the model directory with -m", param_hint=f"'{given}'")

    def report(metadata):
        # the description is the result, on stdout, whatever --quiet; the options are taken, as
        # by every command, so that a wrapper can pass them to all
        if as_json:
            import json

            typer.echo(json.dumps(metadata, indent=2))
            return
        from .report import Reporter

        _describe(metadata, Reporter(file=sys.stdout))

    _run(lambda: read_metadata(model_dir), debug, _reporter(quiet, verbose, log_format), "info", report=report)


def _expectation_sources_text(series: list[dict]) -> str:
    """Where the series' anomaly expectations come from, e.g. "model: 3 series, seasonal-median: 1 series"."""
    counts = Counter(entry.get("anomaly", {}).get("expected_by", "model") for entry in series)
    return ", ".join(f"{source}: {count} series" for source, count in counts.most_common())


_LEVEL_NAMES = {"last": "last value", "mean": "mean"}


def _reading_text(data: dict[str, Any]) -> str:
    """How the model's data file was read (what predict reads a new file with unless told
    otherwise): "sep detected, decimal '.', ..., on-duplicate error"."""
    def shown(name: str, value: Any) -> str:
        if name == "sep":
            return {None: "detected", "\t": "tab"}.get(value, repr(value))
        if name == "time_unit":
            return value or "dates"  # numbers are not read as Unix times unless it is given
        if isinstance(value, bool):
            return "yes" if value else "no"
        return "none" if value is None else (repr(value) if isinstance(value, str) and len(value) == 1 else str(value))

    # data.READING_OPTIONS, written out: importing data would load pandas, which info does without
    names = ("sep", "decimal", "thousands", "dayfirst", "time_unit", "tz", "max_gap", "on_duplicate")
    return ", ".join(f"{name.replace('_', '-')} {shown(name, data.get(name))}" for name in names if name in data)


#: pandas' frequency codes as people say them: singular, and plural for a multiple
_FREQUENCIES = {
    "h": ("hourly", "hours"), "H": ("hourly", "hours"), "D": ("daily", "days"), "B": ("business-daily", "business days"),
    "min": ("every minute", "minutes"), "T": ("every minute", "minutes"), "s": ("every second", "seconds"),
    "S": ("every second", "seconds"), "ms": ("every millisecond", "milliseconds"), "W": ("weekly", "weeks"),
    "M": ("monthly", "months"), "MS": ("monthly", "months"), "ME": ("monthly", "months"),
    "BMS": ("monthly", "months"), "BME": ("monthly", "months"), "SMS": ("twice a month", "half-months"),
    "Q": ("quarterly", "quarters"), "QS": ("quarterly", "quarters"), "QE": ("quarterly", "quarters"),
    "Y": ("yearly", "years"), "YS": ("yearly", "years"), "YE": ("yearly", "years"), "A": ("yearly", "years"),
    "AS": ("yearly", "years"),
}


def frequency_text(code: str) -> str:
    """A frequency as people say it, with pandas' code: "hourly (h)", "every 15 minutes
    (15min)", "weekly, on Sundays (W-SUN)"; the code alone where it is not a common one."""
    import re

    match = re.fullmatch(r"(\d*)([A-Za-z]+)(?:-([A-Z]{3}))?", code or "")
    if not match or match.group(2) not in _FREQUENCIES:
        return str(code)
    multiple, base, anchor = match.groups()
    once, plural = _FREQUENCIES[base]
    text = f"every {int(multiple)} {plural}" if multiple and int(multiple) > 1 else once
    days = {"MON": "Mondays", "TUE": "Tuesdays", "WED": "Wednesdays", "THU": "Thursdays", "FRI": "Fridays",
            "SAT": "Saturdays", "SUN": "Sundays"}
    if base == "W" and anchor in days:
        text += f", on {days[anchor]}"
    return f"{text} ({code})"


def _level_errors_text(training: dict[str, Any]) -> str:
    """What ``--window-level auto`` chose on, e.g. " (linear validation MSE 0.031 from the last
    value, 1.24 from the mean)"; empty where the level was given."""
    errors = training.get("window_level_errors")
    if not errors:
        return ""
    return (f" (linear validation MSE {errors['last']:.3g} from the last value, "
            f"{errors['mean']:.3g} from the mean)")


def _model_name(spec: dict[str, Any]) -> str:
    kind = spec.get("model", "network")
    if kind != "network":
        return {"linear": "linear autoregression (ridge)", "naive": "naive (last value)"}.get(kind, kind)
    return (
        f"{'bidirectional ' if spec['bidirectional'] else ''}{spec['cell'].upper()}, "
        f"{spec['layers']} layer(s) of {spec['units']} units, dropout {spec['dropout']}"
        + (f", segments of {spec['segment']} steps" if spec.get("segment", 1) > 1 else "")
        + (f", ensemble of {spec['ensemble']}" if spec.get("ensemble", 1) > 1 else "")
    )


def _describe(metadata: dict[str, Any], reporter) -> None:
    from .artifacts import model_level
    from .models import NETWORK_ONLY

    network, options, data = metadata["network"], metadata["train_options"], metadata["data_options"]
    training = metadata["training"]
    rows = [
        ["model", _model_name(network)],
        ["lookback / horizon", f"{network['lookback']} / {network['horizon']} steps, windows relative to their "
                               f"{_LEVEL_NAMES.get(model_level(network), model_level(network))}"
                               + _level_errors_text(training)],
        ["trained", f"{metadata['created']} with forecaster {metadata['forecaster_version']}"
         + (f", Keras {metadata['keras_version']}" if "keras_version" in metadata else "")],
        ["libraries", ", ".join(f"{name} {version}" for name, version in metadata.get("versions", {}).items()
                                if name != "forecaster") or "not recorded (schema 1)"],
        ["schema", f"{metadata['schema_version']}, {len(metadata.get('files', {}))} file(s) checksummed"],
        ["data", f"{metadata['data_file']} ({metadata['format']} format)"],
        ["time column", data["time_col"] or "the series' index (read from memory)"],
        ["id column", data.get("id_col") or "none (one series per target column)"],
        ["reading", _reading_text(data)],
        ["targets", ", ".join(data["targets"])],
        ["covariates", ", ".join(data["covariates"]) or "none"],
        ["series", f"{len(metadata['series'])}"],
        ["epochs", f"{epochs_text(training['epochs_run'], training['best_epoch'], training.get('members'))}, "
                   f"{training['seconds']} s"
         if network.get("model", "network") == "network" else f"none: fitted in closed form ({training['seconds']} s)"],
        ["windows", f"{training['train_windows']} training, {training['validation_windows']} validation"],
        ["options", ", ".join(f"{k}={v}" for k, v in options.items()
                              if network.get("model", "network") == "network" or k not in NETWORK_ONLY)],
        ["anomaly threshold", f"{metadata['anomaly_threshold']:.3f}"],
        ["anomaly scoring", _scoring_text(metadata["series"])],
        ["anomaly source", _expectation_sources_text(metadata["series"])],
    ]
    reporter.table("Model", ["", ""], rows)
    # the model's kind as its network has it, should the options lack it (an edited file)
    kind = {"model": network.get("model", "network"), "cell": network.get("cell", "lstm")}
    _validation_table(reporter, metadata["metrics"], SimpleNamespace(**{**kind, **options}))
    series = metadata["series"]
    listed = series[:20]
    shown = short_times([s["start"] for s in listed] + [s["end"] for s in listed])
    reporter.table(
        "Series",
        ["series", "frequency", "from", "to", "rows", "validation MAE"],
        [[s["name"], frequency_text(s["freq"]), start, end, s["n_steps"], s["metrics"]["model"]["mae"]]
         for s, start, end in zip(listed, shown[: len(listed)], shown[len(listed) :])],
    )
    if len(series) > 20:
        reporter.info(f"... and {len(series) - 20} more series")


def _scoring_text(series: list[dict]) -> str:
    """The anomaly scoring version a model was calibrated for, and whether it is the current one."""
    from .artifacts import ANOMALY_SCORING_VERSION as SCORING_VERSION

    version = min(int(s.get("anomaly", {}).get("scoring") or 1) for s in series)
    phased = sum(1 for s in series if s.get("anomaly", {}).get("phase_season"))
    # which series measure each residual against its time of day's (see anomaly.phase_ratio)
    phase = f"; {phased:,} of {counted(len(series), 'series')} scored against their phase's spread" if phased else ""
    if version >= SCORING_VERSION:
        return f"version {version} (the current one){phase}"
    return f"version {version}, scored as calibrated; retrain for the current version {SCORING_VERSION}{phase}"


def _report_exit(reporter, message: str, code: int, event: str = "error") -> None:
    """Why the run ends with ``code``, when that is not an ordinary error: one plain line on
    stderr even when quiet, or an ``event`` in a JSON log."""
    if reporter is not None and reporter.json:
        reporter.event(event, message=message, exit_code=code)
    else:
        sys.stderr.write(f"{message}\n")


def main() -> None:
    from .interrupts import Stopped, install, requested

    install()
    try:
        app()
    except (Stopped, Exception) as exc:
        stopped = exc if isinstance(exc, Stopped) else requested()
        if stopped is None:
            raise
        _report_exit(_active_reporter, str(stopped), stopped.code)
        sys.exit(stopped.code)


if __name__ == "__main__":
    main()
