"""The LSTM as one kernel: training speed with TensorFlow's fused LSTM kernel against Keras'
loop over the window, compiled by XLA (as ``forecaster train`` trained LSTMs before, where the
training was long enough) and not.

Two parts, every contender in fresh processes of its own:

* windows/s of one epoch, ``perf.py``'s throughput network and data (LSTM and bidirectional
  LSTM, 32 units, lookback 48 step by step), alternating rounds, each contender stopped
  (``SIGSTOP``) while another trains, a warm-up epoch (tracing, compilation) excluded;
* whole trainings of the hourly sample through the command line (``forecaster train``, the
  README's example, and a network stepping through the window), each contender in turn,
  timed from start to return, with its epochs and validation MAE.

"Keras' loop" runs ``keras.layers.LSTM`` in the network instead of
``forecaster.fused_lstm.FusedLSTM``, everything else as the package does.

Usage (from the repository root):
    python benchmarks/fused_lstm.py [--rounds N] [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import REPO, publish, run_header  # noqa: E402

try:
    import forecaster  # noqa: F401
except ImportError:  # not installed: run from a plain checkout
    sys.path.insert(0, str(REPO))

FUSED, LOOP_XLA, LOOP = "fused kernel", "Keras' loop, XLA", "Keras' loop"
KINDS = (FUSED, LOOP_XLA, LOOP)
CELLS = {"LSTM": False, "BiLSTM": True}
SAMPLE = REPO / "sample_data" / "hourly_load.csv"
TRAININGS = {
    "hourly sample, the default (segments of 24 steps, ensemble of 3)": [],
    "hourly sample, one network stepping through the window (`--segment 1 --ensemble 1`)":
        ["--segment", "1", "--ensemble", "1"],
    "hourly sample, one bidirectional network stepping through the window (`--segment 1 --ensemble 1 "
    "--bidirectional`)": ["--segment", "1", "--ensemble", "1", "--bidirectional"],
}


def as_before(kind: str) -> None:
    """Make this process's networks run Keras' loop (``kind`` LOOP_XLA or LOOP) instead of the
    fused kernel: their LSTM layers are Keras', and XLA compiles training where the package's
    rule for other cells says so (LOOP_XLA) or never (LOOP)."""
    if kind == FUSED:
        return
    from forecaster import fused_lstm, training
    from forecaster.backend import load_keras

    keras = load_keras()

    @keras.saving.register_keras_serializable(package="benchmarks")  # Bidirectional copies it by name
    class KerasLSTM(keras.layers.LSTM):
        def __init__(self, *args, split_rows: bool = False, **kwargs):  # a setting of the kernel only
            super().__init__(*args, **kwargs)

    fused_lstm.FusedLSTM = KerasLSTM  # what build_network takes for "lstm"
    training.fused_kernel_runs = lambda spec: False
    if kind == LOOP:
        training.XLA_MIN_WORK = float("inf")


def epoch_worker(kind: str, cell: str, quick: bool) -> None:
    """``perf.py``'s worker for its own contender (one epoch of the network as ``forecaster
    train`` trains it, per line on stdin), with the LSTM run as ``kind`` says."""
    import perf

    as_before(kind)
    perf.contender_worker("ours", cell, quick)


def epoch_speeds(cell: str, rounds: int, quick: bool) -> dict:
    """Windows/s per round of each kind for ``cell``, each kind in a worker of its own."""
    import perf

    windows = len(perf.speed_windows(perf.QUICK if quick else perf.FULL)[0])
    epochs = {kind: perf.stopped_worker([sys.executable, __file__, "--epoch-worker", kind, cell]
                                        + (["--quick"] if quick else []), f"the {kind} worker for {cell}")
              for kind in KINDS}
    speeds = {kind: [] for kind in KINDS}
    for kind in KINDS:
        epochs[kind]()  # warm-up
    for round_ in range(rounds):
        for kind in (KINDS if round_ % 2 == 0 else tuple(reversed(KINDS))):
            speeds[kind].append(windows / epochs[kind]())
        print(f"  {cell} round {round_ + 1}: " + ", ".join(f"{kind} {speeds[kind][-1]:,.0f}" for kind in KINDS),
              file=sys.stderr)
    for epoch in epochs.values():
        epoch.close()
    return speeds


def train_worker(kind: str, model_dir: str, extra: list[str]) -> None:
    """``forecaster train`` of the hourly sample as the README runs it (plus ``extra``);
    prints its seconds, epochs run and validation MAE as JSON."""
    as_before(kind)
    from forecaster.cli import app

    began = time.perf_counter()
    try:
        app(["train", str(SAMPLE), "--target", "load", "--covariate", "temperature", "--seed", "42", "-m", model_dir,
             "-q", *extra], standalone_mode=False)
    finally:
        seconds = time.perf_counter() - began
    meta = json.loads((Path(model_dir) / "metadata.json").read_text())
    members = meta["training"].get("members") or [meta["training"]]
    print(json.dumps({"seconds": seconds, "epochs": [m["epochs_run"] for m in members],
                      "mae": meta["metrics"]["model"]["mae"]}))


def whole_training(extra: list[str], kind: str) -> dict:
    with tempfile.TemporaryDirectory() as workdir:
        done = subprocess.run([sys.executable, __file__, "--train-worker", kind, str(Path(workdir) / "model"), *extra],
                              capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--epoch-worker"]:
        epoch_worker(argv[1], argv[2], "--quick" in argv)
        return 0
    if argv[:1] == ["--train-worker"]:
        train_worker(argv[1], argv[2], argv[3:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of epochs (default 5)")
    parser.add_argument("--trainings", type=int, default=2, help="whole trainings per contender (default 2)")
    parser.add_argument("--quick", action="store_true", help="small data, one round; BENCHMARKS.md left alone")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.trainings, args.no_write = 1, 1, True
    command = shlex.join(["python", "benchmarks/fused_lstm.py", *argv])
    started = time.monotonic()

    epoch_rows = []
    for cell in CELLS:
        speeds = epoch_speeds(cell, args.rounds, args.quick)
        medians = {kind: statistics.median(speeds[kind]) for kind in KINDS}
        epoch_rows.append(
            f"| {cell} | " + " | ".join(f"{medians[kind]:,.0f} ({min(speeds[kind]):,.0f} to {max(speeds[kind]):,.0f})"
                                        for kind in KINDS)
            + f" | {medians[FUSED] / medians[LOOP_XLA]:.2f}× | {medians[FUSED] / medians[LOOP]:.2f}× |")

    training_rows = []
    for name, extra in TRAININGS.items():
        runs = {kind: [] for kind in KINDS}
        for round_ in range(args.trainings):
            for kind in (KINDS if round_ % 2 == 0 else tuple(reversed(KINDS))):
                runs[kind].append(whole_training(extra, kind))
                print(f"  {name[:40]}, {kind}: {runs[kind][-1]}", file=sys.stderr)
        for kind in KINDS:
            seconds = [run["seconds"] for run in runs[kind]]
            last = runs[kind][-1]
            training_rows.append(
                f"| {name} | {kind} | {statistics.median(seconds):.1f} ({', '.join(f'{s:.1f}' for s in seconds)}) | "
                f"{', '.join(map(str, last['epochs']))} | {last['mae']:.3f} |")

    import perf

    lines = [
        "## The LSTM as one kernel",
        "",
        run_header(command, time.monotonic() - started),
        f"**{FUSED}**: `forecaster.fused_lstm.FusedLSTM`, the package's LSTM layer, which runs TensorFlow's "
        "`BlockLSTM` kernel over the whole window (not compilable by XLA, so trained without). "
        f"**{LOOP_XLA}**: `keras.layers.LSTM` stepping through the window in a graph loop, the training step "
        "compiled by XLA (how `forecaster train` trained an LSTM before, where the training was long enough, "
        f"`training.XLA_MIN_WORK`). **{LOOP}**: the same without XLA (TensorFlow's deterministic kernels). "
        "Each contender in a process of its own.",
        "",
        f"Windows/s of one training epoch, `perf.py`'s network (32 units, lookback {perf.LOOKBACK} step by step, "
        f"{perf.N_FEATURES} channels, batch {perf.BATCH}, linear skip; `perf.py`'s own contender, timed inside `fit`), "
        f"median over {args.rounds} alternating rounds (range), a warm-up epoch excluded; each contender stopped "
        "while another trains:",
        "",
        f"| network | {' | '.join(KINDS)} | {FUSED} / {LOOP_XLA} | {FUSED} / {LOOP} |",
        "|---|---|---|---|---|---|",
        *epoch_rows,
        "",
        f"Whole trainings (`forecaster train sample_data/hourly_load.csv --target load --covariate temperature "
        f"--seed 42`, plus the options named), each in a fresh process, {args.trainings} per contender, "
        "alternating; seconds from the call to its return (data, windows, linear start, compilation, training, "
        "validation, calibration, writing the model); epochs run per network and validation MAE of the last run:",
        "",
        "| training | LSTM | seconds, median (each run) | epochs run | validation MAE |",
        "|---|---|---|---|---|",
        *training_rows,
    ]
    publish("fused_lstm", "\n".join(lines), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
