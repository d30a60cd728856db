"""SKAB (Skoltech Anomaly Benchmark v0.9) with forecaster's detect-anomalies: point-wise F1, FAR
and MAR of its ``is_anomaly`` flags (outlier detection) and the NAB score of their onsets
(changepoint detection) on the 34 anomalous runs, next to SKAB's proposed leaderboard.

Protocol (../shared/bench/README.md §4): for each anomalous file, a model is trained on its first
400 rows only, exactly as a user would: the rows, without the ``anomaly`` and ``changepoint``
label columns, are written to a CSV and ``forecaster.training.train`` (what ``forecaster train``
runs) fits the default network (or ``--model``) with the default options on every sensor column
(every numeric column of the wide file), the lookback and horizon chosen by the package for 400
rows. ``forecaster.anomaly.detect_anomalies`` (what ``forecaster detect-anomalies`` runs) then
scores the whole file, labels removed, causally, and flags at its fixed threshold. A row is a
detection when ``is_anomaly`` is 1 for any of the eight channels; only the rows after the first
400 (SKAB's test set) are scored. The labels are used for scoring only.

* Outlier detection: the detections against the ``anomaly`` column, row by row. F1, FAR
  (false alarms / normal rows) and MAR (missed anomalous rows / anomalous rows) come from the
  confusion counts pooled over the test rows of all files, as SKAB's ``binary`` metric computes
  them over the list of test sets.
* Changepoint detection: the predicted changepoints are the rows where the 0/1 detection switches
  from 0 to 1 (as SKAB's "Vanilla LSTM" entry does), scored with NAB (standard, low-FP and low-FN
  profiles of ``forecaster.detection_metrics``) against windows of 60 rows starting at each true
  changepoint of the test set. A window is cut short before the next changepoint, so that every
  changepoint keeps a window of its own (NAB's windows must not overlap). Raw scores are summed
  over the files and normalised so that the null detector scores 0 and the perfect one 100.
  Also reported, and labelled as such: the same onsets and windows scored with the NAB variant of
  SKAB's own evaluation code (a tanh-shaped reward in the window, a flat cost per false positive),
  which is how the leaderboard's changepoint rows were computed.

SKAB scores rows, and its runs have a few irregular steps (2 s, and up to some minutes), which
``forecaster`` would fill by interpolation. So every file is given regular 1 s timestamps from its
first timestamp on, one per row, as ``benchmarks/nab.py`` does for NAB.

Usage (from the repository root):
    python benchmarks/skab.py [--bench-dir DIR] [--seed N] [--model TYPE] [--files N] [--keep-models DIR] [--no-write]
``--model`` picks what is trained on each file (as ``forecaster train --model``; default the
network): ``--model linear`` fits in seconds per file. ``--files N`` runs the first N files
(valve1, valve2, other, each in numeric order) only and writes nothing. ``--keep-models DIR``
keeps every file's model there and reuses the ones already there, so that scoring can be re-run
without training again (the section then says how many models were reused).
Exit status 0 (with a message) when the bench data is absent.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import REPO, bench_dir, publish, run_header, train_then_detect  # noqa: E402

try:
    import forecaster  # noqa: F401
except ImportError:  # not installed: run from a plain checkout
    sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402

from forecaster.data import DataOptions  # noqa: E402
from forecaster.detection_metrics import NAB_PROFILES, CostProfile, nab_normalised, nab_raw_score  # noqa: E402
from forecaster.errors import ForecasterError  # noqa: E402
from forecaster.report import Reporter  # noqa: E402
from forecaster.training import MODEL_TYPES  # noqa: E402

#: Rows at the start of every anomalous file that are training data (SKAB's protocol).
TRAIN_ROWS = 400
#: Rows of a changepoint's NAB window, from the changepoint on (60 s at 1 Hz).
WINDOW_ROWS = 60
GROUPS = ("valve1", "valve2", "other")
LABELS = ("anomaly", "changepoint")
TIME_COL = "datetime"
FLOOR = {"name": "Vanilla LSTM", "f1": 0.54, "nab": 11.31}
#: SKAB's proposed leaderboard (repository README, test set only), as copied into
#: ../shared/bench/README.md §4: detector, F1, FAR %, MAR %.
OUTLIER_BOARD = (
    ("Perfect", "1", "0", "0"),
    ("Conv-AE", "0.78", "13.55", "28.02"),
    ("MSET", "0.78", "39.73", "14.13"),
    ("T²+Q (PCA)", "0.76", "26.62", "24.92"),
    ("LSTM-AE", "0.74", "29.96", "25.92"),
    ("T²", "0.66", "19.21", "42.6"),
    ("LSTM-VAE", "0.56", "9.13", "55.03"),
    ("Vanilla LSTM", "0.54", "12.54", "59.53"),
    ("MSCRED", "0.36", "49.94", "69.88"),
    ("Vanilla AE", "0.39", "2.59", "75.15"),
    ("Isolation forest", "0.29", "2.56", "82.89"),
    ("Null", "0", "0", "100"),
)
#: Detector, NAB standard, low FP, low FN, missed changepoints, false positives.
CHANGEPOINT_BOARD = (
    ("Perfect", "100", "100", "100", "0", "0"),
    ("MSCRED", "32.42", "16.53", "40.28", "55", "342"),
    ("Isolation forest", "26.16", "19.5", "30.82", "76", "135"),
    ("T²+Q (PCA)", "25.35", "14.51", "31.33", "72", "232"),
    ("Conv-AE", "23.61", "21.54", "27.55", "82", "23"),
    ("LSTM-AE", "23.51", "20.11", "25.91", "88", "69"),
    ("T²", "19.54", "10.2", "24.31", "70", "106"),
    ("MSET", "13.84", "10.22", "17.37", "96", "66"),
    ("Vanilla AE", "11.41", "6.53", "13.91", "103", "106"),
    ("Vanilla LSTM", "11.31", "−3.8", "17.25", "90", "342"),
    ("ArimaFD", "−0.09", "−0.17", "−0.06", "127", "2"),
    ("Null", "0", "0", "0", "–", "–"),
)


def confusion_counts(truth: np.ndarray, detected: np.ndarray) -> dict[str, int]:
    """Point-wise confusion counts of 0/1 detections against 0/1 labels.

    Args:
        truth: `(n_rows,)` truthy where a row is labelled anomalous.
        detected: `(n_rows,)` truthy where a row is detected.

    Returns:
        ``tp``, ``fp``, ``fn``, ``tn``: sum them over files to pool.
    """
    truth, detected = np.asarray(truth, dtype=bool), np.asarray(detected, dtype=bool)
    if truth.shape != detected.shape:
        raise ValueError(f"labels {truth.shape} and detections {detected.shape} differ in shape")
    return {
        "tp": int(np.sum(truth & detected)),
        "fp": int(np.sum(~truth & detected)),
        "fn": int(np.sum(truth & ~detected)),
        "tn": int(np.sum(~truth & ~detected)),
    }


def outlier_scores(counts: dict[str, int]) -> dict[str, float]:
    """F1, FAR % and MAR % of (pooled) confusion counts, as SKAB defines them.

    ``F1 = tp / (tp + (fp + fn) / 2)``, ``FAR = 100 · fp / (fp + tn)`` (false alarms among the
    normal rows), ``MAR = 100 · fn / (fn + tp)`` (missed among the anomalous rows); NaN where a
    denominator is 0.
    """
    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]

    def share(a: float, b: float) -> float:
        return a / b if b else float("nan")

    return {"f1": share(tp, tp + (fp + fn) / 2), "far": 100 * share(fp, fp + tn), "mar": 100 * share(fn, fn + tp)}


def onsets(detected: np.ndarray) -> np.ndarray:
    """Rows where a 0/1 detection switches from 0 to 1 (the first row counts when detected).

    Args:
        detected: `(n_rows,)` truthy where a row is detected.

    Returns:
        `(n_rows,)` bool, True on the first row of every run of detected rows.
    """
    detected = np.asarray(detected, dtype=bool)
    return detected & ~np.concatenate([[False], detected[:-1]])


def changepoint_windows(changepoints: np.ndarray, first_scored: int = TRAIN_ROWS,
                        width: int = WINDOW_ROWS) -> list[tuple[int, int]]:
    """NAB windows of the changepoints at or after ``first_scored``, on their right-hand side.

    Each window covers ``width`` rows from its changepoint on, cut short before the next
    changepoint (NAB's windows must not overlap) and at the end of the file.

    Args:
        changepoints: `(n_rows,)` truthy on the rows labelled as changepoints.
        first_scored: the first row of the test set; earlier changepoints get no window.

    Returns:
        Inclusive ``(first_row, last_row)`` per changepoint of the test set, in row order.
    """
    marked = np.asarray(changepoints, dtype=bool)
    rows = np.flatnonzero(marked)
    windows = []
    for k, row in enumerate(rows):
        if row < first_scored:
            continue
        last = min(row + width - 1, len(marked) - 1)
        if k + 1 < len(rows):
            last = min(last, rows[k + 1] - 1)
        windows.append((int(row), int(last)))
    return windows


def tsad_raw_score(detections: np.ndarray, windows: list[tuple[int, int]], profile: CostProfile,
                   probation: int = 0) -> float:
    """The raw NAB score as SKAB's own evaluation code (``core/metrics.py``, from the ``tsad``
    library; its default "improved" scoring function) computes it, on the same windows.

    It differs from NAB's (:func:`forecaster.detection_metrics.nab_raw_score`) in two ways: the
    earliest detection in a window earns ``y(u) = (tp + fp) / 2 · (1 − tanh(π·u − π/2) / tanh(π/2))
    − fp`` at its relative position ``u`` in the window (``tp`` on the first row, ``−fp`` on the last,
    ``u`` taken on a grid of 1000 points), and every detection outside the windows costs a flat
    ``fp``, however close after a window. A missed window costs ``fn``, as in NAB.

    Args:
        detections: `(n_rows,)` truthy where a row is detected (here: a predicted changepoint).
        windows: inclusive ``(first_row, last_row)``, not overlapping, in row order.
        probation: rows at the start whose detections are ignored.
    """
    detected = np.asarray(detections, dtype=bool).copy()
    detected[: max(0, int(probation))] = False
    rows = np.flatnonzero(detected)
    grid = np.linspace(-np.pi / 2, np.pi / 2, 1000)
    score, inside = 0.0, np.zeros(len(detected), dtype=bool)
    for first, last in windows:
        inside[first : last + 1] = True
        hits = rows[(rows >= first) & (rows <= last)]
        if not len(hits):
            score -= profile.fn_weight
            continue
        event = 0 if last == first else min(int((hits[0] - first) / (last - first) * len(grid)), len(grid) - 1)
        half = (profile.tp_weight + profile.fp_weight) / 2
        score += half * (1 - np.tanh(grid[event]) / np.tanh(np.pi / 2)) - profile.fp_weight
    return score - profile.fp_weight * int(np.sum(~inside[rows]))


def load_file(csv: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A SKAB run as sensor rows at regular 1 s timestamps, and its label columns.

    Returns:
        `(n_rows, 1 + n_sensors)` frame (``datetime`` and the sensors) and `(n_rows, 2)` labels.
    """
    frame = pd.read_csv(csv, sep=";")
    start = pd.to_datetime(frame[TIME_COL].iloc[0])
    sensors = frame.drop(columns=[TIME_COL, *LABELS])
    sensors.insert(0, TIME_COL, pd.date_range(start, periods=len(frame), freq="s"))
    labels = frame[list(LABELS)].astype(int).reset_index(drop=True)
    return sensors, labels


def run_file(name: str, frame: pd.DataFrame, workdir: Path, seed: int, models: Path | None = None,
             model: str = "network") -> tuple[np.ndarray, bool]:
    """Train on the first :data:`TRAIN_ROWS` rows (or reuse the model kept in ``models``), score all rows.

    Args:
        frame: `(n_rows, 1 + n_sensors)` timestamps and sensor columns, no labels.

    Returns:
        `(n_rows,)` bool, True where any channel's ``is_anomaly`` is 1 (rows without a score,
        the first lookback ones, are False), and whether a kept model was reused.
    """
    result, reused, _ = train_then_detect(name, frame, TRAIN_ROWS, workdir, DataOptions(time_col=TIME_COL), seed,
                                          models, model)
    flagged = result.frame.groupby(pd.to_datetime(result.frame["timestamp"]))["is_anomaly"].max()
    detected = flagged.reindex(pd.DatetimeIndex(frame[TIME_COL])).fillna(0).to_numpy() == 1
    return detected, reused


def summarise(files: list[dict]) -> dict:
    """Pooled outlier scores and corpus NAB scores of some files.

    Returns:
        ``counts`` and ``outlier`` (pooled confusion counts and their F1 / FAR / MAR), ``nab``
        (normalised score per profile name), ``missed``, ``false`` (changepoints missed, and
        predicted changepoints outside every window, both under the standard profile),
        ``n_windows``.
    """
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for f in files:
        for key, value in confusion_counts(f["anomaly"][TRAIN_ROWS:], f["detected"][TRAIN_ROWS:]).items():
            counts[key] += value
    n_windows = sum(len(f["windows"]) for f in files)
    nab, tsad, missed, false = {}, {}, 0, 0
    for profile in NAB_PROFILES:
        raw, raw_tsad = 0.0, 0.0
        for f in files:
            starts = onsets(f["detected"])
            scored = nab_raw_score(starts, f["windows"], profile, TRAIN_ROWS)
            raw += scored["score"]
            raw_tsad += tsad_raw_score(starts, f["windows"], profile, TRAIN_ROWS)
            if profile is NAB_PROFILES[0]:
                missed, false = missed + scored["fn"], false + scored["fp"]
        nab[profile.name] = nab_normalised(raw, n_windows, profile)
        tsad[profile.name] = nab_normalised(raw_tsad, n_windows, profile)
    return {"counts": counts, "outlier": outlier_scores(counts), "nab": nab, "tsad": tsad, "missed": missed,
            "false": false, "n_windows": n_windows}


def report(files: list[dict], command: str, seconds: float, seed: int, refused: dict[str, str],
           model: str = "network") -> str:
    overall = summarise(files)
    out, nab, counts = overall["outlier"], overall["nab"], overall["counts"]
    names = [p.name for p in NAB_PROFILES]
    trained = "with the default options" if model == "network" else f"with `--model {model}` and otherwise the default options"
    lines = [
        f"## SKAB ({len(files)} runs, outlier and changepoint detection)",
        "",
        run_header(command, seconds).rstrip(),
        "",
        "Protocol of `../shared/bench/README.md` §4. One model per run, trained by `forecaster.training.train` "
        f"{trained} (seed {seed}) on the run's first {TRAIN_ROWS} rows only, every sensor column a target, the "
        "`anomaly` and `changepoint` labels dropped, the lookback and horizon chosen by the package for that length; "
        "`detect_anomalies` then scores the whole run (labels dropped) causally and flags at the tool's fixed "
        "threshold. A row is a detection when `is_anomaly` is 1 for any channel; only the rows after the first "
        f"{TRAIN_ROWS} are scored, and the labels are used for scoring only. Outlier detection: F1, FAR and MAR from "
        "the confusion counts pooled over the test rows of all runs (SKAB's `binary` metric over the list of test "
        "sets, as we read it). Changepoint detection: the predicted changepoints are the rows where the detection "
        "switches from 0 to 1 (as the Vanilla LSTM entry does), scored with NAB against windows of "
        f"{WINDOW_ROWS} rows starting at each true changepoint of the test set ({overall['n_windows']} of them), each "
        "cut short before the next changepoint so that none overlap; raw scores are summed over the runs and "
        "normalised (null 0, perfect 100). Runs are given regular 1 s timestamps, one per row (SKAB scores rows).",
        "",
        "| Outlier detection | F1 | FAR % | MAR % |",
        "|---|---|---|---|",
        f"| **forecaster `is_anomaly` (no labels used)** | **{out['f1']:.2f}** | **{out['far']:.2f}** | "
        f"**{out['mar']:.2f}** |",
    ]
    lines += [f"| {' | '.join(row)} |" for row in OUTLIER_BOARD]
    lines += [
        "",
        "| Changepoint detection | NAB std | NAB lowFP | NAB lowFN | missed CPs | FPs |",
        "|---|---|---|---|---|---|",
        "| **forecaster `is_anomaly` onsets (no labels used)** | "
        + " | ".join(f"**{nab[n]:.2f}**" for n in names) + f" | **{overall['missed']}** | **{overall['false']}** |",
        "| forecaster, the same onsets scored with SKAB's own NAB variant† | "
        + " | ".join(f"{overall['tsad'][n]:.2f}" for n in names) + f" | {overall['missed']} | {overall['false']} |",
    ]
    lines += [f"| {' | '.join(row)} |" for row in CHANGEPOINT_BOARD]
    f1_met, nab_met = out["f1"] > FLOOR["f1"], nab["standard"] > FLOOR["nab"]
    lines += [
        "",
        "Leaderboard rows: SKAB's \"Proposed Leaderboard\" (repository README, test set only), github "
        "`waico/SKAB` at commit `b2c0d46`, as copied into `../shared/bench/README.md` §4. They are the leaderboard's "
        "own numbers, not re-run here.",
        "† SKAB's evaluation code (`core/metrics.py`, from the `tsad` library) scores changepoints with a variant of "
        "NAB: the earliest detection in a window earns a tanh-shaped reward (the TP weight on the window's first row "
        "down to minus the FP weight on its last) instead of NAB's sigmoid, and every detection outside the windows "
        "costs the full FP weight instead of NAB's discounted cost just after a window. The bold row uses NAB's own scoring "
        "(`forecaster.detection_metrics`); the † row applies that variant to the same onsets and windows, the "
        "closer like-for-like with the leaderboard.",
        "",
        "By design the tool flags the onset of a sustained change and then holds off while it lasts (the model's new "
        "normal, see `forecaster/anomaly.py`), so it marks a few rows per incident, not every row of it: point-wise "
        "F1 against SKAB's labelled ranges measures something it does not try to do, while the changepoint score "
        "measures what it does.",
        "",
        f"- floor, above {FLOOR['name']}'s F1 {FLOOR['f1']}: **{'met' if f1_met else 'not met'}** ({out['f1']:.2f})",
        f"- floor, above {FLOOR['name']}'s NAB standard {FLOOR['nab']}: **{'met' if nab_met else 'not met'}** "
        f"({nab['standard']:.2f})",
        "",
        f"Pooled test rows: {sum(counts.values())}, of which {counts['tp'] + counts['fn']} labelled anomalous; "
        f"{counts['tp'] + counts['fp']} detected ({counts['tp']} of them anomalous).",
        "",
    ]
    if refused:
        lines += ["Runs `forecaster train` refused (scored as detecting nothing, as a user would get):", ""]
        lines += [f"- `{name}`: {message}" for name, message in refused.items()]
        lines += [""]
    lines += [
        "Per group (outlier scores pooled within the group; NAB standard normalised within the group):",
        "",
        "| group | runs | F1 | FAR % | MAR % | NAB std | missed CPs | FPs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for group in GROUPS:
        members = [f for f in files if f["name"].startswith(group + "/")]
        if not members:
            continue
        part = summarise(members)
        o = part["outlier"]
        lines.append(f"| {group} | {len(members)} | {o['f1']:.2f} | {o['far']:.2f} | {o['mar']:.2f} | "
                     f"{part['nab']['standard']:.2f} | {part['missed']} / {part['n_windows']} | {part['false']} |")
    return "\n".join(lines) + "\n"


def run_names(skab: Path) -> list[str]:
    """The anomalous runs, ``group/k.csv``: valve1, valve2, other, each in numeric order."""
    names = []
    for group in GROUPS:
        files = sorted((skab / group).glob("*.csv"), key=lambda p: int(p.stem) if p.stem.isdigit() else p.stem)
        names += [f"{group}/{p.name}" for p in files]
    return names


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench-dir", help="folder holding skab/ (default: ../shared/bench)")
    parser.add_argument("--seed", type=int, default=0, help="training seed of every run's model (default 0)")
    parser.add_argument("--model", default="network", choices=MODEL_TYPES,
                        help="model trained on each run, as forecaster train --model (default: network)")
    parser.add_argument("--files", type=int, metavar="N", help="only the first N runs; print, write nothing")
    parser.add_argument("--keep-models", type=Path, metavar="DIR",
                        help="keep each run's model in DIR, and reuse those already there (to rescore quickly)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/skab.py", *argv])
    folder = bench_dir(args.bench_dir)
    if folder is None:
        return 0
    skab = folder / "skab" / "data"
    names = run_names(skab) if skab.is_dir() else []
    if not names:
        print(f"no SKAB data under {folder}; nothing to do.", file=sys.stderr)
        return 0
    if args.files is not None:
        names = names[: max(1, args.files)]
    reporter = Reporter()
    started = time.monotonic()
    files, refused, reused = [], {}, 0
    with tempfile.TemporaryDirectory(prefix="forecaster-skab-") as tmp:
        for k, name in enumerate(names, 1):
            tick = time.monotonic()
            frame, labels = load_file(skab / name)
            try:
                detected, was_reused = run_file(name, frame, Path(tmp), args.seed, args.keep_models, args.model)
                reused += was_reused
            except ForecasterError as exc:  # what a user would see: the run detects nothing
                refused[name] = str(exc).replace(f"{tmp}/", "")
                reporter.warn(f"[{k}/{len(names)}] {name}: refused, scored as no detections: {refused[name]}")
                detected = np.zeros(len(frame), dtype=bool)
            f = {"name": name, "detected": detected, "anomaly": labels["anomaly"].to_numpy() == 1,
                 "windows": changepoint_windows(labels["changepoint"].to_numpy() == 1)}
            files.append(f)
            if name not in refused:
                part = summarise([f])
                reporter.info(f"[{k}/{len(names)}] {name}: {len(frame)} rows, F1 {part['outlier']['f1']:.2f}, "
                              f"{int(detected[TRAIN_ROWS:].sum())} test rows flagged, "
                              f"{part['n_windows'] - part['missed']}/{part['n_windows']} changepoints found, "
                              f"{part['false']} false ({time.monotonic() - tick:.0f} s)")
    seconds = time.monotonic() - started
    body = report(files, command, seconds, args.seed, refused, args.model)
    if reused:
        body = body.replace("\n\nProtocol of", f"\n- models: {reused} of {len(files)} reused from `--keep-models`, trained "
                            "there by an earlier run of this script with the same seed (the wall time above excludes "
                            "their training)\n\nProtocol of", 1)
    publish("skab", body, write=args.files is None and not args.no_write, skipped_because="--files / --no-write")
    return 0


if __name__ == "__main__":
    sys.exit(main())
