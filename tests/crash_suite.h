// The crash-at-every-write test, for every Store backend.
//
// The engine's promise (evolution.h): a run whose process dies at any point
// resumes, on a new engine over the same store, to the same result, without
// retraining a fingerprinted model or re-simulating a queued job. This
// suite proves it on a real backend: it drives one run to the end once,
// counting the store writes; then, for every n, drives a fresh run on a
// fresh store whose writes fail from the n-th on (a FaultInjectingStore in
// front of the backend: the failed write never reaches it, as if the
// process had died just before it), and resumes it with a new engine once
// the store works again. Each resumed run must end exactly as the
// uninterrupted one, and every kind of write of the loop must have been a
// crash point.
//
//   #include "crash_suite.h"
//   EVOLVE_CRASH_AT_EVERY_WRITE_TEST("sqlite", std::make_unique<SqliteHarness>())
//
// where the argument is an expression making a fresh StoreHarness
// (store_contract.h); it is evaluated once per crash point. DrainQueue and
// DriveRun, the synchronous way of driving a run, serve the engine's unit
// tests too.
#ifndef EVOLVE_TESTS_CRASH_SUITE_H_
#define EVOLVE_TESTS_CRASH_SUITE_H_

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "evolve/evolution.h"
#include "evolve/log.h"
#include "evolve/testing/fake_engines.h"
#include "evolve/testing/fault_injecting_store.h"
#include "evolve/worker.h"
#include "store_contract.h"

namespace evolve::testing::crash_suite {

// The jobs' lease: short, so that a real-time backend waits little for the
// reaper to return a job whose result write was lost.
constexpr Duration kLease = std::chrono::seconds(1);
constexpr Duration kPastLease = std::chrono::milliseconds(1500);

// Runs every job `worker` can claim, one claim after another; returns how
// many it ran.
inline Result<int> DrainQueue(Worker& worker) {
  int total = 0;
  for (;;) {
    EVOLVE_ASSIGN_OR_RETURN(int n, worker.RunOnce());
    if (n == 0) return total;
    total += n;
  }
}

// Steps the run to a final or stopped state, calling `drain` whenever the
// engine waits; when it ran nothing, `pass_lease_time` lets the leases of
// jobs held by a lost worker run out, and the reaper returns them.
inline Result<Run> DriveRun(EvolutionEngine& engine, Store& store, const std::string& run_id,
                            const std::function<Result<int>()>& drain,
                            const std::function<void()>& pass_lease_time) {
  for (int steps = 0; steps < 1000; ++steps) {
    EVOLVE_ASSIGN_OR_RETURN(StepOutcome outcome, engine.Step(run_id));
    if (outcome == StepOutcome::kFinished || outcome == StepOutcome::kHalted) return store.GetRun(run_id);
    if (outcome == StepOutcome::kWaiting) {
      EVOLVE_ASSIGN_OR_RETURN(int n, drain());
      if (n == 0) {
        pass_lease_time();
        EVOLVE_RETURN_IF_ERROR(store.ReapExpiredJobs().status());
      }
    }
  }
  return InternalError("run did not finish in 1000 steps");
}

// One run's world: a backend behind a fault injector, and fake engines.
struct CrashHarness {
  // `on_queue`: models are trained by the worker, as jobs on the queue
  // (EngineOptions::training_on_queue), not by the engine's step.
  explicit CrashHarness(std::unique_ptr<StoreHarness> harness, bool on_queue = false)
      : backend(std::move(harness)), store(backend->store()) {
    features.SetFeatures("TTRC", {"a", "b", "c", "d", "e", "f"});
    // Importance prunes the lexicographically last feature of each model.
    trainer.SetImportanceScript([](const ModelSpec& spec, const std::string& feature) {
      return feature == *std::max_element(spec.features.begin(), spec.features.end()) ? -0.5 : 0.5;
    });
    // Passes once two features are pruned (generation 2).
    simulator.SetScript([this](const SimulationParams& p) -> Result<SimulationResult> {
      EVOLVE_ASSIGN_OR_RETURN(ModelSpec spec, trainer.DescribeModel(p.model_id));
      double sqn = 1.0 + 10000.0 * p.threshold + (p.regime.empty() ? 0.0 : 0.5);
      return spec.features.size() <= 4 ? FakeSimulator::PassingResult(sqn + 1.5)
                                       : FakeSimulator::FailingResult(sqn);
    });
    options.retry_backoff = std::chrono::milliseconds(10);
    options.training_on_queue = on_queue;
    NewEngine();
  }

  // A fresh engine over the same store: what a restarted process gets.
  void NewEngine() {
    engine =
        std::make_unique<EvolutionEngine>(EngineDeps{features, trainer, store, nullptr, nullptr}, options);
  }

  static EvolutionConfig Config() {
    EvolutionConfig c;
    c.symbol = "TTRC";
    c.thresholds = {0.0001, 0.0003};
    c.regime_configs = {RegimeFilter{}, RegimeFilter{"regime_gmm", {1}}};
    c.split = DataSplit{};  // the loop itself; the holdout look is another batch of the same kind
    return c;
  }

  // Runs every claimable job, one per claim.
  Result<int> Drain() {
    WorkerOptions o;
    o.worker_id = "crash-suite-worker";
    o.lease = kLease;
    o.heartbeat_interval = kLease / 4;
    Worker worker(store, nullptr, simulator, options.training_on_queue ? &trainer : nullptr, store.clock(), o);
    return DrainQueue(worker);
  }

  Result<Run> Drive(const std::string& run_id) {
    return DriveRun(
        *engine, store, run_id, [this] { return Drain(); }, [this] { backend->AdvanceTime(kPastLease); });
  }

  std::unique_ptr<StoreHarness> backend;
  FaultInjectingStore store;
  FakeFeatureSource features;
  FakeTrainer trainer;
  FakeSimulator simulator;
  EngineOptions options;
  std::unique_ptr<EvolutionEngine> engine;
};

// What a finished run looked like.
struct Outcome {
  RunStatus status;
  std::string stop_reason;
  std::vector<std::vector<std::string>> features;  // per generation
  std::vector<std::optional<double>> best_sqn;     // per generation
  size_t lineage_edges = 0;
  double promoted_sqn = 0.0;
  int trained = 0;
  size_t simulated = 0;
};

inline Outcome Capture(CrashHarness& h, const Run& run) {
  Outcome o;
  o.status = run.status;
  o.stop_reason = run.stop_reason;
  auto generations = h.store.ListGenerations(run.id);
  REQUIRE(generations.ok());
  for (const Generation& g : *generations) {
    o.features.push_back(g.features);
    o.best_sqn.push_back(g.best_sqn);
  }
  o.lineage_edges = h.store.ListLineage(run.id)->size();
  if (run.promoted) o.promoted_sqn = h.store.GetPromotion(run.promotion_id)->sqn;
  o.trained = h.trainer.train_count();
  o.simulated = h.simulator.calls().size();
  return o;
}

inline void CrashAtEveryWriteResumes(const std::function<std::unique_ptr<StoreHarness>()>& make_harness,
                                     bool on_queue = false) {
  CrashHarness baseline(make_harness(), on_queue);
  auto base_run = baseline.engine->CreateRun(CrashHarness::Config());
  REQUIRE(base_run.ok());
  const int64_t writes_before = baseline.store.faults().mutation_count();
  auto base_done = baseline.Drive(base_run->id);
  REQUIRE_MESSAGE(base_done.ok(), base_done.status().ToString());
  REQUIRE(base_done->status == RunStatus::kPromoted);
  const Outcome expected = Capture(baseline, *base_done);
  REQUIRE(expected.features.size() == 3);
  const int64_t total_writes = baseline.store.faults().mutation_count() - writes_before;
  REQUIRE(total_writes > 20);

  // The crashed engine logs errors; keep them out of the test output.
  SetLogSink([](LogLevel, const std::string&) {});
  std::set<std::string> crashed_in;
  for (int64_t n = 0; n < total_writes; ++n) {
    CAPTURE(n);
    CrashHarness h(make_harness(), on_queue);
    auto run = h.engine->CreateRun(CrashHarness::Config());
    REQUIRE(run.ok());
    h.store.faults().FailMutationsAfter(n, InternalError("simulated crash"));
    auto crashed = h.Drive(run->id);
    REQUIRE_FALSE(crashed.ok());  // every write is needed, so every crash point is hit
    // The write that crashed: the first one the store failed.
    const std::string failed_write = h.store.faults().failed_calls().front();
    crashed_in.insert(failed_write);
    CAPTURE(failed_write);

    h.store.faults().ClearFailures();
    h.NewEngine();  // a new process over the same store
    auto resumed = h.Drive(run->id);
    REQUIRE_MESSAGE(resumed.ok(), resumed.status().ToString());
    const Outcome got = Capture(h, *resumed);
    CHECK(got.status == expected.status);
    CHECK(got.stop_reason == expected.stop_reason);
    CHECK(got.features == expected.features);
    CHECK(got.best_sqn == expected.best_sqn);
    CHECK(got.lineage_edges == expected.lineage_edges);
    CHECK(got.promoted_sqn == expected.promoted_sqn);
    if (!on_queue) {
      // The only repeated work: a model trained just before the crash lost
      // its fingerprint write, and a simulation whose result write was lost.
      CHECK(got.trained == expected.trained + (failed_write == "RecordFingerprint" ? 1 : 0));
      CHECK(got.simulated == expected.simulated + (failed_write == "FinishJobs" ? 1 : 0));
    } else {
      // Training on the queue closes the first window (the model is a job's
      // stored output: a lost fingerprint write is written again from it);
      // the only repeated work is the one job whose outcome write was lost:
      // a training part or a simulation (counted here), or an assembly
      // (which trains nothing with the fake's one-part defaults).
      CHECK(got.trained >= expected.trained);
      CHECK(got.simulated >= expected.simulated);
      const size_t repeated = got.trained + got.simulated - expected.trained - expected.simulated;
      if (failed_write == "FinishJobs") {
        CHECK(repeated <= 1u);
      } else {
        CHECK(repeated == 0u);
      }
    }
  }
  SetLogSink(nullptr);
  // Every kind of write of the loop was a crash point.
  for (const char* write : {"UpdateRun", "RecordFingerprint", "AddLineageEdge", "SaveGeneration",
                            "EnqueueBatch", "ClaimJobs", "FinishJobs", "SavePromotion"}) {
    CHECK(crashed_in.count(write) == 1);
  }
}

}  // namespace evolve::testing::crash_suite

#define EVOLVE_CRASH_AT_EVERY_WRITE_TEST(prefix, make_harness)                                               \
  TEST_CASE(prefix " store: a crash at any write of the loop resumes without retraining or re-simulating") { \
    ::evolve::testing::crash_suite::CrashAtEveryWriteResumes(                                                \
        []() -> std::unique_ptr<::evolve::testing::StoreHarness> { return make_harness; });                  \
  }                                                                                                          \
  TEST_CASE(prefix " store, training on the queue: a crash at any write resumes, repeating one job at most") { \
    ::evolve::testing::crash_suite::CrashAtEveryWriteResumes(                                                \
        []() -> std::unique_ptr<::evolve::testing::StoreHarness> { return make_harness; }, true);            \
  }

#endif  // EVOLVE_TESTS_CRASH_SUITE_H_
