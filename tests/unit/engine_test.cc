// The evolution engine over the fakes: every stop condition, fingerprint
// reuse, priority, promotion, failures, and resume after a crash at each step.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "crash_suite.h"
#include "evolve/evolution.h"
#include "evolve/log.h"
#include "evolve/testing/fake_engines.h"
#include "evolve/testing/fake_store.h"
#include "evolve/worker.h"
#include "evolve/worker_pool.h"

namespace evolve {
namespace {

using testing::FakeSimulator;

const std::vector<std::string> kFeatures = {"a", "b", "c", "d", "e", "f"};

// Importance that prunes exactly one feature per generation: the
// lexicographically last one of the model.
double PruneLastOne(const ModelSpec& spec, const std::string& feature) {
  return feature == *std::max_element(spec.features.begin(), spec.features.end()) ? -0.5 : 0.5;
}

struct Harness {
  ManualClock clock;
  testing::FakeStore store{clock};
  testing::FakeFeatureSource features;
  testing::FakeTrainer trainer;
  FakeSimulator simulator;
  EngineOptions options;
  std::unique_ptr<EvolutionEngine> engine;

  Harness() {
    features.SetFeatures("TTRC", kFeatures);
    options.retry_backoff = std::chrono::milliseconds(10);
    NewEngine();
  }

  // A fresh engine over the same store: what a restarted process gets.
  void NewEngine(const PruningStrategy* pruning = nullptr) {
    engine =
        std::make_unique<EvolutionEngine>(EngineDeps{features, trainer, store, pruning, nullptr}, options);
  }

  // No split: these tests are about the loop itself; the holdout has its
  // own (HoldoutConfig). The crash suite's run: TTRC, 2 thresholds x 2
  // regime filters.
  static EvolutionConfig Config() { return testing::crash_suite::CrashHarness::Config(); }

  // The defaults' split: a holdout and a selection span.
  static EvolutionConfig HoldoutConfig() {
    EvolutionConfig c = Config();
    c.split = EvolutionConfig{}.split;
    return c;
  }

  // Runs every claimable job, one per claim, as worker "w1".
  Result<int> Drain() {
    WorkerOptions o;
    o.worker_id = "w1";
    Worker worker(store, &store, simulator, clock, o);
    return testing::crash_suite::DrainQueue(worker);
  }

  // Steps the run to a final or stopped state (crash_suite.h's DriveRun);
  // when nothing is claimable, two minutes pass so that expired leases are
  // reaped.
  Result<Run> Drive(const std::string& run_id) {
    return testing::crash_suite::DriveRun(
        *engine, store, run_id, [this] { return Drain(); },
        [this] { clock.Advance(std::chrono::minutes(2)); });
  }

  Run Start(const EvolutionConfig& config = Config()) {
    auto run = engine->CreateRun(config);
    REQUIRE(run.ok());
    return *run;
  }

  std::vector<Generation> Generations(const std::string& run_id) { return *store.ListGenerations(run_id); }
};

// Answers by threshold: SQN 3.2 and 4.0 pass, 5.5 fails sqn_max = 5.
Result<SimulationResult> ByThreshold(const SimulationParams& p) {
  if (p.threshold < 0.0002) return FakeSimulator::PassingResult(3.2);
  if (p.threshold < 0.0004) return FakeSimulator::PassingResult(4.0);
  return FakeSimulator::PassingResult(5.5);
}

TEST_CASE("engine: promotes the best passing result, not the best SQN") {
  Harness h;
  h.simulator.SetScript(ByThreshold);
  EvolutionConfig config = Harness::Config();
  config.thresholds = {0.0001, 0.0005, 0.0003};
  Run run = h.Start(config);
  auto done = h.Drive(run.id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kPromoted);
  CHECK(done->stop_reason == kStopPromoted);
  CHECK(done->promoted);
  auto promotion = h.store.GetPromotion(done->promotion_id);
  REQUIRE(promotion.ok());
  CHECK(promotion->sqn == 4.0);
  CHECK(promotion->threshold == 0.0003);
  CHECK(promotion->generation == 0);
  CHECK(promotion->model_id == "model-1");
  CHECK(promotion->spec.features == kFeatures);
  CHECK(promotion->ticker == "TTRC");
  auto gens = h.Generations(run.id);
  REQUIRE(gens.size() == 1);
  CHECK(*gens[0].best_sqn == 5.5);  // the generation's best SQN is recorded either way
  CHECK(gens[0].verdict == "FAIL: sqn 5.5 > max 5 (over by 0.5)");
  CHECK(gens[0].jobs_passing == 4);
  CHECK(gens[0].jobs_completed == 6);
  CHECK(*done->best_sqn == 5.5);
}

TEST_CASE("engine: stop condition max_generations, with lineage and priorities") {
  Harness h;
  h.trainer.SetImportanceScript(PruneLastOne);
  int calls = 0;
  h.simulator.SetScript(
      [&](const SimulationParams&) { return FakeSimulator::FailingResult(1.0 + 0.1 * ++calls); });
  EvolutionConfig config = Harness::Config();
  config.max_generations = 3;
  config.trade_count_min = 100;  // FailingResult's 100 trades rank (it still fails on PF and consistency)
  Run run = h.Start(config);
  auto done = h.Drive(run.id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kCompleted);
  CHECK(done->stop_reason == kStopMaxGenerations);
  CHECK_FALSE(done->promoted);
  CHECK(h.trainer.train_count() == 3);
  auto gens = h.Generations(run.id);
  REQUIRE(gens.size() == 3);
  CHECK(gens[1].pruned_features == std::vector<std::string>{"f"});
  CHECK(gens[2].pruned_features == std::vector<std::string>{"e"});
  CHECK(gens[2].features == std::vector<std::string>{"a", "b", "c", "d"});
  CHECK(gens[2].pruning_reason == "importance<=0");
  CHECK(*gens[2].parent_sqn == *gens[1].best_sqn);
  CHECK(*done->best_sqn == *gens[2].best_sqn);  // scripted SQN rises with every call
  // Every job of generation k has priority = generation k-1's best SQN.
  for (const Job& job : *h.store.ListJobs({})) {
    double expected = job.generation == 0 ? 0.0 : *gens[job.generation - 1].best_sqn;
    CHECK(job.priority == expected);
  }
  auto lineage = *h.store.ListLineage(run.id);
  REQUIRE(lineage.size() == 3);
  CHECK(lineage[0].parent_model_id.empty());
  CHECK(lineage[0].pruning_reason == "seed");
  CHECK(lineage[2].parent_model_id == gens[1].model_id);
  CHECK(lineage[2].child_model_id == gens[2].model_id);
  CHECK(lineage[2].remaining_features == gens[2].features);
  auto ancestry = *h.store.Ancestry(gens[2].model_id);
  REQUIRE(ancestry.size() == 3);
  CHECK(ancestry.back().child_model_id == done->seed_model_id);
}

TEST_CASE("engine: stop condition no_pruning when every importance is positive") {
  Harness h;
  Run run = h.Start();
  auto done = h.Drive(run.id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kCompleted);
  CHECK(done->stop_reason == kStopNoPruning);
  CHECK(h.Generations(run.id).size() == 1);
  CHECK(h.trainer.train_count() == 1);
}

TEST_CASE("engine: stop condition all_pruned when no feature is left") {
  Harness h;
  h.trainer.SetImportances({}, -1.0);
  Run run = h.Start();
  auto done = h.Drive(run.id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kCompleted);
  CHECK(done->stop_reason == kStopAllPruned);
  CHECK(h.trainer.train_count() == 1);
}

TEST_CASE("engine: stop, then resume, finishes the run") {
  Harness h;
  h.trainer.SetImportanceScript(PruneLastOne);
  h.simulator.SetScript(ByThreshold);
  Run run = h.Start();
  CHECK(*h.engine->Step(run.id) == StepOutcome::kProgressed);  // PENDING -> RUNNING
  CHECK(*h.engine->Step(run.id) == StepOutcome::kProgressed);  // gen 0 model
  CHECK(*h.engine->Step(run.id) == StepOutcome::kProgressed);  // gen 0 queued
  REQUIRE(h.engine->StopRun(run.id).ok());
  CHECK(*h.engine->Step(run.id) == StepOutcome::kHalted);
  CHECK(h.store.GetRun(run.id)->status == RunStatus::kStopped);
  JobFilter filter;
  filter.run_id = run.id;
  CHECK(h.store.CountJobs(filter)->pending == 4);  // queued work stays queued
  CHECK(h.engine->StopRun(run.id).code() == StatusCode::kFailedPrecondition);
  REQUIRE(h.engine->ResumeRun(run.id).ok());
  auto done = h.Drive(run.id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kPromoted);
  CHECK(h.engine->ResumeRun(run.id).code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("engine: cancel mid-run cancels pending jobs and ends the run") {
  Harness h;
  Run run = h.Start();
  for (int i = 0; i < 3; ++i) REQUIRE(h.engine->Step(run.id).ok());
  // One job is running when the user cancels; the rest are pending.
  auto claimed = h.store.ClaimJobs("w9", 1, std::chrono::minutes(1));
  REQUIRE(claimed->size() == 1);
  REQUIRE(h.engine->CancelRun(run.id).ok());
  JobFilter filter;
  filter.run_id = run.id;
  JobCounts counts = *h.store.CountJobs(filter);
  CHECK(counts.cancelled == 3);
  CHECK(counts.running == 1);
  CHECK(*h.engine->Step(run.id) == StepOutcome::kFinished);
  Run done = *h.store.GetRun(run.id);
  CHECK(done.status == RunStatus::kCancelled);
  CHECK(done.stop_reason == kStopCancelled);
  CHECK(h.trainer.train_count() == 1);
  CHECK(h.engine->CancelRun(run.id).code() == StatusCode::kFailedPrecondition);
  CHECK(h.engine->ResumeRun(run.id).code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("engine: a failing simulation fails its job and the run goes on") {
  Harness h;
  h.simulator.SetScript([](const SimulationParams& p) -> Result<SimulationResult> {
    if (p.threshold < 0.0002 && p.regime.empty()) return InternalError("no bars for regime");
    return ByThreshold(p);
  });
  Run run = h.Start();
  auto done = h.Drive(run.id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kPromoted);
  auto gens = h.Generations(run.id);
  CHECK(gens[0].jobs_failed == 1);
  CHECK(gens[0].jobs_completed == 3);
  JobFilter filter;
  filter.status = JobStatus::kFailed;
  auto failed = *h.store.ListJobs(filter);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].error == "INTERNAL: no bars for regime");
  CHECK(failed[0].attempts == 1);  // not retried: the error is not transient
}

TEST_CASE("engine: a generation whose every simulation failed fails the run") {
  Harness h;
  h.simulator.SetScript([](const SimulationParams&) -> Result<SimulationResult> {
    return InvalidArgumentError("unknown regime column");
  });
  Run run = h.Start();
  auto done = h.Drive(run.id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kFailed);
  CHECK(done->stop_reason == kStopFailed);
  CHECK(done->error.find("generation 0: all 4 simulations failed") == 0);
  CHECK(done->error.find("unknown regime column") != std::string::npos);
}

TEST_CASE("engine: trainer failures are retried when transient, else fail the run") {
  SUBCASE("transient, then success") {
    Harness h;
    h.trainer.faults().FailNext("Train", UnavailableError("trainer restarting"), 0, 2);
    Run run = h.Start();
    auto done = h.Drive(run.id);
    REQUIRE(done.ok());
    CHECK(done->status == RunStatus::kCompleted);
    CHECK(h.trainer.faults().CallCount("Train") == 3);
    CHECK(h.trainer.train_count() == 1);
  }
  SUBCASE("transient for longer than the retries: the run waits, not fails") {
    // "Not now" (a trainer restarting, a store whose disk is full) is not a
    // verdict on the model: the step fails with kUnavailable, the run stays
    // RUNNING, and the next step (the scheduler's, with backoff) trains
    // again.
    Harness h;
    h.trainer.faults().FailNext("Train", UnavailableError("trainer down"), 0, 100);
    Run run = h.Start();
    // The first steps start the run; the one that trains fails.
    Result<StepOutcome> step = h.engine->Step(run.id);
    for (int i = 0; i < 10 && step.ok(); ++i) step = h.engine->Step(run.id);
    CHECK(step.status().code() == StatusCode::kUnavailable);
    CHECK(step.status().message() == "training failed with: UNAVAILABLE: trainer down");
    CHECK(h.trainer.faults().CallCount("Train") == 1 + h.options.dependency_retries);
    auto waiting = h.store.GetRun(run.id);
    REQUIRE(waiting.ok());
    CHECK(waiting->status == RunStatus::kRunning);
    CHECK(waiting->error.empty());
    // Once the trainer is back, stepping goes on; nothing to resume.
    h.trainer.faults().ClearFailures();
    auto done = h.Drive(run.id);
    REQUIRE(done.ok());
    CHECK(done->status == RunStatus::kCompleted);
    CHECK(done->error.empty());
  }
  SUBCASE("permanent") {
    Harness h;
    h.trainer.faults().FailNext("Train", InvalidArgumentError("unknown feature 'zz'"));
    Run run = h.Start();
    auto done = h.Drive(run.id);
    REQUIRE(done.ok());
    CHECK(done->status == RunStatus::kFailed);
    CHECK(h.trainer.faults().CallCount("Train") == 1);
  }
  SUBCASE("importance missing for a feature") {
    Harness h;
    h.trainer.SetImportanceScript([](const ModelSpec&, const std::string& f) {
      return f == "c" ? std::numeric_limits<double>::quiet_NaN() : 1.0;
    });
    Run run = h.Start();
    auto done = h.Drive(run.id);
    REQUIRE(done.ok());
    CHECK(done->status == RunStatus::kFailed);
    CHECK(done->error == "generation 1: model model-1 reports no finite importance for feature 'c'");
  }
}

TEST_CASE("engine: fingerprint reuse trains each configuration once") {
  Harness h;
  EvolutionConfig config = Harness::Config();
  config.max_generations = 1;
  Run first = h.Start(config);
  Run second = h.Start(config);
  REQUIRE(h.Drive(first.id).ok());
  REQUIRE(h.Drive(second.id).ok());
  CHECK(h.trainer.train_count() == 1);
  auto g1 = h.Generations(first.id);
  auto g2 = h.Generations(second.id);
  CHECK_FALSE(g1[0].reused_model);
  CHECK(g2[0].reused_model);
  CHECK(g2[0].model_id == g1[0].model_id);
  CHECK(g2[0].fingerprint == g1[0].fingerprint);

  // A pruned child that leads back to a known configuration reuses it too:
  // a run seeded with a-e meets the model that a-f pruned to.
  Harness p;
  p.trainer.SetImportanceScript(PruneLastOne);
  EvolutionConfig two = Harness::Config();
  two.max_generations = 2;
  REQUIRE(p.Drive(p.Start(two).id).ok());
  CHECK(p.trainer.train_count() == 2);
  two.seed_features = {"e", "d", "c", "b", "a"};
  Run seeded = p.Start(two);
  REQUIRE(p.Drive(seeded.id).ok());
  CHECK(p.trainer.train_count() == 3);  // only a-d was new
  CHECK(p.Generations(seeded.id)[0].reused_model);
}

TEST_CASE("engine: a given seed model is used without training") {
  Harness h;
  ModelSpec seed = SpecFor(Harness::Config(), {"a", "b", "c"});
  h.trainer.AddModel("seed-7", seed);
  EvolutionConfig config = Harness::Config();
  config.seed_model_id = "seed-7";
  config.max_generations = 1;
  Run run = h.Start(config);
  auto done = h.Drive(run.id);
  REQUIRE(done.ok());
  CHECK(h.trainer.train_count() == 0);
  CHECK(done->seed_model_id == "seed-7");
  CHECK(h.Generations(run.id)[0].features == seed.features);
  for (const auto& p : h.simulator.calls()) CHECK(p.model_id == "seed-7");

  // A seed model the trainer does not have is refused before the run is
  // stored, not failed at its first step.
  config.seed_model_id = "missing";
  const size_t runs_before = h.store.ListRuns(RunFilter{})->size();
  auto bad = h.engine->CreateRun(config);
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message() == "seed_model_id: no model 'missing'");
  CHECK(h.store.ListRuns(RunFilter{})->size() == runs_before);
}

TEST_CASE("engine: jobs of a higher-SQN parent are claimed first, ties by age") {
  Harness h;
  h.trainer.SetImportanceScript(PruneLastOne);
  // model-1 (run A) scores SQN 2, model-2 (run B) SQN 1; later models 0.5.
  h.simulator.SetScript([](const SimulationParams& p) {
    return FakeSimulator::FailingResult(p.model_id == "model-1" ? 2.0 : p.model_id == "model-2" ? 1.0 : 0.5);
  });
  EvolutionConfig config = Harness::Config();
  config.thresholds = {0.0001};
  config.regime_configs = {RegimeFilter{}};
  config.trade_count_min = 100;  // FailingResult's 100 trades rank (it still fails on PF and consistency)
  Run a = h.Start(config);
  config.seed_features = {"a", "b", "c"};
  Run b = h.Start(config);
  // Generation 0 of both, run to completion and evaluated.
  for (const Run* r : {&a, &b}) {
    for (int i = 0; i < 3; ++i) REQUIRE(h.engine->Step(r->id).ok());
  }
  REQUIRE(*h.Drain() == 2);
  // Queue generation 1 of B first (older), then of A, then a third run's
  // generation 0 (priority 0), and a fourth run's that ties with it but is younger.
  for (int i = 0; i < 3; ++i) REQUIRE(h.engine->Step(b.id).ok());
  h.clock.Advance(std::chrono::seconds(1));
  for (int i = 0; i < 3; ++i) REQUIRE(h.engine->Step(a.id).ok());
  h.clock.Advance(std::chrono::seconds(1));
  config.seed_features = {"a", "b"};
  Run c = h.Start(config);
  for (int i = 0; i < 3; ++i) REQUIRE(h.engine->Step(c.id).ok());
  h.clock.Advance(std::chrono::seconds(1));
  config.seed_features = {"a", "c"};
  Run d = h.Start(config);
  for (int i = 0; i < 3; ++i) REQUIRE(h.engine->Step(d.id).ok());

  std::vector<std::pair<std::string, double>> order;
  for (;;) {
    auto claimed = *h.store.ClaimJobs("w", 1, std::chrono::minutes(1));
    if (claimed.empty()) break;
    order.emplace_back(claimed[0].run_id, claimed[0].priority);
  }
  REQUIRE(order.size() == 4);
  CHECK(order[0] == std::make_pair(a.id, 2.0));
  CHECK(order[1] == std::make_pair(b.id, 1.0));
  CHECK(order[2] == std::make_pair(c.id, 0.0));
  CHECK(order[3] == std::make_pair(d.id, 0.0));
}

TEST_CASE("engine: invalid configs are refused and nothing is stored") {
  Harness h;
  EvolutionConfig config = Harness::Config();
  config.thresholds.clear();
  config.sqn_min = 6.0;
  auto run = h.engine->CreateRun(config);
  REQUIRE_FALSE(run.ok());
  CHECK(run.status().code() == StatusCode::kInvalidArgument);
  CHECK(run.status().message().find("thresholds") != std::string::npos);
  CHECK(run.status().message().find("sqn_min") != std::string::npos);
  CHECK(h.store.ListRuns({})->empty());
  CHECK(h.engine->Step("run_nope").status().code() == StatusCode::kNotFound);
}

// The crash-at-every-write test (crash_suite.h) on the in-memory fake; the
// SQLite and PostgreSQL store tests run the same one.
}  // namespace
}  // namespace evolve

EVOLVE_CRASH_AT_EVERY_WRITE_TEST("fake", std::make_unique<evolve::testing::ManualClockHarness>(
                                             [](evolve::Clock& clock) -> std::unique_ptr<evolve::Store> {
                                               return std::make_unique<evolve::testing::FakeStore>(clock);
                                             }))

namespace evolve {
namespace {

// The fakes on the real clock, for RunToEnd with workers on threads: each
// generation prunes one feature, and models of 5 features or fewer pass.
struct ThreadedHarness {
  Clock& clock = *RealClock();
  testing::FakeStore store{clock};
  testing::FakeFeatureSource features;
  testing::FakeTrainer trainer;
  FakeSimulator simulator;
  std::unique_ptr<EvolutionEngine> engine;

  ThreadedHarness() {
    features.SetFeatures("TTRC", kFeatures);
    trainer.SetImportanceScript(PruneLastOne);
    simulator.SetScript([this](const SimulationParams& p) -> Result<SimulationResult> {
      EVOLVE_ASSIGN_OR_RETURN(ModelSpec spec, trainer.DescribeModel(p.model_id));
      return spec.features.size() <= 5 ? FakeSimulator::PassingResult(3.5) : FakeSimulator::FailingResult();
    });
    EngineOptions options;
    options.poll_interval = std::chrono::milliseconds(20);
    engine =
        std::make_unique<EvolutionEngine>(EngineDeps{features, trainer, store, nullptr, nullptr}, options);
  }
};

TEST_CASE("engine: RunToEnd with workers on threads, woken by queue events") {
  ThreadedHarness h;
  Clock& clock = h.clock;
  testing::FakeStore& store = h.store;
  EvolutionEngine& engine = *h.engine;
  FakeSimulator& simulator = h.simulator;
  auto run = engine.CreateRun(Harness::Config());
  REQUIRE(run.ok());

  WorkerPoolOptions pool_options;
  pool_options.size = 3;
  pool_options.worker.worker_id = "thread-worker";
  pool_options.worker.poll_interval = std::chrono::milliseconds(50);
  WorkerPool pool(store, &store, simulator, clock, pool_options);
  REQUIRE(pool.Start().ok());
  auto done = engine.RunToEnd(run->id);
  pool.RequestStop();
  CHECK(pool.Wait().ok());
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kPromoted);
  CHECK(store.GetPromotion(done->promotion_id)->generation == 1);
  int64_t completed = 0;
  for (const auto& w : *store.ListWorkers()) {
    CHECK(w.status == "STOPPED");
    completed += w.jobs_completed;
  }
  CHECK(completed == 8);  // two generations of 2 thresholds x 2 regimes
}

TEST_CASE("engine: RunToEnd returns early when asked to stop, leaving the run resumable") {
  Harness h;
  Run run = h.Start();
  Event stop;
  stop.Notify();
  auto r = h.engine->RunToEnd(run.id, &stop);
  REQUIRE(r.ok());
  CHECK(r->status == RunStatus::kPending);
  auto done = h.Drive(run.id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kCompleted);
}

TEST_CASE("engine: RunToEnd holds the run's lock, and refuses a run another holder steps") {
  Harness h;
  Run run = h.Start();
  {
    auto other = h.store.TryLockRun(run.id);  // e.g. an evolve serve stepping it
    REQUIRE(other.ok());
    auto refused = h.engine->RunToEnd(run.id);
    CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
    CHECK(refused.status().message().find(run.id) != std::string::npos);
    CHECK(h.store.GetRun(run.id)->status == RunStatus::kPending);  // untouched
    CHECK(h.store.CountJobs({})->total() == 0);
    // The holder itself may run it to the end with the lock it has.
    Event stop;
    stop.Notify();
    auto held = h.engine->RunToEnd(**other, &stop);
    CHECK(held.ok());
  }
}

TEST_CASE("engine: RunToEnd takes the run's lock for the whole call and gives it back") {
  ThreadedHarness h;
  auto run = h.engine->CreateRun(Harness::Config());
  REQUIRE(run.ok());
  std::atomic<int> simulated_while_locked{0};
  h.simulator.SetScript([&](const SimulationParams&) -> Result<SimulationResult> {
    if (h.store.TryLockRun(run->id).status().code() == StatusCode::kFailedPrecondition)
      ++simulated_while_locked;
    return FakeSimulator::FailingResult();
  });
  WorkerPoolOptions pool_options;
  pool_options.worker.worker_id = "lock-test-worker";
  pool_options.worker.poll_interval = std::chrono::milliseconds(20);
  WorkerPool pool(h.store, &h.store, h.simulator, h.clock, pool_options);
  REQUIRE(pool.Start().ok());
  auto done = h.engine->RunToEnd(run->id);
  pool.Stop();
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kCompleted);
  CHECK(simulated_while_locked.load() == static_cast<int>(h.simulator.calls().size()));
  CHECK(simulated_while_locked.load() > 0);
  CHECK(h.store.TryLockRun(run->id).ok());
}

TEST_CASE("engine: RunToEnd waits out a store that is away and finishes the run") {
  ThreadedHarness h;
  Clock& clock = h.clock;
  testing::FakeStore& store = h.store;
  EvolutionEngine& engine = *h.engine;
  FakeSimulator& simulator = h.simulator;
  auto run = engine.CreateRun(Harness::Config());
  REQUIRE(run.ok());
  WorkerOptions o;
  o.worker_id = "w1";
  o.poll_interval = std::chrono::milliseconds(20);
  o.error_backoff = std::chrono::milliseconds(10);
  Worker worker(store, &store, simulator, clock, o);
  std::thread thread([&worker] { CHECK(worker.Run().ok()); });

  // The database "restarts" twice: reads fail, then a write fails.
  SetLogSink([](LogLevel, const std::string&) {});
  store.faults().FailNext("GetRun", UnavailableError("connection refused"), 1, 2);
  store.faults().FailNext("SaveGeneration", UnavailableError("connection reset"), 0, 1);
  auto done = engine.RunToEnd(run->id);
  SetLogSink(nullptr);
  worker.RequestStop();
  thread.join();
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kPromoted);
  CHECK(store.faults().failed_calls().size() == 3);

  // A store error that is not transient still ends the call.
  auto second = engine.CreateRun(Harness::Config());
  REQUIRE(second.ok());
  store.faults().FailNext("GetRun", InternalError("corrupt row"));
  CHECK(engine.RunToEnd(second->id).status().code() == StatusCode::kInternal);
}

// The research grid answers by threshold (SQN 3.2 / 4.0 pass, 5.5 fails
// sqn_max); the holdout answers with `holdout`.
FakeSimulator::Script ResearchAndHoldout(SimulationResult holdout) {
  return [holdout](const SimulationParams& p) -> Result<SimulationResult> {
    if (p.span == kSpanHoldout) return holdout;
    return ByThreshold(p);
  };
}

SimulationResult HoldoutResult(double sqn, double excess_sqn, double excess_pct) {
  SimulationResult r = FakeSimulator::PassingResult(sqn);
  r.excess_sqn = excess_sqn;
  r.excess_return_pct = excess_pct;
  return r;
}

TEST_CASE("engine: a finalist is promoted only once its frozen cell passes on the holdout") {
  Harness h;
  h.simulator.SetScript(ResearchAndHoldout(HoldoutResult(2.1, 1.9, 12.0)));
  Run run = h.Start(Harness::HoldoutConfig());
  auto done = h.Drive(run.id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kPromoted);
  auto gens = h.Generations(run.id);
  REQUIRE(gens.size() == 1);
  REQUIRE(gens[0].holdout.has_value());
  const HoldoutCheck& check = *gens[0].holdout;
  CHECK(check.decided);
  CHECK(check.passed);
  CHECK(check.verdict == "PASS");
  CHECK(check.look == 1);
  REQUIRE(check.result.has_value());
  CHECK(*check.result->sqn == 2.1);
  // The research grid scored the research span; the holdout job is the
  // finalist's cell, frozen, on the holdout.
  auto finalist = h.store.GetJob(check.candidate_job_id);
  auto looked = h.store.GetJob(check.job_id);
  REQUIRE(finalist.ok());
  REQUIRE(looked.ok());
  CHECK(finalist->params.span == kSpanResearch);
  CHECK(looked->params.span == kSpanHoldout);
  CHECK(looked->params.threshold == finalist->params.threshold);
  CHECK(looked->params.regime == finalist->params.regime);
  CHECK(looked->params.model_id == finalist->params.model_id);
  CHECK(*finalist->result->sqn == 4.0);
  auto promotion = h.store.GetPromotion(done->promotion_id);
  REQUIRE(promotion.ok());
  CHECK(promotion->sqn == 4.0);
  REQUIRE(promotion->holdout.has_value());
  CHECK(promotion->holdout->passed);
  REQUIRE(promotion->selection.has_value());
  CHECK(promotion->selection->trials == 4);
  // Exactly one look: the simulator saw the holdout once.
  int holdout_calls = 0;
  for (const SimulationParams& p : h.simulator.calls()) holdout_calls += p.span == kSpanHoldout;
  CHECK(holdout_calls == 1);
}

TEST_CASE(
    "engine: a finalist that fails on the holdout ends the run holdout_rejected, with the figures kept") {
  Harness h;
  for (const auto& [holdout, failure] : std::vector<std::pair<SimulationResult, std::string>>{
           {HoldoutResult(0.4, 0.4, 3.0), "holdout sqn 0.4 < min 1.645"},
           {HoldoutResult(2.5, 0.2, 1.0), "holdout excess_sqn 0.2 < min 1.645"},
           {HoldoutResult(2.5, 2.5, -4.0), "holdout excess_return_pct -4 < min 0"}}) {
    h.simulator.SetScript(ResearchAndHoldout(holdout));
    EvolutionConfig config = Harness::HoldoutConfig();
    config.max_generations = 3;
    Run run = h.Start(config);
    auto done = h.Drive(run.id);
    REQUIRE(done.ok());
    CHECK(done->status == RunStatus::kCompleted);
    CHECK(done->stop_reason == kStopHoldoutRejected);
    CHECK_FALSE(done->promoted);
    auto gens = h.Generations(run.id);
    REQUIRE(gens.size() == 1);  // one look, and it is spent: the run does not go on
    REQUIRE(gens[0].holdout.has_value());
    CHECK_FALSE(gens[0].holdout->passed);
    INFO(gens[0].holdout->verdict);
    CHECK(gens[0].holdout->verdict.find(failure) != std::string::npos);
    CHECK(gens[0].holdout->result.has_value());
  }
  CHECK(h.store.ListPromotions(10, 0)->empty());
}

TEST_CASE("engine: holdout_looks 2 lets a later generation's finalist take the second look") {
  Harness h;
  h.trainer.SetImportanceScript(PruneLastOne);
  int holdout_calls = 0;
  h.simulator.SetScript([&holdout_calls](const SimulationParams& p) -> Result<SimulationResult> {
    if (p.span != kSpanHoldout) return ByThreshold(p);
    return ++holdout_calls == 1 ? HoldoutResult(0.5, 0.5, 1.0) : HoldoutResult(2.0, 2.0, 1.0);
  });
  EvolutionConfig config = Harness::HoldoutConfig();
  config.holdout_looks = 2;
  Run run = h.Start(config);
  auto done = h.Drive(run.id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kPromoted);
  auto gens = h.Generations(run.id);
  REQUIRE(gens.size() == 2);
  CHECK(gens[0].holdout->look == 1);
  CHECK_FALSE(gens[0].holdout->passed);
  CHECK(gens[1].holdout->look == 2);
  CHECK(gens[1].holdout->passed);
  CHECK(h.store.GetPromotion(done->promotion_id)->generation == 1);
}

TEST_CASE("engine: a simulator that does not score the span it is asked for fails the run, naming it") {
  Harness h;
  h.simulator.SetScript([](const SimulationParams& p) -> Result<SimulationResult> {
    SimulationResult r = *ByThreshold(p);
    r.span = kSpanAll;  // ignores the research span
    return r;
  });
  Run run = h.Start(Harness::HoldoutConfig());
  auto done = h.Drive(run.id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kFailed);
  INFO(done->error);
  CHECK(done->error.find("asked the simulator to score the 'research' span, and it scored 'all'") !=
        std::string::npos);
  CHECK(done->error.find("holdout_fraction 0") != std::string::npos);
}

TEST_CASE("engine: a result with fewer than trade_count_min trades never ranks as a generation's best") {
  Harness h;
  h.simulator.SetScript([](const SimulationParams& p) -> Result<SimulationResult> {
    SimulationResult r = FakeSimulator::FailingResult(p.threshold < 0.0002 ? 1.19 : 0.8);
    if (p.threshold < 0.0002) r.trade_count = 3;  // the highest SQN, from 3 trades
    return r;
  });
  EvolutionConfig config = Harness::Config();
  config.trade_count_min = 50;
  config.max_generations = 1;
  Run run = h.Start(config);
  auto done = h.Drive(run.id);
  REQUIRE(done.ok());
  auto gens = h.Generations(run.id);
  REQUIRE(gens.size() == 1);
  CHECK(gens[0].jobs_too_few_trades == 2);
  REQUIRE(gens[0].best_sqn.has_value());
  CHECK(*gens[0].best_sqn == 0.8);
  CHECK(gens[0].best_trade_count == 100);
}

TEST_CASE("engine: every generation stores its trials, and dsr_min and pbo_max hold a finalist back") {
  Harness h;
  // Results with trade blocks: 16 blocks of 25 trades each.
  h.simulator.SetScript([](const SimulationParams& p) -> Result<SimulationResult> {
    SimulationResult r = *ByThreshold(p);
    r.end_date = "2020-06-30";  // the research span's last date: the same for both runs
    const double mean = p.threshold < 0.0002 ? 0.001 : 0.0015;
    for (int b = 0; b < 16; ++b) {
      const double sd = 0.01 + 0.001 * b;
      r.trade_blocks.push_back(
          ReturnSums{25, 25 * mean, 25 * (sd * sd + mean * mean), 0.0, 25 * 3 * sd * sd * sd * sd});
    }
    return r;
  });
  EvolutionConfig config = Harness::Config();
  Run plain = h.Start(config);
  auto done = h.Drive(plain.id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kPromoted);
  auto gens = h.Generations(plain.id);
  REQUIRE(gens[0].selection.has_value());
  const SelectionStats& s = *gens[0].selection;
  CHECK(s.trials == 4);
  REQUIRE(s.dsr.has_value());
  REQUIRE(s.pbo.has_value());
  CHECK(*s.dsr >= 0.0);
  CHECK(*s.dsr <= 1.0);
  CHECK(s.pbo_candidates == 4);
  REQUIRE(h.store.GetPromotion(done->promotion_id)->selection.has_value());

  config.dsr_min = 1.0;  // a DSR of exactly 1 is never reached
  Run strict = h.Start(config);
  done = h.Drive(strict.id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kCompleted);
  gens = h.Generations(strict.id);
  CHECK(gens[0].verdict.find("FAIL: dsr") == 0);
  // The earlier run on the same symbol and span counts as prior trials.
  CHECK(gens[0].selection->prior_trials == 4);
}

TEST_CASE(
    "engine: threshold quantiles are grid cells, and a simulator that cannot resolve them fails the run") {
  Harness h;
  h.simulator.SetScript([](const SimulationParams& p) -> Result<SimulationResult> {
    SimulationResult r = FakeSimulator::FailingResult(1.0);
    if (p.threshold_quantile) r.threshold = 0.001 * *p.threshold_quantile;
    return r;
  });
  EvolutionConfig config = Harness::Config();
  config.thresholds = {0.0001};
  config.threshold_quantiles = {0.5, 0.9};
  config.max_generations = 1;
  Run run = h.Start(config);
  auto done = h.Drive(run.id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kCompleted);
  int quantile_jobs = 0;
  for (const SimulationParams& p : h.simulator.calls()) quantile_jobs += p.threshold_quantile.has_value();
  CHECK(quantile_jobs == 4);  // 2 quantiles x 2 regime filters
  CHECK(h.simulator.calls().size() == 6);

  // A simulator that does not say what threshold a quantile came to.
  h.simulator.SetScript(
      [](const SimulationParams&) -> Result<SimulationResult> { return FakeSimulator::FailingResult(1.0); });
  Run blind = h.Start(config);
  done = h.Drive(blind.id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kFailed);
  CHECK(done->error.find("threshold at quantile 0.5") != std::string::npos);

  config.thresholds.clear();  // quantiles alone are a grid
  CHECK(h.engine->CreateRun(config).ok());
  config.threshold_quantiles = {1.0};
  auto refused = h.engine->CreateRun(config);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("threshold_quantiles[0]") != std::string::npos);
}

}  // namespace
}  // namespace evolve
