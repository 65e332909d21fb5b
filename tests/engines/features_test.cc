// Feature columns: names, exact definitions (against the indicators and the
// TTR fixtures), warm-up lengths, no look-ahead, reference alignment and the
// planted synthetic signal showing up in `ibs`.
#include <doctest/doctest.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "evolve/engines/bars.h"
#include "evolve/engines/features.h"
#include "evolve/engines/synthetic.h"
#include "indicators.h"

namespace evolve::engines {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const Bars& Ttrc() {
  static const Bars b = [] {
    auto r = LoadBarsCsv(std::string(EVOLVE_EXAMPLES_DATA_DIR) + "/ttrc.csv", "TTRC");
    REQUIRE(r.ok());
    return *r;
  }();
  return b;
}

const FeatureFrame& TtrcFrame() {
  static const FeatureFrame f = [] {
    auto r = ComputeFeatures(Ttrc());
    REQUIRE(r.ok());
    return *r;
  }();
  return f;
}

const Series& Column(const FeatureFrame& f, const std::string& name) {
  const int j = f.Index(name);
  REQUIRE_MESSAGE(j >= 0, "no column " << name);
  return f.columns[static_cast<size_t>(j)];
}

// Equal as bits, NaN equal to NaN.
bool SameBits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b));
}

// "" when a and b agree to `rel` (and in NaN positions), else the first difference.
std::string Agree(const Series& a, const Series& b, double rel = 1e-12) {
  if (a.size() != b.size()) return "sizes differ";
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(b[i])) return "NaN differs at " + std::to_string(i);
    if (std::isnan(a[i])) continue;
    if (std::fabs(a[i] - b[i]) > rel * std::max(std::fabs(a[i]), std::fabs(b[i])) + 1e-300) {
      std::ostringstream msg;
      msg.precision(17);
      msg << "at " << i << ": " << a[i] << " vs " << b[i];
      return msg.str();
    }
  }
  return "";
}

Series Scaled(Series x, double k) {
  for (double& v : x) v *= k;
  return x;
}

// The first index with a value, or the size.
size_t FirstValue(const Series& x) {
  size_t i = 0;
  while (i < x.size() && std::isnan(x[i])) ++i;
  return i;
}

std::map<std::string, Series> LoadTtrColumns() {
  std::map<std::string, Series> cols;
  std::ifstream in(std::string(EVOLVE_TEST_FIXTURES_DIR) + "/ttr_reference.csv");
  REQUIRE(in.good());
  std::string line;
  std::getline(in, line);
  std::vector<std::string> names;
  std::stringstream header(line);
  for (std::string name; std::getline(header, name, ',');) names.push_back(name);
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    size_t j = 0;
    for (std::string field; std::getline(ss, field, ','); ++j) {
      if (j == 0) continue;
      double v = kNaN;
      if (field != "NA") std::from_chars(field.data(), field.data() + field.size(), v);
      cols[names[j]].push_back(v);
    }
  }
  return cols;
}

TEST_CASE("features: names are complete, unique and include the seed's") {
  const std::vector<std::string> names = FeatureNames({});
  CHECK(names == OwnFeatureNames());
  CHECK(names.size() >= 30);
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
  for (const char* required :
       {"sma_20", "rsi_14", "macd_line", "macd_signal", "macd_hist", "ema_12", "ema_26", "bb_upper_20_2",
        "bb_lower_20_2", "atr_14", "return_1", "log_return_1", "return_z_score_20", "vol_z_score_20",
        "parkinson_vol_20", "ibs", "day_of_week"}) {
    CAPTURE(required);
    CHECK(std::find(names.begin(), names.end(), required) != names.end());
  }
  const std::vector<std::string> with_refs = FeatureNames({"SPY", "^Vix"});
  REQUIRE(with_refs.size() == names.size() + 10);
  CHECK(with_refs[names.size()] == "spy_return_1");
  CHECK(with_refs[names.size() + 4] == "spy_return_z_score_20");
  CHECK(with_refs[names.size() + 5] == "^vix_return_1");
  CHECK(with_refs.back() == "^vix_return_z_score_20");
}

TEST_CASE("features: the frame has every column, finite or NaN, NaN only in warm-up") {
  const FeatureFrame& f = TtrcFrame();
  const Bars& b = Ttrc();
  CHECK(f.names == FeatureNames({}));
  REQUIRE(f.columns.size() == f.names.size());
  CHECK(f.time == b.time);
  CHECK(f.rows() == b.size());
  CHECK(f.Index("sma_20") == 0);
  CHECK(f.Index("nope") == -1);
  for (size_t j = 0; j < f.columns.size(); ++j) {
    CAPTURE(f.names[j]);
    REQUIRE(f.columns[j].size() == b.size());
    const size_t first = FirstValue(f.columns[j]);
    CHECK(first < 200);
    for (size_t i = first; i < b.size(); ++i) REQUIRE(std::isfinite(f.columns[j][i]));
  }
}

TEST_CASE("features: warm-up lengths are as documented") {
  // docs/features.md: the first bar (0-based) with a value for each column.
  const std::map<std::string, size_t> first = {
      {"sma_20", 19},
      {"sma_50", 49},
      {"sma_200", 199},
      {"ema_12", 11},
      {"ema_26", 25},
      {"ema_50", 49},
      {"macd_line", 25},
      {"macd_signal", 33},
      {"macd_hist", 33},
      {"bb_upper_20_2", 19},
      {"bb_lower_20_2", 19},
      {"bb_width_20_2", 19},
      {"bb_pct_b_20_2", 19},
      {"atr_14", 14},
      {"atr_pct_14", 14},
      {"rsi_14", 14},
      {"rsi_7", 7},
      {"roc_10", 10},
      {"momentum_10", 10},
      {"stoch_k_14", 13},
      {"stoch_d_3", 15},
      {"stoch_slow_d_3", 17},
      {"williams_r_14", 13},
      {"cci_20", 19},
      {"adx_14", 27},
      {"plus_di_14", 14},
      {"minus_di_14", 14},
      {"obv_z_score_20", 19},
      {"return_1", 1},
      {"return_5", 5},
      {"return_20", 20},
      {"log_return_1", 1},
      {"log_return_5", 5},
      {"volatility_20", 20},
      {"return_z_score_20", 20},
      {"vol_z_score_20", 19},
      {"parkinson_vol_20", 19},
      {"ibs", 0},
      {"close_to_sma_20", 19},
      {"close_to_sma_50", 49},
      {"high_low_range", 0},
      {"gap", 1},
      {"volume_ratio_20", 19},
      {"day_of_week", 0},
      {"hour_of_day", 0},
      {"month", 0},
  };
  const FeatureFrame& f = TtrcFrame();
  CHECK(first.size() == f.names.size());
  for (const std::string& name : f.names) {
    CAPTURE(name);
    REQUIRE(first.count(name) == 1);
    CHECK(FirstValue(Column(f, name)) == first.at(name));
  }
}

TEST_CASE("features: indicator columns match TTR's values") {
  const FeatureFrame& f = TtrcFrame();
  const auto ttr = LoadTtrColumns();
  const double rel = 1e-9;
  CHECK(Agree(Column(f, "sma_20"), ttr.at("sma_20"), rel) == "");
  CHECK(Agree(Column(f, "ema_12"), ttr.at("ema_12"), rel) == "");
  CHECK(Agree(Column(f, "rsi_14"), ttr.at("rsi_14"), rel) == "");
  CHECK(Agree(Column(f, "macd_line"), ttr.at("macd_line"), rel) == "");
  CHECK(Agree(Column(f, "macd_signal"), ttr.at("macd_signal"), rel) == "");
  CHECK(Agree(Column(f, "bb_upper_20_2"), ttr.at("bb_up"), rel) == "");
  CHECK(Agree(Column(f, "bb_lower_20_2"), ttr.at("bb_dn"), rel) == "");
  CHECK(Agree(Column(f, "atr_14"), ttr.at("atr_14"), rel) == "");
  CHECK(Agree(Column(f, "adx_14"), ttr.at("adx_14"), rel) == "");
  CHECK(Agree(Column(f, "plus_di_14"), ttr.at("adx_dip"), rel) == "");
  CHECK(Agree(Column(f, "parkinson_vol_20"), ttr.at("parkinson_20"), rel) == "");
  CHECK(Agree(Column(f, "volatility_20"), ttr.at("volatility_20"), rel) == "");
  CHECK(Agree(Column(f, "stoch_k_14"), Scaled(ttr.at("stoch_fast_k"), 100), rel) == "");
  CHECK(Agree(Column(f, "stoch_slow_d_3"), Scaled(ttr.at("stoch_slow_d"), 100), rel) == "");
  CHECK(Agree(Column(f, "williams_r_14"), Scaled(ttr.at("wpr_14"), -100), rel) == "");
}

TEST_CASE("features: every column is its documented definition") {
  const FeatureFrame& f = TtrcFrame();
  const Bars& b = Ttrc();
  const Series &o = b.open, &h = b.high, &l = b.low, &c = b.close, &v = b.volume;
  const size_t n = b.size();
  CHECK(Agree(Column(f, "sma_50"), Sma(c, 50)) == "");
  CHECK(Agree(Column(f, "sma_200"), Sma(c, 200)) == "");
  CHECK(Agree(Column(f, "ema_26"), Ema(c, 26)) == "");
  CHECK(Agree(Column(f, "ema_50"), Ema(c, 50)) == "");
  CHECK(Agree(Column(f, "macd_hist"), Macd(c).hist) == "");
  CHECK(Agree(Column(f, "rsi_7"), Rsi(c, 7)) == "");
  CHECK(Agree(Column(f, "roc_10"), Roc(c, 10)) == "");
  CHECK(Agree(Column(f, "momentum_10"), Momentum(c, 10)) == "");
  CHECK(Agree(Column(f, "stoch_d_3"), Scaled(Stochastic(h, l, c).fast_d, 100)) == "");
  CHECK(Agree(Column(f, "cci_20"), Cci(h, l, c, 20)) == "");
  CHECK(Agree(Column(f, "minus_di_14"), Adx(h, l, c, 14).minus_di) == "");
  CHECK(Agree(Column(f, "obv_z_score_20"), RollingZScore(Obv(c, v), 20, true)) == "");
  CHECK(Agree(Column(f, "return_5"), Roc(c, 5)) == "");
  CHECK(Agree(Column(f, "return_20"), Roc(c, 20)) == "");
  CHECK(Agree(Column(f, "log_return_5"), LogReturn(c, 5)) == "");
  CHECK(Agree(Column(f, "return_z_score_20"), RollingZScore(Roc(c, 1), 20, true)) == "");
  CHECK(Agree(Column(f, "vol_z_score_20"), RollingZScore(v, 20, true)) == "");
  const BBandsSeries bb = BBands(c, 20, 2);
  const Series atr = Atr(h, l, c, 14), sma20 = Sma(c, 20), sma50 = Sma(c, 50), vsma = Sma(v, 20);
  Series width(n), pct_b = bb.pct_b, atr_pct(n), ret1(n, kNaN), logret1(n, kNaN), ibs(n), c2s20(n), c2s50(n),
                   range(n), gap(n, kNaN), vratio(n), dow(n), hour(n), month(n);
  for (size_t i = 0; i < n; ++i) {
    width[i] = (bb.upper[i] - bb.lower[i]) / bb.middle[i];
    atr_pct[i] = atr[i] / c[i];
    if (i > 0) {
      ret1[i] = c[i] / c[i - 1] - 1;
      logret1[i] = std::log(c[i] / c[i - 1]);
      gap[i] = o[i] / c[i - 1] - 1;
    }
    ibs[i] = h[i] > l[i] ? (c[i] - l[i]) / (h[i] - l[i]) : 0.5;
    c2s20[i] = c[i] / sma20[i] - 1;
    c2s50[i] = c[i] / sma50[i] - 1;
    range[i] = (h[i] - l[i]) / c[i];
    vratio[i] = v[i] / vsma[i];
    const CivilTime t = ToCivilTime(b.time[i]);
    dow[i] = t.day_of_week;
    hour[i] = t.hour;
    month[i] = t.month;
  }
  CHECK(Agree(Column(f, "bb_width_20_2"), width) == "");
  CHECK(Agree(Column(f, "bb_pct_b_20_2"), pct_b) == "");
  CHECK(Agree(Column(f, "atr_pct_14"), atr_pct) == "");
  CHECK(Agree(Column(f, "return_1"), ret1) == "");
  CHECK(Agree(Column(f, "log_return_1"), logret1) == "");
  CHECK(Agree(Column(f, "gap"), gap) == "");
  CHECK(Agree(Column(f, "ibs"), ibs) == "");
  CHECK(Agree(Column(f, "close_to_sma_20"), c2s20) == "");
  CHECK(Agree(Column(f, "close_to_sma_50"), c2s50) == "");
  CHECK(Agree(Column(f, "high_low_range"), range) == "");
  CHECK(Agree(Column(f, "volume_ratio_20"), vratio) == "");
  CHECK(Agree(Column(f, "day_of_week"), dow) == "");
  CHECK(Agree(Column(f, "hour_of_day"), hour) == "");
  CHECK(Agree(Column(f, "month"), month) == "");
  // 1985-01-02 was a Wednesday; daily bars have hour 0.
  CHECK(Column(f, "day_of_week")[0] == 2);
  CHECK(Column(f, "month")[0] == 1);
  CHECK(Column(f, "hour_of_day")[100] == 0);
}

TEST_CASE("features: appending bars never changes earlier values") {
  SyntheticOptions opt;
  opt.symbols = {"AAA", "REF"};
  opt.bars = 6000;  // past several exact-recomputation blocks of the rolling statistics
  auto all = GenerateSyntheticBars(opt);
  const Bars& full = all.at("AAA");
  auto ref = std::make_shared<const Bars>(all.at("REF"));
  auto whole = ComputeFeatures(full, {ref});
  REQUIRE(whole.ok());
  for (size_t cut : {1u, 30u, 250u, 1023u, 1024u, 2049u, 5999u}) {
    Bars part = full;
    for (auto* col : {&part.open, &part.high, &part.low, &part.close, &part.volume}) col->resize(cut);
    part.time.resize(cut);
    auto prefix = ComputeFeatures(part, {ref});
    REQUIRE(prefix.ok());
    for (size_t j = 0; j < whole->columns.size(); ++j) {
      for (size_t i = 0; i < cut; ++i) {
        if (!SameBits(prefix->columns[j][i], whole->columns[j][i])) {
          FAIL("column " << whole->names[j] << " at bar " << i << " changed when bars after " << cut
                         << " were added");
        }
      }
    }
  }
  // Nor does the future of a reference change the aligned past.
  Bars ref_part = *ref;
  for (auto* col : {&ref_part.open, &ref_part.high, &ref_part.low, &ref_part.close, &ref_part.volume}) {
    col->resize(3000);
  }
  ref_part.time.resize(3000);
  auto truncated_ref = ComputeFeatures(full, {std::make_shared<const Bars>(ref_part)});
  REQUIRE(truncated_ref.ok());
  for (size_t j = 0; j < whole->columns.size(); ++j) {
    size_t differ = 0;
    for (size_t i = 0; i < 3000; ++i) differ += !SameBits(truncated_ref->columns[j][i], whole->columns[j][i]);
    CAPTURE(whole->names[j]);
    CHECK(differ == 0);
  }
}

TEST_CASE("features: long series (two threads) agree with short ones (one thread) and the definitions") {
  // 100,000 bars and more are split over two threads; the values must not
  // depend on that: a prefix below the threshold gives the same bits.
  SyntheticOptions opt;
  opt.intraday = true;
  opt.bars = 150'000;
  opt.signal_strength = 0.3;
  const Bars full = GenerateSyntheticBars(opt).at("SYN");
  auto whole = ComputeFeatures(full);
  REQUIRE(whole.ok());
  Bars part = full;
  const size_t cut = 60'000;
  for (auto* col : {&part.open, &part.high, &part.low, &part.close, &part.volume}) col->resize(cut);
  part.time.resize(cut);
  auto prefix = ComputeFeatures(part);
  REQUIRE(prefix.ok());
  for (size_t j = 0; j < whole->columns.size(); ++j) {
    size_t differ = 0;
    for (size_t i = 0; i < cut; ++i) differ += !SameBits(prefix->columns[j][i], whole->columns[j][i]);
    CAPTURE(whole->names[j]);
    CHECK(differ == 0);
  }
  const Series &h = full.high, &l = full.low, &c = full.close, &v = full.volume;
  CHECK(Agree(Column(*whole, "cci_20"), Cci(h, l, c, 20), 0) == "");
  CHECK(Agree(Column(*whole, "adx_14"), Adx(h, l, c, 14).adx, 0) == "");
  CHECK(Agree(Column(*whole, "vol_z_score_20"), RollingZScore(v, 20, true), 0) == "");
  CHECK(Agree(Column(*whole, "williams_r_14"), Scaled(WilliamsR(h, l, c, 14), -100), 0) == "");
  CHECK(Agree(Column(*whole, "rsi_7"), Rsi(c, 7), 0) == "");
  CHECK(Agree(Column(*whole, "log_return_5"), LogReturn(c, 5), 0) == "");
  CHECK(Agree(Column(*whole, "parkinson_vol_20"), ParkinsonVolatility(h, l, 20), 0) == "");
}

Bars DailyBars(const std::string& symbol, const std::vector<std::string>& dates, double start) {
  Bars b;
  b.symbol = symbol;
  double price = start;
  for (const std::string& d : dates) {
    b.time.push_back(*ParseBarTime(d));
    b.open.push_back(price);
    b.high.push_back(price * 1.01);
    b.low.push_back(price * 0.99);
    price *= 1.001;
    b.close.push_back(price);
    b.volume.push_back(1000);
  }
  return b;
}

TEST_CASE("features: a window of rows and columns is the whole frame's, bit for bit") {
  // Would catch a window that computes from its first row (recursive states
  // restarted), an off-by-one at a 64-bar chunk's edge, a reference column
  // aligned from the window's start, or first_defined read from the rows kept.
  SyntheticOptions opt;
  opt.symbols = {"AAA", "REF"};
  opt.bars = 3000;
  auto all = GenerateSyntheticBars(opt);
  const Bars& bars = all.at("AAA");
  auto ref = std::make_shared<const Bars>(all.at("REF"));
  auto whole = ComputeFeatures(bars, {ref});
  REQUIRE(whole.ok());
  REQUIRE(whole->first_defined.size() == whole->names.size());
  CHECK(whole->first_row == 0);
  for (size_t j = 0; j < whole->names.size(); ++j) {
    const Series& c = whole->columns[j];
    const size_t first = static_cast<size_t>(
        std::find_if(c.begin(), c.end(), [](double v) { return std::isfinite(v); }) - c.begin());
    CHECK_MESSAGE(whole->first_defined[j] == first, whole->names[j]);
  }
  const std::vector<std::string> kept = {"ibs", "sma_200", "ref_rsi_14", "adx_14", "month"};
  for (auto [begin, end] : std::vector<std::pair<size_t, size_t>>{
           {0, 3000}, {1, 2}, {63, 65}, {64, 128}, {130, 2999}, {2500, 3000}, {3000, 3000}}) {
    CAPTURE(begin);
    CAPTURE(end);
    FeatureRequest request;
    request.begin = begin;
    request.end = end;
    request.columns = kept;
    auto window = ComputeFeatures(bars, {ref}, request);
    REQUIRE_MESSAGE(window.ok(), window.status().ToString());
    CHECK(window->first_row == begin);
    CHECK(window->rows() == end - begin);
    CHECK(window->names == whole->names);
    CHECK(window->first_defined == whole->first_defined);
    CHECK(window->time == std::vector<int64_t>(bars.time.begin() + static_cast<std::ptrdiff_t>(begin),
                                               bars.time.begin() + static_cast<std::ptrdiff_t>(end)));
    for (size_t j = 0; j < whole->names.size(); ++j) {
      const bool wanted = std::find(kept.begin(), kept.end(), whole->names[j]) != kept.end();
      CAPTURE(whole->names[j]);
      if (!wanted) {
        CHECK(window->columns[j].empty());
        continue;
      }
      REQUIRE(window->columns[j].size() == end - begin);
      for (size_t r = 0; r < end - begin; ++r) {
        if (!SameBits(window->columns[j][r], whole->columns[j][begin + r])) {
          FAIL_CHECK("row " << begin + r << " differs");
          break;
        }
      }
    }
  }
  FeatureRequest none;
  none.keep_none = true;
  auto warmup_only = ComputeFeatures(bars, {ref}, none);
  REQUIRE(warmup_only.ok());
  CHECK(warmup_only->first_defined == whole->first_defined);
  for (const Series& c : warmup_only->columns) CHECK(c.empty());

  FeatureRequest unknown;
  unknown.columns = {"ibs", "no_such_column"};
  auto refused = ComputeFeatures(bars, {ref}, unknown);
  CHECK(refused.status().code() == StatusCode::kInvalidArgument);
  CHECK(refused.status().message().find("no_such_column") != std::string::npos);
  FeatureRequest past;
  past.begin = 3001;
  CHECK(ComputeFeatures(bars, {ref}, past).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("features: references align on time, carry forward, never look ahead") {
  const Bars main =
      DailyBars("MAIN", {"2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08"}, 10);
  // The reference starts later, skips 2020-01-07 and has a bar MAIN lacks.
  const Bars ref =
      DailyBars("Ref", {"2020-01-03", "2020-01-04", "2020-01-06", "2020-01-08", "2020-01-09"}, 50);
  auto f = ComputeFeatures(main, {std::make_shared<const Bars>(ref)});
  REQUIRE(f.ok());
  const Series& r1 = Column(*f, "ref_return_1");
  const Series ref_ret = Roc(ref.close, 1);
  CHECK(std::isnan(r1[0]));            // before the reference starts
  CHECK(std::isnan(r1[1]));            // its first bar has no return yet
  CHECK(SameBits(r1[2], ref_ret[2]));  // 01-06 takes 01-06 (01-04 passed)
  CHECK(SameBits(r1[3], ref_ret[2]));  // 01-07 carries 01-06 forward
  CHECK(SameBits(r1[4], ref_ret[3]));  // 01-08 takes 01-08, never 01-09
  CHECK(Column(*f, "ref_rsi_14").size() == 5);

  // An intraday symbol sees a daily reference only once its day is over.
  Bars minute;
  minute.symbol = "MIN";
  minute.intraday = true;
  for (const char* t : {"2020-01-06 14:30", "2020-01-06 20:59", "2020-01-07 14:30"}) {
    minute.time.push_back(*ParseBarTime(t));
    for (auto* col : {&minute.open, &minute.high, &minute.low, &minute.close, &minute.volume})
      col->push_back(1);
  }
  auto g = ComputeFeatures(minute, {std::make_shared<const Bars>(ref)});
  REQUIRE(g.ok());
  const Series& lr = Column(*g, "ref_log_return_1");
  const Series ref_lr = LogReturn(ref.close, 1);
  CHECK(SameBits(lr[0], ref_lr[1]));  // during 01-06: the 01-04 bar, not 01-06's
  CHECK(SameBits(lr[1], ref_lr[1]));
  CHECK(SameBits(lr[2], ref_lr[2]));  // on 01-07: 01-06 is complete
}

TEST_CASE("features: bad input is rejected") {
  Bars ragged = Ttrc();
  ragged.close.pop_back();
  CHECK(ComputeFeatures(ragged).status().code() == StatusCode::kInvalidArgument);
  Bars unsorted = DailyBars("U", {"2020-01-03", "2020-01-02"}, 10);
  CHECK(ComputeFeatures(unsorted).status().code() == StatusCode::kInvalidArgument);
  auto ref = std::make_shared<const Bars>(DailyBars("SPY", {"2020-01-02"}, 10));
  auto ref_lower = std::make_shared<const Bars>(DailyBars("spy", {"2020-01-02"}, 10));
  CHECK(ComputeFeatures(Ttrc(), {ref, ref_lower}).status().code() == StatusCode::kInvalidArgument);
  CHECK(ComputeFeatures(Ttrc(), {nullptr}).status().code() == StatusCode::kInvalidArgument);
  for (double bad : {0.0, -1.0, kNaN, std::numeric_limits<double>::infinity()}) {
    Bars b = Ttrc();
    b.low[100] = bad;
    CHECK(ComputeFeatures(b).status().code() == StatusCode::kInvalidArgument);
  }
  Bars negative_volume = Ttrc();
  negative_volume.volume[7] = -1;
  CHECK(ComputeFeatures(negative_volume).status().code() == StatusCode::kInvalidArgument);
  Bars bad_reference = DailyBars("REF", {"2020-01-02", "2020-01-03"}, 10);
  bad_reference.close[1] = 0;
  CHECK(ComputeFeatures(Ttrc(), {std::make_shared<const Bars>(bad_reference)}).status().code() ==
        StatusCode::kInvalidArgument);
  Bars empty;
  auto none = ComputeFeatures(empty);
  REQUIRE(none.ok());
  CHECK(none->rows() == 0);
  CHECK(none->columns.size() == OwnFeatureNames().size());
}

TEST_CASE("features: intraday calendar columns") {
  SyntheticOptions opt;
  opt.intraday = true;
  opt.bars = 390 * 3;
  auto f = ComputeFeatures(GenerateSyntheticBars(opt).at("SYN"));
  REQUIRE(f.ok());
  const Series& hour = Column(*f, "hour_of_day");
  CHECK(hour[0] == 14);                        // 14:30 UTC
  CHECK(hour[30] == 15);                       // 15:00
  CHECK(hour[389] == 20);                      // 20:59
  CHECK(Column(*f, "day_of_week")[390] == 1);  // Tuesday
}

TEST_CASE("features: the planted synthetic signal is in ibs") {
  // The generator's signal: the next return falls with this bar's ibs.
  SyntheticOptions opt;
  opt.bars = 20000;
  opt.signal_strength = 0.5;
  auto f = ComputeFeatures(GenerateSyntheticBars(opt).at("SYN"));
  REQUIRE(f.ok());
  const Series& ibs = Column(*f, "ibs");
  const Series& ret = Column(*f, "log_return_1");
  double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, k = 0;
  for (size_t i = 0; i + 1 < ibs.size(); ++i) {
    const double x = ibs[i], y = ret[i + 1];
    sx += x;
    sy += y;
    sxx += x * x;
    syy += y * y;
    sxy += x * y;
    k += 1;
  }
  const double corr = (sxy - sx * sy / k) / std::sqrt((sxx - sx * sx / k) * (syy - sy * sy / k));
  CAPTURE(corr);
  CHECK(corr < -0.1);
}

}  // namespace
}  // namespace evolve::engines
