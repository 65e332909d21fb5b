#include "evolve/engines/features.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <set>
#include <thread>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "evolve/engines/indicators.h"

namespace evolve::engines {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kSecondsPerDay = 86400;

// The symbol's own columns, in output order: Col indexes kOwnNames.
enum Col : size_t {
  kSma20, kSma50, kSma200, kEma12, kEma26, kEma50, kMacdLine, kMacdSignal, kMacdHist, kBbUpper, kBbLower,
  kBbWidth, kBbPctB, kAtr14, kAtrPct14, kRsi14, kRsi7, kRoc10, kMomentum10, kStochK14, kStochD3,
  kStochSlowD3, kWilliamsR14, kCci20, kAdx14, kPlusDi14, kMinusDi14, kObvZ20, kReturn1, kReturn5,
  kReturn20, kLogReturn1, kLogReturn5, kVolatility20, kReturnZ20, kVolZ20, kParkinson20, kIbs,
  kCloseToSma20, kCloseToSma50, kHighLowRange, kGap, kVolumeRatio20, kDayOfWeek, kHourOfDay, kMonth,
  kNumOwn
};

const char* const kOwnNames[] = {
    "sma_20",         "sma_50",          "sma_200",         "ema_12",          "ema_26",
    "ema_50",         "macd_line",       "macd_signal",     "macd_hist",       "bb_upper_20_2",
    "bb_lower_20_2",  "bb_width_20_2",   "bb_pct_b_20_2",   "atr_14",          "atr_pct_14",
    "rsi_14",         "rsi_7",           "roc_10",          "momentum_10",     "stoch_k_14",
    "stoch_d_3",      "stoch_slow_d_3",  "williams_r_14",   "cci_20",          "adx_14",
    "plus_di_14",     "minus_di_14",     "obv_z_score_20",  "return_1",        "return_5",
    "return_20",      "log_return_1",    "log_return_5",    "volatility_20",   "return_z_score_20",
    "vol_z_score_20", "parkinson_vol_20", "ibs",            "close_to_sma_20", "close_to_sma_50",
    "high_low_range", "gap",             "volume_ratio_20", "day_of_week",     "hour_of_day",
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
  for (size_t i = 1; i < n; ++i) {
    if (b.time[i] <= b.time[i - 1]) {
      return InvalidArgumentError(what + " " + b.symbol + ": times not strictly increasing at bar " +
                                  std::to_string(i));
    }
  }
  return Status::Ok();
}

// NaN for +/-Infinity (and NaN), the value otherwise: columns promise NaN or a
// finite number. Branch-free, so the compiler can vectorise a loop of it.
inline double FiniteOrNaN(double v) { return v - v == 0.0 ? v : kNaN; }

// a / b when b > 0, else NaN.
inline double DivPositive(double a, double b) { return b > 0 ? a / b : kNaN; }

// The instant a bar is complete, comparable across daily and intraday bars:
// a daily bar (stamped at 00:00 of its date) completes at the end of its date.
int64_t CompleteAt(int64_t time, bool intraday) { return intraday ? time : time + kSecondsPerDay; }

int64_t DayOf(int64_t t) { return t >= 0 ? t / kSecondsPerDay : -((-t + kSecondsPerDay - 1) / kSecondsPerDay); }

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

// Runs row(i, put) for every bar i, where put(col, value) sets column col
// at bar i, chunk by chunk: a chunk's values go to a small buffer that stays
// in L1 and are then stored to their columns (sized by the caller).
template <typename Row>
void FillColumns(size_t n, const std::vector<Col>& group, std::vector<std::vector<double>>* columns, Row row) {
  std::vector<double> buffer(kNumOwn * kStride);
  for (Col col : group) (*columns)[col].resize(n);
  for (size_t begin = 0; begin < n; begin += kChunk) {
    const size_t len = std::min(kChunk, n - begin);
    double* const out = buffer.data();
    for (size_t t = 0; t < len; ++t) {
      row(begin + t, [out, t](Col col, double value) { out[col * kStride + t] = value; });
    }
    for (Col col : group) ScrubAndStore((*columns)[col].data() + begin, out + col * kStride, len);
  }
#if defined(__SSE2__)
  _mm_sfence();  // non-temporal stores are weakly ordered: publish them before returning
#endif
}

// The own columns come in two groups of about equal cost, each one fused pass
// over the bars, so that two threads can share the work. Every state is the
// one the indicator functions use, so values are bit for bit theirs.

// Moving averages, bands, MACD, ATR, RSI, CCI and the calendar.
void ComputeTrendColumns(const Bars& bars, std::vector<std::vector<double>>* columns) {
  const double* h = bars.high.data();
  const double* l = bars.low.data();
  const double* c = bars.close.data();
  const double* v = bars.volume.data();
  const int64_t* time = bars.time.data();
  SmaState sma20(20), sma50(50), sma200(200), volume_sma20(20);
  EmaState ema12(12), ema26(26), ema50(50), macd_signal(9);
  RollingMomentsState bb_moments(20, /*sample=*/false);
  TrueRangeState true_range;
  EmaState atr(14, /*wilder=*/true);
  RsiState rsi14(14), rsi7(7);
  CciState cci(20, 0.015);
  int64_t cached_day = std::numeric_limits<int64_t>::min();
  CivilTime civil;
  const std::vector<Col> group = {kSma20,    kSma50,        kSma200,       kEma12,         kEma26,   kEma50,
                                  kMacdLine, kMacdSignal,   kMacdHist,     kBbUpper,       kBbLower, kBbWidth,
                                  kBbPctB,   kAtr14,        kAtrPct14,     kRsi14,         kRsi7,    kCci20,
                                  kCloseToSma20, kCloseToSma50, kVolumeRatio20, kDayOfWeek, kHourOfDay, kMonth};
  FillColumns(bars.size(), group, columns, [&](size_t i, auto put) {
    const double close = c[i];
    const double s20 = sma20.Push(close);
    const double s50 = sma50.Push(close);
    put(kSma20, s20);
    put(kSma50, s50);
    put(kSma200, sma200.Push(close));
    const double e12 = ema12.Push(close), e26 = ema26.Push(close);
    put(kEma12, e12);
    put(kEma26, e26);
    put(kEma50, ema50.Push(close));
    const double line = e12 - e26;
    const double signal = macd_signal.Push(line);
    put(kMacdLine, line);
    put(kMacdSignal, signal);
    put(kMacdHist, line - signal);

    const double sd = bb_moments.Push(close).stdev;
    const double upper = s20 + 2.0 * sd, lower = s20 - 2.0 * sd;
    const double width = upper - lower;
    put(kBbUpper, upper);
    put(kBbLower, lower);
    put(kBbWidth, width / s20);
    put(kBbPctB, width > 0 ? (close - lower) / width : kNaN);

    const double a = atr.Push(true_range.Push(h[i], l[i], close));
    put(kAtr14, a);
    put(kAtrPct14, a / close);
    put(kRsi14, rsi14.Push(close));
    put(kRsi7, rsi7.Push(close));
    put(kCci20, cci.Push(h[i], l[i], close));
    put(kCloseToSma20, close / s20 - 1.0);
    put(kCloseToSma50, close / s50 - 1.0);
    put(kVolumeRatio20, DivPositive(v[i], volume_sma20.Push(v[i])));

    const int64_t day = DayOf(time[i]);
    if (day != cached_day) {
      civil = ToCivilTime(day * kSecondsPerDay);
      cached_day = day;
    }
    put(kDayOfWeek, civil.day_of_week);
    put(kHourOfDay, static_cast<double>((time[i] - day * kSecondsPerDay) / 3600));
    put(kMonth, civil.month);
  });
}

// Returns, volatility, z-scores, stochastics, ADX, OBV and bar shape.
void ComputeMoveColumns(const Bars& bars, std::vector<std::vector<double>>* columns) {
  const double* o = bars.open.data();
  const double* h = bars.high.data();
  const double* l = bars.low.data();
  const double* c = bars.close.data();
  const double* v = bars.volume.data();
  SmaState stoch_d(3), stoch_slow_d(3);
  RollingSumState parkinson(20);
  RollingMomentsState obv_moments(20, true), log_return_moments(20, true), return_moments(20, true),
      volume_moments(20, true);
  RollingMaxState hmax14(14);
  RollingMinState lmin14(14);
  AdxState adx(14);
  ObvState obv;
  const double parkinson_scale = 1.0 / (4.0 * 20 * std::log(2.0));
  const std::vector<Col> group = {kRoc10,     kMomentum10,  kStochK14,   kStochD3,    kStochSlowD3, kWilliamsR14,
                                  kAdx14,     kPlusDi14,    kMinusDi14,  kObvZ20,     kReturn1,     kReturn5,
                                  kReturn20,  kLogReturn1,  kLogReturn5, kVolatility20, kReturnZ20, kVolZ20,
                                  kParkinson20, kIbs,       kHighLowRange, kGap};
  FillColumns(bars.size(), group, columns, [&](size_t i, auto put) {
    const double close = c[i];
    const double prev_close = i >= 1 ? c[i - 1] : kNaN;
    const double close5 = i >= 5 ? c[i - 5] : kNaN;
    const double close10 = i >= 10 ? c[i - 10] : kNaN;
    put(kRoc10, close / close10 - 1.0);
    put(kMomentum10, close - close10);

    const double hh = hmax14.Push(h[i]), ll = lmin14.Push(l[i]);
    const double fast_k = StochasticFastK(hh, ll, close);
    const double fast_d = stoch_d.Push(fast_k);
    put(kStochK14, fast_k * 100.0);
    put(kStochD3, fast_d * 100.0);
    put(kStochSlowD3, stoch_slow_d.Push(fast_d) * 100.0);
    put(kWilliamsR14, WilliamsRFraction(hh, ll, close) * -100.0);
    const AdxState::Value dmi = adx.Push(h[i], l[i], close);
    put(kAdx14, dmi.adx);
    put(kPlusDi14, dmi.plus_di);
    put(kMinusDi14, dmi.minus_di);
    const RollingMomentsState::Value obv_m = obv_moments.Push(obv.Push(close, v[i]));
    put(kObvZ20, obv_m.stdev > 0 ? obv_m.deviation / obv_m.stdev : kNaN);

    const double r1 = close / prev_close - 1.0;
    const double lr1 = std::log(close / prev_close);
    put(kReturn1, r1);
    put(kReturn5, close / close5 - 1.0);
    put(kReturn20, close / (i >= 20 ? c[i - 20] : kNaN) - 1.0);
    put(kLogReturn1, lr1);
    put(kLogReturn5, std::log(close / close5));
    put(kVolatility20, log_return_moments.Push(lr1).stdev);
    const RollingMomentsState::Value rm = return_moments.Push(r1);
    put(kReturnZ20, rm.stdev > 0 ? rm.deviation / rm.stdev : kNaN);
    const RollingMomentsState::Value vm = volume_moments.Push(v[i]);
    put(kVolZ20, vm.stdev > 0 ? vm.deviation / vm.stdev : kNaN);
    const double log_hl = std::log(h[i] / l[i]);
    put(kParkinson20, std::sqrt(parkinson_scale * parkinson.Push(log_hl * log_hl)));

    const double range = h[i] - l[i];
    put(kIbs, h[i] > l[i] ? (close - l[i]) / range : 0.5);
    put(kHighLowRange, range / close);
    put(kGap, o[i] / prev_close - 1.0);
  });
}

// Below this many bars a second thread costs more than it saves.
constexpr size_t kParallelBars = 100'000;

void ComputeOwn(const Bars& bars, std::vector<std::vector<double>>* columns) {
  // Allocated here, by the calling thread, so every column comes from the
  // caller's allocator arena whichever thread fills it.
  for (size_t col = 0; col < kNumOwn; ++col) (*columns)[col].reserve(bars.size());
  if (bars.size() < kParallelBars || std::thread::hardware_concurrency() < 2) {
    ComputeTrendColumns(bars, columns);
    ComputeMoveColumns(bars, columns);
    return;
  }
  // The groups write disjoint columns. An exception (bad_alloc) in the helper
  // thread is rethrown here, as it would surface without the thread.
  std::exception_ptr failure;
  std::thread helper([&] {
    try {
      ComputeMoveColumns(bars, columns);
    } catch (...) {
      failure = std::current_exception();
    }
  });
  ComputeTrendColumns(bars, columns);
  helper.join();
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
    cols[3][i] = log_return_moments.Push(lr1).stdev;
    const RollingMomentsState::Value m = return_moments.Push(r1);
    cols[4][i] = m.stdev > 0 ? m.deviation / m.stdev : kNaN;
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

Result<FeatureFrame> ComputeFeatures(const Bars& bars, const std::vector<std::shared_ptr<const Bars>>& references) {
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
  FeatureFrame frame;
  frame.time = bars.time;
  frame.names = FeatureNames(reference_symbols);
  frame.columns.resize(frame.names.size());
  ComputeOwn(bars, &frame.columns);

  size_t next = kNumOwn;
  for (const auto& ref : references) {
    const Bars& r = *ref;
    const std::vector<Series> cols = ReferenceColumns(r);
    for (size_t k = 0; k < kNumReference; ++k) frame.columns[next + k].assign(n, kNaN);
    // Bar i takes the reference's last bar complete by bar i's close.
    size_t j = 0;  // reference bars [0, j) are complete
    for (size_t i = 0; i < n; ++i) {
      const int64_t now = CompleteAt(bars.time[i], bars.intraday);
      while (j < r.size() && CompleteAt(r.time[j], r.intraday) <= now) ++j;
      if (j == 0) continue;
      for (size_t k = 0; k < kNumReference; ++k) frame.columns[next + k][i] = cols[k][j - 1];
    }
    next += kNumReference;
  }
  return frame;
}

}  // namespace evolve::engines
