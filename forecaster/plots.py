"""Pictures for ``--plot FILE.png``: forecasts, anomaly flags and per-step evaluation errors.

Each function takes the same DataFrames the CLI writes as CSV and writes one image file,
atomically, as PNG, SVG or PDF (chosen by the file's suffix). matplotlib is imported only
inside the functions: most runs never plot, and importing it costs time and a font cache.
Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas rather than
through ``pyplot``, so nothing depends on a display, on the user's ``MPLBACKEND`` or on
pyplot's global list of open figures.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .backend import writable_matplotlib_config
from .errors import ConfigError, ForecasterError
from .outputs import atomic_output, check_writable

#: Suffix → matplotlib format name. Agg and its vector siblings write these without extra
#: software; other formats (JPEG, TIFF) depend on Pillow's build, so they are not offered.
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}

DPI = 100
WIDTH = 10.0
#: Height of one series' panel, in inches.
PANEL_HEIGHT = 2.6
#: Room for the figure title and the shared legend above the panels, in inches.
HEADER_HEIGHT = 0.7
#: Height of the empty row between two series' panels in the anomaly plot, relative to a
#: score panel's.
SERIES_GAP = 0.35

#: Points of recent history drawn around what is plotted: before a forecast, and at least
#: this many scored points where ``detect-anomalies --last`` writes fewer (two weeks of
#: hourly data).
CONTEXT_POINTS = 336

HISTORY_COLOUR = "tab:blue"
FORECAST_COLOUR = "tab:orange"
ANOMALY_COLOUR = "tab:red"
EXPECTED_COLOUR = "tab:orange"


# --- writing -------------------------------------------------------------------------------


def check_plot_path(path: str | os.PathLike) -> Path:
    """Check that a plot can be written at ``path``, before any expensive work is done.

    Args:
        path: the image file to write; its suffix picks the format (.png, .svg or .pdf).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ForecasterError: the path is a directory, cannot be written (see
            :func:`forecaster.outputs.check_writable`), or the suffix is not one of the
            supported formats.
    """
    target = Path(path)
    if target.is_dir():
        raise ForecasterError(f"plot '{target}' is a directory; name a file such as {target / 'plot.png'}")
    check_writable(target, "plot")
    if target.suffix.lower() not in FORMATS:
        shown = f"'{target.suffix}'" if target.suffix else "no suffix"
        raise ForecasterError(f"plot '{target}' has {shown}; name a .png, .svg or .pdf file")
    return target


def _save(figure: Any, target: Path) -> Path:
    from matplotlib import rc_context

    fmt = FORMATS[target.suffix.lower()]
    # Without these, SVG and PDF embed the current date, so identical plots differ byte-wise.
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt)
    # A fixed salt stops SVG element ids from being random, for the same reason.
    with atomic_output(target, binary=True) as handle, rc_context({"svg.hashsalt": "forecaster"}):
        # The format must be explicit: the temporary file's name ends in .tmp.
        figure.savefig(handle, format=fmt, dpi=DPI, metadata=metadata)
    return target


def _new_figure(height: float) -> Any:
    writable_matplotlib_config()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Constrained layout rather than tight_layout: it also makes room for the figure-level
    # legend and for sub-figures, which tight_layout ignores and would let overlap.
    figure = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


# --- inputs --------------------------------------------------------------------------------


def _require_columns(frame: Any, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks column(s) {', '.join(missing)}; expected {', '.join(columns)}")


def _check_max_series(max_series: int) -> None:
    if not (isinstance(max_series, (int, np.integer)) and max_series >= 1):
        raise ConfigError(f"the number of series to plot must be 1 or more, got {max_series!r}")


def _with_times(frame: Any) -> tuple[Any, Any]:
    """``frame`` with ``timestamp`` as naive UTC datetime64, and the time zone it was in.

    matplotlib reads naive datetimes as UTC; giving the zone to the tick locator and
    formatter instead of dropping it keeps the ticks in local time without folding the
    repeated hour at the end of daylight saving time onto itself.
    """
    import pandas as pd

    try:
        times = pd.to_datetime(frame["timestamp"])
    except (ValueError, TypeError):
        # Text with mixed UTC offsets (a CSV spanning a DST change) only parses as UTC.
        times = pd.to_datetime(frame["timestamp"], utc=True)
    tz = times.dt.tz
    if tz is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return frame.assign(timestamp=times), tz


def _series_order(frame: Any) -> list[Any]:
    import pandas as pd

    return list(pd.unique(frame["series"]))


def _shown_series(names: list[Any], max_series: int) -> tuple[list[Any], str]:
    """The series to draw and the title note saying how many were left out."""
    if len(names) > max_series:
        return names[:max_series], f" (first {max_series} of {len(names)} series)"
    return names, ""


def _text(value: Any) -> str:
    # A series called "$revenue $" would otherwise be typeset as mathematics.
    return str(value).replace("$", r"\$")


def _value_label(value_labels: Mapping[Any, str] | None, name: Any) -> str:
    return _text((value_labels or {}).get(name, "value"))


def _date_axis(axis: Any, tz: Any) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(tz=tz)
    axis.xaxis.set_major_locator(locator)
    # no offset in the corner: it repeated a tick's date ("Apr-30" under the axis and
    # "2024-Apr-30" beside it) or named only the last month; the axis label gives the span
    axis.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=tz, show_offset=False))


def _time_label(tz: Any, times: Any) -> str:
    """"time, 2024-01-08 to 2024-04-29" (with the zone, where there is one): the year and the
    span, which the ticks alone do not say."""
    import pandas as pd

    times = pd.Series(times).dropna()
    where = "" if tz is None else f" ({tz})"
    if not len(times):
        return f"time{where}"
    first, last = (pd.Timestamp(t).tz_localize("UTC").tz_convert(tz) if tz is not None else pd.Timestamp(t)
                   for t in (times.min(), times.max()))
    span = f"{first:%Y-%m-%d}" if first.date() == last.date() else f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
    return f"time{where}, {span}"


def _header(figure: Any, title: str, axes: list[Any]) -> None:
    """The figure's title with the shared legend in a row under it."""
    # From every panel, first one wins: the first series may lack an element (no history,
    # say) that a later one has.
    entries: dict[str, Any] = {}
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    handles, labels = list(entries.values()), list(entries)
    # The title is the legend's own title: a suptitle and an "outside" figure legend share
    # the top margin side by side, and a long title runs into the legend entries.
    legend = figure.legend(
        handles,
        labels,
        loc="outside upper left",
        ncols=len(labels),
        title=title,
        title_fontsize=12,
        alignment="left",
        fontsize=9,
        frameon=False,
        borderaxespad=0.2,
    )
    legend.get_title().set_fontweight("bold")


# --- the plots -----------------------------------------------------------------------------


def plot_forecast(
    history: Any,
    forecast: Any,
    path: str | os.PathLike,
    max_series: int = 6,
    history_steps: int | None = None,
    value_labels: Mapping[Any, str] | None = None,
    coverage: float | None = None,
) -> Path:
    """Draw each series' recent history, its forecast and the forecast's interval.

    Args:
        history: DataFrame with columns ``series, timestamp, value``: the observed values
            before the forecast (more than will be shown is fine; missing values are NaN),
            and optionally ``target``, the column each series' values are of (as
            :func:`forecaster.forecasting.forecast_with_history` gives it), which then labels
            its value axis.
        forecast: DataFrame with columns ``series, timestamp, step, forecast, lower, upper``,
            as written by ``forecaster predict``.
        path: image file to write; .png, .svg or .pdf.
        max_series: at most this many series are drawn, one panel each, in order of first
            appearance in ``forecast``; the title says when some were left out.
        history_steps: how many of the last history points to show per series; None shows
            three times that series' horizon (or all of the history if it is shorter).
        value_labels: what each series' value axis is labelled, by series name, instead
            of the history's ``target``; "value" for a series in neither.
        coverage: the intervals' nominal probability, named in the legend.

    Returns:
        The path written.

    Raises:
        ForecasterError: the path cannot be written (see :func:`check_plot_path`) or
            ``forecast`` has no rows.
    """
    target = check_plot_path(path)
    _check_max_series(max_series)
    if history_steps is not None and not history_steps >= 0:
        raise ConfigError(f"the number of history steps to plot must be 0 or more, got {history_steps!r}")
    _require_columns(history, ("series", "timestamp", "value"), "history")
    _require_columns(forecast, ("series", "timestamp", "step", "forecast", "lower", "upper"), "forecast")
    if len(forecast) == 0:
        raise ForecasterError("nothing to plot: the forecast has no rows")

    if "target" in history.columns:
        value_labels = {**dict(zip(history["series"], history["target"])), **(value_labels or {})}
    forecast, tz = _with_times(forecast)
    history, history_tz = _with_times(history)
    tz = tz if tz is not None else history_tz
    names, note = _shown_series(_series_order(forecast), max_series)

    figure = _new_figure(HEADER_HEIGHT + PANEL_HEIGHT * len(names))
    axes = figure.subplots(len(names), 1, squeeze=False)[:, 0]
    drawn: list[Any] = []  # the first and last time drawn of each series
    for axis, name in zip(axes, names):
        future = forecast[forecast["series"] == name].sort_values("step", kind="stable")
        past = history[history["series"] == name].sort_values("timestamp", kind="stable")
        steps = 3 * len(future) if history_steps is None else int(history_steps)
        past = past.tail(steps) if steps > 0 else past.iloc[:0]
        drawn.extend([past["timestamp"].min(), future["timestamp"].max()])
        # Markers make a short horizon legible; on long ones they only blur the line.
        marker = "o" if len(future) <= 48 else None

        axis.plot(past["timestamp"], past["value"], color=HISTORY_COLOUR, linewidth=1.2, label="history")
        axis.fill_between(
            future["timestamp"].to_numpy(),
            future["lower"].to_numpy(dtype=float),
            future["upper"].to_numpy(dtype=float),
            color=FORECAST_COLOUR,
            alpha=0.25,
            linewidth=0,
            label="prediction interval" if coverage is None else f"{100 * coverage:g}% prediction interval",
        )
        axis.plot(
            future["timestamp"],
            future["forecast"],
            color=FORECAST_COLOUR,
            linewidth=1.6,
            marker=marker,
            markersize=3,
            label="forecast",
        )
        if len(past):
            axis.axvline(
                past["timestamp"].iloc[-1], color="0.35", linestyle="--", linewidth=0.9, label="forecast origin"
            )
        axis.set_title(_text(name), loc="left", fontsize=10)
        axis.set_ylabel(_value_label(value_labels, name))
        axis.grid(True, alpha=0.3)
        axis.margins(x=0.01)
        _date_axis(axis, tz)
    axes[-1].set_xlabel(_time_label(tz, drawn))

    horizon = int(forecast["step"].max())
    _header(figure, f"Forecast, {horizon} steps ahead{note}", list(axes))
    return _save(figure, target)


#: A point lies off the scale when its distance from the median is more than this many times
#: the next-largest distance (of the few largest): one sensor glitch of 85 among values near 22
#: would otherwise squash the whole series, and the score panel's threshold line, flat.
OFF_SCALE_RATIO = 3.0
#: At most this many points are drawn off the scale; more are not "a few glitches".
MAX_OFF_SCALE = 5
#: A score is drawn off the scale only beyond :data:`OFF_SCALE_RATIO` times this many
#: thresholds at least: flagged scores of 7 or 30 stay on it, one of 1400 does not.
SCORE_SCALE_FLOOR = 10.0


def off_scale_bound(values: np.ndarray, centre: float | None = None, floor: float = 0.0) -> float | None:
    """The distance from ``centre`` (the median of the finite ``values`` by default) beyond
    which a few points (at most :data:`MAX_OFF_SCALE`) lie, each over :data:`OFF_SCALE_RATIO`
    times as far as every nearer point, or as ``floor``; None where no point stands out so.
    (Scores are mostly 0: without a floor, one of 1400 among them stood out from nothing.)"""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size <= MAX_OFF_SCALE + 1:
        return None
    centre = float(np.median(finite)) if centre is None else centre
    distance = np.sort(np.abs(finite - centre))[::-1]
    for k in range(MAX_OFF_SCALE):
        nearer = max(float(distance[k + 1]), floor)
        if nearer > 0 and distance[k] > OFF_SCALE_RATIO * nearer:
            return nearer
    return None


def _draw_off_scale(axis: Any, times: Any, values: Any, flagged: Any, bound: float, centre: float,
                    shown: float | None = None) -> None:
    """Clip ``axis`` to ``centre`` ± ``bound`` (with room; reaching ``shown`` as well, a line
    drawn on it) and draw the points beyond it as arrows at its edge, each labelled with its
    value (red where ``flagged``)."""
    values = np.asarray(values, dtype=np.float64)
    inside = values[np.abs(values - centre) <= bound]
    low, high = (np.nanmin(inside), np.nanmax(inside)) if inside.size else (centre - bound, centre + bound)
    if shown is not None:
        low, high = min(low, shown), max(high, shown)
    room = 0.12 * max(high - low, 1e-12)
    low, high = low - room, high + room
    axis.set_ylim(low, high)
    for when, value, alarm in zip(times, values, flagged):
        if not np.isfinite(value) or abs(value - centre) <= bound:
            continue
        above = value > centre
        edge = high - 0.4 * room if above else low + 0.4 * room
        colour = ANOMALY_COLOUR if alarm else "0.3"
        axis.scatter([when], [edge], marker="^" if above else "v", color=colour, s=30, zorder=4, clip_on=False)
        axis.annotate(f"{value:.4g}", (when, edge), xytext=(5, -3 if above else 3), textcoords="offset points",
                      fontsize=7, color=colour, va="top" if above else "bottom")


def plot_anomalies(
    scores: Any,
    path: str | os.PathLike,
    max_series: int = 6,
    threshold: float | None = None,
    value_labels: Mapping[Any, str] | None = None,
    last: int | Mapping[Any, int] | None = None,
) -> Path:
    """Draw each series' values and expectations with flagged points marked, and its scores.

    Every series gets two panels: the observed value with the model's one-step expectation
    and the flagged points in red, and under it the anomaly score with the threshold.

    Args:
        scores: DataFrame with columns ``series, timestamp, value, expected, residual, score,
            is_anomaly``, as written by ``forecaster detect-anomalies``. ``value`` and
            ``score`` may be NaN where the data had no value; those points are left as gaps.
        path: image file to write; .png, .svg or .pdf.
        max_series: at most this many series are drawn, in order of first appearance: of
            more, those with the most flagged points (among the last ``last``); the title says
            when some were left out (the flag count covers all series).
        threshold: the score at or above which points were flagged, drawn as a line on the
            score panels; None draws no line.
        value_labels: what each series' value axis is labelled (its target column), by
            series name; "value" for a series not in it.
        last: the points a run wrote are each series' last ``last`` (``detect-anomalies
            --last``), or as many as ``last`` gives by series name (``--state``: those
            after the earlier runs'), the earlier ones drawn for context (up to
            :data:`CONTEXT_POINTS` in all): that span is shaded, and the counts in the titles
            are of its points, as the run reported them.

    Returns:
        The path written.

    Raises:
        ForecasterError: the path cannot be written (see :func:`check_plot_path`) or
            ``scores`` has no rows.
    """
    target = check_plot_path(path)
    _check_max_series(max_series)
    _require_columns(scores, ("series", "timestamp", "value", "expected", "score", "is_anomaly"), "anomaly")
    if len(scores) == 0:
        raise ForecasterError("nothing to plot: no points were scored")

    scores, tz = _with_times(scores)
    flagged_all = scores["is_anomaly"].fillna(0).astype(bool)
    scores = scores.assign(is_anomaly=flagged_all)
    if last:
        counts = scores["series"].map(last).fillna(0) if isinstance(last, Mapping) else last
        from_end = scores.groupby("series", sort=False).cumcount(ascending=False)
        written = scores[from_end < counts]
        scores = scores[from_end < np.maximum(counts, CONTEXT_POINTS)]  # the weeks before them, for context
    else:
        written = scores
    all_names = _series_order(scores)
    names = all_names
    if len(all_names) > max_series:
        # the series a reader wants to see: those with flags, the most first
        counts = written.groupby("series", sort=False)["is_anomaly"].sum()
        chosen = set(sorted(all_names, key=lambda name: -counts.get(name, 0))[:max_series])
        names = [name for name in all_names if name in chosen]

    # Every panel in one column of one grid, so that constrained layout lines their time axes
    # up whatever the width of each series' tick labels (sub-figures, one a series, each
    # placed its own); an empty row between series keeps each one's two panels together.
    figure = _new_figure(HEADER_HEIGHT + (PANEL_HEIGHT + 0.6) * len(names))
    grid = figure.add_gridspec(3 * len(names) - 1, 1, height_ratios=([3, 1, SERIES_GAP] * len(names))[:-1])
    axes: list[Any] = []
    for row, name in enumerate(names):
        points = scores[scores["series"] == name].sort_values("timestamp", kind="stable")
        flagged = points[points["is_anomaly"] & points["value"].notna()]
        counted = written[written["series"] == name]
        if last:
            # points before the last ``last`` were scored only to draw them: their flags are
            # not the run's, so they are drawn hollow and not counted
            earlier = flagged[flagged["timestamp"] < counted["timestamp"].min()] if len(counted) else flagged
            flagged = flagged.drop(earlier.index)
        else:
            earlier = flagged.iloc[:0]
        value_axis = figure.add_subplot(grid[3 * row])
        score_axis = figure.add_subplot(grid[3 * row + 1], sharex=value_axis)
        value_axis.tick_params(labelbottom=False)
        axes += [value_axis, score_axis]
        # Thousands of points at full width merge into a solid band; thinner lines stay legible.
        width = 0.7 if len(points) > 2000 else 1.1

        times = points["timestamp"]
        # the expectation as a wider, pale line under the values: where they part, the
        # values stand out from it; drawn over them, it hid under them on long series
        value_axis.plot(times, points["expected"], color=EXPECTED_COLOUR, linewidth=2.5 * width, alpha=0.45,
                        label="expected", zorder=1)
        value_axis.plot(times, points["value"], color=HISTORY_COLOUR, linewidth=width, label="value", zorder=2)
        value_axis.scatter(
            flagged["timestamp"], flagged["value"], color=ANOMALY_COLOUR, s=22, zorder=3, label="flagged"
        )
        if len(earlier):
            value_axis.scatter(earlier["timestamp"], earlier["value"], facecolors="none", edgecolors=ANOMALY_COLOUR,
                               s=22, linewidths=0.8, zorder=3, label="flagged before the points written")
        value_bound = off_scale_bound(points["value"].to_numpy(dtype=float))
        if value_bound is not None:
            _draw_off_scale(value_axis, times, points["value"], points["is_anomaly"], value_bound,
                            float(np.nanmedian(points["value"].to_numpy(dtype=float))))
        value_axis.set_ylabel(_value_label(value_labels, name))
        value_axis.grid(True, alpha=0.3)
        value_axis.margins(x=0.01)
        n_counted = int((counted["is_anomaly"] & counted["value"].notna()).sum())
        if not last:
            span = f"{int(counted['score'].notna().sum())} scored"
        elif isinstance(last, Mapping):
            span = f"the {len(counted)} points written (shaded)"
        else:
            span = f"the last {len(counted)} points (shaded)"
        value_axis.set_title(f"{_text(name)}: {n_counted} flagged of {span}", loc="left", fontsize=10)
        if last and len(counted):
            for axis in (value_axis, score_axis):
                axis.axvspan(counted["timestamp"].iloc[0], counted["timestamp"].iloc[-1], color="0.85", alpha=0.5,
                             linewidth=0, zorder=0)

        score_axis.plot(times, points["score"], color="0.3", linewidth=0.8 * width, label="score")
        score_axis.scatter(flagged["timestamp"], flagged["score"], color=ANOMALY_COLOUR, s=12, zorder=3)
        if len(earlier):
            score_axis.scatter(earlier["timestamp"], earlier["score"], facecolors="none", edgecolors=ANOMALY_COLOUR,
                               s=12, linewidths=0.8, zorder=3)
        if threshold is not None:
            score_axis.axhline(
                threshold, color=ANOMALY_COLOUR, linestyle="--", linewidth=0.9, label=f"threshold {threshold:.3g}"
            )
        score_axis.set_ylabel("score")
        # room above the highest score's marker and the threshold line, which sat on the border
        score_values = points["score"].to_numpy(dtype=float)
        score_bound = off_scale_bound(score_values, centre=0.0, floor=SCORE_SCALE_FLOOR * (threshold or 0.0))
        if score_bound is not None:
            _draw_off_scale(score_axis, times, score_values, points["is_anomaly"], score_bound, 0.0, threshold)
            score_axis.set_ylim(0, score_axis.get_ylim()[1])
        else:
            top = np.nanmax([*score_values, threshold or 0.0, 1.0])
            score_axis.set_ylim(0, 1.15 * top)
        score_axis.grid(True, alpha=0.3)
        _date_axis(score_axis, tz)

    axes[-1].set_xlabel(_time_label(tz, scores[scores["series"].isin(names)]["timestamp"]))
    n_flagged = int(written["is_anomaly"].sum())
    plural = "s" if n_flagged != 1 else ""
    # The count covers every series, so say so when only some are drawn.
    shown = f" ({len(names)} with the most flags shown)" if len(names) < len(all_names) else ""
    within = "" if not last else " among the points written" if isinstance(last, Mapping) else \
        f" among the last {last} of each"
    title = f"Anomalies: {n_flagged} point{plural} flagged{within} in {len(all_names)} series{shown}"
    _header(figure, title, axes)
    return _save(figure, target)


def plot_evaluation(per_step: Any, path: str | os.PathLike, nominal: float | None = None,
                    more_coverages: Mapping[str, float] | None = None, note: str = "") -> Path:
    """Draw each method's error against the forecast horizon step.

    Args:
        per_step: DataFrame with columns ``method, step, mae`` and optionally ``coverage``
            (the share of actual values inside the prediction interval, 0 to 1), one row per
            method and step; e.g. methods ``model``, ``naive``, ``seasonal naive``, ``linear``.
            When ``coverage`` has values, a second panel shows it for the methods that have it.
            A method whose errors are another's (the linear model and the linear baseline)
            is drawn once, named after both.
        path: image file to write; .png, .svg or .pdf.
        nominal: the intervals' nominal coverage, drawn as a dashed line on the coverage panel.
        more_coverages: further coverage columns of ``per_step`` and their nominal coverage
            (``{"coverage_95": 0.95}``), drawn beside the first in lighter lines.
        note: what was measured, after the title ("1 series, 10 cut-offs").

    Returns:
        The path written.

    Raises:
        ForecasterError: the path cannot be written (see :func:`check_plot_path`) or
            ``per_step`` has no rows.
    """
    writable_matplotlib_config()
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    target = check_plot_path(path)
    _require_columns(per_step, ("method", "step", "mae"), "per-step evaluation")
    if len(per_step) == 0:
        raise ForecasterError("nothing to plot: the evaluation has no rows")

    levels = {"coverage": nominal, **(more_coverages or {})}
    with_coverage = "coverage" in per_step.columns and per_step["coverage"].notna().any()
    figure = _new_figure(HEADER_HEIGHT + 3.8 + (2.2 if with_coverage else 0.0))
    if with_coverage:
        mae_axis, coverage_axis = figure.subplots(2, 1, sharex=True, height_ratios=[3.8, 2.2])
    else:
        mae_axis, coverage_axis = figure.subplots(1, 1), None

    markers = "os^Dv<>PX*"
    drawn: dict[str, Any] = {}  # label -> the rows drawn under it
    for method in dict.fromkeys(per_step["method"]):
        rows = per_step[per_step["method"] == method].sort_values("step", kind="stable").reset_index(drop=True)
        same = next((label for label, other in drawn.items() if other[["step", "mae"]].equals(rows[["step", "mae"]])),
                    None)
        if same is None:
            drawn[_text(method)] = rows
        else:  # one line would hide the other exactly
            drawn = {(f"{label} = {_text(method)}" if label == same else label): other
                     for label, other in drawn.items()}
    for i, (label, rows) in enumerate(drawn.items()):
        style = {"marker": markers[i % len(markers)], "markersize": 4, "linewidth": 1.5, "color": f"C{i % 10}"}
        mae_axis.plot(rows["step"], rows["mae"], label=label, **style)
        if coverage_axis is None:
            continue
        for k, column in enumerate(c for c in levels if c in rows.columns and rows[c].notna().any()):
            # the methods' colours as above; a further coverage's lines paler and dashed
            coverage_axis.plot(rows["step"], rows[column], **style, alpha=1.0 if k == 0 else 0.5,
                               linestyle="-" if k == 0 else "--")

    mae_axis.set_ylabel("MAE")
    mae_axis.set_ylim(bottom=0)
    mae_axis.grid(True, alpha=0.3)
    mae_axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    steps = per_step["step"].to_numpy(dtype=float)
    mae_axis.set_xlim(steps.min() - 0.5, steps.max() + 0.5)  # no step 0
    bottom_axis = mae_axis
    if coverage_axis is not None:
        drawn_levels = [(column, level) for column, level in levels.items()
                        if level is not None and column in per_step.columns]
        for k, (column, level) in enumerate(drawn_levels):
            # which coverage lines go with which nominal level, when there are several
            lines = "" if len(drawn_levels) == 1 else (" (solid lines)" if k == 0 else " (pale dashed lines)")
            coverage_axis.axhline(level, color="0.3" if k == 0 else "0.6", linestyle="--" if k == 0 else ":",
                                  linewidth=1, label=f"nominal {100 * level:g}%{lines}")
        if coverage_axis.get_legend_handles_labels()[0]:
            coverage_axis.legend(fontsize=8, loc="lower right")
        coverage_axis.set_ylabel("interval coverage")
        coverage_axis.set_ylim(0, 1.05)
        coverage_axis.yaxis.set_major_formatter(PercentFormatter(xmax=1))
        coverage_axis.grid(True, alpha=0.3)
        bottom_axis = coverage_axis
    bottom_axis.set_xlabel("horizon step")
    title = "Error by horizon step" + (f": {note}" if note else "")
    # the methods in a row above the panels: inside, "best" still hid a line of a long horizon
    _header(figure, title, [mae_axis])
    return _save(figure, target)
