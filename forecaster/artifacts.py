"""The model directory: what training leaves behind and everything predicting needs.

Layout::

    forecaster-model/
        model.keras      the network (Keras 3 native format), for Keras users and for directories
                         without network.npz, which are loaded with it (safe_mode=True), and
        network.npz      the same network's weights as named float32 arrays, which predict and
                         detect-anomalies evaluate with NumPy (no TensorFlow import), or
        linear.npz       the linear model's coefficients (the naive models have no file)
        metadata.json    schema version, package and library versions, the SHA-256 of every
                         other file, options, columns, frequencies, scalers, calibration
        history.npz      each series' values as trained on, for detect-anomalies without data

Trust. Nothing is unpickled (every ``np.load`` has ``allow_pickle=False``) and the network is
loaded in Keras safe mode. Loading refuses, in one line naming the directory and the file, a
directory whose files are missing, truncated or edited (their SHA-256 differs from the one in
``metadata.json``), whose metadata is not ours, or whose metadata names a file outside the
directory (file names are plain names, must resolve inside it, and symbolic links are not
followed). ``metadata.json`` itself stays a readable JSON document without a checksum of its
own; an edit that breaks its structure or the checksums is caught.

Schema versions. 2 added the checksums and the versions. A schema 1 directory (written before
them) is migrated on load: it is accepted as it is, with every check but the checksums, which
it does not have; the next ``train`` writes the current schema. 3 added ``window_level`` to the
model description: windows may be relative to their last value, which an earlier forecaster
would silently take for their mean, so it must refuse the directory; schema 1 and 2 models
are read as relative to their mean. A newer schema is refused with the
version it needs. ``network.npz`` (named by ``network_file`` in the metadata and checksummed
like every file) came later within schema 2 without a new version, because it breaks no
reader: an earlier forecaster checks it and loads ``model.keras`` as before, and a network
directory without it (written earlier) is loaded through Keras as before.

Replacing a model (``save_artifact``). The new directory is written beside the target as
``.NAME.tmp-XXXXXXXX``, its files fsynced, then swapped in with two renames: the old directory
to ``.NAME.old-XXXXXXXX``, the new one to ``NAME``; the old one is then deleted. SIGINT and
SIGTERM are held off during the two renames. No symbolic links are involved. A crash leaves
at worst a stale ``.tmp-``/``.old-`` directory; the next ``train`` into the same directory
(which holds the lock of :mod:`forecaster.locking`) calls :func:`clean_leftovers`, which puts
the previous model back should the crash have come between the two renames, and deletes the
rest.

Reading while a model is replaced (``load_artifact``). Every file is read, through one open
handle on the directory, into memory, then checked against the checksums and loaded from
there: what is loaded is one directory's files, the old model or the new one, never a mix.
Should a file disappear under the reader (the old directory being deleted) or the directory be
missing for the instant between the two renames, the read is retried from the new directory.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import platform
import re
import shutil
import stat
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__, interrupts
from .errors import ArtifactError
from .outputs import keeps_access_of, link_target

if TYPE_CHECKING:  # imported where arrays are read or written: info reads none
    import numpy as np

SCHEMA_VERSION = 3
#: The anomaly scoring a model is calibrated for now (see ``anomaly.SCORING_VERSION``, where its
#: history is); here so that ``info`` tells it without importing NumPy.
ANOMALY_SCORING_VERSION = 7
#: Schema versions this forecaster reads: 1 (no checksums) is migrated on load.
READABLE_SCHEMAS = (1, 2, 3)
MODEL_FILE = "model.keras"
#: The network for NumPy (:mod:`forecaster.numpy_network`), beside ``model.keras``.
NETWORK_FILE = "network.npz"
LINEAR_FILE = "linear.npz"
METADATA_FILE = "metadata.json"
HISTORY_FILE = "history.npz"
#: Distributions whose versions are recorded (the first one installed of each group).
LIBRARIES = {
    "keras": ("keras",),
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "numpy": ("numpy",),
    "pandas": ("pandas",),
    "scikit-learn": ("scikit-learn",),
}
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: How often a read that met a model being replaced is tried again.
_ATTEMPTS = 5


@dataclass
class Artifact:
    """A loaded model directory: its metadata and the bytes of its files, as checked."""

    path: Path
    metadata: dict[str, Any]
    network: Any = None
    files: dict[str, bytes] = field(default_factory=dict, repr=False)

    def history(self) -> list[dict[str, np.ndarray]]:
        """Each series' stored values: ``{"values": (n_steps, n_features), "missing": (n_steps,)}``."""
        import numpy as np

        file = self.path / HISTORY_FILE
        try:
            data = self.files[HISTORY_FILE] if HISTORY_FILE in self.files else _read_plain(self.path, HISTORY_FILE)
            with np.load(io.BytesIO(data), allow_pickle=False) as stored:
                return [
                    {"values": stored[f"values_{i}"], "missing": stored[f"missing_{i}"]}
                    for i in range(len(self.metadata["series"]))
                ]
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ArtifactError(f"{file}: cannot read the stored training data ({exc}); retrain the model") from None


def check_replaceable(model_dir: str | os.PathLike) -> Path:
    """The model directory to write, refused if something that is not a model is there.

    Called before training as well as when saving, so that a wrong ``--model-dir`` fails in
    a second rather than after the whole training run. A directory is replaced only if it is
    empty or its ``metadata.json`` is forecaster's, or cannot be read as JSON at all (cut
    short by a full disk, emptied) or is missing, beside another of forecaster's files: the
    damaged model that ``predict``'s error asks to retrain.

    Raises:
        ArtifactError: ``model_dir`` exists but is not a model directory nor an empty one.
    """
    target = link_target(model_dir)  # a link to the current model stays a link
    if not target.exists():
        return target
    try:
        here = os.getcwd()
    except OSError:
        here = None
    if here is not None and os.path.commonpath([here, os.path.realpath(target)]) == os.path.realpath(target):
        # replaced whole, it would be swapped out from under the shell (and its staging copy
        # written inside it)
        raise ArtifactError(f"--model-dir '{model_dir}' is the current directory or holds it, and train replaces it "
                            "whole; run train from outside it, naming it with -m")
    if target.is_dir() and not any(target.iterdir()):
        return target
    metadata = target / METADATA_FILE
    if not target.is_dir() or not (metadata.is_file() or not metadata.exists() and _holds_own_files(target)):
        raise ArtifactError(f"{target} exists and is not a forecaster model directory; choose another --model-dir")
    try:
        ours = _is_ours(json.loads(metadata.read_text(encoding="utf-8")))
    except (UnicodeDecodeError, ValueError, FileNotFoundError):
        ours = _holds_own_files(target)
    except OSError:
        ours = False
    if not ours:
        raise ArtifactError(
            f"{target} exists and its {METADATA_FILE} is not forecaster's; remove the directory or choose another "
            "--model-dir"
        )
    return target


def newer_model_note(model_dir: str | os.PathLike) -> str | None:
    """What to say before replacing a model that a newer forecaster wrote (a schema this one
    cannot read): a downgraded cron job would otherwise replace it without a word. None for
    any other directory."""
    try:
        metadata = json.loads((link_target(model_dir) / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    version = metadata.get("schema_version") if _is_ours(metadata) else None
    if not isinstance(version, int) or isinstance(version, bool) or version <= SCHEMA_VERSION:
        return None
    return (f"replacing the model in {model_dir}, written by forecaster {metadata.get('forecaster_version')} (model "
            f"schema {version}), with one of this older version ({__version__}, schema {SCHEMA_VERSION})")


def _holds_own_files(directory: Path) -> bool:
    """Whether ``directory`` holds one of forecaster's model files besides the metadata: a
    model whose metadata was cut short, emptied or deleted, and so one to retrain."""
    try:
        return any(path.name in OWN_FILES - {METADATA_FILE} for path in directory.iterdir())
    except OSError:
        return False


def _is_ours(metadata: Any) -> bool:
    # a model with one of these edited away is still forecaster's, to replace
    return isinstance(metadata, dict) and "schema_version" in metadata and (
        "forecaster_version" in metadata or {"network", "series"} <= set(metadata))


def library_versions() -> dict[str, str | None]:
    """The versions of forecaster, Python and the libraries a model depends on (None: not installed)."""
    from importlib import metadata as distributions

    versions: dict[str, str | None] = {"forecaster": __version__, "python": platform.python_version()}
    for name, candidates in LIBRARIES.items():
        versions[name] = None
        for candidate in candidates:
            with contextlib.suppress(distributions.PackageNotFoundError):
                versions[name] = distributions.version(candidate)
                break
    return versions


def save_artifact(
    model_dir: str | os.PathLike,
    network: Any,
    metadata: dict[str, Any],
    history: list[dict[str, np.ndarray]],
    model_file: str | None = MODEL_FILE,
    companions: dict[str, Any] | None = None,
) -> Path:
    """Write a model directory atomically, replacing any previous model there.

    Callers that may run concurrently hold :func:`forecaster.locking.model_lock` around it.

    Args:
        network: a built Keras model or a baseline predictor (anything with ``save(path)``).
        model_file: the file ``network`` is saved to; None when it has no parameters.
        companions: other forms of the same model (anything with ``save(path)``) by the file
            they are saved to, e.g. ``{"network.npz": NumpyNetwork}``; checksummed like the rest.
        metadata: JSON-safe description; ``schema_version``, ``forecaster_version``,
            ``versions`` and ``files`` (the SHA-256 of each file) are added.
        history: per series ``{"values": (n_steps, n_features), "missing": (n_steps,)}``.

    Raises:
        ArtifactError: ``model_dir`` exists but is not a model directory (it is never replaced).
    """
    import numpy as np

    target = check_replaceable(model_dir)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    os.mkdir(staging)  # permissions as any new directory: 0o777 less the umask
    try:
        if model_file is not None:
            network.save(staging / model_file)
        for name, companion in (companions or {}).items():
            companion.save(staging / name)
        arrays = {}
        for i, series in enumerate(history):
            arrays[f"values_{i}"] = np.asarray(series["values"], dtype=np.float64)
            arrays[f"missing_{i}"] = np.asarray(series["missing"], dtype=bool)
        np.savez_compressed(staging / HISTORY_FILE, **arrays)
        checksums = {file.name: _sha256(file.read_bytes()) for file in sorted(staging.iterdir())}
        full = {
            "schema_version": SCHEMA_VERSION,
            "forecaster_version": __version__,
            "versions": library_versions(),
            "files": checksums,
            **metadata,
        }
        (staging / METADATA_FILE).write_text(json.dumps(full, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        for file in staging.iterdir():
            keeps_access_of(target, file, file_within=True)  # a model an operator restricted stays so
            _fsync(file)
        _carry_over_foreign(target, staging)
        keeps_access_of(target, staging)
        _fsync(staging)
        _swap_in(staging, target)
    except BaseException as exc:
        remove_tree(staging)
        if isinstance(exc, OSError):  # a full disk, a file-size limit: name what could not be written
            raise ArtifactError(f"cannot write the model directory '{model_dir}': {exc.strerror or exc}; "
                                "the previous model is kept") from None
        raise
    return target


#: The names of the files forecaster writes into a model directory, in any version.
OWN_FILES = frozenset({MODEL_FILE, NETWORK_FILE, LINEAR_FILE, METADATA_FILE, HISTORY_FILE})


def _carry_over_foreign(target: Path, staging: Path) -> None:
    """Copy into the new model directory what someone else put in the old one (an operator's
    notes, a README): the directory is replaced whole, and they would be lost without a word.
    What forecaster wrote there, by any version, is not carried over; no checksum covers
    the copies, and no command reads them."""
    if not target.is_dir():
        return
    try:
        written = set(json.loads((target / METADATA_FILE).read_text(encoding="utf-8")).get("files", {}))
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        written = set()
    for entry in target.iterdir():
        if entry.name in OWN_FILES or entry.name in written or (staging / entry.name).exists():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, staging / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, staging / entry.name, follow_symlinks=False)


def _swap_in(staging: Path, target: Path) -> None:
    """Move ``staging`` to ``target``; the old ``target``, if any, is removed only afterwards."""
    retired = None
    swapped = False
    try:
        with interrupts.held():  # no Stopped between the two renames
            interrupts.check()  # a stop asked for and lost on the way here: the old model stays
            if target.exists():
                retired = _leftover_name(target, "old")
                os.replace(target, retired)
            try:
                os.replace(staging, target)
            except BaseException:
                if retired is not None:
                    os.replace(retired, target)
                raise
            swapped = True
            interrupts.committed()  # the new model is in place: a signal held off above changes nothing
        with contextlib.suppress(OSError):
            _fsync(target.parent)
    finally:
        if swapped and retired is not None:
            remove_tree(retired)


def _leftover_name(target: Path, kind: str) -> Path:
    return target.parent / f".{target.name}.{kind}-{uuid.uuid4().hex[:8]}"


def _leftover_pattern(target: Path) -> re.Pattern:
    return re.compile(rf"\.{re.escape(target.name)}\.(tmp|old)-[0-9a-f]{{8}}")


def _is_retired(leftover: Path) -> bool:
    return leftover.name[:-8].endswith(".old-")


def leftovers(model_dir: str | os.PathLike) -> list[Path]:
    """The staging (``.NAME.tmp-*``) and retired (``.NAME.old-*``) directories beside ``model_dir``
    (beside what it links to, where ``save_artifact`` writes them)."""
    target = link_target(model_dir)
    pattern = _leftover_pattern(target)
    try:
        return sorted(p for p in target.parent.iterdir() if pattern.fullmatch(p.name))
    except OSError:
        return []


def clean_leftovers(model_dir: str | os.PathLike) -> None:
    """Remove what an interrupted ``save_artifact`` left beside ``model_dir``.

    Only call it holding the model directory's lock. If ``model_dir`` is missing because the
    process died between the two renames of the swap, the previous model is put back first.
    """
    target = link_target(model_dir)
    found = leftovers(target)
    if not target.exists() and not target.is_symlink():
        retired = [p for p in found if _is_retired(p) and (p / METADATA_FILE).is_file()]
        if retired:
            newest = max(retired, key=lambda p: p.stat().st_mtime)
            os.replace(newest, target)
            found.remove(newest)
    for path in found:
        if path.is_dir() and not path.is_symlink():
            remove_tree(path)
        else:
            with contextlib.suppress(OSError):
                path.unlink()


def remove_tree(path: Path) -> None:
    """Remove a directory tree as far as possible, also one whose directories were made
    read-only (a model directory an operator protected with ``chmod 555``, retired by a new
    training), which ``shutil.rmtree`` alone would leave behind; what still cannot be removed
    is left without an error."""

    def writable_then_again(function: Any, name: str, _exc_info: Any) -> None:
        with contextlib.suppress(OSError):
            for directory in (os.path.dirname(name), name):
                if os.path.isdir(directory) and not os.path.islink(directory):
                    os.chmod(directory, stat.S_IMODE(os.lstat(directory).st_mode) | stat.S_IRWXU)
            function(name)

    shutil.rmtree(path, onerror=writable_then_again)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- reading ------------------------------------------------------------------------------------


class _Retry(Exception):
    """A read met a model directory being replaced; ``error`` is what to report if it persists."""

    def __init__(self, error: ArtifactError, pause: float = 0.0) -> None:
        super().__init__(str(error))
        self.error = error
        self.pause = pause


def read_metadata(model_dir: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``metadata.json`` and the checksums of the files (no Keras import)."""
    return _snapshot(Path(model_dir))[0]


def load_artifact(model_dir: str | os.PathLike, with_network: bool = True) -> Artifact:
    """Load a model directory, checked; a network from ``network.npz`` with NumPy, or (a
    directory written before there was one) from ``model.keras`` in Keras safe mode.

    Raises:
        ArtifactError: the directory is missing, incomplete, edited, not forecaster's, or
            of a newer schema.
    """
    path = Path(model_dir)
    metadata, files = _snapshot(path)
    artifact = Artifact(path=path, metadata=metadata, files=files)
    _check_history(path, metadata, files)
    if with_network:
        artifact.network = _load_predictor(path, metadata, files)
        artifact.files = {HISTORY_FILE: files[HISTORY_FILE]}  # the model file's bytes are done with
    return artifact


def _snapshot(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The checked metadata and the bytes of every file of one directory, tried again (a few
    times) if a concurrent ``train`` replaced the directory while it was being read."""
    for attempt in range(_ATTEMPTS):
        try:
            return _read_once(path)
        except _Retry as retry:
            if attempt == _ATTEMPTS - 1:
                raise retry.error from None
            time.sleep(retry.pause * (attempt + 1))
    raise AssertionError("unreachable")


def _read_once(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    try:
        directory = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except FileNotFoundError:
        retired = [p for p in leftovers(path) if _is_retired(p) and (p / METADATA_FILE).is_file()]
        error = ArtifactError(
            f"model directory '{path}' not found, but the previous model is at '{retired[-1]}' (a train was killed "
            f"while swapping in the new one): run train into '{path}' again, which puts it back first, or rename it "
            f"to '{path}'" if retired else
            f"model directory '{path}' not found; train one with 'forecaster train DATA.csv -m {path}'"
        )
        # between the two renames of a swap; or just after it, the old one already removed
        if path.is_dir() or retired:
            raise _Retry(error, pause=0.05) from None
        raise error from None
    except NotADirectoryError:
        raise ArtifactError(
            f"'{path}' is not a directory; -m/--model-dir names the directory 'forecaster train' wrote"
        ) from None
    except OSError as exc:
        raise ArtifactError(f"model directory '{path}': cannot open it ({exc.strerror}); check its permissions") from None
    try:
        return _read_files(path, directory)
    except ArtifactError as error:
        if _replaced(path, directory):
            raise _Retry(error) from None
        raise
    finally:
        os.close(directory)


def _replaced(path: Path, directory: int) -> bool:
    """Whether ``path`` no longer names the directory open as ``directory``."""
    try:
        return not os.path.samestat(os.fstat(directory), os.stat(path))
    except OSError:
        return True


def _read_files(path: Path, directory: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    file = path / METADATA_FILE
    try:
        text = _read_at(directory, METADATA_FILE).decode("utf-8")
    except FileNotFoundError:
        if _holds_own_files(path):
            raise ArtifactError(f"{path}: no {METADATA_FILE} beside the model's other files (deleted, or a copy cut "
                                "short); retrain the model") from None
        raise ArtifactError(f"{path}: no {METADATA_FILE}, so this is not a forecaster model directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{file}: unreadable ({_reason(exc)}); retrain the model") from None
    try:
        metadata = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{file}: unreadable ({exc}); retrain the model") from None
    checksums = _check_metadata(file, metadata)
    names = checksums if checksums is not None else _schema1_files(metadata)
    files = {}
    for name in names:
        where = path / name
        try:
            files[name] = _read_at(directory, name)
        except FileNotFoundError:
            raise ArtifactError(f"{path}: {name} is missing; retrain the model") from None
        except OSError as exc:
            raise ArtifactError(f"{where}: unreadable ({_reason(exc)}); retrain the model") from None
        if checksums is not None and _sha256(files[name]) != checksums[name]:
            raise ArtifactError(
                f"{where}: its SHA-256 differs from the one in {METADATA_FILE}, so it was truncated or changed "
                "after training; retrain the model (or restore the directory from a backup)"
            )
    return metadata, files


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _read_at(directory: int, name: str) -> bytes:
    """A plain file's bytes, by name relative to an open directory; symbolic links refused."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(name, flags, dir_fd=directory)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(exc.errno, "a symbolic link, which a model directory may not hold") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(0, "not a plain file")
        return handle.read()


def _read_plain(path: Path, name: str) -> bytes:
    directory = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        return _read_at(directory, name)
    finally:
        os.close(directory)


#: What the commands read from ``metadata.json``, and of what kind each must be: the file is
#: not under the checksums (it holds them), so a hand edit must fail here, naming the field,
#: and not as a traceback or an "unexpected" error deep in predict or info.
_KINDS = {"number": (int, float), "whole number": int, "text": str, "table": dict, "list": list,
          "text or whole number": (str, int)}  # a series name: a whole number from older versions
_TOP_FIELDS = {"forecaster_version": "text", "anomaly_threshold": "number", "intervals": "table",
               "data_options": "table", "train_options": "table", "metrics": "table", "training": "table"}
_NETWORK_FIELDS = {"lookback": "whole number", "horizon": "whole number"}
_SERIES_FIELDS = {"name": "text or whole number", "freq": "text", "end": "text", "n_steps": "whole number", "scaler": "table",
                  "residual_scale": "number", "anomaly": "table", "last_values": "list", "metrics": "table"}
_INTERVAL_FIELDS = {"n": "whole number", "abs_quantiles": "list"}
#: Fields of later versions, checked where present: older models lack them.
_OPTIONAL_SERIES_FIELDS = {"floor": "number", "start": "text", "window_spread": "number"}


def _check_kinds(file: Path, metadata: dict[str, Any]) -> None:
    # (where, its fields, how messages call it, whether a missing or null field is allowed)
    checks = [(metadata, _TOP_FIELDS, "", False), (metadata["network"], _NETWORK_FIELDS, "network.", False)]
    for i, entry in enumerate(metadata["series"]):
        checks += [(entry, _SERIES_FIELDS, f"series[{i}].", False),
                   (entry, _OPTIONAL_SERIES_FIELDS, f"series[{i}].", True)]
    if isinstance(metadata.get("intervals"), dict):
        checks.append((metadata["intervals"], _INTERVAL_FIELDS, "intervals.", False))
    for where, fields, prefix, optional in checks:
        for name, kind in fields.items():
            value = where.get(name)
            if optional and value is None:
                continue
            if not isinstance(value, _KINDS[kind]) or isinstance(value, bool):
                shown = "missing" if name not in where else f"{value!r}"
                _edited(file, f"'{prefix}{name}' must be a {kind}, not {shown}")
    if not metadata["anomaly_threshold"] >= 0:
        _edited(file, f"'anomaly_threshold' must be 0 or more, not {metadata['anomaly_threshold']!r}")
    horizon = metadata["network"]["horizon"]
    if len(metadata["intervals"]["abs_quantiles"]) != horizon:
        _edited(file, f"'intervals.abs_quantiles' has {len(metadata['intervals']['abs_quantiles'])} rows for a "
                      f"horizon of {horizon}")
    if not all(isinstance(row, list) and row and _numbers(row) for row in metadata["intervals"]["abs_quantiles"]):
        _edited(file, "'intervals.abs_quantiles' must hold lists of numbers")
    if not isinstance(metadata["data_options"].get("targets"), list):
        _edited(file, "'data_options.targets' must be a list of column names")
    lookback = metadata["network"]["lookback"]
    for i, entry in enumerate(metadata["series"]):
        for name in ("end", "start"):
            when = entry.get(name)
            try:
                if when is not None:
                    datetime.fromisoformat(when)
            except ValueError:
                _edited(file, f"'series[{i}].{name}' must be a time, not {when!r}")
        if not _known_freq(entry["freq"]):
            _edited(file, f"'series[{i}].freq' must be a frequency such as h, D or MS, not {entry['freq']!r}")
        scaler = entry["scaler"]
        if not {"mean", "scale"} <= set(scaler):
            _edited(file, f"'series[{i}].scaler' must hold 'mean' and 'scale'")
        anomaly = entry["anomaly"]
        if not all(_numbers(anomaly.get(name)) for name in ("centre", "spread")):
            _edited(file, f"'series[{i}].anomaly' must hold the numbers 'centre' and 'spread'")
        if not isinstance(scaler.get("log_target", False), bool):
            _edited(file, f"'series[{i}].scaler.log_target' must be true or false, not {scaler['log_target']!r}")
        for name in ("mean", "scale"):
            value = scaler.get(name)
            if value is not None and not _numbers(value):
                _edited(file, f"'series[{i}].scaler.{name}' must be a number or a list of numbers, not {value!r}")
        if not all(_numbers(row) for row in entry["last_values"]):
            _edited(file, f"'series[{i}].last_values' must hold numbers")
        if len(entry["last_values"]) < lookback:
            _edited(file, f"'series[{i}].last_values' holds {len(entry['last_values'])} rows, fewer than the "
                          f"lookback {lookback}")


#: What a pandas frequency alias looks like (h, 15min, W-SUN, QE-DEC, SMS-10).
_FREQ = re.compile(r"\d*[A-Za-z]+(-[A-Za-z0-9]+)?")


def _known_freq(freq: str) -> bool:
    """Whether ``freq`` is a frequency: by pandas where it is loaded already (predict, detect);
    ``info``, which runs without it, only shows the text, so its shape is enough there."""
    import sys

    if not _FREQ.fullmatch(freq):
        return False
    if "pandas" not in sys.modules:
        return True
    from pandas.tseries.frequencies import to_offset

    try:
        to_offset(freq)
    except ValueError:
        return False
    return True


def _numbers(value: Any) -> bool:
    """A number, or a flat list of numbers (not true or false)."""
    items = value if isinstance(value, list) else [value]
    return all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in items)


def _edited(file: Path, problem: str) -> None:
    raise ArtifactError(f"{file}: {problem}; the metadata was edited or damaged; retrain the model")


def _check_metadata(file: Path, metadata: Any) -> dict[str, str] | None:
    """Refuse metadata that is not ours or cannot be used; returns the checksums by file
    name (None for schema 1, which has none)."""
    if not isinstance(metadata, dict) or "schema_version" not in metadata:
        raise ArtifactError(f"{file}: not forecaster metadata (no schema_version); retrain the model")
    version = metadata["schema_version"]
    if version not in READABLE_SCHEMAS or isinstance(version, bool):
        newer = isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION
        raise ArtifactError(
            f"{file}: model schema version {version!r} "
            + ("is newer than this forecaster understands; upgrade forecaster" if newer else "is not supported; retrain the model")
            + f" (this version reads schema {SCHEMA_VERSION})"
        )
    network, series = metadata.get("network"), metadata.get("series")
    if (
        not isinstance(network, dict)
        or not isinstance(network.get("model", "network"), str)
        or not isinstance(series, list)
        or not series
        or not all(isinstance(s, dict) for s in series)
    ):
        raise ArtifactError(f"{file}: not forecaster metadata (no network or series description); retrain the model")
    _check_kinds(file, metadata)
    root = file.parent
    model_file, network_file = metadata.get("model_file"), metadata.get("network_file")
    if model_file is not None:
        _check_name(file, root, model_file, "model_file")
    if network_file is not None:
        _check_name(file, root, network_file, "network_file")
    if version == 1:
        return None
    checksums = metadata.get("files")
    if not isinstance(checksums, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and _SHA256.fullmatch(v) for k, v in checksums.items()
    ):
        raise ArtifactError(f"{file}: no valid checksums ('files'); the metadata was edited; retrain the model")
    for name in checksums:
        _check_name(file, root, name, "files")
    for needed in (HISTORY_FILE, model_file, network_file):
        if needed is not None and needed not in checksums:
            raise ArtifactError(f"{file}: no checksum for {needed}; the metadata was edited; retrain the model")
    return checksums


def _check_name(file: Path, root: Path, name: Any, key: str) -> None:
    """A file named in the metadata must be a plain name of a file inside the directory."""
    ok = (
        isinstance(name, str)
        and name not in ("", ".", "..", METADATA_FILE)
        and not any(c in name for c in ("/", "\\", "\0"))
        and not Path(name).is_absolute()
    )
    if ok:
        base = root.resolve()
        ok = (base / name).resolve().parent == base  # (and a link inside is refused on reading)
    if not ok:
        raise ArtifactError(
            f"{file}: {key} names {name!r}, which is not a file inside the model directory; retrain the model"
        )


def _schema1_files(metadata: dict[str, Any]) -> list[str]:
    names = [HISTORY_FILE]
    if metadata.get("model_file"):
        names.insert(0, metadata["model_file"])
    if metadata.get("network_file"):  # not written with schema 1, but checked if it is named
        names.insert(0, metadata["network_file"])
    return names


def _check_history(path: Path, metadata: dict[str, Any], files: dict[str, bytes]) -> None:
    """The stored training data holds one series per series of the metadata (its arrays are
    read only when needed)."""
    import numpy as np

    file = path / HISTORY_FILE
    expected = {f"{kind}_{i}" for i in range(len(metadata["series"])) for kind in ("values", "missing")}
    try:
        with np.load(io.BytesIO(files[HISTORY_FILE]), allow_pickle=False) as stored:
            names = set(stored.files)
    except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"{file}: cannot read the stored training data ({exc}); retrain the model") from None
    if names != expected:
        raise ArtifactError(
            f"{file}: holds other series than {METADATA_FILE} describes; the directory was edited; retrain the model"
        )


def model_level(spec: dict[str, Any]) -> str:
    """What a model's windows are relative to, from its description (``metadata["network"]``
    or a fitted model's ``spec``): models written before there was a choice (schemas 1 and 2)
    used the mean."""
    return spec.get("window_level", "mean")


def _load_predictor(path: Path, metadata: dict[str, Any], files: dict[str, bytes]) -> Any:
    """The fitted model from the checked bytes of its file: the network for NumPy
    (``network_file``), or, in a directory written before there was one, the Keras network
    (safe mode); or a baseline predictor."""
    from .baselines import LinearAutoregression, SeasonalNaive
    from .windows import WINDOW_LEVELS

    spec = metadata["network"]
    kind = spec.get("model", "network")
    if model_level(spec) not in WINDOW_LEVELS:
        raise ArtifactError(f"{path / METADATA_FILE}: unknown window level {spec['window_level']!r} (this version "
                            f"knows {', '.join(WINDOW_LEVELS)}); retrain the model")
    name = metadata.get("model_file")
    try:
        if kind in ("naive", "seasonal-naive"):
            season = max(s["season"] for s in metadata["series"]) if kind == "seasonal-naive" else 1
            return SeasonalNaive(spec["lookback"], spec["horizon"], season)
        lookback, horizon = spec["lookback"], spec["horizon"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{path / METADATA_FILE}: the model description is incomplete ({exc}); retrain the model") from None
    if not name or name not in files:
        raise ArtifactError(f"{path}: metadata names no valid model file; retrain the model")
    model_file = path / name
    if kind == "linear":
        try:
            return LinearAutoregression.load(io.BytesIO(files[name]), lookback, horizon)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ArtifactError(f"{model_file}: cannot load the linear model ({exc}); retrain the model") from None
    network_file = metadata.get("network_file")
    if kind == "network" and network_file is not None:
        import zlib

        from .numpy_network import NumpyNetwork

        try:
            return NumpyNetwork.load(io.BytesIO(files[network_file]), spec)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            reason = " ".join(str(exc).split())  # one line, whatever the library put in it
            raise ArtifactError(f"{path / network_file}: cannot load the network ({reason}); retrain the model") from None
    from .backend import load_keras
    from .fused_lstm import FusedLSTM  # noqa: F401  (registers the layer the model file names)

    keras = load_keras()
    with tempfile.TemporaryDirectory(prefix="forecaster-model-") as private:
        copy = Path(private) / MODEL_FILE  # the checked bytes, not whatever the path holds now
        copy.write_bytes(files[name])
        try:
            return keras.saving.load_model(copy, compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises many kinds for a damaged file
            raise ArtifactError(
                f"{model_file}: cannot load the network ({type(exc).__name__}); retrain the model"
            ) from None
