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


# frees 40 MB of 100 KB blocks (below glibc's mmap threshold, so they come from the heap) and
# prints whether keep_freed_memory applied its settings and how much free memory the heap kept
FREED_PROBE = """
import ctypes, os
from forecaster.backend import keep_freed_memory
applied = keep_freed_memory() if os.environ.get("PROBE_TUNE") == "1" else False
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = MallInfo2
# the list made first: its buffer, grown while the blocks are allocated, would come from the
# heap between them, and whether it lands at the top (where it stops glibc trimming) depends on
# what the imports left
blocks = [0] * 400
for i in range(400):
    blocks[i] = libc.malloc(100 * 1024)
for block in reversed(blocks):
    libc.free(block)
print(applied, libc.mallinfo2().fordblks)
"""


def run_freed_probe(tune: bool, **extra_env: str) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_TOP_PAD_", "MALLOC_TRIM_THRESHOLD_",
                                                              "GLIBC_TUNABLES", "FORECASTER_MALLOC_TUNING")}
    env.update(extra_env, PROBE_TUNE="1" if tune else "0")
    done = subprocess.run([sys.executable, "-c", FREED_PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    applied, kept = done.stdout.split()
    return applied, int(kept)


def glibc() -> bool:
    try:
        return bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (ValueError, OSError, AttributeError):
        return False


@pytest.mark.skipif(not glibc(), reason="the allocator settings are glibc's")
def test_freed_memory_is_kept_for_the_next_training_step():
    applied, kept = run_freed_probe(tune=True)
    assert applied == "True"
    assert kept >= 35 * 2**20  # the 40 MB freed stay in the heap for reuse
    applied, kept = run_freed_probe(tune=False)
    assert applied == "False"
    assert kept < 5 * 2**20  # glibc's default hands them back at once


@pytest.mark.skipif(not glibc(), reason="the allocator settings are glibc's")
@pytest.mark.parametrize("env", [{"FORECASTER_MALLOC_TUNING": "0"}, {"MALLOC_TOP_PAD_": "131072"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}])
def test_the_users_own_allocator_settings_win(env):
    applied, kept = run_freed_probe(tune=True, **env)
    assert applied == "False"
    assert kept < 5 * 2**20
