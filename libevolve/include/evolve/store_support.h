// What every Store backend needs besides its storage: the queue listener
// registry, the event dedupe, and the argument checks and messages that the
// contract (tests/store_contract.h) expects the same from every backend.
//
// The in-memory fake, SQLite and PostgreSQL stores share these, so that a
// caller sees the same codes and the same words whichever store it runs on.
//
// Thread-safety: QueueListeners is safe for concurrent use; the functions
// are pure.
#ifndef EVOLVE_STORE_SUPPORT_H_
#define EVOLVE_STORE_SUPPORT_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "evolve/clock.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/types.h"

namespace evolve {

// The listeners of one JobQueue (JobQueue::Subscribe/Unsubscribe), called by
// Notify after a store call committed.
class QueueListeners {
 public:
  QueueListeners() = default;
  QueueListeners(const QueueListeners&) = delete;
  QueueListeners& operator=(const QueueListeners&) = delete;

  // Returns a handle for Unsubscribe; handles are never reused.
  int64_t Subscribe(std::function<void(const QueueEvent&)> listener);

  // Removes the listener. Once this returns, the listener is not running on
  // any other thread and will not be called again, so its owner may destroy
  // what it uses. A listener may unsubscribe itself (it does not wait for
  // its own call). Unknown handles are ignored.
  void Unsubscribe(int64_t handle);

  // Calls every listener with every event, in order. An exception from a
  // listener is swallowed: the store call it reports has already committed.
  // REQUIRES: the caller holds no store lock, so a listener may call back
  // into the store (e.g. claim the jobs it was told about).
  void Notify(const std::vector<QueueEvent>& events);

 private:
  struct Listener {
    std::function<void(const QueueEvent&)> fn;
    bool removed = false;                    // guarded by mu_
    std::multiset<std::thread::id> callers;  // threads inside fn right now; guarded by mu_
  };

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, std::shared_ptr<Listener>> listeners_;  // guarded by mu_
  int64_t next_handle_ = 1;                                 // guarded by mu_
};

// Appends the event for a run's batch unless an identical one is in
// `events` already: one wake-up per batch is enough, however many of its
// jobs changed in one call.
void AddEvent(std::vector<QueueEvent>* events, QueueEvent::Kind kind, const std::string& run_id,
              const std::string& batch_id);
// The same for `job`'s run and batch.
void AddEvent(std::vector<QueueEvent>* events, QueueEvent::Kind kind, const Job& job);

// kInvalidArgument for a negative limit or offset (limit 0 means "no limit").
Status CheckPage(int limit, int offset);

// The checks of JobQueue::EnqueueBatch that need no stored data: a batch id,
// job ids that are set and do not repeat, every job of `batch_id`, finite
// priorities (NaN would break the claim order of every job),
// max_attempts >= 1, and a task for a training job (kTrain, kAssemble) and
// none for a simulation. Backends call it before touching anything, so a
// bad batch is never half-inserted.
Status ValidateBatch(const std::string& batch_id, const std::vector<Job>& jobs);

// The checks of JobQueue::ClaimJobs' arguments.
Status ValidateClaim(const ClaimHolder& holder, int max_jobs, Duration lease);

// The fencing rule of heartbeat/complete/fail/release, given the stored
// status, holder and claim token of an existing job: OK only when it is
// RUNNING, held by `claimant.worker_id` and `claimant.claim_token` equals
// the stored token (both empty for a claim made without one), else kAborted
// saying why (never quoting a token). An expired lease that nobody reaped
// still counts as held: the reaper alone decides when a lease is lost, so a
// worker and the reaper never both "win".
Status CheckLeaseHolder(const std::string& job_id, const ClaimHolder& claimant, JobStatus status,
                        const std::string& holder, const std::string& claim_token);

// Job::error written by ReapExpiredJobs when it takes a job back for a retry,
// and when the job has no attempt left.
std::string LeaseExpiredMessage(const std::string& worker_id);
std::string LeaseExhaustedMessage(int attempts, const std::string& worker_id);

// Job::error after a holder death (JobQueue's rule, kJobDeathLimit): `death`
// (e.g. LeaseExpiredMessage) appended with "; " to `previous` when the job's
// holders had died before (`deaths_before` > 0) and it kept an error, and,
// when the deaths reach kJobDeathLimit, "quarantined after N holder deaths: "
// in front. Backends that write the error in SQL spell out the same.
std::string HolderDeathError(const std::string& previous, int deaths_before, const std::string& death);

// "PENDING, RUNNING" (or "(none)"), for TransitionRun's refusal.
std::string JoinRunStatuses(const std::vector<RunStatus>& statuses);

// The run locks held in this process (RunLocks): what the in-memory fake
// needs whole, and what a backend whose cross-process lock does not exclude
// holders in the same process (a PostgreSQL session's advisory locks stack)
// puts in front of it. A lock taken here stays valid after the table's owner
// is gone (the table is shared with the locks).
//
// Thread-safety: safe for concurrent use.
class InProcessRunLocks {
 public:
  InProcessRunLocks();

  // Takes `run_id` for this process. When the returned lock is destroyed,
  // `release` (may be empty: the backend's own unlock) runs first, then the
  // run is free again here, so no holder of this process can take the run
  // while the backend still holds it.
  // Errors: kFailedPrecondition when the run is held here already
  // (RunBusyError).
  Result<std::unique_ptr<RunLock>> TryLock(const std::string& run_id, std::function<void()> release = {});

  struct Table;  // the held runs; shared by the table and its locks

 private:
  std::shared_ptr<Table> table_;
};

// The kFailedPrecondition of RunLocks::TryLockRun when another holder has
// the run: names the run and what to do.
Status RunBusyError(const std::string& run_id);

}  // namespace evolve

#endif  // EVOLVE_STORE_SUPPORT_H_
