// OrchestratorClient: the job queue, worker registry and artifacts of an
// `evolve serve` reached over its REST API, for workers that cannot reach
// the database (docs/api-worker-protocol.md).
//
// It implements the parts of JobQueue, WorkerRegistry and ArtifactStore a
// Worker and the built-in simulator use, each call one HTTP request to the
// orchestrator, which runs it on its store: the same claim order, leases
// and fencing as a worker on the database itself. The orchestrator's
// replies map back to the Status codes the interfaces document:
//
//   HTTP 409                 kAborted (the worker no longer holds the job)
//   HTTP 404                 kNotFound
//   HTTP 400, 413            kInvalidArgument
//   HTTP 401, 403            kFailedPrecondition ("the orchestrator refused
//                            the API token"): retrying will not help
//   connection errors, 5xx   kUnavailable: the same call may be retried (the
//                            Worker does, with backoff)
//
// What a worker never calls is not offered over HTTP: EnqueueBatch,
// ReapExpiredJobs, GetJob, ListJobs, CountJobs and PutArtifact return
// kFailedPrecondition saying so. Subscribe registers nothing that is ever
// called (there are no push events over HTTP): a Worker falls back to
// polling. GetArtifact caches nothing (the built-in simulator does).
//
// Every request opens its own connection and closes it after the reply, so
// no idle connection holds one of the server's request threads.
//
// Thread-safety: safe for concurrent use by many threads.
#ifndef EVOLVE_HTTP_ORCHESTRATOR_CLIENT_H_
#define EVOLVE_HTTP_ORCHESTRATOR_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "evolve/clock.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/types.h"

namespace evolve::http {

struct OrchestratorClientOptions {
  // "http://host:port", optionally with a path prefix the service is
  // mounted under ("http://gateway/evolve"). Required.
  std::string url;
  // Sent as "Authorization: Bearer <token>"; empty: no header.
  std::string token;
  // How long opening a connection may take.
  std::chrono::milliseconds connect_timeout{5000};
  // How long sending a request or reading its reply may take.
  std::chrono::milliseconds request_timeout{30000};
};

// The most jobs one POST /jobs/claim may take, and the most outcomes one
// POST /jobs/finish may carry (the orchestrator refuses more).
inline constexpr int kMaxJobsPerRequest = 1000;

class OrchestratorClient final : public JobQueue, public WorkerRegistry, public ArtifactStore {
 public:
  // Checks the options; makes no request.
  // Errors: kInvalidArgument for a URL that is not http://host[:port][/path]
  // or a timeout that is not positive.
  static Result<std::unique_ptr<OrchestratorClient>> Create(const OrchestratorClientOptions& options);

  ~OrchestratorClient() override;

  // The URL requests go to, without a trailing '/'.
  const std::string& url() const;

  // JobQueue. ClaimJobs takes at most kMaxJobsPerRequest jobs per call;
  // FinishJobs sends at most kMaxJobsPerRequest outcomes per request (one
  // transaction on the orchestrator each).
  Result<std::vector<Job>> ClaimJobs(const std::string& worker_id, int max_jobs, Duration lease) override;
  Status HeartbeatJob(const std::string& job_id, const std::string& worker_id, Duration lease) override;
  Status CompleteJob(const std::string& job_id, const std::string& worker_id,
                     const SimulationResult& result) override;
  Status FailJob(const std::string& job_id, const std::string& worker_id, const std::string& error,
                 bool retryable) override;
  Result<std::vector<Status>> FinishJobs(const std::string& worker_id,
                                         const std::vector<JobOutcome>& outcomes) override;
  Status ReleaseJob(const std::string& job_id, const std::string& worker_id) override;
  Result<int> EnqueueBatch(const std::string& batch_id, const std::vector<Job>& jobs) override;
  Result<int> ReapExpiredJobs() override;
  Result<Job> GetJob(const std::string& job_id) override;
  Result<std::vector<Job>> ListJobs(const JobFilter& filter) override;
  Result<JobCounts> CountJobs(const JobFilter& filter) override;
  int64_t Subscribe(std::function<void(const QueueEvent&)> listener) override;
  void Unsubscribe(int64_t handle) override;

  // WorkerRegistry. ListWorkers reads GET /workers.
  Status RegisterWorker(const WorkerInfo& worker) override;
  Status WorkerHeartbeat(const std::string& worker_id, const std::vector<std::string>& current_jobs) override;
  Status DeregisterWorker(const std::string& worker_id) override;
  Result<std::vector<WorkerInfo>> ListWorkers() override;

  // ArtifactStore.
  Status PutArtifact(const std::string& key, const std::string& bytes) override;
  Result<std::string> GetArtifact(const std::string& key) override;

 private:
  class Impl;
  explicit OrchestratorClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace evolve::http

#endif  // EVOLVE_HTTP_ORCHESTRATOR_CLIENT_H_
