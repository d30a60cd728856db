import io
import json
import os

import numpy as np
import pandas as pd
import pytest
from pandas.tseries.frequencies import to_offset

from forecaster.data import DataOptions, Dataset, dataset_from_pandas, future_index, load_dataset, seasonal_period
from forecaster.errors import ConfigError, DataError
from forecaster.report import Reporter


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def hourly(n, start="2024-01-01", **columns):
    """CSV text: a `time` column of n hours and the given columns (lists, None = empty)."""
    frame = pd.DataFrame({"time": pd.date_range(start, periods=n, freq="h").strftime("%Y-%m-%d %H:%M"), **columns})
    return frame.to_csv(index=False)


def same_freq(freq, alias):
    to_offset = pd.tseries.frequencies.to_offset
    return isinstance(freq, str) and to_offset(freq) == to_offset(alias)


def load(path, options=None):
    """Load with a reporter writing to a buffer; return the dataset and what was reported."""
    buf = io.StringIO()
    dataset = load_dataset(path, options or DataOptions(), Reporter(file=buf))
    return dataset, buf.getvalue()


def data_error(path, options, *parts):
    """Load, expect a DataError, check it is one line naming the file and each of ``parts``."""
    with pytest.raises(DataError) as info:
        load_dataset(path, options)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"
    return message


# --- reading the file -------------------------------------------------------------------------


def test_missing_file(tmp_path):
    data_error(str(tmp_path / "nope.csv"), DataOptions(), "file not found")


def test_directory_instead_of_file(tmp_path):
    data_error(str(tmp_path), DataOptions(), "directory")


@pytest.mark.parametrize("text", ["", "  \n\n \n"])
def test_empty_file(tmp_path, text):
    data_error(write(tmp_path, text), DataOptions(), "file is empty")


def test_header_only(tmp_path):
    data_error(write(tmp_path, "time,a\n"), DataOptions(), "has a header but no data rows")


def test_semicolon_separated_file_is_sniffed(tmp_path):
    dataset, _ = load(write(tmp_path, "time;a\n2024-01-01;1.5\n2024-01-02;2\n2024-01-03;3\n2024-01-04;4\n"))
    np.testing.assert_allclose(dataset.series[0].values, [1.5, 2, 3, 4])


def test_path_like_is_accepted_and_kept_for_messages(tmp_path):
    path = write(tmp_path, hourly(5, a=[1.0, 2, 3, 4, 5]))
    dataset = load_dataset(tmp_path / "data.csv")
    assert isinstance(dataset, Dataset) and dataset.path == os.fspath(tmp_path / "data.csv") == path


# --- columns ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options,flag,column",
    [
        (DataOptions(time_col="tme"), "--time-col", "tme"),
        (DataOptions(targets=("sale",)), "--target", "sale"),
        (DataOptions(covariates=("temp",)), "--covariate", "temp"),
        (DataOptions(id_col="store", targets=("a",)), "--id-col", "store"),
    ],
)
def test_named_column_that_does_not_exist(tmp_path, options, flag, column):
    path = write(tmp_path, hourly(5, a=[1.0, 2, 3, 4, 5], b=[2.0, 1, 2, 1, 2]))
    data_error(path, options, f"column '{column}' named by {flag} does not exist", "columns are: time, a, b")


@pytest.mark.parametrize(("options", "suggested"), [
    (DataOptions(time_col="Timestamp"), "timestamp"), (DataOptions(targets=("Sales",)), "sales"),
    (DataOptions(targets=("sales_eur",)), "sales_eu"), (DataOptions(covariates=("temprature",)), "temperature"),
    (DataOptions(targets=("weather",)), None),
])
def test_a_misspelled_column_name_gets_a_suggestion(tmp_path, options, suggested):
    text = "timestamp,sales,sales_eu,temperature\n" + "".join(f"2024-01-0{d},{d},{d * 2},{d % 3}\n" for d in range(1, 6))
    message = data_error(write(tmp_path, text), options, "does not exist",
                         "; columns are: timestamp, sales, sales_eu, temperature")
    assert (f"does not exist (did you mean '{suggested}'?); " in message) if suggested else "did you mean" not in message


def test_covariates_that_leave_nothing_to_forecast_say_so(tmp_path):
    path = write(tmp_path, hourly(4, a=[1.0, 2, 3, 4], b=[0, 1, 0, 1]))
    data_error(path, DataOptions(covariates=("a", "b")), "no column is left to forecast",
               "covariates ('a', 'b')", "--target")


@pytest.mark.parametrize("mark", ["-", "--", "\u2013", " - "])
def test_a_dash_is_a_missing_value(tmp_path, mark):
    path = write(tmp_path, hourly(6, a=["1", "2", mark, "4", "5", "6"]))
    dataset, said = load(path)
    assert dataset.series[0].missing.tolist() == [False, False, True, False, False, False]
    assert dataset.series[0].values[2] == 3.0 and "filled 1 missing value" in said


def test_long_file_with_several_numeric_columns_needs_targets(tmp_path):
    path = write(tmp_path, hourly(4, store=["x", "x", "y", "y"], a=[1.0, 2, 3, 4], b=[0, 1, 0, 1]))
    data_error(path, DataOptions(id_col="store"), "--target", "numeric columns: a, b")


def test_long_file_forecasts_its_one_numeric_column_and_says_so(tmp_path):
    # b is a covariate, note is text: a is the one column left to forecast
    text = hourly(6, store=["x", "x", "x", "y", "y", "y"], a=[1.0, 2, 3, 4, 5, 7], b=[0, 1, 0, 1, 1, 0],
                  note=["n"] * 6)
    dataset, said = load(write(tmp_path, text), DataOptions(id_col="store", covariates=("b",)))
    assert [(s.name, s.target) for s in dataset.series] == [("x", "a"), ("y", "a")]
    np.testing.assert_array_equal(dataset.series[1].values, [4, 5, 7])
    assert "Forecasting column 'a'" in said and "--target" in said
    assert dataset.options.targets == ("a",)


def test_column_with_two_roles(tmp_path):
    path = write(tmp_path, hourly(5, a=[1.0, 2, 3, 4, 5], b=[2.0, 1, 2, 1, 2]))
    data_error(path, DataOptions(targets=("a",), covariates=("a",)), "'a'", "--target", "--covariate")
    # every column named (as after training, when only those are read): still this message
    data_error(path, DataOptions(time_col="a", targets=("a",)), "column 'a' is named by both --time-col and "
               "--target; give it one role")


def test_time_column_is_detected_anywhere(tmp_path):
    frame = pd.DataFrame(
        {
            "region": ["north"] * 6,
            "value": [1.0, 3, 2, 5, 4, 6],
            "when": pd.date_range("2024-01-01", periods=6, freq="D").strftime("%Y-%m-%d"),
        }
    )
    dataset, log = load(write(tmp_path, frame.to_csv(index=False)))
    assert dataset.options.time_col == "when"
    assert dataset.options.targets == ("value",)
    assert [s.name for s in dataset.series] == ["value"]
    assert "ignoring non-numeric column 'region'" in log


def test_no_time_column(tmp_path):
    path = write(tmp_path, "name,a\nx,1\ny,2\nz,3\n")
    data_error(path, DataOptions(), "no column looks like timestamps", "--time-col")


@pytest.mark.parametrize("options", [DataOptions(covariates=("time",)), DataOptions(targets=("time", "a"))])
def test_the_time_column_given_another_role_is_named(tmp_path, options):
    path = write(tmp_path, "time,a\n2024-01-01,1\n2024-01-02,2\n2024-01-03,3\n")
    data_error(path, options, "column 'time' holds the timestamps but is named by --target, --covariate or --id-col",
               "leave it out of those")


def test_several_time_columns(tmp_path):
    text = "start,end,a\n2024-01-01,2024-01-02,1\n2024-01-02,2024-01-03,2\n2024-01-03,2024-01-04,3\n"
    data_error(write(tmp_path, text), DataOptions(), "'start'", "'end'", "choose one with --time-col")


def test_no_numeric_column(tmp_path):
    path = write(tmp_path, hourly(4, note=["a", "b", "c", "d"]))
    data_error(path, DataOptions(), "no numeric column to forecast")


# --- timestamps -------------------------------------------------------------------------------


def test_unparsable_timestamp_names_value_and_row(tmp_path):
    text = "time,a\n2024-01-01,1\n2024-01-02,2\nlast tuesday,3\n2024-01-04,4\n"
    data_error(write(tmp_path, text), DataOptions(time_col="time"), "column 'time', row 4", "'last tuesday'")


def test_empty_timestamp_names_row(tmp_path):
    text = "time,a\n2024-01-01,1\n,2\n2024-01-03,3\n2024-01-04,4\n"
    data_error(write(tmp_path, text), DataOptions(time_col="time"), "column 'time', row 3", "empty")


def test_mixed_time_zone_offsets(tmp_path):
    # two offsets four hours apart are two places, not a summer-time change
    text = "time,a\n2024-03-30T00:00+01:00,1\n2024-03-31T00:00+01:00,2\n2024-04-01T00:00+05:00,3\n"
    data_error(write(tmp_path, text), DataOptions(time_col="time"), "mixes time zones", "row 4")


def test_time_zone_is_kept(tmp_path):
    text = "time,a\n" + "".join(f"2024-01-01T{h:02d}:00+01:00,{h % 3}\n" for h in range(6))
    dataset, _ = load(write(tmp_path, text))
    series = dataset.series[0]
    assert series.index.tz is not None
    assert series.index[0] == pd.Timestamp("2024-01-01T00:00+01:00")
    assert series.index[0].utcoffset() == pd.Timedelta(hours=1)
    assert same_freq(series.freq, "h")


def test_unsorted_rows_are_sorted_and_rows_counted_in_the_file(tmp_path):
    # A blank line must not shift the row numbers used in messages.
    text = "time,a\n2024-01-03,3\n\n2024-01-01,1\n2024-01-02,2\n2024-01-04,1\n"
    dataset, _ = load(write(tmp_path, text))
    series = dataset.series[0]
    assert list(series.index.strftime("%Y-%m-%d")) == ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
    np.testing.assert_array_equal(series.values, [1, 2, 3, 1])
    assert series.first_row == 4


# --- numbers ----------------------------------------------------------------------------------


def test_text_in_target_names_column_row_and_value(tmp_path):
    sales = [str(i % 7) for i in range(20)]
    sales[15] = "abc"
    path = write(tmp_path, hourly(20, sales=sales))
    data_error(path, DataOptions(), "column 'sales', row 17: 'abc' is not a number; fix or remove that value")


def test_text_in_covariate(tmp_path):
    temp = ["1", "2", "3", "warm", "5"]
    path = write(tmp_path, hourly(5, a=[1.0, 2, 3, 4, 5], temp=temp))
    data_error(path, DataOptions(covariates=("temp",)), "column 'temp', row 5: 'warm' is not a number")


def test_padded_numbers_are_numbers(tmp_path):
    text = "time,a\n2024-01-01, 1 \n2024-01-02,2\n2024-01-03, \n2024-01-04,x4\n"
    data_error(write(tmp_path, text), DataOptions(), "column 'a', row 5: 'x4'")
    text = text.replace("x4", "4")
    dataset, _ = load(write(tmp_path, text))
    np.testing.assert_array_equal(dataset.series[0].values, [1, 2, 3, 4])


def test_infinity(tmp_path):
    path = write(tmp_path, hourly(5, a=["1", "2", "inf", "4", "5"]))
    data_error(path, DataOptions(), "column 'a', row 4", "finite")


def test_all_empty_column(tmp_path):
    path = write(tmp_path, hourly(5, a=[1.0, 2, 3, 4, 5], b=[None] * 5))
    data_error(path, DataOptions(), "column 'b'", "no values")


def test_a_constant_column_alone_is_refused_and_beside_others_kept(tmp_path):
    path = write(tmp_path, hourly(5, c=[3.0, 3, None, 3, 3]))
    data_error(path, DataOptions(), "column 'c' is constant (every value is 3.0)", "drop it")
    # an idle meter is trained on beside the others, so that it is still watched
    path = write(tmp_path, hourly(5, a=[1.0, 2, 3, 4, 5], c=[3.0, 3, None, 3, 3]))
    dataset, messages = load(path)
    assert [s.name for s in dataset.series] == ["a", "c"]
    assert "column 'c' is constant (every value is 3.0); such a series is forecast at its value, and " \
           "detect-anomalies flags a departure from it" in messages


def test_constant_series_in_long_file_names_the_id(tmp_path):
    frame = pd.DataFrame(
        {
            "time": list(pd.date_range("2024-01-01", periods=4, freq="D").strftime("%Y-%m-%d")) * 3,
            "store": ["s1"] * 4 + ["s2"] * 4 + ["s3"] * 4,
            "sales": [1.0, 2, 3, 4, 7, 7, 7, 7, 0, 0, 0, 0],
        }
    )
    path = write(tmp_path, frame.to_csv(index=False))
    dataset, messages = load(path, DataOptions(id_col="store", targets=("sales",)))
    assert [s.name for s in dataset.series] == ["s1", "s2", "s3"]
    assert "column 'sales' (series 's2') is constant (every value is 7.0) (and 1 more series)" in messages
    path = write(tmp_path, frame.iloc[4:].to_csv(index=False))
    data_error(path, DataOptions(id_col="store", targets=("sales",)), "column 'sales'", "'s2'", "constant")
    # reading for a trained model, such a series is forecast from the model's scaler: a store
    # closed for the days an export holds must not stop the forecast of the others
    kept = load_dataset(path, DataOptions(id_col="store", targets=("sales",)), trained_model="model")
    assert [s.name for s in kept.series] == ["s2", "s3"]


# --- layouts ----------------------------------------------------------------------------------


def test_wide_with_targets_and_shared_covariate(tmp_path):
    path = write(tmp_path, hourly(6, a=[1.0, 2, 3, 4, 5, 6], b=[6.0, 5, 4, 3, 2, 1], temp=[0.5, 1, 1, 2, 3, 5]))
    dataset, _ = load(path, DataOptions(covariates=("temp",)))
    assert dataset.options.targets == ("a", "b")
    assert dataset.options.time_col == "time"
    assert [(s.name, s.target) for s in dataset.series] == [("a", "a"), ("b", "b")]
    for series in dataset.series:
        assert same_freq(series.freq, "h")
        assert series.values.dtype == np.float64 and series.values.shape == (6,)
        assert series.covariates.shape == (6, 1)
        np.testing.assert_array_equal(series.covariates[:, 0], [0.5, 1, 1, 2, 3, 5])
        assert not series.missing.any()
        assert series.first_row == 2
    assert dataset.n_filled == 0


def test_long_with_several_ids_and_covariate(tmp_path):
    frame = pd.DataFrame(
        {
            "time": list(pd.date_range("2024-01-01", periods=5, freq="D").strftime("%Y-%m-%d")) * 2,
            "store": [7] * 5 + [3] * 5,
            "sales": [1.0, 2, 3, 4, 5, 9, 8, 7, 9, 8],
            "price": [1.0] * 5 + [2.0, 2, 3, 3, 2],
        }
    )
    frame = frame.sample(frac=1, random_state=0)  # order in the file must not matter
    path = write(tmp_path, frame.to_csv(index=False))
    dataset, _ = load(path, DataOptions(id_col="store", targets=("sales",), covariates=("price",)))
    by_name = {s.name: s for s in dataset.series}
    assert set(by_name) == {"7", "3"}
    np.testing.assert_array_equal(by_name["7"].values, [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(by_name["3"].covariates[:, 0], [2, 2, 3, 3, 2])
    assert all(same_freq(s.freq, "D") and s.target == "sales" for s in dataset.series)


def test_long_file_of_series_of_different_frequencies_is_refused_in_one_line(tmp_path):
    daily = pd.date_range("2024-01-01", periods=20, freq="D").strftime("%Y-%m-%d")
    weekly = pd.date_range("2024-01-07", periods=10, freq="W-SUN").strftime("%Y-%m-%d")
    frame = pd.DataFrame({"date": [*daily, *weekly], "store": ["a"] * 20 + ["b"] * 10,
                          "sales": np.arange(30.0) % 7})
    path = write(tmp_path, frame.to_csv(index=False))
    data_error(path, DataOptions(id_col="store", targets=("sales",)), "series 'a' has a step of D",
               "series 'b' of W-SUN", "train one model per frequency")


def test_long_with_several_targets_names_id_and_target(tmp_path):
    frame = pd.DataFrame(
        {
            "time": list(pd.date_range("2024-01-01", periods=4, freq="h").strftime("%Y-%m-%d %H:%M")) * 2,
            "id": ["a"] * 4 + ["b"] * 4,
            "x": [1.0, 2, 3, 4, 4, 3, 2, 1],
            "y": [5.0, 6, 5, 6, 1, 0, 1, 0],
        }
    )
    dataset, _ = load(write(tmp_path, frame.to_csv(index=False)), DataOptions(id_col="id", targets=("x", "y")))
    assert [s.name for s in dataset.series] == ["a/x", "a/y", "b/x", "b/y"]
    assert dataset.series[3].first_row == 6


# --- gaps -------------------------------------------------------------------------------------


def test_short_gaps_are_filled_and_marked(tmp_path):
    a = [1.0, None, None, 4, 5, 6, None, 8, 9, 10]
    # row 5 (03:00) is absent from the file altogether
    text = hourly(10, a=a, temp=[1.0, 2, None, 4, 5, 6, 7, 8, 9, 10])
    lines = text.splitlines(keepends=True)
    del lines[4]
    dataset, log = load(write(tmp_path, "".join(lines)), DataOptions(covariates=("temp",)))
    series = dataset.series[0]
    assert len(series.index) == 10 and same_freq(series.freq, "h")
    np.testing.assert_allclose(series.values, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    np.testing.assert_array_equal(series.missing, [0, 1, 1, 1, 0, 0, 1, 0, 0, 0])
    np.testing.assert_allclose(series.covariates[:, 0], np.arange(1, 11))
    assert dataset.n_filled == 4 + 2  # target: 3 + 1; covariate: 03:00 absent and 02:00 empty
    assert "filled 6 missing values in 3 gaps of at most 3 steps (--max-gap), the first in column 'a' at " \
           "2024-01-01 01:00" in log


def test_leading_and_trailing_missing_values_are_trimmed(tmp_path):
    path = write(tmp_path, hourly(7, a=[None, None, 1.0, 2, 3, 4, None], b=[1.0, 2, 3, 4, 5, 6, 7]))
    dataset, log = load(path)
    a = dataset.series[0]
    assert a.index[0] == pd.Timestamp("2024-01-01 02:00") and len(a.values) == 4
    assert not a.missing.any()
    assert a.first_row == 4
    assert len(dataset.series[1].values) == 7
    assert "series 'a': dropped 2 leading and 1 trailing step(s)" in log


def test_too_long_gap(tmp_path):
    load_values = [float(i % 5) for i in range(20)]
    load_values[5:12] = [None] * 7
    path = write(tmp_path, hourly(20, start="2024-03-01", load=load_values))
    data_error(
        path,
        DataOptions(),
        "column 'load': 7 consecutive missing steps from 2024-03-01 05:00 to 2024-03-01 11:00 (after row 6)",
        "--max-gap 3",
    )
    dataset, _ = load(path, DataOptions(max_gap=7))
    assert dataset.series[0].missing.sum() == 7


def test_too_long_gap_in_long_file_names_the_series(tmp_path):
    times = pd.date_range("2024-01-01", periods=10, freq="h")
    keep = [0, 1, 2, 8, 9]  # 5 absent timestamps
    frame = pd.DataFrame(
        {
            "time": list(times.strftime("%Y-%m-%d %H:%M")) + list(times[keep].strftime("%Y-%m-%d %H:%M")),
            "store": ["s1"] * 10 + ["store_3"] * 5,
            "load": [float(i % 4) for i in range(10)] + [1.0, 2, 3, 4, 5],
        }
    )
    path = write(tmp_path, frame.to_csv(index=False))
    data_error(
        path,
        DataOptions(id_col="store", targets=("load",)),
        "column 'load' (series 'store_3'): 5 consecutive",
        "row 14",
    )


# --- duplicates -------------------------------------------------------------------------------

DUPLICATED = "time,a,b\n2024-01-01,1,5\n2024-01-02,2,6\n2024-01-03,3,7\n2024-01-02,4,\n2024-01-04,5,8\n"


def test_duplicate_timestamps_are_an_error(tmp_path):
    data_error(write(tmp_path, DUPLICATED), DataOptions(), "2024-01-02", "rows 3 and 5", "--on-duplicate")


def test_a_long_file_read_without_its_id_column_is_told_which_column_to_pass(tmp_path):
    long = "time,store,load\n2024-01-01,x,1\n2024-01-01,y,5\n2024-01-02,x,2\n2024-01-02,y,6\n"
    data_error(write(tmp_path, long), DataOptions(), "rows 2 and 3", "if column 'store' tells the series apart, "
               "pass --id-col store; else pass --on-duplicate")
    # a column that repeats within a timestamp too keys nothing: only combining is offered
    message = data_error(write(tmp_path, long.replace(",y,", ",x,")), DataOptions(), "rows 2 and 3", "--on-duplicate")
    assert "--id-col" not in message


def test_a_numeric_id_column_is_suggested_too(tmp_path):
    # store numbers are read as a target of a wide file; their few values repeat at each time
    long = "time,store_id,load\n" + "".join(f"2024-01-0{d},{store},{d * store % 7}.5\n"
                                            for d in range(1, 6) for store in (101, 102, 103))
    data_error(write(tmp_path, long), DataOptions(), "rows 2 and 3", "if column 'store_id' tells the series apart, "
               "pass --id-col store_id; else pass --on-duplicate")
    # whole numbers that differ at every row (counts) are no key
    counts = "time,visits,load\n" + "".join(f"2024-01-0{d},{d * 10 + k},{d * k % 7}.5\n"
                                            for d in range(1, 6) for k in range(3))
    message = data_error(write(tmp_path, counts), DataOptions(), "--on-duplicate")
    assert "--id-col" not in message


@pytest.mark.parametrize(
    "how,a,b_filled",
    # mean skips the empty cell; last keeps the whole last row, whose empty b is then filled
    [("mean", 3.0, False), ("first", 2.0, False), ("last", 4.0, True)],
)
def test_duplicate_timestamps_combined(tmp_path, how, a, b_filled):
    dataset, _ = load(write(tmp_path, DUPLICATED), DataOptions(on_duplicate=how))
    series_a, series_b = dataset.series
    assert len(series_a.index) == 4 and series_a.index.is_unique
    assert series_a.values[1] == a and series_b.values[1] == 6.0
    assert series_b.missing[1] == b_filled


# --- frequency --------------------------------------------------------------------------------


@pytest.mark.parametrize("freq,season", [("h", 24), ("D", 7), ("15min", 96), ("MS", 12), ("W-SUN", 52), ("B", 5)])
def test_frequency_inferred_with_and_without_a_hole(tmp_path, freq, season):
    index = pd.date_range("2024-01-01", periods=30, freq=freq)
    # spelled as the installed pandas spells it ("h" in pandas >= 2.2, "H" before)
    expected = pd.tseries.frequencies.to_offset(freq).freqstr
    values = np.sin(np.arange(30.0))
    full = pd.DataFrame({"time": index.strftime("%Y-%m-%d %H:%M"), "y": values})
    for frame in (full, full.drop(index=[10])):
        dataset, _ = load(write(tmp_path, frame.to_csv(index=False)))
        series = dataset.series[0]
        assert series.freq == expected and json.loads(json.dumps(series.freq)) == expected
        assert len(series.index) == 30 and series.missing.sum() == len(full) - len(frame)
        assert seasonal_period(series.freq) == season


def test_month_end_with_a_missing_month(tmp_path):
    index = pd.date_range("2023-01-31", periods=12, freq=pd.offsets.MonthEnd()).delete(4)
    text = pd.DataFrame({"time": index.strftime("%Y-%m-%d"), "y": np.arange(11.0) ** 2}).to_csv(index=False)
    series = load(write(tmp_path, text))[0].series[0]
    assert isinstance(pd.tseries.frequencies.to_offset(series.freq), pd.offsets.MonthEnd)
    assert len(series.index) == 12 and series.missing[4]


def test_timestamps_off_the_grid(tmp_path):
    text = "time,a\n" + "".join(f"2024-01-01 {h:02d}:00,{h}\n" for h in range(6)) + "2024-01-01 06:30,1\n"
    text += "2024-01-01 07:00,2\n"
    data_error(write(tmp_path, text), DataOptions(), "not on a regular grid", "row 8", "2024-01-01 06:30", "resample")


def test_fewer_than_three_rows(tmp_path):
    data_error(write(tmp_path, "time,a\n2024-01-01,1\n2024-01-02,2\n"), DataOptions(), "at least 3")


def test_seasonal_period_table():
    # offsets rather than aliases: pandas 2.1 spells them "H", "T", "AS-JAN", "M"
    o = pd.offsets
    expected = [
        (o.Hour(), 24), (o.Day(), 7), (o.BusinessDay(), 5), (o.Week(weekday=6), 52), (o.MonthBegin(), 12),
        (o.MonthEnd(), 12), (o.QuarterBegin(startingMonth=1), 4), (o.YearBegin(), 1), (o.Minute(15), 96),
        (o.Minute(5), 288), (o.Minute(30), 48), (o.Hour(2), 12), (o.Second(), 60), (o.Day(7), 52), (o.Hour(5), 1),
    ]  # fmt: skip
    assert [(offset.freqstr, seasonal_period(offset.freqstr)) for offset, _ in expected] == [
        (offset.freqstr, season) for offset, season in expected
    ]


def test_future_index_hourly():
    index = future_index(pd.Timestamp("2024-01-01 23:00"), "h", 3)
    assert list(index) == list(pd.date_range("2024-01-02 00:00", periods=3, freq="h"))


def test_future_index_monthly():
    index = future_index(pd.Timestamp("2024-11-01"), "MS", 3)
    assert list(index.strftime("%Y-%m-%d")) == ["2024-12-01", "2025-01-01", "2025-02-01"]


def test_future_index_keeps_time_zone():
    last = pd.Timestamp("2024-03-30 00:00", tz="Europe/Berlin")
    index = future_index(last, "D", 2)
    assert str(index.tz) == "Europe/Berlin"
    # across the switch to summer time, days stay at local midnight
    assert list(index.strftime("%Y-%m-%d %H:%M")) == ["2024-03-31 00:00", "2024-04-01 00:00"]
    assert len(future_index(last, "h", 0)) == 0


# --- options ----------------------------------------------------------------------------------


def test_options_round_trip_through_json():
    options = DataOptions(time_col="t", id_col="store", targets=("a", "b"), covariates=("c",), max_gap=5,
                          on_duplicate="mean")  # fmt: skip
    assert DataOptions.from_dict(json.loads(json.dumps(options.to_dict()))) == options
    assert DataOptions.from_dict(json.loads(json.dumps(DataOptions().to_dict()))) == DataOptions()


def test_resolved_options_reread_the_same_file(tmp_path):
    path = write(tmp_path, hourly(6, a=[1.0, 2, 3, 4, 5, 6], b=[6.0, 5, 4, 3, 2, 1]))
    first = load(path)[0]
    again = load(path, DataOptions.from_dict(json.loads(json.dumps(first.options.to_dict()))))[0]
    assert again.options == first.options
    assert [s.name for s in again.series] == ["a", "b"]


@pytest.mark.parametrize("kwargs", [{"on_duplicate": "median"}, {"max_gap": -1}])
def test_invalid_options(kwargs):
    with pytest.raises(ConfigError):
        DataOptions(**kwargs)


def test_unknown_option_key():
    with pytest.raises(ConfigError, match="colour"):
        DataOptions.from_dict({"colour": "red"})


def test_series_in_memory_are_read_as_a_wide_file_of_those_columns(tmp_path):
    index = pd.date_range("2024-01-01", periods=50, freq="h")
    rng = np.random.default_rng(0)
    columns = {"load": pd.Series(rng.normal(100, 5, 50), index), "temp": pd.Series(rng.normal(10, 1, 50), index)}
    in_memory = dataset_from_pandas(columns)
    frame = pd.DataFrame({"time": index.strftime("%Y-%m-%d %H:%M"), **{k: v.to_numpy() for k, v in columns.items()}})
    from_file = load_dataset(write(tmp_path, frame.to_csv(index=False, float_format="%.17g")),
                             DataOptions(targets=("load", "temp")))
    assert in_memory.shown == "(in memory)" and in_memory.options.targets == ("load", "temp")
    for a, b in zip(in_memory.series, from_file.series, strict=True):
        assert (a.name, a.target, same_freq(a.freq, "h")) == (b.name, b.target, True)
        assert a.index.equals(b.index)
        np.testing.assert_array_equal(a.values, b.values)
        assert a.covariates.shape == (50, 0) and not a.missing.any()
    # without a frequency, one pandas can infer
    assert same_freq(dataset_from_pandas({"x": pd.Series(np.arange(5.0), list(index[:5]))}).series[0].freq, "h")


def test_series_in_memory_newest_first_are_read_in_time_order():
    index = pd.date_range("2024-01-01", periods=6, freq="h")
    series = dataset_from_pandas({"x": pd.Series(np.arange(6.0), index).iloc[::-1]}).series[0]
    assert series.index.equals(index) and series.values.tolist() == [0, 1, 2, 3, 4, 5]


def test_series_in_memory_of_other_time_zones_constant_or_not_series_are_refused():
    index = pd.date_range("2024-01-01", periods=6, freq="h")
    wave = pd.Series(np.sin(np.arange(6.0)), index)
    with pytest.raises(DataError, match="series 'x' is in time zone UTC but series 'y' in none \\(naive times\\)"):
        dataset_from_pandas({"x": wave.tz_localize("UTC"), "y": wave})
    with pytest.raises(DataError, match="in time zone UTC but series 'y' in Asia/Tokyo"):
        dataset_from_pandas({"x": wave.tz_localize("UTC"), "y": wave.tz_localize("Asia/Tokyo")})
    with pytest.raises(DataError, match="series 'c' is constant \\(every value is 5.0\\)"):
        dataset_from_pandas({"c": pd.Series(5.0, index)})
    assert [s.name for s in dataset_from_pandas({"x": wave, "c": pd.Series(5.0, index)}).series] == ["x", "c"]
    with pytest.raises(TypeError, match=r"not DataFrame; for a DataFrame's columns, pass dict\(frame.items\(\)\)"):
        dataset_from_pandas(pd.DataFrame({"x": wave}))
    with pytest.raises(TypeError, match="series 'x' is a list, not a pandas Series"):
        dataset_from_pandas({"x": [1.0, 2.0]})


def test_series_in_memory_off_a_regular_grid_or_with_a_gap_are_refused():
    index = pd.date_range("2024-01-01", periods=6, freq="h")
    with pytest.raises(DataError, match="sensors: series 'x' is not on a regular time grid"):
        dataset_from_pandas({"x": pd.Series(np.arange(5.0), index.delete(2))}, "sensors")
    with pytest.raises(DataError, match="series 'x' has a missing or infinite value at 2024-01-01 03:00:00"):
        dataset_from_pandas({"x": pd.Series([1.0, 2.0, 3.0, np.nan, 5.0, 6.0], index)})
    with pytest.raises(DataError, match="series 'x' is indexed by RangeIndex, not by time"):
        dataset_from_pandas({"x": pd.Series(np.arange(6.0))})
    with pytest.raises(DataError, match="series 'x' holds (str|object) values, not numbers"):
        dataset_from_pandas({"x": pd.Series(list("abcdef"), index)})
    with pytest.raises(DataError, match="no series given"):
        dataset_from_pandas({})
    weekly = pd.date_range("2024-01-07", periods=6, freq="W-SUN")
    with pytest.raises(DataError, match="series 'x' has a step of h but series 'w' of W-SUN; .* one frequency"):
        dataset_from_pandas({"x": pd.Series(np.arange(6.0), index), "w": pd.Series(np.arange(6.0), weekly)})
    # a caller's name with a line break still gives a one-line message, as a file's column would
    with pytest.raises(DataError) as refused:
        dataset_from_pandas({"x\r\ny": pd.Series(np.arange(6.0))})
    assert str(refused.value).splitlines() == ["(in memory): series 'x\\ny' is indexed by RangeIndex, not by time; "
                                               "give it a DatetimeIndex (pandas.to_datetime)"]


# --- rows, ids and hints that were read silently ----------------------------------------------------


def test_rows_with_fewer_fields_are_read_with_empty_cells_and_quoted_fields_may_span_lines(tmp_path):
    # Excel leaves out the separators of a row's empty last cells; a comment may hold line breaks
    text = ('date,sales,note\n2024-01-01,10,opening\n2024-01-02,11\n2024-01-03,12,"Meter replaced.\n\n'
            'Ticket 4711"\n2024-01-04,,\n2024-01-05,14,\n')
    dataset, messages = load(write(tmp_path, text), DataOptions(time_col="date", targets=("sales",)))
    assert dataset.series[0].values.tolist() == [10, 11, 12, 13, 14]
    assert "filled 1 missing value" in messages


def test_a_fill_for_anomaly_scoring_uses_no_value_after_the_gap():
    from forecaster.data import _fill_from_the_past

    values = np.array([9.0, 1, 2, 3, 1, 2, 3, np.nan, np.nan, np.nan, np.nan, 100.0])
    missing = np.isnan(values)
    filled = _fill_from_the_past(np.where(missing, 55.0, values), missing, first=0, season=3)
    # a season back, the filled steps feeding later ones; the 100 after the gap plays no part
    assert filled.tolist() == [9, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 100]
    # within the first season after the first present value, the last value is held
    filled = _fill_from_the_past(np.array([5.0, 0, 0, 7]), np.array([False, True, True, False]), first=0, season=24)
    assert filled.tolist() == [5, 5, 5, 7]



@pytest.mark.parametrize(("missing_at_end", "told"), [(2, "filled 2 missing values in 1 gap"),
                                                      (6, "column 'temp': 6 missing steps from")])
def test_a_covariate_missing_up_to_the_end_is_told_of_when_filled_for_scoring(tmp_path, missing_at_end, told):
    # the temperature feed stopped before the load's: scoring fills it, and says so, as training does
    temp = [f"{20 + h % 5}" for h in range(48)]
    temp[-missing_at_end:] = [""] * missing_at_end
    text = "timestamp,load,temp\n" + "".join(
        f"{t},{100 + h % 24},{temp[h]}\n" for h, t in enumerate(pd.date_range("2024-01-01", periods=48, freq="h")))
    path = write(tmp_path, text)
    options = DataOptions(targets=("load",), covariates=("temp",))
    buf = io.StringIO()
    dataset = load_dataset(path, options, Reporter(file=buf), long_gaps="fill")
    assert told in " ".join(buf.getvalue().split())
    series = dataset.series[0]
    assert series.covariates_missing[-missing_at_end:].all() and not np.isnan(series.covariates).any()


# --- a long file's series whose rows stop before the file's end (anomaly scoring) ---------------


def long_hosts(tmp_path, hours, freq="h", start="2024-01-01", stamp="%Y-%m-%d %H:%M", name="hosts.csv"):
    """A long file `timestamp,host,rps,cpu`: each host's rows over the first ``hours[host]``
    steps of one grid (a slice ``(first, stop)`` for a host starting late)."""
    rows = []
    for h, (host, span) in enumerate(hours.items()):
        first, stop = span if isinstance(span, tuple) else (0, span)
        index = pd.date_range(start, periods=stop, freq=freq)[first:]
        steps = np.arange(first, stop)
        rows.append(pd.DataFrame({"timestamp": index.strftime(stamp), "host": host,
                                  "rps": 100 + 10 * h + (steps % 24) + 0.5 * (steps % 7),
                                  "cpu": 20 + h + (steps % 5) * 1.5}))
    path = tmp_path / name
    pd.concat(rows).to_csv(path, index=False)
    return str(path)


def load_filled(path, options):
    buf = io.StringIO()
    dataset = load_dataset(path, options, Reporter(file=buf), long_gaps="fill")
    return {s.name: s for s in dataset.series}, " ".join(buf.getvalue().split())


def test_a_series_whose_rows_stop_before_the_files_end_is_written_up_to_it_as_missing_for_scoring(tmp_path):
    # web2 stopped sending rows five hours ago; web1 goes on: for scoring, web2's last five
    # steps are missing, as they are when it sends rows with empty cells
    path = long_hosts(tmp_path, {"web1": 48, "web2": 43})
    options = DataOptions(id_col="host", targets=("rps",), covariates=("cpu",))
    series, told = load_filled(path, options)
    end = pd.Timestamp("2024-01-02 23:00")
    assert series["web1"].index[-1] == end and not series["web1"].missing.any()
    web2 = series["web2"]
    assert web2.index[-1] == end and len(web2.index) == 48
    assert web2.index.equals(series["web1"].index)
    assert web2.missing[-5:].all() and not web2.missing[:-5].any()
    # its covariate is filled from the past, as an empty cell's is, and marked missing
    assert web2.covariates_missing[-5:, 0].all() and not np.isnan(web2.covariates).any()
    assert not np.isnan(web2.values).any()
    assert ("column 'rps' (series 'web2'): no value in its last 5 steps, 2024-01-02 19:00 to 2024-01-02 23:00: "
            "written as missing, not scored") in told
    assert "column 'cpu' (series 'web2'): 5 missing steps from 2024-01-02 19:00" in told
    assert "web1" not in told

    # the same as the rows with empty cells
    frame = pd.read_csv(path)
    web2_rows = frame[frame["host"] == "web1"].assign(host="web2", rps=np.nan, cpu=np.nan).iloc[43:]
    empty = tmp_path / "empty.csv"
    pd.concat([frame, web2_rows]).to_csv(empty, index=False)
    as_empty, _ = load_filled(str(empty), options)
    np.testing.assert_array_equal(as_empty["web2"].missing, web2.missing)
    np.testing.assert_array_equal(as_empty["web2"].covariates_missing, web2.covariates_missing)
    np.testing.assert_allclose(as_empty["web2"].covariates, web2.covariates)

    # training and forecasting end it at its last row
    for long_gaps in ("refuse", "recent"):
        dataset = load_dataset(path, options, long_gaps=long_gaps)
        assert {s.name: s.index[-1] for s in dataset.series}["web2"] == pd.Timestamp("2024-01-02 18:00")


def test_a_series_stopping_early_with_several_targets_a_calendar_frequency_or_a_zone(tmp_path):
    # two targets: each of web2's series is written up to the file's end
    path = long_hosts(tmp_path, {"web1": 30, "web2": 27})
    series, told = load_filled(path, DataOptions(id_col="host", targets=("rps", "cpu")))
    for name in ("web2/rps", "web2/cpu"):
        assert series[name].index[-1] == series["web1/rps"].index[-1] and series[name].missing[-3:].all()
    assert "column 'cpu' (series 'web2'): no value in its last 3 steps" in told

    # monthly, a calendar offset: store b's last two months have no row
    path = long_hosts(tmp_path, {"a": 24, "b": 22}, freq="MS", stamp="%Y-%m-%d", name="monthly.csv")
    series, told = load_filled(path, DataOptions(id_col="host", targets=("rps",)))
    assert series["b"].index[-1] == pd.Timestamp("2025-12-01") and series["b"].missing[-2:].all()
    assert "(series 'b'): no value in its last 2 steps, 2025-11-01 to 2025-12-01" in told

    # local times in a zone, across the switch to summer time
    path = long_hosts(tmp_path, {"web1": 48, "web2": 45}, start="2024-03-30", freq="h", name="zoned.csv")
    frame = pd.read_csv(path)
    frame = frame[frame["timestamp"] != "2024-03-31 02:00"]  # the hour the clocks skip
    frame.to_csv(path, index=False)
    series, told = load_filled(path, DataOptions(id_col="host", targets=("rps",), tz="Europe/Berlin"))
    assert series["web2"].index[-1] == series["web1"].index[-1] and series["web2"].missing[-3:].all()
    assert series["web2"].index.equals(series["web1"].index)
    assert "(series 'web2'): no value in its last 3 steps" in told


def test_a_series_stopping_long_before_the_files_end_or_off_its_grid_ends_at_its_last_row(tmp_path):
    # web3 sent ten rows and then none for 38 hours: not written 38 steps on, but told of;
    # web4 reports at half past, so the file's end is not one of its steps
    path = long_hosts(tmp_path, {"web1": 48, "web3": 10})
    frame = pd.read_csv(path)
    web4 = frame[frame["host"] == "web1"].iloc[:40].assign(host="web4")
    web4["timestamp"] = (pd.to_datetime(web4["timestamp"]) + pd.Timedelta(minutes=30)).dt.strftime("%Y-%m-%d %H:%M")
    pd.concat([frame, web4]).to_csv(path, index=False)
    series, told = load_filled(path, DataOptions(id_col="host", targets=("rps",)))
    assert series["web3"].index[-1] == pd.Timestamp("2024-01-01 09:00") and not series["web3"].missing.any()
    assert ("series 'web3': no row after 2024-01-01 09:00, 38 steps before the file's end at 2024-01-02 23:00: "
            "not written beyond its last row") in told
    assert series["web4"].index[-1] == pd.Timestamp("2024-01-02 15:30") and not series["web4"].missing.any()
    assert "web4" not in told


def test_the_warning_on_series_a_model_does_not_know_counts_series_not_keys(tmp_path):
    path = long_hosts(tmp_path, {"web1": 30, "web2": 30, "web3": 30, "web4": 30})
    buf = io.StringIO()
    dataset = load_dataset(path, DataOptions(id_col="host", targets=("rps", "cpu")), Reporter(file=buf),
                           trained_model="model", known_series=["web1/rps", "web1/cpu", "web2/rps", "web2/cpu"])
    assert sorted(s.name for s in dataset.series) == ["web1/cpu", "web1/rps", "web2/cpu", "web2/rps"]
    told = " ".join(buf.getvalue().split())
    assert "4 series not in the training data of model (e.g. 'web3/rps'); skipping them" in told


def test_keys_that_pandas_would_read_as_missing_are_series_of_their_own(tmp_path):
    # ISO country codes: Namibia is NA; an empty key is still refused, a value of NA still missing
    rows = [f"2024-01-{day:02d},{country},{value}" for country in ("DE", "NA", "None", "null") for day, value in
            zip(range(1, 31), [*range(10, 20), "NA", *range(21, 40)])]
    path = write(tmp_path, "date,country,sales\n" + "\n".join(rows) + "\n")
    dataset, _ = load(path, DataOptions(id_col="country", targets=("sales",)))
    assert [s.name for s in dataset.series] == ["DE", "NA", "None", "null"]
    assert all(int(s.missing.sum()) == 1 for s in dataset.series)  # the value written NA
    empty = write(tmp_path, "date,country,sales\n2024-01-01,,1\n2024-01-02,DE,2\n", "empty.csv")
    data_error(empty, DataOptions(id_col="country"), "column 'country', row 2: the series id is empty")


@pytest.mark.parametrize("before", ["\n", "\n\n", "   \n", "\ufeff\r\n"], ids=["blank", "two", "spaces", "bom"])
def test_blank_lines_before_the_header_are_skipped(tmp_path, before):
    text = hourly(30, load=list(range(30)))
    plain, _ = load(write(tmp_path, text, "plain.csv"))
    path = write(tmp_path, before + text.replace("12:00,12", "12:00,x"), "blank.csv")
    data_error(path, DataOptions(), f"row {14 + before.count(chr(10))}: 'x' is not a number")
    dataset, _ = load(write(tmp_path, before + text))
    assert np.array_equal(dataset.series[0].values, plain.series[0].values)
    assert dataset.series[0].index.equals(plain.series[0].index)


@pytest.mark.parametrize(("texts", "parts"), [
    (["Jan-19", "Feb-19", "Mar-19"], ["row 2: 'Jan-19' reads as 0001-01-19, outside the years 1678 to 2261",
                                     "write Jan-2019 or 2019-01"]),
    (["2024-01-01", "2024-02-01", "3024-03-01"], ["row 4: '3024-03-01' reads as 3024-03-01", "fix that value"]),
])  # fmt: skip
def test_a_timestamp_outside_the_years_timestamps_hold_is_named_with_its_row(tmp_path, texts, parts):
    """Excel's default month format (mmm-yy) read as days of the year 1, and the message named
    neither a row nor a value: 'has timestamps outside 1677-2262'."""
    path = tmp_path / "months.csv"
    pd.DataFrame({"month": texts, "sales": [1.0, 2.0, 3.0]}).to_csv(path, index=False)
    data_error(path, DataOptions(), "column 'month', ", *parts)


def test_local_month_starts_written_in_utc_get_the_tz_hint(tmp_path):
    """A Berlin business's month starts exported in UTC (23:00Z in winter, 22:00Z in summer):
    'resample the data first' was the only remedy, where --tz reads them by their dates."""
    starts = pd.date_range("2018-01-01", periods=30, freq="MS", tz="Europe/Berlin").tz_convert("UTC")
    path = tmp_path / "months.csv"
    pd.DataFrame({"month": starts.strftime("%Y-%m-%dT%H:%M:%SZ"), "sales": np.arange(30.0)}).to_csv(path, index=False)
    data_error(path, DataOptions(), "is between grid points", "pass --tz with their zone (--tz Europe/Berlin) to read "
               "them by their local dates; else resample the data first")
    dataset, _ = load(path, DataOptions(tz="Europe/Berlin"))
    assert dataset.series[0].freq == "MS" and len(dataset.series[0].values) == 30


def test_monthly_dates_in_mid_month_are_told_which_days_a_month_is_read_on(tmp_path):
    path = tmp_path / "months.csv"
    days = pd.date_range("2020-01-01", periods=24, freq="MS") + pd.Timedelta(days=14)
    pd.DataFrame({"month": days.strftime("%Y-%m-%d"), "sales": np.arange(24.0)}).to_csv(path, index=False)
    data_error(path, DataOptions(), "cannot infer the frequency", "monthly, quarterly and yearly dates must each be the "
               "period's first or last day (write 2024-01-01 or 2024-01-31 for January, not 2024-01-15)")


@pytest.mark.parametrize(("freq", "start"), [("SMS", "2020-01-01"), ("SME", "2020-01-15")])
def test_semi_monthly_data_are_read_twice_a_month_and_forecast_so(tmp_path, freq, start):
    """Payroll figures on the 1st and 15th were read on a 2-week grid, and refused as off it."""
    index = pd.date_range(start, periods=60, freq=freq)
    path = tmp_path / "semi.csv"
    pd.DataFrame({"date": index.strftime("%Y-%m-%d"), "paid": np.arange(60.0)}).to_csv(path, index=False)
    dataset, _ = load(path)
    (series,) = dataset.series
    assert to_offset(series.freq) == to_offset(f"{freq}-15") and len(series.values) == 60
    assert seasonal_period(series.freq) == 24
    assert list(future_index(index[-1], series.freq, 3)) == list(pd.date_range(index[-1], periods=4, freq=freq)[1:])
