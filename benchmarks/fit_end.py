"""How long ``fit`` takes to return once training has ended, with Keras' own input pipelines
and with the ones ``forecaster`` hands it.

Keras turns a ``PyDataset`` (and arrays) into a ``tf.data`` pipeline that TensorFlow autotunes.
The autotuning thread sleeps for a period that doubles while the pipeline runs, and when
``fit`` drops the pipeline at its end, the destructor waits for that thread to wake, with the
GIL held. ``forecaster.training.training_data`` and ``validation_data`` hand ``fit`` pipelines
of fixed sizes with autotuning off. This script trains the same small network on the same
windows (``perf.py``'s training data, its small size) through both, in alternating order in
one process, for fits of several lengths, and times each fit from start to return and from
Keras' ``on_train_end`` to return.

Usage (from the repository root):
    python benchmarks/fit_end.py [--rounds N] [--no-write]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import REPO, publish, run_header  # noqa: E402

try:
    import forecaster  # noqa: F401
except ImportError:  # not installed: run from a plain checkout
    sys.path.insert(0, str(REPO))

#: Each fit's training step compiled by XLA or not, and its epochs.
CASES = [(xla, epochs) for xla in (False, True) for epochs in (1, 3, 10)]
KERAS, OURS = "Keras' pipelines (autotuned)", "forecaster's pipelines"


def contenders(keras, train_set, val_set) -> dict:
    """What each contender gives ``fit``: training data, validation data, extra callbacks."""
    import perf
    from forecaster.training import training_data, validation_data, window_batches
    from forecaster import forecasting

    def keras_pipelines():
        return (window_batches(train_set, perf.BATCH, seed=0), window_batches(val_set, forecasting.PREDICT_BATCH), [])

    def ours():
        training, feeding = training_data(keras, train_set, perf.BATCH, seed=0)
        return training, validation_data(keras, val_set), feeding

    return {KERAS: keras_pipelines, OURS: ours}


def timed_fit(keras, linear, data, xla: bool, epochs: int) -> tuple[float, float]:
    """Seconds of one fit of a fresh network, whole and after ``on_train_end``."""
    import perf
    from forecaster.models import NetworkSpec, build_network, start_from_linear
    from forecaster.training import compile_network

    class End(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            self.ended = time.perf_counter()

    training, validation, feeding = data
    spec = NetworkSpec(lookback=perf.LOOKBACK, horizon=perf.HORIZON, n_features=perf.N_FEATURES, units=perf.UNITS)
    network = build_network(spec, seed=0)
    start_from_linear(network, linear)
    compile_network(network, perf.LEARNING_RATE, xla=xla)
    end = End()
    began = time.perf_counter()
    network.fit(training, validation_data=validation, epochs=epochs, shuffle=False, verbose=0,
                callbacks=[*feeding, end])
    returned = time.perf_counter()
    return returned - began, returned - end.ended


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds (default 4)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/fit_end.py", *argv])
    started = time.monotonic()

    import perf
    from forecaster.backend import load_keras, seed_everything
    from forecaster.baselines import LinearAutoregression

    keras = load_keras()
    train_set, val_set = perf.speed_windows(perf.QUICK)
    linear = LinearAutoregression.fit(train_set, val_set)
    makers = contenders(keras, train_set, val_set)
    runs = {(name, case): [] for name in makers for case in CASES}
    for round_ in range(args.rounds):
        for xla, epochs in CASES:
            seed_everything(0, deterministic_ops=not xla)  # as training does
            if round_ == 0 and epochs == CASES[0][1]:
                timed_fit(keras, linear, makers[OURS](), xla, 1)  # warm-up: tracing
            order = list(makers) if round_ % 2 == 0 else list(reversed(makers))
            for name in order:
                runs[name, (xla, epochs)].append(timed_fit(keras, linear, makers[name](), xla, epochs))
            print(f"  round {round_ + 1}, {'XLA, ' if xla else ''}{epochs} epochs: " + ", ".join(
                f"{name} {runs[name, (xla, epochs)][-1][0]:.2f} s "
                f"({runs[name, (xla, epochs)][-1][1]:.2f} s after the end)" for name in makers), file=sys.stderr)

    rows = []
    for xla, epochs in CASES:
        for name in makers:
            whole = [run[0] for run in runs[name, (xla, epochs)]]
            after = [run[1] for run in runs[name, (xla, epochs)]]
            rows.append(f"| {'yes' if xla else 'no'} | {epochs} | {name} | {statistics.median(whole):.2f} | "
                        f"{statistics.median(after):.2f} | {max(after):.2f} | {sum(after):.2f} of {sum(whole):.2f} |")
    lines = [
        "## No wait at the end of fit",
        "",
        run_header(command, time.monotonic() - started),
        f"The default network (LSTM, 32 units, lookback {perf.LOOKBACK}, {perf.N_FEATURES} channels) trained on "
        f"{len(train_set):,} windows and validated on {len(val_set):,} (`perf.py`'s training data at its small "
        "size), one batch per call, a fresh network per fit, its training step compiled by XLA (as `forecaster "
        "train` compiles a training long enough to earn the compilation back) or not, for 1, 3 and 10 epochs, "
        f"{args.rounds} rounds in one process, the two contenders alternating. "
        f"**{KERAS}**: the windows as a `PyDataset` for training and validation, which Keras turns into an "
        "autotuned `tf.data` pipeline (what `forecaster` handed `fit` before, for every training's validation "
        f"and for short trainings). **{OURS}**: `forecaster.training.training_data` and `validation_data`, "
        "`tf.data` pipelines of fixed sizes with autotuning off. The same batches in the same order, so the "
        "same weights. Seconds after the end: from Keras' `on_train_end` to `fit` returning.",
        "",
        "| XLA | epochs | pipelines | fit, median s | after the end, median s | after the end, longest s | "
        "after the end, all fits |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    publish("fit_end", "\n".join(lines), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
