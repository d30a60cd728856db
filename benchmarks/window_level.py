"""Which level ``--window-level auto`` takes on the forecasting benchmarks and the sample data,
and the validation errors it took it on.

``train`` fits the linear model on windows relative to their mean and relative to their last
value and takes the last value when its validation MSE is at least 2 % lower
(``forecaster.training.LEVEL_MARGIN``). Where the mean is kept, the models are computed exactly
as before the choice existed, so the published sections of those benchmarks stand. This script
fits the linear model only (the choice does not depend on the model trained), on exactly the
data and options each benchmark script trains on. NAB's choices are listed by ``nab.py``.

Usage (from the repository root):
    python benchmarks/window_level.py [--bench-dir DIR] [--no-write]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import REPO, bench_dir, publish, run_header  # noqa: E402

try:
    import forecaster  # noqa: F401
except ImportError:  # not installed: run from a plain checkout
    sys.path.insert(0, str(REPO))

import coverage  # noqa: E402
import etth1  # noqa: E402
import m4_hourly  # noqa: E402
import m4_metric_check as m4  # noqa: E402

from forecaster.data import load_dataset  # noqa: E402
from forecaster.report import QUIET, Reporter  # noqa: E402
from forecaster.training import LEVEL_MARGIN, TrainOptions, fit  # noqa: E402


def choice(dataset, options: TrainOptions) -> tuple[str, dict[str, float]]:
    """The level ``auto`` takes on ``dataset`` with ``options``, and each level's linear
    validation MSE."""
    fitted = fit(dataset, replace(options, model="linear", window_level="auto"), QUIET)
    return fitted.level, fitted.level_errors


def cases(folder: Path | None, reporter: Reporter):
    """``(name, dataset, options)`` as each benchmark script trains: the sample files as
    ``coverage.py`` does, M4 Hourly as ``m4_hourly.py``, ETTh1 as ``etth1.py`` at each horizon."""
    for case in coverage.CASES:
        yield f"sample `{case.path.name}`", load_dataset(case.path, case.data, QUIET), TrainOptions(seed=0)
    if folder is None:
        return
    if (folder / "m4").is_dir():
        insample, _, _, _, ids = m4.load(folder)
        yield ("M4 Hourly, 414 series", m4_hourly.build_dataset(ids, insample),
               TrainOptions(horizon=m4_hourly.HORIZON, calendar=False, seed=42))
    csv = folder / "ett" / "ETTh1.csv"
    if csv.is_file():
        protocol = etth1.Protocol(etth1.load_etth1(csv, reporter), etth1.STANDARD)
        fit_data = protocol.fit_data(etth1.load_etth1(csv, reporter))
        for horizon in (96, 192, 336, 720):
            yield (f"ETTh1 OT, H = {horizon}", fit_data,
                   TrainOptions(lookback=etth1.LOOKBACK, horizon=horizon, val_fraction=protocol.split.val_fraction,
                                seed=0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench-dir", help="folder holding m4/ and ett/ (default: ../shared/bench)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/window_level.py", *(sys.argv[1:] if argv is None else argv)])
    reporter = Reporter()
    started = time.monotonic()
    folder = bench_dir(args.bench_dir)
    rows = []
    for name, dataset, options in cases(folder, reporter):
        level, errors = choice(dataset, options)
        change = 100 * (errors["last"] / errors["mean"] - 1)
        reporter.info(f"{name}: {level} (last value {change:+.1f} % MSE)")
        rows.append(f"| {name} | {errors['mean']:.4f} | {errors['last']:.4f} | {change:+.1f} % | {level} |")
    body = "\n".join([
        "## `--window-level auto`: the level taken on the forecasting benchmarks and the sample data",
        "",
        run_header(command, time.monotonic() - started),
        f"The linear model's validation MSE (scaled units, every horizon step) fitted on windows relative to "
        f"their mean and to their last value, with the data and options each benchmark script trains on; "
        f"`auto` takes the last value when it is at least {100 * LEVEL_MARGIN:g} % lower. Where it keeps the "
        f"mean, the models are computed exactly as before the option existed.",
        "",
        "| data | MSE, mean | MSE, last value | last value vs mean | taken |",
        "|---|---|---|---|---|",
        *rows,
    ])
    publish("window_level", body, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
