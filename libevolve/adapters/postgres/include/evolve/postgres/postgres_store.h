// PostgresStore: the Store on a PostgreSQL server, for many hosts sharing
// one queue.
//
// Implements the whole Store contract (tests/store_contract.h runs the same
// cases on it as on the in-memory fake and SqliteStore). Every call is one
// transaction on a pooled connection, so calls of many threads run side by
// side; claims use FOR UPDATE SKIP LOCKED, so any number of workers on any
// number of hosts drain one queue and a job is never handed to two of them.
//
// Time is the database's: created_at, updated_at, leases and the reaper's
// "now" are the server's now(), so hosts whose clocks differ still agree on
// when a lease ends. clock() is RealClock(), for callers that measure
// durations.
//
// Opening applies the pending migrations of sql/postgres/ (compiled in) in
// one transaction under an advisory lock, so processes starting together are
// safe. A database written by a newer libevolve is refused with
// kFailedPrecondition.
//
// Queue listeners (Subscribe) hear this process's events at once, and other
// processes' through LISTEN/NOTIFY on a connection of their own: a worker
// elsewhere wakes as soon as work is queued. After that connection was lost
// and came back, every listener is sent a kJobsAvailable wake-up (events may
// have been missed meanwhile).
//
// Errors: a lost connection is kUnavailable ("postgres <url>: connection
// lost: ..."), and the next call reconnects. Messages name the URL with any
// password elided.
//
// Thread-safety: safe for concurrent use by many threads.
#ifndef EVOLVE_POSTGRES_POSTGRES_STORE_H_
#define EVOLVE_POSTGRES_POSTGRES_STORE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "evolve/clock.h"
#include "evolve/status.h"
#include "evolve/store.h"

namespace evolve::postgres {

struct PostgresOptions {
  // Apply pending migrations on open. When false, a database whose schema
  // is behind this build is refused with kFailedPrecondition naming
  // `evolve migrate`.
  bool migrate = true;
  // How long opening a connection may take before the call fails with
  // kUnavailable (libpq's connect_timeout; whole seconds, at least 1).
  std::chrono::seconds connect_timeout{10};
  // Idle connections kept for reuse. A call borrows one (opening a new one
  // when none is idle), so this is not a cap on concurrent calls.
  int pool_size = 4;
};

// The schema version this build writes (the highest migration in
// sql/postgres/).
int LatestSchemaVersion();

class PostgresStore final : public Store {
 public:
  // Connects to `url` (a libpq URL or key=value string, e.g.
  // "postgresql://user@host:5432/db") and brings its schema up to date.
  // Errors: kUnavailable when the server cannot be reached;
  // kFailedPrecondition for a newer schema, or pending migrations with
  // migrate=false; kInvalidArgument for bad options. Every message names
  // the URL (password elided).
  static Result<std::unique_ptr<PostgresStore>> Open(const std::string& url,
                                                     const PostgresOptions& options = {});

  ~PostgresStore() override;

  // The URL with any password elided, as messages show it.
  const std::string& url() const;
  // The schema version of the database (LatestSchemaVersion() once open).
  int schema_version() const;

  // A lock that one process at a time can hold, across every host sharing
  // the database: a session-level advisory lock on a connection of its own,
  // released by destroying the handle, or by the server when the holder's
  // connection ends (its process died, even by kill -9; the server
  // restarted). Used to let one process step a run at a time.
  class SessionLock {
   public:
    virtual ~SessionLock() = default;
  };
  // Takes the lock named `name` without waiting. Errors: kAborted when
  // another session holds it; kUnavailable when the server cannot be reached.
  Result<std::unique_ptr<SessionLock>> TryLock(const std::string& name);

  Clock& clock() override;

  // RunStore
  Status CreateRun(const Run& run) override;
  Result<Run> GetRun(const std::string& run_id) override;
  Result<std::vector<Run>> ListRuns(const RunFilter& filter) override;
  Result<RunCounts> CountRuns() override;
  Status UpdateRun(const Run& run, RunStatus expected) override;
  Status TransitionRun(const std::string& run_id, const std::vector<RunStatus>& from, RunStatus to,
                       const std::string& stop_reason, const std::string& error) override;
  Status SaveGeneration(const Generation& generation) override;
  Result<Generation> GetGeneration(const std::string& run_id, int generation) override;
  Result<std::vector<Generation>> ListGenerations(const std::string& run_id) override;

  // ModelRegistry
  Result<FingerprintRecord> LookupFingerprint(const std::string& fingerprint) override;
  Result<FingerprintRecord> RecordFingerprint(const FingerprintRecord& record) override;
  Status AddLineageEdge(const LineageEdge& edge) override;
  Result<std::vector<LineageEdge>> ListLineage(const std::string& run_id) override;
  Result<std::vector<LineageEdge>> Ancestry(const std::string& model_id) override;

  // JobQueue
  Result<int> EnqueueBatch(const std::string& batch_id, const std::vector<Job>& jobs) override;
  Result<std::vector<Job>> ClaimJobs(const std::string& worker_id, int max_jobs, Duration lease) override;
  Status HeartbeatJob(const std::string& job_id, const std::string& worker_id, Duration lease) override;
  Status CompleteJob(const std::string& job_id, const std::string& worker_id,
                     const SimulationResult& result) override;
  Status FailJob(const std::string& job_id, const std::string& worker_id, const std::string& error,
                 bool retryable) override;
  Result<std::vector<Status>> FinishJobs(const std::string& worker_id,
                                         const std::vector<JobOutcome>& outcomes) override;
  Status ReleaseJob(const std::string& job_id, const std::string& worker_id) override;
  Result<int> ReapExpiredJobs() override;
  Result<Job> GetJob(const std::string& job_id) override;
  Result<std::vector<Job>> ListJobs(const JobFilter& filter) override;
  Result<JobCounts> CountJobs(const JobFilter& filter) override;
  int64_t Subscribe(std::function<void(const QueueEvent&)> listener) override;
  void Unsubscribe(int64_t handle) override;

  // PromotionStore
  Status SavePromotion(const Promotion& promotion) override;
  Result<Promotion> GetPromotion(const std::string& promotion_id) override;
  Result<std::vector<Promotion>> ListPromotions(int limit, int offset) override;

  // WorkerRegistry
  Status RegisterWorker(const WorkerInfo& worker) override;
  Status WorkerHeartbeat(const std::string& worker_id, const std::vector<std::string>& current_jobs) override;
  Status DeregisterWorker(const std::string& worker_id) override;
  Result<std::vector<WorkerInfo>> ListWorkers() override;

  // ArtifactStore
  Status PutArtifact(const std::string& key, const std::string& bytes) override;
  Result<std::string> GetArtifact(const std::string& key) override;

 private:
  struct Impl;
  explicit PostgresStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace evolve::postgres

#endif  // EVOLVE_POSTGRES_POSTGRES_STORE_H_
