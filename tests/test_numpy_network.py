"""The NumPy network computes what Keras computes, and predict / detect-anomalies run it without
importing TensorFlow."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster.artifacts import HISTORY_FILE, METADATA_FILE, MODEL_FILE, NETWORK_FILE, load_artifact
from forecaster.data import DataOptions
from forecaster.models import NetworkSpec, build_network
from forecaster.numpy_network import PARITY_TOLERANCE, NumpyNetwork, weight_shapes
from forecaster.report import Reporter
from forecaster.scaling import SeriesScaler
from forecaster.training import TrainOptions, train

from .conftest import HOURLY, run_cli

ROOT = Path(__file__).resolve().parent.parent
LOOKBACK, HORIZON, N_FEATURES, UNITS = 7, 4, 3, 5


def random_network(spec: NetworkSpec, seed: int = 0):
    """A Keras network of ``spec`` with every weight, biases included, random and non-zero:
    with zero biases (Keras' start) a mix-up of gates or bias rows would go unnoticed."""
    rng = np.random.default_rng(seed)
    network = build_network(spec, seed=seed)
    weights = []
    for w in network.get_weights():
        values = rng.normal(0.0, 0.5, w.shape)
        values[np.abs(values) < 0.05] = 0.05
        weights.append(values.astype(np.float32))
    network.set_weights(weights)
    return network


def random_windows(n: int = 64, seed: int = 1) -> np.ndarray:
    """`(n, lookback, n_features)`, large enough for the gates to saturate at times."""
    return np.random.default_rng(seed).normal(0.0, 2.0, (n, LOOKBACK, N_FEATURES)).astype(np.float32)


def spec_of(cell: str, layers: int, bidirectional: bool, linear_skip: bool, ensemble: int = 1,
            segment: int = 1) -> NetworkSpec:
    return NetworkSpec(lookback=LOOKBACK, horizon=HORIZON, n_features=N_FEATURES, cell=cell, layers=layers,
                       units=UNITS, bidirectional=bidirectional, linear_skip=linear_skip,
                       ensemble=ensemble, segment=segment)  # fmt: skip


@pytest.mark.parametrize("linear_skip", [False, True], ids=["no_skip", "skip"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_numpy_outputs_equal_keras_outputs(cell, layers, bidirectional, linear_skip, tmp_path):
    assert_parity(spec_of(cell, layers, bidirectional, linear_skip), tmp_path)


@pytest.mark.parametrize(("cell", "layers", "bidirectional", "linear_skip"), [
    ("lstm", 1, False, True), ("lstm", 2, True, True), ("gru", 2, True, True), ("gru", 1, False, False),
    ("rnn", 2, False, True),
])  # fmt: skip
def test_numpy_outputs_of_an_ensemble_equal_keras_outputs(cell, layers, bidirectional, linear_skip, tmp_path):
    assert_parity(spec_of(cell, layers, bidirectional, linear_skip, ensemble=2), tmp_path)


@pytest.mark.parametrize(("cell", "layers", "bidirectional", "ensemble", "segment"), [
    ("lstm", 1, False, 1, 3), ("lstm", 2, True, 2, 3), ("gru", 1, False, 1, 7), ("rnn", 1, True, 1, 2),
])  # fmt: skip
def test_numpy_outputs_of_a_segmented_network_equal_keras_outputs(cell, layers, bidirectional, ensemble, segment,
                                                                   tmp_path):
    # lookback 7 in segments of 3 or 2: the oldest step is left out, as Keras crops it
    assert_parity(spec_of(cell, layers, bidirectional, True, ensemble=ensemble, segment=segment), tmp_path)


def test_a_segmented_network_reads_only_its_segments_and_the_skip_the_whole_window():
    spec = spec_of("lstm", 1, False, False, segment=3)
    network = random_network(spec)
    copy = NumpyNetwork.from_keras(network, spec)
    windows = random_windows()
    changed = windows.copy()
    changed[:, 0] += 5.0  # the step before the last two segments of three
    np.testing.assert_array_equal(copy.predict(changed), copy.predict(windows))
    changed[:, 1] += 5.0
    assert np.max(np.abs(copy.predict(changed) - copy.predict(windows))) > 0.01
    with_skip = spec_of("lstm", 1, False, True, segment=3)
    skipped = NumpyNetwork.from_keras(random_network(with_skip), with_skip)
    changed = windows.copy()
    changed[:, 0] += 5.0
    assert np.max(np.abs(skipped.predict(changed) - skipped.predict(windows))) > 0.01


def test_a_segment_longer_than_the_lookback_is_refused():
    from forecaster.errors import ConfigError

    with pytest.raises(ConfigError, match="--segment"):
        spec_of("lstm", 1, False, True, segment=LOOKBACK + 1)
    with pytest.raises(ValueError, match="segment"):
        NumpyNetwork({**spec_of("lstm", 1, False, True).to_dict(), "segment": LOOKBACK + 1}, {})


def assert_parity(spec: NetworkSpec, tmp_path: Path) -> None:
    """The NumPy copy of a random Keras network of ``spec``, and that copy saved and loaded,
    predict what Keras predicts."""
    network = random_network(spec)
    windows = random_windows()
    expected = network.predict(windows, verbose=0)

    copy = NumpyNetwork.from_keras(network, spec)
    copy.save(tmp_path / NETWORK_FILE)
    loaded = NumpyNetwork.load(tmp_path / NETWORK_FILE, json.loads(json.dumps(spec.to_dict())))

    for predictor in (copy, loaded):
        predicted = predictor.predict(windows)
        assert predicted.shape == (len(windows), HORIZON) and predicted.dtype == np.float32
        assert np.max(np.abs(predicted - expected)) < PARITY_TOLERANCE
    assert np.std(expected) > 0.1  # the comparison is not between two near-constant outputs
    assert copy.difference_from(network, windows) < PARITY_TOLERANCE


def test_an_ensemble_prefixes_its_members_names_and_a_single_network_keeps_the_old_ones():
    single = weight_shapes(spec_of("lstm", 2, True, True))
    assert {"layer1_forward_kernel", "layer2_backward_bias", "horizon_kernel", "linear_skip_kernel"} <= set(single)
    skip = {name: shape for name, shape in single.items() if name.startswith("linear_skip")}
    members = {f"member{m}_{name}": shape for m in (1, 2) for name, shape in single.items() if name not in skip}
    assert weight_shapes(spec_of("lstm", 2, True, True, ensemble=2)) == {**members, **skip}


def test_the_parity_check_sees_a_gate_mix_up():
    """Swapping the LSTM's input and forget gate blocks changes the outputs well beyond the
    tolerance, so the comparison above would catch a wrong gate order."""
    spec = spec_of("lstm", 1, False, False)
    network = random_network(spec)
    weights = dict(NumpyNetwork.from_keras(network, spec).weights)
    for name in ("layer1_forward_kernel", "layer1_forward_recurrent_kernel", "layer1_forward_bias"):
        w = weights[name].copy()
        w[..., :UNITS], w[..., UNITS : 2 * UNITS] = w[..., UNITS : 2 * UNITS].copy(), w[..., :UNITS].copy()
        weights[name] = w
    assert NumpyNetwork(spec, weights).difference_from(network, random_windows()) > 100 * PARITY_TOLERANCE


def test_windows_are_predicted_in_chunks_with_the_same_result():
    spec = spec_of("gru", 2, True, True)
    copy = NumpyNetwork.from_keras(random_network(spec), spec)
    windows = random_windows(300)  # more than are predicted at once without threads
    whole = copy.predict(windows)
    # the same up to float32 rounding: BLAS may sum in another order for another batch size
    np.testing.assert_allclose(copy.predict(windows, batch_size=7), whole, rtol=0, atol=1e-5)
    np.testing.assert_allclose(copy.predict(windows[:1]), whole[:1], rtol=0, atol=1e-5)
    np.testing.assert_allclose(copy.predict(windows[:64]), whole[:64], rtol=0, atol=1e-5)
    assert copy.predict(windows[:0]).shape == (0, HORIZON)


def test_weights_that_do_not_fit_the_description_are_refused(tmp_path):
    spec = spec_of("lstm", 2, True, True)
    copy = NumpyNetwork.from_keras(random_network(spec), spec)
    file = tmp_path / NETWORK_FILE
    copy.save(file)
    with np.load(file) as stored:
        assert set(stored.files) == set(weight_shapes(spec))

    needs = r"layer1_forward_kernel has shape \(3, 20\), the network description needs \(3, 32\)"
    with pytest.raises(ValueError, match=needs):
        NumpyNetwork.load(file, dict(spec.to_dict(), units=8))
    with pytest.raises(ValueError, match="missing layer2_backward_bias"):
        NumpyNetwork(spec, {k: v for k, v in copy.weights.items() if k != "layer2_backward_bias"})
    with pytest.raises(ValueError, match="unexpected layer3_forward_kernel"):
        NumpyNetwork(spec, {**copy.weights, "layer3_forward_kernel": np.zeros((10, 20), np.float32)})
    with pytest.raises(ValueError, match="the network description lacks units"):
        NumpyNetwork.load(file, {k: v for k, v in spec.to_dict().items() if k != "units"})
    with pytest.raises(ValueError, match="cell must be one of lstm, gru, rnn, got 'transformer'"):
        NumpyNetwork.load(file, dict(spec.to_dict(), cell="transformer"))
    # a description written before ensembles has no ensemble: it is a single network
    before = NumpyNetwork.load(file, {k: v for k, v in spec.to_dict().items() if k != "ensemble"})
    assert before.spec["ensemble"] == 1
    np.testing.assert_array_equal(before.predict(random_windows(4)), copy.predict(random_windows(4)))
    with pytest.raises(ValueError, match="missing member1_horizon_bias"):
        NumpyNetwork.load(file, dict(spec.to_dict(), ensemble=2))
    with pytest.raises(ValueError, match="ensemble must be a positive integer, got 0"):
        NumpyNetwork.load(file, dict(spec.to_dict(), ensemble=0))
    with pytest.raises(ValueError, match=r"windows must be \(n_windows, 7, 3\), got \(2, 6, 3\)"):
        copy.predict(np.zeros((2, 6, 3), np.float32))


# --- end to end: train, then predict and detect-anomalies in a fresh process ------------------

#: Runs the CLI, then fails (exit 99) if TensorFlow or Keras was imported along the way.
NO_TENSORFLOW = """
import sys
from forecaster.cli import main
sys.argv = ["forecaster", *sys.argv[1:]]
try:
    main()
    code = 0
except SystemExit as stop:
    code = stop.code
imported = [name for name in ("tensorflow", "keras") if name in sys.modules]
if imported:
    sys.stderr.write("imported " + ", ".join(imported) + "\\n")
    sys.exit(99)
sys.exit(code)
"""


def run_fresh(*args: object) -> subprocess.CompletedProcess:
    """The CLI in a new Python process that imports this checkout's forecaster."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", NO_TENSORFLOW, *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny real network: two bidirectional GRU layers (the most parts to get wrong)."""
    model_dir = tmp_path_factory.mktemp("numpy") / "model"
    result = run_cli(
        "train", HOURLY, "--target", "load", "--covariate", "temperature", "-m", model_dir, "--cell", "gru",
        "--layers", 2, "--bidirectional", "--units", 4, "--epochs", 2, "--lookback", 24, "--horizon", 6,
        "--seed", 0, "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return model_dir


def as_keras_only(model_dir: Path, target: Path) -> Path:
    """A copy of ``model_dir`` as training wrote it before ``network.npz`` existed."""
    shutil.copytree(model_dir, target)
    (target / NETWORK_FILE).unlink()
    metadata = json.loads((target / METADATA_FILE).read_text())
    del metadata["network_file"], metadata["files"][NETWORK_FILE]
    (target / METADATA_FILE).write_text(json.dumps(metadata))
    return target


def test_training_writes_the_numpy_network_beside_the_keras_file(trained):
    metadata = json.loads((trained / METADATA_FILE).read_text())
    assert metadata["network_file"] == NETWORK_FILE
    assert set(metadata["files"]) == {MODEL_FILE, NETWORK_FILE, HISTORY_FILE}
    artifact = load_artifact(trained)
    assert isinstance(artifact.network, NumpyNetwork)
    with np.load(io.BytesIO((trained / NETWORK_FILE).read_bytes()), allow_pickle=False) as stored:
        assert set(stored.files) == set(weight_shapes(metadata["network"]))


def test_predict_and_detect_anomalies_run_without_tensorflow_and_agree_with_keras(trained, tmp_path):
    keras_only = as_keras_only(trained, tmp_path / "keras-only")
    scaler = SeriesScaler.from_dict(json.loads((trained / METADATA_FILE).read_text())["series"][0]["scaler"])

    def difference(ours: pd.Series, theirs: pd.Series) -> float:
        """In the model's scaled units, where the tolerance is (the log of the data's, if chosen)."""
        return float(np.max(np.abs(scaler.target_to_scaled(ours) - scaler.target_to_scaled(theirs))))

    fresh = run_fresh("predict", "-m", trained)
    assert fresh.returncode == 0, fresh.stderr
    # the check can fail: a directory without network.npz is predicted by Keras, with TensorFlow
    by_keras = run_fresh("predict", "-m", keras_only)
    assert by_keras.returncode == 99 and by_keras.stderr.endswith("imported tensorflow, keras\n"), by_keras.stderr
    ours, theirs = pd.read_csv(io.StringIO(fresh.stdout)), pd.read_csv(io.StringIO(by_keras.stdout))
    assert len(ours) == 6 and list(ours.columns) == list(theirs.columns)
    assert (ours[["series", "timestamp", "step"]] == theirs[["series", "timestamp", "step"]]).all().all()
    for column in ("forecast", "lower", "upper"):
        assert difference(ours[column], theirs[column]) < PARITY_TOLERANCE

    fresh = run_fresh("detect-anomalies", "-m", trained)
    assert fresh.returncode == 0, fresh.stderr
    by_keras = run_cli("detect-anomalies", "-m", keras_only)
    assert by_keras.exit_code == 0, by_keras.stderr
    ours, theirs = pd.read_csv(io.StringIO(fresh.stdout)), pd.read_csv(io.StringIO(by_keras.stdout))
    assert len(ours) == len(theirs) > 1000
    assert difference(ours["expected"], theirs["expected"]) < PARITY_TOLERANCE
    assert (ours["is_anomaly"] == theirs["is_anomaly"]).all()


def test_a_directory_written_before_network_npz_still_loads_through_keras(trained, tmp_path):
    keras_only = as_keras_only(trained, tmp_path / "keras-only")
    artifact = load_artifact(keras_only)
    assert not isinstance(artifact.network, NumpyNetwork)
    assert type(artifact.network).__module__.startswith("keras")
    n_features = artifact.metadata["network"]["n_features"]
    windows = np.random.default_rng(3).normal(size=(8, 24, n_features)).astype(np.float32)
    by_keras = artifact.network.predict(windows, verbose=0)
    assert np.max(np.abs(load_artifact(trained).network.predict(windows) - by_keras)) < PARITY_TOLERANCE


def test_training_falls_back_to_keras_only_when_the_numpy_copy_disagrees(tmp_path, monkeypatch):
    """Should a Keras version lay its weights out otherwise, the model is still saved, loads
    through Keras, and the user hears of it. (No tolerance is met: -1 stands for a mismatch.)"""
    import forecaster.numpy_network

    monkeypatch.setattr(forecaster.numpy_network, "PARITY_TOLERANCE", -1.0)
    stream = io.StringIO()
    model_dir = tmp_path / "model"
    options = TrainOptions(model="network", units=2, epochs=1, lookback=24, horizon=6, seed=0)
    train(HOURLY, DataOptions(targets=("load",)), options, model_dir, reporter=Reporter(file=stream))
    assert "the NumPy copy of the network differs from Keras" in stream.getvalue()
    metadata = json.loads((model_dir / METADATA_FILE).read_text())
    assert "network_file" not in metadata and set(metadata["files"]) == {MODEL_FILE, HISTORY_FILE}
    assert not (model_dir / NETWORK_FILE).exists()
    assert not isinstance(load_artifact(model_dir).network, NumpyNetwork)
