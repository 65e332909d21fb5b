#include "worker_options.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <utility>

#include "evolve/http/worker_protocol.h"
#include "evolve/log.h"
#include "evolve/service/engine_setup.h"
#include "evolve/worker.h"

namespace evolve::worker_service {
namespace {

using service::Args;
using service::Env;

// Completes every job at once with an empty result: what a queue benchmark
// measures is the queue, not a simulation.
class NoopSimulator final : public Simulator {
 public:
  Result<SimulationResult> Simulate(const SimulationParams&) override { return SimulationResult{}; }
};

// --`name`, an integer >= `min`; `fallback` when not given.
Result<int64_t> IntAtLeast(const Args& args, const char* name, const std::string& fallback, int64_t min) {
  EVOLVE_ASSIGN_OR_RETURN(int64_t v,
                          service::ParseInt(std::string("--") + name, args.Get(name).value_or(fallback)));
  if (v < min) return InvalidArgumentError(std::string("--") + name + ": must be >= " + std::to_string(min));
  return v;
}

Duration Seconds(double s) { return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s)); }

// The orchestrator's URL: --orchestrator, else EVOLVE_ORCHESTRATOR_URL when
// no store flag is given; empty: use a store. Errors: kInvalidArgument for
// --orchestrator with --db or --store, or --token-file without an
// orchestrator.
Result<std::string> OrchestratorUrl(const Args& args) {
  for (const char* store_flag : {"db", "store"}) {
    if (args.Has("orchestrator") && args.Has(store_flag)) {
      return InvalidArgumentError(std::string("--orchestrator and --") + store_flag +
                                  " cannot be given together: a worker reaches the queue either through "
                                  "the orchestrator or through the store");
    }
  }
  std::string url;
  if (std::optional<std::string> flag = args.Get("orchestrator")) {
    if (flag->empty()) return InvalidArgumentError("--orchestrator: must not be empty");
    url = *flag;
  } else if (!args.Has("db") && !args.Has("store")) {
    url = Env("EVOLVE_ORCHESTRATOR_URL");
  }
  if (url.empty() && args.Has("token-file")) {
    return InvalidArgumentError("--token-file: only used with --orchestrator (or EVOLVE_ORCHESTRATOR_URL)");
  }
  return url;
}

// The orchestrator's settings, checked against what its protocol accepts:
// the orchestrator refuses more per request, and the worker would retry
// the refused claim for ever.
Status ResolveOrchestrator(const Args& args, std::string url, WorkerSettings& s) {
  if (s.pool.worker.max_jobs_per_claim > http::kMaxJobsPerRequest) {
    return InvalidArgumentError("--max-jobs-per-claim: must be <= " +
                                std::to_string(http::kMaxJobsPerRequest) + " with --orchestrator");
  }
  if (s.pool.worker.lease > Seconds(http::kMaxLeaseSeconds)) {
    char max[32];
    std::snprintf(max, sizeof max, "%g", http::kMaxLeaseSeconds);
    return InvalidArgumentError(std::string("--lease: must be <= ") + max + " seconds with --orchestrator");
  }
  EVOLVE_ASSIGN_OR_RETURN(s.orchestrator.token, service::ResolveApiToken(args));
  s.orchestrator.url = std::move(url);
  // An idle worker waits in its claim (the orchestrator answers as soon as
  // a job can be claimed) rather than between claims: it picks up a new
  // batch as soon as an in-process worker would. At most the poll interval,
  // which also bounds how long a stop waits for the claim in flight.
  s.orchestrator.claim_wait = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::min<Duration>(s.pool.worker.poll_interval, Seconds(http::kMaxClaimWaitSeconds)));
  s.pool.worker.claims_wait = true;
  s.orchestrator_origin = args.Has("orchestrator") ? "--orchestrator" : "EVOLVE_ORCHESTRATOR_URL";
  // The URL is checked now; no request is made.
  auto client = http::OrchestratorClient::Create(s.orchestrator);
  return client.ok() ? Status::Ok() : client.status().WithContext(s.orchestrator_origin);
}

// Calls `attempt` until it succeeds or fails for good, waiting with backoff
// while it fails with a retryable error. kCancelled when `stop` is notified.
template <typename Attempt>
Status WaitFor(const std::string& what, Event& stop, Attempt attempt) {
  Duration backoff = std::chrono::seconds(1);
  while (true) {
    Status s = attempt();
    if (s.ok() || !s.IsRetryable()) return s;
    Log(LogLevel::kWarning, what + " unavailable; retrying",
        {{"error", s.message()},
         {"retry_in_s", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(backoff).count())}});
    if (stop.WaitFor(*RealClock(), backoff)) return CancelledError("stopped while waiting");
    backoff = std::min<Duration>(backoff * 2, std::chrono::seconds(30));
  }
}

}  // namespace

std::vector<service::OptionSpec> WorkerOptionSpecs() {
  std::vector<service::OptionSpec> specs = service::StoreOptions();
  specs.push_back({"orchestrator", "URL",
                   "reach the queue through an `evolve serve` at URL (http://host:port) "
                   "instead of a store (default $EVOLVE_ORCHESTRATOR_URL when neither "
                   "--db nor --store is given)"});
  specs.push_back({"token-file", "PATH",
                   "file whose first line is the orchestrator's API token (default "
                   "$EVOLVE_API_TOKEN)"});
  specs.push_back({"concurrency", "N", "jobs in flight in this process (default 1)"});
  specs.push_back({"max-jobs", "N", "exit after N jobs per worker thread (default: no limit)"});
  specs.push_back({"once", "", "exit when the queue is empty"});
  specs.push_back({"worker-id", "ID", "worker id (default $WORKER_ID or worker_<host>_<pid>)"});
  specs.push_back(
      {"poll-interval", "SECONDS",
       "idle poll interval (default $POLL_INTERVAL or 5); with --orchestrator, how long a claim waits on the "
       "orchestrator for work (at most 30)"});
  specs.push_back({"max-jobs-per-claim", "N", "jobs taken per claim (default 1)"});
  specs.push_back({"lease", "SECONDS", "how long a claim is held without a heartbeat (default 60)"});
  specs.push_back({"simulator", "NAME",
                   "builtin (default; the service at SIMULATION_URL when it is set), or noop: complete every "
                   "job at once with an empty "
                   "result (queue benchmarks and smoke tests)"});
  specs.push_back({"help", "", "show this help"});
  return specs;
}

std::string WorkerHelp(const std::vector<service::OptionSpec>& specs) {
  return "usage: evolve-worker [options]\n\nDrains the simulation queue of a store, or of an `evolve serve` "
         "(--orchestrator).\n\noptions:\n" +
         service::OptionsHelp(specs);
}

Result<WorkerSettings> ParseWorkerSettings(const Args& args) {
  WorkerSettings s;
  EVOLVE_ASSIGN_OR_RETURN(int64_t concurrency, IntAtLeast(args, "concurrency", "1", 1));
  EVOLVE_ASSIGN_OR_RETURN(int64_t max_jobs, IntAtLeast(args, "max-jobs", "0", 0));
  EVOLVE_ASSIGN_OR_RETURN(int64_t per_claim, IntAtLeast(args, "max-jobs-per-claim", "1", 1));
  const std::string poll_text =
      args.Get("poll-interval").value_or(Env("POLL_INTERVAL").empty() ? "5" : Env("POLL_INTERVAL"));
  EVOLVE_ASSIGN_OR_RETURN(
      double poll,
      service::ParseDouble(args.Has("poll-interval") ? "--poll-interval" : "POLL_INTERVAL", poll_text));
  if (poll <= 0) return InvalidArgumentError("poll interval: must be > 0 seconds, got " + poll_text);
  EVOLVE_ASSIGN_OR_RETURN(double lease, service::ParseDouble("--lease", args.Get("lease").value_or("60")));
  if (lease < 1) return InvalidArgumentError("--lease: must be >= 1 second");

  WorkerOptions& o = s.pool.worker;
  o.host = HostName();
  o.pid = ::getpid();
  o.worker_id = args.Get("worker-id")
                    .value_or(Env("WORKER_ID").empty() ? "worker_" + o.host + "_" + std::to_string(o.pid)
                                                       : Env("WORKER_ID"));
  o.max_jobs_per_claim = static_cast<int>(std::min<int64_t>(per_claim, INT32_MAX));
  o.max_jobs = max_jobs;
  o.exit_when_idle = args.Has("once");
  o.poll_interval = Seconds(poll);
  o.lease = Seconds(lease);
  // A few heartbeats per lease, so one late beat does not lose the jobs.
  o.heartbeat_interval = std::min<Duration>(o.heartbeat_interval, o.lease / 4);
  s.pool.size = static_cast<int>(std::min<int64_t>(concurrency, INT32_MAX));

  s.simulator = args.Get("simulator").value_or("builtin");
  if (s.simulator != "builtin" && s.simulator != "noop") {
    return InvalidArgumentError("--simulator: unknown simulator '" + s.simulator + "' (builtin or noop)");
  }
  EVOLVE_ASSIGN_OR_RETURN(std::string url, OrchestratorUrl(args));
  if (url.empty()) {
    EVOLVE_ASSIGN_OR_RETURN(s.store, service::ResolveStore(args));
  } else {
    EVOLVE_RETURN_IF_ERROR(ResolveOrchestrator(args, std::move(url), s));
  }
  EVOLVE_RETURN_IF_ERROR(WorkerPool::ValidateOptions(s.pool));
  return s;
}

Result<WorkerBackend> ConnectWorker(const WorkerSettings& settings, Event& stop) {
  WorkerBackend b;
  if (!settings.orchestrator.url.empty()) {
    auto created = http::OrchestratorClient::Create(settings.orchestrator);
    if (!created.ok()) return created.status().WithContext(settings.orchestrator_origin);
    b.client = std::move(*created);
    // The first of the pool's workers (WorkerPool's ids).
    const WorkerPoolOptions& pool = settings.pool;
    WorkerInfo first;
    first.id = pool.size == 1 ? pool.worker.worker_id : pool.worker.worker_id + "-1";
    first.host = pool.worker.host;
    first.pid = pool.worker.pid;
    EVOLVE_RETURN_IF_ERROR(WaitFor("orchestrator", stop, [&] { return b.client->RegisterWorker(first); }));
    Log(LogLevel::kInfo, "using the orchestrator's worker protocol", {{"url", b.client->url()}});
    b.queue = b.client.get();
    b.registry = b.client.get();
    b.artifacts = b.client.get();
    b.clock = RealClock();
    return b;
  }
  EVOLVE_RETURN_IF_ERROR(WaitFor("store", stop, [&] {
    auto s = service::OpenStore(settings.store, /*must_exist=*/false);
    if (!s.ok()) return s.status();
    b.store = std::move(*s);
    return Status::Ok();
  }));
  b.queue = b.store.get();
  b.registry = b.store.get();
  b.artifacts = b.store.get();
  b.clock = &b.store->clock();
  return b;
}

Result<std::unique_ptr<Simulator>> OpenSimulator(const WorkerSettings& settings, ArtifactStore& artifacts) {
  if (settings.simulator == "noop") return std::unique_ptr<Simulator>(std::make_unique<NoopSimulator>());
  return service::OpenWorkerSimulator(artifacts);
}

Result<std::unique_ptr<Trainer>> OpenTrainer(const WorkerSettings& settings, WorkerBackend& backend) {
  if (backend.store == nullptr || settings.simulator == "noop") return std::unique_ptr<Trainer>();
  return service::OpenWorkerTrainer(*backend.store);
}

std::string StatsLine(const WorkerReport& report) {
  const WorkerStats& st = report.stats;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                " claimed=%lld completed=%lld failed=%lld retried=%lld released=%lld lost=%lld",
                static_cast<long long>(st.claimed), static_cast<long long>(st.completed),
                static_cast<long long>(st.failed), static_cast<long long>(st.retried),
                static_cast<long long>(st.released), static_cast<long long>(st.lost));
  return "worker=" + report.worker_id + buf;
}

}  // namespace evolve::worker_service
