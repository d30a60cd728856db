"""The commands' library functions called from Python on series already in memory: train
writes a model that predict and detect-anomalies use, and evaluate backtests them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.anomaly import detect_anomalies
from forecaster.backtest import BacktestOptions, evaluate
from forecaster.data import DataOptions, dataset_from_pandas
from forecaster.errors import ConfigError, DataError
from forecaster.forecasting import forecast
from forecaster.training import TrainOptions, train

from .conftest import read_metadata, run_cli


def test_series_in_memory_train_a_model_that_forecasts_scores_and_backtests(tmp_path):
    index = pd.date_range("2024-03-01", periods=24 * 20, freq="h")
    rng = np.random.default_rng(0)
    load = pd.Series(100 + 20 * np.sin(2 * np.pi * index.hour / 24) + rng.normal(0, 2, len(index)), index)
    dataset = dataset_from_pandas({"load": load}, "load (in memory)")
    options = TrainOptions(model="linear", lookback=48, horizon=12, seed=0)
    model_dir = tmp_path / "model"
    trained = train(dataset, options=options, model_dir=model_dir)
    assert trained.n_series == 1
    meta = read_metadata(model_dir)
    assert meta["data_file"] == "load (in memory)" and meta["data_options"]["targets"] == ["load"]
    info = run_cli("info", "-m", model_dir)
    assert info.exit_code == 0 and "load (in memory) (wide format)" in info.stdout
    assert "the series' index (read from memory)" in info.stdout  # no time column: not "None"

    ahead = forecast(model_dir)
    assert ahead["series"].tolist() == ["load"] * 12
    assert pd.to_datetime(ahead["timestamp"]).tolist() == list(pd.date_range(index[-1], periods=13, freq="h")[1:])
    # the daily cycle continues: the forecast is near the sine, not flat
    expected = 100 + 20 * np.sin(2 * np.pi * pd.to_datetime(ahead["timestamp"]).dt.hour.to_numpy() / 24)
    assert np.abs(ahead["forecast"].to_numpy() - expected).max() < 8

    scored = detect_anomalies(model_dir).frame
    # every hour with a lookback of history before it
    assert pd.to_datetime(scored["timestamp"]).tolist() == list(index[48:])
    assert set(scored["is_anomaly"]) <= {0, 1}

    backtest = evaluate(dataset, options=options, backtest=BacktestOptions(folds=2))
    summary = backtest.summary.set_index("model")
    assert backtest.n_series == 1 and {"model", "seasonal_naive", "naive"} <= set(summary.index)
    assert summary.loc["model", "mae"] < summary.loc["naive", "mae"]


def test_whole_numbers_as_series_names_become_text_and_the_model_serves(tmp_path):
    """A frame pivoted on numeric store ids gives whole-number names: the model was written,
    and every later command refused it."""
    index = pd.date_range("2024-01-01", periods=120, freq="D")
    rng = np.random.default_rng(3)
    wide = pd.DataFrame({store: 50 + store / 10 + 5 * np.sin(np.arange(120) * 2 * np.pi / 7) + rng.normal(0, 1, 120)
                         for store in (101, 102)}, index=index)
    dataset = dataset_from_pandas(dict(wide.items()))
    assert [s.name for s in dataset.series] == ["101", "102"]
    model_dir = tmp_path / "model"
    train(dataset, options=TrainOptions(model="linear", lookback=14, horizon=7, seed=0), model_dir=model_dir)
    assert forecast(model_dir)["series"].unique().tolist() == ["101", "102"]
    assert run_cli("info", "-m", model_dir).exit_code == 0
    with pytest.raises(TypeError, match="series names must be text or whole numbers, not tuple"):
        dataset_from_pandas({("a", "b"): wide[101]})
    with pytest.raises(DataError, match="two series are named '101'"):
        dataset_from_pandas({101: wide[101], "101": wide[102]})


def test_options_in_the_wrong_place_are_refused_before_anything_is_read_or_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TypeError, match=r"train\(\): data_options must be a DataOptions, got str 'model'"):
        train("missing.csv", "model")
    with pytest.raises(TypeError, match=r"train\(\): options must be a TrainOptions, got DataOptions"):
        train("missing.csv", DataOptions(), DataOptions())
    with pytest.raises(TypeError, match=r"evaluate\(\): backtest must be a BacktestOptions, got int 3"):
        evaluate("missing.csv", DataOptions(), TrainOptions(), 3)
    assert list(tmp_path.iterdir()) == []  # no default model directory, no lock file


def test_arguments_of_the_wrong_kind_are_named_before_anything_is_read_or_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    dataset = dataset_from_pandas({"x": pd.Series(np.sin(np.arange(300.0)),
                                                  pd.date_range("2024-01-01", periods=300, freq="h"))})
    refused = [
        (lambda: train(123), TypeError, r"train\(\): data_path must be a file path, not int"),
        (lambda: train(frame), TypeError, "not DataFrame; for series in memory, make a Dataset with "
                                          "forecaster.data.dataset_from_pandas"),
        (lambda: evaluate(frame), TypeError, r"evaluate\(\): data_path must be a file path, not DataFrame"),
        (lambda: train(dataset, DataOptions(targets=("y",))), ConfigError,
         r"train\(\): data_options apply to a file; the series of a Dataset are used as they are"),
        (lambda: train("missing.csv", options=TrainOptions(epochs="2")), TypeError,
         "TrainOptions: epochs must be a whole number, got str '2'"),
        (lambda: forecast("model", frame), TypeError,
         r"forecast\(\): data_path must be a file path or None, not DataFrame; newer data comes as a CSV file"),
        (lambda: forecast(DataOptions()), TypeError, r"forecast\(\): model_dir must be a file path, not DataOptions"),
        (lambda: forecast("model", coverage="0.8"), TypeError,
         r"forecast\(\): coverage must be a number between 0 and 1, got str '0.8'"),
        (lambda: detect_anomalies("model", last="3"), TypeError,
         r"detect_anomalies\(\): last must be a whole number of 1 or more, got str '3'"),
        (lambda: detect_anomalies("model", threshold=True), TypeError, "threshold must be a number of 0 or more"),
        (lambda: forecast("model", "new.csv", reading="sep=;"), TypeError,
         r"forecast\(\): reading must be a mapping of reading options such as \{'sep': ';'\}, got str 'sep=;'"),
        (lambda: detect_anomalies("model", reporter=print), TypeError,
         r"detect_anomalies\(\): reporter must be a Reporter or None, got builtin_function_or_method"),
        (lambda: train("missing.csv", wait="10"), TypeError, r"train\(\): wait must be a number of seconds, got str"),
        (lambda: train("missing.csv", wait=-1), ConfigError, "--wait must be 0 or more seconds, got -1"),
    ]
    for call, error, message in refused:
        with pytest.raises(error, match=message):
            call()
    assert list(tmp_path.iterdir()) == []  # nothing written, no lock file


@pytest.mark.parametrize(("make", "message"), [
    (lambda: TrainOptions(units=0), "--units must be at least 1"),
    (lambda: TrainOptions(cell="transformer"), "--cell must be one of lstm, gru, rnn"),
    (lambda: TrainOptions(dropout=1.0), "--dropout must be in [0, 1)"),
    (lambda: TrainOptions(seed=-1), "--seed must be between 0 and 2147483647"),
    (lambda: TrainOptions(seed=2**31), "--seed must be between 0 and 2147483647"),
    (lambda: TrainOptions(val_fraction=0.95), "--val-fraction must be between 0.01 and 0.9, got 0.95"),
    (lambda: TrainOptions(val_fraction=0.001), "--val-fraction must be between 0.01 and 0.9, got 0.001"),
    (lambda: DataOptions(id_col=3), "id_col must be a column name (text) or None, got 3"),
    (lambda: DataOptions(targets=5), "targets must be a column name or a list of them, got 5"),
], ids=["units", "cell", "dropout", "negative seed", "seed too large", "val_fraction large", "val_fraction small",
        "id_col", "targets"])
def test_options_that_cannot_work_are_refused_when_made_not_after_reading_the_data(make, message):
    """They used to pass, and fail only after the data was read and the linear model fitted
    (a seed of -1 after a whole training, or never for a linear model, which stored it)."""
    with pytest.raises(ConfigError) as refused:
        make()
    assert message in str(refused.value)


def test_a_custom_business_calendar_is_refused_as_its_holidays_would_be_lost():
    from pandas.tseries.holiday import USFederalHolidayCalendar
    from pandas.tseries.offsets import CustomBusinessDay

    days = pd.date_range(end="2023-08-31", periods=100, freq=CustomBusinessDay(calendar=USFederalHolidayCalendar()))
    with pytest.raises(DataError, match="custom business calendar .*holidays"):
        dataset_from_pandas({"y": pd.Series(np.random.default_rng(0).normal(size=100), days)})


def test_numpy_numbers_capitals_and_no_reporter_are_taken_as_the_command_line_takes_them(tmp_path, capsys):
    """Settings read from a pandas table are NumPy numbers: the model's JSON could not hold
    them, and train failed once it had trained. Choices are case-blind on the command line,
    and ``reporter=None`` is the natural way to ask for silence."""
    from forecaster.report import QUIET, reporter_given

    index = pd.date_range("2024-01-01", periods=24 * 20, freq="h")
    pd.DataFrame({"time": index.strftime("%Y-%m-%d %H:%M"),
                  "load": 100 + 10 * np.sin(np.arange(len(index)) * 2 * np.pi / 24)
                  + np.random.default_rng(0).normal(0, 1, len(index))}).to_csv(tmp_path / "load.csv", index=False)
    options = TrainOptions(model="Linear", lookback=np.int64(48), horizon=np.int64(6), val_fraction=np.float32(0.25),
                           seed=np.int64(3), target_transform="None")
    assert options.model == "linear" and type(options.lookback) is int and type(options.val_fraction) is float
    data_options = DataOptions(on_duplicate="MEAN", max_gap=np.int64(2))
    assert data_options.on_duplicate == "mean" and type(data_options.max_gap) is int
    assert BacktestOptions(refit="Once", folds=np.int64(2)).refit == "once"
    train(tmp_path / "load.csv", data_options, options, tmp_path / "model", reporter=None)
    saved = read_metadata(tmp_path / "model")["train_options"]
    assert saved["seed"] == 3 and saved["lookback"] == 48 and saved["target_transform"] == "none"
    assert len(forecast(tmp_path / "model", reporter=None)) == 6
    assert capsys.readouterr() == ("", "")
    assert reporter_given("forecast", None) is QUIET


def test_training_gives_the_callers_random_generators_back_as_they_were(tmp_path):
    import random

    index = pd.date_range("2024-01-01", periods=24 * 12, freq="h")
    pd.DataFrame({"time": index.strftime("%Y-%m-%d %H:%M"),
                  "load": 100 + 10 * np.sin(np.arange(len(index)) * 2 * np.pi / 24)}).to_csv(tmp_path / "load.csv",
                                                                                              index=False)
    draws = []
    for caller_seed in (111, 222):
        random.seed(caller_seed)
        np.random.seed(caller_seed)
        train(tmp_path / "load.csv", options=TrainOptions(lookback=24, horizon=6, epochs=1, units=4, ensemble=1, seed=7),
              model_dir=tmp_path / "model")
        draws.append((random.random(), np.random.rand()))
    random.seed(111)
    np.random.seed(111)
    assert draws[0] == (random.random(), np.random.rand())  # as if training had not run
    assert draws[0] != draws[1]
