"""Write the small synthetic data sets that the README examples and manual tests use.

Files written (next to this script unless ``--output-dir`` says otherwise):

``hourly_load.csv`` -- ``timestamp,load,temperature``; one wide series, hourly, 120 days.
    It imitates a regional electricity load (MW) so that every part of the tool has
    something to bite on: a daily cycle with morning and evening peaks and a weekly cycle
    give the RNN structure that naive baselines miss; the extra load on cold hours makes
    ``temperature`` a covariate worth passing; AR(1) noise keeps the forecast from being
    trivial. ``temperature`` is a smooth daily cycle on top of slowly wandering weather.

``hourly_load_labels.csv`` -- ``timestamp,kind``; the ground truth for anomaly detection.
    Anomalies are injected into ``load`` only, never into ``temperature``: a detector that
    uses the covariate should not be handed the answer. None fall in the first week, which
    the model needs as clean history, and several fall in the last 20 % (the default
    validation split) as well as in the training part, so that both in-sample and held-out
    detection can be checked. Kinds: ``spike`` and ``dip`` (one hour each), ``level_shift``
    (six hours raised by 20 %) and ``flatline`` (twelve hours stuck at one value, as a
    frozen meter would report). One row per anomalous hour.

``stores_daily.csv`` -- ``date,store,sales,promo``; a long file, five stores, 500 days.
    The store levels span more than two orders of magnitude so that per-series scaling
    matters; each store's busy weekdays differ a little so one shared weekly profile is not
    quite enough; yearly seasonality and per-store trends add slow movement; ``promo`` is a
    random 0/1 covariate that lifts sales on its days, so a model that reads it should win.

The output is deterministic: fixed seeds, fixed decimals, no index column. Running this
script twice gives byte-identical files, so regenerated files only show up in a diff when
the recipe changed.

Usage: ``python sample_data/generate.py [--output-dir DIR]`` (or ``make sample-data``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
# Each file gets its own stream, so changing one recipe leaves the other file untouched.
SEED_LOAD = 20240101
SEED_STORES = 20230101

LOAD_START = "2024-01-01 00:00:00"
LOAD_DAYS = 120
# (day, hour, kind, length in hours); days count from LOAD_START. Fixed rather than random
# so the README can list them and a change in the noise recipe does not move them.
# Day 96 onwards is the last 20 % of the series.
LOAD_ANOMALIES = (
    (12, 14, "spike", 1),
    (23, 11, "dip", 1),
    (38, 9, "level_shift", 6),
    (51, 20, "spike", 1),
    (67, 6, "flatline", 12),
    (99, 10, "spike", 1),
    (106, 19, "dip", 1),
    (115, 7, "spike", 1),
)
# Relative size of the injected changes: a third of the level is far outside the noise
# (a few per cent of the level), so every label is visible by eye in a plot.
SPIKE = 0.35
DIP = -0.35
LEVEL_SHIFT = 0.20

STORES_START = "2023-01-01"
STORES_DAYS = 500
STORE_LEVELS = {"store_a": 50.0, "store_b": 200.0, "store_c": 1000.0, "store_d": 3000.0, "store_e": 8000.0}
# Retail shape shared by all stores, Monday first: quiet early week, busy Friday and Saturday.
WEEKLY_SHAPE = np.array([0.85, 0.88, 0.92, 0.97, 1.15, 1.30, 0.93])
PROMO_SHARE = 0.10


def _bump(hour: np.ndarray, centre: float, width: float) -> np.ndarray:
    """A Gaussian bump on the 24-hour circle, so a peak near midnight wraps around."""
    distance = (hour - centre + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (distance / width) ** 2)


def _daily_shape(hour: np.ndarray) -> np.ndarray:
    """Night trough, a morning peak and a larger evening peak, as in household demand."""
    return -0.22 * _bump(hour, 3.5, 3.0) + 0.10 * _bump(hour, 8.5, 1.5) + 0.16 * _bump(hour, 18.5, 2.0)


def _daily_profile(hour: np.ndarray) -> np.ndarray:
    """The daily shape as a multiplier averaging 1, so it does not change the level."""
    return 1.0 + _daily_shape(hour) - _daily_shape(np.arange(24.0)).mean()


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """AR(1) noise started from its stationary distribution, so the start is not special."""
    eps = rng.normal(0.0, sd, n)
    out = np.empty(n)
    out[0] = eps[0] / np.sqrt(1.0 - phi**2)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + eps[i]
    return out


def temperature(rng: np.random.Generator, index: pd.DatetimeIndex) -> np.ndarray:
    """Hourly temperature (deg C): late-winter-to-spring warming, daily cycle, weather."""
    n = len(index)
    hour = index.hour.to_numpy(dtype=float)
    season = 1.0 + 11.0 * np.arange(n) / n
    daily = 4.0 * np.cos(2 * np.pi * (hour - 15.0) / 24.0)
    # Weather fronts last days, not hours: a slowly mean-reverting walk, smoothed over a day
    # so it never jumps from one hour to the next.
    weather = pd.Series(_ar1(rng, n, phi=0.995, sd=0.25)).rolling(24, center=True, min_periods=1).mean().to_numpy()
    return season + daily + weather + rng.normal(0.0, 0.3, n)


def hourly_load(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The hourly load frame and its anomaly labels, both with formatted timestamps."""
    index = pd.date_range(LOAD_START, periods=LOAD_DAYS * 24, freq="h")
    n = len(index)
    hour = index.hour.to_numpy(dtype=float)
    weekend = index.day_of_week.to_numpy() >= 5
    temp = temperature(rng, index)

    level = 600.0 + 50.0 * np.arange(n) / n
    weekly = np.where(weekend, 0.85, 1.0)
    # Heating demand: below 15 deg C every degree colder costs a few MW more.
    heating = 5.0 * np.maximum(0.0, 15.0 - temp)
    clean = level * _daily_profile(hour) * weekly + heating + _ar1(rng, n, phi=0.8, sd=7.0)

    load = clean.copy()
    labels = []
    for day, start_hour, kind, length in LOAD_ANOMALIES:
        start = day * 24 + start_hour
        span = slice(start, start + length)
        if kind == "spike":
            load[span] *= 1.0 + SPIKE
        elif kind == "dip":
            load[span] *= 1.0 + DIP
        elif kind == "level_shift":
            load[span] *= 1.0 + LEVEL_SHIFT
        elif kind == "flatline":
            # Rounded like the file, so the written values are exactly equal.
            load[span] = np.round(clean[start - 1], 2)
        else:
            raise ValueError(f"unknown anomaly kind {kind!r}")
        labels.extend((index[i], kind) for i in range(start, start + length))

    stamps = index.strftime("%Y-%m-%d %H:%M:%S")
    frame = pd.DataFrame({"timestamp": stamps, "load": load, "temperature": temp})
    label_frame = pd.DataFrame(sorted(labels), columns=["timestamp", "kind"])
    label_frame["timestamp"] = pd.DatetimeIndex(label_frame["timestamp"]).strftime("%Y-%m-%d %H:%M:%S")
    return frame, label_frame


def stores_daily(rng: np.random.Generator) -> pd.DataFrame:
    """Daily sales of five stores in long format, ordered by date then store."""
    index = pd.date_range(STORES_START, periods=STORES_DAYS, freq="D")
    n = len(index)
    years = np.arange(n) / 365.25
    dow = index.day_of_week.to_numpy()
    doy = index.day_of_year.to_numpy(dtype=float)

    columns = []
    for store, base in STORE_LEVELS.items():
        # Each store shifts the shared weekly shape a little (a market day, a quiet Sunday).
        weekly = WEEKLY_SHAPE * np.exp(rng.normal(0.0, 0.08, 7))
        weekly /= weekly.mean()
        amplitude = rng.uniform(0.08, 0.20)
        peak_day = rng.uniform(330.0, 365.0)  # around the December shopping season
        yearly = 1.0 + amplitude * np.cos(2 * np.pi * (doy - peak_day) / 365.25)
        trend = np.exp(rng.uniform(-0.05, 0.20) * years)
        # Small stores sell a handful of items a day, so their days are relatively noisier.
        noise = np.exp(rng.normal(0.0, 0.06 + 0.6 / np.sqrt(base), n))
        promo = (rng.random(n) < PROMO_SHARE).astype(int)
        lift = 1.0 + promo * rng.uniform(0.20, 0.30)
        sales = base * weekly[dow] * yearly * trend * noise * lift
        columns.append(pd.DataFrame({"date": index, "store": store, "sales": sales, "promo": promo}))

    frame = pd.concat(columns, ignore_index=True).sort_values(["date", "store"], kind="stable", ignore_index=True)
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    return frame


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, float_format="%.2f", lineterminator="\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=HERE, help=f"where to write the CSV files (default: {HERE})")
    args = parser.parse_args(argv)
    out: Path = args.output_dir
    out.mkdir(parents=True, exist_ok=True)

    load, labels = hourly_load(np.random.default_rng(SEED_LOAD))
    _write(load, out / "hourly_load.csv")
    _write(labels, out / "hourly_load_labels.csv")
    _write(stores_daily(np.random.default_rng(SEED_STORES)), out / "stores_daily.csv")
    for name in ("hourly_load.csv", "hourly_load_labels.csv", "stores_daily.csv"):
        print(out / name)


if __name__ == "__main__":
    main()
