// The drawdown of the bars held long between a trade's entry and exit
// marks: the backtester's vector kernels, with the band-margin argument
// that they give the same bits as its exact rule or say they cannot.
// Inline (they run in the innermost loop of Engine::RunLong, backtest.cc).
//
// Internal to the engines. Thread-safety: pure functions.
#ifndef EVOLVE_ENGINES_SRC_DRAWDOWN_BAND_H_
#define EVOLVE_ENGINES_SRC_DRAWDOWN_BAND_H_

#include <algorithm>
#include <cstddef>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace evolve::engines::backtest_internal {

// Margin within which a held bar counts as too near the edge of the
// drawdown band (Engine::SetBand) to be decided without the band's
// divisions; see HeldLongPortable. The rounding errors involved are below
// 1e-15.
constexpr double kBandMargin = 1e-12;

// The drawdown of the bars held long between a trade's entry and exit marks.
//
// Run's rule marks such a bar's close (Drawdown of units * close) only when
// it is outside the band (Engine::SetBand) of the peak and maximum drawdown
// before it. The kernels below mark every held bar instead, branch-free and
// in order, which gives the same peak and drawdown provided that every bar
// that changes them is certainly outside the band, since marking a close
// that changes nothing changes nothing. They check that and return false
// when a bar changes them within kBandMargin of the band's edge; the caller
// then applies Run's rule (Engine::ExactHeldLong) from the same state.
//
// Why the margin suffices, with e = fl(units * close), the band's top
// fl(peak / units) and bottom fl(fl(peak * fl(1 - mdd)) / units): e >
// peak (1 + kBandMargin) implies close > top, and a new drawdown dd =
// fl(1 - fl(e / peak)) > mdd + kBandMargin implies close < bottom, for any
// margin above a few ulps of 1.
//
// They also add the held bars' close-to-close returns g (and g^2) to *sum1
// (*sum2), in bar order, whatever they return.
inline bool HeldLongPortable(const double* c, const double* g, size_t len, double units, double* peak,
                             double* mdd, double* sum1, double* sum2) {
  double p = *peak, m = *mdd, s1 = *sum1, s2 = *sum2;
  bool unsure = false;
  for (size_t i = 0; i < len; ++i) {
    s1 += g[i];
    s2 += g[i] * g[i];
    const double e = units * c[i];
    const double dd = 1.0 - e / p;
    unsure |= ((e > p) & (e <= p * (1.0 + kBandMargin))) | ((dd > m) & (dd <= m + kBandMargin));
    m = std::max(m, dd);
    p = std::max(p, e);
  }
  *sum1 = s1;
  *sum2 = s2;
  if (unsure) return false;
  *peak = p;
  *mdd = m;
  return true;
}

#if defined(__SSE2__)
// HeldLongPortable, two bars at a time. The maxima are exact, and the
// products, divisions and sums are the same IEEE operations in the same
// order, so the results have the same bits; only a few uncertain cases may
// be decided differently, and those fall back to the exact rule.
inline bool HeldLongSse2(const double* c, const double* g, size_t len, double units, double* peak,
                         double* mdd, double* sum1, double* sum2) {
  const __m128d u = _mm_set1_pd(units);
  const __m128d one = _mm_set1_pd(1.0);
  const __m128d up = _mm_set1_pd(1.0 + kBandMargin);
  const __m128d margin = _mm_set1_pd(kBandMargin);
  const __m128d low = _mm_set1_pd(-std::numeric_limits<double>::infinity());
  __m128d p = _mm_set1_pd(*peak);
  __m128d m = _mm_set1_pd(*mdd);
  __m128d unsure = _mm_setzero_pd();
  double s1 = *sum1, s2 = *sum2;
  size_t i = 0;
  for (; i + 2 <= len; i += 2) {
    const double g0 = g[i], g1 = g[i + 1];
    s1 += g0;
    s1 += g1;
    s2 += g0 * g0;
    s2 += g1 * g1;
    const __m128d e = _mm_mul_pd(u, _mm_loadu_pd(c + i));
    // The peak and maximum drawdown before each of the two bars.
    const __m128d p_before = _mm_max_pd(p, _mm_unpacklo_pd(low, e));
    const __m128d dd = _mm_sub_pd(one, _mm_div_pd(e, p_before));
    const __m128d m_before = _mm_max_pd(m, _mm_unpacklo_pd(low, dd));
    const __m128d near_high =
        _mm_and_pd(_mm_cmpgt_pd(e, p_before), _mm_cmple_pd(e, _mm_mul_pd(p_before, up)));
    const __m128d near_low =
        _mm_and_pd(_mm_cmpgt_pd(dd, m_before), _mm_cmple_pd(dd, _mm_add_pd(m_before, margin)));
    unsure = _mm_or_pd(unsure, _mm_or_pd(near_high, near_low));
    p = _mm_max_pd(p, _mm_max_pd(e, _mm_shuffle_pd(e, e, 1)));
    m = _mm_max_pd(m, _mm_max_pd(dd, _mm_shuffle_pd(dd, dd, 1)));
  }
  double pv = _mm_cvtsd_f64(p), mv = _mm_cvtsd_f64(m);
  bool bad = _mm_movemask_pd(unsure) != 0;
  if (i < len) {  // the odd bar
    s1 += g[i];
    s2 += g[i] * g[i];
    const double e = units * c[i];
    const double dd = 1.0 - e / pv;
    bad |= ((e > pv) & (e <= pv * (1.0 + kBandMargin))) | ((dd > mv) & (dd <= mv + kBandMargin));
    mv = std::max(mv, dd);
    pv = std::max(pv, e);
  }
  *sum1 = s1;
  *sum2 = s2;
  if (bad) return false;
  *peak = pv;
  *mdd = mv;
  return true;
}
#endif

}  // namespace evolve::engines::backtest_internal

#endif  // EVOLVE_ENGINES_SRC_DRAWDOWN_BAND_H_
