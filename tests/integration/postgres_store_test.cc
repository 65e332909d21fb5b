// PostgresStore on a real server (CTest's evolve_postgres fixture): the Store
// contract suite, claim priority over a backlog, many claimers with their own
// connections, concurrent migrations, reconnecting after a server restart,
// and LISTEN/NOTIFY between stores.
#include "evolve/postgres/postgres_store.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "evolve/clock.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "postgres_test_support.h"
#include "store_contract.h"

namespace evolve::postgres {
namespace {

using testing::RealTimeHarness;
using testing::StoreHarness;
using testing::TestDatabase;
using testing::TestServer;
using testing::store_contract::Contains;
using testing::store_contract::Enqueue;
using testing::store_contract::EventLog;
using testing::store_contract::kLongLease;
using testing::store_contract::MakeJob;
using testing::store_contract::MakeResult;
using testing::store_contract::MakeRun;
using testing::store_contract::MustGetJob;

std::unique_ptr<PostgresStore> MustOpen(const std::string& url, const PostgresOptions& options = {}) {
  Result<std::unique_ptr<PostgresStore>> store = PostgresStore::Open(url, options);
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  return std::move(store).value();
}

// The contract's RealTimeHarness over a store on a fresh database, dropped
// after the store is closed.
class PostgresHarness final : public StoreHarness {
 public:
  PostgresHarness() : inner_(MustOpen(database_.url())) {}

  Store& store() override { return inner_.store(); }
  void AdvanceTime(Duration d) override { inner_.AdvanceTime(d); }
  bool exact_time() const override { return inner_.exact_time(); }

 private:
  TestDatabase database_;  // declared first: outlives the store
  RealTimeHarness inner_;
};

// `count` jobs of one batch, all of `priority`.
std::vector<Job> MakeBatch(const std::string& prefix, const std::string& batch_id, const std::string& run_id,
                           int count, double priority) {
  std::vector<Job> jobs;
  for (int i = 0; i < count; ++i) {
    jobs.push_back(MakeJob(prefix + std::to_string(i), batch_id, run_id, priority));
  }
  return jobs;
}

}  // namespace

EVOLVE_STORE_CONTRACT_TESTS("postgres", std::make_unique<PostgresHarness>())

namespace {

TEST_CASE("postgres store: a late high-priority batch is claimed before a backlog") {
  TestDatabase database;
  std::unique_ptr<PostgresStore> store = MustOpen(database.url());
  Enqueue(*store, "run-low", "batch-low", MakeBatch("low-", "batch-low", "run-low", 200, 0.5));
  std::this_thread::sleep_for(std::chrono::milliseconds(10));  // a later created_at
  Enqueue(*store, "run-high", "batch-high", MakeBatch("high-", "batch-high", "run-high", 10, 3.0));

  std::vector<std::string> claimed;
  for (int i = 0; i < 4; ++i) {  // claims of 3: the fourth crosses into the backlog
    Result<std::vector<Job>> jobs = store->ClaimJobs("worker-1", 3, kLongLease);
    REQUIRE_MESSAGE(jobs.ok(), jobs.status().ToString());
    for (const Job& job : *jobs) claimed.push_back(job.id);
  }
  REQUIRE(claimed.size() == 12);
  for (int i = 0; i < 10; ++i) CHECK_MESSAGE(claimed[i].rfind("high-", 0) == 0, claimed[i]);
  CHECK(claimed[10].rfind("low-", 0) == 0);
  CHECK(claimed[11].rfind("low-", 0) == 0);
}

TEST_CASE("postgres store: eight claimers with their own connections never share a job") {
  TestDatabase database;
  constexpr int kJobs = 2000;
  constexpr int kClaimers = 8;
  {
    std::unique_ptr<PostgresStore> store = MustOpen(database.url());
    for (int b = 0; b < 4; ++b) {
      const std::string batch = "batch-" + std::to_string(b);
      std::vector<Job> jobs;
      for (int i = 0; i < kJobs / 4; ++i) {
        jobs.push_back(MakeJob(batch + "-" + std::to_string(i), batch, "run-hammer", (b * 7 + i) % 5));
      }
      Enqueue(*store, "run-hammer", batch, jobs);
    }
  }

  std::vector<std::unique_ptr<PostgresStore>> stores;
  for (int t = 0; t < kClaimers; ++t) stores.push_back(MustOpen(database.url()));
  std::vector<std::vector<std::string>> claimed_by(kClaimers);
  std::vector<std::string> errors;
  std::mutex errors_mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < kClaimers; ++t) {
    threads.emplace_back([&, t] {
      PostgresStore& store = *stores[static_cast<size_t>(t)];
      const std::string worker = "worker-" + std::to_string(t);
      for (int round = 0;; ++round) {
        const int batch_size = 1 + (round + t) % 10;  // 1..10 at a time
        Result<std::vector<Job>> jobs = store.ClaimJobs(worker, batch_size, kLongLease);
        if (!jobs.ok()) {
          std::lock_guard<std::mutex> lock(errors_mu);
          errors.push_back(jobs.status().ToString());
          return;
        }
        if (jobs->empty()) return;
        std::vector<JobOutcome> outcomes;
        for (const Job& job : *jobs) {
          claimed_by[static_cast<size_t>(t)].push_back(job.id);
          JobOutcome outcome;
          outcome.job_id = job.id;
          outcome.result = MakeResult(1.0);
          outcomes.push_back(std::move(outcome));
        }
        // Half the rounds through FinishJobs, half job by job.
        if (round % 2 == 0) {
          Result<std::vector<Status>> done = store.FinishJobs(worker, outcomes);
          std::lock_guard<std::mutex> lock(errors_mu);
          if (!done.ok()) errors.push_back(done.status().ToString());
          if (done.ok()) {
            for (const Status& s : *done) {
              if (!s.ok()) errors.push_back(s.ToString());
            }
          }
        } else {
          for (const JobOutcome& outcome : outcomes) {
            Status done = store.CompleteJob(outcome.job_id, worker, *outcome.result);
            std::lock_guard<std::mutex> lock(errors_mu);
            if (!done.ok()) errors.push_back(done.ToString());
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();

  CHECK_MESSAGE(errors.empty(), (errors.empty() ? "" : errors.front()));
  std::map<std::string, int> times_claimed;
  size_t total = 0;
  for (const auto& ids : claimed_by) {
    total += ids.size();
    for (const std::string& id : ids) ++times_claimed[id];
  }
  CHECK(total == static_cast<size_t>(kJobs));
  CHECK(times_claimed.size() == static_cast<size_t>(kJobs));
  for (const auto& entry : times_claimed) CHECK_MESSAGE(entry.second == 1, entry.first);
  JobFilter filter;
  filter.run_id = "run-hammer";
  Result<std::vector<Job>> all = stores.front()->ListJobs(filter);
  REQUIRE(all.ok());
  REQUIRE(all->size() == static_cast<size_t>(kJobs));
  for (const Job& job : *all) {
    CHECK_MESSAGE(job.status == JobStatus::kCompleted, job.id);
    CHECK_MESSAGE(job.attempts == 1, job.id);
  }
}

TEST_CASE("postgres store: processes migrating one fresh database at once both succeed") {
  TestDatabase database;
  // Both children wait on the pipe, so that they open the store together.
  int go[2];
  REQUIRE(pipe(go) == 0);
  std::vector<pid_t> children;
  for (int i = 0; i < 2; ++i) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(go[1]);
      char byte;
      if (read(go[0], &byte, 1) != 1) _exit(3);
      Result<std::unique_ptr<PostgresStore>> store = PostgresStore::Open(database.url());
      _exit(store.ok() && (*store)->schema_version() == LatestSchemaVersion() ? 0 : 1);
    }
    children.push_back(pid);
  }
  close(go[0]);
  REQUIRE(write(go[1], "gg", 2) == 2);
  close(go[1]);
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  std::unique_ptr<PostgresStore> store = MustOpen(database.url());
  CHECK(store->schema_version() == LatestSchemaVersion());
  EVOLVE_CONTRACT_OK(store->CreateRun(MakeRun("run-after-migration")));
}

TEST_CASE("postgres store: a database from a newer libevolve is refused") {
  TestDatabase database;
  MustOpen(database.url());
  testing::ExecSql(database.url(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES (" +
                                       std::to_string(LatestSchemaVersion() + 1) +
                                       ", '9999_future.sql', now())");
  Result<std::unique_ptr<PostgresStore>> refused = PostgresStore::Open(database.url());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK_MESSAGE(Contains(refused.status().message(), "newer"), refused.status().ToString());
}

TEST_CASE("postgres store: a database behind the schema is refused when migrations are off") {
  TestDatabase database;
  PostgresOptions options;
  options.migrate = false;
  Result<std::unique_ptr<PostgresStore>> refused = PostgresStore::Open(database.url(), options);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK_MESSAGE(Contains(refused.status().message(), "evolve migrate"), refused.status().ToString());
}

TEST_CASE("postgres store: an unreachable server is kUnavailable, naming the URL without the password") {
  PostgresOptions options;
  options.connect_timeout = std::chrono::seconds(2);
  // Port 1 on the loopback: nothing listens there.
  Result<std::unique_ptr<PostgresStore>> store =
      PostgresStore::Open("postgresql://evolve:s3cret@127.0.0.1:1/evolve", options);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == StatusCode::kUnavailable);
  CHECK_MESSAGE(Contains(store.status().message(), "127.0.0.1:1/evolve"), store.status().ToString());
  CHECK_MESSAGE(!Contains(store.status().message(), "s3cret"), store.status().ToString());
}

TEST_CASE("postgres store: after a server restart calls reconnect and listeners are woken") {
  TestServer server;  // private: a restart would cut every other test's connections
  TestDatabase database(server.url());
  {
    std::unique_ptr<PostgresStore> store = MustOpen(database.url());
    Enqueue(*store, "run-restart", "batch-restart",
            {MakeJob("restart-1", "batch-restart", "run-restart", 1)});
    EventLog events;
    const int64_t handle = store->Subscribe([&events](const QueueEvent& e) { events.Add(e); });

    server.Restart();

    // The first call may find its connection cut; within a few seconds calls
    // succeed again, and what was written before is there.
    Result<Run> run = store->GetRun("run-restart");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!run.ok() && std::chrono::steady_clock::now() < deadline) {
      CHECK_MESSAGE(run.status().code() == StatusCode::kUnavailable, run.status().ToString());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      run = store->GetRun("run-restart");
    }
    REQUIRE_MESSAGE(run.ok(), run.status().ToString());
    CHECK(MustGetJob(*store, "restart-1").status == JobStatus::kPending);

    // The listener connection came back too, and said so: a wake-up with no
    // batch (events may have been missed while it was away).
    CHECK(events.WaitFor(QueueEvent::Kind::kJobsAvailable, ""));
    store->Unsubscribe(handle);
  }
}

TEST_CASE("postgres store: a listener hears another store's enqueue through NOTIFY") {
  TestDatabase database;
  std::unique_ptr<PostgresStore> listening = MustOpen(database.url());
  std::unique_ptr<PostgresStore> writing = MustOpen(database.url());
  EventLog heard;
  const int64_t handle = listening->Subscribe([&heard](const QueueEvent& e) { heard.Add(e); });

  Enqueue(*writing, "run-n", "batch-n", {MakeJob("n-1", "batch-n", "run-n", 1)});
  CHECK(heard.WaitFor(QueueEvent::Kind::kJobsAvailable, "batch-n"));
  for (const QueueEvent& e : heard.events()) {
    if (e.batch_id == "batch-n") CHECK(e.run_id == "run-n");
  }

  Result<std::vector<Job>> claimed = writing->ClaimJobs("worker-1", 1, kLongLease);
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 1);
  EVOLVE_CONTRACT_OK(writing->CompleteJob("n-1", "worker-1", MakeResult(1.0)));
  CHECK(heard.WaitFor(QueueEvent::Kind::kJobFinished, "batch-n"));
  listening->Unsubscribe(handle);

  // The writer's own listener hears its events once, not once more by NOTIFY.
  EventLog own;
  const int64_t own_handle = writing->Subscribe([&own](const QueueEvent& e) { own.Add(e); });
  Enqueue(*writing, "run-n", "batch-n2", {MakeJob("n2-1", "batch-n2", "run-n", 1)});
  REQUIRE(own.WaitFor(QueueEvent::Kind::kJobsAvailable, "batch-n2"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // time for a duplicate to arrive
  int copies = 0;
  for (const QueueEvent& e : own.events()) copies += e.batch_id == "batch-n2" ? 1 : 0;
  CHECK(copies == 1);
  writing->Unsubscribe(own_handle);
}

}  // namespace
}  // namespace evolve::postgres
