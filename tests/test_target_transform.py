"""--target-transform log: the target modelled as its logarithm, forecasts and intervals back in
the data's units, values that have no logarithm refused at training and read at a floor later;
auto, the default, choosing it where it forecasts better; none."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pandas as pd
import pytest

from forecaster.data import DataOptions, Dataset, Series
from forecaster.errors import ConfigError
from forecaster.scaling import SeriesScaler
from forecaster.training import TrainOptions, evaluate_validation, fit

from .conftest import HOURLY, HOURLY_LABELS, STORES, read_metadata, run_cli


def test_the_scaler_models_the_logarithm_and_gives_the_data_back():
    rng = np.random.default_rng(0)
    features = np.column_stack([np.exp(rng.normal(3, 1, 200)), rng.normal(0, 1, 200)])
    scaler = SeriesScaler.fit(features, log_target=True)
    scaled = scaler.transform(features)
    logged = np.log(features[:, 0])
    np.testing.assert_allclose(scaled[:, 0], (logged - logged.mean()) / logged.std(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scaled[:, 1], (features[:, 1] - features[:, 1].mean()) / features[:, 1].std(),
                               rtol=1e-5, atol=1e-5)  # covariates as they are
    np.testing.assert_allclose(scaler.target_to_scaled(features[:, 0]), scaled[:, 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scaler.target_to_original(scaler.target_to_scaled(features[:, 0])), features[:, 0])
    assert SeriesScaler.from_dict(scaler.to_dict()).log_target is True
    # a model saved before the option has no such key: its target was modelled as it is
    old = {"mean": scaler.mean.tolist(), "scale": scaler.scale.tolist()}
    assert SeriesScaler.from_dict(old).log_target is False


def _growing_multiplicative(n_days: int = 240) -> Dataset:
    """Daily sales whose weekly swing grows with a level that grows tenfold: multiplicative."""
    index = pd.date_range("2023-01-01", periods=n_days, freq="D")
    rng = np.random.default_rng(1)
    level = 100 * np.exp(np.log(10) * np.arange(n_days) / n_days)
    weekly = np.array([0.6, 0.8, 1.0, 1.0, 1.2, 1.6, 0.8])[index.day_of_week]
    return _daily(index, level * weekly * np.exp(rng.normal(0, 0.05, n_days)))


def _growing_additive(n_days: int = 240) -> Dataset:
    """Daily values whose weekly swing keeps its size while the level grows tenfold: additive."""
    index = pd.date_range("2023-01-01", periods=n_days, freq="D")
    rng = np.random.default_rng(1)
    level = 100 + 900 * np.arange(n_days) / n_days
    weekly = np.array([-60, -40, 0, 0, 20, 60, 20])[index.day_of_week]
    return _daily(index, level + weekly + rng.normal(0, 5, n_days))


def _daily(index: pd.DatetimeIndex, values: np.ndarray) -> Dataset:
    n_days = len(index)
    series = Series(name="sales", target="sales", first_row=2, index=index, freq="D", values=values,
                    covariates=np.empty((n_days, 0)), missing=np.zeros(n_days, dtype=bool))
    return Dataset(path="sales.csv", options=DataOptions(), series=[series], n_filled=0)


def test_the_log_fits_a_swing_that_grows_with_the_level_better():
    dataset = _growing_multiplicative()
    mae = {}
    for transform in ("none", "log"):
        options = TrainOptions(model="linear", lookback=14, horizon=7, calendar=False, seed=0,
                               target_transform=transform)
        fitted = fit(dataset, options)
        assert fitted.prepared[0].scaler.log_target is (transform == "log")
        mae[transform] = evaluate_validation(fitted, dataset)["overall"]["model"]["mae"]
    assert mae["log"] < 0.9 * mae["none"]


def test_auto_takes_the_log_only_where_it_forecasts_better_and_every_value_has_one():
    def chosen(dataset: Dataset) -> str:
        options = TrainOptions(model="linear", lookback=14, horizon=7, calendar=False, seed=0,
                               target_transform="auto")
        fitted = fit(dataset, options)
        assert fitted.prepared[0].scaler.log_target is (fitted.options.target_transform == "log")
        return fitted.options.target_transform

    assert chosen(_growing_multiplicative()) == "log"
    assert chosen(_growing_additive()) == "none"
    with_zero = _growing_multiplicative()
    with_zero.series[0].values[5] = 0.0
    assert chosen(with_zero) == "none"


def test_a_series_constant_at_0_keeps_neither_the_log_nor_auto_from_the_others():
    # a store closed all year, kept beside the others (it used to be left out): 0 has no
    # logarithm, but a series that never moves needs none, and the others still get it
    dataset = _growing_multiplicative()
    closed = dataclasses.replace(dataset.series[0], name="closed", values=np.zeros(len(dataset.series[0].values)))
    dataset = dataclasses.replace(dataset, series=[dataset.series[0], closed])
    for transform in ("auto", "log"):
        fitted = fit(dataset, TrainOptions(model="linear", lookback=14, horizon=7, calendar=False, seed=0,
                                           target_transform=transform))
        assert fitted.options.target_transform == "log"
        assert [p.scaler.log_target for p in fitted.prepared] == [True, False]
        assert np.isfinite(evaluate_validation(fitted, dataset)["overall"]["model"]["mae"])


def test_plain_train_takes_the_log_where_it_forecasts_better_and_none_turns_it_off(tmp_path):
    series = _growing_multiplicative().series[0]
    csv = tmp_path / "sales.csv"
    pd.DataFrame({"date": series.index, "sales": series.values}).to_csv(csv, index=False)
    chosen = {}
    for transform in (None, "none"):
        model_dir = tmp_path / f"model-{transform}"
        extra = () if transform is None else ("--target-transform", transform)
        trained = run_cli("train", csv, "--model", "linear", "--lookback", 14, "--horizon", 7, "--no-calendar",
                          "--seed", 0, "-m", model_dir, *extra)
        assert trained.exit_code == 0, trained.stderr
        chosen[transform] = read_metadata(model_dir)["train_options"]["target_transform"], trained.stderr
    assert chosen[None][0] == "log" and "Modelling the logarithm of the target" in chosen[None][1]
    assert chosen["none"][0] == "none" and "logarithm" not in chosen["none"][1]


def test_an_unknown_transform_is_refused():
    with pytest.raises(ConfigError, match="--target-transform must be one of auto, none, log"):
        TrainOptions(target_transform="sqrt")
    result = run_cli("train", STORES, "--id-col", "store", "--target", "sales", "--target-transform", "sqrt")
    assert result.exit_code == 2 and "--target-transform" in result.stderr


def test_train_predict_detect_and_evaluate_with_the_log(tmp_path):
    model_dir = tmp_path / "model"
    trained = run_cli("train", STORES, "--id-col", "store", "--target", "sales", "--covariate", "promo",
                      "--target-transform", "log", "--units", 4, "--epochs", 2, "-m", model_dir, "--seed", 0, "-q")
    assert trained.exit_code == 0, trained.stderr
    meta = read_metadata(model_dir)
    assert meta["train_options"]["target_transform"] == "log"
    assert all(series["scaler"]["log_target"] for series in meta["series"])

    forecast = pd.read_csv(io.StringIO(run_cli("predict", "-m", model_dir, "--coverage", 0.8).stdout))
    assert len(forecast) == 5 * meta["network"]["horizon"]
    assert (forecast["lower"] > 0).all() and (forecast["lower"] < forecast["forecast"]).all()
    # symmetric around the forecast in the logarithm, so skewed upwards in the data's units
    np.testing.assert_allclose(forecast["upper"] / forecast["forecast"], forecast["forecast"] / forecast["lower"],
                               rtol=1e-6)
    assert ((forecast["upper"] - forecast["forecast"]) > (forecast["forecast"] - forecast["lower"])).all()

    scores = pd.read_csv(io.StringIO(run_cli("detect-anomalies", STORES, "-m", model_dir).stdout))
    assert scores["score"].notna().sum() > 0.9 * len(scores) and (scores["expected"] > 0).all()

    rows = tmp_path / "rows.csv"
    evaluated = run_cli("evaluate", STORES, "--id-col", "store", "--target", "sales", "--model", "linear",
                        "--target-transform", "log", "--folds", 2, "--seed", 0, "-o", rows, "-q")
    assert evaluated.exit_code == 0, evaluated.stderr
    backtest = pd.read_csv(rows)
    assert (backtest["lower"] > 0).all()
    ours = backtest[backtest["model"] == "model"]
    np.testing.assert_allclose(ours["upper"] / ours["forecast"], ours["forecast"] / ours["lower"], rtol=1e-6)


def test_values_without_a_logarithm_are_refused_with_where_they_are(tmp_path):
    frame = pd.read_csv(STORES)
    first_c = frame.index[frame["store"] == "store_c"][3]
    frame.loc[first_c, "sales"] = 0.0
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    model_dir = tmp_path / "model"
    refused = run_cli("train", bad, "--id-col", "store", "--target", "sales", "--model", "linear",
                      "--target-transform", "log", "-m", model_dir)
    assert refused.exit_code == 1
    message = refused.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert "bad.csv" in message and "column 'sales'" in message and "series 'store_c'" in message
    assert str(frame.loc[first_c, "date"]) in message and "above 0" in message
    assert not model_dir.exists()

    assert run_cli("train", bad, "--id-col", "store", "--target", "sales", "--model", "linear", "-m",
                   tmp_path / "plain", "-q").exit_code == 0  # without the log, 0 is a value like any other
    assert read_metadata(tmp_path / "plain")["train_options"]["target_transform"] == "none"  # the default


def test_a_value_without_a_logarithm_given_later_is_read_at_a_floor_and_flagged(tmp_path):
    model_dir = tmp_path / "model"
    trained = run_cli("train", STORES, "--id-col", "store", "--target", "sales", "--model", "linear",
                      "--target-transform", "log", "-m", model_dir, "-q")
    assert trained.exit_code == 0, trained.stderr
    frame = pd.read_csv(STORES)
    outage = frame.index[frame["store"] == "store_c"][-3]
    frame.loc[outage, "sales"] = 0.0
    later = tmp_path / "later.csv"
    frame.to_csv(later, index=False)

    forecast = run_cli("predict", later, "-m", model_dir)
    assert forecast.exit_code == 0, forecast.stderr
    warning = forecast.stderr.strip()
    assert "\n" not in warning and "later.csv" in warning and "series 'store_c'" in warning
    assert str(frame.loc[outage, "date"]) in warning and "--target-transform none" in warning
    assert "00:00:00" not in warning  # a daily series' dates, as every other message shows them
    values = pd.read_csv(io.StringIO(forecast.stdout))
    assert np.isfinite(values[["forecast", "lower", "upper"]].to_numpy()).all() and (values["lower"] > 0).all()

    scores = pd.read_csv(io.StringIO(run_cli("detect-anomalies", later, "-m", model_dir, "-q").stdout))
    store_c = scores[scores["series"] == "store_c"].reset_index(drop=True)
    at = store_c.index[store_c["timestamp"] == str(frame.loc[outage, "date"])][0]
    assert store_c.loc[at, "is_anomaly"] == 1 and store_c.loc[at, "score"] >= store_c["score"].quantile(0.99)


def test_a_model_of_the_logarithm_scores_anomalies_on_the_values(tmp_path):
    """In the logarithm a surge counts in proportion to its level; scored on the values, the log
    model flags every injected spike and dip of the hourly sample, as the plain model does. A
    model calibrated before (no ``scored_on``) keeps scoring the logarithm, as it was calibrated."""
    model_dir = tmp_path / "model"
    trained = run_cli("train", HOURLY, "--target", "load", "--covariate", "temperature", "--model", "linear",
                      "--target-transform", "log", "-m", model_dir, "--seed", 0, "-q")
    assert trained.exit_code == 0, trained.stderr
    meta = read_metadata(model_dir)
    assert [s["anomaly"]["scored_on"] for s in meta["series"]] == ["values"]

    labels = pd.read_csv(HOURLY_LABELS, parse_dates=["timestamp"])
    points = labels.loc[labels["kind"].isin(["spike", "dip"]), "timestamp"]

    def scores() -> pd.DataFrame:
        result = run_cli("detect-anomalies", "-m", model_dir)
        assert result.exit_code == 0, result.stderr
        return pd.read_csv(io.StringIO(result.stdout), parse_dates=["timestamp"])

    on_values = scores()
    clean = ~on_values["timestamp"].isin(labels["timestamp"])
    assert on_values.loc[on_values["timestamp"].isin(points), "is_anomaly"].all()
    assert on_values.loc[clean, "is_anomaly"].mean() < 0.005

    del meta["series"][0]["anomaly"]["scored_on"]
    (model_dir / "metadata.json").write_text(json.dumps(meta))
    on_logarithm = scores()
    assert not np.allclose(on_logarithm["score"], on_values["score"], equal_nan=True)
    assert on_logarithm.loc[on_logarithm["timestamp"].isin(points), "is_anomaly"].sum() < len(points)


def test_scoring_units_are_the_values_over_their_geometric_mean():
    from forecaster.anomaly import scoring_units

    values = np.array([[4.0], [8.0], [16.0], [2.0]])
    scaler = SeriesScaler.fit(values, log_target=True)
    scaled = scaler.transform(values)[:, 0]
    geometric_mean = np.exp(np.mean(np.log(values[:, 0])))
    np.testing.assert_allclose(scoring_units(scaled, float(scaler.scale[0])), values[:, 0] / geometric_mean, rtol=1e-5)
    np.testing.assert_array_equal(scoring_units(scaled, None), scaled)
