"""M4 Hourly: the average of several networks' forecasts, scored as ``m4_hourly.py`` scores one.

Each run is a file written by ``python benchmarks/m4_hourly.py ... --save-forecasts RUN.npz``:
the network's forecasts of the test rows and of every validation origin. This script scores
each run alone and the equal-weight average of all of them, on the test rows (sMAPE, MASE,
OWA against Naive2, as in M4) and on validation (relative to seasonal naive, what a choice
may be judged by), so that networks trained with different options (lookbacks, seeds) can be
compared as an ensemble before the package can train one. It prints; it writes nothing.

Usage (from the repository root):
    python benchmarks/m4_combine.py RUN.npz RUN.npz [...] [--bench-dir DIR]
Exit status 0 (with a message) when the bench data is absent.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import bench_dir  # noqa: E402
from m4_hourly import HORIZON, SEASON, m4, markdown_table, origin_windows, validation_scores  # noqa: E402

from forecaster import metrics  # noqa: E402
from forecaster.baselines import seasonal_naive  # noqa: E402


RUN_KEYS = ("test", "validation", "val_starts", "val_counts", "lookback", "seed", "ensemble", "training_seconds")


def load_run(path: Path) -> dict:
    """A file written by ``m4_hourly.py --save-forecasts`` (read without pickle)."""
    try:
        with np.load(path) as data:
            return {key: data[key] for key in RUN_KEYS} | {"name": Path(path).name}
    except (OSError, ValueError, KeyError) as error:
        raise SystemExit(f"{path}: not a run written by m4_hourly.py --save-forecasts ({error}); "
                         "write it again with that option") from None


def validation_origins(starts: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """Per series the first step of each validation origin: `(count,)` from its start on."""
    return [start + np.arange(count) for start, count in zip(starts, counts)]


def split_validation(run: dict) -> list[np.ndarray]:
    """The run's validation forecasts per series, `(n_origins, horizon)` each."""
    return np.split(run["validation"], np.cumsum(run["val_counts"])[:-1])


def check_same_origins(runs: list[dict]) -> None:
    """Runs can only be averaged over the same validation origins and test rows."""
    first = runs[0]
    for run in runs[1:]:
        same = (np.array_equal(run["val_starts"], first["val_starts"])
                and np.array_equal(run["val_counts"], first["val_counts"])
                and run["test"].shape == first["test"].shape)
        if not same:
            raise SystemExit(f"{run['name']} and {first['name']} were not forecast over the same series and "
                             "validation origins (another --val-fraction or data?); they cannot be averaged")


def scores(runs: list[dict], insample: list[np.ndarray], actual: np.ndarray, naive2: np.ndarray) -> list[list[str]]:
    """Table rows: each run alone, then their average (test OWA, validation relative to sNaive)."""
    first = runs[0]
    origins = validation_origins(first["val_starts"], first["val_counts"])
    val_actual = [origin_windows(x, o, HORIZON) for x, o in zip(insample, origins)]
    before = [x[:start] for x, start in zip(insample, first["val_starts"])]
    snaive = validation_scores(val_actual, [seasonal_naive(x, o, HORIZON, SEASON) for x, o in zip(insample, origins)],
                               before)
    reference = m4.score(insample, actual, naive2)
    candidates = [(f"`{run['name']}` (lookback {int(run['lookback'])}, seed {int(run['seed'])}, "
                   f"ensemble {int(run['ensemble'])})", [run]) for run in runs]
    if len(runs) > 1:
        candidates.append((f"average of the {len(runs)} runs", runs))
    rows = []
    for label, members in candidates:
        test = np.mean([run["test"] for run in members], axis=0)
        validation = [np.mean(parts, axis=0) for parts in zip(*(split_validation(run) for run in members))]
        tested = m4.score(insample, actual, test)
        validated = validation_scores(val_actual, validation, before)
        minutes = sum(float(run["training_seconds"]) for run in members) / 60
        rows.append([label, f"{tested['smape']:.3f}", f"{tested['mase']:.3f}",
                     f"{metrics.owa(tested['smape'], tested['mase'], reference['smape'], reference['mase']):.3f}",
                     f"{metrics.owa(validated['smape'], validated['mase'], snaive['smape'], snaive['mase']):.3f}",
                     f"{minutes:.1f}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="files written by m4_hourly.py --save-forecasts")
    parser.add_argument("--bench-dir", help="folder holding m4/ (default: ../shared/bench)")
    args = parser.parse_args(argv)
    folder = bench_dir(args.bench_dir)
    if folder is None:
        return 0
    runs = [load_run(path) for path in args.runs]
    check_same_origins(runs)
    insample, actual, shipped, _, _ = m4.load(folder)
    if runs[0]["test"].shape != actual.shape:
        raise SystemExit(f"{runs[0]['name']} holds {runs[0]['test'].shape[0]} series, M4 Hourly {actual.shape[0]} "
                         "(a --quick run?)")
    rows = scores(runs, insample, actual, shipped["Naive2"])
    print(markdown_table(["network", "test sMAPE", "test MASE", "test OWA", "validation rel. to sNaive",
                          "training min"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
