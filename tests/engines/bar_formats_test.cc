// The bar files quants export, read as the plain CSV of the same bars
// (tests/engines/fixtures/csv, written by pandas, gzip and zstd:
// make_fixtures.py). Each case would catch a vendor's layout refused, or
// read into other bars than its plain equivalent: another time, a price
// from the wrong column, a lost row.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "engines/scratch_dir.h"
#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"

namespace evolve::engines {
namespace {

const std::string kCsvDir = std::string(EVOLVE_TEST_FIXTURES_DIR) + "/csv/";

Bars Plain(const std::string& name, const std::string& symbol) {
  auto bars = LoadBarsCsv(kCsvDir + name, symbol);
  REQUIRE_MESSAGE(bars.ok(), bars.status().ToString());
  return *bars;
}

std::vector<Bars> Read(const std::string& name, const BarFormat& format = {}) {
  BarReport report;
  auto bars = ReadBarsFile(kCsvDir + name, format, &report);
  REQUIRE_MESSAGE(bars.ok(), bars.status().ToString());
  CHECK(report.refused == 0);
  return *bars;
}

void CopyFile(const std::string& from, const std::filesystem::path& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

void CheckSame(const Bars& got, const Bars& want) {
  CHECK(got.time == want.time);
  CHECK(got.open == want.open);
  CHECK(got.high == want.high);
  CHECK(got.low == want.low);
  CHECK(got.close == want.close);
  CHECK(got.volume == want.volume);
  CHECK(got.intraday == want.intraday);
  CHECK(got.bar_seconds == want.bar_seconds);
}

TEST_CASE("bar formats: the plain equivalents are daily and one-minute bars") {
  const Bars daily = Plain("daily.csv", "D");
  CHECK(daily.size() == 30);
  CHECK_FALSE(daily.intraday);
  CHECK(daily.bar_seconds == 86400);
  CHECK(TimeframeLabel(daily.bar_seconds) == "1d");
  const Bars minute = Plain("minute.csv", "M");
  CHECK(minute.size() == 40);
  CHECK(minute.intraday);
  CHECK(TimeframeLabel(minute.bar_seconds) == "1m");
}

TEST_CASE("bar formats: yfinance's three-row header and its Ticker.history offsets") {
  const Bars daily = Plain("daily.csv", "AAPL");
  auto download = Read("yfinance_download.csv");
  REQUIRE(download.size() == 1);
  CheckSame(download[0], daily);
  auto history = Read("yfinance_history.csv");
  REQUIRE(history.size() == 1);
  CheckSame(history[0], daily);  // daily bars of the written dates, not 05:00 UTC

  // --adjusted takes Adj Close, scaling open, high and low alike.
  BarFormat adjusted;
  adjusted.adjusted = true;
  auto adj = Read("yfinance_download.csv", adjusted);
  const Bars want = Plain("daily_adjusted.csv", "AAPL");
  REQUIRE(adj[0].size() == want.size());
  CHECK(adj[0].close == want.close);
  for (size_t i = 0; i < want.size(); ++i) {
    CHECK(adj[0].open[i] == doctest::Approx(want.open[i]).epsilon(1e-4));
    CHECK(adj[0].high[i] == doctest::Approx(want.high[i]).epsilon(1e-4));
    CHECK(adj[0].low[i] == doctest::Approx(want.low[i]).epsilon(1e-4));
    CHECK(adj[0].volume[i] == daily.volume[i]);
  }
  // A file without an adjusted close refuses --adjusted, saying so.
  BarReport report;
  auto none = ReadBarsFile(kCsvDir + "daily.csv", adjusted, &report);
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message().find("--adjusted needs an adjusted close column") != std::string::npos);
}

TEST_CASE("bar formats: dates with the year last need their order, then read as the plain file") {
  const Bars daily = Plain("daily.csv", "X");
  BarReport report;
  auto refused = ReadBarsFile(kCsvDir + "us_dates.csv", BarFormat{}, &report);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("--date-order mdy or --date-order dmy") != std::string::npos);
  BarFormat us;
  us.date_order = "mdy";
  CheckSame(Read("us_dates.csv", us)[0], daily);
  BarFormat european;
  european.date_order = "dmy";
  CheckSame(Read("european_semicolon.csv", european)[0], daily);
  // The wrong order is caught where a day is past 12, not read as other dates.
  auto wrong = ReadBarsFile(kCsvDir + "european_semicolon.csv", us, &report);
  REQUIRE_FALSE(wrong.ok());
  CAPTURE(wrong.status().message());
  CHECK(wrong.status().message().find("month out of range") != std::string::npos);
}

TEST_CASE("bar formats: pandas' unnamed index, Polygon's milliseconds, MetaTrader's brackets") {
  CheckSame(Read("pandas_unnamed_index.csv")[0], Plain("daily.csv", "X"));
  const Bars minute = Plain("minute.csv", "X");
  auto polygon = Read("polygon_ms.csv");
  CheckSame(polygon[0], minute);
  REQUIRE(polygon[0].vwap.size() == minute.size());
  REQUIRE(polygon[0].trade_count.size() == minute.size());
  CHECK(polygon[0].trade_count[0] >= 10);
  // <VOL> is 0 (a currency pair): the volume is <TICKVOL>.
  CheckSame(Read("metatrader.csv")[0], minute);
}

TEST_CASE("bar formats: gzip and zstd files read as the plain file, whatever their name says") {
  const Bars minute = Plain("minute.csv", "MINUTE");
  CheckSame(Read("minute.csv.gz")[0], minute);
  CheckSame(Read("minute.csv.zst")[0], minute);
}

TEST_CASE("bar formats: one long file of many symbols (alpaca-py) is every symbol's bars") {
  auto bars = Read("alpaca_long.csv");
  REQUIRE(bars.size() == 2);
  CHECK(bars[0].symbol == "AAPL");
  CHECK(bars[1].symbol == "MSFT");
  CheckSame(bars[0], Plain("minute.csv", "AAPL"));
  CheckSame(bars[1], Plain("minute_msft.csv", "MSFT"));
  CHECK(bars[0].vwap.size() == 40);
  CHECK(bars[0].trade_count.size() == 40);

  // In a directory, each symbol of the long file is a symbol of the source.
  TempDir dir;
  CopyFile(kCsvDir + "alpaca_long.csv", dir.path / "bars.csv");
  CopyFile(kCsvDir + "daily.csv", dir.path / "spy.csv");
  BarSource source(dir.path.string());
  auto symbols = source.Symbols();
  REQUIRE_MESSAGE(symbols.ok(), symbols.status().ToString());
  CHECK(*symbols == std::vector<std::string>{"AAPL", "MSFT", "SPY"});
  auto msft = source.Load("msft");
  REQUIRE(msft.ok());
  CheckSame(**msft, Plain("minute_msft.csv", "MSFT"));
  // A symbol in two places is refused, naming both.
  CopyFile(kCsvDir + "minute.csv", dir.path / "AAPL.csv");
  CHECK(source.Symbols().status().message() ==
        "bar directory " + dir.path.string() + ": AAPL.csv and bars.csv both hold symbol AAPL");
}

TEST_CASE("bar formats: refused rows are counted by kind, and dropped only when asked") {
  // Would catch a file refused on its first bad row only, or rows dropped
  // without a count.
  const std::string text =
      "Date,Open,High,Low,Close,Volume\n"
      "2020-01-02,10,11,9,10.5,100\n"
      "2020-01-03,10,8,9,8.5,100\n"
      "2020-01-06,10,11,9,10.5,-1\n"
      "2020-01-07,10,11,9,10.5,100\n"
      "2020-01-08,10,7,9,8.5,100\n";
  BarReport report;
  auto strict = ParseBarsCsvFile(text, "X", "x.csv", BarFormat{}, &report);
  REQUIRE_FALSE(strict.ok());
  CHECK(strict.status().message() ==
        "x.csv:3: high 8 < low 9 (and 2 more refused rows; `evolve validate` lists every problem, "
        "--drop-bad-rows skips such rows)");
  REQUIRE(report.problems.size() == 2);
  CHECK(report.problems[0].kind == "high below low");
  CHECK(report.problems[0].count == 2);
  CHECK(report.problems[0].examples ==
        std::vector<std::string>{"x.csv:3: high 8 < low 9", "x.csv:6: high 7 < low 9"});
  CHECK(report.problems[1].kind == "negative volume");

  BarFormat drop;
  drop.drop_bad_rows = true;
  BarReport dropped;
  auto kept = ParseBarsCsvFile(text, "X", "x.csv", drop, &dropped);
  REQUIRE(kept.ok());
  REQUIRE(kept->size() == 1);
  CHECK((*kept)[0].size() == 2);
  CHECK((*kept)[0].dropped_rows == 3);
  CHECK(dropped.rows == 5);
  CHECK(dropped.refused == 3);
}

TEST_CASE("bar formats: the timeframe is the spacing that dominates") {
  auto spaced = [](std::vector<int64_t> gaps, int64_t start) {
    std::vector<int64_t> t = {start};
    for (int64_t g : gaps) t.push_back(t.back() + g);
    return t;
  };
  const int64_t day = 86400;
  // Minute bars over two sessions: the night between them does not count.
  std::vector<int64_t> gaps(389, 60);
  gaps.push_back(17 * 3600 + 60);
  gaps.insert(gaps.end(), 389, 60);
  CHECK(TimeframeLabel(InferBarSeconds(spaced(gaps, 0))) == "1m");
  CHECK(TimeframeLabel(InferBarSeconds(spaced({300, 300, 600, 300}, 0))) == "5m");
  CHECK(TimeframeLabel(InferBarSeconds(spaced({3600, 3600, 7200}, 0))) == "1h");
  CHECK(TimeframeLabel(InferBarSeconds(spaced({14400, 14400, 14400}, 0))) == "4h");
  // Daily bars with weekends: most gaps are one day.
  CHECK(TimeframeLabel(InferBarSeconds(spaced({day, day, day, day, 3 * day, day, day}, 0))) == "1d");
  CHECK(TimeframeLabel(InferBarSeconds(spaced({7 * day, 7 * day, 14 * day}, 0))) == "1w");
  CHECK(InferBarSeconds({5}) == 0);
  CHECK(TimeframeSeconds("15m") == 900);
  CHECK(TimeframeSeconds("1w") == 7 * day);
  CHECK(TimeframeSeconds("0m") == 0);
  CHECK(TimeframeSeconds("1 minute") == 0);
  CHECK(TimeframeLabel(90) == "90s");
}

TEST_CASE("bar formats: an hourly reference bar is seen by a minute bar only once the hour is over") {
  // Would catch the look-ahead of comparing bar starts across timeframes:
  // the 10:00 hourly bar holds the 10:59 close.
  Bars minute;
  minute.time = {36000, 36060, 39480, 39540};  // 10:00, 10:01, 10:58, 10:59
  minute.bar_seconds = 60;
  minute.intraday = true;
  Bars hourly;
  hourly.time = {32400, 36000};  // 09:00, 10:00
  hourly.bar_seconds = 3600;
  hourly.intraday = true;
  CHECK(CompleteAt(hourly, 1) == 39600);
  CHECK(CompleteAt(minute, 0) == 36060);
  CHECK(CompleteAt(hourly, 1) > CompleteAt(minute, 2));   // not by the 10:58 bar's close
  CHECK(CompleteAt(hourly, 1) <= CompleteAt(minute, 3));  // by the 10:59 bar's, the hour's last
}

}  // namespace
}  // namespace evolve::engines

namespace evolve::engines {
namespace {

const std::string kParquetDir = std::string(EVOLVE_TEST_FIXTURES_DIR) + "/parquet/";

Bars PlainParquetEquivalent(const std::string& name, const std::string& symbol) {
  auto bars = LoadBarsCsv(kParquetDir + name, symbol);
  REQUIRE_MESSAGE(bars.ok(), bars.status().ToString());
  return *bars;
}

TEST_CASE("bar formats: Parquet files of DuckDB and arrow-rs are the bars of their plain CSV") {
  // Would catch a timestamp unit, codec or encoding read into other bars
  // than the CSV they were written from, or a column matched to the wrong role.
  const Bars minute = PlainParquetEquivalent("bars.csv", "AAPL");
  for (const char* name : {"duckdb_uncompressed.parquet", "duckdb_snappy.parquet", "duckdb_gzip.parquet",
                           "duckdb_zstd.parquet", "duckdb_timestamptz.parquet", "duckdb_ts_ms.parquet",
                           "duckdb_ts_ns.parquet", "arrow_snappy_dict.parquet"}) {
    CAPTURE(name);
    BarReport report;
    auto bars = ReadBarsFile(kParquetDir + name, BarFormat{}, &report);
    REQUIRE_MESSAGE(bars.ok(), bars.status().ToString());
    REQUIRE(bars->size() == 1);
    CheckSame((*bars)[0], minute);
  }
  BarReport report;
  auto daily = ReadBarsFile(kParquetDir + "duckdb_daily.parquet", BarFormat{}, &report);
  REQUIRE_MESSAGE(daily.ok(), daily.status().ToString());
  CheckSame((*daily)[0], PlainParquetEquivalent("bars_daily.csv", "AAPL"));
}

TEST_CASE("bar formats: long Parquet files and hive partitions are every symbol's bars") {
  const Bars aapl = PlainParquetEquivalent("bars.csv", "AAPL");
  const Bars msft = PlainParquetEquivalent("bars_msft.csv", "MSFT");
  for (const char* name :
       {"duckdb_long.parquet", "duckdb_long_v2.parquet", "arrow_zstd_v2.parquet", "arrow_delta.parquet"}) {
    CAPTURE(name);
    BarReport report;
    auto bars = ReadBarsFile(kParquetDir + name, BarFormat{}, &report);
    REQUIRE_MESSAGE(bars.ok(), bars.status().ToString());
    REQUIRE(bars->size() == 2);
    CheckSame((*bars)[0], aapl);
    CheckSame((*bars)[1], msft);
    // vwap kept, its nulls "not given".
    REQUIRE((*bars)[0].vwap.size() == 40);
    CHECK(std::count_if((*bars)[0].vwap.begin(), (*bars)[0].vwap.end(),
                        [](double v) { return std::isnan(v); }) == 3);
  }
  // DuckDB's PARTITION_BY (symbol): symbol=AAPL/data_0.parquet, the symbol in the directory's name only.
  BarSource hive(kParquetDir + "hive");
  auto symbols = hive.Symbols();
  REQUIRE_MESSAGE(symbols.ok(), symbols.status().ToString());
  CHECK(*symbols == std::vector<std::string>{"AAPL", "MSFT"});
  auto loaded = hive.Load("MSFT");
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().ToString());
  CheckSame(**loaded, msft);
}

}  // namespace
}  // namespace evolve::engines

namespace evolve::engines {
namespace {

TEST_CASE("bar formats: --bars-columns names the columns the rules do not know") {
  // Would catch a mapping ignored (the file refused, or the wrong column
  // read as a price) or a name that is not there passed over.
  const std::string text =
      "When,PxOpen,PxHigh,PxLow,PxLast,Shares,Close\n"
      "2020-01-02,10,11,9,10.5,100,999\n"
      "2020-01-03,10.5,12,10,11,200,999\n";
  BarFormat format;
  format.columns = {{"time", "When"}, {"open", "PxOpen"},  {"high", "PxHigh"},
                    {"low", "PxLow"}, {"close", "PxLast"}, {"volume", "Shares"}};
  auto bars = ParseBarsCsvFile(text, "X", "x.csv", format, nullptr);
  REQUIRE_MESSAGE(bars.ok(), bars.status().ToString());
  CHECK((*bars)[0].close == std::vector<double>{10.5, 11});  // PxLast, not the Close column
  CHECK((*bars)[0].volume == std::vector<double>{100, 200});
  format.columns["vwap"] = "Vwap";
  auto missing = ParseBarsCsvFile(text, "X", "x.csv", format, nullptr);
  CHECK(
      missing.status().message() ==
      "x.csv:1: --bars-columns vwap=Vwap: no such column (its columns: When, PxOpen, PxHigh, PxLow, PxLast, "
      "Shares, Close) in the header");
  BarFormat unknown;
  unknown.columns = {{"price", "PxLast"}};
  CHECK(CheckBarFormat(unknown).message().rfind("--bars-columns: unknown role 'price' (roles: time, date,",
                                                0) == 0);
}

}  // namespace
}  // namespace evolve::engines
