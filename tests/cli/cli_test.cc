// End-to-end tests of the `evolve` and `evolve-worker` binaries: real
// processes on real SQLite files and real data, killed and resumed.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_test_support.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/features.h"
#include "evolve/engines/synthetic.h"
#include "evolve/json.h"
#include "evolve/sqlite/sqlite_store.h"
#include "kill_support.h"
#include "process.h"

namespace evolve::testing {
namespace {

std::unique_ptr<Store> OpenDb(const std::string& path) {
  auto store = sqlite::OpenSqliteStore(path);
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  return std::move(*store);
}

// ------------------------------------------------------------- bad input

TEST_CASE("cli: bad input exits 2 with one line naming the problem and leaves the database untouched") {
  TempDir dir;
  const std::string db = dir / "evolve.db";
  REQUIRE(RunProcess(Evolve({"migrate", "--db", db})).exit_code == 0);
  const std::string before = ReadFile(db);
  REQUIRE(!before.empty());
  WriteFile(dir / "zero.json", R"({"symbol": "TTRC", "max_generations": 0})");
  WriteFile(dir / "minmax.json", R"({"symbol": "TTRC", "sqn_min": 6, "sqn_max": 5})");
  WriteFile(dir / "unknown.json", R"({"symbol": "TTRC", "colour": "blue"})");
  WriteFile(dir / "broken.json", R"({"symbol": )");
  // A data directory with AAPL only compressed.
  const std::string gzdata = dir / "gzdata";
  REQUIRE(::mkdir(gzdata.c_str(), 0755) == 0);
  WriteFile(gzdata + "/TTRC.csv", ReadFile(std::string(kData) + "/ttrc.csv"));
  WriteFile(gzdata + "/AAPL.csv.bz2", "compressed bars");
  WriteFile(gzdata + "/MSFT.csv.gz", "not gzip");

  struct Case {
    std::vector<std::string> args;
    std::string expected;  // part of the error line
  };
  const std::vector<Case> cases = {
      {{"run", "--bogus"}, "unknown option --bogus"},
      {{"run", "--regimes", "[{\"regime_gmm\": [0]"}, "--regimes: not valid JSON"},
      {{"run", "--regimes", "[{\"regime_gmm\": \"calm\"}]"}, "regime_configs[0]"},
      {{"run", "--thresholds", "0.001,abc"}, "--thresholds: 'abc' is not a number"},
      {{"run", "--thresholds", ""}, "--thresholds: empty item"},
      {{"run", "--generations", "four"}, "--generations: 'four' is not an integer"},
      {{"run", "--symbol", "NOPE"}, "unknown symbol 'NOPE'"},
      {{"run", "--data-dir", gzdata, "--symbol", "AAPL"},
       "symbol (--symbol): unknown symbol 'AAPL': " + gzdata +
           " has MSFT, TTRC (AAPL.csv.bz2: .csv.bz2 files are not read (decompress it, or recompress it with gzip "
           "or zstd))"},
      {{"run", "--data-dir", gzdata, "--symbol", "MSFT"},
       "symbol (--symbol): the bars of MSFT cannot be read: MSFT.csv.gz: not gzip data (its first bytes say "
       "otherwise)"},
      {{"run", "--data-dir", dir / "missing"}, "--data-dir: no directory"},
      {{"run", "--config", dir / "zero.json"}, "max_generations (--generations)"},
      {{"run", "--config", dir / "minmax.json"}, "sqn_min (--sqn-min)"},
      {{"run", "--config", dir / "unknown.json"}, "colour"},
      {{"run", "--config", dir / "broken.json"}, "not valid JSON"},
      {{"run", "--config", dir / "absent.json"}, "--config: cannot read"},
      {{"run", "--sqn-min", "6"}, "sqn_min (--sqn-min): must be <= sqn_max"},
      {{"run", "--seed-features", "rsi_14,tea_leaves"}, "unknown feature 'tea_leaves'"},
      {{"run", "--holdout-fraction", "1.5"}, "holdout_fraction (--holdout-fraction): "},
      {{"run", "--holdout-fraction", "most"}, "--holdout-fraction: 'most' is not a number"},
      {{"run", "--holdout-start", "April"}, "holdout_start (--holdout-start)"},
      {{"run", "--holdout-start", "2999-01-01"},
       "holdout_start (--holdout-start): 2999-01-01 is after the last bar"},
      {{"run", "--selection-fraction", "-0.1"}, "selection_fraction (--selection-fraction)"},
      {{"run", "--holdout-sqn-min", "high"}, "--holdout-sqn-min: 'high' is not a number"},
      {{"run", "--holdout-excess-return-min", "nil"}, "--holdout-excess-return-min: 'nil' is not a number"},
      {{"run", "--holdout-excess-sqn-min", "x"}, "--holdout-excess-sqn-min: 'x' is not a number"},
      {{"run", "--holdout-looks", "0"}, "holdout_looks (--holdout-looks)"},
      {{"run", "--excess-return-min", "?"}, "--excess-return-min: '?' is not a number"},
      {{"run", "--max-drawdown-max", "0"}, "max_drawdown_max (--max-drawdown-max)"},
      {{"run", "--dsr-min", "1.5"}, "dsr_min (--dsr-min)"},
      {{"run", "--pbo-max", "-1"}, "pbo_max (--pbo-max)"},
      // Everything a run needs of the data and the engines (issue 18):
      // refused before the store is written, not failed at run time.
      {{"run", "--target-col", "nope"}, "target_col (--target-col): the built-in trainer predicts 'close'"},
      {{"run", "--seed-model-id", "mdl_missing"}, "seed_model_id: no model 'mdl_missing'"},
      {{"run", "--regimes", "[{\"nope\": [1]}]"},
       "regime_configs[0] (--regimes): unknown regime column 'nope': the built-in simulator has regime_gmm, "
       "regime_vix"},
      {{"run", "--data-options", "{\"trian_window\": 500}"},
       "data_options.trian_window (--data-options): unknown option"},
      {{"run", "--data-options", "{\"embargo\": 2}"},
       "data_options.embargo (--data-options): unknown option"},
      {{"run", "--data-options", "{\"train_window\": 5500}"},
       "data_options.train_window (--data-options): TTRC has 5550 bars; a run needs at least 5701: 199 of "
       "feature warm-up"},
      {{"run", "--timeframe", "5m"},
       "timeframe (--timeframe): '5m' names bars 300 s apart, but the bars of TTRC are 1d bars (most are 86400 s "
       "apart); leave timeframe out to take the data's"},
      {{"run", "--timeframe", "1w"}, "'1w' names bars 604800 s apart, but the bars of TTRC are 1d bars"},
      {{"run", "--timeframe", "1 minute"}, "timeframe (--timeframe): must be a bar spacing such as 1m, 5m"},
      {{"run", "--initial-cash", "1e308"}, "initial_cash (--initial-cash): must be > 0 and <= 1e+12"},
      {{"run", "--workers", "-1"}, "--workers"},
      {{"run", "--resume", "run_x", "--symbol", "TTRC"}, "--symbol cannot be given with it"},
      {{"run", "--resume", "run_missing"}, "run_missing"},
      {{"show", "run_missing"}, "run_missing"},
      {{"runs", "--status", "DANCING"}, "unknown run status 'DANCING'"},
      {{"runs", "--limit", "0"}, "--limit"},
      {{"lineage", "mdl_missing"}, "mdl_missing"},
      {{"features", "NOPE"}, "NOPE"},
      {{"features", "TTRC", "--columns", "rsi_14,tea_leaves"}, "unknown column 'tea_leaves'"},
      {{"runs", "--db", db, "--store", "sqlite:" + db}, "--db and --store"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = Evolve(c.args);
    if (std::find(c.args.begin(), c.args.end(), "--db") == c.args.end()) {
      argv.push_back("--db");
      argv.push_back(db);
    }
    if (c.args[0] != "runs" && c.args[0] != "show" && c.args[0] != "lineage" &&
        std::find(c.args.begin(), c.args.end(), "--data-dir") == c.args.end()) {
      argv.push_back("--data-dir");
      argv.push_back(kData);
    }
    if (c.args[0] == "features") argv.erase(argv.end() - 4, argv.end() - 2);  // features takes no --db
    CAPTURE(Args(argv));
    const ProcessResult r = RunProcess(argv);
    CHECK(r.exit_code == 2);
    CHECK(Lines(r.err) == 1);
    CHECK(r.err.rfind("evolve: error: ", 0) == 0);
    CHECK_MESSAGE(Contains(r.err, c.expected), r.err);
    CHECK(r.out.empty());
    CHECK(ReadFile(db) == before);
  }
  auto store = OpenDb(db);
  CHECK(store->ListRuns({})->empty());

  // A bad run never creates a database that did not exist.
  const std::string fresh = dir / "fresh.db";
  const ProcessResult r = RunProcess(Evolve({"run", "--db", fresh, "--data-dir", kData, "--sqn-min", "x"}));
  CHECK(r.exit_code == 2);
  CHECK_FALSE(FileExists(fresh));
  // Reading commands never create one either.
  CHECK(RunProcess(Evolve({"runs", "--db", fresh})).exit_code == 2);
  CHECK_FALSE(FileExists(fresh));
}

TEST_CASE("cli: an unknown command or no command is a usage error") {
  ProcessResult r = RunProcess(Evolve({"dance"}));
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.err, "unknown command 'dance'"));
  r = RunProcess({kEvolve});
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.err, "usage: evolve COMMAND"));
  r = RunProcess(Evolve({"run", "--help"}));
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.out, "--regimes JSON"));
}

// ------------------------------------------------------------- data

TEST_CASE("cli: symbols and features show what the models see, numbers exact") {
  ProcessResult r = RunProcess(Evolve({"symbols", "--data-dir", kData}));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "TTRC\n");

  r = RunProcess(Evolve({"features", "ttrc", "--data-dir", kData, "--columns", "rsi_14,ibs,return_1"}));
  REQUIRE(r.exit_code == 0);
  std::istringstream lines(r.out);
  std::string line;
  REQUIRE(std::getline(lines, line));
  CHECK(line == "date,rsi_14,ibs,return_1");

  auto bars = engines::LoadBarsCsv(kData + "/ttrc.csv", "TTRC");
  REQUIRE(bars.ok());
  auto frame = engines::ComputeFeatures(*bars);
  REQUIRE(frame.ok());
  const int rsi = frame->Index("rsi_14"), ibs = frame->Index("ibs"), ret = frame->Index("return_1");
  REQUIRE(rsi >= 0);
  size_t row = 0, empty_cells = 0;
  while (std::getline(lines, line)) {
    REQUIRE(row < frame->rows());
    std::vector<std::string> cells;
    std::stringstream fields(line);
    std::string cell;
    while (std::getline(fields, cell, ',')) cells.push_back(cell);
    if (line.back() == ',') cells.push_back("");
    REQUIRE(cells.size() == 4);
    if (row == 0) CHECK(cells[0] == "1985-01-02");
    const int cols[] = {rsi, ibs, ret};
    for (int k = 0; k < 3; ++k) {
      const double expected = frame->columns[static_cast<size_t>(cols[k])][row];
      if (std::isnan(expected)) {
        CHECK(cells[static_cast<size_t>(k) + 1].empty());
        ++empty_cells;
      } else {
        // Printed to round-trip: the parsed text is the same double.
        CHECK(std::strtod(cells[static_cast<size_t>(k) + 1].c_str(), nullptr) == expected);
      }
    }
    ++row;
  }
  CHECK(row == frame->rows());
  CHECK(empty_cells >= 14);  // rsi_14 is undefined during its warm-up
  r = RunProcess(Evolve({"features", "TTRC", "--data-dir", kData}));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.substr(0, r.out.find('\n')).find(",ibs,") != std::string::npos);
  CHECK(Lines(r.out) == frame->rows() + 1);
}

TEST_CASE("cli: features adds reference symbols' columns, aligned on the symbol's bars") {
  TempDir dir;
  engines::SyntheticOptions o;
  o.symbols = {"SYN", "REF"};
  o.bars = 300;
  auto bars = engines::GenerateSyntheticBars(o);
  REQUIRE(engines::WriteBarsCsv(bars.at("SYN"), dir / "SYN.csv").ok());
  REQUIRE(engines::WriteBarsCsv(bars.at("REF"), dir / "REF.csv").ok());
  ProcessResult r = RunProcess(Evolve({"symbols", "--data-dir", dir.path()}));
  CHECK(r.out == "REF\nSYN\n");
  r = RunProcess(Evolve({"features", "SYN", "--data-dir", dir.path(), "--reference-symbols", "REF",
                         "--columns", "return_1,ref_return_1"}));
  REQUIRE(r.exit_code == 0);
  std::istringstream lines(r.out);
  std::string header, first, second;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  CHECK(header == "date,return_1,ref_return_1");
  CHECK(first == "2000-01-03,,");  // no return on the first bar
  const double ref_close0 = bars.at("REF").close[0], ref_close1 = bars.at("REF").close[1];
  const std::string ref_cell = second.substr(second.rfind(',') + 1);
  CHECK(std::strtod(ref_cell.c_str(), nullptr) ==
        doctest::Approx(ref_close1 / ref_close0 - 1).epsilon(1e-12));
  // A reference symbol that is not in the data is an error naming it.
  r = RunProcess(Evolve({"features", "SYN", "--data-dir", dir.path(), "--reference-symbols", "QQQ"}));
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.err, "QQQ"));
}

// ------------------------------------------------------------- runs

// A run of 4 generations that always prunes and never promotes, with a 9-job
// grid per generation: long enough to be interrupted.
std::vector<std::string> LongRun(const std::string& db, const std::string& data, const std::string& workers) {
  return Evolve({"run",
                 "--db",
                 db,
                 "--data-dir",
                 data,
                 "--symbol",
                 "SYN",
                 "--generations",
                 "4",
                 "--workers",
                 workers,
                 "--pruning-strategy",
                 "keep_top_fraction",
                 "--pruning-fraction",
                 "0.7",
                 "--regimes",
                 R"([{}, {"regime_gmm": [0]}, {"regime_vix": [2, 3]}])",
                 "--sqn-min",
                 "100",
                 "--sqn-max",
                 "200"});
}

// The one run of the store, once it exists.
std::optional<Run> OnlyRun(const std::string& db) {
  if (!FileExists(db)) return std::nullopt;
  auto store = sqlite::OpenSqliteStore(db);
  if (!store.ok()) return std::nullopt;
  auto runs = (*store)->ListRuns({});
  if (!runs.ok() || runs->size() != 1) return std::nullopt;
  return runs->front();
}

// The criteria of the planted-signal test: far above what the noise reaches
// (best SQN about 2 over four generations and several seeds), below what
// the planted signal gives once pruning has removed the noise features.
std::vector<std::string> PlantedRun(const std::string& db, const std::string& data) {
  return Evolve({"run",
                 "--db",
                 db,
                 "--data-dir",
                 data,
                 "--json",
                 "--workers",
                 "2",
                 "--sqn-min",
                 "3",
                 "--sqn-max",
                 "100",
                 "--profit-factor-min",
                 "1.3",
                 "--profit-factor-max",
                 "100",
                 "--trade-count-min",
                 "100",
                 "--weekly-consistency-max",
                 "10"});
}

// `v` as the tables print it: three decimals.
std::string Num3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

Run RunOfDocument(const std::string& doc) {
  const size_t start = doc.find("\"run\":") + 6;
  auto parsed = RunFromJson(doc.substr(start, doc.find(",\"generations\":") - start));
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  return *parsed;
}

TEST_CASE("cli: a planted, learnable signal is promoted and its lineage leads back to generation 0") {
  {
    // The control: the same bars without the signal promote nothing.
    TempDir noise;
    WriteSynthetic(noise.path(), 6000, 0.0);
    const ProcessResult r = RunProcess(PlantedRun(noise / "evolve.db", noise.path()));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(RunOfDocument(r.out).status == RunStatus::kCompleted);
  }
  TempDir dir;
  WriteSynthetic(dir.path(), 6000, 0.35);
  const std::string db = dir / "evolve.db";
  const ProcessResult r = RunProcess(PlantedRun(db, dir.path()));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const Run run = RunOfDocument(r.out);
  CHECK(run.status == RunStatus::kPromoted);
  REQUIRE(run.promoted);

  auto store = OpenDb(db);
  auto promotion = store->GetPromotion(run.promotion_id);
  REQUIRE(promotion.ok());
  CHECK(promotion->sqn >= 3);
  CHECK(promotion->trade_count >= 100);
  // Generation 0, on every feature, falls short; pruning gets there.
  CHECK(promotion->generation >= 1);
  // The planted feature survives every pruning step.
  CHECK(std::count(promotion->spec.features.begin(), promotion->spec.features.end(), "ibs") == 1);

  // The lineage, through the command line: edges from the promoted model back
  // to a seed edge of generation 0, each edge's parent the next one's child.
  const ProcessResult lineage = RunProcess(Evolve({"lineage", promotion->model_id, "--db", db, "--json"}));
  REQUIRE(lineage.exit_code == 0);
  auto ancestry = store->Ancestry(promotion->model_id);
  REQUIRE(ancestry.ok());
  REQUIRE(ancestry->size() == static_cast<size_t>(promotion->generation) + 1);
  CHECK(ancestry->front().child_model_id == promotion->model_id);
  for (size_t i = 0; i + 1 < ancestry->size(); ++i) {
    CHECK((*ancestry)[i].parent_model_id == (*ancestry)[i + 1].child_model_id);
  }
  CHECK(ancestry->back().generation == 0);
  CHECK(ancestry->back().parent_model_id.empty());
  CHECK(Contains(lineage.out, "\"child_model_id\":" + JsonQuote(promotion->model_id)));

  // The other reading commands find it too.
  ProcessResult read = RunProcess(Evolve({"runs", "--db", db}));
  CHECK(read.exit_code == 0);
  CHECK(Contains(read.out, run.id));
  CHECK(Contains(read.out, "PROMOTED"));
  read = RunProcess(Evolve({"show", run.id, "--db", db}));
  CHECK(read.exit_code == 0);
  CHECK(Contains(read.out, "promoted model " + promotion->model_id));
  read = RunProcess(Evolve({"promoted", "--db", db}));
  CHECK(read.exit_code == 0);
  CHECK(Contains(read.out, promotion->model_id));

  // Research validity: the promotion was confirmed on the holdout, with the
  // selection statistics of its generation.
  REQUIRE(promotion->holdout.has_value());
  const HoldoutCheck& holdout = *promotion->holdout;
  CHECK(holdout.decided);
  CHECK(holdout.passed);
  CHECK(holdout.verdict == "PASS");
  REQUIRE(holdout.result.has_value());
  CHECK(holdout.result->span == kSpanHoldout);
  REQUIRE(promotion->selection.has_value());
  CHECK(promotion->selection->trials > 0);
  CHECK(promotion->selection->dsr.has_value());
  CHECK(promotion->selection->pbo.has_value());
  CHECK(Contains(read.out, "holdout SQN"));
  CHECK(Contains(read.out, "DSR"));
  CHECK(Contains(read.out, Num3(*holdout.result->sqn)));
  CHECK(Contains(read.out, Num3(*promotion->selection->dsr)));

  // `evolve show`: trials, DSR and PBO per generation, the holdout look, the
  // split, and the promotion's confirmation.
  read = RunProcess(Evolve({"show", run.id, "--db", db}));
  REQUIRE(read.exit_code == 0);
  for (const char* column : {"trials", "DSR", "PBO"}) CHECK_MESSAGE(Contains(read.out, column), read.out);
  CHECK_MESSAGE(
      Contains(read.out, "gen " + std::to_string(promotion->generation) + " holdout look 1 (finalist " +
                             holdout.candidate_job_id + "): PASS; SQN "),
      read.out);
  CHECK_MESSAGE(Contains(read.out, "holdout: the last 20% of the bars, from " + holdout.result->start_date),
                read.out);
  CHECK_MESSAGE(Contains(read.out, "looks at this symbol's holdout: 1 (this run 1, earlier runs 0)"),
                read.out);
  CHECK_MESSAGE(Contains(read.out, "  confirmed on the holdout look 1"), read.out);
  // What each threshold was and how many trades it made.
  CHECK_MESSAGE(Contains(read.out, "gen 0 thresholds: 0.0001: "), read.out);

  // `evolve show --json` (what `evolve run --json` printed): every
  // generation's selection and holdout as stored, and the summary.
  read = RunProcess(Evolve({"show", run.id, "--db", db, "--json"}));
  REQUIRE(read.exit_code == 0);
  CHECK(read.out == r.out);
  auto generations = store->ListGenerations(run.id);
  REQUIRE(generations.ok());
  for (const Generation& g : *generations) {
    CAPTURE(g.generation);
    CHECK(g.selection.has_value());
    CHECK(Contains(read.out, ToJson(g)));
  }
  const Generation& last = generations->back();
  REQUIRE(last.selection.has_value());
  CHECK(last.selection->dsr.has_value());
  CHECK(last.selection->pbo.has_value());
  CHECK(last.holdout.has_value());
  CHECK(Contains(read.out, "\"dsr\":"));
  CHECK(Contains(read.out, "\"pbo\":"));
  CHECK(Contains(read.out, "\"holdout\":{\"candidate_job_id\":" + JsonQuote(holdout.candidate_job_id)));
  CHECK(Contains(read.out, "\"validity\":{\"has_holdout\":true,"));
  CHECK(Contains(read.out, "\"holdout_looks\":1,\"prior_holdout_looks\":0,\"holdout\":{\"generation\":" +
                               std::to_string(promotion->generation) + ","));
}

TEST_CASE("cli: a finalist that fails its holdout confirmation is not promoted, and the run says why") {
  TempDir dir;
  WriteSynthetic(dir.path(), 6000, 0.35);
  const std::string db = dir / "evolve.db";
  std::vector<std::string> args = PlantedRun(db, dir.path());
  for (const char* a : {"--holdout-sqn-min", "1000"}) args.push_back(a);
  const ProcessResult r = RunProcess(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const Run run = RunOfDocument(r.out);
  CHECK(run.status == RunStatus::kCompleted);
  CHECK(run.stop_reason == kStopHoldoutRejected);
  CHECK_FALSE(run.promoted);

  auto store = OpenDb(db);
  auto generations = store->ListGenerations(run.id);
  REQUIRE(generations.ok());
  const Generation& last = generations->back();
  REQUIRE(last.holdout.has_value());
  CHECK(last.holdout->decided);
  CHECK_FALSE(last.holdout->passed);
  CHECK_MESSAGE(Contains(last.holdout->verdict, "< min 1000"), last.holdout->verdict);

  const ProcessResult show = RunProcess(Evolve({"show", run.id, "--db", db}));
  REQUIRE(show.exit_code == 0);
  CHECK_MESSAGE(Contains(show.out, "(holdout_rejected)"), show.out);
  CHECK_MESSAGE(
      Contains(show.out, "no model promoted: the finalist of generation " + std::to_string(last.generation) +
                             " failed its confirmation on the holdout: " + last.holdout->verdict),
      show.out);
  CHECK_MESSAGE(Contains(show.out, "holdout look 1 (finalist " + last.holdout->candidate_job_id + "): FAIL"),
                show.out);
  const ProcessResult promoted = RunProcess(Evolve({"promoted", "--db", db}));
  CHECK(promoted.exit_code == 0);
  CHECK(Contains(promoted.out, "(no promoted models)"));
}

TEST_CASE("cli: a run without a holdout says so") {
  TempDir dir;
  const std::string db = dir / "evolve.db";
  const ProcessResult r =
      RunProcess(Evolve({"run", "--db", db, "--data-dir", kData, "--generations", "1", "--workers", "2",
                         "--holdout-fraction", "0", "--selection-fraction", "0", "--dsr-min", "0.5"}));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_MESSAGE(Contains(r.out, "holdout: none (holdout_fraction 0)"), r.out);
  CHECK_MESSAGE(Contains(r.out, "DSR >= 0.5"), r.out);
  CHECK_FALSE(Contains(r.out, "holdout look"));

  // A quantile threshold: `evolve show` says what it came to, in return units.
  const ProcessResult q = RunProcess(Evolve({"run", "--db", db, "--data-dir", kData, "--generations", "1",
                                             "--workers", "2", "--thresholds", "0.0001,q90", "--json"}));
  INFO(q.err);
  REQUIRE(q.exit_code == 0);
  const std::string id = q.out.substr(q.out.find("\"id\":\"") + 6, 28);
  const ProcessResult show = RunProcess(Evolve({"show", id, "--db", db}));
  REQUIRE(show.exit_code == 0);
  CHECK_MESSAGE(Contains(show.out, "2 thresholds x 1 regime filters"), show.out);
  CHECK_MESSAGE(Contains(show.out, "; q90 = 0.00"), show.out);
}

// Starts the long run with no in-process workers and lets one evolve-worker
// complete generation 0's 9 jobs and 4 of generation 1's before it exits:
// the run is then deterministically mid-way (generation 1 trained and
// queued, 5 jobs pending) and its process only waiting, whatever the speed
// of the machine. Returns the engine's process; `run_id` is set.
Process StartRunStoppedMidway(const std::string& db, const std::string& data, std::string* run_id) {
  REQUIRE(RunProcess(Evolve({"migrate", "--db", db})).exit_code == 0);
  Process engine = Process::Spawn(LongRun(db, data, "0"), {{"LOG_LEVEL", "INFO"}});
  const ProcessResult worker = RunProcess(
      {kWorker, "--db", db, "--worker-id", "helper", "--max-jobs", "13", "--poll-interval", "0.05"});
  INFO(worker.err);
  REQUIRE(worker.exit_code == 0);
  REQUIRE(Contains(worker.out, "completed=13"));
  std::optional<Run> run = OnlyRun(db);
  REQUIRE(run.has_value());
  *run_id = run->id;
  // The engine has seen the last completion and queued nothing more.
  REQUIRE(WaitFor([&] {
    auto store = sqlite::OpenSqliteStore(db);
    JobFilter pending;
    pending.status = JobStatus::kPending;
    return store.ok() && (*store)->ListJobs(pending)->size() == 5;
  }));
  return engine;
}

TEST_CASE("cli: a run killed with SIGKILL resumes without retraining or running a job twice") {
  TempDir dir;
  WriteSynthetic(dir.path(), 4000, 0.5);
  const std::string db = dir / "evolve.db";
  std::string run_id;
  Process first = StartRunStoppedMidway(db, dir.path(), &run_id);
  // While its process lives, nobody else may step the run.
  const ProcessResult refused =
      RunProcess(Evolve({"run", "--resume", run_id, "--db", db, "--data-dir", dir.path()}));
  CHECK(refused.exit_code == 1);
  CHECK(Contains(refused.err, "is being run by another process"));
  first.Signal(SIGKILL);
  const ProcessResult killed = first.Wait();
  REQUIRE(killed.exit_code == 128 + SIGKILL);
  REQUIRE(OnlyRun(db)->status == RunStatus::kRunning);
  const std::set<std::string> trained_before = LoggedFingerprints(killed.err, "model recorded");
  CHECK(trained_before.size() == 2);  // generations 0 and 1

  const ProcessResult resumed = RunProcess(
      Evolve({"run", "--resume", run_id, "--db", db, "--data-dir", dir.path()}), {{"LOG_LEVEL", "INFO"}});
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(Contains(resumed.err, "resuming run " + run_id));
  // The trainer was not asked again for a model whose training finished;
  // only generations 2 and 3 were trained.
  const std::set<std::string> trained_after = LoggedFingerprints(resumed.err, "training model");
  CHECK(trained_after.size() == 2);
  for (const std::string& fp : trained_after) {
    CAPTURE(fp);
    CHECK(trained_before.count(fp) == 0);
  }

  auto store = OpenDb(db);
  auto run = store->GetRun(run_id);
  REQUIRE(run.ok());
  CHECK(run->status == RunStatus::kCompleted);
  CHECK(run->stop_reason == kStopMaxGenerations);
  auto gens = store->ListGenerations(run_id);
  REQUIRE(gens->size() == 4);
  std::set<std::string> models;
  for (const Generation& g : *gens) {
    CHECK(g.jobs_completed == 9);
    models.insert(g.model_id);
  }
  CHECK(models.size() == 4);
  CheckEveryJobCompletedOnce(*store, run_id, 36);
}

TEST_CASE("cli: --resume hands back at once the jobs the in-process workers of a killed run held") {
  TempDir dir;
  WriteSynthetic(dir.path(), 20000, 0.5);
  const std::string db = dir / "evolve.db";
  // One worker that claims the whole 1,000-job grid at once.
  Process first = SpawnThousandJobRun(db, dir.path());
  // Frozen, looked at and killed while its worker holds jobs (the run takes
  // well under a second, so it is frozen most of the time).
  const std::vector<std::string> held = KillWhileHolding(first, db, "evolve-run-");
  const std::string run_id = OnlyRun(db)->id;

  const ProcessResult resumed =
      RunProcess(Evolve({"run", "--resume", run_id, "--db", db, "--data-dir", dir.path()}));
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  // Handed back when the resume started, not after the 20 s lease.
  CHECK(Contains(resumed.err,
                 "handed back " + std::to_string(held.size()) + " job(s) held by workers of a dead"));
  auto store = OpenDb(db);
  for (const std::string& id : held) {
    CAPTURE(id);
    Result<Job> job = store->GetJob(id);
    REQUIRE(job.ok());
    CHECK(job->status == JobStatus::kCompleted);
    CHECK(job->attempts == 1);  // the killed holder's attempt was given back
    CHECK(job->deaths == 1);
  }
  CheckEveryJobCompletedOnce(*store, run_id, 1000);
}

TEST_CASE("cli: SIGINT stops a run cleanly, says how to resume, and --resume finishes it") {
  TempDir dir;
  WriteSynthetic(dir.path(), 4000, 0.5);
  const std::string db = dir / "evolve.db";
  std::string run_id;
  Process first = StartRunStoppedMidway(db, dir.path(), &run_id);
  first.Signal(SIGINT);
  const ProcessResult stopped = first.Wait();
  INFO(stopped.err);
  CHECK(stopped.exit_code == 130);
  CHECK(Contains(stopped.err, "resume with: " + kEvolve + " run --resume " + run_id + " --db " + db));
  {
    auto store = OpenDb(db);
    CHECK(store->GetRun(run_id)->status == RunStatus::kStopped);
  }
  const ProcessResult resumed =
      RunProcess(Evolve({"run", "--resume", run_id, "--db", db, "--data-dir", dir.path()}));
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(Contains(resumed.out, "run " + run_id + " COMPLETED (max_generations)"));
  auto store = OpenDb(db);
  CheckEveryJobCompletedOnce(*store, run_id, 36);
}

TEST_CASE(
    "cli: an engine-only run and two evolve-worker processes share one SQLite file, no job runs twice") {
  TempDir dir;
  WriteSynthetic(dir.path(), 3000, 0.5);
  const std::string db = dir / "evolve.db";
  REQUIRE(RunProcess(Evolve({"migrate", "--db", db})).exit_code == 0);
  std::vector<std::string> engine_only = LongRun(db, dir.path(), "0");
  engine_only.push_back("--thresholds");
  engine_only.push_back("0.0001,0.0002,0.0003,0.0004,0.0005,0.0006,0.0007,0.0008");
  Process engine = Process::Spawn(engine_only);
  std::vector<Process> workers;
  for (const char* id : {"w1", "w2"}) {
    workers.push_back(Process::Spawn({kWorker, "--db", db, "--worker-id", id, "--poll-interval", "0.05"}));
  }
  const ProcessResult run = engine.Wait();
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  int64_t completed = 0;
  std::set<std::string> seen_workers;
  for (Process& w : workers) {
    w.Signal(SIGTERM);
    const ProcessResult r = w.Wait();
    INFO(r.err);
    CHECK(r.exit_code == 0);
    const size_t at = r.out.find("completed=");
    REQUIRE(at != std::string::npos);
    const int64_t n = std::stoll(r.out.substr(at + 10));
    completed += n;
    CHECK(Contains(r.out, "lost=0"));
  }
  auto store = OpenDb(db);
  const std::string run_id = store->ListRuns({})->front().id;
  JobFilter filter;
  filter.run_id = run_id;
  auto jobs = store->ListJobs(filter);
  REQUIRE(jobs.ok());
  CHECK(jobs->size() == 4 * 24);
  for (const Job& job : *jobs) {
    CAPTURE(job.id);
    CHECK(job.status == JobStatus::kCompleted);
    CHECK(job.attempts == 1);  // claimed once: never handed to a second worker
    seen_workers.insert(job.worker_id);
  }
  CHECK(completed == static_cast<int64_t>(jobs->size()));  // each job simulated once in all
  CHECK(seen_workers == std::set<std::string>{"w1", "w2"});
  CheckEveryJobCompletedOnce(*store, run_id, jobs->size());
}

}  // namespace
}  // namespace evolve::testing
