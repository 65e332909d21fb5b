// The HTTP suite of `evolve serve` (serve_suite.h) on SQLite files.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "evolve/sqlite/sqlite_store.h"
#include "kill_support.h"
#include "serve_suite.h"

namespace evolve::testing {
namespace {

class SqliteUnderTest final : public StoreUnderTest {
 public:
  std::vector<std::string> Args() const override { return {"--db", dir_ / "evolve.db"}; }
  std::unique_ptr<Store> Open() const override {
    auto store = sqlite::OpenSqliteStore(dir_ / "evolve.db");
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    return std::move(*store);
  }

 private:
  TempDir dir_;
};

std::unique_ptr<StoreUnderTest> MakeSqlite() { return std::make_unique<SqliteUnderTest>(); }

EVOLVE_SERVE_SUITE("serve sqlite", MakeSqlite)

// A run the service could not lock would be stored and never stepped: the
// request is refused instead, with nothing stored. The run-lock file beside
// the database is made a directory, which no process (root included) can
// open as the lock file.
TEST_CASE("serve sqlite: POST /evolve is 503 and stores nothing when the service cannot lock runs") {
  TempDir dir;
  TempDir data;
  WriteSymbols(data.path(), {"AAPL"}, 1600);
  const std::string db = dir / "evolve.db";
  REQUIRE(std::filesystem::create_directory(db + "-runs.lock"));
  Server server({"--db", db, "--data-dir", data.path()});
  const Reply r = server.Post("/evolve", R"({"symbol": "AAPL"})");
  CHECK(r.status == 503);
  CHECK(Str((*Json(r))["error"], "code") == "unavailable");
  CHECK_MESSAGE(Contains(r.body, "cannot schedule runs"), r.body);
  CHECK(Int(*Json(server.Get("/api/stats")), "total_runs") == 0);
}

// The service killed three times while its in-process worker holds the
// same jobs: each death is counted apart from the job's attempts, each
// restart hands the dead process's jobs back and adopts the run, and the
// fourth process finishes it with every job completed once (issue 18).
TEST_CASE("serve sqlite: killed three times while holding the same jobs, a restart finishes the run") {
  TempDir dir;
  TempDir data;
  WriteSynthetic(data.path(), 20000, 0.5);
  const std::string db = dir / "evolve.db";
  // One worker that claims the whole 1,000-job grid at once, so every
  // process holds the same jobs; the model trained inline, so what it
  // holds is that grid.
  Server server({"--db", db, "--data-dir", data.path(), "--workers", "1", "--training", "inline"});
  const Reply posted = server.Post(
      "/evolve", std::string(R"({"symbol": "SYN", "max_generations": 1, "sqn_min": 100, "sqn_max": 200, )") +
                     R"("thresholds": [)" + Thresholds(100) + R"(], "regime_configs": )" + kTenRegimes + "}");
  INFO(posted.body);
  REQUIRE(posted.status == 202);
  const std::string run_id = Str(*Json(posted), "run_id");

  // Per job, how many of the killed processes held it: its deaths (a
  // process claims in batches, so a later one may hold jobs an earlier one
  // never got to).
  std::map<std::string, int> held_at_kill;
  for (int death = 1; death <= 3; ++death) {
    CAPTURE(death);
    if (death > 1) server.Start();  // adopts the run; hands the dead one's jobs back
    const std::vector<std::string> held = KillWhileHolding(server.process(), db, "evolve-serve-");
    REQUIRE_FALSE(held.empty());
    for (const std::string& id : held) ++held_at_kill[id];
  }
  // The same jobs were held by all three.
  CHECK(std::any_of(held_at_kill.begin(), held_at_kill.end(), [](const auto& h) { return h.second == 3; }));

  server.Start();
  auto doc = server.WaitForRunEnd(run_id);
  CHECK(Str((*doc)["run"], "status") == "COMPLETED");
  auto store = sqlite::OpenSqliteStore(db);
  REQUIRE(store.ok());
  CheckDeathsCounted(**store, held_at_kill);
  CheckEveryJobCompletedOnce(**store, run_id, 1000);
}

// A full disk during training: the service's file size limit
// (RLIMIT_FSIZE, set on the running process with prlimit(2), its SIGXFSZ
// ignored so writes fail with EFBIG as on a full disk) stops the model's
// blobs from being written. The run waits (RUNNING, no error), /health says
// the store refuses writes, and once the limit is lifted the run finishes.
TEST_CASE("serve sqlite: a disk full during training pauses the run, /health reports it, it finishes after") {
  // Inherited through fork and exec: the service gets EFBIG, not killed.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  REQUIRE(::sigaction(SIGXFSZ, &ignore, &previous) == 0);
  TempDir dir;
  TempDir data;
  // 4,000 bars: the simulation inputs alone are some 200 KB.
  WriteSymbols(data.path(), {"AAPL"}, 4000);
  const std::string db = dir / "evolve.db";
  Server server({"--db", db, "--data-dir", data.path()});
  REQUIRE(::sigaction(SIGXFSZ, &previous, nullptr) == 0);
  REQUIRE(server.Get("/health").status == 200);

  // Room for the run's rows, not for a model's blobs.
  auto size = [](const std::string& path) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(path, ec);
    return ec ? uintmax_t{0} : n;
  };
  const rlim_t limit = std::max(size(db), size(db + "-wal")) + 64 * 1024;
  const rlimit full{limit, RLIM_INFINITY};
  REQUIRE(::prlimit(server.process().pid(), RLIMIT_FSIZE, &full, nullptr) == 0);

  const Reply posted = server.Post("/evolve", R"({"symbol": "AAPL", "max_generations": 2})");
  INFO(posted.body);
  REQUIRE(posted.status == 202);
  const std::string run_id = Str(*Json(posted), "run_id");
  CHECK(WaitFor([&] {
    const Reply h = server.Get("/health");
    return h.status == 503 && Contains(h.body, "\"degraded\"") && Contains(h.body, "refuses writes");
  }));
  {
    const Reply r = server.Get("/runs/" + run_id);
    REQUIRE(r.status == 200);
    CHECK(Str((*Json(r))["run"], "status") == "RUNNING");
    CHECK(Str((*Json(r))["run"], "error").empty());
  }

  const rlimit room{RLIM_INFINITY, RLIM_INFINITY};
  REQUIRE(::prlimit(server.process().pid(), RLIMIT_FSIZE, &room, nullptr) == 0);
  auto doc = server.WaitForRunEnd(run_id);
  const std::string status = Str((*doc)["run"], "status");
  CHECK_MESSAGE((status == "COMPLETED" || status == "PROMOTED"), Serialize((*doc)["run"]));
  CHECK(Int((*doc)["jobs"], "failed") == 0);
  CHECK(WaitFor([&] { return server.Get("/health").status == 200; }));
}

}  // namespace
}  // namespace evolve::testing
