// FakeStore: an in-memory Store that implements the whole Store contract
// (ordering, leases, fencing, idempotence, atomicity), with every call
// recorded and failures injectable through faults().
//
// It is the reference the real backends are tested against
// (tests/store_contract.h runs the same cases on every Store), and a
// convenient store for users' unit tests. Not persistent.
//
// A call that fails through the injector changes nothing.
//
// Thread-safety: safe for concurrent use.
#ifndef EVOLVE_TESTING_FAKE_STORE_H_
#define EVOLVE_TESTING_FAKE_STORE_H_

#include <memory>

#include "evolve/clock.h"
#include "evolve/store.h"
#include "evolve/testing/fault_injector.h"

namespace evolve::testing {

class FakeStore final : public Store {
 public:
  // `clock` stamps times and judges leases; must outlive the store.
  explicit FakeStore(Clock& clock);
  ~FakeStore() override;

  FaultInjector& faults();

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
  Result<std::vector<Job>> ClaimJobs(const std::string& worker_id, int max_jobs,
                                     Duration lease) override;
  Status HeartbeatJob(const std::string& job_id, const std::string& worker_id,
                      Duration lease) override;
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

  // ArtifactStore
  Status PutArtifact(const std::string& key, const std::string& bytes) override;
  Result<std::string> GetArtifact(const std::string& key) override;

  // WorkerRegistry
  Status RegisterWorker(const WorkerInfo& worker) override;
  Status WorkerHeartbeat(const std::string& worker_id,
                         const std::vector<std::string>& current_jobs) override;
  Status DeregisterWorker(const std::string& worker_id) override;
  Result<std::vector<WorkerInfo>> ListWorkers() override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace evolve::testing

#endif  // EVOLVE_TESTING_FAKE_STORE_H_
