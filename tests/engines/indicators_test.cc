// Indicators against R's TTR (tests/engines/fixtures/ttr_reference.csv, made
// by make_ttr_fixtures.R from examples/data/ttrc.csv), and their edge cases.
//
// Tolerance: |ours - ttr| <= 1e-9 * |ttr| + 1e-12 * max_i |ttr_i|. The
// absolute floor, a millionth of 1e-9 of the column's largest value, only
// matters near zero, where both sides are rounding residue of a difference of
// nearly equal numbers (a CCI of 1e-12 for a bar at its window's mean, where
// TTR says -3e-12); every value above a thousandth of its column's largest
// is held to 1e-9 relative. NaN positions must match exactly.
#include <doctest/doctest.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "evolve/engines/bars.h"
#include "indicators.h"

namespace evolve::engines {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kRelTol = 1e-9;
constexpr double kAbsFloorOfMax = 1e-12;

struct Fixture {
  std::vector<std::string> dates;
  std::map<std::string, Series> columns;
};

// Reads ttr_reference.csv: a date column, then numbers or NA.
Fixture LoadFixture() {
  Fixture f;
  std::ifstream in(std::string(EVOLVE_TEST_FIXTURES_DIR) + "/ttr_reference.csv");
  REQUIRE(in.good());
  std::string line;
  std::getline(in, line);
  std::vector<std::string> names;
  {
    std::stringstream ss(line);
    std::string name;
    while (std::getline(ss, name, ',')) names.push_back(name);
  }
  REQUIRE(names.size() > 1);
  REQUIRE(names[0] == "date");
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string field;
    size_t j = 0;
    while (std::getline(ss, field, ',')) {
      REQUIRE(j < names.size());
      if (j == 0) {
        f.dates.push_back(field);
      } else if (field == "NA") {
        f.columns[names[j]].push_back(kNaN);
      } else {
        double v = 0;
        auto res = std::from_chars(field.data(), field.data() + field.size(), v);
        REQUIRE(res.ec == std::errc());
        f.columns[names[j]].push_back(v);
      }
      ++j;
    }
    REQUIRE(j == names.size());
  }
  return f;
}

const Fixture& TtrFixture() {
  static const Fixture f = LoadFixture();
  return f;
}

const Bars& Ttrc() {
  static const Bars b = [] {
    auto r = LoadBarsCsv(std::string(EVOLVE_EXAMPLES_DATA_DIR) + "/ttrc.csv", "TTRC");
    REQUIRE(r.ok());
    return *r;
  }();
  return b;
}

// "" when `ours` matches the reference column, else the first mismatch.
std::string Compare(const std::string& name, const Series& ours) {
  const auto& cols = TtrFixture().columns;
  auto it = cols.find(name);
  if (it == cols.end()) return "no fixture column " + name;
  const Series& ref = it->second;
  if (ours.size() != ref.size()) {
    return name + ": " + std::to_string(ours.size()) + " values, fixture has " + std::to_string(ref.size());
  }
  double largest = 0;
  for (double v : ref) {
    if (!std::isnan(v)) largest = std::max(largest, std::fabs(v));
  }
  const double abs_floor = kAbsFloorOfMax * largest;
  size_t compared = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const bool ours_nan = std::isnan(ours[i]), ref_nan = std::isnan(ref[i]);
    std::ostringstream msg;
    msg.precision(17);
    if (ours_nan != ref_nan) {
      msg << name << " at " << TtrFixture().dates[i] << " (row " << i << "): ours " << ours[i] << ", TTR "
          << ref[i];
      return msg.str();
    }
    if (ref_nan) continue;
    ++compared;
    if (std::fabs(ours[i] - ref[i]) > kRelTol * std::fabs(ref[i]) + abs_floor) {
      msg << name << " at " << TtrFixture().dates[i] << " (row " << i << "): ours " << ours[i] << ", TTR "
          << ref[i] << ", diff " << ours[i] - ref[i];
      return msg.str();
    }
  }
  if (compared < ref.size() / 2) return name + ": too few values compared";
  return "";
}

TEST_CASE("indicators: the fixture and the bars line up") {
  const Bars& b = Ttrc();
  REQUIRE(b.size() == 5550);
  REQUIRE(TtrFixture().dates.size() == b.size());
  CHECK(TtrFixture().dates.front() == FormatBarTime(b.time.front(), false));
  CHECK(TtrFixture().dates.back() == FormatBarTime(b.time.back(), false));
  CHECK(TtrFixture().columns.size() == 20);
}

TEST_CASE("indicators: moving averages and rolling statistics match TTR") {
  const Bars& b = Ttrc();
  CHECK(Compare("sma_20", Sma(b.close, 20)) == "");
  CHECK(Compare("ema_12", Ema(b.close, 12)) == "");
  CHECK(Compare("run_max_14_high", RollingMax(b.high, 14)) == "");
  CHECK(Compare("run_min_14_low", RollingMin(b.low, 14)) == "");
  CHECK(Compare("volatility_20", RollingStdev(LogReturn(b.close, 1), 20, /*sample=*/true)) == "");
  CHECK(Compare("return_z_score_20", RollingZScore(Roc(b.close, 1), 20, /*sample=*/true)) == "");
}

TEST_CASE("indicators: oscillators match TTR") {
  const Bars& b = Ttrc();
  CHECK(Compare("rsi_14", Rsi(b.close, 14)) == "");
  MacdSeries macd = Macd(b.close, 12, 26, 9);
  CHECK(Compare("macd_line", macd.line) == "");
  CHECK(Compare("macd_signal", macd.signal) == "");
  StochasticSeries st = Stochastic(b.high, b.low, b.close, 14, 3, 3);
  CHECK(Compare("stoch_fast_k", st.fast_k) == "");
  CHECK(Compare("stoch_slow_d", st.slow_d) == "");
  CHECK(Compare("wpr_14", WilliamsR(b.high, b.low, b.close, 14)) == "");
  CHECK(Compare("cci_20", Cci(b.high, b.low, b.close, 20)) == "");
}

TEST_CASE("indicators: bands, ranges, ADX, OBV and Parkinson match TTR") {
  const Bars& b = Ttrc();
  BBandsSeries bb = BBands(b.close, 20, 2.0);
  CHECK(Compare("bb_dn", bb.lower) == "");
  CHECK(Compare("bb_up", bb.upper) == "");
  CHECK(Compare("atr_14", Atr(b.high, b.low, b.close, 14)) == "");
  AdxSeries adx = Adx(b.high, b.low, b.close, 14);
  CHECK(Compare("adx_dip", adx.plus_di) == "");
  CHECK(Compare("adx_14", adx.adx) == "");
  CHECK(Compare("obv", Obv(b.close, b.volume)) == "");
  CHECK(Compare("parkinson_20", ParkinsonVolatility(b.high, b.low, 20)) == "");
}

TEST_CASE("indicators: a wrong implementation would fail the comparison") {
  // The comparison is not vacuous: sample instead of population stdev in the
  // bands, or a plain EMA instead of Wilder's in ATR, are caught.
  const Bars& b = Ttrc();
  Series sma = Sma(b.close, 20), sd = RollingStdev(b.close, 20, /*sample=*/true);
  Series wrong_upper(b.size());
  for (size_t i = 0; i < b.size(); ++i) wrong_upper[i] = sma[i] + 2 * sd[i];
  CHECK(Compare("bb_up", wrong_upper) != "");
  CHECK(Compare("atr_14", Ema(TrueRange(b.high, b.low, b.close), 14, /*wilder=*/false)) != "");
  Series shifted = Sma(b.close, 20);
  shifted[5000] *= 1 + 2e-9;
  CHECK(Compare("sma_20", shifted) != "");
}

TEST_CASE("indicators: simple transforms by hand") {
  const Series x = {10, 11, 12.1, 9.68, 9.68};
  Series mom = Momentum(x, 2);
  CHECK(std::isnan(mom[0]));
  CHECK(std::isnan(mom[1]));
  CHECK(mom[2] == doctest::Approx(2.1));
  CHECK(mom[4] == doctest::Approx(9.68 - 12.1));
  Series roc = Roc(x, 1);
  CHECK(std::isnan(roc[0]));
  CHECK(roc[1] == doctest::Approx(0.1));
  CHECK(roc[2] == doctest::Approx(0.1));
  CHECK(roc[3] == doctest::Approx(-0.2));
  CHECK(roc[4] == 0.0);
  Series lr = LogReturn(x, 1);
  CHECK(lr[1] == doctest::Approx(std::log(1.1)));
  CHECK(lr[4] == 0.0);

  const Series high = {10, 12, 11}, low = {9, 10, 8}, close = {9.5, 11.5, 10};
  Series tr = TrueRange(high, low, close);
  CHECK(std::isnan(tr[0]));
  CHECK(tr[1] == doctest::Approx(2.5));  // 12 - min(10, 9.5)
  CHECK(tr[2] == doctest::Approx(3.5));  // max(11, 11.5) - 8
}

TEST_CASE("indicators: EMA seeds with the mean of the first n values, after leading NaNs") {
  const Series x = {kNaN, kNaN, 1, 2, 3, 4, 5};
  Series e = Ema(x, 3);
  for (size_t i = 0; i < 4; ++i) CHECK(std::isnan(e[i]));
  CHECK(e[4] == doctest::Approx(2.0));                // mean(1, 2, 3)
  CHECK(e[5] == doctest::Approx(0.5 * 4 + 0.5 * 2));  // ratio 2 / (3 + 1)
  Series w = Ema(x, 3, /*wilder=*/true);
  CHECK(w[5] == doctest::Approx(4.0 / 3 + 2.0 * 2 / 3));
  Series s = Sma(x, 3);
  CHECK(std::isnan(s[3]));
  CHECK(s[4] == doctest::Approx(2.0));
  CHECK(s[6] == doctest::Approx(4.0));
}

TEST_CASE("indicators: windows longer than the series, and bad windows, give NaN") {
  const Series x = {1, 2, 3};
  for (const Series& s : {Sma(x, 4), Ema(x, 4), RollingStdev(x, 4, true), RollingMax(x, 4), Sma(x, 0),
                          Ema(x, -1), RollingMin(x, 0), Momentum(x, 3)}) {
    REQUIRE(s.size() == 3);
    for (double v : s) CHECK(std::isnan(v));
  }
  CHECK(Sma({}, 3).empty());
  CHECK(Rsi({}, 14).empty());
}

TEST_CASE("indicators: a NaN inside a window is undefined there and forgotten after") {
  Series x = {1, 2, 3, 4, kNaN, 6, 7, 8, 9, 10};
  Series s = Sma(x, 3);
  CHECK(s[3] == doctest::Approx(3.0));
  CHECK(std::isnan(s[4]));
  CHECK(std::isnan(s[5]));
  CHECK(std::isnan(s[6]));
  CHECK(s[7] == doctest::Approx(7.0));
  Series m = RollingMax(x, 3);
  CHECK(std::isnan(m[6]));
  CHECK(m[7] == 8.0);
  Series sd = RollingStdev(x, 3, true);
  CHECK(std::isnan(sd[6]));
  CHECK(sd[7] == doctest::Approx(1.0));
  CHECK(sd[9] == doctest::Approx(1.0));
  // Recursive smoothing cannot forget: NaN from there on.
  Series e = Ema(x, 2);
  CHECK_FALSE(std::isnan(e[3]));
  CHECK(std::isnan(e[9]));
}

TEST_CASE("indicators: a flat window has exactly zero spread") {
  Series x(50, 3.3);
  for (size_t i = 0; i < 10; ++i) x[i] = 3.3 + 0.01 * static_cast<double>(i % 3);
  Series sd = RollingStdev(x, 20, false);
  CHECK(sd[29] == 0.0);
  CHECK(sd[49] == 0.0);
  CHECK(sd[20] > 0.0);
  Series z = RollingZScore(x, 20);
  CHECK(std::isnan(z[49]));
  // A range of zero: the stochastic and %R take TTR's 0.5, not a division by zero.
  StochasticSeries st = Stochastic(x, x, x, 14, 3, 3);
  CHECK(st.fast_k[49] == 0.5);
  CHECK(WilliamsR(x, x, x, 14)[49] == 0.5);
  BBandsSeries bb = BBands(x, 20, 2);
  CHECK(std::isnan(bb.pct_b[49]));
  CHECK(bb.upper[49] == bb.lower[49]);
}

TEST_CASE("indicators: rolling stdev stays accurate far from zero over a million values") {
  // Values near 1e6 with spread ~1e-2: a plain running sum of squares loses
  // every digit here (1e12 squared sums, 1e-4 variance). Welford with periodic
  // recomputation must match an exact two-pass stdev to 1e-9 relative.
  const size_t n = 1'000'000, w = 20;
  Series x(n);
  uint64_t state = 12345;
  for (size_t i = 0; i < n; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    x[i] = 1e6 + static_cast<double>(state >> 11) * 0x1.0p-53 * 0.05;
  }
  Series sd = RollingStdev(x, static_cast<int>(w), true);
  double worst = 0;
  for (size_t i = w - 1; i < n; i += 997) {
    double mean = 0;
    for (size_t j = i + 1 - w; j <= i; ++j) mean += x[j];
    mean /= w;
    double m2 = 0;
    for (size_t j = i + 1 - w; j <= i; ++j) m2 += (x[j] - mean) * (x[j] - mean);
    const double exact = std::sqrt(m2 / (w - 1));
    worst = std::max(worst, std::fabs(sd[i] - exact) / exact);
  }
  CHECK(worst < 1e-9);
  // The naive formula on the same data, to show the test can fail.
  double s1 = 0, s2 = 0;
  for (size_t j = n - w; j < n; ++j) {
    s1 += x[j];
    s2 += x[j] * x[j];
  }
  const double naive = std::sqrt(std::max(0.0, (s2 - s1 * s1 / w) / (w - 1)));
  CHECK(std::fabs(naive - sd[n - 1]) / sd[n - 1] > 1e-6);
}

TEST_CASE("indicators: long running sums do not drift") {
  // A series whose level jumps by 1e8 and back: after the big values leave
  // the window, the sum of small values must be exact to 1e-9 relative.
  Series x(5000, 1.0);
  for (size_t i = 100; i < 200; ++i) x[i] = 1e8 + 0.1 * static_cast<double>(i);
  for (size_t i = 200; i < 5000; ++i) x[i] = 1e-3 * static_cast<double>(i % 7);
  Series s = RollingSum(x, 10);
  for (size_t i = 4000; i < 5000; ++i) {
    double exact = 0;
    for (size_t j = i - 9; j <= i; ++j) exact += x[j];
    REQUIRE(std::fabs(s[i] - exact) <= 1e-9 * std::fabs(exact) + 1e-15);
  }
}

TEST_CASE("indicators: RSI is 100 after only gains and 0 after only losses") {
  Series up(30), down(30);
  for (size_t i = 0; i < 30; ++i) {
    up[i] = 10 + static_cast<double>(i);
    down[i] = 50 - static_cast<double>(i);
  }
  Series r_up = Rsi(up, 14), r_down = Rsi(down, 14);
  CHECK(std::isnan(r_up[13]));
  CHECK(r_up[14] == doctest::Approx(100.0));
  CHECK(r_down[29] == doctest::Approx(0.0));
}

}  // namespace
}  // namespace evolve::engines
