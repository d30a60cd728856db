"""How often the anomaly range score flags simulated series with no incident in them, with the
typical-step condition (the package's) and without it (``RANGE_STEPS`` = 0: the 5 % alone).

A value scores the threshold when it lies ``RANGE_TOLERANCE`` (5 %) of the range of all the
earlier values beyond that range *and* ``RANGE_STEPS`` typical steps (the median of the earlier
``|y_t - y_{t-1}|``) beyond it. A stationary series rarely sets a new record once it has a
history; a series that wanders or trends sets them all the time, by about a step, and the
5 % alone would flag many of them. This script counts the flags per series (after the first 24
points, a lookback of a day of hourly data, where scoring starts) on Gaussian random walks, heavy-tailed
(Student t, 3 degrees of freedom) walks, Gaussian noise along a slow trend (one noise standard
deviation every 100 steps), and Gaussian and Student-t noise, for several step bars.

Usage (from the repository root):
    python benchmarks/range_score.py [--series N] [--seed S] [--no-write]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import REPO, publish, run_header  # noqa: E402

try:
    import forecaster  # noqa: F401
except ImportError:  # not installed: run from a plain checkout
    sys.path.insert(0, str(REPO))

from forecaster.anomaly import RANGE_STEPS, RANGE_TOLERANCE, THRESHOLD, range_score  # noqa: E402

#: Points before scoring starts: the lookback, taken as a day of hourly data.
FIRST_SCORED = 24
#: Step bars compared: none (the 5 % alone), and around the package's.
STEP_BARS = (0.0, 2.0, 3.0, RANGE_STEPS, 6.0)


def generators(rng: np.random.Generator) -> dict[str, Callable[[], np.ndarray]]:
    return {
        "Gaussian random walk, 300 steps": lambda: np.cumsum(rng.normal(size=300)),
        "Gaussian random walk, 5,000 steps": lambda: np.cumsum(rng.normal(size=5000)),
        "Student-t (3) random walk, 5,000 steps": lambda: np.cumsum(rng.standard_t(3, size=5000)),
        "Gaussian noise on a slow trend, 5,000 steps": lambda: 0.01 * np.arange(5000) + rng.normal(size=5000),
        "Gaussian noise, 5,000 steps": lambda: rng.normal(size=5000),
        "Student-t (3) noise, 5,000 steps": lambda: rng.standard_t(3, size=5000),
    }


def flags(values: np.ndarray, steps: float) -> int:
    return int((range_score(values, RANGE_TOLERANCE, steps)[FIRST_SCORED:] >= THRESHOLD).sum())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=30, help="simulated series per kind (default 30)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/range_score.py", *argv])
    started = time.monotonic()
    rng = np.random.default_rng(args.seed)
    rows = []
    for name, draw in generators(rng).items():
        series = [draw() for _ in range(args.series)]
        rows.append((name, [np.mean([flags(values, steps) for values in series]) for steps in STEP_BARS]))
    header = " | ".join("5 % alone" if not steps else f"{steps:g} steps" + (" (the package's)" if steps == RANGE_STEPS
                                                                             else "") for steps in STEP_BARS)
    lines = [
        "## The range score on simulated series without incidents",
        "",
        run_header(command, time.monotonic() - started),
        f"Flags raised by the range score alone (`forecaster.anomaly.range_score`, {RANGE_TOLERANCE:.0%} of the range "
        f"and the step bar), after the first {FIRST_SCORED} points, averaged over {args.series} simulated series of "
        f"each kind (seed {args.seed}). None of these series holds an incident, so every flag is a false alarm; the "
        "other scores (surprise, stillness) are not included.",
        "",
        f"| series | {header} |",
        "|---|" + "---|" * len(STEP_BARS),
        *(f"| {name} | " + " | ".join(f"{value:.2f}" for value in values) + " |" for name, values in rows),
    ]
    publish("range_score", "\n".join(lines), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
