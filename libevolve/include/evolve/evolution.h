// EvolutionEngine: the Train -> Prune -> Simulate -> Evolve -> Promote loop.
//
// The engine is a state machine over the Store: every step reads the run's
// persisted state, does one piece of work, and persists the result before
// the next step. A run can therefore be advanced by any engine over the same
// store, e.g. after the process that started it was killed: a resumed run
// retrains nothing that was fingerprinted and re-simulates nothing that was
// queued.
//
// One generation is:
//   gen 0:  seed features (given, or every feature column of the symbol), or
//           the given seed model -> fingerprint -> reuse or train
//   gen k:  importance of gen k-1's model -> prune -> stop if nothing was
//           pruned or nothing is left -> fingerprint -> reuse or train
//   then:   lineage edge -> one job per threshold x regime_config, with
//           priority = the parent generation's best SQN (0 for gen 0)
//           -> wait for the batch -> evaluate every completed result against
//           the criteria; the passing result with the highest SQN is promoted
//           and the run ends PROMOTED; else the next generation, until
//           max_generations.
// A generation whose every simulation failed fails the run (the failure is
// systematic; its first error is kept). Failed single jobs do not.
//
// Errors of the trainer and the feature source end the run FAILED with the
// error recorded (retryable ones are first retried). Errors of the Store are
// returned to the caller and leave the run as it was, to be resumed.
//
// Thread-safety: an engine may be used from several threads, but one run
// must be stepped by one thread of one process at a time. The store's run
// locks (store.h, RunLocks) enforce that: RunToEnd and RunScheduler hold the
// run's lock while they step it; a caller of Step() directly takes it
// itself (store.TryLockRun).
#ifndef EVOLVE_EVOLUTION_H_
#define EVOLVE_EVOLUTION_H_

#include <memory>
#include <optional>
#include <string>

#include "evolve/clock.h"
#include "evolve/feature_source.h"
#include "evolve/pruning.h"
#include "evolve/simulator.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/trainer.h"
#include "evolve/types.h"

namespace evolve {

// Told about a run's progress (for progress bars and logs). Called on the
// thread that steps the run; must not call back into the engine.
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  // A model is about to be trained (its fingerprint is new): training may
  // take a while, and nothing else is reported until it is done.
  virtual void OnModelTraining(const Run& /*run*/, int /*generation*/, const ModelSpec& /*spec*/) {}
  virtual void OnGenerationReady(const Run& /*run*/, const Generation& /*gen*/) {}
  virtual void OnBatchProgress(const Run& /*run*/, const Generation& /*gen*/, const JobCounts& /*counts*/) {}
  virtual void OnGenerationEvaluated(const Run& /*run*/, const Generation& /*gen*/) {}
  virtual void OnRunFinished(const Run& /*run*/) {}
};

// What the engine works with. Everything here must outlive the engine.
struct EngineDeps {
  FeatureSource& features;
  Trainer& trainer;
  Store& store;
  // When set, used for every run instead of the strategy its config names.
  const PruningStrategy* pruning = nullptr;
  EngineObserver* observer = nullptr;
};

struct EngineOptions {
  // RunToEnd re-checks a batch this often when no queue event wakes it.
  Duration poll_interval = std::chrono::milliseconds(500);
  // Attempts per simulation job before it fails for good.
  int job_max_attempts = 3;
  // Retries of a trainer/feature call that failed with a retryable status.
  int dependency_retries = 3;
  Duration retry_backoff = std::chrono::seconds(1);  // doubles per retry
  // Where models are trained. false: inline, by the trainer of the process
  // that steps the run (Trainer::Train). true: on the queue, by workers
  // (docs/architecture.md, "Training on the queue"): the step plans the
  // training (Trainer::PlanTraining), queues its parts as JobKind::kTrain
  // jobs, then one kAssemble job, with the priority, leases, retries and
  // recovery of simulation jobs, and records the model the workers
  // assembled. Some worker must then run training jobs (a Worker given a
  // Trainer claims them). The models are the same either way.
  bool training_on_queue = false;
};

enum class StepOutcome {
  kProgressed,  // did some work; step again
  kWaiting,     // waiting for the current batch; step again later
  kFinished,    // the run is in a final state
  kHalted,      // the run is STOPPED (paused by the user)
};
const char* StepOutcomeName(StepOutcome outcome);

// What the engine last saw of its store's writes, for a service's health
// check (GET /health): a step that failed on the store (steps return only
// the store's errors; a trainer that failed while the store could not
// write counts as the store's) makes it not writable, until a step writes
// again.
struct StoreWriteHealth {
  bool writable = true;
  std::string error;                       // the last failed step's store error; "" while writable
  std::optional<TimePoint> failing_since;  // the first failed step since the last write
  std::optional<TimePoint> last_error_at;  // the last failed step
};

class EvolutionEngine {
 public:
  EvolutionEngine(EngineDeps deps, EngineOptions options = {});
  EvolutionEngine(const EvolutionEngine&) = delete;
  EvolutionEngine& operator=(const EvolutionEngine&) = delete;

  // Validates `config` (and that its seed model, if any, exists: the
  // trainer describes it) and stores a new PENDING run.
  // Errors: kInvalidArgument naming every bad field ("seed_model_id: no
  // model 'm_x'"); the trainer's and the store's errors.
  Result<Run> CreateRun(const EvolutionConfig& config);

  // Advances the run by one step (see the file comment). A PENDING run
  // becomes RUNNING.
  // Errors: kNotFound for an unknown run; store errors (the run is left as
  // it was and may be stepped again).
  Result<StepOutcome> Step(const std::string& run_id);

  // Steps the run until it is final or STOPPED, sleeping between checks of a
  // batch (woken early by queue events), reaping expired job leases while it
  // waits. Returns the run as stored at the end. If `stop` is given and
  // notified, returns early with the run still RUNNING (to be resumed).
  // Retryable store errors (kUnavailable: a database restarting) are logged
  // and waited out with backoff (up to max(poll_interval, 5 s) between
  // tries), as every step is safe to repeat; other store errors are returned.
  // Holds the run's lock (RunLocks::TryLockRun) for the whole call, so no
  // other process or scheduler steps the run meanwhile.
  // Errors: kFailedPrecondition when another holder has the run's lock.
  Result<Run> RunToEnd(const std::string& run_id, Event* stop = nullptr);
  // The same, for a caller that took the run's lock itself before touching
  // the run (e.g. to resume it): `held` must be the lock of the run, taken
  // from this engine's store, and held until the call returns.
  Result<Run> RunToEnd(const RunLock& held, Event* stop = nullptr);

  // User actions, effective at the next step of whoever is stepping the run.
  // Stop: PENDING/RUNNING -> STOPPED (queued jobs stay queued).
  // Cancel: PENDING/RUNNING/STOPPED -> CANCELLED, pending jobs cancelled.
  // Resume: STOPPED/FAILED -> RUNNING. First re-queues what can run again:
  // the FAILED jobs of the current generation's batch (a job quarantined for
  // its holders' deaths, a simulation that failed while a dependency was
  // away) go back to PENDING with fresh counters
  // (JobQueue::RequeueFailedJobs), and a generation already evaluated on
  // them is evaluated again once they have run.
  // Errors: kNotFound; kFailedPrecondition from any other status.
  Status StopRun(const std::string& run_id);
  Status CancelRun(const std::string& run_id);
  Status ResumeRun(const std::string& run_id);

  // The store's health as this engine's steps saw it. Thread-safe.
  StoreWriteHealth store_health() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

// The ModelSpec the engine trains for `config` with `features`.
ModelSpec SpecFor(const EvolutionConfig& config, const std::vector<std::string>& features);

// A new random id, `prefix` followed by 24 lower-case hex digits.
std::string NewId(const std::string& prefix);

}  // namespace evolve

#endif  // EVOLVE_EVOLUTION_H_
