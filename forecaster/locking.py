"""One writer per model directory: an exclusive ``flock`` on a lock file beside it.

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
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from .errors import ForecasterError
from .outputs import link_target

#: How often a waiting writer tries the lock again, in seconds.
POLL = 0.1


class LockedError(ForecasterError):
    """Another process is writing the same model directory."""


def lock_path(model_dir: str | os.PathLike) -> Path:
    """The lock file of a model directory: ``.NAME.lock`` beside it."""
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
    import fcntl

    target = Path(model_dir)
    path = lock_path(target)
    with _named_errors(target):
        created = _make_parents(target.parent)
    deadline = time.monotonic() + max(0.0, wait)
    fd = None
    try:
        while fd is None:
            with _named_errors(target):
                fd = _try_lock(path, fcntl)
            if fd is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LockedError(_busy_message(target, path, wait))
                time.sleep(min(POLL, remaining))
        yield path
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)  # while still holding it: see the module docstring
            os.close(fd)
        for directory in created:  # made for nothing if training failed: leave no trace
            with contextlib.suppress(OSError):
                directory.rmdir()


@contextlib.contextmanager
def _named_errors(target: Path) -> Iterator[None]:
    """A directory that cannot be written (read-only, not ours) as one line naming the model
    directory and what to do, not the bare ``Read-only file system: .model.lock``."""
    try:
        yield
    except OSError as exc:
        raise ForecasterError(f"cannot write model directory '{target}' ({exc.strerror or exc}: "
                              f"{exc.filename or target}); choose one you may write to with -m") from None


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


def _busy_message(target: Path, path: Path, wait: float) -> str:
    info = holder(path)
    if info:
        who = f"pid {info.get('pid', '?')} on {info.get('host', '?')}, since {info.get('since', '?')}"
    else:
        who = "another process"
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
