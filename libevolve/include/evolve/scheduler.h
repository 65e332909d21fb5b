// RunScheduler: steps many runs at once on a few threads.
//
// A service holds one scheduler. Each run it was given is, at any moment,
// ready (queued for a step thread), stepping (one thread calls
// EvolutionEngine::Step on it, a few steps in a row), or waiting (for its
// batch of jobs). A waiting run holds no thread: it is stepped again when a
// queue event for the run arrives (a job of it finished), or after
// `poll_interval` otherwise. So a run that waits for an hour of simulations
// costs nothing, and N step threads are only ever busy with real work
// (training, queueing, evaluating).
//
// Fairness: a run that has stepped `steps_per_turn` times goes to the back
// of the ready line; a waiting run that is woken (its batch finished, its
// due time came) goes to the front, so a finished batch is evaluated
// promptly rather than after every other run's turn.
//
// One run is never stepped by two threads at once (evolution.h asks that of
// its caller), nor by two processes: before a run is first stepped here the
// scheduler takes the store's lock of the run (RunLocks::TryLockRun) and
// holds it until the run leaves the scheduler, so a run that another
// process (an `evolve run`, another `evolve serve`) is stepping is left
// alone, and adopted once that process is gone.
//
// On Start() the scheduler adopts every PENDING and RUNNING run of the
// store (an orchestrator killed mid-run resumes them where they were), and
// it looks again every `adopt_interval`, so a run whose process died later
// is taken over too. It also returns expired job leases to the queue every
// `reap_interval` (the reaper).
//
// Errors of a step: a retryable one (kUnavailable: the database restarting)
// is retried with backoff; any other is logged and retried after
// `error_backoff` (the run stays as stored, as the engine guarantees);
// kNotFound drops the run.
//
// Thread-safety: every method may be called from any thread.
#ifndef EVOLVE_SCHEDULER_H_
#define EVOLVE_SCHEDULER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "evolve/clock.h"
#include "evolve/evolution.h"
#include "evolve/status.h"
#include "evolve/store.h"

namespace evolve {

struct SchedulerOptions {
  // Runs stepped at the same time. With training inline (not on the queue:
  // EngineOptions::training_on_queue) training happens inside a step, so
  // this is also how many models may train at once.
  int threads = 2;
  // A waiting run is re-checked this often when no queue event wakes it.
  Duration poll_interval = std::chrono::seconds(1);
  // A run woken by queue events is re-checked at most this often (a batch of
  // 10,000 jobs sends 10,000 events).
  Duration min_recheck = std::chrono::milliseconds(50);
  // Steps a run takes before it gives its thread to the next ready run.
  int steps_per_turn = 8;
  // Expired job leases are reaped this often (0: never).
  Duration reap_interval = std::chrono::seconds(1);
  // PENDING and RUNNING runs of the store not yet scheduled are adopted this
  // often (0: only at Start()).
  Duration adopt_interval = std::chrono::seconds(10);
  // Wait after a step failed with a non-retryable error; retryable errors
  // back off from 100 ms up to this.
  Duration error_backoff = std::chrono::seconds(5);
  // The most runs this scheduler holds at once (0: no limit). Several
  // services on one store each take runs up to theirs: Submit of a new run
  // beyond it fails with kResourceExhausted and the run stays as stored
  // (PENDING), for whichever scheduler has room to adopt (every
  // adopt_interval, and a full one as soon as it drops a run).
  int max_runs = 0;
};

struct SchedulerStats {
  int64_t steps = 0;
  int64_t step_errors = 0;
  int64_t reaped = 0;  // job leases that expired and were reaped
  int scheduled = 0;   // runs held now
  int waiting = 0;     // of which waiting for their jobs
};

class RunScheduler {
 public:
  // `engine` and `store` must outlive the scheduler.
  RunScheduler(EvolutionEngine& engine, Store& store, SchedulerOptions options = {});
  ~RunScheduler();  // Shutdown()
  RunScheduler(const RunScheduler&) = delete;
  RunScheduler& operator=(const RunScheduler&) = delete;

  // Starts the threads and adopts the store's PENDING and RUNNING runs.
  // Errors: kInvalidArgument for bad options; store errors of the first
  // adoption (the threads are started anyway, and adoption retries).
  Status Start();

  // Schedules a run (a new one, or one just resumed). Scheduling a run that
  // is already held only makes it be checked soon.
  // Errors: kFailedPrecondition after Shutdown(), or when another holder
  // has the run's lock (RunLocks::TryLockRun); kResourceExhausted when the
  // scheduler holds max_runs runs already.
  Status Submit(const std::string& run_id);

  // Makes a held run be stepped soon (e.g. after the user stopped or
  // cancelled it, so that its end is recorded now). No-op for others.
  void Wake(const std::string& run_id);

  // Stops the threads after the steps in flight, and releases every run.
  // Runs stay as stored (RUNNING ones are adopted again by the next Start of
  // any scheduler on the store).
  void Shutdown();

  bool IsScheduled(const std::string& run_id) const;
  SchedulerStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace evolve

#endif  // EVOLVE_SCHEDULER_H_
