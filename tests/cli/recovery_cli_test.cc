// Runs that can always finish (issue 18): `evolve run` killed with SIGKILL
// three times while its worker holds the same jobs, on one SQLite file;
// the fourth process finishes the run with every job completed once. The
// deaths are counted apart from attempts, so none of the jobs fails.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli_test_support.h"
#include "evolve/sqlite/sqlite_store.h"
#include "kill_support.h"
#include "process.h"

namespace evolve::testing {
namespace {

TEST_CASE("cli: killed three times while holding the same jobs, the run still finishes, each job once") {
  TempDir dir;
  WriteSynthetic(dir.path(), 20000, 0.5);
  const std::string db = dir / "evolve.db";
  // One worker that claims the whole 1,000-job grid at once, so every
  // process holds the same jobs.
  Process first = SpawnThousandJobRun(db, dir.path());
  // Per job, how many of the killed processes held it: its deaths. A
  // process claims in batches, so a later one may hold jobs an earlier one
  // never got to; the jobs at the front of the claim order are held by all.
  std::map<std::string, int> held_at_kill;
  for (const std::string& id : KillWhileHolding(first, db, "evolve-run-")) ++held_at_kill[id];
  REQUIRE_FALSE(held_at_kill.empty());
  std::string run_id;
  {
    auto store = sqlite::OpenSqliteStore(db);
    REQUIRE(store.ok());
    auto runs = (*store)->ListRuns(RunFilter{});
    REQUIRE(runs.ok());
    REQUIRE(runs->size() == 1);
    run_id = runs->front().id;
  }

  // Two more deaths: each --resume hands the dead worker's jobs back at
  // once (a death, not an attempt), claims them again, and is killed.
  for (int death = 2; death <= 3; ++death) {
    CAPTURE(death);
    Process again = Process::Spawn(Evolve({"run", "--resume", run_id, "--db", db, "--data-dir", dir.path()}));
    const std::vector<std::string> now_held = KillWhileHolding(again, db, "evolve-run-");
    REQUIRE_FALSE(now_held.empty());
    for (const std::string& id : now_held) {
      CHECK(held_at_kill.count(id) == 1);  // the first process claimed the whole grid
      ++held_at_kill[id];
    }
  }
  // The same jobs were held by all three.
  CHECK(std::any_of(held_at_kill.begin(), held_at_kill.end(), [](const auto& h) { return h.second == 3; }));
  {
    auto run = (*sqlite::OpenSqliteStore(db))->GetRun(run_id);
    REQUIRE(run.ok());
    CHECK(run->status == RunStatus::kRunning);
  }

  // The fourth process finishes the run.
  const ProcessResult resumed =
      RunProcess(Evolve({"run", "--resume", run_id, "--db", db, "--data-dir", dir.path()}));
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  auto store = sqlite::OpenSqliteStore(db);
  REQUIRE(store.ok());
  auto run = (*store)->GetRun(run_id);
  REQUIRE(run.ok());
  CHECK(run->status == RunStatus::kCompleted);
  CHECK(run->error.empty());
  CheckDeathsCounted(**store, held_at_kill);
  CheckEveryJobCompletedOnce(**store, run_id, 1000);
}

}  // namespace
}  // namespace evolve::testing
