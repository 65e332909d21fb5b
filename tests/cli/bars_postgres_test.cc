// `--bars postgresql://...`: an evolution from a bars table in the test
// server (the CTest fixture `evolve_postgres`), giving the same models as
// the same bars in a CSV file, and `evolve symbols` / `evolve validate` on
// the table.
#include <doctest/doctest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli_postgres_support.h"
#include "cli_test_support.h"
#include "evolve/engines/bars.h"
#include "postgres_test_support.h"
#include "process.h"

namespace evolve::testing {
namespace {

// The original system's table, filled with `bars` (as SYMBOL).
void CreateBarsTable(const std::string& url, const engines::Bars& bars, const std::string& symbol) {
  ExecSql(url,
          "CREATE TABLE bars (symbol text NOT NULL, ts timestamptz NOT NULL, open double precision, "
          "high double precision, low double precision, close double precision, volume double precision, "
          "vwap double precision, trade_count bigint, PRIMARY KEY (symbol, ts))");
  char buf[256];
  std::string sql;
  for (size_t i = 0; i < bars.size(); ++i) {
    if (sql.empty()) sql = "INSERT INTO bars (symbol, ts, open, high, low, close, volume) VALUES ";
    std::snprintf(buf, sizeof buf, "%s('%s', to_timestamp(%lld), %.17g, %.17g, %.17g, %.17g, %.17g)",
                  sql.back() == ')' ? ", " : "", symbol.c_str(), static_cast<long long>(bars.time[i]),
                  bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i]);
    sql += buf;
    if (i % 500 == 499 || i + 1 == bars.size()) {
      ExecSql(url, sql);
      sql.clear();
    }
  }
}

TEST_CASE(
    "postgres cli: evolve run --bars postgresql:// evolves from a bars table as from the same bars in a "
    "file") {
  // Would catch a table read into other bars than the file's (another
  // time, a lost row, rows out of order): the seed model's fingerprint
  // covers the bars' digest, so it would differ.
  TestDatabase db;
  TempDir dir;
  WriteSynthetic(dir.path(), 1500, 0.5);
  auto bars = engines::LoadBarsCsv(dir.path() + "/SYN.csv", "SYN");
  REQUIRE(bars.ok());
  CreateBarsTable(db.url(), *bars, "SYN");

  auto symbols = RunProcess(Evolve({"symbols", "--bars", db.url()}));
  CHECK(symbols.exit_code == 0);
  CHECK(symbols.out == "SYN\n");
  auto validated = RunProcess(Evolve({"validate", db.url()}));
  CHECK_MESSAGE(validated.exit_code == 0, std::string(validated.out + validated.err));
  CHECK(Contains(validated.out, "SYN: 1,500 bars"));
  CHECK(Contains(validated.out, "timeframe 1d"));

  const std::vector<std::string> common = {"--store",        db.url(),
                                           "--symbol",       "SYN",
                                           "--generations",  "1",
                                           "--workers",      "1",
                                           "--data-options", R"({"train_window": 500, "test_window": 100})"};
  std::vector<std::string> from_table = {"run", "--bars", db.url()};
  from_table.insert(from_table.end(), common.begin(), common.end());
  auto table_run = RunProcess(Evolve(from_table));
  REQUIRE_MESSAGE(table_run.exit_code == 0, table_run.err);
  std::vector<std::string> from_file = {"run", "--data-dir", dir.path()};
  from_file.insert(from_file.end(), common.begin(), common.end());
  auto file_run = RunProcess(Evolve(from_file));
  REQUIRE_MESSAGE(file_run.exit_code == 0, file_run.err);

  std::unique_ptr<Store> store = OpenPg(db.url());
  auto runs = store->ListRuns(RunFilter{});
  REQUIRE(runs.ok());
  REQUIRE(runs->size() == 2);
  const Run& file = (*runs)[0];  // newest first
  const Run& table = (*runs)[1];
  CHECK(table.status == RunStatus::kCompleted);
  CHECK(file.status == RunStatus::kCompleted);
  CHECK(Contains(table.config.bars_source, ", table bars"));
  CHECK(table.config.bars_source.rfind("postgresql://", 0) == 0);
  CHECK(file.config.bars_source == dir.path());
  CHECK(table.config.timeframe == "1d");
  CHECK_FALSE(table.seed_model_id.empty());
  CHECK(table.seed_model_id == file.seed_model_id);
  CHECK(table.best_sqn == file.best_sqn);

  // A request naming another timeframe is refused, saying what the data is.
  std::vector<std::string> hourly = from_table;
  hourly.insert(hourly.end(), {"--timeframe", "1h"});
  auto refused = RunProcess(Evolve(hourly));
  CHECK(refused.exit_code == 2);
  CHECK(Contains(refused.err, "the bars of SYN are 1d bars"));
}

}  // namespace
}  // namespace evolve::testing
