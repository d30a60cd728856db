"""Stopping on SIGINT, SIGTERM and SIGHUP, for the command line.

The handlers (:func:`install`, which only ``forecaster``'s entry point calls) raise
:class:`Stopped` where the program is, so that ``finally`` blocks and the atomic writers clean
up before the process exits. Python drops an exception raised inside a finaliser (a
``__del__`` that TensorFlow runs between two networks of an ensemble, say), and the run would
go on to replace the model as if no one had asked it to stop; so the request is also kept,
and the long-running library code calls :func:`check` where stopping is safe (after each
epoch, before a model is put in place). Once a run's result is in place (:func:`committed`),
later signals are ignored: the run has done what it was asked, and ending it with a failure
would say the old model or output were kept when they were not.

Library callers that never call :func:`install` are not affected: :func:`check` then never
raises and :func:`committed` changes nothing.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from typing import Any


class Stopped(BaseException):
    """Raised by the signal handlers, carrying the exit code and the message to end with.

    A BaseException, not a KeyboardInterrupt, so that no library code in between catches it.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


_installed = False
_requested: Stopped | None = None
_committed = False
#: SIGHUP (a closed terminal or SSH session) where the system has it
SIGNALS = (signal.SIGINT, signal.SIGTERM, *((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()))
#: Each signal's exit code (128 + its number, as a shell reports a process it killed) and message
_STOPS = {signal.SIGINT: (130, "Interrupted."), signal.SIGTERM: (143, "Terminated."),
          **({signal.SIGHUP: (129, "Hung up.")} if hasattr(signal, "SIGHUP") else {})}


def install() -> None:
    """Stop on SIGINT, SIGTERM and SIGHUP by raising :class:`Stopped` (the main thread only).

    A signal ignored when the run starts stays ignored: ``nohup`` ignores SIGHUP so that the
    run outlives its session, and a shell ignores SIGINT for the jobs it starts in the
    background."""
    global _installed
    for signum in SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _handle)
    previous = sys.unraisablehook

    def unraisable(event: Any) -> None:
        # a stop raised in a finaliser is kept and acted on by check(): no traceback for it
        if not isinstance(event.exc_value, Stopped):
            previous(event)

    sys.unraisablehook = unraisable
    _installed = True


def _handle(signum: int, frame: Any) -> None:
    global _requested
    # once is enough: a second signal during the clean-up must not interrupt it (a first one
    # lost in a finaliser is still acted on by check())
    for other in SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    _requested = Stopped(*_STOPS.get(signum, _STOPS[signal.SIGINT]))
    raise _requested


def requested() -> Stopped | None:
    """The stop asked for by a signal, if one was (whether or not it was raised through)."""
    return _requested


def check() -> None:
    """Raise the stop a signal asked for, unless the run's result is already in place."""
    if _requested is not None and not _committed:
        raise _requested


def committed() -> None:
    """Say that the run's result is in place: signals from now on are ignored (one held off
    by a signal mask until now is discarded), and :func:`check` no longer raises. Call with
    SIGINT and SIGTERM blocked when the result is put in place by a rename, so that none
    arrives between the rename and this."""
    global _committed
    _committed = True
    if _installed:
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_IGN)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP off (they are delivered afterwards) for a few system calls."""
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(SIGNALS))
    except (AttributeError, OSError, ValueError):  # no POSIX signal masks
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
