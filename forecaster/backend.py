"""Importing Keras quietly and making it deterministic.

TensorFlow prints start-up chatter on stderr from C++ unless told otherwise before it is first
imported; cron users want silence, so every Keras import in the package goes through here.
"""

from __future__ import annotations

import logging
import os


def load_keras():
    """Import Keras (TensorFlow backend) with TensorFlow's own logging silenced."""
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
