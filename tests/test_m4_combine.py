"""benchmarks/m4_combine.py: several saved M4 runs scored alone and averaged."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import load_benchmark_script


@pytest.fixture(scope="module")
def combine():
    return load_benchmark_script("m4_combine")


def run(name: str, test: np.ndarray, validation: list[np.ndarray], starts, lookback: int) -> dict:
    return {"name": name, "test": test, "validation": np.concatenate(validation), "val_starts": np.array(starts),
            "val_counts": np.array([len(v) for v in validation]), "lookback": lookback, "seed": 0, "ensemble": 3,
            "training_seconds": 60.0}


def test_runs_that_err_in_opposite_directions_average_to_a_perfect_forecast(combine):
    rng = np.random.default_rng(0)
    horizon = combine.HORIZON
    steps = np.arange(300)
    insample = [100 + 10 * np.sin(2 * np.pi * steps / 24) + rng.normal(0, 1, len(steps)) + k for k in range(3)]
    actual = np.stack([x[-horizon:] + 5 for x in insample])
    naive2 = np.stack([np.full(horizon, x[-1]) for x in insample])
    starts, counts = [200, 200, 210], [4, 4, 3]
    origins = combine.validation_origins(np.array(starts), np.array(counts))
    truth = [x[o[:, None] + np.arange(horizon)] for x, o in zip(insample, origins)]
    high = run("high.npz", actual + 2, [t + 2 for t in truth], starts, 168)
    low = run("low.npz", actual - 2, [t - 2 for t in truth], starts, 480)

    rows = combine.scores([high, low], insample, actual, naive2)

    assert [r[0].split()[0] for r in rows] == ["`high.npz`", "`low.npz`", "average"]
    assert "lookback 480" in rows[1][0]
    alone_owa, alone_validation = float(rows[0][3]), float(rows[0][4])
    assert alone_owa > 0.01 and alone_validation > 0.01
    assert rows[0][2] == rows[1][2]  # MASE: the same size of error either way (sMAPE is not symmetric)
    assert float(rows[2][3]) == 0.0 and float(rows[2][4]) == 0.0
    assert rows[2][5] == "2.0"  # training minutes add up


def test_runs_over_other_validation_origins_are_refused(combine):
    one = run("one.npz", np.zeros((2, 48)), [np.zeros((3, 48)), np.zeros((3, 48))], [100, 100], 168)
    other = run("other.npz", np.zeros((2, 48)), [np.zeros((3, 48)), np.zeros((3, 48))], [100, 120], 168)
    with pytest.raises(SystemExit, match="other.npz and one.npz were not forecast over the same"):
        combine.check_same_origins([one, other])
    combine.check_same_origins([one, dict(one, name="again.npz")])


def test_validation_forecasts_are_split_back_per_series(combine):
    parts = [np.full((2, 48), 1.0), np.full((5, 48), 2.0)]
    split = combine.split_validation(run("r.npz", np.zeros((2, 48)), parts, [10, 10], 168))
    assert [p.shape for p in split] == [(2, 48), (5, 48)]
    assert split[1].mean() == 2.0


def test_a_saved_run_loads_back_as_it_was_written(combine, tmp_path):
    from forecaster.training import TrainOptions

    hourly = load_benchmark_script("m4_hourly")
    test = np.arange(2 * 48, dtype=float).reshape(2, 48)
    validation = [np.full((3, 48), 1.5), np.full((1, 48), 2.5)]
    path = tmp_path / "run.npz"
    hourly.save_forecasts(path, test, validation, [100, 120], TrainOptions(lookback=480, seed=7, ensemble=3), 90.0)

    loaded = combine.load_run(path)
    assert loaded["name"] == "run.npz" and int(loaded["lookback"]) == 480 and int(loaded["seed"]) == 7
    np.testing.assert_array_equal(loaded["test"], test)
    assert [p.tolist() for p in combine.split_validation(loaded)] == [v.tolist() for v in validation]
    assert loaded["val_starts"].tolist() == [100, 120] and float(loaded["training_seconds"]) == 90.0
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]  # no temporary file left beside it


def test_a_file_that_is_not_a_saved_run_is_refused_in_one_line(combine, tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, test=np.zeros((2, 48)))
    with pytest.raises(SystemExit, match="other.npz: not a run written by m4_hourly.py --save-forecasts"):
        combine.load_run(other)
    with pytest.raises(SystemExit, match="missing.npz: not a run written by"):
        combine.load_run(tmp_path / "missing.npz")
