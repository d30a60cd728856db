"""Baselines as predictors and as models a user can train, predict and score with."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from forecaster.baselines import LinearAutoregression, SeasonalNaive, seasonal_naive
from forecaster.forecasting import predict_scaled
from forecaster.windows import input_windows

from .conftest import HOURLY, read_metadata, run_cli


@pytest.mark.parametrize("level", ["mean", "last"])
def test_seasonal_naive_predictor_matches_the_history_function(level):
    rng = np.random.default_rng(1)
    series = rng.normal(size=200)
    lookback, horizon, season = 30, 17, 7
    windows = input_windows(series[:-1, None], lookback)[:150]  # window i precedes step i + lookback
    starts = np.arange(150) + lookback
    predicted = predict_scaled(SeasonalNaive(lookback, horizon, season), windows, level=level)
    np.testing.assert_allclose(predicted, seasonal_naive(series, starts, horizon, season), atol=1e-5)
    naive = predict_scaled(SeasonalNaive(lookback, horizon), windows, level=level)
    np.testing.assert_allclose(naive, np.repeat(series[starts - 1, None], horizon, axis=1), atol=1e-5)


def test_seasonal_naive_needs_the_season_inside_the_window():
    with pytest.raises(ValueError, match="season 24"):
        SeasonalNaive(lookback=12, horizon=6, season=24)


def test_linear_model_learns_a_linear_recurrence_and_round_trips(tmp_path):
    # y[t] = 0.6 y[t-1] - 0.3 y[t-2] + tiny noise: the exact one-step map is linear
    rng = np.random.default_rng(0)
    y = np.zeros(3000)
    for t in range(2, len(y)):
        y[t] = 0.6 * y[t - 1] - 0.3 * y[t - 2] + rng.normal(0, 1.0)
    windows = input_windows(y[:, None], 8)[:-1]
    targets = y[8:, None]
    split = 2500
    model = LinearAutoregression.fit((windows[:split], targets[:split]), (windows[split:], targets[split:]))
    np.testing.assert_allclose(model.coef[-2:, 0], [-0.3, 0.6], atol=0.06)
    np.testing.assert_allclose(model.coef[:-2, 0], 0.0, atol=0.06)
    model.save(tmp_path / "linear.npz")
    again = LinearAutoregression.load(tmp_path / "linear.npz", 8, 1)
    np.testing.assert_array_equal(again.predict(windows[split:]), model.predict(windows[split:]))
    assert again.alpha == model.alpha


@pytest.mark.parametrize("model", ["linear", "naive", "seasonal-naive"])
def test_a_baseline_trains_predicts_and_scores_like_the_network(tmp_path, model):
    model_dir = tmp_path / "model"
    result = run_cli("train", HOURLY, "--target", "load", "--covariate", "temperature", "--model", model, "-m", model_dir)
    assert result.exit_code == 0, result.stderr
    assert f"{model} model" in result.stderr
    meta = read_metadata(model_dir)
    assert meta["network"]["model"] == model
    files = {p.name for p in model_dir.iterdir()}
    assert ("linear.npz" in files) == (model == "linear") and "model.keras" not in files
    # the naive models are exactly the baselines they are compared with
    baseline = {"linear": "linear", "naive": "naive", "seasonal-naive": "seasonal_naive"}[model]
    assert meta["metrics"]["model"] == pytest.approx(meta["metrics"][baseline])

    forecast = pd.read_csv(io.StringIO(run_cli("predict", "-m", model_dir).stdout))
    assert len(forecast) == 24 and (forecast["lower"] <= forecast["upper"]).all()
    scores = pd.read_csv(io.StringIO(run_cli("detect-anomalies", "-m", model_dir).stdout))
    assert len(scores) == 2880 - meta["network"]["lookback"] and scores["score"].notna().all()
    described = run_cli("info", "-m", model_dir).stdout
    assert f"{model} model" in described and "closed form" in described
    assert "model=" in described and "units=" not in described and "cell=" not in described  # a network's only


def test_linear_model_beats_seasonal_naive_and_predicts_without_tensorflow(tmp_path):
    model_dir = tmp_path / "model"
    assert run_cli("train", HOURLY, "--target", "load", "--model", "linear", "-m", model_dir, "-q").exit_code == 0
    metrics = read_metadata(model_dir)["metrics"]
    assert metrics["model"]["mae"] < metrics["seasonal_naive"]["mae"]
    probe = textwrap.dedent(
        f"""
        import sys
        from forecaster import cli
        sys.argv = ["forecaster", "predict", "-m", {str(model_dir)!r}, "-o", {str(tmp_path / "f.csv")!r}]
        try:
            cli.main()
        except SystemExit as exit:
            assert exit.code in (0, None), exit.code
        print("TF", "tensorflow" in sys.modules or "keras" in sys.modules, file=sys.stderr)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "TF False" in done.stderr
    assert len(pd.read_csv(tmp_path / "f.csv")) == 24


def test_seasonal_naive_model_refuses_a_lookback_shorter_than_a_season(tmp_path):
    result = run_cli("train", HOURLY, "--target", "load", "--model", "seasonal-naive", "--lookback", 12,
                     "-m", tmp_path / "m")
    assert result.exit_code == 1
    assert "at least one season (24 steps)" in result.stderr
    assert not (tmp_path / "m").exists()


def test_unknown_model_type_is_a_usage_error(tmp_path):
    result = run_cli("train", HOURLY, "--model", "prophet", "-m", tmp_path / "m")
    assert result.exit_code == 2
    assert "--model" in result.stderr


@pytest.mark.parametrize("n_features", [1, 3])
def test_the_linear_model_is_scikit_learns_ridge_with_the_penalty_validation_prefers(n_features):
    from sklearn.linear_model import Ridge

    from forecaster.baselines import RIDGE_ALPHAS

    rng = np.random.default_rng(n_features)
    n, lookback, horizon = 3000, 6, 3
    x = rng.normal(size=(n, lookback, n_features)) + 40.0  # far from zero: the centring must hold
    if n_features > 1:
        x[:, :, 1] = x[:, :1, 1]  # a channel constant along each window, as calendar channels are
    weights = rng.normal(size=(lookback * n_features, horizon))
    y = x.reshape(n, -1) @ weights + rng.normal(0, 3.0, (n, horizon))
    train, validation = (x[:2000], y[:2000]), (x[2000:], y[2000:])
    model = LinearAutoregression.fit(train, validation)
    errors = {}
    for alpha in RIDGE_ALPHAS:
        ridge = Ridge(alpha=alpha).fit(train[0].reshape(2000, -1), train[1])
        errors[alpha] = np.mean((ridge.predict(validation[0].reshape(1000, -1)) - validation[1]) ** 2)
        if alpha == model.alpha:
            np.testing.assert_allclose(model.coef, ridge.coef_.T, rtol=1e-6, atol=1e-8)
            np.testing.assert_allclose(model.intercept, ridge.intercept_, rtol=1e-6, atol=1e-6)
    assert model.alpha == min(errors, key=errors.get)


@pytest.mark.parametrize("level", ["mean", "last"])
def test_the_linear_model_fits_the_same_from_a_window_set_as_from_copied_windows(monkeypatch, level):
    from forecaster import baselines
    from forecaster.windows import WindowSet, relative_inputs, supervised_windows, window_spans

    rng = np.random.default_rng(5)
    lookback, horizon = 8, 4
    features = [np.cumsum(rng.normal(size=(n, 2)), axis=0).astype(np.float32) for n in (300, 500, 200)]
    splits = [240, 400, 160]
    spans = [window_spans(len(f), lookback, horizon, split) for f, split in zip(features, splits)]
    train_set, val_set = WindowSet.from_series(features, list(zip(*spans)), lookback, horizon, level=level)

    def copied(which):
        parts = [supervised_windows(f, f[:, 0], lookback, horizon, *span[which]) for f, span in zip(features, spans)]
        return relative_inputs(np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts]),
                               level=level)

    from_arrays = LinearAutoregression.fit(copied(0), copied(1))
    monkeypatch.setattr(baselines, "CHUNK_WINDOWS", 97)  # sums over many uneven chunks
    from_sets = LinearAutoregression.fit(train_set, val_set)
    assert from_sets.alpha == from_arrays.alpha
    np.testing.assert_allclose(from_sets.coef, from_arrays.coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(from_sets.intercept, from_arrays.intercept, rtol=1e-9, atol=1e-12)


def test_the_linear_model_keeps_the_input_channels_that_lower_the_validation_error():
    rng = np.random.default_rng(11)
    n, lookback, horizon = 3000, 5, 2
    x = rng.normal(size=(n, lookback, 3))
    # channel 1 carries the signal of the last step; channel 2 is noise
    y = np.column_stack([x[:, -1, 0] + 2 * x[:, -1, 1], x[:, -2, 1]]) + rng.normal(0, 0.1, (n, horizon))
    train, validation = (x[:2000], y[:2000]), (x[2000:], y[2000:])
    sets = [[0], [0, 2], [0, 1], None]
    model, chosen = LinearAutoregression.fit_choosing_channels(train, validation, sets)
    assert chosen == 2  # the smallest set with the signal; noise adds only error
    # the model on a subset is the one fitted on windows of those channels alone
    alone = LinearAutoregression.fit((x[:2000, :, [0, 1]], y[:2000]), (x[2000:, :, [0, 1]], y[2000:]))
    assert model.alpha == alone.alpha
    np.testing.assert_allclose(model.coef, alone.coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.intercept, alone.intercept, rtol=1e-9, atol=1e-12)
