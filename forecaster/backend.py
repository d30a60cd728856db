"""Importing Keras quietly and making it deterministic.

TensorFlow prints start-up chatter on stderr from C++ unless told otherwise before it is first
imported; cron users want silence, so every Keras import in the package goes through here.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os

#: glibc's ``mallopt`` parameters (``malloc.h``)
M_TRIM_THRESHOLD, M_TOP_PAD = -1, -2

#: Free memory a heap keeps at its top rather than handing it back to the system, and how much
#: free memory the main heap may hold before it trims: see :func:`keep_freed_memory`.
MALLOC_TOP_PAD = 64 * 2**20
MALLOC_TRIM_THRESHOLD = 256 * 2**20

#: Environment variables through which the user sets glibc's allocator themselves, or turns
#: :func:`keep_freed_memory` off (``FORECASTER_MALLOC_TUNING=0``)
MALLOC_SETTINGS = ("MALLOC_TOP_PAD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")
MALLOC_SWITCH = "FORECASTER_MALLOC_TUNING"


@functools.cache
def keep_freed_memory() -> bool:
    """Have glibc's allocator keep freed memory for reuse instead of returning it at once.

    Each training step allocates and frees its tensors' buffers; by default glibc gives the
    freed top of a thread's heap back to the system at once, and the next step faults the same
    pages in again. On 2 cores a training epoch then spent up to a third of its time in the
    kernel; keeping 64 MB free at the top of each heap (and up to 256 MB in the main one)
    trained ``benchmarks/perf.py``'s LSTM, GRU and bidirectional LSTM 1.3 to 1.7 times as
    fast in two runs, for 0.04 to 0.09 GB more peak memory (``benchmarks/allocator.py``;
    BENCHMARKS.md, "Freed memory kept for reuse"). Process-wide, so it is set once, and not at all where the
    user tunes glibc's allocator themselves, turns it off with ``FORECASTER_MALLOC_TUNING=0``,
    or the C library is not glibc. The allocator does not touch the arithmetic: results stay
    the same.

    Returns:
        whether the settings were applied.
    """
    if os.environ.get(MALLOC_SWITCH, "1") == "0" or any(name in os.environ for name in MALLOC_SETTINGS):
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
        libc = ctypes.CDLL(None)
    except (ValueError, OSError, AttributeError):  # not glibc, or no confstr on this platform
        return False
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(M_TOP_PAD, MALLOC_TOP_PAD)) and bool(mallopt(M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD))


def writable_matplotlib_config() -> None:
    """Give matplotlib (which Keras imports too) a private temporary configuration directory
    where its usual one cannot be written (a service user with a read-only or missing home):
    it would otherwise make one itself and say so on stderr, past ``--quiet`` and into a JSON
    log, at every run. The user's ``MPLCONFIGDIR`` wins; the directory made is removed at exit."""
    if "MPLCONFIGDIR" in os.environ:
        return
    home = os.path.expanduser("~")
    # its configuration and its font cache, each where matplotlib looks for it
    usual = [os.path.join(os.environ.get(variable) or os.path.join(home, default), "matplotlib")
             for variable, default in (("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"))]
    try:
        for directory in usual:
            os.makedirs(directory, exist_ok=True)
        if all(os.access(directory, os.W_OK) for directory in usual):
            return
    except OSError:
        pass
    import atexit
    import shutil
    import tempfile

    private = tempfile.mkdtemp(prefix="forecaster-matplotlib-")
    atexit.register(shutil.rmtree, private, ignore_errors=True)
    os.environ["MPLCONFIGDIR"] = private


def load_keras():
    """Import Keras (TensorFlow backend) with TensorFlow's own logging silenced and glibc's
    allocator set to keep freed memory (:func:`keep_freed_memory`)."""
    keep_freed_memory()
    writable_matplotlib_config()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # oneDNN reorders float additions between runs and announces itself on stderr; off keeps
    # --seed runs identical and the terminal quiet.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    # One thread per operation: the networks are small (a batch of 64 through 32 units), so
    # an operation split across threads spends more on handing over than it saves. perf.py's
    # LSTM trained about 8,100 windows/s instead of 6,900 on 2 cores; M4's and ETTh1's models
    # came out the same, one of NAB's 57 did not (BENCHMARKS.md, "One thread per TensorFlow
    # operation"). Independent operations still run side by side (inter-op threads). The
    # user's own setting wins.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    # Python-side warnings (e.g. about retracing when a backtest builds one model per fold)
    # are for TensorFlow developers, not for our users
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    import keras

    return keras


def seed_everything(seed: int, deterministic_ops: bool = True) -> None:
    """Seed Python, NumPy and the backend.

    Args:
        deterministic_ops: ask TensorFlow for deterministic kernels. Training compiled by XLA
            does without: XLA's CPU code is deterministic by itself, and Keras refuses to
            compile with XLA while the deterministic kernels are asked for. The setting is
            process-wide, so it is set either way, not only turned on.
    """
    keras = load_keras()
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if deterministic_ops:
            tf.config.experimental.enable_op_determinism()
        else:
            # no public counterpart to enable_op_determinism
            from tensorflow.python.framework import config as tf_config

            tf_config.disable_op_determinism()
