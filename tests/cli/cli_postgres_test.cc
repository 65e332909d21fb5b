// End-to-end tests of `evolve run` and `evolve-worker` on PostgreSQL: real
// processes on the test server (the CTest fixture `evolve_postgres`), a
// worker killed while it holds jobs, the server restarted mid-run.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli_postgres_support.h"
#include "cli_test_support.h"
#include "evolve/postgres/postgres_store.h"
#include "postgres_test_support.h"
#include "process.h"

namespace evolve::testing {
namespace {

std::vector<Job> JobsOf(Store& store, const std::string& run_id,
                        std::optional<JobStatus> status = std::nullopt) {
  JobFilter filter;
  filter.run_id = run_id;
  filter.status = status;
  auto jobs = store.ListJobs(filter);
  REQUIRE(jobs.ok());
  return *jobs;
}

TEST_CASE("postgres cli: 3 evolve-workers and 2,000 jobs, one killed while holding jobs loses none") {
  TestDatabase db;
  TempDir dir;
  WriteSynthetic(dir.path(), 1500, 0.5);
  REQUIRE(RunProcess(Evolve({"migrate", "--store", db.url()})).exit_code == 0);
  // Two generations of 100 thresholds x 10 regime filters (a config allows
  // at most 100 thresholds), for external workers only.
  Process engine = Process::Spawn(Evolve({"run",
                                          "--store",
                                          db.url(),
                                          "--data-dir",
                                          dir.path(),
                                          "--symbol",
                                          "SYN",
                                          "--workers",
                                          "0",
                                          "--generations",
                                          "2",
                                          "--pruning-strategy",
                                          "keep_top_fraction",
                                          "--thresholds",
                                          Thresholds(100),
                                          "--regimes",
                                          kTenRegimes,
                                          "--sqn-min",
                                          "100",
                                          "--sqn-max",
                                          "200",
                                          "--data-options",
                                          R"({"train_window": 500, "test_window": 100})"}));
  constexpr int kLeaseSeconds = 4;
  std::map<std::string, Process> workers;
  auto start_worker = [&](const std::string& id) {
    workers.emplace(
        id, Process::Spawn({kWorker, "--store", db.url(), "--worker-id", id, "--max-jobs-per-claim", "20",
                            "--lease", std::to_string(kLeaseSeconds), "--poll-interval", "0.2"},
                           {{"LOG_LEVEL", "WARNING"}}));
  };
  // w2 first, alone, so that it is busy with the queue (and holds claims)
  // until it is killed; w1 and w3 then drain everything, w2's jobs included
  // once their leases run out.
  start_worker("w2");
  auto store = OpenPg(db.url());
  std::string run_id;
  std::vector<std::string> held_at_kill;
  // Kill w2 at a moment it holds claimed jobs. Once it is seen holding some,
  // freeze it (SIGSTOP), let a commit it already sent land, and read again:
  // what a frozen process holds cannot change before the kill.
  auto held_by_w2 = [&] {
    std::vector<std::string> held;
    for (const Job& job : JobsOf(*store, run_id, JobStatus::kRunning)) {
      if (job.worker_id == "w2") held.push_back(job.id);
    }
    return held;
  };
  const bool killed = WaitFor([&] {
    auto runs = store->ListRuns({});
    if (!runs.ok() || runs->empty()) return false;
    run_id = runs->front().id;
    if (held_by_w2().empty()) return false;
    Process& w2 = workers.at("w2");
    w2.Signal(SIGSTOP);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    held_at_kill = held_by_w2();
    if (held_at_kill.empty()) {
      w2.Signal(SIGCONT);
      return false;
    }
    w2.Signal(SIGKILL);
    return true;
  });
  REQUIRE_MESSAGE(killed, "w2 never held a job; the engine said: " << engine.ErrSoFar());
  const auto killed_at = std::chrono::steady_clock::now();
  CHECK(workers.at("w2").Wait().exit_code == 128 + SIGKILL);
  start_worker("w1");
  start_worker("w3");

  const ProcessResult run = engine.Wait();
  const double recovery = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  for (const char* id : {"w1", "w3"}) StopWorkerCleanly(workers.at(id));
  MESSAGE("the run finished " << recovery << " s after the kill (lease " << kLeaseSeconds << " s); w2 held "
                              << held_at_kill.size() << " jobs");
  // Not stuck: the held jobs came back once their lease ran out. The bound
  // is generous (a loaded machine), the point is "not forever".
  CHECK(recovery < kLeaseSeconds + 60);

  const std::vector<Job> jobs = JobsOf(*store, run_id);
  REQUIRE(jobs.size() == 2000);
  CHECK(JobsOf(*store, run_id, JobStatus::kRunning).empty());
  for (const std::string& id : held_at_kill) {
    Result<Job> job = store->GetJob(id);
    REQUIRE(job.ok());
    CAPTURE(id);
    CHECK(job->status == JobStatus::kCompleted);
    CHECK(job->worker_id != "w2");  // finished by a live worker
    CHECK(job->attempts == 1);      // the dead holder's attempt was given back
    CHECK(job->deaths == 1);
  }
  CheckEveryJobCompletedOnce(*store, run_id, 2000);

  // The reading commands read PostgreSQL as they read SQLite.
  ProcessResult read = RunProcess(Evolve({"runs", "--store", db.url()}));
  CHECK(read.exit_code == 0);
  CHECK(Contains(read.out, run_id));
  read = RunProcess(Evolve({"show", run_id, "--store", db.url(), "--json"}));
  CHECK(read.exit_code == 0);
  CHECK(Contains(read.out, "\"completed\":2000"));
  auto gens = store->ListGenerations(run_id);
  REQUIRE(gens.ok());
  REQUIRE(!gens->empty());
  read = RunProcess(Evolve({"lineage", gens->back().model_id, "--store", db.url()}));
  CHECK(read.exit_code == 0);
  CHECK(Contains(read.out, "(seed)"));
}

TEST_CASE(
    "postgres cli: the server restarts mid-run, the engine and the workers reconnect and nothing is lost") {
  TestServer server;
  auto db = std::make_unique<TestDatabase>(server.url());
  TempDir dir;
  WriteSynthetic(dir.path(), 2000, 0.5);
  const std::string url = db->url();
  REQUIRE(RunProcess(Evolve({"migrate", "--store", url})).exit_code == 0);
  // 3 generations of 400 jobs: long enough that the restart lands mid-run.
  Process engine = Process::Spawn(Evolve({"run",
                                          "--store",
                                          url,
                                          "--data-dir",
                                          dir.path(),
                                          "--symbol",
                                          "SYN",
                                          "--workers",
                                          "0",
                                          "--generations",
                                          "3",
                                          "--pruning-strategy",
                                          "keep_top_fraction",
                                          "--pruning-fraction",
                                          "0.7",
                                          "--thresholds",
                                          Thresholds(40),
                                          "--regimes",
                                          kTenRegimes,
                                          "--sqn-min",
                                          "100",
                                          "--sqn-max",
                                          "200"}),
                                  {{"LOG_LEVEL", "INFO"}});
  std::vector<Process> workers;
  for (const char* id : {"w1", "w2"}) {
    workers.push_back(Process::Spawn({kWorker, "--store", url, "--worker-id", id, "--max-jobs-per-claim", "5",
                                      "--lease", "10", "--poll-interval", "0.2"}));
  }
  std::string run_id;
  {
    auto store = OpenPg(url);
    REQUIRE(WaitFor([&] {
      auto runs = store->ListRuns({});
      if (!runs.ok() || runs->empty()) return false;
      run_id = runs->front().id;
      return JobsOf(*store, run_id, JobStatus::kCompleted).size() >= 50;
    }));
  }
  server.Restart();
  {
    auto store = OpenPg(url);
    auto run = store->GetRun(run_id);
    REQUIRE(run.ok());
    REQUIRE_MESSAGE(run->status == RunStatus::kRunning, "the run ended before the restart; make it longer");
  }
  const ProcessResult run = engine.Wait();
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  int64_t reported = 0;
  for (Process& w : workers) {
    w.Signal(SIGTERM);
    const ProcessResult r = w.Wait();
    INFO(r.err);
    CHECK(r.exit_code == 0);
    const size_t at = r.out.find("completed=");
    REQUIRE(at != std::string::npos);
    reported += std::stoll(r.out.substr(at + 10));
  }
  auto store = OpenPg(url);
  auto done = store->GetRun(run_id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kCompleted);
  auto gens = store->ListGenerations(run_id);
  REQUIRE(gens->size() == 3);
  for (const Generation& g : *gens) CHECK(g.jobs_completed == 400);
  // The store's own counters prove each job completed once. The workers'
  // counts may fall short: a commit whose answer the restart cut off was
  // written, but its worker could not know it (its retry then finds the
  // job finished and counts it lost). They can never exceed the jobs.
  CheckEveryJobCompletedOnce(*store, run_id, 1200);
  CHECK(reported <= 1200);
  store.reset();
  db.reset();
}

TEST_CASE("postgres cli: evolve-worker waits for a database that is not up, and SIGTERM ends the wait") {
  // Nothing listens on port 1.
  Process worker = Process::Spawn({kWorker, "--store", "postgresql://evolve@127.0.0.1:1/none"});
  // It keeps retrying (it would have exited at once otherwise).
  REQUIRE(WaitFor([&] { return Contains(worker.ErrSoFar(), "retry_in_s=2"); }, std::chrono::seconds(30)));
  worker.Signal(SIGTERM);
  const ProcessResult r = worker.Wait();
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.err, "store unavailable; retrying"));
  // A setting that can never work is not retried.
  const ProcessResult bad = RunProcess({kWorker, "--store", "mysql://nope"});
  CHECK(bad.exit_code == 2);
  CHECK(Contains(bad.err, "not a store URL"));
}

}  // namespace
}  // namespace evolve::testing
