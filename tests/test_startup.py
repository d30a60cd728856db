"""What a fresh ``python -m forecaster`` imports for the quick commands: ``--help`` and
``info`` are typed at a terminal and by monitoring scripts, and TensorFlow, pandas or even
NumPy would add from a tenth of a second to several seconds to each.

Behavioural, not timed: a wall-clock limit would fail on a busy machine and pass on a fast one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from .conftest import run_cli
from .test_cli import TINY, small_hourly_csv

# pydantic: Typer 0.29 validates every option with it, a tenth of a second more per command
HEAVY = ("tensorflow", "keras", "pandas", "matplotlib", "sklearn", "scipy", "numpy", "pydantic")

# runs the package as -m does, then lists the heavy modules it left loaded
PROBE = textwrap.dedent(
    """
    import json, runpy, sys

    args, heavy = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    sys.argv = ["forecaster", *args]
    code = 0
    try:
        runpy.run_module("forecaster", run_name="__main__", alter_sys=True)
    except SystemExit as exit:
        code = exit.code or 0
    loaded = sorted(m for m in heavy if m in sys.modules)
    sys.stderr.write("\\nPROBE " + json.dumps({"code": code, "heavy": loaded}) + "\\n")
    """
)


def run_fresh(*args: str) -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args)), json.dumps(HEAVY)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stderr.rsplit("PROBE ", 1)[1])
    return done, report


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny network: info must not load it, so a real model.keras is there to be ignored."""
    folder = tmp_path_factory.mktemp("startup")
    data = small_hourly_csv(folder / "data.csv")
    model_dir = folder / "model"
    result = run_cli("train", data, "-m", model_dir, "--seed", 1, "--quiet", *TINY)
    assert result.exit_code == 0, result.stderr
    return model_dir


@pytest.mark.parametrize("command", [[], ["train"], ["evaluate"], ["predict"], ["detect-anomalies"], ["info"]])
def test_help_imports_no_numerical_library(command):
    done, report = run_fresh(*command, "--help")
    assert report == {"code": 0, "heavy": []}
    assert "Usage" in done.stdout


@pytest.mark.parametrize("as_json", [False, True])
def test_info_reads_the_metadata_without_numpy_pandas_or_keras(model_dir, as_json):
    done, report = run_fresh("info", "--model-dir", str(model_dir), *(["--json"] if as_json else []))
    assert report == {"code": 0, "heavy": []}
    if as_json:
        assert json.loads(done.stdout)["files"].keys() == {"model.keras", "network.npz", "history.npz"}
    else:
        assert "LSTM, 1 layer(s) of 4 units" in done.stdout


def test_info_still_checks_the_checksums_without_them(model_dir, tmp_path):
    broken = tmp_path / "model"
    broken.mkdir()
    for file in model_dir.iterdir():
        (broken / file.name).write_bytes(file.read_bytes())
    history = broken / "history.npz"
    history.write_bytes(history.read_bytes()[:-10])
    done, report = run_fresh("info", "-m", str(broken))
    assert report == {"code": 1, "heavy": []}
    assert "history.npz: its SHA-256 differs" in done.stderr
