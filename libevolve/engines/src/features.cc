#include "evolve/engines/features.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <set>
#include <system_error>
#include <thread>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "indicators.h"

namespace evolve::engines {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kSecondsPerDay = 86400;

// The symbol's own columns, in output order: Col indexes kOwnNames.
enum Col : size_t {
  kSma20,
  kSma50,
  kSma200,
  kEma12,
  kEma26,
  kEma50,
  kMacdLine,
  kMacdSignal,
  kMacdHist,
  kBbUpper,
  kBbLower,
  kBbWidth,
  kBbPctB,
  kAtr14,
  kAtrPct14,
  kRsi14,
  kRsi7,
  kRoc10,
  kMomentum10,
  kStochK14,
  kStochD3,
  kStochSlowD3,
  kWilliamsR14,
  kCci20,
  kAdx14,
  kPlusDi14,
  kMinusDi14,
  kObvZ20,
  kReturn1,
  kReturn5,
  kReturn20,
  kLogReturn1,
  kLogReturn5,
  kVolatility20,
  kReturnZ20,
  kVolZ20,
  kParkinson20,
  kIbs,
  kCloseToSma20,
  kCloseToSma50,
  kHighLowRange,
  kGap,
  kVolumeRatio20,
  kDayOfWeek,
  kHourOfDay,
  kMonth,
  kNumOwn
};

const char* const kOwnNames[] = {
    "sma_20",
    "sma_50",
    "sma_200",
    "ema_12",
    "ema_26",
    "ema_50",
    "macd_line",
    "macd_signal",
    "macd_hist",
    "bb_upper_20_2",
    "bb_lower_20_2",
    "bb_width_20_2",
    "bb_pct_b_20_2",
    "atr_14",
    "atr_pct_14",
    "rsi_14",
    "rsi_7",
    "roc_10",
    "momentum_10",
    "stoch_k_14",
    "stoch_d_3",
    "stoch_slow_d_3",
    "williams_r_14",
    "cci_20",
    "adx_14",
    "plus_di_14",
    "minus_di_14",
    "obv_z_score_20",
    "return_1",
    "return_5",
    "return_20",
    "log_return_1",
    "log_return_5",
    "volatility_20",
    "return_z_score_20",
    "vol_z_score_20",
    "parkinson_vol_20",
    "ibs",
    "close_to_sma_20",
    "close_to_sma_50",
    "high_low_range",
    "gap",
    "volume_ratio_20",
    "day_of_week",
    "hour_of_day",
    "month",
};
static_assert(sizeof(kOwnNames) / sizeof(kOwnNames[0]) == kNumOwn, "kOwnNames and Col disagree");

const char* const kReferenceNames[] = {"return_1", "log_return_1", "rsi_14", "volatility_20",
                                       "return_z_score_20"};
constexpr size_t kNumReference = sizeof(kReferenceNames) / sizeof(kReferenceNames[0]);

// Bars are processed in chunks: every column's values for a chunk are
// written to a small buffer that stays in L1, then stored to the column.
constexpr size_t kChunk = 64;
// Columns sit kStride doubles apart in the chunk buffer: a power-of-two
// stride would map all of a bar's 46 stores to the same few L1 sets.
constexpr size_t kStride = kChunk + 8;

std::string Lower(const std::string& s) {
  std::string out = s;
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Status CheckBars(const Bars& b, const std::string& what) {
  const size_t n = b.size();
  if (b.open.size() != n || b.high.size() != n || b.low.size() != n || b.close.size() != n ||
      b.volume.size() != n) {
    return InvalidArgumentError(what + " " + b.symbol + ": columns have different lengths");
  }
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && b.time[i] <= b.time[i - 1]) {
      return InvalidArgumentError(what + " " + b.symbol + ": times not strictly increasing at bar " +
                                  std::to_string(i));
    }
    // The features take logs and ratios of prices: they must be positive
    // (NaN fails these comparisons too). Infinity is caught by its ratios.
    if (!(b.open[i] > 0 && b.high[i] > 0 && b.low[i] > 0 && b.close[i] > 0 && b.volume[i] >= 0) ||
        !std::isfinite(b.open[i] + b.high[i] + b.low[i] + b.close[i] + b.volume[i])) {
      return InvalidArgumentError(what + " " + b.symbol + ": bar " + std::to_string(i) +
                                  " has a price that is not positive and finite, or a negative volume");
    }
  }
  return Status::Ok();
}

// NaN for +/-Infinity (and NaN), the value otherwise: columns promise NaN or a
// finite number. Branch-free, so the compiler can vectorise a loop of it.
inline double FiniteOrNaN(double v) { return v - v == 0.0 ? v : kNaN; }

int64_t DayOf(int64_t t) {
  return t >= 0 ? t / kSecondsPerDay : -((-t + kSecondsPerDay - 1) / kSecondsPerDay);
}

// Writes src[0, len) to dst[0, len) with +/-Infinity turned
// into NaN. With SSE2 the stores are non-temporal: the columns are far larger
// than the caches and are not read again here, so streaming them saves
// reading every destination line into the cache first.
void ScrubAndStore(double* dst, const double* src, size_t len) {
  size_t t = 0;
#if defined(__SSE2__)
  if ((reinterpret_cast<uintptr_t>(dst) & 15) == 0) {
    const __m128d zero = _mm_setzero_pd(), nan = _mm_set1_pd(kNaN);
    for (; t + 2 <= len; t += 2) {
      const __m128d v = _mm_loadu_pd(src + t);
      const __m128d finite = _mm_cmpeq_pd(_mm_sub_pd(v, v), zero);
      _mm_stream_pd(dst + t, _mm_or_pd(_mm_and_pd(finite, v), _mm_andnot_pd(finite, nan)));
    }
  }
#endif
  for (; t < len; ++t) dst[t] = FiniteOrNaN(src[t]);
}

// Runs body(begin, len, out) for each chunk [begin, begin + len) of the
// bars; out(col) points to column col's values for the chunk, in a small
// buffer that stays in L1. They are then stored to the columns (allocated by
// the caller, sized here).
//
// Inside a chunk the work is in phases: pointwise inputs (vectorisable),
// then one scalar pass through the recursive states, then the pointwise
// results (vectorisable: divisions and square roots, which bound this code,
// go two to an SSE2 instruction).
// Where computed values go: rows [begin, end) of the kept columns, and
// every column's first defined bar (n until one is seen).
struct FrameSink {
  size_t n = 0;
  size_t begin = 0;
  size_t end = 0;
  std::vector<char> keep;  // per column of the frame
  std::vector<std::vector<double>>* columns = nullptr;
  std::vector<size_t>* first_defined = nullptr;
};

// The bar of the first finite value of v[0, len), the chunk at `begin`; n if none.
size_t FirstFinite(const double* v, size_t len, size_t begin, size_t n) {
  for (size_t t = 0; t < len; ++t) {
    if (std::isfinite(v[t])) return begin + t;
  }
  return n;
}

template <typename Body>
void FillColumns(const std::vector<Col>& group, const FrameSink& sink, Body body) {
  std::vector<double> buffer(kNumOwn * kStride);
  const size_t n = sink.n;
  for (Col col : group) {
    if (sink.keep[col]) (*sink.columns)[col].resize(sink.end - sink.begin);
  }
  double* const base = buffer.data();
  auto out = [base](Col col) { return base + col * kStride; };
  // Every chunk is computed (the states are recursive); only the kept
  // rows are stored.
  for (size_t begin = 0; begin < n; begin += kChunk) {
    const size_t len = std::min(kChunk, n - begin);
    body(begin, len, out);
    const size_t lo = std::max(begin, sink.begin), hi = std::min(begin + len, sink.end);
    for (Col col : group) {
      size_t& first = (*sink.first_defined)[col];
      if (first == n) first = FirstFinite(out(col), len, begin, n);
      if (sink.keep[col] && lo < hi) {
        ScrubAndStore((*sink.columns)[col].data() + (lo - sink.begin), out(col) + (lo - begin), hi - lo);
      }
    }
  }
#if defined(__SSE2__)
  _mm_sfence();  // non-temporal stores are weakly ordered: publish them before returning
#endif
}

// y[t] = sqrt(x[t]). std::sqrt keeps errno semantics, which stops GCC from
// vectorising a loop of it; sqrtpd gives the same correctly rounded results.
void SqrtAll(const double* x, size_t len, double* y) {
  size_t t = 0;
#if defined(__SSE2__)
  for (; t + 2 <= len; t += 2) _mm_storeu_pd(y + t, _mm_sqrt_pd(_mm_loadu_pd(x + t)));
#endif
  for (; t < len; ++t) y[t] = std::sqrt(x[t]);
}

// Pointwise results below are written without the `divisor > 0 ? q : NaN`
// guards of the indicator functions where the divisor cannot be negative: a
// zero divisor then gives +/-Infinity or NaN, which ScrubAndStore turns into
// the same NaN. Without the selects GCC vectorises the loops (it will not
// if-convert them under the default -ftrapping-math).

// q[t] = num[begin + t] / den[begin + t - lag]; NaN before the first lag bars.
void LagRatio(const double* num, const double* den, size_t begin, size_t len, size_t lag, double* q) {
  size_t t = 0;
  for (; t < len && begin + t < lag; ++t) q[t] = kNaN;
  for (; t < len; ++t) q[t] = num[begin + t] / den[begin + t - lag];
}

// The own columns come in two groups of about equal cost, each one fused pass
// over the bars, so that two threads can share the work. Every state is the
// one the indicator functions use, and every formula the one they use, so
// the values are bit for bit theirs.

// Moving averages, bands, MACD, ATR, RSI, CCI, volume ratio, OBV and the calendar.
void ComputeTrendColumns(const Bars& bars, const FrameSink& sink) {
  const double* h = bars.high.data();
  const double* l = bars.low.data();
  const double* c = bars.close.data();
  const double* v = bars.volume.data();
  const int64_t* time = bars.time.data();
  SmaState sma20(20), sma50(50), sma200(200), volume_sma20(20);
  EmaState ema12(12), ema26(26), ema50(50), macd_signal(9);
  RollingMomentsState bb_moments(20, /*sample=*/false), obv_moments(20, true);
  ObvState obv;
  TrueRangeState true_range;
  EmaState atr(14, /*wilder=*/true);
  RsiState rsi14(14), rsi7(7);
  CciState cci(20, 0.015);
  int64_t cached_day = std::numeric_limits<int64_t>::min();
  CivilTime civil;
  const std::vector<Col> group = {kSma20,        kSma50,         kSma200,     kEma12,     kEma26,
                                  kEma50,        kMacdLine,      kMacdSignal, kMacdHist,  kBbUpper,
                                  kBbLower,      kBbWidth,       kBbPctB,     kAtr14,     kAtrPct14,
                                  kRsi14,        kRsi7,          kCci20,      kObvZ20,    kCloseToSma20,
                                  kCloseToSma50, kVolumeRatio20, kDayOfWeek,  kHourOfDay, kMonth};
  FillColumns(group, sink, [&](size_t begin, size_t len, auto out) {
    const double* cc = c + begin;
    const double* vv = v + begin;
    double bb_var[kChunk], vsma[kChunk], up14[kChunk], down14[kChunk], up7[kChunk], down7[kChunk],
        obv_dev[kChunk], obv_var[kChunk], cci_dev[kChunk], cci_mean_dev[kChunk];
    double *s20 = out(kSma20), *s50 = out(kSma50), *s200 = out(kSma200), *e12 = out(kEma12),
           *e26 = out(kEma26), *e50 = out(kEma50), *line = out(kMacdLine), *signal = out(kMacdSignal),
           *hist = out(kMacdHist), *atr14 = out(kAtr14), *dow = out(kDayOfWeek), *hour = out(kHourOfDay),
           *month = out(kMonth);
    for (size_t t = 0; t < len; ++t) {
      const size_t i = begin + t;
      const double close = cc[t];
      s20[t] = sma20.Push(close);
      s50[t] = sma50.Push(close);
      s200[t] = sma200.Push(close);
      e12[t] = ema12.Push(close);
      e26[t] = ema26.Push(close);
      e50[t] = ema50.Push(close);
      line[t] = e12[t] - e26[t];
      signal[t] = macd_signal.Push(line[t]);
      hist[t] = line[t] - signal[t];
      bb_var[t] = bb_moments.Push(close).variance;
      atr14[t] = atr.Push(true_range.Push(h[i], l[i], close));
      const RsiState::Averages a14 = rsi14.PushAverages(close), a7 = rsi7.PushAverages(close);
      up14[t] = a14.up;
      down14[t] = a14.down;
      up7[t] = a7.up;
      down7[t] = a7.down;
      const CciState::Parts cp = cci.PushParts(h[i], l[i], close);
      cci_dev[t] = cp.deviation;
      cci_mean_dev[t] = cp.mean_dev;
      vsma[t] = volume_sma20.Push(vv[t]);
      const RollingMomentsState::Value om = obv_moments.Push(obv.Push(close, vv[t]));
      obv_dev[t] = om.deviation;
      obv_var[t] = om.variance;
      const int64_t day = DayOf(time[i]);
      if (day != cached_day) {
        civil = ToCivilTime(day * kSecondsPerDay);
        cached_day = day;
      }
      dow[t] = civil.day_of_week;
      hour[t] = static_cast<double>((time[i] - day * kSecondsPerDay) / 3600);
      month[t] = civil.month;
    }
    double *upper = out(kBbUpper), *lower = out(kBbLower), *width = out(kBbWidth), *pct_b = out(kBbPctB),
           *atr_pct = out(kAtrPct14), *rsi_14 = out(kRsi14), *rsi_7 = out(kRsi7), *cci20 = out(kCci20),
           *obv_z = out(kObvZ20), *to_sma20 = out(kCloseToSma20), *to_sma50 = out(kCloseToSma50),
           *vratio = out(kVolumeRatio20);
    double bb_sd[kChunk], obv_sd[kChunk];
    SqrtAll(bb_var, len, bb_sd);
    SqrtAll(obv_var, len, obv_sd);
    const double cci_c = cci.c();
    for (size_t t = 0; t < len; ++t) {
      const double sd = bb_sd[t];
      upper[t] = s20[t] + 2.0 * sd;
      lower[t] = s20[t] - 2.0 * sd;
      const double band = upper[t] - lower[t];
      width[t] = band / s20[t];
      pct_b[t] = (cc[t] - lower[t]) / band;  // band >= 0
      atr_pct[t] = atr14[t] / cc[t];
      rsi_14[t] = RsiState::FromAverages(up14[t], down14[t]);
      rsi_7[t] = RsiState::FromAverages(up7[t], down7[t]);
      obv_z[t] = obv_dev[t] / obv_sd[t];                  // sd >= 0
      cci20[t] = cci_dev[t] / (cci_c * cci_mean_dev[t]);  // mean deviation >= 0
      to_sma20[t] = cc[t] / s20[t] - 1.0;
      to_sma50[t] = cc[t] / s50[t] - 1.0;
      vratio[t] = vv[t] / vsma[t];  // volume >= 0 (checked), so its mean too
    }
  });
}

// Returns, volatility, return and volume z-scores, stochastics, ADX and bar shape.
void ComputeMoveColumns(const Bars& bars, const FrameSink& sink) {
  const double* o = bars.open.data();
  const double* h = bars.high.data();
  const double* l = bars.low.data();
  const double* c = bars.close.data();
  const double* v = bars.volume.data();
  SmaState stoch_d(3), stoch_slow_d(3);
  RollingSumState parkinson(20);
  RollingMomentsState log_return_moments(20, true), return_moments(20, true), volume_moments(20, true);
  RollingMaxState hmax14(14);
  RollingMinState lmin14(14);
  AdxState adx(14);
  const double parkinson_scale = 1.0 / (4.0 * 20 * std::log(2.0));
  const std::vector<Col> group = {
      kRoc10,        kMomentum10, kStochK14, kStochD3,     kStochSlowD3, kWilliamsR14,  kAdx14,
      kPlusDi14,     kMinusDi14,  kReturn1,  kReturn5,     kReturn20,    kLogReturn1,   kLogReturn5,
      kVolatility20, kReturnZ20,  kVolZ20,   kParkinson20, kIbs,         kHighLowRange, kGap};
  FillColumns(group, sink, [&](size_t begin, size_t len, auto out) {
    const double *cc = c + begin, *hh = h + begin, *ll = l + begin;
    double q[kChunk], log_hl2[kChunk], hmax[kChunk], lmin[kChunk], log_return_var[kChunk], return_dev[kChunk],
        return_var[kChunk], vol_dev[kChunk], vol_var[kChunk], park_sum[kChunk], plus_sum[kChunk],
        minus_sum[kChunk], tr_sum[kChunk];
    // Pointwise inputs and columns.
    double *r1 = out(kReturn1), *lr1 = out(kLogReturn1), *r5 = out(kReturn5), *lr5 = out(kLogReturn5),
           *r20 = out(kReturn20), *roc10 = out(kRoc10), *mom10 = out(kMomentum10), *gap = out(kGap),
           *ibs = out(kIbs), *hl_range = out(kHighLowRange);
    LagRatio(c, c, begin, len, 1, q);
    for (size_t t = 0; t < len; ++t) r1[t] = q[t] - 1.0;
    for (size_t t = 0; t < len; ++t) lr1[t] = std::log(q[t]);
    LagRatio(c, c, begin, len, 5, q);
    for (size_t t = 0; t < len; ++t) r5[t] = q[t] - 1.0;
    for (size_t t = 0; t < len; ++t) lr5[t] = std::log(q[t]);
    LagRatio(c, c, begin, len, 20, r20);
    for (size_t t = 0; t < len; ++t) r20[t] -= 1.0;
    LagRatio(c, c, begin, len, 10, roc10);
    for (size_t t = 0; t < len; ++t) roc10[t] -= 1.0;
    {
      size_t t = 0;
      for (; t < len && begin + t < 10; ++t) mom10[t] = kNaN;
      for (; t < len; ++t) mom10[t] = cc[t] - c[begin + t - 10];
    }
    LagRatio(o, c, begin, len, 1, gap);
    for (size_t t = 0; t < len; ++t) gap[t] -= 1.0;
    for (size_t t = 0; t < len; ++t) {
      const double range = hh[t] - ll[t];
      const double x = (cc[t] - ll[t]) / range;
      ibs[t] = hh[t] > ll[t] ? x : 0.5;
      hl_range[t] = range / cc[t];
    }
    for (size_t t = 0; t < len; ++t) q[t] = hh[t] / ll[t];
    for (size_t t = 0; t < len; ++t) {
      const double x = std::log(q[t]);
      log_hl2[t] = x * x;
    }
    // The recursive states.
    double *stoch_k = out(kStochK14), *stoch_d3 = out(kStochD3), *stoch_slow = out(kStochSlowD3),
           *adx14 = out(kAdx14), *plus_di = out(kPlusDi14), *minus_di = out(kMinusDi14);
    for (size_t t = 0; t < len; ++t) {
      const double close = cc[t];
      hmax[t] = hmax14.Push(hh[t]);
      lmin[t] = lmin14.Push(ll[t]);
      const double fast_k = StochasticFastK(hmax[t], lmin[t], close);
      const double fast_d = stoch_d.Push(fast_k);
      stoch_k[t] = fast_k * 100.0;
      stoch_d3[t] = fast_d * 100.0;
      stoch_slow[t] = stoch_slow_d.Push(fast_d) * 100.0;
      const AdxState::Parts dmi = adx.PushParts(hh[t], ll[t], close);
      adx14[t] = dmi.adx;
      plus_sum[t] = dmi.plus_sum;
      minus_sum[t] = dmi.minus_sum;
      tr_sum[t] = dmi.tr_sum;
      log_return_var[t] = log_return_moments.Push(lr1[t]).variance;
      const RollingMomentsState::Value rm = return_moments.Push(r1[t]);
      return_dev[t] = rm.deviation;
      return_var[t] = rm.variance;
      const RollingMomentsState::Value vm = volume_moments.Push(v[begin + t]);
      vol_dev[t] = vm.deviation;
      vol_var[t] = vm.variance;
      park_sum[t] = parkinson.Push(log_hl2[t]);
    }
    // Pointwise results.
    double *williams = out(kWilliamsR14), *vol20 = out(kVolatility20), *ret_z = out(kReturnZ20),
           *vol_z = out(kVolZ20), *park = out(kParkinson20);
    double return_sd[kChunk], vol_sd[kChunk];
    SqrtAll(return_var, len, return_sd);
    SqrtAll(vol_var, len, vol_sd);
    SqrtAll(log_return_var, len, vol20);
    for (size_t t = 0; t < len; ++t) park_sum[t] *= parkinson_scale;
    SqrtAll(park_sum, len, park);
    for (size_t t = 0; t < len; ++t) {
      ret_z[t] = return_dev[t] / return_sd[t];  // sd >= 0
      vol_z[t] = vol_dev[t] / vol_sd[t];
      plus_di[t] = AdxState::Di(plus_sum[t], tr_sum[t]);
      minus_di[t] = AdxState::Di(minus_sum[t], tr_sum[t]);
    }
    for (size_t t = 0; t < len; ++t) williams[t] = WilliamsRFraction(hmax[t], lmin[t], cc[t]) * -100.0;
  });
}

// Below this many bars a second thread costs more than it saves.
constexpr size_t kParallelBars = 100'000;

void ComputeOwn(const Bars& bars, const FrameSink& sink) {
  // Allocated here, by the calling thread, so every column comes from the
  // caller's allocator arena whichever thread fills it.
  for (size_t col = 0; col < kNumOwn; ++col) {
    if (sink.keep[col]) (*sink.columns)[col].reserve(sink.end - sink.begin);
  }
  if (bars.size() < kParallelBars || std::thread::hardware_concurrency() < 2) {
    ComputeTrendColumns(bars, sink);
    ComputeMoveColumns(bars, sink);
    return;
  }
  // The groups write disjoint columns (and first_defined entries). An
  // exception (bad_alloc) in the helper thread is rethrown here, as it
  // would surface without the thread.
  std::exception_ptr failure;
  std::thread helper;
  try {
    helper = std::thread([&] {
      try {
        ComputeMoveColumns(bars, sink);
      } catch (...) {
        failure = std::current_exception();
      }
    });
  } catch (const std::system_error&) {
    ComputeMoveColumns(bars, sink);  // no thread to be had: do it here
  }
  ComputeTrendColumns(bars, sink);
  if (helper.joinable()) helper.join();
  if (failure) std::rethrow_exception(failure);
}

// A reference's columns on its own bars, in kReferenceNames order.
std::vector<Series> ReferenceColumns(const Bars& r) {
  const size_t n = r.size();
  std::vector<Series> cols(kNumReference, Series(n));
  RsiState rsi(14);
  RollingMomentsState log_return_moments(20, true), return_moments(20, true);
  for (size_t i = 0; i < n; ++i) {
    const double prev = i >= 1 ? r.close[i - 1] : kNaN;
    const double r1 = r.close[i] / prev - 1.0;
    const double lr1 = std::log(r.close[i] / prev);
    cols[0][i] = r1;
    cols[1][i] = lr1;
    cols[2][i] = rsi.Push(r.close[i]);
    cols[3][i] = StdevOf(log_return_moments.Push(lr1));
    const RollingMomentsState::Value m = return_moments.Push(r1);
    cols[4][i] = ZScoreOf(m.deviation, m.variance);
  }
  for (Series& col : cols) {
    for (double& x : col) x = FiniteOrNaN(x);
  }
  return cols;
}

}  // namespace

int FeatureFrame::Index(const std::string& name) const {
  auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

const std::vector<std::string>& OwnFeatureNames() {
  static const std::vector<std::string> kNames(std::begin(kOwnNames), std::end(kOwnNames));
  return kNames;
}

std::vector<std::string> FeatureNames(const std::vector<std::string>& reference_symbols) {
  std::vector<std::string> names = OwnFeatureNames();
  for (const std::string& symbol : reference_symbols) {
    const std::string prefix = Lower(symbol) + "_";
    for (const char* name : kReferenceNames) names.push_back(prefix + name);
  }
  return names;
}

Result<FeatureFrame> ComputeFeatures(const Bars& bars,
                                     const std::vector<std::shared_ptr<const Bars>>& references) {
  return ComputeFeatures(bars, references, FeatureRequest{});
}

Result<FeatureFrame> ComputeFeatures(const Bars& bars,
                                     const std::vector<std::shared_ptr<const Bars>>& references,
                                     const FeatureRequest& request) {
  EVOLVE_RETURN_IF_ERROR(CheckBars(bars, "bars"));
  std::vector<std::string> reference_symbols;
  std::set<std::string> seen;
  for (const auto& ref : references) {
    if (!ref) return InvalidArgumentError("reference bars: null");
    EVOLVE_RETURN_IF_ERROR(CheckBars(*ref, "reference"));
    if (!seen.insert(Lower(ref->symbol)).second) {
      return InvalidArgumentError("reference " + ref->symbol + " given twice");
    }
    reference_symbols.push_back(ref->symbol);
  }

  const size_t n = bars.size();
  const size_t end = std::min(request.end, n);
  if (request.begin > end) {
    return InvalidArgumentError("feature rows: begin " + std::to_string(request.begin) + " is past end " +
                                std::to_string(end) + " (" + std::to_string(n) + " bars)");
  }
  FeatureFrame frame;
  frame.first_row = request.begin;
  frame.time.assign(bars.time.begin() + static_cast<std::ptrdiff_t>(request.begin),
                    bars.time.begin() + static_cast<std::ptrdiff_t>(end));
  frame.names = FeatureNames(reference_symbols);
  frame.columns.resize(frame.names.size());
  frame.first_defined.assign(frame.names.size(), n);
  FrameSink sink;
  sink.n = n;
  sink.begin = request.begin;
  sink.end = end;
  sink.keep.assign(frame.names.size(), request.keep_none || !request.columns.empty() ? 0 : 1);
  for (const std::string& name : request.columns) {
    const int j = frame.Index(name);
    if (j < 0) return InvalidArgumentError("feature columns: no column '" + name + "'");
    if (!request.keep_none) sink.keep[static_cast<size_t>(j)] = 1;
  }
  sink.columns = &frame.columns;
  sink.first_defined = &frame.first_defined;
  ComputeOwn(bars, sink);

  size_t next = kNumOwn;
  for (const auto& ref : references) {
    const Bars& r = *ref;
    const std::vector<Series> cols = ReferenceColumns(r);
    for (size_t k = 0; k < kNumReference; ++k) {
      if (sink.keep[next + k]) frame.columns[next + k].assign(end - request.begin, kNaN);
    }
    // Bar i takes the reference's last bar complete by bar i's close.
    size_t j = 0;  // reference bars [0, j) are complete
    for (size_t i = 0; i < n; ++i) {
      const int64_t now = CompleteAt(bars, i);
      while (j < r.size() && CompleteAt(r, j) <= now) ++j;
      if (j == 0) continue;
      for (size_t k = 0; k < kNumReference; ++k) {
        const double v = cols[k][j - 1];
        if (frame.first_defined[next + k] == n && std::isfinite(v)) frame.first_defined[next + k] = i;
        if (sink.keep[next + k] && i >= request.begin && i < end)
          frame.columns[next + k][i - request.begin] = v;
      }
    }
    next += kNumReference;
  }
  return frame;
}

}  // namespace evolve::engines
