// evolve-worker: drains the simulation queue of a store. Any number of them,
// in any number of processes, may share one store; a job is never run by
// two of them (claims are transactions, completions are fenced on the
// lease).
//
//   evolve-worker [--db PATH | --store URL | --orchestrator URL [--token-file PATH]]
//                 [--concurrency N] [--max-jobs N] [--once]
//                 [--worker-id ID] [--poll-interval SECONDS]
//
// With --orchestrator the worker reaches the queue, the worker registry and
// the artifacts through an `evolve serve`'s worker protocol over HTTP
// (docs/api-worker-protocol.md) instead of opening the database.
//
// Environment: EVOLVE_DB / POSTGRES_URL (the store), EVOLVE_ORCHESTRATOR_URL
// (the orchestrator, when neither --db nor --store is given),
// EVOLVE_API_TOKEN (its bearer token), WORKER_ID (default
// worker_<host>_<pid>), POLL_INTERVAL (seconds, default 5), LOG_LEVEL.
// SIGTERM/SIGINT: jobs in flight finish, claimed ones not started are given
// back, then it exits 0.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "args.h"
#include "engine_setup.h"
#include "evolve/clock.h"
#include "evolve/engines/builtin.h"
#include "evolve/http/orchestrator_client.h"
#include "evolve/log.h"
#include "evolve/shutdown.h"
#include "evolve/simulator.h"
#include "evolve/worker.h"
#include "output.h"
#include "settings.h"

namespace {

using evolve::cli::Env;
using evolve::cli::Fail;

// Completes every job at once with an empty result: what a queue benchmark
// measures is the queue, not a simulation.
class NoopSimulator final : public evolve::Simulator {
 public:
  evolve::Result<evolve::SimulationResult> Simulate(const evolve::SimulationParams&) override {
    return evolve::SimulationResult{};
  }
};

std::vector<evolve::cli::OptionSpec> Options() {
  std::vector<evolve::cli::OptionSpec> specs = evolve::cli::StoreOptions();
  specs.push_back({"orchestrator", "URL", "reach the queue through an `evolve serve` at URL (http://host:port) "
                                          "instead of a store (default $EVOLVE_ORCHESTRATOR_URL when neither "
                                          "--db nor --store is given)"});
  specs.push_back({"token-file", "PATH", "file whose first line is the orchestrator's API token (default "
                                         "$EVOLVE_API_TOKEN)"});
  specs.push_back({"concurrency", "N", "jobs in flight in this process (default 1)"});
  specs.push_back({"max-jobs", "N", "exit after N jobs per worker thread (default: no limit)"});
  specs.push_back({"once", "", "exit when the queue is empty"});
  specs.push_back({"worker-id", "ID", "worker id (default $WORKER_ID or worker_<host>_<pid>)"});
  specs.push_back({"poll-interval", "SECONDS", "idle poll interval (default $POLL_INTERVAL or 5)"});
  specs.push_back({"max-jobs-per-claim", "N", "jobs taken per claim (default 1)"});
  specs.push_back({"lease", "SECONDS", "how long a claim is held without a heartbeat (default 60)"});
  specs.push_back({"simulator", "NAME", "builtin (default; the service at SIMULATION_URL when it is set), or noop: complete every job at once with an empty "
                                        "result (queue benchmarks and smoke tests)"});
  specs.push_back({"help", "", "show this help"});
  return specs;
}

// The orchestrator's URL: --orchestrator, else EVOLVE_ORCHESTRATOR_URL when
// no store flag is given; empty: use a store. Errors: kInvalidArgument for
// --orchestrator with --db or --store, or --token-file without an
// orchestrator.
evolve::Result<std::string> OrchestratorUrl(const evolve::cli::Args& args) {
  for (const char* store_flag : {"db", "store"}) {
    if (args.Has("orchestrator") && args.Has(store_flag)) {
      return evolve::InvalidArgumentError(std::string("--orchestrator and --") + store_flag +
                                          " cannot be given together: a worker reaches the queue either through "
                                          "the orchestrator or through the store");
    }
  }
  std::string url;
  if (std::optional<std::string> flag = args.Get("orchestrator")) {
    if (flag->empty()) return evolve::InvalidArgumentError("--orchestrator: must not be empty");
    url = *flag;
  } else if (!args.Has("db") && !args.Has("store")) {
    url = Env("EVOLVE_ORCHESTRATOR_URL");
  }
  if (url.empty() && args.Has("token-file")) {
    return evolve::InvalidArgumentError("--token-file: only used with --orchestrator (or EVOLVE_ORCHESTRATOR_URL)");
  }
  return url;
}

// The token from --token-file (its first line), else EVOLVE_API_TOKEN.
}  // namespace

int main(int argc, char** argv) {
  // Every claim allocates and frees the same few megabytes (the claimed
  // rows, the jobs, the results to write). With glibc's adaptive defaults
  // those blocks go back to the kernel after each claim and are faulted in
  // page by page on the next: 34,000 page faults and about a sixth of the
  // worker's CPU per 100,000 jobs at 2,000 jobs per claim. Keep them.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  evolve::LogLevel level = evolve::LogLevel::kInfo;
  if (!Env("LOG_LEVEL").empty() && !evolve::ParseLogLevel(Env("LOG_LEVEL"), &level)) {
    return Fail(evolve::InvalidArgumentError("LOG_LEVEL: unknown level '" + Env("LOG_LEVEL") + "'"));
  }
  evolve::SetLogLevel(level);
  const auto specs = Options();
  auto args = evolve::cli::Args::Parse("worker", std::vector<std::string>(argv + 1, argv + argc), specs, 0);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    std::printf("usage: evolve-worker [options]\n\nDrains the simulation queue of a store, or of an `evolve serve` "
                "(--orchestrator).\n\noptions:\n%s",
                evolve::cli::OptionsHelp(specs).c_str());
    return evolve::cli::kExitOk;
  }
  auto int_option = [&](const char* name, const std::string& fallback, int64_t min) -> evolve::Result<int64_t> {
    std::optional<std::string> text = args->Get(name);
    EVOLVE_ASSIGN_OR_RETURN(int64_t v, evolve::cli::ParseInt(std::string("--") + name, text.value_or(fallback)));
    if (v < min) {
      return evolve::InvalidArgumentError(std::string("--") + name + ": must be >= " + std::to_string(min));
    }
    return v;
  };
  auto concurrency = int_option("concurrency", "1", 1);
  if (!concurrency.ok()) return Fail(concurrency.status());
  auto max_jobs = int_option("max-jobs", "0", 0);
  if (!max_jobs.ok()) return Fail(max_jobs.status());
  auto per_claim = int_option("max-jobs-per-claim", "1", 1);
  if (!per_claim.ok()) return Fail(per_claim.status());
  const std::string poll_text = args->Get("poll-interval").value_or(Env("POLL_INTERVAL").empty() ? "5" : Env("POLL_INTERVAL"));
  auto poll = evolve::cli::ParseDouble(args->Has("poll-interval") ? "--poll-interval" : "POLL_INTERVAL", poll_text);
  if (!poll.ok()) return Fail(poll.status());
  if (*poll <= 0) return Fail(evolve::InvalidArgumentError("poll interval: must be > 0 seconds, got " + poll_text));

  auto lease = evolve::cli::ParseDouble("--lease", args->Get("lease").value_or("60"));
  if (!lease.ok()) return Fail(lease.status());
  if (*lease < 1) return Fail(evolve::InvalidArgumentError("--lease: must be >= 1 second"));

  const std::string host = evolve::cli::HostName();
  const std::string base_id = args->Get("worker-id").value_or(
      Env("WORKER_ID").empty() ? "worker_" + host + "_" + std::to_string(::getpid()) : Env("WORKER_ID"));

  const std::string simulator_name = args->Get("simulator").value_or("builtin");
  if (simulator_name != "builtin" && simulator_name != "noop") {
    return Fail(evolve::InvalidArgumentError("--simulator: unknown simulator '" + simulator_name +
                                             "' (builtin or noop)"));
  }

  auto orchestrator_url = OrchestratorUrl(*args);
  if (!orchestrator_url.ok()) return Fail(orchestrator_url.status());
  const bool remote = !orchestrator_url->empty();
  evolve::Result<evolve::cli::StoreSettings> settings = evolve::cli::StoreSettings{};
  if (!remote) settings = evolve::cli::ResolveStore(*args);
  if (!settings.ok()) return Fail(settings.status());
  std::unique_ptr<evolve::http::OrchestratorClient> client;
  if (remote) {
    // The orchestrator refuses more per request, and the worker would
    // retry the refused claim for ever.
    if (*per_claim > evolve::http::kMaxJobsPerRequest) {
      return Fail(evolve::InvalidArgumentError("--max-jobs-per-claim: must be <= " +
                                               std::to_string(evolve::http::kMaxJobsPerRequest) +
                                               " with --orchestrator"));
    }
    if (*lease > 3600) return Fail(evolve::InvalidArgumentError("--lease: must be <= 3600 seconds with --orchestrator"));
    auto token = evolve::cli::ResolveApiToken(*args);
    if (!token.ok()) return Fail(token.status());
    evolve::http::OrchestratorClientOptions client_options;
    client_options.url = *orchestrator_url;
    client_options.token = *token;
    auto created = evolve::http::OrchestratorClient::Create(client_options);
    if (!created.ok()) {
      return Fail(args->Has("orchestrator") ? created.status().WithContext("--orchestrator")
                                            : created.status().WithContext("EVOLVE_ORCHESTRATOR_URL"));
    }
    client = std::move(*created);
  }

  // Signals first: the store may be away at start, and SIGTERM must end the
  // wait for it. The signal thread stops whatever workers exist by then.
  evolve::Event stop;
  std::mutex workers_mu;
  std::vector<std::unique_ptr<evolve::Worker>> workers;  // guarded by workers_mu once threads run
  evolve::Status signals = evolve::HandleStopSignals([&](int signo) {
    evolve::Log(evolve::LogLevel::kInfo, "stopping", {{"signal", std::to_string(signo)}});
    stop.Notify();
    std::lock_guard<std::mutex> lock(workers_mu);
    for (auto& w : workers) w->RequestStop();
  });
  if (!signals.ok()) return Fail(signals);

  auto worker_id_of = [&](int64_t i) {
    return *concurrency == 1 ? base_id : base_id + "-" + std::to_string(i + 1);
  };
  // A database or an orchestrator that is not up yet (or restarting) is
  // waited for, with backoff, rather than exiting: a supervisor restarting
  // a worker that exits at once would only make a crash loop. Bad settings
  // (and a refused API token) still exit.
  auto wait_for = [&](const std::string& what, auto attempt) -> evolve::Status {
    evolve::Duration backoff = std::chrono::seconds(1);
    while (true) {
      evolve::Status s = attempt();
      if (s.ok() || !s.IsRetryable()) return s;
      evolve::Log(evolve::LogLevel::kWarning, what + " unavailable; retrying",
                  {{"error", s.message()},
                   {"retry_in_s", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(backoff).count())}});
      if (stop.WaitFor(*evolve::RealClock(), backoff)) return evolve::CancelledError("stopped while waiting");
      backoff = std::min<evolve::Duration>(backoff * 2, std::chrono::seconds(30));
    }
  };
  std::unique_ptr<evolve::Store> store;
  evolve::JobQueue* queue = nullptr;
  evolve::WorkerRegistry* registry = nullptr;
  evolve::ArtifactStore* artifacts = nullptr;
  evolve::Clock* clock = evolve::RealClock();
  if (remote) {
    // Registering the first worker checks the URL and the token before
    // any work; Worker::Run registers it again (an idempotent refresh).
    evolve::WorkerInfo first;
    first.id = worker_id_of(0);
    first.host = host;
    first.pid = ::getpid();
    evolve::Status reached = wait_for("orchestrator", [&] { return client->RegisterWorker(first); });
    if (reached.code() == evolve::StatusCode::kCancelled) return evolve::cli::kExitOk;
    if (!reached.ok()) return Fail(reached);
    evolve::Log(evolve::LogLevel::kInfo, "using the orchestrator's worker protocol", {{"url", client->url()}});
    queue = client.get();
    registry = client.get();
    artifacts = client.get();
  }
  if (!remote) {
    evolve::Status opened = wait_for("store", [&] {
      auto s = evolve::cli::OpenStore(*settings, /*must_exist=*/false);
      if (!s.ok()) return s.status();
      store = std::move(*s);
      return evolve::Status::Ok();
    });
    if (opened.code() == evolve::StatusCode::kCancelled) return evolve::cli::kExitOk;
    if (!opened.ok()) return Fail(opened);
    queue = store.get();
    registry = store.get();
    artifacts = store.get();
    clock = &store->clock();
  }
  // The simulation service at SIMULATION_URL, or the built-in simulator:
  // models and their simulation inputs are artifacts of the store (read
  // through the orchestrator with --orchestrator), so a worker needs no data
  // directory.
  std::unique_ptr<evolve::Simulator> simulator;
  if (simulator_name == "noop") {
    simulator = std::make_unique<NoopSimulator>();
  } else {
    auto opened_simulator = evolve::cli::OpenWorkerSimulator(*artifacts);
    if (!opened_simulator.ok()) return Fail(opened_simulator.status());
    simulator = std::move(*opened_simulator);
  }

  for (int64_t i = 0; i < *concurrency; ++i) {
    evolve::WorkerOptions o;
    o.worker_id = worker_id_of(i);
    o.host = host;
    o.pid = ::getpid();
    o.max_jobs_per_claim = static_cast<int>(*per_claim);
    o.max_jobs = *max_jobs;
    o.exit_when_idle = args->Has("once");
    o.poll_interval = std::chrono::microseconds(static_cast<int64_t>(*poll * 1e6));
    o.lease = std::chrono::microseconds(static_cast<int64_t>(*lease * 1e6));
    // A few heartbeats per lease, so one late beat does not lose the jobs.
    o.heartbeat_interval = std::min<evolve::Duration>(o.heartbeat_interval, o.lease / 4);
    if (evolve::Status s = evolve::Worker::ValidateOptions(o); !s.ok()) return Fail(s);
    std::lock_guard<std::mutex> lock(workers_mu);
    workers.push_back(std::make_unique<evolve::Worker>(*queue, registry, *simulator, *clock, o));
    if (stop.IsNotified()) workers.back()->RequestStop();
  }
  std::vector<std::thread> threads;
  std::vector<evolve::Status> results(workers.size());
  for (size_t i = 0; i < workers.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = workers[i]->Run(); });
  }
  for (auto& t : threads) t.join();
  int exit_code = evolve::cli::kExitOk;
  for (size_t i = 0; i < workers.size(); ++i) {
    const evolve::WorkerStats st = workers[i]->stats();
    std::printf("worker=%s claimed=%lld completed=%lld failed=%lld retried=%lld released=%lld lost=%lld\n",
                worker_id_of(static_cast<int64_t>(i)).c_str(),
                static_cast<long long>(st.claimed), static_cast<long long>(st.completed),
                static_cast<long long>(st.failed), static_cast<long long>(st.retried),
                static_cast<long long>(st.released), static_cast<long long>(st.lost));
    if (!results[i].ok()) exit_code = Fail(results[i]);
  }
  return exit_code;
}
