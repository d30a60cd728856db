"""``--final-fit all``: once validation has chosen the epochs (network) or the penalty
(linear), the model is fitted again on every window, the validation part included, while
everything measured on the validation part (errors, intervals, anomaly threshold) comes from
the model as validated. Real, tiny Keras training on the noisy square wave of the ensemble
tests."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import numpy as np
import pytest

from forecaster.backend import load_keras
from forecaster.baselines import LinearAutoregression
from forecaster.errors import ConfigError
from forecaster.models import NetworkSpec
from forecaster.report import Reporter
from forecaster.training import _fit_single, _windows, evaluate_validation, fit

from .conftest import read_metadata, run_cli
from .test_ensemble_and_ema import TINY, relative_validation_inputs, square_wave


def test_the_validated_model_is_the_one_a_training_part_fit_gives_and_the_final_one_learned_the_rest():
    dataset = square_wave()
    held_out = fit(dataset, TINY)
    final = fit(dataset, replace(TINY, final_fit="all"))
    assert held_out.validated is None and held_out.validated_predictor is held_out.predictor
    assert held_out.best_epoch > 0  # a correction was learned: the refit has epochs to train

    # the first phase is the same run: same weights, same validation figures and calibration
    for a, b in zip(held_out.predictor.get_weights(), final.validated_predictor.get_weights()):
        np.testing.assert_array_equal(a, b)
    expected, got = evaluate_validation(held_out, dataset), evaluate_validation(final, dataset)
    assert got["overall"] == expected["overall"]
    assert got["intervals"] == expected["intervals"]

    # the final model saw the validation windows: it fits them better than the validated one
    windows = relative_validation_inputs(final)
    inputs, targets = final.val_parts[0]
    from forecaster.forecasting import relative_inputs

    relative_targets = relative_inputs(inputs, targets, level=final.level)[1]
    error_of = {name: float(np.mean((model.predict(windows, verbose=0) - relative_targets) ** 2))
                for name, model in (("validated", final.validated_predictor), ("final", final.predictor))}
    assert error_of["final"] < error_of["validated"]
    # its frozen linear skip is the ridge model refitted on every window, the penalty kept
    skip = final.predictor.get_layer("linear_skip")
    assert not skip.trainable
    np.testing.assert_array_equal(skip.get_weights()[0], np.asarray(final.linear.coef, dtype=np.float32))
    assert final.linear.alpha == final.validated_linear.alpha
    assert not np.allclose(final.linear.coef, final.validated_linear.coef)


def test_the_refit_trains_the_chosen_epochs_at_the_learning_rates_they_had():
    dataset = square_wave()
    fitted = fit(dataset, replace(TINY, epochs=2))
    spec = NetworkSpec(lookback=12, horizon=4, n_features=1, units=4)
    every = fitted.train_windows.joined(fitted.train_windows)
    schedule = [0.02, 0.005]
    _, epochs_run, best_epoch, used = _fit_single(spec, TINY, every, None, fitted.linear, Reporter(quiet=True),
                                                  schedule=schedule)
    assert (epochs_run, best_epoch) == (2, 2)
    np.testing.assert_allclose(used, schedule, rtol=1e-6)

    # no chosen epoch: the network is the linear start, untrained
    network, epochs_run, _, used = _fit_single(spec, TINY, every, None, fitted.linear, Reporter(quiet=True),
                                               schedule=[])
    assert epochs_run == 0 and used == []
    np.testing.assert_allclose(network.predict(relative_validation_inputs(fitted), verbose=0),
                               fitted.linear.predict(relative_validation_inputs(fitted)), rtol=0, atol=1e-5)


def test_an_ensemble_refits_each_member_for_its_own_epochs():
    messages = io.StringIO()
    fitted = fit(square_wave(), replace(TINY, ensemble=2, final_fit="all"), Reporter(file=messages, log_format="json"))
    events = [json.loads(line) for line in messages.getvalue().splitlines()]
    # each member's progress: its validated run, then (in the same order) its refit
    refit_epochs = [e for e in events if e["event"] == "epoch" and "val_loss" not in e]
    assert len(refit_epochs) == sum(m["best_epoch"] for m in fitted.members)
    assert fitted.spec["ensemble"] == 2 and fitted.validated_predictor is not fitted.predictor
    load_keras().backend.clear_session()


def test_a_linear_model_is_refitted_on_every_window_with_its_penalty():
    dataset = square_wave()
    fitted = fit(dataset, replace(TINY, model="linear", final_fit="all"))
    assert fitted.predictor is fitted.linear and fitted.validated_predictor is fitted.validated_linear
    _, train_windows, val_windows, _ = _windows(dataset, fitted.options)
    validated = LinearAutoregression.fit(train_windows, val_windows)
    np.testing.assert_array_equal(fitted.validated_linear.coef, validated.coef)
    # the ridge solution on every window, by scikit-learn, with the penalty validation chose
    from sklearn.linear_model import Ridge

    inputs, targets = train_windows.joined(val_windows).gather(slice(None))
    ridge = Ridge(alpha=validated.alpha).fit(inputs.reshape(len(inputs), -1).astype(np.float64), targets)
    assert fitted.linear.alpha == validated.alpha
    np.testing.assert_allclose(fitted.linear.coef, ridge.coef_.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fitted.linear.intercept, ridge.intercept_, rtol=1e-5, atol=1e-6)
    assert not np.allclose(fitted.linear.coef, validated.coef)


def test_unknown_final_fit_is_refused():
    with pytest.raises(ConfigError, match="--final-fit must be one of train, all"):
        replace(TINY, final_fit="everything")


def test_cli_final_fit_all_trains_predicts_and_says_so(tmp_path):
    model_dir = tmp_path / "model"
    result = run_cli("train", "sample_data/stores_daily.csv", "--id-col", "store", "--target", "sales", "--epochs",
                     "2", "--units", "4", "--seed", "3", "--final-fit", "all", "-m", model_dir)
    assert result.exit_code == 0, result.output
    assert "Training again on all" in result.output and "then fitted again on all the data" in result.output
    assert read_metadata(model_dir)["train_options"]["final_fit"] == "all"
    out = tmp_path / "forecast.csv"
    result = run_cli("predict", "sample_data/stores_daily.csv", "-m", model_dir, "-o", out)
    assert result.exit_code == 0, result.output
    assert out.read_text().count("\n") == 1 + 5 * 7

    # a naive model has nothing to refit, and does not claim to
    result = run_cli("train", "sample_data/stores_daily.csv", "--id-col", "store", "--target", "sales", "--model",
                     "seasonal-naive", "--final-fit", "all", "-m", tmp_path / "naive")
    assert result.exit_code == 0, result.output
    assert "again on all" not in result.output

    result = run_cli("train", "sample_data/stores_daily.csv", "--id-col", "store", "--final-fit", "most",
                     "-m", tmp_path / "other")
    assert result.exit_code == 2
    assert "must be one of train, all" in result.output
