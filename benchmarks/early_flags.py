"""Where in a short series ``detect-anomalies`` raises its flags: the first scored points
against later ones, with and without the Student's t allowance for a starting spread
estimated from few validation residuals (the current scoring, and the same without the
allowance, which came with scoring version 6).

Short series (60 days) give a dozen validation residuals to start the surprise's spread from,
and such an estimate is often well below the true spread. Each run writes files of 25 daily
series, trains the linear model on each file as ``forecaster train --model linear --seed S``
does and scores it as ``forecaster detect-anomalies`` does; then the same model is scored
without the allowance (its ``prior_df`` taken out of ``metadata.json``, which the scoring then
does without, as for a model calibrated by version 5; the later versions' settings stay), so
both are measured on the same models.

* **clean**: Gaussian noise around 100 (standard deviation 10). Every flag is a false alarm;
  the rate per scored position should not depend on the position.
* **one spike**: the same, with one point per series moved 6 standard deviations (up or
  down) at a random row after the first two weeks: how many spikes are flagged, by where they
  fall, and how many other flags there are.

Usage (from the repository root):
    python benchmarks/early_flags.py [--runs N] [--days D] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import REPO, publish, run_header  # noqa: E402

try:
    import forecaster  # noqa: F401
except ImportError:  # not installed: run from a plain checkout
    sys.path.insert(0, str(REPO))

from forecaster.anomaly import detect_anomalies  # noqa: E402
from forecaster.data import DataOptions  # noqa: E402
from forecaster.training import TrainOptions, train  # noqa: E402

SERIES_PER_FILE = 25
SPIKE_SIZE = 6.0
#: Scored positions are reported in these groups (first included, last excluded).
POSITIONS = ((0, 5), (5, 15), (15, 30), (30, None))
SCORINGS = ("current (t allowance)", "without the t allowance")


def write_file(folder: Path, rng: np.random.Generator, days: int, spike: bool) -> tuple[Path, dict[str, int]]:
    """A file of SERIES_PER_FILE daily series of noise; with ``spike``, one moved point each
    (its row per series)."""
    columns, spikes = {}, {}
    for i in range(SERIES_PER_FILE):
        values = 100.0 + 10.0 * rng.standard_normal(days)
        if spike:
            row = int(rng.integers(14, days))
            values[row] += SPIKE_SIZE * 10.0 * rng.choice([-1.0, 1.0])
            spikes[f"s{i}"] = row
        columns[f"s{i}"] = values
    path = folder / "series.csv"
    pd.DataFrame({"date": pd.date_range("2024-01-01", periods=days, freq="D"), **columns}).to_csv(path, index=False)
    return path, spikes


def scored_flags(model: Path, data: Path) -> dict[str, pd.DataFrame]:
    """Per series its scored rows (timestamp, is_anomaly), in time order."""
    frame = detect_anomalies(model, data).frame
    frame = frame[frame["score"].notna()]
    return {name: rows.reset_index(drop=True) for name, rows in frame.groupby("series")}


def without_allowance(model: Path) -> None:
    """Take ``prior_df`` out of every series' calibration: scored without the allowance, as a
    model calibrated by version 5 is (the settings of later versions stay)."""
    path = model / "metadata.json"
    metadata = json.loads(path.read_text())
    for series in metadata["series"]:
        series["anomaly"].pop("prior_df")
        series["anomaly"]["scoring"] = 5
    path.write_text(json.dumps(metadata))


def run(rng: np.random.Generator, seed: int, days: int, spike: bool) -> list[tuple[dict[str, pd.DataFrame], dict]]:
    """Both scorings of one trained file: per scoring (flags per series, spike rows)."""
    with tempfile.TemporaryDirectory() as folder:
        data, spikes = write_file(Path(folder), rng, days, spike)
        model = Path(folder) / "model"
        train(data, DataOptions(), TrainOptions(model="linear", seed=seed), model)
        current = scored_flags(model, data)
        without_allowance(model)
        return [(current, spikes), (scored_flags(model, data), spikes)]


def position_rates(results: list[dict[str, pd.DataFrame]]) -> list[float]:
    """Share of scored points flagged in each group of POSITIONS."""
    flags = np.concatenate([[rows["is_anomaly"].to_numpy() for rows in result.values()] for result in results])
    return [float(flags[:, first:last].mean()) for first, last in POSITIONS]


def spike_summary(results: list[tuple[dict[str, pd.DataFrame], dict[str, int]]], days: int) -> tuple[list, int, int]:
    """Per half of the series (spike before / after mid-way) the share of spikes flagged, and
    the other flags and points."""
    found: dict[bool, list[int]] = {True: [], False: []}
    others = points = 0
    for flags, spikes in results:
        for name, rows in flags.items():
            moved = pd.Timestamp("2024-01-01") + pd.Timedelta(days=spikes[name])
            at = int(np.flatnonzero(pd.to_datetime(rows["timestamp"]).dt.tz_localize(None) == moved)[0])
            hit = int(rows["is_anomaly"][at])
            found[spikes[name] < days // 2].append(hit)
            others += int(rows["is_anomaly"].sum()) - hit
            points += len(rows) - 1
    return [float(np.mean(found[True])), float(np.mean(found[False]))], others, points


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="files of each kind, 25 series each (default 30)")
    parser.add_argument("--days", type=int, default=60, help="length of each series in days (default 60)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/early_flags.py", *argv])
    started = time.monotonic()
    rng = np.random.default_rng(0)
    clean = [run(rng, seed, args.days, spike=False) for seed in range(args.runs)]
    spiked = [run(rng, seed, args.days, spike=True) for seed in range(args.runs)]

    groups = " | ".join(f"positions {first + 1} to {last}" if last else f"positions {first + 1} on"
                        for first, last in POSITIONS)
    clean_rows, spike_rows = [], []
    for k, name in enumerate(SCORINGS):
        rates = position_rates([pair[k][0] for pair in clean])
        n_flags = sum(int(rows["is_anomaly"].sum()) for pair in clean for rows in pair[k][0].values())
        clean_rows.append(f"| {name} | {n_flags} | " + " | ".join(f"{100 * r:.2f} %" for r in rates)
                          + f" | {rates[0] / rates[-1]:.1f} |")
        (early, late), others, points = spike_summary([pair[k] for pair in spiked], args.days)
        spike_rows.append(f"| {name} | {100 * early:.1f} % | {100 * late:.1f} % | {others} of {points} "
                          f"({100 * others / points:.2f} %) |")
    n_series = args.runs * SERIES_PER_FILE
    lines = [
        "## Flags in the first points of short series",
        "",
        run_header(command, time.monotonic() - started),
        f"{args.runs} files of {SERIES_PER_FILE} daily series of {args.days} days each (Gaussian noise, so "
        f"{n_series} series), the linear model trained on each file (`--model linear --seed` the file's number) "
        "and the file scored by `detect-anomalies`; then the same models scored without the Student's t "
        "allowance for a starting spread from few residuals (as models calibrated by version 5 are; the settings "
        "of later versions kept). Position 1 is "
        "a series' first scored point (after its lookback).",
        "",
        "**Clean series**: every flag is a false alarm. Share of scored points flagged, by position:",
        "",
        f"| scoring | flags | {groups} | first five / from the 31st |",
        "|---|---|" + "---|" * len(POSITIONS) + "---|",
        *clean_rows,
        "",
        f"**One spike per series** ({SPIKE_SIZE:g} standard deviations, up or down, at a random day from the 15th; "
        f"{args.runs} other files): spikes flagged, in the first and second half of the series, and flags elsewhere.",
        "",
        "| scoring | spikes found, first half | spikes found, second half | other flags |",
        "|---|---|---|---|",
        *spike_rows,
    ]
    publish("early_flags", "\n".join(lines), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
