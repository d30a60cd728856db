"""One writer per model directory, and one run per ``detect-anomalies --state`` file: an
exclusive ``flock`` on a lock file beside it.

The lock file is ``.NAME.lock`` in the model directory's parent, not inside the directory,
so that it outlives the directory being swapped for a new one. It holds the holder's pid,
host and start time, for the message the next writer prints. The kernel releases a
``flock`` when its holder dies, however it dies (SIGKILL included), so a dead holder never
blocks anyone; the file it leaves behind is reused and removed by the next holder.

The holder removes the file while still holding the lock. A waiter that then gets the lock
on the removed file notices (the path no longer names the file it locked) and starts again
on a fresh one, so there is never more than one holder.

``flock`` locks are local to one machine (and on NFS depend on the server); two hosts
training into one shared directory are not kept apart.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from .errors import ForecasterError
from .outputs import link_target

#: How often a waiting writer tries the lock again, in seconds.
POLL = 0.1


class LockedError(ForecasterError):
    """Another process is writing the same model directory, or using the same state file."""


def lock_path(model_dir: str | os.PathLike) -> Path:
    """The lock file of a model directory (or a state file): ``.NAME.lock`` beside it."""
    target = link_target(model_dir)  # one lock whichever name of the directory is used
    return target.parent / f".{target.name}.lock"


@contextlib.contextmanager
def model_lock(model_dir: str | os.PathLike, wait: float = 0) -> Iterator[Path]:
    """Hold the model directory's lock for the ``with`` block.

    Args:
        wait: seconds to wait for another holder to finish; 0 fails at once.

    Raises:
        LockedError: another process still holds the lock after ``wait`` seconds.
    """
    target = Path(model_dir)
    cannot = (f"cannot write model directory '{target}'", target, "choose one you may write to with -m")
    with _named_errors(*cannot):
        created = _make_parents(target.parent)
    try:
        with _held(lock_path(target), wait, lambda who, path: _busy_message(target, who, path, wait), cannot) as path:
            yield path
    finally:
        for directory in created:  # made for nothing if training failed: leave no trace
            with contextlib.suppress(OSError):
                directory.rmdir()


@contextlib.contextmanager
def state_lock(state: str | os.PathLike, wait: float = 0) -> Iterator[Path]:
    """Hold the lock of a ``detect-anomalies --state`` file (``.NAME.lock`` beside it) for the
    ``with`` block, from reading the state to writing it: a run that started while another
    still ran would otherwise write the same points again.

    Raises:
        LockedError: another run with this state file still holds it after ``wait`` seconds.
    """
    target = Path(state)

    def busy(who: str, path: Path) -> str:
        waited = f" after waiting {wait:g} s" if wait > 0 else ""
        return (f"--state '{target}' is still in use by another detect-anomalies run ({who}; lock {path}){waited}; "
                "this run wrote nothing, and the next run writes its points; pass --wait SECONDS to wait for it")

    cannot = (f"cannot lock --state '{target}'", target, "name a state file in a directory you may write to")
    with _held(lock_path(target), wait, busy, cannot) as path:
        yield path


@contextlib.contextmanager
def _held(path: Path, wait: float, busy: Callable[[str, Path], str], cannot: tuple[str, Path, str]) -> Iterator[Path]:
    """Hold the ``flock`` of the lock file ``path`` for the ``with`` block, waiting up to
    ``wait`` seconds for another holder; ``busy(who, path)`` words the error if it is still
    held then, ``cannot`` (see :func:`_named_errors`) one if the file cannot be made."""
    import fcntl

    deadline = time.monotonic() + max(0.0, wait)
    fd = None
    try:
        while fd is None:
            with _named_errors(*cannot):
                fd = _try_lock(path, fcntl)
            if fd is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LockedError(busy(_holder_text(path), path))
                time.sleep(min(POLL, remaining))
        yield path
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)  # while still holding it: see the module docstring
            os.close(fd)


@contextlib.contextmanager
def _named_errors(what: str, target: Path, remedy: str) -> Iterator[None]:
    """A place that cannot be written (read-only, not ours) as one line, ``what`` and the
    reason, then ``remedy``, not the bare ``Read-only file system: .model.lock``."""
    try:
        yield
    except OSError as exc:
        raise ForecasterError(f"{what} ({exc.strerror or exc}: {exc.filename or target}); {remedy}") from None


def _try_lock(path: Path, fcntl) -> int | None:
    """The open, locked lock file, with this process's details written to it; None if busy."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        if current is None or not os.path.samestat(os.fstat(fd), current):
            os.close(fd)  # the previous holder removed this file as it finished: try a fresh one
            return _try_lock(path, fcntl)
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        return fd
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise


def holder(path: str | os.PathLike) -> dict | None:
    """What the lock file says about its holder, if it says anything readable."""
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _holder_text(path: Path) -> str:
    """Who holds the lock, as its file says: "pid 12 on host, since 2026-01-05T10:00:00+01:00"."""
    info = holder(path)
    if info:
        return f"pid {info.get('pid', '?')} on {info.get('host', '?')}, since {info.get('since', '?')}"
    return "another process"


def _busy_message(target: Path, who: str, path: Path, wait: float) -> str:
    if wait > 0:
        return (
            f"model directory '{target}' is still being written by another train ({who}) after waiting "
            f"{wait:g} s (lock {path}); try again later or pass a longer --wait SECONDS"
        )
    return (
        f"model directory '{target}' is being written by another train ({who}; lock {path}); "
        "try again when it has finished or pass --wait SECONDS"
    )


def _make_parents(directory: Path) -> list[Path]:
    """Create ``directory`` and its missing parents; returns those created, deepest first."""
    missing = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    for made in reversed(missing):
        with contextlib.suppress(FileExistsError):
            made.mkdir()
    return missing
