"""Property-based tests: generated CSV files, from clean exports to garbage.

* Any file (random separators, encodings, line ends, quoting, compression, garbage rows,
  NaN patterns, gaps, duplicates, shuffled rows) either loads into well-formed series or
  raises DataError with a one-line message naming the file; nothing else.
* A clean export in any of the accepted formats reads back to exactly its timestamps and
  values.
* Through the CLI (naive model, no TensorFlow): exit 0 with a model that then forecasts
  every series, or exit 1 with one line naming what is wrong in the data (never the
  "unexpected" error of an internal bug) and nothing written.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from forecaster.cli import app
from forecaster.data import DataOptions, load_dataset
from forecaster.errors import DataError

SEPARATORS = [",", ";", "\t", "|"]
ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "utf-16"]
#: How the CLI words an exception it did not expect (forecaster/cli.py, _run): a bug, not bad data.
UNEXPECTED = "Error: unexpected "
# database=None: nothing written into the working tree.
SETTINGS = settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# Cells a careless export or a broken pipe may leave in a file.
GARBAGE_CELLS = st.one_of(
    st.sampled_from(["", " ", "NA", "null", "n/a", "-", "abc", "1,5", "1.234,5", "12 345", "inf", "-inf", "nan",
                     '"', '""', "'", "2024-13-45", "31/02/2024", "1e400", "0x1F", "Zürich", "é", "\x00", "\ufeff"]),
    st.text(max_size=8),
)  # fmt: skip


def timestamp_texts(index: pd.DatetimeIndex, style: str) -> list[str]:
    """The timestamps of ``index`` (naive, UTC) written in one of the accepted styles."""
    return list({
        "iso": lambda: index.strftime("%Y-%m-%d %H:%M:%S"),
        "iso_z": lambda: index.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "berlin": lambda: [t.isoformat() for t in index.tz_localize("UTC").tz_convert("Europe/Berlin")],
        "date": lambda: index.strftime("%Y-%m-%d"),
        "epoch_s": lambda: [str(int(t.timestamp())) for t in index],
        "epoch_ms": lambda: [str(int(t.timestamp() * 1000)) for t in index],
        "dayfirst": lambda: index.strftime("%d/%m/%Y"),
        "ymd_int": lambda: index.strftime("%Y%m%d"),
    }[style]())


@st.composite
def messy_files(draw):
    """Bytes of a CSV file, the options to read it with, and a short description."""
    # Hypothesis favours the simplest values (0, False, the first choice): the usual case is
    # made the simple one, and rare ones need a non-simple draw.
    n = draw(st.one_of(st.integers(6, 40), st.integers(0, 5)))
    freq = draw(st.sampled_from(["h", "D", "15min", "MS"]))
    start = pd.Timestamp("2024-03-30") + pd.Timedelta(hours=draw(st.integers(0, 48)))
    index = pd.date_range(start.normalize() if freq in ("D", "MS") else start, periods=n, freq=freq)
    style = draw(st.sampled_from(["iso", "iso_z", "berlin", "date", "epoch_s", "epoch_ms", "dayfirst", "ymd_int"]))
    unit = {"epoch_s": "s", "epoch_ms": "ms"}.get(style)
    stamps = timestamp_texts(index, style)
    n_columns = draw(st.integers(1, 3))
    names = ["time", *[f"v{j}" for j in range(n_columns)]]
    rows = []
    for i in range(n):
        row = [stamps[i]]
        for j in range(n_columns):
            if draw(st.integers(1, 12)) == 12:
                row.append("")  # a NaN pattern: sparse empty cells
            else:
                row.append(repr(round(draw(st.floats(-1e6, 1e6, allow_nan=False)), 3)))
        rows.append(row)
    # gaps and duplicates
    if rows and draw(st.booleans()):
        k = draw(st.integers(0, len(rows) - 1))
        del rows[k : k + draw(st.integers(1, 6))]
    if rows and draw(st.booleans()):
        k = draw(st.integers(0, len(rows) - 1))
        rows.insert(k, list(rows[k]))
    if draw(st.booleans()):
        rows = draw(st.permutations(rows))
    # garbage: cells replaced, whole rows of text, short and long rows
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 3]))):
        if not rows:
            break
        i = draw(st.integers(0, len(rows) - 1))
        kind = draw(st.sampled_from(["cell", "row", "short", "long"]))
        if kind == "cell":
            rows[i][draw(st.integers(0, len(rows[i]) - 1))] = draw(GARBAGE_CELLS)
        elif kind == "row":
            rows[i] = [draw(st.text(max_size=30))]
        elif kind == "short":
            rows[i] = rows[i][:1]
        else:
            rows[i] = [*rows[i], draw(GARBAGE_CELLS)]
    sep = draw(st.sampled_from(SEPARATORS))
    decimal = draw(st.sampled_from([".", ","]))
    if decimal == ",":
        rows = [[c.replace(".", ",") if c[:1].isdigit() or c[:1] == "-" else c for c in r] for r in rows]
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=sep, lineterminator=draw(st.sampled_from(["\n", "\r\n"])),
        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])),
    )  # fmt: skip
    writer.writerow(names)
    writer.writerows(rows)
    text = buffer.getvalue()
    if draw(st.booleans()):
        text += draw(st.text(max_size=20))  # a trailing torn line
    encoding = draw(st.sampled_from([*ENCODINGS, "utf-8", "utf-8", "utf-8-sig"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(1, 10)) == 10:
        data = data[: draw(st.integers(0, len(data)))]  # cut anywhere, mid-character too
    if draw(st.booleans()) and draw(st.booleans()):
        data = gzip.compress(data, mtime=0)
    options = DataOptions(
        sep=draw(st.sampled_from([None, sep])),
        decimal=draw(st.sampled_from([".", decimal])),
        dayfirst=style == "dayfirst" and draw(st.sampled_from([True, True, False])),
        time_unit=draw(st.sampled_from([unit, unit, None])),
        time_col=draw(st.sampled_from([None, "time"])) if style != "ymd_int" else "time",
        max_gap=draw(st.integers(0, 8)),
        on_duplicate=draw(st.sampled_from(["error", "mean", "last", "first"])),
    )
    return data, options


def check_dataset(dataset, options: DataOptions) -> None:
    """What every consumer of a Dataset relies on."""
    assert dataset.series
    for series in dataset.series:
        n = len(series.index)
        assert n >= 1
        assert isinstance(series.index, pd.DatetimeIndex)
        assert series.index.is_monotonic_increasing and series.index.is_unique
        assert series.values.shape == (n,) and series.values.dtype == np.float64
        assert np.isfinite(series.values).all()
        assert series.missing.shape == (n,) and series.missing.dtype == bool
        assert series.covariates.shape == (n, len(dataset.options.covariates))
        assert isinstance(series.freq, str)
        grid = pd.date_range(series.index[0], periods=n, freq=series.freq)
        assert grid.equals(series.index), "not on a regular grid"
        assert not series.missing[0] and not series.missing[-1]


def assert_one_line(exc: DataError, path: str) -> None:
    message = str(exc)
    assert "\n" not in message and "\r" not in message, repr(message)
    assert message.startswith(f"{path}: "), message


@SETTINGS
@given(messy_files())
def test_any_file_loads_well_formed_or_fails_in_one_line(case):
    data, options = case
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "export.csv")
        Path(path).write_bytes(data)
        try:
            dataset = load_dataset(path, options)
        except DataError as exc:
            assert_one_line(exc, path)
        else:
            check_dataset(dataset, options)


# --- clean exports read back exactly -----------------------------------------------------------------


@st.composite
def clean_exports(draw):
    """A clean export in one of the accepted formats, the options it needs, and what it holds."""
    style = draw(st.sampled_from(["iso", "iso_z", "berlin", "date", "epoch_s", "epoch_ms", "dayfirst"]))
    n = draw(st.integers(3, 60))
    daily = style in ("date", "dayfirst")
    # Hourly series start near the spring change of 2024, or the autumn one: some cross it.
    start = pd.Timestamp(draw(st.sampled_from(["2024-03-30", "2024-10-26"]))) + pd.Timedelta(
        hours=draw(st.integers(0, 30))
    )
    index = pd.date_range(start.normalize() if daily else start, periods=n, freq="D" if daily else "h")
    values = np.round(np.array(draw(st.lists(st.floats(-1e5, 1e5), min_size=n, max_size=n))), 3) + np.arange(n)
    stamps = timestamp_texts(index, style)
    expected = index.tz_localize("UTC") if style in ("iso_z", "berlin", "epoch_s", "epoch_ms") else index
    sep = draw(st.sampled_from(SEPARATORS))
    decimal = draw(st.sampled_from([".", ","]))
    cells = [repr(float(v)) for v in values]
    if decimal == ",":
        cells = [c.replace(".", ",") for c in cells]
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=sep, lineterminator=draw(st.sampled_from(["\n", "\r\n"])),
        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
    )  # fmt: skip
    writer.writerow(["time", "value", "note"])
    writer.writerows([s, c, draw(st.sampled_from(["ok", "a, b", 'say "x"', "x;y|z"]))] for s, c in zip(stamps, cells))
    data = buffer.getvalue().encode(draw(st.sampled_from(["utf-8", "utf-8-sig"])))
    if draw(st.booleans()):
        data = gzip.compress(data, mtime=0)
    options = DataOptions(
        targets=("value",),
        sep=draw(st.sampled_from([None, sep])),
        decimal=decimal,
        dayfirst=style == "dayfirst",
        time_unit={"epoch_s": "s", "epoch_ms": "ms"}.get(style),
    )
    return data, options, expected, values


@SETTINGS
@given(clean_exports())
def test_clean_exports_read_back_exactly(case):
    data, options, expected, values = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.csv"
        path.write_bytes(data)
        series = load_dataset(path, options).series
    assert len(series) == 1
    index = series[0].index
    # One fixed offset is kept as it is; compare instants (and that the zone was not lost).
    assert (index.tz is None) == (expected.tz is None)
    assert (index if index.tz is None else index.tz_convert("UTC")).equals(expected), (index[:3], expected[:3])
    np.testing.assert_allclose(series[0].values, values, rtol=1e-12)
    assert not series[0].missing.any()


# --- through the CLI ---------------------------------------------------------------------------------


# Few messy files train (about one in ten), so clean exports are mixed in: both outcomes are
# checked in every run.
@settings(max_examples=12, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(messy_files(), clean_exports().map(lambda case: case[:2])))
def test_cli_trains_or_fails_in_one_line_and_writes_nothing(case):
    data, options = case
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "export.csv").write_bytes(data)
        flags = ["--sep", options.sep] if options.sep else []
        flags += ["--decimal", options.decimal, "--max-gap", str(options.max_gap), "--on-duplicate", options.on_duplicate]
        flags += ["--time-unit", options.time_unit] if options.time_unit else []
        flags += ["--dayfirst"] if options.dayfirst else []
        flags += [flag for target in options.targets for flag in ("--target", target)]
        result = CliRunner().invoke(
            app,
            ["train", str(root / "export.csv"), "-m", str(root / "model"), "--model", "naive", "--lookback", "2",
             "--horizon", "1", "--quiet", *flags],
        )  # fmt: skip
        assert "Traceback" not in result.stderr
        # An internal bug also exits 1 in one line, but with this wording: it must never be the reason.
        assert not result.stderr.startswith(UNEXPECTED), result.stderr
        if result.exit_code == 0:
            assert (root / "model" / "metadata.json").is_file()
            check_forecast_of(root / "model")
        else:
            assert result.exit_code == 1, (result.exit_code, result.stderr, result.exception)
            assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("Error: ")
            assert sorted(p.name for p in root.iterdir()) == ["export.csv"]


def check_forecast_of(model_dir: Path) -> None:
    """A model that train accepted must forecast: one step after the end of each series it stored."""
    result = CliRunner().invoke(app, ["predict", "-m", str(model_dir), "--quiet"])
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert not result.stderr.startswith(UNEXPECTED), result.stderr
    forecast = pd.read_csv(io.StringIO(result.stdout))
    assert list(forecast.columns) == ["series", "timestamp", "step", "forecast", "lower", "upper"]
    stored = json.loads((model_dir / "metadata.json").read_text())["series"]
    assert forecast["series"].astype(str).tolist() == [s["name"] for s in stored]
    assert (forecast["step"] == 1).all()  # --horizon 1
    for row, series in zip(forecast.itertuples(), stored):
        following = pd.date_range(pd.Timestamp(series["end"]), periods=2, freq=series["freq"])[1]
        assert pd.Timestamp(row.timestamp) == following, (row.timestamp, series)
    values = forecast[["forecast", "lower", "upper"]].to_numpy(dtype=float)
    assert np.isfinite(values).all()
    assert (forecast["lower"] <= forecast["forecast"]).all() and (forecast["forecast"] <= forecast["upper"]).all()
