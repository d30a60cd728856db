"""detect-anomalies --state: a cron job sees every point once, after missed runs and late rows."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest

from forecaster.alert_state import read_marks, read_state
from forecaster.anomaly import detect_anomalies
from forecaster.errors import ForecasterError

from .conftest import run_cli

HOSTS = ("web1", "web2")


def hosts_frame(hours: int, seed: int = 0) -> pd.DataFrame:
    """Two hosts' hourly load in a long file, a daily cycle and noise; web2's hour 300 spikes."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-03-01", periods=hours, freq="h")
    cycle = 100 + 20 * np.sin(2 * np.pi * index.hour.to_numpy() / 24)
    frames = []
    for host in HOSTS:
        load = cycle + rng.normal(0, 2, hours)
        if host == "web2" and hours > 300:
            load[300] += 150
        frames.append(pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d %H:%M:%S"), "host": host, "load": load}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def hosts_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("state")
    data = folder / "train.csv"
    hosts_frame(24 * 12).to_csv(data, index=False)
    model_dir = folder / "model"
    trained = run_cli("train", data, "-m", model_dir, "--id-col", "host", "--target", "load", "--model", "linear",
                      "--lookback", 24, "--horizon", 6, "-q")
    assert trained.exit_code == 0, trained.stderr
    return model_dir


def export(path, frame: pd.DataFrame, ends: dict[str, int]):
    """The first ``ends[host]`` hours of each host: a host whose rows come late ends earlier."""
    hour = (pd.to_datetime(frame["timestamp"]) - pd.Timestamp("2024-03-01")) // pd.Timedelta("1h")
    frame[hour < frame["host"].map(ends)].to_csv(path, index=False)
    return path


def scored_rows(stdout: str) -> pd.DataFrame:
    rows = pd.read_csv(io.StringIO(stdout))
    return rows[rows["score"].notna()]


def test_every_point_is_written_once_with_missed_runs_and_late_rows(hosts_model, tmp_path):
    frame = hosts_frame(24 * 14)
    data, state = tmp_path / "export.csv", tmp_path / "state.json"
    args = ["detect-anomalies", data, "-m", hosts_model, "--state", state, "--last", 24, "-q"]
    written = []
    # hourly runs; web2's rows arrive two hours late from hour 296, the run at hour 299 is missed
    for now in (290, 291, 294, 295, 296, 297, 298, 300, 301, 302, 306):
        ends = {"web1": now, "web2": now if now < 296 or now >= 302 else now - 2}
        export(data, frame, ends)
        result = run_cli(*args)
        assert result.exit_code == 0, result.stderr
        written.append(scored_rows(result.stdout))
    runs = pd.concat(written, ignore_index=True)
    assert not runs.duplicated(["series", "timestamp"]).any()
    # the first run wrote the last 24 points (no state yet); together, every point from then on
    whole = run_cli("detect-anomalies", data, "-m", hosts_model, "--last", 306 - 290 + 24, "-q")
    everything = scored_rows(whole.stdout)
    assert len(runs) == len(everything) == 2 * (306 - 290 + 24)
    merged = runs.merge(everything, on=["series", "timestamp"], suffixes=("", "_whole"))
    assert len(merged) == len(runs)
    assert np.allclose(merged["score"], merged["score_whole"])  # the same scores as with the whole export
    # web2's spike at hour 300 arrived late and was flagged once
    flagged = runs[runs["is_anomaly"] == 1]
    assert flagged[["series", "timestamp"]].values.tolist().count(["web2", "2024-03-13 12:00:00"]) == 1
    assert read_marks(state) == {"web1": pd.Timestamp("2024-03-13 17:00"), "web2": pd.Timestamp("2024-03-13 17:00")}


def test_last_caps_what_a_long_outage_left_and_says_so(hosts_model, tmp_path):
    frame = hosts_frame(24 * 14)
    data, state = tmp_path / "export.csv", tmp_path / "state.json"
    args = ["detect-anomalies", data, "-m", hosts_model, "--state", state, "--last", 3]
    export(data, frame, {"web1": 290, "web2": 290})
    assert run_cli(*args, "-q").exit_code == 0
    export(data, frame, {"web1": 300, "web2": 292})
    later = run_cli(*args)
    assert later.exit_code == 0, later.stderr
    rows = pd.read_csv(io.StringIO(later.stdout))
    # web2's rows stop at 291: its two new points, and the hours since without a value, which do not count
    # against --last (they pushed the scored ones out, and a host 4 hours late was never checked)
    assert rows.groupby("series").size().to_dict() == {"web1": 3, "web2": 10}
    assert rows["value"].isna().sum() == 8
    assert ("Warning: more points arrived since the last run than --last 3 writes, so the earlier ones are not "
            "written: web1 (10); pass a larger --last to write them all") in later.stderr
    assert "Flagged 0 of the 5 scored points written (those after the last run's, at most 3 a series)" in later.stderr


def test_a_point_without_a_value_is_written_again_once_it_has_one(hosts_model, tmp_path):
    frame = hosts_frame(24 * 14)
    data, state = tmp_path / "export.csv", tmp_path / "state.json"
    args = ["detect-anomalies", data, "-m", hosts_model, "--state", state, "--last", 2, "-q"]
    export(data, frame, {"web1": 290, "web2": 290})
    assert run_cli(*args).exit_code == 0
    gap = frame.drop(frame.index[(frame["host"] == "web2") & (frame["timestamp"] == "2024-03-13 02:00:00")])
    export(data, gap, {"web1": 291, "web2": 291})
    first = run_cli(*args, "--fail-on-missing")
    assert first.exit_code == 3  # web2's 02:00 has no value yet
    assert first.stderr == "Missing (--fail-on-missing): web2 has no value at 2024-03-13 02:00.\n"
    export(data, frame, {"web1": 291, "web2": 291})
    second = run_cli(*args, "--fail-on-missing")
    assert second.exit_code == 0, second.stderr
    rows = pd.read_csv(io.StringIO(second.stdout))
    assert rows[["series", "timestamp"]].values.tolist() == [["web2", "2024-03-13 02:00:00"]]
    assert rows["score"].notna().all()


def test_the_python_api_writes_the_same_points_as_slicing_every_point(hosts_model, tmp_path):
    data = export(tmp_path / "export.csv", hosts_frame(24 * 14), {"web1": 300, "web2": 296})
    marks = {"web1": pd.Timestamp("2024-03-13 05:00"), "web2": pd.Timestamp("2024-03-12 20:00")}
    direct = detect_anomalies(hosts_model, data, after=marks, last=8)
    sliced = detect_anomalies(hosts_model, data).since(marks, last=8)
    pd.testing.assert_frame_equal(direct.frame, sliced.frame)
    # web2's rows stop four hours early: its newest 8 scored points and the 4 without a value after them
    assert direct.frame.groupby("series").size().to_dict() == {"web1": 6, "web2": 12}
    assert direct.frame["timestamp"].min() == pd.Timestamp("2024-03-13 00:00")
    assert direct.frame["value"].isna().sum() == 4
    with pytest.raises(TypeError, match="after must be a mapping of series names to times"):
        detect_anomalies(hosts_model, data, after=pd.Timestamp("2024-03-13"))


def test_a_plot_with_state_shades_the_points_written(hosts_model, tmp_path):
    from PIL import Image

    data = export(tmp_path / "export.csv", hosts_frame(24 * 14), {"web1": 300, "web2": 300})
    state, picture = tmp_path / "state.json", tmp_path / "anomalies.png"
    state.write_text(json.dumps({"kind": "forecaster detect-anomalies state", "version": 1,
                                 "newest_scored": {"web1": "2024-03-13T08:00:00"}}))
    result = run_cli("detect-anomalies", data, "-m", hosts_model, "--state", state, "--last", 50, "--plot", picture,
                     "-o", tmp_path / "out.csv")
    assert result.exit_code == 0, result.stderr
    assert pd.read_csv(tmp_path / "out.csv").groupby("series").size().to_dict() == {"web1": 3, "web2": 50}
    with Image.open(picture) as image:
        assert image.width > 600 and image.height > 400
        assert len(set(image.convert("L").get_flattened_data())) > 20  # not blank


@pytest.mark.parametrize("content, said", [
    ("not json", "is not JSON (Expecting value at line 1)"),
    ('{"kind": "something else"}', "is not a detect-anomalies state file"),
    ('{"kind": "forecaster detect-anomalies state", "version": 9, "newest_scored": {}}', "is of version 9, which this forecaster does not read (it reads 1 to 3)"),
    ('{"kind": "forecaster detect-anomalies state", "version": true, "newest_scored": {}}',
     "is of version True, which this forecaster does not read (it reads 1 to 3)"),
    ('{"kind": "forecaster detect-anomalies state", "version": 1, "newest_scored": {"web1": "now"}}',
     "has 'now' for series 'web1', not a time"),
    ('{"kind": "forecaster detect-anomalies state", "version": 1, "newest_scored": {"web1": "soon"}}',
     "has 'soon' for series 'web1', not a time"),
])
def test_a_broken_state_file_is_refused_and_nothing_is_written(hosts_model, tmp_path, content, said):
    data = export(tmp_path / "export.csv", hosts_frame(24 * 14), {"web1": 300, "web2": 300})
    state, output = tmp_path / "state.json", tmp_path / "out.csv"
    state.write_text(content)
    result = run_cli("detect-anomalies", data, "-m", hosts_model, "--state", state, "-o", output)
    assert result.exit_code == 1
    assert result.stderr == (f"Error: --state '{state}' {said}; give the state file a detect-anomalies --state run "
                             "wrote, or remove it to start again (the next run then writes every point, or the last "
                             "N with --last)\n")
    assert state.read_text() == content and not output.exists()
    with pytest.raises(ForecasterError, match=re.escape(said)):
        read_marks(state)


def test_a_state_path_that_cannot_be_written_is_refused_before_any_work(hosts_model, tmp_path):
    data = export(tmp_path / "export.csv", hosts_frame(24 * 14), {"web1": 300, "web2": 300})
    missing = run_cli("detect-anomalies", data, "-m", hosts_model, "--state", tmp_path / "no" / "state.json")
    assert missing.exit_code == 1
    assert missing.stderr == f"Error: --state directory '{tmp_path / 'no'}' does not exist; create it first\n"
    same = run_cli("detect-anomalies", data, "-m", hosts_model, "--state", tmp_path / "o.csv", "-o", tmp_path / "o.csv")
    assert same.exit_code == 2
    assert "is also the -o file; give each its own name" in same.stderr
    assert not (tmp_path / "o.csv").exists()


def test_a_host_later_than_last_is_still_checked_and_one_behind_its_mark_is_named(hosts_model, tmp_path):
    frame = hosts_frame(24 * 14)
    data, state = tmp_path / "export.csv", tmp_path / "state.json"
    args = ["detect-anomalies", data, "-m", hosts_model, "--state", state, "--last", 3, "--fail-on-anomaly"]
    written = []
    for now in range(296, 308):  # web2's rows four hours late, its spike at hour 300 among them
        export(data, frame, {"web1": now, "web2": now - 4})
        result = run_cli(*args, "-q")
        assert result.exit_code in (0, 3), result.stderr
        written.append(scored_rows(result.stdout))
    rows = pd.concat(written)
    assert not rows.duplicated(["series", "timestamp"]).any()
    late = pd.to_datetime(rows.loc[rows["series"] == "web2", "timestamp"])
    assert late.max() == pd.Timestamp("2024-03-13 14:00") and (late.diff().dropna() == pd.Timedelta("1h")).all()
    flagged = rows.loc[rows["is_anomaly"] == 1, ["series", "timestamp"]].values.tolist()
    assert flagged.count(["web2", "2024-03-13 12:00:00"]) == 1
    # an older export: nothing is written for the series behind their marks, and a warning says so
    export(data, frame, {"web1": 290, "web2": 290})
    older = run_cli(*args)
    assert older.exit_code == 0 and len(pd.read_csv(io.StringIO(older.stdout))) == 0
    assert ("the data ends before the newest point an earlier run with this --state scored, so nothing is written for "
            "web1 (ends 2024-03-13 01:00:00, the mark is 2024-03-13 18:00:00)") in " ".join(older.stderr.split())


def test_a_gap_filled_in_after_a_later_point_is_written_once_it_has_a_value(hosts_model, tmp_path):
    """A collector flushing its buffer: 02:00 was empty while 03:00 had a value, and the mark
    moved past it, so its spike, filled in later, was never checked."""
    frame = hosts_frame(24 * 14)
    data, state = tmp_path / "export.csv", tmp_path / "state.json"
    args = ["detect-anomalies", data, "-m", hosts_model, "--state", state, "--fail-on-anomaly", "-q"]
    export(data, frame, {"web1": 290, "web2": 290})
    assert run_cli(*args, "--last", 2).exit_code == 0
    gap = (frame["host"] == "web1") & (frame["timestamp"] == "2024-03-13 02:00:00")
    export(data, frame[~gap], {"web1": 292, "web2": 292})
    first = pd.read_csv(io.StringIO(run_cli(*args).stdout))
    assert first.loc[first["series"] == "web1", "value"].isna().tolist() == [True, False]
    assert read_state(state).pending == {"web1": {pd.Timestamp("2024-03-13 02:00"): 1}}
    spiked = frame.copy()
    spiked.loc[gap, "load"] += 400
    export(data, spiked, {"web1": 293, "web2": 293})
    second = run_cli(*args)
    assert second.exit_code == 3, second.stderr
    rows = pd.read_csv(io.StringIO(second.stdout))
    assert rows.loc[rows["is_anomaly"] == 1, ["series", "timestamp"]].values.tolist() == [
        ["web1", "2024-03-13 02:00:00"]]
    assert rows.groupby("series").size().to_dict() == {"web1": 2, "web2": 1}  # 02:00 again, then 05:00
    assert read_state(state).pending == {}
    assert run_cli(*args).stdout.count("\n") == 1  # nothing new: the header alone


def test_a_state_file_of_another_model_is_refused(hosts_model, tmp_path):
    data = export(tmp_path / "export.csv", hosts_frame(24 * 14), {"web1": 300, "web2": 300})
    state = tmp_path / "state.json"
    assert run_cli("detect-anomalies", data, "-m", hosts_model, "--state", state, "-q").exit_code == 0
    other = tmp_path / "staging"
    other.symlink_to(hosts_model)
    refused = run_cli("detect-anomalies", data, "-m", other, "--state", state, "-q")
    assert refused.exit_code == 1
    assert refused.stderr == (f"Error: --state '{state}' is the state of the job with the model '{hosts_model}', "
                              f"not '{other}'; give each job its own --state file (sharing one, each would skip the "
                              "points the other wrote), or, if this job's model was moved there, set the file's "
                              "\"model\" to its new path\n")
    assert run_cli("detect-anomalies", data, "-m", hosts_model, "--state", "-").exit_code == 2  # not stdout


def test_marks_given_in_python_are_taken_as_times_or_refused_by_name(hosts_model, tmp_path):
    data = export(tmp_path / "export.csv", hosts_frame(24 * 14), {"web1": 300, "web2": 300})
    as_text = detect_anomalies(hosts_model, data, after={"web1": "2024-03-13 08:00", "web2": "2024-03-13 10:00"})
    assert as_text.frame.groupby("series").size().to_dict() == {"web1": 3, "web2": 1}
    for bad in (pd.NaT, 3, "soon"):
        with pytest.raises(TypeError, match=r"detect_anomalies\(\): after\['web1'\] must be a time"):
            detect_anomalies(hosts_model, data, after={"web1": bad})


def test_a_mark_without_a_zone_meets_times_with_one_without_failing():
    """An export read with --tz after runs without it: the old mark is compared, not refused by
    pandas (a TypeError once the run had written its output)."""
    from forecaster.alert_state import AlertState, updated_state

    frame = pd.DataFrame({"series": ["a", "a"], "score": [np.nan, np.nan],
                          "timestamp": pd.to_datetime(["2024-03-01 10:00", "2024-03-01 11:00"]).tz_localize("UTC")})
    updated = updated_state(AlertState(marks={"a": pd.Timestamp("2024-03-01 12:00")}), frame)
    assert updated.marks == {"a": pd.Timestamp("2024-03-01 12:00")}
    assert list(updated.pending["a"]) == list(frame["timestamp"])  # before the mark, still without a value


def test_a_run_while_another_holds_the_state_writes_nothing_and_the_next_writes_its_points(hosts_model, tmp_path):
    from forecaster.locking import state_lock

    frame = hosts_frame(24 * 14)
    data, state, out = tmp_path / "export.csv", tmp_path / "state.json", tmp_path / "anomalies.csv"
    args = ["detect-anomalies", data, "-m", hosts_model, "--state", state, "-o", out, "-q"]
    export(data, frame, {"web1": 290, "web2": 290})
    assert run_cli(*args).exit_code == 0
    before = state.read_text()
    export(data, frame, {"web1": 292, "web2": 292})
    out.write_text("the last run's\n")
    with state_lock(state):  # a run that has not finished yet
        refused = run_cli(*args)
        waited = run_cli(*args, "--wait", "0.3")
    assert refused.exit_code == waited.exit_code == 1
    assert re.fullmatch(rf"Error: --state '{re.escape(str(state))}' is still in use by another detect-anomalies run "
                        rf"\(pid \d+ on .+, since .+; lock .+\.state\.json\.lock\); this run wrote nothing, and the "
                        r"next run writes its points; pass --wait SECONDS to wait for it\n", refused.stderr)
    assert "after waiting 0.3 s" in waited.stderr
    assert state.read_text() == before and out.read_text() == "the last run's\n"
    assert run_cli(*args).exit_code == 0
    assert pd.read_csv(out)["timestamp"].tolist() == ["2024-03-13 02:00:00", "2024-03-13 03:00:00"] * 2
    assert not list(tmp_path.glob(".*.lock"))
    alone = run_cli("detect-anomalies", data, "-m", hosts_model, "--wait", "5")
    assert alone.exit_code == 2 and "--wait" in alone.stderr and "--state" in alone.stderr


@pytest.mark.parametrize("first, then", [((), ("--tz", "Europe/Berlin")), (("--tz", "Europe/Berlin"), ("--tz", "none"))])
def test_adding_or_dropping_tz_between_runs_neither_skips_nor_repeats_a_point(hosts_model, tmp_path, first, then):
    """The exports' times are Berlin local times, named as such with --tz in one run only."""
    frame = hosts_frame(24 * 14)
    data, state = tmp_path / "export.csv", tmp_path / "state.json"
    args = ["detect-anomalies", data, "-m", hosts_model, "--state", state, "-q"]
    export(data, frame, {"web1": 290, "web2": 290})
    assert run_cli(*args, "--last", 2, *first).exit_code == 0
    export(data, frame, {"web1": 293, "web2": 293})
    later = run_cli(*args, *then)
    assert later.exit_code == 0, later.stderr
    written = pd.to_datetime(pd.read_csv(io.StringIO(later.stdout))["timestamp"], utc=then[-1] != "none")
    local = written.dt.tz_convert("Europe/Berlin").dt.tz_localize(None) if then[-1] != "none" else written
    # hours 290 to 292 of the hosts' data, Berlin time: the three new ones, each once
    assert local.dt.strftime("%d %H:%M").tolist() == ["13 02:00", "13 03:00", "13 04:00"] * 2
    recorded = json.loads(state.read_text())
    assert recorded["version"] == 3 and recorded["zone"] == (None if then[-1] == "none" else "Europe/Berlin")
