"""How Keras and TensorFlow are set up before their first import (``forecaster.backend``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# what TensorFlow's runtime reads at start-up, printed after forecaster imported Keras
PROBE = (
    "import os; from forecaster.backend import load_keras; load_keras(); "
    "print(os.environ['TF_NUM_INTRAOP_THREADS'], os.environ['TF_ENABLE_ONEDNN_OPTS'])"
)


@pytest.mark.parametrize(("preset", "expected"), [(None, "1"), ("2", "2")])
def test_one_thread_per_operation_unless_the_user_says_otherwise(preset, expected):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_NUM_INTRAOP_THREADS", "TF_ENABLE_ONEDNN_OPTS")}
    if preset is not None:
        env["TF_NUM_INTRAOP_THREADS"] = preset
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [expected, "0"]
