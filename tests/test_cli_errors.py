"""Bad input through the CLI: exit codes, one-line messages, and nothing written or overwritten.

Every data, model or configuration error must exit 1 with exactly one line on stderr that
starts with ``Error:``, names the file as the user gave it (and the column and the file line,
header = line 1, where there is one) and says what to do; a malformed command line exits 2.
A failed command creates no model directory or output file and leaves existing ones
byte-identical.

Most cases fail before TensorFlow is imported. The few that need a trained model share one
tiny model, trained once for the module.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecaster.cli import app

N_ROWS = 24 * 10
HEADER = "timestamp,load,temperature"
COLUMNS = "columns are: timestamp, load, temperature"
TINY = ["--epochs", "1", "--units", "4", "--lookback", "24", "--horizon", "6", "--seed", "0", "--quiet"]
# Relative, inside a folder: the message must show the path as given, not resolved or shortened.
DATA = "in/data.csv"
KNOWN_OUTPUT = b"series,timestamp,step,forecast,lower,upper\nkeep,me,1,2,3,4\n"


# --- helpers ----------------------------------------------------------------------------------


def run(*args: object):
    """Invoke the CLI in-process; the result has ``exit_code``, ``stdout`` and ``stderr`` apart."""
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_one_line_error(result, *fragments: str) -> str:
    """Exit 1, stdout empty, stderr one ``Error:`` line without a traceback holding each fragment."""
    detail = f"exit {result.exit_code}, stderr {result.stderr!r}, exception {result.exception!r}"
    assert result.exit_code == 1, detail
    assert "Traceback" not in result.stderr, detail
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, detail
    assert message.startswith("Error: "), detail
    assert result.stdout == "", f"stdout {result.stdout!r}"
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def assert_usage_error(result, *fragments: str) -> None:
    """Exit 2, and the offending option named on one line, the last, after the usage line."""
    detail = f"exit {result.exit_code}, stderr {result.stderr!r}, exception {result.exception!r}"
    assert result.exit_code == 2, detail
    assert "Traceback" not in result.stderr, detail
    assert result.stdout == "", f"stdout {result.stdout!r}"
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("Usage: "), detail
    assert lines[-1].startswith("Error: "), detail
    for fragment in fragments:
        assert fragment in lines[-1], f"{fragment!r} not in {lines[-1]!r}"


def hourly_frame(n: int = N_ROWS, freq: str = "h") -> pd.DataFrame:
    """Load with a daily cycle and a lagged temperature, plus noise from a fixed seed."""
    rng = np.random.default_rng(0)
    daily = np.sin(2 * np.pi * np.arange(n) / 24)
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=n, freq=freq).strftime("%Y-%m-%d %H:%M"),
            "load": (100 + 10 * daily + rng.normal(0, 1, n)).round(3),
            "temperature": (15 + 5 * np.roll(daily, 6) + rng.normal(0, 0.5, n)).round(3),
        }
    )


def good_lines(n: int = N_ROWS) -> list[str]:
    """The good file's lines; ``lines[k - 1]`` is file line k, line 2 is 2024-01-01 00:00."""
    return hourly_frame(n).to_csv(index=False, lineterminator="\n").splitlines()


def set_cell(lines: list[str], line: int, column: str, value: str) -> list[str]:
    """A copy of ``lines`` with ``column`` on file line ``line`` (header = 1) set to ``value``."""
    lines = list(lines)
    cells = lines[line - 1].split(",")
    cells[lines[0].split(",").index(column)] = value
    lines[line - 1] = ",".join(cells)
    return lines


def set_column(lines: list[str], column: str, value: str) -> list[str]:
    for line in range(2, len(lines) + 1):
        lines = set_cell(lines, line, column, value)
    return lines


def with_duplicate(lines: list[str], line: int, exact: bool = False) -> list[str]:
    """File line ``line`` repeated right after itself: its time with another load (a
    conflict), or ``exact``ly (a row sent twice)."""
    time, load, *rest = lines[line - 1].split(",")
    repeat = lines[line - 1] if exact else ",".join([time, f"{float(load) + 1:.3f}", *rest])
    return lines[:line] + [repeat] + lines[line:]


def write(path: str | Path, content: str | list[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else "\n".join(content) + "\n", encoding="utf-8")
    return path


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones too) by relative path, with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def listing(root: Path) -> list[str]:
    """Every path under ``root``, so that stray model directories or temporary files show."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Run each test in its own directory: relative paths as a user types them, and a stray
    default ``forecaster-model`` would land here, not in the repository."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@dataclass
class Trained:
    model_dir: Path
    data: Path
    result: object


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trained:
    """The one model of this module, trained on good hourly data in which file line 31 repeats
    line 30, so that this training run is also the ``--on-duplicate mean`` success case."""
    root = tmp_path_factory.mktemp("trained")
    data = write(root / "train.csv", with_duplicate(good_lines(), 30))
    model_dir = root / "model"
    result = run(
        "train", data, "-m", model_dir, "--target", "load", "--covariate", "temperature",
        "--on-duplicate", "mean", *TINY,
    )  # fmt: skip
    assert result.exit_code == 0, f"stderr {result.stderr!r}, exception {result.exception!r}"
    return Trained(model_dir=model_dir, data=data, result=result)


# --- train: bad data files --------------------------------------------------------------------

DIRECTORY = object()  # stands for "make DATA a directory"

NO_NUMBERS = ["timestamp,name"] + [f"2024-01-01 {h:02d}:00,unit-{h}" for h in range(12)]
BLANK_LINE_THEN_TEXT = set_cell(good_lines(), 7, "load", "abc")
BLANK_LINE_THEN_TEXT.insert(2, "")  # a blank file line 3: 'abc' moves to file line 8
DECIMAL_COMMA = set_cell(good_lines(), 101, "temperature", "12,5")  # one field too many on line 101
TARGET_AND_COVARIATE = ["--target", "load", "--covariate", "temperature"]
# Reading notes ("ignoring non-numeric column", "combined duplicate rows") must not join the error.
WITH_NOTE_COLUMN = [f"{line},{'note' if i == 0 else 'ok'}" for i, line in enumerate(set_cell(good_lines(), 7, "load", "abc"))]
GAP_AND_DUPLICATE = with_duplicate(good_lines()[:19] + good_lines()[25:], 40)

TRAIN_DATA_CASES = [
    # id, content of DATA (None: no file), extra options, fragments the message must hold
    ("missing file", None, [], ["file not found"]),
    ("directory", DIRECTORY, [], ["is a directory", "give the path of the file itself"]),
    ("empty file", "", [], ["file is empty"]),
    ("only blank lines", "\n \n\n", [], ["file is empty"]),
    ("header only", HEADER + "\n", [], ["has a header but no data rows"]),
    ("decimal comma", DECIMAL_COMMA, [], ["cannot be read as CSV", "line 101", "check quoting"]),
    ("no numeric column", NO_NUMBERS, [], ["no numeric column to forecast", "'name'", "column of numbers"]),
    (
        "text in target row 7",
        set_cell(good_lines(), 7, "load", "abc"),
        [],
        ["column 'load', row 7: 'abc' is not a number", "fix or remove that value"],
    ),
    (
        "text in covariate row 100",
        set_cell(good_lines(), 100, "temperature", "1.2.3"),
        TARGET_AND_COVARIATE,
        ["column 'temperature', row 100: '1.2.3' is not a number", "fix or remove that value"],
    ),
    ("row is the file line past a blank line", BLANK_LINE_THEN_TEXT, [], ["column 'load', row 8: 'abc'"]),
    (
        "unparsable timestamp row 9",
        set_cell(good_lines(), 9, "timestamp", "2024-13-45 25:00"),
        [],
        ["column 'timestamp', row 9: '2024-13-45 25:00' is not a timestamp", "fix or remove that value"],
    ),
    (
        "empty timestamp row 12",
        set_cell(good_lines(), 12, "timestamp", ""),
        [],
        ["column 'timestamp', row 12: the timestamp is empty", "fill it or remove the row"],
    ),
    ("all-NaN target", set_column(good_lines(), "load", ""), ["--target", "load"], ["column 'load' has no values"]),
    (
        "all-NaN covariate",
        set_column(good_lines(), "temperature", ""),
        TARGET_AND_COVARIATE,
        ["column 'temperature' has no values", "leave it out"],
    ),
    ("constant target", set_column(good_lines(), "load", "5"), TARGET_AND_COVARIATE,
     ["column 'load' is constant", "drop it"]),
    (
        "inf in target row 11",
        set_cell(good_lines(), 11, "load", "inf"),
        [],
        ["column 'load', row 11: inf is not a finite number", "fix or remove that value"],
    ),
    (
        "-inf in covariate row 50",
        set_cell(good_lines(), 50, "temperature", "-inf"),
        TARGET_AND_COVARIATE,
        ["column 'temperature', row 50: -inf is not a finite number"],
    ),
    (
        "shorter than lookback + horizon",
        good_lines(50),
        ["--lookback", "48", "--horizon", "24"],
        ["series 'load' has 50 rows", "needs at least 96", "lookback 48 + horizon 24", "smaller --lookback / --horizon"],
    ),
    ("unknown --target", good_lines(), ["--target", "nope"], ["column 'nope' named by --target does not exist", COLUMNS]),
    (
        "columns listed with commas in one --target",
        good_lines(),
        ["--target", "load,temperature"],
        ["column 'load,temperature' named by --target does not exist", COLUMNS,
         "--target names one column: repeat it for several (--target load --target temperature)"],
    ),
    ("unknown --covariate", good_lines(), ["--covariate", "nope"], ["column 'nope' named by --covariate", COLUMNS]),
    ("unknown --time-col", good_lines(), ["--time-col", "nope"], ["column 'nope' named by --time-col", COLUMNS]),
    (
        "unknown --id-col",
        good_lines(),
        ["--id-col", "nope", "--target", "load"],
        ["column 'nope' named by --id-col", COLUMNS],
    ),
    (
        # file lines 20-25 (18:00 to 23:00) are missing: 6 steps, the default --max-gap is 3
        "gap longer than --max-gap",
        good_lines()[:19] + good_lines()[25:],
        [],
        ["column 'load'", "6 consecutive missing steps from 2024-01-01 18:00 to 2024-01-01 23:00", "after row 19",
         "at most --max-gap 3", "pass a larger --max-gap"],
    ),  # fmt: skip
    (
        "gap of 3 with --max-gap 2",
        good_lines()[:29] + good_lines()[32:],
        ["--max-gap", "2"],
        ["3 consecutive missing steps from 2024-01-02 04:00 to 2024-01-02 06:00", "after row 29", "--max-gap 2"],
    ),
    (
        "duplicate timestamp",
        with_duplicate(good_lines(), 30),
        [],
        ["timestamp 2024-01-02 04:00 appears in rows 30 and 31", "--on-duplicate mean|last|first"],
    ),
    ("text column ignored, then a bad cell", WITH_NOTE_COLUMN, [], ["column 'load', row 7: 'abc'"]),
    ("duplicates combined, then a gap", GAP_AND_DUPLICATE, ["--on-duplicate", "mean"], ["6 consecutive missing steps"]),
]


@pytest.mark.parametrize(("content", "options", "fragments"), [c[1:] for c in TRAIN_DATA_CASES],
                         ids=[c[0] for c in TRAIN_DATA_CASES])  # fmt: skip
def test_train_rejects_bad_data_in_one_line_and_writes_nothing(in_tmp_path, content, options, fragments):
    if content is DIRECTORY:
        Path(DATA).mkdir(parents=True)
    elif content is not None:
        write(DATA, content)
    before = listing(in_tmp_path)

    result = run("train", DATA, "-m", "model", *options)

    assert_one_line_error(result, f"Error: {DATA}: ", *fragments)
    assert listing(in_tmp_path) == before  # no model directory, no staging directory


def test_quiet_still_prints_the_error(in_tmp_path):
    write(DATA, set_cell(good_lines(), 7, "load", "abc"))
    result = run("train", DATA, "-m", "model", "--quiet")
    assert_one_line_error(result, f"{DATA}: column 'load', row 7")
    assert not Path("model").exists()


def test_absolute_path_is_named_as_given(in_tmp_path):
    missing = in_tmp_path / "sub" / "missing.csv"
    assert_one_line_error(run("train", missing, "-m", "model"), f"Error: {missing}: file not found")


def test_rows_sent_twice_are_dropped_with_a_warning(in_tmp_path):
    """An export re-run or a retried append repeats rows exactly: nothing to choose between."""
    write(DATA, with_duplicate(with_duplicate(good_lines(), 30, exact=True), 60, exact=True))
    result = run("train", DATA, "-m", "model", *[a for a in TINY if a != "--quiet"], "--model", "linear")
    assert result.exit_code == 0, result.stderr
    assert "Warning: dropped 2 rows that repeat an earlier row exactly (the same time and values), the first row 31" \
        in " ".join(result.stderr.split())
    metadata = json.loads(Path("model/metadata.json").read_text())
    assert [s["n_steps"] for s in metadata["series"]] == [N_ROWS] * len(metadata["series"])
    # beside a repeat that conflicts, the error names the conflict, not the harmless copy
    write(DATA, with_duplicate(with_duplicate(good_lines(), 30, exact=True), 61))
    assert_one_line_error(run("train", DATA, "-m", "model2"), "appears in rows 61 and 62")
    # a conflict with an exact copy of a row is named with that row, not its copy
    write(DATA, with_duplicate(with_duplicate(good_lines(), 30, exact=True), 31))
    assert_one_line_error(run("train", DATA, "-m", "model3"), "appears in rows 30 and 32")
    write(DATA, with_duplicate(good_lines(), 30, exact=True))
    quiet_off = [a for a in TINY if a != "--quiet"]
    assert "dropped 1 row that repeats an earlier row exactly" in run("train", DATA, "-m", "model4", "--model",
                                                                       "linear", *quiet_off).stderr


def test_duplicates_are_combined_with_on_duplicate_mean(trained):
    assert trained.result.stderr == ""  # --quiet, and no error
    metadata = json.loads((trained.model_dir / "metadata.json").read_text())
    assert metadata["data_options"]["on_duplicate"] == "mean"
    # 241 data rows, one a repeated timestamp: 240 hourly steps
    assert [(s["name"], s["n_steps"]) for s in metadata["series"]] == [("load", N_ROWS)]


# --- train into an existing model directory ---------------------------------------------------

BAD_RETRAINS = [
    ("text in a cell", set_cell(good_lines(), 7, "load", "abc"), [], 1),
    ("too short", good_lines(50), ["--lookback", "48", "--horizon", "24"], 1),
    ("missing file", None, [], 1),
    ("unknown flag", good_lines(), ["--nope"], 2),
]


@pytest.mark.parametrize(("content", "options", "exit_code"), [c[1:] for c in BAD_RETRAINS],
                         ids=[c[0] for c in BAD_RETRAINS])  # fmt: skip
def test_failed_train_leaves_the_previous_model_as_it_was(trained, in_tmp_path, content, options, exit_code):
    shutil.copytree(trained.model_dir, "model")
    if content is not None:
        write(DATA, content)
    model_before, listing_before = snapshot(Path("model")), listing(in_tmp_path)

    result = run("train", DATA, "-m", "model", *options)

    if exit_code == 1:
        assert_one_line_error(result, f"Error: {DATA}: ")
    else:
        assert_usage_error(result, "--nope")
    assert snapshot(Path("model")) == model_before
    assert listing(in_tmp_path) == listing_before
    described = run("info", "-m", "model", "--json")
    assert described.exit_code == 0, described.stderr
    assert json.loads(described.stdout)["data_options"]["targets"] == ["load"]


def test_a_model_directory_that_cannot_be_written_is_named_in_one_line(in_tmp_path):
    # (a read-only file system gives the same line; a file where a directory should be works
    # for any user, root too)
    write(DATA, good_lines())
    write("models", "a file\n")
    result = run("train", DATA, "-m", "models/current", *TINY)
    assert_one_line_error(result, "cannot write model directory 'models/current' (Not a directory: "
                                  "models/.current.lock); choose one you may write to with -m")


def test_train_refuses_a_directory_that_is_not_a_model_before_training(in_tmp_path):
    """Not ``--quiet``: were the directory checked only after training, the epoch lines would
    come before the error and stderr would not be one line."""
    write(DATA, good_lines())
    write("notes/readme.txt", "mine\n")
    before = snapshot(Path("notes"))

    result = run("train", DATA, "-m", "notes", *[a for a in TINY if a != "--quiet"])

    assert_one_line_error(result, "notes exists and is not a forecaster model directory", "choose another --model-dir")
    assert snapshot(Path("notes")) == before


# --- predict / detect-anomalies with DATA -----------------------------------------------------

DAILY = hourly_frame().assign(
    timestamp=pd.date_range("2024-01-01", periods=N_ROWS, freq="D").strftime("%Y-%m-%d")
)
PREDICT_DATA_CASES = [
    ("missing file", None, ["file not found"]),
    ("empty file", "", ["file is empty"]),
    ("text in a cell", set_cell(good_lines(), 7, "load", "abc"), ["column 'load', row 7: 'abc' is not a number"]),
    (
        "text in the covariate",
        set_cell(good_lines(), 30, "temperature", "warm"),
        ["column 'temperature', row 30: 'warm' is not a number"],
    ),
    (
        "daily data for an hourly model",
        DAILY.to_csv(index=False, lineterminator="\n"),
        ["series 'load' has a step of D but the model was trained on h", "resample the data to h or retrain"],
    ),
    ("fewer rows than the lookback", good_lines(20), ["series 'load' has 20 rows", "lookback", "export more history"]),
]
COMMANDS = ["predict", "detect-anomalies"]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("content", "fragments"), [c[1:] for c in PREDICT_DATA_CASES],
                         ids=[c[0] for c in PREDICT_DATA_CASES])  # fmt: skip
def test_bad_data_against_a_model_leaves_the_output_file_as_it_was(trained, in_tmp_path, command, content, fragments):
    if content is not None:
        write(DATA, content)
    Path("out.csv").write_bytes(KNOWN_OUTPUT)
    model_before, listing_before = snapshot(trained.model_dir), listing(in_tmp_path)

    result = run(command, DATA, "-m", trained.model_dir, "-o", "out.csv")

    assert_one_line_error(result, f"Error: {DATA}: ", *fragments)
    assert Path("out.csv").read_bytes() == KNOWN_OUTPUT
    assert listing(in_tmp_path) == listing_before  # no temporary output file left behind
    assert snapshot(trained.model_dir) == model_before


@pytest.mark.parametrize("command", COMMANDS)
def test_bad_data_against_a_model_creates_no_output_file(trained, in_tmp_path, command):
    write(DATA, set_cell(good_lines(), 7, "load", "abc"))
    result = run(command, DATA, "-m", trained.model_dir, "-o", "fresh.csv")
    assert_one_line_error(result, f"Error: {DATA}: column 'load', row 7")
    assert listing(in_tmp_path) == ["in", DATA]


@pytest.mark.parametrize("command", COMMANDS)
def test_data_without_the_trained_target_says_it_does_not_match_the_model(trained, in_tmp_path, command):
    write(DATA, hourly_frame().drop(columns="load").to_csv(index=False, lineterminator="\n"))
    Path("out.csv").write_bytes(KNOWN_OUTPUT)

    result = run(command, DATA, "-m", trained.model_dir, "-o", "out.csv")

    message = assert_one_line_error(result, f"Error: {DATA}: ", "'load'")
    # The user gave no --target to this command (it has none): the message must say that the
    # file lacks a column the model was trained on.
    assert "model" in message or "trained" in message, message
    assert Path("out.csv").read_bytes() == KNOWN_OUTPUT


def test_covariates_may_be_constant(trained):
    write(DATA, set_column(good_lines(), "temperature", "20"))
    result = run("predict", DATA, "-m", trained.model_dir, "--quiet")
    assert result.exit_code == 0, result.stderr
    forecast = pd.read_csv(io.StringIO(result.stdout))
    assert len(forecast) == 6 and set(forecast["series"]) == {"load"}
    assert np.isfinite(forecast[["forecast", "lower", "upper"]].to_numpy()).all()


# --- model directories ------------------------------------------------------------------------


def make_model_dir(kind: str) -> str:
    """A model directory argument that is not a usable model; returns the path as given."""
    if kind == "missing":
        return "missing_dir"
    if kind == "empty directory":
        Path("empty_model").mkdir()
        return "empty_model"
    if kind == "a file":
        Path("model.txt").write_text("not a model\n")
        return "model.txt"
    Path("broken").mkdir()
    Path("broken/metadata.json").write_text("{not json\n")
    return "broken"


MODEL_DIR_CASES = [
    ("missing", ["model directory 'missing_dir' not found", "forecaster train DATA.csv -m missing_dir"]),
    ("empty directory", ["empty_model: no metadata.json", "not a forecaster model directory"]),
    ("a file", ["'model.txt' is not a directory"]),
    ("metadata not JSON", ["broken/metadata.json: unreadable", "retrain the model"]),
]


@pytest.mark.parametrize("command", [*COMMANDS, "info"])
@pytest.mark.parametrize(("kind", "fragments"), MODEL_DIR_CASES, ids=[c[0] for c in MODEL_DIR_CASES])
def test_unusable_model_dir(in_tmp_path, command, kind, fragments):
    model_dir = make_model_dir(kind)
    output = []
    if command != "info":
        Path("out.csv").write_bytes(KNOWN_OUTPUT)
        output = ["-o", "out.csv"]
    before = {path: Path(path).read_bytes() if Path(path).is_file() else None for path in listing(in_tmp_path)}

    result = run(command, "-m", model_dir, *output)

    assert_one_line_error(result, *fragments)
    after = {path: Path(path).read_bytes() if Path(path).is_file() else None for path in listing(in_tmp_path)}
    assert after == before


@pytest.mark.parametrize("command", COMMANDS)
def test_unusable_model_dir_creates_no_output_file(in_tmp_path, command):
    assert_one_line_error(run(command, "-m", "missing_dir", "-o", "fresh.csv"), "missing_dir")
    assert listing(in_tmp_path) == []


# --- malformed command lines: exit 2 ----------------------------------------------------------

USAGE_CASES = [
    # id, arguments (x.csv does not exist: a usage check that went missing shows as exit 1), fragments
    ("unknown flag", ["train", "x.csv", "--nope"], ["No such option", "--nope"]),
    ("epochs not a number", ["train", "x.csv", "--epochs", "abc"], ["--epochs"]),
    ("units 0", ["train", "x.csv", "--units", "0"], ["--units"]),
    ("threshold nan", ["detect-anomalies", "x.csv", "--threshold", "nan"], ["'--threshold': nan is not a number"]),
    ("wait nan", ["train", "x.csv", "--wait", "nan"], ["'--wait': nan is not a number"]),
    ("ensemble 0", ["train", "x.csv", "--ensemble", "0"], ["--ensemble", "0 is not in the range x>=1"]),
    ("evaluate ensemble 0", ["evaluate", "x.csv", "--ensemble", "0"], ["--ensemble"]),
    ("negative max-gap", ["train", "x.csv", "--max-gap", "-1"], ["--max-gap"]),
    ("unknown cell", ["train", "x.csv", "--cell", "xyz"], ["--cell", "xyz", "lstm, gru, rnn"]),
    ("unknown on-duplicate", ["train", "x.csv", "--on-duplicate", "sum"], ["--on-duplicate", "sum"]),
    ("coverage above 1", ["predict", "-m", "missing_dir", "--coverage", "1.5"], ["--coverage"]),
    ("coverage as a percentage", ["predict", "-m", "missing_dir", "--coverage", "90"],
     ["--coverage", "90 is not a probability from 0.01 to 0.999; for 90 % write 0.9"]),
    ("a repeated coverage as a percentage", ["evaluate", "x.csv", "--coverage", "0.8", "--coverage", "95"],
     ["--coverage", "95 is not a probability from 0.01 to 0.999; for 95 % write 0.95"]),
    ("DATA missing", ["train"], ["Missing argument"]),
    ("unknown command", ["forecast"], ["No such command", "forecast"]),
]


@pytest.mark.parametrize(("args", "fragments"), [c[1:] for c in USAGE_CASES], ids=[c[0] for c in USAGE_CASES])
def test_malformed_command_line_exits_2(in_tmp_path, args, fragments):
    assert_usage_error(run(*args), *fragments)
    assert listing(in_tmp_path) == []


CONFIG_CASES = [
    ("unknown key", "nope = 1\n", ["--config", "cfg.toml", "unknown option 'nope' for 'train'"]),
    ("unknown key in [train]", "[train]\nepochs = 1\nlookbak = 24\n", ["cfg.toml", "'lookbak'"]),
    ("misspelled key", "epoch = 2\n", ["unknown option 'epoch' for 'train'; did you mean 'epochs'?"]),
    ("misspelled key with dashes", "[train]\nval-fracton = 0.2\n", ["'val-fracton'", "did you mean 'val-fraction'?"]),
    ("not TOML", "epochs = [\n", ["cfg.toml is not valid TOML"]),
    ("wrong type", "epochs = 'abc'\n", ["cfg.toml: 'epochs': must be a whole number, not a string ('abc')"]),
    ("a fraction for a count", "epochs = 2.7\n", ["'epochs': must be a whole number, not a decimal number (2.7)"]),
    ("true for a seed", "seed = true\n", ["'seed': must be a whole number, not true or false"]),
    ("a list for one value", "model = ['linear']\n", ["'model': takes one value, not a list"]),
    ("a number for a column", "target = 5\n", ["'target': must be a string (or a list of them), not a whole number"]),
    ("a number for a switch", "calendar = 1\n", ["'calendar': must be true or false, not a whole number (1)"]),
    ("a table for a value", "[train]\nepochs = {a = 1}\n", ["'epochs': must be a whole number, not a table"]),
    ("ensemble 0", "[train]\nensemble = 0\n", ["'ensemble': 0 is not in the range x>=1"]),
    ("missing file", None, ["--config", "cannot read cfg.toml"]),
    # checked once the command runs, not by the option's type: still named by file and key
    ("seed out of range", "seed = -1\n", ["'--config': cfg.toml: 'seed': must be between 0 and 2147483647, got -1"]),
    ("unknown choice", "[train]\ncell = 'foo'\n", ["'--config': cfg.toml: 'cell': must be one of lstm, gru, rnn"]),
]


@pytest.mark.parametrize(("text", "fragments"), [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_bad_config_file_exits_2(in_tmp_path, text, fragments):
    write(DATA, good_lines())
    if text is not None:
        Path("cfg.toml").write_text(text)
    before = listing(in_tmp_path)

    result = run("train", DATA, "--config", "cfg.toml", "-m", "model")

    assert_usage_error(result, *fragments)
    assert listing(in_tmp_path) == before


# --- options and arguments a newcomer tries: refused with what to do instead ------------------


def test_predict_horizon_is_refused_with_the_models_horizon_and_how_to_change_it(trained):
    assert_usage_error(run("predict", "-m", trained.model_dir, "--horizon", "48"),
                       f"Invalid value for --horizon: the horizon is fixed when the model is trained (the model in "
                       f"{trained.model_dir} forecasts 6 steps); to forecast another, train again with --horizon 48")
    # no model to read the horizon from: the rest of the advice stands
    assert_usage_error(run("predict", "-m", "missing_dir", "--horizon", "48"),
                       "the horizon is fixed when the model is trained; to forecast another, train again with "
                       "--horizon 48")
    # the model's own horizon is what predict does anyway
    same = run("predict", "-m", trained.model_dir, "--horizon", "6")
    assert same.exit_code == 0, same.stderr
    assert same.stdout == run("predict", "-m", trained.model_dir).stdout


@pytest.mark.parametrize("flag", ["-m", "--model-dir"])
def test_evaluate_says_it_trains_its_own_models_rather_than_reading_a_directory(flag):
    write(DATA, good_lines())
    assert_usage_error(run("evaluate", DATA, flag, "forecaster-model"),
                       "Invalid value for -m/--model-dir: evaluate reads no model directory: it trains its own models "
                       "at each cut-off, from the training options given to it", "--config")
    # -m with a model's name was meant as --model
    assert_usage_error(run("evaluate", DATA, flag, "Linear"),
                       "Invalid value for -m/--model-dir: evaluate reads no model directory; did you mean --model linear?")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_model_directory_given_as_data_is_pointed_to_m(trained, command):
    Path("out.csv").write_bytes(KNOWN_OUTPUT)
    assert_usage_error(run(command, trained.model_dir, "-o", "out.csv"),
                       f"Invalid value for DATA: '{trained.model_dir}' is a model directory: use -m "
                       f"{trained.model_dir}")
    assert Path("out.csv").read_bytes() == KNOWN_OUTPUT
    # a directory that is no model is still the library's to refuse
    Path("folder").mkdir()
    assert_one_line_error(run(command, "folder", "-m", trained.model_dir), "folder: is a directory")


def test_info_given_a_model_directory_as_its_argument_points_to_m(trained):
    assert_usage_error(run("info", trained.model_dir),
                       f"Invalid value for '{trained.model_dir}': that is a model directory: use -m {trained.model_dir}")
    assert_usage_error(run("info", "notes.txt"), "Invalid value for 'notes.txt': info takes no argument: name the "
                                                 "model directory with -m")


def test_the_refused_options_are_not_offered_in_help():
    assert "--horizon" not in run("predict", "--help").stdout
    evaluate_help = run("evaluate", "--help").stdout
    assert "--model-dir" not in evaluate_help and "-m," not in evaluate_help
    assert run("info", "--help").stdout.startswith("Usage: forecaster info [OPTIONS]\n")


def test_evaluate_config_hints_name_the_file_key():
    write(DATA, good_lines())
    Path("cfg.toml").write_text("[evaluate]\ncoverage = [0.8, 90]\n")
    assert_usage_error(run("evaluate", DATA, "--config", "cfg.toml"),
                       "--config", "cfg.toml: 'coverage': 90 is not a probability from 0.01 to 0.999; for 90 % write 0.9")
    Path("cfg.toml").write_text("[evaluate]\nmodel-dir = 'model'\n")
    assert_usage_error(run("evaluate", DATA, "--config", "cfg.toml"),
                       "unknown option 'model-dir' for 'evaluate'; it is train's alone (evaluate keeps no model)")
    # the [train] table evaluate reads is checked as train checks it; a table no command reads is refused
    Path("cfg.toml").write_text("[train]\nmodle = 'linear'\nmodel-dir = 'model'\n")
    assert_usage_error(run("evaluate", DATA, "--config", "cfg.toml"),
                       "unknown option 'modle' for 'evaluate'; did you mean 'model'?")
    Path("cfg.toml").write_text("[evaluat]\nfolds = 2\n")
    assert_usage_error(run("evaluate", DATA, "--config", "cfg.toml"), "unknown table [evaluat]; did you mean [evaluate]?")
    assert_usage_error(run("train", DATA, "--config", "cfg.toml"), "unknown table [evaluat]; did you mean [evaluate]?")


def test_evaluate_says_how_to_name_several_covariates():
    write(DATA, good_lines())
    assert_one_line_error(run("evaluate", DATA, "--target", "load", "--covariate", "temperature, load"),
                          f"Error: {DATA}: column 'temperature, load' named by --covariate does not exist",
                          "--covariate names one column: repeat it for several (--covariate temperature --covariate "
                          "load)")
    assert listing(Path(".")) == ["in", DATA]


@pytest.mark.parametrize("option, path, fragment", [
    ("-o", "nowhere/out.csv", "output directory 'nowhere' does not exist; create it first"),
    ("-o", "data.csv/out.csv", "output 'data.csv/out.csv': 'data.csv' is a file, not a directory"),
    ("--plot", "data.csv/errors.png", "plot 'data.csv/errors.png': 'data.csv' is a file, not a directory"),
])
def test_evaluate_refuses_an_output_it_could_not_write_before_any_work(in_tmp_path, option, path, fragment):
    # checked before the data is even read (the file here does not exist): a backtest that
    # trained for an hour must not end in a typo, its tables lost
    Path("data.csv").write_text("not a directory\n")
    result = run("evaluate", "missing.csv", option, path)
    assert_one_line_error(result, fragment)
    assert not Path("nowhere").exists()
