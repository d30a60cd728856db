"""Rolling-origin backtests: cut-offs, no look-ahead, metrics that match the rows, the CLI."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest

from forecaster.backtest import ROW_COLUMNS, BacktestOptions, evaluate, evaluate_coverages
from forecaster.data import DataOptions
from forecaster.errors import ConfigError
from forecaster.metrics import mae, smape
from forecaster.training import TrainOptions

from .conftest import HOURLY, STORES, run_cli

LOAD = DataOptions(targets=("load",), covariates=("temperature",))
LINEAR = TrainOptions(model="linear", seed=0)


@pytest.fixture(scope="module")
def linear_backtest():
    return evaluate(HOURLY, LOAD, LINEAR, BacktestOptions(folds=4, stride=12))


def test_rows_cover_every_cutoff_step_and_method(linear_backtest):
    rows = linear_backtest.rows
    assert list(rows.columns) == ROW_COLUMNS
    assert set(rows["model"]) == {"model", "naive", "seasonal_naive", "linear"}
    cutoffs = sorted(rows["cutoff"].unique())
    # the last cut-off leaves one horizon (24 h) before the end of the data, 2024-04-29 23:00
    expected = pd.date_range(end="2024-04-28 23:00", periods=4, freq="12h")
    assert [pd.Timestamp(c) for c in cutoffs] == list(expected)
    assert len(rows) == 4 * 4 * 24
    for cutoff, fold in rows.groupby("cutoff"):
        assert (fold["timestamp"] > cutoff).all()
        assert fold["step"].min() == 1 and fold["step"].max() == 24
    assert (rows["lower"] <= rows["forecast"]).all() and (rows["forecast"] <= rows["upper"]).all()


def test_several_coverages_share_the_forecasts_and_nest(linear_backtest):
    backtest = BacktestOptions(folds=4, stride=12)
    narrow, wide = evaluate_coverages(HOURLY, LOAD, LINEAR, backtest, (0.5, 0.95))
    # the 90 % default of the fixture, from the same fitted models
    pd.testing.assert_frame_equal(narrow.rows.drop(columns=["lower", "upper"]),
                                  linear_backtest.rows.drop(columns=["lower", "upper"]))
    assert (narrow.backtest.coverage, wide.backtest.coverage) == (0.5, 0.95)
    assert (wide.rows["lower"] <= narrow.rows["lower"]).all() and (narrow.rows["upper"] <= wide.rows["upper"]).all()
    assert (wide.summary["width"] > narrow.summary["width"]).all()
    assert (wide.summary["coverage"] >= narrow.summary["coverage"]).all()
    (alone,) = evaluate_coverages(HOURLY, LOAD, LINEAR, backtest, (0.95,))
    pd.testing.assert_frame_equal(alone.rows, wide.rows)
    with pytest.raises(ConfigError):
        evaluate_coverages(HOURLY, LOAD, LINEAR, backtest, (0.8, 1.0))


def test_naive_rows_repeat_the_last_value_before_the_cutoff(linear_backtest):
    data = pd.read_csv(HOURLY, parse_dates=["timestamp"]).set_index("timestamp")["load"]
    naive = linear_backtest.rows.query("model == 'naive'")
    for cutoff, fold in naive.groupby("cutoff"):
        np.testing.assert_allclose(fold["forecast"], data[cutoff])
        np.testing.assert_allclose(fold["actual"], data[fold["timestamp"]].to_numpy())


def test_summary_is_computed_from_the_rows(linear_backtest):
    rows, summary = linear_backtest.rows, linear_backtest.summary.set_index("model")
    for method, group in rows.groupby("model"):
        assert summary.loc[method, "mae"] == pytest.approx(mae(group["actual"], group["forecast"]))
        assert summary.loc[method, "smape"] == pytest.approx(smape(group["actual"], group["forecast"]))
        inside = (group["actual"] >= group["lower"]) & (group["actual"] <= group["upper"])
        assert summary.loc[method, "coverage"] == pytest.approx(inside.mean())
    per_step = linear_backtest.per_step
    assert len(per_step) == 4 * 24
    first = rows[(rows["model"] == "model") & (rows["step"] == 1)]
    assert per_step.query("model == 'model' and step == 1")["mae"].item() == pytest.approx(
        mae(first["actual"], first["forecast"])
    )
    # the linear model and the linear baseline are the same fitted model
    assert summary.loc["model", "mae"] == pytest.approx(summary.loc["linear", "mae"])
    # MASE: errors relative to the in-sample seasonal difference; seasonal naive is close to 1
    assert 0.3 < summary.loc["seasonal_naive", "mase"] < 3


@pytest.mark.parametrize("refit", ["each", "once"])
def test_forecasts_never_see_data_after_their_cutoff(tmp_path, refit):
    frame = pd.read_csv(HOURLY)
    backtest = BacktestOptions(folds=3, stride=24, refit=refit)
    clean = evaluate(HOURLY, LOAD, LINEAR, backtest)
    # wreck everything after the last cut-off: only actuals may change
    frame.loc[len(frame) - 24 :, ["load", "temperature"]] *= 50
    wrecked_file = tmp_path / "wrecked.csv"
    frame.to_csv(wrecked_file, index=False)
    wrecked = evaluate(wrecked_file, LOAD, LINEAR, backtest)
    columns = ["forecast", "lower", "upper"]
    np.testing.assert_allclose(wrecked.rows[columns], clean.rows[columns])
    last = wrecked.rows["cutoff"] == wrecked.rows["cutoff"].max()
    assert not np.allclose(wrecked.rows.loc[last, "actual"], clean.rows.loc[last, "actual"])


@pytest.mark.parametrize("refit", ["each", "once"])
def test_a_gap_across_a_cutoff_is_not_filled_from_after_it(tmp_path, refit):
    """A gap is filled by interpolating towards the next value; at a cut-off that value lies
    after it, which predict at that moment could not have seen."""
    frame = pd.read_csv(HOURLY)
    n = len(frame)
    frame.loc[[n - 73, n - 72], ["load", "temperature"]] = np.nan  # the first cut-off's hour and the next
    backtest = BacktestOptions(folds=3, stride=24, refit=refit)
    results = []
    for later in (0.0, 400.0):
        changed = frame.copy()
        changed.loc[n - 71, ["load", "temperature"]] += later  # after the gap, after the cut-off
        path = tmp_path / f"gap{later:g}.csv"
        changed.to_csv(path, index=False)
        results.append(evaluate(path, LOAD, LINEAR, backtest).rows)
    first = results[0]["cutoff"] == results[0]["cutoff"].min()
    assert str(results[0].loc[first, "cutoff"].iloc[0]) == frame.loc[n - 73, "timestamp"]
    columns = ["forecast", "lower", "upper"]
    np.testing.assert_allclose(results[1].loc[first, columns], results[0].loc[first, columns])
    # the later folds, whose inputs hold the changed hour, do change
    assert not np.allclose(results[1].loc[~first, "forecast"], results[0].loc[~first, "forecast"])


def test_refit_once_trains_a_single_model(linear_backtest):
    once = evaluate(HOURLY, LOAD, LINEAR, BacktestOptions(folds=4, stride=12, refit="once"))
    assert list(once.rows.columns) == ROW_COLUMNS
    # at the first cut-off both ways train on the same data
    first = once.rows["cutoff"] == once.rows["cutoff"].min()
    np.testing.assert_allclose(once.rows.loc[first, "forecast"], linear_backtest.rows.loc[first, "forecast"])


def test_refit_once_recalibrates_on_what_arrived_before_each_cutoff_only(tmp_path):
    frame = pd.read_csv(HOURLY)
    n = len(frame)
    # wild values between the second and the last of three cut-offs a day apart
    frame.loc[n - 48 : n - 25, "load"] *= 5
    wild = tmp_path / "wild.csv"
    frame.to_csv(wild, index=False)
    runs = {
        (path, recalibrate): evaluate(path, LOAD, LINEAR, BacktestOptions(folds=3, stride=24, refit="once",
                                                                      recalibrate=recalibrate)).rows
        for path in (HOURLY, wild) for recalibrate in (True, False)
    }  # fmt: skip
    columns = ["forecast", "lower", "upper"]
    cutoffs = sorted(runs[HOURLY, True]["cutoff"].unique())
    before_last = runs[HOURLY, True]["cutoff"] < cutoffs[-1]
    # what came after a cut-off changes nothing at or before it ...
    np.testing.assert_allclose(runs[wild, True].loc[before_last, columns], runs[HOURLY, True].loc[before_last, columns])
    # ... and at the first one nothing had arrived yet
    first = runs[HOURLY, True]["cutoff"] == cutoffs[0]
    np.testing.assert_allclose(runs[HOURLY, True].loc[first, columns], runs[HOURLY, False].loc[first, columns])

    def width(rows):
        last = rows[(rows["cutoff"] == cutoffs[-1]) & (rows["model"] == "model")]
        return float((last["upper"] - last["lower"]).mean())

    # the wild day's errors widen the last cut-off's intervals, unless recalibration is off
    assert width(runs[wild, True]) > 1.1 * width(runs[wild, False])
    assert width(runs[HOURLY, True]) < 1.05 * width(runs[HOURLY, False])


def test_cutoffs_are_counted_in_words():
    from forecaster.backtest import cutoffs_text

    assert cutoffs_text(1, 24) == "1 cut-off" and cutoffs_text(3) == "3 cut-offs"
    assert cutoffs_text(3, 24) == "3 cut-offs 24 steps apart" and cutoffs_text(5, 1) == "5 cut-offs 1 step apart"


def test_bad_backtest_options_are_refused():
    with pytest.raises(ConfigError, match="--folds"):
        BacktestOptions(folds=0)
    with pytest.raises(ConfigError, match=r"coverage must be a number between 0 and 1 \(one; evaluate_coverages"):
        BacktestOptions(coverage=[0.8, 0.9])
    with pytest.raises(ConfigError, match="folds must be a whole number, got '3'"):
        BacktestOptions(folds="3")
    with pytest.raises(ConfigError, match="--refit"):
        BacktestOptions(refit="sometimes")


def test_the_model_is_called_better_or_worse_than_a_baseline_only_beyond_chance():
    from forecaster.backtest import paired_comparisons

    rng = np.random.default_rng(0)
    rows = []
    # 16 series x 1 cut-off x 2 steps: the model beats naive in 13, loses to linear in 14,
    # and against seasonal naive wins 9 and loses 7
    for i in range(16):
        for step in (1, 2):
            actual = rng.normal()
            errors = {"model": 1.0, "naive": 2.0 if i < 13 else 0.5, "linear": 0.5 if i < 14 else 2.0,
                      "seasonal_naive": 2.0 if i < 9 else 0.5}
            rows += [{"series": f"s{i}", "cutoff": "c", "step": step, "actual": actual, "model": method,
                      "forecast": actual + error} for method, error in errors.items()]
    compared = paired_comparisons(pd.DataFrame(rows)).set_index("baseline")
    assert list(compared.index) == ["naive", "seasonal_naive", "linear"]
    assert compared.loc["naive", ["better", "worse", "verdict"]].tolist() == [13, 3, "better"]
    # the geometric mean of the MAE ratios: 13 halves and 3 doubles
    assert compared.loc["naive", "ratio"] == pytest.approx(2.0 ** ((3 - 13) / 16))
    assert compared.loc["linear", ["better", "worse", "verdict"]].tolist() == [2, 14, "worse"]
    assert compared.loc["seasonal_naive", ["better", "worse", "verdict"]].tolist() == [9, 7, "too close to call"]
    assert (compared["forecasts"] == 16).all()
    # the signed-rank test weighs how much, not only how often: 10 large wins against 6 small
    # losses are more than chance, as 10 of 16 alone would not be
    for i in range(16):
        for row in rows:
            if row["series"] == f"s{i}" and row["model"] == "seasonal_naive":
                row["forecast"] = row["actual"] + (10.0 if i < 10 else 0.9)
    weighed = paired_comparisons(pd.DataFrame(rows)).set_index("baseline").loc["seasonal_naive"]
    assert (weighed["better"], weighed["worse"], weighed["verdict"]) == (10, 6, "better")
    # a p-value as scipy's Wilcoxon test gives it on the log ratios
    from scipy.stats import wilcoxon

    logs = np.log([1.0 / (10.0 if i < 10 else 0.9) for i in range(16)])
    assert weighed["p_value"] == pytest.approx(wilcoxon(logs).pvalue, rel=0.05)  # up to float rounding of ties


def test_evaluate_command_prints_tables_and_writes_csv_json_and_plot(tmp_path):
    out, picture = tmp_path / "rows.csv", tmp_path / "errors.png"
    args = ["evaluate", HOURLY, "--target", "load", "--model", "linear", "--folds", 2, "--seed", 0]
    result = run_cli(*args, "-o", out, "--plot", picture)
    assert result.exit_code == 0, result.stderr
    assert "Backtest at 2 cut-offs 24 steps apart: the model trained at each cut-off\n" in result.stderr
    assert ": stopped after" not in result.stderr  # a linear model has no epochs
    for fragment in ("Backtest: 1 series, 2 cut-offs", "sMAPE", "MASE", "coverage", "seasonal naive",
                     "linear model", "MAE per horizon step"):
        assert fragment in result.stdout
    rows = pd.read_csv(out)
    assert list(rows.columns) == ROW_COLUMNS and len(rows) == 2 * 4 * 24
    assert picture.stat().st_size > 10_000

    summary = json.loads(run_cli(*args, "--json").stdout)
    assert [s["model"] for s in summary["summary"]] == ["model", "naive", "seasonal_naive", "linear"]
    assert summary["backtest"]["folds"] == 2 and summary["backtest"]["stride"] == 24
    assert summary["backtest"]["season"] == 24  # the one in effect, from the frequency
    # one series: its errors are the overall ones
    assert [(s["series"], s["model"]) for s in summary["per_series"]] == [
        ("load", m) for m in ("model", "naive", "seasonal_naive", "linear")]
    for overall, alone in zip(summary["summary"], summary["per_series"]):
        assert alone["mase"] == pytest.approx(overall["mase"]) and alone["coverage"] == pytest.approx(overall["coverage"])
    assert "MASE per series" not in result.stdout
    assert len(summary["per_step"]) == 4 * 24

    to_stdout = run_cli(*args, "-o", "-")
    assert pd.read_csv(io.StringIO(to_stdout.stdout)).shape == rows.shape
    assert "MAE per horizon step" in to_stdout.stderr  # the tables, beside the CSV
    # with the CSV on stdout, the tables are events of a JSON log, and --quiet silences them
    logged = run_cli(*args, "-o", "-", "--log-format", "json")
    events = [json.loads(line) for line in logged.stderr.splitlines()]
    assert [e["title"] for e in events if e["event"] == "table"] == [
        "Backtest: 1 series, 2 cut-offs 24 steps apart, horizon 24, 90% intervals", "MAE per horizon step",
        "linear model against each baseline over 2 forecasts (each series from each cut-off: its MAE over the horizon)"]
    # two forecasts cannot tell methods apart; the linear baseline is the model itself here
    assert [(c["baseline"], c["forecasts"], c["verdict"]) for c in summary["comparisons"]] == [
        ("naive", 2, "too few forecasts to tell"), ("seasonal_naive", 2, "too few forecasts to tell"),
        ("linear", 2, "the same forecasts")]
    assert run_cli(*args, "-o", "-", "-q").stderr == ""

    once = {flag: json.loads(run_cli(*args, "--refit", "once", flag, "--json").stdout)
            for flag in ("--recalibrate", "--no-recalibrate")}
    assert once["--recalibrate"]["backtest"]["recalibrate"] is True
    assert once["--no-recalibrate"]["backtest"]["recalibrate"] is False
    # the second cut-off's intervals learn from the day between the cut-offs, or not
    widths = [o["summary"][0]["width"] for o in once.values()]
    assert widths[0] != pytest.approx(widths[1], rel=1e-6)
    # with a refit at each cut-off there is nothing to recalibrate, and the user is told so
    each = run_cli(*args, "--no-recalibrate", "--json")
    assert each.exit_code == 0, each.stderr
    assert "Warning: --no-recalibrate has no effect with --refit each" in each.stderr
    assert "--no-recalibrate" not in result.stderr
    # as are network options given for a baseline
    unused = run_cli(*args, "--units", 64, "--no-linear-skip", "--json")
    assert "Warning: --units 64, --no-linear-skip have no effect with --model linear" in unused.stderr
    assert "no effect" not in result.stderr


def test_evaluate_says_up_front_what_an_ensemble_and_a_final_fit_cost():
    result = run_cli("evaluate", HOURLY, "--target", "load", "--folds", 2, "--refit", "once", "--units", 4,
                     "--lookback", 24, "--horizon", 6, "--epochs", 2, "--ensemble", 2, "--final-fit", "all",
                     "--seed", 0, "--json")
    assert result.exit_code == 0, result.stderr
    first = result.stderr.index("Backtest at 2 cut-offs 6 steps apart: the model trained once, before the "
                                "first cut-off, as 2 networks (--ensemble), each network twice (--final-fit all)")
    assert first < result.stderr.index("Training an LSTM") < result.stderr.index("Training again on all")
    # the one training says how it ended, as train does
    assert result.stderr.count(": stopped after ") == 1
    assert "Fold 1/2: stopped after 2 epochs (" in result.stderr and ") for member 2" in result.stderr
    assert json.loads(result.stdout)["train_options"]["ensemble"] == 2


def test_evaluate_with_the_network_and_a_short_series_error(tmp_path):
    result = run_cli(
        "evaluate", HOURLY, "--target", "load", "--folds", 2, "--units", 4, "--epochs", 2, "--lookback", 48,
        "--horizon", 6, "--ensemble", 1, "--seed", 0, "--json", "-q",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # quiet
    summary = {s["model"]: s for s in json.loads(result.stdout)["summary"]}
    assert np.isfinite(summary["model"]["mae"])

    short = tmp_path / "short.csv"
    pd.read_csv(HOURLY).iloc[:130].to_csv(short, index=False)
    failed = run_cli("evaluate", short, "--target", "load", "--folds", 3, "--horizon", 24)
    assert failed.exit_code == 1
    assert "short.csv" in failed.stderr and "fewer --folds" in failed.stderr
    assert run_cli("evaluate", HOURLY, "--refit", "sometimes").exit_code == 2
    both = run_cli("evaluate", HOURLY, "--target", "load", "--json", "-o", "-")
    assert both.exit_code == 2 and "give -o a file name" in both.stderr


@pytest.mark.parametrize(("folds", "season", "remedy"), [(3, 350, "pass a smaller --season or fewer --folds\n"),
                                                         (1, 380, "pass a smaller --season\n")])
def test_a_season_too_long_for_the_history_is_refused_before_any_training(tmp_path, folds, season, remedy):
    short = tmp_path / "short.csv"
    pd.read_csv(HOURLY).iloc[:400].to_csv(short, index=False)  # 376 steps before a last cut-off 24 from the end
    refused = run_cli("evaluate", short, "--target", "load", "--model", "network", "--epochs", 50, "--folds", folds,
                      "--season", season)
    assert refused.exit_code == 1
    assert f"has too little history before the first cut-off for a season of {season} steps" in refused.stderr
    assert refused.stderr.endswith(remedy) and "Fold 1" not in refused.stderr and "Training" not in refused.stderr


def test_a_history_too_short_for_the_automatic_season_leaves_mase_out_not_the_backtest(tmp_path):
    """60 weeks: train fits them, but evaluate refused them for want of a year before the
    first cut-off (MASE's season of 52), after choosing its shape itself."""
    from .test_cli import weekly_long_csv

    data = weekly_long_csv(tmp_path / "weekly.csv", {"a": 60})
    result = run_cli("evaluate", data, "--id-col", "store", "--model", "linear", "--json")
    assert result.exit_code == 0, result.stderr
    assert ("MASE leaves out 1 series (a): its history before the first cut-off is shorter than a season and one "
            "step (53 steps)") in " ".join(result.stderr.split())
    summary = {row["model"]: row for row in json.loads(result.stdout)["summary"]}
    assert summary["model"]["mase"] is None and summary["model"]["mae"] > 0


def test_evaluate_keeps_the_whole_files_automatic_horizon_at_every_cutoff(tmp_path):
    # 150 weeks: the automatic horizon is 37; the data before the cut-off alone would give 28
    from .test_cli import weekly_long_csv

    data = weekly_long_csv(tmp_path / "weekly.csv", {"a": 150})
    result = run_cli("evaluate", data, "--id-col", "store", "--model", "linear", "--folds", 1, "--json", "-q",
                     "-o", tmp_path / "rows.csv")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["train_options"]["horizon"] == 37
    rows = pd.read_csv(tmp_path / "rows.csv")
    assert sorted(rows["step"].unique()) == list(range(1, 38))
    assert rows["actual"].notna().all() and rows["forecast"].notna().all()


def test_a_config_file_names_options_by_their_flags(tmp_path):
    # `json = true` for --json (whose parameter is as_json), `val-fraction` for --val-fraction
    config = tmp_path / "evaluate.toml"
    config.write_text('[evaluate]\njson = true\nfolds = 1\nmodel = "linear"\nval-fraction = 0.25\ntarget = "load"\n')
    result = run_cli("evaluate", HOURLY, "--config", config, "-q")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["backtest"]["folds"] == 1 and summary["train_options"]["val_fraction"] == 0.25


def test_evaluate_measures_several_coverages_from_one_training(tmp_path):
    args = ["evaluate", HOURLY, "--target", "load", "--model", "linear", "--folds", 2, "--seed", 0]
    both, single = tmp_path / "both.csv", tmp_path / "single.csv"
    result = run_cli(*args, "--coverage", 0.8, "--coverage", 0.95, "-o", both)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("Fitting the linear model") == 2  # one training per cut-off, not per coverage
    assert "80% and 95% intervals" in result.stdout and "Interval coverage and mean width" in result.stdout
    assert "coverage 95%" in result.stdout
    assert run_cli(*args, "--coverage", 0.8, "-o", single).exit_code == 0
    rows, alone = pd.read_csv(both), pd.read_csv(single)
    assert list(rows.columns) == ROW_COLUMNS + ["lower_95", "upper_95"]
    pd.testing.assert_frame_equal(rows[ROW_COLUMNS], alone)  # the first coverage's columns as on their own
    assert (rows["lower_95"] <= rows["lower"]).all() and (rows["upper"] <= rows["upper_95"]).all()
    summary = json.loads(run_cli(*args, "--coverage", 0.8, "--coverage", 0.95, "--json").stdout)
    assert summary["coverages"] == [0.8, 0.95] and summary["backtest"]["coverage"] == 0.8
    model = summary["summary"][0]
    assert model["coverage"] < model["coverage_95"] and model["width"] < model["width_95"]
    alone = summary["per_series"][0]  # the one series' figures are the overall ones, both coverages
    assert (alone["width"], alone["width_95"]) == pytest.approx((model["width"], model["width_95"]))


def test_evaluate_tables_each_series_and_of_many_those_where_the_model_does_worst(tmp_path):
    rng = np.random.default_rng(1)
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    frames = []
    for k in range(23):
        weekly = 10 * np.sin(2 * np.pi * np.arange(120) / 7)
        # some series a random walk, which the linear model forecasts no better than naive
        noise = rng.normal(0, 3, 120).cumsum() if k % 4 == 0 else rng.normal(0, 1 + k / 10, 120)
        frames.append(pd.DataFrame({"day": days, "id": f"s{k:02d}", "y": 100 + weekly + noise}))
    data = tmp_path / "many.csv"
    pd.concat(frames).to_csv(data, index=False)
    args = ["evaluate", data, "--id-col", "id", "--target", "y", "--model", "linear", "--lookback", 14,
            "--horizon", 7, "--folds", 2, "--seed", 0]
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    title = "MASE per series: the 20 of 23 where the model compares worst with its best baseline"
    assert title in result.stdout
    listed = [line.split("│")[1].strip() for line in result.stdout.split(title)[1].split("└")[0].splitlines()
              if line.startswith("│")]  # the table's rows, not the next table's
    per_series = pd.DataFrame(json.loads(run_cli(*args, "--json").stdout)["per_series"])
    mase = per_series.pivot(index="series", columns="model", values="mase")
    # the linear baseline is the linear model itself: the yardstick is the best of the others
    assert np.allclose(mase["model"], mase["linear"])
    relative = mase["model"] / mase[["naive", "seasonal_naive"]].min(axis=1)
    assert listed == list(relative.sort_values(ascending=False, kind="stable").index[:20])
    assert len(per_series) == 23 * 4 and relative.nunique() == 23


def test_series_that_end_at_different_times_are_warned_of(tmp_path):
    frame = pd.read_csv(STORES)
    frame = frame[~((frame["store"] == "store_a") & (pd.to_datetime(frame["date"]) > "2024-04-20"))]
    data = tmp_path / "early.csv"
    frame.to_csv(data, index=False)
    args = ["evaluate", data, "--id-col", "store", "--target", "sales", "--model", "linear", "--folds", 2, "--json"]
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    assert ("Warning: 1 of 5 series end before the others (e.g. 'store_a' at 2024-04-20, the latest at "
            "2024-05-14)") in " ".join(result.stderr.split())
    assert "end before the others" not in run_cli("evaluate", STORES, *args[2:]).stderr


def test_forecasts_equal_to_float_rounding_are_ties():
    from forecaster.backtest import paired_comparisons

    rng = np.random.default_rng(1)
    rows = []
    for i in range(12):
        actual, forecast = 10 * rng.random(2), 10 * rng.random(2)
        for method, values in (("model", forecast * (1 + 1e-13 * rng.normal(size=2))), ("naive", forecast),
                               ("linear", actual + 1.001 * (forecast - actual))):
            rows += [{"series": f"s{i}", "cutoff": "c", "step": step + 1, "actual": actual[step], "model": method,
                      "forecast": values[step]} for step in range(2)]
    compared = paired_comparisons(pd.DataFrame(rows)).set_index("baseline")
    assert compared.loc["naive", ["better", "worse", "verdict"]].tolist() == [0, 0, "the same forecasts"]
    assert compared.loc["linear", "better"] + compared.loc["linear", "worse"] == 12


@pytest.mark.parametrize("model", ["naive", "seasonal-naive"])
def test_a_naive_model_forecasts_exactly_the_values_it_repeats(tmp_path, model):
    """Not the values scaled, run in float32 and scaled back (7.520002762156139 for 7.52),
    which made evaluate call the seasonal-naive model significantly worse than itself."""
    rng = np.random.default_rng(3)
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    frame = pd.DataFrame([(day.date(), store, round(float(level * (1 + 0.3 * (day.day_of_week == 5))
                                                             * rng.lognormal(0, 0.2)), 2))
                          for store, level in (("a", 7.5), ("b", 180.0), ("c", 0.3)) for day in days],
                         columns=["date", "store", "sales"])
    data = tmp_path / "sales.csv"
    frame.to_csv(data, index=False)
    rows = pd.read_csv(io.StringIO(run_cli("evaluate", data, "--id-col", "store", "--model", model, "--folds", 4,
                                           "-o", "-", "-q").stdout))
    baseline = "naive" if model == "naive" else "seasonal_naive"
    own = rows[rows["model"] == "model"].reset_index(drop=True)
    assert own["forecast"].tolist() == rows[rows["model"] == baseline]["forecast"].tolist()
    last = frame.groupby("store")["sales"].apply(lambda s: s.to_numpy()[-7 if model == "seasonal-naive" else -1:])
    assert np.isin(own["forecast"], np.concatenate(frame.groupby("store")["sales"].apply(np.asarray).tolist())).all()
    summary = json.loads(run_cli("evaluate", data, "--id-col", "store", "--model", model, "--folds", 4, "--json",
                                 "-q").stdout)
    verdicts = {c["baseline"]: c["verdict"] for c in summary["comparisons"]}
    assert verdicts[baseline] == "the same forecasts"
    model_dir = tmp_path / "model"
    assert run_cli("train", data, "--id-col", "store", "--model", model, "-m", model_dir, "-q").exit_code == 0
    forecast = pd.read_csv(io.StringIO(run_cli("predict", "-m", model_dir, "-q").stdout))
    for store, values in last.items():
        repeated = forecast.loc[forecast["series"] == store, "forecast"].to_numpy()
        assert repeated.tolist() == np.resize(values, len(repeated)).tolist()


def test_a_series_without_seasonal_change_is_left_out_of_mase_with_a_warning(tmp_path):
    """A product at 0 until its launch made MASE infinite or missing for the whole file."""
    rng = np.random.default_rng(2)
    days = pd.date_range("2024-01-01", periods=200, freq="D")
    launch = np.where(np.arange(200) < 188, 0.0, np.round(rng.uniform(20, 40, 200), 1))
    old = np.round(100 + 20 * (days.day_of_week >= 5) + rng.normal(0, 5, 200), 1)
    data = tmp_path / "launch.csv"
    pd.DataFrame({"date": days, "old": old, "launch": launch}).to_csv(data, index=False)
    evaluated = run_cli("evaluate", data, "--model", "linear", "--folds", 2, "--json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert ("MASE leaves out 1 series (launch): its values before the first cut-off do not change from one season "
            "to the next") in " ".join(evaluated.stderr.split())
    summary = json.loads(evaluated.stdout)
    assert all(row["mase"] is not None and np.isfinite(row["mase"]) for row in summary["summary"])
    per_series = {(row["series"], row["model"]): row["mase"] for row in summary["per_series"]}
    assert per_series[("launch", "model")] is None and per_series[("old", "model")] > 0
    trained = run_cli("train", data, "--model", "linear", "-m", tmp_path / "model")
    assert "MASE leaves out 1 series (launch): its values before the validation part" in " ".join(
        trained.stderr.split())
    assert "inf" not in trained.stderr


def test_evaluate_backtests_the_series_train_would_fit(tmp_path):
    # a host with an old outage (trained on from after it) and a new one much shorter than
    # the rest (left out): train would stop or shorten every horizon before, and so did evaluate
    rng = np.random.default_rng(2)
    index = pd.date_range("2024-01-01", periods=24 * 30, freq="h")
    frames = [pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d %H:%M:%S"), "host": host,
                            "load": 100 + 10 * np.sin(2 * np.pi * index.hour.to_numpy() / 24)
                            + rng.normal(0, 2, len(index))}) for host in ("a", "b", "c", "d")]
    frames[1] = frames[1].drop(frames[1].index[100:110])
    frames[3] = frames[3].tail(30)
    data = tmp_path / "hosts.csv"
    pd.concat(frames).to_csv(data, index=False)
    result = run_cli("evaluate", data, "--id-col", "host", "--target", "load", "--model", "linear", "--folds", 2,
                     "-o", tmp_path / "rows.csv")
    assert result.exit_code == 0, result.stderr
    assert "column 'load' (series 'b'): a gap longer than --max-gap ends at 2024-01-05 13:00" in result.stderr
    assert "left out 1 series much shorter than the others" in result.stderr and "'d' (30 rows); train leaves it out too" \
        in result.stderr
    rows = pd.read_csv(tmp_path / "rows.csv")
    assert sorted(rows["series"].unique()) == ["a", "b", "c"]
    assert rows["step"].max() == 24  # the hourly horizon, not one a 30-row series allows


def test_a_series_too_short_for_the_cutoffs_is_left_out_of_the_backtest_with_a_warning(tmp_path):
    """A store opened a few months ago kept the others from being backtested at all."""
    stores = pd.read_csv(STORES)
    first = stores.groupby("store").size().idxmax()
    late = stores[stores["store"] == first].tail(40).assign(store="new_store")
    data = tmp_path / "stores.csv"
    pd.concat([stores, late]).to_csv(data, index=False)
    result = run_cli("evaluate", data, "--id-col", "store", "--target", "sales", "--model", "linear", "--folds", 6,
                     "-o", tmp_path / "rows.csv")
    assert result.exit_code == 0, result.stderr
    assert ("left out 1 series too short for the backtest, which needs" in result.stderr
            and "'new_store' (40 rows); fewer --folds" in " ".join(result.stderr.split()))
    rows = pd.read_csv(tmp_path / "rows.csv")
    assert "new_store" not in set(rows["series"]) and set(rows["series"]) == set(stores["store"])
    # every series too short: refused with the remedies, as before
    refused = run_cli("evaluate", data, "--id-col", "store", "--target", "sales", "--model", "linear", "--folds", 70)
    assert refused.exit_code == 1 and "use fewer --folds, a smaller --stride or a shorter --horizon" in refused.stderr


def test_the_automatic_horizon_shortens_to_fit_the_cutoffs_of_a_short_series(tmp_path):
    """Three years of weekly sales got the horizon and lookback of their whole length, and the
    backtest, needing 234 of the 156 rows, refused to run."""
    index = pd.date_range("2021-01-03", periods=156, freq="W-SUN")
    steps = np.arange(len(index))
    pd.DataFrame({"week": index.strftime("%Y-%m-%d"),
                  "sales": 100 + 20 * np.sin(2 * np.pi * steps / 52) + np.random.default_rng(0).normal(0, 3, 156)}
                 ).to_csv(tmp_path / "weekly.csv", index=False)
    result = run_cli("evaluate", tmp_path / "weekly.csv", "--model", "linear", "--json")
    assert result.exit_code == 0, result.stderr
    assert ("Horizon 20 steps: series 'sales' has 156 rows, and a longer horizon leaves too few before the first of 3 "
            "cut-offs a horizon apart (--horizon, --folds and --stride set it)") in result.stderr
    assert json.loads(result.stdout)["train_options"]["horizon"] == 20
    # a horizon given is kept, and refused with what to change
    given = run_cli("evaluate", tmp_path / "weekly.csv", "--model", "linear", "--horizon", 39)
    assert given.exit_code == 1 and "needs at least 234" in given.stderr


def test_evaluate_says_the_lookback_each_fold_uses_not_one_no_fold_uses(tmp_path):
    """24 monthly rows: evaluate said 'Lookback 8 steps' of the whole file, then trained its
    folds with 5, 6 and 7."""
    months = pd.DataFrame({"month": pd.date_range("2020-01-01", periods=24, freq="MS").strftime("%Y-%m-%d"),
                           "sales": 100 + np.arange(24.0) + 10 * np.sin(np.arange(24) * np.pi / 6)})
    months.to_csv(tmp_path / "months.csv", index=False)
    result = run_cli("evaluate", tmp_path / "months.csv", "--model", "linear")
    assert result.exit_code == 0, result.stderr
    before_folds, folds = result.stderr.split("Fold 1/3", 1)
    assert "Lookback" not in before_folds
    said = [int(n) for n in re.findall(r"Lookback (\d+) steps, not", folds)]
    used = [int(n) for n in re.findall(r"lookback (\d+), horizon", folds)]
    assert said == used and len(used) == 3
