#!/usr/bin/env python3
"""The pandas peer of bench_features: the same 46 feature columns as
evolve::engines::ComputeFeatures, written the way a careful pandas user
writes them (vectorised rolling/ewm/numpy, no Python loops per bar).

    /usr/bin/python3 tests/bench/peers/features_pandas.py BARS.csv [--repeats 5]

BARS.csv is the file bench_features wrote, so both sides see the same bars.
Only the computation is timed (best of --repeats, time.perf_counter), not the
CSV read. Prints `pandas_seconds=<best>` and `pandas_columns=<count>`.

Definitions follow pandas idioms rather than TTR's to the last digit: EMAs
are ewm(adjust=False) without TTR's SMA seed, and the true range, DM and OBV
use the usual numpy forms. The work per column is the same kind (one rolling
or recursive pass each), which is what the benchmark compares.
"""
import argparse
import time

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view


def features(df):
    o, h, l, c, v = df["Open"], df["High"], df["Low"], df["Close"], df["Volume"]
    ts = df["Datetime"]
    out = {}

    sma20 = c.rolling(20).mean()
    sma50 = c.rolling(50).mean()
    out["sma_20"] = sma20
    out["sma_50"] = sma50
    out["sma_200"] = c.rolling(200).mean()
    ema12 = c.ewm(span=12, adjust=False).mean()
    ema26 = c.ewm(span=26, adjust=False).mean()
    out["ema_12"] = ema12
    out["ema_26"] = ema26
    out["ema_50"] = c.ewm(span=50, adjust=False).mean()
    macd = ema12 - ema26
    signal = macd.ewm(span=9, adjust=False).mean()
    out["macd_line"] = macd
    out["macd_signal"] = signal
    out["macd_hist"] = macd - signal

    sd20 = c.rolling(20).std(ddof=0)
    upper = sma20 + 2 * sd20
    lower = sma20 - 2 * sd20
    out["bb_upper_20_2"] = upper
    out["bb_lower_20_2"] = lower
    out["bb_width_20_2"] = (upper - lower) / sma20
    out["bb_pct_b_20_2"] = (c - lower) / (upper - lower)

    prev_close = c.shift(1)
    tr = pd.Series(np.maximum(h, prev_close) - np.minimum(l, prev_close), index=c.index)
    atr = tr.ewm(alpha=1 / 14, adjust=False).mean()
    out["atr_14"] = atr
    out["atr_pct_14"] = atr / c

    delta = c.diff()
    up = delta.clip(lower=0)
    down = -delta.clip(upper=0)
    for n in (14, 7):
        avg_up = up.ewm(alpha=1 / n, adjust=False).mean()
        avg_down = down.ewm(alpha=1 / n, adjust=False).mean()
        out[f"rsi_{n}"] = 100 * avg_up / (avg_up + avg_down)
    out["roc_10"] = c.pct_change(10)
    out["momentum_10"] = c.diff(10)

    hh = h.rolling(14).max()
    ll = l.rolling(14).min()
    k = 100 * (c - ll) / (hh - ll)
    d = k.rolling(3).mean()
    out["stoch_k_14"] = k
    out["stoch_d_3"] = d
    out["stoch_slow_d_3"] = d.rolling(3).mean()
    out["williams_r_14"] = -100 * (hh - c) / (hh - ll)

    tp = (h + l + c) / 3
    tp_ma = tp.rolling(20).mean()
    windows = sliding_window_view(tp.to_numpy(), 20)
    mean_dev = np.full(len(tp), np.nan)
    mean_dev[19:] = np.abs(windows - tp_ma.to_numpy()[19:, None]).mean(axis=1)
    out["cci_20"] = (tp - tp_ma) / (0.015 * mean_dev)

    up_move = h.diff()
    down_move = -l.diff()
    plus_dm = pd.Series(np.where((up_move > down_move) & (up_move > 0), up_move, 0.0), index=c.index)
    minus_dm = pd.Series(np.where((down_move > up_move) & (down_move > 0), down_move, 0.0), index=c.index)
    tr_s = tr.ewm(alpha=1 / 14, adjust=False).mean()
    plus_di = 100 * plus_dm.ewm(alpha=1 / 14, adjust=False).mean() / tr_s
    minus_di = 100 * minus_dm.ewm(alpha=1 / 14, adjust=False).mean() / tr_s
    dx = 100 * (plus_di - minus_di).abs() / (plus_di + minus_di)
    out["adx_14"] = dx.ewm(alpha=1 / 14, adjust=False).mean()
    out["plus_di_14"] = plus_di
    out["minus_di_14"] = minus_di

    obv = (np.sign(delta).fillna(0) * v).cumsum()
    out["obv_z_score_20"] = (obv - obv.rolling(20).mean()) / obv.rolling(20).std()

    r1 = c.pct_change()
    log_c = np.log(c)
    lr1 = log_c.diff()
    out["return_1"] = r1
    out["return_5"] = c.pct_change(5)
    out["return_20"] = c.pct_change(20)
    out["log_return_1"] = lr1
    out["log_return_5"] = log_c.diff(5)
    out["volatility_20"] = lr1.rolling(20).std()
    out["return_z_score_20"] = (r1 - r1.rolling(20).mean()) / r1.rolling(20).std()
    out["vol_z_score_20"] = (v - v.rolling(20).mean()) / v.rolling(20).std()
    out["parkinson_vol_20"] = np.sqrt((np.log(h / l) ** 2).rolling(20).sum() / (4 * 20 * np.log(2)))

    rng = h - l
    out["ibs"] = ((c - l) / rng).where(rng > 0, 0.5)
    out["close_to_sma_20"] = c / sma20 - 1
    out["close_to_sma_50"] = c / sma50 - 1
    out["high_low_range"] = rng / c
    out["gap"] = o / prev_close - 1
    out["volume_ratio_20"] = v / v.rolling(20).mean()
    out["day_of_week"] = ts.dt.dayofweek
    out["hour_of_day"] = ts.dt.hour
    out["month"] = ts.dt.month
    return pd.DataFrame(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("csv")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    df = pd.read_csv(args.csv, parse_dates=["Datetime"])
    best = float("inf")
    frame = None
    for _ in range(max(1, args.repeats)):
        start = time.perf_counter()
        frame = features(df)
        best = min(best, time.perf_counter() - start)
    print(f"pandas_seconds={best:.6f}")
    print(f"pandas_columns={frame.shape[1]}")


if __name__ == "__main__":
    main()
