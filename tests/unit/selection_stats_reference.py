#!/usr/bin/python3
"""Reference values for tests/unit/selection_stats_test.cc.

Computes, independently of libevolve and with the Python standard library only,
the statistics of libevolve/src/selection_stats.cc on fixed inputs, and prints
the expected values that the C++ test asserts. Run it with `python3
tests/unit/selection_stats_reference.py`; if a formula or an input changes here,
paste the new output into the test.

Independence: the moments are computed in two passes over the returns (not from
power sums), the normal CDF and quantile come from statistics.NormalDist
(Wichura's AS241, not Acklam's algorithm), and CSCV walks itertools.combinations
with straightforward loops. The rules that decide exact values (which splits,
tie breaks, zero variance) follow the documented ones in
libevolve/include/evolve/selection_stats.h.

Formulas:
  PSR  Bailey & Lopez de Prado, "The Sharpe Ratio Efficient Frontier" (2012):
       Z((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2))
  SR0  Bailey & Lopez de Prado, "The Deflated Sharpe Ratio" (2014):
       sqrt(V) ((1 - gamma) Z^-1(1 - 1/N) + gamma Z^-1(1 - 1/(N e)))
  PBO  Bailey, Borwein, Lopez de Prado & Zhu, "The Probability of Backtest
       Overfitting" (2015): CSCV over the C(S, S/2) splits of S blocks.

Inputs: returns come from a 32-bit linear congruential generator (Numerical
Recipes' constants) that the C++ test reproduces bit for bit:
  state = (1664525 * state + 1013904223) mod 2^32,  u = state / 2^32.
"""

import itertools
import math
from statistics import NormalDist

EULER_GAMMA = 0.57721566490153286061
STD_NORMAL = NormalDist()


class Lcg:
    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (1664525 * self.state + 1013904223) % (1 << 32)
        return self.state / 4294967296.0


def candidate_seed(base, k):
    """Seed of candidate k: seeds 1 apart would give visibly related LCG streams."""
    return (base + 2654435761 * k) % (1 << 32)


def skewed_return(lcg, drift):
    """drift + uniform noise + a left-skewed term with mean 0 (E[u^3] = 1/4)."""
    u1 = lcg.next()
    u2 = lcg.next()
    return drift + 0.02 * (u1 - 0.5) + 0.03 * (0.25 - u2 * u2 * u2)


def returns(seed, n, drift):
    lcg = Lcg(seed)
    return [skewed_return(lcg, drift) for _ in range(n)]


def moments(rs):
    """Two-pass mean, sample variance, Sharpe ratio, population skewness and kurtosis."""
    n = len(rs)
    mean = math.fsum(rs) / n
    d = [r - mean for r in rs]
    css = math.fsum(x * x for x in d)
    m2 = css / n
    m3 = math.fsum(x * x * x for x in d) / n
    m4 = math.fsum(x * x * x * x for x in d) / n
    var = css / (n - 1)
    return {
        "mean": mean,
        "variance": var,
        "sharpe": mean / math.sqrt(var),
        "skewness": m3 / m2**1.5,
        "kurtosis": m4 / (m2 * m2),
    }


def expected_max_sharpe(trials, variance):
    if trials <= 1:
        return 0.0
    inv = STD_NORMAL.inv_cdf
    return math.sqrt(variance) * ((1 - EULER_GAMMA) * inv(1 - 1 / trials) +
                                  EULER_GAMMA * inv(1 - 1 / (trials * math.e)))


def psr(sharpe, benchmark, periods, skewness, kurtosis):
    root_arg = 1 - skewness * sharpe + (kurtosis - 1) / 4 * sharpe**2
    return STD_NORMAL.cdf((sharpe - benchmark) * math.sqrt(periods - 1) / math.sqrt(root_arg))


def sample_variance(xs):
    mean = math.fsum(xs) / len(xs)
    return math.fsum((x - mean)**2 for x in xs) / (len(xs) - 1)


# --- CSCV / PBO -------------------------------------------------------------

def block_sums(rs, blocks):
    """Splits rs into `blocks` equal consecutive blocks: (n, sum, sum2) each, summed in order."""
    size = len(rs) // blocks
    out = []
    for b in range(blocks):
        n, s, s2 = 0, 0.0, 0.0
        for r in rs[b * size:(b + 1) * size]:
            n += 1
            s += r
            s2 += r * r
        out.append((n, s, s2))
    return out


def half_sharpe(blocks, indices):
    """Sharpe ratio of the concatenated blocks (added in increasing index order); 0 if undefined."""
    n, s, s2 = 0, 0.0, 0.0
    for b in sorted(indices):
        n += blocks[b][0]
        s += blocks[b][1]
        s2 += blocks[b][2]
    if n < 2:
        return 0.0
    mean = s / n
    css = s2 - s * mean
    if css <= 1e-10 * s2:  # zero variance, as documented in selection_stats.h
        return 0.0
    return mean / math.sqrt(css / (n - 1))


def pbo(candidates):
    n_cand = len(candidates)
    s = len(candidates[0])
    logits = []
    overfit = 0
    for is_half in itertools.combinations(range(s), s // 2):
        oos_half = [b for b in range(s) if b not in is_half]
        is_perf = [half_sharpe(c, is_half) for c in candidates]
        oos_perf = [half_sharpe(c, oos_half) for c in candidates]
        best = is_perf.index(max(is_perf))  # first maximum: ties -> lowest index
        # Average rank, 1 = worst.
        below = sum(1 for i in range(n_cand) if oos_perf[i] < oos_perf[best])
        ties = sum(1 for i in range(n_cand) if oos_perf[i] == oos_perf[best])  # includes best
        rank = below + (ties + 1) / 2
        w = rank / (n_cand + 1)
        logits.append(math.log(w / (1 - w)))
        if w <= 0.5:  # logit <= 0, decided on w so that log's rounding at the median cannot matter
            overfit += 1
    logits.sort()
    m = len(logits)
    median = logits[m // 2] if m % 2 else (logits[m // 2 - 1] + logits[m // 2]) / 2
    return {"pbo": overfit / m, "combinations": m, "median_logit": median}


# --- the cases ----------------------------------------------------------------

def out(name, value):
    print(f"{name} = {value!r}")


def main():
    # 1. ReturnMoments against the direct formulas.
    m = moments(returns(seed=12345, n=250, drift=0.002))
    for key in ("mean", "variance", "sharpe", "skewness", "kurtosis"):
        out(f"moments.{key}", m[key])

    # 2. Normal CDF and quantile.
    for x in (-4.0, -1.5, -0.3, 0.0, 0.7, 2.0, 3.5):
        out(f"cdf({x!r})", STD_NORMAL.cdf(x))
    for p in (1e-12, 1e-6, 0.001, 0.02, 0.02425, 0.1, 0.3, 0.5, 0.75, 0.975, 0.999, 1 - 1e-9):
        out(f"quantile({p!r})", STD_NORMAL.inv_cdf(p))

    # 3. Expected maximum Sharpe ratio.
    for n in (1, 2, 10, 100, 1000):
        out(f"sr0(N={n}, V=1)", expected_max_sharpe(n, 1.0))
    out("sr0(N=100, V=0.5/250)", expected_max_sharpe(100, 0.5 / 250))

    # 4. PSR.
    out("psr(0.1, 0, 250, -0.5, 5)", psr(0.1, 0.0, 250, -0.5, 5.0))
    out("psr(0.05, 0.08, 1000, 0.3, 4)", psr(0.05, 0.08, 1000, 0.3, 4.0))
    out("psr(0.2, 0, 2, 0, 3)", psr(0.2, 0.0, 2, 0.0, 3.0))

    # 4b. Bailey & Lopez de Prado (2014), "A numerical example": N = 100 trials,
    # V = 1/2 (annualised) over 250 days a year, T = 1250 days, skewness -3,
    # kurtosis 10, annualised SR 2.5. The paper reports SR0 ~ 0.1132 (per day)
    # and DSR ~ 0.9004.
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    out("paper.sr0", sr0)
    out("paper.dsr", psr(2.5 / math.sqrt(250), sr0, 1250, -3.0, 10.0))

    # 5. DSR of the best of 40 candidates, 500 periods each; candidate k has
    # drift 0.00002 * k and seed candidate_seed(1000, k).
    series = [returns(seed=candidate_seed(1000, k), n=500, drift=0.00002 * k) for k in range(40)]
    stats = [moments(rs) for rs in series]
    sharpes = [st["sharpe"] for st in stats]
    best = sharpes.index(max(sharpes))
    v = sample_variance(sharpes)
    sel = stats[best]
    sr0 = expected_max_sharpe(40, v)
    out("dsr.selected", best)
    out("dsr.sharpe", sel["sharpe"])
    out("dsr.sharpe_variance", v)
    out("dsr.skewness", sel["skewness"])
    out("dsr.kurtosis", sel["kurtosis"])
    out("dsr.expected_max_sharpe", sr0)
    out("dsr.probability", psr(sel["sharpe"], sr0, 500, sel["skewness"], sel["kurtosis"]))

    # 6. PBO near 1: 16 candidates, 16 blocks of 20 returns; candidate k is good
    # (+0.01 per period) in the 8 cyclically consecutive blocks b with
    # (b + k) mod 16 < 8 and bad (-0.01) in the others, plus uniform noise
    # 0.02 (u - 0.5). Whatever is best in sample has the fewest good blocks out
    # of sample.
    lcg = Lcg(777)
    cands = []
    for k in range(16):
        rs = []
        for b in range(16):
            sign = 1.0 if (b + k) % 16 < 8 else -1.0
            for _ in range(20):
                rs.append(sign * 0.01 + 0.02 * (lcg.next() - 0.5))
        cands.append(block_sums(rs, 16))
    for key, value in pbo(cands).items():
        out(f"pbo_high.{key}", value)

    # 7. PBO near 0: 10 candidates of pure noise 0.02 (u - 0.5), 16 blocks of 20,
    # except candidate 3, which has drift 0.01.
    lcg = Lcg(4242)
    cands = []
    for k in range(10):
        drift = 0.01 if k == 3 else 0.0
        cands.append(block_sums([drift + 0.02 * (lcg.next() - 0.5) for _ in range(320)], 16))
    for key, value in pbo(cands).items():
        out(f"pbo_low.{key}", value)

    # 8. PBO mid: 12 candidates of skewed noise with drift 0.00002 * k, seed
    # candidate_seed(2024, k), 16 blocks of 25 returns.
    cands = [block_sums(returns(seed=candidate_seed(2024, k), n=400, drift=0.00002 * k), 16)
             for k in range(12)]
    for key, value in pbo(cands).items():
        out(f"pbo_mid.{key}", value)


if __name__ == "__main__":
    main()
