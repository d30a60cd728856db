"""Forecast metrics against values worked out by hand (the arithmetic is in the comments)."""

import numpy as np
import pytest

from forecaster.metrics import (
    error_summary,
    forecast_summary,
    grouped_forecast_summary,
    interval_coverage,
    mae,
    mase,
    mean_interval_width,
    owa,
    per_step,
    rmse,
    seasonal_scale,
    smape,
)

NAN = np.nan


# --- sMAPE -------------------------------------------------------------------------------------


def test_smape_by_hand_with_zero_pair_and_nan():
    actual = np.array([100.0, 200.0, 0.0, NAN])
    predicted = np.array([110.0, 180.0, 0.0, 5.0])
    # 200·10/210 = 200/21, 200·20/380 = 200/19, 0 and 0 → 0, the NaN pair is ignored:
    # (200/21 + 200/19 + 0) / 3 = 8000/399 / 3 = 8000/1197 ≈ 6.6834
    assert smape(actual, predicted) == pytest.approx(8000 / 1197)


def test_smape_bounds_and_sign():
    # one side zero: 200·5/(0 + 5) = 200, the maximum
    assert smape(np.array([0.0]), np.array([5.0])) == pytest.approx(200.0)
    # opposite signs: 200·|−1 − 1|/(1 + 1) = 200
    assert smape(np.array([-1.0]), np.array([1.0])) == pytest.approx(200.0)
    # negative values use absolute values in the denominator: 200·1/(4 + 3) = 200/7
    assert smape(np.array([-4.0]), np.array([-3.0])) == pytest.approx(200 / 7)
    assert smape(np.array([3.0, 0.0]), np.array([3.0, 0.0])) == 0.0


def test_smape_is_symmetric_in_its_arguments_and_pools_2d():
    actual = np.array([[10.0, 20.0], [30.0, 40.0]])
    predicted = np.array([[12.0, 20.0], [24.0, 50.0]])
    # 200·2/22 = 18.1818…, 0, 200·6/54 = 22.2222…, 200·10/90 = 22.2222… → mean 15.6566…
    expected = (400 / 22 + 0 + 1200 / 54 + 2000 / 90) / 4
    assert smape(actual, predicted) == pytest.approx(expected)
    assert smape(predicted, actual) == pytest.approx(expected)


def test_smape_nan_when_nothing_finite_and_shape_checked():
    assert np.isnan(smape(np.array([NAN, 1.0]), np.array([1.0, np.inf])))
    with pytest.raises(ValueError, match="same shape"):
        smape(np.zeros((2, 3)), np.zeros(6))


# --- seasonal scale and MASE -------------------------------------------------------------------


def test_seasonal_scale_by_hand():
    insample = np.array([1.0, 3.0, 2.0, 6.0, 4.0])
    # m = 2: |2 − 1| = 1, |6 − 3| = 3, |4 − 2| = 2 → 6/3 = 2
    assert seasonal_scale(insample, 2) == pytest.approx(2.0)
    # m = 1: |3 − 1| = 2, |2 − 3| = 1, |6 − 2| = 4, |4 − 6| = 2 → 9/4
    assert seasonal_scale(insample, 1) == pytest.approx(2.25)
    # m = 4: only |4 − 1| = 3
    assert seasonal_scale(insample, 4) == pytest.approx(3.0)


def test_seasonal_scale_skips_differences_with_nan():
    # m = 2: |NaN − 1| skipped, |6 − 3| = 3, |4 − NaN| skipped → 3
    assert seasonal_scale(np.array([1.0, 3.0, NAN, 6.0, 4.0]), 2) == pytest.approx(3.0)


@pytest.mark.parametrize("insample,season", [(np.array([1.0, 2.0]), 2), (np.array([5.0]), 1), (np.array([]), 1),
                                             (np.array([1.0, NAN, NAN, 4.0]), 2)])
def test_seasonal_scale_too_short_raises(insample, season):
    with pytest.raises(ValueError, match="too short for season"):
        seasonal_scale(insample, season)


@pytest.mark.parametrize("season", [0, -1, 1.5])
def test_seasonal_scale_rejects_bad_season(season):
    with pytest.raises(ValueError, match="season"):
        seasonal_scale(np.arange(10.0), season)


def test_seasonal_scale_needs_one_series():
    with pytest.raises(ValueError, match=r"\(n_steps,\)"):
        seasonal_scale(np.ones((5, 2)), 1)


def test_mase_by_hand_several_windows_of_one_series():
    insample = np.array([1.0, 3.0, 2.0, 6.0, 4.0])  # scale with m = 2 is 2 (see above)
    actual = np.array([[5.0, 7.0], [6.0, NAN]])
    predicted = np.array([[4.0, 9.0], [6.0, 1.0]])
    # errors 1, 2, 0 (NaN pair ignored) → MAE 1 → MASE 1/2
    assert mase(actual, predicted, insample, 2) == pytest.approx(0.5)
    # the same forecasts against the naive (m = 1) scale 2.25: 1/2.25
    assert mase(actual, predicted, insample, 1) == pytest.approx(1 / 2.25)


def test_mase_of_the_in_sample_seasonal_naive_is_one():
    # the scale *is* the in-sample MAE of the seasonal-naive forecast, so scoring that forecast
    # on the in-sample data itself gives exactly 1
    insample = np.array([3.0, 8.0, 4.0, 9.0, 7.0, 6.0, 5.0, 10.0])
    assert mase(insample[2:], insample[:-2], insample, 2) == pytest.approx(1.0)


def test_mase_zero_scale_is_inf_or_nan_without_warning():
    repeating = np.array([1.0, 2.0, 1.0, 2.0, 1.0, 2.0])  # |y_t − y_{t−2}| = 0 everywhere
    with np.errstate(all="raise"):
        assert mase(np.array([1.0, 2.0]), np.array([1.5, 2.0]), repeating, 2) == np.inf
        assert np.isnan(mase(np.array([1.0, 2.0]), np.array([1.0, 2.0]), repeating, 2))


def test_mase_raises_for_short_insample():
    with pytest.raises(ValueError, match="too short for season 24"):
        mase(np.ones(3), np.ones(3), np.arange(24.0), 24)


# --- intervals ---------------------------------------------------------------------------------


def test_interval_coverage_by_hand_bounds_inclusive():
    actual = np.array([1.0, 2.0, 3.0, 4.0, NAN])
    lower = np.array([0.0, 2.0, 3.5, 0.0, 0.0])
    upper = np.array([2.0, 2.0, 5.0, 3.9, 1.0])
    # 1 ∈ [0, 2] yes; 2 ∈ [2, 2] yes (both ends included); 3 ∈ [3.5, 5] no; 4 ∈ [0, 3.9] no;
    # the NaN actual does not count → 2/4
    assert interval_coverage(actual, lower, upper) == pytest.approx(0.5)
    # widths 2, 0, 1.5, 3.9, 1 → 8.4/5 (a width does not need the actual)
    assert mean_interval_width(lower, upper) == pytest.approx(1.68)


def test_interval_coverage_ignores_missing_bounds():
    actual = np.array([1.0, 10.0, 5.0])
    lower = np.array([0.0, NAN, 6.0])
    upper = np.array([2.0, 20.0, 7.0])
    # cell 2 has no lower bound and is skipped: 1 ∈ [0, 2] yes, 5 ∈ [6, 7] no → 1/2
    assert interval_coverage(actual, lower, upper) == pytest.approx(0.5)
    # widths of the complete intervals: 2 and 1 → 1.5
    assert mean_interval_width(lower, upper) == pytest.approx(1.5)


def test_interval_edge_cases():
    assert interval_coverage(np.array([5.0]), np.array([5.0]), np.array([5.0])) == 1.0
    assert interval_coverage(np.array([5.0, 6.0]), np.array([0.0, 7.0]), np.array([1.0, 8.0])) == 0.0
    assert np.isnan(interval_coverage(np.array([NAN]), np.array([0.0]), np.array([1.0])))
    assert np.isnan(mean_interval_width(np.array([NAN]), np.array([1.0])))
    with pytest.raises(ValueError, match="lower bound above upper bound in 1 of 2"):
        interval_coverage(np.array([1.0, 1.0]), np.array([0.0, 3.0]), np.array([2.0, 2.0]))
    with pytest.raises(ValueError, match="lower bound above upper bound"):
        mean_interval_width(np.array([1.0]), np.array([0.0]))
    with pytest.raises(ValueError, match="same shape"):
        interval_coverage(np.ones(3), np.zeros(3), np.ones(2))


# --- OWA ---------------------------------------------------------------------------------------


def test_owa_by_hand():
    # ½ · (10/20 + 1/2) = ½ · (0.5 + 0.5)
    assert owa(10.0, 1.0, 20.0, 2.0) == pytest.approx(0.5)
    # ½ · (15/20 + 3/2) = ½ · (0.75 + 1.5) = 1.125
    assert owa(15.0, 3.0, 20.0, 2.0) == pytest.approx(1.125)
    assert owa(18.383, 2.395, 18.383, 2.395) == pytest.approx(1.0)


def test_owa_matches_official_m4_hourly_snaive_from_published_numbers():
    # M4 Hourly: sNaive 13.912 / 1.193, Naive2 18.383 / 2.395, official OWA 0.627
    # ½ · (0.756787… + 0.498121…) = 0.627454…
    assert owa(13.912, 1.193, 18.383, 2.395) == pytest.approx(0.627454, abs=1e-6)


@pytest.mark.parametrize("naive2", [(0.0, 1.0), (1.0, 0.0), (NAN, 1.0), (1.0, -2.0)])
def test_owa_rejects_degenerate_naive2(naive2):
    with pytest.raises(ValueError, match="naive2"):
        owa(1.0, 1.0, *naive2)


# --- per step ----------------------------------------------------------------------------------


ACTUAL = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, NAN]])
PREDICTED = np.array([[2.0, 2.0], [3.0, 6.0], [7.0, 1.0]])


def test_per_step_by_hand():
    # step 0: errors 1, 0, 2 → MAE 1, RMSE √(5/3); step 1: errors 0, 2 (NaN pair ignored) → 1, √2
    np.testing.assert_allclose(per_step(mae, ACTUAL, PREDICTED), [1.0, 1.0])
    np.testing.assert_allclose(per_step(rmse, ACTUAL, PREDICTED), [np.sqrt(5 / 3), np.sqrt(2)])
    assert per_step(mae, ACTUAL, PREDICTED).shape == (2,)


def test_per_step_shape_follows_horizon_and_passes_keywords():
    rng = np.random.default_rng(0)
    actual, predicted = rng.normal(10, 1, (7, 5)), rng.normal(10, 1, (7, 5))
    insample = rng.normal(10, 1, 50)
    steps = per_step(mase, actual, predicted, insample=insample, season=24)
    assert steps.shape == (5,)
    scale = seasonal_scale(insample, 24)
    np.testing.assert_allclose(steps, np.abs(actual - predicted).mean(axis=0) / scale)
    # with equal counts per step, the mean of the per-step MAE is the pooled MAE
    assert per_step(mae, actual, predicted).mean() == pytest.approx(mae(actual, predicted))


def test_per_step_intervals_and_empty_step():
    actual = np.array([[1.0, NAN], [5.0, NAN]])
    lower = np.array([[0.0, 0.0], [0.0, 0.0]])
    upper = np.array([[2.0, 2.0], [4.0, 2.0]])
    # step 0: 1 ∈ [0, 2] yes, 5 ∈ [0, 4] no → 0.5; step 1: no finite actual → NaN
    coverage = per_step(interval_coverage, actual, lower, upper)
    assert coverage[0] == pytest.approx(0.5) and np.isnan(coverage[1])
    # widths per step: (2 + 4)/2 = 3, (2 + 2)/2 = 2
    np.testing.assert_allclose(per_step(mean_interval_width, lower, upper), [3.0, 2.0])


def test_per_step_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(n_windows, horizon\)"):
        per_step(mae, np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="same shape"):
        per_step(mae, np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="at least one"):
        per_step(mae)


# --- summaries ---------------------------------------------------------------------------------


def test_error_summary_unchanged():
    summary = error_summary(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 5.0]))
    # errors 1, 0, 2 → MAE 1, RMSE √(5/3)
    assert set(summary) == {"mae", "rmse"}
    assert summary["mae"] == pytest.approx(1.0) and summary["rmse"] == pytest.approx(np.sqrt(5 / 3))


def test_forecast_summary_point_only():
    summary = forecast_summary(ACTUAL, PREDICTED)
    assert set(summary) == {"mae", "rmse", "smape"}
    # finite pairs (1,2) (2,2) (3,3) (4,6) (5,7): errors 1, 0, 0, 2, 2 → MAE 5/5 = 1, RMSE √(9/5)
    assert summary["mae"] == pytest.approx(1.0)
    assert summary["rmse"] == pytest.approx(np.sqrt(9 / 5))
    # sMAPE terms: 200·1/3, 0, 0, 200·2/10, 200·2/12 → (66.67 + 40 + 33.33)/5 = 28
    assert summary["smape"] == pytest.approx(28.0)


def test_forecast_summary_mase_is_mean_of_per_series_mase():
    actual = np.array([[10.0, 10.0], [100.0, 100.0]])
    predicted = np.array([[12.0, 8.0], [110.0, 90.0]])
    # series A: MAE 2, scale 1 → 2; series B: MAE 10, scale 10 → 1; mean over series 1.5
    # (one pooled MAE 6 over one scale would give something else)
    summary = forecast_summary(actual, predicted, insample_scale=np.array([1.0, 10.0]))
    assert summary["mase"] == pytest.approx(1.5)
    # a scalar scale is MAE / scale = 6/2
    assert forecast_summary(actual, predicted, insample_scale=2.0)["mase"] == pytest.approx(3.0)
    # agrees with mase() series by series
    a_series = mase(actual[0], predicted[0], np.array([0.0, 1.0]), 1)
    b_series = mase(actual[1], predicted[1], np.array([0.0, 10.0]), 1)
    assert summary["mase"] == pytest.approx((a_series + b_series) / 2)


def test_forecast_summary_with_intervals():
    actual = np.array([[1.0, 2.0], [3.0, 4.0]])
    predicted = np.array([[1.0, 2.0], [3.0, 4.0]])
    lower = np.array([[0.0, 2.5], [2.0, 3.0]])
    upper = np.array([[2.0, 3.5], [4.0, 4.0]])
    summary = forecast_summary(actual, predicted, lower, upper)
    # 1 ∈ [0, 2] yes, 2 ∈ [2.5, 3.5] no, 3 ∈ [2, 4] yes, 4 ∈ [3, 4] yes → 3/4; widths 2, 1, 2, 1 → 1.5
    assert summary["coverage"] == pytest.approx(0.75)
    assert summary["width"] == pytest.approx(1.5)
    assert summary["mae"] == 0.0 and summary["smape"] == 0.0 and "mase" not in summary


def test_forecast_summary_rejects_bad_arguments():
    a = np.ones((2, 3))
    with pytest.raises(ValueError, match="both lower and upper"):
        forecast_summary(a, a, lower=a)
    with pytest.raises(ValueError, match="insample_scale"):
        forecast_summary(a, a, insample_scale=np.ones(3))
    with pytest.raises(ValueError, match="same shape"):
        forecast_summary(a, np.ones((3, 2)))
    with pytest.raises(ValueError, match="same shape"):
        forecast_summary(a, a, lower=np.zeros((2, 2)), upper=np.ones((2, 2)))


def test_json_number_turns_missing_measures_into_null():
    import json

    from forecaster.metrics import json_number

    assert json_number(float("nan")) is None and json_number(np.inf) is None
    assert json_number(np.float32(1.5)) == 1.5 and type(json_number(np.float64(2.0))) is float
    assert json_number(np.int64(3)) == 3 and type(json_number(np.int64(3))) is int
    assert json_number("model") == "model"
    assert json.dumps([json_number(v) for v in (np.nan, np.float64(0.25))], allow_nan=False) == "[null, 0.25]"


def test_grouped_forecast_summary_is_forecast_summary_of_each_group():
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 600
    actual = rng.normal(10, 5, n)
    forecast = actual + rng.normal(0, 2, n)
    actual[rng.choice(n, 40, replace=False)] = np.nan  # not yet known
    forecast[rng.choice(n, 20, replace=False)] = np.nan
    actual[:6], forecast[:6] = 0.0, 0.0  # zero pairs count 0 in sMAPE
    lower, upper = forecast - rng.uniform(0, 4, n), forecast + rng.uniform(0, 4, n)
    rows = pd.DataFrame({"group": rng.choice(["a", "b", "c"], n), "step": rng.integers(1, 4, n),
                         "actual": actual, "forecast": forecast, "lower": lower, "upper": upper,
                         "scale": rng.uniform(0.5, 2.0, n)})
    # a series without seasonal differences: its errors are no number of scales, and it is
    # left out of MASE (as forecast_summary leaves it out)
    rows.loc[:5, "group"] = "a"  # the zero pairs
    rows.loc[rows["group"] == "c", "scale"] = 0.0
    rows.loc[(rows["group"] == "c") & (rows["step"] == 3), "forecast"] = rows["actual"]
    grouped = grouped_forecast_summary(rows, ["group", "step"])
    assert list(grouped.columns) == ["group", "step", "mae", "rmse", "smape", "mase", "coverage", "width"]
    assert len(grouped) == 9
    for _, got in grouped.iterrows():
        group = rows[(rows["group"] == got["group"]) & (rows["step"] == got["step"])]
        expected = forecast_summary(*(group[c].to_numpy()[:, None] for c in ("actual", "forecast", "lower", "upper")),
                                    insample_scale=group["scale"].to_numpy())
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, rel=1e-12, nan_ok=True), (got["group"], got["step"], name)
    assert grouped.query("group == 'c'")["mase"].isna().all()
    assert grouped_forecast_summary(rows, ["step"])["mase"].notna().all()  # the others' MASE, without c
    every = forecast_summary(rows["actual"].to_numpy()[:, None], rows["forecast"].to_numpy()[:, None],
                             insample_scale=rows["scale"].to_numpy())
    others = rows[rows["group"] != "c"]
    assert every["mase"] == pytest.approx(np.nanmean(np.abs(others["actual"] - others["forecast"]) / others["scale"]))
    # width over the cells coverage counts, those with a known actual value
    known = rows[rows["actual"].notna()]
    assert grouped_forecast_summary(rows, ["step"])["width"].tolist() == pytest.approx(
        [(known[known["step"] == step]["upper"] - known[known["step"] == step]["lower"]).mean()
         for step in grouped_forecast_summary(rows, ["step"])["step"]])
    with pytest.raises(ValueError, match="lower bounds"):
        grouped_forecast_summary(rows.assign(lower=rows["upper"] + 1), ["group"])
