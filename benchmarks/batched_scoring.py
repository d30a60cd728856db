"""Anomaly scores of many series: one series at a time against ``score_batches``.

``detect-anomalies`` scores every series with the same statistics (running medians, rolling
maxima, expanding quantiles). One pandas call per statistic and series cost more in pandas'
own overhead than in the arithmetic for series of a thousand steps, so the series are scored
in batches side by side (``forecaster.anomaly.score_batches``). This script scores the same
simulated series both ways in one process, alternating which goes first, checks that the
scores are identical, and reports the wall times and their ratio.

The series: AR(1) residuals with a spike, a hole and a level shift, expected steps with
still stretches, and random-walk values with 48 steps of history before the scored ones,
calibrated by ``calibrate_series`` as training does (hold-off 48 steps).

Usage (from the repository root):
    python benchmarks/batched_scoring.py [--series N] [--steps N] [--rounds N] [--seed S] [--no-write]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import REPO, publish, run_header  # noqa: E402

try:
    import forecaster  # noqa: F401
except ImportError:  # not installed: run from a plain checkout
    sys.path.insert(0, str(REPO))

from forecaster.anomaly import BATCH_CELLS, calibrate_series, score_batches, score_residuals  # noqa: E402

HISTORY = 48  # values before the first scored step: the lookback


def simulated(n_series: int, n_steps: int, seed: int):
    """Per series residuals, calibration, expected steps and values, as detect-anomalies has them."""
    rng = np.random.default_rng(seed)
    residuals, calibrations, steps, values = [], [], [], []
    for _ in range(n_series):
        noise = rng.normal(0.0, 1.0, n_steps)
        r = np.empty(n_steps)
        r[0] = noise[0]
        for t in range(1, n_steps):
            r[t] = 0.4 * r[t - 1] + noise[t]
        r[rng.integers(n_steps // 2, n_steps)] += 15.0
        hole = rng.integers(n_steps // 2, n_steps - 10)
        r[hole : hole + 10] = np.nan
        r[-n_steps // 10 :] += 3.0
        residuals.append(r)
        calibrations.append(calibrate_series(r, n_steps // 5, HISTORY))
        steps.append(np.where(np.arange(n_steps) % 200 < 20, 0.0, rng.normal(0.0, 1.0, n_steps)))
        values.append(np.cumsum(rng.normal(0.0, 1.0, n_steps + HISTORY)))
    return residuals, calibrations, steps, values


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=5000, help="series (default 5000)")
    parser.add_argument("--steps", type=int, default=1000, help="scored steps per series (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each way (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/batched_scoring.py", *argv])
    started = time.monotonic()
    residuals, calibrations, steps, values = simulated(args.series, args.steps, args.seed)

    def one_by_one():
        return [score_residuals(r, c, s, values=v) for r, c, s, v in zip(residuals, calibrations, steps, values)]

    def batched():
        return score_batches(residuals, calibrations, steps, values)[0]

    ways = {"one series at a time": one_by_one, "score_batches": batched}
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    scores = {}
    for round_ in range(args.rounds):
        for name in (list(ways) if round_ % 2 == 0 else list(ways)[::-1]):
            tick = time.perf_counter()
            scores[name] = ways[name]()
            seconds[name].append(time.perf_counter() - tick)
            print(f"round {round_ + 1}: {name} {seconds[name][-1]:.2f} s", file=sys.stderr)
    identical = all(np.array_equal(a, b, equal_nan=True) for a, b in zip(*scores.values()))
    single, batch = (np.median(seconds[name]) for name in ways)
    lines = [
        "## Anomaly scores of many series at once",
        "",
        run_header(command, time.monotonic() - started),
        f"{args.series:,} simulated series of {args.steps:,} scored steps (seed {args.seed}; AR(1) residuals with a "
        f"spike, a hole and a level shift, still stretches, random-walk values with {HISTORY} steps of history), "
        "scored in one process by `score_residuals` one series at a time and by `score_batches` (series side by "
        f"side, at most {BATCH_CELLS:,} steps x series per batch), {args.rounds} rounds, alternating which goes "
        f"first. Scores identical: **{'yes' if identical else 'NO'}**.",
        "",
        "| way | " + " | ".join(f"round {k + 1}" for k in range(args.rounds)) + " | median |",
        "|---|" + "---|" * (args.rounds + 1),
        *(f"| {name} | " + " | ".join(f"{s:.2f} s" for s in seconds[name]) + f" | {np.median(seconds[name]):.2f} s |"
          for name in ways),
        "",
        f"`score_batches` took {batch / single:.2f} of the time of scoring one series at a time "
        f"({single / batch:.1f} times as fast).",
    ]
    publish("batched_scoring", "\n".join(lines), write=not args.no_write)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
