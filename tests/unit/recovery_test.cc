// Runs that can always finish (issue 18): holder deaths are not failures,
// a killed holder's jobs come back without using attempts and a job whose
// holders keep dying is quarantined; `resume` queues a failed batch again;
// a store that cannot write while a model is trained leaves the run as it
// was (not FAILED), the engine reports the store as not writable, and the
// run completes once writes succeed again.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>

#include "crash_suite.h"
#include "evolve/evolution.h"
#include "evolve/testing/fake_engines.h"
#include "evolve/testing/fake_store.h"
#include "evolve/testing/fault_injecting_store.h"
#include "evolve/worker.h"

namespace evolve {
namespace {

// A trainer that keeps its models in the store, as the built-in one does:
// training ends by writing the model's artifact, so a store that cannot
// write makes training fail.
class ArtifactTrainer final : public Trainer {
 public:
  ArtifactTrainer(testing::FakeTrainer& inner, ArtifactStore& artifacts)
      : inner_(inner), artifacts_(artifacts) {}

  Result<TrainedModel> Train(const ModelSpec& spec) override {
    EVOLVE_ASSIGN_OR_RETURN(TrainedModel model, inner_.Train(spec));
    EVOLVE_RETURN_IF_ERROR(artifacts_.PutArtifact("models/" + model.model_id, "model bytes"));
    return model;
  }
  Result<ImportanceReport> Importance(const std::string& model_id) override {
    return inner_.Importance(model_id);
  }
  Result<ModelSpec> DescribeModel(const std::string& model_id) override {
    return inner_.DescribeModel(model_id);
  }

 private:
  testing::FakeTrainer& inner_;
  ArtifactStore& artifacts_;
};

struct Harness {
  ManualClock clock;
  testing::FakeStore backend{clock};
  testing::FaultInjectingStore store{backend};  // the "disk"
  testing::FakeFeatureSource features;
  testing::FakeTrainer fake_trainer;
  ArtifactTrainer trainer{fake_trainer, store};
  testing::FakeSimulator simulator;
  EngineOptions options;
  std::unique_ptr<EvolutionEngine> engine;

  Harness() {
    features.SetFeatures("TTRC", {"a", "b", "c", "d"});
    options.retry_backoff = std::chrono::milliseconds(10);
    engine =
        std::make_unique<EvolutionEngine>(EngineDeps{features, trainer, store, nullptr, nullptr}, options);
  }

  // `generations` generations of 2 thresholds x 2 regime filters.
  std::string NewRun(int generations = 2) {
    EvolutionConfig c = testing::crash_suite::CrashHarness::Config();
    c.max_generations = generations;
    auto run = engine->CreateRun(c);
    REQUIRE(run.ok());
    return run->id;
  }

  Result<int> Drain() {
    WorkerOptions o;
    o.worker_id = "w1";
    Worker worker(store, &store, simulator, clock, o);
    return testing::crash_suite::DrainQueue(worker);
  }

  Result<Run> Drive(const std::string& run_id) {
    return testing::crash_suite::DriveRun(
        *engine, store, run_id, [this] { return Drain(); },
        [this] { clock.Advance(std::chrono::minutes(2)); });
  }

  Run Get(const std::string& run_id) {
    auto run = backend.GetRun(run_id);
    REQUIRE(run.ok());
    return *run;
  }

  std::vector<Job> Jobs(const std::string& run_id) {
    JobFilter f;
    f.run_id = run_id;
    auto jobs = backend.ListJobs(f);
    REQUIRE(jobs.ok());
    return *jobs;
  }
};

TEST_CASE("recovery: a full disk while a model is trained leaves the run RUNNING, and it completes later") {
  Harness h;
  const std::string run_id = h.NewRun();
  auto started = h.engine->Step(run_id);  // PENDING -> RUNNING
  REQUIRE(started.ok());
  CHECK(h.engine->store_health().writable);

  // The disk fills: every write fails, as SQLite's SQLITE_FULL does.
  h.store.faults().FailMutationsAfter(
      0, UnavailableError("db.sqlite: database or disk is full (the disk is full)"));
  for (int attempt = 0; attempt < 3; ++attempt) {
    Result<StepOutcome> step = h.engine->Step(run_id);
    REQUIRE_FALSE(step.ok());
    CHECK(step.status().code() == StatusCode::kUnavailable);  // the store's error, retried by the caller
    CHECK_MESSAGE(step.status().message().find("disk is full") != std::string::npos,
                  step.status().ToString());
  }
  // Not a trainer error: not retried as one, and the run is as it was.
  CHECK(h.fake_trainer.train_count() == 3);
  Run waiting = h.Get(run_id);
  CHECK(waiting.status == RunStatus::kRunning);
  CHECK(waiting.error.empty());
  CHECK_FALSE(h.backend.GetGeneration(run_id, 0).ok());
  StoreWriteHealth health = h.engine->store_health();
  CHECK_FALSE(health.writable);
  CHECK_MESSAGE(health.error.find("disk is full") != std::string::npos, health.error);
  CHECK(health.failing_since.has_value());
  CHECK(health.last_error_at.has_value());

  // Space is back: the run goes on and completes; the engine says so.
  h.store.faults().ClearFailures();
  Result<Run> end = h.Drive(run_id);
  REQUIRE(end.ok());
  CHECK(end->status == RunStatus::kCompleted);
  CHECK(end->error.empty());
  health = h.engine->store_health();
  CHECK(health.writable);
  CHECK(health.error.empty());
  for (const Job& job : h.Jobs(run_id)) CHECK(job.status == JobStatus::kCompleted);
}

TEST_CASE("recovery: a trainer that fails while the store writes still fails the run") {
  Harness h;
  const std::string run_id = h.NewRun();
  REQUIRE(h.engine->Step(run_id).ok());
  h.fake_trainer.faults().FailNext("Train", InvalidArgumentError("unknown feature 'zz'"));
  Result<StepOutcome> step = h.engine->Step(run_id);
  REQUIRE(step.ok());
  Run failed = h.Get(run_id);
  CHECK(failed.status == RunStatus::kFailed);
  CHECK_MESSAGE(failed.error.find("unknown feature 'zz'") != std::string::npos, failed.error);
  CHECK(h.engine->store_health().writable);
}

TEST_CASE("recovery: a holder that dies five times quarantines the job, and resume runs it again") {
  Harness h;
  const std::string run_id = h.NewRun(1);
  // Step until the batch is queued.
  for (int i = 0; i < 10; ++i) {
    auto step = h.engine->Step(run_id);
    REQUIRE(step.ok());
    if (*step == StepOutcome::kWaiting) break;
  }
  std::vector<Job> jobs = h.Jobs(run_id);
  REQUIRE(jobs.size() == 4);
  // Every job's holder dies kJobDeathLimit times: claimed, lease runs out.
  for (int death = 1; death <= kJobDeathLimit; ++death) {
    auto claimed = h.store.ClaimJobs("doomed-" + std::to_string(death), 10, std::chrono::seconds(20));
    REQUIRE(claimed.ok());
    REQUIRE(claimed->size() == 4);
    h.clock.Advance(std::chrono::seconds(21));
    auto reaped = h.store.ReapExpiredJobs();
    REQUIRE(reaped.ok());
    CHECK(*reaped == 4);
  }
  for (const Job& job : h.Jobs(run_id)) {
    CHECK(job.status == JobStatus::kFailed);
    CHECK(job.deaths == kJobDeathLimit);
    CHECK(job.attempts == 0);
    CHECK_MESSAGE(job.error.find("quarantined after 5 holder deaths") != std::string::npos, job.error);
  }
  // Every simulation of the generation failed: the run fails.
  Result<Run> failed = h.Drive(run_id);
  REQUIRE(failed.ok());
  CHECK(failed->status == RunStatus::kFailed);
  CHECK_MESSAGE(failed->error.find("quarantined") != std::string::npos, failed->error);

  // Resume queues the failed batch again with fresh counters, and the run
  // finishes, each job simulated once.
  REQUIRE(h.engine->ResumeRun(run_id).ok());
  for (const Job& job : h.Jobs(run_id)) {
    CHECK(job.status == JobStatus::kPending);
    CHECK(job.deaths == 0);
    CHECK(job.attempts == 0);
    CHECK(job.error.empty());
  }
  Result<Run> end = h.Drive(run_id);
  REQUIRE(end.ok());
  CHECK(end->status == RunStatus::kCompleted);
  CHECK(end->error.empty());
  std::map<std::string, int> simulated;
  for (const Job& job : h.Jobs(run_id)) {
    CHECK(job.status == JobStatus::kCompleted);
    CHECK(job.attempts == 1);
    ++simulated[job.id];
  }
  CHECK(simulated.size() == 4);
  CHECK(h.simulator.faults().CallCount("Simulate") == 4);
  auto gen = h.backend.GetGeneration(run_id, 0);
  REQUIRE(gen.ok());
  CHECK(gen->state == GenerationState::kEvaluated);
  CHECK(gen->jobs_completed == 4);
  CHECK(gen->jobs_failed == 0);
}

TEST_CASE("recovery: resume of a run whose simulations all failed queues them again") {
  Harness h;
  const std::string run_id = h.NewRun(1);
  // The simulator is broken for the first four simulations.
  h.simulator.faults().FailNext("Simulate", InvalidArgumentError("no column regime_vix"), 0, 4);
  Result<Run> failed = h.Drive(run_id);
  REQUIRE(failed.ok());
  REQUIRE(failed->status == RunStatus::kFailed);
  CHECK_MESSAGE(failed->error.find("all 4 simulations failed") != std::string::npos, failed->error);

  // A run that is not STOPPED or FAILED is refused and nothing is queued.
  REQUIRE(h.engine->ResumeRun(run_id).ok());
  CHECK(h.engine->ResumeRun(run_id).code() == StatusCode::kFailedPrecondition);
  Result<Run> end = h.Drive(run_id);
  REQUIRE(end.ok());
  CHECK(end->status == RunStatus::kCompleted);
  int completed = 0;
  for (const Job& job : h.Jobs(run_id)) completed += job.status == JobStatus::kCompleted ? 1 : 0;
  CHECK(completed == 4);
}

}  // namespace
}  // namespace evolve
