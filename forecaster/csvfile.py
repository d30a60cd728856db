"""Opening a CSV file as a table, whatever its encoding marks, separator and compression.

The file is UTF-8 (a byte-order mark is dropped), separated by ``,`` ``;`` tab or ``|``
(sniffed from the first lines, or ``DataOptions.sep``), possibly gzip, bzip2 or xz
compressed (told by its first bytes), or standard input (``"-"``). Binary files, UTF-16,
ZIP archives and bytes that are not UTF-8 are refused with a one-line
:class:`~forecaster.errors.DataError` that names the row and column and says what to do.
What the columns mean is :mod:`forecaster.data`'s business.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import lzma
import re
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import DataError

if TYPE_CHECKING:
    from .data import DataOptions

# What the separator is sniffed among when --sep is not given, in order of preference.
SEPARATORS = (",", ";", "\t", "|")
# The start of the (decompressed) file that is looked at for the encoding and the separator.
_PEEK_BYTES = 1 << 16
_SNIFF_LINES = 50
# Standard input is copied to memory up to this size, then to a temporary file.
_SPOOL_BYTES = 64 << 20


def read_csv(
    path: str, shown: str, options: DataOptions, texts_of: Callable[[pd.DataFrame], list[str]] | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, dict[str, pd.Series]]:
    """Read the file; return the frame without empty lines and each row's file line number.

    The file is opened once, decompressed as it is read; only its first 64 KiB are looked at
    before pandas parses it, for the encoding and the separator. Columns the options do not
    need are not kept when the options name them all. The series id column
    (``options.id_col``) is read as text, as written: ``0101`` is not the number 101.
    Digit grouping (``options.thousands``) is left to :mod:`forecaster.data`, which checks
    the groups: pandas would read ``1,16`` as 116. A data row with fewer fields than the
    header is read with the missing ones empty, as Excel writes rows whose last cells are
    empty, and a quoted field may span lines, so a row's fields cannot be told from its line.

    Args:
        texts_of: given the frame, names the columns whose cells are also wanted as written
            (as text), such as numbers pandas read whose marks are ambiguous; they are read
            again while the file is open (standard input cannot be read twice later).
        warn: told of a last line left out as cut off (:func:`_cut_off_last_line`).

    Returns:
        The frame, `(n_rows,)` int64 line numbers (header = 1), and the cells as written of
        the columns ``texts_of`` named, one per row of the frame.
    """
    with contextlib.ExitStack() as stack:
        stream, kind = _open_source(path, shown, stack)
        try:
            head = stream.read(_PEEK_BYTES)
            complete = len(head) < _PEEK_BYTES
            sample = _check_head(head, complete, shown)
            _refuse_excel_separator_line(sample, shown)
            sep = options.sep or _sniff_separator(sample)
            if sample.strip():
                _check_utf8(head if complete else head[: head.rfind(b"\n") + 1], sep, shown)
            wanted_columns = _wanted_columns(sample, sep, options)
            stream.seek(0)
            # Blank lines are kept (as empty rows, dropped below) so that index + 2 is the line
            # number, after the blank lines before the header, which are skipped;
            # low_memory=False types each column as a whole instead of chunk by chunk.
            # skipinitialspace: `a, "b c"` is two fields, a and b c, as a reader expects
            leading = _leading_blank_lines(sample)
            reading = dict(
                sep=sep, decimal=options.decimal, encoding="utf-8-sig", skip_blank_lines=False, low_memory=False,
                skipinitialspace=True, skiprows=leading or None,
            )  # fmt: skip
            # Every column is read, not only those wanted: with usecols pandas drops a row's extra
            # fields without a word (an unquoted decimal comma, `613,5`, shifting the columns).
            frame = pd.read_csv(stream, **_id_reading(sample, sep, leading, options), **reading)
            if wanted_columns is not None:
                frame = frame.loc[:, [wanted_columns(column) for column in frame.columns]]
        except pd.errors.EmptyDataError:
            raise DataError(f"{shown}: file is empty") from None
        except UnicodeDecodeError:
            stream.seek(0)
            _check_utf8_lines(stream, sep, shown)
            raise DataError(f"{shown}: is not UTF-8 text; save it as a UTF-8 CSV file") from None
        except pd.errors.ParserError as exc:
            reason = str(exc).strip().splitlines()[-1].removeprefix("Error tokenizing data. C error: ")
            hint = ""
            line = re.search(r"line (\d+)", reason)
            if line and options.decimal == "." and sep == ",":
                stream.seek(0)
                hint = _decimal_comma_hint(stream, int(line.group(1)))
            raise DataError(
                f"{shown}: cannot be read as CSV ({reason}); check quoting and the number of fields{hint}"
            ) from None
        except (EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile) as exc:
            raise DataError(
                f"{shown}: is a damaged or truncated {kind} file ({exc}); compress it again or give the plain CSV"
            ) from None
        except PermissionError:
            raise DataError(f"{shown}: cannot be read (permission denied); check the file's permissions") from None
        except OSError as exc:
            if kind != "plain":
                raise DataError(
                    f"{shown}: is a damaged or truncated {kind} file ({exc}); compress it again or give the plain CSV"
                ) from None
            raise DataError(f"{shown}: cannot be read ({exc.strerror or exc}); check the path and the file") from None
        except ValueError as exc:
            # pandas refuses some combinations of separator, decimal and thousands marks.
            raise DataError(f"{shown}: cannot be read as CSV ({exc}); check --sep, --decimal and --thousands") from None
        rows = np.arange(2 + leading, len(frame) + 2 + leading, dtype=np.int64)
        if kind == "plain" and len(frame) and (cut := _cut_off_last_line(stream, sep, len(_header_fields(sample, sep)))):
            # an export still being written (a cron job racing the exporter): its last line
            # is not data yet, and read as it is (`2024-03-01 05:00,5` of `512.3,7.1`) it is
            # a false incident
            if warn is not None:
                warn(f"{shown}: the last line (row {rows[-1]}) has {cut[0]} of the header's {cut[1]} fields and no "
                     "line end, as if the file were still being written; it was left out")
            frame, rows = frame.iloc[:-1], rows[:-1]
        blank = frame.isna().all(axis=1).to_numpy()
        if blank.any():
            frame, rows = frame.loc[~blank].reset_index(drop=True), rows[~blank]
        if frame.empty:
            raise DataError(f"{shown}: has a header but no data rows")
        if wanted_columns is None:
            frame = _named_columns(frame, _header_fields(sample, sep), shown)
        frame.columns = [str(c).strip() for c in frame.columns]
        if len(frame.columns) == 1:
            name = frame.columns[0]
            if options.sep is not None:
                hint = f"; check --sep {_sep_name(options.sep)}"
            else:
                hint = "; separate the columns with , ; tab or |, or name the separator with --sep"
            raise DataError(
                f"{shown}: has only one column ('{name}'); a time column and a column of numbers are needed{hint}"
            )
        wanted = set(texts_of(frame)) if texts_of is not None else set()
        texts: dict[str, pd.Series] = {}
        if wanted:
            stream.seek(0)
            written = pd.read_csv(stream, usecols=lambda column: str(column).strip() in wanted, dtype=str, **reading)
            written.columns = [str(c).strip() for c in written.columns]
            texts = {name: written[name].iloc[rows - 2].reset_index(drop=True) for name in wanted}
    return frame, rows, texts


def _cut_off_last_line(stream: Any, sep: str, n_header: int) -> tuple[int, int] | None:
    """``(fields, n_header)`` where the file's last line has no line end and fewer fields than
    the header (cut off while being written); None otherwise, as for a last line with every
    field, which cannot be told from a whole one (write exports to a temporary file and
    rename them into place).

    Args:
        stream: the plain file, seekable; left at its end.
    """
    end = stream.seek(0, 2)
    stream.seek(max(0, end - _PEEK_BYTES))
    tail = stream.read()
    if not tail or tail.endswith((b"\n", b"\r")) or b"\n" not in tail.rstrip(b"\n\r"):
        return None  # ended, or the header or one long line is all there is
    line = tail[tail.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")
    try:
        fields = len(next(csv.reader([line], delimiter=sep, skipinitialspace=True)))
    except (csv.Error, StopIteration):
        return None
    return (fields, n_header) if fields < n_header else None


#: What pandas reads as a missing value by default; an id column reads only an empty cell so.
_MISSING_MARKS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
                  "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")


def _id_reading(sample: str, sep: str, leading: int, options: DataOptions) -> dict[str, Any]:
    """``read_csv`` arguments that read the series id column as text, as written: ids such as
    ``0101`` or ``1E3`` are names, not numbers (as numbers, ``007`` and ``7`` would be one
    series), and ``NA`` (Namibia's country code), ``None`` or ``null`` are keys, not missing
    values; only an empty cell is missing there. Other columns read pandas' missing marks."""
    if not options.id_col:
        return {}
    try:  # the names as pandas gives them ("Unnamed: 3", "sales.1"), which the marks are keyed by
        names = list(pd.read_csv(io.StringIO(sample), sep=sep, skipinitialspace=True, nrows=0,
                                 skiprows=leading or None).columns)
    except (ValueError, pd.errors.ParserError):
        names = _header_fields(sample, sep, strip=False)
    ids = [name for name in names if str(name).strip() == options.id_col]
    if not ids:
        return {}
    return {"dtype": {name: str for name in ids}, "keep_default_na": False,
            "na_values": {name: [""] if name in ids else list(_MISSING_MARKS) for name in names}}


def _leading_blank_lines(sample: str) -> int:
    """How many blank lines (or lines of spaces) come before the header."""
    lines = sample.splitlines()
    return next((k for k, line in enumerate(lines) if line.strip()), len(lines))


def _open_source(path: str, shown: str, stack: contextlib.ExitStack) -> tuple[Any, str]:
    """The file (or standard input) as a seekable binary stream, decompressed; and its kind."""
    if path == "-":
        raw = stack.enter_context(_stdin_copy())
    else:
        file = Path(path)
        if not file.exists():
            raise DataError(f"{shown}: file not found")
        if file.is_dir():
            raise DataError(f"{shown}: is a directory, not a CSV file; give the path of the file itself")
        try:
            raw = stack.enter_context(open(file, "rb"))  # noqa: SIM115 - closed by the stack
        except PermissionError:
            raise DataError(f"{shown}: cannot be read (permission denied); check the file's permissions") from None
        except OSError as exc:
            raise DataError(f"{shown}: cannot be read ({exc.strerror or exc}); check the path and the file") from None
    magic = raw.read(6)
    raw.seek(0)
    # Told by content, not by name: a .csv.gz renamed, or gzip on standard input, works too.
    if magic.startswith(b"\x1f\x8b"):
        return stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb")), "gzip"
    if magic.startswith(b"BZh"):
        import bz2

        return stack.enter_context(bz2.BZ2File(raw)), "bzip2"
    if magic.startswith(b"\xfd7zXZ\x00"):
        return stack.enter_context(lzma.LZMAFile(raw)), "xz"
    if magic.startswith(b"PK\x03\x04"):
        raise DataError(
            f"{shown}: is a ZIP archive (or an Excel workbook), not a CSV file; "
            "unzip it, or export the sheet as CSV UTF-8"
        )
    return raw, "plain"


@contextlib.contextmanager
def _stdin_copy():
    """Standard input, copied so that it can be read twice (in memory, or on disk when large)."""
    import shutil
    import tempfile

    stdin = sys.stdin
    if stdin is None:
        raise DataError("standard input: there is none; give a file name instead of -")
    if stdin.isatty():
        raise DataError("standard input: is a terminal, not a file; pipe or redirect the CSV into it (< data.csv)")
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
        buffer = getattr(stdin, "buffer", None)
        if buffer is not None:
            shutil.copyfileobj(buffer, spool)
        else:
            spool.write(stdin.read().encode("utf-8"))
        spool.seek(0)
        yield spool


def _check_head(head: bytes, complete: bool, shown: str) -> str:
    """Reject empty, binary and UTF-16 files from their first bytes; return the first lines as text."""
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    if complete and not body.strip():
        raise DataError(f"{shown}: file is empty")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_utf16(body):
        raise DataError(f"{shown}: is UTF-16 text, not UTF-8; save it as UTF-8 (in Excel: CSV UTF-8)")
    nul = body.find(b"\0")
    if nul >= 0:
        line = body[:nul].count(b"\n") + 1
        raise DataError(
            f"{shown}: row {line}: holds binary data (a NUL byte at byte {nul + 1}), so it is not a CSV text file; "
            "export the data as a UTF-8 CSV file"
        )
    if not complete:
        # The last line may be cut in the middle of a character or a field.
        body = body[: body.rfind(b"\n") + 1]
    return body.decode("utf-8", errors="replace")


def _looks_utf16(body: bytes) -> bool:
    """UTF-16 without a byte-order mark: mostly text in which every other byte is zero."""
    if len(body) < 8:
        return False
    even, odd = body[0::2], body[1::2]
    for zeros, chars in ((odd, even), (even, odd)):
        if zeros.count(0) > 0.9 * len(zeros) and chars.count(0) < 0.1 * len(chars):
            return True
    return False


def _refuse_excel_separator_line(sample: str, shown: str) -> None:
    """Refuse a first line such as ``sep=;``, which Excel writes to name the separator: it is
    not the header, and read as one it makes every name wrong."""
    first = next((line.strip() for line in sample.splitlines() if line.strip()), "")
    if re.fullmatch(r"sep=.", first, flags=re.IGNORECASE):
        raise DataError(f"{shown}: line 1 ({first!r}) is Excel's note of the separator, not the header; remove that "
                        f"line (then pass --sep {_sep_name(first[4])} if the separator is not found by itself)")


def _sniff_separator(sample: str) -> str:
    """The separator among :data:`SEPARATORS` that splits the header and the first lines alike.

    The one that gives the header at least two fields and the most lines with as many fields
    as the header wins; ties go to the one with more fields, then to the earlier one.
    """
    lines = [line for line in sample.splitlines()[:_SNIFF_LINES] if line.strip()]
    best: tuple[tuple[float, int], str] | None = None
    for sep in SEPARATORS:
        try:
            rows = list(csv.reader(lines, delimiter=sep))
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        body = rows[1:]
        agree = sum(len(row) == width for row in body) / len(body) if body else 1.0
        if best is None or (agree, width) > best[0]:
            best = ((agree, width), sep)
    return best[1] if best else ","


def _header_fields(sample: str, sep: str, strip: bool = True) -> list[str]:
    """The names in the header line, without the spaces around them (``strip``), or as pandas
    names the columns (without the spaces before them only)."""
    for line in sample.splitlines():
        if line.strip():
            try:
                names = next(csv.reader([line], delimiter=sep, skipinitialspace=True))
                return [name.strip() for name in names] if strip else names
            except csv.Error:
                return []
    return []


def _named_columns(frame: pd.DataFrame, header: list[str], shown: str) -> pd.DataFrame:
    """The frame without the columns the header leaves unnamed, which pandas calls "Unnamed: 3".

    An unnamed column without a value (every line ending in a separator, as spreadsheets
    export) and a first unnamed column numbering the rows (a data frame's index written
    with it) are left out; another is an error, as is a name given twice (pandas would
    quietly read the second as "sales.1").

    Args:
        header: the header's names as written (stripped), one per column of ``frame``.
    """
    if len(header) != len(frame.columns):
        return frame  # a header line pandas read otherwise: leave its names as they are
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name and name in seen:
            raise DataError(f"{shown}: column name '{name}' is in the header twice (columns {seen[name]} and "
                            f"{position}); give each column its own name")
        seen.setdefault(name, position)
    unnamed = [position for position, name in enumerate(header) if not name]
    for position in unnamed:
        column = frame.iloc[:, position]
        values = column.dropna()
        if values.empty or (position == 0 and _numbers_rows(values)):
            continue
        raise DataError(f"{shown}: column {position + 1} has no name in the header but holds values (row "
                        f"{int(np.flatnonzero(column.notna().to_numpy())[0]) + 2}: {str(values.iloc[0])!r}); "
                        "name it in the header")
    return frame.drop(columns=frame.columns[unnamed]) if unnamed else frame


def _numbers_rows(values: pd.Series) -> bool:
    """Whether a column counts its rows: 0, 1, 2, ... or 1, 2, 3, ... (a written index)."""
    if not pd.api.types.is_integer_dtype(values) or len(values) != values.index[-1] + 1:
        return False
    steps = values.to_numpy()
    return steps[0] in (0, 1) and bool((np.diff(steps) == 1).all())


def _wanted_columns(sample: str, sep: str, options: DataOptions) -> Any:
    """The columns to read when the options name every one that is used (as after training), else None."""
    if not options.time_col or not options.targets:
        return None
    named = [options.time_col, *options.targets, *options.covariates, *([options.id_col] if options.id_col else [])]
    wanted = set(named)
    header = _header_fields(sample, sep)
    if not wanted <= set(header) or len(header) != len(set(header)) or len(wanted) < len(named):
        # read everything: the message about a missing column lists them all, and that about a
        # column given two roles (--time-col load --target load) is given, not "only one column"
        return None
    return lambda column: str(column).strip() in wanted


def _check_utf8(data: bytes, sep: str, shown: str) -> None:
    """Name the row and column of the first byte that is not UTF-8 in ``data`` (the file's start)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        _not_utf8(data, exc.start, sep, shown, header=None)


def _check_utf8_lines(stream: Any, sep: str, shown: str) -> None:
    """Scan the file line by line for the first byte that is not UTF-8, and name it."""
    header = None
    for number, line in enumerate(stream, start=1):
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            offset = exc.start + (3 if number == 1 and line.startswith(b"\xef\xbb\xbf") else 0)
            _not_utf8(line, offset, sep, shown, header, number)
        if header is None:
            header = _header_fields(text, sep)


def _not_utf8(data: bytes, at: int, sep: str, shown: str, header: list[str] | None, line: int | None = None) -> None:
    start = data.rfind(b"\n", 0, at) + 1
    if line is None:
        line = data.count(b"\n", 0, at) + 1
    if header is None:
        first = data[: data.find(b"\n")] if b"\n" in data else data
        header = _header_fields(first.decode("utf-8-sig", errors="replace"), sep)
    prefix = data[start:at].decode("utf-8", errors="replace")
    try:
        field = len(next(csv.reader([prefix + "x"], delimiter=sep))) - 1
    except (csv.Error, StopIteration):
        field = prefix.count(sep)
    column = f"column '{header[field].strip()}', " if line > 1 and field < len(header) else ""
    where = f"{column}row {line}" + (" (the header)" if line == 1 else "")
    raise DataError(
        f"{shown}: {where}: byte 0x{data[at]:02x} is not UTF-8 text (the file may be Latin-1 or Windows-1252); "
        "save it as UTF-8 (in Excel: CSV UTF-8)"
    )


def _decimal_comma_hint(stream: Any, line: int) -> str:
    """A hint when file line ``line`` of a comma-separated file holds numbers with decimal commas."""
    for number, text in enumerate(stream, start=1):
        if number == line:
            if re.search(rb"\d,\d", text):
                return "; a decimal comma in a comma-separated file must be quoted (\"1,5\") and --decimal , given"
            return ""
    return ""


def _sep_name(sep: str) -> str:
    return "tab" if sep == "\t" else repr(sep)
