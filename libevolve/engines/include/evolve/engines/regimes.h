// Market regimes: the `regime_gmm` and `regime_vix` columns that simulations
// filter on, computed from one close series (the lead's glue passes the
// first reference symbol's closes aligned to the traded symbol's bars, or
// the symbol's own closes).
//
// No look-ahead, by construction:
//   * Every feature at bar i (log return, rolling volatility, moving
//     averages) is a function of closes 0..i only.
//   * regime_gmm is fitted per RegimeSegment on rows [fit_begin, fit_end)
//     and applied to rows [apply_begin, apply_end) with fit_end <=
//     apply_begin (checked), so a label never depends on its own bar or any
//     later bar through the model.
//   * regime_vix has no fitted state at all.
// Hence appending bars to `close` (with the same segments) never changes a
// label already computed; the tests check exactly that.
//
// Labels are int8: 0/1 for regime_gmm (0 = calm), 0..3 for regime_vix, and
// -1 where the regime is unknown (warm-up, undefined features, outside every
// apply range). A simulation never trades a bar whose label is -1 when it
// filters on that column.
//
// docs/simulation.md states every definition exactly.
//
// Thread-safety: pure functions; a fitted Gmm2 is immutable and may be used
// from several threads.
#ifndef EVOLVE_ENGINES_REGIMES_H_
#define EVOLVE_ENGINES_REGIMES_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "evolve/status.h"

namespace evolve::engines {

// Window lengths of the regime features (bars).
inline constexpr int kRegimeVolWindow = 20;     // rolling stdev of log returns
inline constexpr int kRegimeTrendWindow = 50;   // SMA of the close (regime_vix trend)
inline constexpr int kRegimeVolMaWindow = 100;  // SMA of the 20-bar volatility (regime_vix)

// Options of the EM fit. The defaults are scikit-learn's GaussianMixture
// defaults, so that the two can be compared on the same data.
struct GmmOptions {
  int max_iter = 100;
  // Stop when the mean per-point log-likelihood changes by less than this.
  double tol = 1e-3;
  // Added to the diagonal of every covariance (in standardised units, see
  // Gmm2): keeps them positive definite, so EM never collapses to a point
  // or produces NaN.
  double reg_covar = 1e-6;
  // Fewer finite points than this is an error.
  size_t min_points = 10;
  // Threads of the E-step (0: all cores). Results do not depend on it: the
  // points are cut in fixed chunks whose sums are added in order.
  int threads = 0;
};

// A two-component, two-dimensional Gaussian mixture with full covariances,
// fitted by EM.
//
// The fit standardises each dimension (mean 0, population stdev 1 over the
// fitted points; a constant dimension keeps scale 1) and runs EM there, so
// that reg_covar means the same for one-minute and daily returns; means and
// covariances are reported back in the input's units.
//
// Initialisation is deterministic: the points whose dimension 1 is at or
// below its median start in one component, the rest in the other (halves by
// position when dimension 1 is constant), followed by an M-step. The median
// is taken over at most 65,536 evenly spaced points (every
// ceil(n / 65536)-th finite point from the first).
//
// Components are ordered: component 0 is the one with the lower mean of
// dimension 1 (for regimes: volatility), i.e. 0 = calm. Ties keep EM's
// order.
class Gmm2 {
 public:
  // Fits on the points (x0[i], x1[i]), i < n; points with a NaN or infinite
  // coordinate are skipped.
  // Errors: kInvalidArgument when fewer than options.min_points finite
  // points remain, or options are out of range (max_iter < 1, tol < 0,
  // reg_covar <= 0).
  static Result<Gmm2> Fit(const double* x0, const double* x1, size_t n, const GmmOptions& options = {});

  // The most probable component (0 = calm) of one point; -1 when a
  // coordinate is NaN or infinite. A tie goes to 0.
  int Predict(double x0, double x1) const;

  // Posterior probability of component 1 for one point (NaN input: NaN).
  double ProbabilityOf1(double x0, double x1) const;

  // Mean per-point log-likelihood of the fitted points at the final
  // parameters (in standardised units, as scikit-learn's lower_bound_ would
  // be on standardised data).
  double log_likelihood() const { return log_likelihood_; }
  int iterations() const { return iterations_; }
  bool converged() const { return converged_; }
  size_t points() const { return points_; }

  // Parameters of component k (0 or 1) in the input's units.
  double weight(int k) const { return weight_[k]; }
  const std::array<double, 2>& mean(int k) const { return mean_[k]; }
  // {var(x0), cov(x0, x1), var(x1)}.
  const std::array<double, 3>& covariance(int k) const { return cov_[k]; }

 private:
  Gmm2() = default;

  // Standardisation.
  double center_[2] = {0, 0};
  double scale_[2] = {1, 1};
  // Standardised parameters used by Predict: log(weight) - log(2 pi) -
  // 0.5 log det, the mean and the precision matrix {p00, p01, p11}.
  double log_norm_[2] = {0, 0};
  double zmean_[2][2] = {{0, 0}, {0, 0}};
  double precision_[2][3] = {{1, 0, 1}, {1, 0, 1}};

  double weight_[2] = {0.5, 0.5};
  std::array<double, 2> mean_[2] = {};
  std::array<double, 3> cov_[2] = {};
  double log_likelihood_ = 0;
  int iterations_ = 0;
  bool converged_ = false;
  size_t points_ = 0;
};

// Which rows fit a model and which rows it labels.
// REQUIRES: fit_begin <= fit_end <= apply_begin <= apply_end <= n.
struct RegimeSegment {
  size_t fit_begin = 0;
  size_t fit_end = 0;
  size_t apply_begin = 0;
  size_t apply_end = 0;
};

// Expanding-window segments for n bars: segment k fits on rows
// [0, first_apply + k * refit_every) and labels the next refit_every rows
// (the last one up to n). The boundaries depend on first_apply and
// refit_every only, so more bars only add or extend the last segment and
// never move a boundary: the labels of earlier bars stay the same.
// Empty when n <= first_apply or refit_every == 0.
std::vector<RegimeSegment> ExpandingRegimeSegments(size_t n, size_t first_apply, size_t refit_every);

// regime_gmm: per bar the features (log return of the close, sample stdev
// of the last 20 log returns); for each segment a Gmm2 fitted on the rows
// of [fit_begin, fit_end) with both features defined labels the rows of
// [apply_begin, apply_end): 0 = calm (lower mean volatility), 1 = stressed.
// -1 where a feature is undefined (the first 20 bars, a non-positive or
// non-finite close in the window), outside every apply range, and in the
// apply range of a segment whose fit range holds fewer than
// options.min_points defined rows (not enough history yet; not an error).
// Errors: kInvalidArgument naming the segment when fit_end > apply_begin
// (look-ahead), a range is reversed or past close.size(), or two apply
// ranges overlap.
Result<std::vector<int8_t>> RegimeGmm(const std::vector<double>& close,
                                      const std::vector<RegimeSegment>& segments,
                                      const GmmOptions& options = {});

// regime_vix, 0..3 = 2 * trend_up + calm:
//   trend_up = close[i] > SMA50(close)[i]  (strictly; equal is down)
//   vol[i]   = sample stdev of the last 20 log returns (bars i-19..i)
//   calm     = vol[i] <= SMA100(vol)[i]  (not above its own average)
// so 3 = up and calm, 2 = up and volatile, 1 = down and calm, 0 = down and
// volatile. -1 during the warm-up (i < 119: 20 returns, then 100 values of
// vol) and wherever a window holds a non-positive or non-finite close.
// Causal: label i uses closes 0..i only.
std::vector<int8_t> RegimeVix(const std::vector<double>& close);

// The features regime_gmm uses, exposed for tests and the glue:
// log_return[i] = log(close[i] / close[i-1]) (NaN at 0 and where a close is
// not positive and finite); volatility[i] = sample stdev of log_return over
// i-19..i (NaN unless all 20 are defined).
void RegimeFeatures(const std::vector<double>& close, std::vector<double>* log_return,
                    std::vector<double>* volatility);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_REGIMES_H_
