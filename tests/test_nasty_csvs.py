"""The corpus of nasty CSV files in tests/data/nasty/, through the CLI.

Each refused file must exit 1 with one ``Error:`` line on stderr naming the file as given
(and the row and column where there is one) and saying what to do, print no traceback and
write nothing. Every accepted file is loaded with the options it needs, and its whole index
and values are checked; a few go end to end: train, then predict from a fresh export read
with the options stored at training.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecaster.cli import app
from forecaster.data import DataOptions, load_dataset

from .test_csv_formats import HOURS, LOAD, TEMPERATURE

NASTY = Path(__file__).resolve().parent / "data" / "nasty"
REPO = Path(__file__).resolve().parent.parent
TINY = ["--epochs", "1", "--units", "2", "--lookback", "4", "--horizon", "2", "--seed", "0", "--quiet"]


def run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def run_process(*args: object, stdin: bytes = b"", cwd: Path) -> subprocess.CompletedProcess:
    """The real command, as cron runs it: a new Python process reading ``stdin``."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "forecaster", *map(str, args)],
        input=stdin, capture_output=True, cwd=cwd, env=env, timeout=300, check=False,
    )  # fmt: skip


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def assert_one_line_error(exit_code: int, stdout: str, stderr: str, *fragments: str) -> str:
    detail = f"exit {exit_code}, stderr {stderr!r}"
    assert exit_code == 1, detail
    assert "Traceback" not in stderr, detail
    message = stderr.strip()
    assert len(message.splitlines()) == 1, detail
    assert message.startswith("Error: "), detail
    assert stdout == "", f"stdout {stdout!r}"
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Each test in its own directory, with the corpus copied to ``exports/``: paths are
    relative, as a user types them, and a stray model directory would land here."""
    shutil.copytree(NASTY, tmp_path / "exports")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- refused files -------------------------------------------------------------------------------

REFUSED = [
    # file, extra options, fragments of the message after "Error: exports/<file>: "
    ("binary.csv", [], ["row 3: holds binary data", "not a CSV text file", "export the data as a UTF-8 CSV file"]),
    ("latin1.csv", [], ["column 'site', row 5: byte 0xfc is not UTF-8 text", "save it as UTF-8"]),
    ("garbage.csv", [], ["column 'load', row 3: byte 0xc3 is not UTF-8 text", "save it as UTF-8"]),
    ("utf16.csv", [], ["is UTF-16 text, not UTF-8", "save it as UTF-8"]),
    ("zipped.csv", [], ["is a ZIP archive", "unzip it, or export the sheet as CSV"]),
    ("truncated.csv.gz", [], ["damaged or truncated gzip file", "compress it again"]),
    (
        "mixed_zones.csv",
        [],
        ["column 'time' mixes time zones", "row 2: '2024-01-01T00:00+05:30'", "row 3: '2024-01-01T01:00+01:00'",
         "write every timestamp in UTC"],
    ),  # fmt: skip
    (
        "naive_and_aware.csv",
        [],
        ["column 'time' mixes time zones", "some timestamps have a UTC offset and some have none",
         "row 5: '2024-01-01T03:00'"],
    ),  # fmt: skip
    (
        "semicolon_decimal_comma.csv",
        [],
        ["column 'load', row 2: '75,0' is not a number", "decimal comma", "pass --decimal ,"],
    ),
    (
        "decimal_comma_unquoted.csv",
        [],
        ["cannot be read as CSV", "line 4", "check quoting", "decimal comma", "--decimal ,"],
    ),
    (
        "thousands.csv",
        [],
        ["column 'load', row 2: '1,000.5' is not a number", "thousands separators", "pass --thousands ','"],
    ),
    (
        "thousands_quoted.csv",
        [],
        ["column 'load', row 2: '1,000' is not a number", "--decimal , if it is a decimal comma",
         "--thousands ',' if it groups thousands"],
    ),  # fmt: skip
    (
        "text_target.csv",
        ["--target", "status"],
        ["column 'status' (--target) holds text, not numbers (row 2: 'late')", "choose a column of numbers"],
    ),
    ("epoch_without_unit.csv", [], ["column 'time' looks like Unix time in seconds", "pass --time-unit s"]),
    ("epoch_ms.csv", ["--time-unit", "s"], ["column 'time' looks like Unix time in milliseconds", "--time-unit ms"]),
    (
        "dayfirst_without_flag.csv",
        [],
        ["column 'date', row 14: '13/02/2024' is not a timestamp", "pass --dayfirst"],
    ),
    ("sep_override.csv", ["--sep", ";"], ["column 'load, kW', row 2: '10,5'", "pass --decimal ,"]),
]


@pytest.mark.parametrize(("name", "options", "fragments"), REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_file_gives_one_line_and_writes_nothing(in_tmp_path, name, options, fragments):
    before = listing(in_tmp_path)
    result = run("train", f"exports/{name}", "-m", "model", *options)
    assert_one_line_error(result.exit_code, result.stdout, result.stderr, f"Error: exports/{name}: ", *fragments)
    assert listing(in_tmp_path) == before


def test_every_corpus_file_is_covered():
    """A file added to the corpus without an expectation would test nothing; a file both
    refused and accepted must be refused without an option it is accepted with."""
    refused = {name: options for name, options, _ in REFUSED}
    assert set(refused) | set(ACCEPTED) == {p.name for p in NASTY.iterdir() if p.name != "README.md"}
    for name in set(refused) & set(ACCEPTED):
        accepted_with = grouped(flags(ACCEPTED[name][0]))
        assert accepted_with and not accepted_with <= grouped(refused[name]), name


# --- accepted files ------------------------------------------------------------------------------

# What the files hold (tests/data/nasty/README.md): 30 hourly rows from 2024-01-01 00:00 of
# load and temperature unless said otherwise.
WIDE = (HOURS, {"load": LOAD, "temperature": TEMPERATURE})
UTC_HOURS = HOURS.tz_localize("UTC")
# Offsets across the summer-time changes of 2024: read as one regular hourly series in UTC.
BERLIN_VALUES = {"load": [100, 101, 102, 103, 104, 100, 101, 102]}
# Commas in the header names, decimal commas in the values.
SEP_OVERRIDE_VALUES = {
    "load, kW": [10.5, 11.5, 14.5, 19.5, 26.5, 35.5],
    "temperature, C": [3.25, 4.25, 5.25, 6.25, 7.25, 8.25],
}

ACCEPTED = {
    # file: (DataOptions it needs, (expected index, {series: values}))
    "bom_crlf.csv": ({}, WIDE),
    "semicolon.csv": ({}, WIDE),
    "semicolon_decimal_comma.csv": ({"decimal": ","}, WIDE),
    "tab.tsv": ({}, WIDE),
    "pipe.csv": ({}, WIDE),
    "quoted.csv": ({}, WIDE),  # the quoted text column "note" is not a series
    "hourly.csv.gz": ({}, WIDE),
    "epoch_s.csv": ({"time_unit": "s"}, (UTC_HOURS, {"load": LOAD})),
    "epoch_ms.csv": ({"time_unit": "ms"}, (UTC_HOURS, {"load": LOAD})),
    "dayfirst.csv": ({"dayfirst": True}, (pd.date_range("2024-01-25", periods=30, freq="D"), {"sales": LOAD})),
    # 02:00 twice (+02:00, then +01:00): two instants an hour apart, neither dropped nor merged
    "berlin_autumn.csv": ({}, (pd.date_range("2024-10-26T22:00Z", periods=8, freq="h"), BERLIN_VALUES)),
    # 01:00 then 03:00 local: an hour apart, so no 02:00 is invented (nor a missing value filled)
    "berlin_spring.csv": ({}, (pd.date_range("2024-03-30T22:00Z", periods=8, freq="h"), BERLIN_VALUES)),
    "utc_z.csv": ({}, (UTC_HOURS[:6], {"load": LOAD[:6]})),  # Z: UTC, not naive local time
    "sep_override.csv": ({"sep": ";", "decimal": ","}, (HOURS[:6], SEP_OVERRIDE_VALUES)),
}  # fmt: skip

# The Europe/Berlin wall-clock hours of the rows, as the files write them.
BERLIN_HOURS = {"berlin_autumn.csv": [0, 1, 2, 2, 3, 4, 5, 6], "berlin_spring.csv": [23, 0, 1, 3, 4, 5, 6, 7]}


def flags(options: dict) -> list[str]:
    """The command line for DataOptions keyword arguments: {"time_unit": "s"} is --time-unit s."""
    line = []
    for key, value in options.items():
        line += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return line


def grouped(line: list[str]) -> set[tuple[str, ...]]:
    """Each option of a command line with its value: {("--sep", ";"), ("--dayfirst",)}."""
    groups: list[list[str]] = []
    for word in line:
        if word.startswith("--"):
            groups.append([word])
        else:
            groups[-1].append(word)
    return {tuple(group) for group in groups}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_file_loads_with_its_whole_index_and_values(name):
    options, (index, columns) = ACCEPTED[name]
    dataset = load_dataset(NASTY / name, DataOptions(**options))
    assert [s.name for s in dataset.series] == list(columns)
    for series in dataset.series:
        # every timestamp, and the zone: UTC for offsets, Z and Unix time; naive for local dates
        assert series.index.equals(index), (name, series.index)
        assert series.freq == index.freqstr
        np.testing.assert_array_equal(series.values, columns[series.name])
        assert not series.missing.any()  # nothing filled in: no step was found missing
    if name in BERLIN_HOURS:
        local = dataset.series[0].index.tz_convert("Europe/Berlin")
        assert local.hour.tolist() == BERLIN_HOURS[name]
        assert dataset.series[0].index.is_unique


def test_decimal_comma_trains_and_predict_rereads_with_the_stored_options(in_tmp_path):
    result = run("train", "exports/semicolon_decimal_comma.csv", "--decimal", ",", "-m", "model", *TINY)
    assert result.exit_code == 0, result.stderr
    options = json.loads(Path("model/metadata.json").read_text())["data_options"]
    assert options["decimal"] == "," and options["sep"] is None

    # A later export, same format, no flags repeated.
    result = run("predict", "exports/semicolon_decimal_comma.csv", "-m", "model", "-o", "forecast.csv")
    assert result.exit_code == 0, result.stderr
    forecast = pd.read_csv("forecast.csv")
    assert list(forecast["series"].unique()) == ["load", "temperature"]
    assert list(forecast["timestamp"][:2]) == ["2024-01-02 06:00:00", "2024-01-02 07:00:00"]
    assert forecast[["forecast", "lower", "upper"]].notna().all().all()


def test_epoch_milliseconds_on_stdin_train_and_predict(in_tmp_path):
    """`-` reads standard input: here gzip-compressed Unix milliseconds, in a real process.

    The naive model needs no TensorFlow, which keeps the two processes quick.
    """
    data = gzip.compress(Path("exports/epoch_ms.csv").read_bytes())
    naive = ["--model", "naive", "--lookback", "4", "--horizon", "2", "--quiet"]
    done = run_process("train", "-", "--time-unit", "ms", "-m", "model", *naive, stdin=data, cwd=in_tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    metadata = json.loads(Path("model/metadata.json").read_text())
    assert metadata["data_file"] == "-" and metadata["data_options"]["time_unit"] == "ms"
    assert metadata["series"][0]["start"].startswith("2024-01-01") and "+00:00" in metadata["series"][0]["start"]

    done = run_process("predict", "-", "-m", "model", stdin=Path("exports/epoch_ms.csv").read_bytes(), cwd=in_tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert lines[0].startswith("series,timestamp") and lines[1].startswith("load,2024-01-02 06:00:00+00:00,1,")


def test_garbage_on_stdin_is_one_line_in_a_real_process(in_tmp_path):
    before = listing(in_tmp_path)
    done = run_process("train", "-", "-m", "model", stdin=Path("exports/garbage.csv").read_bytes(), cwd=in_tmp_path)
    assert_one_line_error(
        done.returncode, done.stdout.decode(), done.stderr.decode(),
        "Error: standard input: column 'load', row 3: byte 0xc3 is not UTF-8 text",
    )  # fmt: skip
    assert listing(in_tmp_path) == before


def test_empty_stdin(in_tmp_path):
    result = CliRunner().invoke(app, ["train", "-", "-m", "model"], input="")
    assert_one_line_error(result.exit_code, result.stdout, result.stderr, "Error: standard input: file is empty")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [(["--time-unit", "us"], "--time-unit"), (["--decimal", ";"], "--decimal"),
     (["--sep", ";;"], "--sep must be one character"), (["--thousands", "."], "--thousands must be one character"),
     (["--tz", "Mars/Base"], "--tz must be a time zone name")],
)
def test_bad_option_values_are_usage_errors(options, fragment):
    result = run("train", "exports/semicolon.csv", "-m", "model", *options)
    assert result.exit_code == 2, result.stderr
    assert fragment in result.stderr and not Path("model").exists()


@pytest.mark.parametrize("command", ["predict", "detect-anomalies"])
def test_bad_reading_options_of_predict_and_detect_are_usage_errors(command):
    # checked before the model is looked for: the usage error, not the missing model, is reported
    for options, fragment in ((["--sep", ";;"], "--sep must be one character"),
                              (["--tz", "Europe/Berln"], "did you mean Europe/Berlin"),
                              (["--time-unit", "us"], "--time-unit")):
        result = run(command, "exports/semicolon.csv", "-m", "missing_model", *options)
        assert result.exit_code == 2, result.stderr
        assert fragment in result.stderr and "Traceback" not in result.stderr
