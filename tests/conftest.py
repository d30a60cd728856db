"""Shared fixtures: real models trained once per test session on the committed sample data, and
XLA made unavailable to training."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forecaster.cli import app

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
HOURLY = SAMPLE_DATA / "hourly_load.csv"
HOURLY_LABELS = SAMPLE_DATA / "hourly_load_labels.csv"
STORES = SAMPLE_DATA / "stores_daily.csv"


def load_benchmark_script(name: str):
    """``benchmarks/<name>.py`` as a module (benchmarks/ is not a package: loaded by its path)."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cli(*args: object):
    """Invoke the CLI in-process; returns the result with ``exit_code``, ``stdout``, ``stderr``."""
    return CliRunner().invoke(app, [str(a) for a in args])


def read_metadata(model_dir: Path) -> dict:
    return json.loads((model_dir / "metadata.json").read_text())


@pytest.fixture
def xla_unavailable(monkeypatch) -> list[bool]:
    """Training's compile step fails, as TensorFlow does for an op XLA cannot lower, whenever
    XLA is asked for, and it is asked for however small the training. Returns the ``xla``
    argument of every compile, in order."""
    import tensorflow as tf

    from forecaster import training

    monkeypatch.setattr(training, "XLA_MIN_WORK", 0)

    compiled: list[bool] = []
    compile_network = training.compile_network

    def compile_without_xla_support(network, learning_rate, xla=True, **rest):
        compiled.append(xla)
        if xla:
            raise tf.errors.InvalidArgumentError(None, None, "Detected unsupported operations when trying to compile")
        compile_network(network, learning_rate, xla, **rest)

    monkeypatch.setattr(training, "compile_network", compile_without_xla_support)
    return compiled


@pytest.fixture(scope="session")
def hourly_model(tmp_path_factory) -> tuple[Path, object]:
    """The demo's model: default network and training settings on the hourly sample, fixed seed.

    Returns the model directory and the CLI result of ``train`` (its stderr holds the report).
    """
    model_dir = tmp_path_factory.mktemp("hourly") / "model"
    result = run_cli(
        "train", HOURLY, "--target", "load", "--covariate", "temperature", "-m", model_dir, "--seed", 42
    )
    assert result.exit_code == 0, result.stderr
    return model_dir, result


@pytest.fixture(scope="session")
def stores_model(tmp_path_factory) -> Path:
    """A small model on the long-format sample: five stores of very different levels."""
    model_dir = tmp_path_factory.mktemp("stores") / "model"
    result = run_cli(
        "train", STORES, "--id-col", "store", "--target", "sales", "--covariate", "promo",
        "-m", model_dir, "--units", 8, "--epochs", 3, "--seed", 0, "--quiet",
    )
    assert result.exit_code == 0, result.stderr
    return model_dir
