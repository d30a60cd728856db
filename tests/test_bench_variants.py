"""How the benchmark scripts name a run's variant (``benchmarks/common.py``): the flags of the
training options that differ from the package's defaults, which also name the section of
BENCHMARKS.md the run writes, so a variant never overwrites the default's figures."""

from __future__ import annotations

from argparse import Namespace

import pytest

from .conftest import load_benchmark_script


@pytest.fixture(scope="module")
def common():
    return load_benchmark_script("common")


def test_the_default_has_no_flags(common):
    # as etth1.py parses its defaults (the package's values) and m4_hourly.py (None: the package's)
    assert common.variant_flags(Namespace(ensemble=None, ema=False, final_fit="train", dropout=0.0, segment=None,
                                          learning_rate=None)) == ""
    assert common.variant_flags(Namespace(target_transform="auto", lookback=None, dropout=None)) == ""


def test_options_other_than_the_default_become_flags_in_a_fixed_order(common):
    args = Namespace(learning_rate=3e-4, segment=24, dropout=0.25, final_fit="all", ema=True, ensemble=3,
                     lookback=480, target_transform="none", horizons=[96], seed=7)
    assert common.variant_flags(args) == ("--target-transform none --lookback 480 --ensemble 3 --ema --final-fit all "
                                          "--dropout 0.25 --segment 24 --learning-rate 0.0003")
