"""Do the prediction intervals mean what they say? Rolling-origin backtests of the sample data
at 80 % and 95 % nominal coverage, with ``forecaster evaluate``'s own code.

For each sample file, ``forecaster.backtest.evaluate`` (what ``forecaster evaluate`` runs)
forecasts a horizon from each of ``--folds`` cut-offs one horizon apart, under three
protocols: ``each`` (the command's default: trained anew before every cut-off, as a nightly
cron job that retrains would be); ``once`` (trained before the first cut-off only, so the
model is as stale at the last cut-off as a model never retrained, its intervals recalibrated
at each cut-off on the values that arrived since training, as ``predict`` does); and
``once-stale`` (the same without recalibration, ``--no-recalibrate``). The intervals are
calibrated on the validation part of the data the model was trained on (and, recalibrated, on
the latest known errors before the cut-off); every forecast step after a cut-off is then
checked. The target of the accuracy issue: coverage within 3 points of nominal, as narrow as
possible.

The public benchmarks' coverage is measured by their own scripts (``m4_hourly.py`` on the M4
test rows, ``etth1.py`` on the ETTh1 test windows).

Usage (from the repository root):
    python benchmarks/coverage.py [--folds N] [--refit PROTOCOL ...] [--seed N] [--no-write]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import REPO, publish, run_header  # noqa: E402

try:
    import forecaster  # noqa: F401
except ImportError:  # not installed: run from a plain checkout
    sys.path.insert(0, str(REPO))

from forecaster.backtest import BacktestOptions, evaluate_coverages  # noqa: E402
from forecaster.data import DataOptions  # noqa: E402
from forecaster.report import Reporter  # noqa: E402
from forecaster.training import TrainOptions  # noqa: E402

COVERAGES = (0.8, 0.95)
TOLERANCE = 0.03
#: Resamples of the cut-offs for the sampling range of each coverage figure.
BOOTSTRAP = 2000
#: Protocols by their --refit name: their label in the table and their backtest options.
PROTOCOLS = {"each": ("each", {"refit": "each"}), "once": ("once", {"refit": "once"}),
             "once-stale": ("once, not recalibrated", {"refit": "once", "recalibrate": False})}
METHOD_LABELS = {"model": "network", "linear": "linear", "seasonal_naive": "seasonal naive", "naive": "naive"}


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    data: DataOptions


CASES = (
    Case("hourly_load", REPO / "sample_data" / "hourly_load.csv",
         DataOptions(targets=("load",), covariates=("temperature",))),
    Case("stores_daily", REPO / "sample_data" / "stores_daily.csv",
         DataOptions(id_col="store", targets=("sales",), covariates=("promo",))),
)  # fmt: skip


def coverage_range(rows, seed: int, share: float = 0.9) -> tuple[float, float]:
    """The central ``share`` of coverage figures over bootstrap resamples of the cut-offs.

    Args:
        rows: one method's backtest rows (columns ``cutoff``, ``actual``, ``lower``, ``upper``).
    """
    import numpy as np

    inside = (rows["actual"] >= rows["lower"]) & (rows["actual"] <= rows["upper"])
    counted = rows["actual"].notna()
    per_cutoff = (inside & counted).groupby(rows["cutoff"]).sum().to_numpy(dtype=float)
    totals = counted.groupby(rows["cutoff"]).sum().to_numpy(dtype=float)
    picks = np.random.default_rng(seed).integers(0, len(totals), size=(BOOTSTRAP, len(totals)))
    figures = per_cutoff[picks].sum(axis=1) / totals[picks].sum(axis=1)
    tail = (1 - share) / 2
    return float(np.quantile(figures, tail)), float(np.quantile(figures, 1 - tail))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=20, help="cut-offs per file, one horizon apart (default 20)")
    parser.add_argument("--refit", nargs="+", choices=tuple(PROTOCOLS), default=list(PROTOCOLS),
                        help="refit protocols to run (default: all of them)")
    parser.add_argument("--seed", type=int, default=42, help="training seed (default 42)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/coverage.py", *argv])
    reporter = Reporter()
    started = time.monotonic()
    rows = []
    for case in CASES:
        for refit in args.refit:
            reporter.info(f"{case.name}: backtest, refit {refit}")
            results = evaluate_coverages(case.path, case.data, TrainOptions(seed=args.seed),
                                         BacktestOptions(folds=args.folds, **PROTOCOLS[refit][1]), COVERAGES, reporter)
            for nominal, result in zip(COVERAGES, results):
                for r in result.summary.itertuples():
                    rows.append((case.name, refit, nominal, r.model, r.coverage, r.width, result))
    seconds = time.monotonic() - started

    lines = [
        "## Prediction interval coverage on the sample data",
        "",
        run_header(command, seconds).rstrip(),
        "",
        f"`forecaster.backtest.evaluate` (what `forecaster evaluate` runs), {args.folds} cut-offs one horizon "
        f"apart at the end of each file, default training options, seed {args.seed}, under three protocols: "
        "**each** (the command's default: trained anew before every cut-off, as a cron job that retrains "
        "before it predicts); **once** (trained before the first cut-off only and never again, so at the "
        "last cut-off the model is as stale as the backtest is long; at each later cut-off its intervals are "
        "recalibrated on the values that arrived since training, as `predict` does with a fresher file); "
        "and **once, not recalibrated** (the same with `--no-recalibrate`: model and intervals both as stale "
        "as the backtest is long). Intervals: split-conformal on the validation residuals of the data the "
        "model was trained on (and, recalibrated, on the latest known errors), widened or narrowed by how "
        "much each input window moved; every step forecast after each cut-off is checked. "
        f"Width: mean of upper − lower in the data's units. Target: coverage within {TOLERANCE * 100:.0f} "
        "points of nominal.",
        "",
        "In brackets, the range that holds 90 % of the coverage figures when the cut-offs are resampled "
        f"with replacement ({BOOTSTRAP} times; all steps and series of a cut-off together, as their errors "
        "move together). It shows how much of a miss is the luck of these few cut-offs: the steps of one "
        "cut-off are far from independent, so a few hundred of them pin coverage down only to several points.",
        "",
        "| file | series × cut-offs × steps | refit | method | " + " | ".join(f"coverage at {c:.0%} (width)" for c in COVERAGES)
        + " | within target |",
        "|---|---|---|---|" + "---|" * len(COVERAGES) + "---|",
    ]
    for case in CASES:
        for refit in args.refit:
            for method in METHOD_LABELS:
                cells, ok, count = [], True, ""
                for nominal in COVERAGES:
                    match = [r for r in rows if r[:4] == (case.name, refit, nominal, method)]
                    if not match:
                        continue
                    coverage, width, result = match[0][4:]
                    low, high = coverage_range(result.rows[result.rows["model"] == method], args.seed)
                    cells.append(f"{coverage:.1%} ({width:.1f}) [{low:.0%}–{high:.0%}]")
                    ok &= abs(coverage - nominal) <= TOLERANCE
                    count = f"{result.n_series} × {result.backtest.folds} × {result.options.horizon}"
                label = METHOD_LABELS[method]
                shown = f"**{label}**" if method == "model" else label
                lines.append(f"| {case.name} | {count} | {PROTOCOLS[refit][0]} | {shown} | " + " | ".join(cells)
                             + f" | {'yes' if ok else '**no**'} |")
    lines += ["", "The baselines' intervals are calibrated the same way (each on its own validation residuals)."]
    body = "\n".join(lines) + "\n"
    publish("coverage", body, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
