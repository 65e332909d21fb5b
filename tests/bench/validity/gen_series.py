#!/usr/bin/python3
"""Synthetic daily bars with a known truth, for the statistical-validity benchmark.

Writes one CSV per series, DIR/SYMBOL.csv, in the format of examples/data
(header "Date","Open","High","Low","Close","Volume"; weekday dates from
2000-01-03; prices with 4 decimals). The planted structure is in the
close-to-close log returns r_t (standard deviation 1% per bar):

  noise   r_t ~ N(0, 0.01)                       no edge at all
  drift   r_t ~ N(mu, 0.01), mu = 0.0006/day      buy and hold wins (~16%/yr), no timing skill
  ar1_P   r_t = phi r_{t-1} + e_t,                a real, tradable edge (phi = P/100)
          e_t ~ N(0, 0.01 sqrt(1 - phi^2))        (stationary sd of r_t = 1%)

Bars: open_t = close_{t-1} exactly (the backtester enters at the next bar's
open after a signal at a bar's close, so the close-to-close return after a
signal is exactly what a trade earns, less costs); close_t = close_{t-1}
exp(r_t); high/low extend max/min(open, close) by |N(0, 0.3%)| each (they
carry no information about the future); volume = round(1e6 exp(N(0, 0.4)))
(random: a constant volume leaves the volume features undefined and training
fails). The first open is 100. Prices are rounded to 4 decimals and the
rounded close is the next open; high/low are clamped after rounding so that
high >= max(open, close) and low <= min(open, close).

Randomness: Python's random.Random (Mersenne Twister) seeded with the
integer seed of each series (see series_seed()); the same arguments give
byte-identical files. The AR(1) path starts from its stationary
distribution (r_0 ~ N(0, 0.01)), and no burn-in is needed.

usage: gen_series.py --out-dir DIR --kind KIND --count N [--bars 4000] [--base-seed 20240601]
       [--first-index 1]
prints one line per series: SYMBOL KIND SEED
"""
import argparse
import datetime
import math
import os
import random
import sys

KINDS = {
    # kind: (symbol prefix, kind index used in the seed, mu, phi)
    "noise": ("NOISE", 1, 0.0, 0.0),
    "drift": ("DRIFT", 2, 0.0006, 0.0),
    "ar1_10": ("ARTEN", 3, 0.0, 0.10),
    "ar1_20": ("ARTWENTY", 4, 0.0, 0.20),
    "ar1_45": ("ARFORTYFIVE", 5, 0.0, 0.45),
}
SIGMA = 0.01          # sd of r_t
RANGE_SIGMA = 0.003   # sd of the high/low extension (log)
VOLUME_SIGMA = 0.4    # sd of log volume
FIRST_DATE = datetime.date(2000, 1, 3)  # a Monday


def series_seed(base_seed, kind, index):
    """The seed of series `index` (1-based) of `kind`: distinct for every (kind, index)."""
    return base_seed * 1_000_000 + KINDS[kind][1] * 10_000 + index


def symbol_of(kind, index):
    return "%s%03d" % (KINDS[kind][0], index)


def weekdays(n):
    d = FIRST_DATE
    out = []
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d.isoformat())
        d += datetime.timedelta(days=1)
    return out


def write_series(path, kind, seed, bars):
    _, _, mu, phi = KINDS[kind]
    rng = random.Random(seed)
    eps_sd = SIGMA * math.sqrt(1.0 - phi * phi)
    dates = weekdays(bars)
    lines = ['"Date","Open","High","Low","Close","Volume"']
    prev_close = 100.0
    log_close = math.log(prev_close)
    r_prev = rng.gauss(0.0, SIGMA)  # stationary start of the AR(1); unused otherwise
    for t in range(bars):
        if phi != 0.0:
            r = phi * r_prev + rng.gauss(0.0, eps_sd)
        else:
            r = rng.gauss(mu, SIGMA)
        r_prev = r
        o = prev_close
        log_close += r
        c = round(math.exp(log_close), 4)
        if c <= 0:
            raise SystemExit("gen_series.py: non-positive close in %s" % path)
        h = round(max(o, c) * math.exp(abs(rng.gauss(0.0, RANGE_SIGMA))), 4)
        lo = round(min(o, c) * math.exp(-abs(rng.gauss(0.0, RANGE_SIGMA))), 4)
        h = max(h, o, c)
        lo = max(min(lo, o, c), 0.0001)
        v = int(round(1e6 * math.exp(rng.gauss(0.0, VOLUME_SIGMA))))
        lines.append("%s,%.4f,%.4f,%.4f,%.4f,%d" % (dates[t], o, h, lo, c, v))
        prev_close = c
        # keep the log price on the rounded grid so open_t == close_{t-1} exactly
        log_close = math.log(c)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--kind", required=True, choices=sorted(KINDS))
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--bars", type=int, default=4000)
    ap.add_argument("--base-seed", type=int, default=20240601)
    ap.add_argument("--first-index", type=int, default=1)
    a = ap.parse_args()
    if a.bars < 2 or a.count < 0:
        ap.error("--bars must be >= 2 and --count >= 0")
    os.makedirs(a.out_dir, exist_ok=True)
    for i in range(a.first_index, a.first_index + a.count):
        sym = symbol_of(a.kind, i)
        seed = series_seed(a.base_seed, a.kind, i)
        write_series(os.path.join(a.out_dir, sym + ".csv"), a.kind, seed, a.bars)
        print(sym, a.kind, seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
