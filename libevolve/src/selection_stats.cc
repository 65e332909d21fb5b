#include "evolve/selection_stats.h"
#include "format.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace evolve {
namespace {

// A centred sum of squares at most this share of the raw sum of squares is
// rounding noise: the variance counts as zero (see ReturnMoments).
constexpr double kZeroVarianceShare = 1e-10;

constexpr double kSqrt2 = 1.41421356237309504880;
constexpr double kSqrt2Pi = 2.50662827463100050242;  // sqrt(2 pi)
constexpr double kE = 2.71828182845904523536;

// The centred sum of squares sum((r - mean)^2) from n, sum and sum2, or 0 when
// it is indistinguishable from rounding noise. REQUIRES: n >= 1.
double CentredSumOfSquares(int64_t n, double sum, double sum2) {
  double mean = sum / static_cast<double>(n);
  double css = sum2 - sum * mean;
  return css <= kZeroVarianceShare * sum2 ? 0.0 : css;
}

// Mean / sample standard deviation from n, sum and sum2; none when n < 2 or
// the variance is zero.
std::optional<double> SharpeFromSums(int64_t n, double sum, double sum2) {
  if (n < 2) return std::nullopt;
  double css = CentredSumOfSquares(n, sum, sum2);
  if (!(css > 0)) return std::nullopt;
  double mean = sum / static_cast<double>(n);
  return mean / std::sqrt(css / static_cast<double>(n - 1));
}

// The population central moments m2, m3, m4 (divisor n) from the raw power
// sums: m2 = E[r^2] - mu^2, m3 = E[r^3] - 3 mu E[r^2] + 2 mu^3,
// m4 = E[r^4] - 4 mu E[r^3] + 6 mu^2 E[r^2] - 3 mu^4.
struct CentralMoments {
  double m2 = 0, m3 = 0, m4 = 0;
};

CentralMoments Central(const ReturnMoments& m) {
  double n = static_cast<double>(m.n);
  double mu = m.sum / n;
  double e2 = m.sum2 / n, e3 = m.sum3 / n, e4 = m.sum4 / n;
  double mu2 = mu * mu;
  CentralMoments c;
  c.m2 = CentredSumOfSquares(m.n, m.sum, m.sum2) / n;
  c.m3 = e3 - 3 * mu * e2 + 2 * mu2 * mu;
  c.m4 = e4 - 4 * mu * e3 + 6 * mu2 * e2 - 3 * mu2 * mu2;
  return c;
}

// Acklam's coefficients (P. J. Acklam, "An algorithm for computing the
// inverse normal cumulative distribution function", 2003): a rational
// function of q = p - 1/2 in the central region, of sqrt(-2 ln p) in the tail.
constexpr double kA[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                         1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
constexpr double kB[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                         6.680131188771972e+01, -1.328068155288572e+01};
constexpr double kC[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                         -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
constexpr double kD[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                         3.754408661907416e+00};
constexpr double kAcklamTail = 0.02425;

// Acklam's approximation for 0 < p <= 1/2 (relative error < 1.15e-9).
double AcklamLowerHalf(double p) {
  if (p < kAcklamTail) {
    double q = std::sqrt(-2 * std::log(p));
    return (((((kC[0] * q + kC[1]) * q + kC[2]) * q + kC[3]) * q + kC[4]) * q + kC[5]) /
           ((((kD[0] * q + kD[1]) * q + kD[2]) * q + kD[3]) * q + 1);
  }
  double q = p - 0.5;
  double r = q * q;
  return (((((kA[0] * r + kA[1]) * r + kA[2]) * r + kA[3]) * r + kA[4]) * r + kA[5]) * q /
         (((((kB[0] * r + kB[1]) * r + kB[2]) * r + kB[3]) * r + kB[4]) * r + 1);
}

// n choose k, exact for the sizes ComputePbo accepts.
int64_t Choose(int n, int k) {
  int64_t c = 1;
  for (int i = 1; i <= k; ++i) c = c * (n - k + i) / i;
  return c;
}

}  // namespace

void ReturnMoments::Add(double r) {
  double r2 = r * r;
  ++n;
  sum += r;
  sum2 += r2;
  sum3 += r2 * r;
  sum4 += r2 * r2;
}

void ReturnMoments::Merge(const ReturnSums& other) {
  n += other.n;
  sum += other.sum;
  sum2 += other.sum2;
  sum3 += other.sum3;
  sum4 += other.sum4;
}

std::optional<double> ReturnMoments::Mean() const {
  if (n == 0) return std::nullopt;
  return sum / static_cast<double>(n);
}

std::optional<double> ReturnMoments::Variance() const {
  if (n < 2) return std::nullopt;
  return CentredSumOfSquares(n, sum, sum2) / static_cast<double>(n - 1);
}

std::optional<double> ReturnMoments::Sharpe() const { return SharpeFromSums(n, sum, sum2); }

std::optional<double> ReturnMoments::Skewness() const {
  if (n < 3) return std::nullopt;
  CentralMoments c = Central(*this);
  if (!(c.m2 > 0)) return std::nullopt;
  return c.m3 / (c.m2 * std::sqrt(c.m2));
}

std::optional<double> ReturnMoments::Kurtosis() const {
  if (n < 4) return std::nullopt;
  CentralMoments c = Central(*this);
  if (!(c.m2 > 0)) return std::nullopt;
  return c.m4 / (c.m2 * c.m2);
}

double NormalCdf(double x) { return 0.5 * std::erfc(-x / kSqrt2); }

double NormalQuantile(double p) {
  if (std::isnan(p)) return p;
  if (p <= 0) return -std::numeric_limits<double>::infinity();
  if (p >= 1) return std::numeric_limits<double>::infinity();
  // Work in the lower half, where p carries full relative precision; 1 - p is
  // exact for p >= 1/2, and Z^-1(p) = -Z^-1(1 - p).
  bool upper = p > 0.5;
  double q = upper ? 1 - p : p;
  double x = AcklamLowerHalf(q);
  // One Halley step on f(x) = Z(x) - q (Acklam's suggested refinement):
  // u = f(x) / Z'(x), x -= u / (1 + x u / 2). Skipped where the density
  // underflows (q below ~1e-300), leaving Acklam's 1e-9.
  double density = std::exp(-x * x / 2) / kSqrt2Pi;
  if (density > std::numeric_limits<double>::min()) {
    // Z(x) - q; near the median as erf(x / sqrt 2) / 2 - (q - 1/2), which
    // keeps the relative precision of a small x (q - 1/2 is exact there).
    double residual = q >= 0.25 ? 0.5 * std::erf(x / kSqrt2) - (q - 0.5) : NormalCdf(x) - q;
    double u = residual / density;
    x -= u / (1 + x * u / 2);
  }
  return upper ? -x : x;
}

double ExpectedMaxSharpe(int64_t trials, double sharpe_variance) {
  if (trials <= 1) return 0;
  // [DSR]: E[max of N standard normals] ~ (1 - gamma) Z^-1(1 - 1/N) + gamma Z^-1(1 - 1/(N e)),
  // scaled by the standard deviation of the trials' Sharpe ratios.
  double n = static_cast<double>(trials);
  double z = (1 - kEulerMascheroni) * NormalQuantile(1 - 1 / n) +
             kEulerMascheroni * NormalQuantile(1 - 1 / (n * kE));
  return std::sqrt(sharpe_variance) * z;
}

std::optional<double> ProbabilisticSharpe(double sharpe, double benchmark_sharpe, int64_t periods,
                                          double skewness, double kurtosis) {
  if (periods < 2) return std::nullopt;
  if (!std::isfinite(sharpe) || !std::isfinite(benchmark_sharpe) || !std::isfinite(skewness) ||
      !std::isfinite(kurtosis)) {
    return std::nullopt;
  }
  // [PSR]: the standard error of the Sharpe ratio estimate under non-normal
  // returns (Mertens 2002) is sqrt((1 - g3 SR + (g4 - 1) / 4 SR^2) / (T - 1)).
  double root_arg = 1 - skewness * sharpe + (kurtosis - 1) / 4 * sharpe * sharpe;
  if (!(root_arg > 0)) return std::nullopt;
  double z = (sharpe - benchmark_sharpe) * std::sqrt(static_cast<double>(periods - 1)) / std::sqrt(root_arg);
  return NormalCdf(z);
}

double SharpeVariance(const std::vector<double>& sharpes) {
  if (sharpes.size() < 2) return 0;
  double mean = 0;
  for (double s : sharpes) mean += s;
  mean /= static_cast<double>(sharpes.size());
  double css = 0;
  for (double s : sharpes) css += (s - mean) * (s - mean);
  return css / static_cast<double>(sharpes.size() - 1);
}

Result<DeflatedSharpe> ComputeDeflatedSharpe(const ReturnMoments& selected, int64_t trials,
                                             double sharpe_variance) {
  if (trials < 1) return InvalidArgumentError("trials: must be >= 1, got " + std::to_string(trials));
  if (!std::isfinite(sharpe_variance) || sharpe_variance < 0) {
    return InvalidArgumentError("sharpe_variance: must be finite and >= 0, got " +
                                internal::FormatNumber(sharpe_variance));
  }
  if (selected.n < 2) {
    return InvalidArgumentError("returns: need at least 2 periods, got " + std::to_string(selected.n));
  }
  if (!std::isfinite(selected.sum) || !std::isfinite(selected.sum2) || !std::isfinite(selected.sum3) ||
      !std::isfinite(selected.sum4)) {
    return InvalidArgumentError("returns: the power sums are not finite");
  }
  std::optional<double> sharpe = selected.Sharpe();
  if (!sharpe) return InvalidArgumentError("returns: zero variance, the Sharpe ratio is undefined");
  DeflatedSharpe d;
  d.sharpe = *sharpe;
  d.trials = trials;
  d.sharpe_variance = sharpe_variance;
  d.periods = selected.n;
  d.skewness = selected.Skewness().value_or(0.0);
  d.kurtosis = selected.Kurtosis().value_or(3.0);
  d.expected_max_sharpe = ExpectedMaxSharpe(trials, sharpe_variance);
  std::optional<double> psr =
      ProbabilisticSharpe(d.sharpe, d.expected_max_sharpe, d.periods, d.skewness, d.kurtosis);
  if (!psr) {
    return InvalidArgumentError(
        "returns: degenerate distribution (1 - skewness * SR + (kurtosis - 1) / 4 * "
        "SR^2 <= 0), the PSR is undefined");
  }
  d.probability = *psr;
  return d;
}

Result<OverfittingProbability> ComputePbo(const std::vector<std::vector<ReturnBlock>>& candidates) {
  if (candidates.size() < 2) {
    return InvalidArgumentError("candidates: need at least 2, got " + std::to_string(candidates.size()));
  }
  const size_t s_blocks = candidates[0].size();
  for (size_t i = 1; i < candidates.size(); ++i) {
    if (candidates[i].size() != s_blocks) {
      return InvalidArgumentError("candidates: candidate " + std::to_string(i) + " has " +
                                  std::to_string(candidates[i].size()) + " blocks, candidate 0 has " +
                                  std::to_string(s_blocks));
    }
  }
  if (s_blocks < 2 || s_blocks % 2 != 0 || s_blocks > static_cast<size_t>(kCscvMaxBlocks)) {
    return InvalidArgumentError("blocks: need an even number from 2 to " + std::to_string(kCscvMaxBlocks) +
                                ", got " + std::to_string(s_blocks));
  }
  for (size_t i = 0; i < candidates.size(); ++i) {
    for (size_t b = 0; b < s_blocks; ++b) {
      const ReturnBlock& block = candidates[i][b];
      if (block.n < 0 || !std::isfinite(block.sum) || !std::isfinite(block.sum2)) {
        return InvalidArgumentError("candidates: candidate " + std::to_string(i) + " block " +
                                    std::to_string(b) + " has a negative n or non-finite sums");
      }
    }
  }

  const int n_cand = static_cast<int>(candidates.size());
  const int s = static_cast<int>(s_blocks);
  const int half = s / 2;
  // Candidate-major flat copies: the inner loop walks one candidate's blocks.
  std::vector<int64_t> bn(static_cast<size_t>(n_cand) * s);
  std::vector<double> bsum(bn.size()), bsum2(bn.size());
  for (int i = 0; i < n_cand; ++i) {
    for (int b = 0; b < s; ++b) {
      size_t k = static_cast<size_t>(i) * s + b;
      bn[k] = candidates[i][b].n;
      bsum[k] = candidates[i][b].sum;
      bsum2[k] = candidates[i][b].sum2;
    }
  }

  OverfittingProbability out;
  out.blocks = s;
  out.candidates = n_cand;
  out.combinations = Choose(s, half);
  std::vector<double> logits;
  logits.reserve(static_cast<size_t>(out.combinations));
  std::vector<double> oos(n_cand);
  std::vector<char> in_sample(s);
  // The IS half as increasing block indices, stepped through every
  // combination in lexicographic order: {0..h-1}, ..., {s-h..s-1}.
  std::vector<int> combo(half);
  for (int j = 0; j < half; ++j) combo[j] = j;
  int64_t overfit = 0;
  while (true) {
    std::fill(in_sample.begin(), in_sample.end(), 0);
    for (int j : combo) in_sample[j] = 1;

    int best = 0;
    double best_is = 0;
    for (int i = 0; i < n_cand; ++i) {
      int64_t n_is = 0, n_oos = 0;
      double sum_is = 0, sum2_is = 0, sum_oos = 0, sum2_oos = 0;
      const size_t base = static_cast<size_t>(i) * s;
      for (int b = 0; b < s; ++b) {
        if (in_sample[b]) {
          n_is += bn[base + b];
          sum_is += bsum[base + b];
          sum2_is += bsum2[base + b];
        } else {
          n_oos += bn[base + b];
          sum_oos += bsum[base + b];
          sum2_oos += bsum2[base + b];
        }
      }
      double is_sharpe = SharpeFromSums(n_is, sum_is, sum2_is).value_or(0.0);
      oos[i] = SharpeFromSums(n_oos, sum_oos, sum2_oos).value_or(0.0);
      if (i == 0 || is_sharpe > best_is) {  // strict: ties keep the lowest index
        best = i;
        best_is = is_sharpe;
      }
    }
    // Average OOS rank of the IS-best candidate, 1 = worst.
    double below = 0, equal = 0;
    for (int i = 0; i < n_cand; ++i) {
      if (i == best) continue;
      if (oos[i] < oos[best]) {
        below += 1;
      } else if (oos[i] == oos[best]) {
        equal += 1;
      }
    }
    double rank = 1 + below + equal / 2;
    // w = rank / (N + 1); logit = ln(w / (1 - w)) = ln(rank / (N + 1 - rank)),
    // <= 0 exactly when rank <= (N + 1) / 2 (rank is a multiple of 1/2: exact).
    logits.push_back(std::log(rank / (n_cand + 1 - rank)));
    if (2 * rank <= n_cand + 1) ++overfit;

    // Next combination: bump the rightmost index that can still move.
    int j = half - 1;
    while (j >= 0 && combo[j] == s - half + j) --j;
    if (j < 0) break;
    ++combo[j];
    for (int k = j + 1; k < half; ++k) combo[k] = combo[k - 1] + 1;
  }

  out.pbo = static_cast<double>(overfit) / static_cast<double>(logits.size());
  std::sort(logits.begin(), logits.end());
  size_t m = logits.size();
  out.median_logit = m % 2 == 1 ? logits[m / 2] : (logits[m / 2 - 1] + logits[m / 2]) / 2;
  return out;
}

}  // namespace evolve
