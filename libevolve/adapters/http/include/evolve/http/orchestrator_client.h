// OrchestratorClient: the worker's side of the worker protocol
// (worker_protocol.h, docs/api-worker-protocol.md): the WorkerQueue, the
// WorkerRegistry and the artifacts of an `evolve serve` reached over HTTP,
// for workers that cannot reach the database.
//
// It implements WorkerQueue and WorkerRegistry whole, each call one HTTP
// request to the server, which runs it on its store: the same claim order,
// leases and fencing as a worker on the database itself. Error replies come
// back as the Status codes the server sent (error_reply.h); besides:
//
//   HTTP 401, 403            kFailedPrecondition ("the orchestrator refused
//                            the API token"): retrying will not help
//   connection errors, 5xx   kUnavailable: the same call may be retried (the
//   without a Status         Worker does, with backoff)
//
// Of ArtifactStore it offers the reads (GetArtifact, what the built-in
// simulator needs); PutArtifact is refused with kFailedPrecondition: the
// protocol has no upload.
//
// Subscribe registers nothing that is ever called (there are no push events
// over HTTP): a Worker falls back to polling. GetArtifact caches nothing
// (the built-in simulator does).
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
#include "evolve/http/worker_protocol.h"  // kMaxJobsPerRequest
#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/store_backend.h"
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
  // How long a claim waits on the server for work when there is none
  // (wait_seconds of POST /jobs/claim, at most kMaxClaimWaitSeconds): the
  // claim is answered as soon as a job can be claimed. 0: at once.
  std::chrono::milliseconds claim_wait{0};
};

class OrchestratorClient final : public WorkerQueue, public WorkerRegistry, public ArtifactStore {
 public:
  // Checks the options; makes no request.
  // Errors: kInvalidArgument for a URL that is not http://host[:port][/path]
  // or a timeout that is not positive.
  static Result<std::unique_ptr<OrchestratorClient>> Create(const OrchestratorClientOptions& options);

  ~OrchestratorClient() override;

  // The URL requests go to, without a trailing '/'.
  const std::string& url() const;

  // WorkerQueue, over worker protocol 2. ClaimJobs claims simulations only
  // (whatever `kinds` adds: training jobs need the store itself) and takes at most
  // kMaxJobsPerRequest jobs per call and waits up to claim_wait for them;
  // the server makes the claim token (the holder's is not sent), which each
  // returned Job carries and the other calls present. FinishJobs sends at
  // most kMaxJobsPerRequest outcomes per request (one transaction on the
  // server each).
  EVOLVE_WORKER_QUEUE_OVERRIDES

  // POST /jobs/{id}/complete: one outcome, written as FinishJobs writes it.
  // Errors: as HeartbeatJob.
  Status CompleteJob(const std::string& job_id, const ClaimHolder& holder, const SimulationResult& result);
  Status FailJob(const std::string& job_id, const ClaimHolder& holder, const std::string& error,
                 bool retryable);

  // WorkerRegistry. ListWorkers reads GET /workers.
  EVOLVE_WORKER_REGISTRY_OVERRIDES

  // ArtifactStore: GetArtifact reads GET /artifacts/{key}; PutArtifact is
  // refused (kFailedPrecondition).
  EVOLVE_ARTIFACT_STORE_OVERRIDES

 private:
  class Impl;
  explicit OrchestratorClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace evolve::http

#endif  // EVOLVE_HTTP_ORCHESTRATOR_CLIENT_H_
