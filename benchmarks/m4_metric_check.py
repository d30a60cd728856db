"""Check forecaster.metrics against the official M4 Hourly numbers.

Scores the benchmark forecasts shipped with the shared bench data (sktime's replications of
the M4 Naive2, sNaive and Naive1 benchmarks) on the M4 Hourly test set, following the M4
protocol: per series sMAPE and MASE (seasonality m = 24, scale from the series' own training
values), each averaged over the 414 series, then OWA from those averages relative to Naive2.
The results are printed next to the published numbers (M4 "Evaluation and Ranks.xlsx").

The published numbers have three decimals, so a value passes when it is within half a unit of
the last digit (plus float noise). For OWA the rounding of the published sMAPE and MASE that
enter it (the organisers evidently formed OWA from the rounded averages; every published
hourly OWA equals ½·(sMAPE/18.383 + MASE/2.395) rounded) widens that by the propagated bound.

Usage (from the repository root):  python benchmarks/m4_metric_check.py [--bench-dir DIR]
Exit status 0 when every number matches (or the bench folder is absent), 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

try:
    import forecaster.metrics as metrics
except ImportError:  # not installed: run from a plain checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import forecaster.metrics as metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common.py

SEASON = 24
HORIZON = 48
N_SERIES = 414
METHODS = ("Naive2", "sNaive", "Naive")  # Naive2 first: the OWA reference
OFFICIAL_IDS = {"Naive2": "Naive2", "sNaive": "sNaive", "Naive": "Naive"}
HALF_UNIT = 0.0005  # published values have three decimals
FLOAT_SLACK = 1e-9


def default_bench_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "shared" / "bench"


def read_wide(path: Path) -> pd.DataFrame:
    """An M4-style CSV with the series id in the first column, values after it, as floats."""
    frame = pd.read_csv(path, index_col=0)
    frame.index = frame.index.astype(str)
    if frame.index.has_duplicates:
        raise SystemExit(f"{path}: duplicate series ids")
    return frame.astype(np.float64)


def load(bench_dir: Path) -> tuple[list[np.ndarray], np.ndarray, dict[str, np.ndarray], pd.DataFrame, list[str]]:
    m4 = bench_dir / "m4"
    train = read_wide(m4 / "Hourly-train.csv")
    test = read_wide(m4 / "Hourly-test.csv")
    if list(train.index) != list(test.index):
        raise SystemExit("train and test series ids differ")
    ids = list(test.index)
    actual = test.to_numpy()
    if actual.shape != (N_SERIES, HORIZON) or not np.isfinite(actual).all():
        raise SystemExit(f"test data: expected {N_SERIES} complete rows of {HORIZON}, got {actual.shape}")
    insample = []
    for name, row in zip(ids, train.to_numpy()):
        n = int(np.isfinite(row).sum())
        if not np.isfinite(row[:n]).all():  # padding must only trail
            raise SystemExit(f"train series {name} has a gap")
        insample.append(row[:n])
    forecasts = {}
    for method in METHODS:
        frame = read_wide(m4 / "reference_forecasts" / f"{method}_Hourly_forecasts.csv")
        if set(frame.index) != set(ids):
            raise SystemExit(f"{method}: forecast ids differ from the test ids")
        # the shipped files are sorted as strings (H1, H10, H100, …): align by id, not by row
        forecasts[method] = frame.loc[ids].to_numpy()
        if forecasts[method].shape != actual.shape or not np.isfinite(forecasts[method]).all():
            raise SystemExit(f"{method}: expected {actual.shape} finite forecasts")
    official = pd.read_csv(m4 / "m4_hourly_official_results.csv", dtype={"id": str}).set_index("id")
    return insample, actual, forecasts, official, ids


def score(insample: list[np.ndarray], actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """M4 protocol: sMAPE and MASE per series, then the mean over series."""
    per_series_smape = [metrics.smape(a, p) for a, p in zip(actual, predicted)]
    per_series_mase = [metrics.mase(a, p, x, SEASON) for a, p, x in zip(actual, predicted, insample)]
    result = {"smape": float(np.mean(per_series_smape)), "mase": float(np.mean(per_series_mase))}
    # the pooled summary with one in-sample scale per row must give the same numbers
    scales = np.array([metrics.seasonal_scale(x, SEASON) for x in insample])
    pooled = metrics.forecast_summary(actual, predicted, insample_scale=scales)
    for key in ("smape", "mase"):
        if not np.isclose(pooled[key], result[key], rtol=1e-12, atol=0):
            raise SystemExit(f"forecast_summary {key} {pooled[key]!r} != per-series mean {result[key]!r}")
    return result


def owa_tolerance(s: float, m: float, s2: float, m2: float) -> float:
    """Half a unit of the published OWA plus the effect of ±HALF_UNIT on each of its inputs."""
    propagated = 0.5 * HALF_UNIT * (1 / s2 + 1 / m2 + s / s2**2 + m / m2**2)
    return HALF_UNIT + propagated


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    started = time.monotonic()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench-dir", type=Path, default=default_bench_dir(),
                        help="folder holding m4/ (default: %(default)s)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    if not (args.bench_dir / "m4").is_dir():
        print(f"no M4 bench data under {args.bench_dir}; nothing to check")
        return 0

    insample, actual, forecasts, official, ids = load(args.bench_dir)
    scores = {method: score(insample, actual, forecasts[method]) for method in METHODS}
    naive2 = scores["Naive2"]
    for method in METHODS:
        scores[method]["owa"] = metrics.owa(scores[method]["smape"], scores[method]["mase"], naive2["smape"], naive2["mase"])
        # the published OWA is formed from the published (rounded) averages
        rounded = {k: round(v, 3) for k, v in scores[method].items()}
        scores[method]["owa_rounded_inputs"] = metrics.owa(rounded["smape"], rounded["mase"],
                                                           round(naive2["smape"], 3), round(naive2["mase"], 3))

    lines: list[str] = []
    say = lines.append  # every line goes to stdout and, when all match, to BENCHMARKS.md

    say(f"M4 Hourly: {len(ids)} series, horizon {actual.shape[1]}, MASE season {SEASON}, "
          f"train lengths {sorted({len(x) for x in insample})}")
    say(f"{'method':<7} {'metric':<5} {'ours':>12} {'published':>10} {'diff':>10} {'tolerance':>9}  result")
    failures = 0
    for method in METHODS:
        published = official.loc[OFFICIAL_IDS[method]]
        p_smape, p_mase, p_owa = (float(published[f"hourly_{k}"]) for k in ("smape", "mase", "owa"))
        checks = [
            ("sMAPE", scores[method]["smape"], p_smape, HALF_UNIT + FLOAT_SLACK),
            ("MASE", scores[method]["mase"], p_mase, HALF_UNIT + FLOAT_SLACK),
            ("OWA", scores[method]["owa"], p_owa,
             owa_tolerance(p_smape, p_mase, float(official.loc["Naive2", "hourly_smape"]),
                           float(official.loc["Naive2", "hourly_mase"])) + FLOAT_SLACK),
        ]
        for name, ours, reference, tolerance in checks:
            diff = ours - reference
            ok = abs(diff) <= tolerance
            failures += not ok
            say(f"{method:<7} {name:<5} {ours:12.6f} {reference:10.3f} {diff:+10.6f} {tolerance:9.6f}  {'ok' if ok else 'MISMATCH'}")
        # OWA as the spreadsheet formed it: from the averages rounded to three decimals
        ours = scores[method]["owa_rounded_inputs"]
        ok = round(ours, 3) == round(p_owa, 3)
        failures += not ok
        say(f"{method:<7} {'OWA*':<5} {ours:12.6f} {p_owa:10.3f} {ours - p_owa:+10.6f} {'round 3':>9}  {'ok' if ok else 'MISMATCH'}")
    say("OWA  = from the unrounded averages (the M4 protocol); Naive2 reference is our own Naive2.")
    say("OWA* = from the averages rounded to 3 decimals, as the published table was; must round equal.")
    say("all match" if not failures else f"{failures} mismatch(es)")
    text = "\n".join(lines)
    sys.stdout.write(text + "\n")
    if not args.no_write and not failures:
        from common import run_header, write_section

        command = " ".join(["python benchmarks/m4_metric_check.py", *argv])
        write_section("m4_metric_check", "## M4 metric check (sMAPE, MASE, OWA against the published benchmarks)\n\n"
                      + run_header(command, time.monotonic() - started) + "\n"
                      "The metric code (`forecaster.metrics`) scores the reference forecasts shipped with the data "
                      "and must reproduce the published M4 Hourly numbers:\n\n```text\n" + text + "\n```\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
