// Training on the queue (EngineOptions::training_on_queue): the engine
// queues a model's parts and its assembly as jobs, workers with a trainer
// run them, and the run ends exactly as with training inline.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <vector>

#include "crash_suite.h"
#include "evolve/evolution.h"
#include "evolve/json.h"
#include "evolve/log.h"
#include "evolve/testing/fake_engines.h"
#include "evolve/testing/fake_store.h"
#include "evolve/worker.h"

namespace evolve {
namespace {

using testing::FakeSimulator;
using testing::crash_suite::CrashHarness;

// A trainer that trains in three parts: each part's output names it, and
// the assembly trains the whole model (through the fake) once it has
// checked that it got every part, in order.
class ThreePartTrainer final : public Trainer {
 public:
  explicit ThreePartTrainer(testing::FakeTrainer& inner) : inner_(inner) {}

  Result<TrainedModel> Train(const ModelSpec& spec) override { return inner_.Train(spec); }
  Result<ImportanceReport> Importance(const std::string& id) override { return inner_.Importance(id); }
  Result<ModelSpec> DescribeModel(const std::string& id) override { return inner_.DescribeModel(id); }

  Result<TrainingPlan> PlanTraining(const ModelSpec& spec) override {
    ++plans;
    return TrainingPlan{3, "inputs-of-" + spec.symbol};
  }
  Result<std::string> TrainPart(const TrainingTask& task) override {
    ++parts_run;
    if (task.inputs != "inputs-of-" + task.spec.symbol) return InvalidArgumentError("inputs lost");
    return "part-" + std::to_string(task.part) + "-of-" + std::to_string(task.parts);
  }
  Result<TrainedModel> AssembleModel(const TrainingTask& task) override {
    const std::vector<std::string> want = {"part-0-of-3", "part-1-of-3", "part-2-of-3"};
    if (task.part_outputs != want) return InvalidArgumentError("parts out of order or missing");
    return inner_.Train(task.spec);
  }

  std::atomic<int> plans{0};
  std::atomic<int> parts_run{0};

 private:
  testing::FakeTrainer& inner_;
};

struct World {
  ManualClock clock;
  testing::FakeStore store{clock};
  testing::FakeFeatureSource features;
  testing::FakeTrainer fake_trainer;
  ThreePartTrainer parts{fake_trainer};
  Trainer* trainer = &fake_trainer;
  FakeSimulator simulator;
  EngineOptions options;
  std::unique_ptr<EvolutionEngine> engine;

  explicit World(bool on_queue, bool three_parts = false) {
    features.SetFeatures("TTRC", {"a", "b", "c", "d", "e", "f"});
    fake_trainer.SetImportanceScript([](const ModelSpec& spec, const std::string& feature) {
      return feature == *std::max_element(spec.features.begin(), spec.features.end()) ? -0.5 : 0.5;
    });
    simulator.SetScript([this](const SimulationParams& p) -> Result<SimulationResult> {
      EVOLVE_ASSIGN_OR_RETURN(ModelSpec spec, fake_trainer.DescribeModel(p.model_id));
      const double sqn = 1.0 + 10000.0 * p.threshold;
      return spec.features.size() <= 4 ? FakeSimulator::PassingResult(sqn + 1.5)
                                       : FakeSimulator::FailingResult(sqn);
    });
    if (three_parts) trainer = &parts;
    options.retry_backoff = std::chrono::milliseconds(1);
    options.training_on_queue = on_queue;
    engine = std::make_unique<EvolutionEngine>(EngineDeps{features, *trainer, store, nullptr, nullptr}, options);
  }

  // Runs every job a worker with (or without) a trainer can claim.
  Result<int> Drain(bool with_trainer = true) {
    WorkerOptions o;
    o.worker_id = "w1";
    o.error_backoff = std::chrono::milliseconds(1);
    Worker worker(store, &store, simulator, with_trainer ? trainer : nullptr, clock, o);
    return testing::crash_suite::DrainQueue(worker);
  }

  Result<Run> Drive(const std::string& run_id) {
    return testing::crash_suite::DriveRun(
        *engine, store, run_id, [this] { return Drain(); },
        [this] { clock.Advance(std::chrono::minutes(2)); });
  }

  std::vector<Job> JobsOfKind(const std::string& run_id, JobKind kind) {
    JobFilter f;
    f.run_id = run_id;
    auto jobs = store.ListJobs(f);
    REQUIRE(jobs.ok());
    std::vector<Job> out;
    for (const Job& j : *jobs) {
      if (j.kind == kind) out.push_back(j);
    }
    return out;
  }
};

struct Summary {
  RunStatus status;
  std::vector<std::vector<std::string>> features;
  std::vector<std::optional<double>> best_sqn;
  std::vector<std::string> fingerprints;
};

Summary Summarise(World& w, const Run& run) {
  Summary s{run.status, {}, {}, {}};
  for (const Generation& g : *w.store.ListGenerations(run.id)) {
    s.features.push_back(g.features);
    s.best_sqn.push_back(g.best_sqn);
    s.fingerprints.push_back(g.fingerprint);
  }
  return s;
}

TEST_CASE("training on the queue: the run ends as with training inline, each model trained once by a worker") {
  World inline_world(false);
  auto a = inline_world.engine->CreateRun(CrashHarness::Config());
  REQUIRE(a.ok());
  auto a_done = inline_world.Drive(a->id);
  REQUIRE(a_done.ok());

  World queued(true);
  auto b = queued.engine->CreateRun(CrashHarness::Config());
  REQUIRE(b.ok());
  auto b_done = queued.Drive(b->id);
  REQUIRE_MESSAGE(b_done.ok(), b_done.status().ToString());

  const Summary x = Summarise(inline_world, *a_done);
  const Summary y = Summarise(queued, *b_done);
  CHECK(y.status == RunStatus::kPromoted);
  CHECK(x.status == y.status);
  CHECK(x.features == y.features);
  CHECK(x.best_sqn == y.best_sqn);
  CHECK(x.fingerprints == y.fingerprints);
  CHECK(queued.fake_trainer.train_count() == inline_world.fake_trainer.train_count());

  // One part and one assembly per trained model, every one completed, the
  // assembly's output the generation's model.
  const std::vector<Job> parts = queued.JobsOfKind(b->id, JobKind::kTrain);
  const std::vector<Job> assemblies = queued.JobsOfKind(b->id, JobKind::kAssemble);
  CHECK(parts.size() == static_cast<size_t>(queued.fake_trainer.train_count()));
  REQUIRE(assemblies.size() == parts.size());
  std::set<std::string> assembled;
  for (const Job& j : assemblies) {
    CHECK(j.status == JobStatus::kCompleted);
    CHECK_FALSE(j.result.has_value());
    assembled.insert(j.output);
  }
  for (const Generation& g : *queued.store.ListGenerations(b->id)) CHECK(assembled.count(g.model_id) == 1);
  for (const Job& j : parts) {
    CHECK(j.status == JobStatus::kCompleted);
    auto task = TrainingTaskFromJson(j.task);
    REQUIRE(task.ok());
    CHECK(task->spec.symbol == "TTRC");
    CHECK(j.params.ticker == "TTRC");
    CHECK(j.model_id.empty());
  }
}

TEST_CASE("training on the queue: parts run separately and are assembled in part order") {
  World w(true, /*three_parts=*/true);
  auto run = w.engine->CreateRun(CrashHarness::Config());
  REQUIRE(run.ok());
  auto done = w.Drive(run->id);
  REQUIRE_MESSAGE(done.ok(), done.status().ToString());
  CHECK(done->status == RunStatus::kPromoted);
  const int models = w.fake_trainer.train_count();
  CHECK(models == 3);
  CHECK(w.parts.plans.load() == models);
  CHECK(w.parts.parts_run.load() == 3 * models);
  CHECK(w.JobsOfKind(run->id, JobKind::kTrain).size() == static_cast<size_t>(3 * models));
}

TEST_CASE("training on the queue: a worker takes one training job per claim and gives the others back") {
  World w(true, /*three_parts=*/true);
  auto run = w.engine->CreateRun(CrashHarness::Config());
  REQUIRE(run.ok());
  REQUIRE(*w.engine->Step(run->id) == StepOutcome::kProgressed);
  REQUIRE(*w.engine->Step(run->id) == StepOutcome::kProgressed);  // three parts queued
  WorkerOptions o;
  o.worker_id = "w1";
  o.max_jobs_per_claim = 10;
  Worker worker(w.store, &w.store, w.simulator, w.trainer, w.clock, o);
  auto ran = worker.RunOnce();
  REQUIRE(ran.ok());
  CHECK(*ran == 1);
  CHECK(worker.stats().claimed == 3);
  CHECK(worker.stats().released == 2);
  CHECK(w.parts.parts_run.load() == 1);
  int pending = 0;
  for (const Job& j : w.JobsOfKind(run->id, JobKind::kTrain)) {
    if (j.status == JobStatus::kPending) {
      ++pending;
      CHECK(j.attempts == 0);  // a released claim is not an attempt
    }
  }
  CHECK(pending == 2);
}

TEST_CASE("training on the queue: a worker without a trainer claims no training job") {
  World w(true);
  auto run = w.engine->CreateRun(CrashHarness::Config());
  REQUIRE(run.ok());
  REQUIRE(*w.engine->Step(run->id) == StepOutcome::kProgressed);  // PENDING -> RUNNING
  REQUIRE(*w.engine->Step(run->id) == StepOutcome::kProgressed);  // training queued
  CHECK(*w.engine->Step(run->id) == StepOutcome::kWaiting);
  auto ran = w.Drain(/*with_trainer=*/false);
  REQUIRE(ran.ok());
  CHECK(*ran == 0);
  CHECK(w.JobsOfKind(run->id, JobKind::kTrain).at(0).status == JobStatus::kPending);
  CHECK(w.fake_trainer.train_count() == 0);
  // With one, the part runs.
  auto ran_with = w.Drain();
  REQUIRE(ran_with.ok());
  CHECK(*ran_with == 1);
  CHECK(w.fake_trainer.train_count() == 1);
}

TEST_CASE("training on the queue: a trainer's error fails the run naming the job, and resume trains again") {
  SetLogSink([](LogLevel, const std::string&) {});
  World w(true);
  auto run = w.engine->CreateRun(CrashHarness::Config());
  REQUIRE(run.ok());
  w.fake_trainer.faults().FailNext("Train", InvalidArgumentError("features: unknown feature 'zz'"), 0, 1);
  auto failed = w.Drive(run->id);
  REQUIRE(failed.ok());
  CHECK(failed->status == RunStatus::kFailed);
  CHECK(failed->error.find("generation 0: training: training job " + run->id + "-g0-train-0000 FAILED") == 0);
  CHECK(failed->error.find("unknown feature 'zz'") != std::string::npos);

  REQUIRE(w.engine->ResumeRun(run->id).ok());
  auto resumed = w.Drive(run->id);
  REQUIRE_MESSAGE(resumed.ok(), resumed.status().ToString());
  CHECK(resumed->status == RunStatus::kPromoted);
  SetLogSink(nullptr);
}

TEST_CASE("training on the queue: an unavailable trainer gives the job back uncounted, and the run waits") {
  SetLogSink([](LogLevel, const std::string&) {});
  World w(true);
  auto run = w.engine->CreateRun(CrashHarness::Config());
  REQUIRE(run.ok());
  REQUIRE(*w.engine->Step(run->id) == StepOutcome::kProgressed);
  REQUIRE(*w.engine->Step(run->id) == StepOutcome::kProgressed);
  w.fake_trainer.faults().FailNext("Train", UnavailableError("training service away"), 0, 5);
  for (int i = 0; i < 5; ++i) {
    WorkerOptions o;
    o.worker_id = "w1";
    Worker worker(w.store, &w.store, w.simulator, w.trainer, w.clock, o);
    auto ran = worker.RunOnce();
    REQUIRE(ran.ok());
    CHECK(*ran == 1);
    CHECK(worker.stats().released == 1);
    CHECK(worker.stats().failed == 0);
  }
  const Job part = w.JobsOfKind(run->id, JobKind::kTrain).at(0);
  CHECK(part.status == JobStatus::kPending);
  CHECK(part.attempts == 0);
  CHECK(*w.engine->Step(run->id) == StepOutcome::kWaiting);
  CHECK(w.store.GetRun(run->id)->status == RunStatus::kRunning);
  auto done = w.Drive(run->id);
  REQUIRE(done.ok());
  CHECK(done->status == RunStatus::kPromoted);
  SetLogSink(nullptr);
}

TEST_CASE("training on the queue: a cancelled run's queued training is cancelled") {
  World w(true, /*three_parts=*/true);
  auto run = w.engine->CreateRun(CrashHarness::Config());
  REQUIRE(run.ok());
  REQUIRE(*w.engine->Step(run->id) == StepOutcome::kProgressed);
  REQUIRE(*w.engine->Step(run->id) == StepOutcome::kProgressed);
  REQUIRE(w.engine->CancelRun(run->id).ok());
  for (const Job& j : w.JobsOfKind(run->id, JobKind::kTrain)) CHECK(j.status == JobStatus::kCancelled);
  auto ran = w.Drain();
  REQUIRE(ran.ok());
  CHECK(*ran == 0);
  CHECK(w.parts.parts_run.load() == 0);
}

// The crash-at-every-write suite with training on the queue runs on every
// store with the inline one (EVOLVE_CRASH_AT_EVERY_WRITE_TEST: engine_test.cc
// for the fake, tests/integration for SQLite and PostgreSQL).

}  // namespace
}  // namespace evolve
