// For whoever implements the store interfaces (store.h): the declarations of
// each interface's methods, one macro per interface, so that a backend's
// class says which interfaces it implements instead of repeating sixty
// lines of signatures that must match store.h to the letter. The macros
// only declare; the backend defines each method in its .cc file.
//
//   class MyStore final : public evolve::Store {
//    public:
//     EVOLVE_STORE_OVERRIDES
//     ...
//   };
//
// A class that implements fewer interfaces uses the macros of those (the
// HTTP client of the worker protocol: EVOLVE_WORKER_QUEUE_OVERRIDES,
// EVOLVE_WORKER_REGISTRY_OVERRIDES, EVOLVE_ARTIFACT_STORE_OVERRIDES).
// Adding a method to an interface in store.h means adding it here too; every
// backend then fails to compile until it defines it.
#ifndef EVOLVE_STORE_BACKEND_H_
#define EVOLVE_STORE_BACKEND_H_

#include "evolve/store.h"

#define EVOLVE_RUN_STORE_OVERRIDES                                                                          \
  ::evolve::Status CreateRun(const ::evolve::Run& run) override;                                            \
  ::evolve::Result<::evolve::Run> GetRun(const std::string& run_id) override;                               \
  ::evolve::Result<std::vector<::evolve::Run>> ListRuns(const ::evolve::RunFilter& filter) override;        \
  ::evolve::Result<::evolve::RunCounts> CountRuns() override;                                               \
  ::evolve::Status UpdateRun(const ::evolve::Run& run, ::evolve::RunStatus expected) override;              \
  ::evolve::Status TransitionRun(const std::string& run_id, const std::vector<::evolve::RunStatus>& from,   \
                                 ::evolve::RunStatus to, const std::string& stop_reason,                    \
                                 const std::string& error) override;                                        \
  ::evolve::Status SaveGeneration(const ::evolve::Generation& generation) override;                         \
  ::evolve::Result<::evolve::Generation> GetGeneration(const std::string& run_id, int generation) override; \
  ::evolve::Result<std::vector<::evolve::Generation>> ListGenerations(const std::string& run_id) override;

#define EVOLVE_MODEL_REGISTRY_OVERRIDES                                                                      \
  ::evolve::Result<::evolve::FingerprintRecord> LookupFingerprint(const std::string& fingerprint) override;  \
  ::evolve::Result<::evolve::FingerprintRecord> RecordFingerprint(const ::evolve::FingerprintRecord& record) \
      override;                                                                                              \
  ::evolve::Status AddLineageEdge(const ::evolve::LineageEdge& edge) override;                               \
  ::evolve::Result<std::vector<::evolve::LineageEdge>> ListLineage(const std::string& run_id) override;      \
  ::evolve::Result<std::vector<::evolve::LineageEdge>> Ancestry(const std::string& model_id) override;

#define EVOLVE_WORKER_QUEUE_OVERRIDES                                                                       \
  using ::evolve::WorkerQueue::ClaimJobs;                                                                   \
  ::evolve::Result<std::vector<::evolve::Job>> ClaimJobs(const ::evolve::ClaimHolder& holder, int max_jobs, \
                                                         ::evolve::Duration lease,                          \
                                                         ::evolve::JobKinds kinds) override;                \
  ::evolve::Status HeartbeatJob(const std::string& job_id, const ::evolve::ClaimHolder& holder,             \
                                ::evolve::Duration lease) override;                                         \
  ::evolve::Result<std::vector<::evolve::Status>> FinishJobs(                                               \
      const std::string& worker_id, const std::vector<::evolve::JobOutcome>& outcomes) override;            \
  ::evolve::Status ReleaseJob(const std::string& job_id, const ::evolve::ClaimHolder& holder) override;     \
  int64_t Subscribe(std::function<void(const ::evolve::QueueEvent&)> listener) override;                    \
  void Unsubscribe(int64_t handle) override;

// JobQueue beyond WorkerQueue (use both macros for a whole JobQueue).
#define EVOLVE_JOB_QUEUE_OVERRIDES                                                                        \
  ::evolve::Result<int> EnqueueBatch(const std::string& batch_id, const std::vector<::evolve::Job>& jobs) \
      override;                                                                                           \
  ::evolve::Status CompleteJob(const std::string& job_id, const ::evolve::ClaimHolder& holder,            \
                               const ::evolve::SimulationResult& result) override;                        \
  ::evolve::Status FailJob(const std::string& job_id, const ::evolve::ClaimHolder& holder,                \
                           const std::string& error, bool retryable) override;                            \
  ::evolve::Result<int> ReapExpiredJobs() override;                                                       \
  ::evolve::Result<int> ReclaimJobsOfWorker(const std::string& worker_id, const std::string& cause)       \
      override;                                                                                           \
  ::evolve::Result<int> RequeueFailedJobs(const std::string& batch_id) override;                          \
  ::evolve::Result<::evolve::Job> GetJob(const std::string& job_id) override;                             \
  ::evolve::Result<std::vector<::evolve::Job>> ListJobs(const ::evolve::JobFilter& filter) override;      \
  ::evolve::Result<::evolve::JobCounts> CountJobs(const ::evolve::JobFilter& filter) override;

#define EVOLVE_PROMOTION_STORE_OVERRIDES                                                        \
  ::evolve::Status SavePromotion(const ::evolve::Promotion& promotion) override;                \
  ::evolve::Result<::evolve::Promotion> GetPromotion(const std::string& promotion_id) override; \
  ::evolve::Result<std::vector<::evolve::Promotion>> ListPromotions(int limit, int offset) override;

#define EVOLVE_WORKER_REGISTRY_OVERRIDES                                                   \
  ::evolve::Status RegisterWorker(const ::evolve::WorkerInfo& worker) override;            \
  ::evolve::Status WorkerHeartbeat(const std::string& worker_id,                           \
                                   const std::vector<std::string>& current_jobs) override; \
  ::evolve::Status DeregisterWorker(const std::string& worker_id) override;                \
  ::evolve::Result<std::vector<::evolve::WorkerInfo>> ListWorkers() override;

#define EVOLVE_ARTIFACT_STORE_OVERRIDES                                                    \
  ::evolve::Status PutArtifact(const std::string& key, const std::string& bytes) override; \
  ::evolve::Result<std::string> GetArtifact(const std::string& key) override;

#define EVOLVE_RUN_LOCKS_OVERRIDES \
  ::evolve::Result<std::unique_ptr<::evolve::RunLock>> TryLockRun(const std::string& run_id) override;

// The whole Store.
#define EVOLVE_STORE_OVERRIDES       \
  ::evolve::Clock& clock() override; \
  EVOLVE_RUN_STORE_OVERRIDES         \
  EVOLVE_MODEL_REGISTRY_OVERRIDES    \
  EVOLVE_WORKER_QUEUE_OVERRIDES      \
  EVOLVE_JOB_QUEUE_OVERRIDES         \
  EVOLVE_PROMOTION_STORE_OVERRIDES   \
  EVOLVE_WORKER_REGISTRY_OVERRIDES   \
  EVOLVE_ARTIFACT_STORE_OVERRIDES    \
  EVOLVE_RUN_LOCKS_OVERRIDES

#endif  // EVOLVE_STORE_BACKEND_H_
