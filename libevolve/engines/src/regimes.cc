#include "evolve/engines/regimes.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <thread>
#include <utility>

namespace evolve::engines {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kLog2Pi = 1.8378770664093454836;

bool Usable(double price) { return std::isfinite(price) && price > 0; }

// The E-step kernel below is written branch-free so that it vectorises. GCC
// refuses to if-convert floating-point selects while it must preserve FP
// exception flags (-ftrapping-math, the default); nothing here reads those
// flags, and values are unchanged, so it is switched off for these
// functions only. Clang does not model FP exceptions by default.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

// exp(x) for x <= 0 (clamped at -708, where it is ~3e-308), written so that
// GCC and Clang vectorise loops that call it (no libm call, no branch):
// x = n ln2 + r with |r| <= ln2 / 2, e^r by its Taylor polynomial of degree
// 13 (relative error < 1e-16 on that interval), times 2^n built in the
// exponent bits. The rounding to n uses the 1.5 * 2^52 trick, exact under
// the default rounding mode.
inline double ExpNonPositive(double x) {
  constexpr double kLog2e = 1.4426950408889634074;
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kMagic = 6755399441055744.0;  // 1.5 * 2^52
  constexpr int64_t kMagicBits = 0x4338000000000000;
  x = x < -708.0 ? -708.0 : x;
  const double t = x * kLog2e + kMagic;
  const double n = t - kMagic;
  int64_t bits;
  std::memcpy(&bits, &t, sizeof bits);
  const int64_t scale_bits = (bits - kMagicBits + 1023) << 52;
  double scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  const double r = (x - n * kLn2Hi) - n * kLn2Lo;
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  return p * scale;
}

// Parameters of one component in standardised units.
struct Component {
  double weight = 0.5;
  double mean[2] = {0, 0};
  double cov[3] = {1, 0, 1};  // {xx, xy, yy}
  // Derived for the E-step.
  double log_norm = 0;
  double precision[3] = {1, 0, 1};
};

// Sufficient statistics of a (soft) assignment: sum of weights r, of r*x,
// r*y, r*x*x, r*x*y, r*y*y.
struct Moments {
  double n = 0, x = 0, y = 0, xx = 0, xy = 0, yy = 0;
};

// Fills the derived fields; the covariance is made positive definite first
// (variances >= reg, |correlation| < 1).
void Finish(double reg, Component* c) {
  double& xx = c->cov[0];
  double& xy = c->cov[1];
  double& yy = c->cov[2];
  xx = std::max(xx, 0.0) + reg;
  yy = std::max(yy, 0.0) + reg;
  const double limit = (1.0 - 1e-12) * std::sqrt(xx * yy);
  xy = std::clamp(xy, -limit, limit);
  const double det = xx * yy - xy * xy;
  c->precision[0] = yy / det;
  c->precision[1] = -xy / det;
  c->precision[2] = xx / det;
  c->log_norm = std::log(c->weight) - kLog2Pi - 0.5 * std::log(det);
}

// M-step: a component from its moments (`total` points in all).
Component FromMoments(const Moments& m, double total, double reg) {
  Component c;
  // As scikit-learn: a tiny mass keeps an empty component finite.
  const double nk = m.n + 10 * std::numeric_limits<double>::epsilon();
  c.weight = nk / total;
  c.mean[0] = m.x / nk;
  c.mean[1] = m.y / nk;
  c.cov[0] = m.xx / nk - c.mean[0] * c.mean[0];
  c.cov[1] = m.xy / nk - c.mean[0] * c.mean[1];
  c.cov[2] = m.yy / nk - c.mean[1] * c.mean[1];
  Finish(reg, &c);
  return c;
}

// Partial E-step statistics of a range of points.
struct EStats {
  Moments m1;     // moments of component 1's responsibilities
  double ll = 0;  // sum of log(p0 + p1)
};

// The E-step over points [0, n) of x, y (standardised). Blocks of kBlock
// points: a branch-free, vectorisable loop computes the responsibilities,
// then kLanes independent accumulators reduce them in a fixed order, so the
// result is deterministic. log(1 + e) is summed as the log of a per-lane
// product (each factor is in [1, 2], so a block cannot overflow).
//
// On x86-64 with GCC an AVX2 clone is chosen at load time where the CPU has
// it. AVX2 does not enable FMA contraction, and every operation is the same
// IEEE operation in the same order, so both clones give identical bits.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx2", "default")))
#endif
EStats
EStepRange(const double* xs, const double* ys, size_t n, const Component& c0, const Component& c1) {
  constexpr size_t kBlock = 512;
  constexpr size_t kLanes = 4;
  double resp[kBlock];
  double onep[kBlock];
  double best[kBlock];
  double acc_n[kLanes] = {}, acc_x[kLanes] = {}, acc_y[kLanes] = {};
  double acc_xx[kLanes] = {}, acc_xy[kLanes] = {}, acc_yy[kLanes] = {};
  double acc_best[kLanes] = {}, acc_log[kLanes] = {};
  const double m00 = c0.mean[0], m01 = c0.mean[1], m10 = c1.mean[0], m11 = c1.mean[1];
  const double p00 = c0.precision[0], p01 = 2 * c0.precision[1], p02 = c0.precision[2];
  const double p10 = c1.precision[0], p11 = 2 * c1.precision[1], p12 = c1.precision[2];
  const double k0 = c0.log_norm, k1 = c1.log_norm;
  for (size_t begin = 0; begin < n; begin += kBlock) {
    const size_t len = std::min(kBlock, n - begin);
    const double* x = xs + begin;
    const double* y = ys + begin;
    for (size_t i = 0; i < len; ++i) {
      const double dx0 = x[i] - m00, dy0 = y[i] - m01;
      const double dx1 = x[i] - m10, dy1 = y[i] - m11;
      const double a0 = k0 - 0.5 * (p00 * dx0 * dx0 + p01 * dx0 * dy0 + p02 * dy0 * dy0);
      const double a1 = k1 - 0.5 * (p10 * dx1 * dx1 + p11 * dx1 * dy1 + p12 * dy1 * dy1);
      const double d = a1 - a0;
      const double e = ExpNonPositive(-std::fabs(d));
      const double inv = 1.0 / (1.0 + e);
      const double up = static_cast<double>(d >= 0);
      // d >= 0: r1 = 1 / (1 + e), max = a1; else r1 = e / (1 + e), max = a0.
      resp[i] = inv * (e + up * (1.0 - e));
      onep[i] = 1.0 + e;
      best[i] = a0 + up * d;
    }
    double prod[kLanes] = {1, 1, 1, 1};
    const size_t body = len - len % kLanes;
    for (size_t i = 0; i < body; i += kLanes) {
      for (size_t l = 0; l < kLanes; ++l) {
        const double r = resp[i + l], xv = x[i + l], yv = y[i + l];
        const double rx = r * xv, ry = r * yv;
        acc_n[l] += r;
        acc_x[l] += rx;
        acc_y[l] += ry;
        acc_xx[l] += rx * xv;
        acc_xy[l] += rx * yv;
        acc_yy[l] += ry * yv;
        acc_best[l] += best[i + l];
        prod[l] *= onep[i + l];
      }
    }
    for (size_t i = body; i < len; ++i) {
      const double r = resp[i], xv = x[i], yv = y[i];
      const double rx = r * xv, ry = r * yv;
      acc_n[0] += r;
      acc_x[0] += rx;
      acc_y[0] += ry;
      acc_xx[0] += rx * xv;
      acc_xy[0] += rx * yv;
      acc_yy[0] += ry * yv;
      acc_best[0] += best[i];
      prod[0] *= onep[i];
    }
    for (size_t l = 0; l < kLanes; ++l) acc_log[l] += std::log(prod[l]);
  }
  EStats out;
  for (size_t l = 0; l < kLanes; ++l) {
    out.m1.n += acc_n[l];
    out.m1.x += acc_x[l];
    out.m1.y += acc_y[l];
    out.m1.xx += acc_xx[l];
    out.m1.xy += acc_xy[l];
    out.m1.yy += acc_yy[l];
    out.ll += acc_best[l] + acc_log[l];
  }
  return out;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

// Points per chunk of the parallel E-step. Chunks are fixed by the data
// size alone and their statistics are added in chunk order, so the result
// does not depend on the number of threads.
constexpr size_t kChunk = 1 << 16;

// Points the initial median is taken over (evenly spaced).
constexpr size_t kMedianSample = 1 << 16;

// One E-step over all points: the moments of component 1 and the mean
// log-likelihood, on up to `threads` threads.
double EStep(const std::vector<double>& xs, const std::vector<double>& ys, const Component& c0,
             const Component& c1, int threads, Moments* moments1) {
  const size_t n = xs.size();
  const size_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<EStats> parts(chunks);
  auto work = [&](size_t first, size_t step) {
    for (size_t c = first; c < chunks; c += step) {
      const size_t begin = c * kChunk;
      parts[c] = EStepRange(xs.data() + begin, ys.data() + begin, std::min(kChunk, n - begin), c0, c1);
    }
  };
  const size_t workers = std::min(chunks, static_cast<size_t>(std::max(threads, 1)));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < workers; ++t) pool.emplace_back(work, t, workers);
  work(0, workers);
  for (std::thread& t : pool) t.join();
  Moments m;
  double ll = 0;
  for (const EStats& p : parts) {
    m.n += p.m1.n;
    m.x += p.m1.x;
    m.y += p.m1.y;
    m.xx += p.m1.xx;
    m.xy += p.m1.xy;
    m.yy += p.m1.yy;
    ll += p.ll;
  }
  *moments1 = m;
  return ll / static_cast<double>(n);
}

Moments Minus(const Moments& a, const Moments& b) {
  return Moments{a.n - b.n, a.x - b.x, a.y - b.y, a.xx - b.xx, a.xy - b.xy, a.yy - b.yy};
}

void AddPoint(double x, double y, Moments* m) {
  m->n += 1;
  m->x += x;
  m->y += y;
  m->xx += x * x;
  m->xy += x * y;
  m->yy += y * y;
}

}  // namespace

Result<Gmm2> Gmm2::Fit(const double* x0, const double* x1, size_t n, const GmmOptions& options) {
  if (options.max_iter < 1) return InvalidArgumentError("gmm: max_iter must be >= 1");
  if (!(options.tol >= 0)) return InvalidArgumentError("gmm: tol must be >= 0");
  if (!(options.reg_covar > 0) || !std::isfinite(options.reg_covar)) {
    return InvalidArgumentError("gmm: reg_covar must be > 0");
  }
  const size_t min_points = std::max<size_t>(options.min_points, 2);
  // Finite points, compacted without a branch per point; their sums.
  std::vector<double> xs(n), ys(n);
  size_t m = 0;
  double sum_x = 0, sum_y = 0;
  for (size_t i = 0; i < n; ++i) {
    const double a = x0[i], b = x1[i];
    xs[m] = a;
    ys[m] = b;
    const bool ok = std::isfinite(a) && std::isfinite(b);
    sum_x += ok ? a : 0.0;
    sum_y += ok ? b : 0.0;
    m += ok;
  }
  if (m < min_points) {
    return InvalidArgumentError("gmm: needs at least " + std::to_string(min_points) + " finite points, got " +
                                std::to_string(m));
  }
  xs.resize(m);
  ys.resize(m);
  Gmm2 g;
  g.points_ = m;
  const double total = static_cast<double>(m);
  int threads = options.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  // Standardise: centre on the mean, divide by the population stdev
  // (computed around the mean, so exact enough whatever the offset).
  const double mean_x = sum_x / total, mean_y = sum_y / total;
  double ss_x = 0, ss_y = 0;
  for (size_t i = 0; i < m; ++i) {
    ss_x += (xs[i] - mean_x) * (xs[i] - mean_x);
    ss_y += (ys[i] - mean_y) * (ys[i] - mean_y);
  }
  const double sd_x = std::sqrt(ss_x / total), sd_y = std::sqrt(ss_y / total);
  g.center_[0] = mean_x;
  g.center_[1] = mean_y;
  g.scale_[0] = sd_x > 0 && std::isfinite(sd_x) ? sd_x : 1.0;
  g.scale_[1] = sd_y > 0 && std::isfinite(sd_y) ? sd_y : 1.0;
  const double inv_x = 1.0 / g.scale_[0], inv_y = 1.0 / g.scale_[1];
  for (size_t i = 0; i < m; ++i) {
    xs[i] = (xs[i] - mean_x) * inv_x;
    ys[i] = (ys[i] - mean_y) * inv_y;
  }

  // Deterministic start: split on the median of dimension 1, taken over at
  // most kMedianSample evenly spaced points (every stride-th from the first).
  const size_t stride = (m + kMedianSample - 1) / kMedianSample;
  std::vector<double> sample;
  sample.reserve(m / stride + 1);
  for (size_t i = 0; i < m; i += stride) sample.push_back(ys[i]);
  const size_t mid = (sample.size() - 1) / 2;
  std::nth_element(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(mid), sample.end());
  const double median = sample[mid];
  Moments all, high;
  size_t high_count = 0;
  for (size_t i = 0; i < m; ++i) {
    const double x = xs[i], y = ys[i];
    const double h = static_cast<double>(y > median);
    all.n += 1;
    all.x += x;
    all.y += y;
    all.xx += x * x;
    all.xy += x * y;
    all.yy += y * y;
    high.n += h;
    high.x += h * x;
    high.y += h * y;
    high.xx += h * x * x;
    high.xy += h * x * y;
    high.yy += h * y * y;
    high_count += y > median;
  }
  if (high_count == 0 || high_count == m) {  // dimension 1 constant: halves by position
    high = Moments{};
    for (size_t i = m / 2; i < m; ++i) AddPoint(xs[i], ys[i], &high);
  }
  Component c0 = FromMoments(Minus(all, high), total, options.reg_covar);
  Component c1 = FromMoments(high, total, options.reg_covar);

  double lower = -std::numeric_limits<double>::infinity();
  for (int iter = 1; iter <= options.max_iter; ++iter) {
    const double previous = lower;
    Moments m1;
    lower = EStep(xs, ys, c0, c1, threads, &m1);
    c0 = FromMoments(Minus(all, m1), total, options.reg_covar);
    c1 = FromMoments(m1, total, options.reg_covar);
    g.iterations_ = iter;
    if (std::fabs(lower - previous) < options.tol) {
      g.converged_ = true;
      break;
    }
  }
  if (!std::isfinite(lower)) return InternalError("gmm: EM produced a non-finite log-likelihood");
  g.log_likelihood_ = lower;

  // Component 0 = lower mean of dimension 1 (calm).
  if (c1.mean[1] < c0.mean[1]) std::swap(c0, c1);
  const Component* cs[2] = {&c0, &c1};
  for (int k = 0; k < 2; ++k) {
    const Component& c = *cs[k];
    g.log_norm_[k] = c.log_norm;
    g.zmean_[k][0] = c.mean[0];
    g.zmean_[k][1] = c.mean[1];
    for (int j = 0; j < 3; ++j) g.precision_[k][j] = c.precision[j];
    g.weight_[k] = c.weight;
    g.mean_[k] = {c.mean[0] * g.scale_[0] + g.center_[0], c.mean[1] * g.scale_[1] + g.center_[1]};
    g.cov_[k] = {c.cov[0] * g.scale_[0] * g.scale_[0], c.cov[1] * g.scale_[0] * g.scale_[1],
                 c.cov[2] * g.scale_[1] * g.scale_[1]};
  }
  return g;
}

double Gmm2::ProbabilityOf1(double x0, double x1) const {
  if (!std::isfinite(x0) || !std::isfinite(x1)) return kNaN;
  const double z0 = (x0 - center_[0]) / scale_[0];
  const double z1 = (x1 - center_[1]) / scale_[1];
  double a[2];
  for (int k = 0; k < 2; ++k) {
    const double dx = z0 - zmean_[k][0];
    const double dy = z1 - zmean_[k][1];
    a[k] = log_norm_[k] -
           0.5 * (precision_[k][0] * dx * dx + 2 * precision_[k][1] * dx * dy + precision_[k][2] * dy * dy);
  }
  const double d = a[1] - a[0];
  return d >= 0 ? 1.0 / (1.0 + std::exp(-d)) : std::exp(d) / (1.0 + std::exp(d));
}

int Gmm2::Predict(double x0, double x1) const {
  const double p = ProbabilityOf1(x0, x1);
  if (std::isnan(p)) return -1;
  return p > 0.5 ? 1 : 0;
}

std::vector<RegimeSegment> ExpandingRegimeSegments(size_t n, size_t first_apply, size_t refit_every) {
  std::vector<RegimeSegment> segments;
  if (refit_every == 0) return segments;
  for (size_t begin = first_apply; begin < n; begin += refit_every) {
    segments.push_back(RegimeSegment{0, begin, begin, std::min(n, begin + refit_every)});
  }
  return segments;
}

void RegimeFeatures(const std::vector<double>& close, std::vector<double>* log_return,
                    std::vector<double>* volatility) {
  const size_t n = close.size();
  log_return->assign(n, kNaN);
  volatility->assign(n, kNaN);
  size_t run = 0;  // consecutive defined log returns ending at i
  for (size_t i = 1; i < n; ++i) {
    if (Usable(close[i]) && Usable(close[i - 1])) {
      (*log_return)[i] = std::log(close[i] / close[i - 1]);
      ++run;
    } else {
      run = 0;
    }
    if (run >= static_cast<size_t>(kRegimeVolWindow)) {
      const double* w = log_return->data() + i + 1 - kRegimeVolWindow;
      double sum = 0;
      for (int k = 0; k < kRegimeVolWindow; ++k) sum += w[k];
      const double mean = sum / kRegimeVolWindow;
      double ss = 0;
      for (int k = 0; k < kRegimeVolWindow; ++k) ss += (w[k] - mean) * (w[k] - mean);
      (*volatility)[i] = std::sqrt(ss / (kRegimeVolWindow - 1));
    }
  }
}

Result<std::vector<int8_t>> RegimeGmm(const std::vector<double>& close,
                                      const std::vector<RegimeSegment>& segments, const GmmOptions& options) {
  const size_t n = close.size();
  for (size_t k = 0; k < segments.size(); ++k) {
    const RegimeSegment& s = segments[k];
    const std::string name = "segments[" + std::to_string(k) + "]";
    if (s.fit_end > s.apply_begin) {
      return InvalidArgumentError(name + ": fit_end (" + std::to_string(s.fit_end) + ") > apply_begin (" +
                                  std::to_string(s.apply_begin) +
                                  "): the model would see the bars it labels");
    }
    if (s.fit_begin > s.fit_end || s.apply_begin > s.apply_end) {
      return InvalidArgumentError(name + ": a range ends before it begins");
    }
    if (s.apply_end > n) {
      return InvalidArgumentError(name + ": apply_end (" + std::to_string(s.apply_end) +
                                  ") > number of bars (" + std::to_string(n) + ")");
    }
  }
  std::vector<size_t> order(segments.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return segments[a].apply_begin < segments[b].apply_begin; });
  for (size_t k = 1; k < order.size(); ++k) {
    const RegimeSegment& a = segments[order[k - 1]];
    const RegimeSegment& b = segments[order[k]];
    if (a.apply_begin < a.apply_end && b.apply_begin < b.apply_end && a.apply_end > b.apply_begin) {
      return InvalidArgumentError("segments[" + std::to_string(order[k - 1]) + "] and segments[" +
                                  std::to_string(order[k]) + "]: apply ranges overlap");
    }
  }

  std::vector<double> ret, vol;
  RegimeFeatures(close, &ret, &vol);
  std::vector<int8_t> labels(n, -1);
  for (const RegimeSegment& s : segments) {
    if (s.apply_begin == s.apply_end) continue;
    size_t defined = 0;
    for (size_t i = s.fit_begin; i < s.fit_end; ++i)
      defined += std::isfinite(ret[i]) && std::isfinite(vol[i]);
    if (defined < std::max<size_t>(options.min_points, 2)) continue;  // too little history yet: stays -1
    EVOLVE_ASSIGN_OR_RETURN(Gmm2 model, Gmm2::Fit(ret.data() + s.fit_begin, vol.data() + s.fit_begin,
                                                  s.fit_end - s.fit_begin, options));
    for (size_t i = s.apply_begin; i < s.apply_end; ++i) {
      labels[i] = static_cast<int8_t>(model.Predict(ret[i], vol[i]));
    }
  }
  return labels;
}

std::vector<int8_t> RegimeVix(const std::vector<double>& close) {
  const size_t n = close.size();
  std::vector<double> ret, vol;
  RegimeFeatures(close, &ret, &vol);
  std::vector<int8_t> labels(n, -1);
  size_t close_run = 0;  // consecutive usable closes ending at i
  size_t vol_run = 0;    // consecutive defined volatilities ending at i
  for (size_t i = 0; i < n; ++i) {
    close_run = Usable(close[i]) ? close_run + 1 : 0;
    vol_run = std::isfinite(vol[i]) ? vol_run + 1 : 0;
    if (close_run < static_cast<size_t>(kRegimeTrendWindow) ||
        vol_run < static_cast<size_t>(kRegimeVolMaWindow)) {
      continue;
    }
    double sum = 0;
    for (size_t k = i + 1 - kRegimeTrendWindow; k <= i; ++k) sum += close[k];
    const double sma = sum / kRegimeTrendWindow;
    double vsum = 0;
    for (size_t k = i + 1 - kRegimeVolMaWindow; k <= i; ++k) vsum += vol[k];
    const double vol_ma = vsum / kRegimeVolMaWindow;
    const int up = close[i] > sma ? 1 : 0;
    const int calm = vol[i] <= vol_ma ? 1 : 0;
    labels[i] = static_cast<int8_t>(2 * up + calm);
  }
  return labels;
}

}  // namespace evolve::engines
