// RunScheduler over the fakes with the real clock: many runs on few
// threads, adoption of runs left RUNNING, the lock hooks, stop while
// waiting, and a store that fails for a while.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "evolve/evolution.h"
#include "evolve/scheduler.h"
#include "evolve/testing/fake_engines.h"
#include "evolve/testing/fake_store.h"
#include "evolve/worker.h"

namespace evolve {
namespace {

// Polls `done` every 10 ms for up to 30 s (a liveness bound, not a speed
// check): true once it holds.
template <typename Predicate>
bool Eventually(Predicate done) {
  for (int i = 0; i < 3000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

struct Harness {
  testing::FakeStore store{*RealClock()};
  testing::FakeFeatureSource features;
  testing::FakeTrainer trainer;
  testing::FakeSimulator simulator;
  EvolutionEngine engine{EngineDeps{features, trainer, store, nullptr, nullptr}, EngineOptions{}};

  Harness() { features.SetFeatures("TTRC", {"a", "b", "c"}); }

  std::string NewRun() {
    EvolutionConfig c;
    c.symbol = "TTRC";
    c.max_generations = 2;
    c.thresholds = {0.0001, 0.0003};
    c.regime_configs = {RegimeFilter{}};
    auto run = engine.CreateRun(c);
    REQUIRE(run.ok());
    return run->id;
  }

  int QueuedJobs(const std::string& run_id) {
    JobFilter f;
    f.run_id = run_id;
    auto counts = store.CountJobs(f);
    return counts.ok() ? counts->total() : -1;
  }

  bool AllFinal(const std::vector<std::string>& runs) {
    for (const std::string& id : runs) {
      if (!IsFinal(StatusOf(id))) return false;
    }
    return true;
  }

  RunStatus StatusOf(const std::string& run_id) {
    auto run = store.GetRun(run_id);
    REQUIRE(run.ok());
    return run->status;
  }
};

// A worker draining the queue on its own thread until destroyed.
class BackgroundWorker {
 public:
  explicit BackgroundWorker(Harness& h) {
    WorkerOptions o;
    o.worker_id = "w1";
    o.poll_interval = std::chrono::milliseconds(20);
    worker_ = std::make_unique<Worker>(h.store, &h.store, h.simulator, *RealClock(), o);
    thread_ = std::thread([this] { CHECK(worker_->Run().ok()); });
  }
  ~BackgroundWorker() {
    worker_->RequestStop();
    thread_.join();
  }

 private:
  std::unique_ptr<Worker> worker_;
  std::thread thread_;
};

SchedulerOptions FastOptions(int threads) {
  SchedulerOptions o;
  o.threads = threads;
  o.poll_interval = std::chrono::milliseconds(50);
  o.reap_interval = std::chrono::milliseconds(100);
  o.adopt_interval = std::chrono::milliseconds(100);
  o.error_backoff = std::chrono::milliseconds(50);
  return o;
}

TEST_CASE("one step thread serves many runs: a run waiting for its jobs holds no thread") {
  Harness h;
  RunScheduler scheduler(h.engine, h.store, FastOptions(1));
  REQUIRE(scheduler.Start().ok());
  std::vector<std::string> runs = {h.NewRun(), h.NewRun(), h.NewRun()};
  for (const std::string& id : runs) REQUIRE(scheduler.Submit(id).ok());

  // No worker yet: every run reaches its first batch and waits on it, which
  // only happens if the single thread was not kept by the first run.
  CHECK(Eventually([&] {
    for (const std::string& id : runs) {
      if (h.QueuedJobs(id) != 2) return false;
    }
    return scheduler.stats().waiting == 3;
  }));
  for (const std::string& id : runs) CHECK(h.StatusOf(id) == RunStatus::kRunning);

  BackgroundWorker worker(h);
  CHECK(Eventually([&] { return h.AllFinal(runs); }));
  for (const std::string& id : runs) CHECK(h.StatusOf(id) == RunStatus::kCompleted);
  CHECK(Eventually([&] { return scheduler.stats().scheduled == 0; }));
}

TEST_CASE("Start adopts the store's RUNNING and PENDING runs, holding each one's run lock while it has it") {
  Harness h;
  const std::string running = h.NewRun();
  REQUIRE(h.engine.Step(running).ok());  // PENDING -> RUNNING, as a killed process left it
  REQUIRE(h.StatusOf(running) == RunStatus::kRunning);
  const std::string pending = h.NewRun();
  const std::string elsewhere = h.NewRun();
  // Another holder (another process, as far as the store can tell) steps this one.
  auto other = h.store.TryLockRun(elsewhere);
  REQUIRE(other.ok());

  RunScheduler scheduler(h.engine, h.store, FastOptions(2));
  REQUIRE(scheduler.Start().ok());
  CHECK(scheduler.IsScheduled(running));
  CHECK(scheduler.IsScheduled(pending));
  CHECK_FALSE(scheduler.IsScheduled(elsewhere));
  CHECK(scheduler.Submit(elsewhere).code() == StatusCode::kFailedPrecondition);
  // While the scheduler has a run, nobody else can take its lock.
  CHECK(h.store.TryLockRun(running).status().code() == StatusCode::kFailedPrecondition);

  BackgroundWorker worker(h);
  CHECK(Eventually([&] { return IsFinal(h.StatusOf(running)) && IsFinal(h.StatusOf(pending)); }));
  // A run that ended left the scheduler, and its lock with it.
  CHECK(Eventually([&] { return h.store.TryLockRun(running).ok() && h.store.TryLockRun(pending).ok(); }));
  // The run held elsewhere was never stepped: still PENDING, with no job.
  CHECK(h.StatusOf(elsewhere) == RunStatus::kPending);
  CHECK(h.QueuedJobs(elsewhere) == 0);
  // Once its holder lets go, the next adoption takes it.
  other->reset();
  REQUIRE(scheduler.Submit(elsewhere).ok());
  CHECK(Eventually([&] { return IsFinal(h.StatusOf(elsewhere)); }));
}

TEST_CASE("Shutdown releases the run locks of the runs it held") {
  Harness h;
  SchedulerOptions options = FastOptions(1);
  options.poll_interval = std::chrono::hours(1);
  options.adopt_interval = Duration::zero();
  RunScheduler scheduler(h.engine, h.store, options);
  REQUIRE(scheduler.Start().ok());
  const std::string id = h.NewRun();
  REQUIRE(scheduler.Submit(id).ok());
  REQUIRE(Eventually([&] { return scheduler.stats().waiting == 1; }));  // no worker: it waits for its jobs
  CHECK(h.store.TryLockRun(id).status().code() == StatusCode::kFailedPrecondition);
  scheduler.Shutdown();
  CHECK(h.store.TryLockRun(id).ok());
}

TEST_CASE("a run stopped while it waits leaves the scheduler at once and keeps its jobs") {
  Harness h;
  SchedulerOptions options = FastOptions(1);
  options.poll_interval = std::chrono::hours(1);  // only Wake can get it stepped
  options.adopt_interval = Duration::zero();
  RunScheduler scheduler(h.engine, h.store, options);
  REQUIRE(scheduler.Start().ok());
  const std::string id = h.NewRun();
  REQUIRE(scheduler.Submit(id).ok());
  REQUIRE(Eventually([&] { return scheduler.stats().waiting == 1; }));

  REQUIRE(h.engine.StopRun(id).ok());
  scheduler.Wake(id);
  CHECK(Eventually([&] { return !scheduler.IsScheduled(id); }));
  CHECK(h.StatusOf(id) == RunStatus::kStopped);
  CHECK(h.QueuedJobs(id) == 2);

  // Resumed and submitted again, it finishes.
  REQUIRE(h.engine.ResumeRun(id).ok());
  REQUIRE(scheduler.Submit(id).ok());
  BackgroundWorker worker(h);
  CHECK(Eventually([&] { return IsFinal(h.StatusOf(id)); }));
  CHECK(h.StatusOf(id) == RunStatus::kCompleted);
}

TEST_CASE("a store that fails for a while: steps are retried and the run finishes") {
  Harness h;
  RunScheduler scheduler(h.engine, h.store, FastOptions(1));
  REQUIRE(scheduler.Start().ok());
  const std::string id = h.NewRun();
  h.store.faults().FailNext("SaveGeneration", UnavailableError("database restarting"), 0, 3);
  REQUIRE(scheduler.Submit(id).ok());
  BackgroundWorker worker(h);
  CHECK(Eventually([&] { return IsFinal(h.StatusOf(id)); }));
  CHECK(h.StatusOf(id) == RunStatus::kCompleted);
  CHECK(scheduler.stats().step_errors >= 1);
}

TEST_CASE("after Shutdown nothing is stepped and Submit is refused") {
  Harness h;
  RunScheduler scheduler(h.engine, h.store, FastOptions(2));
  REQUIRE(scheduler.Start().ok());
  scheduler.Shutdown();
  const std::string id = h.NewRun();
  CHECK(scheduler.Submit(id).code() == StatusCode::kFailedPrecondition);
  CHECK(h.StatusOf(id) == RunStatus::kPending);
  CHECK(scheduler.stats().scheduled == 0);
}

TEST_CASE("max_runs: two schedulers on one store each take runs up to theirs, and the rest wait PENDING") {
  Harness h;
  SchedulerOptions o = FastOptions(1);
  o.max_runs = 2;
  // Adoption at Start only, so what each holds is decided by Submit and by
  // the room a finished run leaves.
  o.adopt_interval = Duration::zero();
  RunScheduler first(h.engine, h.store, o);
  RunScheduler second(h.engine, h.store, o);
  REQUIRE(first.Start().ok());
  REQUIRE(second.Start().ok());
  std::vector<std::string> runs;
  for (int i = 0; i < 5; ++i) runs.push_back(h.NewRun());
  int taken = 0;
  for (const std::string& id : runs) {
    Status s = first.Submit(id);
    if (s.code() == StatusCode::kResourceExhausted) s = second.Submit(id);
    if (s.ok()) {
      ++taken;
    } else {
      CHECK(s.code() == StatusCode::kResourceExhausted);
      CHECK(s.message().find("maximum of 2 runs") != std::string::npos);
    }
  }
  CHECK(taken == 4);
  CHECK(first.stats().scheduled == 2);
  CHECK(second.stats().scheduled == 2);
  CHECK(h.StatusOf(runs.back()) == RunStatus::kPending);

  // A full scheduler that drops a run adopts the one left waiting at once
  // (adopt_interval is off), and every run ends.
  BackgroundWorker worker(h);
  CHECK(Eventually([&] { return h.AllFinal(runs); }));
  for (const std::string& id : runs) CHECK(h.StatusOf(id) == RunStatus::kCompleted);
}

TEST_CASE("bad options are refused by Start") {
  Harness h;
  SchedulerOptions o;
  o.threads = 0;
  RunScheduler scheduler(h.engine, h.store, o);
  Status s = scheduler.Start();
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("threads") != std::string::npos);
}

}  // namespace
}  // namespace evolve
