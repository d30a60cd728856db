"""The model directory: what training leaves behind and everything predicting needs.

Layout::

    forecaster-model/
        model.keras      the network (Keras 3 native format, loaded with safe_mode=True), or
        linear.npz       the linear model's coefficients (the naive models have no file)
        metadata.json    schema version, options, columns, frequencies, scalers, calibration
        history.npz      each series' values as trained on, for detect-anomalies without data

Nothing is pickled. The directory is written beside its final place and swapped in with
renames, so a failed or interrupted training leaves the previous model as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import ArtifactError
from .outputs import readable_like_new_files

SCHEMA_VERSION = 1
MODEL_FILE = "model.keras"
LINEAR_FILE = "linear.npz"
METADATA_FILE = "metadata.json"
HISTORY_FILE = "history.npz"


@dataclass
class Artifact:
    """A loaded model directory."""

    path: Path
    metadata: dict[str, Any]
    network: Any = None

    def history(self) -> list[dict[str, np.ndarray]]:
        """Each series' stored values: ``{"values": (n_steps, n_features), "missing": (n_steps,)}``."""
        file = self.path / HISTORY_FILE
        try:
            with np.load(file, allow_pickle=False) as stored:
                return [
                    {"values": stored[f"values_{i}"], "missing": stored[f"missing_{i}"]}
                    for i in range(len(self.metadata["series"]))
                ]
        except (OSError, KeyError, ValueError) as exc:
            raise ArtifactError(f"{file}: cannot read the stored training data ({exc}); retrain the model") from None


def check_replaceable(model_dir: str | os.PathLike) -> Path:
    """The model directory to write, refused if something that is not a model is there.

    Called before training as well as when saving, so that a wrong ``--model-dir`` fails in
    a second rather than after the whole training run.

    Raises:
        ArtifactError: ``model_dir`` exists but is not a model directory nor an empty one.
    """
    target = Path(model_dir)
    if target.exists() and not (target / METADATA_FILE).is_file():
        if not target.is_dir() or any(target.iterdir()):
            raise ArtifactError(
                f"{target} exists and is not a forecaster model directory; choose another --model-dir"
            )
    return target


def save_artifact(
    model_dir: str | os.PathLike,
    network: Any,
    metadata: dict[str, Any],
    history: list[dict[str, np.ndarray]],
    model_file: str | None = MODEL_FILE,
) -> Path:
    """Write a model directory atomically, replacing any previous model there.

    Args:
        network: a built Keras model or a baseline predictor (anything with ``save(path)``).
        model_file: the file ``network`` is saved to; None when it has no parameters.
        metadata: JSON-safe description; ``schema_version`` and ``forecaster_version`` are added.
        history: per series ``{"values": (n_steps, n_features), "missing": (n_steps,)}``.

    Raises:
        ArtifactError: ``model_dir`` exists but is not a model directory (it is never replaced).
    """
    target = check_replaceable(model_dir)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
    try:
        readable_like_new_files(staging, directory=True)
        if model_file is not None:
            network.save(staging / model_file)
        arrays = {}
        for i, series in enumerate(history):
            arrays[f"values_{i}"] = np.asarray(series["values"], dtype=np.float64)
            arrays[f"missing_{i}"] = np.asarray(series["missing"], dtype=bool)
        np.savez_compressed(staging / HISTORY_FILE, **arrays)
        full = {"schema_version": SCHEMA_VERSION, "forecaster_version": __version__, **metadata}
        (staging / METADATA_FILE).write_text(json.dumps(full, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        for file in staging.iterdir():
            _fsync(file)
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _swap_in(staging: Path, target: Path) -> None:
    """Move ``staging`` to ``target``; the old ``target``, if any, is removed only afterwards."""
    if not target.exists():
        os.replace(staging, target)
        return
    retired = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(target, retired)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def read_metadata(model_dir: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``metadata.json`` without touching the network (cheap: no Keras import)."""
    path = Path(model_dir)
    if not path.exists():
        raise ArtifactError(f"model directory '{path}' not found; train one with 'forecaster train DATA.csv -m {path}'")
    if not path.is_dir():
        raise ArtifactError(f"'{path}' is not a directory; -m/--model-dir names the directory 'forecaster train' wrote")
    file = path / METADATA_FILE
    if not file.is_file():
        raise ArtifactError(f"{path}: no {METADATA_FILE}, so this is not a forecaster model directory")
    try:
        metadata = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{file}: unreadable ({exc}); retrain the model") from None
    if not isinstance(metadata, dict) or "schema_version" not in metadata:
        raise ArtifactError(f"{file}: not forecaster metadata (no schema_version); retrain the model")
    version = metadata["schema_version"]
    if version != SCHEMA_VERSION:
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        raise ArtifactError(
            f"{file}: model schema version {version} "
            + ("is newer than this forecaster understands; upgrade forecaster" if newer else "is not supported; retrain the model")
            + f" (this version reads schema {SCHEMA_VERSION})"
        )
    return metadata


def load_artifact(model_dir: str | os.PathLike, with_network: bool = True) -> Artifact:
    """Load a model directory; the network is loaded in Keras safe mode."""
    path = Path(model_dir)
    metadata = read_metadata(path)
    artifact = Artifact(path=path, metadata=metadata)
    if with_network:
        artifact.network = _load_predictor(path, metadata)
    return artifact


def _load_predictor(path: Path, metadata: dict[str, Any]) -> Any:
    """The fitted model: the Keras network (safe mode) or a baseline predictor."""
    from .baselines import LinearAutoregression, SeasonalNaive

    spec = metadata["network"]
    kind = spec.get("model", "network")
    name = metadata.get("model_file")
    if kind in ("naive", "seasonal-naive"):
        season = max(s["season"] for s in metadata["series"]) if kind == "seasonal-naive" else 1
        return SeasonalNaive(spec["lookback"], spec["horizon"], season)
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ArtifactError(f"{path}: metadata names no valid model file; retrain the model")
    model_file = path / name
    if not model_file.is_file():
        raise ArtifactError(f"{path}: {name} is missing; retrain the model")
    if kind == "linear":
        try:
            return LinearAutoregression.load(model_file, spec["lookback"], spec["horizon"])
        except (OSError, KeyError, ValueError) as exc:
            raise ArtifactError(f"{model_file}: cannot load the linear model ({exc}); retrain the model") from None
    from .backend import load_keras

    keras = load_keras()
    try:
        return keras.saving.load_model(model_file, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many kinds for a damaged file
        raise ArtifactError(f"{model_file}: cannot load the network ({type(exc).__name__}); retrain the model") from None
