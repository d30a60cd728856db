"""Output files that are never half-written: a temporary file beside the target, then a rename."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from glob import escape as glob_escape
from pathlib import Path
from typing import IO, Any, TextIO

from . import interrupts
from .errors import ForecasterError


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, binary: bool = False) -> Iterator[IO]:
    """Open a file for writing (text, or bytes if ``binary``) that appears at ``path`` only once complete.

    The data goes to a temporary file in the same directory, which replaces ``path`` on
    success; on any failure ``path`` is left as it was and the temporary file removed. A
    symbolic link stays one: the file it points to is replaced. A device or a pipe (``-o
    /dev/null``, a named pipe another program reads) is written to directly, as it cannot be
    replaced and holds no file to keep whole.
    """
    shown = Path(path)
    target = link_target(shown)
    if target.is_dir():
        raise ForecasterError(f"output '{shown}' is a directory; name a file")
    if not target.parent.exists():
        raise ForecasterError(f"output directory '{target.parent}' does not exist; create it first")
    text = {} if binary else {"encoding": "utf-8", "newline": ""}
    if _is_special(target):
        with _named_errors(f"'{shown}'"), open(target, "wb" if binary else "w", **text) as handle:
            yield handle
        return
    _remove_abandoned(target)
    try:
        handle = tempfile.NamedTemporaryFile(
            "wb" if binary else "w", dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False, **text
        )
    except OSError as error:
        raise ForecasterError(f"cannot write '{shown}': {error.strerror or error}") from None
    _lock(handle)
    try:
        if not keeps_access_of(target, handle.name):
            readable_like_new_files(handle.name)
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        with interrupts.held():
            interrupts.check()  # a stop asked for and lost on the way here: the old file stays
            os.replace(handle.name, target)
            interrupts.committed()  # it is in place: the run has done what it was asked
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        if isinstance(exc, OSError):  # a full disk, a file-size limit: name what could not be written
            raise ForecasterError(f"cannot write '{shown}': {exc.strerror or exc}") from None
        raise


def check_writable(path: str | os.PathLike, what: str = "output") -> None:
    """Refuse, before any work, a file that the run could not write at its end: one whose
    directory is missing or is a file, or where no file can be made (a read-only directory,
    ``/proc``). A device or a pipe is written to directly, and passes.

    Args:
        what: how messages name it: ``"output"``, ``"plot"``, ``"--state"``.

    Raises:
        ForecasterError: naming the path and what to do.
    """
    shown = Path(path)
    target = link_target(shown)
    if target.is_dir():
        raise ForecasterError(f"{what} '{shown}' is a directory; name a file")
    if _is_special(target):
        return
    parent = target.parent
    if not parent.exists():
        raise ForecasterError(f"{what} directory '{parent}' does not exist; create it first")
    if not parent.is_dir():
        raise ForecasterError(f"{what} '{shown}': '{parent}' is a file, not a directory; name a file in a directory")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=f".{target.name}.", suffix=".tmp"):
            pass
    except OSError as error:
        raise ForecasterError(f"cannot write {what} '{shown}': {error.strerror or error}; name a file in a directory "
                              "you may write to") from None


#: A temporary output file not locked and older than this is taken for one a killed run left
_ABANDONED_AFTER = 60.0


def _lock(handle: IO) -> None:
    """Hold a lock on a temporary output file while it is written: a run killed with SIGKILL
    leaves the file, and the lock, which the system releases, tells the next run it may go."""
    with contextlib.suppress(ImportError, OSError):
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _remove_abandoned(target: Path) -> None:
    """Remove the temporary files that runs killed while writing ``target`` left beside it
    (``.forecast.csv.k3j2_x.tmp``): unlocked, and not written to for a minute, so that no
    run writing it now loses its file."""
    try:
        import fcntl
    except ImportError:  # no advisory locks: leave them
        return
    import time

    for leftover in target.parent.glob(f".{glob_escape(target.name)}.*.tmp"):
        with contextlib.suppress(OSError), open(leftover, "rb") as handle:
            if time.time() - os.fstat(handle.fileno()).st_mtime < _ABANDONED_AFTER:
                continue
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # OSError: a run holds it
            os.unlink(leftover)


def link_target(path: str | os.PathLike) -> Path:
    """What a symbolic link at ``path`` points to (through every link), so that writing a new
    version there replaces that file or directory and keeps the link; ``path`` itself when it
    is no link. Also for a link to something not yet there (``os.path.realpath``, not
    ``Path.resolve``, which would need it to exist in strict mode)."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _is_special(path: Path) -> bool:
    """Whether ``path`` exists and is not a regular file: a device, a pipe, a socket."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


@contextlib.contextmanager
def _named_errors(name: str) -> Iterator[None]:
    """An OSError (a full device, a pipe closed by its reader) as one line naming the output
    as ``name`` says it ("'out.csv'", "standard output")."""
    try:
        yield
    except OSError as exc:
        raise ForecasterError(f"cannot write {name}: {exc.strerror or exc}") from None


def keeps_access_of(existing: Path, new: str | os.PathLike, file_within: bool = False) -> bool:
    """Give ``new``, about to replace ``existing``, the permissions and group of ``existing``
    (and its owner, where this process may give it), so that a file or model directory an
    operator restricted (``chmod 640``, a group) stays so after a cron run replaces it. With
    ``file_within``, ``new`` is a file inside a directory replacing the directory
    ``existing``: it gets that directory's permissions less the execute bits.

    Returns:
        False when there is no ``existing`` to follow (the caller then applies the defaults).
    """
    try:
        status = existing.stat()
    except OSError:
        return False
    mode = stat.S_IMODE(status.st_mode) & (0o666 if file_within else 0o7777)
    os.chmod(new, mode)
    for owner, group in ((status.st_uid, status.st_gid), (-1, status.st_gid)):
        try:
            os.chown(new, owner, group)
            break
        except OSError:  # not root, or not in that group: the permissions at least are kept
            continue
    return True


def readable_like_new_files(path: str | os.PathLike, directory: bool = False) -> None:
    """Give a temporary file or directory the permissions a plain ``open`` or ``mkdir`` would.

    ``tempfile`` creates them private to the owner (0600 / 0700); once renamed into place they
    should be as readable as any other output, following the umask.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if directory else 0o666) & ~umask)


def write_csv(frame: Any, output: str | os.PathLike | None, stdout: TextIO | None = None,
              times_of_day: bool = False) -> None:
    """Write a DataFrame as CSV to ``output`` atomically, or to stdout for ``None`` / ``-``.

    With ``times_of_day`` (data whose steps are shorter than a day), timestamps are written
    with their time of day even where every one written is at midnight, which pandas would
    write as dates alone: an hourly job's ``--last 1`` output at 00:00 would otherwise change
    format once a day.

    A column of the data's values (:data:`DATA_COLUMNS`: detect-anomalies' ``value``,
    evaluate's ``actual``) whose numbers are all whole (counts) is written as whole numbers:
    ``11``, as the file had it, not ``11.0``. Computed columns (scores, forecasts) are not:
    the few rows ``--last`` writes could all be whole by chance, and read as another kind."""
    frame = _whole_numbers_as_integers(frame)
    if times_of_day:
        frame = _midnights_with_times(frame)
    if output is None or str(output) == "-":
        stream = stdout or sys.stdout
        with _named_errors("standard output"):
            stream.write(frame.to_csv(index=False, lineterminator="\n"))
            stream.flush()
        interrupts.committed()
        return
    compression = output_compression(output)
    with atomic_output(output, binary=True) as handle:
        frame.to_csv(handle, index=False, lineterminator="\n", compression=compression)


def _midnights_with_times(frame: Any) -> Any:
    """The frame with each column of timestamps without a time zone whose times are all
    midnight as text with the time (``2024-04-29 00:00:00``); those with a zone are written
    with the time and the offset anyway."""
    import pandas as pd

    shortened = [name for name, column in frame.items() if pd.api.types.is_datetime64_dtype(column)
                 and column.dt.tz is None and (column.dropna() == column.dropna().dt.normalize()).all()]
    if not shortened:
        return frame
    return frame.assign(**{name: frame[name].dt.strftime("%Y-%m-%d %H:%M:%S") for name in shortened})


#: The compression of a CSV output by its name's end, as pandas' ``compression="infer"``
#: tells it
COMPRESSION_SUFFIXES = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz", ".zst": "zstd"}
#: Tar archives, which pandas would write (dated 1970) but forecaster's own reading, which tells
#: a compression by the file's first bytes, would not open: refused by name
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")
#: What a compression needs beyond the standard library
_COMPRESSION_PACKAGES = {"zstd": "zstandard"}
#: The output names that are always written, for the errors that refuse others
_WRITABLE = "a .csv, .csv.gz, .csv.bz2, .csv.xz or .csv.zip file"


def output_compression(output: str | os.PathLike | None) -> dict[str, str] | None:
    """The ``compression`` argument of pandas' ``to_csv`` for a CSV written to ``output``:
    told by its name, as pandas would for that name (``out.csv.gz`` is gzipped), since the
    temporary file the data goes to first has another. None for a plain file or stdout.

    Raises:
        ForecasterError: the name asks for a tar archive, or for a compression whose package
            is not installed; checked before any work, so that a long run does not end in it.
    """
    if output is None or str(output) == "-":
        return None
    name = Path(output).name
    if name.lower().endswith(TAR_SUFFIXES):
        raise ForecasterError(f"output '{output}': a tar archive is not written; name {_WRITABLE}")
    suffix = next((suffix for suffix in COMPRESSION_SUFFIXES if name.lower().endswith(suffix)), None)
    if suffix is None:
        return None
    method = COMPRESSION_SUFFIXES[suffix]
    package = _COMPRESSION_PACKAGES.get(method)
    if package and importlib.util.find_spec(package) is None:
        raise ForecasterError(f"output '{output}': {suffix} compression needs the {package} package, which is not "
                              f"installed; name {_WRITABLE}, or install {package}")
    member = name[: -len(suffix)] or "data"
    if not member.lower().endswith(".csv"):
        member += ".csv"  # out.zip holds out.csv
    # the names that would otherwise be taken from the temporary file: a zip archive's one
    # member, and the original name in a gzip header (``gunzip -N`` restores it). A gzip header
    # also holds a time, left at 0 ("none") so that two runs giving the same rows give the same
    # bytes, and a job comparing checksums sees no change where there is none
    names = {"zip": {"archive_name": member}, "gzip": {"filename": member, "mtime": 0}}
    return {"method": method, **names.get(method, {})}


#: The output columns that hold values read from the data.
DATA_COLUMNS = ("value", "actual")


def _whole_numbers_as_integers(frame: Any) -> Any:
    import numpy as np

    whole = {}
    for name in frame.columns:
        column = frame[name]
        if name not in DATA_COLUMNS or column.dtype.kind != "f":
            continue
        values = column.to_numpy()
        finite = values[np.isfinite(values)]
        # below 2**53 every whole float is exactly an integer; missing values stay empty
        if finite.size and not np.isinf(values).any() and np.all(finite == np.round(finite)) \
                and np.all(np.abs(finite) < 2.0**53):
            whole[name] = column.astype("Int64")
    return frame.assign(**whole) if whole else frame
