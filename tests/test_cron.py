"""What a cron job relies on: exit codes, JSON logs, --verbose, --last / --fail-on-anomaly,
and the same bytes from the same seed in separate processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest

from .conftest import read_metadata, run_cli
from .test_cli import TINY, small_hourly_csv


def json_events(stderr: str) -> list[dict]:
    """Every stderr line as a JSON object; fails the test on any line that is not one."""
    events = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    for event in events:
        assert {"time", "event"} <= set(event)
    return events


def with_spike(path, at: int, size: float = 200.0):
    frame = pd.read_csv(path)
    frame.loc[at, "load"] += size
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny network on two series (load, temperature) and its data; a copy of the data has
    a spike in its last day."""
    folder = tmp_path_factory.mktemp("cron")
    data = small_hourly_csv(folder / "data.csv", days=14)
    model_dir = folder / "model"
    result = run_cli("train", data, "-m", model_dir, "--seed", 3, "--log-format", "json", *TINY)
    assert result.exit_code == 0, result.stderr
    spiked = with_spike(small_hourly_csv(folder / "spiked.csv", days=14), at=24 * 14 - 5)
    return data, spiked, model_dir, result


def test_json_log_has_start_epochs_and_finish_with_counts(trained):
    _, _, _, result = trained
    events = json_events(result.stderr)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and events[0]["command"] == "train"
    assert kinds[-1] == "finish"
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert all(isinstance(e["loss"], float) and isinstance(e["val_loss"], float) for e in epochs)
    finish = events[-1]
    assert finish["seconds"] > 0 and finish["series"] == 2 and finish["epochs"] == 2 and finish["seed"] == 3
    assert finish["train_windows"] > 0 and finish["validation_windows"] > 0
    tables = [e for e in events if e["event"] == "table"]
    assert tables and all(isinstance(row, dict) for row in tables[0]["rows"])


def finish_event(command: str, *args) -> dict:
    """Run ``command`` with JSON logs; check it starts and finishes with a duration; its finish event."""
    result = run_cli(command, *args, "--log-format", "json")
    assert result.exit_code == 0, result.stderr
    events = json_events(result.stderr)
    assert events[0]["event"] == "start" and events[0]["command"] == command
    finish = events[-1]
    assert finish["event"] == "finish" and finish["command"] == command
    assert isinstance(finish["seconds"], float) and finish["seconds"] > 0
    return finish


def test_json_log_finish_of_predict_counts_the_rows_and_series_written(tmp_path, trained):
    data, _, model_dir, _ = trained
    output = tmp_path / "forecast.csv"
    finish = finish_event("predict", data, "-m", model_dir, "-o", output)
    written = pd.read_csv(output)
    # the counts are those of the file, not of what was planned: 2 series, 6 steps each (TINY)
    assert finish["rows"] == len(written) == 12
    assert finish["series"] == written["series"].nunique() == 2
    assert finish["output"] == str(output)


def test_json_log_finish_of_detect_anomalies_counts_the_points_scored_and_flagged(tmp_path, trained):
    _, spiked, model_dir, _ = trained
    output = tmp_path / "flags.csv"
    finish = finish_event("detect-anomalies", spiked, "-m", model_dir, "-o", output, "--last", 24)
    written = pd.read_csv(output)
    # --last 24: the counts are of the points written, 24 of each series, not of all scored
    assert finish["scored"] == written["score"].notna().sum() == 48
    assert finish["flagged"] == written["is_anomaly"].sum() >= 1  # the spike
    assert finish["threshold"] == read_metadata(model_dir)["anomaly_threshold"]
    assert finish["output"] == str(output)


def test_json_log_reports_warnings_and_errors_as_events(tmp_path, trained):
    _, _, model_dir, _ = trained
    gappy = tmp_path / "gappy.csv"
    frame = pd.read_csv(small_hourly_csv(tmp_path / "data.csv", days=14)).drop(index=[100, 101])
    frame.to_csv(gappy, index=False)
    result = run_cli("predict", gappy, "-m", model_dir, "-o", tmp_path / "out.csv", "--log-format", "json")
    assert result.exit_code == 0, result.stderr
    warnings = [e for e in json_events(result.stderr) if e["event"] == "warning"]
    assert warnings and "2" in warnings[0]["message"]

    bad = tmp_path / "bad.csv"
    frame = pd.read_csv(small_hourly_csv(tmp_path / "data.csv", days=14)).astype({"load": object})
    frame.loc[50, "load"] = "oops"
    frame.to_csv(bad, index=False)
    result = run_cli("predict", bad, "-m", model_dir, "--log-format", "json", "--quiet")
    assert result.exit_code == 1
    (event,) = json_events(result.stderr)  # quiet: nothing but the error
    assert event["event"] == "error" and event["exit_code"] == 1 and "bad.csv" in event["message"]
    assert event["command"] == "predict"  # as the start and finish events name it


def test_a_run_leaves_the_callers_warning_settings_alone(tmp_path, trained):
    import warnings

    _, _, model_dir, _ = trained
    before = (warnings.showwarning, list(warnings.filters))
    assert run_cli("predict", "-m", model_dir, "-o", tmp_path / "a.csv", "--log-format", "json").exit_code == 0
    assert run_cli("predict", "-m", model_dir, "-o", tmp_path / "b.csv", "-q").exit_code == 0
    assert (warnings.showwarning, list(warnings.filters)) == before


def test_verbose_adds_detail_and_quiet_silences_it(tmp_path, trained):
    _, _, model_dir, _ = trained
    plain = run_cli("predict", "-m", model_dir, "-o", tmp_path / "a.csv")
    verbose = run_cli("predict", "-m", model_dir, "-o", tmp_path / "b.csv", "-v")
    quiet = run_cli("predict", "-m", model_dir, "-o", tmp_path / "c.csv", "-v", "-q")
    assert plain.exit_code == verbose.exit_code == quiet.exit_code == 0
    assert str(model_dir) in verbose.stderr and "trained" in verbose.stderr
    assert "trained" not in plain.stderr
    assert quiet.stderr == ""


def test_exit_codes(tmp_path, trained):
    data, spiked, model_dir, _ = trained
    assert run_cli("detect-anomalies", data, "-m", model_dir, "--last", 24, "--fail-on-anomaly", "-q").exit_code == 0
    flagged = run_cli("detect-anomalies", spiked, "-m", model_dir, "--last", 24, "--fail-on-anomaly",
                      "-o", tmp_path / "flags.csv")
    assert flagged.exit_code == 3, flagged.stderr
    assert "Anomalies:" in flagged.stderr and "Error" not in flagged.stderr
    # the line cron mails names what was flagged, and when
    written = pd.read_csv(tmp_path / "flags.csv")
    last_flag = written[written["is_anomaly"] == 1].iloc[-1]
    assert f"(--fail-on-anomaly): {last_flag['series']} at {last_flag['timestamp'][:16]}" in flagged.stderr
    quiet_json = run_cli("detect-anomalies", spiked, "-m", model_dir, "--last", 24, "--fail-on-anomaly", "-q",
                         "--log-format", "json")
    (event,) = json_events(quiet_json.stderr)
    assert quiet_json.exit_code == 3 and event["event"] == "anomalies" and event["exit_code"] == 3
    # the output is written all the same: the alert is about what it holds
    assert pd.read_csv(tmp_path / "flags.csv")["is_anomaly"].sum() >= 1
    assert run_cli("detect-anomalies", spiked, "-m", model_dir, "--last", 24, "-q").exit_code == 0
    assert run_cli("predict", tmp_path / "missing.csv", "-m", model_dir, "-q").exit_code == 1
    assert run_cli("predict", "-m", model_dir, "--no-such-option").exit_code == 2
    assert run_cli("predict", "-m", model_dir, "--log-format", "xml").exit_code == 2


def test_last_keeps_the_newest_points_with_the_same_scores(tmp_path, trained):
    _, spiked, model_dir, _ = trained
    assert run_cli("detect-anomalies", spiked, "-m", model_dir, "-o", tmp_path / "all.csv", "-q").exit_code == 0
    assert run_cli("detect-anomalies", spiked, "-m", model_dir, "-o", tmp_path / "last.csv", "--last", 10,
                   "-q").exit_code == 0
    full, last = pd.read_csv(tmp_path / "all.csv"), pd.read_csv(tmp_path / "last.csv")
    assert last.groupby("series").size().to_dict() == {"load": 10, "temperature": 10}
    pd.testing.assert_frame_equal(last, full.groupby("series").tail(10).reset_index(drop=True))


def keras_weights(model_file) -> dict[str, bytes]:
    """The weight file inside a .keras archive (its other members carry a save date)."""
    with zipfile.ZipFile(model_file) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name.endswith(".h5")}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_same_seed_in_separate_processes_gives_identical_weights_and_bytes(tmp_path, cell):
    from forecaster import training
    from forecaster.models import NetworkSpec

    data = small_hourly_csv(tmp_path / "data.csv", days=14)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    # as many epochs allowed as make training compile its step with XLA, the path large
    # trainings of a GRU take; an LSTM's runs the fused kernel, never compiled by XLA (the
    # small ones' path is test_cli's test_same_seed_gives_identical_outputs)
    options = ["--units", 4, "--epochs", 100, "--patience", 1, "--lookback", 24, "--horizon", 6, "--cell", cell]
    outputs = []
    for run in range(2):
        model_dir = tmp_path / f"model{run}"
        commands = [
            ["train", data, "-m", model_dir, "--seed", 7, "-q", *options],
            ["predict", "-m", model_dir, "-o", tmp_path / f"forecast{run}.csv", "-q"],
            ["detect-anomalies", "-m", model_dir, "-o", tmp_path / f"anomalies{run}.csv", "-q"],
        ]
        for command in commands:
            done = subprocess.run([sys.executable, "-m", "forecaster", *map(str, command)], env=env,
                                  capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stderr
        outputs.append((keras_weights(model_dir / "model.keras"), (tmp_path / f"forecast{run}.csv").read_bytes(),
                        (tmp_path / f"anomalies{run}.csv").read_bytes()))
    meta = read_metadata(tmp_path / "model0")
    work = training.xla_work(NetworkSpec.from_dict(meta["network"]), training.TrainOptions(),
                             meta["training"]["train_windows"], epochs=100)
    assert work >= training.XLA_MIN_WORK
    assert training.fused_kernel_runs(NetworkSpec.from_dict(meta["network"])) == (cell == "lstm")
    (weights_a, forecast_a, anomalies_a), (weights_b, forecast_b, anomalies_b) = outputs
    assert weights_a and weights_a == weights_b
    assert forecast_a == forecast_b
    assert anomalies_a == anomalies_b
    assert np.isfinite(pd.read_csv(tmp_path / "forecast0.csv")["forecast"]).all()


def test_a_usage_error_found_once_a_json_log_started_ends_it_with_an_error_event(tmp_path):
    data = small_hourly_csv(tmp_path / "data.csv")
    result = run_cli("train", data, "-m", tmp_path / "model", "--cell", "foo", "--log-format", "json")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    start, error = (json.loads(line) for line in lines[:2])
    assert start["event"] == "start" and error["event"] == "error" and error["exit_code"] == 2
    assert error["command"] == start["command"] == "train"
    assert "--cell" in error["message"] and "foo" in error["message"]
    assert lines[2].startswith("Usage: ")  # and the usage text, as documented


def test_the_alert_line_names_the_flagged_series_and_their_latest_flag():
    from forecaster.cli import _flagged_text

    times = pd.to_datetime(["2024-03-22 11:40", "2024-03-22 11:45", "2024-03-22 12:10"])
    frame = pd.DataFrame({"series": ["web2/latency"] * 3 + ["web1/rps"] * 3, "timestamp": list(times) * 2,
                          "is_anomaly": [1, 1, 0, 0, 0, 1]})
    assert _flagged_text(frame) == "web2/latency at 2024-03-22 11:45, web1/rps at 2024-03-22 12:10"
    many = pd.DataFrame({"series": [f"host{i}" for i in range(5)], "timestamp": [times[0]] * 5, "is_anomaly": 1})
    assert _flagged_text(many).endswith("host2 at 2024-03-22 11:40 and 2 more series")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_train_finishes_its_model_when_the_reader_of_its_log_has_gone(tmp_path, log_format):
    """A log shipper restarted, or `2>&1 | head`: the progress lines cannot be written, and
    rich exited 1 at the first of them, losing the model."""
    data = small_hourly_csv(tmp_path / "data.csv")
    read_end, write_end = os.pipe()
    os.close(read_end)  # gone before the first line
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "forecaster", "train", str(data), "--model", "linear", "--lookback", "24",
             "--horizon", "6", "-m", str(tmp_path / "model"), "--log-format", log_format],
            stderr=write_end, stdout=subprocess.PIPE, timeout=300)
    finally:
        os.close(write_end)
    assert finished.returncode == 0
    assert read_metadata(tmp_path / "model")["train_options"]["model"] == "linear"
