"""What every benchmark script shares: where the data is, what machine ran it, and writing its
section of BENCHMARKS.md without touching the others'."""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import tempfile
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCH_DIR = REPO.parent / "shared" / "bench"
BENCHMARKS_FILE = REPO / "BENCHMARKS.md"
_HEADER = (
    "# Benchmarks\n\n"
    "Produced by the scripts in `benchmarks/` (`make bench`, or one script at a time) on the public data\n"
    "described in `../shared/bench/README.md`, next to the published results. Each section says the command,\n"
    "the machine, the date and the wall time of the run that produced it.\n"
)


def bench_dir(argument: str | None) -> Path | None:
    """The benchmark data folder, or None (after saying so) when it is not there."""
    folder = Path(argument) if argument else DEFAULT_BENCH_DIR
    if not folder.is_dir():
        print(f"benchmark data not found at {folder}; pass --bench-dir DIR. Nothing to do.", file=sys.stderr)
        return None
    return folder


def machine() -> str:
    """One line: CPU count, platform, Python, TensorFlow and Keras versions when installed."""
    parts = [f"{os.cpu_count()} CPUs", platform.platform(terse=True), f"Python {platform.python_version()}"]
    from importlib.metadata import PackageNotFoundError, version

    for package in ("tensorflow-cpu", "tensorflow", "keras"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            continue
    return ", ".join(parts)


def run_header(command: str, seconds: float) -> str:
    """The lines that open every section: command, machine, date and wall time."""
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    return (
        f"- command: `{command}`\n- machine: {machine()}\n- date: {today}\n- wall time: {seconds / 60:.1f} min\n"
    )


def write_section(name: str, body: str, path: Path = BENCHMARKS_FILE) -> None:
    """Replace (or add) the section ``name`` of BENCHMARKS.md, atomically.

    The section lies between ``<!-- name:start -->`` and ``<!-- name:end -->``, so every
    script rewrites only its own.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else _HEADER
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp")
    with handle:
        handle.write(text)
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, path)


def publish(name: str, body: str, write: bool, skipped_because: str = "--no-write") -> None:
    """Print a script's section and, when ``write``, put it into BENCHMARKS.md (to stderr:
    what happened to it)."""
    print(body)
    if write:
        write_section(name, body)
        print(f"wrote the {name} section of {BENCHMARKS_FILE}", file=sys.stderr)
    else:
        print(f"{skipped_because}: BENCHMARKS.md not written", file=sys.stderr)


#: The training options a forecasting benchmark may be run with other than the package's
#: default, in the order :func:`variant_flags` writes them.
VARIANT_OPTIONS = ("target_transform", "lookback", "ensemble", "ema", "final_fit", "dropout", "segment", "batch_size",
                   "learning_rate", "series_weights")


def variant_flags(args) -> str:
    """The options among :data:`VARIANT_OPTIONS` that ``args`` (a script's parsed arguments;
    None or absent: the package's default) sets to other than the package's default, as
    flags ("--ensemble 3 --ema"); empty for the default. They name the section a run writes,
    so that a variant never overwrites the default's figures."""
    from forecaster.training import TrainOptions

    defaults, flags = TrainOptions(), []
    for name in VARIANT_OPTIONS:
        value = getattr(args, name, None)
        if value is None or value == getattr(defaults, name):
            continue
        flag = "--" + name.replace("_", "-")
        flags.append(flag if value is True else f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}")
    return " ".join(flags)


def train_then_detect(name: str, frame, n_train: int, workdir: Path, data_options, seed: int,
                      models: Path | None = None, model: str = "network", target_transform: str | None = None):
    """Train on the first ``n_train`` rows of ``frame`` exactly as a user would (written to a CSV,
    then ``forecaster.training.train``, what ``forecaster train`` runs), or reuse the model kept
    in ``models`` from an earlier run; then ``detect_anomalies`` on every row.

    Args:
        name: the file's name in its corpus (``group/file.csv``): names its model and CSVs.
        frame: the rows, a time column and value columns, no labels.
        target_transform: ``--target-transform``; None: the package default.

    Returns:
        the :class:`forecaster.anomaly.AnomalyResult`, whether a kept model was reused, and the
        model's ``metadata.json`` (what ``--target-transform auto`` chose, where each series'
        anomaly expectations come from).
    """
    from forecaster.anomaly import detect_anomalies
    from forecaster.backend import load_keras
    from forecaster.training import TrainOptions, train

    stem = name.replace("/", "__").removesuffix(".csv")
    train_csv, full_csv = workdir / f"{stem}.train.csv", workdir / f"{stem}.csv"
    model_dir = (models or workdir) / stem
    frame.iloc[:n_train].to_csv(train_csv, index=False)
    frame.to_csv(full_csv, index=False)
    reused = (model_dir / "metadata.json").is_file()
    if not reused:
        options = TrainOptions(model=model, seed=seed)
        train(train_csv, data_options, replace(options, target_transform=target_transform or options.target_transform),
              model_dir)
    result = detect_anomalies(model_dir, full_csv)
    load_keras().backend.clear_session()
    return result, reused, json.loads((model_dir / "metadata.json").read_text(encoding="utf-8"))
