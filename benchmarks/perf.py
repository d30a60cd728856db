"""Speed and memory of the tool: start-up, prediction, training throughput and peak RSS.

One table of every figure next to its target (issue 5 §5):

* cold start: ``forecaster --help`` and ``forecaster info`` in fresh processes (target < 0.3 s
  wall), with ``python -c pass`` as the floor;
* ``predict`` and ``detect-anomalies`` of one series (the hourly sample) in a fresh process
  (target < 1 s wall);
* ``predict`` of 10,000 series × 1,000 points in one call (target < 30 s wall), trained on
  the same series' first 100 points;
* peak RSS of ``train`` (network), ``predict`` and ``detect-anomalies`` on a 5,000-series ×
  1,000-point long CSV, 5 M rows (target < 3 GB each);
* training windows/s of the default network (LSTM, GRU, BiLSTM) as ``forecaster train``
  trains it, against a plain ``keras.Model.fit`` of the same network on pre-built arrays
  and against a PyTorch reference loop (target ≥ 1.0× PyTorch, aim 1.3×). The contenders
  run in alternating rounds; each figure is the median over the rounds, a warm-up epoch
  (tracing, compilation) excluded, and each ratio the median of the rounds' ratios. Each
  contender trains in a process of its own (sharing one, they slowed each other down), the
  PyTorch loop with glibc's default allocator, as a plain PyTorch script runs.

Every command runs in a fresh process started from a small wrapper that times it and reads
its peak RSS from ``wait4`` (the wrapper keeps this script's own memory out of the figure).
The generated data lives in a temporary directory, removed at the end.

PyTorch is needed for the reference column only: ``pip install -e '.[bench]'``; without it
that column is skipped.

Usage (from the repository root):

    python benchmarks/perf.py [--quick] [--no-write] [--repeats N] [--rounds N]
                              [--skip-memory] [--skip-training]

``--quick`` runs every part on small data (1,000 series to predict, 500 × 1,000 points for
memory, small training data, 3 repeats, 1 round) and leaves BENCHMARKS.md alone; its
verdicts on the size-bound targets are only indicative.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, publish, run_header  # noqa: E402

try:
    import forecaster  # noqa: F401
except ImportError:  # not installed: run from a plain checkout
    sys.path.insert(0, str(REPO))

SAMPLE = REPO / "sample_data" / "hourly_load.csv"
GB = 2**30

# Targets of issue 5 §5.
COLD_START_TARGET = 0.3  # s, --help and info
PREDICT_ONE_TARGET = 1.0  # s, one series, fresh process
PREDICT_MANY_TARGET = 30.0  # s, 10,000 series x 1,000 points
RSS_TARGET = 3 * GB  # bytes, 5,000 series x 1,000 points
SPEED_FLOOR, SPEED_AIM = 1.0, 1.3  # training windows/s relative to the PyTorch loop


@dataclass(frozen=True)
class Sizes:
    """How much data each part uses; the targets are stated for the full sizes."""

    predict_series: int = 10_000
    predict_points: int = 1_000
    train_points: int = 100
    train_windows_per_epoch: int = 20_000
    memory_series: int = 5_000
    memory_points: int = 1_000
    memory_windows_per_epoch: int = 200_000
    speed_series: int = 20
    speed_steps: int = 2_000


FULL = Sizes()
QUICK = Sizes(predict_series=1_000, memory_series=500, memory_windows_per_epoch=20_000, speed_series=4,
              speed_steps=1_000)

# The network of the throughput comparison: the package default shape.
LOOKBACK, HORIZON, N_FEATURES, UNITS, BATCH, LEARNING_RATE = 48, 24, 3, 32, 64, 1e-3
CELLS = {"LSTM": ("lstm", False), "GRU": ("gru", False), "BiLSTM": ("lstm", True)}


# ---------------------------------------------------------------------------------------------
# Fresh processes: wall time and peak RSS


# Runs its arguments as a command and prints its wall time and peak RSS as JSON. A process
# started straight from this script could report this script's RSS as its own peak (Linux
# carries the RSS high-water mark of the memory image a process replaces at exec), so every
# command is started from this small wrapper instead.
_MEASURE = """
import json, os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - start
child.returncode = os.waitstatus_to_exitcode(status)
scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
print(json.dumps({"wall": wall, "rss": usage.ru_maxrss * scale, "code": child.returncode}))
"""


@dataclass
class Runs:
    """Wall seconds and peak RSS bytes of repeated runs of one command."""

    walls: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    @property
    def best(self) -> float:
        return min(self.walls)

    @property
    def peak(self) -> int:
        return max(self.rss)


def measure(command: list[str], cwd: Path, repeats: int = 1) -> Runs:
    """Run ``command`` ``repeats`` times in fresh processes; raise with its stderr if it fails."""
    runs = Runs()
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", _MEASURE, *command], cwd=cwd, capture_output=True, text=True)
        if done.returncode != 0 or not done.stdout.strip():
            raise SystemExit(f"measuring {shlex.join(command)} failed:\n{done.stderr}")
        result = json.loads(done.stdout)
        if result["code"] != 0:
            raise SystemExit(f"{shlex.join(command)} exited with {result['code']}:\n{done.stderr}")
        runs.walls.append(result["wall"])
        runs.rss.append(result["rss"])
    return runs


def cli(*arguments: str | Path) -> list[str]:
    """The command line of ``forecaster`` with ``arguments``, run by this interpreter."""
    return [sys.executable, "-m", "forecaster", *map(str, arguments)]


# ---------------------------------------------------------------------------------------------
# Generated data


def random_walks(n_series: int, n_points: int, seed: int) -> np.ndarray:
    """Positive daily series: a random walk around a level plus a weekly sine, `(n_series, n_points)`."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(50, 500, size=(n_series, 1))
    walk = np.cumsum(rng.normal(0, 1, size=(n_series, n_points)), axis=1)
    phase = rng.uniform(0, 2 * np.pi, size=(n_series, 1))
    weekly = 0.1 * level * np.sin(2 * np.pi * np.arange(n_points) / 7 + phase)
    return level + walk + weekly


def write_long_csv(path: Path, values: np.ndarray) -> None:
    """Write ``values`` `(n_series, n_points)` as a long CSV ``series,date,value``, daily from 2020-01-01."""
    import pandas as pd

    n_series, n_points = values.shape
    dates = pd.date_range("2020-01-01", periods=n_points, freq="D").strftime("%Y-%m-%d")
    names = np.array([f"s{i:05d}" for i in range(n_series)])
    frame = pd.DataFrame({"series": np.repeat(names, n_points), "date": np.tile(dates, n_series),
                          "value": values.ravel()})
    frame.to_csv(path, index=False, float_format="%.3f")


# ---------------------------------------------------------------------------------------------
# Parts 1-4: fresh processes


def cold_start(work: Path, model: Path, repeats: int) -> dict[str, Runs]:
    """``python -c pass`` (the floor), ``--help`` and ``info`` in fresh processes."""
    return {
        "python -c pass": measure([sys.executable, "-c", "pass"], work, repeats),
        "forecaster --help": measure(cli("--help"), work, repeats),
        "forecaster info": measure(cli("info", "-m", model), work, repeats),
    }


def train_sample(work: Path) -> tuple[Path, Runs]:
    """A small network on the hourly sample (2 epochs), for the one-series and info timings."""
    model = work / "sample-model"
    runs = measure(cli("train", SAMPLE, "--target", "load", "--covariate", "temperature", "--epochs", "2",
                       "--seed", "0", "-q", "-m", model), work)
    return model, runs


def predict_one(work: Path, model: Path, repeats: int) -> dict[str, Runs]:
    """``predict`` and ``detect-anomalies`` of the one sample series, fresh processes."""
    out = work / "out.csv"
    return {
        "predict, 1 series": measure(cli("predict", "-m", model, "-q", "-o", out), work, repeats),
        "detect-anomalies, 1 series": measure(cli("detect-anomalies", "-m", model, "-q", "-o", out), work, repeats),
    }


def predict_many(work: Path, sizes: Sizes) -> dict[str, Runs]:
    """Train on every series' first points, then predict them all from a longer export in one call."""
    values = random_walks(sizes.predict_series, sizes.predict_points, seed=1)
    short, long = work / "many-short.csv", work / "many-long.csv"
    write_long_csv(short, values[:, : sizes.train_points])
    write_long_csv(long, values)
    del values
    model = work / "many-model"
    long_options = ("--id-col", "series", "--target", "value")
    train = measure(cli("train", short, *long_options, "--epochs", "1", "--windows-per-epoch",
                        sizes.train_windows_per_epoch, "--seed", "0", "-q", "-m", model), work)
    # the export runs far past the training data, so predict recalibrates the intervals on
    # the values that arrived since; the second run shows what that costs
    predict = measure(cli("predict", long, "-m", model, "-q", "-o", work / "out.csv"), work)
    stale = measure(cli("predict", long, "-m", model, "-q", "--no-recalibrate", "-o", work / "out.csv"), work)
    long.unlink()
    return {f"train, {sizes.predict_series:,} × {sizes.train_points}": train,
            f"predict, {sizes.predict_series:,} × {sizes.predict_points:,}": predict,
            f"predict --no-recalibrate, {sizes.predict_series:,} × {sizes.predict_points:,}": stale}


def memory(work: Path, sizes: Sizes) -> dict[str, Runs]:
    """Train, predict and detect-anomalies on one large long CSV: wall and peak RSS of each."""
    data = work / "memory.csv"
    write_long_csv(data, random_walks(sizes.memory_series, sizes.memory_points, seed=2))
    model = work / "memory-model"
    rows = f"{sizes.memory_series:,} × {sizes.memory_points:,}"
    results = {
        f"train (network), {rows}": measure(
            cli("train", data, "--id-col", "series", "--target", "value", "--epochs", "1", "--windows-per-epoch",
                sizes.memory_windows_per_epoch, "--seed", "0", "-q", "-m", model), work),
        f"predict, {rows}": measure(cli("predict", data, "-m", model, "-q", "-o", work / "out.csv"), work),
        f"detect-anomalies --last 1, {rows}": measure(
            cli("detect-anomalies", "-m", model, "--last", "1", "-q", "-o", work / "out.csv"), work),
    }
    data.unlink()
    return results


# ---------------------------------------------------------------------------------------------
# Part 5: training throughput, each contender in a process of its own


def speed_windows(sizes: Sizes):
    """Training and validation windows of random-walk series with two covariates (3 channels)."""
    from forecaster.windows import WindowSet, split_point, window_spans

    rng = np.random.default_rng(3)
    steps = np.arange(sizes.speed_steps)
    features = []
    for _ in range(sizes.speed_series):
        target = np.cumsum(rng.normal(0, 0.1, sizes.speed_steps)) + np.sin(2 * np.pi * steps / 24)
        covariates = [np.cos(2 * np.pi * steps / 24), rng.normal(0, 1, sizes.speed_steps)]
        features.append(np.stack([target, *covariates], axis=1).astype(np.float32))
    split = split_point(sizes.speed_steps, HORIZON, 0.2)
    spans = [window_spans(sizes.speed_steps, LOOKBACK, HORIZON, split)] * sizes.speed_series
    train_set, val_set = WindowSet.from_series(features, list(zip(*spans)), LOOKBACK, HORIZON, level="mean")
    return train_set, val_set


def speed_training(sizes: Sizes):
    """What every throughput contender trains on: the training windows of :func:`speed_windows`,
    the ridge fit the networks start from, and the batches per call ``forecaster train`` would
    use for them (with its default epochs and patience)."""
    from forecaster.baselines import LinearAutoregression
    from forecaster.training import TrainOptions, multi_steps

    train_set, val_set = speed_windows(sizes)
    linear = LinearAutoregression.fit(train_set, val_set)
    return train_set, linear, multi_steps(TrainOptions(batch_size=BATCH), len(train_set))


def keras_contender(cell: str, bidirectional: bool, linear, fit_one_epoch, steps_per_execution: int,
                    n_windows: int):
    """A network built, started and compiled as ``forecaster train`` does for ``n_windows``
    training windows; returns a function that trains it one epoch with
    ``fit_one_epoch(network, callback)`` and gives the epoch's seconds (measured inside fit,
    from the first batch to the end of the epoch)."""
    from forecaster.backend import load_keras, seed_everything
    from forecaster.models import NetworkSpec, build_network, start_from_linear
    from forecaster.training import TrainOptions, compile_network, compiles_with_xla

    keras = load_keras()

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.began = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.began

    spec = NetworkSpec(lookback=LOOKBACK, horizon=HORIZON, n_features=N_FEATURES, cell=cell, units=UNITS,
                       bidirectional=bidirectional, linear_skip=True)
    options = TrainOptions(batch_size=BATCH)
    xla = compiles_with_xla(spec, options, n_windows, options.epochs)
    seed_everything(0, deterministic_ops=not xla)
    network = build_network(spec, seed=0)
    start_from_linear(network, linear)
    compile_network(network, LEARNING_RATE, xla, steps_per_execution=steps_per_execution)
    timer = EpochTimer()

    def epoch() -> float:
        fit_one_epoch(network, timer)
        return timer.seconds

    return epoch


def torch_contender(cell: str, bidirectional: bool, linear, inputs: np.ndarray, targets: np.ndarray):
    """The same network in PyTorch, trained by a plain loop over shuffled mini-batches of
    pre-built tensors; returns a function that trains one epoch and gives its seconds."""
    import torch

    torch.set_num_threads(2)
    torch.manual_seed(0)

    class Reference(torch.nn.Module):
        """Recurrent layer -> dense head on the last state, plus a frozen linear skip, as build_network."""

        def __init__(self) -> None:
            super().__init__()
            layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
            self.recurrent = layer(N_FEATURES, UNITS, batch_first=True, bidirectional=bidirectional)
            self.head = torch.nn.Linear(UNITS * (2 if bidirectional else 1), HORIZON)
            self.skip = torch.nn.Linear(LOOKBACK * N_FEATURES, HORIZON)
            with torch.no_grad():  # start as the linear baseline, as start_from_linear does
                self.skip.weight.copy_(torch.as_tensor(linear.coef.T, dtype=torch.float32))
                self.skip.bias.copy_(torch.as_tensor(linear.intercept, dtype=torch.float32))
                self.head.weight.zero_()
                self.head.bias.zero_()
            self.skip.requires_grad_(False)

        def forward(self, x):
            sequence, _ = self.recurrent(x)  # (batch, lookback, directions * units)
            if bidirectional:
                # what Keras' Bidirectional(return_sequences=False) gives: the forward pass's
                # last step and the backward pass's output at t = 0 (its own last step)
                last = torch.cat([sequence[:, -1, :UNITS], sequence[:, 0, UNITS:]], dim=1)
            else:
                last = sequence[:, -1]
            return self.head(last) + self.skip(x.flatten(1))

    model = Reference()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=LEARNING_RATE, eps=1e-7)  # Keras' epsilon
    loss_of = torch.nn.HuberLoss(delta=1.0)
    x, y = torch.from_numpy(inputs), torch.from_numpy(targets)
    generator = torch.Generator().manual_seed(0)

    def epoch() -> float:
        began = time.perf_counter()
        order = torch.randperm(len(x), generator=generator)
        for first in range(0, len(x), BATCH):
            batch = order[first : first + BATCH]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_of(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
        return time.perf_counter() - began

    return epoch


#: The training-throughput contenders. Each trains in a process of its own, as a user's
#: training or a plain PyTorch script would run: sharing one process, they slowed each other
#: down (BENCHMARKS.md, "Freed memory kept for reuse" among what changed).
CONTENDERS = ("ours", "plain Keras", "PyTorch")


def contender_epochs(contender: str, name: str, sizes: Sizes):
    """A function that trains ``contender``'s network for cell ``name`` one epoch on the
    :func:`speed_training` data and gives the epoch's seconds; and the windows an epoch trains."""
    train_set, linear, steps = speed_training(sizes)
    cell, bidirectional = CELLS[name]
    windows = len(train_set)
    if contender == "PyTorch":
        return torch_contender(cell, bidirectional, linear, *train_set.gather(slice(None))), windows
    if contender == "ours":
        from forecaster.backend import load_keras
        from forecaster.training import training_data

        # what forecaster train runs: batches gathered from the window set and handed over by
        # tf.data, the step called on as many batches at a time as training would
        batches, feeding = training_data(load_keras(), train_set, BATCH, seed=0)
        return keras_contender(cell, bidirectional, linear, lambda network, timer: network.fit(
            batches, epochs=1, shuffle=False, verbose=0, callbacks=[*feeding, timer]), steps, windows), windows
    import fused_lstm

    fused_lstm.as_before(fused_lstm.LOOP_XLA)  # Keras' own LSTM layer, compiled by XLA
    inputs, targets = train_set.gather(slice(None))
    return keras_contender(cell, bidirectional, linear, lambda network, timer: network.fit(
        inputs, targets, batch_size=BATCH, epochs=1, shuffle=True, verbose=0, callbacks=[timer]), steps,
        windows), windows


def contender_worker(contender: str, name: str, quick: bool) -> None:
    """Serve :func:`contender_epochs` to :func:`process_contender` (run in a fresh process):
    one line in on stdin, the epoch's seconds out on stdout, until stdin ends."""
    epoch, _ = contender_epochs(contender, name, QUICK if quick else FULL)
    print("ready", flush=True)
    for _ in sys.stdin:
        print(epoch(), flush=True)


def process_contender(contender: str, name: str, sizes: Sizes):
    """:func:`contender_epochs` in a fresh process of its own (PyTorch with glibc's default
    allocator, as a plain PyTorch script runs): see :func:`stopped_worker`."""
    env = {**os.environ, **({"FORECASTER_MALLOC_TUNING": "0"} if contender == "PyTorch" else {})}
    arguments = [sys.executable, __file__, "--worker", contender, name] + (["--quick"] if sizes is QUICK else [])
    return stopped_worker(arguments, f"the {contender} worker for {name}", env)


def stopped_worker(arguments: list[str], what: str, env: dict | None = None):
    """Start ``arguments``, a worker that prints "ready" and then trains one epoch per line
    read from stdin and prints its seconds, and keep it stopped (``SIGSTOP``) between its
    epochs so that none of its threads runs beside another contender's epoch.

    Returns:
        a function that has the worker train one epoch and gives its seconds, with
        ``close()`` to end the worker.
    """
    worker = subprocess.Popen(arguments, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, env=env)
    if worker.stdout.readline().strip() != "ready":
        raise SystemExit(f"{what} did not start (exit code {worker.wait()})")
    worker.send_signal(signal.SIGSTOP)

    def epoch() -> float:
        worker.send_signal(signal.SIGCONT)
        worker.stdin.write("epoch\n")
        worker.stdin.flush()
        seconds = float(worker.stdout.readline())
        worker.send_signal(signal.SIGSTOP)
        return seconds

    def close() -> None:
        worker.send_signal(signal.SIGCONT)
        worker.stdin.close()
        worker.wait()

    epoch.close = close  # type: ignore[attr-defined]
    return epoch


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def training_speed(sizes: Sizes, rounds: int) -> dict:
    """Windows/s of each contender per cell, each in a process of its own, in alternating
    rounds after one warm-up epoch each.

    Returns:
        ``{"windows": n, "torch": bool, "cells": {name: {contender: [windows/s per round]}}}``.
    """
    train_set, _, steps = speed_training(sizes)
    with_torch = torch_available()
    results: dict = {"windows": len(train_set), "torch": with_torch, "steps_per_execution": steps, "cells": {}}
    for name in CELLS:
        contenders = {contender: process_contender(contender, name, sizes)
                      for contender in CONTENDERS if with_torch or contender != "PyTorch"}
        for epoch in contenders.values():
            epoch()  # warm-up: tracing and compilation, not timed
        speeds: dict[str, list[float]] = {contender: [] for contender in contenders}
        for round_ in range(rounds):
            # alternate which goes first, so that none always runs on a machine just warmed
            order = list(contenders) if round_ % 2 == 0 else list(reversed(contenders))
            for contender in order:
                speeds[contender].append(len(train_set) / contenders[contender]())
            print(f"  {name} round {round_ + 1}: " + ", ".join(f"{c} {s[-1]:,.0f}" for c, s in speeds.items())
                  + " windows/s", file=sys.stderr)
        results["cells"][name] = speeds
        for epoch in contenders.values():
            epoch.close()
    return results


def median_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median over rounds of the ratio within each round (drift between rounds cancels)."""
    return statistics.median(a / b for a, b in zip(numerator, denominator))


# ---------------------------------------------------------------------------------------------
# Report


def verdict(met: bool, full_size: bool = True) -> str:
    """"met" / "**not met**", marked as indicative when the data was smaller than the target's."""
    word = "met" if met else "**not met**"
    return word if full_size else f"{word} (at reduced size)"


def gigabytes(n_bytes: float) -> str:
    return f"{n_bytes / GB:.2f} GB"


def summary_rows(results: dict, sizes: Sizes) -> list[list[str]]:
    """``[measure, figure, target, verdict]`` for every figure that has a target."""
    rows = []
    floor = results["cold"]["python -c pass"].median
    for label in ("forecaster --help", "forecaster info"):
        runs = results["cold"][label]
        rows.append([f"{label} (fresh process; `python -c pass`: {floor:.3f} s)", f"{runs.median:.3f} s median",
                     f"< {COLD_START_TARGET} s", verdict(runs.median < COLD_START_TARGET)])
    for label, runs in results["one"].items():
        # the target is stated for predict; detect-anomalies is shown beside it for reference
        judged = label.startswith("predict")
        rows.append([f"{label} (fresh process)", f"{runs.median:.3f} s median",
                     f"< {PREDICT_ONE_TARGET:g} s" if judged else "none (predict's applies)",
                     verdict(runs.median < PREDICT_ONE_TARGET) if judged else "–"])
    full_many = sizes.predict_series >= FULL.predict_series and sizes.predict_points >= FULL.predict_points
    for label, runs in results["many"].items():
        if label.startswith("predict"):
            rows.append([f"{label} points, one call", f"{runs.median:.1f} s", f"< {PREDICT_MANY_TARGET:g} s",
                         verdict(runs.median < PREDICT_MANY_TARGET, full_many)])
    if "memory" in results:
        full_memory = sizes.memory_series >= FULL.memory_series and sizes.memory_points >= FULL.memory_points
        for label, runs in results["memory"].items():
            rows.append([f"peak RSS, {label} points", gigabytes(runs.peak), f"< {RSS_TARGET / GB:g} GB",
                         verdict(runs.peak < RSS_TARGET, full_memory)])
    if "speed" in results:
        speed = results["speed"]
        full_speed = sizes.speed_series >= FULL.speed_series and sizes.speed_steps >= FULL.speed_steps
        for name, speeds in speed["cells"].items():
            if "PyTorch" in speeds:
                ratio = median_ratio(speeds["ours"], speeds["PyTorch"])
                aim = "aim met" if ratio >= SPEED_AIM else "aim not met"
                rows.append([f"training windows/s, {name}: ours / PyTorch loop", f"{ratio:.2f}×",
                             f"≥ {SPEED_FLOOR:g}× (aim {SPEED_AIM:g}×)",
                             f"{verdict(ratio >= SPEED_FLOOR, full_speed)}; {aim}"])
            else:
                rows.append([f"training windows/s, {name}: ours / PyTorch loop", "not measured",
                             f"≥ {SPEED_FLOOR:g}× (aim {SPEED_AIM:g}×)",
                             "PyTorch not installed: `pip install -e '.[bench]'`"])
    return rows


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def process_rows(group: dict[str, Runs]) -> list[list[str]]:
    return [[label, str(len(runs.walls)), f"{runs.median:.3f}", f"{runs.best:.3f}", gigabytes(runs.peak)]
            for label, runs in group.items()]


def speed_lines(speed: dict) -> list[str]:
    """The throughput table: median windows/s per contender and the ratios, per cell."""
    references = ["plain Keras"] + (["PyTorch"] if speed["torch"] else [])
    contenders = ["ours", *references]
    header = ["network"] + [f"{c} (windows/s)" for c in contenders] + [f"ours / {c}" for c in references]
    rows = []
    for name, speeds in speed["cells"].items():
        row = [name] + [f"{statistics.median(speeds[c]):,.0f}" for c in contenders]
        row += [f"{median_ratio(speeds['ours'], speeds[c]):.2f}×" for c in references]
        rows.append(row)
    lines = table(header, rows)
    if not speed["torch"]:
        lines += ["", "PyTorch reference not measured: it needs `pip install -e '.[bench]'`."]
    lines += ["", "Per round (windows/s, rounds in order): " + "; ".join(
        f"{name}: " + ", ".join(f"{c} {' / '.join(f'{s:,.0f}' for s in speeds[c])}" for c in contenders)
        for name, speeds in speed["cells"].items())]
    return lines


def torch_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"torch {version('torch')}"
    except PackageNotFoundError:
        return "torch not installed"


def report_body(results: dict, sizes: Sizes, args, command: str, seconds: float) -> str:
    lines = [run_header(command, seconds).rstrip() + f"\n- PyTorch reference: {torch_version()}", ""]
    lines += [
        "Every command ran in a fresh process, timed (wall) and its peak RSS read by a small wrapper "
        f"(`os.wait4`); figures are medians of {args.repeats} runs where repeated. The data is generated: daily "
        "series, a random walk around a level plus a weekly sine, long CSV `series,date,value`.",
        "",
        "| measure | figure | target | verdict |",
        "|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in summary_rows(results, sizes)]
    lines += ["", "Fresh processes (wall seconds; peak RSS of the process):", ""]
    groups = {k: results[k] for k in ("cold", "one", "many", "memory") if k in results}
    rows = [row for group in groups.values() for row in process_rows(group)]
    rows.insert(len(results["cold"]), ["train the sample model (2 epochs; for the rows below)", "1",
                                       f"{results['sample_train'].median:.3f}", f"{results['sample_train'].best:.3f}",
                                       gigabytes(results['sample_train'].peak)])
    lines += table(["command", "runs", "median s", "min s", "peak RSS"], rows)
    lines += ["", f"One series: `sample_data/hourly_load.csv` (target load, covariate temperature, lookback 168, "
              f"horizon 24). Many series: trained on the first {sizes.train_points} points of each "
              f"(`--epochs 1 --windows-per-epoch {sizes.train_windows_per_epoch:,}`), predicted from the "
              f"{sizes.predict_points:,}-point export. Memory: `train --epochs 1 --windows-per-epoch "
              f"{sizes.memory_windows_per_epoch:,}`, `predict` with the file, `detect-anomalies --last 1` "
              f"(the training data)."]
    if "memory" not in results:
        lines += ["", "Memory part skipped (`--skip-memory`)."]
    if "speed" in results:
        speed = results["speed"]
        lines += [
            "",
            f"Training throughput: {sizes.speed_series} random-walk series × "
            f"{sizes.speed_steps:,} steps, 3 channels, lookback {LOOKBACK}, horizon {HORIZON}, batch {BATCH}, "
            f"{UNITS} units, linear skip started from the ridge fit and frozen; {speed['windows']:,} training "
            f"windows an epoch. Each contender trains in a process of its own (started from this script, "
            f"serving one epoch at a time, stopped with `SIGSTOP` while the others train, so that none of its "
            f"threads runs beside another's epoch). Median windows/s over {args.rounds} round(s) of one epoch each "
            "(after one warm-up epoch), contenders alternating within each round, which one goes first "
            "alternating between rounds; a ratio is the median of the rounds' ratios. *ours*: `network.fit` "
            "on `training.training_data` (what `forecaster train` runs: an LSTM through TensorFlow's fused "
            "kernel, `forecaster.fused_lstm`, the GRU's training step compiled by XLA; the step called on "
            f"{speed['steps_per_execution']} batch{'es' if speed['steps_per_execution'] > 1 else ''} at a time, as "
            "`training.multi_steps` has it for this training, the batches handed over by `tf.data`); "
            "*plain Keras*: the same network with Keras' own layers (`keras.layers.LSTM`, not the fused kernel), "
            "its training step compiled by XLA, `fit` on pre-built arrays with `shuffle=True`; *PyTorch*: `nn.LSTM` / "
            "`nn.GRU` (`bidirectional=True` for BiLSTM), dense head on the last step (BiLSTM: forward last step ‖ "
            "backward step 0), frozen linear skip, Huber loss, Adam (lr 1e-3, eps 1e-7), a plain loop over "
            "shuffled mini-batches of pre-built float32 tensors, `torch.set_num_threads(2)`, with glibc's default "
            "allocator, as a plain PyTorch script runs (the Keras contenders have the allocator setting forecaster "
            "makes when it loads Keras, `forecaster.backend.keep_freed_memory`).",
            "",
        ]
        lines += speed_lines(speed)
    else:
        lines += ["", "Training throughput skipped (`--skip-training`)."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="small data everywhere, 3 repeats, 1 round; BENCHMARKS.md left alone")
    parser.add_argument("--no-write", action="store_true", help="print the results but leave BENCHMARKS.md alone")
    parser.add_argument("--repeats", type=int, default=None,
                        help="fresh-process runs of each short command (default 10, --quick 3)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="alternating training rounds per network (default 5, --quick 1)")
    parser.add_argument("--skip-memory", action="store_true", help="skip the large-file memory part")
    parser.add_argument("--skip-training", action="store_true", help="skip the training-throughput part")
    parser.add_argument("--worker", nargs=2, metavar=("CONTENDER", "CELL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return args
    if args.quick:
        args.no_write = True
    args.repeats = args.repeats or (3 if args.quick else 10)
    args.rounds = args.rounds or (1 if args.quick else 5)
    if args.repeats < 1 or args.rounds < 1:
        parser.error("--repeats and --rounds must be at least 1")
    # found, not imported: only the PyTorch worker loads it
    if not (args.no_write or args.skip_training) and importlib.util.find_spec("torch") is None:
        parser.error("PyTorch is not installed, so the training comparison would replace the published one with "
                     "'not measured': pip install -e '.[bench]', or pass --skip-training or --no-write")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        contender_worker(*args.worker, args.quick)
        return 0
    command = shlex.join(["python", "benchmarks/perf.py", *(sys.argv[1:] if argv is None else argv)])
    sizes = QUICK if args.quick else FULL
    started = time.monotonic()
    results: dict = {}

    def step(message: str) -> None:
        print(f"[{time.monotonic() - started:6.0f} s] {message}", file=sys.stderr)

    # the generated files (up to a few hundred MB) never go into the repository
    with tempfile.TemporaryDirectory(prefix="forecaster-perf-") as folder:
        work = Path(folder)
        step("training the sample model")
        model, results["sample_train"] = train_sample(work)
        step("cold starts")
        results["cold"] = cold_start(work, model, args.repeats)
        step("predicting one series")
        results["one"] = predict_one(work, model, args.repeats)
        step(f"predicting {sizes.predict_series:,} series")
        results["many"] = predict_many(work, sizes)
        if not args.skip_memory:
            step(f"memory with {sizes.memory_series:,} × {sizes.memory_points:,} points")
            results["memory"] = memory(work, sizes)
    if not args.skip_training:
        step("training throughput")
        results["speed"] = training_speed(sizes, args.rounds)
    seconds = time.monotonic() - started
    body = report_body(results, sizes, args, command, seconds)
    publish("perf", "## Performance: start-up, prediction, training speed, memory\n\n" + body,
            write=not args.no_write, skipped_because="--quick / --no-write")
    return 0


if __name__ == "__main__":
    sys.exit(main())
