// Worker: drains the job queue: simulations, and training jobs when it has
// a trainer.
//
// A worker claims jobs (several per claim if asked), runs each through the
// Simulator, heartbeats the leases of the jobs it holds while simulations run,
// and completes or fails each job, fenced on its lease. A stop request lets
// the simulation in flight finish and releases the claimed jobs not yet
// started, so nothing is lost and nothing waits for a lease to expire.
//
// Simulator errors: kUnavailable/kDeadlineExceeded are retryable (the job
// goes back to PENDING while it has attempts left); any other error fails
// the job for good, with the error kept on the job.
// Queue errors are retried with backoff; the worker never exits because the
// database went away for a while.
//
// Thread-safety: RunOnce/Run are called by one thread; RequestStop and
// stats() may be called from any thread.
#ifndef EVOLVE_WORKER_H_
#define EVOLVE_WORKER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "evolve/clock.h"
#include "evolve/simulator.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/trainer.h"

namespace evolve {

// How long a worker counts as live after its last heartbeat: a worker is
// live while it is ACTIVE and has heartbeat within this time. Every worker
// heartbeats well within it (WorkerOptions::heartbeat_interval is at most
// half of it), so a live worker is never reported dead.
inline constexpr Duration kWorkerLiveness = std::chrono::seconds(60);
bool IsWorkerLive(const WorkerInfo& worker, TimePoint now);

// This host's name, as workers register it (WorkerInfo::host); "localhost"
// when the system gives none.
std::string HostName();

// The pause between two empty claims of a worker whose claims wait
// (WorkerOptions::claims_wait), in case the queue answered at once.
inline constexpr Duration kClaimWaitPause = std::chrono::milliseconds(100);

struct WorkerOptions {
  std::string worker_id;  // required, unique among live workers
  std::string host;
  int64_t pid = 0;
  int max_jobs_per_claim = 1;
  Duration lease = std::chrono::seconds(60);
  // How often held leases (and the registry entry) are refreshed; must be
  // well below `lease`, and at most half of kWorkerLiveness.
  Duration heartbeat_interval = std::chrono::seconds(15);
  // How long an idle worker waits before claiming again, unless woken.
  Duration poll_interval = std::chrono::seconds(5);
  // The queue's ClaimJobs itself waits for work before it answers "none"
  // (an orchestrator's long-poll claim, OrchestratorClientOptions::
  // claim_wait): after an empty claim the worker claims again at once
  // (after at most kClaimWaitPause) instead of after poll_interval.
  bool claims_wait = false;
  // Backoff after a queue error, doubled per consecutive error up to
  // poll_interval.
  Duration error_backoff = std::chrono::milliseconds(200);
  // Run() returns after this many jobs (0: no limit).
  int64_t max_jobs = 0;
  // Run() returns when a claim finds nothing to do.
  bool exit_when_idle = false;
};

struct WorkerStats {
  int64_t claimed = 0;
  int64_t completed = 0;
  int64_t failed = 0;    // failed for good
  int64_t retried = 0;   // failed with a retryable error, back to PENDING
  int64_t released = 0;  // given back on stop
  int64_t lost = 0;      // lease lost before completion; result discarded
};

class Worker {
 public:
  // `registry` may be null (no registration, e.g. in tests). All references
  // must outlive the worker. A worker without a trainer runs simulations
  // only.
  Worker(WorkerQueue& queue, WorkerRegistry* registry, Simulator& simulator, Clock& clock,
         WorkerOptions options);
  // A worker that runs training jobs too (EngineOptions::training_on_queue):
  // it claims every kind of job and runs kTrain / kAssemble jobs with
  // `trainer` (Trainer::TrainPart, AssembleModel), at most one per claim
  // (the others a claim got are released at once, for other workers). A training job that
  // fails with a retryable status goes back to the queue uncounted and the
  // worker pauses (error_backoff, doubling up to poll_interval) before its
  // next claim; any other failure fails the job.
  Worker(WorkerQueue& queue, WorkerRegistry* registry, Simulator& simulator, Trainer* trainer, Clock& clock,
         WorkerOptions options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Validates the options. Errors: kInvalidArgument naming the option.
  static Status ValidateOptions(const WorkerOptions& options);

  // One claim and the jobs it got. Returns how many jobs were claimed.
  // Errors: queue errors of the claim itself.
  Result<int> RunOnce();

  // Registers, then claims and runs jobs until RequestStop(), max_jobs or,
  // with exit_when_idle, an empty claim; then deregisters.
  // Errors: kInvalidArgument for bad options.
  Status Run();

  // Asks Run()/RunOnce() to stop after the simulation in flight.
  void RequestStop();
  bool stop_requested() const;

  WorkerStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace evolve

#endif  // EVOLVE_WORKER_H_
