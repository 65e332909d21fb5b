// Store: everything libevolve keeps. Split into focused interfaces so a
// component asks only for what it uses (a worker needs a WorkerQueue and a
// WorkerRegistry; the engine needs a Store), and combined in Store, which
// one backend (SQLite, PostgreSQL, the in-memory fake) implements whole.
//
// Every mutating call is atomic: it happens entirely or not at all. Calls
// that the evolution engine may repeat after a crash are idempotent (noted
// per method), which is what makes "kill the orchestrator, start it again"
// safe.
//
// Common errors of every method: kUnavailable when the backend cannot be
// reached (retry), kInternal on a broken invariant or corrupt data.
//
// Thread-safety: implementations must be safe for concurrent use by many
// threads; several processes may share one backing database.
#ifndef EVOLVE_STORE_H_
#define EVOLVE_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "evolve/clock.h"
#include "evolve/status.h"
#include "evolve/types.h"

namespace evolve {

struct RunFilter {
  std::optional<RunStatus> status;
  int limit = 50;
  int offset = 0;
};

// How many runs have each status.
struct RunCounts {
  std::map<RunStatus, int64_t> by_status;  // statuses with no run are absent

  int64_t Of(RunStatus status) const {
    auto it = by_status.find(status);
    return it == by_status.end() ? 0 : it->second;
  }
  int64_t total() const {
    int64_t n = 0;
    for (const auto& entry : by_status) n += entry.second;
    return n;
  }
};

// Runs and their generations.
class RunStore {
 public:
  RunStore() = default;
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;
  virtual ~RunStore() = default;

  // Inserts a new run; sets created_at/updated_at.
  // Errors: kAlreadyExists if the id is taken.
  virtual Status CreateRun(const Run& run) = 0;

  // Errors: kNotFound.
  virtual Result<Run> GetRun(const std::string& run_id) = 0;

  // Newest first.
  virtual Result<std::vector<Run>> ListRuns(const RunFilter& filter) = 0;

  // The number of runs of each status, in one read.
  virtual Result<RunCounts> CountRuns() = 0;

  // Replaces the stored run with `run` (updated_at is set by the store) only
  // if its stored status is still `expected`: a compare-and-set that keeps a
  // user's stop/cancel from being overwritten by the engine.
  // Errors: kNotFound; kAborted if the stored status is not `expected`.
  virtual Status UpdateRun(const Run& run, RunStatus expected) = 0;

  // Sets the status of a run whose status is one of `from`; when `to` is
  // CANCELLED, the run's PENDING jobs become CANCELLED in the same
  // transaction. `stop_reason` and `error` are written as given.
  // Errors: kNotFound; kFailedPrecondition when the status is not in `from`
  // (the message names the current status).
  virtual Status TransitionRun(const std::string& run_id, const std::vector<RunStatus>& from, RunStatus to,
                               const std::string& stop_reason, const std::string& error) = 0;

  // Inserts or replaces the generation (run_id, generation). Idempotent.
  // Errors: kNotFound if the run does not exist.
  virtual Status SaveGeneration(const Generation& generation) = 0;

  // Errors: kNotFound when the run has no such generation.
  virtual Result<Generation> GetGeneration(const std::string& run_id, int generation) = 0;

  // All generations of a run, in generation order (empty for an unknown run).
  virtual Result<std::vector<Generation>> ListGenerations(const std::string& run_id) = 0;
};

// Fingerprints (de-duplication) and the lineage DAG.
class ModelRegistry {
 public:
  ModelRegistry() = default;
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;
  virtual ~ModelRegistry() = default;

  // Errors: kNotFound when the fingerprint is unknown.
  virtual Result<FingerprintRecord> LookupFingerprint(const std::string& fingerprint) = 0;

  // Records fingerprint -> model if the fingerprint is new and returns the
  // record now stored: if another writer got there first, its record (with
  // its model id) is returned, so every caller agrees on one model.
  virtual Result<FingerprintRecord> RecordFingerprint(const FingerprintRecord& record) = 0;

  // Inserts the edge; a second insert of the same id is a no-op. Idempotent.
  virtual Status AddLineageEdge(const LineageEdge& edge) = 0;

  // The edges of a run, in generation order.
  virtual Result<std::vector<LineageEdge>> ListLineage(const std::string& run_id) = 0;

  // The ancestry of `model_id` back to its seed: the edge whose child is the
  // model, then the edge whose child is that edge's parent, and so on, until
  // an edge with no parent. When a model was reached by several runs, the
  // oldest edge wins. Empty for a model with no edge.
  virtual Result<std::vector<LineageEdge>> Ancestry(const std::string& model_id) = 0;
};

struct JobFilter {
  std::string run_id;    // empty: any
  std::string batch_id;  // empty: any
  std::optional<JobStatus> status;
  std::optional<JobKind> kind;  // unset: every kind
  int limit = 0;                // 0: no limit
  int offset = 0;
};

// Job counts of one batch (or one run), by status.
struct JobCounts {
  int pending = 0;
  int running = 0;
  int completed = 0;
  int failed = 0;
  int cancelled = 0;

  int total() const { return pending + running + completed + failed + cancelled; }
  // Adds `n` jobs of `status`.
  void Add(JobStatus status, int n = 1) {
    switch (status) {
      case JobStatus::kPending:
        pending += n;
        break;
      case JobStatus::kRunning:
        running += n;
        break;
      case JobStatus::kCompleted:
        completed += n;
        break;
      case JobStatus::kFailed:
        failed += n;
        break;
      case JobStatus::kCancelled:
        cancelled += n;
        break;
    }
  }
  // The jobs of `status`.
  int Of(JobStatus status) const {
    switch (status) {
      case JobStatus::kPending:
        return pending;
      case JobStatus::kRunning:
        return running;
      case JobStatus::kCompleted:
        return completed;
      case JobStatus::kFailed:
        return failed;
      case JobStatus::kCancelled:
        return cancelled;
    }
    return 0;
  }
  // Adds every count of `other`.
  void Add(const JobCounts& other) {
    pending += other.pending;
    running += other.running;
    completed += other.completed;
    failed += other.failed;
    cancelled += other.cancelled;
  }
  // True when no job can still change (there may be none at all).
  bool finished() const { return pending == 0 && running == 0; }
};

// The outcome of one job a worker ran, for JobQueue::FinishJobs: a result
// (CompleteJob) or an error (FailJob with `retryable`).
struct JobOutcome {
  std::string job_id;
  std::optional<SimulationResult> result;  // set: completed; unset: failed with `error`
  // A completed training job's output (Job::output); with `result` set (the
  // store keeps no result for a training job: an empty one will do).
  std::string output;
  std::string error;
  bool retryable = false;
  std::string claim_token;  // the token of the claim that got the job (Job::claim_token)
};

// Who holds a claim: the worker's id and the claim's secret token. A claim
// made with a token (worker protocol 2, the in-process Worker) is fenced by
// both: heartbeat, complete, fail and release must present the same token,
// so knowing a worker's id is not enough. A claim made without one (empty:
// a worker of protocol 1) is fenced by the worker id alone. A bare worker id
// converts to a holder without a token.
struct ClaimHolder {
  ClaimHolder(const std::string& id) : worker_id(id) {}  // NOLINT(google-explicit-constructor)
  ClaimHolder(const char* id) : worker_id(id) {}         // NOLINT(google-explicit-constructor)
  ClaimHolder(std::string id, std::string token) : worker_id(std::move(id)), claim_token(std::move(token)) {}
  std::string worker_id;
  std::string claim_token;
};

// A new claim token: 128 random bits from the operating system's CSPRNG
// (getrandom), as 32 lowercase hex digits. Aborts the process if the kernel
// cannot supply randomness (never silently a weak token).
std::string NewClaimToken();

// What a JobQueue subscriber is told.
struct QueueEvent {
  enum class Kind { kJobsAvailable, kJobFinished };
  Kind kind;
  std::string run_id;
  std::string batch_id;
};

// What a worker needs of the queue, and all it needs: claim jobs, keep
// their leases, report their outcomes, give back what it will not run, and
// be woken when work arrives. JobQueue extends it with what an engine and an
// operator need; a worker on another host reaches it over HTTP
// (evolve::http::OrchestratorClient implements it whole).
//
// Order of claims: priority DESC, created_at ASC, id ASC. A claim moves a job
// to RUNNING with worker_id, attempts + 1 and lease_until = now + lease. Only
// the worker holding the lease may heartbeat, complete, fail or release it.
class WorkerQueue {
 public:
  WorkerQueue() = default;
  WorkerQueue(const WorkerQueue&) = delete;
  WorkerQueue& operator=(const WorkerQueue&) = delete;
  virtual ~WorkerQueue() = default;

  // Claims up to `max_jobs` PENDING jobs of `kinds` (what the worker can
  // run) in priority order for `holder.worker_id`, each leased for `lease`
  // and stored with `holder.claim_token` (empty, or 32-128 characters of
  // [0-9A-Za-z_-]: NewClaimToken), which each returned Job carries. Never
  // returns a job to two workers. Empty when there is nothing to do.
  virtual Result<std::vector<Job>> ClaimJobs(const ClaimHolder& holder, int max_jobs, Duration lease,
                                             JobKinds kinds) = 0;
  // Claims simulations only: what a worker with no trainer runs.
  Result<std::vector<Job>> ClaimJobs(const ClaimHolder& holder, int max_jobs, Duration lease) {
    return ClaimJobs(holder, max_jobs, lease, JobKinds::Simulation());
  }

  // Extends the lease of a job this holder holds to now + `lease`.
  // Errors: kNotFound; kAborted when the holder no longer holds the job
  // (lease expired and reaped, re-claimed, cancelled) or presents another
  // claim token than the claim's; nothing is written then.
  virtual Status HeartbeatJob(const std::string& job_id, const ClaimHolder& holder, Duration lease) = 0;

  // Reports several outcomes of jobs this worker holds, each exactly as
  // JobQueue::CompleteJob / FailJob would, in one round trip: a backend
  // writes them in one transaction, so a worker with many short jobs pays
  // one commit per batch instead of one per job. Returns one Status per
  // outcome, in order: OK when written, else why not (kAborted/kNotFound for
  // a job the worker no longer holds; the others are still written). The
  // call itself fails only when nothing was written (e.g. kUnavailable).
  // Notifies kJobFinished per written outcome. Each outcome is fenced by
  // `worker_id` and its own claim_token.
  virtual Result<std::vector<Status>> FinishJobs(const std::string& worker_id,
                                                 const std::vector<JobOutcome>& outcomes) = 0;

  // Gives back a job this worker holds but will not run (shutdown): PENDING
  // again, and the claim's attempt is not counted. Errors: as HeartbeatJob.
  virtual Status ReleaseJob(const std::string& job_id, const ClaimHolder& holder) = 0;

  // Calls `listener` (from any thread, possibly with store locks released)
  // after events of this process's queue object. Other processes sharing the
  // database may be seen late or not at all: listeners are a wake-up hint,
  // never the only way to learn of work (a queue with no push events at all
  // may register the listener and never call it). Returns a handle for
  // Unsubscribe.
  virtual int64_t Subscribe(std::function<void(const QueueEvent&)> listener) = 0;
  virtual void Unsubscribe(int64_t handle) = 0;
};

// The priority queue of simulation jobs, with leases: what a worker needs
// (WorkerQueue) and what the engine and an operator need besides.
//
// Holder deaths are not failures. A job whose holder stops heartbeating
// while it runs (its lease expires: ReapExpiredJobs; its process is known
// to be gone: ReclaimJobsOfWorker) gets `deaths + 1` and its claim's
// attempt back (attempts count only runs that ended in a reported
// failure), and goes back to PENDING with the death appended to `error`
// ("lease expired (worker w1); lease expired (worker w2)"). A job whose
// holders died kJobDeathLimit times is quarantined: FAILED, its error
// "quarantined after N holder deaths: " and that evidence. So a service
// killed three times while it holds the same jobs fails none of them,
// while a job that kills every worker that runs it stops doing so.
inline constexpr int kJobDeathLimit = 5;

class JobQueue : public WorkerQueue {
 public:
  // Inserts every job of `jobs` (all with batch_id == `batch_id`) as PENDING,
  // in one transaction. If the batch already has jobs, inserts nothing and
  // returns 0: idempotent, so a resumed engine may enqueue again. Returns
  // the number inserted. Notifies kJobsAvailable.
  // Errors: kInvalidArgument if a job's batch_id differs or an id repeats.
  virtual Result<int> EnqueueBatch(const std::string& batch_id, const std::vector<Job>& jobs) = 0;

  // Stores the result and marks the job COMPLETED, only if `worker_id` holds
  // it and it is RUNNING. Notifies kJobFinished.
  // Errors: kNotFound; kAborted when the worker does not hold the job (a
  // second or late completion: nothing is written).
  virtual Status CompleteJob(const std::string& job_id, const ClaimHolder& holder,
                             const SimulationResult& result) = 0;

  // Records `error` on a job this worker holds. When `retryable` and the job
  // has attempts left it goes back to PENDING; otherwise it is FAILED.
  // Errors: as CompleteJob.
  virtual Status FailJob(const std::string& job_id, const ClaimHolder& holder, const std::string& error,
                         bool retryable) = 0;

  // WorkerQueue::FinishJobs. The default calls CompleteJob / FailJob for
  // each outcome (and refuses, kFailedPrecondition, an outcome with an
  // output, which CompleteJob cannot keep); a backend overrides it to write
  // them in one transaction, outputs included.
  Result<std::vector<Status>> FinishJobs(const std::string& worker_id,
                                         const std::vector<JobOutcome>& outcomes) override;

  // Takes back every RUNNING job whose lease ended before now: its holder
  // died (kJobDeathLimit). Returns how many jobs it changed.
  virtual Result<int> ReapExpiredJobs() = 0;

  // Takes back, as holder deaths (kJobDeathLimit), every RUNNING job held by
  // `worker_id`, whose process is known to be gone (`cause` says how it is
  // known, e.g. "process 123 on host h is gone"); the registry is not
  // changed. Returns how many jobs it changed.
  virtual Result<int> ReclaimJobsOfWorker(const std::string& worker_id, const std::string& cause) = 0;

  // Puts every FAILED job of `batch_id` back to PENDING with fresh counters
  // (attempts and deaths 0, no error, no holder), at its place in claim
  // order, in one transaction: what `resume` does for the batch a run failed
  // on. Returns how many; notifies kJobsAvailable when any.
  virtual Result<int> RequeueFailedJobs(const std::string& batch_id) = 0;

  // Errors: kNotFound.
  virtual Result<Job> GetJob(const std::string& job_id) = 0;

  // Jobs matching `filter`, in claim order (priority DESC, created_at, id).
  virtual Result<std::vector<Job>> ListJobs(const JobFilter& filter) = 0;

  // Counts by status of the jobs matching run_id/batch_id of `filter`
  // (status, limit and offset are ignored).
  virtual Result<JobCounts> CountJobs(const JobFilter& filter) = 0;
};

// Holy Grail wins.
class PromotionStore {
 public:
  PromotionStore() = default;
  PromotionStore(const PromotionStore&) = delete;
  PromotionStore& operator=(const PromotionStore&) = delete;
  virtual ~PromotionStore() = default;

  // Inserts the promotion; a second insert of the same id is a no-op.
  virtual Status SavePromotion(const Promotion& promotion) = 0;
  // Errors: kNotFound.
  virtual Result<Promotion> GetPromotion(const std::string& promotion_id) = 0;
  // Sorted by SQN, highest first.
  virtual Result<std::vector<Promotion>> ListPromotions(int limit, int offset) = 0;
};

// The workers that drain the queue, and their heartbeats.
class WorkerRegistry {
 public:
  WorkerRegistry() = default;
  WorkerRegistry(const WorkerRegistry&) = delete;
  WorkerRegistry& operator=(const WorkerRegistry&) = delete;
  virtual ~WorkerRegistry() = default;

  // Inserts or refreshes the worker (status ACTIVE, started_at and
  // last_heartbeat = now; counters kept when it existed).
  virtual Status RegisterWorker(const WorkerInfo& worker) = 0;
  // Sets last_heartbeat = now and the jobs it is running.
  // Errors: kNotFound for an unregistered worker.
  virtual Status WorkerHeartbeat(const std::string& worker_id,
                                 const std::vector<std::string>& current_jobs) = 0;
  // Marks the worker STOPPED with no current jobs. Errors: kNotFound.
  virtual Status DeregisterWorker(const std::string& worker_id) = 0;
  // Every known worker, most recent heartbeat first. jobs_completed and
  // jobs_failed count the jobs it completed / failed for good.
  virtual Result<std::vector<WorkerInfo>> ListWorkers() = 0;
};

// Immutable blobs that every process sharing the store can read: the
// built-in engines keep trained models and simulation inputs here, so a
// worker on another host needs no data files of its own.
class ArtifactStore {
 public:
  ArtifactStore() = default;
  ArtifactStore(const ArtifactStore&) = delete;
  ArtifactStore& operator=(const ArtifactStore&) = delete;
  virtual ~ArtifactStore() = default;

  // Stores `bytes` under `key`. Keys name immutable content (they embed a
  // fingerprint or a model id), so when the key exists already nothing is
  // written and OK is returned: idempotent.
  // Errors: kInvalidArgument for an empty key.
  virtual Status PutArtifact(const std::string& key, const std::string& bytes) = 0;

  // Errors: kNotFound.
  virtual Result<std::string> GetArtifact(const std::string& key) = 0;
};

// The lock of one run: while it is held, no other holder (in this process
// or in any other process sharing the store) can take it. Released when the
// object is destroyed, and when the holding process dies, even by kill -9,
// so a killed run can be resumed at once.
class RunLock {
 public:
  explicit RunLock(std::string run_id) : run_id_(std::move(run_id)) {}
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  virtual ~RunLock() = default;

  const std::string& run_id() const { return run_id_; }

 private:
  std::string run_id_;
};

// One stepper per run (evolution.h) is enforced by the run locks of the
// store the run lives in: EvolutionEngine::RunToEnd and RunScheduler take
// them. A backend implements them for every process that shares its data:
// the in-memory fake within its process, SQLite on the host (file locks
// beside the database), PostgreSQL across hosts (advisory locks of the
// database, many runs on one session).
class RunLocks {
 public:
  RunLocks() = default;
  RunLocks(const RunLocks&) = delete;
  RunLocks& operator=(const RunLocks&) = delete;
  virtual ~RunLocks() = default;

  // Takes the lock of `run_id` without waiting; the run need not exist.
  // Errors: kFailedPrecondition when another holder has it (the message
  // names the run and says what to do); kUnavailable when the backend
  // cannot be reached.
  virtual Result<std::unique_ptr<RunLock>> TryLockRun(const std::string& run_id) = 0;
};

// Everything, from one backend.
class Store : public RunStore,
              public ModelRegistry,
              public JobQueue,
              public PromotionStore,
              public WorkerRegistry,
              public ArtifactStore,
              public RunLocks {
 public:
  // The time the store writes into timestamps and leases.
  virtual Clock& clock() = 0;
};

}  // namespace evolve

#endif  // EVOLVE_STORE_H_
