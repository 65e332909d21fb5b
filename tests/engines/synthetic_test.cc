// The synthetic bar generator: determinism, calendar, OHLC consistency,
// correlation, volatility regimes and the exact planted-signal formula.
#include <doctest/doctest.h>

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "evolve/engines/bars.h"
#include "evolve/engines/synthetic.h"
#include "indicators.h"

namespace evolve::engines {
namespace {

Series LogReturns(const Bars& b) {
  Series r;
  for (size_t i = 1; i < b.size(); ++i) r.push_back(std::log(b.close[i] / b.close[i - 1]));
  return r;
}

double Mean(const Series& x) {
  return std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
}

double Stdev(const Series& x) {
  const double m = Mean(x);
  double s = 0;
  for (double v : x) s += (v - m) * (v - m);
  return std::sqrt(s / static_cast<double>(x.size() - 1));
}

double Correlation(const Series& a, const Series& b) {
  const double ma = Mean(a), mb = Mean(b);
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

TEST_CASE("synthetic: the same seed gives the same bars, another seed others") {
  SyntheticOptions opt;
  opt.symbols = {"AAA", "BBB"};
  opt.bars = 3000;
  auto a = GenerateSyntheticBars(opt);
  auto b = GenerateSyntheticBars(opt);
  REQUIRE(a.size() == 2);
  for (const char* s : {"AAA", "BBB"}) {
    CHECK(a.at(s).close == b.at(s).close);
    CHECK(a.at(s).high == b.at(s).high);
    CHECK(a.at(s).volume == b.at(s).volume);
    CHECK(a.at(s).time == b.at(s).time);
  }
  opt.seed = 2;
  auto c = GenerateSyntheticBars(opt);
  CHECK(c.at("AAA").close != a.at("AAA").close);
  // Pinned values: a change of generator is a visible, deliberate change.
  SyntheticOptions pinned;
  pinned.bars = 3;
  const Bars p = GenerateSyntheticBars(pinned).at("SYN");
  CHECK(p.open[0] == 100.0);
  CHECK(p.time[0] == DaysFromCivil(2000, 1, 3) * 86400);
  // Prices are on a 1e-4 grid, so these hold to the last digit wherever
  // log/exp are faithfully rounded.
  CHECK(p.close[0] == doctest::Approx(101.5922).epsilon(1e-12));
  CHECK(p.high[0] == doctest::Approx(102.5668).epsilon(1e-12));
  CHECK(p.low[0] == doctest::Approx(99.7811).epsilon(1e-12));
  CHECK(p.open[1] == doctest::Approx(101.6146).epsilon(1e-12));
  CHECK(p.close[2] == doctest::Approx(101.2985).epsilon(1e-12));
  CHECK(p.volume[2] == 860974);
}

TEST_CASE("synthetic: daily bars on weekdays at midnight, consistent OHLC") {
  SyntheticOptions opt;
  opt.symbols = {"AAA", "BBB", "CCC"};
  opt.bars = 5000;
  opt.vol_stressed = 0.06;
  auto all = GenerateSyntheticBars(opt);
  REQUIRE(all.size() == 3);
  const std::vector<int64_t>& times = all.at("AAA").time;
  for (const auto& [symbol, b] : all) {
    CAPTURE(symbol);
    CHECK(b.symbol == symbol);
    CHECK_FALSE(b.intraday);
    REQUIRE(b.size() == 5000);
    CHECK(b.time == times);
    for (size_t i = 0; i < b.size(); ++i) {
      REQUIRE(b.low[i] > 0);
      REQUIRE(b.low[i] <= b.open[i]);
      REQUIRE(b.low[i] <= b.close[i]);
      REQUIRE(b.open[i] <= b.high[i]);
      REQUIRE(b.close[i] <= b.high[i]);
      REQUIRE(b.volume[i] >= 1);
      REQUIRE(b.time[i] % 86400 == 0);
      REQUIRE(ToCivilTime(b.time[i]).day_of_week < 5);
      if (i > 0) REQUIRE(b.time[i] > b.time[i - 1]);
    }
  }
  CHECK(all.at("BBB").open[0] == doctest::Approx(110.0));  // start_price * (1 + 0.1 k)
  // Monday to Friday with no gaps: at most 3 days between consecutive bars.
  for (size_t i = 1; i < times.size(); ++i) REQUIRE((times[i] - times[i - 1]) / 86400 <= 3);
}

TEST_CASE("synthetic: intraday bars are 390-minute weekday sessions from 14:30 UTC") {
  SyntheticOptions opt;
  opt.intraday = true;
  opt.bars = 390 * 7 + 10;
  const Bars b = GenerateSyntheticBars(opt).at("SYN");
  CHECK(b.intraday);
  for (size_t i = 0; i < b.size(); ++i) {
    const CivilTime c = ToCivilTime(b.time[i]);
    const int minute_of_session = (c.hour * 60 + c.minute) - (14 * 60 + 30);
    REQUIRE(minute_of_session == static_cast<int>(i % 390));
    REQUIRE(c.day_of_week < 5);
  }
  CHECK(ToCivilTime(b.time[0]).day == 3);         // Monday 2000-01-03
  CHECK(ToCivilTime(b.time[390 * 5]).day == 10);  // the next Monday
  // Per-minute volatility is scaled by 1/sqrt(390).
  opt.bars = 390 * 200;
  opt.regime_persistence = 1.0;  // stays calm
  const Series r = LogReturns(GenerateSyntheticBars(opt).at("SYN"));
  CHECK(Stdev(r) == doctest::Approx(0.01 / std::sqrt(390.0)).epsilon(0.05));
}

TEST_CASE("synthetic: returns are correlated as asked") {
  SyntheticOptions opt;
  opt.symbols = {"AAA", "BBB"};
  opt.bars = 20000;
  auto all = GenerateSyntheticBars(opt);
  // Tick rounding and the open gap add a little noise; 0.6 +- 0.03.
  CHECK(Correlation(LogReturns(all.at("AAA")), LogReturns(all.at("BBB"))) ==
        doctest::Approx(0.6).epsilon(0.05));
  opt.correlation = 0.0;
  all = GenerateSyntheticBars(opt);
  CHECK(std::fabs(Correlation(LogReturns(all.at("AAA")), LogReturns(all.at("BBB")))) < 0.03);
}

TEST_CASE("synthetic: volatility regimes are shared, persistent and visible in returns") {
  SyntheticOptions opt;
  opt.symbols = {"AAA", "BBB"};
  opt.bars = 50000;
  const std::vector<int> regimes = SyntheticRegimes(opt);
  REQUIRE(regimes.size() == opt.bars);
  CHECK(regimes[0] == 0);
  size_t switches = 0, stressed = 0;
  for (size_t i = 1; i < regimes.size(); ++i) switches += regimes[i] != regimes[i - 1];
  for (int r : regimes) stressed += r == 1;
  // P(switch) = 1 - 0.99: about 500 switches; about half the time stressed.
  CHECK(switches > 350);
  CHECK(switches < 650);
  CHECK(static_cast<double>(stressed) / regimes.size() == doctest::Approx(0.5).epsilon(0.3));
  auto all = GenerateSyntheticBars(opt);
  for (const char* symbol : {"AAA", "BBB"}) {
    const Series r = LogReturns(all.at(symbol));
    Series calm, stress;
    for (size_t i = 0; i < r.size(); ++i) (regimes[i + 1] == 1 ? stress : calm).push_back(r[i]);
    CHECK(Stdev(calm) == doctest::Approx(0.01).epsilon(0.05));
    CHECK(Stdev(stress) == doctest::Approx(0.03).epsilon(0.05));
  }
}

TEST_CASE("synthetic: the planted signal is exactly the documented formula") {
  // Same seed with and without the signal: the random draws are the same, so
  // the log returns differ by exactly m_t = -s * sigma_{t-1} * (2 ibs_{t-1} - 1)
  // of the signal run (up to the 4-decimal price rounding of both runs).
  SyntheticOptions opt;
  opt.symbols = {"SIG", "OTHER"};
  opt.bars = 5000;
  SyntheticOptions planted = opt;
  planted.signal_strength = 0.8;
  auto base = GenerateSyntheticBars(opt);
  auto sig = GenerateSyntheticBars(planted);
  const std::vector<int> regimes = SyntheticRegimes(planted);
  const Bars& s = sig.at("SIG");
  const Bars& b = base.at("SIG");
  double worst = 0;
  for (size_t t = 1; t < s.size(); ++t) {
    const double range = s.high[t - 1] - s.low[t - 1];
    const double ibs = range > 0 ? (s.close[t - 1] - s.low[t - 1]) / range : 0.5;
    const double sigma = regimes[t - 1] == 1 ? 0.03 : 0.01;
    const double m = -0.8 * sigma * (2 * ibs - 1);
    const double diff = std::log(s.close[t] / s.close[t - 1]) - std::log(b.close[t] / b.close[t - 1]);
    worst = std::max(worst, std::fabs(diff - m));
  }
  CHECK(worst < 1e-5);
  // Only the first symbol carries it.
  CHECK(sig.at("OTHER").close == base.at("OTHER").close);
}

TEST_CASE("synthetic: ibs predicts the next return of the first symbol only") {
  SyntheticOptions opt;
  opt.symbols = {"SIG", "OTHER"};
  opt.bars = 20000;
  opt.signal_strength = 0.5;
  auto all = GenerateSyntheticBars(opt);
  for (const char* symbol : {"SIG", "OTHER"}) {
    const Bars& b = all.at(symbol);
    Series ibs, next;
    for (size_t t = 0; t + 1 < b.size(); ++t) {
      ibs.push_back((b.close[t] - b.low[t]) / (b.high[t] - b.low[t]));
      next.push_back(std::log(b.close[t + 1] / b.close[t]));
    }
    const double corr = Correlation(ibs, next);
    CAPTURE(symbol);
    CAPTURE(corr);
    if (std::string(symbol) == "SIG") {
      CHECK(corr < -0.1);
    } else {
      CHECK(std::fabs(corr) < 0.03);
    }
  }
}

TEST_CASE("synthetic: degenerate options") {
  SyntheticOptions opt;
  opt.symbols = {};
  CHECK(GenerateSyntheticBars(opt).empty());
  opt.symbols = {"A", "A", "B"};
  opt.bars = 10;
  auto all = GenerateSyntheticBars(opt);
  CHECK(all.size() == 2);
  opt.bars = 0;
  CHECK(GenerateSyntheticBars(opt).at("A").size() == 0);
  opt.bars = 100;
  opt.correlation = 3.0;  // clamped to 1: identical shocks
  all = GenerateSyntheticBars(opt);
  CHECK(Correlation(LogReturns(all.at("A")), LogReturns(all.at("B"))) > 0.95);
}

}  // namespace
}  // namespace evolve::engines
