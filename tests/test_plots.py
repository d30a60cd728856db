"""The --plot pictures: real files from small synthetic frames, checked as images (no TensorFlow)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from forecaster import plots
from forecaster.errors import ForecasterError
from forecaster.plots import plot_anomalies, plot_evaluation, plot_forecast

HORIZON = 12


def forecast_frames(n_series: int = 2, tz: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    index = pd.date_range("2024-03-01", periods=96, freq="h", tz=tz)
    future = pd.date_range(index[-1] + pd.Timedelta(hours=1), periods=HORIZON, freq="h", tz=tz)
    history, forecast = [], []
    for k in range(n_series):
        name = f"series_{k}"
        values = 50 + 10 * k + 8 * np.sin(np.arange(96) * 2 * np.pi / 24) + rng.normal(0, 1, 96)
        history.append(pd.DataFrame({"series": name, "timestamp": index, "value": values}))
        centre = 50 + 10 * k + 8 * np.sin(np.arange(96, 96 + HORIZON) * 2 * np.pi / 24)
        spread = np.linspace(2, 5, HORIZON)
        forecast.append(
            pd.DataFrame(
                {
                    "series": name,
                    "timestamp": future,
                    "step": np.arange(1, HORIZON + 1),
                    "forecast": centre,
                    "lower": centre - spread,
                    "upper": centre + spread,
                }
            )
        )
    return pd.concat(history, ignore_index=True), pd.concat(forecast, ignore_index=True)


def anomaly_frame(n_series: int = 2, with_nan: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    index = pd.date_range("2024-01-01", periods=200, freq="h")
    frames = []
    for k in range(n_series):
        value = 100 + 20 * np.sin(np.arange(200) * 2 * np.pi / 24) + rng.normal(0, 2, 200)
        expected = value + rng.normal(0, 2, 200)
        value[[40, 150]] += [40, -35]
        score = np.abs(value - expected) / 2
        if with_nan:
            value[60:65] = np.nan
            score[60:65] = np.nan
        frames.append(
            pd.DataFrame(
                {
                    "series": f"sensor {k}",
                    "timestamp": index,
                    "value": value,
                    "expected": expected,
                    "residual": value - expected,
                    "score": score,
                    "is_anomaly": (np.nan_to_num(score) >= 8).astype(np.int8),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def evaluation_frame(coverage: bool = True) -> pd.DataFrame:
    steps = np.arange(1, HORIZON + 1)
    frame = pd.concat(
        [
            pd.DataFrame({"method": "model", "step": steps, "mae": 2 + 0.3 * steps}),
            pd.DataFrame({"method": "naive", "step": steps, "mae": 2 + 1.0 * steps}),
            pd.DataFrame({"method": "seasonal naive", "step": steps, "mae": np.full(HORIZON, 6.0)}),
            pd.DataFrame({"method": "linear", "step": steps, "mae": 3 + 0.6 * steps}),
        ],
        ignore_index=True,
    )
    if coverage:
        frame["coverage"] = np.where(frame["method"] == "model", 0.9, np.nan)
    return frame


def read_png(path) -> np.ndarray:
    """The image as `(height, width, 3)` uint8 RGB."""
    from matplotlib.image import imread

    image = imread(path)  # PNG: float32 in [0, 1], RGBA
    return np.round(image[..., :3] * 255).astype(np.uint8)


def assert_real_picture(path, min_width: int = 600, min_height: int = 200) -> np.ndarray:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = read_png(path)
    height, width, _ = image.shape
    assert width >= min_width and height >= min_height, image.shape
    assert image.std() > 5, "the picture is (nearly) blank"
    packed = (image[..., 0].astype(np.int32) << 16) | (image[..., 1].astype(np.int32) << 8) | image[..., 2]
    assert np.unique(packed).size > 10, "the picture has almost no distinct colours"
    return image


def has_colour(image: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 12) -> bool:
    return bool((np.abs(image.astype(np.int16) - np.array(rgb)).max(axis=-1) <= tolerance).any())


TAB_BLUE, TAB_ORANGE, TAB_RED = (31, 119, 180), (255, 127, 14), (214, 39, 40)


@pytest.fixture
def figures(monkeypatch):
    """Every figure the plot functions save, to inspect its panels and title."""
    saved = []
    original = plots._save

    def keep(figure, target):
        saved.append(figure)
        return original(figure, target)

    monkeypatch.setattr(plots, "_save", keep)
    return saved


def figure_texts(figure) -> str:
    return "\n".join(text.get_text() for text in figure.findobj(lambda a: hasattr(a, "get_text")))


# --- the pictures --------------------------------------------------------------------------


def test_forecast_picture(tmp_path, figures):
    history, forecast = forecast_frames()
    target = tmp_path / "x.png"
    assert plot_forecast(history, forecast, target) == target
    image = assert_real_picture(target)
    assert has_colour(image, TAB_BLUE) and has_colour(image, TAB_ORANGE)
    # Two panels of 2.6 in plus the header, at 100 dpi.
    assert image.shape[:2] == (round(100 * (0.7 + 2 * 2.6)), 1000)
    assert os.listdir(tmp_path) == ["x.png"]
    axes = figures[0].axes
    assert len(axes) == 2
    # Default history: three horizons, so the x range starts 3 * 12 hours before the origin.
    history_line = axes[0].get_lines()[0]
    assert len(history_line.get_xdata()) == 3 * HORIZON


def test_forecast_history_steps_and_time_zone(tmp_path, figures):
    history, forecast = forecast_frames(n_series=1, tz="Europe/Paris")
    assert_real_picture(plot_forecast(history, forecast, tmp_path / "x.png", history_steps=5))
    assert len(figures[0].axes[0].get_lines()[0].get_xdata()) == 5
    assert "Europe/Paris" in figure_texts(figures[0])
    # More history asked for than there is: all of it.
    plot_forecast(history, forecast, tmp_path / "y.png", history_steps=10_000)
    assert len(figures[1].axes[0].get_lines()[0].get_xdata()) == 96


def test_many_series_are_capped(tmp_path, figures):
    history, forecast = forecast_frames(n_series=9)
    image = assert_real_picture(plot_forecast(history, forecast, tmp_path / "x.png"))
    assert image.shape[0] == round(100 * (0.7 + 6 * 2.6))
    assert len(figures[0].axes) == 6
    texts = figure_texts(figures[0])
    assert "first 6 of 9 series" in texts
    # In order of first appearance, not sorted: series_0 … series_5.
    assert [axis.get_title(loc="left") for axis in figures[0].axes] == [f"series_{k}" for k in range(6)]

    # of many series' anomalies, those with the most flags, in the file's order
    scores = anomaly_frame(n_series=5)
    for name, extra in (("sensor 4", [10, 20, 30]), ("sensor 2", [10, 20])):
        scores.loc[scores.index[scores["series"] == name][extra], "is_anomaly"] = 1
    plot_anomalies(scores, tmp_path / "y.png", max_series=2)
    assert len(figures[1].axes) == 2 * 2  # a value and a score panel per series
    assert "2 with the most flags shown" in figure_texts(figures[1])
    assert [axis.get_title(loc="left").split(":")[0] for axis in figures[1].axes[::2]] == ["sensor 2", "sensor 4"]


def test_anomaly_picture_with_missing_values(tmp_path, figures):
    scores = anomaly_frame()
    assert scores["value"].isna().any() and scores["score"].isna().any()
    image = assert_real_picture(plot_anomalies(scores, tmp_path / "x.png", threshold=8.0))
    assert has_colour(image, TAB_RED)
    flagged = int(scores["is_anomaly"].sum())
    texts = figure_texts(figures[0])
    assert f"{flagged} points flagged in 2 series" in texts
    assert "threshold 8" in texts
    assert os.listdir(tmp_path) == ["x.png"]


def test_value_axes_are_labelled_with_each_series_target(tmp_path, figures):
    history, forecast = forecast_frames()
    plot_forecast(history, forecast, tmp_path / "x.png", value_labels={"series_0": "load (MW)", "series_1": "$ cost"})
    assert [axis.get_ylabel() for axis in figures[0].axes] == ["load (MW)", r"\$ cost"]
    plot_anomalies(anomaly_frame(), tmp_path / "y.png", value_labels={"sensor 1": "temperature"})
    value_axes = figures[1].axes[::2]  # each series' value panel, then its score panel
    assert [axis.get_ylabel() for axis in value_axes] == ["value", "temperature"]
    assert {axis.get_ylabel() for axis in figures[1].axes[1::2]} == {"score"}
    # the history's target column labels the axes by itself, and value_labels overrides it
    plot_forecast(history.assign(target="sales"), forecast, tmp_path / "z.png", value_labels={"series_1": "units"})
    assert [axis.get_ylabel() for axis in figures[2].axes] == ["sales", "units"]


def test_axes_say_the_span_and_the_interval_its_coverage(tmp_path, figures):
    history, forecast = forecast_frames(n_series=1)
    plot_forecast(history, forecast, tmp_path / "x.png", coverage=0.9)
    texts = figure_texts(figures[0])
    assert "90% prediction interval" in texts
    (axis,) = figures[0].axes
    first = pd.Timestamp(history["timestamp"].iloc[-3 * HORIZON]).date()
    assert axis.get_xlabel() == f"time, {first} to {pd.Timestamp(forecast['timestamp'].iloc[-1]).date()}"
    assert axis.xaxis.get_major_formatter().get_offset() == ""  # the date is not repeated in the corner


def test_anomaly_picture_of_the_last_points_draws_earlier_flags_apart(tmp_path, figures):
    scores = anomaly_frame(n_series=1, with_nan=False)
    assert scores["is_anomaly"].iloc[:150].any()  # flags in the context before the last 60
    plot_anomalies(scores, tmp_path / "x.png", threshold=8.0, last=60)
    value_axis, score_axis = figures[0].axes
    labels = value_axis.get_legend_handles_labels()[1]
    assert "flagged before the points written" in labels
    written = int(scores["is_anomaly"].iloc[-60:].sum())
    assert f"{written} flagged of the last 60 points" in value_axis.get_title(loc="left")
    filled = [c for c in value_axis.collections if c.get_label() == "flagged"][0]
    assert len(filled.get_offsets()) == written  # only the run's own flags are drawn filled
    # room above the highest score and the threshold
    assert score_axis.get_ylim()[1] > max(scores["score"].max(), 8.0)
    # the expectation is drawn under the values, so the values show where they part from it
    expected, value = (next(line for line in value_axis.get_lines() if line.get_label() == name)
                       for name in ("expected", "value"))
    assert expected.get_zorder() < value.get_zorder() and expected.get_linewidth() > value.get_linewidth()


def test_anomaly_picture_all_missing_nothing_flagged(tmp_path):
    scores = anomaly_frame(n_series=1).assign(value=np.nan, score=np.nan, is_anomaly=0)
    assert_real_picture(plot_anomalies(scores, tmp_path / "x.png"))


def test_evaluation_picture(tmp_path, figures):
    image = assert_real_picture(plot_evaluation(evaluation_frame(), tmp_path / "x.png"))
    assert has_colour(image, TAB_BLUE) and has_colour(image, TAB_ORANGE)
    mae_axis, coverage_axis = figures[0].axes
    assert mae_axis.get_ylabel() == "MAE" and coverage_axis.get_xlabel() == "horizon step"
    (legend,) = figures[0].legends  # above the panels, where it hides no line
    assert [t.get_text() for t in legend.get_texts()] == ["model", "naive", "seasonal naive", "linear"]
    assert len(coverage_axis.get_lines()) == 1

    assert_real_picture(plot_evaluation(evaluation_frame(coverage=False), tmp_path / "y.png"))
    (only_axis,) = figures[1].axes
    assert only_axis.get_xlabel() == "horizon step"
    assert only_axis.get_xlim()[0] > 0  # no step 0


def test_evaluation_picture_names_identical_lines_together_and_draws_every_coverage(tmp_path, figures):
    frame = evaluation_frame()
    linear = frame["method"] == "linear"
    frame.loc[linear, "mae"] = frame.loc[frame["method"] == "model", "mae"].to_numpy()  # a linear model
    frame["coverage_95"] = np.where(frame["method"] == "model", 0.96, np.nan)
    plot_evaluation(frame, tmp_path / "x.png", nominal=0.8, more_coverages={"coverage_95": 0.95},
                    note="1 series, 10 cut-offs")
    mae_axis, coverage_axis = figures[0].axes
    (legend,) = figures[0].legends
    assert [t.get_text() for t in legend.get_texts()] == ["model = linear", "naive", "seasonal naive"]
    assert len(mae_axis.get_lines()) == 3
    assert [t.get_text() for t in coverage_axis.get_legend().get_texts()] == [
        "nominal 80% (solid lines)", "nominal 95% (pale dashed lines)"]
    covered = [line.get_ydata() for line in coverage_axis.get_lines() if line.get_label().startswith("_")]
    assert sorted(np.unique(np.concatenate(covered)).tolist()) == [0.9, 0.96]  # the model at both levels
    assert "Error by horizon step: 1 series, 10 cut-offs" in figure_texts(figures[0])


def test_vector_formats_and_awkward_names(tmp_path):
    history, forecast = forecast_frames(n_series=1)
    # An odd "$" would otherwise be read as the start of mathematics.
    history["series"] = forecast["series"] = "cost $ in $x^{"
    assert plot_forecast(history, forecast, tmp_path / "x.svg").read_text().lstrip().startswith("<?xml")
    assert plot_forecast(history, forecast, tmp_path / "x.PDF").read_bytes().startswith(b"%PDF")
    # No embedded date: the same plot gives the same file.
    first = (tmp_path / "x.svg").read_bytes()
    plot_forecast(history, forecast, tmp_path / "x.svg")
    assert (tmp_path / "x.svg").read_bytes() == first


# --- writing -------------------------------------------------------------------------------


def test_missing_directory_is_an_error_and_writes_nothing(tmp_path):
    history, forecast = forecast_frames(n_series=1)
    with pytest.raises(ForecasterError, match="does not exist") as caught:
        plot_forecast(history, forecast, tmp_path / "nowhere" / "x.png")
    assert "\n" not in str(caught.value)
    with pytest.raises(ForecasterError, match="does not exist"):
        plot_anomalies(anomaly_frame(), tmp_path / "nowhere" / "x.png")
    with pytest.raises(ForecasterError, match="does not exist"):
        plot_evaluation(evaluation_frame(), tmp_path / "nowhere" / "x.png")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["x.jpg", "x", "x.csv"])
def test_unsupported_suffix_is_an_error(tmp_path, name):
    with pytest.raises(ForecasterError, match=r"\.png, \.svg or \.pdf"):
        plot_evaluation(evaluation_frame(), tmp_path / name)
    assert os.listdir(tmp_path) == []


def test_directory_as_path_is_an_error(tmp_path):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(ForecasterError, match="is a directory"):
        plot_evaluation(evaluation_frame(), tmp_path / "out.png")


def test_empty_frames_are_an_error(tmp_path):
    history, forecast = forecast_frames(n_series=1)
    with pytest.raises(ForecasterError, match="nothing to plot"):
        plot_forecast(history, forecast.iloc[:0], tmp_path / "x.png")
    with pytest.raises(ForecasterError, match="nothing to plot"):
        plot_anomalies(anomaly_frame().iloc[:0], tmp_path / "x.png")
    assert os.listdir(tmp_path) == []


def test_failed_save_keeps_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    target = tmp_path / "x.png"
    target.write_bytes(b"old picture")

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        plot_evaluation(evaluation_frame(), target)
    assert target.read_bytes() == b"old picture"
    assert os.listdir(tmp_path) == ["x.png"]


def test_written_file_follows_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        path = plot_evaluation(evaluation_frame(coverage=False), tmp_path / "x.png")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644


def test_importing_the_module_does_not_import_matplotlib():
    code = "import sys, forecaster.plots; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"


def test_pyplot_is_never_used(tmp_path):
    """Plotting must not depend on, or add to, pyplot's global figures and backend."""
    code = (
        "import sys, pandas as pd; from forecaster.plots import plot_evaluation; "
        "plot_evaluation(pd.DataFrame({'method': ['a'] * 3, 'step': [1, 2, 3], 'mae': [1.0, 2.0, 3.0]}), sys.argv[1]); "
        "print('matplotlib.pyplot' in sys.modules)"
    )
    env = {**os.environ, "MPLBACKEND": "TkAgg"}  # a GUI backend that cannot start here
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "x.png")], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert_real_picture(tmp_path / "x.png", min_height=100)


def test_series_without_history_still_plots(tmp_path, figures):
    history, forecast = forecast_frames(n_series=2)
    history = history[history["series"] != "series_0"]
    assert_real_picture(plot_forecast(history, forecast, tmp_path / "x.png"))
    # The legend is shared, so it still names the history drawn for the second series.
    (legend,) = figures[0].legends
    assert "history" in [t.get_text() for t in legend.get_texts()]


def test_a_glitch_is_drawn_off_the_scale_instead_of_squashing_the_series(tmp_path, figures):
    """A sensor's 85 among values near 100 +- 20 flattened the series and the score panel."""
    frame = anomaly_frame(n_series=1, with_nan=False)
    frame.loc[120, ["value", "score", "is_anomaly"]] = [5000.0, 900.0, 1]
    assert_real_picture(plot_anomalies(frame, tmp_path / "glitch.png", threshold=8.0))
    value_axis, score_axis = figures[-1].axes[:2]
    assert value_axis.get_ylim()[1] < 300 and score_axis.get_ylim()[1] < 100  # the rest stays legible
    texts = figure_texts(figures[-1])
    assert "5000" in texts and "900" in texts  # the values off the scale are written at its edge
    # an ordinary series is drawn whole, with no value written beside it
    plot_anomalies(anomaly_frame(n_series=1, with_nan=False), tmp_path / "plain.png", threshold=8.0)
    value_axis, score_axis = figures[-1].axes[:2]
    frame = anomaly_frame(n_series=1, with_nan=False)
    assert value_axis.get_ylim()[1] >= frame["value"].max() and score_axis.get_ylim()[1] >= frame["score"].max()


def test_off_scale_bound_finds_a_few_points_far_beyond_the_rest():
    rng = np.random.default_rng(0)
    values = 22 + rng.normal(0, 1, 500)
    assert plots.off_scale_bound(values) is None
    values[[10, 300]] = [85.0, -40.0]
    bound = plots.off_scale_bound(values)
    assert bound is not None and 2 < bound < 10
    assert plots.off_scale_bound(np.r_[values, np.full(10, 85.0)]) is None  # many: a level, not glitches


def test_the_anomaly_panels_of_series_on_different_scales_share_their_left_edge(tmp_path, figures):
    """Each series had a sub-figure of its own, laid out alone: the panels of a series near 100
    and of one near 14000 (wider tick labels) started at different places, so the same time
    sat at different places down the page."""
    frame = anomaly_frame(n_series=2, with_nan=False)
    big = frame["series"] == "sensor 1"
    frame.loc[big, ["value", "expected"]] = frame.loc[big, ["value", "expected"]] * 140
    assert_real_picture(plot_anomalies(frame, tmp_path / "two.png", threshold=8.0))
    lefts = {round(axis.get_position().x0, 4) for axis in figures[-1].axes}
    rights = {round(axis.get_position().x1, 4) for axis in figures[-1].axes}
    assert len(figures[-1].axes) == 4 and len(lefts) == 1 and len(rights) == 1


def test_a_huge_score_among_scores_of_zero_leaves_the_threshold_line_legible(tmp_path, figures):
    """Most scores are 0, so a score of 1400 stood out from nothing and was drawn on the
    scale: the threshold line at 2 lay flat on the axis."""
    frame = anomaly_frame(n_series=1, with_nan=False)
    frame["score"] = np.where(frame["score"] < 2, 0.0, frame["score"] / 10)
    frame.loc[120, ["value", "score", "is_anomaly"]] = [5000.0, 1400.0, 1]
    plot_anomalies(frame, tmp_path / "glitch.png", threshold=2.0)
    score_axis = figures[-1].axes[1]
    assert 2.0 < score_axis.get_ylim()[1] < 20.0
    assert "1400" in figure_texts(figures[-1])
    # a flagged score of 30 is not a glitch of the picture: drawn on the scale
    frame.loc[120, "score"] = 30.0
    plot_anomalies(frame, tmp_path / "flag.png", threshold=2.0)
    assert figures[-1].axes[1].get_ylim()[1] >= 30.0
