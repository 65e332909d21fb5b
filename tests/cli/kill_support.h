// Killing a process while its in-process workers hold jobs, and knowing
// exactly which (issue 18: runs that can always finish): the process is
// frozen (SIGSTOP), the SQLite file read, and the process SIGKILLed when
// its workers hold jobs, else let go on a little.
#ifndef EVOLVE_TESTS_CLI_KILL_SUPPORT_H_
#define EVOLVE_TESTS_CLI_KILL_SUPPORT_H_

#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli_test_support.h"
#include "evolve/sqlite/sqlite_store.h"
#include "process.h"

namespace evolve::testing {

// `evolve run` of one generation whose single in-process worker claims the
// whole 1,000-job grid (100 thresholds x 10 regime filters) at once, on the
// synthetic bars in `data_dir`; nothing is promoted (sqn_min 100).
inline Process SpawnThousandJobRun(const std::string& db, const std::string& data_dir) {
  // Trained inline: the model is there before the grid is queued, so what
  // a killed process holds is always simulations of the one grid (a worker
  // holds at most one training job at a time).
  return Process::Spawn(Evolve({"run", "--db", db, "--data-dir", data_dir, "--symbol", "SYN", "--workers",
                                "1", "--training", "inline", "--generations", "1", "--thresholds",
                                Thresholds(100), "--regimes", kTenRegimes, "--sqn-min", "100", "--sqn-max",
                                "200"}));
}

// The jobs held by the in-process workers of the process `pid`, whose
// worker ids are "<prefix><host>-<pid>[-N]" ("evolve-run-", "evolve-serve-"),
// read from the file; nothing when it is locked (a frozen process may be
// inside a write).
inline std::optional<std::vector<std::string>> HeldByProcess(const std::string& db, pid_t pid,
                                                             const std::string& prefix) {
  sqlite::SqliteOptions options;
  options.busy_timeout = std::chrono::milliseconds(200);
  auto store = sqlite::OpenSqliteStore(db, options);
  if (!store.ok()) return std::nullopt;
  JobFilter running;
  running.status = JobStatus::kRunning;
  auto jobs = (*store)->ListJobs(running);
  if (!jobs.ok()) return std::nullopt;
  std::vector<std::string> ids;
  for (const Job& job : *jobs) {
    const std::string suffix = "-" + std::to_string(pid);
    const std::string& w = job.worker_id;
    const bool ours =
        w.rfind(prefix, 0) == 0 &&
        (w.find(suffix + "-") != std::string::npos ||
         (w.size() >= suffix.size() && w.compare(w.size() - suffix.size(), suffix.size(), suffix) == 0));
    if (ours) ids.push_back(job.id);
  }
  return ids;
}

// Freezes `process`, looks, and kills it when its worker holds jobs (what
// it held is then known exactly); else lets it run a little and looks again.
inline std::vector<std::string> KillWhileHolding(Process& process, const std::string& db,
                                                 const std::string& prefix) {
  std::vector<std::string> held;
  const bool killed = WaitFor([&] {
    process.Signal(SIGSTOP);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    std::optional<std::vector<std::string>> seen = HeldByProcess(db, process.pid(), prefix);
    if (!seen.has_value() || seen->empty()) {
      process.Signal(SIGCONT);
      return false;
    }
    held = *seen;
    process.Signal(SIGKILL);
    return true;
  });
  REQUIRE_MESSAGE(killed, process.ErrSoFar());
  process.Wait();
  return held;
}

// After the run finished: each job in `held_at_kill` (job id -> how many
// killed processes held it) is COMPLETED, with one death per process that
// died holding it, and no attempt used by a death.
inline void CheckDeathsCounted(Store& store, const std::map<std::string, int>& held_at_kill) {
  for (const auto& [id, deaths] : held_at_kill) {
    CAPTURE(id);
    Result<Job> job = store.GetJob(id);
    REQUIRE(job.ok());
    CHECK(job->status == JobStatus::kCompleted);
    CHECK(job->deaths == deaths);
    CHECK(job->attempts == 1);
  }
}

}  // namespace evolve::testing

#endif  // EVOLVE_TESTS_CLI_KILL_SUPPORT_H_
