// Bars through the `evolve` commands: `evolve validate` listing every
// problem of a file in one run, `--drop-bad-rows` skipping them with the
// count stored with the run, `evolve symbols` naming files it does not read.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "cli_test_support.h"
#include "evolve/sqlite/sqlite_store.h"
#include "process.h"

namespace evolve::testing {
namespace {

// Ten rows, each with a different problem, among good ones.
constexpr char kTenProblems[] =
    "Date,Open,High,Low,Close,Volume\n"
    "2020-01-02,10,11,9,10.5,100\n"
    "2020-01-03,10,11,9,10.5\n"
    "2020-01-0x,10,11,9,10.5,100\n"
    "2020-01-06,abc,11,9,10.5,100\n"
    "2020-01-07,10,11,9,10.5,100\n"
    "2020-01-07,10,11,9,10.5,100\n"
    "2020-01-05,10,11,9,10.5,100\n"
    "2020-01-08,-1,11,9,10.5,100\n"
    "2020-01-09,10,11,9,10.5,-5\n"
    "2020-01-10,10,8,9,8.5,100\n"
    "2020-01-13,12,11,9,10.5,100\n"
    "2020-01-14,10,11,9,11.5,100\n"
    "2020-01-15,10,11,9,10.5,0\n";

TEST_CASE("cli: evolve validate lists every problem of a file in one run, and exits 1") {
  // Would catch a validator that stops at the first problem (five bad rows,
  // five rounds), or one that exits 0 on a file runs would refuse.
  TempDir dir;
  WriteFile(dir / "BAD.csv", kTenProblems);
  auto r = RunProcess(Evolve({"validate", dir / "BAD.csv"}));
  CHECK(r.exit_code == 1);
  for (const char* kind :
       {"wrong field count: 1 row", "bad time: 1 row", "bad number: 1 row", "duplicate time: 1 row",
        "out of order: 1 row", "price not positive: 1 row", "negative volume: 1 row", "high below low: 1 row",
        "open outside low-high: 1 row", "close outside low-high: 1 row"}) {
    CAPTURE(kind);
    CHECK(Contains(r.out, kind));
  }
  CHECK(Contains(r.out, "BAD.csv:11: high 8 < low 9"));
  CHECK(Contains(r.out, "13 rows read, 10 refused"));
  CHECK(Contains(r.out, "BAD: 3 bars"));
  CHECK(Contains(r.out, "1 zero-volume bar"));

  auto none = RunProcess(Evolve({"validate"}));
  CHECK(none.exit_code == 2);
  CHECK(Contains(none.err, "missing PATH; usage: evolve validate PATH..."));

  // The bundled data is clean: exit 0, what each symbol's data is.
  auto clean = RunProcess(Evolve({"validate", kData}));
  CHECK(clean.exit_code == 0);
  CHECK(Contains(clean.out, "TTRC: 5,550 bars, 1985-01-02 to 2006-12-29, timeframe 1d"));
}

TEST_CASE("cli: --drop-bad-rows runs on the rows the rules accept, and the run records how many it dropped") {
  TempDir dir;
  WriteSynthetic(dir.path(), 1500, 0.5);
  std::string text = ReadFile(dir / "SYN.csv");
  // Three bad rows among the good ones: a high below its low, a word, a row cut short.
  text += "2099-01-01,10,8,9,8.5,100\n2099-01-02,ten,11,9,10,1\n2099-01-05,10,11\n";
  WriteFile(dir / "SYN.csv", text);
  const std::vector<std::string> run = {"run",
                                        "--data-dir",
                                        dir.path(),
                                        "--symbol",
                                        "SYN",
                                        "--generations",
                                        "1",
                                        "--db",
                                        dir / "e.db",
                                        "--data-options",
                                        R"({"train_window": 500, "test_window": 100})"};
  auto refused = RunProcess(Evolve(run));
  CHECK(refused.exit_code == 2);
  CHECK(Contains(refused.err, "high 9 < low 9") == false);
  CHECK(Contains(refused.err,
                 "(and 2 more refused rows; `evolve validate` lists every problem, --drop-bad-rows"));
  std::vector<std::string> dropping = run;
  dropping.push_back("--drop-bad-rows");
  auto ran = RunProcess(Evolve(dropping));
  REQUIRE_MESSAGE(ran.exit_code == 0, ran.err);
  auto store = sqlite::OpenSqliteStore(dir / "e.db");
  REQUIRE(store.ok());
  auto runs = (*store)->ListRuns(RunFilter{});
  REQUIRE(runs.ok());
  REQUIRE(runs->size() == 1);
  CHECK((*runs)[0].config.dropped_rows == 3);
  CHECK((*runs)[0].config.bars_source == dir.path());
  auto shown = RunProcess(Evolve({"show", (*runs)[0].id, "--db", dir / "e.db", "--json"}));
  CHECK(Contains(shown.out, "\"dropped_rows\":3"));
}

TEST_CASE("cli: evolve symbols names the files it does not read, and exits 1") {
  TempDir dir;
  WriteFile(dir / "TTRC.csv", ReadFile(kData + "/ttrc.csv"));
  WriteFile(dir / "OLD.csv.bz2", "compressed");
  WriteFile(dir / "BROKEN.csv", "Day,Price\nMonday,1\n");
  auto r = RunProcess(Evolve({"symbols", "--bars", dir.path()}));
  CHECK(r.exit_code == 1);
  CHECK(r.out == "BROKEN\nTTRC\n");
  CHECK(Contains(r.err, "evolve: not read: BROKEN.csv:1: no time column"));
  CHECK(Contains(r.err, "evolve: not read: OLD.csv.bz2: .csv.bz2 files are not read"));
}

}  // namespace
}  // namespace evolve::testing
