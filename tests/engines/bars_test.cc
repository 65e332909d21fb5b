// Bars: the CSV rules (accepted forms, every rejection with file:line), the
// time helpers, the CSV round trip and BarSource (case, cache, reload,
// errors, concurrency).
#include <doctest/doctest.h>

#include <unistd.h>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/engines/synthetic.h"
#include "evolve/feature_source.h"

namespace evolve::engines {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("evolve_bars_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// The error message of parsing `text` as "x.csv", or "" if it parsed.
std::string ParseError(const std::string& text) {
  auto r = ParseBarsCsv(text, "X", "x.csv");
  if (r.ok()) return "";
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  return r.status().message();
}

const char kHeader[] = "Date,Open,High,Low,Close,Volume\n";

TEST_CASE("bars: the bundled TTRC file loads with its quoted header") {
  auto r = LoadBarsCsv(std::string(EVOLVE_EXAMPLES_DATA_DIR) + "/ttrc.csv", "TTRC");
  REQUIRE(r.ok());
  const Bars& b = *r;
  CHECK(b.symbol == "TTRC");
  REQUIRE(b.size() == 5550);
  CHECK_FALSE(b.intraday);
  CHECK(FormatBarTime(b.time.front(), false) == "1985-01-02");
  CHECK(b.time.front() == DaysFromCivil(1985, 1, 2) * 86400);
  CHECK(b.open.front() == 3.18);
  CHECK(b.high.front() == 3.18);
  CHECK(b.low.front() == 3.08);
  CHECK(b.close.front() == 3.08);
  CHECK(b.volume.front() == 1870906);
  CHECK(FormatBarTime(b.time.back(), false) == "2006-12-29");
  CHECK(b.close.back() == 51.95);
  for (size_t i = 1; i < b.size(); ++i) REQUIRE(b.time[i] > b.time[i - 1]);
}

TEST_CASE("bars: header names in any case and order, quoted, with extra columns") {
  auto r = ParseBarsCsv(
      "\xEF\xBB\xBF\"VOLUME\",close,\"Adjusted\",LOW,High,open,\"date\"\r\n"
      "100,10.5,10.4,10,11,10.2,2020-01-02\r\n"
      "\r\n"
      "200,10.7,10.6,10.1,10.9,10.5,\"2020-01-03\"\r\n",
      "abc", "abc.csv");
  REQUIRE(r.ok());
  CHECK(r->symbol == "abc");
  REQUIRE(r->size() == 2);
  CHECK(r->open[1] == 10.5);
  CHECK(r->high[1] == 10.9);
  CHECK(r->low[1] == 10.1);
  CHECK(r->close[1] == 10.7);
  CHECK(r->volume[1] == 200);
  CHECK(r->time[1] - r->time[0] == 86400);
  CHECK_FALSE(r->intraday);
}

TEST_CASE("bars: every accepted time form") {
  const int64_t day = DaysFromCivil(2024, 3, 15) * 86400;
  CHECK(*ParseBarTime("2024-03-15") == day);
  CHECK(*ParseBarTime("2024-03-15 09:30") == day + 9 * 3600 + 30 * 60);
  CHECK(*ParseBarTime("2024-03-15 09:30:15") == day + 9 * 3600 + 30 * 60 + 15);
  CHECK(*ParseBarTime("2024-03-15T09:30:15") == day + 9 * 3600 + 30 * 60 + 15);
  CHECK(*ParseBarTime("2024-03-15T09:30:15Z") == day + 9 * 3600 + 30 * 60 + 15);
  CHECK(*ParseBarTime("2024-03-15T09:30:00-04:00") == day + 13 * 3600 + 30 * 60);
  CHECK(*ParseBarTime("2024-03-15 09:30:00+01:00") == day + 8 * 3600 + 30 * 60);
  CHECK(*ParseBarTime("1710495000") == 1710495000);
  CHECK(*ParseBarTime("2000-02-29") == DaysFromCivil(2000, 2, 29) * 86400);
  CHECK(*ParseBarTime("1969-12-31 23:59:59") == -1);
  // Unix times by magnitude (Polygon's milliseconds, nanoseconds), and
  // fractional seconds that are zero (Databento, pandas).
  CHECK(*ParseBarTime("1710495000000") == 1710495000);
  CHECK(*ParseBarTime("1710495000000000") == 1710495000);
  CHECK(*ParseBarTime("1710495000000000000") == 1710495000);
  CHECK(*ParseBarTime("99999999999") == 99999999999);  // the last magnitude read as seconds
  CHECK(*ParseBarTime("100000000000") == 100000000);   // the first read as milliseconds
  CHECK(*ParseBarTime("-1000000000000") == -1000000000);
  CHECK(*ParseBarTime("2024-03-15T09:30:15.000Z") == day + 9 * 3600 + 30 * 60 + 15);
  CHECK(*ParseBarTime("2024-03-15 09:30:15.000000000+01:00") == day + 8 * 3600 + 30 * 60 + 15);
  CHECK(*ParseBarTime("2024-03-15 09:30:15.0") == day + 9 * 3600 + 30 * 60 + 15);

  for (const char* bad :
       {"2023-02-29", "2024-13-01", "2024-00-10", "2024-03-32", "2024-03-15 24:00", "2024-03-15 09:60",
        "2024-03-15 09:30:15.250", "2024-03-15 09:30:15.", "2024-03-15 09:30:15.0000000000", "2024/03/32",
        "15.03.2024", "2024-03-15x", "1710495000250", "99999999999999999999", "", "2024-03-15 09:30 EST"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseBarTime(bad).ok());
  }
  CHECK(
      ParseBarTime("1710495000250").status().message() ==
      "bad time '1710495000250': Unix milliseconds that are not whole seconds (bar times are whole seconds)");
  CHECK(ParseBarTime("2024-03-15 09:30:15.250").status().message() ==
        "bad time '2024-03-15 09:30:15.250': fractional seconds that are not zero (bar times are whole "
        "seconds)");
}

TEST_CASE("bars: daily bars stamped at local midnight with an offset are daily bars of those dates") {
  // Would catch yfinance's daily export (local midnight, -05:00 or -04:00
  // with daylight saving) read as 05:00/04:00 UTC intraday bars, as it was.
  auto plain = ParseBarsCsv(
      "Date,Open,High,Low,Close,Volume\n"
      "2015-01-02,10,11,9,10,5\n"
      "2015-03-09,10,11,9,10,5\n"
      "2015-03-10,10,11,9,10,5\n",
      "Y", "y.csv");
  REQUIRE(plain.ok());
  auto yfinance = ParseBarsCsv(
      "Date,Open,High,Low,Close,Adj Close,Volume\n"
      "2015-01-02 00:00:00-05:00,10,11,9,10,9.5,5\n"
      "2015-03-09 00:00:00-04:00,10,11,9,10,9.5,5\n"
      "2015-03-10 00:00:00-04:00,10,11,9,10,9.5,5\n",
      "Y", "y.csv");
  REQUIRE_MESSAGE(yfinance.ok(), yfinance.status().ToString());
  CHECK_FALSE(yfinance->intraday);
  CHECK(yfinance->time == plain->time);
  // East of UTC too: local midnight is the day before in UTC.
  auto tokyo =
      ParseBarsCsv("Date,Open,High,Low,Close,Volume\n2015-01-02T00:00:00+09:00,10,11,9,10,5\n", "T", "t.csv");
  REQUIRE(tokyo.ok());
  CHECK(tokyo->time[0] == plain->time[0]);

  // One time that is not a local midnight: the offsets are kept, in UTC.
  auto hourly = ParseBarsCsv(
      "Datetime,Open,High,Low,Close,Volume\n"
      "2015-01-02 00:00:00-05:00,10,11,9,10,5\n"
      "2015-01-02 01:00:00-05:00,10,11,9,10,5\n",
      "H", "h.csv");
  REQUIRE(hourly.ok());
  CHECK(hourly->intraday);
  CHECK(hourly->time[0] == plain->time[0] + 5 * 3600);
  CHECK(hourly->time[1] == plain->time[0] + 6 * 3600);
  // Midnights without an offset are UTC dates already; Z is no local time.
  auto utc =
      ParseBarsCsv("Date,Open,High,Low,Close,Volume\n2015-01-02T00:00:00Z,10,11,9,10,5\n", "U", "u.csv");
  REQUIRE(utc.ok());
  CHECK(utc->time[0] == plain->time[0]);

  // Two local midnights of one date (the offset changed) are refused by line.
  auto twice = ParseBarsCsv(
      "Date,Open,High,Low,Close,Volume\n"
      "2015-01-02 00:00:00-05:00,10,11,9,10,5\n"
      "2015-01-02 00:00:00-04:00,10,11,9,10,5\n",
      "D", "d.csv");
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.status().message() ==
        "d.csv:3: date 2015-01-02 again (the rows are daily bars stamped at local midnight; the previous "
        "row's date is 2015-01-02)");
}

TEST_CASE("bars: semicolon- and tab-separated files read as the comma-separated one") {
  // Would catch a delimiter guessed from a data row, or a file whose
  // delimiter is not found read as one column with a misleading error.
  const std::string comma =
      "Date,Open,High,Low,Close,Volume\n"
      "2024-03-14,10.5,11,9.5,10,500\n"
      "2024-03-15,10,11.25,9,11,700\n";
  auto expected = ParseBarsCsv(comma, "X", "x.csv");
  REQUIRE(expected.ok());
  for (char delimiter : {';', '\t'}) {
    std::string text = comma;
    std::replace(text.begin(), text.end(), ',', delimiter);
    auto read = ParseBarsCsv(text, "X", "x.csv");
    REQUIRE_MESSAGE(read.ok(), read.status().ToString());
    CHECK(read->time == expected->time);
    CHECK(read->open == expected->open);
    CHECK(read->high == expected->high);
    CHECK(read->low == expected->low);
    CHECK(read->close == expected->close);
    CHECK(read->volume == expected->volume);
  }
  // A header with no known delimiter and no time column says how it was read.
  auto unknown = ParseBarsCsv("<DATE>|<OPEN>|<HIGH>\n2024-03-15|1|2\n", "X", "x.csv");
  CHECK(
      unknown.status().message() ==
      "x.csv:1: no time column: expected one named Date, Datetime, Timestamp, Time or ts, or a column of "
      "times in the first row (--bars-columns time=NAME names it); the header, read as comma-separated, has "
      "1 column: <DATE>|<OPEN>|<HIGH>");
}

TEST_CASE("bars: intraday files, and a Date column beside a Time column") {
  auto r = ParseBarsCsv(
      "timestamp,open,high,low,close,volume\n"
      "2024-03-15T13:30:00Z,10,11,9,10,5\n"
      "1710509460,10,11,9,10,5\n",
      "M", "m.csv");
  REQUIRE(r.ok());
  CHECK(r->intraday);
  CHECK(r->time[1] - r->time[0] == 60);
  auto split = ParseBarsCsv(
      "Date,Time,Open,High,Low,Close,Volume\n"
      "2024-03-15,09:30,10,11,9,10,5\n"
      "2024-03-15,09:31,10,11,9,10,5\n",
      "S", "s.csv");
  REQUIRE(split.ok());
  CHECK(split->intraday);
  CHECK(split->time[0] == DaysFromCivil(2024, 3, 15) * 86400 + 9 * 3600 + 30 * 60);
  CHECK(split->time[1] - split->time[0] == 60);
}

TEST_CASE("bars: each bad row is rejected with file, line and problem") {
  const std::string ok_row = "2020-01-02,10,11,9,10.5,100\n";
  CHECK(ParseError(kHeader + ok_row) == "");
  CHECK(ParseError(kHeader + ok_row + "2020-01-03,3.15,3.1,3.2,3.15,100\n") == "x.csv:3: high 3.1 < low 3.2");
  CHECK(ParseError(kHeader + ok_row + "2020-01-02,10,11,9,10.5,100\n") ==
        "x.csv:3: duplicate time 2020-01-02");
  CHECK(ParseError(kHeader + ok_row + "2020-01-01,10,11,9,10.5,100\n") ==
        "x.csv:3: time 2020-01-01 is before the previous row's 2020-01-02 (rows must be in increasing time "
        "order)");
  CHECK(ParseError("Datetime,Open,High,Low,Close,Volume\n2020-01-02 09:31,10,11,9,10.5,100\n"
                   "2020-01-02T09:31:00Z,10,11,9,10.5,100\n") ==
        "x.csv:3: duplicate time 2020-01-02 09:31:00 UTC");
  CHECK(ParseError(kHeader + ok_row + "2020-01-03,10,11,0,10.5,100\n") == "x.csv:3: low 0 is not positive");
  CHECK(ParseError(kHeader + ok_row + "2020-01-03,-1,11,9,10.5,100\n") == "x.csv:3: open -1 is not positive");
  CHECK(ParseError(kHeader + ok_row + "2020-01-03,10,11,9,10.5,-5\n") == "x.csv:3: volume -5 is negative");
  CHECK(ParseError(kHeader + ok_row + "2020-01-03,10,11,9,10.5x,100\n") ==
        "x.csv:3: close: not a finite number: '10.5x'");
  CHECK(ParseError(kHeader + ok_row + "2020-01-03,10,11,9,NA,100\n") ==
        "x.csv:3: close: not a finite number: 'NA'");
  CHECK(ParseError(kHeader + ok_row + "2020-01-03,10,inf,9,10,100\n") ==
        "x.csv:3: high: not a finite number: 'inf'");
  CHECK(ParseError(kHeader + ok_row + "2020-01-03,10,11,9,nan,100\n") ==
        "x.csv:3: close: not a finite number: 'nan'");
  CHECK(ParseError(kHeader + ok_row + "2020-01-03,10,11,9,,100\n") ==
        "x.csv:3: close: not a finite number: ''");
  CHECK(ParseError(kHeader + ok_row + "2020-01-03,10,11,9,10\n") == "x.csv:3: expected 6 fields, got 5");
  CHECK(ParseError(kHeader + ok_row + "2020-01-03,10,11,9,10,1,2\n") == "x.csv:3: expected 6 fields, got 7");
  CHECK(ParseError(kHeader + ok_row + "2020-01-03,12,11,9,10,1\n") ==
        "x.csv:3: open 12 outside [low 9, high 11]");
  CHECK(ParseError(kHeader + ok_row + "2020-01-03,10,11,9,8.9,1\n") ==
        "x.csv:3: close 8.9 outside [low 9, high 11]");
  CHECK(
      ParseError(kHeader + ok_row + "2020-02-30,10,11,9,10,1\n").rfind("x.csv:3: bad time '2020-02-30'", 0) ==
      0);
  // Line numbers count every physical line, blank ones included.
  CHECK(ParseError(kHeader + ok_row + "\n\n" + "2020-01-03,3.15,3.1,3.2,3.15,100\n") ==
        "x.csv:5: high 3.1 < low 3.2");
}

TEST_CASE("bars: open and close may miss the range by rounding only") {
  // Within kOhlcTolerance (1e-6 relative): accepted as is.
  CHECK(ParseError(std::string(kHeader) + "2020-01-02,11.000005,11,9,9.000005,1\n") == "");
  CHECK(ParseError(std::string(kHeader) + "2020-01-02,11.0001,11,9,10,1\n") != "");
  // Zero volume is a real bar (a halted session), not an error.
  CHECK(ParseError(std::string(kHeader) + "2020-01-02,10,11,9,10,0\n") == "");
}

TEST_CASE("bars: header problems and empty input") {
  CHECK(ParseError("") == "x.csv: empty file (a header row is required)");
  CHECK(ParseError("\r\n\n") == "x.csv: empty file (a header row is required)");
  CHECK(ParseError(kHeader) == "x.csv: no rows after the header");
  // A time column of another name is found by its content; none is an error saying what was read.
  CHECK(ParseError("Day,Open,High,Low,Close,Volume\n2020-01-02,1,1,1,1,1\n") == "");
  CHECK(ParseError("Day,Open,High,Low,Close,Volume\nMonday,1,1,1,1,1\n") ==
        "x.csv:1: no time column: expected one named Date, Datetime, Timestamp, Time or ts, or a column of "
        "times in the first row (--bars-columns time=NAME names it); the header, read as comma-separated, "
        "has 6 "
        "columns: Day, Open, High, Low, Close, Volume");
  CHECK(ParseError("Date,Open,High,Low,Close\n2020-01-02,1,1,1,1\n") ==
        "x.csv:1: missing column 'volume' (read as comma-separated: Date, Open, High, Low, Close)");
  CHECK(ParseError("Date,Open,High,Low,Close,Volume,close\n") ==
        "x.csv:1: column 'close' appears twice in the header");
  auto missing = LoadBarsCsv("/nonexistent/dir/NOPE.csv", "NOPE");
  CHECK(missing.status().code() == StatusCode::kNotFound);
}

TEST_CASE("bars: a written file reads back exactly, daily and intraday") {
  TempDir dir;
  for (bool intraday : {false, true}) {
    SyntheticOptions opt;
    opt.bars = 2000;
    opt.intraday = intraday;
    opt.seed = 7;
    const Bars original = GenerateSyntheticBars(opt).at("SYN");
    const std::string path = dir.File(intraday ? "MIN.csv" : "DAY.csv");
    REQUIRE(WriteBarsCsv(original, path).ok());
    auto back = LoadBarsCsv(path, "SYN");
    REQUIRE(back.ok());
    CHECK(back->intraday == intraday);
    CHECK(back->time == original.time);
    CHECK(back->open == original.open);
    CHECK(back->high == original.high);
    CHECK(back->low == original.low);
    CHECK(back->close == original.close);
    CHECK(back->volume == original.volume);
    CHECK_FALSE(fs::exists(path + ".tmp"));
  }
  Bars ragged;
  ragged.time = {0, 86400};
  ragged.close = {1};
  CHECK(WriteBarsCsv(ragged, dir.File("R.csv")).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("bars: civil time helpers") {
  CivilTime epoch = ToCivilTime(0);
  CHECK(epoch.year == 1970);
  CHECK(epoch.day_of_week == 3);  // Thursday
  CivilTime before = ToCivilTime(-1);
  CHECK(before.year == 1969);
  CHECK(before.month == 12);
  CHECK(before.day == 31);
  CHECK(before.hour == 23);
  CHECK(before.second == 59);
  CHECK(before.day_of_week == 2);  // Wednesday
  CivilTime monday = ToCivilTime(DaysFromCivil(2000, 1, 3) * 86400 + 14 * 3600 + 30 * 60);
  CHECK(monday.day_of_week == 0);
  CHECK(monday.hour == 14);
  CHECK(monday.minute == 30);
  CHECK(ToCivilTime(DaysFromCivil(2024, 3, 17) * 86400).day_of_week == 6);  // Sunday
  CHECK(FormatBarTime(DaysFromCivil(2024, 2, 29) * 86400 + 3661, true) == "2024-02-29 01:01:01");
}

TEST_CASE("bar directory: symbols, case-insensitive loads, cache and reload") {
  TempDir dir;
  WriteFile(dir.File("ttrc.csv"), std::string(kHeader) + "2020-01-02,10,11,9,10.5,100\n");
  WriteFile(dir.File("AAA.CSV"),
            std::string(kHeader) + "2020-01-02,10,11,9,10.5,100\n2020-01-03,10,11,9,10.5,100\n");
  WriteFile(dir.File("notes.txt"), "not bars");
  fs::create_directories(dir.File("sub.csv"));  // a directory is not a symbol
  BarSource bars(dir.path());
  auto symbols = bars.Symbols();
  REQUIRE(symbols.ok());
  CHECK(*symbols == std::vector<std::string>{"AAA", "TTRC"});

  auto a = bars.Load("TtRc");
  REQUIRE(a.ok());
  CHECK((*a)->symbol == "TTRC");
  CHECK((*a)->size() == 1);
  auto again = bars.Load("ttrc");
  REQUIRE(again.ok());
  CHECK(again->get() == a->get());  // cached: the same object

  // A changed file is read again (size differs, so mtime granularity is moot).
  WriteFile(dir.File("ttrc.csv"),
            std::string(kHeader) + "2020-01-02,10,11,9,10.5,100\n2020-01-03,10,11,9,10.5,100\n");
  auto reloaded = bars.Load("TTRC");
  REQUIRE(reloaded.ok());
  CHECK((*reloaded)->size() == 2);
  CHECK((*a)->size() == 1);  // holders of the old bars keep them

  auto missing = bars.Load("ZZZ");
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(missing.status().message().find(dir.path()) != std::string::npos);
  CHECK(bars.Load("../etc/passwd").status().code() == StatusCode::kInvalidArgument);
  CHECK(bars.Load("").status().code() == StatusCode::kInvalidArgument);

  WriteFile(dir.File("BAD.csv"),
            std::string(kHeader) + "2020-01-02,10,11,9,10.5,100\n2020-01-02,10,11,9,10.5,100\n");
  auto bad = bars.Load("bad");
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message() == "BAD.csv:3: duplicate time 2020-01-02");
}

// The built-in feature source remembers a digest while the directory keeps
// the same parsed bars; an edited file (parsed again) gets a new one, as
// does another order of references.
TEST_CASE("bar directory: the data digest follows the file, remembered or not") {
  TempDir dir;
  WriteFile(dir.File("AAA.csv"), std::string(kHeader) + "2020-01-02,10,11,9,10.5,100\n");
  WriteFile(dir.File("BBB.csv"), std::string(kHeader) + "2020-01-02,20,21,19,20.5,100\n");
  auto source = NewBuiltinFeatureSource(std::make_shared<BarSource>(dir.path()));
  auto first = source->DataDigest("AAA", {"BBB"});
  REQUIRE(first.ok());
  CHECK(*source->DataDigest("AAA", {"BBB"}) == *first);
  CHECK(*source->DataDigest("BBB", {"AAA"}) != *first);
  CHECK(*source->DataDigest("AAA", {}) != *first);
  // A fresh source (nothing remembered) agrees.
  auto fresh = NewBuiltinFeatureSource(std::make_shared<BarSource>(dir.path()));
  CHECK(*fresh->DataDigest("AAA", {"BBB"}) == *first);

  // One more bar in the reference: a new digest, and the same as a fresh
  // source computes.
  WriteFile(dir.File("BBB.csv"),
            std::string(kHeader) + "2020-01-02,20,21,19,20.5,100\n2020-01-03,20,21,19,20.5,100\n");
  auto edited = source->DataDigest("AAA", {"BBB"});
  REQUIRE(edited.ok());
  CHECK(*edited != *first);
  auto fresh_again = NewBuiltinFeatureSource(std::make_shared<BarSource>(dir.path()));
  CHECK(*fresh_again->DataDigest("AAA", {"BBB"}) == *edited);
}

TEST_CASE("bar directory: missing directory and clashing file names") {
  BarSource none("/nonexistent/evolve/bars");
  CHECK(none.Symbols().status().code() == StatusCode::kNotFound);
  auto load = none.Load("TTRC");
  CHECK(load.status().code() == StatusCode::kNotFound);
  CHECK(load.status().message().find("/nonexistent/evolve/bars") != std::string::npos);

  TempDir dir;
  WriteFile(dir.File("abc.csv"), std::string(kHeader) + "2020-01-02,10,11,9,10.5,100\n");
  WriteFile(dir.File("ABC.csv"), std::string(kHeader) + "2020-01-02,10,11,9,10.5,100\n");
  BarSource clash(dir.path());
  CHECK(clash.Symbols().status().code() == StatusCode::kInvalidArgument);
  CHECK(clash.Load("abc").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("bar directory: a file in a form not read is named, and one file per symbol") {
  // Would catch `no bars for symbol AAPL` when AAPL.csv.bz2 is right there,
  // a broken compressed file passed over, or two files of one symbol
  // silently taking turns.
  TempDir dir;
  WriteFile(dir.File("aapl.csv.bz2"), "not read");
  WriteFile(dir.File("MSFT.csv.gz"), "not gzip at all");
  WriteFile(dir.File("IBM.csv"), std::string(kHeader) + "2020-01-02,10,11,9,10.5,100\n");
  BarSource bars(dir.path());
  auto bz2 = bars.Load("AAPL");
  CHECK(bz2.status().code() == StatusCode::kNotFound);
  CHECK(bz2.status().message() ==
        "no bars for symbol AAPL in " + dir.path() +
            "; aapl.csv.bz2: .csv.bz2 files are not read (decompress it, or recompress "
            "it with gzip or zstd)");
  auto gz = bars.Load("msft");
  CHECK(gz.status().code() == StatusCode::kInvalidArgument);
  CHECK(gz.status().message() == "MSFT.csv.gz: not gzip data (its first bytes say otherwise)");
  CHECK(bars.Load("IBM").ok());
  CHECK(bars.Load("NONE").status().message() == "no bars for symbol NONE in " + dir.path());
  auto symbols = bars.Symbols();
  REQUIRE(symbols.ok());
  CHECK(*symbols == std::vector<std::string>{"IBM", "MSFT"});
  const std::vector<std::string> unread = bars.reader().Unread();
  REQUIRE(unread.size() == 2);
  CHECK(unread[0] == "MSFT.csv.gz: not gzip data (its first bytes say otherwise)");
  CHECK(unread[1].rfind("aapl.csv.bz2: ", 0) == 0);

  WriteFile(dir.File("IBM.parquet"), "a second file of IBM");
  CHECK(bars.Symbols().status().message() ==
        "bar directory " + dir.path() + ": IBM.csv and IBM.parquet both hold symbol IBM");
}

// A service that has seen many symbols must not keep them all (issue 19):
// past its byte budget the least recently used symbols' bars are dropped,
// while holders keep theirs and a later Load parses the file again.
TEST_CASE("bar directory: parsed bars are kept within a byte budget, least recently used dropped first") {
  TempDir dir;
  SyntheticOptions opt;
  opt.symbols = {"AAA", "BBB", "CCC"};
  opt.bars = 1000;
  for (const auto& [symbol, b] : GenerateSyntheticBars(opt)) {
    REQUIRE(WriteBarsCsv(b, dir.File(symbol + ".csv")).ok());
  }
  // Room for two symbols' bars, not three.
  BarSource probe(dir.path());
  REQUIRE(probe.Load("AAA").ok());
  const size_t one = probe.cached_bytes();
  REQUIRE(one >= 1000 * 6 * sizeof(double));
  BarSource bars(dir.path(), 2 * one + one / 2);

  auto a = bars.Load("AAA");
  REQUIRE(a.ok());
  REQUIRE(bars.Load("BBB").ok());
  CHECK(bars.cached_symbols() == 2);
  REQUIRE(bars.Load("aaa").ok());  // AAA used again: BBB is now the oldest
  REQUIRE(bars.Load("CCC").ok());
  CHECK(bars.cached_symbols() == 2);
  CHECK(bars.cached_bytes() == 2 * one);
  CHECK(bars.cached_bytes() <= 2 * one + one / 2);
  // AAA stayed (the same object); BBB was dropped and is parsed again.
  auto a_again = bars.Load("AAA");
  REQUIRE(a_again.ok());
  CHECK(a_again->get() == a->get());
  auto b_again = bars.Load("BBB");
  REQUIRE(b_again.ok());
  CHECK((*b_again)->size() == 1000);
  CHECK(bars.cached_symbols() == 2);

  // A budget smaller than one symbol keeps the one just loaded only.
  BarSource tiny(dir.path(), 1);
  auto held = tiny.Load("AAA");
  REQUIRE(held.ok());
  REQUIRE(tiny.Load("BBB").ok());
  CHECK(tiny.cached_symbols() == 1);
  CHECK(tiny.cached_bytes() == one);
  CHECK((*held)->size() == 1000);  // its holder keeps the dropped bars
}

TEST_CASE("bar directory: concurrent loads share one parse") {
  TempDir dir;
  SyntheticOptions opt;
  opt.symbols = {"AAA", "BBB"};
  opt.bars = 20000;
  for (const auto& [symbol, b] : GenerateSyntheticBars(opt)) {
    REQUIRE(WriteBarsCsv(b, dir.File(symbol + ".csv")).ok());
  }
  BarSource bars(dir.path());
  std::vector<const Bars*> seen(8, nullptr);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < seen.size(); ++t) {
    threads.emplace_back([&, t] {
      auto r = bars.Load(t % 2 == 0 ? "aaa" : "BBB");
      if (r.ok()) seen[t] = r->get();
    });
  }
  for (auto& th : threads) th.join();
  for (size_t t = 0; t < seen.size(); ++t) {
    REQUIRE(seen[t] != nullptr);
    CHECK(seen[t] == seen[t % 2]);
    CHECK(seen[t]->size() == 20000);
  }
  CHECK(seen[0] != seen[1]);
}

}  // namespace
}  // namespace evolve::engines
