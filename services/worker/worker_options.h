// evolve-worker's options and setup: what main() parses and checks before
// it opens anything, and how it reaches its queue (a store, or an `evolve
// serve`'s worker protocol), waiting while that is not up yet.
//
// Flags override environment variables, which override the defaults:
// --worker-id / WORKER_ID / worker_<host>_<pid>, --poll-interval /
// POLL_INTERVAL / 5 s, --orchestrator / EVOLVE_ORCHESTRATOR_URL (only when
// neither --db nor --store is given) / a store, --token-file /
// EVOLVE_API_TOKEN, --db / --store / POSTGRES_URL / EVOLVE_DB / ./evolve.db.
#ifndef EVOLVE_SERVICES_WORKER_WORKER_OPTIONS_H_
#define EVOLVE_SERVICES_WORKER_WORKER_OPTIONS_H_

#include <memory>
#include <string>
#include <vector>

#include "evolve/clock.h"
#include "evolve/http/orchestrator_client.h"
#include "evolve/service/args.h"
#include "evolve/service/settings.h"
#include "evolve/simulator.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/trainer.h"
#include "evolve/worker_pool.h"

namespace evolve::worker_service {

struct WorkerSettings {
  // --concurrency workers; their options (ids, leases, polling, limits),
  // checked with WorkerPool::ValidateOptions.
  WorkerPoolOptions pool;
  // "builtin" (the service at SIMULATION_URL when it is set) or "noop".
  std::string simulator = "builtin";
  // The orchestrator's URL and token; an empty URL: the queue is `store`'s.
  http::OrchestratorClientOptions orchestrator;
  // What named the orchestrator, for messages: "--orchestrator" or
  // "EVOLVE_ORCHESTRATOR_URL".
  std::string orchestrator_origin;
  service::StoreSettings store;
};

std::vector<service::OptionSpec> WorkerOptionSpecs();

// The text of --help.
std::string WorkerHelp(const std::vector<service::OptionSpec>& specs);

// Reads and checks every option and variable; opens and reaches nothing.
// Errors: kInvalidArgument naming the option or variable.
Result<WorkerSettings> ParseWorkerSettings(const service::Args& args);

// What a worker drains: a store's queue, registry and artifacts, or an
// orchestrator's (through OrchestratorClient). The pointers point into the
// owners.
struct WorkerBackend {
  std::unique_ptr<Store> store;
  std::unique_ptr<http::OrchestratorClient> client;
  WorkerQueue* queue = nullptr;
  WorkerRegistry* registry = nullptr;
  ArtifactStore* artifacts = nullptr;
  Clock* clock = nullptr;
};

// Opens the store, or reaches the orchestrator by registering the pool's
// first worker (which checks the URL and the token before any work; the
// worker registers again when it starts). While the store or the
// orchestrator is unavailable (not up yet, restarting) it waits with
// backoff (1 s doubling to 30 s) rather than exiting: a supervisor
// restarting a worker that exits at once would only make a crash loop.
// Errors: kCancelled when `stop` was notified while waiting; other errors
// (bad settings, a refused token) at once.
Result<WorkerBackend> ConnectWorker(const WorkerSettings& settings, Event& stop);

// The simulator of settings.simulator over `artifacts` (which must outlive
// it): the simulation service at SIMULATION_URL or the built-in simulator,
// or one that completes every job at once with an empty result ("noop":
// what a queue benchmark measures is the queue).
Result<std::unique_ptr<Simulator>> OpenSimulator(const WorkerSettings& settings, ArtifactStore& artifacts);

// The trainer of training jobs (Trainer::TrainPart, AssembleModel): the
// training service at TRAINING_URL when it is set, else the built-in
// worker trainer over the store's artifacts; null when the worker cannot
// train: it reaches an orchestrator over HTTP (a training job writes
// artifacts, which the worker protocol does not), or its simulator is
// "noop" (a queue benchmark).
Result<std::unique_ptr<Trainer>> OpenTrainer(const WorkerSettings& settings, WorkerBackend& backend);

// "worker=ID claimed=N completed=N failed=N retried=N released=N lost=N".
std::string StatsLine(const WorkerReport& report);

}  // namespace evolve::worker_service

#endif  // EVOLVE_SERVICES_WORKER_WORKER_OPTIONS_H_
