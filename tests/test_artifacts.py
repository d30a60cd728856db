"""Model directories that can be trusted: checksums, versions, schema migration, no pickle,
no path out of the directory, and readers that never see half of a model being replaced."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pathlib
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from forecaster.artifacts import (
    HISTORY_FILE,
    LINEAR_FILE,
    METADATA_FILE,
    MODEL_FILE,
    NETWORK_FILE,
    SCHEMA_VERSION,
    check_replaceable,
    clean_leftovers,
    leftovers,
    load_artifact,
    read_metadata,
    save_artifact,
)
from forecaster.baselines import LinearAutoregression
from forecaster.data import DataOptions
from forecaster.errors import ArtifactError
from forecaster.numpy_network import NumpyNetwork
from forecaster.report import Reporter
from forecaster.training import TrainOptions, train

from .conftest import HOURLY, run_cli

HOURLY_OPTIONS = DataOptions(targets=("load",))


@pytest.fixture(scope="module")
def linear_model(tmp_path_factory) -> Path:
    model_dir = tmp_path_factory.mktemp("linear") / "model"
    train(HOURLY, HOURLY_OPTIONS, TrainOptions(model="linear", lookback=24, horizon=6, seed=0), model_dir)
    return model_dir


@pytest.fixture(scope="module")
def network_model(tmp_path_factory) -> Path:
    model_dir = tmp_path_factory.mktemp("network") / "model"
    options = TrainOptions(model="network", units=2, epochs=1, lookback=24, horizon=6, seed=0)
    train(HOURLY, HOURLY_OPTIONS, options, model_dir)
    return model_dir


@pytest.fixture
def model(linear_model, tmp_path) -> Path:
    """A private copy of the linear model, to damage."""
    return Path(shutil.copytree(linear_model, tmp_path / "model"))


@pytest.fixture
def network(network_model, tmp_path) -> Path:
    return Path(shutil.copytree(network_model, tmp_path / "model"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def edit_metadata(model_dir: Path, change) -> None:
    file = model_dir / METADATA_FILE
    metadata = json.loads(file.read_text())
    change(metadata)
    file.write_text(json.dumps(metadata))


def set_checksum(model_dir: Path, name: str) -> None:
    """Record the current checksum of ``name``: the file now passes as the one trained."""
    edit_metadata(model_dir, lambda m: m["files"].__setitem__(name, sha256(model_dir / name)))


def refused(model_dir: Path, *fragments: str) -> str:
    """Load ``model_dir`` and the CLI's predict on it; both refuse it in one clear line."""
    with pytest.raises(ArtifactError) as caught:
        load_artifact(model_dir)
    message = str(caught.value)
    assert "\n" not in message
    assert str(model_dir) in message
    for fragment in fragments:
        assert fragment in message
    assert "retrain" in message or "upgrade" in message
    result = run_cli("predict", "-m", model_dir)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {message}\n"
    return message


# --- what is written -------------------------------------------------------------------------


def test_metadata_holds_schema_versions_and_a_checksum_of_every_file(linear_model, network_model):
    for model_dir, model_files in ((linear_model, {LINEAR_FILE}), (network_model, {MODEL_FILE, NETWORK_FILE})):
        metadata = json.loads((model_dir / METADATA_FILE).read_text())
        assert metadata["schema_version"] == SCHEMA_VERSION == 3
        files = {p.name for p in model_dir.iterdir()} - {METADATA_FILE}
        assert files == model_files | {HISTORY_FILE}
        assert metadata["files"] == {name: sha256(model_dir / name) for name in files}
        assert metadata["model_file"] == min(model_files)  # model.keras, beside network.npz
        assert metadata.get("network_file") == (NETWORK_FILE if NETWORK_FILE in model_files else None)
        versions = metadata["versions"]
        assert set(versions) == {"forecaster", "python", "keras", "tensorflow", "numpy", "pandas", "scikit-learn"}
        assert versions["numpy"] == np.__version__ and versions["forecaster"] == metadata["forecaster_version"]
        assert all(versions.values())


def test_a_checked_model_loads_and_predicts(linear_model, network_model):
    for model_dir in (linear_model, network_model):
        artifact = load_artifact(model_dir)
        windows = np.zeros((1, 24, artifact.metadata["network"]["n_features"]), dtype=np.float32)
        assert np.asarray(artifact.network.predict(windows, verbose=0)).shape == (1, 6)
        assert artifact.history()[0]["values"].shape[0] == artifact.metadata["series"][0]["n_steps"]
        assert read_metadata(model_dir) == artifact.metadata


# --- damaged, edited and foreign directories -------------------------------------------------


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


DAMAGE = {
    "truncated linear.npz": (lambda d: truncate(d / LINEAR_FILE), [f"{LINEAR_FILE}: its SHA-256 differs"]),
    "edited linear.npz": (lambda d: flip_a_byte(d / LINEAR_FILE), [f"{LINEAR_FILE}: its SHA-256 differs"]),
    "edited history": (lambda d: flip_a_byte(d / HISTORY_FILE), [f"{HISTORY_FILE}: its SHA-256 differs"]),
    "truncated history": (lambda d: truncate(d / HISTORY_FILE), [f"{HISTORY_FILE}: its SHA-256 differs"]),
    "missing model file": (lambda d: (d / LINEAR_FILE).unlink(), [f"{LINEAR_FILE} is missing"]),
    "missing history": (lambda d: (d / HISTORY_FILE).unlink(), [f"{HISTORY_FILE} is missing"]),
    "model file a directory": (
        lambda d: ((d / LINEAR_FILE).unlink(), (d / LINEAR_FILE).mkdir()),
        [f"{LINEAR_FILE}: unreadable"],
    ),
    "edited checksum": (
        lambda d: edit_metadata(d, lambda m: m["files"].__setitem__(LINEAR_FILE, "0" * 64)),
        [f"{LINEAR_FILE}: its SHA-256 differs"],
    ),
    "checksums removed": (lambda d: edit_metadata(d, lambda m: m.pop("files")), ["no valid checksums"]),
    "checksum not a digest": (
        lambda d: edit_metadata(d, lambda m: m["files"].__setitem__(HISTORY_FILE, "abc")),
        ["no valid checksums"],
    ),
    "model file without a checksum": (
        lambda d: edit_metadata(d, lambda m: m["files"].pop(LINEAR_FILE)),
        [f"no checksum for {LINEAR_FILE}"],
    ),
    "a series added to the metadata": (
        lambda d: edit_metadata(d, lambda m: m["series"].append(dict(m["series"][0], name="extra"))),
        [f"{HISTORY_FILE}: holds other series than {METADATA_FILE} describes"],
    ),
    "metadata truncated": (lambda d: truncate(d / METADATA_FILE), [f"{METADATA_FILE}: unreadable"]),
    "metadata of another tool": (
        lambda d: (d / METADATA_FILE).write_text('{"name": "resnet", "version": 3}'),
        ["not forecaster metadata (no schema_version)"],
    ),
    "metadata a list": (lambda d: (d / METADATA_FILE).write_text("[1, 2]"), ["not forecaster metadata"]),
    "metadata without a network": (
        lambda d: edit_metadata(d, lambda m: m.pop("network")),
        ["not forecaster metadata (no network or series description)"],
    ),
}


def test_a_directory_without_metadata_is_not_a_model(model):
    for path in model.iterdir():
        path.unlink()
    (model / "notes.txt").write_text("not a model")
    with pytest.raises(ArtifactError, match=f"{model}: no {METADATA_FILE}, so this is not a forecaster model"):
        load_artifact(model)


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_edited_or_foreign_directory_is_refused_in_one_line(model, case):
    damage, fragments = DAMAGE[case]
    damage(model)
    refused(model, *fragments)


@pytest.mark.parametrize("name", [MODEL_FILE, NETWORK_FILE])
def test_a_truncated_network_is_refused(network, name):
    """Both forms of the network are checked, though predict only loads network.npz."""
    truncate(network / name)
    refused(network, f"{network / name}: its SHA-256 differs")


def test_a_missing_numpy_network_or_its_checksum_is_refused(network):
    edit_metadata(network, lambda m: m["files"].pop(NETWORK_FILE))
    refused(network, f"no checksum for {NETWORK_FILE}")
    (network / NETWORK_FILE).unlink()
    edit_metadata(network, lambda m: m["files"].__setitem__(NETWORK_FILE, "0" * 64))
    refused(network, f"{NETWORK_FILE} is missing")


def test_network_file_cannot_point_outside_the_directory(network):
    shutil.copy(network / NETWORK_FILE, network.parent / "outside.npz")

    def point(metadata):
        metadata["network_file"] = "../outside.npz"
        metadata["files"]["../outside.npz"] = sha256(network.parent / "outside.npz")

    edit_metadata(network, point)
    refused(network, "network_file names '../outside.npz', which is not a file inside the model directory")


def test_a_numpy_network_that_cannot_be_read_is_refused_even_with_a_matching_checksum(network):
    (network / NETWORK_FILE).write_bytes(b"PK\x03\x04 not really a zip")
    set_checksum(network, NETWORK_FILE)
    refused(network, f"{network / NETWORK_FILE}: cannot load the network")


def test_a_numpy_network_of_another_shape_is_refused_even_with_a_matching_checksum(network):
    with np.load(network / NETWORK_FILE) as stored:
        arrays = dict(stored)
    arrays["horizon_kernel"] = np.zeros((3, 6), dtype=np.float32)  # trained with 2 units
    del arrays["horizon_bias"]
    np.savez(network / NETWORK_FILE, **arrays)
    set_checksum(network, NETWORK_FILE)
    refused(network, f"{network / NETWORK_FILE}: cannot load the network", "missing horizon_bias")
    arrays["horizon_bias"] = np.zeros(6, dtype=np.float32)
    np.savez(network / NETWORK_FILE, **arrays)
    set_checksum(network, NETWORK_FILE)
    refused(network, "horizon_kernel has shape (3, 6), the network description needs (2, 6)")


def test_a_network_file_that_keras_cannot_read_is_refused_even_with_a_matching_checksum(network):
    """In a directory written before network.npz, where Keras loads model.keras."""
    without_numpy_network(network)
    (network / MODEL_FILE).write_bytes(b"PK\x03\x04 not really a zip")
    set_checksum(network, MODEL_FILE)
    refused(network, f"{network / MODEL_FILE}: cannot load the network")


def test_a_keras_file_holding_python_code_is_refused_without_running_it(network, tmp_path):
    """Keras safe mode: a Lambda layer's function is Python bytecode, run when it is loaded."""
    from forecaster.backend import load_keras

    keras = load_keras()
    marker = tmp_path / "code-ran"
    spec = json.loads((network / METADATA_FILE).read_text())["network"]
    inputs = keras.Input(shape=(spec["lookback"], spec["n_features"]))
    flat = keras.layers.Flatten()(inputs)
    # the same shapes as the real network, with a side effect that shows it ran (the path is
    # a constant of the code, as nothing else of the test's process is there when it loads)
    touch = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")
    outputs = keras.layers.Lambda(touch)(flat)
    outputs = keras.layers.Dense(spec["horizon"])(outputs)
    keras.Model(inputs, outputs).save(network / MODEL_FILE)
    assert marker.exists()  # building the model ran the function once
    marker.unlink()
    without_numpy_network(network)
    set_checksum(network, MODEL_FILE)
    refused(network, f"{network / MODEL_FILE}: cannot load the network (ValueError)")
    assert not marker.exists()
    # loaded as Keras would load it without safe mode, the code runs: the trap works
    keras.saving.load_model(network / MODEL_FILE, compile=False, safe_mode=False)
    assert marker.exists()


def without_numpy_network(model_dir: Path) -> None:
    """Make ``model_dir`` what training wrote before there was a network.npz."""
    (model_dir / NETWORK_FILE).unlink()

    def remove(metadata):
        del metadata["network_file"], metadata["files"][NETWORK_FILE]

    edit_metadata(model_dir, remove)


def test_a_network_directory_without_network_npz_is_loaded_by_keras_and_predicts_the_same(network, network_model):
    without_numpy_network(network)
    by_keras, by_numpy = load_artifact(network), load_artifact(network_model)
    assert isinstance(by_numpy.network, NumpyNetwork) and not isinstance(by_keras.network, NumpyNetwork)
    windows = np.random.default_rng(0).normal(size=(20, 24, by_keras.metadata["network"]["n_features"]))
    windows = windows.astype(np.float32)
    difference = by_keras.network.predict(windows, verbose=0) - by_numpy.network.predict(windows)
    assert np.max(np.abs(difference)) < 1e-4
    expected = run_cli("predict", "-m", network_model)
    result = run_cli("predict", "-m", network)
    assert result.exit_code == 0 == expected.exit_code, result.stderr + expected.stderr
    assert len(result.stdout.splitlines()) == len(expected.stdout.splitlines()) == 7


def test_a_network_from_before_ensembles_and_ema_still_loads_and_predicts_the_same(network, network_model):
    def remove(metadata):
        del metadata["network"]["ensemble"], metadata["train_options"]["ensemble"], metadata["train_options"]["ema"]

    edit_metadata(network, remove)
    old, new = load_artifact(network), load_artifact(network_model)
    assert isinstance(old.network, NumpyNetwork) and old.network.spec["ensemble"] == 1
    options = [TrainOptions.from_dict(artifact.metadata["train_options"]) for artifact in (old, new)]
    assert options[0] == options[1] and options[0].ensemble == 1 and not options[0].ema
    expected, result = run_cli("predict", "-m", network_model), run_cli("predict", "-m", network)
    assert result.exit_code == 0 == expected.exit_code, result.stderr + expected.stderr
    assert result.stdout == expected.stdout
    assert run_cli("info", "-m", network).exit_code == 0


def test_a_newer_schema_is_refused_with_the_version_it_needs(model):
    edit_metadata(model, lambda m: m.__setitem__("schema_version", SCHEMA_VERSION + 1))
    refused(model, f"schema version {SCHEMA_VERSION + 1} is newer", "upgrade forecaster",
            f"reads schema {SCHEMA_VERSION}")  # fmt: skip


@pytest.mark.parametrize("version", [0, "2", True, None])
def test_an_unknown_schema_is_refused(model, version):
    edit_metadata(model, lambda m: m.__setitem__("schema_version", version))
    refused(model, f"schema version {version!r} is not supported")


# --- paths in the metadata --------------------------------------------------------------------


@pytest.fixture
def outside(model) -> Path:
    """A valid linear model file outside the model directory."""
    target = model.parent / "outside.npz"
    shutil.copy(model / LINEAR_FILE, target)
    return target


@pytest.mark.parametrize("kind", ["../outside.npz", "absolute", "sub/linear.npz", "..", "", METADATA_FILE])
def test_model_file_cannot_point_outside_the_directory(model, outside, kind):
    name = str(outside) if kind == "absolute" else kind
    if kind == "sub/linear.npz":
        (model / "sub").mkdir()
        shutil.copy(model / LINEAR_FILE, model / "sub" / LINEAR_FILE)

    def point(metadata):
        metadata["model_file"] = name
        metadata["files"][name] = sha256(outside)

    edit_metadata(model, point)
    refused(model, f"model_file names {name!r}, which is not a file inside the model directory")


def test_a_checksummed_file_cannot_point_outside_the_directory(model, outside):
    edit_metadata(model, lambda m: m["files"].__setitem__("../outside.npz", sha256(outside)))
    refused(model, "files names '../outside.npz', which is not a file inside the model directory")


@pytest.mark.parametrize("where", ["outside", "inside"])
def test_a_symbolic_link_in_the_directory_is_not_followed(model, outside, where):
    (model / LINEAR_FILE).unlink()
    if where == "outside":
        (model / LINEAR_FILE).symlink_to(outside)
        expected = "which is not a file inside the model directory"
    else:
        shutil.move(outside, model / "real.npz")
        (model / LINEAR_FILE).symlink_to("real.npz")
        expected = f"{LINEAR_FILE}: unreadable (a symbolic link"
    refused(model, expected)


# --- nothing is unpickled ---------------------------------------------------------------------


class Trap:
    """Unpickling it creates a file: proof that something was unpickled."""

    marker: Path

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def object_array(marker: Path) -> np.ndarray:
    trap = Trap()
    trap.marker = marker
    array = np.empty(1, dtype=object)
    array[0] = trap
    return array


def test_history_holding_objects_is_refused_without_unpickling(model, tmp_path):
    marker = tmp_path / "unpickled"
    with np.load(model / HISTORY_FILE) as stored:
        arrays = dict(stored)
    arrays["values_0"] = object_array(marker)
    np.savez(model / HISTORY_FILE, **arrays)  # np.savez pickles object arrays
    set_checksum(model, HISTORY_FILE)

    artifact = load_artifact(model)  # the checked bytes; arrays are read when needed
    with pytest.raises(ArtifactError, match=rf"{HISTORY_FILE}: cannot read the stored training data .*pickle"):
        artifact.history()
    result = run_cli("detect-anomalies", "-m", model)  # uses the stored history
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert f"{HISTORY_FILE}: cannot read the stored training data" in result.stderr
    assert not marker.exists()


def test_a_linear_model_holding_objects_is_refused_without_unpickling(model, tmp_path):
    marker = tmp_path / "unpickled"
    with np.load(model / LINEAR_FILE) as stored:
        arrays = dict(stored)
    arrays["coef"] = object_array(marker)
    np.savez(model / LINEAR_FILE, **arrays)
    set_checksum(model, LINEAR_FILE)
    refused(model, f"{LINEAR_FILE}: cannot load the linear model", "pickle")
    assert not marker.exists()


def test_a_numpy_network_holding_objects_is_refused_without_unpickling(network, tmp_path):
    marker = tmp_path / "unpickled"
    with np.load(network / NETWORK_FILE) as stored:
        arrays = dict(stored)
    arrays["horizon_bias"] = object_array(marker)
    np.savez(network / NETWORK_FILE, **arrays)
    set_checksum(network, NETWORK_FILE)
    refused(network, f"{NETWORK_FILE}: cannot load the network", "pickle")
    assert not marker.exists()


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda m: m.__setitem__("anomaly_threshold", "high"), "'anomaly_threshold' must be a number, not 'high'"),
    (lambda m: m.pop("intervals"), "'intervals' must be a table, not missing"),
    (lambda m: m["intervals"].__setitem__("n", 2.5), "'intervals.n' must be a whole number, not 2.5"),
    (lambda m: m["network"].__setitem__("lookback", "24"), "'network.lookback' must be a whole number, not '24'"),
    (lambda m: m["series"][0].__setitem__("freq", 5), "'series[0].freq' must be a text, not 5"),
    (lambda m: m["series"][0].__setitem__("residual_scale", True), "'series[0].residual_scale' must be a number"),
    (lambda m: m.__setitem__("anomaly_threshold", -1), "'anomaly_threshold' must be 0 or more, not -1"),
    (lambda m: m["series"][0]["scaler"].__setitem__("log_target", "false"),
     "'series[0].scaler.log_target' must be true or false, not 'false'"),
    (lambda m: m["series"][0].__setitem__("floor", "0"), "'series[0].floor' must be a number, not '0'"),
    (lambda m: m["network"].__setitem__("horizon", 48), "'intervals.abs_quantiles' has 6 rows for a horizon of 48"),
    (lambda m: m["series"][0]["scaler"].__setitem__("mean", "x"), "'series[0].scaler.mean' must be a number"),
    (lambda m: m["series"][0].__setitem__("last_values", [["a"]]), "'series[0].last_values' must hold numbers"),
    # from QA round 4: each was an "unexpected" error deep in a command
    (lambda m: m["series"][0].__setitem__("end", "not a date"), "'series[0].end' must be a time, not 'not a date'"),
    (lambda m: m["series"][0].__setitem__("freq", "bogus"), "'series[0].freq' must be a frequency such as h"),
    (lambda m: m["series"][0].__setitem__("last_values", []), "'series[0].last_values' holds 0 rows, fewer than"),
    (lambda m: m["series"][0].__setitem__("scaler", {}), "'series[0].scaler' must hold 'mean' and 'scale'"),
    (lambda m: m.pop("forecaster_version"), "'forecaster_version' must be a text, not missing"),
    (lambda m: m["intervals"].__setitem__("abs_quantiles", [["x"]] * 6), "'intervals.abs_quantiles' must hold lists"),
    (lambda m: m["series"][0].__setitem__("anomaly", {}), "'series[0].anomaly' must hold the numbers 'centre'"),
    (lambda m: m["data_options"].pop("targets"), "'data_options.targets' must be a list of column names"),
], ids=["threshold", "no intervals", "fractional n", "lookback text", "freq number", "scale boolean",
        "negative threshold", "log_target text", "floor text", "horizon", "scaler mean", "last values", "end",
        "freq alias", "no last values", "empty scaler", "no version", "quantile text", "empty anomaly", "no targets"])
def test_a_hand_edited_metadata_is_refused_naming_the_field(model, edit, fragment):
    """metadata.json holds the checksums, so no checksum covers it: an edit surfaced as a
    traceback in info or an "unexpected" error in detect-anomalies."""
    edit_metadata(model, edit)
    refused(model, fragment, "edited or damaged")
    for command in (["info"], ["info", "--json"], ["detect-anomalies"]):
        result = run_cli(*command, "-m", model, "-q")
        assert result.exit_code == 1 and result.stderr.count("\n") == 1 and fragment in result.stderr
        assert "Traceback" not in result.stderr and "unexpected" not in result.stderr


def test_data_options_edited_into_a_conflict_are_the_model_s_fault_not_the_command_line_s(model):
    edit_metadata(model, lambda m: m["data_options"].__setitem__("targets", m["data_options"]["covariates"]))
    result = run_cli("predict", HOURLY, "-m", model)
    assert result.exit_code == 1, result.stderr
    assert "'data_options' give no target or a column two roles; the metadata was edited" in result.stderr
    assert "--target" not in result.stderr


def test_the_trap_works(tmp_path):
    """The two tests above would see an unpickling."""
    marker = tmp_path / "unpickled"
    np.savez(tmp_path / "x.npz", a=object_array(marker))
    with np.load(tmp_path / "x.npz", allow_pickle=True) as stored:
        stored["a"]
    assert marker.exists()


# --- schema 1: written before checksums -------------------------------------------------------


def to_schema_1(model_dir: Path) -> None:
    def downgrade(metadata):
        metadata["schema_version"] = 1
        del metadata["files"], metadata["versions"]

    edit_metadata(model_dir, downgrade)


def test_a_schema_1_model_is_migrated_it_loads_and_predicts_as_before(model, linear_model):
    to_schema_1(model)
    expected = run_cli("predict", "-m", linear_model)
    assert expected.exit_code == 0, expected.stderr
    result = run_cli("predict", "-m", model)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == expected.stdout
    assert load_artifact(model).metadata["schema_version"] == 1


def test_a_schema_1_model_still_gets_every_other_check(model, outside):
    to_schema_1(model)
    truncate(model / LINEAR_FILE)  # no checksum to catch it: the loader does
    refused(model, f"{LINEAR_FILE}: cannot load the linear model")
    edit_metadata(model, lambda m: m.__setitem__("model_file", "../outside.npz"))
    refused(model, "model_file names '../outside.npz'")


def test_retraining_a_schema_1_directory_writes_the_current_schema(model):
    to_schema_1(model)
    train(HOURLY, HOURLY_OPTIONS, TrainOptions(model="naive", lookback=24, horizon=6, seed=0), model)
    metadata = read_metadata(model)
    assert metadata["schema_version"] == SCHEMA_VERSION and set(metadata["files"]) == {HISTORY_FILE}


# --- replacing a model ------------------------------------------------------------------------


def test_train_refuses_to_replace_a_directory_whose_metadata_is_not_ours(tmp_path):
    foreign = tmp_path / "model"
    foreign.mkdir()
    (foreign / METADATA_FILE).write_text('{"name": "resnet"}')
    (foreign / "weights.bin").write_bytes(b"precious")
    with pytest.raises(ArtifactError, match=f"{foreign} exists and its {METADATA_FILE} is not forecaster's"):
        train(HOURLY, HOURLY_OPTIONS, TrainOptions(model="naive"), foreign)
    assert (foreign / "weights.bin").read_bytes() == b"precious"


@pytest.mark.parametrize("damage", [b"", b'{"schema_version": 4, "forecaster_ver'])
def test_train_replaces_a_model_whose_metadata_was_cut_short_as_predict_asks(model, damage):
    # a model copied onto a full disk: predict says to retrain, which must then work
    (model / METADATA_FILE).write_bytes(damage)
    with pytest.raises(ArtifactError, match="retrain the model"):
        load_artifact(model)
    train(HOURLY, HOURLY_OPTIONS, TrainOptions(model="naive", lookback=24, horizon=6, seed=0), model)
    assert read_metadata(model)["schema_version"] == SCHEMA_VERSION
    # a directory of someone else's with a file of that name is still refused
    foreign = model.parent / "foreign"
    foreign.mkdir()
    (foreign / METADATA_FILE).write_bytes(damage)
    (foreign / "weights.bin").write_bytes(b"precious")
    with pytest.raises(ArtifactError, match="is not forecaster's"):
        train(HOURLY, HOURLY_OPTIONS, TrainOptions(model="naive"), foreign)


def test_replacing_a_model_of_a_newer_forecaster_is_said(model):
    # a cron job downgraded by mistake: the newer model is replaced, but not without a word
    metadata = json.loads((model / METADATA_FILE).read_text())
    metadata["schema_version"], metadata["forecaster_version"] = SCHEMA_VERSION + 1, "9.9.0"
    (model / METADATA_FILE).write_text(json.dumps(metadata))
    messages = io.StringIO()
    train(HOURLY, HOURLY_OPTIONS, TrainOptions(model="naive", lookback=24, horizon=6, seed=0), model,
          Reporter(file=messages))
    assert (f"replacing the model in {model}, written by forecaster 9.9.0 (model schema {SCHEMA_VERSION + 1}), with "
            f"one of this older version") in " ".join(messages.getvalue().split())
    assert read_metadata(model)["schema_version"] == SCHEMA_VERSION
    messages = io.StringIO()
    train(HOURLY, HOURLY_OPTIONS, TrainOptions(model="naive", lookback=24, horizon=6, seed=0), model,
          Reporter(file=messages))
    assert "replacing" not in messages.getvalue()


def test_a_swap_cut_between_its_two_renames_is_undone_by_the_next_train(model):
    """SIGKILL after the old directory was renamed away and before the new one was renamed in:
    no model at its place. The next writer (holding the lock) puts the previous one back."""
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    retired = model.parent / f".model.old-{'a1b2c3d4'}"
    staging = model.parent / f".model.tmp-{'0f0f0f0f'}"
    os.replace(model, retired)
    shutil.copytree(retired, staging)
    (staging / LINEAR_FILE).write_bytes(b"half")
    assert set(leftovers(model)) == {retired, staging}

    clean_leftovers(model)

    assert {p.name: p.read_bytes() for p in model.iterdir()} == before
    assert leftovers(model) == []
    load_artifact(model)


def test_through_a_link_the_leftovers_beside_its_target_are_cleaned_and_a_cut_swap_undone(model):
    """``-m current`` linking to ``models/2024-06``: save_artifact stages and retires beside the
    target, so that is where the leftovers of a killed run are; they were looked for beside
    the link, and each killed run left a model-sized directory for good."""
    link = model.parent / "current"
    link.symlink_to(model.name)
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    staging = model.parent / ".model.tmp-0f0f0f0f"
    shutil.copytree(model, staging)
    assert leftovers(link) == [staging]
    clean_leftovers(link)
    assert not staging.exists() and link.is_symlink()
    retired = model.parent / ".model.old-a1b2c3d4"
    os.replace(model, retired)  # killed between the two renames: the link dangles
    clean_leftovers(link)
    assert {p.name: p.read_bytes() for p in link.iterdir()} == before and link.is_symlink()
    load_artifact(link)


def test_a_model_without_its_metadata_is_named_damaged_and_replaced_by_train(model, tmp_path):
    (model / METADATA_FILE).unlink()  # a copy cut short, or a hand deleting the wrong file
    with pytest.raises(ArtifactError, match=r"no metadata.json beside the model's other files \(deleted, or a copy "
                                            r"cut short\); retrain the model"):
        load_artifact(model)
    assert check_replaceable(model) == model
    train(HOURLY, HOURLY_OPTIONS, TrainOptions(model="naive", lookback=24, horizon=6, seed=0), model)
    load_artifact(model)
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(ArtifactError, match="is not a forecaster model directory"):
        check_replaceable(foreign)


def test_leftovers_of_another_model_directory_are_not_touched(model):
    other = [model.parent / ".model.tmp-foo.tmp-12345678", model.parent / ".model2.old-12345678"]
    for path in other:
        path.mkdir()
    mine = model.parent / ".model.old-12345678"
    mine.mkdir()
    clean_leftovers(model)
    assert not mine.exists() and all(path.exists() for path in other)


def small_linear(coef_value: float) -> LinearAutoregression:
    return LinearAutoregression(3, 2, np.full((3, 2), coef_value), np.zeros(2), 1.0)


def small_metadata(tag: int) -> dict:
    """The least a model's metadata must hold to be read."""
    series = {"name": "a", "freq": "h", "end": "2024-01-01T00:00:00", "n_steps": 2000,
              "scaler": {"mean": 0.0, "scale": 1.0}, "residual_scale": 1.0, "anomaly": {"centre": 0.0, "spread": 1.0},
              "last_values": [[0.0]] * 3, "metrics": {}}
    return {"tag": tag, "forecaster_version": "0", "network": {"model": "linear", "lookback": 3, "horizon": 2},
            "model_file": LINEAR_FILE, "series": [series], "anomaly_threshold": 2.0,
            "intervals": {"n": 1, "abs_quantiles": [[0.0], [0.0]]}, "data_options": {"targets": ["a"]},
            "train_options": {}, "metrics": {}, "training": {}}  # fmt: skip


def test_a_reader_gets_the_old_or_the_new_model_never_a_mix(tmp_path):
    """A writer swaps two models in turn while a reader loads: every load is one of them whole."""
    target = tmp_path / "model"
    history = [{"values": np.arange(2000.0)[:, None], "missing": np.zeros(2000, dtype=bool)}]
    save_artifact(target, small_linear(0.0), small_metadata(0), history, LINEAR_FILE)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer():
        try:
            tag = 0
            while not stop.is_set():
                tag = 1 - tag
                save_artifact(target, small_linear(float(tag)), small_metadata(tag), history, LINEAR_FILE)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    seen = set()
    loads = 0
    try:
        while loads < 300 or (seen != {0, 1} and loads < 5000):
            loads += 1
            artifact = load_artifact(target)
            tag = artifact.metadata["tag"]
            assert np.all(artifact.network.coef == tag), "metadata of one model, weights of the other"
            assert len(artifact.history()[0]["values"]) == 2000
            seen.add(tag)
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert seen == {0, 1}  # the models were really swapped under the reader
    assert leftovers(target) == []


def test_the_current_directory_is_refused_as_the_model_directory_to_write(model, monkeypatch):
    """``cd model && forecaster train ... -m .`` trained for nothing: the swap could not rename
    the directory the process stood in ('Device or resource busy')."""
    monkeypatch.chdir(model)
    for given in (".", str(model), ".."):
        with pytest.raises(ArtifactError, match=rf"--model-dir '{re.escape(given)}' is the current directory or holds "
                                                "it, and train replaces it whole; run train from outside it"):
            check_replaceable(given)
    load_artifact(".")  # reading it from there is fine


def test_a_model_with_fields_edited_away_is_still_one_train_replaces_and_info_describes(model):
    edit_metadata(model, lambda m: m.pop("forecaster_version"))
    assert check_replaceable(model) == model  # "its metadata.json is not forecaster's" blocked the retraining
    edit_metadata(model, lambda m: (m.__setitem__("forecaster_version", "0.1"), m.__setitem__("train_options", {})))
    described = run_cli("info", "-m", model)
    assert described.exit_code == 0, described.stderr
    assert "linear model" in described.stdout


def test_a_model_left_retired_by_a_killed_swap_is_named_where_the_model_is_missing(model):
    retired = model.parent / ".model.old-a1b2c3d4"
    os.replace(model, retired)
    with pytest.raises(ArtifactError, match=r"model directory '.*model' not found, but the previous model is at "
                                            r"'.*\.model\.old-a1b2c3d4' \(a train was killed while swapping in the new "
                                            r"one\): run train into '.*model' again, which puts it back first"):
        load_artifact(model)
