"""Anomaly scores and flags: the pure scoring functions on synthetic residuals, and one tiny
real model end to end."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from forecaster import anomaly
from forecaster.anomaly import (
    AnomalyResult,
    calibrate_series,
    residuals_and_steps,
    score_residuals,
)
from forecaster.errors import ArtifactError
from forecaster.report import Reporter

from .conftest import run_cli

HISTORY = 200  # residuals before the validation part: the training part the online estimates run through


def ar_noise(n: int, rng: np.random.Generator, phi: float = 0.4) -> np.ndarray:
    """Unit-variance AR(1) noise, like the correlated one-step residuals of a real model."""
    eps = rng.normal(0.0, np.sqrt(1 - phi**2), n)
    out = np.empty(n)
    out[0] = rng.normal()
    for i in range(1, n):
        out[i] = phi * out[i - 1] + eps[i]
    return out


def calibrated(residuals: np.ndarray, n_val: int):
    """Calibration from the first ``HISTORY + n_val`` residuals, and the threshold."""
    return calibrate_series(residuals[: HISTORY + n_val], HISTORY), anomaly.THRESHOLD


# --- scores -----------------------------------------------------------------------------------


@pytest.mark.parametrize("season", [1, 24])
@pytest.mark.parametrize("noise", ["gaussian", "ar"])
def test_pure_noise_gets_almost_no_flags(noise, season):
    rng = np.random.default_rng({"gaussian": 0, "ar": 1}[noise])
    n = 30_000
    residuals = 0.3 * (rng.normal(0.0, 1.0, n) if noise == "gaussian" else ar_noise(n, rng))
    # the hold-off of an hourly model (a lookback of a week), with its phase scale or without
    calibration = calibrate_series(residuals[: HISTORY + 300], HISTORY, local_window=168, season=season)
    flags = score_residuals(residuals, calibration) >= anomaly.THRESHOLD
    assert flags[HISTORY:].sum() <= 6  # about 1 in 10^4 points


def test_noise_larger_than_on_the_validation_part_is_not_flagged_for_long():
    """The online estimates catch up with noise the short validation part understated."""
    rng = np.random.default_rng(3)
    residuals = rng.normal(0.0, 1.0, 10_000)
    residuals[: HISTORY + 120] *= 0.3  # calm training and validation parts
    calibration, threshold = calibrated(residuals, 120)
    flags = score_residuals(residuals, calibration) >= threshold
    assert flags[HISTORY + 120 : HISTORY + 140].any()  # the change itself is news
    assert flags[HISTORY + 120 :].sum() <= 10  # in 9680 points
    # fixed validation statistics would flag a few percent of the later points
    fixed = np.abs(residuals[HISTORY + 120 :] - calibration["centre"]) / calibration["spread"]
    assert np.mean(fixed >= 4.0) > 0.03


def test_single_spike_gets_a_high_score_and_its_neighbours_do_not():
    rng = np.random.default_rng(2)
    residuals = rng.normal(0.0, 0.3, 6000)
    calibration, threshold = calibrated(residuals, 1000)
    spikes = np.arange(1500, 6000, 150)
    spiked = residuals.copy()
    spiked[spikes] += 0.3 * 12
    scores = score_residuals(spiked, calibration)
    assert (scores[spikes] >= 3 * threshold).all()
    after = np.concatenate([np.arange(t + 1, t + 12) for t in spikes])
    assert np.mean(scores[after] >= threshold) < 0.01


def test_level_shift_is_caught_at_its_onset_and_flagged_once():
    start, length = 2000, 300
    for seed in range(10):
        rng = np.random.default_rng(seed)
        residuals = 0.2 * ar_noise(3000, rng)
        calibration, threshold = calibrated(residuals, 1000)
        shifted = residuals.copy()
        # The network half follows a shift of 8 spreads: a big first residual, then a
        # lasting offset of 3, which the running centre and spread soon take as normal.
        shifted[start] += 0.2 * 8
        shifted[start + 1 : start + length] += 0.2 * 3
        flags = score_residuals(shifted, calibration) >= threshold
        assert flags[start : start + 2].any()
        assert flags[start + 2 : start + length + 50].sum() <= 2  # not a run of hundreds
        assert np.mean(flags[HISTORY:start]) < 2e-3


def test_a_spike_during_a_sustained_change_is_still_caught():
    rng = np.random.default_rng(4)
    residuals = rng.normal(0.0, 0.3, 5000)
    calibration, threshold = calibrated(residuals, 1000)
    changed = residuals.copy()
    changed[3000:] *= 2.0  # a noisier regime from step 3000 on
    changed[4000] += 0.3 * 25  # a spike far beyond anything in that regime
    flags = score_residuals(changed, calibration) >= threshold
    assert flags[4000]
    assert flags[3000:4000].sum() <= 5 and flags[4001:].sum() <= 3


def test_flatline_where_the_cycle_vanishes_is_caught():
    rng = np.random.default_rng(4)
    n = 3000
    cycle = 3.0 * np.sin(2 * np.pi * np.arange(n) / 24)
    values = cycle + rng.normal(0.0, 0.3, n)
    start, length = 2000, 12
    values[start : start + length] = values[start - 1]  # a frozen meter
    # A model that follows the stuck value but expects the cycle's next move from it.
    expected = values[:-1] + np.diff(cycle)
    residuals, steps = residuals_and_steps(values, expected, 1)
    calibration, threshold = calibrated(residuals, 1000)
    scores = score_residuals(residuals, calibration, steps)
    span = scores[start - 1 : start - 1 + length]  # residual i is for values[i + 1]
    assert (span >= threshold).any()
    clean = np.r_[scores[HISTORY : start - 30], scores[start + 30 :]]
    assert np.mean(clean >= threshold) < 2e-3


def test_stillness_after_one_enormous_spike_does_not_flag_runs():
    """One huge residual makes the running scale dwarf every ordinary step, so the stillness
    statistic barely varies afterwards; a few steps where the model expected a move the series
    did not make must not be standardised by that near-zero spread into runs of flags."""
    rng = np.random.default_rng(11)
    n = 4000
    residuals = rng.normal(0.0, 1.0, n)
    steps = np.tile([1.0, -1.0], n // 2) + rng.normal(0.0, 0.2, n)
    residuals[150] = 1e5  # a spike of a million on a series of tens
    for start in (2000, 2600, 3200):
        steps[start : start + 3], residuals[start : start + 3] = 300.0, -300.0
    calibration, threshold = calibrated(residuals, 400)
    flags = score_residuals(residuals, calibration, steps) >= threshold
    assert flags[151:].sum() <= 3
    # without the floor on the spread, the same residuals flag runs after each of the three
    unfloored = score_residuals(residuals, calibration | {"still_min_spread": 0.0}, steps) >= threshold
    assert all(unfloored[start : start + 12].sum() >= 5 for start in (2000, 2600, 3200))


def test_stillness_is_standardised_by_at_least_the_minimum_spread():
    rng = np.random.default_rng(12)
    statistic = rng.normal(0.0, 1e-4, 400)  # a history that barely varies
    statistic[300], statistic[350] = -0.05, -1.0
    z = anomaly.online_stillness(statistic)
    assert z[300] == 0.0  # 0.05 below the median: within the margin of the floored spread
    assert z[350] == pytest.approx((np.median(statistic[:350]) + 1.0) / anomaly.STILL_MIN_SPREAD - anomaly.STILL_MARGIN)
    assert anomaly.online_stillness(statistic, min_spread=0.0)[300] > 100  # what the floor prevents


def test_stillness_statistic_compares_observed_and_expected_movement():
    expected_steps = np.tile([1.0, -1.0], 10)  # the model expects the series to zigzag
    z_still = -expected_steps  # the series does not move: every residual undoes the step
    z_moving = np.zeros(20)  # the series moves exactly as expected
    (still,) = anomaly.stillness_statistics(z_still, expected_steps, 1.0, [6], floor=0.5)
    (moving,) = anomaly.stillness_statistics(z_moving, expected_steps, 1.0, [6], floor=0.5)
    np.testing.assert_allclose(still[5:], np.log(0.5 / 1.5))
    np.testing.assert_allclose(moving[5:], 0.0, atol=1e-12)
    assert np.isnan(still[:4]).all()  # windows more than a quarter short are not scored


def test_online_estimates_use_only_earlier_values_and_start_from_the_prior():
    values = np.array([1.0, np.nan, 3.0, 5.0])
    mean, sd = anomaly.running_mean_sd(values, prior_mean=2.0, prior_sd=1.0, prior_points=2)
    # step 0: the prior alone; step 3: the prior's two points (mean 2, sd 1) and 1.0 and 3.0
    np.testing.assert_allclose(mean, [2.0, 5 / 3, 5 / 3, 2.0])
    pooled = np.array([1.0, 3.0, 1.0, 3.0])  # two points with mean 2 and sd 1, then the data
    assert sd[3] == pytest.approx(np.std(pooled))
    assert sd[0] == pytest.approx(1.0)


def test_a_statistic_scores_only_what_exceeds_its_recent_peak():
    x = np.array([0.5, 5.0, 4.0, 6.0, np.nan, 1.0, 1.0, 1.0, 3.0, -1.0])
    np.testing.assert_allclose(
        anomaly.beyond_recent_peak(x, hold=3),
        [0.5, 4.5, 0.0, 1.0, np.nan, 0.0, 0.0, 0.0, 2.0, 0.0],
    )
    # with a gap, the steps just before do not count: a build-up is judged by what came before it
    np.testing.assert_allclose(anomaly.beyond_recent_peak(np.array([0.0, 1.0, 2.0, 3.0]), hold=4, gap=2), [0, 1, 2, 2])
    # the steps before the first count as having reached the prior
    np.testing.assert_allclose(anomaly.beyond_recent_peak(np.array([3.0, 1.0, 5.0]), hold=2, prior=2.5), [0.5, 0, 2])


def test_the_first_scored_steps_face_the_same_bar_as_later_ones():
    """Before, the first steps had no past to measure the hold-off's peak on: on Gaussian
    noise the first five were flagged 35 times as often as later ones."""
    rng = np.random.default_rng(12)
    residuals = rng.normal(0.0, 1.0, (200, 4000))  # 4000 series side by side
    calibration = calibrate_series(residuals[:, 0], 0, local_window=24) | {"centre": np.zeros(4000),
                                                                             "spread": np.ones(4000)}
    assert calibration["prior_peak"] == pytest.approx(anomaly.typical_peak(24)) == pytest.approx(2.31, abs=0.01)
    later = np.mean(score_residuals(residuals, calibration)[100:] >= anomaly.THRESHOLD)
    first = np.mean(score_residuals(residuals, calibration)[:5] >= anomaly.THRESHOLD)
    assert 0.001 < later < 0.003 and first < 2 * later
    without = np.mean(score_residuals(residuals, calibration | {"prior_peak": 0.0})[:5] >= anomaly.THRESHOLD)
    assert without > 10 * later


def test_a_starting_spread_from_few_residuals_does_not_flag_the_first_steps_more_often():
    """A short series' spread comes from a dozen validation residuals, often well below the
    true one: on Gaussian noise the first five steps were flagged 11 times as often as later
    ones. Measured against the spread in Student's t, they are flagged no more often."""
    rng = np.random.default_rng(13)
    validation, residuals = rng.normal(0.0, 1.0, (12, 4000)), rng.normal(0.0, 1.0, (200, 4000))
    fitted = np.array([anomaly.robust_centre_spread(column) for column in validation.T])
    calibration = calibrate_series(validation[:, 0], 0, local_window=24) | {"centre": fitted[:, 0],
                                                                              "spread": fitted[:, 1]}
    assert calibration["prior_df"] == pytest.approx(anomaly.DF_PER_POINT * 12)
    flags = score_residuals(residuals, calibration) >= anomaly.THRESHOLD
    later = flags[100:].mean()
    assert 0.0005 < later < 0.003 and flags[:5].mean() < 1.5 * later and flags[5:20].mean() < 1.5 * later
    del calibration["prior_df"]
    flags = score_residuals(residuals, calibration) >= anomaly.THRESHOLD
    assert flags[:5].mean() > 5 * later


def test_the_gaussian_equivalent_of_a_t_deviate():
    from statistics import NormalDist

    u = np.array([0.0, 1.0, 2.5, 4.0, np.nan])
    # with many degrees of freedom t is Gaussian; with few, its tail holds more
    np.testing.assert_allclose(anomaly.gaussian_equivalent(u, 1e6), u, atol=1e-4)
    few = anomaly.gaussian_equivalent(u, 4.0)
    assert few[0] == 0.0 and np.isnan(few[-1]) and (np.diff(few[:-1]) > 0).all() and (few[1:-1] < u[1:-1]).all()
    # t with 4 degrees of freedom: P(T > 2.776) = 0.025, as far out as the normal 1.960
    assert anomaly.gaussian_equivalent(np.array([2.7764]), 4.0)[0] == pytest.approx(NormalDist().inv_cdf(0.975), abs=1e-3)
    # rising and finite however far out, past where float64 holds the tail (about 38 for a
    # normal deviate) and where the expansion would turn down (u² > 4 df / 3)
    far = np.concatenate([np.linspace(0.0, 60.0, 6001), np.geomspace(60.01, 1e9, 500)])
    for df in (2.0, 4.4, 200.0, 999.0, 1000.0, 5000.0, 1e6):
        deviate = anomaly.gaussian_equivalent(far, df)
        assert np.isfinite(deviate).all() and (np.diff(deviate) > 0).all()
    assert deviate[5000] == pytest.approx(50.0, rel=1e-3)  # at 1e6 degrees of freedom, of u = 50
    # the expansion used from EXACT_DF_BELOW on meets the exact value there
    at = anomaly.EXACT_DF_BELOW
    np.testing.assert_allclose(anomaly.gaussian_equivalent(u[:-1], at), anomaly.gaussian_equivalent(u[:-1], at - 1e-9),
                               atol=1e-4)


def test_each_score_names_the_statistic_that_gives_it():
    rng = np.random.default_rng(3)
    residuals, steps = rng.normal(0.0, 1.0, 900), rng.normal(0.0, 1.5, 900)
    residuals[300] = 12.0  # a spike
    residuals[600:640] = -steps[600:640]  # frozen: each value where the last one was
    values = np.cumsum(rng.normal(0.0, 1.0, 900 + 24))
    values[24 + 800] = values.max() + 50.0  # beyond everything before, with an ordinary residual
    score, reason = anomaly.scores_and_reasons(residuals, anomaly.calibrate_series(residuals, 200, 48), steps, values)
    named = {t: anomaly.REASONS[reason[t]] for t in np.flatnonzero(score >= anomaly.THRESHOLD)}
    assert named[300] == "surprise" and named[800] == "range"
    assert {named[t] for t in named if 600 <= t < 640} == {"stillness"}
    assert ((reason == -1) == ~(score > 0)).all() and reason.dtype == np.int8


def test_scores_are_causal():
    rng = np.random.default_rng(5)
    residuals = ar_noise(1500, rng)
    steps = rng.normal(0.0, 1.0, 1500)
    calibration, _ = calibrated(residuals, 500)
    before = score_residuals(residuals, calibration, steps)
    changed_residuals, changed_steps = residuals.copy(), steps.copy()
    changed_residuals[1000:] = rng.normal(0.0, 10.0, 500)
    changed_residuals[1200:1210] = np.nan
    changed_steps[1000:] = 0.0
    after = score_residuals(changed_residuals, calibration, changed_steps)
    np.testing.assert_array_equal(after[:1000], before[:1000])
    assert not np.allclose(after[1000:1100], before[1000:1100])
    # a prefix scores the same as the whole series up to its end: appending never changes the past
    for end in (150, 700, 1499):
        np.testing.assert_array_equal(score_residuals(residuals[:end], calibration, steps[:end]), before[:end])


def test_series_scored_in_batches_score_exactly_as_one_by_one():
    """score_batches stacks series of different lengths, holes, incidents and settings side by
    side; each must score exactly as alone, whatever batch it lands in."""
    rng = np.random.default_rng(15)
    residuals, steps, values, calibrations = [], [], [], []
    for i, n in enumerate([900, 1500, 400, 1500, 1200, 60]):
        r = ar_noise(n, rng) * (0.5 + i)
        if n > 500:
            r[n // 2] += 40.0  # a spike
            r[n // 3 : n // 3 + 20] = np.nan  # a hole
            r[-100:] += 5.0  # a level shift
        history = np.cumsum(rng.normal(0.0, 1.0, n + 24)) + 100.0 * i
        history[-50] += 500.0  # beyond the range
        residuals.append(r)
        steps.append(np.where(np.arange(n) % 200 < 30, 0.0, rng.normal(0.0, 1.0, n)))  # still stretches
        values.append(history)
        calibrations.append(calibrate_series(r, min(n // 2, 200), 48 if i % 3 else 24))
    # a model calibrated before the range score and the stillness settings: a group of its own
    calibrations[4] = {"centre": 0.1, "spread": 0.8, "local_window": 48}
    alone = [score_residuals(r, c, s, values=v) for r, c, s, v in zip(residuals, calibrations, steps, values)]
    for cells in (anomaly.BATCH_CELLS, 3000, 1):  # one batch per group, a few series each, one each
        batched, reasons = anomaly.score_batches(residuals, calibrations, steps, values, cells=cells)
        for a, b, why, r, c, s, v in zip(alone, batched, reasons, residuals, calibrations, steps, values):
            np.testing.assert_array_equal(b, a)
            np.testing.assert_array_equal(why, anomaly.scores_and_reasons(r, c, s, values=v)[1])
    assert (np.nan_to_num(alone[1]) >= anomaly.THRESHOLD).any()
    # a series with no step to score (only its lookback of history) in the same batch as another
    (empty, first), _ = anomaly.score_batches([np.empty(0), residuals[0]], [calibrations[0]] * 2,
                                              [np.empty(0), steps[0]], [values[0][:24], values[0]])
    assert empty.shape == (0,)
    np.testing.assert_array_equal(first, alone[0])
    # the robust standardisation that finds the extreme steps to take out of the inputs, the same way
    standardised = anomaly.in_batches(lambda calibration, r: anomaly.standardise(r, calibration), calibrations,
                                      [(r,) for r in residuals], ("local_window",), cells=3000)
    for r, c, z in zip(residuals, calibrations, standardised):
        np.testing.assert_array_equal(z, anomaly.standardise(r, c))


def test_running_mean_sd_of_a_batch_matches_each_series_to_the_last_bit():
    """Priors given as Python floats (one series) and as arrays (a batch) must give identical
    numbers: a float's ** 2 (pow) and an array's (a product) differ in the last bit for about
    one value in a thousand."""
    rng = np.random.default_rng(16)
    values = rng.normal(0.0, 1.0, (6, 5000))
    means, sds = rng.uniform(0.01, 5.0, 5000), rng.uniform(0.01, 5.0, 5000)
    batch_mean, batch_sd = anomaly.running_mean_sd(values, means, sds, 50.0)
    for k in range(5000):
        mean, sd = anomaly.running_mean_sd(values[:, k], float(means[k]), float(sds[k]), 50)
        np.testing.assert_array_equal(mean, batch_mean[:, k])
        np.testing.assert_array_equal(sd, batch_sd[:, k])


def test_missing_residuals_give_nan_scores_and_are_never_flagged():
    rng = np.random.default_rng(6)
    residuals = rng.normal(0.0, 1.0, 2000)
    steps = rng.normal(0.0, 1.0, 2000)
    calibration, threshold = calibrated(residuals, 800)
    holed = residuals.copy()
    holed[[1100, 1101, 1500]] = np.nan
    holed[1300] = 50.0  # a huge spike...
    holed[1301:1305] = np.nan  # ...followed by a hole
    scores = score_residuals(holed, calibration, steps)
    assert np.isnan(scores[[1100, 1101, 1500, 1301, 1302, 1303, 1304]]).all()
    assert np.isfinite(np.delete(scores, [1100, 1101, 1500, 1301, 1302, 1303, 1304])).all()
    flags = np.nan_to_num(scores, nan=0.0) >= threshold
    assert flags[1300] and not flags[np.isnan(holed)].any()
    # all missing: nothing scored
    assert np.isnan(score_residuals(np.full(50, np.nan), calibration, steps[:50])).all()


def test_scores_are_non_negative_and_grow_with_the_residual():
    rng = np.random.default_rng(7)
    residuals = rng.normal(0.0, 1.0, 1500)
    calibration, _ = calibrated(residuals, 800)
    scores = []
    for size in (2.0, 4.0, 8.0, 16.0):
        bumped = residuals.copy()
        bumped[1200] = calibration["centre"] + size * calibration["spread"]
        scores.append(score_residuals(bumped, calibration)[1200])
    assert scores == sorted(scores) and scores[-1] >= 8.0
    assert (score_residuals(residuals, calibration)[HISTORY:] >= 0).all()


def test_a_calibration_from_an_older_version_is_still_scored():
    """Models calibrated before the online scores have only some of the keys."""
    rng = np.random.default_rng(8)
    residuals = rng.normal(0.0, 0.5, 800)
    residuals[600] = 8.0
    steps = rng.normal(0.0, 1.0, 800)
    old = {"centre": 0.0, "spread": 0.5, "local_window": 48, "windows": [3, 6, 12], "shift_spreads": [1.0, 1.4, 2.0]}
    scores = score_residuals(residuals, old, expected_steps=steps)
    assert np.isfinite(scores).all() and scores[600] == scores.max() >= 3 * anomaly.THRESHOLD
    # the same as a current calibration with those starting estimates and the default settings
    # (and no peak assumed before the first step and no allowance for the few residuals their
    # spread came from, which they did not store)
    current = calibrate_series(residuals, 400, 48) | {"centre": 0.0, "spread": 0.5, "prior_peak": 0.0}
    del current["prior_df"]
    np.testing.assert_array_equal(scores, score_residuals(residuals, current, steps))


def test_calibration_is_json_safe():
    rng = np.random.default_rng(8)
    residuals = rng.normal(0.0, 1.0, 600)
    calibration = calibrate_series(residuals, 400)
    assert json.loads(json.dumps(calibration, allow_nan=False)) == calibration
    assert calibration["scoring"] == anomaly.SCORING_VERSION
    assert set(calibration) >= {"centre", "spread", "local_window", "replace_above", "hold", "still_windows",
                                "still_min_spread", "range_tolerance", "range_steps"}


def test_range_exceedance_is_the_fraction_of_the_earlier_range_a_value_lies_beyond():
    values = np.array([5.0, 10.0, 8.0, 11.0, 4.0, np.nan, 3.5, 12.0, 7.0])
    np.testing.assert_allclose(
        anomaly.range_exceedance(values),
        # no range before two different values; then beyond [5, 10] by 1 of 5, [5, 11] by 1 of 6,
        # [4, 11] by 0.5 of 7, [3.5, 11] by 1 of 7.5; inside it 0
        [0.0, 0.0, 0.0, 0.2, 1 / 6, np.nan, 0.5 / 7, 1 / 7.5, 0.0],
    )


def test_range_score_is_the_smaller_of_the_range_and_the_typical_steps_beyond_it():
    values = np.array([0.0, 1.0] * 10 + [1.2, 6.0, 0.5])  # every step 1 until the 1.2
    scores = anomaly.range_score(values)
    assert (scores[:20] == 0).all()
    # 1.2: 20 % of the range [0, 1] beyond it, but only a fifth of a typical step
    assert scores[20] == pytest.approx(anomaly.THRESHOLD * min(0.2 / anomaly.RANGE_TOLERANCE, 0.2 / anomaly.RANGE_STEPS))
    # 6: 4.8 beyond [0, 1.2], 400 % of it, and 4.8 typical steps (the median step is still 1)
    assert scores[21] == pytest.approx(anomaly.THRESHOLD * min(4.8 / 1.2 / anomaly.RANGE_TOLERANCE,
                                                               4.8 / anomaly.RANGE_STEPS))
    assert scores[22] == 0.0
    # no typical step yet (fewer than MIN_FIT_POINTS earlier steps): no score; a missing value: NaN
    assert (anomaly.range_score(np.array([0.0, 1.0, 5.0]))[2]) == 0.0
    assert np.isnan(anomaly.range_score(np.array([0.0, 1.0] * 10 + [np.nan]))[-1])


def test_a_value_beyond_the_range_seen_is_flagged_though_the_model_expected_it():
    rng = np.random.default_rng(9)
    n = 1500
    residuals = rng.normal(0.0, 1.0, n)  # the model follows the series: nothing surprising
    # a slow cycle: steps far smaller than the range
    values = 50 + 10 * np.sin(np.arange(n + 24) * 2 * np.pi / 240) + rng.normal(0.0, 0.05, n + 24)
    low, high = np.min(values[:1224]), np.max(values[:1224])
    values[1224] = high + 0.1 * (high - low)  # 10 % of the range above anything before it
    values[1230] = low - 0.02 * (high - low)  # 2 % of the range before the spike below: not far enough
    calibration, threshold = calibrated(residuals, 800)
    without = score_residuals(residuals, calibration)
    scores = score_residuals(residuals, calibration, values=values)  # 24 steps of history before the scored ones
    assert without[1200] < threshold
    # the threshold at RANGE_TOLERANCE (5 %) beyond the range, in proportion further out
    assert scores[1200] == pytest.approx(threshold * 0.1 / anomaly.RANGE_TOLERANCE)
    # (the spike has widened the range to 1.1 times what it was)
    assert scores[1206] == pytest.approx(max(without[1206], threshold * 0.02 / 1.1 / anomaly.RANGE_TOLERANCE))
    assert scores[1206] < threshold
    # elsewhere the other statistics decide as before
    beyond = anomaly.range_score(values)[24:] > 0
    np.testing.assert_array_equal(scores[~beyond], without[~beyond])
    # causal: a prefix of the series scores the same
    np.testing.assert_array_equal(score_residuals(residuals[:1201], calibration, values=values[:1225]), scores[:1201])
    # a calibration from before the range score (no range_tolerance) ignores the values
    older = {k: v for k, v in calibration.items() if k not in ("range_tolerance", "range_steps")}
    np.testing.assert_array_equal(score_residuals(residuals, older, values=values), without)


def test_a_wandering_series_breaking_its_range_step_by_step_is_not_flagged_but_a_jump_is():
    rng = np.random.default_rng(10)
    walk = np.cumsum(rng.normal(0.0, 1.0, 3000))
    fraction = anomaly.range_exceedance(walk)
    assert (fraction[24:] >= anomaly.RANGE_TOLERANCE).sum() >= 5  # new records, 5 % of the range beyond
    assert (anomaly.range_score(walk)[24:] >= anomaly.THRESHOLD).sum() <= 2
    jumped = walk.copy()
    jumped[2000] = max(walk[:2000]) + 10 * np.median(np.abs(np.diff(walk[:2000])))
    assert anomaly.range_score(jumped)[2000] >= anomaly.THRESHOLD


# --- result -----------------------------------------------------------------------------------


def test_strongest_lists_the_peak_of_each_incident():
    frame = pd.DataFrame(
        {
            "series": ["a"] * 6 + ["b"] * 3,
            "timestamp": list(pd.date_range("2024-01-01", periods=6, freq="h"))
            + list(pd.date_range("2024-01-01", periods=3, freq="h")),
            "value": 0.0,
            "expected": 0.0,
            "residual": 0.0,
            "score": [1.0, 7.0, 9.0, 8.0, 1.0, 6.0, 5.0, 2.0, 1.0],
            "is_anomaly": [0, 1, 1, 1, 0, 1, 1, 0, 0],
        }
    )
    result = AnomalyResult(frame=frame, threshold=5.0)
    strongest = result.strongest(5)
    # three incidents: a's run of three, a's last point, and b's first point (a new series)
    assert list(strongest["score"]) == [9.0, 6.0, 5.0]
    assert list(strongest["series"]) == ["a", "a", "b"]
    assert len(result.strongest(1)) == 1 and result.n_flagged == 5
    none = AnomalyResult(frame=frame.assign(is_anomaly=0), threshold=99.0)
    assert len(none.strongest(5)) == 0


# --- expectations ---------------------------------------------------------------------------


class Persistence:
    """A stand-in for the network (duck-typed): forecasts the last value of each window."""

    output_shape = (None, 1)

    def predict(self, x, batch_size=None, verbose=0):
        return np.asarray(x)[:, -1, :1]


@pytest.mark.parametrize("level", ["mean", "last"])
def test_extreme_points_are_taken_out_of_the_inputs_of_the_points_after_them(level):
    rng = np.random.default_rng(13)
    lookback, n = 8, 400
    target = rng.normal(0.0, 0.1, n)
    target[300] += 5.0  # a spike: persistence would expect it again at 301
    features = [target[:, None]]
    expected = anomaly.one_step_expectations(Persistence(), features, lookback, [lookback], level=level)
    np.testing.assert_allclose(expected[0], target[lookback - 1 : n - 1], atol=1e-6)
    residuals, _ = residuals_and_steps(target, expected[0], lookback)
    calibration = calibrate_series(residuals, 100, 24)
    (cleaned,), (excursion,) = anomaly.cleaned_expectations(Persistence(), features, lookback, expected,
                                                            [calibration], level=level)
    assert not excursion.any()  # a horizon of one step cannot see the series come back
    row = 301 - lookback
    assert cleaned[row] == pytest.approx(target[299], abs=1e-6)  # the spike's own expectation
    np.testing.assert_array_equal(cleaned[: row - 1], expected[0][: row - 1])  # the past is untouched
    assert abs(target[301] - cleaned[row]) < 1.0 < abs(target[301] - expected[0][row])
    # models calibrated before this step existed keep their expectations
    (kept,), (none,) = anomaly.cleaned_expectations(
        Persistence(), features, lookback, expected, [{"centre": 0.0, "spread": 0.1}], level=level
    )
    np.testing.assert_array_equal(kept, expected[0])
    assert not none.any()


class WindowMean:
    """A stand-in for a network that has not learnt the cycle: forecasts each window's mean."""

    output_shape = (None, 1)

    def predict(self, x, batch_size=None, verbose=0):
        return np.asarray(x)[:, :, :1].mean(axis=1)


def day_and_night(n_days: int, rng: np.random.Generator, per_day: int = 48) -> np.ndarray:
    """A daily cycle like NAB's synthetic files: 20 by night, 80 by day, noise of 2."""
    step = np.arange(n_days * per_day) % per_day
    return np.where((step >= per_day * 5 // 12) & (step < per_day * 3 // 4), 80.0, 20.0) + rng.normal(0, 2, len(step))


def test_the_seasonal_median_expects_the_median_of_the_last_seasons():
    target = np.arange(10.0)
    target[5] = 100.0  # one unusual value is outvoted once there are three seasons to look at
    seasonal = anomaly.seasonal_median_expectations(target, 3, 2)
    # step 3: steps 1 (and -1, -3: none); 4: 2, 0; 5: 3, 1; 6: 4, 2, 0; 7: 100, 3, 1; 8: 6, 4, 2; 9: 7, 100, 3
    np.testing.assert_array_equal(seasonal, [1, 1, 2, 2, 3, 4, 7])
    # steps 1 and 2 have no season before them: the previous value
    np.testing.assert_array_equal(anomaly.seasonal_median_expectations(target, 1, 3)[:3], [0, 1, 0])


def test_calibration_expects_the_last_season_when_the_model_missed_the_cycle():
    values = day_and_night(6, np.random.default_rng(3))
    features = [((values - values.mean()) / values.std())[:, None]]
    chosen = anomaly.calibrate(WindowMean(), features, [5 * 48], lookback=12, seasons=[48], level="mean")["series"][0]
    assert chosen["expected_by"] == "seasonal-median"
    deviations = chosen["deviations"]
    assert deviations["seasonal-median"] < (1 - anomaly.SOURCE_MARGIN) * deviations["model"]
    assert json.loads(json.dumps(chosen)) == chosen
    # validation before a whole season of history: no seasonal baseline to judge
    early = anomaly.calibrate(WindowMean(), features, [40], lookback=12, seasons=[48], level="mean")["series"][0]
    assert early["expected_by"] == "model" and set(early["deviations"]) == {"model"}


def test_calibration_keeps_a_model_the_seasonal_median_does_not_clearly_beat():
    rng = np.random.default_rng(4)
    values = day_and_night(6, rng) + 3 * np.cumsum(rng.normal(size=6 * 48))  # wanders from day to day
    features = [((values - values.mean()) / values.std())[:, None]]

    class Yesterday:
        """A stand-in network that has learnt the cycle: yesterday's value plus today's drift."""

        output_shape = (None, 1)

        def predict(self, x, batch_size=None, verbose=0):
            x = np.asarray(x)
            return x[:, -48, :1] + x[:, -1, :1] - x[:, -49, :1]

    kept = anomaly.calibrate(Yesterday(), features, [5 * 48], lookback=60, seasons=[48], level="mean")["series"][0]
    assert kept["expected_by"] == "model"
    assert kept["deviations"]["model"] < kept["deviations"]["seasonal-median"]


# --- end to end -------------------------------------------------------------------------------


def test_a_model_trained_on_two_days_catches_a_day_whose_cycle_changed(tmp_path):
    """Two days of history are too few for a network to learn when the day's high starts,
    but enough for yesterday's values to say what today should look like: a day whose high is
    half as high, one where it never comes and one where it is twice as high are all caught."""
    per_day = 96
    values = day_and_night(15, np.random.default_rng(5), per_day)
    high = (np.arange(len(values)) % per_day >= per_day * 5 // 12) & (np.arange(len(values)) % per_day < per_day * 3 // 4)
    changed = {4: 0.5, 8: 0.0, 12: 2.0}  # day: factor of the day's rise above the night
    for day, factor in changed.items():
        rows = slice(day * per_day, (day + 1) * per_day)
        values[rows] = np.where(high[rows], 20.0 + factor * (values[rows] - 20.0), values[rows])
    index = pd.date_range("2024-03-01", periods=len(values), freq="15min")
    frame = pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d %H:%M"), "value": values.round(3)})
    train_csv, all_csv = tmp_path / "train.csv", tmp_path / "all.csv"
    frame.iloc[: int(2.5 * per_day)].to_csv(train_csv, index=False)
    frame.to_csv(all_csv, index=False)
    model_dir = tmp_path / "model"
    result = run_cli("train", train_csv, "--target", "value", "-m", model_dir, "--units", 4, "--epochs", 5,
                     "--seed", 0)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "series 'value': anomaly scores measure surprise against the median of the same step's values" in " ".join(
        result.stderr.split())
    assert "seasonal-median: 1 series" in run_cli("info", "-m", model_dir).stdout

    detected = anomaly.detect_anomalies(model_dir, all_csv).frame
    day = (pd.to_datetime(detected["timestamp"]) - index[0]).dt.days.to_numpy()
    flagged_days = set(day[detected["is_anomaly"].to_numpy() == 1])
    assert set(changed) <= flagged_days
    assert not flagged_days & (set(range(3, 15)) - set(changed))  # ordinary days after training


def test_tiny_model_flags_an_injected_level_shift_and_spike(tmp_path):
    rng = np.random.default_rng(12)
    index = pd.date_range("2024-01-01", periods=24 * 40, freq="h")
    hour = index.hour.to_numpy()
    load = 100 + 20 * np.sin(2 * np.pi * hour / 24) + rng.normal(0, 1.5, len(index))
    shift = slice(24 * 14 + 9, 24 * 14 + 17)  # eight hours 10 higher, in the training part
    spike = 24 * 20 + 15
    load[shift] += 10.0
    load[spike] += 25.0
    data = tmp_path / "load.csv"
    pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d %H:%M:%S"), "load": load.round(3)}).to_csv(data, index=False)
    model_dir = tmp_path / "model"
    lookback = 24
    result = run_cli(
        "train", data, "--target", "load", "-m", model_dir, "--lookback", lookback, "--horizon", 6,
        "--units", 4, "--epochs", 10, "--seed", 0, "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr

    detected = anomaly.detect_anomalies(model_dir)
    frame = detected.frame
    flags = frame["is_anomaly"].to_numpy()
    row = {t: i for i, t in enumerate(frame["timestamp"])}
    assert flags[row[index[spike]]] == 1
    shift_rows = [row[t] for t in index[shift]]
    assert flags[shift_rows[:2]].any()  # caught at its onset
    # Clean data raises few flags. The network's input still holds the shift for a lookback
    # after it ends, so the return to normal may be flagged too: that stretch is left out.
    clean = np.ones(len(frame), dtype=bool)
    clean[shift_rows[0] : shift_rows[-1] + lookback] = False
    clean[row[index[spike]]] = False
    assert flags[clean].mean() < 0.005
    assert ((frame["score"] >= detected.threshold) == (frame["is_anomaly"] == 1)).all()
    # each point with a score says which statistic gives it; the spike is a surprise
    assert frame["reason"][row[index[spike]]] == "surprise"
    assert (frame["reason"].isna() == ~(frame["score"] > 0)).all()
    assert set(frame["reason"].dropna()) <= set(anomaly.REASONS)

    # A model calibrated by version 5 (before the allowance for a starting spread estimated from
    # few residuals) is scored without it, without a word.
    metadata_path = model_dir / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    for series in metadata["series"]:
        series["anomaly"]["scoring"] = 5
        del series["anomaly"]["prior_df"]
    metadata_path.write_text(json.dumps(metadata))
    messages = io.StringIO()
    version_5 = anomaly.detect_anomalies(model_dir, reporter=Reporter(file=messages)).frame["score"]
    assert messages.getvalue() == ""
    assert np.isfinite(version_5).all() and (version_5 != frame["score"]).any()

    # One calibrated by version 4 (before the peak assumed before the first step) is scored
    # without that too: the same scores after the first hold-off, never lower in it.
    hold = metadata["series"][0]["anomaly"]["hold"]
    for series in metadata["series"]:
        series["anomaly"]["scoring"] = 4
        del series["anomaly"]["prior_peak"]
    metadata_path.write_text(json.dumps(metadata))
    messages = io.StringIO()
    version_4 = anomaly.detect_anomalies(model_dir, reporter=Reporter(file=messages)).frame["score"]
    assert messages.getvalue() == ""
    np.testing.assert_array_equal(version_4[hold:], version_5[hold:])
    assert (version_4[:hold] >= version_5[:hold]).all() and (version_4[:hold] > version_5[:hold]).any()

    # One calibrated by version 3 (before the range score) is scored without it, without a
    # word: never higher.
    for series in metadata["series"]:
        series["anomaly"]["scoring"] = 3
        del series["anomaly"]["range_tolerance"], series["anomaly"]["range_steps"]
    metadata_path.write_text(json.dumps(metadata))
    messages = io.StringIO()
    version_3 = anomaly.detect_anomalies(model_dir, reporter=Reporter(file=messages)).frame["score"]
    assert messages.getvalue() == ""
    assert (version_3 <= version_4).all()

    # One calibrated by version 2 (before baselines could give the expectations) is scored
    # against the model, on the same scale, without a word.
    assert all(series["anomaly"]["expected_by"] == "model" for series in metadata["series"])
    for series in metadata["series"]:
        series["anomaly"]["scoring"] = 2
        del series["anomaly"]["expected_by"], series["anomaly"]["deviations"]
    metadata_path.write_text(json.dumps(metadata))
    messages = io.StringIO()
    version_2 = anomaly.detect_anomalies(model_dir, reporter=Reporter(file=messages))
    assert messages.getvalue() == ""
    np.testing.assert_allclose(version_2.frame["score"], version_3)

    # A model calibrated by an older version: its threshold was on another scale, so the
    # current one is used, with a warning, and the scores are the same.
    metadata["anomaly_threshold"] = 5.3
    for series in metadata["series"]:
        series["anomaly"] = {key: series["anomaly"][key] for key in ("centre", "spread", "local_window", "replace_above")}
    metadata_path.write_text(json.dumps(metadata))
    messages = io.StringIO()
    old = anomaly.detect_anomalies(model_dir, reporter=Reporter(file=messages))
    assert old.threshold == anomaly.THRESHOLD
    assert "older version" in messages.getvalue() and "retrain" in messages.getvalue()
    np.testing.assert_allclose(old.frame["score"], version_3)

    # ... and one calibrated by a newer version is refused, naming the versions
    for series in metadata["series"]:
        series["anomaly"]["scoring"] = anomaly.SCORING_VERSION + 1
    metadata_path.write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match=f"version {anomaly.SCORING_VERSION + 1}, newer"):
        anomaly.detect_anomalies(model_dir)


def test_train_names_the_first_series_scored_against_the_seasonal_median_and_counts_the_rest():
    from types import SimpleNamespace

    from forecaster.training import _report_expectation_sources

    dataset = SimpleNamespace(series=[SimpleNamespace(name=f"s{i}") for i in range(9)])
    entries = [{"expected_by": "seasonal-median" if i % 4 else "model", "deviations": {"model": 1.0, "seasonal-median": 0.5}}
               for i in range(9)]
    messages = io.StringIO()
    _report_expectation_sources(dataset, {"series": entries}, Reporter(file=messages), shown=3)
    text = " ".join(messages.getvalue().split())
    # s1, s2, s3, s5, s6 and s7 are: the first three named
    assert "series 's1'" in text and "series 's2'" in text and "series 's3'" in text and "50% of the model's" in text
    assert "'s0'" not in text and "'s5'" not in text
    assert "... and 3 more series of 9" in text


def test_training_calibrates_on_the_network_detect_anomalies_runs(stores_model):
    """The starting estimates stored at training are exactly what the saved NumPy network (the
    one detect-anomalies runs) gives on the training data: calibrated through Keras' predict
    instead, they differed in the eighth digit."""
    from forecaster.artifacts import load_artifact, model_level
    from forecaster.forecasting import series_inputs
    from forecaster.numpy_network import NumpyNetwork
    from forecaster.report import QUIET
    from forecaster.windows import split_point

    artifact = load_artifact(stores_model)
    assert isinstance(artifact.network, NumpyNetwork)
    metadata = artifact.metadata
    lookback, horizon = metadata["network"]["lookback"], metadata["network"]["horizon"]
    inputs = series_inputs(artifact, None, QUIET, full_history=True)
    features = [item.scaler.transform(item.raw) for item in inputs]
    calibration = anomaly.calibrate(
        artifact.network, features,
        [split_point(len(f), horizon, metadata["train_options"]["val_fraction"]) for f in features], lookback,
        missing=[np.asarray(item.missing, dtype=bool) for item in inputs],
        log_scales=[item.scaler.log_spread for item in inputs],
        seasons=[int(item.meta.get("season") or 1) for item in inputs], level=model_level(metadata["network"]),
    )
    for recomputed, item in zip(calibration["series"], inputs):
        assert recomputed == item.meta["anomaly"]


def weekday_load_csv(path, weeks: int = 10, seed: int = 0, drop=None):
    """Hourly load with a daily cycle that is much lower at weekends, and small noise; the
    hours in ``drop`` (timestamps) have no row."""
    rng = np.random.default_rng(seed)
    hours = pd.date_range("2024-01-01", periods=weeks * 168, freq="h")  # a Monday
    busy = np.clip(np.sin(np.pi * (hours.hour - 6) / 14), 0, None)
    level = np.where(hours.day_of_week >= 5, 0.3, 1.0)
    load = np.round(100 + 400 * busy * level + rng.normal(0, 4, len(hours)), 1)
    frame = pd.DataFrame({"timestamp": hours, "load": load})
    if drop is not None:
        frame = frame[~frame["timestamp"].isin(drop)]
    frame.to_csv(path, index=False)
    return path


def test_a_gap_is_filled_with_the_models_forecasts_so_a_monday_gap_raises_no_flags(tmp_path):
    """Filled from a day before, a Monday morning's gap held Sunday's level, and the hours after
    it were flagged by the dozen as the windows showed a fall that never happened."""
    model_dir = tmp_path / "model"
    train = weekday_load_csv(tmp_path / "train.csv", weeks=8)
    assert run_cli("train", train, "-m", model_dir, "--model", "linear", "-q").exit_code == 0
    gap = pd.date_range("2024-03-04 08:00", periods=6, freq="h")  # a Monday morning, the 10th week
    scored = {}
    for name, drop in (("clean", None), ("gap", gap)):
        data = weekday_load_csv(tmp_path / f"{name}.csv", drop=drop)
        result = run_cli("detect-anomalies", data, "-m", model_dir, "-o", tmp_path / f"{name}_scores.csv", "-q")
        assert result.exit_code == 0, result.stderr
        scored[name] = pd.read_csv(tmp_path / f"{name}_scores.csv", parse_dates=["timestamp"]).set_index("timestamp")
    after = slice(pd.Timestamp("2024-03-04 14:00"), pd.Timestamp("2024-03-06 14:00"))
    assert scored["gap"].loc[gap, "value"].isna().all()
    assert scored["gap"].loc[after, "is_anomaly"].sum() == scored["clean"].loc[after, "is_anomaly"].sum() == 0
    # the first value after the gap is expected about as it is without the gap
    first = pd.Timestamp("2024-03-04 14:00")
    assert abs(scored["gap"].loc[first, "expected"] - scored["clean"].loc[first, "expected"]) < 20


def test_forecast_filled_chains_forecasts_through_a_long_gap_in_time_order():
    from forecaster.baselines import SeasonalNaive

    lookback, horizon = 6, 4
    network = SeasonalNaive(lookback, horizon, season=3)  # repeats the last 3 steps
    target = np.tile([1.0, 2.0, 3.0], 10)
    features = target[:, None].copy()
    missing = np.zeros(30, dtype=bool)
    missing[[2]] = True  # before a whole window: left as reading filled it
    missing[9:19] = True  # ten steps: three forecasts of the horizon, each from the one before
    missing[21:23] = True
    features[missing, 0] = -5.0  # what reading filled in
    filled = anomaly.forecast_filled(network, [features, features], [missing, missing], lookback,
                                     ["model", "seasonal-median"], level="mean")
    expected = target.copy()
    expected[2] = -5.0
    np.testing.assert_allclose(filled[0][:, 0], expected, atol=1e-5)
    assert filled[1] is features  # the seasonal median's series keeps reading's fill
    np.testing.assert_array_equal(features[9:19, 0], -5.0)  # the input is not changed


def busy_and_quiet_noise(days: int, rng: np.random.Generator, busy: float = 4.0) -> np.ndarray:
    """Hourly residuals ``busy`` times as large from 08:00 to 19:00 as at night."""
    hours = np.arange(days * 24) % 24
    return 0.2 * rng.normal(0.0, 1.0, days * 24) * np.where((hours >= 8) & (hours < 20), busy, 1.0)


def test_the_phase_scale_sees_night_incidents_that_busy_hours_hid():
    """One yardstick for every hour judged a 3 a.m. spike by the busy hours' noise: not seen."""
    found = {1: 0, 24: 0}
    false_flags = {1: 0, 24: 0}
    spikes = np.arange(40, 120, 8) * 24 + 3  # 3 a.m. every eighth day (beyond the week's hold-off)
    for seed in range(5):
        rng = np.random.default_rng(seed)
        residuals = busy_and_quiet_noise(120, rng)
        spiked = residuals.copy()
        spiked[spikes] += 0.2 * 8  # eight night-time standard deviations, two of the busy hours'
        for season in found:
            calibration = calibrate_series(residuals[: 24 * 30], 24 * 20, local_window=168, season=season)
            flags = score_residuals(spiked, calibration) >= anomaly.THRESHOLD
            found[season] += int(flags[spikes].sum())
            clean = score_residuals(residuals, calibration) >= anomaly.THRESHOLD
            false_flags[season] += int(clean[24 * 30:].sum())
    n_spikes = 5 * len(spikes)
    assert found[1] <= 0.1 * n_spikes and found[24] >= 0.9 * n_spikes
    # and no more false flags on the same noise without spikes (5 x 90 days)
    assert false_flags[24] <= max(false_flags[1], 3)


def test_the_phase_ratio_looks_at_earlier_seasons_only_and_stays_within_bounds():
    rng = np.random.default_rng(7)
    size = np.abs(busy_and_quiet_noise(30, rng))
    mean = np.full_like(size, size.mean())
    ratio, points = anomaly.phase_ratio(size, mean, 24)
    assert points[-1] == 7 * 3 + 3  # a week of three hours, and three pseudo-observations
    changed = size.copy()
    changed[500:] *= 100
    np.testing.assert_array_equal(anomaly.phase_ratio(changed, mean, 24)[0][:500], ratio[:500])
    assert (ratio >= 1 / anomaly.PHASE_MAX_RATIO).all() and (ratio <= anomaly.PHASE_MAX_RATIO).all()
    hours = np.arange(len(size)) % 24
    late = np.arange(len(size)) >= 24 * 8
    busy, quiet = late & (hours >= 10) & (hours < 18), late & ((hours >= 22) | (hours < 6))
    assert ratio[busy].mean() > 2.5 * ratio[quiet].mean()  # noise 4 times as large by day
    # a batch of series side by side, each as alone
    both, _ = anomaly.phase_ratio(np.column_stack([size, changed]), np.column_stack([mean, mean]), 24)
    np.testing.assert_array_equal(both[:, 0], ratio)


def test_the_phase_scale_is_calibrated_only_for_residuals_that_vary_with_the_phase():
    rng = np.random.default_rng(11)
    varying = busy_and_quiet_noise(40, rng)
    even = busy_and_quiet_noise(40, rng, busy=1.0)
    assert anomaly.phase_contrast(varying, 24) > 3 and anomaly.phase_contrast(even, 24) < anomaly.PHASE_MIN_CONTRAST
    assert np.isnan(anomaly.phase_contrast(varying[: 24 * 25], 24))  # 50 residuals a part: too few to tell
    assert calibrate_series(varying, 24 * 20, 168, season=24)["phase_season"] == 24
    assert calibrate_series(even, 24 * 20, 168, season=24)["phase_season"] is None
    assert calibrate_series(varying, 24 * 20, 168, season=1)["phase_season"] is None


def test_a_night_spike_on_a_series_noisier_by_day_is_flagged_end_to_end(tmp_path):
    rng = np.random.default_rng(4)
    hours = pd.date_range("2024-01-01", periods=70 * 24, freq="h")
    busy = (hours.hour >= 8) & (hours.hour < 20)
    load = 200 + 150 * busy + rng.normal(0, 1, len(hours)) * np.where(busy, 20.0, 4.0)
    frame = pd.DataFrame({"timestamp": hours, "load": np.round(load, 2)})
    model_dir = tmp_path / "model"
    frame.iloc[: 50 * 24].to_csv(tmp_path / "train.csv", index=False)
    assert run_cli("train", tmp_path / "train.csv", "-m", model_dir, "--model", "linear", "-q").exit_code == 0
    assert "1 of 1 series scored against their phase's spread" in " ".join(
        run_cli("info", "-m", model_dir).stdout.replace("│", " ").split())
    night = hours.get_loc(pd.Timestamp("2024-03-05 03:00"))
    frame.loc[night, "load"] += 4.0 * 9  # nine night-time standard deviations: half a busy hour's largest
    frame.to_csv(tmp_path / "new.csv", index=False)
    result = run_cli("detect-anomalies", tmp_path / "new.csv", "-m", model_dir, "-o", tmp_path / "scores.csv", "-q")
    assert result.exit_code == 0, result.stderr
    scores = pd.read_csv(tmp_path / "scores.csv", parse_dates=["timestamp"]).set_index("timestamp")
    assert scores.loc["2024-03-05 03:00", "is_anomaly"] == 1
    assert scores.loc["2024-02-20":, "is_anomaly"].sum() <= 3  # and hardly anything else in two weeks


def hourly_with_glitch(tmp_path, glitch: list[float], dips: tuple[int, ...] = ()):
    """A model of a daily cycle about 500 (noise 10), and the 20 days after its training with
    ``glitch`` added from hour 842 and 100 taken from three hours at each of ``dips`` (hours
    after 842): the model, and the scores of the file without and with the glitch."""
    rng = np.random.default_rng(5)
    index = pd.date_range("2024-01-01", periods=24 * 50, freq="h")
    hours = np.arange(len(index))
    frame = pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d %H:%M:%S"),
                          "load": np.round(500 + 100 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 10, len(hours)),
                                           2)})
    frame.iloc[: 24 * 30].to_csv(tmp_path / "train.csv", index=False)
    at = 24 * 35 + 2
    for dip in dips:
        frame.loc[at + dip : at + dip + 2, "load"] -= 100.0
    frame.to_csv(tmp_path / "clean.csv", index=False)
    frame.loc[at : at + len(glitch) - 1, "load"] += glitch
    frame.to_csv(tmp_path / "glitch.csv", index=False)
    model_dir = tmp_path / "model"
    assert run_cli("train", tmp_path / "train.csv", "--model", "linear", "-m", model_dir, "-q").exit_code == 0
    clean = anomaly.detect_anomalies(model_dir, tmp_path / "clean.csv").frame
    glitched = anomaly.detect_anomalies(model_dir, tmp_path / "glitch.csv").frame
    return index, at, clean, glitched


@pytest.mark.parametrize("glitch", [[49500.0], [49500.0, 49500.0, 49500.0]], ids=["one hour", "three hours"])
def test_a_huge_glitch_leaves_the_expectations_after_it_as_they_were(tmp_path, glitch):
    """A sensor writing 50000 where it reads about 500: the glitch is taken out of the inputs,
    and so must be the hour after it that looked extreme only against an expectation made
    from the glitch (it was replaced by that wild expectation, and a week drifted by 200)."""
    index, at, clean, glitched = hourly_with_glitch(tmp_path, glitch)
    assert glitched.loc[glitched["timestamp"] == index[at], "is_anomaly"].item() == 1
    after = glitched["timestamp"] > index[at + len(glitch) - 1]
    drift = (glitched["expected"] - clean["expected"])[after].abs()
    assert drift.max() < 1.0  # the noise's scale is 10


@pytest.mark.parametrize("glitch", [[49500.0], [49500.0, 49500.0, 49500.0]], ids=["one hour", "three hours"])
def test_a_huge_glitch_does_not_hide_the_incidents_after_it(tmp_path, glitch):
    """The glitch swelled the running spread for good and held off every surprise for a week:
    a dip of ten standard deviations 40 hours later scored 0.05 (12 without the glitch), and
    one 250 hours later hardly more. Now the glitch is flagged, and the scores after it are
    those of the file without it."""
    index, at, clean, glitched = hourly_with_glitch(tmp_path, glitch, dips=(40, 250))
    assert glitched.loc[glitched["timestamp"] == index[at], "is_anomaly"].item() == 1
    after = glitched["timestamp"] > index[at + len(glitch) - 1]
    flagged = glitched.loc[after & (glitched["is_anomaly"] == 1), "timestamp"]
    assert flagged.tolist() == [index[at + 40], index[at + 250]]  # each dip at its first hour, nothing else
    assert flagged.tolist() == clean.loc[after & (clean["is_anomaly"] == 1), "timestamp"].tolist()
    at_dips = glitched["timestamp"].isin(flagged)
    np.testing.assert_allclose(glitched.loc[at_dips, "score"], clean.loc[at_dips, "score"], rtol=0.02)


def test_only_an_excursion_far_beyond_any_noise_is_left_out_of_what_later_points_face():
    """A series' own rare spikes stay in its running estimates and hold-off (left out, NAB's
    heavy-tailed files flagged five times as many events); a glitch reaching a surprise of
    ``GLITCH_SURPRISE`` is left out, so a dip after it scores as without it."""
    rng = np.random.default_rng(3)
    residuals = rng.normal(0.0, 1.0, 1500)
    calibration = calibrate_series(residuals, 200, 48)
    marked = np.zeros(len(residuals), dtype=bool)
    marked[900] = True  # an excursion the series came back from
    residuals[1000] -= 9.0  # a dip 100 steps later
    ordinary, glitched = residuals.copy(), residuals.copy()
    ordinary[900] += 9.0
    glitched[900] += 5000.0
    for spiked in (ordinary, glitched):
        assert score_residuals(spiked, calibration, excursions=marked)[900] >= anomaly.THRESHOLD
    np.testing.assert_array_equal(score_residuals(ordinary, calibration, excursions=marked),
                                  score_residuals(ordinary, calibration))
    assert score_residuals(glitched, calibration)[1000] < anomaly.THRESHOLD  # blind after the glitch, before
    np.testing.assert_allclose(score_residuals(glitched, calibration, excursions=marked)[901:],
                               score_residuals(np.r_[residuals[:900], np.nan, residuals[901:]], calibration)[901:],
                               atol=0.05)
