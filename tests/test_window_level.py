"""Windows relative to their last value or to their mean (``--window-level``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster.artifacts import load_artifact
from forecaster.baselines import LinearAutoregression
from forecaster.data import Dataset, dataset_from_pandas
from forecaster.forecasting import forecast, series_inputs
from forecaster.report import QUIET
from forecaster.training import LEVEL_MARGIN, TrainOptions, _windows, fit

from .conftest import read_metadata, run_cli


def in_memory(values: np.ndarray) -> Dataset:
    return dataset_from_pandas({"x": pd.Series(values, pd.date_range("2024-01-01", periods=len(values), freq="h"))})


def wandering(n: int = 400, seed: int = 0) -> np.ndarray:
    """A random walk: the latest value is the best guess of the next, the window's mean a poor one."""
    return 100 + np.cumsum(np.random.default_rng(seed).normal(size=n))


def validation_mse(level: str, values: np.ndarray, **shape) -> float:
    """The linear model's validation MSE (scaled units) fitted relative to ``level``."""
    options = TrainOptions(model="linear", calendar=False, seed=0, window_level=level, **shape)
    _, train_windows, val_windows, _ = _windows(in_memory(values), options)
    inputs, targets = val_windows.gather(slice(None))
    linear = LinearAutoregression.fit(train_windows, val_windows)
    return float(np.mean((linear.predict(inputs).astype(np.float64) - targets) ** 2))


def test_auto_takes_the_last_value_for_a_wandering_series_and_the_mean_for_a_steady_cycle():
    shape = {"lookback": 48, "horizon": 6}
    walk = wandering()
    fitted = fit(in_memory(walk), TrainOptions(model="linear", calendar=False, seed=0, **shape))
    assert fitted.level == fitted.options.window_level == "last"
    errors = {level: validation_mse(level, walk, **shape) for level in ("mean", "last")}
    assert errors["last"] < (1 - LEVEL_MARGIN) * errors["mean"]
    assert fitted.level_errors == pytest.approx(errors, rel=1e-6)

    steps = np.arange(400)
    cycle = 50 + 10 * np.sin(2 * np.pi * steps / 24) + np.random.default_rng(1).normal(size=400)
    fitted = fit(in_memory(cycle), TrainOptions(model="linear", calendar=False, seed=0, **shape))
    assert fitted.level == "mean"
    assert validation_mse("mean", cycle, **shape) < validation_mse("last", cycle, **shape)
    # a level given is kept, whatever validation would say, and nothing is measured
    fitted = fit(in_memory(cycle), TrainOptions(model="linear", calendar=False, seed=0, window_level="last", **shape))
    assert fitted.level == "last" and fitted.level_errors == {}


@pytest.fixture(scope="module")
def walk_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("walk") / "walk.csv"
    values = wandering(300, seed=2)
    pd.DataFrame({"time": pd.date_range("2024-01-01", periods=len(values), freq="h"), "value": values}).to_csv(
        path, index=False)
    return path


def test_predict_forecasts_from_the_level_the_model_was_trained_on(walk_csv, tmp_path):
    model_dir, out = tmp_path / "model", tmp_path / "forecast.csv"
    trained = run_cli("train", walk_csv, "-m", model_dir, "--model", "linear", "--window-level", "last",
                      "--lookback", 12, "--horizon", 3, "--no-calendar", "--seed", 0)
    assert trained.exit_code == 0, trained.stderr
    assert read_metadata(model_dir)["network"]["window_level"] == "last"
    result = run_cli("predict", walk_csv, "-m", model_dir, "-o", out)
    assert result.exit_code == 0, result.stderr
    predicted = pd.read_csv(out)["forecast"].to_numpy()

    # by hand: the last window less its last value, through the ridge, the last value added back
    artifact = load_artifact(model_dir)
    (item,) = series_inputs(artifact, walk_csv, QUIET, full_history=False)
    window = item.scaler.transform(item.raw[-12:])
    relative = window[:, 0] - window[-1, 0]
    linear = artifact.network
    expected = item.scaler.target_to_original(relative @ linear.coef + linear.intercept + window[-1, 0])
    np.testing.assert_allclose(predicted, expected, rtol=1e-5)
    # read as relative to the mean, the same coefficients forecast something else
    metadata = read_metadata(model_dir)
    metadata["network"]["window_level"] = "mean"
    (model_dir / "metadata.json").write_text(json.dumps(metadata))
    assert not np.allclose(forecast(model_dir, walk_csv)["forecast"].to_numpy(), predicted, rtol=1e-3)


def test_a_network_relative_to_the_last_value_flags_a_jump_in_a_wandering_series(walk_csv, tmp_path, monkeypatch):
    frame = pd.read_csv(walk_csv)
    frame.loc[280:, "value"] += 25  # a level shift of many steps' worth of wandering, after training
    data = tmp_path / "shifted.csv"
    frame.to_csv(data, index=False)
    model_dir, out = tmp_path / "model", tmp_path / "anomalies.csv"
    trained = run_cli("train", walk_csv, "-m", model_dir, "--lookback", 24, "--horizon", 3, "--units", 4,
                      "--epochs", 3, "--no-calendar", "--seed", 0, "-v")
    assert trained.exit_code == 0, trained.stderr
    assert "relative to their last value" in trained.stderr
    metadata = read_metadata(model_dir)
    assert metadata["network"]["window_level"] == "last"
    errors = metadata["training"]["window_level_errors"]
    assert errors["last"] < errors["mean"]
    monkeypatch.setenv("COLUMNS", "250")  # one line per row
    assert (f"windows relative to their last value (linear validation MSE {errors['last']:.3g} from the last value, "
            f"{errors['mean']:.3g} from the mean)" in run_cli("info", "-m", model_dir).stdout)
    result = run_cli("detect-anomalies", data, "-m", model_dir, "-o", out)
    assert result.exit_code == 0, result.stderr
    scores = pd.read_csv(out)
    flagged = scores.loc[scores["is_anomaly"] == 1, "timestamp"].tolist()
    assert frame.loc[280, "time"] in flagged
    assert len(flagged) <= 6


def test_a_model_from_before_the_choice_is_read_relative_to_its_mean(walk_csv, tmp_path):
    model_dir = tmp_path / "model"
    trained = run_cli("train", walk_csv, "-m", model_dir, "--model", "linear", "--window-level", "mean",
                      "--lookback", 12, "--horizon", 3, "--seed", 0)
    assert trained.exit_code == 0, trained.stderr
    before = run_cli("predict", walk_csv, "-m", model_dir)
    metadata = read_metadata(model_dir)
    del metadata["network"]["window_level"]
    metadata["schema_version"] = 2
    (model_dir / "metadata.json").write_text(json.dumps(metadata))
    after = run_cli("predict", walk_csv, "-m", model_dir)
    assert after.exit_code == 0 == before.exit_code, after.stderr
    assert after.stdout == before.stdout
    assert "relative to their mean" in run_cli("info", "-m", model_dir).stdout

    metadata["network"]["window_level"] = "median"
    (model_dir / "metadata.json").write_text(json.dumps(metadata))
    refused = run_cli("predict", walk_csv, "-m", model_dir)
    assert refused.exit_code == 1
    assert refused.stderr.count("\n") == 1 and "unknown window level 'median'" in refused.stderr
    assert "retrain" in refused.stderr


def test_an_unknown_window_level_option_is_a_usage_error(walk_csv, tmp_path):
    result = run_cli("train", walk_csv, "-m", tmp_path / "model", "--window-level", "median")
    assert result.exit_code == 2
    assert "--window-level" in result.stderr and "auto, mean, last" in result.stderr
    assert not (tmp_path / "model").exists()
