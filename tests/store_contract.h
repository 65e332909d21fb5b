// The Store conformance suite: the same cases for every Store backend.
//
// The FakeStore is the reference; SQLite and PostgreSQL run exactly these
// cases, so "the fake says so" and "the database does so" cannot drift apart.
//
// A backend provides a StoreHarness: a fresh, empty store plus a way to move
// that store's time forward. Two ready-made harnesses cover the two kinds of
// backend:
//
//   ManualClockHarness  the store stamps times from an injected Clock (the
//                       fake, SQLite). Time moves only when a test says so,
//                       and stored timestamps are checked exactly.
//   RealTimeHarness     the store uses real time (PostgreSQL's now()).
//                       AdvanceTime sleeps, so the lease cases keep their
//                       durations to a few hundred milliseconds; timestamps
//                       are only checked for order, never for value.
//
// Running it for a backend, in a doctest test file:
//
//   #include "store_contract.h"
//   EVOLVE_STORE_CONTRACT_TESTS("sqlite", std::make_unique<evolve::testing::ManualClockHarness>(
//       [](evolve::Clock& clock) { return MakeFreshSqliteStore(clock); }))
//
// which defines one TEST_CASE per check, named "<prefix> store contract: ...".
// The checks are also plain functions (evolve::testing::store_contract::*,
// listed in AllChecks()) for a backend that wants to drive them itself.
//
// Each case uses only the public Store interface; the fixtures create the
// runs that jobs, lineage and promotions refer to, so backends with foreign
// keys pass too.
#ifndef EVOLVE_TESTS_STORE_CONTRACT_H_
#define EVOLVE_TESTS_STORE_CONTRACT_H_

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "evolve/clock.h"
#include "evolve/json.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/testing/samples.h"
#include "evolve/types.h"

namespace evolve::testing {

// A fresh, empty store and control over its time.
class StoreHarness {
 public:
  StoreHarness() = default;
  StoreHarness(const StoreHarness&) = delete;
  StoreHarness& operator=(const StoreHarness&) = delete;
  virtual ~StoreHarness() = default;

  virtual Store& store() = 0;

  // Moves the store's "now" forward by at least `d` (a real-time backend
  // sleeps).
  virtual void AdvanceTime(Duration d) = 0;

  // True when the store stamps times with store().clock() and that clock
  // moves only through AdvanceTime: timestamps can then be checked exactly.
  virtual bool exact_time() const = 0;
};

// For stores that take their time from an injected Clock.
class ManualClockHarness final : public StoreHarness {
 public:
  // `make_store` builds a fresh, empty store that uses the given clock.
  explicit ManualClockHarness(const std::function<std::unique_ptr<Store>(Clock&)>& make_store)
      : store_(make_store(clock_)) {}

  Store& store() override { return *store_; }
  void AdvanceTime(Duration d) override { clock_.Advance(d); }
  bool exact_time() const override { return true; }
  ManualClock& clock() { return clock_; }

 private:
  ManualClock clock_;  // declared before store_: the store borrows it
  std::unique_ptr<Store> store_;
};

// For stores whose time is the real time (e.g. the database's now()).
class RealTimeHarness final : public StoreHarness {
 public:
  explicit RealTimeHarness(std::unique_ptr<Store> store) : store_(std::move(store)) {}

  Store& store() override { return *store_; }
  void AdvanceTime(Duration d) override { std::this_thread::sleep_for(d); }
  bool exact_time() const override { return false; }

 private:
  std::unique_ptr<Store> store_;
};

// A backend's harness that owns what its store lives in (a directory, a
// database) besides the store: `Resource` is made first and outlives the
// store; `make_inner(resource)` returns the harness of the store (one of
// the two above).
template <typename Resource, typename Inner>
class OwningHarness : public StoreHarness {
 public:
  template <typename MakeInner>
  explicit OwningHarness(MakeInner make_inner) : inner_(make_inner(resource_)) {}

  Store& store() override { return inner_.store(); }
  void AdvanceTime(Duration d) override { inner_.AdvanceTime(d); }
  bool exact_time() const override { return inner_.exact_time(); }

 private:
  Resource resource_;  // declared first: outlives the store
  Inner inner_;
};

// The store a backend's Open... function returned, REQUIREd to be open.
inline std::unique_ptr<Store> Opened(Result<std::unique_ptr<Store>> opened) {
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  return std::move(opened).value();
}

namespace store_contract {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Lease lengths for the cases that let leases run out. Short, so that a
// real-time backend sleeps little; the margins (100 ms) are what a busy
// machine must not exceed between two calls of one case.
constexpr Duration kShortLease = milliseconds(300);
constexpr Duration kPastShortLease = milliseconds(400);
constexpr Duration kLongLease = seconds(120);
// Enough to give two writes distinct timestamps on any backend.
constexpr Duration kTick = milliseconds(10);

// ------------------------------------------------------------ assertions

inline const Status& StatusOf(const Status& status) { return status; }
template <typename T>
const Status& StatusOf(const Result<T>& result) {
  return result.status();
}

}  // namespace store_contract
}  // namespace evolve::testing

// REQUIREs that a Status or Result is OK, printing the Status when not.
#define EVOLVE_CONTRACT_OK(expr)                                                                 \
  do {                                                                                           \
    const auto& evolve_contract_r_ = (expr);                                                     \
    REQUIRE_MESSAGE(evolve_contract_r_.ok(),                                                     \
                    ::evolve::testing::store_contract::StatusOf(evolve_contract_r_).ToString()); \
  } while (0)

// CHECKs the code of a Status or Result (e.g. kAborted), printing it when not.
#define EVOLVE_CONTRACT_CODE(expr, expected_code)                                        \
  do {                                                                                   \
    const auto& evolve_contract_r_ = (expr);                                             \
    const ::evolve::Status& evolve_contract_s_ =                                         \
        ::evolve::testing::store_contract::StatusOf(evolve_contract_r_);                 \
    CHECK_MESSAGE(evolve_contract_s_.code() == ::evolve::StatusCode::expected_code,      \
                  "expected " #expected_code ", got " << evolve_contract_s_.ToString()); \
  } while (0)

namespace evolve::testing::store_contract {

// --------------------------------------------------------------- fixtures

inline bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline Run MakeRun(const std::string& id, RunStatus status = RunStatus::kPending) {
  Run run;
  run.id = id;
  run.status = status;
  run.config.symbol = "AAPL";
  run.config.max_generations = 6;
  run.config.seed_features = {"rsi_14", "macd", "vol_20"};
  run.config.thresholds = {0.0002, 0.0004};
  run.config.regime_configs = {RegimeFilter{}, RegimeFilter{"regime", {1, 2}}};
  // Spelled the way PostgreSQL's jsonb prints it, so a jsonb column passes.
  run.config.hyperparameters = "{\"n_estimators\": 50}";
  run.config.data_options = "{\"train_window\": 30}";
  run.config.pruning.strategy = "keep_top_fraction";
  run.config.pruning.fraction = 0.25;
  run.config.sqn_min = 2.5;
  run.current_generation = 1;
  run.seed_model_id = "model-seed";
  run.best_sqn = 1.75;
  run.best_model_id = "model-1";
  return run;
}

inline SimulationParams MakeParams(const std::string& model_id, double threshold) {
  SimulationParams params;
  params.model_id = model_id;
  params.ticker = "AAPL";
  params.threshold = threshold;
  params.regime = RegimeFilter{"regime", {0, 2}};
  params.fee_bps = 2.5;
  params.use_bot = true;
  return params;
}

inline SimulationResult MakeResult(double sqn) {
  SimulationResult result = SampleResult(sqn);
  result.max_drawdown_pct = 4.25;
  result.exposure = 0.4;
  result.start_date = "2024-01-01";
  result.end_date = "2024-06-30";
  return result;
}

inline Job MakeJob(const std::string& id, const std::string& batch_id, const std::string& run_id,
                   double priority, int max_attempts = 3) {
  Job job;
  job.id = id;
  job.batch_id = batch_id;
  job.run_id = run_id;
  job.model_id = "model-" + run_id;
  job.generation = 1;
  job.priority = priority;
  job.max_attempts = max_attempts;
  job.params = MakeParams(job.model_id, 0.0003);
  return job;
}

// Creates the run unless it exists, so jobs/edges/promotions can refer to it.
inline void EnsureRun(Store& store, const std::string& run_id, RunStatus status = RunStatus::kRunning) {
  if (store.GetRun(run_id).ok()) return;
  EVOLVE_CONTRACT_OK(store.CreateRun(MakeRun(run_id, status)));
}

// Enqueues `jobs` (all of `batch_id`) for `run_id`, creating the run.
inline void Enqueue(Store& store, const std::string& run_id, const std::string& batch_id,
                    const std::vector<Job>& jobs) {
  EnsureRun(store, run_id);
  Result<int> inserted = store.EnqueueBatch(batch_id, jobs);
  EVOLVE_CONTRACT_OK(inserted);
  REQUIRE(*inserted == static_cast<int>(jobs.size()));
}

inline Job MustGetJob(Store& store, const std::string& job_id) {
  Result<Job> job = store.GetJob(job_id);
  EVOLVE_CONTRACT_OK(job);
  return *job;
}

inline Run MustGetRun(Store& store, const std::string& run_id) {
  Result<Run> run = store.GetRun(run_id);
  EVOLVE_CONTRACT_OK(run);
  return *run;
}

inline std::vector<std::string> JobIds(const std::vector<Job>& jobs) {
  std::vector<std::string> ids;
  for (const Job& job : jobs) ids.push_back(job.id);
  return ids;
}

template <typename T>
std::vector<std::string> Ids(const std::vector<T>& items) {
  std::vector<std::string> ids;
  for (const T& item : items) ids.push_back(item.id);
  return ids;
}

inline std::vector<std::string> ListJobIds(Store& store, const JobFilter& filter) {
  Result<std::vector<Job>> jobs = store.ListJobs(filter);
  EVOLVE_CONTRACT_OK(jobs);
  return JobIds(*jobs);
}

inline std::vector<std::string> ClaimOneByOne(Store& store, const std::string& worker_id) {
  std::vector<std::string> ids;
  while (true) {
    Result<std::vector<Job>> claimed = store.ClaimJobs(worker_id, 1, kLongLease);
    EVOLVE_CONTRACT_OK(claimed);
    if (claimed->empty()) return ids;
    REQUIRE(claimed->size() == 1);
    ids.push_back(claimed->front().id);
  }
}

inline Job ClaimOne(Store& store, const std::string& worker_id, Duration lease) {
  Result<std::vector<Job>> claimed = store.ClaimJobs(worker_id, 1, lease);
  EVOLVE_CONTRACT_OK(claimed);
  REQUIRE(claimed->size() == 1);
  return claimed->front();
}

inline JobCounts MustCount(Store& store, const std::string& run_id, const std::string& batch_id) {
  JobFilter filter;
  filter.run_id = run_id;
  filter.batch_id = batch_id;
  Result<JobCounts> counts = store.CountJobs(filter);
  EVOLVE_CONTRACT_OK(counts);
  return *counts;
}

// A timestamp the store wrote "now": exactly the clock's time when the
// harness controls it; otherwise at least set.
inline void CheckStampedNow(StoreHarness& h, TimePoint t) {
  CHECK(t != TimePoint{});
  if (h.exact_time()) CHECK(t == h.store().clock().Now());
}

// ------------------------------------------------------------------ runs

inline void RunsCreateGetList(StoreHarness& h) {
  Store& store = h.store();
  const Run input = MakeRun("run-m");
  EVOLVE_CONTRACT_OK(store.CreateRun(input));

  Run got = MustGetRun(store, "run-m");
  CheckStampedNow(h, got.created_at);
  CHECK(got.updated_at == got.created_at);
  Run expected = input;  // every field round-trips; the store sets the times
  expected.created_at = got.created_at;
  expected.updated_at = got.updated_at;
  CHECK(got == expected);

  EVOLVE_CONTRACT_CODE(store.CreateRun(MakeRun("run-m", RunStatus::kFailed)), kAlreadyExists);
  CHECK(MustGetRun(store, "run-m") == got);  // the duplicate changed nothing
  EVOLVE_CONTRACT_CODE(store.GetRun("no-such-run"), kNotFound);

  h.AdvanceTime(kTick);
  EVOLVE_CONTRACT_OK(store.CreateRun(MakeRun("run-z", RunStatus::kRunning)));
  h.AdvanceTime(kTick);
  EVOLVE_CONTRACT_OK(store.CreateRun(MakeRun("run-a", RunStatus::kPending)));

  Result<std::vector<Run>> all = store.ListRuns(RunFilter{});
  EVOLVE_CONTRACT_OK(all);
  // Newest first: neither id order.
  CHECK(Ids(*all) == std::vector<std::string>{"run-a", "run-z", "run-m"});

  RunFilter running;
  running.status = RunStatus::kRunning;
  Result<std::vector<Run>> only_running = store.ListRuns(running);
  EVOLVE_CONTRACT_OK(only_running);
  CHECK(Ids(*only_running) == std::vector<std::string>{"run-z"});

  RunFilter pending;
  pending.status = RunStatus::kPending;
  Result<std::vector<Run>> only_pending = store.ListRuns(pending);
  EVOLVE_CONTRACT_OK(only_pending);
  CHECK(Ids(*only_pending) == std::vector<std::string>{"run-a", "run-m"});

  RunFilter page;
  page.limit = 1;
  page.offset = 1;
  Result<std::vector<Run>> second = store.ListRuns(page);
  EVOLVE_CONTRACT_OK(second);
  CHECK(Ids(*second) == std::vector<std::string>{"run-z"});

  page.limit = 2;
  page.offset = 2;
  Result<std::vector<Run>> tail = store.ListRuns(page);
  EVOLVE_CONTRACT_OK(tail);
  CHECK(Ids(*tail) == std::vector<std::string>{"run-m"});

  page.offset = 5;
  Result<std::vector<Run>> past_end = store.ListRuns(page);
  EVOLVE_CONTRACT_OK(past_end);
  CHECK(past_end->empty());

  Result<RunCounts> counts = store.CountRuns();
  EVOLVE_CONTRACT_OK(counts);
  CHECK(counts->total() == 3);
  CHECK(counts->Of(RunStatus::kPending) == 2);
  CHECK(counts->Of(RunStatus::kRunning) == 1);
  CHECK(counts->Of(RunStatus::kCompleted) == 0);
  CHECK(counts->by_status.count(RunStatus::kCompleted) == 0);

  if (h.exact_time()) {
    // Same creation time: the larger id is "newer", so the order is total.
    h.AdvanceTime(kTick);
    EVOLVE_CONTRACT_OK(store.CreateRun(MakeRun("run-tie-1")));
    EVOLVE_CONTRACT_OK(store.CreateRun(MakeRun("run-tie-2")));
    RunFilter first_two;
    first_two.limit = 2;
    Result<std::vector<Run>> newest = store.ListRuns(first_two);
    EVOLVE_CONTRACT_OK(newest);
    CHECK(Ids(*newest) == std::vector<std::string>{"run-tie-2", "run-tie-1"});
  }
}

inline void RunsCompareAndSet(StoreHarness& h) {
  Store& store = h.store();
  EVOLVE_CONTRACT_OK(store.CreateRun(MakeRun("run-cas", RunStatus::kPending)));
  const Run created = MustGetRun(store, "run-cas");

  h.AdvanceTime(kTick);
  Run next = created;
  next.created_at = TimePoint{};  // the store's to keep, whatever the caller sends
  next.updated_at = TimePoint{};
  next.status = RunStatus::kRunning;
  next.current_generation = 2;
  next.best_sqn = 2.5;
  next.best_model_id = "model-2";
  EVOLVE_CONTRACT_OK(store.UpdateRun(next, RunStatus::kPending));

  Run stored = MustGetRun(store, "run-cas");
  CHECK(stored.status == RunStatus::kRunning);
  CHECK(stored.current_generation == 2);
  CHECK(stored.best_sqn == std::optional<double>(2.5));
  CHECK(stored.best_model_id == "model-2");
  CHECK(stored.created_at == created.created_at);
  CHECK(stored.updated_at > created.updated_at);
  CheckStampedNow(h, stored.updated_at);

  // A stale writer that still believes the run is PENDING loses, and the
  // message says what the run really is.
  Run stale = created;
  stale.status = RunStatus::kCompleted;
  stale.current_generation = 9;
  const Status conflict = store.UpdateRun(stale, RunStatus::kPending);
  EVOLVE_CONTRACT_CODE(conflict, kAborted);
  CHECK_MESSAGE(Contains(conflict.message(), "RUNNING"), conflict.ToString());
  CHECK_MESSAGE(Contains(conflict.message(), "PENDING"), conflict.ToString());
  CHECK(MustGetRun(store, "run-cas") == stored);

  Run missing = MakeRun("no-such-run");
  EVOLVE_CONTRACT_CODE(store.UpdateRun(missing, RunStatus::kPending), kNotFound);

  // The user's cancel wins over the engine's next progress write.
  EVOLVE_CONTRACT_OK(
      store.TransitionRun("run-cas", {RunStatus::kRunning}, RunStatus::kCancelled, kStopCancelled, ""));
  Run engine_view = stored;
  engine_view.current_generation = 3;
  EVOLVE_CONTRACT_CODE(store.UpdateRun(engine_view, RunStatus::kRunning), kAborted);
  Run after_cancel = MustGetRun(store, "run-cas");
  CHECK(after_cancel.status == RunStatus::kCancelled);
  CHECK(after_cancel.current_generation == 2);

  // Racing writers with the same expectation: exactly one wins.
  EVOLVE_CONTRACT_OK(store.CreateRun(MakeRun("run-race", RunStatus::kPending)));
  const Run race_base = MustGetRun(store, "run-race");
  constexpr int kWriters = 8;
  std::vector<Status> outcomes(kWriters);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&store, &outcomes, &race_base, i] {
      Run mine = race_base;
      mine.status = RunStatus::kRunning;
      mine.current_generation = 100 + i;
      outcomes[static_cast<size_t>(i)] = store.UpdateRun(mine, RunStatus::kPending);
    });
  }
  for (std::thread& t : writers) t.join();
  int winners = 0;
  int winner = -1;
  for (int i = 0; i < kWriters; ++i) {
    const Status& s = outcomes[static_cast<size_t>(i)];
    if (s.ok()) {
      ++winners;
      winner = i;
    } else {
      EVOLVE_CONTRACT_CODE(s, kAborted);
    }
  }
  CHECK(winners == 1);
  CHECK(MustGetRun(store, "run-race").current_generation == 100 + winner);
}

inline void RunsTransition(StoreHarness& h) {
  Store& store = h.store();
  EVOLVE_CONTRACT_OK(store.CreateRun(MakeRun("run-t", RunStatus::kPending)));
  const Run created = MustGetRun(store, "run-t");

  h.AdvanceTime(kTick);
  EVOLVE_CONTRACT_OK(store.TransitionRun("run-t", {RunStatus::kPending}, RunStatus::kRunning, "", ""));
  Run running = MustGetRun(store, "run-t");
  CHECK(running.status == RunStatus::kRunning);
  CHECK(running.updated_at > created.updated_at);
  CHECK(running.current_generation == created.current_generation);  // only the status moved

  const Status refused = store.TransitionRun("run-t", {RunStatus::kPending}, RunStatus::kRunning, "", "");
  EVOLVE_CONTRACT_CODE(refused, kFailedPrecondition);
  CHECK_MESSAGE(Contains(refused.message(), "RUNNING"), refused.ToString());

  EVOLVE_CONTRACT_CODE(store.TransitionRun("run-t", {}, RunStatus::kStopped, "", ""), kFailedPrecondition);
  CHECK(MustGetRun(store, "run-t").status == RunStatus::kRunning);

  EVOLVE_CONTRACT_OK(store.TransitionRun("run-t", {RunStatus::kPending, RunStatus::kRunning},
                                         RunStatus::kFailed, kStopFailed, "trainer unavailable"));
  Run failed = MustGetRun(store, "run-t");
  CHECK(failed.status == RunStatus::kFailed);
  CHECK(failed.stop_reason == kStopFailed);
  CHECK(failed.error == "trainer unavailable");

  // Resuming a FAILED run: status, stop_reason and error written as given.
  EVOLVE_CONTRACT_OK(store.TransitionRun("run-t", {RunStatus::kFailed}, RunStatus::kRunning, "", ""));
  Run resumed = MustGetRun(store, "run-t");
  CHECK(resumed.status == RunStatus::kRunning);
  CHECK(resumed.stop_reason.empty());
  CHECK(resumed.error.empty());

  EVOLVE_CONTRACT_CODE(store.TransitionRun("no-such-run", {RunStatus::kPending}, RunStatus::kRunning, "", ""),
                       kNotFound);
}

inline void CancelRunCancelsOnlyPendingJobs(StoreHarness& h) {
  Store& store = h.store();
  EnsureRun(store, "run-x", RunStatus::kRunning);
  Enqueue(store, "run-x", "batch-x",
          {MakeJob("x-1", "batch-x", "run-x", 4), MakeJob("x-2", "batch-x", "run-x", 3),
           MakeJob("x-3", "batch-x", "run-x", 2), MakeJob("x-4", "batch-x", "run-x", 1)});
  Enqueue(store, "run-other", "batch-other", {MakeJob("o-1", "batch-other", "run-other", 0)});

  Result<std::vector<Job>> claimed = store.ClaimJobs("worker-1", 2, kLongLease);
  EVOLVE_CONTRACT_OK(claimed);
  REQUIRE(JobIds(*claimed) == std::vector<std::string>{"x-1", "x-2"});
  EVOLVE_CONTRACT_OK(store.CompleteJob("x-1", "worker-1", MakeResult(1.0)));

  EVOLVE_CONTRACT_OK(store.TransitionRun("run-x", {RunStatus::kPending, RunStatus::kRunning},
                                         RunStatus::kCancelled, kStopCancelled, ""));
  Run run = MustGetRun(store, "run-x");
  CHECK(run.status == RunStatus::kCancelled);
  CHECK(run.stop_reason == kStopCancelled);

  CHECK(MustGetJob(store, "x-1").status == JobStatus::kCompleted);
  CHECK(MustGetJob(store, "x-1").result.has_value());
  CHECK(MustGetJob(store, "x-2").status == JobStatus::kRunning);
  CHECK(MustGetJob(store, "x-3").status == JobStatus::kCancelled);
  CHECK(MustGetJob(store, "x-4").status == JobStatus::kCancelled);
  CHECK(MustGetJob(store, "o-1").status == JobStatus::kPending);  // another run's job

  JobCounts counts = MustCount(store, "run-x", "");
  CHECK(counts.completed == 1);
  CHECK(counts.running == 1);
  CHECK(counts.cancelled == 2);
  CHECK(counts.pending == 0);

  // Cancelled jobs are gone from the queue; only the other run's job is left.
  CHECK(ClaimOneByOne(store, "worker-2") == std::vector<std::string>{"o-1"});

  // The job that was already running may still finish: cancel is not fencing.
  EVOLVE_CONTRACT_OK(store.CompleteJob("x-2", "worker-1", MakeResult(2.0)));
  CHECK(MustCount(store, "", "batch-x").finished());
}

inline void GenerationsUpsertAndOrder(StoreHarness& h) {
  Store& store = h.store();
  Generation orphan;
  orphan.run_id = "no-such-run";
  EVOLVE_CONTRACT_CODE(store.SaveGeneration(orphan), kNotFound);

  EnsureRun(store, "run-g");
  EnsureRun(store, "run-g-other");
  auto make = [](const std::string& run_id, int n) {
    Generation g;
    g.run_id = run_id;
    g.generation = n;
    g.state = GenerationState::kSimulating;
    g.model_id = "model-g" + std::to_string(n);
    g.parent_model_id = n == 0 ? "" : "model-g" + std::to_string(n - 1);
    g.fingerprint = "fp-" + std::to_string(n);
    g.reused_model = n == 2;
    g.features = {"rsi_14", "macd"};
    g.pruned_features = {"vol_20"};
    g.pruning_reason = "importance <= 0";
    g.parent_sqn = 1.25;
    g.batch_id = "batch-g" + std::to_string(n);
    g.jobs_total = 6;
    g.jobs_completed = 4;
    g.jobs_failed = 1;
    g.jobs_passing = 1;
    g.best_sqn = 2.75;
    g.best_profit_factor = 2.5;
    g.best_trade_count = 320;
    g.best_job_id = "job-best";
    g.verdict = "sqn 2.75 < 3";
    return g;
  };
  // Saved out of order: the list is in generation order all the same.
  EVOLVE_CONTRACT_OK(store.SaveGeneration(make("run-g", 2)));
  EVOLVE_CONTRACT_OK(store.SaveGeneration(make("run-g", 0)));
  EVOLVE_CONTRACT_OK(store.SaveGeneration(make("run-g", 1)));
  EVOLVE_CONTRACT_OK(store.SaveGeneration(make("run-g-other", 0)));

  Result<Generation> got = store.GetGeneration("run-g", 2);
  EVOLVE_CONTRACT_OK(got);
  CheckStampedNow(h, got->updated_at);
  Generation expected = make("run-g", 2);
  expected.updated_at = got->updated_at;
  CHECK(*got == expected);

  Result<std::vector<Generation>> list = store.ListGenerations("run-g");
  EVOLVE_CONTRACT_OK(list);
  REQUIRE(list->size() == 3);
  CHECK((*list)[0].generation == 0);
  CHECK((*list)[1].generation == 1);
  CHECK((*list)[2].generation == 2);

  // Upsert: the second save replaces the first.
  h.AdvanceTime(kTick);
  Generation evaluated = make("run-g", 1);
  evaluated.state = GenerationState::kEvaluated;
  evaluated.best_sqn = 3.5;
  evaluated.jobs_completed = 6;
  EVOLVE_CONTRACT_OK(store.SaveGeneration(evaluated));
  EVOLVE_CONTRACT_OK(store.SaveGeneration(evaluated));  // idempotent
  Result<Generation> updated = store.GetGeneration("run-g", 1);
  EVOLVE_CONTRACT_OK(updated);
  CHECK(updated->state == GenerationState::kEvaluated);
  CHECK(updated->best_sqn == std::optional<double>(3.5));
  CHECK(updated->jobs_completed == 6);
  CHECK(updated->updated_at > got->updated_at);
  Result<std::vector<Generation>> relist = store.ListGenerations("run-g");
  EVOLVE_CONTRACT_OK(relist);
  CHECK(relist->size() == 3);

  EVOLVE_CONTRACT_CODE(store.GetGeneration("run-g", 7), kNotFound);
  EVOLVE_CONTRACT_CODE(store.GetGeneration("no-such-run", 0), kNotFound);
  Result<std::vector<Generation>> none = store.ListGenerations("no-such-run");
  EVOLVE_CONTRACT_OK(none);
  CHECK(none->empty());
}

// ---------------------------------------------------------- model registry

inline void FingerprintsFirstWriterWins(StoreHarness& h) {
  Store& store = h.store();
  EVOLVE_CONTRACT_CODE(store.LookupFingerprint("fp-unknown"), kNotFound);

  FingerprintRecord first;
  first.fingerprint = "fp-1";
  first.model_id = "model-a";
  first.spec.symbol = "AAPL";
  first.spec.features = {"macd", "rsi_14"};
  first.spec.hyperparameters = "{\"n_estimators\": 50}";
  first.spec.reference_symbols = {"SPY"};
  Result<FingerprintRecord> recorded = store.RecordFingerprint(first);
  EVOLVE_CONTRACT_OK(recorded);
  CHECK(recorded->model_id == "model-a");
  CheckStampedNow(h, recorded->created_at);
  FingerprintRecord expected = first;
  expected.created_at = recorded->created_at;
  CHECK(*recorded == expected);

  h.AdvanceTime(kTick);
  FingerprintRecord second = first;
  second.model_id = "model-b";
  Result<FingerprintRecord> lost = store.RecordFingerprint(second);
  EVOLVE_CONTRACT_OK(lost);
  CHECK(lost->model_id == "model-a");  // the first writer's model, for everyone
  CHECK(lost->created_at == recorded->created_at);

  Result<FingerprintRecord> looked_up = store.LookupFingerprint("fp-1");
  EVOLVE_CONTRACT_OK(looked_up);
  CHECK(*looked_up == expected);

  FingerprintRecord other = first;
  other.fingerprint = "fp-2";
  other.model_id = "model-b";
  Result<FingerprintRecord> other_recorded = store.RecordFingerprint(other);
  EVOLVE_CONTRACT_OK(other_recorded);
  CHECK(other_recorded->model_id == "model-b");

  // Racing recorders all agree on one model.
  constexpr int kRacers = 6;
  std::vector<std::string> answers(kRacers);
  std::vector<std::string> errors;
  std::mutex errors_mu;
  std::vector<std::thread> racers;
  for (int i = 0; i < kRacers; ++i) {
    racers.emplace_back([&, i] {
      FingerprintRecord mine = first;
      mine.fingerprint = "fp-race";
      mine.model_id = "model-race-" + std::to_string(i);
      Result<FingerprintRecord> r = store.RecordFingerprint(mine);
      if (r.ok()) {
        answers[static_cast<size_t>(i)] = r->model_id;
      } else {
        std::lock_guard<std::mutex> lock(errors_mu);
        errors.push_back(r.status().ToString());
      }
    });
  }
  for (std::thread& t : racers) t.join();
  CHECK(errors.empty());
  Result<FingerprintRecord> race_winner = store.LookupFingerprint("fp-race");
  EVOLVE_CONTRACT_OK(race_winner);
  for (const std::string& answer : answers) CHECK(answer == race_winner->model_id);
}

inline LineageEdge MakeEdge(const std::string& id, const std::string& run_id, const std::string& parent,
                            const std::string& child, int generation) {
  LineageEdge edge;
  edge.id = id;
  edge.run_id = run_id;
  edge.parent_model_id = parent;
  edge.child_model_id = child;
  edge.generation = generation;
  if (!parent.empty()) edge.parent_sqn = 1.0 + generation;
  edge.pruned_features = {"feature_" + std::to_string(generation)};
  edge.remaining_features = {"rsi_14", "macd"};
  edge.pruning_reason = parent.empty() ? "seed" : "importance <= 0";
  return edge;
}

inline void LineageAndAncestry(StoreHarness& h) {
  Store& store = h.store();
  EnsureRun(store, "run-l");
  const LineageEdge e0 = MakeEdge("edge-l0", "run-l", "", "model-0", 0);
  const LineageEdge e1 = MakeEdge("edge-l1", "run-l", "model-0", "model-1", 1);
  const LineageEdge e2 = MakeEdge("edge-l2", "run-l", "model-1", "model-2", 2);
  // Inserted out of generation order.
  EVOLVE_CONTRACT_OK(store.AddLineageEdge(e1));
  h.AdvanceTime(kTick);
  EVOLVE_CONTRACT_OK(store.AddLineageEdge(e0));
  h.AdvanceTime(kTick);
  EVOLVE_CONTRACT_OK(store.AddLineageEdge(e2));

  Result<std::vector<LineageEdge>> lineage = store.ListLineage("run-l");
  EVOLVE_CONTRACT_OK(lineage);
  REQUIRE(Ids(*lineage) == std::vector<std::string>{"edge-l0", "edge-l1", "edge-l2"});
  CheckStampedNow(h, (*lineage)[2].created_at);
  LineageEdge expected = e1;
  expected.created_at = (*lineage)[1].created_at;
  CHECK((*lineage)[1] == expected);

  // Idempotent by id: a repeat (even with other contents) changes nothing.
  h.AdvanceTime(kTick);
  LineageEdge repeat = e1;
  repeat.pruning_reason = "rewritten";
  EVOLVE_CONTRACT_OK(store.AddLineageEdge(repeat));
  Result<std::vector<LineageEdge>> again = store.ListLineage("run-l");
  EVOLVE_CONTRACT_OK(again);
  REQUIRE(again->size() == 3);
  CHECK((*again)[1] == expected);

  Result<std::vector<LineageEdge>> ancestry = store.Ancestry("model-2");
  EVOLVE_CONTRACT_OK(ancestry);
  CHECK(Ids(*ancestry) == std::vector<std::string>{"edge-l2", "edge-l1", "edge-l0"});
  Result<std::vector<LineageEdge>> seed_only = store.Ancestry("model-0");
  EVOLVE_CONTRACT_OK(seed_only);
  CHECK(Ids(*seed_only) == std::vector<std::string>{"edge-l0"});
  Result<std::vector<LineageEdge>> unknown = store.Ancestry("model-unknown");
  EVOLVE_CONTRACT_OK(unknown);
  CHECK(unknown->empty());

  // A later run reaches model-1 again (reused by fingerprint) as its seed.
  // Its edge sorts first by id but is newer: the oldest edge wins, so
  // model-1's ancestry still goes through run-l.
  h.AdvanceTime(kTick);
  EnsureRun(store, "run-m");
  EVOLVE_CONTRACT_OK(store.AddLineageEdge(MakeEdge("a-edge-m0", "run-m", "", "model-1", 0)));
  EVOLVE_CONTRACT_OK(store.AddLineageEdge(MakeEdge("a-edge-m1", "run-m", "model-1", "model-3", 1)));
  Result<std::vector<LineageEdge>> through_old = store.Ancestry("model-3");
  EVOLVE_CONTRACT_OK(through_old);
  CHECK(Ids(*through_old) == std::vector<std::string>{"a-edge-m1", "edge-l1", "edge-l0"});
  Result<std::vector<LineageEdge>> model1 = store.Ancestry("model-1");
  EVOLVE_CONTRACT_OK(model1);
  CHECK(Ids(*model1) == std::vector<std::string>{"edge-l1", "edge-l0"});

  Result<std::vector<LineageEdge>> run_m = store.ListLineage("run-m");
  EVOLVE_CONTRACT_OK(run_m);
  CHECK(Ids(*run_m) == std::vector<std::string>{"a-edge-m0", "a-edge-m1"});
  Result<std::vector<LineageEdge>> no_run = store.ListLineage("no-such-run");
  EVOLVE_CONTRACT_OK(no_run);
  CHECK(no_run->empty());
}

// --------------------------------------------------------------- job queue

inline void EnqueueIsIdempotentAndValidated(StoreHarness& h) {
  Store& store = h.store();
  EnsureRun(store, "run-e");
  std::vector<Job> jobs = {MakeJob("e-1", "batch-e", "run-e", 2.5, 4),
                           MakeJob("e-2", "batch-e", "run-e", 2.5, 4),
                           MakeJob("e-3", "batch-e", "run-e", 2.5, 4)};
  // What the caller sets on the queue's own fields is ignored.
  jobs[0].status = JobStatus::kCompleted;
  jobs[0].attempts = 5;
  jobs[0].worker_id = "worker-ghost";
  jobs[0].result = MakeResult(9.0);
  jobs[0].error = "old error";
  jobs[0].lease_until = h.store().clock().Now();
  jobs[1].params.threshold = 0.0005;
  jobs[2].generation = 3;

  Result<int> inserted = store.EnqueueBatch("batch-e", jobs);
  EVOLVE_CONTRACT_OK(inserted);
  CHECK(*inserted == 3);

  for (const Job& input : jobs) {
    Job got = MustGetJob(store, input.id);
    CheckStampedNow(h, got.created_at);
    CHECK(got.updated_at == got.created_at);
    Job expected = input;
    expected.status = JobStatus::kPending;
    expected.attempts = 0;
    expected.worker_id.clear();
    expected.result.reset();
    expected.error.clear();
    expected.lease_until.reset();
    expected.created_at = got.created_at;
    expected.updated_at = got.updated_at;
    CHECK_MESSAGE(got == expected, "job " << input.id);
  }

  // Enqueueing the batch again (a resumed engine) inserts nothing, even
  // with other contents.
  h.AdvanceTime(kTick);
  Result<int> repeat = store.EnqueueBatch("batch-e", jobs);
  EVOLVE_CONTRACT_OK(repeat);
  CHECK(*repeat == 0);
  Result<int> different = store.EnqueueBatch("batch-e", {MakeJob("e-9", "batch-e", "run-e", 1)});
  EVOLVE_CONTRACT_OK(different);
  CHECK(*different == 0);
  EVOLVE_CONTRACT_CODE(store.GetJob("e-9"), kNotFound);
  CHECK(MustCount(store, "", "batch-e").total() == 3);
  CHECK(MustCount(store, "", "batch-e").pending == 3);

  // A job of another batch: rejected whole.
  EVOLVE_CONTRACT_CODE(store.EnqueueBatch("batch-f", {MakeJob("f-1", "batch-f", "run-e", 1),
                                                      MakeJob("f-2", "batch-zzz", "run-e", 1)}),
                       kInvalidArgument);
  EVOLVE_CONTRACT_CODE(store.GetJob("f-1"), kNotFound);
  CHECK(MustCount(store, "", "batch-f").total() == 0);

  // A repeated id: rejected whole.
  EVOLVE_CONTRACT_CODE(store.EnqueueBatch("batch-g", {MakeJob("g-1", "batch-g", "run-e", 1),
                                                      MakeJob("g-1", "batch-g", "run-e", 1)}),
                       kInvalidArgument);
  CHECK(MustCount(store, "", "batch-g").total() == 0);

  // An id that another batch already uses: rejected whole, the old job kept.
  EVOLVE_CONTRACT_CODE(store.EnqueueBatch("batch-h", {MakeJob("h-1", "batch-h", "run-e", 1),
                                                      MakeJob("e-1", "batch-h", "run-e", 1)}),
                       kAlreadyExists);
  EVOLVE_CONTRACT_CODE(store.GetJob("h-1"), kNotFound);
  CHECK(MustGetJob(store, "e-1").batch_id == "batch-e");
  CHECK(MustCount(store, "", "batch-h").total() == 0);

  // The rejected batches can still be enqueued once fixed.
  Result<int> fixed = store.EnqueueBatch("batch-f", {MakeJob("f-1", "batch-f", "run-e", 1)});
  EVOLVE_CONTRACT_OK(fixed);
  CHECK(*fixed == 1);

  JobCounts run_counts = MustCount(store, "run-e", "");
  CHECK(run_counts.pending == 4);
  CHECK(run_counts.total() == 4);
  CHECK(MustCount(store, "no-such-run", "").total() == 0);
}

inline void ClaimOrderIsPriorityThenAgeThenId(StoreHarness& h) {
  Store& store = h.store();
  EnsureRun(store, "run-o");
  // Equal priority, inserted first: ids decide within the batch.
  Enqueue(store, "run-o", "batch-old",
          {MakeJob("o-2", "batch-old", "run-o", 1), MakeJob("o-1", "batch-old", "run-o", 1)});
  h.AdvanceTime(kTick);
  // Same priority, later: after batch-old although its id sorts first.
  Enqueue(store, "run-o", "batch-new", {MakeJob("a-1", "batch-new", "run-o", 1)});
  // Higher priority, later still: first.
  Enqueue(store, "run-o", "batch-high",
          {MakeJob("h-2", "batch-high", "run-o", 5.5), MakeJob("h-1", "batch-high", "run-o", 5.5)});
  Enqueue(store, "run-o", "batch-neg", {MakeJob("n-1", "batch-neg", "run-o", -2)});

  const std::vector<std::string> claim_order = {"h-1", "h-2", "o-1", "o-2", "a-1", "n-1"};
  CHECK(ListJobIds(store, JobFilter{}) == claim_order);
  CHECK(ClaimOneByOne(store, "worker-1") == claim_order);
  // ListJobs shows claim order whatever the status.
  CHECK(ListJobIds(store, JobFilter{}) == claim_order);
}

inline void ListJobsFiltersAndPages(StoreHarness& h) {
  Store& store = h.store();
  Enqueue(store, "run-p", "batch-p1",
          {MakeJob("p1-a", "batch-p1", "run-p", 3), MakeJob("p1-b", "batch-p1", "run-p", 2),
           MakeJob("p1-c", "batch-p1", "run-p", 1)});
  Enqueue(store, "run-p", "batch-p2", {MakeJob("p2-a", "batch-p2", "run-p", 0)});
  Enqueue(store, "run-q", "batch-q1", {MakeJob("q1-a", "batch-q1", "run-q", 10)});
  Job claimed = ClaimOne(store, "worker-1", kLongLease);
  REQUIRE(claimed.id == "q1-a");
  claimed = ClaimOne(store, "worker-1", kLongLease);
  REQUIRE(claimed.id == "p1-a");

  JobFilter by_run;
  by_run.run_id = "run-p";
  CHECK(ListJobIds(store, by_run) == std::vector<std::string>{"p1-a", "p1-b", "p1-c", "p2-a"});

  JobFilter by_batch;
  by_batch.batch_id = "batch-p1";
  CHECK(ListJobIds(store, by_batch) == std::vector<std::string>{"p1-a", "p1-b", "p1-c"});

  JobFilter by_status;
  by_status.status = JobStatus::kRunning;
  CHECK(ListJobIds(store, by_status) == std::vector<std::string>{"q1-a", "p1-a"});

  JobFilter pending_of_run;
  pending_of_run.run_id = "run-p";
  pending_of_run.status = JobStatus::kPending;
  CHECK(ListJobIds(store, pending_of_run) == std::vector<std::string>{"p1-b", "p1-c", "p2-a"});

  JobFilter both;
  both.run_id = "run-q";
  both.batch_id = "batch-p1";
  CHECK(ListJobIds(store, both).empty());
  CHECK(MustCount(store, "run-q", "batch-p1").total() == 0);
  CHECK(MustCount(store, "run-p", "batch-p1").total() == 3);
  CHECK(MustCount(store, "run-q", "").total() == 1);

  JobFilter page;
  page.run_id = "run-p";
  page.limit = 2;
  page.offset = 1;
  CHECK(ListJobIds(store, page) == std::vector<std::string>{"p1-b", "p1-c"});
  page.offset = 3;
  CHECK(ListJobIds(store, page) == std::vector<std::string>{"p2-a"});

  JobFilter unknown;
  unknown.batch_id = "no-such-batch";
  CHECK(ListJobIds(store, unknown).empty());

  // CountJobs ignores status, limit and offset.
  JobFilter count_filter = page;
  count_filter.status = JobStatus::kCompleted;
  Result<JobCounts> counts = store.CountJobs(count_filter);
  EVOLVE_CONTRACT_OK(counts);
  CHECK(counts->pending == 3);
  CHECK(counts->running == 1);
  CHECK(counts->total() == 4);
  CHECK_FALSE(counts->finished());
}

inline void ClaimTakesSeveralJobsWithLeases(StoreHarness& h) {
  Store& store = h.store();
  Enqueue(store, "run-c", "batch-c",
          {MakeJob("c-1", "batch-c", "run-c", 5), MakeJob("c-2", "batch-c", "run-c", 4),
           MakeJob("c-3", "batch-c", "run-c", 3), MakeJob("c-4", "batch-c", "run-c", 2),
           MakeJob("c-5", "batch-c", "run-c", 1)});

  // Bad requests claim nothing.
  EVOLVE_CONTRACT_CODE(store.ClaimJobs("worker-1", 0, kLongLease), kInvalidArgument);
  EVOLVE_CONTRACT_CODE(store.ClaimJobs("worker-1", -3, kLongLease), kInvalidArgument);
  EVOLVE_CONTRACT_CODE(store.ClaimJobs("worker-1", 1, Duration::zero()), kInvalidArgument);
  EVOLVE_CONTRACT_CODE(store.ClaimJobs("worker-1", 1, -kShortLease), kInvalidArgument);
  EVOLVE_CONTRACT_CODE(store.ClaimJobs("", 1, kLongLease), kInvalidArgument);
  CHECK(MustCount(store, "", "batch-c").pending == 5);

  h.AdvanceTime(kTick);
  Result<std::vector<Job>> first = store.ClaimJobs("worker-1", 3, kLongLease);
  EVOLVE_CONTRACT_OK(first);
  REQUIRE(JobIds(*first) == std::vector<std::string>{"c-1", "c-2", "c-3"});
  for (const Job& job : *first) {
    CHECK(job.status == JobStatus::kRunning);
    CHECK(job.worker_id == "worker-1");
    CHECK(job.attempts == 1);
    REQUIRE(job.lease_until.has_value());
    CHECK(*job.lease_until > job.created_at);
    CHECK(job.updated_at > job.created_at);
    if (h.exact_time()) {
      CHECK(*job.lease_until == store.clock().Now() + kLongLease);
      CHECK(job.updated_at == store.clock().Now());
    }
    // The returned copy is what is stored.
    CHECK(MustGetJob(store, job.id) == job);
  }

  Result<std::vector<Job>> rest = store.ClaimJobs("worker-2", 3, kLongLease);
  EVOLVE_CONTRACT_OK(rest);
  CHECK(JobIds(*rest) == std::vector<std::string>{"c-4", "c-5"});
  Result<std::vector<Job>> none = store.ClaimJobs("worker-3", 3, kLongLease);
  EVOLVE_CONTRACT_OK(none);
  CHECK(none->empty());
  JobCounts counts = MustCount(store, "run-c", "");
  CHECK(counts.running == 5);
  CHECK(counts.pending == 0);
}

inline void NoDoubleClaimUnderConcurrency(StoreHarness& h) {
  Store& store = h.store();
  constexpr int kJobs = 200;
  constexpr int kThreads = 4;
  for (int b = 0; b < 4; ++b) {
    const std::string batch = "batch-cc" + std::to_string(b);
    std::vector<Job> jobs;
    for (int i = 0; i < kJobs / 4; ++i) {
      jobs.push_back(MakeJob(batch + "-" + std::to_string(i), batch, "run-cc", (b * 7 + i) % 5));
    }
    Enqueue(store, "run-cc", batch, jobs);
  }

  std::vector<std::vector<std::string>> claimed_by(kThreads);
  std::vector<std::string> errors;
  std::mutex errors_mu;
  auto record_error = [&errors, &errors_mu](const Status& s) {
    std::lock_guard<std::mutex> lock(errors_mu);
    errors.push_back(s.ToString());
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string worker = "worker-cc" + std::to_string(t);
      const int batch_size = 1 + t % 3;  // mixed claim sizes
      while (true) {
        Result<std::vector<Job>> claimed = store.ClaimJobs(worker, batch_size, kLongLease);
        if (!claimed.ok()) {
          record_error(claimed.status());
          return;
        }
        if (claimed->empty()) return;
        for (const Job& job : *claimed) {
          claimed_by[static_cast<size_t>(t)].push_back(job.id);
          Status done = store.CompleteJob(job.id, worker, MakeResult(1.0));
          if (!done.ok()) record_error(done);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();

  CHECK(errors.empty());
  std::map<std::string, int> times_claimed;
  for (const auto& ids : claimed_by) {
    for (const std::string& id : ids) ++times_claimed[id];
  }
  CHECK(times_claimed.size() == static_cast<size_t>(kJobs));
  for (const auto& entry : times_claimed) CHECK_MESSAGE(entry.second == 1, entry.first);
  JobCounts counts = MustCount(store, "run-cc", "");
  CHECK(counts.completed == kJobs);
  CHECK(counts.total() == kJobs);
}

inline void FencingRejectsWrongAndRepeatedCompletion(StoreHarness& h) {
  Store& store = h.store();
  Enqueue(store, "run-f", "batch-f",
          {MakeJob("f-1", "batch-f", "run-f", 2), MakeJob("f-2", "batch-f", "run-f", 1)});
  Job held = ClaimOne(store, "worker-1", kLongLease);
  REQUIRE(held.id == "f-1");

  // Another worker can do nothing to it.
  const Status wrong = store.CompleteJob("f-1", "worker-2", MakeResult(7.0));
  EVOLVE_CONTRACT_CODE(wrong, kAborted);
  CHECK_MESSAGE(Contains(wrong.message(), "worker-2"), wrong.ToString());
  EVOLVE_CONTRACT_CODE(store.HeartbeatJob("f-1", "worker-2", kLongLease), kAborted);
  EVOLVE_CONTRACT_CODE(store.FailJob("f-1", "worker-2", "boom", false), kAborted);
  EVOLVE_CONTRACT_CODE(store.ReleaseJob("f-1", "worker-2"), kAborted);
  CHECK(MustGetJob(store, "f-1") == held);

  // A job nobody claimed cannot be completed either.
  EVOLVE_CONTRACT_CODE(store.CompleteJob("f-2", "worker-1", MakeResult(7.0)), kAborted);
  CHECK(MustGetJob(store, "f-2").status == JobStatus::kPending);

  h.AdvanceTime(kTick);
  EVOLVE_CONTRACT_OK(store.CompleteJob("f-1", "worker-1", MakeResult(3.25)));
  Job done = MustGetJob(store, "f-1");
  CHECK(done.status == JobStatus::kCompleted);
  REQUIRE(done.result.has_value());
  CHECK(*done.result == MakeResult(3.25));
  CHECK_FALSE(done.lease_until.has_value());
  CHECK(done.error.empty());
  CHECK(done.updated_at > held.updated_at);

  // A second completion is a conflict and writes nothing.
  const Status twice = store.CompleteJob("f-1", "worker-1", MakeResult(4.5));
  EVOLVE_CONTRACT_CODE(twice, kAborted);
  CHECK_MESSAGE(Contains(twice.message(), "COMPLETED"), twice.ToString());
  EVOLVE_CONTRACT_CODE(store.FailJob("f-1", "worker-1", "late failure", true), kAborted);
  EVOLVE_CONTRACT_CODE(store.ReleaseJob("f-1", "worker-1"), kAborted);
  EVOLVE_CONTRACT_CODE(store.HeartbeatJob("f-1", "worker-1", kLongLease), kAborted);
  CHECK(MustGetJob(store, "f-1") == done);

  EVOLVE_CONTRACT_CODE(store.CompleteJob("no-such-job", "worker-1", MakeResult(1.0)), kNotFound);
  EVOLVE_CONTRACT_CODE(store.FailJob("no-such-job", "worker-1", "x", true), kNotFound);
  EVOLVE_CONTRACT_CODE(store.ReleaseJob("no-such-job", "worker-1"), kNotFound);
  EVOLVE_CONTRACT_CODE(store.HeartbeatJob("no-such-job", "worker-1", kLongLease), kNotFound);
}

// Per-claim fencing tokens (issue 18): a claim made with a token is held by
// the worker id and the token together; the id alone, another token or
// another worker with the token is refused with kAborted and nothing is
// written. A claim made without one (worker protocol 1) is fenced by the
// worker id alone. Finishing, failing or releasing clears the token.
inline void ClaimTokensFenceEveryWrite(StoreHarness& h) {
  Store& store = h.store();
  Enqueue(store, "run-t", "batch-t",
          {MakeJob("t-1", "batch-t", "run-t", 3), MakeJob("t-2", "batch-t", "run-t", 2),
           MakeJob("t-3", "batch-t", "run-t", 1)});
  const std::string token = NewClaimToken();
  const std::string other = NewClaimToken();
  CHECK(token.size() == 32);
  CHECK(token != other);
  EVOLVE_CONTRACT_CODE(store.ClaimJobs(ClaimHolder("worker-1", "too-short"), 1, kLongLease),
                       kInvalidArgument);
  EVOLVE_CONTRACT_CODE(store.ClaimJobs(ClaimHolder("worker-1", std::string(32, ' ')), 1, kLongLease),
                       kInvalidArgument);

  auto claimed = store.ClaimJobs(ClaimHolder("worker-1", token), 2, kLongLease);
  EVOLVE_CONTRACT_OK(claimed);
  REQUIRE(claimed->size() == 2);
  for (const Job& job : *claimed) CHECK(job.claim_token == token);
  const Job held = MustGetJob(store, "t-1");
  CHECK(held.claim_token == token);
  CHECK(held.deaths == 0);

  h.AdvanceTime(kTick);
  for (const ClaimHolder& wrong :
       {ClaimHolder("worker-1"), ClaimHolder("worker-1", other), ClaimHolder("worker-2", token)}) {
    CAPTURE(wrong.worker_id);
    CAPTURE(wrong.claim_token == token);
    const Status beat = store.HeartbeatJob("t-1", wrong, kLongLease);
    EVOLVE_CONTRACT_CODE(beat, kAborted);
    CHECK_FALSE(Contains(beat.message(), token));
    CHECK_FALSE(Contains(beat.message(), other));
    EVOLVE_CONTRACT_CODE(store.CompleteJob("t-1", wrong, MakeResult(1.0)), kAborted);
    EVOLVE_CONTRACT_CODE(store.FailJob("t-1", wrong, "boom", false), kAborted);
    EVOLVE_CONTRACT_CODE(store.ReleaseJob("t-1", wrong), kAborted);
    JobOutcome outcome;
    outcome.job_id = "t-1";
    outcome.result = MakeResult(1.0);
    outcome.claim_token = wrong.claim_token;
    auto finished = store.FinishJobs(wrong.worker_id, {outcome});
    EVOLVE_CONTRACT_OK(finished);
    REQUIRE(finished->size() == 1);
    EVOLVE_CONTRACT_CODE(finished->front(), kAborted);
  }
  CHECK(MustGetJob(store, "t-1") == held);
  CHECK(MustGetJob(store, "t-1").claim_token == token);

  // With the token: heartbeat, release, finish.
  EVOLVE_CONTRACT_OK(store.HeartbeatJob("t-1", ClaimHolder("worker-1", token), kLongLease));
  EVOLVE_CONTRACT_OK(store.ReleaseJob("t-2", ClaimHolder("worker-1", token)));
  CHECK(MustGetJob(store, "t-2").status == JobStatus::kPending);
  CHECK(MustGetJob(store, "t-2").claim_token.empty());
  JobOutcome right;
  right.job_id = "t-1";
  right.result = MakeResult(2.0);
  right.claim_token = token;
  auto finished = store.FinishJobs("worker-1", {right});
  EVOLVE_CONTRACT_OK(finished);
  REQUIRE(finished->size() == 1);
  EVOLVE_CONTRACT_OK(finished->front());
  const Job done = MustGetJob(store, "t-1");
  CHECK(done.status == JobStatus::kCompleted);
  CHECK(done.claim_token.empty());

  // A claim without a token: the worker id fences it, a token it never had
  // does not match.
  auto legacy = store.ClaimJobs("worker-3", 1, kLongLease);
  EVOLVE_CONTRACT_OK(legacy);
  REQUIRE(legacy->size() == 1);
  const std::string id = legacy->front().id;
  CHECK(legacy->front().claim_token.empty());
  EVOLVE_CONTRACT_CODE(store.CompleteJob(id, ClaimHolder("worker-3", token), MakeResult(1.0)), kAborted);
  EVOLVE_CONTRACT_OK(store.HeartbeatJob(id, "worker-3", kLongLease));
  EVOLVE_CONTRACT_OK(store.FailJob(id, "worker-3", "boom", false));
  CHECK(MustGetJob(store, id).status == JobStatus::kFailed);
  CHECK(MustGetJob(store, id).claim_token.empty());
}

inline void LateCompletionAfterReapIsRejected(StoreHarness& h) {
  Store& store = h.store();
  Enqueue(store, "run-r", "batch-r",
          {MakeJob("r-1", "batch-r", "run-r", 2), MakeJob("r-2", "batch-r", "run-r", 1)});

  // A lease that ran out but was not reaped yet is still held: the holder
  // may finish, and the reaper then has nothing to do.
  Job slow = ClaimOne(store, "worker-1", kShortLease);
  REQUIRE(slow.id == "r-1");
  h.AdvanceTime(kPastShortLease);
  EVOLVE_CONTRACT_OK(store.CompleteJob("r-1", "worker-1", MakeResult(1.5)));
  Result<int> nothing = store.ReapExpiredJobs();
  EVOLVE_CONTRACT_OK(nothing);
  CHECK(*nothing == 0);
  CHECK(MustGetJob(store, "r-1").status == JobStatus::kCompleted);

  // worker-1 stalls past its lease, the reaper takes the job back, and
  // worker-2 claims it.
  Job stalled = ClaimOne(store, "worker-1", kShortLease);
  REQUIRE(stalled.id == "r-2");
  h.AdvanceTime(kPastShortLease);
  Result<int> reaped = store.ReapExpiredJobs();
  EVOLVE_CONTRACT_OK(reaped);
  CHECK(*reaped == 1);
  Job requeued = MustGetJob(store, "r-2");
  CHECK(requeued.status == JobStatus::kPending);
  CHECK(requeued.worker_id.empty());
  CHECK_FALSE(requeued.lease_until.has_value());
  CHECK(Contains(requeued.error, "lease expired"));
  EVOLVE_CONTRACT_CODE(store.CompleteJob("r-2", "worker-1", MakeResult(9.0)), kAborted);

  CHECK(requeued.deaths == 1);
  CHECK(requeued.attempts == 0);  // a holder death is not a failed attempt

  Job retaken = ClaimOne(store, "worker-2", kLongLease);
  REQUIRE(retaken.id == "r-2");
  CHECK(retaken.attempts == 1);

  // worker-1 wakes up and reports: too late, whatever it tries.
  const Status late = store.CompleteJob("r-2", "worker-1", MakeResult(9.0));
  EVOLVE_CONTRACT_CODE(late, kAborted);
  CHECK_MESSAGE(Contains(late.message(), "worker-1"), late.ToString());
  EVOLVE_CONTRACT_CODE(store.HeartbeatJob("r-2", "worker-1", kLongLease), kAborted);
  EVOLVE_CONTRACT_CODE(store.FailJob("r-2", "worker-1", "stalled", false), kAborted);
  CHECK(MustGetJob(store, "r-2").worker_id == "worker-2");
  CHECK(MustGetJob(store, "r-2").status == JobStatus::kRunning);

  EVOLVE_CONTRACT_OK(store.CompleteJob("r-2", "worker-2", MakeResult(2.5)));
  EVOLVE_CONTRACT_CODE(store.CompleteJob("r-2", "worker-1", MakeResult(9.0)), kAborted);
  Job final_job = MustGetJob(store, "r-2");
  CHECK(final_job.status == JobStatus::kCompleted);
  REQUIRE(final_job.result.has_value());
  CHECK(final_job.result->sqn == std::optional<double>(2.5));  // the valid result stays
  CHECK(final_job.error.empty());                              // the expired attempt's error is history now
}

inline void HeartbeatExtendsLease(StoreHarness& h) {
  Store& store = h.store();
  Enqueue(store, "run-hb", "batch-hb", {MakeJob("hb-1", "batch-hb", "run-hb", 1)});
  Job job = ClaimOne(store, "worker-1", kShortLease);

  EVOLVE_CONTRACT_CODE(store.HeartbeatJob("hb-1", "worker-2", kShortLease), kAborted);
  EVOLVE_CONTRACT_CODE(store.HeartbeatJob("hb-1", "worker-1", Duration::zero()), kInvalidArgument);

  // Heartbeat two thirds into the lease, for a longer one; then go past where
  // the first lease would have ended. The new lease keeps a wide margin, so
  // a real-time backend on a busy machine does not see it run out.
  const Duration extended = 2 * kShortLease;
  h.AdvanceTime(milliseconds(200));
  EVOLVE_CONTRACT_OK(store.HeartbeatJob("hb-1", "worker-1", extended));
  Job beaten = MustGetJob(store, "hb-1");
  REQUIRE(beaten.lease_until.has_value());
  CHECK(*beaten.lease_until > *job.lease_until);
  if (h.exact_time()) CHECK(*beaten.lease_until == store.clock().Now() + extended);
  CHECK(beaten.attempts == 1);  // a heartbeat is not a new attempt

  h.AdvanceTime(milliseconds(200));
  Result<int> reaped = store.ReapExpiredJobs();
  EVOLVE_CONTRACT_OK(reaped);
  CHECK(*reaped == 0);
  CHECK(MustGetJob(store, "hb-1").status == JobStatus::kRunning);
  CHECK(MustGetJob(store, "hb-1").worker_id == "worker-1");

  // Without further heartbeats, the extended lease runs out as well.
  h.AdvanceTime(extended);
  Result<int> reaped_later = store.ReapExpiredJobs();
  EVOLVE_CONTRACT_OK(reaped_later);
  CHECK(*reaped_later == 1);
  CHECK(MustGetJob(store, "hb-1").status == JobStatus::kPending);
}

// Holder deaths are not failures (store.h, kJobDeathLimit): each expired
// lease gives the claim's attempt back and counts a death; the
// kJobDeathLimit-th death quarantines the job with the evidence.
inline void ReaperCountsDeathsThenQuarantines(StoreHarness& h) {
  Store& store = h.store();
  Enqueue(store, "run-rp", "batch-rp",
          {MakeJob("rp-flaky", "batch-rp", "run-rp", 10, /*max_attempts=*/2),
           MakeJob("rp-steady", "batch-rp", "run-rp", 5), MakeJob("rp-waiting", "batch-rp", "run-rp", 1)});

  Result<int> idle = store.ReapExpiredJobs();
  EVOLVE_CONTRACT_OK(idle);
  CHECK(*idle == 0);

  const Job flaky = ClaimOne(store, "worker-1", kShortLease);
  REQUIRE(flaky.id == "rp-flaky");
  REQUIRE(ClaimOne(store, "worker-steady", kLongLease).id == "rp-steady");

  // A lease is taken back only once it has ended: not a third of the way in,
  // and (where time is exact) not at its last instant either.
  h.AdvanceTime(milliseconds(100));
  Result<int> early = store.ReapExpiredJobs();
  EVOLVE_CONTRACT_OK(early);
  CHECK(*early == 0);
  if (h.exact_time()) {
    h.AdvanceTime(*flaky.lease_until - store.clock().Now());
    Result<int> at_end = store.ReapExpiredJobs();
    EVOLVE_CONTRACT_OK(at_end);
    CHECK(*at_end == 0);
  }
  CHECK(MustGetJob(store, "rp-flaky").status == JobStatus::kRunning);
  h.AdvanceTime(kPastShortLease);

  Result<int> first = store.ReapExpiredJobs();
  EVOLVE_CONTRACT_OK(first);
  CHECK(*first == 1);  // only the expired lease
  Job retry = MustGetJob(store, "rp-flaky");
  CHECK(retry.status == JobStatus::kPending);
  CHECK(retry.attempts == 0);
  CHECK(retry.deaths == 1);
  CHECK(retry.worker_id.empty());
  CHECK(retry.claim_token.empty());
  CHECK_MESSAGE(retry.error == "lease expired (worker worker-1)", retry.error);
  CHECK(MustGetJob(store, "rp-steady").status == JobStatus::kRunning);
  Result<int> repeat = store.ReapExpiredJobs();
  EVOLVE_CONTRACT_OK(repeat);
  CHECK(*repeat == 0);

  // max_attempts is 2, yet its holders die kJobDeathLimit - 1 more times
  // before it is given up: back at the head of the queue each time, with
  // one attempt used by each claim and given back by each death.
  for (int death = 2; death <= kJobDeathLimit; ++death) {
    const std::string worker = "worker-" + std::to_string(death);
    Job again = ClaimOne(store, worker, kShortLease);
    REQUIRE(again.id == "rp-flaky");
    CHECK(again.attempts == 1);
    CHECK(again.deaths == death - 1);
    h.AdvanceTime(kPastShortLease);
    Result<int> reaped = store.ReapExpiredJobs();
    EVOLVE_CONTRACT_OK(reaped);
    CHECK(*reaped == 1);
    Job after = MustGetJob(store, "rp-flaky");
    CHECK(after.deaths == death);
    CHECK(after.attempts == 0);
    CHECK_MESSAGE(Contains(after.error, "lease expired (worker " + worker + ")"), after.error);
    CHECK(after.status == (death < kJobDeathLimit ? JobStatus::kPending : JobStatus::kFailed));
  }
  Job quarantined = MustGetJob(store, "rp-flaky");
  CHECK(quarantined.status == JobStatus::kFailed);
  CHECK_FALSE(quarantined.lease_until.has_value());
  // The evidence: how many deaths, and every holder that died.
  CHECK_MESSAGE(Contains(quarantined.error, "quarantined after " + std::to_string(kJobDeathLimit) +
                                                " holder deaths: lease expired (worker worker-1)"),
                quarantined.error);
  for (int death = 2; death <= kJobDeathLimit; ++death) {
    CHECK_MESSAGE(Contains(quarantined.error, "worker-" + std::to_string(death)), quarantined.error);
  }

  // Failed for good: never claimed again, and the reaper leaves it alone.
  CHECK(ClaimOneByOne(store, "worker-3") == std::vector<std::string>{"rp-waiting"});
  JobCounts counts = MustCount(store, "", "batch-rp");
  CHECK(counts.failed == 1);
  CHECK(counts.running == 2);
  CHECK(MustGetJob(store, "rp-steady").worker_id == "worker-steady");
}

// ReclaimJobsOfWorker: the jobs of a worker whose process is gone, taken
// back at once as holder deaths; other workers' jobs are untouched.
inline void ReclaimJobsOfDeadWorker(StoreHarness& h) {
  Store& store = h.store();
  Enqueue(store, "run-rc", "batch-rc",
          {MakeJob("rc-1", "batch-rc", "run-rc", 3), MakeJob("rc-2", "batch-rc", "run-rc", 2),
           MakeJob("rc-3", "batch-rc", "run-rc", 1)});
  Result<std::vector<Job>> dead_claim = store.ClaimJobs("worker-dead", 2, kLongLease);
  EVOLVE_CONTRACT_OK(dead_claim);
  REQUIRE(dead_claim->size() == 2);
  REQUIRE(ClaimOne(store, "worker-live", kLongLease).id == "rc-3");

  const Result<int> no_worker = store.ReclaimJobsOfWorker("", "gone");
  EVOLVE_CONTRACT_CODE(no_worker.status(), kInvalidArgument);
  Result<int> none = store.ReclaimJobsOfWorker("worker-unknown", "gone");
  EVOLVE_CONTRACT_OK(none);
  CHECK(*none == 0);

  Result<int> reclaimed = store.ReclaimJobsOfWorker("worker-dead", "the process 4242 on host-a died");
  EVOLVE_CONTRACT_OK(reclaimed);
  CHECK(*reclaimed == 2);
  for (const char* id : {"rc-1", "rc-2"}) {
    Job job = MustGetJob(store, id);
    CHECK(job.status == JobStatus::kPending);
    CHECK(job.deaths == 1);
    CHECK(job.attempts == 0);
    CHECK(job.worker_id.empty());
    CHECK_FALSE(job.lease_until.has_value());
    CHECK_MESSAGE(job.error == "the process 4242 on host-a died (worker worker-dead)", job.error);
  }
  Job live = MustGetJob(store, "rc-3");
  CHECK(live.status == JobStatus::kRunning);
  CHECK(live.worker_id == "worker-live");
  CHECK(live.deaths == 0);
  // The dead worker's late word is refused; the jobs run again.
  EVOLVE_CONTRACT_CODE(store.CompleteJob("rc-1", "worker-dead", MakeResult(1.0)), kAborted);
  CHECK(ClaimOneByOne(store, "worker-2") == std::vector<std::string>{"rc-1", "rc-2"});
  Result<int> again = store.ReclaimJobsOfWorker("worker-dead", "gone");
  EVOLVE_CONTRACT_OK(again);
  CHECK(*again == 0);
}

// RequeueFailedJobs: what `resume` does for a batch a run failed on.
inline void RequeueFailedJobsGivesFreshCounters(StoreHarness& h) {
  Store& store = h.store();
  Enqueue(store, "run-rq", "batch-rq",
          {MakeJob("rq-done", "batch-rq", "run-rq", 4), MakeJob("rq-fatal", "batch-rq", "run-rq", 3),
           MakeJob("rq-died", "batch-rq", "run-rq", 2), MakeJob("rq-left", "batch-rq", "run-rq", 1)});
  Enqueue(store, "run-rq", "batch-rq-other", {MakeJob("rq-other", "batch-rq-other", "run-rq", 9)});
  REQUIRE(ClaimOne(store, "worker-1", kLongLease).id == "rq-other");
  EVOLVE_CONTRACT_OK(store.FailJob("rq-other", "worker-1", "bad parameters", false));
  REQUIRE(ClaimOne(store, "worker-1", kLongLease).id == "rq-done");
  EVOLVE_CONTRACT_OK(store.CompleteJob("rq-done", "worker-1", MakeResult(1.5)));
  REQUIRE(ClaimOne(store, "worker-1", kLongLease).id == "rq-fatal");
  EVOLVE_CONTRACT_OK(store.FailJob("rq-fatal", "worker-1", "bad parameters", false));
  REQUIRE(ClaimOne(store, "worker-1", kLongLease).id == "rq-died");
  REQUIRE(store.ReclaimJobsOfWorker("worker-1", "gone").ok());
  Job died = MustGetJob(store, "rq-died");
  REQUIRE(died.status == JobStatus::kPending);
  REQUIRE(died.deaths == 1);
  REQUIRE(ClaimOne(store, "worker-2", kLongLease).id == "rq-died");
  EVOLVE_CONTRACT_OK(store.FailJob("rq-died", "worker-2", "simulator down", false));

  const Result<int> no_batch = store.RequeueFailedJobs("");
  EVOLVE_CONTRACT_CODE(no_batch.status(), kInvalidArgument);
  Result<int> unknown = store.RequeueFailedJobs("batch-none");
  EVOLVE_CONTRACT_OK(unknown);
  CHECK(*unknown == 0);

  Result<int> requeued = store.RequeueFailedJobs("batch-rq");
  EVOLVE_CONTRACT_OK(requeued);
  CHECK(*requeued == 2);
  for (const char* id : {"rq-fatal", "rq-died"}) {
    Job job = MustGetJob(store, id);
    CHECK(job.status == JobStatus::kPending);
    CHECK(job.attempts == 0);
    CHECK(job.deaths == 0);
    CHECK(job.error.empty());
    CHECK(job.worker_id.empty());
    CHECK_FALSE(job.result.has_value());
    CHECK_FALSE(job.lease_until.has_value());
  }
  Job done = MustGetJob(store, "rq-done");
  CHECK(done.status == JobStatus::kCompleted);
  CHECK(done.result.has_value());
  CHECK(MustGetJob(store, "rq-other").status == JobStatus::kFailed);  // another batch
  JobCounts counts = MustCount(store, "", "batch-rq");
  CHECK(counts.pending == 3);
  CHECK(counts.completed == 1);
  CHECK(counts.failed == 0);
  // Their places in claim order are kept.
  CHECK(ClaimOneByOne(store, "worker-3") == std::vector<std::string>{"rq-fatal", "rq-died", "rq-left"});
  Result<int> again = store.RequeueFailedJobs("batch-rq");
  EVOLVE_CONTRACT_OK(again);
  CHECK(*again == 0);
}

inline void FailJobRetryableAndFinal(StoreHarness& h) {
  Store& store = h.store();
  Enqueue(store, "run-fj", "batch-fj",
          {MakeJob("fj-retry", "batch-fj", "run-fj", 3, 3), MakeJob("fj-last", "batch-fj", "run-fj", 2, 1),
           MakeJob("fj-fatal", "batch-fj", "run-fj", 1, 3)});

  REQUIRE(ClaimOne(store, "worker-1", kLongLease).id == "fj-retry");
  EVOLVE_CONTRACT_OK(store.FailJob("fj-retry", "worker-1", "simulator timeout", true));
  Job retry = MustGetJob(store, "fj-retry");
  CHECK(retry.status == JobStatus::kPending);
  CHECK(retry.error == "simulator timeout");
  CHECK(retry.worker_id.empty());
  CHECK_FALSE(retry.lease_until.has_value());
  CHECK(retry.attempts == 1);
  JobCounts mid = MustCount(store, "", "batch-fj");
  CHECK(mid.pending == 3);
  CHECK(mid.failed == 0);

  // Claimed again (it is still the highest priority), then failed for good.
  Job again = ClaimOne(store, "worker-2", kLongLease);
  REQUIRE(again.id == "fj-retry");
  CHECK(again.attempts == 2);
  EVOLVE_CONTRACT_OK(store.FailJob("fj-retry", "worker-2", "bad parameters", false));
  Job fatal = MustGetJob(store, "fj-retry");
  CHECK(fatal.status == JobStatus::kFailed);
  CHECK(fatal.error == "bad parameters");
  CHECK_FALSE(fatal.lease_until.has_value());

  // Retryable, but no attempt left: FAILED, the error kept.
  REQUIRE(ClaimOne(store, "worker-1", kLongLease).id == "fj-last");
  EVOLVE_CONTRACT_OK(store.FailJob("fj-last", "worker-1", "simulator down", true));
  Job last = MustGetJob(store, "fj-last");
  CHECK(last.status == JobStatus::kFailed);
  CHECK(last.error == "simulator down");

  // Not retryable with attempts left: FAILED at once.
  REQUIRE(ClaimOne(store, "worker-1", kLongLease).id == "fj-fatal");
  EVOLVE_CONTRACT_OK(store.FailJob("fj-fatal", "worker-1", "model missing", false));
  CHECK(MustGetJob(store, "fj-fatal").status == JobStatus::kFailed);

  JobCounts end = MustCount(store, "", "batch-fj");
  CHECK(end.failed == 3);
  CHECK(end.finished());
  Result<std::vector<Job>> none = store.ClaimJobs("worker-1", 5, kLongLease);
  EVOLVE_CONTRACT_OK(none);
  CHECK(none->empty());
}

inline void ReleaseDoesNotCountTheAttempt(StoreHarness& h) {
  Store& store = h.store();
  Enqueue(store, "run-rl", "batch-rl",
          {MakeJob("rl-1", "batch-rl", "run-rl", 2, /*max_attempts=*/1),
           MakeJob("rl-2", "batch-rl", "run-rl", 1)});
  Job claimed = ClaimOne(store, "worker-1", kShortLease);
  REQUIRE(claimed.id == "rl-1");
  CHECK(claimed.attempts == 1);

  EVOLVE_CONTRACT_OK(store.ReleaseJob("rl-1", "worker-1"));
  Job released = MustGetJob(store, "rl-1");
  CHECK(released.status == JobStatus::kPending);
  CHECK(released.attempts == 0);
  CHECK(released.worker_id.empty());
  CHECK_FALSE(released.lease_until.has_value());
  EVOLVE_CONTRACT_CODE(store.ReleaseJob("rl-1", "worker-1"), kAborted);  // not held any more

  // Its one attempt is still there: it is claimed first again (its place in
  // the queue kept), and only this real attempt's expiry fails it for good.
  Job reclaimed = ClaimOne(store, "worker-2", kShortLease);
  REQUIRE(reclaimed.id == "rl-1");
  CHECK(reclaimed.attempts == 1);
  EVOLVE_CONTRACT_CODE(store.ReleaseJob("rl-1", "worker-1"), kAborted);
  h.AdvanceTime(kPastShortLease);
  Result<int> reaped = store.ReapExpiredJobs();
  EVOLVE_CONTRACT_OK(reaped);
  CHECK(*reaped == 1);
  // Its holder died: a death, not a failure; the attempt comes back.
  Job died = MustGetJob(store, "rl-1");
  CHECK(died.status == JobStatus::kPending);
  CHECK(died.attempts == 0);
  CHECK(died.deaths == 1);
}

inline void FinishedJobsAreNeverClaimed(StoreHarness& h) {
  Store& store = h.store();
  // Many high-priority jobs that finish in every possible way...
  std::vector<Job> done;
  for (int i = 0; i < 40; ++i) {
    done.push_back(MakeJob("d-" + std::to_string(100 + i), "batch-done", "run-d", 100, 1));
  }
  Enqueue(store, "run-d", "batch-done", done);
  Result<std::vector<Job>> all = store.ClaimJobs("worker-1", 40, kLongLease);
  EVOLVE_CONTRACT_OK(all);
  REQUIRE(all->size() == 40);
  for (int i = 0; i < 40; ++i) {
    const std::string& id = (*all)[static_cast<size_t>(i)].id;
    if (i % 2 == 0) {
      EVOLVE_CONTRACT_OK(store.CompleteJob(id, "worker-1", MakeResult(1.0)));
    } else {
      EVOLVE_CONTRACT_OK(store.FailJob(id, "worker-1", "broken", i % 4 == 1));
    }
  }
  Enqueue(store, "run-cancelled", "batch-cancelled",
          {MakeJob("k-1", "batch-cancelled", "run-cancelled", 100),
           MakeJob("k-2", "batch-cancelled", "run-cancelled", 100)});
  EVOLVE_CONTRACT_OK(
      store.TransitionRun("run-cancelled", {RunStatus::kRunning}, RunStatus::kCancelled, kStopCancelled, ""));

  // ...and a few low-priority pending ones: those, and only those, are claimed.
  Enqueue(store, "run-todo", "batch-todo",
          {MakeJob("t-1", "batch-todo", "run-todo", 0), MakeJob("t-2", "batch-todo", "run-todo", 0),
           MakeJob("t-3", "batch-todo", "run-todo", 0)});
  Result<std::vector<Job>> claimed = store.ClaimJobs("worker-2", 10, kLongLease);
  EVOLVE_CONTRACT_OK(claimed);
  CHECK(JobIds(*claimed) == std::vector<std::string>{"t-1", "t-2", "t-3"});
  Result<int> reaped = store.ReapExpiredJobs();
  EVOLVE_CONTRACT_OK(reaped);
  CHECK(*reaped == 0);
  JobCounts counts = MustCount(store, "run-d", "");
  CHECK(counts.completed == 20);
  CHECK(counts.failed == 20);
}

// ------------------------------------------------------------- promotions

inline Promotion MakePromotion(const std::string& id, double sqn) {
  Promotion p;
  p.id = id;
  p.model_id = "model-" + id;
  p.run_id = "run-pr";
  p.generation = 2;
  p.job_id = "job-" + id;
  p.sqn = sqn;
  p.profit_factor = 2.5;
  p.trade_count = 420;
  p.weekly_consistency = 0.25;
  p.ticker = "AAPL";
  p.regime = RegimeFilter{"regime", {1}};
  p.threshold = 0.0003;
  p.spec.symbol = "AAPL";
  p.spec.features = {"macd", "rsi_14"};
  p.spec.parent_model_id = "model-parent";
  p.result = MakeResult(sqn);
  return p;
}

inline void PromotionsOrderAndIdempotence(StoreHarness& h) {
  Store& store = h.store();
  EnsureRun(store, "run-pr");
  EVOLVE_CONTRACT_CODE(store.GetPromotion("no-such-promotion"), kNotFound);

  EVOLVE_CONTRACT_OK(store.SavePromotion(MakePromotion("promo-low", 3.1)));
  h.AdvanceTime(kTick);
  EVOLVE_CONTRACT_OK(store.SavePromotion(MakePromotion("promo-high", 4.2)));
  h.AdvanceTime(kTick);
  EVOLVE_CONTRACT_OK(store.SavePromotion(MakePromotion("promo-mid", 3.5)));

  Result<Promotion> high = store.GetPromotion("promo-high");
  EVOLVE_CONTRACT_OK(high);
  Promotion expected = MakePromotion("promo-high", 4.2);
  expected.created_at = high->created_at;
  CHECK(*high == expected);
  CHECK(high->created_at != TimePoint{});

  // Saving the same id again is a no-op, even with other contents.
  h.AdvanceTime(kTick);
  EVOLVE_CONTRACT_OK(store.SavePromotion(MakePromotion("promo-low", 9.9)));
  Result<Promotion> low = store.GetPromotion("promo-low");
  EVOLVE_CONTRACT_OK(low);
  CHECK(low->sqn == 3.1);
  CHECK(low->created_at < high->created_at);

  Result<std::vector<Promotion>> list = store.ListPromotions(10, 0);
  EVOLVE_CONTRACT_OK(list);
  CHECK(Ids(*list) == std::vector<std::string>{"promo-high", "promo-mid", "promo-low"});
  Result<std::vector<Promotion>> page = store.ListPromotions(1, 1);
  EVOLVE_CONTRACT_OK(page);
  CHECK(Ids(*page) == std::vector<std::string>{"promo-mid"});
  Result<std::vector<Promotion>> past_end = store.ListPromotions(10, 3);
  EVOLVE_CONTRACT_OK(past_end);
  CHECK(past_end->empty());
}

// ------------------------------------------------------------------ workers

inline WorkerInfo MakeWorker(const std::string& id) {
  WorkerInfo w;
  w.id = id;
  w.host = "host-" + id;
  w.pid = 4242;
  return w;
}

inline std::map<std::string, WorkerInfo> WorkersById(Store& store) {
  Result<std::vector<WorkerInfo>> list = store.ListWorkers();
  EVOLVE_CONTRACT_OK(list);
  std::map<std::string, WorkerInfo> by_id;
  for (const WorkerInfo& w : *list) by_id[w.id] = w;
  return by_id;
}

inline void FinishJobsReportsEachOutcome(StoreHarness& h) {
  Store& store = h.store();
  EVOLVE_CONTRACT_OK(store.RegisterWorker(MakeWorker("worker-1")));
  Enqueue(store, "run-fin", "batch-fin",
          {MakeJob("fin-a", "batch-fin", "run-fin", 5), MakeJob("fin-b", "batch-fin", "run-fin", 4),
           MakeJob("fin-c", "batch-fin", "run-fin", 3), MakeJob("fin-d", "batch-fin", "run-fin", 2, 1),
           MakeJob("fin-e", "batch-fin", "run-fin", 1)});
  Result<std::vector<Job>> claimed = store.ClaimJobs("worker-1", 4, kLongLease);
  EVOLVE_CONTRACT_OK(claimed);
  REQUIRE(claimed->size() == 4);  // fin-a .. fin-d; fin-e stays PENDING
  Result<std::vector<Job>> other = store.ClaimJobs("worker-2", 1, kLongLease);
  EVOLVE_CONTRACT_OK(other);
  REQUIRE(other->size() == 1);
  REQUIRE(other->front().id == "fin-e");

  std::vector<JobOutcome> outcomes(6);
  outcomes[0].job_id = "fin-a";
  outcomes[0].result = MakeResult(3.5);
  // Text a backend might use to frame a batch: quotes, backslashes, braces,
  // commas, NULL, and control characters (a record separator among them).
  outcomes[0].result->start_date = "\"{NULL},\\ \x1e\x1f\n\t";
  outcomes[1].job_id = "fin-b";  // retryable with attempts left: back to PENDING
  outcomes[1].error = "simulator timeout";
  outcomes[1].retryable = true;
  outcomes[2].job_id = "fin-c";  // not retryable: FAILED
  outcomes[2].error = "bad parameters";
  outcomes[3].job_id = "fin-e";  // held by worker-2: refused alone
  outcomes[3].result = MakeResult(1.0);
  outcomes[4].job_id = "fin-missing";  // unknown: refused alone
  outcomes[4].result = MakeResult(1.0);
  outcomes[5].job_id = "fin-d";  // retryable but no attempt left: FAILED
  outcomes[5].error = "simulator down";
  outcomes[5].retryable = true;
  Result<std::vector<Status>> statuses = store.FinishJobs("worker-1", outcomes);
  EVOLVE_CONTRACT_OK(statuses);
  REQUIRE(statuses->size() == outcomes.size());
  EVOLVE_CONTRACT_OK((*statuses)[0]);
  EVOLVE_CONTRACT_OK((*statuses)[1]);
  EVOLVE_CONTRACT_OK((*statuses)[2]);
  EVOLVE_CONTRACT_CODE((*statuses)[3], kAborted);
  EVOLVE_CONTRACT_CODE((*statuses)[4], kNotFound);
  EVOLVE_CONTRACT_OK((*statuses)[5]);

  Job a = MustGetJob(store, "fin-a");
  CHECK(a.status == JobStatus::kCompleted);
  REQUIRE(a.result.has_value());
  CHECK(*a.result == *outcomes[0].result);
  Job b = MustGetJob(store, "fin-b");
  CHECK(b.status == JobStatus::kPending);
  CHECK(b.error == "simulator timeout");
  CHECK(MustGetJob(store, "fin-c").status == JobStatus::kFailed);
  CHECK(MustGetJob(store, "fin-c").error == "bad parameters");
  CHECK(MustGetJob(store, "fin-d").status == JobStatus::kFailed);
  Job e = MustGetJob(store, "fin-e");
  CHECK(e.status == JobStatus::kRunning);  // worker-2's, untouched
  CHECK_FALSE(e.result.has_value());

  // Counted as CompleteJob / FailJob count them.
  bool found = false;
  for (const WorkerInfo& w : *store.ListWorkers()) {
    if (w.id != "worker-1") continue;
    found = true;
    CHECK(w.jobs_completed == 1);
    CHECK(w.jobs_failed == 2);
  }
  CHECK(found);

  // A second report of the same outcomes writes nothing more.
  Result<std::vector<Status>> again = store.FinishJobs("worker-1", {outcomes[0]});
  EVOLVE_CONTRACT_OK(again);
  EVOLVE_CONTRACT_CODE(again->front(), kAborted);
  CHECK(MustGetJob(store, "fin-a").status == JobStatus::kCompleted);
}

inline void WorkerRegistryAndCounters(StoreHarness& h) {
  Store& store = h.store();
  EVOLVE_CONTRACT_CODE(store.WorkerHeartbeat("worker-unknown", {}), kNotFound);
  EVOLVE_CONTRACT_CODE(store.DeregisterWorker("worker-unknown"), kNotFound);

  EVOLVE_CONTRACT_OK(store.RegisterWorker(MakeWorker("worker-1")));
  WorkerInfo w1 = WorkersById(store).at("worker-1");
  CHECK(w1.status == "ACTIVE");
  CHECK(w1.host == "host-worker-1");
  CHECK(w1.pid == 4242);
  CHECK(w1.jobs_completed == 0);
  CHECK(w1.jobs_failed == 0);
  CHECK(w1.started_at == w1.last_heartbeat);
  CheckStampedNow(h, w1.last_heartbeat);

  h.AdvanceTime(kTick);
  EVOLVE_CONTRACT_OK(store.RegisterWorker(MakeWorker("worker-2")));
  Result<std::vector<WorkerInfo>> order = store.ListWorkers();
  EVOLVE_CONTRACT_OK(order);
  CHECK(Ids(*order) == std::vector<std::string>{"worker-2", "worker-1"});

  h.AdvanceTime(kTick);
  EVOLVE_CONTRACT_OK(store.WorkerHeartbeat("worker-1", {"job-a", "job-b"}));
  Result<std::vector<WorkerInfo>> reordered = store.ListWorkers();
  EVOLVE_CONTRACT_OK(reordered);
  REQUIRE(Ids(*reordered) == std::vector<std::string>{"worker-1", "worker-2"});
  CHECK(reordered->front().current_jobs == std::vector<std::string>{"job-a", "job-b"});
  CHECK(reordered->front().last_heartbeat > w1.last_heartbeat);
  CHECK(reordered->front().started_at == w1.started_at);

  // Counters: a completion and a final failure count; a retried one doesn't.
  Enqueue(store, "run-w", "batch-w",
          {MakeJob("w-1", "batch-w", "run-w", 5), MakeJob("w-2", "batch-w", "run-w", 4),
           MakeJob("w-3", "batch-w", "run-w", 3), MakeJob("w-4", "batch-w", "run-w", 2)});
  Result<std::vector<Job>> mine = store.ClaimJobs("worker-1", 3, kLongLease);
  EVOLVE_CONTRACT_OK(mine);
  REQUIRE(mine->size() == 3);
  EVOLVE_CONTRACT_OK(store.CompleteJob("w-1", "worker-1", MakeResult(1.0)));
  EVOLVE_CONTRACT_OK(store.CompleteJob("w-2", "worker-1", MakeResult(1.0)));
  EVOLVE_CONTRACT_OK(store.FailJob("w-3", "worker-1", "bad", false));
  REQUIRE(ClaimOne(store, "worker-2", kLongLease).id == "w-4");
  EVOLVE_CONTRACT_OK(store.FailJob("w-4", "worker-2", "flaky", true));
  // A rejected completion counts for nobody.
  EVOLVE_CONTRACT_CODE(store.CompleteJob("w-1", "worker-2", MakeResult(1.0)), kAborted);

  auto workers = WorkersById(store);
  CHECK(workers.at("worker-1").jobs_completed == 2);
  CHECK(workers.at("worker-1").jobs_failed == 1);
  CHECK(workers.at("worker-2").jobs_completed == 0);
  CHECK(workers.at("worker-2").jobs_failed == 0);

  // Re-registering (a restarted worker) keeps its counters.
  h.AdvanceTime(kTick);
  WorkerInfo restarted = MakeWorker("worker-1");
  restarted.pid = 5151;
  EVOLVE_CONTRACT_OK(store.RegisterWorker(restarted));
  WorkerInfo w1_again = WorkersById(store).at("worker-1");
  CHECK(w1_again.status == "ACTIVE");
  CHECK(w1_again.pid == 5151);
  CHECK(w1_again.jobs_completed == 2);
  CHECK(w1_again.jobs_failed == 1);
  CHECK(w1_again.started_at > w1.started_at);

  EVOLVE_CONTRACT_OK(store.WorkerHeartbeat("worker-1", {"job-c"}));
  EVOLVE_CONTRACT_OK(store.DeregisterWorker("worker-1"));
  WorkerInfo stopped = WorkersById(store).at("worker-1");
  CHECK(stopped.status == "STOPPED");
  CHECK(stopped.current_jobs.empty());
  CHECK(stopped.jobs_completed == 2);
  CHECK(WorkersById(store).at("worker-2").status == "ACTIVE");
}

// -------------------------------------------------------------- job kinds

// A training job (types.h, Job): no model yet, the symbol in params.ticker
// and its TrainingTask as JSON in `task`, with text a backend might use to
// frame a batch (quotes, braces, backslashes, NULL, a record separator).
inline Job MakeTrainingJob(const std::string& id, const std::string& batch_id, const std::string& run_id,
                           double priority, JobKind kind) {
  Job job = MakeJob(id, batch_id, run_id, priority);
  job.kind = kind;
  job.model_id.clear();
  job.params = SimulationParams{};
  job.params.ticker = "AAPL";
  TrainingTask task;
  task.spec.symbol = "AAPL";
  task.spec.features = {"rsi_14", "macd"};
  task.parts = 2;
  task.inputs = "\"{NULL},\\ \x1e";
  if (kind == JobKind::kAssemble) task.part_outputs = {"part-0", "part-1"};
  job.task = ToJson(task);
  return job;
}

// Kind, task and output are stored and returned by every read (GetJob,
// ListJobs, ClaimJobs); an output or a result given with a new job is not
// kept.
inline void JobKindTaskAndOutputRoundTrip(StoreHarness& h) {
  Store& store = h.store();
  std::vector<Job> jobs = {MakeJob("rt-sim", "batch-rt", "run-rt", 3),
                           MakeTrainingJob("rt-train", "batch-rt", "run-rt", 2, JobKind::kTrain),
                           MakeTrainingJob("rt-asm", "batch-rt", "run-rt", 1, JobKind::kAssemble)};
  jobs[1].output = "stale output";
  jobs[1].result = MakeResult(9.0);
  jobs[2].output = "stale output";
  Enqueue(store, "run-rt", "batch-rt", jobs);
  REQUIRE(jobs[1].task != jobs[2].task);

  auto check_as_given = [](const Job& got, const Job& input, const char* read) {
    CHECK_MESSAGE(got.kind == input.kind, read << " " << input.id);
    CHECK_MESSAGE(got.task == input.task, read << " " << input.id);
    CHECK_MESSAGE(got.output.empty(), read << " " << input.id);
    CHECK_MESSAGE(!got.result.has_value(), read << " " << input.id);
    CHECK_MESSAGE(got.params == input.params, read << " " << input.id);
    CHECK_MESSAGE(got.model_id == input.model_id, read << " " << input.id);
  };
  for (const Job& input : jobs) check_as_given(MustGetJob(store, input.id), input, "GetJob");
  JobFilter batch;
  batch.batch_id = "batch-rt";
  Result<std::vector<Job>> listed = store.ListJobs(batch);
  EVOLVE_CONTRACT_OK(listed);
  REQUIRE(JobIds(*listed) == std::vector<std::string>{"rt-sim", "rt-train", "rt-asm"});
  for (size_t i = 0; i < jobs.size(); ++i) check_as_given((*listed)[i], jobs[i], "ListJobs");
  Result<std::vector<Job>> claimed = store.ClaimJobs("worker-1", 3, kLongLease, JobKinds::All());
  EVOLVE_CONTRACT_OK(claimed);
  REQUIRE(JobIds(*claimed) == std::vector<std::string>{"rt-sim", "rt-train", "rt-asm"});
  for (size_t i = 0; i < jobs.size(); ++i) check_as_given((*claimed)[i], jobs[i], "ClaimJobs");
}

// A training job without a task, or a simulation with one, is refused with
// kInvalidArgument naming the job and the field, and its batch with it.
inline void EnqueueRefusesATaskOfTheWrongKind(StoreHarness& h) {
  Store& store = h.store();
  EnsureRun(store, "run-v");
  Job train_without_task = MakeTrainingJob("v-train", "batch-v", "run-v", 1, JobKind::kTrain);
  train_without_task.task.clear();
  Job assemble_without_task = MakeTrainingJob("v-asm", "batch-v", "run-v", 1, JobKind::kAssemble);
  assemble_without_task.task.clear();
  Job simulation_with_task = MakeJob("v-sim", "batch-v", "run-v", 1);
  simulation_with_task.task = MakeTrainingJob("x", "batch-v", "run-v", 1, JobKind::kTrain).task;
  for (const Job& bad : {train_without_task, assemble_without_task, simulation_with_task}) {
    Result<int> refused = store.EnqueueBatch("batch-v", {MakeJob("v-ok", "batch-v", "run-v", 2), bad});
    EVOLVE_CONTRACT_CODE(refused, kInvalidArgument);
    const std::string message = refused.status().message();
    CHECK_MESSAGE(Contains(message, bad.id), message);
    CHECK_MESSAGE(Contains(message, "task"), message);
    EVOLVE_CONTRACT_CODE(store.GetJob("v-ok"), kNotFound);
    CHECK(MustCount(store, "", "batch-v").total() == 0);
  }
  // Each of a kind, rightly: the batch goes in.
  Enqueue(store, "run-v", "batch-v",
          {MakeJob("v-ok", "batch-v", "run-v", 2),
           MakeTrainingJob("v-train", "batch-v", "run-v", 1, JobKind::kTrain),
           MakeTrainingJob("v-asm", "batch-v", "run-v", 1, JobKind::kAssemble)});
}

// ListJobs and CountJobs take a kind: only that kind's jobs, with the
// other conditions, in claim order; unset: every kind.
inline void ListAndCountFilterByKind(StoreHarness& h) {
  Store& store = h.store();
  Enqueue(store, "run-f", "batch-f",
          {MakeTrainingJob("f-train-9", "batch-f", "run-f", 9, JobKind::kTrain),
           MakeJob("f-sim-5", "batch-f", "run-f", 5),
           MakeTrainingJob("f-asm-5", "batch-f", "run-f", 5, JobKind::kAssemble),
           MakeJob("f-sim-1", "batch-f", "run-f", 1),
           MakeTrainingJob("f-train-0", "batch-f", "run-f", 0, JobKind::kTrain)});
  Enqueue(store, "run-g", "batch-g", {MakeJob("g-sim", "batch-g", "run-g", 7)});
  Result<std::vector<Job>> claimed = store.ClaimJobs("worker-f", 1, kLongLease, JobKinds::All());
  EVOLVE_CONTRACT_OK(claimed);
  REQUIRE(JobIds(*claimed) == std::vector<std::string>{"f-train-9"});

  auto list = [&store](const std::string& run, std::optional<JobKind> kind, std::optional<JobStatus> status) {
    JobFilter filter;
    filter.run_id = run;
    filter.kind = kind;
    filter.status = status;
    return ListJobIds(store, filter);
  };
  CHECK(list("run-f", JobKind::kSimulate, std::nullopt) == std::vector<std::string>{"f-sim-5", "f-sim-1"});
  CHECK(list("", JobKind::kSimulate, std::nullopt) ==
        std::vector<std::string>{"g-sim", "f-sim-5", "f-sim-1"});
  CHECK(list("run-f", JobKind::kTrain, std::nullopt) == std::vector<std::string>{"f-train-9", "f-train-0"});
  CHECK(list("run-f", JobKind::kTrain, JobStatus::kPending) == std::vector<std::string>{"f-train-0"});
  CHECK(list("run-f", JobKind::kAssemble, JobStatus::kRunning).empty());
  CHECK(list("run-f", std::nullopt, std::nullopt).size() == 5);

  auto count = [&store](const std::string& batch, std::optional<JobKind> kind) {
    JobFilter filter;
    filter.batch_id = batch;
    filter.kind = kind;
    Result<JobCounts> counts = store.CountJobs(filter);
    EVOLVE_CONTRACT_OK(counts);
    return counts.ok() ? *counts : JobCounts{};
  };
  const JobCounts train = count("batch-f", JobKind::kTrain);
  CHECK(train.running == 1);
  CHECK(train.pending == 1);
  CHECK(train.total() == 2);
  CHECK(count("batch-f", JobKind::kSimulate).pending == 2);
  CHECK(count("", JobKind::kSimulate).total() == 3);
  CHECK(count("batch-f", JobKind::kAssemble).total() == 1);
  CHECK(count("batch-f", std::nullopt).total() == 5);
}

// A claim takes only the kinds it names, in the one claim order of every
// kind (priority DESC, created_at, id); no kinds: nothing, and no error.
inline void ClaimsTakeOnlyTheKindsNamed(StoreHarness& h) {
  Store& store = h.store();
  Enqueue(store, "run-k", "batch-k",
          {MakeTrainingJob("k-train-9", "batch-k", "run-k", 9, JobKind::kTrain),
           MakeJob("k-sim-5", "batch-k", "run-k", 5),
           MakeTrainingJob("k-asm-5", "batch-k", "run-k", 5, JobKind::kAssemble),
           MakeJob("k-sim-1", "batch-k", "run-k", 1),
           MakeTrainingJob("k-train-0", "batch-k", "run-k", 0, JobKind::kTrain)});
  const std::vector<std::string> claim_order = {"k-train-9", "k-asm-5", "k-sim-5", "k-sim-1", "k-train-0"};
  REQUIRE(ListJobIds(store, JobFilter{}) == claim_order);

  Result<std::vector<Job>> none = store.ClaimJobs("worker-none", 5, kLongLease, JobKinds());
  EVOLVE_CONTRACT_OK(none);
  CHECK(none->empty());
  EVOLVE_CONTRACT_CODE(store.ClaimJobs("worker-none", 0, kLongLease, JobKinds()), kInvalidArgument);
  CHECK(MustCount(store, "run-k", "").pending == 5);

  auto claim = [&store](const std::string& worker, int max_jobs, JobKinds kinds) {
    Result<std::vector<Job>> claimed = store.ClaimJobs(worker, max_jobs, kLongLease, kinds);
    EVOLVE_CONTRACT_OK(claimed);
    for (const Job& job : *claimed) CHECK_MESSAGE(kinds.Has(job.kind), job.id << " claimed by " << worker);
    return JobIds(*claimed);
  };
  // A worker without a trainer (the claim of simulations only) never gets
  // a training job, though those come first.
  Result<std::vector<Job>> simulations = store.ClaimJobs("worker-sim", 10, kLongLease);
  EVOLVE_CONTRACT_OK(simulations);
  CHECK(JobIds(*simulations) == std::vector<std::string>{"k-sim-5", "k-sim-1"});
  CHECK(claim("worker-asm", 10, JobKinds::Simulation().With(JobKind::kAssemble)) ==
        std::vector<std::string>{"k-asm-5"});
  const JobKinds training = JobKinds().With(JobKind::kTrain);
  CHECK_FALSE(training.Has(JobKind::kSimulate));
  CHECK(claim("worker-train", 10, training) == std::vector<std::string>{"k-train-9", "k-train-0"});
  CHECK(claim("worker-all", 10, JobKinds::All()).empty());

  // Given back, all of them go to a worker that runs every kind, in claim order.
  for (const auto& [job, worker] :
       std::vector<std::pair<std::string, std::string>>{{"k-sim-5", "worker-sim"},
                                                        {"k-sim-1", "worker-sim"},
                                                        {"k-asm-5", "worker-asm"},
                                                        {"k-train-9", "worker-train"},
                                                        {"k-train-0", "worker-train"}}) {
    EVOLVE_CONTRACT_OK(store.ReleaseJob(job, worker));
  }
  const std::vector<std::string> first = claim("worker-all", 3, JobKinds::All());
  CHECK(first == std::vector<std::string>(claim_order.begin(), claim_order.begin() + 3));
  const std::vector<std::string> rest = claim("worker-all", 10, JobKinds::All().With(JobKind::kTrain));
  CHECK(rest == std::vector<std::string>(claim_order.begin() + 3, claim_order.end()));
}

// A completed training job keeps an output (JobOutcome::output, or '' from
// CompleteJob) and never a result; a simulation keeps its result and no
// output.
inline void TrainingJobsKeepAnOutputNotAResult(StoreHarness& h) {
  Store& store = h.store();
  EVOLVE_CONTRACT_OK(store.RegisterWorker(MakeWorker("worker-1")));
  Enqueue(store, "run-out", "batch-out",
          {MakeTrainingJob("out-train", "batch-out", "run-out", 5, JobKind::kTrain),
           MakeTrainingJob("out-asm", "batch-out", "run-out", 4, JobKind::kAssemble),
           MakeJob("out-sim", "batch-out", "run-out", 3),
           MakeTrainingJob("out-fail", "batch-out", "run-out", 2, JobKind::kTrain)});
  const std::string task = MustGetJob(store, "out-train").task;
  Result<std::vector<Job>> claimed = store.ClaimJobs("worker-1", 4, kLongLease, JobKinds::All());
  EVOLVE_CONTRACT_OK(claimed);
  REQUIRE(claimed->size() == 4);

  std::vector<JobOutcome> outcomes(3);
  outcomes[0].job_id = "out-train";
  outcomes[0].result = SimulationResult{};
  outcomes[0].output = "artifact/part-0 \"{NULL},\\ \x1e";
  outcomes[1].job_id = "out-sim";
  outcomes[1].result = MakeResult(2.5);
  outcomes[1].output = "not a training job's";
  outcomes[2].job_id = "out-fail";
  outcomes[2].error = "trainer out of memory";
  Result<std::vector<Status>> statuses = store.FinishJobs("worker-1", outcomes);
  EVOLVE_CONTRACT_OK(statuses);
  REQUIRE(statuses->size() == 3);
  for (const Status& s : *statuses) EVOLVE_CONTRACT_OK(s);
  EVOLVE_CONTRACT_OK(store.CompleteJob("out-asm", "worker-1", SimulationResult{}));

  Job trained = MustGetJob(store, "out-train");
  CHECK(trained.status == JobStatus::kCompleted);
  CHECK(trained.output == outcomes[0].output);
  CHECK_FALSE(trained.result.has_value());
  CHECK(trained.kind == JobKind::kTrain);
  CHECK(trained.task == task);
  Job assembled = MustGetJob(store, "out-asm");
  CHECK(assembled.status == JobStatus::kCompleted);
  CHECK(assembled.output.empty());
  CHECK_FALSE(assembled.result.has_value());
  Job simulated = MustGetJob(store, "out-sim");
  CHECK(simulated.status == JobStatus::kCompleted);
  CHECK(simulated.result == std::optional<SimulationResult>(MakeResult(2.5)));
  CHECK(simulated.output.empty());
  Job failed = MustGetJob(store, "out-fail");
  CHECK(failed.status == JobStatus::kFailed);
  CHECK(failed.error == "trainer out of memory");
  CHECK(failed.output.empty());
  CHECK_FALSE(failed.result.has_value());
  CHECK(failed.kind == JobKind::kTrain);
  CHECK(failed.task == task);

  JobFilter completed;
  completed.batch_id = "batch-out";
  completed.status = JobStatus::kCompleted;
  Result<std::vector<Job>> listed = store.ListJobs(completed);
  EVOLVE_CONTRACT_OK(listed);
  REQUIRE(JobIds(*listed) == std::vector<std::string>{"out-train", "out-asm", "out-sim"});
  CHECK(listed->front().output == outcomes[0].output);
  CHECK_FALSE(listed->front().result.has_value());
  // Counted as every job is.
  std::map<std::string, WorkerInfo> workers = WorkersById(store);
  CHECK(workers["worker-1"].jobs_completed == 3);
  CHECK(workers["worker-1"].jobs_failed == 1);
}

// Whatever takes a training job back (an expired lease, a dead worker, a
// quarantine, a retry, `resume`, a cancelled run) keeps its kind and task.
inline void TakeBacksKeepKindAndTask(StoreHarness& h) {
  Store& store = h.store();
  const Job input = MakeTrainingJob("tb-train", "batch-tb", "run-tb", 1, JobKind::kTrain);
  Enqueue(store, "run-tb", "batch-tb", {input});
  auto check_kept = [&store, &input](const char* after, JobStatus status) {
    Job job = MustGetJob(store, input.id);
    CHECK_MESSAGE(job.status == status, after);
    CHECK_MESSAGE(job.kind == JobKind::kTrain, after);
    CHECK_MESSAGE(job.task == input.task, after);
    CHECK_MESSAGE(job.output.empty(), after);
    CHECK_MESSAGE(!job.result.has_value(), after);
  };
  const JobKinds training = JobKinds().With(JobKind::kTrain).With(JobKind::kAssemble);
  auto claim = [&store, &input, training](const std::string& worker, Duration lease) {
    Result<std::vector<Job>> claimed = store.ClaimJobs(worker, 1, lease, training);
    EVOLVE_CONTRACT_OK(claimed);
    REQUIRE(JobIds(*claimed) == std::vector<std::string>{input.id});
  };

  claim("worker-1", kShortLease);
  h.AdvanceTime(kPastShortLease);
  Result<int> reaped = store.ReapExpiredJobs();
  EVOLVE_CONTRACT_OK(reaped);
  REQUIRE(*reaped == 1);
  check_kept("reaped", JobStatus::kPending);
  Result<std::vector<Job>> simulations = store.ClaimJobs("worker-sim", 5, kLongLease);
  EVOLVE_CONTRACT_OK(simulations);
  CHECK(simulations->empty());

  // Its workers die until it is quarantined.
  for (int deaths = 2; deaths <= kJobDeathLimit; ++deaths) {
    claim("worker-2", kLongLease);
    Result<int> reclaimed = store.ReclaimJobsOfWorker("worker-2", "process gone");
    EVOLVE_CONTRACT_OK(reclaimed);
    REQUIRE(*reclaimed == 1);
    check_kept("reclaimed", deaths < kJobDeathLimit ? JobStatus::kPending : JobStatus::kFailed);
  }
  Result<int> requeued = store.RequeueFailedJobs("batch-tb");
  EVOLVE_CONTRACT_OK(requeued);
  REQUIRE(*requeued == 1);
  check_kept("requeued after the quarantine", JobStatus::kPending);

  claim("worker-3", kLongLease);
  EVOLVE_CONTRACT_OK(store.FailJob(input.id, "worker-3", "trainer timeout", true));
  check_kept("retried", JobStatus::kPending);
  claim("worker-3", kLongLease);
  EVOLVE_CONTRACT_OK(store.FailJob(input.id, "worker-3", "bad task", false));
  check_kept("failed", JobStatus::kFailed);
  requeued = store.RequeueFailedJobs("batch-tb");
  EVOLVE_CONTRACT_OK(requeued);
  REQUIRE(*requeued == 1);
  check_kept("requeued after the failure", JobStatus::kPending);

  EVOLVE_CONTRACT_OK(
      store.TransitionRun("run-tb", {RunStatus::kRunning}, RunStatus::kCancelled, kStopCancelled, ""));
  check_kept("cancelled with its run", JobStatus::kCancelled);
}

// ------------------------------------------------------------- subscribers

// Collects queue events; waits for them with a generous bound, since a
// backend may deliver them from another thread.
class EventLog {
 public:
  void Add(const QueueEvent& event) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(event);
    cv_.notify_all();
  }

  bool WaitFor(QueueEvent::Kind kind, const std::string& batch_id) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, seconds(10), [&] { return HasLocked(kind, batch_id); });
  }

  bool Has(QueueEvent::Kind kind, const std::string& batch_id) {
    std::lock_guard<std::mutex> lock(mu_);
    return HasLocked(kind, batch_id);
  }

  std::vector<QueueEvent> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  bool HasLocked(QueueEvent::Kind kind, const std::string& batch_id) const {
    return std::any_of(events_.begin(), events_.end(),
                       [&](const QueueEvent& e) { return e.kind == kind && e.batch_id == batch_id; });
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<QueueEvent> events_;
};

// Artifacts: binary-safe, idempotent by key, kNotFound when absent.
inline void ArtifactsAreImmutableBlobs(StoreHarness& h) {
  Store& store = h.store();
  CHECK(store.GetArtifact("model/m1").status().code() == StatusCode::kNotFound);
  std::string blob("\0\x01\xff binary", 10);
  blob += std::string(300000, 'x');  // larger than a page
  REQUIRE(store.PutArtifact("model/m1", blob).ok());
  auto got = store.GetArtifact("model/m1");
  REQUIRE(got.ok());
  CHECK(*got == blob);
  // A second write of the same key leaves the first content.
  REQUIRE(store.PutArtifact("model/m1", "other").ok());
  CHECK(*store.GetArtifact("model/m1") == blob);
  REQUIRE(store.PutArtifact("model/empty", "").ok());
  CHECK(store.GetArtifact("model/empty")->empty());
  CHECK(store.PutArtifact("", "x").code() == StatusCode::kInvalidArgument);
}

// The artifact chunk size that the harnesses of backends storing artifacts
// in chunks (SQLite, PostgreSQL) configure, so that the artifact cases
// below span several chunks with little data. Others ignore it.
inline constexpr size_t kContractArtifactChunkBytes = 4096;

// `size` bytes that begin with every byte value in order (zeros included)
// and go on pseudo-randomly from `seed`, so that no two chunks are alike: a
// chunk lost, doubled or out of place changes them.
inline std::string ArtifactBytes(size_t size, uint32_t seed = 1) {
  std::string bytes(size, '\0');
  uint32_t state = seed;
  for (size_t i = 0; i < size; ++i) {
    state = state * 1103515245u + 12345u;
    bytes[i] = static_cast<char>(i < 256 ? i : state >> 16);
  }
  return bytes;
}

// CHECKs that the artifact `key` reads back as `expected`, naming the first
// byte that differs rather than printing both.
inline void CheckArtifact(Store& store, const std::string& key, const std::string& expected) {
  Result<std::string> got = store.GetArtifact(key);
  REQUIRE_MESSAGE(got.ok(), key << ": " << got.status().ToString());
  const auto differ = std::mismatch(got->begin(), got->end(), expected.begin(), expected.end());
  CHECK_MESSAGE(*got == expected, key << ": " << got->size() << " bytes read, " << expected.size()
                                      << " written, first difference at byte "
                                      << (differ.first - got->begin()));
}

// Artifacts of several chunks, of a part of one, of chunks and one byte,
// and empty ones read back byte for byte.
inline void ArtifactsOfManyChunksReadBackExactly(StoreHarness& h) {
  Store& store = h.store();
  constexpr size_t kChunk = kContractArtifactChunkBytes;
  std::map<std::string, std::string> written;
  uint32_t seed = 0;
  for (size_t size : {size_t{1}, size_t{256}, kChunk - 1, kChunk, kChunk + 1, 2 * kChunk, 7 * kChunk + 123}) {
    written["chunks/" + std::to_string(size)] = ArtifactBytes(size, ++seed);
  }
  written["chunks/zeros"] = std::string(3 * kChunk + 5, '\0');
  written["chunks/empty"] = std::string();
  for (const auto& [key, bytes] : written) EVOLVE_CONTRACT_OK(store.PutArtifact(key, bytes));
  for (const auto& [key, bytes] : written) CheckArtifact(store, key, bytes);
  CHECK(store.GetArtifact("chunks/absent").status().code() == StatusCode::kNotFound);
}

// A second put of a key writes nothing, whatever the sizes of the two.
inline void ArtifactRePutKeepsTheFirstOfAnySize(StoreHarness& h) {
  Store& store = h.store();
  constexpr size_t kChunk = kContractArtifactChunkBytes;
  const std::string first = ArtifactBytes(5 * kChunk + kChunk / 2, 7);
  EVOLVE_CONTRACT_OK(store.PutArtifact("reput/model", first));
  EVOLVE_CONTRACT_OK(store.PutArtifact("reput/model", first));                         // the same again
  EVOLVE_CONTRACT_OK(store.PutArtifact("reput/model", ArtifactBytes(9 * kChunk, 8)));  // more chunks
  EVOLVE_CONTRACT_OK(store.PutArtifact("reput/model", "x"));                           // fewer
  EVOLVE_CONTRACT_OK(store.PutArtifact("reput/model", ""));                            // none
  CheckArtifact(store, "reput/model", first);
  EVOLVE_CONTRACT_OK(store.PutArtifact("reput/empty", ""));
  EVOLVE_CONTRACT_OK(store.PutArtifact("reput/empty", ArtifactBytes(3 * kChunk, 9)));
  CheckArtifact(store, "reput/empty", "");
}

// While artifacts of many chunks are being put, a reader finds each one
// absent or whole, never in part.
inline void ArtifactReadersSeeWholeArtifactsOnly(StoreHarness& h) {
  Store& store = h.store();
  constexpr int kArtifacts = 20;
  std::vector<std::string> bytes;
  for (int i = 0; i < kArtifacts; ++i) {
    bytes.push_back(ArtifactBytes(16 * kContractArtifactChunkBytes + static_cast<size_t>(i), 100 + i));
  }
  std::atomic<bool> writing{true};
  Status written = Status::Ok();
  std::thread writer([&] {
    for (int i = 0; i < kArtifacts && written.ok(); ++i) {
      written = store.PutArtifact("whole/" + std::to_string(i), bytes[static_cast<size_t>(i)]);
    }
    writing = false;
  });
  int partial = 0;
  int whole = 0;
  std::string failure;
  // A last round once the writer is done: it finds every one.
  for (bool more = true; more;) {
    more = writing;
    for (int i = 0; i < kArtifacts; ++i) {
      Result<std::string> got = store.GetArtifact("whole/" + std::to_string(i));
      if (got.ok()) {
        (*got == bytes[static_cast<size_t>(i)] ? whole : partial) += 1;
      } else if (got.status().code() != StatusCode::kNotFound && failure.empty()) {
        failure = got.status().ToString();
      }
    }
  }
  writer.join();
  EVOLVE_CONTRACT_OK(written);
  CHECK_MESSAGE(failure.empty(), failure);
  CHECK(partial == 0);
  CHECK(whole >= kArtifacts);
}

inline void SubscribersAreNotified(StoreHarness& h) {
  Store& store = h.store();
  // Both logs outlive the subscriptions: Unsubscribe is called before they
  // go out of scope.
  EventLog first;
  EventLog second;
  const int64_t first_handle = store.Subscribe([&first](const QueueEvent& event) { first.Add(event); });

  Enqueue(store, "run-s", "batch-s1", {MakeJob("s1-1", "batch-s1", "run-s", 1)});
  REQUIRE(first.WaitFor(QueueEvent::Kind::kJobsAvailable, "batch-s1"));
  for (const QueueEvent& event : first.events()) {
    if (event.batch_id == "batch-s1") CHECK(event.run_id == "run-s");
  }
  CHECK_FALSE(first.Has(QueueEvent::Kind::kJobFinished, "batch-s1"));

  REQUIRE(ClaimOne(store, "worker-1", kLongLease).id == "s1-1");
  EVOLVE_CONTRACT_OK(store.CompleteJob("s1-1", "worker-1", MakeResult(1.0)));
  CHECK(first.WaitFor(QueueEvent::Kind::kJobFinished, "batch-s1"));

  // After Unsubscribe the first listener hears nothing more; the second,
  // subscribed later, proves the event was delivered.
  store.Unsubscribe(first_handle);
  const int64_t second_handle = store.Subscribe([&second](const QueueEvent& event) { second.Add(event); });
  CHECK(second_handle != first_handle);
  Enqueue(store, "run-s", "batch-s2", {MakeJob("s2-1", "batch-s2", "run-s", 1)});
  CHECK(second.WaitFor(QueueEvent::Kind::kJobsAvailable, "batch-s2"));
  CHECK_FALSE(first.Has(QueueEvent::Kind::kJobsAvailable, "batch-s2"));
  store.Unsubscribe(second_handle);
  store.Unsubscribe(second_handle);  // unknown handles are ignored
}

// ------------------------------------------------------------- run locks

// A run's lock is exclusive among every holder sharing the store (here:
// this store), runs are independent, and destroying the lock frees the run
// at once. The run need not exist.
inline void RunLocksAreExclusivePerRun(StoreHarness& h) {
  Store& store = h.store();
  Result<std::unique_ptr<RunLock>> first = store.TryLockRun("run-lock-a");
  EVOLVE_CONTRACT_OK(first);
  CHECK((*first)->run_id() == "run-lock-a");
  Result<std::unique_ptr<RunLock>> second = store.TryLockRun("run-lock-a");
  EVOLVE_CONTRACT_CODE(second, kFailedPrecondition);
  CHECK_MESSAGE(Contains(second.status().message(), "run-lock-a"), second.status().ToString());

  Result<std::unique_ptr<RunLock>> other = store.TryLockRun("run-lock-b");
  EVOLVE_CONTRACT_OK(other);  // another run: independent
  first->reset();
  EVOLVE_CONTRACT_OK(store.TryLockRun("run-lock-a"));  // freed (and freed again at once)
  EVOLVE_CONTRACT_CODE(store.TryLockRun("run-lock-b"), kFailedPrecondition);  // still held

  // Threads racing for one free run: exactly one wins.
  constexpr int kRacers = 8;
  std::vector<std::unique_ptr<RunLock>> won(kRacers);
  std::vector<Status> refused(kRacers);
  std::vector<std::thread> racers;
  for (int i = 0; i < kRacers; ++i) {
    racers.emplace_back([&store, &won, &refused, i] {
      Result<std::unique_ptr<RunLock>> lock = store.TryLockRun("run-lock-race");
      if (lock.ok()) {
        won[static_cast<size_t>(i)] = std::move(lock).value();
      } else {
        refused[static_cast<size_t>(i)] = lock.status();
      }
    });
  }
  for (std::thread& racer : racers) racer.join();
  int winners = 0;
  for (int i = 0; i < kRacers; ++i) {
    if (won[static_cast<size_t>(i)] != nullptr) {
      ++winners;
    } else {
      EVOLVE_CONTRACT_CODE(refused[static_cast<size_t>(i)], kFailedPrecondition);
    }
  }
  CHECK(winners == 1);
}

// Not in the suite, for a backend's own tests: a run that `first` holds is
// refused through `second`, another store sharing its data (another
// session, another open of the file), and is free there once the holder's
// lock is destroyed.
inline void RunLockExcludesAnotherStore(Store& first, Store& second) {
  Result<std::unique_ptr<RunLock>> held = first.TryLockRun("run-shared");
  EVOLVE_CONTRACT_OK(held);
  EVOLVE_CONTRACT_CODE(second.TryLockRun("run-shared"), kFailedPrecondition);
  EVOLVE_CONTRACT_OK(second.TryLockRun("run-other"));  // other runs are free
  held->reset();
  Result<std::unique_ptr<RunLock>> taken = second.TryLockRun("run-shared");
  EVOLVE_CONTRACT_OK(taken);
  EVOLVE_CONTRACT_CODE(first.TryLockRun("run-shared"), kFailedPrecondition);
}

// Not in the suite, for a backend's own tests: a run held by another
// process (a child that opens a store with `open` and locks the run) is
// refused here, and is free once that process was killed with SIGKILL,
// within `grace` (a database server notices a dead client a moment later).
// `open` must not REQUIRE (it runs in the child too); call this before
// opening any store that a child must not share.
inline void RunLockOfKilledHolderIsFreed(const std::function<Result<std::unique_ptr<Store>>()>& open,
                                         Duration grace) {
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // the child: no doctest here; the pipe reports
    close(ready[0]);
    char locked = 0;
    try {
      Result<std::unique_ptr<Store>> store = open();
      std::unique_ptr<RunLock> lock;
      if (store.ok()) {
        Result<std::unique_ptr<RunLock>> taken = (*store)->TryLockRun("run-killed");
        if (taken.ok()) lock = std::move(taken).value();
      }
      locked = lock != nullptr ? 1 : 0;
      if (write(ready[1], &locked, 1) == 1 && locked == 1) {
        while (true) pause();  // until killed
      }
    } catch (...) {
    }
    _exit(1);
  }
  close(ready[1]);
  struct Reaper {  // the child dies with the test, whatever fails
    pid_t pid;
    bool reaped = false;
    ~Reaper() {
      if (reaped) return;
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } child{pid};
  char locked = 0;
  const bool reported = read(ready[0], &locked, 1) == 1;
  close(ready[0]);
  REQUIRE_MESSAGE((reported && locked == 1), "the child could not open the store and lock the run");

  std::unique_ptr<Store> store = Opened(open());
  EVOLVE_CONTRACT_CODE(store->TryLockRun("run-killed"), kFailedPrecondition);
  REQUIRE(kill(pid, SIGKILL) == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  child.reaped = true;
  CHECK(WIFSIGNALED(status));
  const auto deadline = std::chrono::steady_clock::now() + grace;
  Result<std::unique_ptr<RunLock>> freed = store->TryLockRun("run-killed");
  while (!freed.ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
    freed = store->TryLockRun("run-killed");
  }
  EVOLVE_CONTRACT_OK(freed);
}

// ------------------------------------------------------------- migrations

// Not in the suite, for a backend's own tests of upgrading a database made
// by an older libevolve.

// Migration `version` of sql/<dialect>/ in this source tree: its file name
// and SQL, so that a test makes an older schema from the real history.
struct MigrationFile {
  std::string name;
  std::string sql;
};
inline MigrationFile ReadMigration(const std::string& dialect, int version) {
  const std::filesystem::path dir =
      std::filesystem::path(__FILE__).parent_path().parent_path() / "sql" / dialect;
  REQUIRE_MESSAGE(std::filesystem::is_directory(dir), dir.string() << ": no migrations there");
  char prefix[16];
  std::snprintf(prefix, sizeof(prefix), "%04d_", version);
  for (const std::filesystem::directory_entry& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    std::ifstream in(entry.path());
    std::ostringstream sql;
    sql << in.rdbuf();
    return MigrationFile{name, sql.str()};
  }
  FAIL(dir.string() << ": no migration " << version);
  return {};
}

// `text` as an SQL string literal, for a test's raw SQL.
inline std::string SqlLiteral(const std::string& text) {
  std::string literal = "'";
  for (char c : text) literal += c == '\'' ? std::string("''") : std::string(1, c);
  return literal + "'";
}

// The jobs that a test wrote into a database of an older schema, before
// this build opened (and migrated) it: "old-pending", PENDING, and
// "old-done", COMPLETED with MakeResult(2.5), both with
// MakeParams("model-old", 0.0003). They read back as simulations, and the
// queue goes on with them.
inline void OldJobsAreSimulations(Store& store) {
  for (const char* id : {"old-pending", "old-done"}) {
    Job job = MustGetJob(store, id);
    CHECK_MESSAGE(job.kind == JobKind::kSimulate, id);
    CHECK_MESSAGE(job.task.empty(), id);
    CHECK_MESSAGE(job.output.empty(), id);
    CHECK_MESSAGE(job.params == MakeParams("model-old", 0.0003), id);
  }
  CHECK(MustGetJob(store, "old-done").result == std::optional<SimulationResult>(MakeResult(2.5)));
  Result<std::vector<Job>> claimed = store.ClaimJobs("worker-1", 5, kLongLease);
  EVOLVE_CONTRACT_OK(claimed);
  REQUIRE(JobIds(*claimed) == std::vector<std::string>{"old-pending"});
  EVOLVE_CONTRACT_OK(store.CompleteJob("old-pending", "worker-1", MakeResult(1.5)));
  Job done = MustGetJob(store, "old-pending");
  CHECK(done.status == JobStatus::kCompleted);
  CHECK(done.kind == JobKind::kSimulate);
  CHECK(done.result == std::optional<SimulationResult>(MakeResult(1.5)));
}

// ------------------------------------------------- artifacts in chunks

// Not in the suite either: for a backend that stores artifacts as rows of
// `artifacts` (key, size, chunks) and `artifact_chunks` (key, seq, bytes),
// as the SQL stores do, checked with SQL behind the store's back.

// SQL on the backend's database outside any store: `exec` runs statements,
// `value` returns the first column of the first row as text ("" for none
// or NULL). Both fail the test on an error.
struct RawSql {
  std::function<void(const std::string& sql)> exec;
  std::function<std::string(const std::string& sql)> value;
};

// The lengths of the chunks of artifact `key`, in order ("1000,1000,500").
inline std::string ChunkLengths(const RawSql& sql, const std::string& key) {
  std::string lengths;
  for (int seq = 0;; ++seq) {
    const std::string length =
        sql.value("SELECT length(bytes) FROM artifact_chunks WHERE key = " + SqlLiteral(key) +
                  " AND seq = " + std::to_string(seq));
    if (length.empty()) return lengths;
    lengths += (seq == 0 ? "" : ",") + length;
  }
}

// "size/chunks" of artifact `key`'s row.
inline std::string ArtifactRow(const RawSql& sql, const std::string& key) {
  return sql.value("SELECT size || '/' || chunks FROM artifacts WHERE key = " + SqlLiteral(key));
}

// Two stores on one database, writing chunks of 1000 and 3000 bytes: each
// writes its own size, and reads the other's.
inline void ArtifactsAreChunkedByTheirWriter(Store& small, Store& large, const RawSql& sql) {
  const std::string bytes = ArtifactBytes(3500);
  EVOLVE_CONTRACT_OK(small.PutArtifact("model/a", bytes));
  EVOLVE_CONTRACT_OK(large.PutArtifact("model/b", bytes));
  EVOLVE_CONTRACT_OK(small.PutArtifact("model/empty", ""));
  CHECK(ChunkLengths(sql, "model/a") == "1000,1000,1000,500");
  CHECK(ChunkLengths(sql, "model/b") == "3000,500");
  CHECK(ArtifactRow(sql, "model/a") == "3500/4");
  CHECK(ArtifactRow(sql, "model/empty") == "0/0");
  CHECK(ChunkLengths(sql, "model/empty").empty());
  CheckArtifact(large, "model/a", bytes);
  CheckArtifact(small, "model/b", bytes);
  CheckArtifact(large, "model/empty", "");
}

// A put whose third chunk fails (`fail_third_chunk` makes a trigger that
// refuses seq 2 with "injected failure", `drop` drops it) leaves no row
// and no chunk, and the store goes on. The store writes chunks of 1000.
inline void APutFailingPartWayLeavesNothing(Store& store, const RawSql& sql,
                                            const std::string& fail_third_chunk, const std::string& drop) {
  sql.exec(fail_third_chunk);
  const std::string bytes = ArtifactBytes(5000);
  Status failed = store.PutArtifact("model/half", bytes);
  CHECK_FALSE(failed.ok());
  CHECK_MESSAGE(Contains(failed.message(), "injected failure"), failed.ToString());
  CHECK(store.GetArtifact("model/half").status().code() == StatusCode::kNotFound);
  CHECK(sql.value("SELECT count(*) FROM artifacts") == "0");
  CHECK(sql.value("SELECT count(*) FROM artifact_chunks") == "0");
  sql.exec(drop);
  EVOLVE_CONTRACT_OK(store.PutArtifact("model/half", bytes));
  CheckArtifact(store, "model/half", bytes);
}

// An artifact that lost a chunk, and one whose chunks outgrow its size, are
// kInternal naming them; the store goes on. The store writes chunks of 1000.
inline void ChunksNotAddingUpAreInternal(Store& store, const RawSql& sql) {
  EVOLVE_CONTRACT_OK(store.PutArtifact("model/lost", ArtifactBytes(2500)));
  EVOLVE_CONTRACT_OK(store.PutArtifact("model/long", ArtifactBytes(2500)));
  sql.exec("DELETE FROM artifact_chunks WHERE key = 'model/lost' AND seq = 1");
  sql.exec("UPDATE artifacts SET size = 2000 WHERE key = 'model/long'");
  for (const char* key : {"model/lost", "model/long"}) {
    Result<std::string> got = store.GetArtifact(key);
    CHECK(got.status().code() == StatusCode::kInternal);
    CHECK_MESSAGE(Contains(got.status().message(), std::string("artifacts ") + key), got.status().ToString());
  }
  EVOLVE_CONTRACT_OK(store.PutArtifact("model/fine", "fine"));
  CheckArtifact(store, "model/fine", "fine");
}

// The artifacts a test wrote the old way (one value each) into a database
// of an older schema before this build opened (and migrated) it with
// chunks of 1000: "model/old", ArtifactBytes(300000), and
// "model/old-empty", empty. Each reads back byte for byte, moved as one
// chunk of its size, and keeps its key against new writes.
inline void OldArtifactsReadBack(Store& store, const RawSql& sql) {
  const std::string model = ArtifactBytes(300000);
  CheckArtifact(store, "model/old", model);
  CheckArtifact(store, "model/old-empty", "");
  CHECK(ChunkLengths(sql, "model/old") == "300000");
  CHECK(ArtifactRow(sql, "model/old-empty") == "0/0");
  CHECK(ChunkLengths(sql, "model/old-empty").empty());
  EVOLVE_CONTRACT_OK(store.PutArtifact("model/old", "newer"));
  CheckArtifact(store, "model/old", model);
  EVOLVE_CONTRACT_OK(store.PutArtifact("model/new", model));
  CHECK(ChunkLengths(sql, "model/new").rfind("1000,1000,", 0) == 0);
  CheckArtifact(store, "model/new", model);
}

// ------------------------------------------------------------------ index

using Check = void (*)(StoreHarness&);

struct NamedCheck {
  const char* name;
  Check check;
};

// Every check of the suite, for backends that drive them without the macro.
inline const std::vector<NamedCheck>& AllChecks() {
  static const std::vector<NamedCheck> kChecks = {
      {"RunsCreateGetList", &RunsCreateGetList},
      {"RunsCompareAndSet", &RunsCompareAndSet},
      {"RunsTransition", &RunsTransition},
      {"CancelRunCancelsOnlyPendingJobs", &CancelRunCancelsOnlyPendingJobs},
      {"GenerationsUpsertAndOrder", &GenerationsUpsertAndOrder},
      {"FingerprintsFirstWriterWins", &FingerprintsFirstWriterWins},
      {"LineageAndAncestry", &LineageAndAncestry},
      {"EnqueueIsIdempotentAndValidated", &EnqueueIsIdempotentAndValidated},
      {"ClaimOrderIsPriorityThenAgeThenId", &ClaimOrderIsPriorityThenAgeThenId},
      {"ListJobsFiltersAndPages", &ListJobsFiltersAndPages},
      {"ClaimTakesSeveralJobsWithLeases", &ClaimTakesSeveralJobsWithLeases},
      {"NoDoubleClaimUnderConcurrency", &NoDoubleClaimUnderConcurrency},
      {"FencingRejectsWrongAndRepeatedCompletion", &FencingRejectsWrongAndRepeatedCompletion},
      {"ClaimTokensFenceEveryWrite", &ClaimTokensFenceEveryWrite},
      {"LateCompletionAfterReapIsRejected", &LateCompletionAfterReapIsRejected},
      {"HeartbeatExtendsLease", &HeartbeatExtendsLease},
      {"ReaperCountsDeathsThenQuarantines", &ReaperCountsDeathsThenQuarantines},
      {"ReclaimJobsOfDeadWorker", &ReclaimJobsOfDeadWorker},
      {"RequeueFailedJobsGivesFreshCounters", &RequeueFailedJobsGivesFreshCounters},
      {"FailJobRetryableAndFinal", &FailJobRetryableAndFinal},
      {"FinishJobsReportsEachOutcome", &FinishJobsReportsEachOutcome},
      {"ReleaseDoesNotCountTheAttempt", &ReleaseDoesNotCountTheAttempt},
      {"FinishedJobsAreNeverClaimed", &FinishedJobsAreNeverClaimed},
      {"JobKindTaskAndOutputRoundTrip", &JobKindTaskAndOutputRoundTrip},
      {"EnqueueRefusesATaskOfTheWrongKind", &EnqueueRefusesATaskOfTheWrongKind},
      {"ClaimsTakeOnlyTheKindsNamed", &ClaimsTakeOnlyTheKindsNamed},
      {"ListAndCountFilterByKind", &ListAndCountFilterByKind},
      {"TrainingJobsKeepAnOutputNotAResult", &TrainingJobsKeepAnOutputNotAResult},
      {"TakeBacksKeepKindAndTask", &TakeBacksKeepKindAndTask},
      {"PromotionsOrderAndIdempotence", &PromotionsOrderAndIdempotence},
      {"WorkerRegistryAndCounters", &WorkerRegistryAndCounters},
      {"SubscribersAreNotified", &SubscribersAreNotified},
      {"ArtifactsAreImmutableBlobs", &ArtifactsAreImmutableBlobs},
      {"ArtifactsOfManyChunksReadBackExactly", &ArtifactsOfManyChunksReadBackExactly},
      {"ArtifactRePutKeepsTheFirstOfAnySize", &ArtifactRePutKeepsTheFirstOfAnySize},
      {"ArtifactReadersSeeWholeArtifactsOnly", &ArtifactReadersSeeWholeArtifactsOnly},
      {"RunLocksAreExclusivePerRun", &RunLocksAreExclusivePerRun},
  };
  return kChecks;
}

}  // namespace evolve::testing::store_contract

// One TEST_CASE per check; `make_harness` is evaluated afresh for each and
// must yield a std::unique_ptr<evolve::testing::StoreHarness> (or derived)
// over an empty store. `prefix` is a string literal naming the backend.
#define EVOLVE_STORE_CONTRACT_CASE_(prefix, check, make_harness)                       \
  TEST_CASE(prefix " store contract: " #check) {                                       \
    std::unique_ptr<::evolve::testing::StoreHarness> evolve_harness_ = (make_harness); \
    REQUIRE(evolve_harness_ != nullptr);                                               \
    ::evolve::testing::store_contract::check(*evolve_harness_);                        \
  }

#define EVOLVE_STORE_CONTRACT_TESTS(prefix, make_harness)                                     \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, RunsCreateGetList, make_harness)                        \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, RunsCompareAndSet, make_harness)                        \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, RunsTransition, make_harness)                           \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, CancelRunCancelsOnlyPendingJobs, make_harness)          \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, GenerationsUpsertAndOrder, make_harness)                \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, FingerprintsFirstWriterWins, make_harness)              \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, LineageAndAncestry, make_harness)                       \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, EnqueueIsIdempotentAndValidated, make_harness)          \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, ClaimOrderIsPriorityThenAgeThenId, make_harness)        \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, ListJobsFiltersAndPages, make_harness)                  \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, ClaimTakesSeveralJobsWithLeases, make_harness)          \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, NoDoubleClaimUnderConcurrency, make_harness)            \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, FencingRejectsWrongAndRepeatedCompletion, make_harness) \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, ClaimTokensFenceEveryWrite, make_harness)               \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, LateCompletionAfterReapIsRejected, make_harness)        \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, HeartbeatExtendsLease, make_harness)                    \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, ReaperCountsDeathsThenQuarantines, make_harness)        \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, ReclaimJobsOfDeadWorker, make_harness)                  \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, RequeueFailedJobsGivesFreshCounters, make_harness)      \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, FailJobRetryableAndFinal, make_harness)                 \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, FinishJobsReportsEachOutcome, make_harness)             \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, ReleaseDoesNotCountTheAttempt, make_harness)            \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, FinishedJobsAreNeverClaimed, make_harness)              \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, JobKindTaskAndOutputRoundTrip, make_harness)            \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, EnqueueRefusesATaskOfTheWrongKind, make_harness)        \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, ClaimsTakeOnlyTheKindsNamed, make_harness)              \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, ListAndCountFilterByKind, make_harness)                 \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, TrainingJobsKeepAnOutputNotAResult, make_harness)       \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, TakeBacksKeepKindAndTask, make_harness)                 \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, PromotionsOrderAndIdempotence, make_harness)            \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, WorkerRegistryAndCounters, make_harness)                \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, SubscribersAreNotified, make_harness)                   \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, ArtifactsAreImmutableBlobs, make_harness)               \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, ArtifactsOfManyChunksReadBackExactly, make_harness)     \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, ArtifactRePutKeepsTheFirstOfAnySize, make_harness)      \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, ArtifactReadersSeeWholeArtifactsOnly, make_harness)     \
  EVOLVE_STORE_CONTRACT_CASE_(prefix, RunLocksAreExclusivePerRun, make_harness)

#endif  // EVOLVE_TESTS_STORE_CONTRACT_H_
