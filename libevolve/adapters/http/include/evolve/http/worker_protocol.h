// The worker protocol (docs/api-worker-protocol.md): a worker's queue,
// registry and artifacts over HTTP, for workers that cannot reach the
// database. Both sides are here: RegisterWorkerProtocolRoutes serves it on
// an HttpServer over any WorkerQueue, WorkerRegistry and ArtifactStore (what
// `evolve serve` does over its store), and OrchestratorClient
// (orchestrator_client.h) is the worker's side. The paths, the limits below
// and the Status <-> HTTP mapping (error_reply.h) are shared by the two, so
// what a worker sees through the client is what it would see on the store:
// claim order, leases, fencing and the Status codes of store.h.
//
//   GET  /workers/protocol (public) the versions served, whether tokens are required
//   POST /jobs/claim                WorkerQueue::ClaimJobs (the worker is marked seen),
//                                   waiting up to wait_seconds for work
//   POST /jobs/{id}/heartbeat       WorkerQueue::HeartbeatJob
//   POST /jobs/{id}/complete        one outcome, as WorkerQueue::FinishJobs writes it
//   POST /jobs/{id}/release         WorkerQueue::ReleaseJob
//   POST /jobs/finish               WorkerQueue::FinishJobs
//   GET  /workers (public)          WorkerRegistry::ListWorkers, with "live"
//   POST /workers/register          WorkerRegistry::RegisterWorker
//   POST /workers/{id}/heartbeat    WorkerRegistry::WorkerHeartbeat
//   POST /workers/{id}/deregister   WorkerRegistry::DeregisterWorker
//   GET  /artifacts/{key}           ArtifactStore::GetArtifact (bytes)
//
// Every route but GET /workers and GET /workers/protocol is protected (the
// server's token). Bodies are read strictly (json_body.h): a request that
// fails validation is a 400 naming each field, and changes nothing.
//
// Versions (docs/api.md, "Worker protocol versions"): 1 is the protocol of
// the evolve-worker before claim tokens: a claim fenced by the worker id
// alone. 2: a claim says "protocol": 2 and its reply carries a secret
// claim_token (ClaimHolder) that heartbeat, complete, finish and release
// must present; a claim may wait for work (wait_seconds). Both are served
// unless WorkerProtocolOptions::require_claim_tokens, which refuses
// version 1 with a 400 naming the missing field.
#ifndef EVOLVE_HTTP_WORKER_PROTOCOL_H_
#define EVOLVE_HTTP_WORKER_PROTOCOL_H_

#include <cstddef>
#include <functional>
#include <string>

#include "evolve/clock.h"
#include "evolve/http/http_server.h"
#include "evolve/status.h"
#include "evolve/store.h"

namespace evolve::http {

// The most jobs one POST /jobs/claim may take, and the most outcomes one
// POST /jobs/finish may carry: the server refuses more, the client never
// sends more.
inline constexpr int kMaxJobsPerRequest = 1000;
// Leases, in seconds: what the server accepts, and its default.
inline constexpr double kMinLeaseSeconds = 1;
inline constexpr double kMaxLeaseSeconds = 3600;
inline constexpr double kDefaultLeaseSeconds = 60;
// The protocol versions: the current one (what OrchestratorClient speaks)
// and the oldest still served.
inline constexpr int kWorkerProtocolVersion = 2;
inline constexpr int kOldestWorkerProtocolVersion = 1;
// The longest a claim may wait for work (wait_seconds), and how many claims
// of one server may wait at once: each holds a server thread, so the rest
// are answered at once ("no_jobs") beyond it.
inline constexpr double kMaxClaimWaitSeconds = 30;
inline constexpr int kDefaultMaxWaitingClaims = 64;

struct WorkerProtocolOptions {
  // Refuse version 1 (requests without a claim token): 400.
  bool require_claim_tokens = false;
  int max_waiting_claims = kDefaultMaxWaitingClaims;
};

// What the routes serve. The references must outlive the server.
struct WorkerProtocolBackend {
  WorkerQueue& queue;
  WorkerRegistry& registry;
  ArtifactStore& artifacts;
  Clock& clock;  // the registry's time: "live" in GET /workers
};

// What the server is told of besides (its metrics), on the request's thread.
struct WorkerProtocolHooks {
  // A claim handed `jobs` jobs (maybe none) to `worker_id`.
  std::function<void(const std::string& worker_id, size_t jobs)> on_claim;
  // An outcome of /complete or /finish, and what the queue answered for it
  // (kAborted: the worker had lost the job's lease).
  std::function<void(const JobOutcome& outcome, const Status& written)> on_outcome;
};

// Adds the routes above to `server`.
void RegisterWorkerProtocolRoutes(HttpServer& server, WorkerProtocolBackend backend,
                                  WorkerProtocolHooks hooks = {}, WorkerProtocolOptions options = {});

}  // namespace evolve::http

#endif  // EVOLVE_HTTP_WORKER_PROTOCOL_H_
