"""CSV files as real exports write them: what load_dataset accepts, and the values it reads.

Most files are the hand-written corpus in tests/data/nasty/ (see test_nasty_csvs.py for the
ones that are refused); a few are made here where their size or their point needs code.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster.data import DataOptions, load_dataset
from forecaster.errors import ConfigError, DataError
from forecaster.report import Reporter

NASTY = Path(__file__).resolve().parent / "data" / "nasty"
N = 30
HOURS = pd.date_range("2024-01-01", periods=N, freq="h")
# What the corpus files hold (see tests/data/nasty/README.md)
LOAD = np.array([round(100 + 10 * ((h % 6) - 2.5) + 0.25 * h, 2) for h in range(N)])
TEMPERATURE = np.array([round(5 + 0.5 * (h % 4), 1) for h in range(N)])


def load(name: str, **options):
    return load_dataset(NASTY / name, DataOptions(**options))


def by_name(dataset) -> dict:
    return {s.name: s for s in dataset.series}


# --- separators, quoting, encodings, line ends, compression ----------------------------------


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("bom_crlf.csv", {}),  # UTF-8 with a byte-order mark and Windows line ends
        ("semicolon.csv", {}),
        ("semicolon_decimal_comma.csv", {"decimal": ","}),
        ("tab.tsv", {}),
        ("pipe.csv", {}),
        ("quoted.csv", {}),  # quoted header and fields, a quoted text column with commas and quotes
        ("hourly.csv.gz", {}),
        ("tab.tsv", {"sep": "tab"}),
        ("pipe.csv", {"sep": "|"}),
    ],
)
def test_wide_exports_read_to_the_same_series(name, options):
    dataset = load(name, **options)
    series = by_name(dataset)
    assert dataset.options.time_col == "timestamp"  # no byte-order mark or quote left in the name
    assert list(series) == ["load", "temperature"]
    for s in series.values():
        assert s.index.equals(pd.DatetimeIndex(HOURS)), name
        assert s.freq == "h"
        assert not s.missing.any()
    np.testing.assert_array_equal(series["load"].values, LOAD)
    np.testing.assert_array_equal(series["temperature"].values, TEMPERATURE)


def test_the_sniffed_separator_is_not_stored_so_another_export_can_differ():
    first = load("semicolon.csv")
    assert first.options.sep is None
    again = load_dataset(NASTY / "pipe.csv", DataOptions.from_dict(json.loads(json.dumps(first.options.to_dict()))))
    np.testing.assert_array_equal(by_name(again)["load"].values, LOAD)


def test_sep_overrides_a_wrong_sniff():
    # Commas in the header names and in the values split every line into three fields alike,
    # so the sniffer takes the comma; --sep and --decimal read it as written.
    with pytest.raises(DataError):
        load("sep_override.csv")
    series = by_name(load("sep_override.csv", sep=";", decimal=","))
    assert list(series) == ["load, kW", "temperature, C"]
    np.testing.assert_array_equal(series["load, kW"].values, [10.5, 11.5, 14.5, 19.5, 26.5, 35.5])


def test_thousands_separators_are_read_when_declared():
    np.testing.assert_array_equal(load("thousands.csv", thousands=",").series[0].values[:3], [1000.5, 1007.5, 1014.5])
    np.testing.assert_array_equal(load("thousands_quoted.csv", thousands=",").series[0].values[:3], [1000, 1007, 1014])


def test_declared_marks_are_also_read_in_a_column_with_a_typo(tmp_path):
    """pandas leaves a column with one bad cell as text: the decimal mark must still apply
    to the good cells, so that the message names the bad one, not the first number."""
    path = tmp_path / "typo.csv"
    path.write_text("time;a\n" + "".join(f"2024-01-0{d};{d},5\n" for d in range(1, 8)).replace("3,5", "3,x"))
    with pytest.raises(DataError, match=r"column 'a', row 4: '3,x' is not a number"):
        load_dataset(path, DataOptions(decimal=","))


def test_gzip_is_told_by_content_not_by_name(tmp_path):
    path = tmp_path / "export.csv"  # no .gz
    path.write_bytes(gzip.compress((NASTY / "semicolon.csv").read_bytes()))
    np.testing.assert_array_equal(by_name(load_dataset(path))["load"].values, LOAD)


def test_only_the_needed_columns_are_kept_when_the_options_name_them(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("time,a,junk\n" + "".join(f"2024-01-0{d},{d * d},x{d}\n" for d in range(1, 8)))
    dataset = load_dataset(path, DataOptions(time_col="time", targets=("a",)))
    np.testing.assert_array_equal(dataset.series[0].values, [1, 4, 9, 16, 25, 36, 49])


@pytest.mark.parametrize("options", [DataOptions(), DataOptions(time_col="timestamp", targets=("load",),
                                                                   covariates=("temperature",))])
def test_a_row_with_an_extra_field_is_refused_even_with_every_column_named(tmp_path, options):
    # An unquoted decimal comma: with the roles named (as predict has them from training) the
    # extra field was dropped and temperature read as 5.
    path = tmp_path / "export.csv"
    path.write_text("timestamp,load,temperature\n" + "".join(f"2024-01-01 {h:02d}:00,{600 + h},2.5\n" for h in range(8))
                    + "2024-01-01 08:00,613,5,2.1\n")
    with pytest.raises(DataError, match=r"export.csv: cannot be read as CSV \(Expected 3 fields in line 10, saw 4\)"):
        load_dataset(path, options)


@pytest.mark.parametrize(("ending", "left_out"), [
    ("2024-01-01 08:00,61", True),  # cut in the value (613.5), the covariate not written yet
    ("2024-01-01 08:0", True),  # cut in the time
    ("2024-01-01 08:00,613.5,2.1", False),  # every field: cannot be told from a whole last line
    ("2024-01-01 08:00,613.5\n", False),  # ended: a row whose last cell is empty, as Excel writes it
])
def test_a_last_line_cut_off_while_the_file_is_written_is_left_out_with_a_warning(tmp_path, ending, left_out):
    path = tmp_path / "export.csv"
    path.write_text("timestamp,load,temperature\n" + "".join(f"2024-01-01 {h:02d}:00,{600 + h},2.5\n" for h in range(8))
                    + ending)
    messages = io.StringIO()
    series = load_dataset(path, reporter=Reporter(file=messages)).series
    warning = " ".join(messages.getvalue().split())
    load = next(s for s in series if s.name == "load")
    assert len(load.values) == (8 if left_out else 9)
    assert ("export.csv: the last line (row 10) has" in warning) == left_out
    if left_out:
        assert "fields and no line end, as if the file were still being written; it was left out" in warning


# --- timestamps ---------------------------------------------------------------------------------


def test_epoch_seconds_and_milliseconds_are_utc():
    for name, unit in (("epoch_s.csv", "s"), ("epoch_ms.csv", "ms")):
        series = load(name, time_unit=unit).series[0]
        assert series.index.equals(pd.DatetimeIndex(HOURS).tz_localize("UTC")), name
        np.testing.assert_array_equal(series.values, LOAD)


def test_epoch_with_the_wrong_unit_says_which_one(tmp_path):
    with pytest.raises(DataError, match="column 'time' looks like Unix time in milliseconds, not seconds; pass --time-unit ms"):
        load("epoch_ms.csv", time_unit="s")
    with pytest.raises(DataError, match="column 'time' looks like Unix time in seconds, not milliseconds; pass --time-unit s"):
        load("epoch_s.csv", time_unit="ms")
    # Named with --time-col, the first value out of range is named
    with pytest.raises(DataError, match=r"column 'time', row 2: '1704067200' is not Unix time in milliseconds .*pass --time-unit s"):
        load("epoch_s.csv", time_unit="ms", time_col="time")


def test_integer_dates_are_not_taken_for_epoch_time(tmp_path):
    """20240131 is a date written without separators, as before; never seconds since 1970."""
    path = tmp_path / "ymd.csv"
    path.write_text("day,a\n" + "".join(f"202401{d:02d},{d * d}\n" for d in range(25, 32)))
    series = load_dataset(path, DataOptions(time_col="day")).series[0]
    assert series.index[0] == pd.Timestamp("2024-01-25") and series.freq == "D"
    with pytest.raises(DataError, match="no column holds Unix time in seconds"):
        load_dataset(path, DataOptions(time_unit="s"))


@pytest.mark.parametrize(("column", "dates", "layout", "freq"), [
    ("year", [f"{y}" for y in range(1990, 2000)], "yyyy", "YS-JAN"),
    ("month", [f"2023{m:02d}" for m in range(3, 13)] + ["202401"], "yyyymm", "MS"),
    ("day", [f"202401{d:02d}" for d in range(22, 32)], "yyyymmdd", "D"),
])  # fmt: skip
def test_dates_written_as_numbers_are_suggested_and_read_with_time_col(tmp_path, column, dates, layout, freq):
    path = tmp_path / "numbers.csv"
    path.write_text(f"{column},a\n" + "".join(f"{d},{k * k % 7}\n" for k, d in enumerate(dates)))
    with pytest.raises(DataError, match=rf"column '{column}' looks like dates written as numbers \({layout}\); "
                                        rf"if it is, pass --time-col {column}$"):
        load_dataset(path, DataOptions())
    series = load_dataset(path, DataOptions(time_col=column)).series[0]
    assert series.index[0] == pd.Timestamp(f"{dates[0]}0101"[:8]) and len(series.index) == len(dates)
    assert pd.tseries.frequencies.to_offset(series.freq) == pd.tseries.frequencies.to_offset(freq)


def test_numbers_that_are_not_dates_are_not_suggested_as_the_time_column(tmp_path):
    # 4-digit measurements, and six digits whose last two are no month
    for values in (["1500", "1742", "2999", "1000"], ["201513", "201601", "201602", "201603"]):
        path = tmp_path / "values.csv"
        path.write_text("name,v\n" + "".join(f"x{k},{v}\n" for k, v in enumerate(values)))
        with pytest.raises(DataError, match="no column looks like timestamps; name it with --time-col$"):
            load_dataset(path, DataOptions())
    path.write_text("v,a\n201512,1\n201513,2\n201602,3\n")
    with pytest.raises(DataError, match=r"column 'v', row 3: '201513' is not a timestamp"):
        load_dataset(path, DataOptions(time_col="v"))


def days(n: int) -> list[str]:
    return list(pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"))


def test_spaces_and_quotes_around_header_names_are_not_part_of_them(tmp_path):
    path = tmp_path / "spaced.csv"
    path.write_text(' Date , "Sales (EUR)" , Temp\n' + "".join(f"{d} , {k % 7 + 0.5} , {k}\n" for k, d in enumerate(days(20))))
    dataset = load_dataset(path, DataOptions(targets=("Sales (EUR)",), covariates=("Temp",)))
    assert dataset.options.time_col == "Date" and [s.name for s in dataset.series] == ["Sales (EUR)"]
    assert dataset.series[0].values[:2].tolist() == [0.5, 1.5] and dataset.series[0].covariates[1, 0] == 1
    # read again with every column named (as after training, when only those columns are read)
    again = load_dataset(path, dataset.options)
    np.testing.assert_array_equal(again.series[0].values, dataset.series[0].values)


@pytest.mark.parametrize("ending", [",", ",,", ",\r"])
def test_lines_ending_in_separators_add_no_column(tmp_path, ending):
    path = tmp_path / "trailing.csv"
    path.write_text("date,sales" + ending + "\n" + "".join(f"{d},{k % 5}{ending}\n" for k, d in enumerate(days(20))))
    dataset = load_dataset(path, DataOptions())
    assert [s.name for s in dataset.series] == ["sales"]
    assert list(dataset.options.targets) == ["sales"]


def test_a_written_row_index_is_left_out(tmp_path):
    path = tmp_path / "indexed.csv"
    pd.DataFrame({"date": days(20), "sales": np.arange(20.0) % 6}).to_csv(path)  # index=True: ",date,sales"
    dataset = load_dataset(path, DataOptions())
    assert [s.name for s in dataset.series] == ["sales"]


def test_an_unnamed_column_of_values_and_a_name_given_twice_are_refused(tmp_path):
    path = tmp_path / "unnamed.csv"
    path.write_text(",sales\n" + "".join(f"{d},{k}\n" for k, d in enumerate(days(10))))
    with pytest.raises(DataError, match=r"column 1 has no name in the header but holds values \(row 2: "
                                        r"'2024-01-01'\); name it in the header$"):
        load_dataset(path, DataOptions())
    path.write_text("date,sales,sales\n" + "".join(f"{d},{k},{2 * k}\n" for k, d in enumerate(days(10))))
    with pytest.raises(DataError, match=r"column name 'sales' is in the header twice \(columns 2 and 3\); "
                                        r"give each column its own name$"):
        load_dataset(path, DataOptions())


def test_epoch_numbers_are_not_guessed_without_time_unit(tmp_path):
    with pytest.raises(DataError, match="looks like Unix time in seconds; if it is, pass --time-unit s"):
        load("epoch_without_unit.csv")
    with pytest.raises(DataError, match=r"column 'time', row 2: '1704067200' is not a timestamp; .* --time-unit s"):
        load("epoch_without_unit.csv", time_col="time")


def test_dayfirst_dates():
    series = load("dayfirst.csv", dayfirst=True).series[0]
    assert series.index.equals(pd.date_range("2024-01-25", periods=N, freq="D"))
    np.testing.assert_array_equal(series.values, LOAD)


def test_dayfirst_does_not_swap_iso_dates(tmp_path):
    path = tmp_path / "iso.csv"
    path.write_text("date,a\n" + "".join(f"2024-01-{d:02d},{d * d}\n" for d in range(1, 15)))
    series = load_dataset(path, DataOptions(dayfirst=True)).series[0]
    assert series.index.equals(pd.date_range("2024-01-01", periods=14, freq="D"))


def test_slash_dates_are_never_read_in_two_orders():
    """Parsed one by one, 01/02 would be 2 January and 13/02 13 February: refused instead."""
    with pytest.raises(DataError, match=r"row 14: '13/02/2024' .* pass --dayfirst"):
        load("dayfirst_without_flag.csv")
    series = load("dayfirst_without_flag.csv", dayfirst=True).series[0]
    assert series.index[0] == pd.Timestamp("2024-02-01") and series.freq == "D"


@pytest.mark.parametrize("dayfirst", [False, True])
@pytest.mark.parametrize("first_hour", [0, 1])
def test_midnight_written_as_a_date_alone_among_day_month_times(tmp_path, dayfirst, first_hour):
    """Spreadsheets write midnight as 02/03/2024 among 02/03/2024 01:00 (whichever comes first)."""
    hours = pd.date_range("2024-03-02", periods=72, freq="h")[first_hour:]
    day_month = "%d/%m/%Y" if dayfirst else "%m/%d/%Y"
    texts = [t.strftime(day_month if t.hour == 0 else day_month + " %H:%M") for t in hours]
    path = tmp_path / "excel.csv"
    path.write_text("time,load\n" + "".join(f"{t},{i}\n" for i, t in enumerate(texts)))
    series = load_dataset(path, DataOptions(dayfirst=dayfirst)).series[0]
    assert series.index.equals(pd.DatetimeIndex(hours)) and series.freq == "h"
    np.testing.assert_array_equal(series.values, np.arange(len(hours)))
    # read in the other order (no day above 12), the hint says which order spaces them evenly
    # (a gap of 720 steps was the error before)
    fix = "drop --dayfirst" if not dayfirst else "pass --dayfirst"
    with pytest.raises(DataError, match=rf"the dates are not evenly spaced, but read .* first they are \(step h\); {fix}"):
        load_dataset(path, DataOptions(dayfirst=not dayfirst))


def test_date_only_and_z_timestamps():
    series = load("utc_z.csv").series[0]
    assert str(series.index.tz) == "UTC" and series.index[0] == pd.Timestamp("2024-01-01T00:00Z")


# --- time zones and summer time -----------------------------------------------------------------


def berlin_export(tmp_path, start: str, end: str, freq: str = "h") -> tuple[Path, pd.DatetimeIndex]:
    """Consecutive instants written as Europe/Berlin local time with their UTC offset."""
    instants = pd.date_range(start, end, freq=freq, tz="UTC")
    local = instants.tz_convert("Europe/Berlin")
    path = tmp_path / "berlin.csv"
    values = np.arange(len(instants)) % 24 + np.arange(len(instants)) / 1000
    pd.DataFrame({"time": [t.isoformat() for t in local], "load": values}).to_csv(path, index=False)
    return path, instants


def test_berlin_hourly_series_across_both_summer_time_changes(tmp_path):
    path, instants = berlin_export(tmp_path, "2024-03-01T00:00Z", "2024-11-30T23:00Z")
    text = path.read_text()
    # The export really crosses both changes: 02:00 is skipped in March and doubled in October.
    assert "2024-03-31T02:00:00" not in text
    assert "2024-10-27T02:00:00+02:00" in text and "2024-10-27T02:00:00+01:00" in text
    series = load_dataset(path).series[0]
    # Regular in UTC: no hour invented in March, none merged (or called a duplicate) in October.
    assert series.freq == "h"
    assert len(series.index) == len(instants)
    assert series.index.equals(instants)
    assert not series.missing.any()
    np.testing.assert_array_equal(series.values, np.arange(len(instants)) % 24 + np.arange(len(instants)) / 1000)


def test_berlin_daily_series_keeps_its_local_dates(tmp_path):
    """Local midnights are 23 or 25 hours apart at a change: the dates are what counts."""
    days = pd.date_range("2024-03-25", "2024-04-05", freq="D", tz="Europe/Berlin")
    path = tmp_path / "daily.csv"
    path.write_text("time,a\n" + "".join(f"{t.isoformat()},{i * i}\n" for i, t in enumerate(days)))
    series = load_dataset(path).series[0]
    assert series.index.tz is None and series.freq == "D"
    assert series.index.equals(pd.date_range("2024-03-25", "2024-04-05", freq="D"))


def test_one_fixed_offset_keeps_it():
    series = load("berlin_spring.csv").series[0]
    assert series.index[0] == pd.Timestamp("2024-03-30T22:00Z")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("mixed_zones.csv", "the UTC offsets change in a way summer time does not (row 2"),
        ("naive_and_aware.csv", "some timestamps have a UTC offset and some have none (row 2: "),
    ],
)
def test_mixed_time_zones_are_refused_with_the_rows(name, fragment):
    with pytest.raises(DataError) as info:
        load(name)
    assert fragment in str(info.value) and "write every timestamp in UTC" in str(info.value)


def test_two_zones_at_the_same_instant_are_mixed(tmp_path):
    path = tmp_path / "two.csv"
    rows = [f"2024-01-01T{h:02d}:00+01:00,s1,{h}" for h in range(1, 6)]
    rows += [f"2024-01-01T{h - 1:02d}:00+00:00,s2,{h * 2}" for h in range(1, 6)]
    path.write_text("time,id,a\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match="mixes time zones"):
        load_dataset(path, DataOptions(id_col="id", targets=("a",)))


# --- options ------------------------------------------------------------------------------------


def test_new_options_round_trip_and_old_metadata_reads_as_defaults():
    options = DataOptions(time_col="t", targets=("a",), sep=";", decimal=",", thousands=".", dayfirst=True,
                          time_unit="ms")  # fmt: skip
    assert DataOptions.from_dict(json.loads(json.dumps(options.to_dict()))) == options
    old = {"time_col": "t", "id_col": None, "targets": ["a"], "covariates": [], "max_gap": 3, "on_duplicate": "error"}
    restored = DataOptions.from_dict(old)
    assert (restored.sep, restored.decimal, restored.thousands, restored.dayfirst, restored.time_unit) == (
        None, ".", None, False, None,
    )  # fmt: skip


@pytest.mark.parametrize(
    "kwargs",
    [{"sep": ";;"}, {"sep": "a"}, {"sep": '"'}, {"decimal": ";"}, {"thousands": "."}, {"thousands": "ab"},
     {"time_unit": "us"}, {"dayfirst": "yes"}],
)  # fmt: skip
def test_invalid_new_options(kwargs):
    with pytest.raises(ConfigError):
        DataOptions(**kwargs)


def test_tab_spellings():
    assert DataOptions(sep="tab").sep == DataOptions(sep="\\t").sep == "\t"


# --- local time without offsets: --tz -------------------------------------------------------------


def berlin_local_export(tmp_path, start: str, end: str, name: str = "local.csv") -> tuple[Path, pd.DatetimeIndex]:
    """Consecutive instants written as Europe/Berlin wall-clock time, without offsets (oldest first)."""
    instants = pd.date_range(start, end, freq="h", tz="UTC")
    local = instants.tz_convert("Europe/Berlin").tz_localize(None)
    path = tmp_path / name
    values = np.arange(len(instants)) % 24 + np.arange(len(instants)) / 1000
    pd.DataFrame({"time": local.strftime("%Y-%m-%d %H:%M"), "load": values}).to_csv(path, index=False)
    return path, instants


def test_local_berlin_time_without_offsets_is_read_with_tz(tmp_path):
    path, instants = berlin_local_export(tmp_path, "2024-03-30T00:00Z", "2024-10-28T23:00Z")
    lines = path.read_text().splitlines()
    # The export really is ambiguous: no 02:00 on 31 March, two on 27 October.
    assert not any(line.startswith("2024-03-31 02:00") for line in lines)
    assert sum(line.startswith("2024-10-27 02:00") for line in lines) == 2
    # Without --tz the doubled hour is a duplicate, and the error says what may read it
    with pytest.raises(DataError, match="2024-10-27 02:00 appears in rows .*; if the times are local with summer "
                                        r"time, pass their zone with --tz \(e.g. --tz Europe/Berlin\); else pass "
                                        "--on-duplicate"):
        load_dataset(path)

    series = load_dataset(path, DataOptions(tz="Europe/Berlin")).series[0]
    # Regular in UTC: no hour filled in March, none doubled in October, every value in its place.
    assert series.freq == "h" and str(series.index.tz) == "UTC"
    assert series.index.equals(instants)
    assert not series.missing.any()
    np.testing.assert_array_equal(series.values, np.arange(len(instants)) % 24 + np.arange(len(instants)) / 1000)
    # The first 02:00 of 27 October is summer time (00:00 UTC), the second standard time (01:00 UTC).
    at = {t: v for t, v in zip(series.index, series.values, strict=True)}
    first, second = (i for i, line in enumerate(lines) if line.startswith("2024-10-27 02:00"))
    assert at[pd.Timestamp("2024-10-27T00:00Z")] == float(lines[first].split(",")[1])
    assert at[pd.Timestamp("2024-10-27T01:00Z")] == float(lines[second].split(",")[1])


def test_the_hour_clocks_skip_in_spring_is_filled_with_a_hint_to_pass_the_zone(tmp_path):
    path, instants = berlin_local_export(tmp_path, "2024-03-25T00:00Z", "2024-04-05T23:00Z")
    messages = io.StringIO()
    series = load_dataset(path, reporter=Reporter(file=messages)).series[0]
    assert series.missing.sum() == 1  # 02:00 on 31 March, which the file cannot have
    warning = " ".join(messages.getvalue().split())
    assert ("at 2024-03-31 02:00; it is the hour clocks skip in spring in Europe/Berlin: if the times are local with "
            "summer time, pass their zone with --tz (e.g. --tz Europe/Berlin)") in warning
    # with gaps not filled at all, the refusal gives the same hint
    with pytest.raises(DataError, match=r"--max-gap or fix the data; it is the hour clocks skip in spring in "
                                        r"Europe/Berlin: .*--tz Europe/Berlin"):
        load_dataset(path, DataOptions(max_gap=0))
    # with the zone, there is nothing to fill
    quiet = io.StringIO()
    assert not load_dataset(path, DataOptions(tz="Europe/Berlin"), Reporter(file=quiet)).series[0].missing.any()
    assert quiet.getvalue() == ""
    # an hour lost on an ordinary day is filled without the hint
    frame = pd.read_csv(path)
    frame = frame[frame["time"] != "2024-03-28 11:00"]
    other = tmp_path / "other.csv"
    frame.to_csv(other, index=False)
    messages = io.StringIO()
    load_dataset(other, reporter=Reporter(file=messages))
    assert "filled 2 missing values in 2 gaps" in messages.getvalue() and "spring" not in messages.getvalue()


def test_duplicates_that_summer_time_cannot_explain_get_no_tz_hint(tmp_path):
    # a repeat in the afternoon, and one on a night of June: data doubled, not a clock change
    for stamp in ("2024-10-27 14:00", "2024-06-09 02:00"):
        start = pd.Timestamp(stamp) - pd.Timedelta(hours=5)
        times = list(pd.date_range(start, periods=10, freq="h").strftime("%Y-%m-%d %H:%M"))
        path = tmp_path / "doubled.csv"
        path.write_text("time,load\n" + "".join(f"{t},{k}\n" for k, t in enumerate(times[:6] + [stamp] + times[6:])))
        with pytest.raises(DataError, match=f"timestamp {stamp} appears in rows") as refused:
            load_dataset(path)
        assert "--tz" not in str(refused.value)


def test_tz_resolves_the_repeated_hour_per_series_of_a_long_file_and_newest_first(tmp_path):
    hours = ["00:00", "01:00", "02:00", "02:00", "03:00", "04:00"]
    rows = [f"2024-10-27 {h},{sid},{i * 10 + k}" for i, h in enumerate(hours) for k, sid in enumerate(("x", "y"))]
    path = tmp_path / "long.csv"
    path.write_text("time,id,a\n" + "\n".join(rows) + "\n")
    newest = tmp_path / "newest.csv"
    newest.write_text("time,id,a\n" + "\n".join(reversed(rows)) + "\n")
    expected = pd.date_range("2024-10-26T22:00Z", periods=6, freq="h")
    for file in (path, newest):
        series = by_name(load_dataset(file, DataOptions(id_col="id", targets=("a",), tz="Europe/Berlin")))
        for k, sid in enumerate(("x", "y")):
            assert series[sid].index.equals(expected), file.name
            np.testing.assert_array_equal(series[sid].values, np.arange(6) * 10 + k)


def test_a_time_the_clocks_skip_is_a_one_line_error_naming_the_row(tmp_path):
    path = tmp_path / "spring.csv"
    path.write_text("time,a\n2024-03-31 00:00,1\n2024-03-31 01:00,2\n2024-03-31 02:00,3\n2024-03-31 03:00,4\n")
    with pytest.raises(DataError) as info:
        load_dataset(path, DataOptions(tz="Europe/Berlin"))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: column 'time', row 4: '2024-03-31 02:00' does not exist in Europe/Berlin")


def test_a_repeated_hour_that_appears_once_cannot_be_told(tmp_path):
    path = tmp_path / "autumn.csv"
    path.write_text("time,a\n2024-10-27 01:00,1\n2024-10-27 02:00,2\n2024-10-27 03:00,3\n2024-10-27 04:00,4\n")
    with pytest.raises(DataError, match=r"column 'time', row 3: '2024-10-27 02:00' happens twice .* appears once"):
        load_dataset(path, DataOptions(tz="Europe/Berlin"))


def test_a_repeated_hour_at_a_series_end_or_start_is_the_one_before_or_after_the_change(tmp_path):
    # an export taken between the two 02:00s ends at the first (summer time); a rolling
    # export that starts at the second begins in standard time
    path, instants = berlin_local_export(tmp_path, "2024-10-25T00:00Z", "2024-10-28T23:00Z")
    lines = path.read_text().splitlines()
    first, second = [k for k, line in enumerate(lines) if line.startswith("2024-10-27 02:00")]
    ends = tmp_path / "ends.csv"
    ends.write_text("\n".join(lines[: first + 1]) + "\n")
    series = load_dataset(ends, DataOptions(tz="Europe/Berlin")).series[0]
    assert series.index.equals(instants[:first]) and series.index[-1] == pd.Timestamp("2024-10-27T00:00Z")
    starts = tmp_path / "starts.csv"
    starts.write_text("\n".join([lines[0], *lines[second:]]) + "\n")
    series = load_dataset(starts, DataOptions(tz="Europe/Berlin")).series[0]
    assert series.index.equals(instants[second - 1 :]) and series.index[0] == pd.Timestamp("2024-10-27T01:00Z")


def test_the_summer_time_hint_for_a_repeated_hour_names_a_zone_whose_clocks_go_back_then(tmp_path):
    # New York's clocks go back at 02:00 on 3 November 2024, to 01:00: that hour is repeated
    instants = pd.date_range("2024-11-01T00:00Z", "2024-11-05T00:00Z", freq="h", tz="UTC")
    local = instants.tz_convert("America/New_York").tz_localize(None)
    path = tmp_path / "eastern.csv"
    path.write_text("time,load\n" + "".join(f"{t:%Y-%m-%d %H:%M},{k % 24}\n" for k, t in enumerate(local)))
    with pytest.raises(DataError, match=r"timestamp 2024-11-03 01:00 appears in rows \d+ and \d+; if the times are "
                                        r"local with summer time, pass their zone with --tz \(e.g. --tz "
                                        r"America/New_York\)"):
        load_dataset(path)
    assert load_dataset(path, DataOptions(tz="America/New_York")).series[0].index.equals(instants)


def test_tz_converts_timestamps_with_offsets_and_keeps_daily_local_dates(tmp_path):
    path, instants = berlin_export(tmp_path, "2024-03-30T00:00Z", "2024-04-02T00:00Z")
    assert load_dataset(path, DataOptions(tz="Europe/Berlin")).series[0].index.equals(instants)
    days = tmp_path / "days.csv"
    days.write_text("time,a\n" + "".join(f"2024-03-{d:02d},{d * d}\n" for d in range(25, 32)))
    series = load_dataset(days, DataOptions(tz="Europe/Berlin")).series[0]
    assert series.index.tz is None and series.freq == "D"


@pytest.mark.parametrize("zone", ["Europe/Berln", "Berlin", "", "CEST+2"])
def test_an_unknown_time_zone_is_refused(zone):
    with pytest.raises(ConfigError, match="--tz must be a time zone name"):
        DataOptions(tz=zone)


def test_tz_round_trips_and_old_metadata_reads_without_it():
    options = DataOptions(time_col="t", targets=("a",), tz="Europe/Berlin")
    stored = json.loads(json.dumps(options.to_dict()))
    assert stored["tz"] == "Europe/Berlin"
    assert DataOptions.from_dict(stored) == options
    old = {k: v for k, v in options.to_dict().items() if k != "tz"}
    assert DataOptions.from_dict(old).tz is None


def test_train_with_tz_then_predict_on_the_same_local_file(tmp_path):
    from tests.conftest import read_metadata, run_cli

    path, instants = berlin_local_export(tmp_path, "2024-10-20T00:00Z", "2024-10-30T05:00Z")
    model_dir, forecast = tmp_path / "model", tmp_path / "forecast.csv"
    naive = ["--model", "naive", "--lookback", "4", "--horizon", "3", "--quiet"]
    result = run_cli("train", path, "--tz", "Europe/Berlin", "-m", model_dir, *naive)
    assert result.exit_code == 0, result.stderr
    metadata = read_metadata(model_dir)
    assert metadata["data_options"]["tz"] == "Europe/Berlin"
    assert metadata["series"][0]["n_steps"] == len(instants)

    # A fresh export read with the stored options: no --tz repeated.
    result = run_cli("predict", path, "-m", model_dir, "-o", forecast)
    assert result.exit_code == 0, result.stderr
    timestamps = pd.to_datetime(pd.read_csv(forecast)["timestamp"])
    assert timestamps.tolist() == list(pd.date_range(instants[-1], periods=4, freq="h")[1:])

    result = run_cli("train", path, "--tz", "Europe/Berln", "-m", tmp_path / "other", *naive)
    assert result.exit_code == 2 and "--tz must be a time zone name" in result.stderr
    assert "Europe/Berlin" in result.stderr and not (tmp_path / "other").exists()


def test_messages_about_data_from_stdin_say_standard_input(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from forecaster.cli import app

    monkeypatch.chdir(tmp_path)
    data = "time,load\n" + "".join(f"2024-01-01 {h:02d}:00,{h * h}\n" for h in range(10))
    naive = ["--model", "naive", "--lookback", "20", "--horizon", "5"]
    result = CliRunner().invoke(app, ["train", "-", "-m", "model", *naive], input=data)
    assert result.exit_code == 1
    assert "Error: standard input: series 'load' has 10 rows after cleaning" in result.stderr
    assert "-: series" not in result.stderr


# --- digit grouping and decimal marks that pandas would read silently ---------------------------


def german_whole_numbers(tmp_path, name="stueck.csv") -> Path:
    """Whole numbers as German exports write them: a dot groups thousands (1.163 is 1163)."""
    counts = [1000, 1163, 1208, 973, 930, 1096, 1250, 987, 1001, 1100]
    path = tmp_path / name
    path.write_text("Datum;Stueck\n" + "".join(
        f"{d + 1:02d}.01.2024;{f'{n:,}'.replace(',', '.')}\n" for d, n in enumerate(counts)))
    return path


def test_whole_numbers_grouped_with_a_dot_are_refused_as_ambiguous(tmp_path):
    path = german_whole_numbers(tmp_path)
    with pytest.raises(DataError, match=r"column 'Stueck': the dot may group thousands or be a decimal mark \(row 3: "
                                        r"'1.163' beside the whole number in row 5: '973'\); pass --thousands \. "
                                        r"--decimal , if the dot groups thousands"):
        load_dataset(path, DataOptions(dayfirst=True))
    series = load_dataset(path, DataOptions(dayfirst=True, thousands=".", decimal=",")).series[0]
    np.testing.assert_array_equal(series.values[:4], [1000, 1163, 1208, 973])
    # the way to say the dot is a decimal mark: name another grouping mark
    series = load_dataset(path, DataOptions(dayfirst=True, thousands=",")).series[0]
    np.testing.assert_array_equal(series.values[:4], [1.0, 1.163, 1.208, 973])


def test_with_decimal_comma_a_dot_is_never_a_decimal_mark(tmp_path):
    path = german_whole_numbers(tmp_path)
    with pytest.raises(DataError, match=r"column 'Stueck', row 2: '1.000' has a dot, which is not a decimal mark with "
                                        r"--decimal ,: pass --thousands \. if the dot groups thousands"):
        load_dataset(path, DataOptions(dayfirst=True, decimal=","))
    path.write_text("Datum;Wert\n01.01.2024;1,5\n02.01.2024;2.25\n03.01.2024;3,5\n")
    with pytest.raises(DataError, match=r"row 3: '2.25' has a dot, but the decimal mark is a comma"):
        load_dataset(path, DataOptions(dayfirst=True, decimal=","))


def test_ordinary_decimals_with_three_digits_are_not_taken_for_grouping(tmp_path):
    path = tmp_path / "decimals.csv"
    path.write_text("date;a\n2024-01-01;12.5\n2024-01-02;0.125\n2024-01-03;1.250\n2024-01-04;3\n2024-01-05;2.375\n")
    np.testing.assert_array_equal(load_dataset(path).series[0].values, [12.5, 0.125, 1.25, 3, 2.375])
    path.write_text("date;a\n2024-01-01;1.163\n2024-01-02;2.5\n2024-01-03;3\n")  # 2.5 is no grouping
    np.testing.assert_array_equal(load_dataset(path).series[0].values, [1.163, 2.5, 3])


@pytest.mark.parametrize(("cell", "mark", "decimal"), [('"1,16"', ",", "."), ('"12,3456"', ",", "."),
                                                       ("1.16,5", ".", ",")])
def test_digit_groups_after_a_thousands_separator_have_three_digits(tmp_path, cell, mark, decimal):
    path = tmp_path / "grouped.csv"
    sep = "," if decimal == "." else ";"
    path.write_text(f"date{sep}a\n2024-01-01{sep}{cell}\n2024-01-02{sep}5\n2024-01-03{sep}7\n")
    with pytest.raises(DataError, match=rf"row 2: '{cell.strip(chr(34))}' is not a number grouped in thousands "
                                        rf"\(--thousands '{re.escape(mark)}'\): each group after a separator has "
                                        "three digits"):
        load_dataset(path, DataOptions(thousands=mark, decimal=decimal))


def test_indian_grouping_reads_as_the_same_digits(tmp_path):
    path = tmp_path / "lakh.csv"
    path.write_text('date,a\n2024-01-01,"1,00,000"\n2024-01-02,"12,34,567.5"\n2024-01-03,"250,000"\n2024-01-04,7\n')
    np.testing.assert_array_equal(load_dataset(path, DataOptions(thousands=",")).series[0].values,
                                  [100000, 1234567.5, 250000, 7])


# --- series ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ids", [["0101", "0102"], ["1", "2", "3.0"], ["1E3", "1000", "12"], ["007", "7", "0700"],
                                 [" a1", "A1 "]])
def test_series_ids_are_read_as_written(tmp_path, ids):
    path = tmp_path / "long.csv"
    path.write_text("date,store,sales\n" + "".join(
        f"2024-01-{day:02d},{key},{k * 10 + day % 4}\n" for day in range(1, 9) for k, key in enumerate(ids)))
    dataset = load_dataset(path, DataOptions(id_col="store", targets=("sales",)))
    assert [s.name for s in dataset.series] == [key.strip() for key in ids]  # in order of first appearance
    assert [s.values[0] for s in dataset.series] == [10 * k + 1 for k in range(len(ids))]


@pytest.mark.parametrize("ids", [["a", "", "b"], ["", "", ""], ["", " ", ""]])
def test_an_empty_series_id_is_named_even_when_every_id_is(tmp_path, ids):
    path = tmp_path / "long.csv"
    path.write_text("date,store,sales\n" + "".join(
        f"2024-01-{day:02d},{key},{k * 10 + day % 4}\n" for day in range(1, 9) for k, key in enumerate(ids)))
    first = 2 + ids.index("")
    with pytest.raises(DataError, match=rf"column 'store', row {first}: the series id is empty; fill it or remove"):
        load_dataset(path, DataOptions(id_col="store", targets=("sales",)))


# --- timestamps that pandas would read in two orders, or date today -----------------------------------


def dated(tmp_path, header: str, stamps: list[str], name: str = "dates.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + "\n" + "".join(f"{stamp},{k * k % 7 + k}\n" for k, stamp in enumerate(stamps)))
    return path


def test_a_time_of_day_without_a_date_is_refused(tmp_path):
    path = dated(tmp_path, "time,value", [f"{h:02d}:{m:02d}" for h in range(2) for m in range(0, 60, 5)])
    for options in (DataOptions(), DataOptions(time_col="time")):
        with pytest.raises(DataError, match=r"column 'time', row 2: '00:00' is a time of day without a date; .*join "
                                            r"the two into one column"):
            load_dataset(path, options)


@pytest.mark.parametrize("hours", [1, 24])
def test_a_date_and_a_time_in_separate_columns_are_told_to_be_joined(tmp_path, hours):
    stamps = pd.date_range("2024-01-01", periods=48, freq=f"{hours}h")
    path = dated(tmp_path, "date,time,value", [f"{t:%Y-%m-%d},{t:%H:%M}" for t in stamps])
    with pytest.raises(DataError, match=r"the date and the time of day are in separate columns \('date' and 'time'\); "
                                        "join them into one column of timestamps"):
        load_dataset(path)
    if hours == 1:  # the time column is not taken for a series key
        with pytest.raises(DataError, match=r"appears in rows 2 and 3 .*separate columns \('date' and 'time'\)"):
            load_dataset(path, DataOptions(time_col="date"))


def test_two_digit_years_are_read_in_one_day_month_order(tmp_path):
    """pandas infers no format for 01/01/24 and read 02/01/24 as 1 February, 13/01/24 as 13 January."""
    days = pd.date_range("2024-01-01", "2024-03-31", freq="D")
    path = dated(tmp_path, "date,value", [f"{t:%d/%m/%y}" for t in days])
    with pytest.raises(DataError, match=r"row 14: '13/01/24' is not a timestamp in the day/month order of the first "
                                        r"one \('01/01/24', read month first\); .*pass --dayfirst"):
        load_dataset(path)
    assert load_dataset(path, DataOptions(dayfirst=True)).series[0].index.equals(days)
    path = dated(tmp_path, "date,value", [f"{t:%m/%d/%y}" for t in days])
    assert load_dataset(path).series[0].index.equals(days)


@pytest.mark.parametrize(("form", "dayfirst", "hint"), [
    ("%d/%m/%Y", False, "read month first; if the dates are written dd/mm/yyyy, pass --dayfirst"),
    ("%m/%d/%Y", True, r"read day first \(--dayfirst\); if the dates are written mm/dd/yyyy, leave --dayfirst out"),
])
def test_a_first_date_that_fits_only_the_other_order_is_not_compared_with_itself(tmp_path, form, dayfirst, hint):
    days = pd.date_range("2024-01-31", periods=6, freq="ME")
    path = dated(tmp_path, "month,value", [f"{t:{form}}" for t in days])
    with pytest.raises(DataError, match=rf"column 'month', row 2: '{days[0]:{form}}' is not a timestamp {hint}$"):
        load_dataset(path, DataOptions(dayfirst=dayfirst))


def test_iso_and_day_month_dates_in_one_column_are_refused(tmp_path):
    days = pd.date_range("2024-02-25", periods=10, freq="D")
    stamps = [f"{t:%Y-%m-%d}" if t.month == 2 else f"{t:%d/%m/%Y}" for t in days]
    for dayfirst in (False, True):
        with pytest.raises(DataError, match=r"column 'date' mixes date formats \(row 2: '2024-02-25', row 7: "
                                            r"'01/03/2024'\)"):
            load_dataset(dated(tmp_path, "date,value", stamps), DataOptions(dayfirst=dayfirst))


def test_monthly_dates_written_day_first_suggest_dayfirst(tmp_path):
    months = pd.date_range("2020-01-01", periods=36, freq="MS")
    path = dated(tmp_path, "month,value", [f"{t:%d/%m/%Y}" for t in months])
    with pytest.raises(DataError, match=r"column 'month': read month first \('01/01/2020' is 2020-01-01\), the dates "
                                        r"are not evenly spaced, but read day first they are \(step MS\); pass "
                                        "--dayfirst"):
        load_dataset(path)
    series = load_dataset(path, DataOptions(dayfirst=True)).series[0]
    assert series.index.equals(months) and series.freq == "MS"


def test_a_model_that_named_numeric_ids_as_numbers_still_finds_its_series(tmp_path):
    """Models trained before ids were read as written know 0101 as '101' and 1 (beside 3.0) as '1.0'."""
    for ids, trained in ((["0101", "0102"], ["101", "102"]), (["1", "2", "3.0"], ["1.0", "2.0", "3.0"]),
                         (["0101", "0102"], ["0101", "0102"])):
        path = tmp_path / "long.csv"
        path.write_text("date,store,sales\n" + "".join(
            f"2024-01-{day:02d},{key},{k * 10 + day % 4}\n" for day in range(1, 9) for k, key in enumerate(ids)))
        out = io.StringIO()
        dataset = load_dataset(path, DataOptions(id_col="store", targets=("sales",)), Reporter(file=out),
                               trained_model="model", known_series=set(trained))
        assert [s.name for s in dataset.series] == trained
        renamed = trained != ids
        assert ("model was trained when series keys were read as numbers, and names series "
                f"'{ids[0]}' as '{trained[0]}'; retrain it" in out.getvalue()) == renamed


def test_excels_separator_line_is_named_as_what_it_is(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("sep=;\ntime;v;c\n2024-01-01;1;2\n2024-01-02;2;3\n2024-01-03;4;1\n")
    with pytest.raises(DataError, match=r"line 1 \('sep=;'\) is Excel's note of the separator, not the header; "
                                        r"remove that line \(then pass --sep ';'"):
        load_dataset(str(path))


def test_quoted_day_month_dates_may_hold_spaces_and_a_dash_marks_no_value(tmp_path):
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    path = tmp_path / "spaced.csv"
    path.write_text("time,v\n" + "".join(f'" {t:%d/%m/%Y}",{i % 7 + 0.5 * i}\n' for i, t in enumerate(days)))
    assert load_dataset(str(path), DataOptions(dayfirst=True)).series[0].index.equals(days)
    # a dash for a missing value leaves the column as text: the dot is still checked
    path = tmp_path / "dash.csv"
    path.write_text("date,v\n2024-01-01,1.163\n2024-01-02,973\n2024-01-03,-\n2024-01-04,1.250\n2024-01-05,1.102\n")
    with pytest.raises(DataError, match="the dot may group thousands or be a decimal mark"):
        load_dataset(str(path))
    # beside whole numbers far below a thousand the dotted ones are decimals: fuel prices
    path = tmp_path / "fuel.csv"
    path.write_text("date,price\n2024-01-01,1.799\n2024-01-02,1.829\n2024-01-03,2\n2024-01-04,1.759\n2024-01-05,1.899\n")
    assert load_dataset(str(path)).series[0].values.tolist() == [1.799, 1.829, 2.0, 1.759, 1.899]


def test_a_time_of_day_beside_whole_timestamps_is_a_column_of_its_own(tmp_path):
    path = tmp_path / "shifts.csv"
    path.write_text("timestamp,load,shift_start\n" + "".join(
        f"2024-01-01 {h:02d}:00,{h % 5 + 1},{['06:00', '14:00', '22:00'][h // 8]}\n" for h in range(24)))
    dataset = load_dataset(str(path))
    assert dataset.options.time_col == "timestamp" and [s.name for s in dataset.series] == ["load"]
