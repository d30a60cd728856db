"""Output files: written whole or not at all, and never in place of what is not a plain file."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from forecaster.errors import ForecasterError
from forecaster.outputs import atomic_output


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_output(target) as handle:
        handle.write("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old\n" and os.listdir(tmp_path) == ["out.csv"]


def test_temporary_files_left_by_killed_runs_are_removed_but_not_those_being_written(tmp_path):
    import fcntl

    def leftover(name, age):
        path = tmp_path / name
        path.write_text("half")
        os.utime(path, (path.stat().st_atime - age, path.stat().st_mtime - age))
        return path

    killed = leftover(".out.csv.k3j2_x.tmp", 3600)  # a SIGKILL during the write, an hour ago
    fresh = leftover(".out.csv.a1b2c3.tmp", 0)  # just created by a run about to lock it
    other = leftover(".other.csv.q9w8e7.tmp", 3600)  # another output's
    writing = leftover(".out.csv.z0y9x8.tmp", 3600)  # a run still writing, slowly
    with open(writing, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with atomic_output(tmp_path / "out.csv") as handle:
            handle.write("new\n")
    assert (tmp_path / "out.csv").read_text() == "new\n"
    assert not killed.exists()
    assert fresh.exists() and other.exists() and writing.exists()


@pytest.mark.parametrize("exists", [True, False])
def test_a_symbolic_link_stays_a_link_and_its_file_is_replaced(tmp_path, exists):
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "forecast.csv"
    if exists:
        real.write_text("old\n")
    link = tmp_path / "latest.csv"
    link.symlink_to(real)
    with atomic_output(link) as handle:
        handle.write("new\n")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new\n"
    assert sorted(os.listdir(tmp_path / "real")) == ["forecast.csv"]  # no temporary file left there


def test_a_named_pipe_is_written_to_not_replaced(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()))
    reader.start()
    with atomic_output(pipe) as handle:
        handle.write("series,step\na,1\n")
    reader.join(timeout=10)
    assert received == ["series,step\na,1\n"]
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)


def test_a_pipe_that_cannot_take_the_data_is_named_in_one_line(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    # the reader opens the pipe and closes it at once: writing then fails with a broken pipe
    reader = threading.Thread(target=lambda: open(pipe, "rb").close())
    reader.start()
    with pytest.raises(ForecasterError, match=rf"^cannot write '{pipe}': Broken pipe$"), atomic_output(pipe, True) as handle:
        reader.join(timeout=10)
        handle.write(b"x" * (1 << 20))
        handle.flush()
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)


def test_a_link_to_a_directory_is_refused_under_the_name_given(tmp_path):
    link = tmp_path / "out.csv"
    link.symlink_to(tmp_path)
    with pytest.raises(ForecasterError, match=rf"output '{link}' is a directory"), atomic_output(link):
        pass


def test_a_full_standard_output_is_named_in_the_error():
    import io

    import pandas as pd

    from forecaster.outputs import write_csv

    class Full(io.StringIO):
        def write(self, text):
            raise OSError(28, "No space left on device")

    with pytest.raises(ForecasterError, match="^cannot write standard output: No space left on device$"):
        write_csv(pd.DataFrame({"a": [1]}), None, stdout=Full())


def test_a_model_directory_given_as_a_link_stays_a_link_and_predict_may_write_to_one(tmp_path):
    from .conftest import read_metadata, run_cli
    from .test_cli import small_hourly_csv

    data = small_hourly_csv(tmp_path / "data.csv")
    (tmp_path / "models").mkdir()
    current = tmp_path / "current"
    current.symlink_to(tmp_path / "models" / "v1")  # not there yet: the first training makes it
    linear = ("--model", "linear", "--lookback", 24, "--horizon", 6, "-q")
    for seed in (1, 2):
        result = run_cli("train", data, "-m", current, "--seed", seed, *linear)
        assert result.exit_code == 0, result.stderr
        assert current.is_symlink() and read_metadata(tmp_path / "models" / "v1")["train_options"]["seed"] == seed
    assert sorted(os.listdir(tmp_path / "models")) == ["v1"]  # no leftover staging or lock
    latest = tmp_path / "latest.csv"
    latest.symlink_to(tmp_path / "models" / "forecast.csv")
    assert run_cli("predict", "-m", current, "-o", latest).exit_code == 0
    assert latest.is_symlink() and (tmp_path / "models" / "forecast.csv").read_text().startswith("series,")


def test_whole_numbers_are_written_as_the_data_had_them(tmp_path):
    import numpy as np
    import pandas as pd

    from forecaster.outputs import write_csv

    frame = pd.DataFrame({"value": [11.0, 0.0, np.nan], "expected": [10.5, 0.25, 3.0], "actual": [1.0, 2.0**60, 3.0],
                          "series": ["a", "b", "c"], "score": [0.0, 0.0, 2.0]})
    write_csv(frame, tmp_path / "out.csv")
    # a computed column stays decimal even when its rows happen to be whole (--last's few)
    assert (tmp_path / "out.csv").read_text().splitlines() == [
        "value,expected,actual,series,score", "11,10.5,1.0,a,0.0", "0,0.25,1.152921504606847e+18,b,0.0",
        ",3.0,3.0,c,2.0"]
    back = pd.read_csv(tmp_path / "out.csv")
    np.testing.assert_array_equal(back["value"], frame["value"])  # the same numbers


def test_a_replaced_output_keeps_the_permissions_the_operator_gave_it(tmp_path):
    target = tmp_path / "forecast.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    with atomic_output(target) as handle:
        handle.write("new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    fresh = tmp_path / "fresh.csv"
    with atomic_output(fresh) as handle:
        handle.write("x\n")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask  # a new file as any other


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".CSV.GZ"])
def test_an_output_is_compressed_as_its_name_says_as_pandas_reads_it(tmp_path, suffix):
    import pandas as pd

    from forecaster.outputs import write_csv

    frame = pd.DataFrame({"series": ["a", "b"], "forecast": [1.5, 2.25]})
    target = tmp_path / f"out{suffix}"
    write_csv(frame, target)
    assert os.listdir(tmp_path) == [target.name]  # no temporary file left
    pd.testing.assert_frame_equal(pd.read_csv(target), frame)  # pandas infers the compression from the name
    plain = target.read_bytes() == b"series,forecast\na,1.5\nb,2.25\n"
    assert plain == (suffix == ".csv")


def test_a_compressed_output_names_its_own_file_inside_not_the_temporary_one(tmp_path):
    import gzip
    import zipfile

    import pandas as pd

    from forecaster.outputs import write_csv

    frame = pd.DataFrame({"a": [1]})
    for name in ("out.csv.gz", "OUT.CSV.GZ", "out.csv.zip", "out.zip"):
        write_csv(frame, tmp_path / name)
    # a gzip header holds the original name, which `gunzip -N` restores
    for name, original in (("out.csv.gz", b"out.csv\x00"), ("OUT.CSV.GZ", b"OUT.CSV\x00")):
        header = (tmp_path / name).read_bytes()[:30]
        assert original in header and b".tmp" not in header
        assert header[4:8] == bytes(4)  # no time: the same rows give the same bytes
    assert zipfile.ZipFile(tmp_path / "out.csv.zip").namelist() == ["out.csv"]
    assert zipfile.ZipFile(tmp_path / "out.zip").namelist() == ["out.csv"]
    assert gzip.open(tmp_path / "out.csv.gz").read() == b"a\n1\n"
    # a tar archive (which reading a file would not open) is refused by name
    for name in ("out.tar.gz", "out.csv.tgz", "OUT.TAR"):
        with pytest.raises(ForecasterError, match=f"output '.*{name}': a tar archive is not written; name a .csv"):
            write_csv(frame, tmp_path / name)
    assert sorted(os.listdir(tmp_path)) == sorted(["out.csv.gz", "OUT.CSV.GZ", "out.csv.zip", "out.zip"])


def test_a_compression_that_cannot_be_written_is_refused_before_any_work(tmp_path):
    import importlib.util

    from .conftest import run_cli
    from .test_cli import small_hourly_csv

    if importlib.util.find_spec("zstandard") is not None:
        pytest.skip("zstandard is installed: .zst outputs can be written")
    data = small_hourly_csv(tmp_path / "data.csv")
    result = run_cli("evaluate", data, "--model", "linear", "-o", tmp_path / "rows.csv.zst")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (f"Error: output '{tmp_path / 'rows.csv.zst'}': .zst compression needs the zstandard "
                             "package, which is not installed; name a .csv, .csv.gz, .csv.bz2, .csv.xz or .csv.zip "
                             "file, or install zstandard\n")
    assert os.listdir(tmp_path) == ["data.csv"]


def test_predict_detect_anomalies_and_evaluate_write_gzip_for_a_gz_name(tmp_path):
    import gzip

    from .conftest import run_cli
    from .test_cli import small_hourly_csv

    data = small_hourly_csv(tmp_path / "data.csv")
    linear = ("--model", "linear", "--lookback", 24, "--horizon", 6)
    assert run_cli("train", data, "-m", tmp_path / "model", *linear, "-q").exit_code == 0
    commands = {"predict": ("predict", "-m", tmp_path / "model"),
                "detect-anomalies": ("detect-anomalies", "-m", tmp_path / "model"),
                "evaluate": ("evaluate", data, *linear, "--folds", 1, "--json")}
    for name, command in commands.items():
        target = tmp_path / f"{name}.csv.gz"
        result = run_cli(*command, "-o", target, "-q")
        assert result.exit_code == 0, result.stderr
        to_stdout = run_cli(*command, "-o", "-", "-q") if name != "evaluate" else None
        written = gzip.decompress(target.read_bytes()).decode()
        assert written.startswith("series,")
        if to_stdout is not None:
            assert written == to_stdout.stdout
