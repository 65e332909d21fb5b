// Selection-aware statistics: how much of a backtest's performance survives the
// fact that it was the best of many tries.
//
// - ReturnMoments: mergeable power sums of per-period returns, from which the
//   Sharpe ratio, skewness and kurtosis follow.
// - The Deflated Sharpe Ratio (Bailey & Lopez de Prado 2014): the probability
//   that the selected candidate's true Sharpe ratio exceeds the best Sharpe
//   ratio that `trials` skill-less candidates would be expected to show.
// - The Probability of Backtest Overfitting (Bailey, Borwein, Lopez de Prado &
//   Zhu 2015), by combinatorially symmetric cross-validation (CSCV): how often
//   the in-sample best candidate ranks at or below the out-of-sample median.
//
// Units: every Sharpe ratio here is per period (mean / standard deviation of
// the per-period returns), never annualised; a sharpe_variance is the variance
// of such per-period Sharpe ratios. Multiply a per-period Sharpe ratio by
// sqrt(periods per year) to annualise it for display only.
//
// References:
//   [PSR] D. H. Bailey, M. Lopez de Prado, "The Sharpe Ratio Efficient
//         Frontier", Journal of Risk 15(2), 2012.
//   [DSR] D. H. Bailey, M. Lopez de Prado, "The Deflated Sharpe Ratio:
//         Correcting for Selection Bias, Backtest Overfitting and
//         Non-Normality", Journal of Portfolio Management 40(5), 2014.
//   [PBO] D. H. Bailey, J. M. Borwein, M. Lopez de Prado, Q. J. Zhu, "The
//         Probability of Backtest Overfitting", Journal of Computational
//         Finance 20(4), 2017 (SSRN 2326253, 2015).
//
// Thread-safety: pure functions; ReturnMoments is a value.
#ifndef EVOLVE_SELECTION_STATS_H_
#define EVOLVE_SELECTION_STATS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "evolve/status.h"
#include "evolve/types.h"

namespace evolve {

// The power sums of a series of per-period returns (ReturnSums, the form a
// SimulationResult stores them in) with what they give: the mean, variance,
// skewness and kurtosis; mergeable (the sums of the blocks of a backtest add
// up to the sums of the whole).
//
// A variance whose centred sum of squares is at most 1e-10 of the raw sum of
// squares (a standard deviation below ~1e-5 of the root mean square, which is
// what rounding leaves of a constant series) counts as zero. The central
// moments are recovered from raw sums, so their relative precision degrades
// as |mean| / standard deviation grows; for returns (a small ratio) they are
// accurate to ~1e-12.
struct ReturnMoments : ReturnSums {
  ReturnMoments() = default;
  explicit ReturnMoments(const ReturnSums& sums) : ReturnSums(sums) {}

  void Add(double r);
  // Adds other's sums to these: the moments of the concatenated series.
  void Merge(const ReturnSums& other);

  // None when n == 0.
  std::optional<double> Mean() const;
  // Sample variance (divisor n - 1). None when n < 2; 0 for a zero variance.
  std::optional<double> Variance() const;
  // Mean / sample standard deviation, per period, not annualised.
  // None when n < 2 or the variance is zero.
  std::optional<double> Sharpe() const;
  // Population skewness gamma3 = m3 / m2^1.5 (central moments with divisor n,
  // as in [PSR] and [DSR]). None when n < 3 or the variance is zero.
  std::optional<double> Skewness() const;
  // Population kurtosis gamma4 = m4 / m2^2, NOT excess (a normal
  // distribution has 3). None when n < 4 or the variance is zero.
  std::optional<double> Kurtosis() const;
};

// The standard normal cumulative distribution function Z(x), from erfc:
// relative error ~1e-16 * (1 + x^2), in the lower tail too.
double NormalCdf(double x);

// The inverse of NormalCdf: x with Z(x) = p. P. J. Acklam's rational
// approximation (2003; relative error < 1.15e-9), refined by one Halley step
// on NormalCdf, which brings it to ~1e-15 relative (p above ~1e-300; below,
// where the density underflows, Acklam's 1e-9 is left). Returns -infinity for
// p <= 0, +infinity for p >= 1 and NaN for a NaN p.
double NormalQuantile(double p);

// The Euler-Mascheroni constant gamma.
inline constexpr double kEulerMascheroni = 0.57721566490153286061;

// The expected maximum of the Sharpe ratios of `trials` independent trials
// whose true Sharpe ratio is 0 and whose estimates have variance
// `sharpe_variance` ([DSR], from the expected maximum of N independent
// standard normals by extreme value theory):
//   SR0 = sqrt(V) * ((1 - gamma) * Z^-1(1 - 1/N) + gamma * Z^-1(1 - 1/(N e)))
// Returns 0 for trials <= 1 (one trial: nothing was selected).
// REQUIRES: sharpe_variance >= 0 (else NaN).
double ExpectedMaxSharpe(int64_t trials, double sharpe_variance);

// The Probabilistic Sharpe Ratio ([PSR]; restated in [DSR]): the probability
// that the true Sharpe ratio exceeds `benchmark_sharpe`, given an observed
// per-period `sharpe` over `periods` returns with the given skewness and
// (non-excess) kurtosis:
//   PSR = Z( (SR - SR*) * sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2) )
// None when periods < 2, when the root's argument is <= 0 (only a degenerate
// two-valued distribution gets there), or when an input is not finite.
std::optional<double> ProbabilisticSharpe(double sharpe, double benchmark_sharpe, int64_t periods,
                                          double skewness, double kurtosis);

// The unbiased sample variance (divisor n - 1) of the trials' per-period
// Sharpe ratios: V in ExpectedMaxSharpe. 0 for fewer than 2 values.
double SharpeVariance(const std::vector<double>& sharpes);

// The Deflated Sharpe Ratio of a selected candidate and what went into it.
struct DeflatedSharpe {
  double sharpe = 0;               // the selected candidate's per-period Sharpe ratio
  double expected_max_sharpe = 0;  // SR0 = ExpectedMaxSharpe(trials, sharpe_variance)
  double probability = 0;          // DSR = PSR with benchmark SR0, in [0, 1]
  int64_t trials = 0;              // N
  double sharpe_variance = 0;      // V
  int64_t periods = 0;             // T = selected.n
  double skewness = 0;             // as used: 0 when selected.n < 3
  double kurtosis = 3;             // as used: 3 when selected.n < 4
};

// The Deflated Sharpe Ratio ([DSR]): the PSR of the selected
// candidate's returns against SR0, the Sharpe ratio that the best of `trials`
// skill-less trials with Sharpe variance `sharpe_variance` would show. `trials`
// counts every configuration tried, the selected one included;
// sharpe_variance is SharpeVariance of their per-period Sharpe ratios. With
// fewer than 3 (4) periods the skewness (kurtosis) is that of a normal
// distribution.
// Errors: kInvalidArgument (the message names the problem) when trials < 1,
// the moments have fewer than 2 periods, zero variance or non-finite sums,
// sharpe_variance is negative or not finite, or the returns are so
// degenerate that the PSR is undefined.
Result<DeflatedSharpe> ComputeDeflatedSharpe(const ReturnMoments& selected, int64_t trials,
                                             double sharpe_variance);

// One contiguous block of a candidate's per-period returns.
struct ReturnBlock {
  int64_t n = 0;    // number of returns
  double sum = 0;   // sum of r
  double sum2 = 0;  // sum of r^2
};

// The number of blocks S that [PBO] recommends (C(16, 8) = 12,870 splits).
inline constexpr int kCscvBlocks = 16;
// The most blocks ComputePbo accepts: C(24, 12) = 2,704,156 splits.
inline constexpr int kCscvMaxBlocks = 24;

struct OverfittingProbability {
  double pbo = 0;            // share of splits whose IS-best candidate has OOS logit <= 0
  int64_t combinations = 0;  // C(S, S/2), the number of splits
  int blocks = 0;            // S
  int candidates = 0;        // N
  double median_logit = 0;   // median of the splits' logits (mean of the two middle ones)
};

// The Probability of Backtest Overfitting by combinatorially symmetric
// cross-validation (the CSCV procedure of [PBO]). candidates[i][s] is block s of
// candidate i; every candidate has the same S blocks, covering the same
// periods. For each of the C(S, S/2) ways to pick S/2 blocks as the
// in-sample (IS) half, the rest being the out-of-sample (OOS) half:
//   - a candidate's performance on a half is the Sharpe ratio of the
//     concatenation of its blocks in that half, from the summed n, sum and
//     sum2 (blocks added in increasing index order; sample standard
//     deviation; 0 when the half has fewer than 2 returns or zero variance,
//     with zero as in ReturnMoments);
//   - n* is the IS-best candidate (ties: the lowest index);
//   - its OOS rank r is 1 + the number of candidates with a lower OOS Sharpe
//     ratio + half the number of others with an equal one (average rank for
//     ties; 1 = worst, N = best); w = r / (N + 1) and the logit is
//     ln(w / (1 - w)), 0 exactly at the OOS median.
// PBO is the share of splits whose logit is <= 0. The work is
// O(C(S, S/2) * N * S): ~0.1 s for S = 16 and a few hundred candidates.
// Errors: kInvalidArgument when there are fewer than 2 candidates, the
// candidates have different block counts, the block count is odd, below 2 or
// above kCscvMaxBlocks, or a block has a negative n or non-finite sums.
Result<OverfittingProbability> ComputePbo(const std::vector<std::vector<ReturnBlock>>& candidates);

}  // namespace evolve

#endif  // EVOLVE_SELECTION_STATS_H_
