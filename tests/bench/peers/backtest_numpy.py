#!/usr/bin/python3
"""Peer of tests/bench/bench_backtest.cc: the same backtest (docs/simulation.md)
over the same data file, vectorised with numpy, for the same 12 cells
(thresholds 0, 0.0005, 0.001, 0.002 x filters none, regime_vix in {2, 3},
regime_gmm = 0), 1 bps fee + 1 bps slippage per side, long only.

Each cell: signals, positions (signal shifted by one bar), trades from the
runs of equal non-zero positions, net returns with costs, the
mark-to-market equity curve (compounded), drawdown, Sharpe of per-bar equity
returns, weekly counts over ISO weeks. The per-cell metrics are printed in
the format of bench_backtest so the two can be compared line by line.

Usage: backtest_numpy.py DATA_FILE [REPEATS]
Prints numpy_seconds=<best of REPEATS>.
"""
import math
import sys
import time

import numpy as np

FEE_BPS = 1.0
SLIPPAGE_BPS = 1.0
INITIAL_CASH = 10000.0


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != b"EVBT0001":
        raise SystemExit("not a bench_backtest file: " + path)
    n = int(np.frombuffer(raw, dtype="<i8", count=1, offset=8)[0])
    off = 16
    time_ = np.frombuffer(raw, dtype="<i8", count=n, offset=off)
    off += 8 * n
    arrays = []
    for _ in range(3):
        arrays.append(np.frombuffer(raw, dtype="<f8", count=n, offset=off))
        off += 8 * n
    vix = np.frombuffer(raw, dtype="i1", count=n, offset=off)
    gmm = np.frombuffer(raw, dtype="i1", count=n, offset=off + n)
    return time_, arrays[0], arrays[1], arrays[2], {"regime_vix": vix, "regime_gmm": gmm}


def simulate(time_, open_, close, pred, allowed, threshold, week, n_weeks, bars_per_year):
    c = (FEE_BPS + SLIPPAGE_BPS) / 1e4
    n = len(close)
    sig = (pred > threshold) & allowed  # NaN > x is False
    pos = np.zeros(n, dtype=np.int8)
    pos[1:] = sig[:-1]
    # Runs of a held position: trade k holds bars start[k] .. end[k].
    d = np.diff(pos, prepend=np.int8(0), append=np.int8(0))
    start = np.flatnonzero(d == 1)
    end = np.flatnonzero(d == -1) - 1
    at_close = end == n - 1
    exit_price = np.where(at_close, close[end], open_[np.minimum(end + 1, n - 1)])
    entry_price = open_[start]
    r = np.maximum(exit_price * (1 - c) / (entry_price * (1 + c)) - 1, -1.0)
    trades = len(r)
    # Equity: cash before each trade, units of each trade, marked at closes.
    growth = np.cumprod(1 + r)
    cash_before = INITIAL_CASH * np.concatenate(([1.0], growth[:-1]))
    units = cash_before / (entry_price * (1 + c))
    trade_of_bar = np.cumsum(d[:-1] == 1) - 1  # index of the last trade started at or before each bar
    in_trade = pos != 0
    equity = np.empty(n)
    flat = ~in_trade
    # Flat bars hold the cash after the last finished trade.
    finished = np.cumsum(np.bincount(np.minimum(end + 1, n - 1)[~at_close], minlength=n)) if trades else np.zeros(n)
    cash_after = INITIAL_CASH * np.concatenate(([1.0], growth))
    equity[flat] = cash_after[finished[flat].astype(np.int64)]
    tb = trade_of_bar[in_trade]
    equity[in_trade] = units[tb] * close[in_trade]
    if trades and at_close[-1]:
        equity[-1] = cash_after[-1]
    prev = np.concatenate(([INITIAL_CASH], equity[:-1]))
    bar_ret = equity / prev - 1
    peak = np.maximum.accumulate(np.concatenate(([INITIAL_CASH], equity)))
    mdd = float(np.max(1 - np.concatenate(([INITIAL_CASH], equity)) / peak))
    sd = bar_ret.std(ddof=1)
    sharpe = bar_ret.mean() / sd * math.sqrt(bars_per_year) if sd > 0 else None
    counts = np.bincount(week[start], minlength=n_weeks)
    mean_w = trades / n_weeks
    consistency = counts.std() / mean_w if mean_w > 0 else None
    if trades >= 2 and r.std(ddof=1) > 0:
        sqn = math.sqrt(trades) * r.mean() / r.std(ddof=1)
    else:
        sqn = None
    loss = -r[r < 0].sum()
    pf = r[r > 0].sum() / loss if loss > 0 else None
    return dict(trades=trades, sqn=sqn, pf=pf, total_return_pct=(equity[-1] / INITIAL_CASH - 1) * 100,
                max_drawdown_pct=mdd * 100, sharpe=sharpe, exposure=in_trade.mean(), weekly_consistency=consistency)


def fmt(v):
    return "none" if v is None else "%.10g" % v


def run(time_, open_, close, pred, regimes):
    n = len(close)
    days = time_ // 86400
    monday = days - (days + 3) % 7
    week = (monday - monday[0]) // 7
    n_weeks = int(week[-1]) + 1
    bars_per_year = (n - 1) * 365.25 * 86400 / (time_[-1] - time_[0])
    filters = [("none", np.ones(n, dtype=bool)),
               ("regime_vix", np.isin(regimes["regime_vix"], [2, 3])),
               ("regime_gmm", regimes["regime_gmm"] == 0)]
    out = []
    for threshold in (0.0, 0.0005, 0.001, 0.002):
        for name, allowed in filters:
            out.append((threshold, name, simulate(time_, open_, close, pred, allowed, threshold, week, n_weeks,
                                                  bars_per_year)))
    return out


def main():
    path = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    data = read(path)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        results = run(*data)
        best = min(best, time.perf_counter() - t0)
    print("bars=%d cells=%d repeats=%d" % (len(data[0]), len(results), repeats))
    print("numpy_seconds=%.6f" % best)
    for k, (threshold, name, s) in enumerate(results):
        print("cell %d threshold=%g filter=%s trades=%d sqn=%s pf=%s total_return_pct=%.10g max_drawdown_pct=%.10g "
              "sharpe=%s exposure=%.10g weekly_consistency=%s"
              % (k, threshold, name, s["trades"], fmt(s["sqn"]), fmt(s["pf"]), s["total_return_pct"],
                 s["max_drawdown_pct"], fmt(s["sharpe"]), s["exposure"], fmt(s["weekly_consistency"])))


if __name__ == "__main__":
    main()
