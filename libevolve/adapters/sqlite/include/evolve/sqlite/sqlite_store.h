// SqliteStore: the embedded default Store, one SQLite file.
//
// Implements the whole Store contract (tests/store_contract.h runs the same
// cases on it as on the in-memory fake). The file is in WAL mode and every
// write is a BEGIN IMMEDIATE transaction, so several processes on one host
// may share it: a claim is atomic across processes, and a job is never
// handed to two workers.
//
// Opening a file creates it if needed and applies the pending migrations of
// sql/sqlite/ (compiled in), all in one transaction. A file written by a
// newer libevolve (a schema version this build does not know) is refused
// with kFailedPrecondition; a file that is not a SQLite database, is
// corrupt, or cannot be written gives a clear error naming the path.
//
// Queue listeners (Subscribe) hear only this process's events; workers in
// other processes find new work by polling (WorkerOptions::poll_interval).
//
// Thread-safety: safe for concurrent use by many threads (calls are
// serialised on one connection).
#ifndef EVOLVE_SQLITE_SQLITE_STORE_H_
#define EVOLVE_SQLITE_SQLITE_STORE_H_

#include <chrono>
#include <memory>
#include <string>

#include "evolve/clock.h"
#include "evolve/status.h"
#include "evolve/store.h"

namespace evolve::sqlite {

struct SqliteOptions {
  // Stamps times and judges leases; nullptr: RealClock(). Must outlive the
  // store.
  Clock* clock = nullptr;
  // How long a call waits for another process's write transaction before it
  // fails with kUnavailable.
  std::chrono::milliseconds busy_timeout{30000};
  // Apply pending migrations on open. When false, a file whose schema is
  // behind this build is refused with kFailedPrecondition naming
  // `evolve migrate`.
  bool migrate = true;
};

// The schema version this build writes (the highest migration in sql/sqlite/).
int LatestSchemaVersion();

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) the database at `path` and brings its schema
  // up to date. Errors: kFailedPrecondition for a newer schema or pending
  // migrations with migrate=false; kUnavailable when the file cannot be
  // opened or written (missing directory, permissions, locked past the busy
  // timeout); kInternal when it is not a SQLite database or is corrupt. Every
  // message names `path`.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, const SqliteOptions& options = {});

  ~SqliteStore() override;

  const std::string& path() const;
  // The schema version of the open file (LatestSchemaVersion() once open).
  int schema_version() const;

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
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace evolve::sqlite

#endif  // EVOLVE_SQLITE_SQLITE_STORE_H_
