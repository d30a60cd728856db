"""When compiling the training step with XLA pays: the same trainings timed with XLA and without,
in one process, one after the other.

XLA compiles the training step once per network (seconds, whatever the data) and then trains
each batch faster, by more the more recurrent steps the layer takes. ``forecaster.training``
compiles only where the work of the epochs allowed (``xla_work``: batches times recurrent
steps) reaches ``XLA_MIN_WORK``. This script measures what that rule rests on: each case is
trained for two epoch counts (patience above both, so every epoch runs), with and without XLA;
the difference between the two counts gives the time per batch, what is left the fixed cost
(compiling, building, the first validation), and from both the batches after which XLA has
paid for its compilation. Then the sample data's default training (three networks, early
stopping) is timed both ways, and the rule's choice for it is printed.

Every network is a GRU: an LSTM runs the fused kernel (``forecaster.fused_lstm``), which XLA
cannot compile and which trains as fast or faster without it (``fused_lstm.py``), so the rule
decides for the GRU and the plain RNN only.

Usage (from the repository root):
    python benchmarks/xla.py [--no-write]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import replace
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

from forecaster import training  # noqa: E402
from forecaster.data import Dataset, DataOptions, dataset_from_pandas, load_dataset  # noqa: E402
from forecaster.models import NetworkSpec  # noqa: E402
from forecaster.training import TrainOptions, fit, xla_work  # noqa: E402

NEVER = 10**15


def sine(n: int = 400) -> Dataset:
    """A noisy hourly sine, in memory: the size of the unit tests' trainings."""
    rng = np.random.default_rng(4)
    values = np.sin(np.arange(n) / 4) * 3 + rng.normal(0, 0.3, n) + 20
    return dataset_from_pandas({"x": pd.Series(values, pd.date_range("2024-01-01", periods=n, freq="h"))},
                               "sine (in memory)")


def timed_fit(dataset: Dataset, options: TrainOptions, xla: bool):
    training.XLA_MIN_WORK = 0 if xla else NEVER
    started = time.perf_counter()
    fitted = fit(dataset, options)
    return time.perf_counter() - started, fitted


def work(fitted, epochs: int) -> int:
    """``training.xla_work`` of a fitted network over ``epochs`` epochs."""
    return xla_work(NetworkSpec.from_dict(fitted.spec), fitted.options, len(fitted.train_windows), epochs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print the section, leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/xla.py", *(sys.argv[1:] if argv is None else argv)])
    started = time.monotonic()
    default_rule = training.XLA_MIN_WORK
    hourly = load_dataset(REPO / "sample_data" / "hourly_load.csv",
                          DataOptions(targets=("load",), covariates=("temperature",)))
    cases = [
        ("noisy sine, 400 hours; GRU 1 x 4, lookback 12 (stepwise), batch 16", sine(),
         TrainOptions(lookback=12, horizon=4, units=4, batch_size=16, calendar=False, ensemble=1, seed=7, cell="gru"),
         (3, 30)),
        ("hourly sample; GRU 1 x 32 (otherwise the default), lookback 168 in daily segments, one network", hourly,
         TrainOptions(ensemble=1, seed=1, cell="gru"), (3, 15)),
        ("hourly sample; GRU 1 x 32, lookback 168 stepwise (`--segment 1`)", hourly,
         TrainOptions(ensemble=1, segment=1, seed=1, cell="gru"), (3, 9)),
    ]
    timed_fit(sine(), replace(cases[0][2], epochs=1), xla=True)  # imports and first traces, not timed
    rows, derived = [], []
    for name, dataset, options, (low, high) in cases:
        seconds, batches, steps = {}, 0, 0
        for xla in (True, False):
            for epochs in (low, high):
                seconds[xla, epochs], fitted = timed_fit(dataset, replace(options, epochs=epochs, patience=high + 1), xla)
                print(f"{name}: {epochs} epochs {'with' if xla else 'without'} XLA: {seconds[xla, epochs]:.2f} s",
                      file=sys.stderr, flush=True)
            steps = NetworkSpec.from_dict(fitted.spec).n_segments
            batches = work(fitted, 1) // steps
        per_batch = {xla: (seconds[xla, high] - seconds[xla, low]) / ((high - low) * batches) for xla in (True, False)}
        fixed = {xla: seconds[xla, low] - low * batches * per_batch[xla] for xla in (True, False)}
        gain = per_batch[False] - per_batch[True]
        pays = (fixed[True] - fixed[False]) / gain if gain > 0 else float("inf")
        rows += [f"| {name} | {batches} | {steps} | {e} | {seconds[True, e]:.1f} | {seconds[False, e]:.1f} |"
                 for e in (low, high)]
        derived.append(f"| {name} | {1000 * per_batch[True]:.1f} / {1000 * per_batch[False]:.1f} | "
                       f"{fixed[True]:.1f} / {fixed[False]:.1f} | {pays:,.0f} | {pays * steps:,.0f} |")
    demo = TrainOptions(seed=42, cell="gru")
    totals = {}
    for xla in (True, False):
        totals[xla], fitted = timed_fit(hourly, demo, xla)
    demo_work = work(fitted, fitted.options.epochs)
    epochs_run = ", ".join(str(m["epochs_run"]) for m in fitted.members)
    training.XLA_MIN_WORK = default_rule

    body = "\n".join([
        "## XLA only where it pays",
        "",
        run_header(command, time.monotonic() - started),
        "Each training (of GRUs: an LSTM runs the fused kernel, never compiled by XLA) timed with its step "
        "compiled by XLA and without (TensorFlow's deterministic kernels "
        "then, as `--seed` needs), at two epoch counts, every epoch run (patience above both). Times are "
        "`training.fit`'s whole call: windows, the linear start, building, compiling, training and validating.",
        "",
        "| training | batches per epoch | recurrent steps per batch | epochs | with XLA (s) | without (s) |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "From the two epoch counts: the time per batch (validation included) and the fixed cost, and the "
        "batches trained after which XLA has earned back its compilation; times the recurrent steps, that "
        "is the work `training.xla_work` counts.",
        "",
        "| training | ms per batch, with / without XLA | fixed cost (s), with / without | XLA pays after "
        "(batches) | (work) |",
        "|---|---|---|---|---|",
        *derived,
        "",
        f"The hourly sample's default training with GRUs (`forecaster train sample_data/hourly_load.csv --target load "
        f"--covariate temperature --seed 42 --cell gru`: three networks, early stopping; epochs run {epochs_run}): "
        f"{totals[True]:.1f} s with XLA, {totals[False]:.1f} s without. Its work over the epochs allowed is "
        f"{demo_work:,} per network; the rule (`XLA_MIN_WORK` = {default_rule:,}) "
        f"{'compiles it' if demo_work >= default_rule else 'leaves XLA out'}.",
    ])
    publish("xla", body, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
