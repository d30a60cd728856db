"""M4 Hourly with the forecaster: one global model on the 414 series, scored as in M4.

Protocol (../shared/bench/README.md §2): every series is fitted on its train row only and
forecast h = 48 steps from the end of it; per series sMAPE and MASE (m = 24, scale from the
series' own train row) are averaged over the series, and OWA is formed from those averages
relative to Naive2. Naive2 is scored from the benchmark forecasts shipped with the data
(sktime's replication, which reproduces the published 18.383 / 2.395; see m4_metric_check.py).

The forecaster's own pipeline is used as a library: the train rows become in-memory
``Series`` (M4 Hourly has no dates, so every series gets synthetic hourly timestamps from
2000-01-01 and the calendar inputs are off), one ``Dataset`` of all of them, one global model
per method via ``training.fit`` (horizon 48, lookback chosen by the library: 168 = a week),
then each series is forecast from its end with its own scaler. The fit holds out the tail of
each train row (``val_fraction``) for early stopping and for the validation table, which is
what options may be judged by; the test rows are only scored.

Methods side by side: the network (default options, ``--seed``), the linear model
(``model="linear"``), seasonal naive and naive, next to published M4 rows.

Usage (from the repository root):
    python benchmarks/m4_hourly.py [--bench-dir DIR] [--seed N] [--epochs N] [--batch-size N]
                                   [--patience N] [--target-transform none|log|auto]
                                   [--lookback N] [--ensemble K] [--ema] [--segment N]
                                   [--learning-rate X] [--dropout X] [--final-fit train|all]
                                   [--quick N] [--no-write] [--save-forecasts FILE.npz]
Options other than the defaults (of the package, not --epochs) write their own section.
``--save-forecasts`` also keeps the network's test and validation forecasts, for
``m4_combine.py`` to score the average of several runs.
``--quick N`` runs on the first N series only, prints and writes nothing to BENCHMARKS.md.
Exit status 0 (with a message) when the bench data is absent.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # common.py, m4_metric_check.py
from common import REPO, bench_dir, publish, run_header, variant_flags  # noqa: E402

if str(REPO) not in sys.path:  # a plain checkout, not installed
    sys.path.insert(1, str(REPO))

import m4_metric_check as m4  # noqa: E402
import pandas as pd  # noqa: E402

from forecaster import forecasting, metrics  # noqa: E402
from forecaster.baselines import seasonal_naive  # noqa: E402
from forecaster.data import DataOptions, Dataset, Series  # noqa: E402
from forecaster.features import series_features  # noqa: E402
from forecaster.outputs import atomic_output  # noqa: E402
from forecaster.report import Reporter  # noqa: E402
from forecaster.scaling import TARGET_TRANSFORMS  # noqa: E402
from forecaster.training import (FINAL_FITS, SERIES_WEIGHT_CAP, SERIES_WEIGHTS, FittedModel,  # noqa: E402
                                 TrainOptions, evaluate_validation, fit)

SEASON, HORIZON = m4.SEASON, m4.HORIZON
START = "2000-01-01"
FLOOR_OWA = 0.627  # published sNaive
AIM_OWA = 0.440  # published ES-RNN (Smyl), the M4 winner
AIM_MINUTES = 30
#: Nominal levels whose interval coverage is measured on the test rows (target: within 3 points).
COVERAGES = (0.8, 0.95)
COVERAGE_TOLERANCE = 0.03
#: Published rows shown next to ours: (id in m4_hourly_official_results.csv, label).
PUBLISHED = (
    ("238", "Doornik et al. (best on Hourly)"),
    ("118", "Smyl ES-RNN (M4 winner)"),
    ("245", "Montero-Manso et al. FFORMA"),
    ("sNaive", "sNaive benchmark"),
    ("211", "Trotta CNN-TS (global CNN)"),
    ("MLP", "MLP benchmark"),
    ("Naive2", "Naive2 benchmark"),
    ("RNN", "RNN benchmark (Keras SimpleRNN)"),
)
METHOD_LABELS = {
    "network": "forecaster network (LSTM + linear skip)",
    "linear": "forecaster linear (ridge on the window)",
    "seasonal_naive": "seasonal naive (ours)",
    "naive": "naive (ours)",
    "naive2": "Naive2 (shipped reference forecasts)",
}


def build_dataset(ids: list[str], insample: list[np.ndarray]) -> Dataset:
    """Every train row as a regular hourly ``Series`` starting at :data:`START`."""
    series = []
    for name, values in zip(ids, insample):
        n = len(values)
        series.append(
            Series(name=name, target="value", index=pd.date_range(START, periods=n, freq="h"), freq="h",
                   values=np.asarray(values, dtype=np.float64), covariates=np.empty((n, 0)),
                   missing=np.zeros(n, dtype=bool), first_row=0)
        )  # fmt: skip
    return Dataset(path="M4 Hourly train rows (in memory)", options=DataOptions(), series=series, n_filled=0)


def end_windows(fitted: FittedModel, dataset: Dataset) -> np.ndarray:
    """`(n_series, lookback, n_features)` scaled input windows at the end of every series."""
    lookback = fitted.options.lookback
    return np.stack([
        prep.scaler.transform(
            series_features(s.values, s.covariates, s.index, s.freq, fitted.options.calendar)[-lookback:])
        for s, prep in zip(dataset.series, fitted.prepared)
    ])  # fmt: skip


def end_forecasts(fitted: FittedModel, dataset: Dataset) -> np.ndarray:
    """`(n_series, horizon)` forecasts in the data's units from the end of every series."""
    scaled = forecasting.predict_scaled(fitted.predictor, end_windows(fitted, dataset), level=fitted.level)
    return np.stack([prep.scaler.target_to_original(row) for row, prep in zip(scaled, fitted.prepared)])


def validation_forecasts(fitted: FittedModel, dataset: Dataset) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Actual values and forecasts of each method over each series' validation part (every
    origin in the held-out tail of the train row), in the data's units."""
    horizon = fitted.options.horizon
    inputs = np.concatenate([x for x, _ in fitted.val_parts])
    scaled = forecasting.predict_scaled(fitted.validated_predictor, inputs, level=fitted.level)
    actual, predicted, at = [], [], 0
    for series, prep, (x, _) in zip(dataset.series, fitted.prepared, fitted.val_parts):
        starts = prep.split + np.arange(len(x))
        actual.append(origin_windows(series.values, starts, horizon))
        predicted.append(prep.scaler.target_to_original(scaled[at : at + len(x)]))
        at += len(x)
    return actual, predicted


def naive_validation(fitted: FittedModel, dataset: Dataset, season: int) -> list[np.ndarray]:
    return [
        seasonal_naive(s.values, prep.split + np.arange(len(x)), fitted.options.horizon, season)
        for s, prep, (x, _) in zip(dataset.series, fitted.prepared, fitted.val_parts)
    ]


def save_forecasts(path: Path, test: np.ndarray, validation: list[np.ndarray], val_starts: list[int],
                   options: TrainOptions, seconds: float) -> None:
    """Write the network's forecasts for ``m4_combine.py`` (never half-written).

    Args:
        test: `(n_series, horizon)` forecasts of the test rows.
        validation: per series `(n_origins, horizon)` forecasts of its validation part, whose
            first origin is ``val_starts`` of that series.
    """
    with atomic_output(path, binary=True) as handle:
        np.savez(handle, test=test, validation=np.concatenate(validation), val_starts=np.array(val_starts),
                 val_counts=np.array([len(v) for v in validation]), lookback=options.lookback, seed=options.seed,
                 ensemble=options.ensemble, training_seconds=seconds)


def origin_windows(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """`(len(origins), horizon)`: the ``horizon`` values from each origin on."""
    return values[np.asarray(origins)[:, None] + np.arange(horizon)]


def validation_scores(actual: list[np.ndarray], predicted: list[np.ndarray],
                      before: list[np.ndarray]) -> dict[str, float]:
    """M4-style scores on the validation part: per series over all its origins, then the mean;
    the MASE scale comes from ``before``, each series' values before its validation part."""
    smapes = [metrics.smape(a, p) for a, p in zip(actual, predicted)]
    mases = [metrics.mase(a, p, x, SEASON) for a, p, x in zip(actual, predicted, before)]
    return {"smape": float(np.mean(smapes)), "mase": float(np.mean(mases))}


def test_coverage(fitted: FittedModel, dataset: Dataset, forecasts: np.ndarray, actual: np.ndarray) -> list[dict]:
    """Empirical coverage and mean width of the network's intervals on the test rows, at each
    of :data:`COVERAGES`, calibrated as ``forecaster train`` does (validation residuals only).

    Args:
        forecasts, actual: `(n_series, horizon)` in the data's units.

    Returns:
        per nominal level: ``nominal``, ``coverage`` (share of test values inside) and
        ``scaled_width`` (mean width over the series' MASE scale).
    """
    evaluation = evaluate_validation(fitted, dataset)
    scales = np.array([metrics.seasonal_scale(s.values, SEASON) for s in dataset.series])
    out = []
    windows = end_windows(fitted, dataset)
    for nominal in COVERAGES:
        lower, upper = np.empty_like(forecasts), np.empty_like(forecasts)
        for i, (scale, reference, prep, window) in enumerate(zip(
                evaluation["residual_scales"], evaluation["window_spreads"], fitted.prepared, windows)):
            spread = forecasting.interval_spreads(evaluation["intervals"], scale, reference, window[None], nominal)[0]
            # in scaled units, where the intervals are calibrated (the log with --target-transform log)
            center = prep.scaler.target_to_scaled(forecasts[i])
            lower[i], upper[i] = (prep.scaler.target_to_original(center + sign * spread) for sign in (-1, 1))
        out.append({"nominal": nominal, "coverage": metrics.interval_coverage(actual, lower, upper),
                    "scaled_width": float(np.mean((upper - lower) / scales[:, None]))})
    return out


def markdown_table(columns: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def hourly_rank(owa: float, official: pd.DataFrame) -> int:
    """Where an OWA would place among the published hourly entries (1 = best)."""
    return int((official["hourly_owa"].astype(float) < owa).sum()) + 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    defaults = TrainOptions()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench-dir", help="folder holding m4/ (default: ../shared/bench)")
    parser.add_argument("--seed", type=int, default=42, help="network seed (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="maximum epochs (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="default: %(default)s")
    parser.add_argument("--patience", type=int, default=defaults.patience,
                        help="early-stopping patience in epochs (default: %(default)s)")
    parser.add_argument("--target-transform", choices=TARGET_TRANSFORMS, default=defaults.target_transform,
                        help="forecaster's --target-transform for both models (default: %(default)s)")
    parser.add_argument("--lookback", type=int, help="both models' lookback (default: the library's choice)")
    parser.add_argument("--ensemble", type=int, metavar="K",
                        help="train the network as an ensemble of K (forecaster's --ensemble; default: the package's)")
    parser.add_argument("--ema", action="store_true", help="train the network with forecaster's --ema")
    parser.add_argument("--segment", type=int, help="forecaster's --segment for the network (default: the package's)")
    parser.add_argument("--learning-rate", type=float,
                        help="forecaster's --learning-rate for the network (default: the package's)")
    parser.add_argument("--dropout", type=float, default=defaults.dropout,
                        help="forecaster's --dropout for the network (default: %(default)s)")
    parser.add_argument("--final-fit", choices=FINAL_FITS, default=defaults.final_fit,
                        help="forecaster's --final-fit for both models (default: %(default)s)")
    parser.add_argument("--series-weights", choices=SERIES_WEIGHTS, default=defaults.series_weights,
                        help="forecaster's --series-weights for the network (default: %(default)s)")
    parser.add_argument("--quick", type=int, metavar="N", help="only the first N series; print, write nothing")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    parser.add_argument("--save-forecasts", type=Path, metavar="FILE.npz",
                        help="also write the network's test and validation forecasts there (for m4_combine.py)")
    args = parser.parse_args(argv)
    if args.save_forecasts and not args.save_forecasts.parent.is_dir():  # found before, not after, the training
        parser.error(f"--save-forecasts: directory '{args.save_forecasts.parent}' does not exist; create it first")
    command = " ".join(["python benchmarks/m4_hourly.py", *argv])

    folder = bench_dir(args.bench_dir)
    if folder is None:
        return 0
    if not (folder / "m4").is_dir():
        print(f"no M4 data under {folder}; nothing to do.", file=sys.stderr)
        return 0

    reporter = Reporter()
    started = time.monotonic()
    insample, actual, shipped, official, ids = m4.load(folder)
    if args.quick is not None:
        if not 1 <= args.quick <= len(ids):
            parser.error(f"--quick must be between 1 and {len(ids)}")
        keep = slice(0, args.quick)
        insample, actual, ids = insample[keep], actual[keep], ids[keep]
        shipped = {name: values[keep] for name, values in shipped.items()}
    dataset = build_dataset(ids, insample)
    reporter.info(f"M4 Hourly: {len(ids)} series, train lengths {sorted({len(x) for x in insample})}, "
                  f"horizon {HORIZON}, MASE season {SEASON}")

    network_options = TrainOptions(horizon=HORIZON, calendar=False, seed=args.seed, epochs=args.epochs,
                                   batch_size=args.batch_size, patience=args.patience,
                                   target_transform=args.target_transform, lookback=args.lookback,
                                   ensemble=args.ensemble, ema=args.ema, segment=args.segment,
                                   learning_rate=args.learning_rate, final_fit=args.final_fit, dropout=args.dropout,
                                   series_weights=args.series_weights)
    forecasts, fitted_models, fit_seconds = {}, {}, {}
    for method, options in (("network", network_options), ("linear", replace(network_options, model="linear"))):
        tick = time.monotonic()
        fitted = fit(dataset, options, reporter)
        fit_seconds[method] = time.monotonic() - tick
        fitted_models[method] = fitted
        forecasts[method] = end_forecasts(fitted, dataset)
        reporter.info(f"{method}: fitted in {fit_seconds[method] / 60:.1f} min"
                      + (f", {fitted.epochs_run} epochs (best {fitted.best_epoch})" if method == "network" else ""))
    ends = [np.array([len(x)]) for x in insample]
    forecasts["seasonal_naive"] = np.concatenate([seasonal_naive(x, e, HORIZON, SEASON) for x, e in zip(insample, ends)])
    forecasts["naive"] = np.concatenate([seasonal_naive(x, e, HORIZON, 1) for x, e in zip(insample, ends)])
    forecasts["naive2"] = shipped["Naive2"]
    # our baselines must be the M4 benchmarks: the shipped sNaive / Naive forecasts say so
    for ours, theirs in (("seasonal_naive", "sNaive"), ("naive", "Naive")):
        if not np.allclose(forecasts[ours], shipped[theirs]):
            reporter.warn(f"our {ours} forecasts differ from the shipped {theirs} forecasts")

    # test scores (the only use of the test rows)
    scores = {method: m4.score(insample, actual, values) for method, values in forecasts.items()}
    reference = scores["naive2"]
    for result in scores.values():
        result["owa"] = metrics.owa(result["smape"], result["mase"], reference["smape"], reference["mase"])

    # validation scores: the held-out tail of each train row, from the network's fit
    fitted = fitted_models["network"]
    intervals = test_coverage(fitted, dataset, forecasts["network"], actual)
    val_actual, network_val = validation_forecasts(fitted, dataset)
    _, linear_val = validation_forecasts(fitted_models["linear"], dataset)
    val_predicted = {
        "network": network_val, "linear": linear_val,
        "seasonal_naive": naive_validation(fitted, dataset, SEASON), "naive": naive_validation(fitted, dataset, 1),
    }  # fmt: skip
    before = [s.values[: prep.split] for s, prep in zip(dataset.series, fitted.prepared)]
    val_scores = {m: validation_scores(val_actual, p, before) for m, p in val_predicted.items()}
    if args.save_forecasts:
        save_forecasts(args.save_forecasts, forecasts["network"], network_val, [p.split for p in fitted.prepared],
                       fitted.options, fit_seconds["network"])
    snaive_val = val_scores["seasonal_naive"]
    for result in val_scores.values():
        result["rel"] = metrics.owa(result["smape"], result["mase"], snaive_val["smape"], snaive_val["mase"])
    seconds = time.monotonic() - started

    # --- the report -------------------------------------------------------------------------
    opts = fitted.options
    n_train = len(fitted.train_windows)
    n_val = sum(len(x) for x, _ in fitted.val_parts)
    ours_rows = [
        [METHOD_LABELS[m], f"{scores[m]['smape']:.3f}", f"{scores[m]['mase']:.3f}", f"{scores[m]['owa']:.3f}",
         str(hourly_rank(scores[m]["owa"], official)) if args.quick is None else "–"]
        for m in ("network", "linear", "seasonal_naive", "naive", "naive2")
    ]  # fmt: skip
    published_rows = []
    for key, label in PUBLISHED:
        row = official.loc[key]
        published_rows.append([label, f"{float(row['hourly_smape']):.3f}", f"{float(row['hourly_mase']):.3f}",
                               f"{float(row['hourly_owa']):.3f}", str(int(row["hourly_rank_owa"]))])
    test_table = markdown_table(["method", "sMAPE", "MASE", "OWA", "hourly rank*"], ours_rows + published_rows)
    val_table = markdown_table(
        ["method", "sMAPE", "MASE", "rel. to sNaive"],
        [[METHOD_LABELS[m], f"{v['smape']:.3f}", f"{v['mase']:.3f}", f"{v['rel']:.3f}"] for m, v in val_scores.items()],
    )
    net_owa = scores["network"]["owa"]
    train_minutes = fit_seconds["network"] / 60
    floor_met = net_owa < FLOOR_OWA
    aim_met = net_owa < AIM_OWA and train_minutes <= AIM_MINUTES
    lowered = [f"{name} {value}" for name, value, default in (
        ("batch size", opts.batch_size, defaults.batch_size), ("patience", opts.patience, defaults.patience),
        ("max epochs", opts.epochs, defaults.epochs)) if value != default]  # fmt: skip
    variant = variant_flags(args)
    ran = (", ".join(f"{m['epochs_run']} (best {m['best_epoch']})" for m in fitted.members) + " epochs, member by member,"
           if fitted.members else f"{fitted.epochs_run} epochs (best {fitted.best_epoch})")
    ran += " and again for the best epochs on every window," if opts.final_fit == "all" else ""
    body = "\n".join([
        "## M4 Hourly (414 series, h = 48, m = 24)" + (f", trained with `{variant}`" if variant else ""),
        "",
        run_header(command, seconds).rstrip(),
        "",
        "Protocol of `../shared/bench/README.md` §2: each series fitted on its train row only, 48 steps forecast "
        "from its end, sMAPE and MASE (m = 24, scale from the train row) averaged over the series, OWA from "
        "those averages relative to Naive2 (scored here from the shipped reference forecasts: "
        f"sMAPE {reference['smape']:.3f}, MASE {reference['mase']:.3f}). One global model per method for all "
        "series, via `training.fit`; synthetic hourly timestamps (M4 Hourly has no dates), so `calendar=False`.",
        "",
        f"Network: {opts.cell.upper()} {opts.layers} x {opts.units} units, linear skip {opts.linear_skip}, "
        f"lookback {opts.lookback}, horizon {opts.horizon}, Huber loss, Adam {opts.learning_rate:g}, "
        f"batch {opts.batch_size}, up to {opts.epochs} epochs with patience {opts.patience} on the validation "
        f"loss, seed {opts.seed}"
        + (", on the logarithm of the values (forecasts and interval bounds taken back with exp"
           + (", as `--target-transform auto` chose" if args.target_transform == "auto" else "") + ")"
           if opts.target_transform == "log" else "")
        + (f"; an ensemble of {opts.ensemble} (seeds {opts.seed} to {opts.seed + opts.ensemble - 1}, their "
           "forecasts averaged)" if opts.ensemble > 1 else "")
        + ("; weights averaged (`--ema`)" if opts.ema else "")
        + (f"; the recurrent layer over segments of {opts.segment} steps" if opts.segment > 1 else "")
        + (f"; input dropout {opts.dropout:g}" if opts.dropout else "")
        + ("; each series weighted in the loss by the inverse of its in-sample seasonal-naive error, as MASE "
           f"weighs it, at most {SERIES_WEIGHT_CAP:g} times the median series' "
           "(`--series-weights seasonal-error`)" if opts.series_weights == "seasonal-error"
           else "; every series' windows weighted alike in the loss (`--series-weights even`)")
        + ("; once validation had chosen the epochs (and the linear model its penalty), both fitted again on "
           "the training and validation windows together (`--final-fit all`; validation figures and intervals "
           "from the models as validated)" if opts.final_fit == "all" else "")
        + "; default options otherwise"
        + (f" (changed from the defaults to bound the cost: {', '.join(lowered)})" if lowered else "") + ". "
        f"{n_train} training and {n_val} validation windows (validation: the last "
        f"{opts.val_fraction:g} of each train row). It ran {ran} "
        f"in {train_minutes:.1f} min; the linear model (ridge, penalty chosen on validation: "
        f"{fitted_models['linear'].predictor.alpha:g}) took {fit_seconds['linear'] / 60:.1f} min.",
        "",
        "Test (the M4 test rows):",
        "",
        test_table,
        "",
        "\\* rank among the 59 published hourly entries (ours: where its OWA would place). Published rows: "
        "`m4/m4_hourly_official_results.csv` (M4 \"Evaluation and Ranks.xlsx\").",
        "",
        f"- floor, network OWA below sNaive's {FLOOR_OWA}: **{'met' if floor_met else 'not met'}** "
        f"({net_owa:.3f})",
        f"- aim, network OWA below ES-RNN's {AIM_OWA} with at most {AIM_MINUTES} min of training on this machine: "
        f"**{'met' if aim_met else 'not met'}** ({net_owa:.3f} after {train_minutes:.1f} min)",
        "",
        "Prediction intervals of the network on the test rows (split-conformal on the validation residuals, "
        "scaled by how much each input window moved, "
        "as `forecaster predict` computes them; target: coverage within "
        f"{COVERAGE_TOLERANCE * 100:.0f} points of nominal):",
        "",
        markdown_table(["nominal", "coverage", "within target", "mean width / MASE scale"], [
            [f"{c['nominal']:.0%}", f"{c['coverage']:.1%}",
             "yes" if abs(c["coverage"] - c["nominal"]) <= COVERAGE_TOLERANCE else "**no**", f"{c['scaled_width']:.2f}"]
            for c in intervals]),
        "",
        "Validation (every origin in the held-out tail of each train row; what options may be judged by — "
        "\"rel. to sNaive\" is ½·(sMAPE/sMAPE_sNaive + MASE/MASE_sNaive) there):",
        "",
        val_table,
    ])  # fmt: skip
    suffix = variant.replace("--target-transform ", "").replace("--", "").replace("-", "_").replace(" ", "_")
    section = "m4_hourly" + (f"_{suffix}" if variant else "")
    publish(section, body, write=args.quick is None and not args.no_write,
            skipped_because=(f"quick run on {len(ids)} series (OWA relative to Naive2 on the same series)"
                             if args.quick is not None else "--no-write"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
