"""What keeping freed memory for reuse (``forecaster.backend.keep_freed_memory``) does to training.

The package sets glibc's allocator to keep freed memory at the top of its heaps instead of
handing it back to the system at once, where a training step would fault the same pages in
again at every step. This script trains the network ``benchmarks/perf.py`` times (its data,
sizes and compiled training step: what ``forecaster train`` runs) for one warm-up epoch and
``--epochs`` timed ones, in a fresh process for each cell and setting: with the package's
setting, and with ``FORECASTER_MALLOC_TUNING=0`` (glibc's defaults); and, where PyTorch is
installed, ``perf.py``'s PyTorch loop of the same network in a fresh process of its own (each
framework alone in its process: the fair comparison). They alternate within each round, and a
ratio is the median of the rounds' ratios, so that drift in the machine's speed between rounds
cancels. Each process's page faults, system (kernel) CPU time and peak memory come from the
operating system (``wait4``).

Usage (from the repository root):
    python benchmarks/allocator.py [--rounds N] [--epochs N] [--no-write]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import REPO, publish, run_header  # noqa: E402

CELLS = {"LSTM": ("lstm", False), "GRU": ("gru", False), "BiLSTM": ("lstm", True)}
SETTINGS = {"kept (the package's)": {}, "glibc's defaults": {"FORECASTER_MALLOC_TUNING": "0"}}
#: The reference: perf.py's PyTorch loop of the same network, in a fresh process of its own too
#: (glibc's defaults, as a plain PyTorch script runs)
PYTORCH = "PyTorch loop"


def child(cell: str, epochs: int, pytorch: bool = False) -> None:
    """Train one network (``pytorch``: perf.py's PyTorch loop of it) and print its timed epochs'
    windows/s as JSON (run in a fresh process)."""
    try:
        import forecaster  # noqa: F401
    except ImportError:  # not installed: run from a plain checkout
        sys.path.insert(0, str(REPO))
    import perf
    from forecaster.backend import keep_freed_memory

    epoch, n_windows = perf.contender_epochs("PyTorch" if pytorch else "ours", cell, perf.FULL)
    epoch()  # warm-up: tracing and compilation
    speeds = [n_windows / epoch() for _ in range(epochs)]
    print(json.dumps({"speeds": speeds, "kept": keep_freed_memory()}))


def run_child(cell: str, epochs: int, env: dict[str, str], pytorch: bool = False) -> dict:
    """One fresh process: its windows/s, page faults, kernel seconds and peak RSS (bytes)."""
    process = subprocess.Popen([sys.executable, __file__, "--child", cell, "--epochs", str(epochs)]
                               + (["--pytorch"] if pytorch else []),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, **env})
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"the {cell} training process failed with exit code {process.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    return {"speed": statistics.median(result["speeds"]), "kept": result["kept"], "faults": usage.ru_minflt,
            "system": usage.ru_stime, "rss": usage.ru_maxrss * 1024}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per cell (default 3)")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per process (default 3)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    parser.add_argument("--child", choices=CELLS, help=argparse.SUPPRESS)
    parser.add_argument("--pytorch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.epochs, args.pytorch)
        return 0
    if not hasattr(os, "wait4"):
        print("allocator.py: needs os.wait4 (a Unix system); skipped", file=sys.stderr)
        return 0
    command = shlex.join(["python", "benchmarks/allocator.py", *argv])
    started = time.monotonic()
    with_torch = importlib.util.find_spec("torch") is not None
    contenders = {**SETTINGS, **({PYTORCH: {"FORECASTER_MALLOC_TUNING": "0"}} if with_torch else {})}
    runs: dict[str, dict[str, list[dict]]] = {cell: {name: [] for name in contenders} for cell in CELLS}
    for round_ in range(args.rounds):
        for cell in CELLS:
            # alternate which setting goes first, so neither always runs on a machine just warmed
            order = list(contenders) if round_ % 2 == 0 else list(reversed(contenders))
            for name in order:
                runs[cell][name].append(run_child(cell, args.epochs, contenders[name], pytorch=name == PYTORCH))
            print(f"  round {round_ + 1} {cell}: " + ", ".join(
                f"{name} {runs[cell][name][-1]['speed']:,.0f} windows/s" for name in contenders), file=sys.stderr)
    if not any(run["kept"] for cell in runs.values() for run in cell["kept (the package's)"]):
        print("allocator.py: the allocator settings did not apply here (not glibc?); nothing to compare",
              file=sys.stderr)
        return 0
    kept, default = SETTINGS
    median = lambda cell, name, key: statistics.median(run[key] for run in runs[cell][name])  # noqa: E731
    rows = []
    for cell in CELLS:
        ratio = statistics.median(a["speed"] / b["speed"] for a, b in zip(runs[cell][kept], runs[cell][default]))
        if with_torch:
            versus = statistics.median(a["speed"] / b["speed"] for a, b in zip(runs[cell][kept], runs[cell][PYTORCH]))
            torch_columns = f"{median(cell, PYTORCH, 'speed'):,.0f} | {versus:.2f}× | "
        else:
            torch_columns = "not measured | – | "
        rows.append(
            f"| {cell} | {median(cell, kept, 'speed'):,.0f} | {median(cell, default, 'speed'):,.0f} | {ratio:.2f}× | "
            + torch_columns +
            f"{median(cell, kept, 'faults') / 1e6:.2f} M / {median(cell, default, 'faults') / 1e6:.2f} M | "
            f"{median(cell, kept, 'system'):.1f} / {median(cell, default, 'system'):.1f} | "
            f"{median(cell, kept, 'rss') / 2**30:.2f} / {median(cell, default, 'rss') / 2**30:.2f} |")
    lines = [
        "## Freed memory kept for reuse: training with and without",
        "",
        run_header(command, time.monotonic() - started),
        "The network and data of the Performance section's training throughput (what `forecaster train` runs: "
        "lookback 48, 32 units, batch 64, an LSTM through the fused kernel, the GRU's step compiled by XLA, "
        "sixteen batches per call), trained one warm-up "
        f"epoch and {args.epochs} timed ones in a fresh process per cell and setting, the settings alternating within "
        f"each of {args.rounds} rounds: with the package's allocator setting (`forecaster.backend.keep_freed_memory`: "
        "glibc keeps 64 MB free at the top of each heap and trims the main heap above 256 MB) and with "
        "`FORECASTER_MALLOC_TUNING=0` (glibc's defaults). Windows/s: the median over the rounds of each process's "
        "median epoch; the ratio is the median of the rounds' ratios. Page faults (minor), system CPU seconds and "
        "peak RSS are the whole process's (start-up, compilation and the warm-up epoch included), medians over "
        "the rounds.",
        "",
        "The PyTorch loop is `perf.py`'s reference (the same network and data; its description is in the "
        "Performance section), trained the same way in a fresh process of its own with glibc's defaults, in turn "
        "with the other two: the fair comparison, each framework alone in its process."
        + ("" if with_torch else " PyTorch is not installed here (`pip install -e '.[bench]'`): not measured."),
        "",
        "| network | kept (windows/s) | glibc's defaults (windows/s) | kept / defaults | PyTorch loop (windows/s) | "
        "kept / PyTorch | page faults, kept / defaults | system CPU s, kept / defaults | peak RSS GB, kept / "
        "defaults |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]
    publish("allocator", "\n".join(lines), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
